/* fuzz_dynamodb.c — libFuzzer target for DynamoDB answers (aws/dynamodb.h)
 * and the lease rows in them (lease/lease.h): the input is a Scan page; its
 * items are decoded as leases, and the whole text is also read as a
 * GetItem / DescribeTable answer and as one item by the attribute readers.
 * Invariants: never crash or read past the input; every decoded string is
 * NUL-terminated inside its array and holds no NUL; a decoded lease has a
 * non-empty key and at most KL_LEASE_MAX_PARENTS parents; a string set
 * read of N strings leaves N terminated rows. */
#include "aws/dynamodb.h"
#include "fuzz_common.h"
#include "lease/lease.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_str(const char *s, size_t cap)
{
	REQUIRE(memchr(s, '\0', cap) != NULL);
}

static void check_lease(const struct kl_lease *l)
{
	check_str(l->key, sizeof l->key);
	check_str(l->owner, sizeof l->owner);
	check_str(l->checkpoint, sizeof l->checkpoint);
	check_str(l->handoff, sizeof l->handoff);
	REQUIRE(l->key[0] != '\0');
	REQUIRE(l->n_parents <= KL_LEASE_MAX_PARENTS);
	for (size_t i = 0; i < l->n_parents; i++)
		check_str(l->parents[i], sizeof l->parents[i]);
}

static void read_item(const char *p, size_t n)
{
	struct kl_lease l;
	if (kl_lease_item_decode(p, n, &l) == KL_OK)
		check_lease(&l);
	char s[64];
	int64_t x;
	if (kl_ddb_attr_s(p, n, "checkpoint", s, sizeof s) == KL_OK)
		check_str(s, sizeof s);
	kl_ddb_attr_n(p, n, "leaseCounter", &x);
	char rows[3][16];
	size_t count = 0;
	if (kl_ddb_attr_strs(p, n, "parentShardId", &rows[0][0], 16, 3, &count) == KL_OK) {
		REQUIRE(count <= 3);
		for (size_t i = 0; i < count; i++)
			check_str(rows[i], 16);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* an exact-size copy: ASan sees any read past the end */
	char *p = malloc(size ? size : 1);
	if (!p)
		return 0;
	memcpy(p, data, size);
	struct kl_json_iter it;
	struct kl_json_member m;
	const char *lek;
	size_t lek_len;
	if (kl_ddb_scan_page(p, size, &it, &lek, &lek_len) == KL_OK) {
		REQUIRE(!lek || (lek >= p && lek + lek_len <= p + size && lek[0] == '{'));
		while (kl_json_iter_next(&it, &m))
			if (m.type == KL_JSON_OBJECT) {
				REQUIRE(m.val >= p && m.val + m.val_len <= p + size);
				read_item(m.val, m.val_len);
			}
		/* the whole answer as one item (it passed validation) */
		read_item(p, size);
	}
	if (kl_ddb_answer_get(p, size, "Item", &m) == KL_OK && m.type == KL_JSON_OBJECT)
		read_item(m.val, m.val_len);
	if (kl_ddb_answer_get(p, size, "Table", &m) == KL_OK)
		REQUIRE(m.val >= p && m.val + m.val_len <= p + size);
	free(p);
	return 0;
}
