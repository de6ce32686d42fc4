/* writer.c — see writer.h. */
#include "pipeline/writer.h"
#include "metrics/metrics.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

/* the working buffers are released after a job when they grew past this.
 * Above glibc's mmap threshold (32 MiB, cli/main.c) a block is a mapping
 * of its own, released and made again for each of the largest files, its
 * huge pages zeroed anew; keeping 64 MiB saved those faults (164 -> 111
 * huge-page faults per 1M-event Parquet run) but not measurable CPU, and
 * cost 10-15 MB of peak RSS at the defaults (1M events, 3 alternated runs
 * each: 228-230 MB at 16 MiB, 240-244 MB at 64 MiB; user+sys the same
 * within noise), so 16 MiB: the peak stays well under a 256 MB budget. */
#define WORK_KEEP (16u << 20)
/* a streaming encoder gets a body from blocks in pieces of this size */
#define STAGE_BYTES (1u << 20)
/* jobs already queued join the running one's sync up to this many files */
#define BATCH_FILES 256

enum { SB_IDLE, SB_HANDED, SB_RUNNING }; /* the syncer's batch (struct kl_writer sb_state) */

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
		return kl_errbuf_set(w->web, KL_EINVAL, "the dead-letter encoder cannot stream");
	struct piece_ctx c = {enc, w->web};
	uint64_t total = kl_blocks_len(&it->data) + kl_deadletter_spill_tail_len(it->spill.len);
	int rc = enc->ops->begin(enc, total, kl_store_write_cb, f);
	rc = rc ? rc : kl_blocks_each(&it->data, &w->un.zctx, &w->un.work, write_piece, &c, w->web);
	rc = rc ? rc : kl_deadletter_stream_spill(&it->spill, write_piece, &c, w->web);
	return rc ? rc : enc->ops->end(enc, w->web);
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

/* The item's records as one body, through fn(ctx, ...). An encoder that
 * takes the buffer as it is (encode_blocks: JSON lines with zstd at the
 * blocks' level; Parquet, which unpacks a small file whole into u->work
 * and reads a large one block by block, freeing each) gets it so, and
 * makes it the same whatever early cuts were made; it may free the
 * blocks as it reads them, and the caller frees the rest after. A
 * streaming encoder (JSON lines, other codecs and levels) gets a body over
 * STAGE_BYTES block by block, unpacked into u->work and handed on in
 * STAGE_BYTES pieces; a smaller body is encoded in one call: the tail
 * itself when nothing was sealed, else every block unpacked, in order,
 * into u->work. Which way a file goes depends
 * only on its records' length, never on where blocks were cut, nor on
 * which thread encodes it. */
static int encode_body(struct kl_writer_unpack *u, struct kl_encoder *enc,
		       struct kl_writer_item *it, kl_write_fn fn, void *ctx,
		       struct kl_errbuf *eb)
{
	struct kl_blocks *b = &it->data;
	int rc;
	if (enc->ops->encode_blocks)
		return enc->ops->encode_blocks(enc, b, it->count, &u->zctx, &u->work, fn, ctx, eb);
	if (enc->ops->begin && kl_blocks_len(b) > STAGE_BYTES) {
		struct stage_ctx s = {enc, &u->stage, eb};
		kl_buf_reset(&u->stage);
		if (kl_buf_reserve(&u->stage, STAGE_BYTES))
			return kl_errbuf_set(eb, KL_ENOMEM, "out of memory");
		rc = enc->ops->begin(enc, kl_blocks_len(b), fn, ctx);
		rc = rc ? rc : kl_blocks_each(b, &u->zctx, &u->work, stage_piece, &s, eb);
		if (!rc && u->stage.len)
			rc = enc->ops->write(enc, u->stage.data, u->stage.len, eb);
		return rc ? rc : enc->ops->end(enc, eb);
	}
	if (!b->n)
		return enc->ops->encode(enc, b->tail.data, b->tail.len, it->count, fn, ctx, eb);
	kl_buf_reset(&u->work);
	if ((rc = kl_blocks_flatten(b, &u->zctx, &u->work, eb)))
		return rc;
	return enc->ops->encode(enc, u->work.data, u->work.len, it->count, fn, ctx, eb);
}

/* encode_body, and what the encoder tells of the file (its rescued rows). */
static int encode_item(struct kl_writer_unpack *u, struct kl_encoder *enc,
		       struct kl_writer_item *it, kl_write_fn fn, void *ctx,
		       struct kl_errbuf *eb)
{
	enc->rescued = 0;
	int rc = encode_body(u, enc, it, fn, ctx, eb);
	it->rescued = rc ? 0 : enc->rescued;
	return rc;
}

