/* writer.c — see writer.h. */
#include "pipeline/writer.h"
#include "metrics/metrics.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

/* the working buffer is released after a job when it grew past this */
#define WORK_KEEP (16u << 20)
/* a streaming encoder gets a body from blocks in pieces of this size */
#define STAGE_BYTES (1u << 20)

#define ADD(counter, v) atomic_fetch_add_explicit(&(counter), (v), memory_order_relaxed)

struct piece_ctx {
	struct kl_encoder *enc;
	struct kl_errbuf *eb;
};

static int write_piece(void *ctx, const void *p, size_t n)
{
	struct piece_ctx *c = ctx;
	return c->enc->ops->write(c->enc, p, n, c->eb);
}

/* A spilled dead letter: its head from memory, its raw bytes from the spill. */
static int encode_spilled(struct kl_writer *w, struct kl_encoder *enc,
			  const struct kl_writer_item *it, struct kl_store_file *f)
{
	if (!enc->ops->begin)
		return kl_errbuf_set(w->eb, KL_EINVAL, "the dead-letter encoder cannot stream");
	struct piece_ctx c = {enc, w->eb};
	uint64_t total = kl_blocks_len(&it->data) + kl_deadletter_spill_tail_len(it->spill.len);
	int rc = enc->ops->begin(enc, total, kl_store_write_cb, f);
	rc = rc ? rc : kl_blocks_each(&it->data, &w->zctx, &w->work, write_piece, &c, w->eb);
	rc = rc ? rc : kl_deadletter_stream_spill(&it->spill, write_piece, &c, w->eb);
	return rc ? rc : enc->ops->end(enc, w->eb);
}

/* Pieces of exactly STAGE_BYTES (the last one shorter) whatever the block
 * boundaries: a streamed zstd frame depends on how its input is cut, and
 * this way it depends only on the records' bytes. */
struct stage_ctx {
	struct kl_encoder *enc;
	struct kl_buf *stage; /* STAGE_BYTES reserved */
	struct kl_errbuf *eb;
};

static int stage_piece(void *ctx, const void *p, size_t n)
{
	struct stage_ctx *s = ctx;
	const char *c = p;
	while (n) {
		size_t take = STAGE_BYTES - s->stage->len;
		if (take > n)
			take = n;
		kl_buf_put(s->stage, c, take);
		c += take;
		n -= take;
		if (s->stage->len == STAGE_BYTES) {
			int rc = s->enc->ops->write(s->enc, s->stage->data, s->stage->len, s->eb);
			if (rc)
				return rc;
			kl_buf_reset(s->stage);
		}
	}
	return KL_OK;
}

/* The item's records as one body. A streaming encoder (JSON lines) gets a
 * body over STAGE_BYTES block by block, unpacked into `work` and handed on
 * in STAGE_BYTES pieces; a smaller body, or any body for an encoder that
 * needs it whole (Parquet), is encoded in one call: the tail itself when
 * nothing was sealed, else every block unpacked, in order, into `work`.
 * Which way a file goes depends only on its records' length, never on
 * where blocks were cut. */
static int encode_item(struct kl_writer *w, struct kl_encoder *enc, const struct kl_writer_item *it,
		       struct kl_store_file *f)
{
	const struct kl_blocks *b = &it->data;
	int rc;
	if (enc->ops->begin && kl_blocks_len(b) > STAGE_BYTES) {
		struct stage_ctx s = {enc, &w->stage, w->eb};
		kl_buf_reset(&w->stage);
		if (kl_buf_reserve(&w->stage, STAGE_BYTES))
			return kl_errbuf_set(w->eb, KL_ENOMEM, "out of memory");
		rc = enc->ops->begin(enc, kl_blocks_len(b), kl_store_write_cb, f);
		rc = rc ? rc : kl_blocks_each(b, &w->zctx, &w->work, stage_piece, &s, w->eb);
		if (!rc && w->stage.len)
			rc = enc->ops->write(enc, w->stage.data, w->stage.len, w->eb);
		return rc ? rc : enc->ops->end(enc, w->eb);
	}
	if (!b->n)
		return enc->ops->encode(enc, b->tail.data, b->tail.len, it->count,
					kl_store_write_cb, f, w->eb);
	kl_buf_reset(&w->work);
	if ((rc = kl_blocks_flatten(b, &w->zctx, &w->work, w->eb)))
		return rc;
	return enc->ops->encode(enc, w->work.data, w->work.len, it->count, kl_store_write_cb, f,
				w->eb);
}

