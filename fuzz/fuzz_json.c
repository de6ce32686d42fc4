/* fuzz_json.c — libFuzzer target for parse/json.
 * Invariants: never crash; validating with and without a doc agrees; a valid
 * text minifies to a valid text; member spans stay inside the input and
 * string members unescape without growing; the validating walk (every
 * container walked, or some stepped over whole, as the input's own bytes
 * choose) accepts exactly the texts the validator accepts, with spans that
 * match the doc's. */
#include "parse/json.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_DEPTH 64

/* Walk the container at p to its close with kl_json_walk: a nested
 * container is walked too, or stepped over whole, chosen by the parity of
 * its first key's or element's byte. -> just past its close, or NULL. */
static const char *walk(const char *p, const char *end, unsigned depth, struct kl_json_doc *top)
{
	struct kl_json_walk w;
	struct kl_json_member m;
	int r;
	size_t i = 0;
	if (kl_json_walk_open(&w, p, end, depth, MAX_DEPTH))
		return NULL;
	while ((r = kl_json_walk_next(&w, &m)) == 1) {
		if (m.val < end && (*m.val == '{' || *m.val == '[') && ((unsigned char)*m.start & 1)) {
			const char *after = walk(m.val, end, depth + 1, NULL);
			if (!after)
				return NULL;
			m.val_len = (size_t)(after - m.val);
			kl_json_walk_skip(&w, after);
		} else if (kl_json_walk_value(&w, &m)) {
			return NULL;
		}
		if (top) { /* a valid text's members are the doc's (top is NULL otherwise) */
			if (i >= top->n)
				abort();
			const struct kl_json_member *d = &top->m[i];
			if (m.key != d->key || m.key_len != d->key_len || m.val != d->val ||
			    m.val_len != d->val_len || m.key_esc != d->key_esc)
				abort();
		}
		i++;
	}
	if (r < 0)
		return NULL;
	if (top && i != top->n)
		abort();
	return w.p;
}

/* The whole text by the walk: 0 if it accepts it. */
static int walk_text(const char *p, size_t size, struct kl_json_doc *doc)
{
	const char *end = p + size, *q = p;
	while (q < end && (*q == ' ' || *q == '\t' || *q == '\n' || *q == '\r'))
		q++;
	const char *after;
	if (q < end && (*q == '{' || *q == '['))
		after = walk(q, end, 1, doc && *q == '{' ? doc : NULL);
	else {
		uint8_t t;
		after = kl_json_value_end(q, end, MAX_DEPTH, &t);
	}
	return after && kl_json_walk_done(after, end) == 0 ? 0 : -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data;
	struct kl_json_doc doc;
	kl_json_doc_init(&doc);
	int rc = kl_json_parse(p, size, MAX_DEPTH, &doc, NULL);
	if ((rc == 0) != (kl_json_parse(p, size, MAX_DEPTH, NULL, NULL) == 0))
		abort();
	if ((rc == 0) != (walk_text(p, size, rc == 0 ? &doc : NULL) == 0))
		abort();
	if (rc == 0) {
		char *out = malloc(size + 1);
		size_t n = kl_json_minify(p, size, out);
		if (kl_json_parse(out, n, 64, NULL, NULL) != 0)
			abort();
		for (size_t i = 0; i < doc.n; i++) {
			const struct kl_json_member *m = &doc.m[i];
			if (m->key < p || m->val + m->val_len > p + size)
				abort();
			size_t k = kl_json_unescape(m->key, m->key_len, out);
			if (k > m->key_len)
				abort();
			if (m->type == KL_JSON_STRING) {
				k = kl_json_unescape(m->val + 1, m->val_len - 2, out);
				if (k > m->val_len)
					abort();
			}
		}
		free(out);
		/* the trusted splitter agrees with the validator, member by member */
		struct kl_json_doc fast;
		kl_json_doc_init(&fast);
		if (kl_json_split_valid(p, size, &fast))
			abort();
		if ((doc.top == KL_JSON_OBJECT) != (fast.top == KL_JSON_OBJECT) ||
		    (doc.top == KL_JSON_OBJECT && fast.n != doc.n))
			abort();
		for (size_t i = 0; doc.top == KL_JSON_OBJECT && i < doc.n; i++) {
			const struct kl_json_member *a = &doc.m[i], *b = &fast.m[i];
			if (a->key != b->key || a->key_len != b->key_len || a->val != b->val ||
			    a->val_len != b->val_len || a->type != b->type ||
			    a->key_esc != b->key_esc || a->val_esc != b->val_esc ||
			    a->val_ws != b->val_ws || a->start != b->start)
				abort();
		}
		kl_json_doc_cleanup(&fast);
	}
	kl_json_doc_cleanup(&doc);
	return 0;
}
