/*
 * fence.h — a checkpoint (commit/checkpoint.h) that commits only while this
 * worker holds the shard's lease.
 *
 * Wraps the shard's own checkpoint (the state log in the lake). Before each
 * commit it (1) checks that the keeper still holds the lease, and (2)
 * mirrors the source's resume point into the lease row with the fenced
 * conditional write (leaseOwner = me AND leaseCounter = held). A refused
 * write, or a lease no longer held, fails the commit with KL_ECONFLICT: the
 * state log is not touched, the pipeline run ends with that error, and the
 * stream treats the shard as handed over, not as failed. A DynamoDB error
 * that is not a refusal (throttling, network) does not block the commit
 * while the lease is still held by the local clock: no other worker can
 * take it before its timeout has passed since our last renew.
 *
 * The fenced store (kl_lease_fenced_store_new) does the same for data
 * files: it opens and commits (makes visible) a file only while the lease
 * is held by the local clock, so a worker that lost its lease, or that wakes
 * up after a pause longer than the timeout, does not overwrite the new
 * owner's files with its own (same names: they are named after their first
 * record) from that moment on.
 *
 * What this does NOT give (issue 13, after issue 12): a file whose commit
 * started before the lease was lost can still land after the new owner
 * wrote the same name, and a state commit that passed the fence an instant
 * before the takeover can still land after the new owner loaded the state.
 * Exactly once across takeovers needs the state log and the files written
 * conditionally (S3 conditional writes).
 *
 * Ownership: caller-owned; inner and keeper are borrowed for the run.
 */
#ifndef KL_LEASE_FENCE_H
#define KL_LEASE_FENCE_H

#include "commit/checkpoint.h"
#include "lease/keeper.h"
#include "store/store.h"

#include <stdatomic.h>

struct kl_lease_fence {
	struct kl_checkpoint base;
	struct kl_checkpoint *inner;
	struct kl_lease_keeper *keeper;
	char shard[KL_LEASE_KEY_MAX];
	_Atomic int lost; /* a commit was refused: the lease is gone */
};

/* A store that passes everything to `inner` (borrowed, freed by the
 * caller after this one) but opens and commits files only while the keeper
 * holds `shard`; otherwise KL_ECONFLICT (and the file is aborted). */
int kl_lease_fenced_store_new(struct kl_store **out, struct kl_store *inner,
			      struct kl_lease_keeper *keeper, const char *shard,
			      struct kl_errbuf *eb);

void kl_lease_fence_init(struct kl_lease_fence *f, struct kl_checkpoint *inner,
			 struct kl_lease_keeper *keeper, const char *shard);

#endif
