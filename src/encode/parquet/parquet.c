/* parquet.c — see parquet.h. Writer API, row buffering, column chunk and row
 * group layout. Spec: parquet-format README "File format", "Column chunks",
 * "Nulls" (definition levels of an OPTIONAL leaf: 0 null, 1 present);
 * parquet.thrift Statistics (min_value/max_value, -0.0/+0.0 and NaN rules for
 * floating point, unsigned byte-wise order for UTF-8 strings). */
#include "encode/parquet/parquet.h"

#include "core/array.h"
#include "core/buf.h"
#include "encode/parquet/pq_internal.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char MAGIC[4] = {'P', 'A', 'R', '1'};

void kl_pq_opts_default(struct kl_pq_opts *o)
{
	o->codec = KL_PQ_ZSTD;
	o->level = 0;
	o->page_bytes = (size_t)1 << 20;
	o->row_group_bytes = (size_t)128 << 20;
	o->dict_max_bytes = (size_t)1 << 20;
	o->created_by = "kinlake " KL_VERSION;
}

static void col_init(struct pq_col *c)
{
	memset(c, 0, sizeof *c);
	kl_buf_init(&c->defs, 0);
	kl_buf_init(&c->vals, 0);
	kl_buf_init(&c->pages, 0);
	kl_buf_init(&c->min_s, 0);
	kl_buf_init(&c->max_s, 0);
	pq_dict_init(&c->dict);
}

static void col_cleanup(struct pq_col *c)
{
	kl_buf_cleanup(&c->defs);
	kl_buf_cleanup(&c->vals);
	kl_buf_cleanup(&c->pages);
	kl_buf_cleanup(&c->min_s);
	kl_buf_cleanup(&c->max_s);
	pq_dict_cleanup(&c->dict);
}

/* Release what a large file left (see PQ_KEEP_BYTES). */
static void writer_shrink(struct kl_pq_writer *w)
{
	for (size_t i = 0; i < w->cols_cap; i++) {
		struct pq_col *c = &w->cols[i];
		kl_buf_shrink(&c->defs, PQ_KEEP_BYTES);
		kl_buf_shrink(&c->vals, PQ_KEEP_BYTES);
		kl_buf_shrink(&c->pages, PQ_KEEP_BYTES);
		pq_dict_shrink(&c->dict, PQ_KEEP_BYTES);
	}
	kl_buf_shrink(&w->page, PQ_KEEP_BYTES);
	kl_buf_shrink(&w->comp, PQ_KEEP_BYTES);
	kl_buf_shrink(&w->comp_alt, PQ_KEEP_BYTES);
	kl_buf_shrink(&w->hdr, PQ_KEEP_BYTES);
}

/* Start a new column chunk (buffers keep their capacity). */
static void col_chunk_reset(struct pq_col *c)
{
	kl_buf_reset(&c->defs);
	kl_buf_reset(&c->vals);
	kl_buf_reset(&c->pages);
	kl_buf_reset(&c->min_s);
	kl_buf_reset(&c->max_s);
	pq_dict_reset(&c->dict);
	c->set = 0;
	c->page_rows = c->page_vals = 0;
	c->page_plain = 0;
	c->dict_on = c->type != KL_PQ_BOOLEAN;
	c->dict_judged = 0;
	c->n_pages = c->n_dict_pages = 0;
	c->enc_mask = 0;
	c->chunk_rows = c->chunk_nulls = 0;
	c->chunk_uncomp = c->chunk_comp = 0;
	c->raw = 0;
	c->has_mm = 0;
}

