/* test_pipeline.c — the ingest core (pipeline/pipeline.h) on its own, with an
 * in-memory source and a fake store (a real struct kl_store vtable) that
 * fails on its Nth commit.
 *
 * For N = 1..K: a run whose Nth file commit fails must report the error, and
 * the state it leaves must claim nothing that is not in a committed file
 * (every record of a partition at or below the partition's P position, and
 * every record before R, is stored); a rerun with a working store must then
 * complete the lake with every record exactly once — each distinct
 * event_uuid in one data file line, each bad record in one dead letter —
 * none lost, none twice. Also: one run with no failure, and the rerun of a
 * finished input is a no-op. */
#include "check.h"

#include "commit/checkpoint.h"
#include "dedup/dedup.h"
#include "event/event.h"
#include "pipeline/pipeline.h"
#include "pipeline/writer.h"
#include "route/partition.h"
#include "core/cancel.h"
#include "source/source.h"
#include "store/store.h"

#include <inttypes.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

/* --- an in-memory line source -------------------------------------------- */

struct mem_source {
	struct kl_source base;
	const char *text;
	size_t len, off;
};

/* A stop that arrives after the source has handed out `stop_after` records
 * (0: never), as SIGTERM would while the reader works. */
static atomic_int stop_flag;
static int stop_after, handed_out;
static const struct kl_cancel stop_token = {&stop_flag, -1};
static const struct kl_cancel *run_stop;

static int mem_next(struct kl_source *b, struct kl_record *rec, int timeout_ms)
{
	(void)timeout_ms;
	struct mem_source *s = (struct mem_source *)b;
	if (s->off >= s->len)
		return KL_SRC_EOF;
	if (++handed_out == stop_after)
		atomic_store(&stop_flag, 1);
	const char *p = s->text + s->off;
	const char *nl = memchr(p, '\n', s->len - s->off);
	size_t n = nl ? (size_t)(nl - p) : s->len - s->off;
	rec->p = p;
	rec->n = rec->full_len = n;
	rec->pos = s->off;
	s->off += n + (nl ? 1 : 0);
	s->base.bytes_read += n + 1;
	return KL_SRC_RECORD;
}

static uint64_t mem_next_pos(struct kl_source *b)
{
	return ((struct mem_source *)b)->off;
}

static void mem_free(struct kl_source *b)
{
	(void)b;
}

static const struct kl_source_ops mem_ops = {
    .next = mem_next,
    .next_pos = mem_next_pos,
    .free = mem_free,
};

/* --- the same lines as a stream shard ------------------------------------ *
 * As source_kinesis.c hands them out: "Kinesis records" of GROUP user
 * records (a KPL aggregate) with sequence numbers 1, 2, ...; checkpoint()
 * names the record holding a position and the position of its first user
 * record ("at:<seq> <pos>"), resume() continues from there (1), and a
 * checkpoint without a position starts over at 0 (an older state). Its
 * positions are the lines' byte offsets, stable in every run. */

#define GROUP 3

struct stream_source {
	struct mem_source m;
	uint64_t group_start; /* position of the current record's first user record */
	unsigned seq, in_group; /* current record, user records of it handed out */
	int resumed;
};

static int st_next(struct kl_source *b, struct kl_record *rec, int timeout_ms)
{
	struct stream_source *s = (struct stream_source *)b;
	if (s->m.off < s->m.len && (s->in_group == GROUP || s->seq == 0)) {
		s->seq++, s->in_group = 0;
		s->group_start = s->m.off;
	}
	int r = mem_next(b, rec, timeout_ms);
	if (r == KL_SRC_RECORD)
		s->in_group++;
	return r;
}

static int st_checkpoint(struct kl_source *b, uint64_t pos, char *out, size_t cap)
{
	struct stream_source *s = (struct stream_source *)b;
	if (!s->seq)
		return -1;
	if (pos >= s->m.off) { /* everything read */
		if (s->in_group < GROUP)
			snprintf(out, cap, "at:%u %" PRIu64, s->seq, s->group_start);
		else
			snprintf(out, cap, "after:%u %" PRIu64, s->seq, s->m.off);
		return 0;
	}
	/* the group holding pos: count GROUP lines from the start of the input */
	uint64_t off = 0, start = 0;
	unsigned seq = 0, k = GROUP;
	while (off <= pos && off < s->m.len) {
		if (k == GROUP)
			seq++, k = 0, start = off;
		const char *nl = memchr(s->m.text + off, '\n', s->m.len - off);
		off = nl ? (uint64_t)(nl - s->m.text) + 1 : s->m.len;
		k++;
	}
	snprintf(out, cap, "at:%u %" PRIu64, seq, start);
	return 0;
}

