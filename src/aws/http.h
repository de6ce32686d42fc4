/*
 * http.h — a thin libcurl client for AWS calls, and the transport seam.
 *
 * One `struct kl_http` wraps one CURL easy handle; reusing it for many
 * requests reuses connections (and TLS sessions, DNS cache). A handle is used
 * by one thread at a time. TLS peer and host verification are always on (the
 * system CA bundle unless `ca_file` is given); there is no option to turn
 * them off. The URL path is sent as given (no dot-segment squashing: "." and
 * ".." are valid S3 key segments and SigV4 for S3 signs the path as is).
 * HTTP/1.1 by default; HTTP/2 when the server offers it over TLS
 * (ALPN). Responses: status, a few headers AWS callers need, and the body
 * into a caller-owned kl_buf capped at `max_body`.
 *
 * The CLI should call curl_global_init() once at startup; otherwise libcurl
 * does it on the first kl_http_new() (not thread-safe on older libcurl).
 * libcurl itself is loaded on first use (aws/curl_lazy.c), so a process
 * that makes no HTTP request never loads it; kl_http_new() fails, naming
 * kl_curl_load_error(), when it cannot be loaded.
 *
 * kl_http_request() returns KL_OK when an HTTP response arrived, whatever its
 * status; on a transport failure it returns KL_EIO with resp->net set (feed
 * resp->net/status/error code to kl_retry_classify()). Messages in the errbuf
 * carry the method and host but never header values (they hold credentials).
 *
 * struct kl_http_transport is the seam other modules depend on: a function
 * and a context. kl_http_transport_of() wraps a real handle; tests may supply
 * a fake where no local server exists.
 */
#ifndef KL_AWS_HTTP_H
#define KL_AWS_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "aws/retry.h"
#include "core/buf.h"
#include "core/cancel.h"
#include "core/err.h"

struct kl_http_header {
	const char *name;
	const char *value;
};

struct kl_http_req {
	const char *method; /* "GET", "PUT", "POST", "HEAD", "DELETE" */
	const char *url;    /* http:// or https:// only */
	const struct kl_http_header *headers;
	size_t n_headers;
	const void *body; /* borrowed; NULL/0 = no body */
	size_t body_len;
	/* A shutdown token (core/cancel.h), NULL = none: when it fires the
	 * transfer is aborted (checked at least once a second, also while a
	 * server stalls) and the request fails with resp->net KL_NET_ABORTED. */
	const struct kl_cancel *cancel;
	long timeout_ms; /* this request's whole-request limit; 0 = the handle's */
	/* Borrowed counter, NULL = none: the body bytes this request sends
	 * and receives are added to it as they move (as libcurl counts them,
	 * headers not included; a body sent again counts again), so that a
	 * long transfer that moves shows progress before it ends (GET
	 * /health). */
	_Atomic uint64_t *moved;
};

/* A response header the caller wants besides the fixed ones below (e.g. the
 * Lambda Runtime API's Lambda-Runtime-Aws-Request-Id). The caller owns the
 * array and points kl_http_resp.capture at it; values are truncated to fit. */
struct kl_http_capture {
	const char *name; /* case-insensitive */
	char value[256];  /* "" when the header was absent */
};

struct kl_http_resp {
	int status;        /* 0 if no response */
	enum kl_net net;   /* KL_NET_OK when a response arrived */
	struct kl_buf body; /* capped at the handle's max_body (or its own max if set) */
	char request_id[128];   /* x-amz-request-id or x-amzn-RequestId */
	char content_type[128];
	char etag[128];
	char retry_after[32];
	char error_type[128];   /* X-Amzn-Errortype */
	char http_version[4];   /* "1.1", "2" */
	char checksum_sha256[64]; /* x-amz-checksum-sha256 echo (S3), "" if none */
	struct kl_http_capture *capture; /* optional, caller-owned; NULL = none */
	size_t n_capture;
};

void kl_http_resp_init(struct kl_http_resp *r, size_t max_body);
/* Clear status, headers, captures and body before a request (keeps memory). */
void kl_http_resp_reset(struct kl_http_resp *r);
void kl_http_resp_cleanup(struct kl_http_resp *r);
/* Retry-After in milliseconds (delta-seconds form only), 0 if none. */
unsigned kl_http_resp_retry_after_ms(const struct kl_http_resp *r);

struct kl_http_opts {
	long connect_timeout_ms; /* 0 = 5000 */
	long timeout_ms;         /* whole request; 0 = 60000; < 0 = no limit (long polls) */
	const char *ca_file;     /* NULL = system bundle (see kl_http_pick_ca) */
	int http1_only;          /* never negotiate HTTP/2 */
	/* libcurl's receive buffer (CURLOPT_BUFFERSIZE, at most 10 MiB); 0 =
	 * its 16 KiB. Larger: fewer recv() calls and body callbacks for
	 * responses of megabytes (Kinesis GetRecords). */
	long recv_buffer;
};

struct kl_http;

/* The CA bundle when none is configured: AWS_CA_BUNDLE or SSL_CERT_FILE
 * (env_file) if set; else libcurl's compiled-in bundle (builtin) if it
 * exists (NULL: leave libcurl's default); else the first readable of
 * `paths` (the usual Linux locations), NULL if none. */
const char *kl_http_pick_ca(const char *env_file, const char *builtin,
			    const char *const *paths, size_t n);

/* Why libcurl could not be loaded ("" if it was; loads it if not yet). */
const char *kl_curl_load_error(void);

struct kl_http *kl_http_new(const struct kl_http_opts *o, struct kl_errbuf *eb);
void kl_http_free(struct kl_http *h); /* NULL is a no-op */

int kl_http_request(struct kl_http *h, const struct kl_http_req *req, struct kl_http_resp *resp,
		    struct kl_errbuf *eb);

struct kl_http_transport {
	int (*request)(void *ctx, const struct kl_http_req *req, struct kl_http_resp *resp,
		       struct kl_errbuf *eb);
	void *ctx;
};

struct kl_http_transport kl_http_transport_of(struct kl_http *h);

#endif
