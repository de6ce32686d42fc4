/* s3_request.c — see s3_request.h. */
#include "store/s3_request.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "aws/sigv4_http.h"
#include "aws/xml.h"
#include "core/base64.h"

#define MAX_HEADERS 16

void kl_s3_result_init(struct kl_s3_result *r, size_t max_body)
{
	kl_http_resp_init(&r->resp, max_body);
	memset(&r->err, 0, sizeof r->err);
	r->attempts = 0;
}

void kl_s3_result_cleanup(struct kl_s3_result *r)
{
	kl_http_resp_cleanup(&r->resp);
}

void kl_s3_sha256(const void *p, size_t n, char hex[65], char b64[45])
{
	unsigned char md[32];
	unsigned int mdlen = 0;
	EVP_Digest(p ? p : "", n, md, &mdlen, EVP_sha256(), NULL);
	static const char digits[] = "0123456789abcdef";
	for (int i = 0; i < 32; i++) {
		hex[2 * i] = digits[md[i] >> 4];
		hex[2 * i + 1] = digits[md[i] & 15];
	}
	hex[64] = '\0';
	/* base64 of 32 bytes is 44 characters: encode into a fixed buffer. */
	char tmp[64];
	struct kl_buf b = {tmp, 0, sizeof tmp, sizeof tmp};
	kl_base64_encode(&b, md, 32);
	memcpy(b64, tmp, 44);
	b64[44] = '\0';
}

int kl_s3_encode_key(struct kl_buf *out, const char *s)
{
	return kl_uri_encode(out, s, strlen(s), 1);
}

struct call {
	const struct kl_s3_endpoint *ep;
	struct kl_http *h;
	const struct kl_s3_req *r;
	const char *url, *path;
	struct kl_s3_result *out;
	struct kl_errbuf eb; /* last local or transport error */
	int checksum_mismatch;
	int refreshed; /* expired credentials were renewed once in this call */
};

/* 200 + <Error> (CompleteMultipartUpload, CopyObject): an error after all. */
static int error_in_body(const struct kl_http_resp *resp)
{
	const char *p = resp->body.data;
	size_t n = resp->body.len;
	for (size_t i = 0; i + 7 <= n && i < 512; i++)
		if (memcmp(p + i, "<Error>", 7) == 0)
			return 1;
	return 0;
}

static int attempt(void *ctx, unsigned n, unsigned *retry_after_ms)
{
	(void)n;
	struct call *c = ctx;
	const struct kl_s3_endpoint *ep = c->ep;
	const struct kl_s3_req *r = c->r;
	struct kl_http_resp *resp = &c->out->resp;
	kl_errbuf_clear(&c->eb);
	memset(&c->out->err, 0, sizeof c->out->err);
	c->checksum_mismatch = 0;

	struct kl_aws_creds cr;
	struct kl_errbuf ceb = {{0}, 0};
	pthread_mutex_lock(ep->cred_mu);
	int rc = kl_cred_chain_get(ep->creds, time(NULL), &cr, &ceb);
	pthread_mutex_unlock(ep->cred_mu);
	if (rc) {
		kl_aws_creds_wipe(&cr);
		/* "no provider configured" must not read as "no such object" */
		return kl_errbuf_set(&c->eb, rc == KL_ENOTFOUND ? KL_EAUTH : rc, "credentials: %s",
				     ceb.msg);
	}

	struct kl_sigv4_header sh[MAX_HEADERS];
	size_t nsh = 0;
	sh[nsh++] = (struct kl_sigv4_header){"Host", ep->host};
	if (r->checksum) {
		sh[nsh++] = (struct kl_sigv4_header){"x-amz-checksum-sha256", r->checksum};
		sh[nsh++] = (struct kl_sigv4_header){"x-amz-sdk-checksum-algorithm", "SHA256"};
	}
	for (size_t i = 0; i < r->n_headers && nsh < MAX_HEADERS; i++)
		sh[nsh++] = (struct kl_sigv4_header){r->headers[i].name, r->headers[i].value};
	struct kl_sigv4_request sr = {
	    .method = r->method,
	    .path = c->path,
	    .query = r->query,
	    .headers = sh,
	    .n_headers = nsh,
	    .payload = r->body,
	    .payload_len = r->body_len,
	    .payload_hash = r->sha256_hex,
	    .region = ep->region,
	    .service = "s3",
	    .flags = KL_SIGV4_S3,
	};
	struct kl_http_header hh[KL_SIGV4_HTTP_HEADERS(MAX_HEADERS)];
	size_t nh;
	struct kl_sigv4_result sig;
	kl_sigv4_result_init(&sig);
	rc = kl_sigv4_http_sign(&sr, &cr, time(NULL), &sig, hh, &nh, &c->eb);
	kl_aws_creds_wipe(&cr);
	if (rc) {
		kl_sigv4_result_cleanup(&sig);
		return rc;
	}
	struct kl_http_req hr = {.method = r->method,
				 .url = c->url,
				 .headers = hh,
				 .n_headers = nh,
				 .body = r->body,
				 .body_len = r->body_len,
				 .cancel = ep->cancel,
				 .timeout_ms = r->timeout_ms,
				 .moved = ep->meters.moved};
	rc = kl_http_request(c->h, &hr, resp, &c->eb);
	kl_sigv4_result_cleanup(&sig);

	struct kl_aws_error *e = &c->out->err;
	e->status = resp->status;
	/* Only POSTs (Create/CompleteMultipartUpload) answer with XML documents
	 * that may be errors; a GetObject body is the user's data. */
	int post = !strcmp(r->method, "POST");
	if (rc == KL_OK && (resp->status >= 300 || (post && error_in_body(resp)))) {
		kl_aws_error_parse(resp->body.data, resp->body.len, resp->error_type, e);
		e->status = resp->status;
		if (!e->request_id[0])
			snprintf(e->request_id, sizeof e->request_id, "%s", resp->request_id);
	}
	*retry_after_ms = kl_http_resp_retry_after_ms(resp);
	if (resp->net == KL_NET_OK && kl_retry_is_expired_token(e->code) && !c->refreshed) {
		c->refreshed = 1; /* new credentials, then one more try */
		pthread_mutex_lock(ep->cred_mu);
		kl_cred_chain_expire(ep->creds);
		pthread_mutex_unlock(ep->cred_mu);
		return KL_ERETRY;
	}
	rc = kl_retry_classify(resp->net, resp->status, e->code);
	if (rc == KL_OK && resp->status >= 300) /* 3xx: wrong region or endpoint */
		rc = KL_EREMOTE;
	if (rc == KL_OK && e->code[0]) /* 200 with an error document */
		rc = kl_retry_classify(KL_NET_OK, 500, e->code);
	if (rc == KL_OK && r->checksum && resp->checksum_sha256[0] &&
	    strcmp(resp->checksum_sha256, r->checksum) != 0) {
		c->checksum_mismatch = 1; /* corrupted on the way: send again */
		rc = KL_ERETRY;
	}
	return rc;
}

