/* test_source.c — the line source over a file descriptor (source/source.h)
 * and the decoders it reads compressed inputs through (source/decompress.h).
 *
 * Every variant reads the same text and must hand out the same records at
 * the same positions: plain, gzip, two gzip members one after another,
 * zstd, two zstd frames; from a file (seekable) and from a pipe (one that
 * gives the first byte alone too: a magic number cut in two); from the
 * start and from a resume point inside the text; with lines longer than the
 * hard cap (handed out in pieces), blank lines and a last line without its
 * newline. The decoders also in one-byte pieces; every cut of a compressed
 * text is an error at its end (never a quietly shorter input), damage is
 * an error, bytes after the last frame that are not a frame are an error;
 * bzip2 and xz are refused at the first read. */
#include "check.h"

#include "source/decompress.h"
#include "source/source.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#define HARD_CAP 1000

/* The text every variant holds: ~120 kB of lines of varied length, a few
 * blank, one CRLF-blank, a few longer than HARD_CAP, no final newline. */
static char *make_text(size_t *len)
{
	size_t cap = 1 << 18, n = 0;
	char *t = malloc(cap);
	uint32_t x = 12345;
	for (int i = 0; n < 120000; i++) {
		x = x * 1103515245u + 12345u;
		size_t w = i % 97 == 5 ? 2500 + x % 3000 : x % 200;
		if (i % 50 == 7) {
			memcpy(t + n, "\n", 1), n += 1; /* blank */
			continue;
		}
		if (i % 77 == 9) {
			memcpy(t + n, "\r\n", 2), n += 2; /* blank with CR */
			continue;
		}
		n += (size_t)snprintf(t + n, cap - n, "{\"i\":%d,\"pad\":\"", i);
		for (size_t k = 0; k < w; k++)
			t[n++] = (char)('a' + (x >> (k % 24)) % 26);
		memcpy(t + n, "\"}\n", 3), n += 3;
	}
	memcpy(t + n, "{\"last\":1}", 10), n += 10; /* no newline at the end */
	*len = n;
	return t;
}

/* Records as a reader sees them: "pos:content\n" each, into *out. */
static int read_all(struct kl_source *s, char **out, size_t *out_len)
{
	size_t cap = 1 << 19, n = 0;
	char *o = malloc(cap);
	struct kl_record rec;
	int rc;
	/* (waiting forever, next() never says it is idle) */
	while ((rc = kl_source_next(s, &rec, -1)) == KL_SRC_RECORD) {
		size_t need = n + 32 + rec.n;
		const char *p = rec.p;
		size_t pn = rec.n;
		int more = rec.more;
		n += (size_t)snprintf(o + n, cap - n, "%llu:", (unsigned long long)rec.pos);
		for (;;) {
			if (need + pn > cap) {
				cap = (need + pn) * 2;
				o = realloc(o, cap);
			}
			memcpy(o + n, p, pn);
			n += pn;
			if (!more)
				break;
			int r = s->ops->rest(s, &p, &pn);
			if (r < 0) {
				rc = r;
				goto out;
			}
			if (r == 0)
				break;
		}
		o[n++] = '\n';
	}
out:
	*out = o;
	*out_len = n;
	return rc;
}

/* The records of text[0..len) from byte `start` on, as read_all writes them. */
static char *expected(const char *text, size_t len, size_t start, size_t *out_len)
{
	char *o = malloc(len * 2 + 64), *w = o;
	size_t i = start;
	while (i < len) {
		const char *nl = memchr(text + i, '\n', len - i);
		size_t l = nl ? (size_t)(nl - (text + i)) : len - i;
		if (l && !(l == 1 && text[i] == '\r')) {
			w += sprintf(w, "%zu:", i);
			memcpy(w, text + i, l), w += l;
			*w++ = '\n';
		}
		i += l + 1;
	}
	*out_len = (size_t)(w - o);
	return o;
}

