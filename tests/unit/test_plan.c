/* plan: the seed workload (1M events/hour, 420 bytes, 100 types, peak x2)
 * against a hand computation, price overrides, bad input. */
#include "check.h"
#include "plan/plan.h"

#include <math.h>

#define NEAR(a, b) CHECK(fabs((a) - (b)) < 0.005)

static double cost_of(const struct kl_plan_mode_out *m, const char *label)
{
	for (size_t i = 0; i < m->ncosts; i++)
		if (!strcmp(m->costs[i].label, label))
			return m->costs[i].usd;
	fprintf(stderr, "no cost line '%s'\n", label);
	return -1;
}

static void test_seed(void)
{
	struct kl_plan_in in;
	kl_plan_in_default(&in);
	in.events_per_hour = 1e6;
	in.event_bytes = 420;
	struct kl_plan_out o;
	struct kl_errbuf eb;
	kl_errbuf_clear(&eb);
	CHECK_EQ_INT(kl_plan_compute(&in, &o, &eb), 0);

	/* By hand. 1e6/3600 = 277.78 events/s, x2 peak = 555.56/s < 1000/s: 1 shard
	 * for records. Bytes: 555.56 x 420 = 233,333 B/s = 0.2225 MiB/s < 1 MiB/s:
	 * 1 shard. Reads: 0.2225 < 2 MiB/s: 1 shard. */
	NEAR(o.avg_rps, 277.7778);
	NEAR(o.peak_rps, 555.5556);
	CHECK_EQ_INT(o.shards_records, 1);
	CHECK_EQ_INT(o.shards_bytes, 1);
	CHECK_EQ_INT(o.shards_read, 1);
	CHECK_EQ_INT(o.shards, 1);
	/* a month: 730 h x 1e6 = 730e6 events; x 420 B / 2^30 = 285.5425 GB raw */
	NEAR(o.raw_gb_month, 285.5425);
	/* on-demand: 730 x 0.04 = 29.20; 730e6 x 1 KiB / 2^30 = 696.1823 GB x 0.08
	 * = 55.6946; 285.5425 x 0.04 = 11.4217; sum 96.3163 */
	NEAR(o.kds_ondemand_usd, 96.3163);

	/* every mode: 1 shard x 730 h x 0.015 = 10.95; 730M PUT units x 0.014/M
	 * = 10.22; S3 storage 285.5425 x 0.22 x 0.023 = 1.4448 */
	for (int m = 0; m < KL_PLAN_MODES; m++) {
		NEAR(cost_of(&o.mode[m], "Kinesis shard-hours"), 10.95);
		NEAR(cost_of(&o.mode[m], "Kinesis PUT payload units"), 10.22);
		NEAR(cost_of(&o.mode[m], "S3 storage (one month of data)"), 1.4448);
	}

	/* firehose: records billed as 5 KiB: 730e6 x 5120 / 2^30 = 3480.8807 GB x
	 * 0.029 = 100.9455. Dynamic partitioning 285.5425 x 0.02 = 5.7108. Each
	 * of 100 partitions gets 116,667 B/s / 100 x 900 s = 1.05 MB per 900 s,
	 * far below 64 MiB: 4 objects/h each, 400/h, 292,000/month: 1.46 for
	 * partitioning objects and 1.46 for S3 PUTs. Processor: 420e6 B/h / 1 MiB
	 * = 400.5447 invocations/h (> 60), 1 MiB x 20 ms = 20 ms each; 292,397.6
	 * a month x 0.02 s x 0.25 GB = 1461.99 GB-s x 0.0000166667 = 0.0244;
	 * requests 0.2924M x 0.2 = 0.0585. EMF: 18 metrics x 0.3 = 5.40; logs
	 * 292,397.6 KiB = 0.27885 GB x 0.5 = 0.1394. Concurrency: 400.5447 x 2 /
	 * 3600 x 0.02 s = 0.0045 -> 1. Total 137.8136. */
	const struct kl_plan_mode_out *f = &o.mode[KL_PLAN_FIREHOSE];
	NEAR(cost_of(f, "Firehose ingestion"), 100.9455);
	NEAR(cost_of(f, "Firehose dynamic partitioning (GB)"), 5.7108);
	NEAR(cost_of(f, "Firehose dynamic partitioning (objects)"), 1.46);
	NEAR(cost_of(f, "S3 PUT requests"), 1.46);
	NEAR(cost_of(f, "Lambda compute"), 0.0244);
	NEAR(cost_of(f, "Lambda requests"), 0.0585);
	NEAR(cost_of(f, "CloudWatch metrics (EMF)"), 5.40);
	NEAR(cost_of(f, "CloudWatch Logs (EMF lines)"), 0.1394);
	NEAR(f->objects_hour, 400);
	NEAR(f->lambda_invocations_hour, 400.5447);
	NEAR(f->lambda_duration_ms, 20);
	CHECK_EQ_INT(f->lambda_concurrency, 1);
	CHECK_EQ_INT(f->fh_partitions, 100);
	NEAR(f->total, 137.8136);

	/* lambda: a batch = min(10,000, 277.78/s x 60 s = 16,667, 6 MiB / 420 B =
	 * 14,979) = 10,000 records: 100 invocations/h, 73,000 a month. Each:
	 * 10,000 x 420 B = 4.0054 MiB x 20 ms = 80.11 ms, plus 100 files x 20 ms:
	 * 2080.11 ms. 73,000 x 2.08011 s x 0.25 GB = 37,962 GB-s x 0.0000166667
	 * = 0.6327; requests 0.073 x 0.2 = 0.0146; EMF 5.40; logs 73,000 KiB =
	 * 0.069618 GB x 0.5 = 0.0348. Files: 100 per batch, 10,000/h, 7.3M a
	 * month x 0.005/1000 = 36.50. Total 65.1970. */
	const struct kl_plan_mode_out *l = &o.mode[KL_PLAN_LAMBDA];
	NEAR(l->lambda_invocations_hour, 100);
	NEAR(l->lambda_duration_ms, 2080.1086);
	CHECK_EQ_INT(l->lambda_concurrency, 1);
	NEAR(l->objects_hour, 10000);
	NEAR(cost_of(l, "Lambda compute"), 0.6327);
	NEAR(cost_of(l, "Lambda requests"), 0.0146);
	NEAR(cost_of(l, "CloudWatch Logs (EMF lines)"), 0.0348);
	NEAR(cost_of(l, "S3 PUT requests"), 36.50);
	NEAR(l->total, 65.1970);

	/* consumer: 100 files per shard every 300 s = 1,200/h, 876,000 a month x
	 * 0.005/1000 = 4.38; host 730 x 0.0208 = 15.184; metrics 7 + 9 + 1 shard
	 * + 1 max = 18 x 0.3 = 5.40; PutMetricData 730 x 60 = 43,800 calls x
	 * 0.01/1000 = 0.438. Total 48.0168. */
	const struct kl_plan_mode_out *c = &o.mode[KL_PLAN_CONSUMER];
	NEAR(c->objects_hour, 1200);
	NEAR(cost_of(c, "S3 PUT requests"), 4.38);
	NEAR(cost_of(c, "consumer host"), 15.184);
	NEAR(cost_of(c, "CloudWatch metrics"), 5.40);
	NEAR(cost_of(c, "CloudWatch PutMetricData"), 0.438);
	NEAR(c->total, 48.0168);
	/* every line sums to the total */
	for (int m = 0; m < KL_PLAN_MODES; m++) {
		double s = 0;
		for (size_t i = 0; i < o.mode[m].ncosts; i++)
			s += o.mode[m].costs[i].usd;
		NEAR(s, o.mode[m].total);
	}
}

