/* cred_sts.c — one STS Query API call (AssumeRole, AssumeRoleWithWebIdentity)
 * for the credential providers: form-encoded POST, optionally SigV4-signed,
 * XML response (see credentials.h). */
#include "aws/credentials.h"

#include <stdio.h>
#include <string.h>

#include "aws/sigv4_http.h"

static int endpoint(const struct kl_cred_ctx *c, const char *region, char *url, size_t cap)
{
	const char *e = kl_aws_env_get(&c->env, "AWS_ENDPOINT_URL_STS");
	if (!e)
		e = kl_aws_env_get(&c->env, "AWS_ENDPOINT_URL");
	int n = e ? snprintf(url, cap, "%s", e)
		  : snprintf(url, cap, "https://sts.%s.amazonaws.com/", region);
	return n > 0 && (size_t)n < cap ? KL_OK : KL_EINVAL;
}

/* "scheme://host[:port][/path]" -> host[:port] and path ("/" if none). */
static int split_url(const char *url, char *host, size_t hcap, const char **path)
{
	const char *s = strstr(url, "://");
	if (!s)
		return KL_EINVAL;
	s += 3;
	size_t n = strcspn(s, "/?#");
	if (n == 0 || n >= hcap)
		return KL_EINVAL;
	memcpy(host, s, n);
	host[n] = '\0';
	*path = s[n] == '/' ? s + n : "/";
	return KL_OK;
}

int kl_sts_call(const struct kl_cred_ctx *c, const char *region, const char *action,
		const char *params, const struct kl_aws_creds *signer, struct kl_aws_creds *out,
		struct kl_errbuf *eb)
{
	if (!c->http.request)
		return kl_errbuf_set(eb, KL_EUNSUPPORTED, "sts: no HTTP transport");
	char url[512], host[256];
	const char *path;
	if (endpoint(c, region, url, sizeof url) || split_url(url, host, sizeof host, &path))
		return kl_errbuf_set(eb, KL_EINVAL, "sts: bad endpoint URL");
	struct kl_buf body;
	kl_buf_init(&body, 1 << 20);
	int rc = kl_buf_printf(&body, "Action=%s&Version=2011-06-15&%s", action, params);
	if (rc) {
		kl_buf_cleanup(&body);
		return kl_errbuf_set(eb, rc, "sts: request too large");
	}
	const char *ctype = "application/x-www-form-urlencoded; charset=utf-8";
	struct kl_sigv4_header sh[] = {{"Host", host}, {"Content-Type", ctype}};
	struct kl_http_header h[KL_SIGV4_HTTP_HEADERS(2)] = {{"Content-Type", ctype}};
	size_t nh = 1; /* unsigned (AssumeRoleWithWebIdentity): Content-Type only */
	struct kl_sigv4_result sig;
	kl_sigv4_result_init(&sig);
	if (signer) {
		struct kl_sigv4_request sr = {
			.method = "POST", .path = path, .headers = sh, .n_headers = 2,
			.payload = body.data, .payload_len = body.len, .region = region,
			.service = "sts", .flags = KL_SIGV4_DEFAULT,
		};
		rc = kl_sigv4_http_sign(&sr, signer, c->now, &sig, h, &nh, eb);
	}
	struct kl_http_resp resp;
	kl_http_resp_init(&resp, 1 << 20);
	if (!rc) {
		struct kl_http_req req = {.method = "POST",
					  .url = url,
					  .headers = h,
					  .n_headers = nh,
					  .body = body.data,
					  .body_len = body.len};
		rc = c->http.request(c->http.ctx, &req, &resp, eb);
	}
	if (!rc && resp.status != 200) {
		struct kl_aws_error e;
		kl_aws_error_parse(resp.body.data, resp.body.len, resp.error_type, &e);
		rc = kl_retry_classify(KL_NET_OK, resp.status, e.code);
		if (rc == KL_OK)
			rc = KL_EREMOTE;
		kl_errbuf_set(eb, rc, "sts: %s failed: HTTP %d %s%s%s", action, resp.status,
			      e.code[0] ? e.code : "(no error code)", e.message[0] ? ": " : "",
			      e.message);
	} else if (!rc) {
		rc = kl_sts_parse_credentials(resp.body.data, resp.body.len, out);
		if (rc)
			kl_errbuf_set(eb, rc, "sts: %s: malformed response", action);
	}
	kl_sigv4_result_cleanup(&sig);
	kl_http_resp_cleanup(&resp);
	kl_buf_cleanup(&body);
	return rc;
}
