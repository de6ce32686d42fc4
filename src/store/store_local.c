/* store_local.c — a lake on the local disk; see store.h.
 *
 * Durable-write recipe (as Redis does for its RDB): write to a dot-file in
 * the target directory, fdatasync, rename over the final name; sync() then
 * fsyncs each directory touched since the last sync. A crash leaves at most
 * dot-files ".<name>.tmp-<pid>", which kl_store_local_sweep() removes.
 * Crash leftovers: a store that writes marks it, before its first
 * temporary file, with an empty file _kinlake/writers/<pid>-<store>, and
 * removes the mark when it is freed. kl_store_local_sweep() walks the lake
 * only when a mark of a dead process is there (a crash; then it removes
 * the mark after the walk) or when there is no _kinlake/writers at all (a
 * new lake, or one last written before the marks); a lake whose runs ended
 * cleanly is not walked, which took 11 s warm and 55 s cold before every
 * run of 1,000 events into a lake of 144,000 partitions. On a file system
 * that journals metadata (ext4, XFS) the mark's creation is committed no
 * later than the temporary files created after it, so a power loss cannot
 * keep the files and lose the mark.
 *
 * Deferred commits (commit_deferred, the writer's data files): the last
 * bytes are written, writeback is started (sync_file_range WRITE: the disk
 * gets the bytes now, nobody waits) and the still-open file joins a queue.
 * sync() (or a full queue: PEND_MAX open files, at most a quarter of
 * RLIMIT_NOFILE) makes the queue durable, closes and renames each file,
 * and then makes the directories durable. On ext4 every fdatasync or
 * fsync waits for a journal commit and a disk cache flush of its own,
 * and fdatasyncs of files whose writeback already runs do not coalesce
 * (measured: 2-7 ms each, as before): so with SYNCFS_MIN or more files
 * (or directories) one syncfs() of their file system replaces the
 * fdatasyncs (and one more the directory fsyncs) — two flushes per sync()
 * instead of two per file. syncfs() also writes back other processes'
 * dirty data on that file system; with fewer files it is fdatasync /
 * fsync as before. Measured on this project's VM disk, a 1M-event ingest
 * (552 files): 552 fdatasyncs + 646 directory fsyncs + 462 state-log
 * fdatasyncs before, 232 syncfs + 119 state-log fdatasyncs after
 * (bench/README.md, Session 10). The recipe per file is unchanged (data
 * durable before the rename, the rename durable before sync() returns), so
 * a name never shows a torn or empty file; only the moment moves. A failed
 * flush, close or rename in the queue discards the queued files not yet
 * renamed (close + unlink) and fails sync(). A file is queued at most once
 * per key: open() of a key that waits in the queue flushes the queue
 * first, as its dot-file name would be the same. Files still queued when
 * the store is freed are discarded.
 *
 * Few syscalls: a file's bytes are gathered in a buffer of WBUF_BYTES and go
 * out in writes of at least that size (one writev of buffer + the piece that
 * overflows it), so an encoder's many small chunks cost one write per MiB.
 * Directories are made once per store: a set of the directories known to
 * exist (made or found by this store) answers open() without a mkdir; an
 * unknown one is made top-down from its deepest known ancestor. Stores given
 * one struct kl_dir_hints (store.h: a stream's shards, a store each, in one
 * process) take each other's directories as known: one mkdir per directory
 * in all. Where the directories may exist already, made by writers this
 * store cannot hear of (an earlier run into the same lake, another process),
 * a store that has met a level already made tries an unknown directory itself
 * first: one mkdir that finds it, not one per level (e2e/syscalls' second
 * input into a lake: 374 calls, 615 top-down).
 * The hints have a lock of their own, taken under mu, with nothing under it.
 * The set also marks the directories to fsync at the next sync(). Should a
 * known directory vanish (another process removed it; a warm Lambda keeps
 * its store), open() falls back to `mkdir -p` of the whole path.
 * Conditional writes (store.h): a file's version tag is
 * "<dev>:<inode>:<size>:<mtime ns>" in hex. commit_if() compares and
 * renames under flock() of the file's directory, so conditional writers
 * of one directory (processes of this host, or of hosts whose shared file
 * system honours flock) take turns; a plain commit() does not take the
 * lock and is not fenced. A file system whose mtime is coarse could in
 * theory hand a reused inode the same tag (same size, same tick): every
 * replacement creates its new inode while the old one still exists, so
 * that takes two replacements within one tick.
 * Thread safety: the directory set, the dirty list, the spare buffers and
 * the counters are under `mu`, so writer threads may share the store; one
 * open file is used by one thread at a time. The queue of deferred commits
 * is under `pend_mu`, held while it is flushed (taken before `mu`). The
 * store's error (base.err: the first failure's root cause) is set by
 * writer threads and the sync thread alike, through local_fail() under
 * `err_mu`, a leaf lock: nothing else is taken while it is held.
 *
 * Split syncs (sync_begin + sync_finish, store.h): sync_begin() takes the
 * queue as it is as the next set and leaves an empty queue; sync_finish(),
 * on any thread, makes that set durable and visible as sync() does (one
 * syncfs or an fdatasync each, close + rename, then the dirty directories)
 * without holding pend_mu or mu through the flushes, so the writer keeps
 * opening, writing and queueing the next files meanwhile; it then runs the
 * caller's after() and only then releases the claim. While a set is
 * claimed nothing else of this store renames a deferred file: a full
 * queue, open() of a key that waits in the set or in the queue, sync() and
 * the next sync_begin() all wait for the release first. So files of a
 * later set never become visible before the caller has recorded the
 * earlier set (pipeline/writer.c; commit/state.h's crash argument: at most
 * one unrecorded file per partition). The set and the queue together hold
 * at most 2 * pend_max open files. */
