/* test_opts.c — config/opts (the option engine) and config/ingest_cfg (the
 * table `kinlake ingest` and the Lambda share): defaults, choices mapped by
 * name, empty values, repeated flags, overflow, the same message for the
 * same bad value from a flag and from its KINLAKE_* variable, and which
 * variables `kinlake ingest` and the Lambda each read. */
#include "aws/kinesis.h"
#include "check.h"
#include "config/ingest_cfg.h"
#include "config/opts.h"
#include "store/store_url.h"

#include <ctype.h>
#include <stddef.h>

static const char *const *fake_vars;
static const char *fake_get(void *ctx, const char *name)
{
	(void)ctx;
	for (const char *const *v = fake_vars; v && *v; v += 2)
		if (!strcmp(v[0], name))
			return v[1];
	return NULL;
}

/* Parse argv (NULL-terminated) into a fresh ingest config; eb gets the message. */
static int argv_parse(struct kl_ingest_cfg *c, struct kl_opts *p, struct kl_errbuf *eb,
		      const char **args)
{
	int n = 0;
	while (args[n])
		n++;
	memset(c, 0, sizeof *c);
	kl_errbuf_clear(eb);
	int rc = kl_opts_init(p, kl_ingest_cfg_table, kl_ingest_cfg_count, c, eb);
	return rc ? rc : kl_opts_argv(p, n, (char **)args, eb);
}

/* The Lambda's view: its variables only, named as variables */
static int env_parse(struct kl_ingest_cfg *c, struct kl_opts *p, struct kl_errbuf *eb,
		     const char *const *vars)
{
	memset(c, 0, sizeof *c);
	kl_errbuf_clear(eb);
	fake_vars = vars;
	struct kl_aws_env env = {fake_get, NULL};
	int rc = kl_opts_init(p, kl_ingest_cfg_table, kl_ingest_cfg_count, c, eb);
	p->env_style = 1;
	p->scope = KL_INGEST_CFG_LAMBDA;
	return rc ? rc : kl_opts_env(p, &env, eb);
}

/* `kinlake ingest`'s view: flags, then every variable (a flag wins) */
static int cli_parse(struct kl_ingest_cfg *c, struct kl_opts *p, struct kl_errbuf *eb,
		     const char **args, const char *const *vars)
{
	int rc = argv_parse(c, p, eb, args);
	fake_vars = vars;
	struct kl_aws_env env = {fake_get, NULL};
	return rc ? rc : kl_opts_env(p, &env, eb);
}

#define ARGV(...) ((const char *[]){__VA_ARGS__, NULL})
#define VARS(...) ((const char *const[]){__VA_ARGS__, NULL})

static void test_defaults_and_choices(void)
{
	struct kl_ingest_cfg c;
	struct kl_opts p;
	struct kl_errbuf eb;
	CHECK_EQ_INT(argv_parse(&c, &p, &eb, ARGV("--lake", "/l")), KL_OK);
	CHECK_EQ_INT(c.format, KL_FORMAT_PARQUET); /* by name: parquet is not index 0 of the enum */
	CHECK_EQ_INT(c.compression, KL_COMP_ZSTD);
	CHECK_EQ_INT(c.max_file_bytes, 128u << 20);
	CHECK_EQ_INT(c.flush_interval_ms, 300000);
	CHECK_EQ_INT(c.sse, KL_SSE_NONE);
	CHECK_EQ_INT(kl_opts_from(&p, offsetof(struct kl_ingest_cfg, lake)), KL_OPT_FROM_FLAG);
	CHECK_EQ_INT(kl_opts_from(&p, offsetof(struct kl_ingest_cfg, format)), KL_OPT_DEFAULT);
	CHECK_EQ_INT(argv_parse(&c, &p, &eb,
				ARGV("--format=jsonl", "--compression", "none", "--sse", "AES256",
				     "--flush-interval", "1.5m")),
		     KL_OK);
	CHECK_EQ_INT(c.format, KL_FORMAT_JSONL);
	CHECK_EQ_INT(c.compression, KL_COMP_NONE);
	CHECK_EQ_INT(c.sse, KL_SSE_AES256);
	CHECK_EQ_INT(c.flush_interval_ms, 90000);
	CHECK_EQ_INT(argv_parse(&c, &p, &eb, ARGV("--compression", "snappy")), KL_OK);
	CHECK_EQ_INT(c.compression, KL_COMP_SNAPPY);
	CHECK_EQ_INT(argv_parse(&c, &p, &eb, ARGV("--help")), KL_OPTS_HELP);
}

