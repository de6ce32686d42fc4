/* esm.c — see esm.h. Event shape: AWS Lambda developer guide, "Using Lambda
 * with Kinesis" (sample event) and "Reporting batch item failures for
 * Kinesis"; file names and dead-letter sources by source/seqmap.h, as
 * source/source_kinesis.c makes them. */
#include "lambda/esm.h"
#include "aws/kinesis.h"
#include "commit/checkpoint.h"
#include "core/array.h"
#include "core/base64.h"
#include "core/cgroup.h"
#include "dedup/dedup.h"
#include "encode/parquet/schema.h"
#include "event/event.h"
#include "lambda/payload.h"
#include "parse/json.h"
#include "pipeline/pipeline.h"
#include "route/partition.h"
#include "source/input_id.h"
#include "source/seqmap.h"
#include "store/store.h"

#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <time.h>
#include <unistd.h>

/* --- configuration ------------------------------------------------------- */

int kl_esm_config_env(struct kl_esm_config *c, const struct kl_aws_env *e, struct kl_errbuf *eb)
{
	memset(c, 0, sizeof *c);
	/* a setting of `kinlake ingest` the Lambda has no use for would be
	 * ignored without a word: refused instead */
	for (size_t i = 0; i < kl_ingest_cfg_count; i++) {
		const struct kl_opt *o = &kl_ingest_cfg_table[i];
		if (o->env && !o->scope && kl_aws_env_get(e, o->env))
			return kl_errbuf_set(eb, KL_EINVAL, "%s is a setting of `kinlake ingest` that "
					     "the Lambda does not read (its variables: kinlake "
					     "lambda --help)", o->env);
	}
	struct kl_opts p;
	int rc = kl_opts_init(&p, kl_ingest_cfg_table, kl_ingest_cfg_count, &c->set, eb);
	p.env_style = 1;
	p.scope = KL_INGEST_CFG_LAMBDA;
	rc = rc ? rc : kl_opts_env(&p, e, eb);
	if (rc)
		return rc;
	if (!c->set.lake) {
		for (size_t i = 0; i < p.n; i++)
			if (p.from[i] == KL_OPT_FROM_ENV)
				return kl_errbuf_set(eb, KL_EINVAL, "%s is set but KINLAKE_LAKE is not: "
						     "set KINLAKE_LAKE to s3://bucket/prefix or a "
						     "directory", p.t[i].env);
		return KL_OK;
	}
	if (strlen(c->set.lake) >= sizeof ((struct kl_esm *)0)->lake)
		return kl_errbuf_set(eb, KL_EINVAL, "KINLAKE_LAKE is too long");
	if ((rc = kl_ingest_cfg_check(&p, e, eb)))
		return rc;
	if (kl_store_url_is_s3(c->set.lake))
		c->region = kl_aws_region(e, NULL);
	return KL_OK;
}

/* --- init ---------------------------------------------------------------- */

int kl_esm_init(struct kl_esm *e, const struct kl_esm_config *c, const struct kl_aws_env *aenv,
		struct kl_errbuf *eb)
{
	memset(e, 0, sizeof *e);
	e->cfg = *c;
	snprintf(e->lake, sizeof e->lake, "%s", c->set.lake ? c->set.lake : "");
	e->cfg.set.lake = e->lake;
	struct kl_cgroup_limits lim;
	kl_cgroup_limits_read("", &lim);
	e->cpus = kl_cpus_available(&lim);
	kl_kpl_init(&e->kpl);
	kl_seqmap_init(&e->seqs);
	kl_buf_init(&e->arena, 0);
	kl_buf_init(&e->unesc, 0);
	pthread_mutex_init(&e->files_mu, NULL);
	if (!c->set.lake)
		return kl_errbuf_set(eb, KL_EINVAL, "KINLAKE_LAKE is not set");
	if (c->set.format == KL_FORMAT_PARQUET && !(e->registry = kl_schema_registry_new()))
		return kl_errbuf_set(eb, KL_ENOMEM, "out of memory");
	struct kl_store_url_opts so;
	kl_ingest_cfg_store(&e->cfg.set, aenv, &e->creds, &so);
	so.region = c->region;
	struct kl_errbuf sub;
	kl_errbuf_clear(&sub);
	int rc = kl_store_open_url(e->lake, &so, &e->store, &sub);
	if (rc)
		return kl_errbuf_set(eb, rc, "KINLAKE_LAKE=%.200s: %s", e->lake, sub.msg);
	if (!kl_store_url_is_s3(e->lake) && access(e->lake, W_OK | X_OK))
		return kl_errbuf_set(eb, KL_EIO, "KINLAKE_LAKE=%.200s: not writable: %s", e->lake,
				     strerror(errno));
	return KL_OK;
}

