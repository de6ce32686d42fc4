/*
 * fuzz_num.c — libFuzzer target for src/parse/num.h.
 *
 * Any bytes: kl_num_double_fast() and kl_num_i64_fast() must not crash and
 * must decline (return 0) anything that is not a JSON number. When the
 * input is a JSON number (kl_json_parse of {"a":input} says INT or NUMBER) and a fast path
 * takes it, its value must be bit for bit what strtod / strtoll give (the
 * encoder writes exactly those bits into Parquet pages). Also checked on a
 * number rebuilt from the input's digits, so that short decimals with
 * exponents (the fast path's domain) are hit often.
 */
#include "fuzz_common.h"
#include "parse/json.h"
#include "parse/num.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void check(const char *p, size_t n)
{
	char buf[600];
	if (n + 7 >= sizeof buf)
		return;
	/* as a member value, so that the parser tells INT from NUMBER */
	memcpy(buf, "{\"a\":", 5);
	memcpy(buf + 5, p, n);
	buf[5 + n] = '}';
	struct kl_json_doc doc;
	struct kl_json_error err;
	kl_json_doc_init(&doc);
	int ok = kl_json_parse(buf, n + 6, 8, &doc, &err) == 0 && doc.n == 1 &&
		 doc.m[0].val_len == n &&
		 (doc.m[0].type == KL_JSON_INT || doc.m[0].type == KL_JSON_NUMBER);
	int top = ok ? doc.m[0].type : -1;
	kl_json_doc_cleanup(&doc);
	double d;
	int64_t i;
	int fd = kl_num_double_fast(p, n, &d), fi = kl_num_i64_fast(p, n, &i);
	if (!ok) {
		/* not a number: only digit strings a validator would reject may
		 * still pass (leading zeros, as "01"): the fast path is for
		 * validated text; it must at least read only p[0..n) */
		return;
	}
	memcpy(buf, p, n);
	buf[n] = '\0';
	if (fd) {
		double want = strtod(buf, NULL);
		REQUIRE(memcmp(&d, &want, sizeof d) == 0);
	}
	if (fi) {
		REQUIRE(top == KL_JSON_INT);
		errno = 0;
		long long want = strtoll(buf, NULL, 10);
		REQUIRE(errno == 0 && want == i);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check((const char *)data, size);
	/* rebuilt: [-]digits[.digits][e[+-]digits] from the input's nibbles */
	char t[64];
	size_t n = 0, k = 0;
	uint8_t shape = size ? data[k++] : 0;
	if (shape & 1)
		t[n++] = '-';
	size_t id = 1 + (size > k ? data[k++] % 20 : 0);
	for (size_t j = 0; j < id && k < size; j++)
		t[n++] = (char)('0' + data[k++] % 10);
	if (n && t[n - 1] == '-')
		t[n++] = '0';
	if (id > 1 && t[shape & 1] == '0')
		t[shape & 1] = '1'; /* no leading zero */
	if (shape & 2) {
		t[n++] = '.';
		size_t fd = 1 + (size > k ? data[k++] % 20 : 0);
		for (size_t j = 0; j < fd; j++)
			t[n++] = (char)('0' + (k < size ? data[k++] : 0) % 10);
	}
	if (shape & 4) {
		t[n++] = shape & 8 ? 'E' : 'e';
		if (shape & 16)
			t[n++] = shape & 32 ? '-' : '+';
		size_t xd = 1 + (size > k ? data[k++] % 3 : 0);
		for (size_t j = 0; j < xd; j++)
			t[n++] = (char)('0' + (k < size ? data[k++] : 0) % 10);
	}
	check(t, n);
	return 0;
}
