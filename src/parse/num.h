/*
 * num.h — JSON number text to machine numbers without strtod on the common
 * shapes (integers, and decimals of at most 19 significant digits with a
 * small exponent), for text that already passed kl_json_parse.
 *
 * kl_num_double_fast() takes the exact path of Clinger's algorithm: when the
 * decimal significand m is at most 2^53 and the power of ten p satisfies
 * |p| <= 22, both m and 10^|p| are exact doubles and one IEEE multiply or
 * divide rounds m * 10^p correctly, so the result is bit for bit what a
 * correctly rounding strtod() returns (glibc's does). Anything else is left
 * to the caller's strtod (return 0). Requires SSE2-style double arithmetic
 * (FLT_EVAL_METHOD 0, as on x86-64 and aarch64).
 *
 * Pure functions: no allocation, no state, any input bytes are safe (text
 * that is not a plain JSON number returns 0).
 */
#ifndef KL_PARSE_NUM_H
#define KL_PARSE_NUM_H

#include <stddef.h>
#include <stdint.h>

/* 1 with *out set when the JSON number text p[0..n) converts exactly on the
 * fast path; 0 when the caller must fall back to strtod. */
int kl_num_double_fast(const char *p, size_t n, double *out);

/* 1 with *out set when p[0..n) is a JSON integer ("-"? digits) in int64
 * range, as strtoll gives it; 0 otherwise (out of range, or not an
 * integer: the caller falls back to strtoll, which reports ERANGE). */
static inline int kl_num_i64_fast(const char *p, size_t n, int64_t *out)
{
	const char *e = p + n;
	int neg = n && *p == '-';
	p += neg;
	if (p == e || e - p > 19)
		return 0; /* 20 digits without a leading zero exceed 2^63 */
	uint64_t v = 0; /* 19 digits fit: < 10^19 < 2^64 */
	for (; p < e; p++) {
		unsigned d = (unsigned)(unsigned char)*p - '0';
		if (d > 9)
			return 0;
		v = v * 10 + d;
	}
	if (v > (uint64_t)INT64_MAX + (uint64_t)neg)
		return 0;
	*out = neg ? (int64_t)(0 - v) : (int64_t)v;
	return 1;
}

#endif
