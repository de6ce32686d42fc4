/* pq_page.c — data and dictionary pages, levels, compression.
 * Spec: parquet-format Encodings.md "Plain (PLAIN = 0)" (bit-packed BOOLEAN,
 * little-endian INT64/DOUBLE, length-prefixed BYTE_ARRAY), "Run Length
 * Encoding / Bit-Packing Hybrid (RLE = 3)" (definition levels, with the 4-byte
 * length prefix of data page v1, and dictionary indices after a 1-byte bit
 * width), "Dictionary Encoding"; README "Data Pages" (v1 page layout);
 * Compression.md (SNAPPY raw block, GZIP RFC 1952 stream, ZSTD frame).
 * KL_NO_SNAPPY (the Lambda package, `make lambda-zip`): no snappy, so the
 * binary needs no C++ runtime (Debian's requires a newer glibc than Amazon
 * Linux 2023's); SNAPPY pages then fail with KL_EUNSUPPORTED. */
#include "encode/parquet/pq_internal.h"

#include "core/err.h"
#include "encode/parquet/thrift.h"

#include <limits.h>
#ifndef KL_NO_SNAPPY
#include <snappy-c.h>
#endif
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

int kl_pq_snappy_available(void)
{
#ifdef KL_NO_SNAPPY
	return 0;
#else
	return 1;
#endif
}