static int write_item(struct kl_writer *w, const struct kl_writer_item *it)
{
	struct kl_encoder *enc = it->dead ? w->dead_enc : w->data_enc;
	struct kl_store *store = w->store;
	kl_buf_reset(&w->name);
	int rc =
	    kl_buf_printf(&w->name, "%.*s/%s%s", (int)it->key_len, it->key, it->stem, enc->ext);
	if (rc)
		return kl_errbuf_set(w->eb, rc, "out of memory");
	struct kl_store_file *f;
	if ((rc = store->ops->open(store, w->name.data, &f)))
		return kl_errbuf_set(w->eb, rc, "%s", store->err.msg);
	if (it->spill.fd >= 0)
		rc = encode_spilled(w, enc, it, f);
	else
		rc = encode_item(w, enc, it, f);
	if (rc) {
		store->ops->abort(f);
		return kl_errbuf_set(w->eb, rc, "%s",
				     store->err.code ? store->err.msg : "encoding failed");
	}
	if ((rc = store->ops->commit(f)))
		return kl_errbuf_set(w->eb, rc, "%s", store->err.msg);
	return KL_OK;
}

static void publish(struct kl_writer *w, const struct kl_writer_job *j)
{
	struct kl_metrics *m = w->metrics;
	if (!m)
		return;
	uint64_t data = 0, dead = 0, out = w->store->bytes_committed;
	for (size_t i = 0; i < j->n; i++)
		*(j->items[i].dead ? &dead : &data) += j->items[i].count;
	ADD(m->stored, data);
	ADD(m->dead, dead);
	ADD(m->files, j->n);
	ADD(m->bytes_out, out - w->out_published);
	w->out_published = out;
	atomic_store_explicit(&m->last_commit_unix, (int64_t)time(NULL), memory_order_relaxed);
}

/* Write every item, make them durable as a set, then record the progress
 * (commit/state.h explains the order). */
static int run_job(struct kl_writer *w, struct kl_writer_job *j)
{
	int rc = KL_OK;
	size_t written = 0;
	while (written < j->n && !(rc = write_item(w, &j->items[written])))
		written++;
	/* after a failure too: the files committed before it become durable */
	int sync_rc = written ? w->store->ops->sync(w->store) : KL_OK;
	if (!sync_rc)
		for (size_t i = 0; i < written; i++)
			j->items[i].durable = 1;
	if (rc)
		return rc;
	if (sync_rc)
		return kl_errbuf_set(w->eb, sync_rc, "%s", w->store->err.msg);
	struct kl_checkpoint_file files[64], *fv = files;
	if (j->n > sizeof files / sizeof files[0] && !(fv = malloc(j->n * sizeof *fv)))
		return kl_errbuf_set(w->eb, KL_ENOMEM, "out of memory");
	for (size_t i = 0; i < j->n; i++)
		fv[i] = (struct kl_checkpoint_file){j->items[i].key, j->items[i].key_len,
						    j->items[i].last_pos};
	struct kl_checkpoint_job cj = {fv, j->n, j->resume, j->window, j->checkpoint};
	rc = w->cp->ops->commit(w->cp, &cj);
	if (fv != files)
		free(fv);
	if (rc)
		return kl_errbuf_set(w->eb, rc, "%s", w->cp->err.msg);
	pthread_mutex_lock(&w->mu);
	for (size_t i = 0; i < j->n; i++)
		*(j->items[i].dead ? &w->st->dead : &w->st->stored) += j->items[i].count;
	w->st->files += j->n;
	pthread_mutex_unlock(&w->mu);
	publish(w, j);
	return KL_OK;
}

