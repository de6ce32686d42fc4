/*
 * fuzz_metrics_http.c — libFuzzer target for the --metrics-listen server's
 * reading of a request (src/metrics/serve.c: the request line's method and
 * target, /metrics and /health with or without a query) and the answer it
 * builds, through kl_metrics_server_answer() as every connection does.
 *
 * The input is a request head as a connection would have read it (at most
 * 2 KiB, NUL-terminated; a NUL inside ends it, as there). The counters are
 * a live kl_metrics with two shards; the first input byte also moves them,
 * so /health answers ok, stalled and stopping in turn.
 *
 * Checks: no crash or sanitizer report; every answer is "HTTP/1.1 " and a
 * status of 200, 404, 405 or 503, its headers end with an empty line and
 * its Content-Length is the body's length; GET /metrics is 200 with the
 * exposition, GET /health a JSON object (kl_json_parse accepts it).
 */
#include "core/buf.h"
#include "metrics/metrics.h"
#include "metrics/serve.h"
#include "parse/json.h"

#include "fuzz_common.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct world {
	struct kl_metrics m;
	struct kl_metrics_health h;
	atomic_int stop;
	struct kl_cancel token;
	int64_t now_ms;
};

static int render(void *ctx, struct kl_buf *out)
{
	struct world *w = ctx;
	return kl_metrics_render(&w->m, out);
}

static int health(void *ctx, struct kl_buf *out)
{
	struct world *w = ctx;
	return kl_metrics_health(&w->m, &w->h, w->now_ms, out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct world *w; /* one process-wide world, as one run has */
	if (!w) {
		REQUIRE((w = calloc(1, sizeof *w)) != NULL);
		REQUIRE(kl_metrics_init(&w->m) == 0);
		REQUIRE(kl_metrics_shard(&w->m, "shardId-000000000000") != NULL);
		REQUIRE(kl_metrics_shard(&w->m, "shardId-000000000001") != NULL);
		w->token = (struct kl_cancel){&w->stop, -1};
		w->h = (struct kl_metrics_health){.stopping = &w->token, .stall_ms = 10000};
		w->now_ms = 1000000;
	}
	/* the first byte moves the world: time, progress, shards, the signal */
	unsigned k = size ? data[0] : 0;
	w->now_ms += (k & 3) * 6000;
	if (k & 4)
		atomic_fetch_add(&w->m.shards[0].get_records, 1);
	atomic_store(&w->m.shards_running, (k >> 3) & 3);
	atomic_store(&w->stop, (k & 0xe0) == 0xe0);

	char req[2048];
	size_t n = size < sizeof req - 1 ? size : sizeof req - 1;
	memcpy(req, data, n);
	req[n] = '\0';
	struct kl_metrics_server s;
	kl_metrics_server_init(&s, -1, render, health, w);
	struct kl_buf out;
	kl_buf_init(&out, 0);
	kl_metrics_server_answer(&s, req, &out);
	REQUIRE(out.len > 13 && !memcmp(out.data, "HTTP/1.1 ", 9));
	int code = atoi(out.data + 9);
	REQUIRE(code == 200 || code == 404 || code == 405 || code == 503);
	REQUIRE(kl_buf_putc(&out, '\0') == 0);
	out.len--;
	const char *end = strstr(out.data, "\r\n\r\n");
	REQUIRE(end != NULL);
	const char *body = end + 4;
	size_t blen = out.len - (size_t)(body - out.data);
	const char *cl = strstr(out.data, "\r\nContent-Length: ");
	REQUIRE(cl && cl < end && strtoull(cl + 18, NULL, 10) == blen);
	int get = !strncmp(req, "GET ", 4);
	if (get && (!strncmp(req + 4, "/metrics ", 9) || !strncmp(req + 4, "/metrics?", 9)))
		REQUIRE(code == 200 && strstr(body, "kinlake_records_read_total") != NULL);
	else if (get && (!strncmp(req + 4, "/health ", 8) || !strncmp(req + 4, "/health?", 8)))
		REQUIRE((code == 200 || code == 503) && kl_json_parse(body, blen, 4, NULL, NULL) == 0);
	else
		REQUIRE(code == (get ? 404 : 405));
	kl_metrics_server_cleanup(&s);
	kl_buf_cleanup(&out);
	return 0;
}
