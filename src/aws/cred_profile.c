/* cred_profile.c — shared config and credentials files (see credentials.h):
 * INI parsing, profile lookup ([name] in credentials, [profile name] or
 * [default] in config; credentials-file values win), static keys,
 * role_arn + source_profile (STS AssumeRole signed with the source profile's
 * credentials) and role_arn + web_identity_token_file. */
#include "aws/credentials.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "aws/sigv4.h"
#include "cred_internal.h"

static char *trim(char *s, char *e)
{
	while (s < e && isspace((unsigned char)*s))
		s++;
	while (e > s && isspace((unsigned char)e[-1]))
		e--;
	*e = '\0';
	return s;
}

int kl_ini_parse(const char *text, size_t n, kl_ini_fn fn, void *ctx, struct kl_errbuf *eb)
{
	char line[8192], section[256] = "";
	size_t lineno = 0;
	for (size_t i = 0; i < n;) {
		const char *nl = memchr(text + i, '\n', n - i);
		size_t len = nl ? (size_t)(nl - (text + i)) : n - i;
		lineno++;
		if (len >= sizeof line)
			return kl_errbuf_set(eb, KL_EPARSE, "config line %zu: too long", lineno);
		memcpy(line, text + i, len);
		line[len] = '\0';
		i += len + (nl ? 1 : 0);
		if (memchr(line, '\0', len))
			return kl_errbuf_set(eb, KL_EPARSE, "config line %zu: NUL byte", lineno);
		if (len && (line[0] == ' ' || line[0] == '\t'))
			continue; /* sub-property of a nested section (s3 = ...) */
		char *s = trim(line, line + len);
		if (!*s || *s == '#' || *s == ';')
			continue;
		if (*s == '[') {
			char *close = strchr(s, ']');
			if (!close)
				return kl_errbuf_set(eb, KL_EPARSE, "config line %zu: missing ]", lineno);
			char *name = trim(s + 1, close);
			if (strncmp(name, "profile", 7) == 0 && isspace((unsigned char)name[7]))
				snprintf(section, sizeof section, "profile %s",
					 trim(name + 8, name + strlen(name)));
			else
				snprintf(section, sizeof section, "%s", name);
			continue;
		}
		char *eq = strchr(s, '=');
		if (!eq)
			return kl_errbuf_set(eb, KL_EPARSE, "config line %zu: expected key = value",
					     lineno);
		char *end = s + strlen(s);
		/* Inline comment: whitespace then # or ;. */
		for (char *p = eq + 1; *p; p++)
			if ((*p == '#' || *p == ';') && isspace((unsigned char)p[-1])) {
				end = p;
				break;
			}
		char *key = trim(s, eq);
		char *val = trim(eq + 1, end);
		if (!*key)
			return kl_errbuf_set(eb, KL_EPARSE, "config line %zu: empty key", lineno);
		if (fn(ctx, section, key, val))
			break;
	}
	OPENSSL_cleanse(line, sizeof line);
	return KL_OK;
}

struct profile {
	const char *want;  /* profile name */
	int config;        /* parsing the config file (sections "profile x") */
	int found;
	char key_id[128], secret[128], token[4096];
	char role_arn[512], source_profile[256], web_token_file[1024], session_name[128];
	char region[64], credential_source[64], credential_process[8];
};

static int section_matches(const struct profile *p, const char *section)
{
	if (!p->config)
		return strcmp(section, p->want) == 0;
	if (strcmp(p->want, "default") == 0 && strcmp(section, "default") == 0)
		return 1;
	return strncmp(section, "profile ", 8) == 0 && strcmp(section + 8, p->want) == 0;
}

