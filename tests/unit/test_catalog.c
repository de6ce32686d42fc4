/* catalog/catalog.c: table names and their problems, column quoting and
 * the names Athena cannot hold, DDL and Glue TableInput text, the merge
 * with what Glue holds (widen, append, never drop, idempotent), and the
 * registry read the catalog relies on (kl_schema_registry_load). */
#include "catalog/catalog.h"
#include "check.h"
#include "parse/json.h"
#include "store/store.h"

#include <stdlib.h>
#include <unistd.h>

#define COL(n, k)                                                                                  \
	{                                                                                          \
		n, sizeof(n) - 1, k                                                                \
	}

static const struct kl_catalog_col cols_a[] = {
    COL("event_uuid", KL_COL_STRING),
    COL("event_subtype", KL_COL_STRING),
    COL("select", KL_COL_INT),
    COL("a b", KL_COL_DOUBLE),
    COL("UserId", KL_COL_BOOL),
    COL("userid", KL_COL_STRING),
    COL("x.y", KL_COL_INT),
    COL("dt", KL_COL_STRING),
    COL("tick`", KL_COL_INT),
    COL("it's", KL_COL_STRING),
    {"", 0, KL_COL_INT},
    COL("ünï", KL_COL_STRING),
};
static const struct kl_catalog_col cols_b[] = {COL("n", KL_COL_INT)};

static const char *const subs[] = {"viewed", "__HIVE_DEFAULT_PARTITION__", "a%3Ab"};

static struct kl_catalog_type ty(const char *name, const struct kl_catalog_col *c, size_t n)
{
	struct kl_catalog_type t = {0};
	t.name = name;
	t.len = strlen(name);
	t.cols = c;
	t.n_cols = n;
	t.subtypes = subs;
	t.n_subtypes = 3;
	return t;
}

static const struct kl_catalog_table *table(const struct kl_catalog *c, const char *name)
{
	for (size_t i = 0; i < c->n; i++)
		if (!strcmp(c->t[i].name, name))
			return &c->t[i];
	return NULL;
}

static const char *param(const struct kl_catalog_table *t, const char *k)
{
	for (size_t i = 0; i < t->n_params; i++)
		if (!strcmp(t->params[i].key, k))
			return t->params[i].value;
	return NULL;
}

static void opts(struct kl_catalog_opts *o)
{
	memset(o, 0, sizeof *o);
	o->database = "lake_db";
	o->location = "s3://bkt/it's/";
	o->first_day = "2026-01-02";
	o->dead_letters = 1;
	static const char *const reasons[] = {"invalid_json", "too_large"};
	o->reasons = reasons;
	o->n_reasons = 2;
}

