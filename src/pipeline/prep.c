/* prep.c — see prep.h. */
#include "pipeline/prep.h"
#include "dedup/dedup.h"
#include "route/partition.h"

#include <stdlib.h>
#include <string.h>

enum { CHUNK_FREE, CHUNK_FILLING, CHUNK_QUEUED, CHUNK_RUNNING, CHUNK_DONE };

int kl_prep_chunk_add(struct kl_prep_chunk *c, const char *p, size_t n, uint64_t pos,
		      uint64_t next_pos, int64_t arrival_ms)
{
	struct kl_prep_rec *r = &c->v[c->n];
	r->raw_off = c->raw.len;
	if (kl_buf_append(&c->raw, p, n))
		return KL_ENOMEM;
	r->raw_len = n;
	r->pos = pos;
	r->next_pos = next_pos;
	r->arrival_ms = arrival_ms;
	c->n++;
	return KL_OK;
}

static int put(struct kl_buf *out, const void *p, size_t n, size_t *off, size_t *len)
{
	*off = out->len;
	*len = n;
	return kl_buf_append(out, p, n);
}

/* The same decisions as the serial path in pipeline.c (prepare_serial). */
static int run_one(struct kl_prep_chunk *c, struct kl_prep_rec *r, struct kl_prep_ctx *x)
{
	struct kl_event *ev = &x->ev;
	const char *raw = kl_prep_raw(c, r);
	r->rej = kl_event_parse(ev, raw, r->raw_len, x->limits);
	r->key_off = r->uuid_off = r->body_off = r->msg_off = 0;
	r->key_len = r->uuid_len = r->body_len = r->msg_len = 0;
	r->err_offset = r->body_reserve = 0;
	r->sec = r->rej == KL_REJ_NONE ? ev->sec : 0;
	r->uuid_hash = r->rej == KL_REJ_NONE ? kl_dedup_hash(ev->uuid.p, ev->uuid.n) : 0;
	if (r->pos < x->resume) /* replayed: it only rebuilds the dedup window */
		return r->rej == KL_REJ_NONE ? put(&c->out, ev->uuid.p, ev->uuid.n, &r->uuid_off,
						    &r->uuid_len)
					     : KL_OK;
	kl_buf_reset(&x->key);
	if (r->rej != KL_REJ_NONE) {
		const char *dt = x->dead_dt;
		char rec_dt[11];
		if (r->arrival_ms > 0) {
			kl_partition_day(r->arrival_ms / 1000, rec_dt);
			dt = rec_dt;
		}
		r->err_offset = ev->err_offset;
		if (kl_partition_error(&x->key, kl_reject_name(r->rej), dt) ||
		    put(&c->out, ev->msg, strlen(ev->msg) + 1, &r->msg_off, &r->msg_len))
			return KL_ENOMEM;
		return put(&c->out, x->key.data, x->key.len, &r->key_off, &r->key_len);
	}
	if (kl_partition_event(&x->key, ev) ||
	    put(&c->out, x->key.data, x->key.len, &r->key_off, &r->key_len) ||
	    put(&c->out, ev->uuid.p, ev->uuid.n, &r->uuid_off, &r->uuid_len))
		return KL_ENOMEM;
	r->body_off = c->out.len;
	r->text_adj = 0;
	if (x->rows) {
		uint64_t json_len;
		r->body_reserve = kl_event_row_reserve(ev, r->raw_len);
		if (kl_event_write_row(ev, raw, r->raw_len, &c->out, &json_len))
			return KL_ENOMEM;
		r->body_len = c->out.len - r->body_off;
		r->text_adj = (int64_t)json_len - (int64_t)r->body_len;
		return KL_OK;
	}
	r->body_reserve = kl_event_json_reserve(ev, r->raw_len);
	if (kl_event_write_json(ev, raw, r->raw_len, &c->out))
		return KL_ENOMEM;
	r->body_len = c->out.len - r->body_off;
	return KL_OK;
}

void kl_prep_chunk_run(struct kl_prep_chunk *c, struct kl_prep_ctx *x)
{
	kl_buf_reset(&c->out);
	c->rc = KL_OK;
	for (size_t i = 0; i < c->n && !c->rc; i++)
		c->rc = run_one(c, &c->v[i], x);
}

void kl_prep_ctx_init(struct kl_prep_ctx *x, const struct kl_event_limits *limits,
		      const char *dead_dt, uint64_t resume)
{
	kl_event_init(&x->ev);
	kl_buf_init(&x->key, 0);
	x->limits = limits;
	x->dead_dt = dead_dt;
	x->resume = resume;
	x->rows = 0;
}

void kl_prep_ctx_cleanup(struct kl_prep_ctx *x)
{
	kl_event_cleanup(&x->ev);
	kl_buf_cleanup(&x->key);
}

/* --- the pool ------------------------------------------------------------ */

static void *worker_main(void *arg)
{
	struct kl_prep_pool *pl = arg;
	pthread_mutex_lock(&pl->mu);
	size_t me = pl->started++; /* which ctx is ours */
	for (;;) {
		struct kl_prep_chunk *c = NULL;
		while (!pl->stop && !(pl->next != pl->head &&
				      (c = pl->ring[pl->next % pl->nring])->state == CHUNK_QUEUED))
			pthread_cond_wait(&pl->work, &pl->mu);
		if (pl->stop)
			break;
		pl->next++;
		c->state = CHUNK_RUNNING;
		pthread_mutex_unlock(&pl->mu);
		kl_prep_chunk_run(c, &pl->ctx[me]);
		pthread_mutex_lock(&pl->mu);
		c->state = CHUNK_DONE;
		pthread_cond_broadcast(&pl->done);
	}
	pthread_mutex_unlock(&pl->mu);
	return NULL;
}

