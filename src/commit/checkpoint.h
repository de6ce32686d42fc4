/*
 * checkpoint.h — how a pipeline run remembers what is durable: a small
 * vtable, one implementation per way of keeping progress.
 *
 *   state log in the lake (kl_state_checkpoint, below; commit/state.h):
 *     a file read by `ingest --input` (positions are byte offsets, stable
 *     across runs: partitions' stored positions, resume and dedup-window
 *     points, a done marker), or a Kinesis shard read by `ingest --stream`
 *     (positions are user-record numbers counted on from the checkpoint,
 *     "at:<sequence number> <position>", so they too are stable across
 *     runs and the log means the same for both: commit/state.h);
 *   none: the Kinesis event-source-mapping Lambda (lambda/esm.c), whose
 *     checkpoint Lambda keeps; it only wants each file's fate, to report
 *     the records to retry.
 *
 * The pipeline (pipeline/pipeline.h) calls load() once on its thread before
 * the first record, commit() on its writer thread after each job's files
 * are durable, file() for every file once its fate is known (writer thread,
 * or the reader's for files dropped before they were queued — both may run
 * concurrently), and finish() on its thread when the input was read to its
 * end and every file is durable.
 *
 * Ownership: implementations are caller-owned structs that embed
 * struct kl_checkpoint; the pipeline borrows them for one run.
 */
#ifndef KL_COMMIT_CHECKPOINT_H
#define KL_COMMIT_CHECKPOINT_H

#include "commit/state.h"
#include "core/err.h"

#include <stddef.h>
#include <stdint.h>

struct kl_checkpoint;
struct kl_source;

/* One durable file of a job, as a checkpoint sees it. */
struct kl_checkpoint_file {
	const char *key; /* its partition prefix */
	size_t key_len;
	uint64_t last_pos; /* position of its last record */
};

/* What becomes true once a job's files are durable. */
struct kl_checkpoint_job {
	const struct kl_checkpoint_file *files;
	size_t n;
	uint64_t resume;	       /* every record before it is durable (or a duplicate) */
	uint64_t window;	       /* the dedup window starts here */
	const char *source_checkpoint; /* the source's resume point for `resume`, "" if none */
	/* exact replay (pipeline.h): how a restart rebuilds the memory
	 * picture of this job's build (state.h, the M line); NULL: none */
	const struct kl_state_replay *replay;
};

/* Called by load() for each partition known to be stored up to `upto`. */
typedef int (*kl_checkpoint_part_fn)(void *ctx, const char *key, size_t n, uint64_t upto);

struct kl_checkpoint_ops {
	/* Before the first record: tell the source where to resume (if it keeps
	 * its own resume point), report every stored partition through fn, and
	 * set *resume: records before it are durable and are read only to
	 * rebuild the dedup window. */
	int (*load)(struct kl_checkpoint *c, struct kl_source *src, uint64_t *resume,
		    kl_checkpoint_part_fn fn, void *ctx);
	/* A job's files are durable: record it (durably, before returning). */
	int (*commit)(struct kl_checkpoint *c, const struct kl_checkpoint_job *j);
	/* Optional (NULL: commit() for each, in order). Record jobs[0..n), all
	 * durable, as commit() would one after another — the same record, a
	 * state log's bytes included — durable together before returning: one
	 * sync where commit() would make n (the writer's batches, writer.h). */
	int (*commit_batch)(struct kl_checkpoint *c, const struct kl_checkpoint_job *jobs,
			    size_t n);
	/* Optional. A file's fate: durable (committed and synced) or not (its
	 * write failed, or it was dropped after an earlier failure). first_pos
	 * is the position it is named after, last_pos that of its last record. */
	void (*file)(struct kl_checkpoint *c, uint64_t first_pos, uint64_t last_pos, uint64_t count,
		     int durable);
	/* The input was read to its end and every file is durable. */
	int (*finish)(struct kl_checkpoint *c);
};

struct kl_checkpoint {
	const struct kl_checkpoint_ops *ops;
	/* Name a file after the first record routed to its partition, counting
	 * event_uuid duplicates that were dropped, so that names do not depend
	 * on the dedup window: for a checkpoint kept outside kinlake whose
	 * retry may run with another window (the event-source Lambda, esm.h). */
	int name_before_dedup;
	/* set by load(): the last commit's replay point (replay.known 0: none,
	 * as from an older log or a checkpoint without one) and dedup window
	 * start */
	struct kl_state_replay replay;
	uint64_t window;
	struct kl_errbuf err; /* the first error of load/commit/finish */
};

/* --- the state log in the lake -------------------------------------------- */

struct kl_state_checkpoint {
	struct kl_checkpoint base;
	struct kl_state state;
	int open;
	int run_positions;   /* a stream: P and R lines count only when the C line
			      * gives the position it resumes at (state.h) */
	uint64_t input_size; /* the D line's size */
};

/* A file's state in a local lake: _kinlake/state/<input_id>.log under
 * `lake`. input_size: the input's size (0 unknown), for the done marker. */
int kl_state_checkpoint_open(struct kl_state_checkpoint *c, const char *lake, const char *input_id,
			     uint64_t input_size);
/* A file's state as one object in `store` (borrowed): an S3 lake, where
 * _kinlake/state/<input_id>.log cannot be appended to in place. */
int kl_state_checkpoint_open_file_store(struct kl_state_checkpoint *c, struct kl_store *store,
					const char *input_id, uint64_t input_size);
/* A stream shard's state, one object in `store` (borrowed). */
int kl_state_checkpoint_open_store(struct kl_state_checkpoint *c, struct kl_store *store,
				   const char *input_id);
void kl_state_checkpoint_close(struct kl_state_checkpoint *c);

#endif
