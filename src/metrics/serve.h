/*
 * serve.h — the HTTP side of --metrics-listen: many scrapers at once, none
 * able to hold the endpoint for the others.
 *
 * A small state machine driven by the reporter thread's poll(2) loop
 * (metrics.c): the listening socket and up to KL_METRICS_MAX_CONNS
 * connections, all non-blocking. A connection reads one request (at most
 * 2 KiB of head), answers it (GET /metrics: the exposition; GET /health:
 * the run's health as JSON, 200 or 503; anything else 404/405) and is
 * closed. Nothing can starve a scrape:
 *   - every connection has a total deadline (KL_METRICS_CONN_MS from
 *     accept to the last byte of the answer), so a client trickling a byte
 *     a second is cut off, not served for half an hour;
 *   - when the table is full, a new connection evicts the oldest one still
 *     sending its request, so idle connections cannot lock a scraper out;
 *   - the listen backlog is large (KL_METRICS_BACKLOG), and every ready
 *     connection is accepted on each wake-up.
 *
 * What it serves comes from two callbacks (metrics.c passes
 * kl_metrics_render and kl_metrics_health), so this file knows HTTP and
 * sockets, not metrics.
 * A body is capped at KL_METRICS_BODY_MAX (a render that would pass it
 * answers 500).
 *
 * Ownership: the server borrows the listening socket (metrics.c closes it)
 * and the render context; it owns its connections. One thread uses it.
 */
#ifndef KL_METRICS_SERVE_H
#define KL_METRICS_SERVE_H

#include "core/buf.h"

#include <poll.h>
#include <stddef.h>
#include <stdint.h>

#define KL_METRICS_MAX_CONNS 64
#define KL_METRICS_CONN_MS 2000
#define KL_METRICS_BACKLOG 512
#define KL_METRICS_BODY_MAX (64u << 20)

/* Appends the exposition to `out`; KL_OK or an error code (the scrape then
 * gets a 500). */
typedef int (*kl_metrics_render_fn)(void *ctx, struct kl_buf *out);
/* Appends GET /health's JSON body to `out`; returns its HTTP status (200,
 * 503), or < 0 for an error (the probe then gets a 500). */
typedef int (*kl_metrics_health_fn)(void *ctx, struct kl_buf *out);

struct kl_metrics_conn {
	int fd; /* -1: free slot */
	int64_t accepted_ms;
	size_t got;
	char req[2048];
	int answering;	 /* the request is complete; `out` is being sent */
	struct kl_buf out; /* the whole answer */
	size_t sent;
};

struct kl_metrics_server {
	int listen_fd;
	kl_metrics_render_fn render;
	kl_metrics_health_fn health;
	void *render_ctx; /* both callbacks' */
	struct kl_metrics_conn c[KL_METRICS_MAX_CONNS];
	size_t n; /* live connections, c[0..n) */
	uint64_t served, timed_out, evicted;
};

/* listen_fd is made non-blocking; GET /metrics answers render(ctx, ...),
 * GET /health health(ctx, ...) (NULL: 404). */
void kl_metrics_server_init(struct kl_metrics_server *s, int listen_fd,
			    kl_metrics_render_fn render, kl_metrics_health_fn health, void *ctx);
/* Close every connection (not the listening socket). */
void kl_metrics_server_cleanup(struct kl_metrics_server *s);

/* Fill p[0..) with the listening socket and each connection; returns how
 * many (at most 1 + KL_METRICS_MAX_CONNS). */
size_t kl_metrics_server_pollfds(const struct kl_metrics_server *s, struct pollfd *p);
/* Milliseconds until the nearest connection deadline, -1 if none. */
int kl_metrics_server_wait_ms(const struct kl_metrics_server *s, int64_t now_ms);
/* The whole answer to one request head `req` (NUL-terminated, at most what
 * a connection reads: 2 KiB) into `out` (its old contents freed): status
 * line, headers (Content-Length the body's), body; empty when out of
 * memory (the connection is then just closed). What every connection
 * sends; fuzz/fuzz_metrics_http.c calls it directly. */
void kl_metrics_server_answer(struct kl_metrics_server *s, const char *req, struct kl_buf *out);
/* Act on what poll() returned for the fds of the last pollfds() call, then
 * drop connections past their deadline. */
void kl_metrics_server_step(struct kl_metrics_server *s, const struct pollfd *p, size_t np,
			    int64_t now_ms);

#endif
