/*
 * source_kinesis.h — one Kinesis shard as a kl_source.
 *
 * Reads a shard with GetShardIterator + GetRecords within the per-shard read
 * limits (at most 5 calls/s, and after a response of B data bytes it waits
 * B / 2 MB/s before the next call), de-aggregates KPL records (decode/kpl.h: a record whose
 * checksum or protobuf is bad passes through whole, as the KCL does) and
 * yields one user record at a time, numbered consecutively. pos_name()
 * maps a position to "<shardId>-<sequence number>[-<sub>]" for file names
 * and checkpoint() to "at:<seq> <pos>" / "after:<seq> <pos>" for the state:
 * the Kinesis record to read again (or the one after it) and the position
 * of its first user record. resume() starts there with that position: a
 * shard's records after a sequence number never change order, so every
 * user record gets the same position in every run that reads it, and the
 * state's P and R lines and the file names stay valid across restarts and
 * takeovers (exactly once: commit/state.h). A checkpoint inside a KPL
 * aggregate names the aggregate, so a restart reads it from its first user
 * record (those before the resume point are replay-only). Without a
 * checkpoint positions start at 0 at `start`; an older checkpoint without
 * a position resumes at its record with positions from 0 (the state then
 * drops what it cannot compare). Expired iterators are renewed after the
 * last sequence number read, positions continuing; an ExpiredToken or any
 * other error ends the run, and the next run resumes from the checkpoint.
 * Each record's ApproximateArrivalTimestamp dates its dead letter, the same
 * day in every run. The source ends (KL_SRC_EOF) when the
 * shard is closed and read to its end, or, with exit_idle_ms, when
 * MillisBehindLatest is 0 and nothing arrived for that long.
 *
 * The response body is the batch (records are read in place from it, in
 * one buffer kept for the next responses). It is checked as JSON while it
 * is read (parse/json.h, kl_json_walk), record by record, and each record's
 * base64 Data is decoded straight from it: one pass over the megabytes, not
 * a validating pass before the first record. An answer with a fault part
 * way hands out the records before the fault, then fails (KL_EPARSE) as a
 * wholly bad answer would; a restart reads from the checkpoint, so this
 * changes nothing about what lands. What a shard holds is its
 * largest response: GetRecords asks for about KL_KINESIS_CALL_BYTES of body
 * a call (kl_kinesis_read_limit), not for up to 10,000 records / 10 MB. A
 * shard serves 2 MB/s of data and 5 calls/s, so ~1.1 MB of data a call
 * still reads it at its limit; and a body under a huge page keeps the
 * buffer at 2 MiB (aws/http.c gives larger ones the next power of two:
 * 10,000 records of one production hour, ~650 bytes of body each, make
 * ~6.5 MB, 8 MiB a shard, outside --memory-limit).
 *
 * The marks (seqmap.h) are kept for every record not yet durable: with
 * opts.pin their memory is pinned in the process's budget (budget.h), so
 * the buffers make room for them instead of the process outgrowing
 * --memory-limit by them (~32 bytes a record: 32 MB for one production
 * hour held open).
 *
 * Ownership: the source owns its Kinesis client and buffers; strings in
 * the options are copied.
 */
#ifndef KL_SOURCE_SOURCE_KINESIS_H
#define KL_SOURCE_SOURCE_KINESIS_H

#include "source/source.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

struct kl_metrics_shard;
struct kl_cred_chain;
struct kl_budget;

struct kl_kinesis_source_opts {
	const char *stream;   /* name or ARN */
	const char *shard_id;
	const char *region;   /* NULL: environment */
	const char *start;    /* "trim-horizon" (default), "latest", "at-timestamp:UNIX" */
	const char *checkpoint; /* from the state; wins over start when set */
	int64_t exit_idle_ms; /* 0: never end on idle */
	int64_t idle_poll_ms; /* a caught-up shard that answered nothing: next call after (0: 1 s) */
	int stop_fd;          /* -1 or a signalfd: also ends Kinesis retries and transfers */
	_Atomic uint64_t *retries; /* optional, borrowed: counts retried Kinesis requests */
	_Atomic uint64_t *moved; /* optional, borrowed: body bytes of its calls, as they move */
	struct kl_metrics_shard *metrics; /* optional, borrowed: MillisBehindLatest, records */
	struct kl_cred_chain *creds; /* optional, borrowed: shared credentials (under creds_mu) */
	pthread_mutex_t *creds_mu;
	struct kl_budget *pin; /* optional, borrowed: pinned with the marks' memory (budget.h) */
};

#define KL_KINESIS_CALL_BYTES (3u << 19) /* 1.5 MiB: response body a GetRecords call asks for */
#define KL_KINESIS_FIRST_LIMIT 1000	 /* the first call's Limit: records of ~2 kB */
#define KL_KINESIS_MAX_LIMIT 10000	 /* Kinesis' largest Limit */

/* GetRecords' Limit after a response of body_len bytes that held records
 * Kinesis records: as many as fill KL_KINESIS_CALL_BYTES at that size,
 * 1 to KL_KINESIS_MAX_LIMIT (KL_KINESIS_FIRST_LIMIT when records is 0). */
unsigned kl_kinesis_read_limit(size_t body_len, size_t records);

struct kl_source *kl_source_kinesis_new(const struct kl_kinesis_source_opts *o,
					struct kl_errbuf *eb);

/* Set the checkpoint to resume from (call before the first next()); 1 if
 * it carries a position (see above), 0 if positions start at 0. */
int kl_source_kinesis_resume(struct kl_source *s, const char *checkpoint);

/* 1 when the source has seen the end of its shard (closed: split or merged)
 * and handed out everything before it — the run read the shard to its end.
 * 0 while records may still come, also after an end on idle (exit_idle_ms). */
int kl_source_kinesis_at_end(const struct kl_source *s);

/* For tests and fuzz/fuzz_kinesis.c: take `body` (copied) as the answer to
 * a GetRecords call, as a call would, without a server; next() with
 * timeout_ms 0 then hands its records out and returns KL_SRC_IDLE (or
 * KL_SRC_EOF at a closed shard's end) instead of calling again. KL_OK, or
 * KL_EPARSE (not JSON up to its first record) / KL_ENOMEM with the
 * source's err set; a fault after that is next()'s KL_EPARSE. */
int kl_source_kinesis_feed(struct kl_source *s, const void *body, size_t n);

#endif
