/* source_fd.c — line records from a file or a pipe; see source.h.
 *
 * One reusable window buffer: complete lines are handed out in place; a
 * partial line at the end of the window is moved to the front before the
 * next read. The window grows only for a line longer than itself, up to the
 * hard cap; a line longer than that is handed out with `more` set (its
 * first hard_cap bytes), and rest() then hands out the remainder through
 * the same window, piece by piece.
 *
 * An input that starts with the magic number of gzip or zstd is read
 * through a decoder (decompress.h): compressed bytes go to a buffer of
 * their own and the window gets the plain text, so positions are offsets
 * in the text; `end` and bytes_read count compressed bytes (the file's).
 * Resuming such an input decodes its text from the start and drops what
 * lies before the resume point (a compressed stream cannot be entered in
 * its middle). */
#include "source/decompress.h"
#include "source/source.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define WINDOW (4u << 20)
#define ZIN (256u << 10) /* compressed bytes read at a time */

struct src_fd {
	struct kl_source base;
	int fd, own_fd, stop_fd, eof, seekable;
	size_t hard_cap;
	char *buf;
	size_t cap, head, tail; /* unread bytes are buf[head..tail) */
	uint64_t buf_pos;       /* input offset of buf[0] */
	uint64_t end;           /* the input's end offset, 0 = EOF (source.h) */
	int in_long;            /* a `more` line was handed out; its rest is unread */
	int sniffed;            /* the input's first bytes were looked at */
	struct kl_decomp *dec;  /* a compressed input's decoder, else NULL */
	unsigned char *zin;     /* its unread compressed bytes are zin[zhead..ztail) */
	size_t zhead, ztail;
	int zeof;               /* the fd (or `end`) has no more compressed bytes */
	int zerr;               /* the decoder's error, once the text before it is out */
	uint64_t rpos;          /* the file's bytes read (its offset, from the start) */
	uint64_t skip;          /* text still to drop before the resume point */
};

static int wait_readable(struct src_fd *s, int timeout_ms)
{
	if (s->seekable && s->stop_fd < 0)
		return 1;
	struct pollfd p[2] = {{.fd = s->fd, .events = POLLIN}, {.fd = s->stop_fd, .events = POLLIN}};
	for (;;) {
		int n = poll(p, s->stop_fd >= 0 ? 2 : 1, s->seekable ? 0 : timeout_ms);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return kl_errbuf_set(&s->base.err, KL_EIO, "poll: %s", strerror(errno));
		if (s->stop_fd >= 0 && (p[1].revents & POLLIN))
			return KL_EINTR;
		if (s->seekable)
			return 1;
		return n > 0 ? 1 : 0;
	}
}

/* read(2) of up to `want` bytes of the file into dst (its `end` counts
 * the file's bytes, compressed or not): KL_OK with *got set (0 at the
 * end), 1 when a non-blocking fd has none now, or a negative kl_err. */
static int read_raw(struct src_fd *s, void *dst, size_t want, size_t *got)
{
	*got = 0;
	if (s->end) {
		if (s->rpos >= s->end)
			return KL_OK;
		if (s->end - s->rpos < want)
			want = (size_t)(s->end - s->rpos);
	}
	for (;;) {
		ssize_t n = read(s->fd, dst, want);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return 1;
		if (n < 0)
			return kl_errbuf_set(&s->base.err, KL_EIO, "read: %s", strerror(errno));
		s->rpos += (uint64_t)n;
		s->base.bytes_read += (uint64_t)n;
		*got = (size_t)n;
		return KL_OK;
	}
}

/* Make the input's decoder for codec c, or refuse a format that is not
 * decoded. Its first bytes p[0..n), just read, go to the decoder: a file's
 * are read again, so that the decoder always gets the file in the same
 * pieces (ZIN bytes from its start), whatever size the read that found the
 * magic number had (the window's room from the start, a resume point's
 * distance when resuming): a decoder finds damage at a point that depends
 * on how its input was cut, and a resumed reading must end as one from
 * the start does. A pipe's are kept (its pieces are the pipe's own). */
static int start_decoder(struct src_fd *s, enum kl_codec c, const void *p, size_t n)
{
	const char *z = kl_codec_name(c);
	if (!kl_codec_decodes(c))
		return kl_codec_refuse(&s->base.err, c, NULL);
	int again = s->seekable && lseek(s->fd, -(off_t)n, SEEK_CUR) >= 0;
	if (again) {
		s->rpos -= n;
		s->base.bytes_read -= n;
	}
	s->dec = kl_decomp_new(c);
	s->zin = malloc(!again && n > ZIN ? n : ZIN);
	if (!s->dec || !s->zin)
		return kl_errbuf_set(&s->base.err, KL_ENOMEM, "out of memory for a %s decoder", z);
	s->zhead = 0;
	s->ztail = again ? 0 : n;
	if (!again)
		memcpy(s->zin, p, n);
	s->base.codec = z;
	return KL_OK;
}

