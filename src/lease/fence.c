/* fence.c — see fence.h. */
#include "lease/fence.h"
#include "core/clock.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct kl_lease_fence *of(struct kl_checkpoint *c)
{
	return (struct kl_lease_fence *)c; /* base is the first member */
}

static int inner_err(struct kl_lease_fence *f, int rc)
{
	kl_errbuf_set(&f->base.err, rc, "%s", f->inner->base.err.msg);
	return rc;
}

static int refuse(struct kl_lease_fence *f, const char *why)
{
	atomic_store(&f->lost, 1);
	if (f->refused)
		atomic_fetch_add(f->refused, 1);
	return kl_errbuf_set(&f->base.err, KL_ECONFLICT,
			     "shard %s: lease lost (%s): nothing committed", f->shard, why);
}

/* Take the state log over (fence.h): read it with its version, check the
 * lease after that read, and write it back conditionally on that version.
 * Refused: someone wrote it since (the previous owner's last commit
 * landing late): read it again and retry, while the lease is held. */
static int claim(struct kl_lease_fence *f)
{
	struct kl_state *st = &f->inner->state;
	for (int attempt = 0; attempt < 4; attempt++) {
		int rc = kl_state_reload(st);
		if (rc)
			return kl_errbuf_set(&f->base.err, rc, "%s", st->err.msg);
		int64_t counter;
		if (!kl_lease_keeper_held_counter(f->keeper, f->shard, &counter) ||
		    !kl_lease_keeper_holds_tenure(f->keeper, f->shard, f->tenure))
			return refuse(f, "not held when the state log was claimed");
		char owner[sizeof st->owner];
		snprintf(owner, sizeof owner, "%.150s %" PRId64 " %" PRIx64, f->keeper->worker_id,
			 counter, (uint64_t)kl_mono_ns() ^ ((uint64_t)attempt << 60));
		rc = kl_state_claim(st, owner);
		if (!rc)
			return KL_OK;
		if (rc != KL_ECONFLICT)
			return kl_errbuf_set(&f->base.err, rc, "%s", st->err.msg);
	}
	return refuse(f, "its state log kept changing while it was claimed");
}

static int fence_load(struct kl_checkpoint *c, struct kl_source *src, uint64_t *resume,
		      kl_checkpoint_part_fn fn, void *ctx)
{
	struct kl_lease_fence *f = of(c);
	int rc = claim(f);
	if (rc)
		return rc;
	rc = f->inner->base.ops->load(&f->inner->base, src, resume, fn, ctx);
	return rc ? inner_err(f, rc) : KL_OK;
}

static int fence_commit(struct kl_checkpoint *c, const struct kl_checkpoint_job *j)
{
	struct kl_lease_fence *f = of(c);
	if (atomic_load(&f->lost) || !kl_lease_keeper_holds_tenure(f->keeper, f->shard, f->tenure))
		return refuse(f, "no longer held");
	if (j->source_checkpoint && *j->source_checkpoint) {
		struct kl_errbuf eb;
		kl_errbuf_clear(&eb);
		int rc = kl_lease_keeper_checkpoint(f->keeper, f->shard, f->tenure,
						    j->source_checkpoint, &eb);
		if (rc == KL_ECONFLICT || rc == KL_ENOTFOUND)
			return refuse(f, eb.msg);
		/* other errors: still ours by the local clock (fence.h) */
		if (rc && !kl_lease_keeper_holds_tenure(f->keeper, f->shard, f->tenure))
			return refuse(f, eb.msg);
	}
	int rc = f->inner->base.ops->commit(&f->inner->base, j);
	if (rc == KL_ECONFLICT) /* the state log moved on: someone else's now */
		return refuse(f, f->inner->base.err.msg);
	return rc ? inner_err(f, rc) : KL_OK;
}

static void fence_file(struct kl_checkpoint *c, uint64_t first_pos, uint64_t last_pos,
		       uint64_t count, int durable)
{
	struct kl_lease_fence *f = of(c);
	if (f->inner->base.ops->file)
		f->inner->base.ops->file(&f->inner->base, first_pos, last_pos, count, durable);
}

static int fence_finish(struct kl_checkpoint *c)
{
	struct kl_lease_fence *f = of(c);
	if (atomic_load(&f->lost))
		return refuse(f, "no longer held");
	int rc = f->inner->base.ops->finish(&f->inner->base);
	if (rc == KL_ECONFLICT)
		return refuse(f, f->inner->base.err.msg);
	return rc ? inner_err(f, rc) : KL_OK;
}

