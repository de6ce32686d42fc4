/* http.c — see http.h. */
#include "aws/http.h"
#include "core/hugemem.h"
#include "parse/num.h"

#include <ctype.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <curl/curl.h>

struct kl_http {
	CURL *curl;
	struct kl_http_opts o;
	char curl_err[CURL_ERROR_SIZE];
	char ca[512]; /* the bundle picked by kl_http_pick_ca() when o.ca_file was NULL */
};

/* Where Linux distributions keep their CA bundle (Debian/Ubuntu, Amazon
 * Linux/Fedora/RHEL, OpenSUSE, Alpine/Arch). */
static const char *const ca_paths[] = {
	"/etc/ssl/certs/ca-certificates.crt",
	"/etc/pki/tls/certs/ca-bundle.crt",
	"/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
	"/etc/ssl/ca-bundle.pem",
	"/etc/ssl/cert.pem",
};

const char *kl_http_pick_ca(const char *env_file, const char *builtin,
			    const char *const *paths, size_t n)
{
	if (env_file && *env_file)
		return env_file;
	if (builtin && access(builtin, R_OK) == 0)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (access(paths[i], R_OK) == 0)
			return paths[i];
	return NULL;
}

void kl_http_resp_init(struct kl_http_resp *r, size_t max_body)
{
	memset(r, 0, sizeof *r);
	kl_buf_init(&r->body, max_body);
}

void kl_http_resp_reset(struct kl_http_resp *r)
{
	r->status = 0;
	r->net = KL_NET_OK;
	r->request_id[0] = r->content_type[0] = r->etag[0] = '\0';
	r->retry_after[0] = r->error_type[0] = r->http_version[0] = '\0';
	r->checksum_sha256[0] = '\0';
	for (size_t i = 0; i < r->n_capture; i++)
		r->capture[i].value[0] = '\0';
	kl_buf_reset(&r->body);
}

void kl_http_resp_cleanup(struct kl_http_resp *r) { kl_buf_cleanup(&r->body); }

unsigned kl_http_resp_retry_after_ms(const struct kl_http_resp *r)
{
	const char *s = r->retry_after;
	if (!*s || !isdigit((unsigned char)*s))
		return 0;
	unsigned long v = strtoul(s, NULL, 10);
	return v > 3600 ? 3600000u : (unsigned)v * 1000u;
}

struct kl_http *kl_http_new(const struct kl_http_opts *o, struct kl_errbuf *eb)
{
	struct kl_http *h = calloc(1, sizeof *h);
	if (!h)
		return kl_errbuf_set(eb, KL_ENOMEM, "http: out of memory"), NULL;
	if (o)
		h->o = *o;
	if (!h->o.connect_timeout_ms)
		h->o.connect_timeout_ms = 5000;
	if (!h->o.timeout_ms)
		h->o.timeout_ms = 60000;
	if (!h->o.ca_file) {
		/* a libcurl built on one distribution looks for its own bundle
		 * path: on another (Debian build, Amazon Linux Lambda) find it */
		const char *env = getenv("AWS_CA_BUNDLE");
		if (!env || !*env)
			env = getenv("SSL_CERT_FILE");
		const curl_version_info_data *v = curl_version_info(CURLVERSION_NOW);
		const char *ca = kl_http_pick_ca(env, v ? v->cainfo : NULL, ca_paths,
						 sizeof ca_paths / sizeof *ca_paths);
		if (ca && strlen(ca) < sizeof h->ca) {
			strcpy(h->ca, ca);
			h->o.ca_file = h->ca;
		}
	}
	h->curl = curl_easy_init();
	if (!h->curl) {
		free(h);
		const char *why = kl_curl_load_error();
		kl_errbuf_set(eb, *why ? KL_EUNSUPPORTED : KL_ENOMEM, "http: %s",
			      *why ? why : "curl_easy_init failed");
		return NULL;
	}
	return h;
}

void kl_http_free(struct kl_http *h)
{
	if (!h)
		return;
	curl_easy_cleanup(h->curl);
	free(h);
}

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
	struct kl_http_resp *r = ud;
	return kl_buf_append(&r->body, p, size * n) == KL_OK ? size * n : 0;
}

/* A body announced (Content-Length) at 2 MiB or more, a GetRecords
 * response of a stream being caught up, say: its buffer gets a block of the
 * next power of two up front, in transparent huge pages (kl_buf_reserve_huge),
 * kept for the next responses as the body buffer always is. Its first touch
 * then costs a few 2 MiB faults instead of thousands of 4 KiB ones (a fifth
 * of the Kinesis source's CPU in stream-mode profiles, on a VM where a fault
 * costs ~6 us), and it does not grow by doubling and copying. A hint: a
 * failure here leaves the body to grow as it arrives. */
