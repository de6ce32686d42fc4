/*
 * plan.h — capacity and monthly cost of a kinlake deployment, from the
 * workload (events per hour, bytes per event, peak factor, event types).
 *
 * kl_plan_compute() is pure arithmetic on a struct kl_plan_in and a price
 * table; kl_plan_render() prints the result as text, one cost driver per
 * line. Sizing rules (each one stated next to its number in the output):
 *   - Kinesis shards: the maximum of the write limits (1,000 records/s and
 *     1 MiB/s per shard) and the read limit (2 MiB/s per shard, shared by
 *     the stream's consumers), at the peak rate (average x peak factor).
 *   - firehose mode: Firehose with dynamic partitioning (one object per
 *     active partition per buffer interval; partitions active ~ event
 *     types), the kinlake Lambda as processor (1 MiB / 60 s processor
 *     buffering).
 *   - lambda mode: the event source mapping, one concurrent batch per shard,
 *     a batch at `batch_size` records or `batch_window_s`, whichever first;
 *     one Parquet file per event type per batch.
 *   - consumer mode: one host running `ingest --stream`; one file per shard
 *     and event type every `flush_interval_s`.
 * A month is 730 hours; GB are 2^30 bytes, as AWS bills them.
 *
 * Prices: KL_PLAN_PRICES, us-east-1 list prices, with the date they were
 * noted (KL_PLAN_PRICES_DATE); kl_plan_prices_override() takes
 * "name=value[,name=value...]" (the --price flag).
 */
#ifndef KL_PLAN_PLAN_H
#define KL_PLAN_PLAN_H

#include "core/buf.h"
#include "core/err.h"

#include <stddef.h>

enum kl_plan_price {
	KL_P_KDS_SHARD_HOUR,	 /* provisioned shard-hour */
	KL_P_KDS_PUT_MILLION,	 /* a million PUT payload units (25 KiB each) */
	KL_P_KDS_OD_STREAM_HOUR, /* on-demand: stream-hour */
	KL_P_KDS_OD_GB_IN,	 /* on-demand: GB written (records rounded up to 1 KiB) */
	KL_P_KDS_OD_GB_OUT,	 /* on-demand: GB read */
	KL_P_FH_GB,		 /* Firehose ingestion, GB (records rounded up to 5 KiB) */
	KL_P_FH_DP_GB,		 /* dynamic partitioning, GB processed */
	KL_P_FH_DP_1K_OBJECTS,	 /* dynamic partitioning, 1,000 objects delivered */
	KL_P_LAMBDA_GB_S,	 /* Lambda compute, GB-second (x86_64) */
	KL_P_LAMBDA_MILLION,	 /* Lambda, a million requests */
	KL_P_S3_PUT_1K,		 /* S3 PUT/COPY/POST/LIST, 1,000 requests */
	KL_P_S3_GB_MONTH,	 /* S3 Standard storage, GB-month */
	KL_P_EC2_HOUR,		 /* the consumer's host (default: t3.small on demand) */
	KL_P_CW_METRIC_MONTH,	 /* CloudWatch custom metric-month */
	KL_P_CW_PUT_1K,		 /* CloudWatch PutMetricData, 1,000 requests */
	KL_P_CW_LOGS_GB,	 /* CloudWatch Logs ingestion, GB (the Lambda's EMF lines) */
	KL_P_COUNT
};

#define KL_PLAN_PRICES_DATE "2026-12-05"

struct kl_plan_price_def {
	const char *name; /* for --price NAME=VALUE */
	double usd;
	const char *what;
};

/* The default table (us-east-1). */
extern const struct kl_plan_price_def KL_PLAN_PRICES[KL_P_COUNT];

enum kl_plan_mode { KL_PLAN_FIREHOSE, KL_PLAN_LAMBDA, KL_PLAN_CONSUMER, KL_PLAN_MODES };

struct kl_plan_in {
	double events_per_hour;
	double event_bytes;
	double peak_factor;	   /* >= 1 */
	unsigned types;		   /* distinct event types (partitions) */
	unsigned consumers;	   /* applications reading the stream (>= 1) */
	double compression;	   /* lake bytes / raw JSON bytes */
	double lambda_ms_per_mib;  /* handler time per MiB of records */
	double lambda_ms_per_file; /* ESM path: time per file written to S3 */
	double lambda_memory_mb;
	double fh_buffer_mib, fh_buffer_s; /* Firehose S3 buffering hints */
	double batch_size, batch_window_s; /* lambda mode: event source mapping */
	double flush_interval_s;	   /* consumer mode */
	double metrics_interval_s;	   /* consumer mode: PutMetricData period */
	double prices[KL_P_COUNT];
};

/* Defaults: peak 2, 100 types, 1 consumer, compression 0.22 (the Parquet
 * lake of `make bench`), 20 ms/MiB, 20 ms/file, 256 MB, Firehose 64 MiB /
 * 900 s, batches of 10,000 records or 60 s, flush 300 s, metrics 60 s, the
 * default price table. */
void kl_plan_in_default(struct kl_plan_in *in);

/* Apply "name=value[,name=value...]"; KL_EINVAL with the offending name. */
int kl_plan_prices_override(double prices[KL_P_COUNT], const char *list, struct kl_errbuf *eb);

#define KL_PLAN_MAX_COSTS 12

struct kl_plan_cost {
	const char *label;
	char detail[160]; /* quantity x unit price */
	double usd;
};

struct kl_plan_mode_out {
	/* capacity */
	double lambda_invocations_hour;
	double lambda_duration_ms;
	unsigned lambda_concurrency;
	double objects_hour;	/* files written to the lake per hour */
	double object_bytes;	/* average file size (compressed where kinlake writes) */
	unsigned fh_partitions; /* Firehose: active partitions */
	/* monthly cost */
	struct kl_plan_cost costs[KL_PLAN_MAX_COSTS];
	size_t ncosts;
	double total;
};

struct kl_plan_out {
	double avg_rps, peak_rps; /* events/s */
	double avg_bps, peak_bps; /* bytes/s */
	unsigned shards_records, shards_bytes, shards_read, shards;
	double kds_ondemand_usd; /* the same stream in on-demand mode, per month */
	double events_month, raw_gb_month, lake_gb_month;
	struct kl_plan_mode_out mode[KL_PLAN_MODES];
};

/* KL_EINVAL on a workload that cannot be sized (non-positive numbers). */
int kl_plan_compute(const struct kl_plan_in *in, struct kl_plan_out *out, struct kl_errbuf *eb);

/* Text for the modes whose bit (1 << mode) is set in `modes`. */
int kl_plan_render(const struct kl_plan_in *in, const struct kl_plan_out *out, unsigned modes,
		   struct kl_buf *b);

const char *kl_plan_mode_name(enum kl_plan_mode m);

#endif
