/* metrics: exposition text, label escaping, shard slots, the atomic file,
 * GET /health's verdicts, systemd's notification socket. */
#include "check.h"
#include "metrics/metrics.h"
#include "metrics/sdnotify.h"
#include "parse/json.h"

#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static const char *line_of(const char *text, const char *prefix)
{
	const char *p = strstr(text, prefix);
	while (p && p != text && p[-1] != '\n')
		p = strstr(p + 1, prefix);
	return p;
}

/* Render m into b afresh, NUL-terminated for the string checks. */
static void render(struct kl_metrics *m, struct kl_buf *b)
{
	kl_buf_reset(b);
	CHECK_EQ_INT(kl_metrics_render(m, b), 0);
	CHECK_EQ_INT(kl_buf_putc(b, '\0'), 0);
}

/* GET /health's answer at now_ms, NUL-terminated in b; the status code. */
static int health(struct kl_metrics *m, struct kl_metrics_health *h, int64_t now_ms,
		  struct kl_buf *b)
{
	kl_buf_reset(b);
	int code = kl_metrics_health(m, h, now_ms, b);
	CHECK_EQ_INT(kl_buf_putc(b, '\0'), 0);
	/* every answer is one JSON object */
	CHECK_EQ_INT(kl_json_parse(b->data, b->len - 1, 4, NULL, NULL), 0);
	return code;
}

/* kl_metrics_health: ok, stalled only with work under way (shards running,
 * or flushes waiting for a writer) and nothing moving for stall_ms, ok
 * again at any progress, stopping once the token fires, whatever else is
 * true. */
