/*
 * test_parquet.c — unit tests of src/encode/parquet (Thrift compact encoder,
 * DELTA_BINARY_PACKED against an independent decoder, Parquet writer), and
 * the producer of sample files for the reader cross-check (tests/e2e/parquet_readers.sh, tests/js/check_parquet.mjs).
 *
 *   test_parquet                 run the unit tests; sample files go to
 *                                $KL_PQ_OUT (kept), or else to a fresh dir
 *                                under $TMPDIR, removed when every check
 *                                passed and kept (its path printed) when not
 *   test_parquet --random DIR N  write N random files (+ expected JSON) to DIR
 *
 * Each NAME.parquet comes with NAME.json:
 *   {"columns":[{"name":..,"type":"bool|int64|double|string"}],"rows":[[..],..]}
 * int64 values are JSON strings, doubles are strings ("%.17g", "-0" for -0.0).
 */
#include "check.h"
#include "buffer/blocks.h"
#include "core/buf.h"
#include "core/err.h"
#include "encode/encoder.h"
#include "encode/parquet/parquet.h"
#include "encode/parquet/pq_internal.h"
#include "encode/parquet/schema.h"
#include "encode/parquet/thrift.h"

#include <errno.h>
#include <ftw.h>
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int buf_sink(void *ctx, const void *p, size_t n)
{
	return kl_buf_append(ctx, p, n);
}

static uint32_t rd32(const void *p)
{
	const uint8_t *b = p;
	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

/* ---- thrift primitives ------------------------------------------------ */

#define CHECK_BYTES(b, ...)                                                                        \
	do {                                                                                       \
		const uint8_t exp_[] = {__VA_ARGS__};                                              \
		CHECK_EQ_INT((b)->len, sizeof exp_);                                               \
		CHECK((b)->len == sizeof exp_ && memcmp((b)->data, exp_, sizeof exp_) == 0);       \
	} while (0)

static void test_thrift(void)
{
	struct kl_buf b;
	kl_buf_init(&b, 0);
	struct kl_thrift_w t;

	kl_thrift_put_varint(&b, 50399); /* the spec's example */
	CHECK_BYTES(&b, 0xDF, 0x89, 0x03);
	kl_buf_reset(&b);
	kl_thrift_put_varint(&b, 0);
	kl_thrift_put_varint(&b, 127);
	kl_thrift_put_varint(&b, 128);
	CHECK_BYTES(&b, 0x00, 0x7F, 0x80, 0x01);
	kl_buf_reset(&b);
	kl_thrift_put_varint(&b, UINT64_MAX);
	CHECK_EQ_INT(b.len, 10);
	CHECK_EQ_INT((uint8_t)b.data[9], 0x01);

	CHECK(kl_thrift_zigzag64(0) == 0);
	CHECK(kl_thrift_zigzag64(-1) == 1);
	CHECK(kl_thrift_zigzag64(1) == 2);
	CHECK(kl_thrift_zigzag64(-2) == 3);
	CHECK(kl_thrift_zigzag64(INT64_MAX) == UINT64_MAX - 1);
	CHECK(kl_thrift_zigzag64(INT64_MIN) == UINT64_MAX);
	CHECK(kl_thrift_zigzag32(INT32_MIN) == UINT32_MAX);

	/* Short-form deltas, long form for a delta > 15, nested struct restarts. */
	kl_buf_reset(&b);
	kl_thrift_w_init(&t, &b);
	kl_thrift_field_i32(&t, 1, 1);     /* 0x15 0x02 */
	kl_thrift_field_i64(&t, 16, -1);   /* delta 15: 0xF6 0x01 */
	kl_thrift_field_i32(&t, 40, 3);    /* delta 24: long form 0x05, zigzag(40)=80, 6 */
	kl_thrift_field_struct(&t, 41);    /* 0x1C */
	kl_thrift_field_bool(&t, 1, 1);    /* 0x11 */
	kl_thrift_field_bool(&t, 2, 0);    /* 0x12 */
	kl_thrift_struct_end(&t);          /* 0x00 */
	kl_thrift_field_binary(&t, 42, "ab", 2); /* 0x18 0x02 'a' 'b' */
	kl_thrift_field_list(&t, 43, KL_THRIFT_I32, 2); /* 0x19 0x25 */
	kl_thrift_i32(&t, -1);
	kl_thrift_i32(&t, 64);             /* 0x01, zigzag 128 = 0x80 0x01 */
	kl_thrift_field_double(&t, 44, 1.0);
	kl_thrift_struct_end(&t);
	CHECK_EQ_INT(t.err, KL_OK);
	CHECK_BYTES(&b, 0x15, 0x02, 0xF6, 0x01, 0x05, 0x50, 0x06, 0x1C, 0x11, 0x12, 0x00, 0x18,
		    0x02, 'a', 'b', 0x19, 0x25, 0x01, 0x80, 0x01, 0x17, 0, 0, 0, 0, 0, 0, 0xF0,
		    0x3F, 0x00);

	/* List of 15+ elements uses the long header; struct lists. */
	kl_buf_reset(&b);
	kl_thrift_w_init(&t, &b);
	kl_thrift_list(&t, KL_THRIFT_STRUCT, 20);
	CHECK_BYTES(&b, 0xFC, 0x14);

	/* A field id that does not increase is an error, and errors stick. */
	kl_buf_reset(&b);
	kl_thrift_w_init(&t, &b);
	kl_thrift_field_i32(&t, 5, 0);
	CHECK_EQ_INT(kl_thrift_field_i32(&t, 5, 0), KL_EINVAL);
	CHECK_EQ_INT(kl_thrift_field_i32(&t, 6, 0), KL_EINVAL);
	CHECK_EQ_INT(t.err, KL_EINVAL);

	/* Nesting limit. */
	kl_buf_reset(&b);
	kl_thrift_w_init(&t, &b);
	for (int i = 0; i < KL_THRIFT_MAX_DEPTH; i++)
		CHECK_EQ_INT(kl_thrift_field_struct(&t, 1), KL_OK);
	CHECK_EQ_INT(kl_thrift_field_struct(&t, 1), KL_ELIMIT);

	/* A buffer that cannot grow reports KL_ENOMEM. */
	struct kl_buf small;
	kl_buf_init(&small, 2);
	kl_thrift_w_init(&t, &small);
	kl_thrift_field_binary(&t, 1, "abcdef", 6);
	CHECK_EQ_INT(t.err, KL_ENOMEM);
	kl_buf_cleanup(&small);

	/* RLE/bit-packed hybrid: a run of 10 ones; then 3 bit-packed values. */
	uint8_t ones[10];
	memset(ones, 1, sizeof ones);
	kl_buf_reset(&b);
	pq_rle_hybrid(&b, ones, 10, 0, 1);
	CHECK_BYTES(&b, 0x14, 0x01);
	uint8_t v3[3] = {1, 0, 1};
	kl_buf_reset(&b);
	pq_rle_hybrid(&b, v3, 3, 0, 1);
	CHECK_BYTES(&b, 0x03, 0x05);
	uint32_t idx[9] = {1, 2, 3, 4, 5, 6, 7, 0, 3};
	kl_buf_reset(&b);
	pq_rle_hybrid(&b, idx, 9, 1, 3); /* 2 groups, 3 bits each */
	CHECK_EQ_INT(b.len, 1 + 6);
	CHECK_EQ_INT((uint8_t)b.data[0], 0x05);
	CHECK_EQ_INT((uint8_t)b.data[1], 0xD1); /* 001 010 01|1 ... LSB first */

	kl_buf_cleanup(&b);
}

/* ---- datasets: rows in memory, written as Parquet and as JSON ---------- */

struct val {
	int set;
	int b;
	int64_t i;
	double d;
	size_t soff, slen; /* in ds.arena */
};

struct ds {
	size_t ncols, nrows;
	struct kl_pq_column cols[8];
	char names[8][40];
	struct val *v; /* nrows * ncols */
	struct kl_buf arena;
};

static void ds_init(struct ds *d, size_t ncols, const enum kl_pq_type *types, size_t nrows)
{
	memset(d, 0, sizeof *d);
	d->ncols = ncols;
	d->nrows = nrows;
	for (size_t c = 0; c < ncols; c++) {
		snprintf(d->names[c], sizeof d->names[c], "c%zu_%s", c,
			 types[c] == KL_PQ_BOOLEAN ? "bool"
			 : types[c] == KL_PQ_INT64 ? "int64"
			 : types[c] == KL_PQ_DOUBLE ? "double"
						    : "string");
		d->cols[c].name = d->names[c];
		d->cols[c].type = types[c];
	}
	d->v = calloc(nrows * ncols + 1, sizeof *d->v);
	kl_buf_init(&d->arena, 0);
}

static void ds_free(struct ds *d)
{
	free(d->v);
	kl_buf_cleanup(&d->arena);
}

static struct val *ds_at(struct ds *d, size_t r, size_t c)
{
	return &d->v[r * d->ncols + c];
}

static void ds_str(struct ds *d, size_t r, size_t c, const char *s, size_t n)
{
	struct val *v = ds_at(d, r, c);
	v->set = 1;
	v->soff = d->arena.len;
	v->slen = n;
	kl_buf_append(&d->arena, s, n);
}

/* Write the dataset; nulls alternate between explicit put_null and omission,
 * and the put order rotates with the row. Returns the writer's rc. */
static int ds_write(struct ds *d, struct kl_pq_writer *w)
{
	int rc = KL_OK;
	for (size_t r = 0; r < d->nrows && !rc; r++) {
		for (size_t k = 0; k < d->ncols && !rc; k++) {
			size_t c = (k + r) % d->ncols;
			struct val *v = ds_at(d, r, c);
			if (!v->set) {
				if (r % 2)
					rc = kl_pq_put_null(w, c);
				continue;
			}
			switch (d->cols[c].type) {
			case KL_PQ_BOOLEAN: rc = kl_pq_put_bool(w, c, v->b); break;
			case KL_PQ_INT64: rc = kl_pq_put_i64(w, c, v->i); break;
			case KL_PQ_DOUBLE: rc = kl_pq_put_double(w, c, v->d); break;
			case KL_PQ_STRING:
				rc = kl_pq_put_string(w, c, d->arena.data + v->soff, v->slen);
				break;
			}
		}
		if (!rc)
			rc = kl_pq_end_row(w);
	}
	return rc ? rc : kl_pq_writer_finish(w);
}

static int ds_to_parquet(struct ds *d, const struct kl_pq_opts *o, struct kl_buf *out)
{
	struct kl_errbuf eb;
	kl_errbuf_clear(&eb);
	struct kl_pq_writer *w;
	kl_buf_reset(out);
	int rc = kl_pq_writer_new(&w, d->cols, d->ncols, o, buf_sink, out, &eb);
	if (!rc)
		rc = ds_write(d, w);
	if (rc)
		fprintf(stderr, "parquet write failed: %s: %s\n", kl_strerror(rc), eb.msg);
	kl_pq_writer_free(w);
	return rc;
}

static void json_str(FILE *f, const char *s, size_t n)
{
	fputc('"', f);
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (ch == '"' || ch == '\\')
			fprintf(f, "\\%c", ch);
		else if (ch < 0x20)
			fprintf(f, "\\u%04x", ch);
		else
			fputc(ch, f);
	}
	fputc('"', f);
}

