/* source_fd.c — line records from a file or a pipe; see source.h.
 *
 * One reusable window buffer: complete lines are handed out in place; a
 * partial line at the end of the window is moved to the front before the
 * next read. The window grows only for a line longer than itself, up to the
 * hard cap; a line longer than that is handed out with `more` set (its
 * first hard_cap bytes), and rest() then hands out the remainder through
 * the same window, piece by piece. */
#include "source/source.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define WINDOW (4u << 20)

struct src_fd {
	struct kl_source base;
	int fd, own_fd, stop_fd, eof, seekable;
	size_t hard_cap;
	char *buf;
	size_t cap, head, tail; /* unread bytes are buf[head..tail) */
	uint64_t buf_pos;       /* input offset of buf[0] */
	uint64_t end;           /* the input's end offset, 0 = EOF (source.h) */
	int in_long;            /* a `more` line was handed out; its rest is unread */
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

/* Read more bytes; 1 = got some, 0 = EOF, KL_SRC_IDLE-ish 2 = timeout. */
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
	size_t want = s->cap - s->tail;
	if (s->end) {
		uint64_t at = s->buf_pos + s->tail;
		if (at >= s->end) {
			s->eof = 1;
			return 0;
		}
		if (s->end - at < want)
			want = (size_t)(s->end - at);
	}
	for (;;) {
		ssize_t n = read(s->fd, s->buf + s->tail, want);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return 2;
		if (n < 0)
			return kl_errbuf_set(&s->base.err, KL_EIO, "read: %s", strerror(errno));
		if (n == 0) {
			s->eof = 1;
			return 0;
		}
		const char *z = s->buf_pos == 0 && s->tail == 0
					? kl_source_compressed(s->buf, (size_t)n)
					: NULL;
		if (z)
			return kl_errbuf_set(&s->base.err, KL_EUNSUPPORTED,
					     "the input is %s-compressed, not JSON lines: decompress "
					     "it first (e.g. %s -dc FILE | kinlake ...)",
					     z, z);
		s->tail += (size_t)n;
		s->base.bytes_read += (uint64_t)n;
		return 1;
	}
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
		if (rc == 2)
			return KL_SRC_IDLE;
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

const char *kl_source_compressed(const void *p, size_t n)
{
	const unsigned char *b = p;
	if (n >= 2 && b[0] == 0x1f && b[1] == 0x8b)
		return "gzip";
	if (n >= 4 && b[0] == 0x28 && b[1] == 0xb5 && b[2] == 0x2f && b[3] == 0xfd)
		return "zstd";
	if (n >= 4 && b[0] == 'B' && b[1] == 'Z' && b[2] == 'h' && b[3] >= '1' && b[3] <= '9')
		return "bzip2";
	if (n >= 6 && !memcmp(b, "\xfd" "7zXZ\0", 6))
		return "xz";
	return NULL;
}

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
		if (s->seekable && lseek(fd, (off_t)start, SEEK_SET) >= 0) {
			s->buf_pos = start;
		} else {
			/* a pipe: read and drop the first `start` bytes */
			uint64_t left = start;
			while (left) {
				size_t want = left < s->cap ? (size_t)left : s->cap;
				ssize_t n = read(fd, s->buf, want);
				if (n <= 0)
					break;
				left -= (uint64_t)n;
			}
			s->buf_pos = start - left;
		}
	}
	return &s->base;
}
