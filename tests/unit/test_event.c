/* test_event.c — event contract: validation classes and enrichment. */
#include "check.h"
#include "deadletter/deadletter.h"
#include "event/event.h"
#include "event/row.h"

#include <dirent.h>
#include <stdlib.h>

static struct kl_event ev;
static struct kl_event_limits lim;

static enum kl_reject parse(const char *s)
{
	return kl_event_parse(&ev, s, strlen(s), &lim);
}

/* The event in[0..n) (already parsed into ev) as a row and as a JSON
 * line: kl_row_split gives the members kl_json_split_valid gives for the
 * JSON line, byte for byte and flag for flag; json_len is the JSON line's
 * length; the row holds no newline and is told apart from the line. */
static void row_matches(const char *in, size_t n)
{
	struct kl_buf json, row;
	struct kl_json_doc a, b;
	kl_buf_init(&json, 0);
	kl_buf_init(&row, 0);
	kl_json_doc_init(&a);
	kl_json_doc_init(&b);
	uint64_t json_len = 0;
	CHECK_EQ_INT(kl_event_write_json(&ev, in, n, &json), 0);
	CHECK_EQ_INT(kl_buf_append(&row, "x", 1), 0); /* not at the buffer's start */
	CHECK_EQ_INT(kl_event_write_row(&ev, in, n, &row, &json_len), 0);
	const char *r = row.data + 1;
	size_t rn = row.len - 1;
	CHECK(rn <= kl_event_row_reserve(&ev, n));
	CHECK_EQ_INT(json_len, json.len);
	CHECK(kl_row_is(r, rn) && !kl_row_is(json.data, json.len));
	CHECK(memchr(r, '\n', rn) == NULL);
	CHECK(memchr(json.data, '\n', json.len) == NULL);
	CHECK_EQ_INT(kl_json_split_valid(json.data, json.len, &a), 0);
	CHECK_EQ_INT(kl_row_split(r, rn, &b), 0);
	CHECK_EQ_INT(b.top, KL_JSON_OBJECT);
	CHECK_EQ_INT(a.n, b.n);
	for (size_t i = 0; i < a.n && i < b.n; i++) {
		const struct kl_json_member *x = &a.m[i], *y = &b.m[i];
		CHECK(x->key_len == y->key_len && !memcmp(x->key, y->key, x->key_len));
		if (x->val_ws) { /* a row holds such a container minified */
			char *mv = malloc(x->val_len + 1);
			size_t mn = mv ? kl_json_minify(x->val, x->val_len, mv) : 0;
			CHECK(mv && y->val_len == mn && !memcmp(y->val, mv, mn));
			free(mv);
		} else {
			CHECK(x->val_len == y->val_len && !memcmp(x->val, y->val, x->val_len));
		}
		CHECK_EQ_INT(x->type, y->type);
		CHECK_EQ_INT(x->key_esc, y->key_esc);
		CHECK_EQ_INT(x->val_esc, y->val_esc);
		CHECK_EQ_INT(y->val_ws, 0);
	}
	/* cut short anywhere, a row is not read as a whole one past its end */
	for (size_t k = 1; k < rn; k += 7)
		if (kl_row_split(r, k, &b) == 0)
			CHECK(b.n < a.n || (b.n == a.n && b.m[b.n - 1].val + b.m[b.n - 1].val_len <=
								  r + k));
	kl_json_doc_cleanup(&a);
	kl_json_doc_cleanup(&b);
	kl_buf_cleanup(&json);
	kl_buf_cleanup(&row);
}

static void enriched(const char *in, const char *want)
{
	struct kl_buf out;
	kl_buf_init(&out, 0);
	CHECK_EQ_INT(parse(in), KL_REJ_NONE);
	if (ev.reject)
		fprintf(stderr, "  rejected: %s\n", ev.msg);
	CHECK_EQ_INT(kl_event_write_json(&ev, in, strlen(in), &out), 0);
	CHECK_EQ_MEM(out.data, out.len, want);
	kl_buf_cleanup(&out);
	row_matches(in, strlen(in));
}

/* Rows against JSON lines on more shapes: every value JSONTestSuite
 * accepts (y_ files) as a payload member, and hand-made keys and values. */