static void test_bad_flags(void)
{
	struct kl_ingest_cfg c;
	struct kl_opts p;
	struct kl_errbuf eb;
#define BAD(want, ...)                                                                             \
	do {                                                                                       \
		CHECK_EQ_INT(argv_parse(&c, &p, &eb, ARGV(__VA_ARGS__)), KL_EINVAL);               \
		CHECK_EQ_STR(eb.msg, want);                                                        \
	} while (0)
	BAD("--lake needs a non-empty value (DIR|s3://B/P)", "--lake", "");
	BAD("--stream needs a non-empty value (NAME|ARN)", "--stream=");
	BAD("--max-depth needs a non-empty value (N)", "--max-depth", "");
	BAD("--input is given twice ('a', then 'b'): give it once", "--input", "a", "--input", "b");
	BAD("--quiet is given twice", "--quiet", "--quiet");
	BAD("--quiet takes no value", "--quiet=1");
	BAD("--memory-limit needs a value (SIZE)", "--memory-limit");
	BAD("unknown option '--colour' (see --help)", "--colour");
	BAD("unexpected argument 'x' (options start with --)", "x");
	BAD("--max-file-bytes: '99999999999GiB' is too large (at most 1000000000000 bytes)",
	    "--max-file-bytes", "99999999999GiB");
	BAD("--max-file-bytes: '2TB' is not a size (examples: 4096, 64KiB, 128MiB, 1GiB)",
	    "--max-file-bytes", "2TB");
	BAD("--max-file-bytes: '10' is too small (at least 1024 bytes)", "--max-file-bytes", "10");
	BAD("--compression-level: '99999999999999999999' is too large (at most 22)",
	    "--compression-level", "99999999999999999999");
	BAD("--compression-level: '23' is not an integer in [0, 22]", "--compression-level", "23");
	BAD("--dedup-window: '-1' is not an integer in [0, 1073741824]", "--dedup-window", "-1");
	BAD("--flush-interval: '1e300' is out of range [0, 86400] seconds", "--flush-interval",
	    "1e300");
	BAD("--flush-interval: '5d' is not a duration (seconds, or 500ms, 5m, 1h)",
	    "--flush-interval", "5d");
	BAD("--format: 'csv' is not one of parquet|jsonl", "--format", "csv");
	BAD("--sse: 'yes' is not one of aws:kms|AES256", "--sse", "yes");
	BAD("--start: use trim-horizon, latest or at-timestamp:UNIX (seconds, e.g. "
	    "at-timestamp:1764547200)",
	    "--start", "soon");
	/* the seconds go into a request as a JSON number: nothing else gets there */
	BAD("--start: use trim-horizon, latest or at-timestamp:UNIX (seconds, e.g. "
	    "at-timestamp:1764547200)",
	    "--start", "at-timestamp:1,\"StreamName\":\"other\"");
	BAD("--start: use trim-horizon, latest or at-timestamp:UNIX (seconds, e.g. "
	    "at-timestamp:1764547200)",
	    "--start", "at-timestamp:");
	BAD("--lake: 'B_ad' is not a valid S3 bucket name (3 to 63 characters: a-z, 0-9, '.', '-')",
	    "--lake", "s3://B_ad/x");
	BAD("--lake: 'S3://' is not a lake URL kinlake takes: give s3://bucket/prefix (lowercase "
	    "s3) or a directory",
	    "--lake", "S3://bkt/x");
	/* a directory path that names a file or goes through one */
	BAD("--lake: '/dev/null' is not a directory (a file is there): give a directory (made "
	    "if missing) or s3://bucket/prefix",
	    "--lake", "/dev/null");
	BAD("--lake: '/dev/null/lake' is not a directory (a part of the path is a file): give a "
	    "directory (made if missing) or s3://bucket/prefix",
	    "--lake", "/dev/null/lake");
	BAD("--lake: 'file://' is not a lake URL kinlake takes: give s3://bucket/prefix "
	    "(lowercase s3) or a directory",
	    "--lake", "file:///tmp/lake");
	BAD("--lake: the prefix of 's3://bkt/a//b' has an empty, '.' or '..' part: give "
	    "s3://bucket/a/b",
	    "--lake", "s3://bkt/a//b");
	BAD("--lake: the prefix of 's3://bkt/../b' has an empty, '.' or '..' part: give "
	    "s3://bucket/a/b",
	    "--lake", "s3://bkt/../b");
#undef BAD
}

