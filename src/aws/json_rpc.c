/* json_rpc.c — see json_rpc.h. Protocols: awsJson1_1 and awsJson1_0
 * (Content-Type application/x-amz-json-1.1 or -1.0, X-Amz-Target
 * "<prefix>.<Operation>"). */
#include "aws/json_rpc.h"
#include "aws/sigv4_http.h"

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

int kl_aws_endpoint_resolve(struct kl_aws_endpoint *ep, const struct kl_aws_env *env,
			    const char *region, const char *endpoint_env,
			    const char *host_prefix, const char *name, struct kl_errbuf *eb)
{
	const char *r = kl_aws_region(env, region);
	if (!r)
		return kl_errbuf_set(eb, KL_EINVAL,
				     "no AWS region: set AWS_REGION or pass --region");
	snprintf(ep->region, sizeof ep->region, "%s", r);
	const char *u = kl_aws_env_get(env, endpoint_env);
	if (!u)
		u = kl_aws_env_get(env, "AWS_ENDPOINT_URL");
	if (u)
		snprintf(ep->url, sizeof ep->url, "%s", u);
	else
		snprintf(ep->url, sizeof ep->url, "https://%s.%s.amazonaws.com", host_prefix,
			 ep->region);
	size_t n = strlen(ep->url);
	while (n && ep->url[n - 1] == '/')
		ep->url[--n] = '\0';
	const char *h = strstr(ep->url, "://");
	if (!h)
		return kl_errbuf_set(eb, KL_EINVAL, "bad %s endpoint URL '%s'", name, ep->url);
	snprintf(ep->host, sizeof ep->host, "%.*s", (int)strcspn(h + 3, "/"), h + 3);
	return KL_OK;
}

int kl_aws_json_init(struct kl_aws_json *c, const struct kl_aws_json_service *svc,
		     const char *region, struct kl_errbuf *eb)
{
	memset(c, 0, sizeof *c);
	c->svc = svc;
	if (svc->content_type)
		snprintf(c->content_type, sizeof c->content_type, "%s", svc->content_type);
	else
		snprintf(c->content_type, sizeof c->content_type, "application/x-amz-json-%s",
			 svc->json_version ? svc->json_version : "1.1");
	c->env = kl_aws_env_process();
	int rc = kl_aws_endpoint_resolve(&c->ep, &c->env, region, svc->endpoint_env,
					 svc->host_prefix, svc->name, eb);
	if (rc)
		return rc;
	struct kl_http_opts ho = {0};
	ho.timeout_ms = svc->timeout_ms ? svc->timeout_ms : 30000;
	ho.connect_timeout_ms = svc->connect_timeout_ms;
	ho.recv_buffer = svc->recv_buffer;
	if (!(c->http = kl_http_new(&ho, eb)))
		return eb && eb->code ? eb->code : KL_ENOMEM;
	kl_cred_chain_init(&c->creds, &c->env, kl_http_transport_of(c->http));
	kl_http_resp_init(&c->resp, svc->max_response ? svc->max_response : 64u << 20);
	kl_rng_seed(&c->rng, (uint64_t)time(NULL) ^ (uint64_t)(uintptr_t)c);
	c->policy = KL_RETRY_POLICY_DEFAULT;
	return KL_OK;
}

void kl_aws_json_cleanup(struct kl_aws_json *c)
{
	if (!c->svc)
		return;
	kl_http_resp_cleanup(&c->resp);
	kl_cred_chain_cleanup(&c->creds);
	kl_http_free(c->http);
	c->http = NULL;
	c->svc = NULL;
}

void kl_aws_json_share_creds(struct kl_aws_json *c, struct kl_cred_chain *chain,
			     pthread_mutex_t *mu)
{
	c->shared_creds = chain;
	c->shared_mu = mu;
}

/* The client's own chain, or the shared one under its mutex. */
static int creds_get(struct kl_aws_json *c, struct kl_aws_creds *cr, struct kl_errbuf *eb)
{
	if (!c->shared_creds)
		return kl_cred_chain_get(&c->creds, time(NULL), cr, eb);
	pthread_mutex_lock(c->shared_mu);
	int rc = kl_cred_chain_get(c->shared_creds, time(NULL), cr, eb);
	pthread_mutex_unlock(c->shared_mu);
	return rc;
}

static void creds_expire(struct kl_aws_json *c)
{
	if (!c->shared_creds) {
		kl_cred_chain_expire(&c->creds);
		return;
	}
	pthread_mutex_lock(c->shared_mu);
	kl_cred_chain_expire(c->shared_creds);
	pthread_mutex_unlock(c->shared_mu);
}

