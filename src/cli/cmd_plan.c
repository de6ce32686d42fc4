/* cmd_plan.c — see cmd_plan.h. */
#include "cli/cmd_plan.h"
#include "cli/opts.h"
#include "plan/plan.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

struct plan_cfg {
	double events_per_hour, event_bytes, peak, compression, ms_per_mib, ms_per_file, memory_mb;
	double fh_buffer_mib, fh_buffer_s, batch_size, batch_window_s, flush_s, metrics_s;
	uint64_t types, consumers;
	int mode;
	const char *prices;
};

#define F(field) offsetof(struct plan_cfg, field)
static const struct kl_opt plan_opts[] = {
    {"events-per-hour", KL_OPT_DOUBLE, F(events_per_hour), NULL, "N",
     "average events per hour (required)", NULL, 0, 0},
    {"event-bytes", KL_OPT_DOUBLE, F(event_bytes), NULL, "B",
     "average bytes per event, as JSON (required)", NULL, 0, 0},
    {"peak-factor", KL_OPT_DOUBLE, F(peak), "2", "F",
     "peak rate / average rate: shards and concurrency are sized for the peak", NULL, 1, 1000},
    {"types", KL_OPT_U64, F(types), "100", "N", "distinct event types (partitions)", NULL, 1,
     1000000},
    {"mode", KL_OPT_CHOICE, F(mode), "all", "all|firehose|lambda|consumer",
     "which deployment to cost (deploy/kinlake.yaml's Mode)", "all|firehose|lambda|consumer", 0, 0},
    {"consumers", KL_OPT_U64, F(consumers), "1", "N",
     "applications reading the stream (they share the 2 MiB/s per shard)", NULL, 1, 1000},
    {"compression", KL_OPT_DOUBLE, F(compression), "0.22", "RATIO",
     "lake bytes / JSON bytes (0.22: the Parquet+zstd lake of make bench)", NULL, 0.001, 10},
    {"lambda-ms-per-mib", KL_OPT_DOUBLE, F(ms_per_mib), "20", "MS",
     "Lambda handler time per MiB of records", NULL, 0, 100000},
    {"lambda-ms-per-file", KL_OPT_DOUBLE, F(ms_per_file), "20", "MS",
     "lambda mode: time per file written to S3", NULL, 0, 100000},
    {"lambda-memory", KL_OPT_DOUBLE, F(memory_mb), "256", "MB", "Lambda memory size", NULL, 128,
     10240},
    {"firehose-buffer-mib", KL_OPT_DOUBLE, F(fh_buffer_mib), "64", "MIB",
     "Firehose S3 buffer size (64-128 with dynamic partitioning)", NULL, 1, 128},
    {"firehose-buffer-seconds", KL_OPT_DOUBLE, F(fh_buffer_s), "900", "S",
     "Firehose S3 buffer interval", NULL, 0, 900},
    {"batch-size", KL_OPT_DOUBLE, F(batch_size), "10000", "N",
     "lambda mode: event source mapping batch size", NULL, 1, 10000},
    {"batch-window", KL_OPT_DOUBLE, F(batch_window_s), "60", "S",
     "lambda mode: maximum batching window", NULL, 0, 300},
    {"flush-interval", KL_OPT_DOUBLE, F(flush_s), "300", "S",
     "consumer mode: ingest --flush-interval", NULL, 1, 86400},
    {"metrics-interval", KL_OPT_DOUBLE, F(metrics_s), "60", "S",
     "consumer mode: CloudWatch publishing interval", NULL, 1, 86400},
    {"price", KL_OPT_STR, F(prices), NULL, "NAME=USD,...",
     "override prices of the table below (us-east-1 list prices by default)", NULL, 0, 0},
};
#undef F
#define NPLAN (sizeof plan_opts / sizeof plan_opts[0])

int kl_cmd_plan(int argc, char **argv)
{
	struct plan_cfg c;
	memset(&c, 0, sizeof c);
	char err[256];
	int r = kl_opts_parse(plan_opts, NPLAN, &c, argc, argv, err, sizeof err);
	if (r == KL_OPTS_HELP) {
		printf("Usage: kinlake plan --events-per-hour N --event-bytes B [options]\n\n"
		       "Size a deployment: Kinesis shards (1,000 records/s and 1 MiB/s written, 2 "
		       "MiB/s\n"
		       "read per shard, at the peak), Firehose buffering and partitions, Lambda\n"
		       "concurrency, objects written to S3, and a monthly cost per mode with each\n"
		       "cost driver on its own line. Example (the seed workload):\n"
		       "  kinlake plan --events-per-hour 1000000 --event-bytes 420 --types 100\n\n"
		       "Options:\n");
		kl_opts_help(stdout, plan_opts, NPLAN);
		printf(
		    "\nPrices (USD, us-east-1 list prices as of %s, from AWS's pricing pages as\n"
		    "last known, not re-read then: check them; --price NAME=VALUE,...):\n",
		    KL_PLAN_PRICES_DATE);
		for (int i = 0; i < KL_P_COUNT; i++)
			printf("  %-24s %-12g %s\n", KL_PLAN_PRICES[i].name, KL_PLAN_PRICES[i].usd,
			       KL_PLAN_PRICES[i].what);
		return 0;
	}
	if (r == KL_OPTS_ERROR) {
		fprintf(stderr, "kinlake plan: %s\n", err);
		return 2;
	}
	if (!(c.events_per_hour > 0) || !(c.event_bytes > 0)) {
		fprintf(stderr,
			"kinlake plan: --events-per-hour and --event-bytes are required and "
			"must be positive\n");
		return 2;
	}
	struct kl_plan_in in;
	kl_plan_in_default(&in);
	in.events_per_hour = c.events_per_hour;
	in.event_bytes = c.event_bytes;
	in.peak_factor = c.peak;
	in.types = (unsigned)c.types;
	in.consumers = (unsigned)c.consumers;
	in.compression = c.compression;
	in.lambda_ms_per_mib = c.ms_per_mib;
	in.lambda_ms_per_file = c.ms_per_file;
	in.lambda_memory_mb = c.memory_mb;
	in.fh_buffer_mib = c.fh_buffer_mib;
	in.fh_buffer_s = c.fh_buffer_s;
	in.batch_size = c.batch_size;
	in.batch_window_s = c.batch_window_s;
	in.flush_interval_s = c.flush_s;
	in.metrics_interval_s = c.metrics_s;
	struct kl_errbuf eb;
	kl_errbuf_clear(&eb);
	if (c.prices && kl_plan_prices_override(in.prices, c.prices, &eb)) {
		fprintf(stderr, "kinlake plan: %s\n", eb.msg);
		return 2;
	}
	struct kl_plan_out out;
	if (kl_plan_compute(&in, &out, &eb)) {
		fprintf(stderr, "kinlake plan: %s\n", eb.msg);
		return 2;
	}
	unsigned modes = c.mode == 0 ? 7u : 1u << (c.mode - 1);
	struct kl_buf b;
	kl_buf_init(&b, 0);
	int rc = kl_plan_render(&in, &out, modes, &b);
	if (!rc)
		fwrite(b.data, 1, b.len, stdout);
	kl_buf_cleanup(&b);
	return rc ? 1 : 0;
}