static int st_resume(struct kl_source *b, const char *cp)
{
	struct stream_source *s = (struct stream_source *)b;
	unsigned seq;
	uint64_t pos;
	char kind[8];
	s->resumed = 1;
	if (sscanf(cp, "%7[a-z]:%u %" SCNu64, kind, &seq, &pos) != 3)
		return 0;
	if (!strcmp(kind, "at")) { /* read record seq again from its first user record */
		s->seq = seq - 1, s->in_group = GROUP;
	} else {
		s->seq = seq, s->in_group = GROUP;
	}
	s->m.off = pos;
	return 1;
}

static const struct kl_source_ops stream_ops = {
    .next = st_next,
    .next_pos = mem_next_pos,
    .free = mem_free,
    .checkpoint = st_checkpoint,
    .resume = st_resume,
};

/* --- a store in memory that fails on its Nth commit ----------------------- */

#define MAX_OBJ 4096

struct fake_store {
	struct kl_store base;
	char *key[MAX_OBJ];
	struct kl_buf body[MAX_OBJ];
	size_t n;
	int commits, fail_at; /* fail_at 0: never */
};

struct kl_store_file { /* first member as the real stores: kl_store_write_cb */
	struct fake_store *s;
	char *key;
	struct kl_buf b;
};

/* A run's settle hook (pipeline.h), when set for run(): "not yet" to the
 * first `not_yet` calls without waiting, then settled, or (fail) an error;
 * it counts files opened before it settled. */
struct settle_probe {
	int not_yet, fail;
	int nowait_calls, wait_calls, settled, early_opens;
	struct kl_errbuf *eb; /* the run's */
};
static struct settle_probe *settle_probe;

static int probe_settle(void *ctx, int wait)
{
	struct settle_probe *p = ctx;
	CHECK(!p->settled); /* never called again once settled */
	if (!wait && p->nowait_calls++ < p->not_yet)
		return 1;
	p->wait_calls += wait;
	if (p->fail)
		return kl_errbuf_set(p->eb, KL_ECONFLICT, "settle fails (test)");
	p->settled = 1;
	return KL_OK;
}

static int f_open(struct kl_store *b, const char *key, struct kl_store_file **out)
{
	if (settle_probe && !settle_probe->settled)
		settle_probe->early_opens++;
	struct kl_store_file *f = calloc(1, sizeof *f);
	f->s = (struct fake_store *)b;
	f->key = strdup(key);
	kl_buf_init(&f->b, 0);
	*out = f;
	return KL_OK;
}

static int f_write(struct kl_store_file *f, const void *p, size_t n)
{
	return kl_buf_append(&f->b, p, n);
}

static void f_abort(struct kl_store_file *f)
{
	kl_buf_cleanup(&f->b);
	free(f->key);
	free(f);
}

static int f_commit(struct kl_store_file *f)
{
	struct fake_store *s = f->s;
	if (++s->commits == s->fail_at) {
		f_abort(f);
		return kl_errbuf_set(&s->base.err, KL_EIO, "commit %d fails (test)", s->commits);
	}
	size_t i = 0;
	while (i < s->n && strcmp(s->key[i], f->key))
		i++;
	if (i == s->n) { /* a new object; else the same key is replaced */
		s->key[s->n] = f->key;
		kl_buf_init(&s->body[s->n++], 0);
	} else {
		free(f->key);
	}
	kl_buf_cleanup(&s->body[i]);
	s->body[i] = f->b;
	s->base.files_committed++;
	s->base.bytes_committed += f->b.len;
	free(f);
	return KL_OK;
}

static int f_sync(struct kl_store *b)
{
	(void)b;
	return KL_OK;
}

static int f_read(struct kl_store *b, const char *key, struct kl_buf *out)
{
	struct fake_store *s = (struct fake_store *)b;
	for (size_t i = 0; i < s->n; i++)
		if (!strcmp(s->key[i], key))
			return kl_buf_append(out, s->body[i].data, s->body[i].len);
	return KL_ENOTFOUND;
}

