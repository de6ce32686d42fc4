/*
 * parts.h — one buffer per open partition, bounded memory, flush policy.
 *
 * The table maps a partition prefix (see route/partition.h) to a buffer of
 * encoded records (JSON lines) plus the input positions they cover. The
 * pipeline appends into part->data directly (no intermediate copy) and then
 * calls kl_parts_note_append() so the table can keep its accounting.
 *
 * Encoded, not text: part->data is only the raw tail. Once it holds
 * block_bytes (KL_BLOCK_BYTES) note_append seals it into a zstd block of
 * part->sealed (buffer/blocks.h) with the table's reusable context, so a
 * partition holds compressed blocks plus at most one block of text. Block
 * boundaries are counted in raw bytes, so they follow the record sequence:
 * a regular block is cut at the record that brings the bytes since the
 * last regular cut to block_bytes, also when early cuts (compact, below)
 * took some of them. If sealing fails for lack of memory the text simply
 * stays raw.
 *
 * The blocks' zstd level: KL_BLOCK_LEVEL, whose frames a JSON lines file is
 * made of; kl_parts_set_held_level() sets another (or LZ4, KL_BLOCK_LZ4)
 * for the blocks of data partitions whose files are not made of the
 * frames (Parquet: the encoder unpacks them), so sealing and unsealing
 * cost less CPU and the blocks more memory. Dead-letter partitions
 * (p->dead, JSON lines files) stay at KL_BLOCK_LEVEL. The level is a
 * function of the partition, never of the thread that seals, so the
 * frames are too.
 *
 * Sealing on other threads (kl_parts_seal_async; the pipeline asks for it
 * with --threads > 1): note_append still cuts the block, at the same
 * record, but hands the full tail buffer to a seal pool (buffer/seal.h)
 * instead of compressing it: the block's index slot is made now (z NULL
 * until the frame is back), its raw bytes count in kl_part_bytes at once,
 * and the partition goes on with a recycled empty buffer of the capacity
 * the synchronous path would have kept (the pool's buffers come back to
 * the table's spares; no allocation per block in the steady state beyond
 * the frame's own). Frames are "settled" (moved into their slots, the
 * memory accounted exactly) on the table's thread only: whatever is done
 * when the next block is cut, and everything before a decision needs it.
 * Until settled a block counts at kl_blocks_bound(raw), an upper bound of
 * its frame, so `mem`, `accounted` and the budget are never below what
 * synchronous sealing would count, and equal it when nothing is in flight.
 *
 * Why the files are the same (determinism): a frame is a function of its
 * block's bytes whichever thread makes it (buffer/blocks.h; the JSON lines
 * files are made of them), so only flush decisions could differ, and every
 * decision reading memory sees the synchronous values. The block cuts, the
 * raw byte counts, the index and tail capacities are the same at every
 * record; only a frame's size is late. "Does the budget bind?" (kl_parts_over_budget; also inside
 * should_shed and next_flush) is monotone in it: not binding at the upper
 * bound means not binding exactly, and binding at the upper bound waits
 * for the table's seals (the table's thread compresses queued ones itself
 * meanwhile) and decides again on exact sizes. Early sealing (compact)
 * waits for its seals before the budget is looked at again; the choices
 * by memory (kl_parts_largest, kl_parts_pick_for_memory) and detach (which
 * also returns the memory the writer is charged with) settle first. With a
 * budget shared by several tables (a stream's shards), another table may
 * see this one's upper bounds for as long as a seal is in flight; those
 * decisions already depend on timing (the other shards' progress), and
 * this table's own stay exact.
 *
 * Held raw (kl_parts_hold_raw; the pipeline asks for it where blocks are
 * only held until an encoder unpacks them, Parquet, and the run has a
 * budget of its own): a data partition's regular cut keeps the block's text
 * as it is (the tail's buffer, shrunk to its length) instead of sealing
 * it, and counts it at kl_blocks_bound(raw), the upper bound of its frame,
 * just as a seal in flight is counted. Such a block is sealed only when a
 * decision needs exact sizes, by the same path as the seals in flight
 * (settle_all: the budget binds at the upper bounds, a choice by memory,
 * early sealing). A buffer that is flushed first goes to the writer with
 * its blocks raw: its text is neither compressed nor unpacked (about a
 * fifth of a Parquet run's CPU where the budget does not bind,
 * bench/README.md, session 36). The argument above covers the table's own
 * decisions; what crosses a decision's time is the writer's charge for a
 * detached buffer, which here is the buffer as if every block were held
 * (kl_parts_detach: the upper bound of each block's frame, sealed or not)
 * — a function of the block cuts alone, so of the records, not of which
 * blocks a decision happened to seal (a restart's rebuild makes none).
 * On a budget shared by several tables (a stream's shards, whose memory
 * decisions depend on timing anyway) a table holds blocks raw only while
 * the budget is at most three quarters of its room: a cut above that
 * seals, and seals the table's held blocks too, so the budget binds on
 * compressed blocks as it would without holding (another table's held
 * blocks are sealed at its own next cut, or when it sees the budget bind:
 * settle_all; the last quarter is their margin). The writer
 * is charged a detached buffer's exact memory there, and
 * kl_parts_held_waits, a device of exact replay, says no.
 *
 * Flush policy (kl_parts_next_flush), one of two modes:
 *   interval (the default): a partition is due when its buffered raw bytes
 *     (kl_part_bytes: uncompressed JSON lines, like Firehose's buffer size,
 *     whatever the blocks compress to) reach max_file_bytes or when its
 *     oldest record has waited flush_interval (wall time);
 *   window (kl_parts_set_window): files are closed by event time. The
 *     table keeps a watermark, the largest created_at seen minus the
 *     allowed lateness (kl_parts_note_time, called for every valid event,
 *     also those only replayed); `closed` counts the event hours that end
 *     at or before it. A partition (whose key holds its hour, p->hour) is
 *     due when its hour is closed, so it gets one file; a record for a
 *     closed hour is late: it is buffered in the same partition and that
 *     buffer is due when the next hour closes (a late file beside the
 *     hour's file, named after its first record like any file). Dead
 *     letters (p->hour < 0) are due whenever an hour closes. Every decision
 *     is a function of the record sequence, never of the clock, so a run
 *     restarted from a checkpoint makes the same files (see
 *     kl_parts_min_pending for the one condition this needs).
 *     max_file_bytes still applies.
 * In both modes, while the memory budget (buffer/budget.h; `mem`: the sum of
 * the sealed blocks' and the tails' capacities, charged to it) binds even
 * after every tail of a quarter block or more was sealed early, the buffers
 * holding the most memory go first (with a shared budget, half of this
 * table's memory at once: kl_parts_pick_for_memory) when it holds a fair
 * share of the budget
 * (kl_parts_should_shed) — the only decision that depends on timing (other
 * shards, the writer's speed). After a flush, kl_parts_detach() hands the
 * blocks and the tail to the writer and empties the partition, so memory
 * stays bounded however many partitions have ever been open.
 *
 * Replay: each partition also remembers `stored_upto`, the highest input
 * position already in a durable file (loaded from state, never lowered by
 * a detach); records at or below it are skipped by the pipeline, or in an
 * exact replay (pipeline.h) buffered and dropped unwritten.
 *
 * Threads: the table is used by one thread; a seal pool's threads see only
 * the buffers handed to them (buffer/seal.h) and never a kl_part.
 *
 * Ownership: the table owns every kl_part and its key and data, the seal
 * pool and its spares; pointers to parts stay valid until
 * kl_parts_cleanup(), which stops the pool first (a seal being made is
 * finished) and frees whatever is in flight.
 */
