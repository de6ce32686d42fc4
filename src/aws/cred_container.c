/* cred_container.c — ECS/EKS container credentials (see credentials.h):
 * AWS_CONTAINER_CREDENTIALS_RELATIVE_URI (against http://169.254.170.2) or
 * _FULL_URI (https, or http only to loopback / 169.254.170.2 / .23), with an
 * Authorization header from AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE or
 * AWS_CONTAINER_AUTHORIZATION_TOKEN. JSON response. */
#include "aws/credentials.h"

#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "cred_internal.h"

static int allowed_http_host(const char *url)
{
	static const char *const ok[] = {"http://127.", "http://localhost:", "http://localhost/",
					 "http://169.254.170.2:", "http://169.254.170.2/",
					 "http://169.254.170.23:", "http://169.254.170.23/",
					 "http://[::1]", "http://[fd00:ec2::23]"};
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
		if (strncmp(url, ok[i], strlen(ok[i])) == 0)
			return 1;
	return strcmp(url, "http://localhost") == 0 || strcmp(url, "http://169.254.170.2") == 0;
}

int kl_cred_container(const struct kl_cred_ctx *c, struct kl_aws_creds *out,
		      struct kl_errbuf *eb)
{
	const char *rel = kl_aws_env_get(&c->env, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
	const char *full = kl_aws_env_get(&c->env, "AWS_CONTAINER_CREDENTIALS_FULL_URI");
	if (!rel && !full)
		return KL_ENOTFOUND;
	if (!c->http.request)
		return kl_errbuf_set(eb, KL_EUNSUPPORTED, "container credentials: no transport");
	char url[1024];
	if (rel)
		snprintf(url, sizeof url, "http://169.254.170.2%s%s", rel[0] == '/' ? "" : "/", rel);
	else if (strncmp(full, "https://", 8) == 0 || allowed_http_host(full))
		snprintf(url, sizeof url, "%s", full);
	else
		return kl_errbuf_set(eb, KL_EINVAL,
				     "container credentials: AWS_CONTAINER_CREDENTIALS_FULL_URI must "
				     "be https or a loopback/ECS/EKS address");

	struct kl_buf tok;
	kl_buf_init(&tok, 1 << 16);
	int rc = KL_OK;
	const char *file = kl_aws_env_get(&c->env, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
	const char *tokv = kl_aws_env_get(&c->env, "AWS_CONTAINER_AUTHORIZATION_TOKEN");
	if (file) {
		rc = kl_cred_read_small_file(file, &tok, eb);
		if (rc == KL_ENOTFOUND)
			rc = KL_EINVAL;
	} else if (tokv) {
		rc = kl_buf_puts(&tok, tokv);
		if (!rc)
			rc = kl_buf_putc(&tok, '\0');
	}
	if (!rc && tok.len && (memchr(tok.data, '\r', strlen(tok.data)) ||
			       memchr(tok.data, '\n', strlen(tok.data))))
		rc = kl_errbuf_set(eb, KL_EINVAL, "container credentials: token has a line break");
	struct kl_http_header h[] = {{"Authorization", tok.data}, {"Accept", "application/json"}};
	struct kl_http_req req = {.method = "GET",
				  .url = url,
				  .headers = tok.len ? h : h + 1,
				  .n_headers = tok.len ? 2 : 1};
	struct kl_http_resp resp;
	kl_http_resp_init(&resp, 1 << 16);
	if (!rc)
		rc = c->http.request(c->http.ctx, &req, &resp, eb);
	if (!rc && resp.status != 200)
		rc = kl_errbuf_set(eb, resp.status == 401 || resp.status == 403 ? KL_EAUTH
						  : resp.status >= 500 ? KL_ERETRY : KL_EREMOTE,
				   "container credentials: HTTP %d", resp.status);
	if (!rc) {
		rc = kl_metadata_parse_credentials(resp.body.data, resp.body.len, out);
		if (rc)
			kl_errbuf_set(eb, rc, "container credentials: malformed response");
	}
	if (resp.body.data)
		OPENSSL_cleanse(resp.body.data, resp.body.cap);
	kl_http_resp_cleanup(&resp);
	if (tok.data)
		OPENSSL_cleanse(tok.data, tok.cap);
	kl_buf_cleanup(&tok);
	return rc;
}
