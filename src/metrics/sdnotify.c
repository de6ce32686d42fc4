/* sdnotify.c — see sdnotify.h. */
#include "metrics/sdnotify.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A decimal number that fills s: its value, or -1. */
static long long whole_number(const char *s)
{
	if (!s || *s < '0' || *s > '9')
		return -1;
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	return *end || errno ? -1 : v;
}

void kl_sd_notify_open(struct kl_sd_notify *n, const char *notify_socket,
		       const char *watchdog_usec, const char *watchdog_pid, long pid)
{
	memset(n, 0, sizeof *n);
	n->fd = -1;
	size_t len = notify_socket ? strlen(notify_socket) : 0;
	if (len < 2 || len >= sizeof n->addr.sun_path ||
	    (notify_socket[0] != '/' && notify_socket[0] != '@'))
		return;
	n->addr.sun_family = AF_UNIX;
	memcpy(n->addr.sun_path, notify_socket, len);
	if (notify_socket[0] == '@') /* the abstract namespace: a leading NUL */
		n->addr.sun_path[0] = '\0';
	n->addr_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len +
				  (notify_socket[0] == '/'));
	n->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (n->fd < 0)
		return;
	long long usec = whole_number(watchdog_usec);
	long long for_pid = watchdog_pid ? whole_number(watchdog_pid) : pid;
	if (usec > 0 && for_pid == pid)
		n->watchdog_ms = usec / 1000 > 0 ? usec / 1000 : 1;
}

int kl_sd_notify_send(struct kl_sd_notify *n, const char *msg)
{
	if (n->fd < 0)
		return -1;
	ssize_t w;
	do
		w = sendto(n->fd, msg, strlen(msg), MSG_NOSIGNAL, (struct sockaddr *)&n->addr,
			   n->addr_len);
	while (w < 0 && errno == EINTR);
	return w < 0 ? -1 : 0;
}

void kl_sd_notify_close(struct kl_sd_notify *n)
{
	if (n->fd >= 0)
		close(n->fd);
	n->fd = -1;
}
