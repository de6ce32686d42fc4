/*
 * fuzz_parquet.c — libFuzzer target for src/encode/parquet.
 *
 * The input bytes pick a schema (1-8 columns of random types), writer options
 * (codec, tiny page/row-group/dictionary limits so every path is hit) and
 * rows (nulls, omitted columns, raw int64/double bit patterns including NaN
 * and infinities, arbitrary byte strings). The file is written to memory
 * twice, through a fresh writer and through a reset one, and checked:
 *   - both images are identical (determinism, reset reuse);
 *   - "PAR1" at both ends, the footer length fits the file;
 *   - the footer is well-formed Thrift compact (parsed by the independent
 *     skipper below, consuming exactly the footer), with num_rows and the
 *     row group count as written;
 *   - each column chunk is a sequence of well-formed PageHeaders whose
 *     compressed bodies decompress (with the chunk's codec: the writer's, or
 *     none for a chunk of one small page) to uncompressed_page_size and whose
 *     sizes add up to the chunk's total_compressed_size, dictionary page first.
 * Any violation aborts.
 */
#include "core/buf.h"
#include "core/err.h"
#include "encode/parquet/parquet.h"
#include "fuzz_common.h"

#include <snappy-c.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>


/* ---- input ----------------------------------------------------------- */

struct in {
	const uint8_t *p;
	size_t n;
};

static uint8_t u8(struct in *in)
{
	if (!in->n)
		return 0;
	in->n--;
	return *in->p++;
}

static uint64_t u64(struct in *in)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v |= (uint64_t)u8(in) << (8 * i);
	return v;
}

/* ---- minimal Thrift compact reader ------------------------------------ */

struct rd {
	const uint8_t *p, *end;
	int bad;
};

static uint8_t rbyte(struct rd *r)
{
	if (r->p >= r->end) {
		r->bad = 1;
		return 0;
	}
	return *r->p++;
}

static uint64_t rvarint(struct rd *r)
{
	uint64_t v = 0;
	for (int s = 0; s < 70; s += 7) {
		uint8_t b = rbyte(r);
		if (r->bad)
			return 0;
		v |= (uint64_t)(b & 0x7F) << s;
		if (!(b & 0x80))
			return v;
	}
	r->bad = 1;
	return 0;
}

