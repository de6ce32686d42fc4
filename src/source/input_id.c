/* input_id.c — see input_id.h. */
#include "source/input_id.h"

#include "core/cancel.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

/* The hooks are looked at once per this many bytes hashed. */
#define HOOK_EVERY (16u << 20)

int kl_input_hash_fd(int fd, uint64_t *size, uint64_t *h, const struct kl_input_hash_hooks *hooks,
		     struct kl_errbuf *eb)
{
	XXH3_state_t *x = XXH3_createState();
	char *buf = malloc(1 << 20);
	int rc = KL_OK;
	if (!x || !buf) {
		rc = kl_errbuf_set(eb, KL_ENOMEM, "out of memory");
		goto out;
	}
	/* a hint: more read-ahead on a cold disk, for this pass and the next */
	(void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	XXH3_64bits_reset(x);
	uint64_t total = 0, next_hook = HOOK_EVERY;
	size_t at = 0, nat = hooks && hooks->at_hash ? hooks->nat : 0;
	for (size_t i = 0; i < nat; i++)
		hooks->at_hash[i] = 0;
	for (;;) {
		/* a prefix ends here: its hash, the state going on unchanged */
		while (at < nat && hooks->at[at] <= total) {
			if (hooks->at[at] == total)
				hooks->at_hash[at] = XXH3_64bits_digest(x);
			at++;
		}
		if (hooks && total >= next_hook) {
			next_hook = total + HOOK_EVERY;
			if (kl_cancelled(hooks->stop)) {
				rc = kl_errbuf_set(eb, KL_EINTR,
						   "stopped while hashing the input (%" PRIu64
						   " bytes in); nothing was read or written",
						   total);
				goto out;
			}
			if (hooks->tick)
				hooks->tick(hooks->ctx, total);
		}
		size_t want = 1 << 20;
		if (at < nat && hooks->at[at] - total < want) /* stop at the next prefix */
			want = (size_t)(hooks->at[at] - total);
		ssize_t n = pread(fd, buf, want, (off_t)total);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = kl_errbuf_set(eb, KL_EIO, "read input: %s", strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		XXH3_64bits_update(x, buf, (size_t)n);
		total += (uint64_t)n;
	}
	*size = total;
	*h = XXH3_64bits_digest(x);
out:
	XXH3_freeState(x);
	free(buf);
	return rc;
}

int kl_input_head_hash(int fd, uint64_t *hash, struct kl_errbuf *eb)
{
	char head[KL_INPUT_HEAD];
	size_t got = 0;
	while (got < sizeof head) {
		ssize_t n = pread(fd, head + got, sizeof head - got, (off_t)got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return kl_errbuf_set(eb, KL_EIO, "read input: %s", strerror(errno));
		if (n == 0)
			break;
		got += (size_t)n;
	}
	*hash = XXH3_64bits(head, got);
	return KL_OK;
}

void kl_input_mark_name(char *out, size_t cap, uint64_t size, const char id[17])
{
	snprintf(out, cap, "%" PRIu64 "-%.16s", size, id);
}

int kl_input_mark_parse(const char *name, size_t len, uint64_t *size, char id[17])
{
	size_t i = 0;
	uint64_t v = 0;
	if (len == 0 || name[0] < '1' || name[0] > '9')
		return 0;
	for (; i < len && name[i] >= '0' && name[i] <= '9'; i++) {
		unsigned d = (unsigned)(name[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return 0;
		v = v * 10 + d;
	}
	if (i >= len || name[i] != '-' || len - i - 1 != 16)
		return 0;
	for (size_t k = 0; k < 16; k++) {
		char c = name[i + 1 + k];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return 0;
		id[k] = c;
	}
	id[16] = '\0';
	*size = v;
	return 1;
}

void kl_input_id_hex(uint64_t hash, char out[17])
{
	snprintf(out, 17, "%016" PRIx64, hash);
}

void kl_input_id_of_name(const char *name, char out[17])
{
	kl_input_id_hex(XXH3_64bits(name, strlen(name)), out);
}

void kl_input_id_fresh(char out[17])
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	char seed[64];
	int n = snprintf(seed, sizeof seed, "stdin-%lld-%09ld-%ld", (long long)ts.tv_sec,
			 ts.tv_nsec, (long)getpid());
	kl_input_id_hex(XXH3_64bits(seed, (size_t)n), out);
}
