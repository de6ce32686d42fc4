/* catalog.c — see catalog.h: planning the tables and their Athena DDL
 * (the Glue side is catalog_glue.c). Athena DDL: "CREATE TABLE" and "Partition
 * projection" in the Athena user guide; Glue: the TableInput structure of
 * the CreateTable / UpdateTable API. */
#include "catalog/catalog.h"
#include "catalog/catalog_internal.h"
#include "core/array.h"
#include "encode/encoder.h"
#include "route/partition.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NAME_MAX_LEN 255

static const char *const partition_keys[] = {"event_subtype", "dt", "hr"};

char *kl_catalog_dupn(const char *s, size_t n)
{
	char *p = malloc(n + 1);
	if (p) {
		memcpy(p, s, n);
		p[n] = '\0';
	}
	return p;
}

char *kl_catalog_dup0(const char *s)
{
	return kl_catalog_dupn(s, strlen(s));
}

void kl_catalog_init(struct kl_catalog *c)
{
	memset(c, 0, sizeof *c);
	kl_buf_init(&c->problems, 1u << 20);
}

void kl_catalog_cols_free(struct kl_catalog_column *c, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(c[i].name);
		free(c[i].type);
	}
	free(c);
}

static void params_free(struct kl_catalog_param *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(p[i].key);
		free(p[i].value);
	}
	free(p);
}

static void table_cleanup(struct kl_catalog_table *t)
{
	free(t->name);
	free(t->event_type);
	free(t->location);
	kl_catalog_cols_free(t->cols, t->n_cols);
	kl_catalog_cols_free(t->parts, t->n_parts);
	params_free(t->params, t->n_params);
	memset(t, 0, sizeof *t);
}

void kl_catalog_cleanup(struct kl_catalog *c)
{
	for (size_t i = 0; i < c->n; i++)
		table_cleanup(&c->t[i]);
	free(c->t);
	kl_buf_cleanup(&c->problems);
	memset(c, 0, sizeof *c);
}

const char *kl_catalog_hive_type(enum kl_col_kind k)
{
	switch (k) {
	case KL_COL_BOOL:
		return "boolean";
	case KL_COL_INT:
		return "bigint";
	case KL_COL_DOUBLE:
		return "double";
	case KL_COL_STRING:
	case KL_COL_UNKNOWN:
		return "string";
	}
	return "string";
}

/* The kind of a Hive type kinlake writes; UNKNOWN for any other type. */
enum kl_col_kind kl_catalog_kind_of(const char *type)
{
	if (!strcmp(type, "bigint"))
		return KL_COL_INT;
	if (!strcmp(type, "double"))
		return KL_COL_DOUBLE;
	if (!strcmp(type, "boolean"))
		return KL_COL_BOOL;
	if (!strcmp(type, "string"))
		return KL_COL_STRING;
	return KL_COL_UNKNOWN;
}

/* ---- problems ---------------------------------------------------------- */

/* Append s for a message: printable ASCII as is, other bytes as \xHH. */
static void put_shown(struct kl_buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t shown = n > 120 ? 120 : n;
	for (size_t i = 0; i < shown; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (ch >= 0x20 && ch < 0x7f && ch != '\\') {
			kl_buf_putc(b, (char)ch);
		} else {
			char e[4] = {'\\', 'x', hex[ch >> 4], hex[ch & 15]};
			kl_buf_append(b, e, 4);
		}
	}
	if (shown < n)
		kl_buf_puts(b, "...");
}

static void problem(struct kl_catalog *c, const char *type, size_t type_len, const char *col,
		    size_t col_len, const char *why)
{
	kl_buf_puts(&c->problems, "event type \"");
	put_shown(&c->problems, type, type_len);
	kl_buf_putc(&c->problems, '"');
	if (col) {
		kl_buf_puts(&c->problems, ", column \"");
		put_shown(&c->problems, col, col_len);
		kl_buf_putc(&c->problems, '"');
	}
	kl_buf_puts(&c->problems, ": ");
	kl_buf_puts(&c->problems, why);
	kl_buf_putc(&c->problems, '\n');
	if (kl_buf_putc(&c->problems, '\0') == KL_OK)
		c->problems.len--; /* kept NUL-terminated */
	c->n_problems++;
}

/* ---- names ------------------------------------------------------------- */

