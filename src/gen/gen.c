/* gen.c — see gen.h. */
#include "gen/gen.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define OUT_CAP (1u << 20) /* bytes per write(2) */
#define LINE_MAX_B 16384   /* by construction no line is longer */
#define RING 1024          /* duplicates copy one of the last RING valid lines */
#define MAX_FIELDS 15

/* ---- PRNG: xoshiro256**, seeded by splitmix64 ---- */

struct rng {
	uint64_t s[4];
};

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15u);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
	return z ^ (z >> 31);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static inline uint64_t rnd(struct rng *r)
{
	uint64_t *s = r->s, res = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return res;
}

/* Uniform in [0, n) for n <= 2^32 (multiply-shift, no division). */
static inline uint64_t below(struct rng *r, uint64_t n) { return ((rnd(r) >> 32) * n) >> 32; }
static inline int pct(struct rng *r, unsigned p) { return below(r, 100) < p; }

/* ---- event names: 100 hand-picked (most frequent first), then 900 generated ---- */

#define ACT(p)                                                                                     \
	p ":created", p ":updated", p ":deleted", p ":viewed", p ":shared", p ":exported",         \
	    p ":archived", p ":restored", p ":flagged", p ":synced"
#define OBJ(d)                                                                                     \
	ACT(d ":record"), ACT(d ":report"), ACT(d ":document"), ACT(d ":task"), ACT(d ":note"),    \
	    ACT(d ":batch"), ACT(d ":rule"), ACT(d ":alert"), ACT(d ":asset"), ACT(d ":job")

static const char *const names[] = {
	"page:viewed", "login", "session:started", "search", "product:viewed", "cart:item:added",
	"session:ended", "logout", "payment:order:completed", "payment:order:created",
	"notification:email:sent", "notification:push:sent", "heartbeat", "account:created",
	"payment:refund:issued", "web hook:re/try", "cart:item:removed", "signup",
	"payment:card:declined", "account:updated", "video:played", "video:paused",
	"api:request:failed", "checkout:started", "coupon:applied", "subscription:renewed",
	"subscription:cancelled", "payment:invoice:paid", "review:submitted", "share", "error",
	"feature:flag:evaluated", "experiment:exposure", "account:password:reset",
	"account:deleted", "message:sent", "message:read", "file:uploaded", "file:downloaded",
	"payment:payout:sent", "wishlist:item:added", "shipment:dispatched", "shipment:delivered",
	"shipment:returned", "inventory:stock:low", "support:ticket:opened",
	"support:ticket:closed", "rating", "click", "scroll", "app:installed", "app:uninstalled",
	"app:crashed", "app:updated", "device:registered", "team:member:invited",
	"team:member:joined", "report:exported", "ad:impression", "ad:click",
	"payment:method:added", "payment:dispute:opened", "auth:mfa:challenged",
	"auth:token:refreshed", "chat:started", "chat:ended", "form:submitted", "form:abandoned",
	"download", "profile:avatar:changed", "profile:viewed", "friend:request:sent",
	"friend:request:accepted", "game:level:completed", "game:level:failed", "game:purchase",
	"streak:extended", "reward:claimed", "referral:sent", "referral:converted",
	"survey:answered", "consent:updated", "gdpr:export:requested", "sync:completed",
	"sync:conflict", "backup:created", "job:queued", "job:started", "job:finished",
	"cache:miss", "rate:limit:hit", "billing:plan:upgraded", "billing:plan:downgraded",
	"billing:trial:started", "billing:trial:expired", "integration:connected",
	"integration:disconnected", "audit:log", "ping", "test:event",
	OBJ("crm"), OBJ("erp"), OBJ("hr"), OBJ("ops"), OBJ("cms"), OBJ("lms"), OBJ("iot"),
	OBJ("pos"), OBJ("wms"),
};
_Static_assert(sizeof names / sizeof names[0] == KL_GEN_MAX_TYPES, "1000 event names");

const char *kl_gen_event_name(unsigned i) { return i < KL_GEN_MAX_TYPES ? names[i] : NULL; }

