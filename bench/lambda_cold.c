/*
 * lambda_cold.c — cold start of a Lambda custom runtime, measured without a
 * Node.js server in the way (bench/lambda.sh).
 *
 *   lambda_cold N EVENT.json CMD [ARG...]
 *       N times: posix_spawn CMD with AWS_LAMBDA_RUNTIME_API pointing at a
 *       blocking Runtime API on 127.0.0.1 served by this process, hand it
 *       EVENT.json on its first GET /next, and time spawn -> that GET, and
 *       spawn -> its POST .../response fully received (the answer must be a
 *       response, not an error). Then 500 on the next /next, which a
 *       runtime must take as the signal to exit. Prints one JSON line with
 *       the medians and minimums in milliseconds.
 *   lambda_cold --as-runtime
 *       a runtime that does nothing: GET /next, POST {"records":[]}, exit.
 *       Spawned by the first form, it gives this harness's own floor
 *       (posix_spawn + exec + three round trips).
 *
 * tests/js/runtime_api.mjs measures the same thing from a Node.js server;
 * there a fork of the Node process and its event loop add tens of
 * milliseconds on a loaded machine, more than the runtime itself takes.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static double now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* One HTTP request or response (head + Content-Length body) into buf;
 * returns its length, -1 on EOF or error. */
static long read_msg(int fd, char *buf, size_t cap)
{
	size_t n = 0;
	for (;;) {
		ssize_t r = recv(fd, buf + n, cap - n - 1, 0);
		if (r <= 0)
			return -1;
		n += (size_t)r;
		buf[n] = '\0';
		char *e = strstr(buf, "\r\n\r\n");
		if (!e)
			continue;
		char *cl = strcasestr(buf, "content-length:");
		size_t want = (size_t)(e - buf) + 4 + (cl && cl < e ? strtoul(cl + 15, NULL, 10) : 0);
		if (want >= cap)
			return -1;
		while (n < want) {
			r = recv(fd, buf + n, cap - n - 1, 0);
			if (r <= 0)
				return -1;
			n += (size_t)r;
		}
		buf[n] = '\0';
		return (long)n;
	}
}

static int send_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int as_runtime(void)
{
	static char buf[1 << 20];
	const char *api = getenv("AWS_LAMBDA_RUNTIME_API");
	const char *colon = api ? strrchr(api, ':') : NULL;
	if (!colon)
		return 2;
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(colon + 1)),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a))
		return 2;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	char req[512], id[128];
	int n = snprintf(req, sizeof req, "GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: %s\r\n\r\n", api);
	if (send_all(fd, req, (size_t)n) || read_msg(fd, buf, sizeof buf) < 0)
		return 2;
	char *h = strcasestr(buf, "lambda-runtime-aws-request-id:");
	if (!h || sscanf(h + 30, " %127[^\r\n]", id) != 1)
		return 2;
	const char *body = "{\"records\":[]}";
	n = snprintf(req, sizeof req, "POST /2018-06-01/runtime/invocation/%s/response HTTP/1.1\r\nHost: %s\r\n"
		     "Content-Length: %zu\r\n\r\n%s", id, api, strlen(body), body);
	if (send_all(fd, req, (size_t)n) || read_msg(fd, buf, sizeof buf) < 0)
		return 2;
	n = snprintf(req, sizeof req, "GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: %s\r\n\r\n", api);
	send_all(fd, req, (size_t)n);
	read_msg(fd, buf, sizeof buf);
	return 1; /* the Runtime API went away */
}

