/*
 * pipeline.h — the ingest core: one loop that knows no modes.
 *
 *   source ─> parse+validate ─> enrich ─> dedup ─> route ─> buffer ─> encode ─> store ─> checkpoint
 *   source/    parse/ event/               dedup/   route/   buffer/   encode/   store/   commit/
 *
 * A run is built from parts with explicit interfaces, all borrowed:
 *   - a source (source/source.h) that yields records with positions, says
 *     where the next one starts, names files and dead-letter origins;
 *   - a store (store/store.h) and two encoders (encode/encoder.h): one for
 *     data files, one (JSON lines, streaming) for dead letters;
 *   - a dedup window (dedup/dedup.h), private or shared between runs (it
 *     owns its lock), or none;
 *   - a checkpoint (commit/checkpoint.h): where to resume, what is stored,
 *     and how a durable job is recorded — the state log in the lake for a
 *     file or a stream shard, none for the event-source Lambda.
 * The entry points wire them: pipeline/ingest.h (a file or stdin),
 * pipeline/stream.h (one run per Kinesis shard), lambda/esm.h (one run per
 * Lambda batch). This module writes no file name, state or log line of its
 * own choosing beyond what the parts say.
 *
 * Exactly once: the writer thread (pipeline/writer.h) writes a job's files,
 * syncs them, then commits the job's progress; the reader skips records the
 * checkpoint says are durable (commit/state.h has the whole argument).
 * A file is named after its first record: the source's pos_name(), else
 * "<file_prefix>-<14-digit position>".
 *
 * Threads: the caller's thread reads and applies; one writer thread per run.
 * With o->threads > 1, the pure per-record work (parse, validate, enrich,
 * route) runs on o->threads prep workers over chunks of records
 * (pipeline/prep.h), full partition tails are compressed into blocks on
 * o->threads "kl-seal" threads of the partition table (buffer/parts.h,
 * buffer/seal.h; the apply step only copies records into tails and cuts
 * them; a Parquet run with its own budget holds its blocks raw until a
 * decision needs them sealed, buffer/parts.h "Held raw") and files are
 * encoded on o->threads encoder threads
 * (pipeline/writer.h); every decision that shapes the lake — replay, dedup,
 * partition buffers, flushes, file names, job order, commits — stays in
 * one serial apply step that takes the records in input order, so the
 * lake is byte for byte the same for every o->threads (a memory decision
 * waits for the seals in flight when it needs their exact sizes; a job is
 * built from complete blocks and charges the writer what synchronous
 * sealing would). A stream runs one run per shard with o->threads each (1
 * by default: no extra thread per shard). Records longer than the source
 * holds in memory (`more`) take the serial path between chunks.
 *
 * Exact replay (a run with its own memory budget: a file, stdin, a Lambda
 * batch; not a stream's shards, whose shared budget depends on timing): a
 * restart cuts the files an uninterrupted run cuts, also where memory
 * decided the flushes. Each commit records with its R line how to rebuild
 * the memory picture of the job's build (commit/state.h, the M line):
 *   - while memory has decided nothing since the last quiet point (no
 *     record buffered, nothing charged), the picture is the records after
 *     each partition's stored position plus the writer's outstanding charge
 *     (jobs queued since the reader last waited for it): the restart reads
 *     from R skipping stored records and deciding nothing by memory up to
 *     where the run had read, then puts that charge back on the budget and
 *     looks at it as the run did — R still moves on as files are stored;
 *   - once memory has decided (a flush, an early seal — a run with its own
 *     budget first waits for its writer and takes back what finished jobs
 *     were still charged with, and decides only if its buffers alone fill
 *     the budget), the buffers' shapes
 *     depend on it: R is the quiet point, and the restart buffers the
 *     records already stored too, makes every decision again, and drops a
 *     flushed buffer of stored records unwritten, charged like a written
 *     one until the reader next waits for the writer.
 * Every choice among buffers (the largest, the next due) is a function of
 * the records, ties going to the oldest first record (buffer/parts.c), never
 * of the order the table made them in, which the restart's preloaded
 * partitions change.
 * A record past a partition's stored position flushes a buffer of stored
 * ones first, so no file mixes the two even where the first run is not
 * reproduced (a log from an older build). tests/e2e/restart_cuts.sh.
 * Library code: prints nothing; progress goes to o->progress if set.
 */
