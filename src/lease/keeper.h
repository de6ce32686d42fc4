/*
 * keeper.h — the lease manager on a schedule, shared by a stream's threads.
 *
 * A stream run (pipeline/stream.h) borrows one keeper. Two threads of the
 * keeper's own (kl_lease_keeper_thread_start) keep the leases:
 *   - the renewer renews the held leases every renew interval, with a
 *     DynamoDB client of its own, whose every attempt is limited to 0.3
 *     of the lease timeout (two attempts, then the next round);
 *   - the taker scans and takes every take interval (the first at once).
 * Shard threads ask whether their lease is still held and write fenced
 * checkpoints. Two locks:
 *   mu  serialises the manager's operations on its main client (scans,
 *       takes, checkpoints, releases, sync), held across their requests;
 *   st  the manager's state (lease.h, "Renewals on a thread of their
 *       own"): held only for memory work, let go during every request.
 * The renewer takes st only, so a renewal never waits for a scan or a
 * checkpoint (a run of checkpoints on a loaded machine kept them from the
 * single lock they once shared for 3.7 s); nor do the readers (holds,
 * tenure, shed, stats). Lock order: mu before st.
 *
 * Defaults, as the KCL's: lease timeout 10 s; renew every timeout / 3;
 * take every timeout (the KCL waits twice as long; kinlake balances
 * sooner, which a steal-one-per-take policy keeps calm), and every renew
 * interval while it waits for a lease it asked for (kl_lease_awaiting):
 * the owner lets go at its own next take, and the asker picks the free row
 * up within a third of a timeout instead of a whole one.
 *
 * Worker ids must be unique among live workers (the condition expressions
 * name the owner): the default is "<hostname>:<pid>:<random hex>".
 *
 * Ownership: the keeper owns its DynamoDB clients and manager; strings in
 * the options are copied.
 */
#ifndef KL_LEASE_KEEPER_H
#define KL_LEASE_KEEPER_H

#include "aws/dynamodb.h"
#include "lease/lease.h"

#include <pthread.h>

struct kl_lease_keeper_opts {
	const char *table;
	const char *worker_id;		/* NULL: kl_lease_default_worker_id() */
	const char *region;		/* NULL: environment */
	int64_t timeout_ms;		/* 0: 10000 */
	int64_t renew_ms;		/* 0: timeout / 3; must be < timeout */
	int64_t take_ms;		/* 0: timeout */
	unsigned max_leases;		/* 0: no limit */
	const char *initial_checkpoint; /* new rows; NULL: TRIM_HORIZON */
	struct kl_lease_clock clock;
};

struct kl_lease_keeper {
	pthread_mutex_t mu;	 /* the manager's operations and ddb (above) */
	pthread_mutex_t st;	 /* the manager's state (above) */
	struct kl_ddb ddb;	 /* under mu */
	struct kl_ddb rddb;	 /* the renewer's */
	struct kl_lease_conn rc; /* the renewer's requests, on rddb */
	struct kl_lease_mgr m;
	int64_t renew_ms, take_ms;
	int64_t last_renew; /* under st */
	int64_t last_take;  /* under mu */
	int took_once;	    /* under mu */
	uint64_t rounds;    /* take rounds that went through (under st) */
	char worker_id[KL_LEASE_OWNER_MAX];
	/* the taker's and the renewer's threads */
	pthread_t taker, renewer;
	int thread_on;
	int thread_stop;	    /* under mu and st (both to write it) */
	pthread_cond_t cv;	    /* the taker waits on it (with mu) */
	pthread_cond_t rcv;	    /* the renewer waits on it (with st) */
};

/* "<hostname>:<pid>:<8 random hex digits>" into out. */
void kl_lease_default_worker_id(char *out, size_t cap);

/* Set up (no request yet). */
int kl_lease_keeper_init(struct kl_lease_keeper *k, const struct kl_lease_keeper_opts *o,
			 struct kl_errbuf *eb);
void kl_lease_keeper_cleanup(struct kl_lease_keeper *k);

/* Ensure the table (create, wait ACTIVE up to wait_ms). */
int kl_lease_keeper_start(struct kl_lease_keeper *k, int64_t wait_ms, struct kl_errbuf *eb);

/* Rows for shards the table does not have yet (a scan first); when it
 * added any, the next tick takes at once. */
int kl_lease_keeper_sync(struct kl_lease_keeper *k, const struct kl_lease_shard *s, size_t n,
			 struct kl_errbuf *eb);

/* Renew and take when due, on the calling thread (tests; the threads do
 * each half on their own). An error is worth logging, not fatal: leases
 * that cannot be renewed are dropped after the timeout by themselves. */
int kl_lease_keeper_tick(struct kl_lease_keeper *k, struct kl_errbuf *eb);

/* A round of takes at the taker's next tick, whatever the take interval.
 * Returns a ticket: kl_lease_keeper_took_since(ticket) is true once a
 * round that began after this call has gone through (none is under way
 * during it: a round holds mu). A lease worker about to end on --exit-idle
 * takes part in one such round after its last re-list (pipeline/stream.c). */
uint64_t kl_lease_keeper_take_soon(struct kl_lease_keeper *k);
int kl_lease_keeper_took_since(struct kl_lease_keeper *k, uint64_t ticket);

/* Start the renewer and the taker (above) until _stop (which waits for
 * them). */
int kl_lease_keeper_thread_start(struct kl_lease_keeper *k);
void kl_lease_keeper_thread_stop(struct kl_lease_keeper *k);

int kl_lease_keeper_holds(struct kl_lease_keeper *k, const char *shard);
/* As _holds, and the lease's counter as this worker last wrote it. */
int kl_lease_keeper_held_counter(struct kl_lease_keeper *k, const char *shard, int64_t *counter);
/* kl_lease_tenure(): 0 unless held; a shard's run remembers the tenure it
 * started under and stops committing once the lease is held under another
 * (or not at all). kl_lease_keeper_holds_tenure(): held, under `tenure`. */
uint64_t kl_lease_keeper_tenure(struct kl_lease_keeper *k, const char *shard);
int kl_lease_keeper_holds_tenure(struct kl_lease_keeper *k, const char *shard, uint64_t tenure);

/* kl_lease_checkpoint / kl_lease_release / kl_lease_release_all under the
 * mutex; a tenure other than 0 must be the one the lease is held under
 * (else KL_ENOTFOUND, nothing written). */
int kl_lease_keeper_checkpoint(struct kl_lease_keeper *k, const char *shard, uint64_t tenure,
			       const char *checkpoint, struct kl_errbuf *eb);
int kl_lease_keeper_release(struct kl_lease_keeper *k, const char *shard, uint64_t tenure,
			    const char *checkpoint, struct kl_errbuf *eb);
int kl_lease_keeper_release_all(struct kl_lease_keeper *k, struct kl_errbuf *eb);

/* kl_lease_forgo, kl_lease_drain and kl_lease_shed under the mutex. */
int kl_lease_keeper_forgo(struct kl_lease_keeper *k, const char *shard);
int kl_lease_keeper_shed(struct kl_lease_keeper *k, const char *shard);
void kl_lease_keeper_drain(struct kl_lease_keeper *k);

/* A copy of the counters (held, taken, stolen, lost, released). */
void kl_lease_keeper_stats(struct kl_lease_keeper *k, struct kl_lease_stats *out);

#endif