/* prefix + mapped type into out (NAME_MAX_LEN + 1); 0 if unrepresentable. */
static int table_name(const char *prefix, const char *t, size_t n, char *out)
{
	size_t pl = strlen(prefix);
	if (!n || pl + n > NAME_MAX_LEN)
		return 0;
	memcpy(out, prefix, pl);
	for (size_t i = 0; i < n; i++) {
		char ch = t[i];
		if (ch >= 'A' && ch <= 'Z')
			ch = (char)(ch - 'A' + 'a');
		else if (ch == '-' || ch == '.' || ch == ' ')
			ch = '_';
		else if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_'))
			return 0;
		out[pl + i] = ch;
	}
	out[pl + n] = '\0';
	return 1;
}

static int plain_name(const char *s, size_t max)
{
	size_t n = strlen(s);
	if (!n || n > max)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			return 0;
	return 1;
}

/* Length of the valid UTF-8 sequence at s (shortest form, no surrogates),
 * 0 if invalid. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	unsigned c = s[0];
	size_t len = c < 0x80		     ? 1
		     : c >= 0xc2 && c < 0xe0 ? 2
		     : c >= 0xe0 && c < 0xf0 ? 3
		     : c >= 0xf0 && c < 0xf5 ? 4
					     : 0;
	if (!len || len > n)
		return 0;
	for (size_t i = 1; i < len; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	if ((c == 0xe0 && s[1] < 0xa0) || (c == 0xed && s[1] >= 0xa0) ||
	    (c == 0xf0 && s[1] < 0x90) || (c == 0xf4 && s[1] >= 0x90))
		return 0;
	return len;
}

/* Why Athena cannot hold a column name, or NULL. */
static const char *column_name_problem(const char *s, size_t n)
{
	if (!n)
		return "empty column name: Athena cannot hold it (left out of the table)";
	if (n > NAME_MAX_LEN)
		return "column name over 255 bytes: Athena cannot hold it (left out of the table)";
	for (size_t i = 0, l; i < n; i += l) {
		unsigned char ch = (unsigned char)s[i];
		if (!(l = utf8_len((const unsigned char *)s + i, n - i)))
			return "column name is not UTF-8: Athena cannot hold it (left out of the "
			       "table)";
		if (ch < 0x20 || ch == 0x7f)
			return "control character in column name: Athena cannot hold it (left out "
			       "of the table)";
		if (ch == '`')
			return "'`' in column name: Athena DDL cannot quote it (left out of the "
			       "table)";
		if (ch == '.' || ch == ':')
			return "'.' or ':' in column name: Hive reads it as a nested field (left "
			       "out "
			       "of the table)";
	}
	return NULL;
}

void kl_catalog_lower(char *s)
{
	for (; *s; s++)
		if (*s >= 'A' && *s <= 'Z')
			*s = (char)(*s - 'A' + 'a');
}

/* ---- building ---------------------------------------------------------- */

int kl_catalog_push_col(struct kl_catalog_column **a, size_t *n, const char *name, size_t len,
			const char *type)
{
	struct kl_catalog_column *p = realloc(*a, (*n + 1) * sizeof *p);
	if (!p)
		return KL_ENOMEM;
	*a = p;
	p[*n].name = kl_catalog_dupn(name, len);
	p[*n].type = kl_catalog_dup0(type);
	if (!p[*n].name || !p[*n].type) {
		free(p[*n].name);
		free(p[*n].type);
		return KL_ENOMEM;
	}
	(*n)++;
	return KL_OK;
}

int kl_catalog_push_param(struct kl_catalog_table *t, const char *k, const char *v)
{
	struct kl_catalog_param *p = realloc(t->params, (t->n_params + 1) * sizeof *p);
	if (!p)
		return KL_ENOMEM;
	t->params = p;
	p[t->n_params].key = kl_catalog_dup0(k);
	p[t->n_params].value = kl_catalog_dup0(v);
	if (!p[t->n_params].key || !p[t->n_params].value) {
		free(p[t->n_params].key);
		free(p[t->n_params].value);
		return KL_ENOMEM;
	}
	t->n_params++;
	return KL_OK;
}

static struct kl_catalog_table *new_table(struct kl_catalog *c)
{
	if (KL_ARRAY_GROW(c->t, c->n, c->cap, 16))
		return NULL;
	struct kl_catalog_table *t = &c->t[c->n++];
	memset(t, 0, sizeof *t);
	return t;
}

long kl_catalog_find_col(const struct kl_catalog_column *a, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(a[i].name, name))
			return (long)i;
	return -1;
}