static void rows(void)
{
	static const char *const cases[] = {
		"{\"event_uuid\":\"u\",\"event_name\":\"a:b:c\",\"created_at\":1,"
		"\"k\\u00e9y\":\"v\\\"q\",\"n\":-1.5e3,\"i\":12,\"t\":true,\"f\":false,"
		"\"z\":null,\"o\":{ \"a\" : [1, 2] },\"e\":{},\"l\":[]}",
		"{\"event_uuid\":\"u\",\"event_name\":\"a\\u003ab\",\"created_at\":1,"
		"\"event_subtype\":1,\"x\":\"\"}",
		"{\"event_uuid\":\"u\",\"event_name\":\"\\\\x\\n:\\\"y\",\"created_at\":1}",
		" {\"created_at\":1.25 , \"event_name\":\"a\", \"event_uuid\":\"u\"}\t",
		"{\n  \"event_uuid\": \"u\",\n  \"event_name\": \"a:b\",\r\n  \"created_at\": 1,\n"
		"  \"o\": {\n    \"a\": [\n      1\n    ]\n  }\n}\n",
		"{\"event_type\":\"t\",\n\"event_uuid\":\"u\",\"event_name\":\"a\",\"created_at\":1,\"o\":[\n]}",
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		CHECK_EQ_INT(parse(cases[i]), KL_REJ_NONE);
		if (ev.reject == KL_REJ_NONE)
			row_matches(cases[i], strlen(cases[i]));
	}
	/* a value long enough for two- and three-digit lengths */
	static char big[300000];
	size_t o = (size_t)sprintf(big, "{\"event_uuid\":\"u\",\"event_name\":\"a:b\","
					"\"created_at\":1,\"s\":\"");
	memset(big + o, 'x', 270000);
	o += 270000;
	o += (size_t)sprintf(big + o, "\",\"m\":\"%0100d\"}", 7);
	lim.max_record_bytes = sizeof big;
	CHECK_EQ_INT(kl_event_parse(&ev, big, o, &lim), KL_REJ_NONE);
	row_matches(big, o);
	kl_event_limits_default(&lim);
	char dir[1024];
	check_corpus(dir, sizeof dir, "JSONTestSuite/test_parsing");
	DIR *d = opendir(dir);
	CHECK(d != NULL);
	size_t tried = 0;
	struct kl_buf in;
	kl_buf_init(&in, 0);
	for (struct dirent *e; d && (e = readdir(d));) {
		if (e->d_name[0] != 'y')
			continue;
		char path[2048];
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		size_t n;
		char *p = check_slurp(path, &n);
		if (!p)
			continue;
		kl_buf_reset(&in);
		kl_buf_printf(&in, "{\"event_uuid\":\"u\",\"event_name\":\"a:b\",\"created_at\":1,"
				   "\"v\":");
		kl_buf_append(&in, p, n);
		kl_buf_append(&in, "}", 1);
		free(p);
		if (kl_event_parse(&ev, in.data, in.len, &lim) != KL_REJ_NONE)
			continue; /* a top-level scalar's trailing newline is fine, a BOM is not */
		row_matches(in.data, in.len);
		tried++;
	}
	if (d)
		closedir(d);
	kl_buf_cleanup(&in);
	CHECK(tried >= 80);
	/* not rows */
	struct kl_json_doc doc;
	kl_json_doc_init(&doc);
	CHECK(kl_row_split("{}", 2, &doc) != 0);
	CHECK(kl_row_split("\xfe\xc1", 2, &doc) != 0);		  /* a key past the end */
	CHECK(kl_row_split("\xfe\xc1k\x05\xc0", 5, &doc) != 0);	  /* a flags byte out of range */
	CHECK(kl_row_split("\xfe\xc1k\x85\xc2v", 6, &doc) != 0); /* a value past the end */
	CHECK(kl_row_split("\xfe\x80\x80\x80\x80\x80\x80\x80", 8, &doc) != 0); /* a length too long */
	CHECK_EQ_INT(kl_row_split("\xfe\xc1k\x85\xc1v", 6, &doc), 0);
	CHECK(doc.n == 1 && doc.m[0].key_len == 1 && doc.m[0].val_len == 1 &&
	      doc.m[0].type == KL_JSON_STRING);
	CHECK_EQ_INT(kl_row_split("\xfe", 1, &doc), 0);
	CHECK_EQ_INT(doc.n, 0);
	kl_json_doc_cleanup(&doc);
}