/* Every entry with a variable: a bad value gives the flag's message with the
 * variable's name. */
static void test_flag_env_parity(void)
{
	static const struct {
		const char *flag, *env, *value;
	} cases[] = {{"format", "KINLAKE_FORMAT", "csv"},
		     {"compression", "KINLAKE_COMPRESSION", "lz4"},
		     {"compression-level", "KINLAKE_COMPRESSION_LEVEL", "99"},
		     {"max-record-bytes", "KINLAKE_MAX_RECORD_BYTES", "99999999999GiB"},
		     {"max-record-bytes", "KINLAKE_MAX_RECORD_BYTES", "12XB"},
		     {"max-depth", "KINLAKE_MAX_DEPTH", "0"},
		     {"sse", "KINLAKE_SSE", "rot13"},
		     {"threads", "KINLAKE_THREADS", "-1"},
		     {"threads", "KINLAKE_THREADS", "257"},
		     {"threads", "KINLAKE_THREADS", "two"},
		     {"lake", "KINLAKE_LAKE", "s3://x"}};
	int seen_env = 0;
	for (size_t i = 0; i < kl_ingest_cfg_count; i++)
		seen_env += kl_ingest_cfg_table[i].env != NULL;
	CHECK(seen_env >= 8);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct kl_ingest_cfg c;
		struct kl_opts p;
		struct kl_errbuf ef, ee;
		char flag[64];
		snprintf(flag, sizeof flag, "--%s", cases[i].flag);
		CHECK_EQ_INT(argv_parse(&c, &p, &ef, ARGV(flag, cases[i].value)), KL_EINVAL);
		const char *vars[] = {cases[i].env, cases[i].value, NULL};
		CHECK_EQ_INT(env_parse(&c, &p, &ee, vars), KL_EINVAL);
		/* same text after the name */
		CHECK(strncmp(ef.msg, flag, strlen(flag)) == 0);
		CHECK(strncmp(ee.msg, cases[i].env, strlen(cases[i].env)) == 0);
		CHECK_EQ_STR(ef.msg + strlen(flag), ee.msg + strlen(cases[i].env));
	}
	/* an empty variable is unset; a flag-only setting has no variable */
	struct kl_ingest_cfg c;
	struct kl_opts p;
	struct kl_errbuf eb;
	CHECK_EQ_INT(env_parse(&c, &p, &eb,
			       VARS("KINLAKE_FORMAT", "", "KINLAKE_INPUT", "x",
				    "KINLAKE_MAX_FILE_BYTES", "1")),
		     KL_OK);
	CHECK_EQ_INT(c.format, KL_FORMAT_PARQUET);
	CHECK(c.input == NULL);
	CHECK_EQ_INT(c.max_file_bytes, 128u << 20);
	/* --threads / KINLAKE_THREADS: 0 (the default) means the CPUs the process may use */
	CHECK_EQ_INT(c.threads, 0);
	struct kl_ingest_opts io;
	kl_ingest_opts_default(&io);
	kl_ingest_cfg_apply(&c, &io, 5); /* 0: the CPUs the caller counted */
	CHECK_EQ_INT(io.threads, 5);
	CHECK_EQ_INT(env_parse(&c, &p, &eb, VARS("KINLAKE_THREADS", "3")), KL_OK);
	kl_ingest_cfg_apply(&c, &io, 5);
	CHECK_EQ_INT(io.threads, 3);
	CHECK_EQ_INT(argv_parse(&c, &p, &eb, ARGV("--threads", "1")), KL_OK);
	kl_ingest_cfg_apply(&c, &io, 5);
	CHECK_EQ_INT(io.threads, 1);
}

