/* test_state.c — commit/state: durable progress survives reopen; a torn or
 * corrupt tail is dropped, never trusted; compaction keeps the content; a
 * checkpoint's commit_batch writes the bytes one commit per job would. */
#include "check.h"
#include "commit/checkpoint.h"
#include "commit/state.h"

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>
#include <zlib.h>

/* One framed line, as the writer frames it (body of n bytes). */
static void line(struct kl_buf *b, const char *body, size_t n, int upper)
{
	char crc[9];
	snprintf(crc, sizeof crc, upper ? "%08lX" : "%08lx",
		 crc32(0L, (const Bytef *)body, (uInt)n));
	kl_buf_printf(b, "%s ", crc);
	kl_buf_append(b, body, n);
	kl_buf_putc(b, '\n');
}
#define LINE(b, s) line(b, s, sizeof s - 1, 0)

/* The loader is strict about numbers and bytes, skips checksummed lines of
 * another shape, and stops at the first line it cannot trust. */
static void test_parse(void)
{
	struct kl_state st;
	memset(&st, 0, sizeof st);
	st.fd = -1;
	kl_buf_init(&st.pending, 0);
	struct kl_buf b;
	kl_buf_init(&b, 0);
	LINE(&b, "P 7 events/a");
	LINE(&b, "P -1 events/neg");
	LINE(&b, "P +5 events/plus");
	LINE(&b, "P  5 events/space");
	LINE(&b, "P 18446744073709551616 events/over");
	LINE(&b, "P 18446744073709551615 events/max");
	LINE(&b, "P 5 events/n\0ul");
	LINE(&b, "P 5 ");
	LINE(&b, "P 9 events/with space");
	LINE(&b, "R 10 3");
	LINE(&b, "R 11 4 junk");
	LINE(&b, "D 0x10");
	LINE(&b, "C at:123");
	LINE(&b, "A 2026-12-07");
	LINE(&b, "A 2026/12/08"); /* not a day's shape: skipped */
	LINE(&b, "A 2026-12-081");
	LINE(&b, "A ../../x/");
	LINE(&b, "X future line");
	size_t good = b.len;
	line(&b, "P 8 events/upper", 16, 1); /* not how we write a CRC: stop here */
	LINE(&b, "P 9 events/after");
	CHECK_EQ_INT(kl_state_parse(&st, b.data, b.len), good);
	uint64_t u = 0;
	CHECK(kl_state_lookup(&st, "events/a", 8, &u) && u == 7);
	CHECK(kl_state_lookup(&st, "events/max", 10, &u) && u == UINT64_MAX);
	CHECK(kl_state_lookup(&st, "events/with space", 17, &u) && u == 9);
	const char *skipped[] = {"events/neg",
				 "events/plus",
				 "events/space",
				 " events/space",
				 "events/over",
				 "events/n",
				 "",
				 "events/upper",
				 "events/after"};
	for (size_t i = 0; i < sizeof skipped / sizeof skipped[0]; i++)
		CHECK(!kl_state_lookup(&st, skipped[i], strlen(skipped[i]), &u));
	CHECK_EQ_INT(st.nparts, 3);
	CHECK(st.resume == 10 && st.window == 3);
	CHECK(!st.done);
	CHECK_EQ_STR(st.checkpoint, "at:123");
	CHECK_EQ_STR(st.arrival, "2026-12-07");
	/* a line longer than any we write is not trusted */
	kl_buf_reset(&b);
	char big[5000];
	memset(big, 'k', sizeof big);
	memcpy(big, "P 1 ", 4);
	line(&b, big, sizeof big, 0);
	CHECK_EQ_INT(kl_state_parse(&st, b.data, b.len), 0);
	kl_buf_cleanup(&b);
	kl_state_close(&st);
}

