/*
 * blocks.h — a partition's buffered records as sealed compressed blocks
 * plus a raw tail, so that buffer memory holds encoded bytes, not text.
 *
 * Records are appended as raw bytes (enriched JSON lines) to a tail
 * (buffer/parts.h: the partition's `data`). Once the tail holds a block's
 * worth of bytes the table seals it: the tail is compressed as one zstd
 * frame (level 1, RFC 8878, with its content size), copied into an
 * allocation of its exact size (no slack held or counted) and listed in
 * `v`; the tail is emptied and keeps its capacity, so the hot path does not
 * allocate. Block boundaries depend only on the bytes appended (and, when
 * the memory budget is exceeded, on the table's early sealing), so they are
 * a function of the record sequence.
 *
 * Readers get the raw bytes back exactly, in order: kl_blocks_flatten()
 * into one contiguous buffer (an encoder that needs the whole body, such as
 * Parquet), or kl_blocks_each() piece by piece. The frames are an internal
 * format, never written to the lake: a file is what its encoder makes of
 * the raw bytes (pipeline/writer.h hands them over the same way wherever
 * the blocks were cut).
 *
 * Memory: kl_blocks_mem() is what the blocks hold (compressed bytes and the
 * index); the tail's capacity is counted by the owner of the tail.
 *
 * Sealing elsewhere: the table may cut a block on its thread and have a
 * seal pool (buffer/seal.h) compress it on another: kl_blocks_reserve()
 * makes its index slot (so the index grows at the same blocks as
 * kl_blocks_seal's), kl_blocks_frame() is the compression alone, and the
 * slot (z == NULL meanwhile, `raw` already counted) is filled in by the
 * table when the frame is back (buffer/parts.h). A struct kl_blocks with an
 * unfilled slot is never read: blocks leave the table only complete. The
 * index's entry keeps its size (kl_blocks_mem counts it), so memory counts
 * are the same whichever thread seals.
 *
 * Ownership: `struct kl_blocks` is caller-owned (init/cleanup) and owns
 * its frames, `v` and `tail`. Compression contexts (`struct
 * kl_blocks_zctx`) are caller-owned and reusable, one per thread;
 * kl_blocks_zctx_cleanup frees them.
 */
#ifndef KL_BUFFER_BLOCKS_H
#define KL_BUFFER_BLOCKS_H

#include "core/buf.h"
#include "core/err.h"

#include <stddef.h>
#include <stdint.h>

/* A partition's tail is sealed once it holds this many raw bytes: a block
 * compresses well at this size, hundreds of open tails stay small, and a
 * tail of this size plus a typical record fits a 64 KiB buffer. */
#define KL_BLOCK_BYTES (60u << 10)

struct kl_block {
	char *z;     /* the frame, allocated to its exact length; NULL while a
		      * seal pool (buffer/seal.h) is still making it */
	size_t zlen; /* frame length; 0: z holds the raw bytes themselves (a
		      * seal pool ran out of memory making the frame) */
	size_t raw;  /* raw bytes the frame holds */
};

struct kl_blocks {
	struct kl_block *v; /* sealed blocks, in order */
	size_t n, cap;
	size_t zlen;	    /* sum of the frames' lengths */
	uint64_t raw;	    /* raw bytes in the sealed blocks */
	struct kl_buf tail; /* raw bytes after the last block (unsealed) */
};

/* Reusable zstd contexts and the frame being made (lazily created). */
struct kl_blocks_zctx {
	void *c; /* ZSTD_CCtx */
	void *d; /* ZSTD_DCtx */
	char *out;
	size_t out_cap;
};

void kl_blocks_init(struct kl_blocks *b);
void kl_blocks_cleanup(struct kl_blocks *b);
void kl_blocks_zctx_cleanup(struct kl_blocks_zctx *x);

/* Compress src[0..n) as one block appended to b (n > 0). KL_OK, or
 * KL_ENOMEM with b's blocks unchanged (its index may have grown). */
int kl_blocks_seal(struct kl_blocks *b, struct kl_blocks_zctx *x, const void *src, size_t n);

/* The pieces of kl_blocks_seal, for sealing on another thread
 * (buffer/seal.h): room for one more block in b's index (grown exactly as
 * kl_blocks_seal grows it; KL_OK or KL_ENOMEM); the largest frame n raw
 * bytes can make (an upper bound of its zlen); and the frame of src[0..n)
 * in a new allocation of its exact length, *z (the caller's), using x's
 * context (KL_OK or KL_ENOMEM). kl_blocks_frame touches nothing but x, so
 * threads with contexts of their own may call it at once. */
int kl_blocks_reserve(struct kl_blocks *b);
size_t kl_blocks_bound(size_t n);
int kl_blocks_frame(struct kl_blocks_zctx *x, const void *src, size_t n, char **z, size_t *zlen);

/* Raw bytes held: the sealed blocks' plus the tail's. */
static inline uint64_t kl_blocks_len(const struct kl_blocks *b)
{
	return b->raw + b->tail.len;
}

/* Memory the sealed blocks hold (frames and index, not the tail). */
static inline size_t kl_blocks_mem(const struct kl_blocks *b)
{
	return b->zlen + b->cap * sizeof *b->v;
}

/* Append every raw byte (blocks, then tail) to out. KL_OK, KL_ENOMEM, or
 * KL_EIO if a frame does not decompress to its recorded length. */
int kl_blocks_flatten(const struct kl_blocks *b, struct kl_blocks_zctx *x, struct kl_buf *out,
		      struct kl_errbuf *eb);

/* Call fn with the raw bytes in order, one block (decompressed into
 * `scratch`, reset first) or the tail at a time; stops at fn's first error. */
typedef int (*kl_blocks_fn)(void *ctx, const void *p, size_t n);
int kl_blocks_each(const struct kl_blocks *b, struct kl_blocks_zctx *x, struct kl_buf *scratch,
		   kl_blocks_fn fn, void *ctx, struct kl_errbuf *eb);

#endif
