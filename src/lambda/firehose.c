/* firehose.c — see firehose.h; contract: Firehose developer guide,
 * "Data transformation" and "Dynamic partitioning". */
#include "lambda/firehose.h"
#include "core/base64.h"
#include "route/partition.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

int kl_firehose_init(struct kl_firehose *f, size_t dedup_window)
{
	memset(f, 0, sizeof *f);
	kl_event_init(&f->ev);
	kl_event_limits_default(&f->lim);
	kl_json_doc_init(&f->doc);
	kl_buf_init(&f->raw, 0);
	kl_buf_init(&f->enriched, 0);
	kl_buf_init(&f->key, 0);
	f->max_response = KL_LAMBDA_MAX_RESPONSE;
	return kl_dedup_init(&f->dedup, dedup_window);
}

void kl_firehose_cleanup(struct kl_firehose *f)
{
	kl_event_cleanup(&f->ev);
	kl_json_doc_cleanup(&f->doc);
	kl_dedup_cleanup(&f->dedup);
	kl_buf_cleanup(&f->raw);
	kl_buf_cleanup(&f->enriched);
	kl_buf_cleanup(&f->key);
}

int kl_firehose_is_event(const char *p, size_t n)
{
	struct kl_json_member m;
	return kl_json_object_get(p, n, "records", &m) && m.type == KL_JSON_ARRAY &&
	       kl_json_object_get(p, n, "invocationId", &m);
}

/* One partition key value: "name":"escaped" */
static int put_key(struct kl_buf *out, const char *name, const char *v, size_t n, int is_null)
{
	int rc = kl_buf_putc(out, '"');
	rc = rc ? rc : kl_buf_puts(out, name);
	rc = rc ? rc : kl_buf_append(out, "\":\"", 3);
	rc = rc ? rc : kl_hive_escape(out, is_null ? NULL : v, n);
	return rc ? rc : kl_buf_putc(out, '"');
}

static int record(struct kl_firehose *f, const struct kl_json_member *r, struct kl_buf *out,
		  struct kl_firehose_stats *st)
{
	struct kl_json_member id, data;
	if (!kl_json_object_get(r->val, r->val_len, "recordId", &id) || id.type != KL_JSON_STRING)
		return KL_EPARSE;
	int has_data = kl_json_object_get(r->val, r->val_len, "data", &data) &&
		       data.type == KL_JSON_STRING;
	int rc = kl_buf_puts(out, "{\"recordId\":");
	rc = rc ? rc : kl_buf_append(out, id.val, id.val_len);
	if (rc)
		return rc;
	st->records++;
	/* decode: invalid base64 is a failed record, its data passed back unchanged */
	enum kl_reject rej = KL_REJ_INVALID_JSON;
	long n = -1;
	if (has_data && !data.val_esc) {
		kl_buf_reset(&f->raw);
		if (kl_buf_reserve(&f->raw, kl_base64_decoded_max(data.val_len)))
			return KL_ENOMEM;
		n = kl_base64_decode(data.val + 1, data.val_len - 2, (unsigned char *)f->raw.data);
	}
	if (n >= 0) {
		/* Firehose records usually end with a newline; it is not part of the event */
		size_t len = (size_t)n;
		while (len && (f->raw.data[len - 1] == '\n' || f->raw.data[len - 1] == '\r'))
			len--;
		rej = kl_event_parse(&f->ev, f->raw.data, len, &f->lim);
		if (rej == KL_REJ_NONE && kl_dedup_check(&f->dedup, f->ev.uuid.p, f->ev.uuid.n, 0)) {
			st->dropped++;
			rc = kl_buf_puts(out, ",\"result\":\"Dropped\",\"data\":");
			rc = rc ? rc : kl_buf_append(out, data.val, data.val_len);
			return rc ? rc : kl_buf_putc(out, '}');
		}
		if (rej == KL_REJ_NONE) {
			kl_buf_reset(&f->enriched);
			rc = kl_event_write_json(&f->ev, f->raw.data, len, &f->enriched);
			rc = rc ? rc : kl_buf_putc(&f->enriched, '\n');
			rc = rc ? rc : kl_buf_puts(out, ",\"result\":\"Ok\",\"data\":\"");
			rc = rc ? rc : kl_base64_encode(out, f->enriched.data, f->enriched.len);
			rc = rc ? rc : kl_buf_puts(out, "\",\"metadata\":{\"partitionKeys\":{");
			rc = rc ? rc : put_key(out, "event_type", f->ev.type.p, f->ev.type.n, 0);
			rc = rc ? rc : kl_buf_putc(out, ',');
			rc = rc ? rc : put_key(out, "event_subtype", f->ev.subtype.p, f->ev.subtype.n,
					       f->ev.subtype.p == NULL);
			rc = rc ? rc : kl_buf_puts(out, ",\"dt\":\"");
			rc = rc ? rc : kl_buf_puts(out, f->ev.dt);
			rc = rc ? rc : kl_buf_puts(out, "\",\"hr\":\"");
			rc = rc ? rc : kl_buf_puts(out, f->ev.hr);
			rc = rc ? rc : kl_buf_puts(out, "\"}}}");
			st->ok++;
			return rc;
		}
	}
	st->failed++;
	rc = kl_buf_puts(out, ",\"result\":\"ProcessingFailed\",\"data\":");
	rc = rc ? rc : has_data ? kl_buf_append(out, data.val, data.val_len) : kl_buf_puts(out, "\"\"");
	return rc ? rc : kl_buf_putc(out, '}');
}

