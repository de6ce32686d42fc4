/* test_kpl.c — decode/kpl: the kpl-aggregation corpus (vectors.json, bin/,
 * the Lambda event), aggregated records built here (unknown fields, tags,
 * groups, shared keys), malformed protobuf passed through whole, truncations
 * and bit flips, and array reuse.
 *
 *   test_kpl                   run the tests
 *   test_kpl --decode FILE...  print each file's user records as JSON lines
 *                              {"file","agg","i","pk","ehk","data"} (keys and
 *                              data in base64, null when absent), for
 *                              tests/e2e/kpl_agg.sh */
#include "check.h"
#include "core/base64.h"
#include "core/buf.h"
#include "decode/kpl.h"
#include "parse/json.h"

#include <dirent.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <stdlib.h>

/* path of `rel` inside the kpl-aggregation corpus */
static char *corpus(char *out, size_t n, const char *rel)
{
	char sub[512];
	snprintf(sub, sizeof sub, "kpl-aggregation/%s", rel);
	return check_corpus(out, n, sub);
}

/* ---- invariants shared by every decode ---------------------------------- */

static int inside(const void *s, size_t n, const uint8_t *p, size_t len)
{
	const uint8_t *b = s;
	if (n == 0)
		return 1;
	return b >= p && b <= p + len && n <= (size_t)(p + len - b);
}

/* Decode and check what must hold for any input. Returns the count. */
static size_t decode_checked(struct kl_kpl *k, const uint8_t *p, size_t n,
			     const struct kl_kpl_record **out, int *agg, const char **why)
{
	size_t count = 99;
	int rc = kl_kpl_decode(k, p, n, out, &count, agg, why);
	CHECK_EQ_INT(rc, 0);
	if (rc)
		return 0;
	if (!*agg) {
		CHECK(*why != NULL);
		CHECK_EQ_INT(count, 1);
		CHECK((*out)[0].data == p && (*out)[0].len == n);
		CHECK((*out)[0].partition_key == NULL && (*out)[0].explicit_hash_key == NULL);
		CHECK_EQ_INT((*out)[0].sub_index, 0);
		return count;
	}
	CHECK(*why == NULL);
	CHECK(n >= 20 && memcmp(p, KL_KPL_MAGIC, 4) == 0);
	for (size_t i = 0; i < count; i++) {
		const struct kl_kpl_record *r = &(*out)[i];
		CHECK(inside(r->data, r->len, p + 4, n - 20));
		CHECK(r->partition_key && inside(r->partition_key, r->pk_len, p + 4, n - 20));
		CHECK(!r->explicit_hash_key ||
		      inside(r->explicit_hash_key, r->ehk_len, p + 4, n - 20));
		CHECK(r->explicit_hash_key || r->ehk_len == 0);
		CHECK_EQ_INT(r->sub_index, i);
	}
	return count;
}

/* ---- a tiny JSON walker over texts that kl_json_parse accepted ---------- */

/* End of the JSON value that starts at p (NUL-terminated, valid JSON). */
static const char *jskip(const char *p)
{
	int depth = 0;
	do {
		if (*p == '"') {
			for (p++; *p != '"'; p++)
				if (*p == '\\')
					p++;
			p++;
		} else if (*p == '[' || *p == '{') {
			depth++, p++;
		} else if (*p == ']' || *p == '}') {
			depth--, p++;
		} else if (depth == 0) {
			while (*p && !strchr(",]} \t\r\n", *p))
				p++;
		} else {
			p++;
		}
	} while (depth > 0);
	return p;
}

static const char *jws(const char *p)
{
	while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
		p++;
	return p;
}

/* Iterate an array value: *it starts at the '['; returns the next element's
 * span, or 0 at the end. */
static int jnext(const char **it, const char **v, size_t *n)
{
	const char *p = *it;
	if (*p == '[' || *p == ',')
		p = jws(p + 1);
	if (*p == ']' || *p == 0)
		return 0;
	*v = p;
	const char *e = jskip(p);
	*n = (size_t)(e - p);
	*it = jws(e);
	return 1;
}

static const struct kl_json_member *jget(const struct kl_json_doc *d, const char *key)
{
	for (size_t i = 0; i < d->n; i++)
		if (kl_json_key_is(&d->m[i], key, strlen(key)))
			return &d->m[i];
	return NULL;
}

/* Decoded string value (malloc'd, NUL-terminated), or NULL for null/missing. */
static char *jstr(const struct kl_json_doc *d, const char *key)
{
	const struct kl_json_member *m = jget(d, key);
	if (!m || m->type != KL_JSON_STRING)
		return NULL;
	char *s = malloc(m->val_len);
	s[kl_json_unescape(m->val + 1, m->val_len - 2, s)] = 0;
	return s;
}

