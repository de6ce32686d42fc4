/*
 * encoder.h — turns a partition's buffered JSON lines into a file body.
 *
 * The pipeline buffers every partition as enriched JSON lines; at flush time
 * an encoder writes them out in the lake's format through a write callback
 * (kl_write_fn: a store file, a buffer, ...), in chunks, so a file body is
 * never held twice. The lines come as text (encode, or begin/write/end),
 * or, to an encoder that can use them, as the buffer itself
 * (encode_blocks: sealed zstd blocks, buffer/blocks.h), so a body made of
 * the blocks' frames is not decompressed and compressed again.
 * Implementations: JSON lines (encode/jsonl), Parquet (encode/parquet).
 * The choices a user makes — format, compression, level — are the enums
 * and kl_encoder_opts below; kl_*_parse map their names.
 *
 * Ownership: an encoder owns its reusable contexts (compression state,
 * chunk buffers) and borrows what its constructor is given; one encoder is
 * used by one thread at a time. Parallel encoding uses copies (clone()),
 * whose shared side effects are applied in file order by publish(); a
 * copy hands what a file left to publish to another copy (hand_over())
 * and encodes its next file while that waits. kl_encoder_free(NULL) is a
 * no-op.
 */
#ifndef KL_ENCODE_ENCODER_H
#define KL_ENCODE_ENCODER_H

#include "core/err.h"

#include <stddef.h>
#include <stdint.h>

/* Receives an encoder's output: n bytes at p. KL_OK or an error, which
 * ends the encoding with that error. */
typedef int (*kl_write_fn)(void *ctx, const void *p, size_t n);

enum kl_format { KL_FORMAT_JSONL, KL_FORMAT_PARQUET };

/* Codec of a file body. KL_COMP_SNAPPY is for Parquet pages only. */
enum kl_compression { KL_COMP_ZSTD, KL_COMP_GZIP, KL_COMP_NONE, KL_COMP_SNAPPY };

struct kl_encoder_opts {
	enum kl_compression compression;
	int level;		/* codec level, 0 = the codec's default */
	size_t row_group_bytes; /* Parquet: rows per row group by size; 0 = 128 MiB */
	size_t stream_bytes;	/* Parquet: a file of more raw bytes is encoded from the
				 * buffer's blocks, not unpacked whole; 0 = KL_PQ_STREAM_BYTES */
	size_t max_columns;	/* Parquet: columns a file has at most; 0 = KL_PQ_MAX_COLUMNS */
};

/* Parquet: a file's columns at most, by default, and the least allowed (the
 * six common columns, one payload column and the rescue column). Members
 * past the cap are kept as JSON in the rescue column (schema.h
 * KL_PQ_RESCUE_COLUMN): an event type with keys made from data (ids, dates)
 * would otherwise grow a column per distinct key, and with them every
 * file's size, its writer's memory and the table's DDL (Athena takes
 * statements of at most 256 KiB). */
#define KL_PQ_MAX_COLUMNS ((size_t)1000)
#define KL_PQ_MAX_COLUMNS_DEF "1000" /* the same, as the option tables' default */
#define KL_PQ_MIN_COLUMNS 8
#define KL_PQ_MAX_COLUMNS_MAX 1000000 /* the most an option may ask for */

/* Parquet: a file whose records (raw JSON lines) exceed this is encoded
 * from its blocks (encode_blocks) in two passes, one block unpacked at a
 * time (the first infers the schema, the second puts the rows), so an
 * encoder holds a block of text and the writer's compressed pages, not the
 * file's text. Smaller files are unpacked whole and scanned once (with the
 * tape, parquet_encoder.c): faster, and 8 MiB at most per encoder thread.
 * The file's bytes are the same either way. */
#define KL_PQ_STREAM_BYTES ((size_t)8 << 20)

struct kl_encoder;
struct kl_blocks;
struct kl_blocks_zctx;
struct kl_buf;

