/* metrics.c — see metrics.h. */
#include "metrics/metrics.h"
#include "core/clock.h"
#include "metrics/cwmetrics.h"
#include "metrics/sdnotify.h"
#include "metrics/serve.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define LOAD(x) atomic_load_explicit(&(x), memory_order_relaxed)

const unsigned kl_metrics_commit_le[KL_METRICS_COMMIT_BUCKETS - 1] = {1,  2,	 5,   10, 20,
								       50, 100, 200, 500};

int kl_metrics_init(struct kl_metrics *m)
{
	memset(m, 0, sizeof *m);
	m->shards = calloc(KL_METRICS_MAX_SHARDS, sizeof *m->shards);
	if (!m->shards)
		return KL_ENOMEM;
	atomic_store(&m->start_unix, (int64_t)time(NULL));
	m->start_mono_ns = kl_mono_ns();
	pthread_mutex_init(&m->shard_mu, NULL);
	return KL_OK;
}

void kl_metrics_cleanup(struct kl_metrics *m)
{
	if (!m->shards)
		return;
	free(m->shards);
	m->shards = NULL;
	pthread_mutex_destroy(&m->shard_mu);
}

struct kl_metrics_shard *kl_metrics_shard(struct kl_metrics *m, const char *id)
{
	struct kl_metrics_shard *s = NULL;
	pthread_mutex_lock(&m->shard_mu);
	size_t n = atomic_load_explicit(&m->nshards, memory_order_relaxed);
	for (size_t i = 0; i < n && !s; i++)
		if (!strcmp(m->shards[i].id, id))
			s = &m->shards[i];
	if (!s && n < KL_METRICS_MAX_SHARDS) {
		s = &m->shards[n];
		snprintf(s->id, sizeof s->id, "%s", id);
		atomic_store_explicit(&s->millis_behind, -1, memory_order_relaxed);
		/* release: a reader that sees the count sees the id */
		atomic_store_explicit(&m->nshards, n + 1, memory_order_release);
	}
	pthread_mutex_unlock(&m->shard_mu);
	return s;
}

/* A label value: backslash, double quote and newline escaped. */
static int put_label(struct kl_buf *b, const char *s)
{
	int rc = KL_OK;
	for (; *s && !rc; s++) {
		if (*s == '\\' || *s == '"')
			rc = kl_buf_putc(b, '\\') || kl_buf_putc(b, *s) ? KL_ENOMEM : KL_OK;
		else if (*s == '\n')
			rc = kl_buf_puts(b, "\\n");
		else
			rc = kl_buf_putc(b, *s);
	}
	return rc;
}

static int head(struct kl_buf *b, const char *name, const char *type, const char *help)
{
	return kl_buf_printf(b, "# HELP kinlake_%s %s\n# TYPE kinlake_%s %s\n", name, help, name,
			     type);
}

static int one(struct kl_buf *b, const char *name, const char *type, const char *help,
	       int64_t v)
{
	int rc = head(b, name, type, help);
	return rc ? rc : kl_buf_printf(b, "kinlake_%s %" PRId64 "\n", name, v);
}

/* Files per commit: a Prometheus histogram (cumulative buckets). */
static int commit_histogram(struct kl_buf *b, struct kl_metrics *m)
{
	const char *name = "commit_files";
	int rc = head(b, name, "histogram",
		      "Files per commit (one commit makes a flushed batch of files durable).");
	uint64_t cum = 0;
	for (size_t i = 0; i < KL_METRICS_COMMIT_BUCKETS && !rc; i++) {
		cum += LOAD(m->commits[i]);
		if (i + 1 < KL_METRICS_COMMIT_BUCKETS)
			rc = kl_buf_printf(b, "kinlake_%s_bucket{le=\"%u\"} %" PRIu64 "\n", name,
					   kl_metrics_commit_le[i], cum);
		else
			rc = kl_buf_printf(b, "kinlake_%s_bucket{le=\"+Inf\"} %" PRIu64 "\n", name,
					   cum);
	}
	rc = rc ? rc : kl_buf_printf(b, "kinlake_%s_sum %" PRIu64 "\n", name, LOAD(m->files));
	return rc ? rc : kl_buf_printf(b, "kinlake_%s_count %" PRIu64 "\n", name, cum);
}

