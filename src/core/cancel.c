/* cancel.c — see cancel.h. */
#include "core/cancel.h"
#include "core/clock.h"

#include <errno.h>
#include <poll.h>
#include <time.h>

static int fd_ready(int fd, int ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	return poll(&p, 1, ms) > 0 && (p.revents & POLLIN);
}

int kl_cancelled(const struct kl_cancel *c)
{
	if (!c)
		return 0;
	if (c->flag)
		return atomic_load_explicit(c->flag, memory_order_relaxed) != 0;
	return c->fd >= 0 && fd_ready(c->fd, 0);
}

int kl_cancel_sleep(const struct kl_cancel *c, unsigned ms)
{
	int64_t end = kl_mono_ms() + ms;
	for (;;) {
		if (kl_cancelled(c))
			return 1;
		int64_t left = end - kl_mono_ms();
		if (left <= 0)
			return 0;
		if (c && c->fd >= 0) {
			/* the fd wakes us; a flag-only token is re-tested every 100 ms */
			if (fd_ready(c->fd, (int)left))
				return 1;
		} else if (c && c->flag) {
			int64_t n = left < 100 ? left : 100;
			struct timespec ts = {0, (long)n * 1000000L};
			nanosleep(&ts, NULL);
		} else {
			struct timespec ts = {left / 1000, (long)(left % 1000) * 1000000L};
			if (nanosleep(&ts, NULL) && errno != EINTR)
				return 0;
		}
	}
}
