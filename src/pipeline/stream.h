/*
 * stream.h — consume a whole Kinesis stream: one pipeline per shard.
 *
 * Lists the shards (ListShards, paginated) and runs the ingest core
 * (pipeline/pipeline.h) for each on its own thread, with a Kinesis shard
 * source, its own store and encoders, the state log of the shard in the lake
 * as checkpoint, and one event_uuid window shared by every shard. A child
 * shard (after a split or merge) starts only when its parents are read to
 * their end, so per-key order is kept. Shards are listed again every few
 * seconds to find new ones. Each shard's state and checkpoint live in the
 * lake under _kinlake/state/<stream>-<shardId>.log.
 *
 * With a lease keeper (lease/keeper.h), several workers share the stream:
 * every listed shard gets a row in the lease table, a shard is read only
 * while this worker holds its lease, its commits go through the lease fence
 * (lease/fence.h), a reader whose lease is lost is stopped and its shard
 * becomes pending again (not an error), a shard read to its end is
 * released at SHARD_END, and at the end every lease still held is released
 * so that the other workers take over at once.
 *
 * Ends when SIGTERM/SIGINT arrives (stop_fd), when a shard fails (the first
 * error is returned; the other shards flush and commit), when ListShards
 * has failed for list_timeout_ms (a failed re-list is retried with backoff,
 * 1 s doubling to 30 s, while the shards read on; the backoff ends at
 * SIGTERM), or with exit_idle_ms when every shard is idle and caught up.
 */
#ifndef KL_PIPELINE_STREAM_H
#define KL_PIPELINE_STREAM_H

#include "pipeline/ingest.h"
#include "store/store.h"

#include <pthread.h>

struct kl_cred_chain;
struct kl_lease_keeper;

typedef int (*kl_store_factory)(void *ctx, struct kl_store **out, struct kl_errbuf *eb);

struct kl_stream_opts {
	struct kl_ingest_opts ingest; /* format, compression, limits, stop_fd */
	const char *stream;           /* name or ARN */
	const char *region;           /* NULL: environment */
	const char *start;            /* trim-horizon | latest | at-timestamp:UNIX */
	int64_t exit_idle_ms;
	int64_t idle_poll_ms; /* kl_kinesis_source_opts.idle_poll_ms */
	/* a re-list of the shards that fails (throttled, 5xx, resets) is tried
	 * again with backoff while the shards read on; after failing this long
	 * the run ends (0: 5 minutes) */
	int64_t list_timeout_ms;
	kl_store_factory make_store; /* one store per shard */
	void *store_ctx;
	/* Optional, borrowed: one credential chain for the lister and every
	 * shard's Kinesis client, used under creds_mu (the S3 stores get the
	 * same pair from the factory). NULL: each client resolves its own. */
	struct kl_cred_chain *creds;
	pthread_mutex_t *creds_mu;
	/* Optional, borrowed, started (its table exists): share the shards with
	 * the other workers of its lease table. NULL: read every shard. */
	struct kl_lease_keeper *leases;
	/* Files the shards' writer threads encode at once, each with a set of
	 * unpacking buffers the process keeps (pipeline/writer.h
	 * kl_writer_unpack_pool); 0: one set per shard, as a file's run has */
	unsigned encoders;
};

struct kl_stream_stats {
	struct kl_ingest_stats total;
	unsigned shards;
};

int kl_stream_run(const struct kl_stream_opts *o, struct kl_stream_stats *st,
		  struct kl_errbuf *eb);

#endif
