/* ingest.c — see ingest.h. */
#include "pipeline/ingest.h"
#include "core/clock.h"
#include "buffer/parts.h"
#include "commit/state.h"
#include "deadletter/deadletter.h"
#include "dedup/dedup.h"
#include "metrics/metrics.h"
#include "encode/encoder.h"
#include "encode/parquet/schema.h"
#include "route/partition.h"
#include "source/source.h"
#include "store/store.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

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
	o->dedup_window = 1000000;
	o->stop_fd = -1;
	o->row_group_bytes = 128u << 20;
	kl_event_limits_default(&o->limits);
}

struct kl_encoder *kl_encoder_parquet_new(const struct kl_ingest_opts *o, struct kl_store *store,
					  struct kl_schema_registry *registry);

/*
 * The writer thread: encode -> store -> commit run here, in submission order,
 * while the main thread keeps parsing. A job is a set of partition buffers
 * moved out of the table, plus the progress (resume, window) that becomes
 * true once they are durable. Jobs are FIFO, so a job's progress never
 * claims records of a later job (see commit/state.h). The writer owns the
 * store, the encoders and the state from start to join.
 */
struct job_item {
	char stem[320];  /* file name without extension, decided by the main thread */
	const char *key; /* owned by the partition table, stable */
	size_t key_len;
	struct kl_buf data;
	uint64_t count, first_pos, last_pos;
	int durable; /* committed and synced (for o->on_file) */
};

struct job {
	struct job_item *items;
	size_t n;
	uint64_t resume, window;
	char checkpoint[160]; /* source resume point, "" if the source has none */
	size_t bytes;
	struct job *next;
};

struct writer {
	pthread_t thread;
	int started;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct job *head, *tail;
	size_t queued;   /* jobs not finished */
	size_t inflight; /* bytes held by unfinished jobs */
	int stop;
	int failed;      /* first error is in run->eb */
};

#define WRITER_MAX_JOBS 4

/* Everything one run owns; torn down by run_cleanup(). */
struct run {
	const struct kl_ingest_opts *o;
	struct kl_ingest_stats *st;
	struct kl_errbuf *eb;
	struct kl_source *src;
	struct kl_store *store;
	struct kl_encoder *data_enc, *dead_enc;
	struct kl_state state;
	int state_open;
	struct kl_parts parts;
	struct kl_dedup dedup;
	struct kl_event ev;
	struct kl_buf key, name;
	char id[17];
	const char *source_name;
	char dead_dt[11];
	uint64_t input_size; /* 0 = unknown */
	uint64_t read_pos;   /* position after the last record consumed */
	struct kl_part **batch;
	size_t nbatch;
	struct writer w;
	int64_t last_progress;
	int64_t t0;
	/* what was last added to o->metrics: reader side, writer side */
	struct kl_ingest_stats pub;
	uint64_t out_published;
	struct kl_schema_registry *registry, *own_registry;
};

#define ADD(counter, v) atomic_fetch_add_explicit(&(counter), (v), memory_order_relaxed)

/* Reader thread: add what was read since the last call to the metrics. */
static void publish(struct run *r)
{
	struct kl_metrics *m = r->o->metrics;
	if (!m)
		return;
	const struct kl_ingest_stats *st = r->st;
	uint64_t in = r->src ? r->src->bytes_read : 0;
	ADD(m->records, st->records - r->pub.records);
	ADD(m->duplicates, st->duplicates - r->pub.duplicates);
	ADD(m->replayed, st->replayed - r->pub.replayed);
	ADD(m->bytes_in, in - r->pub.bytes_in);
	for (int i = 0; i < KL_REJ_COUNT; i++)
		ADD(m->rejected[i], st->dead_by_reason[i] - r->pub.dead_by_reason[i]);
	r->pub.records = st->records;
	r->pub.duplicates = st->duplicates;
	r->pub.replayed = st->replayed;
	r->pub.bytes_in = in;
	memcpy(r->pub.dead_by_reason, st->dead_by_reason, sizeof st->dead_by_reason);
}

/* --- input identity ------------------------------------------------------ */

