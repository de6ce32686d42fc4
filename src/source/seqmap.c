/* seqmap.c — see seqmap.h. Formats: Kinesis API reference, Record
 * (SequenceNumber) and Shard (ShardId). */
#include "source/seqmap.h"
#include "core/array.h"
#include "core/buf.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

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
	m->head = m->live = m->n = m->dlen = 0;
	m->last_len = 0;
	m->since = 0;
}

#ifdef __SSE2__
/* 16 characters at p: a mask of those that are decimal digits */
static inline unsigned digits16(const char *p)
{
	__m128i d = _mm_sub_epi8(_mm_loadu_si128((const __m128i *)(const void *)p),
				 _mm_set1_epi8('0'));
	return (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_min_epu8(d, _mm_set1_epi8(9)), d));
}
#endif

int kl_seqmap_seq_ok(const char *s, size_t n)
{
	if (!n || n > KL_SEQ_MAX)
		return 0;
	size_t i = 0;
#ifdef __SSE2__
	/* 16 at a time (every call: a number per Kinesis record), the last 16
	 * overlapping the ones before */
	for (; i + 16 <= n; i += 16)
		if (digits16(s + i) != 0xFFFFu)
			return 0;
	if (i < n && n >= 16)
		return digits16(s + n - 16) == 0xFFFFu;
#endif
	for (; i < n; i++)
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

/* At most this many marks in a row share digits with the one before, so
 * kl_seqmap_seq() decodes at most this many (seqmap.h, Memory). */
#define SEQMAP_RESTART 16

int kl_seqmap_add(struct kl_seqmap *m, uint64_t first_pos, const char *seq, size_t len,
		  int aggregated)
{
	if (!kl_seqmap_seq_ok(seq, len))
		return KL_EPARSE;
	if (m->n > m->live && m->marks[m->n - 1].first_pos > first_pos)
		return KL_EINVAL;
	/* reuse the room of forgotten marks (and of their digits) once they
	 * are half the array; head is a whole mark, so the kept ones decode */
	if (m->head > 0 && m->head * 2 >= m->n) {
		size_t base = m->head < m->n ? m->marks[m->head].off : m->dlen;
		memmove(m->marks, m->marks + m->head, (m->n - m->head) * sizeof *m->marks);
		m->n -= m->head;
		m->live -= m->head;
		m->head = 0;
		memmove(m->digits, m->digits + base, m->dlen - base);
		m->dlen -= base;
		for (size_t i = 0; i < m->n; i++)
			m->marks[i].off -= (uint32_t)base;
	}
	if (KL_ARRAY_GROW(m->marks, m->n, m->cap, 1024))
		return KL_ENOMEM;
	size_t shared = 0;
	if (m->n > m->head && m->since + 1 < SEQMAP_RESTART) {
		size_t most = len < m->last_len ? len : m->last_len;
		shared = kl_bytes_common_prefix(seq, m->last, most);
	}
	size_t bytes = (len - shared + 1) / 2;
	if (m->dlen + bytes > m->dcap) {
		size_t cap = m->dcap ? m->dcap * 2 : 32768;
		while (cap < m->dlen + bytes)
			cap *= 2;
		if (cap > UINT32_MAX)
			return KL_ENOMEM;
		uint8_t *d = realloc(m->digits, cap);
		if (!d)
			return KL_ENOMEM;
		m->digits = d;
		m->dcap = cap;
	}
	struct kl_seqmark *k = &m->marks[m->n++];
	k->first_pos = first_pos;
	k->off = (uint32_t)m->dlen;
	k->len = (uint8_t)len;
	k->shared = (uint8_t)shared;
	k->aggregated = aggregated != 0;
	uint8_t *d = m->digits + m->dlen;
	size_t i = shared;
#ifdef __SSE2__
	/* 16 digits -> 8 bytes: in each 16-bit lane (digit a, then b) a << 4
	 * in the low byte, or-ed with b shifted down to it, packed */
	for (; i + 16 <= len; i += 16, d += 8) {
		__m128i v = _mm_sub_epi8(_mm_loadu_si128((const __m128i *)(const void *)(seq + i)),
					 _mm_set1_epi8('0'));
		__m128i w = _mm_or_si128(_mm_and_si128(_mm_slli_epi16(v, 4), _mm_set1_epi16(0xF0)),
					 _mm_srli_epi16(v, 8));
		_mm_storel_epi64((__m128i *)(void *)d, _mm_packus_epi16(w, w));
	}
#endif
	for (; i < len; i += 2) /* high nibble first */
		*d++ = (uint8_t)((seq[i] - '0') << 4 | (i + 1 < len ? seq[i + 1] - '0' : 0));
	m->dlen += bytes;
	m->since = shared ? m->since + 1 : 0;
	memcpy(m->last + shared, seq + shared, len - shared);
	m->last_len = len;
	return KL_OK;
}

size_t kl_seqmap_bytes(const struct kl_seqmap *m)
{
	return m->cap * sizeof *m->marks + m->dcap;
}

const char *kl_seqmap_seq(const struct kl_seqmap *m, const struct kl_seqmark *k,
			  char out[KL_SEQ_MAX + 1])
{
	const struct kl_seqmark *w = k;
	while (w->shared && w > m->marks + m->head)
		w--;
	for (;; w++) { /* each mark's digits after those it shares with the one before */
		const uint8_t *d = m->digits + w->off;
		for (size_t i = w->shared, j = 0; i < w->len; i++, j++) /* j: the nibble */
			out[i] = (char)('0' + (j % 2 ? d[j / 2] & 15 : d[j / 2] >> 4));
		if (w == k)
			break;
	}
	out[k->len] = '\0';
	return out;
}

const struct kl_seqmark *kl_seqmap_find(const struct kl_seqmap *m, uint64_t pos)
{
	const struct kl_seqmark *best = NULL;
	size_t lo = m->live, hi = m->n;
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
	if (i > m->live && i < m->n) {
		m->live = i;
		m->head = i;
		while (m->head > 0 && m->marks[m->head].shared)
			m->head--;
	}
}

int kl_seqmap_stem(const struct kl_seqmap *m, const char *shard, uint64_t pos, char *out,
		   size_t cap)
{
	const struct kl_seqmark *k = kl_seqmap_find(m, pos);
	if (!k)
		return -1;
	char seq[KL_SEQ_MAX + 1];
	kl_seqmap_seq(m, k, seq);
	int n = pos == k->first_pos
		    ? snprintf(out, cap, "%s-%s", shard, seq)
		    : snprintf(out, cap, "%s-%s-%" PRIu64, shard, seq, pos - k->first_pos);
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
	char seq[KL_SEQ_MAX + 1];
	kl_seqmap_seq(m, k, seq);
	int n = k->aggregated ? snprintf(out, cap, "%s:%s:%" PRIu64, input, seq, pos - k->first_pos)
			      : snprintf(out, cap, "%s:%s", input, seq);
	return n > 0 && (size_t)n < cap ? 0 : -1;
}