static char *gzip_of(const char *p, size_t n, size_t *out_n)
{
	z_stream z;
	memset(&z, 0, sizeof z);
	CHECK(deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) == Z_OK);
	size_t cap = deflateBound(&z, (uLong)n) + 64;
	char *o = malloc(cap);
	z.next_in = (Bytef *)(uintptr_t)p;
	z.avail_in = (uInt)n;
	z.next_out = (Bytef *)o;
	z.avail_out = (uInt)cap;
	CHECK(deflate(&z, Z_FINISH) == Z_STREAM_END);
	*out_n = z.total_out;
	deflateEnd(&z);
	return o;
}

static char *zstd_of(const char *p, size_t n, size_t *out_n)
{
	size_t cap = ZSTD_compressBound(n);
	char *o = malloc(cap);
	*out_n = ZSTD_compress(o, cap, p, n, 3);
	CHECK(!ZSTD_isError(*out_n));
	return o;
}

/* Two frames: the text cut in two (at a line's middle), each compressed. */
static char *two_frames(const char *t, size_t n, char *(*of)(const char *, size_t, size_t *),
			size_t *out_n)
{
	size_t a_n, b_n, cut = n / 3 + 17;
	char *a = of(t, cut, &a_n), *b = of(t + cut, n - cut, &b_n);
	char *o = malloc(a_n + b_n);
	memcpy(o, a, a_n);
	memcpy(o + a_n, b, b_n);
	free(a);
	free(b);
	*out_n = a_n + b_n;
	return o;
}

/* A file (memfd, seekable) or a pipe fed by a child in 3 kB writes (with
 * pipe_it == 2 its first byte alone, then a pause: a magic number cut). */
static int input_fd(const char *data, size_t n, int pipe_it)
{
	if (!pipe_it) {
		char path[256];
		int fd = mkstemp(kl_test_tmpl(path, sizeof path, "kl_source_"));
		unlink(path);
		CHECK(write(fd, data, n) == (ssize_t)n);
		lseek(fd, 0, SEEK_SET);
		return fd;
	}
	int p[2];
	CHECK(pipe(p) == 0);
	pid_t pid = fork();
	if (pid == 0) {
		close(p[0]);
		size_t i = 0;
		if (pipe_it == 2) {
			if (write(p[1], data, 1) != 1)
				_exit(1);
			usleep(30000);
			i = 1;
		}
		for (; i < n; i += 3000) {
			size_t k = n - i < 3000 ? n - i : 3000;
			if (write(p[1], data + i, k) != (ssize_t)k)
				_exit(1);
		}
		_exit(0);
	}
	close(p[1]);
	return p[0];
}

static void variant(const char *name, const char *data, size_t n, const char *text, size_t len,
		    const char *codec)
{
	/* from the start, and from a record's position about 40 % in */
	size_t resume = 0;
	for (size_t i = len * 2 / 5; i < len; i++)
		if (text[i - 1] == '\n') {
			resume = i;
			break;
		}
	for (int pipe_it = 0; pipe_it < 3; pipe_it++) {
		for (int r = 0; r < 2; r++) {
			size_t start = r ? resume : 0, want_n, got_n;
			int fd = input_fd(data, n, pipe_it);
			struct kl_source *s = kl_source_fd_new(fd, 1, start, 0, HARD_CAP, -1);
			char *got, *want = expected(text, len, start, &want_n);
			int rc = read_all(s, &got, &got_n);
			if (rc != KL_SRC_EOF || got_n != want_n || memcmp(got, want, want_n)) {
				fprintf(stderr, "%s, %s, from %zu: rc %d (%s), %zu bytes of records, "
						"expected %zu\n",
					name, pipe_it ? "pipe" : "file", start, rc, s->err.msg, got_n,
					want_n);
				CHECK(0);
			}
			CHECK(codec ? s->codec && !strcmp(s->codec, codec) : !s->codec);
			CHECK_EQ_INT(kl_source_next_pos(s), len);
			if (!pipe_it && (codec || !start)) /* (a plain file seeks to start) */
				CHECK_EQ_INT(s->bytes_read, n); /* the file's bytes, each once */
			kl_source_free(s);
			free(got);
			free(want);
			while (waitpid(-1, NULL, WNOHANG) > 0)
				;
		}
	}
}

/* The decoder on its own: data in `step`-byte pieces into a `room`-byte
 * buffer gives text[0..len); returns its last rc. */