static int hash_file(int fd, uint64_t *size, uint64_t *h, struct kl_errbuf *eb)
{
	XXH3_state_t *x = XXH3_createState();
	char *buf = malloc(1 << 20);
	int rc = KL_OK;
	if (!x || !buf) {
		rc = kl_errbuf_set(eb, KL_ENOMEM, "out of memory");
		goto out;
	}
	XXH3_64bits_reset(x);
	uint64_t total = 0;
	for (;;) {
		ssize_t n = pread(fd, buf, 1 << 20, (off_t)total);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = kl_errbuf_set(eb, KL_EIO, "read input: %s", strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		XXH3_64bits_update(x, buf, (size_t)n);
		total += (uint64_t)n;
	}
	*size = total;
	*h = XXH3_64bits_digest(x);
out:
	XXH3_freeState(x);
	free(buf);
	return rc;
}

static int open_input(struct run *r, uint64_t *start)
{
	const struct kl_ingest_opts *o = r->o;
	int fd = 0, own = 0;
	struct stat sb;
	time_t arrival = time(NULL);
	uint64_t h = 0;
	if (strcmp(o->input, "-") != 0) {
		fd = open(o->input, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return kl_errbuf_set(r->eb, KL_EIO, "cannot open input %s: %s", o->input,
					     strerror(errno));
		own = 1;
		r->source_name = o->input;
	} else {
		r->source_name = "stdin";
	}
	if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode)) {
		arrival = sb.st_mtime;
		if (!o->input_id) {
			int rc = hash_file(fd, &r->input_size, &h, r->eb);
			if (rc) {
				if (own)
					close(fd);
				return rc;
			}
		} else {
			r->input_size = (uint64_t)sb.st_size;
		}
	} else if (!o->input_id) {
		/* a pipe has no identity: a fresh id per run, so nothing is overwritten */
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		char seed[64];
		int n = snprintf(seed, sizeof seed, "stdin-%lld-%09ld-%ld", (long long)ts.tv_sec,
				 ts.tv_nsec, (long)getpid());
		h = XXH3_64bits(seed, (size_t)n);
	}
	if (o->input_id)
		h = XXH3_64bits(o->input_id, strlen(o->input_id));
	snprintf(r->id, sizeof r->id, "%016" PRIx64, h);
	memcpy(r->st->input_id, r->id, sizeof r->id);
	kl_partition_day(arrival, r->dead_dt);

	/* the state log: an appended file in a local lake, else one object in
	 * the caller's store (an S3 lake), as stream mode keeps it */
	if (o->store ? kl_state_open_store(&r->state, r->store, r->id)
		     : kl_state_open(&r->state, o->lake, r->id)) {
		if (own)
			close(fd);
		return kl_errbuf_set(r->eb, r->state.err.code, "%s", r->state.err.msg);
	}
	r->state_open = 1;
	if (r->state.done && r->state.done_size == r->input_size && r->input_size) {
		r->st->already_done = 1;
		if (own)
			close(fd);
		return KL_OK;
	}
	*start = r->state.window < r->state.resume ? r->state.window : r->state.resume;
	size_t cap = o->limits.max_record_bytes * 2;
	if (cap < (64u << 20))
		cap = 64u << 20;
	r->src = kl_source_fd_new(fd, own, *start, cap, o->stop_fd);
	if (!r->src) {
		if (own)
			close(fd);
		return kl_errbuf_set(r->eb, KL_ENOMEM, "out of memory");
	}
	return KL_OK;
}

/* Stream mode: the source and store are given; positions are this run's. */
static int open_stream(struct run *r)
{
	const struct kl_ingest_opts *o = r->o;
	r->src = o->source;
	r->source_name = o->input;
	snprintf(r->id, sizeof r->id, "%016" PRIx64,
		 XXH3_64bits(o->input_id, strlen(o->input_id)));
	memcpy(r->st->input_id, r->id, sizeof r->id);
	kl_partition_day(time(NULL), r->dead_dt);
	if (o->no_state)
		return KL_OK;
	int rc = kl_state_open_store(&r->state, r->store, o->input_id);
	if (rc)
		return kl_errbuf_set(r->eb, rc, "%s", r->state.err.msg);
	r->state_open = 1;
	if (r->src->ops->resume && r->state.checkpoint[0])
		r->src->ops->resume(r->src, r->state.checkpoint);
	/* positions restart at 0: nothing from an earlier run is comparable */
	r->state.resume = r->state.window = 0;
	return KL_OK;
}

