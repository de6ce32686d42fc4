/* ingest.c — see ingest.h: the parts of one file's (or stdin's) run. */
#include "pipeline/ingest.h"
#include "commit/checkpoint.h"
#include "core/cancel.h"
#include "core/clock.h"
#include "dedup/dedup.h"
#include "encode/parquet/schema.h"
#include "pipeline/pipeline.h"
#include "route/partition.h"
#include "source/decompress.h"
#include "source/input_id.h"
#include "source/source.h"
#include "store/store.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

void kl_ingest_opts_default(struct kl_ingest_opts *o)
{
	memset(o, 0, sizeof *o);
	o->input = "-";
	o->lake = "lake";
	o->format = KL_FORMAT_JSONL;
	o->compression = KL_COMP_ZSTD;
	o->max_file_bytes = 128u << 20;
	o->flush_interval_ms = 300 * 1000;
	o->memory_limit = 256u << 20;
	o->window = KL_WINDOW_INTERVAL;
	o->allowed_lateness_ms = 600 * 1000;
	o->dedup_window = 1000000;
	o->stop_fd = -1;
	o->row_group_bytes = 128u << 20;
	o->threads = 1;
	kl_event_limits_default(&o->limits);
}

/* Everything a file run owns. */
struct file_run {
	int fd, own_fd;
	struct kl_store *store;
	struct kl_encoder *data_enc, *dead_enc;
	struct kl_schema_registry *registry;
	struct kl_dedup dedup;
	struct kl_state_checkpoint cp;
	char id[17], dead_dt[11];
	uint64_t size; /* 0 = unknown */
	int by_content; /* id = the hash of the first `size` bytes: read no further */
	uint64_t head;	/* by_content: the hash of its head (source/input_id.h) */
	/* by_content: the longest earlier input in the lake that this file
	 * begins with (it grew since), done; 0 = none (module comment above
	 * kl_ingest_run) */
	uint64_t cont_size;
	char cont_id[17];
	/* a regular file compressed with gzip or zstd (its records are its
	 * text's lines): it takes no part in the marks of files that grew, as
	 * its prefixes are not its text's */
	enum kl_codec codec;
	/* by_content, not hashed yet: no mark under its head says the lake
	 * has seen this input or a prefix of it (run_ahead, below) */
	int ahead;
};

/* ---- a file that grew since it was ingested ------------------------------
 *
 * A file is named by the hash of its content, so a file that was ingested
 * and then appended to is another input. Read whole again, it would store
 * its first part twice. So each input ingested to its end leaves a mark,
 * _kinlake/inputs/<head>/<size>-<id> (an empty object; <head> the hash of
 * its first KL_INPUT_HEAD bytes), and a new input lists the marks under its
 * own head: for each mark shorter than itself the hash of its prefix of
 * that length is taken as the file is hashed anyway, and the longest one
 * that matches the mark's id is where the new input begins (its records,
 * files and state are its own, from that byte on). One listing of one
 * directory: the marks of the inputs that share this file's first 4 KiB,
 * never of the whole lake. A file shorter than KL_INPUT_HEAD that grew
 * past it is not recognised (its head changed). Nor is a compressed file
 * (gzip, zstd): its prefixes are not its text's, so one appended to (a
 * member added to a .gz) is another input, read whole.
 *
 * The mark is made when a run of the input begins, before its first file,
 * so an input whose run was interrupted (SIGTERM, a crash) has one too: a
 * run of the grown file then first finishes that input, under its own id
 * and state, from where it stopped to its end (finish_earlier), exactly as
 * a run of the earlier file would have, and only then reads the rest under
 * its own id. Read whole under the new id instead, the part the interrupted
 * run had stored would be stored twice, under other names. */

#define INPUTS_DIR "_kinlake/inputs/"

struct marks {
	uint64_t size[64]; /* ascending, shorter than the input */
	char id[64][17];
	size_t n;
	uint64_t limit;
	int same; /* a mark of the input's own size: perhaps this very input */
};