void kl_esm_cleanup(struct kl_esm *e)
{
	kl_store_free(e->store);
	kl_schema_registry_free(e->registry);
	kl_store_creds_cleanup(&e->creds);
	kl_kpl_cleanup(&e->kpl);
	kl_seqmap_cleanup(&e->seqs);
	kl_buf_cleanup(&e->arena);
	kl_buf_cleanup(&e->unesc);
	free(e->recs);
	free(e->files);
	pthread_mutex_destroy(&e->files_mu);
	memset(e, 0, sizeof *e);
}

/* --- the batch as a source ----------------------------------------------- */

static int src_next(struct kl_source *base, struct kl_record *rec, int timeout_ms)
{
	(void)timeout_ms;
	struct kl_esm_source *s = (struct kl_esm_source *)base;
	struct kl_esm *e = s->e;
	for (;;) {
		if (s->isub < s->nsubs) {
			const struct kl_kpl_record *u = &s->subs[s->isub++];
			kl_source_user_record(&s->base, rec, u->data, u->len, &s->next_pos,
					      e->recs[s->irec - 1].arrival_ms);
			return KL_SRC_RECORD;
		}
		if (s->irec == e->nrecs) {
			s->eof = 1;
			return KL_SRC_EOF;
		}
		struct kl_esm_rec *r = &e->recs[s->irec++];
		r->first_pos = s->next_pos;
		s->isub = 0;
		if (r->len == SIZE_MAX) { /* not base64: the field's text, as is */
			s->one = (struct kl_kpl_record){.data = (const uint8_t *)r->data, .len = r->data_len};
			s->subs = &s->one;
			s->nsubs = 1;
		} else {
			int rc = kl_kpl_decode(&e->kpl, (const uint8_t *)e->arena.data + r->off, r->len,
					       &s->subs, &s->nsubs, &r->aggregated, NULL);
			if (rc) {
				s->nsubs = 0;
				return kl_errbuf_set(&s->base.err, rc, "KPL de-aggregation of record %.*s: %s",
						     (int)r->seq_len, r->seq, kl_strerror(rc));
			}
		}
		r->nsub = s->nsubs;
		int rc = kl_seqmap_add(&e->seqs, r->first_pos, r->seq, r->seq_len, r->aggregated);
		if (rc) {
			s->nsubs = 0;
			return kl_errbuf_set(&s->base.err, rc, "record %.*s: %s", (int)r->seq_len,
					     r->seq, kl_strerror(rc));
		}
	}
}

static void src_free(struct kl_source *base) { (void)base; }

static int src_pos_name(struct kl_source *base, uint64_t pos, char *out, size_t cap)
{
	const struct kl_esm *e = ((struct kl_esm_source *)base)->e;
	return kl_seqmap_stem(&e->seqs, e->shard, pos, out, cap);
}

static int src_origin(struct kl_source *base, uint64_t pos, char *out, size_t cap)
{
	const struct kl_esm *e = ((struct kl_esm_source *)base)->e;
	return kl_seqmap_origin(&e->seqs, e->input, pos, out, cap);
}

static uint64_t src_next_pos(struct kl_source *base)
{
	return ((struct kl_esm_source *)base)->next_pos;
}

/* no checkpoint or resume: Lambda keeps the position */
static const struct kl_source_ops esm_source_ops = {
    .next = src_next,	      /* the batch's user records, KPL de-aggregated */
    .next_pos = src_next_pos, /* ordinals within the batch */
    .free = src_free,	      /* nothing: the batch belongs to struct kl_esm */
    .pos_name = src_pos_name, /* "<shard>-<sequence number>[-<n>]" (seqmap.h) */
    .origin = src_origin,     /* "kinesis:<ARN>/<shard>:<seq>[:<n>]" (seqmap.h) */
};

/* --- reading the batch --------------------------------------------------- */

/* --- reading the event ---------------------------------------------------- */


