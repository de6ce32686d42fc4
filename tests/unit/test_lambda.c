/* test_lambda.c — lambda/runtime (Runtime API client) over a fake transport
 * and a fake clock, and lambda/handler's dispatch: request id and deadline
 * headers, response/error posts and their URLs, the error document, the
 * deadline checks, 413 -> Function.ResponseSizeTooLarge, fatal statuses,
 * Kinesis ESM without a lake -> Kinlake.NotConfigured, unsupported events,
 * and the dedup window forgotten after a failed invocation. The real HTTP
 * path is covered end to end by tests/e2e/lambda_runtime.sh. */
#include "check.h"
#include "core/base64.h"
#include "lambda/handler.h"
#include "lambda/runtime.h"

#include <stdlib.h>

struct fake {
	const char *next_body, *request_id, *deadline;
	int next_status, post_status;
	char last_url[512], last_body[4096], last_error_type[128];
	int posts;
	int64_t now;
};

static int fake_request(void *ctx, const struct kl_http_req *req, struct kl_http_resp *resp,
			struct kl_errbuf *eb)
{
	struct fake *f = ctx;
	(void)eb;
	snprintf(f->last_url, sizeof f->last_url, "%s", req->url);
	kl_buf_reset(&resp->body);
	for (size_t i = 0; i < resp->n_capture; i++)
		resp->capture[i].value[0] = '\0';
	if (!strcmp(req->method, "GET")) {
		resp->status = f->next_status;
		for (size_t i = 0; i < resp->n_capture; i++) {
			const char *v = !strcmp(resp->capture[i].name, "Lambda-Runtime-Aws-Request-Id") ? f->request_id
				      : !strcmp(resp->capture[i].name, "Lambda-Runtime-Deadline-Ms")  ? f->deadline
														: NULL;
			if (v)
				snprintf(resp->capture[i].value, sizeof resp->capture[i].value, "%s", v);
		}
		return kl_buf_puts(&resp->body, f->next_body);
	}
	f->posts++;
	snprintf(f->last_body, sizeof f->last_body, "%.*s", (int)req->body_len, (const char *)req->body);
	f->last_error_type[0] = '\0';
	for (size_t i = 0; i < req->n_headers; i++)
		if (!strcmp(req->headers[i].name, "Lambda-Runtime-Function-Error-Type"))
			snprintf(f->last_error_type, sizeof f->last_error_type, "%s", req->headers[i].value);
	resp->status = f->post_status;
	return KL_OK;
}

static int64_t fake_now(void *ctx) { return ((struct fake *)ctx)->now; }

struct app_ctx {
	struct kl_lambda_app app;
	struct kl_lambda_stats st;
	int calls;
	const char *last_type;
};

static int invoke(void *ctx, const struct kl_lambda_invocation *inv, struct kl_buf *out,
		  const char **type, struct kl_errbuf *eb)
{
	struct app_ctx *a = ctx;
	a->calls++;
	return kl_lambda_app_handle(&a->app, inv, out, &a->st, type, eb);
}

static void done(void *ctx, const struct kl_lambda_invocation *inv, const struct kl_lambda_report *rep)
{
	struct app_ctx *a = ctx;
	(void)inv;
	a->last_type = rep->error_type;
	if (rep->error_type || rep->post_rc)
		kl_lambda_app_forget(&a->app);
}

static int serve_one(struct kl_lambda_runtime *rt, const struct kl_lambda_handler *h)
{
	struct kl_lambda_invocation inv;
	struct kl_errbuf eb;
	kl_errbuf_clear(&eb);
	int rc = kl_lambda_next(rt, &inv, &eb);
	return rc ? rc : kl_lambda_serve(rt, &inv, h, &eb);
}

static char *firehose_event(const char *const *events, size_t n)
{
	struct kl_buf b;
	kl_buf_init(&b, 0);
	kl_buf_puts(&b, "{\"invocationId\":\"i\",\"region\":\"us-east-1\",\"records\":[");
	for (size_t i = 0; i < n; i++) {
		kl_buf_printf(&b, "%s{\"recordId\":\"r%zu\",\"approximateArrivalTimestamp\":1,\"data\":\"",
			      i ? "," : "", i);
		kl_base64_encode(&b, events[i], strlen(events[i]));
		kl_buf_puts(&b, "\"}");
	}
	kl_buf_puts(&b, "]}");
	kl_buf_putc(&b, '\0');
	return b.data;
}

