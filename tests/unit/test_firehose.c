/* test_firehose.c — the Firehose transformation contract on the public
 * sample events (../shared/corpora/lambda-events) and on our own batches:
 * same recordIds in order, Ok/Dropped/ProcessingFailed, base64 data,
 * partition keys, the 6 MB response limit. */
#include "check.h"
#include "core/base64.h"
#include "lambda/firehose.h"
#include "parse/json.h"
#include "route/partition.h"

#include <stdlib.h>

static char *sample(const char *rel, size_t *n)
{
	char path[1024], sub[512];
	snprintf(sub, sizeof sub, "lambda-events/%s", rel);
	return check_slurp(check_corpus(path, sizeof path, sub), n);
}

static int count_ids(const char *p, size_t n, const char *key)
{
	int c = 0;
	size_t kl = strlen(key);
	for (size_t i = 0; i + kl <= n; i++)
		c += !memcmp(p + i, key, kl);
	return c;
}

static void samples(struct kl_firehose *f)
{
	const char *files[] = {"aws-lambda-go/kinesis-firehose-event.json",
			       "powertools-python/kinesisFirehoseKinesisEvent.json",
			       "powertools-python/kinesisFirehosePutEvent.json",
			       "powertools-python/kinesisFirehoseSQSEvent.json"};
	for (size_t i = 0; i < 4; i++) {
		size_t n;
		char *ev = sample(files[i], &n);
		CHECK(ev != NULL);
		if (!ev)
			continue;
		CHECK(kl_firehose_is_event(ev, n));
		struct kl_buf out;
		kl_buf_init(&out, 0);
		struct kl_firehose_stats st;
		struct kl_errbuf eb;
		kl_errbuf_clear(&eb);
		CHECK_EQ_INT(kl_firehose_transform(f, ev, n, &out, &st, &eb), 0);
		CHECK_EQ_INT(kl_json_parse(out.data, out.len, 64, NULL, NULL), 0);
		/* the samples carry "Hello World" etc.: not events, so every record fails,
		 * with its recordId and original data kept */
		CHECK(st.records > 0);
		CHECK_EQ_INT(st.failed, st.records);
		CHECK_EQ_INT(count_ids(out.data, out.len, "\"recordId\""), (long long)st.records);
		CHECK_EQ_INT(count_ids(ev, n, "\"recordId\""), (long long)st.records);
		kl_buf_cleanup(&out);
		free(ev);
	}
}

