/* test_parts.c — buffer/parts: lookup, size/age/memory flush policy, and
 * that memory is given back after flushes. */
#include "check.h"
#include "buffer/parts.h"

/* What the pipeline does on a flush: take the data away and free it. */
static void flush(struct kl_parts *t, struct kl_part *p)
{
	struct kl_buf out;
	kl_parts_detach(t, p, &out);
	kl_buf_cleanup(&out);
}

static void add(struct kl_parts *t, struct kl_part *p, size_t n, uint64_t pos, int64_t now)
{
	char line[4096];
	memset(line, 'x', sizeof line);
	kl_buf_append(&p->data, line, n);
	kl_parts_note_append(t, p, pos, now);
}

int main(void)
{
	struct kl_parts t;
	kl_parts_init(&t, 10000, 50000, 1000); /* 10 kB files, 50 kB memory, 1 us age */
	struct kl_part *a = kl_parts_get(&t, "events/a", 8);
	struct kl_part *b = kl_parts_get(&t, "events/b", 8);
	CHECK(a && b && a != b);
	CHECK(kl_parts_get(&t, "events/a", 8) == a);
	add(&t, a, 4000, 10, 0);
	add(&t, a, 4000, 20, 0);
	CHECK(!kl_parts_full(&t, a));
	add(&t, a, 4000, 30, 0);
	CHECK(kl_parts_full(&t, a));
	CHECK_EQ_INT(a->first_pos, 10);
	CHECK_EQ_INT(a->last_pos, 30);
	CHECK(kl_parts_next_flush(&t, 0, 0) == a);
	flush(&t, a);
	CHECK_EQ_INT(a->stored_upto, 30);
	CHECK_EQ_INT(a->count, 0);
	CHECK(kl_parts_next_flush(&t, 0, 0) == NULL);
	/* age */
	add(&t, b, 100, 40, 0);
	CHECK(kl_parts_next_flush(&t, 500, 0) == NULL);
	CHECK(kl_parts_next_flush(&t, 1000, 0) == b);
	CHECK_EQ_INT(kl_parts_min_pending(&t, 99), 40);
	CHECK(kl_parts_ms_until_due(&t, 0) >= 0);
	flush(&t, b);
	CHECK_EQ_INT(kl_parts_min_pending(&t, 99), 99);
	/* memory: many partitions, the largest goes first, and memory is bounded */
	struct kl_parts m;
	kl_parts_init(&m, 1 << 30, 200000, (int64_t)1 << 60);
	char key[32];
	size_t peak = 0, flushes = 0;
	for (int i = 0; i < 5000; i++) {
		int n = snprintf(key, sizeof key, "events/p%d", i % 700);
		struct kl_part *p = kl_parts_get(&m, key, (size_t)n);
		add(&m, p, 300 + (size_t)(i % 7) * 100, (uint64_t)i, 0);
		struct kl_part *f;
		while ((f = kl_parts_next_flush(&m, 0, 0))) {
			size_t biggest = 0;
			for (size_t j = 0; j < m.n; j++)
				if (m.v[j]->data.len > biggest)
					biggest = m.v[j]->data.len;
			CHECK(f->data.len == biggest);
			flush(&m, f);
			flushes++;
		}
		if (m.mem > peak)
			peak = m.mem;
	}
	CHECK(flushes > 0);
	CHECK(peak < 200000 + 8192);
	CHECK_EQ_INT(m.n, 700);
	kl_parts_cleanup(&m);
	kl_parts_cleanup(&t);
	return check_report("test_parts");
}