/* What a per-shard series (shard_series) shows of each shard. */
enum shard_field {
	SF_BEHIND,	/* MillisBehindLatest */
	SF_RECORDS,	/* records read */
	SF_BYTES,	/* their data bytes */
	SF_GET_RECORDS, /* GetRecords answers */
	SF_LAG		/* now minus the watermark, -1 without one */
};

/* One series `name`, a sample per shard: the field `which` of each. */
static int shard_series(struct kl_buf *b, struct kl_metrics *m, size_t n, const char *name,
			const char *type, const char *help, enum shard_field which)
{
	int rc = head(b, name, type, help);
	for (size_t i = 0; i < n && !rc; i++) {
		struct kl_metrics_shard *s = &m->shards[i];
		rc = kl_buf_printf(b, "kinlake_%s{stream=\"", name);
		rc = rc ? rc : put_label(b, m->stream);
		rc = rc ? rc : kl_buf_puts(b, "\",shard=\"");
		rc = rc ? rc : put_label(b, s->id);
		int64_t v = -1, wm;
		switch (which) {
		case SF_BEHIND: v = LOAD(s->millis_behind); break;
		case SF_RECORDS: v = (int64_t)LOAD(s->records); break;
		case SF_BYTES: v = (int64_t)LOAD(s->bytes); break;
		case SF_GET_RECORDS: v = (int64_t)LOAD(s->get_records); break;
		case SF_LAG:
			wm = LOAD(s->watermark);
			v = wm > 0 ? (int64_t)time(NULL) - wm : -1;
			break;
		}
		rc = rc ? rc : kl_buf_printf(b, "\"} %" PRId64 "\n", v);
	}
	return rc;
}

/* This process's resident memory in bytes (Linux /proc), -1 elsewhere. */
static int64_t resident_bytes(void)
{
	int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	char t[128];
	ssize_t n = read(fd, t, sizeof t - 1);
	close(fd);
	if (n <= 0)
		return -1;
	t[n] = '\0';
	unsigned long long size, res;
	long page = sysconf(_SC_PAGESIZE);
	if (sscanf(t, "%llu %llu", &size, &res) != 2 || page <= 0)
		return -1;
	return (int64_t)(res * (unsigned long long)page);
}

