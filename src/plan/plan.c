/* plan.c — see plan.h. */
#include "plan/plan.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HOURS 730.0
#define MIB 1048576.0
#define GIB 1073741824.0

/* us-east-1 list prices, checked on KL_PLAN_PRICES_DATE against public
 * copies of AWS's pricing pages (AWS's own rate tables could not be read
 * offline; docs/deploy.md, "What `kinlake plan` charges", names the source of
 * each). Check them, and override with --price. */
const struct kl_plan_price_def KL_PLAN_PRICES[KL_P_COUNT] = {
    [KL_P_KDS_SHARD_HOUR] = {"kds_shard_hour", 0.015, "Kinesis provisioned shard-hour"},
    [KL_P_KDS_PUT_MILLION] = {"kds_put_million", 0.014, "Kinesis 1M PUT payload units (25 KiB)"},
    [KL_P_KDS_OD_STREAM_HOUR] = {"kds_od_stream_hour", 0.04, "Kinesis on-demand stream-hour"},
    [KL_P_KDS_OD_GB_IN] = {"kds_od_gb_in", 0.08, "Kinesis on-demand GB written"},
    [KL_P_KDS_OD_GB_OUT] = {"kds_od_gb_out", 0.04, "Kinesis on-demand GB read"},
    [KL_P_FH_GB] = {"firehose_gb", 0.029, "Firehose ingestion GB (5 KiB records)"},
    [KL_P_FH_DP_GB] = {"firehose_dp_gb", 0.02, "Firehose dynamic partitioning GB"},
    [KL_P_FH_DP_1K_OBJECTS] = {"firehose_dp_1k_objects", 0.005,
			       "Firehose dynamic partitioning 1,000 objects"},
    [KL_P_LAMBDA_GB_S] = {"lambda_gb_s", 0.0000166667, "Lambda GB-second (x86_64)"},
    [KL_P_LAMBDA_MILLION] = {"lambda_million", 0.20, "Lambda 1M requests"},
    [KL_P_S3_PUT_1K] = {"s3_put_1k", 0.005, "S3 1,000 PUT requests"},
    [KL_P_S3_GB_MONTH] = {"s3_gb_month", 0.023, "S3 Standard GB-month"},
    [KL_P_EC2_HOUR] = {"ec2_hour", 0.0208, "consumer host hour (t3.small)"},
    [KL_P_CW_METRIC_MONTH] = {"cw_metric_month", 0.30, "CloudWatch custom metric-month"},
    [KL_P_CW_PUT_1K] = {"cw_put_1k", 0.01, "CloudWatch 1,000 PutMetricData requests"},
    [KL_P_CW_LOGS_GB] = {"cw_logs_gb", 0.50, "CloudWatch Logs GB ingested"},
};

static const char *const mode_names[KL_PLAN_MODES] = {"firehose", "lambda", "consumer"};

const char *kl_plan_mode_name(enum kl_plan_mode m)
{
	return (unsigned)m < KL_PLAN_MODES ? mode_names[m] : "?";
}

void kl_plan_in_default(struct kl_plan_in *in)
{
	memset(in, 0, sizeof *in);
	in->peak_factor = 2;
	in->types = 100;
	in->consumers = 1;
	in->compression = 0.22;
	in->lambda_ms_per_mib = 20;
	in->lambda_ms_per_file = 20;
	in->lambda_memory_mb = 256;
	in->fh_buffer_mib = 64;
	in->fh_buffer_s = 900;
	in->batch_size = 10000;
	in->batch_window_s = 60;
	in->flush_interval_s = 300;
	in->metrics_interval_s = 60;
	for (int i = 0; i < KL_P_COUNT; i++)
		in->prices[i] = KL_PLAN_PRICES[i].usd;
}

