/*
 * buf.h — growable byte buffer with a hard maximum (curl's dynbuf idea).
 *
 * A `struct kl_buf` is caller-owned (kl_buf_init/kl_buf_cleanup); it owns its
 * heap block. Buffers are meant to be reused: kl_buf_reset() keeps capacity,
 * so steady-state hot paths do not allocate. Appends fail with KL_ENOMEM,
 * leaving the buffer unchanged, when they would grow past `max`.
 */
#ifndef KL_CORE_BUF_H
#define KL_CORE_BUF_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct kl_buf {
	char *data;
	size_t len;
	size_t cap;
	size_t max; /* 0 = SIZE_MAX */
};

void kl_buf_init(struct kl_buf *b, size_t max);
void kl_buf_cleanup(struct kl_buf *b);
/* kl_buf_reserve's slow path: grow the block. */
int kl_buf_grow(struct kl_buf *b, size_t extra);
int kl_buf_printf(struct kl_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Give b a block of at least `cap` bytes (capped at its max) once, when it
 * has less: 2 MiB-aligned and advised as transparent huge pages (Linux
 * MADV_HUGEPAGE, a hint; "madvise" is the usual THP setting). For a large
 * buffer refilled again and again, such as a Kinesis GetRecords response
 * (megabytes a call): its first touch then faults in 2 MiB pages, not 512
 * small ones each, and it never grows by copying. Keeps the contents;
 * KL_OK or KL_ENOMEM (the buffer unchanged). */
int kl_buf_reserve_huge(struct kl_buf *b, size_t cap);
/* Release the block if it is larger than `keep` (memory hygiene after a
 * burst); always empties the buffer. */
void kl_buf_shrink(struct kl_buf *b, size_t keep);

static inline void kl_buf_reset(struct kl_buf *b) { b->len = 0; }

/* Make room for `extra` more bytes; KL_OK (0) or KL_ENOMEM. Inline when
 * the room is there (hot paths append a few bytes at a time): `cap` never
 * exceeds `max`, so room within it is always allowed. */
static inline int kl_buf_reserve(struct kl_buf *b, size_t extra)
{
	return extra <= b->cap - b->len ? 0 : kl_buf_grow(b, extra);
}

/* Unchecked append: caller reserved room beforehand. */
static inline void kl_buf_put(struct kl_buf *b, const void *p, size_t n)
{
	if (!n) /* data may still be NULL: no pointer arithmetic on it */
		return;
	memcpy(b->data + b->len, p, n);
	b->len += n;
}

/* Checked append; KL_OK (0) or KL_ENOMEM (the buffer unchanged). */
static inline int kl_buf_append(struct kl_buf *b, const void *p, size_t n)
{
	int rc = kl_buf_reserve(b, n);
	if (rc)
		return rc;
	kl_buf_put(b, p, n);
	return 0;
}

static inline int kl_buf_putc(struct kl_buf *b, char c)
{
	if (b->len == b->cap) {
		int rc = kl_buf_reserve(b, 1);
		if (rc)
			return rc;
	}
	b->data[b->len++] = c;
	return 0;
}

/* s[0..n) into the fixed array dst[cap] as a C string, cut at cap - 1
 * bytes (cap > 0): header values, error codes and ids kept in structs. */
static inline void kl_copy_cut(char *dst, size_t cap, const char *s, size_t n)
{
	if (n >= cap)
		n = cap - 1;
	memcpy(dst, s, n);
	dst[n] = '\0';
}

/* How many of the first n bytes of a and b are equal (16 at a time): the
 * prefix a Kinesis sequence number shares with the one before, a string's
 * with the previous one in DELTA_BYTE_ARRAY. */
size_t kl_bytes_common_prefix(const void *a, const void *b, size_t n);

/* a[0..n) == b[0..n)? Without a library call for the short keys and
 * values hot paths compare (at most 16 bytes: two overlapping loads). */
static inline int kl_bytes_eq(const void *a, const void *b, size_t n)
{
	const unsigned char *x = a, *y = b;
	if (n >= 8) {
		uint64_t x0, y0, x1, y1;
		memcpy(&x0, x, 8);
		memcpy(&y0, y, 8);
		if (x0 != y0)
			return 0;
		if (n > 16)
			return memcmp(x + 8, y + 8, n - 8) == 0;
		memcpy(&x1, x + n - 8, 8);
		memcpy(&y1, y + n - 8, 8);
		return x1 == y1;
	}
	if (n >= 4) {
		uint32_t x0, y0, x1, y1;
		memcpy(&x0, x, 4);
		memcpy(&y0, y, 4);
		memcpy(&x1, x + n - 4, 4);
		memcpy(&y1, y + n - 4, 4);
		return ((x0 ^ y0) | (x1 ^ y1)) == 0;
	}
	for (size_t i = 0; i < n; i++)
		if (x[i] != y[i])
			return 0;
	return 1;
}

static inline int kl_buf_puts(struct kl_buf *b, const char *s)
{
	return kl_buf_append(b, s, strlen(s));
}

#endif