static void reserve_large(struct kl_buf *body, const char *v, size_t n)
{
	int64_t len;
	if (!kl_num_i64_fast(v, n, &len) || len < (int64_t)KL_HUGE_PAGE || (uint64_t)len > body->max)
		return;
	size_t cap = KL_HUGE_PAGE;
	while (cap < (size_t)len)
		cap *= 2;
	(void)kl_buf_reserve_huge(body, cap);
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
	struct kl_http_resp *r = ud;
	size_t len = size * n;
	if (len >= 5 && memcmp(p, "HTTP/", 5) == 0) { /* new response (after 100, redirect) */
		r->request_id[0] = r->content_type[0] = r->etag[0] = '\0';
		r->retry_after[0] = r->error_type[0] = r->checksum_sha256[0] = '\0';
		for (size_t i = 0; i < r->n_capture; i++)
			r->capture[i].value[0] = '\0';
		return len;
	}
	const char *colon = memchr(p, ':', len);
	if (!colon)
		return len;
	size_t nl = (size_t)(colon - p);
	const char *v = colon + 1, *e = p + len;
	while (v < e && (*v == ' ' || *v == '\t'))
		v++;
	while (e > v && (e[-1] == '\r' || e[-1] == '\n' || e[-1] == ' '))
		e--;
	if (nl == 14 && strncasecmp(p, "content-length", 14) == 0)
		reserve_large(&r->body, v, (size_t)(e - v));
	static const struct {
		const char *name;
		size_t off, cap;
	} want[] = {
		{"x-amz-request-id", offsetof(struct kl_http_resp, request_id), 128},
		{"x-amzn-requestid", offsetof(struct kl_http_resp, request_id), 128},
		{"content-type", offsetof(struct kl_http_resp, content_type), 128},
		{"etag", offsetof(struct kl_http_resp, etag), 128},
		{"retry-after", offsetof(struct kl_http_resp, retry_after), 32},
		{"x-amzn-errortype", offsetof(struct kl_http_resp, error_type), 128},
		{"x-amz-checksum-sha256", offsetof(struct kl_http_resp, checksum_sha256), 64},
	};
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
		if (strlen(want[i].name) == nl && strncasecmp(p, want[i].name, nl) == 0)
			kl_copy_cut((char *)r + want[i].off, want[i].cap, v, (size_t)(e - v));
	for (size_t i = 0; i < r->n_capture; i++)
		if (strlen(r->capture[i].name) == nl && strncasecmp(p, r->capture[i].name, nl) == 0)
			kl_copy_cut(r->capture[i].value, sizeof r->capture[i].value, v, (size_t)(e - v));
	return len;
}

static enum kl_net map_curl(CURLcode c)
{
	switch (c) {
	case CURLE_COULDNT_CONNECT:
		return KL_NET_CONNECT;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		return KL_NET_DNS;
	case CURLE_OPERATION_TIMEDOUT:
		return KL_NET_TIMEOUT;
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
		return KL_NET_RESET;
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CIPHER:
		return KL_NET_TLS;
	case CURLE_WRITE_ERROR:
		return KL_NET_TOO_BIG;
	case CURLE_ABORTED_BY_CALLBACK:
		return KL_NET_ABORTED;
	default:
		return KL_NET_OTHER;
	}
}

/* What libcurl's transfer-progress callback sees of one request: the
 * shutdown token, and the moved-bytes counter with what was already added
 * to it (libcurl reports running totals, which fall back to 0 when it sends
 * the body again on a new connection). */
struct progress {
	const struct kl_cancel *cancel;
	_Atomic uint64_t *moved;
	curl_off_t up, down;
};

static curl_off_t grown(curl_off_t *seen, curl_off_t now)
{
	curl_off_t d = now > *seen ? now - *seen : 0;
	*seen = now;
	return d;
}

/* libcurl calls this often while data moves and about once a second when
 * a server stalls: bytes that moved are counted, and a fired shutdown token
 * aborts the transfer. */
static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
		       curl_off_t ulnow)
{
	(void)dltotal, (void)ultotal;
	struct progress *p = ud;
	if (p->moved) {
		curl_off_t d = grown(&p->up, ulnow) + grown(&p->down, dlnow);
		if (d)
			atomic_fetch_add_explicit(p->moved, (uint64_t)d, memory_order_relaxed);
	}
	return p->cancel && kl_cancelled(p->cancel);
}

/* "https://host:port/path" -> "host:port" for error messages (no query). */
static void url_host(const char *url, char *out, size_t cap)
{
	const char *s = strstr(url, "://");
	s = s ? s + 3 : url;
	size_t n = strcspn(s, "/?#");
	kl_copy_cut(out, cap, s, n);
}

