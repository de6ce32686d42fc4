/* pq_dict.c — dictionary of one column chunk (see pq_internal.h).
 * Spec: parquet-format Encodings.md "Dictionary Encoding (PLAIN_DICTIONARY = 2
 * and RLE_DICTIONARY = 8)": the dictionary page holds the entries in PLAIN
 * encoding; data pages hold indices into it. Entries keep first-seen order so
 * output is deterministic; the hash table only finds them. */
#include "encode/parquet/pq_internal.h"

#include "core/err.h"
#include "core/seed.h"

#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

void pq_dict_init(struct pq_dict *d)
{
	kl_buf_init(&d->vals, 0);
	kl_buf_init(&d->offs, 0);
	kl_buf_init(&d->hashes, 0);
	d->slots = NULL;
	d->cap = 0;
	d->n = 0;
	d->seed = kl_hash_seed();
}

void pq_dict_cleanup(struct pq_dict *d)
{
	kl_buf_cleanup(&d->vals);
	kl_buf_cleanup(&d->offs);
	kl_buf_cleanup(&d->hashes);
	free(d->slots);
	d->slots = NULL;
	d->cap = 0;
	d->n = 0;
}

/* Slots a reset keeps: a table grown for one large chunk would otherwise
 * be cleared, and probed sparsely (a cache miss per value), for every
 * later small chunk of the same column position. */
#define DICT_KEEP_SLOTS 4096u

void pq_dict_reset(struct pq_dict *d)
{
	if (d->cap > DICT_KEEP_SLOTS) {
		free(d->slots);
		d->slots = NULL;
		d->cap = 0;
	} else if (d->n && d->slots) {
		memset(d->slots, 0, d->cap * sizeof *d->slots);
	}
	kl_buf_reset(&d->vals);
	kl_buf_reset(&d->offs);
	kl_buf_reset(&d->hashes);
	d->n = 0;
}

void pq_dict_shrink(struct pq_dict *d, size_t keep)
{
	pq_dict_reset(d);
	kl_buf_shrink(&d->vals, keep);
	kl_buf_shrink(&d->offs, keep);
	kl_buf_shrink(&d->hashes, keep);
}

static uint32_t entry_u32(const struct kl_buf *b, uint32_t i)
{
	uint32_t v;
	memcpy(&v, b->data + (size_t)i * 4, 4);
	return v;
}

static inline int entry_eq(const struct pq_dict *d, uint32_t i, const void *key, size_t klen,
		    int byte_array)
{
	const uint8_t *e = (const uint8_t *)d->vals.data + entry_u32(&d->offs, i);
	if (byte_array)
		return pq_get_le32(e) == klen && kl_bytes_eq(e + 4, key, klen);
	return kl_bytes_eq(e, key, klen);
}

static int grow(struct pq_dict *d)
{
	size_t cap = d->cap ? d->cap * 2 : 1024;
	uint32_t *s = calloc(cap, sizeof *s);
	if (!s)
		return KL_ENOMEM;
	for (uint32_t i = 0; i < d->n; i++) {
		size_t j = entry_u32(&d->hashes, i) & (cap - 1);
		while (s[j])
			j = (j + 1) & (cap - 1);
		s[j] = i + 1;
	}
	free(d->slots);
	d->slots = s;
	d->cap = cap;
	return KL_OK;
}

int pq_dict_add(struct pq_dict *d, const void *key, size_t klen, int byte_array,
		size_t max_bytes, uint32_t *idx)
{
	/* a run of one value (a partition's event_type, a constant field)
	 * costs one comparison, no hash */
	if (d->n && entry_eq(d, d->last, key, klen, byte_array)) {
		*idx = d->last;
		return KL_OK;
	}
	if (!d->slots && grow(d))
		return KL_ENOMEM;
	uint32_t h = (uint32_t)XXH3_64bits_withSeed(key, klen, d->seed);
	size_t mask = d->cap - 1, j = h & mask;
	for (;;) {
		uint32_t s = d->slots[j];
		if (!s)
			break;
		if (entry_u32(&d->hashes, s - 1) == h && entry_eq(d, s - 1, key, klen, byte_array)) {
			*idx = d->last = s - 1;
			return KL_OK;
		}
		j = (j + 1) & mask;
	}
	size_t esz = klen + (byte_array ? 4 : 0);
	if (esz > max_bytes || d->vals.len > max_bytes - esz || d->vals.len + esz > UINT32_MAX)
		return 1;
	/* Keep the load factor at or below 1/2. */
	if ((size_t)(d->n + 1) * 2 > d->cap) {
		if (grow(d))
			return KL_ENOMEM;
		mask = d->cap - 1;
		j = h & mask;
		while (d->slots[j])
			j = (j + 1) & mask;
	}
	if (kl_buf_reserve(&d->vals, esz) || kl_buf_reserve(&d->offs, 4) ||
	    kl_buf_reserve(&d->hashes, 4))
		return KL_ENOMEM;
	uint32_t off = (uint32_t)d->vals.len;
	if (byte_array) {
		uint8_t le[4];
		pq_le32(le, (uint32_t)klen);
		kl_buf_put(&d->vals, le, 4);
	}
	if (klen)
		kl_buf_put(&d->vals, key, klen);
	kl_buf_put(&d->offs, &off, 4);
	kl_buf_put(&d->hashes, &h, 4);
	d->slots[j] = ++d->n;
	*idx = d->last = d->n - 1;
	return KL_OK;
}

int pq_dict_judge(struct kl_pq_writer *w, struct pq_col *c)
{
	if (!c->page_vals)
		return KL_OK; /* nothing to judge by yet (a page of nulls) */
	c->dict_judged = 1;
	/* every value of the chunk is still in the pending page when no
	 * dictionary-encoded page was flushed */
	if (!c->dict_on || c->n_dict_pages || (uint64_t)c->dict.n * 2 <= c->page_vals)
		return KL_OK;
	const struct pq_dict *d = &c->dict;
	struct kl_buf *t = &w->page; /* scratch: free outside pq_flush_page's encoding */
	kl_buf_reset(t);
	if (kl_buf_reserve(t, c->page_plain))
		return pq_fail(w, KL_ENOMEM, "parquet: out of memory");
	for (uint32_t i = 0; i < c->page_vals; i++) {
		uint32_t idx = entry_u32(&c->vals, i);
		uint32_t off = entry_u32(&d->offs, idx);
		uint32_t end = idx + 1 < d->n ? entry_u32(&d->offs, idx + 1) : (uint32_t)d->vals.len;
		if (kl_buf_append(t, d->vals.data + off, end - off))
			return pq_fail(w, KL_ENOMEM, "parquet: out of memory");
	}
	struct kl_buf swap = c->vals;
	c->vals = *t;
	*t = swap;
	kl_buf_reset(t);
	pq_dict_reset(&c->dict);
	c->dict_on = 0;
	return KL_OK;
}
