/*
 * retry.h — the one place that decides whether a failed AWS call is retried.
 *
 * Inputs are what a call can observe: the transport outcome (enum kl_net),
 * the HTTP status, and the AWS error code parsed from the body by
 * kl_aws_error_parse() (awsJson1_1 `__type`/`code` or X-Amzn-Errortype,
 * S3/restXml `<Error><Code>`). kl_retry_classify() maps them to:
 *   KL_OK       2xx/3xx
 *   KL_ERETRY   throttling (ProvisionedThroughputExceededException,
 *               ThrottlingException, SlowDown, RequestLimitExceeded, ...),
 *               429, 408, 5xx except 501/505, resets, timeouts, DNS/connect
 *   KL_EAUTH    signature/credential rejections (SignatureDoesNotMatch,
 *               InvalidSignatureException, AccessDenied, ExpiredToken, ...),
 *               401/403, TLS verification failures: never retried as is
 *   KL_EREMOTE  other 4xx (validation): never retried
 *   KL_EINTR    the transfer was aborted for a shutdown: never retried
 * An error code decides before the status (Kinesis throttles with 400).
 *
 * Backoff is exponential with full jitter (AWS architecture blog, "Exponential
 * Backoff And Jitter"): sleep = uniform[0, min(cap, base * 2^retry)]. The
 * random source is a caller-owned struct kl_rng (splitmix64), so tests are
 * deterministic and no global state exists.
 */
#ifndef KL_AWS_RETRY_H
#define KL_AWS_RETRY_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

/* Transport outcome, independent of libcurl (aws/http.c maps CURLcode). */
enum kl_net {
	KL_NET_OK = 0,
	KL_NET_CONNECT, /* refused / unreachable */
	KL_NET_DNS,
	KL_NET_TIMEOUT,
	KL_NET_RESET, /* connection reset, empty reply, partial transfer */
	KL_NET_TLS,   /* certificate or handshake failure: fatal */
	KL_NET_TOO_BIG, /* response body over the caller's limit: fatal */
	KL_NET_ABORTED, /* given up at shutdown (aws/http.h cancel): KL_EINTR */
	KL_NET_OTHER,
};

struct kl_aws_error {
	int status;         /* HTTP status, 0 if none */
	char code[128];     /* "SlowDown", "ThrottlingException"; "" if unknown */
	char message[512];  /* may be "" */
	char request_id[128];
};

/* Parse an AWS error body. JSON ('{' first): X-Amzn-Errortype header (may be
 * NULL) wins, else top-level `__type`, else `code`/`Code`; the type is cut to
 * the part after the last '#' and before the first ':'; message from
 * `message`/`Message`. XML ('<' first): first <Code>, <Message>, <RequestId>.
 * Fields are truncated to their arrays. KL_OK when a code was found,
 * KL_ENOTFOUND otherwise (out->code ""); never fails on garbage. */
int kl_aws_error_parse(const char *body, size_t n, const char *errortype_header,
		       struct kl_aws_error *out);

/* KL_OK, KL_ERETRY, KL_EAUTH or KL_EREMOTE; see the top comment. `code` may
 * be NULL or "". */
int kl_retry_classify(enum kl_net net, int status, const char *code);

/* Credentials expired: fatal for this request, worth one retry after a
 * credential refresh. */
int kl_retry_is_expired_token(const char *code);

struct kl_rng {
	uint64_t s;
};

static inline void kl_rng_seed(struct kl_rng *r, uint64_t seed) { r->s = seed; }
uint64_t kl_rng_next(struct kl_rng *r);

struct kl_retry_policy {
	unsigned base_ms;      /* 100 */
	unsigned cap_ms;       /* 20000 */
	unsigned max_attempts; /* total tries including the first; >= 1 */
};

#define KL_RETRY_POLICY_DEFAULT ((struct kl_retry_policy){100, 20000, 5})

/* Delay before retry number `retry` (1 = the first retry). */
unsigned kl_retry_backoff_ms(const struct kl_retry_policy *p, unsigned retry, struct kl_rng *rng);

/*
 * Run `attempt` until it succeeds, fails fatally or max_attempts is reached.
 * `attempt` returns an enum kl_err (usually kl_retry_classify's result) and
 * may set *retry_after_ms (from a Retry-After header; 0 = none), which raises
 * the delay. `sleep_ms` (NULL = nanosleep) sleeps between attempts; it
 * returns non-zero when the sleep was cut short by a shutdown, and then the
 * run ends with KL_EINTR (tests pass a fake that only counts).
 * Returns the last attempt's result; *attempts (may be NULL) gets the count.
 */
typedef int (*kl_retry_attempt_fn)(void *ctx, unsigned attempt, unsigned *retry_after_ms);
typedef int (*kl_sleep_fn)(void *ctx, unsigned ms);
int kl_retry_run(const struct kl_retry_policy *p, struct kl_rng *rng, kl_sleep_fn sleep_ms,
		 void *sleep_ctx, kl_retry_attempt_fn attempt, void *ctx, unsigned *attempts);

/* A kl_sleep_fn whose ctx is a `const struct kl_cancel *` (core/cancel.h;
 * NULL: a plain sleep): the backoff ends when the token fires. */
int kl_retry_sleep_cancel(void *cancel, unsigned ms);

#endif