static int collect_mark(void *ctx, const char *key, size_t len)
{
	struct marks *m = ctx;
	const char *name = memrchr(key, '/', len);
	name = name ? name + 1 : key;
	uint64_t sz;
	char id[17];
	if (!kl_input_mark_parse(name, len - (size_t)(name - key), &sz, id))
		return KL_OK; /* not a mark */
	if (sz == m->limit)
		m->same = 1;
	if (sz >= m->limit)
		return KL_OK; /* not a prefix of this input */
	size_t i = m->n;
	if (i == sizeof m->size / sizeof m->size[0]) { /* full: keep the longest */
		if (sz <= m->size[0])
			return KL_OK;
		memmove(m->size, m->size + 1, (i - 1) * sizeof m->size[0]);
		memmove(m->id, m->id + 1, (i - 1) * sizeof m->id[0]);
		i--;
		m->n--;
	}
	while (i > 0 && m->size[i - 1] > sz) { /* insertion: ascending */
		m->size[i] = m->size[i - 1];
		memcpy(m->id[i], m->id[i - 1], 17);
		i--;
	}
	m->size[i] = sz;
	memcpy(m->id[i], id, 17);
	m->n++;
	return KL_OK;
}

/* The marks under this input's head, into m (shorter than the input). */
static int list_marks(struct kl_store *store, uint64_t head, uint64_t size, struct marks *m,
		      struct kl_errbuf *eb)
{
	char dir[64], hex[17];
	kl_input_id_hex(head, hex);
	snprintf(dir, sizeof dir, INPUTS_DIR "%s/", hex);
	memset(m, 0, sizeof *m);
	m->limit = size;
	int rc = store->ops->list(store, dir, collect_mark, m);
	if (rc)
		return kl_errbuf_set(eb, rc, "cannot list %s: %s", dir,
				     store->err.code ? store->err.msg : kl_strerror(rc));
	return KL_OK;
}

/* This input's mark (made when its run begins), unless it is there. */
static int put_mark(struct kl_store *store, const struct file_run *f, struct kl_errbuf *eb)
{
	char key[96], hex[17], name[48];
	kl_input_id_hex(f->head, hex);
	kl_input_mark_name(name, sizeof name, f->size, f->id);
	snprintf(key, sizeof key, INPUTS_DIR "%s/%s", hex, name);
	struct kl_buf got;
	kl_buf_init(&got, 1 << 16); /* a mark is empty; room for a read of a few pages */
	int rc = store->ops->read(store, key, &got);
	kl_buf_cleanup(&got);
	if (rc != KL_ENOTFOUND)
		return rc ? kl_errbuf_set(eb, rc, "cannot read %s: %s", key,
					  store->err.code ? store->err.msg : kl_strerror(rc))
			  : KL_OK;
	struct kl_store_file *w;
	rc = store->ops->open(store, key, &w);
	if (!rc)
		rc = store->ops->commit(w);
	if (rc)
		return kl_errbuf_set(eb, rc, "cannot write %s: %s", key,
				     store->err.code ? store->err.msg : kl_strerror(rc));
	return KL_OK;
}

/* The hash's progress, drawn as the run's is (every ~200 ms). */
struct hash_tick {
	const struct kl_ingest_opts *o;
	uint64_t size;
	int64_t t0, last;
};

static void hash_tick(void *ctx, uint64_t done)
{
	struct hash_tick *t = ctx;
	int64_t now = kl_mono_ms();
	if (now - t->last < 200)
		return;
	t->last = now;
	struct kl_ingest_progress p = {.pos = done,
				       .size = t->size,
				       .seconds = (double)(now - t->t0) / 1e3,
				       .hashing = 1};
	t->o->progress(t->o->progress_ctx, &p);
}

/* Open the input file (stdin stays fd 0): first of all, so that an input
 * that cannot be read leaves no lake directory behind. */
