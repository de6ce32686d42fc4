/* runtime.c — see runtime.h; protocol: AWS Lambda developer guide, "Using the
 * Lambda runtime API for custom runtimes" and "Building a custom runtime". */
#include "lambda/runtime.h"
#include "event/event.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

static int64_t real_now_ms(void *ctx)
{
	(void)ctx;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct kl_lambda_clock kl_lambda_clock_real(void)
{
	return (struct kl_lambda_clock){real_now_ms, NULL};
}

int kl_lambda_runtime_init(struct kl_lambda_runtime *rt, const char *api,
			   struct kl_http_transport http, struct kl_errbuf *eb)
{
	memset(rt, 0, sizeof *rt);
	rt->http = http;
	rt->clock = kl_lambda_clock_real();
	rt->min_remaining_ms = 50;
	kl_http_resp_init(&rt->next, KL_LAMBDA_MAX_EVENT);
	kl_http_resp_init(&rt->post, 1 << 16);
	kl_buf_init(&rt->out, 0);
	kl_buf_init(&rt->doc, 1 << 16);
	kl_buf_init(&rt->url, 4096);
	rt->cap[0] = (struct kl_http_capture){.name = "Lambda-Runtime-Aws-Request-Id"};
	rt->cap[1] = (struct kl_http_capture){.name = "Lambda-Runtime-Deadline-Ms"};
	rt->cap[2] = (struct kl_http_capture){.name = "Lambda-Runtime-Trace-Id"};
	rt->next.capture = rt->cap;
	rt->next.n_capture = 3;
	if (!api || !*api)
		return kl_errbuf_set(eb, KL_EINVAL, "AWS_LAMBDA_RUNTIME_API is not set "
					     "(kinlake lambda runs inside AWS Lambda or a runtime emulator)");
	if (strlen(api) > 200 || strpbrk(api, "/?# \t\r\n"))
		return kl_errbuf_set(eb, KL_EINVAL, "AWS_LAMBDA_RUNTIME_API must be host:port, got '%.200s'",
				     api);
	snprintf(rt->base, sizeof rt->base, "http://%s/2018-06-01", api);
	return KL_OK;
}

void kl_lambda_runtime_cleanup(struct kl_lambda_runtime *rt)
{
	kl_http_resp_cleanup(&rt->next);
	kl_http_resp_cleanup(&rt->post);
	kl_buf_cleanup(&rt->out);
	kl_buf_cleanup(&rt->doc);
	kl_buf_cleanup(&rt->url);
}

/* base + path, with the request id percent-encoded (it is a UUID in
 * practice; anything else must not reshape the URL). */
static int make_url(struct kl_lambda_runtime *rt, const char *id, const char *suffix)
{
	static const char hex[] = "0123456789ABCDEF";
	kl_buf_reset(&rt->url);
	int rc = kl_buf_puts(&rt->url, rt->base);
	if (id) {
		rc = rc ? rc : kl_buf_puts(&rt->url, "/runtime/invocation/");
		for (const unsigned char *p = (const unsigned char *)id; !rc && *p; p++) {
			if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
			    (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' || *p == '_')
				rc = kl_buf_putc(&rt->url, (char)*p);
			else
				rc = kl_buf_printf(&rt->url, "%%%c%c", hex[*p >> 4], hex[*p & 15]);
		}
	}
	rc = rc ? rc : kl_buf_puts(&rt->url, suffix);
	return rc ? rc : kl_buf_putc(&rt->url, '\0');
}

int kl_lambda_next(struct kl_lambda_runtime *rt, struct kl_lambda_invocation *inv,
		   struct kl_errbuf *eb)
{
	memset(inv, 0, sizeof *inv);
	if (make_url(rt, NULL, "/runtime/invocation/next"))
		return kl_errbuf_set(eb, KL_ENOMEM, "runtime API: out of memory");
	struct kl_http_req req = {.method = "GET", .url = rt->url.data};
	int rc = rt->http.request(rt->http.ctx, &req, &rt->next, eb);
	if (rc)
		return rc;
	if (rt->next.status != 200)
		return kl_errbuf_set(eb, KL_EREMOTE, "runtime API: GET invocation/next: HTTP %d",
				     rt->next.status);
	if (!rt->cap[0].value[0])
		return kl_errbuf_set(eb, KL_EREMOTE, "runtime API: invocation without "
					     "Lambda-Runtime-Aws-Request-Id");
	inv->clock = rt->clock;
	inv->received_ms = rt->clock.now_ms(rt->clock.ctx);
	memcpy(inv->request_id, rt->cap[0].value, sizeof inv->request_id - 1);
	memcpy(inv->trace_id, rt->cap[2].value, sizeof inv->trace_id - 1);
	char *end;
	long long d = strtoll(rt->cap[1].value, &end, 10);
	inv->deadline_ms = (end != rt->cap[1].value && *end == '\0' && d > 0) ? (int64_t)d : 0;
	inv->event = rt->next.body.data ? rt->next.body.data : "";
	inv->event_len = rt->next.body.len;
	return KL_OK;
}

static int post(struct kl_lambda_runtime *rt, const struct kl_http_header *hdr, size_t nhdr,
		const void *body, size_t len, int *status, struct kl_errbuf *eb)
{
	struct kl_http_req req = {.method = "POST", .url = rt->url.data, .headers = hdr,
				  .n_headers = nhdr, .body = body, .body_len = len};
	*status = 0;
	int rc = rt->http.request(rt->http.ctx, &req, &rt->post, eb);
	if (rc)
		return rc;
	*status = rt->post.status;
	if (rt->post.status >= 200 && rt->post.status < 300)
		return KL_OK;
	/* the reply body names the cause: {"errorMessage":...,"errorType":...} */
	int n = rt->post.body.len > 200 ? 200 : (int)rt->post.body.len;
	return kl_errbuf_set(eb, rt->post.status == 413 ? KL_ELIMIT : KL_EREMOTE,
			     "runtime API: POST %s: HTTP %d %.*s", rt->url.data + strlen(rt->base),
			     rt->post.status, n, rt->post.body.data ? rt->post.body.data : "");
}

int kl_lambda_respond(struct kl_lambda_runtime *rt, const struct kl_lambda_invocation *inv,
		      const void *body, size_t len, int *status, struct kl_errbuf *eb)
{
	if (make_url(rt, inv->request_id, "/response"))
		return kl_errbuf_set(eb, KL_ENOMEM, "runtime API: out of memory");
	static const struct kl_http_header h[] = {{"Content-Type", "application/json"}};
	return post(rt, h, 1, body, len, status, eb);
}

int kl_lambda_error_doc(struct kl_buf *out, const char *error_type, const char *msg)
{
	int rc = kl_buf_puts(out, "{\"errorMessage\":\"");
	rc = rc ? rc : kl_json_escape_append(out, msg, strlen(msg));
	rc = rc ? rc : kl_buf_puts(out, "\",\"errorType\":\"");
	rc = rc ? rc : kl_json_escape_append(out, error_type, strlen(error_type));
	return rc ? rc : kl_buf_puts(out, "\"}");
}

static int post_error(struct kl_lambda_runtime *rt, const char *error_type, const char *msg,
		      int *status, struct kl_errbuf *eb)
{
	kl_buf_reset(&rt->doc);
	if (kl_lambda_error_doc(&rt->doc, error_type, msg))
		return kl_errbuf_set(eb, KL_ENOMEM, "runtime API: out of memory");
	const struct kl_http_header h[] = {{"Content-Type", "application/json"},
					   {"Lambda-Runtime-Function-Error-Type", error_type}};
	return post(rt, h, 2, rt->doc.data, rt->doc.len, status, eb);
}

int kl_lambda_fail(struct kl_lambda_runtime *rt, const struct kl_lambda_invocation *inv,
		   const char *error_type, const char *msg, int *status, struct kl_errbuf *eb)
{
	if (make_url(rt, inv->request_id, "/error"))
		return kl_errbuf_set(eb, KL_ENOMEM, "runtime API: out of memory");
	return post_error(rt, error_type, msg, status, eb);
}

int kl_lambda_init_error(struct kl_lambda_runtime *rt, const char *error_type, const char *msg,
			 struct kl_errbuf *eb)
{
	int status;
	if (make_url(rt, NULL, "/runtime/init/error"))
		return kl_errbuf_set(eb, KL_ENOMEM, "runtime API: out of memory");
	return post_error(rt, error_type, msg, &status, eb);
}

/* A post failure that means the runtime must exit: transport gone, or the
 * Runtime API's "container error" (500). */
static int fatal(int rc, int status) { return rc == KL_EIO || (rc && status >= 500); }

int kl_lambda_serve(struct kl_lambda_runtime *rt, const struct kl_lambda_invocation *inv,
		    const struct kl_lambda_handler *h, struct kl_errbuf *eb)
{
	struct kl_lambda_report rep = {.error_msg = ""};
	struct kl_errbuf herr, perr;
	kl_errbuf_clear(&herr);
	kl_errbuf_clear(&perr);
	int64_t now = rt->clock.now_ms(rt->clock.ctx);
	int rc;
	kl_buf_reset(&rt->out);
	if (inv->deadline_ms && inv->deadline_ms - now < rt->min_remaining_ms) {
		rep.error_type = KL_LAMBDA_ERR_DEADLINE_CLOSE;
		kl_errbuf_set(&herr, KL_ELIMIT, "the invocation arrived %" PRId64 " ms before its "
			      "deadline (minimum %" PRId64 " ms): not started", inv->deadline_ms - now,
			      rt->min_remaining_ms);
	} else {
		const char *type = NULL;
		rc = h->invoke(h->ctx, inv, &rt->out, &type, &herr);
		if (rc) {
			rep.error_type = type ? type : KL_LAMBDA_ERR_HANDLER;
			if (!herr.code)
				kl_errbuf_set(&herr, rc, "%s", kl_strerror(rc));
		}
	}
	if (!rep.error_type) {
		rc = kl_lambda_respond(rt, inv, rt->out.data ? rt->out.data : "", rt->out.len,
				       &rep.post_status, &perr);
		rep.response_len = rt->out.len;
		if (rc == KL_ELIMIT) { /* 413: the Runtime API's own payload limit */
			rep.error_type = KL_LAMBDA_ERR_RESPONSE_SIZE;
			kl_errbuf_set(&herr, rc, "the %zu-byte response was refused by the "
				      "Runtime API (HTTP 413)", rt->out.len);
			kl_errbuf_clear(&perr);
		} else {
			rep.post_rc = rc;
		}
	}
	if (rep.error_type) {
		rep.error_msg = herr.msg;
		rep.post_rc = kl_lambda_fail(rt, inv, rep.error_type, herr.msg, &rep.post_status, &perr);
		rep.response_len = rt->doc.len;
	}
	rep.post_msg = perr.msg;
	rep.ms = rt->clock.now_ms(rt->clock.ctx) - inv->received_ms;
	if (h->done)
		h->done(h->ctx, inv, &rep);
	if (rt->out.cap > KL_LAMBDA_MAX_EVENT)
		kl_buf_shrink(&rt->out, KL_LAMBDA_MAX_EVENT);
	if (fatal(rep.post_rc, rep.post_status))
		return kl_errbuf_set(eb, rep.post_rc, "%s", perr.msg);
	return KL_OK;
}

int kl_lambda_run(struct kl_lambda_runtime *rt, const struct kl_lambda_handler *h,
		  struct kl_errbuf *eb)
{
	for (;;) {
		struct kl_lambda_invocation inv;
		int rc = kl_lambda_next(rt, &inv, eb);
		rc = rc ? rc : kl_lambda_serve(rt, &inv, h, eb);
		if (rc)
			return rc;
	}
}

/* --- the Runtime API connection ------------------------------------------------
 * A minimal HTTP/1.1 client: one keep-alive TCP connection to host:port;
 * requests with a Content-Length body; responses with Content-Length,
 * chunked, or read-to-close bodies; 1xx responses skipped. A request on a
 * reused connection that fails before any response byte arrives is sent
 * again on a new connection (the server may have closed an idle one), as
 * curl does. No TLS, no redirects, no proxies: the Runtime API is plain
 * HTTP on the local host. */

#define CONN_MAX_HEAD (64u * 1024)
#define DIGIT(c) ((c) >= '0' && (c) <= '9')
#define CONN_CONNECT_MS 2000

int kl_lambda_conn_init(struct kl_lambda_conn *c, const char *api, struct kl_errbuf *eb)
{
	memset(c, 0, sizeof *c);
	c->fd = -1;
	kl_buf_init(&c->in, 0);
	kl_buf_init(&c->head, CONN_MAX_HEAD);
	const char *colon = api ? strrchr(api, ':') : NULL;
	if (!api || !*api)
		return kl_errbuf_set(eb, KL_EINVAL, "AWS_LAMBDA_RUNTIME_API is not set "
					     "(kinlake lambda runs inside AWS Lambda or a runtime emulator)");
	if (!colon || colon == api || !colon[1] || strlen(colon + 1) >= sizeof c->port ||
	    strspn(colon + 1, "0123456789") != strlen(colon + 1) ||
	    (size_t)(colon - api) >= sizeof c->host || strlen(api) >= sizeof c->hostport)
		return kl_errbuf_set(eb, KL_EINVAL, "AWS_LAMBDA_RUNTIME_API must be host:port, got '%.200s'",
				     api);
	const char *h = api, *he = colon;
	if (*h == '[' && he[-1] == ']') /* [::1]:9001 */
		h++, he--;
	memcpy(c->host, h, (size_t)(he - h));
	c->host[he - h] = '\0';
	strcpy(c->port, colon + 1);
	strcpy(c->hostport, api);
	return KL_OK;
}

static void conn_close(struct kl_lambda_conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->in.len = 0;
	c->off = 0;
}

void kl_lambda_conn_cleanup(struct kl_lambda_conn *c)
{
	conn_close(c);
	kl_buf_cleanup(&c->in);
	kl_buf_cleanup(&c->head);
}

/* Non-blocking connect with a timeout; the socket is blocking afterwards. */
static int connect_addr(const struct sockaddr *sa, socklen_t len, int *err)
{
	int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		*err = errno;
		return -1;
	}
	int rc = connect(fd, sa, len);
	if (rc < 0 && errno == EINPROGRESS) {
		struct pollfd p = {.fd = fd, .events = POLLOUT};
		int soerr = 0;
		socklen_t sl = sizeof soerr;
		do
			rc = poll(&p, 1, CONN_CONNECT_MS);
		while (rc < 0 && errno == EINTR);
		if (rc == 0)
			errno = ETIMEDOUT, rc = -1;
		else if (rc > 0 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0 && soerr)
			errno = soerr, rc = -1;
		else if (rc > 0)
			rc = 0;
	}
	if (rc < 0) {
		*err = errno;
		close(fd);
		return -1;
	}
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	return fd;
}

static int conn_open(struct kl_lambda_conn *c, struct kl_http_resp *resp, struct kl_errbuf *eb)
{
	int err = 0;
	unsigned long port = strtoul(c->port, NULL, 10);
	struct sockaddr_in a4 = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	struct sockaddr_in6 a6 = {.sin6_family = AF_INET6, .sin6_port = htons((uint16_t)port)};
	c->in.len = 0;
	c->off = 0;
	if (port == 0 || port > 65535) {
		resp->net = KL_NET_CONNECT;
		return kl_errbuf_set(eb, KL_EIO, "runtime API: bad port in %s", c->hostport);
	}
	/* numeric addresses (Lambda's 127.0.0.1:9001) without the resolver */
	if (inet_pton(AF_INET, c->host, &a4.sin_addr) == 1) {
		c->fd = connect_addr((struct sockaddr *)&a4, sizeof a4, &err);
	} else if (inet_pton(AF_INET6, c->host, &a6.sin6_addr) == 1) {
		c->fd = connect_addr((struct sockaddr *)&a6, sizeof a6, &err);
	} else {
		struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res;
		int g = getaddrinfo(c->host, c->port, &hints, &res);
		if (g) {
			resp->net = KL_NET_DNS;
			return kl_errbuf_set(eb, KL_EIO, "runtime API: cannot resolve %s: %s", c->host,
					     gai_strerror(g));
		}
		for (struct addrinfo *ai = res; ai && c->fd < 0; ai = ai->ai_next)
			c->fd = connect_addr(ai->ai_addr, ai->ai_addrlen, &err);
		freeaddrinfo(res);
	}
	if (c->fd < 0) {
		resp->net = err == ETIMEDOUT ? KL_NET_TIMEOUT : KL_NET_CONNECT;
		return kl_errbuf_set(eb, KL_EIO, "runtime API: connect to %s: %s", c->hostport,
				     strerror(err));
	}
	return KL_OK;
}

static int send_all(int fd, const char *head, size_t hn, const char *body, size_t bn)
{
	struct iovec iov[2] = {{(void *)head, hn}, {(void *)body, bn}};
	struct msghdr m = {.msg_iov = iov, .msg_iovlen = bn ? 2 : 1};
	while (m.msg_iovlen) {
		ssize_t w = sendmsg(fd, &m, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		while (m.msg_iovlen && (size_t)w >= m.msg_iov->iov_len) {
			w -= (ssize_t)m.msg_iov->iov_len;
			m.msg_iov++;
			m.msg_iovlen--;
		}
		if (m.msg_iovlen) {
			m.msg_iov->iov_base = (char *)m.msg_iov->iov_base + w;
			m.msg_iov->iov_len -= (size_t)w;
		}
	}
	return 0;
}

/* Receive into `dst` (up to n bytes): > 0 bytes, 0 at EOF, < 0 on error. */
static ssize_t recv_some(int fd, char *dst, size_t n)
{
	ssize_t r;
	do
		r = recv(fd, dst, n, 0);
	while (r < 0 && errno == EINTR);
	return r;
}

/* Make at least `n` unread bytes available in c->in: 0, or -1 (EOF or error). */
static int want(struct kl_lambda_conn *c, size_t n)
{
	while (c->in.len - c->off < n) {
		if (c->off && c->off == c->in.len) {
			c->in.len = c->off = 0;
		} else if (c->off > (1u << 16) || (c->off && c->in.cap - c->in.len < 4096)) {
			memmove(c->in.data, c->in.data + c->off, c->in.len - c->off);
			c->in.len -= c->off;
			c->off = 0;
		}
		size_t room = n - (c->in.len - c->off);
		if (kl_buf_reserve(&c->in, room > 16384 ? room : 16384))
			return -1;
		ssize_t r = recv_some(c->fd, c->in.data + c->in.len, c->in.cap - c->in.len);
		if (r <= 0)
			return -1;
		c->in.len += (size_t)r;
	}
	return 0;
}

/* The unread bytes up to and including the next CRLF: its length, or 0 if
 * none within `max` bytes (reading more as needed). */
static size_t line(struct kl_lambda_conn *c, size_t max)
{
	size_t scanned = 0;
	for (;;) {
		size_t have = c->in.len - c->off;
		const char *p = have ? c->in.data + c->off : NULL; /* data is NULL before any read */
		const char *nl = have > scanned ? memchr(p + scanned, '\n', have - scanned) : NULL;
		if (nl)
			return (size_t)(nl - p) + 1;
		scanned = have;
		if (have >= max || want(c, have + 1))
			return 0;
	}
}

/* `n` body bytes into resp->body: what is buffered, then straight from the socket. */
static int read_body(struct kl_lambda_conn *c, struct kl_http_resp *resp, size_t n)
{
	if (kl_buf_reserve(&resp->body, n))
		return KL_ELIMIT;
	size_t have = c->in.len - c->off, k = have < n ? have : n;
	kl_buf_put(&resp->body, c->in.data + c->off, k);
	c->off += k;
	n -= k;
	while (n) {
		ssize_t r = recv_some(c->fd, resp->body.data + resp->body.len, n);
		if (r <= 0)
			return KL_EIO;
		resp->body.len += (size_t)r;
		n -= (size_t)r;
	}
	return KL_OK;
}

enum { RESP_OK, RESP_NONE, RESP_FAIL };

/* Read one response (after any 1xx). RESP_NONE: the connection closed before
 * a byte of it arrived. */
static int read_response(struct kl_lambda_conn *c, const struct kl_http_req *req,
			 struct kl_http_resp *resp, int *close_after, struct kl_errbuf *eb)
{
	const char *what = "malformed response";
	int rc = KL_EIO, got = 0;
	for (;;) {
		size_t n = line(c, CONN_MAX_HEAD);
		if (!n && !got && c->in.len == c->off)
			return RESP_NONE;
		if (!n) {
			what = "incomplete response (connection closed, or head over 64 KiB)";
			goto bad;
		}
		got = 1;
		/* HTTP/1.1 200 OK */
		const char *s = c->in.data + c->off;
		if (n < 13 || memcmp(s, "HTTP/", 5) || !DIGIT(s[5]) || s[6] != '.' || !DIGIT(s[7]) ||
		    s[8] != ' ' || !DIGIT(s[9]) || !DIGIT(s[10]) || !DIGIT(s[11]) ||
		    (s[12] != ' ' && s[12] != '\r' && s[12] != '\n'))
			goto bad;
		int major = s[5] - '0', minor = s[7] - '0';
		int status = (s[9] - '0') * 100 + (s[10] - '0') * 10 + (s[11] - '0');
		if (status < 100)
			goto bad;
		c->off += n;
		*close_after = major == 1 && minor == 0;
		long long length = -1;
		int chunked = 0;
		size_t head = n;
		for (;;) { /* header lines */
			size_t hl = line(c, CONN_MAX_HEAD - head);
			if (!hl)
				goto bad;
			head += hl;
			const char *h = c->in.data + c->off, *e = h + hl;
			c->off += hl;
			while (e > h && (e[-1] == '\n' || e[-1] == '\r'))
				e--;
			if (e == h)
				break;
			const char *colon = memchr(h, ':', (size_t)(e - h));
			if (!colon)
				goto bad;
			size_t nl = (size_t)(colon - h);
			const char *v = colon + 1;
			while (v < e && (*v == ' ' || *v == '\t'))
				v++;
			while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
				e--;
			size_t vl = (size_t)(e - v);
#define IS(name) (nl == sizeof(name) - 1 && strncasecmp(h, name, nl) == 0)
			if (IS("Content-Length")) {
				char tmp[32], *end;
				kl_copy_cut(tmp, sizeof tmp, v, vl);
				length = strtoll(tmp, &end, 10);
				if (end == tmp || *end || length < 0)
					goto bad;
			} else if (IS("Transfer-Encoding")) {
				chunked = vl >= 7 && strncasecmp(e - 7, "chunked", 7) == 0;
			} else if (IS("Connection")) {
				if (vl == 5 && strncasecmp(v, "close", 5) == 0)
					*close_after = 1;
				else if (vl == 10 && strncasecmp(v, "keep-alive", 10) == 0)
					*close_after = 0;
			} else if (IS("Content-Type")) {
				kl_copy_cut(resp->content_type, sizeof resp->content_type, v, vl);
			} else if (IS("X-Amzn-Errortype")) {
				kl_copy_cut(resp->error_type, sizeof resp->error_type, v, vl);
			}
#undef IS
			for (size_t i = 0; i < resp->n_capture; i++)
				if (strlen(resp->capture[i].name) == nl &&
				    strncasecmp(h, resp->capture[i].name, nl) == 0)
					kl_copy_cut(resp->capture[i].value, sizeof resp->capture[i].value,
						    v, vl);
		}
		if (status < 200) { /* 100 Continue and friends: the real one follows */
			for (size_t i = 0; i < resp->n_capture; i++)
				resp->capture[i].value[0] = '\0';
			continue;
		}
		resp->status = status;
		snprintf(resp->http_version, sizeof resp->http_version, "%d.%d", major, minor);
		if (!strcmp(req->method, "HEAD") || status == 204 || status == 304)
			return RESP_OK;
		if (chunked) {
			for (;;) {
				size_t cl = line(c, 1024);
				if (!cl)
					goto bad;
				/* hex size, then an optional ;extension */
				const char *h = c->in.data + c->off, *e = h + cl;
				unsigned long long sz = 0;
				int digits = 0;
				for (; h < e && isxdigit((unsigned char)*h) && digits < 16; h++, digits++)
					sz = sz << 4 | (unsigned)(DIGIT(*h) ? *h - '0' : (*h | 0x20) - 'a' + 10);
				if (!digits || (h < e && *h != ';' && *h != '\r' && *h != '\n' &&
						*h != ' ' && *h != '\t'))
					goto bad;
				c->off += cl;
				if (sz == 0)
					break;
				if (sz > resp->body.max - resp->body.len)
					goto too_big;
				if ((rc = read_body(c, resp, (size_t)sz)))
					goto io;
				if (want(c, 2) || memcmp(c->in.data + c->off, "\r\n", 2))
					goto bad;
				c->off += 2;
			}
			for (;;) { /* trailer */
				size_t tl = line(c, CONN_MAX_HEAD);
				if (!tl)
					goto bad;
				c->off += tl;
				if (tl <= 2)
					break;
			}
		} else if (length >= 0) {
			if ((unsigned long long)length > resp->body.max - resp->body.len)
				goto too_big;
			if ((rc = read_body(c, resp, (size_t)length)))
				goto io;
		} else { /* the body runs to the end of the connection */
			*close_after = 1;
			for (;;) {
				size_t have = c->in.len - c->off;
				if (kl_buf_append(&resp->body, c->in.data + c->off, have))
					goto too_big;
				c->off = c->in.len;
				if (want(c, 1))
					break;
			}
		}
		return RESP_OK;
	}
too_big:
	resp->net = KL_NET_TOO_BIG;
	kl_errbuf_set(eb, KL_EIO, "runtime API: %s %s: response body over %zu bytes", req->method,
		      c->hostport, resp->body.max);
	return RESP_FAIL;
io:
	if (rc == KL_ELIMIT)
		goto too_big;
	what = "connection closed in the response body";
bad:
	resp->net = KL_NET_RESET;
	kl_errbuf_set(eb, KL_EIO, "runtime API: %s %s: %s", req->method, c->hostport, what);
	return RESP_FAIL;
}

static int conn_request(void *ctx, const struct kl_http_req *req, struct kl_http_resp *resp,
			struct kl_errbuf *eb)
{
	struct kl_lambda_conn *c = ctx;
	kl_http_resp_reset(resp);

	/* the path: what follows scheme://host:port */
	const char *path = strstr(req->url, "://");
	path = path ? strchr(path + 3, '/') : NULL;
	kl_buf_reset(&c->head);
	int rc = kl_buf_printf(&c->head, "%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: kinlake/%s\r\n",
			       req->method, path ? path : "/", c->hostport, KL_VERSION);
	for (size_t i = 0; !rc && i < req->n_headers; i++)
		rc = kl_buf_printf(&c->head, "%s: %s\r\n", req->headers[i].name, req->headers[i].value);
	if (!rc && (req->body || !strcmp(req->method, "POST") || !strcmp(req->method, "PUT")))
		rc = kl_buf_printf(&c->head, "Content-Length: %zu\r\n", req->body_len);
	rc = rc ? rc : kl_buf_append(&c->head, "\r\n", 2);
	if (rc)
		return kl_errbuf_set(eb, KL_ENOMEM, "runtime API: %s: request head too large",
				     req->method);
	for (int attempt = 0;; attempt++) {
		int reused = c->fd >= 0;
		if (!reused && (rc = conn_open(c, resp, eb)))
			return rc;
		int close_after = 0, r = RESP_NONE;
		if (send_all(c->fd, c->head.data, c->head.len, req->body, req->body ? req->body_len : 0) ==
		    0)
			r = read_response(c, req, resp, &close_after, eb);
		else if (!reused)
			kl_errbuf_set(eb, KL_EIO, "runtime API: %s %s: send: %s", req->method,
				      c->hostport, strerror(errno));
		if (r == RESP_OK) {
			if (close_after)
				conn_close(c);
			else if (c->off == c->in.len) /* nothing unread: keep the buffer small */
				c->in.len = c->off = 0;
			return KL_OK;
		}
		conn_close(c);
		if (r == RESP_NONE && reused && attempt == 0)
			continue; /* an idle connection the server had closed */
		if (r == RESP_NONE) /* fresh connection, nothing came back */
			kl_errbuf_set(eb, KL_EIO, "runtime API: %s %s: connection closed without a "
				      "response", req->method, c->hostport);
		if (resp->net == KL_NET_OK)
			resp->net = KL_NET_RESET;
		resp->status = 0;
		return KL_EIO;
	}
}

struct kl_http_transport kl_lambda_conn_transport(struct kl_lambda_conn *c)
{
	return (struct kl_http_transport){conn_request, c};
}
