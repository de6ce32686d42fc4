/*
 * clock.h — the monotonic clock, for ages, deadlines and rates.
 * (Wall-clock time is read only where a timestamp is written out.)
 */
#ifndef KL_CORE_CLOCK_H
#define KL_CORE_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline int64_t kl_mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static inline int64_t kl_mono_ms(void)
{
	return kl_mono_ns() / 1000000;
}

/* now + ms on CLOCK_REALTIME: the deadline pthread_cond_timedwait takes
 * (a wait's clock, not a timestamp). */
static inline struct timespec kl_realtime_after_ms(int64_t ms)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += (time_t)(ms / 1000);
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L)
		ts.tv_sec++, ts.tv_nsec -= 1000000000L;
	return ts;
}

#endif
