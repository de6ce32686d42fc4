/*
 * dynamodb.h — the DynamoDB calls kinlake needs, on the awsJson1_0 protocol.
 *
 * Wire: aws/json_rpc.h with json_version "1.0": POST "/", X-Amz-Target
 * "DynamoDB_20120810.<Operation>", Content-Type application/x-amz-json-1.0,
 * SigV4 service "dynamodb". Endpoint as the SDKs pick it:
 * AWS_ENDPOINT_URL_DYNAMODB, else AWS_ENDPOINT_URL, else
 * https://dynamodb.<region>.amazonaws.com.
 *
 * Errors: throttling (ProvisionedThroughputExceededException,
 * RequestLimitExceeded, ThrottlingException), 5xx and network failures are
 * retried inside json_rpc (aws/retry.h decides). What callers must tell
 * apart is mapped here, once:
 *   ConditionalCheckFailedException -> KL_ECONFLICT (never retried: the
 *                                      condition will not become true by
 *                                      asking again; for leases it is the
 *                                      fencing signal)
 *   ResourceNotFoundException       -> KL_ENOTFOUND
 *   ResourceInUseException          -> KL_OK with *created = 0 from
 *                                      kl_ddb_create_table (someone else
 *                                      created it); KL_EREMOTE elsewhere
 * d->code keeps AWS's code of the last failure ("" after a success).
 *
 * Requests are built by the caller as JSON fragments (the lease module knows
 * its expressions); this module wraps them in the operation's envelope and
 * reads answers. The attribute readers (kl_ddb_attr_*) take an item object
 * from an answer that passed kl_ddb_answer_parse(), and never trust its
 * shape: a missing attribute is KL_ENOTFOUND, a mistyped or oversized one
 * KL_EPARSE / KL_ELIMIT. They are fuzzed (fuzz/fuzz_dynamodb.c).
 *
 * Ownership: struct kl_ddb is caller-owned (init/cleanup), used by one
 * thread at a time; d->answer points into the client's response buffer and
 * is valid until the next call.
 */
#ifndef KL_AWS_DYNAMODB_H
#define KL_AWS_DYNAMODB_H

#include "aws/json_rpc.h"
#include "core/buf.h"
#include "core/err.h"
#include "parse/json.h"

#include <stdint.h>

/* The longest string kl_ddb_attr_s() decodes (shard ids are <= 128,
 * worker ids and checkpoints shorter than this). */
#define KL_DDB_MAX_STR 512

struct kl_ddb {
	struct kl_aws_json rpc; /* the wire client */
	struct kl_buf req;	/* request body, reused across calls */
	const char *answer;	/* last answer's JSON (into rpc.resp.body) */
	size_t answer_len;
	char code[128];	      /* AWS error code of the last failure, "" if none */
	struct kl_errbuf err; /* the last failure in one line */
};

extern const struct kl_aws_json_service kl_ddb_service;

/* region NULL: AWS_REGION, else AWS_DEFAULT_REGION. */
int kl_ddb_init(struct kl_ddb *d, const char *region, struct kl_errbuf *eb);
void kl_ddb_cleanup(struct kl_ddb *d);

/* One call with a complete body; maps the error codes above. */
int kl_ddb_call(struct kl_ddb *d, const char *op, const char *body, size_t n);

/* DescribeTable: the TableStatus ("CREATING", "ACTIVE", ...) into status;
 * KL_ENOTFOUND when the table does not exist. */
int kl_ddb_describe_table(struct kl_ddb *d, const char *table, char *status, size_t cap);

/* CreateTable with one string hash key and on-demand billing
 * (PAY_PER_REQUEST). *created = 1 when this call created it, 0 when it
 * existed already (ResourceInUseException). Does not wait: see
 * kl_ddb_describe_table. */
int kl_ddb_create_table(struct kl_ddb *d, const char *table, const char *key_name, int *created);

/* Scan one page, strongly consistent. start_key: the previous page's
 * LastEvaluatedKey object text, or NULL for the first page. On KL_OK,
 * d->answer holds the page: read it with kl_ddb_scan_page(). */
int kl_ddb_scan(struct kl_ddb *d, const char *table, const char *start_key, size_t start_len);

/* GetItem, strongly consistent, key {key_name: {S: key}}. KL_OK with *item /
 * *item_len the item object text, or KL_ENOTFOUND when there is none. */
int kl_ddb_get_item(struct kl_ddb *d, const char *table, const char *key_name, const char *key,
		    const char **item, size_t *item_len);

/*
 * PutItem / UpdateItem / DeleteItem. Fragments are JSON texts spliced into
 * the request as given (the caller escapes): item and key are attribute-map
 * objects ({"leaseKey":{"S":"..."}}), values the ExpressionAttributeValues
 * object or NULL, names the ExpressionAttributeNames object or NULL,
 * condition and update are expression strings (plain ASCII, no quotes or
 * backslashes: they are copied into a JSON string unescaped) or NULL.
 * A refused condition is KL_ECONFLICT.
 */
int kl_ddb_put_item(struct kl_ddb *d, const char *table, const char *item, const char *condition,
		    const char *names, const char *values);
int kl_ddb_update_item(struct kl_ddb *d, const char *table, const char *key, const char *update,
		       const char *condition, const char *names, const char *values);
int kl_ddb_delete_item(struct kl_ddb *d, const char *table, const char *key, const char *condition,
		       const char *names, const char *values);

/* ---- answers (pure: no I/O; fuzzed) ---- */

/* Validate an answer and find its top-level member `name` (*m). KL_OK,
 * KL_ENOTFOUND (valid JSON object without it), KL_EPARSE (not a JSON
 * object). */
int kl_ddb_answer_get(const char *body, size_t n, const char *name, struct kl_json_member *m);

/* A Scan page: an iterator over its Items (each an item object) and the
 * LastEvaluatedKey object text (*lek = NULL when this was the last page).
 * KL_EPARSE when the page is not a JSON object or Items is not an array. */
int kl_ddb_scan_page(const char *body, size_t n, struct kl_json_iter *items, const char **lek,
		     size_t *lek_len);

/* Attribute readers over one item object (validated JSON). */
int kl_ddb_attr_s(const char *item, size_t n, const char *name, char *out, size_t cap);
int kl_ddb_attr_n(const char *item, size_t n, const char *name, int64_t *out);
/* A string set (SS) or a list (L) of strings: up to max strings of cap
 * bytes each into out (row i at out + i * cap); *count gets how many.
 * KL_ELIMIT when there are more than max or one is too long. */
int kl_ddb_attr_strs(const char *item, size_t n, const char *name, char *out, size_t cap,
		     size_t max, size_t *count);

/* Append s as a JSON string (with quotes) to b. */
int kl_ddb_json_str(struct kl_buf *b, const char *s);

#endif