/* The entry of key k one level under dir (k starts with dir): its length. */
static size_t entry_len(const char *k, size_t dl)
{
	const char *slash = strchr(k + dl, '/');
	return slash ? (size_t)(slash - k) + 1 : strlen(k);
}

/* One level under dir, as store.h says: objects by key, deeper levels once. */
static int f_list(struct kl_store *b, const char *dir, kl_store_list_fn fn, void *ctx)
{
	struct fake_store *s = (struct fake_store *)b;
	size_t dl = strlen(dir);
	for (size_t i = 0; i < s->n; i++) {
		const char *k = s->key[i];
		if (strncmp(k, dir, dl))
			continue;
		size_t len = entry_len(k, dl);
		int seen = 0;
		for (size_t j = 0; j < i && !seen; j++)
			seen = !strncmp(s->key[j], dir, dl) && entry_len(s->key[j], dl) == len &&
			       !strncmp(s->key[j], k, len);
		char entry[512];
		snprintf(entry, sizeof entry, "%.*s", (int)len, k);
		int rc = seen ? KL_OK : fn(ctx, entry, len);
		if (rc)
			return rc;
	}
	return KL_OK;
}

static void f_free(struct kl_store *b)
{
	(void)b;
}

static const struct kl_store_ops fake_ops = {
    .open = f_open,
    .write = f_write,
    .commit = f_commit,
    .abort = f_abort,
    .sync = f_sync,
    .read = f_read,
    .list = f_list,
    .free = f_free,
};

static void fake_init(struct fake_store *s)
{
	memset(s, 0, sizeof *s);
	s->base.ops = &fake_ops;
}

static void fake_cleanup(struct fake_store *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free(s->key[i]);
		kl_buf_cleanup(&s->body[i]);
	}
}

/* --- the input and what the lake must hold -------------------------------- */

#define NREC 400
#define DEAD_DT "2026-01-02"

struct rec_info {
	uint64_t pos;
	int keeper;    /* must be stored exactly once: a first uuid, or a bad record */
	char key[256]; /* its partition */
	char uuid[32];
};

static struct kl_buf input;
static struct rec_info recs[NREC];
static int time_step = 977; /* seconds between events: 977 gives each its own hour */

static void make_input(void)
{
	kl_buf_init(&input, 0);
	struct kl_event ev;
	kl_event_init(&ev);
	struct kl_event_limits lim;
	kl_event_limits_default(&lim);
	struct kl_buf key;
	kl_buf_init(&key, 0);
	const char *types[] = {"a:x", "b", "c:y:z"};
	for (int i = 0; i < NREC; i++) {
		struct rec_info *r = &recs[i];
		r->pos = input.len;
		size_t start = input.len;
		int u = i % 10 == 9 ? i - 5 : i; /* every 10th repeats an earlier uuid */
		if (i % 25 == 7)
			kl_buf_printf(&input, "{\"event_uuid\":\"u%d\",\"broken", i);
		else
			kl_buf_printf(&input,
				      "{\"event_uuid\":\"u%d\",\"event_name\":\"%s\","
				      "\"created_at\":%d,\"n\":%d,\"pad\":\"%.*s\"}",
				      u, types[i % 3], 1700000000 + i * time_step, i, i % 50,
				      "..................................................");
		enum kl_reject rej =
		    kl_event_parse(&ev, input.data + start, input.len - start, &lim);
		kl_buf_reset(&key);
		if (rej == KL_REJ_NONE) {
			snprintf(r->uuid, sizeof r->uuid, "u%d", u);
			kl_partition_event(&key, &ev);
			r->keeper = u == i;
		} else {
			kl_partition_error(&key, kl_reject_name(rej), DEAD_DT);
			r->keeper = 1;
		}
		snprintf(r->key, sizeof r->key, "%.*s", (int)key.len, key.data);
		kl_buf_putc(&input, '\n');
	}
	kl_buf_cleanup(&key);
	kl_event_cleanup(&ev);
}

/* How many times each record is in the store's files (by uuid for events,
 * by "position" for dead letters). */
