/*
 * deadletter.h — the dead-letter record: why a record was rejected, where
 * it came from, and its raw bytes (base64), so nothing is ever lost and any
 * record can be replayed. One JSON object per line:
 *   {"error":CODE,"message":TEXT,"source":SRC,"position":N,"error_offset":K,
 *    "raw_base64":B64}
 * plus "raw_length" and "truncated":true if only the head of a record could
 * be kept (raw_len < full_len). No source of kinlake cuts a record today:
 * one too long to hold in memory is spilled whole (below) instead.
 *
 * A record too long to hold in memory (over a source's hard cap, e.g. a
 * 200 MB line) is spilled to an unlinked temporary file (struct kl_spill) as
 * it is read, and its dead letter is written from there in bounded pieces:
 * the line's head (kl_deadletter_format_head), then the base64 of the spill
 * and the closing bytes (kl_deadletter_stream_spill). The line is the same
 * as kl_deadletter_format would make from the bytes in memory.
 *
 * kl_deadletter_format* append to a caller-owned kl_buf; a kl_spill owns
 * its file descriptor (kl_spill_close).
 */
#ifndef KL_DEADLETTER_DEADLETTER_H
#define KL_DEADLETTER_DEADLETTER_H

#include "core/buf.h"
#include "core/err.h"
#include "encode/encoder.h"

#include <stdint.h>

struct kl_deadletter {
	const char *error;   /* reason code, e.g. "invalid_json" */
	const char *message; /* human text */
	const char *source;  /* input name */
	uint64_t position;   /* input position */
	size_t error_offset; /* byte offset of the problem inside the record */
	const void *raw;
	size_t raw_len;
	size_t full_len; /* > raw_len when truncated */
};

/* Append one dead-letter line (without '\n'). KL_OK or KL_ENOMEM. */
int kl_deadletter_format(struct kl_buf *out, const struct kl_deadletter *d);

/* Append the line up to and including `"raw_base64":"` (raw is not read). */
int kl_deadletter_format_head(struct kl_buf *out, const struct kl_deadletter *d);

/* A record's bytes in an unlinked temporary file under $TMPDIR (or /tmp). */
struct kl_spill {
	int fd;	      /* -1: none */
	uint64_t len; /* bytes written */
};

int kl_spill_open(struct kl_spill *s, struct kl_errbuf *eb);
int kl_spill_write(struct kl_spill *s, const void *p, size_t n, struct kl_errbuf *eb);
void kl_spill_close(struct kl_spill *s); /* no-op when fd < 0 */

/* Bytes that kl_deadletter_stream_spill() writes for a spill of `len` bytes:
 * its base64, the closing `"}` and the '\n'. */
uint64_t kl_deadletter_spill_tail_len(uint64_t len);

/* Write the base64 of the spill's bytes, `"}` and '\n' through fn, reading
 * the spill in pieces (memory: a few MiB whatever its length). */
int kl_deadletter_stream_spill(const struct kl_spill *s, kl_write_fn fn, void *ctx,
			       struct kl_errbuf *eb);

#endif
