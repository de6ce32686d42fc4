/* firehose.c — see firehose.h; contract: Firehose developer guide,
 * "Data transformation" and "Dynamic partitioning".
 *
 * Speed: the payload (up to 6 MB) is read once. A validating walk
 * (parse/json.h, kl_json_walk) checks each member as it reaches it, while
 * it is still in cache, and accepts exactly the texts kl_json_parse
 * accepts; there is no separate validation pass over the whole payload
 * first. Each record's base64 data, the bulk of the bytes, is vouched for
 * by its decoding: the base64 alphabet holds no byte a JSON string must
 * escape, so a data string that decodes up to its closing quote is also a
 * valid JSON string; only one that does not decode is checked as a JSON
 * string. Each record's response entry is written after one reservation of
 * its upper bound, so the hot path neither allocates (buffers only grow to
 * the largest record) nor checks for room byte by byte.
 *
 * Errors are all or nothing per invocation; a payload that is not JSON is
 * reported as such whatever else the walk met first (lambda/payload.h). */
#include "lambda/firehose.h"
#include "core/base64.h"
#include "lambda/payload.h"
#include "route/partition.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

int kl_firehose_init(struct kl_firehose *f, size_t dedup_window)
{
	memset(f, 0, sizeof *f);
	kl_event_init(&f->ev);
	kl_event_limits_default(&f->lim);
	kl_buf_init(&f->raw, 0);
	kl_buf_init(&f->enriched, 0);
	f->max_response = KL_LAMBDA_MAX_RESPONSE;
	return kl_dedup_init(&f->dedup, dedup_window);
}

void kl_firehose_cleanup(struct kl_firehose *f)
{
	kl_event_cleanup(&f->ev);
	kl_dedup_cleanup(&f->dedup);
	kl_buf_cleanup(&f->raw);
	kl_buf_cleanup(&f->enriched);
}

/* --- one record ---------------------------------------------------------------- */

/* one record's members (values with their quotes; NULL if absent), the
 * first of each name as with kl_json_object_get, and its decoded data */
struct rec {
	const char *id, *data;
	size_t id_len, data_len;
	int id_string, data_string;
	long decoded; /* bytes of data decoded into f->raw, or -1: not base64 */
};

#define PUT(o, lit) (memcpy((o), (lit), sizeof(lit) - 1), (o) += sizeof(lit) - 1)

/* The members of "partitionKeys" at o: the lake's partition columns and
 * values (route/partition.h), which the delivery stream's S3 prefix puts into
 * the lake's path (docs/lambda.md). Room: 6 bytes per column plus
 * kl_partition_values_max(). */
static char *put_partition_keys(char *o, const struct kl_event *ev)
{
	for (int c = 0; c < KL_PCOL_COUNT; c++) {
		const struct kl_partition_key *k = &kl_partition_keys[c];
		if (c)
			*o++ = ',';
		*o++ = '"';
		memcpy(o, k->name, k->len);
		o += k->len;
		PUT(o, "\":\"");
		o = kl_partition_value_put(o, ev, (enum kl_partition_col)c);
		*o++ = '"';
	}
	return o;
}

/* an entry that passes the record's data back: Dropped or ProcessingFailed */
static int put_passthrough(struct kl_buf *out, const struct rec *r, const char *result,
			   size_t result_len)
{
	size_t dn = r->data && r->data_string ? r->data_len : 2;
	if (kl_buf_reserve(out, 48 + r->id_len + result_len + dn))
		return KL_ENOMEM;
	char *o = out->data + out->len;
	PUT(o, "{\"recordId\":");
	memcpy(o, r->id, r->id_len);
	o += r->id_len;
	PUT(o, ",\"result\":\"");
	memcpy(o, result, result_len);
	o += result_len;
	PUT(o, "\",\"data\":");
	if (r->data && r->data_string) {
		memcpy(o, r->data, r->data_len);
		o += r->data_len;
	} else {
		PUT(o, "\"\"");
	}
	*o++ = '}';
	out->len = (size_t)(o - out->data);
	return KL_OK;
}

