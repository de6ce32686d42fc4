/* test_json.c — parse/json: JSONTestSuite conformance (the validator and
 * the validating walk) plus member spans. */
#include "check.h"
#include "parse/json.h"
#include "parse/num.h"

#include <dirent.h>
#include <stdlib.h>

/* The container at p by kl_json_walk, to its close: nested containers
 * walked too (deep) or each checked whole (kl_json_walk_value). -> just
 * past the close, or NULL where the walk found the text is not JSON. */
static const char *walk(const char *p, const char *end, unsigned depth, unsigned max, int deep)
{
	struct kl_json_walk w;
	struct kl_json_member m;
	int r;
	if (kl_json_walk_open(&w, p, end, depth, max))
		return NULL;
	while ((r = kl_json_walk_next(&w, &m)) == 1) {
		if (deep && m.val < end && (*m.val == '{' || *m.val == '[')) {
			const char *after = walk(m.val, end, depth + 1, max, deep);
			if (!after)
				return NULL;
			kl_json_walk_skip(&w, after);
		} else if (kl_json_walk_value(&w, &m)) {
			return NULL;
		}
	}
	return r < 0 ? NULL : w.p;
}

/* 0 if the walk accepts the whole text (as kl_json_parse would) */
static int walk_text(const char *p, size_t n, unsigned max, int deep)
{
	const char *end = p + n, *q = p, *after;
	while (q < end && (*q == ' ' || *q == '\t' || *q == '\n' || *q == '\r'))
		q++;
	uint8_t t;
	if (q < end && (*q == '{' || *q == '['))
		after = walk(q, end, 1, max, deep);
	else
		after = kl_json_value_end(q, end, max, &t);
	return after && kl_json_walk_done(after, end) == 0 ? 0 : -1;
}

static void json_test_suite(void)
{
	char dir[1024];
	check_corpus(dir, sizeof dir, "JSONTestSuite/test_parsing");
	DIR *d = opendir(dir);
	CHECK(d != NULL);
	if (!d)
		return;
	int ny = 0, nn = 0, ni = 0;
	struct kl_json_doc doc;
	kl_json_doc_init(&doc);
	struct dirent *e;
	while ((e = readdir(d))) {
		char path[2048];
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		size_t n;
		char *p = check_slurp(path, &n);
		CHECK(p != NULL);
		if (!p)
			continue;
		struct kl_json_error err;
		int rc = kl_json_parse(p, n, 64, &doc, &err);
		int rc2 = kl_json_parse(p, n, 64, NULL, NULL);
		CHECK_EQ_INT(rc, rc2);
		/* the walk agrees, container by container and value by value */
		if ((rc == 0) != (walk_text(p, n, 64, 1) == 0) ||
		    (rc == 0) != (walk_text(p, n, 64, 0) == 0))
			fprintf(stderr, "walk and parse disagree on %s\n", e->d_name);
		CHECK_EQ_INT(rc == 0, walk_text(p, n, 64, 1) == 0);
		CHECK_EQ_INT(rc == 0, walk_text(p, n, 64, 0) == 0);
		if (e->d_name[0] == 'y') {
			ny++;
			if (rc)
				fprintf(stderr, "rejected %s: %s at %zu\n", e->d_name, err.msg, err.offset);
			CHECK(rc == 0);
		} else if (e->d_name[0] == 'n') {
			nn++;
			if (!rc)
				fprintf(stderr, "accepted %s\n", e->d_name);
			CHECK(rc != 0);
		} else {
			ni++; /* implementation-defined: must only not crash or leak */
		}
		free(p);
	}
	closedir(d);
	kl_json_doc_cleanup(&doc);
	CHECK_EQ_INT(ny, 95);
	CHECK_EQ_INT(nn, 188);
	CHECK_EQ_INT(ni, 35);
}