int kl_metrics_render(struct kl_metrics *m, struct kl_buf *b)
{
	int rc = 0;
#define C(name, help, v) (rc = rc ? rc : one(b, name, "counter", help, (int64_t)(v)))
#define G(name, help, v) (rc = rc ? rc : one(b, name, "gauge", help, (int64_t)(v)))
	C("records_read_total", "Records read from the source (file lines or Kinesis records).",
	  LOAD(m->records));
	rc = rc ? rc
		: head(b, "rejected_total", "counter",
		       "Records turned into dead letters, by reason.");
	for (int i = 1; i < KL_REJ_COUNT && !rc; i++)
		rc = kl_buf_printf(b, "kinlake_rejected_total{reason=\"%s\"} %" PRIu64 "\n",
				   kl_reject_name(i), LOAD(m->rejected[i]));
	C("duplicates_total", "Events dropped as repeats of a recent event_uuid.",
	  LOAD(m->duplicates));
	C("replayed_total", "Records skipped because an earlier run already made them durable.",
	  LOAD(m->replayed));
	C("events_stored_total", "Events in durable data files.", LOAD(m->stored));
	C("events_rescued_total",
	  "Stored events with fields without a column (past --max-columns, or an empty name), "
	  "kept as JSON in _rescued_data.",
	  LOAD(m->rescued));
	C("dead_letters_stored_total", "Dead letters in durable files.", LOAD(m->dead));
	C("files_committed_total", "Files committed to the lake (data and dead letters).",
	  LOAD(m->files));
	C("bytes_read_total", "Bytes read from the source.", LOAD(m->bytes_in));
	C("bytes_written_total", "Bytes of committed files.", LOAD(m->bytes_out));
	C("retries_total",
	  "AWS requests (S3, Kinesis) sent again after a throttle, 5xx, reset or timeout.",
	  LOAD(m->retries));
	G("s3_requests_in_flight",
	  "S3 calls under way (their retries and backoff waits included); above 0 with none "
	  "answered for --stall-timeout is GET /health's stalled.",
	  LOAD(m->s3_inflight));
	C("s3_requests_total",
	  "S3 requests answered (a final status below 500: done, or refused for good such as "
	  "404 or 412); each costs a request charge.",
	  LOAD(m->s3_answered));
	C("s3_transferred_bytes_total",
	  "Body bytes S3 calls sent and received (a body sent again counts again), counted as "
	  "they move.",
	  LOAD(m->s3_moved));
	if (m->cloudwatch)
		C("cloudwatch_errors_total",
		  "CloudWatch PutMetricData calls that failed (after retries).",
		  LOAD(m->cloudwatch_errors));
	G("last_commit_timestamp_seconds", "Unix time of the last commit (0: none yet).",
	  LOAD(m->last_commit_unix));
	G("open_windows",
	  "Partition buffers holding records now (window mode: open partition-hours, "
	  "late and dead-letter buffers).",
	  LOAD(m->open_windows));
	G("flushes_pending",
	  "Flushed buffers handed to the writer and not yet committed; above 0 for longer than a "
	  "commit takes, with nothing committed, the writer is stuck (GET /health: stalled).",
	  LOAD(m->flushes_pending));
	C("late_events_total",
	  "Events read after their hour was closed (window mode), written to late files.",
	  LOAD(m->late));
	rc = rc ? rc : commit_histogram(b, m);
	G("buffer_bytes",
	  "Memory the --memory-limit budget counts now: partition buffers (compressed blocks and "
	  "raw tails) and files queued for the writer; one budget for the whole process.",
	  LOAD(m->buffer_bytes));
	G("buffer_limit_bytes",
	  "What those buffers may hold before the largest partitions are flushed early: "
	  "--memory-limit less the fixed costs (dedup window, reader window, encoders) and, in "
	  "stream mode, the sequence-number marks of records not yet durable.",
	  LOAD(m->buffer_limit));
	if (m->cpus)
		G("cpus_available",
		  "CPUs this process may use: its affinity mask, capped by a cgroup CPU quota (a "
		  "container's CPU limit); the default --threads for a file.",
		  m->cpus);
	if (m->threads)
		G("threads",
		  "The --threads in effect: threads that parse, seal and encode (per shard in stream "
		  "mode).",
		  m->threads);
	if (m->memory_limit)
		G("memory_limit_bytes",
		  "The --memory-limit in effect: as set, else 256 MiB, or 7/8 of the container's "
		  "memory limit (cgroup) less 64 MiB when that is less.",
		  m->memory_limit);
	int64_t rss = resident_bytes();
	if (rss >= 0 && !rc)
		rc = kl_buf_printf(b,
				   "# HELP process_resident_memory_bytes Resident memory size in "
				   "bytes.\n# TYPE process_resident_memory_bytes gauge\n"
				   "process_resident_memory_bytes %" PRId64 "\n",
				   rss);
	G("start_timestamp_seconds", "Unix time the run started.", LOAD(m->start_unix));
	size_t n = atomic_load_explicit(&m->nshards, memory_order_acquire);
	if (n || m->stream[0]) {
		G("shards_running", "Kinesis shards being read now.", LOAD(m->shards_running));
		C("kinesis_transferred_bytes_total",
		  "Body bytes the shards' GetShardIterator and GetRecords calls sent and "
		  "received, counted as they move.",
		  LOAD(m->kinesis_moved));
		rc = rc ? rc
			: shard_series(b, m, n, "shard_millis_behind_latest", "gauge",
				       "MillisBehindLatest of the shard's last GetRecords (-1: none yet).",
				       SF_BEHIND);
		rc = rc ? rc
			: shard_series(b, m, n, "shard_records_read_total", "counter",
				       "Records read from the shard (after KPL de-aggregation).",
				       SF_RECORDS);
		rc = rc ? rc
			: shard_series(b, m, n, "shard_bytes_read_total", "counter",
				       "Data bytes of the records read from the shard (after KPL "
				       "de-aggregation); a shard serves at most 2 MB/s.",
				       SF_BYTES);
		rc = rc ? rc
			: shard_series(b, m, n, "shard_get_records_total", "counter",
				       "GetRecords answers from the shard, empty ones included "
				       "(--idle-poll-interval paces those of a caught-up shard).",
				       SF_GET_RECORDS);
		if (m->window)
			rc = rc ? rc
				: shard_series(b, m, n, "shard_watermark_lag_seconds", "gauge",
					       "Now minus the shard's watermark (largest created_at "
					       "minus the allowed lateness; -1: none yet).",
					       SF_LAG);
	}
	if (m->worker[0]) {
		static const struct {
			const char *name, *type, *help;
		} ls[] = {
			{"leases_held", "gauge", "Shard leases this worker holds."},
			{"leases_taken_total", "counter", "Expired or released leases taken."},
			{"leases_stolen_total", "counter", "Leases taken from an overloaded worker."},
			{"leases_lost_total", "counter",
			 "Leases lost: taken by another worker, or not renewed in time."},
			{"lease_commits_refused_total", "counter",
			 "Commits of a shard whose lease was lost, refused by the fence (lease "
			 "check, DynamoDB condition, or S3 precondition)."},
		};
		uint64_t v[5] = {LOAD(m->leases_held), LOAD(m->leases_taken),
				 LOAD(m->leases_stolen), LOAD(m->leases_lost),
				 LOAD(m->lease_commits_refused)};
		for (size_t i = 0; i < 5 && !rc; i++) {
			rc = head(b, ls[i].name, ls[i].type, ls[i].help);
			rc = rc ? rc : kl_buf_printf(b, "kinlake_%s{worker=\"", ls[i].name);
			rc = rc ? rc : put_label(b, m->worker);
			rc = rc ? rc : kl_buf_printf(b, "\"} %" PRIu64 "\n", v[i]);
		}
	}
#undef C
#undef G
	return rc;
}