#ifndef KL_BUFFER_PARTS_H
#define KL_BUFFER_PARTS_H

#include "buffer/blocks.h"
#include "buffer/budget.h"
#include "core/buf.h"

#include <stdint.h>

struct kl_seal_pool;

struct kl_part {
	char *key; /* NUL-terminated partition prefix */
	size_t key_len;
	uint64_t hash;
	struct kl_buf data;  /* the raw tail: records, each ending in '\n' */
	struct kl_blocks sealed; /* the records before the tail, compressed (its tail unused) */
	uint64_t count;      /* records in sealed + data */
	int64_t text_adj;    /* what the records' JSON lines would take minus what they
			      * take (rows, event/row.h; 0 for JSON lines): the
			      * pipeline adds it per record, kl_part_bytes counts it */
	uint64_t first_pos;  /* input position of the first record buffered */
	uint64_t last_pos;   /* ... and of the last */
	int64_t first_ns;    /* monotonic time the first record was buffered */
	uint64_t stored_upto; /* replay: positions <= this are already stored */
	int has_stored;
	size_t accounted;    /* memory (blocks + pend_bound + data.cap) as last counted in the
			      * table's total */
	size_t pending;	     /* blocks of `sealed` the seal pool is still making ... */
	size_t pend_bound;   /* ... and the upper bound of their frames (counted for them) */
	size_t nheld;	     /* blocks of `sealed` held raw (kl_parts_hold_raw) ... */
	size_t held_slack;   /* ... and what their frames' upper bound adds to their text
			      * (counted for them too) */
	size_t bound_all;    /* kl_parts_hold_raw: the upper bound of every block's frame,
			      * sealed or not (kl_parts_held_waits, kl_parts_detach) */
	size_t held_acct;    /* bound_all plus the index and tail as last counted in
			      * t->held_mem */
	uint64_t files;      /* files written for this partition in this run */
	uint64_t name_pos;   /* set by the pipeline (ingest's name_before_dedup): */
	int named;           /* the next file is named after name_pos if earlier */
	int dead;            /* set by the pipeline: a dead-letter partition (errors/...) */
	/* set by the pipeline (exact replay) at the first record buffered: the
	 * dedup window's start before it, and before the watermark's record */
	uint64_t first_window, first_wm_window;
	/* window mode */
	int64_t hour;	       /* event hour (created_at / 3600) of the key; -1: none (set by
				* the pipeline, -1 from kl_parts_get) */
	int64_t first_closed;  /* t->closed when the first record buffered was */
	uint64_t first_wm_pos; /* t->wm_pos then */
};

