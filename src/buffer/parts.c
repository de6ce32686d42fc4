/* parts.c — see parts.h. */
#include "buffer/parts.h"
#include "buffer/seal.h"
#include "core/seed.h"

#include <stdlib.h>
#include <xxhash.h>

/* `closed` before the first event: below every hour */
#define NO_HOUR (INT64_MIN / 4)

void kl_parts_init(struct kl_parts *t, size_t max_file_bytes, size_t memory_limit,
		   int64_t flush_interval_ns)
{
	memset(t, 0, sizeof *t);
	t->seed = kl_hash_seed();
	t->max_file_bytes = max_file_bytes;
	t->memory_limit = memory_limit;
	t->flush_interval_ns = flush_interval_ns;
	t->block_bytes = KL_BLOCK_BYTES;
	t->held_level = KL_BLOCK_LEVEL;
	kl_budget_init(&t->own, memory_limit);
	t->budget = &t->own;
	atomic_init(&t->own.tables, 1);
	t->closed = NO_HOUR;
}

int kl_parts_seal_async(struct kl_parts *t, size_t threads, struct kl_errbuf *eb)
{
	if (threads <= 1 || t->seal)
		return KL_OK;
	int rc = kl_seal_pool_new(&t->seal, threads, eb);
	if (rc)
		return rc;
	/* buffers back from the pool, kept for the next cuts: as many as the
	 * ring's jobs per thread (the budget does not count them; the ring
	 * holds at least as many jobs, which it does count) */
	t->spare_max = KL_SEAL_JOBS_PER_THREAD * threads;
	if (!(t->spare = calloc(t->spare_max, sizeof *t->spare))) {
		kl_seal_pool_free(t->seal);
		t->seal = NULL;
		return kl_errbuf_set(eb, KL_ENOMEM, "out of memory");
	}
	return KL_OK;
}

void kl_parts_set_held_level(struct kl_parts *t, int level)
{
	t->held_level = level;
}

void kl_parts_hold_raw(struct kl_parts *t)
{
	t->hold_raw = 1;
}

void kl_parts_set_block_bytes(struct kl_parts *t, size_t bytes)
{
	t->block_bytes = bytes;
}

/* The zstd level (or KL_BLOCK_LZ4) of p's blocks. */
static int seal_level(const struct kl_parts *t, const struct kl_part *p)
{
	return p->dead ? KL_BLOCK_LEVEL : t->held_level;
}

void kl_parts_share_budget(struct kl_parts *t, struct kl_budget *b)
{
	atomic_fetch_sub(&t->budget->tables, 1);
	t->budget = b ? b : &t->own;
	atomic_fetch_add(&t->budget->tables, 1);
}

void kl_parts_set_window(struct kl_parts *t, int64_t lateness_s)
{
	t->window = 1;
	t->lateness = lateness_s < 0 ? 0 : lateness_s;
}

/* floor(a / b) for b > 0 */
static int64_t floor_div(int64_t a, int64_t b)
{
	return a >= 0 ? a / b : -((-a + b - 1) / b);
}

int kl_parts_note_time(struct kl_parts *t, int64_t sec, uint64_t pos)
{
	if (!t->window || (t->has_wm && sec <= t->wm_max))
		return 0;
	t->has_wm = 1;
	t->wm_max = sec;
	t->wm_pos = pos;
	int64_t c = floor_div(sec - t->lateness, 3600);
	if (c <= t->closed)
		return 0;
	t->closed = c;
	return 1;
}

void kl_parts_cleanup(struct kl_parts *t)
{
	if (t->budget) {
		kl_budget_sub(t->budget, t->mem);
		atomic_fetch_sub(&t->budget->tables, 1);
	}
	kl_seal_pool_free(t->seal); /* first: it stops its threads */
	for (size_t i = 0; i < t->nspare; i++)
		kl_buf_cleanup(&t->spare[i]);
	free(t->spare);
	for (size_t i = 0; i < t->n; i++) {
		kl_buf_cleanup(&t->v[i]->data);
		kl_blocks_cleanup(&t->v[i]->sealed);
		free(t->v[i]->key);
		free(t->v[i]);
	}
	free(t->v);
	free(t->index);
	kl_blocks_zctx_cleanup(&t->zctx);
	memset(t, 0, sizeof *t);
}

