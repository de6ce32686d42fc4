/* base64.c — see base64.h (RFC 4648 section 4).
 *
 * Speed (Lambda events are mostly base64): on x86-64 CPUs with AVX2 (every
 * AWS Lambda x86_64 host) the bulk of the text is encoded 24 bytes -> 32
 * characters and decoded 32 characters -> 24 bytes per step, after the
 * vector methods described by W. Muła and D. Lemire, "Faster Base64 Encoding
 * and Decoding Using AVX2 Instructions" (ACM TOPS, 2018); chosen at run time
 * (__builtin_cpu_supports), so the binary still runs on any x86-64. The
 * scalar code handles the rest: the tail, the padding, other CPUs, and any
 * block holding a character outside the alphabet (it reports the error). */
#include "core/base64.h"
#include "core/err.h"

#include <stdint.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define KL_B64_AVX2 1
#include <immintrin.h>
#endif

static const char enc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

#ifdef KL_B64_AVX2
/* 24 bytes at p (28 readable) -> 32 characters at o; returns bytes consumed. */
__attribute__((target("avx2"))) static size_t encode_avx2(const unsigned char *p, size_t n,
							   char *o)
{
	/* each 32-bit lane gets its 3 source bytes s0 s1 s2 as [s1 s0 s2 s1]: the
	 * low 16 bits are s0:s1 (holding sextets a, b), the high 16 bits s1:s2
	 * (holding c, d) */
	const __m256i spread = _mm256_setr_epi8(1, 0, 2, 1, 4, 3, 5, 4, 7, 6, 8, 7, 10, 9, 11, 10,
						1, 0, 2, 1, 4, 3, 5, 4, 7, 6, 8, 7, 10, 9, 11, 10);
	/* a = bits 15..10 of the low half, c = bits 11..6 of the high half:
	 * multiply-high by 2^6 and 2^10 brings both to bit 0 of their byte */
	const __m256i ac_mask = _mm256_set1_epi32(0x0FC0FC00), ac_mul = _mm256_set1_epi32(0x04000040);
	/* b = bits 9..4 of the low half, d = bits 5..0 of the high half: multiply
	 * by 2^4 and 2^8 lifts both to bit 0 of the upper byte of their half */
	const __m256i bd_mask = _mm256_set1_epi32(0x003F03F0), bd_mul = _mm256_set1_epi32(0x01000010);
	/* sextet -> character: an offset picked by a class index (shuffle LUT):
	 * 0..25 -> class 13 (+65), 26..51 -> 0 (+71), 52..61 -> 1..10 (-4),
	 * 62 -> 11 (-19), 63 -> 12 (-16) */
	const __m256i lut = _mm256_setr_epi8(71, -4, -4, -4, -4, -4, -4, -4, -4, -4, -4, -19, -16, 65,
					     0, 0, 71, -4, -4, -4, -4, -4, -4, -4, -4, -4, -4, -19,
					     -16, 65, 0, 0);
	const __m256i c51 = _mm256_set1_epi8(51), c26 = _mm256_set1_epi8(26),
		      c13 = _mm256_set1_epi8(13);
	size_t i = 0;
	for (; n - i >= 28; i += 24, o += 32) {
		__m256i v = _mm256_inserti128_si256(
			_mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)(p + i))),
			_mm_loadu_si128((const __m128i *)(p + i + 12)), 1);
		v = _mm256_shuffle_epi8(v, spread);
		__m256i ac = _mm256_mulhi_epu16(_mm256_and_si256(v, ac_mask), ac_mul);
		__m256i bd = _mm256_mullo_epi16(_mm256_and_si256(v, bd_mask), bd_mul);
		__m256i s = _mm256_or_si256(ac, bd); /* one sextet per byte, in order */
		__m256i cls = _mm256_or_si256(_mm256_subs_epu8(s, c51),
					      _mm256_and_si256(_mm256_cmpgt_epi8(c26, s), c13));
		_mm256_storeu_si256((__m256i *)o, _mm256_add_epi8(s, _mm256_shuffle_epi8(lut, cls)));
	}
	return i;
}

/* Whole 32-character blocks of s (n > 32 on entry: the last quad, which may
 * hold padding, is left to the scalar code) -> 24 bytes each at out.
 * Returns the characters consumed; stops early at a block holding anything
 * outside the alphabet (including '='). */
