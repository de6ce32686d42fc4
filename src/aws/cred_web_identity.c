/* cred_web_identity.c — AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN (and
 * AWS_ROLE_SESSION_NAME) -> STS AssumeRoleWithWebIdentity, unsigned (see
 * credentials.h). Also used by profiles with web_identity_token_file. */
#include "aws/credentials.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "aws/sigv4.h"
#include "cred_internal.h"

int kl_cred_read_small_file(const char *path, struct kl_buf *out, struct kl_errbuf *eb)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return kl_errbuf_set(eb, errno == ENOENT ? KL_ENOTFOUND : KL_EIO,
				     "open %s: %s", path, strerror(errno));
	char buf[4096];
	size_t n;
	int rc = KL_OK;
	while (!rc && (n = fread(buf, 1, sizeof buf, f)) > 0)
		rc = kl_buf_append(out, buf, n);
	if (!rc && ferror(f))
		rc = KL_EIO;
	fclose(f);
	OPENSSL_cleanse(buf, sizeof buf);
	while (!rc && out->len && (out->data[out->len - 1] == '\n' || out->data[out->len - 1] == '\r' ||
				   out->data[out->len - 1] == ' '))
		out->len--;
	if (!rc)
		rc = kl_buf_putc(out, '\0');
	if (!rc)
		out->len--;
	if (rc)
		return kl_errbuf_set(eb, rc, "read %s failed", path);
	return KL_OK;
}

const char *kl_cred_region(const struct kl_cred_ctx *c, const char *profile_region)
{
	const char *r = kl_aws_env_get(&c->env, "AWS_REGION");
	if (!r)
		r = kl_aws_env_get(&c->env, "AWS_DEFAULT_REGION");
	if (!r)
		r = profile_region;
	return r && *r ? r : "us-east-1";
}

int kl_cred_assume_web_identity(const struct kl_cred_ctx *c, const char *role_arn,
				const char *token_file, const char *session_name,
				const char *region, struct kl_aws_creds *out,
				struct kl_errbuf *eb)
{
	struct kl_buf tok, params;
	kl_buf_init(&tok, 1 << 16);
	kl_buf_init(&params, 1 << 17);
	int rc = kl_cred_read_small_file(token_file, &tok, eb);
	if (rc == KL_ENOTFOUND)
		rc = KL_EINVAL; /* configured but missing: an error, not "not configured" */
	if (!rc)
		rc = kl_buf_puts(&params, "RoleArn=");
	if (!rc)
		rc = kl_uri_encode(&params, role_arn, strlen(role_arn), 0);
	if (!rc)
		rc = kl_buf_puts(&params, "&RoleSessionName=");
	if (!rc)
		rc = kl_uri_encode(&params, session_name, strlen(session_name), 0);
	if (!rc)
		rc = kl_buf_puts(&params, "&WebIdentityToken=");
	if (!rc)
		rc = kl_uri_encode(&params, tok.data, tok.len, 0);
	if (!rc)
		rc = kl_buf_putc(&params, '\0');
	if (!rc)
		rc = kl_sts_call(c, region, "AssumeRoleWithWebIdentity", params.data, NULL, out, eb);
	if (tok.data)
		OPENSSL_cleanse(tok.data, tok.cap);
	if (params.data)
		OPENSSL_cleanse(params.data, params.cap);
	kl_buf_cleanup(&tok);
	kl_buf_cleanup(&params);
	return rc ? kl_errbuf_set(eb, rc, "web identity failed") : KL_OK;
}

int kl_cred_web_identity(const struct kl_cred_ctx *c, struct kl_aws_creds *out,
			 struct kl_errbuf *eb)
{
	const char *file = kl_aws_env_get(&c->env, "AWS_WEB_IDENTITY_TOKEN_FILE");
	const char *role = kl_aws_env_get(&c->env, "AWS_ROLE_ARN");
	if (!file || !role)
		return KL_ENOTFOUND;
	const char *name = kl_aws_env_get(&c->env, "AWS_ROLE_SESSION_NAME");
	return kl_cred_assume_web_identity(c, role, file, name ? name : "kinlake",
					   kl_cred_region(c, NULL), out, eb);
}
