/* ingest_cfg.c — see ingest_cfg.h. */
#include "config/ingest_cfg.h"

#include "aws/kinesis.h"
#include "encode/parquet/parquet.h"
#include "metrics/metrics.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define F(field) offsetof(struct kl_ingest_cfg, field)

static const struct kl_opt_choice formats[] = {
	{"parquet", KL_FORMAT_PARQUET}, {"jsonl", KL_FORMAT_JSONL}, {NULL, 0}};
static const struct kl_opt_choice codecs[] = {{"zstd", KL_COMP_ZSTD},
					      {"gzip", KL_COMP_GZIP},
					      {"none", KL_COMP_NONE},
					      {"snappy", KL_COMP_SNAPPY},
					      {NULL, 0}};
/* --window auto (the default): hour for a file, interval for stdin, a
 * stream and the Lambda (kl_ingest_cfg_apply) */
#define WINDOW_AUTO (KL_WINDOW_HOUR + 1)
static const struct kl_opt_choice windows[] = {{"auto", WINDOW_AUTO},
					       {"interval", KL_WINDOW_INTERVAL},
					       {"hour", KL_WINDOW_HOUR},
					       {NULL, 0}};
static const struct kl_opt_choice sses[] = {
	{"aws:kms", KL_SSE_KMS}, {"AES256", KL_SSE_AES256}, {NULL, 0}};

/* UNIX seconds as GetShardIterator's Timestamp takes them (it goes into the
 * request as a JSON number): digits, an optional fraction */
static int unix_seconds(const char *s)
{
	size_t d = strspn(s, "0123456789");
	if (d == 0 || d > 12)
		return 0;
	if (s[d] != '.')
		return s[d] == '\0';
	size_t f = strspn(s + d + 1, "0123456789");
	return f > 0 && s[d + 1 + f] == '\0';
}

static int check_start(const char *v, char *why, size_t cap)
{
	if (!strcmp(v, "trim-horizon") || !strcmp(v, "latest") ||
	    (!strncmp(v, "at-timestamp:", 13) && unix_seconds(v + 13)))
		return 0;
	snprintf(why, cap, "use trim-horizon, latest or at-timestamp:UNIX (seconds, e.g. "
		 "at-timestamp:1764547200)");
	return -1;
}

