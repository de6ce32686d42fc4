/* dedup.c — see dedup.h. Deletion from the linear-probing index uses
 * backward-shift deletion (no tombstones), so probe lengths stay short. */
#include "dedup/dedup.h"
#include "core/err.h"
#include "core/hugemem.h"

#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

int kl_dedup_init(struct kl_dedup *d, size_t window)
{
	memset(d, 0, sizeof *d);
	if (window == 0)
		return KL_OK;
	if (window > (1u << 30))
		return KL_EINVAL;
	size_t cap = 16;
	while (cap < window * 2)
		cap *= 2;
	/* in huge pages (core/hugemem.h): the index is probed at random, once
	 * an event; zeroed and touched lazily either way */
	d->window = window;
	d->mask = cap - 1;
	while ((size_t)1 << d->slot_bits <= window)
		d->slot_bits++;
	d->hash = kl_hugemem_alloc(window * sizeof *d->hash);
	d->pos = kl_hugemem_alloc(window * sizeof *d->pos);
	d->index = kl_hugemem_alloc(cap * sizeof *d->index);
	if (!d->hash || !d->pos || !d->index) {
		kl_dedup_cleanup(d);
		return KL_ENOMEM;
	}
	return KL_OK;
}

int kl_dedup_init_shared(struct kl_dedup *d, size_t window)
{
	int rc = kl_dedup_init(d, window);
	if (rc)
		return rc;
	if (pthread_mutex_init(&d->mu, NULL)) {
		kl_dedup_cleanup(d);
		return KL_ENOMEM;
	}
	d->shared = 1;
	return KL_OK;
}

void kl_dedup_cleanup(struct kl_dedup *d)
{
	if (d->shared)
		pthread_mutex_destroy(&d->mu);
	kl_hugemem_free(d->hash, d->window * sizeof *d->hash);
	kl_hugemem_free(d->pos, d->window * sizeof *d->pos);
	kl_hugemem_free(d->index, (d->mask + 1) * sizeof *d->index);
	memset(d, 0, sizeof *d);
}

/* An index entry's ring slot + 1; the tag of hash h (its top 32 - slot_bits
 * bits, at least one: window <= 2^30) and an entry's; the entry of h at a
 * ring slot. */
static inline uint32_t entry_slot1(const struct kl_dedup *d, uint32_t e)
{
	return e & (uint32_t)(((uint64_t)1 << d->slot_bits) - 1);
}

static inline uint32_t tag_of(const struct kl_dedup *d, uint64_t h)
{
	return (uint32_t)(h >> (32 + d->slot_bits));
}

static inline uint32_t entry_tag(const struct kl_dedup *d, uint32_t e)
{
	return e >> d->slot_bits;
}

static inline uint32_t entry_of(const struct kl_dedup *d, uint64_t h, uint32_t slot)
{
	return tag_of(d, h) << d->slot_bits | (slot + 1);
}

static void index_remove(struct kl_dedup *d, uint32_t slot)
{
	size_t i = d->hash[slot] & d->mask;
	while (entry_slot1(d, d->index[i]) != slot + 1)
		i = (i + 1) & d->mask;
	/* backward shift: move later entries of the cluster into the hole */
	size_t hole = i;
	for (size_t j = (hole + 1) & d->mask; d->index[j]; j = (j + 1) & d->mask) {
		size_t home = d->hash[entry_slot1(d, d->index[j]) - 1] & d->mask;
		/* can entry j move to hole? only if home is not in (hole, j] cyclically */
		int move = hole <= j ? (home <= hole || home > j) : (home <= hole && home > j);
		if (move) {
			d->index[hole] = d->index[j];
			hole = j;
		}
	}
	d->index[hole] = 0;
}

/* stale_mask: a hit whose pos matches `pos` under stale_mask but differs
 * from it is stale (kl_dedup_check_run): the slot passes to `pos`. */