static void members(void)
{
	struct kl_json_doc doc;
	kl_json_doc_init(&doc);
	const char *t = " {\"a\" : 1, \"b\\n\":\"x\\\"y\", \"c\":[1, {\"d\":2}],\"e\":{},\"f\":-1.5e3,"
			"\"g\":null,\"h\":true,\"i\":false} ";
	CHECK_EQ_INT(kl_json_parse(t, strlen(t), 64, &doc, NULL), 0);
	CHECK_EQ_INT(doc.top, KL_JSON_OBJECT);
	CHECK_EQ_INT(doc.n, 8);
	if (doc.n == 8) {
		CHECK_EQ_MEM(doc.m[0].key, doc.m[0].key_len, "a");
		CHECK_EQ_MEM(doc.m[0].val, doc.m[0].val_len, "1");
		CHECK_EQ_INT(doc.m[0].type, KL_JSON_INT);
		CHECK_EQ_MEM(doc.m[1].key, doc.m[1].key_len, "b\\n");
		CHECK(doc.m[1].key_esc);
		CHECK_EQ_MEM(doc.m[1].val, doc.m[1].val_len, "\"x\\\"y\"");
		CHECK(doc.m[1].val_esc);
		CHECK_EQ_INT(doc.m[1].type, KL_JSON_STRING);
		CHECK_EQ_MEM(doc.m[2].val, doc.m[2].val_len, "[1, {\"d\":2}]");
		CHECK_EQ_INT(doc.m[2].type, KL_JSON_ARRAY);
		CHECK(doc.m[2].val_ws);
		CHECK_EQ_MEM(doc.m[3].val, doc.m[3].val_len, "{}");
		CHECK_EQ_INT(doc.m[3].type, KL_JSON_OBJECT);
		CHECK(!doc.m[3].val_ws);
		CHECK_EQ_INT(doc.m[4].type, KL_JSON_NUMBER);
		CHECK_EQ_INT(doc.m[5].type, KL_JSON_NULL);
		CHECK_EQ_INT(doc.m[6].type, KL_JSON_TRUE);
		CHECK_EQ_INT(doc.m[7].type, KL_JSON_FALSE);
		CHECK_EQ_MEM(doc.m[7].val, doc.m[7].val_len, "false");
		CHECK(doc.m[0].start == t + 2);
	}
	CHECK_EQ_INT(doc.ws, 1);
	/* doc.ws: whether the text has any insignificant whitespace */
	const char *compact = "{\"a\":\"x y\\n\",\"b\":[1,{\"c\":2}]}";
	CHECK_EQ_INT(kl_json_parse(compact, strlen(compact), 64, &doc, NULL), 0);
	CHECK_EQ_INT(doc.ws, 0);
	const char *ws_at[] = {" {\"a\":1}", "{\"a\":1}\n", "{\"a\" :1}", "{\"a\":[1,\n2]}",
			       "{\"a\":{\"b\":\t1}}", "{\"a\":1 }", "{\"a\":1,\r\"b\":2}"};
	for (size_t i = 0; i < sizeof ws_at / sizeof ws_at[0]; i++) {
		CHECK_EQ_INT(kl_json_parse(ws_at[i], strlen(ws_at[i]), 64, &doc, NULL), 0);
		CHECK_EQ_INT(doc.ws, 1);
	}
	/* many members force the array to grow */
	char big[20000];
	size_t o = 0;
	big[o++] = '{';
	for (int i = 0; i < 1000; i++)
		o += (size_t)sprintf(big + o, "%s\"k%d\":%d", i ? "," : "", i, i);
	big[o++] = '}';
	CHECK_EQ_INT(kl_json_parse(big, o, 64, &doc, NULL), 0);
	CHECK_EQ_INT(doc.n, 1000);
	kl_json_doc_cleanup(&doc);
}

static void limits_and_helpers(void)
{
	char deep[300];
	for (int i = 0; i < 150; i++)
		deep[i] = '[', deep[299 - i] = ']';
	struct kl_json_error err;
	CHECK_EQ_INT(kl_json_parse(deep, 300, 64, NULL, &err), KL_JSON_EDEPTH);
	CHECK_EQ_INT(err.offset, 64);
	CHECK_EQ_INT(kl_json_parse(deep, 300, 150, NULL, &err), 0);
	CHECK_EQ_INT(kl_json_parse(deep, 300, 149, NULL, &err), KL_JSON_EDEPTH);
	CHECK_EQ_INT(kl_json_parse("{\"a\":\"\xff\"}", 10, 64, NULL, &err), KL_JSON_EUTF8);
	CHECK_EQ_INT(kl_json_parse("\"\\ud800\"", 8, 64, NULL, &err), KL_JSON_EUTF8);
	CHECK_EQ_INT(kl_json_parse("\"\\ud83d\\ude00\"", 14, 64, NULL, &err), 0);
	CHECK_EQ_INT(kl_json_parse("\xef\xbb\xbf{}", 5, 64, NULL, &err), KL_JSON_ESYNTAX);
	CHECK_EQ_INT(kl_json_parse("", 0, 64, NULL, &err), KL_JSON_ESYNTAX);

	char out[64];
	const char *esc = "a\\n\\u00e9\\ud83d\\ude00\\\"\\/z";
	size_t n = kl_json_unescape(esc, strlen(esc), out);
	CHECK_EQ_MEM(out, n, "a\n\xc3\xa9\xf0\x9f\x98\x80\"/z");
	const char *v = "[ 1 , { \"a b\" : \"x \\\" y\" } ]";
	n = kl_json_minify(v, strlen(v), out);
	CHECK_EQ_MEM(out, n, "[1,{\"a b\":\"x \\\" y\"}]");
}

