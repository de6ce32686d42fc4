/* cwmetrics + aws/cloudwatch: the PutMetricData form, EMF lines, and the
 * publisher's deltas and lag datums. */
#include "aws/cloudwatch.h"
#include "check.h"
#include "metrics/cwmetrics.h"
#include "aws/kinesis.h"

#include <stdatomic.h>

static const struct kl_cw_datum *find(const struct kl_cw_datum *d, size_t n, const char *name,
				      const char *dim1)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(d[i].name, name) &&
		    (dim1 ? d[i].ndims == 2 && !strcmp(d[i].dims[1].value, dim1) : d[i].ndims == 1))
			return &d[i];
	return NULL;
}

static void test_encode(void)
{
	struct kl_cw_datum d[2] = {
	    {.name = "RecordsRead",
	     .unit = "Count",
	     .value = 42,
	     .ndims = 1,
	     .dims = {{"Stream", "my stream/1"}}},
	    {.name = "MillisBehindLatest",
	     .unit = "Milliseconds",
	     .value = 1.5,
	     .ndims = 2,
	     .dims = {{"Stream", "s"}, {"Shard", "shardId-000000000001"}}},
	};
	struct kl_buf b;
	kl_buf_init(&b, 0);
	CHECK_EQ_INT(kl_cloudwatch_encode(&b, "My/NS", d, 2, 1764547200), 0);
	CHECK_EQ_INT(kl_buf_putc(&b, '\0'), 0);
	CHECK_EQ_STR(
	    b.data,
	    "Action=PutMetricData&Version=2010-08-01&Namespace=My%2FNS"
	    "&MetricData.member.1.MetricName=RecordsRead&MetricData.member.1.Unit=Count"
	    "&MetricData.member.1.Value=42&MetricData.member.1.Timestamp=2025-12-01T00%3A00%3A00Z"
	    "&MetricData.member.1.Dimensions.member.1.Name=Stream"
	    "&MetricData.member.1.Dimensions.member.1.Value=my%20stream%2F1"
	    "&MetricData.member.2.MetricName=MillisBehindLatest"
	    "&MetricData.member.2.Unit=Milliseconds&MetricData.member.2.Value=1.5"
	    "&MetricData.member.2.Timestamp=2025-12-01T00%3A00%3A00Z"
	    "&MetricData.member.2.Dimensions.member.1.Name=Stream"
	    "&MetricData.member.2.Dimensions.member.1.Value=s"
	    "&MetricData.member.2.Dimensions.member.2.Name=Shard"
	    "&MetricData.member.2.Dimensions.member.2.Value=shardId-000000000001");
	kl_buf_cleanup(&b);
}

static void test_emf(void)
{
	struct kl_cw_counters c = {.records = 10,
				   .stored = 6,
				   .dead = 3,
				   .duplicates = 1,
				   .bytes_in = 1000,
				   .bytes_out = 800,
				   .files = 2,
				   .rescued = 5};
	c.dead_by_reason[KL_REJ_INVALID_JSON] = 2;
	c.dead_by_reason[0] = 1;
	struct kl_cw_emf e = {"kinlake", "FunctionName", "fn\"x", 1764547200123, &c,
			      17,	 "firehose"};
	struct kl_buf b;
	kl_buf_init(&b, 0);
	CHECK_EQ_INT(kl_cw_emf_render(&b, &e), 0);
	CHECK_EQ_INT(kl_buf_putc(&b, '\0'), 0);
	const char *want =
	    "{\"_aws\":{\"Timestamp\":1764547200123,\"CloudWatchMetrics\":[{\"Namespace\":"
	    "\"kinlake\","
	    "\"Dimensions\":[[\"FunctionName\"]],\"Metrics\":[{\"Name\":\"RecordsRead\",\"Unit\":"
	    "\"Count\"},"
	    "{\"Name\":\"EventsStored\",\"Unit\":\"Count\"},{\"Name\":\"DeadLetters\",\"Unit\":"
	    "\"Count\"},"
	    "{\"Name\":\"Duplicates\",\"Unit\":\"Count\"},{\"Name\":\"BytesRead\",\"Unit\":"
	    "\"Bytes\"},"
	    "{\"Name\":\"BytesWritten\",\"Unit\":\"Bytes\"},{\"Name\":\"FilesCommitted\",\"Unit\":"
	    "\"Count\"},{\"Name\":\"EventsRescued\",\"Unit\":\"Count\"},"
	    "{\"Name\":\"BatchLatency\",\"Unit\":\"Milliseconds\"}]}]},\"FunctionName\":"
	    "\"fn\\\"x\","
	    "\"EventSource\":\"firehose\",\"RecordsRead\":10,\"EventsStored\":6,\"DeadLetters\":3,"
	    "\"Duplicates\":1,\"BytesRead\":1000,\"BytesWritten\":800,\"FilesCommitted\":2,"
	    "\"EventsRescued\":5,\"BatchLatency\":17}\n"
	    "{\"_aws\":{\"Timestamp\":1764547200123,\"CloudWatchMetrics\":[{\"Namespace\":"
	    "\"kinlake\","
	    "\"Dimensions\":[[\"FunctionName\",\"Reason\"]],\"Metrics\":[{\"Name\":\"DeadLetters\","
	    "\"Unit\":\"Count\"}]}]},\"FunctionName\":\"fn\\\"x\",\"Reason\":\"invalid_base64\","
	    "\"DeadLetters\":1}\n"
	    "{\"_aws\":{\"Timestamp\":1764547200123,\"CloudWatchMetrics\":[{\"Namespace\":"
	    "\"kinlake\","
	    "\"Dimensions\":[[\"FunctionName\",\"Reason\"]],\"Metrics\":[{\"Name\":\"DeadLetters\","
	    "\"Unit\":\"Count\"}]}]},\"FunctionName\":\"fn\\\"x\",\"Reason\":\"invalid_json\","
	    "\"DeadLetters\":2}\n";
	CHECK_EQ_STR(b.data, want);
	kl_buf_cleanup(&b);
}