/* Rules between settings, named as the user gave them. */
static void test_check(void)
{
	struct kl_ingest_cfg c;
	struct kl_opts p;
	struct kl_errbuf eb;
	fake_vars = VARS("HOME", "/x");
	struct kl_aws_env none = {fake_get, NULL};
	CHECK_EQ_INT(argv_parse(&c, &p, &eb, ARGV("--format", "jsonl", "--compression", "snappy")),
		     KL_OK);
	CHECK_EQ_INT(kl_ingest_cfg_check(&p, &none, &eb), KL_EINVAL);
	CHECK_EQ_STR(eb.msg, "--compression snappy is only available with --format parquet");
	CHECK_EQ_INT(env_parse(&c, &p, &eb,
			       VARS("KINLAKE_FORMAT", "jsonl", "KINLAKE_COMPRESSION", "snappy")),
		     KL_OK);
	fake_vars = VARS("HOME", "/x");
	kl_errbuf_clear(&eb);
	CHECK_EQ_INT(kl_ingest_cfg_check(&p, &none, &eb), KL_EINVAL);
	CHECK_EQ_STR(eb.msg,
		     "KINLAKE_COMPRESSION=snappy is only available with KINLAKE_FORMAT=parquet");
	CHECK_EQ_INT(argv_parse(&c, &p, &eb, ARGV("--sse-kms-key-id", "k", "--lake", "s3://bkt")),
		     KL_OK);
	CHECK_EQ_INT(kl_ingest_cfg_check(&p, &none, &eb), KL_EINVAL);
	CHECK_EQ_STR(eb.msg, "--sse-kms-key-id needs --sse aws:kms");
	CHECK_EQ_INT(argv_parse(&c, &p, &eb, ARGV("--sse", "AES256", "--lake", "/l")), KL_OK);
	CHECK_EQ_INT(kl_ingest_cfg_check(&p, &none, &eb), KL_EINVAL);
	CHECK_EQ_STR(eb.msg, "--sse is for a lake on S3, but --lake is a directory");
	CHECK_EQ_INT(argv_parse(&c, &p, &eb, ARGV("--lake", "s3://bkt/p")), KL_OK);
	CHECK_EQ_INT(kl_ingest_cfg_check(&p, &none, &eb), KL_EINVAL);
	CHECK_EQ_STR(eb.msg,
		     "--lake is on S3 but no region is set: set AWS_REGION or pass --region");
	CHECK_EQ_INT(argv_parse(&c, &p, &eb, ARGV("--lake", "s3://bkt/p", "--region", "eu-west-1")),
		     KL_OK);
	CHECK_EQ_INT(kl_ingest_cfg_check(&p, &none, &eb), KL_OK);
	/* a lease renewed no more often than it times out */
	CHECK_EQ_INT(argv_parse(&c, &p, &eb,
				ARGV("--stream", "s", "--lease-table", "t", "--lease-renew-interval", "4",
				     "--lease-timeout", "4")),
		     KL_OK);
	CHECK_EQ_INT(kl_ingest_cfg_check(&p, &none, &eb), KL_EINVAL);
	CHECK_EQ_STR(eb.msg, "--lease-renew-interval must be shorter than --lease-timeout");
	CHECK_EQ_INT(argv_parse(&c, &p, &eb,
				ARGV("--stream", "s", "--lease-table", "t", "--lease-renew-interval", "3",
				     "--lease-timeout", "4")),
		     KL_OK);
	CHECK_EQ_INT(kl_ingest_cfg_check(&p, &none, &eb), KL_OK);

	/* applied to the pipeline: snappy (the encoders keep zstd for dead letters) */
	CHECK_EQ_INT(argv_parse(&c, &p, &eb, ARGV("--compression", "snappy", "--max-depth", "7")),
		     KL_OK);
	struct kl_ingest_opts o;
	kl_ingest_opts_default(&o);
	kl_ingest_cfg_apply(&c, &o, 2);
	CHECK_EQ_INT(o.format, KL_FORMAT_PARQUET);
	CHECK_EQ_INT(o.compression, KL_COMP_SNAPPY);
	CHECK_EQ_INT(o.limits.max_depth, 7);

	/* applied to the store: the S3 settings, by flag and by variable */
	struct kl_store_url_opts so;
	CHECK_EQ_INT(argv_parse(&c, &p, &eb, ARGV("--lake", "s3://bkt/p")), KL_OK);
	kl_ingest_cfg_store(&c, &none, NULL, &so);
	CHECK_EQ_INT(so.concurrency, 4);
	CHECK_EQ_INT(so.multipart_threshold, 16u << 20);
	CHECK_EQ_INT(argv_parse(&c, &p, &eb,
				ARGV("--s3-concurrency", "16", "--multipart-threshold", "6MiB")),
		     KL_OK);
	kl_ingest_cfg_store(&c, &none, NULL, &so);
	CHECK_EQ_INT(so.concurrency, 16);
	CHECK_EQ_INT(so.multipart_threshold, 6u << 20);
	CHECK_EQ_INT(env_parse(&c, &p, &eb, VARS("KINLAKE_S3_CONCURRENCY", "2")), KL_OK);
	kl_ingest_cfg_store(&c, &none, NULL, &so);
	CHECK_EQ_INT(so.concurrency, 2);
	CHECK_EQ_INT(argv_parse(&c, &p, &eb, ARGV("--s3-concurrency", "65")), KL_EINVAL);
	CHECK_EQ_STR(eb.msg, "--s3-concurrency: '65' is not an integer in [1, 64]");
}