static int record(struct kl_firehose *f, const struct rec *r, struct kl_buf *out,
		  struct kl_firehose_stats *st)
{
	st->records++;
	/* data that is not base64 fails the record, its data passed back unchanged */
	long n = r->decoded;
	enum kl_reject rej = KL_REJ_NONE;
	if (n >= 0) {
		/* Firehose records usually end with a newline; it is not part of the event */
		size_t len = (size_t)n;
		while (len && (f->raw.data[len - 1] == '\n' || f->raw.data[len - 1] == '\r'))
			len--;
		st->bytes_in += (uint64_t)n;
		rej = kl_event_parse(&f->ev, f->raw.data, len, &f->lim);
		if (rej == KL_REJ_NONE && kl_dedup_check(&f->dedup, f->ev.uuid.p, f->ev.uuid.n, 0)) {
			st->dropped++;
			return put_passthrough(out, r, "Dropped", 7);
		}
		if (rej == KL_REJ_NONE) {
			const struct kl_event *ev = &f->ev;
			kl_buf_reset(&f->enriched);
			int rc = kl_event_write_json(ev, f->raw.data, len, &f->enriched);
			rc = rc ? rc : kl_buf_putc(&f->enriched, '\n');
			if (rc)
				return rc;
			size_t b64 = (f->enriched.len + 2) / 3 * 4;
			/* per partition key: "<name>":"<value>", */
			if (kl_buf_reserve(out, 96 + r->id_len + b64 + 6 * KL_PCOL_COUNT +
						    kl_partition_values_max(ev)))
				return KL_ENOMEM;
			char *o = out->data + out->len;
			PUT(o, "{\"recordId\":");
			memcpy(o, r->id, r->id_len);
			o += r->id_len;
			PUT(o, ",\"result\":\"Ok\",\"data\":\"");
			out->len = (size_t)(o - out->data);
			kl_base64_encode(out, f->enriched.data, f->enriched.len); /* room reserved */
			o = out->data + out->len;
			PUT(o, "\",\"metadata\":{\"partitionKeys\":{");
			o = put_partition_keys(o, ev);
			PUT(o, "}}}");
			out->len = (size_t)(o - out->data);
			st->ok++;
			st->bytes_out += f->enriched.len;
			return KL_OK;
		}
	}
	st->failed++;
	st->failed_by_reason[rej]++; /* KL_REJ_NONE: not base64 */
	return put_passthrough(out, r, "ProcessingFailed", 16);
}

/* --- the walk ------------------------------------------------------------------ */

/* The members of one record, the object at el (checked as they are met),
 * its data decoded into f->raw -> KL_OK, KL_LAMBDA_NOT_JSON or KL_ENOMEM; *after is
 * just past the object. */
static int walk_record(struct kl_firehose *f, const char *el, const char *end, struct rec *r,
		       const char **after)
{
	struct kl_json_walk w;
	struct kl_json_member m;
	int k;
	*r = (struct rec){.decoded = -1};
	if (kl_json_walk_open(&w, el, end, 3, KL_LAMBDA_MAX_DEPTH))
		return KL_LAMBDA_NOT_JSON;
	while ((k = kl_json_walk_next(&w, &m)) == 1) {
		int is_id = !r->id && kl_json_key_is(&m, "recordId", 8);
		int is_data = !r->data && kl_json_key_is(&m, "data", 4);
		if (is_data && m.val < end && *m.val == '"') {
			kl_buf_reset(&f->raw);
			const char *e = kl_json_base64_take(m.val, end, &f->raw, &r->decoded);
			if (e) {
				kl_json_walk_skip(&w, e);
				r->data = m.val;
				r->data_len = (size_t)(e - m.val);
				r->data_string = 1;
				continue;
			}
			if (r->decoded == -2)
				return KL_ENOMEM;
			r->decoded = -1; /* checked below; passed back, failed */
		}
		if (kl_json_walk_value(&w, &m))
			return KL_LAMBDA_NOT_JSON;
		if (is_id) {
			r->id = m.val;
			r->id_len = m.val_len;
			r->id_string = m.type == KL_JSON_STRING;
		} else if (is_data) {
			r->data = m.val;
			r->data_len = m.val_len;
			r->data_string = m.type == KL_JSON_STRING;
		}
	}
	*after = w.p;
	return k < 0 ? KL_LAMBDA_NOT_JSON : KL_OK;
}

