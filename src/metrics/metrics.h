/*
 * metrics.h — live counters of one ingest run, in the Prometheus text format.
 *
 * The CLI owns one struct kl_metrics per run and lends it to the pipeline
 * (kl_ingest_opts.metrics, kl_stream_opts): the reader thread publishes what
 * it read in batches (every few thousand records, not per event), the writer
 * thread what became durable, and each Kinesis shard its MillisBehindLatest
 * through a slot from kl_metrics_shard(). Every field is atomic, so any
 * thread may read while others write; nothing here allocates after init.
 *
 * A reporter thread (kl_metrics_reporter_start) exports the counters while
 * the run goes on, in any combination of:
 *   - a file rewritten atomically every interval (node_exporter's textfile
 *     collector reads it), and once more at the end;
 *   - an HTTP endpoint, GET /metrics on a loopback or any address:port,
 *     and GET /health there (kl_metrics_health, below);
 *   - a one-line status on stderr every status interval (logs of long runs);
 *   - systemd's notifications (READY, WATCHDOG, STATUS, STOPPING) when it
 *     runs the process as a Type=notify unit (metrics/sdnotify.h);
 *   - CloudWatch PutMetricData every interval when cloudwatch_ns is set
 *     (metrics/cwmetrics.h; on its own thread, so a slow endpoint never
 *     delays the other outputs).
 *
 * Metric names (all prefixed kinlake_): records_read_total,
 * rejected_total{reason}, duplicates_total, replayed_total,
 * events_stored_total, events_rescued_total, dead_letters_stored_total,
 * files_committed_total,
 * bytes_read_total, bytes_written_total, retries_total (S3 and Kinesis
 * requests sent again after a throttle, 5xx, reset or timeout),
 * s3_requests_total (S3 requests answered), s3_requests_in_flight,
 * s3_transferred_bytes_total,
 * last_commit_timestamp_seconds,
 * start_timestamp_seconds, shards_running, kinesis_transferred_bytes_total,
 * shard_millis_behind_latest{shard}, shard_records_read_total{shard},
 * shard_bytes_read_total{shard}, shard_get_records_total{shard},
 * open_windows, late_events_total,
 * commit_files (histogram), flushes_pending, buffer_bytes, buffer_limit_bytes,
 * cpus_available, threads and memory_limit_bytes (when the CLI set
 * them), and
 * process_resident_memory_bytes (Linux; the client libraries' standard
 * name, unprefixed); in window mode (--window hour)
 * shard_watermark_lag_seconds{shard}; with CloudWatch publishing on,
 * cloudwatch_errors_total; with shard leases (--lease-table),
 * leases_held, leases_taken_total, leases_stolen_total, leases_lost_total,
 * lease_commits_refused_total, each labelled with the worker id.
 */
#ifndef KL_METRICS_METRICS_H
#define KL_METRICS_METRICS_H

#include "core/buf.h"
#include "core/cancel.h"
#include "core/err.h"
#include "event/event.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>

#define KL_METRICS_MAX_SHARDS 1024

struct kl_cw_publisher;

struct kl_metrics_shard {
	char id[128];                  /* written once, before the slot is published */
	_Atomic int64_t millis_behind; /* -1 until the first GetRecords answer */
	_Atomic uint64_t records;
	/* the records' data bytes (after KPL de-aggregation), the shard's
	 * part of bytes_in, added with it by the shard's pipeline: against
	 * the shard's read limit of 2 MB/s, a hot shard shows here */
	_Atomic uint64_t bytes;
	_Atomic uint64_t get_records; /* GetRecords answers (empty ones too) */
	/* window mode: the shard's watermark (largest created_at minus the
	 * allowed lateness), unix seconds; 0 until its first event */
	_Atomic int64_t watermark;
};

/* Files per commit, a histogram: upper bounds of its buckets (+Inf last). */
#define KL_METRICS_COMMIT_BUCKETS 10
extern const unsigned kl_metrics_commit_le[KL_METRICS_COMMIT_BUCKETS - 1];

