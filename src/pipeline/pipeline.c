/* pipeline.c — see pipeline.h. */
#include "pipeline/pipeline.h"
#include "buffer/parts.h"
#include "commit/checkpoint.h"
#include "core/cancel.h"
#include "core/clock.h"
#include "deadletter/deadletter.h"
#include "dedup/dedup.h"
#include "encode/encoder.h"
#include "metrics/metrics.h"
#include "pipeline/prep.h"
#include "pipeline/writer.h"
#include "route/partition.h"
#include "source/source.h"
#include "store/store.h"

#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Jobs queued for the writer at most before the reader waits. Every due
 * partition is a job of its own (flush_due), and an hour that closes makes
 * about a hundred of them at once (the production shape): with a queue of
 * 4 the reader waited for all but the last four files of the hour to be
 * encoded, so reading and encoding took turns instead of overlapping (the
 * reader's thread was off the CPU for 4.2 s of a 1M-event run; session 12,
 * bench/README.md). The jobs' buffers are charged to the memory budget from
 * queueing on (writer.h), so it is the budget, not this count, that bounds
 * what waits; the count only bounds the queue's bookkeeping. BATCH_FILES
 * (writer.c) is as many: the writer's next batch is always queued. */
#define WRITER_MAX_JOBS 256
/* Parquet partitions' blocks are sealed as LZ4 blocks (buffer/blocks.h,
 * KL_BLOCK_LEVEL_HELD: ~0.35-0.6 x the CPU, ~1.65 x the memory of zstd level 1) when
 * --memory-limit is at least this; below it the budget binds on the
 * production shape and the memory buys fewer files (bench/README.md,
 * session 10: 16 MiB, 1M events, 2,880 files at level 1, 3,976 fast). */
#define HELD_FAST_MIN_LIMIT ((size_t)128 << 20)

/* Parquet's buffers get three quarters of the budget up to this, half of
 * it from twice this on, and this in between (so a larger limit never
 * gives them less). The rest covers the encoders' work, which the budget
 * does not count and which grows with the files: at the defaults one hour
 * of 1M events (92 files of up to ~21 MB of text) peaked at 351-375 MB of
 * RSS with three quarters (168 MiB) and 245-265 MB with half (112 MiB, 95
 * files instead of 92); six hours of 1M events make the same 552 files
 * either way (bench/README.md, session 14). Small limits keep three
 * quarters: there the budget binds anyway, and a smaller share makes
 * memory decide nearly every flush (at e2e/threads' 12 MiB a restart after
 * kill -9 then cut other files than an uninterrupted run, in 3 of 4 runs). */
#define PQ_BUFFERS_KNEE ((size_t)48 << 20)

/* Everything one run owns; torn down by run_cleanup(). */
struct run {
	const struct kl_ingest_opts *o;
	const struct kl_pipeline_parts *x; /* the borrowed parts */
	struct kl_source *src;
	struct kl_checkpoint *cp;
	struct kl_ingest_stats *st;
	struct kl_errbuf *eb;
	struct kl_parts parts;
	struct kl_event ev;
	struct kl_buf key;
	uint64_t resume;   /* records before it are durable: they only rebuild the dedup window */
	/* exact replay (pipeline.h; a run with its own budget, writer.h
	 * defer_release), the memory picture a commit records (commit/state.h,
	 * struct kl_state_replay) and a restart rebuilds: */
	int exact;
	int bound;	   /* memory decided since the last quiet point */
	size_t charged;	   /* bytes of the jobs queued since the reader last waited */
	uint64_t quiet_pos, quiet_window; /* the last quiet point (nothing held) */
	uint64_t win_now;  /* the dedup window's start before the record applied */
	uint64_t wm_window; /* ... before the record holding the watermark */
	int check_follows; /* the step building a job looks at the budget after it */
	/* a restart's rebuild: records in [resume, rebuild_upto) are read with
	 * stored ones skipped and no decision by memory; at rebuild_upto the
	 * first run's outstanding charge goes back on (end_rebuild) */
	int rebuilding;
	uint64_t rebuild_upto;
	size_t rebuild_charge;
	int rebuild_check;
	int rows;	   /* buffer events as rows (event/row.h): the lake is Parquet */
	uint64_t read_pos; /* where the record after the last one consumed starts */
	struct kl_part **batch;
	size_t nbatch;
	struct kl_writer w;
	int64_t last_progress;
	int64_t t0;
	struct kl_ingest_stats pub; /* what was last added to o->metrics by the reader */
	struct kl_prep_pool pool;   /* o->threads > 1: the prep workers */
	int timeout;		    /* ms a blocking read may wait (-1: forever) */
	int64_t pub_open;	    /* open windows last added to o->metrics */
	uint64_t pub_late;	    /* late events ... */
	int settle_rc;		    /* 1: x->settle still to call; KL_OK or its error */
};

/* What the pure step found out about one record: its reject reason, or
 * its event_uuid and enriched bytes; its partition prefix. */
struct prepared {
	enum kl_reject rej;
	const char *uuid; /* events */
	size_t uuid_len;
	const char *key; /* partition prefix (not for a replayed record) */
	size_t key_len;
	const char *msg; /* dead letters */
	size_t err_offset;
	const char *body; /* the enriched event, or NULL: written from ev at apply time */
	size_t body_len, body_reserve;
	const struct kl_event *ev; /* the serial path's parsed event */
	int64_t sec; /* events: created_at, whole seconds (window mode) */
	int hashed;	    /* uuid_hash is kl_dedup_hash(uuid) (a prep worker or prepare_serial made it) */
	uint64_t uuid_hash;
	int64_t text_adj; /* a prep worker's row: its JSON line's length minus its own */
};

#define ADD(counter, v) atomic_fetch_add_explicit(&(counter), (v), memory_order_relaxed)

