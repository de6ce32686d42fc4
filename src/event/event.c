/* event.c — see event.h. The contract is DESIGN.md, "The event contract". */
#include "event/event.h"
#include "event/row.h"
#include "core/err.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <xxhash.h>

#define MAX_CREATED_AT 253402300800LL /* 10000-01-01T00:00:00Z */
/* what a created_at past year 10000 that is a date in milliseconds adds to
 * its dead letter's message (the usual mistake of a producer) */
#define MS_HINT(v)                                                                         \
	((v) >= 1000000000000LL && (v) / 1000 < MAX_CREATED_AT                             \
	     ? " (it looks like milliseconds: created_at is Unix seconds)"                 \
	     : "")

static const char *const reject_names[KL_REJ_COUNT] = {
	[KL_REJ_NONE] = "none",
	[KL_REJ_INVALID_JSON] = "invalid_json",
	[KL_REJ_INVALID_UTF8] = "invalid_utf8",
	[KL_REJ_TOO_DEEP] = "too_deep",
	[KL_REJ_TOO_LARGE] = "too_large",
	[KL_REJ_NOT_OBJECT] = "not_object",
	[KL_REJ_DUPLICATE_KEY] = "duplicate_key",
	[KL_REJ_MISSING_FIELD] = "missing_field",
	[KL_REJ_INVALID_FIELD] = "invalid_field",
	[KL_REJ_INVALID_CREATED_AT] = "invalid_created_at",
};

const char *kl_reject_name(enum kl_reject r)
{
	return (unsigned)r < KL_REJ_COUNT ? reject_names[r] : "unknown";
}

void kl_event_limits_default(struct kl_event_limits *l)
{
	l->max_record_bytes = 10u << 20;
	l->max_depth = 64;
}

void kl_event_init(struct kl_event *ev)
{
	memset(ev, 0, sizeof *ev);
	kl_json_doc_init(&ev->doc);
	kl_buf_init(&ev->scratch, 0);
}

void kl_event_cleanup(struct kl_event *ev)
{
	kl_json_doc_cleanup(&ev->doc);
	kl_buf_cleanup(&ev->scratch);
	free(ev->keyset);
	free(ev->keys);
	memset(ev, 0, sizeof *ev);
}

static enum kl_reject reject(struct kl_event *ev, enum kl_reject r, size_t off, const char *fmt,
			     const char *arg)
{
	ev->reject = r;
	ev->err_offset = off;
	snprintf(ev->msg, sizeof ev->msg, fmt, arg);
	return r;
}

/* Days from 1970-01-01 to y-m-d and back (H. Hinnant's civil algorithms). */
static void civil_from_days(int64_t z, int *y, unsigned *m, unsigned *d)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	unsigned doe = (unsigned)(z - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t yy = (int64_t)yoe + era * 400;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int)(yy + (*m <= 2));
}

static inline void put2(char *o, unsigned v)
{
	o[0] = (char)('0' + v / 10);
	o[1] = (char)('0' + v % 10);
}

size_t kl_format_datetime(int64_t sec, int ms, int with_ms, char out[32])
{
	int y;
	unsigned mo, d;
	int64_t days = sec / 86400;
	unsigned rem = (unsigned)(sec % 86400);
	civil_from_days(days, &y, &mo, &d);
	put2(out, (unsigned)y / 100);
	put2(out + 2, (unsigned)y % 100);
	out[4] = '-';
	put2(out + 5, mo);
	out[7] = '-';
	put2(out + 8, d);
	out[10] = 'T';
	put2(out + 11, rem / 3600);
	out[13] = ':';
	put2(out + 14, rem / 60 % 60);
	out[16] = ':';
	put2(out + 17, rem % 60);
	size_t n = 19;
	if (with_ms) {
		out[19] = '.';
		out[20] = (char)('0' + ms / 100);
		put2(out + 21, (unsigned)ms % 100);
		n = 23;
	}
	out[n++] = 'Z';
	out[n] = '\0';
	return n;
}

/* Decode a string member's value into scratch when it has escapes. */
static struct kl_str member_string(struct kl_event *ev, const struct kl_json_member *m)
{
	struct kl_str s = {m->val + 1, m->val_len - 2};
	if (m->val_esc) {
		/* scratch was reserved to hold the whole record: no reallocation */
		char *o = ev->scratch.data + ev->scratch.len;
		s.n = kl_json_unescape(s.p, s.n, o);
		s.p = o;
		ev->scratch.len += s.n;
	}
	return s;
}