static const struct kl_checkpoint_ops fence_ops = {
    .load = fence_load,	    /* claim the state log, then the inner checkpoint's load */
    .commit = fence_commit, /* lease check + fenced mirror, then the inner (conditional) commit */
    .commit_batch = NULL,   /* each job checked and mirrored on its own: commit() per job */
    .file = fence_file,	    /* passed through */
    .finish = fence_finish, /* the inner finish, unless the lease was lost */
};

void kl_lease_fence_init(struct kl_lease_fence *f, struct kl_state_checkpoint *inner,
			 struct kl_lease_keeper *keeper, const char *shard, uint64_t tenure,
			 _Atomic uint64_t *refused)
{
	memset(f, 0, sizeof *f);
	f->base.ops = &fence_ops;
	f->base.name_before_dedup = inner->base.name_before_dedup;
	f->inner = inner;
	f->keeper = keeper;
	f->refused = refused;
	f->tenure = tenure;
	snprintf(f->shard, sizeof f->shard, "%s", shard);
}

/* ---- the fenced store ---- */

struct fenced_store {
	struct kl_store base;
	struct kl_store *inner;
	struct kl_lease_keeper *keeper;
	uint64_t tenure;
	char shard[KL_LEASE_KEY_MAX];
	_Atomic uint64_t *refused;
	int guard_refused; /* fs_guard refused since guarded_result last looked */
};

/* This module's file: the inner store's file, its key, and the store. */
struct kl_store_file {
	struct fenced_store *s;
	struct kl_store_file *inner;
	char *key;
};

static int store_refuse(struct fenced_store *s, const char *what)
{
	if (s->refused)
		atomic_fetch_add(s->refused, 1);
	return kl_errbuf_set(&s->base.err, KL_ECONFLICT,
			     "shard %s: lease lost: %s refused (the shard is another worker's)",
			     s->shard, what);
}

static int store_inner_err(struct fenced_store *s, int rc)
{
	kl_errbuf_set(&s->base.err, rc, "%s", s->inner->err.msg);
	return rc;
}

static int fs_open(struct kl_store *st, const char *key, struct kl_store_file **out)
{
	struct fenced_store *s = (struct fenced_store *)st;
	if (!kl_lease_keeper_holds_tenure(s->keeper, s->shard, s->tenure))
		return store_refuse(s, "a new file");
	struct kl_store_file *f = malloc(sizeof *f);
	if (!f || !(f->key = strdup(key))) {
		free(f);
		return kl_errbuf_set(&s->base.err, KL_ENOMEM, "out of memory");
	}
	int rc = s->inner->ops->open(s->inner, key, &f->inner);
	if (rc) {
		free(f->key);
		free(f);
		return store_inner_err(s, rc);
	}
	f->s = s;
	*out = f;
	return KL_OK;
}

static int fs_write(struct kl_store_file *f, const void *p, size_t n)
{
	int rc = f->s->inner->ops->write(f->inner, p, n);
	return rc ? store_inner_err(f->s, rc) : KL_OK;
}

/* The guard of a data file's conditional commit (store.h:
 * kl_store_commit_guarded): passes while the run's tenure holds. The
 * store's ops, and so this, run on one thread. */
static int fs_guard(void *ctx)
{
	struct fenced_store *s = ctx;
	if (kl_lease_keeper_holds_tenure(s->keeper, s->shard, s->tenure))
		return 0;
	s->guard_refused = 1;
	return 1;
}

/* What a guarded commit's (or a sync's) result means here: KL_ECONFLICT a
 * refusal, by the lease or by another writer's newer version. The guard may
 * have refused inside an earlier call (store_s3's open() finishes the
 * deferred commits of a key opened again), whose refusal shows only now:
 * the flag holds until a refusal is reported. */
static int guarded_result(struct fenced_store *s, int rc)
{
	if (rc == KL_ECONFLICT) {
		int by_lease = s->guard_refused;
		s->guard_refused = 0;
		return store_refuse(s, by_lease
					   ? "a file's commit"
					   : "a file that another writer replaced since it was read");
	}
	return rc ? store_inner_err(s, rc) : KL_OK;
}

/* A data file of a store with conditional writes (fence.h): the version
 * under its name is read first, the lease checked after that read, and
 * the file replaces only that version. */
static int commit_cond(struct fenced_store *s, struct kl_store_file *f)
{
	return guarded_result(s, kl_store_commit_guarded(s->inner, f->inner, f->key, fs_guard, s));
}