static int rehash(struct kl_parts *t, size_t cap)
{
	uint32_t *idx = calloc(cap, sizeof *idx);
	if (!idx)
		return -1;
	for (size_t i = 0; i < t->n; i++) {
		size_t s = t->v[i]->hash & (cap - 1);
		while (idx[s])
			s = (s + 1) & (cap - 1);
		idx[s] = (uint32_t)i + 1;
	}
	free(t->index);
	t->index = idx;
	t->index_mask = cap - 1;
	return 0;
}

struct kl_part *kl_parts_get(struct kl_parts *t, const char *key, size_t n)
{
	uint64_t h = XXH3_64bits_withSeed(key, n, t->seed);
	if (t->index) {
		for (size_t s = h & t->index_mask; t->index[s]; s = (s + 1) & t->index_mask) {
			struct kl_part *p = t->v[t->index[s] - 1];
			if (p->hash == h && p->key_len == n && memcmp(p->key, key, n) == 0)
				return p;
		}
	}
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 64;
		struct kl_part **v = realloc(t->v, cap * sizeof *v);
		if (!v)
			return NULL;
		t->v = v;
		t->cap = cap;
	}
	if (!t->index || (t->n + 1) * 2 > t->index_mask + 1) {
		if (rehash(t, t->index ? (t->index_mask + 1) * 2 : 128))
			return NULL;
	}
	struct kl_part *p = calloc(1, sizeof *p);
	char *k = malloc(n + 1);
	if (!p || !k) {
		free(p);
		free(k);
		return NULL;
	}
	memcpy(k, key, n);
	k[n] = '\0';
	p->key = k;
	p->key_len = n;
	p->hash = h;
	p->hour = -1;
	kl_buf_init(&p->data, 0);
	kl_blocks_init(&p->sealed);
	t->v[t->n++] = p;
	size_t s = h & t->index_mask;
	while (t->index[s])
		s = (s + 1) & t->index_mask;
	t->index[s] = (uint32_t)t->n;
	return p;
}

/* p's memory (sealed blocks, the frames still being made at their upper
 * bound, plus the tail's capacity) into the table's total and the budget;
 * it may have grown or shrunk (sealing). */
static void account(struct kl_parts *t, struct kl_part *p)
{
	if (t->hold_raw) { /* as if every block were held (kl_parts_held_waits) */
		size_t all = p->bound_all + p->sealed.cap * sizeof *p->sealed.v + p->data.cap;
		t->held_mem = t->held_mem - p->held_acct + all;
		p->held_acct = all;
	}
	size_t held = kl_blocks_mem(&p->sealed) + p->pend_bound + p->held_slack + p->data.cap;
	if (held == p->accounted) /* most appends: no atomic on the shared budget */
		return;
	if (held > p->accounted) {
		t->mem += held - p->accounted;
		kl_budget_add(t->budget, held - p->accounted);
	} else {
		t->mem -= p->accounted - held;
		kl_budget_sub(t->budget, p->accounted - held);
	}
	p->accounted = held;
}

/* --- sealing on the pool's threads (t->seal) ------------------------------ */

/* A buffer back from the pool: kept for a later cut if it is of a size a
 * tail keeps and there is room, else freed. Leaves *b empty. */
static void spare_put(struct kl_parts *t, struct kl_buf *b)
{
	if (b->cap && b->cap <= 2 * t->block_bytes && t->nspare < t->spare_max) {
		b->len = 0;
		t->spare[t->nspare++] = *b;
	} else {
		kl_buf_cleanup(b);
	}
	kl_buf_init(b, 0);
}

/* An empty buffer of exactly `cap` bytes (0: none), a spare one if any has
 * that size: the tail a cut leaves has the capacity synchronous sealing
 * leaves it, so memory is counted the same. KL_OK or KL_ENOMEM. */
static int spare_get(struct kl_parts *t, size_t cap, struct kl_buf *out)
{
	kl_buf_init(out, 0);
	if (!cap)
		return KL_OK;
	for (size_t i = t->nspare; i-- > 0;) {
		if (t->spare[i].cap == cap) {
			*out = t->spare[i];
			t->spare[i] = t->spare[--t->nspare];
			return KL_OK;
		}
	}
	if (!(out->data = malloc(cap)))
		return KL_ENOMEM;
	out->cap = cap;
	return KL_OK;
}

