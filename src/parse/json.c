/*
 * json.c — see json.h. Grammar: RFC 8259 sections 2–8. UTF-8: RFC 3629
 * section 4 (shortest form, no surrogates, at most U+10FFFF).
 *
 * The parser is a loop over three states (value, object key, after value)
 * with an explicit container stack, so hostile nesting cannot overflow the
 * C stack; the depth limit bounds the stack size.
 */
#include "parse/json.h"
#include "core/array.h"

#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

void kl_json_doc_init(struct kl_json_doc *d)
{
	memset(d, 0, sizeof *d);
}

void kl_json_doc_cleanup(struct kl_json_doc *d)
{
	free(d->m);
	memset(d, 0, sizeof *d);
}

/* Character classes: 1 = plain string byte (printable ASCII except " and \). */
static const uint8_t plain[256] = {
#define R16(x) x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x
	R16(0), R16(0),                                                    /* 0x00-0x1f control */
	1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,                   /* 0x20-0x2f, 0x22 " */
	R16(1), R16(1),                                                    /* 0x30-0x4f */
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1,                   /* 0x50-0x5f, 0x5c \ */
	R16(1), R16(1),                                                    /* 0x60-0x7f */
	R16(0), R16(0), R16(0), R16(0), R16(0), R16(0), R16(0), R16(0),   /* 0x80-0xff */
#undef R16
};

static inline int is_ws(unsigned char c)
{
	return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

static inline int hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Length of a valid UTF-8 sequence at p (bytes < end), or 0 if invalid. */
static size_t utf8_seq(const unsigned char *p, const unsigned char *end)
{
	unsigned char c = p[0];
	size_t avail = (size_t)(end - p);
	if (c >= 0xC2 && c <= 0xDF) {
		if (avail >= 2 && (p[1] & 0xC0) == 0x80)
			return 2;
	} else if (c >= 0xE0 && c <= 0xEF) {
		if (avail < 3 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80)
			return 0;
		if (c == 0xE0 && p[1] < 0xA0) /* overlong */
			return 0;
		if (c == 0xED && p[1] >= 0xA0) /* surrogate */
			return 0;
		return 3;
	} else if (c >= 0xF0 && c <= 0xF4) {
		if (avail < 4 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80 ||
		    (p[3] & 0xC0) != 0x80)
			return 0;
		if (c == 0xF0 && p[1] < 0x90) /* overlong */
			return 0;
		if (c == 0xF4 && p[1] >= 0x90) /* > U+10FFFF */
			return 0;
		return 4;
	}
	return 0;
}

size_t kl_utf8_seq(const char *p, size_t avail)
{
	return avail ? utf8_seq((const unsigned char *)p, (const unsigned char *)p + avail) : 0;
}

static int read_u4(const unsigned char *p, const unsigned char *end, unsigned *out)
{
	if (end - p < 4)
		return 0;
	unsigned v = 0;
	for (int i = 0; i < 4; i++) {
		int h = hexval(p[i]);
		if (h < 0)
			return 0;
		v = v << 4 | (unsigned)h;
	}
	*out = v;
	return 1;
}

struct scan {
	const unsigned char *p, *end, *base;
	struct kl_json_error *err;
};

/* Out of line and cold: keeps the scanners below small enough to inline. */
static __attribute__((noinline, cold)) int fail(struct scan *s, enum kl_json_fail f,
						const unsigned char *at, const char *msg)
{
	if (s->err) {
		s->err->fail = f;
		s->err->offset = (size_t)(at - s->base);
		s->err->msg = msg;
	}
	return f;
}

/* s->p is just past the opening quote. On success s->p is past the closing
 * quote and *esc tells whether an escape was seen. Always inlined (as is
 * scan_number): as calls, they kept the scan position in memory, and per-token
 * overhead is most of the parse time on small events. */
static inline __attribute__((always_inline)) int scan_string(struct scan *s, uint8_t *esc)
{
	const unsigned char *p = s->p, *end = s->end;
	*esc = 0;
	for (;;) {
#ifdef __SSE2__
		/* 16 bytes at a time: a signed compare with 0x20 flags both control
		 * characters and non-ASCII bytes, which take the slow path below */
		const __m128i quote = _mm_set1_epi8('"'), bslash = _mm_set1_epi8('\\'),
			      space = _mm_set1_epi8(0x20);
		while (end - p >= 16) {
			__m128i v = _mm_loadu_si128((const __m128i *)p);
			__m128i m = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote),
							      _mm_cmpeq_epi8(v, bslash)),
						 _mm_cmplt_epi8(v, space));
			unsigned bits = (unsigned)_mm_movemask_epi8(m);
			if (bits) {
				p += __builtin_ctz(bits);
				goto special;
			}
			p += 16;
		}
