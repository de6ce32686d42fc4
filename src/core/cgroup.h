/*
 * cgroup.h — a container's CPU and memory limits, and so how many CPUs this
 * process may use and how much memory it may buffer by default.
 *
 * Kubernetes (`resources.limits`), ECS (a task's or container's `cpu` and
 * `memory`) and `docker run --cpus/--memory` limit a container with cgroup
 * knobs, not with what the process sees of the machine: on a 64-CPU node a pod
 * limited to 2 CPUs still has 64 CPUs in its sched_getaffinity() mask (64
 * parse, seal and encode threads would share 2 CPUs' worth of time, throttled
 * in every scheduling period), and a task given 256 MB is killed by the kernel
 * when it passes it, whatever --memory-limit says. So:
 *   - the default `--threads` (and the stream's encoders) is the smaller of
 *     the affinity mask and the CPU quota rounded up (1.5 CPUs: 2 threads),
 *     as the JVM (since 8u191), .NET, Rust's available_parallelism and Go
 *     1.25's GOMAXPROCS count them;
 *   - the default `--memory-limit` fits within the memory limit
 *     (config/ingest_cfg.h, kl_ingest_cfg_memory_default).
 *
 * A limit is read where the kernel publishes it, along the process's cgroup
 * and every ancestor up to the hierarchy's mount (a parent's limit binds its
 * children; in a container with its own cgroup namespace the container's
 * cgroup is the mount's root), the smallest one found, in both hierarchies (a
 * hybrid host mounts v1 controllers and a v2 tree; the limit is in one):
 *   - cgroup v2, the /proc/self/cgroup line "0::PATH" and the mountinfo entry
 *     of type cgroup2: `cpu.max` ("max 100000": none; "150000 100000": quota
 *     and period in microseconds) and `memory.max` ("max" or bytes);
 *   - cgroup v1, the hierarchy whose controllers include "cpu" or "memory"
 *     ("4:cpu,cpuacct:PATH"): `cpu.cfs_quota_us` (-1: none) over
 *     `cpu.cfs_period_us`, and `memory.limit_in_bytes` (2^63 less a page:
 *     none).
 * Anything missing or malformed counts as no limit: this only ever lowers a
 * default, and the options (flags or KINLAKE_* variables) override it.
 *
 * The parsers take text and are pure (fuzz/fuzz_cgroup.c). The readers take a
 * root prefix put before /proc/self/... and the mount points: "" on a real
 * system, a directory tree in tests/unit/test_cgroup.c. Files are read into
 * capped buffers; nothing here is on a hot path (once per run) and nothing is
 * global.
 */
#ifndef KL_CORE_CGROUP_H
#define KL_CORE_CGROUP_H

#include <stddef.h>
#include <stdint.h>

/* cgroup v2 `cpu.max`: 1 with *quota and *period (both > 0) for a limit, 0 for
 * "max" (none), -1 when the text is not that format. */
int kl_cgroup_cpu_max_parse(const char *s, size_t n, uint64_t *quota, uint64_t *period);

/* One decimal integer and an optional newline (`memory.max` when not "max",
 * cgroup v1's `cpu.cfs_quota_us`, `cpu.cfs_period_us`,
 * `memory.limit_in_bytes`): 0 with *v set, -1 when the text is not that. */
int kl_cgroup_int_parse(const char *s, size_t n, int64_t *v);

/* In /proc/self/cgroup's text, the path of the v2 hierarchy (controller
 * NULL) or of the v1 hierarchy whose controllers include `controller`:
 * copied, NUL-terminated, into path[cap]. 0 when found; -1 when absent, not
 * absolute, or longer than cap - 1. */
int kl_cgroup_self_path(const char *s, size_t n, const char *controller, char *path, size_t cap);

/* In /proc/self/mountinfo's text, the first mount of that hierarchy (type
 * cgroup2, or type cgroup with `controller` among its super options): its
 * root within the hierarchy and its mount point, octal escapes (\040)
 * decoded, NUL-terminated. 0 when found; -1 when absent or a field does not
 * fit. */
int kl_cgroup_mount(const char *s, size_t n, const char *controller, char *root, size_t rcap,
		    char *mnt, size_t mcap);

/* A container's limits, both read from one reading of /proc/self/cgroup and
 * /proc/self/mountinfo under the root prefix `root` ("" for the real system;
 * once per run: the CPU count, the memory default and the metrics all use the
 * same struct).
 *   cpus    the CPUs a quota allows, ceil(quota / period), at least 1; 0 when
 *           no quota applies or none could be read;
 *   memory  the bytes a memory limit allows; 0 when none applies or none
 *           could be read. */
struct kl_cgroup_limits {
	unsigned cpus;
	uint64_t memory;
};
void kl_cgroup_limits_read(const char *root, struct kl_cgroup_limits *out);

/* The CPUs this process may use: its affinity mask (else the CPUs online),
 * capped by lim->cpus; at least 1. */
unsigned kl_cpus_available(const struct kl_cgroup_limits *lim);

#endif
