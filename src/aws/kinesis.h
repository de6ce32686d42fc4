/*
 * kinesis.h — a minimal Kinesis Data Streams client (JSON 1.1 protocol).
 *
 * One `struct kl_kinesis` per thread: it owns an HTTP handle (connection
 * reuse), a credential chain, a retry policy and the last response body.
 * kl_kinesis_call() signs with SigV4 (service "kinesis"), retries throttling
 * (ProvisionedThroughputExceededException, 5xx, network) with full-jitter
 * backoff and fails fast on auth/validation errors with AWS's code and
 * message in k->err, followed by the number of attempts ("(1 attempt)"). Endpoint: AWS_ENDPOINT_URL_KINESIS, else
 * AWS_ENDPOINT_URL, else https://kinesis.<region>.amazonaws.com.
 */
#ifndef KL_AWS_KINESIS_H
#define KL_AWS_KINESIS_H

#include "aws/credentials.h"
#include "aws/http.h"
#include "aws/retry.h"
#include "core/buf.h"
#include "core/err.h"

#include <pthread.h>

struct kl_kinesis {
	struct kl_http *http;
	struct kl_cred_chain creds;   /* its own, unless shared_creds is set */
	struct kl_cred_chain *shared_creds; /* borrowed: one chain for the process */
	pthread_mutex_t *shared_mu;         /* guards shared_creds */
	struct kl_aws_env env;
	char url[512];
	char host[256];
	char region[64];
	struct kl_rng rng;
	struct kl_retry_policy policy;
	struct kl_http_resp resp; /* last response; body = JSON on success */
	struct kl_aws_error last; /* last AWS error */
	struct kl_errbuf err;
	/* per call */
	const char *op;
	const char *body;
	size_t body_len;
	int refreshed; /* this call already renewed expired credentials once */
};

/* region NULL: AWS_REGION, else AWS_DEFAULT_REGION. */
int kl_kinesis_init(struct kl_kinesis *k, const char *region, struct kl_errbuf *eb);
void kl_kinesis_cleanup(struct kl_kinesis *k);

/* Use a chain shared with other clients and stores (under mu) instead of
 * the client's own: one credential resolution (one STS AssumeRole) per
 * process, not one per shard. Both must outlive the client. */
void kl_kinesis_share_creds(struct kl_kinesis *k, struct kl_cred_chain *chain,
			    pthread_mutex_t *mu);

/* POST Kinesis_20131202.<op>; KL_OK leaves the JSON in k->resp.body. */
int kl_kinesis_call(struct kl_kinesis *k, const char *op, const char *body, size_t n);

/* Resolve the region the way the SDKs do (explicit, AWS_REGION,
 * AWS_DEFAULT_REGION); NULL if none. */
const char *kl_aws_region(const struct kl_aws_env *env, const char *explicit_region);

#endif