static void count_stored(const struct fake_store *s, int *times)
{
	memset(times, 0, NREC * sizeof *times);
	for (size_t o = 0; o < s->n; o++) {
		const struct kl_buf *b = &s->body[o];
		const char *p = b->data, *end = b->data + b->len;
		while (p < end) {
			const char *nl = memchr(p, '\n', (size_t)(end - p));
			size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
			char line[1024];
			snprintf(line, sizeof line, "%.*s", (int)(n < 1023 ? n : 1023), p);
			const char *q;
			if (!strncmp(s->key[o], "errors/", 7) &&
			    (q = strstr(line, "\"position\":"))) {
				uint64_t pos = strtoull(q + 11, NULL, 10);
				for (int i = 0; i < NREC; i++)
					if (recs[i].pos == pos)
						times[i]++;
			} else if ((q = strstr(line, "\"event_uuid\":\""))) {
				char u[32];
				snprintf(u, sizeof u, "%.*s", (int)strcspn(q + 14, "\""), q + 14);
				for (int i = 0; i < NREC; i++)
					if (recs[i].keeper && !strcmp(recs[i].uuid, u))
						times[i]++;
			}
			p = nl ? nl + 1 : end;
		}
	}
}

/* One run over the input with the state in `dir`. */
static struct kl_ingest_stats last_st; /* of the last run() that ran the pipeline */

static int run(struct fake_store *store, const char *dir, int *already_done)
{
	struct kl_ingest_opts o;
	kl_ingest_opts_default(&o);
	o.compression = KL_COMP_NONE;
	o.max_file_bytes = 1024; /* many files, many commits */
	o.dedup_window = 1000;
	o.stop = run_stop;
	struct kl_errbuf eb;
	kl_errbuf_clear(&eb);
	struct kl_state_checkpoint cp;
	int rc = kl_state_checkpoint_open(&cp, dir, "t", input.len);
	CHECK_EQ_INT(rc, 0);
	*already_done = cp.state.done && cp.state.done_size == input.len;
	uint64_t start = cp.state.window < cp.state.resume ? cp.state.window : cp.state.resume;
	struct mem_source src = {
	    .base = {.ops = &mem_ops}, .text = input.data, .len = input.len, .off = start};
	struct kl_dedup dedup;
	kl_dedup_init(&dedup, o.dedup_window);
	struct kl_encoder *data_enc, *dead_enc;
	CHECK_EQ_INT(kl_pipeline_encoders_new(&o, &store->base, NULL, &data_enc, &dead_enc, &eb),
		     0);
	struct kl_pipeline_parts parts = {
	    .source = &src.base,
	    .store = &store->base,
	    .data_enc = data_enc,
	    .dead_enc = dead_enc,
	    .dedup = &dedup,
	    .checkpoint = &cp.base,
	    .source_name = "mem",
	    .file_prefix = "t",
	    .dead_dt = DEAD_DT,
	    .input_size = input.len,
	};
	if (settle_probe) {
		parts.settle = probe_settle;
		parts.settle_ctx = settle_probe;
		settle_probe->eb = &eb;
	}
	struct kl_ingest_stats st;
	if (!*already_done) {
		rc = kl_pipeline_run(&o, &parts, &st, &eb);
		last_st = st;
	}
	if (rc)
		CHECK(eb.code != 0 && strstr(eb.msg, "fails (test)"));
	kl_encoder_free(data_enc);
	kl_encoder_free(dead_enc);
	kl_dedup_cleanup(&dedup);
	kl_state_checkpoint_close(&cp);
	return rc;
}

/* The state claims only what is stored. */
static void check_state_claims(const struct fake_store *s, const char *dir, int n)
{
	struct kl_state st;
	CHECK_EQ_INT(kl_state_open(&st, dir, "t"), 0);
	int times[NREC];
	count_stored(s, times);
	int bad = 0;
	for (int i = 0; i < NREC; i++) {
		if (!recs[i].keeper)
			continue;
		uint64_t upto;
		int claimed = recs[i].pos < st.resume ||
			      (kl_state_lookup(&st, recs[i].key, strlen(recs[i].key), &upto) &&
			       recs[i].pos <= upto);
		if (claimed && times[i] != 1) {
			if (!bad++)
				fprintf(stderr,
					"fail at commit %d: record %d (pos %" PRIu64
					") claimed by the state but stored %d times\n",
					n, i, recs[i].pos, times[i]);
		}
	}
	CHECK_EQ_INT(bad, 0);
	kl_state_close(&st);
}

static void check_exactly_once(const struct fake_store *s, const char *label, int n)
{
	int times[NREC], bad = 0, keepers = 0;
	count_stored(s, times);
	for (int i = 0; i < NREC; i++) {
		keepers += recs[i].keeper;
		if (recs[i].keeper && times[i] != 1 && !bad++)
			fprintf(stderr, "%s %d: record %d (pos %" PRIu64 ") stored %d times\n",
				label, n, i, recs[i].pos, times[i]);
	}
	CHECK_EQ_INT(bad, 0);
	CHECK(keepers > NREC / 2);
}