int kl_http_request(struct kl_http *h, const struct kl_http_req *req, struct kl_http_resp *resp,
		    struct kl_errbuf *eb)
{
	CURL *c = h->curl;
	char host[256];
	url_host(req->url, host, sizeof host);
	kl_http_resp_reset(resp);

	/* Reset options, keep the connection cache. */
	curl_easy_reset(c);
	struct curl_slist *hl = NULL, *tmp;
	int rc = KL_OK;
	for (size_t i = 0; i < req->n_headers && !rc; i++) {
		/* "name: value" on the stack (every AWS header but a long
		 * session token fits); libcurl copies it */
		char small[1024];
		const char *nm = req->headers[i].name, *v = req->headers[i].value;
		size_t nn = strlen(nm), vn = strlen(v);
		struct kl_buf line;
		kl_buf_init(&line, 1 << 16);
		const char *text = small;
		if (nn + 2 + vn < sizeof small) {
			memcpy(small, nm, nn);
			memcpy(small + nn, ": ", 2);
			memcpy(small + nn + 2, v, vn + 1);
		} else if (kl_buf_printf(&line, "%s: %s", nm, v) || kl_buf_putc(&line, '\0')) {
			rc = KL_ENOMEM;
		} else {
			text = line.data;
		}
		if (!rc && !(tmp = curl_slist_append(hl, text)))
			rc = KL_ENOMEM;
		else if (!rc)
			hl = tmp;
		kl_buf_cleanup(&line);
	}
	/* No "Expect: 100-continue" round trip; no default Accept header. */
	if (!rc && !(tmp = curl_slist_append(hl, "Expect:")))
		rc = KL_ENOMEM;
	else if (!rc)
		hl = tmp;
	if (rc) {
		curl_slist_free_all(hl);
		return kl_errbuf_set(eb, rc, "http: %s %s: out of memory", req->method, host);
	}

	h->curl_err[0] = '\0';
	curl_easy_setopt(c, CURLOPT_URL, req->url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, h->curl_err);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, h->o.connect_timeout_ms);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, req->timeout_ms > 0 ? req->timeout_ms
						: h->o.timeout_ms < 0 ? 0L
								      : h->o.timeout_ms);
	if (req->cancel && kl_cancelled(req->cancel)) {
		curl_slist_free_all(hl);
		resp->net = KL_NET_ABORTED;
		return kl_errbuf_set(eb, KL_EIO, "http: %s %s: abandoned at shutdown", req->method,
				     host);
	}
	/* lives until curl_easy_perform below returns */
	struct progress prog = {.cancel = req->cancel, .moved = req->moved};
	if (req->cancel || req->moved) {
		curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
		curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
		curl_easy_setopt(c, CURLOPT_XFERINFODATA, (void *)&prog);
	}
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	if (h->o.ca_file)
		curl_easy_setopt(c, CURLOPT_CAINFO, h->o.ca_file);
	curl_easy_setopt(c, CURLOPT_HTTP_VERSION,
			 h->o.http1_only ? (long)CURL_HTTP_VERSION_1_1 : (long)CURL_HTTP_VERSION_2TLS);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, resp);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, resp);
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	if (h->o.recv_buffer)
		curl_easy_setopt(c, CURLOPT_BUFFERSIZE, h->o.recv_buffer);
	if (strcmp(req->method, "HEAD") == 0) {
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	} else {
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, req->method);
		if (req->body || strcmp(req->method, "PUT") == 0 || strcmp(req->method, "POST") == 0) {
			curl_easy_setopt(c, CURLOPT_POSTFIELDS, req->body ? req->body : "");
			curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
		}
	}

	CURLcode cc = curl_easy_perform(c);
	curl_slist_free_all(hl);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
	if (cc != CURLE_OK) {
		resp->net = map_curl(cc);
		resp->status = 0;
		return kl_errbuf_set(eb, KL_EIO, "http: %s %s: %s%s%s", req->method, host,
				     curl_easy_strerror(cc), h->curl_err[0] ? ": " : "",
				     h->curl_err);
	}
	long status = 0, ver = 0;
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_getinfo(c, CURLINFO_HTTP_VERSION, &ver);
	resp->status = (int)status;
	strcpy(resp->http_version, ver == CURL_HTTP_VERSION_2_0 ? "2" :
				   ver == CURL_HTTP_VERSION_1_0 ? "1.0" : "1.1");
	return KL_OK;
}

static int transport_request(void *ctx, const struct kl_http_req *req, struct kl_http_resp *resp,
			     struct kl_errbuf *eb)
{
	return kl_http_request(ctx, req, resp, eb);
}

struct kl_http_transport kl_http_transport_of(struct kl_http *h)
{
	return (struct kl_http_transport){transport_request, h};
}
