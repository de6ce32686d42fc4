/* stream.c — see stream.h. */
#include "pipeline/stream.h"
#include "aws/kinesis.h"
#include "aws/retry.h"
#include "buffer/budget.h"
#include "commit/checkpoint.h"
#include "core/cancel.h"
#include "core/clock.h"
#include "dedup/dedup.h"
#include "encode/parquet/schema.h"
#include "lease/fence.h"
#include "metrics/metrics.h"
#include "parse/json.h"
#include "pipeline/pipeline.h"
#include "pipeline/writer.h"
#include "route/partition.h"
#include "source/input_id.h"
#include "source/seqmap.h"
#include "source/source_kinesis.h"

#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#define MAX_SHARDS 1024
#define RELIST_MS 5000
/* A re-list that failed (after its own few quick retries) is tried again
 * after a full-jitter wait (aws/retry.h) whose ceiling doubles from 1 s to
 * 30 s while the shards read on, so that many workers do not re-list in
 * lockstep; the run ends only once ListShards has failed for
 * list_timeout_ms. Retry n waits uniform[0, min(30 s, 500 ms * 2^n)]. */
#define RELIST_ATTEMPTS 3
#define RELIST_RETRY_POLICY \
	((struct kl_retry_policy){.base_ms = 500, .cap_ms = 30000, .max_attempts = 1})
#define LIST_TIMEOUT_MS_DEFAULT 300000

enum shard_state { SH_PENDING, SH_RUNNING, SH_DONE };

struct shard {
	char id[128], parent[128], adjacent[128];
	enum shard_state state;
	int closed;      /* ListShards gave it an ending sequence number */
	int stop_fd;     /* lease mode: this shard's own stop (-1: the run's) */
	int lease_lost;  /* lease mode: its fence refused a commit */
	int shedding;    /* lease mode: stopped to hand its lease to a worker that asked */
	uint64_t tenure; /* lease mode: the lease's tenure this run started under */
	int at_end;      /* the last run read the closed shard to its end */
	int unreleased;  /* lease mode, done: its release did not land (1, 2: at SHARD_END) */
	int idled;       /* lease mode: its last run ended on --exit-idle (lease_after) */
	int64_t retry_ms; /* ... retried from then on */
	uint32_t runs;   /* how many times it was started (kl_dedup_check_run) */
	pthread_t thread;
	volatile int finished; /* set by the worker, read under the mutex */
	int rc;
	struct kl_errbuf err;
	struct kl_ingest_stats st;
	struct stream_run *run;
};

struct stream_run {
	const struct kl_stream_opts *o;
	struct shard *shards;
	size_t n;
	int stop_fd; /* eventfd: written to stop every shard */
	struct kl_dedup dedup; /* one event_uuid window for the whole stream (shared) */
	struct kl_schema_registry *registry; /* one cache for every shard's Parquet files */
	struct kl_budget budget; /* one --memory-limit for every shard's buffers (shared) */
	struct kl_writer_unpack_pool unpack; /* o->encoders sets for every shard's writer (shared) */
	pthread_mutex_t mu;
	pthread_cond_t cv;
};

/* Lakes written before the checkpoints were keyed by the stream's name
 * (2026-12-05) keyed a stream given as an ARN by the ARN, ':' and '/' as
 * '_'. Given the same ARN, such a lake's shard goes on under its old key
 * as long as it has no log under the name's. */
static void legacy_arn_key(struct kl_store *store, const char *arn, const char *shard,
			   char *id, size_t cap)
{
	char old[700], key[760];
	snprintf(old, sizeof old, "%s-%s", arn, shard);
	for (char *p = old; *p; p++)
		if (*p == '/' || *p == ':')
			*p = '_';
	struct kl_buf b;
	kl_buf_init(&b, 0);
	snprintf(key, sizeof key, "_kinlake/state/%s.log", old);
	if (store->ops->read(store, key, &b) == KL_OK) {
		snprintf(key, sizeof key, "_kinlake/state/%s.log", id);
		if (store->ops->read(store, key, &b) == KL_ENOTFOUND)
			snprintf(id, cap, "%s", old);
	}
	kl_buf_cleanup(&b);
	kl_errbuf_clear(&store->err);
}

