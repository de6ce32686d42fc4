/* schema_registry.c — the per-event-type union schema in the lake, kept as
 * append-only, content-addressed fragments; see schema.h ("Registry"). */
#include "core/array.h"
#include "core/clock.h"
#include "core/err.h"
#include "encode/parquet/schema.h"
#include "parse/json.h"
#include "route/partition.h"

#include <openssl/evp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#define SCHEMAS "_kinlake/schemas/"
#define DOC_MAX ((size_t)64 << 20) /* a registry document we agree to read */
#define DOC_DEPTH 8

/* The event contract's common columns, first in every union. */
static const char *const common_cols[] = {"event_uuid",	      "event_name", "created_at",
					  "created_datetime", "event_type", "event_subtype"};

/* --- documents ----------------------------------------------------------- */

enum kl_col_kind kl_col_kind_parse(const char *s, size_t n)
{
	if (n == 7 && !memcmp(s, "boolean", 7))
		return KL_COL_BOOL;
	if (n == 6 && !memcmp(s, "bigint", 6))
		return KL_COL_INT;
	if (n == 6 && !memcmp(s, "double", 6))
		return KL_COL_DOUBLE;
	return KL_COL_STRING;
}

/* A JSON string literal of p[0..n): '"', '\\' and control bytes escaped. */
static int put_json_string(struct kl_buf *b, const char *p, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	int rc = kl_buf_putc(b, '"');
	for (size_t i = 0; i < n && !rc; i++) {
		unsigned char c = (unsigned char)p[i];
		if (c == '"' || c == '\\') {
			char e[2] = {'\\', (char)c};
			rc = kl_buf_append(b, e, 2);
		} else if (c < 0x20) {
			char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
			rc = kl_buf_append(b, e, 6);
		} else {
			rc = kl_buf_putc(b, (char)c);
		}
	}
	return rc ? rc : kl_buf_putc(b, '"');
}

int kl_schema_doc_write(struct kl_buf *out, const char *event_type, size_t type_len,
			const struct kl_schema *s)
{
	size_t start = out->len;
	int rc = kl_buf_puts(out, "{\"event_type\":");
	rc = rc ? rc : put_json_string(out, event_type, type_len);
	rc = rc ? rc : kl_buf_puts(out, ",\"columns\":[");
	for (size_t i = 0; i < s->n && !rc; i++) {
		rc = kl_buf_puts(out, i ? ",{\"name\":" : "{\"name\":");
		rc = rc ? rc : put_json_string(out, kl_schema_name(s, i), s->cols[i].name_len);
		rc =
		    rc ? rc
		       : kl_buf_printf(out, ",\"type\":\"%s\"}", kl_col_kind_name(s->cols[i].kind));
	}
	rc = rc ? rc : kl_buf_puts(out, "]}\n");
	if (rc)
		return rc;
	/* never write what the reader would refuse (invalid UTF-8 in a name) */
	struct kl_json_error je;
	if (kl_json_parse(out->data + start, out->len - start, DOC_DEPTH, NULL, &je)) {
		out->len = start;
		return KL_EINVAL;
	}
	return KL_OK;
}

/* Does member m's key (escapes decoded) equal the plain name? */
static int key_eq(const struct kl_json_member *m, const char *name, struct kl_buf *tmp)
{
	size_t n = strlen(name);
	if (!m->key_esc)
		return m->key_len == n && !memcmp(m->key, name, n);
	kl_buf_reset(tmp);
	if (kl_buf_reserve(tmp, m->key_len))
		return 0;
	size_t k = kl_json_unescape(m->key, m->key_len, tmp->data);
	return k == n && !memcmp(tmp->data, name, n);
}

/* Decode a string value (with its quotes) into tmp. */
static int string_val(const struct kl_json_member *m, struct kl_buf *tmp)
{
	kl_buf_reset(tmp);
	if (kl_buf_reserve(tmp, m->val_len + 1))
		return KL_ENOMEM;
	tmp->len = kl_json_unescape(m->val + 1, m->val_len - 2, tmp->data);
	return KL_OK;
}

static int read_column(const struct kl_json_member *el, size_t idx, struct kl_schema *out,
		       struct kl_buf *tmp, struct kl_errbuf *eb)
{
	if (el->type != KL_JSON_OBJECT)
		return kl_errbuf_set(eb, KL_EPARSE, "schema registry: column %zu is not an object",
				     idx);
	struct kl_json_member name = {0}, type = {0}, m;
	int has_name = 0, has_type = 0;
	struct kl_json_iter it;
	kl_json_iter_init(&it, el->val, el->val_len);
	while (kl_json_iter_next(&it, &m)) {
		int is_name = key_eq(&m, "name", tmp),
		    is_type = !is_name && key_eq(&m, "type", tmp);
		if ((is_name && has_name) || (is_type && has_type))
			return kl_errbuf_set(eb, KL_EPARSE,
					     "schema registry: column %zu repeats \"%s\"", idx,
					     is_name ? "name" : "type");
		if (is_name)
			name = m, has_name = 1;
		if (is_type)
			type = m, has_type = 1;
	}
	if (!has_name || !has_type || name.type != KL_JSON_STRING || type.type != KL_JSON_STRING)
		return kl_errbuf_set(
		    eb, KL_EPARSE, "schema registry: column %zu needs string \"name\" and \"type\"",
		    idx);
	if (string_val(&type, tmp))
		return KL_ENOMEM;
	enum kl_col_kind k = kl_col_kind_parse(tmp->data, tmp->len);
	if (string_val(&name, tmp))
		return KL_ENOMEM;
	long c = kl_schema_col(out, tmp->data, tmp->len);
	if (c < 0)
		return kl_errbuf_set(eb, KL_ENOMEM, "schema registry: out of memory");
	out->cols[c].kind = kl_col_widen(out->cols[c].kind, k);
	return KL_OK;
}

