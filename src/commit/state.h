/*
 * state.h — durable ingest progress for one input, under <lake>/_kinlake/state/.
 *
 * What is remembered, per input id (a content hash of the input file):
 *   P <upto> <partition>   the highest input position stored in a durable
 *                          file of that partition (events or errors)
 *   R <resume> <window>    every record before `resume` is durable (or was
 *                          a duplicate); the dedup window starts at `window`
 *   M <upto> <charge> <check> <quiet> <qwindow>
 *                          after an R line of a run with its own budget
 *                          (exact replay, pipeline.h): how a restart rebuilds
 *                          the memory picture the run had when it built the
 *                          job (struct kl_state_replay); an R line without
 *                          one (an older build, a stream) has none
 *   D <size>               the whole input (size bytes) is durable
 *   C <checkpoint>         source-specific resume point: for a Kinesis shard
 *                          "at:<seq> <pos>" (read again from record <seq>,
 *                          whose first user record is at position <pos>) or
 *                          "after:<seq> <pos>"; older logs have no " <pos>"
 *   A <YYYY-MM-DD>         the input's arrival day, which dates its dead
 *                          letters (errors/<reason>/dt=): written by the
 *                          input's first run before its first file, and
 *                          kept by every later run, so a restart after
 *                          midnight UTC (a pipe's day is the clock's) or
 *                          after the file grew (its mtime moved) names a
 *                          killed run's dead-letter files as it did
 *                          (pipeline/ingest.c; tests/e2e/crash_midnight.sh)
 * Lines are appended, each with a CRC-32 prefix; on open a torn or corrupt
 * tail (a crash mid-append) is dropped and the log is rewritten compactly
 * with temp file + fsync + rename + fsync dir — never truncated in place.
 *
 * Protocol (see DESIGN.md "Exactly-once"): files are committed and synced
 * first, then their P lines and the new R are appended and fsynced
 * (kl_state_sync). A crash in between leaves files that the replay
 * rewrites under the same names, because a partition's next file is named
 * after its first record above `upto`.
 *
 * Why that is exactly once (a file input; the same for a stream below):
 *  - the writer commits jobs in order and a job holds at most one file per
 *    partition, so after any crash a partition has at most one file in the
 *    lake that its P line does not cover; it was named after the first
 *    record of that partition above `upto`;
 *  - R is the first record of any partition still buffered when the job
 *    was built (or of a partition named by a dropped duplicate, below), so
 *    that record is at or after R: a replay from R meets it again, skips
 *    the partition's records at or below `upto`, and names its next file
 *    after the same record — the write replaces the old file whole (a
 *    rename, an S3 PUT), whatever the new file's last record is;
 *  - records below R are in committed files: a replay reads them only to
 *    rebuild the dedup window, so dedup decisions are the same as before.
 * A run with a memory budget of its own (a file) adds an M line to each R
 * (struct kl_state_replay, pipeline.h "exact replay"); once memory has
 * decided a flush its R is the last position before which nothing was
 * buffered or charged — at most the R above, so the argument holds. P
 * lines count only with the R line of their commit, and in a log with M
 * lines an R only with its M (kl_state_parse): a commit's lines are
 * appended at once, and if that append was cut short its files are
 * rewritten as if the commit had not begun.
 *
 * A Kinesis shard (`ingest --stream`, commit/checkpoint.h) has positions
 * too: user records numbered consecutively, and the C line stores the
 * position of the first user record of the Kinesis record it names. A
 * shard's order after a sequence number never changes, so a run resuming
 * there with that position gives every record the position it had in every
 * earlier run (also across an expired-iterator renewal, which continues
 * after the last record read, and a lease takeover, which loads this log):
 * R, P lines and names (source/seqmap.h) mean the same in every run, and
 * the argument above holds as it is. Two differences: the stream's dedup
 * window is shared by all shards and not rebuilt on restart (the C line is
 * at R, not at the window's start), so a dropped duplicate still names its
 * partition's next file (name_before_dedup) and holds R back to it, and a
 * repeated event_uuid whose first copy lies before the checkpoint of a
 * later run is stored again — a producer's duplicate, not one of ours. A
 * log whose C line has no position (written before positions carried over)
 * starts again at position 0 and drops its P lines.
 *
 * Several workers, one shard (lease mode, lease/fence.h): the crash
 * argument above needs one writer of the log at a time. A new owner claims
 * the log (kl_state_claim) before it loads it: it writes back what it read
 * with an O line naming itself, conditionally on the version it read, and
 * from then on writes only over the version it wrote last (the store's
 * commit_if: S3 If-Match / If-None-Match: *, or store_local's
 * compare-and-rename). An old owner's write that lands after the claim is
 * refused (KL_ECONFLICT) and changes nothing; one that lands before it
 * makes the claim fail, and the new owner reads again. The O line makes
 * every writer's bytes (and so S3's ETag, an MD5 of them) its own, so an
 * old owner's expected version never comes back. O lines are written only
 * in lease mode; readers skip them (a line of another shape), and the
 * other lines are as without leases.
 *
 * Compaction (kl_state_prune) drops P lines whose upto is below R: records
 * below R are never compared with them again. A stream's log so keeps the
 * partitions with records after its checkpoint, not every one ever seen.
 *
 * Ownership: caller-owned struct (kl_state_open/kl_state_close).
 */
#ifndef KL_COMMIT_STATE_H
#define KL_COMMIT_STATE_H

#include "core/buf.h"
#include "core/err.h"
#include "store/store.h"

#include <stdint.h>