static void test_publisher_build(void)
{
	struct kl_metrics m;
	CHECK_EQ_INT(kl_metrics_init(&m), 0);
	snprintf(m.stream, sizeof m.stream, "events");
	struct kl_cw_publisher p;
	memset(&p, 0, sizeof p);
	p.m = &m;
	snprintf(p.stream, sizeof p.stream, "%s", kl_kinesis_stream_name(m.stream));
	p.cap = 8 + KL_REJ_COUNT + KL_METRICS_MAX_SHARDS + 1;
	p.data = calloc(p.cap, sizeof *p.data);
	atomic_fetch_add(&m.records, 100);
	atomic_fetch_add(&m.stored, 90);
	atomic_fetch_add(&m.rejected[KL_REJ_TOO_DEEP], 4);
	struct kl_metrics_shard *s0 = kl_metrics_shard(&m, "shardId-0"),
				*s1 = kl_metrics_shard(&m, "shardId-1");
	kl_metrics_shard(&m, "shardId-2"); /* no GetRecords answer yet: no datum */
	atomic_store(&s0->millis_behind, 500);
	atomic_store(&s1->millis_behind, 1500);
	struct kl_cw_counters now;
	kl_cw_counters_of(&m, &now);
	size_t n = kl_cw_publisher_build(&p, &now);
	CHECK_EQ_INT(n, 8 + 1 + 2 + 1);
	const struct kl_cw_datum *d = find(p.data, n, "RecordsRead", NULL);
	CHECK(d && d->value == 100 && !strcmp(d->dims[0].name, "Stream") &&
	      !strcmp(d->dims[0].value, "events"));
	d = find(p.data, n, "DeadLetters", "too_deep");
	CHECK(d && d->value == 4 && !strcmp(d->dims[1].name, "Reason"));
	d = find(p.data, n, "MillisBehindLatest", "shardId-1");
	CHECK(d && d->value == 1500 && !strcmp(d->unit, "Milliseconds"));
	d = find(p.data, n, "MillisBehindLatest", NULL);
	CHECK(d && d->value == 1500); /* the max over shards */
	CHECK(find(p.data, n, "MillisBehindLatest", "shardId-2") == NULL);
	/* after a successful call: deltas */
	p.sent = now;
	atomic_fetch_add(&m.records, 5);
	kl_cw_counters_of(&m, &now);
	n = kl_cw_publisher_build(&p, &now);
	d = find(p.data, n, "RecordsRead", NULL);
	CHECK(d && d->value == 5);
	d = find(p.data, n, "EventsStored", NULL);
	CHECK(d && d->value == 0);
	CHECK(find(p.data, n, "DeadLetters", "too_deep") == NULL); /* no new ones */
	free(p.data);
	kl_metrics_cleanup(&m);
}

/* Batches are 1..1000 datums: anything else is refused before any request
 * (the endpoint is a closed port, never reached). */
static void test_put_limits(void)
{
	setenv("AWS_REGION", "us-east-1", 1);
	setenv("AWS_ENDPOINT_URL_CLOUDWATCH", "http://127.0.0.1:9/", 1);
	struct kl_cloudwatch cw;
	struct kl_errbuf eb;
	kl_errbuf_clear(&eb);
	int rc = kl_cloudwatch_init(&cw, NULL, &eb);
	CHECK_EQ_INT(rc, 0);
	if (!rc) {
		CHECK_EQ_STR(cw.c.ep.url, "http://127.0.0.1:9");
		CHECK_EQ_STR(cw.c.ep.host, "127.0.0.1:9");
		static struct kl_cw_datum d[KL_CW_MAX_DATA + 1];
		CHECK_EQ_INT(kl_cloudwatch_put(&cw, "ns", d, 0, 0), KL_EINVAL);
		CHECK_EQ_INT(kl_cloudwatch_put(&cw, "ns", d, KL_CW_MAX_DATA + 1, 0), KL_EINVAL);
		CHECK(strstr(cw.c.err.msg, "1001 datums") != NULL);
	}
	kl_cloudwatch_cleanup(&cw);
	unsetenv("AWS_ENDPOINT_URL_CLOUDWATCH");
}

static void test_stream_name(void)
{
	CHECK_EQ_STR(kl_kinesis_stream_name("events"), "events");
	CHECK_EQ_STR(kl_kinesis_stream_name("arn:aws:kinesis:us-east-1:123456789012:stream/events"),
		     "events");
	CHECK_EQ_STR(kl_kinesis_stream_name("arn:aws:kinesis:us-east-1:123456789012:x"),
		     "arn:aws:kinesis:us-east-1:123456789012:x");
}

int main(void)
{
	test_stream_name();
	test_put_limits();
	test_encode();
	test_emf();
	test_publisher_build();
	return check_report("test_cwmetrics");
}
