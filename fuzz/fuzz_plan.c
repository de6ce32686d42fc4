/* fuzz_plan.c — libFuzzer target for plan/: the --price list parser, then
 * the sizing arithmetic and its text on a workload taken from the input.
 * Invariants: never crash; accepted prices are finite and >= 0; a computed
 * plan has at least one shard and finite totals. */
#include "fuzz_common.h"
#include "plan/plan.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 8 || size > 4096)
		return 0;
	struct kl_plan_in in;
	kl_plan_in_default(&in);
	/* the workload from the first 8 bytes */
	in.events_per_hour =
	    (double)((uint32_t)data[0] << 16 | (uint32_t)data[1] << 8 | data[2]) * 97;
	in.event_bytes = (double)((uint32_t)data[3] << 8 | data[4]) + 1;
	in.peak_factor = 1 + data[5] / 16.0;
	in.types = 1u + data[6];
	in.consumers = 1u + (data[7] & 7);
	char list[4096];
	memcpy(list, data + 8, size - 8);
	list[size - 8] = '\0';
	struct kl_errbuf eb;
	kl_errbuf_clear(&eb);
	if (kl_plan_prices_override(in.prices, list, &eb) == KL_OK)
		for (int i = 0; i < KL_P_COUNT; i++)
			REQUIRE(isfinite(in.prices[i]) && in.prices[i] >= 0);
	else
		REQUIRE(eb.msg[0] != '\0');
	struct kl_plan_out o;
	if (kl_plan_compute(&in, &o, NULL) == KL_OK) {
		REQUIRE(o.shards >= 1);
		struct kl_buf b;
		kl_buf_init(&b, 1 << 20);
		REQUIRE(kl_plan_render(&in, &o, 7, &b) == KL_OK);
		kl_buf_cleanup(&b);
	}
	return 0;
}
