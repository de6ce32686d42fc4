/* fuzz_event.c — libFuzzer target for event/ (contract validation and
 * enrichment) plus route/ and deadletter/ on whatever it produces.
 * Invariants: never crash; an accepted event's enriched output is valid JSON
 * (re-parsed), its partition path has exactly the layout's levels, and the
 * partition columns one by one (as the Firehose handler returns them) spell
 * the same path with path-safe bytes only; kl_event_peek_uuid's guess stays
 * in bounds and, where it names the parsed event_uuid's bytes, has its
 * length. */
#include "deadletter/deadletter.h"
#include "event/event.h"
#include "fuzz_common.h"
#include "route/partition.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct kl_event ev; /* reused like the pipeline does */
	static int init;
	if (!init) {
		kl_event_init(&ev);
		init = 1;
	}
	struct kl_event_limits lim = {1 << 20, 64};
	struct kl_buf out, key;
	kl_buf_init(&out, 0);
	kl_buf_init(&key, 0);
	const char *p = (const char *)data;
	/* the uuid guess (a cache hint): inside the record's first bytes, no
	 * quote or escape in it; where it is the parsed event_uuid's spot, it
	 * is the same bytes */
	const char *gu = NULL;
	size_t gn = 0;
	int guessed = kl_event_peek_uuid(p, size, &gu, &gn);
	if (guessed) {
		REQUIRE(gu > p && gn > 0 && gu + gn < p + size);
		REQUIRE((size_t)(gu + gn - p) < KL_EVENT_PEEK_BYTES);
		REQUIRE(!memchr(gu, '"', gn) && !memchr(gu, '\\', gn) && gu[gn] == '"');
	}
	enum kl_reject r = kl_event_parse(&ev, p, size, &lim);
	if (r == KL_REJ_NONE && guessed && ev.uuid.p == gu)
		REQUIRE(ev.uuid.n == gn);
	if (r == KL_REJ_NONE) {
		if (kl_event_write_json(&ev, p, size, &out))
			abort();
		if (kl_json_parse(out.data, out.len, 65, NULL, NULL) != 0)
			abort();
		if (kl_partition_event(&key, &ev))
			abort();
		/* events/event_type=X/event_subtype=Y/dt=D/hr=H: exactly 5 slashes-separated levels */
		int slashes = 0;
		for (size_t i = 0; i < key.len; i++)
			slashes += key.data[i] == '/';
		if (slashes != 4)
			abort();
		/* the columns one at a time (the Firehose handler's partitionKeys):
		 * within their bounds, only [A-Za-z0-9._%-], and the same path */
		struct kl_buf cols;
		kl_buf_init(&cols, 0);
		REQUIRE(!kl_buf_puts(&cols, "events"));
		for (int c = 0; c < KL_PCOL_COUNT; c++) {
			size_t max = kl_partition_value_max(&ev, (enum kl_partition_col)c);
			REQUIRE(!kl_buf_printf(&cols, "/%s=", kl_partition_keys[c].name));
			REQUIRE(!kl_buf_reserve(&cols, max));
			char *v = cols.data + cols.len;
			char *e = kl_partition_value_put(v, &ev, (enum kl_partition_col)c);
			REQUIRE(e > v && (size_t)(e - v) <= max);
			for (char *q = v; q < e; q++)
				REQUIRE((*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z') ||
					(*q >= '0' && *q <= '9') || *q == '.' || *q == '_' ||
					*q == '-' || *q == '%');
			cols.len += (size_t)(e - v);
		}
		REQUIRE(cols.len == key.len && !memcmp(cols.data, key.data, key.len));
		kl_buf_cleanup(&cols);
	} else {
		struct kl_deadletter d = {kl_reject_name(r), ev.msg, "fuzz", 0, ev.err_offset, p, size, size};
		if (kl_deadletter_format(&out, &d))
			abort();
		if (kl_json_parse(out.data, out.len, 4, NULL, NULL) != 0)
			abort();
	}
	kl_buf_cleanup(&out);
	kl_buf_cleanup(&key);
	return 0;
}
