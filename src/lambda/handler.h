/*
 * handler.h — what kinlake does with one Lambda invocation: dispatch on the
 * event's shape.
 *
 *   Firehose transformation event ({invocationId, records:[...]})
 *       -> kl_firehose_transform(): {"records":[...]} (see firehose.h)
 *   Kinesis event-source-mapping event ({Records:[{kinesis:{data,...}}]})
 *       -> the batch is written to the lake (esm.h) and the answer is
 *          {"batchItemFailures":[...]}: empty once everything is durable,
 *          else the records Lambda must retry (ReportBatchItemFailures on
 *          the mapping); when no lake is configured (KINLAKE_LAKE unset), an
 *          invocation error (KL_LAMBDA_ERR_NOT_CONFIGURED), which Lambda
 *          retries whatever the mapping's settings, so nothing is lost
 *   anything else -> an invocation error (KL_LAMBDA_ERR_UNSUPPORTED)
 *
 * Deadline: while transforming, the handler stops with an invocation error
 * (KL_LAMBDA_ERR_DEADLINE) once less than margin_ms remain before the
 * invocation's deadline, so that the error reaches Lambda before the
 * function is killed.
 *
 * Dedup: an event_uuid seen in an earlier *delivered* response of this warm
 * instance is Dropped (Firehose) or not stored (Kinesis; one window serves
 * both); when an invocation fails, or a Kinesis batch reports failures, the
 * window is forgotten (kl_lambda_app_forget), so the retry of that batch is
 * not dropped as a duplicate of itself.
 *
 * Ownership: `struct kl_lambda_app` is caller-owned (init/cleanup) and lives
 * for the whole process, so the dedup window spans the warm instance's
 * invocations. Library code: never prints; the stats say what happened and
 * the caller logs them.
 */
#ifndef KL_LAMBDA_HANDLER_H
#define KL_LAMBDA_HANDLER_H

#include "lambda/esm.h"
#include "lambda/firehose.h"
#include "lambda/runtime.h"
#include "metrics/cwmetrics.h"

#define KL_LAMBDA_ERR_UNSUPPORTED "Kinlake.UnsupportedEvent"
#define KL_LAMBDA_ERR_INVALID "Kinlake.InvalidEvent"
#define KL_LAMBDA_ERR_TOO_LARGE "Kinlake.ResponseTooLarge"
#define KL_LAMBDA_ERR_DEADLINE "Kinlake.DeadlineExceeded"
#define KL_LAMBDA_ERR_NOMEM "Kinlake.OutOfMemory"
#define KL_LAMBDA_ERR_NOT_CONFIGURED "Kinlake.NotConfigured"
/* init error: a KINLAKE_* variable is wrong */
#define KL_LAMBDA_ERR_CONFIG "Kinlake.InvalidConfig"

enum kl_lambda_kind { KL_LAMBDA_UNKNOWN, KL_LAMBDA_FIREHOSE, KL_LAMBDA_KINESIS };

struct kl_lambda_stats {
	enum kl_lambda_kind kind;
	/* Kinesis: records = Kinesis records, ok = events stored, dropped =
	 * duplicates, failed = records in batchItemFailures */
	struct kl_firehose_stats rec;
	struct kl_esm_stats esm;      /* Kinesis only */
	struct kl_errbuf why;         /* Kinesis: why records are to be retried */
	const char *note;             /* a static remark for the log, or NULL */
};

struct kl_lambda_app {
	struct kl_firehose fh;
	size_t dedup_window;
	int64_t margin_ms; /* stop transforming when fewer remain; default 25 */
	const struct kl_lambda_invocation *inv; /* during kl_lambda_app_handle only */
	struct kl_esm *esm; /* NULL: no lake configured */
};

int kl_lambda_app_init(struct kl_lambda_app *a, size_t dedup_window);
void kl_lambda_app_cleanup(struct kl_lambda_app *a);

/* Configure the Kinesis event-source-mapping path from the KINLAKE_*
 * variables (esm.h). KL_OK also when KINLAKE_LAKE is unset (a Firehose-only
 * function; *lake stays NULL); otherwise *lake names the lake. An error (a
 * bad variable, a store that cannot be created) is an init error. */
int kl_lambda_app_configure(struct kl_lambda_app *a, const struct kl_aws_env *env,
			    const char **lake, struct kl_errbuf *eb);

/* Forget the dedup window. Called when an invocation's answer was not a
 * delivered response: Firehose retries that batch, and its events must not
 * come back as Dropped duplicates of themselves. kl_lambda_app_handle()
 * does it itself when it returns an error. */
int kl_lambda_app_forget(struct kl_lambda_app *a);

const char *kl_lambda_kind_name(enum kl_lambda_kind k);

/* The invocation's counters for CloudWatch (EMF, metrics/cwmetrics.h):
 * Firehose: records, Ok (stored), Dropped (duplicates), ProcessingFailed
 * (dead letters, by reason); Kinesis: user records, stored, duplicates, dead
 * letters by reason, files, bytes. */
void kl_lambda_stats_counters(const struct kl_lambda_stats *st, struct kl_cw_counters *out);

/* Handle one invocation: the response is appended to `out`; on error
 * *error_type is set (one of the KL_LAMBDA_ERR_* strings) and `out` must be
 * discarded. `inv` supplies the event, the deadline and the clock. */
int kl_lambda_app_handle(struct kl_lambda_app *a, const struct kl_lambda_invocation *inv,
			 struct kl_buf *out, struct kl_lambda_stats *st, const char **error_type,
			 struct kl_errbuf *eb);

#endif