/* --- stream mode: the state is an object in the store ------------------- */

/* One run of the stream source with its state `_kinlake/state/<id>.log` in
 * the store, a shared dedup window (as every shard of a stream has), and
 * names that do not depend on dedup decisions. */
/* pool: the writer encodes with unpacking buffers from it (a stream's
 * shared ones, writer.h), NULL: its own */
static int run_stream_pool(struct fake_store *store, const char *id, uint64_t *replayed,
			   struct kl_writer_unpack_pool *pool)
{
	struct kl_ingest_opts o;
	kl_ingest_opts_default(&o);
	o.compression = KL_COMP_NONE;
	o.max_file_bytes = 1024;
	o.dedup_window = 1000;
	struct kl_errbuf eb;
	kl_errbuf_clear(&eb);
	struct kl_state_checkpoint cp;
	CHECK_EQ_INT(kl_state_checkpoint_open_store(&cp, &store->base, id), 0);
	CHECK(cp.base.name_before_dedup);
	struct stream_source src = {.m = {.base = {.ops = &stream_ops},
					  .text = input.data,
					  .len = input.len}};
	struct kl_dedup dedup;
	kl_dedup_init_shared(&dedup, o.dedup_window);
	struct kl_encoder *data_enc, *dead_enc;
	CHECK_EQ_INT(kl_pipeline_encoders_new(&o, &store->base, NULL, &data_enc, &dead_enc, &eb),
		     0);
	struct kl_pipeline_parts parts = {
	    .source = &src.m.base,
	    .store = &store->base,
	    .data_enc = data_enc,
	    .dead_enc = dead_enc,
	    .dedup = &dedup,
	    .checkpoint = &cp.base,
	    .source_name = "kinesis:s",
	    .file_prefix = "s",
	    .dead_dt = DEAD_DT,
	    .unpack_pool = pool,
	};
	struct kl_ingest_stats st;
	int rc = kl_pipeline_run(&o, &parts, &st, &eb);
	if (rc)
		CHECK(eb.code != 0 && strstr(eb.msg, "fails (test)"));
	if (replayed)
		*replayed = st.replayed;
	kl_encoder_free(data_enc);
	kl_encoder_free(dead_enc);
	kl_dedup_cleanup(&dedup);
	kl_state_checkpoint_close(&cp);
	return rc;
}

static int run_stream(struct fake_store *store, const char *id, uint64_t *replayed)
{
	return run_stream_pool(store, id, replayed, NULL);
}

/* How many times each input line is in the store: data lines by their "n"
 * (each line's own number), dead letters by their "position". The shared
 * window is not rebuilt on restart, so a repeated uuid whose first copy
 * lies before the checkpoint may be stored again (a producer's duplicate,
 * state.h): what must hold is that no input line is ever stored twice and
 * none is lost unless it was dropped as a duplicate. */
static void count_lines(const struct fake_store *s, int *times)
{
	memset(times, 0, NREC * sizeof *times);
	for (size_t o = 0; o < s->n; o++) {
		if (strncmp(s->key[o], "events/", 7) && strncmp(s->key[o], "errors/", 7))
			continue;
		const struct kl_buf *b = &s->body[o];
		const char *p = b->data, *end = b->data + b->len;
		while (p < end) {
			const char *nl = memchr(p, '\n', (size_t)(end - p));
			size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
			char line[1024];
			snprintf(line, sizeof line, "%.*s", (int)(n < 1023 ? n : 1023), p);
			const char *q;
			if (!strncmp(s->key[o], "errors/", 7) && (q = strstr(line, "\"position\":"))) {
				uint64_t pos = strtoull(q + 11, NULL, 10);
				for (int i = 0; i < NREC; i++)
					if (recs[i].pos == pos)
						times[i]++;
			} else if ((q = strstr(line, ",\"n\":"))) {
				long i = strtol(q + 5, NULL, 10);
				if (i >= 0 && i < NREC)
					times[i]++;
			}
			p = nl ? nl + 1 : end;
		}
	}
}

