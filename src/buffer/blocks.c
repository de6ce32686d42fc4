/* blocks.c — see blocks.h. Frames: RFC 8878 via libzstd, one per block,
 * each with its content size, so a block decompresses straight into place,
 * and its checksum, so a file made of them is checked as a whole-body frame
 * was. Held blocks: LZ4 blocks via liblz4 (no frame, no checksum: they never
 * leave the process; LZ4_decompress_safe checks that one decompresses to
 * exactly its recorded length without reading or writing out of bounds). */
#include "buffer/blocks.h"

#include <lz4.h>
#include <stdlib.h>
#include <zstd.h>

/* a context's frame buffer is kept between frames up to this size (one
 * block's frame needs ~61 KiB; a long record's may need far more, once) */
#define OUT_KEEP (1u << 20)

/* After a frame in x->out was used: let go of an outsized buffer. */
static void out_done(struct kl_blocks_zctx *x)
{
	if (x->out_cap > OUT_KEEP) {
		free(x->out);
		x->out = NULL;
		x->out_cap = 0;
	}
}

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
	free(x->lz4);
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
	size_t z = ZSTD_compressBound(n);
	/* past LZ4_MAX_INPUT_SIZE no LZ4 block is made (the text stays raw);
	 * the guard keeps the macro's int arithmetic in range */
	size_t l = n <= LZ4_MAX_INPUT_SIZE ? (size_t)LZ4_COMPRESSBOUND(n) : 0;
	return z > l ? z : l;
}

/* Room for a frame of up to `bound` bytes in x->out. */
static int out_room(struct kl_blocks_zctx *x, size_t bound)
{
	if (bound <= x->out_cap)
		return KL_OK;
	char *o = realloc(x->out, bound);
	if (!o)
		return KL_ENOMEM;
	x->out = o;
	x->out_cap = bound;
	return KL_OK;
}

/* The LZ4 block of src[0..n) into x->out (default acceleration: the same
 * bytes always make the same block). A text LZ4 cannot take (over
 * LZ4_MAX_INPUT_SIZE) has no block: KL_ENOMEM, so it stays raw. */
static int lz4_out(struct kl_blocks_zctx *x, const void *src, size_t n, size_t *zn)
{
	if (n > LZ4_MAX_INPUT_SIZE)
		return KL_ENOMEM;
	if (!x->lz4 && !(x->lz4 = malloc((size_t)LZ4_sizeofState())))
		return KL_ENOMEM;
	int bound = LZ4_compressBound((int)n);
	if (out_room(x, (size_t)bound))
		return KL_ENOMEM;
	int got = LZ4_compress_fast_extState(x->lz4, src, x->out, (int)n, bound, 1);
	if (got <= 0) /* cannot happen with a bound-sized output: keep the text raw */
		return KL_ENOMEM;
	*zn = (size_t)got;
	return KL_OK;
}

/* The frame of src[0..n) at `level` into x->out; its length in *zn.
 * Single-shot with fixed parameters: the same bytes at the same level
 * always make the same frame. */
static int frame_out(struct kl_blocks_zctx *x, int level, const void *src, size_t n, size_t *zn)
{
	if (level == KL_BLOCK_LZ4)
		return lz4_out(x, src, n, zn);
	if (!x->c) {
		if (!(x->c = ZSTD_createCCtx()))
			return KL_ENOMEM;
		ZSTD_CCtx_setParameter(x->c, ZSTD_c_compressionLevel, level);
		ZSTD_CCtx_setParameter(x->c, ZSTD_c_checksumFlag, 1);
		ZSTD_CCtx_setParameter(x->c, ZSTD_c_contentSizeFlag, 1);
		x->level = level;
	} else if (x->level != level) { /* between frames: the level alone changes */
		ZSTD_CCtx_setParameter(x->c, ZSTD_c_compressionLevel, level);
		x->level = level;
	}
	if (out_room(x, ZSTD_compressBound(n)))
		return KL_ENOMEM;
	size_t got = ZSTD_compress2(x->c, x->out, x->out_cap, src, n);
	if (ZSTD_isError(got)) /* cannot happen with a bound-sized output: keep the text raw */
		return KL_ENOMEM;
	*zn = got;
	return KL_OK;
}

int kl_blocks_frame(struct kl_blocks_zctx *x, int level, const void *src, size_t n, char **z,
		    size_t *zlen)
{
	size_t zn;
	int rc = frame_out(x, level, src, n, &zn);
	if (rc)
		return rc;
	char *f = malloc(zn);
	if (f)
		memcpy(f, x->out, zn);
	out_done(x);
	if (!f)
		return KL_ENOMEM;
	*z = f;
	*zlen = zn;
	return KL_OK;
}

int kl_blocks_seal(struct kl_blocks *b, struct kl_blocks_zctx *x, int level, const void *src,
		   size_t n, int early)
{
	char *z;
	size_t zn;
	int rc = kl_blocks_reserve(b);
	if (!rc)
		rc = kl_blocks_frame(x, level, src, n, &z, &zn);
	if (rc)
		return rc;
	b->v[b->n++] = (struct kl_block){.z = z,
					    .zlen = zn,
					    .raw = n,
					    .early = (unsigned char)(early != 0),
					    .lz4 = level == KL_BLOCK_LZ4};
	b->zlen += zn;
	b->raw += n;
	b->open_raw = early ? b->open_raw + n : 0;
	return KL_OK;
}

