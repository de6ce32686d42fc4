/* pq_page.c — data and dictionary pages, levels, compression.
 * Spec: parquet-format Encodings.md "Plain (PLAIN = 0)" (bit-packed BOOLEAN,
 * little-endian INT64/DOUBLE, length-prefixed BYTE_ARRAY), "Run Length
 * Encoding / Bit-Packing Hybrid (RLE = 3)" (definition levels, with the 4-byte
 * length prefix of data page v1, and dictionary indices after a 1-byte bit
 * width), "Dictionary Encoding"; README "Data Pages" (v1 page layout);
 * "Delta Encoding (DELTA_BINARY_PACKED = 5)" (INT64 pages without a
 * dictionary, and the lengths of DELTA_LENGTH_BYTE_ARRAY = 6 for strings),
 * "Delta Strings (DELTA_BYTE_ARRAY = 7)" (prefix lengths, then the suffixes
 * as DELTA_LENGTH_BYTE_ARRAY), "Byte Stream Split (BYTE_STREAM_SPLIT = 9)"
 * (DOUBLE pages without a dictionary); Compression.md (SNAPPY raw block,
 * GZIP RFC 1952 stream, ZSTD frame).
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

/* Compress `n` bytes at `src` of column c's chunk; the result is `*out`
 * (w->comp, or `src` itself when uncompressed: no codec, or a raw chunk). */
