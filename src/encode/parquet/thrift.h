/*
 * thrift.h — Thrift compact protocol encoder primitives (write side only).
 *
 * Implements parquet-format thrift/thrift-compact-protocol.md: ULEB128
 * varints, zigzag integers, field headers (short form with a 4-bit id delta,
 * long form with a zigzag i16 id), structs ending in a stop byte, list
 * headers, binary, i32/i64/bool/double.
 *
 * Invariants: a `struct kl_thrift_w` appends to a caller-owned `struct kl_buf`
 * and owns nothing. Nested structs keep the previous "last field id" on a
 * fixed stack (KL_THRIFT_MAX_DEPTH), so deltas restart at 0 inside each
 * struct. Errors are sticky: the first failure (KL_ENOMEM when the buffer cannot
 * grow, KL_ELIMIT on nesting too deep, KL_EINVAL on a field id that does not
 * increase) is kept in `err` and every later call is a no-op returning it, so
 * a caller may encode a whole message and check once at the end.
 * Field ids must be written in increasing order within a struct.
 */
#ifndef KL_ENCODE_PARQUET_THRIFT_H
#define KL_ENCODE_PARQUET_THRIFT_H

#include "core/buf.h"

#include <stddef.h>
#include <stdint.h>

/* Compact protocol type nibbles. */
enum kl_thrift_type {
	KL_THRIFT_STOP = 0,
	KL_THRIFT_TRUE = 1,
	KL_THRIFT_FALSE = 2,
	KL_THRIFT_BYTE = 3,
	KL_THRIFT_I16 = 4,
	KL_THRIFT_I32 = 5,
	KL_THRIFT_I64 = 6,
	KL_THRIFT_DOUBLE = 7,
	KL_THRIFT_BINARY = 8,
	KL_THRIFT_LIST = 9,
	KL_THRIFT_SET = 10,
	KL_THRIFT_MAP = 11,
	KL_THRIFT_STRUCT = 12,
};

#define KL_THRIFT_MAX_DEPTH 16

struct kl_thrift_w {
	struct kl_buf *b;
	int16_t last;                       /* last field id in the open struct */
	int depth;                          /* open nested structs */
	int16_t stack[KL_THRIFT_MAX_DEPTH]; /* saved `last` of enclosing structs */
	int err;                            /* first error, KL_OK if none */
};

/* Raw helpers, usable outside a thrift message (the RLE hybrid uses varints). */
static inline uint64_t kl_thrift_zigzag64(int64_t v)
{
	return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}
static inline uint32_t kl_thrift_zigzag32(int32_t v)
{
	return ((uint32_t)v << 1) ^ (uint32_t)(v >> 31);
}
/* Append a ULEB128 varint (1..10 bytes). KL_OK or KL_ENOMEM. */
int kl_thrift_put_varint(struct kl_buf *b, uint64_t v);
/* Encode a varint into out[10]; returns its length. */
size_t kl_thrift_varint_enc(uint8_t out[10], uint64_t v);

/* Start writing top-level struct content into `b` (no outer header). */
void kl_thrift_w_init(struct kl_thrift_w *w, struct kl_buf *b);

/* Field header for field `id` of compact `type`. Short form if the delta from
 * the previous id is 1..15, else long form. */
int kl_thrift_field(struct kl_thrift_w *w, int16_t id, enum kl_thrift_type type);
/* Open a nested struct value (after its field header or as a list element). */
int kl_thrift_struct_begin(struct kl_thrift_w *w);
/* Write the stop byte and return to the enclosing struct (or top level). */
int kl_thrift_struct_end(struct kl_thrift_w *w);
/* List header: size < 15 in one byte, else 0xF? + varint size. */
int kl_thrift_list(struct kl_thrift_w *w, enum kl_thrift_type elem, uint32_t n);

/* Bare values (after a field header or as list elements). */
int kl_thrift_i32(struct kl_thrift_w *w, int32_t v);
int kl_thrift_i64(struct kl_thrift_w *w, int64_t v);
int kl_thrift_double(struct kl_thrift_w *w, double v);
int kl_thrift_binary(struct kl_thrift_w *w, const void *p, size_t n);

/* Field header + value in one call. Bool values live in the header. */
int kl_thrift_field_bool(struct kl_thrift_w *w, int16_t id, int v);
int kl_thrift_field_i32(struct kl_thrift_w *w, int16_t id, int32_t v);
int kl_thrift_field_i64(struct kl_thrift_w *w, int16_t id, int64_t v);
int kl_thrift_field_double(struct kl_thrift_w *w, int16_t id, double v);
int kl_thrift_field_binary(struct kl_thrift_w *w, int16_t id, const void *p, size_t n);
/* Field header of type STRUCT + struct_begin. Close with kl_thrift_struct_end. */
int kl_thrift_field_struct(struct kl_thrift_w *w, int16_t id);
/* Field header of type LIST + list header. */
int kl_thrift_field_list(struct kl_thrift_w *w, int16_t id, enum kl_thrift_type elem, uint32_t n);

#endif