static void iteration(void)
{
	const char *t = "{\"Records\":[{\"Data\":\"eyJ9\",\"SequenceNumber\":\"495\"}, {\"Data\":\"\\\"x\",\"n\":[1,{\"a\":\"]\"}]}],"
			"\"NextShardIterator\":null, \"MillisBehindLatest\" : -1.5e3}";
	CHECK_EQ_INT(kl_json_parse(t, strlen(t), 64, NULL, NULL), 0);
	struct kl_json_member m, r, f;
	CHECK(kl_json_object_get(t, strlen(t), "MillisBehindLatest", &m));
	CHECK_EQ_MEM(m.val, m.val_len, "-1.5e3");
	CHECK_EQ_INT(m.type, KL_JSON_NUMBER);
	CHECK(kl_json_object_get(t, strlen(t), "NextShardIterator", &m));
	CHECK_EQ_INT(m.type, KL_JSON_NULL);
	CHECK(!kl_json_object_get(t, strlen(t), "Nope", &m));
	CHECK(kl_json_object_get(t, strlen(t), "Records", &m));
	struct kl_json_iter it;
	kl_json_iter_init(&it, m.val, m.val_len);
	int n = 0;
	while (kl_json_iter_next(&it, &r)) {
		CHECK_EQ_INT(r.type, KL_JSON_OBJECT);
		CHECK(kl_json_object_get(r.val, r.val_len, "Data", &f));
		if (n == 0)
			CHECK_EQ_MEM(f.val, f.val_len, "\"eyJ9\"");
		else
			CHECK(f.val_esc);
		n++;
	}
	CHECK_EQ_INT(n, 2);
	kl_json_iter_init(&it, "[]", 2);
	CHECK(!kl_json_iter_next(&it, &r));
}

/* kl_json_split_valid() gives what kl_json_parse() gives on valid text */
static void split_valid(void)
{
	const char *texts[] = {
		"{\"a\":1,\"b\":-2.5e3,\"c\":\"x\\\"y\",\"d\":{ \"e\": [1, 2] },\"f\":[],"
		"\"g\":true,\"h\":false,\"i\":null,\"k\\u0041\":\"0123456789abcdef0123\\\\\"}",
		" { \"long\" : \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		"aaaaaaaaaaaaaaaaaaaaaaa\\n\" , \"n\" : -0 , \"o\":{\"p\":\"}\"}} ",
		"{}", "[1,2]", "\"s\"", "12",
	};
	struct kl_json_doc a, b;
	kl_json_doc_init(&a);
	kl_json_doc_init(&b);
	for (size_t t = 0; t < sizeof texts / sizeof *texts; t++) {
		size_t n = strlen(texts[t]);
		CHECK_EQ_INT(kl_json_parse(texts[t], n, 64, &a, NULL), 0);
		CHECK_EQ_INT(kl_json_split_valid(texts[t], n, &b), 0);
		CHECK_EQ_INT(a.top == KL_JSON_OBJECT, b.top == KL_JSON_OBJECT);
		if (a.top != KL_JSON_OBJECT)
			continue;
		CHECK_EQ_INT(b.n, a.n);
		for (size_t i = 0; i < a.n && i < b.n; i++) {
			const struct kl_json_member *x = &a.m[i], *y = &b.m[i];
			CHECK(x->key == y->key && x->key_len == y->key_len && x->val == y->val &&
			      x->val_len == y->val_len && x->type == y->type &&
			      x->key_esc == y->key_esc && x->val_esc == y->val_esc &&
			      x->val_ws == y->val_ws);
		}
	}
	kl_json_doc_cleanup(&a);
	kl_json_doc_cleanup(&b);
	/* scalar texts have no members (this once looped forever: found by fuzz_lambda) */
	const char *scalars[] = {"\"i5{\"", "12", "true", "null", "\"{\\\"a\\\":1}\""};
	for (size_t t = 0; t < sizeof scalars / sizeof *scalars; t++) {
		struct kl_json_member m;
		struct kl_json_iter it;
		kl_json_iter_init(&it, scalars[t], strlen(scalars[t]));
		CHECK(!kl_json_iter_next(&it, &m));
		CHECK(!kl_json_object_get(scalars[t], strlen(scalars[t]), "a", &m));
	}
}