#include "store/store.h"
#include "core/array.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#include <xxhash.h>

#define WBUF_BYTES ((size_t)1 << 20) /* a file goes out in writes of >= 1 MiB */
#define SPARE_MAX 8                  /* write buffers kept for reuse */
#define PEND_MAX 256                 /* deferred commits queued (open fds) */
#define SYNCFS_MIN 3                 /* files or dirs at once: one syncfs() instead */
#define SYNCFS_DEVS 4                /* file systems one flush syncs; more: fsync each */

struct local_dir {
	char *path;
	uint64_t hash;
	int dirty; /* has renamed entries not yet fsynced */
};

/* A set of directory paths (open addressing over dirs by hash). */
struct dir_set {
	struct local_dir *dirs;
	size_t ndirs, capdirs;
	uint32_t *slots; /* index into dirs + 1, 0 = empty */
	size_t nslots;   /* power of two, >= 2 * ndirs */
};

/* store.h: directories any store of the set has made or found (mu). */
struct kl_dir_hints {
	pthread_mutex_t mu;
	struct dir_set set;
};

struct local_store {
	struct kl_store base;
	char *root;
	pthread_mutex_t mu;
	struct dir_set known;   /* directories known to exist */
	struct kl_dir_hints *hints; /* borrowed, NULL = none: other stores' directories */
	uint32_t *dirty;        /* indexes into known.dirs, to fsync at sync() */
	size_t ndirty, capdirty;
	char *spare[SPARE_MAX]; /* free write buffers of WBUF_BYTES */
	size_t nspare;
	long pid; /* in temporary file names; getpid() once, not per file */
	/* deferred commits, written and open, in commit order (pend_mu) */
	pthread_mutex_t pend_mu;
	struct kl_store_file **pend;
	size_t npend, pend_max; /* pend_max: PEND_MAX or less (RLIMIT_NOFILE), 0 = none */
	/* the set sync_begin() took from the queue, owned by the claim until
	 * sync_finish() releases it (module comment: split syncs) */
	struct kl_store_file **set;
	size_t nset;
	int claimed;
	pthread_cond_t claim_cv; /* with pend_mu: the claim was released */
	pthread_mutex_t err_mu;  /* base.err (module comment: thread safety) */
	/* directories in this lake are made by others too (an earlier run,
	 * another process; under mu): a top-down mkdir met a level already
	 * there. dir_ensure() then tries an unknown directory's own level
	 * first (module comment). */
	int others;
	char *mark; /* _kinlake/writers/<pid>-<store>, once made (module comment; mu) */
};

struct kl_store_file {
	struct local_store *s;
	int fd;
	uint64_t bytes;
	char *tmp, *final;
	char *wbuf; /* WBUF_BYTES, NULL until the first write */
	size_t wlen;
};

int kl_store_write_cb(void *ctx, const void *p, size_t n)
{
	struct kl_store_file *f = ctx;
	return f->s->base.ops->write(f, p, n);
}

/* Record the store's first error (kl_errbuf_set) under err_mu: writer
 * threads and the sync thread fail at once without garbling it, and a
 * caller whose own failure was not the first reads a finished message.
 * Returns `code`. */
__attribute__((format(printf, 3, 4))) static int local_fail(struct kl_store *base, int code,
							     const char *fmt, ...)
{
	struct local_store *s = (struct local_store *)base;
	pthread_mutex_lock(&s->err_mu);
	if (base->err.code == KL_OK) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(base->err.msg, sizeof base->err.msg, fmt, ap);
		va_end(ap);
		base->err.code = code;
	}
	pthread_mutex_unlock(&s->err_mu);
	return code;
}

/* ---- directory set (callers hold s->mu) ------------------------------- */

static long dir_find(const struct dir_set *s, const char *p, size_t n, uint64_t h)
{
	if (!s->nslots)
		return -1;
	for (size_t j = h & (s->nslots - 1);; j = (j + 1) & (s->nslots - 1)) {
		uint32_t e = s->slots[j];
		if (!e)
			return -1;
		const struct local_dir *d = &s->dirs[e - 1];
		if (d->hash == h && !strncmp(d->path, p, n) && d->path[n] == '\0')
			return (long)e - 1;
	}
}

static int dir_add(struct dir_set *s, const char *p, size_t n, uint64_t h, long *out)
{
	if ((s->ndirs + 1) * 2 > s->nslots) {
		size_t ns = s->nslots ? s->nslots * 2 : 256;
		uint32_t *sl = calloc(ns, sizeof *sl);
		if (!sl)
			return KL_ENOMEM;
		for (size_t i = 0; i < s->ndirs; i++) {
			size_t j = s->dirs[i].hash & (ns - 1);
			while (sl[j])
				j = (j + 1) & (ns - 1);
			sl[j] = (uint32_t)i + 1;
		}
		free(s->slots);
		s->slots = sl;
		s->nslots = ns;
	}
	if (KL_ARRAY_GROW(s->dirs, s->ndirs, s->capdirs, 128))
		return KL_ENOMEM;
	char *c = strndup(p, n);
	if (!c)
		return KL_ENOMEM;
	s->dirs[s->ndirs] = (struct local_dir){c, h, 0};
	size_t j = h & (s->nslots - 1);
	while (s->slots[j])
		j = (j + 1) & (s->nslots - 1);
	s->slots[j] = (uint32_t)s->ndirs + 1;
	*out = (long)s->ndirs++;
	return KL_OK;
}

static void dir_set_free(struct dir_set *d)
{
	for (size_t i = 0; i < d->ndirs; i++)
		free(d->dirs[i].path);
	free(d->dirs);
	free(d->slots);
}

