/* parts.c — see parts.h. */
#include "buffer/parts.h"

#include <stdlib.h>
#include <xxhash.h>

/* `closed` before the first event: below every hour */
#define NO_HOUR (INT64_MIN / 4)

void kl_parts_init(struct kl_parts *t, size_t max_file_bytes, size_t memory_limit,
		   int64_t flush_interval_ns)
{
	memset(t, 0, sizeof *t);
	t->max_file_bytes = max_file_bytes;
	t->memory_limit = memory_limit;
	t->flush_interval_ns = flush_interval_ns;
	t->block_bytes = KL_BLOCK_BYTES;
	kl_budget_init(&t->own, memory_limit);
	t->budget = &t->own;
	atomic_init(&t->own.tables, 1);
	t->closed = NO_HOUR;
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
	uint64_t h = XXH3_64bits(key, n);
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

/* p's memory (sealed blocks plus the tail's capacity) into the table's
 * total and the budget; it may have grown or shrunk (sealing). */
static void account(struct kl_parts *t, struct kl_part *p)
{
	size_t held = kl_blocks_mem(&p->sealed) + p->data.cap;
	if (held >= p->accounted) {
		t->mem += held - p->accounted;
		kl_budget_add(t->budget, held - p->accounted);
	} else {
		t->mem -= p->accounted - held;
		kl_budget_sub(t->budget, p->accounted - held);
	}
	p->accounted = held;
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
	/* a full tail becomes a sealed block; on ENOMEM it stays raw, still counted */
	if (t->block_bytes && p->data.len >= t->block_bytes &&
	    !kl_blocks_seal(&p->sealed, &t->zctx, p->data.data, p->data.len))
		kl_buf_shrink(&p->data, 2 * t->block_bytes); /* a long record's room goes */
	account(t, p);
}

/* Over the budget: seal every tail of at least a quarter block and give its
 * buffer back, so that the budget binds on compressed data rather than on
 * text waiting for its block to fill. Whether and where this cuts blocks
 * changes no file (the writer hands encoders the same bytes either way). */
static void compact(struct kl_parts *t)
{
	size_t min = t->block_bytes / 4;
	for (size_t i = 0; t->block_bytes && i < t->n; i++) {
		struct kl_part *p = t->v[i];
		if (!p->count || p->data.len < min ||
		    kl_blocks_seal(&p->sealed, &t->zctx, p->data.data, p->data.len))
			continue;
		kl_buf_cleanup(&p->data);
		account(t, p);
	}
}

/* The partition holding the most memory (NULL if none holds records). */
static struct kl_part *most_memory(const struct kl_parts *t)
{
	struct kl_part *largest = NULL;
	for (size_t i = 0; i < t->n; i++)
		if (t->v[i]->count && (!largest || t->v[i]->accounted > largest->accounted))
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
	for (size_t i = 0; i < t->n; i++) {
		struct kl_part *p = t->v[i];
		if (!p->count)
			continue;
		if (kl_part_bytes(p) >= t->max_file_bytes)
			return p;
		if (t->window ? window_due(t, p) : now_ns - p->first_ns >= t->flush_interval_ns)
			return p;
	}
	return NULL;
}

struct kl_part *kl_parts_largest(struct kl_parts *t)
{
	return most_memory(t);
}

int kl_parts_should_shed(struct kl_parts *t)
{
	if (!kl_budget_over(t->budget) || !t->mem)
		return 0;
	compact(t); /* the budget binds only if compressed data fills it */
	if (!kl_budget_over(t->budget))
		return 0;
	unsigned n = atomic_load(&t->budget->tables);
	return t->mem >= t->budget->limit / (n ? n : 1) / 2;
}

static int by_memory_desc(const void *a, const void *b)
{
	size_t x = (*(struct kl_part *const *)a)->accounted;
	size_t y = (*(struct kl_part *const *)b)->accounted;
	return x < y ? 1 : x > y ? -1 : 0;
}

size_t kl_parts_pick_for_memory(struct kl_parts *t, struct kl_part **out, size_t max)
{
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
	if (!p && kl_budget_over(t->budget)) {
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

void kl_parts_detach(struct kl_parts *t, struct kl_part *p, struct kl_blocks *out)
{
	*out = p->sealed;
	out->tail = p->data;
	kl_blocks_init(&p->sealed);
	kl_buf_init(&p->data, 0);
	p->stored_upto = p->last_pos;
	p->has_stored = 1;
	p->count = 0;
	p->files++;
	t->mem -= p->accounted;
	kl_budget_sub(t->budget, p->accounted);
	p->accounted = 0;
}
