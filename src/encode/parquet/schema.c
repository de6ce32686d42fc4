/* schema.c — see schema.h. */
#include "encode/parquet/schema.h"
#include "core/err.h"
#include "parse/json.h"
#include "route/partition.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

void kl_schema_init(struct kl_schema *s)
{
	memset(s, 0, sizeof *s);
	kl_buf_init(&s->arena, 0);
}

void kl_schema_cleanup(struct kl_schema *s)
{
	free(s->cols);
	free(s->index);
	free(s->pq);
	kl_buf_cleanup(&s->arena);
	memset(s, 0, sizeof *s);
}

void kl_schema_reset(struct kl_schema *s)
{
	s->n = 0;
	kl_buf_reset(&s->arena);
	if (s->index)
		memset(s->index, 0, (s->index_mask + 1) * sizeof *s->index);
}

long kl_schema_find(const struct kl_schema *s, const char *name, size_t n)
{
	if (!s->index)
		return -1;
	uint64_t h = XXH3_64bits(name, n);
	for (size_t i = h & s->index_mask; s->index[i]; i = (i + 1) & s->index_mask) {
		const struct kl_schema_col *c = &s->cols[s->index[i] - 1];
		if (c->hash == h && c->name_len == n && !memcmp(s->arena.data + c->name_off, name, n))
			return (long)s->index[i] - 1;
	}
	return -1;
}

static int grow_index(struct kl_schema *s)
{
	size_t cap = s->index ? (s->index_mask + 1) * 2 : 64;
	uint32_t *idx = calloc(cap, sizeof *idx);
	if (!idx)
		return -1;
	for (size_t j = 0; j < s->n; j++) {
		size_t i = s->cols[j].hash & (cap - 1);
		while (idx[i])
			i = (i + 1) & (cap - 1);
		idx[i] = (uint32_t)j + 1;
	}
	free(s->index);
	s->index = idx;
	s->index_mask = cap - 1;
	return 0;
}

long kl_schema_col(struct kl_schema *s, const char *name, size_t n)
{
	long f = kl_schema_find(s, name, n);
	if (f >= 0)
		return f;
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 32;
		struct kl_schema_col *c = realloc(s->cols, cap * sizeof *c);
		if (!c)
			return -1;
		s->cols = c;
		s->cap = cap;
	}
	if ((!s->index || (s->n + 1) * 2 > s->index_mask + 1) && grow_index(s))
		return -1;
	struct kl_schema_col *c = &s->cols[s->n];
	c->name_off = s->arena.len;
	c->name_len = n;
	c->hash = XXH3_64bits(name, n);
	c->kind = KL_COL_UNKNOWN;
	if (kl_buf_append(&s->arena, name, n) || kl_buf_putc(&s->arena, '\0'))
		return -1;
	size_t i = c->hash & s->index_mask;
	while (s->index[i])
		i = (i + 1) & s->index_mask;
	s->index[i] = (uint32_t)s->n + 1;
	return (long)s->n++;
}

enum kl_col_kind kl_col_widen(enum kl_col_kind a, enum kl_col_kind b)
{
	if (a == KL_COL_UNKNOWN)
		return b;
	if (b == KL_COL_UNKNOWN || a == b)
		return a;
	if ((a == KL_COL_INT && b == KL_COL_DOUBLE) || (a == KL_COL_DOUBLE && b == KL_COL_INT))
		return KL_COL_DOUBLE;
	return KL_COL_STRING;
}

void kl_schema_observe(struct kl_schema *s, size_t i, int t)
{
	enum kl_col_kind k;
	switch (t) {
	case KL_JSON_NULL: return;
	case KL_JSON_TRUE:
	case KL_JSON_FALSE: k = KL_COL_BOOL; break;
	case KL_JSON_INT: k = KL_COL_INT; break;
	case KL_JSON_NUMBER: k = KL_COL_DOUBLE; break;
	default: k = KL_COL_STRING; break;
	}
	s->cols[i].kind = kl_col_widen(s->cols[i].kind, k);
}

const char *kl_col_kind_name(enum kl_col_kind k)
{
	switch (k) {
	case KL_COL_BOOL: return "boolean";
	case KL_COL_INT: return "bigint";
	case KL_COL_DOUBLE: return "double";
	case KL_COL_STRING: return "string";
	case KL_COL_UNKNOWN: return "string";
	}
	return "string";
}

const struct kl_pq_column *kl_schema_columns(struct kl_schema *s)
{
	if (s->pq_cap < s->n) {
		free(s->pq);
		s->pq = malloc(s->n * sizeof *s->pq);
		if (!s->pq) {
			s->pq_cap = 0;
			return NULL;
		}
		s->pq_cap = s->n;
	}
	for (size_t i = 0; i < s->n; i++) {
		s->pq[i].name = kl_schema_name(s, i);
		switch (s->cols[i].kind) {
		case KL_COL_BOOL: s->pq[i].type = KL_PQ_BOOLEAN; break;
		case KL_COL_INT: s->pq[i].type = KL_PQ_INT64; break;
		case KL_COL_DOUBLE: s->pq[i].type = KL_PQ_DOUBLE; break;
		default: s->pq[i].type = KL_PQ_STRING; break;
		}
	}
	return s->pq;
}