/* --- flushing ------------------------------------------------------------ */

static int write_item(struct run *r, const struct job_item *it)
{
	int dead = it->key[0] == 'e' && it->key[1] == 'r';
	struct kl_encoder *enc = dead ? r->dead_enc : r->data_enc;
	kl_buf_reset(&r->name);
	int rc = kl_buf_printf(&r->name, "%.*s/%s%s", (int)it->key_len, it->key, it->stem, enc->ext);
	if (rc)
		return kl_errbuf_set(r->eb, rc, "out of memory");
	struct kl_store_file *f;
	if ((rc = r->store->ops->open(r->store, r->name.data, &f)))
		return kl_errbuf_set(r->eb, rc, "%s", r->store->err.msg);
	rc = enc->encode(enc, it->data.data, it->data.len, it->count, kl_store_write_cb, f, r->eb);
	if (rc) {
		r->store->ops->abort(f);
		return kl_errbuf_set(r->eb, rc, "%s", r->store->err.code ? r->store->err.msg
									 : "encoding failed");
	}
	if ((rc = r->store->ops->commit(f)))
		return kl_errbuf_set(r->eb, rc, "%s", r->store->err.msg);
	return KL_OK;
}

/* Write every item, make them durable as a set, then record the progress
 * (commit/state.h explains the order). Runs on the writer thread. */
static int run_job(struct run *r, struct job *j)
{
	int rc = KL_OK;
	size_t written = 0;
	while (written < j->n && !(rc = write_item(r, &j->items[written])))
		written++;
	/* after a failure too: the files committed before it become durable */
	int sync_rc = written ? r->store->ops->sync(r->store) : KL_OK;
	if (!sync_rc)
		for (size_t i = 0; i < written; i++)
			j->items[i].durable = 1;
	if (rc)
		return rc;
	if (sync_rc)
		return kl_errbuf_set(r->eb, sync_rc, "%s", r->store->err.msg);
	if (r->state_open) {
		for (size_t i = 0; i < j->n && !rc; i++)
			rc = kl_state_note_part(&r->state, j->items[i].key, j->items[i].key_len,
						j->items[i].last_pos);
		if (rc)
			return kl_errbuf_set(r->eb, rc, "%s", r->state.err.msg);
		kl_state_note_progress(&r->state, j->resume, j->window);
		if (j->checkpoint[0])
			kl_state_note_checkpoint(&r->state, j->checkpoint);
		if ((rc = kl_state_sync(&r->state)))
			return kl_errbuf_set(r->eb, rc, "%s", r->state.err.msg);
	}
	pthread_mutex_lock(&r->w.mu);
	for (size_t i = 0; i < j->n; i++) {
		const struct job_item *it = &j->items[i];
		if (it->key[0] == 'e' && it->key[1] == 'r')
			r->st->dead += it->count;
		else
			r->st->stored += it->count;
	}
	r->st->files += j->n;
	pthread_mutex_unlock(&r->w.mu);
	if (r->o->metrics) {
		struct kl_metrics *m = r->o->metrics;
		uint64_t data = 0, dead = 0, out = r->store->bytes_committed;
		for (size_t i = 0; i < j->n; i++) {
			const struct job_item *it = &j->items[i];
			*(it->key[0] == 'e' && it->key[1] == 'r' ? &dead : &data) += it->count;
		}
		ADD(m->stored, data);
		ADD(m->dead, dead);
		ADD(m->files, j->n);
		ADD(m->bytes_out, out - r->out_published);
		r->out_published = out;
		atomic_store_explicit(&m->last_commit_unix, (int64_t)time(NULL),
				      memory_order_relaxed);
	}
	return KL_OK;
}