static void test_names_and_columns(void)
{
	struct kl_catalog_type types[] = {
	    ty("Page-View", cols_a, sizeof cols_a / sizeof *cols_a),
	    ty("web hook", cols_b, 1),
	    ty("a:b", cols_b, 1),   /* ':' cannot be a table name */
	    ty("dup.x", cols_b, 1), /* collides with dup_x */
	    ty("dup_x", cols_b, 1),
	    ty("", cols_b, 1),		   /* the empty type */
	    ty("dead_letters", cols_b, 1), /* collides with the dead-letter table */
	};
	types[1].first_day = "2025-12-31";
	struct kl_catalog_opts o;
	opts(&o);
	struct kl_catalog c;
	kl_catalog_init(&c);
	struct kl_errbuf eb;
	kl_errbuf_clear(&eb);
	CHECK_EQ_INT(kl_catalog_build(&c, &o, types, sizeof types / sizeof *types, &eb), KL_OK);
	CHECK_EQ_INT(c.n, 3); /* page_view, web_hook, dead_letters */
	const char *pr = c.problems.data ? c.problems.data : "";
	CHECK(strstr(pr, "event type \"a:b\": no table") != NULL);
	CHECK(strstr(pr, "event type \"dup.x\": no table: its table name 'dup_x'") != NULL);
	CHECK(strstr(pr, "event type \"dup_x\": no table: its table name 'dup_x'") != NULL);
	CHECK(strstr(pr, "event type \"\": no table") != NULL);
	CHECK(strstr(pr, "event type \"dead_letters\": no table") != NULL);
	CHECK(strstr(pr, "column \"userid\": equal to an earlier column but for case") != NULL);
	CHECK(strstr(pr, "column \"x.y\": '.' or ':'") != NULL);
	CHECK(strstr(pr, "column \"dt\": named like a partition key") != NULL);
	CHECK(strstr(pr, "column \"tick`\": '`'") != NULL);
	CHECK(strstr(pr, "column \"\": empty column name") != NULL);
	CHECK(strstr(pr, "event_subtype") == NULL); /* the partition key: no report */
	CHECK_EQ_INT(c.n_problems, 10);

	const struct kl_catalog_table *t = table(&c, "page_view");
	CHECK(t != NULL);
	if (t) {
		static const char *const want[][2] = {
		    {"event_uuid", "string"}, {"select", "bigint"}, {"a b", "double"},
		    {"userid", "boolean"},    {"it's", "string"},   {"ünï", "string"}};
		CHECK_EQ_INT(t->n_cols, 6);
		for (size_t i = 0; i < 6 && i < t->n_cols; i++) {
			CHECK_EQ_STR(t->cols[i].name, want[i][0]);
			CHECK_EQ_STR(t->cols[i].type, want[i][1]);
		}
		CHECK_EQ_INT(t->n_parts, 3);
		CHECK_EQ_STR(t->location, "s3://bkt/it's/events/event_type=Page-View/");
		CHECK_EQ_STR(param(t, "projection.event_subtype.values"),
			     "viewed,__HIVE_DEFAULT_PARTITION__,a%3Ab");
		CHECK_EQ_STR(param(t, "projection.dt.range"), "2026-01-02,NOW");
		CHECK_EQ_STR(param(t, "projection.hr.digits"), "2");
		CHECK_EQ_STR(param(t, "storage.location.template"),
			     "s3://bkt/it's/events/event_type=Page-View/"
			     "event_subtype=${event_subtype}/dt=${dt}/hr=${hr}/");
	}
	t = table(&c, "web_hook");
	CHECK(t && !strcmp(t->location, "s3://bkt/it's/events/event_type=web%20hook/"));
	CHECK(t && !strcmp(param(t, "projection.dt.range"), "2025-12-31,NOW"));
	t = table(&c, "dead_letters");
	CHECK(t && t->n_parts == 2 && !strcmp(t->parts[0].name, "reason"));
	CHECK(t && !strcmp(param(t, "projection.reason.values"), "invalid_json,too_large"));
	CHECK(t && !strcmp(param(t, "storage.location.template"),
			   "s3://bkt/it's/errors/${reason}/dt=${dt}/"));
	CHECK(t && !strcmp(param(t, "classification"), "json"));

	struct kl_buf d;
	kl_buf_init(&d, 0);
	CHECK_EQ_INT(kl_catalog_ddl(&c, &d), KL_OK);
	kl_buf_putc(&d, '\0');
	CHECK(strncmp(d.data, "CREATE DATABASE IF NOT EXISTS `lake_db`;", 40) == 0);
	CHECK(strstr(d.data,
		     "CREATE EXTERNAL TABLE IF NOT EXISTS `lake_db`.`page_view` (\n"
		     "  `event_uuid` string,\n  `select` bigint,\n  `a b` double,\n") != NULL);
	CHECK(strstr(d.data, "PARTITIONED BY (`event_subtype` string, `dt` string, `hr` string)\n"
			     "ROW FORMAT SERDE "
			     "'org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe'\n"
			     "STORED AS PARQUET\n") != NULL);
	CHECK(strstr(d.data, "LOCATION 's3://bkt/it\\'s/events/event_type=Page-View/'") != NULL);
	CHECK(strstr(d.data, "`it's` string") != NULL);
	CHECK(strstr(d.data, "'EXTERNAL'") == NULL);
	CHECK(strstr(d.data, "PARTITIONED BY (`reason` string, `dt` string)\nROW FORMAT SERDE "
			     "'org.openx.data.jsonserde.JsonSerDe'\nSTORED AS TEXTFILE") != NULL);
	kl_buf_cleanup(&d);

	/* Glue TableInput: valid JSON with the columns */
	struct kl_buf ti;
	kl_buf_init(&ti, 0);
	CHECK_EQ_INT(kl_catalog_table_input(table(&c, "page_view"), &ti), KL_OK);
	struct kl_json_error je;
	CHECK_EQ_INT(kl_json_parse(ti.data, ti.len, 64, NULL, &je), 0);
	kl_buf_putc(&ti, '\0');
	CHECK(strstr(ti.data, "{\"Name\":\"select\",\"Type\":\"bigint\"}") != NULL);
	CHECK(strstr(ti.data, "\"PartitionKeys\":[{\"Name\":\"event_subtype\"") != NULL);
	CHECK(strstr(ti.data, "\"EXTERNAL\":\"TRUE\"") != NULL);
	kl_buf_cleanup(&ti);
	kl_catalog_cleanup(&c);
}

