/* checkpoint_state.c — the state log (commit/state.h) as a kl_checkpoint;
 * see checkpoint.h. The log's lines are exactly what the pipeline wrote
 * before it had a checkpoint interface: P per file, R, C when the source
 * has a resume point, and D at the end of a file input. */
#include "commit/checkpoint.h"
#include "source/source.h"

#include <string.h>

static int state_load(struct kl_checkpoint *base, struct kl_source *src, uint64_t *resume,
		      kl_checkpoint_part_fn fn, void *ctx)
{
	struct kl_state_checkpoint *c = (struct kl_state_checkpoint *)base;
	struct kl_state *st = &c->state;
	*resume = 0;
	if (c->run_positions) {
		/* A stream: the C line names where to read again and, since this
		 * version, the position of that record ("at:<seq> <pos>"), so that
		 * positions, R and P lines mean the same in every run. A C line
		 * without one (an older state) or none at all: positions start at
		 * 0 and nothing stored before is comparable. */
		int carried = src->ops->resume && st->checkpoint[0] &&
			      src->ops->resume(src, st->checkpoint) == 1;
		if (!carried) {
			kl_state_prune(st, UINT64_MAX);
			st->resume = st->window = 0;
			return KL_OK;
		}
	}
	for (size_t i = 0; i < st->nparts; i++) {
		const struct kl_state_part *sp = &st->parts[i];
		int rc = fn(ctx, sp->key, strlen(sp->key), sp->upto);
		if (rc)
			return kl_errbuf_set(&base->err, rc, "out of memory");
	}
	*resume = st->resume;
	base->window = st->window;
	base->replay = st->replay;
	return KL_OK;
}

/* A job's lines, queued for the next kl_state_sync. */
static int note_job(struct kl_state_checkpoint *c, const struct kl_checkpoint_job *j)
{
	struct kl_state *st = &c->state;
	int rc = KL_OK;
	for (size_t i = 0; i < j->n && !rc; i++)
		rc = kl_state_note_part(st, j->files[i].key, j->files[i].key_len,
					j->files[i].last_pos);
	if (!rc)
		kl_state_note_progress(st, j->resume, j->window, j->replay);
	if (!rc && j->source_checkpoint && j->source_checkpoint[0])
		kl_state_note_checkpoint(st, j->source_checkpoint);
	/* a stream's log would keep a P line for every partition it ever
	 * wrote; those below R skip nothing any more (state.h) */
	if (!rc && c->run_positions)
		kl_state_prune(st, j->resume);
	return rc;
}

static int state_commit(struct kl_checkpoint *base, const struct kl_checkpoint_job *j)
{
	struct kl_state_checkpoint *c = (struct kl_state_checkpoint *)base;
	struct kl_state *st = &c->state;
	int rc = note_job(c, j);
	if (!rc)
		rc = kl_state_sync(st);
	return rc ? kl_errbuf_set(&base->err, rc, "%s", st->err.msg) : KL_OK;
}

/* The jobs' lines appended with one write and fsync, except where one
 * commit after another would have compacted a local log: a sync there too,
 * so the log's bytes are the same. A log in a store: one PutObject. */
static int state_commit_batch(struct kl_checkpoint *base, const struct kl_checkpoint_job *jobs,
			      size_t n)
{
	struct kl_state_checkpoint *c = (struct kl_state_checkpoint *)base;
	struct kl_state *st = &c->state;
	int rc = KL_OK;
	for (size_t i = 0; i < n && !rc; i++) {
		rc = note_job(c, &jobs[i]);
		if (!rc && (i + 1 == n || kl_state_sync_shapes_log(st)))
			rc = kl_state_sync(st);
	}
	return rc ? kl_errbuf_set(&base->err, rc, "%s", st->err.msg) : KL_OK;
}

static int state_finish(struct kl_checkpoint *base)
{
	struct kl_state_checkpoint *c = (struct kl_state_checkpoint *)base;
	if (c->run_positions) /* a stream has no end to mark */
		return KL_OK;
	kl_state_note_done(&c->state, c->input_size);
	int rc = kl_state_sync(&c->state);
	return rc ? kl_errbuf_set(&base->err, rc, "%s", c->state.err.msg) : KL_OK;
}

static const struct kl_checkpoint_ops state_ops = {
    .load = state_load,	    /* C -> source; P lines -> stored partitions, R -> resume */
    .commit = state_commit, /* P per file, R, C; fsync (or one PUT) */
    /* the same lines for each job; one fsync (a PUT per job where it compacts) */
    .commit_batch = state_commit_batch,
    .file = NULL,	    /* the log records partitions, not files */
    .finish = state_finish, /* D <size> for a file input */
};

static void init(struct kl_state_checkpoint *c)
{
	memset(c, 0, sizeof *c);
	c->base.ops = &state_ops;
}

int kl_state_checkpoint_open(struct kl_state_checkpoint *c, const char *lake, const char *input_id,
			     uint64_t input_size)
{
	init(c);
	c->input_size = input_size;
	int rc = kl_state_open(&c->state, lake, input_id);
	c->open = 1; /* kl_state_close is safe after a failed open */
	return rc ? kl_errbuf_set(&c->base.err, c->state.err.code, "%s", c->state.err.msg) : KL_OK;
}

int kl_state_checkpoint_open_file_store(struct kl_state_checkpoint *c, struct kl_store *store,
					const char *input_id, uint64_t input_size)
{
	init(c);
	c->input_size = input_size;
	int rc = kl_state_open_store(&c->state, store, input_id);
	c->open = 1;
	return rc ? kl_errbuf_set(&c->base.err, rc, "%s", c->state.err.msg) : KL_OK;
}

int kl_state_checkpoint_open_store(struct kl_state_checkpoint *c, struct kl_store *store,
				   const char *input_id)
{
	init(c);
	c->run_positions = 1;
	/* dedup decisions may differ between runs (the shared window is not
	 * rebuilt, shards interleave by timing): names must not (checkpoint.h) */
	c->base.name_before_dedup = 1;
	int rc = kl_state_open_store(&c->state, store, input_id);
	c->open = 1;
	return rc ? kl_errbuf_set(&c->base.err, rc, "%s", c->state.err.msg) : KL_OK;
}

void kl_state_checkpoint_close(struct kl_state_checkpoint *c)
{
	if (c->open)
		kl_state_close(&c->state);
	c->open = 0;
}