#endif
		while (end - p >= 8) { /* unrolled fast path over plain bytes */
			if (!plain[p[0]] || !plain[p[1]] || !plain[p[2]] || !plain[p[3]])
				break;
			if (!plain[p[4]] || !plain[p[5]] || !plain[p[6]] || !plain[p[7]]) {
				p += 4;
				break;
			}
			p += 8;
		}
		while (p < end && plain[*p])
			p++;
#ifdef __SSE2__
	special:
#endif
		if (p >= end)
			return fail(s, KL_JSON_ESYNTAX, p, "unterminated string");
		unsigned char c = *p;
		if (c == '"') {
			s->p = p + 1;
			return 0;
		}
		if (c == '\\') {
			*esc = 1;
			if (end - p < 2)
				return fail(s, KL_JSON_ESYNTAX, p, "unterminated escape");
			switch (p[1]) {
			case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
				p += 2;
				continue;
			case 'u': {
				unsigned u;
				if (!read_u4(p + 2, end, &u))
					return fail(s, KL_JSON_ESYNTAX, p, "bad \\u escape");
				p += 6;
				if (u >= 0xDC00 && u <= 0xDFFF)
					return fail(s, KL_JSON_EUTF8, p - 6, "lone low surrogate escape");
				if (u >= 0xD800 && u <= 0xDBFF) {
					unsigned lo;
					if (end - p < 6 || p[0] != '\\' || p[1] != 'u' ||
					    !read_u4(p + 2, end, &lo) || lo < 0xDC00 || lo > 0xDFFF)
						return fail(s, KL_JSON_EUTF8, p - 6,
							    "lone high surrogate escape");
					p += 6;
				}
				continue;
			}
			default:
				return fail(s, KL_JSON_ESYNTAX, p, "invalid escape");
			}
		}
		if (c < 0x20)
			return fail(s, KL_JSON_ESYNTAX, p, "control character in string");
		size_t k = utf8_seq(p, end);
		if (!k)
			return fail(s, KL_JSON_EUTF8, p, "invalid UTF-8 in string");
		p += k;
	}
}

/* The end of the run of ASCII digits at p: eight bytes at a time while
 * eight remain, then one by one. Per byte, x = byte ^ 0x30 is below 10
 * exactly for '0'-'9'; adding 0x76 to x's low seven bits sets the top bit
 * for 10 and up (no carry leaves the byte), or-ing x sets it for 0x80 and
 * up, so the lowest top bit set marks the first byte that is no digit. */
static inline const unsigned char *digits_end(const unsigned char *p, const unsigned char *end)
{
	while (end - p >= 8) {
		uint64_t v;
		memcpy(&v, p, 8);
		uint64_t x = v ^ 0x3030303030303030ull;
		uint64_t big = (((x & 0x7f7f7f7f7f7f7f7full) + 0x7676767676767676ull) | x) &
			       0x8080808080808080ull;
		if (big)
			return p + (__builtin_ctzll(big) >> 3);
		p += 8;
	}
	while (p < end && *p >= '0' && *p <= '9')
		p++;
	return p;
}

