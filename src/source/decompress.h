/*
 * decompress.h — an input compressed with gzip or zstd, read as the JSON
 * lines it holds.
 *
 * Firehose's S3 backups, log rotation and most exports hand over JSON lines
 * as .gz or .zst files; the line source (source_fd.c) recognises one by its
 * magic number at the input's first byte and passes what it reads through a
 * decoder of this module, so positions, file names and resume points are
 * offsets in the decompressed text (the same events give the same positions
 * whether they came compressed or not).
 *
 * A decoder takes compressed bytes in any pieces and gives out plain bytes
 * into the caller's buffer; a run of frames (gzip members, zstd frames, as
 * `cat a.gz b.gz` makes) is one input. At the end of the input it says
 * whether the data ended where a frame ends: a truncated file is an error,
 * never a quietly shorter input. Memory is fixed at creation (zlib's 32 KiB
 * window; zstd's window is capped by its default limit of 128 MiB, so a
 * frame that asks for more, as `zstd --long` makes, is refused with
 * KL_EUNSUPPORTED rather than obeyed).
 *
 * bzip2 and xz are recognised (kl_codec_sniff) but not decoded: the source
 * refuses them with a message saying how to feed them.
 *
 * Ownership: kl_decomp_new() allocates; kl_decomp_free() releases. Input
 * and output buffers belong to the caller.
 */
#ifndef KL_SOURCE_DECOMPRESS_H
#define KL_SOURCE_DECOMPRESS_H

#include "core/err.h"

#include <stddef.h>
#include <stdint.h>

enum kl_codec {
	KL_CODEC_NONE = 0,
	KL_CODEC_GZIP,
	KL_CODEC_ZSTD,
	KL_CODEC_BZIP2, /* recognised, not decoded */
	KL_CODEC_XZ,    /* recognised, not decoded */
};

/* The codec whose magic number starts p[0..n), else KL_CODEC_NONE. Needs
 * at most 6 bytes; fewer can only answer for the shorter magics. */
enum kl_codec kl_codec_sniff(const void *p, size_t n);
/* 1 if p[0..n) is too short to tell: it is the start of a magic number
 * (a reader of a pipe that got only these bytes reads more first). */
int kl_codec_may_start(const void *p, size_t n);
/* "gzip", "zstd", "bzip2", "xz"; NULL for KL_CODEC_NONE. */
const char *kl_codec_name(enum kl_codec c);
/* 1 if this module decodes c (gzip, zstd). */
int kl_codec_decodes(enum kl_codec c);
/* The refusal of an input compressed with c, which is not decoded: one
 * message, KL_EUNSUPPORTED, into eb, with the command that feeds it.
 * `input` is its file name (ingest's --input, refused before a lake is
 * made), NULL when it has none (stdin, a pipe: found at its first bytes). */
int kl_codec_refuse(struct kl_errbuf *eb, enum kl_codec c, const char *input);

struct kl_decomp;

/* A decoder for c (gzip or zstd); NULL when out of memory or c is not
 * decoded here. */
struct kl_decomp *kl_decomp_new(enum kl_codec c);
void kl_decomp_free(struct kl_decomp *d);

/*
 * Decode from in[0..in_n) into out[0..out_cap): *in_used bytes of the input
 * were taken, *out_n bytes given out. Returns KL_OK (either may be 0 when
 * the decoder needs more input or has no room) or KL_EPARSE with eb set for
 * data that is not valid in this format (the message names the compressed
 * offset, counted over every call).
 */
int kl_decomp_run(struct kl_decomp *d, const void *in, size_t in_n, size_t *in_used, void *out,
		  size_t out_cap, size_t *out_n, struct kl_errbuf *eb);

/* At the end of the input: KL_OK if the data ended where a frame ends (and
 * at least one frame was there), KL_EPARSE with eb set if it was cut short. */
int kl_decomp_end(struct kl_decomp *d, struct kl_errbuf *eb);

#endif