static void enrichment(void)
{
	enriched("{\"event_uuid\":\"u1\",\"event_name\":\"payment:order:completed\",\"created_at\":"
		 "1764547509,\"amount\":12.50}",
		 "{\"event_uuid\":\"u1\",\"event_name\":\"payment:order:completed\",\"created_at\":"
		 "1764547509,\"amount\":12.50,\"created_datetime\":\"2025-12-01T00:05:09Z\","
		 "\"event_type\":\"payment\",\"event_subtype\":\"order\"}");
	CHECK_EQ_STR(ev.dt, "2025-12-01");
	CHECK_EQ_STR(ev.hr, "00");
	/* one-part name: subtype null; fraction: milliseconds */
	enriched("{ \"event_uuid\":\"u2\", \"event_name\":\"login\", \"created_at\":0.5 } \n",
		 "{ \"event_uuid\":\"u2\", \"event_name\":\"login\", \"created_at\":0.5,"
		 "\"created_datetime\":\"1970-01-01T00:00:00.500Z\",\"event_type\":\"login\","
		 "\"event_subtype\":null}");
	/* pretty-printed (a Kinesis record may be): its newlines become spaces */
	enriched("{\n\"event_uuid\":\"u\",\"event_name\":\"a\",\"created_at\":1,\"o\":{\n\"k\":[1,\n2]}\n}",
		 "{ \"event_uuid\":\"u\",\"event_name\":\"a\",\"created_at\":1,\"o\":{ \"k\":[1, 2]},"
		 "\"created_datetime\":\"1970-01-01T00:00:01Z\",\"event_type\":\"a\","
		 "\"event_subtype\":null}");
	/* computed values win over payload fields of the same names */
	enriched("{\"event_type\":\"x\",\"event_uuid\":\"u3\",\"event_name\":\":b\",\"created_at\":"
		 "1.1234e3,\"created_datetime\":1, \"k\":[1, 2]}",
		 "{\"event_uuid\":\"u3\",\"event_name\":\":b\",\"created_at\":1.1234e3,\"k\":[1, 2],"
		 "\"created_datetime\":\"1970-01-01T00:18:43.400Z\",\"event_type\":\"\","
		 "\"event_subtype\":\"b\"}");
	/* escaped name: parts decoded, then re-escaped on output */
	enriched("{\"event_uuid\":\"u4\",\"event_name\":\"a\\\"q:b\\u00e9\",\"created_at\":"
		 "253402300799.999}",
		 "{\"event_uuid\":\"u4\",\"event_name\":\"a\\\"q:b\\u00e9\",\"created_at\":"
		 "253402300799.999,\"created_datetime\":\"9999-12-31T23:59:59.999Z\","
		 "\"event_type\":\"a\\\"q\",\"event_subtype\":\"b\xc3\xa9\"}");
	CHECK_EQ_MEM(ev.type.p, ev.type.n, "a\"q");
	/* escaped required key names still count */
	CHECK_EQ_INT(parse("{\"\\u0065vent_uuid\":\"u\",\"event_name\":\"a\",\"created_at\":1}"),
		     KL_REJ_NONE);
	char dt[32];
	kl_format_datetime(951782400, 0, 0, dt); /* leap day 2000 */
	CHECK_EQ_STR(dt, "2000-02-29T00:00:00Z");
}

