/*
 * main.c — the kinlake command line: verb dispatch, signals, summaries.
 * Each verb has an option table (config/opts.h; ingest's is config/ingest_cfg.h) and a run function here; the
 * work itself lives in the pipeline modules.
 */
#include "cli/cmd_catalog.h"
#include "cli/cmd_plan.h"
#include "config/ingest_cfg.h"
#include "config/opts.h"
#include "cli/progress.h"
#include "core/clock.h"
#include "core/cgroup.h"
#include "core/err.h"
#include "core/stop.h"
#include "deadletter/deadletter.h"
#include "event/event.h"
#include "gen/gen.h"
#include "lambda/handler.h"
#include "lambda/runtime.h"
#include "lease/keeper.h"
#include "metrics/metrics.h"
#include "pipeline/ingest.h"
#include "pipeline/stream.h"
#include "store/store.h"
#include "store/store_url.h"
#include "aws/credentials.h"
#include "aws/http.h"
#include "aws/kinesis.h"

#include <pthread.h>
#include "source/source.h"

#include <errno.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define NOPTS(t) (sizeof(t) / sizeof((t)[0]))

/* Stream mode: one store per shard, opened from the lake URL as every entry
 * point opens it (store/store_url.h), all on one credential chain (shared
 * with the Kinesis clients too), so a role is assumed once per process. */
struct store_factory {
	const char *lake;
	struct kl_store_url_opts so;
};

static int make_store(void *ctx, struct kl_store **out, struct kl_errbuf *eb)
{
	struct store_factory *f = ctx;
	return kl_store_open_url(f->lake, &f->so, out, eb);
}

/* `kinlake ingest` after SIGTERM/SIGINT when --shutdown-timeout ran out
 * before everything buffered was committed (sysexits' EX_TEMPFAIL: run
 * again). docs/shutdown.md. */
#define EXIT_SHUTDOWN_TIMEOUT 75

/* SIGINT/SIGTERM become a readable fd that the pipeline polls: no handler,
 * no global flag; the pipeline flushes, commits and exits 0. */
static int stop_fd_open(void)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	if (sigprocmask(SIG_BLOCK, &set, NULL))
		return -1;
	return signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
}

static int bad_usage(const char *verb, const char *msg)
{
	fprintf(stderr, "kinlake %s: %s\n", verb, msg);
	return 2;
}

/* Defaults, then the flags. KL_OK, KL_OPTS_HELP, or KL_EINVAL with the
 * message in eb. */
static int parse_flags(struct kl_opts *p, const struct kl_opt *t, size_t n, void *cfg, int argc,
		       char **argv, struct kl_errbuf *eb)
{
	kl_errbuf_clear(eb);
	int rc = kl_opts_init(p, t, n, cfg, eb);
	return rc ? rc : kl_opts_argv(p, argc, argv, eb);
}

/* --- ingest -------------------------------------------------------------- */

/* What a re-run of the same command does with the input. A regular file
 * (also stdin redirected from one) is named by its content, so running the
 * command again resumes it; a pipe, a FIFO or <(...) has no identity but
 * its --input-id, and without one each run is a new input. */
enum input_kind {
	INPUT_STREAM,	/* --stream: the shards' checkpoints */
	INPUT_FILE,	/* a regular file: run the same command again */
	INPUT_PIPE_ID,	/* a pipe with --input-id: pipe it again with the same id */
	INPUT_PIPE,	/* a pipe without --input-id: cannot be resumed */
	INPUT_UNUSABLE, /* missing, unreadable or a directory: the error says so */
};

static enum input_kind input_kind(const struct kl_ingest_cfg *c)
{
	if (c->stream)
		return INPUT_STREAM;
	struct stat sb;
	int std = !strcmp(c->input, "-");
	if (std ? fstat(0, &sb) == 0 : !access(c->input, R_OK) && !stat(c->input, &sb)) {
		if (S_ISREG(sb.st_mode))
			return INPUT_FILE;
		if (S_ISDIR(sb.st_mode))
			return INPUT_UNUSABLE;
	} else if (!std) {
		return INPUT_UNUSABLE;
	}
	return c->input_id ? INPUT_PIPE_ID : INPUT_PIPE;
}

/* After a failed run: say what was kept and whether running again resumes,
 * only where that is true. */
static void ingest_advice(const struct kl_ingest_cfg *c)
{
	switch (input_kind(c)) {
	case INPUT_STREAM:
		fprintf(stderr, "kinlake ingest: nothing was lost: data not yet committed stays in "
				"the stream; run the same command again to resume\n");
		break;
	case INPUT_FILE:
		fprintf(stderr, "kinlake ingest: nothing was lost: data not yet committed stays in "
				"the input; run the same command again to resume\n");
		break;
	case INPUT_PIPE_ID:
		fprintf(stderr, "kinlake ingest: the lake holds what was committed; pipe the "
				"same input again with the same --input-id to resume\n");
		break;
	case INPUT_PIPE:
		fprintf(stderr, "kinlake ingest: the lake holds what was committed; a pipe "
				"without --input-id cannot be resumed\n");
		break;
	case INPUT_UNUSABLE: /* the input itself is the problem: the message says so */
		break;
	}
}

/* The one message of a shutdown that ran out of time. */
static void shutdown_timeout_message(const struct kl_ingest_cfg *c, const struct kl_ingest_stats *st,
				     const char *detail)
{
	enum input_kind k = input_kind(c);
	const char *again = k == INPUT_STREAM ? "the next run reads them again from the stream"
			    : k == INPUT_PIPE_ID ? "piping the same input again with the same "
						   "--input-id completes the lake exactly once"
			    : k == INPUT_PIPE ? "a pipe without --input-id cannot be resumed"
					      : "the next run of the same command reads them "
						"again and completes the lake exactly once";
	fprintf(stderr,
		"kinlake ingest: shutdown timeout: %.1f s after the signal, records not yet "
		"committed were abandoned (uploads in flight aborted; of read=%" PRIu64
		" records, %" PRIu64 " events and %" PRIu64 " dead letters in %" PRIu64
		" files were committed); %s (first abandoned: %s)\n",
		(double)c->shutdown_timeout_ms / 1000.0, st->records, st->stored, st->dead, st->files,
		again, detail);
}

#if defined(__GLIBC__) && !defined(__SANITIZE_ADDRESS__)
/* Huge pages for the heap of an ingest, on request only (KINLAKE_THP=1).
 * glibc backs its heap with transparent huge pages only when the tunable
 * glibc.malloc.hugetlb=1 is set, and tunables are read once, at start-up,
 * from the environment: so an ingest asked for them, whose kernel offers THP
 * on request ("[madvise]"), runs itself again with the tunable added, before
 * it has started anything.
 * Off by default since session 17: on this project's 2-CPU VMs clearing each
 * huge page on first touch costs more than the page faults it saves. 1M
 * events of the production shape, local mode, defaults, lake on disk, three
 * alternated runs each (user / sys CPU s): with 4.80-4.92 / 1.78-2.12,
 * without 4.79-4.92 / 0.41-0.45, wall 4.0-4.4 s against 2.8 s, peak RSS
 * within 4 %; one hour (ev1h) sys 2.77-3.65 against 0.75. Stream mode showed
 * the same in session 16 (8.6-9.3 s of CPU with them, 6.5-6.7 s without).
 * They were measured to pay in session 9 (/dev/shm: 94k -> 11k faults, wall
 * 3.19-3.43 -> 2.86-3.28 s); why a huge page's first touch costs this much
 * more now was not found (bench/README.md, session 17).
 * Never below the default --memory-limit (a huge page is resident as a whole
 * once touched: 13-29 MB more peak RSS at 16-64 MiB limits), never for a
 * stream; if the exec fails the run goes on with normal pages. */