static int ds_to_json(struct ds *d, const char *path)
{
	FILE *f = fopen(path, "w");
	if (!f)
		return -1;
	fputs("{\"columns\":[", f);
	for (size_t c = 0; c < d->ncols; c++) {
		enum kl_pq_type t = d->cols[c].type;
		fprintf(f, "%s{\"name\":\"%s\",\"type\":\"%s\"}", c ? "," : "", d->cols[c].name,
			t == KL_PQ_BOOLEAN ? "bool"
			: t == KL_PQ_INT64 ? "int64"
			: t == KL_PQ_DOUBLE ? "double"
					    : "string");
	}
	fputs("],\"rows\":[\n", f);
	for (size_t r = 0; r < d->nrows; r++) {
		fputs(r ? ",[" : "[", f);
		for (size_t c = 0; c < d->ncols; c++) {
			struct val *v = ds_at(d, r, c);
			if (c)
				fputc(',', f);
			if (!v->set) {
				fputs("null", f);
				continue;
			}
			switch (d->cols[c].type) {
			case KL_PQ_BOOLEAN: fputs(v->b ? "true" : "false", f); break;
			case KL_PQ_INT64: fprintf(f, "\"%" PRId64 "\"", v->i); break;
			case KL_PQ_DOUBLE:
				if (v->d == 0 && signbit(v->d))
					fputs("\"-0\"", f);
				else
					fprintf(f, "\"%.17g\"", v->d);
				break;
			case KL_PQ_STRING: json_str(f, d->arena.data + v->soff, v->slen); break;
			}
		}
		fputs("]\n", f);
	}
	fputs("]}\n", f);
	return fclose(f) ? -1 : 0;
}

static int write_file(const char *path, const void *p, size_t n)
{
	FILE *f = fopen(path, "wb");
	if (!f)
		return -1;
	size_t w = fwrite(p, 1, n, f);
	return (fclose(f) || w != n) ? -1 : 0;
}

static int save(const char *dir, const char *name, struct ds *d, const struct kl_buf *pq)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/%s.parquet", dir, name);
	if (write_file(path, pq->data, pq->len))
		return -1;
	snprintf(path, sizeof path, "%s/%s.json", dir, name);
	return ds_to_json(d, path);
}