/* Reader thread: add what was read since the last call to the metrics. */
static void publish(struct run *r)
{
	struct kl_metrics *m = r->o->metrics;
	/* a run not settled (pipeline.h settle) may end up read again by
	 * another: its counts go out once it is, or never */
	if (!m || r->settle_rc != KL_OK)
		return;
	const struct kl_ingest_stats *st = r->st;
	uint64_t in = r->src->bytes_read;
	ADD(m->records, st->records - r->pub.records);
	ADD(m->duplicates, st->duplicates - r->pub.duplicates);
	ADD(m->replayed, st->replayed - r->pub.replayed);
	ADD(m->bytes_in, in - r->pub.bytes_in);
	if (r->x->shard_metrics) /* a stream's shard: its part of bytes_in */
		ADD(r->x->shard_metrics->bytes, in - r->pub.bytes_in);
	for (int i = 0; i < KL_REJ_COUNT; i++)
		ADD(m->rejected[i], st->dead_by_reason[i] - r->pub.dead_by_reason[i]);
	r->pub.records = st->records;
	r->pub.duplicates = st->duplicates;
	r->pub.replayed = st->replayed;
	r->pub.bytes_in = in;
	memcpy(r->pub.dead_by_reason, st->dead_by_reason, sizeof st->dead_by_reason);
	int64_t open = (int64_t)kl_parts_open(&r->parts);
	ADD(m->open_windows, open - r->pub_open);
	ADD(m->late, r->parts.late - r->pub_late);
	r->pub_open = open;
	r->pub_late = r->parts.late;
	atomic_store_explicit(&m->buffer_bytes, kl_budget_used(r->parts.budget),
			      memory_order_relaxed);
	atomic_store_explicit(&m->buffer_limit, kl_budget_room(r->parts.budget),
			      memory_order_relaxed);
	if (r->x->shard_metrics && r->parts.has_wm)
		atomic_store_explicit(&r->x->shard_metrics->watermark,
				      r->parts.wm_max - r->parts.lateness, memory_order_relaxed);
}

static int is_dup(struct run *r, const struct prepared *pr, uint64_t pos)
{
	const struct kl_pipeline_parts *x = r->x;
	if (!x->dedup)
		return 0;
	if (x->dedup_run)
		return pr->hashed ? kl_dedup_check_run_hash(x->dedup, pr->uuid_hash, x->dedup_input,
							    x->dedup_run)
				  : kl_dedup_check_run(x->dedup, pr->uuid, pr->uuid_len,
						       x->dedup_input, x->dedup_run);
	if (pr->hashed)
		return kl_dedup_check_hash(x->dedup, pr->uuid_hash, pos);
	return kl_dedup_check(x->dedup, pr->uuid, pr->uuid_len, pos);
}

/* --- flushing ------------------------------------------------------------ */

/*
 * Exact replay: where a restart reads again and how it rebuilds the memory
 * picture of this job's build (commit/state.h, the M line). While memory
 * has decided nothing since the last quiet point, the picture is the
 * buffers of the records after each partition's stored position plus the
 * writer's outstanding charge: a restart from the oldest of those records
 * (R, as without exact replay; the window from where the dedup window
 * stood before it) skips the stored ones, decides nothing by memory until
 * it has read what this run had (read_pos), and then puts the charge back
 * on. Once memory has decided (a flush, an early seal), the buffers'
 * shapes depend on it: a restart reads from the quiet point instead and
 * makes every decision again (apply_record keeps stored records then).
 */
static void replay_point(struct run *r, struct kl_writer_job *j)
{
	struct kl_state_replay *m = &j->replay;
	m->known = 1;
	m->quiet = r->quiet_pos;
	m->qwindow = r->quiet_window;
	if (r->bound) {
		j->resume = m->upto = r->quiet_pos;
		j->window = r->quiet_window;
		return;
	}
	j->resume = kl_parts_min_pending(&r->parts, r->read_pos);
	uint64_t w = j->resume;
	for (size_t i = 0; i < r->parts.n; i++) {
		const struct kl_part *p = r->parts.v[i];
		if (p->count && p->first_window < w)
			w = p->first_window;
		if (p->count && r->parts.window && p->first_wm_window < w)
			w = p->first_wm_window;
	}
	if (r->parts.window && r->parts.has_wm && r->wm_window < w)
		w = r->wm_window;
	j->window = w;
	m->upto = r->read_pos;
	m->charge = r->charged + j->bytes;
	m->check = r->check_follows;
}

/* The run's name and checkpoint (pipeline.h settle): KL_OK once settled,
 * 1 when not yet (wait = 0), else the error, in r->eb, for good. */
static int settle(struct run *r, int wait)
{
	if (r->settle_rc <= 0) /* settled, or failed */
		return r->settle_rc;
	int rc = r->x->settle(r->x->settle_ctx, wait);
	if (rc <= 0)
		r->settle_rc = rc;
	return rc;
}

/* Move the batch's buffers into a new job (not queued yet). */
static struct kl_writer_job *job_build(struct run *r)
{
	if (settle(r, 1)) /* no file is named before */
		return NULL;
	struct kl_writer_job *j = calloc(1, sizeof *j);
	if (!j || !(j->items = calloc(r->nbatch, sizeof *j->items))) {
		free(j);
		kl_errbuf_set(r->eb, KL_ENOMEM, "out of memory");
		return NULL;
	}
	struct kl_source *src = r->src;
	for (size_t i = 0; i < r->nbatch; i++) {
		struct kl_part *p = r->batch[i];
		if (p->has_stored && p->last_pos <= p->stored_upto) {
			/* exact replay: every record is in a durable file already.
			 * The job is charged as if it wrote it, so the budget
			 * decides as in the first run; the buffer goes now. */
			struct kl_blocks gone;
			p->named = 0;
			j->bytes += kl_parts_detach(&r->parts, p, &gone);
			kl_blocks_cleanup(&gone);
			continue;
		}
		struct kl_writer_item *it = &j->items[j->n++];
		it->spill.fd = -1;
		it->dead = p->dead;
		it->key = p->key;
		it->key_len = p->key_len;
		it->count = p->count;
		it->first_pos = p->named && p->name_pos < p->first_pos ? p->name_pos : p->first_pos;
		p->named = 0;
		if (!src->ops->pos_name ||
		    src->ops->pos_name(src, it->first_pos, it->stem, sizeof it->stem))
			snprintf(it->stem, sizeof it->stem, "%s-%014" PRIu64, r->x->file_prefix,
				 it->first_pos);
		it->last_pos = p->last_pos;
		it->bytes = kl_parts_detach(&r->parts, p, &it->data);
		j->bytes += it->bytes;
		/* a hundred partitions' files can close at once (an hour): their
		 * schemas are read side by side, ahead of the writer (encoder.h) */
		if (!it->dead && r->x->data_enc->ops->expect)
			r->x->data_enc->ops->expect(r->x->data_enc, it->key, it->key_len);
	}
	r->nbatch = 0;
	if (r->exact) {
		replay_point(r, j);
		return j;
	}
	j->resume = kl_parts_min_pending(&r->parts, r->read_pos);
	/* a partition named by a dropped duplicate has no record yet: a replay
	 * must read that duplicate again to give its next file the same name */
	if (r->cp->name_before_dedup)
		for (size_t i = 0; i < r->parts.n; i++)
			if (r->parts.v[i]->named && r->parts.v[i]->name_pos < j->resume)
				j->resume = r->parts.v[i]->name_pos;
	if (src->ops->checkpoint &&
	    src->ops->checkpoint(src, j->resume, j->checkpoint, sizeof j->checkpoint))
		j->checkpoint[0] = '\0';
	j->window = r->x->dedup ? kl_dedup_oldest_pos(r->x->dedup, j->resume) : j->resume;
	return j;
}

