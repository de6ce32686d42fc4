/*
 * esm.h — a Kinesis event-source-mapping batch into the lake, as `ingest`
 * writes it.
 *
 * Lambda reads the stream itself and invokes the function with a batch
 * {"Records":[{"kinesis":{"data":BASE64,"sequenceNumber":S,
 * "approximateArrivalTimestamp":T,...},"eventID":"shardId-…:S",
 * "eventSourceARN":ARN,...}, ...]}: records of ONE shard, in sequence order.
 * kl_esm_handle() runs the ingest core (pipeline/pipeline.h) over the batch,
 * with a checkpoint of its own that keeps nothing (Lambda keeps the shard's
 * position) and collects every file's fate: an in-memory source yields its records, base64-decoded and
 * KPL-de-aggregated (decode/kpl.h) exactly as the Kinesis shard source does;
 * events are validated, enriched, partitioned and written to the configured
 * store (local directory or s3://bucket/prefix) as Parquet or JSON lines;
 * bad records become dead letters holding their raw bytes, dated by the
 * record's arrival time and naming it as "kinesis:<stream ARN>/<shard>:<seq>"
 * (":<sub>" added for a user record of an aggregated record). A `data` that
 * is not base64 is a dead letter holding the field's text.
 *
 * Exactly once, by naming. Every file a batch writes is named after its first
 * record, "<shardId>-<sequence number>[-<sub-record>]" (the names `ingest
 * --stream` uses), and a batch writes ONE file per partition (no size or age
 * flush inside a batch: a batch is at most 6 MB). Lambda's retry of a batch
 * (after batchItemFailures, a function error or a timeout) starts at a
 * record it names, so the first record of each partition from there on — and
 * thus each file name — is the same as in the failed attempt: the retry
 * overwrites the objects the failed attempt may have left instead of adding
 * copies. (A retried batch is read again and may be longer: its files then
 * hold more records under the same names; or shorter: a file is rewritten
 * with its head, and the rest comes with the next batch, in files named
 * after their own first records.)
 * No state is kept outside the lake and none inside it: the checkpoint is
 * Lambda's.
 *
 * The response: {"batchItemFailures":[]} once every file of the batch is
 * durable. When a write fails, the batch's files are partly durable; the
 * records to retry are reported as {"itemIdentifier":SEQ}, one per Kinesis
 * record from record R to the end, where R is chosen so that the retry is
 * exact: it must include every record of every file that is not durable,
 * and a durable file must either lie wholly before R (not rewritten) or
 * start at or after R (rewritten under its own name). Reporting only "the
 * first record of the failed file" would not do: a durable file that began
 * earlier and also holds later records would get those records again, in a
 * file of another name. In practice partitions interleave and R is the
 * batch's first record. The mapping must have ReportBatchItemFailures (see
 * docs/lambda.md). A batch whose events are all dead letters or duplicates
 * still succeeds.
 *
 * Dedup: the pipeline drops an event whose event_uuid is in the caller's
 * window (shared by the invocations of a warm instance). File names do not
 * depend on it: a dropped duplicate still names its partition's file when it
 * comes first (the checkpoint's name_before_dedup). So a retry that decides
 * otherwise (the window was forgotten, or another instance runs it) still
 * overwrites the same objects; only such a repeated event_uuid may then be
 * stored twice (at-least-once for duplicates, as `ingest --stream` across
 * restarts). A batch that reports failures must make the caller forget the
 * window (the handler does), or the retry would drop the failed events as
 * duplicates of themselves.
 *
 * Configuration comes from the environment (kl_esm_config_env), through the
 * option table `kinlake ingest` parses its flags with (config/ingest_cfg.h):
 * each KINLAKE_* variable is the flag of the same name, parsed and checked
 * the same way, with the same message for the same bad value.
 *   KINLAKE_LAKE         s3://bucket[/prefix] or a directory (required for
 *                        this path; unset = Firehose-only function)
 *   KINLAKE_FORMAT       parquet (default) | jsonl
 *   KINLAKE_COMPRESSION  zstd (default) | gzip | none | snappy (parquet)
 *   KINLAKE_COMPRESSION_LEVEL, KINLAKE_MAX_RECORD_BYTES, KINLAKE_MAX_DEPTH
 *   KINLAKE_SSE          S3 server-side encryption: aws:kms | AES256
 *   KINLAKE_SSE_KMS_KEY_ID  the KMS key for aws:kms (default: AWS managed)
 * plus the usual AWS_REGION, AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL and
 * credentials (Lambda sets AWS_ACCESS_KEY_ID/…/AWS_SESSION_TOKEN). The
 * store is opened from the URL as every entry point opens it
 * (store/store_url.h).
 *
 * Ownership: `struct kl_esm` is caller-owned (init/cleanup) and lives for the
 * process: its store (and S3 connections), schema-registry cache, KPL decoder
 * and buffers are reused by every invocation, so the per-record path does not
 * allocate, and a Parquet file whose schema adds nothing to its event type's
 * union costs no registry request in a warm instance.
 * Library code: never prints; the stats say what happened.
 */
#ifndef KL_LAMBDA_ESM_H
#define KL_LAMBDA_ESM_H

#include "aws/credentials.h"
#include "config/ingest_cfg.h"
#include "core/buf.h"
#include "commit/checkpoint.h"
#include "core/err.h"
#include "decode/kpl.h"
#include "pipeline/ingest.h"
#include "source/seqmap.h"
#include "source/source.h"
#include "store/store_url.h"

