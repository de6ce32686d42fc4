/* keeper.c — see keeper.h. */
#include "lease/keeper.h"
#include "core/clock.h"

#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

void kl_lease_default_worker_id(char *out, size_t cap)
{
	char host[128] = "host";
	if (gethostname(host, sizeof host - 1))
		snprintf(host, sizeof host, "host");
	host[sizeof host - 1] = '\0';
	uint32_t r = 0;
	if (getrandom(&r, sizeof r, 0) != (ssize_t)sizeof r)
		r = (uint32_t)kl_mono_ns();
	snprintf(out, cap, "%s:%d:%08x", host, (int)getpid(), r);
}

static int64_t now_ms(const struct kl_lease_keeper *k)
{
	return k->m.clock.now_ms ? k->m.clock.now_ms(k->m.clock.ctx) : kl_mono_ms();
}

int kl_lease_keeper_init(struct kl_lease_keeper *k, const struct kl_lease_keeper_opts *o,
			 struct kl_errbuf *eb)
{
	memset(k, 0, sizeof *k);
	int64_t timeout = o->timeout_ms > 0 ? o->timeout_ms : 10000;
	k->renew_ms = o->renew_ms > 0 ? o->renew_ms : timeout / 3;
	k->take_ms = o->take_ms > 0 ? o->take_ms : timeout;
	if (k->renew_ms >= timeout)
		return kl_errbuf_set(eb, KL_EINVAL,
				     "--lease-renew-interval must be shorter than --lease-timeout");
	if (o->worker_id)
		snprintf(k->worker_id, sizeof k->worker_id, "%s", o->worker_id);
	else
		kl_lease_default_worker_id(k->worker_id, sizeof k->worker_id);
	int rc = kl_ddb_init(&k->ddb, o->region, eb);
	if (rc)
		return rc;
	if ((rc = kl_ddb_init(&k->rddb, o->region, eb))) {
		kl_ddb_cleanup(&k->ddb);
		return rc;
	}
	/* a renewal fails, and is sent again, well within the timeout: each
	 * attempt gets less than a third of it, two attempts a round
	 * (keeper.h); no less, as a loaded server answers in up to a second */
	k->rddb.rpc.attempt_timeout_ms = timeout * 3 / 10 > 200 ? timeout * 3 / 10 : 200;
	k->rddb.rpc.policy = (struct kl_retry_policy){50, 250, 2};
	kl_lease_conn_init(&k->rc, &k->rddb);
	pthread_mutex_init(&k->mu, NULL);
	pthread_mutex_init(&k->st, NULL);
	pthread_cond_init(&k->cv, NULL);
	pthread_cond_init(&k->rcv, NULL);
	struct kl_lease_opts lo = {0};
	lo.table = o->table;
	lo.worker_id = k->worker_id;
	lo.timeout_ms = timeout;
	lo.max_leases = o->max_leases;
	lo.initial_checkpoint = o->initial_checkpoint;
	lo.clock = o->clock;
	lo.ddb = &k->ddb;
	lo.state_lock = &k->st;
	if ((rc = kl_lease_mgr_init(&k->m, &lo, eb))) {
		pthread_cond_destroy(&k->rcv);
		pthread_cond_destroy(&k->cv);
		pthread_mutex_destroy(&k->st);
		pthread_mutex_destroy(&k->mu);
		kl_lease_conn_cleanup(&k->rc);
		kl_ddb_cleanup(&k->rddb);
		kl_ddb_cleanup(&k->ddb);
		k->m.ddb = NULL;
		return rc;
	}
	return KL_OK;
}

void kl_lease_keeper_cleanup(struct kl_lease_keeper *k)
{
	if (!k->m.ddb)
		return;
	kl_lease_keeper_thread_stop(k);
	pthread_cond_destroy(&k->rcv);
	pthread_cond_destroy(&k->cv);
	kl_lease_mgr_cleanup(&k->m);
	kl_lease_conn_cleanup(&k->rc);
	kl_ddb_cleanup(&k->rddb);
	kl_ddb_cleanup(&k->ddb);
	pthread_mutex_destroy(&k->st);
	pthread_mutex_destroy(&k->mu);
	k->m.ddb = NULL;
}

/* An operation of the manager's on its main client: mu, then st. */
static void op_lock(struct kl_lease_keeper *k)
{
	pthread_mutex_lock(&k->mu);
	pthread_mutex_lock(&k->st);
}