static long jint(const struct kl_json_doc *d, const char *key)
{
	const struct kl_json_member *m = jget(d, key);
	return m && m->type == KL_JSON_INT ? strtol(m->val, NULL, 10) : -1;
}

static uint8_t *b64(const char *s, size_t *n)
{
	size_t len = strlen(s);
	uint8_t *out = malloc(kl_base64_decoded_max(len));
	long r = kl_base64_decode(s, len, out);
	CHECK(r >= 0);
	*n = r < 0 ? 0 : (size_t)r;
	return out;
}

/* ---- the corpus ------------------------------------------------------------ */

static const char *expected_reason(const char *name)
{
	static const char *const map[][2] = {
	    {"not-aggregated-plain", "not aggregated"},
	    {"sam-kinesis-analytics-kpl-plain", "not aggregated"},
	    {"derived-bad-magic", "not aggregated"},
	    {"derived-tiny", "not aggregated"},
	    {"derived-too-short", "truncated"},
	    {"derived-magic-only", "truncated"},
	    {"derived-md5-mismatch", "md5 mismatch"},
	    {"derived-md5-bitflip", "md5 mismatch"},
	};
	for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
		if (!strcmp(map[i][0], name))
			return map[i][1];
	return NULL;
}

/* Compare one decoded record with an expected_records[] element. */
static void check_expected(const struct kl_kpl_record *r, int agg, const char *outer_pk,
			   const char *rec, size_t rec_len)
{
	struct kl_json_doc d;
	kl_json_doc_init(&d);
	CHECK_EQ_INT(kl_json_parse(rec, rec_len, 64, &d, NULL), 0);
	char *pk = jstr(&d, "partitionKey"), *ehk = jstr(&d, "explicitHashKey");
	char *data = jstr(&d, "data_base64");
	CHECK_EQ_INT(r->sub_index, jint(&d, "index"));
	size_t n = 0;
	uint8_t *want = b64(data ? data : "", &n);
	CHECK(r->len == n && (n == 0 || memcmp(r->data, want, n) == 0));
	if (agg) {
		CHECK(pk && r->partition_key);
		if (pk && r->partition_key)
			CHECK_EQ_MEM(r->partition_key, r->pk_len, pk);
	} else {
		CHECK(r->partition_key == NULL); /* the caller keeps the outer key */
		CHECK_EQ_STR(pk, outer_pk);
	}
	if (ehk) {
		CHECK(r->explicit_hash_key != NULL);
		if (r->explicit_hash_key)
			CHECK_EQ_MEM(r->explicit_hash_key, r->ehk_len, ehk);
	} else {
		CHECK(r->explicit_hash_key == NULL);
	}
	free(want);
	free(pk);
	free(ehk);
	free(data);
	kl_json_doc_cleanup(&d);
}