/* commit() (deferred 0) and commit_deferred() (1): refused (and aborted)
 * unless the lease is held; then, on a store with conditional writes, the
 * read, check, conditional write of commit_cond(), or, for a deferred
 * commit on a store that defers guarded ones (store_s3), a new file by the
 * inner store's upload threads and a replace guarded at sync(). A new
 * object needs no check at its write: it replaces nothing, and the late
 * files this lets land are those commit_cond() lets land (fence.h). */
static int commit_file(struct kl_store_file *f, int deferred)
{
	struct fenced_store *s = f->s;
	const struct kl_store_ops *in = s->inner->ops;
	int cond = in->commit_if && in->read_tag, rc;
	if (!kl_lease_keeper_holds_tenure(s->keeper, s->shard, s->tenure)) {
		in->abort(f->inner);
		rc = store_refuse(s, "a file's commit");
	} else if (cond && deferred && in->commit_deferred_guarded) {
		rc = guarded_result(s, in->commit_deferred_guarded(f->inner, fs_guard, s));
	} else if (cond) {
		rc = commit_cond(s, f);
	} else if ((rc = in->commit(f->inner))) {
		store_inner_err(s, rc);
	}
	s->base.files_committed = s->inner->files_committed;
	s->base.bytes_committed = s->inner->bytes_committed;
	free(f->key);
	free(f);
	return rc;
}

static int fs_commit(struct kl_store_file *f)
{
	return commit_file(f, 0);
}

static int fs_commit_deferred(struct kl_store_file *f)
{
	return commit_file(f, 1);
}

static void fs_abort(struct kl_store_file *f)
{
	f->s->inner->ops->abort(f->inner);
	free(f->key);
	free(f);
}

static int fs_sync(struct kl_store *st)
{
	struct fenced_store *s = (struct fenced_store *)st;
	int rc = s->inner->ops->sync(s->inner); /* the deferred files' guarded replaces */
	s->base.landed = s->inner->landed;
	s->base.files_committed = s->inner->files_committed;
	s->base.bytes_committed = s->inner->bytes_committed;
	return guarded_result(s, rc);
}

static int fs_read(struct kl_store *st, const char *key, struct kl_buf *out)
{
	struct fenced_store *s = (struct fenced_store *)st;
	int rc = s->inner->ops->read(s->inner, key, out);
	return rc && rc != KL_ENOTFOUND ? store_inner_err(s, rc) : rc;
}

static int fs_list(struct kl_store *st, const char *dir, kl_store_list_fn fn, void *ctx)
{
	struct fenced_store *s = (struct fenced_store *)st;
	if (!s->inner->ops->list)
		return kl_errbuf_set(&s->base.err, KL_EUNSUPPORTED, "store cannot list");
	int rc = s->inner->ops->list(s->inner, dir, fn, ctx);
	return rc ? store_inner_err(s, rc) : KL_OK;
}

static void fs_free(struct kl_store *st)
{
	free(st); /* the inner store is the caller's */
}

static const struct kl_store_ops fenced_store_ops = {
    .open = fs_open,	 /* refused unless the lease is held */
    .write = fs_write,	 /* passed through */
    .commit = fs_commit, /* refused (and aborted) unless the lease is held; conditional */
    /* a new file by the inner store's upload threads, a replace guarded at sync
     * (inner stores with commit_deferred_guarded: S3); elsewhere commit() */
    .commit_deferred = fs_commit_deferred,
    .abort = fs_abort,	 /* passed through */
    .sync = fs_sync,	 /* passed through; a refused deferred file is KL_ECONFLICT */
    .read = fs_read,	 /* passed through */
    .list = fs_list,	 /* passed through */
    .read_tag = NULL,	 /* not offered: commit() is the conditional write */
    .commit_if = NULL,
    .commit_deferred_guarded = NULL, /* not offered: every file here is guarded */
    .free = fs_free,	 /* this wrapper only */
};

int kl_lease_fenced_store_new(struct kl_store **out, struct kl_store *inner,
			      struct kl_lease_keeper *keeper, const char *shard, uint64_t tenure,
			      _Atomic uint64_t *refused, struct kl_errbuf *eb)
{
	struct fenced_store *s = calloc(1, sizeof *s);
	if (!s)
		return kl_errbuf_set(eb, KL_ENOMEM, "out of memory");
	s->base.ops = &fenced_store_ops;
	s->inner = inner;
	s->keeper = keeper;
	s->refused = refused;
	s->tenure = tenure;
	snprintf(s->shard, sizeof s->shard, "%s", shard);
	*out = &s->base;
	return KL_OK;
}
