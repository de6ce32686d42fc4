/* num.c — see num.h. The fast path: W. D. Clinger, "How to Read Floating
 * Point Numbers Accurately" (PLDI 1990), the case where the significand and
 * the power of ten are both exact doubles. */
#include "parse/num.h"

static const double pow10_exact[23] = {
	1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
	1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};

int kl_num_double_fast(const char *p, size_t n, double *out)
{
	const char *e = p + n;
	int neg = p < e && *p == '-';
	p += neg;
	uint64_t m = 0;
	int digits = 0; /* significand digits taken into m (leading zeros too) */
	long frac = 0;  /* of those, after the decimal point */
	const char *d0 = p;
	for (; p < e && (unsigned)(*p - '0') < 10; p++, digits++)
		m = m * 10 + (uint64_t)(*p - '0');
	if (p == d0 || digits > 19)
		return 0;
	if (p < e && *p == '.') {
		const char *f0 = ++p;
		for (; p < e && (unsigned)(*p - '0') < 10; p++, digits++)
			if (digits < 19)
				m = m * 10 + (uint64_t)(*p - '0');
		if (p == f0 || digits > 19)
			return 0;
		frac = p - f0;
	}
	long x = 0;
	if (p < e && (*p == 'e' || *p == 'E')) {
		p++;
		int xneg = p < e && *p == '-';
		if (p < e && (*p == '-' || *p == '+'))
			p++;
		const char *x0 = p;
		for (; p < e && (unsigned)(*p - '0') < 10; p++) {
			x = x * 10 + (*p - '0');
			if (x > 100000)
				return 0;
		}
		if (p == x0)
			return 0;
		if (xneg)
			x = -x;
	}
	if (p != e || m > ((uint64_t)1 << 53))
		return 0;
	long pw = x - frac;
	if (pw < -22 || pw > 22)
		return 0;
	double v = (double)m; /* exact: m <= 2^53 */
	v = pw < 0 ? v / pow10_exact[-pw] : v * pow10_exact[pw];
	*out = neg ? -v : v;
	return 1;
}
