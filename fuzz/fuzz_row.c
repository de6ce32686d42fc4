/* fuzz_row.c — libFuzzer target for event/row.h, the pre-split rows a
 * Parquet partition's buffer holds.
 * Invariants: kl_row_split never reads past its input and never crashes on
 * any bytes; for an input kl_event_parse accepts, the event's row splits
 * into the members its JSON line splits into (kl_json_split_valid), the
 * same bytes (a container with whitespace minified), types and flags, the
 * row's json_len is that line's length, and neither holds a newline; each
 * is at most its reserve (kl_event_row_reserve, kl_event_json_reserve: an
 * event_name with escapes whose decoded control characters come back as
 * \u00XX once overran both). And the Parquet encoder, at the smallest
 * column cap (one payload column, the rest rescued as JSON in
 * _rescued_data: encode/parquet/schema.h), makes the same file of the row
 * as of the JSON line. */
#include "encode/encoder.h"
#include "event/event.h"
#include "event/row.h"
#include "fuzz_common.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int sink(void *ctx, const void *p, size_t n)
{
	return kl_buf_append(ctx, p, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct kl_event ev; /* reused like the pipeline does */
	static struct kl_json_doc a, b;
	static int init;
	if (!init) {
		kl_event_init(&ev);
		kl_json_doc_init(&a);
		kl_json_doc_init(&b);
		init = 1;
	}
	const char *p = (const char *)data;
	/* any bytes as a row: members only within the input */
	char *copy = malloc(size ? size : 1); /* exactly sized: ASan sees an overread */
	REQUIRE(copy);
	memcpy(copy, p, size);
	if (kl_row_split(copy, size, &b) == 0)
		for (size_t i = 0; i < b.n; i++)
			REQUIRE(b.m[i].key >= copy && b.m[i].val + b.m[i].val_len <= copy + size &&
				b.m[i].type <= KL_JSON_OBJECT);
	free(copy);

	struct kl_event_limits lim = {1 << 20, 64};
	if (kl_event_parse(&ev, p, size, &lim) != KL_REJ_NONE)
		return 0;
	struct kl_buf json, row;
	kl_buf_init(&json, 0);
	kl_buf_init(&row, 0);
	uint64_t json_len = 0;
	REQUIRE(kl_event_write_json(&ev, p, size, &json) == 0);
	REQUIRE(kl_event_write_row(&ev, p, size, &row, &json_len) == 0);
	REQUIRE(row.len <= kl_event_row_reserve(&ev, size));
	REQUIRE(json.len <= kl_event_json_reserve(&ev, size));
	REQUIRE(json_len == json.len);
	REQUIRE(kl_row_is(row.data, row.len) && !kl_row_is(json.data, json.len));
	REQUIRE(!memchr(row.data, '\n', row.len) && !memchr(json.data, '\n', json.len));
	REQUIRE(kl_json_split_valid(json.data, json.len, &a) == 0);
	REQUIRE(kl_row_split(row.data, row.len, &b) == 0);
	REQUIRE(a.n == b.n);
	for (size_t i = 0; i < a.n; i++) {
		const struct kl_json_member *x = &a.m[i], *y = &b.m[i];
		REQUIRE(x->key_len == y->key_len && !memcmp(x->key, y->key, x->key_len));
		if (x->val_ws) {
			char *mv = malloc(x->val_len + 1);
			REQUIRE(mv);
			size_t mn = kl_json_minify(x->val, x->val_len, mv);
			REQUIRE(y->val_len == mn && !memcmp(y->val, mv, mn));
			free(mv);
		} else {
			REQUIRE(x->val_len == y->val_len && !memcmp(x->val, y->val, x->val_len));
		}
		REQUIRE(x->type == y->type && x->key_esc == y->key_esc && x->val_esc == y->val_esc &&
			!y->val_ws);
	}
	static struct kl_encoder *enc;
	static struct kl_buf fa, fb;
	if (!enc) {
		struct kl_encoder_opts eo = {.compression = KL_COMP_NONE,
					     .max_columns = KL_PQ_MIN_COLUMNS};
		REQUIRE((enc = kl_encoder_parquet_new(&eo, NULL, NULL)) != NULL);
		kl_buf_init(&fa, 0);
		kl_buf_init(&fb, 0);
	}
	struct kl_errbuf eb;
	kl_errbuf_clear(&eb);
	kl_buf_reset(&fa);
	kl_buf_reset(&fb);
	REQUIRE(kl_buf_append(&json, "\n", 1) == 0 && kl_buf_append(&row, "\n", 1) == 0);
	REQUIRE(enc->ops->encode(enc, json.data, json.len, 1, sink, &fa, &eb) == 0);
	REQUIRE(enc->ops->encode(enc, row.data, row.len, 1, sink, &fb, &eb) == 0);
	REQUIRE(fa.len == fb.len && !memcmp(fa.data, fb.data, fa.len));
	kl_buf_cleanup(&json);
	kl_buf_cleanup(&row);
	return 0;
}
