/* test_store_list.c — the store's list op: the local directory store (one
 * level, dot-files hidden, missing directory lists nothing, bad prefixes
 * refused); the local store's writes (gathered pieces of every size read
 * back exact, abort leaves nothing, a root with missing parents, a file in
 * a directory's place, directories removed behind its back, threads sharing
 * one store), its deferred commits (invisible before sync(), whole after it,
 * through fdatasync and through syncfs; the same key opened again; a full
 * queue; a rename that fails at sync(); the store freed with files queued),
 * its writer marks and the sweep of crash leftovers (a walk only after a
 * crash or on a lake without marks; live writers' files kept)
 * and the S3 ListObjectsV2 page parser (URL-decoded keys, prefix
 * stripped, pages and their tokens, malformed answers refused). The S3
 * request itself runs against moto in tests/e2e/schema_registry.sh. */
#include "check.h"
#include "store/s3_request.h"
#include "store/store.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <dirent.h>
#include <sys/wait.h>
#include <unistd.h>

struct seen {
	char keys[16][128];
	size_t n;
	int stop_at; /* stop with KL_ELIMIT at this entry (1-based), 0 = never */
};

static int collect(void *ctx, const char *key, size_t len)
{
	struct seen *s = ctx;
	CHECK(strlen(key) == len);
	if (s->n < 16)
		snprintf(s->keys[s->n], sizeof s->keys[0], "%s", key);
	s->n++;
	return s->stop_at && (int)s->n == s->stop_at ? KL_ELIMIT : KL_OK;
}

static int cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

static void sorted(struct seen *s)
{
	qsort(s->keys, s->n < 16 ? s->n : 16, sizeof s->keys[0], cmp);
}

static void put(struct kl_store *st, const char *key)
{
	struct kl_store_file *f;
	CHECK_EQ_INT(st->ops->open(st, key, &f), 0);
	CHECK_EQ_INT(st->ops->write(f, "x", 1), 0);
	CHECK_EQ_INT(st->ops->commit(f), 0);
}

/* A local store in a fresh temp dir, $TMPDIR/<name>XXXXXX (its path goes to
 * `dir`, `dirsz` bytes), on `sub` inside it ("" = the dir itself; a path
 * with missing parents is made). `root` (if not NULL, `rootsz` bytes) gets
 * the store's root. NULL (and a failed check) if the store fails. */
static struct kl_store *temp_store(char *dir, size_t dirsz, const char *name, const char *sub,
				   char *root, size_t rootsz, struct kl_errbuf *eb)
{
	char path[256];
	struct kl_store *st = NULL;
	kl_test_mkdtemp(dir, dirsz, name);
	snprintf(path, sizeof path, "%s%s", dir, sub);
	if (root)
		snprintf(root, rootsz, "%s", path);
	CHECK_EQ_INT(kl_store_local_new(&st, path, eb), 0);
	return st;
}

/* rm -rf dir (a temp dir of temp_store). */
static void remove_tree(const char *dir)
{
	char cmd[320];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	CHECK_EQ_INT(system(cmd), 0);
}