static void vectors(void)
{
	char path[2048];
	size_t tn;
	char *text = check_slurp(corpus(path, sizeof path, "vectors.json"), &tn);
	CHECK(text != NULL);
	if (!text)
		return;
	struct kl_json_doc top, c;
	kl_json_doc_init(&top);
	kl_json_doc_init(&c);
	CHECK_EQ_INT(kl_json_parse(text, tn, 64, &top, NULL), 0);
	const struct kl_json_member *cases = jget(&top, "cases");
	CHECK(cases && cases->type == KL_JSON_ARRAY);
	if (!cases)
		return;
	struct kl_kpl k;
	kl_kpl_init(&k);
	int ncases = 0, nagg = 0, npass = 0, nuser = 0, nbin = 0;
	const char *it = cases->val, *cv;
	size_t cn;
	while (jnext(&it, &cv, &cn)) {
		ncases++;
		CHECK_EQ_INT(kl_json_parse(cv, cn, 64, &c, NULL), 0);
		char *name = jstr(&c, "name"), *in64 = jstr(&c, "input_base64");
		char *file = jstr(&c, "input_file"), *outer = jstr(&c, "outer_partition_key");
		const struct kl_json_member *isagg = jget(&c, "is_aggregated");
		const struct kl_json_member *exp = jget(&c, "expected_records");
		CHECK(name && in64 && file && outer && isagg && exp);
		if (!(name && in64 && file && outer && isagg && exp))
			continue;
		int want_agg = isagg->type == KL_JSON_TRUE;
		size_t n, fn = 0;
		uint8_t *in = b64(in64, &n);
		CHECK_EQ_INT(n, jint(&c, "input_length"));

		/* bin/ holds the same bytes */
		char *fb = check_slurp(corpus(path, sizeof path, file), &fn);
		CHECK(fb != NULL);
		if (fb) {
			nbin++;
			CHECK(fn == n && memcmp(fb, in, n) == 0);
		}

		const struct kl_kpl_record *out;
		int agg = -1;
		const char *why = NULL;
		size_t count = decode_checked(&k, in, n, &out, &agg, &why);
		if (agg != want_agg)
			fprintf(stderr, "%s: aggregated %d (%s)\n", name, agg, why ? why : "");
		CHECK_EQ_INT(agg, want_agg);
		CHECK_EQ_INT(count, jint(&c, "expected_record_count"));
		if (!want_agg)
			CHECK_EQ_STR(why, expected_reason(name));
		want_agg ? nagg++ : npass++;

		const char *rit = exp->val, *rv;
		size_t rn, i = 0;
		while (jnext(&rit, &rv, &rn)) {
			CHECK(i < count);
			if (i < count)
				check_expected(&out[i], agg, outer, rv, rn);
			i++;
			nuser++;
		}
		CHECK_EQ_INT(i, count);

		/* the bytes read from bin/ decode the same (other addresses) */
		if (fb && fn == n) {
			const struct kl_kpl_record *o2;
			size_t c2 = decode_checked(&k, (const uint8_t *)fb, fn, &o2, &agg, &why);
			CHECK_EQ_INT(c2, count);
			CHECK_EQ_INT(agg, want_agg);
		}
		free(fb);
		free(in);
		free(name);
		free(in64);
		free(file);
		free(outer);
	}
	CHECK_EQ_INT(ncases, 13);
	CHECK_EQ_INT(nagg, 5);
	CHECK_EQ_INT(npass, 8);
	CHECK_EQ_INT(nuser, 4 + 8 + 4 + 100 + 2 + 8);
	CHECK_EQ_INT(nbin, 13);
	fprintf(stderr, "vectors: %d cases (%d aggregated, %d passed through), %d user records\n",
		ncases, nagg, npass, nuser);

	/* every file in bin/ is a case */
	DIR *dir = opendir(corpus(path, sizeof path, "bin"));
	CHECK(dir != NULL);
	int files = 0;
	for (struct dirent *e; dir && (e = readdir(dir));)
		files += e->d_name[0] != '.';
	if (dir)
		closedir(dir);
	CHECK_EQ_INT(files, 13);

	kl_kpl_cleanup(&k);
	kl_json_doc_cleanup(&c);
	kl_json_doc_cleanup(&top);
	free(text);
}

/* events/: a Kinesis->Lambda event whose one record is aggregated. */
static void lambda_event(void)
{
	char path[2048];
	size_t tn, bn = 0;
	char *text =
	    check_slurp(corpus(path, sizeof path, "events/kinesis-event-kpl-aggregated.json"), &tn);
	char *bin = check_slurp(corpus(path, sizeof path, "bin/aggregated-100-records.bin"), &bn);
	CHECK(text && bin);
	if (!text || !bin)
		return;
	struct kl_json_doc top, rec, kin;
	kl_json_doc_init(&top);
	kl_json_doc_init(&rec);
	kl_json_doc_init(&kin);
	CHECK_EQ_INT(kl_json_parse(text, tn, 64, &top, NULL), 0);
	const struct kl_json_member *records = jget(&top, "Records");
	CHECK(records && records->type == KL_JSON_ARRAY);
	const char *it = records->val, *v;
	size_t vn;
	int nrec = 0;
	struct kl_kpl k;
	kl_kpl_init(&k);
	while (records && jnext(&it, &v, &vn)) {
		nrec++;
		CHECK_EQ_INT(kl_json_parse(v, vn, 64, &rec, NULL), 0);
		const struct kl_json_member *km = jget(&rec, "kinesis");
		CHECK(km && km->type == KL_JSON_OBJECT);
		if (!km)
			continue;
		CHECK_EQ_INT(kl_json_parse(km->val, km->val_len, 64, &kin, NULL), 0);
		char *data = jstr(&kin, "data"), *pk = jstr(&kin, "partitionKey");
		CHECK_EQ_STR(pk, "partitionKey-03");
		size_t n;
		uint8_t *in = b64(data ? data : "", &n);
		CHECK(n == bn && memcmp(in, bin, n) == 0);
		const struct kl_kpl_record *out;
		int agg;
		const char *why;
		size_t count = decode_checked(&k, in, n, &out, &agg, &why);
		CHECK_EQ_INT(agg, 1);
		CHECK_EQ_INT(count, 100);
		for (size_t i = 0; i < count; i++) {
			CHECK_EQ_MEM(out[i].partition_key, out[i].pk_len, "abc");
			CHECK_EQ_MEM(out[i].explicit_hash_key, out[i].ehk_len,
				     "191415658344158766168031473277922803570");
			CHECK_EQ_MEM(out[i].data, out[i].len,
				     i % 2 ? "zyxwvutsrqponmlkjihgfedcba"
					   : "abcdefghijklmnopqrstuvwxyz");
		}
		free(in);
		free(data);
		free(pk);
	}
	CHECK_EQ_INT(nrec, 1);
	kl_kpl_cleanup(&k);
	kl_json_doc_cleanup(&kin);
	kl_json_doc_cleanup(&rec);
	kl_json_doc_cleanup(&top);
	free(text);
	free(bin);
}