/* ---- payload fields: a schema picks 5..15 distinct entries of the first 64 ---- */

enum kind { F_ID, F_BIG, F_DBL, F_MONEY, F_TEXT, F_ENUM, F_EMAIL, F_URL, F_HEX, F_BOOL, F_DEV, F_OBJ,
	    F_ARRS, F_ARRI, F_UA, F_WIDE };

#define K(n, k) {",\"" n "\":", sizeof(",\"" n "\":") - 1, k}
static const struct field {
	const char *key; /* ,"name": */
	unsigned char len, kind;
} fields[65] = {
	K("user_id", F_ID), K("account_id", F_ID), K("order_id", F_ID), K("item_count", F_ID),
	K("retry_count", F_ID), K("duration_ms", F_ID), K("http_status", F_ID), K("page", F_ID),
	K("quantity", F_ID), K("user_agent", F_UA), K("seq", F_BIG), K("trace_id", F_BIG),
	K("ledger_offset", F_BIG), K("checksum", F_BIG), K("parent_id", F_BIG),
	K("amount", F_MONEY), K("price", F_MONEY), K("balance", F_MONEY), K("tax", F_MONEY),
	K("discount", F_MONEY), K("ratio", F_DBL), K("temperature", F_DBL), K("weight_kg", F_DBL),
	K("delta", F_DBL), K("latency_s", F_DBL), K("confidence", F_DBL), K("elapsed", F_DBL),
	K("comment", F_TEXT), K("title", F_TEXT), K("display_name", F_TEXT),
	K("description", F_TEXT), K("city", F_TEXT), K("message", F_TEXT), K("query", F_TEXT),
	K("note", F_TEXT), K("country", F_ENUM), K("platform", F_ENUM), K("currency", F_ENUM),
	K("status", F_ENUM), K("locale", F_ENUM), K("plan", F_ENUM), K("channel", F_ENUM),
	K("utm_source", F_ENUM), K("email", F_EMAIL), K("contact", F_EMAIL), K("url", F_URL),
	K("referrer", F_URL), K("session_id", F_HEX), K("request_id", F_HEX),
	K("token_hash", F_HEX), K("is_new", F_BOOL), K("verified", F_BOOL), K("opt_in", F_BOOL),
	K("is_test", F_BOOL), K("device", F_DEV), K("client", F_DEV), K("location", F_OBJ),
	K("meta", F_OBJ), K("context", F_OBJ), K("tags", F_ARRS), K("labels", F_ARRS),
	K("categories", F_ARRS), K("item_ids", F_ARRI), K("sizes", F_ARRI),
	K("rating", F_WIDE), /* 64: int or float, only in types i % 50 == 7 */
};

/* String values, already JSON-encoded (raw UTF-8 and escapes). */
static const char *const texts[] = {
	"café au lait", "日本", "😀 great", "na\\u00efve caf\\u00e9", "she said \\\"hi\\\"",
	"C:\\\\temp\\\\file.txt", "line one\\nline two", "col1\\tcol2\\tcol3",
	"escaped emoji \\ud83d\\ude00", "München", "Москва", "São Paulo", "東京都渋谷区",
	"🚀🔥 launch day", "tab\\there, cr\\r, ff\\f, bs\\b", "", "  padded  ",
	"Great product, would buy again", "shipping was slow but support was helpful",
	"<script>alert(1)</script>", "50% off \\/ limited time", "O'Brien & Sons, Ltd.",
	"العربية", "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod",
	"order #12345 confirmed", "Zürich HB → Genève", "null", "true", "0", "🇯🇵 travel",
	"Ünïcödé stress: ñ ç ø å ß", "price: 9.99 USD",
};
static const char *const enums[32] = {
	"US", "DE", "JP", "FR", "BR", "IN", "GB", "ios", "android", "web", "desktop", "EUR",
	"USD", "JPY", "GBP", "active", "pending", "failed", "ok", "en-US", "fr-FR", "ja-JP",
	"de-DE", "free", "pro", "team", "enterprise", "email", "sms", "push", "organic", "google",
};
static const char *const agents[4] = {
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0",
	"Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
	"Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
	"okhttp/4.12.0 (Android 14; Pixel 8)",
};
static const char *const versions[4] = {"17.4.1", "14", "131.0.6778.86", "2.0.0-beta.3"};
static const char *const domains[4] = {"example.com", "mail.example.org", "bücher.example",
				       "corp.example.net"};