int kl_plan_prices_override(double prices[KL_P_COUNT], const char *list, struct kl_errbuf *eb)
{
	const char *p = list;
	while (*p) {
		size_t n = strcspn(p, ",");
		const char *eq = memchr(p, '=', n);
		if (!eq)
			return kl_errbuf_set(eb, KL_EINVAL, "--price: '%.*s' is not NAME=VALUE",
					     (int)n, p);
		int i;
		for (i = 0; i < KL_P_COUNT; i++)
			if (strlen(KL_PLAN_PRICES[i].name) == (size_t)(eq - p) &&
			    !memcmp(KL_PLAN_PRICES[i].name, p, (size_t)(eq - p)))
				break;
		if (i == KL_P_COUNT)
			return kl_errbuf_set(
			    eb, KL_EINVAL,
			    "--price: unknown price '%.*s' (see kinlake plan --help)",
			    (int)(eq - p), p);
		char num[64];
		size_t vl = n - (size_t)(eq + 1 - p);
		if (vl == 0 || vl >= sizeof num)
			return kl_errbuf_set(eb, KL_EINVAL, "--price: bad value for %s",
					     KL_PLAN_PRICES[i].name);
		memcpy(num, eq + 1, vl);
		num[vl] = '\0';
		char *end;
		double v = strtod(num, &end);
		if (*end || !isfinite(v) || v < 0)
			return kl_errbuf_set(eb, KL_EINVAL, "--price: bad value '%s' for %s", num,
					     KL_PLAN_PRICES[i].name);
		prices[i] = v;
		p += n;
		if (*p == ',')
			p++;
	}
	return KL_OK;
}

static void cost(struct kl_plan_mode_out *m, const char *label, double usd, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* One cost driver: its label, the arithmetic behind it, and the amount. */
static void cost(struct kl_plan_mode_out *m, const char *label, double usd, const char *fmt, ...)
{
	if (m->ncosts == KL_PLAN_MAX_COSTS)
		return;
	struct kl_plan_cost *c = &m->costs[m->ncosts++];
	c->label = label;
	c->usd = usd;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->detail, sizeof c->detail, fmt, ap);
	va_end(ap);
	m->total += usd;
}

static unsigned ceil_u(double x)
{
	double c = ceil(x - 1e-9); /* 2.0000000001 from rounding is 2 */
	return c < 1 ? 1 : (unsigned)c;
}

/* Kinesis, S3 storage: in every mode. */
static void common(const struct kl_plan_in *in, const struct kl_plan_out *o,
		   struct kl_plan_mode_out *m)
{
	const double *P = in->prices;
	cost(m, "Kinesis shard-hours", o->shards * HOURS * P[KL_P_KDS_SHARD_HOUR],
	     "%u shard%s x %.0f h x $%g", o->shards, o->shards == 1 ? "" : "s", HOURS,
	     P[KL_P_KDS_SHARD_HOUR]);
	double units = o->events_month * ceil(in->event_bytes / 25600.0) / 1e6;
	cost(m, "Kinesis PUT payload units", units * P[KL_P_KDS_PUT_MILLION],
	     "%.1fM units (one event per record) x $%g/M", units, P[KL_P_KDS_PUT_MILLION]);
}

static void storage(const struct kl_plan_in *in, const struct kl_plan_out *o,
		    struct kl_plan_mode_out *m)
{
	const double *P = in->prices;
	cost(m, "S3 PUT requests", m->objects_hour * HOURS / 1000 * P[KL_P_S3_PUT_1K],
	     "%.0f objects x $%g/1000", m->objects_hour * HOURS, P[KL_P_S3_PUT_1K]);
	cost(m, "S3 storage (one month of data)", o->lake_gb_month * P[KL_P_S3_GB_MONTH],
	     "%.1f GB (x%.2f of the JSON) x $%g; grows by this every month", o->lake_gb_month,
	     in->compression, P[KL_P_S3_GB_MONTH]);
}

