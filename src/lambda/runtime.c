/* runtime.c — see runtime.h; protocol: AWS Lambda developer guide, "Using the
 * Lambda runtime API for custom runtimes" and "Building a custom runtime". */
#include "lambda/runtime.h"
#include "event/event.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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