/* created_at: integer literal fast path; otherwise decimal text or strtod. */
static enum kl_reject parse_created_at(struct kl_event *ev, const struct kl_json_member *m)
{
	const char *p = m->val, *end = m->val + m->val_len;
	size_t off = 0; /* the caller sets the offset */
	ev->has_frac = m->type == KL_JSON_NUMBER;
	ev->ms = 0;
	int neg = *p == '-';
	const char *q = p + neg;
	const char *dot = NULL;
	int has_exp = 0;
	for (const char *r = q; r < end; r++) {
		if (*r == '.')
			dot = r;
		else if (*r == 'e' || *r == 'E')
			has_exp = 1;
	}
	if (!has_exp) {
		const char *int_end = dot ? dot : end;
		if (int_end - q > 15)
			return reject(ev, KL_REJ_INVALID_CREATED_AT, off,
				      "created_at %s is out of range [0, 253402300800)", "value");
		int64_t v = 0;
		for (const char *r = q; r < int_end; r++)
			v = v * 10 + (*r - '0');
		int ms = 0, nz = 0;
		if (dot) {
			const char *r = dot + 1;
			for (int i = 0; i < 3; i++)
				ms = ms * 10 + (r < end ? *r++ - '0' : 0);
			for (const char *t = dot + 1; t < end; t++)
				nz |= *t != '0';
		}
		if (neg && (v != 0 || nz))
			return reject(ev, KL_REJ_INVALID_CREATED_AT, off,
				      "created_at is negative%s", "");
		if (v >= MAX_CREATED_AT)
			return reject(ev, KL_REJ_INVALID_CREATED_AT, off,
				      "created_at is at or past year 10000%s", MS_HINT(v));
		ev->sec = v;
		ev->ms = ms;
		return KL_REJ_NONE;
	}
	char tmp[512];
	size_t n = m->val_len < sizeof tmp - 1 ? m->val_len : sizeof tmp - 1;
	memcpy(tmp, p, n);
	tmp[n] = '\0';
	double x = strtod(tmp, NULL);
	if (!isfinite(x))
		return reject(ev, KL_REJ_INVALID_CREATED_AT, off, "created_at is not finite%s", "");
	if (x < 0)
		return reject(ev, KL_REJ_INVALID_CREATED_AT, off, "created_at is negative%s", "");
	if (x >= (double)MAX_CREATED_AT)
		return reject(ev, KL_REJ_INVALID_CREATED_AT, off,
			      "created_at is at or past year 10000%s",
			      MS_HINT(x < 1e15 ? (int64_t)x : MAX_CREATED_AT * 1000));
	double whole = floor(x);
	ev->sec = (int64_t)whole;
	ev->ms = (int)floor((x - whole) * 1000.0 + 1e-6);
	if (ev->ms > 999)
		ev->ms = 999;
	return KL_REJ_NONE;
}

/* A hash for the duplicate-key table: keys are short, so up to 16 bytes are
 * mixed inline (first and last 8, overlapping) instead of calling XXH3; the
 * table compares keys on a hash match, so the hash only spreads them. */
static inline uint32_t key_hash(const char *p, size_t n)
{
	uint64_t a, b;
	if (n > 16)
		return (uint32_t)XXH3_64bits(p, n);
	if (n >= 8) {
		memcpy(&a, p, 8);
		memcpy(&b, p + n - 8, 8);
	} else if (n >= 4) {
		uint32_t x, y;
		memcpy(&x, p, 4);
		memcpy(&y, p + n - 4, 4);
		a = x;
		b = y;
	} else {
		a = n ? (uint64_t)(unsigned char)p[0] << 16 | (uint64_t)(unsigned char)p[n / 2] << 8 |
				(unsigned char)p[n - 1]
		      : 0;
		b = 0;
	}
	uint64_t h = (a ^ 0x9E3779B97F4A7C15ull) * 0xBF58476D1CE4E5B9ull ^
		     (b + n) * 0x94D049BB133111EBull;
	return (uint32_t)(h ^ h >> 29 ^ h >> 32);
}

/* qsort_r order of key indices: by key (length, then bytes), then by
 * index, so that equal keys sit together in document order. */
