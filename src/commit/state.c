/* state.c — see state.h. */
#include "commit/state.h"
#include "core/array.h"

#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>
#include <zlib.h>

/* mkdir -p, deepest level first: one mkdir when the parent exists. */
static int mkdirs(char *path)
{
	if (!mkdir(path, 0755) || errno == EEXIST)
		return 0;
	char *slash = strrchr(path, '/');
	if (errno != ENOENT || !slash || slash == path)
		return -1;
	*slash = '\0';
	int rc = mkdirs(path);
	*slash = '/';
	return rc || (mkdir(path, 0755) && errno != EEXIST) ? -1 : 0;
}

static int index_put(struct kl_state *st, size_t i)
{
	if (!st->index || (st->nparts * 2 > st->index_mask + 1)) {
		size_t cap = st->index ? (st->index_mask + 1) * 2 : 256;
		uint32_t *idx = calloc(cap, sizeof *idx);
		if (!idx)
			return KL_ENOMEM;
		free(st->index);
		st->index = idx;
		st->index_mask = cap - 1;
		for (size_t j = 0; j < st->nparts; j++) {
			if (j == i)
				continue;
			size_t s = st->parts[j].hash & st->index_mask;
			while (st->index[s])
				s = (s + 1) & st->index_mask;
			st->index[s] = (uint32_t)j + 1;
		}
	}
	size_t s = st->parts[i].hash & st->index_mask;
	while (st->index[s])
		s = (s + 1) & st->index_mask;
	st->index[s] = (uint32_t)i + 1;
	return KL_OK;
}

static struct kl_state_part *find(const struct kl_state *st, const char *key, size_t n,
				  uint64_t h)
{
	if (!st->index)
		return NULL;
	for (size_t s = h & st->index_mask; st->index[s]; s = (s + 1) & st->index_mask) {
		struct kl_state_part *p = &st->parts[st->index[s] - 1];
		if (p->hash == h && strlen(p->key) == n && !memcmp(p->key, key, n))
			return p;
	}
	return NULL;
}

static int set_part(struct kl_state *st, const char *key, size_t n, uint64_t upto)
{
	uint64_t h = XXH3_64bits(key, n);
	struct kl_state_part *p = find(st, key, n, h);
	if (p) {
		if (upto > p->upto)
			p->upto = upto;
		return KL_OK;
	}
	if (KL_ARRAY_GROW(st->parts, st->nparts, st->capparts, 256))
		return KL_ENOMEM;
	char *k = strndup(key, n);
	if (!k)
		return KL_ENOMEM;
	st->parts[st->nparts] = (struct kl_state_part){k, upto, h};
	st->nparts++;
	return index_put(st, st->nparts - 1);
}

#define FRAME_MAX 4200 /* a line body we write is shorter */

