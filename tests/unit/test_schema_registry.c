/* The schema registry: the union per event type in the store, the cache (no
 * store read when a file adds nothing), no lost columns when shards merge at
 * once, and self-healing after another writer dropped a column. */
#include "check.h"
#include "encode/parquet/schema.h"
#include "store/store.h"

#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

static void schema_of(struct kl_schema *s, const char *const *names, const enum kl_col_kind *k,
		      size_t n)
{
	kl_schema_reset(s);
	for (size_t i = 0; i < n; i++) {
		long j = kl_schema_col(s, names[i], strlen(names[i]));
		if (j >= 0)
			s->cols[j].kind = k[i];
	}
}

static char *object(struct kl_store *st, const char *type)
{
	char path[256];
	snprintf(path, sizeof path, "_kinlake/schemas/%s.json", type);
	struct kl_buf b;
	kl_buf_init(&b, 0);
	if (st->ops->read(st, path, &b) || kl_buf_putc(&b, '\0')) {
		kl_buf_cleanup(&b);
		return NULL;
	}
	return b.data; /* the caller frees */
}

static int has_col(const char *obj, const char *name, const char *type)
{
	char want[256];
	snprintf(want, sizeof want, "{\"name\":\"%s\",\"type\":\"%s\"}", name, type);
	const char *hist = strstr(obj, "\"history\"");
	const char *p = strstr(obj, want);
	return p && (!hist || p < hist); /* in the current union, not only in history */
}

struct worker {
	struct kl_schema_registry *reg;
	struct kl_store *store;
	int id, failed;
};

static void *merge_many(void *arg)
{
	struct worker *w = arg;
	struct kl_schema s;
	kl_schema_init(&s);
	for (int i = 0; i < 40; i++) {
		char name[32];
		snprintf(name, sizeof name, "w%d_c%d", w->id, i);
		const char *names[] = {"event_uuid", name};
		enum kl_col_kind k[] = {KL_COL_STRING, KL_COL_INT};
		schema_of(&s, names, k, 2);
		struct kl_errbuf eb;
		kl_errbuf_clear(&eb);
		if (kl_schema_registry_merge(w->reg, w->store, "shared", 6, &s, &eb))
			w->failed = 1;
	}
	kl_schema_cleanup(&s);
	return NULL;
}

int main(void)
{
	char dir[] = "/tmp/kl-registry-XXXXXX";
	CHECK(mkdtemp(dir) != NULL);
	struct kl_errbuf eb;
	kl_errbuf_clear(&eb);
	struct kl_store *st = NULL;
	CHECK_EQ_INT(kl_store_local_new(&st, dir, &eb), 0);
	struct kl_schema_registry *reg = kl_schema_registry_new();
	CHECK(reg != NULL);
	struct kl_schema s;
	kl_schema_init(&s);

	const char *n1[] = {"event_uuid", "amount"};
	enum kl_col_kind k1[] = {KL_COL_STRING, KL_COL_INT};
	schema_of(&s, n1, k1, 2);
	CHECK_EQ_INT(kl_schema_registry_merge(reg, st, "payment", 7, &s, &eb), 0);
	CHECK_EQ_INT(kl_schema_registry_reads(reg), 1);
	char *o = object(st, "payment");
	CHECK(o && has_col(o, "amount", "bigint") && strstr(o, "\"version\":1,"));
	free(o);
	/* the same schema again, and a subset: served from the cache */
	CHECK_EQ_INT(kl_schema_registry_merge(reg, st, "payment", 7, &s, &eb), 0);
	schema_of(&s, n1, k1, 1);
	CHECK_EQ_INT(kl_schema_registry_merge(reg, st, "payment", 7, &s, &eb), 0);
	CHECK_EQ_INT(kl_schema_registry_reads(reg), 1);
	/* widening reads the object again and writes version 2 */
	enum kl_col_kind k2[] = {KL_COL_STRING, KL_COL_DOUBLE};
	schema_of(&s, n1, k2, 2);
	CHECK_EQ_INT(kl_schema_registry_merge(reg, st, "payment", 7, &s, &eb), 0);
	CHECK_EQ_INT(kl_schema_registry_reads(reg), 2);
	o = object(st, "payment");
	CHECK(o && has_col(o, "amount", "double") && strstr(o, "\"version\":2,"));
	free(o);
	/* an INT file after that is covered by DOUBLE: no read */
	schema_of(&s, n1, k1, 2);
	CHECK_EQ_INT(kl_schema_registry_merge(reg, st, "payment", 7, &s, &eb), 0);
	CHECK_EQ_INT(kl_schema_registry_reads(reg), 2);

	/* another process rewrote the object without our column: our next
	 * change puts it back */
	struct kl_store_file *f;
	const char *other = "{\"event_type\":\"payment\",\"version\":3,\"columns\":[{\"name\":"
			    "\"event_uuid\",\"type\":\"string\"},{\"name\":\"note\",\"type\":"
			    "\"string\"}],\"history\":[]}\n";
	CHECK_EQ_INT(st->ops->open(st, "_kinlake/schemas/payment.json", &f), 0);
	CHECK_EQ_INT(st->ops->write(f, other, strlen(other)), 0);
	CHECK_EQ_INT(st->ops->commit(f), 0);
	const char *n3[] = {"event_uuid", "currency"};
	enum kl_col_kind k3[] = {KL_COL_STRING, KL_COL_STRING};
	schema_of(&s, n3, k3, 2);
	CHECK_EQ_INT(kl_schema_registry_merge(reg, st, "payment", 7, &s, &eb), 0);
	o = object(st, "payment");
	CHECK(o && has_col(o, "note", "string") && has_col(o, "currency", "string") &&
	      has_col(o, "amount", "double") && strstr(o, "\"version\":4,"));
	free(o);

	/* four shard writers at once: no column is lost */
	struct worker w[4];
	pthread_t t[4];
	for (int i = 0; i < 4; i++) {
		w[i] = (struct worker){reg, st, i, 0};
		CHECK_EQ_INT(pthread_create(&t[i], NULL, merge_many, &w[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		CHECK_EQ_INT(w[i].failed, 0);
	}
	o = object(st, "shared");
	int all = o != NULL;
	for (int i = 0; i < 4 && o; i++)
		for (int c = 0; c < 40; c++) {
			char name[32];
			snprintf(name, sizeof name, "w%d_c%d", i, c);
			all &= has_col(o, name, "bigint");
		}
	CHECK(all);
	CHECK(o && strstr(o, "\"version\":160,"));
	free(o);

	kl_schema_cleanup(&s);
	kl_schema_registry_free(reg);
	kl_store_free(st);
	char cmd[300];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	CHECK_EQ_INT(system(cmd), 0);
	return check_report("test_schema_registry");
}
