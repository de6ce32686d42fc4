/* test_esm.c — lambda/esm: the KINLAKE_* configuration, the choice of the
 * record to retry from (kl_esm_retry_from), and whole batches through the
 * Lambda handler into a local lake: files named <shard>-<sequence number>,
 * dead letters dated by arrival, KPL-aggregated records, duplicates across
 * invocations, invalid events, a store failure reported in
 * batchItemFailures and its retry overwriting rather than duplicating. The
 * real binary, S3 and the lake checks are in tests/e2e/lambda_esm.sh. */
#include "check.h"
#include "core/base64.h"
#include "lambda/handler.h"
#include "parse/json.h"

#include <ftw.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

/* --- a fake environment ---------------------------------------------------- */

static const char *const *fake_vars;
static const char *fake_get(void *ctx, const char *name)
{
	(void)ctx;
	for (const char *const *v = fake_vars; v && *v; v += 2)
		if (!strcmp(v[0], name))
			return v[1];
	return NULL;
}
static struct kl_aws_env env_of(const char *const *vars)
{
	fake_vars = vars;
	return (struct kl_aws_env){fake_get, NULL};
}

static void test_config(void)
{
	struct kl_esm_config c;
	struct kl_errbuf eb;
	struct kl_aws_env e;
#define CONFIG(rc_, ...)                                                                           \
	do {                                                                                       \
		static const char *const v_[] = {__VA_ARGS__, NULL};                               \
		e = env_of(v_);                                                                    \
		kl_errbuf_clear(&eb);                                                              \
		CHECK_EQ_INT(kl_esm_config_env(&c, &e, &eb), rc_);                                 \
	} while (0)
	CONFIG(KL_OK, "HOME", "/x");
	CHECK(c.set.lake == NULL);
	CONFIG(KL_OK, "KINLAKE_LAKE", "");
	CHECK(c.set.lake == NULL);
	CONFIG(KL_OK, "KINLAKE_LAKE", "/tmp/l");
	CHECK_EQ_STR(c.set.lake, "/tmp/l");
	CHECK_EQ_INT(c.set.format, KL_FORMAT_PARQUET);
	CHECK_EQ_INT(c.set.compression, KL_COMP_ZSTD);
	CONFIG(KL_OK, "KINLAKE_LAKE", "/tmp/l", "KINLAKE_FORMAT", "jsonl", "KINLAKE_COMPRESSION", "gzip");
	CHECK_EQ_INT(c.set.format, KL_FORMAT_JSONL);
	CHECK_EQ_INT(c.set.compression, KL_COMP_GZIP);
	CONFIG(KL_EINVAL, "KINLAKE_LAKE", "/tmp/l", "KINLAKE_FORMAT", "csv");
	CHECK_EQ_STR(eb.msg, "KINLAKE_FORMAT: 'csv' is not one of parquet|jsonl");
	CONFIG(KL_EINVAL, "KINLAKE_LAKE", "/tmp/l", "KINLAKE_COMPRESSION", "lz4");
	CHECK(strstr(eb.msg, "KINLAKE_COMPRESSION") != NULL);
	CONFIG(KL_EINVAL, "KINLAKE_FORMAT", "jsonl");
	CHECK(strstr(eb.msg, "KINLAKE_FORMAT is set but KINLAKE_LAKE is not") != NULL);
	CONFIG(KL_EINVAL, "KINLAKE_LAKE", "s3://bkt/p");
	CHECK(strstr(eb.msg, "no region") != NULL);
	CONFIG(KL_OK, "KINLAKE_LAKE", "s3://bkt/p", "AWS_REGION", "eu-west-1", "KINLAKE_SSE", "aws:kms",
	       "KINLAKE_SSE_KMS_KEY_ID", "k1");
	CHECK_EQ_STR(c.region, "eu-west-1");
	CHECK_EQ_STR(c.set.sse_kms_key_id, "k1");
	CHECK_EQ_INT(c.set.sse, KL_SSE_KMS);
	CONFIG(KL_EINVAL, "KINLAKE_LAKE", "/tmp/l", "KINLAKE_SSE", "AES256");
	CONFIG(KL_EINVAL, "KINLAKE_LAKE", "s3://bkt", "AWS_REGION", "x", "KINLAKE_SSE", "yes");
	CONFIG(KL_EINVAL, "KINLAKE_LAKE", "s3://bkt", "AWS_REGION", "x", "KINLAKE_SSE_KMS_KEY_ID", "k");

	/* the app: a bad bucket name or an unusable directory fails init */
	struct kl_lambda_app a;
	const char *lake;
	CHECK_EQ_INT(kl_lambda_app_init(&a, 0), KL_OK);
	static const char *const bad_bucket[] = {"KINLAKE_LAKE", "s3://B_ad/x", "AWS_REGION", "x", NULL};
	e = env_of(bad_bucket);
	kl_errbuf_clear(&eb);
	CHECK(kl_lambda_app_configure(&a, &e, &lake, &eb) != KL_OK);
	CHECK_EQ_STR(eb.msg, "KINLAKE_LAKE: 'B_ad' is not a valid S3 bucket name (3 to 63 "
			     "characters: a-z, 0-9, '.', '-')");
	CHECK(a.esm == NULL && lake == NULL);
	static const char *const bad_dir[] = {"KINLAKE_LAKE", "/proc/self/nope", NULL};
	e = env_of(bad_dir);
	kl_errbuf_clear(&eb);
	CHECK(kl_lambda_app_configure(&a, &e, &lake, &eb) != KL_OK);
	CHECK(strstr(eb.msg, "KINLAKE_LAKE=/proc/self/nope") != NULL);
	static const char *const none[] = {NULL};
	e = env_of(none);
	CHECK_EQ_INT(kl_lambda_app_configure(&a, &e, &lake, &eb), KL_OK);
	CHECK(a.esm == NULL && lake == NULL);
	kl_lambda_app_cleanup(&a);
}