static void publish(struct run *r);

/* Queue a built job; its charge counts until the reader next waits. */
static int queue_job(struct run *r, struct kl_writer_job *j)
{
	r->charged += j->bytes;
	return kl_writer_queue(&r->w, j, WRITER_MAX_JOBS);
}

static int flush_batch(struct run *r)
{
	struct kl_writer_job *j = job_build(r);
	publish(r); /* queueing may wait for the writer: the counters stay current */
	return j ? queue_job(r, j) : r->eb->code;
}

static int batch_add(struct run *r, struct kl_part *p)
{
	for (size_t i = 0; i < r->nbatch; i++)
		if (r->batch[i] == p)
			return KL_OK;
	struct kl_part **b = realloc(r->batch, (r->nbatch + 1) * sizeof *b);
	if (!b)
		return kl_errbuf_set(r->eb, KL_ENOMEM, "out of memory");
	r->batch = b;
	r->batch[r->nbatch++] = p;
	return KL_OK;
}

/* Flush what the policy says is due. `all` at end of input or on stop. */
static int flush_due(struct run *r, int all)
{
	int64_t t = kl_mono_ns();
	struct kl_part *p;
	if (all) {
		for (size_t i = 0; i < r->parts.n; i++)
			if (r->parts.v[i]->count && batch_add(r, r->parts.v[i]))
				return KL_ENOMEM;
		return r->nbatch ? flush_batch(r) : KL_OK;
	}
	while ((p = kl_parts_next_due(&r->parts, t))) {
		int rc = batch_add(r, p);
		if (!rc)
			rc = flush_batch(r);
		if (rc)
			return rc;
	}
	return KL_OK;
}

/* Wait for the writer's memory (writer.h); with defer_release every queued
 * job is done then and its charge given back. */
static void wait_writer(struct run *r)
{
	kl_writer_wait_memory(&r->w, r->parts.budget);
	if (r->w.defer_release)
		r->charged = 0;
}

/* The memory budget binds: flush this run's largest partitions (half of
 * its buffers, buffer/parts.h) as one job, then wait for the writer (its
 * queued buffers count too) rather than grow. */
static int flush_for_memory(struct run *r)
{
	r->bound = 1;
	struct kl_part **pick = malloc((r->parts.n + 1) * sizeof *pick);
	if (!pick)
		return kl_errbuf_set(r->eb, KL_ENOMEM, "out of memory");
	size_t n = kl_parts_pick_for_memory(&r->parts, pick, r->parts.n);
	int rc = KL_OK;
	for (size_t i = 0; i < n && !rc; i++)
		rc = batch_add(r, pick[i]);
	free(pick);
	if (!rc && r->nbatch)
		rc = flush_batch(r);
	if (rc)
		return rc;
	wait_writer(r);
	return KL_OK;
}

/* The budget binds: shed half of this run's buffers if it holds a fair
 * share of them; else wait for this run's writer, then give the other runs
 * (a stream's shards, which shed on their next append or idle poll) up to
 * 20 ms, and go on. A run with its own budget (defer_release) first waits
 * for its writer and takes back what the finished jobs were still charged
 * with (all of it): only if its buffers alone fill the budget then does
 * memory decide (an early seal, a flush; exact replay's `bound`). */
static int flush_for_budget(struct run *r)
{
	int rc;
	if ((rc = flush_due(r, 0)))
		return rc;
	if (r->w.defer_release) {
		wait_writer(r);
		if (!kl_parts_over_budget(&r->parts))
			return KL_OK;
	}
	r->bound = 1;
	if (kl_parts_should_shed(&r->parts))
		return flush_for_memory(r);
	wait_writer(r);
	for (int i = 0; i < 20 && kl_parts_over_budget(&r->parts); i++)
		nanosleep(&(struct timespec){0, 1000000}, NULL);
	return KL_OK;
}

/* --- records ------------------------------------------------------------- */

/* The checkpoint's stored partitions, into the partition table. */
static int preload_part(void *ctx, const char *key, size_t n, uint64_t upto)
{
	struct run *r = ctx;
	struct kl_part *p = kl_parts_get(&r->parts, key, n);
	if (!p)
		return KL_ENOMEM;
	p->stored_upto = upto;
	p->has_stored = 1;
	return KL_OK;
}

/* name_before_dedup: a duplicate still names its partition's next file
 * when it comes before the file's first record. */
static int note_name(struct run *r, const struct prepared *pr, uint64_t pos)
{
	struct kl_part *p = kl_parts_get(&r->parts, pr->key, pr->key_len);
	if (!p)
		return kl_errbuf_set(r->eb, KL_ENOMEM, "out of memory");
	if (p->has_stored && pos <= p->stored_upto)
		return KL_OK; /* within a stored file's range: it names nothing new */
	if (!p->count && !p->named) {
		p->name_pos = pos;
		p->named = 1;
	}
	return KL_OK;
}

/* The source failed with s (< 0): its message into the run's errbuf,
 * KL_EINTR (a stop) as it is; KL_EPARSE is the input's own bytes
 * (st->input_damaged). */
static int source_failed(struct run *r, int s)
{
	if (s == KL_EINTR)
		return s;
	if (s == KL_EPARSE)
		r->st->input_damaged = 1;
	return kl_errbuf_set(r->eb, s, "%s", r->src->err.msg);
}

/* Skip the rest of a record handed out with `more` (not stored this run). */
static int skip_rest(struct run *r)
{
	const char *p;
	size_t n;
	int s;
	while ((s = r->src->ops->rest(r->src, &p, &n)) == 1)
		;
	if (s < 0)
		return source_failed(r, s);
	r->read_pos = kl_source_next_pos(r->src);
	return KL_OK;
}