static int key_order(const void *x, const void *y, void *ctx)
{
	const struct kl_str *keys = ctx;
	uint32_t i = *(const uint32_t *)x, j = *(const uint32_t *)y;
	const struct kl_str *a = &keys[i], *b = &keys[j];
	if (a->n != b->n)
		return a->n < b->n ? -1 : 1;
	int c = memcmp(a->p, b->p, a->n);
	return c ? c : i < j ? -1 : i > j;
}

/* The same answer as the table's (the first key, in document order, that
 * repeats an earlier one) in O(n log n) whatever the keys: used when the
 * table's probes show keys crafted to collide (a record of 20,000 such
 * 8-byte keys took 17 x the time of plain ones, and the cost grows with
 * the square of their number). `idx` holds n entries. */
static int duplicate_by_sort(const struct kl_str *keys, size_t n, uint32_t *idx, size_t *dup)
{
	for (size_t i = 0; i < n; i++)
		idx[i] = (uint32_t)i;
	qsort_r(idx, n, sizeof *idx, key_order, (void *)keys);
	/* a run of equal keys is in document order: its second entry, where
	 * the table stops, has the smallest index after the first */
	size_t best = SIZE_MAX;
	for (size_t i = 1; i < n; i++) {
		const struct kl_str *a = &keys[idx[i - 1]], *b = &keys[idx[i]];
		if (idx[i] < best && a->n == b->n && !memcmp(a->p, b->p, a->n))
			best = idx[i];
	}
	if (best == SIZE_MAX)
		return 0;
	*dup = best;
	return 1;
}

/* Duplicate top-level keys: hash every (decoded) key into a small
 * generation-stamped open-addressing table; compare on hash match. The
 * hash is fixed, so keys can be made to collide: past a probe budget the
 * keys are sorted instead (duplicate_by_sort). */
static int find_duplicate_key(struct kl_event *ev, size_t *dup)
{
	size_t n = ev->doc.n;
	uint32_t need = 16;
	while (need < 2 * n)
		need *= 2;
	if (ev->keyset_cap < need) {
		free(ev->keyset);
		ev->keyset = calloc(need, 2 * sizeof(uint32_t));
		if (!ev->keyset)
			return -1;
		ev->keyset_cap = need;
		ev->gen = 0;
	}
	uint32_t cap = ev->keyset_cap, mask = cap - 1;
	if (++ev->gen == 0) {
		memset(ev->keyset, 0, (size_t)cap * 2 * sizeof(uint32_t));
		ev->gen = 1;
	}
	/* keys with escapes are compared decoded; the key array grows to the
	 * widest event seen, so no allocation per event */
	if (ev->keys_cap < n) {
		struct kl_str *k = realloc(ev->keys, n * sizeof *k);
		if (!k)
			return -1;
		ev->keys = k;
		ev->keys_cap = n;
	}
	struct kl_str *keys = ev->keys;
	/* linear probing at load <= 1/2 averages under 2.5 probes a key */
	size_t budget = 8 * n + 256, probes = 0;
	for (size_t i = 0; i < n; i++) {
		const struct kl_json_member *m = &ev->doc.m[i];
		keys[i].p = m->key;
		keys[i].n = m->key_len;
		if (m->key_esc) {
			char *o = ev->scratch.data + ev->scratch.len;
			keys[i].n = kl_json_unescape(m->key, m->key_len, o);
			keys[i].p = o;
			ev->scratch.len += keys[i].n;
		}
		if (probes > budget)
			continue; /* decided by sorting, below */
		uint32_t h = key_hash(keys[i].p, keys[i].n);
		for (uint32_t s = h & mask;; s = (s + 1) & mask, probes++) {
			uint32_t *slot = &ev->keyset[2 * s];
			if (slot[0] != ev->gen) {
				slot[0] = ev->gen;
				slot[1] = (uint32_t)i;
				break;
			}
			const struct kl_str *o = &keys[slot[1]];
			if (o->n == keys[i].n && memcmp(o->p, keys[i].p, o->n) == 0) {
				*dup = i;
				return 1;
			}
		}
	}
	if (probes > budget) /* the table (2 x cap >= 4n entries) as the index array */
		return duplicate_by_sort(keys, n, ev->keyset, dup);
	return 0;
}