int main(int argc, char **argv)
{
	if (argc == 2 && !strcmp(argv[1], "--as-runtime"))
		return as_runtime();
	if (argc < 4) {
		fprintf(stderr, "usage: lambda_cold N EVENT.json CMD [ARG...] | lambda_cold --as-runtime\n");
		return 2;
	}
	int runs = atoi(argv[1]);
	FILE *f = fopen(argv[2], "rb");
	if (runs < 1 || !f) {
		fprintf(stderr, "lambda_cold: bad N or cannot open %s\n", argv[2]);
		return 2;
	}
	fseek(f, 0, SEEK_END);
	long evn = ftell(f);
	rewind(f);
	char *ev = malloc((size_t)evn), *buf = malloc(16 << 20);
	double *t_next = calloc((size_t)runs, sizeof *t_next), *t_resp = calloc((size_t)runs, sizeof *t_resp);
	if (!ev || !buf || !t_next || !t_resp || fread(ev, 1, (size_t)evn, f) != (size_t)evn)
		return 2;
	fclose(f);

	int ls = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof a;
	if (ls < 0 || bind(ls, (struct sockaddr *)&a, sizeof a) || listen(ls, 8) ||
	    getsockname(ls, (struct sockaddr *)&a, &al))
		return 2;
	char api[64];
	snprintf(api, sizeof api, "AWS_LAMBDA_RUNTIME_API=127.0.0.1:%d", ntohs(a.sin_port));
	size_t ne = 0;
	while (environ[ne])
		ne++;
	char **env = calloc(ne + 2, sizeof *env);
	size_t k = 0;
	for (size_t i = 0; i < ne; i++)
		if (strncmp(environ[i], "AWS_LAMBDA_RUNTIME_API=", 23))
			env[k++] = environ[i];
	env[k] = api;
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);

	for (int i = 0; i < runs; i++) {
		double t0 = now_ms();
		pid_t pid;
		if (posix_spawn(&pid, argv[3], &fa, NULL, argv + 3, env)) {
			perror("lambda_cold: posix_spawn");
			return 2;
		}
		int c = accept(ls, NULL, NULL);
		setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		if (read_msg(c, buf, 16 << 20) < 0 || strncmp(buf, "GET /2018-06-01/runtime/invocation/next ", 40)) {
			fprintf(stderr, "lambda_cold: expected GET /next\n");
			return 1;
		}
		t_next[i] = now_ms() - t0;
		char head[512];
		int hn = snprintf(head, sizeof head, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
			 "Lambda-Runtime-Aws-Request-Id: cold-%d\r\nLambda-Runtime-Deadline-Ms: %lld\r\n"
			 "Content-Length: %ld\r\n\r\n", i, (long long)time(NULL) * 1000 + 60000, evn);
		if (send_all(c, head, (size_t)hn) || send_all(c, ev, (size_t)evn) || read_msg(c, buf, 16 << 20) < 0) {
			fprintf(stderr, "lambda_cold: no answer\n");
			return 1;
		}
		t_resp[i] = now_ms() - t0;
		char want[64];
		snprintf(want, sizeof want, "POST /2018-06-01/runtime/invocation/cold-%d/response ", i);
		if (strncmp(buf, want, strlen(want))) {
			fprintf(stderr, "lambda_cold: expected a response, got: %.200s\n", buf);
			return 1;
		}
		const char *ok = "HTTP/1.1 202 Accepted\r\nContent-Length: 16\r\n\r\n{\"status\":\"OK\"}\n";
		const char *bye = "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 2\r\n\r\n{}";
		send_all(c, ok, strlen(ok));
		if (read_msg(c, buf, 16 << 20) >= 0)
			send_all(c, bye, strlen(bye));
		int st;
		waitpid(pid, &st, 0);
		close(c);
	}
	qsort(t_next, (size_t)runs, sizeof *t_next, cmp);
	qsort(t_resp, (size_t)runs, sizeof *t_resp, cmp);
	printf("{\"runs\":%d,\"first_next_ms\":%.2f,\"cold_start_ms\":%.2f,\"min_first_next_ms\":%.2f,"
	       "\"min_cold_start_ms\":%.2f}\n", runs, t_next[runs / 2], t_resp[runs / 2], t_next[0], t_resp[0]);
	return 0;
}
