/*
 * lease.h — shard leases in a DynamoDB table, KCL-style, with fencing.
 *
 * Several kinlake workers reading one Kinesis stream share its shards
 * through one DynamoDB table: one row (a lease) per shard, owned by at most
 * one worker at a time. The protocol is the Kinesis Client Library's:
 *
 *   table   created on first use, on-demand billing, hash key leaseKey (S).
 *           Two workers creating it at once both succeed: the loser gets
 *           ResourceInUseException, and both wait until it is ACTIVE.
 *   sync    every shard ListShards returns gets a row (PutItem with
 *           attribute_not_exists(leaseKey): a row is never overwritten).
 *   renew   every renew interval, for each held lease:
 *             SET leaseCounter = leaseCounter + 1
 *             IF leaseOwner = :me AND leaseCounter = :held
 *           The counter is the heartbeat. A refused condition means another
 *           worker took the lease: it is LOST at once (fencing).
 *   expiry  a lease whose counter this worker has seen unchanged for
 *           lease_timeout (by its own monotonic clock, from the first scan
 *           that saw the value; no clocks are compared between hosts), or
 *           that has no owner, is expired and may be taken. A scan "saw"
 *           a value when its answer ARRIVED (the latest moment the owner
 *           can have sent that renew): a slow scan then never shortens
 *           the timeout the owner counts from its own renew.
 *   take    scan; workers = owners of unexpired leases, plus this one;
 *           fair share = ceil(leases / workers) (capped by max_leases);
 *           below its share a worker takes expired leases (in random order,
 *           so that workers do not collide), and if there are none, steals
 *           ONE lease from the most loaded worker when that one holds more
 *           than the share, or holds the share while this worker is more
 *           than one short (the KCL's rule: 4 leases on 3 workers would
 *           otherwise stay at (2,2,0)). Taking and stealing are the same write:
 *             SET leaseOwner = :me, leaseCounter = leaseCounter + 1,
 *                 ownerSwitchesSinceCheckpoint = ... + 1
 *             IF leaseCounter = :seen AND leaseOwner = :seen_owner
 *           so of two takers one wins, and the previous owner's next renew
 *           or checkpoint is refused.
 *   ask     (kinlake's, not the KCL's) a steal is asked first, so that a
 *           rejoining worker (a rolling restart) moves no data twice: the
 *           taker writes
 *             SET kinlakeHandoffTo = :me  IF leaseOwner = :seen_owner
 *           (the counter untouched: the owner's renewals go on). The owner,
 *           at its next take, counts the asker as a worker and, when it
 *           holds more than the share so counted, marks the lease `shed`
 *           (kl_lease_shed): its reader stops, commits what it read, and
 *           the lease is released; the asker takes the free row. An asked
 *           owner does not take back a lease it shed for 2 x timeout (the
 *           asker's next take gets it). An asked
 *           owner that has not let go 2 x timeout later (an older kinlake,
 *           a reader slow to stop) has the lease stolen as above. A request
 *           counts for one timeout after it was first seen; takes remove
 *           it, releases leave it: a free row another worker asked for is
 *           that worker's for the timeout while it holds less than the
 *           share (the others count the asker as a worker and do not take
 *           the row; before, a third worker at
 *           its share by its own count took the row the owner shed, and
 *           the asker, asking again and again, got nothing for 20 s of
 *           e2e/lease_reshard).
 *   checkpoint  SET checkpoint = :cp, checkpointSubSequenceNumber = :sub,
 *           ownerSwitchesSinceCheckpoint = 0
 *           IF leaseOwner = :me AND leaseCounter = :held  — fenced: a worker
 *           that lost the lease cannot move the checkpoint.
 *   release (graceful shutdown) checkpoint, then
 *             REMOVE leaseOwner SET leaseCounter = leaseCounter + 1
 *             IF leaseOwner = :me AND leaseCounter = :held
 *           an unowned lease is expired for everyone at once: the next
 *           take of another worker picks it up without waiting (of the
 *           worker that asked for it, if one did: "ask").
 *   parents before children  a lease with parentShardId is only taken when
 *           every parent's row is gone or checkpointed at SHARD_END (the
 *           KCL's convention); such blocked leases and finished (SHARD_END)
 *           ones are left out of the fair-share count.
 *
 * A held lease is also dropped locally, without any write, when it could
 * not be renewed for lease_timeout measured from the moment the last
 * successful renew was SENT: no other worker can take it before that.
 * A refused renew is checked with a consistent GetItem (was it our own
 * write, answered late and retried?) before the lease is declared lost.
 *
 * The table: KCL item shape, with these differences (and why):
 *   - checkpoint is a mirror. kinlake's checkpoint of record is the shard's
 *     state log in the lake (_kinlake/state/), written after the data files
 *     it covers; exactly once depends on that order, which a second store
 *     could not keep. The table's checkpoint serves parents-before-children
 *     (SHARD_END), a new owner's hint, and operators.
 *   - checkpoint does not increment leaseCounter (the KCL's does): the
 *     write is then idempotent, so a retried checkpoint whose first answer
 *     was lost is not mistaken for a lost lease. Fencing is unchanged:
 *     the condition still names owner and counter.
 *   - parentShardId is a string set (as the KCL writes it); a list of
 *     strings (L of S) is read too. Absent when the shard has no parent
 *     (DynamoDB has no empty sets).
 *   - not written: pendingCheckpoint, childShardIds, startingHashKey,
 *     endingHashKey, the KCL 2.x lease-cleanup and hash-range attributes.
 *     kinlake finds children by listing shards, and never deletes leases.
 *   - new rows of child shards start at TRIM_HORIZON, others at
 *     initial_checkpoint ("TRIM_HORIZON", "LATEST", ...): as the KCL.
 * Where kinlake does better than the KCL: blocked children and finished
 * shards do not inflate the fair share (the KCL counts every row, so a
 * worker may "need" a lease it cannot process yet).
 *
 * Renewals on a thread of their own (the KCL's renewer): a holder that is
 * alive must renew on time whatever else it is doing, so a renewal must
 * never wait for a scan, a take or a checkpoint (a loaded machine makes
 * each of those take a second or more; a run of checkpoints kept renewals
 * waiting for 3.7 s of a 3 s timeout). kl_lease_renew_via() renews with a
 * client of its own (struct kl_lease_conn), concurrently with the other
 * calls, when the manager has a state lock (kl_lease_opts.state_lock):
 *   - every call on the manager, and every read of its rows, is made with
 *     that lock held; the manager lets go of it for each request and takes
 *     it again after (so it is held only for memory work, never across
 *     I/O), and re-reads what a renewal may have changed meanwhile;
 *   - all calls but kl_lease_renew_via() and the readers (kl_lease_holds,
 *     _tenure, _shed, _get, _held, stats) are still serialised by the
 *     caller (one thread at a time: they share the manager's client);
 *   - a renewal and a checkpoint or release of the same lease may cross
 *     (the renewal moves the counter the other's condition names): a
 *     refused checkpoint, release or renewal reads the row (consistent
 *     GetItem) and, while it still names this worker, tries again with the
 *     row's counter; only a row naming another owner (or none, when this
 *     worker did not release it) is a lost lease. Only this worker writes
 *     rows naming it, so that row's counter is its own.
 * Without a state lock a manager is used by one thread at a time.
 * on_lost runs with the state lock held. Time comes from the clock in the
 * options, so tests drive expiry without sleeping.
 * Ownership: strings in the options are copied; ddb clients and the state
 * lock are borrowed.
 */
