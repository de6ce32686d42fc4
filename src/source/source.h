/*
 * source.h — where records come from: a small vtable.
 *
 * A source yields records one at a time with a stable position (the byte
 * offset of a line in a file; a Kinesis user record's number, counted on
 * from the position its checkpoint names, source_kinesis.h) and says itself where the next record starts (next_pos), so the
 * pipeline never guesses what a position means. Record bytes belong to the
 * source and stay valid until the next call to next() or rest().
 *
 * A record longer than the source can hold in memory (over its hard cap)
 * comes with `more` set: p[0..n) is its head, and rest() hands out the
 * remaining bytes in pieces, so the caller can keep them all (a dead letter
 * keeps every byte) with bounded memory. A caller that does not want them
 * simply calls next(): the rest is skipped.
 *
 * Implementations: source_fd.c (a file or stdin, one record per line),
 * source_kinesis.c (a Kinesis shard), lambda/esm.c (one Lambda Kinesis batch).
 */
#ifndef KL_SOURCE_SOURCE_H
#define KL_SOURCE_SOURCE_H

#include "core/err.h"

#include <stddef.h>
#include <stdint.h>

struct kl_record {
	const char *p;
	size_t n;        /* bytes available at p (the line, without its '\n') */
	uint64_t pos;    /* byte offset of the record in the input */
	size_t full_len; /* true length; == n unless `more` (then n, until rest() ends) */
	int more;        /* the record goes on beyond p[0..n): see rest() */
	/* When the record arrived, Unix ms (a Kinesis record's approximate
	 * arrival time); 0 = unknown. Dates its dead letter, if it is one;
	 * otherwise the input's arrival date does. */
	int64_t arrival_ms;
};

enum kl_source_status {
	KL_SRC_EOF = 0,
	KL_SRC_RECORD = 1,
	KL_SRC_IDLE = 2, /* no record within timeout_ms */
	/* negative: enum kl_err (KL_EIO, KL_EINTR when the stop fd fired) */
};

struct kl_source;

struct kl_source_ops {
	/* Next record, waiting at most timeout_ms (-1: forever) when none is ready. */
	int (*next)(struct kl_source *s, struct kl_record *rec, int timeout_ms);
	/* Position where the record after the last one handed out would start
	 * (for a file: the byte after its line; for a stream: its ordinal + 1).
	 * Every record before it has been read; resuming there skips them. */
	uint64_t (*next_pos)(struct kl_source *s);
	/* Optional (a source that never sets `more`). The next piece of a
	 * record handed out with `more`: 1 with *p, *n set, 0 when the record
	 * has ended (next_pos() then lies past it), or a negative kl_err. */
	int (*rest)(struct kl_source *s, const char **p, size_t *n);
	void (*free)(struct kl_source *s);
	/* Optional. File-name stem for a file whose first record is at `pos`
	 * (default: the 14-digit decimal position), e.g. "<shard>-<sequence>". */
	int (*pos_name)(struct kl_source *s, uint64_t pos, char *out, size_t cap);
	/* Optional. A resume point meaning "every record before `pos` is
	 * stored", kept in the state's C line; `pos` == the next position to
	 * read means everything read so far. */
	int (*checkpoint)(struct kl_source *s, uint64_t pos, char *out, size_t cap);
	/* Optional. Resume from a checkpoint read back from the state; called
	 * once, before the first next(). Returns 1 if the checkpoint also gives
	 * the position of the first record read (positions then mean the same
	 * in every run), 0 if positions start at 0 (an older checkpoint). */
	int (*resume)(struct kl_source *s, const char *checkpoint);
	/* Optional. The `source` of the dead letter of the record at `pos`
	 * (default: the input's name), e.g. "kinesis:<stream>/<shard>:<seq>". */
	int (*origin)(struct kl_source *s, uint64_t pos, char *out, size_t cap);
};

struct kl_source {
	const struct kl_source_ops *ops;
	struct kl_errbuf err;
	uint64_t bytes_read; /* the input's own bytes (a compressed file's, compressed) */
	/* "gzip" or "zstd" once the fd source found its input compressed (it
	 * then reads the text through a decoder, decompress.h), else NULL */
	const char *codec;
};

static inline int kl_source_next(struct kl_source *s, struct kl_record *rec, int timeout_ms)
{
	return s->ops->next(s, rec, timeout_ms);
}

static inline uint64_t kl_source_next_pos(struct kl_source *s)
{
	return s->ops->next_pos(s);
}

static inline void kl_source_free(struct kl_source *s)
{
	if (s)
		s->ops->free(s);
}

/* Hand out `len` bytes at `data`, one user record of a Kinesis record (a KPL
 * aggregate's each, or the record itself), as the next record: positions
 * count user records from *next_pos on. The stream's shards
 * (source_kinesis.c) and the Lambda's event-source batches (lambda/esm.c)
 * both number them here, so a record has the same position — and the same
 * file names and checkpoints, which exactly once rests on — whichever path
 * reads it. */
static inline void kl_source_user_record(struct kl_source *s, struct kl_record *rec,
					 const uint8_t *data, size_t len, uint64_t *next_pos,
					 int64_t arrival_ms)
{
	rec->p = (const char *)data;
	rec->n = rec->full_len = len;
	rec->more = 0;
	rec->pos = (*next_pos)++;
	rec->arrival_ms = arrival_ms;
	s->bytes_read += len;
}

/*
 * Line source over a file descriptor. Starts reading at `start` (seeks when
 * the fd is seekable, otherwise discards bytes). A line longer than
 * `hard_cap` is handed out with `more` set: its first hard_cap bytes, then
 * the rest through rest() (memory stays about hard_cap). When
 * stop_fd >= 0 and becomes readable (a signalfd), next() returns KL_EINTR.
 * `end` > 0: the input ends at that offset, whatever follows it (a file
 * named by the hash of its first `end` bytes, source/input_id.h, that grows
 * while it is read); 0: at EOF.
 * own_fd: close fd in free(). Returns NULL on allocation failure.
 *
 * An input that starts compressed with gzip or zstd is read as its text
 * (positions and `start` are offsets in the text, `end` in the file; a
 * run of frames is one input; one that ends inside a frame is an error);
 * one compressed otherwise (bzip2, xz) is refused at its first bytes
 * (KL_EUNSUPPORTED), as it is not JSON lines.
 */
struct kl_source *kl_source_fd_new(int fd, int own_fd, uint64_t start, uint64_t end,
				   size_t hard_cap, int stop_fd);

/* The hard_cap a line source of JSON lines takes (ingest, kinlake
 * transform) and so the longest record it hands out whole, which the
 * parallel prep step must hold too: twice max_record_bytes (a longer
 * record is a too_large dead letter either way, kept whole up to here), at
 * least 64 MiB. */
static inline size_t kl_source_fd_cap(size_t max_record_bytes)
{
	size_t n = max_record_bytes * 2;
	return n < ((size_t)64 << 20) ? (size_t)64 << 20 : n;
}

#endif
