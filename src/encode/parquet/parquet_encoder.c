/*
 * parquet_encoder.c — the Parquet kl_encoder: JSON lines -> one typed file.
 *
 * One scan of each buffered enriched event: the non-validating splitter
 * (kl_json_split_valid: the prep step validated every line), or for a row
 * (event/row.h: what the pipeline buffers) kl_row_split, finds its
 * top-level members, each member's column is looked up once, its JSON type
 * widens the file's schema (encode/parquet/schema.h), and the member is
 * recorded on a "tape" (column, value span, type, flags: 12 bytes). Once all
 * lines are seen the schema is final, and the rows are put into the writer
 * from the tape, touching only value bytes (numbers are converted without
 * strtod where exact: parse/num.h). The tape is capped (TAPE_MAX_BYTES);
 * rows past the cap are split a second time, as before the tape existed, so
 * a huge file costs bounded memory. Either way the output is the same.
 * A partition's buffer (encode_blocks) over the encoder's stream_min
 * (encoder.h KL_PQ_STREAM_BYTES, or less) is never unpacked whole: it is
 * read block by block twice, the first scan without a tape, the second
 * splitting every row again and freeing each block once read; a line cut
 * between two blocks is gathered in `carry`. Same rows, schema and hints,
 * so the same file as from the whole text.
 * Every row keeps every field: strings are decoded, objects/arrays are
 * stored as minified JSON text, and a field widened to STRING keeps other
 * values as their JSON text. The file's schema is merged into the lake's
 * schema registry.
 *
 * Columns are capped (kl_encoder_opts.max_columns, KL_PQ_MAX_COLUMNS by
 * default): once a file's schema holds max_columns - 1 columns, a member
 * whose key has no column yet is not given one but rescued: the row's
 * rescued members, as a JSON object of their raw keys and (minified)
 * values in row order, go into one last STRING column, KL_PQ_RESCUE_COLUMN
 * (schema.h). A member named like that column is always rescued, and so
 * is one whose name cannot be a column's (empty, or with a NUL byte). Which
 * keys are columns depends only on the file's rows in order (first seen
 * first), so the file is still a function of its rows. A row with rescued
 * members is split again in the second pass rather than taped (the tape
 * keeps no keys): only files that overflow pay for it.
 */
#include "encode/encoder.h"
#include "buffer/blocks.h"
#include "encode/parquet/parquet.h"
#include "encode/parquet/schema.h"
#include "event/row.h"
#include "parse/json.h"
#include "parse/num.h"
#include "route/partition.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One member of one row, as found by the first scan. */
struct tape_val {
	uint32_t off;      /* value start, from the line start */
	uint32_t len;      /* value bytes (a string with its quotes) */
	uint32_t col : 24; /* schema column (rows that could add 2^24 columns are not taped) */
	uint32_t type : 4; /* enum kl_json_type */
	uint32_t esc : 1;  /* string value has a backslash escape */
	uint32_t ws : 1;   /* object/array value has insignificant whitespace */
};

_Static_assert(sizeof(struct tape_val) == 12, "tape entries are 12 bytes");

/* One row on the tape: its line and its members' tape_vals. */
struct tape_row {
	size_t line;    /* line start, from the buffer start */
	uint32_t nvals; /* tape_vals of this row (they follow the previous row's) */
	uint32_t pad_;
};

/* Per column of the file: non-null values and their raw bytes, for
 * kl_pq_writer_hint. A value's raw text is never shorter than what is put
 * (decoding and minifying only shrink it). */
struct col_hint {
	uint64_t vals, bytes;
};

/* Tape bytes per file at most (rows + values); rows past it are split
 * again in the second pass. 4 MiB holds ~13k rows of 25 members (a
 * partition-hour of the production stream is ~2k). */
#ifndef TAPE_MAX_BYTES /* a build may set a small one to test the fallback */
#define TAPE_MAX_BYTES ((size_t)4 << 20)
#endif

struct pq_encoder {
	struct kl_encoder base;
	struct kl_pq_opts opts;
	struct kl_pq_writer *w;
	struct kl_schema schema;
	struct kl_json_doc doc;
	struct kl_buf scratch;
	struct kl_buf tape_rows; /* struct tape_row per taped row */
	struct kl_buf tape_vals; /* struct tape_val per taped member */
	struct kl_buf hints;     /* struct col_hint per schema column */
	uint64_t rows;           /* lines of the file */
	/* member position -> column, column -> the column that followed it,
	 * as last seen (one block, colmap_cap each; -1: none) */
	long *colmap, *succ;
	size_t colmap_cap;
	struct kl_store *store; /* borrowed: the schema registry lives there */
	struct kl_schema_registry *registry; /* borrowed, shared by the lake's writers */
	struct kl_errbuf werr;
	int deferred;		/* a clone: the registry merge waits for publish() */
	struct kl_buf pending;	/* ... of this event type (decoded), "" = none */
	int has_pending;
	int etype_seen;		/* pending holds this file's event type */
	struct kl_buf carry;	/* a line cut between two pieces (encode_streamed) */
	size_t stream_min;	/* a larger text is encoded from its blocks */
	size_t max_cols;	/* columns a file has at most, the rescue column included */
	long rescue_col;	/* this file's KL_PQ_RESCUE_COLUMN, -1: none (nothing rescued) */
	struct col_hint rescue_hint; /* its values and their bytes, until the column exists */
	struct kl_buf rescued;	/* the row being put: its rescued members, "{...}" */
};