/* Decompress block i into dst, which has room for exactly its raw length. */
static int unseal(const struct kl_blocks *b, struct kl_blocks_zctx *x, size_t i, char *dst,
		  struct kl_errbuf *eb)
{
	const struct kl_block *k = &b->v[i];
	if (!k->zlen) { /* kept raw (buffer/parts.c: a seal out of memory) */
		memcpy(dst, k->z, k->raw);
		return KL_OK;
	}
	if (k->lz4) {
		int got = k->zlen <= INT_MAX && k->raw <= INT_MAX
				  ? LZ4_decompress_safe(k->z, dst, (int)k->zlen, (int)k->raw)
				  : -1;
		if (got < 0 || (size_t)got != k->raw)
			return kl_errbuf_set(eb, KL_EIO,
					     "buffered block %zu does not decompress (LZ4 %s)", i,
					     got < 0 ? "data damaged" : "short");
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

/* kl_blocks_each and, with `drain`, kl_blocks_drain: each block unpacked
 * into scratch and handed to fn, then the tail. Only `drain` writes to b. */
static int unpack_each(struct kl_blocks *b, struct kl_blocks_zctx *x, struct kl_buf *scratch,
		       kl_blocks_fn fn, void *ctx, struct kl_errbuf *eb, int drain)
{
	int rc;
	for (size_t i = 0; i < b->n; i++) {
		struct kl_block *k = &b->v[i];
		if (!k->zlen && k->z) { /* raw: handed on as it is, not copied */
			rc = fn(ctx, k->z, k->raw);
			if (drain) {
				free(k->z);
				k->z = NULL;
				b->zlen -= k->raw;
			}
			if (rc)
				return rc;
			continue;
		}
		kl_buf_reset(scratch);
		if (kl_buf_reserve(scratch, k->raw))
			return kl_errbuf_set(eb, KL_ENOMEM, "out of memory unpacking a buffer");
		if ((rc = unseal(b, x, i, scratch->data, eb)))
			return rc;
		scratch->len = k->raw;
		if (drain) { /* read for the last time: its memory goes now */
			free(k->z);
			k->z = NULL;
			b->zlen -= k->zlen ? k->zlen : k->raw; /* a raw block counts its text */
			k->zlen = 0;
		}
		if ((rc = fn(ctx, scratch->data, scratch->len)))
			return rc;
	}
	return b->tail.len ? fn(ctx, b->tail.data, b->tail.len) : KL_OK;
}

int kl_blocks_each(const struct kl_blocks *b, struct kl_blocks_zctx *x, struct kl_buf *scratch,
		   kl_blocks_fn fn, void *ctx, struct kl_errbuf *eb)
{
	return unpack_each((struct kl_blocks *)b, x, scratch, fn, ctx, eb, 0);
}

int kl_blocks_drain(struct kl_blocks *b, struct kl_blocks_zctx *x, struct kl_buf *scratch,
		    kl_blocks_fn fn, void *ctx, struct kl_errbuf *eb)
{
	return unpack_each(b, x, scratch, fn, ctx, eb, 1);
}

/* Blocks [i, j) (and the tail too if `tail`) as one frame through fn. */
static int group_frame(const struct kl_blocks *b, struct kl_blocks_zctx *x, size_t i, size_t j,
		       int tail, struct kl_buf *scratch, kl_blocks_fn fn, void *ctx,
		       struct kl_errbuf *eb)
{
	const char *src = b->tail.data;
	size_t n = b->tail.len, zn;
	int rc;
	if (i < j) { /* gathered: the group's blocks, unpacked, then the tail's bytes */
		size_t len = tail ? b->tail.len : 0;
		for (size_t k = i; k < j; k++)
			len += b->v[k].raw;
		kl_buf_reset(scratch);
		if (kl_buf_reserve(scratch, len))
			return kl_errbuf_set(eb, KL_ENOMEM, "out of memory unpacking a buffer");
		for (size_t k = i; k < j; k++) {
			if ((rc = unseal(b, x, k, scratch->data + scratch->len, eb)))
				return rc;
			scratch->len += b->v[k].raw;
		}
		if (tail)
			kl_buf_put(scratch, b->tail.data, b->tail.len);
		src = scratch->data;
		n = scratch->len;
	}
	if ((rc = frame_out(x, KL_BLOCK_LEVEL, src, n, &zn)))
		return kl_errbuf_set(eb, rc, "out of memory compressing a buffer");
	rc = fn(ctx, x->out, zn);
	out_done(x);
	return rc;
}

int kl_blocks_frames(const struct kl_blocks *b, struct kl_blocks_zctx *x, struct kl_buf *scratch,
		     kl_blocks_fn fn, void *ctx, struct kl_errbuf *eb)
{
	int rc;
	size_t i = 0;
	while (i < b->n) {
		size_t j = i;
		while (j < b->n && b->v[j].early)
			j++;
		if (j == b->n) /* early blocks up to the end: the last frame, with the tail */
			return group_frame(b, x, i, j, 1, scratch, fn, ctx, eb);
		if (j == i && b->v[i].zlen && !b->v[i].lz4) /* a regular block alone: its frame as it is */
			rc = fn(ctx, b->v[i].z, b->v[i].zlen);
		else
			rc = group_frame(b, x, i, j + 1, 0, scratch, fn, ctx, eb);
		if (rc)
			return rc;
		i = j + 1;
	}
	if (b->tail.len || !b->n) /* the tail alone (no bytes at all: an empty frame) */
		return group_frame(b, x, 0, 0, 1, scratch, fn, ctx, eb);
	return KL_OK;
}