static inline int key_is_n(const struct kl_json_member *m, const char *name, size_t len)
{
	if (!m->key_esc)
		return m->key_len == len && memcmp(m->key, name, len) == 0;
	char tmp[64];
	if (m->key_len > sizeof tmp)
		return 0;
	size_t n = kl_json_unescape(m->key, m->key_len, tmp);
	return n == len && memcmp(tmp, name, len) == 0;
}

/* name is a string literal: its length is known at compile time */
#define key_is(m, name) key_is_n((m), (name), sizeof(name) - 1)

static int is_added_field(const struct kl_json_member *m)
{
	if (m->key_len < 10 || m->key_len > 100)
		return 0;
	return key_is(m, "created_datetime") || key_is(m, "event_type") ||
	       key_is(m, "event_subtype");
}

int kl_event_peek_uuid(const char *p, size_t n, const char **u, size_t *un)
{
	static const char key[] = "\"event_uuid\"";
	size_t k = sizeof key - 1;
	const char *end = p + (n < KL_EVENT_PEEK_BYTES ? n : KL_EVENT_PEEK_BYTES);
	const char *q = p + 1; /* most producers put it first: no search */
	if (n < k + 1 || *p != '{' || memcmp(q, key, k))
		q = memmem(p, (size_t)(end - p), key, k);
	if (!q)
		return 0;
	q = kl_json_skip_ws(q + k, end);
	if (q >= end || *q++ != ':')
		return 0;
	q = kl_json_skip_ws(q, end);
	if (q >= end || *q++ != '"')
		return 0;
	const char *e = memchr(q, '"', (size_t)(end - q));
	if (!e || e == q || memchr(q, '\\', (size_t)(e - q)))
		return 0;
	*u = q;
	*un = (size_t)(e - q);
	return 1;
}