#define KL_THP_MIN_LIMIT ((size_t)256 << 20)
static void reexec_with_thp(char **argv)
{
	const char *on = getenv("KINLAKE_THP");
	const char *tun = getenv("GLIBC_TUNABLES");
	const char *pre = getenv("LD_PRELOAD");
	/* under valgrind /proc/self/exe is the tool, which refuses to run */
	if (!on || strcmp(on, "1") || getenv("KINLAKE_THP_EXEC") ||
	    (tun && strstr(tun, "glibc.malloc.hugetlb")) || (pre && strstr(pre, "vgpreload")))
		return;
	char mode[128] = "";
	FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
	if (!f)
		return;
	size_t n = fread(mode, 1, sizeof mode - 1, f);
	fclose(f);
	mode[n] = '\0';
	if (!strstr(mode, "[madvise]"))
		return;
	char val[1024];
	int k = snprintf(val, sizeof val, "%s%sglibc.malloc.hugetlb=1", tun ? tun : "",
			 tun && *tun ? ":" : "");
	if (k < 0 || (size_t)k >= sizeof val)
		return;
	/* the marker ends a loop where the loader drops the tunable (setuid) */
	if (setenv("GLIBC_TUNABLES", val, 1) || setenv("KINLAKE_THP_EXEC", "1", 1))
		return;
	/* by its path, so that the process keeps its name (ps, top; a
	 * deleted or replaced binary is still /proc/self/exe) */
	char self[4096];
	ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
	if (len > 0) {
		self[len] = '\0';
		if (access(self, X_OK) == 0)
			execv(self, argv);
	}
	execv("/proc/self/exe", argv);
	/* still here: go on as we are, without the marker's promise */
	if (tun)
		setenv("GLIBC_TUNABLES", tun, 1);
	else
		unsetenv("GLIBC_TUNABLES");
}
#endif