static void op_unlock(struct kl_lease_keeper *k)
{
	pthread_mutex_unlock(&k->st);
	pthread_mutex_unlock(&k->mu);
}

int kl_lease_keeper_start(struct kl_lease_keeper *k, int64_t wait_ms, struct kl_errbuf *eb)
{
	op_lock(k);
	int rc = kl_lease_ensure_table(&k->m, wait_ms, NULL, eb);
	op_unlock(k);
	return rc;
}

int kl_lease_keeper_sync(struct kl_lease_keeper *k, const struct kl_lease_shard *s, size_t n,
			 struct kl_errbuf *eb)
{
	op_lock(k);
	unsigned added = 0;
	int rc = kl_lease_refresh(&k->m, eb);
	rc = rc ? rc : kl_lease_sync_shards(&k->m, s, n, &added, eb);
	if (added) { /* new rows: take at the next tick, not a take interval later */
		k->took_once = 0;
		pthread_cond_broadcast(&k->cv);
	}
	op_unlock(k);
	return rc;
}

/* Renew when due (st held; let go during the requests). */
static int renew_due(struct kl_lease_keeper *k, struct kl_errbuf *eb)
{
	int64_t now = now_ms(k);
	if (!k->m.stats.held || now - k->last_renew < k->renew_ms)
		return KL_OK;
	k->last_renew = now;
	return kl_lease_renew_via(&k->m, &k->rc, eb);
}

/* Scan and take when due (mu and st held). */
static int take_due(struct kl_lease_keeper *k, struct kl_errbuf *eb)
{
	int64_t now = now_ms(k);
	/* waiting for a lease it asked for: look every renew interval */
	int64_t every = kl_lease_awaiting(&k->m) ? k->renew_ms : k->take_ms;
	if (k->took_once && now - k->last_take < every)
		return KL_OK;
	k->took_once = 1;
	k->last_take = now;
	int rc = kl_lease_take(&k->m, NULL, eb);
	if (k->m.stats.held && !k->last_renew)
		k->last_renew = now;
	k->rounds += !rc;
	return rc;
}

uint64_t kl_lease_keeper_take_soon(struct kl_lease_keeper *k)
{
	op_lock(k);
	k->took_once = 0;
	uint64_t ticket = k->rounds;
	pthread_cond_broadcast(&k->cv);
	op_unlock(k);
	return ticket;
}

int kl_lease_keeper_took_since(struct kl_lease_keeper *k, uint64_t ticket)
{
	pthread_mutex_lock(&k->st);
	int done = k->rounds > ticket;
	pthread_mutex_unlock(&k->st);
	return done;
}

int kl_lease_keeper_tick(struct kl_lease_keeper *k, struct kl_errbuf *eb)
{
	op_lock(k);
	int rc = renew_due(k, eb);
	int trc = take_due(k, eb);
	op_unlock(k);
	return rc ? rc : trc;
}

static void *taker_main(void *arg)
{
	struct kl_lease_keeper *k = arg;
	pthread_mutex_lock(&k->mu);
	while (!k->thread_stop) {
		/* an error is not fatal (keeper.h, tick): the next round tries again */
		struct kl_errbuf eb;
		kl_errbuf_clear(&eb);
		pthread_mutex_lock(&k->st);
		take_due(k, &eb);
		pthread_mutex_unlock(&k->st);
		if (k->thread_stop)
			break;
		struct timespec ts = kl_realtime_after_ms(100);
		pthread_cond_timedwait(&k->cv, &k->mu, &ts);
	}
	pthread_mutex_unlock(&k->mu);
	return NULL;
}

/* Renewals: st only, never mu (keeper.h). */
static void *renewer_main(void *arg)
{
	struct kl_lease_keeper *k = arg;
	pthread_mutex_lock(&k->st);
	while (!k->thread_stop) {
		struct kl_errbuf eb;
		kl_errbuf_clear(&eb);
		renew_due(k, &eb); /* not fatal either: lost leases are counted */
		if (k->thread_stop)
			break;
		int64_t wait = 100;
		if (k->m.stats.held) { /* wake up when the next round is due */
			int64_t due = k->last_renew + k->renew_ms - now_ms(k);
			wait = due < 1 ? 1 : due < wait ? due : wait;
		}
		struct timespec ts = kl_realtime_after_ms(wait);
		pthread_cond_timedwait(&k->rcv, &k->st, &ts);
	}
	pthread_mutex_unlock(&k->st);
	return NULL;
}

