/*
 * sdnotify.h — systemd's notification protocol (sd_notify(3)), without
 * libsystemd: what a `Type=notify` unit with `WatchdogSec=` expects.
 *
 * systemd passes the unit's process NOTIFY_SOCKET (an AF_UNIX datagram
 * socket: a path, or "@name" in the abstract namespace) and, with a
 * watchdog, WATCHDOG_USEC (and WATCHDOG_PID, the process it is meant for).
 * A notification is one datagram of newline-separated KEY=VALUE lines:
 *   READY=1     the service has started (systemctl start returns)
 *   STATUS=...  a line `systemctl status` shows
 *   WATCHDOG=1  alive; without one for WatchdogSec, systemd kills the
 *               service (SIGABRT) and Restart= starts it again
 *   STOPPING=1  shutting down (after SIGTERM)
 * The metrics reporter (metrics.h) sends them: READY=1 at its start, then
 * every half watchdog period WATCHDOG=1 with a STATUS= line while
 * GET /health would not answer "stalled", and STOPPING=1 once at the
 * signal. So a stalled stream (kl_metrics_health) is restarted by
 * systemd as a Kubernetes liveness probe would restart it.
 *
 * Everything here is best effort: a missing or broken socket never stops
 * a run. Ownership: the caller's struct; kl_sd_notify_close() closes its
 * socket. Not thread-safe (the reporter thread alone uses it).
 */
#ifndef KL_METRICS_SDNOTIFY_H
#define KL_METRICS_SDNOTIFY_H

#include <stdint.h>
#include <sys/socket.h>
#include <sys/un.h>

struct kl_sd_notify {
	int fd;			 /* -1: no NOTIFY_SOCKET, nothing is sent */
	struct sockaddr_un addr; /* where to */
	socklen_t addr_len;
	int64_t watchdog_ms; /* WatchdogSec in ms; 0: no watchdog */
};

/* From the values of NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID (each
 * may be NULL) and this process's pid: a watchdog meant for another
 * process (WATCHDOG_PID set and not `pid`) is none. Returns 0 with n->fd
 * -1 when there is no socket or it cannot be used (a path too long, not
 * absolute or '@', socket() failed). */
void kl_sd_notify_open(struct kl_sd_notify *n, const char *notify_socket,
		       const char *watchdog_usec, const char *watchdog_pid, long pid);

/* Send one notification (its lines, e.g. "READY=1\nSTATUS=reading");
 * 0, or -1 when it was not sent (no socket, a send error). */
int kl_sd_notify_send(struct kl_sd_notify *n, const char *msg);

void kl_sd_notify_close(struct kl_sd_notify *n);

#endif