static void check_stream_once(const struct fake_store *s, const char *label, int n)
{
	int times[NREC], bad = 0;
	count_lines(s, times);
	for (int i = 0; i < NREC; i++) {
		int want_min = recs[i].keeper, want_max = 1; /* a repeat: 0 or 1 */
		if ((times[i] < want_min || times[i] > want_max) && !bad++)
			fprintf(stderr, "%s %d: line %d (pos %" PRIu64 ") stored %d times\n", label,
				n, i, recs[i].pos, times[i]);
	}
	CHECK_EQ_INT(bad, 0);
}

/* P lines left in a state object. */
static int state_parts(const struct fake_store *s, const char *id)
{
	char key[128];
	snprintf(key, sizeof key, "_kinlake/state/%s.log", id);
	for (size_t i = 0; i < s->n; i++)
		if (!strcmp(s->key[i], key)) {
			int n = 0;
			for (size_t j = 0; j + 10 < s->body[i].len; j++)
				n += (j == 0 || s->body[i].data[j - 1] == '\n') &&
				     s->body[i].data[j + 9] == 'P';
			return n;
		}
	return -1;
}

static void test_stream(void)
{
	/* a few events per partition and hour: records of a partition are
	 * read again after a restart, behind other partitions' pending ones */
	kl_buf_cleanup(&input);
	time_step = 31;
	make_input();

	/* clean: one run stores every line once; a second run stores nothing */
	struct fake_store s;
	fake_init(&s);
	CHECK_EQ_INT(run_stream(&s, "s", NULL), 0);
	check_stream_once(&s, "stream clean run", 0);
	int total_commits = s.commits;
	CHECK(total_commits > 20);
	/* P lines below R are pruned: at the end R is past every record */
	CHECK_EQ_INT(state_parts(&s, "s"), 0);
	size_t objects = s.n;
	/* the same run with the unpacking buffers of a shared pool (one set,
	 * used by a second writer before): the same objects, byte for byte */
	struct kl_writer_unpack_pool pool;
	CHECK_EQ_INT(kl_writer_unpack_pool_init(&pool, 1), 0);
	struct fake_store sp;
	for (int round = 0; round < 2; round++) {
		fake_init(&sp);
		CHECK_EQ_INT(run_stream_pool(&sp, "s", NULL, &pool), 0);
		CHECK_EQ_INT(sp.n, objects);
		/* by name: the order of commits may differ between runs */
		for (size_t i = 0; i < sp.n; i++) {
			size_t j = 0;
			while (j < s.n && strcmp(sp.key[i], s.key[j]))
				j++;
			CHECK(j < s.n);
			CHECK(j < s.n && sp.body[i].len == s.body[j].len &&
			      !memcmp(sp.body[i].data, s.body[j].data, s.body[j].len));
		}
		fake_cleanup(&sp);
	}
	CHECK_EQ_INT(pool.nfree, 1); /* every file gave it back */
	kl_writer_unpack_pool_cleanup(&pool);
	CHECK_EQ_INT(run_stream(&s, "s", NULL), 0);
	CHECK_EQ_INT(s.n, objects);
	check_stream_once(&s, "stream second run", 0);
	fake_cleanup(&s);

	/* the Nth commit (a file or the state object) fails: the run ends as a
	 * kill would end it; the runs after it repeat names, so the lake holds
	 * every line once. Twice in a row, then a clean run. How many state
	 * commits a run makes depends on how the writer batched the jobs it
	 * found queued (writer.h), so "the run got that far" is its own count. */
	for (int n = 1; n <= total_commits + 1; n++) {
		fake_init(&s);
		s.fail_at = n;
		int frc = run_stream(&s, "s", NULL);
		CHECK(frc != 0 || n > s.commits);
		s.fail_at = s.commits + 1 + n % 7;
		run_stream(&s, "s", NULL);
		s.fail_at = 0;
		uint64_t replayed = 0;
		CHECK_EQ_INT(run_stream(&s, "s", &replayed), 0);
		check_stream_once(&s, "stream fail at commit", n);
		fake_cleanup(&s);
	}

	/* a state written before positions carried over: "C at:<seq>" without
	 * one, and P lines in that run's ordinals. They mean nothing now: the
	 * run starts over at position 0 and its P lines are dropped (they
	 * would skip records here). */
	fake_init(&s);
	struct kl_state st;
	CHECK_EQ_INT(kl_state_open_store(&st, &s.base, "old"), 0);
	for (int i = 0; i < 3; i++)
		kl_state_note_part(&st, recs[i].key, strlen(recs[i].key), 1000000);
	kl_state_note_progress(&st, 5, 5, NULL);
	kl_state_note_checkpoint(&st, "at:7");
	CHECK_EQ_INT(kl_state_sync(&st), 0);
	kl_state_close(&st);
	CHECK_EQ_INT(state_parts(&s, "old"), 3);
	CHECK_EQ_INT(run_stream(&s, "old", NULL), 0);
	check_stream_once(&s, "stream after an old state", 0);
	int times[NREC];
	count_lines(&s, times);
	CHECK_EQ_INT(times[0], 1);
	CHECK_EQ_INT(state_parts(&s, "old"), 0);
	fake_cleanup(&s);
}

