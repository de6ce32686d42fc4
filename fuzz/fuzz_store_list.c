/* fuzz_store_list.c — libFuzzer target for the S3 listing parser
 * (store/s3_request.h, kl_s3_list_page: one ListObjectsV2 page).
 * The first byte picks the store prefix stripped from keys ("" or "lake/").
 * Invariants: never crash; every key handed over has the length said, no
 * NUL inside and a NUL after it; a truncated page always names the token. */
#include "fuzz_common.h"
#include "store/s3_request.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int on_key(void *ctx, const char *key, size_t len)
{
	size_t *n = ctx;
	REQUIRE(len > 0 && strlen(key) == len);
	(*n)++;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	const char *strip = data[0] & 1 ? "lake/" : "";
	struct kl_buf next;
	kl_buf_init(&next, 1 << 16);
	size_t n = 0;
	int truncated = 0;
	int rc =
	    kl_s3_list_page((const char *)data + 1, size - 1, strip, on_key, &n, &truncated, &next);
	if (rc == KL_OK && truncated)
		REQUIRE(next.len > 1 && strlen(next.data) == next.len - 1);
	kl_buf_cleanup(&next);
	return 0;
}
