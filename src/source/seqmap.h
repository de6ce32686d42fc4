/*
 * seqmap.h — Kinesis positions: which sequence number a position is, and
 * the file names and dead-letter sources made from it.
 *
 * A Kinesis source numbers the user records it hands to the pipeline
 * consecutively (positions counted on from the checkpoint's in
 * `ingest --stream`, source_kinesis.h; 0, 1, 2, … of one Lambda batch). A Kinesis
 * record holds one user record, or, KPL-aggregated, any number (also none).
 * The lake names a file after the position of its first record (DESIGN.md
 * "Lake layout": names are deterministic from the input positions):
 *     <shardId>-<sequence number>        the first user record of a Kinesis record
 *     <shardId>-<sequence number>-<n>    its n-th user record (n >= 1)
 * and a dead letter's "source" names its record as
 *     kinesis:<stream>/<shardId>:<sequence number>       a record that is not aggregated
 *     kinesis:<stream>/<shardId>:<sequence number>:<n>   user record n (from 0) of an
 *                                                        aggregated one
 * (<stream>: the stream's name or ARN, as the entry point knows it).
 * These are the one implementation of those names: source/source_kinesis.c
 * (`ingest --stream`) and lambda/esm.c (the event-source-mapping Lambda) both
 * call them, so the two deployments write the same objects.
 *
 * A map holds one mark per Kinesis record: the position of its first user
 * record and its sequence number. Marks are added in position order (a
 * record's first position never decreases); kl_seqmap_find() returns the
 * last mark at or before a position, so a record with no user records, which
 * shares its first position with the next one, is passed over. Marks no
 * longer needed (before a checkpoint) are dropped with kl_seqmap_forget();
 * their memory is reused.
 *
 * Contracts checked here (Kinesis API reference): a sequence number is 1 to
 * KL_SEQ_MAX decimal digits, a shard id 1 to KL_SHARD_MAX bytes of
 * [a-zA-Z0-9_.-]; so a name made of them can never leave its directory.
 *
 * Memory: a mark is kept for every record not yet durable, and in window
 * mode that is every record of the open hour — a million at the production
 * rate — so its size counts. A mark is 16 bytes plus its sequence number's
 * digits packed two to a byte, and only the digits after those it shares
 * with the number before it (consecutive numbers of a shard share their
 * first ~25 of 56 digits): ~32 bytes a record instead of 73 as text. Every
 * SEQMAP_RESTART-th mark (and any that shares nothing) holds its whole
 * number, so kl_seqmap_seq() decodes at most that many marks; forgetting
 * keeps the marks back to the last whole one.
 *
 * Ownership: `struct kl_seqmap` is caller-owned (init/cleanup); sequence
 * numbers are copied in. The map does not allocate per record once it has
 * grown to the largest window. Not thread-safe (one source's thread).
 */
#ifndef KL_SOURCE_SEQMAP_H
#define KL_SOURCE_SEQMAP_H

#include "core/err.h"

#include <stddef.h>
#include <stdint.h>

#define KL_SEQ_MAX 128	 /* Kinesis: 0|[1-9][0-9]{0,128}; in practice 56 digits */
#define KL_SHARD_MAX 128 /* Kinesis: [a-zA-Z0-9_.-]{1,128} */
/* room for the longest stem, NUL included: shard "-" seq "-" UINT64 */
#define KL_SEQMAP_STEM_MAX (KL_SHARD_MAX + 1 + KL_SEQ_MAX + 1 + 20 + 1)

struct kl_seqmark {
	uint64_t first_pos; /* position of the record's first user record */
	uint32_t off;	    /* its packed digits in the map's `digits` */
	uint8_t len;	    /* digits in its sequence number */
	uint8_t shared;	    /* leading digits it shares with the mark before (0: whole) */
	uint8_t aggregated; /* a KPL-aggregated record */
};

struct kl_seqmap {
	struct kl_seqmark *marks;
	/* live marks are marks[live..n); marks[head..live) are kept only to
	 * decode them (head is a mark with shared == 0) */
	size_t head, live, n, cap;
	uint8_t *digits; /* the marks' digits after their shared ones, 2 a byte */
	size_t dlen, dcap;
	char last[KL_SEQ_MAX + 1]; /* the last mark's number, for the next one's */
	size_t last_len;
	unsigned since; /* marks since the last whole one */
};

/* The sequence number of a mark of m, into out (NUL-terminated); returns
 * out. Valid while the mark is live. */
const char *kl_seqmap_seq(const struct kl_seqmap *m, const struct kl_seqmark *k,
			  char out[KL_SEQ_MAX + 1]);

void kl_seqmap_init(struct kl_seqmap *m);
void kl_seqmap_cleanup(struct kl_seqmap *m);
/* Drop every mark (a new batch); keeps the memory. */
void kl_seqmap_reset(struct kl_seqmap *m);

/* Memory the map holds (its arrays' capacity): it only grows, to the
 * largest window of marks. */
size_t kl_seqmap_bytes(const struct kl_seqmap *m);

/* Is s[0..n) a sequence number (1..KL_SEQ_MAX digits)? A shard id? */
int kl_seqmap_seq_ok(const char *s, size_t n);
int kl_seqmap_shard_ok(const char *s, size_t n);

/* Add the Kinesis record `seq` whose first user record is at first_pos.
 * KL_EPARSE if seq is not a sequence number, KL_EINVAL if first_pos is
 * before the last mark's, KL_ENOMEM. */
int kl_seqmap_add(struct kl_seqmap *m, uint64_t first_pos, const char *seq, size_t len,
		  int aggregated);

/* The Kinesis record holding position pos (the last mark with first_pos <=
 * pos), or NULL if pos is before every live mark. */
const struct kl_seqmark *kl_seqmap_find(const struct kl_seqmap *m, uint64_t pos);

/* Drop the marks before `mk` (a mark of this map): nothing before it will be
 * named again. */
void kl_seqmap_forget(struct kl_seqmap *m, const struct kl_seqmark *mk);

/* The file-name stem "<shard>-<seq>[-<n>]" of the file whose first record is
 * at pos. 0, or -1 if pos has no mark or cap is too small. */
int kl_seqmap_stem(const struct kl_seqmap *m, const char *shard, uint64_t pos, char *out,
		   size_t cap);

/* The name of a shard as an input: "kinesis:<stream name or ARN>/<shard>"
 * ("kinesis:<shard>" when stream_len is 0). 0, or -1 if cap is too small. */
int kl_seqmap_input(char *out, size_t cap, const char *stream, size_t stream_len,
		    const char *shard);

/* The dead-letter source "<input>:<seq>[:<n>]" of the record at pos (input
 * from kl_seqmap_input()). 0, or -1 if pos has no mark or cap is too small. */
int kl_seqmap_origin(const struct kl_seqmap *m, const char *input, uint64_t pos, char *out,
		     size_t cap);

#endif
