/* row.c — see row.h. */
#include "event/row.h"

#include "core/array.h"
#include "core/err.h"

#include <string.h>

/* A length at *pp (p < end), past it; -1 for a malformed one. */
static inline long long get_len(const unsigned char **pp, const unsigned char *end)
{
	const unsigned char *p = *pp;
	if (p < end && *p >= 0xC0) { /* under 64: one digit, the usual case */
		*pp = p + 1;
		return *p & 63;
	}
	unsigned long long v = 0;
	for (unsigned shift = 0; shift < 6 * KL_ROW_LEN_MAX; shift += 6) {
		if (p >= end || *p < 0x80)
			return -1;
		unsigned char b = *p++;
		v |= (unsigned long long)(b & 63) << shift;
		if (b & 0x40) {
			*pp = p;
			return (long long)v;
		}
	}
	return -1;
}

int kl_row_split(const char *text, size_t n, struct kl_json_doc *doc)
{
	const unsigned char *p = (const unsigned char *)text, *end = p + n;
	doc->n = 0;
	doc->top = KL_JSON_OBJECT;
	doc->ws = 1; /* not known */
	if (!kl_row_is(text, n))
		return -1;
	p++;
	while (p < end) {
		long long kl = get_len(&p, end);
		if (kl < 0 || kl > end - p)
			return -1;
		const unsigned char *key = p;
		p += kl;
		if (p >= end || *p < 0x80 || *p > 0xBF)
			return -1;
		unsigned flags = *p++;
		long long vl = get_len(&p, end);
		if (vl < 0 || vl > end - p)
			return -1;
		if (KL_ARRAY_GROW(doc->m, doc->n, doc->cap, 32))
			return -1;
		struct kl_json_member *m = &doc->m[doc->n++];
		m->key = m->start = (const char *)key;
		m->key_len = (size_t)kl;
		m->val = (const char *)p;
		m->val_len = (size_t)vl;
		m->type = (uint8_t)(flags & 7);
		m->key_esc = (flags >> 3) & 1;
		m->val_esc = (flags >> 4) & 1;
		m->val_ws = (flags >> 5) & 1;
		p += vl;
	}
	return 0;
}
