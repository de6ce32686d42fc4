/* test_partition.c — lake layout paths and Hive escaping (route/partition.h):
 * the escaping of every byte, the partition columns the Firehose handler
 * returns, the dates of events and dead letters. */
#include "check.h"
#include "core/err.h"
#include "route/partition.h"

#include <time.h>

static void escaping(void)
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

	/* unescape: the inverse, and only of what escape writes */
	static const char *const values[] = {"a-Z_0.9", "web hook/../x=y%:é", "", "a\0b"};
	static const size_t lens[] = {7, 19, 0, 3};
	for (size_t i = 0; i < 4; i++) {
		struct kl_buf esc, back;
		kl_buf_init(&esc, 0);
		kl_buf_init(&back, 0);
		kl_hive_escape(&esc, values[i], lens[i]);
		CHECK_EQ_INT(kl_hive_unescape(&back, esc.data, esc.len), KL_OK);
		CHECK(back.len == lens[i] && (!lens[i] || !memcmp(back.data, values[i], lens[i])));
		kl_buf_cleanup(&esc);
		kl_buf_cleanup(&back);
	}
	static const char *const not_escaped[] = {"a b", "%2", "%zz", "%2f", "x/y", ""};
	for (size_t i = 0; i < 6; i++) {
		kl_buf_reset(&b);
		CHECK_EQ_INT(kl_hive_unescape(&b, not_escaped[i], strlen(not_escaped[i])), KL_EPARSE);
	}
	kl_buf_reset(&b);
	kl_hive_escape(&b, NULL, 5); /* no bytes: a null value, whatever the length */
	CHECK_EQ_MEM(b.data, b.len, "__HIVE_DEFAULT_PARTITION__");
	kl_buf_reset(&b);
	kl_hive_escape(&b, "..", 2); /* dots stay, but never alone with a '/' */
	CHECK_EQ_MEM(b.data, b.len, "..");
	kl_buf_reset(&b);
	kl_hive_escape(&b, "a\0b", 3);
	CHECK_EQ_MEM(b.data, b.len, "a%00b");

	/* every byte value, one at a time: [A-Za-z0-9._-] as is, the rest %XX
	 * upper-case, and the output never longer than kl_hive_max() */
	static const char hex[] = "0123456789ABCDEF";
	int bad = 0;
	for (int c = 0; c < 256; c++) {
		char in = (char)c, want[4];
		int keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			   (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
		if (keep) {
			want[0] = (char)c;
			want[1] = '\0';
		} else {
			want[0] = '%';
			want[1] = hex[c >> 4];
			want[2] = hex[c & 15];
			want[3] = '\0';
		}
		kl_buf_reset(&b);
		kl_hive_escape(&b, &in, 1);
		bad += b.len != strlen(want) || memcmp(b.data, want, b.len) != 0 ||
		       b.len > kl_hive_max(1);
	}
	CHECK_EQ_INT(bad, 0);

	/* kl_hive_put writes exactly what kl_hive_escape appends */
	char room[3 * 64];
	const char *odd = "x/y=z%20 a:b..\xff\x01";
	kl_buf_reset(&b);
	kl_hive_escape(&b, odd, strlen(odd));
	char *end = kl_hive_put(room, odd, strlen(odd));
	CHECK_EQ_MEM(room, (size_t)(end - room), "x%2Fy%3Dz%2520%20a%3Ab..%FF%01");
	CHECK((size_t)(end - room) == b.len && !memcmp(room, b.data, b.len));
	CHECK(kl_hive_max(0) == strlen(KL_HIVE_DEFAULT));
	CHECK(kl_hive_max(20) == 60);
	kl_buf_cleanup(&b);
}

/* parse `name` at created_at `t`; the events/ path of the route stage. The
 * event's spans point into the record: it lives on until the next call. */
static void path_of(struct kl_event *ev, const char *name, const char *t, struct kl_buf *b)
{
	struct kl_event_limits lim;
	kl_event_limits_default(&lim);
	static char e[512];
	snprintf(e, sizeof e, "{\"event_uuid\":\"u\",\"event_name\":\"%s\",\"created_at\":%s}",
		 name, t);
	CHECK_EQ_INT(kl_event_parse(ev, e, strlen(e), &lim), 0);
	kl_buf_reset(b);
	CHECK_EQ_INT(kl_partition_event(b, ev), 0);
}

/* the path built from the columns one by one, as a Firehose prefix does:
 * events/<key>=<value>/... */
static void path_from_columns(const struct kl_event *ev, struct kl_buf *b)
{
	kl_buf_reset(b);
	kl_buf_puts(b, "events");
	for (int c = 0; c < KL_PCOL_COUNT; c++) {
		char v[512];
		size_t max = kl_partition_value_max(ev, (enum kl_partition_col)c);
		CHECK(max <= sizeof v);
		char *e = kl_partition_value_put(v, ev, (enum kl_partition_col)c);
		CHECK((size_t)(e - v) <= max);
		kl_buf_printf(b, "/%s=%.*s", kl_partition_keys[c].name, (int)(e - v), v);
		CHECK_EQ_INT(kl_partition_keys[c].len, strlen(kl_partition_keys[c].name));
	}
}

