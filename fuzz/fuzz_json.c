/* fuzz_json.c — libFuzzer target for parse/json.
 * Invariants: never crash; validating with and without a doc agrees; a valid
 * text minifies to a valid text; member spans stay inside the input and
 * string members unescape without growing. */
#include "parse/json.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data;
	struct kl_json_doc doc;
	kl_json_doc_init(&doc);
	int rc = kl_json_parse(p, size, 64, &doc, NULL);
	if ((rc == 0) != (kl_json_parse(p, size, 64, NULL, NULL) == 0))
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