int kl_schema_doc_read(const char *p, size_t n, struct kl_schema *out, struct kl_errbuf *eb)
{
	struct kl_json_doc doc;
	struct kl_json_error je;
	kl_json_doc_init(&doc);
	struct kl_buf tmp;
	kl_buf_init(&tmp, 0);
	int rc = KL_OK;
	if (kl_json_parse(p, n, DOC_DEPTH, &doc, &je)) {
		rc = kl_errbuf_set(eb, KL_EPARSE, "schema registry: not JSON at byte %zu: %s",
				   je.offset, je.msg);
		goto out;
	}
	if (doc.top != KL_JSON_OBJECT) {
		rc = kl_errbuf_set(eb, KL_EPARSE, "schema registry: not a JSON object");
		goto out;
	}
	const struct kl_json_member *cols = NULL;
	for (size_t i = 0; i < doc.n; i++) {
		if (!key_eq(&doc.m[i], "columns", &tmp))
			continue;
		if (cols) {
			rc = kl_errbuf_set(eb, KL_EPARSE, "schema registry: \"columns\" twice");
			goto out;
		}
		cols = &doc.m[i];
	}
	if (!cols || cols->type != KL_JSON_ARRAY) {
		rc = kl_errbuf_set(eb, KL_EPARSE, "schema registry: no \"columns\" array");
		goto out;
	}
	struct kl_json_iter it;
	struct kl_json_member el;
	kl_json_iter_init(&it, cols->val, cols->val_len);
	for (size_t i = 0; !rc && kl_json_iter_next(&it, &el); i++)
		rc = read_column(&el, i, out, &tmp, eb);
out:
	kl_json_doc_cleanup(&doc);
	kl_buf_cleanup(&tmp);
	return rc;
}

/* --- unions -------------------------------------------------------------- */

/* Add every column of `from` to `u`, widening; *changed is set if u grew or
 * a kind widened. */
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

/* --- one event type ------------------------------------------------------- */

struct frag {
	char id[65]; /* lower-case hex SHA-256 of the document */
	struct kl_schema s;
};

struct reg_entry {
	char *type; /* decoded event type, NUL-terminated */
	size_t type_len;
	char *dir;	/* SCHEMAS "event_type=<t>/" */
	char *legacy;	/* SCHEMAS "<t>.json" */
	struct frag *f; /* fragments read, in the order read */
	size_t nf, capf;
	struct kl_schema legacy_s; /* the legacy object as last read */
	struct kl_schema u;	   /* the union, canonical order */
	int loaded;
	/* a fragment written deferred did not land (frag_lost): the next merge
	 * forgets what it holds and reads the type afresh */
	_Atomic int lost;
	_Atomic uint64_t requests;
	struct kl_buf doc; /* scratch */
	/* held while the type is looked at, listed, read or written: one
	 * type's store requests wait only for that type's (another writer
	 * may be adding the same columns), never for another type's */
	pthread_mutex_t mu;
};

static void entry_cleanup(struct reg_entry *e)
{
	for (size_t i = 0; i < e->nf; i++)
		kl_schema_cleanup(&e->f[i].s);
	free(e->f);
	free(e->type);
	free(e->dir);
	free(e->legacy);
	kl_schema_cleanup(&e->legacy_s);
	kl_schema_cleanup(&e->u);
	kl_buf_cleanup(&e->doc);
	pthread_mutex_destroy(&e->mu);
	memset(e, 0, sizeof *e);
}

/* Back to "never loaded": what a lost fragment made the entry believe is
 * gone with the rest; the next merge lists and reads the type again. */
static void entry_forget(struct reg_entry *e)
{
	for (size_t i = 0; i < e->nf; i++)
		kl_schema_cleanup(&e->f[i].s);
	e->nf = 0;
	kl_schema_reset(&e->legacy_s);
	kl_schema_reset(&e->u);
	e->loaded = 0;
}

/* store.h put_new_deferred's lost(): on an upload thread, maybe with the
 * store's locks held, so a flag only (the entry lives as long as the
 * registry, which its owner frees after the stores). */
static void frag_lost(void *ctx)
{
	atomic_store(&((struct reg_entry *)ctx)->lost, 1);
}

static char *key_of(const char *a, const char *b, const char *c)
{
	size_t n = strlen(a) + strlen(b) + strlen(c) + 1;
	char *k = malloc(n);
	if (k)
		snprintf(k, n, "%s%s%s", a, b, c);
	return k;
}

static int entry_init(struct reg_entry *e, const char *type, size_t n)
{
	memset(e, 0, sizeof *e);
	pthread_mutex_init(&e->mu, NULL);
	kl_schema_init(&e->legacy_s);
	kl_schema_init(&e->u);
	kl_buf_init(&e->doc, DOC_MAX);
	struct kl_buf esc;
	kl_buf_init(&esc, 0);
	int rc = kl_hive_escape(&esc, type, n);
	rc = rc ? rc : kl_buf_putc(&esc, '\0');
	if (!rc && (!(e->type = malloc(n + 1)) ||
		    !(e->dir = key_of(SCHEMAS "event_type=", esc.data, "/")) ||
		    !(e->legacy = key_of(SCHEMAS, esc.data, ".json"))))
		rc = KL_ENOMEM;
	kl_buf_cleanup(&esc);
	if (rc)
		return rc;
	memcpy(e->type, type, n);
	e->type[n] = '\0';
	e->type_len = n;
	return KL_OK;
}

