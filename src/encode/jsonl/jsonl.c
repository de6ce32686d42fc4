/* jsonl.c — see jsonl.h. zstd: RFC 8878 frames via libzstd; gzip: RFC 1952
 * via zlib (windowBits 15+16). */
#include "encode/jsonl/jsonl.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

int kl_jsonl_init(struct kl_jsonl *e, enum kl_compression comp, int level)
{
	memset(e, 0, sizeof *e);
	if (comp != KL_COMP_ZSTD && comp != KL_COMP_GZIP && comp != KL_COMP_NONE)
		return KL_EINVAL;
	e->comp = comp;
	e->level = level;
	e->chunk = malloc(KL_JSONL_CHUNK);
	if (!e->chunk)
		return KL_ENOMEM;
	if (comp == KL_COMP_ZSTD) {
		e->zstd = ZSTD_createCCtx();
		if (!e->zstd)
			goto nomem;
		ZSTD_CCtx_setParameter(e->zstd, ZSTD_c_compressionLevel, level ? level : 1);
		ZSTD_CCtx_setParameter(e->zstd, ZSTD_c_checksumFlag, 1);
	} else if (comp == KL_COMP_GZIP) {
		z_stream *z = calloc(1, sizeof *z);
		if (!z || deflateInit2(z, level ? level : 6, Z_DEFLATED, 15 + 16, 8,
				       Z_DEFAULT_STRATEGY) != Z_OK) {
			free(z);
			goto nomem;
		}
		e->gz = z;
	}
	return KL_OK;
nomem:
	kl_jsonl_cleanup(e);
	return KL_ENOMEM;
}

void kl_jsonl_cleanup(struct kl_jsonl *e)
{
	if (e->zstd)
		ZSTD_freeCCtx(e->zstd);
	if (e->gz) {
		deflateEnd(e->gz);
		free(e->gz);
	}
	free(e->chunk);
	memset(e, 0, sizeof *e);
}

/* A new frame of `total` bytes (zstd records it in the frame header). */
static void frame_start(struct kl_jsonl *e, uint64_t total)
{
	if (e->comp == KL_COMP_ZSTD) {
		ZSTD_CCtx_reset(e->zstd, ZSTD_reset_session_only);
		ZSTD_CCtx_setPledgedSrcSize(e->zstd, total);
	} else if (e->comp == KL_COMP_GZIP) {
		deflateReset(e->gz);
	}
}

int kl_jsonl_begin(struct kl_jsonl *e, uint64_t total, kl_write_fn fn, void *ctx)
{
	e->fn = fn;
	e->ctx = ctx;
	frame_start(e, total);
	return KL_OK;
}

/* Compress what is given (end: and finish the frame) through fn. */
static int piece_zstd(struct kl_jsonl *e, const void *data, size_t n, int end, kl_write_fn fn,
		      void *ctx, struct kl_errbuf *eb)
{
	ZSTD_inBuffer in = {data, n, 0};
	for (;;) {
		ZSTD_outBuffer out = {e->chunk, KL_JSONL_CHUNK, 0};
		size_t left = ZSTD_compressStream2(e->zstd, &out, &in, end ? ZSTD_e_end
									  : ZSTD_e_continue);
		if (ZSTD_isError(left))
			return kl_errbuf_set(eb, KL_EIO, "zstd: %s", ZSTD_getErrorName(left));
		if (out.pos) {
			int rc = fn(ctx, e->chunk, out.pos);
			if (rc)
				return rc;
		}
		if (end ? left == 0 : in.pos == in.size && out.pos < out.size)
			return KL_OK;
	}
}

static int piece_gzip(struct kl_jsonl *e, const void *data, size_t n, int end, kl_write_fn fn,
		      void *ctx, struct kl_errbuf *eb)
{
	z_stream *z = e->gz;
	const unsigned char *p = data;
	size_t left = n;
	int zr;
	do {
		uInt take = left > (1u << 30) ? (1u << 30) : (uInt)left;
		z->next_in = (unsigned char *)p;
		z->avail_in = take;
		p += take;
		left -= take;
		int flush = left || !end ? Z_NO_FLUSH : Z_FINISH;
		do {
			z->next_out = e->chunk;
			z->avail_out = KL_JSONL_CHUNK;
			zr = deflate(z, flush);
			if (zr == Z_STREAM_ERROR)
				return kl_errbuf_set(eb, KL_EIO, "gzip: deflate failed");
			size_t have = KL_JSONL_CHUNK - z->avail_out;
			if (have) {
				int rc = fn(ctx, e->chunk, have);
				if (rc)
					return rc;
			}
		} while (z->avail_out == 0);
	} while (left);
	return !end || zr == Z_STREAM_END ? KL_OK
					  : kl_errbuf_set(eb, KL_EIO, "gzip: stream not finished");
}

int kl_jsonl_write(struct kl_jsonl *e, const void *data, size_t n, struct kl_errbuf *eb)
{
	if (!n)
		return KL_OK;
	switch (e->comp) {
	case KL_COMP_ZSTD: return piece_zstd(e, data, n, 0, e->fn, e->ctx, eb);
	case KL_COMP_GZIP: return piece_gzip(e, data, n, 0, e->fn, e->ctx, eb);
	case KL_COMP_NONE: return e->fn(e->ctx, data, n);
	default: return KL_EINVAL;
	}
}

int kl_jsonl_end(struct kl_jsonl *e, struct kl_errbuf *eb)
{
	switch (e->comp) {
	case KL_COMP_ZSTD: return piece_zstd(e, "", 0, 1, e->fn, e->ctx, eb);
	case KL_COMP_GZIP: return piece_gzip(e, "", 0, 1, e->fn, e->ctx, eb);
	case KL_COMP_NONE: return KL_OK;
	default: return KL_EINVAL;
	}
}

const char *kl_jsonl_extension(enum kl_compression comp)
{
	switch (comp) {
	case KL_COMP_ZSTD: return ".jsonl.zst";
	case KL_COMP_GZIP: return ".jsonl.gz";
	default: return ".jsonl";
	}
}

/* One whole frame: the streaming path in one call, its own fn. */
int kl_jsonl_encode(struct kl_jsonl *e, const void *data, size_t n, kl_write_fn fn, void *ctx,
		    struct kl_errbuf *eb)
{
	frame_start(e, n);
	switch (e->comp) {
	case KL_COMP_ZSTD: return piece_zstd(e, data, n, 1, fn, ctx, eb);
	case KL_COMP_GZIP: return piece_gzip(e, data, n, 1, fn, ctx, eb);
	case KL_COMP_NONE: return n ? fn(ctx, data, n) : KL_OK;
	default: return KL_EINVAL;
	}
}