struct kl_parts {
	struct kl_part **v;
	size_t n, cap;
	uint32_t *index; /* open addressing: part index + 1 */
	size_t index_mask;
	uint64_t seed;	 /* of the index's hashes (core/seed.h): keys come from events */
	size_t mem;      /* memory held: sealed blocks plus tail capacities */
	size_t block_bytes; /* seal a tail at this many raw bytes; 0 = never
			     * (KL_BLOCK_BYTES; kl_parts_set_block_bytes) */
	int held_level;	    /* zstd level of data partitions' blocks (dead letters':
			     * KL_BLOCK_LEVEL); kl_parts_set_held_level */
	int hold_raw;	    /* data partitions' blocks stay raw until a decision needs
			     * their exact size; kl_parts_hold_raw */
	size_t nheld;	    /* blocks held raw, in all partitions */
	size_t held_mem;    /* hold_raw: memory as if every block were held (the
			     * partitions' held_acct) */
	struct kl_blocks_zctx zctx; /* the reader thread's compression context */
	struct kl_seal_pool *seal;  /* kl_parts_seal_async: the sealing threads, else NULL */
	struct kl_buf *spare;	    /* tail buffers back from them, for the next cuts */
	size_t nspare, spare_max;
	size_t max_file_bytes;
	size_t memory_limit; /* the own budget's limit */
	int64_t flush_interval_ns;
	struct kl_budget own;	  /* used unless kl_parts_share_budget() */
	struct kl_budget *budget; /* what the buffers are charged to */
	/* window mode */
	int window;	  /* files are closed by event hour, not by interval */
	int64_t lateness; /* seconds subtracted from the largest created_at */
	int has_wm;	  /* a valid event was seen */
	int64_t wm_max;	  /* largest created_at seen (whole seconds) */
	uint64_t wm_pos;  /* position of the (first) record holding it */
	int64_t closed;	  /* hours h < closed are closed: floor((wm_max - lateness) / 3600) */
	uint64_t late;	  /* records buffered for a closed hour (counter) */
};

