/* fuzz_kpl.c — libFuzzer target for decode/kpl.
 * Each input is decoded twice: as a Kinesis record's data, and wrapped as
 * magic || input || MD5(input), so that mutations reach the protobuf reader
 * instead of dying at the checksum. Invariants: never crash; decoding never
 * fails; a pass-through is exactly one record holding exactly the input; an
 * aggregated result only comes from magic + valid MD5, and every data, key
 * and hash-key span lies inside the protobuf bytes; sub_index counts 0..n-1;
 * decoding the same bytes again (the arrays reused) gives the same records. */
#include "decode/kpl.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int inside(const void *s, size_t n, const uint8_t *p, size_t len)
{
	const uint8_t *b = s;
	return n == 0 || (b >= p && b <= p + len && n <= (size_t)(p + len - b));
}

static void check(struct kl_kpl *k, const uint8_t *p, size_t n)
{
	const struct kl_kpl_record *out;
	size_t count;
	int agg;
	const char *why;
	if (kl_kpl_decode(k, p, n, &out, &count, &agg, &why) != 0)
		abort();
	if (!agg) {
		if (!why || count != 1 || out[0].data != p || out[0].len != n ||
		    out[0].partition_key || out[0].explicit_hash_key || out[0].sub_index)
			abort();
	} else {
		if (why || n < KL_KPL_MAGIC_LEN + KL_KPL_MD5_LEN ||
		    memcmp(p, KL_KPL_MAGIC, KL_KPL_MAGIC_LEN) != 0)
			abort();
		const uint8_t *body = p + KL_KPL_MAGIC_LEN;
		size_t blen = n - KL_KPL_MAGIC_LEN - KL_KPL_MD5_LEN;
		for (size_t i = 0; i < count; i++) {
			const struct kl_kpl_record *r = &out[i];
			if (r->sub_index != i || !r->partition_key ||
			    !inside(r->data, r->len, body, blen) ||
			    !inside(r->partition_key, r->pk_len, body, blen) ||
			    !inside(r->explicit_hash_key, r->ehk_len, body, blen) ||
			    (!r->explicit_hash_key && r->ehk_len))
				abort();
		}
	}
	/* again, with the arrays reused: the same answer */
	struct kl_kpl_record first = count ? out[0] : (struct kl_kpl_record){0};
	struct kl_kpl_record last = count ? out[count - 1] : (struct kl_kpl_record){0};
	const struct kl_kpl_record *out2;
	size_t count2;
	int agg2;
	const char *why2;
	if (kl_kpl_decode(k, p, n, &out2, &count2, &agg2, &why2) != 0 || count2 != count ||
	    agg2 != agg || why2 != why)
		abort();
	if (count && (memcmp(&first, &out2[0], sizeof first) != 0 ||
		      memcmp(&last, &out2[count - 1], sizeof last) != 0))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kl_kpl k;
	kl_kpl_init(&k);
	/* a tight heap copy: ASan flags any read past the end */
	uint8_t *p = malloc(size ? size : 1);
	if (size)
		memcpy(p, data, size);
	check(&k, p, size);
	free(p);

	size_t n = KL_KPL_MAGIC_LEN + size + KL_KPL_MD5_LEN;
	uint8_t *w = malloc(n);
	unsigned mdlen = 0;
	memcpy(w, KL_KPL_MAGIC, KL_KPL_MAGIC_LEN);
	if (size)
		memcpy(w + KL_KPL_MAGIC_LEN, data, size);
	if (!EVP_Digest(data, size, w + KL_KPL_MAGIC_LEN + size, &mdlen, EVP_md5(), NULL) ||
	    mdlen != KL_KPL_MD5_LEN)
		abort();
	check(&k, w, n);
	free(w);
	kl_kpl_cleanup(&k);
	return 0;
}
