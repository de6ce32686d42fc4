/*
 * blocks.h — a partition's buffered records as sealed compressed blocks
 * plus a raw tail, so that buffer memory holds encoded bytes, not text.
 *
 * Records are appended as raw bytes (enriched JSON lines) to a tail
 * (buffer/parts.h: the partition's `data`). Once the tail holds a block's
 * worth of bytes the table seals it: the tail is compressed as one zstd
 * frame (below), copied into an allocation of its exact size (no slack
 * held or counted) and listed in `v`; the tail is emptied and keeps its
 * capacity, so the hot path does not allocate. Regular block boundaries
 * depend only on the bytes appended, so they are a function of the record
 * sequence; early ones (when the memory budget binds) are not, and
 * kl_blocks_frames hides them.
 *
 * Readers get the raw bytes back exactly, in order: kl_blocks_flatten()
 * into one contiguous buffer (an encoder that needs the whole body, such as
 * Parquet), or kl_blocks_each() piece by piece; or as zstd frames,
 * kl_blocks_frames(), whose concatenation is one zstd stream of those bytes
 * (RFC 8878 section 3.1) — a JSON lines file body written as it is, with
 * no text compressed twice (encode/encoder.h, encode_blocks).
 *
 * The frames: zstd at the level the sealer names, each with its content
 * size and a checksum (XXH64, RFC 8878 section 3.1.1), made by one function
 * (kl_blocks_frame) from the block's bytes and that level alone, so the same
 * bytes make the same frame on any thread. Blocks whose frames become a
 * file (JSON lines) are sealed at KL_BLOCK_LEVEL, the files' level; blocks
 * that are only held until an encoder unpacks them (Parquet) are LZ4 blocks
 * instead (KL_BLOCK_LEVEL_HELD = KL_BLOCK_LZ4: the LZ4 block format, no
 * frame, its raw length kept in the index), which compress and decompress
 * in about 0.55-0.75 x the time of zstd's fast level -3 for about 1.08 x
 * its memory (bench/README.md, session 19). A table seals all of one
 * partition's blocks at one level (buffer/parts.h), and kl_blocks_frames
 * makes its own frames at KL_BLOCK_LEVEL, from an LZ4 block too.
 *
 * Blocks are cut when the raw bytes since the last regular cut reach the
 * block size ("regular" blocks); under memory pressure the table also cuts
 * a tail early (buffer/parts.h, compact), and such blocks are marked
 * `early`. A regular block and the
 * early ones before it form a group, and kl_blocks_frames makes one frame
 * per group: a regular block alone is its own frame, a group with early
 * cuts (or a block kept raw) is made into the frame that block would have
 * had, and the early blocks at the end plus the tail make the last frame.
 * So the frames depend only on the records' bytes, never on timing, on
 * memory pressure or on the thread that sealed them.
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
 * kl_blocks_zctx`: zstd's contexts, LZ4's state and the frame being made)
 * are caller-owned and reusable, one per thread; kl_blocks_zctx_cleanup
 * frees them.
 */
#ifndef KL_BUFFER_BLOCKS_H
#define KL_BUFFER_BLOCKS_H

#include "core/buf.h"
#include "core/err.h"

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

/* A partition's tail is sealed once it holds this many raw bytes: a block
 * compresses well at this size, hundreds of open tails stay small, and a
 * tail of this size plus a typical record fits a 64 KiB buffer. */
#define KL_BLOCK_BYTES (60u << 10)

/* The same for a table whose frames are the files (JSON lines;
 * kl_parts_set_block_bytes): zstd's fast level makes a frame of 120 KiB of
 * the production shape's text ~15 % faster per byte than two of 60 KiB, and
 * ~4 % smaller (fewer frame headers, checksums and entropy tables; both
 * sizes get its parameters for inputs up to 128 KiB), for twice the text
 * per open tail (a tail plus a typical record fits 128 KiB). Held blocks
 * (Parquet) keep KL_BLOCK_BYTES: LZ4 gains nothing measurable from larger
 * ones, and a stream's shards hold one tail per open partition
 * (bench/README.md, session 25). */
#define KL_BLOCK_BYTES_FRAMES (120u << 10)

/* The zstd level of frames that are written as they are (level 1:
 * compression at hundreds of MB/s per core, the JSON lines files' default
 * level), and kl_blocks_frames' own. */
#define KL_BLOCK_LEVEL 1

/* Not a zstd level: seal as an LZ4 block (lz4_Block_format.md, LZ4's
 * default acceleration), for blocks that are only held and unpacked again.
 * A level argument below is a zstd level or this. */
#define KL_BLOCK_LZ4 INT_MIN

/* How blocks that are only held and unpacked again (a Parquet partition's
 * text) are sealed. On the production shape's partition text, in blocks of
 * KL_BLOCK_BYTES: ratio 2.91 (zstd -3, the level used until session 19:
 * 3.15; level 1: 4.84), and sealing plus unsealing 0.55-0.75 x the CPU of
 * zstd -3 (bench/README.md, session 19, bench/held_codecs.c). */