int kl_metrics_write_file(struct kl_metrics *m, const char *path, struct kl_errbuf *eb)
{
	struct kl_buf b;
	kl_buf_init(&b, 0);
	char tmp[4096];
	int rc = kl_metrics_render(m, &b);
	if (rc) {
		kl_buf_cleanup(&b);
		return kl_errbuf_set(eb, rc, "out of memory");
	}
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		kl_buf_cleanup(&b);
		return kl_errbuf_set(eb, KL_EIO, "metrics file %s: cannot create %s beside it: %s",
				     path, tmp, strerror(errno));
	}
	size_t off = 0;
	while (off < b.len) {
		ssize_t w = write(fd, b.data + off, b.len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	int ok = off == b.len;
	if (close(fd) || !ok || rename(tmp, path)) {
		int e = errno;
		unlink(tmp);
		kl_buf_cleanup(&b);
		return kl_errbuf_set(eb, KL_EIO, "metrics file %s: %s", path, strerror(e));
	}
	kl_buf_cleanup(&b);
	return KL_OK;
}

void kl_metrics_status(struct kl_metrics *m, FILE *f, const char *prefix)
{
	uint64_t rej = 0;
	for (int i = 1; i < KL_REJ_COUNT; i++)
		rej += LOAD(m->rejected[i]);
	double secs = (double)(kl_mono_ns() - m->start_mono_ns) / 1e9;
	uint64_t rec = LOAD(m->records);
	char behind[64] = "";
	size_t n = atomic_load_explicit(&m->nshards, memory_order_acquire);
	int64_t worst = -1;
	for (size_t i = 0; i < n; i++) {
		int64_t v = LOAD(m->shards[i].millis_behind);
		if (v > worst)
			worst = v;
	}
	if (n)
		snprintf(behind, sizeof behind, " shards=%u max_millis_behind=%" PRId64,
			 LOAD(m->shards_running), worst);
	fprintf(f,
		"%sread=%" PRIu64 " rejected=%" PRIu64 " duplicates=%" PRIu64 " stored=%" PRIu64
		" dead_letters=%" PRIu64 " files=%" PRIu64 " events/s=%.0f%s\n",
		prefix ? prefix : "", rec, rej, LOAD(m->duplicates), LOAD(m->stored),
		LOAD(m->dead), LOAD(m->files), secs > 0 ? (double)rec / secs : 0.0, behind);
	fflush(f);
}

/* What moves while a run works: records read (also those replayed or
 * dropped as duplicates), GetRecords answers (empty ones too: a caught-up
 * shard's idle polls) and the bytes they move, S3's answers and the bytes
 * S3 calls move, and files committed. */
static uint64_t progress_sum(struct kl_metrics *m)
{
	uint64_t p = LOAD(m->records) + LOAD(m->files) + LOAD(m->dead) + LOAD(m->s3_answered) +
		     LOAD(m->s3_moved) + LOAD(m->kinesis_moved);
	size_t n = atomic_load_explicit(&m->nshards, memory_order_acquire);
	for (size_t i = 0; i < n; i++)
		p += LOAD(m->shards[i].get_records) + LOAD(m->shards[i].records);
	return p;
}

int kl_metrics_health(struct kl_metrics *m, struct kl_metrics_health *h, int64_t now_ms,
		      struct kl_buf *out)
{
	uint64_t p = progress_sum(m);
	if (!h->progress_ms || p != h->progress) {
		h->progress = p;
		h->progress_ms = now_ms;
	}
	int64_t quiet_ms = now_ms - h->progress_ms;
	unsigned running = LOAD(m->shards_running);
	int64_t pending = LOAD(m->flushes_pending), s3 = LOAD(m->s3_inflight);
	int64_t last = LOAD(m->last_commit_unix), wall = (int64_t)time(NULL);
	const char *status = "ok";
	char reason[192] = "";
	if (kl_cancelled(h->stopping)) {
		status = "stopping";
		snprintf(reason, sizeof reason,
			 "SIGTERM/SIGINT: committing what is buffered, then exiting");
	} else if (h->stall_ms > 0 && (running > 0 || pending > 0 || s3 > 0) &&
		   quiet_ms >= h->stall_ms) {
		status = "stalled";
		char what[64]; /* the work under way */
		if (running > 0)
			snprintf(what, sizeof what, "%u shards running", running);
		else if (pending > 0)
			snprintf(what, sizeof what, "%" PRId64 " %s waiting to commit", pending,
				 pending == 1 ? "flush" : "flushes");
		else
			snprintf(what, sizeof what, "%" PRId64 " S3 %s under way", s3,
				 s3 == 1 ? "request" : "requests");
		snprintf(reason, sizeof reason,
			 "%s; nothing read, sent, answered or committed for %" PRId64
			 " s (--stall-timeout %" PRId64 " s)",
			 what, quiet_ms / 1000, h->stall_ms / 1000);
	}
	int rc = kl_buf_printf(out, "{\"status\":\"%s\"", status);
	if (!rc && reason[0])
		rc = kl_buf_printf(out, ",\"reason\":\"%s\"", reason);
	if (!rc)
		rc = kl_buf_printf(out,
				   ",\"uptime_seconds\":%" PRId64 ",\"shards_running\":%u"
				   ",\"seconds_since_progress\":%" PRId64
				   ",\"seconds_since_commit\":%" PRId64 "}\n",
				   (kl_mono_ns() - m->start_mono_ns) / 1000000000, running,
				   quiet_ms / 1000, last > 0 && wall >= last ? wall - last : (int64_t)-1);
	if (rc)
		return -1;
	return strcmp(status, "ok") ? 503 : 200;
}

int kl_metrics_addr_parse(const char *addr, char *host, size_t cap, const char **port, char *why,
			  size_t whycap)
{
	const char *h = addr, *colon;
	size_t hn;
	if (addr[0] == '[') { /* [IPV6]:PORT */
		const char *close = strchr(addr, ']');
		colon = close ? close + 1 : NULL;
		if (!close || *colon != ':') {
			snprintf(why, whycap, "use [IPV6]:PORT, e.g. [::1]:9108");
			return -1;
		}
		h = addr + 1;
		hn = (size_t)(close - h);
	} else {
		colon = strrchr(addr, ':');
		if (!colon || memchr(addr, ':', (size_t)(colon - addr))) {
			snprintf(why, whycap, "use HOST:PORT, [IPV6]:PORT or :PORT (every interface), "
				 "e.g. 127.0.0.1:9108");
			return -1;
		}
		hn = (size_t)(colon - addr);
	}
	const char *p = colon + 1;
	size_t d = strspn(p, "0123456789");
	if (d == 0 || d > 5 || p[d] || atol(p) > 65535) {
		snprintf(why, whycap, "the port must be a number from 0 to 65535 (0: any free port)");
		return -1;
	}
	if (hn >= cap) {
		snprintf(why, whycap, "the host name is too long");
		return -1;
	}
	memcpy(host, h, hn);
	host[hn] = '\0';
	*port = p;
	return 0;
}

int kl_metrics_addr_check(const char *addr, char *why, size_t cap)
{
	char host[256];
	const char *port;
	return kl_metrics_addr_parse(addr, host, sizeof host, &port, why, cap);
}

int kl_metrics_listen(const char *addr, int *fd, int *port, struct kl_errbuf *eb)
{
	char host[256], why[160];
	const char *serv;
	if (kl_metrics_addr_parse(addr, host, sizeof host, &serv, why, sizeof why))
		return kl_errbuf_set(eb, KL_EINVAL, "metrics address '%s': %s", addr, why);
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				 .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
	struct addrinfo *ai;
	int g = getaddrinfo(host[0] ? host : NULL, serv, &hints, &ai);
	if (g)
		return kl_errbuf_set(eb, KL_EINVAL, "metrics address '%s': %s", addr,
				     gai_strerror(g));
	int s = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int one_ = 1;
	if (s >= 0)
		setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one_, sizeof one_);
	if (s < 0 || bind(s, ai->ai_addr, ai->ai_addrlen) || listen(s, KL_METRICS_BACKLOG)) {
		int e = errno;
		if (s >= 0)
			close(s);
		freeaddrinfo(ai);
		return kl_errbuf_set(eb, KL_EIO, "metrics address '%s': %s", addr, strerror(e));
	}
	freeaddrinfo(ai);
	struct sockaddr_storage ss;
	socklen_t sl = sizeof ss;
	*port = 0;
	if (!getsockname(s, (struct sockaddr *)&ss, &sl))
		*port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
							: ((struct sockaddr_in *)&ss)->sin_port);
	*fd = s;
	return KL_OK;
}