static int open_input_fd(const struct kl_ingest_opts *o, struct file_run *f, struct kl_errbuf *eb)
{
	if (strcmp(o->input, "-") == 0)
		return KL_OK;
	f->fd = open(o->input, O_RDONLY | O_CLOEXEC);
	if (f->fd < 0)
		return kl_errbuf_set(eb, KL_EIO, "cannot open input %s: %s", o->input,
				     strerror(errno));
	f->own_fd = 1;
	struct stat sb;
	if (fstat(f->fd, &sb) == 0 && S_ISDIR(sb.st_mode)) /* read() would say only EISDIR */
		return kl_errbuf_set(eb, KL_EIO,
				     "input %s is a directory: give a file, or - for stdin (its "
				     "files as one input: cat %s/* | kinlake ingest --input - "
				     "--input-id NAME ...)",
				     o->input, o->input);
	/* a compressed file: read through a decoder (source/decompress.h), or
	 * refused before a lake is made for it when it is not one we decode */
	unsigned char head[8];
	ssize_t n = S_ISREG(sb.st_mode) ? pread(f->fd, head, sizeof head, 0) : 0;
	f->codec = n > 0 ? kl_codec_sniff(head, (size_t)n) : KL_CODEC_NONE;
	if (f->codec != KL_CODEC_NONE && !kl_codec_decodes(f->codec))
		return kl_codec_refuse(eb, f->codec, o->input);
	return KL_OK;
}

/* What stops the input's hash: the shutdown token, else the signal fd
 * itself (by_fd, filled in: a poll per check), else nothing. */
static const struct kl_cancel *hash_stop(const struct kl_ingest_opts *o, struct kl_cancel *by_fd)
{
	*by_fd = (struct kl_cancel){NULL, o->stop_fd};
	return o->stop ? o->stop : o->stop_fd >= 0 ? by_fd : NULL;
}

/* Name the open input (source/input_id.h). Hashing a regular file
 * reads all of it first, which on a cold disk takes as long as the run's
 * own reading may: a stop request ends it (KL_EINTR, nothing read), and
 * the progress callback sees it. */
static int open_input(const struct kl_ingest_opts *o, struct kl_store *store, struct file_run *f,
		      struct kl_errbuf *eb)
{
	struct stat sb;
	time_t arrival = time(NULL);
	uint64_t h = 0;
	int regular = fstat(f->fd, &sb) == 0 && S_ISREG(sb.st_mode);
	if (regular) {
		arrival = sb.st_mtime;
		f->size = (uint64_t)sb.st_size;
	}
	kl_partition_day(arrival, f->dead_dt);
	if (o->input_id) {
		kl_input_id_of_name(o->input_id, f->id);
	} else if (regular) {
		struct kl_cancel by_fd;
		struct hash_tick tick = {o, f->size, kl_mono_ms(), kl_mono_ms()};
		struct marks m;
		uint64_t at_hash[sizeof m.size / sizeof m.size[0]];
		int rc = kl_input_head_hash(f->fd, &f->head, eb);
		m.n = 0;
		if (!rc && f->codec == KL_CODEC_NONE)
			rc = list_marks(store, f->head, f->size, &m, eb);
		if (rc)
			return rc;
		if (f->codec == KL_CODEC_NONE && !m.n && !m.same && f->size) {
			f->by_content = f->ahead = 1; /* hashed beside its run */
			return KL_OK;
		}
		struct kl_input_hash_hooks hooks = {
		    .stop = hash_stop(o, &by_fd),
		    .tick = o->progress ? hash_tick : NULL,
		    .ctx = &tick,
		    .at = m.size,
		    .nat = m.n,
		    .at_hash = at_hash,
		};
		if ((rc = kl_input_hash_fd(f->fd, &f->size, &h, &hooks, eb)))
			return rc;
		kl_input_id_hex(h, f->id);
		f->by_content = 1;
		for (size_t i = m.n; i-- > 0;) { /* the longest prefix that matches */
			char hex[17];
			kl_input_id_hex(at_hash[i], hex);
			if (at_hash[i] && m.size[i] < f->size && !strcmp(hex, m.id[i])) {
				f->cont_size = m.size[i];
				memcpy(f->cont_id, m.id[i], sizeof f->cont_id);
				break;
			}
		}
	} else {
		kl_input_id_fresh(f->id); /* a pipe has no identity */
	}
	return KL_OK;
}