/* s->p at '-' or a digit. */
static inline __attribute__((always_inline)) int scan_number(struct scan *s, uint8_t *type)
{
	const unsigned char *p = s->p, *end = s->end;
	*type = KL_JSON_INT;
	if (*p == '-')
		p++;
	if (p >= end)
		return fail(s, KL_JSON_ESYNTAX, p, "truncated number");
	if (*p == '0') {
		p++;
	} else if (*p >= '1' && *p <= '9') {
		p = digits_end(p + 1, end);
	} else {
		return fail(s, KL_JSON_ESYNTAX, p, "invalid number");
	}
	if (p < end && *p == '.') {
		p++;
		if (p >= end || *p < '0' || *p > '9')
			return fail(s, KL_JSON_ESYNTAX, p, "digit expected after '.'");
		p = digits_end(p + 1, end);
		*type = KL_JSON_NUMBER;
	}
	if (p < end && (*p == 'e' || *p == 'E')) {
		p++;
		if (p < end && (*p == '+' || *p == '-'))
			p++;
		if (p >= end || *p < '0' || *p > '9')
			return fail(s, KL_JSON_ESYNTAX, p, "digit expected in exponent");
		p = digits_end(p + 1, end);
		*type = KL_JSON_NUMBER;
	}
	s->p = p;
	return 0;
}

static int scan_literal(struct scan *s, const char *lit, size_t n)
{
	if ((size_t)(s->end - s->p) < n || memcmp(s->p, lit, n) != 0)
		return fail(s, KL_JSON_ESYNTAX, s->p, "invalid literal");
	s->p += n;
	return 0;
}


static inline void skip_ws(struct scan *s, unsigned *ws)
{
	const unsigned char *p = s->p;
	while (p < s->end && is_ws(*p))
		p++;
	*ws += (unsigned)(p != s->p);
	s->p = p;
}

static int push_member(struct kl_json_doc *d)
{
	if (KL_ARRAY_GROW(d->m, d->n, d->cap, 32))
		return -1;
	d->n++;
	return 0;
}

#define STACK_INLINE 128

/* kl_json_parse, and value_end's container: with `prefix` non-NULL, the
 * text need only start with a value, whose end *prefix is set to (the text
 * after it is not read). Inlined into both, so that the test of `prefix`
 * folds away in each. */