/* --- registry ------------------------------------------------------------ */

static enum kl_col_kind kind_from_name(const char *s, size_t n)
{
	if (n == 7 && !memcmp(s, "boolean", 7))
		return KL_COL_BOOL;
	if (n == 6 && !memcmp(s, "bigint", 6))
		return KL_COL_INT;
	if (n == 6 && !memcmp(s, "double", 6))
		return KL_COL_DOUBLE;
	return KL_COL_STRING;
}

static int append_columns(struct kl_buf *b, const struct kl_schema *s)
{
	int rc = kl_buf_putc(b, '[');
	for (size_t i = 0; i < s->n && !rc; i++) {
		rc = kl_buf_printf(b, "%s{\"name\":\"", i ? "," : "");
		for (const char *p = kl_schema_name(s, i); *p && !rc; p++) {
			unsigned char c = (unsigned char)*p;
			rc = c == '"' || c == '\\' ? kl_buf_printf(b, "\\%c", c)
			     : c < 0x20       ? kl_buf_printf(b, "\\u%04x", c)
					      : kl_buf_putc(b, (char)c);
		}
		if (!rc)
			rc = kl_buf_printf(b, "\",\"type\":\"%s\"}", kl_col_kind_name(s->cols[i].kind));
	}
	return rc ? rc : kl_buf_putc(b, ']');
}

/* Add every column of `from` to `u`, widening; 1 if `u` changed. */
static int union_into(struct kl_schema *u, const struct kl_schema *from, int *changed)
{
	for (size_t i = 0; i < from->n; i++) {
		size_t before = u->n;
		long j = kl_schema_col(u, kl_schema_name(from, i), from->cols[i].name_len);
		if (j < 0)
			return KL_ENOMEM;
		enum kl_col_kind k = kl_col_widen(u->cols[j].kind, from->cols[i].kind);
		if (u->n != before || k != u->cols[j].kind)
			*changed = 1;
		u->cols[j].kind = k;
	}
	return KL_OK;
}

/* 1 if every column of fs is in u with a kind u already covers. */
static int covered(const struct kl_schema *u, const struct kl_schema *fs)
{
	for (size_t i = 0; i < fs->n; i++) {
		long j = kl_schema_find(u, kl_schema_name(fs, i), fs->cols[i].name_len);
		if (j < 0 || kl_col_widen(u->cols[j].kind, fs->cols[i].kind) != u->cols[j].kind)
			return 0;
	}
	return 1;
}

struct reg_entry {
	char *type; /* decoded event type, NUL-terminated */
	size_t type_len;
	struct kl_schema u; /* the union as last written or read */
};

struct kl_schema_registry {
	pthread_mutex_t mu;
	struct reg_entry *e;
	size_t n, cap;
	uint64_t reads;
};

struct kl_schema_registry *kl_schema_registry_new(void)
{
	struct kl_schema_registry *r = calloc(1, sizeof *r);
	if (r)
		pthread_mutex_init(&r->mu, NULL);
	return r;
}

void kl_schema_registry_free(struct kl_schema_registry *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n; i++) {
		free(r->e[i].type);
		kl_schema_cleanup(&r->e[i].u);
	}
	free(r->e);
	pthread_mutex_destroy(&r->mu);
	free(r);
}

uint64_t kl_schema_registry_reads(struct kl_schema_registry *r)
{
	pthread_mutex_lock(&r->mu);
	uint64_t n = r->reads;
	pthread_mutex_unlock(&r->mu);
	return n;
}

static struct reg_entry *reg_find(struct kl_schema_registry *r, const char *t, size_t n,
				  int add)
{
	for (size_t i = 0; i < r->n; i++)
		if (r->e[i].type_len == n && !memcmp(r->e[i].type, t, n))
			return &r->e[i];
	if (!add)
		return NULL;
	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 16;
		struct reg_entry *e = realloc(r->e, cap * sizeof *e);
		if (!e)
			return NULL;
		r->e = e;
		r->cap = cap;
	}
	struct reg_entry *e = &r->e[r->n];
	if (!(e->type = malloc(n + 1)))
		return NULL;
	memcpy(e->type, t, n);
	e->type[n] = '\0';
	e->type_len = n;
	kl_schema_init(&e->u);
	r->n++;
	return e;
}

static int merge_locked(struct kl_schema_registry *reg, struct kl_store *store,
			const char *event_type, size_t type_len, const struct kl_schema *fs,
			struct kl_errbuf *eb);

int kl_schema_registry_merge(struct kl_schema_registry *reg, struct kl_store *store,
			     const char *event_type, size_t type_len, const struct kl_schema *fs,
			     struct kl_errbuf *eb)
{
	pthread_mutex_lock(&reg->mu);
	struct reg_entry *e = reg_find(reg, event_type, type_len, 0);
	int rc = e && covered(&e->u, fs)
			 ? KL_OK
			 : merge_locked(reg, store, event_type, type_len, fs, eb);
	pthread_mutex_unlock(&reg->mu);
	return rc;
}