int kl_s3_call(const struct kl_s3_endpoint *ep, struct kl_http *h, const struct kl_s3_req *req,
	       struct kl_s3_result *out, struct kl_errbuf *eb)
{
	struct kl_buf path, url;
	kl_buf_init(&path, 1 << 16);
	kl_buf_init(&url, 1 << 17);
	int rc = kl_buf_puts(&path, ep->path_base);
	if (!rc && req->key)
		rc = kl_buf_putc(&path, '/') ? KL_ENOMEM : kl_s3_encode_key(&path, req->key);
	if (!rc && path.len == 0)
		rc = kl_buf_putc(&path, '/');
	if (!rc)
		rc = kl_buf_putc(&path, '\0');
	if (!rc)
		rc = kl_buf_printf(&url, "%s%s%s%s", ep->origin, path.data,
				   req->query && *req->query ? "?" : "",
				   req->query ? req->query : "");
	if (rc) {
		kl_buf_cleanup(&path);
		kl_buf_cleanup(&url);
		return kl_errbuf_set(eb, KL_ENOMEM, "s3: %s: key too long", req->op);
	}
	struct call c = {
	    .ep = ep, .h = h, .r = req, .url = url.data, .path = path.data, .out = out};
	struct kl_rng rng;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	kl_rng_seed(&rng, (uint64_t)ts.tv_nsec ^ (uint64_t)ts.tv_sec << 32 ^ (uintptr_t)&c);
	out->attempts = 0;
	const struct kl_store_meters *m = &ep->meters;
	if (m->inflight)
		atomic_fetch_add_explicit(m->inflight, 1, memory_order_relaxed);
	if (kl_cancelled(ep->cancel))
		rc = KL_EINTR; /* not even a first attempt */
	else
		rc = kl_retry_run(&ep->retry, &rng, kl_retry_sleep_cancel, (void *)ep->cancel,
				  attempt, &c, &out->attempts);
	if (m->inflight)
		atomic_fetch_sub_explicit(m->inflight, 1, memory_order_relaxed);
	if (m->retries && out->attempts > 1)
		atomic_fetch_add_explicit(m->retries, out->attempts - 1, memory_order_relaxed);
	if (m->answered && rc != KL_EINTR && out->resp.status >= 200 && out->resp.status < 500)
		atomic_fetch_add_explicit(m->answered, 1, memory_order_relaxed);
	if (rc == KL_EINTR) {
		kl_errbuf_set(eb, rc, "s3: %s s3://%s/%s: abandoned at shutdown (%u attempt%s)",
			      req->op, ep->bucket, req->key ? req->key : "", out->attempts,
			      out->attempts == 1 ? "" : "s");
	} else if (rc) {
		const char *key = req->key ? req->key : "";
		const struct kl_aws_error *e = &out->err;
		char tries[48];
		snprintf(tries, sizeof tries, "%u attempt%s", out->attempts,
			 out->attempts == 1 ? "" : "s");
		if (c.checksum_mismatch)
			kl_errbuf_set(eb, rc,
				      "s3: %s s3://%s/%s: echoed x-amz-checksum-sha256 differs "
				      "from the one sent (%s)",
				      req->op, ep->bucket, key, tries);
		else if (e->status)
			kl_errbuf_set(
			    eb, rc, "s3: %s s3://%s/%s: HTTP %d %s%s%s (request id %s, %s)",
			    req->op, ep->bucket, key, e->status,
			    e->code[0] ? e->code : "(no error code)", e->message[0] ? ": " : "",
			    e->message, e->request_id[0] ? e->request_id : "-", tries);
		else
			kl_errbuf_set(eb, rc, "s3: %s s3://%s/%s: %s (%s)", req->op, ep->bucket,
				      key, c.eb.msg[0] ? c.eb.msg : kl_strerror(rc), tries);
	}
	kl_buf_cleanup(&path);
	kl_buf_cleanup(&url);
	return rc;
}

