/* thrift.c — see thrift.h. Spec: parquet-format thrift/thrift-compact-protocol.md
 * (sections "ZigZag encoding", "Varint encoding", "Struct encoding",
 * "List and Set", "Double encoding", "Boolean encoding"). */
#include "encode/parquet/thrift.h"

#include "core/err.h"

#include <string.h>

size_t kl_thrift_varint_enc(uint8_t out[10], uint64_t v)
{
	size_t n = 0;
	while (v >= 0x80) {
		out[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	out[n++] = (uint8_t)v;
	return n;
}

int kl_thrift_put_varint(struct kl_buf *b, uint64_t v)
{
	uint8_t tmp[10];
	return kl_buf_append(b, tmp, kl_thrift_varint_enc(tmp, v));
}

void kl_thrift_w_init(struct kl_thrift_w *w, struct kl_buf *b)
{
	w->b = b;
	w->last = 0;
	w->depth = 0;
	w->err = KL_OK;
}

static int put(struct kl_thrift_w *w, const void *p, size_t n)
{
	if (w->err)
		return w->err;
	int rc = kl_buf_append(w->b, p, n);
	if (rc)
		w->err = rc;
	return rc;
}

static int put_varint(struct kl_thrift_w *w, uint64_t v)
{
	uint8_t tmp[10];
	return put(w, tmp, kl_thrift_varint_enc(tmp, v));
}

int kl_thrift_field(struct kl_thrift_w *w, int16_t id, enum kl_thrift_type type)
{
	if (w->err)
		return w->err;
	if (id <= w->last)
		return w->err = KL_EINVAL;
	int delta = id - w->last;
	w->last = id;
	if (delta <= 15) {
		uint8_t h = (uint8_t)(delta << 4 | (int)type);
		return put(w, &h, 1);
	}
	uint8_t h = (uint8_t)type;
	int rc = put(w, &h, 1);
	if (rc)
		return rc;
	return put_varint(w, kl_thrift_zigzag32(id));
}

int kl_thrift_struct_begin(struct kl_thrift_w *w)
{
	if (w->err)
		return w->err;
	if (w->depth >= KL_THRIFT_MAX_DEPTH)
		return w->err = KL_ELIMIT;
	w->stack[w->depth++] = w->last;
	w->last = 0;
	return KL_OK;
}

int kl_thrift_struct_end(struct kl_thrift_w *w)
{
	uint8_t stop = KL_THRIFT_STOP;
	int rc = put(w, &stop, 1);
	if (rc)
		return rc;
	/* depth 0 means the top-level struct closed: nothing to restore. */
	w->last = w->depth > 0 ? w->stack[--w->depth] : 0;
	return KL_OK;
}

int kl_thrift_list(struct kl_thrift_w *w, enum kl_thrift_type elem, uint32_t n)
{
	if (n < 15) {
		uint8_t h = (uint8_t)(n << 4 | (uint32_t)elem);
		return put(w, &h, 1);
	}
	uint8_t h = (uint8_t)(0xF0 | (unsigned)elem);
	int rc = put(w, &h, 1);
	if (rc)
		return rc;
	return put_varint(w, n);
}

int kl_thrift_i32(struct kl_thrift_w *w, int32_t v)
{
	return put_varint(w, kl_thrift_zigzag32(v));
}

int kl_thrift_i64(struct kl_thrift_w *w, int64_t v)
{
	return put_varint(w, kl_thrift_zigzag64(v));
}

int kl_thrift_double(struct kl_thrift_w *w, double v)
{
	uint64_t u;
	memcpy(&u, &v, 8);
	uint8_t le[8];
	for (int i = 0; i < 8; i++)
		le[i] = (uint8_t)(u >> (8 * i));
	return put(w, le, 8);
}

int kl_thrift_binary(struct kl_thrift_w *w, const void *p, size_t n)
{
	int rc = put_varint(w, n);
	if (rc)
		return rc;
	return n ? put(w, p, n) : KL_OK;
}

int kl_thrift_field_bool(struct kl_thrift_w *w, int16_t id, int v)
{
	return kl_thrift_field(w, id, v ? KL_THRIFT_TRUE : KL_THRIFT_FALSE);
}

int kl_thrift_field_i32(struct kl_thrift_w *w, int16_t id, int32_t v)
{
	int rc = kl_thrift_field(w, id, KL_THRIFT_I32);
	return rc ? rc : kl_thrift_i32(w, v);
}

int kl_thrift_field_i64(struct kl_thrift_w *w, int16_t id, int64_t v)
{
	int rc = kl_thrift_field(w, id, KL_THRIFT_I64);
	return rc ? rc : kl_thrift_i64(w, v);
}

int kl_thrift_field_double(struct kl_thrift_w *w, int16_t id, double v)
{
	int rc = kl_thrift_field(w, id, KL_THRIFT_DOUBLE);
	return rc ? rc : kl_thrift_double(w, v);
}

int kl_thrift_field_binary(struct kl_thrift_w *w, int16_t id, const void *p, size_t n)
{
	int rc = kl_thrift_field(w, id, KL_THRIFT_BINARY);
	return rc ? rc : kl_thrift_binary(w, p, n);
}

int kl_thrift_field_struct(struct kl_thrift_w *w, int16_t id)
{
	int rc = kl_thrift_field(w, id, KL_THRIFT_STRUCT);
	return rc ? rc : kl_thrift_struct_begin(w);
}

int kl_thrift_field_list(struct kl_thrift_w *w, int16_t id, enum kl_thrift_type elem, uint32_t n)
{
	int rc = kl_thrift_field(w, id, KL_THRIFT_LIST);
	return rc ? rc : kl_thrift_list(w, elem, n);
}
