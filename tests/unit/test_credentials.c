/* test_credentials.c — aws/credentials: env provider, shared-file parsing
 * (temp files), profile precedence, chain order, STS/metadata response
 * parsing, refresh ahead of expiry (fake metadata transport), masking.
 *
 * Driver mode for tests/e2e/aws_creds.sh:
 *   test_credentials --resolve [--refresh]
 * resolves the chain from the real process environment over real HTTP and
 * prints "resolved <access key id> <source> token=<length>" (and, with
 * --refresh, resolves again just inside the refresh window and prints
 * "refreshed <access key id> <source>"). Exit 2 on failure, with the error. */
#include "check.h"
#include "aws/credentials.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- fake environment: NULL-terminated name/value pairs ---- */
static const char *fake_get(void *ctx, const char *name)
{
	const char *const *kv = ctx;
	for (; kv[0]; kv += 2)
		if (strcmp(kv[0], name) == 0)
			return kv[1];
	return NULL;
}

static struct kl_cred_ctx ctx_of(const char **kv)
{
	return (struct kl_cred_ctx){.env = {fake_get, (void *)kv}};
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	fputs(text, f);
	fclose(f);
}

/* ---- fake metadata transport: counts calls, new key per call ---- */
struct fake_md {
	int calls;
	time_t expiration;
};

static int fake_request(void *ctx, const struct kl_http_req *req, struct kl_http_resp *resp,
			struct kl_errbuf *eb)
{
	(void)eb;
	struct fake_md *f = ctx;
	f->calls++;
	char exp[32], body[512];
	struct tm tm;
	gmtime_r(&f->expiration, &tm);
	strftime(exp, sizeof exp, "%Y-%m-%dT%H:%M:%SZ", &tm);
	snprintf(body, sizeof body,
		 "{\"AccessKeyId\":\"ASIAFAKE%04d\",\"SecretAccessKey\":\"s\\/ecret\","
		 "\"Token\":\"tok\",\"Expiration\":\"%s\",\"RoleArn\":\"arn\"}",
		 f->calls, exp);
	resp->status = strstr(req->url, "/creds") ? 200 : 404;
	resp->net = KL_NET_OK;
	kl_buf_reset(&resp->body);
	return kl_buf_puts(&resp->body, body);
}

/* ---- fake STS that refuses AssumeRole the way STS (and moto) does ---- */
struct fake_sts {
	int calls;
	char authz[512];
};

static int sts_denied(void *ctx, const struct kl_http_req *req, struct kl_http_resp *resp,
		      struct kl_errbuf *eb)
{
	(void)eb;
	struct fake_sts *f = ctx;
	f->calls++;
	for (size_t i = 0; i < req->n_headers; i++)
		if (strcmp(req->headers[i].name, "Authorization") == 0)
			snprintf(f->authz, sizeof f->authz, "%s", req->headers[i].value);
	resp->status = 403;
	resp->net = KL_NET_OK;
	kl_buf_reset(&resp->body);
	return kl_buf_puts(&resp->body,
			   "<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code>"
			   "<Message>User: arn:aws:iam::123456789012:user/src is not authorized to "
			   "perform: sts:AssumeRole</Message></Error><RequestId>r1</RequestId>"
			   "</ErrorResponse>");
}

static int ini_noop(void *ctx, const char *s, const char *k, const char *v)
{
	(void)ctx, (void)s, (void)k, (void)v;
	return 0;
}

