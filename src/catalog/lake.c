/* lake.c — see lake.h. */
#include "catalog/lake.h"
#include "encode/parquet/schema.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

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
	{"event_uuid", 10, KL_COL_STRING},	 {"event_name", 10, KL_COL_STRING},
	{"created_at", 10, KL_COL_DOUBLE},	 {"created_datetime", 16, KL_COL_STRING},
	{"event_type", 10, KL_COL_STRING},	 {"event_subtype", 13, KL_COL_STRING},
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

/* Sorted names of the subdirectories of dir that start with prefix (the
 * prefix cut off); hidden entries skipped. A missing dir is an empty list. */
static int list_dirs(const char *dir, const char *prefix, char ***out, size_t *n,
		     struct kl_errbuf *eb)
{
	*out = NULL;
	*n = 0;
	DIR *d = opendir(dir);
	if (!d)
		return errno == ENOENT ? KL_OK
				       : kl_errbuf_set(eb, KL_EIO, "list %s: %s", dir, strerror(errno));
	size_t pl = strlen(prefix);
	int rc = KL_OK;
	struct dirent *e;
	while (!rc && (e = readdir(d))) {
		if (e->d_name[0] == '.' || strncmp(e->d_name, prefix, pl))
			continue;
		char path[8192];
		struct stat st;
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		if (stat(path, &st) || !S_ISDIR(st.st_mode))
			continue;
		char **v = realloc(*out, (*n + 1) * sizeof *v);
		if (!v || !(v[*n] = strdup(e->d_name + pl))) {
			if (v)
				*out = v;
			rc = KL_ENOMEM;
			break;
		}
		*out = v;
		(*n)++;
	}
	closedir(d);
	if (*n)
		qsort(*out, *n, sizeof **out, cmp_str);
	return rc;
}

/* The name of some visible regular file in dir (or ""). */
static void some_file(const char *dir, char *name, size_t size)
{
	name[0] = '\0';
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.') {
			char path[8192];
			struct stat st;
			snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
			if (!stat(path, &st) && S_ISREG(st.st_mode)) {
				snprintf(name, size, "%s", e->d_name);
				break;
			}
		}
	closedir(d);
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

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Undo route/partition.c's Hive escaping (in place); the default partition
 * is the empty type. Returns the length. */
static size_t hive_unescape(char *s)
{
	if (!strcmp(s, "__HIVE_DEFAULT_PARTITION__")) {
		s[0] = '\0';
		return 0;
	}
	size_t o = 0;
	for (size_t i = 0; s[i]; i++) {
		int h, l;
		if (s[i] == '%' && (h = hexval(s[i + 1])) >= 0 && (l = hexval(s[i + 2])) >= 0) {
			s[o++] = (char)(h * 16 + l);
			i += 2;
		} else {
			s[o++] = s[i];
		}
	}
	s[o] = '\0';
	return o;
}

/* Earliest dt= under dir/<each sub>/, into day; the format of a file of it. */
static int scan_days(struct kl_catalog_lake *l, const char *dir, char **subs, size_t n_subs,
		     const char *sub_prefix, char day[11], int errors, struct kl_errbuf *eb)
{
	int rc = KL_OK;
	for (size_t i = 0; i < n_subs && !rc; i++) {
		char path[8192];
		char **days;
		size_t nd;
		snprintf(path, sizeof path, "%s/%s%s", dir, sub_prefix, subs[i]);
		if ((rc = list_dirs(path, "dt=", &days, &nd, eb)))
			break;
		if (nd && strlen(days[0]) == 10 && (!day[0] || strcmp(days[0], day) < 0))
			snprintf(day, 11, "%s", days[0]);
		if (nd && (errors ? !l->errors_compression : l->format < 0)) {
			char sub[8192], name[512];
			int fmt;
			const char *comp;
			if (snprintf(sub, sizeof sub, "%s/dt=%s", path, days[0]) >= (int)sizeof sub)
				sub[0] = '\0';
			if (!errors) { /* one level more: hr= */
				char **hrs;
				size_t nh;
				if (!list_dirs(sub, "hr=", &hrs, &nh, eb) && nh)
					snprintf(sub + strlen(sub), sizeof sub - strlen(sub), "/hr=%s",
						 hrs[0]);
				free_list(hrs, nh);
			}
			some_file(sub, name, sizeof name);
			if (file_kind(name, &fmt, &comp)) {
				if (errors) {
					l->errors_compression = comp;
				} else {
					l->format = fmt;
					l->compression = comp;
				}
			}
		}
		free_list(days, nd);
	}
	return rc;
}