static void test_local(void)
{
	char dir[160];
	struct kl_errbuf eb = {{0}, 0};
	struct kl_store *st = temp_store(dir, sizeof dir, "kl-list-", "", NULL, 0, &eb);
	if (!st)
		return;
	put(st, "a/x.json");
	put(st, "a/y=1/deep.json");
	put(st, "a/b c%2F.json");
	put(st, "top");
	char tmp[300];
	snprintf(tmp, sizeof tmp, "%s/a/.x.json.tmp-1", dir); /* a writer's temporary file */
	FILE *f = fopen(tmp, "w");
	CHECK(f != NULL);
	if (f)
		fclose(f);

	struct seen s = {0};
	CHECK_EQ_INT(st->ops->list(st, "a/", collect, &s), 0);
	sorted(&s);
	CHECK_EQ_INT(s.n, 3);
	CHECK_EQ_STR(s.keys[0], "a/b c%2F.json");
	CHECK_EQ_STR(s.keys[1], "a/x.json");
	CHECK_EQ_STR(s.keys[2], "a/y=1/");
	memset(&s, 0, sizeof s);
	CHECK_EQ_INT(st->ops->list(st, "", collect, &s), 0);
	sorted(&s);
	/* _kinlake/: the store's writer marks (store_local.c, crash leftovers) */
	CHECK(s.n == 3 && !strcmp(s.keys[0], "_kinlake/") && !strcmp(s.keys[1], "a/") &&
	      !strcmp(s.keys[2], "top"));
	memset(&s, 0, sizeof s);
	CHECK_EQ_INT(st->ops->list(st, "nothing/here/", collect, &s), 0);
	CHECK_EQ_INT(s.n, 0);
	CHECK_EQ_INT(st->ops->list(st, "top/", collect, &s), 0); /* a file, not a level */
	CHECK_EQ_INT(s.n, 0);
	/* the callback's stop is list()'s result */
	memset(&s, 0, sizeof s);
	s.stop_at = 2;
	CHECK_EQ_INT(st->ops->list(st, "a/", collect, &s), KL_ELIMIT);
	CHECK_EQ_INT(s.n, 2);
	const char *bad[] = {"a", "/a/", "../", "a/../", "a//", "./"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		CHECK_EQ_INT(st->ops->list(st, bad[i], collect, &s), KL_EINVAL);
	kl_store_free(st);
	remove_tree(dir);
}

/* byte i of the test pattern of file `seed` */
static char pat(size_t i, unsigned seed)
{
	return (char)((i * 2654435761u + seed) >> 7);
}

static void test_local_writes(void)
{
	char dir[160];
	char root[256];
	struct kl_errbuf eb = {{0}, 0};
	/* parents missing */
	struct kl_store *st =
	    temp_store(dir, sizeof dir, "kl-wr-", "/new/root/", root, sizeof root, &eb);
	if (!st)
		return;
	/* pieces below, at and above the 1 MiB gather buffer, in any order */
	const size_t pieces[] = {1, 3, 700000, 348575, 1, (1u << 20), (1u << 20) - 1,
				 1500000, 0, 5, 4000000, 17};
	size_t total = 0;
	for (size_t i = 0; i < sizeof pieces / sizeof pieces[0]; i++)
		total += pieces[i];
	char *want = malloc(total);
	for (size_t i = 0; i < total; i++)
		want[i] = pat(i, 1);
	struct kl_store_file *f;
	CHECK_EQ_INT(st->ops->open(st, "d1/d2/d3/big.bin", &f), 0);
	size_t off = 0;
	for (size_t i = 0; i < sizeof pieces / sizeof pieces[0]; i++) {
		CHECK_EQ_INT(st->ops->write(f, want + off, pieces[i]), 0);
		off += pieces[i];
	}
	CHECK_EQ_INT(st->ops->commit(f), 0);
	CHECK_EQ_INT(st->ops->sync(st), 0);
	struct kl_buf got;
	kl_buf_init(&got, 0);
	CHECK_EQ_INT(st->ops->read(st, "d1/d2/d3/big.bin", &got), 0);
	CHECK(got.len == total && !memcmp(got.data, want, total));
	/* a small file, an empty one, and one aborted after a buffer's worth */
	CHECK_EQ_INT(st->ops->open(st, "d1/small", &f), 0);
	CHECK_EQ_INT(st->ops->write(f, "abc", 3), 0);
	CHECK_EQ_INT(st->ops->commit(f), 0);
	CHECK_EQ_INT(st->ops->read(st, "d1/small", &got), 0);
	CHECK(got.len == 3 && !memcmp(got.data, "abc", 3));
	CHECK_EQ_INT(st->ops->open(st, "d1/empty", &f), 0);
	CHECK_EQ_INT(st->ops->commit(f), 0);
	CHECK_EQ_INT(st->ops->read(st, "d1/empty", &got), 0);
	CHECK_EQ_INT(got.len, 0);
	CHECK_EQ_INT(st->ops->open(st, "d1/gone", &f), 0);
	CHECK_EQ_INT(st->ops->write(f, want, 3000000), 0);
	st->ops->abort(f);
	CHECK_EQ_INT(st->ops->read(st, "d1/gone", &got), KL_ENOTFOUND);
	struct seen s = {0};
	CHECK_EQ_INT(st->ops->list(st, "d1/", collect, &s), 0);
	CHECK_EQ_INT(s.n, 3); /* d2/, small, empty: no temporary file left */
	char cmd[400];
	snprintf(cmd, sizeof cmd, "ls -a %s/d1 | grep -q tmp", root);
	CHECK(system(cmd) != 0);
	/* a file where a directory should be: open fails, the store goes on */
	CHECK_EQ_INT(st->ops->open(st, "d1/small/x", &f), KL_EIO);
	CHECK_EQ_INT(st->ops->open(st, "d1/ok", &f), 0);
	CHECK_EQ_INT(st->ops->commit(f), 0);
	CHECK_EQ_INT(st->files_committed, 4);
	CHECK_EQ_INT(st->bytes_committed, total + 3);
	/* directories removed behind the store's back are made again */
	snprintf(cmd, sizeof cmd, "rm -rf %s/d1", root);
	CHECK_EQ_INT(system(cmd), 0);
	CHECK_EQ_INT(st->ops->open(st, "d1/d2/d3/back", &f), 0);
	CHECK_EQ_INT(st->ops->commit(f), 0);
	CHECK_EQ_INT(st->ops->open(st, "d1/d2/d3/d4/deeper", &f), 0);
	CHECK_EQ_INT(st->ops->commit(f), 0);
	CHECK_EQ_INT(st->ops->read(st, "d1/d2/d3/back", &got), 0);
	CHECK_EQ_INT(st->ops->sync(st), 0);
	kl_store_free(st);
	/* a second store on the same root finds the directories already there */
	CHECK_EQ_INT(kl_store_local_new(&st, root, &eb), 0);
	CHECK_EQ_INT(st->ops->open(st, "d1/d2/d3/again", &f), 0);
	CHECK_EQ_INT(st->ops->write(f, "z", 1), 0);
	CHECK_EQ_INT(st->ops->commit(f), 0);
	CHECK_EQ_INT(st->ops->read(st, "d1/d2/d3/again", &got), 0);
	CHECK(got.len == 1 && got.data[0] == 'z');
	kl_store_free(st);
	kl_buf_cleanup(&got);
	free(want);
	remove_tree(dir);
}

/* Dot-files (temporary files) in directory root/sub. */
static int dotfiles(const char *root, const char *sub)
{
	char cmd[400];
	snprintf(cmd, sizeof cmd, "ls -a %s/%s 2>/dev/null | grep -c '^\\..*tmp-'", root, sub);
	FILE *p = popen(cmd, "r");
	int n = -1;
	if (p) {
		if (fscanf(p, "%d", &n) != 1)
			n = -1;
		pclose(p);
	}
	return n;
}

/* Open `key`, write n bytes of pattern `seed` and commit it deferred. */
static void put_deferred(struct kl_store *st, const char *key, size_t n, unsigned seed)
{
	struct kl_store_file *f;
	CHECK_EQ_INT(st->ops->open(st, key, &f), 0);
	char piece[4096];
	for (size_t off = 0; off < n;) {
		size_t k = n - off < sizeof piece ? n - off : sizeof piece;
		for (size_t i = 0; i < k; i++)
			piece[i] = pat(off + i, seed);
		CHECK_EQ_INT(st->ops->write(f, piece, k), 0);
		off += k;
	}
	CHECK_EQ_INT(st->ops->commit_deferred(f), 0);
}

/* Is `key` there with n bytes of pattern `seed`? */
static int has(struct kl_store *st, const char *key, size_t n, unsigned seed)
{
	struct kl_buf got;
	kl_buf_init(&got, 0);
	int ok = st->ops->read(st, key, &got) == KL_OK && got.len == n;
	for (size_t i = 0; ok && i < n; i++)
		ok = got.data[i] == pat(i, seed);
	kl_buf_cleanup(&got);
	return ok;
}

static int absent(struct kl_store *st, const char *key)
{
	struct kl_buf got;
	kl_buf_init(&got, 0);
	int rc = st->ops->read(st, key, &got);
	kl_buf_cleanup(&got);
	return rc == KL_ENOTFOUND;
}

static void test_local_deferred(void)
{
	char root[160];
	struct kl_errbuf eb = {{0}, 0};
	struct kl_store *st = temp_store(root, sizeof root, "kl-def-", "", NULL, 0, &eb);
	if (!st)
		return;
	CHECK(st->ops->commit_deferred != NULL);
	/* one file (the fdatasync path): a dot-file until sync() */
	put_deferred(st, "p/one.bin", 3000000, 1);
	CHECK(absent(st, "p/one.bin"));
	CHECK_EQ_INT(dotfiles(root, "p"), 1);
	CHECK_EQ_INT(st->files_committed, 0);
	CHECK_EQ_INT(st->ops->sync(st), 0);
	CHECK(has(st, "p/one.bin", 3000000, 1));
	CHECK_EQ_INT(dotfiles(root, "p"), 0);
	CHECK_EQ_INT(st->files_committed, 1);
	CHECK_EQ_INT(st->bytes_committed, 3000000);
	/* several (the syncfs path), across directories, an empty one too */
	put_deferred(st, "p/a.bin", 100, 2);
	put_deferred(st, "q/b.bin", 2000000, 3);
	put_deferred(st, "q/r/c.bin", 0, 4);
	put_deferred(st, "p/one.bin", 10, 5); /* replaces the synced one at sync() */
	CHECK(absent(st, "p/a.bin") && absent(st, "q/b.bin") && absent(st, "q/r/c.bin"));
	CHECK(has(st, "p/one.bin", 3000000, 1));
	CHECK_EQ_INT(st->ops->sync(st), 0);
	CHECK(has(st, "p/a.bin", 100, 2) && has(st, "q/b.bin", 2000000, 3));
	CHECK(has(st, "q/r/c.bin", 0, 4) && has(st, "p/one.bin", 10, 5));
	CHECK(dotfiles(root, "p") == 0 && dotfiles(root, "q") == 0 && dotfiles(root, "q/r") == 0);
	CHECK_EQ_INT(st->files_committed, 5);
	/* a key opened again while its file waits: the queue goes out first */
	put_deferred(st, "p/twice", 7, 6);
	CHECK(absent(st, "p/twice"));
	put_deferred(st, "p/twice", 9, 7);
	CHECK(has(st, "p/twice", 7, 6)); /* the first, made visible by the open */
	CHECK_EQ_INT(st->ops->sync(st), 0);
	CHECK(has(st, "p/twice", 9, 7));
	/* a plain commit() is visible at once beside queued ones */
	put_deferred(st, "p/later", 5, 8);
	put(st, "p/now");
	CHECK(absent(st, "p/later"));
	struct kl_buf got;
	kl_buf_init(&got, 0);
	CHECK_EQ_INT(st->ops->read(st, "p/now", &got), 0);
	CHECK_EQ_INT(st->ops->sync(st), 0);
	CHECK(has(st, "p/later", 5, 8));
	/* a full queue goes out before the next file joins it */
	char key[64];
	for (int i = 0; i < 300; i++) {
		snprintf(key, sizeof key, "many/%03d", i);
		put_deferred(st, key, 1 + (size_t)i, (unsigned)i);
	}
	CHECK(has(st, "many/000", 1, 0));      /* went out with the full queue */
	CHECK(absent(st, "many/299"));         /* still queued */
	CHECK_EQ_INT(st->ops->sync(st), 0);
	int all = 1;
	for (int i = 0; i < 300; i++) {
		snprintf(key, sizeof key, "many/%03d", i);
		all &= has(st, key, 1 + (size_t)i, (unsigned)i);
	}
	CHECK(all);
	CHECK_EQ_INT(dotfiles(root, "many"), 0);
	/* a rename that fails at sync(): sync fails; the files before it are
	 * visible and whole, it and those after it are gone without a trace */
	put_deferred(st, "f/w", 11, 9);
	put_deferred(st, "f/x", 12, 10);
	put_deferred(st, "f/y", 13, 11);
	char cmd[400];
	snprintf(cmd, sizeof cmd, "mkdir -p %s/f/x/in && touch %s/f/x/in/z", root, root);
	CHECK_EQ_INT(system(cmd), 0); /* a non-empty directory under x's name */
	kl_errbuf_clear(&st->err);
	CHECK_EQ_INT(st->ops->sync(st), KL_EIO);
	CHECK(strstr(st->err.msg, "rename") != NULL);
	CHECK(has(st, "f/w", 11, 9));
	CHECK(absent(st, "f/y"));
	CHECK_EQ_INT(dotfiles(root, "f"), 0);
	/* the store goes on: the next sync is clean */
	put_deferred(st, "f/v", 3, 12);
	CHECK_EQ_INT(st->ops->sync(st), 0);
	CHECK(has(st, "f/v", 3, 12));
	/* an open file aborted, and the store freed with files queued: they
	 * never become visible, and no dot-file is left */
	struct kl_store_file *f;
	CHECK_EQ_INT(st->ops->open(st, "g/aborted", &f), 0);
	CHECK_EQ_INT(st->ops->write(f, "abc", 3), 0);
	st->ops->abort(f);
	put_deferred(st, "g/lost1", 100, 13);
	put_deferred(st, "g/lost2", 100, 14);
	kl_store_free(st);
	CHECK_EQ_INT(kl_store_local_new(&st, root, &eb), 0);
	CHECK(absent(st, "g/aborted") && absent(st, "g/lost1") && absent(st, "g/lost2"));
	CHECK_EQ_INT(dotfiles(root, "g"), 0);
	kl_buf_cleanup(&got);
	kl_store_free(st);
	remove_tree(root);
}

/* Split syncs: sync_begin() takes the files so far; files committed later
 * stay invisible through sync_finish(), whose after() sees the set
 * visible; a key of the set opened meanwhile waits for the release. */
struct split_ctx {
	struct kl_store *st;
	int calls, seen_rc, set_visible, later_absent;
	atomic_int released;
};

static int split_after(void *ctx, int rc)
{
	struct split_ctx *c = ctx;
	c->calls++;
	c->seen_rc = rc;
	c->set_visible = has(c->st, "s/a", 1000, 21) && has(c->st, "s/b", 2000000, 22);
	c->later_absent = absent(c->st, "s/c");
	usleep(100000); /* a reopen of s/a must wait for this */
	atomic_store(&c->released, 1);
	return rc ? rc : 7; /* sync_finish() returns what after() returns */
}

struct reopen {
	struct split_ctx *c;
	int saw_released;
};

static void *reopen_run(void *arg)
{
	struct reopen *r = arg;
	struct kl_store_file *f;
	if (r->c->st->ops->open(r->c->st, "s/a", &f) == KL_OK) {
		r->saw_released = atomic_load(&r->c->released);
		r->c->st->ops->abort(f);
	}
	return NULL;
}

static void *finish_run(void *arg)
{
	struct split_ctx *c = arg;
	c->seen_rc = c->st->ops->sync_finish(c->st, split_after, c) == 7 ? c->seen_rc : -1;
	return NULL;
}

static void test_local_split_sync(void)
{
	char root[160];
	struct kl_errbuf eb = {{0}, 0};
	struct kl_store *st = temp_store(root, sizeof root, "kl-split-", "", NULL, 0, &eb);
	if (!st)
		return;
	CHECK(st->ops->sync_begin != NULL && st->ops->sync_finish != NULL);
	struct split_ctx c = {.st = st};
	atomic_init(&c.released, 0);
	put_deferred(st, "s/a", 1000, 21);
	put_deferred(st, "s/b", 2000000, 22);
	CHECK_EQ_INT(st->ops->sync_begin(st), 0);
	put_deferred(st, "s/c", 10, 23); /* after the set was taken: not in it */
	pthread_t fin, re;
	struct reopen r = {&c, -1};
	CHECK_EQ_INT(pthread_create(&fin, NULL, finish_run, &c), 0);
	usleep(20000);
	CHECK_EQ_INT(pthread_create(&re, NULL, reopen_run, &r), 0);
	pthread_join(fin, NULL);
	pthread_join(re, NULL);
	CHECK_EQ_INT(c.calls, 1);
	CHECK_EQ_INT(c.seen_rc, 0);
	CHECK(c.set_visible);
	CHECK(c.later_absent);
	CHECK_EQ_INT(r.saw_released, 1); /* the reopen waited for the release */
	CHECK(absent(st, "s/c"));
	CHECK_EQ_INT(st->files_committed, 2);
	CHECK_EQ_INT(st->ops->sync(st), 0);
	CHECK(has(st, "s/c", 10, 23));
	CHECK_EQ_INT(dotfiles(root, "s"), 0);
	kl_store_free(st);
	remove_tree(root);
}

/* Threads sharing one store: each writes files in directories of its own
 * and in shared ones; every file reads back whole. */
struct worker {
	struct kl_store *st;
	unsigned id;
	int failures;
};

#define W_FILES 40

static void *worker_run(void *arg)
{
	struct worker *w = arg;
	char key[128], *buf = malloc(1500000);
	for (unsigned i = 0; i < W_FILES; i++) {
		size_t n = (i % 5 == 0) ? 1500000 : 100 + i * 37;
		for (size_t j = 0; j < n; j++)
			buf[j] = pat(j, w->id * 1000 + i);
		snprintf(key, sizeof key, "shared/h=%u/own=%u/f%u", i % 3, w->id, i);
		struct kl_store_file *f;
		if (w->st->ops->open(w->st, key, &f)) {
			w->failures++;
			continue;
		}
		for (size_t off = 0; off < n; off += 4096) {
			size_t k = n - off < 4096 ? n - off : 4096;
			if (w->st->ops->write(f, buf + off, k))
				w->failures++;
		}
		if (w->st->ops->commit(f))
			w->failures++;
	}
	free(buf);
	return NULL;
}

static void test_local_threads(void)
{
	char dir[160];
	struct kl_errbuf eb = {{0}, 0};
	struct kl_store *st = temp_store(dir, sizeof dir, "kl-thr-", "", NULL, 0, &eb);
	if (!st)
		return;
	struct worker w[4];
	pthread_t t[4];
	for (unsigned i = 0; i < 4; i++) {
		w[i] = (struct worker){st, i, 0};
		CHECK_EQ_INT(pthread_create(&t[i], NULL, worker_run, &w[i]), 0);
	}
	for (unsigned i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		CHECK_EQ_INT(w[i].failures, 0);
	}
	CHECK_EQ_INT(st->ops->sync(st), 0);
	CHECK_EQ_INT(st->files_committed, 4 * W_FILES);
	struct kl_buf got;
	kl_buf_init(&got, 0);
	char key[128];
	int bad = 0;
	for (unsigned id = 0; id < 4; id++)
		for (unsigned i = 0; i < W_FILES; i++) {
			size_t n = (i % 5 == 0) ? 1500000 : 100 + i * 37;
			snprintf(key, sizeof key, "shared/h=%u/own=%u/f%u", i % 3, id, i);
			if (st->ops->read(st, key, &got) || got.len != n) {
				bad++;
				continue;
			}
			for (size_t j = 0; j < n; j++)
				if (got.data[j] != pat(j, id * 1000 + i)) {
					bad++;
					break;
				}
		}
	CHECK_EQ_INT(bad, 0);
	kl_buf_cleanup(&got);
	kl_store_free(st);
	remove_tree(dir);
}

#define PAGE(body)                                                                                 \
	"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ListBucketResult "                           \
	"xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Name>b</Name>"                         \
	"<Prefix>lake/s/</Prefix>" body "</ListBucketResult>"

static int page(const char *xml, const char *strip, struct seen *s, int *truncated,
		struct kl_buf *next)
{
	memset(s, 0, sizeof *s);
	return kl_s3_list_page(xml, strlen(xml), strip, collect, s, truncated, next);
}

static void test_s3_page(void)
{
	struct seen s;
	int tr = -1;
	struct kl_buf next;
	kl_buf_init(&next, 0);
	const char *p1 =
	    PAGE("<IsTruncated>true</IsTruncated><NextContinuationToken>t/o+k=&amp;"
		 "</NextContinuationToken><Contents><Key>lake/s/x%3D1.json</Key><Size>3"
		 "</Size></Contents><Contents><Key>lake/s/a+b%2Bc%25</Key></Contents>"
		 "<CommonPrefixes><Prefix>lake/s/event_type%3Dweird%2520type/</Prefix>"
		 "</CommonPrefixes><CommonPrefixes><Prefix>lake/s/</Prefix>"
		 "</CommonPrefixes>");
	CHECK_EQ_INT(page(p1, "lake/", &s, &tr, &next), 0);
	CHECK_EQ_INT(tr, 1);
	CHECK_EQ_STR(next.data, "t/o+k=&");
	CHECK_EQ_INT(s.n, 4);
	CHECK_EQ_STR(s.keys[0], "s/x=1.json");
	CHECK_EQ_STR(s.keys[1], "s/a b+c%");
	CHECK_EQ_STR(s.keys[2], "s/event_type=weird%20type/");
	CHECK_EQ_STR(s.keys[3], "s/");
	/* the last page; an entry equal to the prefix itself is skipped */
	const char *p2 =
	    PAGE("<IsTruncated>false</IsTruncated><Contents><Key>lake/</Key></Contents>"
		 "<Contents><Key>lake/k</Key></Contents>");
	CHECK_EQ_INT(page(p2, "lake/", &s, &tr, &next), 0);
	CHECK(tr == 0 && next.len == 0 && s.n == 1 && !strcmp(s.keys[0], "k"));
	CHECK_EQ_INT(page(p2, "", &s, &tr, &next), 0);
	CHECK_EQ_INT(s.n, 2);
	static const char *const refused[] = {
	    PAGE(""), /* no IsTruncated */
	    PAGE("<IsTruncated>yes</IsTruncated>"),
	    PAGE("<IsTruncated>true</IsTruncated>"), /* no token */
	    PAGE("<IsTruncated>true</IsTruncated><NextContinuationToken>a&#0;b</"
		 "NextContinuationToken>"),
	    PAGE("<IsTruncated>false</IsTruncated><Contents><Key>other/k</Key></Contents>"),
	    PAGE("<IsTruncated>false</IsTruncated><Contents><Key>lake/%4</Key></Contents>"),
	    PAGE("<IsTruncated>false</IsTruncated><Contents><Key>lake/%00</Key></Contents>"),
	    PAGE("<IsTruncated>false</IsTruncated><Contents><Size>1</Size></Contents>"),
	    PAGE("<IsTruncated>false</IsTruncated><Contents><Key>lake/k</Key>"),
	    "<Error><Code>AccessDenied</Code></Error>",
	};
	for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++)
		CHECK_EQ_INT(page(refused[i], "lake/", &s, &tr, &next), KL_EPARSE);
	kl_buf_cleanup(&next);
}