static int resolve_mode(int refresh)
{
	struct kl_errbuf eb = {{0}, 0};
	struct kl_http_opts o = {.connect_timeout_ms = 1000, .timeout_ms = 5000};
	struct kl_http *h = kl_http_new(&o, &eb);
	struct kl_aws_env env = kl_aws_env_process();
	struct kl_cred_chain ch;
	kl_cred_chain_init(&ch, &env, kl_http_transport_of(h));
	struct kl_aws_creds c;
	time_t now = time(NULL);
	int rc = kl_cred_chain_get(&ch, now, &c, &eb);
	if (rc) {
		fprintf(stderr, "resolve failed: %s: %s\n", kl_strerror(rc), eb.msg);
		kl_http_free(h);
		return 2;
	}
	printf("resolved %s %s token=%zu\n", c.access_key_id, c.source, strlen(c.session_token));
	if (c.expiration)
		printf("expires_in %ld\n", (long)(c.expiration - now));
	if (refresh) {
		time_t later = c.expiration ? c.expiration - 60 : now + 86400;
		rc = kl_cred_chain_get(&ch, later, &c, &eb);
		if (rc) {
			fprintf(stderr, "refresh failed: %s: %s\n", kl_strerror(rc), eb.msg);
			kl_http_free(h);
			return 2;
		}
		printf("refreshed %s %s\n", c.access_key_id, c.source);
	}
	kl_aws_creds_wipe(&c);
	kl_cred_chain_cleanup(&ch);
	kl_http_free(h);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "--resolve") == 0)
		return resolve_mode(argc > 2 && strcmp(argv[2], "--refresh") == 0);

	struct kl_aws_creds c;
	struct kl_errbuf eb = {{0}, 0};

	/* env provider */
	const char *env1[] = {"AWS_ACCESS_KEY_ID", "AKIAENV", "AWS_SECRET_ACCESS_KEY", "envsecret",
			      "AWS_SESSION_TOKEN", "envtok", NULL};
	struct kl_cred_ctx cx = ctx_of(env1);
	CHECK_EQ_INT(kl_cred_env(&cx, &c, &eb), KL_OK);
	CHECK_EQ_STR(c.access_key_id, "AKIAENV");
	CHECK_EQ_STR(c.secret_access_key, "envsecret");
	CHECK_EQ_STR(c.session_token, "envtok");
	const char *env2[] = {"AWS_ACCESS_KEY_ID", "AKIAONLY", "AWS_SECRET_ACCESS_KEY", "", NULL};
	cx = ctx_of(env2);
	kl_errbuf_clear(&eb);
	CHECK_EQ_INT(kl_cred_env(&cx, &c, &eb), KL_EINVAL);
	CHECK(strstr(eb.msg, "AKIAONLY") == NULL);
	const char *env0[] = {NULL};
	cx = ctx_of(env0);
	CHECK_EQ_INT(kl_cred_env(&cx, &c, &eb), KL_ENOTFOUND);

	/* shared files */
	char dir[200];
	kl_test_mkdtemp(dir, sizeof dir, "kl_creds_");
	char cred[256], cfg[256];
	snprintf(cred, sizeof cred, "%s/credentials", dir);
	snprintf(cfg, sizeof cfg, "%s/config", dir);
	write_file(cred, "# comment\n"
			 "[default]\n"
			 "aws_access_key_id = AKIADEFAULT\n"
			 "aws_secret_access_key = defsecret ; inline comment\n"
			 "\n"
			 "[dev]\r\n"
			 "aws_access_key_id=AKIADEVCRED\r\n"
			 "aws_secret_access_key=devsecret\r\n"
			 "[half]\n"
			 "aws_access_key_id = AKIAHALF\n");
	write_file(cfg, "[default]\n"
			"region = eu-west-1\n"
			"[profile dev]\n"
			"aws_access_key_id = AKIADEVCONFIG\n"
			"region = us-west-2\n"
			"s3 =\n"
			"    max_concurrent_requests = 10\n"
			"[profile  cfgonly]\n"
			"aws_access_key_id = AKIACFGONLY\n"
			"aws_secret_access_key = cfgsecret\n"
			"aws_session_token = cfgtoken\n"
			"[cfgonly]\n"
			"aws_access_key_id = AKIAWRONGSECTION\n"
			"[profile proc]\n"
			"credential_process = /bin/false\n");
	const char *envp[] = {"AWS_SHARED_CREDENTIALS_FILE", cred, "AWS_CONFIG_FILE", cfg,
			      "HOME", "/nonexistent", NULL, NULL, NULL};
	cx = ctx_of(envp);
	CHECK_EQ_INT(kl_cred_profile(&cx, &c, &eb), KL_OK);
	CHECK_EQ_STR(c.access_key_id, "AKIADEFAULT");
	CHECK_EQ_STR(c.secret_access_key, "defsecret");
	envp[6] = "AWS_PROFILE";
	envp[7] = "dev"; /* credentials file wins over config */
	CHECK_EQ_INT(kl_cred_profile(&cx, &c, &eb), KL_OK);
	CHECK_EQ_STR(c.access_key_id, "AKIADEVCRED");
	envp[7] = "cfgonly"; /* only [profile cfgonly] counts in config */
	CHECK_EQ_INT(kl_cred_profile(&cx, &c, &eb), KL_OK);
	CHECK_EQ_STR(c.access_key_id, "AKIACFGONLY");
	CHECK_EQ_STR(c.session_token, "cfgtoken");
	envp[7] = "half";
	kl_errbuf_clear(&eb);
	CHECK_EQ_INT(kl_cred_profile(&cx, &c, &eb), KL_EINVAL);
	CHECK(strstr(eb.msg, "AKIAHALF") == NULL);
	envp[7] = "proc";
	CHECK_EQ_INT(kl_cred_profile(&cx, &c, &eb), KL_EUNSUPPORTED);
	envp[7] = "missing";
	CHECK_EQ_INT(kl_cred_profile(&cx, &c, &eb), KL_EINVAL);
	/* HOME fallback: no files there = not configured */
	const char *envh[] = {"HOME", dir, NULL};
	cx = ctx_of(envh);
	CHECK_EQ_INT(kl_cred_profile(&cx, &c, &eb), KL_ENOTFOUND);

	/* role_arn + source_profile refused by STS: one signed call, not retried, and
	 * the error names profile, role, STS's code and message, never the secret */
	char cred2[300], cfg2[300];
	snprintf(cred2, sizeof cred2, "%s/credentials2", dir);
	snprintf(cfg2, sizeof cfg2, "%s/config2", dir);
	write_file(cred2, "[src]\naws_access_key_id = AKIASOURCE\n"
			  "aws_secret_access_key = srcsecret\n");
	write_file(cfg2, "[profile r]\nrole_arn = arn:aws:iam::123456789012:role/reader\n"
			 "source_profile = src\n");
	const char *envr[] = {"AWS_SHARED_CREDENTIALS_FILE", cred2, "AWS_CONFIG_FILE", cfg2,
			      "AWS_PROFILE", "r", "AWS_ENDPOINT_URL_STS", "http://127.0.0.1:9/",
			      "AWS_REGION", "us-east-1", NULL};
	struct fake_sts fs = {0, ""};
	cx = ctx_of(envr);
	cx.http = (struct kl_http_transport){sts_denied, &fs};
	cx.now = 1700000000;
	kl_errbuf_clear(&eb);
	CHECK_EQ_INT(kl_cred_profile(&cx, &c, &eb), KL_EAUTH);
	CHECK_EQ_INT(fs.calls, 1);
	CHECK(strstr(fs.authz, "Credential=AKIASOURCE/20231114/us-east-1/sts/aws4_request") != NULL);
	CHECK_EQ_STR(eb.msg, "profile r: role_arn arn:aws:iam::123456789012:role/reader: sts: "
			     "AssumeRole failed: HTTP 403 AccessDenied: User: "
			     "arn:aws:iam::123456789012:user/src is not authorized to perform: "
			     "sts:AssumeRole");
	CHECK(strstr(eb.msg, "srcsecret") == NULL);
	unlink(cred2);
	unlink(cfg2);

	/* INI errors carry line numbers */
	kl_errbuf_clear(&eb);
	const char *bad = "[a]\nkey = v\nnovalue\n";
	CHECK_EQ_INT(kl_ini_parse(bad, strlen(bad), ini_noop, NULL, &eb), KL_EPARSE);
	CHECK(strstr(eb.msg, "line 3") != NULL);

	/* chain order: env beats profile; without env the profile answers */
	const char *envc[] = {"AWS_ACCESS_KEY_ID", "AKIAENV", "AWS_SECRET_ACCESS_KEY", "x",
			      "AWS_SHARED_CREDENTIALS_FILE", cred, "AWS_CONFIG_FILE", cfg,
			      "AWS_EC2_METADATA_DISABLED", "true", NULL};
	struct kl_aws_env ev = {fake_get, (void *)envc};
	struct kl_cred_chain ch;
	kl_cred_chain_init(&ch, &ev, (struct kl_http_transport){NULL, NULL});
	CHECK_EQ_INT(kl_cred_chain_get(&ch, 1000, &c, &eb), KL_OK);
	CHECK_EQ_STR(c.access_key_id, "AKIAENV");
	CHECK_EQ_STR(c.source, "env");
	kl_cred_chain_cleanup(&ch);
	ev.ctx = (void *)(envc + 4);
	kl_cred_chain_init(&ch, &ev, (struct kl_http_transport){NULL, NULL});
	CHECK_EQ_INT(kl_cred_chain_get(&ch, 1000, &c, &eb), KL_OK);
	CHECK_EQ_STR(c.access_key_id, "AKIADEFAULT");
	CHECK_EQ_STR(c.source, "profile");
	kl_cred_chain_cleanup(&ch);
	ev.ctx = (void *)(envc + 8); /* nothing configured, IMDS disabled */
	kl_cred_chain_init(&ch, &ev, (struct kl_http_transport){NULL, NULL});
	CHECK_EQ_INT(kl_cred_chain_get(&ch, 1000, &c, &eb), KL_ENOTFOUND);
	kl_cred_chain_cleanup(&ch);
	/* the same with a HOME whose ~/.aws/ files do not exist (the usual new
	 * machine): the answer names the chain, not the first missing file */
	const char *envnone[] = {"HOME", dir, "AWS_EC2_METADATA_DISABLED", "true", NULL};
	ev.ctx = (void *)envnone;
	kl_cred_chain_init(&ch, &ev, (struct kl_http_transport){NULL, NULL});
	kl_errbuf_clear(&eb);
	CHECK_EQ_INT(kl_cred_chain_get(&ch, 1000, &c, &eb), KL_ENOTFOUND);
	CHECK(strncmp(eb.msg, "none found (", 12) == 0);
	kl_cred_chain_cleanup(&ch);
	/* a provider that fails says so, once, without a prefix of its own */
	const char *envhalf[] = {"AWS_ACCESS_KEY_ID", "AKIAHALFSET", "HOME", dir, NULL};
	ev.ctx = (void *)envhalf;
	kl_cred_chain_init(&ch, &ev, (struct kl_http_transport){NULL, NULL});
	kl_errbuf_clear(&eb);
	CHECK_EQ_INT(kl_cred_chain_get(&ch, 1000, &c, &eb), KL_EINVAL);
	CHECK_EQ_STR(eb.msg, "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not");
	kl_cred_chain_cleanup(&ch);

	/* refresh ahead of expiry (fake container endpoint) */
	struct fake_md md = {0, 100000};
	const char *envm[] = {"AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://127.0.0.1:9/creds",
			      "AWS_EC2_METADATA_DISABLED", "true", "HOME", "/nonexistent", NULL};
	ev = (struct kl_aws_env){fake_get, (void *)envm};
	kl_cred_chain_init(&ch, &ev, (struct kl_http_transport){fake_request, &md});
	CHECK_EQ_INT(kl_cred_chain_get(&ch, 1000, &c, &eb), KL_OK);
	CHECK_EQ_STR(c.access_key_id, "ASIAFAKE0001");
	CHECK_EQ_STR(c.secret_access_key, "s/ecret");
	CHECK_EQ_STR(c.source, "container");
	CHECK_EQ_INT(c.expiration, 100000);
	CHECK_EQ_INT(kl_cred_chain_get(&ch, 100000 - 301, &c, &eb), KL_OK);
	CHECK_EQ_INT(md.calls, 1); /* still cached */
	md.expiration = 200000;
	CHECK_EQ_INT(kl_cred_chain_get(&ch, 100000 - 300, &c, &eb), KL_OK);
	CHECK_EQ_INT(md.calls, 2); /* refreshed 5 minutes ahead */
	CHECK_EQ_STR(c.access_key_id, "ASIAFAKE0002");
	kl_cred_chain_cleanup(&ch);
	/* container URI rules */
	const char *envx[] = {"AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://example.com/creds",
			      NULL};
	cx = ctx_of(envx);
	cx.http = (struct kl_http_transport){fake_request, &md};
	CHECK_EQ_INT(kl_cred_container(&cx, &c, &eb), KL_EINVAL);

	/* response parsers */
	const char *sts = "<AssumeRoleResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">"
			  "<AssumeRoleResult><Credentials><AccessKeyId>ASIAX</AccessKeyId>"
			  "<SecretAccessKey>sec&amp;ret</SecretAccessKey><SessionToken>T</SessionToken>"
			  "<Expiration>2030-01-01T00:00:00.123Z</Expiration></Credentials>"
			  "</AssumeRoleResult></AssumeRoleResponse>";
	CHECK_EQ_INT(kl_sts_parse_credentials(sts, strlen(sts), &c), KL_OK);
	CHECK_EQ_STR(c.secret_access_key, "sec&ret");
	CHECK_EQ_INT(c.expiration, 1893456000);
	CHECK_EQ_INT(kl_sts_parse_credentials("<Credentials></Credentials>", 27, &c), KL_EPARSE);
	const char *imds = "{\"Code\":\"Failure\",\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"B\"}";
	CHECK_EQ_INT(kl_metadata_parse_credentials(imds, strlen(imds), &c), KL_EREMOTE);
	CHECK_EQ_INT(kl_metadata_parse_credentials("{}", 2, &c), KL_EPARSE);
	CHECK_EQ_INT(kl_aws_parse_time("2015-08-30T12:36:00Z"), 1440938160);
	CHECK_EQ_INT(kl_aws_parse_time("2015-08-30 12:36"), -1);

	char m[32];
	kl_aws_mask_key("ASIAABCDEFGHIJKLWXYZ", m, sizeof m);
	CHECK_EQ_STR(m, "ASIA****WXYZ");
	kl_aws_mask_key("short", m, sizeof m);
	CHECK_EQ_STR(m, "****");

	unlink(cred);
	unlink(cfg);
	rmdir(dir);
	return check_report("test_credentials");
}
