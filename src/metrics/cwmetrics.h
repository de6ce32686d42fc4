/*
 * cwmetrics.h — kinlake's counters as CloudWatch metrics, two ways.
 *
 *   1. Embedded Metric Format (EMF) lines, for the Lambda runtime: JSON
 *      objects written to the function's log that CloudWatch Logs turns into
 *      metrics, with no API call (kl_cw_emf_render). One line per invocation
 *      with every counter, plus one line per dead-letter reason that
 *      occurred (a reason is a dimension value, and an EMF line holds one
 *      value per dimension).
 *   2. PutMetricData from a publisher thread, for `ingest --stream`
 *      (struct kl_cw_publisher): every interval it sends the *deltas* of the
 *      run's counters since the last successful call (so a failed call's
 *      counts go out with the next one and the sums stay exact), and each
 *      shard's MillisBehindLatest plus their maximum. A failure is counted
 *      in kl_metrics.cloudwatch_errors and logged to `log`, never returned
 *      to the pipeline: CloudWatch cannot stop ingestion.
 *
 * Metric names (the deploy template's alarms and dashboard use them):
 *   RecordsRead, EventsStored, DeadLetters, Duplicates, FilesCommitted
 *   (Count), BytesRead, BytesWritten (Bytes): dimension Stream (ingest) or
 *   FunctionName (Lambda); DeadLetters also with {Stream|FunctionName,
 *   Reason}; BatchLatency (Milliseconds, Lambda only); MillisBehindLatest
 *   (Milliseconds, ingest only) with {Stream, Shard} and, the maximum over
 *   the shards, {Stream}.
 *
 * Ownership: the publisher borrows the kl_metrics, namespace and region
 * strings (they outlive it); it owns its CloudWatch client and one datum
 * array allocated at start, reused for every call.
 */
#ifndef KL_METRICS_CWMETRICS_H
#define KL_METRICS_CWMETRICS_H

#include "aws/cloudwatch.h"
#include "core/buf.h"
#include "core/err.h"
#include "event/event.h"
#include "metrics/metrics.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>

/* One snapshot (or delta) of the counters CloudWatch gets.
 * dead_by_reason[0] counts dead letters that had no event to judge (a
 * Firehose record whose data is not base64): reason "invalid_base64". */
struct kl_cw_counters {
	uint64_t records, stored, dead, duplicates, files, bytes_in, bytes_out;
	uint64_t rescued; /* stored events with fields past --max-columns */
	uint64_t dead_by_reason[KL_REJ_COUNT];
};

/* The Reason dimension's value for dead_by_reason[i]. */
const char *kl_cw_reason_name(int i);

struct kl_cw_emf {
	const char *ns;			  /* Namespace */
	const char *dim_name, *dim_value; /* e.g. FunctionName, my-fn */
	int64_t timestamp_ms;		  /* Unix epoch milliseconds */
	const struct kl_cw_counters *c;
	int64_t latency_ms; /* BatchLatency; < 0: not sent */
	const char *kind;   /* a property for log queries; may be NULL */
};

/* Append the EMF lines (each ending in '\n') for e to out. */
int kl_cw_emf_render(struct kl_buf *out, const struct kl_cw_emf *e);

struct kl_cw_publisher {
	/* set by the caller before start */
	struct kl_metrics *m;	/* borrowed */
	const char *ns;		/* Namespace */
	const char *region;	/* NULL: the environment's */
	int64_t interval_ms;	/* > 0 */
	FILE *log;		/* one line per failed call; NULL: silent */
	const char *log_prefix; /* e.g. "kinlake ingest: " */
	/* internal */
	struct kl_cloudwatch cw;
	struct kl_cw_counters sent; /* published so far */
	struct kl_cw_datum *data;   /* capacity `cap` */
	size_t cap;
	int wake[2];
	pthread_t thread;
	char stream[256]; /* the Stream dimension: the name, also when given as an ARN */
	int started;
};

/* Create the client (fails on configuration only: no region, a bad
 * endpoint URL) and start the thread. */
int kl_cw_publisher_start(struct kl_cw_publisher *p, struct kl_errbuf *eb);

/* Stop the thread, publish the last deltas, free everything. A no-op when
 * not started. */
void kl_cw_publisher_stop(struct kl_cw_publisher *p);

/* Snapshot the counters of m (exposed for the unit tests). */
void kl_cw_counters_of(struct kl_metrics *m, struct kl_cw_counters *out);

/* Build the datums of one publication into p->data: deltas of `now` over
 * p->sent with dimension Stream = stream, then the shards' lag. Returns
 * the count (exposed for the unit tests). */
size_t kl_cw_publisher_build(struct kl_cw_publisher *p, const struct kl_cw_counters *now);

#endif