static int64_t rzigzag(struct rd *r)
{
	uint64_t v = rvarint(r);
	return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

static void skip(struct rd *r, int type, int depth, int in_list);

static void skip_struct(struct rd *r, int depth)
{
	int16_t last = 0;
	while (!r->bad) {
		uint8_t h = rbyte(r);
		if (h == 0)
			return;
		int type = h & 0x0F, delta = h >> 4;
		int16_t id = delta ? (int16_t)(last + delta) : (int16_t)rzigzag(r);
		if (id <= last) /* the writer promises increasing field ids */
			r->bad = 1;
		last = id;
		skip(r, type, depth + 1, 0);
	}
}

static void skip(struct rd *r, int type, int depth, int in_list)
{
	if (depth > 32) {
		r->bad = 1;
		return;
	}
	switch (type) {
	case 1:
	case 2:
		if (in_list)
			rbyte(r);
		return;
	case 3: rbyte(r); return;
	case 4:
	case 5:
	case 6: rvarint(r); return;
	case 7:
		if (r->end - r->p < 8)
			r->bad = 1;
		else
			r->p += 8;
		return;
	case 8: {
		uint64_t n = rvarint(r);
		if (n > (uint64_t)(r->end - r->p))
			r->bad = 1;
		else
			r->p += n;
		return;
	}
	case 9:
	case 10: {
		uint8_t h = rbyte(r);
		uint64_t n = h >> 4;
		if (n == 15)
			n = rvarint(r);
		for (uint64_t i = 0; i < n && !r->bad; i++)
			skip(r, h & 0x0F, depth + 1, 1);
		return;
	}
	case 12: skip_struct(r, depth); return;
	default: r->bad = 1; return; /* maps are never written */
	}
}

/* Top-level FileMetaData: returns num_rows (field 3) and the row group list
 * size (field 4); the whole struct must be consumed. */
static void parse_footer(const uint8_t *p, size_t n, int64_t *num_rows, int64_t *nrg)
{
	struct rd r = {p, p + n, 0};
	int16_t last = 0;
	*num_rows = *nrg = -1;
	for (;;) {
		uint8_t h = rbyte(&r);
		REQUIRE(!r.bad);
		if (h == 0)
			break;
		int type = h & 0x0F, delta = h >> 4;
		int16_t id = delta ? (int16_t)(last + delta) : (int16_t)rzigzag(&r);
		REQUIRE(id > last);
		last = id;
		if (id == 3 && type == 6) {
			*num_rows = rzigzag(&r);
		} else if (id == 4 && type == 9) {
			uint8_t lh = rbyte(&r);
			uint64_t cnt = lh >> 4;
			if (cnt == 15)
				cnt = rvarint(&r);
			REQUIRE((lh & 0x0F) == 12);
			*nrg = (int64_t)cnt;
			for (uint64_t i = 0; i < cnt && !r.bad; i++)
				skip_struct(&r, 1);
		} else {
			skip(&r, type, 0, 0);
		}
		REQUIRE(!r.bad);
	}
	REQUIRE(r.p == r.end); /* footer length is exact */
}

/* PageHeader: type (1), uncompressed (2), compressed (3); rest skipped. */
static void parse_page_header(struct rd *r, int32_t *type, int32_t *uncomp, int32_t *comp)
{
	int16_t last = 0;
	*type = *uncomp = *comp = -1;
	for (;;) {
		uint8_t h = rbyte(r);
		REQUIRE(!r->bad);
		if (h == 0)
			return;
		int t = h & 0x0F, delta = h >> 4;
		int16_t id = delta ? (int16_t)(last + delta) : (int16_t)rzigzag(r);
		REQUIRE(id > last);
		last = id;
		if (id >= 1 && id <= 3 && t == 5) {
			int32_t v = (int32_t)rzigzag(r);
			if (id == 1)
				*type = v;
			else if (id == 2)
				*uncomp = v;
			else
				*comp = v;
		} else {
			skip(r, t, 0, 0);
		}
		REQUIRE(!r->bad);
	}
}

static uint8_t scratch[1 << 22];

static void check_page_body(enum kl_pq_codec codec, const uint8_t *p, size_t n, size_t uncomp,
			    int is_data)
{
	const uint8_t *u = p;
	size_t un = n;
	REQUIRE(uncomp <= sizeof scratch);
	switch (codec) {
	case KL_PQ_UNCOMPRESSED: break;
	case KL_PQ_ZSTD: {
		size_t r = ZSTD_decompress(scratch, sizeof scratch, p, n);
		REQUIRE(!ZSTD_isError(r));
		u = scratch;
		un = r;
		break;
	}
	case KL_PQ_SNAPPY: {
		size_t r = sizeof scratch;
		REQUIRE(snappy_uncompress((const char *)p, n, (char *)scratch, &r) == SNAPPY_OK);
		u = scratch;
		un = r;
		break;
	}
	case KL_PQ_GZIP: {
		z_stream z;
		memset(&z, 0, sizeof z);
		REQUIRE(inflateInit2(&z, 15 + 16) == Z_OK);
		z.next_in = (Bytef *)(uintptr_t)p;
		z.avail_in = (uInt)n;
		z.next_out = scratch;
		z.avail_out = sizeof scratch;
		int zr = inflate(&z, Z_FINISH);
		un = sizeof scratch - z.avail_out;
		inflateEnd(&z);
		REQUIRE(zr == Z_STREAM_END);
		u = scratch;
		break;
	}
	}
	REQUIRE(un == uncomp);
	if (is_data) { /* v1: u32 definition-level length, then the levels */
		REQUIRE(un >= 4);
		uint32_t dl = (uint32_t)u[0] | (uint32_t)u[1] << 8 | (uint32_t)u[2] << 16 |
			      (uint32_t)u[3] << 24;
		REQUIRE(dl >= 1 && dl <= un - 4);
	}
}

static void check_chunk(const struct kl_buf *f, enum kl_pq_codec codec,
			const struct kl_pq_chunk_info *ci)
{
	int64_t start = ci->dict_page_offset >= 0 ? ci->dict_page_offset : ci->data_page_offset;
	REQUIRE(start >= 4 && ci->total_compressed > 0);
	REQUIRE(start + ci->total_compressed <= (int64_t)f->len - 8);
	struct rd r = {(const uint8_t *)f->data + start,
		       (const uint8_t *)f->data + start + ci->total_compressed, 0};
	uint32_t pages = 0, dict_pages = 0;
	int64_t uncomp_total = 0;
	while (r.p < r.end) {
		const uint8_t *h0 = r.p;
		int32_t type, uncomp, comp;
		parse_page_header(&r, &type, &uncomp, &comp);
		REQUIRE(comp >= 0 && uncomp >= 0 && comp <= r.end - r.p);
		if (type == 2) {
			REQUIRE(pages == 0 && dict_pages == 0); /* dictionary page first */
			REQUIRE(h0 - (const uint8_t *)f->data == ci->dict_page_offset);
			dict_pages++;
		} else {
			REQUIRE(type == 0);
			if (pages == 0)
				REQUIRE(h0 - (const uint8_t *)f->data == ci->data_page_offset);
			pages++;
		}
		check_page_body(codec, r.p, (size_t)comp, (size_t)uncomp, type == 0);
		uncomp_total += (r.p - h0) + uncomp;
		r.p += comp;
	}
	REQUIRE(r.p == r.end);
	REQUIRE(pages == ci->data_pages);
	REQUIRE(dict_pages == (ci->dict_page_offset >= 0));
	REQUIRE(uncomp_total == ci->total_uncompressed);
}

/* ---- driver ------------------------------------------------------------ */

static int sink(void *ctx, const void *p, size_t n)
{
	return kl_buf_append(ctx, p, n);
}

struct plan {
	struct kl_pq_column cols[8];
	char names[8][8];
	size_t ncols;
	struct kl_pq_opts o;
	struct in rows; /* the rest of the input */
};

/* What write_rows() puts per column, for kl_pq_writer_hint(). */
struct tally {
	uint64_t vals[8], plain[8];
};

/* Write all rows; returns the writer's rc. With w NULL, only count into t
 * what would be put (and *nrows). */
static int write_rows(struct kl_pq_writer *w, const struct plan *pl, uint64_t *nrows,
		      struct tally *t)
{
	struct in in = pl->rows;
	int rc = KL_OK;
	*nrows = 0;
	while (in.n && *nrows < 20000) {
		for (size_t c = 0; c < pl->ncols && !rc; c++) {
			uint8_t op = u8(&in);
			if (op % 8 == 0)
				continue; /* omitted: null */
			if (op % 8 == 1) {
				rc = w ? kl_pq_put_null(w, c) : KL_OK;
				continue;
			}
			switch (pl->cols[c].type) {
			case KL_PQ_BOOLEAN:
				rc = w ? kl_pq_put_bool(w, c, op & 16) : KL_OK;
				break;
			case KL_PQ_INT64: {
				/* small values repeat (dictionary hits), else raw bits */
				int64_t v = op & 16 ? (int64_t)(op >> 5) : (int64_t)u64(&in);
				rc = w ? kl_pq_put_i64(w, c, v) : KL_OK;
				if (!w)
					t->vals[c]++, t->plain[c] += 8;
				break;
			}
			case KL_PQ_DOUBLE: {
				uint64_t bits = op & 16 ? (uint64_t)(op >> 5) << 52 : u64(&in);
				double d;
				memcpy(&d, &bits, 8);
				rc = w ? kl_pq_put_double(w, c, d) : KL_OK;
				if (!w)
					t->vals[c]++, t->plain[c] += 8;
				break;
			}
			case KL_PQ_STRING: {
				size_t n = op & 16 ? (size_t)(op >> 5) : u8(&in) % 64;
				if (n > in.n)
					n = in.n;
				rc = w ? kl_pq_put_string(w, c, (const char *)in.p, n) : KL_OK;
				if (!w)
					t->vals[c]++, t->plain[c] += 4 + n;
				in.p += n;
				in.n -= n;
				break;
			}
			}
		}
		if (rc)
			return rc;
		if (w && (rc = kl_pq_end_row(w)))
			return rc;
		(*nrows)++;
	}
	return w ? kl_pq_writer_finish(w) : KL_OK;
}

static void check_file(const struct kl_buf *f, struct kl_pq_writer *w, const struct plan *pl,
		       uint64_t nrows)
{
	REQUIRE(f->len >= 12);
	REQUIRE(memcmp(f->data, "PAR1", 4) == 0);
	REQUIRE(memcmp(f->data + f->len - 4, "PAR1", 4) == 0);
	const uint8_t *t = (const uint8_t *)f->data + f->len - 8;
	uint32_t flen = (uint32_t)t[0] | (uint32_t)t[1] << 8 | (uint32_t)t[2] << 16 |
			(uint32_t)t[3] << 24;
	REQUIRE((size_t)flen + 12 <= f->len);
	int64_t num_rows, nrg;
	parse_footer(t - flen, flen, &num_rows, &nrg);
	REQUIRE(num_rows == (int64_t)nrows);
	REQUIRE(nrg == (int64_t)kl_pq_writer_row_groups(w));
	int64_t prev_end = 4;
	for (size_t g = 0; g < (size_t)nrg; g++) {
		int64_t rows = -1;
		for (size_t c = 0; c < pl->ncols; c++) {
			struct kl_pq_chunk_info ci;
			REQUIRE(kl_pq_writer_chunk_info(w, g, c, &ci) == KL_OK);
			int64_t start = ci.dict_page_offset >= 0 ? ci.dict_page_offset
								 : ci.data_page_offset;
			REQUIRE(start == prev_end); /* chunks are contiguous */
			prev_end = start + ci.total_compressed;
			REQUIRE(rows < 0 || rows == ci.num_values);
			rows = ci.num_values;
			REQUIRE(ci.null_count <= ci.num_values);
			/* the writer's codec, or none for a chunk of one small page */
			REQUIRE(ci.codec == pl->o.codec ||
				(ci.codec == KL_PQ_UNCOMPRESSED && ci.data_pages == 1));
			check_chunk(f, ci.codec, &ci);
		}
	}
	REQUIRE((size_t)prev_end == f->len - 8 - flen);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct in in = {data, size};
	struct plan pl;
	memset(&pl, 0, sizeof pl);
	pl.ncols = 1 + u8(&in) % 8;
	for (size_t c = 0; c < pl.ncols; c++) {
		snprintf(pl.names[c], sizeof pl.names[c], "c%u", (unsigned)c);
		pl.cols[c].name = pl.names[c];
		pl.cols[c].type = (enum kl_pq_type)(u8(&in) % 4);
	}
	kl_pq_opts_default(&pl.o);
	pl.o.codec = (enum kl_pq_codec)(u8(&in) % 4);
	pl.o.level = pl.o.codec == KL_PQ_GZIP ? 1 + u8(&in) % 9 : 0;
	pl.o.page_bytes = 16 + (size_t)u8(&in) * 64;
	pl.o.row_group_bytes = 64 + (size_t)u8(&in) * 512;
	pl.o.dict_max_bytes = 1 + (size_t)u8(&in) * 32;
	pl.rows = in;

	struct kl_buf a, b;
	kl_buf_init(&a, 0);
	kl_buf_init(&b, 0);
	struct kl_errbuf eb;
	kl_errbuf_clear(&eb);
	struct kl_pq_writer *w;
	REQUIRE(kl_pq_writer_new(&w, pl.cols, pl.ncols, &pl.o, sink, &a, &eb) == KL_OK);
	uint64_t nrows;
	int rc = write_rows(w, &pl, &nrows, NULL);
	if (rc)
		fprintf(stderr, "writer failed: %s: %s\n", kl_strerror(rc), eb.msg);
	REQUIRE(rc == KL_OK);
	check_file(&a, w, &pl, nrows);

	/* Reset onto another schema, abandon it half-way, reset again: the
	 * second image must equal the first. */
	struct kl_pq_column other[2] = {{"x", KL_PQ_STRING}, {"y", KL_PQ_INT64}};
	REQUIRE(kl_pq_writer_reset(w, other, 2, sink, &b) == KL_OK);
	kl_pq_put_string(w, 0, "abc", 3);
	kl_pq_end_row(w);
	kl_buf_reset(&b);
	REQUIRE(kl_pq_writer_reset(w, pl.cols, pl.ncols, sink, &b) == KL_OK);
	uint64_t nrows2;
	REQUIRE(write_rows(w, &pl, &nrows2, NULL) == KL_OK);
	REQUIRE(nrows2 == nrows);
	REQUIRE(a.len == b.len && memcmp(a.data, b.data, a.len) == 0);

	/* With every column's values, PLAIN bytes and rows promised (exactly,
	 * or with slack taken from the first input byte): the same image. */
	struct tally t;
	memset(&t, 0, sizeof t);
	REQUIRE(write_rows(NULL, &pl, &nrows2, &t) == KL_OK);
	kl_buf_reset(&b);
	REQUIRE(kl_pq_writer_reset(w, pl.cols, pl.ncols, sink, &b) == KL_OK);
	uint64_t slack = size ? data[0] % 4 : 0;
	for (size_t c = 0; c < pl.ncols; c++)
		if (pl.cols[c].type != KL_PQ_BOOLEAN)
			REQUIRE(kl_pq_writer_hint(w, c, t.vals[c] + slack, t.plain[c] + slack * 16,
						  nrows2 + slack) == KL_OK);
	REQUIRE(write_rows(w, &pl, &nrows2, NULL) == KL_OK);
	REQUIRE(nrows2 == nrows);
	REQUIRE(a.len == b.len && memcmp(a.data, b.data, a.len) == 0);

	kl_pq_writer_free(w);
	kl_buf_cleanup(&a);
	kl_buf_cleanup(&b);
	return 0;
}