static void batch(struct kl_firehose *f)
{
	const char *events[] = {
		"{\"event_uuid\":\"a1\",\"event_name\":\"payment:order:completed\",\"created_at\":1764550800.5,\"amount\":3}\n",
		"{\"event_uuid\":\"a1\",\"event_name\":\"payment:order:completed\",\"created_at\":1764550800.5,\"amount\":3}\n",
		"not json",
		"{\"event_uuid\":\"a2\",\"event_name\":\"web hook\",\"created_at\":0}",
	};
	struct kl_buf ev, out;
	kl_buf_init(&ev, 0);
	kl_buf_init(&out, 0);
	kl_buf_puts(&ev, "{\"invocationId\":\"i\",\"deliveryStreamArn\":\"arn\",\"region\":\"us-east-1\",\"records\":[");
	for (int i = 0; i < 4; i++) {
		kl_buf_printf(&ev, "%s{\"recordId\":\"r%d\",\"approximateArrivalTimestamp\":1,\"data\":\"", i ? "," : "", i);
		kl_base64_encode(&ev, events[i], strlen(events[i]));
		kl_buf_puts(&ev, "\"}");
	}
	kl_buf_puts(&ev, ",{\"recordId\":\"r4\",\"data\":\"@@not base64@@\"}]}");
	struct kl_firehose_stats st;
	struct kl_errbuf eb;
	kl_errbuf_clear(&eb);
	CHECK_EQ_INT(kl_firehose_transform(f, ev.data, ev.len, &out, &st, &eb), 0);
	CHECK_EQ_INT(st.records, 5);
	CHECK_EQ_INT(st.ok, 2);
	CHECK_EQ_INT(st.dropped, 1);
	CHECK_EQ_INT(st.failed, 2);
	kl_buf_putc(&out, '\0');
	const char *o = out.data;
	CHECK(strstr(o, "{\"recordId\":\"r0\",\"result\":\"Ok\"") != NULL);
	CHECK(strstr(o, "{\"recordId\":\"r1\",\"result\":\"Dropped\"") != NULL);
	CHECK(strstr(o, "{\"recordId\":\"r2\",\"result\":\"ProcessingFailed\"") != NULL);
	CHECK(strstr(o, "{\"recordId\":\"r4\",\"result\":\"ProcessingFailed\",\"data\":\"@@not base64@@\"}") != NULL);
	CHECK(strstr(o, "\"partitionKeys\":{\"event_type\":\"payment\",\"event_subtype\":\"order\",\"dt\":\"2025-12-01\",\"hr\":\"01\"}") != NULL);
	CHECK(strstr(o, "\"partitionKeys\":{\"event_type\":\"web%20hook\",\"event_subtype\":\"__HIVE_DEFAULT_PARTITION__\",\"dt\":\"1970-01-01\",\"hr\":\"00\"}") != NULL);
	/* Ok data decodes to the enriched event plus a newline */
	const char *d = strstr(o, "\"result\":\"Ok\",\"data\":\"") + 22;
	const char *e = strchr(d, '"');
	unsigned char dec[512];
	long n = kl_base64_decode(d, (size_t)(e - d), dec);
	CHECK(n > 0);
	CHECK_EQ_MEM(dec, (size_t)n,
		     "{\"event_uuid\":\"a1\",\"event_name\":\"payment:order:completed\",\"created_at\":1764550800.5,\"amount\":3,"
		     "\"created_datetime\":\"2025-12-01T01:00:00.500Z\",\"event_type\":\"payment\",\"event_subtype\":\"order\"}\n");
	/* the response limit */
	f->max_response = 200;
	kl_buf_reset(&out);
	kl_errbuf_clear(&eb);
	CHECK_EQ_INT(kl_firehose_transform(f, ev.data, ev.len, &out, &st, &eb), KL_ELIMIT);
	CHECK(strstr(eb.msg, "payload limit") != NULL);
	f->max_response = KL_LAMBDA_MAX_RESPONSE;
	/* not a Firehose event */
	kl_errbuf_clear(&eb);
	kl_buf_reset(&out);
	CHECK_EQ_INT(kl_firehose_transform(f, "{\"Records\":[]}", 14, &out, &st, &eb), KL_EPARSE);
	kl_errbuf_clear(&eb);
	CHECK_EQ_INT(kl_firehose_transform(f, "{\"records\":[]}", 14, &out, &st, &eb), 0);
	kl_buf_cleanup(&ev);
	kl_buf_cleanup(&out);
}

/* The partition keys of Ok records, put into the delivery stream's prefix
 * (docs/lambda.md: events/event_type=!{partitionKeyFromLambda:event_type}/
 * event_subtype=.../dt=.../hr=.../), give the path the route stage gives the
 * same event: for names with every byte Hive escaping has to handle. */
