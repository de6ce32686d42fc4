/*
 * s3_request.h — one S3 REST call, signed and retried (internal to store/).
 *
 * kl_s3_call() builds the URL of an object (or of the bucket) from an
 * endpoint description, signs the request with SigV4 (S3 flags: the path is
 * signed as sent, x-amz-content-sha256 is signed), sends it through a
 * caller-owned kl_http handle and retries per aws/retry.h. The object key is
 * URI-encoded exactly once: every byte outside A-Za-z0-9-._~ and '/' becomes
 * %XX (a '%' in a key is sent as %25), and the signer keeps those escapes.
 *
 * Success means a 2xx answer that is not an S3 error document (CompleteMultipart-
 * Upload can fail with 200 + <Error>) and whose echoed x-amz-checksum-sha256,
 * if any, equals the one sent. On failure the return value is an enum kl_err
 * (KL_EAUTH, KL_EREMOTE, KL_ERETRY after the last attempt, KL_EINTR at
 * shutdown, KL_EIO, ...),
 * `out->err` holds AWS's code/message/request id, and `eb` gets one line:
 * "s3: <op> s3://bucket/key: HTTP 403 SignatureDoesNotMatch: <message> ...".
 *
 * Thread safety: an endpoint is immutable once built; credentials are read
 * under `cred_mu` (the chain refreshes itself inside). One kl_http per thread.
 */
#ifndef KL_STORE_S3_REQUEST_H
#define KL_STORE_S3_REQUEST_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "aws/credentials.h"
#include "aws/http.h"
#include "aws/retry.h"
#include "core/buf.h"
#include "core/err.h"
#include "store/store.h"

struct kl_s3_endpoint {
	char *origin;	 /* "https://host[:port]", no trailing '/' */
	char *host;	 /* Host header value (port only if not the scheme's default) */
	char *path_base; /* "" (virtual-hosted) or "/bucket" (path style), plus any endpoint path */
	char *bucket;
	char *region;
	struct kl_cred_chain *creds;
	pthread_mutex_t *cred_mu;
	struct kl_retry_policy retry;
	/* Shutdown (core/cancel.h), NULL = none: once it fires no request is
	 * started, backoff sleeps end and transfers abort; the call fails with
	 * KL_EINTR ("abandoned at shutdown"). */
	const struct kl_cancel *cancel;
	struct kl_store_meters meters; /* borrowed counters its calls feed (store.h) */
};

struct kl_s3_req {
	const char *op;	    /* "PutObject", ... for messages */
	const char *method; /* "PUT", "GET", "POST", "DELETE" */
	const char *key;    /* full object key (prefix included); NULL = the bucket */
	const char *query;  /* encoded query without '?', or NULL */
	const void *body;
	size_t body_len;
	const char *sha256_hex; /* payload hash if already known, else NULL */
	const char *checksum;	/* base64 SHA-256 sent as x-amz-checksum-sha256, or NULL */
	const struct kl_http_header *headers; /* extra headers, all signed */
	size_t n_headers;
	long timeout_ms; /* per attempt; 0 = the handle's */
};

struct kl_s3_result {
	struct kl_http_resp resp; /* the last answer; body capped at init */
	struct kl_aws_error err;
	unsigned attempts;
};

void kl_s3_result_init(struct kl_s3_result *r, size_t max_body);
void kl_s3_result_cleanup(struct kl_s3_result *r);

int kl_s3_call(const struct kl_s3_endpoint *ep, struct kl_http *h, const struct kl_s3_req *req,
	       struct kl_s3_result *out, struct kl_errbuf *eb);

/* SHA-256 of p[0..n): lower-case hex (65 bytes) and base64 (45 bytes). */
void kl_s3_sha256(const void *p, size_t n, char hex[65], char b64[45]);

/* Append `s` URI-encoded with '/' kept (S3 object key rules). */
int kl_s3_encode_key(struct kl_buf *out, const char *s);

/* One page of a ListObjectsV2 answer asked with encoding-type=url: each
 * <Contents><Key> and <CommonPrefixes><Prefix>, URL-decoded ('+' is a space),
 * goes to fn without its first strlen(strip) bytes (the store's prefix; an
 * entry that does not start with it is an error, one equal to it is
 * skipped). *truncated tells whether <IsTruncated> is true; then `next` gets
 * <NextContinuationToken>, which must be there. KL_OK, KL_EPARSE, KL_ENOMEM,
 * or fn's non-zero return. */
int kl_s3_list_page(const char *xml, size_t n, const char *strip,
		    int (*fn)(void *ctx, const char *key, size_t len), void *ctx, int *truncated,
		    struct kl_buf *next);

#endif