int kl_writer_unpack_pool_init(struct kl_writer_unpack_pool *p, size_t n)
{
	memset(p, 0, sizeof *p);
	if (!n)
		n = 1;
	p->v = calloc(n, sizeof *p->v);
	p->free = calloc(n, sizeof *p->free);
	if (!p->v || !p->free) {
		free(p->v);
		free(p->free);
		return KL_ENOMEM;
	}
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	p->n = p->nfree = n;
	for (size_t i = 0; i < p->n; i++) {
		kl_buf_init(&p->v[i].work, 0);
		kl_buf_init(&p->v[i].stage, 0);
		p->free[i] = &p->v[i];
	}
	return KL_OK;
}

void kl_writer_unpack_pool_cleanup(struct kl_writer_unpack_pool *p)
{
	if (!p->v)
		return;
	for (size_t i = 0; i < p->n; i++) {
		kl_buf_cleanup(&p->v[i].work);
		kl_buf_cleanup(&p->v[i].stage);
		kl_blocks_zctx_cleanup(&p->v[i].zctx);
	}
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->cv);
	free(p->v);
	free(p->free);
	memset(p, 0, sizeof *p);
}

static struct kl_writer_unpack *pool_take(struct kl_writer_unpack_pool *p)
{
	pthread_mutex_lock(&p->mu);
	while (!p->nfree)
		pthread_cond_wait(&p->cv, &p->mu);
	struct kl_writer_unpack *u = p->free[--p->nfree];
	pthread_mutex_unlock(&p->mu);
	return u;
}

static void pool_give(struct kl_writer_unpack_pool *p, struct kl_writer_unpack *u)
{
	if (u->work.cap > WORK_KEEP) /* as the writer's own after a batch */
		kl_buf_shrink(&u->work, WORK_KEEP);
	pthread_mutex_lock(&p->mu);
	p->free[p->nfree++] = u;
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
}

/* One file into the store: `body` when an encoder thread made it, else
 * encoded (or streamed from its spill) by this thread straight into it. */
static int store_item(struct kl_writer *w, struct kl_writer_item *it, struct kl_encoder *enc,
		      const struct kl_buf *body)
{
	struct kl_store *store = w->store;
	kl_buf_reset(&w->name);
	int rc =
	    kl_buf_printf(&w->name, "%.*s/%s%s", (int)it->key_len, it->key, it->stem, enc->ext);
	if (rc)
		return kl_errbuf_set(w->web, rc, "out of memory");
	struct kl_store_file *f;
	if ((rc = store->ops->open(store, w->name.data, &f)))
		return kl_errbuf_set(w->web, rc, "%s", store->err.msg);
	if (body)
		rc = body->len ? store->ops->write(f, body->data, body->len) : KL_OK;
	else if (it->spill.fd >= 0)
		rc = encode_spilled(w, enc, it, f);
	else { /* the store's error, when it has one, is the root cause: the
		* encoder only saw its output function fail */
		kl_errbuf_clear(&w->enc_eb);
		struct kl_writer_unpack *u = w->unpack_pool ? pool_take(w->unpack_pool) : &w->un;
		rc = encode_item(u, enc, it, kl_store_write_cb, f, &w->enc_eb);
		if (w->unpack_pool)
			pool_give(w->unpack_pool, u);
	}
	if (rc) {
		store->ops->abort(f);
		if (store->err.code)
			return kl_errbuf_set(w->web, rc, "%s", store->err.msg);
		return kl_errbuf_set(w->web, rc, "%s",
				     w->enc_eb.code ? w->enc_eb.msg : "encoding failed");
	}
	/* deferred where the store can: visible and durable at run_batch's
	 * sync(), before anything is recorded */
	rc = store->ops->commit_deferred ? store->ops->commit_deferred(f) : store->ops->commit(f);
	if (rc)
		return kl_errbuf_set(w->web, rc, "%s", store->err.msg);
	return KL_OK;
}

static int buf_write_cb(void *ctx, const void *p, size_t n)
{
	return kl_buf_append(ctx, p, n);
}

/* Bodies waiting for the writer: may an encoder thread make another one?
 * Always while fewer wait than there are encoder threads (as when each
 * held its one body; then too the file the writer needs next is always
 * taken: with none taken after it, no body waits), else within the hold
 * limits and only while the bodies waiting take less memory than the
 * records they were made of, which were freed when they were encoded and
 * stay charged to the budget until their job ends (writer.h). Under the
 * writer's mutex. */
static int may_hold_more(const struct kl_writer *w)
{
	return w->held < w->nenc || (w->held < KL_WRITER_HOLD_FILES && w->held_bytes < w->hold_max &&
				     w->held_bytes < w->credit);
}

