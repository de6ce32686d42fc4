/*
 * parts.h — one buffer per open partition, bounded memory, flush policy.
 *
 * The table maps a partition prefix (see route/partition.h) to a buffer of
 * encoded records (JSON lines) plus the input positions they cover. The
 * pipeline appends into part->data directly (no intermediate copy) and then
 * calls kl_parts_note_append() so the table can keep its accounting.
 *
 * Encoded, not text: part->data is only the raw tail. Once it holds
 * block_bytes (KL_BLOCK_BYTES) note_append seals it into a zstd block of
 * part->sealed (buffer/blocks.h) with the table's reusable context, so a
 * partition holds compressed blocks plus at most one block of text. Block
 * boundaries are counted in raw bytes, so they follow the record sequence.
 * If sealing fails for lack of memory the text simply stays raw.
 *
 * Flush policy (kl_parts_next_flush): a partition is due when its buffered
 * raw bytes (kl_part_bytes: uncompressed JSON lines, like Firehose's buffer
 * size, whatever the blocks compress to) reach max_file_bytes, when its
 * oldest record has waited flush_interval, or, while the memory held (`mem`:
 * the sum of the sealed blocks' and the tails' capacities) exceeds
 * memory_limit even after every tail of a quarter block or more was sealed
 * early, the partition holding the most memory first. After a flush,
 * kl_parts_detach() hands the blocks and the tail to the writer and empties
 * the partition, so memory stays bounded however many partitions have ever
 * been open.
 *
 * Replay: each partition also remembers `stored_upto`, the highest input
 * position already in a durable file (loaded from state), and records at or
 * below it are skipped by the pipeline.
 *
 * Ownership: the table owns every kl_part and its key and data; pointers to
 * parts stay valid until kl_parts_cleanup().
 */
#ifndef KL_BUFFER_PARTS_H
#define KL_BUFFER_PARTS_H

#include "buffer/blocks.h"
#include "core/buf.h"

#include <stdint.h>

struct kl_part {
	char *key; /* NUL-terminated partition prefix */
	size_t key_len;
	uint64_t hash;
	struct kl_buf data;  /* the raw tail: records, each ending in '\n' */
	struct kl_blocks sealed; /* the records before the tail, compressed (its tail unused) */
	uint64_t count;      /* records in sealed + data */
	uint64_t first_pos;  /* input position of the first record buffered */
	uint64_t last_pos;   /* ... and of the last */
	int64_t first_ns;    /* monotonic time the first record was buffered */
	uint64_t stored_upto; /* replay: positions <= this are already stored */
	int has_stored;
	size_t accounted;    /* memory (blocks + data.cap) as last counted in the table's total */
	uint64_t files;      /* files written for this partition in this run */
	uint64_t name_pos;   /* set by the pipeline (ingest's name_before_dedup): */
	int named;           /* the next file is named after name_pos if earlier */
	int dead;            /* set by the pipeline: a dead-letter partition (errors/...) */
};

struct kl_parts {
	struct kl_part **v;
	size_t n, cap;
	uint32_t *index; /* open addressing: part index + 1 */
	size_t index_mask;
	size_t mem;      /* memory held: sealed blocks plus tail capacities */
	size_t block_bytes; /* seal a tail at this many raw bytes; 0 = never */
	struct kl_blocks_zctx zctx; /* the reader thread's compression context */
	size_t max_file_bytes;
	size_t memory_limit;
	int64_t flush_interval_ns;
};

void kl_parts_init(struct kl_parts *t, size_t max_file_bytes, size_t memory_limit,
		   int64_t flush_interval_ns);
void kl_parts_cleanup(struct kl_parts *t);

/* Find or create the partition for key[0..n). NULL on allocation failure. */
struct kl_part *kl_parts_get(struct kl_parts *t, const char *key, size_t n);

/* Bookkeeping after the caller appended one record for `pos` to p->data. */
void kl_parts_note_append(struct kl_parts *t, struct kl_part *p, uint64_t pos, int64_t now_ns);

/* A partition that must be flushed now, or NULL. `all` = end of input. */
struct kl_part *kl_parts_next_flush(struct kl_parts *t, int64_t now_ns, int all);

/* Raw (uncompressed) bytes buffered in p: sealed blocks plus tail. */
static inline uint64_t kl_part_bytes(const struct kl_part *p)
{
	return p->sealed.raw + p->data.len;
}

/* Is this one partition due by size? (cheap check right after an append) */
static inline int kl_parts_full(const struct kl_parts *t, const struct kl_part *p)
{
	return kl_part_bytes(p) >= t->max_file_bytes;
}

/* Move p's buffered records — its sealed blocks, and its tail as out->tail
 * — into *out (caller-owned, initialised by this call; read it with
 * kl_blocks_flatten/each, free it with kl_blocks_cleanup) for an
 * asynchronous flush, and empty p: it records p->last_pos as stored and
 * stops counting the buffer's memory. */
void kl_parts_detach(struct kl_parts *t, struct kl_part *p, struct kl_blocks *out);

/* Smallest first_pos over non-empty buffers, or `fallback` if none. */
uint64_t kl_parts_min_pending(const struct kl_parts *t, uint64_t fallback);

/* Milliseconds until the oldest buffer reaches the flush interval (-1: none). */
int kl_parts_ms_until_due(const struct kl_parts *t, int64_t now_ns);

#endif