enum kl_reject kl_event_parse(struct kl_event *ev, const char *p, size_t n,
			      const struct kl_event_limits *lim)
{
	ev->reject = KL_REJ_NONE;
	ev->msg[0] = '\0';
	ev->err_offset = 0;
	ev->doc.n = 0;
	kl_buf_reset(&ev->scratch);
	if (n > lim->max_record_bytes) {
		char lim_s[32];
		snprintf(lim_s, sizeof lim_s, "%zu", lim->max_record_bytes);
		return reject(ev, KL_REJ_TOO_LARGE, 0, "record is larger than the %s-byte limit",
			      lim_s);
	}
	struct kl_json_error je;
	int rc = kl_json_parse(p, n, lim->max_depth, &ev->doc, &je);
	if (rc) {
		enum kl_reject r = rc == KL_JSON_EUTF8   ? KL_REJ_INVALID_UTF8
				   : rc == KL_JSON_EDEPTH ? KL_REJ_TOO_DEEP
							  : KL_REJ_INVALID_JSON;
		return reject(ev, r, je.offset, "%s", je.msg);
	}
	if (ev->doc.top != KL_JSON_OBJECT)
		return reject(ev, KL_REJ_NOT_OBJECT, 0, "record is not a JSON object%s", "");
	/* decoded strings never exceed the record: one reservation per record */
	if (kl_buf_reserve(&ev->scratch, n + 64))
		return reject(ev, KL_REJ_TOO_LARGE, 0, "out of memory for a record%s", "");

	size_t dup;
	int d = find_duplicate_key(ev, &dup);
	if (d < 0)
		return reject(ev, KL_REJ_TOO_LARGE, 0, "out of memory for a record%s", "");
	if (d > 0) {
		const struct kl_json_member *m = &ev->doc.m[dup];
		char key[64];
		size_t cut = m->key_len < 40 ? m->key_len : 40;
		while (cut < m->key_len && cut > 0 && ((unsigned char)m->key[cut] & 0xC0) == 0x80)
			cut--; /* not inside a UTF-8 sequence */
		snprintf(key, sizeof key, "%.*s", (int)cut, m->key);
		return reject(ev, KL_REJ_DUPLICATE_KEY, (size_t)(m->start - p),
			      "repeated top-level key \"%s\"", key);
	}

	const struct kl_json_member *mu = NULL, *mn = NULL, *mc = NULL;
	ev->has_added = 0;
	for (size_t i = 0; i < ev->doc.n; i++) {
		const struct kl_json_member *m = &ev->doc.m[i];
		if (m->key_len < 10 || m->key_len > 100)
			continue;
		/* one pass: the required fields, and whether the event carries one
		 * of the fields kl_event_write_json() computes */
		ev->has_added |= is_added_field(m);
		if (m->key_len > 60)
			continue;
		if (!mu && key_is(m, "event_uuid"))
			mu = m;
		else if (!mn && key_is(m, "event_name"))
			mn = m;
		else if (!mc && key_is(m, "created_at"))
			mc = m;
	}
	if (!mu)
		return reject(ev, KL_REJ_MISSING_FIELD, 0, "missing required field %s", "event_uuid");
	if (!mn)
		return reject(ev, KL_REJ_MISSING_FIELD, 0, "missing required field %s", "event_name");
	if (!mc)
		return reject(ev, KL_REJ_MISSING_FIELD, 0, "missing required field %s", "created_at");
	if (mu->type != KL_JSON_STRING || mu->val_len == 2)
		return reject(ev, KL_REJ_INVALID_FIELD, (size_t)(mu->val - p),
			      "%s must be a non-empty string", "event_uuid");
	if (mn->type != KL_JSON_STRING || mn->val_len == 2)
		return reject(ev, KL_REJ_INVALID_FIELD, (size_t)(mn->val - p),
			      "%s must be a non-empty string", "event_name");
	if (mc->type != KL_JSON_INT && mc->type != KL_JSON_NUMBER)
		return reject(ev, KL_REJ_INVALID_CREATED_AT, (size_t)(mc->val - p),
			      "created_at must be a number of Unix seconds%s", "");
	enum kl_reject r = parse_created_at(ev, mc);
	if (r) {
		ev->err_offset = (size_t)(mc->val - p);
		return r;
	}

	ev->uuid = member_string(ev, mu);
	ev->name = member_string(ev, mn);
	ev->name_esc = mn->val_esc;
	const char *c1 = memchr(ev->name.p, ':', ev->name.n);
	if (!c1) {
		ev->type = ev->name;
		ev->subtype.p = NULL;
		ev->subtype.n = 0;
	} else {
		ev->type.p = ev->name.p;
		ev->type.n = (size_t)(c1 - ev->name.p);
		const char *s = c1 + 1, *e = ev->name.p + ev->name.n;
		const char *c2 = memchr(s, ':', (size_t)(e - s));
		ev->subtype.p = s;
		ev->subtype.n = (size_t)((c2 ? c2 : e) - s);
	}
	if (ev->type.n > KL_EVENT_PART_MAX || ev->subtype.n > KL_EVENT_PART_MAX) {
		int t = ev->type.n > KL_EVENT_PART_MAX;
		char why[96];
		snprintf(why, sizeof why, "its %s is %zu bytes, more than %d",
			 t ? "event type" : "event subtype", t ? ev->type.n : ev->subtype.n,
			 KL_EVENT_PART_MAX);
		return reject(ev, KL_REJ_INVALID_FIELD, (size_t)(mn->val - p),
			      "event_name: %s (each part names a partition directory)", why);
	}
	ev->datetime_len = kl_format_datetime(ev->sec, ev->ms, ev->has_frac, ev->datetime);
	memcpy(ev->dt, ev->datetime, 10);
	ev->dt[10] = '\0';
	memcpy(ev->hr, ev->datetime + 11, 2);
	ev->hr[2] = '\0';
	return KL_REJ_NONE;
}

int kl_json_escape_append(struct kl_buf *out, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	if (kl_buf_reserve(out, n * 6))
		return KL_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\') {
			out->data[out->len++] = '\\';
			out->data[out->len++] = (char)c;
		} else if (c < 0x20) {
			char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
			kl_buf_put(out, e, 6);
		} else {
			out->data[out->len++] = (char)c;
		}
	}
	return KL_OK;
}

int kl_json_escape_text_append(struct kl_buf *out, const char *s, size_t n)
{
	if (kl_buf_reserve(out, n * 6))
		return KL_ENOMEM;
	size_t i = 0;
	while (i < n) {
		size_t k = i;
		while (k < n && (unsigned char)s[k] < 0x80)
			k++;
		if (k > i && kl_json_escape_append(out, s + i, k - i))
			return KL_ENOMEM;
		if (k == n)
			break;
		size_t q = kl_utf8_seq(s + k, n - k);
		if (q) {
			kl_buf_put(out, s + k, q);
			i = k + q;
		} else {
			kl_buf_put(out, "\\ufffd", 6);
			i = k + 1;
		}
	}
	return KL_OK;
}