/* Sign and send one attempt; the classification decides about retrying. */
static int attempt(void *ctx, unsigned n, unsigned *retry_after_ms)
{
	(void)n;
	struct kl_aws_json *c = ctx;
	const char *svc = c->svc->name;
	struct kl_aws_creds cr;
	struct kl_errbuf eb;
	kl_errbuf_clear(&eb);
	int rc = creds_get(c, &cr, &eb);
	if (rc) {
		kl_errbuf_clear(&c->err);
		kl_errbuf_set(&c->err, rc, "%s %s: credentials: %s", svc, c->op, eb.msg);
		return rc == KL_ERETRY ? rc : KL_EAUTH;
	}
	char target[128] = "";
	if (c->svc->target_prefix)
		snprintf(target, sizeof target, "%s.%s", c->svc->target_prefix, c->op);
	struct kl_sigv4_header sh[3] = {{"Host", c->ep.host},
					{"Content-Type", c->content_type},
					{"X-Amz-Target", target}};
	size_t nsh = c->svc->target_prefix ? 3 : 2; /* awsQuery: no target */
	struct kl_sigv4_request sr = {.method = "POST", .path = "/", .headers = sh, .n_headers = nsh,
				      .payload = c->body, .payload_len = c->body_len,
				      .region = c->ep.region, .service = c->svc->signing_name,
				      .flags = KL_SIGV4_DEFAULT};
	struct kl_http_header hh[KL_SIGV4_HTTP_HEADERS(3)];
	size_t nh;
	struct kl_sigv4_result res;
	kl_sigv4_result_init(&res);
	rc = kl_sigv4_http_sign(&sr, &cr, time(NULL), &res, hh, &nh, &eb);
	kl_aws_creds_wipe(&cr);
	if (rc) {
		kl_sigv4_result_cleanup(&res);
		kl_errbuf_clear(&c->err);
		kl_errbuf_set(&c->err, rc, "%s %s: signing: %s", svc, c->op, eb.msg);
		return KL_EAUTH;
	}
	struct kl_http_req req = {.method = "POST",
				  .url = c->ep.url,
				  .headers = hh,
				  .n_headers = nh,
				  .body = c->body,
				  .body_len = c->body_len,
				  .cancel = c->cancel,
				  .timeout_ms = c->attempt_timeout_ms,
				  .moved = c->moved};
	kl_errbuf_clear(&eb);
	rc = kl_http_request(c->http, &req, &c->resp, &eb);
	kl_sigv4_result_cleanup(&res);
	memset(&c->last, 0, sizeof c->last);
	if (rc && c->resp.net == KL_NET_OK) {
		kl_errbuf_clear(&c->err);
		kl_errbuf_set(&c->err, rc, "%s %s: %s", svc, c->op, eb.msg);
		return rc;
	}
	if (c->resp.net == KL_NET_OK && c->resp.status == 200)
		return KL_OK;
	if (c->resp.net == KL_NET_OK)
		kl_aws_error_parse(c->resp.body.data, c->resp.body.len, c->resp.error_type,
				   &c->last);
	c->last.status = c->resp.status;
	*retry_after_ms = kl_http_resp_retry_after_ms(&c->resp);
	kl_errbuf_clear(&c->err);
	if (c->resp.net != KL_NET_OK)
		kl_errbuf_set(&c->err, KL_ERETRY, "%s %s at %s: %s", svc, c->op, c->ep.url, eb.msg);
	else
		kl_errbuf_set(&c->err, KL_EREMOTE, "%s %s: HTTP %d %s: %s", svc, c->op,
			      c->resp.status, c->last.code[0] ? c->last.code : "(no code)",
			      c->last.message);
	if (c->resp.net == KL_NET_OK && kl_retry_is_expired_token(c->last.code) && !c->refreshed) {
		c->refreshed = 1; /* new credentials, then one more try */
		creds_expire(c);
		return KL_ERETRY;
	}
	return kl_retry_classify(c->resp.net, c->resp.status, c->last.code);
}

int kl_aws_json_call(struct kl_aws_json *c, const char *op, const char *body, size_t n)
{
	c->op = op;
	c->body = body;
	c->body_len = n;
	c->refreshed = 0;
	unsigned attempts = 0;
	int rc = kl_retry_run(&c->policy, &c->rng, kl_retry_sleep_cancel, (void *)c->cancel, attempt,
			      c, &attempts);
	if (c->retries && attempts > 1)
		atomic_fetch_add_explicit(c->retries, attempts - 1, memory_order_relaxed);
	if (rc == KL_EINTR) {
		kl_errbuf_clear(&c->err);
		kl_errbuf_set(&c->err, rc, "%s %s: abandoned at shutdown (%u attempt%s)",
			      c->svc->name, op, attempts, attempts == 1 ? "" : "s");
		return rc;
	}
	if (rc == KL_OK) {
		kl_errbuf_clear(&c->err);
		memset(&c->last, 0, sizeof c->last);
	} else {
		size_t used = strlen(c->err.msg);
		snprintf(c->err.msg + used, sizeof c->err.msg - used, " (%u attempt%s)", attempts,
			 attempts == 1 ? "" : "s");
	}
	return rc;
}