/* splitmix64: a deterministic PRNG for test data. */
static uint64_t rnd(uint64_t *s)
{
	uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

static const char *const STRS[] = {
	"", "a", "hello", "héllo wörld", "日本語テキスト", "emoji 😀🎉", "tab\there",
	"quote\"back\\slash", "line\nbreak", "zzz", "\x7f", "Ω≈ç√∫",
};
static const int64_t INTS[] = {0, 1, -1, INT64_MAX, INT64_MIN, INT64_MAX - 1, INT64_MIN + 1,
			       9007199254740993LL, -9007199254740993LL, 42};
static const double DBLS[] = {0.0, -0.0, 1e308, -1e308, 5e-324, -5e-324, 0.1, -2.5,
			      1.7976931348623157e308, 2.2250738585072014e-308, 3.141592653589793};

/* Fill a random value of column c from a mix of edge cases and noise;
 * `card` bounds the number of distinct noise values (dictionary pressure). */
static void fill_random(struct ds *d, size_t r, size_t c, uint64_t *s, int null_pct, uint64_t card)
{
	if ((int)(rnd(s) % 100) < null_pct)
		return;
	struct val *v = ds_at(d, r, c);
	uint64_t x = rnd(s);
	int edge = x % 4 == 0;
	x = rnd(s);
	switch (d->cols[c].type) {
	case KL_PQ_BOOLEAN:
		v->set = 1;
		v->b = (int)(x & 1);
		break;
	case KL_PQ_INT64:
		v->set = 1;
		v->i = edge ? INTS[x % (sizeof INTS / sizeof *INTS)] : (int64_t)(x % card) - (int64_t)(card / 2);
		break;
	case KL_PQ_DOUBLE:
		v->set = 1;
		v->d = edge ? DBLS[x % (sizeof DBLS / sizeof *DBLS)]
			    : (double)(int64_t)(x % card) / 7.0;
		break;
	case KL_PQ_STRING:
		if (edge) {
			const char *t = STRS[x % (sizeof STRS / sizeof *STRS)];
			ds_str(d, r, c, t, strlen(t));
		} else {
			char tmp[96];
			int n = snprintf(tmp, sizeof tmp, "value-%" PRIu64 "-ü", x % card);
			size_t pad = (size_t)(rnd(s) % 40);
			for (size_t i = 0; i < pad && (size_t)n < sizeof tmp - 1; i++)
				tmp[n++] = (char)('a' + (x >> (i % 60)) % 26);
			ds_str(d, r, c, tmp, (size_t)n);
		}
		break;
	}
}

/* ---- DELTA_BINARY_PACKED ------------------------------------------------ */

/* An independent reader of the encoding (parquet-format Encodings.md), bit
 * by bit: returns the bytes read, or 0 on a malformed or over-long input. */
static uint64_t t_uleb(const uint8_t **p, const uint8_t *end, int *bad)
{
	uint64_t v = 0;
	for (int sh = 0; sh < 70; sh += 7) {
		if (*p >= end) {
			*bad = 1;
			return 0;
		}
		uint8_t b = *(*p)++;
		v |= (uint64_t)(b & 0x7f) << sh;
		if (!(b & 0x80))
			return v;
	}
	*bad = 1;
	return 0;
}

static int64_t t_unzig(uint64_t u)
{
	return (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
}

static size_t t_delta_decode(const uint8_t *buf, size_t len, int64_t *out, size_t cap,
			     size_t *count)
{
	const uint8_t *p = buf, *end = buf + len;
	int bad = 0;
	uint64_t block = t_uleb(&p, end, &bad), nmini = t_uleb(&p, end, &bad);
	uint64_t total = t_uleb(&p, end, &bad);
	int64_t first = t_unzig(t_uleb(&p, end, &bad));
	if (bad || !block || block % 128 || !nmini || block % nmini || (block / nmini) % 32 ||
	    total > cap)
		return 0;
	size_t per = (size_t)(block / nmini), i = 0;
	if (total)
		out[i++] = first;
	while (i < total) {
		int64_t min = t_unzig(t_uleb(&p, end, &bad));
		if (bad || (size_t)(end - p) < nmini)
			return 0;
		const uint8_t *widths = p;
		p += nmini;
		for (size_t m = 0; m < nmini && i < total; m++) {
			unsigned w = widths[m];
			if (w > 64 || (size_t)(end - p) < per * w / 8)
				return 0;
			for (size_t j = 0; j < per; j++) {
				uint64_t v = 0;
				for (unsigned b = 0; b < w; b++) {
					size_t bit = j * w + b;
					v |= (uint64_t)((p[bit / 8] >> (bit % 8)) & 1) << b;
				}
				if (i < total) {
					out[i] = (int64_t)((uint64_t)out[i - 1] + (uint64_t)min + v);
					i++;
				}
			}
			p += per * w / 8;
		}
	}
	*count = (size_t)total;
	return (size_t)(p - buf);
}

/* Encode v[0..n), decode it back, compare; returns the encoded size. */
static size_t delta_roundtrip(const int64_t *v, size_t n)
{
	struct kl_buf b;
	kl_buf_init(&b, 0);
	uint8_t *le = malloc(n * 8 + 1);
	for (size_t i = 0; i < n; i++)
		pq_le64(le + i * 8, (uint64_t)v[i]);
	CHECK_EQ_INT(pq_delta_encode(&b, le, n), KL_OK);
	int64_t *got = malloc((n + 1) * sizeof *got);
	size_t count = (size_t)-1;
	size_t used = t_delta_decode((const uint8_t *)b.data, b.len, got, n + 1, &count);
	CHECK_EQ_INT(used, b.len); /* every byte is part of the encoding */
	CHECK_EQ_INT(count, n);
	int same = count == n;
	for (size_t i = 0; same && i < n; i++)
		same = got[i] == v[i];
	CHECK(same);
	size_t len = b.len;
	free(got);
	free(le);
	kl_buf_cleanup(&b);
	return len;
}

static void test_delta(void)
{
	struct kl_buf b;
	kl_buf_init(&b, 0);
	/* no value, one value: the header alone (block 128, 4 miniblocks, count,
	 * zigzag first value) */
	CHECK_EQ_INT(pq_delta_encode(&b, "", 0), KL_OK);
	CHECK_BYTES(&b, 0x80, 0x01, 0x04, 0x00, 0x00);
	kl_buf_reset(&b);
	uint8_t le[16];
	pq_le64(le, (uint64_t)-3);
	CHECK_EQ_INT(pq_delta_encode(&b, le, 1), KL_OK);
	CHECK_BYTES(&b, 0x80, 0x01, 0x04, 0x01, 0x05);
	/* two values: one block, min delta 5 - -3 = 8 (zigzag 16), widths all 0 */
	kl_buf_reset(&b);
	pq_le64(le + 8, 5);
	CHECK_EQ_INT(pq_delta_encode(&b, le, 2), KL_OK);
	CHECK_BYTES(&b, 0x80, 0x01, 0x04, 0x02, 0x05, 0x10, 0, 0, 0, 0);
	kl_buf_cleanup(&b);

	enum { N = 5000 };
	int64_t *v = malloc(N * sizeof *v);
	/* all equal over three blocks: a min delta and four zero widths each */
	for (size_t i = 0; i < 300; i++)
		v[i] = -42;
	CHECK_EQ_INT(delta_roundtrip(v, 300), 6 + 3 * (1 + 4)); /* count 300: 2 bytes */
	/* sizes around the miniblock and block edges */
	uint64_t s = 99;
	const size_t sizes[] = {1, 2, 31, 32, 33, 127, 128, 129, 130, 255, 256, 257, 1000};
	for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
		for (size_t i = 0; i < sizes[k]; i++)
			v[i] = (int64_t)(rnd(&s) % 2001) - 1000; /* negative and positive */
		delta_roundtrip(v, sizes[k]);
	}
	/* INT64_MIN/MAX deltas: wrapping differences need all 64 bits */
	for (size_t i = 0; i < 200; i++)
		v[i] = i % 3 == 0 ? INT64_MIN : i % 3 == 1 ? INT64_MAX : (i % 2 ? -1 : 0);
	delta_roundtrip(v, 200);
	for (size_t i = 0; i < 150; i++)
		v[i] = i % 2 ? INT64_MAX : INT64_MIN;
	delta_roundtrip(v, 150);
	for (size_t i = 0; i < N; i++)
		v[i] = (int64_t)rnd(&s); /* full-range noise */
	delta_roundtrip(v, N);
	/* decreasing values: negative min delta */
	for (size_t i = 0; i < 400; i++)
		v[i] = 1000000 - (int64_t)i * 7 - (int64_t)(rnd(&s) % 3);
	delta_roundtrip(v, 400);
	/* sorted second timestamps pack in a bit each, plus a min delta and four
	 * widths per block of 128 */
	v[0] = 1764547200;
	for (size_t i = 1; i < N; i++)
		v[i] = v[i - 1] + (int64_t)(rnd(&s) % 2);
	size_t ts = delta_roundtrip(v, N);
	/* header 10 bytes; 39 full blocks of 1 + 4 + 4 * 4 bytes; the last of 7
	 * deltas: one miniblock, padded to 32 values */
	CHECK_EQ_INT(ts, 10 + 39 * 21 + (1 + 4 + 4));
	free(v);
}

/* ---- writer tests ----------------------------------------------------- */

static const char *outdir;

static int rm_entry(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
	(void)sb;
	(void)type;
	(void)ftw;
	return remove(path) ? -1 : 0;
}

/* Structural checks of a whole file image. */
static void check_structure(const struct kl_buf *f)
{
	CHECK(f->len >= 12);
	if (f->len < 12)
		return;
	CHECK(memcmp(f->data, "PAR1", 4) == 0);
	CHECK(memcmp(f->data + f->len - 4, "PAR1", 4) == 0);
	uint32_t flen = rd32(f->data + f->len - 8);
	CHECK(flen > 0 && (size_t)flen + 12 <= f->len);
	/* FileMetaData starts with field 1 (version, i32) = 1 and ends in a stop. */
	const uint8_t *foot = (const uint8_t *)f->data + f->len - 8 - flen;
	CHECK_EQ_INT(foot[0], 0x15);
	CHECK_EQ_INT(foot[1], 0x02);
	CHECK_EQ_INT(foot[flen - 1], 0x00);
}

/* A writer (options o, NULL: the defaults) that has written all of d into
 * `file` (reset first), which must be a whole file: the caller checks what
 * it chose, then frees it (finish_sample). */
static struct kl_pq_writer *ds_written(struct ds *d, const struct kl_pq_opts *o,
				       struct kl_buf *file)
{
	struct kl_pq_writer *w = NULL;
	kl_buf_reset(file);
	CHECK_EQ_INT(kl_pq_writer_new(&w, d->cols, d->ncols, o, buf_sink, file, NULL), KL_OK);
	if (w)
		CHECK_EQ_INT(ds_write(d, w), KL_OK);
	check_structure(file);
	return w;
}

/* What the writer recorded of column c in row group g. */
static struct kl_pq_chunk_info chunk(struct kl_pq_writer *w, size_t g, size_t c)
{
	struct kl_pq_chunk_info ci;
	memset(&ci, 0, sizeof ci);
	CHECK_EQ_INT(kl_pq_writer_chunk_info(w, g, c, &ci), KL_OK);
	return ci;
}

/* The end of a writer test: d and its file saved as the sample `name`
 * (every reader reads the samples), then everything freed. */
static void finish_sample(const char *name, struct ds *d, struct kl_pq_writer *w,
			  struct kl_buf *file)
{
	CHECK_EQ_INT(save(outdir, name, d, file), 0);
	kl_pq_writer_free(w);
	kl_buf_cleanup(file);
	ds_free(d);
}

/* Column c of row r: one of a few strings (a dictionary keeps them), null
 * every ninth row. */
static void few_strings(struct ds *d, size_t r, size_t c)
{
	const char *few = STRS[r % (sizeof STRS / sizeof *STRS)];
	if (r % 9)
		ds_str(d, r, c, few, strlen(few));
}

static void test_tiny(void)
{
	struct kl_pq_column cols[] = {{"x", KL_PQ_INT64}};
	struct kl_pq_opts o;
	kl_pq_opts_default(&o);
	o.codec = KL_PQ_UNCOMPRESSED;
	o.created_by = "kinlake test";
	struct kl_buf out;
	kl_buf_init(&out, 0);
	struct kl_errbuf eb;
	kl_errbuf_clear(&eb);
	struct kl_pq_writer *w;
	CHECK_EQ_INT(kl_pq_writer_new(&w, cols, 1, &o, buf_sink, &out, &eb), KL_OK);
	CHECK_EQ_INT(kl_pq_put_i64(w, 0, 7), KL_OK);
	CHECK_EQ_INT(kl_pq_end_row(w), KL_OK);
	CHECK_EQ_INT(out.len, 0); /* nothing written before a row group is full */
	CHECK_EQ_INT(kl_pq_writer_finish(w), KL_OK);
	CHECK_EQ_INT(kl_pq_writer_bytes_written(w), out.len);
	check_structure(&out);
	uint32_t flen = rd32(out.data + out.len - 8);
	const char *foot = out.data + out.len - 8 - flen;
	CHECK(memmem(foot, flen, "kinlake test", 12) != NULL);
	CHECK(memmem(foot, flen, "schema", 6) != NULL);
	struct kl_pq_chunk_info ci = chunk(w, 0, 0);
	CHECK_EQ_INT(ci.num_values, 1);
	/* One distinct value of one: the dictionary is dropped, the data page
	 * (right after the magic) is DELTA_BINARY_PACKED. */
	CHECK_EQ_INT(ci.dict_page_offset, -1);
	CHECK_EQ_INT(ci.data_page_offset, 4);
	CHECK_EQ_INT(ci.dict_data_pages, 0);
	CHECK_EQ_INT(ci.null_count, 0);
	CHECK(ci.has_min_max);
	/* The uncompressed value bytes: block 128, 4 miniblocks, 1 value, zigzag(7). */
	CHECK(memmem(out.data, out.len, "\x80\x01\x04\x01\x0e", 5) != NULL);
	kl_pq_writer_free(w);

	/* Misuse: bad column, wrong type, set twice, finish mid-row. */
	kl_errbuf_clear(&eb);
	kl_buf_reset(&out);
	CHECK_EQ_INT(kl_pq_writer_new(&w, cols, 1, &o, buf_sink, &out, &eb), KL_OK);
	CHECK_EQ_INT(kl_pq_put_i64(w, 3, 1), KL_EINVAL);
	CHECK(eb.msg[0] != '\0');
	CHECK_EQ_INT(kl_pq_put_i64(w, 0, 1), KL_EINVAL); /* poisoned */
	CHECK_EQ_INT(kl_pq_writer_reset(w, cols, 1, buf_sink, &out), KL_OK);
	CHECK_EQ_INT(kl_pq_put_string(w, 0, "a", 1), KL_EINVAL);
	CHECK_EQ_INT(kl_pq_writer_reset(w, cols, 1, buf_sink, &out), KL_OK);
	CHECK_EQ_INT(kl_pq_put_i64(w, 0, 1), KL_OK);
	CHECK_EQ_INT(kl_pq_put_null(w, 0), KL_EINVAL);
	CHECK_EQ_INT(kl_pq_writer_reset(w, cols, 1, buf_sink, &out), KL_OK);
	CHECK_EQ_INT(kl_pq_put_i64(w, 0, 1), KL_OK);
	CHECK_EQ_INT(kl_pq_writer_finish(w), KL_EINVAL);
	kl_pq_writer_free(w);
	kl_pq_writer_free(NULL);

	struct kl_pq_column dup[] = {{"a", KL_PQ_INT64}, {"a", KL_PQ_BOOLEAN}};
	CHECK_EQ_INT(kl_pq_writer_new(&w, dup, 2, &o, buf_sink, &out, NULL), KL_EINVAL);
	CHECK(w == NULL);
	CHECK_EQ_INT(kl_pq_writer_new(&w, dup, 0, &o, buf_sink, &out, NULL), KL_EINVAL);

	/* A sink failure is KL_EIO. */
	struct kl_buf capped;
	kl_buf_init(&capped, 16);
	CHECK_EQ_INT(kl_pq_writer_new(&w, cols, 1, &o, buf_sink, &capped, &eb), KL_OK);
	kl_pq_put_i64(w, 0, 1);
	kl_pq_end_row(w);
	CHECK_EQ_INT(kl_pq_writer_finish(w), KL_EIO);
	kl_pq_writer_free(w);
	kl_buf_cleanup(&capped);

	/* A file with no rows is still a valid file. */
	kl_buf_reset(&out);
	CHECK_EQ_INT(kl_pq_writer_new(&w, cols, 1, &o, buf_sink, &out, &eb), KL_OK);
	CHECK_EQ_INT(kl_pq_writer_finish(w), KL_OK);
	check_structure(&out);
	CHECK_EQ_INT(kl_pq_writer_row_groups(w), 0);
	kl_pq_writer_free(w);
	kl_buf_cleanup(&out);
}

/* The edge-case dataset used for every codec. */
static void basic_ds(struct ds *d)
{
	enum kl_pq_type t[] = {KL_PQ_BOOLEAN, KL_PQ_INT64, KL_PQ_DOUBLE, KL_PQ_STRING};
	size_t n = 64;
	ds_init(d, 4, t, n);
	for (size_t r = 0; r < n; r++) {
		if (r % 5 != 3) {
			ds_at(d, r, 0)->set = 1;
			ds_at(d, r, 0)->b = (r % 3) == 0;
		}
		if (r % 7 != 2) {
			ds_at(d, r, 1)->set = 1;
			ds_at(d, r, 1)->i = INTS[r % (sizeof INTS / sizeof *INTS)];
		}
		if (r % 6 != 4) {
			ds_at(d, r, 2)->set = 1;
			ds_at(d, r, 2)->d = DBLS[r % (sizeof DBLS / sizeof *DBLS)];
		}
		if (r % 8 != 5) {
			const char *s = STRS[r % (sizeof STRS / sizeof *STRS)];
			ds_str(d, r, 3, s, strlen(s));
		}
	}
}

/* The largest buffer capacity a writer holds (PQ_KEEP_BYTES). */
static size_t largest_buffer(const struct kl_pq_writer *w)
{
	size_t most = w->page.cap > w->comp.cap ? w->page.cap : w->comp.cap;
	for (size_t c = 0; c < w->cols_cap; c++) {
		const struct pq_col *pc = &w->cols[c];
		size_t caps[] = {pc->defs.cap,	    pc->vals.cap,      pc->pages.cap,
				 pc->dict.vals.cap, pc->dict.offs.cap, pc->dict.hashes.cap};
		for (size_t k = 0; k < sizeof caps / sizeof *caps; k++)
			most = caps[k] > most ? caps[k] : most;
	}
	return most;
}

static void test_codecs_and_determinism(void)
{
	static const char *const names[] = {"basic_uncompressed", "basic_snappy", "basic_gzip",
					    "basic_zstd"};
	struct ds d;
	basic_ds(&d);
	struct kl_buf a, b;
	kl_buf_init(&a, 0);
	kl_buf_init(&b, 0);
	for (int codec = KL_PQ_UNCOMPRESSED; codec <= KL_PQ_ZSTD; codec++) {
		struct kl_pq_opts o;
		kl_pq_opts_default(&o);
		o.codec = (enum kl_pq_codec)codec;
		CHECK_EQ_INT(ds_to_parquet(&d, &o, &a), KL_OK);
		CHECK_EQ_INT(ds_to_parquet(&d, &o, &b), KL_OK);
		check_structure(&a);
		CHECK(a.len == b.len && memcmp(a.data, b.data, a.len) == 0);
		CHECK_EQ_INT(save(outdir, names[codec], &d, &a), 0);
	}
	/* Levels change the bytes but not the validity. */
	struct kl_pq_opts o;
	kl_pq_opts_default(&o);
	o.level = 19;
	CHECK_EQ_INT(ds_to_parquet(&d, &o, &a), KL_OK);
	check_structure(&a);
	CHECK_EQ_INT(save(outdir, "basic_zstd19", &d, &a), 0);
	o.codec = KL_PQ_GZIP;
	o.level = 9;
	CHECK_EQ_INT(ds_to_parquet(&d, &o, &a), KL_OK);
	CHECK_EQ_INT(save(outdir, "basic_gzip9", &d, &a), 0);

	/* Reuse: a reset writer produces the same bytes as a fresh one, also
	 * after writing a file with another schema, one large enough that
	 * finish() releases its buffers (PQ_KEEP_BYTES): 100,000 distinct
	 * strings a column, ~0.7 MB of values each. */
	kl_pq_opts_default(&o);
	CHECK_EQ_INT(ds_to_parquet(&d, &o, &a), KL_OK);
	struct kl_pq_writer *w;
	struct kl_pq_column other[] = {{"z", KL_PQ_STRING}, {"y", KL_PQ_STRING},
				       {"x", KL_PQ_STRING}, {"w", KL_PQ_STRING},
				       {"v", KL_PQ_STRING}};
	kl_buf_reset(&b);
	CHECK_EQ_INT(kl_pq_writer_new(&w, other, 5, &o, buf_sink, &b, NULL), KL_OK);
	for (int i = 0; i < 100000; i++) {
		char s[32];
		int n = snprintf(s, sizeof s, "s%d", i);
		for (size_t c = 0; c < 5; c++)
			kl_pq_put_string(w, c, s, (size_t)n);
		kl_pq_end_row(w);
	}
	CHECK(largest_buffer(w) > PQ_KEEP_BYTES); /* large enough to need the release */
	CHECK_EQ_INT(kl_pq_writer_finish(w), KL_OK);
	CHECK(largest_buffer(w) <= PQ_KEEP_BYTES);
	for (int k = 0; k < 2; k++) {
		kl_buf_reset(&b);
		CHECK_EQ_INT(kl_pq_writer_reset(w, d.cols, d.ncols, buf_sink, &b), KL_OK);
		CHECK_EQ_INT(ds_write(&d, w), KL_OK);
		CHECK(a.len == b.len && memcmp(a.data, b.data, a.len) == 0);
	}
	kl_pq_writer_free(w);
	kl_buf_cleanup(&a);
	kl_buf_cleanup(&b);
	ds_free(&d);
}

/* A column chunk of one small page is stored without the codec (its
 * ColumnMetaData says UNCOMPRESSED), its dictionary page too; a large one,
 * or a chunk of several pages however small its last, keeps the codec. The
 * file is a sample: every reader reads its mixed codecs. */
static void test_raw_chunks(void)
{
	struct ds d;
	ds_init(&d, 4, (const enum kl_pq_type[]){KL_PQ_INT64, KL_PQ_STRING, KL_PQ_STRING,
						  KL_PQ_INT64},
		3000);
	uint64_t seed = 41;
	for (size_t r = 0; r < d.nrows; r++) {
		char s[48];
		int n = snprintf(s, sizeof s, "value-%zu-%llu", r,
				 (unsigned long long)(r * 2654435761u % 1000003u));
		/* tiny: null but in 3 rows (a few bytes of values); big: distinct */
		if (r % 1000 == 7) {
			ds_at(&d, r, 0)->set = 1;
			ds_at(&d, r, 0)->i = (int64_t)r;
			ds_str(&d, r, 1, "ab", 2);
		}
		ds_str(&d, r, 2, s, (size_t)n);
		ds_at(&d, r, 3)->set = 1;
		ds_at(&d, r, 3)->i = (int64_t)rnd(&seed);
	}
	struct kl_pq_opts o;
	kl_pq_opts_default(&o);
	CHECK_EQ_INT(o.codec, KL_PQ_ZSTD);
	struct kl_buf f;
	kl_buf_init(&f, 0);
	struct kl_pq_writer *w = ds_written(&d, &o, &f);
	if (!w)
		return;
	CHECK_EQ_INT(chunk(w, 0, 0).codec, KL_PQ_UNCOMPRESSED);
	CHECK_EQ_INT(chunk(w, 0, 1).codec, KL_PQ_UNCOMPRESSED);
	CHECK(chunk(w, 0, 1).dict_page_offset >= 0); /* its dictionary raw too */
	CHECK_EQ_INT(chunk(w, 0, 2).codec, KL_PQ_ZSTD);
	CHECK_EQ_INT(chunk(w, 0, 3).codec, KL_PQ_ZSTD);
	for (size_t c = 0; c < 2; c++) { /* raw: what is stored is what was encoded */
		struct kl_pq_chunk_info ci = chunk(w, 0, c);
		CHECK_EQ_INT(ci.total_compressed, ci.total_uncompressed);
	}
	finish_sample("raw_small_chunks", &d, w, &f);

	/* Several pages: the chunk keeps the codec, even with a tiny last page. */
	ds_init(&d, 1, (const enum kl_pq_type[]){KL_PQ_INT64}, PQ_PAGE_MAX_ROWS + 3);
	for (size_t r = 0; r < d.nrows; r++) {
		ds_at(&d, r, 0)->set = 1;
		ds_at(&d, r, 0)->i = (int64_t)(r * 7);
	}
	kl_buf_init(&f, 0);
	if (!(w = ds_written(&d, &o, &f)))
		return;
	CHECK_EQ_INT(chunk(w, 0, 0).data_pages, 2);
	CHECK_EQ_INT(chunk(w, 0, 0).codec, KL_PQ_ZSTD);
	finish_sample("two_pages_small_last", &d, w, &f);
}

static void test_dict_fallback(void)
{
	enum kl_pq_type t[] = {KL_PQ_STRING, KL_PQ_INT64, KL_PQ_DOUBLE, KL_PQ_STRING};
	size_t n = 6000;
	struct ds d;
	ds_init(&d, 4, t, n);
	uint64_t s = 1;
	for (size_t r = 0; r < n; r++) {
		/* few distinct while the dictionary is judged, then many: it fills
		 * up mid-chunk and the rest of the chunk goes without it */
		uint64_t card = r < 2000 ? 40 : 1000000;
		const char *some = STRS[(r * 7) % (sizeof STRS / sizeof *STRS)];
		if (r < 2000)
			ds_str(&d, r, 0, some, strlen(some));
		else
			fill_random(&d, r, 0, &s, 10, card);
		fill_random(&d, r, 1, &s, 10, card);
		fill_random(&d, r, 2, &s, 10, card);
		few_strings(&d, r, 3); /* stays dictionary */
	}
	struct kl_pq_opts o;
	kl_pq_opts_default(&o);
	o.dict_max_bytes = 4096;
	o.page_bytes = 2048;
	struct kl_buf a;
	kl_buf_init(&a, 0);
	struct kl_pq_writer *w = ds_written(&d, &o, &a);
	CHECK_EQ_INT(kl_pq_writer_row_groups(w), 1);
	for (size_t c = 0; c < 3; c++) {
		struct kl_pq_chunk_info ci = chunk(w, 0, c);
		CHECK(ci.dict_page_offset >= 0);
		CHECK(ci.dict_data_pages >= 1);
		CHECK(ci.data_pages > ci.dict_data_pages); /* PLAIN pages follow */
		CHECK_EQ_INT(ci.num_values, (int64_t)n);
	}
	kl_pq_writer_free(w);

	/* Many distinct from the start: the dictionary is dropped when judged,
	 * before any page of it is written; the few-valued column keeps its. */
	ds_free(&d);
	ds_init(&d, 4, t, n);
	for (size_t r = 0; r < n; r++) {
		fill_random(&d, r, 0, &s, 10, 1000000);
		fill_random(&d, r, 1, &s, 10, 1000000);
		fill_random(&d, r, 2, &s, 10, 1000000);
		few_strings(&d, r, 3);
	}
	w = ds_written(&d, &o, &a);
	for (size_t c = 0; c < 3; c++) {
		struct kl_pq_chunk_info ci = chunk(w, 0, c);
		CHECK_EQ_INT(ci.dict_page_offset, -1);
		CHECK_EQ_INT(ci.dict_data_pages, 0);
		CHECK(ci.data_pages >= 2);
		CHECK_EQ_INT(ci.num_values, (int64_t)n);
	}
	/* the few-valued column keeps its dictionary, also when written again */
	for (int k = 0; k < 2; k++) {
		if (k)
			w = ds_written(&d, &o, &a);
		struct kl_pq_chunk_info ci = chunk(w, 0, 3);
		CHECK(ci.dict_page_offset >= 0);
		CHECK_EQ_INT(ci.data_pages, ci.dict_data_pages);
		CHECK_EQ_INT(save(outdir, k ? "dict_fallback" : "dict_dropped", &d, &a), 0);
		kl_pq_writer_free(w);
	}

	/* The early judgement (PQ_DICT_EARLY): a column whose first 128 values
	 * are all distinct drops its dictionary then, although its 1024 first
	 * would have kept it (a few values repeat after them); one with 100
	 * distinct among its first 128 (not over 7/8) is judged at the 1024th
	 * value as before and keeps it. */
	{
		struct kl_pq_column two[] = {{"early", KL_PQ_STRING}, {"kept", KL_PQ_STRING}};
		struct kl_buf eb2;
		kl_buf_init(&eb2, 0);
		struct kl_pq_writer *ew;
		CHECK_EQ_INT(kl_pq_writer_new(&ew, two, 2, NULL, buf_sink, &eb2, NULL), KL_OK);
		char v[32];
		for (uint32_t r = 0; r < 3000; r++) {
			int n0 = snprintf(v, sizeof v, "value-%u", r < PQ_DICT_EARLY ? r : r % 4);
			CHECK_EQ_INT(kl_pq_put_string(ew, 0, v, (size_t)n0), KL_OK);
			int n1 = snprintf(v, sizeof v, "value-%u", r < PQ_DICT_EARLY ? r % 100 : r % 4);
			CHECK_EQ_INT(kl_pq_put_string(ew, 1, v, (size_t)n1), KL_OK);
			CHECK_EQ_INT(kl_pq_end_row(ew), KL_OK);
		}
		CHECK_EQ_INT(kl_pq_writer_finish(ew), KL_OK);
		CHECK_EQ_INT(chunk(ew, 0, 0).dict_page_offset, -1);
		CHECK(chunk(ew, 0, 1).dict_page_offset >= 0);
		kl_pq_writer_free(ew);
		kl_buf_cleanup(&eb2);
	}

	/* A first page of nulls only (PQ_PAGE_MAX_ROWS) does not decide: the
	 * many distinct values after it still drop the dictionary. */
	{
		struct kl_pq_column one[] = {{"late", KL_PQ_INT64}};
		struct kl_buf lb;
		kl_buf_init(&lb, 0);
		struct kl_pq_writer *lw;
		CHECK_EQ_INT(kl_pq_writer_new(&lw, one, 1, NULL, buf_sink, &lb, NULL), KL_OK);
		for (uint32_t r = 0; r < PQ_PAGE_MAX_ROWS + 3000; r++) {
			if (r >= PQ_PAGE_MAX_ROWS)
				CHECK_EQ_INT(kl_pq_put_i64(lw, 0, (int64_t)r * 977), KL_OK);
			CHECK_EQ_INT(kl_pq_end_row(lw), KL_OK);
		}
		CHECK_EQ_INT(kl_pq_writer_finish(lw), KL_OK);
		struct kl_pq_chunk_info li = chunk(lw, 0, 0);
		CHECK(li.data_pages >= 2);
		CHECK_EQ_INT(li.dict_page_offset, -1);
		CHECK_EQ_INT(li.null_count, PQ_PAGE_MAX_ROWS);
		kl_pq_writer_free(lw);
		kl_buf_cleanup(&lb);
	}

	/* A dictionary limit below one entry: PLAIN from the first value. */
	o.dict_max_bytes = 4;
	w = ds_written(&d, &o, &a);
	struct kl_pq_chunk_info ci = chunk(w, 0, 0);
	CHECK_EQ_INT(ci.dict_page_offset, -1);
	CHECK_EQ_INT(ci.dict_data_pages, 0);
	finish_sample("dict_none", &d, w, &a);
}

static void test_multi(void)
{
	enum kl_pq_type t[] = {KL_PQ_INT64, KL_PQ_STRING, KL_PQ_DOUBLE, KL_PQ_BOOLEAN};
	size_t n = 60000;
	struct ds d;
	ds_init(&d, 4, t, n);
	uint64_t s = 2;
	for (size_t r = 0; r < n; r++)
		for (size_t c = 0; c < 4; c++)
			fill_random(&d, r, c, &s, 15, c == 0 ? 100000 : 300);
	struct kl_pq_opts o;
	kl_pq_opts_default(&o);
	o.page_bytes = 8192;
	o.row_group_bytes = 512 * 1024;
	o.codec = KL_PQ_SNAPPY;
	struct kl_buf a;
	kl_buf_init(&a, 0);
	struct kl_pq_writer *w = ds_written(&d, &o, &a);
	size_t nrg = kl_pq_writer_row_groups(w);
	CHECK(nrg >= 3);
	int64_t total = 0;
	int64_t prev_end = 4;
	for (size_t g = 0; g < nrg; g++) {
		struct kl_pq_chunk_info ci = chunk(w, g, 0);
		CHECK(ci.data_pages >= 2);
		CHECK_EQ_INT(ci.dict_page_offset, -1); /* many distinct: DELTA_BINARY_PACKED */
		CHECK(ci.data_page_offset >= prev_end);
		prev_end = ci.data_page_offset;
		ci = chunk(w, g, 2);
		CHECK(ci.dict_page_offset > prev_end); /* 300 distinct: dictionary */
		total += ci.num_values;
		ci = chunk(w, g, 3);
		CHECK_EQ_INT(ci.dict_page_offset, -1); /* BOOLEAN: always PLAIN */
	}
	CHECK_EQ_INT(total, (int64_t)n);
	CHECK_EQ_INT(kl_pq_writer_rows(w), n);
	finish_sample("multi", &d, w, &a);
}

/* Pages without a dictionary take the encoding that pays: unordered
 * integers of mixed widths PLAIN and sorted ones DELTA_BINARY_PACKED, two-decimal amounts
 * PLAIN, formatted timestamps (shared prefixes) DELTA_BYTE_ARRAY, random
 * hex DELTA_LENGTH_BYTE_ARRAY. Saved as a sample: every reader reads it. */
static void test_encoding_choice(void)
{
	enum kl_pq_type t[] = {KL_PQ_INT64, KL_PQ_INT64, KL_PQ_DOUBLE, KL_PQ_STRING, KL_PQ_STRING};
	size_t n = 3000;
	struct ds d;
	ds_init(&d, 5, t, n);
	uint64_t s = 7;
	for (size_t r = 0; r < n; r++) {
		uint64_t x = rnd(&s);
		ds_at(&d, r, 0)->set = r % 11 != 4;
		/* ids of mixed widths: a miniblock of deltas takes the widest */
		ds_at(&d, r, 0)->i = (int64_t)(x % 10 ? x % 1000000 : x >> 30);
		ds_at(&d, r, 1)->set = 1;
		ds_at(&d, r, 1)->i = 1764547200 + (int64_t)r + (int64_t)(x >> 60); /* timestamps */
		ds_at(&d, r, 2)->set = r % 13 != 1;
		ds_at(&d, r, 2)->d = (double)(int64_t)((x >> 20) % 10000000) / 100; /* amounts */
		char b[40];
		int k = snprintf(b, sizeof b, "2025-12-01T%02zu:%02zu:%02zu.%03zuZ", r / 3600 % 24,
				 r / 60 % 60, r % 60, (size_t)(x >> 40) % 1000);
		ds_str(&d, r, 3, b, (size_t)k);
		k = snprintf(b, sizeof b, "%016llx%016llx", (unsigned long long)x,
			     (unsigned long long)rnd(&s));
		ds_str(&d, r, 4, b, (size_t)k);
	}
	struct kl_pq_opts o;
	kl_pq_opts_default(&o);
	o.level = 1;
	struct kl_buf a;
	kl_buf_init(&a, 0);
	struct kl_pq_writer *w = ds_written(&d, &o, &a);
	static const unsigned want[] = {1u << 0 | 1u << 3, 1u << 5 | 1u << 3, 1u << 0 | 1u << 3,
					1u << 7 | 1u << 3, 1u << 6 | 1u << 3};
	for (size_t c = 0; c < 5; c++) {
		struct kl_pq_chunk_info ci = chunk(w, 0, c);
		CHECK_EQ_INT(ci.dict_page_offset, -1);
		CHECK_EQ_INT(ci.encodings, want[c]);
	}
	finish_sample("encodings", &d, w, &a);
}

/* Statistics corner cases of floating point: a zero min is written as -0.0,
 * a zero max as +0.0, NaN never enters min/max (an all-NaN chunk has none). */
static void test_double_stats(void)
{
	enum kl_pq_type t[] = {KL_PQ_DOUBLE, KL_PQ_DOUBLE, KL_PQ_DOUBLE, KL_PQ_DOUBLE};
	const double v[][4] = {
		{0.0, -3.0, 1.5, NAN}, {2.5, -0.0, NAN, NAN}, {0.0, -1.0, -2.0, NAN}};
	struct ds d;
	ds_init(&d, 4, t, 3);
	for (size_t r = 0; r < 3; r++)
		for (size_t c = 0; c < 4; c++) {
			ds_at(&d, r, c)->set = 1;
			ds_at(&d, r, c)->d = v[r][c];
		}
	struct kl_buf a;
	kl_buf_init(&a, 0);
	struct kl_pq_opts o;
	kl_pq_opts_default(&o);
	o.codec = KL_PQ_UNCOMPRESSED;
	struct kl_pq_writer *w = ds_written(&d, &o, &a);
	CHECK(!chunk(w, 0, 3).has_min_max);
	CHECK(chunk(w, 0, 2).has_min_max);
	/* The footer holds min_value = -0.0 (8 bytes, sign bit only) for c0 and
	 * max_value = +0.0 for c1 (field 5 follows null_count: delta 2). */
	uint32_t flen = rd32(a.data + a.len - 8);
	const char *foot = a.data + a.len - 8 - flen;
	static const char negzero_min[] = {0x18, 0x08, 0, 0, 0, 0, 0, 0, 0, (char)0x80};
	static const char poszero_max[] = {0x28, 0x08, 0, 0, 0, 0, 0, 0, 0, 0};
	CHECK(memmem(foot, flen, negzero_min, sizeof negzero_min) != NULL);
	CHECK(memmem(foot, flen, poszero_max, sizeof poszero_max) != NULL);
	finish_sample("double_stats", &d, w, &a);
}

static void test_all_null(void)
{
	enum kl_pq_type t[] = {KL_PQ_BOOLEAN, KL_PQ_INT64, KL_PQ_DOUBLE, KL_PQ_STRING, KL_PQ_INT64};
	size_t n = 50;
	struct ds d;
	ds_init(&d, 5, t, n);
	for (size_t r = 0; r < n; r++) {
		ds_at(&d, r, 4)->set = 1;
		ds_at(&d, r, 4)->i = (int64_t)r;
	}
	struct kl_buf a;
	kl_buf_init(&a, 0);
	struct kl_pq_writer *w = ds_written(&d, NULL, &a);
	for (size_t c = 0; c < 4; c++) {
		struct kl_pq_chunk_info ci = chunk(w, 0, c);
		CHECK_EQ_INT(ci.null_count, (int64_t)n);
		CHECK(!ci.has_min_max);
		CHECK_EQ_INT(ci.dict_page_offset, -1);
	}
	finish_sample("all_null", &d, w, &a);
}

/* One random file: schema, rows and options derived from `seed`. */
static int random_file(const char *dir, uint64_t seed)
{
	uint64_t s = seed * 7919 + 17;
	size_t ncols = 1 + rnd(&s) % 8;
	enum kl_pq_type t[8];
	for (size_t c = 0; c < ncols; c++)
		t[c] = (enum kl_pq_type)(rnd(&s) % 4);
	size_t nrows = (size_t)(rnd(&s) % 4) == 0 ? rnd(&s) % 5 : rnd(&s) % 3000;
	struct ds d;
	ds_init(&d, ncols, t, nrows);
	int null_pct = (int)(rnd(&s) % 101);
	uint64_t card = 1 + rnd(&s) % 5000;
	for (size_t r = 0; r < nrows; r++)
		for (size_t c = 0; c < ncols; c++)
			fill_random(&d, r, c, &s, null_pct, card);
	struct kl_pq_opts o;
	kl_pq_opts_default(&o);
	o.codec = (enum kl_pq_codec)(rnd(&s) % 4);
	o.page_bytes = 64 + rnd(&s) % 20000;
	o.row_group_bytes = 256 + rnd(&s) % 200000;
	o.dict_max_bytes = 1 + rnd(&s) % 8000;
	struct kl_buf a;
	kl_buf_init(&a, 0);
	int rc = ds_to_parquet(&d, &o, &a);
	if (!rc) {
		char name[64];
		snprintf(name, sizeof name, "random_%03" PRIu64, seed);
		rc = save(dir, name, &d, &a);
	}
	kl_buf_cleanup(&a);
	ds_free(&d);
	return rc;
}

static void test_random_smoke(void)
{
	for (uint64_t i = 0; i < 5; i++)
		CHECK_EQ_INT(random_file(outdir, 900 + i), 0);
}

/* ---- the Parquet encoder: a file from its blocks, streamed or whole ------ */

/* Lines of a partition: a schema that grows and widens late (a column seen
 * first near the end, an INT column that becomes DOUBLE, then STRING),
 * escapes, objects with whitespace, nulls, high- and low-cardinality
 * strings, an integer beyond int64. */
static void stream_lines(struct kl_buf *t, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char line[600];
		int k = snprintf(line, sizeof line,
				 "{\"event_uuid\":\"%08zx-%04zx\",\"event_name\":\"page:viewed\","
				 "\"created_at\":%zu,\"created_datetime\":\"2025-12-01T00:%02zu:%02zuZ\","
				 "\"event_type\":\"page\",\"event_subtype\":\"viewed\"",
				 i * 2654435761u % 0xffffffffu, i % 7919, 1764547200 + i / 3,
				 (i / 60) % 60, i % 60);
		if (i % 5)
			k += snprintf(line + k, sizeof line - (size_t)k, ",\"n\":%zu", i % 13);
		if (i + 5 > n) /* late: widened to STRING */
			k += snprintf(line + k, sizeof line - (size_t)k, ",\"n2\":\"str\"");
		else if (i == n / 2)
			k += snprintf(line + k, sizeof line - (size_t)k, ",\"n2\":1.5");
		else
			k += snprintf(line + k, sizeof line - (size_t)k, ",\"n2\":%zu", i);
		if (i % 3 == 0)
			k += snprintf(line + k, sizeof line - (size_t)k, ",\"s\":\"a\\\"b\\\\%zu\"", i % 4);
		if (i % 11 == 0)
			k += snprintf(line + k, sizeof line - (size_t)k, ",\"o\":{ \"a\" : [1, 2] }");
		if (i % 17 == 0)
			k += snprintf(line + k, sizeof line - (size_t)k, ",\"b\":%s,\"z\":null",
				      i % 2 ? "true" : "false");
		if (i + 5 > n) /* late: a new column, a huge int */
			k += snprintf(line + k, sizeof line - (size_t)k,
				      ",\"late\":\"x%zu\",\"big\":123456789012345678901", i);
		k += snprintf(line + k, sizeof line - (size_t)k, "}\n");
		kl_buf_append(t, line, (size_t)k);
	}
}