/* ---- a protobuf writer, to build aggregated records here ----------------- */

enum { VARINT = 0, I64 = 1, LEN = 2, SGROUP = 3, EGROUP = 4, I32 = 5 };

static void w_raw(struct kl_buf *b, const void *p, size_t n)
{
	CHECK_EQ_INT(kl_buf_append(b, p, n), 0);
}

static void w_varint(struct kl_buf *b, uint64_t v)
{
	do {
		uint8_t c = (uint8_t)(v & 0x7f) | (v > 0x7f ? 0x80 : 0);
		w_raw(b, &c, 1);
		v >>= 7;
	} while (v);
}

static void w_tag(struct kl_buf *b, uint32_t field, unsigned wt)
{
	w_varint(b, (uint64_t)field << 3 | wt);
}

static void w_bytes(struct kl_buf *b, uint32_t field, const void *p, size_t n)
{
	w_tag(b, field, LEN);
	w_varint(b, n);
	if (n)
		w_raw(b, p, n);
}

static void w_str(struct kl_buf *b, uint32_t field, const char *s)
{
	w_bytes(b, field, s, strlen(s));
}

static void w_uint(struct kl_buf *b, uint32_t field, uint64_t v)
{
	w_tag(b, field, VARINT);
	w_varint(b, v);
}

/* Append sub as a length-delimited field and empty it. */
static void w_msg(struct kl_buf *b, uint32_t field, struct kl_buf *sub)
{
	w_bytes(b, field, sub->data, sub->len);
	kl_buf_reset(sub);
}

/* magic || body || MD5(body) */
static void wrap(struct kl_buf *out, const struct kl_buf *body)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	kl_buf_reset(out);
	w_raw(out, KL_KPL_MAGIC, 4);
	if (body->len)
		w_raw(out, body->data, body->len);
	CHECK(EVP_Digest(body->len ? body->data : "", body->len, md, &mdlen, EVP_md5(), NULL));
	CHECK_EQ_INT(mdlen, 16);
	w_raw(out, md, 16);
}

/* The body of a record that exercises every skipping rule; see built(). */
static void build_rich(struct kl_buf *b)
{
	struct kl_buf r, t;
	kl_buf_init(&r, 0);
	kl_buf_init(&t, 0);
	kl_buf_reset(b);

	/* Record 0 comes before the key tables */
	w_uint(&r, 9, 5); /* unknown varint */
	w_uint(&r, 1, 0);
	w_str(&r, 3, "hello");
	w_str(&t, 1, "tag-key");
	w_str(&t, 2, "tag-value");
	w_tag(&t, 7, I32);
	w_raw(&t, "\1\2\3\4", 4);
	w_msg(&r, 4, &t);
	w_uint(&r, 2, 0);
	w_tag(&r, 10, SGROUP); /* unknown group with a nested group */
	w_uint(&r, 1, 1);
	w_tag(&r, 11, SGROUP);
	w_tag(&r, 3, I64);
	w_raw(&r, "12345678", 8);
	w_str(&r, 4, "in a group");
	w_tag(&r, 11, EGROUP);
	w_tag(&r, 10, EGROUP);
	w_tag(&r, 3, VARINT); /* known number, other wire type: unknown */
	w_varint(&r, 77);
	w_msg(b, 3, &r);

	w_str(b, 1, "pk-a");
	/* unknown top-level fields of every wire type */
	w_tag(b, 5, I64);
	w_raw(b, "\xff\xff\xff\xff\xff\xff\xff\xff", 8);
	w_tag(b, 6, I32);
	w_raw(b, "\0\0\0\0", 4);
	w_str(b, 7, "junk");
	w_tag(b, 8, SGROUP);
	w_str(b, 1, "in group");
	w_tag(b, 8, EGROUP);
	w_uint(b, 4, 12);
	w_uint(b, 1, 3);	 /* table field as varint: unknown */
	w_uint(b, 3, 3);	 /* records field as varint: unknown */
	w_uint(b, 536870911, 1); /* the largest field number */
	w_str(b, 1, "\xd0\xba\xd0\xbb\xd1\x8e\xd1\x87-\xc3\xbc"); /* "ключ-ü" */
	w_str(b, 2, "12345");

	/* Record 1: empty data, two tags, no explicit hash key */
	w_uint(&r, 1, 1);
	w_bytes(&r, 3, "", 0);
	w_str(&t, 1, "a");
	w_msg(&r, 4, &t);
	w_str(&t, 1, "");
	w_msg(&r, 4, &t);
	w_msg(b, 3, &r);

	/* Record 2: repeated scalars, the last one wins */
	w_uint(&r, 1, 1);
	w_str(&r, 3, "x");
	w_uint(&r, 1, 0);
	w_str(&r, 3, "yz");
	w_uint(&r, 2, 0);
	w_msg(b, 3, &r);

	/* Record 3: a 10-byte (non-minimal) varint index; 300 binary bytes */
	uint8_t data[300];
	for (size_t i = 0; i < sizeof data; i++)
		data[i] = (uint8_t)(i * 7);
	w_tag(&r, 1, VARINT);
	w_raw(&r, "\x81\x80\x80\x80\x80\x80\x80\x80\x80\x00", 10);
	w_bytes(&r, 3, data, sizeof data);
	w_msg(b, 3, &r);

	kl_buf_cleanup(&r);
	kl_buf_cleanup(&t);
}