static const char *const common[] = {"event_uuid",       "event_name", "created_at",
				     "created_datetime", "event_type", "event_subtype"};

static int member_name(struct pq_encoder *e, const struct kl_json_member *m, const char **p,
		       size_t *n)
{
	if (!m->key_esc) {
		*p = m->key;
		*n = m->key_len;
		return 0;
	}
	kl_buf_reset(&e->scratch);
	if (kl_buf_reserve(&e->scratch, m->key_len))
		return KL_ENOMEM;
	*n = kl_json_unescape(m->key, m->key_len, e->scratch.data);
	*p = e->scratch.data;
	return 0;
}

/* The members of one buffered event: a row (event/row.h, what the
 * pipeline buffers for Parquet) or an enriched JSON line (the prep step
 * validated it). Nonzero when it is neither. */
static int split_line(struct pq_encoder *e, const char *l, size_t ln)
{
	if (kl_row_is(l, ln))
		return kl_row_split(l, ln, &e->doc);
	return kl_json_split_valid(l, ln, &e->doc) || e->doc.top != KL_JSON_OBJECT;
}

/* Iterate over lines; fn gets each line. */
#define FOR_EACH_LINE(lines, n, l, ln)                                                             \
	for (const char *l = (lines), *end_ = (lines) + (n), *nl_;                                  \
	     l < end_ && (nl_ = memchr(l, '\n', (size_t)(end_ - l)), 1);                            \
	     l = nl_ ? nl_ + 1 : end_)                                                             \
		for (size_t ln = nl_ ? (size_t)(nl_ - l) : (size_t)(end_ - l), once_ = 1; once_;      \
		     once_ = 0)

static int fits_int64(const struct kl_json_member *m)
{
	int64_t v;
	if (kl_num_i64_fast(m->val, m->val_len, &v))
		return 1;
	char num[512];
	size_t k = m->val_len < sizeof num - 1 ? m->val_len : sizeof num - 1;
	memcpy(num, m->val, k);
	num[k] = '\0';
	errno = 0;
	(void)strtoll(num, NULL, 10);
	return errno != ERANGE;
}

/* Is column c named like m's (unescaped) key? */
static inline int name_is(const struct pq_encoder *e, long c, const struct kl_json_member *m)
{
	const struct kl_schema_col *col = &e->schema.cols[c];
	return col->name_len == m->key_len &&
	       kl_bytes_eq(e->schema.arena.data + col->name_off, m->key, m->key_len);
}

/* Remember column c at member position i, and as the successor of column
 * `prev` (the previous member's, -1 for the first). */
static void column_seen(struct pq_encoder *e, size_t i, long prev, long c)
{
	size_t need = i > (size_t)c ? i : (size_t)c; /* colmap and succ share a capacity */
	if (need >= e->colmap_cap) {
		size_t cap = e->colmap_cap ? e->colmap_cap : 64;
		while (cap <= need)
			cap *= 2;
		long *m2 = malloc(2 * cap * sizeof *m2);
		if (!m2)
			return; /* only a hint */
		for (size_t j = 0; j < 2 * cap; j++)
			m2[j] = -1;
		if (e->colmap_cap) {
			memcpy(m2, e->colmap, e->colmap_cap * sizeof *m2);
			memcpy(m2 + cap, e->succ, e->colmap_cap * sizeof *m2);
		}
		free(e->colmap);
		e->colmap = m2;
		e->succ = m2 + cap;
		e->colmap_cap = cap;
	}
	e->colmap[i] = c;
	if (prev >= 0)
		e->succ[prev] = c;
}

/* column_of's answers besides a column index */
#define COL_NONE (-1)  /* no column: the member is rescued */
#define COL_NOMEM (-2) /* out of memory */

/* A decoded key that cannot name a column of its own: the rescue column's
 * name, and names a Parquet writer refuses or C strings cut (empty, or with
 * a NUL byte: "a\u0000b" would become a second "a"). JSON allows them, so
 * one such event must not fail its whole file. */
static int no_column_name(const char *k, size_t n)
{
	return !n || memchr(k, '\0', n) || kl_pq_is_rescue_name(k, n);
}