/* Directory p[0..n) joins the store's set (*out: its entry) and the hints. */
static int known_add(struct local_store *s, const char *p, size_t n, uint64_t h, long *out)
{
	int rc = dir_add(&s->known, p, n, h, out);
	if (rc || !s->hints)
		return rc;
	long j;
	pthread_mutex_lock(&s->hints->mu);
	if (dir_find(&s->hints->set, p, n, h) < 0) /* out of memory: a hint lost costs a mkdir */
		(void)dir_add(&s->hints->set, p, n, h, &j);
	pthread_mutex_unlock(&s->hints->mu);
	return KL_OK;
}

/* The store's entry of directory p[0..n), taken from the hints when another
 * store made or found it; -1 when neither knows it (or out of memory). */
static long known_find(struct local_store *s, const char *p, size_t n, uint64_t h)
{
	long idx = dir_find(&s->known, p, n, h);
	if (idx >= 0 || !s->hints)
		return idx;
	pthread_mutex_lock(&s->hints->mu);
	int hinted = dir_find(&s->hints->set, p, n, h) >= 0;
	pthread_mutex_unlock(&s->hints->mu);
	if (!hinted || dir_add(&s->known, p, n, h, &idx))
		return -1;
	return idx;
}

/* mkdir each level of path[0..n) that ends at or after `from` (at a '/'
 * or at n), top-down; EEXIST is fine. With a store, each level joins its
 * set of known directories and *idx is the last one's entry. 0, -1 with
 * errno set when the system refuses, or KL_ENOMEM. */
static int mkdir_levels(struct local_store *s, char *path, size_t from, size_t n, long *idx)
{
	for (size_t i = from; i <= n; i++) {
		if (i < n && path[i] != '/')
			continue;
		char save = path[i];
		path[i] = '\0';
		int rc = mkdir(path, 0755), e = errno;
		path[i] = save;
		if (rc && e != EEXIST) {
			errno = e;
			return -1;
		}
		if (rc && s)
			s->others = 1;
		if (s && (rc = known_add(s, path, i, XXH3_64bits(path, i), idx)))
			return rc;
	}
	return 0;
}

/* Make directory path[0..n) and any missing parent, unless known; *idx is
 * its entry. Levels below the deepest known ancestor are made top-down, so
 * a fresh lake sees one mkdir per directory and none fails (the exceptions
 * are below). -1 with errno
 * set when the system refuses; KL_ENOMEM. */
static int dir_ensure(struct local_store *s, char *path, size_t n, long *idx)
{
	uint64_t h = XXH3_64bits(path, n);
	if ((*idx = known_find(s, path, n, h)) >= 0)
		return KL_OK;
	size_t known = 0; /* length of the deepest known ancestor, 0 = none */
	for (size_t k = n;;) {
		const char *slash = memrchr(path, '/', k);
		if (!slash || slash == path)
			break;
		k = (size_t)(slash - path);
		if (known_find(s, path, k, XXH3_64bits(path, k)) >= 0) {
			known = k;
			break;
		}
	}
	/* The directory alone first when nothing is known (the root: it mostly
	 * exists or lacks only its last level), or when two or more levels are
	 * unknown and others have made directories here (an earlier run,
	 * another process; this process's stores share hints): likely made
	 * already, one mkdir then instead of one per level. A miss (ENOENT)
	 * there costs one call and turns this off until a level is found
	 * made again. */
	if (!known || (s->others && memchr(path + known + 1, '/', n - known - 1))) {
		char save = path[n];
		path[n] = '\0';
		int rc = mkdir(path, 0755), e = errno;
		path[n] = save;
		if (!rc || e == EEXIST)
			return known_add(s, path, n, h, idx);
		if (e != ENOENT) {
			errno = e;
			return -1;
		}
		if (known)
			s->others = 0;
	}
	return mkdir_levels(s, path, known + 1, n, idx);
}

/* Slow path, for a directory set gone stale (another process removed a
 * directory this store made): mkdir every level of path[0..n) top-down,
 * as `mkdir -p`, recording none. 0, or -1 with errno set. */
static int mkdir_all(char *path, size_t n)
{
	return mkdir_levels(NULL, path, 1, n, NULL);
}

/* Mark directory `idx` for the next sync() (caller holds s->mu). */
static int note_dirty(struct local_store *s, long idx)
{
	if (s->known.dirs[idx].dirty)
		return KL_OK;
	if (KL_ARRAY_GROW(s->dirty, s->ndirty, s->capdirty, 64))
		return KL_ENOMEM;
	s->dirty[s->ndirty++] = (uint32_t)idx;
	s->known.dirs[idx].dirty = 1;
	return KL_OK;
}

/* f's write buffer back to the spares (or freed). */
static void wbuf_release(struct kl_store_file *f)
{
	struct local_store *s = f->s;
	if (f->wbuf) {
		pthread_mutex_lock(&s->mu);
		if (s->nspare < SPARE_MAX) {
			s->spare[s->nspare++] = f->wbuf;
			f->wbuf = NULL;
		}
		pthread_mutex_unlock(&s->mu);
		free(f->wbuf);
		f->wbuf = NULL;
	}
}

static void file_free(struct kl_store_file *f)
{
	wbuf_release(f);
	free(f->tmp);
	free(f->final);
	free(f);
}

/* ---- deferred commits (module comment) ---------------------------------- */

/* f's dot-file is renamed over its name: mark its directory for the next
 * sync() and count it. */
