/*
 * writer.h — the pipeline's writer thread: encode -> store -> commit.
 *
 * The reader thread (pipeline.c) moves full partition buffers into a job and
 * queues it; the writer writes each of its files (encoder -> store), makes
 * them durable as a set (store sync), and then records the job's progress
 * through the checkpoint (commit/checkpoint.h), while the reader keeps
 * parsing. Jobs run in FIFO order, so a job's progress never claims records
 * of a later job. Jobs already queued behind the one the writer takes join
 * it in one batch (up to BATCH_FILES files, while no partition gets a
 * second file: commit/state.h's crash argument): their files are written
 * (store commit_deferred() where the store has it), made durable with one
 * sync, and recorded job by job with one checkpoint sync (checkpoint.h
 * commit_batch; the state log's bytes are those of one commit per job) —
 * on a local disk one round of flushes and one state-log fsync per batch
 * instead of per job (bench/README.md, Session 10). After the first failure later jobs are dropped (their
 * records stay in the input); every file's fate goes to the checkpoint's
 * file() either way.
 *
 * Split syncs (a store with sync_begin/sync_finish: store_local.c): the
 * writer does not wait for a batch's sync. It hands batch k to the sync
 * thread (kl-sync) — sync_begin() takes exactly batch k's files as the
 * store's next set — and goes on writing batch k+1 (its files wait in the
 * store's queue, not visible), while the sync thread flushes batch k,
 * renames its files, records it through the checkpoint inside
 * sync_finish()'s after(), and ends its jobs. Batch k+1 is handed over only
 * when batch k has ended, and the store keeps every later file invisible
 * until after() returned: the order of commits, and commit/state.h's crash
 * argument (at most one visible unrecorded file per partition), are those
 * of one thread. A failure in either thread drops the later jobs as before;
 * files written meanwhile are never synced, so never visible. Measured on
 * this project's VM disk (bench/README.md, Session 11). Threads wake one
 * another only when one waits, and with a signal where one waiter can use
 * it (an encoder thread passes a wake-up on while more files could start).
 *
 * An item's records come as sealed compressed blocks plus a raw tail
 * (buffer/blocks.h); an encoder that takes them so (encoder.h
 * encode_blocks: JSON lines with zstd, whose body is the blocks' frames;
 * Parquet, which unpacks a small file whole into the writer's working
 * buffer, kept between jobs up to WORK_KEEP bytes, 16 MiB, and reads a
 * larger one block by block) gets them as they are, with the writer's
 * unpacking buffers to use; otherwise the writer unpacks them exactly,
 * block by block into the encoder's streaming input in fixed-size pieces
 * (JSON lines, gzip or none), or all into that working buffer for a small
 * body, so a file's bytes are what the encoder makes of the records,
 * wherever the blocks were cut early. The writer knows no format: which
 * way a file goes is the encoder's ops.
 *
 * Encoding in parallel (nenc > 0): encoder threads, each with its own
 * copies of the encoders (encoder.h clone()) and its own unpacking buffers,
 * take the files of the queued jobs in queue order — across job
 * boundaries, so single-file jobs overlap too — and encode each into a
 * body of its own in memory, exactly as the writer would (the same pieces
 * to a streaming encoder). The writer thread still takes every file in
 * order: it applies the file's shared side effects (publish(): the Parquet
 * schema registry), stores the body in one write and commits. An encoder
 * thread does not wait for that: it moves what the file left to publish
 * into a copy that travels with the body (hand_over()) and goes on to its
 * next file, so a large file or a slow store does not idle the others.
 * Files, their bytes, the registry and the commits are thus the same as
 * with one thread; only the store is never used by two threads. Spilled
 * dead letters (too large for memory) are encoded by the writer thread
 * itself.
 *
 * Memory of the hand-over: the budget is charged exactly as with one
 * thread (a job's buffers, from queueing to the end of the job), so memory
 * decisions, and thus the lake, do not depend on the threads. A body
 * waiting for the writer takes the place of its records: an encoder thread
 * frees them once it has encoded them, while their charge stays until the
 * job ends. An encoder thread takes a further file while fewer bodies
 * wait than there are encoder threads (as when each thread held its one
 * body: the file the writer needs next is then always encoded), and beyond
 * that only while the bodies waiting take less memory (their capacity)
 * than their records were charged (`credit`), fewer than
 * KL_WRITER_HOLD_FILES wait and fewer than hold_max bytes
 * (KL_WRITER_HOLD_BYTES, at most an eighth of the budget's limit). So
 * --memory-limit still bounds the process: beyond what the budget counts
 * for them, bodies take at most one file per encoder thread waiting plus
 * the one each is encoding (the fixed costs of --memory-limit cover a file
 * per thread, as before).
 *
 * Ownership: the writer owns the queued jobs and their buffers, and the
 * bodies (struct kl_writer_body, waiting or reusable); it borrows
 * the store, the encoders and the checkpoint from start to join, and is
 * their only user meanwhile (encoder threads use their own copies; with
 * split syncs the checkpoint, the stats, the metrics and the ending of
 * jobs are the sync thread's, the store is shared as store.h allows). The
 * stats it updates and the hand-over of files are guarded by its mutex.
 */
