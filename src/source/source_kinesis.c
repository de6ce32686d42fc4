/* source_kinesis.c — see source_kinesis.h. API: Kinesis GetShardIterator
 * and GetRecords (botocore kinesis-2013-12-02). */
#include "source/source_kinesis.h"
#include "aws/kinesis.h"
#include "buffer/budget.h"
#include "core/base64.h"
#include "core/clock.h"
#include "decode/kpl.h"
#include "event/event.h"
#include "metrics/metrics.h"
#include "parse/json.h"
#include "source/seqmap.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MIN_CALL_GAP_MS 200 /* 5 GetRecords calls per second per shard */
/* A shard that is caught up (MillisBehindLatest 0) and answered with no
 * records is read again after 1 s (idle_poll_ms, --idle-poll-interval), as
 * the KCL's idleTimeBetweenReadsInMillis: an idle stream costs one call per
 * shard a second, not five, which leaves the shard's read limit (shared by
 * every consumer) to the others. */
#define IDLE_CALL_GAP_MS 1000
#define READ_BYTES_PER_S (2 << 20) /* and 2 MB/s of data per shard */
#define ANSWER_MAX_DEPTH 64	   /* a GetRecords answer's nesting, as any JSON text read here */
enum { SEEN_RECORDS = 1, SEEN_NEXT = 2, SEEN_BEHIND = 4, SEEN_CHILDREN = 8 };

struct src_kinesis {
	struct kl_source base;
	struct kl_kinesis k;
	char stream[512], shard[KL_SHARD_MAX + 1], start[64], checkpoint[160];
	char input[700]; /* "kinesis:<stream>/<shard>": dead-letter sources */
	int is_arn;
	int64_t exit_idle_ms;
	int64_t idle_gap_ms; /* a caught-up shard's call after an empty answer */
	int stop_fd;
	struct kl_cancel stop; /* stop_fd as a token: Kinesis calls give up at a stop */
	struct kl_metrics_shard *metrics;
	char iterator[4096];
	int have_iterator, closed, batch_empty;
	int at_end; /* EOF at the end of a closed shard (not on idle) */
	char last_seq[KL_SEQ_MAX + 1]; /* last Kinesis record handed out */
	int64_t last_call_ms, last_record_ms, behind;
	/* a record was handed out since last_record_ms was set: it is set when
	 * the batch runs out (one clock read a batch, not one a record) */
	int handed;
	int64_t gap_ms; /* wait this long after last_call_ms before the next call */
	int64_t throttle_ms; /* the last wait after a call failed all its retries, 0 = none */
	unsigned limit;	     /* GetRecords' Limit for the next call (kl_kinesis_read_limit) */
	size_t batch_records; /* Kinesis records of the current batch read so far */
	/* current GetRecords batch: read in place from the client's response
	 * body (k.c.resp.body), which the next call overwrites only once the
	 * batch is read to its end. The answer is checked as it is read (a
	 * validating walk, parse/json.h): one pass, record by record, instead of
	 * a pass over megabytes before the first record. */
	struct kl_json_walk top;  /* its top-level members */
	struct kl_json_walk recs; /* its Records array, while in_records */
	int in_records;
	unsigned seen; /* SEEN_*: top-level members met so far (the first counts) */
	struct kl_json_member behind_m, next_m, children_m;
	struct kl_buf data; /* decoded base64 of the current Kinesis record */
	struct kl_kpl kpl;
	const struct kl_kpl_record *subs;
	size_t nsubs, isub;
	uint64_t next_pos;
	int64_t arrival_ms; /* the current Kinesis record's ApproximateArrivalTimestamp */
	/* position -> sequence number, for records not yet durable */
	struct kl_seqmap marks;
	struct kl_budget *pin; /* borrowed, optional: the marks' memory is pinned there */
	size_t pinned;	       /* what this source pinned (kl_seqmap_bytes when last grown) */
	struct kl_buf req;
};

/* Sleep up to ms; KL_EINTR when the stop fd fires. */
static int nap(struct src_kinesis *s, int64_t ms)
{
	if (ms <= 0)
		return KL_OK;
	struct pollfd p = {.fd = s->stop_fd, .events = POLLIN};
	int n = poll(&p, s->stop_fd >= 0 ? 1 : 0, (int)ms);
	return n > 0 ? KL_EINTR : KL_OK;
}