/* The server's callbacks (metrics/serve.h); ctx is the reporter, whose
 * thread alone calls them. */
static int render_cb(void *ctx, struct kl_buf *out)
{
	struct kl_metrics_reporter *r = ctx;
	return kl_metrics_render(r->m, out);
}

static int health_cb(void *ctx, struct kl_buf *out)
{
	struct kl_metrics_reporter *r = ctx;
	return kl_metrics_health(r->m, &r->health, kl_mono_ms(), out);
}

/* One systemd notification for the watchdog's tick at t: WATCHDOG=1 with a
 * STATUS= line, or only the STATUS= line when the run is stalled (no ping:
 * systemd restarts it once WatchdogSec passes without one). */
static void watchdog_tick(struct kl_metrics_reporter *r, struct kl_sd_notify *sd, int64_t t,
			  struct kl_buf *scratch)
{
	kl_buf_reset(scratch);
	int code = kl_metrics_health(r->m, &r->health, t, scratch);
	int stalled = code == 503 && !kl_cancelled(r->health.stopping);
	char msg[320];
	snprintf(msg, sizeof msg,
		 "%sSTATUS=%s: read=%" PRIu64 " stored=%" PRIu64 " files=%" PRIu64 " shards=%u",
		 stalled ? "" : "WATCHDOG=1\n",
		 stalled ? "stalled (no watchdog ping)" : code == 503 ? "stopping" : "running",
		 LOAD(r->m->records), LOAD(r->m->stored), LOAD(r->m->files),
		 LOAD(r->m->shards_running));
	kl_sd_notify_send(sd, msg);
}

