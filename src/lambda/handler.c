/* handler.c — see handler.h; Kinesis batch responses: AWS Lambda developer
 * guide, "Reporting batch item failures for Kinesis". */
#include "lambda/handler.h"
#include "lambda/payload.h"
#include "parse/json.h"

#include <inttypes.h>
#include <stdlib.h>

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

void kl_lambda_app_cleanup(struct kl_lambda_app *a)
{
	kl_firehose_cleanup(&a->fh);
	if (a->esm) {
		kl_esm_cleanup(a->esm);
		free(a->esm);
		a->esm = NULL;
	}
}

int kl_lambda_app_configure(struct kl_lambda_app *a, const struct kl_aws_env *env,
			    const char **lake, struct kl_errbuf *eb)
{
	struct kl_esm_config c;
	*lake = NULL;
	int rc = kl_esm_config_env(&c, env, eb);
	if (rc || !c.set.lake)
		return rc;
	if (!(a->esm = calloc(1, sizeof *a->esm)))
		return kl_errbuf_set(eb, KL_ENOMEM, "out of memory");
	if ((rc = kl_esm_init(a->esm, &c, env, eb))) {
		kl_esm_cleanup(a->esm);
		free(a->esm);
		a->esm = NULL;
		return rc;
	}
	*lake = a->esm->lake;
	return KL_OK;
}

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

int kl_lambda_app_handle(struct kl_lambda_app *a, const struct kl_lambda_invocation *inv,
			 struct kl_buf *out, struct kl_lambda_stats *st, const char **error_type,
			 struct kl_errbuf *eb)
{
	memset(st, 0, sizeof *st);
	const char *p = inv->event;
	size_t n = inv->event_len;
	/* a Firehose or Kinesis event is checked as JSON in the pass that reads
	 * its megabytes (firehose.c, esm.c); anything else is checked whole */
	if (kl_firehose_is_event(p, n)) {
		st->kind = KL_LAMBDA_FIREHOSE;
		a->inv = inv;
		int rc = kl_firehose_transform(&a->fh, p, n, out, &st->rec, eb);
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
	if (kl_esm_is_event(p, n)) {
		st->kind = KL_LAMBDA_KINESIS;
		if (!a->esm) {
			if (kl_json_parse(p, n, KL_LAMBDA_MAX_DEPTH, NULL, NULL)) {
				*error_type = KL_LAMBDA_ERR_INVALID;
				return kl_lambda_not_json(eb);
			}
			*error_type = KL_LAMBDA_ERR_NOT_CONFIGURED;
			return kl_errbuf_set(eb, KL_EINVAL, "Kinesis event source mapping: no lake "
					     "configured; set KINLAKE_LAKE to s3://bucket/prefix or a "
					     "directory (the batch will be retried)");
		}
		int rc = kl_esm_handle(a->esm, p, n,
				       a->dedup_window ? &a->fh.dedup : NULL, out, &st->esm, &st->why,
				       error_type, eb);
		st->rec.records = st->esm.records;
		st->rec.ok = st->esm.stored;
		st->rec.dropped = st->esm.duplicates;
		st->rec.failed = st->esm.failed;
		/* the retry must not meet its own events in the window */
		if ((rc || st->esm.failed) && kl_lambda_app_forget(a) && !rc) {
			*error_type = KL_LAMBDA_ERR_NOMEM;
			rc = kl_errbuf_set(eb, KL_ENOMEM, "out of memory resetting the dedup window");
		}
		return rc;
	}
	if (kl_json_parse(p, n, KL_LAMBDA_MAX_DEPTH, NULL, NULL)) {
		*error_type = KL_LAMBDA_ERR_INVALID;
		return kl_lambda_not_json(eb);
	}
	*error_type = KL_LAMBDA_ERR_UNSUPPORTED;
	return kl_errbuf_set(eb, KL_EUNSUPPORTED, "unsupported event: neither a Firehose "
				     "transformation event (invocationId, records) nor a Kinesis "
				     "event (Records[].kinesis)");
}

void kl_lambda_stats_counters(const struct kl_lambda_stats *st, struct kl_cw_counters *c)
{
	memset(c, 0, sizeof *c);
	if (st->kind == KL_LAMBDA_KINESIS) {
		const struct kl_esm_stats *k = &st->esm;
		c->records = k->events;
		c->stored = k->stored;
		c->dead = k->dead;
		c->duplicates = k->duplicates;
		c->files = k->files;
		c->bytes_in = k->bytes_in;
		c->bytes_out = k->bytes_out;
		c->rescued = k->rescued;
		memcpy(c->dead_by_reason, k->dead_by_reason, sizeof c->dead_by_reason);
		return;
	}
	const struct kl_firehose_stats *f = &st->rec;
	c->records = f->records;
	c->stored = f->ok;
	c->dead = f->failed;
	c->duplicates = f->dropped;
	c->bytes_in = f->bytes_in;
	c->bytes_out = f->bytes_out;
	memcpy(c->dead_by_reason, f->failed_by_reason, sizeof c->dead_by_reason);
}