#ifndef KL_PIPELINE_WRITER_H
#define KL_PIPELINE_WRITER_H

#include "buffer/blocks.h"
#include "buffer/budget.h"
#include "commit/checkpoint.h"
#include "core/buf.h"
#include "core/err.h"
#include "deadletter/deadletter.h"
#include "encode/encoder.h"
#include "pipeline/ingest.h"
#include "store/store.h"

#include <pthread.h>
#include <stdint.h>

/* One file of a job. */
struct kl_writer_item {
	char stem[320];	 /* file name without extension */
	const char *key; /* partition prefix, owned by the partition table, stable */
	size_t key_len;
	struct kl_blocks data; /* the partition's buffered lines (sealed blocks + tail) */
	/* a too_large record kept whole on disk: `data` is then the head of its
	 * dead-letter line, and the spill its raw bytes (deadletter.h) */
	struct kl_spill spill;
	uint64_t count, first_pos, last_pos;
	uint64_t rescued; /* encoded: rows with members past the column cap (encoder.h) */
	size_t bytes; /* its part of the job's `bytes` (the budget charge of `data`) */
	int dead;     /* a dead-letter file (errors/...), else a data file */
	int durable;  /* committed and synced */
	/* parallel encoding (under the writer's mutex) */
	int enc_state;		     /* KL_WRITER_ITEM_* */
	int enc_rc;		     /* the encoder thread's result */
	int credited;		     /* encoded: `bytes` is in the writer's credit */
	struct kl_writer_body *body; /* ENCODED: the encoded file (NULL: ENOMEM) */
};

enum {
	KL_WRITER_ITEM_NEW,	 /* not taken */
	KL_WRITER_ITEM_ENCODING, /* an encoder thread has it */
	KL_WRITER_ITEM_ENCODED,	 /* its body waits for the writer (item->body) */
	KL_WRITER_ITEM_WRITER,	 /* the writer thread does it all */
};

/* Where an item's sealed blocks are unpacked for its encoder. */
struct kl_writer_unpack {
	struct kl_blocks_zctx zctx;
	struct kl_buf work, stage;
};

/* Unpacking buffers shared by the writer threads of a process (a stream's
 * shards; NULL elsewhere). A writer thread that encodes a file itself takes
 * one for that file and gives it back after, so the process keeps n of
 * them (each one's work buffer up to WORK_KEEP, 16 MiB: a Parquet file's
 * text) instead of one per shard, and encodes at most n files at once that
 * way — with n the CPUs, as many as can run. Measured: one production hour
 * over 4 shards, a work buffer of ~8 MiB per shard kept outside
 * --memory-limit. A file's bytes do not depend on which buffers unpacked
 * it. Taking one waits only for another file's encoding (and, for a store
 * that uploads while it is written to, that upload) to end. */