/* The format's fixed parameters (classification, compression). */
static int format_params(struct kl_catalog_table *t, enum kl_catalog_format f,
			 const char *compression)
{
	int rc = kl_catalog_push_param(t, "classification",
				       f == KL_CATALOG_PARQUET ? "parquet" : "json");
	if (!rc && f == KL_CATALOG_JSONL)
		rc =
		    kl_catalog_push_param(t, "compressionType", compression ? compression : "none");
	return rc;
}

static int dt_params(struct kl_catalog_table *t, const char *first_day)
{
	struct kl_buf r;
	kl_buf_init(&r, 0);
	int rc = kl_buf_printf(&r, "%s,NOW", first_day);
	rc = rc ? rc : kl_catalog_push_param(t, "projection.dt.type", "date");
	rc = rc ? rc : kl_catalog_push_param(t, "projection.dt.format", "yyyy-MM-dd");
	rc = rc ? rc : kl_catalog_push_param(t, "projection.dt.range", r.data);
	rc = rc ? rc : kl_catalog_push_param(t, "projection.dt.interval", "1");
	rc = rc ? rc : kl_catalog_push_param(t, "projection.dt.interval.unit", "DAYS");
	kl_buf_cleanup(&r);
	return rc;
}

/* "a,b,c" of the values, or KL_HIVE_DEFAULT when there are none. */
static int enum_values(struct kl_buf *b, const char *const *v, size_t n)
{
	if (!n)
		return kl_buf_puts(b, "__HIVE_DEFAULT_PARTITION__");
	int rc = KL_OK;
	for (size_t i = 0; i < n && !rc; i++) {
		if (i)
			rc = kl_buf_putc(b, ',');
		rc = rc ? rc : kl_buf_puts(b, v[i]);
	}
	return rc;
}

static int event_table(struct kl_catalog *c, const struct kl_catalog_opts *o, const char *root,
		       const struct kl_catalog_type *ty, const char *name)
{
	struct kl_catalog_table *t = new_table(c);
	if (!t)
		return KL_ENOMEM;
	t->format = o->format;
	struct kl_buf b;
	kl_buf_init(&b, 0);
	int rc = kl_buf_printf(&b, "%s/events/event_type=", root);
	rc = rc ? rc : kl_hive_escape(&b, ty->name, ty->len);
	rc = rc ? rc : kl_buf_putc(&b, '/');
	size_t loc_len = b.len;
	if (!rc && (!(t->name = kl_catalog_dup0(name)) ||
		    !(t->event_type = kl_catalog_dupn(ty->name, ty->len)) ||
		    !(t->location = kl_catalog_dupn(b.data, b.len))))
		rc = KL_ENOMEM;
	for (size_t i = 0; i < 3 && !rc; i++)
		rc = kl_catalog_push_col(&t->parts, &t->n_parts, partition_keys[i],
					 strlen(partition_keys[i]), "string");
	size_t max_cols = o->max_columns ? o->max_columns : KL_PQ_MAX_COLUMNS, over = 0;
	const struct kl_catalog_col *first_over = NULL;
	size_t rescue_left = 0; /* 1 while the union's rescue column is still to come */
	for (size_t i = 0; i < ty->n_cols; i++)
		rescue_left |= kl_pq_is_rescue_name(ty->cols[i].name, ty->cols[i].len);
	for (size_t i = 0; i < ty->n_cols && !rc; i++) {
		const struct kl_catalog_col *col = &ty->cols[i];
		if (kl_pq_is_rescue_name(col->name, col->len))
			rescue_left = 0;
		else if (t->n_cols + rescue_left >= max_cols) {
			if (!over++)
				first_over = col;
			continue;
		}
		const char *why = column_name_problem(col->name, col->len);
		if (why) {
			problem(c, ty->name, ty->len, col->name, col->len, why);
			continue;
		}
		char *lc = kl_catalog_dupn(col->name, col->len);
		if (!lc) {
			rc = KL_ENOMEM;
			break;
		}
		kl_catalog_lower(lc);
		if (!strcmp(lc, "event_subtype")) {
			free(lc); /* the partition key itself */
			continue;
		}
		if (kl_catalog_find_col(t->parts, t->n_parts, lc) >= 0)
			problem(c, ty->name, ty->len, col->name, col->len,
				"named like a partition key of the table (left out)");
		else if (kl_catalog_find_col(t->cols, t->n_cols, lc) >= 0)
			problem(
			    c, ty->name, ty->len, col->name, col->len,
			    "equal to an earlier column but for case: Glue and Athena names are "
			    "case-insensitive (left out; the earlier one is kept)");
		else
			rc = kl_catalog_push_col(&t->cols, &t->n_cols, lc, strlen(lc),
						 kl_catalog_hive_type(col->kind));
		free(lc);
	}
	if (over && !rc) {
		char why[320];
		snprintf(why, sizeof why,
			 "past --max-columns %zu, with %zu more after it: left out of the table, "
			 "still in the files that have them (keys made from data, such as ids or "
			 "dates, belong in an object member: one column)",
			 max_cols, over - 1);
		problem(c, ty->name, ty->len, first_over->name, first_over->len, why);
	}
	rc = rc ? rc : kl_catalog_push_param(t, "EXTERNAL", "TRUE");
	rc = rc ? rc : format_params(t, o->format, o->compression);
	rc = rc ? rc : kl_catalog_push_param(t, "projection.enabled", "true");
	if (!rc && o->subtypes == KL_CATALOG_SUBTYPE_INJECTED) {
		rc = kl_catalog_push_param(t, "projection.event_subtype.type", "injected");
	} else if (!rc) {
		struct kl_buf v;
		kl_buf_init(&v, 0);
		rc = enum_values(&v, ty->subtypes, ty->n_subtypes);
		rc = rc ? rc : kl_buf_putc(&v, '\0');
		rc = rc ? rc : kl_catalog_push_param(t, "projection.event_subtype.type", "enum");
		rc = rc ? rc : kl_catalog_push_param(t, "projection.event_subtype.values", v.data);
		kl_buf_cleanup(&v);
	}
	rc = rc ? rc : dt_params(t, ty->first_day ? ty->first_day : o->first_day);
	rc = rc ? rc : kl_catalog_push_param(t, "projection.hr.type", "integer");
	rc = rc ? rc : kl_catalog_push_param(t, "projection.hr.range", "0,23");
	rc = rc ? rc : kl_catalog_push_param(t, "projection.hr.digits", "2");
	b.len = loc_len; /* back to the type's prefix */
	rc = rc ? rc : kl_buf_puts(&b, "event_subtype=${event_subtype}/dt=${dt}/hr=${hr}/");
	rc = rc ? rc : kl_buf_putc(&b, '\0');
	rc = rc ? rc : kl_catalog_push_param(t, "storage.location.template", b.data);
	kl_buf_cleanup(&b);
	return rc;
}

