/* cloudwatch.c — see cloudwatch.h. Protocol: awsQuery (botocore model
 * monitoring-2010-08-01), operation PutMetricData. */
#include "aws/cloudwatch.h"
#include "aws/json_rpc.h" /* kl_aws_endpoint_resolve */
#include "aws/sigv4_http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define FORM_TYPE "application/x-www-form-urlencoded; charset=utf-8"

int kl_cloudwatch_init(struct kl_cloudwatch *c, const char *region, struct kl_errbuf *eb)
{
	memset(c, 0, sizeof *c);
	kl_buf_init(&c->body, 8u << 20);
	kl_http_resp_init(&c->resp, 1u << 20);
	c->env = kl_aws_env_process();
	int rc = kl_aws_endpoint_resolve(&c->ep, &c->env, region, "AWS_ENDPOINT_URL_CLOUDWATCH",
					 "monitoring", "CloudWatch", eb);
	if (rc)
		return rc;
	struct kl_http_opts ho = {0};
	ho.timeout_ms = 10000;
	ho.connect_timeout_ms = 3000;
	if (!(c->http = kl_http_new(&ho, eb)))
		return eb && eb->code ? eb->code : KL_ENOMEM;
	kl_cred_chain_init(&c->creds, &c->env, kl_http_transport_of(c->http));
	kl_rng_seed(&c->rng, (uint64_t)time(NULL) ^ (uint64_t)(uintptr_t)c);
	/* metrics are not worth holding the publisher long: the next interval
	 * sends the same deltas again */
	c->policy = (struct kl_retry_policy){100, 2000, 3};
	return KL_OK;
}

void kl_cloudwatch_cleanup(struct kl_cloudwatch *c)
{
	if (c->http)
		kl_cred_chain_cleanup(&c->creds);
	kl_http_free(c->http);
	c->http = NULL;
	kl_http_resp_cleanup(&c->resp);
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

static int attempt(void *ctx, unsigned n, unsigned *retry_after_ms)
{
	(void)n;
	struct kl_cloudwatch *c = ctx;
	struct kl_aws_creds cr;
	struct kl_errbuf eb;
	kl_errbuf_clear(&eb);
	int rc = kl_cred_chain_get(&c->creds, time(NULL), &cr, &eb);
	kl_errbuf_clear(&c->err);
	if (rc) {
		kl_errbuf_set(&c->err, rc, "CloudWatch PutMetricData: credentials: %s", eb.msg);
		return rc == KL_ERETRY ? rc : KL_EAUTH;
	}
	struct kl_sigv4_header sh[2] = {{"Host", c->ep.host}, {"Content-Type", FORM_TYPE}};
	struct kl_sigv4_request sr = {.method = "POST", .path = "/", .headers = sh, .n_headers = 2,
				      .payload = c->body.data, .payload_len = c->body.len,
				      .region = c->ep.region, .service = "monitoring",
				      .flags = KL_SIGV4_DEFAULT};
	struct kl_http_header hh[KL_SIGV4_HTTP_HEADERS(2)];
	size_t nh;
	struct kl_sigv4_result res;
	kl_sigv4_result_init(&res);
	rc = kl_sigv4_http_sign(&sr, &cr, time(NULL), &res, hh, &nh, &eb);
	kl_aws_creds_wipe(&cr);
	if (rc) {
		kl_sigv4_result_cleanup(&res);
		kl_errbuf_set(&c->err, rc, "CloudWatch PutMetricData: signing: %s", eb.msg);
		return KL_EAUTH;
	}
	struct kl_http_req req = {"POST", c->ep.url, hh, nh, c->body.data, c->body.len, NULL, 0};
	kl_errbuf_clear(&eb);
	rc = kl_http_request(c->http, &req, &c->resp, &eb);
	kl_sigv4_result_cleanup(&res);
	memset(&c->last, 0, sizeof c->last);
	if (rc && c->resp.net == KL_NET_OK) {
		kl_errbuf_set(&c->err, rc, "CloudWatch PutMetricData: %s", eb.msg);
		return rc;
	}
	if (c->resp.net == KL_NET_OK && c->resp.status == 200)
		return KL_OK;
	if (c->resp.net != KL_NET_OK) {
		kl_errbuf_set(&c->err, KL_ERETRY, "CloudWatch PutMetricData at %s: %s", c->ep.url,
			      eb.msg);
		return kl_retry_classify(c->resp.net, 0, NULL);
	}
	kl_aws_error_parse(c->resp.body.data, c->resp.body.len, c->resp.error_type, &c->last);
	c->last.status = c->resp.status;
	*retry_after_ms = kl_http_resp_retry_after_ms(&c->resp);
	kl_errbuf_set(&c->err, KL_EREMOTE, "CloudWatch PutMetricData: HTTP %d %s: %s",
		      c->resp.status, c->last.code[0] ? c->last.code : "(no code)",
		      c->last.message);
	if (kl_retry_is_expired_token(c->last.code) && !c->refreshed) {
		c->refreshed = 1; /* new credentials, then one more try */
		kl_cred_chain_expire(&c->creds);
		return KL_ERETRY;
	}
	return kl_retry_classify(c->resp.net, c->resp.status, c->last.code);
}

int kl_cloudwatch_put(struct kl_cloudwatch *c, const char *ns, const struct kl_cw_datum *d,
		      size_t n, int64_t unix_time)
{
	kl_errbuf_clear(&c->err);
	if (n == 0 || n > KL_CW_MAX_DATA)
		return kl_errbuf_set(&c->err, KL_EINVAL, "PutMetricData: %zu datums (1..%d)", n,
				     KL_CW_MAX_DATA);
	kl_buf_reset(&c->body);
	if (kl_cloudwatch_encode(&c->body, ns, d, n, unix_time))
		return kl_errbuf_set(&c->err, KL_ENOMEM, "PutMetricData: out of memory");
	c->refreshed = 0;
	unsigned attempts;
	int rc = kl_retry_run(&c->policy, &c->rng, NULL, NULL, attempt, c, &attempts);
	if (rc == KL_OK) {
		kl_errbuf_clear(&c->err);
	} else {
		size_t used = strlen(c->err.msg);
		snprintf(c->err.msg + used, sizeof c->err.msg - used, " (%u attempt%s)", attempts,
			 attempts == 1 ? "" : "s");
	}
	return rc;
}
