/* store_url.c — see store_url.h. */
#include "store/store_url.h"

#include "aws/http.h"
#include "aws/kinesis.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

int kl_store_creds_init(struct kl_store_creds *c, const struct kl_aws_env *env,
			struct kl_errbuf *eb)
{
	if (c->ready)
		return KL_OK;
	struct kl_http_opts ho = {0};
	if (!(c->http = kl_http_new(&ho, eb)))
		return eb && eb->code ? eb->code : KL_ENOMEM;
	c->env = env ? *env : kl_aws_env_process();
	kl_cred_chain_init(&c->chain, &c->env, kl_http_transport_of(c->http));
	pthread_mutex_init(&c->mu, NULL);
	c->ready = 1;
	return KL_OK;
}

void kl_store_creds_cleanup(struct kl_store_creds *c)
{
	if (!c->ready)
		return;
	kl_cred_chain_cleanup(&c->chain);
	pthread_mutex_destroy(&c->mu);
	kl_http_free(c->http);
	c->http = NULL;
	c->ready = 0;
}

int kl_store_url_is_s3(const char *url)
{
	return url && !strncmp(url, "s3://", 5);
}

/* "scheme://" at the start (RFC 3986's scheme characters) */
static size_t url_scheme_len(const char *s)
{
	static const char scheme[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+.-";
	if (!s[0] || !memchr(scheme, s[0], 52)) /* a letter first */
		return 0;
	size_t i = strspn(s, scheme);
	return !strncmp(s + i, "://", 3) ? i : 0;
}

int kl_store_url_check(const char *url, char *why, size_t cap)
{
	if (!kl_store_url_is_s3(url)) {
		/* a directory whose name starts like a URL ("S3://b/p", "file:///x",
		 * "gs://b") is never what was meant: it would be made in the
		 * working directory, silently */
		size_t sn = url_scheme_len(url);
		if (sn) {
			snprintf(why, cap,
				 "'%.*s://' is not a lake URL kinlake takes: give s3://bucket/prefix "
				 "(lowercase s3) or a directory",
				 (int)(sn < 20 ? sn : 20), url);
			return -1;
		}
		/* a lake directory is made where missing, but not over a file:
		 * that run would fail only at its first state write, with advice
		 * to run it again */
		struct stat sb;
		int there = stat(url, &sb) == 0;
		if (there ? !S_ISDIR(sb.st_mode) : errno == ENOTDIR) {
			snprintf(why, cap,
				 "'%.200s' is not a directory (%s): give a directory (made if "
				 "missing) or s3://bucket/prefix",
				 url, there ? "a file is there" : "a part of the path is a file");
			return -1;
		}
		return 0;
	}
	const char *b = url + 5;
	size_t bn = strcspn(b, "/");
	if (!kl_store_s3_bucket_valid(b, bn)) {
		snprintf(why, cap,
			 "'%.*s' is not a valid S3 bucket name (3 to 63 characters: "
			 "a-z, 0-9, '.', '-')",
			 (int)(bn < 100 ? bn : 100), b);
		return -1;
	}
	/* the prefix: '/'-separated parts, none empty, "." or "..": S3 would
	 * keep them as they are, in keys that Athena's LOCATION and the readers'
	 * globs do not take apart alike. Slashes before and after it are
	 * allowed (the store strips them). */
	const char *s = b + bn;
	while (*s == '/')
		s++;
	while (*s) {
		size_t n = strcspn(s, "/");
		if (n == 0 && !s[strspn(s, "/")])
			break; /* only slashes left: a trailing '/' */
		if (n == 0 || (n == 1 && s[0] == '.') ||
		    (n == 2 && s[0] == '.' && s[1] == '.')) {
			snprintf(why, cap,
				 "the prefix of '%.200s' has an empty, '.' or '..' part: give "
				 "s3://bucket/a/b",
				 url);
			return -1;
		}
		s += n + (s[n] == '/');
	}
	return 0;
}

const char *kl_sse_header_value(enum kl_sse sse)
{
	return sse == KL_SSE_AES256 ? "AES256" : sse == KL_SSE_KMS ? "aws:kms" : NULL;
}

int kl_store_open_url(const char *url, const struct kl_store_url_opts *o, struct kl_store **out,
		      struct kl_errbuf *eb)
{
	if (!url || !*url)
		return kl_errbuf_set(eb, KL_EINVAL, "no lake given");
	if (!kl_store_url_is_s3(url))
		return kl_store_local_new_hinted(out, url, o ? o->dir_hints : NULL, eb);
	struct kl_aws_env penv = kl_aws_env_process();
	const struct kl_aws_env *env = o->env ? o->env : &penv;
	const char *region = kl_aws_region(env, o->region);
	if (!region)
		return kl_errbuf_set(eb, KL_EINVAL, "%s: no region is set: set AWS_REGION", url);
	if (!o->creds)
		return kl_errbuf_set(eb, KL_EINVAL, "%s: no credential chain", url);
	int rc = kl_store_creds_init(o->creds, env, eb);
	if (rc)
		return rc;
	struct kl_store_s3_opts so = {0};
	so.region = region;
	so.endpoint = kl_store_s3_env_endpoint(env);
	so.creds = &o->creds->chain;
	so.creds_mu = &o->creds->mu;
	so.sse = kl_sse_header_value(o->sse);
	so.sse_kms_key_id = o->sse_kms_key_id;
	so.multipart_threshold = o->multipart_threshold;
	so.concurrency = o->concurrency;
	so.cancel = o->cancel;
	so.meters = o->meters;
	return kl_store_s3_new(out, url, &so, eb);
}