#define KL_BLOCK_LEVEL_HELD KL_BLOCK_LZ4

struct kl_block {
	char *z;     /* the frame, allocated to its exact length; NULL while a
		      * seal pool (buffer/seal.h) is still making it */
	size_t zlen; /* frame length; 0: z holds the raw bytes themselves (a
		      * seal pool ran out of memory making the frame, or the
		      * block is `held`) */
	size_t raw;  /* raw bytes the frame holds */
	unsigned char early; /* cut before the block was full (buffer/parts.h
			      * compact): its bytes and the next blocks' up to a
			      * regular one make one frame of kl_blocks_frames */
	unsigned char lz4;   /* z is an LZ4 block (KL_BLOCK_LZ4), not a zstd frame */
	unsigned char held;  /* z holds the raw bytes (zlen 0) because the table
			      * has not sealed them yet (buffer/parts.h,
			      * kl_parts_hold_raw); a reader sees a raw block */
};

struct kl_blocks {
	struct kl_block *v; /* sealed blocks, in order */
	size_t n, cap;
	size_t zlen;	    /* sum of the frames' lengths */
	uint64_t raw;	    /* raw bytes in the sealed blocks */
	uint64_t open_raw;  /* ... in the early blocks after the last regular one
			     * (with the tail's: when a regular block is due) */
	struct kl_buf tail; /* raw bytes after the last block (unsealed) */
};

/* Reusable compression contexts and the frame being made (lazily created). */
struct kl_blocks_zctx {
	void *c;   /* ZSTD_CCtx */
	int level; /* the level c is set to */
	void *d;   /* ZSTD_DCtx */
	void *lz4; /* LZ4's compression state (LZ4_sizeofState() bytes) */
	char *out;
	size_t out_cap;
};

void kl_blocks_init(struct kl_blocks *b);
void kl_blocks_cleanup(struct kl_blocks *b);
void kl_blocks_zctx_cleanup(struct kl_blocks_zctx *x);

/* Compress src[0..n) at zstd level `level` (or KL_BLOCK_LZ4) as one block
 * appended to b (n > 0), regular or `early` (see above). KL_OK, or
 * KL_ENOMEM with b's blocks unchanged (its index may have grown). */
int kl_blocks_seal(struct kl_blocks *b, struct kl_blocks_zctx *x, int level, const void *src,
		   size_t n, int early);

/* The pieces of kl_blocks_seal, for sealing on another thread
 * (buffer/seal.h): room for one more block in b's index (grown exactly as
 * kl_blocks_seal grows it; KL_OK or KL_ENOMEM); the largest frame n raw
 * bytes can make (an upper bound of its zlen, at any level, LZ4 too); and
 * the frame of src[0..n) at `level` (KL_BLOCK_LZ4: an LZ4 block) in a new
 * allocation of its exact length, *z (the caller's), using x's context
 * (KL_OK or KL_ENOMEM). kl_blocks_frame
 * touches nothing but x, so threads with contexts of their own may call it
 * at once. */
int kl_blocks_reserve(struct kl_blocks *b);
size_t kl_blocks_bound(size_t n);
int kl_blocks_frame(struct kl_blocks_zctx *x, int level, const void *src, size_t n, char **z,
		    size_t *zlen);

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
 * `scratch`, reset first; a raw block as it is) or the tail at a time;
 * stops at fn's first error. */
typedef int (*kl_blocks_fn)(void *ctx, const void *p, size_t n);
int kl_blocks_each(const struct kl_blocks *b, struct kl_blocks_zctx *x, struct kl_buf *scratch,
		   kl_blocks_fn fn, void *ctx, struct kl_errbuf *eb);

/* kl_blocks_each for the last reading of b: each block's frame is freed
 * once it is unpacked, so b's memory shrinks as it is read (kl_blocks_mem
 * with it). Afterwards, whatever the result, b may only be cleaned up. */
int kl_blocks_drain(struct kl_blocks *b, struct kl_blocks_zctx *x, struct kl_buf *scratch,
		    kl_blocks_fn fn, void *ctx, struct kl_errbuf *eb);

/* Call fn with the raw bytes as zstd frames, in order, one per group (see
 * above): a regular block's frame as it is, every other group's made here
 * at KL_BLOCK_LEVEL (its bytes gathered in `scratch`, reset first, unless
 * they are the tail alone); no bytes at all make one empty frame. Their concatenation is a
 * zstd stream of exactly kl_blocks_flatten's bytes, the same whatever
 * early cuts were made. Stops at fn's first error; KL_ENOMEM, or KL_EIO if
 * a frame does not decompress to its recorded length. */
int kl_blocks_frames(const struct kl_blocks *b, struct kl_blocks_zctx *x, struct kl_buf *scratch,
		     kl_blocks_fn fn, void *ctx, struct kl_errbuf *eb);

#endif
