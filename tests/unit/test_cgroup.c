/* test_cgroup.c — core/cgroup.h: the cgroup parsers, and the CPU quota and
 * memory limit found in directory trees laid out as the kernel lays out /proc
 * and /sys/fs/cgroup (cgroup v2 in a container's namespace and nested as
 * Kubernetes nests pods, cgroup v1 on a hybrid host and in a container without
 * a cgroup namespace); and the default --memory-limit a container's limit
 * gives (config/ingest_cfg.h). */
#include "check.h"
#include "config/ingest_cfg.h"
#include "core/cgroup.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static char tree[PATH_MAX];

/* write text to tree/rel, making its directories */
static void put(const char *rel, const char *text)
{
	char path[PATH_MAX * 2];
	snprintf(path, sizeof path, "%s/%s", tree, rel);
	for (char *p = path + strlen(tree) + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		CHECK(mkdir(path, 0755) == 0 || errno == EEXIST);
		*p = '/';
	}
	FILE *f = fopen(path, "w");
	CHECK(f != NULL);
	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

static void new_tree(const char *name)
{
	char base[64];
	snprintf(base, sizeof base, "kl-cpus-%s-", name);
	kl_test_mkdtemp(tree, sizeof tree, base);
}

static void drop_tree(void)
{
	char cmd[PATH_MAX + 16];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tree);
	CHECK(system(cmd) == 0);
}

static int cpu_max(const char *s, uint64_t *q, uint64_t *p)
{
	return kl_cgroup_cpu_max_parse(s, strlen(s), q, p);
}