/* A state that has read the framed log b and nothing else. */
static void parse_only(struct kl_state *st, const struct kl_buf *b)
{
	memset(st, 0, sizeof *st);
	st->fd = -1;
	kl_buf_init(&st->pending, 0);
	kl_state_parse(st, b->data, b->len);
}

/* A commit is its P lines, its R line and (a run with its own budget) its
 * M line, written in one append. Cut short after the R, in a log whose
 * writer writes M lines, the commit does not count: the last whole one
 * does, with its memory picture (exact replay). A log without M lines (a
 * stream, an older build) keeps its last R as before. */
static void test_parse_torn_m(void)
{
	struct kl_buf b;
	kl_buf_init(&b, 0);
	for (int torn = 0; torn < 3; torn++) {
		struct kl_state st;
		kl_buf_reset(&b);
		LINE(&b, "P 7 events/a");
		LINE(&b, "R 8 2");
		LINE(&b, "M 9 100 1 5 1");
		LINE(&b, "D 50");
		LINE(&b, "P 20 events/b");
		LINE(&b, "P 21 events/a");
		LINE(&b, "R 22 3");
		if (torn == 0)
			LINE(&b, "M 23 200 0 22 3");
		if (torn == 2) /* the M line torn: no newline */
			kl_buf_append(&b, "0badc0de M 23 2", 15);
		parse_only(&st, &b);
		uint64_t u = 0;
		if (torn == 0) {
			CHECK(st.resume == 22 && st.window == 3);
			CHECK(st.replay.known && st.replay.upto == 23 && st.replay.charge == 200 &&
			      !st.replay.check && st.replay.quiet == 22 && st.replay.qwindow == 3);
			CHECK(kl_state_lookup(&st, "events/b", 8, &u) && u == 20);
			CHECK(kl_state_lookup(&st, "events/a", 8, &u) && u == 21);
		} else {
			CHECK(st.resume == 8 && st.window == 2);
			CHECK(st.replay.known && st.replay.upto == 9 && st.replay.charge == 100 &&
			      st.replay.check && st.replay.quiet == 5 && st.replay.qwindow == 1);
			CHECK(!kl_state_lookup(&st, "events/b", 8, &u));
			CHECK(kl_state_lookup(&st, "events/a", 8, &u) && u == 7);
		}
		CHECK(st.done && st.done_size == 50);
		kl_state_close(&st);
	}
	/* no M lines at all: the last R counts with its P lines */
	struct kl_state st;
	kl_buf_reset(&b);
	LINE(&b, "P 7 events/a");
	LINE(&b, "R 8 2");
	LINE(&b, "P 20 events/b");
	LINE(&b, "R 22 3");
	LINE(&b, "C at:5 6");
	parse_only(&st, &b);
	uint64_t u = 0;
	CHECK(st.resume == 22 && st.window == 3 && !st.replay.known);
	CHECK(kl_state_lookup(&st, "events/b", 8, &u) && u == 20);
	kl_state_close(&st);
	kl_buf_cleanup(&b);
}

/* Two owners of one store-kept log on a local lake (lease/fence.h): the
 * store's compare-and-swap, then the claim protocol. A claims; B reads and
 * claims; A's next write, which passed its lease checks before B came, is
 * refused and changes nothing; an O line is skipped by readers. */