/* A file named by its content (and named: a run stopped before its hash
 * ended has no name yet) that is longer now than the bytes its name
 * covers: what was appended is left for the next run (the CLI says so). */
static void note_grown(const struct file_run *f, struct kl_ingest_stats *st)
{
	struct stat sb;
	if (f->by_content && f->id[0] && fstat(f->fd, &sb) == 0 && (uint64_t)sb.st_size > f->size) {
		st->hashed_size = f->size;
		st->grown_size = (uint64_t)sb.st_size;
	}
}

void kl_ingest_stats_add(struct kl_ingest_stats *t, const struct kl_ingest_stats *s)
{
	t->records += s->records;
	t->stored += s->stored;
	t->rescued += s->rescued;
	t->dead += s->dead;
	t->duplicates += s->duplicates;
	t->replayed += s->replayed;
	t->files += s->files;
	t->bytes_in += s->bytes_in;
	t->bytes_out += s->bytes_out;
	t->input_damaged |= s->input_damaged;
	for (size_t i = 0; i < KL_REJ_COUNT; i++)
		t->dead_by_reason[i] += s->dead_by_reason[i];
}

/* The state of input `id` (`size` bytes) in the lake, into cp. */
static int open_checkpoint(const struct kl_ingest_opts *o, struct kl_store *store,
			   struct kl_state_checkpoint *cp, const char *id, uint64_t size,
			   struct kl_errbuf *eb)
{
	int rc = o->store ? kl_state_checkpoint_open_file_store(cp, store, id, size)
			  : kl_state_checkpoint_open(cp, o->lake, id, size);
	return rc ? kl_errbuf_set(eb, rc, "%s", cp->base.err.msg) : KL_OK;
}

/* An input's dead letters keep the day of its first run (commit/state.h,
 * the A line), `day` if its state has none yet: a pipe's day is the
 * clock's and a file's its mtime, which grows with the file, so a restart
 * after midnight UTC (or after the file grew) would date the records it
 * replays otherwise and store them again beside the killed run's files,
 * under another dt=. Durable before the input's first file: a crash at any
 * moment leaves it. Pinned where a run starts to write: run_input, and a
 * new input's settle (ahead_settle). */
static int pin_arrival(struct kl_state_checkpoint *cp, const char day[11], struct kl_errbuf *eb)
{
	struct kl_state *st = &cp->state;
	if (st->arrival[0])
		return KL_OK;
	if (kl_state_note_arrival(st, day))
		return kl_errbuf_set(eb, KL_ENOMEM, "out of memory");
	int rc = kl_state_sync(st);
	return rc ? kl_errbuf_set(eb, rc, "%s", st->err.msg) : KL_OK;
}

/* One pipeline run over f->fd's lines from byte `start` to `end` (0: EOF)
 * into files named `prefix`-<position> (`size`: the input's bytes, 0
 * unknown), dead letters dated `dead_dt`, with f's encoders, the dedup
 * window d and the checkpoint cp; `x` (may be NULL) adds what else the run
 * takes (pipeline.h settle). */
