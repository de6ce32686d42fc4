/* kinesis.c — see kinesis.h. Protocol: awsJson1_1 (botocore model
 * kinesis-2013-12-02, X-Amz-Target "Kinesis_20131202.<Operation>"). */
#include "aws/kinesis.h"
#include "aws/sigv4.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const char *kl_aws_region(const struct kl_aws_env *env, const char *explicit_region)
{
	if (explicit_region && *explicit_region)
		return explicit_region;
	const char *r = kl_aws_env_get(env, "AWS_REGION");
	return r ? r : kl_aws_env_get(env, "AWS_DEFAULT_REGION");
}

int kl_kinesis_init(struct kl_kinesis *k, const char *region, struct kl_errbuf *eb)
{
	memset(k, 0, sizeof *k);
	k->env = kl_aws_env_process();
	const char *r = kl_aws_region(&k->env, region);
	if (!r)
		return kl_errbuf_set(eb, KL_EINVAL,
				     "no AWS region: set AWS_REGION or pass --region");
	snprintf(k->region, sizeof k->region, "%s", r);
	const char *ep = kl_aws_env_get(&k->env, "AWS_ENDPOINT_URL_KINESIS");
	if (!ep)
		ep = kl_aws_env_get(&k->env, "AWS_ENDPOINT_URL");
	if (ep)
		snprintf(k->url, sizeof k->url, "%s", ep);
	else
		snprintf(k->url, sizeof k->url, "https://kinesis.%s.amazonaws.com", k->region);
	size_t n = strlen(k->url);
	while (n && k->url[n - 1] == '/')
		k->url[--n] = '\0';
	const char *h = strstr(k->url, "://");
	if (!h)
		return kl_errbuf_set(eb, KL_EINVAL, "bad Kinesis endpoint URL '%s'", k->url);
	snprintf(k->host, sizeof k->host, "%.*s", (int)strcspn(h + 3, "/"), h + 3);
	struct kl_http_opts ho = {0};
	ho.timeout_ms = 30000;
	if (!(k->http = kl_http_new(&ho, eb)))
		return eb && eb->code ? eb->code : KL_ENOMEM;
	kl_cred_chain_init(&k->creds, &k->env, kl_http_transport_of(k->http));
	kl_http_resp_init(&k->resp, 64u << 20);
	kl_rng_seed(&k->rng, (uint64_t)time(NULL) ^ (uint64_t)(uintptr_t)k);
	k->policy = KL_RETRY_POLICY_DEFAULT;
	k->policy.max_attempts = 8;
	return KL_OK;
}

void kl_kinesis_share_creds(struct kl_kinesis *k, struct kl_cred_chain *chain,
			    pthread_mutex_t *mu)
{
	k->shared_creds = chain;
	k->shared_mu = mu;
}

void kl_kinesis_cleanup(struct kl_kinesis *k)
{
	kl_http_resp_cleanup(&k->resp);
	kl_cred_chain_cleanup(&k->creds);
	kl_http_free(k->http);
	k->http = NULL;
}

/* The client's own chain, or the shared one under its mutex. */
static int creds_get(struct kl_kinesis *k, struct kl_aws_creds *c, struct kl_errbuf *eb)
{
	if (!k->shared_creds)
		return kl_cred_chain_get(&k->creds, time(NULL), c, eb);
	pthread_mutex_lock(k->shared_mu);
	int rc = kl_cred_chain_get(k->shared_creds, time(NULL), c, eb);
	pthread_mutex_unlock(k->shared_mu);
	return rc;
}

static void creds_expire(struct kl_kinesis *k)
{
	if (!k->shared_creds) {
		kl_cred_chain_expire(&k->creds);
		return;
	}
	pthread_mutex_lock(k->shared_mu);
	kl_cred_chain_expire(k->shared_creds);
	pthread_mutex_unlock(k->shared_mu);
}

