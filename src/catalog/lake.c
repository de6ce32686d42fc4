/* lake.c — see lake.h. */
#include "catalog/lake.h"
#include "encode/parquet/schema.h"
#include "route/partition.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct type_info {
	char *raw;
	struct kl_schema schema;
	struct kl_catalog_col *cols;
	char **subtypes;
	size_t n_subtypes;
	char first_day[11];
};

struct priv {
	struct type_info *ti;
	size_t n;
};

/* Columns every stored event has, for a type the registry does not know
 * (a JSON-lines lake has no registry). */
static const struct kl_catalog_col common_cols[] = {
    {"event_uuid", 10, KL_COL_STRING}, {"event_name", 10, KL_COL_STRING},
    {"created_at", 10, KL_COL_DOUBLE}, {"created_datetime", 16, KL_COL_STRING},
    {"event_type", 10, KL_COL_STRING}, {"event_subtype", 13, KL_COL_STRING},
};

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void free_list(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* The one listing seam: the store's list op (one level under the key
 * prefix `dir`: objects as full keys, deeper levels as prefixes ending in
 * '/'), so a local and an s3:// lake read alike. */
static int list_keys(struct kl_store *store, const char *dir, kl_store_list_fn fn, void *ctx,
		     struct kl_errbuf *eb)
{
	if (!store->ops->list)
		return kl_errbuf_set(eb, KL_EUNSUPPORTED, "catalog: this store cannot list");
	int rc = store->ops->list(store, dir, fn, ctx);
	if (rc && rc != KL_ENOMEM)
		kl_errbuf_set(eb, rc, "catalog: list %s: %s", *dir ? dir : "(lake root)",
			      store->err.msg);
	return rc;
}

struct names {
	char **v;
	size_t n;
	size_t skip;	    /* length of the listed dir: cut from each key */
	const char *prefix; /* keep entries whose name starts with it (cut too) */
	int dirs;	    /* 1: deeper levels only; 0: objects only */
};

static int collect(void *ctx, const char *key, size_t len)
{
	struct names *x = ctx;
	int is_dir = len && key[len - 1] == '/';
	size_t pl = strlen(x->prefix);
	if (is_dir != x->dirs || len < x->skip + pl || strncmp(key + x->skip, x->prefix, pl))
		return KL_OK;
	char **v = realloc(x->v, (x->n + 1) * sizeof *v);
	if (!v)
		return KL_ENOMEM;
	x->v = v;
	size_t nl = len - x->skip - pl - (size_t)is_dir;
	if (!(v[x->n] = malloc(nl + 1)))
		return KL_ENOMEM;
	memcpy(v[x->n], key + x->skip + pl, nl);
	v[x->n][nl] = '\0';
	x->n++;
	return KL_OK;
}

/* Sorted names under `dir` (a key prefix "" or ending in '/') that start
 * with prefix (cut off): sub-levels (dirs) or objects. */
static int list_names(struct kl_store *store, const char *dir, const char *prefix, int dirs,
		      char ***out, size_t *n, struct kl_errbuf *eb)
{
	struct names x = {NULL, 0, strlen(dir), prefix, dirs};
	int rc = list_keys(store, dir, collect, &x, eb);
	if (rc == KL_ENOMEM)
		kl_errbuf_set(eb, rc, "catalog: out of memory");
	if (x.n)
		qsort(x.v, x.n, sizeof *x.v, cmp_str);
	*out = x.v;
	*n = x.n;
	return rc;
}

static int ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && !strcmp(s + n - m, suffix);
}

/* Format and compression from a data file's name; 0 if not a data file. */
static int file_kind(const char *name, int *format, const char **compression)
{
	if (ends_with(name, ".parquet")) {
		*format = KL_CATALOG_PARQUET;
		*compression = "none";
	} else if (ends_with(name, ".jsonl.gz")) {
		*format = KL_CATALOG_JSONL;
		*compression = "gzip";
	} else if (ends_with(name, ".jsonl.zst")) {
		*format = KL_CATALOG_JSONL;
		*compression = "zstd";
	} else if (ends_with(name, ".jsonl")) {
		*format = KL_CATALOG_JSONL;
		*compression = "none";
	} else {
		return 0;
	}
	return 1;
}

struct ctx {
	struct kl_catalog_lake *l;
	struct kl_store *store;
	struct kl_errbuf *eb;
};

/* The format (and compression) of some file in the key prefix dir. */
static int sniff_file(struct ctx *x, const char *dir, int errors)
{
	char **files;
	size_t nf;
	int rc = list_names(x->store, dir, "", 0, &files, &nf, x->eb);
	int fmt;
	const char *comp;
	for (size_t i = 0; i < nf && !rc; i++) {
		if (!file_kind(files[i], &fmt, &comp))
			continue;
		if (errors) {
			x->l->errors_compression = comp;
		} else {
			x->l->format = fmt;
			x->l->compression = comp;
		}
		break;
	}
	free_list(files, nf);
	return rc;
}

/* Earliest dt= under <base><prefix><sub>/ for each sub, into day; and the
 * format of a file of the first day found (under hr= for events). */