static void *shard_main(void *arg)
{
	struct shard *sh = arg;
	const struct kl_stream_opts *o = sh->run->o;
	struct kl_store *store = NULL;
	struct kl_source *src = NULL;
	kl_errbuf_clear(&sh->err);
	int rc = o->make_store(o->store_ctx, &store, &sh->err);
	if (!rc) {
		struct kl_kinesis_source_opts ko = {0};
		ko.stream = o->stream;
		ko.shard_id = sh->id;
		ko.region = o->region;
		ko.start = o->start;
		ko.exit_idle_ms = o->exit_idle_ms;
		ko.idle_poll_ms = o->idle_poll_ms;
		ko.stop_fd = sh->stop_fd >= 0 ? sh->stop_fd : sh->run->stop_fd;
		ko.creds = o->creds;
		ko.creds_mu = o->creds_mu;
		ko.pin = &sh->run->budget; /* the marks: the budget's, not on top (budget.h) */
		ko.metrics = o->ingest.metrics ? kl_metrics_shard(o->ingest.metrics, sh->id) : NULL;
		ko.retries = o->ingest.metrics ? &o->ingest.metrics->retries : NULL;
		ko.moved = o->ingest.metrics ? &o->ingest.metrics->kinesis_moved : NULL;
		if (!(src = kl_source_kinesis_new(&ko, &sh->err)))
			rc = sh->err.code ? sh->err.code : KL_ENOMEM;
	}
	struct kl_encoder *data_enc = NULL, *dead_enc = NULL;
	struct kl_state_checkpoint cp;
	memset(&cp, 0, sizeof cp);
	char id[700], name[700], prefix[17], dead_dt[11];
	/* the checkpoints are the stream's name's, however it was given
	 * (name or ARN: one stream, one progress) */
	snprintf(id, sizeof id, "%s-%s", kl_kinesis_stream_name(o->stream), sh->id);
	if (!rc && kl_kinesis_stream_name(o->stream) != o->stream)
		legacy_arn_key(store, o->stream, sh->id, id, sizeof id);
	kl_seqmap_input(name, sizeof name, o->stream, strlen(o->stream), sh->id);
	kl_input_id_of_name(id, prefix);
	kl_partition_day(time(NULL), dead_dt);
	struct kl_ingest_opts io = o->ingest;
	io.stop_fd = sh->stop_fd >= 0 ? sh->stop_fd : sh->run->stop_fd;
	io.progress = NULL;
	if (!rc)
		rc = kl_pipeline_encoders_new(&io, store, sh->run->registry, &data_enc, &dead_enc,
					      &sh->err);
	if (!rc && (rc = kl_state_checkpoint_open_store(&cp, store, id)))
		kl_errbuf_set(&sh->err, rc, "%s", cp.base.err.msg);
	struct kl_lease_fence fence;
	struct kl_store *fenced = NULL; /* files, too, only while the lease is ours */
	if (!rc && o->leases) { /* commits only while the lease is ours (lease/fence.h) */
		_Atomic uint64_t *refused =
		    o->ingest.metrics ? &o->ingest.metrics->lease_commits_refused : NULL;
		kl_lease_fence_init(&fence, &cp, o->leases, sh->id, sh->tenure, refused);
		rc = kl_lease_fenced_store_new(&fenced, store, o->leases, sh->id, sh->tenure, refused,
					       &sh->err);
	}
	if (!rc) {
		struct kl_pipeline_parts parts = {
			.source = src,
			.store = fenced ? fenced : store,
			.data_enc = data_enc,
			.dead_enc = dead_enc,
			.dedup = &sh->run->dedup,
			/* a shard may come back to this worker (leases): what its
			 * earlier run saw but did not commit is not a duplicate */
			.dedup_input = (uint32_t)(sh - sh->run->shards),
			.dedup_run = sh->runs,
			.checkpoint = o->leases ? &fence.base : &cp.base,
			.source_name = name,
			.file_prefix = prefix,
			.dead_dt = dead_dt,
			.budget = &sh->run->budget,
			.unpack_pool = o->encoders ? &sh->run->unpack : NULL,
			.shard_metrics = o->ingest.metrics ? kl_metrics_shard(o->ingest.metrics, sh->id)
							   : NULL,
		};
		rc = kl_pipeline_run(&io, &parts, &sh->st, &sh->err);
		if (rc && !sh->err.code)
			kl_errbuf_set(&sh->err, rc, "%s", src->err.msg);
		if (o->leases)
			sh->lease_lost = atomic_load(&fence.lost);
		sh->at_end = kl_source_kinesis_at_end(src);
	}
	kl_state_checkpoint_close(&cp);
	kl_store_free(fenced);
	kl_encoder_free(data_enc);
	kl_encoder_free(dead_enc);
	kl_source_free(src);
	kl_store_free(store);
	pthread_mutex_lock(&sh->run->mu);
	sh->rc = rc;
	sh->finished = 1;
	pthread_cond_broadcast(&sh->run->cv);
	pthread_mutex_unlock(&sh->run->mu);
	return NULL;
}