/* Up to `want` bytes of a compressed input's text into dst: as read_raw.
 * The text decoded before damage is found is handed out before the error,
 * so that every reading (from the start, or resumed) sees the same text. */
static int read_decoded(struct src_fd *s, char *dst, size_t want, size_t *got)
{
	*got = 0;
	if (s->zerr)
		return s->zerr;
	for (int reads = 0;; reads++) {
		size_t used = 0;
		int rc = kl_decomp_run(s->dec, s->zin + s->zhead, s->ztail - s->zhead, &used, dst, want,
				       got, &s->base.err);
		s->zhead += used;
		if (rc && *got) {
			s->zerr = rc; /* next time */
			return KL_OK;
		}
		if (rc || *got)
			return rc;
		if (s->zeof)
			return kl_decomp_end(s->dec, &s->base.err);
		/* the decoder has taken all it was given: read more (a pipe once
		 * a call, after fill() polled it and the stop fd) */
		if (reads && !s->seekable)
			return 1;
		size_t n;
		s->zhead = s->ztail = 0;
		if ((rc = read_raw(s, s->zin, ZIN, &n)))
			return rc;
		s->ztail = n;
		if (n == 0)
			s->zeof = 1;
	}
}

/* Up to `want` bytes of the input's text into dst: KL_OK with *got set (0
 * at its end), 1 when there is none now, or a negative kl_err. The input's
 * first bytes decide whether it is read through a decoder. */
static int read_text(struct src_fd *s, char *dst, size_t want, size_t *got)
{
	if (s->dec)
		return read_decoded(s, dst, want, got);
	int rc = read_raw(s, dst, want, got);
	if (rc || s->sniffed || !*got)
		return rc;
	/* a pipe may give the first bytes one at a time: a magic number is
	 * told whole (none holds a newline, so no record is cut from them) */
	while (*got < want && kl_codec_may_start(dst, *got)) {
		size_t more;
		struct pollfd pf = {.fd = s->fd, .events = POLLIN};
		if ((rc = read_raw(s, dst + *got, want - *got, &more)) < 0)
			return rc;
		if (rc == 1) { /* a non-blocking fd: wait for the rest */
			poll(&pf, 1, 100);
			continue;
		}
		if (!more)
			break; /* the input ends there */
		*got += more;
	}
	s->sniffed = 1;
	enum kl_codec c = kl_codec_sniff(dst, *got);
	if (c == KL_CODEC_NONE)
		return KL_OK;
	if ((rc = start_decoder(s, c, dst, *got)))
		return rc;
	return read_decoded(s, dst, want, got);
}

/* A resume point that was not reached by seeking (a pipe, a compressed
 * input): read and drop the text before it. KL_OK when done (or at the
 * input's end), 1 when a pipe has nothing now, < 0 an error. */
static int skip_to_start(struct src_fd *s)
{
	while (s->skip) {
		size_t got, want = s->skip < s->cap ? (size_t)s->skip : s->cap;
		if (!s->sniffed && want < 8) /* room to tell a magic number */
			want = s->cap < 8 ? s->cap : 8;
		int rc = read_text(s, s->buf, want, &got);
		if (rc)
			return rc;
		if (!got) {
			s->skip = 0; /* shorter than the resume point: nothing more */
			break;
		}
		if (got > s->skip) { /* read past the point (to tell the magic): keep the rest */
			memmove(s->buf, s->buf + s->skip, got - (size_t)s->skip);
			s->tail = got - (size_t)s->skip;
			s->buf_pos += s->skip;
			s->skip = 0;
			break;
		}
		s->skip -= got;
		s->buf_pos += got;
	}
	return KL_OK;
}

/* Read more bytes; 1 = got some, 0 = EOF, 2 = timeout (nothing now),
 * 3 = the window is full at the hard cap, < 0 an error. */
static int fill(struct src_fd *s, int timeout_ms)
{
	if (s->head > 0) {
		memmove(s->buf, s->buf + s->head, s->tail - s->head);
		s->buf_pos += s->head;
		s->tail -= s->head;
		s->head = 0;
	}
	if (s->tail == s->cap) {
		size_t cap = s->cap * 2;
		if (cap > s->hard_cap + 1)
			cap = s->hard_cap + 1;
		if (cap <= s->cap)
			return 3; /* window full at the hard cap: caller cuts the line */
		char *b = realloc(s->buf, cap);
		if (!b)
			return kl_errbuf_set(&s->base.err, KL_ENOMEM, "out of memory for a %zu-byte line",
					     cap);
		s->buf = b;
		s->cap = cap;
	}
	int w = wait_readable(s, timeout_ms);
	if (w <= 0)
		return w < 0 ? w : 2;
	size_t got;
	int skipped = s->skip > 0;
	int rc = skipped ? skip_to_start(s) : KL_OK;
	if (!rc && skipped && s->tail)
		return 1; /* the skip read past the resume point: that text first */
	if (!rc)
		rc = read_text(s, s->buf + s->tail, s->cap - s->tail, &got);
	if (rc)
		return rc < 0 ? rc : 2;
	if (!got) {
		s->eof = 1;
		return 0;
	}
	s->tail += got;
	return 1;
}

