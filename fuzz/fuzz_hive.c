/* fuzz_hive.c — libFuzzer target for the lake's path escaping (route/
 * partition.h): kl_hive_escape, which names every partition directory, and
 * kl_hive_unescape, which reads directory names back from a lake (`kinlake
 * catalog`: events/event_type=<escaped>/), where anything may stand.
 * Invariants: never crash; an escaped value has only [A-Za-z0-9._%-] and
 * unescapes to the bytes it came from (the empty value to
 * KL_HIVE_DEFAULT, which unescapes to nothing; so does a value that is
 * KL_HIVE_DEFAULT itself: all of its bytes are safe, and by DESIGN.md's
 * rule, as in Hive, that name is the null partition); a name that unescapes at
 * all has only such bytes, and its value escapes to a name that unescapes
 * to the same value. Also kl_partition_key_type, which reads the event
 * type out of a partition key: what it finds lies inside the key. */
#include "core/buf.h"
#include "core/err.h"
#include "fuzz_common.h"
#include "route/partition.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int path_byte(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '_' || c == '-' || c == '%';
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data;
	struct kl_buf esc, back, again;
	kl_buf_init(&esc, 0);
	kl_buf_init(&back, 0);
	kl_buf_init(&again, 0);

	/* the input as a value */
	REQUIRE(kl_hive_escape(&esc, p, size) == 0);
	REQUIRE(esc.len > 0);
	for (size_t i = 0; i < esc.len; i++)
		REQUIRE(path_byte(esc.data[i]));
	REQUIRE(kl_hive_unescape(&back, esc.data, esc.len) == 0);
	int is_default = size == sizeof KL_HIVE_DEFAULT - 1 && !memcmp(p, KL_HIVE_DEFAULT, size);
	if (is_default)
		REQUIRE(back.len == 0);
	else
		REQUIRE(back.len == size && (size == 0 || memcmp(back.data, p, size) == 0));

	/* the input as a directory name */
	kl_buf_reset(&back);
	kl_buf_reset(&esc);
	int rc = kl_hive_unescape(&back, p, size);
	REQUIRE(rc == 0 || rc == KL_EPARSE);
	if (rc == 0) {
		for (size_t i = 0; i < size; i++)
			REQUIRE(path_byte(p[i]));
		REQUIRE(kl_hive_escape(&esc, back.data, back.len) == 0);
		REQUIRE(kl_hive_unescape(&again, esc.data, esc.len) == 0);
		REQUIRE(again.len == back.len &&
			(back.len == 0 || memcmp(again.data, back.data, back.len) == 0));
	}

	/* the input as a partition key (the registry's read-ahead): a type
	 * found lies inside it, right after "events/event_type=", and holds
	 * no '/' */
	const char *t;
	size_t tn;
	if (kl_partition_key_type(p, size, &t, &tn) == 0) {
		REQUIRE(tn > 0 && t == p + 18 && tn <= size - 18);
		REQUIRE(!memcmp(p, "events/event_type=", 18) && !memchr(t, '/', tn));
		REQUIRE(tn == size - 18 || t[tn] == '/');
	}
	kl_buf_cleanup(&esc);
	kl_buf_cleanup(&back);
	kl_buf_cleanup(&again);
	return 0;
}
