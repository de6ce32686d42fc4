/* serve.c — see serve.h. */
#include "metrics/serve.h"
#include "core/err.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

void kl_metrics_server_init(struct kl_metrics_server *s, int listen_fd,
			    kl_metrics_render_fn render, kl_metrics_health_fn health, void *ctx)
{
	memset(s, 0, sizeof *s);
	s->listen_fd = listen_fd;
	s->render = render;
	s->health = health;
	s->render_ctx = ctx;
	for (size_t i = 0; i < KL_METRICS_MAX_CONNS; i++)
		s->c[i].fd = -1;
	int fl = fcntl(listen_fd, F_GETFL);
	if (fl >= 0)
		fcntl(listen_fd, F_SETFL, fl | O_NONBLOCK);
}

static void conn_close(struct kl_metrics_conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	kl_buf_cleanup(&c->out);
}

void kl_metrics_server_cleanup(struct kl_metrics_server *s)
{
	for (size_t i = 0; i < s->n; i++)
		conn_close(&s->c[i]);
	s->n = 0;
}

size_t kl_metrics_server_pollfds(const struct kl_metrics_server *s, struct pollfd *p)
{
	size_t k = 0;
	p[k++] = (struct pollfd){.fd = s->listen_fd, .events = POLLIN};
	for (size_t i = 0; i < s->n; i++)
		p[k++] = (struct pollfd){.fd = s->c[i].fd,
					 .events = s->c[i].answering ? POLLOUT : POLLIN};
	return k;
}

int kl_metrics_server_wait_ms(const struct kl_metrics_server *s, int64_t now_ms)
{
	int64_t w = -1;
	for (size_t i = 0; i < s->n; i++) {
		int64_t left = s->c[i].accepted_ms + KL_METRICS_CONN_MS - now_ms;
		if (left < 0)
			left = 0;
		if (w < 0 || left < w)
			w = left;
	}
	return (int)w;
}

/* Is the request line's target `path`, alone or with a query? */
static int target_is(const char *target, const char *path)
{
	size_t n = strlen(path);
	return !strncmp(target, path, n) && (target[n] == ' ' || target[n] == '?');
}

void kl_metrics_server_answer(struct kl_metrics_server *s, const char *req, struct kl_buf *out)
{
	const char *status = "200 OK";
	const char *type = "text/plain; version=0.0.4; charset=utf-8";
	int get = !strncmp(req, "GET ", 4);
	struct kl_buf body;
	kl_buf_init(&body, KL_METRICS_BODY_MAX);
	if (!get) {
		status = "405 Method Not Allowed";
	} else if (target_is(req + 4, "/metrics")) {
		if (s->render(s->render_ctx, &body)) {
			status = "500 Internal Server Error";
			kl_buf_reset(&body);
		}
	} else if (s->health && target_is(req + 4, "/health")) {
		/* a 503's body says why: it is an answer, not an error */
		int code = s->health(s->render_ctx, &body);
		status = code == 200   ? "200 OK"
			 : code == 503 ? "503 Service Unavailable"
				       : "500 Internal Server Error";
		if (code == 200 || code == 503)
			type = "application/json";
		else
			kl_buf_reset(&body);
	} else {
		status = "404 Not Found";
	}
	if (!body.len && strcmp(status, "200 OK"))
		kl_buf_printf(&body, "%s; try GET /metrics or GET /health\n", status);
	kl_buf_cleanup(out);
	kl_buf_init(out, KL_METRICS_BODY_MAX + 256);
	if (kl_buf_printf(out,
			  "HTTP/1.1 %s\r\nContent-Type: %s\r\n"
			  "Content-Length: %zu\r\nConnection: close\r\n\r\n",
			  status, type, body.len) ||
	    kl_buf_append(out, body.data ? body.data : "", body.len))
		out->len = 0; /* out of memory: just close */
	kl_buf_cleanup(&body);
}

/* The answer to the request in c->req, into c->out. */
static void answer(struct kl_metrics_server *s, struct kl_metrics_conn *c)
{
	kl_metrics_server_answer(s, c->req, &c->out);
	c->answering = 1;
	c->sent = 0;
}

/* Send what the socket takes; 1 when the connection is finished. */
static int send_some(struct kl_metrics_conn *c)
{
	while (c->sent < c->out.len) {
		ssize_t w = send(c->fd, c->out.data + c->sent, c->out.len - c->sent,
				 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (w <= 0)
			return 1;
		c->sent += (size_t)w;
	}
	return 1;
}

/* Read what arrived; 1 when the connection is finished. */
static int read_some(struct kl_metrics_server *s, struct kl_metrics_conn *c)
{
	for (;;) {
		ssize_t n = recv(c->fd, c->req + c->got, sizeof c->req - 1 - c->got, MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (n <= 0)
			return 1; /* closed before a whole request: nothing to answer */
		c->got += (size_t)n;
		c->req[c->got] = '\0';
		if (strstr(c->req, "\r\n\r\n") || c->got == sizeof c->req - 1) {
			answer(s, c);
			s->served++;
			return send_some(c);
		}
	}
}

/* Room for one more connection: evict the oldest one still reading. */
static struct kl_metrics_conn *slot(struct kl_metrics_server *s)
{
	if (s->n < KL_METRICS_MAX_CONNS)
		return &s->c[s->n++];
	struct kl_metrics_conn *old = NULL;
	for (size_t i = 0; i < s->n; i++)
		if (!s->c[i].answering && (!old || s->c[i].accepted_ms < old->accepted_ms))
			old = &s->c[i];
	if (!old)
		return NULL; /* every one is being answered: wait for them */
	conn_close(old);
	s->evicted++;
	return old;
}

static void accept_all(struct kl_metrics_server *s, int64_t now_ms)
{
	for (int k = 0; k < 4 * KL_METRICS_MAX_CONNS; k++) {
		int fd = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd < 0)
			return;
		struct kl_metrics_conn *c = slot(s);
		if (!c) {
			close(fd);
			return;
		}
		memset(c, 0, sizeof *c);
		c->fd = fd;
		c->accepted_ms = now_ms;
		kl_buf_init(&c->out, 0);
	}
}

void kl_metrics_server_step(struct kl_metrics_server *s, const struct pollfd *p, size_t np,
			    int64_t now_ms)
{
	/* p[1 + i] is c[i] as it was when the fds were listed */
	for (size_t i = 0; i + 1 < np && i < s->n; i++) {
		struct kl_metrics_conn *c = &s->c[i];
		short re = p[1 + i].revents;
		if (c->fd < 0 || c->fd != p[1 + i].fd || !re)
			continue;
		int done = c->answering ? send_some(c) : read_some(s, c);
		if (done || (re & (POLLERR | POLLNVAL)))
			conn_close(c);
	}
	for (size_t i = 0; i < s->n; i++)
		if (s->c[i].fd >= 0 && now_ms - s->c[i].accepted_ms >= KL_METRICS_CONN_MS) {
			conn_close(&s->c[i]);
			s->timed_out++;
		}
	size_t k = 0; /* compact: live connections first, in order */
	for (size_t i = 0; i < s->n; i++)
		if (s->c[i].fd >= 0)
			s->c[k++] = s->c[i];
	for (size_t i = k; i < s->n; i++)
		s->c[i].fd = -1;
	s->n = k;
	if (np && (p[0].revents & POLLIN))
		accept_all(s, now_ms);
}