void kl_prep_pool_rows(struct kl_prep_pool *pl)
{
	for (size_t i = 0; i < pl->nctx; i++)
		pl->ctx[i].rows = 1;
}

int kl_prep_pool_init(struct kl_prep_pool *pl, size_t nthreads, size_t record_max,
		      const struct kl_event_limits *limits, const char *dead_dt, uint64_t resume,
		      struct kl_errbuf *eb)
{
	memset(pl, 0, sizeof *pl);
	pthread_mutex_init(&pl->mu, NULL);
	pthread_cond_init(&pl->work, NULL);
	pthread_cond_init(&pl->done, NULL);
	pl->record_max = record_max;
	pl->nring = nthreads + 2;
	if (pl->nring > KL_PREP_RING_MAX)
		pl->nring = KL_PREP_RING_MAX;
	pl->threads = calloc(nthreads, sizeof *pl->threads);
	pl->ctx = calloc(nthreads, sizeof *pl->ctx);
	if (!pl->threads || !pl->ctx)
		return kl_errbuf_set(eb, KL_ENOMEM, "out of memory");
	pl->nthreads = pl->nctx = nthreads;
	for (size_t i = 0; i < nthreads; i++)
		kl_prep_ctx_init(&pl->ctx[i], limits, dead_dt, resume);
	for (size_t i = 0; i < pl->nring; i++) {
		struct kl_prep_chunk *c = malloc(sizeof *c);
		if (!c)
			return kl_errbuf_set(eb, KL_ENOMEM, "out of memory");
		kl_buf_init(&c->raw, KL_PREP_BYTES + record_max);
		/* enriched bytes add < 1 KiB per record to its raw bytes */
		kl_buf_init(&c->out, 2 * (KL_PREP_BYTES + record_max) + (size_t)KL_PREP_RECS * 1024);
		c->n = 0;
		c->rc = KL_OK;
		c->state = CHUNK_FREE;
		pl->ring[i] = c;
	}
	return KL_OK;
}

int kl_prep_pool_start(struct kl_prep_pool *pl, struct kl_errbuf *eb)
{
	for (size_t i = 0; i < pl->nthreads; i++) {
		if (pthread_create(&pl->threads[i], NULL, worker_main, pl)) {
			pthread_mutex_lock(&pl->mu);
			pl->nthreads = i; /* join only those started */
			pthread_mutex_unlock(&pl->mu);
			return kl_errbuf_set(eb, KL_ENOMEM, "cannot start a parser thread");
		}
		pthread_setname_np(pl->threads[i], "kl-prep");
	}
	return KL_OK;
}

struct kl_prep_chunk *kl_prep_pool_fill(struct kl_prep_pool *pl)
{
	if (pl->head - pl->tail == pl->nring)
		return NULL;
	struct kl_prep_chunk *c = pl->ring[pl->head % pl->nring];
	/* FREE: only the owner touches it, no lock needed until submit */
	c->n = 0;
	kl_buf_reset(&c->raw);
	c->state = CHUNK_FILLING;
	return c;
}

void kl_prep_pool_submit(struct kl_prep_pool *pl)
{
	pthread_mutex_lock(&pl->mu);
	pl->ring[pl->head % pl->nring]->state = CHUNK_QUEUED;
	pl->head++;
	pthread_cond_signal(&pl->work);
	pthread_mutex_unlock(&pl->mu);
}

struct kl_prep_chunk *kl_prep_pool_oldest(struct kl_prep_pool *pl, int wait)
{
	struct kl_prep_chunk *c = NULL;
	pthread_mutex_lock(&pl->mu);
	if (pl->tail != pl->head) {
		c = pl->ring[pl->tail % pl->nring];
		while (wait && c->state != CHUNK_DONE)
			pthread_cond_wait(&pl->done, &pl->mu);
		if (c->state != CHUNK_DONE)
			c = NULL;
	}
	pthread_mutex_unlock(&pl->mu);
	return c;
}

void kl_prep_pool_release(struct kl_prep_pool *pl)
{
	struct kl_prep_chunk *c = pl->ring[pl->tail % pl->nring];
	/* a long record made this chunk large: give the memory back */
	kl_buf_shrink(&c->raw, 2 * KL_PREP_BYTES);
	kl_buf_shrink(&c->out, 4 * KL_PREP_BYTES);
	pthread_mutex_lock(&pl->mu);
	c->state = CHUNK_FREE;
	pl->tail++;
	pthread_mutex_unlock(&pl->mu);
}

size_t kl_prep_pool_inflight(struct kl_prep_pool *pl)
{
	return pl->head - pl->tail; /* both are the owner's */
}

void kl_prep_pool_cleanup(struct kl_prep_pool *pl)
{
	pthread_mutex_lock(&pl->mu);
	pl->stop = 1;
	pthread_cond_broadcast(&pl->work);
	pthread_mutex_unlock(&pl->mu);
	if (pl->threads)
		for (size_t i = 0; i < pl->nthreads; i++)
			pthread_join(pl->threads[i], NULL);
	if (pl->ctx)
		for (size_t i = 0; i < pl->nctx; i++)
			kl_prep_ctx_cleanup(&pl->ctx[i]);
	for (size_t i = 0; i < pl->nring; i++) {
		struct kl_prep_chunk *c = pl->ring[i];
		if (!c)
			continue;
		kl_buf_cleanup(&c->raw);
		kl_buf_cleanup(&c->out);
		free(c);
	}
	free(pl->threads);
	free(pl->ctx);
	pthread_mutex_destroy(&pl->mu);
	pthread_cond_destroy(&pl->work);
	pthread_cond_destroy(&pl->done);
	memset(pl, 0, sizeof *pl);
}
