/* credentials.c — see credentials.h: the chain, env access, response parsers. */
#include "aws/credentials.h"

#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "aws/xml.h"
#include "parse/json.h"

void kl_aws_creds_wipe(struct kl_aws_creds *c)
{
	OPENSSL_cleanse(c, sizeof *c);
	c->source = NULL;
}

void kl_aws_mask_key(const char *key, char *out, size_t cap)
{
	size_t n = key ? strlen(key) : 0;
	if (n < 12)
		snprintf(out, cap, "****");
	else
		snprintf(out, cap, "%.4s****%s", key, key + n - 4);
}

static const char *process_getenv(void *ctx, const char *name)
{
	(void)ctx;
	return getenv(name);
}

struct kl_aws_env kl_aws_env_process(void) { return (struct kl_aws_env){process_getenv, NULL}; }

const char *kl_aws_env_get(const struct kl_aws_env *e, const char *name)
{
	const char *v = e->get ? e->get(e->ctx, name) : NULL;
	return v && *v ? v : NULL;
}

time_t kl_aws_parse_time(const char *s)
{
	struct tm tm = {0};
	int n = 0;
	if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
		   &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &n) != 6)
		return -1;
	const char *p = s + n;
	if (*p == '.')
		for (p++; *p >= '0' && *p <= '9'; p++)
			;
	if (strcmp(p, "Z") != 0 && strcmp(p, "+00:00") != 0)
		return -1;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return timegm(&tm);
}

static int copy_field(char *dst, size_t cap, const char *s, size_t n)
{
	/* a NUL inside would cut the value short: an empty or truncated key */
	if (n == 0 || n >= cap || memchr(s, '\0', n))
		return KL_EPARSE;
	memcpy(dst, s, n);
	dst[n] = '\0';
	return KL_OK;
}

int kl_sts_parse_credentials(const char *xml, size_t n, struct kl_aws_creds *out)
{
	static const char *const tags[] = {"AccessKeyId", "SecretAccessKey", "SessionToken",
					   "Expiration"};
	struct kl_buf b;
	kl_buf_init(&b, 8192);
	int rc = KL_OK;
	for (int i = 0; i < 4 && !rc; i++) {
		kl_buf_reset(&b);
		rc = kl_xml_find(xml, n, "Credentials", tags[i], &b);
		if (rc)
			rc = KL_EPARSE;
		else if (i == 0)
			rc = copy_field(out->access_key_id, sizeof out->access_key_id, b.data, b.len);
		else if (i == 1)
			rc = copy_field(out->secret_access_key, sizeof out->secret_access_key,
					b.data, b.len);
		else if (i == 2)
			rc = copy_field(out->session_token, sizeof out->session_token, b.data,
					b.len);
		else {
			char t[64];
			rc = copy_field(t, sizeof t, b.data, b.len);
			out->expiration = rc ? -1 : kl_aws_parse_time(t);
			if (out->expiration == -1)
				rc = KL_EPARSE;
		}
	}
	if (b.data)
		OPENSSL_cleanse(b.data, b.cap);
	kl_buf_cleanup(&b);
	return rc;
}

