/* jsonl_encoder.c — the JSON lines kl_encoder (see encode/encoder.h).
 * With zstd at the buffer's level (the default), a body from a buffer is
 * the buffer's own frames (encode_blocks; jsonl.h says why that is one
 * valid zstd body); text (encode, begin/write/end) is compressed here as
 * one frame. */
#include "buffer/blocks.h"
#include "encode/encoder.h"
#include "encode/jsonl/jsonl.h"

#include <stdlib.h>

struct jsonl_encoder {
	struct kl_encoder base;
	struct kl_jsonl j;
	struct kl_encoder_opts opts; /* for clone() */
};

static int jsonl_encode(struct kl_encoder *base, const char *lines, size_t n, uint64_t count,
			kl_write_fn fn, void *ctx, struct kl_errbuf *eb)
{
	(void)count;
	struct jsonl_encoder *e = (struct jsonl_encoder *)base;
	return kl_jsonl_encode(&e->j, lines, n, fn, ctx, eb);
}

static int jsonl_encode_blocks(struct kl_encoder *base, struct kl_blocks *b, uint64_t count,
			       struct kl_blocks_zctx *x, struct kl_buf *scratch, kl_write_fn fn,
			       void *ctx, struct kl_errbuf *eb)
{
	(void)base;
	(void)count;
	return kl_blocks_frames(b, x, scratch, fn, ctx, eb);
}

static int jsonl_begin(struct kl_encoder *base, uint64_t total, kl_write_fn fn, void *ctx)
{
	return kl_jsonl_begin(&((struct jsonl_encoder *)base)->j, total, fn, ctx);
}

static int jsonl_write(struct kl_encoder *base, const void *p, size_t n, struct kl_errbuf *eb)
{
	return kl_jsonl_write(&((struct jsonl_encoder *)base)->j, p, n, eb);
}

static int jsonl_end(struct kl_encoder *base, struct kl_errbuf *eb)
{
	return kl_jsonl_end(&((struct jsonl_encoder *)base)->j, eb);
}

static void jsonl_free(struct kl_encoder *base)
{
	struct jsonl_encoder *e = (struct jsonl_encoder *)base;
	kl_jsonl_cleanup(&e->j);
	free(e);
}

static struct kl_encoder *jsonl_clone(const struct kl_encoder *base)
{
	return kl_encoder_jsonl_new(&((const struct jsonl_encoder *)base)->opts);
}

static const struct kl_encoder_ops jsonl_ops = {
	.encode = jsonl_encode, /* the whole buffer, one call */
	.begin = jsonl_begin,   /* a body in pieces (a spilled dead letter) */
	.write = jsonl_write,
	.end = jsonl_end,
	.free = jsonl_free,
	.clone = jsonl_clone, /* no shared state: no publish */
};

/* zstd at the buffer's level: a buffer's frames are the body */
static const struct kl_encoder_ops jsonl_frames_ops = {
	.encode = jsonl_encode,			/* text given whole (no buffer at hand) */
	.begin = jsonl_begin,			/* a body in pieces (a spilled dead letter) */
	.write = jsonl_write,
	.end = jsonl_end,
	.encode_blocks = jsonl_encode_blocks, /* a partition's buffer: its frames as they are */
	.free = jsonl_free,
	.clone = jsonl_clone, /* no shared state: no publish */
};

struct kl_encoder *kl_encoder_jsonl_new(const struct kl_encoder_opts *o)
{
	struct jsonl_encoder *e = calloc(1, sizeof *e);
	if (!e)
		return NULL;
	if (kl_jsonl_init(&e->j, o->compression, o->level)) {
		free(e);
		return NULL;
	}
	e->opts = *o;
	int frames = o->compression == KL_COMP_ZSTD && (!o->level || o->level == KL_BLOCK_LEVEL);
	e->base.ops = frames ? &jsonl_frames_ops : &jsonl_ops;
	e->base.ext = kl_jsonl_extension(o->compression);
	return &e->base;
}
