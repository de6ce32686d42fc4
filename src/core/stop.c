/* stop.c — see stop.h. */
#include "core/stop.h"
#include "core/clock.h"
#include "core/err.h"

#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

static void poke(int fd)
{
	uint64_t one = 1;
	(void)!write(fd, &one, sizeof one);
}

static void mark_requested(struct kl_stop *s)
{
	int64_t zero = 0;
	if (atomic_compare_exchange_strong(&s->requested_at_ms, &zero, kl_mono_ms())) {
		atomic_store(&s->requested, 1);
		poke(s->requested_fd);
	}
}

/* Wait for the signal (or a request), then for the deadline. */
static void *watch(void *arg)
{
	struct kl_stop *s = arg;
	while (!atomic_load(&s->quit) && !atomic_load(&s->requested)) {
		struct pollfd p[2] = {{.fd = s->wake_fd, .events = POLLIN},
				      {.fd = s->signal_fd, .events = POLLIN}};
		int n = poll(p, s->signal_fd >= 0 ? 2 : 1, -1);
		if (n < 0 && errno != EINTR)
			return NULL;
		if (n > 0 && (p[1].revents & POLLIN))
			mark_requested(s);
		if (n > 0 && (p[0].revents & POLLIN)) {
			uint64_t v;
			(void)!read(s->wake_fd, &v, sizeof v);
		}
	}
	for (;;) {
		if (atomic_load(&s->quit))
			return NULL;
		int64_t left = atomic_load(&s->requested_at_ms) + s->timeout_ms - kl_mono_ms();
		if (left <= 0)
			break;
		struct pollfd p = {.fd = s->wake_fd, .events = POLLIN};
		if (poll(&p, 1, left > 1000000 ? 1000000 : (int)left) > 0) {
			uint64_t v;
			(void)!read(s->wake_fd, &v, sizeof v);
		}
	}
	atomic_store(&s->expired, 1);
	poke(s->expired_fd);
	return NULL;
}

int kl_stop_start(struct kl_stop *s, int signal_fd, int64_t timeout_ms)
{
	memset(s, 0, sizeof *s);
	s->signal_fd = signal_fd;
	s->timeout_ms = timeout_ms < 0 ? 0 : timeout_ms;
	s->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	s->requested_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	s->expired_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	s->on_request = (struct kl_cancel){&s->requested, s->requested_fd};
	s->on_deadline = (struct kl_cancel){&s->expired, s->expired_fd};
	if (s->wake_fd < 0 || s->requested_fd < 0 || s->expired_fd < 0 ||
	    pthread_create(&s->thread, NULL, watch, s)) {
		int *fds[] = {&s->wake_fd, &s->requested_fd, &s->expired_fd};
		for (int i = 0; i < 3; i++)
			if (*fds[i] >= 0)
				close(*fds[i]);
		s->wake_fd = s->requested_fd = s->expired_fd = -1;
		return KL_ENOMEM;
	}
	s->started = 1;
	return KL_OK;
}

void kl_stop_request(struct kl_stop *s)
{
	mark_requested(s);
	poke(s->wake_fd);
}

void kl_stop_cleanup(struct kl_stop *s)
{
	if (!s->started)
		return;
	atomic_store(&s->quit, 1);
	poke(s->wake_fd);
	pthread_join(s->thread, NULL);
	close(s->wake_fd);
	close(s->requested_fd);
	close(s->expired_fd);
	s->started = 0;
}

const struct kl_cancel *kl_stop_requested(const struct kl_stop *s)
{
	return s ? &s->on_request : NULL;
}

const struct kl_cancel *kl_stop_deadline(const struct kl_stop *s)
{
	return s ? &s->on_deadline : NULL;
}

int kl_stop_expired(const struct kl_stop *s)
{
	return s && atomic_load(&s->expired);
}
