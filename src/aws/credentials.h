/*
 * credentials.h — AWS credentials and the SDK default provider chain.
 *
 * Order (as the AWS SDKs): environment (AWS_ACCESS_KEY_ID/...), shared files
 * (~/.aws/credentials + ~/.aws/config, AWS_PROFILE; static keys, or
 * role_arn + source_profile via STS AssumeRole, or role_arn +
 * web_identity_token_file), web identity from the environment
 * (AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN, STS AssumeRoleWithWebIdentity),
 * container (AWS_CONTAINER_CREDENTIALS_FULL_URI / _RELATIVE_URI), then
 * IMDSv2. A provider that is not configured answers KL_ENOTFOUND and the
 * chain moves on; a provider that is configured but fails stops the chain
 * with its error (a broken configuration is never silently skipped), except
 * IMDS, whose absence (not on EC2, each request limited to 1 s as in the
 * SDKs: AWS_METADATA_SERVICE_TIMEOUT) is KL_ENOTFOUND. Each provider writes
 * its messages into a buffer of its own, so what one that finds nothing
 * says (a missing ~/.aws/config) never becomes the chain's answer; messages
 * carry no "credentials:" prefix (the caller adds its own).
 *
 * Seams: the environment is read only through `struct kl_aws_env` (a getenv
 * callback, so tests never touch the process environment); HTTP goes through
 * `struct kl_http_transport`; the clock is a parameter of kl_cred_chain_get().
 *
 * Temporary credentials carry `expiration`; the chain refreshes them
 * `refresh_ahead` seconds (default 300) before they expire. Secrets never
 * appear in error messages; kl_aws_creds_wipe() clears a struct.
 * Ownership: everything is caller-owned; kl_cred_chain_cleanup() wipes.
 */
#ifndef KL_AWS_CREDENTIALS_H
#define KL_AWS_CREDENTIALS_H

#include <stddef.h>
#include <time.h>

#include "aws/http.h"
#include "core/buf.h"
#include "core/err.h"

struct kl_aws_creds {
	char access_key_id[128];
	char secret_access_key[128];
	char session_token[4096]; /* "" = none */
	time_t expiration;        /* 0 = does not expire */
	const char *source;       /* static provider name: "env", "profile", ... */
};

void kl_aws_creds_wipe(struct kl_aws_creds *c);
/* "ASIA…WXYZ"-style masked access key id for logs (out: >= 16 bytes). */
void kl_aws_mask_key(const char *key, char *out, size_t cap);

typedef const char *(*kl_getenv_fn)(void *ctx, const char *name);

struct kl_aws_env {
	kl_getenv_fn get;
	void *ctx;
};

/* The process environment (getenv). */
struct kl_aws_env kl_aws_env_process(void);
/* Value or NULL; empty values count as unset. */
const char *kl_aws_env_get(const struct kl_aws_env *e, const char *name);

struct kl_cred_ctx {
	struct kl_aws_env env;
	struct kl_http_transport http; /* .request NULL: network providers are skipped */
	time_t now;                    /* for providers that need it (STS signing) */
};

/* Providers: KL_OK (filled `out`), KL_ENOTFOUND (not configured), or an error. */
int kl_cred_env(const struct kl_cred_ctx *c, struct kl_aws_creds *out, struct kl_errbuf *eb);
int kl_cred_profile(const struct kl_cred_ctx *c, struct kl_aws_creds *out, struct kl_errbuf *eb);
int kl_cred_web_identity(const struct kl_cred_ctx *c, struct kl_aws_creds *out,
			 struct kl_errbuf *eb);
int kl_cred_container(const struct kl_cred_ctx *c, struct kl_aws_creds *out,
		      struct kl_errbuf *eb);
int kl_cred_imds(const struct kl_cred_ctx *c, struct kl_aws_creds *out, struct kl_errbuf *eb);

/* ---- shared-file parsing (exposed for tests and fuzzing) ---- */

/* INI callback: section as written inside the brackets (e.g. "profile dev"),
 * key and value trimmed. Return non-zero to stop. */
typedef int (*kl_ini_fn)(void *ctx, const char *section, const char *key, const char *value);
/* Lines: [section], key = value, # or ; comments; indented lines are
 * sub-properties and are skipped. KL_OK or KL_EPARSE (line number in eb). */
int kl_ini_parse(const char *text, size_t n, kl_ini_fn fn, void *ctx, struct kl_errbuf *eb);

/* ---- STS and metadata responses (exposed for tests and fuzzing) ---- */

/* STS AssumeRole / AssumeRoleWithWebIdentity XML -> creds. KL_EPARSE if
 * incomplete; STS error bodies give KL_EAUTH/KL_EREMOTE via retry rules. */
int kl_sts_parse_credentials(const char *xml, size_t n, struct kl_aws_creds *out);
/* Container / IMDS JSON (AccessKeyId, SecretAccessKey, Token, Expiration). */
int kl_metadata_parse_credentials(const char *json, size_t n, struct kl_aws_creds *out);
/* "2024-01-02T03:04:05Z" (fraction allowed) -> time_t; -1 if malformed. */
time_t kl_aws_parse_time(const char *s);

/* STS call shared by the profile and web identity providers: POST the form
 * `params` (already encoded, without Action/Version) to the STS endpoint
 * (AWS_ENDPOINT_URL_STS, AWS_ENDPOINT_URL, else https://sts.<region>.amazonaws.com).
 * `signer` NULL = unsigned (AssumeRoleWithWebIdentity). */
int kl_sts_call(const struct kl_cred_ctx *c, const char *region, const char *action,
		const char *params, const struct kl_aws_creds *signer, struct kl_aws_creds *out,
		struct kl_errbuf *eb);

/* ---- the chain ---- */

struct kl_cred_chain {
	struct kl_cred_ctx ctx;
	struct kl_aws_creds cur;
	int have;
	long refresh_ahead; /* seconds; default 300 */
};

void kl_cred_chain_init(struct kl_cred_chain *ch, const struct kl_aws_env *env,
			struct kl_http_transport http);
/* Current credentials, resolving the chain on first use and when they are
 * within refresh_ahead of expiring (`now` is the caller's clock). */
int kl_cred_chain_get(struct kl_cred_chain *ch, time_t now, struct kl_aws_creds *out,
		      struct kl_errbuf *eb);
/* The server said the credentials expired (kl_retry_is_expired_token):
 * forget them, so the next get resolves the chain again. The SDKs then
 * retry the request once; so do the Kinesis client and the S3 store. */
void kl_cred_chain_expire(struct kl_cred_chain *ch);
void kl_cred_chain_cleanup(struct kl_cred_chain *ch);

#endif