/* t's bytes as a partition's buffer: blocks of about `cut` bytes at zstd
 * `level`, every third one early; at line ends, or anywhere if `mid`. */
static void stream_blocks(struct kl_blocks *b, struct kl_blocks_zctx *x, const struct kl_buf *t,
			  size_t cut, int level, int mid)
{
	kl_blocks_init(b);
	size_t off = 0, nb = 0;
	while (t->len - off > cut) {
		size_t end = off + cut;
		if (!mid)
			while (end < t->len && t->data[end - 1] != '\n')
				end++;
		if (end >= t->len)
			break;
		CHECK_EQ_INT(kl_blocks_seal(b, x, level, t->data + off, end - off, ++nb % 3 == 0),
			     KL_OK);
		off = end;
	}
	kl_buf_append(&b->tail, t->data + off, t->len - off);
}

static void test_encode_streamed(void)
{
	struct kl_buf t, whole, flat, streamed, scratch;
	kl_buf_init(&t, 0);
	kl_buf_init(&whole, 0);
	kl_buf_init(&flat, 0);
	kl_buf_init(&streamed, 0);
	kl_buf_init(&scratch, 0);
	struct kl_blocks_zctx x;
	memset(&x, 0, sizeof x);
	struct kl_errbuf eb = {{0}, 0};
	stream_lines(&t, 30000);
	/* row groups: the default, and small ones (several per file) */
	size_t rgs[] = {0, 256u << 10};
	struct {
		size_t cut;
		int level, mid;
	} shapes[] = {{60u << 10, 1, 0}, {60u << 10, -3, 0}, {7777, 1, 1}, {t.len + 1, 1, 0}};
	for (size_t r = 0; r < sizeof rgs / sizeof rgs[0]; r++) {
		struct kl_encoder_opts whole_o = {KL_COMP_ZSTD, 0, rgs[r], SIZE_MAX, 0};
		struct kl_encoder_opts stream_o = {KL_COMP_ZSTD, 0, rgs[r], 1, 0};
		struct kl_encoder *ew = kl_encoder_parquet_new(&whole_o, NULL, NULL);
		struct kl_encoder *es = kl_encoder_parquet_new(&stream_o, NULL, NULL);
		struct kl_encoder *ec = es ? es->ops->clone(es) : NULL; /* a copy streams too */
		CHECK(ew && es && ec && es->ops->encode_blocks);
		if (!ew || !es || !ec)
			return;
		kl_buf_reset(&whole);
		CHECK_EQ_INT(ew->ops->encode(ew, t.data, t.len, 30000, buf_sink, &whole, &eb), KL_OK);
		CHECK(whole.len > 1000);
		for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
			struct kl_blocks b;
			stream_blocks(&b, &x, &t, shapes[s].cut, shapes[s].level, shapes[s].mid);
			CHECK_EQ_INT(kl_blocks_len(&b), t.len);
			kl_buf_reset(&flat);
			CHECK_EQ_INT(ew->ops->encode_blocks(ew, &b, 30000, &x, &scratch, buf_sink, &flat,
							    &eb),
				     KL_OK);
			CHECK(flat.len == whole.len && !memcmp(flat.data, whole.data, whole.len));
			for (int copy = 0; copy < 2; copy++) {
				struct kl_encoder *e = copy ? ec : es;
				kl_blocks_cleanup(&b);
				stream_blocks(&b, &x, &t, shapes[s].cut, shapes[s].level, shapes[s].mid);
				size_t nblocks = b.n;
				kl_buf_reset(&streamed);
				CHECK_EQ_INT(e->ops->encode_blocks(e, &b, 30000, &x, &scratch, buf_sink,
								   &streamed, &eb),
					     KL_OK);
				CHECK(streamed.len == whole.len &&
				      !memcmp(streamed.data, whole.data, whole.len));
				/* the second pass freed every block as it read it */
				CHECK_EQ_INT(b.zlen, 0);
				CHECK_EQ_INT(b.n, nblocks);
			}
			kl_blocks_cleanup(&b);
		}
		kl_encoder_free(ew);
		kl_encoder_free(es);
		kl_encoder_free(ec);
	}
	/* a bad line fails the streamed encoding as it fails the whole one */
	kl_buf_reset(&t);
	stream_lines(&t, 100);
	kl_buf_append(&t, "not json\n", 9);
	struct kl_encoder_opts o = {KL_COMP_ZSTD, 0, 0, 1, 0};
	struct kl_encoder *e = kl_encoder_parquet_new(&o, NULL, NULL);
	struct kl_blocks b;
	stream_blocks(&b, &x, &t, 2000, 1, 0);
	kl_buf_reset(&streamed);
	CHECK_EQ_INT(e->ops->encode_blocks(e, &b, 101, &x, &scratch, buf_sink, &streamed, &eb),
		     KL_EPARSE);
	kl_blocks_cleanup(&b);
	kl_encoder_free(e);
	kl_blocks_zctx_cleanup(&x);
	kl_buf_cleanup(&t);
	kl_buf_cleanup(&whole);
	kl_buf_cleanup(&flat);
	kl_buf_cleanup(&streamed);
	kl_buf_cleanup(&scratch);
}