static void test_health(void)
{
	struct kl_metrics m;
	CHECK_EQ_INT(kl_metrics_init(&m), 0);
	struct kl_buf b;
	kl_buf_init(&b, 0);
	atomic_int fired = 0;
	struct kl_cancel stop = {&fired, -1};
	struct kl_metrics_health h = {.stopping = &stop, .stall_ms = 10000};
	int64_t t = 5000000;
	CHECK_EQ_INT(health(&m, &h, t, &b), 200);
	CHECK(strstr(b.data, "\"status\":\"ok\"") && !strstr(b.data, "reason"));
	CHECK(strstr(b.data, "\"seconds_since_commit\":-1") != NULL);
	/* no shard running, no flush pending (starting, or a lease worker holding
	 * none): never stalled */
	CHECK_EQ_INT(health(&m, &h, t + 60000, &b), 200);
	atomic_store(&m.shards_running, 2);
	CHECK_EQ_INT(health(&m, &h, t + 60000 + 9999, &b), 503); /* quiet since t */
	t += 60000;
	/* progress at t: a shard's GetRecords answer */
	struct kl_metrics_shard *sh = kl_metrics_shard(&m, "shardId-0");
	CHECK(sh != NULL);
	atomic_fetch_add(&sh->get_records, 1);
	CHECK_EQ_INT(health(&m, &h, t, &b), 200);
	CHECK_EQ_INT(health(&m, &h, t + 9999, &b), 200);
	CHECK_EQ_INT(health(&m, &h, t + 10000, &b), 503);
	CHECK(strstr(b.data, "\"status\":\"stalled\"") && strstr(b.data, "--stall-timeout 10 s"));
	CHECK(strstr(b.data, "\"seconds_since_progress\":10,") != NULL);
	/* one large GetRecords answer arriving on a slow link: its bytes are
	 * progress while they move, stalled once they stop for --stall-timeout */
	atomic_fetch_add(&m.kinesis_moved, 65536);
	CHECK_EQ_INT(health(&m, &h, t + 10001, &b), 200);
	atomic_fetch_add(&m.kinesis_moved, 1);
	CHECK_EQ_INT(health(&m, &h, t + 19999, &b), 200);
	CHECK_EQ_INT(health(&m, &h, t + 29998, &b), 200);
	CHECK_EQ_INT(health(&m, &h, t + 29999, &b), 503);
	t += 20000;
	/* each counter is progress: a record read, a file committed, a dead letter */
	atomic_fetch_add(&m.records, 1);
	CHECK_EQ_INT(health(&m, &h, t + 20000, &b), 200);
	CHECK_EQ_INT(health(&m, &h, t + 30000, &b), 503);
	atomic_fetch_add(&m.files, 1);
	atomic_store(&m.last_commit_unix, (int64_t)time(NULL) - 3);
	CHECK_EQ_INT(health(&m, &h, t + 40000, &b), 200);
	const char *since = strstr(b.data, "\"seconds_since_commit\":");
	CHECK(since && atoi(since + strlen("\"seconds_since_commit\":")) >= 3);
	CHECK_EQ_INT(health(&m, &h, t + 50000, &b), 503);
	atomic_fetch_add(&m.dead, 1);
	CHECK_EQ_INT(health(&m, &h, t + 50001, &b), 200);
	/* no --stall-timeout: never stalled */
	h.stall_ms = 0;
	CHECK_EQ_INT(health(&m, &h, t + 3600000, &b), 200);
	h.stall_ms = 10000;
	/* local mode (no shard): a quiet input with nothing to commit is ok
	 * for an hour; a flush waiting for a stuck writer is stalled */
	atomic_store(&m.shards_running, 0);
	atomic_fetch_add(&m.records, 1);
	CHECK_EQ_INT(health(&m, &h, t + 60000, &b), 200);
	CHECK_EQ_INT(health(&m, &h, t + 3660000, &b), 200);
	atomic_store(&m.flushes_pending, 2);
	CHECK_EQ_INT(health(&m, &h, t + 3660001, &b), 503);
	CHECK(strstr(b.data, "\"status\":\"stalled\"") &&
	      strstr(b.data, "2 flushes waiting to commit"));
	atomic_fetch_add(&m.files, 1); /* one committed: progress */
	CHECK_EQ_INT(health(&m, &h, t + 3660002, &b), 200);
	CHECK_EQ_INT(health(&m, &h, t + 3670001, &b), 200);
	CHECK_EQ_INT(health(&m, &h, t + 3670002, &b), 503);
	/* an S3 request answered (a part of a long upload): progress */
	atomic_fetch_add(&m.s3_answered, 1);
	CHECK_EQ_INT(health(&m, &h, t + 3670003, &b), 200);
	CHECK_EQ_INT(health(&m, &h, t + 3680003, &b), 503);
	atomic_store(&m.flushes_pending, 0);
	CHECK_EQ_INT(health(&m, &h, t + 3680004, &b), 200);
	/* an S3 call under way and unanswered (a stuck start: no flush yet) */
	atomic_store(&m.s3_inflight, 1);
	CHECK_EQ_INT(health(&m, &h, t + 3680005, &b), 503);
	CHECK(strstr(b.data, "1 S3 request under way") != NULL);
	CHECK(strstr(b.data, "nothing read, sent, answered or committed for ") != NULL);
	/* one long request (a part on a slow link) whose bytes move: progress
	 * while they move, stalled once they stop for --stall-timeout */
	atomic_fetch_add(&m.s3_moved, 65536);
	CHECK_EQ_INT(health(&m, &h, t + 3680006, &b), 200);
	atomic_fetch_add(&m.s3_moved, 1);
	CHECK_EQ_INT(health(&m, &h, t + 3690005, &b), 200);
	CHECK_EQ_INT(health(&m, &h, t + 3700004, &b), 200);
	CHECK_EQ_INT(health(&m, &h, t + 3700005, &b), 503);
	atomic_store(&m.s3_inflight, 0);
	CHECK_EQ_INT(health(&m, &h, t + 3700006, &b), 200);
	t += 3610000;
	/* the signal: stopping, even with progress */
	fired = 1;
	atomic_fetch_add(&m.records, 1);
	CHECK_EQ_INT(health(&m, &h, t + 3600001, &b), 503);
	CHECK(strstr(b.data, "\"status\":\"stopping\"") && strstr(b.data, "SIGTERM"));
	/* no token: never stopping */
	h.stopping = NULL;
	CHECK_EQ_INT(health(&m, &h, t + 3600002, &b), 200);
	/* no room for the body */
	struct kl_buf tiny;
	kl_buf_init(&tiny, 8);
	CHECK_EQ_INT(kl_metrics_health(&m, &h, t + 3600003, &tiny), -1);
	kl_buf_cleanup(&tiny);
	kl_buf_cleanup(&b);
	kl_metrics_cleanup(&m);
}