static int on_kv(void *ctx, const char *section, const char *key, const char *val)
{
	struct profile *p = ctx;
	if (!section_matches(p, section))
		return 0;
	p->found = 1;
	static const struct {
		const char *key;
		size_t off, cap;
	} map[] = {
		{"aws_access_key_id", offsetof(struct profile, key_id), 128},
		{"aws_secret_access_key", offsetof(struct profile, secret), 128},
		{"aws_session_token", offsetof(struct profile, token), 4096},
		{"role_arn", offsetof(struct profile, role_arn), 512},
		{"source_profile", offsetof(struct profile, source_profile), 256},
		{"web_identity_token_file", offsetof(struct profile, web_token_file), 1024},
		{"role_session_name", offsetof(struct profile, session_name), 128},
		{"region", offsetof(struct profile, region), 64},
		{"credential_source", offsetof(struct profile, credential_source), 64},
		{"credential_process", offsetof(struct profile, credential_process), 8},
	};
	for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
		if (strcmp(key, map[i].key) == 0)
			snprintf((char *)p + map[i].off, map[i].cap, "%s", val);
	return 0;
}

static int load_file(const char *path, struct profile *p, int config, struct kl_errbuf *eb)
{
	struct kl_buf b;
	kl_buf_init(&b, 1 << 20);
	int rc = kl_cred_read_small_file(path, &b, eb);
	if (rc == KL_ENOTFOUND) {
		kl_buf_cleanup(&b);
		return KL_OK; /* a missing file is not an error */
	}
	if (!rc) {
		p->config = config;
		struct kl_errbuf local = {{0}, 0};
		rc = kl_ini_parse(b.data, b.len, on_kv, p, &local);
		if (rc)
			kl_errbuf_set(eb, rc, "%s: %s", path, local.msg);
	}
	if (b.data)
		OPENSSL_cleanse(b.data, b.cap);
	kl_buf_cleanup(&b);
	return rc;
}

static int file_path(const struct kl_cred_ctx *c, const char *env, const char *base, char *out,
		     size_t cap)
{
	const char *v = kl_aws_env_get(&c->env, env);
	if (v)
		return snprintf(out, cap, "%s", v) < (int)cap ? KL_OK : KL_EINVAL;
	const char *home = kl_aws_env_get(&c->env, "HOME");
	if (!home)
		return KL_ENOTFOUND;
	return snprintf(out, cap, "%s/.aws/%s", home, base) < (int)cap ? KL_OK : KL_EINVAL;
}

static int load_profile(const struct kl_cred_ctx *c, const char *name, struct profile *p,
			struct kl_errbuf *eb)
{
	char cfg[1024], cred[1024];
	memset(p, 0, sizeof *p);
	p->want = name;
	int rc = KL_OK;
	if (file_path(c, "AWS_CONFIG_FILE", "config", cfg, sizeof cfg) == KL_OK)
		rc = load_file(cfg, p, 1, eb);
	/* Credentials file second: its values win. */
	if (!rc && file_path(c, "AWS_SHARED_CREDENTIALS_FILE", "credentials", cred, sizeof cred) ==
			   KL_OK)
		rc = load_file(cred, p, 0, eb);
	return rc;
}

static void wipe_profile(struct profile *p) { OPENSSL_cleanse(p, sizeof *p); }

static int resolve(const struct kl_cred_ctx *c, const char *name, int depth,
		   struct kl_aws_creds *out, struct kl_errbuf *eb);