/* --- the record to retry from ------------------------------------------------ */

static void test_retry_from(void)
{
	/* 4 Kinesis records holding positions 0-1, 2-4 (aggregated), 5 (empty
	 * aggregated record: shares 5 with the next), 5-7 */
	struct kl_esm_rec r[5] = {{.first_pos = 0}, {.first_pos = 2}, {.first_pos = 5},
				  {.first_pos = 5}, {.first_pos = 8}};
	struct kl_esm_file f[4];
	/* everything durable */
	f[0] = (struct kl_esm_file){0, 3, 2, 1};
	f[1] = (struct kl_esm_file){1, 8, 5, 1};
	CHECK_EQ_INT(kl_esm_retry_from(r, 5, f, 2, 1), 5);
	/* not complete: the whole batch */
	CHECK_EQ_INT(kl_esm_retry_from(r, 5, f, 2, 0), 0);
	/* a file failing at 6, no durable file reaching 6: retry from the record holding 6 */
	f[0] = (struct kl_esm_file){0, 4, 3, 1};
	f[1] = (struct kl_esm_file){6, 8, 2, 0};
	CHECK_EQ_INT(kl_esm_retry_from(r, 5, f, 2, 1), 3);
	/* failing at 3 (inside an aggregated record): back to its first user record */
	f[0] = (struct kl_esm_file){0, 1, 2, 1};
	f[1] = (struct kl_esm_file){3, 8, 4, 0};
	CHECK_EQ_INT(kl_esm_retry_from(r, 5, f, 2, 1), 1);
	/* a durable file straddling the start (1..7) moves it to its first record */
	f[0] = (struct kl_esm_file){1, 7, 3, 1};
	f[1] = (struct kl_esm_file){6, 8, 2, 0};
	CHECK_EQ_INT(kl_esm_retry_from(r, 5, f, 2, 1), 0);
	/* ... and a chain: durable 2..6 straddles 5, then durable 0..3 straddles 2 */
	f[0] = (struct kl_esm_file){2, 6, 2, 1};
	f[1] = (struct kl_esm_file){0, 3, 2, 1};
	f[2] = (struct kl_esm_file){5, 8, 2, 0};
	CHECK_EQ_INT(kl_esm_retry_from(r, 5, f, 3, 1), 0);
	/* a durable file after the start is rewritten under its name: fine */
	f[0] = (struct kl_esm_file){0, 1, 2, 1};
	f[1] = (struct kl_esm_file){7, 8, 2, 1};
	f[2] = (struct kl_esm_file){5, 6, 2, 0};
	CHECK_EQ_INT(kl_esm_retry_from(r, 5, f, 3, 1), 3);
}