static const char *const dead_letter_cols[][2] = {
    {"error", "string"},      {"message", "string"},	  {"source", "string"},
    {"position", "bigint"},   {"error_offset", "bigint"}, {"raw_base64", "string"},
    {"raw_length", "bigint"}, {"truncated", "boolean"},
};

static int dead_letter_table(struct kl_catalog *c, const struct kl_catalog_opts *o,
			     const char *root, const char *prefix)
{
	struct kl_catalog_table *t = new_table(c);
	if (!t)
		return KL_ENOMEM;
	t->format = KL_CATALOG_JSONL;
	struct kl_buf b;
	kl_buf_init(&b, 0);
	int rc = kl_buf_printf(&b, "%sdead_letters", prefix);
	rc = rc ? rc : kl_buf_putc(&b, '\0');
	if (!rc && !(t->name = kl_catalog_dup0(b.data)))
		rc = KL_ENOMEM;
	kl_buf_reset(&b);
	rc = rc ? rc : kl_buf_printf(&b, "%s/errors/", root);
	if (!rc && !(t->location = kl_catalog_dupn(b.data, b.len)))
		rc = KL_ENOMEM;
	for (size_t i = 0; i < sizeof dead_letter_cols / sizeof *dead_letter_cols && !rc; i++)
		rc = kl_catalog_push_col(&t->cols, &t->n_cols, dead_letter_cols[i][0],
					 strlen(dead_letter_cols[i][0]), dead_letter_cols[i][1]);
	rc = rc ? rc : kl_catalog_push_col(&t->parts, &t->n_parts, "reason", 6, "string");
	rc = rc ? rc : kl_catalog_push_col(&t->parts, &t->n_parts, "dt", 2, "string");
	rc = rc ? rc : kl_catalog_push_param(t, "EXTERNAL", "TRUE");
	rc = rc ? rc
		: format_params(t, KL_CATALOG_JSONL,
				o->errors_compression ? o->errors_compression : o->compression);
	rc = rc ? rc : kl_catalog_push_param(t, "projection.enabled", "true");
	rc = rc ? rc : kl_catalog_push_param(t, "projection.reason.type", "enum");
	struct kl_buf v;
	kl_buf_init(&v, 0);
	rc = rc ? rc : enum_values(&v, o->reasons, o->n_reasons);
	rc = rc ? rc : kl_buf_putc(&v, '\0');
	rc = rc ? rc : kl_catalog_push_param(t, "projection.reason.values", v.data);
	kl_buf_cleanup(&v);
	rc = rc ? rc : dt_params(t, o->first_day);
	rc = rc ? rc : kl_buf_puts(&b, "${reason}/dt=${dt}/");
	rc = rc ? rc : kl_buf_putc(&b, '\0');
	rc = rc ? rc : kl_catalog_push_param(t, "storage.location.template", b.data);
	kl_buf_cleanup(&b);
	return rc;
}

