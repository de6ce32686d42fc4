/* test_dedup.c — window semantics, eviction order, index integrity. */
#include "check.h"
#include "dedup/dedup.h"

int main(void)
{
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
	return check_report("test_dedup");
}
