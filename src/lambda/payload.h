/*
 * payload.h — how a Lambda invocation's payload is checked as JSON, for
 * every path that reads one (firehose.c, esm.c, handler.c).
 *
 * A Firehose or Kinesis event is checked in the pass that reads its records
 * (a kl_json_walk); anything else is checked whole. Either way the answer
 * for a payload that is not JSON is one error, whatever else is wrong with
 * the payload: a walk that meets another error first (a record without a
 * recordId, a response over the limit, ...) checks the whole payload before
 * it reports that error, so the result is that of checking it first.
 */
#ifndef KL_LAMBDA_PAYLOAD_H
#define KL_LAMBDA_PAYLOAD_H

#include "core/err.h"
#include "parse/json.h"

#include <stddef.h>

/* the payload's nesting bound: containers, as kl_json_parse counts them */
#define KL_LAMBDA_MAX_DEPTH 64

/* A walk's outcome beyond the kl_err codes (all negative): the text is not
 * JSON. */
#define KL_LAMBDA_NOT_JSON 1

/* The error for a payload that is not JSON (replacing any error set). */
static inline int kl_lambda_not_json(struct kl_errbuf *eb)
{
	kl_errbuf_clear(eb);
	return kl_errbuf_set(eb, KL_EPARSE, "the invocation payload is not valid JSON");
}

/* A walk's result over p[0..n) -> the error to report: KL_LAMBDA_NOT_JSON,
 * or any error but out of memory on a payload that is not JSON, becomes
 * kl_lambda_not_json(); anything else is returned as it is. */
static inline int kl_lambda_walk_result(const char *p, size_t n, int rc, struct kl_errbuf *eb)
{
	if (rc == KL_LAMBDA_NOT_JSON ||
	    (rc && rc != KL_ENOMEM && kl_json_parse(p, n, KL_LAMBDA_MAX_DEPTH, NULL, NULL)))
		return kl_lambda_not_json(eb);
	return rc;
}

#endif
