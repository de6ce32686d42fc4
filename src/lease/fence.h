/*
 * fence.h — a checkpoint (commit/checkpoint.h) that commits only while this
 * worker holds the shard's lease, and a store whose data-file commits are
 * fenced the same way.
 *
 * The checkpoint wraps the shard's state log (commit/state.h). load()
 * first claims the log (kl_state_reload, kl_state_claim): it is read again
 * with its version, the lease is checked, and the log is written back at
 * once, with an O line naming this worker, conditionally on the version
 * read (S3: If-Match: <its ETag>, or If-None-Match: * when there was none;
 * a local lake: store_local's compare-and-rename). Refused: someone wrote
 * it after that read (the previous owner's last commit landing late), so
 * it is read and claimed again, while the lease is held. Every later state write is
 * conditional on the version this worker wrote last. Before each commit
 * the fence also (1) checks that the keeper still holds the lease, and
 * (2) mirrors the source's resume point into the lease row with the
 * fenced DynamoDB write (leaseOwner = me AND leaseCounter = held). A lease
 * no longer held, a refused DynamoDB write or a refused state write fails
 * the commit with KL_ECONFLICT: the pipeline run ends with that error and
 * the stream treats the shard as handed over, not as failed. A DynamoDB
 * error that is not a refusal (throttling, network) does not block the
 * commit while the lease is still held by the local clock.
 *
 * The fenced store (kl_lease_fenced_store_new) commits a data file only
 * while the lease is held, and, on a store with conditional writes
 * (store.h: read_tag, commit_if), reads the version under the file's name
 * first, checks the lease after that read, and replaces only that version.
 * On S3 (store.h: commit_deferred_guarded) the writer's files go up side
 * by side, as without leases: the lease is checked when the file is
 * handed over, an upload thread sends it as a new object only
 * (If-None-Match: *, which replaces nothing, so needs no check of its
 * own), and a name found taken is replaced at the next sync() by the
 * same read, check, conditional write, on the writer's thread. A refusal
 * there fails that sync() with KL_ECONFLICT, as a refused commit does.
 *
 * Why a takeover keeps exactly once (an S3 lake, or a local one):
 *  - the local clock: a lease this worker holds by its own clock at time t
 *    was not taken before t, since a taker waits for the counter to stay
 *    unchanged for the timeout, counted after our last successful renew
 *    was sent (lease.h; only durations are compared, no clocks between
 *    hosts). So a check passing after a read proves the read saw nothing a
 *    newer owner wrote, and a conditional write then lands only over what
 *    was read.
 *  - the state log, old owner A, new owner B: B's claim lands only over the
 *    version B read; every write of A's lands only over A's own last one.
 *    Two writers' versions never look alike: each carries its writer's O
 *    line (worker, lease counter, a nonce), so bytes differ, and with them
 *    S3's ETag (an MD5 of the bytes) and the local tag (a new inode each
 *    time). So once B's claim has landed nothing of A's lands on the log;
 *    a write of A's landing between B's read and B's claim makes the claim
 *    fail, and B reads again. The log is one chain of versions, each
 *    written by whoever read the one before — the single writer the crash
 *    argument of state.h assumes — and B continues from the last link.
 *  - data files: A's late files are those of the job A was committing:
 *    each named after its partition's first record above A's last
 *    committed P line, which is the name B's replay gives its first file
 *    of that partition (state.h). Their records may differ (files are cut
 *    by size and age), so the last one to land must be B's, which B's log
 *    describes. A's write replaces only the version A read before its
 *    lease check; B writes the name only after the takeover, so after that
 *    check: if B's file lands first, A's write is refused; if A's lands
 *    first, B's later write (read, check, replace) replaces it, or is
 *    itself refused when A's landed between B's read and write — B then
 *    stops and takes the shard up again from its log (a replay). A late
 *    file of A's whose name B has not written yet is what a crash leaves:
 *    one uncovered file per partition, which B's replay replaces.
 *
 * Tenure: "holds the lease" means holds it under the tenure the shard's
 * run started with (kl_lease_keeper_tenure), not merely holds it now. A
 * worker that lost a lease can take the same lease back a moment later
 * (it wakes up from a pause and asks for one: handed one of its own, by chance)
 * while the run that began under the old tenure is still flushing what it
 * buffered before the pause. The other worker may have written files and
 * state for that shard in between, from the same checkpoint and under the
 * same names; the old run's files and state would overwrite them with its
 * own, older view (a shorter file under the same name loses the records
 * the other worker's state counts as stored). So the old run's commits and
 * files are refused for good, and a new run loads the state afresh.
 *
 * What still does not hold:
 *  - (closed by store_s3.c) S3 ETags of single PUTs are MD5s of the bytes:
 *    had B's replay written, under a name A had read, the very bytes of the
 *    version A read (an uncovered file of a crashed earlier run), A's
 *    If-Match would have matched again. An overwrite with the same bytes
 *    goes up as a one-part multipart upload (an ETag of another form), so
 *    every conditional overwrite changes the ETag; test_lease's fence
 *    scenario on moto's S3. Files of the multipart size keep the case
 *    (same bytes and same part cuts: the same ETag).
 *  - files of the multipart size: real S3 checks If-Match and If-None-Match
 *    on CompleteMultipartUpload; moto 5.2.1 checks only If-None-Match, so
 *    against moto a late multipart file replacing an existing one lands.
 *  - a conditional write retried after its first attempt landed (the
 *    answer lost) is refused by that first attempt: the shard stops and is
 *    taken up again from its log (safe, a replay, counted as refused). A
 *    new data file on S3 no longer: its refused If-None-Match: * is a name
 *    found taken, replaced at sync by read, check, If-Match (its own first
 *    attempt's bytes, while the lease holds).
 *  - a store without read_tag/commit_if is fenced by the local clock only,
 *    as before this fence had conditions.
 *  - a local lake: the compare-and-rename is atomic under flock() of the
 *    directory — between processes of one host, and between hosts only on
 *    a shared file system whose flock works across clients (store_local.c).
 * Costs in lease mode: on S3 a HEAD per data file whose name is taken
 * (a rewrite; a new file costs its PutObject only, as without leases),
 * locally a stat per data file; and one more read and one more write of
 * the state log each time a shard run starts.
 *
 * Ownership: caller-owned; inner and keeper are borrowed for the run;
 * `refused` (may be NULL) counts refused commits (a metric).
 */