/* Column of member i (`prev`: member i-1's column, -1 for the first).
 * Rows of one partition usually list their keys in the same order, so the
 * column found for position i in the previous row is tried first, then the
 * one that last followed `prev` (an optional member shifts the positions
 * of those after it, not their order), one comparison each, before the
 * hash lookup. A key without a column gets one when `add` and the schema
 * has room (max_cols, less one for the rescue column); otherwise, and
 * always for a name no column can have (no_column_name), COL_NONE. */
static long column_of(struct pq_encoder *e, size_t i, long prev, const struct kl_json_member *m,
		      int add)
{
	if (!m->key_esc) {
		long c = i < e->colmap_cap ? e->colmap[i] : -1;
		if (c >= 0 && name_is(e, c, m)) {
			if (prev >= 0 && (size_t)prev < e->colmap_cap)
				e->succ[prev] = c;
			return c;
		}
		if (prev >= 0 && (size_t)prev < e->colmap_cap && (c = e->succ[prev]) >= 0 &&
		    name_is(e, c, m)) {
			column_seen(e, i, prev, c);
			return c;
		}
	}
	const char *k;
	size_t kn;
	if (member_name(e, m, &k, &kn))
		return COL_NOMEM;
	if (no_column_name(k, kn))
		return COL_NONE;
	long c = kl_schema_find(&e->schema, k, kn);
	if (c < 0 && add && e->schema.n + 1 < e->max_cols &&
	    (c = kl_schema_col(&e->schema, k, kn)) < 0)
		return COL_NOMEM;
	if (c >= 0)
		column_seen(e, i, prev, c);
	return c < 0 ? COL_NONE : c;
}

/* Bytes member m takes in a row's rescued object, separator included:
 * ,"key":value (the value minified is never longer). */
static inline size_t rescued_bytes(const struct kl_json_member *m)
{
	return m->key_len + m->val_len + 4;
}

/* Start a file's first scan: no schema beyond the common columns, no
 * tape, no hints, no rows. */
static int scan_reset(struct pq_encoder *e)
{
	kl_schema_reset(&e->schema);
	kl_buf_reset(&e->tape_rows);
	kl_buf_reset(&e->tape_vals);
	kl_buf_reset(&e->hints);
	e->rows = 0;
	e->rescue_col = -1;
	e->rescue_hint = (struct col_hint){0, 0};
	for (size_t i = 0; i < 2 * e->colmap_cap; i++)
		e->colmap[i] = -1;
	for (size_t i = 0; i < sizeof common / sizeof common[0]; i++)
		if (kl_schema_col(&e->schema, common[i], strlen(common[i])) < 0)
			return KL_ENOMEM;
	return KL_OK;
}

/* The first scan of one line l[0..ln) (at `line` from the start of the
 * text the tape refers to): its members widen the schema and the hints,
 * and while *taping it goes on the tape (*taped rows so far); the first
 * row that does not fit stops *taping for the rest. */
static int scan_line(struct pq_encoder *e, const char *l, size_t ln, size_t line, int *taping,
		     size_t *taped, struct kl_errbuf *eb)
{
	if (split_line(e, l, ln))
		return kl_errbuf_set(eb, KL_EPARSE, "parquet: buffered event is not JSON");
	size_t nm = e->doc.n;
	e->rows++;
	if (*taping && (ln > UINT32_MAX || nm > UINT32_MAX || e->schema.n + nm >= (size_t)1 << 24 ||
			e->tape_rows.len + e->tape_vals.len + sizeof(struct tape_row) +
				nm * sizeof(struct tape_val) >
			    TAPE_MAX_BYTES))
		*taping = 0; /* this row and the rest: split again in the second pass */
	struct tape_val *tv = NULL;
	if (*taping) {
		if (kl_buf_reserve(&e->tape_rows, sizeof(struct tape_row)) ||
		    kl_buf_reserve(&e->tape_vals, nm * sizeof(struct tape_val)))
			return KL_ENOMEM;
		struct tape_row tr = {line, (uint32_t)nm, 0};
		kl_buf_put(&e->tape_rows, &tr, sizeof tr);
		tv = (struct tape_val *)(void *)(e->tape_vals.data + e->tape_vals.len);
		e->tape_vals.len += nm * sizeof(struct tape_val);
		++*taped;
	}
	long c = -1;
	size_t rescued = 0; /* bytes of this row's rescued object */
	for (size_t i = 0; i < nm; i++) {
		const struct kl_json_member *m = &e->doc.m[i];
		if ((c = column_of(e, i, c, m, 1)) == COL_NOMEM)
			return KL_ENOMEM;
		if (c == COL_NONE) {
			rescued += rescued_bytes(m);
			continue;
		}
		int t = m->type;
		if (t == KL_JSON_INT && m->val_len >= 19 && !fits_int64(m))
			t = KL_JSON_NUMBER; /* beyond int64: the column becomes DOUBLE */
		kl_schema_observe(&e->schema, (size_t)c, t);
		if ((size_t)c >= e->hints.len / sizeof(struct col_hint)) {
			size_t need = ((size_t)c + 1) * sizeof(struct col_hint) - e->hints.len;
			if (kl_buf_reserve(&e->hints, need))
				return KL_ENOMEM;
			memset(e->hints.data + e->hints.len, 0, need);
			e->hints.len += need;
		}
		if (t != KL_JSON_NULL) {
			struct col_hint *h = (struct col_hint *)(void *)e->hints.data + c;
			h->vals++;
			h->bytes += m->val_len;
		}
		if (tv) {
			tv[i].col = (uint32_t)c;
			tv[i].off = (uint32_t)(m->val - l);
			tv[i].len = (uint32_t)m->val_len;
			tv[i].type = m->type;
			tv[i].esc = m->val_esc;
			tv[i].ws = m->val_ws;
		}
	}
	if (rescued) {
		e->rescue_hint.vals++;
		e->rescue_hint.bytes += rescued + 1; /* "{" + members (the first without ',') + "}" */
		if (tv) { /* the tape keeps no keys: this row and the rest are split again */
			e->tape_rows.len -= sizeof(struct tape_row);
			e->tape_vals.len -= nm * sizeof(struct tape_val);
			--*taped;
			*taping = 0;
		}
	}
	return KL_OK;
}

