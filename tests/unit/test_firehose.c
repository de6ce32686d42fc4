/* test_firehose.c — the Firehose transformation contract on the public
 * sample events (../shared/corpora/lambda-events) and on our own batches:
 * same recordIds in order, Ok/Dropped/ProcessingFailed, base64 data,
 * partition keys, the 6 MB response limit. */
#include "check.h"
#include "core/base64.h"
#include "lambda/firehose.h"
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

int main(void)
{
	struct kl_firehose f;
	CHECK_EQ_INT(kl_firehose_init(&f, 1000), 0);
	samples(&f);
	batch(&f);
	kl_firehose_cleanup(&f);
	keys_are_route_paths();
	return check_report("test_firehose");
}
