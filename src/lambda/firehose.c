/* firehose.c — see firehose.h; contract: Firehose developer guide,
 * "Data transformation" and "Dynamic partitioning".
 *
 * Speed: the payload has already passed kl_json_parse (the handler validates
 * it), so this file walks it with trusting scanners, once: the records array
 * is found without skipping it, and each record's members are read in the
 * same pass that steps over them (the base64 data, the bulk of the bytes, is
 * scanned once, 16 bytes at a time). Each record's response entry is written
 * after one reservation of its upper bound, so the hot path neither
 * allocates (buffers only grow to the largest record) nor checks for room
 * byte by byte. */
#include "lambda/firehose.h"
#include "core/base64.h"
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

/* --- scanning validated JSON ------------------------------------------------ */

/* p is just past an opening quote: the closing quote (or end); *esc is set
 * when the string holds a backslash escape. */
static inline const char *str_close(const char *p, const char *end, int *esc)
{
#ifdef __SSE2__
	const __m128i quote = _mm_set1_epi8('"'), bslash = _mm_set1_epi8('\\');
	while (end - p >= 16) {
		__m128i v = _mm_loadu_si128((const __m128i *)p);
		unsigned bits = (unsigned)_mm_movemask_epi8(
			_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, bslash)));
		if (!bits) {
			p += 16;
			continue;
		}
		p += __builtin_ctz(bits);
		if (*p == '"')
			return p;
		*esc = 1;
		p += 2; /* the escaped byte may be a quote */
	}
#endif
	while (p < end) {
		if (*p == '"')
			return p;
		if (*p == '\\') {
			*esc = 1;
			p += 2;
			continue;
		}
		p++;
	}
	return end;
}

/* End of the valid JSON value at p. */
static const char *skip_value(const char *p, const char *end)
{
	int esc = 0;
	if (p >= end)
		return end;
	if (*p == '"') {
		p = str_close(p + 1, end, &esc);
		return p < end ? p + 1 : end;
	}
	if (*p == '{' || *p == '[') {
		size_t depth = 0;
		for (; p < end; p++) {
			if (*p == '"') {
				p = str_close(p + 1, end, &esc);
				if (p >= end)
					return end;
			} else if (*p == '{' || *p == '[') {
				depth++;
			} else if ((*p == '}' || *p == ']') && --depth == 0) {
				return p + 1;
			}
		}
		return end;
	}
	while (p < end && *p != ',' && *p != '}' && *p != ']' && *p != ' ' && *p != '\n' &&
	       *p != '\r' && *p != '\t')
		p++;
	return p;
}

/* A key span (between the quotes) equal to a plain name; escaped keys never
 * match (as kl_json_key_is). */
static inline int key_eq(const char *k, size_t n, int esc, const char *name, size_t len)
{
	return !esc && n == len && memcmp(k, name, len) == 0;
}

/* Walk the members of the validated object at p ('{'): calls visit(ctx,
 * key, key_len, key_esc, value) for each; visit returns the end of the value
 * it stepped over, NULL to let this function skip it, or STOP. Returns the
 * end of the object (past '}'), or NULL if stopped. */
static const char STOP[1];
typedef const char *(*member_fn)(void *ctx, const char *k, size_t kn, int kesc, const char *v,
				 const char *end);

static const char *walk_object(const char *p, const char *end, member_fn visit, void *ctx)
{
	p = kl_json_skip_ws(p + 1, end);
	while (p < end && *p == '"') {
		int kesc = 0;
		const char *k = p + 1, *ke = str_close(k, end, &kesc);
		p = kl_json_skip_ws(ke + 1, end);
		p = kl_json_skip_ws(p + 1, end); /* ':' */
		const char *v = visit(ctx, k, (size_t)(ke - k), kesc, p, end);
		if (v == STOP)
			return NULL;
		p = kl_json_skip_ws(v ? v : skip_value(p, end), end);
		if (p < end && *p == ',')
			p = kl_json_skip_ws(p + 1, end);
	}
	return p < end ? p + 1 : end; /* '}' */
}

/* the top level: the first "records" member and whether "invocationId" is there */
struct top {
	const char *records; /* value of the first "records" member, NULL if none */
	int invocation, want_inv;
};

static const char *top_member(void *ctx, const char *k, size_t kn, int kesc, const char *v,
			      const char *end)
{
	struct top *t = ctx;
	(void)end;
	if (key_eq(k, kn, kesc, "invocationId", 12)) {
		t->invocation = 1;
		if (t->records)
			return STOP;
	} else if (!t->records && key_eq(k, kn, kesc, "records", 7)) {
		t->records = v;
		/* the records array is the bulk of the payload: do not skip it
		 * unless "invocationId" may still follow */
		if (*v != '[' || t->invocation || !t->want_inv)
			return STOP;
	}
	return NULL;
}

