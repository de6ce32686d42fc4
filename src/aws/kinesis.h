/*
 * kinesis.h — a minimal Kinesis Data Streams client (JSON 1.1 protocol),
 * a thin layer over aws/json_rpc.h.
 *
 * One `struct kl_kinesis` per thread: its json_rpc client owns an HTTP
 * handle (connection reuse), a credential chain (or borrows the process's
 * shared one), a retry policy of 8 attempts and the last response body.
 * kl_kinesis_call() signs with SigV4 (service "kinesis"), retries throttling
 * (ProvisionedThroughputExceededException, 5xx, network) with full-jitter
 * backoff, renews expired credentials once and fails fast on
 * auth/validation errors with AWS's code and message in k->c.err, followed
 * by the number of attempts ("Kinesis <Op>: HTTP 400 <code>: <message>
 * (1 attempt)"). Endpoint: AWS_ENDPOINT_URL_KINESIS, else AWS_ENDPOINT_URL,
 * else https://kinesis.<region>.amazonaws.com.
 */
#ifndef KL_AWS_KINESIS_H
#define KL_AWS_KINESIS_H

#include "aws/json_rpc.h" /* also declares kl_aws_region */
#include "core/buf.h"
#include "core/err.h"

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

struct kl_kinesis {
	struct kl_aws_json c; /* c.resp = last response, c.last / c.err = last error */
};

/* region NULL: AWS_REGION, else AWS_DEFAULT_REGION. */
int kl_kinesis_init(struct kl_kinesis *k, const char *region, struct kl_errbuf *eb);
void kl_kinesis_cleanup(struct kl_kinesis *k);

/* Use a chain shared with other clients and stores (under mu) instead of
 * the client's own: one credential resolution (one STS AssumeRole) per
 * process, not one per shard. Both must outlive the client. */
void kl_kinesis_share_creds(struct kl_kinesis *k, struct kl_cred_chain *chain,
			    pthread_mutex_t *mu);

/* POST Kinesis_20131202.<op>; KL_OK leaves the JSON in k->c.resp.body. */
int kl_kinesis_call(struct kl_kinesis *k, const char *op, const char *body, size_t n);

/* A record's ApproximateArrivalTimestamp (GetRecords' and the Lambda
 * event's approximateArrivalTimestamp: epoch seconds with a fraction, as
 * JSON number text of `len` bytes) in milliseconds, rounded; 0 if the text
 * is not a number in (0, year 10000). */
int64_t kl_kinesis_arrival_ms(const char *num, size_t len);

/* --stream's value: a stream name (1-128 of [a-zA-Z0-9_.-], the API's
 * StreamName pattern) or a stream ARN
 * (arn:<partition>:kinesis:<region>:<12-digit account>:stream/<name>).
 * 0, or -1 with the reason in `why` (the option check's signature). */
int kl_kinesis_stream_check(const char *stream, char *why, size_t cap);

/* The stream's name in a --stream value: the part after "stream/" of an
 * ARN, else the value itself (a pointer into it). What the lake keys a
 * stream's checkpoints by, so that the name and the ARN of one stream
 * resume each other's progress. */
const char *kl_kinesis_stream_name(const char *stream);

/* One shard of a ListShards answer. Strings are the JSON string's bytes as
 * sent, cut to their array; "" when absent or not a string. */
struct kl_kinesis_shard {
	char id[128], parent[128], adjacent[128];
	int closed; /* it has an EndingSequenceNumber: split or merged, to be read to its end */
};

/* One page of a ListShards answer (b[0..n)): fn(ctx, shard) for each entry
 * of Shards that has a ShardId, in order, and the page's NextToken into
 * `token` (reset first; the JSON string's bytes, to be sent back as they
 * are; empty on the last page). KL_OK, KL_EPARSE when it is not a JSON
 * object with Shards (an array; null counts as none), KL_ENOMEM, or fn's
 * non-zero result. */
int kl_kinesis_shards_page(const char *b, size_t n, struct kl_buf *token,
			   int (*fn)(void *ctx, const struct kl_kinesis_shard *sh), void *ctx);

#endif