struct kl_metrics {
	_Atomic uint64_t records, duplicates, replayed, bytes_in;
	_Atomic uint64_t rejected[KL_REJ_COUNT];
	_Atomic uint64_t stored, dead, files, bytes_out;
	_Atomic uint64_t rescued; /* stored events with fields in _rescued_data */
	_Atomic int64_t last_commit_unix, start_unix;
	int64_t start_mono_ns; /* set by init, read-only after */
	_Atomic unsigned shards_running;
	/* buffers and commits (pipeline.c, writer.c): non-empty partition
	 * buffers of every run, events buffered for a closed hour (window
	 * mode), and files per commit (commits[i]: commits with at most
	 * kl_metrics_commit_le[i] files, not cumulative; the last: more) */
	_Atomic int64_t open_windows;
	_Atomic uint64_t late;
	/* flushed buffers handed to a writer and not yet ended (committed,
	 * or dropped after a failure): kl_writer_queue adds, its end takes
	 * away. Above 0 the run has work it is waiting on (health, below) */
	_Atomic int64_t flushes_pending;
	/* the memory budget (buffer/budget.h), stored by every run that
	 * charges it (a stream's shards share one): bytes charged now, and
	 * the limit it binds at (--memory-limit less the fixed costs) */
	_Atomic uint64_t buffer_bytes, buffer_limit;
	_Atomic uint64_t commits[KL_METRICS_COMMIT_BUCKETS];
	int window; /* window mode: render the shards' watermark lag */
	/* written once before the run (cli/main.c), 0: not rendered: the CPUs
	 * the process may use (core/cgroup.h: its affinity mask capped by a
	 * cgroup CPU quota), the --threads in effect (per shard in stream
	 * mode) and the --memory-limit in effect (set, or the default, lowered
	 * to fit a container's memory limit) */
	unsigned cpus, threads;
	uint64_t memory_limit;
	_Atomic uint64_t cloudwatch_errors; /* failed PutMetricData calls */
	/* AWS requests sent again after a retryable failure (S3, Kinesis):
	 * lent to the stores and the Kinesis clients (store_url.h) */
	_Atomic uint64_t retries;
	/* requests S3 answered (a final status below 500), lent to the
	 * stores as retries is: progress for GET /health, so a long upload's
	 * parts keep a run from reading as stalled */
	_Atomic uint64_t s3_answered;
	/* S3 calls under way (retries and their waits included): work for
	 * GET /health, as flushes_pending is */
	_Atomic int64_t s3_inflight;
	/* bytes S3 calls sent and received, added as they move (aws/http.h):
	 * progress for GET /health, so one long request that moves (a part
	 * on a slow link) does not read as stalled */
	_Atomic uint64_t s3_moved;
	/* the same for the shards' GetShardIterator and GetRecords calls
	 * (source/source_kinesis.h), so one large answer on a slow link does
	 * not read as stalled before it ends */
	_Atomic uint64_t kinesis_moved;
	int cloudwatch; /* publishing to CloudWatch: render cloudwatch_errors */
	char stream[256]; /* stream mode: the stream's name, a label */
	/* lease mode (lease/keeper.h): this worker's leases, copied from the
	 * keeper by the stream's coordinator; rendered when worker[0] is set */
	char worker[160]; /* the worker id, a label; written before the run */
	_Atomic uint64_t leases_held, leases_taken, leases_stolen, leases_lost;
	/* commits of a shard refused by its fence (lease/fence.h): the lease
	 * check, the DynamoDB condition or an S3 precondition; counted by the
	 * fences themselves */
	_Atomic uint64_t lease_commits_refused;
	struct kl_metrics_shard *shards; /* KL_METRICS_MAX_SHARDS slots */
	_Atomic size_t nshards;
	pthread_mutex_t shard_mu; /* serialises kl_metrics_shard() */
};

int kl_metrics_init(struct kl_metrics *m);
void kl_metrics_cleanup(struct kl_metrics *m);

/* The slot of a shard, created on first use; NULL when all are taken. */
struct kl_metrics_shard *kl_metrics_shard(struct kl_metrics *m, const char *id);

/* Append the text exposition format (version 0.0.4) of m to out. */
int kl_metrics_render(struct kl_metrics *m, struct kl_buf *out);

/* Write the exposition to path atomically (temporary file, then rename). */
int kl_metrics_write_file(struct kl_metrics *m, const char *path, struct kl_errbuf *eb);

/* One status line: "read=N stored=N dead_letters=N duplicates=N ... ". */
void kl_metrics_status(struct kl_metrics *m, FILE *f, const char *prefix);