int kl_esm_is_event(const char *p, size_t n)
{
	/* {"Records":[{"kinesis":{...}}, ...]}: the first record decides; the
	 * text is checked up to its "kinesis" member only */
	const char *end = p + n;
	struct kl_json_walk top, recs, rec;
	struct kl_json_member m;
	int k;
	if (kl_json_walk_open(&top, p, end, 1, KL_LAMBDA_MAX_DEPTH) || !top.object)
		return 0;
	while ((k = kl_json_walk_next(&top, &m)) == 1 && !kl_json_key_is(&m, "Records", 7))
		if (kl_json_walk_value(&top, &m))
			return 0;
	if (k != 1 || kl_json_walk_open(&recs, m.val, end, 2, KL_LAMBDA_MAX_DEPTH) || recs.object ||
	    kl_json_walk_next(&recs, &m) != 1 ||
	    kl_json_walk_open(&rec, m.val, end, 3, KL_LAMBDA_MAX_DEPTH) || !rec.object)
		return 0;
	while ((k = kl_json_walk_next(&rec, &m)) == 1 && !kl_json_key_is(&m, "kinesis", 7))
		if (kl_json_walk_value(&rec, &m))
			return 0;
	return k == 1 && m.val < end && *m.val == '{';
}

/* The members of one Kinesis record that read_batch uses: the first of each
 * name (as kl_json_object_get finds them, whatever its type); val NULL:
 * absent (a type cannot say it: KL_JSON_NULL is 0). */
struct rec_fields {
	struct kl_json_member seq, data, arrival, id, arn;
	int kinesis; /* a "kinesis" object came first of that name */
};

/* The first member of its name is kept in *slot (when `take`). */
static int keep(struct kl_json_walk *w, struct kl_json_member *m, struct kl_json_member *slot,
		int take)
{
	if (kl_json_walk_value(w, m))
		return KL_LAMBDA_NOT_JSON;
	if (take && !slot->val)
		*slot = *m;
	return KL_OK;
}

/* The kinesis object at v, its data decoded into the arena (or left for
 * later) -> KL_OK, KL_LAMBDA_NOT_JSON or KL_ENOMEM. */
static int walk_kinesis(struct kl_esm *e, struct kl_esm_rec *x, const char *v, const char *end,
			struct rec_fields *f, const char **after)
{
	struct kl_json_walk w;
	struct kl_json_member m;
	int k;
	if (kl_json_walk_open(&w, v, end, 4, KL_LAMBDA_MAX_DEPTH))
		return KL_LAMBDA_NOT_JSON;
	while ((k = kl_json_walk_next(&w, &m)) == 1) {
		if (!f->data.val && kl_json_key_is(&m, "data", 4)) {
			/* decoded into the arena straight from the text */
			long d = -1;
			size_t off = e->arena.len;
			const char *q = m.val < end && *m.val == '"'
					    ? kl_json_base64_take(m.val, end, &e->arena, &d)
					    : NULL;
			if (q) {
				kl_json_walk_skip(&w, q);
				f->data = m;
				f->data.type = KL_JSON_STRING;
				f->data.val_len = (size_t)(q - m.val);
				x->off = off;
				x->len = (size_t)d;
				continue;
			}
			if (d == -2)
				return KL_ENOMEM;
			if (keep(&w, &m, &f->data, 1))
				return KL_LAMBDA_NOT_JSON;
			continue;
		}
		int rc = kl_json_key_is(&m, "sequenceNumber", 14) ? keep(&w, &m, &f->seq, 1)
			 : kl_json_key_is(&m, "approximateArrivalTimestamp", 27)
			     ? keep(&w, &m, &f->arrival, 1)
			     : keep(&w, &m, NULL, 0);
		if (rc)
			return rc;
	}
	*after = w.p;
	return k < 0 ? KL_LAMBDA_NOT_JSON : KL_OK;
}