static void test_bad_options(void)
{
	struct kl_catalog_opts o;
	struct kl_catalog c;
	struct kl_errbuf eb;
	const char *bad_db[] = {"Lake", "a-b", "", "a`b"};
	for (size_t i = 0; i < 4; i++) {
		opts(&o);
		o.database = bad_db[i];
		kl_catalog_init(&c);
		kl_errbuf_clear(&eb);
		CHECK_EQ_INT(kl_catalog_build(&c, &o, NULL, 0, &eb), KL_EINVAL);
		kl_catalog_cleanup(&c);
	}
	opts(&o);
	o.first_day = "2026-1-02";
	kl_catalog_init(&c);
	CHECK_EQ_INT(kl_catalog_build(&c, &o, NULL, 0, &eb), KL_EINVAL);
	kl_catalog_cleanup(&c);
}

/* GetTable answer = {"Table": <a TableInput>} with edits. */
static void test_merge(void)
{
	struct kl_catalog_col v1[] = {COL("a", KL_COL_INT), COL("b", KL_COL_INT)};
	struct kl_catalog_col v2[] = {COL("b", KL_COL_DOUBLE), COL("c", KL_COL_BOOL),
				      COL("a", KL_COL_INT)};
	struct kl_catalog_type t1 = ty("t", v1, 2), t2 = ty("t", v2, 3);
	struct kl_catalog_opts o;
	opts(&o);
	o.dead_letters = 0;
	struct kl_catalog c1, c2;
	kl_catalog_init(&c1);
	kl_catalog_init(&c2);
	CHECK_EQ_INT(kl_catalog_build(&c1, &o, &t1, 1, NULL), KL_OK);
	CHECK_EQ_INT(kl_catalog_build(&c2, &o, &t2, 1, NULL), KL_OK);
	struct kl_buf g;
	kl_buf_init(&g, 0);
	/* Glue holds v1 plus a column of its own ("z" int) and a user parameter */
	kl_buf_puts(&g, "{\"Table\":");
	kl_catalog_table_input(&c1.t[0], &g);
	kl_buf_putc(&g, '}');
	kl_buf_putc(&g, '\0');
	char *s = strdup(g.data);
	char *p = strstr(s, "{\"Name\":\"b\",\"Type\":\"bigint\"}");
	CHECK(p != NULL);
	struct kl_buf e;
	kl_buf_init(&e, 0);
	kl_buf_append(&e, s, (size_t)(p - s));
	kl_buf_puts(&e, "{\"Name\":\"b\",\"Type\":\"bigint\"},{\"Name\":\"Z\",\"Type\":\"int\"}");
	kl_buf_puts(&e, p + strlen("{\"Name\":\"b\",\"Type\":\"bigint\"}"));
	kl_buf_putc(&e, '\0');
	free(s);
	s = strdup(e.data);
	kl_buf_reset(&e);
	p = strstr(s, "\"Parameters\":{");
	kl_buf_append(&e, s, (size_t)(p - s) + 14);
	kl_buf_puts(&e, "\"owner\":\"me\",");
	kl_buf_puts(&e, p + 14);
	free(s);
	kl_buf_putc(&e, '\0');
	e.len--; /* NUL-terminated, not counted */

	int changed = -1;
	struct kl_errbuf eb;
	kl_errbuf_clear(&eb);
	CHECK_EQ_INT(kl_catalog_merge_glue(&c2.t[0], e.data, e.len, &changed, &eb), KL_OK);
	CHECK_EQ_INT(changed, 1);
	const struct kl_catalog_table *t = &c2.t[0];
	static const char *const want[][2] = {
	    {"a", "bigint"}, {"b", "double"}, {"z", "int"}, {"c", "boolean"}};
	CHECK_EQ_INT(t->n_cols, 4);
	for (size_t i = 0; i < 4 && i < t->n_cols; i++) {
		CHECK_EQ_STR(t->cols[i].name, want[i][0]);
		CHECK_EQ_STR(t->cols[i].type, want[i][1]);
	}
	CHECK(param(t, "owner") && !strcmp(param(t, "owner"), "me"));

	/* what we would write, read back: nothing to change */
	struct kl_buf g2;
	kl_buf_init(&g2, 0);
	kl_buf_puts(&g2, "{\"Table\":");
	kl_catalog_table_input(t, &g2);
	kl_buf_putc(&g2, '}');
	struct kl_catalog c3;
	kl_catalog_init(&c3);
	CHECK_EQ_INT(kl_catalog_build(&c3, &o, &t2, 1, NULL), KL_OK);
	CHECK_EQ_INT(kl_catalog_merge_glue(&c3.t[0], g2.data, g2.len, &changed, &eb), KL_OK);
	CHECK_EQ_INT(changed, 0);
	/* an older registry (narrower) changes nothing either: never narrowed */
	struct kl_catalog c4;
	kl_catalog_init(&c4);
	CHECK_EQ_INT(kl_catalog_build(&c4, &o, &t1, 1, NULL), KL_OK);
	CHECK_EQ_INT(kl_catalog_merge_glue(&c4.t[0], g2.data, g2.len, &changed, &eb), KL_OK);
	CHECK_EQ_INT(changed, 0);
	CHECK_EQ_INT(c4.t[0].n_cols, 4);
	/* a new subtype changes the projection */
	struct kl_catalog_type t5 = t2;
	t5.n_subtypes = 2;
	struct kl_catalog c5;
	kl_catalog_init(&c5);
	CHECK_EQ_INT(kl_catalog_build(&c5, &o, &t5, 1, NULL), KL_OK);
	CHECK_EQ_INT(kl_catalog_merge_glue(&c5.t[0], g2.data, g2.len, &changed, &eb), KL_OK);
	CHECK_EQ_INT(changed, 1);
	/* not a table */
	kl_errbuf_clear(&eb);
	CHECK_EQ_INT(kl_catalog_merge_glue(&c5.t[0], "{\"Tab\":{}}", 10, &changed, &eb), KL_EPARSE);
	CHECK_EQ_INT(kl_catalog_merge_glue(&c5.t[0], "{\"Table\":", 9, &changed, &eb), KL_EPARSE);
	kl_buf_cleanup(&g);
	kl_buf_cleanup(&g2);
	kl_buf_cleanup(&e);
	kl_catalog_cleanup(&c1);
	kl_catalog_cleanup(&c2);
	kl_catalog_cleanup(&c3);
	kl_catalog_cleanup(&c4);
	kl_catalog_cleanup(&c5);
}