static void *reporter_main(void *arg)
{
	struct kl_metrics_reporter *r = arg;
	struct kl_metrics_server *srv = NULL;
	struct kl_sd_notify sd;
	kl_sd_notify_open(&sd, r->notify_socket, r->watchdog_usec, r->watchdog_pid,
			  (long)getpid());
	kl_sd_notify_send(&sd, "READY=1\nSTATUS=started");
	struct kl_buf scratch; /* the watchdog's /health bodies */
	kl_buf_init(&scratch, 1 << 16);
	/* STOPPING=1 at the signal: its token's fd is watched until then */
	int stop_fd = sd.fd >= 0 && r->health.stopping ? r->health.stopping->fd : -1;
	/* a stall is counted from the start at the earliest */
	r->health.progress = progress_sum(r->m);
	r->health.progress_ms = kl_mono_ms();
	if (r->listen_fd >= 0 && (srv = malloc(sizeof *srv)))
		kl_metrics_server_init(srv, r->listen_fd, render_cb, health_cb, r);
	struct pollfd p[3 + KL_METRICS_MAX_CONNS]; /* wake, the server's, the stop */
	int64_t t = kl_mono_ms(), never = INT64_MAX;
	int64_t next_file = r->file && r->interval_ms > 0 ? t + r->interval_ms : never;
	int64_t next_status = r->status && r->status_interval_ms > 0 ? t + r->status_interval_ms
								  : never;
	/* pings at half the watchdog's period (at least 1 ms apart: never a spin) */
	int64_t dog_every = sd.watchdog_ms / 2 > 0 ? sd.watchdog_ms / 2 : 1;
	int64_t next_dog = sd.watchdog_ms ? t + dog_every : never;
	for (;;) {
		t = kl_mono_ms();
		if (stop_fd >= 0 && kl_cancelled(r->health.stopping)) {
			kl_sd_notify_send(&sd, "STOPPING=1\nSTATUS=stopping: committing what is "
					       "buffered");
			stop_fd = -1;
		}
		if (t >= next_dog) {
			watchdog_tick(r, &sd, t, &scratch);
			next_dog = t + dog_every;
		}
		if (t >= next_file) {
			struct kl_errbuf eb;
			kl_errbuf_clear(&eb);
			if (kl_metrics_write_file(r->m, r->file, &eb) && !r->err.code)
				r->err = eb; /* told once, at stop */
			next_file = t + r->interval_ms;
		}
		if (t >= next_status) {
			kl_metrics_status(r->m, r->status, r->status_prefix);
			next_status = t + r->status_interval_ms;
		}
		int64_t next = next_file < next_status ? next_file : next_status;
		if (next_dog < next)
			next = next_dog;
		int wait = next == never ? -1 : (int)(next - t);
		int conn_wait = srv ? kl_metrics_server_wait_ms(srv, t) : -1;
		if (conn_wait >= 0 && (wait < 0 || conn_wait < wait))
			wait = conn_wait;
		p[0] = (struct pollfd){.fd = r->wake[0], .events = POLLIN};
		size_t np = srv ? kl_metrics_server_pollfds(srv, p + 1) : 0;
		/* the stop's fd last, after the server's (their indices are its) */
		p[1 + np] = (struct pollfd){.fd = stop_fd, .events = POLLIN};
		int n = poll(p, 1 + np + (stop_fd >= 0), wait);
		if (n < 0 && errno != EINTR)
			break;
		if (n > 0 && (p[0].revents & (POLLIN | POLLHUP)))
			break;
		if (srv)
			kl_metrics_server_step(srv, p + 1, n > 0 ? np : 0, kl_mono_ms());
	}
	if (srv)
		kl_metrics_server_cleanup(srv);
	free(srv);
	kl_buf_cleanup(&scratch);
	kl_sd_notify_close(&sd);
	return NULL;
}