static int assume_role(const struct kl_cred_ctx *c, const struct profile *p, int depth,
		       struct kl_aws_creds *out, struct kl_errbuf *eb)
{
	struct kl_aws_creds src;
	memset(&src, 0, sizeof src);
	int rc;
	if (strcmp(p->source_profile, p->want) == 0) {
		/* Self-reference: the profile's own static keys sign the call. */
		if (!p->key_id[0] || !p->secret[0])
			return kl_errbuf_set(eb, KL_EINVAL,
					     "profile %s: source_profile is itself but has no keys",
					     p->want);
		snprintf(src.access_key_id, sizeof src.access_key_id, "%s", p->key_id);
		snprintf(src.secret_access_key, sizeof src.secret_access_key, "%s", p->secret);
		snprintf(src.session_token, sizeof src.session_token, "%s", p->token);
		rc = KL_OK;
	} else {
		rc = resolve(c, p->source_profile, depth + 1, &src, eb);
		if (rc == KL_ENOTFOUND)
			rc = kl_errbuf_set(eb, KL_EINVAL, "profile %s: source_profile %s not found",
					   p->want, p->source_profile);
	}
	struct kl_buf params;
	kl_buf_init(&params, 1 << 16);
	if (!rc) {
		const char *sn = p->session_name[0] ? p->session_name : "kinlake";
		rc = kl_buf_puts(&params, "RoleArn=");
		if (!rc)
			rc = kl_uri_encode(&params, p->role_arn, strlen(p->role_arn), 0);
		if (!rc)
			rc = kl_buf_puts(&params, "&RoleSessionName=");
		if (!rc)
			rc = kl_uri_encode(&params, sn, strlen(sn), 0);
		if (!rc)
			rc = kl_buf_putc(&params, '\0');
		if (!rc) {
			/* name the profile and role: the STS error alone does not say which */
			struct kl_errbuf sts = {{0}, 0};
			rc = kl_sts_call(c, kl_cred_region(c, p->region), "AssumeRole", params.data,
					 &src, out, &sts);
			if (rc)
				kl_errbuf_set(eb, rc, "profile %s: role_arn %s: %s", p->want,
					      p->role_arn, sts.msg);
		}
	}
	kl_buf_cleanup(&params);
	kl_aws_creds_wipe(&src);
	return rc;
}

static int resolve(const struct kl_cred_ctx *c, const char *name, int depth,
		   struct kl_aws_creds *out, struct kl_errbuf *eb)
{
	if (depth > 4)
		return kl_errbuf_set(eb, KL_EINVAL, "profile %s: source_profile chain too deep",
				     name);
	struct profile p;
	int rc = load_profile(c, name, &p, eb);
	if (rc) {
		wipe_profile(&p);
		return rc;
	}
	if (!p.found) {
		rc = KL_ENOTFOUND;
	} else if (p.role_arn[0] && p.web_token_file[0]) {
		rc = kl_cred_assume_web_identity(c, p.role_arn, p.web_token_file,
						 p.session_name[0] ? p.session_name : "kinlake",
						 kl_cred_region(c, p.region), out, eb);
	} else if (p.role_arn[0] && p.source_profile[0]) {
		rc = assume_role(c, &p, depth, out, eb);
	} else if (p.role_arn[0]) {
		rc = kl_errbuf_set(eb, KL_EUNSUPPORTED,
				   "profile %s: role_arn needs source_profile or "
				   "web_identity_token_file (credential_source is not supported)",
				   name);
	} else if (p.key_id[0] && p.secret[0]) {
		snprintf(out->access_key_id, sizeof out->access_key_id, "%s", p.key_id);
		snprintf(out->secret_access_key, sizeof out->secret_access_key, "%s", p.secret);
		snprintf(out->session_token, sizeof out->session_token, "%s", p.token);
		out->expiration = 0;
	} else if (p.credential_process[0]) {
		rc = kl_errbuf_set(eb, KL_EUNSUPPORTED,
				   "profile %s: credential_process is not supported", name);
	} else if (p.key_id[0] || p.secret[0]) {
		rc = kl_errbuf_set(eb, KL_EINVAL, "profile %s: %s without %s", name,
				   p.key_id[0] ? "aws_access_key_id" : "aws_secret_access_key",
				   p.key_id[0] ? "aws_secret_access_key" : "aws_access_key_id");
	} else {
		rc = KL_ENOTFOUND;
	}
	wipe_profile(&p);
	return rc;
}

int kl_cred_profile(const struct kl_cred_ctx *c, struct kl_aws_creds *out, struct kl_errbuf *eb)
{
	const char *explicit_name = kl_aws_env_get(&c->env, "AWS_PROFILE");
	const char *name = explicit_name ? explicit_name : "default";
	int rc = resolve(c, name, 0, out, eb);
	if (rc == KL_ENOTFOUND && explicit_name)
		return kl_errbuf_set(eb, KL_EINVAL, "profile %s (AWS_PROFILE) not found "
						    "or has no credentials",
				     name);
	return rc;
}