static void built(void)
{
	struct kl_buf body, in;
	kl_buf_init(&body, 0);
	kl_buf_init(&in, 0);
	struct kl_kpl k;
	kl_kpl_init(&k);
	const struct kl_kpl_record *out;
	int agg;
	const char *why;

	build_rich(&body);
	wrap(&in, &body);
	size_t count = decode_checked(&k, (uint8_t *)in.data, in.len, &out, &agg, &why);
	CHECK_EQ_INT(agg, 1);
	CHECK_EQ_INT(count, 4);
	if (count == 4) {
		const char *uk = "\xd0\xba\xd0\xbb\xd1\x8e\xd1\x87-\xc3\xbc";
		CHECK_EQ_MEM(out[0].data, out[0].len, "hello");
		CHECK_EQ_MEM(out[0].partition_key, out[0].pk_len, "pk-a");
		CHECK_EQ_MEM(out[0].explicit_hash_key, out[0].ehk_len, "12345");
		CHECK_EQ_INT(out[1].len, 0);
		CHECK_EQ_MEM(out[1].partition_key, out[1].pk_len, uk);
		CHECK(out[1].explicit_hash_key == NULL);
		CHECK_EQ_MEM(out[2].data, out[2].len, "yz");
		CHECK_EQ_MEM(out[2].partition_key, out[2].pk_len, "pk-a");
		CHECK_EQ_MEM(out[2].explicit_hash_key, out[2].ehk_len, "12345");
		CHECK_EQ_INT(out[3].len, 300);
		CHECK(out[3].len == 300 && out[3].data[299] == (uint8_t)(299 * 7));
		CHECK_EQ_MEM(out[3].partition_key, out[3].pk_len, uk);
	}

	/* empty message, and tables without records: aggregated, no user records */
	kl_buf_reset(&body);
	wrap(&in, &body);
	CHECK_EQ_INT(in.len, 20);
	count = decode_checked(&k, (uint8_t *)in.data, in.len, &out, &agg, &why);
	CHECK(agg == 1 && count == 0);
	w_str(&body, 1, "pk");
	w_str(&body, 2, "1");
	wrap(&in, &body);
	count = decode_checked(&k, (uint8_t *)in.data, in.len, &out, &agg, &why);
	CHECK(agg == 1 && count == 0);

	/* a valid body with a wrong MD5 */
	build_rich(&body);
	wrap(&in, &body);
	in.data[in.len - 1] ^= 1;
	count = decode_checked(&k, (uint8_t *)in.data, in.len, &out, &agg, &why);
	CHECK_EQ_INT(agg, 0);
	CHECK_EQ_STR(why, "md5 mismatch");

	/* NULL input, and NULL aggregated/reason pointers */
	size_t c = 5;
	CHECK_EQ_INT(kl_kpl_decode(&k, NULL, 0, &out, &c, NULL, NULL), 0);
	CHECK(c == 1 && out[0].data == NULL && out[0].len == 0);

	kl_kpl_cleanup(&k);
	kl_buf_cleanup(&body);
	kl_buf_cleanup(&in);
}