/* The oldest seal back into its block's slot, at its exact size. `wait`:
 * wait for it (helping the pool); else only if it is done. 0: none. */
static int settle_one(struct kl_parts *t, int wait)
{
	struct kl_seal_job *j = kl_seal_pool_oldest(t->seal, wait ? &t->zctx : NULL);
	if (!j)
		return 0;
	struct kl_part *p = j->owner;
	struct kl_block *k = &p->sealed.v[j->slot];
	if (j->rc == KL_OK) {
		k->z = j->z;
		k->zlen = j->zlen;
		k->lz4 = j->level == KL_BLOCK_LZ4;
		j->z = NULL;
		if (j->own_raw) /* a held block's text (seal_held) */
			kl_buf_cleanup(&j->raw);
		else
			spare_put(t, &j->raw);
		p->sealed.zlen += k->zlen;
	} else { /* no frame (out of memory): the block keeps its text */
		char *d = realloc(j->raw.data, j->raw.len);
		k->z = d ? d : j->raw.data;
		k->zlen = 0;
		p->sealed.zlen += j->raw.len;
		kl_buf_init(&j->raw, 0);
	}
	p->pend_bound -= j->bound;
	p->pending--;
	kl_seal_pool_pop(t->seal);
	account(t, p);
	return 1;
}

/* Room in the pool for one more job: the seals that are done settled (a
 * buffer back from one can serve the next cut), and while the ring is full
 * the oldest waited for (helping the pool). */
static void pool_room(struct kl_parts *t)
{
	while (settle_one(t, 0))
		;
	if (kl_seal_pool_full(t->seal))
		settle_one(t, 1);
}

/* Seal p's held blocks (kl_parts_hold_raw): on the pool, where they
 * become seals in flight (their count moves from held_slack to
 * pend_bound), or here. A block that cannot be sealed (out of memory)
 * stays raw for good, counted at its text's length. */
static void seal_held(struct kl_parts *t, struct kl_part *p)
{
	int level = seal_level(t, p);
	for (size_t i = 0; p->nheld && i < p->sealed.n; i++) {
		struct kl_block *k = &p->sealed.v[i];
		if (!k->held)
			continue;
		size_t bound = kl_blocks_bound(k->raw);
		k->held = 0;
		p->nheld--;
		t->nheld--;
		p->held_slack -= bound - k->raw;
		if (t->seal) {
			pool_room(t);
			struct kl_seal_job *j = kl_seal_pool_head(t->seal);
			j->owner = p;
			j->slot = i;
			j->bound = bound;
			j->own_raw = 1;
			kl_buf_init(&j->raw, 0);
			j->raw.data = k->z;
			j->raw.len = j->raw.cap = k->raw;
			j->level = level;
			k->z = NULL;
			p->sealed.zlen -= k->raw;
			p->pend_bound += bound;
			p->pending++;
			kl_seal_pool_push(t->seal);
			continue;
		}
		char *z;
		size_t zn;
		if (kl_blocks_frame(&t->zctx, level, k->z, k->raw, &z, &zn))
			continue;
		free(k->z);
		k->z = z;
		k->zlen = zn;
		k->lz4 = level == KL_BLOCK_LZ4;
		p->sealed.zlen = p->sealed.zlen - k->raw + zn;
	}
	account(t, p);
}

/* Every partition's held blocks sealed (seal_held: on the pool, if the
 * table has one, without waiting for them). */
static void seal_all_held(struct kl_parts *t)
{
	for (size_t i = 0; t->nheld && i < t->n; i++)
		if (t->v[i]->nheld)
			seal_held(t, t->v[i]);
}

/* Every block the table counts at an upper bound (seals in flight, blocks
 * held raw) sealed and back at its exact size. */
static void settle_all(struct kl_parts *t)
{
	seal_all_held(t);
	while (t->seal && settle_one(t, 1))
		;
}