static int stream_field(struct src_kinesis *s, struct kl_buf *b)
{
	int rc = kl_buf_puts(b, s->is_arn ? "\"StreamARN\":\"" : "\"StreamName\":\"");
	rc = rc ? rc : kl_json_escape_append(b, s->stream, strlen(s->stream));
	return rc ? rc : kl_buf_putc(b, '"');
}

static int get_iterator(struct src_kinesis *s)
{
	struct kl_buf *b = &s->req;
	kl_buf_reset(b);
	int rc = kl_buf_putc(b, '{');
	rc = rc ? rc : stream_field(s, b);
	rc = rc ? rc : kl_buf_printf(b, ",\"ShardId\":\"%s\",", s->shard);
	if (s->last_seq[0])
		rc = rc ? rc : kl_buf_printf(b, "\"ShardIteratorType\":\"AFTER_SEQUENCE_NUMBER\","
					     "\"StartingSequenceNumber\":\"%s\"}", s->last_seq);
	else if (!strncmp(s->checkpoint, "at:", 3))
		rc = rc ? rc : kl_buf_printf(b, "\"ShardIteratorType\":\"AT_SEQUENCE_NUMBER\","
					     "\"StartingSequenceNumber\":\"%s\"}", s->checkpoint + 3);
	else if (!strncmp(s->checkpoint, "after:", 6))
		rc = rc ? rc : kl_buf_printf(b, "\"ShardIteratorType\":\"AFTER_SEQUENCE_NUMBER\","
					     "\"StartingSequenceNumber\":\"%s\"}", s->checkpoint + 6);
	else if (!strcmp(s->start, "latest"))
		rc = rc ? rc : kl_buf_puts(b, "\"ShardIteratorType\":\"LATEST\"}");
	else if (!strncmp(s->start, "at-timestamp:", 13))
		rc = rc ? rc : kl_buf_printf(b, "\"ShardIteratorType\":\"AT_TIMESTAMP\",\"Timestamp\":%s}",
					     s->start + 13);
	else
		rc = rc ? rc : kl_buf_puts(b, "\"ShardIteratorType\":\"TRIM_HORIZON\"}");
	if (rc)
		return kl_errbuf_set(&s->base.err, KL_ENOMEM, "out of memory");
	if ((rc = kl_kinesis_call(&s->k, "GetShardIterator", b->data, b->len)))
		return kl_errbuf_set(&s->base.err, rc, "%s", s->k.c.err.msg);
	struct kl_json_member m;
	const struct kl_buf *body = &s->k.c.resp.body;
	if (kl_json_parse(body->data, body->len, 16, NULL, NULL) ||
	    !kl_json_object_get(body->data, body->len, "ShardIterator", &m) ||
	    m.type != KL_JSON_STRING || m.val_len - 2 >= sizeof s->iterator)
		return kl_errbuf_set(&s->base.err, KL_EPARSE, "GetShardIterator: no ShardIterator");
	memcpy(s->iterator, m.val + 1, m.val_len - 2);
	s->iterator[m.val_len - 2] = '\0';
	s->have_iterator = 1;
	return KL_OK;
}

/* Throttled (or 5xx, resets) through every retry of one call: a consumer
 * does not give up on a busy shard. The batch is empty, the iterator kept,
 * and the next call waits longer (doubling, 1 s to 30 s); the shard is not
 * idle meanwhile (its lag is unknown), so --exit-idle cannot end it. The
 * call sent again after the wait counts as a retry. */
static int throttled(struct src_kinesis *s)
{
	if (s->k.c.retries) /* the next call sends it again: a retry too */
		atomic_fetch_add_explicit(s->k.c.retries, 1, memory_order_relaxed);
	s->throttle_ms = s->throttle_ms ? s->throttle_ms * 2 : 1000;
	if (s->throttle_ms > 30000)
		s->throttle_ms = 30000;
	s->gap_ms = s->throttle_ms;
	s->last_call_ms = kl_mono_ms();
	s->behind = -1;
	s->in_records = 0;
	s->batch_empty = 1;
	return KL_OK;
}

/* The batch ends at a fault in the answer: KL_EPARSE with msg. */
static int bad_answer(struct src_kinesis *s, const char *msg)
{
	s->in_records = 0;
	return kl_errbuf_set(&s->base.err, KL_EPARSE, "GetRecords: %s", msg);
}

