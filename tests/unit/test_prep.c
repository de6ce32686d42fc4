/* test_prep.c — pipeline/prep.h: a chunk's results equal what the serial
 * path computes record by record, and the pool hands chunks back in order. */
#include "check.h"
#include "pipeline/prep.h"
#include "route/partition.h"

#include <stdio.h>
#include <string.h>

static const char *const recs[] = {
    "{\"event_uuid\":\"u1\",\"event_name\":\"a:b\",\"created_at\":1764547200}",
    "{\"event_uuid\":\"u\\u0032\",\"event_name\":\"shop:order:paid\",\"created_at\":1764550800.25,"
    "\"event_type\":\"x\",\"n\":[1, 2]}",
    "not json",
    "{\"event_uuid\":\"u3\",\"event_name\":\"c\",\"created_at\":-1}",
    "[1]",
    "{\"event_uuid\":\"u4\",\"event_name\":\"c\",\"created_at\":3}",
};
#define NRECS (sizeof recs / sizeof recs[0])

/* What the serial path makes of record i (pipeline.c prepare_serial +
 * apply's kl_event_write_json), compared with the chunk's record. */
static void check_same(const struct kl_prep_chunk *c, size_t i, const struct kl_event_limits *lim,
		       const char *dead_dt, int replayed)
{
	struct kl_event ev;
	struct kl_buf key, body;
	kl_event_init(&ev);
	kl_buf_init(&key, 0);
	kl_buf_init(&body, 0);
	const struct kl_prep_rec *r = &c->v[i];
	const char *out = c->out.data;
	enum kl_reject rej = kl_event_parse(&ev, recs[i], strlen(recs[i]), lim);
	CHECK_EQ_INT(r->rej, rej);
	if (rej == KL_REJ_NONE) {
		CHECK(r->uuid_len == ev.uuid.n && !memcmp(out + r->uuid_off, ev.uuid.p, ev.uuid.n));
	}
	if (replayed) {
		CHECK_EQ_INT(r->key_len, 0);
		CHECK_EQ_INT(r->body_len, 0);
	} else if (rej == KL_REJ_NONE) {
		CHECK_EQ_INT(kl_partition_event(&key, &ev), 0);
		CHECK_EQ_INT(kl_event_write_json(&ev, recs[i], strlen(recs[i]), &body), 0);
		CHECK(r->key_len == key.len && !memcmp(out + r->key_off, key.data, key.len));
		CHECK(r->body_len == body.len && !memcmp(out + r->body_off, body.data, body.len));
		CHECK_EQ_INT(r->body_reserve, kl_event_json_reserve(&ev, strlen(recs[i])));
	} else {
		CHECK_EQ_INT(kl_partition_error(&key, kl_reject_name(rej), dead_dt), 0);
		CHECK(r->key_len == key.len && !memcmp(out + r->key_off, key.data, key.len));
		CHECK_EQ_STR(out + r->msg_off, ev.msg); /* NUL-terminated */
		CHECK_EQ_INT(r->err_offset, ev.err_offset);
		CHECK_EQ_INT(r->body_len, 0);
	}
	kl_event_cleanup(&ev);
	kl_buf_cleanup(&key);
	kl_buf_cleanup(&body);
}