static void test_registry_load(void)
{
	char dir[256];
	kl_test_mkdtemp(dir, sizeof dir, "kl-catalog-");
	struct kl_store *st = NULL;
	struct kl_errbuf eb;
	kl_errbuf_clear(&eb);
	CHECK_EQ_INT(kl_store_local_new(&st, dir, &eb), KL_OK);
	if (!st)
		return;
	struct kl_schema fs, u;
	kl_schema_init(&fs);
	kl_schema_init(&u);
	long i = kl_schema_col(&fs, "q\"x", 3);
	fs.cols[i].kind = KL_COL_DOUBLE;
	i = kl_schema_col(&fs, "n", 1);
	fs.cols[i].kind = KL_COL_INT;
	struct kl_schema_registry *r = kl_schema_registry_new();
	CHECK_EQ_INT(kl_schema_registry_merge(r, st, "a/b", 3, &fs, &eb), KL_OK);
	CHECK_EQ_INT(kl_schema_registry_load(st, "a/b", 3, &u, &eb), KL_OK);
	CHECK_EQ_INT(u.n, 2);
	if (u.n == 2) {
		CHECK_EQ_STR(kl_schema_name(&u, 0), "q\"x");
		CHECK_EQ_INT(u.cols[0].kind, KL_COL_DOUBLE);
		CHECK_EQ_INT(u.cols[1].kind, KL_COL_INT);
	}
	CHECK_EQ_INT(kl_schema_registry_load(st, "nope", 4, &u, &eb), KL_OK);
	CHECK_EQ_INT(u.n, 0); /* no entry: an empty schema */
	kl_schema_registry_free(r);
	kl_schema_cleanup(&fs);
	kl_schema_cleanup(&u);
	kl_store_free(st);
	char cmd[300];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	CHECK(system(cmd) == 0);
}