static void test_parsers(void)
{
	uint64_t q = 0, p = 0;
	CHECK_EQ_INT(cpu_max("max 100000\n", &q, &p), 0);
	CHECK_EQ_INT(cpu_max("150000 100000\n", &q, &p), 1);
	CHECK(q == 150000 && p == 100000);
	CHECK_EQ_INT(cpu_max("50000 100000", &q, &p), 1);
	CHECK(q == 50000 && p == 100000);
	const char *bad[] = {"",
			     "\n",
			     "max",
			     "max\n",
			     "150000\n",
			     "0 100000\n",
			     "150000 0\n",
			     "15a000 100000\n",
			     "150000  100000\n",
			     "150000 100000\n\n",
			     "150000 100000 \n",
			     " 150000 100000\n",
			     "maxx 100000\n",
			     "99999999999999999999 100000\n",
			     "-1 100000\n"};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		int r = cpu_max(bad[i], &q, &p);
		if (r != -1)
			fprintf(stderr, "cpu.max %zu: \"%s\" gave %d\n", i, bad[i], r);
		CHECK_EQ_INT(r, -1);
	}

	int64_t v = 0;
	CHECK_EQ_INT(kl_cgroup_int_parse("-1\n", 3, &v), 0);
	CHECK_EQ_INT(v, -1);
	CHECK_EQ_INT(kl_cgroup_int_parse("100000\n", 7, &v), 0);
	CHECK_EQ_INT(v, 100000);
	CHECK_EQ_INT(kl_cgroup_int_parse("250000", 6, &v), 0);
	CHECK_EQ_INT(v, 250000);
	CHECK_EQ_INT(kl_cgroup_int_parse("", 0, &v), -1);
	CHECK_EQ_INT(kl_cgroup_int_parse("-", 1, &v), -1);
	CHECK_EQ_INT(kl_cgroup_int_parse("12 ", 3, &v), -1);
	CHECK_EQ_INT(kl_cgroup_int_parse("1\n\n", 3, &v), -1);
	CHECK_EQ_INT(kl_cgroup_int_parse("9223372036854775808", 19, &v), -1);

	/* /proc/self/cgroup of a hybrid host (this test's first machine) */
	const char *self = "9:name=systemd:/\n8:pids:/\n4:memory:/process_api/ae70\n3:cpuset:/x\n"
			   "2:cpuacct:/y\n1:cpu,cpuacct:/kltest/inner\n0::/unified/path\n";
	char path[64];
	CHECK_EQ_INT(kl_cgroup_self_path(self, strlen(self), "cpu", path, sizeof path), 0);
	CHECK_EQ_STR(path, "/kltest/inner");
	CHECK_EQ_INT(kl_cgroup_self_path(self, strlen(self), NULL, path, sizeof path), 0);
	CHECK_EQ_STR(path, "/unified/path");
	CHECK_EQ_INT(kl_cgroup_self_path(self, strlen(self), NULL, path, 8), -1); /* too long */
	const char *nocpu = "3:cpuset:/x\n2:cpuacct:/y\n10:name=cpu:/z\n";
	CHECK_EQ_INT(kl_cgroup_self_path(nocpu, strlen(nocpu), "cpu", path, sizeof path), -1);
	CHECK_EQ_INT(kl_cgroup_self_path(nocpu, strlen(nocpu), NULL, path, sizeof path), -1);
	const char *colon = "0::/a:b\n"; /* a path may hold colons */
	CHECK_EQ_INT(kl_cgroup_self_path(colon, strlen(colon), NULL, path, sizeof path), 0);
	CHECK_EQ_STR(path, "/a:b");
	CHECK_EQ_INT(kl_cgroup_self_path("0::rel\n", 7, NULL, path, sizeof path), -1);

	/* /proc/self/mountinfo */
	const char *mi =
	    "30 22 0:27 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
	    "33 30 0:30 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset\n"
	    "32 30 0:29 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct\n"
	    "31 30 0:28 /docker/abc /sys/fs/cgroup/cpu\\040x rw,relatime shared:9 - cgroup cgroup "
	    "rw,cpu\n"
	    "40 30 0:37 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";
	char root[64], mnt[64];
	CHECK_EQ_INT(kl_cgroup_mount(mi, strlen(mi), "cpu", root, sizeof root, mnt, sizeof mnt), 0);
	CHECK_EQ_STR(root, "/docker/abc");
	CHECK_EQ_STR(mnt, "/sys/fs/cgroup/cpu x");
	CHECK_EQ_INT(kl_cgroup_mount(mi, strlen(mi), NULL, root, sizeof root, mnt, sizeof mnt), 0);
	CHECK_EQ_STR(root, "/");
	CHECK_EQ_STR(mnt, "/sys/fs/cgroup/unified");
	CHECK_EQ_INT(kl_cgroup_mount(mi, strlen(mi), NULL, root, sizeof root, mnt, 8), -1);
	const char *nosep = "40 30 0:37 / /sys/fs/cgroup rw,relatime cgroup2 cgroup2 rw\n";
	CHECK_EQ_INT(kl_cgroup_mount(nosep, strlen(nosep), NULL, root, sizeof root, mnt, sizeof mnt),
		     -1);
	const char *nul = "40 30 0:37 / /a\\000b rw - cgroup2 cgroup2 rw\n";
	CHECK_EQ_INT(kl_cgroup_mount(nul, strlen(nul), NULL, root, sizeof root, mnt, sizeof mnt), -1);
}

static unsigned limit(void)
{
	struct kl_cgroup_limits l;
	kl_cgroup_limits_read(tree, &l);
	return l.cpus;
}

static uint64_t memory(void)
{
	struct kl_cgroup_limits l;
	kl_cgroup_limits_read(tree, &l);
	return l.memory;
}