static void test_chunk(void)
{
	struct kl_event_limits lim;
	kl_event_limits_default(&lim);
	struct kl_prep_ctx x;
	kl_prep_ctx_init(&x, &lim, "2026-12-01", 100); /* positions below 100 are replayed */
	struct kl_prep_chunk *c = calloc(1, sizeof *c);
	kl_buf_init(&c->raw, 1 << 20);
	kl_buf_init(&c->out, 4 << 20);
	for (int round = 0; round < 2; round++) { /* a reused chunk gives the same */
		c->n = 0;
		kl_buf_reset(&c->raw);
		for (size_t i = 0; i < NRECS; i++)
			CHECK_EQ_INT(kl_prep_chunk_add(c, recs[i], strlen(recs[i]), i == 0 ? 50 : 100 + i,
						       200 + i, 0),
				     0);
		kl_prep_chunk_run(c, &x);
		CHECK_EQ_INT(c->rc, 0);
		CHECK_EQ_INT(c->n, NRECS);
		for (size_t i = 0; i < NRECS; i++) {
			CHECK_EQ_INT(c->v[i].next_pos, 200 + i);
			check_same(c, i, &lim, "2026-12-01", i == 0);
		}
	}
	/* a dead letter dated by its arrival time */
	c->n = 0;
	kl_buf_reset(&c->raw);
	CHECK_EQ_INT(kl_prep_chunk_add(c, "nope", 4, 500, 505, 1764547200123LL), 0);
	kl_prep_chunk_run(c, &x);
	CHECK_EQ_INT(c->v[0].rej, KL_REJ_INVALID_JSON);
	CHECK(c->v[0].key_len == strlen("errors/invalid_json/dt=2025-12-01") &&
	      !memcmp(c->out.data + c->v[0].key_off, "errors/invalid_json/dt=2025-12-01",
		      c->v[0].key_len));
	/* the cap: a record that does not fit is refused, the chunk unchanged */
	struct kl_prep_chunk *small = calloc(1, sizeof *small);
	kl_buf_init(&small->raw, 8);
	CHECK_EQ_INT(kl_prep_chunk_add(small, "0123456789", 10, 0, 11, 0), KL_ENOMEM);
	CHECK_EQ_INT(small->n, 0);
	kl_buf_cleanup(&small->raw);
	free(small);
	kl_buf_cleanup(&c->raw);
	kl_buf_cleanup(&c->out);
	free(c);
	kl_prep_ctx_cleanup(&x);
}

/* 200 chunks through 3 workers: back in submission order, each complete. */
static void test_pool(void)
{
	struct kl_event_limits lim;
	kl_event_limits_default(&lim);
	struct kl_prep_pool pl;
	struct kl_errbuf eb;
	kl_errbuf_clear(&eb);
	CHECK_EQ_INT(kl_prep_pool_init(&pl, 3, 1 << 20, &lim, "2026-12-01", 0, &eb), 0);
	CHECK_EQ_INT(kl_prep_pool_start(&pl, &eb), 0);
	size_t submitted = 0, applied = 0, bad = 0;
	char line[128];
	while (applied < 200) {
		struct kl_prep_chunk *c;
		if (submitted < 200 && (c = kl_prep_pool_fill(&pl))) {
			for (size_t k = 0; k < 50 + submitted % 7; k++) {
				int n = snprintf(line, sizeof line,
						 "{\"event_uuid\":\"c%zu-%zu\",\"event_name\":\"t%zu\","
						 "\"created_at\":%zu}",
						 submitted, k, k % 5, 1764547200 + k);
				kl_prep_chunk_add(c, line, (size_t)n, submitted * 1000 + k, 0, 0);
			}
			kl_prep_pool_submit(&pl);
			submitted++;
			continue;
		}
		c = kl_prep_pool_oldest(&pl, 1);
		CHECK(c != NULL);
		if (!c)
			break;
		for (size_t k = 0; k < c->n; k++) {
			int n = snprintf(line, sizeof line, "c%zu-%zu", applied, k);
			if (c->v[k].pos != applied * 1000 + k || c->v[k].rej != KL_REJ_NONE ||
			    c->v[k].uuid_len != (size_t)n ||
			    memcmp(c->out.data + c->v[k].uuid_off, line, (size_t)n))
				bad++;
		}
		CHECK_EQ_INT(c->n, 50 + applied % 7);
		kl_prep_pool_release(&pl);
		applied++;
	}
	CHECK_EQ_INT(bad, 0);
	CHECK(kl_prep_pool_oldest(&pl, 1) == NULL);
	CHECK_EQ_INT(kl_prep_pool_inflight(&pl), 0);
	kl_prep_pool_cleanup(&pl);
}

int main(void)
{
	test_chunk();
	test_pool();
	return check_report("test_prep");
}