const struct kl_opt kl_ingest_cfg_table[] = {
	{.name = "input", .env = "KINLAKE_INPUT", .type = KL_OPT_STR, .offset = F(input),
	 .metavar = "PATH|-", .help = "JSON lines to ingest (plain, gzip or zstd), '-' for stdin (or use --stream)"},
	{.name = "stream", .env = "KINLAKE_STREAM", .type = KL_OPT_STR, .offset = F(stream),
	 .metavar = "NAME|ARN",
	 .help = "consume every shard of this Kinesis Data Stream instead of --input",
	 .check = kl_kinesis_stream_check},
	{.name = "lake", .env = "KINLAKE_LAKE", .scope = KL_INGEST_CFG_LAMBDA, .type = KL_OPT_STR,
	 .offset = F(lake), .metavar = "DIR|s3://B/P",
	 .help = "lake root: a directory, or s3://bucket/prefix", .check = kl_store_url_check},
	{.name = "start", .env = "KINLAKE_START", .type = KL_OPT_STR, .offset = F(start),
	 .def = "trim-horizon", .metavar = "POSITION",
	 .help = "where a shard without checkpoint starts: trim-horizon, latest, at-timestamp:UNIX",
	 .check = check_start},
	{.name = "exit-idle", .env = "KINLAKE_EXIT_IDLE", .type = KL_OPT_MS,
	 .offset = F(exit_idle_ms), .def = "0", .metavar = "SECONDS",
	 .help = "stream mode: flush, checkpoint and exit 0 once every shard is caught up and idle "
		 "this long (0: run until SIGTERM)"},
	{.name = "idle-poll-interval", .env = "KINLAKE_IDLE_POLL_INTERVAL", .type = KL_OPT_MS,
	 .offset = F(idle_poll_ms), .def = "1", .metavar = "SECONDS",
	 .help = "stream mode: a shard read to its end with nothing new is asked again after this "
		 "long (the KCL's idleTimeBetweenReadsInMillis): lower for latency, higher for fewer "
		 "GetRecords calls (a shard allows 5 a second, shared by every consumer)",
	 .min = 0.2, .max = 60},
	{.name = "list-shards-timeout", .env = "KINLAKE_LIST_SHARDS_TIMEOUT", .type = KL_OPT_MS,
	 .offset = F(list_timeout_ms), .def = "300", .metavar = "SECONDS",
	 .help = "stream mode: a failing ListShards (looking for new shards after a split or "
		 "merge) is retried with backoff while the shards read on; after failing this long "
		 "the run commits what it read and ends with an error",
	 .min = 1, .max = 86400},
	{.name = "shutdown-timeout", .env = "KINLAKE_SHUTDOWN_TIMEOUT",
	 .scope = KL_INGEST_CFG_LAMBDA, .type = KL_OPT_MS, .offset = F(shutdown_timeout_ms),
	 .def = "20", .metavar = "SECONDS",
	 .help = "after SIGTERM/SIGINT: stop reading at once, commit what is buffered for at most "
		 "this long, then abandon the rest and exit 75 (the next run reads it again); "
		 "keep it below the platform's grace period (30 s on ECS and Kubernetes)",
	 .min = 0, .max = 3600},
	{.name = "region", .env = "KINLAKE_REGION", .type = KL_OPT_STR, .offset = F(region),
	 .metavar = "REGION", .help = "AWS region (default: AWS_REGION, AWS_DEFAULT_REGION)"},
	{.name = "multipart-threshold", .env = "KINLAKE_MULTIPART_THRESHOLD", .type = KL_OPT_SIZE,
	 .offset = F(multipart_threshold), .def = "16MiB", .metavar = "SIZE",
	 .help = "S3: objects above this go up as multipart uploads (parts >= 5 MiB)",
	 .min = 5 << 20, .max = 5368709120.0},
	{.name = "s3-concurrency", .env = "KINLAKE_S3_CONCURRENCY", .scope = KL_INGEST_CFG_LAMBDA,
	 .type = KL_OPT_I64, .offset = F(s3_concurrency), .def = "4", .metavar = "N",
	 .help = "S3: uploads in flight per lake writer (per shard in stream mode): a batch's "
		 "files up to 2 MiB side by side, a large file's 8 MiB parts, and as many reads "
		 "of an existing lake's schema fragments; more for high round-trip times, each "
		 "upload holding up to 8 MiB beyond --memory-limit",
	 .min = 1, .max = 64},
	{.name = "sse", .env = "KINLAKE_SSE", .scope = KL_INGEST_CFG_LAMBDA, .type = KL_OPT_CHOICE,
	 .offset = F(sse), .metavar = "aws:kms|AES256",
	 .help = "S3: server-side encryption of every object", .choices = sses},
	{.name = "sse-kms-key-id", .env = "KINLAKE_SSE_KMS_KEY_ID", .scope = KL_INGEST_CFG_LAMBDA,
	 .type = KL_OPT_STR, .offset = F(sse_kms_key_id), .metavar = "ID",
	 .help = "S3: the KMS key for --sse aws:kms (default: the bucket's AWS-managed key)"},
	{.name = "format", .env = "KINLAKE_FORMAT", .scope = KL_INGEST_CFG_LAMBDA,
	 .type = KL_OPT_CHOICE, .offset = F(format), .def = "parquet", .metavar = "parquet|jsonl",
	 .help = "data file format: typed Parquet (one schema per event type) or JSON lines",
	 .choices = formats},
	{.name = "compression", .env = "KINLAKE_COMPRESSION", .scope = KL_INGEST_CFG_LAMBDA,
	 .type = KL_OPT_CHOICE, .offset = F(compression), .def = "zstd",
	 .metavar = "zstd|gzip|none|snappy",
	 .help = "compression of data files (snappy: parquet only)", .choices = codecs},
	{.name = "compression-level", .env = "KINLAKE_COMPRESSION_LEVEL",
	 .scope = KL_INGEST_CFG_LAMBDA, .type = KL_OPT_I64, .offset = F(level), .def = "0",
	 .metavar = "N", .help = "codec level, 0 = codec default (zstd 1, gzip 6)", .min = 0,
	 .max = 22},
	{.name = "max-file-bytes", .env = "KINLAKE_MAX_FILE_BYTES", .type = KL_OPT_SIZE,
	 .offset = F(max_file_bytes), .def = "128MiB", .metavar = "SIZE",
	 .help = "flush a partition when its buffered records reach this many uncompressed bytes",
	 .min = 1024, .max = 1e12},
	{.name = "flush-interval", .env = "KINLAKE_FLUSH_INTERVAL", .type = KL_OPT_MS,
	 .offset = F(flush_interval_ms), .def = "300", .metavar = "SECONDS",
	 .help = "flush a partition when its oldest record has waited this long", .min = 0,
	 .max = 86400},
	{.name = "window", .env = "KINLAKE_WINDOW", .scope = KL_INGEST_CFG_LAMBDA,
	 .type = KL_OPT_CHOICE, .offset = F(window), .def = "auto", .metavar = "auto|interval|hour",
	 .help = "interval: flush by size and --flush-interval (fresh data, many small files); "
		 "hour: close files by event time, at most one per partition-hour per shard once "
		 "the watermark passes the hour, late events in late files beside it (fewer, "
		 "larger files, what Athena prefers; data visible about an hour later; a file's "
		 "closed hours are written while the rest is read, so memory holds only the open "
		 "hours); auto: hour for an --input file, interval for stdin, --stream and the Lambda",
	 .choices = windows},
	{.name = "allowed-lateness", .env = "KINLAKE_ALLOWED_LATENESS",
	 .scope = KL_INGEST_CFG_LAMBDA, .type = KL_OPT_MS, .offset = F(allowed_lateness_ms),
	 .def = "10m", .metavar = "DURATION",
	 .help = "--window hour: an hour closes when the largest created_at seen minus this "
		 "passes its end",
	 .min = 0, .max = 7 * 86400},
	{.name = "memory-limit", .env = "KINLAKE_MEMORY_LIMIT", .type = KL_OPT_SIZE,
	 .offset = F(memory_limit), .def = "256MiB", .metavar = "SIZE",
	 .help = "buffer memory of the process (all shards share it), records held "
		 "compressed (zstd, or LZ4 for Parquet at 128MiB and more; a Parquet file's "
		 "or stdin's only once the buffers fill); above it the "
		 "largest partition is flushed first. Unset in a container with a memory limit: "
		 "at most 7/8 of that limit less 64MiB",
	 .min = 1 << 16, .max = 1e12},
	{.name = "max-record-bytes", .env = "KINLAKE_MAX_RECORD_BYTES",
	 .scope = KL_INGEST_CFG_LAMBDA, .type = KL_OPT_SIZE, .offset = F(max_record_bytes),
	 .def = "10MiB", .metavar = "SIZE", .help = "larger records are dead letters (too_large)",
	 .min = 64, .max = 1 << 30},
	{.name = "max-depth", .env = "KINLAKE_MAX_DEPTH", .scope = KL_INGEST_CFG_LAMBDA,
	 .type = KL_OPT_I64, .offset = F(max_depth), .def = "64", .metavar = "N",
	 .help = "deeper JSON nesting is a dead letter (too_deep)", .min = 1, .max = 100000},
	{.name = "dedup-window", .env = "KINLAKE_DEDUP_WINDOW", .type = KL_OPT_U64,
	 .offset = F(dedup_window), .def = "1000000", .metavar = "EVENTS",
	 .help = "drop an event whose event_uuid was among the last N events; 0 disables", .min = 0,
	 .max = 1 << 30},
	{.name = "threads", .env = "KINLAKE_THREADS", .scope = KL_INGEST_CFG_LAMBDA,
	 .type = KL_OPT_I64, .offset = F(threads), .def = "0", .metavar = "N",
	 .help = "threads that parse, validate, route and encode (0: the CPUs this process may "
		 "use for a file, its affinity capped by a container's CPU quota; 1 per shard "
		 "for a stream; 1: one reader and one writer); the "
		 "lake is the same for every N",
	 .min = 0, .max = 256},
	{.name = "input-id", .env = "KINLAKE_INPUT_ID", .type = KL_OPT_STR, .offset = F(input_id),
	 .metavar = "NAME",
	 .help = "name the input instead of hashing its content (needed to resume stdin)"},
	{.name = "row-group-bytes", .env = "KINLAKE_ROW_GROUP_BYTES", .type = KL_OPT_SIZE,
	 .offset = F(row_group_bytes), .def = "128MiB", .metavar = "SIZE",
	 .help = "parquet row group size", .min = 1 << 16, .max = 1e12},
	{.name = "max-columns", .env = "KINLAKE_MAX_COLUMNS", .scope = KL_INGEST_CFG_LAMBDA,
	 .type = KL_OPT_I64, .offset = F(max_columns), .def = KL_PQ_MAX_COLUMNS_DEF, .metavar = "N",
	 .help = "parquet: columns a file has at most; once a file has N - 1, fields without a "
		 "column are kept as a JSON object in its last column, _rescued_data (keys made "
		 "from data would otherwise each become a column)",
	 .min = KL_PQ_MIN_COLUMNS, .max = KL_PQ_MAX_COLUMNS_MAX},
	{.name = "metrics-file", .env = "KINLAKE_METRICS_FILE", .type = KL_OPT_STR,
	 .offset = F(metrics_file), .metavar = "PATH",
	 .help = "write Prometheus text-format metrics here (atomically) every --metrics-interval "
		 "and at exit; for node_exporter's textfile collector"},
	{.name = "metrics-listen", .env = "KINLAKE_METRICS_LISTEN", .type = KL_OPT_STR,
	 .offset = F(metrics_listen), .metavar = "HOST:PORT",
	 .help = "serve the same metrics at http://HOST:PORT/metrics, and the run's health at "
		 "/health (JSON; 200 ok, 503 stopping or stalled: a probe's answer) (port 0: any "
		 "free port; [IPV6]:PORT; :PORT for every interface)",
	 .check = kl_metrics_addr_check},
	{.name = "stall-timeout", .env = "KINLAKE_STALL_TIMEOUT", .type = KL_OPT_MS,
	 .offset = F(stall_ms), .def = "300", .metavar = "SECONDS",
	 .help = "/health (--metrics-listen) answers 503 \"stalled\", and systemd's watchdog "
		 "(WatchdogSec=) is no longer pinged, once the run has work under way (shards "
		 "running, flushes waiting to commit, or S3 calls unanswered) but nothing has "
		 "had a GetRecords answer, moved a byte of a Kinesis or S3 call, read a record, "
		 "had an S3 request answered or committed a file for this long (a caught-up shard still polls; a writer stuck "
		 "on S3 with full buffers does not; a quiet input with nothing to commit is not "
		 "stalled), so a liveness probe or systemd can restart it (exactly once makes "
		 "that safe)",
	 .min = 10, .max = 86400},
	{.name = "metrics-interval", .env = "KINLAKE_METRICS_INTERVAL", .type = KL_OPT_MS,
	 .offset = F(metrics_interval_ms), .def = "10", .metavar = "SECONDS",
	 .help = "how often --metrics-file is rewritten (and CloudWatch published)", .min = 0.1,
	 .max = 86400},
	{.name = "cloudwatch-namespace", .env = "KINLAKE_CLOUDWATCH_NAMESPACE",
	 .scope = KL_INGEST_CFG_LAMBDA_OWN, .type = KL_OPT_STR,
	 .offset = F(cloudwatch_ns), .metavar = "NS",
	 .help = "stream mode: also publish the metrics to CloudWatch (PutMetricData) in this "
		 "namespace every --metrics-interval (docs/metrics.md)"},
	{.name = "lease-table", .env = "KINLAKE_LEASE_TABLE", .type = KL_OPT_STR,
	 .offset = F(lease_table), .metavar = "TABLE",
	 .help = "stream mode: share the shards with the other workers of this DynamoDB lease "
		 "table (KCL-style; created on first use, on-demand billing; docs/leases.md)"},
	{.name = "worker-id", .env = "KINLAKE_WORKER_ID", .type = KL_OPT_STR,
	 .offset = F(worker_id), .metavar = "ID",
	 .help = "this worker's name in the lease table, unique among live workers (default: "
		 "hostname:pid:random)"},
	{.name = "lease-renew-interval", .env = "KINLAKE_LEASE_RENEW_INTERVAL", .type = KL_OPT_MS,
	 .offset = F(lease_renew_ms), .def = "0", .metavar = "SECONDS",
	 .help = "renew held leases this often (0: a third of --lease-timeout)", .min = 0,
	 .max = 3600},
	{.name = "lease-timeout", .env = "KINLAKE_LEASE_TIMEOUT", .type = KL_OPT_MS,
	 .offset = F(lease_timeout_ms), .def = "10", .metavar = "SECONDS",
	 .help = "a lease not renewed for this long is taken over by another worker", .min = 0.5,
	 .max = 3600},
	{.name = "status-interval", .env = "KINLAKE_STATUS_INTERVAL", .type = KL_OPT_MS,
	 .offset = F(status_interval_ms), .def = "60", .metavar = "SECONDS",
	 .help = "a status line on stderr this often when no progress bar is drawn (stream mode, "
		 "or stderr not a terminal); 0: never",
	 .min = 0, .max = 86400},
	{.name = "no-progress", .type = KL_OPT_FLAG, .offset = F(no_progress),
	 .help = "never draw the progress bar"},
	{.name = "quiet", .type = KL_OPT_FLAG, .offset = F(quiet), .help = "no summary line"},
	{.name = "dry-run", .type = KL_OPT_FLAG, .offset = F(dry_run),
	 .help = "check the options, print the settings this run would use (each with where it "
		 "came from: flag, env, default, or the container's limits) and exit without "
		 "reading or writing anything"},
};