static int valid_day(const char *d)
{
	if (!d || strlen(d) != 10 || d[4] != '-' || d[7] != '-')
		return 0;
	for (int i = 0; i < 10; i++)
		if (i != 4 && i != 7 && (d[i] < '0' || d[i] > '9'))
			return 0;
	return 1;
}

int kl_catalog_build(struct kl_catalog *c, const struct kl_catalog_opts *o,
		     const struct kl_catalog_type *types, size_t n, struct kl_errbuf *eb)
{
	const char *db = o->database ? o->database : "kinlake";
	const char *prefix = o->table_prefix ? o->table_prefix : "";
	if (!plain_name(db, NAME_MAX_LEN))
		return kl_errbuf_set(eb, KL_EINVAL,
				     "database name '%s': Glue and Athena take [a-z0-9_], 1 to 255",
				     db);
	if (*prefix && !plain_name(prefix, 200))
		return kl_errbuf_set(eb, KL_EINVAL, "table prefix '%s': use [a-z0-9_]", prefix);
	if (!o->location || !*o->location)
		return kl_errbuf_set(eb, KL_EINVAL, "no table location (the lake's URL)");
	if (!valid_day(o->first_day))
		return kl_errbuf_set(eb, KL_EINVAL, "first day '%s' is not YYYY-MM-DD",
				     o->first_day ? o->first_day : "");
	for (size_t i = 0; i < n; i++)
		if (types[i].first_day && !valid_day(types[i].first_day))
			return kl_errbuf_set(eb, KL_EINVAL, "first day '%s' is not YYYY-MM-DD",
					     types[i].first_day);
	for (size_t i = 0; i < o->n_reasons; i++)
		if (strchr(o->reasons[i], ','))
			return kl_errbuf_set(eb, KL_EINVAL, "dead-letter reason with ','");
	snprintf(c->database, sizeof c->database, "%s", db);
	char *root = kl_catalog_dup0(o->location);
	if (!root)
		return KL_ENOMEM;
	for (size_t l = strlen(root); l && root[l - 1] == '/';)
		root[--l] = '\0';
	/* names first, so that every member of a collision is reported */
	char(*names)[NAME_MAX_LEN + 1] = calloc(n ? n : 1, sizeof *names);
	int rc = names ? KL_OK : KL_ENOMEM;
	for (size_t i = 0; i < n && !rc; i++)
		if (!table_name(prefix, types[i].name, types[i].len, names[i])) {
			names[i][0] = '\0';
			problem(c, types[i].name, types[i].len, NULL, 0,
				"no table: Glue table names take [a-z0-9_] (event types may add "
				"A-Z, '-', '.' and ' '), 1 to 255 bytes");
		}
	for (size_t i = 0; i < n && !rc; i++) {
		if (!names[i][0])
			continue;
		int clash = !strcmp(names[i], "dead_letters") && o->dead_letters;
		for (size_t j = 0; j < n && !clash; j++)
			clash = j != i && !strcmp(names[i], names[j]);
		if (clash) {
			struct kl_buf m;
			kl_buf_init(&m, 0);
			kl_buf_printf(&m, "no table: its table name '%s' is also another table's",
				      names[i]);
			kl_buf_putc(&m, '\0');
			problem(c, types[i].name, types[i].len, NULL, 0, m.data ? m.data : "");
			kl_buf_cleanup(&m);
			continue;
		}
		rc = event_table(c, o, root, &types[i], names[i]);
	}
	if (!rc && o->dead_letters)
		rc = dead_letter_table(c, o, root, prefix);
	free(names);
	free(root);
	if (rc == KL_ENOMEM)
		kl_errbuf_set(eb, rc, "catalog: out of memory");
	return rc;
}

/* ---- DDL --------------------------------------------------------------- */