/* Append one CRC-framed line to b. */
static int frame(struct kl_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int frame(struct kl_buf *b, const char *fmt, ...)
{
	char body[FRAME_MAX];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(body, sizeof body, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof body)
		return KL_EINVAL;
	uLong crc = crc32(0L, (const Bytef *)body, (uInt)n);
	return kl_buf_printf(b, "%08lx %s\n", crc, body);
}

static int frame_replay(struct kl_buf *b, const struct kl_state_replay *m)
{
	return frame(b, "M %" PRIu64 " %" PRIu64 " %d %" PRIu64 " %" PRIu64, m->upto, m->charge,
		     m->check ? 1 : 0, m->quiet, m->qwindow);
}

/* A decimal number filling p[0..n): digits only, no sign or space, no
 * overflow. 0 when it is one. */
static int parse_u64(const char *p, size_t n, uint64_t *out)
{
	uint64_t v = 0;
	if (n == 0 || n > 20)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -1;
		unsigned d = (unsigned)(p[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

static int parse_crc(const char *p, uint32_t *out)
{
	uint32_t v = 0;
	for (int i = 0; i < 8; i++) {
		int d = p[i] >= '0' && p[i] <= '9'   ? p[i] - '0'
			: p[i] >= 'a' && p[i] <= 'f' ? p[i] - 'a' + 10
						     : -1;
		if (d < 0)
			return -1;
		v = v << 4 | (uint32_t)d;
	}
	*out = v;
	return 0;
}

static int is_day(const char *p)
{
	for (int i = 0; i < 10; i++)
		if (i == 4 || i == 7 ? p[i] != '-' : p[i] < '0' || p[i] > '9')
			return 0;
	return 1;
}

/* One checksummed body; a line of another shape is skipped (0), so a
 * newer writer's lines do not stop an older reader. */
static int apply_line(struct kl_state *st, const char *b, size_t n)
{
	uint64_t a, c;
	if (n < 3 || b[1] != ' ' || memchr(b, '\0', n))
		return 0;
	const char *v = b + 2, *end = b + n;
	const char *sp = memchr(v, ' ', (size_t)(end - v));
	switch (b[0]) {
	case 'P': /* P <upto> <key> */
		if (sp && sp + 1 < end && !parse_u64(v, (size_t)(sp - v), &a))
			return set_part(st, sp + 1, (size_t)(end - sp - 1), a);
		return 0;
	case 'R': /* R <resume> <window> */
		if (sp && !parse_u64(v, (size_t)(sp - v), &a) &&
		    !parse_u64(sp + 1, (size_t)(end - sp - 1), &c)) {
			st->resume = a, st->window = c;
			st->replay.known = 0;
		}
		return 0;
	case 'M': { /* M <upto> <charge> <check> <quiet> <qwindow> */
		uint64_t f[5];
		const char *q = v;
		for (int i = 0; i < 5; i++) {
			const char *e = memchr(q, ' ', (size_t)(end - q));
			if (!e)
				e = end;
			if (parse_u64(q, (size_t)(e - q), &f[i]) || (i < 4 && e == end))
				return 0;
			q = e + 1;
		}
		st->replay = (struct kl_state_replay){f[0], f[1], f[3], f[4], f[2] != 0, 1};
		return 0;
	}
	case 'D': /* D <size> */
		if (!parse_u64(v, (size_t)(end - v), &a))
			st->done = 1, st->done_size = a;
		return 0;
	case 'A': /* A <YYYY-MM-DD>: it names a directory, so its shape only */
		if (end - v == 10 && is_day(v)) {
			memcpy(st->arrival, v, 10);
			st->arrival[10] = '\0';
		}
		return 0;
	case 'C': /* C <checkpoint> */
		if ((size_t)(end - v) < sizeof st->checkpoint) {
			memcpy(st->checkpoint, v, (size_t)(end - v));
			st->checkpoint[end - v] = '\0';
		}
		return 0;
	}
	return 0;
}

/* The length of the valid line at p[0..n) (its newline included), or 0. */
static size_t valid_line(const char *p, size_t n)
{
	const char *nl = memchr(p, '\n', n);
	if (!nl || nl - p < 11 || p[8] != ' ')
		return 0; /* torn tail */
	const char *body = p + 9;
	size_t blen = (size_t)(nl - body);
	uint32_t crc;
	if (blen >= FRAME_MAX || parse_crc(p, &crc) ||
	    crc != (uint32_t)crc32(0L, (const Bytef *)body, (uInt)blen))
		return 0; /* corrupt: stop trusting the rest */
	return (size_t)(nl - p) + 1;
}

/*
 * Every valid line up to the first torn or corrupt one. P lines after the
 * last R line are of a commit whose R never landed (one append cut short):
 * they are not applied, as if the commit had not begun — its files are
 * rewritten under the same names by the replay (the crash argument above).
 * So P lines and the R (and M) line of one commit always count together,
 * as exact replay's rebuild needs (struct kl_state_replay). The same holds
 * for a commit whose M line never landed: in a log whose writer writes M
 * lines (an earlier R has one right after it), a last R without its M is
 * of an append cut short between the two, and the commit does not count
 * either (it would make the restart rebuild without its memory picture,
 * cutting other files than the first run: tests/e2e/restart_cuts.sh).
 */
size_t kl_state_parse(struct kl_state *st, const char *p, size_t n)
{
	size_t off = 0, last_r = 0, prev_r = 0, len;
	int has_r = 0, has_prev = 0, m_mode = 0, last_has_m = 0, after_r = 0;
	while (off < n && (len = valid_line(p + off, n - off))) {
		char tag = p[off + 9];
		if (tag == 'R') {
			prev_r = last_r, has_prev = has_r;
			last_r = off, has_r = 1, last_has_m = 0;
		} else if (tag == 'M' && after_r) {
			last_has_m = 1;
			m_mode = 1;
		}
		after_r = tag == 'R';
		off += len;
	}
	size_t end = off, torn_r = SIZE_MAX;
	if (has_r && m_mode && !last_has_m) { /* an R cut off from its M */
		torn_r = last_r;
		last_r = prev_r, has_r = has_prev;
	}
	for (off = 0; off < end; off += len) { /* every line up to end is valid */
		len = (size_t)((const char *)memchr(p + off, '\n', end - off) - (p + off)) + 1;
		if (off == torn_r || (p[off + 9] == 'P' && (!has_r || off > last_r)))
			continue;
		if (apply_line(st, p + off + 9, len - 10))
			return off; /* out of memory: what is kept so far is still true */
	}
	return end;
}

/* Rewrite the log as its compact equivalent: tmp + fsync + rename + fsync dir. */
static int compact(struct kl_state *st)
{
	struct kl_buf b;
	kl_buf_init(&b, 0);
	int rc = st->arrival[0] ? frame(&b, "A %s", st->arrival) : KL_OK;
	for (size_t i = 0; i < st->nparts && !rc; i++)
		rc = frame(&b, "P %" PRIu64 " %s", st->parts[i].upto, st->parts[i].key);
	if (!rc)
		rc = frame(&b, "R %" PRIu64 " %" PRIu64, st->resume, st->window);
	if (!rc && st->replay.known)
		rc = frame_replay(&b, &st->replay);
	if (!rc && st->done)
		rc = frame(&b, "D %" PRIu64, st->done_size);
	if (!rc && st->checkpoint[0])
		rc = frame(&b, "C %s", st->checkpoint);
	if (!rc && st->owner[0]) /* fenced: this claim's bytes are its own (state.h) */
		rc = frame(&b, "O %s", st->owner);
	if (rc) {
		kl_buf_cleanup(&b);
		return kl_errbuf_set(&st->err, rc, "state: cannot format log");
	}
	if (st->store) {
		struct kl_store_file *f;
		char tag[KL_STORE_TAG_MAX] = "";
		rc = st->store->ops->open(st->store, st->key, &f);
		if (!rc) {
			rc = st->store->ops->write(f, b.data, b.len);
			if (rc)
				st->store->ops->abort(f);
			else if (st->fenced)
				rc = st->store->ops->commit_if(f, st->tag, tag);
			else
				rc = st->store->ops->commit(f);
		}
		kl_buf_cleanup(&b);
		if (rc == KL_ECONFLICT)
			return kl_errbuf_set(&st->err, rc,
					     "state: %s was written by another worker since this "
					     "one read it (the shard is no longer ours): not "
					     "written",
					     st->key);
		if (rc)
			return kl_errbuf_set(&st->err, rc, "state: cannot write %s: %s", st->key,
					     st->store->err.msg);
		if (st->fenced)
			memcpy(st->tag, tag, sizeof tag);
		st->lines = 0;
		st->pruned = 0;
		return KL_OK;
	}
	char tmp[4200];
	snprintf(tmp, sizeof tmp, "%s.tmp-%ld", st->path, (long)getpid());
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		rc = kl_errbuf_set(&st->err, KL_EIO, "state: create %s: %s", tmp, strerror(errno));
	size_t off = 0;
	while (!rc && off < b.len) {
		ssize_t w = write(fd, b.data + off, b.len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			rc = kl_errbuf_set(&st->err, KL_EIO, "state: write: %s", strerror(errno));
		else
			off += (size_t)w;
	}
	if (!rc && fsync(fd))
		rc = kl_errbuf_set(&st->err, KL_EIO, "state: fsync: %s", strerror(errno));
	if (fd >= 0)
		close(fd);
	if (!rc && rename(tmp, st->path))
		rc = kl_errbuf_set(&st->err, KL_EIO, "state: rename: %s", strerror(errno));
	if (!rc) {
		int dfd = open(st->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd < 0 || fsync(dfd))
			rc = kl_errbuf_set(&st->err, KL_EIO, "state: fsync dir: %s", strerror(errno));
		if (dfd >= 0)
			close(dfd);
	}
	if (rc)
		unlink(tmp);
	kl_buf_cleanup(&b);
	if (rc)
		return rc;
	if (st->fd >= 0)
		close(st->fd);
	st->fd = open(st->path, O_WRONLY | O_APPEND | O_CLOEXEC);
	if (st->fd < 0)
		return kl_errbuf_set(&st->err, KL_EIO, "state: open %s: %s", st->path, strerror(errno));
	st->lines = st->nparts + 1 + (size_t)st->done;
	st->pruned = 0;
	return KL_OK;
}

static int open_file(struct kl_state *st, const char *lake, const char *input_id)
{
	memset(st, 0, sizeof *st);
	st->fd = -1;
	kl_buf_init(&st->pending, 0);
	size_t n = strlen(lake) + strlen(input_id) + 64;
	st->dir = malloc(n);
	st->path = malloc(n);
	if (!st->dir || !st->path)
		return kl_errbuf_set(&st->err, KL_ENOMEM, "out of memory");
	snprintf(st->dir, n, "%s/_kinlake/state", lake);
	snprintf(st->path, n, "%s/%s.log", st->dir, input_id);
	if (mkdirs(st->dir))
		return kl_errbuf_set(&st->err, KL_EIO, "state: mkdir %s: %s", st->dir,
				     strerror(errno));
	struct kl_buf old;
	kl_buf_init(&old, 0);
	int fd = open(st->path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		for (;;) {
			if (kl_buf_reserve(&old, 1 << 16)) {
				close(fd);
				kl_buf_cleanup(&old);
				return kl_errbuf_set(&st->err, KL_ENOMEM, "state: out of memory");
			}
			ssize_t r = read(fd, old.data + old.len, old.cap - old.len);
			if (r < 0 && errno == EINTR)
				continue;
			if (r < 0) { /* never compact a log we could not read whole */
				int e = errno;
				close(fd);
				kl_buf_cleanup(&old);
				return kl_errbuf_set(&st->err, KL_EIO, "state: read %s: %s",
						     st->path, strerror(e));
			}
			if (r == 0)
				break;
			old.len += (size_t)r;
		}
		close(fd);
		kl_state_parse(st, old.data, old.len);
	}
	kl_buf_cleanup(&old);
	return compact(st);
}

void kl_state_close(struct kl_state *st)
{
	if (st->fd >= 0)
		close(st->fd);
	for (size_t i = 0; i < st->nparts; i++)
		free(st->parts[i].key);
	free(st->parts);
	free(st->index);
	free(st->dir);
	free(st->path);
	free(st->key);
	st->key = NULL;
	kl_buf_cleanup(&st->pending);
	st->fd = -1;
	st->parts = NULL;
	st->nparts = st->capparts = 0;
	st->index = NULL;
	st->dir = st->path = NULL;
}

int kl_state_lookup(const struct kl_state *st, const char *key, size_t n, uint64_t *upto)
{
	struct kl_state_part *p = find(st, key, n, XXH3_64bits(key, n));
	if (!p)
		return 0;
	*upto = p->upto;
	return 1;
}

size_t kl_state_prune(struct kl_state *st, uint64_t below)
{
	size_t kept = 0, dropped = 0;
	for (size_t i = 0; i < st->nparts; i++) {
		if (st->parts[i].upto < below) {
			free(st->parts[i].key);
			dropped++;
		} else {
			st->parts[kept++] = st->parts[i];
		}
	}
	if (!dropped)
		return 0;
	st->nparts = kept;
	/* rebuild the index over what is left (its size stays) */
	if (st->index) {
		memset(st->index, 0, (st->index_mask + 1) * sizeof *st->index);
		for (size_t j = 0; j < st->nparts; j++) {
			size_t s = st->parts[j].hash & st->index_mask;
			while (st->index[s])
				s = (s + 1) & st->index_mask;
			st->index[s] = (uint32_t)j + 1;
		}
	}
	st->pruned = 1; /* the log must not keep them: the next sync compacts */
	return dropped;
}

int kl_state_note_part(struct kl_state *st, const char *key, size_t n, uint64_t upto)
{
	int rc = set_part(st, key, n, upto);
	if (!rc)
		rc = frame(&st->pending, "P %" PRIu64 " %.*s", upto, (int)n, key);
	return rc ? kl_errbuf_set(&st->err, rc, "state: cannot record %.*s", (int)n, key) : KL_OK;
}

int kl_state_note_progress(struct kl_state *st, uint64_t resume, uint64_t window,
			   const struct kl_state_replay *m)
{
	st->resume = resume;
	st->window = window;
	st->replay.known = 0;
	int rc = frame(&st->pending, "R %" PRIu64 " %" PRIu64, resume, window);
	if (!rc && m) {
		st->replay = *m;
		st->replay.known = 1;
		rc = frame_replay(&st->pending, m);
	}
	return rc;
}

int kl_state_note_checkpoint(struct kl_state *st, const char *cp)
{
	snprintf(st->checkpoint, sizeof st->checkpoint, "%s", cp);
	return frame(&st->pending, "C %s", st->checkpoint);
}

int kl_state_note_arrival(struct kl_state *st, const char day[11])
{
	snprintf(st->arrival, sizeof st->arrival, "%s", day);
	return frame(&st->pending, "A %s", st->arrival);
}

/* key: malloc'ed, taken over. tagged: read the version too (read_tag). */
static int open_store_key(struct kl_state *st, struct kl_store *store, char *key, int tagged)
{
	memset(st, 0, sizeof *st);
	st->fd = -1;
	kl_buf_init(&st->pending, 0);
	st->store = store;
	if (!(st->key = key))
		return kl_errbuf_set(&st->err, KL_ENOMEM, "out of memory");
	struct kl_buf old;
	kl_buf_init(&old, 0);
	/* for a claim, with the version read (kl_state_reload) */
	int rc = tagged ? store->ops->read_tag(store, st->key, &old, st->tag)
			: store->ops->read(store, st->key, &old);
	st->tagged = tagged && (rc == KL_OK || rc == KL_ENOTFOUND);
	if (rc)
		st->tag[0] = '\0'; /* absent: a claim expects no object */
	if (rc == KL_OK)
		kl_state_parse(st, old.data, old.len);
	kl_buf_cleanup(&old);
	if (rc && rc != KL_ENOTFOUND)
		return kl_errbuf_set(&st->err, rc, "state: cannot read %s: %s", st->key,
				     store->err.msg);
	return KL_OK;
}

static int open_store(struct kl_state *st, struct kl_store *store, const char *input_id)
{
	size_t n = strlen(input_id) + 64;
	char *key = malloc(n);
	if (key)
		snprintf(key, n, "_kinlake/state/%s.log", input_id);
	return open_store_key(st, store, key, 0);
}

int kl_state_claim(struct kl_state *st, const char *owner)
{
	if (!st->store || !st->store->ops->read_tag || !st->store->ops->commit_if)
		return KL_OK; /* nothing to compare with: written as before (state.h) */
	if (!st->tagged)
		return kl_errbuf_set(&st->err, KL_EINVAL, "state: claim without a versioned read");
	st->fenced = 1;
	snprintf(st->owner, sizeof st->owner, "%s", owner);
	kl_buf_reset(&st->pending);
	return compact(st);
}

int kl_state_reload(struct kl_state *st)
{
	struct kl_store *store = st->store;
	char *key = st->key;
	if (!store)
		return kl_errbuf_set(&st->err, KL_EINVAL, "state: reload of a local log");
	st->key = NULL; /* kept for the new read */
	kl_state_close(st);
	int rc = open_store_key(st, store, key, store->ops->read_tag != NULL);
	if (rc)
		kl_state_close(st);
	return rc;
}

int kl_state_note_done(struct kl_state *st, uint64_t size)
{
	st->done = 1;
	st->done_size = size;
	return frame(&st->pending, "D %" PRIu64, size);
}

static size_t pending_lines(const struct kl_state *st)
{
	size_t nlines = 0;
	for (size_t i = 0; i < st->pending.len; i++)
		nlines += st->pending.data[i] == '\n';
	return nlines;
}

/* Does a sync with nlines queued rewrite the log whole? (A store-backed
 * log is always rewritten; a file grown past its bound is compacted.) */
static int must_compact(const struct kl_state *st, size_t nlines)
{
	return st->store || st->pruned || st->lines + nlines > 4 * st->nparts + 4096;
}

int kl_state_sync_shapes_log(const struct kl_state *st)
{
	if (st->store || (!st->pending.len && !st->pruned))
		return 0;
	return must_compact(st, pending_lines(st));
}

int kl_state_sync(struct kl_state *st)
{
	if (!st->pending.len && !st->pruned)
		return KL_OK;
	size_t nlines = pending_lines(st);
	if (must_compact(st, nlines)) {
		kl_buf_reset(&st->pending);
		return compact(st);
	}
	size_t off = 0;
	while (off < st->pending.len) {
		ssize_t w = write(st->fd, st->pending.data + off, st->pending.len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return kl_errbuf_set(&st->err, KL_EIO, "state: append %s: %s", st->path,
					     strerror(errno));
		off += (size_t)w;
	}
	if (fdatasync(st->fd))
		return kl_errbuf_set(&st->err, KL_EIO, "state: fsync %s: %s", st->path,
				     strerror(errno));
	st->lines += nlines;
	kl_buf_reset(&st->pending);
	return KL_OK;
}

/* A failed open releases what it allocated (the caller only closes a state
 * that opened); st->err keeps the message. */
int kl_state_open(struct kl_state *st, const char *lake, const char *input_id)
{
	int rc = open_file(st, lake, input_id);
	if (rc)
		kl_state_close(st);
	return rc;
}

int kl_state_open_store(struct kl_state *st, struct kl_store *store, const char *input_id)
{
	int rc = open_store(st, store, input_id);
	if (rc)
		kl_state_close(st);
	return rc;
}