/* GET /health (--metrics-listen), what a container platform's probe or a
 * load balancer asks: is this process doing its job?
 *   200 {"status":"ok",...}        the run is working (or has nothing to do)
 *   503 {"status":"stopping",...}  SIGTERM/SIGINT came: the run is committing
 *                                  what it has and will exit (the platform
 *                                  should wait for it, not count on it)
 *   503 {"status":"stalled",...}   (stall_ms > 0) the run has work under
 *                                  way — shards running (stream mode),
 *                                  flushes waiting for a writer, or S3
 *                                  calls unanswered — yet for stall_ms
 *                                  nothing has had a GetRecords answer,
 *                                  moved a byte of a Kinesis or S3
 *                                  call, read a record, had an S3
 *                                  request answered
 *                                  or committed a file. A
 *                                  caught-up shard still asks
 *                                  every idle poll, and a healthy writer
 *                                  commits a flush in seconds, so only a
 *                                  blocked run is silent this long: the
 *                                  writer stuck (S3 failing with the
 *                                  buffers full), a shard wedged. A
 *                                  liveness probe may restart it; exactly
 *                                  once makes that safe.
 * A worker of a lease table holding no shard (more workers than shards)
 * runs none and is "ok"; so is local mode with nothing to commit, however
 * long its input is quiet (a pipe may rightly be quiet for hours).
 * Progress is seen by comparing a sum of
 * those counters at each call with the last call's (so the age reported is
 * at most the true one), which keeps this free of timers: the reporter
 * thread calls it per request. The body also carries uptime_seconds,
 * shards_running, seconds_since_progress and seconds_since_commit (-1:
 * nothing committed yet). */
struct kl_metrics_health {
	const struct kl_cancel *stopping; /* borrowed (core/stop.h); NULL: never */
	int64_t stall_ms;		  /* 0: never stalled */
	uint64_t progress;		  /* the progress sum at the last call */
	int64_t progress_ms;		  /* kl_mono_ms() it was first seen (0: not yet) */
};

/* The answer to GET /health at now_ms (kl_mono_ms) into out: returns the
 * HTTP status (200 or 503), or -1 when out ran out of room. */
int kl_metrics_health(struct kl_metrics *m, struct kl_metrics_health *h, int64_t now_ms,
		      struct kl_buf *out);

struct kl_metrics_reporter {
	struct kl_metrics *m; /* borrowed */
	/* GET /health's settings (stopping, stall_ms), set with the rest
	 * before start; its progress fields are the reporter thread's */
	struct kl_metrics_health health;
	/* systemd's NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID as the
	 * caller read them from the environment (NULL: unset): with a socket
	 * the thread sends READY=1, then WATCHDOG=1 every half watchdog
	 * period unless the run is stalled (the health above), and
	 * STOPPING=1 at the signal (metrics/sdnotify.h) */
	const char *notify_socket, *watchdog_usec, *watchdog_pid;
	const char *file;     /* NULL: no file */
	int listen_fd;        /* -1: no HTTP endpoint */
	int64_t interval_ms;  /* file rewrite period (0: only at start and stop) */
	FILE *status;         /* NULL: no status lines */
	int64_t status_interval_ms;
	const char *status_prefix;
	const char *cloudwatch_ns;     /* NULL: no CloudWatch publishing */
	const char *cloudwatch_region; /* NULL: the environment's */
	FILE *log;            /* CloudWatch failures, one line each; NULL: silent */
	const char *log_prefix;
	struct kl_cw_publisher *cw; /* internal */
	int wake[2];          /* pipe: a byte stops the thread */
	pthread_t thread;
	int started;
	struct kl_errbuf err; /* the last file write error, reported once */
};

/* A --metrics-listen address: "HOST:PORT", "[IPV6]:PORT" or ":PORT" (every
 * interface), PORT 0-65535 (0: any free one). The host without brackets
 * ("" for every interface) into host[cap], the port's text into *port.
 * 0, or -1 with the reason in why[whycap]. */
int kl_metrics_addr_parse(const char *addr, char *host, size_t cap, const char **port, char *why,
			  size_t whycap);
/* kl_metrics_addr_parse as an option check (config/opts.h kl_opt_check_fn) */
int kl_metrics_addr_check(const char *addr, char *why, size_t cap);

/* Bind a kl_metrics_addr_parse address (the bound port is in *port). */
int kl_metrics_listen(const char *addr, int *fd, int *port, struct kl_errbuf *eb);

/* Start the reporter; r's file/listen_fd/interval/status are set by the
 * caller first. Takes ownership of listen_fd. */
int kl_metrics_reporter_start(struct kl_metrics_reporter *r, struct kl_errbuf *eb);

/* Stop the thread, then write the file one last time (final counters) and
 * publish the last CloudWatch deltas. */
int kl_metrics_reporter_stop(struct kl_metrics_reporter *r, struct kl_errbuf *eb);

#endif
