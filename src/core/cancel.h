/*
 * cancel.h — a cancellation token, and sleeps that end when it fires.
 *
 * A token is a borrowed view of "should this work stop now?": an atomic
 * flag (cheap to test per record or per progress callback) and/or a file
 * descriptor that becomes readable when it fires (so a sleep can wait on
 * it instead of the clock). Either may be absent (flag NULL, fd -1); a NULL
 * token never fires. Tokens are made by core/stop.h (a process's
 * SIGTERM/SIGINT and its shutdown deadline) or by any owner of an eventfd.
 *
 * Library code below the pipeline (aws/retry.h, aws/http.h, the S3 store,
 * the Kinesis client) takes a token and gives up with KL_EINTR when it
 * fires: backoff sleeps end early, transfers are aborted.
 *
 * Ownership: the flag and fd belong to whoever made the token and must
 * outlive every user.
 */
#ifndef KL_CORE_CANCEL_H
#define KL_CORE_CANCEL_H

#include <stdatomic.h>

struct kl_cancel {
	const atomic_int *flag; /* non-zero once fired; NULL: test fd only */
	int fd;			/* readable once fired; -1: none */
};

/* 1 once `c` has fired (flag set, else fd readable); 0 for NULL. Testing
 * the fd costs a poll(2); with a flag it is one relaxed load. */
int kl_cancelled(const struct kl_cancel *c);

/* Sleep `ms`, or less when `c` fires: 1 if it fired (before or during),
 * else 0. NULL `c`: a plain sleep. */
int kl_cancel_sleep(const struct kl_cancel *c, unsigned ms);

#endif