/* The next file of the queue for an encoder thread, in queue order, or
 * NULL (none, or enough bodies wait). Under the writer's mutex. */
static struct kl_writer_item *enc_take(struct kl_writer *w)
{
	if (!may_hold_more(w))
		return NULL;
	while (w->enc_job) {
		struct kl_writer_job *j = w->enc_job;
		if (w->enc_item < j->n) {
			struct kl_writer_item *it = &j->items[w->enc_item++];
			if (it->spill.fd < 0)
				return it;
			it->enc_state = KL_WRITER_ITEM_WRITER;
			continue;
		}
		w->enc_job = j->next;
		w->enc_item = 0;
	}
	return NULL;
}

static void body_free(struct kl_writer_body *b)
{
	kl_buf_cleanup(&b->buf);
	kl_encoder_free(b->data_note);
	kl_encoder_free(b->dead_note);
	free(b);
}

/* A body for the next file: a reused one, else new; NULL on ENOMEM. Under
 * the writer's mutex. */
static struct kl_writer_body *body_get(struct kl_writer *w)
{
	struct kl_writer_body *b = w->free_bodies;
	if (b) {
		w->free_bodies = b->next;
		w->nfree--;
		return b;
	}
	if ((b = calloc(1, sizeof *b)))
		kl_buf_init(&b->buf, 0);
	return b;
}

/* The item's body is stored or dropped: it leaves the hold, goes back
 * to the free list (one per encoder thread is kept), and the encoder
 * threads may hold another. Under the writer's mutex. */
static void body_release(struct kl_writer *w, struct kl_writer_item *it)
{
	struct kl_writer_body *b = it->body;
	it->body = NULL;
	it->enc_state = KL_WRITER_ITEM_WRITER;
	if (!b)
		return;
	w->held--;
	w->held_bytes -= b->bytes;
	b->bytes = 0;
	if (w->nfree < w->nenc) {
		if (b->buf.cap > WORK_KEEP)
			kl_buf_shrink(&b->buf, WORK_KEEP);
		b->next = w->free_bodies;
		w->free_bodies = b;
		w->nfree++;
	} else {
		body_free(b);
	}
	if (w->enc_idle) /* room for one more body; enc_main passes the wake-up on */
		pthread_cond_signal(&w->enc_cv);
}

/* What the file left to publish moves into the body's copy of its encoder
 * (created on first use), so `enc` can encode the next file at once. */
static int hand_over(struct kl_encoder *enc, struct kl_writer_body *b, int dead)
{
	struct kl_encoder **note = dead ? &b->dead_note : &b->data_note;
	if (!*note && !(*note = enc->ops->clone(enc)))
		return kl_errbuf_set(&b->eb, KL_ENOMEM, "out of memory");
	enc->ops->hand_over(enc, *note);
	return KL_OK;
}

/* An encoder thread: takes the next file of the queue, encodes it into a
 * body of its own, and leaves that for the writer (writer.h: hand-over). */