static void test_big(void)
{
	/* 20M events/h of 2 KiB, peak x3: 16,667/s peak -> 17 shards for records;
	 * 16,667 x 2048 B = 32.55 MiB/s -> 33 shards for bytes; 2 consumers x
	 * 32.55 / 2 -> 33 for reads: 33 shards */
	struct kl_plan_in in;
	kl_plan_in_default(&in);
	in.events_per_hour = 20e6;
	in.event_bytes = 2048;
	in.peak_factor = 3;
	in.consumers = 2;
	struct kl_plan_out o;
	CHECK_EQ_INT(kl_plan_compute(&in, &o, NULL), 0);
	CHECK_EQ_INT(o.shards_records, 17);
	CHECK_EQ_INT(o.shards_bytes, 33);
	CHECK_EQ_INT(o.shards_read, 33);
	CHECK_EQ_INT(o.shards, 33);
	CHECK_EQ_INT(o.mode[KL_PLAN_LAMBDA].lambda_concurrency, 33);
}

static void test_prices(void)
{
	struct kl_plan_in in;
	kl_plan_in_default(&in);
	struct kl_errbuf eb;
	kl_errbuf_clear(&eb);
	CHECK_EQ_INT(kl_plan_prices_override(in.prices, "kds_shard_hour=0.02,s3_put_1k=0", &eb), 0);
	CHECK(in.prices[KL_P_KDS_SHARD_HOUR] == 0.02 && in.prices[KL_P_S3_PUT_1K] == 0);
	CHECK(in.prices[KL_P_FH_GB] == 0.029);
	CHECK_EQ_INT(kl_plan_prices_override(in.prices, "nope=1", &eb), KL_EINVAL);
	CHECK(strstr(eb.msg, "unknown price 'nope'") != NULL);
	kl_errbuf_clear(&eb);
	CHECK_EQ_INT(kl_plan_prices_override(in.prices, "s3_put_1k=-1", &eb), KL_EINVAL);
	CHECK_EQ_INT(kl_plan_prices_override(in.prices, "s3_put_1k", &eb), KL_EINVAL);
	CHECK_EQ_INT(kl_plan_prices_override(in.prices, "s3_put_1k=1x", &eb), KL_EINVAL);
	in.events_per_hour = 0;
	in.event_bytes = 100;
	struct kl_plan_out o;
	CHECK_EQ_INT(kl_plan_compute(&in, &o, NULL), KL_EINVAL);
}

int main(void)
{
	test_seed();
	test_big();
	test_prices();
	return check_report("test_plan");
}
