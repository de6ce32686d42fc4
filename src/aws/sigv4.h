/*
 * sigv4.h — AWS Signature Version 4 (header form), with every intermediate
 * string exposed so tests can compare them byte for byte with AWS's suite.
 *
 * The signer never reads the clock: the request time is a parameter (either a
 * `time_t` or an already formatted "YYYYMMDDTHHMMSSZ"). It never sends
 * anything either; it computes the canonical request, the string to sign, the
 * signature, the Authorization value and the headers the caller must add to
 * the request (X-Amz-Date, X-Amz-Security-Token, x-amz-content-sha256).
 *
 * Rules (https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html):
 *   - path: optionally normalised (`.`/`..`/`//`, not for S3), then each byte
 *     outside A-Za-z0-9-._~ and `/` is %XX-encoded. With KL_SIGV4_DOUBLE_ENCODE
 *     (every service but S3) a `%` already in the path is encoded again; without
 *     it (S3) an existing valid %XX escape is kept (hex upper-cased).
 *   - query: split on `&`, key=value (missing `=` -> empty value), each side
 *     percent-decoded then encoded strictly, sorted by key then value.
 *   - headers: names lower-cased, values trimmed with inner whitespace runs
 *     (including obsolete line folding) collapsed to one space, duplicate names
 *     joined with `,` in input order, sorted by name. Every header passed in is
 *     signed: pass only the ones that must be signed.
 *
 * Ownership: the request borrows all its strings. The result owns its
 * buffers (kl_sigv4_result_init / _cleanup) and can be reused across calls.
 * The secret and the derived key are wiped from the stack after use; no
 * output string contains the secret (the session token does appear, as a
 * header to add, by necessity).
 */
#ifndef KL_AWS_SIGV4_H
#define KL_AWS_SIGV4_H

#include <stddef.h>
#include <time.h>

#include "core/buf.h"
#include "core/err.h"

#define KL_SIGV4_UNSIGNED_PAYLOAD "UNSIGNED-PAYLOAD"

enum kl_sigv4_flags {
	KL_SIGV4_NORMALIZE_PATH = 1 << 0, /* remove dot segments and empty segments */
	KL_SIGV4_DOUBLE_ENCODE = 1 << 1,  /* encode `%` in the path again */
	KL_SIGV4_SIGN_BODY = 1 << 2,      /* add and sign x-amz-content-sha256 (S3) */
	KL_SIGV4_OMIT_SESSION_TOKEN = 1 << 3, /* add the token header after signing */
	/* Defaults by service family. */
	KL_SIGV4_DEFAULT = KL_SIGV4_NORMALIZE_PATH | KL_SIGV4_DOUBLE_ENCODE,
	KL_SIGV4_S3 = KL_SIGV4_SIGN_BODY,
};

struct kl_sigv4_header {
	const char *name;
	const char *value;
};

struct kl_sigv4_request {
	const char *method;      /* "GET", "PUT", ... */
	const char *path;        /* as on the request line, without the query; "" = "/" */
	const char *query;       /* without the '?', may be NULL or "" */
	const struct kl_sigv4_header *headers; /* must include Host */
	size_t n_headers;
	/* Payload: either the bytes, or `payload_hash` (64 lower-case hex digits,
	 * KL_SIGV4_UNSIGNED_PAYLOAD or a STREAMING-* marker) which wins if set. */
	const void *payload;
	size_t payload_len;
	const char *payload_hash;
	const char *region;
	const char *service;
	const char *access_key_id;
	const char *secret_access_key;
	const char *session_token; /* NULL or "" = none */
	/* Clock: `amz_date` ("YYYYMMDDTHHMMSSZ") if set, else `now` (UTC). */
	const char *amz_date;
	time_t now;
	unsigned flags; /* enum kl_sigv4_flags */
};

#define KL_SIGV4_MAX_ADD 3

struct kl_sigv4_result {
	struct kl_buf creq;  /* canonical request */
	struct kl_buf sts;   /* string to sign */
	struct kl_buf authz; /* Authorization header value, NUL-terminated */
	struct kl_buf token; /* private copy of the session token */
	char signature[65];  /* lower-case hex */
	char amz_date[17];
	char payload_hash[65 + 40];
	/* Headers the caller must add to the request it sends (besides
	 * Authorization); they point into this struct. */
	struct kl_sigv4_header add[KL_SIGV4_MAX_ADD];
	size_t n_add;
};

void kl_sigv4_result_init(struct kl_sigv4_result *r);
void kl_sigv4_result_cleanup(struct kl_sigv4_result *r);

/* Sign `req`. KL_EINVAL for a missing field, a bad clock string, or an
 * X-Amz-Date header that disagrees with the clock; KL_ENOMEM. The creq, sts
 * and authz buffers are NUL-terminated (len excludes the NUL). */
int kl_sigv4_sign(const struct kl_sigv4_request *req, struct kl_sigv4_result *out,
		  struct kl_errbuf *eb);

/* Helpers, also used by other AWS modules. */
/* Hex SHA-256 of `n` bytes into `hex` (65 bytes incl. NUL). */
void kl_sha256_hex(const void *p, size_t n, char hex[65]);
/* Append `n` bytes URI-encoded (unreserved kept, '/' kept iff keep_slash). */
int kl_uri_encode(struct kl_buf *out, const char *s, size_t n, int keep_slash);
/* Format `t` as "YYYYMMDDTHHMMSSZ" (17 bytes incl. NUL). */
void kl_sigv4_format_time(time_t t, char out[17]);

#endif