static void test_claim(const char *dir)
{
	struct kl_store *s;
	struct kl_errbuf eb;
	kl_errbuf_clear(&eb);
	CHECK_EQ_INT(kl_store_local_new(&s, dir, &eb), KL_OK);
	/* the primitive: "" = must not exist, else the tag read */
	char t1[KL_STORE_TAG_MAX], t2[KL_STORE_TAG_MAX], t3[KL_STORE_TAG_MAX];
	struct kl_store_file *f;
	CHECK_EQ_INT(s->ops->read_tag(s, "cas/x", NULL, t1), KL_ENOTFOUND);
	CHECK_EQ_INT(s->ops->open(s, "cas/x", &f), KL_OK);
	CHECK_EQ_INT(s->ops->write(f, "1", 1), KL_OK);
	CHECK_EQ_INT(s->ops->commit_if(f, "", t1), KL_OK);
	CHECK_EQ_INT(s->ops->open(s, "cas/x", &f), KL_OK);
	CHECK_EQ_INT(s->ops->write(f, "2", 1), KL_OK);
	CHECK_EQ_INT(s->ops->commit_if(f, "", NULL), KL_ECONFLICT);
	struct kl_buf b;
	kl_buf_init(&b, 0);
	CHECK_EQ_INT(s->ops->read_tag(s, "cas/x", &b, t2), KL_OK);
	CHECK(b.len == 1 && b.data[0] == '1' && !strcmp(t1, t2));
	CHECK_EQ_INT(s->ops->open(s, "cas/x", &f), KL_OK);
	CHECK_EQ_INT(s->ops->write(f, "1", 1), KL_OK); /* the same bytes: a new tag */
	CHECK_EQ_INT(s->ops->commit_if(f, t1, t3), KL_OK);
	CHECK(strcmp(t1, t3) != 0);
	CHECK_EQ_INT(s->ops->open(s, "cas/x", &f), KL_OK);
	CHECK_EQ_INT(s->ops->write(f, "3", 1), KL_OK);
	CHECK_EQ_INT(s->ops->commit_if(f, t1, NULL), KL_ECONFLICT); /* stale */
	CHECK_EQ_INT(s->ops->read(s, "cas/x", &b), KL_OK);
	CHECK(b.len == 1 && b.data[0] == '1');

	struct kl_state a, o;
	CHECK_EQ_INT(kl_state_open_store(&a, s, "sh"), KL_OK);
	CHECK_EQ_INT(kl_state_claim(&a, "wa 1 0"), KL_EINVAL); /* no versioned read */
	CHECK_EQ_INT(kl_state_reload(&a), KL_OK);
	CHECK_EQ_INT(kl_state_claim(&a, "wa 1 0"), KL_OK);
	kl_state_note_progress(&a, 10, 10, NULL);
	kl_state_note_checkpoint(&a, "at:1 10");
	CHECK_EQ_INT(kl_state_sync(&a), KL_OK);
	CHECK_EQ_INT(kl_state_open_store(&o, s, "sh"), KL_OK);
	CHECK_EQ_INT(kl_state_reload(&o), KL_OK);
	CHECK_EQ_STR(o.checkpoint, "at:1 10");
	CHECK_EQ_INT(kl_state_claim(&o, "wb 5 0"), KL_OK);
	kl_state_note_progress(&a, 20, 20, NULL);
	kl_state_note_checkpoint(&a, "at:2 20");
	CHECK_EQ_INT(kl_state_sync(&a), KL_ECONFLICT);
	CHECK(strstr(a.err.msg, "another worker") != NULL);
	CHECK_EQ_INT(s->ops->read(s, "_kinlake/state/sh.log", &b), KL_OK);
	CHECK_EQ_INT(kl_buf_putc(&b, '\0'), KL_OK);
	CHECK(strstr(b.data, " O wb 5 0\n") && !strstr(b.data, "at:2 20"));
	kl_state_note_progress(&o, 30, 30, NULL);
	kl_state_note_checkpoint(&o, "at:3 30");
	CHECK_EQ_INT(kl_state_sync(&o), KL_OK);
	kl_state_close(&o);
	kl_state_close(&a);
	/* a claim that raced a late write fails; read again, it succeeds */
	CHECK_EQ_INT(kl_state_open_store(&o, s, "sh"), KL_OK);
	CHECK_EQ_INT(kl_state_reload(&o), KL_OK);
	CHECK_EQ_STR(o.checkpoint, "at:3 30");
	CHECK_EQ_INT(kl_state_open_store(&a, s, "sh"), KL_OK);
	CHECK_EQ_INT(kl_state_reload(&a), KL_OK);
	CHECK_EQ_INT(kl_state_claim(&a, "wa 9 0"), KL_OK);
	CHECK_EQ_INT(kl_state_claim(&o, "wc 11 0"), KL_ECONFLICT);
	CHECK_EQ_INT(kl_state_reload(&o), KL_OK);
	CHECK_EQ_INT(kl_state_claim(&o, "wc 11 0"), KL_OK);
	CHECK_EQ_STR(o.checkpoint, "at:3 30");
	kl_state_close(&a);
	kl_state_close(&o);
	kl_buf_cleanup(&b);
	kl_store_free(s);
}

