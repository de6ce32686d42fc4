/* cmd_plan.c — see cmd_plan.h. */
#include "cli/cmd_plan.h"
#include "config/opts.h"
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
static const struct kl_opt_choice plan_modes[] = {{"all", KL_PLAN_MODES},
						  {"firehose", KL_PLAN_FIREHOSE},
						  {"lambda", KL_PLAN_LAMBDA},
						  {"consumer", KL_PLAN_CONSUMER},
						  {NULL, 0}};
static const struct kl_opt plan_opts[] = {
    {.name = "events-per-hour",
     .type = KL_OPT_DOUBLE,
     .offset = F(events_per_hour),
     .metavar = "N",
     .help = "average events per hour (required)"},
    {.name = "event-bytes",
     .type = KL_OPT_DOUBLE,
     .offset = F(event_bytes),
     .metavar = "B",
     .help = "average bytes per event, as JSON (required)"},
    {.name = "peak-factor",
     .type = KL_OPT_DOUBLE,
     .offset = F(peak),
     .def = "2",
     .metavar = "F",
     .help = "peak rate / average rate: shards and concurrency are sized for the peak",
     .min = 1,
     .max = 1000},
    {.name = "types",
     .type = KL_OPT_U64,
     .offset = F(types),
     .def = "100",
     .metavar = "N",
     .help = "distinct event types (partitions)",
     .min = 1,
     .max = 1000000},
    {.name = "mode",
     .type = KL_OPT_CHOICE,
     .offset = F(mode),
     .def = "all",
     .metavar = "all|firehose|lambda|consumer",
     .help = "which deployment to cost (deploy/kinlake.yaml's Mode)",
     .choices = plan_modes},
    {.name = "consumers",
     .type = KL_OPT_U64,
     .offset = F(consumers),
     .def = "1",
     .metavar = "N",
     .help = "applications reading the stream (they share the 2 MiB/s per shard)",
     .min = 1,
     .max = 1000},
    {.name = "compression",
     .type = KL_OPT_DOUBLE,
     .offset = F(compression),
     .def = "0.22",
     .metavar = "RATIO",
     .help = "lake bytes / JSON bytes (0.22: the Parquet+zstd lake of make bench)",
     .min = 0.001,
     .max = 10},
    {.name = "lambda-ms-per-mib",
     .type = KL_OPT_DOUBLE,
     .offset = F(ms_per_mib),
     .def = "20",
     .metavar = "MS",
     .help = "Lambda handler time per MiB of records",
     .min = 0,
     .max = 100000},
    {.name = "lambda-ms-per-file",
     .type = KL_OPT_DOUBLE,
     .offset = F(ms_per_file),
     .def = "20",
     .metavar = "MS",
     .help = "lambda mode: time per file written to S3",
     .min = 0,
     .max = 100000},
    {.name = "lambda-memory",
     .type = KL_OPT_DOUBLE,
     .offset = F(memory_mb),
     .def = "256",
     .metavar = "MB",
     .help = "Lambda memory size",
     .min = 128,
     .max = 10240},
    {.name = "firehose-buffer-mib",
     .type = KL_OPT_DOUBLE,
     .offset = F(fh_buffer_mib),
     .def = "64",
     .metavar = "MIB",
     .help = "Firehose S3 buffer size (64-128 with dynamic partitioning)",
     .min = 1,
     .max = 128},
    {.name = "firehose-buffer-seconds",
     .type = KL_OPT_DOUBLE,
     .offset = F(fh_buffer_s),
     .def = "900",
     .metavar = "S",
     .help = "Firehose S3 buffer interval",
     .min = 0,
     .max = 900},
    {.name = "batch-size",
     .type = KL_OPT_DOUBLE,
     .offset = F(batch_size),
     .def = "10000",
     .metavar = "N",
     .help = "lambda mode: event source mapping batch size",
     .min = 1,
     .max = 10000},
    {.name = "batch-window",
     .type = KL_OPT_DOUBLE,
     .offset = F(batch_window_s),
     .def = "60",
     .metavar = "S",
     .help = "lambda mode: maximum batching window",
     .min = 0,
     .max = 300},
    {.name = "flush-interval",
     .type = KL_OPT_DOUBLE,
     .offset = F(flush_s),
     .def = "300",
     .metavar = "S",
     .help = "consumer mode: ingest --flush-interval",
     .min = 1,
     .max = 86400},
    {.name = "metrics-interval",
     .type = KL_OPT_DOUBLE,
     .offset = F(metrics_s),
     .def = "60",
     .metavar = "S",
     .help = "consumer mode: CloudWatch publishing interval",
     .min = 1,
     .max = 86400},
    {.name = "price",
     .type = KL_OPT_STR,
     .offset = F(prices),
     .metavar = "NAME=USD,...",
     .help = "override prices of the table below (us-east-1 list prices by default)"},
};
#undef F
#define NPLAN (sizeof plan_opts / sizeof plan_opts[0])

int kl_cmd_plan(int argc, char **argv)
{
	struct plan_cfg c;
	memset(&c, 0, sizeof c);
	struct kl_opts p;
	struct kl_errbuf perr;
	kl_errbuf_clear(&perr);
	int r = kl_opts_init(&p, plan_opts, NPLAN, &c, &perr);
	r = r ? r : kl_opts_argv(&p, argc, argv, &perr);
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
		    "\nPrices (USD, us-east-1 list prices, checked on %s against copies of AWS's\n"
		    "pricing pages, docs/deploy.md: check them; --price NAME=VALUE,...):\n",
		    KL_PLAN_PRICES_DATE);
		for (int i = 0; i < KL_P_COUNT; i++)
			printf("  %-24s %-12g %s\n", KL_PLAN_PRICES[i].name, KL_PLAN_PRICES[i].usd,
			       KL_PLAN_PRICES[i].what);
		return 0;
	}
	if (r) {
		fprintf(stderr, "kinlake plan: %s\n", perr.msg);
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
	unsigned modes = c.mode == KL_PLAN_MODES ? (1u << KL_PLAN_MODES) - 1 : 1u << c.mode;
	struct kl_buf b;
	kl_buf_init(&b, 0);
	int rc = kl_plan_render(&in, &out, modes, &b);
	if (!rc)
		fwrite(b.data, 1, b.len, stdout);
	kl_buf_cleanup(&b);
	return rc ? 1 : 0;
}