static int note_committed(struct kl_store_file *f)
{
	struct local_store *s = f->s;
	char *slash = strrchr(f->final, '/');
	size_t dn = (size_t)(slash - f->final);
	int rc = KL_OK;
	pthread_mutex_lock(&s->mu);
	long idx = dir_find(&s->known, f->final, dn, XXH3_64bits(f->final, dn));
	if (idx < 0) /* cannot happen: open() made it known */
		rc = dir_add(&s->known, f->final, dn, XXH3_64bits(f->final, dn), &idx);
	if (!rc)
		rc = note_dirty(s, idx);
	s->base.files_committed++;
	s->base.bytes_committed += f->bytes;
	pthread_mutex_unlock(&s->mu);
	return rc;
}

/* The file systems one flush has synced whole (syncfs). */
struct synced_fs {
	dev_t dev[SYNCFS_DEVS];
	size_t n;
};

/* Is what `fd` (a file or directory) holds durable through a syncfs() of
 * its file system, done now unless done already? 1 yes, 0 no (too many
 * file systems, or fstat failed: fsync it), -1 syncfs failed (errno). */
static int fs_synced(struct synced_fs *sf, int fd)
{
	struct stat st;
	if (fstat(fd, &st))
		return 0;
	for (size_t i = 0; i < sf->n; i++)
		if (sf->dev[i] == st.st_dev)
			return 1;
	if (sf->n == SYNCFS_DEVS)
		return 0;
	if (syncfs(fd))
		return -1;
	sf->dev[sf->n++] = st.st_dev;
	return 1;
}

/* Make the queued files durable, then visible: one syncfs() of their file
 * system when SYNCFS_MIN or more wait (their writeback runs since
 * commit_deferred; a flush per file would wait for the disk once each:
 * module comment), else an fdatasync each; then close and rename each in
 * queue order. After the first failure the files not yet renamed are
 * discarded. The files are freed, or with `keep` only closed (fd -1: a
 * claimed set's names are compared by open() until the release). Callers
 * own the list (the queue: pend_mu; the set: its claim). */
static int files_flush(struct local_store *s, struct kl_store_file **pend, size_t npend,
		       int keep)
{
	int rc = KL_OK;
	struct synced_fs sf = {.n = 0};
	for (size_t i = 0; i < npend && !rc; i++) {
		struct kl_store_file *f = pend[i];
		int done = npend >= SYNCFS_MIN ? fs_synced(&sf, f->fd) : 0;
		if (done < 0 || (!done && fdatasync(f->fd)))
			rc = local_fail(&s->base, KL_EIO, "%s %s: %s",
					   done < 0 ? "syncfs for" : "fsync", f->tmp,
					   strerror(errno));
	}
	for (size_t i = 0; i < npend; i++) {
		struct kl_store_file *f = pend[i];
		if (close(f->fd) && !rc)
			rc = local_fail(&s->base, KL_EIO, "close %s: %s", f->tmp,
					   strerror(errno));
		if (!rc && rename(f->tmp, f->final))
			rc = local_fail(&s->base, KL_EIO, "rename %s: %s", f->final,
					   strerror(errno));
		else if (!rc)
			rc = note_committed(f);
		if (rc)
			unlink(f->tmp); /* ENOENT when renamed: note_committed's ENOMEM */
		if (keep)
			f->fd = -1;
		else
			file_free(f);
	}
	return rc;
}

/* The queue's files (files_flush), after the claimed set's release:
 * callers hold pend_mu. */
static int pend_flush(struct local_store *s)
{
	while (s->claimed)
		pthread_cond_wait(&s->claim_cv, &s->pend_mu);
	int rc = files_flush(s, s->pend, s->npend, 0);
	s->npend = 0;
	return rc;
}

/* Before a file of key `final` is created: if one of that key waits in
 * the queue (same dot-file name), flush the queue. */
static int pend_same_key(struct local_store *s, const char *final)
{
	if (!s->pend_max)
		return KL_OK;
	int rc = KL_OK;
	pthread_mutex_lock(&s->pend_mu);
	for (size_t i = 0; s->claimed && i < s->nset; i++)
		if (!strcmp(s->set[i]->final, final)) {
			while (s->claimed)
				pthread_cond_wait(&s->claim_cv, &s->pend_mu);
			break;
		}
	for (size_t i = 0; i < s->npend; i++)
		if (!strcmp(s->pend[i]->final, final)) {
			rc = pend_flush(s);
			break;
		}
	pthread_mutex_unlock(&s->pend_mu);
	return rc;
}

#define WRITERS_DIR "_kinlake/writers"

/* This store's mark (module comment), made before its first temporary
 * file; under mu. -1 with errno set when the system refuses; KL_ENOMEM. */
static int mark_writer(struct local_store *s)
{
	size_t n = strlen(s->root) + sizeof "/" WRITERS_DIR "/" + 48;
	char *p = malloc(n);
	if (!p)
		return KL_ENOMEM;
	int dn = snprintf(p, n, "%s/" WRITERS_DIR, s->root);
	long idx;
	int rc = dir_ensure(s, p, (size_t)dn, &idx);
	if (rc < 0 && errno == ENOENT)
		rc = mkdir_all(p, (size_t)dn);
	if (rc) {
		free(p);
		return rc;
	}
	/* the store's address tells apart the stores of one process */
	snprintf(p + dn, n - (size_t)dn, "/%ld-%lx", s->pid, (unsigned long)(uintptr_t)s);
	int fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0) {
		int e = errno;
		free(p);
		errno = e;
		return -1;
	}
	close(fd);
	s->mark = p;
	return KL_OK;
}