/* Job i of the batch test: 10 partitions of 50, positions rising. */
static void batch_job(int i, struct kl_checkpoint_job *j, struct kl_checkpoint_file f[10],
		      char keys[10][32], char *cp, int stream)
{
	for (int k = 0; k < 10; k++) {
		snprintf(keys[k], 32, "events/p=%d", (i * 7 + k * 17) % 50);
		f[k] = (struct kl_checkpoint_file){keys[k], strlen(keys[k]), (uint64_t)i * 10 + 9};
	}
	snprintf(cp, 32, "at:%d %d", i, i * 10);
	*j = (struct kl_checkpoint_job){f, 10, (uint64_t)i * 10 - (uint64_t)(i % 3) * 10,
					(uint64_t)i * 5, stream ? cp : "", NULL};
}

static void read_log(const char *dir, struct kl_buf *out)
{
	char path[300];
	snprintf(path, sizeof path, "%s/_kinlake/state/b.log", dir);
	kl_buf_reset(out);
	FILE *fp = fopen(path, "rb");
	CHECK(fp != NULL);
	char chunk[65536];
	size_t got;
	while (fp && (got = fread(chunk, 1, sizeof chunk, fp)) > 0)
		kl_buf_append(out, chunk, got);
	if (fp)
		fclose(fp);
}

/* One log written one commit per job, one with commit_batch over batches
 * of 1..6 jobs, side by side, compared after every batch: a file lake
 * (appends, compaction past 4 * parts + 4096 lines) and a stream's object
 * in a store (pruned, compacted at every sync). */
static void test_commit_batch(const char *dir)
{
	enum { NJOBS = 600 };
	static struct kl_checkpoint_job jobs[NJOBS];
	static struct kl_checkpoint_file files[NJOBS][10];
	static char keys[NJOBS][10][32], cps[NJOBS][32];
	struct kl_buf one, many;
	kl_buf_init(&one, 0);
	kl_buf_init(&many, 0);
	for (int stream = 0; stream <= 1; stream++) {
		char d1[300], d2[300];
		snprintf(d1, sizeof d1, "%s/batch-one-%d", dir, stream);
		snprintf(d2, sizeof d2, "%s/batch-many-%d", dir, stream);
		struct kl_state_checkpoint c1, c2;
		struct kl_store *s1 = NULL, *s2 = NULL;
		struct kl_errbuf eb = {{0}, 0};
		if (stream) {
			CHECK_EQ_INT(kl_store_local_new(&s1, d1, &eb), 0);
			CHECK_EQ_INT(kl_store_local_new(&s2, d2, &eb), 0);
			CHECK_EQ_INT(kl_state_checkpoint_open_store(&c1, s1, "b"), 0);
			CHECK_EQ_INT(kl_state_checkpoint_open_store(&c2, s2, "b"), 0);
		} else {
			CHECK_EQ_INT(kl_state_checkpoint_open(&c1, d1, "b", 0), 0);
			CHECK_EQ_INT(kl_state_checkpoint_open(&c2, d2, "b", 0), 0);
		}
		CHECK(c2.base.ops->commit_batch != NULL);
		for (int i = 1; i < NJOBS; i++)
			batch_job(i, &jobs[i], files[i], keys[i], cps[i], stream);
		int differ = 0, compacted = 0;
		size_t last_len = 0;
		for (int i = 1; i < NJOBS;) {
			int n = 1 + i % 6;
			if (i + n > NJOBS)
				n = NJOBS - i;
			for (int k = 0; k < n; k++)
				CHECK_EQ_INT(c1.base.ops->commit(&c1.base, &jobs[i + k]), 0);
			CHECK_EQ_INT(c2.base.ops->commit_batch(&c2.base, &jobs[i], (size_t)n), 0);
			i += n;
			read_log(d1, &one);
			read_log(d2, &many);
			differ += one.len != many.len || memcmp(one.data, many.data, one.len);
			compacted += one.len < last_len;
			last_len = one.len;
		}
		CHECK_EQ_INT(differ, 0);
		CHECK(compacted > 0); /* the test went through a compaction */
		kl_state_checkpoint_close(&c1);
		kl_state_checkpoint_close(&c2);
		kl_store_free(s1);
		kl_store_free(s2);
	}
	kl_buf_cleanup(&one);
	kl_buf_cleanup(&many);
}