const size_t kl_ingest_cfg_count = sizeof kl_ingest_cfg_table / sizeof kl_ingest_cfg_table[0];

int kl_ingest_cfg_check(const struct kl_opts *p, const struct kl_aws_env *env,
			struct kl_errbuf *eb)
{
	const struct kl_ingest_cfg *c = p->cfg;
	char a[128], b[128];
	if (c->compression == KL_COMP_SNAPPY) {
		if (c->format != KL_FORMAT_PARQUET)
			return kl_errbuf_set(eb, KL_EINVAL, "%s is only available with %s",
					     kl_opts_setting(p, F(compression), "snappy", a, sizeof a),
					     kl_opts_setting(p, F(format), "parquet", b, sizeof b));
		if (!kl_pq_snappy_available())
			return kl_errbuf_set(eb, KL_EINVAL, "%s: snappy is not available in this "
					     "build (the Lambda package); use zstd",
					     kl_opts_label(p, F(compression), a, sizeof a));
	}
	/* options that only a stream (or a lease table) reads: given without
	 * it, they would be ignored without a word */
	static const struct {
		size_t opt, needs;
	} needs[] = {
	    {F(start), F(stream)},	    {F(exit_idle_ms), F(stream)},
	    {F(idle_poll_ms), F(stream)},    {F(list_timeout_ms), F(stream)},
	    {F(cloudwatch_ns), F(stream)},   {F(lease_table), F(stream)},
	    {F(worker_id), F(lease_table)}, {F(lease_renew_ms), F(lease_table)},
	    {F(lease_timeout_ms), F(lease_table)},
	};
	for (size_t i = 0; i < sizeof needs / sizeof needs[0]; i++)
		if (kl_opts_from(p, needs[i].opt) >= KL_OPT_FROM_ENV &&
		    kl_opts_from(p, needs[i].needs) == KL_OPT_UNSET)
			return kl_errbuf_set(eb, KL_EINVAL, "%s needs %s",
					     kl_opts_label(p, needs[i].opt, a, sizeof a),
					     kl_opts_label(p, needs[i].needs, b, sizeof b));
	/* a caught-up shard is heard from once every idle poll: a stall
	 * shorter than two of them would be called between two of its calls */
	if (c->stream && c->stall_ms < 2 * c->idle_poll_ms)
		return kl_errbuf_set(eb, KL_EINVAL, "%s must be at least twice %s",
				     kl_opts_label(p, F(stall_ms), a, sizeof a),
				     kl_opts_label(p, F(idle_poll_ms), b, sizeof b));
	/* a lease renewed no more often than it times out is lost between
	 * renewals (lease/keeper.h) */
	if (c->lease_table && c->lease_renew_ms >= c->lease_timeout_ms)
		return kl_errbuf_set(eb, KL_EINVAL, "%s must be shorter than %s",
				     kl_opts_label(p, F(lease_renew_ms), a, sizeof a),
				     kl_opts_label(p, F(lease_timeout_ms), b, sizeof b));
	if (c->sse_kms_key_id && c->sse != KL_SSE_KMS)
		return kl_errbuf_set(eb, KL_EINVAL, "%s needs %s",
				     kl_opts_label(p, F(sse_kms_key_id), a, sizeof a),
				     kl_opts_setting(p, F(sse), "aws:kms", b, sizeof b));
	if (!c->lake)
		return KL_OK;
	int s3 = kl_store_url_is_s3(c->lake);
	if (c->sse != KL_SSE_NONE && !s3)
		return kl_errbuf_set(eb, KL_EINVAL, "%s is for a lake on S3, but %s is a directory",
				     kl_opts_label(p, F(sse), a, sizeof a),
				     kl_opts_label(p, F(lake), b, sizeof b));
	if (s3 && !kl_aws_region(env, c->region))
		return kl_errbuf_set(eb, KL_EINVAL, "%s is on S3 but no region is set: set "
				     "AWS_REGION%s", kl_opts_label(p, F(lake), a, sizeof a),
				     p->env_style ? "" : " or pass --region");
	return KL_OK;
}