int kl_metrics_reporter_start(struct kl_metrics_reporter *r, struct kl_errbuf *eb)
{
	kl_errbuf_clear(&r->err);
	r->started = 0;
	if (pipe2(r->wake, O_CLOEXEC))
		return kl_errbuf_set(eb, KL_EIO, "metrics: pipe: %s", strerror(errno));
	if (r->file) { /* fail early on a path that cannot be written */
		int rc = kl_metrics_write_file(r->m, r->file, eb);
		if (rc) {
			close(r->wake[0]);
			close(r->wake[1]);
			return rc;
		}
	}
	r->cw = NULL;
	if (r->cloudwatch_ns) {
		struct kl_cw_publisher *p = calloc(1, sizeof *p);
		int rc = p ? KL_OK : kl_errbuf_set(eb, KL_ENOMEM, "out of memory");
		if (p) {
			p->m = r->m;
			p->ns = r->cloudwatch_ns;
			p->region = r->cloudwatch_region;
			p->interval_ms = r->interval_ms > 0 ? r->interval_ms : 10000;
			p->log = r->log;
			p->log_prefix = r->log_prefix;
			rc = kl_cw_publisher_start(p, eb);
		}
		if (rc) {
			free(p);
			close(r->wake[0]);
			close(r->wake[1]);
			return rc;
		}
		r->cw = p;
	}
	if (pthread_create(&r->thread, NULL, reporter_main, r)) {
		if (r->cw)
			kl_cw_publisher_stop(r->cw);
		free(r->cw);
		r->cw = NULL;
		close(r->wake[0]);
		close(r->wake[1]);
		return kl_errbuf_set(eb, KL_ENOMEM, "metrics: cannot start the reporter thread");
	}
	r->started = 1;
	return KL_OK;
}

int kl_metrics_reporter_stop(struct kl_metrics_reporter *r, struct kl_errbuf *eb)
{
	if (!r->started)
		return KL_OK;
	(void)!write(r->wake[1], "x", 1);
	pthread_join(r->thread, NULL);
	close(r->wake[0]);
	close(r->wake[1]);
	if (r->listen_fd >= 0)
		close(r->listen_fd);
	r->listen_fd = -1;
	r->started = 0;
	if (r->cw) { /* before the file: it shows the final cloudwatch_errors_total */
		kl_cw_publisher_stop(r->cw);
		free(r->cw);
		r->cw = NULL;
	}
	int rc = r->file ? kl_metrics_write_file(r->m, r->file, eb) : KL_OK;
	if (!rc && r->err.code)
		rc = kl_errbuf_set(eb, r->err.code, "%s", r->err.msg);
	return rc;
}