static int pq_compress(struct kl_pq_writer *w, const struct pq_col *c, const void *src, size_t n,
		       const void **out, size_t *outlen)
{
	struct kl_buf *d = &w->comp;
	kl_buf_reset(d);
	switch (c->raw ? KL_PQ_UNCOMPRESSED : w->o.codec) {
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

/* Append n values of w bits (0..64) each, LSB first, as in the bit-packed
 * runs of the RLE hybrid; n * w must be a multiple of 8. */
static void pack_bits(uint8_t *o, const uint64_t *v, size_t n, int w)
{
	if (!w)
		return;
	uint64_t mask = w == 64 ? UINT64_MAX : ((uint64_t)1 << w) - 1, acc = 0;
	int nb = 0; /* bits in acc, always < 64 */
	for (size_t i = 0; i < n; i++) {
		uint64_t x = v[i] & mask;
		acc |= x << nb;
		int room = 64 - nb;
		if (w >= room) {
			pq_le64(o, acc);
			o += 8;
			acc = room < 64 ? x >> room : 0;
			nb = w - room;
		} else {
			nb += w;
		}
	}
	for (; nb > 0; nb -= 8, acc >>= 8)
		*o++ = (uint8_t)acc;
}

static int bit_width64(uint64_t max)
{
	return max ? 64 - __builtin_clzll(max) : 0;
}

static inline int64_t ld64(const uint8_t *p, size_t i)
{
	int64_t x;
	memcpy(&x, p + i * 8, 8); /* little-endian host, as everywhere here */
	return x;
}

int pq_delta_encode(struct kl_buf *out, const void *le64, size_t n)
{
	const uint8_t *v = le64;
	/* header: block size, miniblocks per block, total count, first value */
	if (kl_thrift_put_varint(out, PQ_DELTA_BLOCK) ||
	    kl_thrift_put_varint(out, PQ_DELTA_BLOCK / PQ_DELTA_MINI) ||
	    kl_thrift_put_varint(out, n) ||
	    kl_thrift_put_varint(out, n ? kl_thrift_zigzag64(ld64(v, 0)) : 0))
		return KL_ENOMEM;
	uint64_t d[PQ_DELTA_BLOCK];
	for (size_t i = 1; i < n; i += PQ_DELTA_BLOCK) {
		size_t k = n - i < PQ_DELTA_BLOCK ? n - i : PQ_DELTA_BLOCK;
		/* deltas in two's complement, wrapping as readers compute them */
		uint64_t min = 0;
		for (size_t j = 0; j < k; j++) {
			d[j] = (uint64_t)ld64(v, i + j) - (uint64_t)ld64(v, i + j - 1);
			if (j == 0 || (int64_t)d[j] < (int64_t)min)
				min = d[j];
		}
		for (size_t j = 0; j < k; j++)
			d[j] -= min;
		int widths[PQ_DELTA_BLOCK / PQ_DELTA_MINI] = {0};
		size_t nmini = (k + PQ_DELTA_MINI - 1) / PQ_DELTA_MINI, bytes = 0;
		for (size_t m = 0; m < nmini; m++) {
			uint64_t mx = 0;
			for (size_t j = m * PQ_DELTA_MINI; j < (m + 1) * PQ_DELTA_MINI && j < k; j++)
				mx |= d[j];
			widths[m] = bit_width64(mx);
			bytes += (size_t)widths[m] * PQ_DELTA_MINI / 8;
		}
		for (size_t j = k; j < nmini * PQ_DELTA_MINI; j++)
			d[j] = 0; /* the last miniblock is padded to its full size */
		if (kl_thrift_put_varint(out, kl_thrift_zigzag64((int64_t)min)) ||
		    kl_buf_reserve(out, PQ_DELTA_BLOCK / PQ_DELTA_MINI + bytes))
			return KL_ENOMEM;
		for (size_t m = 0; m < PQ_DELTA_BLOCK / PQ_DELTA_MINI; m++)
			out->data[out->len++] = (char)widths[m]; /* unused miniblocks: 0 */
		for (size_t m = 0; m < nmini; m++) {
			pack_bits((uint8_t *)out->data + out->len, d + m * PQ_DELTA_MINI,
				  PQ_DELTA_MINI, widths[m]);
			out->len += (size_t)widths[m] * PQ_DELTA_MINI / 8;
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

/* DELTA_LENGTH_BYTE_ARRAY of the page's PLAIN strings (u32le length +
 * bytes each): the lengths DELTA_BINARY_PACKED, then every string's bytes
 * back to back. w->comp is scratch for the lengths (free until compression). */
static int dlba_encode(struct kl_pq_writer *w, struct kl_buf *p, const struct pq_col *c)
{
	struct kl_buf *lens = &w->comp;
	kl_buf_reset(lens);
	size_t n = c->page_vals, bytes = 0;
	if (kl_buf_reserve(lens, n * 8))
		return KL_ENOMEM;
	const uint8_t *v = (const uint8_t *)c->vals.data, *end = v + c->vals.len;
	for (size_t i = 0; i < n; i++) {
		uint32_t l = pq_get_le32(v);
		int64_t x = l;
		memcpy(lens->data + i * 8, &x, 8);
		v += 4 + l;
		bytes += l;
	}
	if (v != end)
		return KL_EINVAL; /* cannot happen: vals holds exactly n strings */
	if (pq_delta_encode(p, lens->data, n) || kl_buf_reserve(p, bytes))
		return KL_ENOMEM;
	v = (const uint8_t *)c->vals.data;
	for (size_t i = 0; i < n; i++) {
		int64_t x;
		memcpy(&x, lens->data + i * 8, 8);
		kl_buf_put(p, v + 4, (size_t)x);
		v += 4 + (size_t)x;
	}
	return KL_OK;
}

/* Length of the prefix a (an bytes) and b (bn bytes) share. */
static uint32_t shared_prefix(const uint8_t *a, uint32_t an, const uint8_t *b, uint32_t bn)
{
	return (uint32_t)kl_bytes_common_prefix(a, b, an < bn ? an : bn);
}

/* DELTA_BYTE_ARRAY of the page's PLAIN strings: each value's prefix shared
 * with the previous value (lengths DELTA_BINARY_PACKED), then the suffixes
 * as DELTA_LENGTH_BYTE_ARRAY. w->comp is scratch for the lengths. */
static int dba_encode(struct kl_pq_writer *w, struct kl_buf *p, const struct pq_col *c)
{
	struct kl_buf *lens = &w->comp;
	kl_buf_reset(lens);
	size_t n = c->page_vals, bytes = 0;
	if (n > SIZE_MAX / 16 || kl_buf_reserve(lens, n * 16))
		return KL_ENOMEM;
	const uint8_t *v = (const uint8_t *)c->vals.data, *end = v + c->vals.len, *prev = NULL;
	uint32_t prevl = 0;
	for (size_t i = 0; i < n; i++) {
		uint32_t l = pq_get_le32(v), k = prev ? shared_prefix(prev, prevl, v + 4, l) : 0;
		int64_t pre = k, suf = l - k;
		memcpy(lens->data + i * 8, &pre, 8);
		memcpy(lens->data + (n + i) * 8, &suf, 8);
		prev = v + 4;
		prevl = l;
		v += 4 + l;
		bytes += l - k;
	}
	if (v != end)
		return KL_EINVAL; /* cannot happen: vals holds exactly n strings */
	if (pq_delta_encode(p, lens->data, n) || pq_delta_encode(p, lens->data + n * 8, n) ||
	    kl_buf_reserve(p, bytes))
		return KL_ENOMEM;
	v = (const uint8_t *)c->vals.data;
	for (size_t i = 0; i < n; i++) {
		int64_t pre, suf;
		memcpy(&pre, lens->data + i * 8, 8);
		memcpy(&suf, lens->data + (n + i) * 8, 8);
		kl_buf_put(p, v + 4 + pre, (size_t)suf);
		v += 4 + (size_t)(pre + suf);
	}
	return KL_OK;
}

/* Values of a string page that dba_pays() looks at. */
#define PQ_DBA_SAMPLE 256u

/* Whether a string page is better as DELTA_BYTE_ARRAY: when consecutive
 * values share at least half their bytes as prefixes (sorted or near-sorted
 * text: formatted timestamps, paths), judged on the page's first
 * PQ_DBA_SAMPLE values. Random values (UUIDs, hashes, JSON text) share next
 * to nothing and stay DELTA_LENGTH_BYTE_ARRAY. */
static int dba_pays(const struct pq_col *c)
{
	const uint8_t *v = (const uint8_t *)c->vals.data, *prev = NULL;
	size_t shared = 0, total = 0;
	uint32_t prevl = 0, n = c->page_vals < PQ_DBA_SAMPLE ? c->page_vals : PQ_DBA_SAMPLE;
	for (uint32_t i = 0; i < n; i++) {
		uint32_t l = pq_get_le32(v), k = prev ? shared_prefix(prev, prevl, v + 4, l) : 0;
		shared += k;
		total += l;
		prev = v + 4;
		prevl = l;
		v += 4 + l;
	}
	return n > 1 && shared * 2 >= total;
}

/* Append the page's non-null values in encoding `enc` (not the
 * dictionary's). */
static int encode_values(struct kl_pq_writer *w, struct kl_buf *p, const struct pq_col *c,
			 int enc)
{
	size_t n = c->page_vals;
	switch (enc) {
	case PQ_ENC_PLAIN: /* INT64 / DOUBLE: vals is exactly the PLAIN form */
		return kl_buf_append(p, c->vals.data, c->vals.len);
	case PQ_ENC_DELTA_BINARY_PACKED:
		return pq_delta_encode(p, c->vals.data, n);
	case PQ_ENC_BYTE_STREAM_SPLIT: { /* byte k of every value, k = 0..7 */
		if (kl_buf_reserve(p, n * 8))
			return KL_ENOMEM;
		uint8_t *o = (uint8_t *)p->data + p->len;
		const uint8_t *v = (const uint8_t *)c->vals.data;
		for (size_t i = 0; i < n; i++)
			for (size_t k = 0; k < 8; k++)
				o[k * n + i] = v[i * 8 + k];
		p->len += n * 8;
		return KL_OK;
	}
	case PQ_ENC_DELTA_LENGTH_BYTE_ARRAY:
		return dlba_encode(w, p, c);
	case PQ_ENC_DELTA_BYTE_ARRAY:
		return dba_encode(w, p, c);
	}
	return KL_EINVAL;
}

/* A numeric page's encoding when its first candidate's length alone tells
 * (pq_flush_page compresses both candidates only when it does not): an
 * INT64 page's DELTA_BINARY_PACKED in at most an eighth of PLAIN's bytes
 * (timestamps, counters, small ids: deltas of a few bits) is the smaller
 * compressed too, and in half of them or more (deltas nearly as wide as the
 * values: random ids, amounts) the larger. Measured on the bench's 1M events
 * (1,795 INT64 pages, kinlake gen): every page in either range went the way
 * the rule says and none fell between 0.15 and 0.5, so the files are the
 * bytes that compressing both gives. Compared as before: a page between the
 * bounds, one of under a block of values (128: the header's bytes weigh),
 * every page without a codec or in a raw chunk (its lengths are the comparison), every DOUBLE
 * page (both candidates have the same length). -1: compare (PLAIN is 0). */
static int clear_winner(const struct kl_pq_writer *w, const struct pq_col *c, size_t first_len)
{
	size_t plain = c->vals.len; /* PLAIN: 8 bytes a value */
	if (c->type != KL_PQ_INT64 || w->o.codec == KL_PQ_UNCOMPRESSED || c->raw ||
	    plain < 128 * 8)
		return -1;
	if (first_len <= plain / 8)
		return PQ_ENC_DELTA_BINARY_PACKED;
	if (first_len >= plain / 2)
		return PQ_ENC_PLAIN;
	return -1;
}

/* pq_flush_page's comparison of a numeric page's two candidates: the first
 * is in p from byte lv on; both are compressed and the smaller kept (the
 * second on a tie), *enc, *body and *blen set to it and p->len to its
 * length. The first's compressed bytes wait in comp_alt (unless they are the
 * page itself: no codec), so that a first that wins is not encoded and
 * compressed a third time. KL_OK or the writer's error (pq_fail). */
static int smaller_of_two(struct kl_pq_writer *w, struct kl_buf *p, const struct pq_col *c,
			  size_t lv, int first, int second, int *enc, const void **body,
			  size_t *blen)
{
	int rc = pq_compress(w, c, p->data, p->len, body, blen);
	if (rc)
		return rc;
	size_t first_len = *blen, first_plen = p->len;
	int kept = *body != p->data;
	if (kept) {
		struct kl_buf t = w->comp;
		w->comp = w->comp_alt;
		w->comp_alt = t;
	}
	p->len = lv;
	*enc = second;
	if (encode_values(w, p, c, second))
		return pq_fail(w, KL_ENOMEM, "parquet: out of memory");
	if ((rc = pq_compress(w, c, p->data, p->len, body, blen)))
		return rc;
	if (first_len >= *blen)
		return KL_OK;
	*enc = first;
	if (kept) { /* p holds the second's bytes: only its length is used after */
		*body = w->comp_alt.data;
		*blen = first_len;
		p->len = first_plen;
		return KL_OK;
	}
	p->len = lv;
	if (encode_values(w, p, c, first))
		return pq_fail(w, KL_ENOMEM, "parquet: out of memory");
	return pq_compress(w, c, p->data, p->len, body, blen);
}

int pq_flush_page(struct kl_pq_writer *w, struct pq_col *c, int last)
{
	if (!c->page_rows)
		return KL_OK;
	int jrc = c->dict_judged ? KL_OK : pq_dict_judge(w, c);
	if (jrc)
		return jrc;
	/* the chunk's only page: once encoded, if it is small and so is the
	 * dictionary, the chunk goes without the codec (pq_build_dict_page too) */
	int may_raw = last && c->n_pages == 0 && w->o.codec != KL_PQ_UNCOMPRESSED &&
		      (!c->dict_on || c->dict.vals.len <= PQ_RAW_CHUNK_BYTES);
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
	int rc = KL_OK, enc = dict ? PQ_ENC_RLE_DICTIONARY : PQ_ENC_PLAIN;
	const void *body = NULL;
	size_t blen = 0;
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
	} else if (c->page_vals == 0) {
		enc = PQ_ENC_PLAIN; /* nothing to encode */
	} else if (c->type == KL_PQ_STRING) {
		enc = dba_pays(c) ? PQ_ENC_DELTA_BYTE_ARRAY : PQ_ENC_DELTA_LENGTH_BYTE_ARRAY;
		rc = encode_values(w, p, c, enc);
	} else {
		/* Numbers: two candidates, both encoded and compressed, the
		 * smaller kept (the second on a tie), unless the first's length
		 * alone tells (clear_winner). INT64: DELTA_BINARY_PACKED wins on
		 * sorted or slowly moving values (timestamps, counters), PLAIN on
		 * unordered ones (ids, amounts: a delta of two random values
		 * needs a bit more than either, and a miniblock takes the width of
		 * its widest delta). DOUBLE: BYTE_STREAM_SPLIT or PLAIN, which
		 * keeps whole values together: short decimals (k / 100) share bit
		 * patterns that the codec finds as matches. */
		int first = c->type == KL_PQ_INT64 ? PQ_ENC_DELTA_BINARY_PACKED
						   : PQ_ENC_BYTE_STREAM_SPLIT;
		int second = PQ_ENC_PLAIN;
		size_t lv = p->len;
		rc = encode_values(w, p, c, first);
		c->raw = may_raw && p->len <= PQ_RAW_CHUNK_BYTES; /* then lengths compare */
		int clear = rc ? -1 : clear_winner(w, c, p->len - lv);
		if (clear == first) {
			enc = first; /* compressed once, below */
		} else if (clear == second) {
			p->len = lv;
			enc = second;
			rc = encode_values(w, p, c, second);
		} else if (!rc &&
			   (rc = smaller_of_two(w, p, c, lv, first, second, &enc, &body, &blen))) {
			return rc;
		}
	}
	if (rc)
		return pq_fail(w, KL_ENOMEM, "parquet: out of memory");
	if (p->len > INT32_MAX)
		return pq_fail(w, KL_ELIMIT, "parquet: data page of %zu bytes exceeds 2 GiB", p->len);
	if (may_raw && !body && p->len <= PQ_RAW_CHUNK_BYTES)
		c->raw = 1;

	if (!body && (rc = pq_compress(w, c, p->data, p->len, &body, &blen)))
		return rc;
	if (blen > INT32_MAX)
		return pq_fail(w, KL_ELIMIT, "parquet: compressed page exceeds 2 GiB");
	kl_buf_reset(&w->hdr);
	if (pq_page_header(&w->hdr, PQ_PAGE_DATA, p->len, blen, c->page_rows, enc))
		return pq_fail(w, KL_ENOMEM, "parquet: out of memory");
	if (kl_buf_reserve(&c->pages, w->hdr.len + blen))
		return pq_fail(w, KL_ENOMEM, "parquet: out of memory");
	kl_buf_put(&c->pages, w->hdr.data, w->hdr.len);
	kl_buf_put(&c->pages, body, blen);

	c->n_pages++;
	c->enc_mask |= PQ_EM_RLE | (enc == PQ_ENC_RLE_DICTIONARY		? PQ_EM_DICT
				    : enc == PQ_ENC_DELTA_BINARY_PACKED	? PQ_EM_DELTA
				    : enc == PQ_ENC_DELTA_LENGTH_BYTE_ARRAY ? PQ_EM_DLBA
				    : enc == PQ_ENC_BYTE_STREAM_SPLIT	? PQ_EM_BSS
				    : enc == PQ_ENC_DELTA_BYTE_ARRAY	? PQ_EM_DBA
									: PQ_EM_PLAIN);
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
	int rc = pq_compress(w, c, v->data, v->len, body, body_len);
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
