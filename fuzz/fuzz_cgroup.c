/* fuzz_cgroup.c — libFuzzer target for core/cgroup.h's parsers of the kernel's
 * cgroup files: cpu.max, cpu.cfs_quota_us / cpu.cfs_period_us,
 * /proc/self/cgroup and /proc/self/mountinfo.
 * Invariants: never crash or read past the input; a cpu.max limit has a
 * quota and a period above 0 and parses again to the same values when
 * printed as the kernel prints it; an integer prints back to the same text;
 * a path or mount found is NUL-terminated within its buffer and absolute. */
#include "core/cgroup.h"
#include "fuzz_common.h"

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 1 << 16)
		return 0;
	/* an exact-size heap copy, so that ASan sees any read past the end */
	char *s = malloc(size ? size : 1);
	if (!s)
		return 0;
	memcpy(s, data, size);

	uint64_t q = 0, p = 0;
	int r = kl_cgroup_cpu_max_parse(s, size, &q, &p);
	REQUIRE(r >= -1 && r <= 1);
	if (r == 1) {
		REQUIRE(q > 0 && p > 0);
		char again[64];
		int w = snprintf(again, sizeof again, "%" PRIu64 " %" PRIu64 "\n", q, p);
		uint64_t q2 = 0, p2 = 0;
		REQUIRE(kl_cgroup_cpu_max_parse(again, (size_t)w, &q2, &p2) == 1 && q2 == q &&
			p2 == p);
	}

	int64_t v = 0;
	if (!kl_cgroup_int_parse(s, size, &v)) {
		char again[32];
		int w = snprintf(again, sizeof again, "%" PRId64, v);
		int64_t v2 = 0;
		REQUIRE(!kl_cgroup_int_parse(again, (size_t)w, &v2) && v2 == v);
	}

	/* small buffers too, so that "does not fit" is reached */
	size_t caps[2] = {4096, 1u + (size & 15)};
	for (int i = 0; i < 2; i++) {
		size_t cap = caps[i];
		char path[4096], root[4096], mnt[4096];
		const char *controllers[3] = {NULL, "cpu", "memory"};
		for (int c = 0; c < 3; c++) {
			const char *ctl = controllers[c];
			if (!kl_cgroup_self_path(s, size, ctl, path, cap)) {
				REQUIRE(memchr(path, '\0', cap) != NULL && path[0] == '/');
			}
			if (!kl_cgroup_mount(s, size, ctl, root, cap, mnt, cap)) {
				REQUIRE(memchr(root, '\0', cap) != NULL && root[0] == '/');
				REQUIRE(memchr(mnt, '\0', cap) != NULL && mnt[0] == '/');
			}
		}
	}
	free(s);
	return 0;
}
