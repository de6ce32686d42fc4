/* cmd_catalog.c — see cmd_catalog.h. */
#include "cli/cmd_catalog.h"
#include "aws/glue.h"
#include "aws/json_rpc.h" /* kl_aws_region */
#include "catalog/catalog.h"
#include "catalog/lake.h"
#include "config/opts.h"
#include "encode/encoder.h"
#include "event/event.h"
#include "store/store.h"
#include "store/store_url.h"

#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define NOPTS(t) (sizeof(t) / sizeof((t)[0]))

struct catalog_cfg {
	const char *lake, *database, *location, *region, *table_prefix, *first_day;
	int subtypes, format, no_dead_letters;
	int64_t max_columns;
};

static const struct kl_opt_choice subtype_choices[] = {
    {"enum", KL_CATALOG_SUBTYPE_ENUM}, {"injected", KL_CATALOG_SUBTYPE_INJECTED}, {NULL, 0}};
/* 0 = auto (from the lake's files), else 1 + enum kl_catalog_format */
static const struct kl_opt_choice format_choices[] = {
    {"auto", 0}, {"parquet", 1 + KL_CATALOG_PARQUET}, {"jsonl", 1 + KL_CATALOG_JSONL}, {NULL, 0}};

#define F(field) offsetof(struct catalog_cfg, field)
static const struct kl_opt catalog_opts[] = {
	{.name = "lake", .type = KL_OPT_STR, .offset = F(lake), .metavar = "DIR|s3://B/P",
	 .help = "the lake whose _kinlake/schemas/ and layout are read (required)",
	 .check = kl_store_url_check /* as ingest's --lake */},
	{.name = "database", .type = KL_OPT_STR, .offset = F(database), .def = "kinlake",
	 .metavar = "DB", .help = "Glue/Athena database of the tables ([a-z0-9_])"},
	{.name = "location", .type = KL_OPT_STR, .offset = F(location), .metavar = "s3://B/P",
	 .help = "where the tables point: the lake's S3 URL when --lake is a local copy of it "
		 "(default: --lake itself, as s3:// or file://)"},
	{.name = "table-prefix", .type = KL_OPT_STR, .offset = F(table_prefix),
	 .metavar = "PREFIX", .help = "put before every table name"},
	{.name = "subtypes", .type = KL_OPT_CHOICE, .offset = F(subtypes), .def = "enum",
	 .metavar = "enum|injected",
	 .help = "event_subtype projection: the values seen (re-run after new subtypes appear), "
		 "or injected (every query must name the subtype)",
	 .choices = subtype_choices},
	{.name = "format", .type = KL_OPT_CHOICE, .offset = F(format), .def = "auto",
	 .metavar = "auto|parquet|jsonl", .help = "the lake's data file format (auto: from its files)",
	 .choices = format_choices},
	{.name = "first-day", .type = KL_OPT_STR, .offset = F(first_day), .metavar = "YYYY-MM-DD",
	 .help = "start of the dt projection (default: the lake's first day, else today)"},
	{.name = "no-dead-letters", .type = KL_OPT_FLAG, .offset = F(no_dead_letters),
	 .help = "no dead_letters table over errors/"},
	{.name = "max-columns", .env = "KINLAKE_MAX_COLUMNS", .type = KL_OPT_I64,
	 .offset = F(max_columns), .def = KL_PQ_MAX_COLUMNS_DEF, .metavar = "N",
	 .help = "data columns of a table at most, as ingest's --max-columns caps a file's; the "
		 "columns of a type past it (and never _rescued_data) are left out and reported",
	 .min = KL_PQ_MIN_COLUMNS, .max = KL_PQ_MAX_COLUMNS_MAX},
	{.name = "region", .type = KL_OPT_STR, .offset = F(region), .metavar = "REGION",
	 .help = "Glue's and an s3:// lake's AWS region (default: AWS_REGION, AWS_DEFAULT_REGION)"},
};
#undef F

static void usage(FILE *f)
{
	fprintf(f, "Usage: kinlake catalog ddl|sync --lake DIR [options]\n\n"
		   "Tables that follow the data: one per event type, columns from the lake's\n"
		   "schema registry, partitioned by (event_subtype, dt, hr) with partition\n"
		   "projection (no crawler, no MSCK REPAIR), plus dead_letters over errors/.\n"
		   "  ddl    print Athena DDL\n"
		   "  sync   create or update the tables in the Glue Data Catalog (idempotent;\n"
		   "         columns are added and widened, never dropped)\n\n"
		   "Options:\n");
	kl_opts_help(f, catalog_opts, NOPTS(catalog_opts));
}

/* The lake's store: a directory, or S3 with the SDKs' credential chain
 * (which must outlive the store). */
struct lake_store {
	struct kl_store *store;
	struct kl_aws_env env;
	struct kl_cred_chain creds;
	struct kl_http *http;
};