/* The computed event_type and event_subtype values: their decoded bytes,
 * re-escaped when the name had escapes, at most 6 bytes each ("\u000d" for
 * a decoded "\r"). Counted at the most, so that a reserve bounds what is
 * written and a buffer grows only at it, whichever path writes the event
 * (fuzz/fuzz_row checks the bound). */
static size_t name_parts_max(const struct kl_event *ev)
{
	return (ev->name_esc ? 6 : 1) * (ev->type.n + ev->subtype.n);
}

size_t kl_event_json_reserve(const struct kl_event *ev, size_t raw_len)
{
	return raw_len + 96 + name_parts_max(ev);
}

/* The end of the original object's bytes a JSON line keeps when no member
 * is dropped: up to (not including) the closing brace and the whitespace
 * before it. */
static const char *kept_end(const char *raw, size_t raw_len)
{
	const char *end = raw + raw_len;
	while (end > raw && end[-1] != '}')
		end--;
	end--;
	while (end > raw && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\n' ||
			     end[-1] == '\r'))
		end--;
	return end;
}

int kl_event_write_json(const struct kl_event *ev, const char *raw, size_t raw_len,
			struct kl_buf *out)
{
	const struct kl_json_doc *d = &ev->doc;
	int keep_all = !ev->has_added;
	if (kl_buf_reserve(out, kl_event_json_reserve(ev, raw_len)))
		return KL_ENOMEM;
	size_t from = out->len;
	if (keep_all) {
		/* the original bytes up to (not including) the closing brace */
		const char *end = kept_end(raw, raw_len);
		kl_buf_put(out, raw, (size_t)(end - raw));
	} else {
		kl_buf_put(out, "{", 1);
		int first = 1;
		for (size_t i = 0; i < d->n; i++) {
			const struct kl_json_member *m = &d->m[i];
			if (is_added_field(m))
				continue;
			if (!first)
				kl_buf_put(out, ",", 1);
			kl_buf_put(out, m->start, (size_t)(m->val + m->val_len - m->start));
			first = 0;
		}
	}
	/* a newline in valid JSON is insignificant whitespace (a record from
	 * Kinesis or a Lambda event may be pretty-printed): a space keeps the
	 * event one line of its buffer and of a JSON lines file. A text the
	 * parser saw no whitespace in has none to look for. */
	for (char *q = d->ws ? memchr(out->data + from, '\n', out->len - from) : NULL; q;
	     q = memchr(q + 1, '\n', (size_t)(out->data + out->len - q - 1)))
		*q = ' ';
	kl_buf_put(out, ",\"created_datetime\":\"", 21);
	kl_buf_put(out, ev->datetime, ev->datetime_len);
	kl_buf_put(out, "\",\"event_type\":\"", 16);
	int rc = ev->name_esc ? kl_json_escape_append(out, ev->type.p, ev->type.n)
			      : kl_buf_append(out, ev->type.p, ev->type.n);
	if (rc)
		return rc;
	if (ev->subtype.p) {
		if ((rc = kl_buf_append(out, "\",\"event_subtype\":\"", 19)))
			return rc;
		rc = ev->name_esc ? kl_json_escape_append(out, ev->subtype.p, ev->subtype.n)
				  : kl_buf_append(out, ev->subtype.p, ev->subtype.n);
		if (rc)
			return rc;
		return kl_buf_append(out, "\"}", 2);
	}
	return kl_buf_append(out, "\",\"event_subtype\":null}", 23);
}

size_t kl_event_row_reserve(const struct kl_event *ev, size_t raw_len)
{
	/* members: their bytes are a subset of the raw ones, plus lengths and
	 * flags; the computed fields as kl_event_json_reserve counts them */
	return 1 + raw_len + (ev->doc.n + 3) * (2 * KL_ROW_LEN_MAX + 1) + 96 +
	       name_parts_max(ev);
}

/* The row member of a computed string field: its value is the JSON string
 * of s, escaped as kl_event_write_json escapes it when `esc`; *vlen gets
 * the value's length (quotes included). key is short (a computed field's
 * name). out has room for kl_row_member_max(key_len, 2 + 6 * n). */
