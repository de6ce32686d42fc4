/* base64.c — see base64.h (RFC 4648 section 4). */
#include "core/base64.h"
#include "core/err.h"

static const char enc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int kl_base64_encode(struct kl_buf *out, const void *data, size_t n)
{
	const unsigned char *p = data;
	if (kl_buf_reserve(out, (n + 2) / 3 * 4))
		return KL_ENOMEM;
	char *o = out->data + out->len;
	size_t i = 0;
	for (; i + 3 <= n; i += 3) {
		unsigned v = (unsigned)p[i] << 16 | (unsigned)p[i + 1] << 8 | p[i + 2];
		*o++ = enc[v >> 18];
		*o++ = enc[v >> 12 & 63];
		*o++ = enc[v >> 6 & 63];
		*o++ = enc[v & 63];
	}
	if (i < n) {
		unsigned v = (unsigned)p[i] << 16 | (i + 1 < n ? (unsigned)p[i + 1] << 8 : 0);
		*o++ = enc[v >> 18];
		*o++ = enc[v >> 12 & 63];
		*o++ = i + 1 < n ? enc[v >> 6 & 63] : '=';
		*o++ = '=';
	}
	out->len = (size_t)(o - out->data);
	return KL_OK;
}

/* value of each base64 character, -1 = not in the alphabet */
static const signed char dec[256] = {
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 62, -1, -1, -1, 63,
	52, 53, 54, 55, 56, 57, 58, 59, 60, 61, -1, -1, -1, -1, -1, -1,
	-1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14,
	15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, -1, -1, -1, -1, -1,
	-1, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40,
	41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
};

static int dval(unsigned char c) { return dec[c]; }

long kl_base64_decode(const char *s, size_t n, unsigned char *out)
{
	if (n % 4)
		return -1;
	size_t o = 0, i = 0;
	/* all quads but the last: no padding possible, one table lookup each */
	for (; i + 4 < n; i += 4) {
		int a = dec[(unsigned char)s[i]], b = dec[(unsigned char)s[i + 1]];
		int c = dec[(unsigned char)s[i + 2]], d = dec[(unsigned char)s[i + 3]];
		if ((a | b | c | d) < 0)
			return -1;
		unsigned v = (unsigned)a << 18 | (unsigned)b << 12 | (unsigned)c << 6 | (unsigned)d;
		out[o] = (unsigned char)(v >> 16);
		out[o + 1] = (unsigned char)(v >> 8);
		out[o + 2] = (unsigned char)v;
		o += 3;
	}
	for (; i < n; i += 4) {
		int a = dval((unsigned char)s[i]), b = dval((unsigned char)s[i + 1]);
		int last = i + 4 == n;
		int pad2 = last && s[i + 2] == '=' && s[i + 3] == '=';
		int pad1 = last && !pad2 && s[i + 3] == '=';
		int c = pad2 ? 0 : dval((unsigned char)s[i + 2]);
		int d = (pad1 || pad2) ? 0 : dval((unsigned char)s[i + 3]);
		if (a < 0 || b < 0 || c < 0 || d < 0)
			return -1;
		unsigned v = (unsigned)a << 18 | (unsigned)b << 12 | (unsigned)c << 6 | (unsigned)d;
		out[o++] = (unsigned char)(v >> 16);
		if (!pad2)
			out[o++] = (unsigned char)(v >> 8);
		if (!pad1 && !pad2)
			out[o++] = (unsigned char)v;
		if ((pad2 && (v & 0xFFFF)) || (pad1 && (v & 0xFF)))
			return -1; /* non-canonical trailing bits */
	}
	return (long)o;
}
