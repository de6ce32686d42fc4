/*
 * store_url.h — open the store of a lake from its URL: the one place that
 * decides what a lake URL means, for every entry point (ingest of a file,
 * ingest of a stream, the Lambda).
 *
 *   s3://bucket[/prefix]  an S3 store (store_s3.c); region, endpoint and
 *                         credentials come from the environment as the AWS
 *                         SDKs take them: the explicit region, else
 *                         AWS_REGION / AWS_DEFAULT_REGION; AWS_ENDPOINT_URL_S3,
 *                         else AWS_ENDPOINT_URL; the credential chain
 *                         (aws/credentials.h)
 *   anything else         a local directory (store_local.c), created if
 *                         missing
 *
 * Credentials: every S3 store opened with one `struct kl_store_creds` shares
 * its chain (and the lock that guards it), so a role is assumed once per
 * process; the Kinesis clients of a stream can share it too. The chain and
 * its HTTP handle are set up on the first S3 open (a local lake never loads
 * libcurl); when stores are opened from several threads, call
 * kl_store_creds_init() first.
 *
 * Ownership: the caller owns the store (kl_store_free) and the creds
 * (kl_store_creds_cleanup, after every store that uses them is freed).
 */
#ifndef KL_STORE_STORE_URL_H
#define KL_STORE_STORE_URL_H

#include "aws/credentials.h"
#include "core/err.h"
#include "store/store.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

struct kl_http;

struct kl_store_creds {
	struct kl_aws_env env;
	struct kl_http *http;	    /* for the network providers (STS, container, IMDS) */
	struct kl_cred_chain chain; /* guarded by mu */
	pthread_mutex_t mu;
	int ready;
};

/* Set up the chain now (idempotent). */
int kl_store_creds_init(struct kl_store_creds *c, const struct kl_aws_env *env,
			struct kl_errbuf *eb);
/* No-op when never set up. */
void kl_store_creds_cleanup(struct kl_store_creds *c);

/* S3 encryption of every object. */
enum kl_sse { KL_SSE_NONE, KL_SSE_AES256, KL_SSE_KMS };

struct kl_store_url_opts {
	const struct kl_aws_env *env; /* region, endpoint; NULL: the process environment */
	const char *region;	      /* NULL: AWS_REGION, AWS_DEFAULT_REGION */
	enum kl_sse sse;
	const char *sse_kms_key_id;   /* KL_SSE_KMS only; NULL: the AWS managed key */
	size_t multipart_threshold;   /* 0: the store's default */
	unsigned concurrency;	      /* S3 uploads in flight; 0: the store's default */
	struct kl_store_creds *creds; /* S3: required, borrowed */
	/* S3: the shutdown deadline (core/stop.h) that abandons uploads,
	 * borrowed, NULL = none; the counters its calls feed (store.h) */
	const struct kl_cancel *cancel;
	struct kl_store_meters meters;
	struct kl_dir_hints *dir_hints; /* local: borrowed, NULL = none (store.h) */
};

/* 1 if `url` names an S3 lake. */
int kl_store_url_is_s3(const char *url);

/* Check a lake URL without opening anything: an s3:// URL needs a valid
 * bucket name and a prefix without empty, "." or ".." parts; any other
 * "scheme://" (S3://, file://, gs://) is refused rather than made a
 * directory of that name; a directory path must not name a file or go
 * through one (stat() only: a missing directory is made by the run). 0, or
 * -1 with the reason in `why`. */
int kl_store_url_check(const char *url, char *why, size_t cap);

/* "AES256", "aws:kms", or NULL for KL_SSE_NONE. */
const char *kl_sse_header_value(enum kl_sse sse);

/* Open the store of `url`. No network request is made. */
int kl_store_open_url(const char *url, const struct kl_store_url_opts *o, struct kl_store **out,
		      struct kl_errbuf *eb);

#endif
