/*
 * seed.h — secret seeds for hash tables whose keys come from the input
 * (an event type's column names), so that nobody can search keys offline
 * that share one slot and make every lookup walk them all: 200 events of
 * 8,000 such column names took 9.7 s to ingest against 1.1 s for plain
 * ones with a fixed hash. A seed only spreads a table's slots; nothing a
 * run writes depends on it.
 */
#ifndef KL_CORE_SEED_H
#define KL_CORE_SEED_H

#include "core/clock.h"

#include <stdint.h>
#include <sys/random.h>

/* 64 random bits from the kernel (without blocking); should it have none
 * yet, the clock mixed with an address, which still varies per run. */
static inline uint64_t kl_hash_seed(void)
{
	uint64_t s;
	if (getrandom(&s, sizeof s, GRND_NONBLOCK) == (ssize_t)sizeof s)
		return s;
	return (uint64_t)kl_mono_ns() * 0x9E3779B97F4A7C15ull ^ (uint64_t)(uintptr_t)&s;
}

#endif
