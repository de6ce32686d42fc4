/* test_input_id.c — naming a file input (source/input_id.h): the hash of its
 * whole content and, as it is taken, the hashes of its prefixes at given
 * lengths (what a file that grew was called when it was that long: each
 * equals the hash of a file holding only that prefix), a prefix past the
 * end (0), the head hash, a stop request before the hash ends, and the
 * names of the marks of inputs read to their end. */
#include "check.h"

#include "core/cancel.h"
#include "source/input_id.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

/* A temporary file holding buf[0..n); its fd (read only), unlinked. */
static int temp_file(const char *buf, size_t n)
{
	char path[256];
	int fd = mkstemp(kl_test_tmpl(path, sizeof path, "kl_input_id_"));
	CHECK(fd >= 0);
	if (fd < 0)
		return -1;
	unlink(path);
	CHECK(write(fd, buf, n) == (ssize_t)n);
	return fd;
}

int main(void)
{
	struct kl_errbuf eb;
	/* 3 MiB and a bit: the hash reads 1 MiB at a time, so prefixes fall
	 * inside reads, on their boundaries and on the first byte */
	size_t n = (3u << 20) + 12345;
	char *buf = malloc(n);
	CHECK(buf != NULL);
	if (!buf)
		return check_report("test_input_id");
	for (size_t i = 0; i < n; i++)
		buf[i] = (char)("abcdefghij\n"[i % 11] ^ (char)(i >> 13));
	int fd = temp_file(buf, n);

	uint64_t at[] = {1, 4096, 1u << 20, (1u << 20) + 1, 2500000, n - 1, n + 7};
	size_t nat = sizeof at / sizeof at[0];
	uint64_t at_hash[sizeof at / sizeof at[0]];
	struct kl_input_hash_hooks hooks = {.at = at, .nat = nat, .at_hash = at_hash};
	uint64_t size = 0, h = 0;
	CHECK_EQ_INT(kl_input_hash_fd(fd, &size, &h, &hooks, &eb), KL_OK);
	CHECK(size == n);
	CHECK(h == XXH3_64bits(buf, n));
	for (size_t i = 0; i + 1 < nat; i++)
		CHECK(at_hash[i] == XXH3_64bits(buf, at[i]));
	CHECK(at_hash[nat - 1] == 0); /* past the end */

	/* no hooks: the same hash */
	uint64_t h2 = 0;
	CHECK_EQ_INT(kl_input_hash_fd(fd, &size, &h2, NULL, &eb), KL_OK);
	CHECK(h2 == h);

	uint64_t head = 0;
	CHECK_EQ_INT(kl_input_head_hash(fd, &head, &eb), KL_OK);
	CHECK(head == XXH3_64bits(buf, KL_INPUT_HEAD));
	int small = temp_file("{}\n", 3); /* shorter than the head: all of it */
	CHECK_EQ_INT(kl_input_head_hash(small, &head, &eb), KL_OK);
	CHECK(head == XXH3_64bits("{}\n", 3));
	close(small);

	/* a stop that has fired: KL_EINTR at the first look (after 16 MB; this
	 * file is shorter, so the stop is seen only by a larger one) */
	atomic_int fired = 1;
	struct kl_cancel stop = {&fired, -1};
	struct kl_input_hash_hooks stopping = {.stop = &stop};
	CHECK_EQ_INT(kl_input_hash_fd(fd, &size, &h2, &stopping, &eb), KL_OK);
	size_t big_n = (size_t)40 << 20;
	char *big = calloc(1, big_n);
	CHECK(big != NULL);
	if (big) {
		int bfd = temp_file(big, big_n);
		CHECK_EQ_INT(kl_input_hash_fd(bfd, &size, &h2, &stopping, &eb), KL_EINTR);
		CHECK(strstr(eb.msg, "stopped while hashing") != NULL);
		close(bfd);
		free(big);
	}
	/* marks: the name and back; what is not one */
	char name[48], id[17];
	uint64_t msize = 0;
	kl_input_mark_name(name, sizeof name, 428551, "e3caeda8794b8074");
	CHECK_EQ_STR(name, "428551-e3caeda8794b8074");
	CHECK_EQ_INT(kl_input_mark_parse(name, strlen(name), &msize, id), 1);
	CHECK(msize == 428551);
	CHECK_EQ_STR(id, "e3caeda8794b8074");
	CHECK_EQ_INT(kl_input_mark_parse("18446744073709551615-0123456789abcdef", 37, &msize, id), 1);
	CHECK(msize == UINT64_MAX);
	const char *bad[] = {"", "-e3caeda8794b8074", "0-e3caeda8794b8074", "012-e3caeda8794b8074",
			     "12-e3caeda8794b807", "12-e3caeda8794b80745", "12-E3CAEDA8794B8074",
			     "12e3caeda8794b8074", "+12-e3caeda8794b8074",
			     "18446744073709551616-0123456789abcdef", ".12-e3caeda8794b8074"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		CHECK_EQ_INT(kl_input_mark_parse(bad[i], strlen(bad[i]), &msize, id), 0);
	/* the length given, not the NUL, ends the name */
	CHECK_EQ_INT(kl_input_mark_parse("5-0123456789abcdefXYZ", 18, &msize, id), 1);

	close(fd);
	free(buf);
	return check_report("test_input_id");
}
