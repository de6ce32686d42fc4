/* xml.c — see xml.h. */
#include "aws/xml.h"

#include <stdlib.h>
#include <string.h>

#include "core/err.h"

/* Find the content span of the first <tag ...>...</tag>; self-closing <tag/>
 * gives an empty span. Returns 0 when found. */
static int find_span(const char *p, size_t n, const char *tag, const char **cs, size_t *cn)
{
	size_t tl = strlen(tag);
	const char *end = p + n;
	for (const char *s = p; s < end;) {
		const char *lt = memchr(s, '<', (size_t)(end - s));
		if (!lt || (size_t)(end - lt) < tl + 2)
			return -1;
		if (memcmp(lt + 1, tag, tl) == 0 &&
		    (lt[1 + tl] == '>' || lt[1 + tl] == ' ' || lt[1 + tl] == '/' ||
		     lt[1 + tl] == '\t' || lt[1 + tl] == '\n' || lt[1 + tl] == '\r')) {
			const char *gt = memchr(lt, '>', (size_t)(end - lt));
			if (!gt)
				return -1;
			if (gt[-1] == '/') {
				*cs = gt;
				*cn = 0;
				return 0;
			}
			const char *c = gt + 1;
			/* The matching close tag: the first "</tag>" after it. */
			for (const char *q = c; q < end;) {
				const char *l2 = memchr(q, '<', (size_t)(end - q));
				if (!l2 || (size_t)(end - l2) < tl + 3)
					return -2;
				if (l2[1] == '/' && memcmp(l2 + 2, tag, tl) == 0 && l2[2 + tl] == '>') {
					*cs = c;
					*cn = (size_t)(l2 - c);
					return 0;
				}
				q = l2 + 1;
			}
			return -2;
		}
		s = lt + 1;
	}
	return -1;
}

static int put_utf8(struct kl_buf *out, unsigned long cp)
{
	char u[4];
	size_t k;
	if (cp < 0x80) {
		u[0] = (char)cp;
		k = 1;
	} else if (cp < 0x800) {
		u[0] = (char)(0xC0 | cp >> 6);
		u[1] = (char)(0x80 | (cp & 0x3F));
		k = 2;
	} else if (cp < 0x10000) {
		u[0] = (char)(0xE0 | cp >> 12);
		u[1] = (char)(0x80 | (cp >> 6 & 0x3F));
		u[2] = (char)(0x80 | (cp & 0x3F));
		k = 3;
	} else if (cp < 0x110000) {
		u[0] = (char)(0xF0 | cp >> 18);
		u[1] = (char)(0x80 | (cp >> 12 & 0x3F));
		u[2] = (char)(0x80 | (cp >> 6 & 0x3F));
		u[3] = (char)(0x80 | (cp & 0x3F));
		k = 4;
	} else {
		return kl_buf_putc(out, '?');
	}
	return kl_buf_append(out, u, k);
}

static int decode_text(struct kl_buf *out, const char *s, size_t n)
{
	static const struct {
		const char *name;
		char c;
	} ent[] = {{"lt;", '<'}, {"gt;", '>'}, {"amp;", '&'}, {"quot;", '"'}, {"apos;", '\''}};
	int rc = KL_OK;
	for (size_t i = 0; i < n && !rc;) {
		if (n - i >= 9 && memcmp(s + i, "<![CDATA[", 9) == 0) {
			const char *e = memmem(s + i + 9, n - i - 9, "]]>", 3);
			if (!e)
				return KL_EPARSE;
			rc = kl_buf_append(out, s + i + 9, (size_t)(e - (s + i + 9)));
			i = (size_t)(e - s) + 3;
			continue;
		}
		if (s[i] != '&') {
			rc = kl_buf_putc(out, s[i++]);
			continue;
		}
		size_t j = i + 1;
		int done = 0;
		for (size_t k = 0; k < sizeof ent / sizeof ent[0] && !done; k++) {
			size_t l = strlen(ent[k].name);
			if (n - j >= l && memcmp(s + j, ent[k].name, l) == 0) {
				rc = kl_buf_putc(out, ent[k].c);
				i = j + l;
				done = 1;
			}
		}
		if (!done && j < n && s[j] == '#') {
			char tmp[12];
			size_t l = 0;
			while (j + 1 + l < n && s[j + 1 + l] != ';' && l < sizeof tmp - 1) {
				tmp[l] = s[j + 1 + l];
				l++;
			}
			tmp[l] = '\0';
			if (j + 1 + l < n && s[j + 1 + l] == ';' && l > 0) {
				char *endp;
				unsigned long cp = tmp[0] == 'x' ? strtoul(tmp + 1, &endp, 16)
								 : strtoul(tmp, &endp, 10);
				if (*endp == '\0' && endp != tmp + (tmp[0] == 'x')) {
					rc = put_utf8(out, cp);
					i = j + 1 + l + 1;
					done = 1;
				}
			}
		}
		if (!done)
			rc = kl_buf_putc(out, s[i++]);
	}
	return rc;
}

int kl_xml_find(const char *p, size_t n, const char *within, const char *tag, struct kl_buf *out)
{
	const char *cs;
	size_t cn;
	if (within) {
		int r = find_span(p, n, within, &cs, &cn);
		if (r)
			return r == -1 ? KL_ENOTFOUND : KL_EPARSE;
		p = cs;
		n = cn;
	}
	int r = find_span(p, n, tag, &cs, &cn);
	if (r)
		return r == -1 ? KL_ENOTFOUND : KL_EPARSE;
	return decode_text(out, cs, cn);
}

int kl_xml_next(const char *p, size_t n, const char *tag, size_t *pos, const char **content,
		size_t *len)
{
	if (*pos >= n)
		return KL_ENOTFOUND;
	const char *cs;
	size_t cn;
	int r = find_span(p + *pos, n - *pos, tag, &cs, &cn);
	if (r)
		return r == -1 ? KL_ENOTFOUND : KL_EPARSE;
	*content = cs;
	*len = cn;
	/* past "</tag>", or past the '>' of a self-closing <tag/> */
	size_t at = (size_t)(cs - p);
	size_t after = !cn && cs[-1] == '/' ? at + 1 : at + cn + strlen(tag) + 3;
	*pos = after > n ? n : after;
	return KL_OK;
}