/* sdnotify: NOTIFY_SOCKET as a path and in the abstract namespace, what is
 * refused, the watchdog period and whose it is, a datagram received. */
static void test_sd_notify(void)
{
	struct kl_sd_notify n;
	kl_sd_notify_open(&n, NULL, "1000000", NULL, 42);
	CHECK(n.fd == -1 && kl_sd_notify_send(&n, "READY=1") == -1);
	const char *bad[] = {"", "@", "relative/path", "x"};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		kl_sd_notify_open(&n, bad[i], NULL, NULL, 42);
		CHECK(n.fd == -1);
	}
	char longp[200];
	memset(longp, 'a', sizeof longp - 1);
	longp[0] = '/';
	longp[sizeof longp - 1] = '\0';
	kl_sd_notify_open(&n, longp, NULL, NULL, 42);
	CHECK(n.fd == -1);
	/* a bound socket of ours stands in for systemd's */
	char dir[200], path[260];
	kl_test_mkdtemp(dir, sizeof dir, "kl-notify-");
	snprintf(path, sizeof path, "%s/n", dir);
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof a.sun_path) { /* a socket path has 107 bytes at most */
		fprintf(stderr, "test_metrics: TMPDIR too long for a socket path: %s (the "
				"path part of the sd_notify test not run)\n", path);
		rmdir(dir);
		return;
	}
	memcpy(a.sun_path, path, strlen(path));
	int rx = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	CHECK(rx >= 0 && bind(rx, (struct sockaddr *)&a, sizeof a) == 0);
	kl_sd_notify_open(&n, path, "2000000", NULL, 42);
	CHECK(n.fd >= 0 && n.watchdog_ms == 2000);
	CHECK_EQ_INT(kl_sd_notify_send(&n, "READY=1\nSTATUS=started"), 0);
	char got[64] = "";
	ssize_t k = recv(rx, got, sizeof got - 1, 0);
	CHECK(k == 22 && !strcmp(got, "READY=1\nSTATUS=started"));
	kl_sd_notify_close(&n);
	CHECK(n.fd == -1);
	/* a watchdog for another process, or unreadable: none */
	kl_sd_notify_open(&n, path, "2000000", "43", 42);
	CHECK(n.fd >= 0 && n.watchdog_ms == 0);
	kl_sd_notify_close(&n);
	kl_sd_notify_open(&n, path, "2000000", "42", 42);
	CHECK(n.watchdog_ms == 2000);
	kl_sd_notify_close(&n);
	kl_sd_notify_open(&n, path, "2s", NULL, 42);
	CHECK(n.fd >= 0 && n.watchdog_ms == 0);
	kl_sd_notify_close(&n);
	close(rx);
	unlink(path);
	rmdir(dir);
}

/* NOTIFY_SOCKET in the abstract namespace: "@name" */
static void test_sd_notify_abstract(void)
{
	struct kl_sd_notify n;
	char got[64] = "";
	ssize_t k;
	int rx;
	char abs_name[64];
	snprintf(abs_name, sizeof abs_name, "@kl-test-notify-%ld", (long)getpid());
	rx = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un b = {.sun_family = AF_UNIX};
	size_t an = strlen(abs_name);
	memcpy(b.sun_path + 1, abs_name + 1, an - 1);
	CHECK(rx >= 0 &&
	      bind(rx, (struct sockaddr *)&b, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + an)) ==
		  0);
	kl_sd_notify_open(&n, abs_name, NULL, NULL, 42);
	CHECK(n.fd >= 0 && n.watchdog_ms == 0);
	CHECK_EQ_INT(kl_sd_notify_send(&n, "STOPPING=1"), 0);
	memset(got, 0, sizeof got);
	k = recv(rx, got, sizeof got - 1, 0);
	CHECK(k == 10 && !strcmp(got, "STOPPING=1"));
	kl_sd_notify_close(&n);
	close(rx);
}