#ifndef KL_LEASE_LEASE_H
#define KL_LEASE_LEASE_H

#include "aws/dynamodb.h"
#include "aws/retry.h"
#include "core/buf.h"
#include "core/err.h"

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#define KL_LEASE_KEY_MAX 160
#define KL_LEASE_OWNER_MAX 160
#define KL_LEASE_CP_MAX 256
#define KL_LEASE_MAX_PARENTS 2
#define KL_LEASE_SHARD_END "SHARD_END"

/* The seam for time: monotonic milliseconds, and a sleep used only while
 * waiting for a new table. */
struct kl_lease_clock {
	int64_t (*now_ms)(void *ctx);		  /* NULL: kl_mono_ms() */
	void (*sleep_ms)(void *ctx, unsigned ms); /* NULL: nanosleep */
	void *ctx;
};

/* One row as this worker last saw it, plus local bookkeeping. */
struct kl_lease {
	char key[KL_LEASE_KEY_MAX];	/* leaseKey: the shard id */
	char owner[KL_LEASE_OWNER_MAX]; /* leaseOwner; "" = none */
	int64_t counter;		/* leaseCounter */
	char checkpoint[KL_LEASE_CP_MAX];
	int64_t checkpoint_sub; /* checkpointSubSequenceNumber */
	int64_t owner_switches; /* ownerSwitchesSinceCheckpoint */
	char parents[KL_LEASE_MAX_PARENTS][KL_LEASE_KEY_MAX];
	size_t n_parents;
	char handoff[KL_LEASE_OWNER_MAX]; /* kinlakeHandoffTo: a worker asking for it; "" = none */
	/* local */
	int64_t handoff_ms; /* when this worker first saw that request */
	int64_t asked_ms;   /* this worker asked its owner for it then (0: did not) */
	int64_t shed_until; /* handed over when asked: not taken back before then */
	int64_t seen_ms;    /* when this worker saw counter/owner change */
	int64_t renewed_ms; /* held: when the last successful renew was sent */
	uint64_t tenure;    /* held: which take of this manager holds it (kl_lease_tenure) */
	unsigned held : 1;  /* this worker holds it (counter = the held value) */
	unsigned fresh : 1; /* seen in the last scan */
	unsigned never_changed : 1; /* unowned on first sight: expired at once */
	unsigned forgone : 1;	    /* kl_lease_forgo: this manager never takes it again */
	unsigned shed : 1;	    /* held: asked for and over the share: hand it over */
	unsigned releasing : 1;	    /* held: its release is under way (renewals leave it be) */
};

