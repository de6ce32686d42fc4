/* test_dedup.c — window semantics, eviction order, index integrity. */
#include "check.h"

#include <pthread.h>
#include <stdint.h>
#include "dedup/dedup.h"

/* A shared window owns its lock: 4 threads offer the same 20000 uuids,
 * each is accepted exactly once; its positions are not one input's. */
static struct kl_dedup shared;
static int accepted[4];

static void *offer(void *arg)
{
	int t = (int)(intptr_t)arg;
	char u[32];
	for (int i = 0; i < 20000; i++) {
		int n = sprintf(u, "s-%d", i);
		accepted[t] += !kl_dedup_check(&shared, u, (size_t)n, (uint64_t)i + 1);
	}
	return NULL;
}

static void test_shared(void)
{
	CHECK_EQ_INT(kl_dedup_init_shared(&shared, 100000), 0);
	pthread_t th[4];
	for (int t = 0; t < 4; t++)
		pthread_create(&th[t], NULL, offer, (void *)(intptr_t)t);
	for (int t = 0; t < 4; t++)
		pthread_join(th[t], NULL);
	CHECK_EQ_INT(accepted[0] + accepted[1] + accepted[2] + accepted[3], 20000);
	CHECK_EQ_INT(kl_dedup_oldest_pos(&shared, 42), 42);
	kl_dedup_cleanup(&shared);
}

/* A shard read again by the same process (its lease came back): what its
 * earlier run saw does not count, what other shards and this run saw does. */
static void test_runs(void)
{
	struct kl_dedup d;
	CHECK_EQ_INT(kl_dedup_init_shared(&d, 1000), 0);
	CHECK_EQ_INT(kl_dedup_check_run(&d, "a", 1, 0, 1), 0); /* shard 0, run 1 */
	CHECK_EQ_INT(kl_dedup_check_run(&d, "b", 1, 1, 1), 0); /* shard 1, run 1 */
	CHECK_EQ_INT(kl_dedup_check_run(&d, "a", 1, 0, 1), 1); /* same run: a duplicate */
	CHECK_EQ_INT(kl_dedup_check_run(&d, "a", 1, 1, 1), 1); /* another shard: too */
	CHECK_EQ_INT(kl_dedup_check_run(&d, "a", 1, 0, 2), 0); /* shard 0 again: not */
	CHECK_EQ_INT(kl_dedup_check_run(&d, "a", 1, 0, 2), 1); /* the slot is run 2's */
	CHECK_EQ_INT(kl_dedup_check_run(&d, "b", 1, 0, 2), 1); /* shard 1's stays */
	CHECK_EQ_INT(kl_dedup_check_run(&d, "b", 1, 1, 2), 0); /* unless shard 1 is again */
	CHECK_EQ_INT(kl_dedup_check_run(&d, "a", 1, 0, 1), 0); /* (a stale run takes it back) */
	kl_dedup_cleanup(&d);
}

/* The pre-hashed path with prefetch hints (the pipeline's apply step)
 * answers exactly as kl_dedup_check: the same uuids, a third of them
 * repeated within the window and some only after they were evicted, through
 * two windows side by side; the oldest positions stay equal too. */