static struct shard *find(struct stream_run *r, const char *id)
{
	for (size_t i = 0; i < r->n; i++)
		if (!strcmp(r->shards[i].id, id))
			return &r->shards[i];
	return NULL;
}

/* A shard of a ListShards page: a known one may have closed since; an
 * unknown one is added as pending. */
static int add_shard(void *ctx, const struct kl_kinesis_shard *sh)
{
	struct stream_run *r = ctx;
	struct shard *known = find(r, sh->id);
	if (known)
		known->closed |= sh->closed;
	if (known || r->n == MAX_SHARDS)
		return KL_OK;
	struct shard *n = &r->shards[r->n++];
	memset(n, 0, sizeof *n);
	n->closed = sh->closed;
	n->stop_fd = -1;
	memcpy(n->id, sh->id, sizeof n->id);
	memcpy(n->parent, sh->parent, sizeof n->parent);
	memcpy(n->adjacent, sh->adjacent, sizeof n->adjacent);
	n->run = r;
	return KL_OK;
}

/* ListShards, all pages; adds unknown shards as pending. */
static int list_shards(struct stream_run *r, struct kl_kinesis *k, struct kl_errbuf *eb)
{
	struct kl_buf req, token;
	kl_buf_init(&req, 0);
	kl_buf_init(&token, 0);
	int rc = KL_OK;
	for (;;) {
		kl_buf_reset(&req);
		if (token.len) {
			rc = kl_buf_puts(&req, "{\"NextToken\":\"");
			rc = rc ? rc : kl_buf_append(&req, token.data, token.len);
			rc = rc ? rc : kl_buf_puts(&req, "\"}");
		} else {
			int arn = !strncmp(r->o->stream, "arn:", 4);
			rc = kl_buf_puts(&req, arn ? "{\"StreamARN\":\"" : "{\"StreamName\":\"");
			rc = rc ? rc : kl_json_escape_append(&req, r->o->stream, strlen(r->o->stream));
			rc = rc ? rc : kl_buf_puts(&req, "\"}");
		}
		if (rc)
			break;
		if ((rc = kl_kinesis_call(k, "ListShards", req.data, req.len))) {
			kl_errbuf_set(eb, rc, "%s", k->c.err.msg);
			break;
		}
		rc = kl_kinesis_shards_page(k->c.resp.body.data, k->c.resp.body.len, &token,
					    add_shard, r);
		if (rc) {
			kl_errbuf_set(eb, rc, rc == KL_EPARSE ? "ListShards: unexpected response"
							      : "out of memory");
			break;
		}
		if (!token.len)
			break;
	}
	kl_buf_cleanup(&req);
	kl_buf_cleanup(&token);
	return rc;
}

/* Worth listing again later: throttling (LimitExceededException is how
 * ListShards is throttled: aws/retry.c), 5xx, resets, timeouts (KL_ERETRY
 * once the call's own retries are spent), and a garbled answer. Not:
 * credentials, a stream that does not exist, out of memory, a shutdown. */
static int list_transient(int rc)
{
	return rc == KL_ERETRY || rc == KL_EPARSE;
}

/* A parent that is not listed any more (trimmed) counts as done. */
static int parent_done(struct stream_run *r, const char *id)
{
	if (!id[0])
		return 1;
	struct shard *p = find(r, id);
	return !p || p->state == SH_DONE;
}

/* May this shard start (again)? Without leases: a pending shard, when its
 * parents are read to their end here. With leases: when this worker holds
 * its lease (the lease layer takes a child only after its parents'
 * SHARD_END, whoever read them) — a pending shard, or a done one whose
 * lease came back under a new tenure (taken again after its release): a
 * lease this worker holds always has a run, never "held and not read". */