static int cmd_ingest(int argc, char **argv, char **argv0)
{
	struct kl_ingest_cfg c;
	memset(&c, 0, sizeof c);
	struct kl_opts p;
	struct kl_errbuf eb;
	int r = parse_flags(&p, kl_ingest_cfg_table, kl_ingest_cfg_count, &c, argc, argv, &eb);
	if (r == KL_OPTS_HELP) {
		printf("Usage: kinlake ingest --input PATH|- --lake DIR|s3://BUCKET/PREFIX [options]\n"
		       "       kinlake ingest --stream NAME|ARN --lake DIR|s3://BUCKET/PREFIX [options]\n\n"
		       "Validate, enrich and partition JSON events into a lake:\n"
		       "  LAKE/events/event_type=T/event_subtype=S/dt=YYYY-MM-DD/hr=HH/<file>\n"
		       "  LAKE/errors/<reason>/dt=YYYY-MM-DD/<file>   (dead letters, raw bytes kept)\n"
		       "A file: re-running the same input is a no-op; after a crash it completes\n"
		       "the lake without duplicates (the state log is in LAKE/_kinlake/state/).\n"
		       "A Kinesis stream: every shard, resumed from the checkpoints in LAKE/_kinlake/.\n"
		       "An S3 lake: AWS_REGION, AWS_ENDPOINT_URL_S3 and the usual AWS credentials\n"
		       "apply (AWS_ENDPOINT_URL_KINESIS for the stream).\n"
		       "SIGINT/SIGTERM stop reading at once, commit what is buffered and exit 0;\n"
		       "what is not committed within --shutdown-timeout is abandoned (in-flight\n"
		       "S3 uploads aborted) and the exit code is 75: the next run reads it again\n"
		       "(docs/shutdown.md).\n\n"
		       "Options:\n");
		kl_opts_help(stdout, kl_ingest_cfg_table, kl_ingest_cfg_count);
		printf("\nEnvironment: every option with a value can also be set as KINLAKE_ and its\n"
		       "name in capitals, '-' as '_' (KINLAKE_LAKE=s3://b/p, KINLAKE_MEMORY_LIMIT=1GiB,\n"
		       "KINLAKE_STREAM=events), parsed and checked as the flag is; a flag wins.\n");
		return 0;
	}
	if (r)
		return bad_usage("ingest", eb.msg);
	/* every setting also as its KINLAKE_* variable, as a container is
	 * configured (config/ingest_cfg.h); a flag wins */
	struct kl_aws_env aenv = kl_aws_env_process();
	if (kl_opts_env(&p, &aenv, &eb))
		return bad_usage("ingest", eb.msg);
	char la[64], lb[64];
	if (!c.input && !c.stream)
		return bad_usage("ingest", "--input (a file, or - for stdin) or --stream is required");
	if (c.input && c.stream) {
		kl_errbuf_set(&eb, KL_EINVAL, "%s and %s exclude each other",
			      kl_opts_label(&p, offsetof(struct kl_ingest_cfg, input), la, sizeof la),
			      kl_opts_label(&p, offsetof(struct kl_ingest_cfg, stream), lb, sizeof lb));
		return bad_usage("ingest", eb.msg);
	}
	if (!c.lake)
		return bad_usage("ingest", "--lake is required (a directory, or s3://bucket/prefix)");
	if (kl_ingest_cfg_check(&p, &aenv, &eb))
		return bad_usage("ingest", eb.msg);

	struct kl_ingest_opts o;
	kl_ingest_opts_default(&o);
	o.input = c.input;
	o.lake = c.lake;
	o.input_id = c.input_id;
	/* a container's limits, read once: the CPUs for --threads 0 (and the
	 * stream's encoders, and the metrics), a default budget that fits its
	 * memory limit */
	struct kl_cgroup_limits lim;
	kl_cgroup_limits_read("", &lim);
	unsigned cpus = kl_cpus_available(&lim);
	kl_ingest_cfg_apply(&c, &o, cpus);
	size_t mem_def = o.memory_limit;
	uint64_t mem_container = 0;
	if (kl_opts_from(&p, offsetof(struct kl_ingest_cfg, memory_limit)) == KL_OPT_DEFAULT) {
		mem_container = lim.memory;
		o.memory_limit = kl_ingest_cfg_memory_default(mem_def, mem_container);
	}
	if (c.dry_run) {
		kl_ingest_cfg_print(stdout, &p, &c, &o, mem_container);
		return 0;
	}
#if defined(__GLIBC__) && !defined(__SANITIZE_ADDRESS__)
	if (o.memory_limit >= KL_THP_MIN_LIMIT && !c.stream)
		reexec_with_thp(argv0);
#else
	(void)argv0;
#endif
	if (o.memory_limit != mem_def && !c.quiet)
		fprintf(stderr,
			"kinlake ingest: --memory-limit %.1f MiB, to fit the container's memory limit "
			"of %.1f MiB%s; set --memory-limit or KINLAKE_MEMORY_LIMIT to choose\n",
			(double)o.memory_limit / (1 << 20), (double)mem_container / (1 << 20),
			o.memory_limit <= KL_MEMORY_LIMIT_FLOOR
			    ? " (the smallest budget: a container this small may be too small)"
			    : "");
	int bar = !c.no_progress && isatty(2);
	if (bar) {
		o.progress = kl_cli_progress_bar;
		o.progress_ctx = stderr;
	}
	o.stop_fd = stop_fd_open();

	struct kl_ingest_stats st;
	memset(&st, 0, sizeof st);
	kl_errbuf_clear(&eb);
	int rc;
	unsigned shards = 0;
	struct kl_metrics metrics;
	struct kl_metrics_reporter rep;
	memset(&rep, 0, sizeof rep);
	rep.listen_fd = -1;
	if (kl_metrics_init(&metrics)) {
		fprintf(stderr, "kinlake ingest: out of memory\n");
		return 1;
	}
	if (c.stream)
		snprintf(metrics.stream, sizeof metrics.stream, "%s", c.stream);
	metrics.window = o.window == KL_WINDOW_HOUR;
	metrics.cpus = cpus;
	metrics.threads = o.threads;
	metrics.memory_limit = o.memory_limit;
	struct kl_lease_keeper keeper;
	int have_keeper = 0;
	if (c.lease_table) { /* no request yet: the table is ensured below */
		struct kl_lease_keeper_opts ko = {0};
		ko.table = c.lease_table;
		ko.worker_id = c.worker_id;
		ko.region = c.region;
		ko.timeout_ms = c.lease_timeout_ms;
		ko.renew_ms = c.lease_renew_ms;
		ko.initial_checkpoint = !strcmp(c.start, "latest")	   ? "LATEST"
					: !strcmp(c.start, "trim-horizon") ? "TRIM_HORIZON"
									   : "AT_TIMESTAMP";
		if (kl_lease_keeper_init(&keeper, &ko, &eb)) {
			kl_metrics_cleanup(&metrics);
			return bad_usage("ingest", eb.msg);
		}
		have_keeper = 1;
		snprintf(metrics.worker, sizeof metrics.worker, "%s", keeper.worker_id);
	}
	o.metrics = &metrics;
	rep.m = &metrics;
	rep.file = c.metrics_file;
	rep.interval_ms = c.metrics_interval_ms;
	rep.cloudwatch_ns = c.cloudwatch_ns;
	rep.cloudwatch_region = c.region;
	rep.log = stderr;
	rep.log_prefix = "kinlake ingest: ";
	if (!c.quiet && !bar && c.status_interval_ms > 0) {
		rep.status = stderr;
		rep.status_prefix = "kinlake ingest: status: ";
		rep.status_interval_ms = c.status_interval_ms;
	}
	if (c.metrics_listen) {
		int port;
		if (kl_metrics_listen(c.metrics_listen, &rep.listen_fd, &port, &eb)) {
			kl_metrics_cleanup(&metrics);
			return bad_usage("ingest", eb.msg);
		}
		char host[256], why[160];
		const char *serv;
		if (!c.quiet && !kl_metrics_addr_parse(c.metrics_listen, host, sizeof host, &serv, why,
						       sizeof why))
			fprintf(stderr, "kinlake ingest: metrics at http://%s%s%s:%d/metrics%s\n",
				strchr(host, ':') ? "[" : "", host[0] ? host : "localhost",
				strchr(host, ':') ? "]" : "", port,
				host[0] ? "" : " (every interface)");
	}
	/* the signal, then the deadline: readers stop at once, uploads are
	 * abandoned --shutdown-timeout later (no thread: a stop that never
	 * fires, and still a clean exit) */
	struct kl_stop stop;
	if (kl_stop_start(&stop, o.stop_fd, c.shutdown_timeout_ms))
		fprintf(stderr, "kinlake ingest: warning: no shutdown watcher: SIGTERM waits "
				"for the commit\n");
	else
		o.stop = kl_stop_requested(&stop);
	/* GET /health: "stopping" from the signal on; "stalled" (metrics.h) */
	rep.health.stopping = o.stop;
	rep.health.stall_ms = c.stall_ms;
	/* under systemd (Type=notify, WatchdogSec=): deploy/kinlake.service */
	rep.notify_socket = getenv("NOTIFY_SOCKET");
	rep.watchdog_usec = getenv("WATCHDOG_USEC");
	rep.watchdog_pid = getenv("WATCHDOG_PID");
	if (kl_metrics_reporter_start(&rep, &eb)) {
		kl_stop_cleanup(&stop);
		if (o.stop_fd >= 0)
			close(o.stop_fd);
		if (rep.listen_fd >= 0)
			close(rep.listen_fd);
		if (have_keeper)
			kl_lease_keeper_cleanup(&keeper);
		kl_metrics_cleanup(&metrics);
		fprintf(stderr, "kinlake ingest: %s\n", eb.msg);
		return 1;
	}
	/* one credential chain for every S3 store and Kinesis client */
	struct kl_store_creds creds;
	memset(&creds, 0, sizeof creds);
	struct store_factory factory; /* outlives the stores: kl_stream_run frees them */
	factory.lake = c.lake;
	kl_ingest_cfg_store(&c, &aenv, &creds, &factory.so);
	factory.so.cancel = stop.started ? kl_stop_deadline(&stop) : NULL;
	factory.so.meters = (struct kl_store_meters){.retries = &metrics.retries,
						     .answered = &metrics.s3_answered,
						     .inflight = &metrics.s3_inflight,
						     .moved = &metrics.s3_moved};
	if (c.stream) {
		struct kl_stream_opts so;
		memset(&so, 0, sizeof so);
		so.ingest = o;
		so.stream = c.stream;
		so.region = c.region;
		so.start = c.start;
		so.exit_idle_ms = c.exit_idle_ms;
		so.idle_poll_ms = c.idle_poll_ms;
		so.list_timeout_ms = c.list_timeout_ms;
		so.make_store = make_store;
		so.store_ctx = &factory;
		so.encoders = cpus;
		so.creds = &creds.chain;
		so.creds_mu = &creds.mu;
		struct kl_stream_stats ss;
		memset(&ss, 0, sizeof ss);
		/* before the shards' threads open their stores */
		rc = kl_store_creds_init(&creds, &aenv, &eb);
		struct kl_dir_hints *hints = NULL; /* the shards' stores share what they made */
		if (!rc && !kl_store_url_is_s3(c.lake)) {
			/* a crash may have left temporary files; no shard runs yet */
			uint64_t swept;
			kl_store_local_sweep(c.lake, &swept);
			if (!(hints = kl_dir_hints_new()))
				rc = kl_errbuf_set(&eb, KL_ENOMEM, "out of memory");
			factory.so.dir_hints = hints;
		}
		if (!rc && have_keeper) {
			if (!c.quiet)
				fprintf(stderr, "kinlake ingest: worker %s, lease table %s\n",
					keeper.worker_id, c.lease_table);
			rc = kl_lease_keeper_start(&keeper, 60000, &eb);
			so.leases = &keeper;
		}
		if (!rc)
			rc = kl_stream_run(&so, &ss, &eb);
		kl_dir_hints_free(hints); /* every shard's store is freed by now */
		factory.so.dir_hints = NULL;
		st = ss.total;
		shards = ss.shards;
	} else {
		/* a local lake is opened (and swept) by the pipeline, which keeps its
		 * state log there as a file; any other store is opened here and
		 * holds the state log as an object */
		struct kl_store *store = NULL;
		rc = kl_store_url_is_s3(c.lake) ? make_store(&factory, &store, &eb) : KL_OK;
		o.store = store;
		if (!rc)
			rc = kl_ingest_run(&o, &st, &eb);
		kl_store_free(store);
	}
	kl_store_creds_cleanup(&creds);
	int timed_out = rc && kl_stop_expired(&stop);
	/* the reporter first: its /health reads the stop's token */
	struct kl_errbuf meb;
	kl_errbuf_clear(&meb);
	if (kl_metrics_reporter_stop(&rep, &meb))
		fprintf(stderr, "kinlake ingest: warning: %s\n", meb.msg);
	kl_stop_cleanup(&stop);
	if (o.stop_fd >= 0)
		close(o.stop_fd);
	kl_metrics_cleanup(&metrics);
	if (have_keeper)
		kl_lease_keeper_cleanup(&keeper);
	if (timed_out) {
		shutdown_timeout_message(&c, &st, eb.code ? eb.msg : kl_strerror(rc));
		return EXIT_SHUTDOWN_TIMEOUT;
	}
	if (rc) {
		fprintf(stderr, "kinlake ingest: %s: %s\n", kl_strerror(rc),
			eb.code ? eb.msg : "(no detail)");
		if (st.input_damaged && input_kind(&c) != INPUT_STREAM)
			fprintf(stderr, "kinlake ingest: the lake holds what was committed before that "
					"point; the rest of this input cannot be read as it is\n");
		else if (rc != KL_EUNSUPPORTED) /* the input can never be read as it is */
			ingest_advice(&c);
		return 1;
	}
	if (st.grown_size) /* a warning: printed also with --quiet */
		fprintf(stderr,
			"kinlake ingest: warning: %s grew while it was read (%" PRIu64 " -> %" PRIu64
			" bytes); only the first %" PRIu64 " bytes were ingested, as input %s (a file "
			"is named by its content): run the same command again to ingest what was "
			"appended (it reads from byte %" PRIu64 " on)\n",
			c.input, st.hashed_size, st.grown_size, st.hashed_size, st.input_id,
			st.hashed_size);
	if (!c.quiet) {
		if (st.already_done) {
			fprintf(stderr, "kinlake ingest: input %s (id %s) is already in the lake; "
					"nothing to do\n", c.input, st.input_id);
			return 0;
		}
		if (st.cont_size && st.cont_finished)
			fprintf(stderr,
				"kinlake ingest: %s begins with input %s (its first %" PRIu64
				" bytes), whose run had stopped before its end: finished it first "
				"under its own id, then read from there on\n",
				c.input, st.cont_id, st.cont_size);
		else if (st.cont_size)
			fprintf(stderr,
				"kinlake ingest: %s begins with input %s (its first %" PRIu64
				" bytes, already in the lake): read from there on\n",
				c.input, st.cont_id, st.cont_size);
		double mb_in = (double)st.bytes_in / 1e6, mb_out = (double)st.bytes_out / 1e6;
		if (c.stream && shards)
			fprintf(stderr, "kinlake ingest: stream %s: %u shards\n", c.stream, shards);
		else if (c.stream) /* a stream has at least one: the listing never answered */
			fprintf(stderr, "kinlake ingest: stream %s: stopped before its shards were "
					"listed\n", c.stream);
		fprintf(stderr,
			"kinlake ingest: %s read=%" PRIu64 " stored=%" PRIu64 " dead_letters=%" PRIu64
			" duplicates=%" PRIu64 " replayed=%" PRIu64 " files=%" PRIu64
			" in=%.1fMB out=%.1fMB seconds=%.2f events/s=%.0f\n",
			st.interrupted ? "interrupted, committed:" : "done:", st.records, st.stored,
			st.dead, st.duplicates, st.replayed, st.files, mb_in, mb_out, st.seconds,
			st.seconds > 0 ? (double)st.records / st.seconds : 0.0);
		if (st.rescued)
			fprintf(stderr,
				"kinlake ingest: %" PRIu64 " events had fields without a column of their "
				"own (past --max-columns %" PRId64 ", or named so no column can hold "
				"them), kept as a JSON object in their file's _rescued_data column "
				"(keys made from data belong in an object member)\n",
				st.rescued, c.max_columns);
		if (st.dead) {
			fprintf(stderr, "kinlake ingest: dead letters by reason:");
			for (int i = 1; i < KL_REJ_COUNT; i++)
				if (st.dead_by_reason[i])
					fprintf(stderr, " %s=%" PRIu64, kl_reject_name(i),
						st.dead_by_reason[i]);
			fputc('\n', stderr);
		}
		/* a file is named by its content and a stream by its shards;
		 * a pipe has no identity: say what that means for a re-run */
		if (st.stored && input_kind(&c) == INPUT_PIPE)
			fprintf(stderr, "kinlake ingest: %s is a pipe without --input-id, a new "
					"input each run: the same data piped again is stored again "
					"(--input-id NAME makes a re-run resume instead)\n",
				strcmp(c.input, "-") ? c.input : "stdin");
	}
	return 0;
}