int main(void)
{
	test_health();
	test_sd_notify();
	test_sd_notify_abstract();
	struct kl_metrics m;
	CHECK_EQ_INT(kl_metrics_init(&m), 0);
	struct kl_buf b;
	kl_buf_init(&b, 0);
	render(&m, &b);
	CHECK(line_of(b.data, "kinlake_records_read_total 0\n") != NULL);
	CHECK(line_of(b.data, "# TYPE kinlake_records_read_total counter\n") != NULL);
	CHECK(strstr(b.data, "shard") == NULL); /* local mode: no shard series */
	/* the budget's gauges, and the process's resident memory (Linux) */
	CHECK(line_of(b.data, "kinlake_buffer_bytes 0\n") != NULL);
	atomic_store(&m.buffer_bytes, 12345);
	atomic_store(&m.buffer_limit, 1u << 20);
	render(&m, &b);
	CHECK(line_of(b.data, "kinlake_buffer_bytes 12345\n") != NULL);
	CHECK(line_of(b.data, "kinlake_buffer_limit_bytes 1048576\n") != NULL);
	/* the CPUs and threads, only once the CLI set them */
	CHECK(strstr(b.data, "kinlake_cpus_available") == NULL && strstr(b.data, "kinlake_threads") == NULL);
	m.cpus = 3;
	m.threads = 2;
	render(&m, &b);
	CHECK(line_of(b.data, "kinlake_cpus_available 3\n") != NULL);
	CHECK(line_of(b.data, "# TYPE kinlake_threads gauge\n") != NULL);
	CHECK(line_of(b.data, "kinlake_threads 2\n") != NULL);
	CHECK(line_of(b.data, "# TYPE process_resident_memory_bytes gauge\n") != NULL);
	const char *rss = line_of(b.data, "process_resident_memory_bytes ");
	CHECK(rss && strtoll(rss + strlen("process_resident_memory_bytes "), NULL, 10) > 1 << 20);

	atomic_fetch_add(&m.records, 42);
	atomic_fetch_add(&m.rejected[KL_REJ_INVALID_JSON], 3);
	snprintf(m.stream, sizeof m.stream, "s\"1");
	struct kl_metrics_shard *a = kl_metrics_shard(&m, "shardId-0");
	struct kl_metrics_shard *c = kl_metrics_shard(&m, "we\\ird\nid");
	CHECK(a && c && a != c);
	CHECK(kl_metrics_shard(&m, "shardId-0") == a); /* one slot per shard */
	CHECK_EQ_INT(atomic_load(&a->millis_behind), -1);
	atomic_store(&a->millis_behind, 1500);
	atomic_fetch_add(&a->records, 7);
	atomic_fetch_add(&a->get_records, 3);
	atomic_fetch_add(&a->bytes, 2048);
	atomic_fetch_add(&m.kinesis_moved, 1048576);
	render(&m, &b);
	CHECK(line_of(b.data, "kinlake_kinesis_transferred_bytes_total 1048576\n") != NULL);
	CHECK(line_of(b.data, "kinlake_records_read_total 42\n") != NULL);
	CHECK(line_of(b.data, "kinlake_rejected_total{reason=\"invalid_json\"} 3\n") != NULL);
	CHECK(line_of(b.data, "kinlake_shard_millis_behind_latest{stream=\"s\\\"1\","
			      "shard=\"shardId-0\"} 1500\n") != NULL);
	CHECK(line_of(b.data, "kinlake_shard_millis_behind_latest{stream=\"s\\\"1\","
			      "shard=\"we\\\\ird\\nid\"} -1\n") != NULL);
	CHECK(line_of(b.data, "kinlake_shard_records_read_total{stream=\"s\\\"1\","
			      "shard=\"shardId-0\"} 7\n") != NULL);
	CHECK(line_of(b.data, "kinlake_shard_get_records_total{stream=\"s\\\"1\","
			      "shard=\"shardId-0\"} 3\n") != NULL);
	CHECK(line_of(b.data, "kinlake_shard_bytes_read_total{stream=\"s\\\"1\","
			      "shard=\"shardId-0\"} 2048\n") != NULL);
	CHECK(line_of(b.data, "kinlake_shard_bytes_read_total{stream=\"s\\\"1\","
			      "shard=\"we\\\\ird\\nid\"} 0\n") != NULL);
	CHECK(strstr(b.data, "watermark") == NULL); /* interval mode: no watermark series */

	/* window mode: open windows, late events, files per commit, watermark lag */
	m.window = 1;
	atomic_store(&m.open_windows, 5);
	atomic_fetch_add(&m.late, 9);
	atomic_fetch_add(&m.commits[0], 2); /* two commits of 1 file */
	atomic_fetch_add(&m.commits[3], 1); /* one of 6..10 */
	atomic_fetch_add(&m.commits[KL_METRICS_COMMIT_BUCKETS - 1], 1); /* one of > 500 */
	atomic_store(&m.files, 610);
	atomic_store(&a->watermark, (int64_t)time(NULL) - 3600);
	render(&m, &b);
	CHECK(line_of(b.data, "kinlake_open_windows 5\n") != NULL);
	CHECK(line_of(b.data, "kinlake_late_events_total 9\n") != NULL);
	CHECK(line_of(b.data, "# TYPE kinlake_commit_files histogram\n") != NULL);
	CHECK(line_of(b.data, "kinlake_commit_files_bucket{le=\"1\"} 2\n") != NULL);
	CHECK(line_of(b.data, "kinlake_commit_files_bucket{le=\"5\"} 2\n") != NULL);
	CHECK(line_of(b.data, "kinlake_commit_files_bucket{le=\"10\"} 3\n") != NULL);
	CHECK(line_of(b.data, "kinlake_commit_files_bucket{le=\"500\"} 3\n") != NULL);
	CHECK(line_of(b.data, "kinlake_commit_files_bucket{le=\"+Inf\"} 4\n") != NULL);
	CHECK(line_of(b.data, "kinlake_commit_files_sum 610\n") != NULL);
	CHECK(line_of(b.data, "kinlake_commit_files_count 4\n") != NULL);
	const char *lag = strstr(b.data, "kinlake_shard_watermark_lag_seconds{stream=\"s\\\"1\","
					 "shard=\"shardId-0\"} ");
	CHECK(lag != NULL);
	if (lag) {
		long v = atol(strchr(lag, '}') + 2);
		CHECK(v >= 3600 && v < 3700);
	}
	CHECK(line_of(b.data, "kinlake_shard_watermark_lag_seconds{stream=\"s\\\"1\","
			      "shard=\"we\\\\ird\\nid\"} -1\n") != NULL);
	m.window = 0;

	/* the slot table is bounded: the 1025th shard gets none */
	char id[32];
	for (int i = 0; i < KL_METRICS_MAX_SHARDS; i++) {
		snprintf(id, sizeof id, "x%d", i);
		struct kl_metrics_shard *s = kl_metrics_shard(&m, id);
		CHECK(i < KL_METRICS_MAX_SHARDS - 2 ? s != NULL : 1);
	}
	CHECK(kl_metrics_shard(&m, "one-too-many") == NULL);

	char path[200];
	kl_test_mkdtemp(path, sizeof path, "kl-metrics-");
	char file[256];
	snprintf(file, sizeof file, "%s/m.prom", path);
	struct kl_errbuf eb;
	kl_errbuf_clear(&eb);
	CHECK_EQ_INT(kl_metrics_write_file(&m, file, &eb), 0);
	size_t len;
	char *text = check_slurp(file, &len);
	CHECK(text && len > 100 && line_of(text, "kinlake_records_read_total 42\n"));
	free(text);
	char tmp[300];
	snprintf(tmp, sizeof tmp, "%s.tmp", file);
	CHECK(access(tmp, F_OK) != 0); /* renamed into place */
	snprintf(file, sizeof file, "%s/no/m.prom", path);
	CHECK(kl_metrics_write_file(&m, file, &eb) == KL_EIO);
	CHECK(strstr(eb.msg, "metrics file") != NULL);
	snprintf(file, sizeof file, "%s/m.prom", path);
	unlink(file);
	rmdir(path);
	kl_buf_cleanup(&b);
	kl_metrics_cleanup(&m);
	return check_report("test_metrics");
}