static void events(void)
{
	struct kl_buf b, c;
	kl_buf_init(&b, 0);
	kl_buf_init(&c, 0);
	struct kl_event ev;
	kl_event_init(&ev);

	CHECK_EQ_STR(kl_partition_keys[KL_PCOL_EVENT_TYPE].name, "event_type");
	CHECK_EQ_STR(kl_partition_keys[KL_PCOL_EVENT_SUBTYPE].name, "event_subtype");
	CHECK_EQ_STR(kl_partition_keys[KL_PCOL_DT].name, "dt");
	CHECK_EQ_STR(kl_partition_keys[KL_PCOL_HR].name, "hr");

	path_of(&ev, "pay ment:order/x:done", "1764550800", &b);
	CHECK_EQ_MEM(b.data, b.len,
		     "events/event_type=pay%20ment/event_subtype=order%2Fx/dt=2025-12-01/hr=01");
	/* the event type of such a key, escaped (the registry's read-ahead) */
	const char *t;
	size_t tn;
	CHECK_EQ_INT(kl_partition_key_type(b.data, b.len, &t, &tn), 0);
	CHECK_EQ_MEM(t, tn, "pay%20ment");
	CHECK_EQ_INT(kl_partition_key_type("events/event_type=x", 19, &t, &tn), 0);
	CHECK_EQ_MEM(t, tn, "x");
	CHECK_EQ_INT(kl_partition_key_type("errors/invalid_json/dt=2026-11-30", 33, &t, &tn), -1);
	CHECK_EQ_INT(kl_partition_key_type("events/event_type=/dt=x", 23, &t, &tn), -1);
	CHECK_EQ_INT(kl_partition_key_type("events/event_subtype=a", 22, &t, &tn), -1);
	CHECK_EQ_INT(kl_partition_key_type("events/event_type", 17, &t, &tn), -1);
	path_of(&ev, "login", "0", &b);
	CHECK_EQ_MEM(b.data, b.len,
		     "events/event_type=login/event_subtype=__HIVE_DEFAULT_PARTITION__/dt=1970-01-01/hr=00");
	/* empty type and subtype; a fractional created_at just before midnight */
	path_of(&ev, ":", "1764633599.999", &b);
	CHECK_EQ_MEM(b.data, b.len,
		     "events/event_type=__HIVE_DEFAULT_PARTITION__/event_subtype="
		     "__HIVE_DEFAULT_PARTITION__/dt=2025-12-01/hr=23");
	/* escapes in the JSON name are decoded before escaping for the path */
	path_of(&ev, "a\\/b:..\\u0025=\\u00e9", "253402300799", &b);
	CHECK_EQ_MEM(b.data, b.len,
		     "events/event_type=a%2Fb/event_subtype=..%25%3D%C3%A9/dt=9999-12-31/hr=23");

	/* the columns one by one give the same path, for names of every shape */
	const char *names[] = {"a:b",
			       "a",
			       ":",
			       "::",
			       "a::b",
			       ":b",
			       "..:..",
			       "%:%25",
			       "x y:z=w",
			       "é:ü",
			       "a:b:c:d",
			       "\\u0000:\\u001f",
			       "__HIVE_DEFAULT_PARTITION__:-"};
	for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
		path_of(&ev, names[i], "1764550800.5", &b);
		path_from_columns(&ev, &c);
		CHECK(b.len == c.len && !memcmp(b.data, c.data, b.len));
		/* exactly five levels: no value adds one */
		int slashes = 0;
		for (size_t j = 0; j < b.len; j++)
			slashes += b.data[j] == '/';
		CHECK_EQ_INT(slashes, 4);
		CHECK(kl_partition_values_max(&ev) + 6 + 2 * KL_PCOL_COUNT >= b.len);
	}
	kl_event_cleanup(&ev);
	kl_buf_cleanup(&b);
	kl_buf_cleanup(&c);
}

static void dead_letters(void)
{
	struct kl_buf b;
	kl_buf_init(&b, 0);
	kl_partition_error(&b, "invalid_json", "2026-11-30");
	CHECK_EQ_MEM(b.data, b.len, "errors/invalid_json/dt=2026-11-30");

	char d[11];
	kl_partition_day(0, d);
	CHECK_EQ_STR(d, "1970-01-01");
	kl_partition_day(951782400, d); /* leap day 2000 */
	CHECK_EQ_STR(d, "2000-02-29");
	kl_partition_day(1764633599, d);
	CHECK_EQ_STR(d, "2025-12-01");
	kl_partition_day(1764633600, d);
	CHECK_EQ_STR(d, "2025-12-02");
	kl_partition_day(-5, d); /* clamped */
	CHECK_EQ_STR(d, "1970-01-01");
	kl_partition_day(INT64_MAX, d);
	CHECK_EQ_STR(d, "9999-12-31");
	/* the C library's calendar agrees, a day at a time over 130 years */
	int bad = 0;
	for (int64_t t = 0; t < 4102444800; t += 86400 - 7) {
		time_t tt = (time_t)t;
		struct tm tm;
		char want[16];
		gmtime_r(&tt, &tm);
		strftime(want, sizeof want, "%Y-%m-%d", &tm);
		kl_partition_day(t, d);
		bad += strcmp(d, want) != 0;
	}
	CHECK_EQ_INT(bad, 0);
	/* an event's dt is the day of its created_at, by the same calendar */
	struct kl_event ev;
	kl_event_init(&ev);
	path_of(&ev, "a", "1764633599", &b);
	kl_partition_day(1764633599, d);
	CHECK_EQ_STR(ev.dt, d);
	kl_event_cleanup(&ev);
	kl_buf_cleanup(&b);
}

int main(void)
{
	escaping();
	events();
	dead_letters();
	return check_report("test_partition");
}