static int not_json(struct src_kinesis *s)
{
	return bad_answer(s, "response is not JSON");
}

/* The answer's end (all of it checked): the next iterator,
 * MillisBehindLatest, and whether the shard is closed. */
static void batch_outcome(struct src_kinesis *s)
{
	if (s->seen & SEEN_BEHIND) {
		s->behind = strtoll(s->behind_m.val, NULL, 10);
		if (s->metrics)
			atomic_store_explicit(&s->metrics->millis_behind, s->behind,
					      memory_order_relaxed);
	}
	const struct kl_json_member *next = &s->next_m;
	if (!(s->seen & SEEN_NEXT) || next->type != KL_JSON_STRING) {
		s->closed = 1; /* the shard was split or merged and is read to its end */
	} else if (next->val_len - 2 < sizeof s->iterator) {
		memcpy(s->iterator, next->val + 1, next->val_len - 2);
		s->iterator[next->val_len - 2] = '\0';
	}
	if (s->batch_empty && s->behind == 0 && s->gap_ms < s->idle_gap_ms)
		s->gap_ms = s->idle_gap_ms;
	/* At the end of a closed shard the response names its children
	 * (ChildShards). Some servers keep handing out iterators there: the
	 * children are the authoritative sign that nothing more will come. */
	const struct kl_json_member *c = &s->children_m;
	if (s->batch_empty && (s->seen & SEEN_CHILDREN) && c->type == KL_JSON_ARRAY &&
	    *kl_json_skip_ws(c->val + 1, c->val + c->val_len) != ']')
		s->closed = 1;
}

/* The answer's top-level members from where its walk is (the first of a
 * name counts, as with kl_json_object_get), up to a Records array with
 * records in it (they are read from there, and this goes on after them) or
 * to the answer's end. */
static int top_members(struct src_kinesis *s)
{
	struct kl_json_member m;
	const char *end = s->top.end;
	int r;
	while ((r = kl_json_walk_next(&s->top, &m)) == 1) {
		if (!(s->seen & SEEN_RECORDS) && kl_json_key_is(&m, "Records", 7) &&
		    m.val < end && *m.val == '[') {
			s->seen |= SEEN_RECORDS;
			if (kl_json_walk_open(&s->recs, m.val, end, 2, ANSWER_MAX_DEPTH))
				return not_json(s);
			const char *p = kl_json_skip_ws(s->recs.p, end);
			if (p < end && *p != ']') {
				s->in_records = 1;
				s->batch_empty = 0;
				return KL_OK;
			}
			struct kl_json_member none; /* "[]" closes, a text cut here fails */
			if (kl_json_walk_next(&s->recs, &none))
				return not_json(s);
			kl_json_walk_skip(&s->top, s->recs.p);
			continue;
		}
		if (kl_json_walk_value(&s->top, &m))
			return not_json(s);
		if (kl_json_key_is(&m, "Records", 7))
			s->seen |= SEEN_RECORDS; /* not an array: no records */
		else if (!(s->seen & SEEN_NEXT) && kl_json_key_is(&m, "NextShardIterator", 17))
			s->next_m = m, s->seen |= SEEN_NEXT;
		else if (!(s->seen & SEEN_BEHIND) && kl_json_key_is(&m, "MillisBehindLatest", 18))
			s->behind_m = m, s->seen |= SEEN_BEHIND;
		else if (!(s->seen & SEEN_CHILDREN) && kl_json_key_is(&m, "ChildShards", 11))
			s->children_m = m, s->seen |= SEEN_CHILDREN;
	}
	if (r < 0 || kl_json_walk_done(s->top.p, end))
		return not_json(s);
	batch_outcome(s);
	return KL_OK;
}

static void count_answer(struct src_kinesis *s)
{
	if (s->metrics)
		atomic_fetch_add_explicit(&s->metrics->get_records, 1, memory_order_relaxed);
}

/* A GetRecords answer (the client's response body, which must stay as it
 * is while the batch is read) -> the batch, up to its first record. */
