/*
 * budget.h — one memory budget shared by every buffer of a process.
 *
 * `ingest --stream` runs one pipeline per shard; each has its own partition
 * table (buffer/parts.h) and writer queue (pipeline/writer.h). They all
 * charge one struct kl_budget, so --memory-limit bounds the process, not
 * each shard: a partition table charges the capacity of its buffers, a
 * writer the buffers of the jobs it has queued and not finished (a buffer
 * moves from one to the other when a partition is flushed).
 *
 * When the budget binds (used > room, see below), every pipeline that holds
 * at least half its fair share (room / tables) flushes its largest partitions, half
 * of what it holds (buffer/parts.h), when it next appends or polls an idle
 * source; one holding less waits a little for the others instead of making
 * small files. So the largest partitions go first per shard, not across
 * the process.
 *
 * Memory held outside the buffers that flushing cannot give back — a
 * stream's sequence-number marks (source/seqmap.h: one per record not yet
 * durable, every record of an open hour in window mode) — is pinned
 * (kl_budget_pin): the buffers make room for it, their limit is `limit`
 * less what is pinned, down to a quarter of `limit` (below that, flushing
 * could no longer make room and every record would wait for a flush).
 * Nothing pins in local mode, so its memory decisions, and its lake, do
 * not change.
 *
 * Invariants: `used` and `pinned` are only changed with kl_budget_add/_sub
 * and kl_budget_pin/_unpin (atomic, relaxed: they are gauges, not locks);
 * `limit` is set once.
 * Ownership: caller-owned, no cleanup; borrowed by tables and writers that
 * must not outlive it.
 */
#ifndef KL_BUFFER_BUDGET_H
#define KL_BUFFER_BUDGET_H

#include <stdatomic.h>
#include <stddef.h>

struct kl_budget {
	_Atomic size_t used;	 /* bytes charged now */
	_Atomic size_t peak;	 /* highest `used` seen (metrics, tests) */
	_Atomic unsigned tables; /* partition tables charging it (their fair share) */
	_Atomic size_t pinned;	 /* held outside the buffers: their room shrinks by it */
	size_t limit;		 /* bytes; set once by kl_budget_init */
};

static inline void kl_budget_init(struct kl_budget *b, size_t limit)
{
	atomic_init(&b->used, 0);
	atomic_init(&b->peak, 0);
	atomic_init(&b->tables, 0);
	atomic_init(&b->pinned, 0);
	b->limit = limit;
}

static inline void kl_budget_add(struct kl_budget *b, size_t n)
{
	size_t now = atomic_fetch_add_explicit(&b->used, n, memory_order_relaxed) + n;
	size_t pk = atomic_load_explicit(&b->peak, memory_order_relaxed);
	while (now > pk && !atomic_compare_exchange_weak_explicit(&b->peak, &pk, now,
								  memory_order_relaxed,
								  memory_order_relaxed))
		;
}

static inline void kl_budget_sub(struct kl_budget *b, size_t n)
{
	atomic_fetch_sub_explicit(&b->used, n, memory_order_relaxed);
}

static inline size_t kl_budget_used(const struct kl_budget *b)
{
	return atomic_load_explicit(&b->used, memory_order_relaxed);
}

static inline void kl_budget_pin(struct kl_budget *b, size_t n)
{
	atomic_fetch_add_explicit(&b->pinned, n, memory_order_relaxed);
}

static inline void kl_budget_unpin(struct kl_budget *b, size_t n)
{
	atomic_fetch_sub_explicit(&b->pinned, n, memory_order_relaxed);
}

/* What the buffers may hold now: the limit less what is pinned, at least a
 * quarter of the limit. */
static inline size_t kl_budget_room(const struct kl_budget *b)
{
	size_t p = atomic_load_explicit(&b->pinned, memory_order_relaxed);
	size_t least = b->limit / 4;
	return p < b->limit - least ? b->limit - p : least;
}

/* Is more charged than the buffers' room? */
static inline int kl_budget_over(const struct kl_budget *b)
{
	return kl_budget_used(b) > kl_budget_room(b);
}

#endif
