/*
 * handler.h — what kinlake does with one Lambda invocation: dispatch on the
 * event's shape.
 *
 *   Firehose transformation event ({invocationId, records:[...]})
 *       -> kl_firehose_transform(): {"records":[...]} (see firehose.h)
 *   Kinesis event-source-mapping event ({Records:[{kinesis:{data,...}}]})
 *       -> not supported in this build: {"batchItemFailures":[{"itemIdentifier":
 *          SEQUENCE_NUMBER}, ...]} listing EVERY record, so that Lambda retries
 *          them (with ReportBatchItemFailures on the mapping) and nothing is
 *          lost; a record without a sequence number fails the invocation
 *          instead (a whole-batch retry)
 *   anything else -> an invocation error (KL_LAMBDA_ERR_UNSUPPORTED)
 *
 * Deadline: while transforming, the handler stops with an invocation error
 * (KL_LAMBDA_ERR_DEADLINE) once less than margin_ms remain before the
 * invocation's deadline, so that the error reaches Lambda before the
 * function is killed.
 *
 * Dedup: an event_uuid seen in an earlier *delivered* response of this warm
 * instance is Dropped; when an invocation fails, the window is forgotten
 * (kl_lambda_app_forget), so Firehose's retry of that batch is not dropped.
 *
 * Ownership: `struct kl_lambda_app` is caller-owned (init/cleanup) and lives
 * for the whole process, so the dedup window spans the warm instance's
 * invocations. Library code: never prints; the stats say what happened and
 * the caller logs them.
 */
#ifndef KL_LAMBDA_HANDLER_H
#define KL_LAMBDA_HANDLER_H

#include "lambda/firehose.h"
#include "lambda/runtime.h"

#define KL_LAMBDA_ERR_UNSUPPORTED "Kinlake.UnsupportedEvent"
#define KL_LAMBDA_ERR_INVALID "Kinlake.InvalidEvent"
#define KL_LAMBDA_ERR_TOO_LARGE "Kinlake.ResponseTooLarge"
#define KL_LAMBDA_ERR_DEADLINE "Kinlake.DeadlineExceeded"
#define KL_LAMBDA_ERR_NOMEM "Kinlake.OutOfMemory"

#define KL_LAMBDA_KINESIS_UNSUPPORTED "Kinesis event source mapping: not supported in this build"

enum kl_lambda_kind { KL_LAMBDA_UNKNOWN, KL_LAMBDA_FIREHOSE, KL_LAMBDA_KINESIS };

struct kl_lambda_stats {
	enum kl_lambda_kind kind;
	struct kl_firehose_stats rec; /* Kinesis: records = failed = Records[] count */
	const char *note;             /* a static remark for the log, or NULL */
};

struct kl_lambda_app {
	struct kl_firehose fh;
	size_t dedup_window;
	int64_t margin_ms; /* stop transforming when fewer remain; default 25 */
	const struct kl_lambda_invocation *inv; /* during kl_lambda_app_handle only */
};

int kl_lambda_app_init(struct kl_lambda_app *a, size_t dedup_window);
void kl_lambda_app_cleanup(struct kl_lambda_app *a);

/* Forget the dedup window. Called when an invocation's answer was not a
 * delivered response: Firehose retries that batch, and its events must not
 * come back as Dropped duplicates of themselves. kl_lambda_app_handle()
 * does it itself when it returns an error. */
int kl_lambda_app_forget(struct kl_lambda_app *a);

const char *kl_lambda_kind_name(enum kl_lambda_kind k);

/* Handle one invocation: the response is appended to `out`; on error
 * *error_type is set (one of the KL_LAMBDA_ERR_* strings) and `out` must be
 * discarded. `inv` supplies the event, the deadline and the clock. */
int kl_lambda_app_handle(struct kl_lambda_app *a, const struct kl_lambda_invocation *inv,
			 struct kl_buf *out, struct kl_lambda_stats *st, const char **error_type,
			 struct kl_errbuf *eb);

#endif