#ifndef KL_LEASE_FENCE_H
#define KL_LEASE_FENCE_H

#include "commit/checkpoint.h"
#include "lease/keeper.h"
#include "store/store.h"

#include <stdatomic.h>

struct kl_lease_fence {
	struct kl_checkpoint base;
	struct kl_state_checkpoint *inner; /* a store-kept state log */
	struct kl_lease_keeper *keeper;
	char shard[KL_LEASE_KEY_MAX];
	uint64_t tenure;  /* the lease's tenure when the run started */
	_Atomic int lost; /* a commit was refused: the lease is gone */
	_Atomic uint64_t *refused;
};

/* A store that passes everything to `inner` (borrowed, freed by the
 * caller after this one) but opens and commits files only while the keeper
 * holds `shard` under `tenure`, each commit conditional on the version read
 * before the lease check (above); otherwise KL_ECONFLICT (and the file is
 * aborted). */
int kl_lease_fenced_store_new(struct kl_store **out, struct kl_store *inner,
			      struct kl_lease_keeper *keeper, const char *shard, uint64_t tenure,
			      _Atomic uint64_t *refused, struct kl_errbuf *eb);

/* Commits only while the keeper holds `shard` under `tenure`. */
void kl_lease_fence_init(struct kl_lease_fence *f, struct kl_state_checkpoint *inner,
			 struct kl_lease_keeper *keeper, const char *shard, uint64_t tenure,
			 _Atomic uint64_t *refused);

#endif