int kl_firehose_transform(struct kl_firehose *f, const char *p, size_t n, struct kl_buf *out,
			  struct kl_firehose_stats *st, struct kl_errbuf *eb)
{
	memset(st, 0, sizeof *st);
	if (kl_json_parse(p, n, 64, NULL, NULL))
		return kl_errbuf_set(eb, KL_EPARSE, "the invocation payload is not valid JSON");
	return kl_firehose_transform_valid(f, p, n, out, st, eb);
}

int kl_firehose_transform_valid(struct kl_firehose *f, const char *p, size_t n, struct kl_buf *out,
				struct kl_firehose_stats *st, struct kl_errbuf *eb)
{
	memset(st, 0, sizeof *st);
	struct kl_json_member recs;
	if (!kl_json_object_get(p, n, "records", &recs) || recs.type != KL_JSON_ARRAY)
		return kl_errbuf_set(eb, KL_EPARSE, "not a Firehose transformation event (no records array)");
	size_t start = out->len;
	int rc = kl_buf_puts(out, "{\"records\":[");
	struct kl_json_iter it;
	struct kl_json_member r;
	kl_json_iter_init(&it, recs.val, recs.val_len);
	int first = 1;
	while (!rc && kl_json_iter_next(&it, &r)) {
		if (r.type != KL_JSON_OBJECT)
			return kl_errbuf_set(eb, KL_EPARSE, "records[] holds a non-object");
		if (f->should_stop && st->records % KL_FIREHOSE_STOP_EVERY == 0 && !first &&
		    f->should_stop(f->stop_ctx))
			return kl_errbuf_set(eb, KL_EINTR, "stopped after %" PRIu64 " records: the "
					     "invocation deadline is too close", st->records);
		if (!first)
			rc = kl_buf_putc(out, ',');
		first = 0;
		rc = rc ? rc : record(f, &r, out, st);
		if (rc == KL_EPARSE)
			return kl_errbuf_set(eb, rc, "a record has no recordId string");
		if (!rc && out->len - start > f->max_response)
			return kl_errbuf_set(eb, KL_ELIMIT,
					     "response would exceed the %zu-byte Lambda payload limit "
					     "after %" PRIu64 " records; lower the Firehose buffering hint",
					     f->max_response, st->records);
	}
	rc = rc ? rc : kl_buf_puts(out, "]}");
	if (!rc && out->len - start > f->max_response)
		return kl_errbuf_set(eb, KL_ELIMIT, "response would exceed the %zu-byte Lambda payload limit",
				     f->max_response);
	return rc ? kl_errbuf_set(eb, rc, "out of memory building the response") : KL_OK;
}