/* parse/num.h: the fast paths take the common shapes, give strtod's bits,
 * and decline what they cannot do exactly. */
static void numbers(void)
{
	const char *fast[] = {"0", "-0", "-0.0", "3.14159", "-8671.5248", "2.5E-3", "1e22",
			      "0.1", "9007199254740992", "123456.123456789", "1E+2"};
	for (size_t i = 0; i < sizeof fast / sizeof *fast; i++) {
		double d = 0, want = strtod(fast[i], NULL);
		CHECK(kl_num_double_fast(fast[i], strlen(fast[i]), &d));
		CHECK(memcmp(&d, &want, sizeof d) == 0);
	}
	/* beyond 2^53, more than 19 digits, a power of ten beyond 22, not a number */
	const char *slow[] = {"9007199254740993", "123456789.123456789", "12345678901234567890", "1e23", "1e-23",
			      "0.00000000000000000000001", "", "-", "1.", "1e", "1x"};
	for (size_t i = 0; i < sizeof slow / sizeof *slow; i++) {
		double d;
		CHECK(!kl_num_double_fast(slow[i], strlen(slow[i]), &d));
	}
	int64_t v;
	CHECK(kl_num_i64_fast("-123456789012345678", 19, &v) && v == -123456789012345678LL);
	CHECK(kl_num_i64_fast("0", 1, &v) && v == 0);
	CHECK(kl_num_i64_fast("9223372036854775807", 19, &v) && v == INT64_MAX);
	CHECK(kl_num_i64_fast("-9223372036854775808", 20, &v) && v == INT64_MIN);
	CHECK(!kl_num_i64_fast("9223372036854775808", 19, &v)); /* ERANGE: strtoll's */
	CHECK(!kl_num_i64_fast("-9223372036854775809", 20, &v));
	CHECK(!kl_num_i64_fast("12345678901234567890", 20, &v));
	CHECK(!kl_num_i64_fast("1.5", 3, &v));
	CHECK(!kl_num_i64_fast("-", 1, &v));
}

/* Digit runs of every length around the validator's eight-byte steps:
 * a number's span ends at its last digit whatever follows (',', '}', the
 * input's end), and a letter, a second '.' or a byte of 0x80 or more right
 * after the digits is rejected where it stands. */
static void digit_runs(void)
{
	char t[128], d[40];
	struct kl_json_doc doc;
	struct kl_json_error err;
	kl_json_doc_init(&doc);
	for (int n = 1; n <= 26; n++) {
		for (int k = 0; k < n; k++)
			d[k] = (char)('1' + (k * 7) % 9);
		d[n] = 0;
		for (int frac = 0; frac <= 17; frac += 17 - 8 * (frac > 0)) {
			int m = snprintf(t, sizeof t, "{\"a\":%s%s%.*s,\"b\":1}", d, frac ? "." : "",
					 frac, "98765432109876543");
			CHECK_EQ_INT(kl_json_parse(t, (size_t)m, 64, &doc, NULL), 0);
			CHECK_EQ_INT(doc.n, 2);
			CHECK_EQ_INT(doc.m[0].val_len, (size_t)(n + (frac ? frac + 1 : 0)));
			CHECK_EQ_INT(doc.m[0].type, frac ? KL_JSON_NUMBER : KL_JSON_INT);
			m = snprintf(t, sizeof t, "%s%s%.*s", d, frac ? "." : "", frac, "98765432109876543");
			CHECK_EQ_INT(kl_json_parse(t, (size_t)m, 64, &doc, NULL), 0); /* at the end */
			const char *bad[] = {"x", ".", "\x80", "\xff", "/"};
			for (size_t b = 0; b < sizeof bad / sizeof *bad; b++) {
				if (!frac && bad[b][0] == '.')
					continue; /* "1.1" is a number */
				if (bad[b][0] == '.')
					m = snprintf(t, sizeof t, "[%s.%.*s.1]", d, frac, "98765432109876543");
				else
					m = snprintf(t, sizeof t, "[%s%s%.*s%s1]", d, frac ? "." : "", frac,
						     "98765432109876543", bad[b]);
				CHECK(kl_json_parse(t, (size_t)m, 64, NULL, &err) != 0);
				CHECK_EQ_INT(err.offset, (size_t)(1 + n + (frac ? frac + 1 : 0)));
			}
		}
	}
	kl_json_doc_cleanup(&doc);
}