/*
 * A record over the source's hard cap (`more`): a too_large dead letter
 * that keeps every byte. Its bytes go to a spill file as they are read; the
 * dead letter is a file of its own, named after the record like any file
 * whose first record it is, and the writer streams it from the spill, so
 * memory stays bounded whatever the record's length. The partition's
 * earlier records are flushed first: its files stay in input order.
 */
static int on_long_record(struct run *r, const struct kl_record *rec, struct kl_part *p,
			  const char *source)
{
	int rc;
	r->check_follows = 0; /* this step does not look at the budget after it */
	if (p->count && ((rc = batch_add(r, p)) || (rc = flush_batch(r))))
		return rc;
	struct kl_spill sp = {-1, 0};
	const char *piece;
	size_t n;
	int s = 0;
	rc = kl_spill_open(&sp, r->eb);
	rc = rc ? rc : kl_spill_write(&sp, rec->p, rec->n, r->eb);
	while (!rc && (s = r->src->ops->rest(r->src, &piece, &n)) == 1)
		rc = kl_spill_write(&sp, piece, n, r->eb);
	if (!rc && s < 0)
		rc = source_failed(r, s);
	if (rc) {
		kl_spill_close(&sp);
		return rc;
	}
	r->read_pos = kl_source_next_pos(r->src);
	char msg[160];
	snprintf(msg, sizeof msg, "record of %" PRIu64 " bytes is larger than the %zu-byte limit",
		 sp.len, r->o->limits.max_record_bytes);
	struct kl_deadletter d = {
	    kl_reject_name(KL_REJ_TOO_LARGE), msg, source, rec->pos, 0, NULL, 0, 0};
	if (kl_deadletter_format_head(&p->data, &d)) {
		kl_spill_close(&sp);
		return kl_errbuf_set(r->eb, KL_ENOMEM, "out of memory");
	}
	kl_parts_note_append(&r->parts, p, rec->pos, kl_mono_ns());
	struct kl_writer_job *j = NULL;
	if ((rc = batch_add(r, p)) || !(j = job_build(r))) {
		kl_spill_close(&sp);
		return rc ? rc : r->eb->code;
	}
	if (j->n) /* else stored already (exact replay): dropped */
		j->items[0].spill = sp;
	else
		kl_spill_close(&sp);
	return queue_job(r, j);
}

/*
 * The pure step of one record, in the reader's thread (the serial path):
 * parse + validate, route, and the event's enriched bytes left to the
 * apply step (written straight into the partition buffer). The workers of
 * pipeline/prep.h make the same struct for a chunk of records.
 */
static int prepare_serial(struct run *r, const struct kl_record *rec, struct prepared *pr)
{
	struct kl_event *ev = &r->ev;
	const struct kl_dedup *dd = r->x->dedup;
	const char *guess = NULL;
	size_t guess_n = 0;
	uint64_t guess_h = 0;
	memset(pr, 0, sizeof *pr);
	if (rec->more) { /* over the source's hard cap: its message is made once it is read */
		pr->rej = ev->reject = KL_REJ_TOO_LARGE;
	} else {
		/* the dedup window's index line is a cache miss: asked for with
		 * the event_uuid's likely bytes, it comes in during the parse */
		if (dd && kl_event_peek_uuid(rec->p, rec->n, &guess, &guess_n)) {
			guess_h = kl_dedup_hash(guess, guess_n);
			kl_dedup_prefetch_home(dd, guess_h);
		}
		pr->rej = kl_event_parse(ev, rec->p, rec->n, &r->o->limits);
	}
	pr->ev = ev;
	if (pr->rej == KL_REJ_NONE) {
		pr->uuid = ev->uuid.p;
		pr->uuid_len = ev->uuid.n;
		pr->sec = ev->sec;
		if (dd && ev->uuid.p == guess && ev->uuid.n == guess_n) { /* the same bytes */
			pr->uuid_hash = guess_h;
			pr->hashed = 1;
		} else if (dd) { /* a wrong guess: its line comes in while the event is routed */
			pr->uuid_hash = kl_dedup_hash(ev->uuid.p, ev->uuid.n);
			pr->hashed = 1;
			kl_dedup_prefetch_home(dd, pr->uuid_hash);
		}
	} else {
		pr->msg = ev->msg;
		pr->err_offset = ev->err_offset;
	}
	if (rec->pos < r->resume) /* replayed: no partition needed */
		return KL_OK;
	kl_buf_reset(&r->key);
	if (pr->rej != KL_REJ_NONE) {
		const char *dt = r->x->dead_dt;
		char rec_dt[11];
		if (rec->arrival_ms > 0) { /* the record's own arrival date */
			kl_partition_day(rec->arrival_ms / 1000, rec_dt);
			dt = rec_dt;
		}
		if (kl_partition_error(&r->key, kl_reject_name(pr->rej), dt))
			return kl_errbuf_set(r->eb, KL_ENOMEM, "out of memory");
	} else if (kl_partition_event(&r->key, ev)) {
		return kl_errbuf_set(r->eb, KL_ENOMEM, "out of memory");
	}
	pr->key = r->key.data;
	pr->key_len = r->key.len;
	return KL_OK;
}

/* The event's line into its partition buffer: a row (event/row.h) when
 * the lake is Parquet, else its JSON line. */
static int append_event(struct run *r, struct kl_part *p, const struct kl_record *rec,
			const struct prepared *pr)
{
	if (pr->body) { /* made by a prep worker: the buffer grows as if written here */
		p->text_adj += pr->text_adj;
		return kl_buf_reserve(&p->data, pr->body_reserve) ||
		       kl_buf_append(&p->data, pr->body, pr->body_len);
	}
	if (!r->rows)
		return kl_event_write_json(pr->ev, rec->p, rec->n, &p->data);
	size_t at = p->data.len;
	uint64_t json_len;
	int rc = kl_event_write_row(pr->ev, rec->p, rec->n, &p->data, &json_len);
	if (!rc)
		p->text_adj += (int64_t)json_len - (int64_t)(p->data.len - at);
	return rc;
}

static int flush_for_budget(struct run *r);

