/* parts.c — see parts.h. */
#include "buffer/parts.h"

#include <stdlib.h>
#include <xxhash.h>

void kl_parts_init(struct kl_parts *t, size_t max_file_bytes, size_t memory_limit,
		   int64_t flush_interval_ns)
{
	memset(t, 0, sizeof *t);
	t->max_file_bytes = max_file_bytes;
	t->memory_limit = memory_limit;
	t->flush_interval_ns = flush_interval_ns;
	t->block_bytes = KL_BLOCK_BYTES;
}

void kl_parts_cleanup(struct kl_parts *t)
{
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
	kl_buf_init(&p->data, 0);
	kl_blocks_init(&p->sealed);
	t->v[t->n++] = p;
	size_t s = h & t->index_mask;
	while (t->index[s])
		s = (s + 1) & t->index_mask;
	t->index[s] = (uint32_t)t->n;
	return p;
}

void kl_parts_note_append(struct kl_parts *t, struct kl_part *p, uint64_t pos, int64_t now_ns)
{
	if (p->count == 0) {
		p->first_pos = pos;
		p->first_ns = now_ns;
	}
	p->last_pos = pos;
	p->count++;
	/* a full tail becomes a sealed block; on ENOMEM it stays raw, still counted */
	if (t->block_bytes && p->data.len >= t->block_bytes &&
	    !kl_blocks_seal(&p->sealed, &t->zctx, p->data.data, p->data.len))
		kl_buf_shrink(&p->data, 2 * t->block_bytes); /* a long record's room goes */
	size_t held = kl_blocks_mem(&p->sealed) + p->data.cap;
	t->mem += held - p->accounted;
	p->accounted = held;
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
		size_t held = kl_blocks_mem(&p->sealed) + p->data.cap;
		t->mem = t->mem - p->accounted + held;
		p->accounted = held;
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

struct kl_part *kl_parts_next_flush(struct kl_parts *t, int64_t now_ns, int all)
{
	struct kl_part *largest = NULL;
	for (size_t i = 0; i < t->n; i++) {
		struct kl_part *p = t->v[i];
		if (!p->count)
			continue;
		if (all || kl_part_bytes(p) >= t->max_file_bytes ||
		    now_ns - p->first_ns >= t->flush_interval_ns)
			return p;
		if (!largest || p->accounted > largest->accounted)
			largest = p;
	}
	if (largest && t->mem > t->memory_limit) {
		compact(t); /* the budget binds only if compressed data fills it */
		return t->mem > t->memory_limit ? most_memory(t) : NULL;
	}
	return NULL;
}

uint64_t kl_parts_min_pending(const struct kl_parts *t, uint64_t fallback)
{
	uint64_t m = fallback;
	for (size_t i = 0; i < t->n; i++)
		if (t->v[i]->count && t->v[i]->first_pos < m)
			m = t->v[i]->first_pos;
	return m;
}

int kl_parts_ms_until_due(const struct kl_parts *t, int64_t now_ns)
{
	int64_t best = -1;
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
	p->accounted = 0;
}
