/* cloudwatch.c — see cloudwatch.h. Protocol: awsQuery (botocore model
 * monitoring-2010-08-01), operation PutMetricData. */
#include "aws/cloudwatch.h"
#include "aws/sigv4.h" /* kl_uri_encode */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define FORM_TYPE "application/x-www-form-urlencoded; charset=utf-8"

static const struct kl_aws_json_service cw_service = {
    .name = "CloudWatch",			   /* in messages */
    .signing_name = "monitoring",		   /* SigV4 service */
    .target_prefix = NULL,			   /* awsQuery: Action= in the body */
    .endpoint_env = "AWS_ENDPOINT_URL_CLOUDWATCH", /* the SDKs' service-specific variable */
    .host_prefix = "monitoring",		   /* monitoring.<region>.amazonaws.com */
    .content_type = FORM_TYPE,			   /* the form body */
    .timeout_ms = 10000,			   /* metrics are not worth waiting for */
    .connect_timeout_ms = 3000,			   /* " */
    .max_response = 1u << 20,			   /* a small XML answer */
};

int kl_cloudwatch_init(struct kl_cloudwatch *c, const char *region, struct kl_errbuf *eb)
{
	kl_buf_init(&c->body, 8u << 20);
	int rc = kl_aws_json_init(&c->c, &cw_service, region, eb);
	/* metrics are not worth holding the publisher long: the next interval
	 * sends the same deltas again */
	c->c.policy = (struct kl_retry_policy){100, 2000, 3};
	return rc;
}

void kl_cloudwatch_cleanup(struct kl_cloudwatch *c)
{
	kl_aws_json_cleanup(&c->c);
	kl_buf_cleanup(&c->body);
}

/* "&<prefix><i>.<field>=" then the URI-encoded value. */
static int field(struct kl_buf *b, const char *key, const char *val)
{
	int rc = kl_buf_putc(b, '&');
	rc = rc ? rc : kl_buf_puts(b, key);
	rc = rc ? rc : kl_buf_putc(b, '=');
	return rc ? rc : kl_uri_encode(b, val, strlen(val), 0);
}

int kl_cloudwatch_encode(struct kl_buf *b, const char *ns, const struct kl_cw_datum *d, size_t n,
			 int64_t unix_time)
{
	char ts[32], key[96], num[40];
	time_t t = (time_t)unix_time;
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
	int rc = kl_buf_puts(b, "Action=PutMetricData&Version=2010-08-01");
	rc = rc ? rc : field(b, "Namespace", ns);
	for (size_t i = 0; i < n && !rc; i++) {
		size_t m = i + 1;
		snprintf(key, sizeof key, "MetricData.member.%zu.MetricName", m);
		rc = field(b, key, d[i].name);
		snprintf(key, sizeof key, "MetricData.member.%zu.Unit", m);
		rc = rc ? rc : field(b, key, d[i].unit);
		snprintf(key, sizeof key, "MetricData.member.%zu.Value", m);
		snprintf(num, sizeof num, "%.17g", d[i].value);
		rc = rc ? rc : field(b, key, num);
		snprintf(key, sizeof key, "MetricData.member.%zu.Timestamp", m);
		rc = rc ? rc : field(b, key, ts);
		for (unsigned j = 0; j < d[i].ndims && !rc; j++) {
			snprintf(key, sizeof key, "MetricData.member.%zu.Dimensions.member.%u.Name",
				 m, j + 1);
			rc = field(b, key, d[i].dims[j].name);
			snprintf(key, sizeof key,
				 "MetricData.member.%zu.Dimensions.member.%u.Value", m, j + 1);
			rc = rc ? rc : field(b, key, d[i].dims[j].value);
		}
	}
	return rc;
}

int kl_cloudwatch_put(struct kl_cloudwatch *c, const char *ns, const struct kl_cw_datum *d,
		      size_t n, int64_t unix_time)
{
	kl_errbuf_clear(&c->c.err);
	if (n == 0 || n > KL_CW_MAX_DATA)
		return kl_errbuf_set(&c->c.err, KL_EINVAL, "PutMetricData: %zu datums (1..%d)", n,
				     KL_CW_MAX_DATA);
	kl_buf_reset(&c->body);
	if (kl_cloudwatch_encode(&c->body, ns, d, n, unix_time))
		return kl_errbuf_set(&c->c.err, KL_ENOMEM, "PutMetricData: out of memory");
	return kl_aws_json_call(&c->c, "PutMetricData", c->body.data, c->body.len);
}