/* One element of Records (at v) -> its fields. */
static int walk_record(struct kl_esm *e, struct kl_esm_rec *x, const char *v, const char *end,
		       struct rec_fields *f, const char **after)
{
	struct kl_json_walk w;
	struct kl_json_member m;
	int k, rc, seen_kinesis = 0;
	memset(f, 0, sizeof *f);
	if (kl_json_walk_open(&w, v, end, 3, KL_LAMBDA_MAX_DEPTH))
		return KL_LAMBDA_NOT_JSON;
	while ((k = kl_json_walk_next(&w, &m)) == 1) {
		if (!seen_kinesis && kl_json_key_is(&m, "kinesis", 7)) {
			seen_kinesis = 1;
			if (m.val < end && *m.val == '{') {
				const char *e2 = NULL;
				if ((rc = walk_kinesis(e, x, m.val, end, f, &e2)))
					return rc;
				kl_json_walk_skip(&w, e2);
				f->kinesis = 1;
				continue;
			}
		}
		rc = kl_json_key_is(&m, "eventID", 7)		 ? keep(&w, &m, &f->id, 1)
		     : kl_json_key_is(&m, "eventSourceARN", 14) ? keep(&w, &m, &f->arn, 1)
								 : keep(&w, &m, NULL, 0);
		if (rc)
			return rc;
	}
	*after = w.p;
	return k < 0 ? KL_LAMBDA_NOT_JSON : KL_OK;
}

/* Record i's fields checked, in the order the contract's errors are named. */
static int check_record(struct kl_esm *e, size_t i, struct kl_esm_rec *x,
			const struct rec_fields *f, struct kl_errbuf *eb)
{
	if (!f->kinesis)
		return kl_errbuf_set(eb, KL_EPARSE, "Records[%zu] has no kinesis object", i);
	if (f->seq.type != KL_JSON_STRING || !kl_seqmap_seq_ok(f->seq.val + 1, f->seq.val_len - 2))
		return kl_errbuf_set(eb, KL_EPARSE, "Records[%zu]: kinesis.sequenceNumber is "
				     "missing or not a decimal number", i);
	x->seq = f->seq.val + 1;
	x->seq_len = f->seq.val_len - 2;
	if (f->data.type != KL_JSON_STRING)
		return kl_errbuf_set(eb, KL_EPARSE, "Records[%zu] (sequence number %.*s) has no "
				     "kinesis.data string", i, (int)x->seq_len, x->seq);
	x->data = f->data.val + 1;
	x->data_len = f->data.val_len - 2;
	x->esc = f->data.val_esc; /* "\/" is valid JSON for '/' (0 when decoded) */
	if (f->arrival.type == KL_JSON_NUMBER || f->arrival.type == KL_JSON_INT)
		x->arrival_ms = kl_kinesis_arrival_ms(f->arrival.val, f->arrival.val_len);
	/* eventID is "<shardId>:<sequence number>" */
	const char *shard = NULL;
	size_t shard_len = 0;
	if (f->id.type == KL_JSON_STRING) {
		shard = f->id.val + 1;
		shard_len = strcspn(shard, ":\"");
	}
	if (!shard || !shard_len || shard_len > KL_SHARD_MAX)
		return kl_errbuf_set(eb, KL_EPARSE, "Records[%zu]: no eventID "
				     "\"<shardId>:<sequence number>\"", i);
	if (!kl_seqmap_shard_ok(shard, shard_len))
		return kl_errbuf_set(eb, KL_EPARSE, "Records[%zu]: eventID has a bad shard id", i);
	/* file names are "<shard>-<seq>-<sub>" (AWS: 20 + 1 + 56 + ...) */
	if (shard_len + x->seq_len > 256)
		return kl_errbuf_set(eb, KL_EPARSE, "Records[%zu]: shard id and sequence "
				     "number too long to name files", i);
	if (!e->shard[0]) {
		memcpy(e->shard, shard, shard_len);
		e->shard[shard_len] = '\0';
		const char *arn = "";
		size_t arn_len = 0;
		if (f->arn.type == KL_JSON_STRING && !f->arn.val_esc) {
			arn = f->arn.val + 1;
			arn_len = f->arn.val_len - 2 < 300 ? f->arn.val_len - 2 : 300;
		}
		kl_seqmap_input(e->input, sizeof e->input, arn, arn_len, e->shard);
	} else if (strlen(e->shard) != shard_len || memcmp(e->shard, shard, shard_len)) {
		return kl_errbuf_set(eb, KL_EPARSE, "Records[%zu] is from %.*s, Records[0] from "
				     "%s: a batch must come from one shard", i, (int)shard_len, shard,
				     e->shard);
	}
	return KL_OK;
}

/* The Records array at v -> e->recs, each record's data decoded into the
 * arena as it is met. */