static int take_batch(struct src_kinesis *s)
{
	const char *b = s->k.c.resp.body.data;
	size_t n = s->k.c.resp.body.len;
	if (!b)
		b = "", n = 0; /* an empty body never allocated */
	s->in_records = 0;
	s->seen = 0;
	s->batch_empty = 1;
	if (kl_json_walk_open(&s->top, b, b + n, 1, ANSWER_MAX_DEPTH) || !s->top.object) {
		/* JSON that is no object has no members: no records, no iterator */
		if (kl_json_parse(b, n, ANSWER_MAX_DEPTH, NULL, NULL))
			return not_json(s);
		count_answer(s);
		batch_outcome(s);
		return KL_OK;
	}
	count_answer(s);
	return top_members(s);
}

/* One GetRecords call; fills the batch iterator. */
static int get_records(struct src_kinesis *s)
{
	int rc = nap(s, s->last_call_ms + s->gap_ms - kl_mono_ms());
	if (rc)
		return rc;
	/* the Limit from the batch just read, if it had records: the client's
	 * response body is still the one it was read from */
	if (s->batch_records)
		s->limit = kl_kinesis_read_limit(s->k.c.resp.body.len, s->batch_records);
	s->batch_records = 0;
	/* the calls below reuse the response body the batch was read from */
	s->in_records = 0;
	if (!s->have_iterator && (rc = get_iterator(s)))
		return rc == KL_ERETRY ? throttled(s) : rc;
	kl_buf_reset(&s->req);
	rc = kl_buf_printf(&s->req, "{\"ShardIterator\":\"%s\",\"Limit\":%u}", s->iterator,
			   s->limit);
	if (rc)
		return kl_errbuf_set(&s->base.err, KL_ENOMEM, "out of memory");
	s->last_call_ms = kl_mono_ms();
	rc = kl_kinesis_call(&s->k, "GetRecords", s->req.data, s->req.len);
	if (rc && !strcmp(s->k.c.last.code, "ExpiredIteratorException")) {
		s->have_iterator = 0; /* renew from the last sequence number read */
		return KL_OK;
	}
	if (rc == KL_ERETRY)
		return throttled(s);
	if (rc)
		return kl_errbuf_set(&s->base.err, rc, "%s", s->k.c.err.msg);
	s->throttle_ms = 0;
	/* Pace the shard to its read limits: 5 calls/s, and a response of B
	 * bytes of data (3/4 of the base64 body) spends B / 2 MB/s. A 10 MB
	 * answer thus waits 5 s, as Kinesis would otherwise refuse the calls. */
	int64_t data_ms = (int64_t)(s->k.c.resp.body.len / 4 * 3) * 1000 / READ_BYTES_PER_S;
	s->gap_ms = data_ms > MIN_CALL_GAP_MS ? data_ms : MIN_CALL_GAP_MS;
	return take_batch(s);
}