/* Every job ends here, run or dropped: its files' fate goes to o->on_file. */
static void job_free(struct run *r, struct job *j)
{
	for (size_t i = 0; i < j->n; i++) {
		const struct job_item *it = &j->items[i];
		if (r->o->on_file)
			r->o->on_file(r->o->on_file_ctx, it->first_pos, it->last_pos, it->count,
				      it->durable);
		kl_buf_cleanup(&j->items[i].data);
	}
	free(j->items);
	free(j);
}

static void *writer_main(void *arg)
{
	struct run *r = arg;
	struct writer *w = &r->w;
	pthread_mutex_lock(&w->mu);
	for (;;) {
		while (!w->head && !w->stop)
			pthread_cond_wait(&w->cv, &w->mu);
		if (!w->head)
			break;
		struct job *j = w->head;
		int failed = w->failed;
		pthread_mutex_unlock(&w->mu);
		int rc = failed ? KL_OK : run_job(r, j);
		pthread_mutex_lock(&w->mu);
		if (rc)
			w->failed = 1; /* later jobs are dropped: their data stays in the input */
		w->head = j->next;
		if (!w->head)
			w->tail = NULL;
		w->queued--;
		w->inflight -= j->bytes;
		job_free(r, j);
		pthread_cond_broadcast(&w->cv);
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

/* Move the batch's buffers into a job and queue it; waits while the writer
 * has WRITER_MAX_JOBS pending. Main thread. */
static int flush_batch(struct run *r)
{
	struct job *j = calloc(1, sizeof *j);
	if (!j || !(j->items = calloc(r->nbatch, sizeof *j->items))) {
		free(j);
		return kl_errbuf_set(r->eb, KL_ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < r->nbatch; i++) {
		struct kl_part *p = r->batch[i];
		struct job_item *it = &j->items[j->n++];
		it->key = p->key;
		it->key_len = p->key_len;
		it->count = p->count;
		it->first_pos = p->named && p->name_pos < p->first_pos ? p->name_pos : p->first_pos;
		p->named = 0;
		if (!r->src->ops->pos_name ||
		    r->src->ops->pos_name(r->src, it->first_pos, it->stem, sizeof it->stem))
			snprintf(it->stem, sizeof it->stem, "%s-%014" PRIu64, r->id, it->first_pos);
		it->last_pos = p->last_pos;
		j->bytes += p->data.cap;
		kl_parts_detach(&r->parts, p, &it->data);
	}
	r->nbatch = 0;
	j->resume = kl_parts_min_pending(&r->parts, r->read_pos);
	if (r->src->ops->checkpoint &&
	    r->src->ops->checkpoint(r->src, j->resume, j->checkpoint, sizeof j->checkpoint))
		j->checkpoint[0] = '\0';
	j->window = kl_dedup_oldest_pos(&r->dedup, j->resume);
	struct writer *w = &r->w;
	pthread_mutex_lock(&w->mu);
	while (w->queued >= WRITER_MAX_JOBS && !w->failed)
		pthread_cond_wait(&w->cv, &w->mu);
	int failed = w->failed;
	if (!failed) {
		if (w->tail)
			w->tail->next = j;
		else
			w->head = j;
		w->tail = j;
		w->queued++;
		w->inflight += j->bytes;
		pthread_cond_broadcast(&w->cv);
	}
	pthread_mutex_unlock(&w->mu);
	if (failed) {
		job_free(r, j);
		return r->eb->code ? r->eb->code : KL_EIO;
	}
	return KL_OK;
}

/* Wait for every queued job; returns the writer's first error, if any. */
static int writer_join(struct run *r)
{
	struct writer *w = &r->w;
	if (!w->started)
		return KL_OK;
	pthread_mutex_lock(&w->mu);
	w->stop = 1;
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->thread, NULL);
	w->started = 0;
	return w->failed ? (r->eb->code ? r->eb->code : KL_EIO) : KL_OK;
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
	while ((p = kl_parts_next_flush(&r->parts, t, 0))) {
		int rc = batch_add(r, p);
		if (!rc)
			rc = flush_batch(r);
		if (rc)
			return rc;
	}
	return KL_OK;
}

/* --- records ------------------------------------------------------------- */

static struct kl_part *part_for(struct run *r)
{
	return kl_parts_get(&r->parts, r->key.data, r->key.len);
}

/* Copy what the state knows into the partition table, so the main thread
 * never reads the state again (the writer owns it from now on). */
static int preload_parts(struct run *r)
{
	for (size_t i = 0; i < r->state.nparts; i++) {
		const struct kl_state_part *sp = &r->state.parts[i];
		struct kl_part *p = kl_parts_get(&r->parts, sp->key, strlen(sp->key));
		if (!p)
			return kl_errbuf_set(r->eb, KL_ENOMEM, "out of memory");
		p->stored_upto = sp->upto;
		p->has_stored = 1;
	}
	return KL_OK;
}

/* o->name_before_dedup: a duplicate still names its partition's next file
 * when it comes before the file's first record. */
static int note_name(struct run *r, const struct kl_event *ev, uint64_t pos)
{
	struct kl_part *p;
	if (kl_partition_event(&r->key, ev) || !(p = part_for(r)))
		return kl_errbuf_set(r->eb, KL_ENOMEM, "out of memory");
	if (!p->count && !p->named) {
		p->name_pos = pos;
		p->named = 1;
	}
	return KL_OK;
}

static int on_record(struct run *r, const struct kl_record *rec)
{
	const struct kl_ingest_opts *o = r->o;
	struct kl_event *ev = &r->ev;
	int replay_only = rec->pos < r->state.resume;
	enum kl_reject rej;
	if (rec->full_len > rec->n) {
		rej = KL_REJ_TOO_LARGE;
		ev->reject = rej;
		snprintf(ev->msg, sizeof ev->msg, "record of %zu bytes is larger than the %zu-byte limit",
			 rec->full_len, o->limits.max_record_bytes);
		ev->err_offset = 0;
	} else {
		rej = kl_event_parse(ev, rec->p, rec->n, &o->limits);
	}
	if (replay_only) {
		/* already durable: only rebuild the dedup window */
		if (rej == KL_REJ_NONE)
			kl_dedup_check(&r->dedup, ev->uuid.p, ev->uuid.n, rec->pos);
		return KL_OK;
	}
	r->st->records++;
	kl_buf_reset(&r->key);
	if (rej != KL_REJ_NONE) {
		const char *dt = r->dead_dt;
		char rec_dt[11];
		if (rec->arrival_ms > 0) { /* the record's own arrival date */
			kl_partition_day(rec->arrival_ms / 1000, rec_dt);
			dt = rec_dt;
		}
		if (kl_partition_error(&r->key, kl_reject_name(rej), dt))
			return kl_errbuf_set(r->eb, KL_ENOMEM, "out of memory");
	} else {
		int dup;
		if (o->shared_dedup) { /* stream mode: one window for every shard */
			pthread_mutex_lock(o->shared_dedup_mu);
			dup = kl_dedup_check(o->shared_dedup, ev->uuid.p, ev->uuid.n, rec->pos);
			pthread_mutex_unlock(o->shared_dedup_mu);
		} else {
			dup = kl_dedup_check(&r->dedup, ev->uuid.p, ev->uuid.n, rec->pos);
		}
		if (dup) {
			r->st->duplicates++;
			return o->name_before_dedup ? note_name(r, ev, rec->pos) : KL_OK;
		}
		if (kl_partition_event(&r->key, ev))
			return kl_errbuf_set(r->eb, KL_ENOMEM, "out of memory");
	}
	struct kl_part *p = part_for(r);
	if (!p)
		return kl_errbuf_set(r->eb, KL_ENOMEM, "out of memory");
	if (p->has_stored && rec->pos <= p->stored_upto) {
		r->st->replayed++;
		return KL_OK;
	}
	int rc;
	if (rej != KL_REJ_NONE) {
		r->st->dead_by_reason[rej]++;
		char origin[768];
		const char *source = r->source_name;
		if (r->src->ops->origin && !r->src->ops->origin(r->src, rec->pos, origin, sizeof origin))
			source = origin;
		struct kl_deadletter d = {kl_reject_name(rej), ev->msg,   source,
					  rec->pos,            ev->err_offset, rec->p,
					  rec->n,              rec->full_len};
		rc = kl_deadletter_format(&p->data, &d);
	} else {
		rc = kl_event_write_json(ev, rec->p, rec->n, &p->data);
	}
	if (!rc)
		rc = kl_buf_putc(&p->data, '\n');
	if (rc)
		return kl_errbuf_set(r->eb, KL_ENOMEM, "out of memory buffering a record");
	kl_parts_note_append(&r->parts, p, rec->pos, kl_mono_ns());
	if (kl_parts_full(&r->parts, p)) {
		if ((rc = batch_add(r, p)) || (rc = flush_batch(r)))
			return rc;
	}
	if (r->parts.mem > r->parts.memory_limit) {
		if ((rc = flush_due(r, 0)))
			return rc;
		/* queued buffers count too: wait for the writer rather than grow */
		pthread_mutex_lock(&r->w.mu);
		while (r->w.queued && !r->w.failed &&
		       r->parts.mem + r->w.inflight > r->parts.memory_limit)
			pthread_cond_wait(&r->w.cv, &r->w.mu);
		pthread_mutex_unlock(&r->w.mu);
	}
	return KL_OK;
}

static void progress(struct run *r, int final)
{
	if (!r->o->progress || !r->input_size)
		return;
	int64_t t = kl_mono_ns();
	if (!final && t - r->last_progress < 200000000)
		return;
	r->last_progress = t;
	double frac = (double)r->read_pos / (double)r->input_size;
	if (frac > 1)
		frac = 1;
	char bar[31];
	int fill = (int)(frac * 30);
	for (int i = 0; i < 30; i++)
		bar[i] = i < fill ? '#' : '.';
	bar[30] = '\0';
	double secs = (double)(t - r->t0) / 1e9;
	fprintf(stderr, "\r[%s] %5.1f%%  %" PRIu64 " events  %.0f ev/s ", bar, frac * 100,
		r->st->records, secs > 0 ? (double)r->st->records / secs : 0.0);
	if (final)
		fputs("\r\033[K", stderr);
}

static int stop_requested(int fd)
{
	if (fd < 0)
		return 0;
	struct pollfd p = {.fd = fd, .events = POLLIN};
	return poll(&p, 1, 0) > 0 && (p.revents & POLLIN);
}

static int run_loop(struct run *r)
{
	const struct kl_ingest_opts *o = r->o;
	struct kl_record rec = {0}; /* fields a source does not set stay 0 */
	uint64_t n = 0;
	int rc;
	int timeout = -1;
	for (;;) {
		int s = kl_source_next(r->src, &rec, timeout);
		if (s == KL_SRC_EOF)
			break;
		if (s == KL_EINTR) {
			r->st->interrupted = 1;
			break;
		}
		if (s < 0)
			return kl_errbuf_set(r->eb, s, "%s", r->src->err.msg);
		if (s == KL_SRC_RECORD) {
			if (timeout < 0) /* something is buffered now: wake up for its age */
				timeout = (int)(o->flush_interval_ms < 60000 ? o->flush_interval_ms : 60000) + 1;
			/* byte offsets for files; ordinals for streams */
			r->read_pos = rec.pos + (r->src->ops->checkpoint ? 1 : rec.full_len + 1);
			if ((rc = on_record(r, &rec)))
				return rc;
		}
		if (s == KL_SRC_IDLE || (++n & 4095) == 0) {
			if ((rc = flush_due(r, 0)))
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
	if (r->input_size && r->read_pos > r->input_size)
		r->read_pos = r->input_size;
	if ((rc = flush_due(r, 1)))
		return rc;
	if ((rc = writer_join(r)))
		return rc;
	if (!r->st->interrupted && !r->o->source) {
		kl_state_note_done(&r->state, r->input_size);
		if ((rc = kl_state_sync(&r->state)))
			return kl_errbuf_set(r->eb, rc, "%s", r->state.err.msg);
	}
	progress(r, 1);
	return KL_OK;
}

static void run_cleanup(struct run *r)
{
	if (!r->o->source)
		kl_source_free(r->src);
	if (!r->o->store)
		kl_store_free(r->store);
	kl_encoder_free(r->data_enc);
	kl_encoder_free(r->dead_enc);
	kl_schema_registry_free(r->own_registry);
	if (r->state_open)
		kl_state_close(&r->state);
	kl_parts_cleanup(&r->parts);
	kl_dedup_cleanup(&r->dedup);
	kl_event_cleanup(&r->ev);
	kl_buf_cleanup(&r->key);
	kl_buf_cleanup(&r->name);
	free(r->batch);
	for (struct job *j = r->w.head, *n; j; j = n) {
		n = j->next;
		job_free(r, j);
	}
	pthread_mutex_destroy(&r->w.mu);
	pthread_cond_destroy(&r->w.cv);
}

int kl_ingest_run(const struct kl_ingest_opts *o, struct kl_ingest_stats *st,
		  struct kl_errbuf *eb)
{
	struct run r;
	memset(&r, 0, sizeof r);
	pthread_mutex_init(&r.w.mu, NULL);
	pthread_cond_init(&r.w.cv, NULL);
	memset(st, 0, sizeof *st);
	r.o = o;
	r.st = st;
	r.eb = eb;
	r.t0 = kl_mono_ns();
	kl_event_init(&r.ev);
	kl_buf_init(&r.key, 0);
	kl_buf_init(&r.name, 0);
	/* --memory-limit covers the partition buffers plus the fixed costs: the
	 * dedup window (24 bytes per slot), the reader's window, and for Parquet
	 * the encoder's working copy of the partition being written. */
	size_t fixed = o->dedup_window * 24 + (8u << 20);
	size_t budget = o->memory_limit > fixed ? o->memory_limit - fixed : o->memory_limit / 4;
	if (o->format == KL_FORMAT_PARQUET)
		budget -= budget / 4;
	kl_parts_init(&r.parts, o->max_file_bytes, budget, o->flush_interval_ms * 1000000);
	int rc = kl_dedup_init(&r.dedup, o->shared_dedup ? 0 : o->dedup_window);
	if (rc) {
		kl_errbuf_set(eb, rc, "cannot allocate a dedup window of %zu events",
			      o->dedup_window);
		goto out;
	}
	if (o->store) {
		r.store = o->store;
	} else {
		if ((rc = kl_store_local_new(&r.store, o->lake, eb)))
			goto out;
		uint64_t swept;
		kl_store_local_sweep(o->lake, &swept);
	}
	r.registry = o->schema_registry;
	if (!r.registry && o->format == KL_FORMAT_PARQUET &&
	    !(r.registry = r.own_registry = kl_schema_registry_new())) {
		rc = kl_errbuf_set(eb, KL_ENOMEM, "out of memory");
		goto out;
	}
	r.dead_enc = kl_encoder_jsonl_new(o->compression, o->level);
	r.data_enc = o->format == KL_FORMAT_PARQUET ? kl_encoder_parquet_new(o, r.store, r.registry)
						    : kl_encoder_jsonl_new(o->compression, o->level);
	if (!r.dead_enc || !r.data_enc) {
		rc = kl_errbuf_set(eb, KL_ENOMEM, "cannot create the %s encoder",
				   o->format == KL_FORMAT_PARQUET ? "parquet" : "jsonl");
		goto out;
	}
	uint64_t start = 0;
	if (o->source) {
		if ((rc = open_stream(&r)))
			goto out;
	} else if ((rc = open_input(&r, &start)) || st->already_done) {
		goto out;
	}
	r.read_pos = start;
	if (!o->source && (rc = preload_parts(&r)))
		goto out;
	r.out_published = r.store->bytes_committed;
	if (pthread_create(&r.w.thread, NULL, writer_main, &r)) {
		rc = kl_errbuf_set(eb, KL_ENOMEM, "cannot start the writer thread");
		goto out;
	}
	r.w.started = 1;
	rc = run_loop(&r);
out:
	if (writer_join(&r) && !rc)
		rc = eb->code ? eb->code : KL_EIO;
	publish(&r);
	st->bytes_in = r.src ? r.src->bytes_read : 0;
	st->bytes_out = r.store ? r.store->bytes_committed : 0;
	st->seconds = (double)(kl_mono_ns() - r.t0) / 1e9;
	run_cleanup(&r);
	return rc;
}