/* The column cap (encoder.h max_columns): past max_columns - 1 columns a
 * member without a column goes into the last column, _rescued_data, as
 * one JSON object per row (raw keys, minified values, in row order); a
 * member named _rescued_data always does, and one whose name no column can
 * have (empty, a NUL byte: it failed the file). Whole, streamed and copied
 * encoders give the same bytes (the streamed one splits every row again,
 * the whole one tapes the rows before the first rescued member). */
static void test_rescue(void)
{
	static const char head[] =
	    "{\"event_uuid\":\"u%d\",\"event_name\":\"w:t\",\"created_at\":%d,"
	    "\"created_datetime\":\"2023-11-14T22:13:20Z\",\"event_type\":\"w\","
	    "\"event_subtype\":\"t\",\"a\":%d";
	struct kl_buf t, whole, streamed, def, scratch;
	kl_buf_init(&t, 0);
	kl_buf_init(&whole, 0);
	kl_buf_init(&streamed, 0);
	kl_buf_init(&def, 0);
	kl_buf_init(&scratch, 0);
	struct kl_blocks_zctx x;
	memset(&x, 0, sizeof x);
	struct kl_errbuf eb = {{0}, 0};
	for (int i = 0; i < 300; i++) { /* taped rows first, as in a real partition */
		kl_buf_printf(&t, head, i, i, i);
		kl_buf_printf(&t, ",\"b\":\"x%d\"}\n", i);
	}
	kl_buf_printf(&t, head, 300, 300, 300);
	kl_buf_printf(&t, ",\"b\":\"x\",\"c\":{ \"k\" : [1, 2] }}\n");
	kl_buf_printf(&t, head, 301, 301, 301);
	kl_buf_printf(&t, ",\"d\\u0041\":true,\"_rescued_data\":\"mine\",\"b\":null}\n");
	kl_buf_printf(&t, head, 302, 302, 302);
	kl_buf_printf(&t, "}\n");
	kl_buf_printf(&t, head, 303, 303, 303);
	kl_buf_printf(&t, ",\"z\":1.50,\"c\":[],\"b\":\"y\"}\n");
	kl_buf_printf(&t, head, 304, 304, 304); /* names no column can have, at any cap */
	kl_buf_printf(&t, ",\"\":1,\"x\\u0000y\":2}\n");
	struct kl_encoder_opts wo = {KL_COMP_NONE, 0, 0, SIZE_MAX, 9}; /* common + a + b */
	struct kl_encoder_opts so = {KL_COMP_NONE, 0, 0, 1, 9};
	struct kl_encoder_opts dflt = {KL_COMP_NONE, 0, 0, SIZE_MAX, 0};
	struct kl_encoder *ew = kl_encoder_parquet_new(&wo, NULL, NULL);
	struct kl_encoder *es = kl_encoder_parquet_new(&so, NULL, NULL);
	struct kl_encoder *ec = es ? es->ops->clone(es) : NULL;
	struct kl_encoder *ed = kl_encoder_parquet_new(&dflt, NULL, NULL);
	CHECK(ew && es && ec && ed);
	if (!ew || !es || !ec || !ed)
		return;
	CHECK_EQ_INT(ew->ops->encode(ew, t.data, t.len, 305, buf_sink, &whole, &eb), KL_OK);
	static const char *const want[] = {"{\"c\":{\"k\":[1,2]}}",
					   "{\"d\\u0041\":true,\"_rescued_data\":\"mine\"}",
					   "{\"z\":1.50,\"c\":[]}", KL_PQ_RESCUE_COLUMN};
	for (size_t i = 0; i < sizeof want / sizeof *want; i++)
		CHECK(memmem(whole.data, whole.len, want[i], strlen(want[i])) != NULL);
	for (int copy = 0; copy < 2; copy++) {
		struct kl_encoder *e = copy ? ec : es;
		struct kl_blocks b;
		stream_blocks(&b, &x, &t, 4000, 1, 0);
		kl_buf_reset(&streamed);
		CHECK_EQ_INT(e->ops->encode_blocks(e, &b, 305, &x, &scratch, buf_sink, &streamed, &eb),
			     KL_OK);
		CHECK(streamed.len == whole.len && !memcmp(streamed.data, whole.data, whole.len));
		kl_blocks_cleanup(&b);
	}
	/* the default cap: c and z are columns; only the member named
	 * _rescued_data is rescued */
	CHECK_EQ_INT(ed->ops->encode(ed, t.data, t.len, 305, buf_sink, &def, &eb), KL_OK);
	static const char only[] = "{\"_rescued_data\":\"mine\"}";
	CHECK(memmem(def.data, def.len, only, strlen(only)) != NULL);
	static const char odd[] = "{\"\":1,\"x\\u0000y\":2}";
	CHECK(memmem(def.data, def.len, odd, strlen(odd)) != NULL);
	CHECK(memmem(whole.data, whole.len, odd, strlen(odd)) != NULL);
	CHECK(memmem(def.data, def.len, want[0], strlen(want[0])) == NULL);
	CHECK(memmem(def.data, def.len, "{\"k\":[1,2]}", 11) != NULL); /* c's value, a column */
	kl_encoder_free(ew);
	kl_encoder_free(es);
	kl_encoder_free(ec);
	kl_encoder_free(ed);
	kl_blocks_zctx_cleanup(&x);
	kl_buf_cleanup(&t);
	kl_buf_cleanup(&whole);
	kl_buf_cleanup(&streamed);
	kl_buf_cleanup(&def);
	kl_buf_cleanup(&scratch);
}