/* --- transform ----------------------------------------------------------- */

struct transform_cfg {
	const char *errors;
	size_t max_record_bytes;
	int64_t max_depth;
};

#define T(field) offsetof(struct transform_cfg, field)
static const struct kl_opt transform_opts[] = {
	{.name = "errors", .type = KL_OPT_STR, .offset = T(errors), .metavar = "FILE",
	 .help = "write dead-letter records here instead of stderr"},
	{.name = "max-record-bytes", .type = KL_OPT_SIZE, .offset = T(max_record_bytes),
	 .def = "10MiB", .metavar = "SIZE", .help = "larger records are dead letters", .min = 64,
	 .max = 1 << 30},
	{.name = "max-depth", .type = KL_OPT_I64, .offset = T(max_depth), .def = "64",
	 .metavar = "N", .help = "deeper nesting is a dead letter", .min = 1, .max = 100000},
};
#undef T

static int write_all(FILE *f, const void *p, size_t n)
{
	return fwrite(p, 1, n, f) == n ? 0 : -1;
}

static int cmd_transform(int argc, char **argv)
{
	struct transform_cfg c;
	memset(&c, 0, sizeof c);
	struct kl_opts p;
	struct kl_errbuf perr;
	int r = parse_flags(&p, transform_opts, NOPTS(transform_opts), &c, argc, argv, &perr);
	if (r == KL_OPTS_HELP) {
		printf("Usage: kinlake transform [--errors FILE] < events.jsonl > enriched.jsonl\n\n"
		       "Enrich each JSON line (created_datetime, event_type, event_subtype) to\n"
		       "stdout; rejected lines become dead-letter records on stderr or --errors.\n\n"
		       "Options:\n");
		kl_opts_help(stdout, transform_opts, NOPTS(transform_opts));
		return 0;
	}
	if (r)
		return bad_usage("transform", perr.msg);
	FILE *errf = stderr;
	if (c.errors && !(errf = fopen(c.errors, "w"))) {
		fprintf(stderr, "kinlake transform: cannot open %s: %s\n", c.errors, strerror(errno));
		return 1;
	}
	struct kl_event_limits lim = {c.max_record_bytes, (unsigned)c.max_depth};
	int stop = stop_fd_open();
	struct kl_source *src =
	    kl_source_fd_new(0, 0, 0, 0, kl_source_fd_cap(lim.max_record_bytes), stop);
	struct kl_event ev;
	struct kl_buf out;
	kl_event_init(&ev);
	kl_buf_init(&out, 0);
	static char obuf[1 << 20];
	setvbuf(stdout, obuf, _IOFBF, sizeof obuf);
	struct kl_record rec;
	int s, rc = 0;
	uint64_t ok = 0, bad = 0;
	while (src && (s = kl_source_next(src, &rec, -1)) == KL_SRC_RECORD) {
		kl_buf_reset(&out);
		enum kl_reject rej = rec.full_len > rec.n ? KL_REJ_TOO_LARGE
							  : kl_event_parse(&ev, rec.p, rec.n, &lim);
		if (rej == KL_REJ_NONE) {
			rc = kl_event_write_json(&ev, rec.p, rec.n, &out) || kl_buf_putc(&out, '\n') ||
			     write_all(stdout, out.data, out.len);
			ok++;
		} else {
			if (rec.full_len > rec.n)
				snprintf(ev.msg, sizeof ev.msg, "record is larger than the limit");
			struct kl_deadletter d = {kl_reject_name(rej), ev.msg, "stdin", rec.pos,
						  ev.err_offset, rec.p, rec.n, rec.full_len};
			rc = kl_deadletter_format(&out, &d) || kl_buf_putc(&out, '\n') ||
			     write_all(errf, out.data, out.len);
			bad++;
		}
		if (rc)
			break;
	}
	if (fflush(stdout) || (c.errors && fclose(errf)))
		rc = 1;
	if (rc)
		fprintf(stderr, "kinlake transform: I/O error after %" PRIu64 " events\n", ok + bad);
	if (!src || (s < 0 && s != KL_EINTR)) { /* the input: say why */
		fprintf(stderr, "kinlake transform: %s\n", src ? src->err.msg : "out of memory");
		rc = 1;
	}
	kl_source_free(src);
	kl_event_cleanup(&ev);
	kl_buf_cleanup(&out);
	if (stop >= 0)
		close(stop);
	return rc ? 1 : 0;
}