/* The walk's own cases: depth, where a value must be read first, spans. */
static void walk_cases(void)
{
	char deep[200];
	for (unsigned d = 62; d <= 66; d++) { /* d nested arrays, limit 64 */
		memset(deep, '[', d);
		memset(deep + d, ']', d);
		for (int how = 0; how < 2; how++)
			CHECK_EQ_INT(walk_text(deep, 2 * d, 64, how) == 0,
				     kl_json_parse(deep, 2 * d, 64, NULL, NULL) == 0);
	}
	const char *bad[] = {"{\"a\":1,}", "[1,]", "{\"a\" 1}", "{\"a\":tru}", "[1 2]",
			     "{\"a\":\"x}", "{1:2}", "[\"\\q\"]", "{\"a\":[1}", "[-]", "{}x"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		CHECK(kl_json_parse(bad[i], strlen(bad[i]), 64, NULL, NULL) != 0);
		CHECK(walk_text(bad[i], strlen(bad[i]), 64, 1) != 0);
		CHECK(walk_text(bad[i], strlen(bad[i]), 64, 0) != 0);
	}
	const char *t = " { \"k\\u0041\" : [1, {\"x\":\"y\"}] , \"n\":-1.5e3 } ";
	struct kl_json_walk w;
	struct kl_json_member m;
	CHECK(kl_json_walk_open(&w, t, t + strlen(t), 1, 64) == 0 && w.object);
	CHECK(kl_json_walk_value(&w, &m) != 0); /* no key read yet */
	CHECK_EQ_INT(kl_json_walk_next(&w, &m), 1);
	CHECK(m.key_len == 7 && m.key_esc && !memcmp(m.key, "k\\u0041", 7));
	CHECK_EQ_INT(kl_json_walk_next(&w, &m), -1); /* its value first */
	CHECK(kl_json_walk_value(&w, &m) == 0);
	const char *arr = "[1, {\"x\":\"y\"}]";
	CHECK(m.type == KL_JSON_ARRAY && m.val_len == strlen(arr) && !memcmp(m.val, arr, strlen(arr)));
	CHECK_EQ_INT(kl_json_walk_next(&w, &m), 1);
	CHECK(kl_json_key_is(&m, "n", 1));
	CHECK(kl_json_walk_value(&w, &m) == 0);
	CHECK(m.type == KL_JSON_NUMBER && m.val_len == 6);
	CHECK_EQ_INT(kl_json_walk_next(&w, &m), 0);
	CHECK(kl_json_walk_done(w.p, t + strlen(t)) == 0);
	/* a value at the depth limit: an object in an object with a limit of 1 */
	const char *nest = "{\"a\":{}}";
	CHECK(kl_json_walk_open(&w, nest, nest + 8, 1, 1) == 0);
	CHECK_EQ_INT(kl_json_walk_next(&w, &m), 1);
	CHECK(kl_json_walk_value(&w, &m) != 0);
	CHECK(kl_json_parse(nest, 8, 1, NULL, NULL) != 0);
}

/* A byte order mark is rejected (RFC 8259 allows either), and named */
static void byte_order_mark(void)
{
	struct kl_json_error err;
	const char bom[] = "\xef\xbb\xbf{\"a\":1}";
	CHECK_EQ_INT(kl_json_parse(bom, strlen(bom), 64, NULL, &err) != 0, 1);
	CHECK_EQ_INT(err.offset, 0);
	CHECK_EQ_STR(err.msg, "byte order mark (U+FEFF) before the JSON text");
	const char later[] = "[\xef\xbb\xbf]"; /* elsewhere it is just a bad character */
	CHECK_EQ_INT(kl_json_parse(later, strlen(later), 64, NULL, &err) != 0, 1);
	CHECK_EQ_STR(err.msg, "unexpected character");
}

int main(void)
{
	byte_order_mark();
	numbers();
	digit_runs();
	json_test_suite();
	walk_cases();
	iteration();
	members();
	limits_and_helpers();
	split_valid();
	return check_report("test_json");
}