static int run_source(const struct kl_ingest_opts *o, struct kl_store *store,
		      const struct file_run *f, const char *prefix, const char *dead_dt,
		      uint64_t size, uint64_t start, uint64_t end, struct kl_checkpoint *cp,
		      struct kl_dedup *d, const struct kl_pipeline_parts *x,
		      struct kl_ingest_stats *st, struct kl_errbuf *eb)
{
	struct kl_source *src =
	    kl_source_fd_new(f->fd, 0, start, end, kl_source_fd_cap(o->limits.max_record_bytes),
			     o->stop_fd);
	if (!src)
		return kl_errbuf_set(eb, KL_ENOMEM, "out of memory");
	struct kl_pipeline_parts parts = {
	    .source = src,
	    .store = store,
	    .data_enc = f->data_enc,
	    .dead_enc = f->dead_enc,
	    .dedup = d,
	    .checkpoint = cp,
	    .source_name = strcmp(o->input, "-") ? o->input : "stdin",
	    .file_prefix = prefix,
	    .dead_dt = dead_dt,
	    .input_size = size,
	    .settle = x ? x->settle : NULL,
	    .settle_ctx = x ? x->settle_ctx : NULL,
	};
	int rc = kl_pipeline_run(o, &parts, st, eb);
	kl_source_free(src);
	return rc;
}

/* One pipeline run of input `id` (`size` bytes, 0 unknown) over f->fd, as
 * its state in cp says: from the dedup window's start (records before the
 * resume point only rebuild the window, commit/state.h) but not before
 * `from`, to `end` (0: EOF), with f's encoders and the dedup window d;
 * its dead letters dated by its state's day (pin_arrival: f's if it has
 * none yet). */
static int run_input(const struct kl_ingest_opts *o, struct kl_store *store,
		     const struct file_run *f, const char *id, uint64_t size, uint64_t from,
		     uint64_t end, struct kl_state_checkpoint *cp, struct kl_dedup *d,
		     struct kl_ingest_stats *st, struct kl_errbuf *eb)
{
	const struct kl_state *state = &cp->state;
	uint64_t start = state->window < state->resume ? state->window : state->resume;
	if (start < from)
		start = from;
	int rc = pin_arrival(cp, f->dead_dt, eb);
	return rc ? rc
		  : run_source(o, store, f, id, state->arrival, size, start, end, &cp->base, d,
			       NULL, st, eb);
}

/* The earlier input this file begins with (f->cont_id, its first
 * f->cont_size bytes) is in the lake, but its run may have stopped before
 * its end: then go on with it as a run of that file would (its id, its
 * state, its own dedup window), up to its end, before this input's own run.
 * Its counts go into *e (e->cont_finished: its records read now). */
static int finish_earlier(const struct kl_ingest_opts *o, struct kl_store *store,
			  const struct file_run *f, struct kl_ingest_stats *e, struct kl_errbuf *eb)
{
	struct kl_state_checkpoint cp;
	struct kl_dedup dedup;
	int rc = open_checkpoint(o, store, &cp, f->cont_id, f->cont_size, eb);
	if (!rc && !(cp.state.done && cp.state.done_size == f->cont_size)) {
		if ((rc = kl_dedup_init(&dedup, o->dedup_window))) {
			kl_errbuf_set(eb, rc, "cannot allocate a dedup window of %zu events",
				      o->dedup_window);
		} else {
			rc = run_input(o, store, f, f->cont_id, f->cont_size, 0, f->cont_size, &cp,
				       &dedup, e, eb);
			e->cont_finished = e->records ? e->records : 1;
			kl_dedup_cleanup(&dedup);
		}
	}
	kl_state_checkpoint_close(&cp);
	return rc;
}