static void keys_are_route_paths(void)
{
	static const char *names[] = {
	    "payment:order:completed",
	    "a/b:c=d",
	    "%:%25",
	    "x y:..",
	    "..:../..",
	    "\\u00e9t\\u00e9:\\u00fc",
	    ":",
	    ":sub",
	    "type:",
	    "nocolon",
	    "a:b:c",
	    "\\u0001:\\u007f",
	    "\\\"q\\\":\\\\",
	    "__HIVE_DEFAULT_PARTITION__:_",
	    "dt=2025:hr=01",
	    "\xe2\x82\xac:\xf0\x9f\x98\x80",
	};
	size_t n = sizeof names / sizeof *names;
	struct kl_firehose f;
	CHECK_EQ_INT(kl_firehose_init(&f, 0), 0);
	struct kl_buf ev, out, line, path, want;
	kl_buf_init(&ev, 0);
	kl_buf_init(&out, 0);
	kl_buf_init(&line, 0);
	kl_buf_init(&path, 0);
	kl_buf_init(&want, 0);
	kl_buf_puts(&ev, "{\"invocationId\":\"i\",\"records\":[");
	for (size_t i = 0; i < n; i++) {
		kl_buf_reset(&line);
		kl_buf_printf(
		    &line, "{\"event_uuid\":\"u%zu\",\"event_name\":\"%s\",\"created_at\":%lld.25}",
		    i, names[i], 1764633599LL + (long long)i * 3599);
		kl_buf_printf(&ev, "%s{\"recordId\":\"r%zu\",\"data\":\"", i ? "," : "", i);
		kl_base64_encode(&ev, line.data, line.len);
		kl_buf_puts(&ev, "\"}");
	}
	kl_buf_puts(&ev, "]}");
	struct kl_firehose_stats st;
	struct kl_errbuf eb;
	kl_errbuf_clear(&eb);
	CHECK_EQ_INT(kl_firehose_transform(&f, ev.data, ev.len, &out, &st, &eb), 0);
	CHECK_EQ_INT(st.ok, (long long)n);

	struct kl_json_member recs, r, md, pk, v, d;
	CHECK(kl_json_object_get(out.data, out.len, "records", &recs));
	struct kl_json_iter it;
	kl_json_iter_init(&it, recs.val, recs.val_len);
	struct kl_event e;
	struct kl_event_limits lim;
	kl_event_init(&e);
	kl_event_limits_default(&lim);
	size_t i = 0, same = 0;
	unsigned char raw[1024];
	for (; kl_json_iter_next(&it, &r); i++) {
		if (!kl_json_object_get(r.val, r.val_len, "metadata", &md) ||
		    !kl_json_object_get(md.val, md.val_len, "partitionKeys", &pk) ||
		    !kl_json_object_get(r.val, r.val_len, "data", &d))
			continue;
		/* the path the prefix makes: the keys in the lake's order */
		kl_buf_reset(&path);
		kl_buf_puts(&path, "events");
		for (int c = 0; c < KL_PCOL_COUNT; c++)
			if (kl_json_object_get(pk.val, pk.val_len, kl_partition_keys[c].name, &v))
				kl_buf_printf(&path, "/%s=%.*s", kl_partition_keys[c].name,
					      (int)v.val_len - 2, v.val + 1);
		/* the route stage's path of the event the record carries */
		long len = kl_base64_decode(d.val + 1, d.val_len - 2, raw);
		CHECK(len > 1);
		kl_buf_reset(&want);
		if (len > 1 &&
		    kl_event_parse(&e, (const char *)raw, (size_t)len - 1, &lim) == KL_REJ_NONE)
			kl_partition_event(&want, &e);
		if (want.len && path.len == want.len && !memcmp(path.data, want.data, want.len))
			same++;
		else
			fprintf(stderr, "record %zu: %.*s != %.*s\n", i, (int)path.len, path.data,
				(int)want.len, want.data);
	}
	CHECK_EQ_INT(i, (long long)n);
	CHECK_EQ_INT(same, (long long)n);
	kl_event_cleanup(&e);
	kl_firehose_cleanup(&f);
	kl_buf_cleanup(&ev);
	kl_buf_cleanup(&out);
	kl_buf_cleanup(&line);
	kl_buf_cleanup(&path);
	kl_buf_cleanup(&want);
}

/* The payload is checked as JSON in the same pass that transforms it
 * (firehose.c): a text kl_json_parse rejects is reported as not JSON, and
 * no other error, wherever the fault sits and whatever the walk met before
 * it; a valid one is transformed. */
static int transform_text(struct kl_firehose *f, const char *p, size_t n,
			  struct kl_firehose_stats *st, struct kl_errbuf *eb)
{
	struct kl_buf out;
	kl_buf_init(&out, 0);
	kl_errbuf_clear(eb);
	int rc = kl_firehose_transform(f, p, n, &out, st, eb);
	if (rc == KL_OK)
		CHECK(kl_json_parse(out.data, out.len, 64, NULL, NULL) == 0);
	kl_buf_cleanup(&out);
	return rc;
}

static int not_json(int rc, const struct kl_errbuf *eb)
{
	return rc == KL_EPARSE && strstr(eb->msg, "not valid JSON") != NULL;
}