static int walk_records(struct kl_esm *e, const char *v, const char *end, const char **after,
			struct kl_errbuf *eb)
{
	struct kl_json_walk w;
	struct kl_json_member el;
	struct rec_fields f;
	int k, rc;
	if (kl_json_walk_open(&w, v, end, 2, KL_LAMBDA_MAX_DEPTH) || w.object)
		return kl_errbuf_set(eb, KL_EPARSE, "no Records array");
	while ((k = kl_json_walk_next(&w, &el)) == 1) {
		size_t i = e->nrecs;
		if (el.val >= end || *el.val != '{')
			return kl_errbuf_set(eb, KL_EPARSE, "Records[%zu] has no kinesis object", i);
		if (KL_ARRAY_GROW(e->recs, e->nrecs, e->caprecs, 1024))
			return kl_errbuf_set(eb, KL_ENOMEM, "out of memory");
		struct kl_esm_rec *x = &e->recs[e->nrecs++];
		memset(x, 0, sizeof *x);
		x->first_pos = UINT64_MAX;
		x->len = SIZE_MAX;
		const char *e2 = NULL;
		if ((rc = walk_record(e, x, el.val, end, &f, &e2)) == KL_ENOMEM)
			return kl_errbuf_set(eb, rc, "out of memory for a %zu-byte batch",
					     (size_t)(end - v));
		if (rc || (rc = check_record(e, i, x, &f, eb)))
			return rc;
		kl_json_walk_skip(&w, e2);
	}
	*after = w.p;
	return k < 0 ? KL_LAMBDA_NOT_JSON : KL_OK;
}

/* Fill e->recs from the event text p[0..n), checking it as JSON in the same
 * pass (as firehose.c does): each member when the walk reaches it, each
 * record's base64 data by its decoding, straight into the arena. A data
 * field that does not decode as it stands is checked as a JSON string and
 * decoded after the walk, its escapes undone ("\/"), or left as not base64.
 * -> KL_OK, KL_LAMBDA_NOT_JSON, or an error in eb. */
static int read_batch(struct kl_esm *e, const char *p, size_t n, struct kl_errbuf *eb)
{
	const char *end = p + n;
	struct kl_json_walk w;
	struct kl_json_member m;
	int k, rc, seen = 0;
	e->nrecs = 0;
	e->shard[0] = e->input[0] = '\0';
	kl_buf_reset(&e->arena);
	kl_buf_reset(&e->unesc);
	/* every record's decoded data fits in 3/4 of the text */
	if (kl_buf_reserve(&e->arena, kl_base64_decoded_max(n)))
		return kl_errbuf_set(eb, KL_ENOMEM, "out of memory for a %zu-byte batch", n);
	if (kl_json_walk_open(&w, p, end, 1, KL_LAMBDA_MAX_DEPTH) || !w.object)
		return kl_errbuf_set(eb, KL_EPARSE, "no Records array");
	while ((k = kl_json_walk_next(&w, &m)) == 1) {
		if (!seen && kl_json_key_is(&m, "Records", 7)) {
			seen = 1;
			const char *e2 = NULL;
			if ((rc = walk_records(e, m.val, end, &e2, eb)))
				return rc;
			kl_json_walk_skip(&w, e2);
		} else if (kl_json_walk_value(&w, &m)) {
			return KL_LAMBDA_NOT_JSON;
		}
	}
	if (k < 0 || kl_json_walk_done(w.p, end))
		return KL_LAMBDA_NOT_JSON;
	if (!seen)
		return kl_errbuf_set(eb, KL_EPARSE, "no Records array");
	/* the data fields that did not decode as they stand */
	size_t unesc_max = 0, decoded_max = 0;
	for (size_t i = 0; i < e->nrecs; i++)
		if (e->recs[i].len == SIZE_MAX && e->recs[i].esc) {
			unesc_max += e->recs[i].data_len;
			decoded_max += kl_base64_decoded_max(e->recs[i].data_len);
		}
	if (!unesc_max)
		return KL_OK;
	if (kl_buf_reserve(&e->arena, decoded_max) || kl_buf_reserve(&e->unesc, unesc_max))
		return kl_errbuf_set(eb, KL_ENOMEM, "out of memory for a %zu-byte batch", n);
	for (size_t i = 0; i < e->nrecs; i++) {
		struct kl_esm_rec *x = &e->recs[i];
		if (x->len != SIZE_MAX || !x->esc)
			continue;
		char *u = e->unesc.data + e->unesc.len;
		x->data_len = kl_json_unescape(x->data, x->data_len, u);
		x->data = u;
		e->unesc.len += x->data_len;
		long d = kl_base64_decode(x->data, x->data_len,
					  (unsigned char *)e->arena.data + e->arena.len);
		if (d >= 0) {
			x->off = e->arena.len;
			x->len = (size_t)d;
			e->arena.len += (size_t)d;
		}
	}
	return KL_OK;
}