static void test_hashed(void)
{
	struct kl_dedup a, b;
	CHECK_EQ_INT(kl_dedup_init(&a, 500), 0);
	CHECK_EQ_INT(kl_dedup_init(&b, 500), 0);
	enum { N = 6000, FAR = 16, NEAR = 8 };
	static uint64_t h[N];
	char u[32];
	int differ = 0, dups = 0;
	for (int i = 0; i < N; i++) {
		int n = sprintf(u, "u-%d", i % 3 ? i : i / 3 * 2); /* repeats near and far back */
		h[i] = kl_dedup_hash(u, (size_t)n);
	}
	for (int i = 0; i < N; i++) {
		if (i + FAR < N)
			kl_dedup_prefetch(&b, h[i + FAR], FAR, 0);
		if (i + NEAR < N)
			kl_dedup_prefetch(&b, h[i + NEAR], NEAR, 1);
		int n = sprintf(u, "u-%d", i % 3 ? i : i / 3 * 2);
		int x = kl_dedup_check(&a, u, (size_t)n, (uint64_t)i);
		int y = kl_dedup_check_hash(&b, h[i], (uint64_t)i);
		differ += x != y;
		dups += x;
		if (kl_dedup_oldest_pos(&a, 0) != kl_dedup_oldest_pos(&b, 0))
			differ++;
	}
	CHECK_EQ_INT(differ, 0);
	CHECK(dups > 0 && dups < N / 3);
	/* a disabled window: no duplicates, and the hint is a no-op */
	struct kl_dedup off;
	CHECK_EQ_INT(kl_dedup_init(&off, 0), 0);
	kl_dedup_prefetch(&off, h[0], 1, 0);
	kl_dedup_prefetch(&off, h[0], 1, 1);
	CHECK_EQ_INT(kl_dedup_check_hash(&off, h[0], 1), 0);
	CHECK_EQ_INT(kl_dedup_check_hash(&off, h[0], 2), 0);
	kl_dedup_cleanup(&a);
	kl_dedup_cleanup(&b);
}

/* The stream's serial path: a pre-hashed kl_dedup_check_run_hash, with the
 * home-line hint before it, answers exactly as kl_dedup_check_run on a
 * shared window, across shards (inputs), runs and evictions. */
/* Index entries carry a tag (the hash's top bits) beside the ring slot:
 * hashes that share their home and their tag, or only one of them, are
 * still told apart by the full hash, also across evictions (backward
 * shifts move tagged entries), and the window stays exact. */
static void test_tags(void)
{
	struct kl_dedup d;
	CHECK_EQ_INT(kl_dedup_init(&d, 1000), 0); /* 10 slot bits, 22-bit tags */
	const uint64_t base = 0x123456789abcdef0ull;
	uint64_t h[6] = {
	    base,
	    base ^ (1ull << 32),  /* same home, same tag: differs in the middle bits */
	    base ^ (1ull << 63),  /* same home, another tag */
	    base ^ 1,	      /* the next home, same tag */
	    base ^ (1ull << 42),  /* same home, the tag's lowest bit */
	    base ^ (3ull << 41),  /* the bit below the tag and its lowest */
	};
	for (int i = 0; i < 6; i++)
		CHECK_EQ_INT(kl_dedup_check_hash(&d, h[i], (uint64_t)i + 1), 0);
	for (int i = 0; i < 6; i++)
		CHECK_EQ_INT(kl_dedup_check_hash(&d, h[i], 100), 1);
	/* 994 more fill the window; each later one evicts the oldest */
	for (uint64_t i = 0; i < 994; i++)
		CHECK_EQ_INT(kl_dedup_check_hash(&d, (base + 0x10000 * (i + 1)) ^ (i << 50), 200 + i), 0);
	CHECK_EQ_INT(kl_dedup_oldest_pos(&d, 0), 1);
	for (int i = 0; i < 3; i++) /* evicts h[0..2]: the three on one home */
		CHECK_EQ_INT(kl_dedup_check_hash(&d, ~(uint64_t)i, 5000 + (uint64_t)i), 0);
	for (int i = 0; i < 3; i++)
		CHECK_EQ_INT(kl_dedup_check_hash(&d, h[3 + i], 300), 1); /* still in */
	CHECK_EQ_INT(kl_dedup_oldest_pos(&d, 0), 4);
	for (int i = 0; i < 3; i++) /* gone: accepted again (and evicting h[3..5]) */
		CHECK_EQ_INT(kl_dedup_check_hash(&d, h[i], 400), 0);
	for (int i = 0; i < 3; i++)
		CHECK_EQ_INT(kl_dedup_check_hash(&d, h[i], 500), 1);
	for (int i = 3; i < 6; i++)
		CHECK_EQ_INT(kl_dedup_check_hash(&d, h[i], 600), 0);
	kl_dedup_cleanup(&d);
}

