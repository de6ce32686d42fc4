/*
 * seal.h — worker threads that compress a partition table's full tails into
 * blocks (buffer/blocks.h), so that the table's thread (the pipeline's
 * reader) only copies records into tails and decides.
 *
 * A job is one block the table has cut: the raw buffer that was the
 * partition's tail (handed over whole; the partition goes on with another
 * buffer), and, once done, its frame (kl_blocks_frame). The pool knows
 * nothing of partitions: `owner`, `slot` and `bound` are the table's notes.
 *
 * The ring: the owner thread (the one thread that uses the table) fills the
 * job at the head and pushes it; workers take pushed jobs in push order;
 * the owner takes done jobs back from the tail, also in push order
 * (kl_seal_pool_oldest), moves the frame and the raw buffer out, and pops
 * the job. While it waits for the oldest job the owner compresses jobs no
 * worker has taken yet itself, so a wait is never idle while work is
 * queued, and a full ring (kl_seal_pool_full) only makes the owner help.
 * A sleeping worker is woken for a few queued jobs, not for each (a
 * wake-up may preempt the owner on a busy machine); an awake worker takes
 * every queued job before it sleeps again.
 *
 * Threads: a job belongs to the owner, except from the moment a thread
 * takes it until it is done, when it belongs to that thread alone (the
 * pool's mutex hands it over both ways). A worker touches nothing but the
 * job and its own compression context: never a partition, a table or a
 * budget, so every piece of accounting stays on the owner's thread.
 *
 * Memory: a ring of kl_seal_pool_cap() jobs (4 per thread, at least 64), each holding at
 * most one raw buffer and one frame; nothing is allocated per job beyond the
 * frame itself (kl_blocks_frame's exact-size allocation).
 *
 * Ownership: kl_seal_pool_new() makes the pool and starts its threads
 * (named "kl-seal"); the pool owns them, their contexts and whatever its
 * jobs hold until they are popped. kl_seal_pool_free() stops the threads (a
 * job being compressed is finished first) and frees what the ring still
 * holds, done or not; free(NULL) is a no-op.
 */
#ifndef KL_BUFFER_SEAL_H
#define KL_BUFFER_SEAL_H

#include "buffer/blocks.h"
#include "core/buf.h"
#include "core/err.h"

#include <stddef.h>

struct kl_seal_job {
	/* the owner's notes (the pool does not read them) */
	void *owner;
	size_t slot;
	size_t bound;
	int own_raw; /* raw is not a reusable tail buffer (buffer/parts.c: a held
		      * block's text, allocated to its length): freed once sealed */
	/* in: the block's raw bytes, raw.len of them (the pool owns the buffer
	 * until the job is popped, unless the owner moves it out first), and
	 * the zstd level of its frame */
	struct kl_buf raw;
	int level;
	/* out: the frame, made with kl_blocks_frame (rc == KL_OK), else NULL */
	char *z;
	size_t zlen;
	int rc;
	int state; /* the pool's, under its mutex */
};

struct kl_seal_pool;

/* Jobs the ring holds per worker thread (at least 64 in all, seal.c):
 * enough to keep every worker busy while the owner cuts the next blocks. */
#define KL_SEAL_JOBS_PER_THREAD 4

/* Start `nthreads` (>= 1) workers. KL_OK, or KL_ENOMEM with *out NULL and
 * the reason in eb. */
int kl_seal_pool_new(struct kl_seal_pool **out, size_t nthreads, struct kl_errbuf *eb);
void kl_seal_pool_free(struct kl_seal_pool *sp);

/* Jobs the ring holds (pushed and not popped), and how many it can hold. */
size_t kl_seal_pool_pending(const struct kl_seal_pool *sp);
size_t kl_seal_pool_cap(const struct kl_seal_pool *sp);
static inline int kl_seal_pool_full(const struct kl_seal_pool *sp)
{
	return kl_seal_pool_pending(sp) == kl_seal_pool_cap(sp);
}

/* The job to fill at the head (the ring must not be full): every field but
 * `state` is the owner's to set; then kl_seal_pool_push() hands it over. */
struct kl_seal_job *kl_seal_pool_head(struct kl_seal_pool *sp);
void kl_seal_pool_push(struct kl_seal_pool *sp);

/* The oldest job if it is done, else NULL (also when the ring is empty).
 * With `help` (the owner's compression context) it waits until the oldest
 * is done, compressing not yet taken jobs with `help` meanwhile; NULL only
 * when the ring is empty. The owner reads the job's result, may move
 * `raw` and `z` out, then pops it. */
struct kl_seal_job *kl_seal_pool_oldest(struct kl_seal_pool *sp, struct kl_blocks_zctx *help);
/* Drop the oldest job (done); frees what the owner left in it. */
void kl_seal_pool_pop(struct kl_seal_pool *sp);

#endif