static void test_trees(void)
{
	/* cgroup v2 in a container with its own cgroup namespace (Docker's
	 * default on v2 hosts, `--cpus 1.5`) */
	new_tree("v2ns");
	put("proc/self/cgroup", "0::/\n");
	put("proc/self/mountinfo",
	    "25 1 0:22 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n");
	put("sys/fs/cgroup/cpu.max", "150000 100000\n");
	CHECK_EQ_INT(limit(), 2);
	put("sys/fs/cgroup/cpu.max", "max 100000\n");
	CHECK_EQ_INT(limit(), 0);
	put("sys/fs/cgroup/cpu.max", "garbage\n");
	CHECK_EQ_INT(limit(), 0);
	/* a path out of the namespace's view: the mount's own limit, nothing
	 * above the mount point is read */
	put("sys/fs/cgroup/cpu.max", "300000 100000\n");
	put("sys/cpu.max", "100000 100000\n");
	put("proc/self/cgroup", "0::/../../x\n");
	CHECK_EQ_INT(limit(), 3);
	drop_tree();

	/* cgroup v2 nested as the kubelet nests a pod's containers: the
	 * smallest limit along the path binds, wherever it is set */
	new_tree("v2k8s");
	put("proc/self/cgroup", "0::/kubepods/burstable/pod1/c1\n");
	put("proc/self/mountinfo", "30 22 0:27 / /sys/fs/cgroup rw - tmpfs tmpfs rw\n"
				   "25 1 0:22 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw\n");
	put("sys/fs/cgroup/kubepods/cpu.max", "max 100000\n");
	put("sys/fs/cgroup/kubepods/burstable/pod1/cpu.max", "300000 100000\n");
	put("sys/fs/cgroup/kubepods/burstable/pod1/c1/cpu.max", "max 100000\n");
	CHECK_EQ_INT(limit(), 3);
	put("sys/fs/cgroup/kubepods/burstable/pod1/c1/cpu.max", "25000 100000\n");
	CHECK_EQ_INT(limit(), 1); /* a quarter CPU: still one thread */
	put("sys/fs/cgroup/kubepods/burstable/pod1/c1/cpu.max", "max 100000\n");
	put("sys/fs/cgroup/kubepods/cpu.max", "200000 100000\n");
	CHECK_EQ_INT(limit(), 2); /* the grandparent's */
	drop_tree();

	/* cgroup v1 on a hybrid host (the controllers on v1, an empty v2
	 * hierarchy at unified/), a process in a child cgroup */
	new_tree("v1");
	put("proc/self/cgroup", "4:memory:/\n1:cpu,cpuacct:/kltest/inner\n0::/\n");
	put("proc/self/mountinfo",
	    "31 30 0:28 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct\n"
	    "40 30 0:37 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n");
	put("sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us", "-1\n");
	put("sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us", "100000\n");
	put("sys/fs/cgroup/cpu,cpuacct/kltest/cpu.cfs_quota_us", "250000\n");
	put("sys/fs/cgroup/cpu,cpuacct/kltest/cpu.cfs_period_us", "100000\n");
	put("sys/fs/cgroup/cpu,cpuacct/kltest/inner/cpu.cfs_quota_us", "-1\n");
	put("sys/fs/cgroup/cpu,cpuacct/kltest/inner/cpu.cfs_period_us", "100000\n");
	CHECK_EQ_INT(limit(), 3); /* 2.5 CPUs: 3 threads */
	put("sys/fs/cgroup/cpu,cpuacct/kltest/inner/cpu.cfs_quota_us", "50000\n");
	CHECK_EQ_INT(limit(), 1);
	put("sys/fs/cgroup/cpu,cpuacct/kltest/inner/cpu.cfs_period_us", "0\n");
	CHECK_EQ_INT(limit(), 3); /* a broken period is no limit there */
	drop_tree();

	/* cgroup v1 in a container without a cgroup namespace: the mount's
	 * root is the container's cgroup, which /proc/self/cgroup names in
	 * full; a path outside the mount's root is looked for at the mount */
	new_tree("v1docker");
	put("proc/self/cgroup", "3:cpu,cpuacct:/docker/abc\n");
	put("proc/self/mountinfo", "31 30 0:28 /docker/abc /sys/fs/cgroup/cpu,cpuacct ro - cgroup "
				   "cgroup rw,cpu,cpuacct\n");
	put("sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us", "150000\n");
	put("sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us", "100000\n");
	CHECK_EQ_INT(limit(), 2);
	put("proc/self/cgroup", "3:cpu,cpuacct:/elsewhere\n");
	CHECK_EQ_INT(limit(), 2);
	put("proc/self/cgroup", "3:cpu,cpuacct:/docker/abcd\n"); /* a prefix, not the root */
	CHECK_EQ_INT(limit(), 2);
	drop_tree();

	/* both hierarchies limited: the smaller wins */
	new_tree("both");
	put("proc/self/cgroup", "1:cpu:/a\n0::/b\n");
	put("proc/self/mountinfo", "31 30 0:28 / /c1 rw - cgroup cgroup rw,cpu\n"
				   "40 30 0:37 / /c2 rw - cgroup2 cgroup2 rw\n");
	put("c1/a/cpu.cfs_quota_us", "400000\n");
	put("c1/a/cpu.cfs_period_us", "100000\n");
	put("c2/b/cpu.max", "100001 100000\n");
	CHECK_EQ_INT(limit(), 2);
	drop_tree();

	/* memory: v2 memory.max along the path, v1 memory.limit_in_bytes (its
	 * "unlimited" is 2^63 less a page), both hierarchies on a hybrid host */
	new_tree("mem");
	put("proc/self/cgroup", "9:memory:/ecs/task/c1\n1:cpu:/\n0::/k/pod\n");
	put("proc/self/mountinfo", "34 30 0:31 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n"
				   "40 30 0:37 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n");
	CHECK(memory() == 0);
	put("sys/fs/cgroup/memory/memory.limit_in_bytes", "9223372036854771712\n");
	put("sys/fs/cgroup/memory/ecs/memory.limit_in_bytes", "9223372036854771712\n");
	put("sys/fs/cgroup/memory/ecs/task/memory.limit_in_bytes", "536870912\n");
	put("sys/fs/cgroup/memory/ecs/task/c1/memory.limit_in_bytes", "9223372036854771712\n");
	CHECK(memory() == 536870912); /* the task's, above the container */
	put("sys/fs/cgroup/unified/k/memory.max", "max\n");
	put("sys/fs/cgroup/unified/k/pod/memory.max", "268435456\n");
	CHECK(memory() == 268435456); /* the smaller, from v2 */
	put("sys/fs/cgroup/unified/k/pod/memory.max", "max\n");
	CHECK(memory() == 536870912);
	put("sys/fs/cgroup/memory/ecs/task/memory.limit_in_bytes", "lots\n");
	CHECK(memory() == 0);
	CHECK_EQ_INT(limit(), 0); /* no CPU quota anywhere */
	drop_tree();

	/* nothing to read: no limit */
	new_tree("empty");
	CHECK_EQ_INT(limit(), 0);
	put("proc/self/cgroup", "0::/\n");
	CHECK_EQ_INT(limit(), 0);
	drop_tree();

	CHECK(memory() == 0);

	/* the real system: whatever it is, at least one CPU */
	struct kl_cgroup_limits real;
	kl_cgroup_limits_read("", &real);
	unsigned n = kl_cpus_available(&real);
	CHECK(n >= 1);
	CHECK(!real.cpus || n <= real.cpus);
	/* a quota caps the affinity count; none leaves it */
	struct kl_cgroup_limits one = {.cpus = 1}, none = {0};
	CHECK_EQ_INT(kl_cpus_available(&one), 1);
	CHECK(kl_cpus_available(&none) >= n);
}