/* --- gen ----------------------------------------------------------------- */

struct gen_cfg {
	uint64_t events, types, seed;
	int64_t start, span;
	double bad, dup;
	const char *output;
};

#define G(field) offsetof(struct gen_cfg, field)
static const struct kl_opt gen_opts[] = {
	{.name = "events", .type = KL_OPT_U64, .offset = G(events), .def = "1000", .metavar = "N",
	 .help = "lines to write"},
	{.name = "types", .type = KL_OPT_U64, .offset = G(types), .def = "100", .metavar = "N",
	 .help = "distinct event names", .min = 1, .max = 1000},
	{.name = "seed", .type = KL_OPT_U64, .offset = G(seed), .def = "1", .metavar = "S",
	 .help = "random seed"},
	{.name = "start", .type = KL_OPT_I64, .offset = G(start), .def = "1764547200",
	 .metavar = "UNIX", .help = "created_at of the first event", .min = 0,
	 .max = 253402300799},
	{.name = "span", .type = KL_OPT_I64, .offset = G(span), .def = "3600", .metavar = "SECONDS",
	 .help = "created_at spreads over [start, start+span)", .min = 1, .max = 1e10},
	{.name = "bad-fraction", .type = KL_OPT_DOUBLE, .offset = G(bad), .def = "0",
	 .metavar = "F", .help = "fraction of malformed lines (every rejection class)", .min = 0,
	 .max = 1},
	{.name = "dup-fraction", .type = KL_OPT_DOUBLE, .offset = G(dup), .def = "0",
	 .metavar = "F", .help = "fraction of exact duplicate lines", .min = 0, .max = 1},
	{.name = "output", .type = KL_OPT_STR, .offset = G(output), .def = "-", .metavar = "PATH",
	 .help = "where to write, '-' for stdout"},
};
#undef G

static int cmd_gen(int argc, char **argv)
{
	struct gen_cfg c;
	memset(&c, 0, sizeof c);
	struct kl_opts p;
	struct kl_errbuf perr;
	int r = parse_flags(&p, gen_opts, NOPTS(gen_opts), &c, argc, argv, &perr);
	if (r == KL_OPTS_HELP) {
		printf("Usage: kinlake gen --events N [options] > events.jsonl\n\n"
		       "Write a deterministic synthetic event stream like the production one:\n"
		       "100 event names (1-, 2- and 3-part), each with its own payload schema.\n\n"
		       "Options:\n");
		kl_opts_help(stdout, gen_opts, NOPTS(gen_opts));
		return 0;
	}
	if (r)
		return bad_usage("gen", perr.msg);
	struct kl_gen_opts g;
	kl_gen_opts_default(&g);
	g.events = c.events;
	g.types = (unsigned)c.types;
	g.seed = c.seed;
	g.start = c.start;
	g.span = c.span;
	g.bad_fraction = c.bad;
	g.dup_fraction = c.dup;
	int fd = 1;
	if (strcmp(c.output, "-") && (fd = open(c.output, O_WRONLY | O_CREAT | O_TRUNC, 0644)) < 0) {
		fprintf(stderr, "kinlake gen: cannot create %s: %s\n", c.output, strerror(errno));
		return 1;
	}
	struct kl_errbuf eb;
	kl_errbuf_clear(&eb);
	int rc = kl_gen_write(&g, fd, &eb);
	if (fd != 1 && close(fd))
		rc = KL_EIO;
	if (rc) {
		fprintf(stderr, "kinlake gen: %s\n", eb.code ? eb.msg : kl_strerror(rc));
		return 1;
	}
	return 0;
}

/* --- lambda -------------------------------------------------------------- */

struct lambda_cfg {
	uint64_t dedup_window;
	int64_t min_remaining_ms, margin_ms;
	const char *bench_file;
	uint64_t repeat;
};

