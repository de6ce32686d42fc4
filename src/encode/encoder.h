/*
 * encoder.h — turns a partition's buffered JSON lines into a file body.
 *
 * The pipeline buffers every partition as enriched JSON lines; at flush time
 * an encoder writes them out in the lake's format through a write callback.
 * Implementations: JSON lines (encode/jsonl), Parquet (encode/parquet).
 * An encoder owns its reusable contexts; kl_encoder_free(NULL) is a no-op.
 */
#ifndef KL_ENCODE_ENCODER_H
#define KL_ENCODE_ENCODER_H

#include "encode/jsonl/jsonl.h"

#include <stdint.h>

struct kl_encoder {
	const char *ext; /* file name suffix, e.g. ".jsonl.zst" */
	int (*encode)(struct kl_encoder *e, const char *lines, size_t n, uint64_t count,
		      kl_write_fn fn, void *ctx, struct kl_errbuf *eb);
	void (*free)(struct kl_encoder *e);
};

static inline void kl_encoder_free(struct kl_encoder *e)
{
	if (e)
		e->free(e);
}

/* JSON lines with the given compression (level 0 = default). NULL on ENOMEM. */
struct kl_encoder *kl_encoder_jsonl_new(enum kl_compression comp, int level);

#endif
