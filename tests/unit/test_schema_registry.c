/* test_schema_registry.c — the schema registry (encode/parquet/schema.h).
 *
 * Without arguments: registry documents round-trip any column name a JSON
 * key can hold (a]b, a<TAB>b, quotes, backslashes, braces, non-ASCII, NUL)
 * and malformed ones are refused; the union per event type in a local
 * store: cache (no store request when a file adds nothing), widening, the
 * deterministic column order, legacy <type>.json objects still read, a
 * tampered fragment caught, event types listed; and four "processes"
 * (registries with their own caches) merging at once lose no column; and
 * Parquet encoder copies whose files' merges travel to other copies
 * (encoder.h hand_over(), as the writer's encoder threads do) and are
 * published later, in file order, leave the registry a base encoder
 * merging as it goes leaves, byte for byte.
 *
 * Driver modes for tests/e2e/schema_registry.sh; LAKE is a directory or
 * s3://bucket/prefix (AWS_REGION or AWS_DEFAULT_REGION, AWS_ENDPOINT_URL[_S3]
 * and the usual credential chain):
 *   --merge LAKE TYPE NAME:KIND...   one merge of a file schema (KIND: bigint,
 *                                    double, boolean, string)
 *   --load LAKE TYPE                 the union as a registry document on stdout
 *   --types LAKE                     the event types, one JSON string a line
 */
#include "aws/credentials.h"
#include "aws/http.h"
#include "check.h"

#include "core/array.h"
#include "core/buf.h"
#include "encode/encoder.h"
#include "encode/parquet/schema.h"
#include "store/store.h"
#include <dirent.h>

#include <pthread.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static void schema_of(struct kl_schema *s, const char *const *names, const size_t *lens,
		      const enum kl_col_kind *k, size_t n)
{
	kl_schema_reset(s);
	for (size_t i = 0; i < n; i++) {
		long j = kl_schema_col(s, names[i], lens ? lens[i] : strlen(names[i]));
		if (j >= 0)
			s->cols[j].kind = k[i];
	}
}

/* Column i of s is name (n bytes) of kind k. */
static int col_is(const struct kl_schema *s, size_t i, const char *name, size_t n,
		  enum kl_col_kind k)
{
	return i < s->n && s->cols[i].name_len == n && !memcmp(kl_schema_name(s, i), name, n) &&
	       s->cols[i].kind == k;
}

static int has(const struct kl_schema *s, const char *name, enum kl_col_kind k)
{
	long j = kl_schema_find(s, name, strlen(name));
	return j >= 0 && s->cols[j].kind == k;
}

static void put_file(struct kl_store *st, const char *key, const char *text)
{
	struct kl_store_file *f;
	CHECK_EQ_INT(st->ops->open(st, key, &f), 0);
	CHECK_EQ_INT(st->ops->write(f, text, strlen(text)), 0);
	CHECK_EQ_INT(st->ops->commit(f), 0);
}

/* --- documents ------------------------------------------------------------ */

/* column names a JSON key can hold; with their lengths (one holds a NUL) */
static const char *const odd[] = {"a]b",
				  "a\tb",
				  "q\"uote",
				  "back\\slash",
				  "}",
				  "\"",
				  "{\"name\":\"x\"}",
				  "x\",\"type\":\"bigint\"},{\"name\":\"y",
				  "ünï 日本 😀",
				  "nul\0byte",
				  "",
				  "\x7f\x01\x1f",
				  "line\nbreak\r",
				  "\xe2\x80\xa8 sep",
				  "[",
				  "\\u0009",
				  "a/b=c%d"};
#define NODD (sizeof odd / sizeof odd[0])
static size_t odd_len[NODD];

static void init_odd(void)
{
	for (size_t i = 0; i < NODD; i++)
		odd_len[i] = strlen(odd[i]);
	odd_len[9] = sizeof "nul\0byte" - 1;
}

static void test_documents(void)
{
	init_odd();
	CHECK_EQ_INT(odd_len[9], 8);
	struct kl_schema s, back;
	kl_schema_init(&s);
	kl_schema_init(&back);
	enum kl_col_kind k[NODD];
	for (size_t i = 0; i < NODD; i++)
		k[i] = (enum kl_col_kind)(1 + i % 4);
	schema_of(&s, odd, odd_len, k, NODD);
	CHECK_EQ_INT(s.n, NODD);
	struct kl_buf b;
	kl_buf_init(&b, 0);
	CHECK_EQ_INT(kl_schema_doc_write(&b, "we\"ird\ttype", 11, &s), 0);
	struct kl_errbuf eb = {{0}, 0};
	CHECK_EQ_INT(kl_schema_doc_read(b.data, b.len, &back, &eb), 0);
	CHECK_EQ_INT(back.n, NODD);
	for (size_t i = 0; i < NODD; i++)
		CHECK(col_is(&back, i, odd[i], odd_len[i], k[i]));
	/* canonical: writing what was read gives the same bytes */
	struct kl_buf b2;
	kl_buf_init(&b2, 0);
	CHECK_EQ_INT(kl_schema_doc_write(&b2, "we\"ird\ttype", 11, &back), 0);
	CHECK(b.len == b2.len && !memcmp(b.data, b2.data, b.len));
	/* a tab is an escape, not "u0009" */
	CHECK(memmem(b.data, b.len, "\"a\\u0009b\"", 10) != NULL);

	/* names that are not UTF-8 are refused, nothing appended */
	const char *bad[] = {"ok", "\xff\xfe"};
	enum kl_col_kind kb[] = {KL_COL_INT, KL_COL_INT};
	schema_of(&s, bad, NULL, kb, 2);
	kl_buf_reset(&b);
	CHECK_EQ_INT(kl_schema_doc_write(&b, "t", 1, &s), KL_EINVAL);
	CHECK_EQ_INT(b.len, 0);

	/* the reader: escaped keys, extra members, unknown types, the old layout */
	const char *ok =
	    "{\"v\":1,\"colu\\u006dns\":[{\"type\":\"bigint\",\"x\":[1,{}],\"name\":\"a\"},"
	    "{\"name\":\"b\\u0000c\",\"type\":\"timestamp\"},{\"n\\u0061me\":\"a\",\"type\":"
	    "\"double\"}],\"history\":[{\"columns\":[{\"name\":\"old\",\"type\":\"bigint\"}]}]}";
	kl_schema_reset(&back);
	CHECK_EQ_INT(kl_schema_doc_read(ok, strlen(ok), &back, &eb), 0);
	CHECK_EQ_INT(back.n, 2);
	CHECK(col_is(&back, 0, "a", 1, KL_COL_DOUBLE)); /* bigint widened by double */
	CHECK(col_is(&back, 1, "b\0c", 3, KL_COL_STRING));
	static const char *const refused[] = {
	    "",
	    "[]",
	    "{\"columns\":{}}",
	    "{\"x\":1}",
	    "{\"columns\":[],\"columns\":[]}",
	    "{\"columns\":[1]}",
	    "{\"columns\":[{\"name\":\"a\"}]}",
	    "{\"columns\":[{\"name\":1,\"type\":\"bigint\"}]}",
	    "{\"columns\":[{\"name\":\"a\",\"name\":\"b\",\"type\":\"bigint\"}]}",
	    "{\"columns\":[{\"name\":\"a]b\",\"type\":\"bigint\"}]",
	    "{\"columns\":[{\"name\":\"a\xff\",\"type\":\"bigint\"}]}",
	    "{\"columns\":[{\"name\":\"a\tb\",\"type\":\"bigint\"}]}",
	};
	for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
		kl_errbuf_clear(&eb);
		CHECK_EQ_INT(kl_schema_doc_read(refused[i], strlen(refused[i]), &back, &eb),
			     KL_EPARSE);
		CHECK(eb.msg[0] != '\0');
	}
	kl_buf_cleanup(&b);
	kl_buf_cleanup(&b2);
	kl_schema_cleanup(&s);
	kl_schema_cleanup(&back);
}