static int fd_next(struct kl_source *base, struct kl_record *rec, int timeout_ms)
{
	struct src_fd *s = (struct src_fd *)base;
	for (;;) {
		char *start = s->buf + s->head;
		size_t avail = s->tail - s->head;
		char *nl = avail ? memchr(start, '\n', avail) : NULL;
		if (s->in_long) {
			/* the caller did not want the rest of a long line: skip it */
			s->head += nl ? (size_t)(nl - start) + 1 : avail;
			if (nl || s->eof) {
				s->in_long = 0;
				continue;
			}
		} else if (nl || (s->eof && avail)) {
			size_t len = nl ? (size_t)(nl - start) : avail;
			s->head += len + (nl ? 1 : 0);
			if (len == 0 || (len == 1 && start[0] == '\r'))
				continue; /* blank line: not a record */
			rec->p = start;
			rec->n = rec->full_len = len;
			rec->more = 0;
			rec->pos = s->buf_pos + (uint64_t)(start - s->buf);
			return KL_SRC_RECORD;
		} else if (s->eof) {
			return KL_SRC_EOF;
		}
		int rc = fill(s, timeout_ms);
		if (rc < 0)
			return rc;
		if (rc == 2 && timeout_ms >= 0)
			return KL_SRC_IDLE; /* (waiting forever: poll again) */
		if (rc == 3) {
			/* a line longer than the hard cap: its head now, the rest via rest() */
			rec->p = s->buf;
			rec->n = rec->full_len = s->tail;
			rec->more = 1;
			rec->pos = s->buf_pos;
			s->head = s->tail;
			s->in_long = 1;
			return KL_SRC_RECORD;
		}
	}
}

static int fd_rest(struct kl_source *base, const char **p, size_t *n)
{
	struct src_fd *s = (struct src_fd *)base;
	while (s->in_long) {
		char *start = s->buf + s->head;
		size_t avail = s->tail - s->head;
		if (avail) {
			char *nl = memchr(start, '\n', avail);
			size_t take = nl ? (size_t)(nl - start) : avail;
			s->head += take + (nl ? 1 : 0);
			if (nl)
				s->in_long = 0;
			if (!take)
				return 0;
			*p = start;
			*n = take;
			return 1;
		}
		if (s->eof)
			break;
		int rc = fill(s, -1);
		if (rc < 0)
			return rc;
	}
	s->in_long = 0;
	return 0;
}

static uint64_t fd_next_pos(struct kl_source *base)
{
	struct src_fd *s = (struct src_fd *)base;
	return s->buf_pos + s->head;
}

static void fd_free(struct kl_source *base)
{
	struct src_fd *s = (struct src_fd *)base;
	if (s->own_fd)
		close(s->fd);
	kl_decomp_free(s->dec);
	free(s->zin);
	free(s->buf);
	free(s);
}

static const struct kl_source_ops fd_ops = {
	.next = fd_next,
	.next_pos = fd_next_pos, /* byte offset after the last line handed out */
	.rest = fd_rest,         /* the remainder of a line over the hard cap */
	.free = fd_free,
	/* pos_name, checkpoint, resume, origin: defaults (offsets, the state's R line) */
};

struct kl_source *kl_source_fd_new(int fd, int own_fd, uint64_t start, uint64_t end,
				   size_t hard_cap, int stop_fd)
{
	struct src_fd *s = calloc(1, sizeof *s);
	if (!s)
		return NULL;
	s->base.ops = &fd_ops;
	s->fd = fd;
	s->own_fd = own_fd;
	s->stop_fd = stop_fd;
	s->hard_cap = hard_cap;
	s->end = end;
	s->cap = WINDOW < hard_cap + 1 ? WINDOW : hard_cap + 1;
	s->buf = malloc(s->cap);
	if (!s->buf) {
		free(s);
		return NULL;
	}
	s->seekable = lseek(fd, 0, SEEK_CUR) >= 0;
	if (start) {
		/* a plain file is entered by seeking; a compressed one's text (and a
		 * pipe's) is read from the start and dropped up to `start` (fill) */
		unsigned char head[8];
		ssize_t n = s->seekable ? pread(fd, head, sizeof head, 0) : 0;
		if (n > 0 && kl_codec_sniff(head, (size_t)n) == KL_CODEC_NONE &&
		    lseek(fd, (off_t)start, SEEK_SET) >= 0) {
			s->buf_pos = s->rpos = start;
			s->sniffed = 1;
		} else {
			s->skip = start;
		}
	}
	return &s->base;
}