/* c: the tables of one type "w" with these columns, at max_columns 10 */
static void build_capped(struct kl_catalog *c, const struct kl_catalog_col *cols, size_t n)
{
	struct kl_catalog_type types[] = {ty("w", cols, n)};
	struct kl_catalog_opts o;
	opts(&o);
	o.max_columns = 10;
	kl_catalog_init(c);
	struct kl_errbuf eb;
	kl_errbuf_clear(&eb);
	CHECK_EQ_INT(kl_catalog_build(c, &o, types, 1, &eb), KL_OK);
}

/* max_columns: a type whose union outgrows the cap keeps its first columns
 * and _rescued_data (wherever the union has it), the rest reported in one
 * line; a type without _rescued_data keeps max_columns columns. */
static void test_column_cap(void)
{
	enum { N = 20 };
	static char names[N][16];
	static struct kl_catalog_col cols[N];
	for (size_t i = 0; i < N; i++) {
		snprintf(names[i], sizeof names[i], "c%zu", i);
		cols[i] = (struct kl_catalog_col){names[i], strlen(names[i]), KL_COL_INT};
	}
	struct kl_catalog c;
	for (int with_rescue = 0; with_rescue < 2; with_rescue++) {
		if (with_rescue) { /* at 15: past the cap, and still in the table */
			snprintf(names[15], sizeof names[15], "%s", KL_PQ_RESCUE_COLUMN);
			cols[15] = (struct kl_catalog_col){names[15], strlen(names[15]), KL_COL_STRING};
		}
		build_capped(&c, cols, N);
		const struct kl_catalog_table *t = table(&c, "w");
		CHECK(t && t->n_cols == 10);
		for (size_t i = 0; t && i < 9 && i < t->n_cols; i++)
			CHECK_EQ_STR(t->cols[i].name, names[i]);
		if (t && t->n_cols == 10)
			CHECK_EQ_STR(t->cols[9].name, with_rescue ? KL_PQ_RESCUE_COLUMN : "c9");
		const char *pr = c.problems.data ? c.problems.data : "";
		CHECK_EQ_INT(c.n_problems, 1);
		CHECK(strstr(pr, with_rescue ? "column \"c9\": past --max-columns 10, with 9 more after it"
					     : "column \"c10\": past --max-columns 10, with 9 more after it") !=
		      NULL);
		kl_catalog_cleanup(&c);
	}
	build_capped(&c, cols, 10); /* at the cap exactly: no report */
	CHECK_EQ_INT(c.n_problems, 0);
	CHECK(table(&c, "w") && table(&c, "w")->n_cols == 10);
	kl_catalog_cleanup(&c);
}

int main(void)
{
	test_names_and_columns();
	test_bad_options();
	test_column_cap();
	test_merge();
	test_registry_load();
	return check_report("test_catalog");
}