/* Shared keys across many records; the arrays are reused, not regrown. */
static void many(void)
{
	struct kl_buf body, r, in;
	kl_buf_init(&body, 0);
	kl_buf_init(&r, 0);
	kl_buf_init(&in, 0);
	for (int i = 0; i < 7; i++) {
		char s[32];
		snprintf(s, sizeof s, "pk%d", i);
		w_str(&body, 1, s);
		snprintf(s, sizeof s, "%d", i * 1000);
		w_str(&body, 2, s);
	}
	for (int i = 0; i < 5000; i++) {
		char s[32];
		snprintf(s, sizeof s, "record %d", i);
		w_uint(&r, 1, (uint64_t)(i % 7));
		if (i % 3)
			w_uint(&r, 2, (uint64_t)(i % 5));
		w_str(&r, 3, s);
		w_msg(&body, 3, &r);
	}
	wrap(&in, &body);
	struct kl_kpl k;
	kl_kpl_init(&k);
	const struct kl_kpl_record *out;
	int agg;
	const char *why;
	size_t count = decode_checked(&k, (uint8_t *)in.data, in.len, &out, &agg, &why);
	CHECK_EQ_INT(count, 5000);
	for (size_t i = 0; i < count; i++) {
		char s[32];
		snprintf(s, sizeof s, "record %zu", i);
		CHECK_EQ_MEM(out[i].data, out[i].len, s);
		snprintf(s, sizeof s, "pk%zu", i % 7);
		CHECK_EQ_MEM(out[i].partition_key, out[i].pk_len, s);
		if (i % 3) {
			snprintf(s, sizeof s, "%zu", i % 5 * 1000);
			CHECK(out[i].explicit_hash_key != NULL);
			if (out[i].explicit_hash_key)
				CHECK_EQ_MEM(out[i].explicit_hash_key, out[i].ehk_len, s);
		} else {
			CHECK(out[i].explicit_hash_key == NULL);
		}
	}
	struct kl_kpl_record *rec = k.rec;
	size_t cap = k.rec_cap, pkcap = k.pk_cap;
	void *ctx = k.md_ctx;
	for (int j = 0; j < 20; j++) {
		count = decode_checked(&k, (uint8_t *)in.data, in.len, &out, &agg, &why);
		CHECK_EQ_INT(count, 5000);
	}
	CHECK(k.rec == rec && k.rec_cap == cap && k.pk_cap == pkcap && k.md_ctx == ctx);
	kl_kpl_cleanup(&k);
	kl_buf_cleanup(&body);
	kl_buf_cleanup(&r);
	kl_buf_cleanup(&in);
}

/* ---- malformed protobuf, each with a correct MD5: passed through whole -- */