static int row_string(struct kl_buf *out, const char *key, size_t key_len, const char *s, size_t n,
		      int esc, size_t *vlen)
{
	struct kl_json_member m = {.key = key, .key_len = key_len, .type = KL_JSON_STRING};
	if (!esc) {
		m.val_len = n + 2;
		kl_row_put_head(out, &m);
		out->data[out->len++] = '"';
		kl_buf_put(out, s, n);
		out->data[out->len++] = '"';
		*vlen = n + 2;
		return KL_OK;
	}
	/* escaped: the value is written first, past room for the head, then
	 * the head (whose length and flags depend on it) goes before it */
	char head[64];
	if (key_len + 2 * KL_ROW_LEN_MAX + 1 > sizeof head)
		return KL_EINVAL;
	size_t at = out->len, room = key_len + 2 * KL_ROW_LEN_MAX + 1;
	if (kl_buf_reserve(out, room))
		return KL_ENOMEM;
	out->len += room;
	int rc = kl_buf_putc(out, '"');
	if (!rc)
		rc = kl_json_escape_append(out, s, n);
	if (!rc)
		rc = kl_buf_putc(out, '"');
	if (rc)
		return rc;
	char *v = out->data + at + room;
	m.val_len = out->len - at - room;
	m.val_esc = memchr(v, '\\', m.val_len) != NULL;
	struct kl_buf h = {.data = head, .len = 0, .cap = sizeof head};
	kl_row_put_head(&h, &m);
	memmove(out->data + at + h.len, v, m.val_len);
	memcpy(out->data + at, head, h.len);
	out->len = at + h.len + m.val_len;
	*vlen = m.val_len;
	return KL_OK;
}

int kl_event_write_row(const struct kl_event *ev, const char *raw, size_t raw_len,
		       struct kl_buf *out, uint64_t *json_len)
{
	const struct kl_json_doc *d = &ev->doc;
	int keep_all = !ev->has_added;
	if (kl_buf_reserve(out, kl_event_row_reserve(ev, raw_len)))
		return KL_ENOMEM;
	out->data[out->len++] = (char)KL_ROW_MARK;
	/* the JSON line's length, as kl_event_write_json lays it out */
	uint64_t jl = keep_all ? (uint64_t)(kept_end(raw, raw_len) - raw) : 1;
	size_t kept = 0;
	for (size_t i = 0; i < d->n; i++) {
		const struct kl_json_member *m = &d->m[i];
		if (!keep_all) {
			if (is_added_field(m))
				continue;
			jl += (kept ? 1 : 0) + (uint64_t)(m->val + m->val_len - m->start);
		}
		if (m->val_ws) {
			/* an object or array with whitespace inside: minified, as the
			 * Parquet encoder stores it anyway, so no row holds a newline
			 * (a Kinesis record may be pretty-printed JSON). The value is
			 * minified past room for the head, whose length field
			 * depends on it, then moved down behind it. */
			struct kl_json_member mm = *m;
			size_t at = out->len, room = kl_row_member_max(m->key_len, 0);
			mm.val_len = kl_json_minify(m->val, m->val_len, out->data + at + room);
			mm.val_ws = 0;
			kl_row_put_head(out, &mm);
			memmove(out->data + out->len, out->data + at + room, mm.val_len);
			out->len += mm.val_len;
			kept++;
			continue;
		}
		kl_row_put(out, m);
		kept++;
	}
	size_t v;
	int rc = row_string(out, "created_datetime", 16, ev->datetime, ev->datetime_len, 0, &v);
	jl += 20 + v; /* ,"created_datetime": */
	if (!rc)
		rc = row_string(out, "event_type", 10, ev->type.p, ev->type.n, ev->name_esc, &v);
	jl += 14 + v; /* ,"event_type": */
	if (rc)
		return rc;
	if (ev->subtype.p) {
		rc = row_string(out, "event_subtype", 13, ev->subtype.p, ev->subtype.n, ev->name_esc,
				&v);
		jl += 17 + v + 1; /* ,"event_subtype": and the closing brace */
	} else {
		struct kl_json_member m = {.key = "event_subtype", .key_len = 13, .val = "null",
					   .val_len = 4, .type = KL_JSON_NULL};
		if (kl_buf_reserve(out, kl_row_member_max(13, 4)))
			return KL_ENOMEM;
		kl_row_put(out, &m);
		jl += 17 + 4 + 1;
	}
	*json_len = jl;
	return rc;
}