/* ---- a file the lake has never seen, hashed beside its run ----------------
 *
 * Naming a file by its content reads all of it before its first record: a
 * pass that costs ~0.1 s per 400 MB from the page cache here, and on a cold
 * disk as long as the run's own reading (the file read twice, one after the
 * other). When no mark under the file's head (the marks above) says the
 * lake has seen this input or a prefix of it, the input is almost surely
 * new, and its run starts at once while a thread hashes the same bytes
 * (its first `size` bytes, as fstat saw them: the run reads no further):
 * a new input's run starts from its first record with nothing stored, and
 * that is all the pipeline needs to know before its first file. It is
 * settled there (pipeline.h settle, also every 4096 records once the hash
 * is done): the id from the hash, the state log opened, and only if that
 * state is indeed empty the mark made and the run goes on, its files named
 * by the id. Otherwise (a lake from before the marks, a run of the same
 * input beside this one, a file that shrank) nothing was written, and the
 * input starts again the usual way with the hash already made. The lake is
 * the same either way: every decision before the first file is the one a
 * run with an empty state makes. */
struct ahead {
	const struct kl_ingest_opts *o;
	struct kl_store *store;
	struct file_run *f;
	struct kl_errbuf *eb;
	struct kl_checkpoint base; /* the pipeline's checkpoint: f->cp once settled */
	pthread_t thread;
	int started;
	atomic_int quit, hashed; /* quit: the hash stops; hashed: it ended */
	struct kl_cancel cancel; /* the hash's stop: quit */
	const struct kl_cancel *stop; /* the run's (hash_stop): sets quit */
	struct kl_cancel by_fd;
	uint64_t at, at_hash;	 /* the hash of the first `at` bytes (0: shorter now) */
	int hash_rc;
	struct kl_errbuf heb;
	int restart; /* not a new input after all: the usual way */
};

/* The hash's progress hook: a shutdown request stops it too. */
static void ahead_tick(void *ctx, uint64_t done)
{
	(void)done;
	struct ahead *a = ctx;
	if (kl_cancelled(a->stop))
		atomic_store(&a->quit, 1);
}

static void *ahead_hash(void *arg)
{
	struct ahead *a = arg;
	struct kl_input_hash_hooks hooks = {
	    .stop = &a->cancel, .tick = ahead_tick, .ctx = a, .at = &a->at, .nat = 1,
	    .at_hash = &a->at_hash};
	uint64_t total, h;
	a->hash_rc = kl_input_hash_fd(a->f->fd, &total, &h, &hooks, &a->heb);
	atomic_store(&a->hashed, 1);
	return NULL;
}

/* Nothing stored under this id: the state a new input's run starts from. */
static int state_is_new(const struct kl_state *st)
{
	return !st->nparts && !st->resume && !st->window && !st->done && !st->replay.known &&
	       !st->checkpoint[0];
}

static int ahead_settle(void *ctx, int wait)
{
	struct ahead *a = ctx;
	struct file_run *f = a->f;
	if (!wait && !atomic_load(&a->hashed))
		return 1;
	pthread_join(a->thread, NULL);
	a->started = 0;
	if (a->hash_rc)
		return kl_errbuf_set(a->eb, a->hash_rc, "%s", a->heb.msg);
	if (!a->at_hash) /* shorter than when the run began */
		return kl_errbuf_set(a->eb, KL_EIO,
				     "input %s became shorter than its %" PRIu64
				     " bytes while it was read",
				     a->o->input, a->at);
	kl_input_id_hex(a->at_hash, f->id);
	int rc = open_checkpoint(a->o, a->store, &f->cp, f->id, f->size, a->eb);
	if (rc)
		return rc;
	if (!state_is_new(&f->cp.state)) {
		a->restart = 1;
		return kl_errbuf_set(a->eb, KL_ECONFLICT, "the lake has a state for this input");
	}
	/* both before the first file */
	return (rc = put_mark(a->store, f, a->eb)) ? rc : pin_arrival(&f->cp, f->dead_dt, a->eb);
}

/* The checkpoint the pipeline gets: a new input's empty state until
 * settled, then f->cp's (the pipeline calls no other op before). */
static int ahead_load(struct kl_checkpoint *c, struct kl_source *src, uint64_t *resume,
		      kl_checkpoint_part_fn fn, void *ctx)
{
	(void)c, (void)src, (void)fn, (void)ctx;
	*resume = 0;
	return KL_OK;
}