/* The look at the budget after a record (apply_record; end_rebuild for the
 * first run's look after the job it rebuilt): if it binds on exact sizes,
 * flush_for_budget. A table holding blocks raw (buffer/parts.h
 * kl_parts_hold_raw) first takes back the writer's outstanding charge
 * (wait_writer) when the table, counted as if every block were held, fits
 * the budget alone but not beside that charge — figures of the records
 * alone, so the wait falls where it fell in the first run — so that held
 * blocks are sealed when the table's own text fills the budget, not while
 * an hour's closed files are still charged (each new block would be sealed
 * at once then). A wait decides nothing: memory decides only on the
 * table's own exact sizes once the writer's charge is back
 * (flush_for_budget). */
static int check_budget(struct run *r)
{
	if (r->charged && kl_parts_held_waits(&r->parts))
		wait_writer(r);
	if (!kl_parts_over_budget(&r->parts))
		return KL_OK;
	publish(r);
	return flush_for_budget(r);
}

/* A restart has read again what the first run had read when it built the
 * last job the log records: the buffers are that run's, its outstanding
 * charge goes back on (given back at the next wait, as the run's was), and
 * the budget is looked at if the run did so after that job. From here
 * every decision is the first run's. */
static int end_rebuild(struct run *r)
{
	r->rebuilding = 0;
	kl_writer_charge(&r->w, r->rebuild_charge);
	r->charged += r->rebuild_charge;
	return r->rebuild_check ? check_budget(r) : KL_OK;
}

/*
 * The apply step of one record: every decision that shapes the lake
 * (replay, dedup, partition buffer, flushes) in input order, one record at
 * a time, in the reader's thread, whichever thread prepared the record.
 */
static int apply_record(struct run *r, const struct kl_record *rec, const struct prepared *pr)
{
	int replay_only = rec->pos < r->resume;
	enum kl_reject rej = pr->rej;
	int rc;
	if (r->exact) {
		if (r->rebuilding && !replay_only && rec->pos >= r->rebuild_upto &&
		    (rc = end_rebuild(r)))
			return rc;
		r->win_now = r->x->dedup ? kl_dedup_oldest_pos(r->x->dedup, rec->pos) : rec->pos;
		r->check_follows = 1;
		if (!replay_only && !r->rebuilding && !kl_budget_used(r->parts.budget)) {
			/* nothing buffered or charged: a restart from here starts
			 * as this run stands now, its dedup window and watermark
			 * rebuilt from before; memory has decided nothing since */
			uint64_t wm = kl_parts_min_pending(&r->parts, rec->pos);
			r->quiet_pos = rec->pos;
			r->quiet_window = r->win_now < wm ? r->win_now : wm;
			r->bound = 0;
		}
	}
	/* window mode: every valid event moves the watermark, in input order,
	 * durable or not, so that a restart rebuilds it (buffer/parts.h) */
	if (rej == KL_REJ_NONE && kl_parts_note_time(&r->parts, pr->sec, rec->pos)) {
		int frc = flush_due(r, 0);
		if (frc)
			return frc;
	}
	if (r->parts.has_wm && r->parts.wm_pos == rec->pos)
		r->wm_window = r->win_now;
	if (replay_only) {
		if (rec->more)
			return skip_rest(r);
		/* already durable: only rebuild the dedup window */
		if (rej == KL_REJ_NONE)
			is_dup(r, pr, rec->pos);
		return KL_OK;
	}
	r->st->records++;
	if (rej == KL_REJ_NONE && is_dup(r, pr, rec->pos)) {
		r->st->duplicates++;
		return r->cp->name_before_dedup ? note_name(r, pr, rec->pos) : KL_OK;
	}
	struct kl_part *p = kl_parts_get(&r->parts, pr->key, pr->key_len);
	if (!p)
		return kl_errbuf_set(r->eb, KL_ENOMEM, "out of memory");
	int stored = p->has_stored && rec->pos <= p->stored_upto;
	if (stored) {
		r->st->replayed++;
		if (!r->exact || r->rebuilding)
			return rec->more ? skip_rest(r) : KL_OK;
		/* exact replay: buffered again and decided on as in the first run,
		 * whose files hold it — job_build drops a buffer of such records
		 * unwritten, charged like a written one until the next wait */
	} else if (p->count && p->has_stored && p->last_pos <= p->stored_upto) {
		/* the first record past what is stored, and the buffer still holds
		 * stored ones: the first run flushed them before here (or cut
		 * elsewhere, in a run this replay does not reproduce), so they go
		 * alone — no file ever mixes stored records with new ones */
		if ((rc = batch_add(r, p)) || (rc = flush_batch(r)))
			return rc;
	}
	p->dead = rej != KL_REJ_NONE;
	p->hour = rej != KL_REJ_NONE ? -1 : pr->sec / 3600; /* the key's hr= */
	if (rej != KL_REJ_NONE) {
		if (!stored)
			r->st->dead_by_reason[rej]++;
		char origin[768];
		const char *source = r->x->source_name;
		if (r->src->ops->origin &&
		    !r->src->ops->origin(r->src, rec->pos, origin, sizeof origin))
			source = origin;
		if (rec->more)
			return on_long_record(r, rec, p, source);
		struct kl_deadletter d = {kl_reject_name(rej), pr->msg, source, rec->pos,
					  pr->err_offset,      rec->p,	rec->n, rec->full_len};
		rc = kl_deadletter_format(&p->data, &d);
	} else {
		rc = append_event(r, p, rec, pr);
	}
	if (!rc)
		rc = kl_buf_putc(&p->data, '\n');
	if (rc)
		return kl_errbuf_set(r->eb, KL_ENOMEM, "out of memory buffering a record");
	if (!p->count) { /* where a restart must read from to rebuild it (replay_point) */
		p->first_window = r->win_now;
		p->first_wm_window = r->wm_window;
	}
	kl_parts_note_append(&r->parts, p, rec->pos, p->count ? 0 : kl_mono_ns());
	if (kl_parts_full(&r->parts, p)) {
		if ((rc = batch_add(r, p)) || (rc = flush_batch(r)))
			return rc;
	}
	return r->rebuilding ? KL_OK : check_budget(r);
}

static int on_record(struct run *r, const struct kl_record *rec)
{
	struct prepared pr;
	int rc = prepare_serial(r, rec, &pr);
	return rc ? rc : apply_record(r, rec, &pr);
}