#define L(field) offsetof(struct lambda_cfg, field)
static const struct kl_opt lambda_opts[] = {
	{.name = "dedup-window", .type = KL_OPT_U64, .offset = L(dedup_window), .def = "100000",
	 .metavar = "EVENTS",
	 .help = "an event_uuid among the last N of this instance: Dropped (Firehose), not stored "
		 "(Kinesis); 0 = off",
	 .min = 0, .max = 1 << 24},
	{.name = "min-remaining", .type = KL_OPT_I64, .offset = L(min_remaining_ms), .def = "50",
	 .metavar = "MS", .help = "fail an invocation arriving closer than this to its deadline",
	 .min = 0, .max = 60000},
	{.name = "deadline-margin", .type = KL_OPT_I64, .offset = L(margin_ms), .def = "25",
	 .metavar = "MS", .help = "stop a transformation (error) when less than this remains",
	 .min = 0, .max = 60000},
	/* hidden: run the handler in-process on a saved event (bench/lambda.sh) */
	{.name = "bench-file", .type = KL_OPT_STR, .offset = L(bench_file), .metavar = "EVENT.json"},
	{.name = "repeat", .type = KL_OPT_U64, .offset = L(repeat), .def = "1", .metavar = "N",
	 .min = 1, .max = 1e9},
};
#undef L

struct lambda_ctx {
	struct kl_lambda_app app;
	struct kl_lambda_stats st;
	const char *cw_ns, *function; /* EMF metrics (docs/metrics.md); cw_ns NULL: off */
};

/* CloudWatch EMF lines on stdout, after the answer was posted (not on the
 * response path); only for delivered answers, as a failed batch comes back. */
static void lambda_emf(struct lambda_ctx *c, const struct kl_lambda_report *rep)
{
	if (!c->cw_ns || rep->error_type || rep->post_rc)
		return;
	struct kl_cw_counters n;
	kl_lambda_stats_counters(&c->st, &n);
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	struct kl_cw_emf e = {c->cw_ns, "FunctionName", c->function,
			      (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000, &n, rep->ms,
			      kl_lambda_kind_name(c->st.kind)};
	struct kl_buf l;
	kl_buf_init(&l, 1 << 16);
	if (!kl_cw_emf_render(&l, &e) && fwrite(l.data, 1, l.len, stdout) == l.len)
		fflush(stdout);
	kl_buf_cleanup(&l);
}

static int lambda_invoke(void *ctx, const struct kl_lambda_invocation *inv, struct kl_buf *out,
			 const char **error_type, struct kl_errbuf *eb)
{
	struct lambda_ctx *c = ctx;
	return kl_lambda_app_handle(&c->app, inv, out, &c->st, error_type, eb);
}

/* One JSON line per invocation on stderr (CloudWatch Logs reads it). */
static void lambda_done(void *ctx, const struct kl_lambda_invocation *inv,
			const struct kl_lambda_report *rep)
{
	struct lambda_ctx *c = ctx;
	struct kl_buf l;
	kl_buf_init(&l, 1 << 16);
	const struct kl_firehose_stats *r = &c->st.rec;
	int rc = kl_buf_puts(&l, "{\"level\":\"");
	rc = rc ? rc : kl_buf_puts(&l, rep->error_type || rep->post_rc || c->st.rec.failed ? "ERROR" : c->st.note ? "WARN" : "INFO");
	rc = rc ? rc : kl_buf_puts(&l, "\",\"request_id\":\"");
	rc = rc ? rc : kl_json_escape_append(&l, inv->request_id, strlen(inv->request_id));
	rc = rc ? rc : kl_buf_printf(&l, "\",\"event\":\"%s\",\"records\":%" PRIu64 ",\"ok\":%" PRIu64
				     ",\"dropped\":%" PRIu64 ",\"failed\":%" PRIu64
				     ",\"ms\":%" PRId64 ",\"response_bytes\":%zu",
				     kl_lambda_kind_name(c->st.kind), r->records, r->ok, r->dropped,
				     r->failed, rep->ms, rep->response_len);
	if (!rc && c->st.kind == KL_LAMBDA_KINESIS && !rep->error_type) {
		const struct kl_esm_stats *k = &c->st.esm;
		rc = kl_buf_printf(&l, ",\"shard\":\"%s\",\"events\":%" PRIu64 ",\"dead_letters\":%" PRIu64
				   ",\"files\":%" PRIu64, k->shard, k->events, k->dead, k->files);
		if (!rc && c->st.why.code) {
			rc = kl_buf_puts(&l, ",\"message\":\"");
			rc = rc ? rc : kl_json_escape_append(&l, c->st.why.msg, strlen(c->st.why.msg));
			rc = rc ? rc : kl_buf_putc(&l, '"');
		}
	}
	if (!rc && c->st.note) {
		rc = kl_buf_puts(&l, ",\"message\":\"");
		rc = rc ? rc : kl_json_escape_append(&l, c->st.note, strlen(c->st.note));
		rc = rc ? rc : kl_buf_putc(&l, '"');
	}
	if (!rc && rep->error_type) {
		rc = kl_buf_puts(&l, ",\"error_type\":\"");
		rc = rc ? rc : kl_json_escape_append(&l, rep->error_type, strlen(rep->error_type));
		rc = rc ? rc : kl_buf_puts(&l, "\",\"error\":\"");
		rc = rc ? rc : kl_json_escape_append(&l, rep->error_msg, strlen(rep->error_msg));
		rc = rc ? rc : kl_buf_putc(&l, '"');
	}
	if (!rc && rep->post_rc) {
		rc = kl_buf_puts(&l, ",\"post_error\":\"");
		rc = rc ? rc : kl_json_escape_append(&l, rep->post_msg, strlen(rep->post_msg));
		rc = rc ? rc : kl_buf_putc(&l, '"');
	}
	rc = rc ? rc : kl_buf_puts(&l, "}\n");
	if (!rc)
		fwrite(l.data, 1, l.len, stderr);
	kl_buf_cleanup(&l);
	lambda_emf(c, rep);
	/* not delivered: Firehose retries the batch; its events must not be Dropped then */
	if ((rep->error_type || rep->post_rc) && kl_lambda_app_forget(&c->app))
		fprintf(stderr, "{\"level\":\"ERROR\",\"message\":\"out of memory resetting the "
				"dedup window\"}\n");
	memset(&c->st, 0, sizeof c->st);
}

/* --bench-file: the same handler, in-process, N times; one summary line. */
static int lambda_bench(struct lambda_ctx *c, const char *path, uint64_t repeat)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "kinlake lambda: cannot open %s: %s\n", path, strerror(errno));
		return 1;
	}
	struct kl_buf ev, out;
	kl_buf_init(&ev, KL_LAMBDA_MAX_EVENT);
	kl_buf_init(&out, 0);
	char chunk[1 << 16];
	size_t n;
	int rc = 0;
	while (!rc && (n = fread(chunk, 1, sizeof chunk, f)) > 0)
		rc = kl_buf_append(&ev, chunk, n);
	fclose(f);
	struct kl_lambda_invocation inv = {.request_id = "bench", .event = ev.data ? ev.data : "",
					   .event_len = ev.len, .clock = kl_lambda_clock_real()};
	uint64_t records = 0, errors = 0;
	size_t resp = 0;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (uint64_t i = 0; !rc && i < repeat; i++) {
		const char *type = NULL;
		struct kl_errbuf eb;
		kl_errbuf_clear(&eb);
		kl_buf_reset(&out);
		/* each repetition is a fresh batch for dedup (as a new instance would see it) */
		kl_lambda_app_forget(&c->app);
		if (kl_lambda_app_handle(&c->app, &inv, &out, &c->st, &type, &eb)) {
			if (!errors)
				fprintf(stderr, "kinlake lambda: %s: %s\n", type, eb.msg);
			errors++;
		}
		records += c->st.rec.records;
		resp = out.len;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	if (!rc)
		printf("{\"invocations\":%" PRIu64 ",\"records\":%" PRIu64 ",\"errors\":%" PRIu64
		       ",\"seconds\":%.6f,\"records_per_s\":%.0f,\"event_bytes\":%zu,"
		       "\"response_bytes\":%zu}\n",
		       repeat, records, errors, s, s > 0 ? (double)records / s : 0.0, ev.len, resp);
	else
		fprintf(stderr, "kinlake lambda: %s: the event is larger than %u bytes\n", path,
			KL_LAMBDA_MAX_EVENT);
	kl_buf_cleanup(&ev);
	kl_buf_cleanup(&out);
	return rc ? 1 : 0;
}