static void *enc_main(void *arg)
{
	struct kl_writer *w = arg;
	pthread_mutex_lock(&w->mu);
	struct kl_writer_enc *x = &w->enc[w->nenc_started++];
	for (;;) {
		struct kl_writer_item *it = NULL;
		while (!w->enc_stop && !(it = enc_take(w))) {
			w->enc_idle++;
			pthread_cond_wait(&w->enc_cv, &w->mu);
			w->enc_idle--;
		}
		if (!it)
			break;
		/* one wake-up per file: pass it on while another could start */
		if (w->enc_idle && w->enc_job && may_hold_more(w))
			pthread_cond_signal(&w->enc_cv);
		it->enc_state = KL_WRITER_ITEM_ENCODING;
		struct kl_writer_body *b = body_get(w);
		pthread_mutex_unlock(&w->mu);
		struct kl_encoder *enc = it->dead ? x->dead_enc : x->data_enc;
		int rc = KL_ENOMEM;
		if (b) {
			kl_buf_reset(&b->buf);
			kl_errbuf_clear(&b->eb);
			rc = encode_item(&x->un, enc, it, buf_write_cb, &b->buf, &b->eb);
			if (!rc && enc->ops->publish)
				rc = hand_over(enc, b, it->dead);
		}
		/* the records are encoded: their memory goes now, not when the job ends */
		kl_blocks_cleanup(&it->data);
		if (x->un.work.cap > WORK_KEEP)
			kl_buf_shrink(&x->un.work, WORK_KEEP);
		pthread_mutex_lock(&w->mu);
		/* the records' charge, their memory freed, now covers the body */
		w->credit += it->bytes;
		it->credited = 1;
		if (b) {
			b->bytes = b->buf.cap;
			w->held++;
			w->held_bytes += b->bytes;
		}
		it->enc_rc = rc;
		it->body = b;
		it->enc_state = KL_WRITER_ITEM_ENCODED;
		if (w->done_waiters)
			pthread_cond_broadcast(&w->done_cv);
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

/* Writer thread: the next file of the job in order, whoever encodes it. */
static int write_item(struct kl_writer *w, struct kl_writer_item *it)
{
	struct kl_encoder *enc = it->dead ? w->dead_enc : w->data_enc;
	if (!w->nenc || it->spill.fd >= 0) /* encoder threads pass spilled dead letters over */
		return store_item(w, it, enc, NULL);
	pthread_mutex_lock(&w->mu);
	while (it->enc_state == KL_WRITER_ITEM_NEW || it->enc_state == KL_WRITER_ITEM_ENCODING) {
		w->done_waiters++;
		pthread_cond_wait(&w->done_cv, &w->mu);
		w->done_waiters--;
	}
	struct kl_writer_body *b = it->body;
	int rc = it->enc_rc;
	pthread_mutex_unlock(&w->mu);
	struct kl_encoder *note = b ? (it->dead ? b->dead_note : b->data_note) : NULL;
	if (rc)
		kl_errbuf_set(w->web, rc, "%s", b && b->eb.code ? b->eb.msg : "encoding failed");
	else if (note && (rc = note->ops->publish(note, w->web)))
		;
	else
		rc = store_item(w, it, enc, &b->buf);
	pthread_mutex_lock(&w->mu);
	body_release(w, it);
	pthread_mutex_unlock(&w->mu);
	return rc;
}

/* Writer thread, before a job is freed (run or dropped): no encoder thread
 * may still take, encode or hold one of its files. */
static void job_settle(struct kl_writer *w, struct kl_writer_job *j)
{
	if (!w->nenc)
		return;
	pthread_mutex_lock(&w->mu);
	if (w->enc_job == j) {
		w->enc_job = j->next;
		w->enc_item = 0;
	}
	for (size_t i = 0; i < j->n; i++) {
		struct kl_writer_item *it = &j->items[i];
		while (it->enc_state == KL_WRITER_ITEM_ENCODING) {
			w->done_waiters++;
			pthread_cond_wait(&w->done_cv, &w->mu);
			w->done_waiters--;
		}
		if (it->enc_state == KL_WRITER_ITEM_ENCODED)
			body_release(w, it);
		if (it->credited) /* its charge ends with the job */
			w->credit -= it->bytes;
		it->credited = 0;
	}
	pthread_mutex_unlock(&w->mu);
}

static void publish(struct kl_writer *w, const struct kl_writer_job *j)
{
	struct kl_metrics *m = w->metrics;
	if (!m)
		return;
	uint64_t data = 0, dead = 0, rescued = 0, out = w->store->bytes_committed;
	for (size_t i = 0; i < j->n; i++) {
		*(j->items[i].dead ? &dead : &data) += j->items[i].count;
		rescued += j->items[i].rescued;
	}
	ADD(m->stored, data);
	ADD(m->rescued, rescued);
	ADD(m->dead, dead);
	ADD(m->files, j->n);
	size_t bucket = 0;
	while (bucket + 1 < KL_METRICS_COMMIT_BUCKETS && j->n > kl_metrics_commit_le[bucket])
		bucket++;
	ADD(m->commits[bucket], 1);
	ADD(m->bytes_out, out - w->out_published);
	w->out_published = out;
	atomic_store_explicit(&m->last_commit_unix, (int64_t)time(NULL), memory_order_relaxed);
}

/* May job `j` join the batch of jobs first..before j (nfiles files)? Not
 * when a partition would get a second file: state.h's crash argument needs
 * at most one unrecorded file per partition, as a single job has. */
static int batch_fits(const struct kl_writer_job *first, const struct kl_writer_job *j,
		      size_t nfiles)
{
	if (nfiles + j->n > BATCH_FILES)
		return 0;
	for (const struct kl_writer_job *b = first; b != j; b = b->next)
		for (size_t i = 0; i < b->n; i++)
			for (size_t k = 0; k < j->n; k++)
				if (b->items[i].key_len == j->items[k].key_len &&
				    !memcmp(b->items[i].key, j->items[k].key, b->items[i].key_len))
					return 0;
	return 1;
}

/* Record jobs first..last (all written and synced), in order: with the
 * checkpoint's commit_batch when it has one (one sync for all), else one
 * commit() each. */
static int record_batch(struct kl_writer *w, struct kl_writer_job *first,
			const struct kl_writer_job *last, size_t nfiles, struct kl_errbuf *eb)
{
	struct kl_checkpoint_file files[64], *fv = files;
	struct kl_checkpoint_job jobs[8], *jv = jobs;
	size_t njobs = 1;
	for (const struct kl_writer_job *j = first; j != last; j = j->next)
		njobs++;
	if (nfiles > sizeof files / sizeof files[0] && !(fv = malloc(nfiles * sizeof *fv)))
		return kl_errbuf_set(eb, KL_ENOMEM, "out of memory");
	if (njobs > sizeof jobs / sizeof jobs[0] && !(jv = malloc(njobs * sizeof *jv))) {
		if (fv != files)
			free(fv);
		return kl_errbuf_set(eb, KL_ENOMEM, "out of memory");
	}
	size_t n = 0, k = 0;
	for (struct kl_writer_job *j = first;; j = j->next) {
		jv[k++] =
		    (struct kl_checkpoint_job){fv + n, j->n, j->resume, j->window, j->checkpoint,
					       j->replay.known ? &j->replay : NULL};
		for (size_t i = 0; i < j->n; i++)
			fv[n++] = (struct kl_checkpoint_file){j->items[i].key, j->items[i].key_len,
							      j->items[i].last_pos};
		if (j == last)
			break;
	}
	int rc = KL_OK;
	if (w->cp->ops->commit_batch)
		rc = w->cp->ops->commit_batch(w->cp, jv, njobs);
	else
		for (size_t i = 0; i < njobs && !rc; i++)
			rc = w->cp->ops->commit(w->cp, &jv[i]);
	if (fv != files)
		free(fv);
	if (jv != jobs)
		free(jv);
	if (rc)
		return kl_errbuf_set(eb, rc, "%s", w->cp->err.msg);
	for (struct kl_writer_job *j = first;; j = j->next) {
		pthread_mutex_lock(&w->mu);
		for (size_t i = 0; i < j->n; i++) {
			*(j->items[i].dead ? &w->st->dead : &w->st->stored) += j->items[i].count;
			w->st->rescued += j->items[i].rescued;
		}
		w->st->files += j->n;
		pthread_mutex_unlock(&w->mu);
		publish(w, j);
		if (j == last)
			break;
	}
	return KL_OK;
}

/* Write every item of `first`, and of the jobs queued after it while they
 * fit (batch_fits), into the store: b->last, b->njobs, b->nfiles,
 * b->written, b->rc. The batch only takes jobs already queued, so no job
 * waits for a later one; finish() makes them all durable as a set with
 * one sync and then records their progress, job by job (commit/state.h
 * explains the order): a sync of the store (and of the state log) per
 * batch instead of per job, and commit_deferred()'s flushes overlap. */
static void write_batch(struct kl_writer *w, struct kl_writer_batch *b)
{
	struct kl_writer_job *j = b->first;
	int rc = KL_OK;
	for (;;) {
		b->last = j;
		b->njobs++;
		b->written = 0;
		while (b->written < j->n && !(rc = write_item(w, &j->items[b->written])))
			b->written++;
		b->nfiles += b->written;
		if (rc)
			break;
		pthread_mutex_lock(&w->mu);
		struct kl_writer_job *next = j->next;
		pthread_mutex_unlock(&w->mu);
		if (!next || !batch_fits(b->first, next, b->nfiles))
			break;
		j = next;
	}
	b->rc = rc;
}

/* Batch b's files are synced (sync_rc): mark the first `landed` of them
 * durable, and record the batch unless its writing or the sync failed (a
 * failed writing's files are synced too: those committed before the
 * failure become durable; after a failed sync, those the store reports as
 * landed, store.h: landed_after()). */
static int finish(struct kl_writer *w, struct kl_writer_batch *b, int sync_rc, uint64_t landed,
		  struct kl_errbuf *eb)
{
	for (struct kl_writer_job *j = b->first; landed;) {
		for (size_t i = 0; i < (j == b->last ? b->written : j->n) && landed; i++, landed--)
			j->items[i].durable = 1;
		if (j == b->last)
			break;
		j = j->next;
	}
	if (b->rc)
		return b->rc;
	if (sync_rc)
		return kl_errbuf_set(eb, sync_rc, "%s", w->store->err.msg);
	return record_batch(w, b->first, b->last, b->nfiles, eb);
}

/* How many of a batch's files a sync that returned sync_rc made durable:
 * all of them, or after a failure those the store reports (store.h). */
static uint64_t landed_after(const struct kl_writer *w, int sync_rc)
{
	return sync_rc ? w->store->landed : UINT64_MAX;
}

static int finish_after_sync(void *ctx, int sync_rc)
{
	struct kl_writer *w = ctx;
	return finish(w, &w->sb, sync_rc, landed_after(w, sync_rc), &w->sy_eb);
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

/* The first njobs jobs of the queue end, in order: settled, freed, their
 * charge given back. After a failure (rc) the writer has failed. */
static void batch_end(struct kl_writer *w, size_t njobs, int rc)
{
	for (size_t k = 0; k < njobs; k++) {
		pthread_mutex_lock(&w->mu);
		struct kl_writer_job *j = w->head; /* only this thread removes jobs */
		pthread_mutex_unlock(&w->mu);
		job_settle(w, j);
		pthread_mutex_lock(&w->mu);
		if (rc) /* later jobs are dropped: their data stays in the input */
			w->failed = 1;
		w->head = j->next;
		if (!w->head)
			w->tail = NULL;
		w->queued--;
		if (w->metrics)
			atomic_fetch_sub(&w->metrics->flushes_pending, 1);
		w->inflight -= j->bytes;
		if (w->budget && w->defer_release)
			w->released += j->bytes; /* the reader gives it back (wait_memory) */
		else if (w->budget)
			kl_budget_sub(w->budget, j->bytes);
		job_free(w, j);
		if (w->space_waiters)
			pthread_cond_broadcast(&w->space_cv);
		pthread_mutex_unlock(&w->mu);
	}
}

/* The syncer thread (overlap): batch by batch as the writer hands them
 * over, sync_finish() (its files durable and visible; finish() records
 * them while the store's claim holds the next files back), then the jobs
 * end. The writer meanwhile writes the next batch. */
static void *sync_main(void *arg)
{
	struct kl_writer *w = arg;
	pthread_mutex_lock(&w->mu);
	for (;;) {
		while (w->sb_state != SB_HANDED && !w->sync_stop)
			pthread_cond_wait(&w->sync_cv, &w->mu);
		if (w->sb_state != SB_HANDED)
			break;
		w->sb_state = SB_RUNNING;
		pthread_mutex_unlock(&w->mu);
		struct kl_writer_batch *b = &w->sb;
		int rc = KL_OK;
		if (b->synced)
			rc = w->store->ops->sync_finish(w->store, finish_after_sync, w);
		else if (!b->drop) /* no files, or no sync_begin(): none durable,
				    * whatever an earlier sync left in `landed` */
			rc = finish(w, b, b->nfiles ? KL_EIO : KL_OK, b->nfiles ? 0 : UINT64_MAX,
				    &w->sy_eb);
		pthread_mutex_lock(&w->mu);
		if (rc && !w->eb->code) /* the first error: the writer's or this thread's */
			*w->eb = b->rc ? w->wr_eb : w->sy_eb;
		pthread_mutex_unlock(&w->mu);
		batch_end(w, b->njobs, rc);
		pthread_mutex_lock(&w->mu);
		if (rc && w->space_waiters)
			pthread_cond_broadcast(&w->space_cv);
		w->sb_state = SB_IDLE;
		pthread_cond_broadcast(&w->sync_cv);
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

/* Overlap: hand batch b to the syncer once it is idle (the batch before
 * is recorded and ended), its files taken as the store's next set. Under
 * the writer's mutex; returns with it held. */
static void hand_over_batch(struct kl_writer *w, struct kl_writer_batch *b)
{
	while (w->sb_state != SB_IDLE)
		pthread_cond_wait(&w->sync_cv, &w->mu);
	/* after a failure the files written meanwhile stay in the store's
	 * queue: never synced, never visible (store.h free()) */
	if (w->failed) {
		b->drop = 1;
	} else if (!b->drop && b->nfiles) {
		pthread_mutex_unlock(&w->mu);
		int rc = w->store->ops->sync_begin(w->store);
		if (rc && !b->rc)
			b->rc = kl_errbuf_set(w->web, rc, "%s", w->store->err.msg);
		b->synced = !rc;
		pthread_mutex_lock(&w->mu);
	}
	w->sb = *b;
	w->sb_state = SB_HANDED;
	pthread_cond_broadcast(&w->sync_cv);
}

static void *writer_main(void *arg)
{
	struct kl_writer *w = arg;
	pthread_mutex_lock(&w->mu);
	for (;;) {
		while (!w->run && !w->stop)
			pthread_cond_wait(&w->cv, &w->mu);
		if (!w->run)
			break;
		struct kl_writer_batch b = {.first = w->run, .last = w->run, .njobs = 1};
		int failed = w->failed || w->wfailed;
		pthread_mutex_unlock(&w->mu);
		if (failed) {
			b.drop = 1;
		} else {
			b.njobs = 0;
			write_batch(w, &b);
		}
		if (!w->overlap) {
			int rc = KL_OK;
			if (!b.drop) {
				int sync_rc = b.nfiles ? w->store->ops->sync(w->store) : KL_OK;
				rc = finish(w, &b, sync_rc, landed_after(w, sync_rc), w->eb);
			}
			if (w->un.work.cap > WORK_KEEP)
				kl_buf_shrink(&w->un.work, WORK_KEEP);
			pthread_mutex_lock(&w->mu);
			w->run = b.last->next;
			pthread_mutex_unlock(&w->mu);
			batch_end(w, b.njobs, rc);
			pthread_mutex_lock(&w->mu);
			continue;
		}
		if (w->un.work.cap > WORK_KEEP)
			kl_buf_shrink(&w->un.work, WORK_KEEP);
		pthread_mutex_lock(&w->mu);
		w->run = b.last->next;
		if (b.rc)
			w->wfailed = 1;
		hand_over_batch(w, &b);
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
	pthread_cond_init(&w->enc_cv, NULL);
	pthread_cond_init(&w->done_cv, NULL);
	pthread_cond_init(&w->space_cv, NULL);
	pthread_cond_init(&w->sync_cv, NULL);
	w->store = store;
	w->data_enc = data_enc;
	w->dead_enc = dead_enc;
	w->cp = cp;
	w->st = st;
	w->metrics = metrics;
	w->eb = eb;
	w->web = eb;
	w->out_published = store->bytes_committed;
	kl_buf_init(&w->name, 0);
	kl_buf_init(&w->un.work, 0);
	kl_buf_init(&w->un.stage, 0);
}

/* Can encoder threads use copies of enc? (clone(), and hand_over() when
 * there is something to publish) */
static int can_copy(const struct kl_encoder *enc)
{
	return enc->ops->clone && (!enc->ops->publish || enc->ops->hand_over);
}

int kl_writer_parallel(struct kl_writer *w, size_t n)
{
	if (n <= 1 || !can_copy(w->data_enc) || !can_copy(w->dead_enc))
		return KL_OK;
	if (!(w->enc = calloc(n, sizeof *w->enc)))
		return kl_errbuf_set(w->eb, KL_ENOMEM, "out of memory");
	w->nenc = w->nenc_alloc = n;
	for (size_t i = 0; i < n; i++) {
		struct kl_writer_enc *x = &w->enc[i];
		kl_buf_init(&x->un.work, 0);
		kl_buf_init(&x->un.stage, 0);
		x->data_enc = w->data_enc->ops->clone(w->data_enc);
		x->dead_enc = w->dead_enc->ops->clone(w->dead_enc);
		if (!x->data_enc || !x->dead_enc)
			return kl_errbuf_set(w->eb, KL_ENOMEM, "out of memory");
	}
	return KL_OK;
}

static void enc_join(struct kl_writer *w)
{
	pthread_mutex_lock(&w->mu);
	w->enc_stop = 1;
	pthread_cond_broadcast(&w->enc_cv);
	pthread_mutex_unlock(&w->mu);
	for (size_t i = 0; i < w->nenc_created; i++)
		pthread_join(w->enc[i].thread, NULL);
	w->nenc_created = 0;
}

static void sync_join(struct kl_writer *w)
{
	if (!w->sync_created)
		return;
	pthread_mutex_lock(&w->mu);
	w->sync_stop = 1; /* after the batch handed last */
	pthread_cond_broadcast(&w->sync_cv);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->sync_thread, NULL);
	w->sync_created = 0;
}

int kl_writer_start(struct kl_writer *w)
{
	w->hold_max = KL_WRITER_HOLD_BYTES;
	if (w->budget && w->budget->limit / 8 < w->hold_max)
		w->hold_max = w->budget->limit / 8;
	for (size_t i = 0; i < w->nenc; i++) {
		if (pthread_create(&w->enc[i].thread, NULL, enc_main, w)) {
			/* the ones started wait for files; stop them */
			pthread_mutex_lock(&w->mu);
			w->nenc = 0;
			pthread_mutex_unlock(&w->mu);
			return kl_errbuf_set(w->eb, KL_ENOMEM, "cannot start an encoder thread");
		}
		w->nenc_created++;
		pthread_setname_np(w->enc[i].thread, "kl-encode");
	}
	/* a store that syncs in two steps: a thread of its own for them */
	if (w->store->ops->sync_begin && w->store->ops->sync_finish &&
	    w->store->ops->commit_deferred) {
		if (pthread_create(&w->sync_thread, NULL, sync_main, w))
			return kl_errbuf_set(w->eb, KL_ENOMEM, "cannot start the sync thread");
		pthread_setname_np(w->sync_thread, "kl-sync");
		w->sync_created = 1;
		w->overlap = 1;
		w->web = &w->wr_eb;
	}
	if (pthread_create(&w->thread, NULL, writer_main, w))
		return kl_errbuf_set(w->eb, KL_ENOMEM, "cannot start the writer thread");
	pthread_setname_np(w->thread, "kl-writer");
	w->started = 1;
	return KL_OK;
}

int kl_writer_queue(struct kl_writer *w, struct kl_writer_job *j, size_t max_jobs)
{
	pthread_mutex_lock(&w->mu);
	while (w->queued >= max_jobs && !w->failed) {
		w->space_waiters++;
		pthread_cond_wait(&w->space_cv, &w->mu);
		w->space_waiters--;
	}
	int failed = w->failed;
	if (!failed) {
		if (w->tail)
			w->tail->next = j;
		else
			w->head = j;
		w->tail = j;
		if (!w->run) {
			w->run = j;
			pthread_cond_signal(&w->cv); /* only the writer waits there */
		}
		if (w->nenc && !w->enc_job) { /* every earlier file is handed out */
			w->enc_job = j;
			w->enc_item = 0;
			if (w->enc_idle) /* enc_main passes the wake-up on */
				pthread_cond_signal(&w->enc_cv);
		}
		w->queued++;
		if (w->metrics)
			atomic_fetch_add(&w->metrics->flushes_pending, 1);
		w->inflight += j->bytes;
		if (w->budget)
			kl_budget_add(w->budget, j->bytes);
	}
	pthread_mutex_unlock(&w->mu);
	if (failed) {
		job_free(w, j);
		return w->eb->code ? w->eb->code : KL_EIO;
	}
	return KL_OK;
}

void kl_writer_wait_memory(struct kl_writer *w, const struct kl_budget *b)
{
	pthread_mutex_lock(&w->mu);
	/* deferred: every queued job, whatever b says (then all they held) */
	while (w->queued && !w->failed && (w->defer_release || kl_budget_over(b))) {
		w->space_waiters++;
		pthread_cond_wait(&w->space_cv, &w->mu);
		w->space_waiters--;
	}
	if (w->defer_release && !w->queued && w->released) {
		kl_budget_sub(w->budget, w->released);
		w->released = 0;
	}
	pthread_mutex_unlock(&w->mu);
}

void kl_writer_charge(struct kl_writer *w, size_t n)
{
	if (!w->budget || !w->defer_release || !n)
		return;
	pthread_mutex_lock(&w->mu);
	w->released += n;
	kl_budget_add(w->budget, n);
	pthread_mutex_unlock(&w->mu);
}

/* Finished jobs' charges not given back yet (defer_release): back to the
 * budget once no thread of the writer runs. */
static void give_back_released(struct kl_writer *w)
{
	if (w->budget && w->released)
		kl_budget_sub(w->budget, w->released);
	w->released = 0;
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
	sync_join(w);
	enc_join(w);
	give_back_released(w);
	return w->failed ? (w->eb->code ? w->eb->code : KL_EIO) : KL_OK;
}

void kl_writer_cleanup(struct kl_writer *w)
{
	kl_writer_join(w);
	sync_join(w);
	enc_join(w);
	for (size_t i = 0; w->enc && i < w->nenc_alloc; i++) {
		struct kl_writer_enc *x = &w->enc[i];
		kl_encoder_free(x->data_enc);
		kl_encoder_free(x->dead_enc);
		kl_buf_cleanup(&x->un.work);
		kl_buf_cleanup(&x->un.stage);
		kl_blocks_zctx_cleanup(&x->un.zctx);
	}
	free(w->enc);
	for (struct kl_writer_job *j = w->head, *n; j; j = n) {
		n = j->next;
		for (size_t i = 0; i < j->n; i++) /* the writer never ran: bodies may wait */
			if (j->items[i].enc_state == KL_WRITER_ITEM_ENCODED)
				body_release(w, &j->items[i]);
		if (w->budget)
			kl_budget_sub(w->budget, j->bytes);
		if (w->metrics)
			atomic_fetch_sub(&w->metrics->flushes_pending, 1);
		job_free(w, j);
	}
	give_back_released(w);
	while (w->free_bodies) {
		struct kl_writer_body *b = w->free_bodies;
		w->free_bodies = b->next;
		body_free(b);
	}
	w->head = w->tail = NULL;
	kl_buf_cleanup(&w->name);
	kl_buf_cleanup(&w->un.work);
	kl_buf_cleanup(&w->un.stage);
	kl_blocks_zctx_cleanup(&w->un.zctx);
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->cv);
	pthread_cond_destroy(&w->enc_cv);
	pthread_cond_destroy(&w->done_cv);
	pthread_cond_destroy(&w->space_cv);
	pthread_cond_destroy(&w->sync_cv);
}
