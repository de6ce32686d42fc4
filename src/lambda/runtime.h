/*
 * runtime.h — the AWS Lambda Runtime API client for a custom runtime
 * (provided.al2023), and the invocation loop around a handler.
 *
 * Protocol (Runtime API 2018-06-01, at http://$AWS_LAMBDA_RUNTIME_API):
 *   GET  /2018-06-01/runtime/invocation/next        blocks until an invocation
 *        arrives (a long poll: no timeout); headers Lambda-Runtime-Aws-Request-Id,
 *        Lambda-Runtime-Deadline-Ms (Unix ms), Lambda-Runtime-Trace-Id
 *   POST /2018-06-01/runtime/invocation/{id}/response   the handler's bytes
 *   POST /2018-06-01/runtime/invocation/{id}/error      {"errorMessage","errorType"}
 *        with header Lambda-Runtime-Function-Error-Type
 *   POST /2018-06-01/runtime/init/error             initialisation failed
 *
 * Invariants:
 *   - every invocation is answered exactly once (response or error);
 *   - an invocation that arrives with less than `min_remaining_ms` before its
 *     deadline gets an error (KL_LAMBDA_ERR_DEADLINE_CLOSE) and the handler is
 *     not called: reporting fast beats being killed at the deadline;
 *   - a response the Runtime API refuses as too large (413) is turned into an
 *     error for that invocation;
 *   - kl_lambda_run() returns only when the Runtime API itself fails (transport
 *     error, or a status that says the runtime must exit: /next not 200, or 500
 *     on a post); a custom runtime has nothing better to do than exit then.
 *
 * Ownership: `struct kl_lambda_runtime` is caller-owned (init/cleanup) and
 * keeps its buffers across invocations; the transport is borrowed and must
 * outlive it. An invocation's event bytes stay valid until the next
 * invocation is fetched. Library code: never prints; the handler's `done`
 * callback tells the caller what happened to each invocation so it can log.
 */
#ifndef KL_LAMBDA_RUNTIME_H
#define KL_LAMBDA_RUNTIME_H

#include "aws/http.h"
#include "core/buf.h"
#include "core/err.h"

#include <stdint.h>

/* errorType values this runtime reports itself */
#define KL_LAMBDA_ERR_DEADLINE_CLOSE "Kinlake.DeadlineTooClose"
#define KL_LAMBDA_ERR_RESPONSE_SIZE "Function.ResponseSizeTooLarge"
#define KL_LAMBDA_ERR_HANDLER "Kinlake.HandlerError"

/* Largest invocation payload accepted from /next (Lambda's synchronous
 * request limit is 6 MB; leave room so a slightly larger one is reported by
 * the handler instead of failing in transport). */
#define KL_LAMBDA_MAX_EVENT (16u * 1024 * 1024)

/* Wall clock in Unix milliseconds (Lambda deadlines are wall-clock); a seam
 * for tests. */
struct kl_lambda_clock {
	int64_t (*now_ms)(void *ctx);
	void *ctx;
};
struct kl_lambda_clock kl_lambda_clock_real(void);

struct kl_lambda_invocation {
	char request_id[128];
	char trace_id[256];   /* "" if absent */
	int64_t deadline_ms;  /* Unix ms; 0 if absent (no deadline checks) */
	int64_t received_ms;  /* when /next returned it */
	const char *event;    /* the payload, valid until the next invocation */
	size_t event_len;
	struct kl_lambda_clock clock;
};

/* What happened to one invocation, for the `done` callback. */
struct kl_lambda_report {
	const char *error_type; /* NULL: a response was posted */
	const char *error_msg;  /* "" when error_type is NULL */
	size_t response_len;    /* bytes posted (response or error document) */
	int post_status;        /* HTTP status of the post, 0 if none */
	int post_rc;            /* KL_OK, or why the post failed: */
	const char *post_msg;   /* its message ("" if none) */
	int64_t ms;             /* from receipt to the answer posted */
};

struct kl_lambda_handler {
	/* Append the response to `out` and return KL_OK; or return an error
	 * code with *error_type set (a static string such as
	 * "Kinlake.UnsupportedEvent") and the message in `eb`. */
	int (*invoke)(void *ctx, const struct kl_lambda_invocation *inv, struct kl_buf *out,
		      const char **error_type, struct kl_errbuf *eb);
	/* Optional: called once per invocation after its answer was posted. */
	void (*done)(void *ctx, const struct kl_lambda_invocation *inv,
		     const struct kl_lambda_report *rep);
	void *ctx;
};