static const uint64_t p10[] = {1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000};
static const char hexd[] = "0123456789abcdef";

struct schema {
	unsigned char n, frac, namelen;
	unsigned char f[MAX_FIELDS];   /* index into fields[] */
	unsigned char opt[MAX_FIELDS]; /* bit 0: sometimes absent, bit 1: sometimes null */
};

/* The schema of name i depends on i only (never on the seed). */
static void build_schema(unsigned i, struct schema *s)
{
	uint64_t x = 0x6b696e6c616b65u + i, h = splitmix64(&x);
	unsigned char pool[64];
	for (unsigned j = 0; j < 64; j++)
		pool[j] = (unsigned char)j;
	s->namelen = (unsigned char)strlen(names[i]);
	s->n = (unsigned char)(6 + h % 10);
	s->frac = (h >> 8) % 3 == 0;
	for (unsigned j = 0; j < s->n; j++) { /* partial Fisher-Yates over the 64 fields */
		uint64_t b = splitmix64(&x);
		unsigned p = j + (unsigned)((b >> 32) % (64 - j));
		s->f[j] = pool[p];
		pool[p] = pool[j];
		s->opt[j] = (unsigned char)((j >= 2 && b % 4 == 0) | ((b >> 8) % 6 == 0) << 1);
	}
	if (i % 50 == 7)
		s->f[s->n - 1] = 64;
}

/* ---- writers: `w` points into a buffer with LINE_MAX_B bytes of room ---- */

#define LIT(w, s) (memcpy((w), (s), sizeof(s) - 1), (w) + sizeof(s) - 1)

static inline char *put(char *w, const char *s, size_t n)
{
	memcpy(w, s, n);
	return w + n;
}

static const char pairs[] = "00010203040506070809101112131415161718192021222324252627282930313233"
			    "34353637383940414243444546474849505152535455565758596061626364656667"
			    "6869707172737475767778798081828384858687888990919293949596979899";

static char *put_u64(char *w, uint64_t v)
{
	unsigned n = 1;
	for (uint64_t x = v; x >= 10; x /= 10)
		n++;
	char *e = w + n;
	for (; v >= 100; v /= 100)
		memcpy(e -= 2, pairs + v % 100 * 2, 2);
	if (v >= 10)
		memcpy(e - 2, pairs + v * 2, 2);
	else
		e[-1] = (char)('0' + v);
	return w + n;
}

static char *put_i64(char *w, int64_t v)
{
	if (v < 0) {
		*w++ = '-';
		return put_u64(w, (uint64_t)0 - (uint64_t)v);
	}
	return put_u64(w, (uint64_t)v);
}

/* v < 10^digits, zero-padded */
static char *put_digits(char *w, uint64_t v, unsigned digits)
{
	for (unsigned i = digits; i-- > 0; v /= 10)
		w[i] = (char)('0' + v % 10);
	return w + digits;
}

/* v / 10^digits as a decimal with exactly `digits` (>= 1) fraction digits */
static char *put_fixed(char *w, int64_t v, unsigned digits)
{
	uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
	if (v < 0)
		*w++ = '-';
	w = put_u64(w, u / p10[digits]);
	*w++ = '.';
	return put_digits(w, u % p10[digits], digits);
}

static char *put_hex(char *w, uint64_t v, int n)
{
	for (int i = n - 1; i >= 0; i--, v >>= 4)
		w[i] = hexd[v & 15];
	return w + n;
}

static inline char *put_cs(char *w, const char *s) { return put(w, s, strlen(s)); }

