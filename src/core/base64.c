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

static int dval(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

long kl_base64_decode(const char *s, size_t n, unsigned char *out)
{
	if (n % 4)
		return -1;
	size_t o = 0;
	for (size_t i = 0; i < n; i += 4) {
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