static int merge_locked(struct kl_schema_registry *reg, struct kl_store *store,
			const char *event_type, size_t type_len, const struct kl_schema *fs,
			struct kl_errbuf *eb)
{
	char path[4200];
	struct kl_buf name, old, out;
	kl_buf_init(&name, 0);
	kl_buf_init(&old, 0);
	kl_buf_init(&out, 0);
	struct kl_schema u;
	kl_schema_init(&u);
	int rc = kl_hive_escape(&name, event_type, type_len);
	rc = rc ? rc : kl_buf_putc(&name, '\0');
	if (rc)
		goto out;
	snprintf(path, sizeof path, "_kinlake/schemas/%s.json", name.data);
	/* load the current union: "columns":[{"name":"..","type":".."},...] first */
	int version = 0;
	const char *hist = NULL;
	size_t hist_len = 0;
	int found = 0;
	reg->reads++;
	rc = store->ops->read(store, path, &old);
	if (rc == KL_ENOTFOUND) {
		rc = KL_OK;
	} else if (rc) {
		kl_errbuf_set(eb, rc, "schema registry: read %s: %s", path, store->err.msg);
		goto out;
	} else {
		found = 1;
		if ((rc = kl_buf_putc(&old, '\0')))
			goto out;
		const char *vp = strstr(old.data, "\"version\":");
		if (vp)
			version = atoi(vp + 10);
		const char *cols = strstr(old.data, "\"columns\":[");
		const char *end = cols ? strstr(cols, "]") : NULL;
		for (const char *p = cols; p && p < end;) {
			const char *nm = strstr(p, "{\"name\":\"");
			if (!nm || nm > end)
				break;
			nm += 9;
			struct kl_buf key;
			kl_buf_init(&key, 0);
			const char *q = nm;
			while (*q && *q != '"') {
				if (*q == '\\' && q[1])
					q++;
				kl_buf_putc(&key, *q++);
			}
			const char *tp = strstr(q, "\"type\":\"");
			if (!tp) {
				kl_buf_cleanup(&key);
				break;
			}
			tp += 8;
			const char *te = strchr(tp, '"');
			long i = kl_schema_col(&u, key.data ? key.data : "", key.len);
			kl_buf_cleanup(&key);
			if (i < 0 || !te) {
				rc = KL_ENOMEM;
				goto out;
			}
			u.cols[i].kind = kind_from_name(tp, (size_t)(te - tp));
			p = te;
		}
		hist = strstr(old.data, "\"history\":[");
		if (hist) {
			hist += 11;
			const char *he = strrchr(hist, ']');
			hist_len = he ? (size_t)(he - hist) : 0;
		}
	}
	int changed = !found;
	struct reg_entry *cached = reg_find(reg, event_type, type_len, 0);
	if ((cached && (rc = union_into(&u, &cached->u, &changed))) ||
	    (rc = union_into(&u, fs, &changed)))
		goto out;
	if (!changed)
		goto cache;
	version++;
	rc = kl_buf_puts(&out, "{\"event_type\":\"");
	rc = rc ? rc : kl_buf_append(&out, name.data, name.len - 1);
	rc = rc ? rc : kl_buf_printf(&out, "\",\"version\":%d,\"columns\":", version);
	rc = rc ? rc : append_columns(&out, &u);
	rc = rc ? rc : kl_buf_puts(&out, ",\"history\":[");
	if (!rc && hist_len) {
		rc = kl_buf_append(&out, hist, hist_len);
		rc = rc ? rc : kl_buf_putc(&out, ',');
	}
	rc = rc ? rc : kl_buf_printf(&out, "\n{\"version\":%d,\"columns\":", version);
	rc = rc ? rc : append_columns(&out, &u);
	rc = rc ? rc : kl_buf_puts(&out, "}]}\n");
	if (!rc) {
		struct kl_store_file *sf;
		rc = store->ops->open(store, path, &sf);
		if (!rc && (rc = store->ops->write(sf, out.data, out.len)))
			store->ops->abort(sf);
		else if (!rc)
			rc = store->ops->commit(sf);
		if (rc)
			kl_errbuf_set(eb, rc, "schema registry: write %s: %s", path, store->err.msg);
	}
cache:
	if (!rc) { /* the cache takes the union now in the store */
		struct reg_entry *e = reg_find(reg, event_type, type_len, 1);
		if (e) {
			struct kl_schema t = e->u;
			e->u = u;
			u = t;
		}
	}
out:
	kl_schema_cleanup(&u);
	kl_buf_cleanup(&name);
	kl_buf_cleanup(&old);
	kl_buf_cleanup(&out);
	if (rc && eb && !eb->code)
		kl_errbuf_set(eb, rc, "schema registry: cannot update %s", path);
	return rc;
}