static char *put_str(char *w, const char *s)
{
	*w++ = '"';
	w = put_cs(w, s);
	*w++ = '"';
	return w;
}

static char *put_uuid(char *w, struct rng *r)
{
	uint64_t a = (rnd(r) & ~0xf000ull) | 0x4000ull;
	uint64_t b = (rnd(r) & ~(3ull << 62)) | (2ull << 62);
	w = put_hex(w, a >> 32, 8);
	*w++ = '-';
	w = put_hex(w, a >> 16, 4);
	*w++ = '-';
	w = put_hex(w, a, 4);
	*w++ = '-';
	w = put_hex(w, b >> 48, 4);
	*w++ = '-';
	return put_hex(w, b, 12);
}

/* Doubles as decimal text from integers: no libm, no printf, same bytes everywhere. */
static char *put_dbl(char *w, struct rng *r)
{
	uint64_t c = below(r, 1000);
	if (c < 15)
		return LIT(w, "0.0");
	if (c == 15)
		return LIT(w, "-0.0");
	if (pct(r, 35))
		*w++ = '-';
	if (c < 110) { /* d.dddddde±x, occasionally near the double range limits */
		int e = c < 20 ? 290 + (int)below(r, 18) : (int)below(r, 40) - 20;
		*w++ = (char)('1' + below(r, 9));
		*w++ = '.';
		w = put_digits(w, below(r, 1000000), 6);
		*w++ = 'e';
		if (c & 1)
			e = -e;
		return put_i64(w, e);
	}
	return put_fixed(w, (int64_t)below(r, 100000000), 1 + (unsigned)below(r, 8));
}

static char *put_value(char *w, struct rng *r, unsigned f)
{
	uint64_t v;
	switch (fields[f].kind) {
	case F_ID:
		return put_u64(w, pct(r, 90) ? below(r, 1000000) : rnd(r) >> 30);
	case F_BIG:
		if (pct(r, 80))
			return put_u64(w, rnd(r) >> 24);
		v = (1ull << 62) + (rnd(r) >> 32); /* near +-2^62 */
		return pct(r, 50) ? put_u64(w, v) : put_i64(w, -(int64_t)v);
	case F_DBL:
		return put_dbl(w, r);
	case F_MONEY:
		return put_fixed(w, (int64_t)below(r, 10000000) * (pct(r, 5) ? -1 : 1), 2);
	case F_TEXT:
		return put_str(w, texts[below(r, sizeof texts / sizeof texts[0])]);
	case F_ENUM:
		return put_str(w, enums[(f * 5 + below(r, 6)) & 31]);
	case F_EMAIL:
		w = LIT(w, "\"user");
		w = put_u64(w, below(r, 1000000));
		*w++ = '@';
		w = put_cs(w, domains[f & 3]);
		*w++ = '"';
		return w;
	case F_URL:
		w = pct(r, 15) ? LIT(w, "\"https:\\/\\/shop.example.com\\/p\\/")
			       : LIT(w, "\"https://shop.example.com/p/");
		w = put_u64(w, below(r, 100000));
		w = LIT(w, "?ref=");
		w = put_cs(w, enums[27 + below(r, 5)]);
		*w++ = '"';
		return w;
	case F_UA:
		return put_str(w, agents[below(r, 4)]);
	case F_HEX:
		*w++ = '"';
		w = put_hex(w, rnd(r), 16);
		w = put_hex(w, rnd(r), 16);
		*w++ = '"';
		return w;
	case F_BOOL:
		return pct(r, 50) ? LIT(w, "true") : LIT(w, "false");
	case F_DEV:
		w = LIT(w, "{\"os\":");
		w = put_str(w, enums[7 + below(r, 4)]);
		w = LIT(w, ",\"version\":");
		w = put_str(w, versions[below(r, 4)]);
		w = LIT(w, ",\"screen\":{\"w\":");
		w = put_u64(w, 320 + below(r, 3000));
		w = LIT(w, ",\"h\":");
		w = put_u64(w, 480 + below(r, 2000));
		w = LIT(w, "},\"dark_mode\":");
		return pct(r, 40) ? LIT(w, "true}") : LIT(w, "false}");
	case F_OBJ:
		w = LIT(w, "{\"id\":");
		w = put_u64(w, below(r, 1000000));
		w = LIT(w, ",\"name\":");
		w = put_str(w, texts[below(r, sizeof texts / sizeof texts[0])]);
		w = LIT(w, ",\"geo\":{\"lat\":");
		w = put_fixed(w, (int64_t)below(r, 180000001) - 90000000, 6);
		w = LIT(w, ",\"lon\":");
		w = put_fixed(w, (int64_t)below(r, 360000001) - 180000000, 6);
		w = LIT(w, "},\"flags\":[");
		for (v = below(r, 4); v; v--)
			w = pct(r, 50) ? LIT(w, "true,") : LIT(w, "false,");
		if (w[-1] == ',')
			w--;
		return LIT(w, "]}");
	case F_ARRS:
	case F_ARRI:
		*w++ = '[';
		for (v = below(r, fields[f].kind == F_ARRS ? 5 : 7); v; v--) {
			if (fields[f].kind == F_ARRS)
				w = put_str(w, enums[(f * 7 + below(r, 12)) & 31]);
			else
				w = put_u64(w, below(r, 100000));
			*w++ = ',';
		}
		if (w[-1] == ',')
			w--;
		*w++ = ']';
		return w;
	default: /* F_WIDE: mostly an int, sometimes a float */
		return pct(r, 75) ? put_u64(w, below(r, 1000)) : put_fixed(w, (int64_t)below(r, 1000), 1);
	}
}

