/* test_state.c — commit/state: durable progress survives reopen; a torn or
 * corrupt tail is dropped, never trusted; compaction keeps the content. */
#include "check.h"
#include "commit/state.h"

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

int main(void)
{
	char dir[] = "/tmp/kl-state-XXXXXX";
	CHECK(mkdtemp(dir) != NULL);
	struct kl_state st;
	CHECK_EQ_INT(kl_state_open(&st, dir, "abc"), 0);
	CHECK_EQ_INT(st.resume, 0);
	CHECK_EQ_INT(kl_state_note_part(&st, "events/a", 8, 100), 0);
	CHECK_EQ_INT(kl_state_note_part(&st, "errors/x", 8, 7), 0);
	CHECK_EQ_INT(kl_state_note_part(&st, "events/a", 8, 250), 0);
	CHECK_EQ_INT(kl_state_note_progress(&st, 120, 5), 0);
	CHECK_EQ_INT(kl_state_sync(&st), 0);
	kl_state_close(&st);

	CHECK_EQ_INT(kl_state_open(&st, dir, "abc"), 0);
	uint64_t u = 0;
	CHECK(kl_state_lookup(&st, "events/a", 8, &u) && u == 250);
	CHECK(kl_state_lookup(&st, "errors/x", 8, &u) && u == 7);
	CHECK(!kl_state_lookup(&st, "events/b", 8, &u));
	CHECK_EQ_INT(st.resume, 120);
	CHECK_EQ_INT(st.window, 5);
	CHECK(!st.done);
	/* queued but never synced: must not survive */
	kl_state_note_part(&st, "events/b", 8, 999);
	kl_state_close(&st);

	/* a torn line and garbage after it are ignored */
	char path[256];
	snprintf(path, sizeof path, "%s/_kinlake/state/abc.log", dir);
	int fd = open(path, O_WRONLY | O_APPEND);
	CHECK(fd >= 0);
	CHECK(write(fd, "deadbeef P 5 events/c\n0000", 26) == 26);
	close(fd);
	CHECK_EQ_INT(kl_state_open(&st, dir, "abc"), 0);
	CHECK(!kl_state_lookup(&st, "events/c", 8, &u));
	CHECK(!kl_state_lookup(&st, "events/b", 8, &u));
	CHECK(kl_state_lookup(&st, "events/a", 8, &u) && u == 250);
	kl_state_note_done(&st, 4242);
	/* enough lines to force a compaction */
	char key[32];
	for (int i = 0; i < 6000; i++) {
		int n = snprintf(key, sizeof key, "events/k%d", i % 50);
		kl_state_note_part(&st, key, (size_t)n, (uint64_t)i);
		if (i % 100 == 0)
			CHECK_EQ_INT(kl_state_sync(&st), 0);
	}
	CHECK_EQ_INT(kl_state_sync(&st), 0);
	kl_state_close(&st);
	CHECK_EQ_INT(kl_state_open(&st, dir, "abc"), 0);
	CHECK(st.done && st.done_size == 4242);
	CHECK(kl_state_lookup(&st, "events/k49", 10, &u) && u == 5999);
	CHECK(kl_state_lookup(&st, "events/k0", 9, &u) && u == 5950);
	kl_state_close(&st);
	char cmd[300];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	CHECK(system(cmd) == 0);
	return check_report("test_state");
}
