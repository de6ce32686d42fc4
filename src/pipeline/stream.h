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
 * Ends when SIGTERM/SIGINT arrives (stop_fd), when a shard fails (the first
 * error is returned; the other shards flush and commit), or with
 * exit_idle_ms when every shard is idle and caught up.
 */
#ifndef KL_PIPELINE_STREAM_H
#define KL_PIPELINE_STREAM_H

#include "pipeline/ingest.h"
#include "store/store.h"

#include <pthread.h>

struct kl_cred_chain;

typedef int (*kl_store_factory)(void *ctx, struct kl_store **out, struct kl_errbuf *eb);

struct kl_stream_opts {
	struct kl_ingest_opts ingest; /* format, compression, limits, stop_fd */
	const char *stream;           /* name or ARN */
	const char *region;           /* NULL: environment */
	const char *start;            /* trim-horizon | latest | at-timestamp:UNIX */
	int64_t exit_idle_ms;
	kl_store_factory make_store; /* one store per shard */
	void *store_ctx;
	/* Optional, borrowed: one credential chain for the lister and every
	 * shard's Kinesis client, used under creds_mu (the S3 stores get the
	 * same pair from the factory). NULL: each client resolves its own. */
	struct kl_cred_chain *creds;
	pthread_mutex_t *creds_mu;
};

struct kl_stream_stats {
	struct kl_ingest_stats total;
	unsigned shards;
};

int kl_stream_run(const struct kl_stream_opts *o, struct kl_stream_stats *st,
		  struct kl_errbuf *eb);

#endif