static void sha256_hex(const void *p, size_t n, char hex[65])
{
	static const char digits[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	EVP_Digest(n ? p : "", n, md, &mdlen, EVP_sha256(), NULL);
	for (int i = 0; i < 32; i++) {
		hex[2 * i] = digits[md[i] >> 4];
		hex[2 * i + 1] = digits[md[i] & 15];
	}
	hex[64] = '\0';
}

static struct frag *frag_find(struct reg_entry *e, const char *id)
{
	for (size_t i = 0; i < e->nf; i++)
		if (!memcmp(e->f[i].id, id, 64))
			return &e->f[i];
	return NULL;
}

static struct frag *frag_add(struct reg_entry *e, const char *id)
{
	if (KL_ARRAY_GROW(e->f, e->nf, e->capf, 8))
		return NULL;
	struct frag *f = &e->f[e->nf++];
	memcpy(f->id, id, 64);
	f->id[64] = '\0';
	kl_schema_init(&f->s);
	return f;
}

static int frag_order(const void *a, const void *b)
{
	const struct frag *x = *(const struct frag *const *)a, *y = *(const struct frag *const *)b;
	if (x->s.n != y->s.n)
		return x->s.n > y->s.n ? -1 : 1;
	return memcmp(x->id, y->id, 64);
}

/* e->u from the fragments and the legacy object, in canonical order. */
static int rebuild(struct reg_entry *e)
{
	const struct frag **ord = malloc((e->nf ? e->nf : 1) * sizeof *ord);
	if (!ord)
		return KL_ENOMEM;
	for (size_t i = 0; i < e->nf; i++)
		ord[i] = &e->f[i];
	qsort(ord, e->nf, sizeof *ord, frag_order);
	kl_schema_reset(&e->u);
	int rc = KL_OK, changed = 0;
	for (size_t c = 0; c < sizeof common_cols / sizeof common_cols[0] && !rc; c++) {
		size_t cn = strlen(common_cols[c]);
		int present = kl_schema_find(&e->legacy_s, common_cols[c], cn) >= 0;
		for (size_t i = 0; i < e->nf && !present; i++)
			present = kl_schema_find(&ord[i]->s, common_cols[c], cn) >= 0;
		if (present && kl_schema_col(&e->u, common_cols[c], cn) < 0)
			rc = KL_ENOMEM;
	}
	for (size_t i = 0; i < e->nf && !rc; i++)
		rc = union_into(&e->u, &ord[i]->s, &changed);
	if (!rc)
		rc = union_into(&e->u, &e->legacy_s, &changed);
	free(ord);
	return rc;
}

struct listing {
	char (*ids)[65];
	size_t n, cap;
	const char *dir;
	size_t dir_len;
	/* NULL, or per id its bytes as the index read them ahead (each NULL
	 * or owned, kl_buf_cleanup()ed and freed by refresh) */
	struct kl_buf **bodies;
};

static void listing_free(struct listing *l)
{
	for (size_t i = 0; l->bodies && i < l->n; i++)
		if (l->bodies[i]) {
			kl_buf_cleanup(l->bodies[i]);
			free(l->bodies[i]);
		}
	free(l->bodies);
	free(l->ids);
}

static int is_fragment_name(const char *p, size_t n)
{
	if (n != 64 + 5 || memcmp(p + 64, ".json", 5))
		return 0;
	for (size_t i = 0; i < 64; i++)
		if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f')))
			return 0;
	return 1;
}

static int on_fragment(void *ctx, const char *key, size_t len)
{
	struct listing *l = ctx;
	if (len < l->dir_len || memcmp(key, l->dir, l->dir_len) ||
	    !is_fragment_name(key + l->dir_len, len - l->dir_len))
		return KL_OK; /* not ours: a stray file, a deeper level */
	if (KL_ARRAY_GROW(l->ids, l->n, l->cap, 16))
		return KL_ENOMEM;
	memcpy(l->ids[l->n], key + l->dir_len, 64);
	l->ids[l->n++][64] = '\0';
	return KL_OK;
}

/* A body read ahead (read_ahead), freed. */
static void body_free(struct kl_buf *b)
{
	if (b)
		kl_buf_cleanup(b);
	free(b);
}

/* Read the fragments not yet seen and the legacy object; rebuild the union.
 * has_dir / has_legacy 0: a recent listing of the registry (the index) did
 * not hold the type's directory / legacy object, so neither is asked for.
 * `known` (taken, may be NULL): the type's fragments as a deep index listed
 * them, instead of listing its directory. `legacy_doc` (taken, may be
 * NULL): the legacy object's bytes as read ahead, instead of a read. */
static int refresh(struct reg_entry *e, struct kl_store *store, struct listing *known,
		   int has_dir, int has_legacy, struct kl_buf *legacy_doc, struct kl_errbuf *eb)
{
	struct listing l = {NULL, 0, 0, e->dir, strlen(e->dir), NULL};
	char key[4300];
	if (known) {
		l = *known;
		has_dir = 0;
	}
	if (!store->ops->list) { /* a store without it (a test's fake) */
		listing_free(&l);
		body_free(legacy_doc);
		return kl_errbuf_set(eb, KL_EUNSUPPORTED, "schema registry: the store cannot list");
	}
	int rc = KL_OK;
	if (has_dir) {
		e->requests++;
		rc = store->ops->list(store, e->dir, on_fragment, &l);
	}
	if (rc)
		kl_errbuf_set(eb, rc, "schema registry: list %s: %s", e->dir,
			      rc == KL_ENOMEM ? "out of memory" : store->err.msg);
	for (size_t i = 0; i < l.n && !rc; i++) {
		if (frag_find(e, l.ids[i]))
			continue; /* immutable: read once */
		snprintf(key, sizeof key, "%s%s.json", e->dir, l.ids[i]);
		/* the bytes read ahead with other types' (read_ahead), or a read */
		const struct kl_buf *doc = l.bodies && l.bodies[i] ? l.bodies[i] : &e->doc;
		if (doc == &e->doc) {
			e->requests++;
			rc = store->ops->read(store, key, &e->doc);
		}
		if (rc == KL_ENOTFOUND) { /* removed since the listing */
			rc = KL_OK;
			continue;
		}
		if (rc) {
			kl_errbuf_set(eb, rc, "schema registry: read %s: %s", key,
				      rc == KL_ENOMEM ? "over 64 MiB" : store->err.msg);
			break;
		}
		char id[65];
		sha256_hex(doc->data, doc->len, id);
		if (memcmp(id, l.ids[i], 64)) {
			rc = kl_errbuf_set(eb, KL_ECORRUPT,
					   "schema registry: %s: content does not match its name",
					   key);
			break;
		}
		struct frag *f = frag_add(e, l.ids[i]);
		if (!f) {
			rc = kl_errbuf_set(eb, KL_ENOMEM, "schema registry: out of memory");
			break;
		}
		struct kl_errbuf de = {{0}, 0}; /* the document's fault, then its key */
		if ((rc = kl_schema_doc_read(doc->data, doc->len, &f->s, &de))) {
			kl_schema_cleanup(&f->s);
			e->nf--;
			kl_errbuf_set(eb, rc, "%s (in %s)", de.msg, key);
		}
	}
	listing_free(&l);
	if (!rc && !has_legacy) {
		kl_schema_reset(&e->legacy_s);
	} else if (!rc) {
		kl_schema_reset(&e->legacy_s);
		/* the bytes read ahead with other types' (read_ahead), or a read */
		const struct kl_buf *doc = legacy_doc ? legacy_doc : &e->doc;
		if (!legacy_doc) {
			e->requests++;
			rc = store->ops->read(store, e->legacy, &e->doc);
		}
		if (rc == KL_ENOTFOUND)
			rc = KL_OK;
		else if (rc)
			kl_errbuf_set(eb, rc, "schema registry: read %s: %s", e->legacy,
				      rc == KL_ENOMEM ? "over 64 MiB" : store->err.msg);
		else {
			struct kl_errbuf de = {{0}, 0};
			if ((rc = kl_schema_doc_read(doc->data, doc->len, &e->legacy_s, &de)))
				kl_errbuf_set(eb, rc, "%s (in %s)", de.msg, e->legacy);
		}
	}
	body_free(legacy_doc);
	if (!rc && (rc = rebuild(e)))
		kl_errbuf_set(eb, rc, "schema registry: out of memory");
	e->loaded = !rc;
	return rc;
}

/* Write the fragment `next` (the union so far plus a file's columns). */
static int write_fragment(struct reg_entry *e, struct kl_store *store, struct kl_schema *next,
			  struct kl_errbuf *eb)
{
	for (size_t i = 0; i < next->n; i++) /* as a reader will see it */
		if (next->cols[i].kind == KL_COL_UNKNOWN)
			next->cols[i].kind = KL_COL_STRING;
	kl_buf_reset(&e->doc);
	int rc = kl_schema_doc_write(&e->doc, e->type, e->type_len, next);
	if (rc)
		return kl_errbuf_set(eb, rc, "schema registry: cannot write a document for %s%s",
				     e->dir, rc == KL_EINVAL ? " (a name is not UTF-8)" : "");
	char id[65], key[4300];
	sha256_hex(e->doc.data, e->doc.len, id);
	snprintf(key, sizeof key, "%s%s.json", e->dir, id);
	e->requests++;
	/* named by its content: created, or there already, is done. It may
	 * land only by the writer's next sync, beside the file that needs it
	 * (schema.h "Registry"); if it does not, frag_lost */
	rc = kl_store_put_new_deferred(store, key, e->doc.data, e->doc.len, frag_lost, e);
	if (rc)
		return kl_errbuf_set(eb, rc, "schema registry: write %s: %s", key, store->err.msg);
	if (frag_find(e, id))
		return rebuild(e);
	struct frag *f = frag_add(e, id);
	if (!f)
		return kl_errbuf_set(eb, KL_ENOMEM, "schema registry: out of memory");
	f->s = *next; /* takes it */
	kl_schema_init(next);
	return rebuild(e);
}

/* --- the registry -------------------------------------------------------- */

/* What SCHEMAS held when last listed (one request for every type): the
 * legacy objects and the types' directories, as full keys, sorted; or, from
 * a store with list_deep (S3: a request per 1,000 keys), every key below it,
 * fragments included (`deep`). A type's first load trusts it for
 * INDEX_TTL_MS: a type whose directory (or legacy object) it does not hold
 * is not listed (read) on its own, and with a deep index no type's
 * directory is listed, neither at its first load nor when it widens: its
 * fragments are the index's. Staleness costs
 * nothing: fragments are append-only and a reader unions them all, so a
 * writer that did not see another's fragment only writes one of its own
 * that a later fragment or reader completes (schema.h "Registry"). */
#define INDEX_TTL_MS 30000

struct schema_index {
	char **keys;
	size_t n, cap;
	int64_t at_ms; /* kl_mono_ms() of the listing; 0 = none usable */
	int deep;      /* every key below SCHEMAS, not one level */
	/* NULL, or per key the fragment's bytes read ahead (read_ahead), each
	 * NULL or owned until a type's first load takes it */
	struct kl_buf **bodies;
};

/* A set of type directories (SCHEMAS "event_type=<t>/"), each owned. */
struct dirs {
	char **v;
	size_t n, cap;
};

static int dirs_has(const struct dirs *d, const char *dir, size_t n)
{
	for (size_t i = 0; i < d->n; i++)
		if (!strncmp(d->v[i], dir, n) && !d->v[i][n])
			return 1;
	return 0;
}

static int dirs_add(struct dirs *d, const char *dir, size_t n)
{
	char *c = malloc(n + 1);
	if (!c || KL_ARRAY_GROW(d->v, d->n, d->cap, 16)) {
		free(c);
		return KL_ENOMEM;
	}
	memcpy(c, dir, n);
	c[n] = '\0';
	d->v[d->n++] = c;
	return KL_OK;
}

static void dirs_clear(struct dirs *d)
{
	for (size_t i = 0; i < d->n; i++)
		free(d->v[i]);
	d->n = 0;
}

/* Reading ahead (kl_schema_registry_expect): the pipeline names each file's
 * event type as it hands the file to the writer; a type's first load then
 * reads, in one read_many (store.h; S3: side by side on the upload threads),
 * the fragments a deep index lists for it and for every type named so far
 * and not yet read, and their legacy objects where the index lists them
 * (lakes of earlier versions; rewritten in place, so their bytes are kept
 * only until the index is listed again, index_carry): at most
 * READ_AHEAD_MAX keys, each up to READ_AHEAD_DOC_MAX bytes (a larger one is read on its own at its type's
 * load, up to DOC_MAX). An hour of the production stream closes ~100 types'
 * files at once: their fragments one GetObject after another cost ~100
 * round trips on the writer's thread (e2e/store_s3 6h; bench/README.md,
 * session 44); a run that meets only a few types reads only theirs. */
#define READ_AHEAD_MAX 1024
#define READ_AHEAD_DOC_MAX ((size_t)256 << 10)
/* types named and not yet read ahead that the registry keeps at most */
#define EXPECT_MAX 4096

/* Locks: `mu` guards the entry array only (never held across a store
 * request); a type's entry its own mutex (held across that type's
 * requests); `ixmu` the index, taken with an entry's held, never the
 * other way round. An entry is freed only with the registry. */
struct kl_schema_registry {
	pthread_mutex_t mu;
	struct reg_entry **e;
	size_t n, cap;
	_Atomic uint64_t requests; /* of index listings */
	int64_t index_ttl_ms; /* INDEX_TTL_MS; tests shorten it */
	pthread_mutex_t ixmu;
	struct schema_index ix;
	struct dirs ahead; /* types read ahead or loaded (under ixmu) */
	/* types named by kl_schema_registry_expect, not yet looked at: under
	 * exmu alone, which no store request ever holds (the pipeline's reader
	 * names them) */
	pthread_mutex_t exmu;
	struct dirs expected;
};

static void index_clear(struct schema_index *ix)
{
	for (size_t i = 0; i < ix->n; i++) {
		free(ix->keys[i]);
		if (ix->bodies && ix->bodies[i]) {
			kl_buf_cleanup(ix->bodies[i]);
			free(ix->bodies[i]);
		}
	}
	free(ix->bodies);
	ix->bodies = NULL;
	ix->n = 0;
	ix->at_ms = 0;
}

static int on_index(void *ctx, const char *key, size_t len)
{
	struct schema_index *ix = ctx;
	if (KL_ARRAY_GROW(ix->keys, ix->n, ix->cap, 64))
		return KL_ENOMEM;
	if (!(ix->keys[ix->n] = malloc(len + 1)))
		return KL_ENOMEM;
	memcpy(ix->keys[ix->n], key, len + 1);
	ix->n++;
	return KL_OK;
}

static int key_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* key's position in the (sorted) index, or -1 */
static ptrdiff_t index_find(const struct schema_index *ix, const char *key)
{
	char **at = ix->n ? bsearch(&key, ix->keys, ix->n, sizeof *ix->keys, key_cmp) : NULL;
	return at ? at - ix->keys : -1;
}

static int index_has(const struct schema_index *ix, const char *key)
{
	return index_find(ix, key) >= 0;
}

/* A legacy object's key: SCHEMAS "<t>.json", in no directory. */
static int is_legacy_key(const char *k)
{
	return !strncmp(k, SCHEMAS, sizeof SCHEMAS - 1) && !strchr(k + sizeof SCHEMAS - 1, '/');
}

/* A type's legacy object (SCHEMAS "<t>.json") from its directory
 * (SCHEMAS "event_type=<t>/"), into out; 0 when it does not fit. */
static int legacy_of_dir(const char *dir, size_t n, char *out, size_t cap)
{
	static const char pre[] = SCHEMAS "event_type=";
	size_t pn = sizeof pre - 1;
	if (n <= pn + 1 || memcmp(dir, pre, pn) || dir[n - 1] != '/')
		return 0;
	return snprintf(out, cap, "%s%.*s.json", SCHEMAS, (int)(n - pn - 1), dir + pn) <
	       (int)cap;
}

/* The keys of the (sorted) index under dir: the first's position, and in
 * *n (dir's length on entry) how many. */
static size_t index_range(const struct schema_index *ix, const char *dir, size_t *n)
{
	size_t lo = 0, hi = ix->n, dn = *n;
	while (lo < hi) { /* the first key not below dir */
		size_t mid = lo + (hi - lo) / 2;
		if (strcmp(ix->keys[mid], dir) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	size_t end = lo;
	while (end < ix->n && !strncmp(ix->keys[end], dir, dn))
		end++;
	*n = end - lo;
	return lo;
}

/* A deep index's keys under dir (a type's fragments) into l, with the bytes
 * read ahead of them (taken from the index). */
static int index_fragments(struct schema_index *ix, const char *dir, struct listing *l)
{
	size_t count = strlen(dir), lo = index_range(ix, dir, &count), end = lo + count;
	if (ix->bodies && end > lo && !(l->bodies = calloc(end - lo, sizeof *l->bodies)))
		return KL_ENOMEM;
	int rc = KL_OK;
	for (size_t i = lo; !rc && i < end; i++) {
		size_t before = l->n;
		rc = on_fragment(l, ix->keys[i], strlen(ix->keys[i]));
		if (!rc && l->n > before && l->bodies) {
			l->bodies[before] = ix->bodies[i];
			ix->bodies[i] = NULL;
		}
	}
	return rc;
}

/* A type's first load on a deep index (e: the type, with r->ixmu held):
 * its fragments and those of the types expected so far and not yet read
 * ahead or loaded, whose bodies the index has not, in one read_many. A
 * read that fails leaves no bytes: the type's load reads that fragment
 * itself, and reports what goes wrong. */
static void read_ahead(struct kl_schema_registry *r, struct kl_store *store, struct reg_entry *e)
{
	struct schema_index *ix = &r->ix;
	struct dirs want = {NULL, 0, 0};
	pthread_mutex_lock(&r->exmu);
	want = r->expected;
	r->expected = (struct dirs){NULL, 0, 0};
	pthread_mutex_unlock(&r->exmu);
	size_t dn = strlen(e->dir);
	/* the type's own, unless read ahead already (or out of memory) */
	int own = !dirs_has(&r->ahead, e->dir, dn) && !dirs_add(&r->ahead, e->dir, dn);
	if (ix->deep && store->ops->read_many && ix->n &&
	    (ix->bodies || (ix->bodies = calloc(ix->cap, sizeof *ix->bodies)))) {
		const char **keys = malloc(READ_AHEAD_MAX * sizeof *keys);
		size_t *at = malloc(READ_AHEAD_MAX * sizeof *at), m = 0;
		/* the type's own fragments first, then the expected types' */
		for (size_t d = own ? 0 : 1; keys && at && d <= want.n; d++) {
			const char *dir = d ? want.v[d - 1] : e->dir;
			size_t n = strlen(dir);
			if (d && (dirs_has(&r->ahead, dir, n) || dirs_add(&r->ahead, dir, n)))
				continue;
			size_t count = n, lo = index_range(ix, dir, &count);
			for (size_t i = lo; i < lo + count && m < READ_AHEAD_MAX; i++)
				if (!ix->bodies[i] &&
				    is_fragment_name(ix->keys[i] + n, strlen(ix->keys[i]) - n))
					keys[m] = ix->keys[i], at[m++] = i;
			/* and its legacy object, which lakes of earlier versions have */
			char lk[4300];
			ptrdiff_t li = legacy_of_dir(dir, n, lk, sizeof lk) ? index_find(ix, lk) : -1;
			if (li >= 0 && !ix->bodies[li] && m < READ_AHEAD_MAX)
				keys[m] = ix->keys[li], at[m++] = (size_t)li;
		}
		struct kl_buf *outs = m ? calloc(m, sizeof *outs) : NULL;
		int *rcs = m ? calloc(m, sizeof *rcs) : NULL;
		if (outs && rcs) {
			for (size_t k = 0; k < m; k++)
				kl_buf_init(&outs[k], READ_AHEAD_DOC_MAX);
			r->requests += m;
			if (store->ops->read_many(store, keys, m, outs, rcs) == KL_OK)
				for (size_t k = 0; k < m; k++) {
					if (rcs[k] || !(ix->bodies[at[k]] = malloc(sizeof **ix->bodies)))
						continue;
					*ix->bodies[at[k]] = outs[k];
					kl_buf_init(&outs[k], 0);
				}
			for (size_t k = 0; k < m; k++)
				kl_buf_cleanup(&outs[k]);
		}
		free(outs);
		free(rcs);
		free(keys);
		free(at);
	}
	dirs_clear(&want);
	free(want.v);
}

/* The bytes read ahead under the old index's keys that the new one, ix,
 * still lists (none when it is empty: a listing failed): a fragment is
 * named by its content, so what was read under a key is still what the key
 * holds, and a type read ahead is not read ahead again (r->ahead). The
 * rest of old is freed. Out of memory: dropped, as before (the type's
 * load reads them itself). */
static void index_carry(struct schema_index *ix, struct schema_index *old)
{
	for (size_t i = 0; old->bodies && i < old->n; i++) {
		/* a legacy object (no directory) is rewritten in place: its
		 * bytes go with the listing they were read under */
		if (!old->bodies[i] || is_legacy_key(old->keys[i]))
			continue;
		ptrdiff_t at = index_find(ix, old->keys[i]);
		if (at < 0 || (!ix->bodies && !(ix->bodies = calloc(ix->cap, sizeof *ix->bodies))))
			continue;
		ix->bodies[at] = old->bodies[i];
		old->bodies[i] = NULL;
	}
	index_clear(old);
	free(old->keys);
}

/* The index, listed again when older than index_ttl_ms. 0 when it cannot
 * be had (the type is then listed and read on its own, as without it).
 * With r->ixmu held. */
static int index_fresh(struct kl_schema_registry *r, struct kl_store *store)
{
	int64_t now = kl_mono_ms();
	if (r->ix.at_ms && now - r->ix.at_ms < r->index_ttl_ms)
		return 1;
	struct schema_index old = r->ix;
	memset(&r->ix, 0, sizeof r->ix);
	int listed = store->ops->list != NULL;
	if (listed) {
		r->requests++;
		r->ix.deep = store->ops->list_deep != NULL;
		if ((r->ix.deep ? store->ops->list_deep : store->ops->list)(store, SCHEMAS,
									   on_index, &r->ix)) {
			index_clear(&r->ix);
			listed = 0;
		} else {
			if (r->ix.n)
				qsort(r->ix.keys, r->ix.n, sizeof *r->ix.keys, key_cmp);
			r->ix.at_ms = now ? now : 1;
		}
	}
	index_carry(&r->ix, &old);
	return listed;
}

struct kl_schema_registry *kl_schema_registry_new(void)
{
	struct kl_schema_registry *r = calloc(1, sizeof *r);
	if (r) {
		pthread_mutex_init(&r->mu, NULL);
		pthread_mutex_init(&r->ixmu, NULL);
		pthread_mutex_init(&r->exmu, NULL);
		r->index_ttl_ms = INDEX_TTL_MS;
	}
	return r;
}

void kl_schema_registry_expect(struct kl_schema_registry *r, const char *type_esc, size_t n)
{
	static const char pre[] = SCHEMAS "event_type=";
	char dir[sizeof pre + 1024];
	if (!n || n > 1024)
		return; /* a hint: a name this long is read when its type loads */
	memcpy(dir, pre, sizeof pre - 1);
	memcpy(dir + sizeof pre - 1, type_esc, n);
	dir[sizeof pre - 1 + n] = '/';
	size_t dn = sizeof pre + n;
	pthread_mutex_lock(&r->exmu);
	if (r->expected.n < EXPECT_MAX && !dirs_has(&r->expected, dir, dn))
		(void)dirs_add(&r->expected, dir, dn); /* out of memory: no hint */
	pthread_mutex_unlock(&r->exmu);
}

void kl_schema_registry_free(struct kl_schema_registry *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n; i++) {
		entry_cleanup(r->e[i]);
		free(r->e[i]);
	}
	free(r->e);
	index_clear(&r->ix);
	free(r->ix.keys);
	dirs_clear(&r->ahead);
	free(r->ahead.v);
	dirs_clear(&r->expected);
	free(r->expected.v);
	pthread_mutex_destroy(&r->exmu);
	pthread_mutex_destroy(&r->ixmu);
	pthread_mutex_destroy(&r->mu);
	free(r);
}

void kl_schema_registry_set_index_ttl(struct kl_schema_registry *r, int64_t ms)
{
	pthread_mutex_lock(&r->ixmu);
	r->index_ttl_ms = ms;
	pthread_mutex_unlock(&r->ixmu);
}

uint64_t kl_schema_registry_requests(struct kl_schema_registry *r)
{
	pthread_mutex_lock(&r->mu);
	uint64_t n = r->requests;
	for (size_t i = 0; i < r->n; i++)
		n += r->e[i]->requests;
	pthread_mutex_unlock(&r->mu);
	return n;
}

static struct reg_entry *reg_get(struct kl_schema_registry *r, const char *t, size_t n)
{
	for (size_t i = 0; i < r->n; i++)
		if (r->e[i]->type_len == n && !memcmp(r->e[i]->type, t, n))
			return r->e[i];
	if (KL_ARRAY_GROW(r->e, r->n, r->cap, 16))
		return NULL;
	struct reg_entry *e = malloc(sizeof *e);
	if (!e)
		return NULL;
	if (entry_init(e, t, n)) {
		entry_cleanup(e);
		free(e);
		return NULL;
	}
	r->e[r->n++] = e;
	return e;
}

int kl_schema_registry_merge(struct kl_schema_registry *r, struct kl_store *store,
			     const char *event_type, size_t type_len, const struct kl_schema *fs,
			     struct kl_errbuf *eb)
{
	pthread_mutex_lock(&r->mu);
	struct reg_entry *e = reg_get(r, event_type, type_len);
	pthread_mutex_unlock(&r->mu);
	if (!e)
		return kl_errbuf_set(eb, KL_ENOMEM, "schema registry: out of memory");
	int rc = KL_OK;
	pthread_mutex_lock(&e->mu);
	if (atomic_exchange(&e->lost, 0))
		entry_forget(e);
	if (!e->loaded || !covered(&e->u, fs)) {
		/* what the store holds now, then ours if it adds anything; a
		 * type's first load asks only for what a recent index holds */
		pthread_mutex_lock(&r->ixmu);
		int first = !e->loaded && index_fresh(r, store);
		/* a later refresh (a wider schema) lists the type's fragments
		 * again, but trusts a recent index about the legacy object too,
		 * and a recent deep index about the fragments as well */
		int ix = first || (r->ix.at_ms && kl_mono_ms() - r->ix.at_ms < r->index_ttl_ms);
		int has_dir = !first || index_has(&r->ix, e->dir);
		int has_legacy = !ix || index_has(&r->ix, e->legacy);
		struct listing known = {NULL, 0, 0, e->dir, strlen(e->dir), NULL};
		int deep = ix && r->ix.deep;
		if (first)
			read_ahead(r, store, e);
		/* the legacy object's bytes, if read ahead (taken from the index) */
		struct kl_buf *legacy_doc = NULL;
		ptrdiff_t li = ix && has_legacy && r->ix.bodies ? index_find(&r->ix, e->legacy) : -1;
		if (li >= 0) {
			legacy_doc = r->ix.bodies[li];
			r->ix.bodies[li] = NULL;
		}
		if (deep && index_fragments(&r->ix, e->dir, &known)) {
			listing_free(&known); /* out of memory: list the type itself */
			deep = 0;
			has_dir = 1;
		}
		pthread_mutex_unlock(&r->ixmu);
		rc = refresh(e, store, deep ? &known : NULL, has_dir, has_legacy, legacy_doc, eb);
		if (!rc && !covered(&e->u, fs)) {
			struct kl_schema next;
			kl_schema_init(&next);
			int changed = 0;
			rc = union_into(&next, &e->u, &changed);
			rc = rc ? rc : union_into(&next, fs, &changed);
			rc = rc ? kl_errbuf_set(eb, rc, "schema registry: out of memory")
				: write_fragment(e, store, &next, eb);
			kl_schema_cleanup(&next);
		}
	}
	pthread_mutex_unlock(&e->mu);
	return rc;
}

/* --- reading a lake's registry -------------------------------------------- */

int kl_schema_registry_load(struct kl_store *store, const char *event_type, size_t type_len,
			    struct kl_schema *out, struct kl_errbuf *eb)
{
	struct reg_entry e;
	int rc = entry_init(&e, event_type, type_len);
	if (rc)
		kl_errbuf_set(eb, rc, "schema registry: out of memory");
	else
		rc = refresh(&e, store, NULL, 1, 1, NULL, eb);
	kl_schema_reset(out);
	if (!rc) {
		int changed = 0;
		if ((rc = union_into(out, &e.u, &changed)))
			kl_errbuf_set(eb, rc, "schema registry: out of memory");
	}
	entry_cleanup(&e);
	return rc;
}

void kl_schema_types_cleanup(struct kl_schema_types *t)
{
	for (size_t i = 0; i < t->n; i++)
		free(t->names[i]);
	free(t->names);
	free(t->lens);
	memset(t, 0, sizeof *t);
}

static int hexdig(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Undo kl_hive_escape; -1 if p[0..n) is not something it produces. */
static int hive_unescape(const char *p, size_t n, struct kl_buf *out)
{
	kl_buf_reset(out);
	if (n == 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		char c = p[i];
		if (c == '%') {
			int h = i + 2 < n ? hexdig(p[i + 1]) : -1,
			    l = h >= 0 ? hexdig(p[i + 2]) : -1;
			if (l < 0)
				return -1;
			c = (char)(h << 4 | l);
			i += 2;
		} else if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			     (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-')) {
			return -1;
		}
		if (kl_buf_putc(out, c))
			return KL_ENOMEM;
	}
	return 0;
}

struct types_ctx {
	struct kl_schema_types *t;
	struct kl_buf name;
	size_t cap;
};

static int on_type(void *ctx, const char *key, size_t len)
{
	struct types_ctx *c = ctx;
	const size_t sn = sizeof SCHEMAS - 1, en = sizeof "event_type=" - 1;
	if (len <= sn || memcmp(key, SCHEMAS, sn))
		return KL_OK;
	const char *p = key + sn;
	size_t n = len - sn;
	if (n > en + 1 && !memcmp(p, "event_type=", en) && p[n - 1] == '/') {
		p += en; /* a fragment directory */
		n -= en + 1;
	} else if (n > 5 && !memcmp(p + n - 5, ".json", 5)) {
		n -= 5; /* a legacy object */
	} else {
		return KL_OK;
	}
	int rc = hive_unescape(p, n, &c->name);
	if (rc)
		return rc == KL_ENOMEM ? rc : KL_OK; /* not a name we would write */
	struct kl_schema_types *t = c->t;
	for (size_t i = 0; i < t->n; i++)
		if (t->lens[i] == c->name.len && !memcmp(t->names[i], c->name.data, c->name.len))
			return KL_OK;
	if (t->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 16;
		char **nm = realloc(t->names, cap * sizeof *nm);
		if (!nm)
			return KL_ENOMEM;
		t->names = nm;
		size_t *ln = realloc(t->lens, cap * sizeof *ln);
		if (!ln)
			return KL_ENOMEM;
		t->lens = ln;
		c->cap = cap;
	}
	char *s = malloc(c->name.len + 1);
	if (!s)
		return KL_ENOMEM;
	memcpy(s, c->name.data, c->name.len);
	s[c->name.len] = '\0';
	t->names[t->n] = s;
	t->lens[t->n++] = c->name.len;
	return KL_OK;
}

struct type_name {
	char *p;
	size_t n;
};

/* By bytes, the shorter first on a common prefix. */
static int type_order(const void *a, const void *b)
{
	const struct type_name *x = a, *y = b;
	int d = memcmp(x->p, y->p, x->n < y->n ? x->n : y->n);
	return d ? d : (x->n > y->n) - (x->n < y->n);
}

int kl_schema_registry_types(struct kl_store *store, struct kl_schema_types *out,
			     struct kl_errbuf *eb)
{
	memset(out, 0, sizeof *out);
	if (!store->ops->list)
		return kl_errbuf_set(eb, KL_EUNSUPPORTED, "schema registry: the store cannot list");
	struct types_ctx c = {out, {0}, 0};
	kl_buf_init(&c.name, 0);
	int rc = store->ops->list(store, SCHEMAS, on_type, &c);
	kl_buf_cleanup(&c.name);
	if (rc) {
		kl_schema_types_cleanup(out);
		return kl_errbuf_set(eb, rc, "schema registry: list %s: %s", SCHEMAS,
				     rc == KL_ENOMEM ? "out of memory" : store->err.msg);
	}
	struct type_name *v = malloc((out->n ? out->n : 1) * sizeof *v);
	if (!v) {
		kl_schema_types_cleanup(out);
		return kl_errbuf_set(eb, KL_ENOMEM, "schema registry: out of memory");
	}
	for (size_t i = 0; i < out->n; i++)
		v[i] = (struct type_name){out->names[i], out->lens[i]};
	qsort(v, out->n, sizeof *v, type_order);
	for (size_t i = 0; i < out->n; i++)
		out->names[i] = v[i].p, out->lens[i] = v[i].n;
	free(v);
	return KL_OK;
}
