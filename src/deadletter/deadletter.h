/*
 * deadletter.h — the dead-letter record: why a record was rejected, where
 * it came from, and its raw bytes (base64), so nothing is ever lost and any
 * record can be replayed. One JSON object per line:
 *   {"error":CODE,"message":TEXT,"source":SRC,"position":N,"raw_base64":B64}
 * plus "raw_length" and "truncated":true when a record was longer than the
 * reader's hard cap and only its head could be kept.
 *
 * Appends to a caller-owned kl_buf; owns nothing.
 */
#ifndef KL_DEADLETTER_DEADLETTER_H
#define KL_DEADLETTER_DEADLETTER_H

#include "core/buf.h"

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

#endif