void kl_parts_init(struct kl_parts *t, size_t max_file_bytes, size_t memory_limit,
		   int64_t flush_interval_ns);
void kl_parts_cleanup(struct kl_parts *t);

/* Seal full tails on `threads` threads of the table's own (buffer/seal.h,
 * named "kl-seal") instead of the caller's; threads <= 1: keep sealing on
 * the caller's thread. Before the first append. KL_OK, or KL_ENOMEM (the
 * reason in eb) with the table still synchronous. */
int kl_parts_seal_async(struct kl_parts *t, size_t threads, struct kl_errbuf *eb);

/* Seal the blocks of data partitions (not dead letters) at zstd level
 * `level`, or as LZ4 blocks (buffer/blocks.h: KL_BLOCK_LEVEL_HELD, when no
 * file is made of their frames), instead of KL_BLOCK_LEVEL; before the
 * first append. */
void kl_parts_set_held_level(struct kl_parts *t, int level);

/* Hold data partitions' blocks raw (buffer/blocks.h `held`) when they are
 * cut, and seal them only when a decision needs exact sizes (above: "Held
 * raw"; on a shared budget, also once it is 3/4 full); before the first
 * append, after kl_parts_share_budget. */
void kl_parts_hold_raw(struct kl_parts *t);

/* Seal tails at `bytes` raw bytes instead of KL_BLOCK_BYTES (> 0; the
 * pipeline: KL_BLOCK_BYTES_FRAMES where the frames are the files); before
 * the first append. Block boundaries stay a function of the records. */
void kl_parts_set_block_bytes(struct kl_parts *t, size_t bytes);

/* Charge the buffers to `b` (borrowed, shared with other tables and
 * writers; NULL: the own one) instead of the table's own budget; before
 * the first append. The table counts itself in b->tables until cleanup. */
void kl_parts_share_budget(struct kl_parts *t, struct kl_budget *b);

/* Window mode with this allowed lateness (seconds >= 0); before the first
 * record. */
void kl_parts_set_window(struct kl_parts *t, int64_t lateness_s);

/* Window mode: a valid event with created_at `sec` at `pos` was read
 * (every one, in input order, also those skipped as duplicates or as
 * already stored). Returns 1 when an hour closed with it (partitions may be
 * due now), else 0. A no-op in interval mode. */
int kl_parts_note_time(struct kl_parts *t, int64_t sec, uint64_t pos);

/* Window mode: is event hour `hour` closed (a record for it is late)? */
static inline int kl_parts_is_late(const struct kl_parts *t, int64_t hour)
{
	return t->window && t->has_wm && hour < t->closed;
}

/* Find or create the partition for key[0..n). NULL on allocation failure. */
struct kl_part *kl_parts_get(struct kl_parts *t, const char *key, size_t n);

/* Bookkeeping after the caller appended one record for `pos` to p->data.
 * now_ns is read only for p's first record (when the interval starts):
 * callers may pass 0 when p->count is not 0, and spare the clock. */
void kl_parts_note_append(struct kl_parts *t, struct kl_part *p, uint64_t pos, int64_t now_ns);

/* A partition that must be flushed now, or NULL. `all` = end of input.
 * Due by the mode's policy first; else, while the budget binds (after
 * sealing tails early), the one holding the most memory. */