static void rejections(void)
{
	struct {
		const char *in;
		enum kl_reject want;
	} cases[] = {
		{"{\"event_uuid\":\"u\",", KL_REJ_INVALID_JSON},
		{"{\"event_uuid\":\"u\",}", KL_REJ_INVALID_JSON},
		{"[1,2]", KL_REJ_NOT_OBJECT},
		{"\"x\"", KL_REJ_NOT_OBJECT},
		{"{\"event_uuid\":\"\xc3\x28\",\"event_name\":\"a\",\"created_at\":1}", KL_REJ_INVALID_UTF8},
		{"{\"event_name\":\"a\",\"created_at\":1}", KL_REJ_MISSING_FIELD},
		{"{\"event_uuid\":\"u\",\"created_at\":1}", KL_REJ_MISSING_FIELD},
		{"{\"event_uuid\":\"u\",\"event_name\":\"a\"}", KL_REJ_MISSING_FIELD},
		{"{\"event_uuid\":\"\",\"event_name\":\"a\",\"created_at\":1}", KL_REJ_INVALID_FIELD},
		{"{\"event_uuid\":7,\"event_name\":\"a\",\"created_at\":1}", KL_REJ_INVALID_FIELD},
		{"{\"event_uuid\":\"u\",\"event_name\":\"\",\"created_at\":1}", KL_REJ_INVALID_FIELD},
		{"{\"event_uuid\":\"u\",\"event_name\":null,\"created_at\":1}", KL_REJ_INVALID_FIELD},
		{"{\"event_uuid\":\"u\",\"event_name\":\"a\",\"created_at\":\"1\"}", KL_REJ_INVALID_CREATED_AT},
		{"{\"event_uuid\":\"u\",\"event_name\":\"a\",\"created_at\":-1}", KL_REJ_INVALID_CREATED_AT},
		{"{\"event_uuid\":\"u\",\"event_name\":\"a\",\"created_at\":-0.001}", KL_REJ_INVALID_CREATED_AT},
		{"{\"event_uuid\":\"u\",\"event_name\":\"a\",\"created_at\":253402300800}", KL_REJ_INVALID_CREATED_AT},
		{"{\"event_uuid\":\"u\",\"event_name\":\"a\",\"created_at\":1e999}", KL_REJ_INVALID_CREATED_AT},
		{"{\"event_uuid\":\"u\",\"event_name\":\"a\",\"created_at\":2.6e11}", KL_REJ_INVALID_CREATED_AT},
		{"{\"event_uuid\":\"u\",\"event_name\":\"a\",\"created_at\":12345678901234567890}", KL_REJ_INVALID_CREATED_AT},
		{"{\"event_uuid\":\"u\",\"event_name\":\"a\",\"created_at\":1,\"event_name\":\"b\"}", KL_REJ_DUPLICATE_KEY},
		{"{\"a\":1,\"event_uuid\":\"u\",\"event_name\":\"a\",\"created_at\":1,\"\\u0061\":2}", KL_REJ_DUPLICATE_KEY},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		enum kl_reject r = parse(cases[i].in);
		if (r != cases[i].want)
			fprintf(stderr, "case %zu: got %s (%s), want %s\n", i, kl_reject_name(r),
				ev.msg, kl_reject_name(cases[i].want));
		CHECK_EQ_INT(r, cases[i].want);
		CHECK(ev.msg[0] != '\0');
	}
	CHECK_EQ_INT(parse("{\"event_uuid\":\"u\",\"event_name\":\"a\",\"created_at\":-0}"), KL_REJ_NONE);
	/* milliseconds, the usual producer mistake, are named as such; seconds past
	 * year 10000 that are no date in milliseconds either are not */
	static const char *const ms[] = {"1764547200000", "1764547200000.25", "1.7645472e12"};
	for (size_t i = 0; i < sizeof ms / sizeof ms[0]; i++) {
		char rec[128];
		snprintf(rec, sizeof rec, "{\"event_uuid\":\"u\",\"event_name\":\"a\",\"created_at\":%s}",
			 ms[i]);
		CHECK_EQ_INT(parse(rec), KL_REJ_INVALID_CREATED_AT);
		CHECK_EQ_STR(ev.msg, "created_at is at or past year 10000 (it looks like milliseconds: "
				     "created_at is Unix seconds)");
	}
	CHECK_EQ_INT(parse("{\"event_uuid\":\"u\",\"event_name\":\"a\",\"created_at\":253402300800}"),
		     KL_REJ_INVALID_CREATED_AT);
	CHECK_EQ_STR(ev.msg, "created_at is at or past year 10000");
	CHECK_EQ_INT(parse("{\"event_uuid\":\"u\",\"event_name\":\"a\",\"created_at\":1e20}"),
		     KL_REJ_INVALID_CREATED_AT);
	CHECK_EQ_STR(ev.msg, "created_at is at or past year 10000");
	/* event type and subtype: at most KL_EVENT_PART_MAX bytes (partition directory names) */
	{
		char name[2 * KL_EVENT_PART_MAX + 8], rec[512];
		for (int t = 0; t < 2; t++)
			for (int extra = 0; extra < 2; extra++) {
				size_t n = 0, len = KL_EVENT_PART_MAX + (size_t)extra;
				if (t) /* the subtype is the long part */
					name[n++] = 'a', name[n++] = ':';
				for (size_t i = 0; i < len; i++)
					name[n++] = '/'; /* escaped: three bytes each */
				if (!t)
					name[n++] = ':', name[n++] = 'b';
				snprintf(rec, sizeof rec,
					 "{\"event_uuid\":\"u\",\"event_name\":\"%.*s:c\",\"created_at\":1}",
					 (int)n, name);
				enum kl_reject r = parse(rec);
				CHECK_EQ_INT(r, extra ? KL_REJ_INVALID_FIELD : KL_REJ_NONE);
				if (extra)
					CHECK(strstr(ev.msg, t ? "event subtype is 81 bytes" : "event type is 81 bytes") != NULL);
			}
	}
	char deep[200];
	size_t o = (size_t)sprintf(deep, "{\"event_uuid\":\"u\",\"event_name\":\"a\",\"created_at\":1,\"x\":");
	for (int i = 0; i < 64; i++)
		deep[o++] = '[';
	for (int i = 0; i < 64; i++)
		deep[o++] = ']';
	deep[o++] = '}';
	CHECK_EQ_INT(kl_event_parse(&ev, deep, o, &lim), KL_REJ_TOO_DEEP);
	struct kl_event_limits small = lim;
	small.max_record_bytes = 10;
	CHECK_EQ_INT(kl_event_parse(&ev, deep, o, &small), KL_REJ_TOO_LARGE);
	/* many keys exercise the duplicate-key table growth */
	char big[40000];
	o = (size_t)sprintf(big, "{\"event_uuid\":\"u\",\"event_name\":\"a\",\"created_at\":1");
	for (int i = 0; i < 2000; i++)
		o += (size_t)sprintf(big + o, ",\"k%d\":%d", i, i);
	big[o++] = '}';
	CHECK_EQ_INT(kl_event_parse(&ev, big, o, &lim), KL_REJ_NONE);
	o--;
	o += (size_t)sprintf(big + o, ",\"k1999\":0}");
	CHECK_EQ_INT(kl_event_parse(&ev, big, o, &lim), KL_REJ_DUPLICATE_KEY);
}