static int hexval(char c)
{
	return c >= '0' && c <= '9'   ? c - '0'
	       : c >= 'a' && c <= 'f' ? c - 'a' + 10
	       : c >= 'A' && c <= 'F' ? c - 'A' + 10
				      : -1;
}

/* URL-decode b in place ('+' is a space); -1 on a malformed escape. */
static int url_decode(struct kl_buf *b)
{
	size_t o = 0;
	for (size_t i = 0; i < b->len; i++) {
		char c = b->data[i];
		if (c == '%') {
			int h = i + 2 < b->len ? hexval(b->data[i + 1]) : -1;
			int l = h >= 0 ? hexval(b->data[i + 2]) : -1;
			if (l < 0)
				return -1;
			c = (char)(h << 4 | l);
			i += 2;
		} else if (c == '+') {
			c = ' ';
		}
		b->data[o++] = c;
	}
	b->len = o;
	return 0;
}

/* Every <outer><inner>..</inner></outer> of the page to fn. */
static int list_entries(const char *xml, size_t n, const char *outer, const char *inner,
			const char *strip, int (*fn)(void *, const char *, size_t), void *ctx,
			struct kl_buf *tmp)
{
	size_t pos = 0, sn = strlen(strip);
	const char *c;
	size_t cn;
	int rc;
	while ((rc = kl_xml_next(xml, n, outer, &pos, &c, &cn)) == KL_OK) {
		kl_buf_reset(tmp);
		rc = kl_xml_find(c, cn, NULL, inner, tmp);
		if (rc == KL_ENOTFOUND)
			return KL_EPARSE;
		if (rc)
			return rc;
		if (url_decode(tmp) || tmp->len < sn || memcmp(tmp->data, strip, sn) ||
		    memchr(tmp->data, '\0', tmp->len))
			return KL_EPARSE;
		if (tmp->len == sn)
			continue;
		if ((rc = kl_buf_putc(tmp, '\0')))
			return rc;
		if ((rc = fn(ctx, tmp->data + sn, tmp->len - 1 - sn)))
			return rc;
	}
	return rc == KL_ENOTFOUND ? KL_OK : rc;
}

int kl_s3_list_page(const char *xml, size_t n, const char *strip,
		    int (*fn)(void *ctx, const char *key, size_t len), void *ctx, int *truncated,
		    struct kl_buf *next)
{
	struct kl_buf tmp;
	kl_buf_init(&tmp, 1 << 16);
	*truncated = 0;
	kl_buf_reset(next);
	int rc = kl_xml_find(xml, n, "ListBucketResult", "IsTruncated", &tmp);
	if (rc == KL_ENOTFOUND)
		rc = KL_EPARSE;
	if (rc == KL_OK) {
		*truncated = tmp.len == 4 && !memcmp(tmp.data, "true", 4);
		if (!*truncated && !(tmp.len == 5 && !memcmp(tmp.data, "false", 5)))
			rc = KL_EPARSE;
	}
	if (!rc && *truncated) {
		rc = kl_xml_find(xml, n, "ListBucketResult", "NextContinuationToken", next);
		if (rc == KL_ENOTFOUND ||
		    (!rc && (next->len == 0 || memchr(next->data, '\0', next->len))))
			rc = KL_EPARSE;
		rc = rc ? rc : kl_buf_putc(next, '\0');
	}
	if (!rc)
		rc = list_entries(xml, n, "Contents", "Key", strip, fn, ctx, &tmp);
	if (!rc)
		rc = list_entries(xml, n, "CommonPrefixes", "Prefix", strip, fn, ctx, &tmp);
	kl_buf_cleanup(&tmp);
	return rc;
}