/* --- batches through the handler -------------------------------------------- */

static int files_seen;
static int count_cb(const char *p, const struct stat *sb, int type, struct FTW *ftw)
{
	(void)sb;
	(void)ftw;
	/* not the local store's mark of a live writer (store_local.c) */
	if (type == FTW_F && strstr(p, "/.") == NULL && strstr(p, "/_kinlake/writers/") == NULL)
		files_seen++;
	return 0;
}
static int count_files(const char *dir)
{
	files_seen = 0;
	nftw(dir, count_cb, 16, FTW_PHYS);
	return files_seen;
}
static int rm_cb(const char *p, const struct stat *sb, int type, struct FTW *ftw)
{
	(void)sb;
	(void)type;
	(void)ftw;
	return remove(p);
}

/* {"Records":[...]} with one record per data string (raw bytes, base64-encoded
 * here unless `raw_b64`), sequence numbers seq0, seq0+1, ... */
static char *esm_event(const char *shard, const char *const *data, const size_t *len, size_t n,
		       unsigned long long seq0, int raw_b64)
{
	struct kl_buf b;
	kl_buf_init(&b, 0);
	kl_buf_puts(&b, "{\"Records\":[");
	for (size_t i = 0; i < n; i++) {
		kl_buf_printf(&b, "%s{\"kinesis\":{\"kinesisSchemaVersion\":\"1.0\",\"partitionKey\":\"k\","
			      "\"sequenceNumber\":\"4959%020llu\",\"data\":\"", i ? "," : "", seq0 + i);
		if (raw_b64)
			kl_buf_puts(&b, data[i]);
		else
			kl_base64_encode(&b, data[i], len ? len[i] : strlen(data[i]));
		kl_buf_printf(&b, "\",\"approximateArrivalTimestamp\":1764633600.5},\"eventSource\":"
			      "\"aws:kinesis\",\"eventID\":\"%s:4959%020llu\",\"eventSourceARN\":"
			      "\"arn:aws:kinesis:us-east-1:1:stream/s\"}", shard, seq0 + i);
	}
	kl_buf_puts(&b, "]}");
	kl_buf_putc(&b, '\0');
	return b.data;
}

struct run {
	struct kl_lambda_app app;
	struct kl_lambda_stats st;
	struct kl_buf out;
	const char *type;
	struct kl_errbuf eb;
};

static int handle(struct run *r, const char *event)
{
	struct kl_lambda_invocation inv = {.request_id = "t", .event = event,
					   .event_len = strlen(event)};
	kl_buf_reset(&r->out);
	r->type = NULL;
	kl_errbuf_clear(&r->eb);
	int rc = kl_lambda_app_handle(&r->app, &inv, &r->out, &r->st, &r->type, &r->eb);
	kl_buf_putc(&r->out, '\0');
	r->out.len--;
	return rc;
}

static int exists(const char *dir, const char *rel)
{
	char p[4096];
	snprintf(p, sizeof p, "%s/%s", dir, rel);
	struct stat sb;
	return stat(p, &sb) == 0;
}

/* a warm instance with a new directory for its lake (dir, n bytes: its
 * path, $TMPDIR/<name>XXXXXX) */
static void run_init(struct run *r, char *dir, size_t n, const char *name, size_t dedup_window)
{
	kl_test_mkdtemp(dir, n, name);
	memset(r, 0, sizeof *r);
	kl_buf_init(&r->out, 0);
	CHECK_EQ_INT(kl_lambda_app_init(&r->app, dedup_window), KL_OK);
}