static int load_type(struct kl_catalog_lake *l, struct type_info *ti, const char *root,
		     const char *escaped, struct kl_store *store, struct kl_errbuf *eb)
{
	if (!(ti->raw = strdup(escaped)))
		return KL_ENOMEM;
	size_t raw_len = hive_unescape(ti->raw);
	kl_schema_init(&ti->schema);
	int rc = kl_schema_registry_load(store, ti->raw, raw_len, &ti->schema, eb);
	struct kl_catalog_type *t = &l->types[ti - ((struct priv *)l->priv)->ti];
	memset(t, 0, sizeof *t);
	t->name = ti->raw;
	t->len = raw_len;
	if (rc == KL_ENOTFOUND) {
		l->no_schema++;
		t->cols = common_cols;
		t->n_cols = sizeof common_cols / sizeof *common_cols;
	} else if (rc) {
		return rc;
	} else {
		if (!(ti->cols = calloc(ti->schema.n ? ti->schema.n : 1, sizeof *ti->cols)))
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
	snprintf(dir, sizeof dir, "%s/events/event_type=%s", root, escaped);
	rc = list_dirs(dir, "event_subtype=", &ti->subtypes, &ti->n_subtypes, eb);
	rc = rc ? rc : scan_days(l, dir, ti->subtypes, ti->n_subtypes, "event_subtype=",
				 ti->first_day, 0, eb);
	t->subtypes = (const char *const *)ti->subtypes;
	t->n_subtypes = ti->n_subtypes;
	t->first_day = ti->first_day[0] ? ti->first_day : NULL;
	if (ti->first_day[0] && (!l->first_day[0] || strcmp(ti->first_day, l->first_day) < 0))
		memcpy(l->first_day, ti->first_day, 11);
	return rc;
}

int kl_catalog_lake_load(struct kl_catalog_lake *l, const char *root, struct kl_store *store,
			 struct kl_errbuf *eb)
{
	memset(l, 0, sizeof *l);
	l->format = -1;
	if (!strncmp(root, "s3://", 5))
		return kl_errbuf_set(eb, KL_EUNSUPPORTED,
				     "catalog: listing an s3:// lake is not supported yet; "
				     "run it on a local copy (aws s3 sync) with --location %s",
				     root);
	struct priv *p = calloc(1, sizeof *p);
	if (!p)
		return KL_ENOMEM;
	l->priv = p;
	char dir[8192];
	char **names;
	size_t n;
	snprintf(dir, sizeof dir, "%s/events", root);
	int rc = list_dirs(dir, "event_type=", &names, &n, eb);
	if (rc)
		return rc;
	if (n && (!(p->ti = calloc(n, sizeof *p->ti)) || !(l->types = calloc(n, sizeof *l->types))))
		rc = KL_ENOMEM;
	for (size_t i = 0; i < n && !rc; i++) {
		p->n = l->n = i + 1;
		rc = load_type(l, &p->ti[i], root, names[i], store, eb);
	}
	free_list(names, n);
	if (rc)
		return rc;
	snprintf(dir, sizeof dir, "%s/errors", root);
	if ((rc = list_dirs(dir, "", &l->reasons, &l->n_reasons, eb)))
		return rc;
	return scan_days(l, dir, l->reasons, l->n_reasons, "", l->first_day, 1, eb);
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
