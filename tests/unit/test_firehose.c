/* test_firehose.c — the Firehose transformation contract on the public
 * sample events (../shared/corpora/lambda-events) and on our own batches:
 * same recordIds in order, Ok/Dropped/ProcessingFailed, base64 data,
 * partition keys, the 6 MB response limit. */
#include "check.h"
#include "core/base64.h"
#include "lambda/firehose.h"

#include <stdlib.h>

static char *sample(const char *rel, size_t *n)
{
	const char *corp = getenv("KL_CORPORA");
	char path[1024];
	snprintf(path, sizeof path, "%s/lambda-events/%s", corp ? corp : "../shared/corpora", rel);
	return check_slurp(path, n);
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

int main(void)
{
	struct kl_firehose f;
	CHECK_EQ_INT(kl_firehose_init(&f, 1000), 0);
	samples(&f);
	batch(&f);
	kl_firehose_cleanup(&f);
	return check_report("test_firehose");
}