static void test_runs_hashed(void)
{
	struct kl_dedup a, b;
	CHECK_EQ_INT(kl_dedup_init_shared(&a, 300), 0);
	CHECK_EQ_INT(kl_dedup_init_shared(&b, 300), 0);
	char u[32];
	int differ = 0, dups = 0;
	for (int i = 0; i < 4000; i++) {
		int n = sprintf(u, "u-%d", i % 4 ? i : i / 4 * 3); /* repeats near and far back */
		uint32_t input = (uint32_t)(i % 3), run = 1 + (uint32_t)(i / 1500);
		uint64_t h = kl_dedup_hash(u, (size_t)n);
		kl_dedup_prefetch_home(&b, h);
		int x = kl_dedup_check_run(&a, u, (size_t)n, input, run);
		int y = kl_dedup_check_run_hash(&b, h, input, run);
		differ += x != y;
		dups += x;
	}
	CHECK_EQ_INT(differ, 0);
	CHECK(dups > 0 && dups < 1000);
	struct kl_dedup off; /* disabled: no duplicates, the hint is a no-op */
	CHECK_EQ_INT(kl_dedup_init_shared(&off, 0), 0);
	kl_dedup_prefetch_home(&off, 42);
	CHECK_EQ_INT(kl_dedup_check_run_hash(&off, 42, 0, 1), 0);
	CHECK_EQ_INT(kl_dedup_check_run_hash(&off, 42, 0, 1), 0);
	kl_dedup_cleanup(&a);
	kl_dedup_cleanup(&b);
	kl_dedup_cleanup(&off);
}

int main(void)
{
	test_tags();
	test_runs();
	test_hashed();
	test_runs_hashed();
	struct kl_dedup d;
	CHECK_EQ_INT(kl_dedup_init(&d, 1000), 0);
	char u[32];
	for (int i = 0; i < 1000; i++) {
		int n = sprintf(u, "uuid-%d", i);
		CHECK_EQ_INT(kl_dedup_check(&d, u, (size_t)n, (uint64_t)i * 10), 0);
	}
	CHECK_EQ_INT(kl_dedup_oldest_pos(&d, 7), 0);
	int dups = 0;
	for (int i = 0; i < 1000; i++) {
		int n = sprintf(u, "uuid-%d", i);
		dups += kl_dedup_check(&d, u, (size_t)n, 0);
	}
	CHECK_EQ_INT(dups, 1000);
	/* push 500 new ones: the 500 oldest fall out of the window */
	for (int i = 1000; i < 1500; i++) {
		int n = sprintf(u, "uuid-%d", i);
		CHECK_EQ_INT(kl_dedup_check(&d, u, (size_t)n, (uint64_t)i * 10), 0);
	}
	CHECK_EQ_INT(kl_dedup_oldest_pos(&d, 7), 5000);
	dups = 0;
	for (int i = 500; i < 1500; i++) {
		int n = sprintf(u, "uuid-%d", i);
		dups += kl_dedup_check(&d, u, (size_t)n, 0);
	}
	CHECK_EQ_INT(dups, 1000);
	/* long churn keeps the index consistent with the ring */
	for (int i = 2000; i < 200000; i++) {
		int n = sprintf(u, "uuid-%d", i);
		kl_dedup_check(&d, u, (size_t)n, (uint64_t)i);
	}
	dups = 0;
	for (int i = 199000; i < 200000; i++) {
		int n = sprintf(u, "uuid-%d", i);
		dups += kl_dedup_check(&d, u, (size_t)n, 0);
	}
	CHECK_EQ_INT(dups, 1000);
	int n0 = sprintf(u, "uuid-%d", 198999);
	CHECK_EQ_INT(kl_dedup_check(&d, u, (size_t)n0, 0), 0);
	kl_dedup_cleanup(&d);
	CHECK_EQ_INT(kl_dedup_init(&d, 0), 0);
	CHECK_EQ_INT(kl_dedup_check(&d, "a", 1, 0), 0);
	CHECK_EQ_INT(kl_dedup_check(&d, "a", 1, 0), 0);
	kl_dedup_cleanup(&d);
	test_shared();
	return check_report("test_dedup");
}