struct kl_lease_stats {
	uint64_t taken;	   /* expired or unowned leases taken */
	uint64_t stolen;   /* taken from a live, overloaded worker */
	uint64_t lost;	   /* refused renew/checkpoint, or not renewed in time */
	uint64_t released; /* handed over: on shutdown, done, or asked for (shed) */
	uint64_t asked;	   /* handovers asked of an overloaded worker, instead of a steal */
	uint64_t renewals;
	unsigned held;
};

/* Called when a held lease is lost (the shard's reader must stop and
 * commit nothing more for it). Runs on the manager's thread. */
typedef void (*kl_lease_lost_fn)(void *ctx, const char *key);

struct kl_lease_opts {
	const char *table;
	const char *worker_id;
	int64_t timeout_ms;		/* --lease-timeout; 0 = 10000 (the KCL's) */
	unsigned max_leases;		/* 0 = no limit */
	const char *initial_checkpoint; /* new rows without parents; NULL = TRIM_HORIZON */
	struct kl_lease_clock clock;
	kl_lease_lost_fn on_lost; /* optional */
	void *on_lost_ctx;
	struct kl_ddb *ddb; /* borrowed */
	/* borrowed, NULL = none: see "Renewals on a thread of their own" */
	pthread_mutex_t *state_lock;
};

/* A held lease as one round of renewals found it. */
struct kl_lease_due {
	char key[KL_LEASE_KEY_MAX];
	int64_t counter;
	uint64_t tenure;
};

/* A DynamoDB client with the request fragments built for it: the
 * manager's own, or a renewer's (kl_lease_renew_via). */
struct kl_lease_conn {
	struct kl_ddb *ddb; /* borrowed */
	struct kl_buf key, vals;
	struct kl_lease_due *due; /* renewals: the round's held leases */
	size_t cap_due;
};

struct kl_lease_mgr {
	char table[256];
	char me[KL_LEASE_OWNER_MAX];
	char initial[64];
	int64_t timeout_ms;
	unsigned max_leases;
	struct kl_lease_clock clock;
	kl_lease_lost_fn on_lost;
	void *on_lost_ctx;
	struct kl_ddb *ddb;
	struct kl_lease *rows; /* every row seen, held ones among them */
	size_t n, cap;
	struct kl_lease_stats stats;
	uint64_t tenures; /* takes so far: the last tenure handed out */
	int draining;	  /* kl_lease_drain: no more takes */
	struct kl_rng rng;
	struct kl_lease_conn c; /* on ddb: every request but a renewer's */
	pthread_mutex_t *st;	/* state lock, NULL = none (borrowed) */
	struct kl_errbuf err;
};

/* A shard as ListShards describes it, for kl_lease_sync_shards. */
struct kl_lease_shard {
	const char *id;
	const char *parents[KL_LEASE_MAX_PARENTS]; /* NULL or "" = none */
};

int kl_lease_mgr_init(struct kl_lease_mgr *m, const struct kl_lease_opts *o, struct kl_errbuf *eb);
void kl_lease_mgr_cleanup(struct kl_lease_mgr *m);

/* Create the table unless it exists, then wait up to wait_ms for ACTIVE.
 * *created (may be NULL): 1 when this call created it. */
int kl_lease_ensure_table(struct kl_lease_mgr *m, int64_t wait_ms, int *created,
			  struct kl_errbuf *eb);

/* Scan the table into the manager's view (all pages). Held leases whose row
 * now names another owner or counter are lost. */
int kl_lease_refresh(struct kl_lease_mgr *m, struct kl_errbuf *eb);

/* Give every shard a row (after a refresh). *added: rows this call created. */
int kl_lease_sync_shards(struct kl_lease_mgr *m, const struct kl_lease_shard *s, size_t n,
			 unsigned *added, struct kl_errbuf *eb);

/* Refresh, then take expired leases / steal one, up to the fair share
 * (after kl_lease_drain: refresh only; forgone rows are left alone).
 * *took (may be NULL): how many were taken or stolen by this call. A take
 * that loses a race (KL_ECONFLICT) is not an error. */
int kl_lease_take(struct kl_lease_mgr *m, unsigned *took, struct kl_errbuf *eb);