static int cmd_lambda(int argc, char **argv)
{
	struct lambda_cfg c;
	memset(&c, 0, sizeof c);
	int64_t t_start = kl_mono_ms();
	const char *api = getenv("AWS_LAMBDA_RUNTIME_API");
	struct kl_opts p;
	struct kl_errbuf perr;
	int r = parse_flags(&p, lambda_opts, NOPTS(lambda_opts), &c, argc, argv, &perr);
	const char *err = perr.msg;
	if (r == KL_OPTS_HELP) {
		printf("Usage: kinlake lambda [options]      (as the bootstrap of a provided.al2023 "
		       "function)\n\n"
		       "Run as an AWS Lambda custom runtime: fetch invocations from the Runtime API\n"
		       "at $AWS_LAMBDA_RUNTIME_API and answer each one, until the Runtime API goes away.\n"
		       "  Firehose transformation event -> {\"records\":[...]}: Ok (enriched JSON line,\n"
		       "      partitionKeys event_type, event_subtype, dt, hr), Dropped (repeated\n"
		       "      event_uuid), ProcessingFailed (data unchanged)\n"
		       "  Kinesis event source mapping  -> the batch is written to the lake as `ingest`\n"
		       "      writes it (KINLAKE_LAKE); {\"batchItemFailures\":[]} once it is durable,\n"
		       "      else the records to retry (enable ReportBatchItemFailures)\n"
		       "  anything else                 -> an invocation error\n"
		       "A response over Lambda's 6 MB limit is an invocation error\n"
		       "(Kinlake.ResponseTooLarge): lower the Firehose processor's buffer size.\n"
		       "One JSON log line per invocation goes to stderr (CloudWatch Logs), and\n"
		       "CloudWatch Embedded Metric Format lines to stdout (docs/metrics.md).\n\n"
		       "Options:\n");
		kl_opts_help(stdout, lambda_opts, NOPTS(lambda_opts));
		printf("\nEnvironment: the Kinesis event-source-mapping path, configured as `kinlake\n"
		       "ingest` is (each variable is the ingest flag named after it, parsed and\n"
		       "checked the same way); a bad value is an init error. KINLAKE_LAKE unset:\n"
		       "Firehose only, and Kinesis batches fail with Kinlake.NotConfigured.\n");
		kl_opts_env_help(stdout, kl_ingest_cfg_table, kl_ingest_cfg_count,
				 KL_INGEST_CFG_LAMBDA);
		printf("  KINLAKE_CLOUDWATCH_NAMESPACE  namespace of the EMF metric lines on stdout\n"
		       "                          (default kinlake; empty: none; docs/metrics.md)\n");
		printf("  AWS_REGION, AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL and the usual credentials\n");
		return 0;
	}
	struct kl_errbuf eb;
	kl_errbuf_clear(&eb);
	/* The Runtime API over its own small HTTP client (lambda/runtime.h), not
	 * libcurl: a cold start loads no TLS stack (aws/curl_lazy.c). */
	struct kl_lambda_conn conn;
	struct kl_lambda_runtime rt;
	struct lambda_ctx *ctx = calloc(1, sizeof *ctx);
	int rc = ctx ? KL_OK : KL_ENOMEM;
	int runtime = !c.bench_file && r == KL_OK, rt_init = 0, have_conn = 0;
	if (!c.bench_file && !rc) {
		rt_init = 1;
		int irc = kl_lambda_runtime_init(&rt, api, kl_lambda_conn_transport(&conn), &eb);
		if (!irc)
			have_conn = !(irc = kl_lambda_conn_init(&conn, api, &eb));
		rc = rc ? rc : irc;
		rt.min_remaining_ms = c.min_remaining_ms;
		if (irc) /* no Runtime API to report to */
			runtime = 0;
	}
	if (r) {
		/* a bad option in the bootstrap: tell Lambda too, when we can */
		if (rt_init && !rc)
			kl_lambda_init_error(&rt, "Runtime.InvalidArguments", err, NULL);
		rc = 2;
		struct kl_buf l;
		kl_buf_init(&l, 4096);
		if (!kl_json_escape_append(&l, err, strlen(err)) && !kl_buf_putc(&l, '\0'))
			fprintf(stderr, "{\"level\":\"ERROR\",\"message\":\"kinlake lambda: %s\"}\n", l.data);
		kl_buf_cleanup(&l);
		goto out;
	}
	if (!rc && (rc = kl_lambda_app_init(&ctx->app, (size_t)c.dedup_window)))
		kl_errbuf_set(&eb, rc, "cannot allocate the dedup window of %" PRIu64 " events",
			      c.dedup_window);
	if (rc) {
		fprintf(stderr, "{\"level\":\"ERROR\",\"message\":\"init failed: %s: %s\"}\n",
			kl_strerror(rc), eb.code ? eb.msg : "(no detail)");
		if (runtime)
			kl_lambda_init_error(&rt, "Runtime.InitError", eb.code ? eb.msg : kl_strerror(rc),
					     NULL);
		rc = 1;
		goto out;
	}
	ctx->app.margin_ms = c.margin_ms;
	ctx->cw_ns = getenv("KINLAKE_CLOUDWATCH_NAMESPACE") ? getenv("KINLAKE_CLOUDWATCH_NAMESPACE")
							    : "kinlake";
	ctx->cw_ns = *ctx->cw_ns ? ctx->cw_ns : NULL; /* "": no EMF */
	ctx->function = getenv("AWS_LAMBDA_FUNCTION_NAME") ? getenv("AWS_LAMBDA_FUNCTION_NAME")
							     : "kinlake";
	const char *lake = NULL;
	struct kl_aws_env aenv = kl_aws_env_process();
	if ((rc = kl_lambda_app_configure(&ctx->app, &aenv, &lake, &eb))) {
		struct kl_buf l;
		kl_buf_init(&l, 4096);
		if (!kl_json_escape_append(&l, eb.msg, strlen(eb.msg)) && !kl_buf_putc(&l, '\0'))
			fprintf(stderr, "{\"level\":\"ERROR\",\"message\":\"init failed: %s\"}\n", l.data);
		kl_buf_cleanup(&l);
		if (runtime)
			kl_lambda_init_error(&rt, KL_LAMBDA_ERR_CONFIG, eb.msg, NULL);
		rc = 1;
		goto out;
	}
	if (c.bench_file) {
		rc = lambda_bench(ctx, c.bench_file, c.repeat);
		goto out;
	}
	struct kl_buf lk;
	kl_buf_init(&lk, 8192);
	if (lake && (kl_json_escape_append(&lk, lake, strlen(lake)) || kl_buf_putc(&lk, '\0')))
		lake = NULL;
	fprintf(stderr, "{\"level\":\"INFO\",\"message\":\"kinlake %s lambda runtime ready\","
			"\"init_ms\":%" PRId64 ",\"dedup_window\":%" PRIu64 ",\"lake\":%s%s%s%s%s}\n",
		KL_VERSION, kl_mono_ms() - t_start, c.dedup_window, lake ? "\"" : "",
		lake ? lk.data : "null", lake ? "\",\"format\":\"" : "",
		lake ? (ctx->app.esm->cfg.set.format == KL_FORMAT_PARQUET ? "parquet" : "jsonl") : "",
		lake ? "\"" : "");
	kl_buf_cleanup(&lk);
	struct kl_lambda_handler h = {lambda_invoke, lambda_done, ctx};
	rc = kl_lambda_run(&rt, &h, &eb);
	fprintf(stderr, "{\"level\":\"ERROR\",\"message\":\"runtime API failed, exiting: %s: %s\"}\n",
		kl_strerror(rc), eb.code ? eb.msg : "(no detail)");
	rc = 1;
out:
	if (ctx) {
		kl_lambda_app_cleanup(&ctx->app);
		free(ctx);
	}
	if (rt_init)
		kl_lambda_runtime_cleanup(&rt);
	if (have_conn)
		kl_lambda_conn_cleanup(&conn);
	return rc;
}