/* After the first scan: the rescue column, last, if a row needs it. */
static int scan_end(struct pq_encoder *e)
{
	e->base.rescued = e->rescue_hint.vals;
	if (!e->rescue_hint.vals)
		return KL_OK;
	long c = kl_schema_col(&e->schema, KL_PQ_RESCUE_COLUMN, sizeof KL_PQ_RESCUE_COLUMN - 1);
	if (c < 0)
		return KL_ENOMEM;
	kl_schema_observe(&e->schema, (size_t)c, KL_JSON_STRING);
	size_t need = ((size_t)c + 1) * sizeof(struct col_hint);
	if (need > e->hints.len) {
		if (kl_buf_reserve(&e->hints, need - e->hints.len))
			return KL_ENOMEM;
		memset(e->hints.data + e->hints.len, 0, need - e->hints.len);
		e->hints.len = need;
	}
	((struct col_hint *)(void *)e->hints.data)[c] = e->rescue_hint;
	e->rescue_col = c;
	return KL_OK;
}

/* First (and usually only) scan of a whole text: the schema, and the tape
 * of as many rows as fit TAPE_MAX_BYTES. *taped is the number of rows on
 * the tape. */
static int scan(struct pq_encoder *e, const char *lines, size_t n, size_t *taped,
		struct kl_errbuf *eb)
{
	*taped = 0;
	int taping = 1, rc = scan_reset(e);
	if (rc)
		return rc;
	FOR_EACH_LINE(lines, n, l, ln)
	{
		if ((rc = scan_line(e, l, ln, (size_t)(l - lines), &taping, taped, eb)))
			return rc;
	}
	return scan_end(e);
}

/* Put one member's value (type t, raw text v[0..len), escape and
 * whitespace flags) into column c, as the final schema says. */
static int put_value(struct pq_encoder *e, size_t c, int t, const char *v, size_t len, int esc,
		     int ws)
{
	struct kl_pq_writer *w = e->w;
	enum kl_col_kind kind = e->schema.cols[c].kind;
	char num[512];
	if (t == KL_JSON_NULL)
		return kl_pq_put_null(w, c);
	switch (kind) {
	case KL_COL_BOOL:
		return kl_pq_put_bool(w, c, t == KL_JSON_TRUE);
	case KL_COL_INT:
	case KL_COL_DOUBLE: {
		int64_t iv;
		if (t == KL_JSON_INT && kl_num_i64_fast(v, len, &iv))
			return kind == KL_COL_INT ? kl_pq_put_i64(w, c, iv)
						  : kl_pq_put_double(w, c, (double)iv);
		double dv;
		/* the text as strtod below would see it (at most 511 bytes) */
		if (kind == KL_COL_DOUBLE && len < sizeof num && kl_num_double_fast(v, len, &dv))
			return kl_pq_put_double(w, c, dv);
		size_t n = len < sizeof num - 1 ? len : sizeof num - 1;
		memcpy(num, v, n);
		num[n] = '\0';
		if (kind == KL_COL_INT) {
			errno = 0;
			long long lv = strtoll(num, NULL, 10);
			if (errno == ERANGE) /* cannot happen: inference saw INT only */
				return KL_EINVAL;
			return kl_pq_put_i64(w, c, lv);
		}
		return kl_pq_put_double(w, c, strtod(num, NULL));
	}
	default:
		break;
	}
	/* STRING column */
	if (t == KL_JSON_STRING) {
		if (!esc)
			return kl_pq_put_string(w, c, v + 1, len - 2);
		kl_buf_reset(&e->scratch);
		if (kl_buf_reserve(&e->scratch, len))
			return KL_ENOMEM;
		size_t n = kl_json_unescape(v + 1, len - 2, e->scratch.data);
		return kl_pq_put_string(w, c, e->scratch.data, n);
	}
	if ((t == KL_JSON_OBJECT || t == KL_JSON_ARRAY) && ws) {
		kl_buf_reset(&e->scratch);
		if (kl_buf_reserve(&e->scratch, len))
			return KL_ENOMEM;
		size_t n = kl_json_minify(v, len, e->scratch.data);
		return kl_pq_put_string(w, c, e->scratch.data, n);
	}
	return kl_pq_put_string(w, c, v, len); /* JSON text as is */
}