static void test_parsers(void)
{
	size_t s;
	int64_t ms;
	CHECK(kl_parse_size("1GiB", &s) == 0 && s == 1u << 30);
	CHECK(kl_parse_size("1.5KiB", &s) == 0 && s == 1536);
	CHECK_EQ_INT(kl_parse_size("99999999999GiB", &s), -2);
	CHECK_EQ_INT(kl_parse_size("1e400", &s), -2);
	CHECK_EQ_INT(kl_parse_size("0x10", &s), -1);
	CHECK_EQ_INT(kl_parse_size(" 5", &s), -1);
	CHECK_EQ_INT(kl_parse_size("inf", &s), -1);
	CHECK_EQ_INT(kl_parse_size("", &s), -1);
	CHECK(kl_parse_ms("500ms", &ms) == 0 && ms == 500);
	CHECK(kl_parse_ms("2h", &ms) == 0 && ms == 7200000);
	CHECK(kl_parse_ms("0.5", &ms) == 0 && ms == 500);
	CHECK_EQ_INT(kl_parse_ms("1e300", &ms), -2);
	CHECK_EQ_INT(kl_parse_ms("-1", &ms), -1);
}

/* Every setting with a value is also KINLAKE_ + its name in capitals ('-'
 * as '_'), as `kinlake ingest --help` says; `kinlake ingest` reads them all
 * with a flag winning, the Lambda only its own. */
static void test_cli_env(void)
{
	for (size_t i = 0; i < kl_ingest_cfg_count; i++) {
		const struct kl_opt *o = &kl_ingest_cfg_table[i];
		char want[64];
		int n = snprintf(want, sizeof want, "KINLAKE_%s", o->name);
		for (int k = 8; k < n; k++)
			want[k] = want[k] == '-' ? '_' : (char)toupper((unsigned char)want[k]);
		if (o->type == KL_OPT_FLAG)
			CHECK(o->env == NULL && o->scope == 0);
		else if (!o->env || strcmp(o->env, want))
			CHECK_EQ_STR(o->env ? o->env : "(none)", want);
	}
	struct kl_ingest_cfg c;
	struct kl_opts p;
	struct kl_errbuf eb;
	fake_vars = VARS("HOME", "/x");
	struct kl_aws_env none = {fake_get, NULL};
	CHECK_EQ_INT(cli_parse(&c, &p, &eb, ARGV("--format", "jsonl"),
			       VARS("KINLAKE_FORMAT", "parquet", "KINLAKE_INPUT", "in.jsonl",
				    "KINLAKE_MAX_FILE_BYTES", "1MiB", "KINLAKE_LAKE", "/l")),
		     KL_OK);
	CHECK_EQ_INT(c.format, KL_FORMAT_JSONL); /* the flag */
	CHECK_EQ_STR(c.input, "in.jsonl");
	CHECK_EQ_STR(c.lake, "/l");
	CHECK_EQ_INT(c.max_file_bytes, 1u << 20);
	CHECK_EQ_INT(kl_opts_from(&p, offsetof(struct kl_ingest_cfg, format)), KL_OPT_FROM_FLAG);
	CHECK_EQ_INT(kl_opts_from(&p, offsetof(struct kl_ingest_cfg, input)), KL_OPT_FROM_ENV);
	/* a bad value from a variable the Lambda does not read */
	CHECK_EQ_INT(cli_parse(&c, &p, &eb, ARGV("--input", "x"),
			       VARS("KINLAKE_MEMORY_LIMIT", "lots")),
		     KL_EINVAL);
	CHECK(strncmp(eb.msg, "KINLAKE_MEMORY_LIMIT: ", 22) == 0);
	/* ... which the flag overrides */
	CHECK_EQ_INT(cli_parse(&c, &p, &eb, ARGV("--memory-limit", "64MiB"),
			       VARS("KINLAKE_MEMORY_LIMIT", "lots")),
		     KL_OK);
	CHECK_EQ_INT(c.memory_limit, 64u << 20);
	/* rules between settings name each one as it was given */
	CHECK_EQ_INT(cli_parse(&c, &p, &eb, ARGV("--input", "x"),
			       VARS("KINLAKE_START", "latest", "KINLAKE_LAKE", "/l")),
		     KL_OK);
	fake_vars = VARS("HOME", "/x");
	CHECK_EQ_INT(kl_ingest_cfg_check(&p, &none, &eb), KL_EINVAL);
	CHECK_EQ_STR(eb.msg, "KINLAKE_START needs --stream");
	/* the Lambda reads none of these */
	CHECK_EQ_INT(env_parse(&c, &p, &eb,
			       VARS("KINLAKE_MEMORY_LIMIT", "lots", "KINLAKE_START", "latest",
				    "KINLAKE_STREAM", "s")),
		     KL_OK);
	CHECK(c.stream == NULL);
	CHECK_EQ_INT(c.memory_limit, 256u << 20);
}