int kl_metadata_parse_credentials(const char *json, size_t n, struct kl_aws_creds *out)
{
	struct kl_json_doc doc;
	struct kl_json_error jerr;
	kl_json_doc_init(&doc);
	int rc = KL_EPARSE, have = 0;
	if (kl_json_parse(json, n, 16, &doc, &jerr) == 0 && doc.top == KL_JSON_OBJECT) {
		rc = KL_OK;
		out->expiration = 0;
		for (size_t i = 0; i < doc.n && !rc; i++) {
			const struct kl_json_member *m = &doc.m[i];
			if (m->type != KL_JSON_STRING)
				continue;
			char tmp[4096];
			size_t len = m->val_len - 2;
			if (len >= sizeof tmp)
				continue;
			len = kl_json_unescape(m->val + 1, len, tmp);
			if (kl_json_key_is(m, "AccessKeyId", 11)) {
				rc = copy_field(out->access_key_id, sizeof out->access_key_id, tmp, len);
				have |= 1;
			} else if (kl_json_key_is(m, "SecretAccessKey", 15)) {
				rc = copy_field(out->secret_access_key, sizeof out->secret_access_key,
						tmp, len);
				have |= 2;
			} else if (kl_json_key_is(m, "Token", 5)) {
				rc = copy_field(out->session_token, sizeof out->session_token, tmp,
						len);
			} else if (kl_json_key_is(m, "Expiration", 10)) {
				tmp[len] = '\0';
				out->expiration = kl_aws_parse_time(tmp);
				if (out->expiration == -1)
					rc = KL_EPARSE;
			} else if (kl_json_key_is(m, "Code", 4)) {
				if (len != 7 || memcmp(tmp, "Success", 7) != 0)
					rc = KL_EREMOTE;
			}
			OPENSSL_cleanse(tmp, sizeof tmp);
		}
		if (!rc && have != 3)
			rc = KL_EPARSE;
	}
	kl_json_doc_cleanup(&doc);
	return rc;
}

/* ---- chain ---- */

void kl_cred_chain_init(struct kl_cred_chain *ch, const struct kl_aws_env *env,
			struct kl_http_transport http)
{
	memset(ch, 0, sizeof *ch);
	ch->ctx.env = *env;
	ch->ctx.http = http;
	ch->refresh_ahead = 300;
}

void kl_cred_chain_cleanup(struct kl_cred_chain *ch)
{
	kl_aws_creds_wipe(&ch->cur);
	ch->have = 0;
}

typedef int (*provider_fn)(const struct kl_cred_ctx *, struct kl_aws_creds *, struct kl_errbuf *);

void kl_cred_chain_expire(struct kl_cred_chain *ch)
{
	if (ch->have)
		kl_aws_creds_wipe(&ch->cur);
	ch->have = 0;
}

int kl_cred_chain_get(struct kl_cred_chain *ch, time_t now, struct kl_aws_creds *out,
		      struct kl_errbuf *eb)
{
	if (ch->have && (ch->cur.expiration == 0 || now < ch->cur.expiration - ch->refresh_ahead)) {
		*out = ch->cur;
		return KL_OK;
	}
	static const struct {
		provider_fn fn;
		const char *name;
	} chain[] = {
		{kl_cred_env, "env"},
		{kl_cred_profile, "profile"},
		{kl_cred_web_identity, "web-identity"},
		{kl_cred_container, "container"},
		{kl_cred_imds, "imds"},
	};
	ch->ctx.now = now;
	struct kl_aws_creds c;
	for (size_t i = 0; i < sizeof chain / sizeof chain[0]; i++) {
		memset(&c, 0, sizeof c);
		/* each provider's own message: one that finds nothing (a missing
		 * ~/.aws/config) says why, and that must not become the chain's */
		struct kl_errbuf local = {{0}, 0};
		int rc = chain[i].fn(&ch->ctx, &c, &local);
		if (rc == KL_ENOTFOUND)
			continue;
		if (rc) {
			kl_errbuf_set(eb, rc, "%s", local.msg[0] ? local.msg : kl_strerror(rc));
			kl_aws_creds_wipe(&c);
			/* Keep serving still-valid credentials if a refresh fails. */
			if (ch->have && (ch->cur.expiration == 0 || now < ch->cur.expiration)) {
				*out = ch->cur;
				return KL_OK;
			}
			return rc;
		}
		c.source = chain[i].name;
		ch->cur = c;
		ch->have = 1;
		kl_aws_creds_wipe(&c);
		*out = ch->cur;
		return KL_OK;
	}
	return kl_errbuf_set(eb, KL_ENOTFOUND,
			     "none found (environment, ~/.aws/credentials and ~/.aws/config, web "
			     "identity, container, instance metadata)");
}
