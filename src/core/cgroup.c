/*
 * cgroup.c — a container's CPU and memory limits, as the cgroup files say
 * them (see cgroup.h).
 */
#include "core/cgroup.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SELF_CAP (64u << 10)  /* /proc/self/cgroup: a line per hierarchy */
#define MOUNTS_CAP (1u << 20) /* mountinfo: thousands of mounts on a busy host */
#define SMALL_CAP 128	      /* cpu.max, memory.max, cpu.cfs_quota_us, ... */
/* cgroup v1 says "no limit" in memory.limit_in_bytes as the largest page
 * count in bytes (9223372036854771712 with 4 KiB pages) */
#define V1_MEM_UNLIMITED (UINT64_C(1) << 62)
#define MAX_DEPTH 256 /* ancestors walked at most */

/* --- parsers (pure; fuzz/fuzz_cgroup.c) ----------------------------------- */

/* digits of s[*i..n) into *v; 0, or -1 when there are none or they overflow */
static int digits(const char *s, size_t n, size_t *i, uint64_t *v)
{
	size_t start = *i;
	uint64_t x = 0;
	while (*i < n && s[*i] >= '0' && s[*i] <= '9') {
		unsigned d = (unsigned)(s[*i] - '0');
		if (x > (UINT64_MAX - d) / 10)
			return -1;
		x = x * 10 + d;
		(*i)++;
	}
	*v = x;
	return *i > start ? 0 : -1;
}

/* the rest of s after *i is nothing or one newline */
static int at_end(const char *s, size_t n, size_t i)
{
	return i == n || (i + 1 == n && s[i] == '\n');
}

int kl_cgroup_cpu_max_parse(const char *s, size_t n, uint64_t *quota, uint64_t *period)
{
	size_t i = 0;
	uint64_t q = 0, p;
	int unlimited = n >= 3 && !memcmp(s, "max", 3);
	if (unlimited)
		i = 3;
	else if (digits(s, n, &i, &q) || q == 0)
		return -1;
	if (i >= n || s[i] != ' ')
		return -1;
	i++;
	if (digits(s, n, &i, &p) || p == 0 || !at_end(s, n, i))
		return -1;
	if (unlimited)
		return 0;
	*quota = q;
	*period = p;
	return 1;
}

int kl_cgroup_int_parse(const char *s, size_t n, int64_t *v)
{
	size_t i = 0;
	int neg = n > 0 && s[0] == '-';
	i = (size_t)neg;
	uint64_t x;
	if (digits(s, n, &i, &x) || x > (uint64_t)INT64_MAX || !at_end(s, n, i))
		return -1;
	*v = neg ? -(int64_t)x : (int64_t)x;
	return 0;
}

/* is `word` one of the comma-separated items of s[0..n) */
static int has_item(const char *s, size_t n, const char *word)
{
	size_t w = strlen(word);
	for (size_t i = 0; i <= n;) {
		const char *c = memchr(s + i, ',', n - i);
		size_t e = c ? (size_t)(c - s) : n;
		if (e - i == w && !memcmp(s + i, word, w))
			return 1;
		i = e + 1;
	}
	return 0;
}

/* copy s[0..n) into out[cap] NUL-terminated; -1 if it does not fit */
static int copy_out(const char *s, size_t n, char *out, size_t cap)
{
	if (n >= cap)
		return -1;
	memcpy(out, s, n);
	out[n] = '\0';
	return 0;
}

int kl_cgroup_self_path(const char *s, size_t n, const char *controller, char *path, size_t cap)
{
	for (size_t i = 0; i < n;) {
		const char *nl = memchr(s + i, '\n', n - i);
		size_t e = nl ? (size_t)(nl - s) : n;
		const char *line = s + i;
		size_t len = e - i;
		i = e + 1;
		const char *c1 = memchr(line, ':', len);
		if (!c1)
			continue;
		size_t rest = len - (size_t)(c1 + 1 - line);
		const char *c2 = memchr(c1 + 1, ':', rest);
		if (!c2)
			continue;
		const char *ctl = c1 + 1, *p = c2 + 1;
		size_t ctl_len = (size_t)(c2 - ctl), plen = len - (size_t)(p - line);
		int match = !controller ? (c1 - line == 1 && line[0] == '0' && ctl_len == 0)
					: (ctl_len > 0 && has_item(ctl, ctl_len, controller));
		if (!match)
			continue;
		if (plen == 0 || p[0] != '/')
			return -1;
		return copy_out(p, plen, path, cap);
	}
	return -1;
}

/* a mountinfo field with its octal escapes (\040 for a space) decoded */
static int field_out(const char *s, size_t n, char *out, size_t cap)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];
		if (ch == '\\' && i + 3 < n && s[i + 1] >= '0' && s[i + 1] <= '3' &&
		    s[i + 2] >= '0' && s[i + 2] <= '7' && s[i + 3] >= '0' && s[i + 3] <= '7') {
			ch = (char)((s[i + 1] - '0') << 6 | (s[i + 2] - '0') << 3 |
				    (s[i + 3] - '0'));
			i += 3;
		}
		if (o + 1 >= cap || ch == '\0')
			return -1;
		out[o++] = ch;
	}
	if (o >= cap)
		return -1;
	out[o] = '\0';
	return 0;
}

