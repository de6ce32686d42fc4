/*
 * prep.h — the pipeline's pure per-record work, on worker threads.
 *
 * "Prep" is everything the ingest core does to one record that depends on
 * nothing but the record: parse + validate (event/event.h), enrich (the
 * added fields, kl_event_write_json) and route (the partition prefix,
 * route/partition.h). It decides nothing that shapes the lake: dedup,
 * partition buffers, flushes, file names and commits stay in the pipeline's
 * serial "apply" step (pipeline.c), which consumes the results chunk by
 * chunk in input order. So the lake is the same whatever the number of
 * workers: they only change who computes these pure functions, and when.
 *
 * A chunk is a run of consecutive records copied out of the source (input
 * split at record boundaries: lines of a file, user records of a stream),
 * with per record its position, the source's next_pos after it and its
 * arrival time. kl_prep_chunk_run() fills in, per record, the reject reason
 * or the enriched event bytes, the partition prefix and the decoded
 * event_uuid, all in the chunk's own arena.
 *
 * The pool: `nthreads` workers and a ring of chunks. The owner thread (the
 * pipeline's reader) fills the chunk at the ring's head and submits it;
 * workers take submitted chunks in order; the owner takes finished chunks
 * back from the ring's tail, in submission order, applies them and releases
 * them for reuse. Only the owner touches a chunk between release and
 * submit; only one worker between submit and done (the mutex hands it over).
 *
 * Memory: the ring's chunks are reused for the whole run (no per-record
 * allocation once they have grown); each chunk holds up to KL_PREP_RECS
 * records and about KL_PREP_BYTES of record bytes (one longer record may
 * make it larger, up to `record_max`; it shrinks back when released), and
 * its arena is capped likewise.
 *
 * Ownership: the pool owns its chunks and threads; it borrows the limits
 * and dead_dt given to kl_prep_pool_init until kl_prep_pool_cleanup().
 */
#ifndef KL_PIPELINE_PREP_H
#define KL_PIPELINE_PREP_H

#include "core/buf.h"
#include "core/err.h"
#include "event/event.h"

#include <pthread.h>
#include <stdint.h>

#define KL_PREP_RECS 4096
#define KL_PREP_BYTES ((size_t)1 << 20)

/* One record of a chunk. Offsets are into the chunk's raw / out buffers. */
struct kl_prep_rec {
	/* set by the owner (kl_prep_chunk_add) */
	uint64_t pos;	   /* the record's position in the input */
	uint64_t next_pos; /* the source's next_pos right after the record */
	int64_t arrival_ms;
	size_t raw_off, raw_len;
	/* set by kl_prep_chunk_run */
	enum kl_reject rej;
	size_t key_off, key_len;   /* partition prefix (not for a replayed record) */
	size_t uuid_off, uuid_len; /* decoded event_uuid (events) */
	uint64_t uuid_hash;	   /* kl_dedup_hash() of it (events) */
	int64_t sec;		   /* created_at, whole seconds (events, replayed too) */
	size_t body_off, body_len; /* enriched JSON without '\n' (events, not replayed) */
	size_t body_reserve;	   /* kl_event_json_reserve() (rows: kl_event_row_reserve()):
				    * the apply step reserves it too */
	int64_t text_adj;	   /* rows: the JSON line's length minus the row's */
	size_t msg_off, msg_len;   /* why it was rejected, NUL-terminated (dead letters) */
	size_t err_offset;	   /* where in the record (dead letters) */
};

struct kl_prep_chunk {
	struct kl_buf raw; /* the records' bytes, back to back */
	struct kl_buf out; /* what kl_prep_chunk_run made */
	struct kl_prep_rec v[KL_PREP_RECS];
	size_t n;
	int rc; /* KL_OK, or KL_ENOMEM from the worker */
	int state;
};

/* Record r's bytes in chunk c. A chunk of empty records (a Lambda batch
 * whose data fields are "") has no block: "" stands in, since arithmetic on
 * NULL is undefined even for offset 0 (fuzz_lambda, UBSan). */