static void lambda_cost(const struct kl_plan_in *in, struct kl_plan_mode_out *m)
{
	const double *P = in->prices;
	double inv = m->lambda_invocations_hour * HOURS;
	double gbs = inv * m->lambda_duration_ms / 1000 * in->lambda_memory_mb / 1024;
	cost(m, "Lambda compute", gbs * P[KL_P_LAMBDA_GB_S],
	     "%.0f GB-s (%.0f x %.1f ms x %.0f MB) x $%g", gbs, inv, m->lambda_duration_ms,
	     in->lambda_memory_mb, P[KL_P_LAMBDA_GB_S]);
	cost(m, "Lambda requests", inv / 1e6 * P[KL_P_LAMBDA_MILLION], "%.3fM x $%g/M", inv / 1e6,
	     P[KL_P_LAMBDA_MILLION]);
	/* EMF (docs/metrics.md): 7 counters, BatchLatency, 10 dead-letter reasons */
	cost(m, "CloudWatch metrics (EMF)", 18 * P[KL_P_CW_METRIC_MONTH], "18 metrics x $%g",
	     P[KL_P_CW_METRIC_MONTH]);
	double logs = inv * 1024 / GIB;
	cost(m, "CloudWatch Logs (EMF lines)", logs * P[KL_P_CW_LOGS_GB],
	     "%.2f GB (1 KiB/invocation) x $%g", logs, P[KL_P_CW_LOGS_GB]);
}

static void plan_firehose(const struct kl_plan_in *in, const struct kl_plan_out *o,
			  struct kl_plan_mode_out *m)
{
	const double *P = in->prices;
	m->fh_partitions = in->types;
	double per_part_hour = o->avg_bps * 3600 / in->types;
	double flushes = fmax(3600 / in->fh_buffer_s, per_part_hour / (in->fh_buffer_mib * MIB));
	m->objects_hour = in->types * flushes;
	m->object_bytes = o->avg_bps * 3600 * in->compression / m->objects_hour;
	/* the processor: 1 MiB or 60 s of records per invocation */
	m->lambda_invocations_hour = fmax(60, o->avg_bps * 3600 / MIB);
	m->lambda_duration_ms =
	    fmax(1, o->avg_bps * 3600 / m->lambda_invocations_hour / MIB * in->lambda_ms_per_mib);
	m->lambda_concurrency = ceil_u(m->lambda_invocations_hour * in->peak_factor / 3600 *
				       m->lambda_duration_ms / 1000);
	common(in, o, m);
	double fh_gb = o->events_month * ceil(in->event_bytes / 5120.0) * 5120 / GIB;
	cost(m, "Firehose ingestion", fh_gb * P[KL_P_FH_GB],
	     "%.1f GB (each record billed as 5 KiB) x $%g", fh_gb, P[KL_P_FH_GB]);
	cost(m, "Firehose dynamic partitioning (GB)", o->raw_gb_month * P[KL_P_FH_DP_GB],
	     "%.1f GB x $%g", o->raw_gb_month, P[KL_P_FH_DP_GB]);
	cost(m, "Firehose dynamic partitioning (objects)",
	     m->objects_hour * HOURS / 1000 * P[KL_P_FH_DP_1K_OBJECTS], "%.0f objects x $%g/1000",
	     m->objects_hour * HOURS, P[KL_P_FH_DP_1K_OBJECTS]);
	lambda_cost(in, m);
	storage(in, o, m);
}

static void plan_lambda(const struct kl_plan_in *in, const struct kl_plan_out *o,
			struct kl_plan_mode_out *m)
{
	double per_shard_rps = o->avg_rps / o->shards;
	double batch = fmin(in->batch_size,
			    fmin(per_shard_rps * in->batch_window_s, 6 * MIB / in->event_bytes));
	batch = fmax(batch, 1);
	double files = fmin(in->types, batch);
	m->lambda_invocations_hour = o->avg_rps * 3600 / batch;
	m->lambda_duration_ms =
	    batch * in->event_bytes / MIB * in->lambda_ms_per_mib + files * in->lambda_ms_per_file;
	m->lambda_concurrency = o->shards; /* one batch in flight per shard */
	m->objects_hour = m->lambda_invocations_hour * files;
	m->object_bytes = o->avg_bps * 3600 * in->compression / m->objects_hour;
	common(in, o, m);
	lambda_cost(in, m);
	storage(in, o, m);
}

