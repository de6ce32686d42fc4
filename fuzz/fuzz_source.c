/*
 * fuzz_source.c — libFuzzer target for the line source over a file
 * (src/source/source_fd.c) and the gzip / zstd decoders it reads
 * compressed inputs through (src/source/decompress.h).
 *
 * Input: byte 0 picks the hard cap on a line (16-1039 bytes), byte 1 a
 * record to resume at; the rest is the file. Invariants: no crash or leak;
 * records come in ascending positions, never overlap, hold no newline, and
 * a cut line (`more`) is given whole through rest(); a plain file's records
 * are exactly its lines; reading again from any record's position gives
 * exactly the records from that one on (the resume a restart makes, which
 * for a compressed file decodes its text up to that point) and ends the
 * same way.
 */
#include "fuzz_common.h"
#include "source/decompress.h"
#include "source/source.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define MAX_RECS 4096

struct rec {
	uint64_t pos;
	size_t len; /* full length, rest() included */
	uint64_t sum; /* FNV-1a of its bytes */
};

static uint64_t fnv(uint64_t h, const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)p[i]) * 0x100000001b3ull;
	return h;
}

/* Every record of the file from `start`: into r (at most MAX_RECS); the
 * status the reading ended with. */
static int read_from(int fd, uint64_t start, size_t cap, struct rec *r, size_t *nr)
{
	lseek(fd, 0, SEEK_SET);
	struct kl_source *s = kl_source_fd_new(fd, 0, start, 0, cap, -1);
	REQUIRE(s);
	struct kl_record rec;
	int rc;
	*nr = 0;
	uint64_t last_end = start;
	while ((rc = kl_source_next(s, &rec, -1)) == KL_SRC_RECORD && *nr < MAX_RECS) {
		REQUIRE(rec.pos >= last_end); /* ascending, no overlap */
		REQUIRE(rec.n > 0 && rec.n <= cap + 1);
		REQUIRE(memchr(rec.p, '\n', rec.n) == NULL);
		struct rec *o = &r[(*nr)++];
		o->pos = rec.pos;
		o->len = rec.n;
		o->sum = fnv(0xcbf29ce484222325ull, rec.p, rec.n);
		if (rec.more) {
			const char *p;
			size_t n;
			int m;
			while ((m = s->ops->rest(s, &p, &n)) == 1) {
				REQUIRE(n > 0 && memchr(p, '\n', n) == NULL);
				o->len += n;
				o->sum = fnv(o->sum, p, n);
			}
			if (m < 0) {
				rc = m;
				break;
			}
		}
		last_end = o->pos + o->len;
		REQUIRE(kl_source_next_pos(s) > o->pos);
	}
	kl_source_free(s);
	return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2 || size > (1u << 20))
		return 0;
	size_t cap = 16 + (size_t)data[0] * 4;
	unsigned pick = data[1];
	const char *file = (const char *)data + 2;
	size_t n = size - 2;
	int fd = memfd_create("fuzz_source", 0);
	REQUIRE(fd >= 0);
	REQUIRE(write(fd, file, n) == (ssize_t)n);
	static struct rec a[MAX_RECS], b[MAX_RECS];
	size_t na, nb;
	int ra = read_from(fd, 0, cap, a, &na);
	if (na < MAX_RECS && kl_codec_sniff(file, n) == KL_CODEC_NONE) {
		/* plain: the records are exactly the file's non-blank lines */
		REQUIRE(ra == KL_SRC_EOF);
		size_t i = 0, k = 0;
		while (i < n) {
			const char *nl = memchr(file + i, '\n', n - i);
			size_t l = nl ? (size_t)(nl - (file + i)) : n - i;
			if (l && !(l == 1 && file[i] == '\r')) {
				REQUIRE(k < na && a[k].pos == i && a[k].len == l);
				REQUIRE(a[k].sum == fnv(0xcbf29ce484222325ull, file + i, l));
				k++;
			}
			i += l + 1;
		}
		REQUIRE(k == na);
	}
	if (na > 0 && na < MAX_RECS) {
		/* resume at one of the records: the same records from there on */
		size_t k = pick % na;
		int rb = read_from(fd, a[k].pos, cap, b, &nb);
		REQUIRE(rb == ra);
		REQUIRE(nb == na - k);
		for (size_t i = 0; i < nb; i++)
			REQUIRE(b[i].pos == a[k + i].pos && b[i].len == a[k + i].len &&
				b[i].sum == a[k + i].sum);
	}
	close(fd);
	return 0;
}