static int lake_store_open(struct lake_store *ls, const char *lake, const char *region,
			   struct kl_errbuf *eb)
{
	memset(ls, 0, sizeof *ls);
	struct stat st;
	if (strncmp(lake, "s3://", 5) && (stat(lake, &st) || !S_ISDIR(st.st_mode)))
		return kl_errbuf_set(eb, KL_ENOTFOUND, "%s: no such lake directory", lake);
	if (strncmp(lake, "s3://", 5)) /* (the local store would create a missing root) */
		return kl_store_local_new(&ls->store, lake, eb);
	struct kl_http_opts ho = {0};
	if (!(ls->http = kl_http_new(&ho, eb)))
		return eb->code ? eb->code : KL_ENOMEM;
	ls->env = kl_aws_env_process();
	kl_cred_chain_init(&ls->creds, &ls->env, kl_http_transport_of(ls->http));
	struct kl_store_s3_opts so = {0};
	if (!(so.region = kl_aws_region(&ls->env, region)))
		return kl_errbuf_set(eb, KL_EINVAL,
				     "no AWS region: set AWS_REGION or pass --region");
	so.endpoint = kl_store_s3_env_endpoint(&ls->env);
	so.creds = &ls->creds;
	return kl_store_s3_new(&ls->store, lake, &so, eb);
}

static void lake_store_close(struct lake_store *ls)
{
	kl_store_free(ls->store);
	if (ls->http) {
		kl_cred_chain_cleanup(&ls->creds);
		kl_http_free(ls->http);
	}
	memset(ls, 0, sizeof *ls);
}

static int sync_tables(struct kl_catalog *c, const char *region)
{
	struct kl_glue g;
	struct kl_errbuf eb;
	kl_errbuf_clear(&eb);
	int rc = kl_glue_init(&g, region, &eb);
	if (rc) {
		fprintf(stderr, "kinlake catalog sync: %s\n", eb.code ? eb.msg : kl_strerror(rc));
		kl_glue_cleanup(&g);
		return 1;
	}
	int created_db;
	size_t created = 0, updated = 0, unchanged = 0;
	struct kl_buf ti;
	kl_buf_init(&ti, 64u << 20);
	if ((rc = kl_glue_ensure_database(&g, c->database, &created_db))) {
		fprintf(stderr, "kinlake catalog sync: %s\n", g.c.err.msg);
		goto out;
	}
	if (created_db)
		printf("created database %s\n", c->database);
	for (size_t i = 0; i < c->n && !rc; i++) {
		struct kl_catalog_table *t = &c->t[i];
		int changed = 1, exists = 0;
		rc = kl_glue_get_table(&g, c->database, t->name);
		if (rc == KL_OK) {
			exists = 1;
			kl_errbuf_clear(&eb);
			rc = kl_catalog_merge_glue(t, g.c.resp.body.data, g.c.resp.body.len,
						   &changed, &eb);
			if (rc) {
				fprintf(stderr, "kinlake catalog sync: %s\n", eb.msg);
				break;
			}
		} else if (rc != KL_ENOTFOUND) {
			fprintf(stderr, "kinlake catalog sync: %s\n", g.c.err.msg);
			break;
		}
		rc = KL_OK;
		if (!changed) {
			unchanged++;
			continue;
		}
		kl_buf_reset(&ti);
		rc = kl_catalog_table_input(t, &ti);
		if (!rc)
			rc = exists ? kl_glue_update_table(&g, c->database, ti.data, ti.len)
				    : kl_glue_create_table(&g, c->database, ti.data, ti.len);
		if (rc) {
			fprintf(stderr, "kinlake catalog sync: %s\n",
				g.c.err.msg[0] ? g.c.err.msg : kl_strerror(rc));
			break;
		}
		printf("%s %s.%s\n", exists ? "updated" : "created", c->database, t->name);
		*(exists ? &updated : &created) += 1;
	}
	fprintf(stderr, "kinlake catalog sync: %zu created, %zu updated, %zu unchanged\n", created,
		updated, unchanged);
out:
	kl_buf_cleanup(&ti);
	kl_glue_cleanup(&g);
	return rc ? 1 : 0;
}