static int scan_days(struct ctx *x, const char *base, char **subs, size_t n_subs,
		     const char *sub_prefix, char day[11], int errors)
{
	struct kl_catalog_lake *l = x->l;
	int rc = KL_OK;
	for (size_t i = 0; i < n_subs && !rc; i++) {
		char dir[8192];
		char **days;
		size_t nd;
		if (snprintf(dir, sizeof dir, "%s%s%s/", base, sub_prefix, subs[i]) >=
		    (int)sizeof dir)
			continue;
		if ((rc = list_names(x->store, dir, "dt=", 1, &days, &nd, x->eb)))
			break;
		if (nd && strlen(days[0]) == 10 && (!day[0] || strcmp(days[0], day) < 0))
			snprintf(day, 11, "%s", days[0]);
		if (nd && (errors ? !l->errors_compression : l->format < 0)) {
			char sub[8192];
			if (snprintf(sub, sizeof sub, "%sdt=%s/", dir, days[0]) >=
			    (int)sizeof sub) {
				free_list(days, nd);
				continue;
			}
			if (!errors) { /* one level more: hr= */
				char **hrs;
				size_t nh;
				rc = list_names(x->store, sub, "hr=", 1, &hrs, &nh, x->eb);
				if (!rc && nh)
					snprintf(sub + strlen(sub), sizeof sub - strlen(sub),
						 "hr=%s/", hrs[0]);
				free_list(hrs, nh);
			}
			rc = rc ? rc : sniff_file(x, sub, errors);
		}
		free_list(days, nd);
	}
	return rc;
}

static int load_type(struct ctx *x, size_t idx, const char *escaped)
{
	struct kl_catalog_lake *l = x->l;
	struct type_info *ti = &((struct priv *)l->priv)->ti[idx];
	struct kl_catalog_type *t = &l->types[idx];
	struct kl_buf raw;
	kl_buf_init(&raw, 0);
	int rc = kl_hive_unescape(&raw, escaped, strlen(escaped));
	rc = rc ? rc : kl_buf_putc(&raw, '\0');
	if (rc == KL_EPARSE) { /* not a directory kinlake writes */
		kl_buf_cleanup(&raw);
		return kl_errbuf_set(x->eb, rc,
				     "catalog: events/event_type=%s/ is not Hive-escaped", escaped);
	}
	if (rc) {
		kl_buf_cleanup(&raw);
		return rc;
	}
	ti->raw = raw.data; /* owned now */
	size_t raw_len = raw.len - 1;
	kl_schema_init(&ti->schema);
	rc = kl_schema_registry_load(x->store, ti->raw, raw_len, &ti->schema, x->eb);
	memset(t, 0, sizeof *t);
	t->name = ti->raw;
	t->len = raw_len;
	if (rc == KL_OK && ti->schema.n == 0) { /* no registry entry */
		l->no_schema++;
		t->cols = common_cols;
		t->n_cols = sizeof common_cols / sizeof *common_cols;
	} else if (rc) {
		return rc;
	} else {
		if (!(ti->cols = calloc(ti->schema.n, sizeof *ti->cols)))
			return KL_ENOMEM;
		for (size_t i = 0; i < ti->schema.n; i++) {
			ti->cols[i].name = kl_schema_name(&ti->schema, i);
			ti->cols[i].len = ti->schema.cols[i].name_len;
			ti->cols[i].kind = ti->schema.cols[i].kind;
		}
		t->cols = ti->cols;
		t->n_cols = ti->schema.n;
	}
	char dir[8192];
	if (snprintf(dir, sizeof dir, "events/event_type=%s/", escaped) >= (int)sizeof dir)
		return kl_errbuf_set(x->eb, KL_ELIMIT, "event type directory name too long");
	rc = list_names(x->store, dir, "event_subtype=", 1, &ti->subtypes, &ti->n_subtypes, x->eb);
	rc = rc ? rc
		: scan_days(x, dir, ti->subtypes, ti->n_subtypes, "event_subtype=", ti->first_day,
			    0);
	t->subtypes = (const char *const *)ti->subtypes;
	t->n_subtypes = ti->n_subtypes;
	t->first_day = ti->first_day[0] ? ti->first_day : NULL;
	if (ti->first_day[0] && (!l->first_day[0] || strcmp(ti->first_day, l->first_day) < 0))
		memcpy(l->first_day, ti->first_day, 11);
	return rc;
}

int kl_catalog_lake_load(struct kl_catalog_lake *l, struct kl_store *store, struct kl_errbuf *eb)
{
	memset(l, 0, sizeof *l);
	l->format = -1;
	struct priv *p = calloc(1, sizeof *p);
	if (!p)
		return KL_ENOMEM;
	l->priv = p;
	struct ctx x = {l, store, eb};
	char **names;
	size_t n;
	int rc = list_names(store, "events/", "event_type=", 1, &names, &n, eb);
	if (rc)
		return rc;
	if (n && (!(p->ti = calloc(n, sizeof *p->ti)) || !(l->types = calloc(n, sizeof *l->types))))
		rc = KL_ENOMEM;
	for (size_t i = 0; i < n && !rc; i++) {
		p->n = l->n = i + 1;
		rc = load_type(&x, i, names[i]);
	}
	free_list(names, n);
	rc = rc ? rc : list_names(store, "errors/", "", 1, &l->reasons, &l->n_reasons, eb);
	return rc ? rc : scan_days(&x, "errors/", l->reasons, l->n_reasons, "", l->first_day, 1);
}

void kl_catalog_lake_cleanup(struct kl_catalog_lake *l)
{
	struct priv *p = l->priv;
	if (p) {
		for (size_t i = 0; i < p->n; i++) {
			free(p->ti[i].raw);
			kl_schema_cleanup(&p->ti[i].schema);
			free(p->ti[i].cols);
			free_list(p->ti[i].subtypes, p->ti[i].n_subtypes);
		}
		free(p->ti);
		free(p);
	}
	free(l->types);
	free_list(l->reasons, l->n_reasons);
	memset(l, 0, sizeof *l);
}