/* --- which records to retry ---------------------------------------------- */

/* The Lambda's checkpoint (commit/checkpoint.h): Lambda keeps the position,
 * so nothing is loaded or committed; each file's fate is collected for
 * kl_esm_retry_from(), and file names count dropped duplicates. */
static struct kl_esm *esm_of(struct kl_checkpoint *c)
{
	return (struct kl_esm *)(void *)((char *)c - offsetof(struct kl_esm, cp));
}

static int cp_load(struct kl_checkpoint *c, struct kl_source *src, uint64_t *resume,
		   kl_checkpoint_part_fn fn, void *ctx)
{
	(void)c, (void)src, (void)fn, (void)ctx;
	*resume = 0;
	return KL_OK;
}

static int cp_commit(struct kl_checkpoint *c, const struct kl_checkpoint_job *j)
{
	(void)c, (void)j;
	return KL_OK;
}

static int cp_finish(struct kl_checkpoint *c)
{
	(void)c;
	return KL_OK;
}

static void cp_file(struct kl_checkpoint *c, uint64_t first, uint64_t last, uint64_t count,
		    int durable)
{
	struct kl_esm *e = esm_of(c);
	pthread_mutex_lock(&e->files_mu);
	if (KL_ARRAY_GROW(e->files, e->nfiles, e->capfiles, 256) == KL_OK)
		e->files[e->nfiles++] = (struct kl_esm_file){first, last, count, durable};
	else
		e->files_oom = 1; /* then the whole batch is retried */
	pthread_mutex_unlock(&e->files_mu);
}

static const struct kl_checkpoint_ops esm_checkpoint_ops = {
	.load = cp_load,     /* nothing: the batch is the input */
	.commit = cp_commit, /* nothing: Lambda moves the shard's position */
	.file = cp_file,     /* every file's fate, for batchItemFailures */
	.finish = cp_finish,
};

size_t kl_esm_retry_from(const struct kl_esm_rec *recs, size_t nrecs,
			 const struct kl_esm_file *files, size_t nfiles, int complete)
{
	if (!complete || !nrecs)
		return 0;
	uint64_t s = UINT64_MAX;
	for (size_t i = 0; i < nfiles; i++)
		if (!files[i].durable && files[i].first < s)
			s = files[i].first;
	if (s == UINT64_MAX)
		return nrecs;
	for (;;) {
		/* Lambda retries whole Kinesis records: back to the one holding s */
		size_t r = 0, lo = 0, hi = nrecs;
		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;
			if (recs[mid].first_pos != UINT64_MAX && recs[mid].first_pos <= s) {
				r = mid;
				lo = mid + 1;
			} else {
				hi = mid;
			}
		}
		uint64_t t = recs[r].first_pos == UINT64_MAX ? 0 : recs[r].first_pos;
		/* a durable file that straddles t would be rewritten in part, under
		 * another name: start at its first record instead */
		uint64_t u = t;
		for (size_t i = 0; i < nfiles; i++)
			if (files[i].durable && files[i].first < u && files[i].last >= t)
				u = files[i].first;
		if (u == t)
			return r;
		s = u; /* strictly smaller: the loop ends */
	}
}

/* --- one batch ----------------------------------------------------------- */

static int respond(struct kl_buf *out, const struct kl_esm *e, size_t from, struct kl_esm_stats *st)
{
	int rc = kl_buf_puts(out, "{\"batchItemFailures\":[");
	for (size_t i = from; !rc && i < e->nrecs; i++) {
		const struct kl_esm_rec *x = &e->recs[i];
		rc = i > from ? kl_buf_putc(out, ',') : KL_OK;
		rc = rc ? rc : kl_buf_puts(out, "{\"itemIdentifier\":\"");
		rc = rc ? rc : kl_buf_append(out, x->seq, x->seq_len);
		rc = rc ? rc : kl_buf_puts(out, "\"}");
		st->failed++;
	}
	return rc ? rc : kl_buf_puts(out, "]}");
}