/* Column names must be distinct: checked pairwise for a few columns and by
 * sorting for many, with the same answer either way. */
static void test_duplicate_columns(void)
{
	enum { N = 300 };
	static char names[N][16];
	static struct kl_pq_column cols[N];
	for (size_t n = 2; n <= N; n += N - 2) { /* 2 and 300 columns */
		for (size_t i = 0; i < n; i++) {
			snprintf(names[i], sizeof names[i], "c%zu", (i * 7919) % n);
			cols[i].name = names[i];
			cols[i].type = KL_PQ_INT64;
		}
		struct kl_pq_opts o;
		kl_pq_opts_default(&o);
		struct kl_buf out;
		kl_buf_init(&out, 0);
		struct kl_errbuf eb;
		kl_errbuf_clear(&eb);
		struct kl_pq_writer *w = NULL;
		CHECK_EQ_INT(kl_pq_writer_new(&w, cols, n, &o, buf_sink, &out, &eb), KL_OK);
		kl_pq_writer_free(w);
		snprintf(names[n - 1], sizeof names[n - 1], "%s", names[(n - 1) / 2]); /* a repeat */
		kl_errbuf_clear(&eb);
		w = NULL;
		CHECK_EQ_INT(kl_pq_writer_new(&w, cols, n, &o, buf_sink, &out, &eb), KL_EINVAL);
		CHECK(w == NULL);
		char want[48];
		snprintf(want, sizeof want, "parquet: duplicate column %s", names[(n - 1) / 2]);
		CHECK_EQ_STR(eb.msg, want);
		kl_buf_cleanup(&out);
	}
}