/* A regular cut in a table that holds its blocks raw: p's tail becomes a
 * held block as it is (shrunk to its length), and p goes on with an empty
 * tail of `keep` bytes. Out of memory: the text stays in the tail. */
static void hold(struct kl_parts *t, struct kl_part *p, size_t keep)
{
	struct kl_buf next;
	if (kl_blocks_reserve(&p->sealed) || spare_get(t, keep, &next))
		return;
	size_t n = p->data.len, bound = kl_blocks_bound(n);
	char *d = realloc(p->data.data, n);
	p->sealed.v[p->sealed.n++] =
		(struct kl_block){.z = d ? d : p->data.data, .raw = n, .held = 1};
	p->sealed.zlen += n;
	p->sealed.raw += n;
	p->sealed.open_raw = 0;
	p->held_slack += bound - n;
	p->bound_all += bound;
	p->nheld++;
	t->nheld++;
	p->data = next;
}

/* Is the table's budget shared with other tables (kl_parts_share_budget)? */
static int shared(const struct kl_parts *t)
{
	return t->budget != &t->own;
}

/* kl_parts_hold_raw: may the block being cut stay raw? Always on the
 * table's own budget; on a shared one while the budget is at most three
 * quarters full, and once it is not, the held blocks are sealed now
 * (parts.h). */
static int may_hold(struct kl_parts *t)
{
	if (!shared(t) || kl_budget_used(t->budget) <= kl_budget_room(t->budget) / 4 * 3)
		return 1;
	seal_all_held(t);
	return 0;
}

/* Cut p's tail as a block (regular or `early`, buffer/blocks.h) and hand
 * it to the pool; p goes on with an empty tail of `keep` bytes (what
 * synchronous sealing leaves it). The block counts at its frame's upper
 * bound until it is settled. KL_OK, or KL_ENOMEM with p unchanged (its text
 * stays raw, as when kl_blocks_seal fails). */
static int cut(struct kl_parts *t, struct kl_part *p, size_t keep, int early)
{
	pool_room(t);
	struct kl_buf next;
	if (kl_blocks_reserve(&p->sealed) || spare_get(t, keep, &next))
		return KL_ENOMEM;
	struct kl_seal_job *j = kl_seal_pool_head(t->seal);
	j->owner = p;
	j->slot = p->sealed.n;
	j->bound = kl_blocks_bound(p->data.len);
	j->own_raw = 0;
	j->raw = p->data;
	j->level = seal_level(t, p);
	p->sealed.v[p->sealed.n++] =
		(struct kl_block){.raw = p->data.len, .early = (unsigned char)(early != 0)};
	p->sealed.raw += p->data.len;
	p->sealed.open_raw = early ? p->sealed.open_raw + p->data.len : 0;
	p->pend_bound += j->bound;
	p->bound_all += j->bound;
	p->pending++;
	p->data = next;
	kl_seal_pool_push(t->seal);
	return KL_OK;
}

int kl_parts_over_budget(struct kl_parts *t)
{
	if (!kl_budget_over(t->budget))
		return 0; /* so it is not with the exact sizes either */
	if (!t->nheld && (!t->seal || !kl_seal_pool_pending(t->seal)))
		return 1;
	settle_all(t);
	return kl_budget_over(t->budget);
}

void kl_parts_note_append(struct kl_parts *t, struct kl_part *p, uint64_t pos, int64_t now_ns)
{
	if (p->count == 0) {
		p->first_pos = pos;
		p->first_ns = now_ns;
		p->first_closed = t->closed;
		p->first_wm_pos = t->has_wm ? t->wm_pos : pos;
		if (t->window && p->hour >= 0 && p->hour < t->closed)
			t->late++;
	} else if (t->window && p->hour >= 0 && p->first_closed > p->hour) {
		t->late++;
	}
	p->last_pos = pos;
	p->count++;
	/* a block's worth of bytes since the last regular cut (all in the
	 * tail unless early cuts took some) becomes a regular block; on
	 * ENOMEM it stays raw, still counted; the tail keeps its buffer,
	 * unless a long record grew it */
	if (t->block_bytes && p->sealed.open_raw + p->data.len >= t->block_bytes) {
		size_t keep = p->data.cap <= 2 * t->block_bytes ? p->data.cap : 0;
		if (t->hold_raw && !p->dead && may_hold(t)) {
			hold(t, p, keep);
		} else if (t->seal) {
			cut(t, p, keep, 0);
		} else if (!kl_blocks_seal(&p->sealed, &t->zctx, seal_level(t, p), p->data.data,
					   p->data.len, 0)) {
			p->bound_all += kl_blocks_bound(p->data.len);
			kl_buf_shrink(&p->data, keep);
		}
	}
	account(t, p);
}