static int startable(struct stream_run *r, struct shard *sh)
{
	if (r->o->leases) {
		if (sh->state == SH_PENDING)
			return kl_lease_keeper_holds(r->o->leases, sh->id);
		if (sh->state != SH_DONE || sh->unreleased)
			return 0;
		uint64_t t = kl_lease_keeper_tenure(r->o->leases, sh->id);
		return t && t != sh->tenure;
	}
	if (sh->state != SH_PENDING)
		return 0;
	return parent_done(r, sh->parent) && parent_done(r, sh->adjacent);
}

/* Stop every shard: the run's fd, and in lease mode each shard's own. */
static void stop_all(struct stream_run *r)
{
	uint64_t one = 1;
	if (r->o->leases) /* what is handed over from now on stays handed over */
		kl_lease_keeper_drain(r->o->leases);
	(void)!write(r->stop_fd, &one, sizeof one);
	for (size_t i = 0; i < r->n; i++)
		if (r->shards[i].stop_fd >= 0)
			(void)!write(r->shards[i].stop_fd, &one, sizeof one);
}

/* Lease mode: every listed shard gets a row in the lease table. */
static int lease_sync(struct stream_run *r, struct kl_errbuf *eb)
{
	struct kl_lease_shard *ls = calloc(r->n ? r->n : 1, sizeof *ls);
	if (!ls)
		return kl_errbuf_set(eb, KL_ENOMEM, "out of memory");
	for (size_t i = 0; i < r->n; i++) {
		ls[i].id = r->shards[i].id;
		ls[i].parents[0] = r->shards[i].parent;
		ls[i].parents[1] = r->shards[i].adjacent;
	}
	int rc = kl_lease_keeper_sync(r->o->leases, ls, r->n, eb);
	free(ls);
	return rc;
}

/* Lease mode: hand a done shard's lease over (lease_after); a release that
 * did not land (DynamoDB unreachable, say) is retried from the main loop
 * every second while the lease is still held under the run's tenure —
 * otherwise the keeper would renew it for as long as this worker lives, and
 * nobody would read the shard (or, at SHARD_END, its children). */
static void lease_release(struct stream_run *r, struct shard *sh)
{
	struct kl_errbuf eb;
	kl_errbuf_clear(&eb);
	int rc = kl_lease_keeper_release(r->o->leases, sh->id, sh->tenure,
					 sh->unreleased == 2 ? KL_LEASE_SHARD_END : NULL, &eb);
	if (rc && kl_lease_keeper_holds_tenure(r->o->leases, sh->id, sh->tenure)) {
		sh->retry_ms = kl_mono_ms() + 1000;
		return;
	}
	sh->unreleased = 0; /* released, or not ours any more */
}

/* Lease mode, a shard's run has ended. Stopped because its lease went to
 * another worker (the fence refused a commit, or the lease is no longer
 * held under the tenure the run started with — also when this worker has
 * taken it back since: lease/fence.h): the shard is pending again, it may
 * come back (a new run under the new tenure), and this is not a failure
 * (returns 1). Otherwise the shard is done here and its lease handed over:
 * at SHARD_END when the run read the closed shard to its end (the source
 * says so), else with the checkpoint as it is — stopping (graceful
 * shutdown: the keeper takes nothing any more, stop_all), or ended on idle
 * (--exit-idle): then the lease is forgone first, so that this worker's
 * next take does not take it back and hold it without reading it; another
 * worker may take it. A done shard whose lease comes back all the same
 * gets a new run (startable). */
static int lease_after(struct stream_run *r, struct shard *sh, int stopping)
{
	sh->idled = 0;
	/* stopped while the worker goes on: by lease_stop_lost, also when the
	 * lease only looked lost (a renew late on a loaded machine) and is held
	 * again under the same tenure — read on, never release and leave the
	 * shard done while the lease may come back to this worker */
	if (sh->lease_lost || sh->rc == KL_ECONFLICT ||
	    !kl_lease_keeper_holds_tenure(r->o->leases, sh->id, sh->tenure)) {
		sh->state = SH_PENDING;
		return 1;
	}
	if (sh->shedding && !sh->rc) {
		/* asked for by another worker (lease.h, "ask"): what the run read
		 * is committed; the release hands the rest over, no record is
		 * read twice. Pending: it may come back under a new tenure. */
		sh->unreleased = !sh->st.interrupted && sh->at_end ? 2 : 1;
		lease_release(r, sh);
		sh->state = SH_PENDING;
		return 1;
	}
	if (sh->st.interrupted && !stopping) {
		sh->state = SH_PENDING;
		return 1;
	}
	if (!sh->rc) {
		int ended = !sh->st.interrupted && sh->at_end;
		sh->idled = !sh->st.interrupted && !ended;
		if (sh->idled)
			kl_lease_keeper_forgo(r->o->leases, sh->id);
		sh->unreleased = ended ? 2 : 1;
		lease_release(r, sh);
	}
	return 0;
}