/* The buffers' budget (kl_pipeline_buffer_budget) never shrinks as
 * --memory-limit grows: a limit just above the fixed costs (the dedup
 * window, 8 MiB) once left the buffers a sliver, 0.9 MB of 32 MiB with the
 * 1M-event window against 4.5 MB of 24 MiB, and shedding then flushed a
 * partition on nearly every record (67,225 files for 552 partitions). */
static void test_budget_monotone(void)
{
	static const uint64_t windows[] = {0, 1000, 50000, 100000, 1000000};
	struct kl_ingest_opts o;
	kl_ingest_opts_default(&o);
	for (size_t w = 0; w < sizeof windows / sizeof *windows; w++) {
		for (int fmt = 0; fmt < 2; fmt++) {
			o.dedup_window = windows[w];
			o.format = fmt ? KL_FORMAT_PARQUET : KL_FORMAT_JSONL;
			size_t prev = 0, fails = 0;
			for (size_t lim = 1u << 20; lim <= (size_t)300 << 20; lim += 64u << 10) {
				o.memory_limit = lim;
				size_t b = kl_pipeline_buffer_budget(&o);
				fails += b < prev || b > lim;
				prev = b;
			}
			if (fails)
				fprintf(stderr, "window %llu, %s: the budget shrank %zu times\n",
					(unsigned long long)windows[w], fmt ? "parquet" : "jsonl", fails);
			CHECK_EQ_INT(fails, 0);
		}
	}
	/* the report's case, and the default: half for Parquet's buffers
	 * since session 14 (pipeline.c PQ_BUFFERS_KNEE) */
	o.format = KL_FORMAT_PARQUET;
	o.dedup_window = 1000000;
	o.memory_limit = (size_t)24 << 20;
	size_t at24 = kl_pipeline_buffer_budget(&o);
	o.memory_limit = (size_t)32 << 20;
	size_t at32 = kl_pipeline_buffer_budget(&o);
	CHECK(at32 >= at24);
	CHECK_EQ_INT(at32, ((size_t)8 << 20) - ((size_t)8 << 20) / 4);
	o.memory_limit = (size_t)256 << 20;
	size_t fixed = 1000000 * 24 + ((size_t)8 << 20), rest = ((size_t)256 << 20) - fixed;
	CHECK_EQ_INT(kl_pipeline_buffer_budget(&o), rest / 2);
	/* three quarters below the knee, the knee itself in between */
	o.memory_limit = (size_t)64 << 20;
	rest = ((size_t)64 << 20) - fixed;
	CHECK_EQ_INT(kl_pipeline_buffer_budget(&o), rest - rest / 4);
	o.memory_limit = (size_t)112 << 20;
	CHECK_EQ_INT(kl_pipeline_buffer_budget(&o), (size_t)48 << 20);
	o.format = KL_FORMAT_JSONL; /* JSON lines files are the blocks: all of it */
	o.memory_limit = (size_t)256 << 20;
	CHECK_EQ_INT(kl_pipeline_buffer_budget(&o), ((size_t)256 << 20) - fixed);
}

