/* cred_env.c — credentials from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY /
 * AWS_SESSION_TOKEN (see credentials.h). */
#include "aws/credentials.h"

#include <string.h>

int kl_cred_env(const struct kl_cred_ctx *c, struct kl_aws_creds *out, struct kl_errbuf *eb)
{
	const char *id = kl_aws_env_get(&c->env, "AWS_ACCESS_KEY_ID");
	const char *secret = kl_aws_env_get(&c->env, "AWS_SECRET_ACCESS_KEY");
	const char *token = kl_aws_env_get(&c->env, "AWS_SESSION_TOKEN");
	if (!id && !secret)
		return KL_ENOTFOUND;
	if (!id || !secret)
		return kl_errbuf_set(eb, KL_EINVAL, "%s is set but %s is not",
				     id ? "AWS_ACCESS_KEY_ID" : "AWS_SECRET_ACCESS_KEY",
				     id ? "AWS_SECRET_ACCESS_KEY" : "AWS_ACCESS_KEY_ID");
	if (strlen(id) >= sizeof out->access_key_id ||
	    strlen(secret) >= sizeof out->secret_access_key ||
	    (token && strlen(token) >= sizeof out->session_token))
		return kl_errbuf_set(eb, KL_EINVAL, "environment value too long");
	strcpy(out->access_key_id, id);
	strcpy(out->secret_access_key, secret);
	strcpy(out->session_token, token ? token : "");
	out->expiration = 0;
	return KL_OK;
}