static inline __attribute__((always_inline)) int parse(const char *text, size_t n,
						       unsigned max_depth,
						       struct kl_json_doc *doc,
						       struct kl_json_error *err,
						       const char **prefix)
{
	if (!text) /* an empty buffer never allocated (an empty HTTP body): no arithmetic on NULL */
		text = "", n = 0;
	struct scan s = {(const unsigned char *)text, (const unsigned char *)text + n,
			 (const unsigned char *)text, err};
	/* Container stack: 1 bit per level would do, a byte is simpler. Levels
	 * beyond STACK_INLINE are tracked in a heap block sized by max_depth. */
	unsigned char stack_inline[STACK_INLINE];
	unsigned char *stack = stack_inline;
	unsigned depth = 0, ws = 0, member_ws = 0;
	int member_open = 0, rc = 0;
	struct kl_json_member *cur = NULL;
	if (err)
		err->fail = KL_JSON_OK, err->offset = 0, err->msg = NULL;
	if (doc)
		doc->n = 0, doc->ws = 1;
	if (max_depth > STACK_INLINE) {
		stack = malloc(max_depth);
		if (!stack)
			return fail(&s, KL_JSON_ESYNTAX, s.p, "out of memory");
	}
	skip_ws(&s, &ws);
	if (doc && s.p < s.end) {
		switch (*s.p) {
		case '{': doc->top = KL_JSON_OBJECT; break;
		case '[': doc->top = KL_JSON_ARRAY; break;
		case '"': doc->top = KL_JSON_STRING; break;
		case 't': doc->top = KL_JSON_TRUE; break;
		case 'f': doc->top = KL_JSON_FALSE; break;
		case 'n': doc->top = KL_JSON_NULL; break;
		default: doc->top = KL_JSON_NUMBER; break;
		}
	}
	uint8_t t, esc;

value:
	if (s.p >= s.end) {
		rc = fail(&s, KL_JSON_ESYNTAX, s.p, depth ? "unexpected end of input" : "empty input");
		goto out;
	}
	switch (*s.p) {
	case '{':
	case '[':
		if (depth >= max_depth) {
			rc = fail(&s, KL_JSON_EDEPTH, s.p, "nesting too deep");
			goto out;
		}
		stack[depth++] = *s.p;
		if (cur && depth == 2) {
			cur->type = *s.p == '{' ? KL_JSON_OBJECT : KL_JSON_ARRAY;
			member_ws = ws;
		}
		s.p++;
		skip_ws(&s, &ws);
		if (s.p < s.end && *s.p == (stack[depth - 1] == '{' ? '}' : ']')) {
			s.p++;
			depth--;
			goto after;
		}
		if (stack[depth - 1] == '{')
			goto key;
		goto value;
	case '"':
		s.p++;
		if ((rc = scan_string(&s, &esc)))
			goto out;
		t = KL_JSON_STRING;
		break;
	case 't':
		if ((rc = scan_literal(&s, "true", 4)))
			goto out;
		t = KL_JSON_TRUE;
		break;
	case 'f':
		if ((rc = scan_literal(&s, "false", 5)))
			goto out;
		t = KL_JSON_FALSE;
		break;
	case 'n':
		if ((rc = scan_literal(&s, "null", 4)))
			goto out;
		t = KL_JSON_NULL;
		break;
	default:
		if (*s.p == '-' || (*s.p >= '0' && *s.p <= '9')) {
			if ((rc = scan_number(&s, &t)))
				goto out;
			break;
		}
		/* RFC 8259 lets a parser reject a byte order mark; say what it is */
		rc = fail(&s, KL_JSON_ESYNTAX, s.p,
			  s.p == (const unsigned char *)text && s.end - s.p >= 3 && !memcmp(s.p, "\xef\xbb\xbf", 3)
				  ? "byte order mark (U+FEFF) before the JSON text"
				  : "unexpected character");
		goto out;
	}
	if (cur && depth == 1) {
		cur->type = t;
		cur->val_esc = t == KL_JSON_STRING ? esc : 0;
	}

after:
	if (cur && depth == 1 && member_open) {
		cur->val_len = (size_t)((const char *)s.p - cur->val);
		if (cur->type == KL_JSON_OBJECT || cur->type == KL_JSON_ARRAY)
			cur->val_ws = ws != member_ws;
		member_open = 0;
	}
	if (depth == 0) {
		if (prefix) {
			*prefix = (const char *)s.p;
			goto out;
		}
		skip_ws(&s, &ws);
		if (s.p != s.end)
			rc = fail(&s, KL_JSON_ESYNTAX, s.p, "trailing characters after JSON value");
		goto out;
	}
	skip_ws(&s, &ws);
	if (s.p >= s.end) {
		rc = fail(&s, KL_JSON_ESYNTAX, s.p, "unexpected end of input");
		goto out;
	}
	if (*s.p == ',') {
		s.p++;
		skip_ws(&s, &ws);
		if (stack[depth - 1] == '{')
			goto key;
		goto value;
	}
	if (*s.p == (stack[depth - 1] == '{' ? '}' : ']')) {
		s.p++;
		depth--;
		goto after;
	}
	rc = fail(&s, KL_JSON_ESYNTAX, s.p,
		  stack[depth - 1] == '{' ? "expected ',' or '}'" : "expected ',' or ']'");
	goto out;

key:
	if (s.p >= s.end || *s.p != '"') {
		rc = fail(&s, KL_JSON_ESYNTAX, s.p, "expected string key");
		goto out;
	}
	{
		const unsigned char *kstart = s.p;
		s.p++;
		if ((rc = scan_string(&s, &esc)))
			goto out;
		if (doc && depth == 1) {
			if (push_member(doc)) {
				rc = fail(&s, KL_JSON_ESYNTAX, kstart, "out of memory");
				goto out;
			}
			cur = &doc->m[doc->n - 1];
			cur->start = (const char *)kstart;
			cur->key = (const char *)kstart + 1;
			cur->key_len = (size_t)(s.p - kstart) - 2;
			cur->key_esc = esc;
			cur->val_esc = cur->val_ws = 0;
		}
	}
	skip_ws(&s, &ws);
	if (s.p >= s.end || *s.p != ':') {
		rc = fail(&s, KL_JSON_ESYNTAX, s.p, "expected ':'");
		goto out;
	}
	s.p++;
	skip_ws(&s, &ws);
	if (cur && depth == 1) {
		cur->val = (const char *)s.p;
		member_open = 1;
	}
	goto value;

out:
	if (stack != stack_inline)
		free(stack);
	if (rc && doc)
		doc->n = 0;
	else if (doc)
		doc->ws = ws != 0;
	return rc;
}

