/*
 * cloudwatch.h — a minimal Amazon CloudWatch client: PutMetricData only.
 *
 * Protocol: the CloudWatch query API (botocore model monitoring-2010-08-01:
 * POST /, form-encoded Action=PutMetricData&Version=2010-08-01&Namespace=...
 * &MetricData.member.N.MetricName=...), which every CloudWatch endpoint and
 * moto_server accept. SigV4 with service "monitoring". Endpoint:
 * AWS_ENDPOINT_URL_CLOUDWATCH, else AWS_ENDPOINT_URL, else
 * https://monitoring.<region>.amazonaws.com, as the SDKs pick it
 * (kl_aws_endpoint_resolve, shared with the JSON clients, aws/json_rpc.h).
 *
 * One `struct kl_cloudwatch` per thread: the form body, reused, and the
 * client of aws/json_rpc.h, which POSTs awsQuery as it POSTs awsJson (its
 * HTTP handle, credential chain, signing, retries and error reporting are
 * the same for every AWS service here). kl_cloudwatch_put() retries
 * throttling, 5xx and network failures a few times with full-jitter backoff
 * (retry.h) and fails fast on auth/validation errors; why a call failed is
 * in c->c.err. A call carries at most KL_CW_MAX_DATA datums (AWS's limit).
 */
#ifndef KL_AWS_CLOUDWATCH_H
#define KL_AWS_CLOUDWATCH_H

#include "aws/json_rpc.h"
#include "core/buf.h"
#include "core/err.h"

#include <stdint.h>

#define KL_CW_MAX_DATA 1000 /* datums per PutMetricData (AWS limit) */
#define KL_CW_MAX_DIMS 4

struct kl_cw_dim {
	const char *name, *value; /* borrowed */
};

/* One datapoint. Strings are borrowed for the duration of the call. */
struct kl_cw_datum {
	const char *name; /* MetricName */
	const char *unit; /* "Count", "Bytes", "Milliseconds" */
	double value;
	struct kl_cw_dim dims[KL_CW_MAX_DIMS];
	unsigned ndims;
};

struct kl_cloudwatch {
	/* c.ep: AWS_ENDPOINT_URL_CLOUDWATCH, else monitoring.<region>;
	 * c.policy: 3 attempts, 100 ms base, 2 s cap; c.err, c.last: why the
	 * last call failed */
	struct kl_aws_json c;
	struct kl_buf body; /* the form being sent, reused */
};

/* region NULL: AWS_REGION, else AWS_DEFAULT_REGION. */
int kl_cloudwatch_init(struct kl_cloudwatch *c, const char *region, struct kl_errbuf *eb);
void kl_cloudwatch_cleanup(struct kl_cloudwatch *c);

/* PutMetricData of d[0..n) (1 <= n <= KL_CW_MAX_DATA) in namespace ns, all
 * stamped with `unix_time`. KL_OK or the classified error (c->err says why,
 * with the number of attempts). */
int kl_cloudwatch_put(struct kl_cloudwatch *c, const char *ns, const struct kl_cw_datum *d,
		      size_t n, int64_t unix_time);

/* The form body of that request, appended to out (exposed for the unit
 * tests). */
int kl_cloudwatch_encode(struct kl_buf *out, const char *ns, const struct kl_cw_datum *d, size_t n,
			 int64_t unix_time);

#endif