#ifndef KL_PIPELINE_PIPELINE_H
#define KL_PIPELINE_PIPELINE_H

#include "pipeline/ingest.h"

struct kl_budget;
struct kl_checkpoint;
struct kl_dedup;
struct kl_metrics_shard;
struct kl_encoder;
struct kl_source;
struct kl_store;
struct kl_writer_unpack_pool;

struct kl_pipeline_parts {
	struct kl_source *source;
	struct kl_store *store;
	struct kl_encoder *data_enc, *dead_enc;
	struct kl_dedup *dedup; /* NULL: no dedup */
	/* run != 0: the window is checked with kl_dedup_check_run(input, run),
	 * for an input this process may read again (a stream's shard) */
	uint32_t dedup_input, dedup_run;
	struct kl_checkpoint *checkpoint;
	const char *source_name; /* a dead letter's "source" when the source has no origin() */
	const char *file_prefix; /* file stems when the source has no pos_name() */
	const char *dead_dt;	 /* YYYY-MM-DD of dead letters without an arrival time */
	uint64_t input_size;	 /* bytes, 0 = unknown (progress only) */
	/* Optional: one memory budget shared with other runs (a stream's
	 * shards; buffer/budget.h), NULL: the run's own, from o->memory_limit */
	struct kl_budget *budget;
	/* Optional: the shard's metrics slot, for its bytes read and its
	 * watermark (window mode) */
	struct kl_metrics_shard *shard_metrics;
	/* Optional: unpacking buffers shared with other runs' writers (a
	 * stream's shards; pipeline/writer.h), NULL: the writer's own */
	struct kl_writer_unpack_pool *unpack_pool;
	/* Optional (NULL: settled from the start): a run whose file_prefix and
	 * checkpoint are settled while it reads (pipeline/ingest.c: a file the
	 * lake has never seen, hashed beside its run). Called on the reader's
	 * thread before the run's first file is named (its first job) and
	 * before checkpoint finish(), with wait = 1, and every 4096 records
	 * with wait = 0; until it has returned KL_OK nothing is written.
	 * Returns KL_OK once settled (then never called again), 1 when not yet
	 * (wait = 0 only), or an error with eb set, which ends the run. */
	int (*settle)(void *ctx, int wait);
	void *settle_ctx;
};

/* Read the source to its end (or until o->stop fires, tested before every
 * record, or o->stop_fd, tested when idle and every 4096 records:
 * st->interrupted), committing as it goes; after a stop what is buffered
 * is committed, then the run ends; the checkpoint is finished only at the
 * end of the input. Uses from `o`: the buffer and flush knobs, limits,
 * dedup_window and format (memory budget), stop, stop_fd, metrics,
 * progress. */
int kl_pipeline_run(const struct kl_ingest_opts *o, const struct kl_pipeline_parts *parts,
		    struct kl_ingest_stats *st, struct kl_errbuf *eb);

/* The bytes of partition buffers (and queued flushes) o->memory_limit
 * leaves once the fixed costs are taken: the dedup window, the reader's
 * window, the Parquet encoder's working copy; at least a quarter of the
 * limit (before the Parquet share), so it never decreases as the limit
 * grows. */
size_t kl_pipeline_buffer_budget(const struct kl_ingest_opts *o);

/* The encoders o->format and o->compression ask for (dead letters: JSON
 * lines, zstd when the data is snappy Parquet). Parquet merges its schemas
 * into `registry` in `store` (both borrowed). KL_OK or KL_ENOMEM. */
int kl_pipeline_encoders_new(const struct kl_ingest_opts *o, struct kl_store *store,
			     struct kl_schema_registry *registry, struct kl_encoder **data_enc,
			     struct kl_encoder **dead_enc, struct kl_errbuf *eb);

#endif