struct kl_part *kl_parts_next_flush(struct kl_parts *t, int64_t now_ns, int all);

/* Only what the mode's policy says is due (size, age or window), or NULL. */
struct kl_part *kl_parts_next_due(struct kl_parts *t, int64_t now_ns);

/* The non-empty buffer holding the most memory, or NULL. */
struct kl_part *kl_parts_largest(struct kl_parts *t);

/* The budget binds even after sealing this table's tails early, and this
 * table holds at least half its fair share of it (kl_budget_room /
 * tables sharing it): it should shed (kl_parts_pick_for_memory). */
int kl_parts_should_shed(struct kl_parts *t);

/* The budget binds: the buffers to flush, most memory first. A table
 * sharing its budget with others takes them until they hold at least half
 * of its memory (it sheds half of what it holds at once, instead of one
 * small file per append while idle tables hold the rest); a table alone on
 * its budget takes only the one holding the most memory. Writes up to `max`
 * parts to out[] and returns their number. */
size_t kl_parts_pick_for_memory(struct kl_parts *t, struct kl_part **out, size_t max);

/* Does the budget bind (more charged than its limit)? Decided on exact
 * sizes: if it binds while seals are in flight (counted at their upper
 * bound), it waits for them first. */
int kl_parts_over_budget(struct kl_parts *t);

/* kl_parts_hold_raw: the table, counted as if every block were held raw
 * (each at its frame's upper bound, t->held_mem), fits the budget's room
 * alone but not beside what else is charged to it (a writer's jobs): so
 * taking those back would let it go on holding. Figures that do not depend
 * on which blocks were sealed (pipeline.c check_budget). 0 otherwise. */
int kl_parts_held_waits(const struct kl_parts *t);

/* Open windows: non-empty buffers (window mode: partition-hours still open
 * plus pending late and dead-letter buffers). */
size_t kl_parts_open(const struct kl_parts *t);

/* Raw (uncompressed) bytes buffered in p as JSON lines: sealed blocks plus
 * tail, counted as the JSON lines they would be when they are rows. */
static inline uint64_t kl_part_bytes(const struct kl_part *p)
{
	return (uint64_t)((int64_t)(p->sealed.raw + p->data.len) + p->text_adj);
}

/* Is this one partition due by size? (cheap check right after an append) */
static inline int kl_parts_full(const struct kl_parts *t, const struct kl_part *p)
{
	return kl_part_bytes(p) >= t->max_file_bytes;
}

/* Move p's buffered records — its sealed blocks, and its tail as out->tail
 * — into *out (caller-owned, initialised by this call; read it with
 * kl_blocks_flatten/each, free it with kl_blocks_cleanup) for an
 * asynchronous flush, and empty p: it records p->last_pos as stored and
 * stops counting the buffer's memory (in the table and the budget: the
 * writer charges the budget again while it holds the buffer). p's seals
 * in flight are waited for first, so *out is complete and the memory
 * returned (what p held, now uncharged) is exact; with kl_parts_hold_raw,
 * held blocks leave raw and the memory returned is p as if every block
 * were held (above; on a shared budget the exact memory). */
size_t kl_parts_detach(struct kl_parts *t, struct kl_part *p, struct kl_blocks *out);

/* Smallest first_pos over non-empty buffers, or `fallback` if none: where a
 * restart must resume. Window mode also keeps the record that set the
 * watermark: the result is at most wm_pos as it was when each pending
 * buffer began (and at most the current wm_pos), so a restart re-reads the
 * record holding the largest created_at and rebuilds the same watermark
 * before the first record it buffers again. Never decreases. */
uint64_t kl_parts_min_pending(const struct kl_parts *t, uint64_t fallback);

/* Milliseconds until the oldest buffer reaches the flush interval (-1: none;
 * always -1 in window mode, which never flushes by the clock). */
int kl_parts_ms_until_due(const struct kl_parts *t, int64_t now_ns);

#endif