int pq_codec_init(struct kl_pq_writer *w)
{
	if (w->o.codec == KL_PQ_ZSTD && !w->zstd) {
		w->zstd = ZSTD_createCCtx();
		if (!w->zstd)
			return pq_fail(w, KL_ENOMEM, "parquet: ZSTD_createCCtx failed");
	}
	if (w->o.codec == KL_PQ_GZIP && !w->gz) {
		z_stream *z = calloc(1, sizeof *z);
		if (!z)
			return pq_fail(w, KL_ENOMEM, "parquet: out of memory");
		int level = w->o.level ? w->o.level : 6;
		/* windowBits 15 + 16: gzip wrapper; zlib writes mtime 0, so output is
		 * deterministic. */
		if (deflateInit2(z, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
			free(z);
			return pq_fail(w, KL_EINVAL, "parquet: deflateInit2 failed (level %d)", level);
		}
		w->gz = z;
	}
	return KL_OK;
}

void pq_codec_free(struct kl_pq_writer *w)
{
	if (w->zstd)
		ZSTD_freeCCtx(w->zstd);
	w->zstd = NULL;
	if (w->gz) {
		deflateEnd(w->gz);
		free(w->gz);
	}
	w->gz = NULL;
}

/* Compress `n` bytes at `src`; the result is `*out` (w->comp, or `src` itself
 * when uncompressed). */
static int pq_compress(struct kl_pq_writer *w, const void *src, size_t n, const void **out,
		    size_t *outlen)
{
	struct kl_buf *d = &w->comp;
	kl_buf_reset(d);
	switch (w->o.codec) {
	case KL_PQ_UNCOMPRESSED:
		*out = src;
		*outlen = n;
		return KL_OK;
	case KL_PQ_ZSTD: {
		size_t bound = ZSTD_compressBound(n);
		if (kl_buf_reserve(d, bound))
			return pq_fail(w, KL_ENOMEM, "parquet: out of memory");
		size_t r = ZSTD_compressCCtx(w->zstd, d->data, d->cap, src, n,
					     w->o.level ? w->o.level : 3);
		if (ZSTD_isError(r))
			return pq_fail(w, KL_EINVAL, "parquet: zstd: %s", ZSTD_getErrorName(r));
		d->len = r;
		break;
	}
	case KL_PQ_SNAPPY: {
#ifdef KL_NO_SNAPPY
		return pq_fail(w, KL_EUNSUPPORTED, "parquet: snappy is not available in this build "
			       "(the Lambda package); use zstd");
#else
		size_t cap = snappy_max_compressed_length(n);
		if (kl_buf_reserve(d, cap))
			return pq_fail(w, KL_ENOMEM, "parquet: out of memory");
		size_t r = d->cap;
		if (snappy_compress(src, n, d->data, &r) != SNAPPY_OK)
			return pq_fail(w, KL_EINVAL, "parquet: snappy_compress failed");
		d->len = r;
		break;
#endif
	}
	case KL_PQ_GZIP: {
		z_stream *z = w->gz;
		if (n > UINT_MAX)
			return pq_fail(w, KL_ELIMIT, "parquet: page too large for gzip");
		if (deflateReset(z) != Z_OK)
			return pq_fail(w, KL_EINVAL, "parquet: deflateReset failed");
		size_t bound = deflateBound(z, (uLong)n);
		if (bound > UINT_MAX || kl_buf_reserve(d, bound))
			return pq_fail(w, KL_ENOMEM, "parquet: out of memory");
		z->next_in = (Bytef *)(uintptr_t)src;
		z->avail_in = (uInt)n;
		z->next_out = (Bytef *)d->data;
		z->avail_out = (uInt)d->cap;
		if (deflate(z, Z_FINISH) != Z_STREAM_END)
			return pq_fail(w, KL_EINVAL, "parquet: deflate did not finish");
		d->len = d->cap - z->avail_out;
		break;
	}
	}
	*out = d->data;
	*outlen = d->len;
	return KL_OK;
}

static inline uint32_t val_at(const void *vals, size_t i, int wide)
{
	if (!wide)
		return ((const uint8_t *)vals)[i];
	uint32_t v;
	memcpy(&v, (const uint8_t *)vals + i * 4, 4);
	return v;
}

/* Length of the run of equal values starting at i, scanning at most `lim`. */
static size_t run_len(const void *vals, size_t n, size_t i, int wide, size_t lim)
{
	uint32_t v = val_at(vals, i, wide);
	size_t j = i + 1;
	while (j < n && j - i < lim && val_at(vals, j, wide) == v)
		j++;
	return j - i;
}

int pq_rle_hybrid(struct kl_buf *out, const void *vals, size_t n, int wide, int width)
{
	size_t vbytes = ((size_t)width + 7) / 8;
	size_t i = 0;
	while (i < n) {
		size_t run = run_len(vals, n, i, wide, SIZE_MAX);
		if (run >= 8) {
			/* RLE run: varint(count << 1), value in ceil(width/8) LE bytes. */
			if (kl_thrift_put_varint(out, (uint64_t)run << 1))
				return KL_ENOMEM;
			uint32_t v = val_at(vals, i, wide);
			uint8_t le[4];
			pq_le32(le, v);
			if (kl_buf_append(out, le, vbytes))
				return KL_ENOMEM;
			i += run;
			continue;
		}
		/* Bit-packed run of whole groups of 8 (the last may be padded with
		 * zeros), ended early where an RLE run of >= 8 starts. */
		size_t start = i, groups = 0;
		while (i < n && groups < 63) {
			if (groups > 0 && run_len(vals, n, i, wide, 8) >= 8)
				break;
			i += 8;
			groups++;
		}
		if (i > n)
			i = n;
		uint8_t h = (uint8_t)(groups << 1 | 1);
		if (kl_buf_reserve(out, 1 + groups * (size_t)width))
			return KL_ENOMEM;
		kl_buf_put(out, &h, 1);
		uint64_t acc = 0;
		int nbits = 0;
		for (size_t k = 0; k < groups * 8; k++) {
			uint64_t v = start + k < n ? val_at(vals, start + k, wide) : 0;
			acc |= v << nbits;
			nbits += width;
			while (nbits >= 8) {
				uint8_t byte = (uint8_t)acc;
				kl_buf_put(out, &byte, 1);
				acc >>= 8;
				nbits -= 8;
			}
		}
	}
	return KL_OK;
}

static int bit_width(uint32_t max)
{
	int b = 0;
	while (max) {
		b++;
		max >>= 1;
	}
	return b;
}

int pq_flush_page(struct kl_pq_writer *w, struct pq_col *c)
{
	if (!c->page_rows)
		return KL_OK;
	struct kl_buf *p = &w->page;
	kl_buf_reset(p);
	/* Definition levels: u32le byte length, then the RLE hybrid, width 1. */
	if (kl_buf_reserve(p, 4))
		return pq_fail(w, KL_ENOMEM, "parquet: out of memory");
	p->len = 4;
	if (pq_rle_hybrid(p, c->defs.data, c->page_rows, 0, 1))
		return pq_fail(w, KL_ENOMEM, "parquet: out of memory");
	pq_le32((uint8_t *)p->data, (uint32_t)(p->len - 4));

	/* An empty dictionary means the page has no values: PLAIN then. */
	int dict = c->dict_on && c->dict.n > 0;
	int rc = KL_OK;
	if (dict) {
		int bw = bit_width(c->dict.n - 1);
		if (bw < 1)
			bw = 1;
		rc = kl_buf_putc(p, (char)bw);
		if (!rc)
			rc = pq_rle_hybrid(p, c->vals.data, c->page_vals, 1, bw);
	} else if (c->type == KL_PQ_BOOLEAN) {
		size_t nb = (c->page_vals + 7) / 8;
		rc = kl_buf_reserve(p, nb);
		if (!rc) {
			uint8_t *o = (uint8_t *)p->data + p->len;
			memset(o, 0, nb);
			for (uint32_t i = 0; i < c->page_vals; i++)
				if (c->vals.data[i])
					o[i / 8] |= (uint8_t)(1u << (i % 8));
			p->len += nb;
		}
	} else {
		rc = kl_buf_append(p, c->vals.data, c->vals.len);
	}
	if (rc)
		return pq_fail(w, KL_ENOMEM, "parquet: out of memory");
	if (p->len > INT32_MAX)
		return pq_fail(w, KL_ELIMIT, "parquet: data page of %zu bytes exceeds 2 GiB", p->len);

	const void *body;
	size_t blen;
	if ((rc = pq_compress(w, p->data, p->len, &body, &blen)))
		return rc;
	if (blen > INT32_MAX)
		return pq_fail(w, KL_ELIMIT, "parquet: compressed page exceeds 2 GiB");
	kl_buf_reset(&w->hdr);
	if (pq_page_header(&w->hdr, PQ_PAGE_DATA, p->len, blen, c->page_rows,
			   dict ? PQ_ENC_RLE_DICTIONARY : PQ_ENC_PLAIN))
		return pq_fail(w, KL_ENOMEM, "parquet: out of memory");
	if (kl_buf_reserve(&c->pages, w->hdr.len + blen))
		return pq_fail(w, KL_ENOMEM, "parquet: out of memory");
	kl_buf_put(&c->pages, w->hdr.data, w->hdr.len);
	kl_buf_put(&c->pages, body, blen);

	c->n_pages++;
	c->enc_mask |= PQ_EM_RLE | (dict ? PQ_EM_DICT : PQ_EM_PLAIN);
	if (dict)
		c->n_dict_pages++;
	c->chunk_uncomp += (int64_t)(w->hdr.len + p->len);
	c->chunk_comp += (int64_t)(w->hdr.len + blen);
	kl_buf_reset(&c->defs);
	kl_buf_reset(&c->vals);
	c->page_rows = c->page_vals = 0;
	c->page_plain = 0;
	return KL_OK;
}

int pq_build_dict_page(struct kl_pq_writer *w, struct pq_col *c, const void **body,
		       size_t *body_len, int64_t *uncomp, int64_t *comp)
{
	const struct kl_buf *v = &c->dict.vals;
	int rc = pq_compress(w, v->data, v->len, body, body_len);
	if (rc)
		return rc;
	if (*body_len > INT32_MAX)
		return pq_fail(w, KL_ELIMIT, "parquet: dictionary page exceeds 2 GiB");
	kl_buf_reset(&w->hdr);
	if (pq_page_header(&w->hdr, PQ_PAGE_DICTIONARY, v->len, *body_len, c->dict.n, PQ_ENC_PLAIN))
		return pq_fail(w, KL_ENOMEM, "parquet: out of memory");
	*uncomp = (int64_t)(w->hdr.len + v->len);
	*comp = (int64_t)(w->hdr.len + *body_len);
	return KL_OK;
}