static inline const char *kl_prep_raw(const struct kl_prep_chunk *c, const struct kl_prep_rec *r)
{
	return c->raw.data ? c->raw.data + r->raw_off : "";
}

/* What a worker needs besides the chunk; the pool keeps one per worker. */
struct kl_prep_ctx {
	struct kl_event ev;
	struct kl_buf key;
	const struct kl_event_limits *limits;
	const char *dead_dt; /* a dead letter's dt when its record has no arrival time */
	uint64_t resume;     /* records before it are replayed: only their event_uuid is needed */
	int rows;	     /* write events as rows (event/row.h), not JSON lines
			      * (kl_prep_pool_rows; a Parquet lake's buffers) */
};

/* Does the chunk want no more records? */
static inline int kl_prep_chunk_full(const struct kl_prep_chunk *c)
{
	return c->n == KL_PREP_RECS || c->raw.len >= KL_PREP_BYTES;
}

/* Copy one record in (the owner, between release and submit). KL_ENOMEM
 * when the chunk's cap would be passed. */
int kl_prep_chunk_add(struct kl_prep_chunk *c, const char *p, size_t n, uint64_t pos,
		      uint64_t next_pos, int64_t arrival_ms);

/* The pure work on every record of c (any thread): sets c->rc. */
void kl_prep_chunk_run(struct kl_prep_chunk *c, struct kl_prep_ctx *x);

void kl_prep_ctx_init(struct kl_prep_ctx *x, const struct kl_event_limits *limits,
		      const char *dead_dt, uint64_t resume);
void kl_prep_ctx_cleanup(struct kl_prep_ctx *x);

#define KL_PREP_RING_MAX 32

struct kl_prep_pool {
	pthread_mutex_t mu;
	pthread_cond_t work, done;
	struct kl_prep_chunk *ring[KL_PREP_RING_MAX];
	size_t nring;
	size_t head, next, tail; /* fill here / workers take here / owner takes back here */
	int stop;
	pthread_t *threads;
	struct kl_prep_ctx *ctx;
	size_t nthreads, nctx, started;
	size_t record_max;
};

/* Set up `nthreads` workers (not started) and a ring of nthreads + 2
 * chunks; each chunk's record bytes are capped at KL_PREP_BYTES +
 * record_max. KL_OK or KL_ENOMEM. */
int kl_prep_pool_init(struct kl_prep_pool *pl, size_t nthreads, size_t record_max,
		      const struct kl_event_limits *limits, const char *dead_dt, uint64_t resume,
		      struct kl_errbuf *eb);
/* Have the workers write events as rows (event/row.h) instead of JSON
 * lines: what a Parquet lake's buffers hold. Before kl_prep_pool_start. */
void kl_prep_pool_rows(struct kl_prep_pool *pl);
int kl_prep_pool_start(struct kl_prep_pool *pl, struct kl_errbuf *eb);
/* The chunk to fill next (emptied), or NULL when every chunk is in flight. */
struct kl_prep_chunk *kl_prep_pool_fill(struct kl_prep_pool *pl);
/* Hand the chunk kl_prep_pool_fill() gave to the workers. */
void kl_prep_pool_submit(struct kl_prep_pool *pl);
/* The oldest submitted chunk once it is done (waiting for it if `wait`),
 * or NULL: none in flight, or (not waiting) not done yet. */
struct kl_prep_chunk *kl_prep_pool_oldest(struct kl_prep_pool *pl, int wait);
/* Give the chunk kl_prep_pool_oldest() returned back to the ring. */
void kl_prep_pool_release(struct kl_prep_pool *pl);
/* Chunks submitted and not yet released. */
size_t kl_prep_pool_inflight(struct kl_prep_pool *pl);
/* Stop and join the workers, free everything. Safe after a failed init. */
void kl_prep_pool_cleanup(struct kl_prep_pool *pl);

#endif
