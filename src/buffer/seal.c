/* seal.c — see seal.h. Indices count jobs since the pool began; a job's
 * place in the ring is its index modulo the ring's size. */
#include "buffer/seal.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

enum { JOB_FREE, JOB_QUEUED, JOB_RUNNING, JOB_DONE };

/* jobs in the ring: KL_SEAL_JOBS_PER_THREAD per worker (seal.h) and at
 * least this many in all: a ring that fills makes the owner
 * (the pipeline's reader, the one serial stage) compress blocks itself.
 * JSON lines, 1M events, 2 threads: with 8 jobs the reader spent about
 * half of its time in zstd; 64 jobs: wall A/B 0.91 against 8, no gain
 * from 128 or 256 (bench/README.md, session 39). The jobs are charged to
 * the budget at their frames' upper bound until settled. */
#define JOBS_MIN 64
/* jobs waiting before a sleeping worker is woken (the owner compresses
 * what is left when it needs a result: nothing waits for ever) */
#define WAKE_BATCH 4

struct seal_worker {
	pthread_t thread;
	struct kl_seal_pool *pool;
	struct kl_blocks_zctx zctx;
};

struct kl_seal_pool {
	pthread_mutex_t mu;
	pthread_cond_t work; /* workers wait here for jobs */
	pthread_cond_t done; /* the owner waits here for the oldest job */
	struct kl_seal_job *ring;
	size_t cap;
	/* tail <= take <= head: [tail, head) is pushed and not popped, jobs
	 * before `take` have been taken; head and tail move on the owner's
	 * thread only (head under the mutex) */
	uint64_t head, tail, take;
	int stop;
	struct seal_worker *w;
	size_t nw; /* started */
};

static void run_job(struct kl_seal_job *j, struct kl_blocks_zctx *x)
{
	j->z = NULL;
	j->zlen = 0;
	j->rc = kl_blocks_frame(x, j->level, j->raw.data, j->raw.len, &j->z, &j->zlen);
	if (j->rc)
		j->z = NULL;
}

/* Under the mutex: take the next pushed job and compress it with x
 * (unlocking meanwhile). 0 if there is none. */
static int take_one(struct kl_seal_pool *sp, struct kl_blocks_zctx *x)
{
	if (sp->take == sp->head)
		return 0;
	struct kl_seal_job *j = &sp->ring[sp->take++ % sp->cap];
	j->state = JOB_RUNNING;
	pthread_mutex_unlock(&sp->mu);
	run_job(j, x);
	pthread_mutex_lock(&sp->mu);
	j->state = JOB_DONE;
	pthread_cond_broadcast(&sp->done);
	return 1;
}

static void *worker_main(void *arg)
{
	struct seal_worker *w = arg;
	struct kl_seal_pool *sp = w->pool;
	pthread_mutex_lock(&sp->mu);
	while (!sp->stop)
		if (!take_one(sp, &w->zctx))
			pthread_cond_wait(&sp->work, &sp->mu);
	pthread_mutex_unlock(&sp->mu);
	return NULL;
}

int kl_seal_pool_new(struct kl_seal_pool **out, size_t nthreads, struct kl_errbuf *eb)
{
	*out = NULL;
	if (nthreads < 1)
		nthreads = 1;
	struct kl_seal_pool *sp = calloc(1, sizeof *sp);
	if (!sp)
		return kl_errbuf_set(eb, KL_ENOMEM, "out of memory");
	sp->cap = nthreads * KL_SEAL_JOBS_PER_THREAD > JOBS_MIN ? nthreads * KL_SEAL_JOBS_PER_THREAD
								: JOBS_MIN;
	sp->ring = calloc(sp->cap, sizeof *sp->ring);
	sp->w = calloc(nthreads, sizeof *sp->w);
	pthread_mutex_init(&sp->mu, NULL);
	pthread_cond_init(&sp->work, NULL);
	pthread_cond_init(&sp->done, NULL);
	if (!sp->ring || !sp->w) {
		kl_seal_pool_free(sp);
		return kl_errbuf_set(eb, KL_ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < sp->cap; i++)
		kl_buf_init(&sp->ring[i].raw, 0);
	for (size_t i = 0; i < nthreads; i++) {
		sp->w[i].pool = sp;
		if (pthread_create(&sp->w[i].thread, NULL, worker_main, &sp->w[i])) {
			kl_seal_pool_free(sp);
			return kl_errbuf_set(eb, KL_ENOMEM, "cannot start a sealing thread");
		}
		sp->nw++;
		pthread_setname_np(sp->w[i].thread, "kl-seal");
	}
	*out = sp;
	return KL_OK;
}

void kl_seal_pool_free(struct kl_seal_pool *sp)
{
	if (!sp)
		return;
	pthread_mutex_lock(&sp->mu);
	sp->stop = 1;
	pthread_cond_broadcast(&sp->work);
	pthread_mutex_unlock(&sp->mu);
	for (size_t i = 0; i < sp->nw; i++)
		pthread_join(sp->w[i].thread, NULL);
	/* no thread is left: whatever the ring holds, done or not, goes */
	for (uint64_t i = sp->tail; sp->ring && i < sp->head; i++) {
		struct kl_seal_job *j = &sp->ring[i % sp->cap];
		free(j->z);
		kl_buf_cleanup(&j->raw);
	}
	for (size_t i = 0; sp->w && i < sp->nw; i++)
		kl_blocks_zctx_cleanup(&sp->w[i].zctx);
	pthread_mutex_destroy(&sp->mu);
	pthread_cond_destroy(&sp->work);
	pthread_cond_destroy(&sp->done);
	free(sp->w);
	free(sp->ring);
	free(sp);
}

size_t kl_seal_pool_pending(const struct kl_seal_pool *sp)
{
	return (size_t)(sp->head - sp->tail);
}

size_t kl_seal_pool_cap(const struct kl_seal_pool *sp)
{
	return sp->cap;
}

struct kl_seal_job *kl_seal_pool_head(struct kl_seal_pool *sp)
{
	return &sp->ring[sp->head % sp->cap];
}

void kl_seal_pool_push(struct kl_seal_pool *sp)
{
	pthread_mutex_lock(&sp->mu);
	sp->ring[sp->head % sp->cap].state = JOB_QUEUED;
	sp->head++;
	/* a worker is woken for a batch, not for each job: a wake-up may
	 * preempt the owner, and an awake worker takes every job queued */
	if (sp->head - sp->take >= WAKE_BATCH)
		pthread_cond_signal(&sp->work);
	pthread_mutex_unlock(&sp->mu);
}

struct kl_seal_job *kl_seal_pool_oldest(struct kl_seal_pool *sp, struct kl_blocks_zctx *help)
{
	if (sp->tail == sp->head)
		return NULL;
	struct kl_seal_job *j = &sp->ring[sp->tail % sp->cap];
	pthread_mutex_lock(&sp->mu);
	while (help && j->state != JOB_DONE)
		if (!take_one(sp, help)) /* every job is taken: wait for the oldest */
			pthread_cond_wait(&sp->done, &sp->mu);
	int done = j->state == JOB_DONE;
	pthread_mutex_unlock(&sp->mu);
	return done ? j : NULL;
}

void kl_seal_pool_pop(struct kl_seal_pool *sp)
{
	struct kl_seal_job *j = &sp->ring[sp->tail % sp->cap];
	free(j->z);
	kl_buf_cleanup(&j->raw);
	j->z = NULL;
	j->state = JOB_FREE;
	sp->tail++;
}