int main(void)
{
	make_input();
	char tmpl[160];
	char *base = kl_test_mkdtemp(tmpl, sizeof tmpl, "kl-test-pipeline-");
	char dir[256], cmd[300];
	int done;

	/* a run settled while it reads (pipeline.h settle; pipeline/ingest.c
	 * run_ahead): no file before it is settled, the same lake as a run
	 * without the hook; one that fails writes nothing and ends with its
	 * error */
	{
		struct fake_store plain, late, failed;
		fake_init(&plain);
		fake_init(&late);
		fake_init(&failed);
		snprintf(dir, sizeof dir, "%s/settle-plain", base);
		CHECK_EQ_INT(run(&plain, dir, &done), 0);
		struct settle_probe p = {.not_yet = 1};
		settle_probe = &p;
		snprintf(dir, sizeof dir, "%s/settle-late", base);
		CHECK_EQ_INT(run(&late, dir, &done), 0);
		CHECK_EQ_INT(p.settled, 1);
		CHECK_EQ_INT(p.early_opens, 0);
		CHECK(p.nowait_calls + p.wait_calls >= 1);
		check_exactly_once(&late, "settled", 0);
		CHECK_EQ_INT((int)late.n, (int)plain.n);
		for (size_t i = 0; i < late.n && i < plain.n; i++) {
			CHECK_EQ_STR(late.key[i], plain.key[i]);
			CHECK(late.body[i].len == plain.body[i].len &&
			      !memcmp(late.body[i].data, plain.body[i].data, plain.body[i].len));
		}
		struct settle_probe q = {.not_yet = 1, .fail = 1};
		settle_probe = &q;
		snprintf(dir, sizeof dir, "%s/settle-failed", base);
		CHECK_EQ_INT(run(&failed, dir, &done), KL_ECONFLICT);
		CHECK_EQ_INT((int)failed.n, 0);
		CHECK_EQ_INT(q.settled, 0);
		CHECK_EQ_INT(q.wait_calls, 1);
		settle_probe = NULL;
		fake_cleanup(&plain);
		fake_cleanup(&late);
		fake_cleanup(&failed);
	}

	/* a stop mid-run: not one record is read after it; what was read is
	 * committed, and a second run completes the lake exactly once */
	{
		struct fake_store s0;
		fake_init(&s0);
		snprintf(dir, sizeof dir, "%s/stop", base);
		run_stop = &stop_token;
		stop_after = 150;
		handed_out = 0;
		CHECK_EQ_INT(run(&s0, dir, &done), 0);
		CHECK_EQ_INT(last_st.interrupted, 1);
		CHECK_EQ_INT((int)last_st.records, 150);
		CHECK_EQ_INT(handed_out, 150);
		CHECK(s0.commits > 0);
		run_stop = NULL;
		stop_after = 0;
		CHECK_EQ_INT(run(&s0, dir, &done), 0);
		CHECK_EQ_INT(last_st.interrupted, 0);
		check_exactly_once(&s0, "after a stop", 0);
		fake_cleanup(&s0);
	}

	/* no failure: one run does it all; a second run is a no-op */
	struct fake_store s;
	fake_init(&s);
	snprintf(dir, sizeof dir, "%s/ok", base);
	CHECK_EQ_INT(run(&s, dir, &done), 0);
	CHECK_EQ_INT(done, 0);
	int total_commits = s.commits;
	CHECK(total_commits > 20);
	check_exactly_once(&s, "clean run", 0);
	CHECK_EQ_INT(run(&s, dir, &done), 0);
	CHECK_EQ_INT(done, 1);
	CHECK_EQ_INT(s.commits, total_commits);
	fake_cleanup(&s);

	/* the Nth commit fails, then a rerun with a working store */
	int K = total_commits < 30 ? total_commits : 30;
	for (int n = 1; n <= K; n++) {
		fake_init(&s);
		s.fail_at = n;
		snprintf(dir, sizeof dir, "%s/fail%d", base, n);
		int frc = run(&s, dir, &done); /* runs batch jobs differently: writer.h */
		CHECK(frc != 0 || n > s.commits);
		check_state_claims(&s, dir, n);
		s.fail_at = 0;
		uint64_t before = s.base.bytes_committed;
		CHECK_EQ_INT(run(&s, dir, &done), 0);
		CHECK_EQ_INT(done, 0);
		/* a run's bytes_out is what it wrote, not the store's lifetime total
		 * (a warm Lambda keeps its store across batches) */
		CHECK(before > 0 || n == 1);
		CHECK(last_st.bytes_out == s.base.bytes_committed - before);
		check_exactly_once(&s, "fail at commit", n);
		CHECK_EQ_INT(run(&s, dir, &done), 0);
		CHECK_EQ_INT(done, 1);
		fake_cleanup(&s);
	}
	test_stream();
	test_budget_monotone();
	snprintf(cmd, sizeof cmd, "rm -rf %s", base);
	CHECK_EQ_INT(system(cmd), 0);
	kl_buf_cleanup(&input);
	return check_report("test_pipeline");
}