/* Every job ends here, run or dropped: its files' fate goes to the checkpoint. */
static void job_free(struct kl_writer *w, struct kl_writer_job *j)
{
	for (size_t i = 0; i < j->n; i++) {
		struct kl_writer_item *it = &j->items[i];
		if (w->cp->ops->file)
			w->cp->ops->file(w->cp, it->first_pos, it->last_pos, it->count,
					 it->durable);
		kl_blocks_cleanup(&it->data);
		kl_spill_close(&it->spill);
	}
	free(j->items);
	free(j);
}

static void *writer_main(void *arg)
{
	struct kl_writer *w = arg;
	pthread_mutex_lock(&w->mu);
	for (;;) {
		while (!w->head && !w->stop)
			pthread_cond_wait(&w->cv, &w->mu);
		if (!w->head)
			break;
		struct kl_writer_job *j = w->head;
		int failed = w->failed;
		pthread_mutex_unlock(&w->mu);
		int rc = failed ? KL_OK : run_job(w, j);
		if (w->work.cap > WORK_KEEP)
			kl_buf_shrink(&w->work, WORK_KEEP);
		pthread_mutex_lock(&w->mu);
		if (rc)
			w->failed = 1; /* later jobs are dropped: their data stays in the input */
		w->head = j->next;
		if (!w->head)
			w->tail = NULL;
		w->queued--;
		w->inflight -= j->bytes;
		job_free(w, j);
		pthread_cond_broadcast(&w->cv);
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

void kl_writer_init(struct kl_writer *w, struct kl_store *store, struct kl_encoder *data_enc,
		    struct kl_encoder *dead_enc, struct kl_checkpoint *cp,
		    struct kl_ingest_stats *st, struct kl_metrics *metrics, struct kl_errbuf *eb)
{
	memset(w, 0, sizeof *w);
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	w->store = store;
	w->data_enc = data_enc;
	w->dead_enc = dead_enc;
	w->cp = cp;
	w->st = st;
	w->metrics = metrics;
	w->eb = eb;
	w->out_published = store->bytes_committed;
	kl_buf_init(&w->name, 0);
	kl_buf_init(&w->work, 0);
	kl_buf_init(&w->stage, 0);
}

int kl_writer_start(struct kl_writer *w)
{
	if (pthread_create(&w->thread, NULL, writer_main, w))
		return kl_errbuf_set(w->eb, KL_ENOMEM, "cannot start the writer thread");
	w->started = 1;
	return KL_OK;
}

int kl_writer_queue(struct kl_writer *w, struct kl_writer_job *j, size_t max_jobs)
{
	pthread_mutex_lock(&w->mu);
	while (w->queued >= max_jobs && !w->failed)
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
		job_free(w, j);
		return w->eb->code ? w->eb->code : KL_EIO;
	}
	return KL_OK;
}

void kl_writer_wait_memory(struct kl_writer *w, size_t mem, size_t limit)
{
	pthread_mutex_lock(&w->mu);
	while (w->queued && !w->failed && mem + w->inflight > limit)
		pthread_cond_wait(&w->cv, &w->mu);
	pthread_mutex_unlock(&w->mu);
}

int kl_writer_join(struct kl_writer *w)
{
	if (!w->started)
		return KL_OK;
	pthread_mutex_lock(&w->mu);
	w->stop = 1;
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->thread, NULL);
	w->started = 0;
	return w->failed ? (w->eb->code ? w->eb->code : KL_EIO) : KL_OK;
}

void kl_writer_cleanup(struct kl_writer *w)
{
	kl_writer_join(w);
	for (struct kl_writer_job *j = w->head, *n; j; j = n) {
		n = j->next;
		job_free(w, j);
	}
	w->head = w->tail = NULL;
	kl_buf_cleanup(&w->name);
	kl_buf_cleanup(&w->work);
	kl_buf_cleanup(&w->stage);
	kl_blocks_zctx_cleanup(&w->zctx);
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->cv);
}
