/* test_event.c — event contract: validation classes and enrichment. */
#include "check.h"
#include "event/event.h"

static struct kl_event ev;
static struct kl_event_limits lim;

static enum kl_reject parse(const char *s)
{
	return kl_event_parse(&ev, s, strlen(s), &lim);
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
	enriched("{\"event_type\":\"t\",\r\n\"event_uuid\":\"u\",\"event_name\":\"a:b\",\"created_at\":1,\"o\":[\n]}",
		 "{\"event_uuid\":\"u\",\"event_name\":\"a:b\",\"created_at\":1,\"o\":[ ],"
		 "\"created_datetime\":\"1970-01-01T00:00:01Z\",\"event_type\":\"a\","
		 "\"event_subtype\":\"b\"}");
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

int main(void)
{
	kl_event_init(&ev);
	kl_event_limits_default(&lim);
	enrichment();
	rejections();
	kl_event_cleanup(&ev);
	return check_report("test_event");
}