struct kl_encoder_ops {
	/* Encode lines[0..n) — `count` records, each ending in '\n' — as one
	 * complete file body through fn. */
	int (*encode)(struct kl_encoder *e, const char *lines, size_t n, uint64_t count,
		      kl_write_fn fn, void *ctx, struct kl_errbuf *eb);
	/* Optional (NULL: not supported). The same body given in pieces, for
	 * one too large to hold in memory: begin() with the total length the
	 * pieces will have, write() them in order, end() to finish the body. */
	int (*begin)(struct kl_encoder *e, uint64_t total, kl_write_fn fn, void *ctx);
	int (*write)(struct kl_encoder *e, const void *p, size_t n, struct kl_errbuf *eb);
	int (*end)(struct kl_encoder *e, struct kl_errbuf *eb);
	/* Optional (NULL: the encoder, with its options, takes text only).
	 * The same body from a partition's buffer `b` (buffer/blocks.h): its
	 * raw bytes are the lines. x and scratch are the caller's reusable
	 * contexts (to unpack or make frames with, buffer/blocks.h). The
	 * bytes written must not depend on where b's blocks were cut early,
	 * nor on the thread. The encoder may free b's frames as it reads them
	 * for the last time (kl_blocks_drain): the caller only cleans b up
	 * after this call, whatever its result. */
	int (*encode_blocks)(struct kl_encoder *e, struct kl_blocks *b, uint64_t count,
			     struct kl_blocks_zctx *x, struct kl_buf *scratch, kl_write_fn fn,
			     void *ctx, struct kl_errbuf *eb);
	/* Free the encoder and what it owns. */
	void (*free)(struct kl_encoder *e);
	/* Optional (NULL: the encoder has no copies). A new encoder with the
	 * same options and borrowed parts, for another thread. A copy's
	 * encode() touches nothing shared: what it would change outside itself
	 * (Parquet: the lake's schema registry) waits for publish(). NULL on
	 * ENOMEM. */
	struct kl_encoder *(*clone)(const struct kl_encoder *e);
	/* Optional (NULL: nothing to publish). Apply what the last encode() of
	 * a copy left to do, in the thread and order the files are stored in. */
	int (*publish)(struct kl_encoder *e, struct kl_errbuf *eb);
	/* Required with publish() and clone(). Move what the last encode() of
	 * copy `e` left to publish into `to`, another copy of the same encoder
	 * that encodes nothing meanwhile: `to`'s publish() then applies it
	 * (exactly as `e`'s would have), and `e` may encode its next file at
	 * once. What `to` held before is dropped; nothing is allocated. */
	void (*hand_over)(struct kl_encoder *e, struct kl_encoder *to);
	/* Optional (NULL: no use for it). A hint, from any thread, never
	 * blocking on I/O: a file of partition `key` (route/partition.h) is
	 * coming. Parquet reads the schemas of the event types so named side
	 * by side, ahead of their files (schema.h kl_schema_registry_expect). */
	void (*expect)(struct kl_encoder *e, const char *key, size_t key_len);
};

struct kl_encoder {
	const struct kl_encoder_ops *ops;
	const char *ext; /* file name suffix, e.g. ".jsonl.zst" */
	/* rows of the last file encoded that had members past the column cap,
	 * kept in its rescue column (Parquet; schema.h KL_PQ_RESCUE_COLUMN) */
	uint64_t rescued;
};

static inline void kl_encoder_free(struct kl_encoder *e)
{
	if (e)
		e->ops->free(e);
}

/* "zstd" / "gzip" / "none" / "snappy" -> enum kl_compression; -1 if unknown. */
int kl_compression_parse(const char *s);
/* "jsonl" / "parquet" -> enum kl_format; -1 if unknown. */
int kl_format_parse(const char *s);

/* JSON lines (streaming supported; with zstd at the default level, or
 * KL_BLOCK_LEVEL, the body is the buffer's own frames: encode_blocks). NULL
 * on ENOMEM or for KL_COMP_SNAPPY. */
struct kl_encoder *kl_encoder_jsonl_new(const struct kl_encoder_opts *o);

struct kl_store;
struct kl_schema_registry;
/* Parquet, one schema per file inferred from its events; the file's schema
 * is merged into `registry` (borrowed, may be NULL: none) kept in `store`
 * (borrowed). NULL on ENOMEM. */
struct kl_encoder *kl_encoder_parquet_new(const struct kl_encoder_opts *o, struct kl_store *store,
					  struct kl_schema_registry *registry);

#endif
