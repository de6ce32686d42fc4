/* decompress.c — gzip (zlib) and zstd stream decoders; see decompress.h. */
#include "source/decompress.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>
#include <zstd_errors.h>

struct kl_decomp {
	enum kl_codec codec;
	z_stream z;        /* gzip */
	ZSTD_DStream *zs;  /* zstd */
	/* zstd decodes into this buffer of its own, always from empty, then it
	 * is copied out: how much text comes out before damage is found then
	 * does not depend on the room a caller gives (zstd fills a large
	 * output directly, a small one through its buffer, and checks a
	 * frame's checksum at different moments), so every reading of a
	 * damaged input sees the same text before its error */
	char *stage;
	size_t stage_cap, stage_head, stage_tail;
	int between;       /* at the end of a frame (none begun since) */
	int frames;        /* frames begun */
	uint64_t in_total; /* compressed bytes taken by earlier calls */
};

/* Each format's magic number, the one table that sniffing, the "too short
 * to tell" answer and the names read. bzip2's fourth byte is its block
 * size, a digit 1-9; xz's sixth is NUL (the string's own terminator). */
static const struct {
	enum kl_codec codec;
	const char *name;
	size_t len;
	char magic[6];
} magics[] = {
    {KL_CODEC_GZIP, "gzip", 2, "\x1f\x8b"},
    {KL_CODEC_ZSTD, "zstd", 4, "\x28\xb5\x2f\xfd"},
    {KL_CODEC_BZIP2, "bzip2", 4, "BZh"},
    {KL_CODEC_XZ, "xz", 6, "\xfd\x37zXZ"},
};
#define NMAGICS (sizeof magics / sizeof magics[0])

/* How many of p[0..n)'s first bytes agree with magic i (at most its length). */
static size_t magic_agrees(size_t i, const unsigned char *p, size_t n)
{
	size_t k = 0;
	for (; k < n && k < magics[i].len; k++)
		if (magics[i].codec == KL_CODEC_BZIP2 && k == 3 ? p[k] < '1' || p[k] > '9'
								  : p[k] != (unsigned char)magics[i].magic[k])
			break;
	return k;
}

enum kl_codec kl_codec_sniff(const void *p, size_t n)
{
	for (size_t i = 0; i < NMAGICS; i++)
		if (magic_agrees(i, p, n) == magics[i].len)
			return magics[i].codec;
	return KL_CODEC_NONE;
}

int kl_codec_may_start(const void *p, size_t n)
{
	for (size_t i = 0; i < NMAGICS; i++)
		if (n < magics[i].len && magic_agrees(i, p, n) == n)
			return 1;
	return 0;
}

const char *kl_codec_name(enum kl_codec c)
{
	for (size_t i = 0; i < NMAGICS; i++)
		if (magics[i].codec == c)
			return magics[i].name;
	return NULL;
}

int kl_codec_decodes(enum kl_codec c)
{
	return c == KL_CODEC_GZIP || c == KL_CODEC_ZSTD;
}

int kl_codec_refuse(struct kl_errbuf *eb, enum kl_codec c, const char *input)
{
	const char *z = kl_codec_name(c);
	return kl_errbuf_set(eb, KL_EUNSUPPORTED,
			     "%s%s is %s-compressed, not JSON lines: decompress it first (e.g. %s -dc "
			     "%s | kinlake %s); gzip and zstd inputs are read as they are",
			     input ? "input " : "the input", input ? input : "", z ? z : "?",
			     z ? z : "?", input ? input : "FILE",
			     input ? "ingest --input - --input-id NAME ..." : "...");
}

struct kl_decomp *kl_decomp_new(enum kl_codec c)
{
	if (!kl_codec_decodes(c))
		return NULL;
	struct kl_decomp *d = calloc(1, sizeof *d);
	if (!d)
		return NULL;
	d->codec = c;
	d->between = 1;
	if (c == KL_CODEC_GZIP) {
		/* 15 + 16: a 32 KiB window, gzip framing only (header and CRC checked) */
		if (inflateInit2(&d->z, 15 + 16) != Z_OK) {
			free(d);
			return NULL;
		}
	} else {
		d->stage_cap = ZSTD_DStreamOutSize();
		if (!(d->stage = malloc(d->stage_cap)) || !(d->zs = ZSTD_createDStream()) ||
		    ZSTD_isError(ZSTD_initDStream(d->zs))) {
			ZSTD_freeDStream(d->zs);
			free(d->stage);
			free(d);
			return NULL;
		}
	}
	return d;
}

void kl_decomp_free(struct kl_decomp *d)
{
	if (!d)
		return;
	if (d->codec == KL_CODEC_GZIP)
		inflateEnd(&d->z);
	else
		ZSTD_freeDStream(d->zs);
	free(d->stage);
	free(d);
}

