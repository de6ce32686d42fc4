/*
 * ingest_cfg.h — every setting of an ingest, in one option table
 * (config/opts.h) shared by `kinlake ingest` (flags and KINLAKE_* variables)
 * and the Lambda's Kinesis event-source-mapping path (KINLAKE_* variables).
 *
 * The table names each setting once, and every setting with a value has a
 * variable named after its flag: --format is KINLAKE_FORMAT, --memory-limit
 * is KINLAKE_MEMORY_LIMIT (test_opts checks the rule; --no-progress and
 * --quiet are flags only). `kinlake ingest` reads them all, a flag winning
 * over its variable, as a container is configured; the Lambda reads those
 * marked KL_INGEST_CFG_LAMBDA, the settings of a batch written to the lake.
 * A value is parsed and checked by the same entry wherever it comes from,
 * so a bad value gets the same message from either, naming the flag or the
 * variable; kl_ingest_cfg_check() adds the rules that involve several
 * settings, named the same way.
 *
 * Ownership: strings point into argv or the environment.
 */
#ifndef KL_CONFIG_INGEST_CFG_H
#define KL_CONFIG_INGEST_CFG_H

#include "config/opts.h"
#include "pipeline/ingest.h"
#include "store/store_url.h"

#include <stdint.h>

struct kl_ingest_cfg {
	/* where from, where to */
	const char *input, *stream, *lake, *input_id;
	const char *start, *region;
	int64_t exit_idle_ms;
	int64_t idle_poll_ms;	     /* stream mode: a caught-up shard's next GetRecords after */
	int64_t list_timeout_ms;     /* stream mode: ListShards failing this long ends the run */
	int64_t shutdown_timeout_ms; /* signal -> abandon what is not committed (core/stop.h) */
	/* S3 */
	size_t multipart_threshold;
	int64_t s3_concurrency; /* requests in flight per store: parts, small files */
	int sse; /* enum kl_sse */
	const char *sse_kms_key_id;
	/* files */
	int format;	 /* enum kl_format */
	int compression; /* enum kl_compression (snappy: Parquet only) */
	int64_t level;
	size_t max_file_bytes, memory_limit, max_record_bytes, row_group_bytes;
	int64_t max_columns;
	int64_t flush_interval_ms, max_depth;
	int window; /* enum kl_window */
	int64_t allowed_lateness_ms;
	uint64_t dedup_window;
	int64_t threads; /* 0: the CPUs the process may use */
	/* reporting */
	const char *metrics_file, *metrics_listen;
	int64_t metrics_interval_ms, status_interval_ms;
	int64_t stall_ms; /* stream mode: /health says "stalled" after this long without progress */
	const char *cloudwatch_ns; /* stream mode: PutMetricData namespace */
	int no_progress, quiet;
	int dry_run; /* print the settings (kl_ingest_cfg_print) and exit */
	/* stream mode: shard leases shared with other workers (lease/lease.h) */
	const char *lease_table, *worker_id;
	int64_t lease_renew_ms, lease_timeout_ms;
};

/* kl_opt `scope` bits: the Lambda's Kinesis path reads the entry's
 * variable; the Lambda reads it itself, with a meaning of its own
 * (KINLAKE_CLOUDWATCH_NAMESPACE: its EMF lines). The Lambda refuses any
 * other KINLAKE_* variable of the table (kl_esm_config_env). */
#define KL_INGEST_CFG_LAMBDA 1u
#define KL_INGEST_CFG_LAMBDA_OWN 2u

extern const struct kl_opt kl_ingest_cfg_table[];
extern const size_t kl_ingest_cfg_count;

/* Rules between settings, after parsing: snappy needs Parquet (and a build
 * with snappy), a KMS key id needs aws:kms, SSE needs an S3 lake, an S3
 * lake needs a region (from --region or `env`). KL_OK or KL_EINVAL with one
 * message naming the settings as the user gave them. */
int kl_ingest_cfg_check(const struct kl_opts *p, const struct kl_aws_env *env,
			struct kl_errbuf *eb);

/* The pipeline's file settings: format, compression (and snappy), level,
 * sizes, flush interval, dedup window, record limits, threads (`cpus`, the
 * CPUs this process may use, core/cgroup.h, for --threads 0 with a file). */
void kl_ingest_cfg_apply(const struct kl_ingest_cfg *c, struct kl_ingest_opts *o, unsigned cpus);

/* The --memory-limit to use when it was not set (neither the flag nor
 * KINLAKE_MEMORY_LIMIT): the default `def`, or what fits the cgroup memory
 * limit `container` (bytes; 0: none, core/cgroup.h) when that is less: seven
 * eighths of it less KL_MEMORY_OVERHEAD, but at least KL_MEMORY_LIMIT_FLOOR.
 * The overhead is what the budget does not count (the process, its threads'
 * buffers, the encoders' pages: the peak RSS is the budget plus ~30-56 MiB,
 * docs/windows.md); the eighth is for the page cache of the files being
 * written, which the kernel charges to the container too. Measured on one
 * production hour (1M events): a 224 MiB container OOM-killed the run at the
 * 256 MiB default; at this rule's 132 MiB its peak RSS was 158 MB, and
 * containers of 96-366 MiB peaked at 66-79 % of their limit (bench/README.md,
 * session 32). */
#define KL_MEMORY_LIMIT_FLOOR ((size_t)16 << 20)
#define KL_MEMORY_OVERHEAD ((uint64_t)64 << 20)
size_t kl_ingest_cfg_memory_default(size_t def, uint64_t container);

/* --dry-run: one line per option, "NAME VALUE SOURCE", the value as the run
 * will use it (written as the option would be, so it can be pasted back) and
 * where it came from: "flag", "env", "default", "unset", or for a default
 * the run resolves (--threads 0, --window auto, a --memory-limit fitted to
 * the container's `container_memory` bytes) what it resolved to and why. */
void kl_ingest_cfg_print(FILE *f, const struct kl_opts *p, const struct kl_ingest_cfg *c,
			 const struct kl_ingest_opts *o, uint64_t container_memory);

/* The store settings for c->lake. `creds` is borrowed. */
void kl_ingest_cfg_store(const struct kl_ingest_cfg *c, const struct kl_aws_env *env,
			 struct kl_store_creds *creds, struct kl_store_url_opts *so);

#endif