static int local_open(struct kl_store *base, const char *key, struct kl_store_file **out)
{
	struct local_store *s = (struct local_store *)base;
	struct kl_store_file *f = calloc(1, sizeof *f);
	size_t n = strlen(s->root) + strlen(key) + 64;
	if (!f || !(f->final = malloc(n)) || !(f->tmp = malloc(n))) {
		if (f)
			free(f->final);
		free(f);
		return local_fail(base, KL_ENOMEM, "out of memory opening %s", key);
	}
	f->s = s;
	f->fd = -1;
	snprintf(f->final, n, "%s/%s", s->root, key);
	char *slash = strrchr(f->final, '/');
	long idx;
	size_t dn = (size_t)(slash - f->final);
	pthread_mutex_lock(&s->mu);
	int rc = s->mark ? KL_OK : mark_writer(s);
	if (!rc)
		rc = dir_ensure(s, f->final, dn, &idx);
	if (rc < 0 && errno == ENOENT) /* a known directory was removed behind our back */
		rc = mkdir_all(f->final, dn);
	int e = errno;
	pthread_mutex_unlock(&s->mu);
	if (rc) {
		*slash = '\0';
		if (rc < 0)
			local_fail(base, KL_EIO, "mkdir %s: %s", f->final, strerror(e));
		else
			local_fail(base, rc, "out of memory opening %s", key);
		file_free(f);
		return rc < 0 ? KL_EIO : rc;
	}
	*slash = '\0';
	snprintf(f->tmp, n, "%s/.%s.tmp-%ld", f->final, slash + 1, s->pid);
	*slash = '/';
	if ((rc = pend_same_key(s, f->final))) {
		file_free(f);
		return rc;
	}
	f->fd = open(f->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (f->fd < 0 && errno == ENOENT) { /* as above: the set was stale */
		pthread_mutex_lock(&s->mu);
		rc = mkdir_all(f->final, dn);
		pthread_mutex_unlock(&s->mu);
		if (!rc)
			f->fd = open(f->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	}
	if (f->fd < 0) {
		local_fail(base, KL_EIO, "create %s: %s", f->tmp, strerror(errno));
		file_free(f);
		return KL_EIO;
	}
	*out = f;
	return KL_OK;
}

/* Write a[0..an) then b[0..bn) whole, with as few syscalls as the kernel
 * allows (one, normally). */
static int write2(struct kl_store_file *f, const char *a, size_t an, const char *b, size_t bn)
{
	while (an + bn) {
		struct iovec iov[2];
		int k = 0;
		if (an)
			iov[k++] = (struct iovec){(void *)a, an};
		if (bn)
			iov[k++] = (struct iovec){(void *)b, bn};
		ssize_t w = writev(f->fd, iov, k);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return local_fail(&f->s->base, KL_EIO, "write %s: %s", f->tmp,
					     strerror(errno));
		size_t u = (size_t)w, ua = u < an ? u : an;
		if (ua) { /* a or b may be NULL with nothing in it: no offset on NULL */
			a += ua;
			an -= ua;
			u -= ua;
		}
		if (u) {
			b += u;
			bn -= u;
		}
	}
	return KL_OK;
}

static int local_write(struct kl_store_file *f, const void *p, size_t n)
{
	if (f->wlen + n < WBUF_BYTES) { /* gather */
		if (!n)
			return KL_OK;
		if (!f->wbuf) {
			struct local_store *s = f->s;
			pthread_mutex_lock(&s->mu);
			if (s->nspare)
				f->wbuf = s->spare[--s->nspare];
			pthread_mutex_unlock(&s->mu);
			if (!f->wbuf && !(f->wbuf = malloc(WBUF_BYTES)))
				return local_fail(&f->s->base, KL_ENOMEM,
						     "out of memory writing %s", f->tmp);
		}
		memcpy(f->wbuf + f->wlen, p, n);
		f->wlen += n;
		f->bytes += n;
		return KL_OK;
	}
	/* at least a buffer's worth: out with what was gathered, in one call */
	int rc = write2(f, f->wbuf, f->wlen, p, n);
	f->wlen = 0;
	if (!rc)
		f->bytes += n;
	return rc;
}

static void stat_tag(const struct stat *st, char tag[KL_STORE_TAG_MAX])
{
	snprintf(tag, KL_STORE_TAG_MAX, "%llx:%llx:%llx:%llx.%09ld", (unsigned long long)st->st_dev,
		 (unsigned long long)st->st_ino, (unsigned long long)st->st_size,
		 (unsigned long long)st->st_mtim.tv_sec, (long)st->st_mtim.tv_nsec);
}

/* Rename f's dot-file over its name if the name is at version `expect`
 * ("" = absent), under flock() of the directory; the new tag into tag. */
static int rename_if(struct kl_store_file *f, const char *expect, char *tag)
{
	struct local_store *s = f->s;
	char *slash = strrchr(f->final, '/');
	*slash = '\0';
	int dfd = open(f->final, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int e = errno;
	*slash = '/';
	if (dfd < 0)
		return local_fail(&s->base, KL_EIO, "open the directory of %s: %s", f->final,
				     strerror(e));
	int rc = KL_OK;
	while (flock(dfd, LOCK_EX) && errno == EINTR)
		;
	struct stat st;
	char cur[KL_STORE_TAG_MAX] = "";
	if (!stat(f->final, &st))
		stat_tag(&st, cur);
	else if (errno != ENOENT)
		rc = local_fail(&s->base, KL_EIO, "stat %s: %s", f->final, strerror(errno));
	if (!rc && strcmp(cur, expect))
		rc = KL_ECONFLICT; /* an answer, not the store's error (store.h) */
	if (!rc && rename(f->tmp, f->final))
		rc = local_fail(&s->base, KL_EIO, "rename %s: %s", f->final, strerror(errno));
	if (!rc && tag) {
		if (stat(f->final, &st))
			rc = local_fail(&s->base, KL_EIO, "stat %s: %s", f->final,
					   strerror(errno));
		else
			stat_tag(&st, tag);
	}
	close(dfd); /* and the lock with it */
	return rc;
}

/* commit() and commit_if(): expect NULL = unconditional. */
static int commit_cond(struct kl_store_file *f, const char *expect, char *tag)
{
	struct local_store *s = f->s;
	int rc = write2(f, f->wbuf, f->wlen, NULL, 0);
	f->wlen = 0;
	if (!rc && fdatasync(f->fd))
		rc = local_fail(&s->base, KL_EIO, "fsync %s: %s", f->tmp, strerror(errno));
	if (close(f->fd) && !rc)
		rc = local_fail(&s->base, KL_EIO, "close %s: %s", f->tmp, strerror(errno));
	if (!rc && expect)
		rc = rename_if(f, expect, tag);
	else if (!rc && rename(f->tmp, f->final))
		rc = local_fail(&s->base, KL_EIO, "rename %s: %s", f->final, strerror(errno));
	if (rc)
		unlink(f->tmp);
	else
		rc = note_committed(f);
	file_free(f);
	return rc;
}

static int local_commit(struct kl_store_file *f)
{
	return commit_cond(f, NULL, NULL);
}

static int local_commit_if(struct kl_store_file *f, const char *expect,
			   char tag[KL_STORE_TAG_MAX])
{
	return commit_cond(f, expect ? expect : "", tag);
}

static void local_abort(struct kl_store_file *f)
{
	close(f->fd);
	unlink(f->tmp);
	file_free(f);
}

/* The last bytes out, writeback started, and the open file queued for the
 * next sync() (module comment). */
static int local_commit_deferred(struct kl_store_file *f)
{
	struct local_store *s = f->s;
	if (!s->pend_max)
		return commit_cond(f, NULL, NULL);
	int rc = write2(f, f->wbuf, f->wlen, NULL, 0);
	f->wlen = 0;
	if (rc) {
		local_abort(f);
		return rc;
	}
	/* no wait; a file system without it only loses the head start, and a
	 * write error shows in the fdatasync at sync() */
	(void)sync_file_range(f->fd, 0, 0, SYNC_FILE_RANGE_WRITE);
	wbuf_release(f);
	pthread_mutex_lock(&s->pend_mu);
	if (s->npend == s->pend_max)
		rc = pend_flush(s);
	if (!rc)
		s->pend[s->npend++] = f;
	pthread_mutex_unlock(&s->pend_mu);
	if (rc)
		local_abort(f);
	return rc;
}

/* Make the directories whose entries changed durable: their list is
 * taken under mu, the flushes run without it (open() of other files goes
 * on meanwhile; a directory dirtied again after the list was taken is in
 * the next one). rc: the sync's result so far. */
static int dirs_sync(struct local_store *s, int rc)
{
	pthread_mutex_lock(&s->mu);
	size_t n = s->ndirty;
	char **paths = n ? malloc(n * sizeof *paths) : NULL;
	if (n && !paths) {
		pthread_mutex_unlock(&s->mu);
		return rc ? rc : local_fail(&s->base, KL_ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < n; i++) { /* a known directory's path lives as long as s */
		struct local_dir *d = &s->known.dirs[s->dirty[i]];
		paths[i] = d->path;
		d->dirty = 0;
	}
	s->ndirty = 0;
	pthread_mutex_unlock(&s->mu);
	/* many directories: one syncfs() makes their entries durable at once */
	struct synced_fs sf = {.n = 0};
	for (size_t i = 0; i < n; i++) {
		int fd = open(paths[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		int done = fd >= 0 && n >= SYNCFS_MIN ? fs_synced(&sf, fd) : 0;
		if ((fd < 0 || done < 0 || (!done && fsync(fd))) && !rc)
			rc = local_fail(&s->base, KL_EIO, "%s %s: %s",
					   done < 0 ? "syncfs for dir" : "fsync dir", paths[i],
					   strerror(errno));
		if (fd >= 0)
			close(fd);
	}
	free(paths);
	return rc;
}

static int local_sync(struct kl_store *base)
{
	struct local_store *s = (struct local_store *)base;
	pthread_mutex_lock(&s->pend_mu);
	int rc = pend_flush(s);
	pthread_mutex_unlock(&s->pend_mu);
	return dirs_sync(s, rc);
}

/* The queue becomes the claimed set (module comment: split syncs). */
static int local_sync_begin(struct kl_store *base)
{
	struct local_store *s = (struct local_store *)base;
	pthread_mutex_lock(&s->pend_mu);
	while (s->claimed)
		pthread_cond_wait(&s->claim_cv, &s->pend_mu);
	struct kl_store_file **t = s->set;
	s->set = s->pend;
	s->nset = s->npend;
	s->pend = t;
	s->npend = 0;
	s->claimed = 1;
	pthread_mutex_unlock(&s->pend_mu);
	return KL_OK;
}

static int local_sync_finish(struct kl_store *base, int (*after)(void *ctx, int rc), void *ctx)
{
	struct local_store *s = (struct local_store *)base;
	/* the claim owns the set: no lock while it is flushed; its names stay
	 * for pend_same_key() until the release */
	int rc = files_flush(s, s->set, s->nset, 1);
	rc = dirs_sync(s, rc);
	rc = after(ctx, rc);
	pthread_mutex_lock(&s->pend_mu);
	for (size_t i = 0; i < s->nset; i++)
		file_free(s->set[i]);
	s->nset = 0;
	s->claimed = 0;
	pthread_cond_broadcast(&s->claim_cv);
	pthread_mutex_unlock(&s->pend_mu);
	return rc;
}

/* read() and read_tag(): out NULL = the tag only; tag NULL = no tag. The
 * tag is the opened file's, so bytes and tag are of one version. */
static int read_obj(struct kl_store *base, const char *key, struct kl_buf *out, char *tag)
{
	struct local_store *s = (struct local_store *)base;
	char path[4096];
	snprintf(path, sizeof path, "%s/%s", s->root, key);
	if (out)
		kl_buf_reset(out);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? KL_ENOTFOUND
				       : local_fail(base, KL_EIO, "open %s: %s", path,
						       strerror(errno));
	if (tag) {
		struct stat st;
		if (fstat(fd, &st)) {
			close(fd);
			return local_fail(base, KL_EIO, "stat %s: %s", path,
					     strerror(errno));
		}
		stat_tag(&st, tag);
	}
	for (; out;) {
		if (kl_buf_reserve(out, 65536)) {
			close(fd);
			return KL_ENOMEM;
		}
		ssize_t n = read(fd, out->data + out->len, out->cap - out->len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			close(fd);
			return local_fail(base, KL_EIO, "read %s: %s", path, strerror(errno));
		}
		if (n == 0)
			break;
		out->len += (size_t)n;
	}
	close(fd);
	return KL_OK;
}

static int local_read(struct kl_store *base, const char *key, struct kl_buf *out)
{
	return read_obj(base, key, out, NULL);
}

static int local_read_tag(struct kl_store *base, const char *key, struct kl_buf *out,
			  char tag[KL_STORE_TAG_MAX])
{
	return read_obj(base, key, out, tag);
}

static int valid_dir(const char *dir)
{
	size_t n = strlen(dir);
	if (n == 0)
		return 1;
	if (dir[0] == '/' || dir[n - 1] != '/')
		return 0;
	for (const char *p = dir; *p;) { /* no "." or ".." level, no empty level */
		size_t l = strcspn(p, "/");
		if (l == 0 || (l == 1 && p[0] == '.') || (l == 2 && p[0] == '.' && p[1] == '.'))
			return 0;
		p += l + (p[l] == '/');
	}
	return 1;
}

static int local_list(struct kl_store *base, const char *dir, kl_store_list_fn fn, void *ctx)
{
	struct local_store *s = (struct local_store *)base;
	if (!valid_dir(dir))
		return local_fail(base, KL_EINVAL, "list: bad directory key \"%.100s\"",
				     dir);
	struct kl_buf path, key;
	kl_buf_init(&path, 0);
	kl_buf_init(&key, 0);
	int rc = kl_buf_printf(&path, "%s/%s", s->root, dir);
	DIR *d = rc ? NULL : opendir(path.data);
	if (!rc && !d && errno != ENOENT && errno != ENOTDIR)
		rc = local_fail(base, KL_EIO, "list %s: %s", path.data, strerror(errno));
	for (struct dirent *e; d && !rc;) {
		errno = 0;
		if (!(e = readdir(d))) {
			if (errno)
				rc = local_fail(base, KL_EIO, "list %s: %s", path.data,
						   strerror(errno));
			break;
		}
		if (e->d_name[0] == '.') /* ".", "..", and our temporary files */
			continue;
		int is_dir = e->d_type == DT_DIR;
		if (e->d_type == DT_UNKNOWN || e->d_type == DT_LNK) {
			struct stat st;
			size_t l = path.len;
			if ((rc = kl_buf_printf(&path, "%s", e->d_name)))
				break;
			is_dir = !stat(path.data, &st) && S_ISDIR(st.st_mode);
			path.len = l;
			path.data[l] = '\0';
		}
		kl_buf_reset(&key);
		rc = kl_buf_printf(&key, "%s%s%s", dir, e->d_name, is_dir ? "/" : "");
		if (!rc)
			rc = fn(ctx, key.data, key.len);
	}
	if (d)
		closedir(d);
	kl_buf_cleanup(&path);
	kl_buf_cleanup(&key);
	return rc;
}

static void local_free(struct kl_store *base)
{
	struct local_store *s = (struct local_store *)base;
	for (size_t i = 0; i < s->npend; i++) /* never synced: never visible */
		local_abort(s->pend[i]);
	for (size_t i = 0; i < s->nset; i++) /* a claim never finished (cannot happen) */
		local_abort(s->set[i]);
	free(s->pend);
	free(s->set);
	if (s->mark) { /* its temporary files are gone: no crash to sweep after */
		(void)unlink(s->mark);
		free(s->mark);
	}
	pthread_mutex_destroy(&s->pend_mu);
	pthread_cond_destroy(&s->claim_cv);
	dir_set_free(&s->known);
	for (size_t i = 0; i < s->nspare; i++)
		free(s->spare[i]);
	free(s->dirty);
	free(s->root);
	pthread_mutex_destroy(&s->mu);
	pthread_mutex_destroy(&s->err_mu);
	free(s);
}

static const struct kl_store_ops local_ops = {
    .open = local_open,     /* mkdir only for a directory this store does not know */
    .write = local_write,   /* gathered into writes of >= WBUF_BYTES */
    .commit = local_commit, /* last write, fdatasync, close, rename; dir marked dirty */
    /* last write, writeback started, queued open; fdatasync + rename at sync() */
    .commit_deferred = local_commit_deferred,
    .abort = local_abort, /* close + unlink the dot-file */
    .sync = local_sync,   /* the queue's fdatasyncs and renames; fsync each dirty dir once */
    .sync_begin = local_sync_begin,   /* the queue becomes the claimed set */
    .sync_finish = local_sync_finish, /* the set as sync() does, after(), release */
    .read = local_read,
    .list = local_list,
    .read_tag = local_read_tag,   /* the opened file's tag (fstat), then its bytes */
    .commit_if = local_commit_if, /* compare tags and rename under flock of the dir */
    /* not offered: a guarded file's compare-and-rename is its commit, at once */
    .commit_deferred_guarded = NULL,
    .free = local_free,
};

struct kl_dir_hints *kl_dir_hints_new(void)
{
	struct kl_dir_hints *h = calloc(1, sizeof *h);
	if (h)
		pthread_mutex_init(&h->mu, NULL);
	return h;
}

void kl_dir_hints_free(struct kl_dir_hints *h)
{
	if (!h)
		return;
	dir_set_free(&h->set);
	pthread_mutex_destroy(&h->mu);
	free(h);
}

int kl_store_local_new(struct kl_store **out, const char *root, struct kl_errbuf *eb)
{
	return kl_store_local_new_hinted(out, root, NULL, eb);
}

int kl_store_local_new_hinted(struct kl_store **out, const char *root, struct kl_dir_hints *hints,
			      struct kl_errbuf *eb)
{
	struct local_store *s = calloc(1, sizeof *s);
	if (!s || !(s->root = strdup(root))) {
		free(s);
		return kl_errbuf_set(eb, KL_ENOMEM, "out of memory");
	}
	s->hints = hints;
	pthread_mutex_init(&s->mu, NULL);
	pthread_mutex_init(&s->pend_mu, NULL);
	pthread_mutex_init(&s->err_mu, NULL);
	pthread_cond_init(&s->claim_cv, NULL);
	s->base.ops = &local_ops;
	s->pid = (long)getpid();
	struct rlimit rl;
	s->pend_max = PEND_MAX;
	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur != RLIM_INFINITY &&
	    rl.rlim_cur / 4 < s->pend_max)
		s->pend_max = (size_t)rl.rlim_cur / 4;
	if (s->pend_max && (!(s->pend = calloc(s->pend_max, sizeof *s->pend)) ||
			    !(s->set = calloc(s->pend_max, sizeof *s->set)))) {
		local_free(&s->base);
		return kl_errbuf_set(eb, KL_ENOMEM, "out of memory");
	}
	size_t n = strlen(s->root);
	while (n > 1 && s->root[n - 1] == '/')
		s->root[--n] = '\0';
	long idx;
	int rc = dir_ensure(s, s->root, n, &idx);
	if (rc) {
		rc = rc < 0 ? kl_errbuf_set(eb, KL_EIO, "cannot create lake directory %s: %s", root,
					    strerror(errno))
			    : kl_errbuf_set(eb, rc, "out of memory");
		local_free(&s->base);
		return rc;
	}
	*out = &s->base;
	return KL_OK;
}

/* pid names a process other than this one that is running (or that we may
 * not signal): its temporary files and its mark are left alone. */
static int other_live_process(long pid)
{
	return pid > 0 && pid != (long)getpid() && (kill((pid_t)pid, 0) == 0 || errno == EPERM);
}

static void sweep(char *path, size_t len, size_t cap, uint64_t *removed)
{
	DIR *d = opendir(path);
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		size_t n = strlen(e->d_name);
		if (len + n + 2 > cap)
			continue;
		path[len] = '/';
		memcpy(path + len + 1, e->d_name, n + 1);
		if (e->d_type == DT_DIR) {
			sweep(path, len + 1 + n, cap, removed);
		} else if (e->d_name[0] == '.' && strstr(e->d_name, ".tmp-")) {
			/* leave temp files of a live writer (another ingest) alone */
			if (!other_live_process(atol(strstr(e->d_name, ".tmp-") + 5)) &&
			    !unlink(path))
				(*removed)++;
		}
		path[len] = '\0';
	}
	closedir(d);
}

/* A mark's name (mark_writer: "<pid>-<store>", well under this). */
struct mark_name {
	char s[64];
};

/* The marks in root/_kinlake/writers whose process is dead, taken before
 * the walk (a writer that dies during it keeps its mark for the next run),
 * into *dead (n of them, the caller frees it); -1: no such directory. */
static int dead_marks(const char *root, struct mark_name **dead, size_t *n)
{
	*dead = NULL;
	*n = 0;
	char dir[4096];
	if (snprintf(dir, sizeof dir, "%s/" WRITERS_DIR, root) >= (int)sizeof dir)
		return 0;
	DIR *d = opendir(dir);
	if (!d)
		return errno == ENOENT ? -1 : 0;
	struct dirent *e;
	size_t cap = 0;
	while ((e = readdir(d))) {
		long pid = atol(e->d_name);
		if (e->d_name[0] == '.' || pid <= 0 || pid == (long)getpid() ||
		    other_live_process(pid) || strlen(e->d_name) >= sizeof (*dead)->s)
			continue;
		if (KL_ARRAY_GROW(*dead, *n, cap, 16))
			break; /* the rest waits for the next run */
		memcpy((*dead)[(*n)++].s, e->d_name, strlen(e->d_name) + 1);
	}
	closedir(d);
	return 0;
}

int kl_store_local_sweep(const char *root, uint64_t *removed)
{
	char path[4096];
	size_t n = strlen(root);
	*removed = 0;
	if (n >= sizeof path)
		return KL_EINVAL;
	struct mark_name *dead;
	size_t nd;
	int none = dead_marks(root, &dead, &nd);
	if (none == 0 && nd == 0)
		return KL_OK; /* every writer ended cleanly, or is still alive */
	memcpy(path, root, n + 1);
	sweep(path, n, sizeof path, removed);
	for (size_t i = 0; i < nd; i++) /* swept: the marks go */
		if (snprintf(path, sizeof path, "%s/" WRITERS_DIR "/%s", root, dead[i].s) <
		    (int)sizeof path)
			(void)unlink(path);
	free(dead);
	return KL_OK;
}
