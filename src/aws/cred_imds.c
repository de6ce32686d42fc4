/* cred_imds.c — EC2 instance credentials over IMDSv2 (see credentials.h):
 * PUT /latest/api/token (X-aws-ec2-metadata-token-ttl-seconds), then
 * GET /latest/meta-data/iam/security-credentials/ (role name) and
 * GET .../<role> (JSON). Endpoint AWS_EC2_METADATA_SERVICE_ENDPOINT or
 * http://169.254.169.254; AWS_EC2_METADATA_DISABLED=true turns it off.
 * Each request may take 1 s (AWS_METADATA_SERVICE_TIMEOUT, seconds), as in
 * the AWS SDKs. Not reachable = not on EC2 = KL_ENOTFOUND. */
#include "aws/credentials.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

static int get(const struct kl_cred_ctx *c, const char *method, const char *url,
	       const struct kl_http_header *h, size_t nh, struct kl_http_resp *resp,
	       struct kl_errbuf *eb)
{
	/* as the AWS SDKs: 1 s (AWS_METADATA_SERVICE_TIMEOUT seconds), so that off
	 * EC2, where the address may drop packets, "none found" comes at once */
	const char *t = kl_aws_env_get(&c->env, "AWS_METADATA_SERVICE_TIMEOUT");
	int sec = t ? atoi(t) : 0;
	long ms = sec > 0 && sec <= 3600 ? 1000L * sec : 1000;
	struct kl_http_req req = {
	    .method = method, .url = url, .headers = h, .n_headers = nh, .timeout_ms = ms};
	struct kl_errbuf local = {{0}, 0};
	int rc = c->http.request(c->http.ctx, &req, resp, &local);
	if (rc)
		return KL_ENOTFOUND; /* no metadata service: not on EC2 */
	if (resp->status != 200)
		return kl_errbuf_set(eb, resp->status >= 500 || resp->status == 429 ? KL_ERETRY
					 : resp->status == 401 || resp->status == 403 ? KL_EAUTH
										     : KL_EREMOTE,
				     "instance metadata: %s %s: HTTP %d", method,
				     strstr(url, "/latest/"), resp->status);
	return kl_buf_putc(&resp->body, '\0') == KL_OK ? (resp->body.len--, KL_OK) : KL_ENOMEM;
}

int kl_cred_imds(const struct kl_cred_ctx *c, struct kl_aws_creds *out, struct kl_errbuf *eb)
{
	const char *dis = kl_aws_env_get(&c->env, "AWS_EC2_METADATA_DISABLED");
	if ((dis && strcasecmp(dis, "true") == 0) || !c->http.request)
		return KL_ENOTFOUND;
	const char *base = kl_aws_env_get(&c->env, "AWS_EC2_METADATA_SERVICE_ENDPOINT");
	if (!base)
		base = "http://169.254.169.254";
	size_t bl = strlen(base);
	while (bl && base[bl - 1] == '/')
		bl--;
	char url[1024], token[1024];
	struct kl_http_resp resp;
	kl_http_resp_init(&resp, 1 << 16);

	snprintf(url, sizeof url, "%.*s/latest/api/token", (int)bl, base);
	struct kl_http_header th[] = {{"X-aws-ec2-metadata-token-ttl-seconds", "21600"}};
	int rc = get(c, "PUT", url, th, 1, &resp, eb);
	if (!rc && (resp.body.len == 0 || resp.body.len >= sizeof token ||
		    strpbrk(resp.body.data, "\r\n")))
		rc = kl_errbuf_set(eb, KL_EREMOTE, "instance metadata: bad token response");
	if (!rc)
		memcpy(token, resp.body.data, resp.body.len + 1);
	struct kl_http_header ah[] = {{"X-aws-ec2-metadata-token", token}};
	char role[256] = "";
	if (!rc) {
		snprintf(url, sizeof url, "%.*s/latest/meta-data/iam/security-credentials/",
			 (int)bl, base);
		rc = get(c, "GET", url, ah, 1, &resp, eb);
		if (rc == KL_EREMOTE) /* 404: no role attached */
			rc = KL_ENOTFOUND;
	}
	if (!rc) {
		size_t n = strcspn(resp.body.data, "\r\n");
		if (n == 0 || n >= sizeof role || memchr(resp.body.data, '/', n))
			rc = kl_errbuf_set(eb, KL_EREMOTE, "instance metadata: bad role name");
		else
			memcpy(role, resp.body.data, n), role[n] = '\0';
	}
	if (!rc) {
		snprintf(url, sizeof url, "%.*s/latest/meta-data/iam/security-credentials/%s",
			 (int)bl, base, role);
		rc = get(c, "GET", url, ah, 1, &resp, eb);
		if (rc == KL_ENOTFOUND)
			rc = kl_errbuf_set(eb, KL_ERETRY, "instance metadata: lost during fetch");
	}
	if (!rc) {
		rc = kl_metadata_parse_credentials(resp.body.data, resp.body.len, out);
		if (rc)
			kl_errbuf_set(eb, rc, "instance metadata: malformed credentials");
	}
	OPENSSL_cleanse(token, sizeof token);
	if (resp.body.data)
		OPENSSL_cleanse(resp.body.data, resp.body.cap);
	kl_http_resp_cleanup(&resp);
	return rc;
}