static void test_batches(void)
{
	char dir[256];
	struct run r;
	run_init(&r, dir, sizeof dir, "kl-test-esm.", 1000);

	/* no lake: an invocation error, so that Lambda retries the batch */
	const char *one[] = {"{\"event_uuid\":\"u0\",\"event_name\":\"a:b\",\"created_at\":1764547200}"};
	char *ev = esm_event("shardId-000000000001", one, NULL, 1, 1, 0);
	CHECK(handle(&r, ev) != KL_OK);
	CHECK_EQ_STR(r.type, KL_LAMBDA_ERR_NOT_CONFIGURED);
	CHECK(strstr(r.eb.msg, "KINLAKE_LAKE") != NULL);
	free(ev);

	const char *vars[] = {"KINLAKE_LAKE", dir, "KINLAKE_FORMAT", "jsonl", NULL};
	struct kl_aws_env e = env_of(vars);
	const char *lake;
	CHECK_EQ_INT(kl_lambda_app_configure(&r.app, &e, &lake, &r.eb), KL_OK);
	CHECK_EQ_STR(lake, dir);

	/* valid events, a bad one, a duplicate within the batch, empty data */
	const char *d1[] = {"{\"event_uuid\":\"u1\",\"event_name\":\"a:b\",\"created_at\":1764547200}",
			    "{\"event_uuid\":\"u2\",\"event_name\":\"c\",\"created_at\":1764550800.25}",
			    "{not json",
			    "{\"event_uuid\":\"u1\",\"event_name\":\"a:b\",\"created_at\":1764547200}",
			    ""};
	ev = esm_event("shardId-000000000001", d1, NULL, 5, 100, 0);
	CHECK_EQ_INT(handle(&r, ev), KL_OK);
	CHECK_EQ_STR(r.out.data, "{\"batchItemFailures\":[]}");
	CHECK_EQ_INT(r.st.kind, KL_LAMBDA_KINESIS);
	CHECK_EQ_INT(r.st.esm.records, 5);
	CHECK_EQ_INT(r.st.esm.stored, 2);
	CHECK_EQ_INT(r.st.esm.dead, 2);
	CHECK_EQ_INT(r.st.esm.duplicates, 1);
	CHECK_EQ_INT(r.st.esm.files, 3);
	CHECK_EQ_INT(r.st.rec.failed, 0);
	CHECK_EQ_STR(r.st.esm.shard, "shardId-000000000001");
	CHECK(exists(dir, "events/event_type=a/event_subtype=b/dt=2025-12-01/hr=00/"
			  "shardId-000000000001-495900000000000000000100.jsonl.zst"));
	CHECK(exists(dir, "events/event_type=c/event_subtype=__HIVE_DEFAULT_PARTITION__/dt=2025-12-01/"
			  "hr=01/shardId-000000000001-495900000000000000000101.jsonl.zst"));
	/* dead letters: dated by the record's arrival (2025-12-02), not today */
	CHECK(exists(dir, "errors/invalid_json/dt=2025-12-02/shardId-000000000001-495900000000000000000102.jsonl.zst"));
	CHECK_EQ_INT(count_files(dir), 3); /* both dead letters are invalid_json: one file */
	CHECK(!exists(dir, "_kinlake/state"));

	/* the same batch again (a retry after a lost response): nothing new */
	CHECK_EQ_INT(handle(&r, ev), KL_OK);
	CHECK_EQ_STR(r.out.data, "{\"batchItemFailures\":[]}");
	CHECK_EQ_INT(r.st.esm.duplicates, 3);
	CHECK_EQ_INT(count_files(dir), 3); /* the dead letters are rewritten in place */
	free(ev);

	/* a KPL-aggregated record with two user records, and data that is not base64 */
	{
		/* built by hand: magic, AggregatedRecord{pk table ["k"], records
		 * [{pk 0, data D1}, {pk 0, data D2}]}, MD5 of the protobuf */
		const char *u3 = "{\"event_uuid\":\"u3\",\"event_name\":\"a:b\",\"created_at\":1764547201}";
		const char *u4 = "{\"event_uuid\":\"u4\",\"event_name\":\"a:b\",\"created_at\":1764547202}";
		unsigned char pb[512];
		size_t n = 0;
		pb[n++] = 0x0a, pb[n++] = 1, pb[n++] = 'k';
		const char *us[2] = {u3, u4};
		for (int i = 0; i < 2; i++) {
			size_t dl = strlen(us[i]);
			pb[n++] = 0x1a, pb[n++] = (unsigned char)(2 + 2 + dl);
			pb[n++] = 0x08, pb[n++] = 0;
			pb[n++] = 0x1a, pb[n++] = (unsigned char)dl;
			memcpy(pb + n, us[i], dl);
			n += dl;
		}
		unsigned char rec[600];
		memcpy(rec, KL_KPL_MAGIC, 4);
		memcpy(rec + 4, pb, n);
		CHECK(EVP_Digest(pb, n, rec + 4 + n, NULL, EVP_md5(), NULL) == 1);
		const char *d[] = {(const char *)rec, "{\"event_uuid\":\"u5\",\"event_name\":\"x\",\"created_at\":1}"};
		size_t len[] = {4 + n + 16, strlen(d[1])};
		ev = esm_event("shardId-000000000001", d, len, 2, 200, 0);
		CHECK_EQ_INT(handle(&r, ev), KL_OK);
		CHECK_EQ_STR(r.out.data, "{\"batchItemFailures\":[]}");
		CHECK_EQ_INT(r.st.esm.events, 3);
		CHECK_EQ_INT(r.st.esm.stored, 3);
		/* both user records in one file named after the aggregated record */
		CHECK(exists(dir, "events/event_type=a/event_subtype=b/dt=2025-12-01/hr=00/"
				  "shardId-000000000001-495900000000000000000200.jsonl.zst"));
		free(ev);
		const char *nb[] = {"bm90IGJhc2U2NC@@", "e30="};
		ev = esm_event("shardId-000000000001", nb, NULL, 2, 300, 1);
		CHECK_EQ_INT(handle(&r, ev), KL_OK);
		CHECK_EQ_STR(r.out.data, "{\"batchItemFailures\":[]}");
		CHECK_EQ_INT(r.st.esm.dead, 2); /* the field text as is; "{}" lacks fields */
		free(ev);
	}

	/* base64 with "\/" (valid JSON for '/'): decoded as '/' */
	{
		const char *q[] = {"{\"event_uuid\":\"w1\",\"event_name\":\"q\",\"created_at\":1,\"x\":\"???\"}"};
		ev = esm_event("shardId-000000000001", q, NULL, 1, 500, 0);
		struct kl_buf m;
		kl_buf_init(&m, 0);
		char *d = strstr(ev, "\"data\":\"") + 8, *end = strchr(d, '"');
		CHECK(memchr(d, '/', (size_t)(end - d)) != NULL);
		for (char *c = ev; *c; c++) {
			if (c >= d && c < end && *c == '/')
				kl_buf_putc(&m, '\\');
			kl_buf_putc(&m, *c);
		}
		kl_buf_putc(&m, '\0');
		CHECK_EQ_INT(handle(&r, m.data), KL_OK);
		CHECK_EQ_INT(r.st.esm.stored, 1);
		CHECK_EQ_INT(r.st.esm.dead, 0);
		kl_buf_cleanup(&m);
		free(ev);
	}

	/* an arrival time in whole seconds (a JSON integer) dates a dead letter
	 * as well: found by tests/e2e/paths_agree.sh, such records were dated
	 * by the clock instead */
	{
		const char *nj[] = {"{not json either"};
		ev = esm_event("shardId-000000000001", nj, NULL, 1, 600, 0);
		char *t = strstr(ev, "1764633600.5");
		CHECK(t != NULL);
		if (t)
			memcpy(t, "1764806400  ", 12); /* 2025-12-04T00:00:00Z */
		CHECK_EQ_INT(handle(&r, ev), KL_OK);
		CHECK_EQ_INT(r.st.esm.dead, 1);
		CHECK(exists(dir, "errors/invalid_json/dt=2025-12-04/"
				  "shardId-000000000001-495900000000000000000600.jsonl.zst"));
		free(ev);
	}

	/* invalid batches: invocation errors */
	ev = esm_event("shardId-000000000001", one, NULL, 1, 1, 0);
	char *p = strstr(ev, "\"eventID\"");
	memcpy(p, "\"eventXX\"", 9);
	CHECK(handle(&r, ev) != KL_OK);
	CHECK_EQ_STR(r.type, KL_LAMBDA_ERR_INVALID);
	free(ev);
	ev = esm_event("shard/../x", one, NULL, 1, 1, 0);
	CHECK(handle(&r, ev) != KL_OK);
	CHECK_EQ_STR(r.type, KL_LAMBDA_ERR_INVALID);
	free(ev);
	ev = esm_event("shardId-000000000001", one, NULL, 1, 1, 0);
	p = strstr(ev, "\"sequenceNumber\":\"4959");
	p[18] = 'x';
	CHECK(handle(&r, ev) != KL_OK);
	CHECK_EQ_STR(r.type, KL_LAMBDA_ERR_INVALID);
	free(ev);
	{
		char *a = esm_event("shardId-000000000001", one, NULL, 1, 1, 0);
		char *b = esm_event("shardId-000000000002", one, NULL, 1, 2, 0);
		struct kl_buf m;
		kl_buf_init(&m, 0);
		kl_buf_append(&m, a, strlen(a) - 2);
		kl_buf_putc(&m, ',');
		kl_buf_puts(&m, b + strlen("{\"Records\":["));
		kl_buf_putc(&m, '\0');
		CHECK(handle(&r, m.data) != KL_OK);
		CHECK_EQ_STR(r.type, KL_LAMBDA_ERR_INVALID);
		CHECK(strstr(r.eb.msg, "one shard") != NULL);
		free(a);
		free(b);
		kl_buf_cleanup(&m);
	}

	/* a store failure: errors/ is a file, so the dead letter cannot be written.
	 * Its file starts at record 1, but the durable a/b file (0..2) straddles
	 * it: everything is retried from record 0, and the window is forgotten. */
	char path[4096];
	snprintf(path, sizeof path, "%s/errors", dir);
	nftw(path, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	FILE *f = fopen(path, "w");
	CHECK(f != NULL);
	if (f)
		fclose(f);
	const char *d2[] = {"{\"event_uuid\":\"v1\",\"event_name\":\"a:b\",\"created_at\":1764547200}",
			    "[1]",
			    "{\"event_uuid\":\"v2\",\"event_name\":\"a:b\",\"created_at\":1764547200}",
			    "{\"event_uuid\":\"v3\",\"event_name\":\"z\",\"created_at\":1764547200}"};
	ev = esm_event("shardId-000000000001", d2, NULL, 4, 400, 0);
	CHECK_EQ_INT(handle(&r, ev), KL_OK);
	CHECK_EQ_STR(r.out.data, "{\"batchItemFailures\":[{\"itemIdentifier\":\"495900000000000000000400\"},"
				 "{\"itemIdentifier\":\"495900000000000000000401\"},"
				 "{\"itemIdentifier\":\"495900000000000000000402\"},"
				 "{\"itemIdentifier\":\"495900000000000000000403\"}]}");
	CHECK_EQ_INT(r.st.rec.failed, 4);
	CHECK(r.st.why.code != 0 && strstr(r.st.why.msg, "retrying from sequence number "
					   "495900000000000000000400 (4 of 4 records)") != NULL);
	CHECK(strstr(r.st.why.msg, "errors") != NULL);
	/* the a/b file was written before the failure, z's after it was not */
	const char *ab = "events/event_type=a/event_subtype=b/dt=2025-12-01/hr=00/"
			 "shardId-000000000001-495900000000000000000400.jsonl.zst";
	const char *z = "events/event_type=z/event_subtype=__HIVE_DEFAULT_PARTITION__/dt=2025-12-01/"
			"hr=00/shardId-000000000001-495900000000000000000403.jsonl.zst";
	CHECK(exists(dir, ab));
	CHECK(!exists(dir, z));
	CHECK_EQ_INT(count_files(dir), 7); /* 6 data files and the "errors" file */
	/* the retry, with the store repaired: the same names, nothing duplicated,
	 * nothing dropped as a duplicate of the failed attempt */
	remove(path);
	CHECK_EQ_INT(handle(&r, ev), KL_OK);
	CHECK_EQ_STR(r.out.data, "{\"batchItemFailures\":[]}");
	CHECK_EQ_INT(r.st.esm.stored, 3);
	CHECK_EQ_INT(r.st.esm.duplicates, 0);
	CHECK(exists(dir, ab) && exists(dir, z));
	CHECK(exists(dir, "errors/not_object/dt=2025-12-02/shardId-000000000001-495900000000000000000401.jsonl.zst"));
	CHECK_EQ_INT(count_files(dir), 8);
	free(ev);

	kl_buf_cleanup(&r.out);
	kl_lambda_app_cleanup(&r.app);
	if (getenv("KL_KEEP"))
		return;
	nftw(dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

/* The event is checked as JSON in the pass that reads its records (esm.c):
 * a text kl_json_parse rejects is answered as not JSON, and no other
 * error, before anything is written, wherever the fault sits; a valid one
 * is landed. */
static int not_json(const struct run *r, int rc)
{
	return rc != KL_OK && r->type && !strcmp(r->type, KL_LAMBDA_ERR_INVALID) &&
	       strstr(r->eb.msg, "not valid JSON") != NULL;
}

static void test_one_pass(void)
{
	char dir[256];
	struct run r;
	run_init(&r, dir, sizeof dir, "kl-test-esm1.", 0);
	/* two threads: the batch goes through the prep workers' chunks */
	const char *vars[] = {"KINLAKE_LAKE", dir, "KINLAKE_FORMAT", "jsonl", "KINLAKE_THREADS", "2",
			      NULL};
	struct kl_aws_env e = env_of(vars);
	const char *lake;
	CHECK_EQ_INT(kl_lambda_app_configure(&r.app, &e, &lake, &r.eb), KL_OK);

	/* a data field with a JSON escape ("\u0065" for its first 'e') is
	 * undone before the base64 is decoded: the event lands */
	const char *one = "{\"event_uuid\":\"u1\",\"event_name\":\"a:b\",\"created_at\":1764547200}";
	struct kl_buf b64;
	kl_buf_init(&b64, 0);
	kl_buf_puts(&b64, "\\u0065");
	kl_base64_encode(&b64, one, strlen(one));
	CHECK(b64.data[6] == 'e');
	memmove(b64.data + 6, b64.data + 7, b64.len - 7);
	b64.data[b64.len - 1] = '\0';
	const char *raw[] = {b64.data};
	char *ev = esm_event("shardId-000000000001", raw, NULL, 1, 1, 1);
	CHECK_EQ_INT(handle(&r, ev), KL_OK);
	CHECK_EQ_INT(r.st.esm.stored, 1);
	free(ev);
	kl_buf_cleanup(&b64);

	/* a batch of empty data fields: a prep chunk with no bytes at all
	 * (kl_prep_raw). fuzz_lambda found the arithmetic on its NULL block:
	 * clang's UBSan flags it, gcc's (this build) does not, so the seed
	 * fuzz/corpus/lambda/esm-empty-data.json is the regression test; this
	 * runs the path */
	const char *empty[] = {"", ""};
	ev = esm_event("shardId-000000000004", empty, NULL, 2, 20, 1);
	CHECK_EQ_INT(handle(&r, ev), KL_OK);
	CHECK_EQ_INT(r.st.esm.records, 2);
	CHECK_EQ_STR(r.out.data, "{\"batchItemFailures\":[]}");
	free(ev);

	/* the first member of a name counts, a null one too (KL_JSON_NULL is
	 * type 0): a string after it does not stand in */
	struct {
		const char *from, *to, *msg;
	} firsts[] = {
	    {"\"sequenceNumber\":\"", "\"sequenceNumber\":null,\"sequenceNumber\":\"", "sequenceNumber"},
	    {"\"data\":\"", "\"data\":null,\"data\":\"", "kinesis.data string"},
	    {"\"eventID\":\"", "\"eventID\":null,\"eventID\":\"", "eventID"},
	};
	for (size_t i = 0; i < sizeof firsts / sizeof *firsts; i++) {
		char *base = esm_event("shardId-000000000003", &one, NULL, 1, 9, 0);
		const char *at = strstr(base, firsts[i].from);
		CHECK(at != NULL);
		struct kl_buf t;
		kl_buf_init(&t, 0);
		kl_buf_append(&t, base, (size_t)(at - base));
		kl_buf_puts(&t, firsts[i].to);
		kl_buf_puts(&t, at + strlen(firsts[i].from));
		kl_buf_putc(&t, '\0');
		CHECK(handle(&r, t.data) != KL_OK);
		CHECK(r.type && !strcmp(r.type, KL_LAMBDA_ERR_INVALID));
		if (!strstr(r.eb.msg, firsts[i].msg))
			fprintf(stderr, "%s: %s\n", firsts[i].to, r.eb.msg);
		CHECK(strstr(r.eb.msg, firsts[i].msg) != NULL);
		kl_buf_cleanup(&t);
		free(base);
	}

	/* every byte of a batch replaced in turn by each of these */
	const char *two[] = {one, "{\"event_uuid\":\"u2\",\"event_name\":\"a:c\",\"created_at\":1764547201}"};
	char *base = esm_event("shardId-000000000002", two, NULL, 2, 7, 0);
	size_t n = strlen(base);
	/* and a member after Records, which the walk checks too */
	const char *tail = ",\"x\":[1,\"s\",{\"a\":null}]}";
	ev = malloc(n + strlen(tail));
	CHECK(ev != NULL);
	if (!ev)
		return;
	memcpy(ev, base, n - 1);
	strcpy(ev + n - 1, tail);
	n = strlen(ev);
	free(base);
	const char subst[] = {'"', '\\', ']', 'x', '\x01', '\xff'};
	size_t tried = 0, agree = 0, invalid = 0, wrote = 0;
	for (size_t at = 0; at < n; at++) {
		for (size_t k = 0; k < sizeof subst; k++) {
			if (ev[at] == subst[k])
				continue;
			char keep = ev[at];
			ev[at] = subst[k];
			int valid = kl_json_parse(ev, n, 64, NULL, NULL) == 0;
			int files = valid ? 0 : count_files(dir);
			int rc = handle(&r, ev);
			tried++;
			invalid += !valid;
			if (!valid && count_files(dir) != files)
				wrote++;
			if (valid == !not_json(&r, rc))
				agree++;
			else
				fprintf(stderr, "byte %zu -> 0x%02x: kl_json_parse %s, handler %d %s %s\n", at,
					(unsigned char)subst[k], valid ? "accepts" : "rejects", rc,
					r.type ? r.type : "-", r.eb.msg);
			ev[at] = keep;
		}
	}
	fprintf(stderr, "one_pass: %zu texts, %zu of them not JSON\n", tried, invalid);
	CHECK_EQ_INT(agree, (long long)tried);
	CHECK_EQ_INT(wrote, 0);
	CHECK(invalid > tried / 4);
	free(ev);
	kl_buf_cleanup(&r.out);
	kl_lambda_app_cleanup(&r.app);
	nftw(dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

int main(void)
{
	test_config();
	test_retry_from();
	test_batches();
	test_one_pass();
	return check_report("test_esm");
}