static void progress(struct run *r, int final)
{
	if (!r->o->progress)
		return;
	int64_t t = kl_mono_ns();
	if (!final && t - r->last_progress < 200000000)
		return;
	r->last_progress = t;
	/* a compressed input's size is the file's: count its bytes read */
	struct kl_ingest_progress p = {.pos = r->src->codec ? r->src->bytes_read : r->read_pos,
				       .size = r->x->input_size,
				       .records = r->st->records,
				       .seconds = (double)(t - r->t0) / 1e9,
				       .final = final};
	r->o->progress(r->o->progress_ctx, &p);
}

static int stop_requested(int fd)
{
	if (fd < 0)
		return 0;
	struct pollfd p = {.fd = fd, .events = POLLIN};
	return poll(&p, 1, 0) > 0 && (p.revents & POLLIN);
}

/* End of input or stop: flush everything, wait for the writer, finish. */
static int finish_run(struct run *r)
{
	int rc;
	if (r->rebuilding && !r->st->interrupted && (rc = end_rebuild(r)))
		return rc;
	r->check_follows = 0;
	if ((rc = flush_due(r, 1)))
		return rc;
	if ((rc = kl_writer_join(&r->w)))
		return rc;
	publish(r); /* the buffers' gauge, now that the writer gave their memory back */
	if (!r->st->interrupted && (rc = settle(r, 1)))
		return rc;
	if (!r->st->interrupted && (rc = r->cp->ops->finish(r->cp)))
		return kl_errbuf_set(r->eb, rc, "%s", r->cp->err.msg);
	progress(r, 1);
	return KL_OK;
}

static int run_loop(struct run *r)
{
	const struct kl_ingest_opts *o = r->o;
	struct kl_record rec = {0}; /* fields a source does not set stay 0 */
	uint64_t n = 0;
	int rc;
	int timeout = -1;
	for (;;) {
		if (kl_cancelled(o->stop)) { /* one load per record: stop reading at once */
			r->st->interrupted = 1;
			publish(r);
			break;
		}
		rec.more = 0;
		int s = kl_source_next(r->src, &rec, timeout);
		if (s == KL_SRC_EOF)
			break;
		if (s == KL_EINTR) {
			r->st->interrupted = 1;
			break;
		}
		if (s < 0)
			return source_failed(r, s);
		if (s == KL_SRC_RECORD) {
			if (timeout < 0) /* something is buffered now: wake up for its age */
				timeout = (int)(o->flush_interval_ms < 60000 ? o->flush_interval_ms
									     : 60000) +
					  1;
			/* a long record's rest is not read yet: it counts once it is */
			r->read_pos = rec.more ? rec.pos : kl_source_next_pos(r->src);
			rc = on_record(r, &rec);
			if (rc == KL_EINTR) { /* stopped inside a long record */
				r->st->interrupted = 1;
				break;
			}
			if (rc)
				return rc;
		}
		if (s == KL_SRC_IDLE || (++n & 4095) == 0) {
			r->check_follows = 0; /* no look at the budget follows these */
			if ((rc = flush_due(r, 0)))
				return rc;
			if (settle(r, 0) < 0) /* settled early when it can be */
				return r->settle_rc;
			/* a shared budget binds: shed here too, also while idle */
			if (!r->w.defer_release && kl_parts_should_shed(&r->parts) &&
			    (rc = flush_for_memory(r)))
				return rc;
			progress(r, 0);
			publish(r);
			if (stop_requested(o->stop_fd)) {
				r->st->interrupted = 1;
				break;
			}
			/* how long a blocking read may wait before a buffer is due */
			timeout = kl_parts_ms_until_due(&r->parts, kl_mono_ns());
		}
	}
	return finish_run(r);
}

/* --- the parallel read loop (o->threads > 1) ------------------------------ */

/* Something is buffered now: a blocking read wakes up for its age. */
static void arm_timeout(struct run *r)
{
	if (r->timeout < 0)
		r->timeout = (int)(r->o->flush_interval_ms < 60000 ? r->o->flush_interval_ms
								 : 60000) +
			     1;
}

/* Between records, every 4096 records, as the serial loop does: the flush
 * policy's age check, progress, metrics and the stop check. 1 = stop. */
static int periodic(struct run *r, int *rc)
{
	r->check_follows = 0; /* no look at the budget follows these flushes */
	if ((*rc = flush_due(r, 0)))
		return 1;
	if (settle(r, 0) < 0) { /* settled early when it can be: an error ends the run */
		*rc = r->settle_rc;
		return 1;
	}
	progress(r, 0);
	publish(r);
	if (stop_requested(r->o->stop_fd)) {
		r->st->interrupted = 1;
		return 1;
	}
	/* how long a blocking read may wait before a buffer is due */
	r->timeout = kl_parts_ms_until_due(&r->parts, kl_mono_ns());
	return 0;
}

/* How many records ahead apply_chunk() asks for the dedup window's index
 * lines, and then for the ring entries they point to. */
#define DEDUP_FAR 16
#define DEDUP_NEAR 8

/* Apply a prepared chunk, record by record, in order. 1 = stop reading. */
static int apply_chunk(struct run *r, const struct kl_prep_chunk *c, uint64_t *n, int *rc)
{
	if ((*rc = c->rc))
		return kl_errbuf_set(r->eb, c->rc, "out of memory preparing records"), 1;
	arm_timeout(r);
	struct kl_record rec = {0};
	const struct kl_dedup *dd = r->x->dedup && !r->x->dedup_run ? r->x->dedup : NULL;
	for (size_t i = 0; i < c->n; i++) {
		if (kl_cancelled(r->o->stop)) { /* as the serial loop: not one record more */
			r->st->interrupted = 1;
			publish(r);
			return 1;
		}
		const struct kl_prep_rec *v = &c->v[i];
		const char *out = c->out.data ? c->out.data : ""; /* as kl_prep_raw */
		rec.p = kl_prep_raw(c, v);
		rec.n = rec.full_len = v->raw_len;
		rec.pos = v->pos;
		rec.arrival_ms = v->arrival_ms;
		struct prepared pr = {v->rej,	       out + v->uuid_off, v->uuid_len,
				      out + v->key_off, v->key_len,	  out + v->msg_off,
				      v->err_offset,   out + v->body_off, v->body_len,
				      v->body_reserve, NULL,		  v->sec,
				      v->rej == KL_REJ_NONE, v->uuid_hash, v->text_adj};
		r->read_pos = v->next_pos;
		if (dd) { /* the dedup window's cache misses, overlapped (a hint only) */
			if (i + DEDUP_FAR < c->n && c->v[i + DEDUP_FAR].rej == KL_REJ_NONE)
				kl_dedup_prefetch(dd, c->v[i + DEDUP_FAR].uuid_hash, DEDUP_FAR, 0);
			if (i + DEDUP_NEAR < c->n && c->v[i + DEDUP_NEAR].rej == KL_REJ_NONE)
				kl_dedup_prefetch(dd, c->v[i + DEDUP_NEAR].uuid_hash, DEDUP_NEAR, 1);
		}
		if ((*rc = apply_record(r, &rec, &pr)))
			return 1;
		if ((++*n & 4095) == 0 && periodic(r, rc))
			return 1;
	}
	return 0;
}