static void plan_consumer(const struct kl_plan_in *in, const struct kl_plan_out *o,
			  struct kl_plan_mode_out *m)
{
	const double *P = in->prices;
	double per_shard_rps = o->avg_rps / o->shards;
	double files = fmin(in->types, fmax(1, per_shard_rps * in->flush_interval_s));
	m->objects_hour = o->shards * files * 3600 / in->flush_interval_s;
	m->object_bytes = o->avg_bps * 3600 * in->compression / m->objects_hour;
	common(in, o, m);
	cost(m, "consumer host", HOURS * P[KL_P_EC2_HOUR], "1 host x %.0f h x $%g", HOURS,
	     P[KL_P_EC2_HOUR]);
	/* 7 counters + 9 reasons + MillisBehindLatest per shard and the max */
	unsigned metrics = 7 + 9 + o->shards + 1;
	cost(m, "CloudWatch metrics", metrics * P[KL_P_CW_METRIC_MONTH], "%u metrics x $%g",
	     metrics, P[KL_P_CW_METRIC_MONTH]);
	double calls = HOURS * 3600 / in->metrics_interval_s;
	cost(m, "CloudWatch PutMetricData", calls / 1000 * P[KL_P_CW_PUT_1K],
	     "%.0f calls (every %.0f s) x $%g/1000", calls, in->metrics_interval_s,
	     P[KL_P_CW_PUT_1K]);
	storage(in, o, m);
}

int kl_plan_compute(const struct kl_plan_in *in, struct kl_plan_out *o, struct kl_errbuf *eb)
{
	memset(o, 0, sizeof *o);
	if (!(in->events_per_hour > 0) || !(in->event_bytes > 0) || !(in->peak_factor >= 1) ||
	    !in->types || !in->consumers || !(in->compression > 0) || !(in->fh_buffer_s > 0) ||
	    !(in->fh_buffer_mib > 0) || !(in->batch_size >= 1) || !(in->batch_window_s > 0) ||
	    !(in->flush_interval_s > 0) || !(in->metrics_interval_s > 0))
		return kl_errbuf_set(eb, KL_EINVAL,
				     "the workload needs positive numbers (peak factor >= 1)");
	if (in->event_bytes > 1048576)
		return kl_errbuf_set(eb, KL_EINVAL,
				     "an event over 1 MiB does not fit a Kinesis record");
	o->avg_rps = in->events_per_hour / 3600;
	o->peak_rps = o->avg_rps * in->peak_factor;
	o->avg_bps = o->avg_rps * in->event_bytes;
	o->peak_bps = o->avg_bps * in->peak_factor;
	o->shards_records = ceil_u(o->peak_rps / 1000);
	o->shards_bytes = ceil_u(o->peak_bps / MIB);
	o->shards_read = ceil_u(o->peak_bps * in->consumers / (2 * MIB));
	o->shards = o->shards_records;
	if (o->shards_bytes > o->shards)
		o->shards = o->shards_bytes;
	if (o->shards_read > o->shards)
		o->shards = o->shards_read;
	o->events_month = in->events_per_hour * HOURS;
	o->raw_gb_month = o->events_month * in->event_bytes / GIB;
	o->lake_gb_month = o->raw_gb_month * in->compression;
	const double *P = in->prices;
	o->kds_ondemand_usd =
	    HOURS * P[KL_P_KDS_OD_STREAM_HOUR] +
	    o->events_month * ceil(in->event_bytes / 1024) * 1024 / GIB * P[KL_P_KDS_OD_GB_IN] +
	    o->raw_gb_month * in->consumers * P[KL_P_KDS_OD_GB_OUT];
	plan_firehose(in, o, &o->mode[KL_PLAN_FIREHOSE]);
	plan_lambda(in, o, &o->mode[KL_PLAN_LAMBDA]);
	plan_consumer(in, o, &o->mode[KL_PLAN_CONSUMER]);
	return KL_OK;
}

