/* fuzz_schema_registry.c — libFuzzer target for the schema registry's
 * document reader (encode/parquet/schema.h, kl_schema_doc_read).
 * Invariants: never crash; a document that reads writes back canonically
 * (kl_schema_doc_write succeeds: every name read is valid UTF-8) and reads
 * again to the same columns, kinds and order; writing that gives the same
 * bytes. */
#include "encode/parquet/schema.h"
#include "fuzz_common.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kl_schema a, b;
	kl_schema_init(&a);
	kl_schema_init(&b);
	struct kl_errbuf eb = {{0}, 0};
	if (kl_schema_doc_read((const char *)data, size, &a, &eb) == KL_OK) {
		struct kl_buf w1, w2;
		kl_buf_init(&w1, 0);
		kl_buf_init(&w2, 0);
		REQUIRE(kl_schema_doc_write(&w1, "t\t\"", 3, &a) == KL_OK);
		REQUIRE(kl_schema_doc_read(w1.data, w1.len, &b, &eb) == KL_OK);
		REQUIRE(a.n == b.n);
		for (size_t i = 0; i < a.n; i++) {
			REQUIRE(a.cols[i].name_len == b.cols[i].name_len);
			REQUIRE(!memcmp(kl_schema_name(&a, i), kl_schema_name(&b, i),
					a.cols[i].name_len));
			REQUIRE(a.cols[i].kind == b.cols[i].kind);
		}
		REQUIRE(kl_schema_doc_write(&w2, "t\t\"", 3, &b) == KL_OK);
		REQUIRE(w1.len == w2.len && !memcmp(w1.data, w2.data, w1.len));
		kl_buf_cleanup(&w1);
		kl_buf_cleanup(&w2);
	} else {
		REQUIRE(eb.code != KL_OK && eb.msg[0]);
	}
	kl_schema_cleanup(&a);
	kl_schema_cleanup(&b);
	return 0;
}