static int row_error(struct pq_encoder *e, int rc, struct kl_errbuf *eb)
{
	/* the writer's messages (parquet.c pq_fail) carry their "parquet: " */
	return kl_errbuf_set(eb, rc, "%s", e->werr.code ? e->werr.msg : "parquet: cannot encode row");
}

/* The last file's schema into the lake's registry. */
static int merge_pending(struct pq_encoder *e, struct kl_errbuf *eb)
{
	if (!e->has_pending)
		return KL_OK;
	e->has_pending = 0;
	return kl_schema_registry_merge(e->registry, e->store, e->pending.data, e->pending.len,
					&e->schema, eb);
}

static int pq_publish(struct kl_encoder *base, struct kl_errbuf *eb)
{
	return merge_pending((struct pq_encoder *)base, eb);
}

/* The pending merge (the file's schema and type name) moves to `to`: the
 * two swap their schemas and pending buffers, so neither allocates, and
 * `e`'s next scan() resets what it got. */
static void pq_hand_over(struct kl_encoder *base, struct kl_encoder *to_base)
{
	struct pq_encoder *e = (struct pq_encoder *)base, *to = (struct pq_encoder *)to_base;
	struct kl_schema s = to->schema;
	to->schema = e->schema;
	e->schema = s;
	struct kl_buf p = to->pending;
	to->pending = e->pending;
	e->pending = p;
	to->has_pending = e->has_pending;
	e->has_pending = 0;
}

static struct kl_encoder *pq_clone(const struct kl_encoder *base);

/* The file's event type (column 4's first string value, v[0..len) with
 * its quotes) for the registry, decoded into e->pending: copied at once,
 * so a text unpacked block by block may be reused after. */
static int note_etype(struct pq_encoder *e, const char *v, size_t len)
{
	e->etype_seen = 1;
	kl_buf_reset(&e->pending);
	if (kl_buf_reserve(&e->pending, len))
		return KL_ENOMEM;
	e->pending.len = kl_json_unescape(v + 1, len - 2, e->pending.data);
	return KL_OK;
}

/* After the first scan: the writer, with the final schema, for a file
 * through fn. */
static int begin_rows(struct pq_encoder *e, kl_write_fn fn, void *ctx, struct kl_errbuf *eb)
{
	int rc;
	e->etype_seen = 0;
	const struct kl_pq_column *cols = kl_schema_columns(&e->schema);
	if (!cols)
		return kl_errbuf_set(eb, KL_ENOMEM, "out of memory");
	kl_errbuf_clear(&e->werr);
	if (!e->w)
		rc = kl_pq_writer_new(&e->w, cols, e->schema.n, &e->opts, fn, ctx, &e->werr);
	else
		rc = kl_pq_writer_reset(e->w, cols, e->schema.n, fn, ctx);
	if (rc)
		return kl_errbuf_set(eb, rc, "%s", e->werr.msg);
	/* what each column will get: lets the writer drop a dictionary that is
	 * sure to go as soon as that is certain, without changing the file */
	const struct col_hint *hint = (const struct col_hint *)(const void *)e->hints.data;
	for (size_t c = 0; c < e->schema.n && c < e->hints.len / sizeof *hint; c++) {
		enum kl_col_kind k = e->schema.cols[c].kind;
		if (k == KL_COL_BOOL || k == KL_COL_UNKNOWN)
			continue;
		uint64_t plain = k == KL_COL_STRING ? hint[c].bytes + 4 * hint[c].vals : 8 * hint[c].vals;
		if ((rc = kl_pq_writer_hint(e->w, c, hint[c].vals, plain, e->rows)))
			return kl_errbuf_set(eb, rc, "parquet: bad column hint");
	}
	return KL_OK;
}