static int attempt(void *ctx, unsigned n, unsigned *retry_after_ms)
{
	(void)n;
	struct kl_kinesis *k = ctx;
	struct kl_aws_creds c;
	struct kl_errbuf eb;
	kl_errbuf_clear(&eb);
	int rc = creds_get(k, &c, &eb);
	if (rc) {
		kl_errbuf_clear(&k->err);
		kl_errbuf_set(&k->err, rc, "Kinesis %s: credentials: %s", k->op, eb.msg);
		return rc == KL_ERETRY ? rc : KL_EAUTH;
	}
	char target[96];
	snprintf(target, sizeof target, "Kinesis_20131202.%s", k->op);
	struct kl_sigv4_header sh[3] = {{"Host", k->host},
					{"Content-Type", "application/x-amz-json-1.1"},
					{"X-Amz-Target", target}};
	struct kl_sigv4_request sr = {0};
	sr.method = "POST";
	sr.path = "/";
	sr.headers = sh;
	sr.n_headers = 3;
	sr.payload = k->body;
	sr.payload_len = k->body_len;
	sr.region = k->region;
	sr.service = "kinesis";
	sr.access_key_id = c.access_key_id;
	sr.secret_access_key = c.secret_access_key;
	sr.session_token = c.session_token;
	sr.now = time(NULL);
	sr.flags = KL_SIGV4_DEFAULT;
	struct kl_sigv4_result res;
	kl_sigv4_result_init(&res);
	rc = kl_sigv4_sign(&sr, &res, &eb);
	kl_aws_creds_wipe(&c);
	if (rc) {
		kl_sigv4_result_cleanup(&res);
		kl_errbuf_clear(&k->err);
		kl_errbuf_set(&k->err, rc, "signing: %s", eb.msg);
		return KL_EAUTH;
	}
	struct kl_http_header hh[3 + KL_SIGV4_MAX_ADD + 1];
	size_t nh = 0;
	hh[nh++] = (struct kl_http_header){"Content-Type", "application/x-amz-json-1.1"};
	hh[nh++] = (struct kl_http_header){"X-Amz-Target", target};
	for (size_t i = 0; i < res.n_add; i++)
		hh[nh++] = (struct kl_http_header){res.add[i].name, res.add[i].value};
	hh[nh++] = (struct kl_http_header){"Authorization", res.authz.data};
	struct kl_http_req req = {"POST", k->url, hh, nh, k->body, k->body_len};
	kl_errbuf_clear(&eb);
	rc = kl_http_request(k->http, &req, &k->resp, &eb);
	kl_sigv4_result_cleanup(&res);
	memset(&k->last, 0, sizeof k->last);
	if (rc && k->resp.net == KL_NET_OK) {
		kl_errbuf_clear(&k->err);
		kl_errbuf_set(&k->err, rc, "Kinesis %s: %s", k->op, eb.msg);
		return rc;
	}
	if (k->resp.net == KL_NET_OK && k->resp.status == 200)
		return KL_OK;
	if (k->resp.net == KL_NET_OK)
		kl_aws_error_parse(k->resp.body.data, k->resp.body.len, k->resp.error_type, &k->last);
	k->last.status = k->resp.status;
	if (k->resp.retry_after[0])
		*retry_after_ms = (unsigned)atoi(k->resp.retry_after) * 1000;
	kl_errbuf_clear(&k->err);
	if (k->resp.net != KL_NET_OK)
		kl_errbuf_set(&k->err, KL_ERETRY, "Kinesis %s at %s: %s", k->op, k->url, eb.msg);
	else
		kl_errbuf_set(&k->err, KL_EREMOTE, "Kinesis %s: HTTP %d %s: %s", k->op,
			      k->resp.status, k->last.code[0] ? k->last.code : "(no code)",
			      k->last.message);
	if (k->resp.net == KL_NET_OK && kl_retry_is_expired_token(k->last.code) &&
	    !k->refreshed) {
		k->refreshed = 1; /* new credentials, then one more try */
		creds_expire(k);
		return KL_ERETRY;
	}
	return kl_retry_classify(k->resp.net, k->resp.status, k->last.code);
}

int kl_kinesis_call(struct kl_kinesis *k, const char *op, const char *body, size_t n)
{
	k->op = op;
	k->body = body;
	k->body_len = n;
	k->refreshed = 0;
	unsigned attempts;
	int rc = kl_retry_run(&k->policy, &k->rng, NULL, NULL, attempt, k, &attempts);
	if (rc == KL_OK) {
		kl_errbuf_clear(&k->err);
	} else {
		/* as the S3 store does: shows that auth errors were not retried */
		size_t used = strlen(k->err.msg);
		snprintf(k->err.msg + used, sizeof k->err.msg - used, " (%u attempt%s)", attempts,
			 attempts == 1 ? "" : "s");
	}
	return rc;
}