static struct kl_checkpoint *settled_cp(struct kl_checkpoint *c)
{
	return &((struct ahead *)((char *)c - offsetof(struct ahead, base)))->f->cp.base;
}

/* f->cp's op, its error copied into the pipeline's checkpoint */
static int ahead_result(struct kl_checkpoint *c, const struct kl_checkpoint *real, int rc)
{
	if (rc && !c->err.code)
		c->err = real->err;
	return rc;
}

static int ahead_commit(struct kl_checkpoint *c, const struct kl_checkpoint_job *j)
{
	struct kl_checkpoint *real = settled_cp(c);
	return ahead_result(c, real, real->ops->commit(real, j));
}

static int ahead_commit_batch(struct kl_checkpoint *c, const struct kl_checkpoint_job *jobs,
			      size_t n)
{
	struct kl_checkpoint *real = settled_cp(c);
	return ahead_result(c, real, real->ops->commit_batch(real, jobs, n));
}

static int ahead_finish(struct kl_checkpoint *c)
{
	struct kl_checkpoint *real = settled_cp(c);
	return ahead_result(c, real, real->ops->finish(real));
}

static const struct kl_checkpoint_ops ahead_ops = {
    .load = ahead_load,			/* an empty state: resume 0, nothing stored */
    .commit = ahead_commit,		/* f->cp's, once settled */
    .commit_batch = ahead_commit_batch, /* f->cp's (the state log has one) */
    .file = NULL,			/* as f->cp: the log records partitions */
    .finish = ahead_finish,		/* f->cp's */
};

/* The run of a file not hashed yet (f->ahead). Sets f->ahead to 0 when the
 * input turned out not to be new: nothing was written, and the caller
 * goes the usual way (f->id and f->cp are set, the fd's offset at 0). */
static int run_ahead(const struct kl_ingest_opts *o, struct kl_store *store, struct file_run *f,
		     struct kl_ingest_stats *st, struct kl_errbuf *eb)
{
	struct ahead a = {.o = o, .store = store, .f = f, .eb = eb, .at = f->size};
	a.base.ops = &ahead_ops;
	a.cancel = (struct kl_cancel){&a.quit, -1};
	a.stop = hash_stop(o, &a.by_fd);
	if (pthread_create(&a.thread, NULL, ahead_hash, &a))
		return kl_errbuf_set(eb, KL_ENOMEM, "cannot start a thread to hash the input");
	a.started = 1;
	const struct kl_pipeline_parts extra = {.settle = ahead_settle, .settle_ctx = &a};
	/* f->id is filled in when settled, before the first file */
	int rc = run_source(o, store, f, f->id, f->dead_dt, f->size, 0, f->size, &a.base,
			    &f->dedup, &extra, st, eb);
	if (a.started) { /* ended before it settled (stopped, an error): the hash goes */
		atomic_store(&a.quit, 1);
		pthread_join(a.thread, NULL);
	}
	if (rc == KL_EINTR && a.hash_rc == KL_EINTR) { /* stopped before it had a name */
		st->interrupted = 1;
		kl_errbuf_clear(eb);
		return KL_OK;
	}
	if (a.restart) { /* not a new input: nothing written, the usual way from 0 */
		f->ahead = 0;
		kl_errbuf_clear(eb);
		memset(st, 0, sizeof *st);
		kl_dedup_cleanup(&f->dedup);
		if ((rc = kl_dedup_init(&f->dedup, o->dedup_window)))
			return kl_errbuf_set(eb, rc, "cannot allocate a dedup window of %zu events",
					     o->dedup_window);
		if (lseek(f->fd, 0, SEEK_SET) < 0)
			return kl_errbuf_set(eb, KL_EIO, "cannot seek input %s: %s", o->input,
					     strerror(errno));
		return KL_OK;
	}
	return rc;
}