/* Member m into the row's rescued object (e->rescued, "{" first). */
static int rescue_member(struct pq_encoder *e, const struct kl_json_member *m)
{
	struct kl_buf *r = &e->rescued;
	if (kl_buf_reserve(r, rescued_bytes(m) + 1))
		return KL_ENOMEM;
	char *p = r->data + r->len;
	*p++ = r->len ? ',' : '{';
	*p++ = '"';
	memcpy(p, m->key, m->key_len);
	p += m->key_len;
	*p++ = '"';
	*p++ = ':';
	if ((m->type == KL_JSON_OBJECT || m->type == KL_JSON_ARRAY) && m->val_ws)
		p += kl_json_minify(m->val, m->val_len, p);
	else {
		memcpy(p, m->val, m->val_len);
		p += m->val_len;
	}
	r->len = (size_t)(p - r->data);
	return KL_OK;
}

/* One row not on the tape: its line l[0..ln) split again. */
static int put_line(struct pq_encoder *e, const char *l, size_t ln, struct kl_errbuf *eb)
{
	if (split_line(e, l, ln))
		return kl_errbuf_set(eb, KL_EPARSE, "parquet: buffered event is not JSON");
	long c = -1;
	int rc = KL_OK;
	kl_buf_reset(&e->rescued);
	for (size_t i = 0; i < e->doc.n && !rc; i++) {
		const struct kl_json_member *m = &e->doc.m[i];
		if ((c = column_of(e, i, c, m, 0)) < 0) {
			/* no column: rescued (the first scan saw the same) */
			rc = c == COL_NOMEM		? KL_ENOMEM
			     : e->rescue_col >= 0 ? rescue_member(e, m)
						  : KL_EINVAL; /* cannot happen: a column the scan added */
			continue;
		}
		if (!e->etype_seen && c == 4 && m->type == KL_JSON_STRING &&
		    (rc = note_etype(e, m->val, m->val_len)))
			break;
		rc = put_value(e, (size_t)c, m->type, m->val, m->val_len, m->val_esc, m->val_ws);
	}
	if (!rc && e->rescued.len) {
		if ((rc = kl_buf_append(&e->rescued, "}", 1)) == KL_OK)
			rc = kl_pq_put_string(e->w, (size_t)e->rescue_col, e->rescued.data,
					      e->rescued.len);
	}
	if (!rc)
		rc = kl_pq_end_row(e->w);
	return rc ? row_error(e, rc, eb) : KL_OK;
}

/* Every row is in: the footer, then the file's schema for the registry
 * (now, or at publish() in a copy). */
static int end_rows(struct pq_encoder *e, struct kl_errbuf *eb)
{
	int rc = kl_pq_writer_finish(e->w);
	if (rc)
		return kl_errbuf_set(eb, rc, "%s", e->werr.msg);
	if (e->store && e->registry && e->etype_seen) {
		e->has_pending = 1;
		if (!e->deferred)
			rc = merge_pending(e, eb);
	}
	return rc;
}

static int pq_encode(struct kl_encoder *base, const char *lines, size_t n, uint64_t count,
		     kl_write_fn fn, void *ctx, struct kl_errbuf *eb)
{
	(void)count;
	struct pq_encoder *e = (struct pq_encoder *)base;
	e->has_pending = 0;
	size_t taped;
	int rc = scan(e, lines, n, &taped, eb);
	if (rc)
		return kl_errbuf_set(eb, rc, "parquet: schema inference failed");
	if ((rc = begin_rows(e, fn, ctx, eb)))
		return rc;
	/* rows from the tape: no JSON scanning */
	const struct tape_row *tr = (const struct tape_row *)(const void *)e->tape_rows.data;
	const struct tape_val *tv = (const struct tape_val *)(const void *)e->tape_vals.data;
	for (size_t r = 0; r < taped; r++) {
		const char *l = lines + tr[r].line;
		for (uint32_t i = 0; i < tr[r].nvals && !rc; i++, tv++) {
			const char *v = l + tv->off;
			/* enriched event_type never has escapes we wrote */
			if (!e->etype_seen && tv->col == 4 && tv->type == KL_JSON_STRING &&
			    (rc = note_etype(e, v, tv->len)))
				break;
			rc = put_value(e, tv->col, tv->type, v, tv->len, tv->esc, tv->ws);
		}
		if (!rc)
			rc = kl_pq_end_row(e->w);
		if (rc)
			return row_error(e, rc, eb);
	}
	/* rows past the tape: split again */
	const char *rest = taped ? lines + tr[taped - 1].line : lines;
	size_t skip = taped ? 1 : 0;
	FOR_EACH_LINE(rest, n - (size_t)(rest - lines), l, ln)
	{
		if (skip) {
			skip = 0;
			continue;
		}
		if ((rc = put_line(e, l, ln, eb)))
			return rc;
	}
	return end_rows(e, eb);
}

/* ---- a large file, from its blocks ------------------------------------ */