/* --- the registry in a store ---------------------------------------------- */

struct worker {
	const char *dir;
	int id, failed;
};

/* A "process": its own registry (cache), 40 merges of a new column each. */
static void *merge_many(void *arg)
{
	struct worker *w = arg;
	struct kl_schema_registry *reg = kl_schema_registry_new();
	struct kl_store *st = NULL;
	struct kl_errbuf oeb = {{0}, 0};
	w->failed = kl_store_local_new(&st, w->dir, &oeb) != 0;
	struct kl_schema s;
	kl_schema_init(&s);
	for (int i = 0; i < 40 && reg && st; i++) {
		char name[32];
		snprintf(name, sizeof name, "w%d_c%d", w->id, i);
		const char *names[] = {"event_uuid", name};
		enum kl_col_kind k[] = {KL_COL_STRING, KL_COL_INT};
		schema_of(&s, names, NULL, k, 2);
		struct kl_errbuf eb = {{0}, 0};
		if (kl_schema_registry_merge(reg, st, "shared", 6, &s, &eb))
			w->failed = 1;
	}
	w->failed |= !reg;
	kl_schema_cleanup(&s);
	kl_schema_registry_free(reg);
	kl_store_free(st);
	return NULL;
}

static const char *const common[] = {"event_uuid",	 "event_name", "created_at",
				     "created_datetime", "event_type", "event_subtype"};

static int count_files(const char *path)
{
	DIR *d = opendir(path);
	int n = 0;
	for (struct dirent *de; d && (de = readdir(d));)
		n += de->d_name[0] != '.';
	if (d)
		closedir(d);
	return n;
}

