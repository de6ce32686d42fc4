/*
 * firehose.h — the Kinesis Data Firehose transformation contract.
 *
 * Input: a Firehose transformation event {invocationId, deliveryStreamArn,
 * region, records:[{recordId, approximateArrivalTimestamp, data(base64),
 * kinesisRecordMetadata?}]}. Output, one entry per input record in the same
 * order: {recordId, result, data, metadata:{partitionKeys:{event_type,
 * event_subtype, dt, hr}}}.
 *   Ok               data = base64(enriched event + "\n"), partition keys
 *                    Hive-escaped exactly like the lake layout
 *   Dropped          a repeat of an event_uuid seen in this warm instance
 *   ProcessingFailed data unchanged, so Firehose writes the raw record to
 *                    its processing-failed prefix: nothing is lost
 * The response must stay under Lambda's 6 MB synchronous payload limit:
 * kl_firehose_transform() returns KL_ELIMIT instead of a larger response,
 * and the runtime reports an invocation error; Firehose retries the batch
 * and then routes its records to the processing-failed prefix.
 *
 * Ownership: `struct kl_firehose` is caller-owned, reused across
 * invocations (init/cleanup); the response is appended to the caller's buf.
 */
#ifndef KL_LAMBDA_FIREHOSE_H
#define KL_LAMBDA_FIREHOSE_H

#include "core/buf.h"
#include "core/err.h"
#include "dedup/dedup.h"
#include "event/event.h"

#include <stdint.h>

#define KL_LAMBDA_MAX_RESPONSE (6u * 1024 * 1024)

struct kl_firehose_stats {
	uint64_t records, ok, dropped, failed;
	uint64_t bytes_in;  /* decoded record data */
	uint64_t bytes_out; /* enriched lines of the Ok records */
	/* failed records by kl_reject reason; [0]: data not base64 */
	uint64_t failed_by_reason[KL_REJ_COUNT];
};

struct kl_firehose {
	struct kl_event ev;
	struct kl_event_limits lim;
	struct kl_dedup dedup;
	struct kl_buf raw, enriched;
	size_t max_response;
	/* Optional: polled every KL_FIREHOSE_STOP_EVERY records; non-zero stops
	 * the transform with KL_EINTR (the Lambda handler stops when its deadline
	 * is too close to send a response). NULL = never stop. */
	int (*should_stop)(void *ctx);
	void *stop_ctx;
};

#define KL_FIREHOSE_STOP_EVERY 256

int kl_firehose_init(struct kl_firehose *f, size_t dedup_window);
void kl_firehose_cleanup(struct kl_firehose *f);

/* Is this a Firehose transformation event (top-level "records" array and
 * "invocationId")? Any text: its top-level members are checked as JSON up to
 * the answer, and a text that is not JSON up to there is not one. The
 * records array itself is not read when "invocationId" comes before it. */
int kl_firehose_is_event(const char *p, size_t n);

/* Transform one event into `out` (appended), checking it as JSON in the
 * same pass (firehose.c). KL_EPARSE if the event is not valid JSON (that
 * error wins over any other the pass met first) or not the Firehose shape,
 * KL_ELIMIT if the response would pass max_response, KL_EINTR if
 * should_stop() asked to stop. On error `out` holds a partial response the
 * caller must discard, and the dedup window may hold the uuids of the
 * records before the error (the Lambda handler forgets the window after a
 * failed invocation). */
int kl_firehose_transform(struct kl_firehose *f, const char *p, size_t n, struct kl_buf *out,
			  struct kl_firehose_stats *st, struct kl_errbuf *eb);

#endif