/* Apply every chunk in flight (wait for them). 1 = stop reading. */
static int drain(struct run *r, uint64_t *n, int *rc)
{
	const struct kl_prep_chunk *c;
	while ((c = kl_prep_pool_oldest(&r->pool, 1))) {
		int stop = apply_chunk(r, c, n, rc);
		kl_prep_pool_release(&r->pool);
		if (stop)
			return 1;
	}
	return 0;
}

/*
 * The reader copies records into chunks for the prep workers and applies
 * finished chunks in input order: apply_record() sees the same records in
 * the same order as in the serial loop, with the same periodic checks at
 * the same record counts, so the lake is the same. A record with `more`
 * (its rest still in the source) waits until everything before it is
 * applied, then goes through the serial path. The reader never blocks on
 * the source while it holds records: it applies them first.
 */
static int run_loop_par(struct run *r)
{
	struct kl_record rec = {0};
	uint64_t n = 0;
	int rc = KL_OK, s, stop = 0;
	while (!stop) {
		struct kl_prep_chunk *c;
		/* apply what is done; make room for the next chunk */
		while (!stop && ((c = kl_prep_pool_oldest(&r->pool, 0)) ||
				 (kl_prep_pool_inflight(&r->pool) == r->pool.nring &&
				  (c = kl_prep_pool_oldest(&r->pool, 1))))) {
			stop = apply_chunk(r, c, &n, &rc);
			kl_prep_pool_release(&r->pool);
		}
		if (stop)
			break;
		c = kl_prep_pool_fill(&r->pool);
		do {
			rec.more = 0;
			if (kl_cancelled(r->o->stop)) { /* stop reading at once */
				s = KL_EINTR;
				break;
			}
			int t = c->n || kl_prep_pool_inflight(&r->pool) ? 0 : r->timeout;
			s = kl_source_next(r->src, &rec, t);
			if (s != KL_SRC_RECORD || rec.more)
				break;
			if (kl_prep_chunk_add(c, rec.p, rec.n, rec.pos, kl_source_next_pos(r->src),
					      rec.arrival_ms))
				rc = kl_errbuf_set(r->eb, KL_ENOMEM, "a record does not fit a chunk");
		} while (!rc && !kl_prep_chunk_full(c));
		if (c->n)
			kl_prep_pool_submit(&r->pool);
		if (rc)
			break;
		if (s == KL_SRC_RECORD && !rec.more)
			continue; /* the chunk is full */
		if (s < 0 && s != KL_EINTR)
			return source_failed(r, s);
		if (s == KL_SRC_IDLE && kl_prep_pool_inflight(&r->pool)) {
			/* nothing more yet: apply the oldest chunk while waiting */
			c = kl_prep_pool_oldest(&r->pool, 1);
			stop = apply_chunk(r, c, &n, &rc);
			kl_prep_pool_release(&r->pool);
			continue;
		}
		if ((stop = drain(r, &n, &rc)))
			break;
		if (s == KL_SRC_EOF)
			break;
		if (s == KL_EINTR) {
			r->st->interrupted = 1;
			break;
		}
		if (s == KL_SRC_RECORD) { /* a long record, after everything before it */
			arm_timeout(r);
			r->read_pos = rec.pos;
			rc = on_record(r, &rec);
			if (rc == KL_EINTR) {
				r->st->interrupted = 1;
				rc = KL_OK;
				break;
			}
			if (rc)
				break;
		}
		if (s == KL_SRC_IDLE || (++n & 4095) == 0)
			stop = periodic(r, &rc);
	}
	return rc ? rc : finish_run(r);
}

size_t kl_pipeline_buffer_budget(const struct kl_ingest_opts *o)
{
	/* --memory-limit covers the partition buffers (compressed blocks plus
	 * raw tails, buffer/parts.h) plus the fixed costs: the dedup window (24
	 * bytes per slot), the reader's window, and for Parquet the encoders'
	 * work: a file's text unpacked whole up to a sixteenth of the limit
	 * (larger ones are read block by block, encode/encoder.h), the pages
	 * of the row group being made and the bodies waiting for the writer.
	 * The buffers get at least a quarter of the limit, also when the fixed
	 * costs take (nearly) all of it: the budget never shrinks as the limit
	 * grows. (It once did: a limit just above the fixed costs left the
	 * buffers a sliver, e.g. 0.9 MB of 32 MiB with the 1M-event window
	 * against 4.5 MB of 24 MiB, and 552 partitions made 67,225 files.) */
	size_t fixed = o->dedup_window * 24 + (8u << 20);
	size_t least = o->memory_limit / 4;
	size_t budget = o->memory_limit > fixed && o->memory_limit - fixed > least
				? o->memory_limit - fixed
				: least;
	if (o->format == KL_FORMAT_PARQUET) {
		size_t most = budget - budget / 4, half = budget / 2;
		budget = most < PQ_BUFFERS_KNEE	 ? most
			 : half > PQ_BUFFERS_KNEE ? half
						  : PQ_BUFFERS_KNEE;
	}
	return budget;
}