/* A Hive string literal body: ' and \ escaped with a backslash. */
static int put_literal(struct kl_buf *b, const char *s)
{
	int rc = kl_buf_putc(b, '\'');
	for (; *s && !rc; s++) {
		if (*s == '\'' || *s == '\\')
			rc = kl_buf_putc(b, '\\');
		rc = rc ? rc : kl_buf_putc(b, *s);
	}
	return rc ? rc : kl_buf_putc(b, '\'');
}

/* A quoted identifier; a '`' (never in a planned name) is doubled. */
static int put_ident(struct kl_buf *b, const char *s)
{
	int rc = kl_buf_putc(b, '`');
	for (; *s && !rc; s++)
		rc = *s == '`' ? kl_buf_puts(b, "``") : kl_buf_putc(b, *s);
	return rc ? rc : kl_buf_putc(b, '`');
}

static int put_cols(struct kl_buf *b, const struct kl_catalog_column *c, size_t n, const char *sep)
{
	int rc = KL_OK;
	for (size_t i = 0; i < n && !rc; i++) {
		rc = kl_buf_puts(b, i ? sep : "");
		rc = rc ? rc : put_ident(b, c[i].name);
		rc = rc ? rc : kl_buf_printf(b, " %s", c[i].type);
	}
	return rc;
}

static int table_ddl(const struct kl_catalog *c, const struct kl_catalog_table *t, struct kl_buf *b)
{
	int rc = KL_OK;
	if (t->event_type) {
		rc = kl_buf_puts(b, "-- event type \"");
		/* a comment runs to the end of the line: keep it on one line */
		for (const char *p = t->event_type; *p && !rc; p++)
			rc = kl_buf_putc(b, *p == '\n' || *p == '\r' ? '?' : *p);
		rc = rc ? rc : kl_buf_puts(b, "\"\n");
	} else {
		rc = kl_buf_puts(
		    b, "-- dead letters: records kinlake rejected, with their raw bytes\n");
	}
	rc = rc ? rc : kl_buf_puts(b, "CREATE EXTERNAL TABLE IF NOT EXISTS ");
	rc = rc ? rc : put_ident(b, c->database);
	rc = rc ? rc : kl_buf_putc(b, '.');
	rc = rc ? rc : put_ident(b, t->name);
	rc = rc ? rc : kl_buf_puts(b, " (\n  ");
	rc = rc ? rc : put_cols(b, t->cols, t->n_cols, ",\n  ");
	rc = rc ? rc : kl_buf_puts(b, "\n)\nPARTITIONED BY (");
	rc = rc ? rc : put_cols(b, t->parts, t->n_parts, ", ");
	rc = rc ? rc : kl_buf_puts(b, ")\nROW FORMAT SERDE ");
	if (t->format == KL_CATALOG_PARQUET) {
		rc = rc ? rc : put_literal(b, PARQUET_SERDE);
		rc = rc ? rc : kl_buf_puts(b, "\nSTORED AS PARQUET\n");
	} else {
		rc = rc ? rc : put_literal(b, JSON_SERDE);
		rc = rc ? rc : kl_buf_puts(b, "\nSTORED AS TEXTFILE\n");
	}
	rc = rc ? rc : kl_buf_puts(b, "LOCATION ");
	rc = rc ? rc : put_literal(b, t->location);
	rc = rc ? rc : kl_buf_puts(b, "\nTBLPROPERTIES (\n  ");
	int first = 1;
	for (size_t i = 0; i < t->n_params && !rc; i++) {
		if (!strcmp(t->params[i].key, "EXTERNAL"))
			continue; /* implied by CREATE EXTERNAL TABLE */
		rc = kl_buf_puts(b, first ? "" : ",\n  ");
		first = 0;
		rc = rc ? rc : put_literal(b, t->params[i].key);
		rc = rc ? rc : kl_buf_putc(b, '=');
		rc = rc ? rc : put_literal(b, t->params[i].value);
	}
	return rc ? rc : kl_buf_puts(b, "\n);\n\n");
}

int kl_catalog_ddl(const struct kl_catalog *c, struct kl_buf *out)
{
	int rc = kl_buf_puts(out, "CREATE DATABASE IF NOT EXISTS ");
	rc = rc ? rc : put_ident(out, c->database);
	rc = rc ? rc : kl_buf_puts(out, ";\n\n");
	for (size_t i = 0; i < c->n && !rc; i++)
		rc = table_ddl(c, &c->t[i], out);
	return rc;
}