/* The elements of the records array at v -> entries in out. */
static int walk_records(struct kl_firehose *f, const char *v, const char *end, struct kl_buf *out,
			size_t start, struct kl_firehose_stats *st, const char **after,
			struct kl_errbuf *eb)
{
	struct kl_json_walk w;
	struct kl_json_member el;
	struct rec r;
	int k, rc;
	if (kl_json_walk_open(&w, v, end, 2, KL_LAMBDA_MAX_DEPTH))
		return KL_LAMBDA_NOT_JSON;
	while ((k = kl_json_walk_next(&w, &el)) == 1) {
		if (el.val >= end || *el.val != '{')
			return kl_errbuf_set(eb, KL_EPARSE, "records[] holds a non-object");
		if (f->should_stop && st->records && st->records % KL_FIREHOSE_STOP_EVERY == 0 &&
		    f->should_stop(f->stop_ctx))
			return kl_errbuf_set(eb, KL_EINTR, "stopped after %" PRIu64 " records: the "
					     "invocation deadline is too close", st->records);
		const char *e = NULL;
		if ((rc = walk_record(f, el.val, end, &r, &e)))
			return rc == KL_ENOMEM ? kl_errbuf_set(eb, rc, "out of memory decoding a record")
					       : rc;
		kl_json_walk_skip(&w, e);
		if (!r.id || !r.id_string)
			return kl_errbuf_set(eb, KL_EPARSE, "a record has no recordId string");
		if ((st->records && (rc = kl_buf_putc(out, ','))) || (rc = record(f, &r, out, st)))
			return kl_errbuf_set(eb, rc, "out of memory building the response");
		if (out->len - start > f->max_response)
			return kl_errbuf_set(eb, KL_ELIMIT,
					     "response would exceed the %zu-byte Lambda payload limit "
					     "after %" PRIu64 " records; lower the Firehose buffering hint",
					     f->max_response, st->records);
	}
	*after = w.p;
	return k < 0 ? KL_LAMBDA_NOT_JSON : KL_OK;
}

/* The top level: its first "records" member transformed, every member
 * checked. */
static int walk_top(struct kl_firehose *f, const char *p, size_t n, struct kl_buf *out,
		    struct kl_firehose_stats *st, struct kl_errbuf *eb)
{
	const char *end = p + n;
	struct kl_json_walk w;
	struct kl_json_member m;
	int k, rc, seen = 0;
	size_t start = out->len;
	if (kl_json_walk_open(&w, p, end, 1, KL_LAMBDA_MAX_DEPTH) || !w.object)
		return kl_errbuf_set(eb, KL_EPARSE,
				     "not a Firehose transformation event (no records array)");
	while ((k = kl_json_walk_next(&w, &m)) == 1) {
		if (seen || !kl_json_key_is(&m, "records", 7)) {
			if (kl_json_walk_value(&w, &m))
				return KL_LAMBDA_NOT_JSON;
			continue;
		}
		seen = 1;
		if (m.val >= end || *m.val != '[')
			return kl_errbuf_set(eb, KL_EPARSE,
					     "not a Firehose transformation event (no records array)");
		/* the response is about the size of the request (a Kinesis
		 * source) or somewhat larger (Direct PUT): one allocation up
		 * front in the common case */
		size_t guess = n + n / 8 + 64;
		if (guess > f->max_response + 4096)
			guess = f->max_response + 4096;
		if (kl_buf_reserve(out, guess) || kl_buf_append(out, "{\"records\":[", 12))
			return kl_errbuf_set(eb, KL_ENOMEM, "out of memory building the response");
		const char *e = NULL;
		if ((rc = walk_records(f, m.val, end, out, start, st, &e, eb)))
			return rc;
		kl_json_walk_skip(&w, e);
		if (kl_buf_append(out, "]}", 2))
			return kl_errbuf_set(eb, KL_ENOMEM, "out of memory building the response");
		if (out->len - start > f->max_response)
			return kl_errbuf_set(eb, KL_ELIMIT,
					     "response would exceed the %zu-byte Lambda payload limit",
					     f->max_response);
	}
	if (k < 0 || kl_json_walk_done(w.p, end))
		return KL_LAMBDA_NOT_JSON;
	if (!seen)
		return kl_errbuf_set(eb, KL_EPARSE,
				     "not a Firehose transformation event (no records array)");
	return KL_OK;
}

int kl_firehose_transform(struct kl_firehose *f, const char *p, size_t n, struct kl_buf *out,
			  struct kl_firehose_stats *st, struct kl_errbuf *eb)
{
	memset(st, 0, sizeof *st);
	return kl_lambda_walk_result(p, n, walk_top(f, p, n, out, st, eb), eb);
}

int kl_firehose_is_event(const char *p, size_t n)
{
	/* the top level's members, checked, up to the first "records" array
	 * once "invocationId" has been met (the records are not read) */
	const char *end = p + n;
	struct kl_json_walk w;
	struct kl_json_member m;
	int k, records = 0, inv = 0, seen = 0;
	if (kl_json_walk_open(&w, p, end, 1, KL_LAMBDA_MAX_DEPTH) || !w.object)
		return 0;
	while ((k = kl_json_walk_next(&w, &m)) == 1) {
		if (kl_json_key_is(&m, "invocationId", 12))
			inv = 1;
		if (!seen && kl_json_key_is(&m, "records", 7)) {
			seen = 1;
			records = m.val < end && *m.val == '[';
		}
		if (records && inv)
			return 1;
		if (kl_json_walk_value(&w, &m))
			return 0;
	}
	return 0;
}