int kl_ingest_run(const struct kl_ingest_opts *o, struct kl_ingest_stats *st, struct kl_errbuf *eb)
{
	struct file_run f;
	memset(&f, 0, sizeof f);
	memset(st, 0, sizeof *st);
	int rc;
	if ((rc = open_input_fd(o, &f, eb)))
		goto out;
	if ((rc = kl_dedup_init(&f.dedup, o->dedup_window))) {
		kl_errbuf_set(eb, rc, "cannot allocate a dedup window of %zu events",
			      o->dedup_window);
		goto out;
	}
	struct kl_store *store = o->store;
	if (!store) {
		if ((rc = kl_store_local_new(&f.store, o->lake, eb)))
			goto out;
		uint64_t swept;
		kl_store_local_sweep(o->lake, &swept);
		store = f.store;
	}
	if (o->format == KL_FORMAT_PARQUET && !(f.registry = kl_schema_registry_new())) {
		rc = kl_errbuf_set(eb, KL_ENOMEM, "out of memory");
		goto out;
	}
	if ((rc = kl_pipeline_encoders_new(o, store, f.registry, &f.data_enc, &f.dead_enc, eb)))
		goto out;
	if ((rc = open_input(o, store, &f, eb))) {
		if (rc == KL_EINTR) { /* stopped before anything was read: a clean stop */
			st->interrupted = 1;
			rc = KL_OK;
			if (o->progress) {
				struct kl_ingest_progress p = {.size = f.size, .final = 1, .hashing = 1};
				o->progress(o->progress_ctx, &p);
			}
		}
		goto out;
	}
	if (f.ahead) {
		rc = run_ahead(o, store, &f, st, eb);
		if (rc || f.ahead) { /* ran (or failed), a new input */
			memcpy(st->input_id, f.id, sizeof f.id);
			if (!rc)
				note_grown(&f, st);
			goto out;
		}
	}
	memcpy(st->input_id, f.id, sizeof f.id);
	if (!f.cp.open && (rc = open_checkpoint(o, store, &f.cp, f.id, f.size, eb)))
		goto out;
	const struct kl_state *state = &f.cp.state;
	/* the mark first (module comment above: before the first file), once */
	if (f.by_content && f.codec == KL_CODEC_NONE && (rc = put_mark(store, &f, eb)))
		goto out;
	if (state->done && state->done_size == f.size && f.size) {
		st->already_done = 1;
		goto out;
	}
	struct kl_ingest_stats earlier; /* finish_earlier's counts, if it ran */
	memset(&earlier, 0, sizeof earlier);
	if (f.cont_size && !state->resume)
		rc = finish_earlier(o, store, &f, &earlier, eb);
	/* what the earlier input stored is not read again; a file named by its
	 * content ends where the hash ended: what is appended meanwhile is
	 * other content, never read under this name */
	int ran = !rc && !earlier.interrupted;
	if (ran)
		rc = run_input(o, store, &f, f.id, f.size, f.cont_size, f.by_content ? f.size : 0,
			       &f.cp, &f.dedup, st, eb);
	kl_ingest_stats_add(st, &earlier);
	st->seconds += earlier.seconds;
	st->interrupted |= earlier.interrupted;
	st->cont_finished = earlier.cont_finished;
	memcpy(st->input_id, f.id, sizeof f.id);
	if (ran)
		note_grown(&f, st);
out:
	st->cont_size = f.cont_size;
	memcpy(st->cont_id, f.cont_id, sizeof f.cont_id);
	if (f.own_fd)
		close(f.fd);
	kl_state_checkpoint_close(&f.cp);
	kl_encoder_free(f.data_enc);
	kl_encoder_free(f.dead_enc);
	kl_store_free(f.store); /* first: a fragment it drops tells the registry */
	kl_schema_registry_free(f.registry);
	kl_dedup_cleanup(&f.dedup);
	return rc;
}