static int render_mode(const struct kl_plan_in *in, const struct kl_plan_out *o, int i,
		       struct kl_buf *b)
{
	const struct kl_plan_mode_out *m = &o->mode[i];
	int rc = kl_buf_printf(b, "\nmode %s\n", mode_names[i]);
	if (!rc && i == KL_PLAN_FIREHOSE)
		rc = kl_buf_printf(
		    b,
		    "  Firehose buffering       %.0f MiB or %.0f s (dynamic partitioning; "
		    "the interval decides below %.2f MiB/s per partition)\n"
		    "  Firehose partitions      %u active (one per event type and hour; "
		    "quota 500)\n"
		    "  processor Lambda         1 MiB or 60 s per invocation\n",
		    in->fh_buffer_mib, in->fh_buffer_s, in->fh_buffer_mib / in->fh_buffer_s,
		    m->fh_partitions);
	if (!rc && i == KL_PLAN_LAMBDA)
		rc = kl_buf_printf(b,
				   "  event source mapping     batch size %.0f, window %.0f s, "
				   "parallelization factor 1\n",
				   in->batch_size, in->batch_window_s);
	if (!rc && i == KL_PLAN_CONSUMER)
		rc = kl_buf_printf(b,
				   "  ingest --stream          one host, --flush-interval %.0f, "
				   "--cloudwatch-namespace with --metrics-interval %.0f\n",
				   in->flush_interval_s, in->metrics_interval_s);
	if (!rc && i != KL_PLAN_CONSUMER)
		rc = kl_buf_printf(
		    b,
		    "  Lambda concurrency       %u (%.1f invocations/h, %.1f ms each, "
		    "%.0f MB)\n",
		    m->lambda_concurrency, m->lambda_invocations_hour, m->lambda_duration_ms,
		    in->lambda_memory_mb);
	rc = rc ? rc
		: kl_buf_printf(b, "  objects to S3            %.0f/hour, %.2f MB average\n",
				m->objects_hour, m->object_bytes / 1e6);
	rc = rc ? rc : kl_buf_puts(b, "  monthly cost (730 h)\n");
	for (size_t j = 0; j < m->ncosts && !rc; j++)
		rc = kl_buf_printf(b, "    %-40s %10.2f USD   %s\n", m->costs[j].label,
				   m->costs[j].usd, m->costs[j].detail);
	rc = rc ? rc : kl_buf_printf(b, "    %-40s %10.2f USD\n", "total", m->total);
	return rc;
}

int kl_plan_render(const struct kl_plan_in *in, const struct kl_plan_out *o, unsigned modes,
		   struct kl_buf *b)
{
	int rc = kl_buf_printf(
	    b,
	    "workload: %.0f events/hour x %.0f bytes, peak x%.2g, %u event types\n"
	    "  average                  %.1f events/s, %.3f MiB/s\n"
	    "  peak                     %.1f events/s, %.3f MiB/s\n"
	    "\nKinesis Data Stream\n"
	    "  shards for records       %u (peak %.1f records/s / 1000 per shard)\n"
	    "  shards for bytes         %u (peak %.3f MiB/s / 1 MiB/s per shard)\n"
	    "  shards for reads         %u (%u consumer%s x %.3f MiB/s / 2 MiB/s per shard)\n"
	    "  shards                   %u   (on-demand instead: %.2f USD/month)\n",
	    in->events_per_hour, in->event_bytes, in->peak_factor, in->types, o->avg_rps,
	    o->avg_bps / MIB, o->peak_rps, o->peak_bps / MIB, o->shards_records, o->peak_rps,
	    o->shards_bytes, o->peak_bps / MIB, o->shards_read, in->consumers,
	    in->consumers == 1 ? "" : "s", o->peak_bps / MIB, o->shards, o->kds_ondemand_usd);
	for (int i = 0; i < KL_PLAN_MODES && !rc; i++)
		if (modes & (1u << i))
			rc = render_mode(in, o, i, b);
	rc = rc ? rc
		: kl_buf_printf(
		      b,
		      "\nprices: us-east-1 list prices in USD, checked on %s against copies of "
		      "AWS's pricing pages\n(docs/deploy.md): check them; kinlake plan --help "
		      "lists them, --price NAME=VALUE,... overrides\n",
		      KL_PLAN_PRICES_DATE);
	return rc;
}