static int run(const char *verb, struct catalog_cfg *cfg)
{
	struct kl_errbuf eb;
	kl_errbuf_clear(&eb);
	struct lake_store ls;
	struct kl_catalog_lake lake;
	struct kl_catalog cat;
	kl_catalog_init(&cat);
	memset(&lake, 0, sizeof lake);
	int status = 1;
	char location[PATH_MAX + 16], today[11];
	time_t now = time(NULL);
	struct tm tm;
	strftime(today, sizeof today, "%Y-%m-%d", gmtime_r(&now, &tm));
	int rc = lake_store_open(&ls, cfg->lake, cfg->region, &eb);
	rc = rc ? rc : kl_catalog_lake_load(&lake, ls.store, &eb);
	if (rc) {
		fprintf(stderr, "kinlake catalog: %s\n", eb.code ? eb.msg : kl_strerror(rc));
		goto out;
	}
	if (cfg->location) {
		snprintf(location, sizeof location, "%s", cfg->location);
	} else if (!strncmp(cfg->lake, "s3://", 5)) {
		snprintf(location, sizeof location, "%s", cfg->lake);
	} else {
		char abs[PATH_MAX];
		if (!realpath(cfg->lake, abs)) {
			fprintf(stderr, "kinlake catalog: %s: cannot resolve\n", cfg->lake);
			goto out;
		}
		snprintf(location, sizeof location, "file://%s", abs);
	}
	struct kl_catalog_opts o = {0};
	o.database = cfg->database;
	o.location = location;
	o.table_prefix = cfg->table_prefix ? cfg->table_prefix : "";
	o.format = cfg->format == 0 ? (lake.format < 0 ? KL_CATALOG_PARQUET
						       : (enum kl_catalog_format)lake.format)
				    : (enum kl_catalog_format)(cfg->format - 1);
	o.compression = lake.compression ? lake.compression : "none";
	o.errors_compression = lake.errors_compression;
	o.subtypes = (enum kl_catalog_subtypes)cfg->subtypes;
	o.max_columns = (size_t)cfg->max_columns;
	o.first_day = cfg->first_day ? cfg->first_day : lake.first_day[0] ? lake.first_day : today;
	o.dead_letters = !cfg->no_dead_letters;
	/* every reason kinlake writes, and any other found under errors/ */
	const char *reasons[KL_REJ_COUNT + 64];
	size_t nr = 0;
	for (int r = KL_REJ_NONE + 1; r < KL_REJ_COUNT; r++)
		reasons[nr++] = kl_reject_name((enum kl_reject)r);
	for (size_t i = 0; i < lake.n_reasons && nr < sizeof reasons / sizeof *reasons; i++) {
		int known = 0;
		for (size_t j = 0; j < nr && !known; j++)
			known = !strcmp(reasons[j], lake.reasons[i]);
		if (!known && !strchr(lake.reasons[i], ','))
			reasons[nr++] = lake.reasons[i];
	}
	o.reasons = reasons;
	o.n_reasons = nr;
	if ((rc = kl_catalog_build(&cat, &o, lake.types, lake.n, &eb))) {
		fprintf(stderr, "kinlake catalog: %s\n", eb.code ? eb.msg : kl_strerror(rc));
		goto out;
	}
	if (lake.no_schema && o.format == KL_CATALOG_PARQUET)
		fprintf(stderr,
			"kinlake catalog: %zu event type(s) without a registry schema: "
			"common columns only\n",
			lake.no_schema);
	if (!strcmp(verb, "ddl")) {
		struct kl_buf out;
		kl_buf_init(&out, 0);
		if ((rc = kl_catalog_ddl(&cat, &out)) == KL_OK)
			fwrite(out.data, 1, out.len, stdout);
		kl_buf_cleanup(&out);
		status = rc ? 1 : 0;
	} else {
		status = sync_tables(&cat, cfg->region);
	}
	if (cat.n_problems) {
		fprintf(stderr,
			"kinlake catalog: %zu name problem(s); those names are not in the "
			"tables:\n%.*s",
			cat.n_problems, (int)cat.problems.len, cat.problems.data);
		status = status ? status : 1;
	}
out:
	kl_catalog_cleanup(&cat);
	kl_catalog_lake_cleanup(&lake);
	lake_store_close(&ls);
	return status;
}

int kl_cmd_catalog(int argc, char **argv)
{
	if (argc < 1 || !strcmp(argv[0], "--help") || !strcmp(argv[0], "-h")) {
		usage(argc < 1 ? stderr : stdout);
		return argc < 1 ? 2 : 0;
	}
	const char *verb = argv[0];
	if (strcmp(verb, "ddl") && strcmp(verb, "sync")) {
		fprintf(stderr, "kinlake catalog: unknown action '%s' (ddl, sync)\n", verb);
		return 2;
	}
	struct catalog_cfg cfg;
	memset(&cfg, 0, sizeof cfg);
	struct kl_opts p;
	struct kl_errbuf eb = {0};
	int r = kl_opts_init(&p, catalog_opts, NOPTS(catalog_opts), &cfg, &eb);
	if (r == KL_OK)
		r = kl_opts_argv(&p, argc - 1, argv + 1, &eb);
	if (r == KL_OPTS_HELP) {
		usage(stdout);
		return 0;
	}
	if (r != KL_OK) {
		fprintf(stderr, "kinlake catalog: %s\n", eb.msg);
		return 2;
	}
	if (!cfg.lake) {
		fprintf(stderr, "kinlake catalog: --lake is required\n");
		return 2;
	}
	return run(verb, &cfg);
}