/* Lines of a text given in pieces (kl_blocks_each: a block, or the tail,
 * at a time), to the first scan (pass 1) or to the rows (pass 2). A line
 * cut between two pieces is gathered in e->carry (blocks are cut between
 * records, so this is only a safeguard). */
struct feed {
	struct pq_encoder *e;
	int pass;
	int taping; /* always 0: the tape refers to one contiguous text */
	size_t taped;
	struct kl_errbuf *eb;
};

static int feed_line(struct feed *f, const char *l, size_t ln)
{
	if (f->pass == 1)
		return scan_line(f->e, l, ln, 0, &f->taping, &f->taped, f->eb);
	return put_line(f->e, l, ln, f->eb);
}

static int feed_piece(void *ctx, const void *p, size_t n)
{
	struct feed *f = ctx;
	struct kl_buf *carry = &f->e->carry;
	const char *s = p, *end = s + n;
	int rc;
	if (carry->len) { /* the rest of a line begun in an earlier piece */
		const char *nl = memchr(s, '\n', n);
		size_t k = nl ? (size_t)(nl - s) + 1 : n;
		if (kl_buf_append(carry, s, k))
			return kl_errbuf_set(f->eb, KL_ENOMEM, "out of memory");
		s += k;
		if (!nl)
			return KL_OK;
		if ((rc = feed_line(f, carry->data, carry->len - 1)))
			return rc;
		kl_buf_reset(carry);
	}
	const char *last = s < end ? memrchr(s, '\n', (size_t)(end - s)) : NULL;
	const char *whole = last ? last + 1 : s; /* lines s..whole end in '\n' */
	FOR_EACH_LINE(s, (size_t)(whole - s), l, ln)
	{
		if ((rc = feed_line(f, l, ln)))
			return rc;
	}
	if (whole < end && kl_buf_append(carry, whole, (size_t)(end - whole)))
		return kl_errbuf_set(f->eb, KL_ENOMEM, "out of memory");
	return KL_OK;
}

/* The pieces are over: a last line without its '\n'. */
static int feed_end(struct feed *f)
{
	struct kl_buf *carry = &f->e->carry;
	int rc = carry->len ? feed_line(f, carry->data, carry->len) : KL_OK;
	kl_buf_reset(carry);
	return rc;
}

/* The blocks' text as one file, in two passes over the blocks, each
 * unpacked into `scratch` one at a time: the first infers the schema (no
 * tape: the text is never whole), the second puts the rows and frees each
 * block once read (kl_blocks_drain), so the buffer's memory goes down as
 * the writer's pages grow. The rows, the
 * schema and the hints are those pq_encode gets from the flattened text,
 * so are the file's bytes. */
static int encode_streamed(struct pq_encoder *e, struct kl_blocks *b,
			   struct kl_blocks_zctx *x, struct kl_buf *scratch, kl_write_fn fn,
			   void *ctx, struct kl_errbuf *eb)
{
	struct feed f = {e, 1, 0, 0, eb};
	kl_buf_reset(&e->carry);
	int rc = scan_reset(e);
	if (rc)
		return kl_errbuf_set(eb, rc, "parquet: schema inference failed");
	if ((rc = kl_blocks_each(b, x, scratch, feed_piece, &f, eb)) || (rc = feed_end(&f)) ||
	    (rc = scan_end(e)))
		return eb->code ? rc : kl_errbuf_set(eb, rc, "parquet: schema inference failed");
	if ((rc = begin_rows(e, fn, ctx, eb)))
		return rc;
	f.pass = 2; /* the last reading: each block's memory goes once it is read */
	if ((rc = kl_blocks_drain(b, x, scratch, feed_piece, &f, eb)) || (rc = feed_end(&f)))
		return eb->code ? rc : kl_errbuf_set(eb, rc, "parquet: cannot encode row");
	return end_rows(e, eb);
}

/* A partition's buffer as one file (encoder.h encode_blocks): up to
 * e->stream_min raw bytes it is unpacked whole (or is the tail itself)
 * and encoded with the tape; a larger one is encoded from its blocks
 * (encode_streamed), so an encoder thread holds a block of text at a time,
 * not the file's. Which way depends only on the text's length; the bytes
 * are the same either way. */
static int pq_encode_blocks(struct kl_encoder *base, struct kl_blocks *b, uint64_t count,
			    struct kl_blocks_zctx *x, struct kl_buf *scratch, kl_write_fn fn,
			    void *ctx, struct kl_errbuf *eb)
{
	struct pq_encoder *e = (struct pq_encoder *)base;
	if (kl_blocks_len(b) > e->stream_min) {
		e->has_pending = 0;
		return encode_streamed(e, b, x, scratch, fn, ctx, eb);
	}
	if (!b->n)
		return pq_encode(base, b->tail.data, b->tail.len, count, fn, ctx, eb);
	kl_buf_reset(scratch);
	int rc = kl_blocks_flatten(b, x, scratch, eb);
	return rc ? rc : pq_encode(base, scratch->data, scratch->len, count, fn, ctx, eb);
}