/* ---- lines ---- */

struct gen {
	const struct kl_gen_opts *o;
	uint64_t *cum; /* cumulative Zipf weights, o->types entries */
	struct schema *sch;
	char *out;
};

static unsigned pick_type(const struct gen *g, struct rng *r, uint64_t k)
{
	if (k % 100 == 0 && k / 100 < g->o->types) /* every type appears early */
		return (unsigned)(k / 100);
	uint64_t u = below(r, g->cum[g->o->types - 1]);
	unsigned lo = 0, hi = g->o->types - 1;
	while (lo < hi) {
		unsigned mid = (lo + hi) / 2;
		if (g->cum[mid] > u)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

/* created_at follows the line number, with a little jitter (out-of-order arrival) */
static int64_t stamp(const struct gen *g, struct rng *r, uint64_t k)
{
	const struct kl_gen_opts *o = g->o;
	double f = (double)k / (double)o->events;
	int64_t t = o->start + (int64_t)(f * (double)o->span);
	if (pct(r, 20))
		t += (int64_t)below(r, 7) - 3;
	if (t < o->start)
		t = o->start;
	if (t >= o->start + o->span)
		t = o->start + o->span - 1;
	return t;
}

static char *valid_line(const struct gen *g, struct rng *r, uint64_t k, char *w)
{
	unsigned t = pick_type(g, r, k);
	const struct schema *s = &g->sch[t];
	w = LIT(w, "{\"event_uuid\":\"");
	w = put_uuid(w, r);
	w = LIT(w, "\",\"event_name\":\"");
	w = put(w, names[t], s->namelen);
	w = LIT(w, "\",\"created_at\":");
	w = put_i64(w, stamp(g, r, k));
	if (s->frac && pct(r, 30)) {
		*w++ = '.';
		w = put_digits(w, 1 + below(r, 999), 3);
	}
	for (unsigned j = 0; j < s->n; j++) {
		unsigned f = s->f[j];
		if ((s->opt[j] & 1) && pct(r, 30))
			continue;
		w = put(w, fields[f].key, fields[f].len);
		if ((s->opt[j] & 2) && pct(r, 15))
			w = LIT(w, "null");
		else
			w = put_value(w, r, f);
	}
	*w++ = '}';
	*w++ = '\n';
	return w;
}

enum bad { B_TRUNC, B_TRAILCOMMA, B_GARBAGE, B_NOTOBJ, B_UTF8, B_NO_UUID, B_NO_NAME, B_NO_TS,
	   B_UUID_TYPE, B_UUID_EMPTY, B_NAME_EMPTY, B_NAME_TYPE, B_TS_STR, B_TS_NEG, B_TS_BIG,
	   B_DUPKEY, B_DEEP, NBAD };

/* Malformed line number n: class n % NBAD, variant (n / NBAD) % 4. Every piece
 * starts with ','; the first one is overwritten by '{'. */
static char *bad_line(const struct gen *g, struct rng *r, uint64_t k, uint64_t n, char *w)
{
	static const char *const notobj[4] = {"[1,2]", "\"x\"", "42", "null"};
	static const char *const badutf8[4] = {"\xff", "\xc3\x28", "\xed\xa0\x80", "\xc0\xaf"};
	static const char *const nametype[4] = {"42", "null", "[\"login\"]", "true"};
	static const char *const tsbig[4] = {"253402300800", "253402300801", "9999999999999",
					     "1e20"};
	unsigned cls = (unsigned)(n % NBAD), sub = (unsigned)(n / NBAD % 4);
	const char *name = names[below(r, g->o->types)];
	char *line = w;
	if (cls == B_NOTOBJ) {
		w = put_cs(w, notobj[sub]);
		*w++ = '\n';
		return w;
	}
	if (cls == B_UUID_TYPE)
		w = sub & 1 ? LIT(w, ",\"event_uuid\":null") : LIT(w, ",\"event_uuid\":12345");
	else if (cls == B_UUID_EMPTY)
		w = LIT(w, ",\"event_uuid\":\"\"");
	else if (cls != B_NO_UUID) {
		w = LIT(w, ",\"event_uuid\":\"");
		w = put_uuid(w, r);
		*w++ = '"';
	}
	if (cls == B_NAME_EMPTY)
		w = LIT(w, ",\"event_name\":\"\"");
	else if (cls == B_NAME_TYPE) {
		w = LIT(w, ",\"event_name\":");
		w = put_cs(w, nametype[sub]);
	} else if (cls != B_NO_NAME) {
		w = LIT(w, ",\"event_name\":");
		w = put_str(w, name);
	}
	if (cls != B_NO_TS) {
		int64_t t = stamp(g, r, k);
		w = LIT(w, ",\"created_at\":");
		if (cls == B_TS_STR) {
			w = sub & 1 ? LIT(w, "\"2025-12-01T00:00:00Z\"") : LIT(w, "\"1764547200\"");
		} else if (cls == B_TS_NEG) {
			w = put_i64(w, sub & 1 ? -1 : -t);
		} else if (cls == B_TS_BIG) {
			w = put_cs(w, tsbig[sub]);
		} else {
			w = put_i64(w, t);
		}
	}
	w = LIT(w, ",\"user_id\":");
	w = put_u64(w, below(r, 1000000));
	switch (cls) {
	case B_TRUNC:
		w = sub & 1 ? LIT(w, ",\"comment\":\"hello wor") : LIT(w, ",\"meta\":{\"a\":[1,2");
		break;
	case B_TRAILCOMMA:
		w = sub & 1 ? LIT(w, ",\"tags\":[\"a\",\"b\",]}") : LIT(w, ",}");
		break;
	case B_GARBAGE:
		w = sub & 1 ? LIT(w, "}}") : LIT(w, "} x");
		break;
	case B_UTF8:
		w = LIT(w, ",\"note\":\"caf");
		w = put_cs(w, badutf8[sub]);
		w = LIT(w, " ok\"}");
		break;
	case B_DUPKEY:
		w = LIT(w, ",\"event_name\":\"login\"}");
		break;
	case B_DEEP: /* 66..96 nested arrays inside the top-level object */
		w = LIT(w, ",\"deep\":");
		memset(w, '[', 66 + sub * 10);
		w += 66 + sub * 10;
		*w++ = '1';
		memset(w, ']', 66 + sub * 10);
		w += 66 + sub * 10;
		*w++ = '}';
		break;
	default:
		*w++ = '}';
	}
	*line = '{';
	*w++ = '\n';
	return w;
}

/* ---- driver ---- */

void kl_gen_opts_default(struct kl_gen_opts *o)
{
	memset(o, 0, sizeof *o);
	o->types = 100;
	o->seed = 1;
	o->start = 1764547200;
	o->span = 3600;
}

static int flush(int fd, const char *p, size_t n, struct kl_errbuf *eb)
{
	while (n) {
		ssize_t m = write(fd, p, n);
		if (m < 0 && errno == EINTR)
			continue;
		if (m <= 0)
			return kl_errbuf_set(eb, KL_EIO, "gen: write: %s",
					     m < 0 ? strerror(errno) : "wrote nothing");
		p += m;
		n -= (size_t)m;
	}
	return KL_OK;
}

struct ring_ent {
	struct rng st; /* PRNG state before the line: replaying it rewrites the same bytes */
	uint64_t k;
};

int kl_gen_write(const struct kl_gen_opts *o, int fd, struct kl_errbuf *eb)
{
	if (o->types < 1 || o->types > KL_GEN_MAX_TYPES)
		return kl_errbuf_set(eb, KL_EINVAL, "gen: types must be 1..%u", KL_GEN_MAX_TYPES);
	if (o->span < 1 || o->start < 0 || o->start > KL_GEN_MAX_TS - o->span)
		return kl_errbuf_set(eb, KL_EINVAL, "gen: need span >= 1 and 0 <= start, "
						    "start + span <= %lld", KL_GEN_MAX_TS);
	if (!(o->bad_fraction >= 0 && o->dup_fraction >= 0 &&
	      o->bad_fraction + o->dup_fraction <= 1))
		return kl_errbuf_set(eb, KL_EINVAL, "gen: fractions must be >= 0, sum <= 1");

	struct gen g = {.o = o};
	struct ring_ent *ring = NULL;
	int rc = KL_OK;
	g.cum = malloc(o->types * sizeof *g.cum);
	g.sch = malloc(o->types * sizeof *g.sch);
	g.out = malloc(OUT_CAP + LINE_MAX_B);
	if (o->dup_fraction > 0)
		ring = malloc(RING * sizeof *ring);
	if (!g.cum || !g.sch || !g.out || (o->dup_fraction > 0 && !ring)) {
		rc = kl_errbuf_set(eb, KL_ENOMEM, "gen: out of memory");
		goto out;
	}
	for (unsigned i = 0; i < o->types; i++) {
		g.cum[i] = (i ? g.cum[i - 1] : 0) + (1u << 22) / (i + 1); /* Zipf, s = 1 */
		build_schema(i, &g.sch[i]);
	}

	struct rng r;
	uint64_t x = o->seed, nbad = 0, nring = 0;
	for (int i = 0; i < 4; i++)
		r.s[i] = splitmix64(&x);
	char *w = g.out;
	for (uint64_t k = 0; k < o->events; k++) {
		double u = (double)(rnd(&r) >> 11) * 0x1p-53;
		int forced = k % 100 == 0 && k / 100 < o->types;
		if (!forced && u < o->bad_fraction) {
			w = bad_line(&g, &r, k, nbad++, w);
		} else if (!forced && u < o->bad_fraction + o->dup_fraction && nring) {
			struct ring_ent *e = &ring[below(&r, nring < RING ? nring : RING)];
			struct rng c = e->st;
			w = valid_line(&g, &c, e->k, w);
		} else {
			if (ring) {
				ring[nring % RING] = (struct ring_ent){r, k};
				nring++;
			}
			w = valid_line(&g, &r, k, w);
		}
		if (w - g.out >= OUT_CAP) {
			if ((rc = flush(fd, g.out, (size_t)(w - g.out), eb)))
				goto out;
			w = g.out;
		}
	}
	rc = flush(fd, g.out, (size_t)(w - g.out), eb);
out:
	free(g.cum);
	free(g.sch);
	free(g.out);
	free(ring);
	return rc;
}