__attribute__((target("avx2"))) static size_t decode_avx2(const char *s, size_t n,
							   unsigned char *out)
{
	const __m256i c_A = _mm256_set1_epi8('A' - 1), c_Z = _mm256_set1_epi8('Z' + 1),
		      c_a = _mm256_set1_epi8('a' - 1), c_z = _mm256_set1_epi8('z' + 1),
		      c_0 = _mm256_set1_epi8('0' - 1), c_9 = _mm256_set1_epi8('9' + 1),
		      c_plus = _mm256_set1_epi8('+'), c_slash = _mm256_set1_epi8('/');
	const __m256i d_A = _mm256_set1_epi8(-65), d_a = _mm256_set1_epi8(-71),
		      d_0 = _mm256_set1_epi8(4), d_plus = _mm256_set1_epi8(19),
		      d_slash = _mm256_set1_epi8(16);
	/* sextets a b c d (one per byte) -> a:b, c:d in 12 bits per 16-bit lane
	 * -> a:b:c:d in 24 bits per 32-bit lane (little-endian) */
	const __m256i pair = _mm256_set1_epi32(0x01400140), quad = _mm256_set1_epi32(0x00011000);
	/* the 3 bytes of each 32-bit lane, most significant first, packed into
	 * the low 12 bytes of each 128-bit half */
	const __m256i pack = _mm256_setr_epi8(2, 1, 0, 6, 5, 4, 10, 9, 8, 14, 13, 12, -1, -1, -1, -1,
					      2, 1, 0, 6, 5, 4, 10, 9, 8, 14, 13, 12, -1, -1, -1, -1);
	size_t i = 0;
	for (; n - i > 32; i += 32, out += 24) {
		__m256i c = _mm256_loadu_si256((const __m256i *)(s + i));
		/* signed compares: bytes >= 0x80 are negative and match no range */
		__m256i up = _mm256_and_si256(_mm256_cmpgt_epi8(c, c_A), _mm256_cmpgt_epi8(c_Z, c));
		__m256i lo = _mm256_and_si256(_mm256_cmpgt_epi8(c, c_a), _mm256_cmpgt_epi8(c_z, c));
		__m256i dg = _mm256_and_si256(_mm256_cmpgt_epi8(c, c_0), _mm256_cmpgt_epi8(c_9, c));
		__m256i pl = _mm256_cmpeq_epi8(c, c_plus), sl = _mm256_cmpeq_epi8(c, c_slash);
		__m256i ok = _mm256_or_si256(_mm256_or_si256(up, lo),
					     _mm256_or_si256(dg, _mm256_or_si256(pl, sl)));
		if ((unsigned)_mm256_movemask_epi8(ok) != 0xFFFFFFFFu)
			break;
		__m256i d = _mm256_or_si256(
			_mm256_or_si256(_mm256_and_si256(up, d_A), _mm256_and_si256(lo, d_a)),
			_mm256_or_si256(_mm256_and_si256(dg, d_0),
					_mm256_or_si256(_mm256_and_si256(pl, d_plus),
							_mm256_and_si256(sl, d_slash))));
		__m256i v = _mm256_add_epi8(c, d);
		v = _mm256_madd_epi16(_mm256_maddubs_epi16(v, pair), quad);
		v = _mm256_shuffle_epi8(v, pack);
		/* exactly 24 bytes: 16 (12 + 4 overwritten next), 8, 4 */
		__m128i hi = _mm256_extracti128_si256(v, 1);
		_mm_storeu_si128((__m128i *)out, _mm256_castsi256_si128(v));
		_mm_storel_epi64((__m128i *)(out + 12), hi);
		uint32_t last = (uint32_t)_mm_extract_epi32(hi, 2);
		memcpy(out + 20, &last, 4);
	}
	return i;
}

static int have_avx2(void) { return __builtin_cpu_supports("avx2"); }
#endif

int kl_base64_encode(struct kl_buf *out, const void *data, size_t n)
{
	const unsigned char *p = data;
	if (kl_buf_reserve(out, (n + 2) / 3 * 4))
		return KL_ENOMEM;
	char *o = out->data + out->len;
	size_t i = 0;
#ifdef KL_B64_AVX2
	if (n >= 28 && have_avx2()) {
		i = encode_avx2(p, n, o);
		o += i / 3 * 4;
	}
#endif
	for (; i + 3 <= n; i += 3) {
		unsigned v = (unsigned)p[i] << 16 | (unsigned)p[i + 1] << 8 | p[i + 2];
		o[0] = enc[v >> 18];
		o[1] = enc[v >> 12 & 63];
		o[2] = enc[v >> 6 & 63];
		o[3] = enc[v & 63];
		o += 4;
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
#ifdef KL_B64_AVX2
	if (n > 32 && have_avx2()) {
		i = decode_avx2(s, n, out);
		o = i / 4 * 3;
	}
#endif
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