/* Next Kinesis record of the batch -> user records in s->subs. */
static int next_kinesis_record(struct src_kinesis *s, int *got)
{
	struct kl_json_member el, m, q = {0}, t = {0};
	int have_d = 0, data_ok = 0, have_q = 0, have_t = 0, r;
	*got = 0;
	if (!s->in_records)
		return KL_OK;
	const char *end = s->recs.end;
	if ((r = kl_json_walk_next(&s->recs, &el)) <= 0) {
		if (r < 0)
			return not_json(s);
		s->in_records = 0; /* the array closed: the members after it */
		kl_json_walk_skip(&s->top, s->recs.p);
		return top_members(s);
	}
	if (el.val >= end || *el.val != '{') { /* not an object: it has no Data */
		if (kl_json_walk_value(&s->recs, &el))
			return not_json(s);
		return bad_answer(s, "record without Data");
	}
	/* the record's members in one walk, each checked as it is met */
	struct kl_json_walk rw;
	if (kl_json_walk_open(&rw, el.val, end, 3, ANSWER_MAX_DEPTH))
		return not_json(s);
	while ((r = kl_json_walk_next(&rw, &m)) == 1) {
		if (!have_d && kl_json_key_is(&m, "Data", 4) && m.val < end && *m.val == '"') {
			/* decoded into s->data straight from the answer */
			long dn;
			kl_buf_reset(&s->data);
			const char *after = kl_json_base64_take(m.val, end, &s->data, &dn);
			if (!after && dn == -2) {
				s->in_records = 0;
				return kl_errbuf_set(&s->base.err, KL_ENOMEM, "out of memory");
			}
			if (!after) /* a string with an escape, say: Data is plain base64 */
				return kl_json_walk_value(&rw, &m) ? not_json(s)
								   : bad_answer(s, "Data is not base64");
			kl_json_walk_skip(&rw, after);
			have_d = data_ok = 1;
			continue;
		}
		if (kl_json_walk_value(&rw, &m))
			return not_json(s);
		if (!have_q && kl_json_key_is(&m, "SequenceNumber", 14))
			q = m, have_q = 1;
		else if (!have_t && kl_json_key_is(&m, "ApproximateArrivalTimestamp", 27))
			t = m, have_t = 1;
		else if (kl_json_key_is(&m, "Data", 4))
			have_d = 1; /* not a string: the check below says so */
	}
	if (r < 0)
		return not_json(s);
	kl_json_walk_skip(&s->recs, rw.p);
	/* epoch seconds with a fraction: dates the record's dead letters, the
	 * same in every run that reads it (not the run's own date) */
	s->arrival_ms = have_t && (t.type == KL_JSON_NUMBER || t.type == KL_JSON_INT)
			     ? kl_kinesis_arrival_ms(t.val, t.val_len)
			     : 0;
	if (!data_ok || !have_q || q.type != KL_JSON_STRING)
		return bad_answer(s, "record without Data");
	int aggregated;
	const char *why;
	if (kl_kpl_decode(&s->kpl, (const uint8_t *)s->data.data, s->data.len, &s->subs, &s->nsubs,
			  &aggregated, &why))
		return KL_ENOMEM;
	s->isub = 0;
	int rc = kl_seqmap_add(&s->marks, s->next_pos, q.val + 1, q.val_len - 2, aggregated);
	if (rc == KL_EPARSE)
		return kl_errbuf_set(&s->base.err, rc,
				     "GetRecords: SequenceNumber \"%.*s\" is not "
				     "a sequence number",
				     (int)(q.val_len - 2 < 200 ? q.val_len - 2 : 200), q.val + 1);
	if (rc)
		return kl_errbuf_set(&s->base.err, rc, "out of memory");
	/* kl_seqmap_add checked it: 1 to KL_SEQ_MAX digits */
	memcpy(s->last_seq, q.val + 1, q.val_len - 2);
	s->last_seq[q.val_len - 2] = '\0';
	s->batch_records++;
	if (s->pin) { /* the marks only grow: one compare a record */
		size_t b = kl_seqmap_bytes(&s->marks);
		if (b > s->pinned) {
			kl_budget_pin(s->pin, b - s->pinned);
			s->pinned = b;
		}
	}
	*got = 1;
	return KL_OK;
}

/* timeout_ms is honoured only as 0, "do not block": a caller that holds
 * records (the parallel read loop with a chunk to hand on) gets KL_SRC_IDLE
 * once the batch is used up, instead of waiting out the call gap and the next
 * GetRecords with them; any other value may wait for one call (the call gap
 * bounds it; the pipeline's flush timeouts are longer than a call). */
static int k_next(struct kl_source *base, struct kl_record *rec, int timeout_ms)
{
	struct src_kinesis *s = (struct src_kinesis *)base;
	for (;;) {
		if (s->isub < s->nsubs) {
			const struct kl_kpl_record *u = &s->subs[s->isub++];
			kl_source_user_record(&s->base, rec, u->data, u->len, &s->next_pos,
					      s->arrival_ms);
			s->handed = 1;
			if (s->metrics)
				atomic_fetch_add_explicit(&s->metrics->records, 1,
							  memory_order_relaxed);
			return KL_SRC_RECORD;
		}
		int got, rc = next_kinesis_record(s, &got);
		if (rc)
			return rc;
		if (got)
			continue;
		/* batch exhausted */
		if (s->closed) {
			s->at_end = 1; /* kl_source_kinesis_at_end */
			return KL_SRC_EOF;
		}
		int64_t t = kl_mono_ms();
		if (s->handed) /* the batch's last record went out just now */
			s->last_record_ms = t, s->handed = 0;
		if (s->exit_idle_ms && s->behind == 0 && s->last_call_ms &&
		    t - s->last_record_ms >= s->exit_idle_ms)
			return KL_SRC_EOF;
		if (timeout_ms == 0)
			return KL_SRC_IDLE;
		s->batch_empty = 0;
		if ((rc = get_records(s)))
			return rc;
		if (s->batch_empty && !s->closed)
			return KL_SRC_IDLE; /* an empty batch: let the pipeline check ages */
	}
}