/* Over the budget: seal every tail of at least a quarter of KL_BLOCK_BYTES
 * (also where the table's blocks are larger: a tail's text is what the
 * budget waits on) and give its buffer back, so that the budget binds on
 * compressed data rather than on text waiting for its block to fill.
 * Whether and where this cuts blocks changes no file: these blocks are
 * `early`, the regular cuts stay where they were, and readers get the same
 * bytes and frames either way (buffer/blocks.h). */
static void compact(struct kl_parts *t)
{
	size_t min = (t->block_bytes < KL_BLOCK_BYTES ? t->block_bytes : KL_BLOCK_BYTES) / 4;
	for (size_t i = 0; t->block_bytes && i < t->n; i++) {
		struct kl_part *p = t->v[i];
		if (!p->count || p->data.len < min)
			continue;
		if (t->seal ? cut(t, p, 0, 1)
			    : kl_blocks_seal(&p->sealed, &t->zctx, seal_level(t, p), p->data.data,
					     p->data.len, 1))
			continue;
		if (!t->seal)
			p->bound_all += kl_blocks_bound(p->data.len);
		kl_buf_cleanup(&p->data);
		account(t, p);
	}
	settle_all(t); /* the caller decides on exact sizes */
}

/* Does a hold more memory than b? Equal amounts (tails of one capacity
 * and nothing sealed are common) go to the buffer whose first record came
 * first: every choice among buffers is a function of the records, never of
 * the order the table made its buffers in, which differs in a restart
 * (its stored partitions are made first, from the state log) — exact
 * replay (pipeline.h) depends on it. */
static int holds_more(const struct kl_part *a, const struct kl_part *b)
{
	return a->accounted != b->accounted ? a->accounted > b->accounted
					    : a->first_pos < b->first_pos;
}

/* The partition holding the most memory (NULL if none holds records). */
static struct kl_part *most_memory(const struct kl_parts *t)
{
	struct kl_part *largest = NULL;
	for (size_t i = 0; i < t->n; i++)
		if (t->v[i]->count && (!largest || holds_more(t->v[i], largest)))
			largest = t->v[i];
	return largest;
}

/* Window mode: is p's buffer due? Its hour is closed (the hour's file), or
 * for a late or dead-letter buffer, an hour closed after its first record. */
static int window_due(const struct kl_parts *t, const struct kl_part *p)
{
	int64_t since = p->hour > p->first_closed ? p->hour : p->first_closed;
	return t->closed > since;
}

struct kl_part *kl_parts_next_due(struct kl_parts *t, int64_t now_ns)
{
	/* of several due, the one whose first record came first (holds_more:
	 * the jobs' order is then the same in a restart) */
	struct kl_part *due = NULL;
	for (size_t i = 0; i < t->n; i++) {
		struct kl_part *p = t->v[i];
		if (!p->count || (due && due->first_pos < p->first_pos))
			continue;
		if (kl_part_bytes(p) >= t->max_file_bytes ||
		    (t->window ? window_due(t, p) : now_ns - p->first_ns >= t->flush_interval_ns))
			due = p;
	}
	return due;
}

struct kl_part *kl_parts_largest(struct kl_parts *t)
{
	settle_all(t);
	return most_memory(t);
}

int kl_parts_should_shed(struct kl_parts *t)
{
	if (!kl_parts_over_budget(t) || !t->mem)
		return 0;
	compact(t); /* the budget binds only if compressed data fills it */
	if (!kl_budget_over(t->budget))
		return 0;
	unsigned n = atomic_load(&t->budget->tables);
	return t->mem >= kl_budget_room(t->budget) / (n ? n : 1) / 2;
}