static void threads_stop(struct kl_lease_keeper *k)
{
	op_lock(k);
	k->thread_stop = 1;
	pthread_cond_broadcast(&k->cv);
	pthread_cond_broadcast(&k->rcv);
	op_unlock(k);
}

int kl_lease_keeper_thread_start(struct kl_lease_keeper *k)
{
	if (k->thread_on)
		return KL_OK;
	k->thread_stop = 0;
	if (pthread_create(&k->renewer, NULL, renewer_main, k))
		return KL_ENOMEM;
	if (pthread_create(&k->taker, NULL, taker_main, k)) {
		threads_stop(k);
		pthread_join(k->renewer, NULL);
		return KL_ENOMEM;
	}
	k->thread_on = 1;
	return KL_OK;
}

void kl_lease_keeper_thread_stop(struct kl_lease_keeper *k)
{
	if (!k->thread_on)
		return;
	threads_stop(k);
	pthread_join(k->taker, NULL);
	pthread_join(k->renewer, NULL);
	k->thread_on = 0;
}

/* ---- readers: st only ---- */

int kl_lease_keeper_holds(struct kl_lease_keeper *k, const char *shard)
{
	pthread_mutex_lock(&k->st);
	int h = kl_lease_holds(&k->m, shard);
	pthread_mutex_unlock(&k->st);
	return h;
}

int kl_lease_keeper_held_counter(struct kl_lease_keeper *k, const char *shard, int64_t *counter)
{
	pthread_mutex_lock(&k->st);
	const struct kl_lease *l = kl_lease_get(&k->m, shard);
	int h = l && kl_lease_holds(&k->m, shard);
	if (h)
		*counter = l->counter;
	pthread_mutex_unlock(&k->st);
	return h;
}

uint64_t kl_lease_keeper_tenure(struct kl_lease_keeper *k, const char *shard)
{
	pthread_mutex_lock(&k->st);
	uint64_t t = kl_lease_tenure(&k->m, shard);
	pthread_mutex_unlock(&k->st);
	return t;
}

int kl_lease_keeper_holds_tenure(struct kl_lease_keeper *k, const char *shard, uint64_t tenure)
{
	return tenure && kl_lease_keeper_tenure(k, shard) == tenure;
}

int kl_lease_keeper_shed(struct kl_lease_keeper *k, const char *shard)
{
	pthread_mutex_lock(&k->st);
	int rc = kl_lease_shed(&k->m, shard);
	pthread_mutex_unlock(&k->st);
	return rc;
}

void kl_lease_keeper_stats(struct kl_lease_keeper *k, struct kl_lease_stats *out)
{
	pthread_mutex_lock(&k->st);
	*out = k->m.stats;
	pthread_mutex_unlock(&k->st);
}

/* ---- operations: mu, then st ---- */

int kl_lease_keeper_checkpoint(struct kl_lease_keeper *k, const char *shard, uint64_t tenure,
			       const char *checkpoint, struct kl_errbuf *eb)
{
	op_lock(k);
	int rc = kl_lease_checkpoint(&k->m, shard, tenure, checkpoint, 0, eb);
	op_unlock(k);
	return rc;
}

int kl_lease_keeper_release(struct kl_lease_keeper *k, const char *shard, uint64_t tenure,
			    const char *checkpoint, struct kl_errbuf *eb)
{
	op_lock(k);
	int rc = tenure && kl_lease_tenure(&k->m, shard) != tenure
		     ? kl_errbuf_set(eb, KL_ENOTFOUND, "release %s: lease held anew", shard)
		     : kl_lease_release(&k->m, shard, checkpoint, 0, eb);
	op_unlock(k);
	return rc;
}

int kl_lease_keeper_release_all(struct kl_lease_keeper *k, struct kl_errbuf *eb)
{
	op_lock(k);
	int rc = kl_lease_release_all(&k->m, eb);
	op_unlock(k);
	return rc;
}

int kl_lease_keeper_forgo(struct kl_lease_keeper *k, const char *shard)
{
	op_lock(k);
	int rc = kl_lease_forgo(&k->m, shard);
	op_unlock(k);
	return rc;
}

void kl_lease_keeper_drain(struct kl_lease_keeper *k)
{
	op_lock(k);
	kl_lease_drain(&k->m);
	op_unlock(k);
}