/* --- main ---------------------------------------------------------------- */

static void usage(FILE *f)
{
	fprintf(f,
		"kinlake %s — land a stream of JSON events in a partitioned data lake\n\n"
		"Usage: kinlake <command> [options]      kinlake <command> --help\n\n"
		"Commands:\n"
		"  ingest      events from a file, stdin or a Kinesis stream into a lake (disk or S3)\n"
		"  transform   stdin -> stdout, one enriched event per line; dead letters to stderr\n"
		"  gen         write a synthetic event stream (for demos, tests and benchmarks)\n"
		"  lambda      run as the AWS Lambda custom runtime (Firehose, Kinesis event source)\n"
		"  plan        shards, capacity and monthly cost of a deployment for a workload\n"
		"  catalog     Athena DDL / Glue tables for a lake (catalog ddl|sync --lake DIR)\n"
		"  version     print the version\n\n"
		"Example:\n"
		"  kinlake gen --events 100000 > events.jsonl\n"
		"  kinlake ingest --input events.jsonl --lake ./lake\n"
		"  kinlake ingest --stream events --lake s3://my-bucket/lake --metrics-listen 127.0.0.1:9108\n",
		KL_VERSION);
}

int main(int argc, char **argv)
{
#ifdef __GLIBC__
	/* One malloc arena for every thread. glibc gives each thread that
	 * allocates its own arena, and a block freed by another thread (a file
	 * body made on an encoder thread, freed after the writer stored it)
	 * goes back to the arena it came from, where no one else reuses it:
	 * measured on 1M events, Parquet, --threads 2, peak RSS 289 MB with
	 * per-thread arenas and 251 MB with one, at the same CPU time. The hot
	 * paths do not allocate per event, and small blocks come from each
	 * thread's tcache without the arena lock, so one arena costs no
	 * measurable contention. */
	mallopt(M_ARENA_MAX, 1);
	/* And a heap that keeps what it was given. glibc's defaults return
	 * memory to the kernel as soon as it is free: the top of the heap is
	 * trimmed once 128 KiB of it are free (the threshold then follows the
	 * largest mmap'd block freed, up to 64 MiB), and a block over the
	 * mmap threshold (128 KiB, rising the same way to 32 MiB) is a mapping
	 * of its own, unmapped by free(). An ingest frees and remakes blocks of
	 * many MB all the time (a file's unpacked records and its encoded body,
	 * per file, on each encoder thread; sealed blocks; prep chunks), so the
	 * same memory went back and forth, and every new page came back zeroed
	 * by the kernel — with the heap in huge pages (reexec_with_thp) a 2 MiB
	 * clear_page per fault. Fixed thresholds keep free memory in the heap
	 * for the next block: measured, 1M events, Parquet, defaults, lake on
	 * disk: page faults 7,700-8,300 -> 1,100-1,400 per run, peak RSS
	 * 215 -> 229 MB (the heap's high-water mark now stays resident; the
	 * budget still bounds it). Setting them turns glibc's dynamic
	 * thresholds off.
	 * The mmap threshold is one huge page, not glibc's maximum (32 MiB):
	 * the buffers larger than that are a large file's pages, values and
	 * body on the encoder threads, made while an hour's worth of sealed
	 * blocks is still held, and in the heap they left it tens of MB
	 * higher for good (the blocks' freed frames are holes they do not
	 * fit). Mapped on their own they go back when freed: one hour of 1M
	 * events at the defaults, 3 alternated runs, peaked at 249-250 MB
	 * against 258-266 MB with 32 MiB (the limit is 262 MB); six hours:
	 * page faults 1,000-1,500 -> 4,500-7,000 a run, sys and user time
	 * within the noise (bench/README.md, session 14). */
	mallopt(M_MMAP_THRESHOLD, 2 << 20);
	mallopt(M_TRIM_THRESHOLD, 256 << 20);
#endif
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	const char *verb = argv[1];
	if (!strcmp(verb, "--help") || !strcmp(verb, "-h") || !strcmp(verb, "help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(verb, "--version") || !strcmp(verb, "version")) {
		printf("kinlake %s\n", KL_VERSION);
		return 0;
	}
	if (!strcmp(verb, "ingest"))
		return cmd_ingest(argc - 2, argv + 2, argv);
	if (!strcmp(verb, "transform"))
		return cmd_transform(argc - 2, argv + 2);
	if (!strcmp(verb, "gen"))
		return cmd_gen(argc - 2, argv + 2);
	if (!strcmp(verb, "lambda"))
		return cmd_lambda(argc - 2, argv + 2);
	if (!strcmp(verb, "plan"))
		return kl_cmd_plan(argc - 2, argv + 2);
	if (!strcmp(verb, "catalog"))
		return kl_cmd_catalog(argc - 2, argv + 2);
	fprintf(stderr, "kinlake: unknown command '%s' (commands: ingest, transform, gen, lambda, plan, catalog, version;"
			" see kinlake --help)\n", verb);
	return 2;
}