static struct top find_top(const char *p, size_t n, int want_inv)
{
	struct top t = {NULL, 0, want_inv};
	const char *end = p + n;
	p = kl_json_skip_ws(p, end);
	if (p < end && *p == '{')
		walk_object(p, end, top_member, &t);
	return t;
}

int kl_firehose_is_event(const char *p, size_t n)
{
	struct top t = find_top(p, n, 1);
	return t.records && *t.records == '[' && t.invocation;
}

/* --- one record ---------------------------------------------------------------- */

struct rec {
	const char *id, *data; /* values, quotes included; NULL if absent */
	size_t id_len, data_len;
	int id_string, data_string, data_esc;
};

static const char *rec_member(void *ctx, const char *k, size_t kn, int kesc, const char *v,
			      const char *end)
{
	struct rec *r = ctx;
	/* the first member of each name counts, as with kl_json_object_get */
	int is_id = !kesc && !r->id && key_eq(k, kn, 0, "recordId", 8);
	int is_data = !kesc && !r->data && key_eq(k, kn, 0, "data", 4);
	if (!is_id && !is_data)
		return NULL;
	int esc = 0, str = *v == '"';
	const char *e;
	if (str) {
		e = str_close(v + 1, end, &esc);
		e = e < end ? e + 1 : end;
	} else {
		e = skip_value(v, end);
	}
	if (is_id) {
		r->id = v;
		r->id_len = (size_t)(e - v);
		r->id_string = str;
	} else {
		r->data = v;
		r->data_len = (size_t)(e - v);
		r->data_string = str;
		r->data_esc = esc;
	}
	return e;
}

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
	/* decode: invalid base64 is a failed record, its data passed back unchanged */
	long n = -1;
	enum kl_reject rej = KL_REJ_NONE;
	if (r->data && r->data_string && !r->data_esc) {
		kl_buf_reset(&f->raw);
		if (kl_buf_reserve(&f->raw, kl_base64_decoded_max(r->data_len)))
			return KL_ENOMEM;
		n = kl_base64_decode(r->data + 1, r->data_len - 2, (unsigned char *)f->raw.data);
	}
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
	const char *end = p + n;
	struct top t = find_top(p, n, 0);
	if (!t.records || *t.records != '[')
		return kl_errbuf_set(eb, KL_EPARSE, "not a Firehose transformation event (no records array)");
	size_t start = out->len;
	/* the response is about the size of the request (a Kinesis source) or
	 * somewhat larger (Direct PUT): one allocation up front in the common case */
	size_t guess = n + n / 8 + 64;
	if (guess > f->max_response + 4096)
		guess = f->max_response + 4096;
	if (kl_buf_reserve(out, guess) || kl_buf_append(out, "{\"records\":[", 12))
		return kl_errbuf_set(eb, KL_ENOMEM, "out of memory building the response");
	const char *q = kl_json_skip_ws(t.records + 1, end);
	int rc = KL_OK;
	while (q < end && *q != ']') {
		if (*q != '{')
			return kl_errbuf_set(eb, KL_EPARSE, "records[] holds a non-object");
		if (f->should_stop && st->records && st->records % KL_FIREHOSE_STOP_EVERY == 0 &&
		    f->should_stop(f->stop_ctx))
			return kl_errbuf_set(eb, KL_EINTR, "stopped after %" PRIu64 " records: the "
					     "invocation deadline is too close", st->records);
		struct rec r = {0};
		q = walk_object(q, end, rec_member, &r);
		if (!r.id || !r.id_string)
			return kl_errbuf_set(eb, KL_EPARSE, "a record has no recordId string");
		if (st->records && (rc = kl_buf_putc(out, ',')))
			break;
		if ((rc = record(f, &r, out, st)))
			break;
		if (out->len - start > f->max_response)
			return kl_errbuf_set(eb, KL_ELIMIT,
					     "response would exceed the %zu-byte Lambda payload limit "
					     "after %" PRIu64 " records; lower the Firehose buffering hint",
					     f->max_response, st->records);
		q = kl_json_skip_ws(q, end);
		if (q < end && *q == ',')
			q = kl_json_skip_ws(q + 1, end);
	}
	rc = rc ? rc : kl_buf_append(out, "]}", 2);
	if (!rc && out->len - start > f->max_response)
		return kl_errbuf_set(eb, KL_ELIMIT, "response would exceed the %zu-byte Lambda payload limit",
				     f->max_response);
	return rc ? kl_errbuf_set(eb, rc, "out of memory building the response") : KL_OK;
}
