/* handler.c — see handler.h; Kinesis batch responses: AWS Lambda developer
 * guide, "Reporting batch item failures for Kinesis". */
#include "lambda/handler.h"
#include "parse/json.h"

#include <inttypes.h>

static int deadline_close(void *ctx)
{
	struct kl_lambda_app *a = ctx;
	const struct kl_lambda_invocation *inv = a->inv;
	if (!inv || !inv->deadline_ms || !inv->clock.now_ms)
		return 0;
	return inv->deadline_ms - inv->clock.now_ms(inv->clock.ctx) < a->margin_ms;
}

int kl_lambda_app_init(struct kl_lambda_app *a, size_t dedup_window)
{
	memset(a, 0, sizeof *a);
	a->margin_ms = 25;
	a->dedup_window = dedup_window;
	int rc = kl_firehose_init(&a->fh, dedup_window);
	a->fh.should_stop = deadline_close;
	a->fh.stop_ctx = a;
	return rc;
}

void kl_lambda_app_cleanup(struct kl_lambda_app *a) { kl_firehose_cleanup(&a->fh); }

int kl_lambda_app_forget(struct kl_lambda_app *a)
{
	if (!a->dedup_window || !a->fh.dedup.count)
		return KL_OK;
	kl_dedup_cleanup(&a->fh.dedup);
	return kl_dedup_init(&a->fh.dedup, a->dedup_window);
}

const char *kl_lambda_kind_name(enum kl_lambda_kind k)
{
	return k == KL_LAMBDA_FIREHOSE ? "firehose" : k == KL_LAMBDA_KINESIS ? "kinesis" : "unknown";
}

/* {"Records":[{"kinesis":{...}}, ...]}: the first record decides. */
static int is_kinesis(const char *p, size_t n, struct kl_json_member *recs)
{
	struct kl_json_member first, k;
	struct kl_json_iter it;
	if (!kl_json_object_get(p, n, "Records", recs) || recs->type != KL_JSON_ARRAY)
		return 0;
	kl_json_iter_init(&it, recs->val, recs->val_len);
	return kl_json_iter_next(&it, &first) && first.type == KL_JSON_OBJECT &&
	       kl_json_object_get(first.val, first.val_len, "kinesis", &k) &&
	       k.type == KL_JSON_OBJECT;
}

static int kinesis_fail_all(const struct kl_json_member *recs, struct kl_buf *out,
			    struct kl_lambda_stats *st, const char **error_type,
			    struct kl_errbuf *eb)
{
	struct kl_json_iter it;
	struct kl_json_member r, k, seq;
	int rc = kl_buf_puts(out, "{\"batchItemFailures\":[");
	kl_json_iter_init(&it, recs->val, recs->val_len);
	while (!rc && kl_json_iter_next(&it, &r)) {
		if (r.type != KL_JSON_OBJECT ||
		    !kl_json_object_get(r.val, r.val_len, "kinesis", &k) || k.type != KL_JSON_OBJECT ||
		    !kl_json_object_get(k.val, k.val_len, "sequenceNumber", &seq) ||
		    seq.type != KL_JSON_STRING || seq.val_len <= 2) {
			*error_type = KL_LAMBDA_ERR_INVALID;
			return kl_errbuf_set(eb, KL_EPARSE, "%s; Records[%" PRIu64 "] has no "
					     "kinesis.sequenceNumber, failing the whole batch",
					     KL_LAMBDA_KINESIS_UNSUPPORTED, st->rec.records);
		}
		if (st->rec.records)
			rc = kl_buf_putc(out, ',');
		rc = rc ? rc : kl_buf_puts(out, "{\"itemIdentifier\":");
		rc = rc ? rc : kl_buf_append(out, seq.val, seq.val_len);
		rc = rc ? rc : kl_buf_putc(out, '}');
		st->rec.records++;
		st->rec.failed++;
	}
	rc = rc ? rc : kl_buf_puts(out, "]}");
	if (rc) {
		*error_type = KL_LAMBDA_ERR_NOMEM;
		return kl_errbuf_set(eb, rc, "out of memory building the response");
	}
	return KL_OK;
}

int kl_lambda_app_handle(struct kl_lambda_app *a, const struct kl_lambda_invocation *inv,
			 struct kl_buf *out, struct kl_lambda_stats *st, const char **error_type,
			 struct kl_errbuf *eb)
{
	memset(st, 0, sizeof *st);
	const char *p = inv->event;
	size_t n = inv->event_len;
	struct kl_json_member recs;
	if (kl_json_parse(p, n, 64, NULL, NULL)) {
		*error_type = KL_LAMBDA_ERR_INVALID;
		return kl_errbuf_set(eb, KL_EPARSE, "the invocation payload is not valid JSON");
	}
	if (kl_firehose_is_event(p, n)) {
		st->kind = KL_LAMBDA_FIREHOSE;
		a->inv = inv;
		int rc = kl_firehose_transform_valid(&a->fh, p, n, out, &st->rec, eb);
		a->inv = NULL;
		if (rc && kl_lambda_app_forget(a))
			rc = KL_ENOMEM;
		if (rc)
			*error_type = rc == KL_ELIMIT   ? KL_LAMBDA_ERR_TOO_LARGE
				      : rc == KL_EINTR  ? KL_LAMBDA_ERR_DEADLINE
				      : rc == KL_EPARSE ? KL_LAMBDA_ERR_INVALID
							: KL_LAMBDA_ERR_NOMEM;
		return rc;
	}
	if (is_kinesis(p, n, &recs)) {
		st->kind = KL_LAMBDA_KINESIS;
		st->note = KL_LAMBDA_KINESIS_UNSUPPORTED;
		return kinesis_fail_all(&recs, out, st, error_type, eb);
	}
	*error_type = KL_LAMBDA_ERR_UNSUPPORTED;
	return kl_errbuf_set(eb, KL_EUNSUPPORTED, "unsupported event: neither a Firehose "
				     "transformation event (invocationId, records) nor a Kinesis "
				     "event (Records[].kinesis)");
}