int kl_json_parse(const char *text, size_t n, unsigned max_depth, struct kl_json_doc *doc,
		  struct kl_json_error *err)
{
	return parse(text, n, max_depth, doc, err, NULL);
}

/* The end of the valid value at the start of p[0..n), or NULL. */
static const char *parse_prefix(const char *p, size_t n, unsigned max_depth)
{
	const char *e = NULL;
	return parse(p, n, max_depth, NULL, NULL, &e) ? NULL : e;
}

static size_t put_utf8(char *o, unsigned cp)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xC0 | cp >> 6);
		o[1] = (char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xE0 | cp >> 12);
		o[1] = (char)(0x80 | (cp >> 6 & 0x3F));
		o[2] = (char)(0x80 | (cp & 0x3F));
		return 3;
	}
	o[0] = (char)(0xF0 | cp >> 18);
	o[1] = (char)(0x80 | (cp >> 12 & 0x3F));
	o[2] = (char)(0x80 | (cp >> 6 & 0x3F));
	o[3] = (char)(0x80 | (cp & 0x3F));
	return 4;
}

size_t kl_json_unescape(const char *s, size_t n, char *out)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + n;
	char *o = out;
	while (p < end) {
		const unsigned char *q = memchr(p, '\\', (size_t)(end - p));
		size_t run = q ? (size_t)(q - p) : (size_t)(end - p);
		memmove(o, p, run);
		o += run;
		p += run;
		if (!q)
			break;
		unsigned char c = p[1];
		p += 2;
		switch (c) {
		case 'b': *o++ = '\b'; break;
		case 'f': *o++ = '\f'; break;
		case 'n': *o++ = '\n'; break;
		case 'r': *o++ = '\r'; break;
		case 't': *o++ = '\t'; break;
		case 'u': {
			unsigned cp = 0, lo = 0;
			read_u4(p, end, &cp);
			p += 4;
			if (cp >= 0xD800 && cp <= 0xDBFF && end - p >= 6 && read_u4(p + 2, end, &lo)) {
				cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
				p += 6;
			}
			o += put_utf8(o, cp);
			break;
		}
		default: *o++ = (char)c; break; /* " \ / */
		}
	}
	return (size_t)(o - out);
}

size_t kl_json_minify(const char *v, size_t n, char *out)
{
	size_t o = 0;
	int in_str = 0;
	for (size_t i = 0; i < n; i++) {
		char c = v[i];
		if (in_str) {
			out[o++] = c;
			if (c == '\\' && i + 1 < n)
				out[o++] = v[++i];
			else if (c == '"')
				in_str = 0;
		} else if (!is_ws((unsigned char)c)) {
			out[o++] = c;
			if (c == '"')
				in_str = 1;
		}
	}
	return o;
}

/* --- iteration over validated text --------------------------------------- */


/* The closing quote of a valid string whose body starts at p (or end).
 * Most strings are short (keys, ids, names): 16 bytes at a time are
 * searched for a quote or a backslash, up to STR_SIMD_BYTES; a longer one
 * (a base64 payload in a Lambda event) goes on with memchr, which is
 * faster on long runs. Linear: q is only searched again once an escape has
 * been stepped over past it. */
#define STR_SIMD_BYTES 256
static inline const char *string_end(const char *p, const char *end, uint8_t *esc)
{
#ifdef __SSE2__
	const __m128i quote = _mm_set1_epi8('"'), bslash = _mm_set1_epi8('\\');
	const char *simd_end = end - p > STR_SIMD_BYTES ? p + STR_SIMD_BYTES : end;
	while (simd_end - p >= 16) {
		__m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
		unsigned mask = (unsigned)_mm_movemask_epi8(
			_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, bslash)));
		if (!mask) {
			p += 16;
			continue;
		}
		const char *c = p + __builtin_ctz(mask);
		if (*c == '"')
			return c;
		*esc = 1;
		p = c + 2; /* the escaped byte may be a quote */
		if (p >= end)
			return end;
	}
	if (simd_end == end) { /* under 16 bytes left: byte by byte */
		for (; p < end; p++) {
			if (*p == '"')
				return p;
			if (*p == '\\') {
				*esc = 1;
				if (++p >= end)
					return end;
			}
		}
		return end;
	}