#include <pthread.h>
#include <stdint.h>

struct kl_dedup;
struct kl_schema_registry;
struct kl_store;
struct kl_http;

struct kl_esm_config {
	/* every KINLAKE_* setting as parsed; set.lake NULL: not configured
	 * (kl_esm_init must not be called) */
	struct kl_ingest_cfg set;
	const char *region; /* S3: resolved from AWS_REGION/AWS_DEFAULT_REGION */
};

/* Read the KINLAKE_* variables. KL_OK with c->set.lake NULL when
 * KINLAKE_LAKE is unset or empty (and no other KINLAKE_ setting is set);
 * KL_EINVAL with a message naming the variable for anything wrong. The
 * strings point into the environment. */
int kl_esm_config_env(struct kl_esm_config *c, const struct kl_aws_env *env, struct kl_errbuf *eb);

struct kl_esm_stats {
	uint64_t records;    /* Kinesis records in the batch */
	uint64_t events;     /* user records (after KPL de-aggregation) */
	uint64_t stored, dead, duplicates, files;
	uint64_t rescued;    /* stored events with fields past --max-columns */
	uint64_t failed;     /* Kinesis records reported in batchItemFailures */
	uint64_t bytes_in, bytes_out; /* user records read; files committed */
	uint64_t dead_by_reason[KL_REJ_COUNT];
	char shard[129];
};

/* One Kinesis record of the batch (internal). */
struct kl_esm_rec {
	const char *seq; /* digits, in the event text */
	size_t seq_len;
	int64_t arrival_ms;
	const char *data; /* base64 field text (escapes decoded in `unesc` if any) */
	size_t data_len;
	int esc;         /* the field holds JSON escapes */
	size_t off, len; /* decoded bytes in the arena; len = SIZE_MAX: not base64 */
	uint64_t first_pos; /* ordinal of its first user record; UINT64_MAX: not read */
	uint64_t nsub;
	int aggregated;
};

/* A file's fate, from the pipeline (internal). */
struct kl_esm_file {
	uint64_t first, last, count;
	int durable;
};

struct kl_esm_source {
	struct kl_source base;
	struct kl_esm *e;
	size_t irec;
	const struct kl_kpl_record *subs;
	size_t nsubs, isub;
	struct kl_kpl_record one; /* a record whose data is not base64 */
	uint64_t next_pos;
	int eof;
};

struct kl_esm {
	struct kl_esm_config cfg;
	char lake[4096];
	struct kl_store *store;
	struct kl_schema_registry *registry; /* Parquet: the union per event type, cached */
	struct kl_store_creds creds; /* S3 */
	struct kl_kpl kpl;
	struct kl_seqmap seqs; /* position -> Kinesis record: file names, dead-letter sources */
	struct kl_esm_rec *recs;
	size_t nrecs, caprecs;
	struct kl_buf arena; /* decoded record data */
	struct kl_buf unesc; /* base64 fields that held JSON escapes */
	struct kl_esm_file *files;
	size_t nfiles, capfiles;
	int files_oom;
	pthread_mutex_t files_mu;
	struct kl_checkpoint cp; /* the Lambda's: collects files' fates (esm.c) */
	struct kl_esm_source src;
	char shard[KL_SHARD_MAX + 1];
	char input[512]; /* "kinesis:<stream ARN>/<shard>" */
	unsigned cpus;   /* the CPUs the function may use, read once (core/cgroup.h) */
};

/* Create the store for c->set.lake (a local directory is created if missing;
 * no network is used). On error the message names the variable or the cause. */
int kl_esm_init(struct kl_esm *e, const struct kl_esm_config *c, const struct kl_aws_env *env,
		struct kl_errbuf *eb);
void kl_esm_cleanup(struct kl_esm *e);

/* Is this a Kinesis event-source-mapping event ({"Records":[{"kinesis":
 * {...}}, ...]}: the first record decides)? Any text: it is checked as JSON
 * up to the first record's "kinesis" member, and a text that is not JSON up
 * to there is not one. */
int kl_esm_is_event(const char *p, size_t n);

/*
 * Land one batch: p[0..n) is the whole event, checked as JSON in the pass
 * that reads its records (esm.c, read_batch); a text that is not JSON is an
 * error ("Kinlake.InvalidEvent") before anything is written, whatever else
 * is wrong with it. `dedup` is the caller's event_uuid window (NULL or window
 * 0: none). The response is appended to `out`. KL_OK also when records are
 * reported in batchItemFailures (st->failed > 0; `why` then says what
 * failed); an error (with *error_type = "Kinlake.InvalidEvent" or
 * "Kinlake.OutOfMemory") only for a batch that is not a Kinesis batch
 * kinlake can name files for: a record without kinesis.data, a
 * sequenceNumber that is not digits, an eventID without a valid shard id,
 * records of several shards.
 */
int kl_esm_handle(struct kl_esm *e, const char *p, size_t n, struct kl_dedup *dedup,
		  struct kl_buf *out, struct kl_esm_stats *st, struct kl_errbuf *why,
		  const char **error_type, struct kl_errbuf *eb);

/* The Kinesis record from which to retry (exposed for the unit tests): see
 * the header comment. `complete`: every user record of the batch was read
 * and is accounted for in `files` or as a duplicate; if not, 0 (the whole
 * batch). Returns nrecs when every file is durable. */
size_t kl_esm_retry_from(const struct kl_esm_rec *recs, size_t nrecs,
			 const struct kl_esm_file *files, size_t nfiles, int complete);

#endif
