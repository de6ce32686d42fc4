/* jsonl_encoder.c — the JSON lines kl_encoder (see encode/encoder.h). */
#include "encode/encoder.h"

#include <stdlib.h>

struct jsonl_encoder {
	struct kl_encoder base;
	struct kl_jsonl j;
};

static int jsonl_encode(struct kl_encoder *base, const char *lines, size_t n, uint64_t count,
			kl_write_fn fn, void *ctx, struct kl_errbuf *eb)
{
	(void)count;
	struct jsonl_encoder *e = (struct jsonl_encoder *)base;
	return kl_jsonl_encode(&e->j, lines, n, fn, ctx, eb);
}

static void jsonl_free(struct kl_encoder *base)
{
	struct jsonl_encoder *e = (struct jsonl_encoder *)base;
	kl_jsonl_cleanup(&e->j);
	free(e);
}

struct kl_encoder *kl_encoder_jsonl_new(enum kl_compression comp, int level)
{
	struct jsonl_encoder *e = calloc(1, sizeof *e);
	if (!e)
		return NULL;
	if (kl_jsonl_init(&e->j, comp, level)) {
		free(e);
		return NULL;
	}
	e->base.ext = kl_jsonl_extension(comp);
	e->base.encode = jsonl_encode;
	e->base.free = jsonl_free;
	return &e->base;
}
