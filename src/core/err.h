/*
 * err.h — one error enum for all of kinlake, and the first-error buffer.
 *
 * Every fallible function returns `int`: KL_OK (0) or a negative `enum kl_err`.
 * Long-lived objects keep the *first* error message of an operation in a
 * `struct kl_errbuf` (the root cause, as curl's CURLOPT_ERRORBUFFER does);
 * later errors never overwrite it until kl_errbuf_clear().
 *
 * Library modules never print. The CLI prints kl_strerror() plus the buffer.
 */
#ifndef KL_CORE_ERR_H
#define KL_CORE_ERR_H

#include <stdarg.h>

#include <stddef.h>

enum kl_err {
	KL_OK = 0,
	KL_ENOMEM = -1,     /* allocation failed or a buffer hit its cap */
	KL_EIO = -2,        /* read/write/fsync/rename failed; errno kept in msg */
	KL_EINVAL = -3,     /* bad argument or configuration */
	KL_EPARSE = -4,     /* malformed input (JSON, state file, ...) */
	KL_ELIMIT = -5,     /* a configured limit was exceeded */
	KL_ENOTFOUND = -6,  /* file, key or object does not exist */
	KL_ECORRUPT = -7,   /* on-disk state failed its checksum */
	KL_ERETRY = -8,     /* transient failure: safe to retry (5xx, throttle) */
	KL_EAUTH = -9,      /* credentials or signature rejected: never retried */
	KL_EREMOTE = -10,   /* a server returned a non-retryable error */
	KL_EINTR = -11,     /* interrupted by a shutdown request */
	KL_EUNSUPPORTED = -12,
	KL_ECONFLICT = -13, /* a conditional write was refused (someone else changed
			       the item): never retried as is; for leases, fencing */
};

/* Static description of an error code; never NULL. */
const char *kl_strerror(int err);

#define KL_ERRBUF_SIZE 512

struct kl_errbuf {
	char msg[KL_ERRBUF_SIZE];
	int code; /* first error code, KL_OK if none */
};

/* Record an error unless one is already recorded. Returns `code` so callers
 * can write `return kl_errbuf_set(eb, KL_EIO, "open %s: %s", p, strerror(errno));`.
 * `eb` may be NULL (the code is still returned). */
int kl_errbuf_set(struct kl_errbuf *eb, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* The same with a va_list (for functions that report on behalf of others). */
int kl_errbuf_vset(struct kl_errbuf *eb, int code, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));

void kl_errbuf_clear(struct kl_errbuf *eb);

#endif