static void test_registry(const char *dir)
{
	struct kl_errbuf eb = {{0}, 0};
	struct kl_store *st = NULL;
	CHECK_EQ_INT(kl_store_local_new(&st, dir, &eb), 0);
	struct kl_schema_registry *reg = kl_schema_registry_new();
	CHECK(reg != NULL);
	struct kl_schema s, u;
	kl_schema_init(&s);
	kl_schema_init(&u);

	/* nothing yet */
	CHECK_EQ_INT(kl_schema_registry_load(st, "payment", 7, &u, &eb), 0);
	CHECK_EQ_INT(u.n, 0);

	const char *n1[] = {"event_uuid", "amount"};
	enum kl_col_kind k1[] = {KL_COL_STRING, KL_COL_INT};
	schema_of(&s, n1, NULL, k1, 2);
	CHECK_EQ_INT(kl_schema_registry_merge(reg, st, "payment", 7, &s, &eb), 0);
	/* the registry's index (one listing: no directory, no legacy object
	 * for the type, so neither is asked for), the fragment write */
	CHECK_EQ_INT(kl_schema_registry_requests(reg), 2);
	CHECK_EQ_INT(kl_schema_registry_load(st, "payment", 7, &u, &eb), 0);
	CHECK(u.n == 2 && has(&u, "amount", KL_COL_INT));
	/* the same schema again, and a subset: served from the cache */
	CHECK_EQ_INT(kl_schema_registry_merge(reg, st, "payment", 7, &s, &eb), 0);
	schema_of(&s, n1, NULL, k1, 1);
	CHECK_EQ_INT(kl_schema_registry_merge(reg, st, "payment", 7, &s, &eb), 0);
	CHECK_EQ_INT(kl_schema_registry_requests(reg), 2);
	/* widening: list, write (the index, still recent, holds no legacy
	 * object for the type) */
	enum kl_col_kind k2[] = {KL_COL_STRING, KL_COL_DOUBLE};
	schema_of(&s, n1, NULL, k2, 2);
	CHECK_EQ_INT(kl_schema_registry_merge(reg, st, "payment", 7, &s, &eb), 0);
	CHECK_EQ_INT(kl_schema_registry_requests(reg), 4);
	CHECK_EQ_INT(kl_schema_registry_load(st, "payment", 7, &u, &eb), 0);
	CHECK(u.n == 2 && has(&u, "amount", KL_COL_DOUBLE));
	/* an INT file after that is covered by DOUBLE: no request */
	schema_of(&s, n1, NULL, k1, 2);
	CHECK_EQ_INT(kl_schema_registry_merge(reg, st, "payment", 7, &s, &eb), 0);
	CHECK_EQ_INT(kl_schema_registry_requests(reg), 4);
	/* another new type within the index's lifetime: only its write */
	CHECK_EQ_INT(kl_schema_registry_merge(reg, st, "refund", 6, &s, &eb), 0);
	CHECK_EQ_INT(kl_schema_registry_requests(reg), 5);
	CHECK_EQ_INT(kl_schema_registry_load(st, "refund", 6, &u, &eb), 0);
	CHECK(u.n == 2 && has(&u, "amount", KL_COL_INT));

	/* another process (its own cache) adds a column; ours comes next and
	 * reads only the fragment it has not seen */
	struct kl_schema_registry *other = kl_schema_registry_new();
	const char *n3[] = {"event_uuid", "note"};
	enum kl_col_kind k3[] = {KL_COL_STRING, KL_COL_STRING};
	schema_of(&s, n3, NULL, k3, 2);
	CHECK_EQ_INT(kl_schema_registry_merge(other, st, "payment", 7, &s, &eb), 0);
	/* its index holds the type's directory, not a legacy object: index,
	 * list, 2 reads, write */
	CHECK_EQ_INT(kl_schema_registry_requests(other), 5);
	const char *n4[] = {"event_uuid", "currency"};
	schema_of(&s, n4, NULL, k3, 2);
	CHECK_EQ_INT(kl_schema_registry_merge(reg, st, "payment", 7, &s, &eb), 0);
	CHECK_EQ_INT(kl_schema_registry_requests(reg), 8); /* list, 1 read, write */
	CHECK_EQ_INT(kl_schema_registry_load(st, "payment", 7, &u, &eb), 0);
	CHECK(u.n == 4 && has(&u, "note", KL_COL_STRING) && has(&u, "currency", KL_COL_STRING) &&
	      has(&u, "amount", KL_COL_DOUBLE));
	kl_schema_registry_free(other);

	/* odd names from separate processes, one type: all in the union, and
	 * the order is the common columns, then first-seen order */
	for (size_t i = 0; i < NODD; i++) {
		struct kl_schema_registry *p = kl_schema_registry_new();
		const char *names[8];
		size_t lens[8];
		enum kl_col_kind kk[8];
		for (size_t c = 0; c < 6; c++)
			names[c] = common[5 - c], lens[c] = strlen(common[5 - c]),
			kk[c] = KL_COL_STRING;
		names[6] = odd[i], lens[6] = odd_len[i], kk[6] = KL_COL_INT;
		schema_of(&s, names, lens, kk, 7);
		CHECK_EQ_INT(kl_schema_registry_merge(p, st, "odd", 3, &s, &eb), 0);
		kl_schema_registry_free(p);
	}
	CHECK_EQ_INT(kl_schema_registry_load(st, "odd", 3, &u, &eb), 0);
	CHECK_EQ_INT(u.n, 6 + NODD);
	for (size_t c = 0; c < 6; c++)
		CHECK(col_is(&u, c, common[c], strlen(common[c]), KL_COL_STRING));
	for (size_t i = 0; i < NODD; i++)
		CHECK(col_is(&u, 6 + i, odd[i], odd_len[i], KL_COL_INT));

	/* the order depends on the documents only: a fragment with more columns
	 * leads, whoever wrote it and whenever */
	struct kl_schema_registry *a = kl_schema_registry_new(), *b = kl_schema_registry_new();
	const char *na[] = {"x1", "x2"}, *nb[] = {"y1", "y2", "y3"};
	enum kl_col_kind ki[] = {KL_COL_INT, KL_COL_INT, KL_COL_INT};
	schema_of(&s, na, NULL, ki, 2);
	CHECK_EQ_INT(kl_schema_registry_merge(a, st, "ord", 3, &s, &eb), 0);
	struct kl_store *st2 = NULL; /* b has not seen a's fragment: write it beside */
	char dir2[300];
	snprintf(dir2, sizeof dir2, "%s/other", dir);
	CHECK_EQ_INT(kl_store_local_new(&st2, dir2, &eb), 0);
	schema_of(&s, nb, NULL, ki, 3);
	CHECK_EQ_INT(kl_schema_registry_merge(b, st2, "ord", 3, &s, &eb), 0);
	CHECK_EQ_INT(kl_schema_registry_load(st2, "ord", 3, &u, &eb), 0);
	char cmd[700];
	snprintf(cmd, sizeof cmd,
		 "cp %s/_kinlake/schemas/event_type=ord/*.json %s/_kinlake/schemas/event_type=ord/",
		 dir2, dir);
	CHECK_EQ_INT(system(cmd), 0);
	CHECK_EQ_INT(kl_schema_registry_load(st, "ord", 3, &u, &eb), 0);
	CHECK(u.n == 5 && col_is(&u, 0, "y1", 2, KL_COL_INT) && col_is(&u, 3, "x1", 2, KL_COL_INT));
	kl_schema_registry_free(a);
	kl_schema_registry_free(b);
	kl_store_free(st2);

	/* a legacy <type>.json (rewritten in place by earlier versions) is read
	 * as one more document, never written */
	const char *legacy =
	    "{\"event_type\":\"old\",\"version\":2,\"columns\":[{\"name\":\"event_uuid\",\"type\":"
	    "\"string\"},{\"name\":\"a]b\",\"type\":\"bigint\"},{\"name\":\"legacy\",\"type\":"
	    "\"boolean\"}],\"history\":[\n{\"version\":1,\"columns\":[]}]}\n";
	put_file(st, "_kinlake/schemas/old.json", legacy);
	CHECK_EQ_INT(kl_schema_registry_load(st, "old", 3, &u, &eb), 0);
	CHECK(u.n == 3 && col_is(&u, 1, "a]b", 3, KL_COL_INT) && has(&u, "legacy", KL_COL_BOOL));
	const char *n5[] = {"event_uuid", "fresh"};
	schema_of(&s, n5, NULL, k1, 2);
	CHECK_EQ_INT(kl_schema_registry_merge(reg, st, "old", 3, &s, &eb), 0);
	CHECK_EQ_INT(kl_schema_registry_load(st, "old", 3, &u, &eb), 0);
	CHECK(u.n == 4 && has(&u, "a]b", KL_COL_INT) && has(&u, "fresh", KL_COL_INT));
	/* a process whose index holds the legacy object reads it: index, list,
	 * the fragment, the legacy object; {event_uuid, a]b} is covered then,
	 * so no fragment is written (without the legacy read one would be) */
	{
		char fdir[400];
		snprintf(fdir, sizeof fdir, "%s/_kinlake/schemas/event_type=old", dir);
		int before = count_files(fdir);
		struct kl_schema_registry *p2 = kl_schema_registry_new();
		const char *n7[] = {"event_uuid", "a]b"};
		schema_of(&s, n7, NULL, k1, 2);
		CHECK_EQ_INT(kl_schema_registry_merge(p2, st, "old", 3, &s, &eb), 0);
		CHECK_EQ_INT(kl_schema_registry_requests(p2), 4);
		CHECK(before > 0 && count_files(fdir) == before);
		kl_schema_registry_free(p2);
	}
	struct kl_buf lb;
	kl_buf_init(&lb, 0);
	CHECK_EQ_INT(st->ops->read(st, "_kinlake/schemas/old.json", &lb), 0);
	CHECK(lb.len == strlen(legacy) && !memcmp(lb.data, legacy, lb.len));
	kl_buf_cleanup(&lb);

	/* event types, sorted, decoded, legacy-only ones included */
	const char *n6[] = {"event_uuid"};
	schema_of(&s, n6, NULL, k1, 1);
	CHECK_EQ_INT(kl_schema_registry_merge(reg, st, "web hook/ü", strlen("web hook/ü"), &s, &eb),
		     0);
	CHECK_EQ_INT(kl_schema_registry_merge(reg, st, "", 0, &s, &eb), 0);
	CHECK_EQ_INT(kl_schema_registry_merge(reg, st, "..", 2, &s, &eb), 0);
	put_file(st, "_kinlake/schemas/stray.txt", "x");
	struct kl_schema_types ty;
	CHECK_EQ_INT(kl_schema_registry_types(st, &ty, &eb), 0);
	static const char *const want[] = {
	    "..",	 "__HIVE_DEFAULT_PARTITION__", "odd", "old", "ord", "payment", "refund",
	    "web hook/ü"};
	CHECK_EQ_INT(ty.n, sizeof want / sizeof want[0]);
	for (size_t i = 0; i < ty.n && i < sizeof want / sizeof want[0]; i++)
		CHECK(ty.lens[i] == strlen(want[i]) && !memcmp(ty.names[i], want[i], ty.lens[i]));
	kl_schema_types_cleanup(&ty);
	CHECK_EQ_INT(kl_schema_registry_load(st, "..", 2, &u, &eb), 0);
	CHECK_EQ_INT(u.n, 1);

	/* four processes at once, 40 new columns each: none lost */
	struct worker w[4];
	pthread_t t[4];
	for (int i = 0; i < 4; i++) {
		w[i] = (struct worker){dir, i, 0};
		CHECK_EQ_INT(pthread_create(&t[i], NULL, merge_many, &w[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		CHECK_EQ_INT(w[i].failed, 0);
	}
	CHECK_EQ_INT(kl_schema_registry_load(st, "shared", 6, &u, &eb), 0);
	int all = u.n == 1 + 4 * 40;
	for (int i = 0; i < 4; i++)
		for (int c = 0; c < 40; c++) {
			char name[32];
			snprintf(name, sizeof name, "w%d_c%d", i, c);
			all &= has(&u, name, KL_COL_INT);
		}
	CHECK(all);

	/* a fragment whose bytes do not match its name is refused */
	char key[200];
	snprintf(key, sizeof key, "_kinlake/schemas/event_type=bad/%064d.json", 0);
	put_file(st, key, "{\"columns\":[]}\n");
	kl_errbuf_clear(&eb);
	CHECK_EQ_INT(kl_schema_registry_load(st, "bad", 3, &u, &eb), KL_ECORRUPT);
	CHECK(strstr(eb.msg, "does not match") != NULL);
	struct kl_schema_registry *r2 = kl_schema_registry_new();
	kl_errbuf_clear(&eb);
	CHECK_EQ_INT(kl_schema_registry_merge(r2, st, "bad", 3, &s, &eb), KL_ECORRUPT);
	kl_schema_registry_free(r2);

	kl_schema_cleanup(&s);
	kl_schema_cleanup(&u);
	kl_schema_registry_free(reg);
	kl_store_free(st);
}

/* A store over a local one with its own commit_if (which gets the file,
 * not the store: the tests keep what it needs in statics). */
struct wrap {
	struct kl_store base; /* first: the registry calls ops with &base */
	struct kl_store_ops ops;
	struct kl_store *in;
	int refused;
};
static struct kl_store *inner(struct kl_store *s) { return ((struct wrap *)s)->in; }
static int w_open(struct kl_store *s, const char *key, struct kl_store_file **out)
{
	return inner(s)->ops->open(inner(s), key, out);
}
static int w_read(struct kl_store *s, const char *key, struct kl_buf *out)
{
	return inner(s)->ops->read(inner(s), key, out);
}
static int w_list(struct kl_store *s, const char *dir, kl_store_list_fn fn, void *ctx)
{
	return inner(s)->ops->list(inner(s), dir, fn, ctx);
}
static void wrap_init(struct wrap *w, struct kl_store *in,
		      int (*commit_if)(struct kl_store_file *, const char *, char[KL_STORE_TAG_MAX]))
{
	*w = (struct wrap){.in = in};
	w->ops = *in->ops;
	w->ops.open = w_open;
	w->ops.read = w_read;
	w->ops.list = w_list;
	w->ops.commit_if = commit_if;
	w->base.ops = &w->ops;
}

/* commit_if answering 501 (KL_EUNSUPPORTED: an S3-compatible store without
 * conditional writes). */
static struct wrap *nc_current; /* the one test's wrapper */
static int nc_commit_if(struct kl_store_file *f, const char *expect, char tag[KL_STORE_TAG_MAX])
{
	(void)expect, (void)tag;
	nc_current->in->ops->abort(f);
	nc_current->refused++;
	return KL_EUNSUPPORTED;
}

/* A fragment is named by its content: writing one that is there already
 * is done in one create-only request (a conflict is success, and not the
 * store's error); a store that refuses conditions gets a plain write. */
static void test_create_only(const char *dir)
{
	struct kl_errbuf eb = {{0}, 0};
	struct kl_store *st = NULL;
	CHECK_EQ_INT(kl_store_local_new(&st, dir, &eb), 0);
	struct kl_schema_registry *a = kl_schema_registry_new(), *b = kl_schema_registry_new();
	struct kl_schema s;
	kl_schema_init(&s);
	const char *n[] = {"event_uuid", "amount"};
	enum kl_col_kind k[] = {KL_COL_STRING, KL_COL_INT};
	schema_of(&s, n, NULL, k, 2);
	/* b's index is made before a's fragment exists */
	CHECK_EQ_INT(kl_schema_registry_merge(b, st, "x", 1, &s, &eb), 0);
	CHECK_EQ_INT(kl_schema_registry_merge(a, st, "t", 1, &s, &eb), 0);
	CHECK_EQ_INT(kl_schema_registry_requests(b), 2);
	/* so b writes the same fragment again: one request, refused, done */
	CHECK_EQ_INT(kl_schema_registry_merge(b, st, "t", 1, &s, &eb), 0);
	CHECK_EQ_INT(kl_schema_registry_requests(b), 3);
	CHECK_EQ_INT(st->err.code, 0);
	char fdir[400];
	snprintf(fdir, sizeof fdir, "%s/_kinlake/schemas/event_type=t", dir);
	CHECK_EQ_INT(count_files(fdir), 1);

	static struct wrap w;
	wrap_init(&w, st, nc_commit_if);
	nc_current = &w;
	struct kl_schema_registry *c = kl_schema_registry_new();
	CHECK_EQ_INT(kl_schema_registry_merge(c, &w.base, "u", 1, &s, &eb), 0);
	CHECK_EQ_INT(w.refused, 1);
	snprintf(fdir, sizeof fdir, "%s/_kinlake/schemas/event_type=u", dir);
	CHECK_EQ_INT(count_files(fdir), 1);
	struct kl_schema u;
	kl_schema_init(&u);
	CHECK_EQ_INT(kl_schema_registry_load(st, "u", 1, &u, &eb), 0);
	CHECK(u.n == 2 && has(&u, "amount", KL_COL_INT));
	kl_schema_cleanup(&u);
	kl_schema_registry_free(c);
	kl_schema_cleanup(&s);
	kl_schema_registry_free(a);
	kl_schema_registry_free(b);
	kl_store_free(st);
}

/* A fragment written deferred (store.h put_new_deferred: by the next
 * sync, beside the data files): the store here holds each one back until
 * the test lands it or reports it lost. Landed, it is trusted as before (a
 * file it covers costs no request); lost, the type is read afresh at its
 * next merge and the same fragment written again. */
static struct {
	char key[4][300];
	struct kl_buf doc[4];
	void (*lost)(void *ctx);
	void *ctx;
	int n;
} held;
/* A type's schema before (event_uuid, amount) and after it widens (+ note). */
static void narrow_wide(struct kl_schema *narrow, struct kl_schema *wide)
{
	const char *n[] = {"event_uuid", "amount", "note"};
	enum kl_col_kind k[] = {KL_COL_STRING, KL_COL_INT, KL_COL_STRING};
	kl_schema_init(narrow);
	kl_schema_init(wide);
	schema_of(narrow, n, NULL, k, 2);
	schema_of(wide, n, NULL, k, 3);
}

/* The lake's registry holds the wide schema of type t. */
static void check_widened(struct kl_store *st, const char *t)
{
	struct kl_errbuf eb = {{0}, 0};
	struct kl_schema u;
	kl_schema_init(&u);
	CHECK_EQ_INT(kl_schema_registry_load(st, t, strlen(t), &u, &eb), 0);
	CHECK(u.n == 3 && has(&u, "note", KL_COL_STRING) && has(&u, "amount", KL_COL_INT));
	kl_schema_cleanup(&u);
}

static int h_put_new_deferred(struct kl_store *s, const char *key, const void *p, size_t n,
			      void (*lost)(void *ctx), void *ctx)
{
	(void)s;
	if (held.n == 4)
		return KL_ENOMEM;
	snprintf(held.key[held.n], sizeof held.key[0], "%s", key);
	kl_buf_init(&held.doc[held.n], 0);
	held.lost = lost;
	held.ctx = ctx;
	return kl_buf_append(&held.doc[held.n++], p, n);
}

static void test_lost_fragment(const char *dir)
{
	struct kl_errbuf eb = {{0}, 0};
	struct kl_store *st = NULL;
	CHECK_EQ_INT(kl_store_local_new(&st, dir, &eb), 0);
	static struct wrap w;
	wrap_init(&w, st, st->ops->commit_if);
	w.ops.put_new_deferred = h_put_new_deferred;
	struct kl_schema_registry *r = kl_schema_registry_new();
	struct kl_schema s1, s2;
	narrow_wide(&s1, &s2);
	char fdir[400];
	snprintf(fdir, sizeof fdir, "%s/_kinlake/schemas/event_type=t", dir);

	CHECK_EQ_INT(kl_schema_registry_merge(r, &w.base, "t", 1, &s1, &eb), 0);
	CHECK_EQ_INT(held.n, 1);
	CHECK_EQ_INT(count_files(fdir), 0); /* not landed yet */
	CHECK_EQ_INT(kl_store_put_new(st, held.key[0], held.doc[0].data, held.doc[0].len), 0);
	uint64_t req = kl_schema_registry_requests(r);
	CHECK_EQ_INT(kl_schema_registry_merge(r, &w.base, "t", 1, &s1, &eb), 0);
	CHECK(kl_schema_registry_requests(r) == req && held.n == 1); /* covered: trusted */

	CHECK_EQ_INT(kl_schema_registry_merge(r, &w.base, "t", 1, &s2, &eb), 0);
	CHECK_EQ_INT(held.n, 2);
	held.lost(held.ctx); /* the sync failed: it never landed */
	req = kl_schema_registry_requests(r);
	CHECK_EQ_INT(kl_schema_registry_merge(r, &w.base, "t", 1, &s2, &eb), 0);
	/* forgotten, so loaded as a first time: the index (listed at the first
	 * merge, under 30 s ago, no directory for t then) is trusted, and the
	 * lost fragment is written again, the same bytes under the same name */
	CHECK(kl_schema_registry_requests(r) == req + 1);
	CHECK_EQ_INT(held.n, 3);
	CHECK(!strcmp(held.key[1], held.key[2]) && held.doc[1].len == held.doc[2].len &&
	      !memcmp(held.doc[1].data, held.doc[2].data, held.doc[1].len));
	CHECK_EQ_INT(kl_store_put_new(st, held.key[2], held.doc[2].data, held.doc[2].len), 0);
	check_widened(st, "t");
	CHECK_EQ_INT(count_files(fdir), 2);
	for (int i = 0; i < held.n; i++)
		kl_buf_cleanup(&held.doc[i]);
	kl_schema_cleanup(&s1);
	kl_schema_cleanup(&s2);
	kl_schema_registry_free(r);
	kl_store_free(st);
}

/* A store that lists deep (store.h list_deep, as S3 does): the index then
 * holds every fragment's key, and neither a type's first load nor its
 * widening within the index's 30 s lists the type's directory. Here the
 * deep listing walks the local store level by level, and the wrapper
 * counts both kinds of listing. */
static struct {
	int shallow, deep;
} lists;
static int count_list(struct kl_store *s, const char *dir, kl_store_list_fn fn, void *ctx)
{
	lists.shallow++;
	return inner(s)->ops->list(inner(s), dir, fn, ctx);
}
struct walk {
	char (*keys)[600];
	size_t n, cap;
};
static int walk_add(void *ctx, const char *key, size_t len)
{
	struct walk *w = ctx;
	if (len >= sizeof w->keys[0] || KL_ARRAY_GROW(w->keys, w->n, w->cap, 16))
		return KL_ENOMEM;
	memcpy(w->keys[w->n], key, len);
	w->keys[w->n++][len] = '\0';
	return KL_OK;
}
static int walk_deep(struct kl_store *in, const char *dir, kl_store_list_fn fn, void *ctx)
{
	struct walk w = {NULL, 0, 0};
	int rc = in->ops->list(in, dir, walk_add, &w);
	for (size_t i = 0; !rc && i < w.n; i++) {
		size_t len = strlen(w.keys[i]);
		rc = w.keys[i][len - 1] == '/' ? walk_deep(in, w.keys[i], fn, ctx)
					       : fn(ctx, w.keys[i], len);
	}
	free(w.keys);
	return rc;
}
static int count_list_deep(struct kl_store *s, const char *dir, kl_store_list_fn fn, void *ctx)
{
	lists.deep++;
	return walk_deep(inner(s), dir, fn, ctx);
}

/* A local lake at dir that an earlier writer left: each type of `types`
 * (one letter each) merged with the narrow s1, those also in `wide` then
 * with s2 (a second fragment). */
static struct kl_store *lake_left(const char *dir, struct kl_schema *s1, struct kl_schema *s2,
				  const char *types, const char *wide)
{
	struct kl_errbuf eb = {{0}, 0};
	struct kl_store *st = NULL;
	CHECK_EQ_INT(kl_store_local_new(&st, dir, &eb), 0);
	narrow_wide(s1, s2);
	struct kl_schema_registry *a = kl_schema_registry_new();
	for (const char *t = types; *t; t++) {
		CHECK_EQ_INT(kl_schema_registry_merge(a, st, t, 1, s1, &eb), 0);
		if (strchr(wide, *t))
			CHECK_EQ_INT(kl_schema_registry_merge(a, st, t, 1, s2, &eb), 0);
	}
	kl_schema_registry_free(a);
	return st;
}

static void test_deep_index(const char *dir)
{
	struct kl_errbuf eb = {{0}, 0};
	struct kl_schema s1, s2;
	struct kl_store *st = lake_left(dir, &s1, &s2, "tu", "");

	static struct wrap w;
	wrap_init(&w, st, st->ops->commit_if);
	w.ops.list = count_list;
	w.ops.list_deep = count_list_deep;
	struct kl_schema_registry *r = kl_schema_registry_new();
	/* t's first load: the deep index, then t's one fragment read */
	CHECK_EQ_INT(kl_schema_registry_merge(r, &w.base, "t", 1, &s1, &eb), 0);
	CHECK_EQ_INT(kl_schema_registry_requests(r), 2);
	CHECK(lists.deep == 1 && lists.shallow == 0);
	/* t widens: its fragments are the index's (already read): the write */
	CHECK_EQ_INT(kl_schema_registry_merge(r, &w.base, "t", 1, &s2, &eb), 0);
	CHECK_EQ_INT(kl_schema_registry_requests(r), 3);
	/* u's first load: the same index, u's fragment read, nothing written */
	CHECK_EQ_INT(kl_schema_registry_merge(r, &w.base, "u", 1, &s1, &eb), 0);
	CHECK_EQ_INT(kl_schema_registry_requests(r), 4);
	CHECK(lists.deep == 1 && lists.shallow == 0);
	check_widened(st, "t");
	kl_schema_cleanup(&s1);
	kl_schema_cleanup(&s2);
	kl_schema_registry_free(r);
	kl_store_free(st);
}

/* A store that also reads several keys at once (store.h read_many, as S3
 * does on its upload threads): a type's first load on a deep index reads
 * its fragments, and those of the types named by kl_schema_registry_expect
 * meanwhile, in one read_many; a type so read costs no request at its own
 * first load. The wrapper reads them one by one and counts. */
static struct {
	int many, many_keys, single;
	int corrupt; /* the next read_many hands back bad bytes for its first key */
} reads;
static int count_read(struct kl_store *s, const char *key, struct kl_buf *out)
{
	reads.single++;
	return inner(s)->ops->read(inner(s), key, out);
}
static int count_read_many(struct kl_store *s, const char *const *keys, size_t n,
			   struct kl_buf *outs, int *rcs)
{
	reads.many++;
	reads.many_keys += (int)n;
	for (size_t i = 0; i < n; i++)
		rcs[i] = inner(s)->ops->read(inner(s), keys[i], &outs[i]);
	if (reads.corrupt && n && !rcs[0] && outs[0].len) {
		reads.corrupt = 0;
		outs[0].data[0] ^= 1;
	}
	return KL_OK;
}

static void test_read_ahead(const char *dir)
{
	struct kl_errbuf eb = {{0}, 0};
	struct kl_schema s1, s2;
	/* an earlier writer left types t (two fragments), u and v; a stray
	 * object beside them is no fragment and is not read */
	struct kl_store *st = lake_left(dir, &s1, &s2, "tuv", "t");
	CHECK_EQ_INT(kl_store_put_new(st, "_kinlake/schemas/event_type=u/notes.txt", "x", 1), 0);

	static struct wrap w;
	wrap_init(&w, st, st->ops->commit_if);
	w.ops.list = count_list;
	w.ops.list_deep = count_list_deep;
	w.ops.read = count_read;
	w.ops.read_many = count_read_many;
	memset(&lists, 0, sizeof lists);
	struct kl_schema_registry *r = kl_schema_registry_new();
	kl_schema_registry_expect(r, "u", 1); /* a file of u's is coming */
	kl_schema_registry_expect(r, "u", 1);
	/* t's first load: the deep index, then t's 2 fragments and u's 1 in one
	 * read_many (v was not named: not read) */
	CHECK_EQ_INT(kl_schema_registry_merge(r, &w.base, "t", 1, &s1, &eb), 0);
	CHECK_EQ_INT(kl_schema_registry_requests(r), 4);
	CHECK(reads.many == 1 && reads.many_keys == 3 && reads.single == 0);
	CHECK(lists.deep == 1 && lists.shallow == 0);
	/* u's first load: its fragment was read ahead: no request at all */
	CHECK_EQ_INT(kl_schema_registry_merge(r, &w.base, "u", 1, &s1, &eb), 0);
	CHECK_EQ_INT(kl_schema_registry_requests(r), 4);
	/* t's union holds what both its fragments say: s2 is covered, nothing
	 * is written (the wider column came from the fragment read ahead) */
	CHECK_EQ_INT(kl_schema_registry_merge(r, &w.base, "t", 1, &s2, &eb), 0);
	CHECK_EQ_INT(kl_schema_registry_requests(r), 4);
	/* v, not named: its own first load reads its one fragment */
	CHECK_EQ_INT(kl_schema_registry_merge(r, &w.base, "v", 1, &s1, &eb), 0);
	CHECK_EQ_INT(kl_schema_registry_requests(r), 5);
	CHECK(reads.many == 2 && reads.many_keys == 4 && reads.single == 0);
	CHECK(lists.deep == 1 && lists.shallow == 0);
	kl_schema_registry_free(r);

	/* the index listed again (its 30 s run out: 0 here) between the read
	 * ahead and a type's first load: the bytes read ahead under a key the
	 * new listing still holds are kept (a fragment's name is its content),
	 * so u's load costs the listing and no read */
	memset(&reads, 0, sizeof reads);
	memset(&lists, 0, sizeof lists);
	r = kl_schema_registry_new();
	kl_schema_registry_set_index_ttl(r, 0);
	kl_schema_registry_expect(r, "u", 1);
	CHECK_EQ_INT(kl_schema_registry_merge(r, &w.base, "t", 1, &s1, &eb), 0);
	CHECK_EQ_INT(kl_schema_registry_requests(r), 4); /* list, t's 2 and u's 1 */
	CHECK_EQ_INT(kl_schema_registry_merge(r, &w.base, "u", 1, &s1, &eb), 0);
	CHECK_EQ_INT(kl_schema_registry_requests(r), 5); /* the listing again, no read */
	CHECK(reads.many == 1 && reads.many_keys == 3 && reads.single == 0);
	CHECK(lists.deep == 2);
	/* v, never read ahead: listed again and read on its own */
	CHECK_EQ_INT(kl_schema_registry_merge(r, &w.base, "v", 1, &s1, &eb), 0);
	CHECK_EQ_INT(kl_schema_registry_requests(r), 7);
	CHECK(lists.deep == 3);
	kl_schema_registry_free(r);

	/* bytes read ahead are checked against their name as a read's are */
	reads.corrupt = 1;
	r = kl_schema_registry_new();
	int rc = KL_OK;
	const char *types[] = {"t", "u", "v"};
	for (int i = 0; i < 3 && !rc; i++)
		rc = kl_schema_registry_merge(r, &w.base, types[i], 1, &s1, &eb);
	CHECK_EQ_INT(rc, KL_ECORRUPT);
	CHECK(strstr(eb.msg, "content does not match its name") != NULL);
	kl_schema_registry_free(r);
	reads.corrupt = 0;

	/* legacy objects (lakes of earlier versions: SCHEMAS "<t>.json") are
	 * read ahead too: w, which has only one, and t, which has one beside
	 * its fragments; x's is never named, so never read */
	const char *legacy_w =
	    "{\"event_type\":\"w\",\"version\":1,\"columns\":[{\"name\":\"event_uuid\",\"type\":"
	    "\"string\"},{\"name\":\"old_col\",\"type\":\"boolean\"}]}\n";
	const char *legacy_t =
	    "{\"event_type\":\"t\",\"version\":1,\"columns\":[{\"name\":\"event_uuid\",\"type\":"
	    "\"string\"},{\"name\":\"t_old\",\"type\":\"bigint\"}]}\n";
	put_file(st, "_kinlake/schemas/w.json", legacy_w);
	put_file(st, "_kinlake/schemas/t.json", legacy_t);
	put_file(st, "_kinlake/schemas/x.json", legacy_w);
	memset(&reads, 0, sizeof reads);
	memset(&lists, 0, sizeof lists);
	r = kl_schema_registry_new();
	kl_schema_registry_expect(r, "w", 1);
	/* t's first load: the index, then t's 2 fragments and its legacy
	 * object and w's, in one read_many */
	CHECK_EQ_INT(kl_schema_registry_merge(r, &w.base, "t", 1, &s1, &eb), 0);
	CHECK_EQ_INT(kl_schema_registry_requests(r), 5);
	CHECK(reads.many == 1 && reads.many_keys == 4 && reads.single == 0);
	/* w's first load: no request, and its union is the legacy object's */
	CHECK_EQ_INT(kl_schema_registry_merge(r, &w.base, "w", 1, &s1, &eb), 0);
	CHECK_EQ_INT(kl_schema_registry_requests(r), 6); /* s1's fragment for w */
	CHECK(reads.many == 1 && reads.single == 0);
	struct kl_schema lu;
	kl_schema_init(&lu);
	CHECK_EQ_INT(kl_schema_registry_load(st, "w", 1, &lu, &eb), 0);
	CHECK(has(&lu, "old_col", KL_COL_BOOL));
	CHECK_EQ_INT(kl_schema_registry_load(st, "t", 1, &lu, &eb), 0);
	CHECK(has(&lu, "t_old", KL_COL_INT));
	kl_schema_cleanup(&lu);
	/* x, not named: read at its own first load (a read_many of its one) */
	CHECK_EQ_INT(kl_schema_registry_merge(r, &w.base, "x", 1, &s1, &eb), 0);
	CHECK(reads.many == 2 && reads.many_keys == 5 && reads.single == 0);
	kl_schema_registry_free(r);

	/* a legacy object is rewritten in place: bytes read ahead are not
	 * kept across a new listing of the index (as a fragment's are) */
	memset(&reads, 0, sizeof reads);
	r = kl_schema_registry_new();
	kl_schema_registry_set_index_ttl(r, 0);
	kl_schema_registry_expect(r, "w", 1);
	/* t's 2 fragments and legacy object, w's fragment (written above)
	 * and legacy object */
	CHECK_EQ_INT(kl_schema_registry_merge(r, &w.base, "t", 1, &s1, &eb), 0);
	CHECK(reads.many == 1 && reads.many_keys == 5 && reads.single == 0);
	CHECK_EQ_INT(kl_schema_registry_merge(r, &w.base, "w", 1, &s1, &eb), 0);
	CHECK(reads.many == 1 && reads.single == 1); /* w.json read again, alone */
	kl_schema_registry_free(r);
	kl_schema_cleanup(&s1);
	kl_schema_cleanup(&s2);
	kl_store_free(st);
}

/* Two types' first fragments are written side by side (the shards of a
 * stream, each with its own store): a store whose create-only write of
 * each waits, up to 10 s, until the other type's has begun. Were the
 * registry to hold one lock across every type's requests, the first
 * would wait out its 10 s alone. */
static struct {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int arrived, waited_out;
} rdv = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0};
static const struct kl_store_ops *meet_inner_ops; /* commit_if has no store */
static int m_commit_if(struct kl_store_file *f, const char *expect, char tag[KL_STORE_TAG_MAX])
{
	pthread_mutex_lock(&rdv.mu);
	rdv.arrived++;
	pthread_cond_broadcast(&rdv.cv);
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 10;
	while (rdv.arrived < 2)
		if (pthread_cond_timedwait(&rdv.cv, &rdv.mu, &until)) {
			rdv.waited_out++;
			break;
		}
	pthread_mutex_unlock(&rdv.mu);
	return meet_inner_ops->commit_if(f, expect, tag);
}

struct meet_worker {
	struct kl_schema_registry *reg;
	const char *dir, *type;
	int rc;
};
static void *meet_merge(void *arg)
{
	struct meet_worker *w = arg;
	struct kl_errbuf eb = {{0}, 0};
	struct kl_store *st = NULL;
	if ((w->rc = kl_store_local_new(&st, w->dir, &eb)))
		return NULL;
	struct wrap m;
	wrap_init(&m, st, m_commit_if);
	struct kl_schema s;
	kl_schema_init(&s);
	const char *n[] = {"event_uuid", "amount"};
	enum kl_col_kind k[] = {KL_COL_STRING, KL_COL_INT};
	schema_of(&s, n, NULL, k, 2);
	w->rc = kl_schema_registry_merge(w->reg, &m.base, w->type, strlen(w->type), &s, &eb);
	kl_schema_cleanup(&s);
	kl_store_free(st);
	return NULL;
}

static void test_types_side_by_side(const char *dir)
{
	struct kl_store *st = NULL;
	struct kl_errbuf eb = {{0}, 0};
	CHECK_EQ_INT(kl_store_local_new(&st, dir, &eb), 0);
	meet_inner_ops = st->ops; /* every local store's */
	struct kl_schema_registry *reg = kl_schema_registry_new();
	struct meet_worker w[2] = {{reg, dir, "order", -1}, {reg, dir, "refund", -1}};
	pthread_t t[2];
	for (int i = 0; i < 2; i++)
		CHECK_EQ_INT(pthread_create(&t[i], NULL, meet_merge, &w[i]), 0);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	CHECK_EQ_INT(w[0].rc, 0);
	CHECK_EQ_INT(w[1].rc, 0);
	CHECK_EQ_INT(rdv.arrived, 2);
	CHECK_EQ_INT(rdv.waited_out, 0);
	/* each type's fragment landed, and is known to the registry */
	char fdir[400];
	snprintf(fdir, sizeof fdir, "%s/_kinlake/schemas/event_type=order", dir);
	CHECK_EQ_INT(count_files(fdir), 1);
	snprintf(fdir, sizeof fdir, "%s/_kinlake/schemas/event_type=refund", dir);
	CHECK_EQ_INT(count_files(fdir), 1);
	/* index listing(s) and two writes; nothing more once covered */
	uint64_t n = kl_schema_registry_requests(reg);
	CHECK(n >= 3 && n <= 4);
	struct kl_schema s;
	kl_schema_init(&s);
	const char *nm[] = {"amount"};
	enum kl_col_kind k[] = {KL_COL_INT};
	schema_of(&s, nm, NULL, k, 1);
	CHECK_EQ_INT(kl_schema_registry_merge(reg, st, "order", 5, &s, &eb), 0);
	CHECK_EQ_INT(kl_schema_registry_requests(reg), n);
	kl_schema_cleanup(&s);
	kl_store_free(st);
	kl_schema_registry_free(reg);
}

/* --- driver --------------------------------------------------------------- */

static int open_lake(const char *url, struct kl_store **s, struct kl_cred_chain *ch,
		     struct kl_http **ch_http, struct kl_errbuf *eb)
{
	if (strncmp(url, "s3://", 5))
		return kl_store_local_new(s, url, eb);
	struct kl_aws_env env = kl_aws_env_process();
	if (!(*ch_http = kl_http_new(NULL, eb)))
		return KL_ENOMEM;
	kl_cred_chain_init(ch, &env, kl_http_transport_of(*ch_http));
	struct kl_store_s3_opts o = {.creds = ch};
	o.region = kl_aws_env_get(&env, "AWS_REGION");
	if (!o.region)
		o.region = kl_aws_env_get(&env, "AWS_DEFAULT_REGION");
	o.endpoint = kl_store_s3_env_endpoint(&env);
	return kl_store_s3_new(s, url, &o, eb);
}

static void print_json_string(const char *p, size_t n)
{
	putchar('"');
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];
		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	puts("\"");
}

static int driver(int argc, char **argv)
{
	const char *mode = argv[1];
	if (!((!strcmp(mode, "--merge") && argc >= 4) || (!strcmp(mode, "--load") && argc == 4) ||
	      (!strcmp(mode, "--types") && argc == 3))) {
		fprintf(stderr, "usage: test_schema_registry --merge LAKE TYPE NAME:KIND... | "
				"--load LAKE TYPE | --types LAKE\n");
		return 2;
	}
	struct kl_errbuf eb = {{0}, 0};
	struct kl_store *st = NULL;
	struct kl_cred_chain ch;
	struct kl_http *ch_http = NULL;
	int rc = open_lake(argv[2], &st, &ch, &ch_http, &eb);
	struct kl_schema s;
	kl_schema_init(&s);
	if (!rc && !strcmp(mode, "--merge")) {
		for (int i = 4; i < argc; i++) {
			const char *colon = strrchr(argv[i], ':');
			size_t n = colon ? (size_t)(colon - argv[i]) : strlen(argv[i]);
			long c = kl_schema_col(&s, argv[i], n);
			if (c >= 0)
				s.cols[c].kind = kl_col_kind_parse(colon ? colon + 1 : "string",
								   colon ? strlen(colon + 1) : 6);
		}
		struct kl_schema_registry *reg = kl_schema_registry_new();
		rc = reg ? kl_schema_registry_merge(reg, st, argv[3], strlen(argv[3]), &s, &eb)
			 : KL_ENOMEM;
		/* a fragment lands by the store's next sync, as a writer's batch's */
		if (!rc && (rc = st->ops->sync(st)))
			kl_errbuf_set(&eb, rc, "sync: %s", st->err.msg);
		kl_store_free(st); /* before the registry: a lost fragment tells it */
		st = NULL;
		kl_schema_registry_free(reg);
	} else if (!rc && !strcmp(mode, "--load")) {
		rc = kl_schema_registry_load(st, argv[3], strlen(argv[3]), &s, &eb);
		struct kl_buf b;
		kl_buf_init(&b, 0);
		if (!rc && !(rc = kl_schema_doc_write(&b, argv[3], strlen(argv[3]), &s)))
			fwrite(b.data, 1, b.len, stdout);
		kl_buf_cleanup(&b);
	} else if (!rc) {
		struct kl_schema_types t;
		rc = kl_schema_registry_types(st, &t, &eb);
		for (size_t i = 0; !rc && i < t.n; i++)
			print_json_string(t.names[i], t.lens[i]);
		if (!rc)
			kl_schema_types_cleanup(&t);
	}
	if (rc)
		fprintf(stderr, "test_schema_registry: %s: %s\n", kl_strerror(rc), eb.msg);
	kl_schema_cleanup(&s);
	kl_store_free(st);
	if (ch_http) {
		kl_cred_chain_cleanup(&ch);
		kl_http_free(ch_http);
	}
	return rc ? 1 : 0;
}

/* --- encoder copies: publish() after hand_over() ---------------------- */

static int to_buf(void *ctx, const void *p, size_t n)
{
	return kl_buf_append(ctx, p, n);
}

#define EV(type, extra)                                                                            \
	"{\"event_uuid\":\"u\",\"event_name\":\"n\",\"created_at\":1,"                              \
	"\"created_datetime\":\"2025-12-01T00:00:01Z\",\"event_type\":\"" type "\","                 \
	"\"event_subtype\":\"s\"" extra "}\n"

static void test_hand_over(const char *dir_seq, const char *dir_par)
{
	/* four files: two of t1 (the second adds and widens), one of t2, t1 again */
	const char *files[] = {EV("t1", ",\"a\":1"), EV("t1", ",\"a\":1.5,\"b\":\"x\"") EV("t1", ""),
			       EV("t2", ",\"c\":true"), EV("t1", ",\"d\":[1]")};
	const size_t nf = sizeof files / sizeof files[0];
	struct kl_errbuf eb = {{0}, 0};
	struct kl_store *st1 = NULL, *st2 = NULL;
	CHECK_EQ_INT(kl_store_local_new(&st1, dir_seq, &eb), 0);
	CHECK_EQ_INT(kl_store_local_new(&st2, dir_par, &eb), 0);
	struct kl_schema_registry *r1 = kl_schema_registry_new(), *r2 = kl_schema_registry_new();
	struct kl_encoder_opts o = {KL_COMP_ZSTD, 0, 0, 0, 0};
	struct kl_encoder *base = kl_encoder_parquet_new(&o, st1, r1);
	struct kl_encoder *base2 = kl_encoder_parquet_new(&o, st2, r2);
	CHECK(base && base2 && r1 && r2);
	struct kl_encoder *x = base2->ops->clone(base2), *note[2];
	note[0] = base2->ops->clone(base2);
	note[1] = base2->ops->clone(base2);
	CHECK(x && note[0] && note[1] && base2->ops->hand_over);
	struct kl_buf b1, b2;
	kl_buf_init(&b1, 0);
	kl_buf_init(&b2, 0);
	/* one copy encodes ahead: file i's merge waits in note[i % 2] while
	 * file i + 1 is encoded, and is published only then */
	for (size_t i = 0; i < nf; i++) {
		size_t n = strlen(files[i]);
		kl_buf_reset(&b1);
		kl_buf_reset(&b2);
		CHECK_EQ_INT(base->ops->encode(base, files[i], n, 1, to_buf, &b1, &eb), 0);
		CHECK_EQ_INT(x->ops->encode(x, files[i], n, 1, to_buf, &b2, &eb), 0);
		CHECK(b1.len == b2.len && !memcmp(b1.data, b2.data, b1.len));
		x->ops->hand_over(x, note[i % 2]);
		/* what is left in the copy itself publishes nothing */
		uint64_t before = kl_schema_registry_requests(r2);
		CHECK_EQ_INT(x->ops->publish(x, &eb), 0);
		CHECK_EQ_INT(kl_schema_registry_requests(r2), before);
		if (i > 0)
			CHECK_EQ_INT(note[(i - 1) % 2]->ops->publish(note[(i - 1) % 2], &eb), 0);
	}
	CHECK_EQ_INT(note[(nf - 1) % 2]->ops->publish(note[(nf - 1) % 2], &eb), 0);
	CHECK_EQ_INT(kl_schema_registry_requests(r2), kl_schema_registry_requests(r1));
	struct kl_schema u;
	kl_schema_init(&u);
	CHECK_EQ_INT(kl_schema_registry_load(st2, "t1", 2, &u, &eb), 0);
	CHECK(has(&u, "a", KL_COL_DOUBLE) && has(&u, "b", KL_COL_STRING) &&
	      has(&u, "d", KL_COL_STRING) && kl_schema_find(&u, "c", 1) < 0);
	kl_schema_cleanup(&u);
	char cmd[512];
	/* the stores' marks (_kinlake/writers, store_local.c) name their writers */
	snprintf(cmd, sizeof cmd, "diff -r -x writers %s/_kinlake %s/_kinlake", dir_seq, dir_par);
	CHECK_EQ_INT(system(cmd), 0);
	kl_buf_cleanup(&b1);
	kl_buf_cleanup(&b2);
	kl_encoder_free(x);
	kl_encoder_free(note[0]);
	kl_encoder_free(note[1]);
	kl_encoder_free(base);
	kl_encoder_free(base2);
	kl_schema_registry_free(r1);
	kl_schema_registry_free(r2);
	kl_store_free(st1);
	kl_store_free(st2);
}

/* test(dir) in a new directory $TMPDIR/kl-registry-<name>-XXXXXX, removed after. */
static void in_tmp(const char *name, void (*test)(const char *dir))
{
	char dir[200], cmd[300], base[64];
	snprintf(base, sizeof base, "kl-registry-%s-", name);
	kl_test_mkdtemp(dir, sizeof dir, base);
	test(dir);
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	CHECK_EQ_INT(system(cmd), 0);
}

int main(int argc, char **argv)
{
	if (argc > 1)
		return driver(argc, argv);
	test_documents();
	in_tmp("reg", test_registry);
	in_tmp("co", test_create_only);
	char seq[200], par[200];
	kl_test_mkdtemp(seq, sizeof seq, "kl-registry-seq-");
	kl_test_mkdtemp(par, sizeof par, "kl-registry-par-");
	test_hand_over(seq, par);
	char cmd[420];
	snprintf(cmd, sizeof cmd, "rm -rf %s %s", seq, par);
	CHECK_EQ_INT(system(cmd), 0);
	in_tmp("lost", test_lost_fragment);
	in_tmp("deep", test_deep_index);
	in_tmp("ahead", test_read_ahead);
	in_tmp("sbs", test_types_side_by_side);
	return check_report("test_schema_registry");
}
