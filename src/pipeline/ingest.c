/* ingest.c — see ingest.h: the parts of one file's (or stdin's) run. */
#include "pipeline/ingest.h"
#include "commit/checkpoint.h"
#include "core/cancel.h"
#include "core/clock.h"
#include "dedup/dedup.h"
#include "encode/parquet/schema.h"
#include "pipeline/pipeline.h"
#include "route/partition.h"
#include "source/input_id.h"
#include "source/source.h"
#include "store/store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

void kl_ingest_opts_default(struct kl_ingest_opts *o)
{
	memset(o, 0, sizeof *o);
	o->input = "-";
	o->lake = "lake";
	o->format = KL_FORMAT_JSONL;
	o->compression = KL_COMP_ZSTD;
	o->max_file_bytes = 128u << 20;
	o->flush_interval_ms = 300 * 1000;
	o->memory_limit = 256u << 20;
	o->window = KL_WINDOW_INTERVAL;
	o->allowed_lateness_ms = 600 * 1000;
	o->dedup_window = 1000000;
	o->stop_fd = -1;
	o->row_group_bytes = 128u << 20;
	o->threads = 1;
	kl_event_limits_default(&o->limits);
}

/* Everything a file run owns. */
struct file_run {
	int fd, own_fd;
	struct kl_source *src;
	struct kl_store *store;
	struct kl_encoder *data_enc, *dead_enc;
	struct kl_schema_registry *registry;
	struct kl_dedup dedup;
	struct kl_state_checkpoint cp;
	char id[17], dead_dt[11];
	uint64_t size; /* 0 = unknown */
	int by_content; /* id = the hash of the first `size` bytes: read no further */
};

/* The hash's progress, drawn as the run's is (every ~200 ms). */
struct hash_tick {
	const struct kl_ingest_opts *o;
	uint64_t size;
	int64_t t0, last;
};

static void hash_tick(void *ctx, uint64_t done)
{
	struct hash_tick *t = ctx;
	int64_t now = kl_mono_ms();
	if (now - t->last < 200)
		return;
	t->last = now;
	struct kl_ingest_progress p = {.pos = done,
				       .size = t->size,
				       .seconds = (double)(now - t->t0) / 1e3,
				       .hashing = 1};
	t->o->progress(t->o->progress_ctx, &p);
}

/* Open the input and name it (source/input_id.h). Hashing a regular file
 * reads all of it first, which on a cold disk takes as long as the run's
 * own reading may: a stop request ends it (KL_EINTR, nothing read), and
 * the progress callback sees it. */
static int open_input(const struct kl_ingest_opts *o, struct file_run *f, struct kl_errbuf *eb)
{
	struct stat sb;
	time_t arrival = time(NULL);
	if (strcmp(o->input, "-") != 0) {
		f->fd = open(o->input, O_RDONLY | O_CLOEXEC);
		if (f->fd < 0)
			return kl_errbuf_set(eb, KL_EIO, "cannot open input %s: %s", o->input,
					     strerror(errno));
		f->own_fd = 1;
	}
	uint64_t h = 0;
	int regular = fstat(f->fd, &sb) == 0 && S_ISREG(sb.st_mode);
	if (regular) {
		arrival = sb.st_mtime;
		f->size = (uint64_t)sb.st_size;
	}
	if (o->input_id) {
		kl_input_id_of_name(o->input_id, f->id);
	} else if (regular) {
		/* the stop token, else the signal fd itself (a poll per check) */
		struct kl_cancel by_fd = {NULL, o->stop_fd};
		struct hash_tick tick = {o, f->size, kl_mono_ms(), kl_mono_ms()};
		struct kl_input_hash_hooks hooks = {
		    .stop = o->stop ? o->stop : o->stop_fd >= 0 ? &by_fd : NULL,
		    .tick = o->progress ? hash_tick : NULL,
		    .ctx = &tick,
		};
		int rc = kl_input_hash_fd(f->fd, &f->size, &h, &hooks, eb);
		if (rc)
			return rc;
		kl_input_id_hex(h, f->id);
		f->by_content = 1;
	} else {
		kl_input_id_fresh(f->id); /* a pipe has no identity */
	}
	kl_partition_day(arrival, f->dead_dt);
	return KL_OK;
}