int main(void)
{
	test_parse();
	test_parse_torn_m();
	char dir[200];
	kl_test_mkdtemp(dir, sizeof dir, "kl-state-");
	test_commit_batch(dir);
	struct kl_state st;
	CHECK_EQ_INT(kl_state_open(&st, dir, "abc"), 0);
	CHECK_EQ_INT(st.resume, 0);
	CHECK_EQ_INT(kl_state_note_part(&st, "events/a", 8, 100), 0);
	CHECK_EQ_INT(kl_state_note_part(&st, "errors/x", 8, 7), 0);
	CHECK_EQ_INT(kl_state_note_part(&st, "events/a", 8, 250), 0);
	CHECK_EQ_INT(kl_state_note_progress(&st, 120, 5, NULL), 0);
	CHECK_EQ_INT(kl_state_note_arrival(&st, "2026-12-07"), 0);
	CHECK_EQ_INT(kl_state_sync(&st), 0);
	kl_state_close(&st);

	CHECK_EQ_INT(kl_state_open(&st, dir, "abc"), 0);
	uint64_t u = 0;
	CHECK(kl_state_lookup(&st, "events/a", 8, &u) && u == 250);
	CHECK(kl_state_lookup(&st, "errors/x", 8, &u) && u == 7);
	CHECK(!kl_state_lookup(&st, "events/b", 8, &u));
	CHECK_EQ_INT(st.resume, 120);
	CHECK_EQ_INT(st.window, 5);
	CHECK(!st.done);
	/* queued but never synced: must not survive */
	kl_state_note_part(&st, "events/b", 8, 999);
	kl_state_close(&st);

	/* a torn line and garbage after it are ignored */
	char path[256];
	snprintf(path, sizeof path, "%s/_kinlake/state/abc.log", dir);
	int fd = open(path, O_WRONLY | O_APPEND);
	CHECK(fd >= 0);
	CHECK(write(fd, "deadbeef P 5 events/c\n0000", 26) == 26);
	close(fd);
	CHECK_EQ_INT(kl_state_open(&st, dir, "abc"), 0);
	CHECK(!kl_state_lookup(&st, "events/c", 8, &u));
	CHECK(!kl_state_lookup(&st, "events/b", 8, &u));
	CHECK(kl_state_lookup(&st, "events/a", 8, &u) && u == 250);
	kl_state_note_done(&st, 4242);
	/* enough lines to force a compaction */
	char key[32];
	for (int i = 0; i < 6000; i++) {
		int n = snprintf(key, sizeof key, "events/k%d", i % 50);
		kl_state_note_part(&st, key, (size_t)n, (uint64_t)i);
		if (i % 100 == 0) {
			CHECK_EQ_INT(kl_state_note_progress(&st, 0, 0, NULL), 0);
			CHECK_EQ_INT(kl_state_sync(&st), 0);
		}
	}
	/* P lines count with the R line of their commit: without one (an
	 * append cut short) they are not applied */
	CHECK_EQ_INT(kl_state_sync(&st), 0);
	kl_state_close(&st);
	CHECK_EQ_INT(kl_state_open(&st, dir, "abc"), 0);
	CHECK(kl_state_lookup(&st, "events/k49", 10, &u) && u == 5899);
	kl_state_note_part(&st, "events/k49", 10, 5999);
	kl_state_note_part(&st, "events/k0", 9, 5950);
	CHECK_EQ_INT(kl_state_note_progress(&st, 0, 0, NULL), 0);
	CHECK_EQ_INT(kl_state_sync(&st), 0);
	kl_state_close(&st);
	CHECK_EQ_INT(kl_state_open(&st, dir, "abc"), 0);
	CHECK(st.done && st.done_size == 4242);
	CHECK_EQ_STR(st.arrival, "2026-12-07"); /* the input's day survives compaction */
	CHECK(kl_state_lookup(&st, "events/k49", 10, &u) && u == 5999);
	CHECK(kl_state_lookup(&st, "events/k0", 9, &u) && u == 5950);
	kl_state_close(&st);

	/* prune: P lines below a bound go, in memory and (compacted at the next
	 * sync, even with nothing else queued) in the log; the index still
	 * finds what is left; a stream checkpoint keeps its "at:<seq> <pos>" */
	CHECK_EQ_INT(kl_state_open(&st, dir, "pr"), 0);
	for (int i = 0; i < 300; i++) { /* past the index's first size */
		int n = snprintf(key, sizeof key, "events/p%d", i);
		kl_state_note_part(&st, key, (size_t)n, (uint64_t)i * 10);
	}
	kl_state_note_progress(&st, 1500, 1500, NULL);
	kl_state_note_checkpoint(&st, "at:49590338271490256608559692538361571095921575989136588898 1234");
	CHECK_EQ_INT(kl_state_sync(&st), 0);
	CHECK_EQ_INT(kl_state_prune(&st, 1500), 150);
	CHECK_EQ_INT(kl_state_prune(&st, 1500), 0);
	CHECK_EQ_INT(st.nparts, 150);
	CHECK(!kl_state_lookup(&st, "events/p149", 11, &u));
	CHECK(kl_state_lookup(&st, "events/p150", 11, &u) && u == 1500);
	CHECK(kl_state_lookup(&st, "events/p299", 11, &u) && u == 2990);
	CHECK_EQ_INT(kl_state_sync(&st), 0); /* nothing queued, but pruned: compacts */
	kl_state_close(&st);
	CHECK_EQ_INT(kl_state_open(&st, dir, "pr"), 0);
	CHECK_EQ_INT(st.nparts, 150);
	CHECK(!kl_state_lookup(&st, "events/p0", 9, &u));
	CHECK(kl_state_lookup(&st, "events/p150", 11, &u) && u == 1500);
	CHECK_EQ_STR(st.checkpoint,
		     "at:49590338271490256608559692538361571095921575989136588898 1234");
	CHECK_EQ_INT(kl_state_prune(&st, UINT64_MAX), 150);
	CHECK_EQ_INT(st.nparts, 0);
	CHECK(!kl_state_lookup(&st, "events/p299", 11, &u));
	CHECK_EQ_INT(kl_state_note_part(&st, "events/new", 10, 7), 0);
	CHECK(kl_state_lookup(&st, "events/new", 10, &u) && u == 7);
	CHECK_EQ_INT(kl_state_sync(&st), 0);
	kl_state_close(&st);
	CHECK_EQ_INT(kl_state_open(&st, dir, "pr"), 0);
	CHECK_EQ_INT(st.nparts, 1);
	CHECK(kl_state_lookup(&st, "events/new", 10, &u) && u == 7);
	kl_state_close(&st);
	test_claim(dir);
	char cmd[300];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	CHECK(system(cmd) == 0);
	return check_report("test_state");
}
