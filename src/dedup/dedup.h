/*
 * dedup.h — "events that share an event_uuid are the same event".
 *
 * Remembers the uuids of the last `window` accepted events (a ring of
 * 64-bit XXH3 hashes plus a linear-probing index into the ring, whose
 * entries carry the hash's top bits so most probes never read the ring)
 * and answers
 * whether a uuid was seen among them. The decision depends only on the input
 * order, so a replay after a crash decides exactly as the first run did.
 * With a 64-bit hash and a 1M window the chance of a false duplicate is
 * about 3e-8 per million events. The hash has no secret seed, unlike the
 * hash tables of core/seed.h, on purpose: a replay in another process must
 * decide exactly as the first run did. What a producer can do with uuids
 * crafted to share a hash is lose its own later event (the first in input
 * order is kept); dropping someone else's event would take knowing that
 * uuid before it is sent.
 *
 * Each ring slot also keeps the input position of its event, so the caller
 * can persist where the window starts (kl_dedup_oldest_pos) and rebuild it
 * on restart by re-reading from there.
 *
 * A shared window (kl_dedup_init_shared) is one window for several inputs
 * read concurrently — every shard of a stream, since a KPL-aggregated record
 * and a retried plain copy of one of its events can sit on different shards.
 * It owns its lock: kl_dedup_check may be called from any thread. Its
 * positions come from several inputs and mean nothing to any one of them,
 * so kl_dedup_oldest_pos answers the fallback (such callers resume from a
 * checkpoint of their own, not by replaying the window).
 *
 * Ownership: caller-owned struct, kl_dedup_init(_shared)/cleanup; memory is
 * allocated once at init (about 24 bytes per window slot, touched lazily;
 * in transparent huge pages from 2 MiB, core/hugemem.h).
 */
#ifndef KL_DEDUP_DEDUP_H
#define KL_DEDUP_DEDUP_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

struct kl_dedup {
	/* fixed by init: read by every thread (kl_dedup_prefetch_home without
	 * the lock), so kept off the cache lines the lock's owner writes */
	int shared;         /* kl_dedup_init_shared: every call takes mu */
	uint64_t *hash; /* ring of hashes */
	uint64_t *pos;  /* ring of input positions */
	/* open addressing, 0 = empty, else (tag << slot_bits) | (ring slot + 1):
	 * the tag, high bits of the hash, lets a probe pass an entry without
	 * reading the ring (a cache miss a probe on a large window) */
	uint32_t *index;
	size_t window, mask;
	unsigned slot_bits; /* bits of window (slot + 1 <= window) */
	char apart[64]; /* what follows moves with the lock (a shared window's
			   shards write it from every core) */
	pthread_mutex_t mu;
	size_t count, next;
};

/* window 0 disables deduplication. KL_OK or KL_ENOMEM. */
int kl_dedup_init(struct kl_dedup *d, size_t window);
/* The same, shared by several inputs and threads (see above). */
int kl_dedup_init_shared(struct kl_dedup *d, size_t window);
void kl_dedup_cleanup(struct kl_dedup *d);

/* Returns 1 if `uuid` is in the window (a duplicate), else records it with
 * its input position and returns 0. */
int kl_dedup_check(struct kl_dedup *d, const char *uuid, size_t n, uint64_t pos);

/* The same for a uuid already hashed with kl_dedup_hash() (a pure function
 * of the uuid: any thread may compute it). */
uint64_t kl_dedup_hash(const char *uuid, size_t n);
int kl_dedup_check_hash(struct kl_dedup *d, uint64_t h, uint64_t pos);

/* A hint, no effect on any answer: fetch into the cache what a check of
 * hash h will read, for a check about `ahead` insertions from now (its
 * probe of the index and the eviction's). Call once with near = 0 well
 * ahead (the index lines), then with near = 1 closer (the ring entries those
 * lines point to). Does nothing for a shared window (it would read without
 * the lock). Caller's thread only. */
void kl_dedup_prefetch(const struct kl_dedup *d, uint64_t h, size_t ahead, int near);

/* The same for a shared window whose inputs are read more than once by one
 * process (a stream's shard that comes back to a worker after its lease
 * went elsewhere): `input` names the input, `run` its current reading. A
 * uuid the window holds from an earlier run of the same input does not
 * count — that run ended without committing what it had buffered, and
 * this one reads those records again — and its slot passes to this run;
 * one from another input, or this run, does. The slots keep (input, run)
 * in place of a position (a shared window has no oldest position). */
int kl_dedup_check_run(struct kl_dedup *d, const char *uuid, size_t n, uint32_t input,
		       uint32_t run);

/* The same for a uuid already hashed with kl_dedup_hash(). */
int kl_dedup_check_run_hash(struct kl_dedup *d, uint64_t h, uint32_t input, uint32_t run);

/* A hint, no effect on any answer: fetch into the cache the index line a
 * check of hash h probes first. It reads only what init fixed (the index's
 * address and size), so any thread may call it, for a shared window too,
 * without the lock: the serial read loop (a stream's shard thread) calls it
 * with the hash of a guess at the record's event_uuid before it parses the
 * record (event/event.h, kl_event_peek_uuid), and the line arrives while
 * the record is parsed. */
void kl_dedup_prefetch_home(const struct kl_dedup *d, uint64_t h);

/* Input position of the oldest event still in the window, or `fallback`
 * when the window is empty, disabled or shared. */
uint64_t kl_dedup_oldest_pos(const struct kl_dedup *d, uint64_t fallback);

#endif