int kl_ingest_run(const struct kl_ingest_opts *o, struct kl_ingest_stats *st, struct kl_errbuf *eb)
{
	struct file_run f;
	memset(&f, 0, sizeof f);
	memset(st, 0, sizeof *st);
	int rc;
	if ((rc = kl_dedup_init(&f.dedup, o->dedup_window))) {
		kl_errbuf_set(eb, rc, "cannot allocate a dedup window of %zu events",
			      o->dedup_window);
		goto out;
	}
	struct kl_store *store = o->store;
	if (!store) {
		if ((rc = kl_store_local_new(&f.store, o->lake, eb)))
			goto out;
		uint64_t swept;
		kl_store_local_sweep(o->lake, &swept);
		store = f.store;
	}
	if (o->format == KL_FORMAT_PARQUET && !(f.registry = kl_schema_registry_new())) {
		rc = kl_errbuf_set(eb, KL_ENOMEM, "out of memory");
		goto out;
	}
	if ((rc = kl_pipeline_encoders_new(o, store, f.registry, &f.data_enc, &f.dead_enc, eb)))
		goto out;
	if ((rc = open_input(o, &f, eb))) {
		if (rc == KL_EINTR) { /* stopped before anything was read: a clean stop */
			st->interrupted = 1;
			rc = KL_OK;
			if (o->progress) {
				struct kl_ingest_progress p = {.size = f.size, .final = 1, .hashing = 1};
				o->progress(o->progress_ctx, &p);
			}
		}
		goto out;
	}
	memcpy(st->input_id, f.id, sizeof f.id);
	if ((rc = o->store ? kl_state_checkpoint_open_file_store(&f.cp, store, f.id, f.size)
			   : kl_state_checkpoint_open(&f.cp, o->lake, f.id, f.size))) {
		kl_errbuf_set(eb, rc, "%s", f.cp.base.err.msg);
		goto out;
	}
	const struct kl_state *state = &f.cp.state;
	if (state->done && state->done_size == f.size && f.size) {
		st->already_done = 1;
		goto out;
	}
	/* re-read from the dedup window's start: records before the resume
	 * point only rebuild the window (commit/state.h) */
	uint64_t start = state->window < state->resume ? state->window : state->resume;
	size_t cap = o->limits.max_record_bytes * 2;
	if (cap < (64u << 20))
		cap = 64u << 20;
	/* a file named by its content ends where the hash ended: what is
	 * appended meanwhile is other content, never read under this name */
	if (!(f.src = kl_source_fd_new(f.fd, f.own_fd, start, f.by_content ? f.size : 0, cap,
				       o->stop_fd))) {
		rc = kl_errbuf_set(eb, KL_ENOMEM, "out of memory");
		goto out;
	}
	f.own_fd = 0; /* the source closes it */
	struct kl_pipeline_parts parts = {
	    .source = f.src,
	    .store = store,
	    .data_enc = f.data_enc,
	    .dead_enc = f.dead_enc,
	    .dedup = &f.dedup,
	    .checkpoint = &f.cp.base,
	    .source_name = strcmp(o->input, "-") ? o->input : "stdin",
	    .file_prefix = f.id,
	    .dead_dt = f.dead_dt,
	    .input_size = f.size,
	};
	rc = kl_pipeline_run(o, &parts, st, eb);
	memcpy(st->input_id, f.id, sizeof f.id);
	struct stat sb;
	if (f.by_content && fstat(f.fd, &sb) == 0 && (uint64_t)sb.st_size > f.size) {
		st->hashed_size = f.size;
		st->grown_size = (uint64_t)sb.st_size;
	}
out:
	kl_source_free(f.src);
	if (f.own_fd)
		close(f.fd);
	kl_state_checkpoint_close(&f.cp);
	kl_encoder_free(f.data_enc);
	kl_encoder_free(f.dead_enc);
	kl_schema_registry_free(f.registry);
	kl_store_free(f.store);
	kl_dedup_cleanup(&f.dedup);
	return rc;
}