unsigned kl_kinesis_read_limit(size_t body_len, size_t records)
{
	if (!records)
		return KL_KINESIS_FIRST_LIMIT;
	size_t per = body_len / records; /* a record's share of the body */
	size_t n = per ? KL_KINESIS_CALL_BYTES / per : KL_KINESIS_MAX_LIMIT;
	return n < 1 ? 1 : n > KL_KINESIS_MAX_LIMIT ? KL_KINESIS_MAX_LIMIT : (unsigned)n;
}

static int k_pos_name(struct kl_source *base, uint64_t pos, char *out, size_t cap)
{
	struct src_kinesis *s = (struct src_kinesis *)base;
	return kl_seqmap_stem(&s->marks, s->shard, pos, out, cap);
}

static int k_origin(struct kl_source *base, uint64_t pos, char *out, size_t cap)
{
	struct src_kinesis *s = (struct src_kinesis *)base;
	return kl_seqmap_origin(&s->marks, s->input, pos, out, cap);
}

/* "at:<seq> <pos>": read again from Kinesis record <seq>, whose first user
 * record is at position <pos>; "after:<seq> <pos>": from the record after
 * <seq>, whose first user record will be at <pos>. */
static int k_checkpoint(struct kl_source *base, uint64_t pos, char *out, size_t cap)
{
	struct src_kinesis *s = (struct src_kinesis *)base;
	int n;
	if (pos >= s->next_pos) {
		if (!s->last_seq[0])
			return -1;
		/* user records of the current aggregated record still to come: read
		 * it again from its first one (those handed out are then replay-only) */
		if (s->isub < s->nsubs)
			n = snprintf(out, cap, "at:%s %" PRIu64, s->last_seq, s->next_pos - s->isub);
		else
			n = snprintf(out, cap, "after:%s %" PRIu64, s->last_seq, s->next_pos);
	} else {
		const struct kl_seqmark *m = kl_seqmap_find(&s->marks, pos);
		if (!m)
			return -1;
		char seq[KL_SEQ_MAX + 1];
		n = snprintf(out, cap, "at:%s %" PRIu64, kl_seqmap_seq(&s->marks, m, seq),
			     m->first_pos);
		/* marks before m are no longer needed by names or checkpoints */
		kl_seqmap_forget(&s->marks, m);
	}
	return n > 0 && (size_t)n < cap ? 0 : -1;
}

static void k_free(struct kl_source *base)
{
	struct src_kinesis *s = (struct src_kinesis *)base;
	kl_kinesis_cleanup(&s->k);
	kl_kpl_cleanup(&s->kpl);
	kl_buf_cleanup(&s->data);
	kl_buf_cleanup(&s->req);
	kl_seqmap_cleanup(&s->marks);
	if (s->pin)
		kl_budget_unpin(s->pin, s->pinned);
	free(s);
}

static uint64_t k_next_pos(struct kl_source *base)
{
	return ((struct src_kinesis *)base)->next_pos;
}

static int k_resume(struct kl_source *base, const char *checkpoint);
static const struct kl_source_ops kinesis_ops = {
    .next = k_next,		/* user records of GetRecords batches */
    .next_pos = k_next_pos,	/* the next user record's, counted from the checkpoint */
    .free = k_free,		/* the client, buffers and marks */
    .pos_name = k_pos_name,	/* "<shard>-<sequence number>[-<n>]" (seqmap.h) */
    .checkpoint = k_checkpoint, /* "at:<seq> <pos>" / "after:<seq> <pos>" */
    .resume = k_resume,		/* the checkpoint from the state */
    .origin = k_origin,		/* "kinesis:<stream>/<shard>:<seq>[:<n>]" (seqmap.h) */
};

int kl_source_kinesis_at_end(const struct kl_source *base)
{
	const struct src_kinesis *s = (const struct src_kinesis *)base;
	return base && base->ops == &kinesis_ops && s->at_end;
}

