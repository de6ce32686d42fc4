/* test_lambda_conn.c — lambda/runtime's own HTTP/1.1 client for the Runtime
 * API (struct kl_lambda_conn) against a scripted server thread on 127.0.0.1:
 * chunked bodies with extensions and trailers, captured headers, 1xx
 * responses skipped, keep-alive reuse, a connection the server closed while
 * idle (sent again on a new one), HTTP/1.0 and read-to-close bodies,
 * Connection: close, bodies over the caller's limit, a server that closes
 * without answering, a refused connection, and AWS_LAMBDA_RUNTIME_API
 * parsing. The Runtime API conversation itself is covered end to end by
 * tests/e2e/lambda_runtime.sh. */
#include "check.h"
#include "lambda/runtime.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

/* one exchange: read a request, check it, send `reply` (split in two sends at
 * `split` if non-zero), then close the connection if `close_after` */
struct step {
	const char *want; /* the request must start with this */
	const char *want_body; /* and carry this body (NULL: none) */
	const char *reply;
	size_t reply_len; /* 0: strlen(reply) */
	size_t split;
	int close_after;
	int accept_new; /* expect a new connection first */
};

struct server {
	int ls, port;
	const struct step *steps;
	size_t n;
	int errors;
	char seen[8][512];
};

/* a whole request: head, then Content-Length bytes of body */
static int read_request(int fd, char *buf, size_t cap, size_t *body_off, size_t *body_len)
{
	size_t n = 0;
	for (;;) {
		ssize_t r = recv(fd, buf + n, cap - n - 1, 0);
		if (r <= 0)
			return -1;
		n += (size_t)r;
		buf[n] = '\0';
		char *e = strstr(buf, "\r\n\r\n");
		if (!e)
			continue;
		char *cl = strstr(buf, "Content-Length: ");
		size_t want = cl && cl < e ? strtoul(cl + 16, NULL, 10) : 0;
		*body_off = (size_t)(e - buf) + 4;
		*body_len = want;
		while (n < *body_off + want) {
			r = recv(fd, buf + n, cap - n - 1, 0);
			if (r <= 0)
				return -1;
			n += (size_t)r;
		}
		buf[n] = '\0';
		return 0;
	}
}

static void *serve(void *arg)
{
	struct server *s = arg;
	char *buf = malloc(1 << 20);
	int fd = -1;
	for (size_t i = 0; i < s->n; i++) {
		const struct step *st = &s->steps[i];
		if (fd < 0 || st->accept_new) {
			if (fd >= 0)
				close(fd);
			fd = accept(s->ls, NULL, NULL);
		}
		size_t off, blen;
		if (read_request(fd, buf, 1 << 20, &off, &blen)) {
			s->errors++;
			break;
		}
		snprintf(s->seen[i < 8 ? i : 7], sizeof s->seen[0], "%s", buf);
		if (strncmp(buf, st->want, strlen(st->want)))
			s->errors++;
		if (st->want_body &&
		    (blen != strlen(st->want_body) || memcmp(buf + off, st->want_body, blen)))
			s->errors++;
		size_t len = st->reply_len ? st->reply_len : strlen(st->reply);
		size_t first = st->split ? st->split : len;
		if (send(fd, st->reply, first, MSG_NOSIGNAL) < 0 ||
		    (first < len && (usleep(20000), send(fd, st->reply + first, len - first, MSG_NOSIGNAL) < 0)))
			s->errors++;
		if (st->close_after) {
			close(fd);
			fd = -1;
		}
	}
	if (fd >= 0)
		close(fd);
	free(buf);
	return NULL;
}

static int listen_local(int *port)
{
	int ls = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof a;
	if (ls < 0 || bind(ls, (struct sockaddr *)&a, sizeof a) || listen(ls, 4) ||
	    getsockname(ls, (struct sockaddr *)&a, &al))
		return -1;
	*port = ntohs(a.sin_port);
	return ls;
}