static int decode_pieces(enum kl_codec c, const char *data, size_t n, size_t step, size_t room,
			 char *out, size_t *out_len, struct kl_errbuf *eb)
{
	struct kl_decomp *d = kl_decomp_new(c);
	size_t o = 0, i = 0;
	int rc = KL_OK;
	while (!rc) {
		size_t k = n - i < step ? n - i : step, used = 0, got = 0;
		rc = kl_decomp_run(d, data + i, k, &used, out + o, room, &got, eb);
		i += used;
		o += got;
		if (!rc && !got && i == n) {
			rc = kl_decomp_end(d, eb);
			break;
		}
	}
	kl_decomp_free(d);
	*out_len = o;
	return rc;
}

static void test_decoder(const char *text, size_t len)
{
	size_t gz_n, zs_n, out_len;
	char *gz = gzip_of(text, 5000, &gz_n), *zs = zstd_of(text, 5000, &zs_n);
	char *out = malloc(len + 1);
	struct kl_errbuf eb;
	kl_errbuf_clear(&eb);
	CHECK_EQ_INT(decode_pieces(KL_CODEC_GZIP, gz, gz_n, 1, 1, out, &out_len, &eb), KL_OK);
	CHECK(out_len == 5000 && !memcmp(out, text, 5000));
	CHECK_EQ_INT(decode_pieces(KL_CODEC_ZSTD, zs, zs_n, 1, 1, out, &out_len, &eb), KL_OK);
	CHECK(out_len == 5000 && !memcmp(out, text, 5000));
	CHECK_EQ_INT(decode_pieces(KL_CODEC_GZIP, gz, gz_n, 7, 3, out, &out_len, &eb), KL_OK);
	CHECK(out_len == 5000 && !memcmp(out, text, 5000));
	/* every cut: an error at the end, and what came out is the text's head */
	int cuts_ok = 1;
	for (size_t cut = 1; cut < gz_n; cut++) {
		kl_errbuf_clear(&eb);
		int rc = decode_pieces(KL_CODEC_GZIP, gz, cut, 64, 4096, out, &out_len, &eb);
		cuts_ok &= rc == KL_EPARSE && out_len <= 5000 && !memcmp(out, text, out_len);
	}
	for (size_t cut = 1; cut < zs_n; cut++) {
		kl_errbuf_clear(&eb);
		int rc = decode_pieces(KL_CODEC_ZSTD, zs, cut, 64, 4096, out, &out_len, &eb);
		cuts_ok &= rc == KL_EPARSE && out_len <= 5000 && !memcmp(out, text, out_len);
	}
	CHECK(cuts_ok);
	kl_errbuf_clear(&eb);
	decode_pieces(KL_CODEC_GZIP, gz, gz_n / 2, 64, 4096, out, &out_len, &eb);
	CHECK(strstr(eb.msg, "gzip: the input ends inside its compressed data") != NULL);
	/* damage in the middle: an error (gzip's CRC, zstd's block checks) */
	gz[gz_n / 2] ^= 0x5a;
	kl_errbuf_clear(&eb);
	CHECK_EQ_INT(decode_pieces(KL_CODEC_GZIP, gz, gz_n, 4096, 8192, out, &out_len, &eb), KL_EPARSE);
	CHECK(strstr(eb.msg, "damaged") != NULL);
	gz[gz_n / 2] ^= 0x5a;
	/* after the last member, bytes that are not a member */
	char *tail = malloc(gz_n + 8);
	memcpy(tail, gz, gz_n);
	memcpy(tail + gz_n, "garbage!", 8);
	kl_errbuf_clear(&eb);
	CHECK_EQ_INT(decode_pieces(KL_CODEC_GZIP, tail, gz_n + 8, 4096, 8192, out, &out_len, &eb),
		     KL_EPARSE);
	CHECK(strstr(eb.msg, "are not gzip data") != NULL);
	CHECK_EQ_INT(out_len, 5000);
	free(tail);
	/* sniffing */
	CHECK_EQ_INT(kl_codec_sniff(gz, gz_n), KL_CODEC_GZIP);
	CHECK_EQ_INT(kl_codec_sniff(zs, zs_n), KL_CODEC_ZSTD);
	CHECK_EQ_INT(kl_codec_sniff("BZh9", 4), KL_CODEC_BZIP2);
	CHECK_EQ_INT(kl_codec_sniff("\xfd" "7zXZ\0", 6), KL_CODEC_XZ);
	CHECK_EQ_INT(kl_codec_sniff("{\"a\":1}", 7), KL_CODEC_NONE);
	CHECK_EQ_INT(kl_codec_sniff("\x1f", 1), KL_CODEC_NONE);
	CHECK_EQ_INT(kl_codec_sniff("BZh0", 4), KL_CODEC_NONE); /* no block size 0 */
	CHECK_EQ_STR(kl_codec_name(KL_CODEC_BZIP2), "bzip2");
	CHECK_EQ_STR(kl_codec_name(KL_CODEC_XZ), "xz");
	CHECK(kl_codec_name(KL_CODEC_NONE) == NULL);
	/* too short to tell: the start of a magic number, each up to its last byte */
	CHECK_EQ_INT(kl_codec_may_start("\x1f", 1), 1);
	CHECK_EQ_INT(kl_codec_may_start("\x28\xb5\x2f", 3), 1);
	CHECK_EQ_INT(kl_codec_may_start("BZh", 3), 1);
	CHECK_EQ_INT(kl_codec_may_start("\xfd" "7zXZ", 5), 1);
	CHECK_EQ_INT(kl_codec_may_start("BZh9", 4), 0);
	CHECK_EQ_INT(kl_codec_may_start("\x1f\x8b", 2), 0);
	CHECK_EQ_INT(kl_codec_may_start("{", 1), 0);
	CHECK(kl_decomp_new(KL_CODEC_XZ) == NULL);
	free(gz);
	free(zs);
	free(out);
}