struct kl_writer_unpack_pool {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct kl_writer_unpack *v;
	struct kl_writer_unpack **free; /* free[0..nfree) */
	size_t n, nfree;
};

/* n >= 1 sets of buffers. KL_OK or KL_ENOMEM. */
int kl_writer_unpack_pool_init(struct kl_writer_unpack_pool *p, size_t n);
void kl_writer_unpack_pool_cleanup(struct kl_writer_unpack_pool *p);

/* Encoded bodies waiting for the writer: at most this many files ... */
#define KL_WRITER_HOLD_FILES 256
/* ... and this many bytes (less with a small budget, writer.c hold_max) */
#define KL_WRITER_HOLD_BYTES ((size_t)64 << 20)

/* An encoded file, from its encoder thread to the writer thread. Reused
 * through the writer's free list. */
struct kl_writer_body {
	struct kl_buf buf; /* the file's bytes */
	/* copies of the data / dead-letter encoder that carry what the file
	 * left to publish (encoder.h hand_over()); NULL until first needed, and
	 * for an encoder without publish() */
	struct kl_encoder *data_note, *dead_note;
	struct kl_errbuf eb;	     /* the encoding's error message */
	size_t bytes;		     /* its memory (capacity), in the writer's held_bytes */
	struct kl_writer_body *next; /* in the free list */
};

/* One encoder thread. */
struct kl_writer_enc {
	pthread_t thread;
	struct kl_encoder *data_enc, *dead_enc; /* its copies */
	struct kl_writer_unpack un;
};

struct kl_writer_job {
	struct kl_writer_item *items;
	size_t n;
	uint64_t resume, window;
	char checkpoint[160]; /* the source's resume point, "" if it has none */
	struct kl_state_replay replay; /* exact replay's M line (replay.known 0: none) */
	size_t bytes;	      /* buffer memory charged (the items' `bytes`) */
	struct kl_writer_job *next;
};

/* Files the writer has written, jobs first..last, waiting to be made
 * durable and recorded (writer.c finish()). */
struct kl_writer_batch {
	struct kl_writer_job *first, *last;
	size_t njobs, nfiles;
	size_t written; /* items of `last` written */
	int rc;		/* the writing's result */
	int synced;	/* sync_begin() took its files: sync_finish() them */
	int drop;	/* not written (after a failure): only freed */
};

