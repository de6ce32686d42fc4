/*
 * json.h — strict RFC 8259 JSON validator and zero-copy top-level tokenizer.
 *
 * kl_json_parse() checks a complete JSON text byte for byte (grammar, UTF-8
 * shortest-form validity, no lone surrogate escapes, depth limit) without
 * allocating, using an explicit stack instead of recursion. When the text is
 * an object and `doc` is given, it also records every top-level member as
 * spans that point into the caller's input: nothing is copied or decoded.
 *
 * Ownership: the input buffer is the caller's and must outlive the spans in
 * `doc`. A `struct kl_json_doc` is caller-owned (kl_json_doc_init/cleanup);
 * its member array grows to the largest record seen and is then reused, so
 * the hot path does not allocate.
 *
 * Choices where RFC 8259 leaves room: a UTF-8 BOM is rejected, as are lone
 * UTF-16 surrogates in \u escapes (they cannot become valid UTF-8); numbers
 * of any magnitude are accepted here (range checks belong to the caller).
 */
#ifndef KL_PARSE_JSON_H
#define KL_PARSE_JSON_H

#include "core/base64.h"
#include "core/buf.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

enum kl_json_type {
	KL_JSON_NULL,
	KL_JSON_FALSE,
	KL_JSON_TRUE,
	KL_JSON_INT,    /* number literal without fraction or exponent */
	KL_JSON_NUMBER, /* number literal with fraction and/or exponent */
	KL_JSON_STRING,
	KL_JSON_ARRAY,
	KL_JSON_OBJECT,
};

/* Why a text was rejected. */
enum kl_json_fail {
	KL_JSON_OK = 0,
	KL_JSON_ESYNTAX, /* not JSON */
	KL_JSON_EUTF8,   /* invalid UTF-8 (or lone surrogate escape) */
	KL_JSON_EDEPTH,  /* nested deeper than the limit */
};

struct kl_json_error {
	enum kl_json_fail fail;
	size_t offset;   /* byte offset of the problem */
	const char *msg; /* static text */
};

struct kl_json_member {
	const char *key; /* raw bytes between the key's quotes, escapes not decoded */
	size_t key_len;
	const char *val; /* raw value bytes; a string value includes its quotes */
	size_t val_len;
	const char *start; /* the key's opening quote */
	uint8_t type;      /* enum kl_json_type */
	uint8_t key_esc;   /* key contains a backslash escape */
	uint8_t val_esc;   /* string value contains a backslash escape */
	uint8_t val_ws;    /* object/array value contains insignificant whitespace */
};

struct kl_json_doc {
	struct kl_json_member *m; /* top-level members in input order */
	size_t n;
	size_t cap;
	uint8_t top; /* enum kl_json_type of the whole text */
	/* 0: the text has no insignificant whitespace at all (so no raw
	 * newline: a string cannot hold one), 1: it has some, or not known */
	uint8_t ws;
};

void kl_json_doc_init(struct kl_json_doc *d);
void kl_json_doc_cleanup(struct kl_json_doc *d);

/*
 * Validate the JSON text p[0..n). Returns 0 when valid; otherwise a
 * non-zero enum kl_json_fail, with details in *err. `doc` may be NULL; when
 * given, doc->top is set and, for an object, doc->m lists its members.
 * max_depth counts containers: `{}` has depth 1. Returns KL_JSON_ESYNTAX with
 * msg "out of memory" only if the member array cannot grow.
 */
int kl_json_parse(const char *p, size_t n, unsigned max_depth, struct kl_json_doc *doc,
		  struct kl_json_error *err);

/*
 * Decode the body of a valid JSON string (the bytes between the quotes) into
 * UTF-8 at out, which must have room for n bytes (decoding never grows).
 * Returns the decoded length. Input must have passed kl_json_parse.
 */
size_t kl_json_unescape(const char *s, size_t n, char *out);

/* The length of the valid UTF-8 sequence (RFC 3629: no overlongs, no
 * surrogates, nothing over U+10FFFF) of 2-4 bytes at p[0..avail), or 0
 * (ASCII is not a sequence: the caller tests p[0] < 0x80 first). */
size_t kl_utf8_seq(const char *p, size_t avail);

/*
 * Copy a valid JSON value to out without insignificant whitespace; out must
 * have room for n bytes. Returns the minified length.
 */
size_t kl_json_minify(const char *v, size_t n, char *out);

/*
 * Iterate over the elements of an array, or the members of an object, whose
 * text already passed kl_json_parse (e.g. a member value from a doc). For
 * arrays the key fields of the member are empty. Zero-copy; no allocation.
 *   struct kl_json_iter it; struct kl_json_member m;
 *   kl_json_iter_init(&it, v, n);
 *   while (kl_json_iter_next(&it, &m)) ...
 */
struct kl_json_iter {
	const char *p, *end;
	int object;
};

void kl_json_iter_init(struct kl_json_iter *it, const char *v, size_t n);
int kl_json_iter_next(struct kl_json_iter *it, struct kl_json_member *m);