int kl_cgroup_mount(const char *s, size_t n, const char *controller, char *root, size_t rcap,
		    char *mnt, size_t mcap)
{
	for (size_t i = 0; i < n;) {
		const char *nl = memchr(s + i, '\n', n - i);
		size_t e = nl ? (size_t)(nl - s) : n;
		const char *f[16];
		size_t fl[16], nf = 0, sep = 0;
		for (size_t j = i; j < e && nf < 16;) { /* space-separated fields */
			while (j < e && s[j] == ' ')
				j++;
			if (j == e)
				break;
			size_t k = j;
			while (k < e && s[k] != ' ')
				k++;
			f[nf] = s + j;
			fl[nf] = k - j;
			if (!sep && nf >= 6 && fl[nf] == 1 && s[j] == '-')
				sep = nf;
			nf++;
			j = k;
		}
		i = e + 1;
		/* id parent maj:min root mountpoint options [optional...] - type source
		 * superoptions */
		if (!sep || nf < sep + 4)
			continue;
		const char *type = f[sep + 1];
		size_t tl = fl[sep + 1];
		int match = !controller ? (tl == 7 && !memcmp(type, "cgroup2", 7))
					: (tl == 6 && !memcmp(type, "cgroup", 6) &&
					   has_item(f[sep + 3], fl[sep + 3], controller));
		if (!match)
			continue;
		if (field_out(f[3], fl[3], root, rcap) || field_out(f[4], fl[4], mnt, mcap) ||
		    root[0] != '/' || mnt[0] != '/')
			return -1;
		return 0;
	}
	return -1;
}

/* --- reading the kernel's files ------------------------------------------- */

/* Up to cap - 1 bytes of a file into buf, NUL-terminated; a file that fills
 * the buffer loses its last, incomplete line. Its length, or -1. */