/* bzip2 and xz: refused at the first read, with how to feed them */
static void test_refused(void)
{
	const char *heads[] = {"BZh91AY&SY garbage\n", "\xfd" "7zXZ\0 garbage\n"};
	for (int i = 0; i < 2; i++) {
		size_t n = i ? 15 : 19;
		int fd = input_fd(heads[i], n, i);
		struct kl_source *s = kl_source_fd_new(fd, 1, 0, 0, HARD_CAP, -1);
		struct kl_record rec;
		CHECK_EQ_INT(kl_source_next(s, &rec, -1), KL_EUNSUPPORTED);
		CHECK(strstr(s->err.msg, i ? "xz-compressed" : "bzip2-compressed") != NULL);
		kl_source_free(s);
		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
	}
}

/* `end`: a compressed input ends where its file's first `end` bytes end */
static void test_end(const char *text, size_t len)
{
	size_t gz_n;
	char *gz = two_frames(text, len, gzip_of, &gz_n);
	char *more = malloc(gz_n + 100);
	memcpy(more, gz, gz_n);
	memset(more + gz_n, 'x', 100); /* appended after the input was named */
	int fd = input_fd(more, gz_n + 100, 0);
	struct kl_source *s = kl_source_fd_new(fd, 1, 0, gz_n, HARD_CAP, -1);
	char *got;
	size_t got_n, want_n;
	char *want = expected(text, len, 0, &want_n);
	CHECK_EQ_INT(read_all(s, &got, &got_n), KL_SRC_EOF);
	CHECK(got_n == want_n && !memcmp(got, want, want_n));
	CHECK_EQ_INT(s->bytes_read, gz_n);
	kl_source_free(s);
	free(got);
	free(want);
	free(more);
	free(gz);
}

/* A resume point inside the first bytes (shorter than a magic number): the
 * reading past it that tells the format keeps what follows the point. */
