/* blocks.c — see blocks.h. Frames: RFC 8878 via libzstd, one per block,
 * each with its content size, so a block decompresses straight into place. */
#include "buffer/blocks.h"

#include <stdlib.h>
#include <zstd.h>

#define BLOCK_LEVEL 1

void kl_blocks_init(struct kl_blocks *b)
{
	memset(b, 0, sizeof *b);
	kl_buf_init(&b->tail, 0);
}

void kl_blocks_cleanup(struct kl_blocks *b)
{
	for (size_t i = 0; i < b->n; i++)
		free(b->v[i].z);
	free(b->v);
	kl_buf_cleanup(&b->tail);
	kl_blocks_init(b);
}

void kl_blocks_zctx_cleanup(struct kl_blocks_zctx *x)
{
	ZSTD_freeCCtx(x->c);
	ZSTD_freeDCtx(x->d);
	free(x->out);
	memset(x, 0, sizeof *x);
}

int kl_blocks_reserve(struct kl_blocks *b)
{
	if (b->n < b->cap)
		return KL_OK;
	size_t cap = b->cap ? b->cap * 2 : 8;
	struct kl_block *v = realloc(b->v, cap * sizeof *v);
	if (!v)
		return KL_ENOMEM;
	b->v = v;
	b->cap = cap;
	return KL_OK;
}

size_t kl_blocks_bound(size_t n)
{
	return ZSTD_compressBound(n);
}

int kl_blocks_frame(struct kl_blocks_zctx *x, const void *src, size_t n, char **z, size_t *zlen)
{
	if (!x->c && !(x->c = ZSTD_createCCtx()))
		return KL_ENOMEM;
	size_t bound = ZSTD_compressBound(n);
	if (bound > x->out_cap) {
		char *o = realloc(x->out, bound);
		if (!o)
			return KL_ENOMEM;
		x->out = o;
		x->out_cap = bound;
	}
	size_t zn = ZSTD_compressCCtx(x->c, x->out, x->out_cap, src, n, BLOCK_LEVEL);
	if (ZSTD_isError(zn)) /* cannot happen with a bound-sized output: keep the text raw */
		return KL_ENOMEM;
	char *f = malloc(zn);
	if (!f)
		return KL_ENOMEM;
	memcpy(f, x->out, zn);
	*z = f;
	*zlen = zn;
	return KL_OK;
}

int kl_blocks_seal(struct kl_blocks *b, struct kl_blocks_zctx *x, const void *src, size_t n)
{
	char *z;
	size_t zn;
	int rc = kl_blocks_reserve(b);
	if (!rc)
		rc = kl_blocks_frame(x, src, n, &z, &zn);
	if (rc)
		return rc;
	b->v[b->n++] = (struct kl_block){z, zn, n};
	b->zlen += zn;
	b->raw += n;
	return KL_OK;
}

/* Decompress block i into dst, which has room for exactly its raw length. */
static int unseal(const struct kl_blocks *b, struct kl_blocks_zctx *x, size_t i, char *dst,
		  struct kl_errbuf *eb)
{
	const struct kl_block *k = &b->v[i];
	if (!k->zlen) { /* kept raw (buffer/parts.c, out of memory) */
		memcpy(dst, k->z, k->raw);
		return KL_OK;
	}
	if (!x->d && !(x->d = ZSTD_createDCtx()))
		return kl_errbuf_set(eb, KL_ENOMEM, "out of memory");
	size_t got = ZSTD_decompressDCtx(x->d, dst, k->raw, k->z, k->zlen);
	if (ZSTD_isError(got) || got != k->raw)
		return kl_errbuf_set(eb, KL_EIO, "buffered block %zu does not decompress (%s)", i,
				     ZSTD_isError(got) ? ZSTD_getErrorName(got) : "short");
	return KL_OK;
}

int kl_blocks_flatten(const struct kl_blocks *b, struct kl_blocks_zctx *x, struct kl_buf *out,
		      struct kl_errbuf *eb)
{
	if (b->raw > SIZE_MAX - b->tail.len || kl_buf_reserve(out, b->raw + b->tail.len))
		return kl_errbuf_set(eb, KL_ENOMEM, "out of memory unpacking a buffer");
	for (size_t i = 0; i < b->n; i++) {
		int rc = unseal(b, x, i, out->data + out->len, eb);
		if (rc)
			return rc;
		out->len += b->v[i].raw;
	}
	kl_buf_put(out, b->tail.data, b->tail.len);
	return KL_OK;
}

int kl_blocks_each(const struct kl_blocks *b, struct kl_blocks_zctx *x, struct kl_buf *scratch,
		   kl_blocks_fn fn, void *ctx, struct kl_errbuf *eb)
{
	int rc;
	for (size_t i = 0; i < b->n; i++) {
		kl_buf_reset(scratch);
		if (kl_buf_reserve(scratch, b->v[i].raw))
			return kl_errbuf_set(eb, KL_ENOMEM, "out of memory unpacking a buffer");
		if ((rc = unseal(b, x, i, scratch->data, eb)))
			return rc;
		scratch->len = b->v[i].raw;
		if ((rc = fn(ctx, scratch->data, scratch->len)))
			return rc;
	}
	return b->tail.len ? fn(ctx, b->tail.data, b->tail.len) : KL_OK;
}
