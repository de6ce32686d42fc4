/* schema.c — see schema.h. */
#include "encode/parquet/schema.h"
#include "core/array.h"
#include "core/err.h"
#include "core/seed.h"
#include "parse/json.h"

#include <stdlib.h>
#include <xxhash.h>

void kl_schema_init(struct kl_schema *s)
{
	memset(s, 0, sizeof *s);
	kl_buf_init(&s->arena, 0);
	s->seed = kl_hash_seed();
}

void kl_schema_cleanup(struct kl_schema *s)
{
	free(s->cols);
	free(s->index);
	free(s->pq);
	kl_buf_cleanup(&s->arena);
	memset(s, 0, sizeof *s);
}

void kl_schema_reset(struct kl_schema *s)
{
	s->n = 0;
	kl_buf_reset(&s->arena);
	if (s->index)
		memset(s->index, 0, (s->index_mask + 1) * sizeof *s->index);
}

long kl_schema_find(const struct kl_schema *s, const char *name, size_t n)
{
	if (!s->index)
		return -1;
	uint64_t h = XXH3_64bits_withSeed(name, n, s->seed);
	for (size_t i = h & s->index_mask; s->index[i]; i = (i + 1) & s->index_mask) {
		const struct kl_schema_col *c = &s->cols[s->index[i] - 1];
		if (c->hash == h && c->name_len == n && !memcmp(s->arena.data + c->name_off, name, n))
			return (long)s->index[i] - 1;
	}
	return -1;
}

static int grow_index(struct kl_schema *s)
{
	size_t cap = s->index ? (s->index_mask + 1) * 2 : 64;
	uint32_t *idx = calloc(cap, sizeof *idx);
	if (!idx)
		return -1;
	for (size_t j = 0; j < s->n; j++) {
		size_t i = s->cols[j].hash & (cap - 1);
		while (idx[i])
			i = (i + 1) & (cap - 1);
		idx[i] = (uint32_t)j + 1;
	}
	free(s->index);
	s->index = idx;
	s->index_mask = cap - 1;
	return 0;
}

long kl_schema_col(struct kl_schema *s, const char *name, size_t n)
{
	long f = kl_schema_find(s, name, n);
	if (f >= 0)
		return f;
	if (KL_ARRAY_GROW(s->cols, s->n, s->cap, 32))
		return -1;
	if ((!s->index || (s->n + 1) * 2 > s->index_mask + 1) && grow_index(s))
		return -1;
	struct kl_schema_col *c = &s->cols[s->n];
	c->name_off = s->arena.len;
	c->name_len = n;
	c->hash = XXH3_64bits_withSeed(name, n, s->seed);
	c->kind = KL_COL_UNKNOWN;
	if (kl_buf_append(&s->arena, name, n) || kl_buf_putc(&s->arena, '\0'))
		return -1;
	size_t i = c->hash & s->index_mask;
	while (s->index[i])
		i = (i + 1) & s->index_mask;
	s->index[i] = (uint32_t)s->n + 1;
	return (long)s->n++;
}

enum kl_col_kind kl_col_widen(enum kl_col_kind a, enum kl_col_kind b)
{
	if (a == KL_COL_UNKNOWN)
		return b;
	if (b == KL_COL_UNKNOWN || a == b)
		return a;
	if ((a == KL_COL_INT && b == KL_COL_DOUBLE) || (a == KL_COL_DOUBLE && b == KL_COL_INT))
		return KL_COL_DOUBLE;
	return KL_COL_STRING;
}

void kl_schema_observe(struct kl_schema *s, size_t i, int t)
{
	enum kl_col_kind k;
	switch (t) {
	case KL_JSON_NULL: return;
	case KL_JSON_TRUE:
	case KL_JSON_FALSE: k = KL_COL_BOOL; break;
	case KL_JSON_INT: k = KL_COL_INT; break;
	case KL_JSON_NUMBER: k = KL_COL_DOUBLE; break;
	default: k = KL_COL_STRING; break;
	}
	s->cols[i].kind = kl_col_widen(s->cols[i].kind, k);
}

const char *kl_col_kind_name(enum kl_col_kind k)
{
	switch (k) {
	case KL_COL_BOOL: return "boolean";
	case KL_COL_INT: return "bigint";
	case KL_COL_DOUBLE: return "double";
	case KL_COL_STRING: return "string";
	case KL_COL_UNKNOWN: return "string";
	}
	return "string";
}

const struct kl_pq_column *kl_schema_columns(struct kl_schema *s)
{
	if (s->pq_cap < s->n) {
		free(s->pq);
		s->pq = malloc(s->n * sizeof *s->pq);
		if (!s->pq) {
			s->pq_cap = 0;
			return NULL;
		}
		s->pq_cap = s->n;
	}
	for (size_t i = 0; i < s->n; i++) {
		s->pq[i].name = kl_schema_name(s, i);
		switch (s->cols[i].kind) {
		case KL_COL_BOOL: s->pq[i].type = KL_PQ_BOOLEAN; break;
		case KL_COL_INT: s->pq[i].type = KL_PQ_INT64; break;
		case KL_COL_DOUBLE: s->pq[i].type = KL_PQ_DOUBLE; break;
		default: s->pq[i].type = KL_PQ_STRING; break;
		}
	}
	return s->pq;
}