static void one_pass(void)
{
	struct kl_firehose f;
	CHECK_EQ_INT(kl_firehose_init(&f, 0), 0);
	struct kl_firehose_stats st;
	struct kl_errbuf eb;
	const char *ev = "{\"event_uuid\":\"u\",\"event_name\":\"a:b\",\"created_at\":1764547200}";
	struct kl_buf data, text, deep;
	kl_buf_init(&data, 0);
	kl_buf_init(&text, 0);
	kl_buf_init(&deep, 0);
	kl_base64_encode(&data, ev, strlen(ev));
	kl_buf_putc(&data, '\0'); /* a C string for the format */
	/* %1$s: the base64 data; three records, one with metadata, a member
	 * after the records */
	const char *shape =
	    "{\"invocationId\":\"i\",\"records\":[{\"recordId\":\"r0\",\"data\":\"%1$s\"},"
	    "{\"recordId\":\"r1\",\"approximateArrivalTimestamp\":1,\"data\":\"%1$s\","
	    "\"kinesisRecordMetadata\":{\"shardId\":\"s\",\"sequenceNumber\":\"12\",\"x\":[1,{}]}},"
	    "{\"data\":\"%1$s\",\"recordId\":\"r2\"}],\"region\":\"us-east-1\"}";
	kl_buf_printf(&text, shape, data.data);
	CHECK(kl_firehose_is_event(text.data, text.len));
	CHECK_EQ_INT(transform_text(&f, text.data, text.len, &st, &eb), KL_OK);
	CHECK_EQ_INT(st.ok, 3);

	struct {
		const char *what, *from, *to; /* the first `from` replaced by `to` */
		int rc;			      /* 1: not JSON */
		int failed;		      /* when valid: records failed */
	} cases[] = {
	    {"control byte in data", "\"},{\"recordId\":\"r1\"", "\x01\"},{\"recordId\":\"r1\"", 1, 0},
	    {"escape in data: valid JSON, not base64", "\"},{\"recordId\":\"r1\"",
	     "\\/\"},{\"recordId\":\"r1\"", 0, 1},
	    {"bad UTF-8 in metadata", "\"shardId\":\"s\"", "\"shardId\":\"\xff\"", 1, 0},
	    {"bad literal after records", "\"region\":\"us-east-1\"", "\"region\":tru", 1, 0},
	    {"trailing bytes", "\"us-east-1\"}", "\"us-east-1\"} x", 1, 0},
	    {"no recordId, then bad JSON", "\"recordId\":\"r0\"", "\"recordI\":\"r0\"", -1, 0},
	    {"data not a string: failed", "\"data\":\"", "\"data\":7,\"d\":\"", 0, 1},
	    {"metadata not closed", "\"x\":[1,{}]}}", "\"x\":[1,{}]}", 1, 0},
	    {"a second records member, not JSON", "\"region\"", "\"records\":[nul],\"region\"", 1,
	     0},
	    {"a second records member, ignored", "\"region\"", "\"records\":[null],\"region\"", 0,
	     0},
	    /* the first recordId counts, a null one too */
	    {"a null recordId first", "\"recordId\":\"r0\"", "\"recordId\":null,\"recordId\":\"r0\"",
	     -1, 0},
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		kl_buf_reset(&deep);
		const char *at = strstr(text.data, cases[i].from);
		CHECK(at != NULL);
		if (!at)
			continue;
		kl_buf_append(&deep, text.data, (size_t)(at - text.data));
		kl_buf_puts(&deep, cases[i].to);
		kl_buf_puts(&deep, at + strlen(cases[i].from));
		int valid = kl_json_parse(deep.data, deep.len, 64, NULL, NULL) == 0;
		int rc = transform_text(&f, deep.data, deep.len, &st, &eb);
		if (cases[i].rc == 1) {
			CHECK(!valid);
			if (!not_json(rc, &eb))
				fprintf(stderr, "%s: %d %s\n", cases[i].what, rc, eb.msg);
			CHECK(not_json(rc, &eb));
		} else if (cases[i].rc == -1) { /* a shape error, valid JSON */
			CHECK(valid);
			CHECK(rc == KL_EPARSE && !not_json(rc, &eb));
			/* and then a byte that is not JSON after it: that wins */
			kl_buf_puts(&deep, ",");
			rc = transform_text(&f, deep.data, deep.len, &st, &eb);
			CHECK(not_json(rc, &eb));
		} else {
			CHECK(valid);
			if (rc != KL_OK)
				fprintf(stderr, "%s: %d %s\n", cases[i].what, rc, eb.msg);
			CHECK_EQ_INT(rc, KL_OK);
			CHECK_EQ_INT(st.failed, cases[i].failed);
		}
	}
	/* over the response limit at the first record, not JSON at the end */
	f.max_response = 40;
	kl_buf_reset(&deep);
	kl_buf_append(&deep, text.data, text.len - 1);
	CHECK_EQ_INT(transform_text(&f, deep.data, deep.len + 1, &st, &eb) == KL_ELIMIT, 0);
	CHECK_EQ_INT(transform_text(&f, text.data, text.len, &st, &eb), KL_ELIMIT);
	CHECK(not_json(transform_text(&f, deep.data, deep.len, &st, &eb), &eb));
	f.max_response = KL_LAMBDA_MAX_RESPONSE;

	/* nesting: 64 levels are JSON (the handler's bound), 65 are not */
	for (int levels = 60; levels <= 62; levels++) {
		kl_buf_reset(&deep);
		kl_buf_printf(&deep, "{\"invocationId\":\"i\",\"records\":[{\"recordId\":\"r\",\"m\":");
		for (int l = 0; l < levels; l++)
			kl_buf_putc(&deep, '[');
		for (int l = 0; l < levels; l++)
			kl_buf_putc(&deep, ']');
		kl_buf_puts(&deep, ",\"data\":\"\"}]}");
		int valid = kl_json_parse(deep.data, deep.len, 64, NULL, NULL) == 0;
		CHECK_EQ_INT(valid, levels + 3 <= 64);
		int rc = transform_text(&f, deep.data, deep.len, &st, &eb);
		CHECK(valid ? rc == KL_OK : not_json(rc, &eb));
	}

	/* every byte of the batch replaced in turn by each of these: rejected
	 * as not JSON exactly when kl_json_parse rejects the text */
	const char subst[] = {'"', '\\', '{', '}', '[', ']', ',', ':', ' ', 'x', '0', '\x01', '\xff'};
	size_t tried = 0, agree = 0, invalid = 0;
	for (size_t at = 0; at < text.len; at++) {
		for (size_t k = 0; k < sizeof subst; k++) {
			if (text.data[at] == subst[k])
				continue;
			kl_buf_reset(&deep);
			kl_buf_append(&deep, text.data, text.len);
			deep.data[at] = subst[k];
			int valid = kl_json_parse(deep.data, deep.len, 64, NULL, NULL) == 0;
			int rc = transform_text(&f, deep.data, deep.len, &st, &eb);
			tried++;
			invalid += !valid;
			if (valid != !not_json(rc, &eb))
				fprintf(stderr, "byte %zu -> 0x%02x: kl_json_parse %s, transform %d %s\n",
					at, (unsigned char)subst[k], valid ? "accepts" : "rejects", rc,
					eb.msg);
			else
				agree++;
			/* is_event is 0 or 1 on any text, and 0 on this one only
			 * when it is not JSON before "records" */
			CHECK(kl_firehose_is_event(deep.data, deep.len) || at < 33);
		}
	}
	CHECK_EQ_INT(agree, (long long)tried);
	fprintf(stderr, "one_pass: %zu texts, %zu of them not JSON\n", tried, invalid);
	CHECK(invalid > tried / 4);
	kl_firehose_cleanup(&f);
	kl_buf_cleanup(&data);
	kl_buf_cleanup(&text);
	kl_buf_cleanup(&deep);
}

int main(void)
{
	struct kl_firehose f;
	CHECK_EQ_INT(kl_firehose_init(&f, 1000), 0);
	samples(&f);
	batch(&f);
	kl_firehose_cleanup(&f);
	keys_are_route_paths();
	one_pass();
	return check_report("test_firehose");
}