size_t kl_ingest_cfg_memory_default(size_t def, uint64_t container)
{
	if (!container)
		return def;
	uint64_t fits = container - container / 8;
	fits = fits > KL_MEMORY_OVERHEAD + KL_MEMORY_LIMIT_FLOOR ? fits - KL_MEMORY_OVERHEAD
								 : KL_MEMORY_LIMIT_FLOOR;
	return fits < def ? (size_t)fits : def;
}

void kl_ingest_cfg_print(FILE *f, const struct kl_opts *p, const struct kl_ingest_cfg *c,
			 const struct kl_ingest_opts *o, uint64_t container_memory)
{
	/* the config as the run resolved it */
	struct kl_ingest_cfg eff = *c;
	eff.threads = (int64_t)o->threads;
	eff.window = (int)o->window;
	eff.memory_limit = o->memory_limit;
	struct kl_opts q = *p;
	q.cfg = &eff;
	fprintf(f, "# kinlake ingest --dry-run: the settings of this run (nothing was read or "
		   "written); NAME VALUE SOURCE\n");
	for (size_t i = 0; i < p->n; i++) {
		const struct kl_opt *t = &p->t[i];
		if (!t->help || t->offset == F(dry_run))
			continue;
		char now[512], was[512], why[1200] = "";
		if (kl_opts_format(&q, i, now, sizeof now) < 0)
			snprintf(now, sizeof now, "(too long to show)");
		if (kl_opts_format(p, i, was, sizeof was) < 0)
			was[0] = '\0';
		const char *from = kl_opts_from_word(p, i);
		if (strcmp(now, was)) {
			if (t->offset == F(memory_limit))
				snprintf(why, sizeof why,
					 "container: fits its memory limit of %.1f MiB (default %s)",
					 (double)container_memory / (1 << 20), was);
			else if (t->offset == F(threads))
				snprintf(why, sizeof why, "%s: %s = %s", from, was,
					 c->stream ? "1 per shard for a stream"
						   : "the CPUs this process may use");
			else if (t->offset == F(window))
				snprintf(why, sizeof why, "%s: %s = %s", from, was,
					 o->window == KL_WINDOW_HOUR ? "hour for a file"
								     : "interval for stdin or a stream");
			else
				snprintf(why, sizeof why, "%s (was %s)", from, was);
		}
		fprintf(f, "%-22s %-28s %s\n", t->name, now[0] ? now : "-", why[0] ? why : from);
	}
}

