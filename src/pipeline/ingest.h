/*
 * ingest.h — the local-mode pipeline: a file or stdin into a lake directory.
 *
 *   source ─> parse+validate ─> enrich ─> dedup ─> route ─> buffer ─> encode ─> store ─> commit
 *   source/    parse/ event/               dedup/   route/   buffer/   encode/   store/   commit/
 *
 * This file only wires the stages together and owns the loop; every stage
 * lives in its own module. Exactly-once across crashes: see commit/state.h.
 * File names are <input id>-<position of the file's first record><ext>, the
 * input id being a hash of the input's content (or of --input-id).
 */
#ifndef KL_PIPELINE_INGEST_H
#define KL_PIPELINE_INGEST_H

#include "core/err.h"
#include "encode/jsonl/jsonl.h"
#include "event/event.h"

#include <pthread.h>
#include <stdint.h>

struct kl_dedup;
struct kl_metrics;
struct kl_schema_registry;

enum kl_format { KL_FORMAT_JSONL, KL_FORMAT_PARQUET };

struct kl_ingest_opts {
	const char *input;    /* path, or "-" for stdin */
	const char *input_id; /* NULL: hash of the file content; stdin: unique per run */
	const char *lake;     /* lake root directory */
	enum kl_format format;
	enum kl_compression compression;
	int level;                 /* compression level, 0 = default */
	size_t max_file_bytes;     /* flush a partition at this many buffered bytes */
	int64_t flush_interval_ms; /* ... or when its oldest record is this old */
	size_t memory_limit;       /* flush the largest buffer above this total */
	size_t dedup_window;       /* events; 0 disables */
	struct kl_event_limits limits;
	int progress;   /* draw a progress bar on stderr */
	int stop_fd;    /* readable => flush, commit and stop (a signalfd), or -1 */
	size_t row_group_bytes; /* parquet */
	/* Stream mode (Kinesis): records come from `source` and files go to
	 * `store` (both borrowed); `input_id` names the state; `input` is only
	 * the source name in dead letters. Positions restart every run, so the
	 * source's checkpoint (not positions) says where to resume, and
	 * delivery is at-least-once. */
	struct kl_source *source;
	/* Borrowed, optional. In file mode (no `source`): the lake's store when
	 * it is not a local directory (an S3 lake); the state log is then one
	 * object in it, _kinlake/state/<input id>.log. NULL: `lake` is a
	 * directory, opened (and swept of temporary files) by the run. */
	struct kl_store *store;
	/* Stream mode: one event_uuid window shared by every shard's pipeline
	 * (a KPL-aggregated record and a retried plain copy of one of its events
	 * can sit on different shards). Borrowed; guarded by the mutex. */
	struct kl_dedup *shared_dedup;
	pthread_mutex_t *shared_dedup_mu;
	int parquet_snappy;     /* parquet pages with snappy instead of `compression` */
	/* Live counters (metrics/metrics.h), borrowed, may be NULL: the reader
	 * adds what it read every few thousand records, the writer what is
	 * durable after each commit. Several runs may share one. */
	struct kl_metrics *metrics;
	/* Parquet: the lake's schema registry cache (encode/parquet/schema.h),
	 * borrowed and shared by every writer of the lake; NULL: the run makes
	 * its own. */
	struct kl_schema_registry *schema_registry;
	/* Stream mode: keep no state in the lake (no _kinlake/state object is
	 * read or written). For a caller that checkpoints itself: the Lambda
	 * event-source-mapping handler, whose checkpoint Lambda keeps. */
	int no_state;
	/* Name a file after the first record routed to its partition, counting
	 * event_uuid duplicates that were dropped: names then do not depend on
	 * the dedup window. For the Lambda event-source-mapping handler, whose
	 * retry of a batch may run with another window (esm.h). */
	int name_before_dedup;
	/* Optional: told the fate of every data or dead-letter file once it is
	 * known: durable (committed and synced) or not (its write failed, or it
	 * was dropped after an earlier failure). first_pos is the position the
	 * file is named after (its first record; with name_before_dedup maybe a
	 * duplicate before it), last_pos that of its last record, count its
	 * records. Called on the writer thread, or on the caller's for files
	 * dropped before they were queued: both may run concurrently. Records still buffered when a
	 * run fails are in no file and are not reported. */
	void (*on_file)(void *ctx, uint64_t first_pos, uint64_t last_pos, uint64_t count,
			int durable);
	void *on_file_ctx;
};

struct kl_ingest_stats {
	uint64_t records;    /* records read this run */
	uint64_t stored;     /* events written to data files */
	uint64_t dead;       /* dead letters written */
	uint64_t duplicates; /* dropped as repeats of an event_uuid */
	uint64_t replayed;   /* skipped: already durable from an earlier run */
	uint64_t files;      /* files committed (data + dead letters) */
	uint64_t bytes_in, bytes_out;
	uint64_t dead_by_reason[KL_REJ_COUNT];
	double seconds;
	int interrupted;     /* stopped early by stop_fd */
	int already_done;    /* the state said this input was fully ingested */
	char input_id[17];
};

void kl_ingest_opts_default(struct kl_ingest_opts *o);

int kl_ingest_run(const struct kl_ingest_opts *o, struct kl_ingest_stats *st,
		  struct kl_errbuf *eb);

#endif