static void malformed(void)
{
	struct kl_buf b, r, t, in;
	kl_buf_init(&b, 0);
	kl_buf_init(&r, 0);
	kl_buf_init(&t, 0);
	kl_buf_init(&in, 0);
	struct kl_kpl k;
	kl_kpl_init(&k);
	int ncases = 0;

#define GOOD_RECORD() (w_str(&b, 1, "pk"), w_uint(&r, 1, 0), w_str(&r, 3, "d"), w_msg(&b, 3, &r))
#define EXPECT(want)                                                                               \
	do {                                                                                       \
		const struct kl_kpl_record *out_;                                                  \
		int agg_;                                                                          \
		const char *why_;                                                                  \
		wrap(&in, &b);                                                                     \
		decode_checked(&k, (uint8_t *)in.data, in.len, &out_, &agg_, &why_);               \
		if (want) {                                                                        \
			CHECK_EQ_INT(agg_, 0);                                                     \
			CHECK_EQ_STR(why_, (const char *)(want));                                  \
		} else {                                                                           \
			CHECK_EQ_INT(agg_, 1);                                                     \
		}                                                                                  \
		kl_buf_reset(&b);                                                                  \
		kl_buf_reset(&r);                                                                  \
		kl_buf_reset(&t);                                                                  \
		ncases++;                                                                          \
	} while (0)
	const char *bad = "bad protobuf", *missing = "missing required field";
	const char *range = "key index out of range";

	/* missing required fields */
	w_str(&b, 1, "pk");
	w_str(&r, 3, "d");
	w_msg(&b, 3, &r);
	EXPECT(missing); /* no partition_key_index */
	w_str(&b, 1, "pk");
	w_uint(&r, 1, 0);
	w_msg(&b, 3, &r);
	EXPECT(missing); /* no data */
	w_str(&b, 1, "pk");
	w_uint(&r, 1, 0);
	w_str(&r, 3, "d");
	w_str(&t, 2, "value only");
	w_msg(&r, 4, &t);
	w_msg(&b, 3, &r);
	EXPECT(missing); /* a Tag without key */
	w_str(&b, 1, "pk");
	w_uint(&r, 1, 0);
	w_uint(&r, 3, 1); /* data as a varint is an unknown field */
	w_msg(&b, 3, &r);
	EXPECT(missing);

	/* indexes out of range */
	w_str(&b, 1, "pk");
	w_uint(&r, 1, 1);
	w_str(&r, 3, "d");
	w_msg(&b, 3, &r);
	EXPECT(range);
	w_uint(&r, 1, 0);
	w_str(&r, 3, "d");
	w_msg(&b, 3, &r);
	EXPECT(range); /* no partition key table at all */
	w_str(&b, 1, "pk");
	w_uint(&r, 1, 0);
	w_uint(&r, 2, 0);
	w_str(&r, 3, "d");
	w_msg(&b, 3, &r);
	EXPECT(range); /* no explicit hash key table */
	w_str(&b, 1, "pk");
	w_uint(&r, 1, UINT64_MAX);
	w_str(&r, 3, "d");
	w_msg(&b, 3, &r);
	EXPECT(range);
	GOOD_RECORD();
	w_str(&b, 2, "1");
	w_uint(&r, 1, 0);
	w_uint(&r, 2, 1);
	w_str(&r, 3, "d");
	w_msg(&b, 3, &r);
	EXPECT(range); /* the second record is bad: all of it passes through */

	/* lengths past the end */
	GOOD_RECORD();
	w_tag(&b, 1, LEN);
	w_varint(&b, 5);
	w_raw(&b, "ab", 2);
	EXPECT(bad);
	w_tag(&b, 3, LEN);
	w_varint(&b, 1u << 31);
	EXPECT(bad);
	w_tag(&b, 3, LEN);
	w_varint(&b, UINT64_MAX);
	EXPECT(bad);
	/* a field inside a Record runs past the Record (not past the input) */
	w_str(&b, 1, "pk");
	w_uint(&r, 1, 0);
	w_tag(&r, 3, LEN);
	w_varint(&r, 4);
	w_msg(&b, 3, &r);
	w_str(&b, 7, "ddddd");
	EXPECT(bad);
	/* a field inside a Tag runs past the Tag */
	w_str(&b, 1, "pk");
	w_uint(&r, 1, 0);
	w_str(&r, 3, "d");
	w_tag(&t, 1, LEN);
	w_varint(&t, 3);
	w_msg(&r, 4, &t);
	w_str(&r, 5, "xyz");
	w_msg(&b, 3, &r);
	EXPECT(bad);
	GOOD_RECORD();
	w_tag(&b, 5, I64);
	w_raw(&b, "1234567", 7);
	EXPECT(bad);
	GOOD_RECORD();
	w_tag(&b, 5, I32);
	w_raw(&b, "123", 3);
	EXPECT(bad);

	/* varints */
	GOOD_RECORD();
	w_tag(&b, 9, VARINT);
	w_raw(&b, "\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x01", 11);
	EXPECT(bad); /* 11 bytes */
	GOOD_RECORD();
	w_tag(&b, 9, VARINT);
	w_raw(&b, "\xff\xff\xff\xff\xff\xff\xff\xff\xff\x02", 10);
	EXPECT(bad); /* more than 64 bits */
	GOOD_RECORD();
	w_tag(&b, 9, VARINT);
	w_raw(&b, "\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 10);
	EXPECT(NULL); /* UINT64_MAX is fine */
	GOOD_RECORD();
	w_tag(&b, 9, VARINT);
	w_raw(&b, "\x80", 1);
	EXPECT(bad); /* truncated */
	w_str(&b, 1, "pk");
	w_tag(&r, 1, VARINT);
	w_raw(&r, "\x80\x80", 2);
	w_msg(&b, 3, &r);
	EXPECT(bad); /* truncated inside a Record */

	/* tags */
	GOOD_RECORD();
	w_raw(&b, "\x02\x00", 2);
	EXPECT(bad); /* field number 0 */
	GOOD_RECORD();
	w_raw(&b, "\x0e", 1);
	EXPECT(bad); /* wire type 6 */
	GOOD_RECORD();
	w_raw(&b, "\x0f", 1);
	EXPECT(bad); /* wire type 7 */
	GOOD_RECORD();
	w_varint(&b, (uint64_t)1 << 32 | VARINT);
	w_varint(&b, 0);
	EXPECT(bad); /* tag wider than 32 bits */

	/* groups */
	GOOD_RECORD();
	w_tag(&b, 5, EGROUP);
	EXPECT(bad); /* end without start */
	GOOD_RECORD();
	w_tag(&b, 5, SGROUP);
	w_tag(&b, 6, EGROUP);
	EXPECT(bad); /* mismatched end */
	GOOD_RECORD();
	w_tag(&b, 5, SGROUP);
	w_uint(&b, 1, 1);
	EXPECT(bad); /* never closed */
	GOOD_RECORD();
	for (int i = 0; i < 64; i++)
		w_tag(&b, 5, SGROUP);
	for (int i = 0; i < 64; i++)
		w_tag(&b, 5, EGROUP);
	EXPECT(NULL); /* 64 deep is fine */
	GOOD_RECORD();
	for (int i = 0; i < 65; i++)
		w_tag(&b, 5, SGROUP);
	for (int i = 0; i < 65; i++)
		w_tag(&b, 5, EGROUP);
	EXPECT(bad);
	/* a group cannot span the end of a Record */
	w_str(&b, 1, "pk");
	w_uint(&r, 1, 0);
	w_str(&r, 3, "d");
	w_tag(&r, 5, SGROUP);
	w_msg(&b, 3, &r);
	w_tag(&b, 5, EGROUP);
	EXPECT(bad);
	/* a group with a field number 3 inside a Record is still skipped */
	w_str(&b, 1, "pk");
	w_uint(&r, 1, 0);
	w_str(&r, 3, "d");
	w_tag(&r, 3, SGROUP);
	w_str(&r, 3, "not data");
	w_tag(&r, 3, EGROUP);
	w_msg(&b, 3, &r);
	EXPECT(NULL);

#undef EXPECT
#undef GOOD_RECORD
	fprintf(stderr, "malformed: %d constructed cases\n", ncases);
	kl_kpl_cleanup(&k);
	kl_buf_cleanup(&b);
	kl_buf_cleanup(&r);
	kl_buf_cleanup(&t);
	kl_buf_cleanup(&in);
}

/* Every prefix of the rich body and single-byte damage everywhere, each
 * with a recomputed MD5: never out of bounds, never anything but a whole
 * pass-through or in-bounds records. */
static void damage(void)
{
	struct kl_buf body, cut, in;
	kl_buf_init(&body, 0);
	kl_buf_init(&cut, 0);
	kl_buf_init(&in, 0);
	struct kl_kpl k;
	kl_kpl_init(&k);
	const struct kl_kpl_record *out;
	int agg;
	const char *why;
	build_rich(&body);
	int runs = 0, passed = 0;
	for (size_t len = 0; len <= body.len; len++) {
		kl_buf_reset(&cut);
		w_raw(&cut, body.data, len);
		wrap(&in, &cut);
		/* a tight heap copy, so ASan sees any read past the end */
		uint8_t *p = malloc(in.len);
		memcpy(p, in.data, in.len);
		decode_checked(&k, p, in.len, &out, &agg, &why);
		passed += !agg;
		runs++;
		free(p);
	}
	static const uint8_t flips[] = {0x01, 0x02, 0x08, 0x80, 0x7f, 0xff};
	for (size_t i = 0; i < body.len; i++) {
		for (size_t f = 0; f < sizeof flips; f++) {
			kl_buf_reset(&cut);
			w_raw(&cut, body.data, body.len);
			cut.data[i] ^= (char)flips[f];
			wrap(&in, &cut);
			uint8_t *p = malloc(in.len);
			memcpy(p, in.data, in.len);
			decode_checked(&k, p, in.len, &out, &agg, &why);
			passed += !agg;
			runs++;
			free(p);
		}
	}
	CHECK(passed > 0 && passed < runs);
	fprintf(stderr, "damage: %d decodes, %d passed through\n", runs, passed);
	kl_kpl_cleanup(&k);
	kl_buf_cleanup(&body);
	kl_buf_cleanup(&cut);
	kl_buf_cleanup(&in);
}

/* ---- --decode FILE... ------------------------------------------------------ */

static void print_b64(struct kl_buf *tmp, const char *name, const void *p, size_t n, int present)
{
	if (!present) {
		printf(",\"%s\":null", name);
		return;
	}
	kl_buf_reset(tmp);
	if (kl_base64_encode(tmp, p, n))
		exit(1);
	printf(",\"%s\":\"%.*s\"", name, (int)tmp->len, tmp->data);
}

static int decode_files(int argc, char **argv)
{
	struct kl_kpl k;
	struct kl_buf tmp;
	kl_kpl_init(&k);
	kl_buf_init(&tmp, 0);
	for (int a = 0; a < argc; a++) {
		size_t n;
		char *p = check_slurp(argv[a], &n);
		if (!p) {
			fprintf(stderr, "cannot read %s\n", argv[a]);
			return 1;
		}
		const char *base = strrchr(argv[a], '/') ? strrchr(argv[a], '/') + 1 : argv[a];
		const struct kl_kpl_record *out;
		size_t count;
		int agg;
		const char *why;
		if (kl_kpl_decode(&k, (uint8_t *)p, n, &out, &count, &agg, &why)) {
			fprintf(stderr, "%s: decode failed\n", argv[a]);
			return 1;
		}
		if (!agg)
			fprintf(stderr, "%s: passed through: %s\n", base, why);
		for (size_t i = 0; i < count; i++) {
			const struct kl_kpl_record *r = &out[i];
			printf("{\"file\":\"%s\",\"agg\":%d,\"i\":%u", base, agg,
			       (unsigned)r->sub_index);
			print_b64(&tmp, "pk", r->partition_key, r->pk_len,
				  r->partition_key != NULL);
			print_b64(&tmp, "ehk", r->explicit_hash_key, r->ehk_len,
				  r->explicit_hash_key != NULL);
			print_b64(&tmp, "data", r->data, r->len, 1);
			printf("}\n");
		}
		free(p);
	}
	kl_buf_cleanup(&tmp);
	kl_kpl_cleanup(&k);
	return fflush(stdout) ? 1 : 0;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "--decode"))
		return decode_files(argc - 2, argv + 2);
	vectors();
	lambda_event();
	built();
	many();
	malformed();
	damage();
	return check_report("test_kpl");
}