int kl_pipeline_encoders_new(const struct kl_ingest_opts *o, struct kl_store *store,
			     struct kl_schema_registry *registry, struct kl_encoder **data_enc,
			     struct kl_encoder **dead_enc, struct kl_errbuf *eb)
{
	/* Parquet: a file over a sixteenth of --memory-limit (at most
	 * KL_PQ_STREAM_BYTES) is encoded from its blocks, not unpacked whole
	 * (encode/encoder.h), so a small limit is not exceeded by a file's
	 * text on each encoder thread; the bytes are the same either way */
	size_t stream = o->memory_limit / 16;
	if (stream > KL_PQ_STREAM_BYTES || stream == 0)
		stream = KL_PQ_STREAM_BYTES;
	struct kl_encoder_opts eo = {o->compression, o->level, o->row_group_bytes, stream,
				     o->max_columns};
	/* dead letters are JSON lines: with snappy (Parquet only) they take zstd */
	struct kl_encoder_opts dead_eo = eo;
	if (dead_eo.compression == KL_COMP_SNAPPY)
		dead_eo.compression = KL_COMP_ZSTD;
	*dead_enc = kl_encoder_jsonl_new(&dead_eo);
	*data_enc = o->format == KL_FORMAT_PARQUET ? kl_encoder_parquet_new(&eo, store, registry)
						   : kl_encoder_jsonl_new(&eo);
	if (*dead_enc && *data_enc)
		return KL_OK;
	kl_encoder_free(*dead_enc);
	kl_encoder_free(*data_enc);
	*dead_enc = *data_enc = NULL;
	return kl_errbuf_set(eb, KL_ENOMEM, "cannot create the %s encoder",
			     o->format == KL_FORMAT_PARQUET ? "parquet" : "jsonl");
}

int kl_pipeline_run(const struct kl_ingest_opts *o, const struct kl_pipeline_parts *x,
		    struct kl_ingest_stats *st, struct kl_errbuf *eb)
{
	struct run r;
	memset(&r, 0, sizeof r);
	memset(st, 0, sizeof *st);
	r.o = o;
	r.x = x;
	r.src = x->source;
	r.cp = x->checkpoint;
	r.st = st;
	r.eb = eb;
	r.t0 = kl_mono_ns();
	r.settle_rc = x->settle ? 1 : KL_OK;
	/* a store or source may outlive the run (a warm Lambda keeps its store):
	 * the run's bytes are what it adds to their counters */
	const uint64_t in0 = x->source->bytes_read, out0 = x->store->bytes_committed;
	r.pub.bytes_in = in0;
	kl_event_init(&r.ev);
	kl_buf_init(&r.key, 0);
	kl_parts_init(&r.parts, o->max_file_bytes, kl_pipeline_buffer_budget(o),
		      o->flush_interval_ms * 1000000);
	kl_parts_share_budget(&r.parts, x->budget);
	if (o->window == KL_WINDOW_HOUR)
		kl_parts_set_window(&r.parts, o->allowed_lateness_ms / 1000);
	/* Parquet: the encoder unpacks the blocks, no file is made of them, so
	 * they hold rows, not JSON lines */
	r.rows = o->format == KL_FORMAT_PARQUET;
	if (o->format == KL_FORMAT_PARQUET && o->memory_limit >= HELD_FAST_MIN_LIMIT)
		kl_parts_set_held_level(&r.parts, KL_BLOCK_LEVEL_HELD);
	/* ... and held raw until a decision needs them sealed (buffer/parts.h;
	 * on a stream's shared budget, while it is at most 3/4 full) */
	if (o->format == KL_FORMAT_PARQUET)
		kl_parts_hold_raw(&r.parts);
	/* JSON lines: the blocks' frames are the files, larger ones cost less */
	if (o->format == KL_FORMAT_JSONL)
		kl_parts_set_block_bytes(&r.parts, KL_BLOCK_BYTES_FRAMES);
	kl_writer_init(&r.w, x->store, x->data_enc, x->dead_enc, r.cp, st, o->metrics, eb);
	r.w.budget = r.parts.budget;
	r.w.unpack_pool = x->unpack_pool;
	r.w.defer_release = !x->budget; /* the run's own budget: decisions by memory
					 * are a function of the input (writer.h) */
	/* ... so a restart can make them again: exact replay (apply_record) */
	r.exact = r.w.defer_release && !r.cp->name_before_dedup;
	int rc = r.cp->ops->load(r.cp, r.src, &r.resume, preload_part, &r);
	if (!rc && r.exact) {
		const struct kl_state_replay *m = &r.cp->replay;
		/* without an M line (a first run, an older log): every record
		 * from R on is decided again, stored ones kept and dropped */
		r.quiet_pos = m->known ? m->quiet : r.resume;
		r.quiet_window = m->known ? m->qwindow : r.cp->window;
		r.rebuilding = m->known;
		r.rebuild_upto = m->known ? m->upto : r.resume;
		r.rebuild_charge = m->known ? m->charge : 0;
		r.rebuild_check = m->known && m->check;
	}
	if (rc)
		kl_errbuf_set(eb, rc, "%s", r.cp->err.msg);
	if (!rc && o->threads > 1)
		rc = kl_writer_parallel(&r.w, o->threads);
	if (!rc && o->threads > 1) /* full tails are compressed off this thread */
		rc = kl_parts_seal_async(&r.parts, o->threads, eb);
	/* reading starts where the source was opened: at the dedup window's
	 * start for a file (commit/state.h), at 0 for a stream */
	r.read_pos = kl_source_next_pos(r.src);
	r.timeout = -1;
	int par = o->threads > 1;
	if (!rc && par) {
		/* a record the source hands out whole can be this long */
		rc = kl_prep_pool_init(&r.pool, o->threads,
				       kl_source_fd_cap(o->limits.max_record_bytes), &o->limits,
				       x->dead_dt, r.resume, eb);
		if (!rc && r.rows)
			kl_prep_pool_rows(&r.pool);
		rc = rc ? rc : kl_prep_pool_start(&r.pool, eb);
	}
	if (!rc)
		rc = kl_writer_start(&r.w);
	if (!rc)
		rc = par ? run_loop_par(&r) : run_loop(&r);
	if (par)
		kl_prep_pool_cleanup(&r.pool);
	if (kl_writer_join(&r.w) && !rc)
		rc = eb->code ? eb->code : KL_EIO;
	publish(&r);
	if (o->metrics) /* what is left unflushed (an error) is no longer open */
		ADD(o->metrics->open_windows, -r.pub_open);
	st->bytes_in = r.src->bytes_read - in0;
	st->bytes_out = x->store->bytes_committed - out0;
	st->seconds = (double)(kl_mono_ns() - r.t0) / 1e9;
	kl_writer_cleanup(&r.w);
	kl_parts_cleanup(&r.parts);
	kl_event_cleanup(&r.ev);
	kl_buf_cleanup(&r.key);
	free(r.batch);
	return rc;
}