#endif
	const char *q = NULL;
	for (;;) {
		if (p >= end)
			return end;
		if (!q || q < p) {
			q = memchr(p, '"', (size_t)(end - p));
			if (!q)
				return end;
		}
		const char *b = memchr(p, '\\', (size_t)(q - p));
		if (!b)
			return q;
		*esc = 1;
		p = b + 2; /* the escaped byte may be the quote q itself */
	}
}

/* End of the valid number starting at p: digits and '-' keep it an INT;
 * '.', 'e', 'E', '+' make it a NUMBER. */
static inline const char *number_end(const char *p, const char *end, uint8_t *type)
{
	unsigned frac = 0;
#ifdef __SSE2__
	/* a number ends at the first byte that is none of them (valid JSON: a
	 * ',', '}', ']' or whitespace), found 16 bytes at a time */
	const __m128i zero = _mm_set1_epi8('0'), ten = _mm_set1_epi8(9), minus = _mm_set1_epi8('-'),
		      dot = _mm_set1_epi8('.'), plus = _mm_set1_epi8('+'), e = _mm_set1_epi8('e'),
		      lower = _mm_set1_epi8(0x20);
	while (end - p >= 16) {
		__m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
		__m128i d = _mm_sub_epi8(v, zero); /* digit: 0..9 unsigned */
		__m128i digit = _mm_cmpeq_epi8(_mm_min_epu8(d, ten), d);
		__m128i fr = _mm_or_si128(
			_mm_or_si128(_mm_cmpeq_epi8(v, dot), _mm_cmpeq_epi8(v, plus)),
			_mm_cmpeq_epi8(_mm_or_si128(v, lower), e));
		__m128i in = _mm_or_si128(_mm_or_si128(digit, _mm_cmpeq_epi8(v, minus)), fr);
		unsigned stop = ~(unsigned)_mm_movemask_epi8(in) & 0xffffu;
		unsigned f = (unsigned)_mm_movemask_epi8(fr);
		if (stop) {
			unsigned n = (unsigned)__builtin_ctz(stop);
			frac |= f & ((1u << n) - 1);
			*type = frac ? KL_JSON_NUMBER : KL_JSON_INT;
			return p + n;
		}
		frac |= f;
		p += 16;
	}
#endif
	for (unsigned char c; p < end; p++) {
		c = (unsigned char)*p;
		if ((unsigned)(c - '0') < 10 || c == '-')
			continue;
		if (c != '.' && (c | 0x20) != 'e' && c != '+')
			break;
		frac = 1;
	}
	*type = frac ? KL_JSON_NUMBER : KL_JSON_INT;
	return p;
}

/* End of the valid object or array starting at p ('{' or '['). *ws is set
 * when insignificant whitespace is inside. Between strings, the next quote,
 * bracket or whitespace byte is found 16 bytes at a time. */
static const char *container_end(const char *p, const char *end, uint8_t *ws)
{
	int depth = 0;
	uint8_t inner;
#ifdef __SSE2__
	const __m128i quote = _mm_set1_epi8('"'), open = _mm_set1_epi8('{'),
		      close = _mm_set1_epi8('}'), lower = _mm_set1_epi8(0x20);
#endif
	while (p < end) {
#ifdef __SSE2__
		while (end - p >= 16) {
			__m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
			__m128i l = _mm_or_si128(v, lower); /* '[' -> '{', ']' -> '}' */
			__m128i m = _mm_or_si128(
				_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(l, open)),
				_mm_or_si128(_mm_cmpeq_epi8(l, close),
					     _mm_cmpeq_epi8(_mm_min_epu8(v, lower), v)));
			unsigned mask = (unsigned)_mm_movemask_epi8(m);
			if (mask) {
				p += __builtin_ctz(mask);
				break;
			}
			p += 16;
		}
		if (p >= end)
			break;
#endif
		char c = *p;
		if (c == '"') {
			p = string_end(p + 1, end, &inner);
			if (p >= end)
				return end;
		} else if (c == '{' || c == '[') {
			depth++;
		} else if (c == '}' || c == ']') {
			if (--depth == 0)
				return p + 1;
		} else if (is_ws((unsigned char)c)) {
			*ws = 1; /* insignificant whitespace inside */
		}
		p++;
	}
	return end;
}

