/* fuzz_catalog.c — libFuzzer target for catalog/catalog.c: the parser of
 * Glue's GetTable answers (kl_catalog_merge_glue) and the planner on
 * arbitrary event type and column names.
 * First byte even: the rest is a GetTable answer merged into a planned
 * table; odd: the rest is "type\ncol\ncol..." planned into a table.
 * Invariants: never crash; the TableInput written afterwards is valid JSON;
 * every DDL identifier of a planned table is closed (an even number of
 * backticks); no column is dropped by a merge. */
#include "catalog/catalog.h"
#include "fuzz_common.h"
#include "parse/json.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_outputs(const struct kl_catalog *c, int ddl)
{
	struct kl_buf b;
	kl_buf_init(&b, 0);
	for (size_t i = 0; i < c->n; i++) {
		kl_buf_reset(&b);
		REQUIRE(kl_catalog_table_input(&c->t[i], &b) == KL_OK);
		struct kl_json_error je;
		REQUIRE(kl_json_parse(b.data, b.len, 64, NULL, &je) == 0);
	}
	kl_buf_reset(&b);
	if (!ddl) { /* a merged table only ever goes back to Glue as JSON */
		kl_buf_cleanup(&b);
		return;
	}
	REQUIRE(kl_catalog_ddl(c, &b) == KL_OK);
	size_t ticks = 0;
	for (size_t i = 0; i < b.len; i++)
		ticks += b.data[i] == '`';
	REQUIRE(ticks % 2 == 0);
	kl_buf_cleanup(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > 1 << 16)
		return 0;
	const char *p = (const char *)data + 1;
	size_t n = size - 1;
	static const char *const subs[] = {"a", "__HIVE_DEFAULT_PARTITION__"};
	struct kl_catalog_opts o = {0};
	o.location = "s3://b/p";
	o.first_day = "2026-01-01";
	o.dead_letters = 1;
	struct kl_catalog c;
	kl_catalog_init(&c);
	if (data[0] % 2 == 0) {
		static const struct kl_catalog_col cols[] = {
		    {"a", 1, KL_COL_INT}, {"B", 1, KL_COL_DOUBLE}, {"c", 1, KL_COL_STRING}};
		struct kl_catalog_type t = {"t", 1, cols, 3, subs, 2, NULL};
		REQUIRE(kl_catalog_build(&c, &o, &t, 1, NULL) == KL_OK);
		int changed;
		size_t before = c.t[0].n_cols;
		if (kl_catalog_merge_glue(&c.t[0], p, n, &changed, NULL) == KL_OK)
			REQUIRE(c.t[0].n_cols >= before);
	} else {
		struct kl_catalog_col cols[64];
		size_t nc = 0;
		const char *nl = memchr(p, '\n', n);
		size_t tl = nl ? (size_t)(nl - p) : n;
		for (const char *q = nl ? nl + 1 : p + n; q < p + n && nc < 64;) {
			const char *e = memchr(q, '\n', (size_t)(p + n - q));
			size_t l = e ? (size_t)(e - q) : (size_t)(p + n - q);
			cols[nc] = (struct kl_catalog_col){q, l, (enum kl_col_kind)(l % 5)};
			nc++;
			q += l + 1;
		}
		struct kl_catalog_type t = {p, tl, cols, nc, subs, 2, NULL};
		REQUIRE(kl_catalog_build(&c, &o, &t, 1, NULL) == KL_OK);
	}
	check_outputs(&c, data[0] % 2);
	kl_catalog_cleanup(&c);
	return 0;
}
