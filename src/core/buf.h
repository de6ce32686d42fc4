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
/* Make room for `extra` more bytes; KL_OK or KL_ENOMEM. */
int kl_buf_reserve(struct kl_buf *b, size_t extra);
int kl_buf_append(struct kl_buf *b, const void *p, size_t n);
int kl_buf_printf(struct kl_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Release the block if it is larger than `keep` (memory hygiene after a
 * burst); always empties the buffer. */
void kl_buf_shrink(struct kl_buf *b, size_t keep);

static inline void kl_buf_reset(struct kl_buf *b) { b->len = 0; }

/* Unchecked append: caller reserved room beforehand. */
static inline void kl_buf_put(struct kl_buf *b, const void *p, size_t n)
{
	if (!n) /* data may still be NULL: no pointer arithmetic on it */
		return;
	memcpy(b->data + b->len, p, n);
	b->len += n;
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

static inline int kl_buf_puts(struct kl_buf *b, const char *s)
{
	return kl_buf_append(b, s, strlen(s));
}

#endif