/* --stream: a stream name or a stream ARN, checked before any request */
static void test_stream_values(void)
{
	static const char *const good[] = {
	    "events", "a", "my-stream_1.v2",
	    "arn:aws:kinesis:us-east-1:123456789012:stream/events",
	    "arn:aws-cn:kinesis:cn-north-1:123456789012:stream/e.v-1_x",
	    "arn:aws-us-gov:kinesis:us-gov-west-1:123456789012:stream/e"};
	static const char *const bad[] = {
	    "bad name!", "a/b", "events:1",
	    "arn:aws:kinesis:us-east-1:123456789012:stream/",
	    "arn:aws:kinesis:us-east-1:12345:stream/events",
	    "arn:aws:s3:::bucket", "arn:aws:kinesis:us-east-1:123456789012:events",
	    "arn:aws:kinesis::123456789012:stream/events",
	    "arn:aws:kinesis:us-east-1:123456789012:stream/a b"};
	struct kl_ingest_cfg c;
	struct kl_opts p;
	struct kl_errbuf eb;
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
		CHECK_EQ_INT(argv_parse(&c, &p, &eb, ARGV("--stream", good[i])), KL_OK);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		CHECK_EQ_INT(argv_parse(&c, &p, &eb, ARGV("--stream", bad[i])), KL_EINVAL);
		CHECK(strncmp(eb.msg, "--stream: ", 10) == 0);
	}
	char name[200];
	memset(name, 'x', 129);
	name[129] = '\0';
	CHECK_EQ_INT(argv_parse(&c, &p, &eb, ARGV("--stream", name)), KL_EINVAL);
	name[128] = '\0';
	CHECK_EQ_INT(argv_parse(&c, &p, &eb, ARGV("--stream", name)), KL_OK);
	CHECK_EQ_STR(kl_kinesis_stream_name("arn:aws:kinesis:eu-west-1:123456789012:stream/ev"), "ev");
	CHECK_EQ_STR(kl_kinesis_stream_name("ev"), "ev");
}

static void test_help(void)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	kl_opts_env_help(f, kl_ingest_cfg_table, kl_ingest_cfg_count, KL_INGEST_CFG_LAMBDA);
	fclose(f);
	CHECK(strstr(text, "KINLAKE_FORMAT") && strstr(text, "parquet|jsonl"));
	CHECK(strstr(text, "KINLAKE_INPUT") == NULL);
	free(text);
	f = open_memstream(&text, &len);
	kl_opts_env_help(f, kl_ingest_cfg_table, kl_ingest_cfg_count, 0);
	fclose(f);
	CHECK(strstr(text, "KINLAKE_INPUT") && strstr(text, "KINLAKE_FORMAT"));
	free(text);
	f = open_memstream(&text, &len);
	kl_opts_help(f, kl_ingest_cfg_table, kl_ingest_cfg_count);
	fclose(f);
	CHECK(strstr(text, "--max-file-bytes SIZE") && strstr(text, "[default: 128MiB]"));
	free(text);
}