/* Keys made to collide in the duplicate-key table (16 bytes that differ
 * only in bytes 6 and 7 share its slot: 4,096 of them in one cluster) are
 * checked as any others: no duplicate, or the first key in document order
 * that repeats an earlier one. */
static void colliding_keys(void)
{
	enum { N = 4096 };
	static const char al[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-_";
	size_t cap = 64 + (size_t)N * 24 + 64;
	char *rec = malloc(cap);
	CHECK(rec != NULL);
	if (!rec)
		return;
	for (int variant = 0; variant < 3; variant++) {
		size_t n = (size_t)snprintf(rec, cap, "{\"event_uuid\":\"u\",\"event_name\":\"a:b\","
						      "\"created_at\":1");
		for (int i = 0; i < N; i++)
			n += (size_t)snprintf(rec + n, cap - n, ",\"kkkkkk%c%ckkkkkkkk\":%d",
					      al[i / 64], al[i % 64], i);
		if (variant >= 1) /* key 100 again */
			n += (size_t)snprintf(rec + n, cap - n, ",\"kkkkkk%c%ckkkkkkkk\":0",
					      al[100 / 64], al[100 % 64]);
		if (variant == 2) /* key 7 again, after: 100's repeat still comes first */
			n += (size_t)snprintf(rec + n, cap - n, ",\"kkkkkk%c%ckkkkkkkk\":0", al[0], al[7]);
		snprintf(rec + n, cap - n, "}");
		enum kl_reject r = parse(rec);
		if (variant == 0) {
			CHECK_EQ_INT(r, KL_REJ_NONE);
		} else {
			char want[80];
			snprintf(want, sizeof want, "repeated top-level key \"kkkkkk%c%ckkkkkkkk\"",
				 al[100 / 64], al[100 % 64]);
			CHECK_EQ_INT(r, KL_REJ_DUPLICATE_KEY);
			CHECK_EQ_STR(ev.msg, want);
		}
	}
	free(rec);
}

/* A dead letter is valid JSON (UTF-8) whatever its message quotes and
 * whatever bytes its source file's name has; a repeated key in the message
 * is cut on a character boundary. */
static void dead_letter_text(void)
{
	struct kl_buf out;
	kl_buf_init(&out, 0);
	const char raw[] = "x";
	struct kl_deadletter d = {"invalid_json", "bad \xc3 message \xe2\x82", "in\xff\xfe.jsonl\xf0\x9f\x98\x80",
				  3, 0, raw, 1, 1};
	CHECK_EQ_INT(kl_deadletter_format(&out, &d), 0);
	CHECK_EQ_INT(kl_json_parse(out.data, out.len, 4, NULL, NULL), 0);
	const char *want_msg = "bad \\ufffd message \\ufffd\\ufffd";
	const char *want_src = "in\\ufffd\\ufffd.jsonl\xf0\x9f\x98\x80";
	CHECK(memmem(out.data, out.len, want_msg, strlen(want_msg)) != NULL);
	CHECK(memmem(out.data, out.len, want_src, strlen(want_src)) != NULL);
	/* a key of 38 ASCII bytes and a 3-byte character, repeated: the 40-byte
	 * cut would split the character */
	char rec[256];
	const char *k = "kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk\xe2\x82\xac";
	snprintf(rec, sizeof rec,
		 "{\"event_uuid\":\"u\",\"event_name\":\"a\",\"created_at\":1,\"%s\":1,\"%s\":2}", k, k);
	CHECK_EQ_INT(parse(rec), KL_REJ_DUPLICATE_KEY);
	CHECK_EQ_STR(ev.msg, "repeated top-level key \"kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk\"");
	kl_buf_reset(&out);
	d.message = ev.msg;
	CHECK_EQ_INT(kl_deadletter_format(&out, &d), 0);
	CHECK_EQ_INT(kl_json_parse(out.data, out.len, 4, NULL, NULL), 0);
	kl_buf_cleanup(&out);
}

/* kl_event_peek_uuid: a guess without parsing, compared with the parse. */
static void peek_uuid(void)
{
	struct {
		const char *rec;
		const char *guess; /* NULL: no guess */
		int same;	   /* the guess is the parsed event_uuid's own bytes */
	} cases[] = {
	    {"{\"event_uuid\":\"u-1\",\"event_name\":\"a\",\"created_at\":1}", "u-1", 1},
	    {"{ \"event_uuid\" :\t\"u-2\" ,\"event_name\":\"a\",\"created_at\":1}", "u-2", 1},
	    {"{\"event_uuid\":\"u\\u0031\",\"event_name\":\"a\",\"created_at\":1}", NULL, 0},
	    {"{\"event_uuid\":\"\",\"event_name\":\"a\",\"created_at\":1}", NULL, 0},
	    {"{\"event_uuid\":7,\"event_name\":\"a\",\"created_at\":1}", NULL, 0},
	    {"{\"m\":{\"event_uuid\":\"in\"},\"event_uuid\":\"out\",\"event_name\":\"a\","
	     "\"created_at\":1}",
	     "in", 0},
	    {"{\"x\":\"\\\"event_uuid\\\":\\\"q\\\"\",\"event_uuid\":\"r\",\"event_name\":\"a\","
	     "\"created_at\":1}",
	     "r", 1},
	    {"{\"event_uuid\"", NULL, 0},
	    {"{\"event_uuid\":\"open", NULL, 0},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const char *rec = cases[i].rec, *u = NULL;
		size_t un = 0;
		int got = kl_event_peek_uuid(rec, strlen(rec), &u, &un);
		CHECK_EQ_INT(got, cases[i].guess != NULL);
		if (got && cases[i].guess) {
			CHECK(un == strlen(cases[i].guess) && !memcmp(u, cases[i].guess, un));
			if (parse(rec) == KL_REJ_NONE)
				CHECK_EQ_INT(ev.uuid.p == u && ev.uuid.n == un, cases[i].same);
			else
				CHECK(0);
		}
	}
	/* only the first KL_EVENT_PEEK_BYTES bytes are looked at */
	char rec[KL_EVENT_PEEK_BYTES + 128];
	int pad = KL_EVENT_PEEK_BYTES - 16;
	snprintf(rec, sizeof rec, "{\"p\":\"%*s\",\"event_uuid\":\"u\"}", pad, "");
	const char *u = NULL;
	size_t un = 0;
	CHECK_EQ_INT(kl_event_peek_uuid(rec, strlen(rec), &u, &un), 0);
	snprintf(rec, sizeof rec, "{\"p\":\"%*s\",\"event_uuid\":\"u\"}", pad - 40, "");
	CHECK_EQ_INT(kl_event_peek_uuid(rec, strlen(rec), &u, &un), 1);
	CHECK(un == 1 && *u == 'u');
}

int main(void)
{
	kl_event_init(&ev);
	kl_event_limits_default(&lim);
	enrichment();
	rows();
	rejections();
	colliding_keys();
	dead_letter_text();
	peek_uuid();
	kl_event_cleanup(&ev);
	return check_report("test_event");
}
