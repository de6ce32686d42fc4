/*
 * stop.h — a process's shutdown: the signal, then a deadline.
 *
 * The CLI turns SIGTERM/SIGINT into a readable fd (a signalfd; no handler,
 * no global flag). kl_stop_start() watches that fd on a small thread of its
 * own and turns it into two cancellation tokens (core/cancel.h):
 *
 *   kl_stop_requested  fires at the signal: readers stop reading at once
 *                      (one relaxed load per record), and calls made only
 *                      to read more (Kinesis GetRecords) give up;
 *   kl_stop_deadline   fires `timeout_ms` after the signal: what is still
 *                      being written (S3 uploads, their retries and
 *                      backoff sleeps) is abandoned, so the process exits
 *                      within the timeout plus a small margin.
 *
 * Between the two, the pipeline commits what it can. Whatever is abandoned
 * was never committed, so the next run reads it again (exactly once makes
 * that safe). kl_stop_request() stops without a signal (tests, a caller's
 * own reasons). The signal fd is borrowed and never read from, so every
 * poller keeps seeing it readable.
 */
#ifndef KL_CORE_STOP_H
#define KL_CORE_STOP_H

#include "core/cancel.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

struct kl_stop {
	int signal_fd;	    /* borrowed; -1: only kl_stop_request() stops */
	int64_t timeout_ms; /* signal -> deadline */
	atomic_int requested, expired;
	_Atomic int64_t requested_at_ms; /* kl_mono_ms() of the signal, 0 before */
	int wake_fd;			 /* eventfd: wakes the watcher (request, cleanup) */
	int requested_fd;		 /* eventfd: readable once stop was requested */
	int expired_fd;			 /* eventfd: readable once the deadline passed */
	atomic_int quit;
	pthread_t thread;
	int started;
	struct kl_cancel on_request, on_deadline;
};

/* Start watching `signal_fd` (may be -1). KL_OK or KL_ENOMEM/KL_EIO. */
int kl_stop_start(struct kl_stop *s, int signal_fd, int64_t timeout_ms);
/* Stop the watcher and close what kl_stop_start opened. */
void kl_stop_cleanup(struct kl_stop *s);

/* Stop as if the signal had come (idempotent). */
void kl_stop_request(struct kl_stop *s);

/* The tokens; NULL for a NULL `s` (never fires). */
const struct kl_cancel *kl_stop_requested(const struct kl_stop *s);
const struct kl_cancel *kl_stop_deadline(const struct kl_stop *s);

/* Has the deadline passed? (1/0; 0 for NULL) */
int kl_stop_expired(const struct kl_stop *s);

#endif
