/* test_partition.c — lake layout paths and Hive escaping. */
#include "check.h"
#include "route/partition.h"

int main(void)
{
	struct kl_buf b;
	kl_buf_init(&b, 0);
	kl_hive_escape(&b, "a-Z_0.9", 7);
	CHECK_EQ_MEM(b.data, b.len, "a-Z_0.9");
	kl_buf_reset(&b);
	kl_hive_escape(&b, "web hook/../x=y%:é", 19);
	CHECK_EQ_MEM(b.data, b.len, "web%20hook%2F..%2Fx%3Dy%25%3A%C3%A9");
	kl_buf_reset(&b);
	kl_hive_escape(&b, "", 0);
	CHECK_EQ_MEM(b.data, b.len, "__HIVE_DEFAULT_PARTITION__");
	kl_buf_reset(&b);
	kl_hive_escape(&b, NULL, 0);
	CHECK_EQ_MEM(b.data, b.len, "__HIVE_DEFAULT_PARTITION__");

	struct kl_event ev;
	struct kl_event_limits lim;
	kl_event_init(&ev);
	kl_event_limits_default(&lim);
	const char *e = "{\"event_uuid\":\"u\",\"event_name\":\"pay ment:order/x:done\",\"created_at\":1764550800}";
	CHECK_EQ_INT(kl_event_parse(&ev, e, strlen(e), &lim), 0);
	kl_buf_reset(&b);
	kl_partition_event(&b, &ev);
	CHECK_EQ_MEM(b.data, b.len,
		     "events/event_type=pay%20ment/event_subtype=order%2Fx/dt=2025-12-01/hr=01");
	e = "{\"event_uuid\":\"u\",\"event_name\":\"login\",\"created_at\":0}";
	CHECK_EQ_INT(kl_event_parse(&ev, e, strlen(e), &lim), 0);
	kl_buf_reset(&b);
	kl_partition_event(&b, &ev);
	CHECK_EQ_MEM(b.data, b.len,
		     "events/event_type=login/event_subtype=__HIVE_DEFAULT_PARTITION__/dt=1970-01-01/hr=00");
	kl_buf_reset(&b);
	kl_partition_error(&b, "invalid_json", "2026-11-30");
	CHECK_EQ_MEM(b.data, b.len, "errors/invalid_json/dt=2026-11-30");
	kl_event_cleanup(&ev);
	kl_buf_cleanup(&b);
	return check_report("test_partition");
}