static void test_small_resume(void)
{
	size_t n, want_n, got_n;
	for (int c = 0; c < 4; c++) {
		/* plain, gzip, zstd, and a short gzip cut before its 8-byte trailer:
		 * every line comes out, then the error (also when resumed: the text
		 * the skip read past the point, all there is, is handed out before
		 * the error) */
		const char *text = c == 3 ? "a\nbb\nc\n" : "a\nbb\nccc\n{\"d\":4}\n";
		size_t len = strlen(text);
		char *d = c == 0 ? strdup(text) : c == 2 ? zstd_of(text, len, &n) : gzip_of(text, len, &n);
		if (c == 0)
			n = len;
		if (c == 3)
			n -= 8;
		for (int pipe_it = 0; pipe_it < 2; pipe_it++) {
			for (size_t start = 2; start <= 5; start += 3) {
				int fd = input_fd(d, n, pipe_it);
				struct kl_source *s = kl_source_fd_new(fd, 1, start, 0, HARD_CAP, -1);
				char *got, *want = expected(text, len, start, &want_n);
				CHECK_EQ_INT(read_all(s, &got, &got_n), c == 3 ? KL_EPARSE : KL_SRC_EOF);
				CHECK(got_n == want_n && !memcmp(got, want, want_n));
				kl_source_free(s);
				free(got);
				free(want);
				while (waitpid(-1, NULL, WNOHANG) > 0)
					;
			}
		}
		free(d);
	}
}

/* fuzz_source's property over its seeds (fuzz/corpus/source, or
 * KL_FUZZ_CORPUS): byte 0 picks the hard cap, the rest after byte 1 is the
 * file; reading again from any record's position gives exactly the records
 * from that one on and ends the same way. Among the seeds: a damaged zstd
 * input whose resumed reading, whose first compressed read was as long as
 * the resume point's distance, found the damage before the records a
 * reading from the start gave (the decoder now gets a file in the same
 * pieces however the first read went). */
static void test_corpus_resume(void)
{
	const char *dir = getenv("KL_FUZZ_CORPUS");
	char cmd[512];
	snprintf(cmd, sizeof cmd, "ls %s/* 2>/dev/null", dir ? dir : "fuzz/corpus/source");
	FILE *ls = popen(cmd, "r");
	char path[400];
	size_t files = 0;
	while (ls && fgets(path, sizeof path, ls)) {
		path[strcspn(path, "\n")] = '\0';
		FILE *f = fopen(path, "rb");
		static char d[1 << 20];
		size_t n = f ? fread(d, 1, sizeof d, f) : 0;
		if (f)
			fclose(f);
		if (n < 3)
			continue;
		files++;
		size_t cap = 16 + (size_t)(unsigned char)d[0] * 4, n0, n1;
		int fd = input_fd(d + 2, n - 2, 0);
		struct kl_source *s = kl_source_fd_new(fd, 0, 0, 0, cap, -1);
		char *all, *from;
		int rc0 = read_all(s, &all, &n0);
		kl_source_free(s);
		for (size_t i = 0; i < n0; i = (size_t)((char *)memchr(all + i, '\n', n0 - i) - all) + 1) {
			unsigned long long pos = strtoull(all + i, NULL, 10);
			lseek(fd, 0, SEEK_SET);
			s = kl_source_fd_new(fd, 0, pos, 0, cap, -1);
			int rc1 = read_all(s, &from, &n1);
			kl_source_free(s);
			if (rc1 != rc0 || n1 != n0 - i || memcmp(from, all + i, n1)) {
				CHECK(!"a resumed reading differs from the reading from the start");
				fprintf(stderr, "  %s, resumed at %llu: %d against %d, %zu bytes against %zu\n",
					path, pos, rc1, rc0, n1, n0 - i);
			}
			free(from);
			if (!memchr(all + i, '\n', n0 - i))
				break;
		}
		free(all);
		close(fd);
	}
	if (ls)
		pclose(ls);
	CHECK(files >= 10); /* the seeds were found */
}

int main(void)
{
	size_t len, n;
	char *text = make_text(&len);
	variant("plain", text, len, text, len, NULL);
	char *d = gzip_of(text, len, &n);
	variant("gzip", d, n, text, len, "gzip");
	free(d);
	d = two_frames(text, len, gzip_of, &n);
	variant("gzip, two members", d, n, text, len, "gzip");
	free(d);
	d = zstd_of(text, len, &n);
	variant("zstd", d, n, text, len, "zstd");
	free(d);
	d = two_frames(text, len, zstd_of, &n);
	variant("zstd, two frames", d, n, text, len, "zstd");
	free(d);
	test_decoder(text, len);
	test_refused();
	test_end(text, len);
	test_small_resume();
	test_corpus_resume();
	free(text);
	return check_report("test_source");
}
