/* catalog_glue.c — see catalog.h: the Glue TableInput of a planned table
 * (CreateTable/UpdateTable), and the merge of a GetTable answer into it.
 * Shapes: the Glue API reference (TableInput, Table, StorageDescriptor). */
#include "catalog/catalog.h"
#include "catalog/catalog_internal.h"
#include "event/event.h"
#include "parse/json.h"

#include <stdlib.h>
#include <string.h>

/* ---- Glue TableInput --------------------------------------------------- */

static int put_jstr(struct kl_buf *b, const char *s)
{
	int rc = kl_buf_putc(b, '"');
	rc = rc ? rc : kl_json_escape_append(b, s, strlen(s));
	return rc ? rc : kl_buf_putc(b, '"');
}

static int put_jcols(struct kl_buf *b, const struct kl_catalog_column *c, size_t n)
{
	int rc = kl_buf_putc(b, '[');
	for (size_t i = 0; i < n && !rc; i++) {
		rc = kl_buf_puts(b, i ? ",{\"Name\":" : "{\"Name\":");
		rc = rc ? rc : put_jstr(b, c[i].name);
		rc = rc ? rc : kl_buf_puts(b, ",\"Type\":");
		rc = rc ? rc : put_jstr(b, c[i].type);
		rc = rc ? rc : kl_buf_putc(b, '}');
	}
	return rc ? rc : kl_buf_putc(b, ']');
}

int kl_catalog_table_input(const struct kl_catalog_table *t, struct kl_buf *out)
{
	int pq = t->format == KL_CATALOG_PARQUET;
	int rc = kl_buf_puts(out, "{\"Name\":");
	rc = rc ? rc : put_jstr(out, t->name);
	rc = rc ? rc : kl_buf_puts(out, ",\"TableType\":\"EXTERNAL_TABLE\",\"Parameters\":{");
	for (size_t i = 0; i < t->n_params && !rc; i++) {
		rc = kl_buf_puts(out, i ? "," : "");
		rc = rc ? rc : put_jstr(out, t->params[i].key);
		rc = rc ? rc : kl_buf_putc(out, ':');
		rc = rc ? rc : put_jstr(out, t->params[i].value);
	}
	rc = rc ? rc : kl_buf_puts(out, "},\"PartitionKeys\":");
	rc = rc ? rc : put_jcols(out, t->parts, t->n_parts);
	rc = rc ? rc : kl_buf_puts(out, ",\"StorageDescriptor\":{\"Columns\":");
	rc = rc ? rc : put_jcols(out, t->cols, t->n_cols);
	rc = rc ? rc : kl_buf_puts(out, ",\"Location\":");
	rc = rc ? rc : put_jstr(out, t->location);
	rc = rc ? rc
		: kl_buf_printf(out,
				",\"InputFormat\":\"%s\",\"OutputFormat\":\"%s\","
				"\"Compressed\":%s,\"SerdeInfo\":{\"SerializationLibrary\":\"%s\","
				"\"Parameters\":{\"serialization.format\":\"1\"}}}}",
				pq ? PARQUET_IN : TEXT_IN, pq ? PARQUET_OUT : TEXT_OUT,
				pq ? "false" : "true", pq ? PARQUET_SERDE : JSON_SERDE);
	return rc;
}

/* ---- merging what Glue holds ------------------------------------------- */

/* A string member of a validated object, decoded and NUL-terminated
 * (malloc'd); NULL if absent, not a string, or out of memory. */
static char *jstr(const char *obj, size_t n, const char *name)
{
	struct kl_json_member m;
	if (!kl_json_object_get(obj, n, name, &m) || m.type != KL_JSON_STRING || m.val_len < 2)
		return NULL;
	char *s = malloc(m.val_len - 1);
	if (s)
		s[kl_json_unescape(m.val + 1, m.val_len - 2, s)] = '\0';
	return s;
}

static int jobj(const char *obj, size_t n, const char *name, int type, const char **v, size_t *vn)
{
	struct kl_json_member m;
	if (!kl_json_object_get(obj, n, name, &m) || m.type != type)
		return 0;
	*v = m.val;
	*vn = m.val_len;
	return 1;
}

/* Glue's [{"Name":..,"Type":..}] into a column array. */
static int read_cols(const char *arr, size_t n, struct kl_catalog_column **out, size_t *n_out)
{
	struct kl_json_iter it;
	struct kl_json_member m;
	kl_json_iter_init(&it, arr, n);
	while (kl_json_iter_next(&it, &m)) {
		if (m.type != KL_JSON_OBJECT)
			return KL_EPARSE;
		char *name = jstr(m.val, m.val_len, "Name");
		char *type = jstr(m.val, m.val_len, "Type");
		int rc = name && type ? kl_catalog_push_col(out, n_out, name, strlen(name), type)
				      : KL_EPARSE;
		free(name);
		free(type);
		if (rc)
			return rc;
	}
	return KL_OK;
}

static int same_cols(const struct kl_catalog_column *a, size_t na,
		     const struct kl_catalog_column *b, size_t nb)
{
	if (na != nb)
		return 0;
	for (size_t i = 0; i < na; i++)
		if (strcmp(a[i].name, b[i].name) || strcmp(a[i].type, b[i].type))
			return 0;
	return 1;
}