/* Renew every held lease. Returns KL_OK even when leases were lost (see
 * on_lost and stats.lost); an error only for a failure that is not about
 * a lease (the leases stay held until the local timeout).
 * kl_lease_renew_via: the same with the client c (kl_lease_conn_init), on
 * a thread of its own when the manager has a state lock (above). A
 * refused renewal whose row still names this worker (an earlier renewal
 * of its own landed after its answer was lost or timed out) is sent again
 * once with the row's counter; the lease counts as renewed only by a
 * renewal that succeeded, from the moment it was sent. */
int kl_lease_renew(struct kl_lease_mgr *m, struct kl_errbuf *eb);
int kl_lease_renew_via(struct kl_lease_mgr *m, struct kl_lease_conn *c, struct kl_errbuf *eb);

void kl_lease_conn_init(struct kl_lease_conn *c, struct kl_ddb *ddb);
void kl_lease_conn_cleanup(struct kl_lease_conn *c);

/* Fenced checkpoint of a held lease. KL_ECONFLICT: the lease is lost (it
 * is dropped and on_lost called); KL_ENOTFOUND: not held, or (tenure not
 * 0) held under another tenure than `tenure`. */
int kl_lease_checkpoint(struct kl_lease_mgr *m, const char *key, uint64_t tenure,
			const char *checkpoint, int64_t sub, struct kl_errbuf *eb);

/* Hand a held lease over: checkpoint (when checkpoint is not NULL), then
 * remove the owner. KL_ECONFLICT when it was lost before (dropped all the
 * same). kl_lease_release_all: every held lease, without checkpoint; the
 * first error is returned, the others are still released. */
int kl_lease_release(struct kl_lease_mgr *m, const char *key, const char *checkpoint, int64_t sub,
		     struct kl_errbuf *eb);
int kl_lease_release_all(struct kl_lease_mgr *m, struct kl_errbuf *eb);

/* Was key asked for by another worker while this one holds more than its
 * share (see "ask" above)? Then its reader should stop, commit, and
 * release it (kl_lease_release). */
int kl_lease_shed(const struct kl_lease_mgr *m, const char *key);

/* Is this worker waiting for a handover it asked for (a row it asked
 * another owner for, not held yet, not finished, its owner unchanged
 * since, asked less than three timeouts ago: the steal is due at two)? The
 * keeper then takes again sooner than a take interval: the owner lets go
 * at its own next take, and the free row is this worker's only for a
 * timeout (keeper.h). */
int kl_lease_awaiting(const struct kl_lease_mgr *m);

/* Leave key to the other workers: this manager's takes never take or
 * steal it again (nor count it toward the fair share). For a shard this
 * worker is done with without having read it to its end (a run that ended
 * on idle, --exit-idle): released, it would otherwise come back to this
 * worker at its next take, which would hold it and not read it. Call it
 * before the release, so that no take in between sees it free.
 * KL_ENOTFOUND: no such row. */
int kl_lease_forgo(struct kl_lease_mgr *m, const char *key);

/* Graceful shutdown has begun: renewals go on, takes stop (a lease handed
 * over while other shards still flush must not come back to this worker,
 * which would then hold it, not read it, and keep the others waiting until
 * it exits). */
void kl_lease_drain(struct kl_lease_mgr *m);

/* The row of key (NULL if unknown) and whether this worker holds it: held
 * and renewed within the timeout by the local clock (a worker that was
 * paused longer holds nothing from the moment it wakes up, before its next
 * renew tells it whether the lease is still its own). */
const struct kl_lease *kl_lease_get(const struct kl_lease_mgr *m, const char *key);
int kl_lease_holds(const struct kl_lease_mgr *m, const char *key);
/* Which holding of key this is: 0 when kl_lease_holds() says no, else a
 * number this manager gives each take (or steal) and never again. A lease
 * lost and taken back is held under a new tenure, so whatever was begun
 * under the old one (a shard's run, its buffered records and files) can
 * tell that the shard was someone else's in between. */
uint64_t kl_lease_tenure(const struct kl_lease_mgr *m, const char *key);
/* Up to max held keys into keys[] (pointers into the manager, valid until
 * the next call that changes it); returns the number held. */
size_t kl_lease_held(const struct kl_lease_mgr *m, const char **keys, size_t max);

/* ---- pure parts (no I/O; unit-tested and fuzzed) ---- */

/* Decode one item of the table into *l (local fields zero). KL_EPARSE /
 * KL_ELIMIT for rows that are not leases of this shape. */
int kl_lease_item_decode(const char *item, size_t n, struct kl_lease *l);

/* The fair share of a worker: ceil(leases / workers), capped by max (0 =
 * none); 0 when there are no leases. */
unsigned kl_lease_fair_share(unsigned leases, unsigned workers, unsigned max);

#endif