/* the entry of option NAME (p->n if none) */
static size_t entry(const struct kl_opts *p, const char *name)
{
	size_t i = 0;
	while (i < p->n && strcmp(p->t[i].name, name))
		i++;
	return i;
}

/* the value of option NAME as --dry-run writes it, and where it came from */
static const char *fmt(const struct kl_opts *p, const char *name, char *buf, size_t cap)
{
	size_t i = entry(p, name);
	return i == p->n ? "(no such option)"
	       : kl_opts_format(p, i, buf, cap) >= 0 ? buf
						     : "(does not fit)";
}

static const char *from(const struct kl_opts *p, const char *name)
{
	size_t i = entry(p, name);
	return i == p->n ? "(no such option)" : kl_opts_from_word(p, i);
}

/* kl_opts_format: what --dry-run prints, each type written so that it
 * parses back to the same value, and where each value came from */
static void test_format(void)
{
	struct kl_ingest_cfg c;
	struct kl_opts p;
	struct kl_errbuf eb;
	char b[128];
	const char *vars[] = {"KINLAKE_FORMAT", "jsonl", "KINLAKE_DEDUP_WINDOW", "5000", NULL};
	CHECK_EQ_INT(cli_parse(&c, &p, &eb,
			       ARGV("--input", "in.jsonl", "--lake", "l", "--memory-limit", "1.5GiB",
				    "--max-file-bytes", "4097", "--flush-interval", "90",
				    "--allowed-lateness", "1500ms", "--exit-idle", "2h", "--quiet"),
			       vars),
		     KL_OK);
	static const struct {
		const char *name, *text, *from; /* from: NULL, not checked */
	} want[] = {
	    {"input", "in.jsonl", "flag"},
	    {"memory-limit", "1536MiB", "flag"},
	    {"max-file-bytes", "4097", NULL},
	    {"row-group-bytes", "128MiB", "default"},
	    {"flush-interval", "90s", NULL},
	    {"allowed-lateness", "1500ms", NULL},
	    {"exit-idle", "2h", NULL},
	    {"list-shards-timeout", "5m", "default"},
	    {"format", "jsonl", "env"},
	    {"dedup-window", "5000", "env"},
	    {"quiet", "on", "flag"},
	    {"no-progress", "off", "unset"},
	    {"stream", "", "unset"},
	    {"sse", "", "unset"}, /* no choice made */
	};
	for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
		CHECK_EQ_STR(fmt(&p, want[i].name, b, sizeof b), want[i].text);
		if (want[i].from)
			CHECK_EQ_STR(from(&p, want[i].name), want[i].from);
	}
	CHECK_EQ_STR(fmt(&p, "memory-limit", b, 4), "(does not fit)");

	/* every value written back parses to the same config */
	struct kl_ingest_cfg c2;
	struct kl_opts p2;
	const char *args[] = {"--input=in.jsonl", "--lake=l", "--memory-limit=1536MiB",
			      "--max-file-bytes=4097", "--flush-interval=90s",
			      "--allowed-lateness=1500ms", "--exit-idle=2h", "--format=jsonl",
			      "--dedup-window=5000", "--quiet", NULL};
	CHECK_EQ_INT(argv_parse(&c2, &p2, &eb, args), KL_OK);
	CHECK(c2.memory_limit == c.memory_limit && c2.max_file_bytes == c.max_file_bytes &&
	      c2.flush_interval_ms == c.flush_interval_ms &&
	      c2.allowed_lateness_ms == c.allowed_lateness_ms && c2.exit_idle_ms == c.exit_idle_ms &&
	      c2.format == c.format && c2.dedup_window == c.dedup_window && c2.quiet == c.quiet);
}

int main(void)
{
	test_format();
	test_defaults_and_choices();
	test_bad_flags();
	test_flag_env_parity();
	test_check();
	test_parsers();
	test_cli_env();
	test_stream_values();
	test_help();
	return check_report("test_opts");
}