/* Glue's columns, widened, then the planned ones Glue lacks. */
static int merge_cols(struct kl_catalog_table *t, struct kl_catalog_column *g, size_t ng,
		      int *changed)
{
	struct kl_catalog_column *m = NULL;
	size_t nm = 0;
	int rc = KL_OK;
	for (size_t i = 0; i < ng && !rc; i++) {
		char *lc = kl_catalog_dup0(g[i].name);
		if (!lc) {
			rc = KL_ENOMEM;
			break;
		}
		kl_catalog_lower(lc);
		long j = kl_catalog_find_col(t->cols, t->n_cols, lc);
		const char *type = g[i].type;
		enum kl_col_kind gk = kl_catalog_kind_of(g[i].type);
		if (j >= 0 && gk != KL_COL_UNKNOWN)
			type = kl_catalog_hive_type(
			    kl_col_widen(gk, kl_catalog_kind_of(t->cols[j].type)));
		if (kl_catalog_find_col(m, nm, lc) < 0 &&
		    kl_catalog_find_col(t->parts, t->n_parts, lc) < 0)
			rc = kl_catalog_push_col(&m, &nm, lc, strlen(lc), type);
		free(lc);
	}
	for (size_t j = 0; j < t->n_cols && !rc; j++)
		if (kl_catalog_find_col(m, nm, t->cols[j].name) < 0)
			rc = kl_catalog_push_col(&m, &nm, t->cols[j].name, strlen(t->cols[j].name),
						 t->cols[j].type);
	if (rc) {
		kl_catalog_cols_free(m, nm);
		return rc;
	}
	if (!same_cols(m, nm, g, ng))
		*changed = 1;
	kl_catalog_cols_free(t->cols, t->n_cols);
	t->cols = m;
	t->n_cols = nm;
	return KL_OK;
}

/* Compare kinlake's parameters with Glue's; keep Glue's others. */
static int merge_params(struct kl_catalog_table *t, const char *obj, size_t n, int *changed)
{
	size_t mine = t->n_params;
	for (size_t i = 0; i < mine; i++) {
		char *v = jstr(obj, n, t->params[i].key);
		if (!v || strcmp(v, t->params[i].value))
			*changed = 1;
		free(v);
	}
	struct kl_json_iter it;
	struct kl_json_member m;
	kl_json_iter_init(&it, obj, n);
	while (kl_json_iter_next(&it, &m)) {
		if (m.type != KL_JSON_STRING || m.val_len < 2)
			continue;
		char *k = malloc(m.key_len + 1), *v = malloc(m.val_len - 1);
		int rc = k && v ? KL_OK : KL_ENOMEM;
		if (!rc) {
			k[kl_json_unescape(m.key, m.key_len, k)] = '\0';
			v[kl_json_unescape(m.val + 1, m.val_len - 2, v)] = '\0';
			int known = 0;
			for (size_t i = 0; i < t->n_params && !known; i++)
				known = !strcmp(t->params[i].key, k);
			if (!known)
				rc = kl_catalog_push_param(t, k, v);
		}
		free(k);
		free(v);
		if (rc)
			return rc;
	}
	return KL_OK;
}

int kl_catalog_merge_glue(struct kl_catalog_table *t, const char *json, size_t n, int *changed,
			  struct kl_errbuf *eb)
{
	struct kl_json_error je;
	const char *tab, *sd, *v;
	size_t tab_n, sd_n, vn;
	*changed = 0;
	if (kl_json_parse(json, n, 64, NULL, &je) ||
	    !jobj(json, n, "Table", KL_JSON_OBJECT, &tab, &tab_n))
		return kl_errbuf_set(eb, KL_EPARSE, "Glue GetTable %s: not a table document",
				     t->name);
	struct kl_catalog_column *g = NULL, *gp = NULL;
	size_t ng = 0, ngp = 0;
	int rc = KL_OK;
	if (jobj(tab, tab_n, "StorageDescriptor", KL_JSON_OBJECT, &sd, &sd_n)) {
		if (jobj(sd, sd_n, "Columns", KL_JSON_ARRAY, &v, &vn))
			rc = read_cols(v, vn, &g, &ng);
		char *loc = jstr(sd, sd_n, "Location");
		char *in = jstr(sd, sd_n, "InputFormat");
		const char *want_in = t->format == KL_CATALOG_PARQUET ? PARQUET_IN : TEXT_IN;
		if (!loc || strcmp(loc, t->location) || !in || strcmp(in, want_in))
			*changed = 1;
		free(loc);
		free(in);
		const char *si;
		size_t si_n;
		char *lib = NULL;
		if (jobj(sd, sd_n, "SerdeInfo", KL_JSON_OBJECT, &si, &si_n))
			lib = jstr(si, si_n, "SerializationLibrary");
		const char *want = t->format == KL_CATALOG_PARQUET ? PARQUET_SERDE : JSON_SERDE;
		if (!lib || strcmp(lib, want))
			*changed = 1;
		free(lib);
	} else {
		*changed = 1;
	}
	if (!rc && jobj(tab, tab_n, "PartitionKeys", KL_JSON_ARRAY, &v, &vn))
		rc = read_cols(v, vn, &gp, &ngp);
	if (!rc && !same_cols(gp, ngp, t->parts, t->n_parts))
		*changed = 1;
	rc = rc ? rc : merge_cols(t, g, ng, changed);
	if (!rc && jobj(tab, tab_n, "Parameters", KL_JSON_OBJECT, &v, &vn))
		rc = merge_params(t, v, vn, changed);
	else if (!rc && t->n_params)
		*changed = 1;
	kl_catalog_cols_free(g, ng);
	kl_catalog_cols_free(gp, ngp);
	if (rc == KL_EPARSE)
		return kl_errbuf_set(eb, rc, "Glue GetTable %s: a column without Name or Type",
				     t->name);
	if (rc)
		return kl_errbuf_set(eb, rc, "catalog: out of memory");
	return KL_OK;
}