/* --input names a regular file (not stdin, a pipe or a device) */
static int input_is_file(const char *input)
{
	struct stat sb;
	return input && strcmp(input, "-") && stat(input, &sb) == 0 && S_ISREG(sb.st_mode);
}

void kl_ingest_cfg_apply(const struct kl_ingest_cfg *c, struct kl_ingest_opts *o, unsigned cpus)
{
	/* a stream's shards already run in parallel, each its own pipeline:
	 * by default one reader per shard, not CPUs x shards threads */
	o->threads = c->threads > 0 ? (unsigned)c->threads : c->stream ? 1 : cpus;
	o->format = (enum kl_format)c->format;
	o->compression = (enum kl_compression)c->compression; /* dead letters: zstd for snappy */
	o->level = (int)c->level;
	o->max_file_bytes = c->max_file_bytes;
	o->memory_limit = c->memory_limit;
	o->flush_interval_ms = c->flush_interval_ms;
	/* a file has no one waiting for freshness: by default its hours are
	 * closed by event time (one file per partition-hour, bounded memory
	 * however long the file); stdin (a pipe may be a live feed), a stream
	 * and the Lambda by interval (docs/windows.md) */
	o->window = c->window != WINDOW_AUTO ? (enum kl_window)c->window
		    : input_is_file(c->input) ? KL_WINDOW_HOUR
					      : KL_WINDOW_INTERVAL;
	o->allowed_lateness_ms = c->allowed_lateness_ms;
	o->dedup_window = (size_t)c->dedup_window;
	o->limits.max_record_bytes = c->max_record_bytes;
	o->limits.max_depth = (unsigned)c->max_depth;
	o->row_group_bytes = c->row_group_bytes;
	o->max_columns = (size_t)c->max_columns;
}

void kl_ingest_cfg_store(const struct kl_ingest_cfg *c, const struct kl_aws_env *env,
			 struct kl_store_creds *creds, struct kl_store_url_opts *so)
{
	memset(so, 0, sizeof *so);
	so->env = env;
	so->region = c->region;
	so->sse = (enum kl_sse)c->sse;
	so->sse_kms_key_id = c->sse_kms_key_id;
	so->multipart_threshold = c->multipart_threshold;
	so->concurrency = (unsigned)c->s3_concurrency;
	so->creds = creds;
}