/* End of the valid JSON value starting at p. */
static inline const char *skip_value(const char *p, const char *end, uint8_t *type, uint8_t *esc)
{
	*esc = 0;
	switch (*p) {
	case '"':
		p = string_end(p + 1, end, esc);
		*type = KL_JSON_STRING;
		return p < end ? p + 1 : end;
	case '{':
	case '[': {
		*type = *p == '{' ? KL_JSON_OBJECT : KL_JSON_ARRAY;
		uint8_t ws = 0;
		p = container_end(p, end, &ws);
		*esc = (uint8_t)(ws << 1);
		return p;
	}
	case 't': *type = KL_JSON_TRUE; return p + 4;
	case 'f': *type = KL_JSON_FALSE; return p + 5;
	case 'n': *type = KL_JSON_NULL; return p + 4;
	default: return number_end(p, end, type);
	}
}

/* --- validating walk (json.h) ---------------------------------------------- */

/* kl_json_value_end, and whether a string value has an escape in *esc */
static const char *value_end(const char *p, const char *end, unsigned max_depth, uint8_t *type,
			     uint8_t *esc)
{
	if (p >= end)
		return NULL;
	/* a scalar by the parser's own scanners, in one pass */
	struct scan sc = {(const unsigned char *)p, (const unsigned char *)end,
			  (const unsigned char *)p, NULL};
	uint8_t t;
	int rc;
	*esc = 0;
	switch (*p) {
	case '"':
		sc.p++;
		rc = scan_string(&sc, esc);
		t = KL_JSON_STRING;
		break;
	case 't':
	case 'f':
	case 'n': {
		const char *lit = *p == 't' ? "true" : *p == 'f' ? "false" : "null";
		rc = scan_literal(&sc, lit, strlen(lit));
		t = *p == 't' ? KL_JSON_TRUE : *p == 'f' ? KL_JSON_FALSE : KL_JSON_NULL;
		break;
	}
	case '{':
	case '[': {
		/* a container: checked by the parser, which stops at its end */
		if (!max_depth)
			return NULL;
		const char *e = parse_prefix(p, (size_t)(end - p), max_depth);
		if (!e)
			return NULL;
		*type = *p == '{' ? KL_JSON_OBJECT : KL_JSON_ARRAY;
		return e;
	}
	default:
		if (*p != '-' && (*p < '0' || *p > '9'))
			return NULL;
		rc = scan_number(&sc, &t);
		break;
	}
	if (rc)
		return NULL;
	*type = t;
	return (const char *)sc.p;
}

const char *kl_json_value_end(const char *p, const char *end, unsigned max_depth, uint8_t *type)
{
	uint8_t esc;
	return value_end(p, end, max_depth, type, &esc);
}

int kl_json_walk_open(struct kl_json_walk *w, const char *p, const char *end, unsigned depth,
		      unsigned max_depth)
{
	p = kl_json_skip_ws(p, end);
	w->end = end;
	w->depth = depth;
	w->max_depth = max_depth;
	w->state = KL_JSON_WALK_CLOSED;
	if (p >= end || (*p != '{' && *p != '[') || depth > max_depth) {
		w->p = p;
		return -1;
	}
	w->object = *p == '{';
	w->p = p + 1;
	w->state = KL_JSON_WALK_FIRST;
	return 0;
}

