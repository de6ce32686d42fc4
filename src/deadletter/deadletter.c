/* deadletter.c — see deadletter.h; format in DESIGN.md "Lake layout". */
#include "deadletter/deadletter.h"
#include "core/base64.h"
#include "event/event.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int kl_deadletter_format_head(struct kl_buf *out, const struct kl_deadletter *d)
{
	int rc = kl_buf_puts(out, "{\"error\":\"");
	rc = rc ? rc : kl_json_escape_append(out, d->error, strlen(d->error));
	rc = rc ? rc : kl_buf_puts(out, "\",\"message\":\"");
	/* a message may quote the input, a source is a file name: either may
	 * hold bytes that are not UTF-8 */
	rc = rc ? rc : kl_json_escape_text_append(out, d->message, strlen(d->message));
	rc = rc ? rc : kl_buf_puts(out, "\",\"source\":\"");
	rc = rc ? rc : kl_json_escape_text_append(out, d->source, strlen(d->source));
	rc = rc ? rc
		: kl_buf_printf(out, "\",\"position\":%" PRIu64 ",\"error_offset\":%zu,",
				d->position, d->error_offset);
	if (!rc && d->full_len > d->raw_len)
		rc = kl_buf_printf(out, "\"raw_length\":%zu,\"truncated\":true,", d->full_len);
	rc = rc ? rc : kl_buf_puts(out, "\"raw_base64\":\"");
	return rc;
}

int kl_deadletter_format(struct kl_buf *out, const struct kl_deadletter *d)
{
	int rc = kl_deadletter_format_head(out, d);
	rc = rc ? rc : kl_base64_encode(out, d->raw, d->raw_len);
	rc = rc ? rc : kl_buf_puts(out, "\"}");
	return rc;
}

/* --- spilled records ----------------------------------------------------- */

int kl_spill_open(struct kl_spill *s, struct kl_errbuf *eb)
{
	s->len = 0;
	const char *dir = getenv("TMPDIR");
	if (!dir || !*dir)
		dir = "/tmp";
	s->fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (s->fd < 0) { /* a file system without O_TMPFILE: create and unlink */
		char path[4096];
		snprintf(path, sizeof path, "%s/kinlake-spill-XXXXXX", dir);
		s->fd = mkostemp(path, O_CLOEXEC);
		if (s->fd >= 0)
			unlink(path);
	}
	if (s->fd < 0)
		return kl_errbuf_set(eb, KL_EIO,
				     "cannot create a temporary file in %s for a "
				     "too-large record: %s",
				     dir, strerror(errno));
	return KL_OK;
}

int kl_spill_write(struct kl_spill *s, const void *p, size_t n, struct kl_errbuf *eb)
{
	const char *c = p;
	while (n) {
		ssize_t w = write(s->fd, c, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return kl_errbuf_set(eb, KL_EIO,
					     "write to a temporary file for a too-large "
					     "record: %s",
					     strerror(errno));
		c += w;
		n -= (size_t)w;
		s->len += (uint64_t)w;
	}
	return KL_OK;
}

void kl_spill_close(struct kl_spill *s)
{
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	s->len = 0;
}

uint64_t kl_deadletter_spill_tail_len(uint64_t len)
{
	return (len + 2) / 3 * 4 + 3;
}

#define SPILL_PIECE (3u << 20) /* a multiple of 3: base64 pieces join without padding */

int kl_deadletter_stream_spill(const struct kl_spill *s, kl_write_fn fn, void *ctx,
			       struct kl_errbuf *eb)
{
	char *raw = malloc(SPILL_PIECE);
	struct kl_buf b64;
	kl_buf_init(&b64, 0);
	int rc = raw && !kl_buf_reserve(&b64, SPILL_PIECE / 3 * 4 + 8)
		     ? KL_OK
		     : kl_errbuf_set(eb, KL_ENOMEM, "out of memory");
	uint64_t off = 0;
	while (!rc && off < s->len) {
		size_t want = s->len - off < SPILL_PIECE ? (size_t)(s->len - off) : SPILL_PIECE;
		size_t got = 0;
		while (!rc && got < want) {
			ssize_t n = pread(s->fd, raw + got, want - got, (off_t)(off + got));
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				rc = kl_errbuf_set(eb, KL_EIO,
						   "read a too-large record back from its "
						   "temporary file: %s",
						   n ? strerror(errno) : "file shrank");
			else
				got += (size_t)n;
		}
		kl_buf_reset(&b64);
		if (!rc && kl_base64_encode(&b64, raw, got))
			rc = kl_errbuf_set(eb, KL_ENOMEM, "out of memory");
		if (!rc)
			rc = fn(ctx, b64.data, b64.len);
		off += got;
	}
	if (!rc)
		rc = fn(ctx, "\"}\n", 3);
	free(raw);
	kl_buf_cleanup(&b64);
	return rc;
}