struct kl_lambda_runtime {
	struct kl_http_transport http;
	struct kl_lambda_clock clock;
	int64_t min_remaining_ms; /* default 50 */
	char base[256];           /* http://HOST:PORT/2018-06-01 */
	struct kl_http_capture cap[3];
	struct kl_http_resp next;  /* the current invocation's payload */
	struct kl_http_resp post;  /* replies to our posts */
	struct kl_buf out;         /* the handler's response */
	struct kl_buf doc;         /* error documents */
	struct kl_buf url;
};

/* `api` is the value of AWS_LAMBDA_RUNTIME_API ("host:port"). */
int kl_lambda_runtime_init(struct kl_lambda_runtime *rt, const char *api,
			   struct kl_http_transport http, struct kl_errbuf *eb);
void kl_lambda_runtime_cleanup(struct kl_lambda_runtime *rt);

/* Fetch the next invocation (blocks). KL_EIO on transport failure,
 * KL_EREMOTE on a status other than 200 or a missing request id. */
int kl_lambda_next(struct kl_lambda_runtime *rt, struct kl_lambda_invocation *inv,
		   struct kl_errbuf *eb);

/* Post the answer for `inv`; *status gets the HTTP status (0 if none).
 * KL_OK on 2xx; KL_ELIMIT on 413; KL_EREMOTE on another status;
 * KL_EIO on transport failure. */
int kl_lambda_respond(struct kl_lambda_runtime *rt, const struct kl_lambda_invocation *inv,
		      const void *body, size_t len, int *status, struct kl_errbuf *eb);
int kl_lambda_fail(struct kl_lambda_runtime *rt, const struct kl_lambda_invocation *inv,
		   const char *error_type, const char *msg, int *status, struct kl_errbuf *eb);
int kl_lambda_init_error(struct kl_lambda_runtime *rt, const char *error_type, const char *msg,
			 struct kl_errbuf *eb);

/* The error document {"errorMessage":msg,"errorType":type} (JSON-escaped). */
int kl_lambda_error_doc(struct kl_buf *out, const char *error_type, const char *msg);

/* Answer one fetched invocation with `h` (deadline check, handler, post,
 * done callback). Returns KL_OK unless the Runtime API failed fatally. */
int kl_lambda_serve(struct kl_lambda_runtime *rt, const struct kl_lambda_invocation *inv,
		    const struct kl_lambda_handler *h, struct kl_errbuf *eb);

/*
 * The transport for the Runtime API: a small HTTP/1.1 client over one
 * keep-alive TCP connection to AWS_LAMBDA_RUNTIME_API (plain HTTP on the
 * local host). It replaces libcurl on this path so that a cold start loads
 * neither libcurl nor its TLS stack (see aws/curl_lazy.c): bodies are sent
 * in one sendmsg with their head, and received straight into the caller's
 * buffer. Requests and responses as struct kl_http_req / kl_http_resp
 * (status, body, content_type, error_type and the captures are filled in).
 * Transport failures are KL_EIO with resp->net set. Caller-owned; one
 * thread at a time.
 */
struct kl_lambda_conn {
	char host[216];     /* without brackets for [v6]:port */
	char port[8];
	char hostport[232]; /* as given: the Host header */
	int fd;             /* -1 when not connected */
	struct kl_buf in;   /* received bytes; in.data[off..len) not yet read */
	size_t off;
	struct kl_buf head; /* the request head being sent */
};

/* `api` is "host:port" (AWS_LAMBDA_RUNTIME_API); no connection yet. */
int kl_lambda_conn_init(struct kl_lambda_conn *c, const char *api, struct kl_errbuf *eb);
void kl_lambda_conn_cleanup(struct kl_lambda_conn *c);
struct kl_http_transport kl_lambda_conn_transport(struct kl_lambda_conn *c);

/* next + serve, forever; returns the fatal Runtime API error. */
int kl_lambda_run(struct kl_lambda_runtime *rt, const struct kl_lambda_handler *h,
		  struct kl_errbuf *eb);

#endif