/* Lease mode: the keeper's counters into the metrics. */
static void lease_metrics(const struct kl_stream_opts *o)
{
	if (!o->ingest.metrics)
		return;
	struct kl_lease_stats ls;
	kl_lease_keeper_stats(o->leases, &ls);
	atomic_store(&o->ingest.metrics->leases_held, ls.held);
	atomic_store(&o->ingest.metrics->leases_taken, ls.taken);
	atomic_store(&o->ingest.metrics->leases_stolen, ls.stolen);
	atomic_store(&o->ingest.metrics->leases_lost, ls.lost);
}

/* Lease mode: readers of shards whose lease is gone stop now — also when
 * the lease is held again, under another tenure than the run's; and so do
 * readers of shards another worker asked for (they commit, then release:
 * lease_after). */
static void lease_stop_lost(struct stream_run *r)
{
	uint64_t one = 1;
	for (size_t i = 0; i < r->n; i++) {
		struct shard *sh = &r->shards[i];
		if (sh->state != SH_RUNNING || sh->finished || sh->stop_fd < 0)
			continue;
		if (!kl_lease_keeper_holds_tenure(r->o->leases, sh->id, sh->tenure)) {
			(void)!write(sh->stop_fd, &one, sizeof one);
		} else if (!sh->shedding && kl_lease_keeper_shed(r->o->leases, sh->id)) {
			sh->shedding = 1;
			(void)!write(sh->stop_fd, &one, sizeof one);
		}
	}
}

static int poll_fd(int fd, int ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	return fd >= 0 && poll(&p, 1, ms) > 0 && (p.revents & POLLIN);
}