int main(void)
{
	struct fake f = {.request_id = "8476a536-e9f4-11e8-9739-2dfe598c3fcd", .deadline = "1000000",
			 .next_status = 200, .post_status = 202, .now = 900000};
	struct kl_lambda_runtime rt;
	struct kl_errbuf eb;
	kl_errbuf_clear(&eb);
	CHECK_EQ_INT(kl_lambda_runtime_init(&rt, "127.0.0.1:9001",
					    (struct kl_http_transport){fake_request, &f}, &eb), KL_OK);
	rt.clock = (struct kl_lambda_clock){fake_now, &f};
	struct app_ctx a = {0};
	CHECK_EQ_INT(kl_lambda_app_init(&a.app, 1000), KL_OK);
	struct kl_lambda_handler h = {invoke, done, &a};

	/* a Firehose event: response posted to .../{id}/response */
	const char *evs[] = {"{\"event_uuid\":\"u1\",\"event_name\":\"a:b\",\"created_at\":1764547200}",
			     "not json"};
	char *fh = firehose_event(evs, 2);
	f.next_body = fh;
	CHECK_EQ_INT(serve_one(&rt, &h), KL_OK);
	CHECK_EQ_STR(f.last_url, "http://127.0.0.1:9001/2018-06-01/runtime/invocation/"
				 "8476a536-e9f4-11e8-9739-2dfe598c3fcd/response");
	CHECK(strstr(f.last_body, "\"recordId\":\"r0\",\"result\":\"Ok\"") != NULL);
	CHECK(strstr(f.last_body, "\"recordId\":\"r1\",\"result\":\"ProcessingFailed\"") != NULL);
	CHECK(strstr(f.last_body, "\"partitionKeys\":{\"event_type\":\"a\",\"event_subtype\":\"b\","
				  "\"dt\":\"2025-12-01\",\"hr\":\"00\"}") != NULL);
	CHECK(a.last_type == NULL);
	CHECK_EQ_INT(a.st.rec.ok, 1);

	/* the same event again: Dropped (warm-instance dedup) */
	CHECK_EQ_INT(serve_one(&rt, &h), KL_OK);
	CHECK(strstr(f.last_body, "\"recordId\":\"r0\",\"result\":\"Dropped\"") != NULL);

	/* deadline too close: error posted, handler not called */
	int calls = a.calls;
	f.now = 1000000 - 49;
	CHECK_EQ_INT(serve_one(&rt, &h), KL_OK);
	CHECK_EQ_INT(a.calls, calls);
	CHECK(strstr(f.last_url, "/error") != NULL);
	CHECK_EQ_STR(f.last_error_type, KL_LAMBDA_ERR_DEADLINE_CLOSE);
	CHECK(strstr(f.last_body, "{\"errorMessage\":\"the invocation arrived 49 ms") == f.last_body);
	CHECK(strstr(f.last_body, "\"errorType\":\"Kinlake.DeadlineTooClose\"}") != NULL);
	/* ... and the window was forgotten: the event is Ok again (a retry is not dropped) */
	f.now = 900000;
	CHECK_EQ_INT(serve_one(&rt, &h), KL_OK);
	CHECK(strstr(f.last_body, "\"recordId\":\"r0\",\"result\":\"Ok\"") != NULL);

	/* mid-batch deadline: 600 records, the first check (record 256) stops */
	{
		const char *many[600];
		char (*txt)[96] = malloc(600 * sizeof *txt);
		for (int i = 0; i < 600; i++) {
			snprintf(txt[i], sizeof txt[i],
				 "{\"event_uuid\":\"m%d\",\"event_name\":\"x\",\"created_at\":%d}", i, i);
			many[i] = txt[i];
		}
		char *big = firehose_event(many, 600);
		f.next_body = big;
		a.app.margin_ms = 200000; /* 100000 ms left < margin */
		CHECK_EQ_INT(serve_one(&rt, &h), KL_OK);
		CHECK_EQ_STR(f.last_error_type, KL_LAMBDA_ERR_DEADLINE);
		a.app.margin_ms = 25;
		CHECK_EQ_INT(serve_one(&rt, &h), KL_OK);
		CHECK(strstr(f.last_url, "/response") != NULL);
		CHECK_EQ_INT(a.st.rec.ok, 600);
		/* the response is over the limit: Kinlake.ResponseTooLarge */
		a.app.fh.max_response = 1000;
		CHECK_EQ_INT(serve_one(&rt, &h), KL_OK);
		CHECK_EQ_STR(f.last_error_type, KL_LAMBDA_ERR_TOO_LARGE);
		a.app.fh.max_response = KL_LAMBDA_MAX_RESPONSE;
		free(big);
		free(txt);
	}

	/* Kinesis ESM without a lake (KINLAKE_LAKE unset): an invocation error, so
	 * that Lambda retries the batch whatever the mapping's settings (the lake
	 * path itself: test_esm.c) */
	f.next_body = "{\"Records\":[{\"kinesis\":{\"sequenceNumber\":\"111\",\"data\":\"e30=\"}},"
		      "{\"kinesis\":{\"sequenceNumber\":\"222\",\"data\":\"e30=\"}}]}";
	CHECK_EQ_INT(serve_one(&rt, &h), KL_OK);
	CHECK(strstr(f.last_url, "/error") != NULL);
	CHECK_EQ_STR(f.last_error_type, KL_LAMBDA_ERR_NOT_CONFIGURED);
	CHECK(strstr(f.last_body, "KINLAKE_LAKE") != NULL);
	CHECK_EQ_INT(a.st.kind, KL_LAMBDA_KINESIS);

	/* anything else */
	f.next_body = "{\"hello\":\"world\"}";
	CHECK_EQ_INT(serve_one(&rt, &h), KL_OK);
	CHECK_EQ_STR(f.last_error_type, KL_LAMBDA_ERR_UNSUPPORTED);
	f.next_body = "[1,";
	CHECK_EQ_INT(serve_one(&rt, &h), KL_OK);
	CHECK_EQ_STR(f.last_error_type, KL_LAMBDA_ERR_INVALID);

	/* 413 on the response: reported as Function.ResponseSizeTooLarge */
	f.next_body = "{\"records\":[],\"invocationId\":\"x\"}";
	f.post_status = 413;
	CHECK_EQ_INT(serve_one(&rt, &h), KL_OK);
	CHECK_EQ_STR(f.last_error_type, KL_LAMBDA_ERR_RESPONSE_SIZE);
	/* 500 from the Runtime API: the runtime must exit */
	f.post_status = 500;
	CHECK_EQ_INT(serve_one(&rt, &h), KL_EREMOTE);
	f.post_status = 202;

	/* /next failures */
	f.next_status = 500;
	CHECK_EQ_INT(serve_one(&rt, &h), KL_EREMOTE);
	f.next_status = 200;
	f.request_id = "";
	CHECK_EQ_INT(serve_one(&rt, &h), KL_EREMOTE);
	/* an odd request id cannot reshape the URL */
	f.request_id = "a/../b?c";
	CHECK_EQ_INT(serve_one(&rt, &h), KL_OK);
	CHECK_EQ_STR(f.last_url, "http://127.0.0.1:9001/2018-06-01/runtime/invocation/a%2F..%2Fb%3Fc/response");

	/* init error and the error document's escaping */
	CHECK_EQ_INT(kl_lambda_init_error(&rt, "Runtime.InitError", "bad \"x\"\n", &eb), KL_OK);
	CHECK_EQ_STR(f.last_url, "http://127.0.0.1:9001/2018-06-01/runtime/init/error");
	CHECK_EQ_STR(f.last_body, "{\"errorMessage\":\"bad \\\"x\\\"\\u000a\",\"errorType\":\"Runtime.InitError\"}");

	struct kl_lambda_runtime bad;
	CHECK_EQ_INT(kl_lambda_runtime_init(&bad, NULL, (struct kl_http_transport){fake_request, &f}, &eb),
		     KL_EINVAL);
	kl_lambda_runtime_cleanup(&bad);
	CHECK_EQ_INT(kl_lambda_runtime_init(&bad, "host/path", (struct kl_http_transport){fake_request, &f}, NULL),
		     KL_EINVAL);
	kl_lambda_runtime_cleanup(&bad);

	free(fh);
	kl_lambda_app_cleanup(&a.app);
	kl_lambda_runtime_cleanup(&rt);
	return check_report("test_lambda");
}
