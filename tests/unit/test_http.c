/* test_http.c — aws/http + aws/retry against a real local HTTP server
 * (tests/js/fake_retry_server.mjs, started here with node): 503 SlowDown twice
 * then 200 = 3 attempts; 403 SignatureDoesNotMatch is not retried; a JSON
 * throttle with Retry-After; body cap; connection refused is retryable. Every request is SigV4-signed. */
#include "check.h"
#include "aws/http.h"
#include "aws/kinesis.h"
#include "aws/retry.h"
#include "aws/sigv4.h"
#include "core/clock.h"
#include "core/stop.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <sys/socket.h>

#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static pid_t server_pid;
static int server_stdin = -1;

static int start_server(void)
{
	int in[2], out[2];
	if (pipe(in) || pipe(out))
		return -1;
	server_pid = fork();
	if (server_pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		close(in[1]);
		close(out[0]);
		execlp("node", "node", "tests/js/fake_retry_server.mjs", (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	server_stdin = in[1];
	char buf[32] = {0};
	size_t n = 0;
	while (n < sizeof buf - 1 && read(out[0], buf + n, 1) == 1 && buf[n] != '\n')
		n++;
	close(out[0]);
	return atoi(buf);
}

static void stop_server(void)
{
	if (server_stdin >= 0)
		close(server_stdin); /* the server exits when stdin closes */
	if (server_pid > 0) {
		int st;
		waitpid(server_pid, &st, 0);
	}
}

struct call {
	struct kl_http_transport t;
	char url[256];
	const char *path, *body;
	struct kl_http_resp resp;
	struct kl_aws_error err;
	struct kl_errbuf eb;
};

/* One attempt: sign now, send, classify. */
static int attempt(void *ctx, unsigned n, unsigned *retry_after_ms)
{
	(void)n;
	struct call *c = ctx;
	struct kl_sigv4_header sh[] = {{"Host", "127.0.0.1"}};
	struct kl_sigv4_request sr = {
		.method = c->body ? "PUT" : "GET", .path = c->path, .headers = sh, .n_headers = 1,
		.payload = c->body, .payload_len = c->body ? strlen(c->body) : 0,
		.region = "us-east-1", .service = "s3", .access_key_id = "AKIDTEST",
		.secret_access_key = "secret", .now = time(NULL), .flags = KL_SIGV4_S3,
	};
	struct kl_sigv4_result sig;
	kl_sigv4_result_init(&sig);
	int rc = kl_sigv4_sign(&sr, &sig, &c->eb);
	if (rc) {
		kl_sigv4_result_cleanup(&sig);
		return rc;
	}
	struct kl_http_header h[KL_SIGV4_MAX_ADD + 1];
	size_t nh = 0;
	for (size_t i = 0; i < sig.n_add; i++)
		h[nh++] = (struct kl_http_header){sig.add[i].name, sig.add[i].value};
	h[nh++] = (struct kl_http_header){"Authorization", sig.authz.data};
	struct kl_http_req req = {.method = sr.method,
				  .url = c->url,
				  .headers = h,
				  .n_headers = nh,
				  .body = c->body,
				  .body_len = sr.payload_len};
	kl_errbuf_clear(&c->eb);
	rc = c->t.request(c->t.ctx, &req, &c->resp, &c->eb);
	kl_sigv4_result_cleanup(&sig);
	memset(&c->err, 0, sizeof c->err);
	if (rc == KL_OK && c->resp.status >= 300)
		kl_aws_error_parse(c->resp.body.data, c->resp.body.len, c->resp.error_type, &c->err);
	*retry_after_ms = kl_http_resp_retry_after_ms(&c->resp);
	return kl_retry_classify(c->resp.net, c->resp.status, c->err.code);
}

static unsigned sleeps[8], nsleeps;
static int fake_sleep(void *ctx, unsigned ms)
{
	(void)ctx;
	if (nsleeps < 8)
		sleeps[nsleeps++] = ms;
	return 0;
}

static long count(struct kl_http *h, int port, const char *path)
{
	char url[256];
	snprintf(url, sizeof url, "http://127.0.0.1:%d/count%s", port, path);
	struct kl_http_req req = {.method = "GET", .url = url};
	struct kl_http_resp r;
	kl_http_resp_init(&r, 64);
	long n = -1;
	if (kl_http_request(h, &req, &r, NULL) == KL_OK && kl_buf_putc(&r.body, '\0') == KL_OK)
		n = atol(r.body.data);
	kl_http_resp_cleanup(&r);
	return n;
}

/* A one-shot server in a child: answers `conns` requests, one a connection,
 * each with a body of `len` bytes (byte i = i * 7 mod 251) announced by
 * Content-Length. Returns the port; the child exits after the last. */
static int serve_large(size_t len, int conns, pid_t *pid)
{
	int ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof sa;
	if (ls < 0 || bind(ls, (struct sockaddr *)&sa, sizeof sa) || listen(ls, 4) ||
	    getsockname(ls, (struct sockaddr *)&sa, &sl))
		return -1;
	*pid = fork();
	if (*pid == 0) {
		char *body = malloc(len), req[8192];
		for (size_t i = 0; body && i < len; i++)
			body[i] = (char)(i * 7 % 251);
		for (int k = 0; body && k < conns; k++) {
			int c = accept(ls, NULL, NULL);
			if (c < 0)
				_exit(1);
			size_t got = 0;
			while (got < sizeof req - 1) { /* up to the end of the headers */
				ssize_t r = read(c, req + got, sizeof req - 1 - got);
				if (r <= 0)
					break;
				got += (size_t)r;
				req[got] = '\0';
				if (strstr(req, "\r\n\r\n"))
					break;
			}
			char head[256];
			int hn = snprintf(head, sizeof head,
					  "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
					  len);
			if (write(c, head, (size_t)hn) != hn)
				_exit(1);
			for (size_t off = 0; off < len;) {
				ssize_t w = write(c, body + off, len - off);
				if (w <= 0)
					break;
				off += (size_t)w;
			}
			close(c);
		}
		_exit(0);
	}
	close(ls);
	return *pid > 0 ? ntohs(sa.sin_port) : -1;
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	int port = start_server();
	CHECK(port > 0);
	if (port <= 0)
		return check_report("test_http");
	struct kl_errbuf eb = {{0}, 0};
	struct kl_http_opts o = {.connect_timeout_ms = 2000, .timeout_ms = 10000};
	struct kl_http *h = kl_http_new(&o, &eb);
	CHECK(h != NULL);
	struct kl_retry_policy pol = KL_RETRY_POLICY_DEFAULT;
	struct kl_rng rng;
	kl_rng_seed(&rng, 7);

	/* 503 SlowDown twice, then 200. */
	struct call c = {.t = kl_http_transport_of(h), .path = "/slowdown/a", .body = "hello"};
	snprintf(c.url, sizeof c.url, "http://127.0.0.1:%d/slowdown/a", port);
	kl_http_resp_init(&c.resp, 1 << 16);
	unsigned attempts = 0;
	int rc = kl_retry_run(&pol, &rng, fake_sleep, NULL, attempt, &c, &attempts);
	CHECK_EQ_INT(rc, KL_OK);
	CHECK_EQ_INT(attempts, 3);
	CHECK_EQ_INT(c.resp.status, 200);
	CHECK_EQ_STR(c.resp.etag, "\"abc123\"");
	CHECK_EQ_STR(c.resp.request_id, "RID3");
	CHECK_EQ_STR(c.resp.content_type, "text/plain");
	CHECK_EQ_STR(c.resp.http_version, "1.1");
	CHECK_EQ_MEM(c.resp.body.data, c.resp.body.len, "ok:5");
	CHECK_EQ_INT(nsleeps, 2);
	CHECK(sleeps[0] <= 200 && sleeps[1] <= 400);
	CHECK_EQ_INT(count(h, port, "/slowdown/a"), 3);

	/* 403 SignatureDoesNotMatch: fatal after one attempt. */
	c.path = "/deny";
	c.body = NULL;
	snprintf(c.url, sizeof c.url, "http://127.0.0.1:%d/deny", port);
	nsleeps = 0;
	rc = kl_retry_run(&pol, &rng, fake_sleep, NULL, attempt, &c, &attempts);
	CHECK_EQ_INT(rc, KL_EAUTH);
	CHECK_EQ_INT(attempts, 1);
	CHECK_EQ_INT(nsleeps, 0);
	CHECK_EQ_INT(c.resp.status, 403);
	CHECK_EQ_STR(c.err.code, "SignatureDoesNotMatch");
	CHECK_EQ_INT(count(h, port, "/deny"), 1);

	/* JSON throttle (namespace-prefixed __type) with Retry-After: 1 s. */
	c.path = "/throttle-json";
	snprintf(c.url, sizeof c.url, "http://127.0.0.1:%d/throttle-json", port);
	nsleeps = 0;
	rc = kl_retry_run(&pol, &rng, fake_sleep, NULL, attempt, &c, &attempts);
	CHECK_EQ_INT(rc, KL_OK);
	CHECK_EQ_INT(attempts, 2);
	CHECK_EQ_INT(nsleeps, 1);
	CHECK_EQ_INT(sleeps[0], 1000);

	/* Body over the cap: transport failure, fatal. */
	struct kl_http_resp small;
	kl_http_resp_init(&small, 1000);
	char url[256];
	snprintf(url, sizeof url, "http://127.0.0.1:%d/big", port);
	struct kl_http_header ah[] = {{"Authorization", "x"}, {"X-Amz-Date", "y"}};
	struct kl_http_req big = {.method = "GET", .url = url, .headers = ah, .n_headers = 2};
	kl_errbuf_clear(&eb);
	CHECK_EQ_INT(kl_http_request(h, &big, &small, &eb), KL_EIO);
	CHECK_EQ_INT(small.net, KL_NET_TOO_BIG);
	CHECK_EQ_INT(kl_retry_classify(small.net, small.status, NULL), KL_EREMOTE);
	kl_http_resp_cleanup(&small);

	/* An expired session token: the Kinesis client renews the credentials
	 * (container provider: a new token per fetch) and tries once more. */
	{
		char u[128];
		snprintf(u, sizeof u, "http://127.0.0.1:%d", port);
		setenv("AWS_ENDPOINT_URL_KINESIS", u, 1);
		snprintf(u, sizeof u, "http://127.0.0.1:%d/creds", port);
		setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", u, 1);
		setenv("AWS_REGION", "us-east-1", 1);
		unsetenv("AWS_ACCESS_KEY_ID");
		unsetenv("AWS_SECRET_ACCESS_KEY");
		unsetenv("AWS_SESSION_TOKEN");
		unsetenv("AWS_PROFILE");
		setenv("AWS_CONFIG_FILE", "/dev/null", 1);
		setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null", 1);
		struct kl_kinesis k;
		kl_errbuf_clear(&eb);
		CHECK_EQ_INT(kl_kinesis_init(&k, NULL, &eb), 0);
		int krc = kl_kinesis_call(&k, "ExpiredOnce", "{}", 2);
		CHECK_EQ_INT(krc, 0);
		if (krc)
			fprintf(stderr, "kinesis: %s\n", k.c.err.msg);
		CHECK(k.c.resp.body.len && strstr(k.c.resp.body.data, "\"tokens\":[\"tok1\",\"tok2\"]"));
		kl_kinesis_cleanup(&k);
	}

	stop_server();

	/* Server gone: connection refused is retryable; the message names the
	 * host and carries no header values. */
	kl_errbuf_clear(&eb);
	struct kl_http_header secret[] = {{"Authorization", "SECRET-SIGNATURE"}};
	struct kl_http_req gone = {.method = "GET", .url = url, .headers = secret, .n_headers = 1};
	struct kl_http_resp r;
	kl_http_resp_init(&r, 1000);
	CHECK_EQ_INT(kl_http_request(h, &gone, &r, &eb), KL_EIO);
	CHECK_EQ_INT(kl_retry_classify(r.net, r.status, NULL), KL_ERETRY);
	CHECK(strstr(eb.msg, "127.0.0.1") != NULL);
	CHECK(strstr(eb.msg, "SECRET") == NULL);
	kl_http_resp_cleanup(&r);

	/* TLS verification cannot be disabled and a bad CA file fails closed. */
	struct kl_http_opts bad = {.ca_file = "/nonexistent/ca.pem", .connect_timeout_ms = 1000};
	struct kl_http *h2 = kl_http_new(&bad, &eb);
	struct kl_http_req tls = {.method = "GET", .url = "https://127.0.0.1:1/"};
	kl_http_resp_init(&r, 1000);
	CHECK_EQ_INT(kl_http_request(h2, &tls, &r, NULL), KL_EIO);
	kl_http_resp_cleanup(&r);
	kl_http_free(h2);

	/* Shutdown: a server that accepts and never answers holds a request
	 * until the cancel token fires (here the deadline of a kl_stop, 300 ms
	 * after a request), not for the handle's 60 s; the transfer ends as
	 * KL_NET_ABORTED, which is never retried (KL_EINTR). A fired token
	 * starts no request at all. */
	{
		int ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		struct sockaddr_in sa = {.sin_family = AF_INET,
					 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
		socklen_t sl = sizeof sa;
		CHECK(ls >= 0 && !bind(ls, (struct sockaddr *)&sa, sizeof sa) && !listen(ls, 4) &&
		      !getsockname(ls, (struct sockaddr *)&sa, &sl));
		char surl[64];
		snprintf(surl, sizeof surl, "http://127.0.0.1:%d/stall", ntohs(sa.sin_port));
		struct kl_stop stop;
		CHECK_EQ_INT(kl_stop_start(&stop, -1, 300), KL_OK);
		kl_stop_request(&stop);
		_Atomic uint64_t moved = 0;
		struct kl_http_req stall = {.method = "GET",
					    .url = surl,
					    .cancel = kl_stop_deadline(&stop),
					    .moved = &moved};
		kl_http_resp_init(&r, 1000);
		int64_t t0 = kl_mono_ms();
		CHECK_EQ_INT(kl_http_request(h, &stall, &r, &eb), KL_EIO);
		int64_t took = kl_mono_ms() - t0;
		CHECK(took >= 200 && took < 2500);
		/* libcurl counts bodies: a GET never answered moved nothing */
		CHECK(atomic_load(&moved) == 0);
		CHECK_EQ_INT(r.net, KL_NET_ABORTED);
		CHECK_EQ_INT(kl_retry_classify(r.net, r.status, NULL), KL_EINTR);
		t0 = kl_mono_ms();
		CHECK_EQ_INT(kl_http_request(h, &stall, &r, &eb), KL_EIO);
		CHECK(kl_mono_ms() - t0 < 100);
		CHECK_EQ_INT(r.net, KL_NET_ABORTED);
		/* a per-request timeout overrides the handle's */
		struct kl_http_req quick = {.method = "GET", .url = surl, .timeout_ms = 300};
		t0 = kl_mono_ms();
		CHECK_EQ_INT(kl_http_request(h, &quick, &r, &eb), KL_EIO);
		CHECK(kl_mono_ms() - t0 < 2500);
		CHECK_EQ_INT(r.net, KL_NET_TIMEOUT);
		kl_http_resp_cleanup(&r);
		kl_stop_cleanup(&stop);
		close(ls);
	}

	kl_http_resp_cleanup(&c.resp);
	kl_http_free(h);
	kl_http_free(NULL);


	/* A body announced at >= 2 MiB gets its block up front (the next power
	 * of two, 2 MiB-aligned: kl_buf_reserve_huge) and arrives intact; one
	 * announced over the body's cap still fails as too big */
	{
		size_t len = (5u << 20) + 12345;
		pid_t pid = -1;
		int lport = serve_large(len, 2, &pid);
		CHECK(lport > 0);
		char lurl[64];
		snprintf(lurl, sizeof lurl, "http://127.0.0.1:%d/big", lport);
		struct kl_http *hb = kl_http_new(NULL, &eb);
		struct kl_http_resp rb;
		kl_http_resp_init(&rb, 64u << 20);
		_Atomic uint64_t moved = 0;
		struct kl_http_req large = {.method = "GET", .url = lurl, .moved = &moved};
		CHECK_EQ_INT(kl_http_request(hb, &large, &rb, &eb), KL_OK);
		CHECK_EQ_INT(rb.status, 200);
		CHECK_EQ_INT(rb.body.len, len);
		/* the moved-bytes counter saw the body go by (GET /health's
		 * progress), and no byte twice */
		CHECK(atomic_load(&moved) == len);
		CHECK_EQ_INT(rb.body.cap, 8u << 20);
		CHECK(((uintptr_t)rb.body.data & ((2u << 20) - 1)) == 0);
		int same = rb.body.len == len;
		for (size_t i = 0; same && i < len; i++)
			same = rb.body.data[i] == (char)(i * 7 % 251);
		CHECK(same);
		kl_http_resp_cleanup(&rb);
		kl_http_resp_init(&rb, 3u << 20);
		CHECK_EQ_INT(kl_http_request(hb, &large, &rb, &eb), KL_EIO);
		CHECK_EQ_INT(rb.net, KL_NET_TOO_BIG);
		CHECK(rb.body.cap <= 3u << 20);
		kl_http_resp_cleanup(&rb);
		kl_http_free(hb);
		int st;
		if (pid > 0)
			waitpid(pid, &st, 0);
	}

	/* CA bundle: env wins; libcurl's own path when it exists; else the
	 * first readable distribution path (Amazon Linux's on a Debian build) */
	{
		const char *paths[] = {"/nonexistent/ca.crt", "/proc/self/status", "/etc/hostname"};
		CHECK_EQ_STR(kl_http_pick_ca("/my/ca.pem", "/proc/self/status", paths, 3),
			     "/my/ca.pem");
		CHECK(kl_http_pick_ca(NULL, "/proc/self/status", paths, 3) == NULL);
		CHECK_EQ_STR(kl_http_pick_ca("", "/nonexistent/curl-ca.crt", paths, 3),
			     "/proc/self/status");
		CHECK(kl_http_pick_ca(NULL, "/nonexistent/curl-ca.crt", paths, 1) == NULL);
	}

	/* ApproximateArrivalTimestamp -> ms: the fast path gives strtod's
	 * result on every shape (Clinger's exact cases), strtod the rest */
	{
		const char *v[] = {"1764547200",
				   "1764547200.123",
				   "1764547200.1234567",
				   "1.764547200123E9",
				   "1.7645472001235e9",
				   "1764547200.0005",
				   "1764547200.9995",
				   "0.001",
				   "0",
				   "-1.5",
				   "1e400",
				   "253402300800",
				   "253402300799.999",
				   "17645472001234567890123e-13"};
		for (size_t i = 0; i < sizeof v / sizeof *v; i++) {
			double sec = strtod(v[i], NULL);
			int64_t want =
			    sec > 0 && sec < 253402300800.0 ? (int64_t)(sec * 1000.0 + 0.5) : 0;
			CHECK_EQ_INT(kl_kinesis_arrival_ms(v[i], strlen(v[i])), want);
		}
		CHECK_EQ_INT(kl_kinesis_arrival_ms("1764547200.123", 10), 1764547200000);
		char longnum[80];
		memset(longnum, '0', sizeof longnum);
		memcpy(longnum, "1764547200.", 11); /* 64 bytes and more: not a date */
		CHECK_EQ_INT(kl_kinesis_arrival_ms(longnum, 64), 0);
		CHECK_EQ_INT(kl_kinesis_arrival_ms(longnum, 63), 1764547200000);
	}
	return check_report("test_http");
}