static long read_text(const char *path, char *buf, size_t cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	size_t len = 0;
	while (len + 1 < cap) {
		ssize_t r = read(fd, buf + len, cap - 1 - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			close(fd);
			return -1;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	if (len + 1 >= cap) { /* cut short: keep whole lines only */
		char *nl = memrchr(buf, '\n', len);
		len = nl ? (size_t)(nl - buf) + 1 : 0;
	}
	close(fd);
	buf[len] = '\0';
	return (long)len;
}

/* the smaller of two limits, where 0 means none */
static uint64_t tighter(uint64_t a, uint64_t b)
{
	return a && (!b || a < b) ? a : b;
}

/* ceil(quota / period), at least 1 */
static uint64_t cpus_of(uint64_t quota, uint64_t period)
{
	uint64_t c = quota / period + (quota % period != 0);
	return c ? c : 1;
}

/* the text of dir/name, NUL-terminated in text[SMALL_CAP]; its length or -1 */
static long read_knob(char *dir, size_t len, size_t cap, const char *name, char *text)
{
	size_t nl = strlen(name);
	if (len + 1 + nl + 1 > cap)
		return -1;
	dir[len] = '/';
	memcpy(dir + len + 1, name, nl + 1);
	long n = read_text(dir, text, SMALL_CAP);
	dir[len] = '\0';
	return n;
}

/* One cgroup directory's limit, 0 if it sets none: a reader per knob. dir
 * holds len bytes of path and has room for cap (the knob's name is put after
 * it and taken off again). */
typedef uint64_t (*knob_fn)(char *dir, size_t len, size_t cap);

static uint64_t cpu_v2(char *dir, size_t len, size_t cap)
{
	char text[SMALL_CAP];
	uint64_t q, p;
	long n = read_knob(dir, len, cap, "cpu.max", text);
	return n >= 0 && kl_cgroup_cpu_max_parse(text, (size_t)n, &q, &p) == 1 ? cpus_of(q, p) : 0;
}

static uint64_t cpu_v1(char *dir, size_t len, size_t cap)
{
	char text[SMALL_CAP];
	int64_t q, p;
	long n = read_knob(dir, len, cap, "cpu.cfs_quota_us", text);
	if (n < 0 || kl_cgroup_int_parse(text, (size_t)n, &q) || q <= 0)
		return 0;
	n = read_knob(dir, len, cap, "cpu.cfs_period_us", text);
	if (n < 0 || kl_cgroup_int_parse(text, (size_t)n, &p) || p <= 0)
		return 0;
	return cpus_of((uint64_t)q, (uint64_t)p);
}

static uint64_t mem_v2(char *dir, size_t len, size_t cap)
{
	char text[SMALL_CAP];
	int64_t v;
	long n = read_knob(dir, len, cap, "memory.max", text); /* "max": none */
	return n >= 0 && !kl_cgroup_int_parse(text, (size_t)n, &v) && v > 0 ? (uint64_t)v : 0;
}

static uint64_t mem_v1(char *dir, size_t len, size_t cap)
{
	char text[SMALL_CAP];
	int64_t v;
	long n = read_knob(dir, len, cap, "memory.limit_in_bytes", text);
	return n >= 0 && !kl_cgroup_int_parse(text, (size_t)n, &v) && v > 0 &&
		       (uint64_t)v < V1_MEM_UNLIMITED
		   ? (uint64_t)v
		   : 0;
}

/* the smallest limit along one hierarchy's path, 0 if none */
static uint64_t hierarchy_min(const char *root, const char *controller, knob_fn knob,
			      const char *self, size_t self_len, const char *mounts,
			      size_t mounts_len)
{
	char path[PATH_MAX], mroot[PATH_MAX], mnt[PATH_MAX], dir[3 * PATH_MAX];
	if (kl_cgroup_self_path(self, self_len, controller, path, sizeof path) ||
	    kl_cgroup_mount(mounts, mounts_len, controller, mroot, sizeof mroot, mnt, sizeof mnt))
		return 0;
	/* the cgroup's path below the mount's root; a cgroup outside what the
	 * mount shows (another namespace's view) is looked for at the mount */
	const char *rel = path;
	size_t rl = strlen(mroot);
	if (strcmp(mroot, "/")) {
		if (!strncmp(path, mroot, rl) && (path[rl] == '/' || path[rl] == '\0'))
			rel = path + rl;
		else
			rel = "";
	}
	/* "/" is the mount itself; a path that climbs out of the namespace's
	 * view ("/../x": a process outside the reader's cgroup namespace) is
	 * looked for at the mount, never above it */
	if (!strcmp(rel, "/") || strstr(rel, "/.."))
		rel = "";
	if (!strcmp(mnt, "/"))
		mnt[0] = '\0';
	int w = snprintf(dir, sizeof dir, "%s%s", root, mnt);
	if (w < 0 || (size_t)w >= sizeof dir)
		return 0;
	size_t base = (size_t)w;
	w = snprintf(dir + base, sizeof dir - base, "%s", rel);
	if (w < 0 || (size_t)w >= sizeof dir - base)
		return 0;
	size_t len = base + (size_t)w;
	while (len > base && dir[len - 1] == '/')
		dir[--len] = '\0';
	uint64_t best = 0;
	for (int depth = 0; depth < MAX_DEPTH; depth++) {
		best = tighter(best, knob(dir, len, sizeof dir));
		if (len <= base)
			break;
		char *slash = memrchr(dir + base, '/', len - base);
		if (!slash)
			break;
		len = (size_t)(slash - dir);
		dir[len] = '\0';
	}
	return best;
}

/* the smallest limit of a knob in the v2 hierarchy and in the v1 one of
 * `v1_controller`, 0 if none */
static uint64_t limit_of(const char *root, const char *self, size_t sn, const char *mounts,
			 size_t mn, knob_fn v2, const char *v1_controller, knob_fn v1)
{
	return tighter(hierarchy_min(root, NULL, v2, self, sn, mounts, mn),
		       hierarchy_min(root, v1_controller, v1, self, sn, mounts, mn));
}

void kl_cgroup_limits_read(const char *root, struct kl_cgroup_limits *out)
{
	char file[PATH_MAX];
	char *self = malloc(SELF_CAP), *mounts = malloc(MOUNTS_CAP);
	long sn = -1, mn = -1;
	out->cpus = 0;
	out->memory = 0;
	if (self && mounts &&
	    (size_t)snprintf(file, sizeof file, "%s/proc/self/cgroup", root) < sizeof file)
		sn = read_text(file, self, SELF_CAP);
	if (sn >= 0 &&
	    (size_t)snprintf(file, sizeof file, "%s/proc/self/mountinfo", root) < sizeof file)
		mn = read_text(file, mounts, MOUNTS_CAP);
	if (sn >= 0 && mn >= 0) {
		uint64_t c =
		    limit_of(root, self, (size_t)sn, mounts, (size_t)mn, cpu_v2, "cpu", cpu_v1);
		out->cpus = c > UINT_MAX ? UINT_MAX : (unsigned)c;
		out->memory =
		    limit_of(root, self, (size_t)sn, mounts, (size_t)mn, mem_v2, "memory", mem_v1);
	}
	free(self);
	free(mounts);
}

unsigned kl_cpus_available(const struct kl_cgroup_limits *lim)
{
	unsigned n = 0;
	cpu_set_t set;
	if (!sched_getaffinity(0, sizeof set, &set) && CPU_COUNT(&set) > 0)
		n = (unsigned)CPU_COUNT(&set);
	if (!n) {
		long on = sysconf(_SC_NPROCESSORS_ONLN);
		n = on > 0 ? (unsigned)on : 1;
	}
	return (unsigned)tighter(n, lim->cpus);
}