/*
 * The end of the one valid JSON value at p (no whitespace before it), or NULL
 * if there is none there; *type is its type. Checked as kl_json_parse checks
 * a text, nested at most max_depth deep (0: a scalar only): a scalar in one
 * pass by the parser's own scanners, a container found and then checked.
 */
const char *kl_json_value_end(const char *p, const char *end, unsigned max_depth, uint8_t *type);

/*
 * A validating walk over the members of an object (or the elements of an
 * array) in a text too large to check as a whole first, such as a GetRecords
 * answer of megabytes: each key and value is checked when the walk reaches
 * it, as kl_json_parse would check it, so the text is read once, member by
 * member, while each member is still in cache. Walking a text to its end
 * without an error (every container, then kl_json_walk_done) accepts exactly
 * the texts kl_json_parse accepts with the same max_depth.
 *
 *   kl_json_walk_open(&w, p, end, 1, max_depth);
 *   while ((r = kl_json_walk_next(&w, &m)) == 1)
 *           kl_json_walk_value(&w, &m)      check and step over the value;
 *        or a walk of its own, opened at m.val with depth + 1, then
 *           kl_json_walk_skip(&w, inner.p)  when it closed;
 *        or read by the caller, which vouches for it, then kl_json_walk_skip.
 *   r == 0: closed, w.p just past it; r < 0: not JSON (so also for the
 *   value calls).
 *
 * Zero-copy; no allocation. Members are spans into the text, as in a doc
 * (val_len is set by kl_json_walk_value).
 */
enum { KL_JSON_WALK_FIRST, KL_JSON_WALK_AFTER, KL_JSON_WALK_VALUE, KL_JSON_WALK_CLOSED };
struct kl_json_walk {
	const char *p, *end;
	unsigned depth;	    /* this container's: 1 for the text's own */
	unsigned max_depth; /* as kl_json_parse's */
	uint8_t object;	    /* members (else elements) */
	uint8_t state;	    /* KL_JSON_WALK_*: where p is */
};

int kl_json_walk_open(struct kl_json_walk *w, const char *p, const char *end, unsigned depth,
		      unsigned max_depth);
int kl_json_walk_next(struct kl_json_walk *w, struct kl_json_member *m);
int kl_json_walk_value(struct kl_json_walk *w, struct kl_json_member *m);
void kl_json_walk_skip(struct kl_json_walk *w, const char *after);
/* 0 if only whitespace follows the text's own container at p */
int kl_json_walk_done(const char *p, const char *end);

/*
 * The string value at v (its opening quote) read as base64, the way AWS
 * sends binary fields (Kinesis Data, the data of Firehose and Lambda event
 * records): decoded and appended to out. The base64 alphabet holds no byte
 * a JSON string must escape, so a string that decodes up to its closing
 * quote is also a valid JSON string, and a walk may step over it
 * (kl_json_walk_skip) with no other check. Returns just past the closing
 * quote, *n the decoded length; or NULL, out unchanged, and *n = -1 when
 * the string does not decode as it stands (no closing quote before end, an
 * escape, a byte outside the alphabet: kl_json_walk_value then tells a
 * string that is not base64 from a text that is not JSON), -2 when out
 * cannot grow. Inline: a GetRecords answer calls it for each record.
 */
static inline const char *kl_json_base64_take(const char *v, const char *end, struct kl_buf *out,
					      long *n)
{
	*n = -1;
	const char *q = v < end ? memchr(v + 1, '"', (size_t)(end - v - 1)) : NULL;
	if (!q)
		return NULL;
	size_t len = (size_t)(q - v - 1);
	if (kl_buf_reserve(out, kl_base64_decoded_max(len))) {
		*n = -2;
		return NULL;
	}
	*n = kl_base64_decode(v + 1, len, (unsigned char *)out->data + out->len);
	if (*n < 0)
		return NULL;
	out->len += (size_t)*n;
	return q + 1;
}

/*
 * Fill doc with the top-level members of an object text that already passed
 * kl_json_parse (e.g. a line this program wrote), like kl_json_parse would,
 * without validating again: a few times faster. doc->top is OBJECT, or NULL
 * for any other text (no members). Returns 0, or -1 if doc cannot grow.
 */
int kl_json_split_valid(const char *p, size_t n, struct kl_json_doc *doc);

/* Find member `name` (plain ASCII key) in a validated object text. */
int kl_json_object_get(const char *v, size_t n, const char *name, struct kl_json_member *m);

/* p past any JSON whitespace (RFC 8259: space, tab, LF, CR), at most to
 * end. One comparison for the usual case, no whitespace (minified text). */
static inline const char *kl_json_skip_ws(const char *p, const char *end)
{
	while (p < end && (unsigned char)*p <= ' ' &&
	       (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
		p++;
	return p;
}

/* Compare a raw key span with a plain ASCII name (no escapes in the span). */
static inline int kl_json_key_is(const struct kl_json_member *m, const char *name, size_t len)
{
	if (m->key_len != len || m->key_esc)
		return 0;
	for (size_t i = 0; i < len; i++)
		if (m->key[i] != name[i])
			return 0;
	return 1;
}

#endif