/* The M line: how a restart rebuilds the memory picture of the job's build
 * (pipeline.c, exact replay). Records in [R, upto) are read again with
 * stored ones skipped and no decision by memory (the first run had made
 * none since its last quiet point); at `upto` the writer's outstanding
 * charge (`charge` bytes, jobs queued since the reader last waited for the
 * writer) is put back on the budget and, if `check`, the budget looked at
 * as the first run did after the job; from there every decision is the
 * first run's. quiet/qwindow: the last position before which nothing was
 * buffered or charged and where reading must start to rebuild the dedup
 * window and watermark for it; once memory has decided since that point,
 * R is quiet, and upto is R. */
struct kl_state_replay {
	uint64_t upto, charge, quiet, qwindow;
	int check;
	int known; /* an M line followed the last R line */
};

struct kl_state_part {
	char *key;
	uint64_t upto;
	uint64_t hash;
};

struct kl_state {
	char *dir, *path;
	int fd;
	uint64_t resume, window; /* last R line */
	struct kl_state_replay replay; /* the M line after it, if any */
	int done;                /* a D line was seen */
	uint64_t done_size;
	struct kl_state_part *parts;
	size_t nparts, capparts;
	uint32_t *index;
	size_t index_mask;
	size_t lines; /* lines in the log file */
	int pruned;   /* kl_state_prune dropped parts: the next sync compacts */
	struct kl_buf pending; /* appended lines not yet written */
	char checkpoint[160];  /* last C line, "" if none */
	char arrival[11];      /* A line, "YYYY-MM-DD"; "" if none */
	struct kl_store *store; /* NULL: local files; else the log is one object */
	char *key;              /* object key of the log in `store` */
	/* fenced (kl_state_claim): every write is a commit_if on `tag`, the
	 * version this state read or last wrote ("" = none existed) */
	int fenced;
	int tagged; /* tag is the version of what was read (kl_state_reload) */
	char tag[KL_STORE_TAG_MAX];
	char owner[200]; /* the claim's O line, "" = none */
	struct kl_errbuf err;
};

/* Open (creating if needed) the state of input `input_id` in lake `lake`. */
int kl_state_open(struct kl_state *st, const char *lake, const char *input_id);
void kl_state_close(struct kl_state *st);

/* The same state kept as one object `_kinlake/state/<id>.log` in an object
 * store (S3): every sync rewrites the compacted log with a single PUT, which
 * is atomic and durable when it returns. `store` is borrowed. */
int kl_state_open_store(struct kl_state *st, struct kl_store *store, const char *input_id);

/* Take the log over for a new owner of a stream shard (lease/fence.h),
 * after kl_state_reload read it with its version: from now on every write
 * replaces the object only if it is still the version this state read (or
 * last wrote), and this one writes it now,
 * with an O line naming `owner` ("<worker> <lease counter> <nonce>", so
 * that the bytes, and on S3 the ETag, differ from any other writer's).
 * KL_ECONFLICT: the log changed since it was read (reload and try again,
 * while the lease is still held). A store without conditional writes:
 * KL_OK and nothing changes (unfenced, as before). */
int kl_state_claim(struct kl_state *st, const char *owner);

/* Read the log of a store-kept state again, with its version where the
 * store tells it (read_tag): before a claim, and after a refused one. st
 * as kl_state_open_store leaves it. */
int kl_state_reload(struct kl_state *st);

/* Load the bytes of a log into st (as the open functions do; st as they
 * leave it before reading). Each line is "<CRC-32 of body, 8 lower-case hex>
 * <body>\n"; the first torn, corrupt or over-long line ends what is trusted.
 * Bodies: "P <n> <key>", "R <n> <n>", "D <n>", "C <text>", "A <day>" (10
 * bytes) with n decimal
 * digits only (no sign, no space, at most UINT64_MAX) and no NUL byte; a
 * checksummed line of another shape is skipped. Returns the bytes trusted. */
size_t kl_state_parse(struct kl_state *st, const char *p, size_t n);

/* Highest stored position of a partition; returns 1 if known. */
int kl_state_lookup(const struct kl_state *st, const char *key, size_t n, uint64_t *upto);

/* Queue progress lines; durable after kl_state_sync(). */
int kl_state_note_part(struct kl_state *st, const char *key, size_t n, uint64_t upto);
int kl_state_note_progress(struct kl_state *st, uint64_t resume, uint64_t window,
			   const struct kl_state_replay *m);
int kl_state_note_done(struct kl_state *st, uint64_t size);
int kl_state_note_checkpoint(struct kl_state *st, const char *cp);
int kl_state_note_arrival(struct kl_state *st, const char day[11]);

/* Forget the partitions stored only below `below` (every P line with upto
 * < below; UINT64_MAX: all of them), in memory and, at the next
 * kl_state_sync (which then compacts), in the log. With R = `below` they
 * can never skip a record again: records below R are replay-only. Returns
 * how many were dropped. */
size_t kl_state_prune(struct kl_state *st, uint64_t below);

/* Write and fsync queued lines (compacting the log when it has grown). */
int kl_state_sync(struct kl_state *st);

/* 1 if a kl_state_sync() now would shape the log's later bytes: a local
 * log that it would compact (rewrite whole) rather than append to, since
 * later lines are appended to the compact form. A caller that queues
 * several commits for one sync (checkpoint.h commit_batch) syncs wherever
 * this says so, and the log's bytes are those of one sync per commit. A
 * log in a store (S3) is rewritten whole at every sync, from the state
 * alone (compact()), so a sync between commits leaves nothing that lasts:
 * 0, and a batch costs one PutObject instead of one per commit. */
int kl_state_sync_shapes_log(const struct kl_state *st);

#endif
