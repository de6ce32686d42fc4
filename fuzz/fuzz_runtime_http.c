/*
 * fuzz_runtime_http.c — libFuzzer target for the Runtime API's HTTP/1.1
 * response reader (src/lambda/runtime.c: status line, headers, Content-Length,
 * chunked and read-to-close bodies, 1xx, keep-alive).
 *
 * The input is what the "server" sends: it is written into one end of a
 * socketpair, whose other end stands in for the connection, and requests are
 * made until one fails (several responses may sit back to back). Checks:
 * no crash or sanitizer report, a success has a 3-digit status of 200 or more and a
 * body no larger than the input.
 */
#include "aws/http.h"
#include "core/err.h"
#include "lambda/runtime.h"

#include <signal.h>
#include "fuzz_common.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 60000) /* stays within the socket buffer: no writer thread needed */
		return 0;
	signal(SIGPIPE, SIG_IGN);
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		return 0;
	struct kl_lambda_conn c;
	struct kl_errbuf eb;
	kl_errbuf_clear(&eb);
	/* port 1 on loopback: a reconnect attempt is refused at once */
	REQUIRE(kl_lambda_conn_init(&c, "127.0.0.1:1", &eb) == KL_OK);
	c.fd = sv[0];
	size_t off = 0;
	while (off < size) {
		ssize_t w = write(sv[1], data + off, size - off);
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	shutdown(sv[1], SHUT_WR);
	struct kl_http_transport t = kl_lambda_conn_transport(&c);
	struct kl_http_capture cap[1] = {{"Lambda-Runtime-Aws-Request-Id", ""}};
	struct kl_http_resp resp;
	kl_http_resp_init(&resp, 1 << 20);
	resp.capture = cap;
	resp.n_capture = 1;
	for (int i = 0; i < 8; i++) {
		struct kl_http_req req = {
		    .method = "GET",
		    .url = "http://127.0.0.1:1/2018-06-01/runtime/invocation/next",
		};
		kl_errbuf_clear(&eb);
		if (t.request(t.ctx, &req, &resp, &eb) != KL_OK)
			break;
		REQUIRE(resp.status >= 200 && resp.status <= 999); /* 3 digits, 1xx skipped */
		REQUIRE(resp.body.len <= size);
		if (c.fd < 0)
			break; /* the response closed the connection */
	}
	kl_http_resp_cleanup(&resp);
	kl_lambda_conn_cleanup(&c); /* closes sv[0] if still open */
	close(sv[1]);
	return 0;
}