static void pq_free(struct kl_encoder *base)
{
	struct pq_encoder *e = (struct pq_encoder *)base;
	kl_pq_writer_free(e->w);
	kl_schema_cleanup(&e->schema);
	kl_json_doc_cleanup(&e->doc);
	kl_buf_cleanup(&e->scratch);
	kl_buf_cleanup(&e->tape_rows);
	kl_buf_cleanup(&e->tape_vals);
	kl_buf_cleanup(&e->hints);
	kl_buf_cleanup(&e->pending);
	kl_buf_cleanup(&e->carry);
	kl_buf_cleanup(&e->rescued);
	free(e->colmap);
	free(e);
}

static void pq_expect(struct kl_encoder *base, const char *key, size_t key_len)
{
	struct pq_encoder *e = (struct pq_encoder *)base;
	const char *t;
	size_t tn;
	if (e->registry && !kl_partition_key_type(key, key_len, &t, &tn))
		kl_schema_registry_expect(e->registry, t, tn);
}

static const struct kl_encoder_ops pq_ops = {
	.encode = pq_encode, /* one scan (schema + tape), then rows from the tape */
	.encode_blocks = pq_encode_blocks, /* a large file block by block, two passes */
	.free = pq_free,     /* no begin/write/end: a Parquet file needs all its rows */
	.clone = pq_clone,     /* its schema merges wait for publish() */
	.publish = pq_publish, /* the last file's schema into the registry */
	.hand_over = pq_hand_over, /* ... moved to another copy, which publishes it */
	.expect = pq_expect, /* the file's event type, to the registry's reading ahead */
};

struct kl_encoder *kl_encoder_parquet_new(const struct kl_encoder_opts *o, struct kl_store *store,
					  struct kl_schema_registry *registry)
{
	struct pq_encoder *e = calloc(1, sizeof *e);
	if (!e)
		return NULL;
	kl_pq_opts_default(&e->opts);
	switch (o->compression) {
	case KL_COMP_ZSTD: e->opts.codec = KL_PQ_ZSTD; break;
	case KL_COMP_GZIP: e->opts.codec = KL_PQ_GZIP; break;
	case KL_COMP_NONE: e->opts.codec = KL_PQ_UNCOMPRESSED; break;
	case KL_COMP_SNAPPY: e->opts.codec = KL_PQ_SNAPPY; break;
	}
	/* zstd level 1 measured faster and smaller than 3 on event data */
	e->opts.level = o->level ? o->level : (e->opts.codec == KL_PQ_ZSTD ? 1 : 0);
	if (o->row_group_bytes)
		e->opts.row_group_bytes = o->row_group_bytes;
	e->opts.created_by = "kinlake " KL_VERSION;
	kl_schema_init(&e->schema);
	kl_json_doc_init(&e->doc);
	kl_buf_init(&e->scratch, 0);
	kl_buf_init(&e->tape_rows, 0);
	kl_buf_init(&e->tape_vals, 0);
	kl_buf_init(&e->hints, 0);
	kl_buf_init(&e->pending, 0);
	kl_buf_init(&e->carry, 0);
	kl_buf_init(&e->rescued, 0);
	e->stream_min = o->stream_bytes ? o->stream_bytes : KL_PQ_STREAM_BYTES;
	e->max_cols = o->max_columns ? o->max_columns : KL_PQ_MAX_COLUMNS;
	if (e->max_cols < KL_PQ_MIN_COLUMNS)
		e->max_cols = KL_PQ_MIN_COLUMNS;
	e->store = store;
	e->registry = registry;
	e->base.ops = &pq_ops;
	e->base.ext = ".parquet";
	return &e->base;
}

static struct kl_encoder *pq_clone(const struct kl_encoder *base)
{
	const struct pq_encoder *e = (const struct pq_encoder *)base;
	struct pq_encoder *c = calloc(1, sizeof *c);
	if (!c)
		return NULL;
	c->opts = e->opts;
	kl_schema_init(&c->schema);
	kl_json_doc_init(&c->doc);
	kl_buf_init(&c->scratch, 0);
	kl_buf_init(&c->tape_rows, 0);
	kl_buf_init(&c->tape_vals, 0);
	kl_buf_init(&c->hints, 0);
	kl_buf_init(&c->pending, 0);
	kl_buf_init(&c->carry, 0);
	kl_buf_init(&c->rescued, 0);
	c->stream_min = e->stream_min;
	c->max_cols = e->max_cols;
	c->store = e->store;
	c->registry = e->registry;
	c->deferred = 1;
	c->base = e->base;
	return &c->base;
}
