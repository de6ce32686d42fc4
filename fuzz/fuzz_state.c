/* fuzz_state.c — libFuzzer target for the state log loader (commit/state.h,
 * kl_state_parse).
 * Invariants: never crash; the bytes trusted are a prefix of the input that
 * ends a line; what was loaded, framed again as the writer frames it, loads
 * to the same partitions, resume point, replay point (M), done mark,
 * checkpoint and arrival day (A: a directory name, so only "YYYY-MM-DD"
 * is loaded); P lines after the last R line are not loaded; pruning
 * below the resume point (what a stream's commit does) keeps exactly the
 * partitions at or above it, each still found. Also the name of an input's
 * mark (_kinlake/inputs/, source/input_id.h): what parses as one prints
 * back to the same bytes. */
#include "commit/state.h"
#include "fuzz_common.h"
#include "source/input_id.h"

#include <inttypes.h>
#include <string.h>
#include <zlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void frame(struct kl_buf *b, const char *body, size_t n)
{
	kl_buf_printf(b, "%08lx ", crc32(0L, (const Bytef *)body, (uInt)n));
	kl_buf_append(b, body, n);
	kl_buf_putc(b, '\n');
}

static void blank(struct kl_state *st)
{
	memset(st, 0, sizeof *st);
	st->fd = -1;
	kl_buf_init(&st->pending, 0);
}

static void check_mark(const uint8_t *data, size_t size)
{
	uint64_t msize;
	char id[17], back[48];
	if (!kl_input_mark_parse((const char *)data, size, &msize, id))
		return;
	REQUIRE(msize > 0 && strlen(id) == 16);
	kl_input_mark_name(back, sizeof back, msize, id);
	REQUIRE(strlen(back) == size && memcmp(back, data, size) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_mark(data, size);
	struct kl_state a, b;
	blank(&a);
	blank(&b);
	size_t used = kl_state_parse(&a, (const char *)data, size);
	REQUIRE(used <= size);
	REQUIRE(used == 0 || data[used - 1] == '\n');
	struct kl_buf log, body;
	kl_buf_init(&log, 0);
	kl_buf_init(&body, 0);
	for (size_t i = 0; i < a.nparts; i++) {
		size_t kn = strlen(a.parts[i].key);
		REQUIRE(kn > 0 && !memchr(a.parts[i].key, '\n', kn));
		kl_buf_reset(&body);
		kl_buf_printf(&body, "P %" PRIu64 " %s", a.parts[i].upto, a.parts[i].key);
		frame(&log, body.data, body.len);
	}
	kl_buf_reset(&body);
	kl_buf_printf(&body, "R %" PRIu64 " %" PRIu64, a.resume, a.window);
	frame(&log, body.data, body.len);
	if (a.replay.known) { /* the M line belongs to the R line before it */
		kl_buf_reset(&body);
		kl_buf_printf(&body, "M %" PRIu64 " %" PRIu64 " %d %" PRIu64 " %" PRIu64,
			      a.replay.upto, a.replay.charge, a.replay.check, a.replay.quiet,
			      a.replay.qwindow);
		frame(&log, body.data, body.len);
	}
	if (a.done) {
		kl_buf_reset(&body);
		kl_buf_printf(&body, "D %" PRIu64, a.done_size);
		frame(&log, body.data, body.len);
	}
	if (a.checkpoint[0]) {
		kl_buf_reset(&body);
		kl_buf_printf(&body, "C %s", a.checkpoint);
		frame(&log, body.data, body.len);
	}
	if (a.arrival[0]) {
		REQUIRE(strlen(a.arrival) == 10 && a.arrival[4] == '-' && a.arrival[7] == '-');
		for (int i = 0; i < 10; i++)
			REQUIRE(i == 4 || i == 7 || (a.arrival[i] >= '0' && a.arrival[i] <= '9'));
		kl_buf_reset(&body);
		kl_buf_printf(&body, "A %s", a.arrival);
		frame(&log, body.data, body.len);
	}
	REQUIRE(kl_state_parse(&b, log.data, log.len) == log.len);
	REQUIRE(!strcmp(a.arrival, b.arrival));
	REQUIRE(a.nparts == b.nparts && a.resume == b.resume && a.window == b.window);
	REQUIRE(a.done == b.done && (!a.done || a.done_size == b.done_size));
	REQUIRE(!strcmp(a.checkpoint, b.checkpoint));
	REQUIRE(a.replay.known == b.replay.known);
	REQUIRE(!a.replay.known ||
		(a.replay.upto == b.replay.upto && a.replay.charge == b.replay.charge &&
		 a.replay.check == b.replay.check && a.replay.quiet == b.replay.quiet &&
		 a.replay.qwindow == b.replay.qwindow));
	for (size_t i = 0; i < a.nparts; i++) {
		uint64_t u = 0;
		const char *k = a.parts[i].key;
		REQUIRE(kl_state_lookup(&b, k, strlen(k), &u) && u == a.parts[i].upto);
	}
	size_t above = 0;
	for (size_t i = 0; i < a.nparts; i++)
		above += a.parts[i].upto >= a.resume;
	REQUIRE(kl_state_prune(&b, a.resume) == a.nparts - above && b.nparts == above);
	for (size_t i = 0; i < a.nparts; i++) {
		uint64_t u = 0;
		const char *k = a.parts[i].key;
		int found = kl_state_lookup(&b, k, strlen(k), &u);
		REQUIRE(a.parts[i].upto >= a.resume ? found && u == a.parts[i].upto : !found);
	}
	kl_buf_cleanup(&log);
	kl_buf_cleanup(&body);
	kl_state_close(&a);
	kl_state_close(&b);
	return 0;
}
