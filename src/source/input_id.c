/* input_id.c — see input_id.h. */
#include "source/input_id.h"

#include "core/cancel.h"

#include <fcntl.h>

#include <errno.h>
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
	for (;;) {
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
		ssize_t n = pread(fd, buf, 1 << 20, (off_t)total);
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