int kl_json_walk_next(struct kl_json_walk *w, struct kl_json_member *m)
{
	const char *p = kl_json_skip_ws(w->p, w->end), *end = w->end;
	const char close = w->object ? '}' : ']';
	if (w->state == KL_JSON_WALK_CLOSED || w->state == KL_JSON_WALK_VALUE)
		return -1; /* a pending value must be read first */
	if (p >= end)
		return -1; /* no close */
	if (*p == close) {
		w->p = p + 1;
		w->state = KL_JSON_WALK_CLOSED;
		return 0;
	}
	if (w->state == KL_JSON_WALK_AFTER) {
		if (*p != ',')
			return -1;
		p = kl_json_skip_ws(p + 1, end);
	}
	m->start = p;
	m->key = NULL;
	m->key_len = 0;
	m->key_esc = 0;
	m->val_esc = m->val_ws = 0;
	if (w->object) {
		uint8_t t, esc;
		const char *k = p < end && *p == '"' ? value_end(p, end, 0, &t, &esc) : NULL;
		if (!k)
			return -1;
		m->key = p + 1;
		m->key_len = (size_t)(k - p) - 2;
		m->key_esc = esc;
		p = kl_json_skip_ws(k, end);
		if (p >= end || *p != ':')
			return -1;
		p = kl_json_skip_ws(p + 1, end);
	}
	m->val = p;
	m->val_len = 0;
	w->p = p;
	w->state = KL_JSON_WALK_VALUE;
	return 1;
}

int kl_json_walk_value(struct kl_json_walk *w, struct kl_json_member *m)
{
	uint8_t t, esc;
	if (w->state != KL_JSON_WALK_VALUE)
		return -1;
	const char *e = value_end(w->p, w->end, w->max_depth - w->depth, &t, &esc);
	if (!e)
		return -1;
	m->val = w->p;
	m->val_len = (size_t)(e - w->p);
	m->type = t;
	m->val_esc = esc;
	w->p = e;
	w->state = KL_JSON_WALK_AFTER;
	return 0;
}

void kl_json_walk_skip(struct kl_json_walk *w, const char *after)
{
	w->p = after;
	w->state = KL_JSON_WALK_AFTER;
}

int kl_json_walk_done(const char *p, const char *end)
{
	return kl_json_skip_ws(p, end) == end ? 0 : -1;
}

void kl_json_iter_init(struct kl_json_iter *it, const char *v, size_t n)
{
	const char *end = v + n;
	const char *p = kl_json_skip_ws(v, end);
	it->object = p < end && *p == '{';
	/* a scalar has neither members nor elements */
	it->p = p < end && (*p == '{' || *p == '[') ? p + 1 : end;
	it->end = end;
}

int kl_json_iter_next(struct kl_json_iter *it, struct kl_json_member *m)
{
	const char *p = kl_json_skip_ws(it->p, it->end), *end = it->end;
	if (p < end && *p == ',')
		p = kl_json_skip_ws(p + 1, end);
	if (p >= end || *p == '}' || *p == ']') {
		it->p = end;
		return 0;
	}
	m->start = p;
	m->key = NULL;
	m->key_len = 0;
	m->key_esc = 0;
	if (it->object) { /* a key is a string */
		uint8_t esc = 0;
		const char *q = string_end(p + 1, end, &esc);
		const char *k = q < end ? q + 1 : end;
		m->key = p + 1;
		m->key_len = (size_t)(k - p) - 2;
		m->key_esc = esc;
		p = kl_json_skip_ws(k, end);
		p = kl_json_skip_ws(p + 1, end); /* ':' */
	}
	uint8_t t, esc;
	const char *v = skip_value(p, end, &t, &esc);
	m->val = p;
	m->val_len = (size_t)(v - p);
	m->type = t;
	m->val_esc = esc & 1;
	m->val_ws = esc >> 1;
	it->p = v;
	return 1;
}

int kl_json_split_valid(const char *p, size_t n, struct kl_json_doc *doc)
{
	struct kl_json_iter it;
	kl_json_iter_init(&it, p, n);
	doc->n = 0;
	doc->top = it.object ? KL_JSON_OBJECT : KL_JSON_NULL;
	if (!it.object)
		return 0;
	for (;;) {
		if (push_member(doc))
			return -1;
		if (!kl_json_iter_next(&it, &doc->m[doc->n - 1])) {
			doc->n--;
			return 0;
		}
	}
}

int kl_json_object_get(const char *v, size_t n, const char *name, struct kl_json_member *m)
{
	struct kl_json_iter it;
	size_t len = strlen(name);
	kl_json_iter_init(&it, v, n);
	if (!it.object)
		return 0;
	while (kl_json_iter_next(&it, m))
		if (kl_json_key_is(m, name, len))
			return 1;
	return 0;
}