static void test_memory_default(void)
{
	const size_t def = (size_t)256 << 20, MiB = (size_t)1 << 20;
	CHECK(kl_ingest_cfg_memory_default(def, 0) == def);                 /* no limit */
	CHECK(kl_ingest_cfg_memory_default(def, (uint64_t)8 << 30) == def); /* 8 GiB */
	CHECK(kl_ingest_cfg_memory_default(def, 512 * MiB) == def);         /* 384 is more */
	CHECK(kl_ingest_cfg_memory_default(def, 366 * MiB) == def); /* 256.25 MiB */
	CHECK(kl_ingest_cfg_memory_default(def, 365 * MiB) == def - 5 * MiB / 8);
	CHECK(kl_ingest_cfg_memory_default(def, 256 * MiB) == 160 * MiB);
	CHECK(kl_ingest_cfg_memory_default(def, 224 * MiB) == 132 * MiB);
	CHECK(kl_ingest_cfg_memory_default(def, 128 * MiB) == 48 * MiB);
	CHECK(kl_ingest_cfg_memory_default(def, 96 * MiB) == 20 * MiB);
	CHECK(kl_ingest_cfg_memory_default(def, 80 * MiB) == KL_MEMORY_LIMIT_FLOOR);
	CHECK(kl_ingest_cfg_memory_default(def, 1) == KL_MEMORY_LIMIT_FLOOR);
	CHECK(kl_ingest_cfg_memory_default(8 * MiB, 20 * MiB) == 8 * MiB); /* never raised */
}

int main(void)
{
	test_parsers();
	test_trees();
	test_memory_default();
	return check_report("test_cgroup");
}