/* 1 if path exists. */
static int exists(const char *path)
{
	return access(path, F_OK) == 0;
}

/* Create an empty file at dir/name. */
static void touch(const char *dir, const char *name)
{
	char p[400];
	snprintf(p, sizeof p, "%s/%s", dir, name);
	FILE *f = fopen(p, "w");
	CHECK(f != NULL);
	if (f)
		fclose(f);
}

/* Names in dir, not counting . and .. */
static int entries(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return -1;
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)))
		n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
	closedir(d);
	return n;
}

static void test_local_crash_sweep(void)
{
	struct kl_errbuf eb;
	char dir[160];
	kl_test_mkdtemp(dir, sizeof dir, "kl_sweep_");
	/* a pid that is surely dead: a child that has exited and been reaped */
	pid_t child = fork();
	if (child == 0)
		_exit(0);
	CHECK(child > 0);
	CHECK(waitpid(child, NULL, 0) == child);
	char p[400], dead_tmp[128], live_tmp[128], writers[400], mark[64];
	snprintf(dead_tmp, sizeof dead_tmp, ".f.parquet.tmp-%ld", (long)child);
	snprintf(live_tmp, sizeof live_tmp, ".g.parquet.tmp-%ld", (long)getppid());
	snprintf(p, sizeof p, "%s/events/a", dir);
	char cmd[1000];
	snprintf(cmd, sizeof cmd, "mkdir -p %s", p);
	CHECK_EQ_INT(system(cmd), 0);
	snprintf(writers, sizeof writers, "%s/_kinlake/writers", dir);

	/* no marks at all (a lake from before them): one walk */
	touch(p, dead_tmp);
	touch(p, live_tmp);
	uint64_t removed = 9;
	CHECK_EQ_INT(kl_store_local_sweep(dir, &removed), 0);
	CHECK(removed == 1);
	snprintf(cmd, sizeof cmd, "%s/%s", p, dead_tmp);
	CHECK(!exists(cmd));
	snprintf(cmd, sizeof cmd, "%s/%s", p, live_tmp);
	CHECK(exists(cmd)); /* a live writer's file stays */

	/* a store marks itself before its first file and unmarks when freed */
	struct kl_store *st = NULL;
	CHECK_EQ_INT(kl_store_local_new(&st, dir, &eb), 0);
	CHECK(!exists(writers) || entries(writers) == 0);
	struct kl_store_file *f;
	CHECK_EQ_INT(st->ops->open(st, "events/a/x.json", &f), 0);
	CHECK_EQ_INT(entries(writers), 1);
	CHECK_EQ_INT(st->ops->write(f, "x", 1), 0);
	CHECK_EQ_INT(st->ops->commit(f), 0);
	kl_store_free(st);
	CHECK_EQ_INT(entries(writers), 0);

	/* marks there, none of a dead process: no walk (the leftover stays) */
	touch(p, dead_tmp);
	snprintf(mark, sizeof mark, "%ld-1", (long)getppid());
	touch(writers, mark); /* a live writer */
	CHECK_EQ_INT(kl_store_local_sweep(dir, &removed), 0);
	CHECK(removed == 0);
	snprintf(cmd, sizeof cmd, "%s/%s", p, dead_tmp);
	CHECK(exists(cmd));

	/* a dead process's mark: a crash; walked, then the mark goes */
	snprintf(mark, sizeof mark, "%ld-2", (long)child);
	touch(writers, mark);
	CHECK_EQ_INT(kl_store_local_sweep(dir, &removed), 0);
	CHECK(removed == 1);
	CHECK(!exists(cmd));
	snprintf(cmd, sizeof cmd, "%s/%s", writers, mark);
	CHECK(!exists(cmd));
	CHECK_EQ_INT(entries(writers), 1); /* the live writer's mark stays */
	remove_tree(dir);
}

int main(void)
{
	test_local();
	test_local_writes();
	test_local_deferred();
	test_local_split_sync();
	test_local_threads();
	test_local_crash_sweep();
	test_s3_page();
	return check_report("test_store_list");
}
