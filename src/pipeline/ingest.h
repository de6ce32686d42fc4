/*
 * ingest.h — a file or stdin into a lake directory (`kinlake ingest
 * --input`), and the knobs every ingest shares.
 *
 * kl_ingest_run() wires the parts of the ingest core (pipeline/pipeline.h)
 * for one input: a line source over the file (source/source.h), the local
 * store, the encoders, a private dedup window, and the state log in the lake
 * as checkpoint (commit/checkpoint.h) — exactly once across crashes, see
 * commit/state.h. File names are <input id>-<position of the file's first
 * record><ext>, the input id being a hash of the input's content (or of
 * --input-id; source/input_id.h).
 *
 * struct kl_ingest_opts holds the user-level knobs only; the stream and
 * Lambda entry points (pipeline/stream.h, lambda/esm.h) fill the same struct
 * and pass their own parts to the core.
 */
#ifndef KL_PIPELINE_INGEST_H
#define KL_PIPELINE_INGEST_H

#include "core/err.h"
#include "encode/encoder.h"
#include "event/event.h"

#include <stdint.h>

struct kl_cancel;
struct kl_metrics;
struct kl_schema_registry;

/* What a progress callback is told, every ~200 ms and once at the end. */
struct kl_ingest_progress {
	uint64_t pos;	  /* input position reached */
	uint64_t size;	  /* input size in bytes, 0 = unknown (a pipe, a stream) */
	uint64_t records; /* records read */
	double seconds;
	int final;   /* the last call of the run */
	int hashing; /* naming the input (source/input_id.h) before reading it:
		      * pos is how far the hash has come; records is 0 */
};

/* How files are closed (buffer/parts.h). */
enum kl_window {
	KL_WINDOW_INTERVAL, /* by size and by age (--flush-interval): fresh, many files */
	KL_WINDOW_HOUR,	    /* by event hour and watermark: one file per partition-hour */
};

struct kl_ingest_opts {
	const char *input;    /* path, or "-" for stdin (kl_ingest_run) */
	const char *input_id; /* NULL: hash of the file content; stdin: unique per run */
	const char *lake;     /* lake root directory (kl_ingest_run) */
	enum kl_format format;
	enum kl_compression compression; /* of data files; dead letters: zstd for snappy */
	int level;			 /* compression level, 0 = default */
	size_t max_file_bytes;		 /* flush a partition at this many buffered bytes */
	int64_t flush_interval_ms;	 /* ... or when its oldest record is this old */
	size_t memory_limit;		 /* flush the largest buffer above this total */
	enum kl_window window;		 /* how files are closed */
	int64_t allowed_lateness_ms;	 /* window mode: the watermark trails created_at so */
	size_t dedup_window;		 /* events; 0 disables */
	struct kl_event_limits limits;
	int stop_fd;		/* readable => flush, commit and stop (a signalfd), or -1 */
	/* Borrowed, may be NULL: the shutdown request (core/stop.h). Checked
	 * before every record, so reading stops at once when it fires; then
	 * what is buffered is committed as with stop_fd. */
	const struct kl_cancel *stop;
	size_t row_group_bytes; /* parquet */
	size_t max_columns;	/* parquet: a file's columns at most (encoder.h); 0: the default */
	/* Threads that parse, validate, enrich and route records (over chunks
	 * of the input) and that encode files; the lake is the same whatever
	 * the number. <= 1: the reader does it all, one writer thread encodes. */
	unsigned threads;
	/* Live counters (metrics/metrics.h), borrowed, may be NULL: the reader
	 * adds what it read every few thousand records, the writer what is
	 * durable after each commit. Several runs may share one. */
	struct kl_metrics *metrics;
	/* Borrowed, optional: the lake's store when it is not a local directory
	 * (an S3 lake, store/store_url.h); the state log is then one object in
	 * it, _kinlake/state/<input id>.log. NULL: `lake` is a directory, opened
	 * (and swept of temporary files) by the run. */
	struct kl_store *store;
	/* Optional: told how far the run is (reader thread). The CLI draws its
	 * progress bar from it; library code prints nothing. */
	void (*progress)(void *ctx, const struct kl_ingest_progress *p);
	void *progress_ctx;
};

struct kl_ingest_stats {
	uint64_t records;    /* records read this run */
	uint64_t stored;     /* events written to data files */
	uint64_t rescued;    /* ... of which with fields past --max-columns (Parquet) */
	uint64_t dead;	     /* dead letters written */
	uint64_t duplicates; /* dropped as repeats of an event_uuid */
	uint64_t replayed;   /* skipped: already durable from an earlier run */
	uint64_t files;	     /* files committed (data + dead letters) */
	uint64_t bytes_in, bytes_out;
	uint64_t dead_by_reason[KL_REJ_COUNT];
	double seconds;
	int interrupted;  /* stopped early by stop_fd */
	/* The input's own bytes could not be decoded (a damaged or truncated
	 * compressed file: the source's KL_EPARSE); what came before is
	 * committed, and reading it again fails at the same place. */
	int input_damaged;
	int already_done; /* the state said this input was fully ingested */
	/* A file named by its content that grew while it was read: only its
	 * first hashed_size bytes were read (the content its name is the hash
	 * of); it was grown_size at the end. Both 0 otherwise. */
	uint64_t hashed_size, grown_size;
	/* A file named by its content that begins with an earlier input, read
	 * to its end then (it grew since): its first cont_size bytes were that
	 * input, cont_id, and were not read again. 0 otherwise. */
	uint64_t cont_size;
	char cont_id[17];
	/* that earlier input's run had stopped before its end: this run went
	 * on with it first (its records read now; the counts above include
	 * them). 0 otherwise. */
	uint64_t cont_finished;
	char input_id[17];
};

void kl_ingest_opts_default(struct kl_ingest_opts *o);

/* Add s's counts of records, events, files and bytes to t (a run made of
 * runs: a stream's shards, a file that finishes an earlier input first). */
void kl_ingest_stats_add(struct kl_ingest_stats *t, const struct kl_ingest_stats *s);

/* o->input into the local lake o->lake (see above). */
int kl_ingest_run(const struct kl_ingest_opts *o, struct kl_ingest_stats *st, struct kl_errbuf *eb);

#endif
