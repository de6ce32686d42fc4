/*
 * gen.h — deterministic synthetic event stream (test, demo and bench input).
 *
 * kl_gen_write() writes newline-terminated JSON lines that look like a real
 * Kinesis stream: {"event_uuid":..,"event_name":..,"created_at":..,<payload>}
 * with the payload fields at top level. Event names are skewed (Zipf-like);
 * each name has a stable payload schema derived from its index only (never
 * from the seed). Optional malformed lines rotate through every rejection
 * class; optional duplicates are byte-exact copies of recent valid lines.
 *
 * Ownership: the caller owns the options and the fd (never closed here). Each
 * call allocates its working memory (a 1 MiB output buffer and per-type
 * tables) and frees it before returning; there is no global state. Output
 * depends only on the options: the value generation is integer-only, so the
 * same options give the same bytes on any machine.
 */
#ifndef KL_GEN_GEN_H
#define KL_GEN_GEN_H

#include "core/err.h"

#include <stdint.h>

#define KL_GEN_MAX_TYPES 1000u
#define KL_GEN_MAX_TS 253402300800LL /* 10000-01-01T00:00:00Z, first invalid */

struct kl_gen_opts {
	uint64_t events;     /* number of lines to write */
	unsigned types;      /* distinct event names, default 100, 1..1000 */
	uint64_t seed;       /* PRNG seed, default 1 */
	int64_t start;       /* unix seconds of the first created_at, default 1764547200 */
	int64_t span;        /* created_at spread over [start, start+span), default 3600 */
	double bad_fraction; /* fraction of malformed lines, default 0 */
	double dup_fraction; /* fraction of exact duplicate lines, default 0 */
};

void kl_gen_opts_default(struct kl_gen_opts *o);

/* Write o->events newline-terminated lines to fd in 1 MiB write(2) calls.
 * Deterministic: same opts => same bytes. Returns KL_OK, KL_EIO (write
 * failed), KL_EINVAL (types outside 1..1000, span < 1, start < 0,
 * start+span > KL_GEN_MAX_TS, fractions outside [0,1] or summing above 1) or
 * KL_ENOMEM; the message goes to eb (may be NULL). */
int kl_gen_write(const struct kl_gen_opts *o, int fd, struct kl_errbuf *eb);

/* The i-th event name (static storage), NULL for i >= KL_GEN_MAX_TYPES. A
 * stream with `types` names uses exactly names 0..types-1. */
const char *kl_gen_event_name(unsigned i);

#endif