struct kl_writer {
	pthread_t thread;
	int started;
	pthread_mutex_t mu;
	pthread_cond_t cv;	 /* the writer waits here for jobs */
	pthread_cond_t enc_cv;	 /* encoder threads wait here for files */
	pthread_cond_t done_cv;	 /* an item is encoded (the writer, the syncer wait) */
	pthread_cond_t space_cv; /* a job ended, or the writer failed (the queuer waits) */
	size_t enc_idle;	 /* encoder threads waiting on enc_cv */
	size_t done_waiters, space_waiters;
	struct kl_writer_job *head, *tail;
	struct kl_writer_job *run; /* the first job the writer has not taken yet */
	/* split syncs (store sync_begin/sync_finish): the syncer thread makes
	 * batch k durable and records it while the writer writes batch k+1 */
	int overlap;
	pthread_t sync_thread;
	int sync_created, sync_stop;
	int sb_state; /* SB_IDLE, SB_HANDED (sb waits), SB_RUNNING */
	struct kl_writer_batch sb;
	pthread_cond_t sync_cv; /* sb_state changed */
	int wfailed;		/* the writer failed; the syncer has not ended its batch yet */
	struct kl_errbuf *web;	/* where the writer thread's errors go (eb, or wr_eb) */
	struct kl_errbuf wr_eb, sy_eb;
	struct kl_errbuf enc_eb; /* the writer thread's encoding into a store file (store_item) */
	size_t queued;	 /* jobs not finished */
	size_t inflight; /* bytes held by unfinished jobs */
	int stop;
	int failed; /* the first error is in *eb */
	/* borrowed */
	struct kl_store *store;
	struct kl_encoder *data_enc, *dead_enc;
	struct kl_checkpoint *cp;
	struct kl_ingest_stats *st;
	struct kl_metrics *metrics;
	struct kl_errbuf *eb;
	uint64_t out_published; /* store bytes already added to metrics */
	/* optional, borrowed, set before start: the memory budget charged with
	 * the queued jobs' buffers while the writer holds them (buffer/budget.h) */
	struct kl_budget *budget;
	/* set before start, for a budget the writer shares with one reader
	 * only (a file, stdin, a Lambda batch): a finished job's charge stays
	 * on the budget (in `released`, under mu) until kl_writer_wait_memory,
	 * which waits for every queued job and gives all of it back at once.
	 * So the reader's view of the budget, and every flush it decides by
	 * memory, is a function of what it queued, never of how far the writer
	 * got: the lake is the same at any speed and any --threads, also when
	 * the budget binds all the time. (A stream's shards share a budget
	 * whose use depends on each other's timing anyway.) */
	int defer_release;
	size_t released;
	struct kl_buf name;
	/* an item's sealed blocks are unpacked into `work` for its encoder,
	 * and staged in `stage` for a streaming one; with unpack_pool
	 * (optional, borrowed, set before start) the writer thread encodes
	 * with a set it takes from the pool instead, and `un` serves only the
	 * spilled dead letters it streams itself */
	struct kl_writer_unpack un;
	struct kl_writer_unpack_pool *unpack_pool;
	/* parallel encoding: nenc threads; the next file to hand out */
	struct kl_writer_enc *enc;
	size_t nenc, nenc_alloc, nenc_started, nenc_created;
	struct kl_writer_job *enc_job;
	size_t enc_item;
	int enc_stop;
	/* bodies encoded and not yet stored: how many, their bytes, the limit
	 * of those bytes; the budget charge of the records encoded (freed) in
	 * unfinished jobs, which they may use; reusable bodies */
	size_t held, held_bytes, hold_max, credit;
	struct kl_writer_body *free_bodies;
	size_t nfree;
};

/* Set up (no thread yet); the pointers are borrowed. */
void kl_writer_init(struct kl_writer *w, struct kl_store *store, struct kl_encoder *data_enc,
		    struct kl_encoder *dead_enc, struct kl_checkpoint *cp,
		    struct kl_ingest_stats *st, struct kl_metrics *metrics, struct kl_errbuf *eb);
/* Encode on `n` threads of their own (before start; n <= 1 or encoders
 * without clone(): the writer thread encodes). KL_OK or KL_ENOMEM. */
int kl_writer_parallel(struct kl_writer *w, size_t n);
int kl_writer_start(struct kl_writer *w);
/* Queue a job (the writer owns it from now on, also on error); waits while
 * `max_jobs` are pending. The writer's first error if it has failed. */
int kl_writer_queue(struct kl_writer *w, struct kl_writer_job *j, size_t max_jobs);
/* Wait until budget `b` no longer binds, or this writer's queue is empty
 * (what it holds is then given back: the rest is other shards' to free).
 * With defer_release: wait until the queue is empty, whatever `b` says,
 * and give back what the finished jobs held. */
void kl_writer_wait_memory(struct kl_writer *w, const struct kl_budget *b);
/* With defer_release: charge the budget `n` bytes as if finished jobs held
 * them (given back at the next kl_writer_wait_memory): a restart's share
 * of the first run's outstanding charge (pipeline.c, exact replay). */
void kl_writer_charge(struct kl_writer *w, size_t n);
/* Finish every queued job and stop; the writer's first error, if any. */
int kl_writer_join(struct kl_writer *w);
/* Join if needed, drop what is left, free everything. */
void kl_writer_cleanup(struct kl_writer *w);

#endif