int kl_source_kinesis_feed(struct kl_source *base, const void *body, size_t n)
{
	struct src_kinesis *s = (struct src_kinesis *)base;
	s->batch_records = 0;
	s->batch_empty = 0;
	s->in_records = 0;
	kl_buf_reset(&s->k.c.resp.body);
	if (kl_buf_append(&s->k.c.resp.body, body, n))
		return kl_errbuf_set(&s->base.err, KL_ENOMEM, "out of memory");
	s->last_call_ms = kl_mono_ms();
	return take_batch(s);
}

int kl_source_kinesis_resume(struct kl_source *base, const char *checkpoint)
{
	return k_resume(base, checkpoint);
}

/* Split "<at:|after:><seq>[ <pos>]" into the iterator's start and the base
 * position; 1 if the checkpoint carries a position. */
static int k_resume(struct kl_source *base, const char *checkpoint)
{
	struct src_kinesis *s = (struct src_kinesis *)base;
	if (!checkpoint || !*checkpoint)
		return 0;
	const char *sp = strchr(checkpoint, ' ');
	size_t n = sp ? (size_t)(sp - checkpoint) : strlen(checkpoint);
	if (n >= sizeof s->checkpoint)
		n = sizeof s->checkpoint - 1;
	memcpy(s->checkpoint, checkpoint, n);
	s->checkpoint[n] = '\0';
	if (!sp)
		return 0; /* an older state: positions start at 0 */
	const char *p = sp + 1;
	uint64_t v = 0;
	size_t i = 0;
	for (; p[i] >= '0' && p[i] <= '9' && i < 20; i++) {
		unsigned d = (unsigned)(p[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return 0;
		v = v * 10 + d;
	}
	if (!i || p[i])
		return 0;
	s->next_pos = v;
	return 1;
}

struct kl_source *kl_source_kinesis_new(const struct kl_kinesis_source_opts *o,
					struct kl_errbuf *eb)
{
	struct src_kinesis *s = calloc(1, sizeof *s);
	if (!s) {
		kl_errbuf_set(eb, KL_ENOMEM, "out of memory");
		return NULL;
	}
	s->base.ops = &kinesis_ops;
	kl_seqmap_init(&s->marks);
	if (!kl_seqmap_shard_ok(o->shard_id, strlen(o->shard_id))) {
		kl_errbuf_set(eb, KL_EINVAL,
			      "shard id \"%.200s\" is not [a-zA-Z0-9_.-]{1,%d}: it "
			      "could not name files",
			      o->shard_id, KL_SHARD_MAX);
		free(s);
		return NULL;
	}
	snprintf(s->stream, sizeof s->stream, "%s", o->stream);
	snprintf(s->shard, sizeof s->shard, "%s", o->shard_id);
	kl_seqmap_input(s->input, sizeof s->input, s->stream, strlen(s->stream), s->shard);
	snprintf(s->start, sizeof s->start, "%s", o->start ? o->start : "trim-horizon");
	if (o->checkpoint)
		k_resume(&s->base, o->checkpoint);
	s->is_arn = !strncmp(o->stream, "arn:", 4);
	s->exit_idle_ms = o->exit_idle_ms;
	s->idle_gap_ms = o->idle_poll_ms > MIN_CALL_GAP_MS ? o->idle_poll_ms
			 : o->idle_poll_ms				? MIN_CALL_GAP_MS
								: IDLE_CALL_GAP_MS;
	s->stop_fd = o->stop_fd;
	s->metrics = o->metrics;
	s->pin = o->pin;
	s->gap_ms = MIN_CALL_GAP_MS;
	s->limit = KL_KINESIS_FIRST_LIMIT;
	s->behind = -1;
	s->last_record_ms = kl_mono_ms();
	kl_buf_init(&s->data, 0);
	kl_buf_init(&s->req, 0);
	kl_kpl_init(&s->kpl);
	if (kl_kinesis_init(&s->k, o->region, eb)) {
		k_free(&s->base);
		return NULL;
	}
	if (o->creds)
		kl_kinesis_share_creds(&s->k, o->creds, o->creds_mu);
	s->stop = (struct kl_cancel){NULL, o->stop_fd};
	s->k.c.cancel = o->stop_fd >= 0 ? &s->stop : NULL;
	s->k.c.retries = o->retries;
	s->k.c.moved = o->moved;
	return &s->base;
}
