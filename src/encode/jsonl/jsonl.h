/*
 * jsonl.h — encode a partition's buffered JSON lines into a file body:
 * zstd (default), gzip, or uncompressed.
 *
 * A zstd body is one or more zstd frames, concatenated: one valid zstd
 * stream (RFC 8878 section 3.1: the zstd CLI, ZSTD_decompress and the
 * streaming API, DuckDB read it whole; python-zstandard's one-shot
 * decompress() and stream_reader without read_across_frames=True stop
 * after the first frame), each frame with its content size and checksum. Text given here (encode, begin/write/end) is
 * one frame; a body from a partition's buffer at the default level is the
 * buffer's own frames, one per ~120 KiB block (buffer/blocks.h, and
 * jsonl_encoder.c's encode_blocks), so no text is compressed twice. Other
 * levels, gzip and no compression take the text path.
 *
 * Streaming: output goes to a write callback in chunks of at most
 * KL_JSONL_CHUNK bytes, so encoding a 128 MiB buffer needs no second
 * 128 MiB buffer; the input may also come in pieces (begin/write/end), for
 * a body that is not in memory. Output is deterministic for the same input,
 * pieces and settings.
 *
 * Ownership: `struct kl_jsonl` is caller-owned (init/cleanup) and holds the
 * reusable compression context and chunk buffer.
 */
#ifndef KL_ENCODE_JSONL_H
#define KL_ENCODE_JSONL_H

#include "core/err.h"
#include "encode/encoder.h"

#include <stddef.h>
#include <stdint.h>

#define KL_JSONL_CHUNK (1u << 20)

struct kl_jsonl {
	enum kl_compression comp;
	int level;
	void *zstd; /* ZSTD_CCtx */
	void *gz;   /* z_stream */
	unsigned char *chunk;
	kl_write_fn fn; /* between begin and end */
	void *ctx;
};

/* level 0 = codec default (zstd 1, gzip 6). KL_OK, KL_ENOMEM, or KL_EINVAL
 * for a codec JSON lines do not use (snappy). */
int kl_jsonl_init(struct kl_jsonl *e, enum kl_compression comp, int level);
void kl_jsonl_cleanup(struct kl_jsonl *e);

/* Encode data[0..n) as one complete file body through fn. */
int kl_jsonl_encode(struct kl_jsonl *e, const void *data, size_t n, kl_write_fn fn, void *ctx,
		    struct kl_errbuf *eb);

/* The same body in pieces: begin (with the total length the pieces will
 * have), write each, end. */
int kl_jsonl_begin(struct kl_jsonl *e, uint64_t total, kl_write_fn fn, void *ctx);
int kl_jsonl_write(struct kl_jsonl *e, const void *data, size_t n, struct kl_errbuf *eb);
int kl_jsonl_end(struct kl_jsonl *e, struct kl_errbuf *eb);

/* ".jsonl.zst", ".jsonl.gz" or ".jsonl" */
const char *kl_jsonl_extension(enum kl_compression comp);

#endif