static int by_memory_desc(const void *a, const void *b)
{
	const struct kl_part *x = *(struct kl_part *const *)a, *y = *(struct kl_part *const *)b;
	return holds_more(x, y) ? -1 : holds_more(y, x) ? 1 : 0;
}

size_t kl_parts_pick_for_memory(struct kl_parts *t, struct kl_part **out, size_t max)
{
	settle_all(t);
	size_t n = 0;
	for (size_t i = 0; i < t->n && n < max; i++)
		if (t->v[i]->count)
			out[n++] = t->v[i];
	qsort(out, n, sizeof *out, by_memory_desc);
	/* alone on its budget: the one holding the most memory is enough */
	size_t goal = atomic_load(&t->budget->tables) > 1 ? t->mem / 2 : 1;
	size_t k = 0, got = 0;
	while (k < n && got < goal)
		got += out[k++]->accounted;
	return k;
}

int kl_parts_held_waits(const struct kl_parts *t)
{
	if (!t->hold_raw || shared(t))
		return 0;
	size_t used = kl_budget_used(t->budget), others = used > t->mem ? used - t->mem : 0;
	size_t room = kl_budget_room(t->budget);
	return t->held_mem <= room && others + t->held_mem > room;
}

size_t kl_parts_open(const struct kl_parts *t)
{
	size_t n = 0;
	for (size_t i = 0; i < t->n; i++)
		n += t->v[i]->count != 0;
	return n;
}

struct kl_part *kl_parts_next_flush(struct kl_parts *t, int64_t now_ns, int all)
{
	if (all) {
		for (size_t i = 0; i < t->n; i++)
			if (t->v[i]->count)
				return t->v[i];
		return NULL;
	}
	struct kl_part *p = kl_parts_next_due(t, now_ns);
	if (!p && kl_parts_over_budget(t)) {
		compact(t); /* the budget binds only if compressed data fills it */
		if (kl_budget_over(t->budget))
			p = most_memory(t);
	}
	return p;
}

uint64_t kl_parts_min_pending(const struct kl_parts *t, uint64_t fallback)
{
	uint64_t m = fallback;
	if (t->window && t->has_wm && t->wm_pos < m)
		m = t->wm_pos;
	for (size_t i = 0; i < t->n; i++) {
		const struct kl_part *p = t->v[i];
		if (!p->count)
			continue;
		if (p->first_pos < m)
			m = p->first_pos;
		if (t->window && p->first_wm_pos < m)
			m = p->first_wm_pos;
	}
	return m;
}

int kl_parts_ms_until_due(const struct kl_parts *t, int64_t now_ns)
{
	int64_t best = -1;
	if (t->window)
		return -1;
	for (size_t i = 0; i < t->n; i++) {
		const struct kl_part *p = t->v[i];
		if (!p->count)
			continue;
		int64_t left = p->first_ns + t->flush_interval_ns - now_ns;
		if (left < 0)
			left = 0;
		if (best < 0 || left < best)
			best = left;
	}
	if (best < 0)
		return -1;
	best = best / 1000000 + 1;
	return best > 60000 ? 60000 : (int)best;
}

size_t kl_parts_detach(struct kl_parts *t, struct kl_part *p, struct kl_blocks *out)
{
	while (p->pending) /* its blocks leave complete (held ones raw) */
		settle_one(t, 1);
	size_t held = p->accounted;
	if (t->hold_raw) { /* charged as if every block were held (parts.h) */
		if (!shared(t))
			held = p->held_acct;
		t->held_mem -= p->held_acct;
		p->held_acct = 0;
	}
	t->nheld -= p->nheld;
	p->nheld = 0;
	p->held_slack = 0;
	p->bound_all = 0;
	*out = p->sealed;
	out->tail = p->data;
	kl_blocks_init(&p->sealed);
	kl_buf_init(&p->data, 0);
	if (!p->has_stored || p->last_pos > p->stored_upto) /* a replayed buffer of */
		p->stored_upto = p->last_pos; /* stored records leaves it as loaded */
	p->has_stored = 1;
	p->count = 0;
	p->text_adj = 0;
	p->files++;
	t->mem -= p->accounted;
	kl_budget_sub(t->budget, p->accounted);
	p->accounted = 0;
	return held;
}
