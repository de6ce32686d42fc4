/* seqmap.c — see seqmap.h. Formats: Kinesis API reference, Record
 * (SequenceNumber) and Shard (ShardId). */
#include "source/seqmap.h"
#include "core/array.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void kl_seqmap_init(struct kl_seqmap *m)
{
	memset(m, 0, sizeof *m);
}

void kl_seqmap_cleanup(struct kl_seqmap *m)
{
	free(m->marks);
	free(m->digits);
	memset(m, 0, sizeof *m);
}

void kl_seqmap_reset(struct kl_seqmap *m)
{
	m->head = m->n = m->dlen = 0;
}

int kl_seqmap_seq_ok(const char *s, size_t n)
{
	if (!n || n > KL_SEQ_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return 1;
}

int kl_seqmap_shard_ok(const char *s, size_t n)
{
	if (!n || n > KL_SHARD_MAX)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '.' || c == '-'))
			return 0;
	}
	return 1;
}

int kl_seqmap_add(struct kl_seqmap *m, uint64_t first_pos, const char *seq, size_t len,
		  int aggregated)
{
	if (!kl_seqmap_seq_ok(seq, len))
		return KL_EPARSE;
	if (m->n > m->head && m->marks[m->n - 1].first_pos > first_pos)
		return KL_EINVAL;
	/* reuse the room of forgotten marks (and of their digits) once they
	 * are half the array */
	if (m->head > 0 && m->head * 2 >= m->n) {
		size_t base = m->head < m->n ? m->marks[m->head].off : m->dlen;
		memmove(m->marks, m->marks + m->head, (m->n - m->head) * sizeof *m->marks);
		m->n -= m->head;
		m->head = 0;
		memmove(m->digits, m->digits + base, m->dlen - base);
		m->dlen -= base;
		for (size_t i = 0; i < m->n; i++)
			m->marks[i].off -= (uint32_t)base;
	}
	if (KL_ARRAY_GROW(m->marks, m->n, m->cap, 1024))
		return KL_ENOMEM;
	if (m->dlen + len + 1 > m->dcap) {
		size_t cap = m->dcap ? m->dcap * 2 : 32768;
		while (cap < m->dlen + len + 1)
			cap *= 2;
		if (cap > UINT32_MAX)
			return KL_ENOMEM;
		char *d = realloc(m->digits, cap);
		if (!d)
			return KL_ENOMEM;
		m->digits = d;
		m->dcap = cap;
	}
	struct kl_seqmark *k = &m->marks[m->n++];
	k->first_pos = first_pos;
	k->off = (uint32_t)m->dlen;
	k->len = (uint8_t)len;
	k->aggregated = aggregated != 0;
	memcpy(m->digits + m->dlen, seq, len);
	m->digits[m->dlen + len] = '\0';
	m->dlen += len + 1;
	return KL_OK;
}

const struct kl_seqmark *kl_seqmap_find(const struct kl_seqmap *m, uint64_t pos)
{
	const struct kl_seqmark *best = NULL;
	size_t lo = m->head, hi = m->n;
	while (lo < hi) { /* the last mark with first_pos <= pos */
		size_t mid = lo + (hi - lo) / 2;
		if (m->marks[mid].first_pos <= pos) {
			best = &m->marks[mid];
			lo = mid + 1;
		} else {
			hi = mid;
		}
	}
	return best;
}

void kl_seqmap_forget(struct kl_seqmap *m, const struct kl_seqmark *mk)
{
	size_t i = (size_t)(mk - m->marks);
	if (i > m->head && i < m->n)
		m->head = i;
}

int kl_seqmap_stem(const struct kl_seqmap *m, const char *shard, uint64_t pos, char *out,
		   size_t cap)
{
	const struct kl_seqmark *k = kl_seqmap_find(m, pos);
	if (!k)
		return -1;
	int n = pos == k->first_pos ? snprintf(out, cap, "%s-%s", shard, kl_seqmap_seq(m, k))
				    : snprintf(out, cap, "%s-%s-%" PRIu64, shard,
					       kl_seqmap_seq(m, k), pos - k->first_pos);
	return n > 0 && (size_t)n < cap ? 0 : -1;
}

int kl_seqmap_input(char *out, size_t cap, const char *stream, size_t stream_len, const char *shard)
{
	int n = snprintf(out, cap, "kinesis:%.*s%s%s", (int)stream_len, stream,
			 stream_len ? "/" : "", shard);
	return n > 0 && (size_t)n < cap ? 0 : -1;
}

int kl_seqmap_origin(const struct kl_seqmap *m, const char *input, uint64_t pos, char *out,
		     size_t cap)
{
	const struct kl_seqmark *k = kl_seqmap_find(m, pos);
	if (!k)
		return -1;
	int n = k->aggregated ? snprintf(out, cap, "%s:%s:%" PRIu64, input, kl_seqmap_seq(m, k),
					 pos - k->first_pos)
			      : snprintf(out, cap, "%s:%s", input, kl_seqmap_seq(m, k));
	return n > 0 && (size_t)n < cap ? 0 : -1;
}