static int check(struct kl_dedup *d, uint64_t h, uint64_t pos, uint64_t stale_mask)
{
	size_t i = h & d->mask;
	const uint32_t tag = tag_of(d, h);
	for (; d->index[i]; i = (i + 1) & d->mask) {
		if (entry_tag(d, d->index[i]) != tag)
			continue; /* another hash: the ring is not read */
		uint32_t s = entry_slot1(d, d->index[i]) - 1;
		if (d->hash[s] != h)
			continue;
		if (stale_mask && (d->pos[s] & stale_mask) == (pos & stale_mask) && d->pos[s] != pos) {
			d->pos[s] = pos;
			return 0;
		}
		return 1;
	}
	size_t slot = d->next;
	if (d->count == d->window) {
		index_remove(d, (uint32_t)slot);
		/* the removal may have shifted entries: find the free slot again */
		for (i = h & d->mask; d->index[i]; i = (i + 1) & d->mask)
			;
	} else {
		d->count++;
	}
	d->hash[slot] = h;
	d->pos[slot] = pos;
	d->index[i] = entry_of(d, h, (uint32_t)slot);
	d->next = (slot + 1) % d->window;
	return 0;
}

uint64_t kl_dedup_hash(const char *uuid, size_t n)
{
	return XXH3_64bits(uuid, n);
}

void kl_dedup_prefetch(const struct kl_dedup *d, uint64_t h, size_t ahead, int near)
{
	if (!d->window || d->shared)
		return;
	size_t home = h & d->mask;
	/* the slot the ahead-th insertion from now evicts (if none is a duplicate) */
	size_t old = d->count == d->window ? (d->next + ahead) % d->window : SIZE_MAX;
	size_t ohome = old != SIZE_MAX ? d->hash[old] & d->mask : 0;
	if (!near) {
		__builtin_prefetch(&d->index[home]);
		if (old != SIZE_MAX)
			__builtin_prefetch(&d->index[ohome]);
		return;
	}
	/* the ring entries the probes will compare, those of the same tag (the
	 * index lines are in the cache by now: the far call fetched them), and
	 * those the eviction's backward shift reads */
	const uint32_t tag = tag_of(d, h);
	for (size_t k = 0, i = home; k < 4 && d->index[i]; k++, i = (i + 1) & d->mask)
		if (entry_tag(d, d->index[i]) == tag)
			__builtin_prefetch(&d->hash[entry_slot1(d, d->index[i]) - 1]);
	for (size_t k = 0, i = ohome; old != SIZE_MAX && k < 4 && d->index[i];
	     k++, i = (i + 1) & d->mask)
		__builtin_prefetch(&d->hash[entry_slot1(d, d->index[i]) - 1]);
}

int kl_dedup_check_hash(struct kl_dedup *d, uint64_t h, uint64_t pos)
{
	if (!d->window)
		return 0;
	if (!d->shared)
		return check(d, h, pos, 0);
	pthread_mutex_lock(&d->mu);
	int dup = check(d, h, pos, 0);
	pthread_mutex_unlock(&d->mu);
	return dup;
}

int kl_dedup_check(struct kl_dedup *d, const char *uuid, size_t n, uint64_t pos)
{
	return d->window ? kl_dedup_check_hash(d, XXH3_64bits(uuid, n), pos) : 0;
}

int kl_dedup_check_run_hash(struct kl_dedup *d, uint64_t h, uint32_t input, uint32_t run)
{
	if (!d->window)
		return 0;
	uint64_t tag = (uint64_t)input << 32 | run;
	if (!d->shared)
		return check(d, h, tag, 0xffffffff00000000ull);
	pthread_mutex_lock(&d->mu);
	int dup = check(d, h, tag, 0xffffffff00000000ull);
	pthread_mutex_unlock(&d->mu);
	return dup;
}

int kl_dedup_check_run(struct kl_dedup *d, const char *uuid, size_t n, uint32_t input,
		       uint32_t run)
{
	return d->window ? kl_dedup_check_run_hash(d, XXH3_64bits(uuid, n), input, run) : 0;
}

void kl_dedup_prefetch_home(const struct kl_dedup *d, uint64_t h)
{
	if (d->window)
		__builtin_prefetch(&d->index[h & d->mask]);
}

uint64_t kl_dedup_oldest_pos(const struct kl_dedup *d, uint64_t fallback)
{
	if (!d->window || d->count == 0 || d->shared)
		return fallback;
	size_t oldest = d->count < d->window ? 0 : d->next;
	return d->pos[oldest];
}
