/*
 * jsonl.h — encode a partition's buffered JSON lines into a file body:
 * zstd (default), gzip, or uncompressed.
 *
 * Streaming: output goes to a write callback in chunks of at most
 * KL_JSONL_CHUNK bytes, so encoding a 128 MiB buffer needs no second
 * 128 MiB buffer. Output is deterministic for the same input and settings.
 *
 * Ownership: `struct kl_jsonl` is caller-owned (init/cleanup) and holds the
 * reusable compression context and chunk buffer.
 */
#ifndef KL_ENCODE_JSONL_H
#define KL_ENCODE_JSONL_H

#include "core/err.h"

#include <stddef.h>

#define KL_JSONL_CHUNK (1u << 20)

enum kl_compression { KL_COMP_ZSTD, KL_COMP_GZIP, KL_COMP_NONE };

typedef int (*kl_write_fn)(void *ctx, const void *p, size_t n);

struct kl_jsonl {
	enum kl_compression comp;
	int level;
	void *zstd; /* ZSTD_CCtx */
	void *gz;   /* z_stream */
	unsigned char *chunk;
};

/* level 0 = codec default (zstd 1, gzip 6). KL_OK or KL_ENOMEM. */
int kl_jsonl_init(struct kl_jsonl *e, enum kl_compression comp, int level);
void kl_jsonl_cleanup(struct kl_jsonl *e);

/* Encode data[0..n) as one complete file body through fn. */
int kl_jsonl_encode(struct kl_jsonl *e, const void *data, size_t n, kl_write_fn fn, void *ctx,
		    struct kl_errbuf *eb);

/* ".jsonl.zst", ".jsonl.gz" or ".jsonl" */
const char *kl_jsonl_extension(enum kl_compression comp);

/* Parse "zstd" / "gzip" / "none"; -1 if unknown. */
int kl_compression_parse(const char *s);

#endif