static int run_gzip(struct kl_decomp *d, const void *in, size_t in_n, size_t *in_used, void *out,
		    size_t out_cap, size_t *out_n, struct kl_errbuf *eb)
{
	z_stream *z = &d->z;
	/* zlib counts in uInt: hand it at most 1 GiB a call (the caller loops) */
	z->next_in = (Bytef *)(uintptr_t)in;
	z->avail_in = (uInt)(in_n < (1u << 30) ? in_n : 1u << 30);
	z->next_out = out;
	z->avail_out = (uInt)(out_cap < (1u << 30) ? out_cap : 1u << 30);
	int rc = KL_OK;
	while (z->avail_out > 0) {
		if (d->between) {
			if (z->avail_in == 0)
				break;
			inflateReset(z); /* another member follows (cat a.gz b.gz) */
			d->between = 0;
			d->frames++;
		}
		int zr = inflate(z, Z_NO_FLUSH);
		if (zr == Z_STREAM_END) {
			d->between = 1;
			continue;
		}
		if (zr == Z_BUF_ERROR)
			break; /* no progress possible: needs input or room */
		if (zr != Z_OK) {
			uint64_t at = d->in_total + (uint64_t)((const unsigned char *)z->next_in -
							       (const unsigned char *)in);
			rc = zr == Z_MEM_ERROR
				 ? kl_errbuf_set(eb, KL_ENOMEM, "gzip: out of memory")
			     : d->frames > 1 && z->total_in < 10
				 ? kl_errbuf_set(eb, KL_EPARSE,
						 "gzip: the bytes after the end of the compressed "
						 "data (compressed byte %llu on) are not gzip data",
						 (unsigned long long)(at - z->total_in))
				 : kl_errbuf_set(eb, KL_EPARSE,
						 "gzip: the compressed data is damaged near compressed "
						 "byte %llu (%s)",
						 (unsigned long long)at, z->msg ? z->msg : "invalid data");
			break;
		}
		if (z->avail_in == 0)
			break; /* all taken; what it gives for that is given */
	}
	*in_used = (size_t)((const unsigned char *)z->next_in - (const unsigned char *)in);
	*out_n = (size_t)((unsigned char *)z->next_out - (unsigned char *)out);
	return rc;
}

static int run_zstd(struct kl_decomp *d, const void *in, size_t in_n, size_t *in_used, void *out,
		    size_t out_cap, size_t *out_n, struct kl_errbuf *eb)
{
	ZSTD_inBuffer ib = {in, in_n, 0};
	size_t given = 0;
	int rc = KL_OK;
	for (;;) {
		size_t k = d->stage_tail - d->stage_head;
		if (k > out_cap - given)
			k = out_cap - given;
		memcpy((char *)out + given, d->stage + d->stage_head, k);
		d->stage_head += k;
		given += k;
		if (given == out_cap || d->stage_head < d->stage_tail)
			break;
		/* the stage is empty: decode into all of it */
		ZSTD_outBuffer ob = {d->stage, d->stage_cap, 0};
		size_t ipos = ib.pos;
		if (d->between && ib.pos < ib.size) {
			d->between = 0;
			d->frames++;
		}
		size_t r = ZSTD_decompressStream(d->zs, &ob, &ib);
		d->stage_head = 0;
		d->stage_tail = ZSTD_isError(r) ? 0 : ob.pos;
		if (ZSTD_isError(r) && ZSTD_getErrorCode(r) == ZSTD_error_frameParameter_windowTooLarge) {
			rc = kl_errbuf_set(eb, KL_EUNSUPPORTED,
					   "zstd: a frame needs a window larger than the 128 MiB "
					   "decoded here (made with --long?): decompress it first "
					   "(zstd -dc --long=31 FILE | kinlake ...)");
			break;
		}
		if (ZSTD_isError(r)) {
			rc = kl_errbuf_set(eb, KL_EPARSE,
					   "zstd: the compressed data is damaged near compressed byte %llu (%s)",
					   (unsigned long long)(d->in_total + ib.pos),
					   ZSTD_getErrorName(r));
			break;
		}
		if (r == 0)
			d->between = 1; /* a frame decoded and given out whole */
		if (ob.pos == 0 && (ib.pos == ib.size || ib.pos == ipos))
			break; /* needs more input */
	}
	*in_used = ib.pos;
	*out_n = given;
	return rc;
}

int kl_decomp_run(struct kl_decomp *d, const void *in, size_t in_n, size_t *in_used, void *out,
		  size_t out_cap, size_t *out_n, struct kl_errbuf *eb)
{
	int rc = d->codec == KL_CODEC_GZIP ? run_gzip(d, in, in_n, in_used, out, out_cap, out_n, eb)
					   : run_zstd(d, in, in_n, in_used, out, out_cap, out_n, eb);
	d->in_total += *in_used;
	return rc;
}

int kl_decomp_end(struct kl_decomp *d, struct kl_errbuf *eb)
{
	if (d->between && d->frames > 0)
		return KL_OK;
	return kl_errbuf_set(eb, KL_EPARSE,
			     "%s: the input ends inside its compressed data, after %llu bytes: it is "
			     "truncated, or was still being written",
			     kl_codec_name(d->codec), (unsigned long long)d->in_total);
}
