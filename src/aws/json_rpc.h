/*
 * json_rpc.h — a client for AWS services that speak awsJson1_1 (Glue,
 * Kinesis) or awsJson1_0 (DynamoDB): every call is a POST of a JSON
 * body to "/" with X-Amz-Target "<target prefix>.<Operation>" and
 * Content-Type application/x-amz-json-<version>; the two protocols differ
 * only in that header. The same POST without X-Amz-Target and with a form
 * body is awsQuery (CloudWatch, aws/cloudwatch.h): a service without a
 * target prefix and with its own content type.
 *
 * One `struct kl_aws_json` per thread: it owns an HTTP handle (connection
 * reuse), a credential chain (the SDKs' order, aws/credentials.h) unless it
 * borrows one shared by the process (kl_aws_json_share_creds), a retry
 * policy (callers may change it after init) and the last response.
 * kl_aws_json_call() signs with SigV4 for the client's service, retries
 * throttling, 5xx and network errors with full-jitter backoff
 * (aws/retry.h), renews expired credentials once (in the shared chain when
 * there is one), and fails fast on auth/validation errors with AWS's code
 * and message in c->err followed by the number of attempts. Endpoint, as the SDKs choose
 * it: AWS_ENDPOINT_URL_<SERVICE>, else AWS_ENDPOINT_URL, else
 * https://<host prefix>.<region>.amazonaws.com.
 */
#ifndef KL_AWS_JSON_RPC_H
#define KL_AWS_JSON_RPC_H

#include "aws/credentials.h"
#include "aws/http.h"
#include "aws/retry.h"
#include "core/buf.h"
#include "core/err.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

/* Where one service's requests go (also used by the awsQuery client,
 * aws/cloudwatch.h), as the SDKs choose it: region explicit,
 * else AWS_REGION, else AWS_DEFAULT_REGION; URL endpoint_env, else
 * AWS_ENDPOINT_URL, else https://<host_prefix>.<region>.amazonaws.com, its
 * trailing '/'s dropped; host = the URL's host[:port] (SigV4's Host). */
struct kl_aws_endpoint {
	char url[512];
	char host[256];
	char region[64];
};

/* name is for messages ("bad Glue endpoint URL"); KL_EINVAL without a
 * region or with a URL that has no "://". */
int kl_aws_endpoint_resolve(struct kl_aws_endpoint *ep, const struct kl_aws_env *env,
			    const char *region, const char *endpoint_env,
			    const char *host_prefix, const char *name, struct kl_errbuf *eb);

/* What tells one service from another; static strings. */
struct kl_aws_json_service {
	const char *name;	   /* for messages: "Glue" */
	const char *signing_name;  /* SigV4 service: "glue" */
	const char *target_prefix; /* "AWSGlue" */
	const char *endpoint_env;  /* "AWS_ENDPOINT_URL_GLUE" */
	const char *host_prefix;   /* "glue" -> https://glue.<region>.amazonaws.com */
	const char *json_version;  /* "1.0" (DynamoDB) or "1.1"; NULL = "1.1" */
	long recv_buffer;	   /* kl_http_opts.recv_buffer; 0 = libcurl's */
	/* awsQuery: NULL target_prefix sends no X-Amz-Target; content_type
	 * (NULL = application/x-amz-json-<version>) is the body's */
	const char *content_type;
	unsigned timeout_ms;	    /* a call's transfer; 0 = 30 s */
	unsigned connect_timeout_ms; /* 0 = kl_http's default */
	size_t max_response;	    /* bytes of a response body; 0 = 64 MiB */
};

struct kl_aws_json {
	const struct kl_aws_json_service *svc;
	struct kl_http *http;
	struct kl_cred_chain creds;	    /* its own, unless shared_creds is set */
	struct kl_cred_chain *shared_creds; /* borrowed: one chain for the process */
	pthread_mutex_t *shared_mu;	    /* guards shared_creds */
	struct kl_aws_env env;
	struct kl_aws_endpoint ep;
	struct kl_rng rng;
	struct kl_retry_policy policy;
	/* borrowed, NULL = none; callers set them after init: a shutdown token
	 * (core/cancel.h) that ends backoff sleeps and aborts transfers (the
	 * call fails with KL_EINTR), a counter of retried attempts, and one of
	 * the body bytes calls send and receive, added as they move
	 * (kl_http_req.moved) */
	const struct kl_cancel *cancel;
	_Atomic uint64_t *retries;
	_Atomic uint64_t *moved;
	/* one attempt's limit, 0 = the service's timeout_ms; callers may set
	 * it after init (a lease renewal must fail, and be tried again, well
	 * within the lease timeout: lease/keeper.h) */
	long attempt_timeout_ms;
	struct kl_http_resp resp; /* last response; body = JSON on success */
	struct kl_aws_error last; /* last AWS error (code "" on success) */
	struct kl_errbuf err;
	char content_type[64]; /* "application/x-amz-json-<version>" or the service's */
	/* per call */
	const char *op;
	const char *body;
	size_t body_len;
	int refreshed;
};

/* Resolve the region the way the SDKs do (explicit, AWS_REGION,
 * AWS_DEFAULT_REGION); NULL if none. */
const char *kl_aws_region(const struct kl_aws_env *env, const char *explicit_region);

/* region NULL: AWS_REGION, else AWS_DEFAULT_REGION. */
int kl_aws_json_init(struct kl_aws_json *c, const struct kl_aws_json_service *svc,
		     const char *region, struct kl_errbuf *eb);
void kl_aws_json_cleanup(struct kl_aws_json *c);

/* Use a chain shared with other clients and stores (under mu) instead of
 * the client's own: one credential resolution (one STS AssumeRole) per
 * process, not one per client. Both must outlive the client. */
void kl_aws_json_share_creds(struct kl_aws_json *c, struct kl_cred_chain *chain,
			     pthread_mutex_t *mu);

/* POST <target prefix>.<op>; KL_OK leaves the JSON answer in c->resp.body,
 * an error leaves AWS's code in c->last.code and one line in c->err. */
int kl_aws_json_call(struct kl_aws_json *c, const char *op, const char *body, size_t n);

#endif