int kl_stream_run(const struct kl_stream_opts *o, struct kl_stream_stats *st,
		  struct kl_errbuf *eb)
{
	memset(st, 0, sizeof *st);
	int64_t t0 = kl_mono_ms();
	struct stream_run r;
	memset(&r, 0, sizeof r);
	r.o = o;
	r.shards = calloc(MAX_SHARDS, sizeof *r.shards);
	r.stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	pthread_mutex_init(&r.mu, NULL);
	pthread_cond_init(&r.cv, NULL);
	kl_budget_init(&r.budget, kl_pipeline_buffer_budget(&o->ingest));
	int drc = kl_dedup_init_shared(&r.dedup, o->ingest.dedup_window);
	drc = drc ? drc : o->encoders ? kl_writer_unpack_pool_init(&r.unpack, o->encoders) : KL_OK;
	r.registry = kl_schema_registry_new();
	drc = drc ? drc : r.registry ? KL_OK : KL_ENOMEM;
	struct kl_kinesis k;
	int rc = !r.shards || r.stop_fd < 0 || drc ? kl_errbuf_set(eb, KL_ENOMEM, "out of resources")
					     : kl_kinesis_init(&k, o->region, eb);
	int k_ok = rc == KL_OK;
	if (k_ok && o->creds)
		kl_kinesis_share_creds(&k, o->creds, o->creds_mu);
	if (k_ok && o->ingest.metrics)
		k.c.retries = &o->ingest.metrics->retries;
	/* the lister's calls and their backoff end at SIGTERM, as the shards' do */
	struct kl_cancel stop = {NULL, o->ingest.stop_fd};
	if (k_ok && o->ingest.stop_fd >= 0)
		k.c.cancel = &stop;
	int stopping = !k_ok, failed = !k_ok;
	/* lease mode: renew and take on the keeper's thread, never behind ListShards */
	if (k_ok && o->leases && kl_lease_keeper_thread_start(o->leases)) {
		rc = kl_errbuf_set(eb, KL_ENOMEM, "cannot start the lease thread");
		stopping = failed = 1;
	}
	int64_t since_list = RELIST_MS, relist_ms = RELIST_MS;
	/* re-lists that failed in a row and since when (kl_mono_ms) */
	unsigned list_failures = 0;
	int64_t list_failing_since = 0;
	int listed = 0; /* a ListShards went through: later failures are re-lists */
	int64_t list_timeout_ms =
	    o->list_timeout_ms > 0 ? o->list_timeout_ms : LIST_TIMEOUT_MS_DEFAULT;
	/* --exit-idle with leases: holding no shard may only mean no lease
	 * yet. A worker that holds none ends once (a) nothing has been read
	 * for exit_idle_ms: since its start, or since its last shard's run
	 * ended (a run that ended on idle had read nothing for that long
	 * already, so the worker does not wait it out a second time); and
	 * (b) a round of takes has gone through after its last re-list
	 * (kl_lease_keeper_take_soon), so that a lease free by then — a
	 * split's children, a shard another worker let go — is taken and
	 * read, not left behind. Should no round go through (DynamoDB
	 * failing), it ends exit_idle_ms after its last shard's run. */
	int64_t quiet_since = t0, last_end = t0;
	uint64_t ticket = 0;
	int ticket_on = 0;
	for (;;) {
		if (!stopping && since_list >= relist_ms) {
			struct kl_errbuf leb;
			kl_errbuf_clear(&leb);
			int lrc = list_shards(&r, &k, &leb);
			since_list = 0;
			relist_ms = RELIST_MS;
			if (lrc == KL_EINTR) {
				/* SIGTERM during the call: the stop check below ends the run */
			} else if (lrc && listed && list_transient(lrc)) {
				/* the shards read on; the list is tried again, later and
				 * later, until it has failed for list_timeout_ms */
				int64_t now = kl_mono_ms();
				if (!list_failures++)
					list_failing_since = now;
				if (now - list_failing_since >= list_timeout_ms) {
					failed = stopping = 1;
					rc = lrc;
					kl_errbuf_set(
					    eb, lrc,
					    "ListShards has failed for %.0f s (%u tries, "
					    "--list-shards-timeout %.0f s), so the run ends; "
					    "every shard commits what it read: %s",
					    (double)(now - list_failing_since) / 1000.0,
					    list_failures, (double)list_timeout_ms / 1000.0,
					    leb.msg);
					stop_all(&r);
				} else {
					/* the lister's own client's rng (seeded per
					 * client at init), used on this thread only */
					relist_ms = kl_retry_backoff_ms(&RELIST_RETRY_POLICY,
									list_failures, &k.c.rng);
					if (o->ingest.metrics) /* the next list sends it again */
						atomic_fetch_add_explicit(
						    &o->ingest.metrics->retries, 1,
						    memory_order_relaxed);
				}
			} else {
				if (!lrc) {
					listed = 1;
					list_failures = 0;
					/* the first list may ride out a slow start with more
					 * tries; a re-list keeps the main thread responsive */
					k.c.policy.max_attempts = RELIST_ATTEMPTS;
				}
				if (!lrc && o->leases)
					lrc = lease_sync(&r, &leb);
				if (lrc) {
					failed = stopping = 1;
					rc = lrc;
					kl_errbuf_set(eb, lrc, "%s", leb.msg);
					stop_all(&r);
				}
			}
		}
		if (o->leases)
			lease_metrics(o);
		int running = 0, n_startable = 0;
		pthread_mutex_lock(&r.mu);
		for (size_t i = 0; i < r.n; i++) {
			struct shard *sh = &r.shards[i];
			if (sh->state != SH_RUNNING || !sh->finished)
				continue;
			pthread_join(sh->thread, NULL);
			sh->state = SH_DONE;
			if (sh->stop_fd >= 0)
				close(sh->stop_fd);
			sh->stop_fd = -1;
			int handed_over = o->leases && lease_after(&r, sh, stopping);
			if (o->leases) { /* (a) above */
				last_end = kl_mono_ms();
				int64_t q = sh->idled ? last_end - o->exit_idle_ms : last_end;
				quiet_since = q > quiet_since ? q : quiet_since;
				ticket_on = 0;
			}
			sh->finished = 0;
			if (o->ingest.metrics)
				atomic_fetch_sub(&o->ingest.metrics->shards_running, 1);
			kl_ingest_stats_add(&st->total, &sh->st);
			st->total.interrupted |= sh->st.interrupted && !handed_over;
			if (!list_failures) /* look for its children now */
				since_list = relist_ms;
			if (sh->rc && !failed && !handed_over) {
				failed = stopping = 1;
				rc = sh->rc;
				kl_errbuf_set(eb, sh->rc, "shard %s: %s", sh->id, sh->err.msg);
				stop_all(&r); /* others flush and stop */
			}
		}
		for (size_t i = 0; i < r.n && o->leases; i++) {
			struct shard *sh = &r.shards[i];
			if (sh->state == SH_DONE && sh->unreleased && kl_mono_ms() >= sh->retry_ms)
				lease_release(&r, sh);
		}
		for (size_t i = 0; i < r.n && !stopping; i++) {
			struct shard *sh = &r.shards[i];
			if (!startable(&r, sh))
				continue;
			/* the run is fenced to this tenure of the lease (lease/fence.h) */
			if (o->leases && !(sh->tenure = kl_lease_keeper_tenure(o->leases, sh->id)))
				continue; /* lost since startable() said yes */
			if (o->leases &&
			    (sh->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0) {
				failed = stopping = 1;
				rc = kl_errbuf_set(eb, KL_ENOMEM, "cannot make a shard's stop fd");
				stop_all(&r);
				break;
			}
			memset(&sh->st, 0, sizeof sh->st);
			sh->rc = 0;
			sh->lease_lost = 0;
			sh->shedding = 0;
			sh->at_end = 0;
			sh->runs++;
			sh->state = SH_RUNNING;
			st->shards++;
			if (o->ingest.metrics)
				atomic_fetch_add(&o->ingest.metrics->shards_running, 1);
			if (pthread_create(&sh->thread, NULL, shard_main, sh)) {
				sh->state = SH_DONE;
				if (o->ingest.metrics)
					atomic_fetch_sub(&o->ingest.metrics->shards_running, 1);
				failed = stopping = 1;
				rc = kl_errbuf_set(eb, KL_ENOMEM, "cannot start a shard thread");
				stop_all(&r);
			} else {
				/* for ps/top and perf (bench/perf_stages.sh) */
				pthread_setname_np(sh->thread, "kl-shard");
			}
		}
		if (o->leases)
			lease_stop_lost(&r);
		/* before the count: what that round took counts as startable */
		int took = ticket_on && kl_lease_keeper_took_since(o->leases, ticket);
		for (size_t i = 0; i < r.n; i++) {
			running += r.shards[i].state == SH_RUNNING;
			n_startable += startable(&r, &r.shards[i]);
		}
		/* while ListShards fails, a shard's children may be unknown yet */
		int idle = !running && o->exit_idle_ms && !n_startable && !list_failures;
		if (idle && o->leases) { /* (a) and (b) above */
			int64_t now = kl_mono_ms();
			int quiet = now - quiet_since >= o->exit_idle_ms;
			if (quiet && !ticket_on && since_list < relist_ms) {
				ticket = kl_lease_keeper_take_soon(o->leases);
				ticket_on = 1;
			}
			idle = took || now - last_end >= o->exit_idle_ms;
		} else if (!idle) {
			ticket_on = 0;
		}
		if (!running && (stopping || idle)) {
			pthread_mutex_unlock(&r.mu);
			break;
		}
		struct timespec ts = kl_realtime_after_ms(200);
		pthread_cond_timedwait(&r.cv, &r.mu, &ts);
		pthread_mutex_unlock(&r.mu);
		since_list += 200;
		if (!stopping && poll_fd(o->ingest.stop_fd, 0)) {
			stopping = 1;
			st->total.interrupted = 1;
			stop_all(&r);
		}
	}
	if (o->leases) { /* graceful: whatever is still held goes to the others now */
		struct kl_errbuf leb;
		kl_errbuf_clear(&leb);
		kl_lease_keeper_thread_stop(o->leases);
		kl_lease_keeper_release_all(o->leases, &leb);
		lease_metrics(o);
	}
	st->total.seconds = (double)(kl_mono_ms() - t0) / 1000.0;
	if (k_ok)
		kl_kinesis_cleanup(&k);
	if (r.stop_fd >= 0)
		close(r.stop_fd);
	free(r.shards);
	kl_dedup_cleanup(&r.dedup);
	kl_writer_unpack_pool_cleanup(&r.unpack);
	kl_schema_registry_free(r.registry);
	pthread_mutex_destroy(&r.mu);
	pthread_cond_destroy(&r.cv);
	return rc;
}
