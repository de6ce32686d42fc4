/*
 * base64.h — RFC 4648 base64 (standard alphabet, padded).
 * Encoding appends to a caller-owned kl_buf. Decoding writes into a
 * caller-provided array of at least kl_base64_decoded_max(n) bytes.
 */
#ifndef KL_CORE_BASE64_H
#define KL_CORE_BASE64_H

#include "core/buf.h"

int kl_base64_encode(struct kl_buf *out, const void *p, size_t n);

static inline size_t kl_base64_decoded_max(size_t n) { return n / 4 * 3 + 3; }

/* Strict decode: rejects bad characters, bad padding and bad length.
 * Returns the decoded length, or -1. */
long kl_base64_decode(const char *s, size_t n, unsigned char *out);

#endif