int main(int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[1], "--random") == 0) {
		mkdir(argv[2], 0777);
		long n = strtol(argv[3], NULL, 10);
		for (long i = 0; i < n; i++)
			if (random_file(argv[2], (uint64_t)i)) {
				fprintf(stderr, "random file %ld failed\n", i);
				return 1;
			}
		return 0;
	}
	char tmpl[256];
	outdir = getenv("KL_PQ_OUT");
	int own = !(outdir && *outdir); /* a dir of our own: removed after a pass */
	if (!own) {
		if (mkdir(outdir, 0777) && errno != EEXIST) {
			perror(outdir);
			return 1;
		}
	} else {
		outdir = kl_test_mkdtemp(tmpl, sizeof tmpl, "kl_pq_");
	}
	test_thrift();
	test_delta();
	test_tiny();
	test_codecs_and_determinism();
	test_raw_chunks();
	test_dict_fallback();
	test_multi();
	test_encoding_choice();
	test_double_stats();
	test_all_null();
	test_random_smoke();
	test_encode_streamed();
	test_rescue();
	test_duplicate_columns();
	/* ~7.5 MB of samples: kept where KL_PQ_OUT asked for them, or for a
	 * look at a failure; a passing run of its own leaves nothing */
	if (own && !check_failures)
		CHECK(nftw(outdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS) == 0);
	if (!own || check_failures)
		fprintf(stderr, "sample files in %s\n", outdir);
	return check_report("test_parquet");
}