int kl_esm_handle(struct kl_esm *e, const char *p, size_t n, struct kl_dedup *dedup,
		  struct kl_buf *out, struct kl_esm_stats *st, struct kl_errbuf *why,
		  const char **error_type, struct kl_errbuf *eb)
{
	memset(st, 0, sizeof *st);
	int rc = kl_lambda_walk_result(p, n, read_batch(e, p, n, eb), eb);
	if (rc) {
		*error_type = rc == KL_ENOMEM ? "Kinlake.OutOfMemory" : "Kinlake.InvalidEvent";
		return rc;
	}
	st->records = e->nrecs;
	memcpy(st->shard, e->shard, sizeof st->shard);

	memset(&e->src, 0, sizeof e->src);
	e->src.base.ops = &esm_source_ops;
	e->src.e = e;
	e->nfiles = 0;
	e->files_oom = 0;
	kl_seqmap_reset(&e->seqs);
	kl_errbuf_clear(&e->store->err);

	struct kl_ingest_opts o;
	kl_ingest_opts_default(&o);
	kl_ingest_cfg_apply(&e->cfg.set, &o, e->cpus); /* format, compression, level, limits */
	/* one file per partition per batch (see esm.h): no size, age or memory flush */
	o.max_file_bytes = SIZE_MAX / 4;
	o.memory_limit = SIZE_MAX / 4;
	o.flush_interval_ms = 400LL * 86400 * 1000;
	o.dedup_window = 0; /* the caller's window is not this run's memory */
	memset(&e->cp, 0, sizeof e->cp);
	e->cp.ops = &esm_checkpoint_ops;
	e->cp.name_before_dedup = 1;
	char prefix[17], dead_dt[11];
	kl_input_id_of_name(e->shard, prefix);
	kl_partition_day(time(NULL), dead_dt);

	struct kl_ingest_stats is;
	memset(&is, 0, sizeof is);
	struct kl_errbuf ierr;
	kl_errbuf_clear(&ierr);
	struct kl_encoder *data_enc = NULL, *dead_enc = NULL;
	int irc = kl_pipeline_encoders_new(&o, e->store, e->registry, &data_enc, &dead_enc, &ierr);
	if (!irc) {
		struct kl_pipeline_parts parts = {
			.source = &e->src.base,
			.store = e->store,
			.data_enc = data_enc,
			.dead_enc = dead_enc,
			.dedup = dedup && dedup->window ? dedup : NULL,
			.checkpoint = &e->cp,
			.source_name = e->input,
			.file_prefix = prefix,
			.dead_dt = dead_dt,
		};
		irc = kl_pipeline_run(&o, &parts, &is, &ierr);
	}
	kl_encoder_free(data_enc);
	kl_encoder_free(dead_enc);
	st->events = e->src.next_pos;
	st->duplicates = is.duplicates;
	uint64_t accounted = is.duplicates;
	for (size_t i = 0; i < e->nfiles; i++) {
		const struct kl_esm_file *f = &e->files[i];
		accounted += f->count;
		if (f->durable)
			st->files++;
	}
	st->stored = is.stored;
	st->rescued = is.rescued;
	st->dead = is.dead;
	st->bytes_in = is.bytes_in;
	st->bytes_out = is.bytes_out;
	memcpy(st->dead_by_reason, is.dead_by_reason, sizeof st->dead_by_reason);
	int complete = e->src.eof && !e->files_oom && accounted == e->src.next_pos;
	size_t from = kl_esm_retry_from(e->recs, e->nrecs, e->files, e->nfiles, complete);
	if (from < e->nrecs) {
		kl_errbuf_set(why, irc ? irc : KL_EIO, "%s; retrying from sequence number %.*s "
			      "(%zu of %zu records)",
			      irc ? ierr.msg : "not every record could be accounted for",
			      (int)e->recs[from].seq_len, e->recs[from].seq, e->nrecs - from, e->nrecs);
	}
	if ((rc = respond(out, e, from, st))) {
		*error_type = "Kinlake.OutOfMemory";
		return kl_errbuf_set(eb, rc, "out of memory building the response");
	}
	return KL_OK;
}