static const char CHUNKED[] = "HTTP/1.1 200 OK\r\n"
			      "content-type: application/json\r\n"
			      "lambda-runtime-aws-request-id:   req-1  \r\n"
			      "LAMBDA-RUNTIME-DEADLINE-MS: 1700000000000\r\n"
			      "Transfer-Encoding: chunked\r\n"
			      "\r\n"
			      "5\r\nhello\r\n"
			      "1;ext=1\r\n \r\n"
			      "A\r\n0123456789\r\n"
			      "0\r\n"
			      "X-Trailer: t\r\n"
			      "\r\n";

int main(void)
{
	struct kl_errbuf eb;
	struct kl_lambda_conn c;

	/* AWS_LAMBDA_RUNTIME_API parsing */
	kl_errbuf_clear(&eb);
	CHECK_EQ_INT(kl_lambda_conn_init(&c, "[::1]:9001", &eb), KL_OK);
	CHECK_EQ_STR(c.host, "::1");
	CHECK_EQ_STR(c.port, "9001");
	CHECK_EQ_STR(c.hostport, "[::1]:9001");
	kl_lambda_conn_cleanup(&c);
	const char *bad[] = {"", "localhost", "host:", ":9001", "host:90x1", "host:1234567890"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		kl_errbuf_clear(&eb);
		CHECK_EQ_INT(kl_lambda_conn_init(&c, bad[i], &eb), KL_EINVAL);
		kl_lambda_conn_cleanup(&c);
	}

	int port = 0;
	int ls = listen_local(&port);
	CHECK(ls >= 0);
	char api[32];
	snprintf(api, sizeof api, "127.0.0.1:%d", port);
	static char big[(1 << 20) + 256];
	int bh = snprintf(big, sizeof big, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n", 1 << 20);
	memset(big + bh, 'x', 1 << 20);
	const struct step steps[] = {
		/* 0: chunked body, captures */
		{"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: ", NULL, CHUNKED, 0, 40, 0, 0},
		/* 1: a post: 100 Continue skipped; then the server closes the idle connection */
		{"POST /2018-06-01/runtime/invocation/req-1/response HTTP/1.1\r\n", "{\"a\":1}",
		 "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 202 Accepted\r\nContent-Length: 2\r\n\r\n{}", 0, 0, 1,
		 0},
		/* 2: sent again on a new connection; HTTP/1.0, body to the end of the connection */
		{"GET /2018-06-01/runtime/invocation/next ", NULL, "HTTP/1.0 200 OK\r\n\r\nuntil close", 0, 0, 1,
		 1},
		/* 3: 1 MiB body in two sends, kept alive */
		{"GET /x ", NULL, big, (size_t)bh + (1 << 20), 1000, 0, 1},
		/* 4: Connection: close with a length */
		{"GET /y ", NULL, "HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 3\r\n\r\nnop", 0,
		 0, 1, 0},
		/* 5: a body over the caller's limit */
		{"GET /z ", NULL, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n", 0, 0, 1, 1},
		/* 6: closed without an answer on a fresh connection */
		{"GET /w ", NULL, "", 0, 0, 1, 1},
	};
	struct server s = {.ls = ls, .port = port, .steps = steps, .n = sizeof steps / sizeof steps[0]};
	pthread_t th;
	pthread_create(&th, NULL, serve, &s);

	kl_errbuf_clear(&eb);
	CHECK_EQ_INT(kl_lambda_conn_init(&c, api, &eb), KL_OK);
	struct kl_http_transport t = kl_lambda_conn_transport(&c);
	struct kl_http_capture cap[2] = {{.name = "Lambda-Runtime-Aws-Request-Id"},
					 {.name = "Lambda-Runtime-Deadline-Ms"}};
	struct kl_http_resp resp;
	kl_http_resp_init(&resp, 2 << 20);
	resp.capture = cap;
	resp.n_capture = 2;
	char url[128];

	snprintf(url, sizeof url, "http://%s/2018-06-01/runtime/invocation/next", api);
	struct kl_http_req get = {.method = "GET", .url = url};
	CHECK_EQ_INT(t.request(t.ctx, &get, &resp, &eb), KL_OK);
	CHECK_EQ_INT(resp.status, 200);
	CHECK_EQ_MEM(resp.body.data, resp.body.len, "hello 0123456789");
	CHECK_EQ_STR(cap[0].value, "req-1");
	CHECK_EQ_STR(cap[1].value, "1700000000000");
	CHECK_EQ_STR(resp.content_type, "application/json");
	int fd = c.fd;
	CHECK(fd >= 0);

	snprintf(url, sizeof url, "http://%s/2018-06-01/runtime/invocation/req-1/response", api);
	const struct kl_http_header h[] = {{"Content-Type", "application/json"}};
	struct kl_http_req post = {.method = "POST", .url = url, .headers = h, .n_headers = 1,
				   .body = "{\"a\":1}", .body_len = 7};
	CHECK_EQ_INT(t.request(t.ctx, &post, &resp, &eb), KL_OK);
	CHECK_EQ_INT(resp.status, 202);
	CHECK_EQ_MEM(resp.body.data, resp.body.len, "{}");
	CHECK_EQ_STR(cap[0].value, ""); /* captures are per response */
	CHECK_EQ_INT(c.fd, fd);         /* kept alive */

	usleep(50000); /* let the server's close arrive */
	snprintf(url, sizeof url, "http://%s/2018-06-01/runtime/invocation/next", api);
	CHECK_EQ_INT(t.request(t.ctx, &get, &resp, &eb), KL_OK);
	CHECK_EQ_INT(resp.status, 200);
	CHECK_EQ_MEM(resp.body.data, resp.body.len, "until close");
	CHECK_EQ_STR(resp.http_version, "1.0");
	CHECK_EQ_INT(c.fd, -1); /* read to the end: closed */

	snprintf(url, sizeof url, "http://%s/x", api);
	CHECK_EQ_INT(t.request(t.ctx, &get, &resp, &eb), KL_OK);
	CHECK_EQ_INT(resp.status, 200);
	CHECK_EQ_INT(resp.body.len, 1 << 20);
	CHECK(resp.body.len == 1 << 20 && resp.body.data[0] == 'x' && resp.body.data[(1 << 20) - 1] == 'x');
	CHECK(c.fd >= 0);

	snprintf(url, sizeof url, "http://%s/y", api);
	CHECK_EQ_INT(t.request(t.ctx, &get, &resp, &eb), KL_OK);
	CHECK_EQ_INT(resp.status, 404);
	CHECK_EQ_MEM(resp.body.data, resp.body.len, "nop");
	CHECK_EQ_INT(c.fd, -1);

	snprintf(url, sizeof url, "http://%s/z", api);
	resp.body.max = 50;
	CHECK_EQ_INT(t.request(t.ctx, &get, &resp, &eb), KL_EIO);
	CHECK_EQ_INT(resp.net, KL_NET_TOO_BIG);
	CHECK(strstr(eb.msg, "over 50 bytes") != NULL);
	resp.body.max = 2 << 20;

	kl_errbuf_clear(&eb);
	snprintf(url, sizeof url, "http://%s/w", api);
	CHECK_EQ_INT(t.request(t.ctx, &get, &resp, &eb), KL_EIO);
	CHECK_EQ_INT(resp.net, KL_NET_RESET);
	CHECK_EQ_INT(resp.status, 0);
	CHECK(strstr(eb.msg, "without a response") != NULL);

	pthread_join(th, NULL);
	CHECK_EQ_INT(s.errors, 0);
	if (s.errors)
		for (size_t i = 0; i < 7; i++)
			fprintf(stderr, "request %zu: %.200s\n", i, s.seen[i]);
	kl_lambda_conn_cleanup(&c);

	/* nobody listening */
	close(ls);
	kl_errbuf_clear(&eb);
	CHECK_EQ_INT(kl_lambda_conn_init(&c, api, &eb), KL_OK);
	t = kl_lambda_conn_transport(&c);
	CHECK_EQ_INT(t.request(t.ctx, &get, &resp, &eb), KL_EIO);
	CHECK_EQ_INT(resp.net, KL_NET_CONNECT);
	CHECK(strstr(eb.msg, "connect to 127.0.0.1:") != NULL);
	kl_lambda_conn_cleanup(&c);
	kl_http_resp_cleanup(&resp);
	return check_report("test_lambda_conn");
}