static int name_order(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* A name that two columns share, NULL if none (or out of memory: *oom):
 * pairwise for a few columns, sorted beyond (an event of 65,536 top-level
 * keys made a file of as many columns: the pairwise check had 61 % of a
 * 7.2 s ingest's samples). */
static const char *duplicate_name(const struct kl_pq_column *cols, size_t n, int *oom)
{
	*oom = 0;
	if (n <= 64) {
		for (size_t i = 1; i < n; i++)
			for (size_t j = 0; j < i; j++)
				if (strcmp(cols[j].name, cols[i].name) == 0)
					return cols[i].name;
		return NULL;
	}
	const char **names = malloc(n * sizeof *names);
	if (!names) {
		*oom = 1;
		return NULL;
	}
	for (size_t i = 0; i < n; i++)
		names[i] = cols[i].name;
	qsort(names, n, sizeof *names, name_order);
	const char *dup = NULL;
	for (size_t i = 1; i < n && !dup; i++)
		if (strcmp(names[i - 1], names[i]) == 0)
			dup = names[i];
	free(names);
	return dup;
}

static int set_schema(struct kl_pq_writer *w, const struct kl_pq_column *cols, size_t ncols)
{
	if (!cols || ncols == 0 || ncols > INT32_MAX - 1)
		return pq_fail(w, KL_EINVAL, "parquet: need at least one column");
	if (ncols > w->cols_cap) {
		struct pq_col *nc = realloc(w->cols, ncols * sizeof *nc);
		if (!nc)
			return pq_fail(w, KL_ENOMEM, "parquet: out of memory");
		for (size_t i = w->cols_cap; i < ncols; i++)
			col_init(&nc[i]);
		w->cols = nc;
		w->cols_cap = ncols;
	}
	kl_buf_reset(&w->names);
	w->ncols = ncols;
	for (size_t i = 0; i < ncols; i++)
		if (!cols[i].name || !*cols[i].name)
			return pq_fail(w, KL_EINVAL, "parquet: column %zu has no name", i);
	int oom;
	const char *dup = duplicate_name(cols, ncols, &oom);
	if (oom)
		return pq_fail(w, KL_ENOMEM, "parquet: out of memory");
	if (dup)
		return pq_fail(w, KL_EINVAL, "parquet: duplicate column %s", dup);
	for (size_t i = 0; i < ncols; i++) {
		const char *n = cols[i].name;
		if ((unsigned)cols[i].type > KL_PQ_STRING)
			return pq_fail(w, KL_EINVAL, "parquet: column %s: bad type %d", n,
				       (int)cols[i].type);
		struct pq_col *c = &w->cols[i];
		size_t len = strlen(n);
		if (len > UINT32_MAX || w->names.len > UINT32_MAX - len)
			return pq_fail(w, KL_ELIMIT, "parquet: column names too long");
		c->name_off = (uint32_t)w->names.len;
		c->name_len = (uint32_t)len;
		if (kl_buf_append(&w->names, n, len))
			return pq_fail(w, KL_ENOMEM, "parquet: out of memory");
		c->type = cols[i].type;
		c->file_vals = c->file_plain = 0;
		c->hinted = 0;
		col_chunk_reset(c);
	}
	return KL_OK;
}

static void file_reset(struct kl_pq_writer *w, kl_pq_write_fn fn, void *ctx)
{
	w->err = KL_OK;
	w->fn = fn;
	w->ctx = ctx;
	w->rows = 0;
	w->rg_rows = 0;
	w->rg_est = 0;
	w->row_open = 0;
	w->offset = 0;
	w->nrg = 0;
	kl_buf_reset(&w->stats);
}

int kl_pq_writer_new(struct kl_pq_writer **out, const struct kl_pq_column *cols, size_t ncols,
		     const struct kl_pq_opts *o, kl_pq_write_fn fn, void *ctx,
		     struct kl_errbuf *eb)
{
	*out = NULL;
	if (!fn)
		return kl_errbuf_set(eb, KL_EINVAL, "parquet: no output function");
	struct kl_pq_writer *w = calloc(1, sizeof *w);
	if (!w)
		return kl_errbuf_set(eb, KL_ENOMEM, "parquet: out of memory");
	w->eb = eb;
	if (o)
		w->o = *o;
	else
		kl_pq_opts_default(&w->o);
	struct kl_pq_opts d;
	kl_pq_opts_default(&d);
	if (!w->o.page_bytes)
		w->o.page_bytes = d.page_bytes;
	if (!w->o.row_group_bytes)
		w->o.row_group_bytes = d.row_group_bytes;
	if (!w->o.dict_max_bytes)
		w->o.dict_max_bytes = d.dict_max_bytes;
	if (!w->o.created_by)
		w->o.created_by = "kinlake";
	kl_buf_init(&w->created_by, 0);
	kl_buf_init(&w->names, 0);
	kl_buf_init(&w->stats, 0);
	kl_buf_init(&w->page, 0);
	kl_buf_init(&w->comp, 0);
	kl_buf_init(&w->comp_alt, 0);
	kl_buf_init(&w->hdr, 0);
	int rc = KL_OK;
	if ((unsigned)w->o.codec > KL_PQ_ZSTD)
		rc = pq_fail(w, KL_EINVAL, "parquet: bad codec %d", (int)w->o.codec);
	else if (kl_buf_append(&w->created_by, w->o.created_by, strlen(w->o.created_by) + 1))
		rc = pq_fail(w, KL_ENOMEM, "parquet: out of memory");
	if (!rc) {
		w->o.created_by = w->created_by.data;
		file_reset(w, fn, ctx);
		rc = pq_codec_init(w);
	}
	if (!rc)
		rc = set_schema(w, cols, ncols);
	if (rc) {
		kl_pq_writer_free(w);
		return rc;
	}
	*out = w;
	return KL_OK;
}

int kl_pq_writer_reset(struct kl_pq_writer *w, const struct kl_pq_column *cols, size_t ncols,
		       kl_pq_write_fn fn, void *ctx)
{
	if (!fn)
		return KL_EINVAL;
	file_reset(w, fn, ctx);
	return set_schema(w, cols, ncols);
}

void kl_pq_writer_free(struct kl_pq_writer *w)
{
	if (!w)
		return;
	for (size_t i = 0; i < w->cols_cap; i++)
		col_cleanup(&w->cols[i]);
	free(w->cols);
	free(w->rgs);
	free(w->chunks);
	kl_buf_cleanup(&w->created_by);
	kl_buf_cleanup(&w->names);
	kl_buf_cleanup(&w->stats);
	kl_buf_cleanup(&w->page);
	kl_buf_cleanup(&w->comp);
	kl_buf_cleanup(&w->comp_alt);
	kl_buf_cleanup(&w->hdr);
	pq_codec_free(w);
	free(w);
}

static int emit(struct kl_pq_writer *w, const void *p, size_t n)
{
	if (!n)
		return KL_OK;
	if (w->fn(w->ctx, p, n) != 0)
		return pq_fail(w, KL_EIO, "parquet: output failed at offset %llu",
			       (unsigned long long)w->offset);
	w->offset += n;
	return KL_OK;
}

/* ---- values ---------------------------------------------------------- */

static int begin_put(struct kl_pq_writer *w, size_t col, int type, struct pq_col **out)
{
	if (w->err)
		return w->err;
	if (col >= w->ncols)
		return pq_fail(w, KL_EINVAL, "parquet: column %zu out of range", col);
	struct pq_col *c = &w->cols[col];
	if (type >= 0 && (enum kl_pq_type)type != c->type)
		return pq_fail(w, KL_EINVAL, "parquet: column %.*s: wrong value type",
			       (int)c->name_len, w->names.data + c->name_off);
	if (c->set)
		return pq_fail(w, KL_EINVAL, "parquet: column %.*s set twice in one row",
			       (int)c->name_len, w->names.data + c->name_off);
	*out = c;
	return KL_OK;
}

static size_t page_estimate(const struct pq_col *c)
{
	size_t e = c->page_rows / 8 + 1;
	if (c->dict_on && c->dict.n > 1) {
		int bw = 32 - __builtin_clz(c->dict.n - 1); /* bits of dict.n - 1 */
		return e + (size_t)c->page_vals * (size_t)bw / 8;
	}
	return e + c->page_plain;
}

/* Record the definition level of a value just put (or a null). */
static int finish_put(struct kl_pq_writer *w, struct pq_col *c, int def, size_t plain)
{
	if (kl_buf_putc(&c->defs, (char)def))
		return pq_fail(w, KL_ENOMEM, "parquet: out of memory");
	c->set = 1;
	w->row_open = 1;
	c->page_rows++;
	c->chunk_rows++;
	if (def)
		c->page_vals++;
	else
		c->chunk_nulls++;
	c->page_plain += plain;
	c->file_vals += (unsigned)def;
	c->file_plain += plain;
	w->rg_est += plain + 1;
	if (c->page_rows >= PQ_PAGE_MAX_ROWS || page_estimate(c) >= w->o.page_bytes)
		return pq_flush_page(w, c, 0);
	return KL_OK;
}

int kl_pq_writer_hint(struct kl_pq_writer *w, size_t col, uint64_t values, uint64_t plain_bytes,
		      uint64_t rows)
{
	if (col >= w->ncols || w->cols[col].type == KL_PQ_BOOLEAN)
		return KL_EINVAL;
	struct pq_col *c = &w->cols[col];
	if (values > UINT64_MAX - c->file_vals || plain_bytes > UINT64_MAX - c->file_plain ||
	    rows > UINT64_MAX - w->rows)
		return KL_EINVAL;
	c->hinted = 1;
	c->hint_vals_end = c->file_vals + values;
	c->hint_plain_end = c->file_plain + plain_bytes;
	w->hint_rows_end = w->rows + rows;
	return KL_OK;
}

/* Whether the PQ_DICT_PROBE judgement of c's dictionary, still to come, is
 * sure to drop it and nothing between now and then depends on whether it
 * is still there (kl_pq_writer_hint). The judgement comes at the first
 * page flush or the PQ_DICT_PROBE-th value (or, dropping, at the
 * PQ_DICT_EARLY-th: only ever sooner), so with at most J values by
 * then (J: the values still promised, capped at PQ_DICT_PROBE) and
 * dictionary entries only ever added, n * 2 > J now means over half
 * distinct then. Until then the dictionary could change the output only
 * by filling up (flushing a page early) or by its page estimate; the
 * promised PLAIN bytes bound both: entries are a subset of the values,
 * and the dictionary estimate never exceeds the PLAIN one. */
static int dict_sure_to_drop(const struct kl_pq_writer *w, const struct pq_col *c)
{
	uint64_t n2 = (uint64_t)c->dict.n * 2;
	if (!c->hinted || n2 <= c->page_vals || c->n_dict_pages ||
	    c->file_vals > c->hint_vals_end || c->file_plain > c->hint_plain_end ||
	    w->rows > w->hint_rows_end)
		return 0;
	uint64_t j = c->page_vals + (c->hint_vals_end - c->file_vals);
	if (n2 <= (j < PQ_DICT_PROBE ? j : PQ_DICT_PROBE))
		return 0;
	uint64_t plain = c->page_plain + (c->hint_plain_end - c->file_plain);
	uint64_t rows = c->page_rows + (w->hint_rows_end - w->rows);
	return plain <= w->o.dict_max_bytes && rows / 8 + 1 + plain < w->o.page_bytes;
}

/* Dictionary-encode `key` or append its PLAIN form. *seen (may be NULL)
 * tells whether the value was already in the chunk's dictionary. */
static int put_value(struct kl_pq_writer *w, struct pq_col *c, const void *key, size_t klen,
		     int *seen)
{
	int ba = c->type == KL_PQ_STRING;
	size_t plain = klen + (ba ? 4 : 0);
	if (c->dict_on && !c->dict_judged &&
	    (c->page_vals >= PQ_DICT_PROBE ||
	     (c->page_vals == PQ_DICT_EARLY &&
	      (uint64_t)c->dict.n * PQ_DICT_EARLY_DEN > (uint64_t)PQ_DICT_EARLY * PQ_DICT_EARLY_NUM) ||
	     dict_sure_to_drop(w, c))) {
		int rc = pq_dict_judge(w, c);
		if (rc)
			return rc;
	}
	if (c->dict_on) {
		uint32_t idx, n0 = c->dict.n;
		int rc = pq_dict_add(&c->dict, key, klen, ba, w->o.dict_max_bytes, &idx);
		if (rc < 0)
			return pq_fail(w, KL_ENOMEM, "parquet: out of memory");
		if (rc == 0) {
			if (seen)
				*seen = c->dict.n == n0;
			if (kl_buf_append(&c->vals, &idx, 4))
				return pq_fail(w, KL_ENOMEM, "parquet: out of memory");
			return finish_put(w, c, 1, plain);
		}
		/* Dictionary full: close the dictionary-encoded page; the rest of
		 * this column chunk is PLAIN. */
		if ((rc = pq_flush_page(w, c, 0)))
			return rc;
		c->dict_on = 0;
	}
	if (kl_buf_reserve(&c->vals, plain))
		return pq_fail(w, KL_ENOMEM, "parquet: out of memory");
	if (ba) {
		uint8_t le[4];
		pq_le32(le, (uint32_t)klen);
		kl_buf_put(&c->vals, le, 4);
	}
	if (klen)
		kl_buf_put(&c->vals, key, klen);
	return finish_put(w, c, 1, plain);
}

int kl_pq_put_null(struct kl_pq_writer *w, size_t col)
{
	struct pq_col *c = NULL;
	int rc = begin_put(w, col, -1, &c);
	return rc ? rc : finish_put(w, c, 0, 0);
}

int kl_pq_put_bool(struct kl_pq_writer *w, size_t col, int v)
{
	struct pq_col *c = NULL;
	int rc = begin_put(w, col, KL_PQ_BOOLEAN, &c);
	if (rc)
		return rc;
	v = !!v;
	if (kl_buf_putc(&c->vals, (char)v))
		return pq_fail(w, KL_ENOMEM, "parquet: out of memory");
	if (!c->has_mm) {
		c->min_i = c->max_i = v;
		c->has_mm = 1;
	} else if (v < c->min_i) {
		c->min_i = v;
	} else if (v > c->max_i) {
		c->max_i = v;
	}
	/* One bit each; count a byte per 8 values in the estimate. */
	return finish_put(w, c, 1, (c->page_vals % 8) == 0);
}

int kl_pq_put_i64(struct kl_pq_writer *w, size_t col, int64_t v)
{
	struct pq_col *c = NULL;
	int rc = begin_put(w, col, KL_PQ_INT64, &c);
	if (rc)
		return rc;
	if (!c->has_mm) {
		c->min_i = c->max_i = v;
		c->has_mm = 1;
	} else if (v < c->min_i) {
		c->min_i = v;
	} else if (v > c->max_i) {
		c->max_i = v;
	}
	uint8_t le[8];
	pq_le64(le, (uint64_t)v);
	return put_value(w, c, le, 8, NULL);
}

int kl_pq_put_double(struct kl_pq_writer *w, size_t col, double v)
{
	struct pq_col *c = NULL;
	int rc = begin_put(w, col, KL_PQ_DOUBLE, &c);
	if (rc)
		return rc;
	if (!isnan(v)) { /* NaN never enters min/max */
		if (!c->has_mm) {
			c->min_d = c->max_d = v;
			c->has_mm = 1;
		} else if (v < c->min_d) {
			c->min_d = v;
		} else if (v > c->max_d) {
			c->max_d = v;
		}
	}
	uint64_t u;
	memcpy(&u, &v, 8);
	uint8_t le[8];
	pq_le64(le, u);
	return put_value(w, c, le, 8, NULL);
}

/* Unsigned byte-wise lexicographic comparison (UTF-8 type-defined order). */
static int bytes_cmp(const void *a, size_t an, const void *b, size_t bn)
{
	size_t n = an < bn ? an : bn;
	int r = n ? memcmp(a, b, n) : 0;
	if (r)
		return r;
	return an < bn ? -1 : an > bn;
}

int kl_pq_put_string(struct kl_pq_writer *w, size_t col, const char *p, size_t n)
{
	struct pq_col *c = NULL;
	int rc = begin_put(w, col, KL_PQ_STRING, &c);
	if (rc)
		return rc;
	if (n > INT32_MAX - 64)
		return pq_fail(w, KL_ELIMIT, "parquet: string of %zu bytes too long", n);
	if (!p && n)
		return pq_fail(w, KL_EINVAL, "parquet: NULL string");
	/* A value already in the chunk's dictionary was already compared:
	 * min/max only look at new ones (after putting the value, which
	 * touches no statistics). */
	int seen = 0;
	if ((rc = put_value(w, c, p ? p : "", n, &seen)) || seen)
		return rc;
	if (!c->has_mm) {
		c->has_mm = 1;
		kl_buf_reset(&c->min_s);
		kl_buf_reset(&c->max_s);
		if (kl_buf_append(&c->min_s, p, n) || kl_buf_append(&c->max_s, p, n))
			return pq_fail(w, KL_ENOMEM, "parquet: out of memory");
	} else if (bytes_cmp(p, n, c->min_s.data, c->min_s.len) < 0) {
		kl_buf_reset(&c->min_s);
		if (kl_buf_append(&c->min_s, p, n))
			return pq_fail(w, KL_ENOMEM, "parquet: out of memory");
	} else if (bytes_cmp(p, n, c->max_s.data, c->max_s.len) > 0) {
		kl_buf_reset(&c->max_s);
		if (kl_buf_append(&c->max_s, p, n))
			return pq_fail(w, KL_ENOMEM, "parquet: out of memory");
	}
	return KL_OK;
}

/* ---- row groups ------------------------------------------------------ */

static int start_file(struct kl_pq_writer *w)
{
	return w->offset == 0 ? emit(w, MAGIC, 4) : KL_OK;
}

/* Append the chunk's PLAIN-encoded min/max to w->stats, per the
 * Statistics rules of parquet.thrift. */
static int chunk_stats(struct kl_pq_writer *w, const struct pq_col *c, struct pq_chunk_meta *m)
{
	m->has_mm = c->has_mm;
	if (!c->has_mm)
		return KL_OK;
	uint8_t mn[8], mx[8];
	const void *pmin = mn, *pmax = mx;
	size_t nmin = 8, nmax = 8;
	switch (c->type) {
	case KL_PQ_BOOLEAN:
		mn[0] = (uint8_t)c->min_i;
		mx[0] = (uint8_t)c->max_i;
		nmin = nmax = 1;
		break;
	case KL_PQ_INT64:
		pq_le64(mn, (uint64_t)c->min_i);
		pq_le64(mx, (uint64_t)c->max_i);
		break;
	case KL_PQ_DOUBLE: {
		/* A zero min is written as -0.0 and a zero max as +0.0. */
		double dmin = c->min_d == 0.0 ? -0.0 : c->min_d;
		double dmax = c->max_d == 0.0 ? 0.0 : c->max_d;
		uint64_t u;
		memcpy(&u, &dmin, 8);
		pq_le64(mn, u);
		memcpy(&u, &dmax, 8);
		pq_le64(mx, u);
		break;
	}
	case KL_PQ_STRING:
		pmin = c->min_s.data;
		nmin = c->min_s.len;
		pmax = c->max_s.data;
		nmax = c->max_s.len;
		break;
	}
	m->min_off = w->stats.len;
	m->min_len = nmin;
	if (kl_buf_append(&w->stats, pmin, nmin))
		return pq_fail(w, KL_ENOMEM, "parquet: out of memory");
	m->max_off = w->stats.len;
	m->max_len = nmax;
	if (kl_buf_append(&w->stats, pmax, nmax))
		return pq_fail(w, KL_ENOMEM, "parquet: out of memory");
	return KL_OK;
}

static int flush_row_group(struct kl_pq_writer *w)
{
	if (w->rg_rows == 0)
		return KL_OK;
	int rc = start_file(w);
	if (rc)
		return rc;
	if (KL_ARRAY_GROW(w->rgs, w->nrg, w->rgs_cap, 4))
		return pq_fail(w, KL_ENOMEM, "parquet: out of memory");
	size_t need = (w->nrg + 1) * w->ncols;
	if (need > w->chunks_cap) {
		size_t cap = w->chunks_cap ? w->chunks_cap : 16;
		while (cap < need)
			cap *= 2;
		struct pq_chunk_meta *m = realloc(w->chunks, cap * sizeof *m);
		if (!m)
			return pq_fail(w, KL_ENOMEM, "parquet: out of memory");
		w->chunks = m;
		w->chunks_cap = cap;
	}
	struct pq_rg_meta *g = &w->rgs[w->nrg];
	g->num_rows = w->rg_rows;
	g->total_uncomp = g->total_comp = 0;
	g->file_offset = (int64_t)w->offset;
	for (size_t i = 0; i < w->ncols; i++) {
		struct pq_col *c = &w->cols[i];
		struct pq_chunk_meta *m = &w->chunks[w->nrg * w->ncols + i];
		if ((rc = pq_flush_page(w, c, 1)))
			return rc;
		memset(m, 0, sizeof *m);
		m->codec = c->raw ? KL_PQ_UNCOMPRESSED : w->o.codec;
		m->ptype = (uint8_t)(c->type == KL_PQ_BOOLEAN ? PQ_T_BOOLEAN
				     : c->type == KL_PQ_INT64 ? PQ_T_INT64
				     : c->type == KL_PQ_DOUBLE ? PQ_T_DOUBLE
							       : PQ_T_BYTE_ARRAY);
		m->enc_mask = c->enc_mask;
		m->num_values = c->chunk_rows;
		m->null_count = c->chunk_nulls;
		m->data_pages = c->n_pages;
		m->dict_data_pages = c->n_dict_pages;
		m->uncomp = c->chunk_uncomp;
		m->comp = c->chunk_comp;
		m->dict_off = -1;
		if (c->n_dict_pages) {
			const void *body;
			size_t blen;
			int64_t du, dc;
			if ((rc = pq_build_dict_page(w, c, &body, &blen, &du, &dc)))
				return rc;
			m->dict_off = (int64_t)w->offset;
			if ((rc = emit(w, w->hdr.data, w->hdr.len)) || (rc = emit(w, body, blen)))
				return rc;
			m->uncomp += du;
			m->comp += dc;
			m->enc_mask |= PQ_EM_PLAIN;
		}
		m->data_off = (int64_t)w->offset;
		if ((rc = emit(w, c->pages.data, c->pages.len)))
			return rc;
		if ((rc = chunk_stats(w, c, m)))
			return rc;
		g->total_uncomp += m->uncomp;
		g->total_comp += m->comp;
		col_chunk_reset(c);
	}
	w->nrg++;
	w->rg_rows = 0;
	w->rg_est = 0;
	return KL_OK;
}

int kl_pq_end_row(struct kl_pq_writer *w)
{
	if (w->err)
		return w->err;
	for (size_t i = 0; i < w->ncols; i++) {
		struct pq_col *c = &w->cols[i];
		if (!c->set) {
			int rc = finish_put(w, c, 0, 0);
			if (rc)
				return rc;
		}
		c->set = 0;
	}
	w->row_open = 0;
	w->rows++;
	w->rg_rows++;
	if (w->rg_est >= w->o.row_group_bytes)
		return flush_row_group(w);
	return KL_OK;
}

int kl_pq_writer_finish(struct kl_pq_writer *w)
{
	if (w->err)
		return w->err;
	if (w->row_open)
		return pq_fail(w, KL_EINVAL, "parquet: finish with an unfinished row");
	int rc = flush_row_group(w);
	if (!rc)
		rc = start_file(w);
	if (rc)
		return rc;
	kl_buf_reset(&w->hdr);
	if (pq_footer(w, &w->hdr) || w->hdr.len > UINT32_MAX)
		return pq_fail(w, KL_ENOMEM, "parquet: footer encoding failed");
	uint8_t tail[8];
	pq_le32(tail, (uint32_t)w->hdr.len);
	memcpy(tail + 4, MAGIC, 4);
	if ((rc = emit(w, w->hdr.data, w->hdr.len)) || (rc = emit(w, tail, 8)))
		return rc;
	writer_shrink(w);
	return KL_OK;
}

uint64_t kl_pq_writer_rows(const struct kl_pq_writer *w) { return w->rows; }
uint64_t kl_pq_writer_bytes_written(const struct kl_pq_writer *w) { return w->offset; }
size_t kl_pq_writer_row_groups(const struct kl_pq_writer *w) { return w->nrg; }

int kl_pq_writer_chunk_info(const struct kl_pq_writer *w, size_t rg, size_t col,
			    struct kl_pq_chunk_info *out)
{
	if (rg >= w->nrg || col >= w->ncols)
		return KL_EINVAL;
	const struct pq_chunk_meta *m = &w->chunks[rg * w->ncols + col];
	out->num_values = m->num_values;
	out->data_page_offset = m->data_off;
	out->dict_page_offset = m->dict_off;
	out->data_pages = m->data_pages;
	out->dict_data_pages = m->dict_data_pages;
	out->null_count = m->null_count;
	out->has_min_max = m->has_mm;
	out->total_compressed = m->comp;
	out->total_uncompressed = m->uncomp;
	out->encodings = pq_encodings_of(m->enc_mask);
	out->codec = m->codec;
	return KL_OK;
}
