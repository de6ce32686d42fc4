/* test_parts.c — buffer/parts and buffer/blocks: lookup, size/age/memory
 * flush policy, memory given back after flushes; the block buffer (append,
 * seal, detach, iterate) round-trips every byte exactly, seals at the same
 * places for the same records, and counts compressed bytes; the window
 * policy (event hours, watermark, late buffers, the resume point) and a
 * shared budget; the seal pool (buffer/seal.h) by itself, and a table
 * sealing on it decides and hands over exactly what a synchronous one does;
 * the frames a buffer gives (kl_blocks_frames) are one zstd stream of its
 * bytes, one checked frame per regular block, the same with early cuts and
 * on seal threads. */
#include "buffer/parts.h"
#include "buffer/seal.h"
#include "check.h"
#include "encode/encoder.h"

#include <stdint.h>
#include <zstd.h>

/* What the pipeline does on a flush: take the data away and free it. */
static void flush(struct kl_parts *t, struct kl_part *p)
{
	struct kl_blocks out;
	kl_parts_detach(t, p, &out);
	kl_blocks_cleanup(&out);
}

static void add(struct kl_parts *t, struct kl_part *p, size_t n, uint64_t pos, int64_t now)
{
	char line[4096];
	memset(line, 'x', sizeof line);
	kl_buf_append(&p->data, line, n);
	kl_parts_note_append(t, p, pos, now);
}

/* A deterministic record of about 200..1200 bytes, JSON-ish and compressible
 * like events (repeated keys, varying values), ending in '\n'. */
static size_t make_record(char *out, size_t cap, uint64_t i)
{
	uint64_t x = i * 0x9E3779B97F4A7C15ull + 1;
	x ^= x >> 29;
	int n = snprintf(
	    out, cap,
	    "{\"event_uuid\":\"%016llx\",\"event_name\":\"t%llu:sub\",\"n\":%llu,\"pad\":\"",
	    (unsigned long long)x, (unsigned long long)(i % 7), (unsigned long long)i);
	size_t len = (size_t)n, pad = 150 + (size_t)(x % 1000);
	for (size_t k = 0; k < pad && len + 3 < cap; k++)
		out[len++] = (char)('a' + (x >> (k % 50)) % 26);
	out[len++] = '"';
	out[len++] = '}';
	out[len++] = '\n';
	return len;
}

/* Appends records [from, to) to p the way the pipeline does; the same bytes
 * also go to `mirror` (the text as it was appended). */
static void append_records(struct kl_parts *t, struct kl_part *p, uint64_t from, uint64_t to,
			   struct kl_buf *mirror)
{
	char rec[2048];
	for (uint64_t i = from; i < to; i++) {
		size_t n = make_record(rec, sizeof rec, i);
		kl_buf_append(&p->data, rec, n);
		kl_buf_append(mirror, rec, n);
		kl_parts_note_append(t, p, i, 0);
	}
}

struct collect {
	struct kl_buf out;
	size_t calls;
	int fail_at; /* fn fails on this call (1-based), 0 = never */
};

static int collect_fn(void *ctx, const void *p, size_t n)
{
	struct collect *c = ctx;
	if (++c->calls == (size_t)c->fail_at)
		return KL_EIO;
	return kl_buf_append(&c->out, p, n);
}

/* append, seal, detach, flatten and iterate: the exact bytes come back */
static void test_blocks_roundtrip(void)
{
	struct kl_parts t;
	kl_parts_init(&t, 1 << 30, 1 << 30, (int64_t)1 << 60);
	t.block_bytes = 4096;
	struct kl_part *p = kl_parts_get(&t, "events/x", 8);
	struct kl_buf mirror;
	kl_buf_init(&mirror, 0);
	append_records(&t, p, 0, 2000, &mirror);
	CHECK(p->sealed.n > 100);		    /* many blocks were sealed */
	CHECK(p->data.len < 4096);		    /* the tail is under one block */
	CHECK_EQ_INT(kl_part_bytes(p), mirror.len); /* raw bytes are counted exactly */
	CHECK_EQ_INT(p->count, 2000);
	CHECK_EQ_INT(p->sealed.raw + p->data.len, mirror.len);
	/* each sealed block is at least a block's worth of raw bytes, whole records */
	for (size_t i = 0; i < p->sealed.n; i++)
		CHECK(p->sealed.v[i].raw >= 4096 && p->sealed.v[i].raw < 4096 + 2048);
	CHECK(kl_parts_full(&t, p) == 0);
	t.max_file_bytes = (size_t)mirror.len; /* due by raw bytes, not compressed ones */
	CHECK(kl_parts_full(&t, p));
	CHECK(kl_parts_next_flush(&t, 0, 0) == p);

	struct kl_blocks out;
	kl_parts_detach(&t, p, &out);
	CHECK_EQ_INT(t.mem, 0);
	CHECK_EQ_INT(p->sealed.n, 0);
	CHECK_EQ_INT(p->data.len, 0);
	CHECK_EQ_INT(kl_part_bytes(p), 0);
	CHECK_EQ_INT(p->stored_upto, 1999);
	CHECK_EQ_INT(kl_blocks_len(&out), mirror.len);

	struct kl_blocks_zctx zx = {0};
	struct kl_errbuf eb = {0};
	struct kl_buf flat;
	kl_buf_init(&flat, 0);
	kl_buf_append(&flat, "prefix", 6); /* flatten appends */
	CHECK_EQ_INT(kl_blocks_flatten(&out, &zx, &flat, &eb), KL_OK);
	CHECK_EQ_INT(flat.len, mirror.len + 6);
	CHECK(flat.len == mirror.len + 6 && !memcmp(flat.data + 6, mirror.data, mirror.len));

	struct collect c = {.fail_at = 0};
	kl_buf_init(&c.out, 0);
	struct kl_buf scratch;
	kl_buf_init(&scratch, 0);
	CHECK_EQ_INT(kl_blocks_each(&out, &zx, &scratch, collect_fn, &c, &eb), KL_OK);
	CHECK_EQ_INT(c.calls, out.n + 1); /* one call per block, then the tail */
	CHECK(c.out.len == mirror.len && !memcmp(c.out.data, mirror.data, mirror.len));
	CHECK(scratch.cap <= 8192); /* one block at a time, not the whole body */
	/* the callback's error stops the iteration and is returned */
	struct collect c2 = {.fail_at = 3};
	kl_buf_init(&c2.out, 0);
	CHECK_EQ_INT(kl_blocks_each(&out, &zx, &scratch, collect_fn, &c2, &eb), KL_EIO);
	CHECK_EQ_INT(c2.calls, 3);

	/* the partition is reused after the detach: a new sealed series */
	struct kl_buf mirror2;
	kl_buf_init(&mirror2, 0);
	append_records(&t, p, 5000, 5100, &mirror2);
	CHECK_EQ_INT(p->first_pos, 5000);
	struct kl_blocks out2;
	kl_parts_detach(&t, p, &out2);
	kl_buf_reset(&flat);
	CHECK_EQ_INT(kl_blocks_flatten(&out2, &zx, &flat, &eb), KL_OK);
	CHECK(flat.len == mirror2.len && !memcmp(flat.data, mirror2.data, mirror2.len));

	kl_blocks_cleanup(&out);
	kl_blocks_cleanup(&out2);
	kl_blocks_zctx_cleanup(&zx);
	kl_buf_cleanup(&flat);
	kl_buf_cleanup(&scratch);
	kl_buf_cleanup(&c.out);
	kl_buf_cleanup(&c2.out);
	kl_buf_cleanup(&mirror);
	kl_buf_cleanup(&mirror2);
	kl_parts_cleanup(&t);
}

/* the same records give the same blocks, byte for byte, whatever else the
 * table holds (block boundaries are a function of the partition's records) */
static void test_blocks_deterministic(void)
{
	struct kl_parts a, b;
	kl_parts_init(&a, 1 << 30, 1 << 30, (int64_t)1 << 60);
	kl_parts_init(&b, 1 << 30, 1 << 30, (int64_t)1 << 60);
	struct kl_part *pa = kl_parts_get(&a, "events/x", 8);
	struct kl_part *pb = kl_parts_get(&b, "events/x", 8);
	struct kl_part *other = kl_parts_get(&b, "events/y", 8);
	struct kl_buf ma, mb, mo;
	kl_buf_init(&ma, 0);
	kl_buf_init(&mb, 0);
	kl_buf_init(&mo, 0);
	/* b interleaves another partition's records */
	append_records(&a, pa, 0, 3000, &ma);
	for (uint64_t i = 0; i < 3000; i += 100) {
		append_records(&b, pb, i, i + 100, &mb);
		append_records(&b, other, 10000 + i, 10000 + i + 37, &mo);
	}
	CHECK(pa->sealed.n >= 10); /* default block size: ~2 MB of records */
	CHECK_EQ_INT(pa->sealed.n, pb->sealed.n);
	CHECK_EQ_INT(pa->sealed.zlen, pb->sealed.zlen);
	int same = pa->sealed.n == pb->sealed.n;
	for (size_t i = 0; same && i < pa->sealed.n; i++)
		same = pa->sealed.v[i].raw == pb->sealed.v[i].raw &&
		       pa->sealed.v[i].zlen == pb->sealed.v[i].zlen &&
		       !memcmp(pa->sealed.v[i].z, pb->sealed.v[i].z, pa->sealed.v[i].zlen);
	CHECK(same);
	CHECK(pa->data.len == pb->data.len && !memcmp(pa->data.data, pb->data.data, pa->data.len));
	for (size_t i = 0; i < pa->sealed.n; i++) /* the default block size */
		CHECK(pa->sealed.v[i].raw >= KL_BLOCK_BYTES);
	kl_buf_cleanup(&ma);
	kl_buf_cleanup(&mb);
	kl_buf_cleanup(&mo);
	kl_parts_cleanup(&a);
	kl_parts_cleanup(&b);
}

/* memory counts the compressed blocks plus the tails' capacity: text that
 * does not fit the limit raw fits it compressed, with no flush */
static void test_blocks_accounting(void)
{
	struct kl_parts t;
	kl_parts_init(&t, 1 << 30, 2u << 20, (int64_t)1 << 60); /* 2 MiB budget */
	struct kl_buf mirror;
	kl_buf_init(&mirror, 0);
	struct kl_part *p[4];
	for (int k = 0; k < 4; k++) {
		char key[16];
		int n = snprintf(key, sizeof key, "events/p%d", k);
		p[k] = kl_parts_get(&t, key, (size_t)n);
	}
	struct kl_buf mk[4]; /* each partition's own text */
	for (int k = 0; k < 4; k++)
		kl_buf_init(&mk[k], 0);
	for (uint64_t i = 0; i < 8000; i += 50) {
		append_records(&t, p[(i / 50) % 4], i, i + 50, &mk[(i / 50) % 4]);
	}
	for (int k = 0; k < 4; k++)
		kl_buf_append(&mirror, mk[k].data, mk[k].len);
	CHECK(mirror.len > (4u << 20)); /* twice the budget as text */
	size_t expect = 0, zlen = 0;
	for (int k = 0; k < 4; k++) {
		CHECK_EQ_INT(p[k]->accounted, kl_blocks_mem(&p[k]->sealed) + p[k]->data.cap);
		CHECK(p[k]->data.cap <= 64u << 10); /* a tail fits one 64 KiB buffer */
		expect += p[k]->accounted;
		zlen += p[k]->sealed.zlen;
	}
	CHECK_EQ_INT(t.mem, expect);
	CHECK(zlen < mirror.len / 2);
	CHECK(t.mem < t.memory_limit);
	CHECK(kl_parts_next_flush(&t, 0, 0) == NULL); /* it fits: nothing to flush */
	/* just past the budget: the tails of a quarter block or more are sealed
	 * early and their buffers given back, and nothing is flushed */
	size_t tails = 0, sealed_before = 0;
	for (int k = 0; k < 4; k++) {
		tails += p[k]->data.len >= KL_BLOCK_BYTES / 4;
		sealed_before += p[k]->sealed.n;
	}
	CHECK(tails > 0);
	size_t before = t.mem;
	t.memory_limit = t.own.limit = t.mem - 1; /* the table's own budget */
	CHECK(kl_parts_next_flush(&t, 0, 0) == NULL);
	CHECK(t.mem < before);
	size_t sealed_after = 0;
	expect = 0;
	for (int k = 0; k < 4; k++) {
		sealed_after += p[k]->sealed.n;
		CHECK(p[k]->data.len < KL_BLOCK_BYTES / 4);
		CHECK_EQ_INT(p[k]->accounted, kl_blocks_mem(&p[k]->sealed) + p[k]->data.cap);
		expect += p[k]->accounted;
	}
	CHECK_EQ_INT(sealed_after, sealed_before + tails);
	CHECK_EQ_INT(t.mem, expect);
	/* the records are all still there, in order */
	struct kl_blocks_zctx zx = {0};
	struct kl_errbuf eb = {0};
	struct kl_buf all, one;
	kl_buf_init(&all, 0);
	kl_buf_init(&one, 0);
	for (int k = 0; k < 4; k++) {
		kl_buf_reset(&one);
		CHECK_EQ_INT(kl_blocks_flatten(&p[k]->sealed, &zx, &one, &eb), KL_OK);
		kl_buf_append(&one, p[k]->data.data, p[k]->data.len);
		kl_buf_append(&all, one.data, one.len);
		CHECK_EQ_INT(one.len, kl_part_bytes(p[k]));
		CHECK(one.len == mk[k].len && !memcmp(one.data, mk[k].data, one.len));
	}
	CHECK_EQ_INT(all.len, mirror.len);
	/* past the budget with compressed data: the partition holding the most
	 * memory goes first */
	t.memory_limit = t.own.limit = t.mem - 1; /* the table's own budget */
	struct kl_part *f = kl_parts_next_flush(&t, 0, 0);
	CHECK(f != NULL);
	for (int k = 0; f && k < 4; k++)
		CHECK(p[k]->accounted <= f->accounted);
	before = t.mem;
	size_t held = f ? f->accounted : 0;
	struct kl_blocks out;
	if (f) {
		kl_parts_detach(&t, f, &out);
		CHECK_EQ_INT(t.mem, before - held);
		kl_blocks_cleanup(&out);
	}
	kl_blocks_zctx_cleanup(&zx);
	kl_buf_cleanup(&all);
	kl_buf_cleanup(&one);
	for (int k = 0; k < 4; k++)
		kl_buf_cleanup(&mk[k]);
	kl_buf_cleanup(&mirror);
	kl_parts_cleanup(&t);
}

/* A block left raw (a seal out of memory: zlen 0, its text as it is)
 * among sealed ones: each and drain hand its bytes over in order, and drain
 * takes its memory off the count like a frame's. */
static void test_blocks_raw_block(void)
{
	struct kl_blocks b;
	struct kl_blocks_zctx zx = {0};
	struct kl_errbuf eb = {0};
	struct kl_buf mirror, scratch;
	struct collect got = {.fail_at = 0};
	kl_blocks_init(&b);
	kl_buf_init(&mirror, 0);
	kl_buf_init(&scratch, 0);
	kl_buf_init(&got.out, 0);
	char rec[2048];
	for (int blk = 0; blk < 3; blk++) {
		size_t from = mirror.len;
		for (uint64_t i = 0; i < 40; i++) {
			size_t n = make_record(rec, sizeof rec, (uint64_t)blk * 100 + i);
			kl_buf_append(&mirror, rec, n);
		}
		size_t n = mirror.len - from;
		if (blk == 1) { /* as buffer/parts.c leaves a block it could not seal */
			CHECK_EQ_INT(kl_blocks_reserve(&b), KL_OK);
			char *z = malloc(n);
			memcpy(z, mirror.data + from, n);
			b.v[b.n++] = (struct kl_block){.z = z, .raw = n};
			b.zlen += n;
			b.raw += n;
		} else {
			CHECK_EQ_INT(kl_blocks_seal(&b, &zx, KL_BLOCK_LEVEL, mirror.data + from, n, 0),
				     KL_OK);
		}
	}
	CHECK_EQ_INT(kl_blocks_each(&b, &zx, &scratch, collect_fn, &got, &eb), KL_OK);
	CHECK(got.out.len == mirror.len && !memcmp(got.out.data, mirror.data, mirror.len));
	kl_buf_reset(&got.out);
	CHECK_EQ_INT(kl_blocks_drain(&b, &zx, &scratch, collect_fn, &got, &eb), KL_OK);
	CHECK(got.out.len == mirror.len && !memcmp(got.out.data, mirror.data, mirror.len));
	CHECK_EQ_INT(b.zlen, 0); /* every block's memory, the raw one's too, is off the count */
	kl_blocks_cleanup(&b);
	kl_blocks_zctx_cleanup(&zx);
	kl_buf_cleanup(&mirror);
	kl_buf_cleanup(&scratch);
	kl_buf_cleanup(&got.out);
}

/* nothing sealed: the tail alone; no blocks at all: empty; a corrupt
 * frame is an error, not silent garbage */
static void test_blocks_empty_and_errors(void)
{
	struct kl_blocks b;
	kl_blocks_init(&b);
	struct kl_blocks_zctx zx = {0};
	struct kl_errbuf eb = {0};
	struct kl_buf flat;
	kl_buf_init(&flat, 0);
	CHECK_EQ_INT(kl_blocks_flatten(&b, &zx, &flat, &eb), KL_OK);
	CHECK_EQ_INT(flat.len, 0);
	struct collect c = {.fail_at = 0};
	kl_buf_init(&c.out, 0);
	CHECK_EQ_INT(kl_blocks_each(&b, &zx, &flat, collect_fn, &c, &eb), KL_OK);
	CHECK_EQ_INT(c.calls, 0);
	/* seal by hand, then a tail */
	const char *s1 = "{\"a\":1}\n{\"a\":2}\n", *s2 = "{\"b\":3}\n";
	CHECK_EQ_INT(kl_blocks_seal(&b, &zx, KL_BLOCK_LEVEL, s1, strlen(s1), 0), KL_OK);
	kl_buf_append(&b.tail, s2, strlen(s2));
	CHECK_EQ_INT(kl_blocks_len(&b), strlen(s1) + strlen(s2));
	CHECK_EQ_INT(kl_blocks_flatten(&b, &zx, &flat, &eb), KL_OK);
	CHECK(flat.len == strlen(s1) + strlen(s2) &&
	      !memcmp(flat.data, "{\"a\":1}\n{\"a\":2}\n{\"b\":3}\n", flat.len));
	/* a damaged frame */
	b.v[0].z[b.v[0].zlen - 1] ^= 0x5a;
	b.v[0].z[b.v[0].zlen / 2] ^= 0x5a;
	kl_buf_reset(&flat);
	int rc = kl_blocks_flatten(&b, &zx, &flat, &eb);
	size_t raw = b.v[0].raw;
	b.v[0].raw = raw + 1; /* or one that does not hold its recorded length */
	kl_buf_reset(&flat);
	int rc2 = kl_blocks_flatten(&b, &zx, &flat, &eb);
	b.v[0].raw = raw;
	CHECK_EQ_INT(rc, KL_EIO); /* the frame's checksum notices */
	CHECK_EQ_INT(rc2, KL_EIO);
	CHECK(eb.code == KL_EIO);
	kl_blocks_cleanup(&b);
	kl_blocks_zctx_cleanup(&zx);
	kl_buf_cleanup(&flat);
	kl_buf_cleanup(&c.out);
}

/* The window policy, record by record, as pipeline.c drives it: note the
 * time, flush what is due, then buffer the record. Returns files made. */
struct wrec {
	int64_t sec;
	uint64_t pos;
};

static struct kl_part *wpart(struct kl_parts *t, int64_t sec)
{
	char key[64];
	int n = snprintf(key, sizeof key, "events/t/hr=%lld", (long long)(sec / 3600));
	struct kl_part *p = kl_parts_get(t, key, (size_t)n);
	p->hour = sec / 3600;
	return p;
}

static void test_window(void)
{
	struct kl_parts t;
	kl_parts_init(&t, 1 << 20, 1 << 30, 1); /* 1 ns interval: ignored in window mode */
	kl_parts_set_window(&t, 600);	       /* 10 minutes */
	const int64_t H = 1764547200;	       /* an hour's start */
	CHECK(kl_parts_ms_until_due(&t, 0) == -1);
	/* hour 0 open: nothing is due however old */
	CHECK_EQ_INT(kl_parts_note_time(&t, H + 10, 1), 1); /* first event: hours before it close */
	add(&t, wpart(&t, H + 10), 100, 1, 0);
	CHECK_EQ_INT(kl_parts_note_time(&t, H + 599, 2), 0);
	CHECK_EQ_INT(kl_parts_note_time(&t, H + 3599, 2), 1); /* the hour before H closes */
	add(&t, wpart(&t, H + 3599), 100, 2, 0);
	CHECK(kl_parts_next_due(&t, (int64_t)1 << 60) == NULL);
	/* an event of the next hour, within the lateness: hour 0 still open */
	CHECK_EQ_INT(kl_parts_note_time(&t, H + 3600 + 599, 3), 0);
	add(&t, wpart(&t, H + 3600 + 599), 100, 3, 0);
	CHECK(kl_parts_next_due(&t, 0) == NULL);
	CHECK(!kl_parts_is_late(&t, H / 3600));
	/* an older event changes nothing */
	CHECK_EQ_INT(kl_parts_note_time(&t, H + 5, 4), 0);
	add(&t, wpart(&t, H + 5), 100, 4, 0);
	CHECK_EQ_INT(wpart(&t, H)->count, 3);
	CHECK_EQ_INT(t.wm_pos, 3);
	/* the resume point keeps the record holding the watermark: here the
	 * oldest buffered record (1) comes first */
	CHECK_EQ_INT(kl_parts_min_pending(&t, 99), 1);
	/* 10 min past the hour's end: hour 0 closes, its one buffer is due */
	CHECK_EQ_INT(kl_parts_note_time(&t, H + 3600 + 600, 5), 1);
	struct kl_part *h0 = wpart(&t, H), *h1 = wpart(&t, H + 3600);
	CHECK(kl_parts_is_late(&t, H / 3600));
	CHECK(!kl_parts_is_late(&t, H / 3600 + 1));
	CHECK(kl_parts_next_due(&t, 0) == h0);
	CHECK_EQ_INT(h0->count, 3);
	flush(&t, h0);
	CHECK(kl_parts_next_due(&t, 0) == NULL);
	add(&t, h1, 100, 5, 0);
	/* nothing of hour 0 is buffered: the resume point is hour 1's first
	 * record (3), which also holds the watermark's record before it */
	CHECK_EQ_INT(kl_parts_min_pending(&t, 99), 3);
	/* a late event of hour 0: buffered beside, not due until the next hour closes */
	CHECK_EQ_INT(kl_parts_note_time(&t, H + 100, 6), 0);
	add(&t, h0, 100, 6, 0);
	CHECK_EQ_INT(t.late, 1);
	CHECK(kl_parts_next_due(&t, 0) == NULL);
	add(&t, h0, 100, 7, 0);
	CHECK_EQ_INT(t.late, 2);
	CHECK_EQ_INT(kl_parts_open(&t), 2);
	/* a dead letter: no hour, due when an hour closes */
	struct kl_part *dead = kl_parts_get(&t, "errors/x", 8);
	add(&t, dead, 100, 8, 0);
	/* hour 1 closes: its file and hour 0's late file and the dead letters */
	CHECK_EQ_INT(kl_parts_note_time(&t, H + 7200 + 600, 9), 1);
	int due = 0;
	struct kl_part *p;
	while ((p = kl_parts_next_due(&t, 0))) {
		CHECK(p == h0 || p == h1 || p == dead);
		due++;
		flush(&t, p);
	}
	CHECK_EQ_INT(due, 3);
	CHECK_EQ_INT(h0->files, 2); /* the hour's file and one late file */
	CHECK_EQ_INT(h1->files, 1);
	/* nothing buffered: the resume point is the watermark's record (9), not
	 * the caller's position */
	CHECK_EQ_INT(kl_parts_min_pending(&t, 99), 9);
	/* max_file_bytes still splits, by bytes: deterministic too */
	struct kl_part *h2 = wpart(&t, H + 7200);
	add(&t, h2, 4000, 10, 0);
	CHECK(!kl_parts_full(&t, h2));
	kl_parts_cleanup(&t);

	/* the same records read from a resume point make the same decisions:
	 * a stream, cut at every position, restarted at min_pending of the cut */
	/* 300 records over 5 hours: in order with jitter, every 7th a minute
	 * early, every 23rd late by 50 minutes (late once its hour closed) */
	enum { N = 300 };
	int64_t ts[N];
	for (int i = 0; i < N; i++)
		ts[i] = i * 60 + (i % 7 == 0 ? -60 : 0) - (i % 23 == 0 ? 3000 : 0) + 3000;
	uint64_t ref[N]; /* the file (numbered by its first record) each record lands in */
	for (int cut = -1; cut < N; cut++) {
		uint64_t got[N];
		struct kl_parts u;
		kl_parts_init(&u, 40, 1 << 30, 1); /* files of 4 records at most */
		kl_parts_set_window(&u, 600);
		uint64_t resume = 0;
		for (int pass = 0; pass < 2; pass++) {
			uint64_t from = pass ? resume : 0, to = pass || cut < 0 ? N : (uint64_t)cut;
			for (uint64_t i = from; i < to; i++) {
				int64_t sec = H + ts[i];
				if (kl_parts_note_time(&u, sec, i))
					while ((p = kl_parts_next_due(&u, 0)))
						flush(&u, p);
				p = wpart(&u, sec);
				if (p->has_stored && i <= p->stored_upto)
					continue; /* already in a file of the first run */
				add(&u, p, 10, i, 0);
				got[i] = p->first_pos;
				if (kl_parts_full(&u, p))
					flush(&u, p);
			}
			if (pass == 0 && cut >= 0) { /* crash: buffers are lost */
				resume = kl_parts_min_pending(&u, (uint64_t)cut);
				struct kl_parts v;
				kl_parts_init(&v, 40, 1 << 30, 1);
				kl_parts_set_window(&v, 600);
				for (size_t k = 0; k < u.n; k++) { /* the state: what is stored */
					if (!u.v[k]->has_stored)
						continue;
					struct kl_part *q = kl_parts_get(&v, u.v[k]->key, u.v[k]->key_len);
					q->stored_upto = u.v[k]->stored_upto;
					q->has_stored = 1;
				}
				for (size_t k = 0; k < u.n; k++) /* records past a file's end are re-read */
					if (u.v[k]->count)
						CHECK(resume <= u.v[k]->first_pos);
				kl_parts_cleanup(&u);
				u = v;
				u.budget = &u.own;
			} else if (pass == 0) {
				break;
			}
		}
		if (cut < 0)
			memcpy(ref, got, sizeof ref);
		else
			for (int i = 0; i < N; i++)
				CHECK_EQ_INT(got[i], ref[i]);
		kl_parts_cleanup(&u);
	}
	/* record 92 (created 1:32, hour 1) comes after hour 1 closed (at 2:10,
	 * record 70): it starts a late file, which record 115 (1:55, late too)
	 * joins, since no other hour closed in between */
	CHECK_EQ_INT(ref[92], 92);
	CHECK_EQ_INT(ref[115], 92);
	CHECK(ref[69] != 69 || ref[68] == 69); /* within a file, or a file's start */
}

/* One budget, two tables: each charges it, and a table's largest goes
 * when the shared total binds, even if that table alone is small. */
static void test_shared_budget(void)
{
	struct kl_budget b;
	kl_budget_init(&b, 10000);
	struct kl_parts x, y;
	kl_parts_init(&x, 1 << 20, 1 << 30, (int64_t)1 << 60);
	kl_parts_init(&y, 1 << 20, 1 << 30, (int64_t)1 << 60);
	kl_parts_share_budget(&x, &b);
	kl_parts_share_budget(&y, &b);
	struct kl_part *xa = kl_parts_get(&x, "a", 1), *xb = kl_parts_get(&x, "b", 1);
	struct kl_part *ya = kl_parts_get(&y, "a", 1);
	add(&y, ya, 4000, 1, 0);
	add(&x, xa, 1000, 2, 0);
	add(&x, xb, 3000, 3, 0);
	CHECK(kl_budget_used(&b) == x.mem + y.mem);
	CHECK(!kl_parts_over_budget(&x));
	CHECK(kl_parts_next_flush(&x, 0, 0) == NULL);
	add(&y, ya, 4000, 4, 0);
	CHECK(kl_parts_over_budget(&x));
	CHECK(kl_parts_next_flush(&x, 0, 0) == xb); /* x's largest */
	CHECK(kl_parts_largest(&x) == xb);
	flush(&x, xb);
	CHECK(kl_budget_used(&b) == x.mem + y.mem);
	CHECK(kl_budget_used(&b) <= b.peak);
	kl_parts_cleanup(&x);
	kl_parts_cleanup(&y);
	CHECK_EQ_INT(kl_budget_used(&b), 0);
}

/* Pinned memory (a stream's marks) shrinks the buffers' room, down to a
 * quarter of the limit: a table then sheds at what it holds below the
 * limit, and never has to make room for more than three quarters. */
static void test_pinned_budget(void)
{
	struct kl_budget b;
	kl_budget_init(&b, 10000);
	struct kl_parts x;
	kl_parts_init(&x, 1 << 20, 1 << 30, (int64_t)1 << 60);
	kl_parts_share_budget(&x, &b);
	struct kl_part *xa = kl_parts_get(&x, "a", 1);
	add(&x, xa, 4000, 1, 0);
	size_t held = x.mem;
	CHECK(held < 10000);
	CHECK_EQ_INT(kl_budget_room(&b), 10000);
	CHECK(!kl_parts_over_budget(&x));
	kl_budget_pin(&b, 10000 - held + 1); /* room: one byte less than held */
	CHECK_EQ_INT(kl_budget_room(&b), held - 1);
	CHECK(kl_parts_over_budget(&x));
	CHECK(kl_parts_should_shed(&x));
	CHECK(kl_parts_next_flush(&x, 0, 0) == xa);
	kl_budget_pin(&b, 1000000); /* more than the limit: a quarter is left */
	CHECK_EQ_INT(kl_budget_room(&b), 2500);
	kl_budget_unpin(&b, 1000000 + 10000 - held + 1);
	CHECK_EQ_INT(kl_budget_room(&b), 10000);
	CHECK(!kl_parts_over_budget(&x));
	kl_parts_cleanup(&x);
	CHECK_EQ_INT(kl_budget_used(&b), 0);
}

/* One table's decisions, as pipeline.c drives them, written down so two
 * tables can be compared: every flush (by size or for memory) with the
 * partition, the memory detach returned, the table's memory after it, and
 * the detached blocks (index, sizes, frames) and every byte. `dec` has the
 * decisions alone (the budget's answers, the exact memory at each, the
 * flushes and their bytes): the same for a table that holds blocks raw
 * (kl_parts_hold_raw) as for one that seals them, whose charges and blocks
 * differ by design. */
struct drive {
	struct kl_parts t;
	struct kl_buf log, dec;
	size_t held_seen;   /* appends after which a block was held raw ... */
	size_t raw_out;	    /* ... and held blocks that went to a flush */
	struct kl_blocks_zctx zx;
	struct kl_buf flat;
	size_t bound_only; /* over the budget at the upper bounds only */
	size_t in_flight;  /* appends after which a seal was still in flight */
	size_t sheds, full;
};

static void drive_flush(struct drive *d, struct kl_part *p, char why)
{
	struct kl_blocks out;
	struct kl_errbuf eb = {0};
	size_t held = kl_parts_detach(&d->t, p, &out);
	for (size_t i = 0; i < out.n; i++)
		d->raw_out += out.v[i].held;
	kl_buf_printf(&d->dec, "%c %s mem=%zu raw=%llu\n", why, p->key, why == 'M' ? d->t.mem : 0,
		      (unsigned long long)kl_blocks_len(&out));
	/* the table's memory is exact when shedding (other partitions' seals
	 * may be in flight after a flush by size) */
	kl_buf_printf(&d->log, "%c %s held=%zu mem=%zu n=%zu raw=%llu zlen=%zu tail=%zu\n", why,
		      p->key, held, why == 'M' ? d->t.mem : 0, out.n, (unsigned long long)out.raw,
		      out.zlen, out.tail.len);
	for (size_t i = 0; i < out.n; i++) { /* the frames themselves */
		CHECK(out.v[i].z != NULL);
		kl_buf_printf(&d->log, " %zu/%zu", out.v[i].raw, out.v[i].zlen);
		if (out.v[i].z)
			kl_buf_append(&d->log, out.v[i].z, out.v[i].zlen);
	}
	kl_buf_reset(&d->flat);
	CHECK_EQ_INT(kl_blocks_flatten(&out, &d->zx, &d->flat, &eb), KL_OK);
	kl_buf_append(&d->log, d->flat.data, d->flat.len);
	kl_buf_append(&d->dec, d->flat.data, d->flat.len);
	kl_blocks_cleanup(&out);
}

static void drive_record(struct drive *d, const char *key, const char *rec, size_t n, uint64_t pos)
{
	struct kl_part *p = kl_parts_get(&d->t, key, strlen(key));
	kl_buf_append(&p->data, rec, n);
	kl_parts_note_append(&d->t, p, pos, 0);
	size_t flight = 0;
	for (size_t i = 0; i < d->t.n; i++)
		flight += d->t.v[i]->pending;
	d->in_flight += flight > 0;
	d->held_seen += d->t.nheld > 0;
	if (d->t.hold_raw) /* figures of the records alone, sealed or not */
		kl_buf_printf(&d->log, "held_waits=%d held_mem=%zu\n", kl_parts_held_waits(&d->t),
			      d->t.held_mem);
	if (kl_parts_full(&d->t, p)) {
		d->full++;
		drive_flush(d, p, 'F');
	}
	int at_bound = kl_budget_over(d->t.budget);
	int over = kl_parts_over_budget(&d->t);
	d->bound_only += at_bound && !over;
	/* not binding, the memory may still count seals at their upper bound;
	 * binding, it is exact */
	kl_buf_printf(&d->log, "%llu over=%d mem=%zu\n", (unsigned long long)pos, over,
		      over ? d->t.mem : 0);
	kl_buf_printf(&d->dec, "%llu over=%d mem=%zu\n", (unsigned long long)pos, over,
		      over ? d->t.mem : 0);
	if (over && kl_parts_should_shed(&d->t)) {
		struct kl_part *pick[64];
		size_t k = kl_parts_pick_for_memory(&d->t, pick, 64);
		d->sheds++;
		kl_buf_printf(&d->log, "shed %zu mem=%zu\n", k, d->t.mem);
		kl_buf_printf(&d->dec, "shed %zu mem=%zu\n", k, d->t.mem);
		for (size_t i = 0; i < k; i++)
			drive_flush(d, pick[i], 'M');
	}
}

/* The same randomized sequence of 30,000 records over 40 partitions into
 * each of the nd tables: a few busy partitions and a long tail of quiet
 * ones. */
static void drive_sequence(struct drive *d, int nd)
{
	uint64_t x = 0x243F6A8885A308D3ull;
	char rec[2048], key[32];
	for (uint64_t i = 0; i < 30000; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		unsigned part = (x & 3) ? (unsigned)(x >> 8) % 6 : (unsigned)(x >> 8) % 40;
		snprintf(key, sizeof key, "events/p%02u", part);
		size_t n = make_record(rec, sizeof rec, x >> 20);
		for (int k = 0; k < nd; k++)
			drive_record(&d[k], key, rec, n, i);
	}
}

/* Sealing on a pool's threads decides exactly as sealing in place: a
 * randomized record sequence over 40 partitions, small blocks, a budget
 * that binds all the time, files split by size too; the same flushes, the
 * same memory at every decision, the same blocks and bytes handed over.
 * Then a table dropped with seals in flight frees everything. */
static void test_seal_pool_same_decisions(void)
{
	struct drive d[2];
	for (int k = 0; k < 2; k++) {
		memset(&d[k], 0, sizeof d[k]);
		kl_parts_init(&d[k].t, 96u << 10, 160u << 10, (int64_t)1 << 60);
		d[k].t.block_bytes = 4096;
		kl_buf_init(&d[k].log, 0);
		kl_buf_init(&d[k].dec, 0);
		kl_buf_init(&d[k].flat, 0);
	}
	struct kl_errbuf eb = {0};
	CHECK_EQ_INT(kl_parts_seal_async(&d[1].t, 2, &eb), KL_OK);
	CHECK(d[1].t.seal != NULL);
	CHECK(d[0].t.seal == NULL);
	drive_sequence(d, 2);
	CHECK(d[0].sheds > 20);	      /* the budget binds ... */
	CHECK(d[0].full > 5);	      /* ... and files split by size too */
	CHECK(d[1].in_flight > 1000); /* seals were in flight at decisions */
	CHECK(d[1].bound_only > 0);   /* and the upper bounds alone said "over" */
	CHECK_EQ_INT(d[0].bound_only, 0);
	CHECK_EQ_INT(d[0].sheds, d[1].sheds);
	CHECK_EQ_INT(d[0].log.len, d[1].log.len);
	CHECK(d[0].log.len == d[1].log.len && !memcmp(d[0].log.data, d[1].log.data, d[0].log.len));
	/* the end of the input: everything, the same */
	for (int k = 0; k < 2; k++) {
		struct kl_part *p;
		while ((p = kl_parts_next_flush(&d[k].t, 0, 1)))
			drive_flush(&d[k], p, 'E');
		CHECK_EQ_INT(d[k].t.mem, 0);
		CHECK_EQ_INT(kl_budget_used(d[k].t.budget), 0);
	}
	CHECK(d[0].log.len == d[1].log.len && !memcmp(d[0].log.data, d[1].log.data, d[0].log.len));
	CHECK(d[1].t.nspare > 0); /* the pool's buffers came back for reuse */
	CHECK(d[1].t.spare_max < kl_seal_pool_cap(d[1].t.seal)); /* fewer than its ring */
	for (int k = 0; k < 2; k++) {
		kl_parts_cleanup(&d[k].t);
		kl_buf_cleanup(&d[k].log);
		kl_buf_cleanup(&d[k].dec);
		kl_buf_cleanup(&d[k].flat);
		kl_blocks_zctx_cleanup(&d[k].zx);
	}

	/* dropped with seals in flight (an error path): nothing leaks (ASan),
	 * the shared budget is given back */
	struct kl_budget b;
	kl_budget_init(&b, 1u << 30);
	struct kl_parts t;
	kl_parts_init(&t, 1 << 30, 1 << 30, (int64_t)1 << 60);
	kl_parts_share_budget(&t, &b);
	t.block_bytes = 4096;
	CHECK_EQ_INT(kl_parts_seal_async(&t, 3, &eb), KL_OK);
	struct kl_buf mirror;
	kl_buf_init(&mirror, 0);
	struct kl_part *p = kl_parts_get(&t, "events/x", 8);
	append_records(&t, p, 0, 400, &mirror);
	CHECK(p->sealed.n > 20);
	CHECK(kl_budget_used(&b) > 0);
	kl_parts_cleanup(&t);
	CHECK_EQ_INT(kl_budget_used(&b), 0);
	CHECK_EQ_INT(atomic_load(&b.tables), 0);
	kl_buf_cleanup(&mirror);

	/* --threads 1: no pool */
	kl_parts_init(&t, 1 << 30, 1 << 30, (int64_t)1 << 60);
	CHECK_EQ_INT(kl_parts_seal_async(&t, 1, &eb), KL_OK);
	CHECK(t.seal == NULL);
	kl_parts_cleanup(&t);
}

static int same_buf(const struct kl_buf *a, const struct kl_buf *b)
{
	return a->len == b->len && (!a->len || !memcmp(a->data, b->data, a->len));
}

/* Two tables that hold blocks raw, given the same records: sealed or not
 * (here, when one is asked for its largest buffer, which seals every held
 * block), the figures of held raw, what detach charges and the bytes the
 * writer gets are the same. */
static void hold_raw_charges_ignore_sealing(void)
{
	struct kl_parts t[2];
	struct kl_part *p[2];
	struct kl_buf mirror;
	struct kl_errbuf eb = {0};
	kl_buf_init(&mirror, 0);
	for (int k = 0; k < 2; k++) {
		kl_parts_init(&t[k], 1 << 30, 1 << 30, (int64_t)1 << 60);
		kl_parts_set_held_level(&t[k], KL_BLOCK_LEVEL_HELD);
		kl_parts_hold_raw(&t[k]);
		t[k].block_bytes = 4096;
		p[k] = kl_parts_get(&t[k], "events/x", 8);
		kl_buf_reset(&mirror);
		append_records(&t[k], p[k], 0, 300, &mirror);
	}
	CHECK(p[0]->nheld > 10 && p[0]->nheld == p[1]->nheld);
	size_t raw_mem = t[0].mem;
	CHECK(kl_parts_largest(&t[1]) == p[1]); /* a decision: every held block sealed */
	CHECK_EQ_INT(p[1]->nheld, 0);
	CHECK_EQ_INT(t[1].nheld, 0);
	CHECK(t[1].mem < raw_mem / 2); /* LZ4 on these records: far less memory */
	CHECK_EQ_INT(t[0].held_mem, t[1].held_mem);
	CHECK_EQ_INT(kl_parts_held_waits(&t[0]), kl_parts_held_waits(&t[1]));
	struct kl_blocks out[2];
	struct kl_blocks_zctx zx = {0};
	struct kl_buf flat[2];
	size_t charge[2];
	for (int k = 0; k < 2; k++) {
		charge[k] = kl_parts_detach(&t[k], p[k], &out[k]);
		kl_buf_init(&flat[k], 0);
		CHECK_EQ_INT(kl_blocks_flatten(&out[k], &zx, &flat[k], &eb), KL_OK);
		CHECK_EQ_INT(t[k].mem, 0);
		CHECK_EQ_INT(t[k].held_mem, 0);
		CHECK_EQ_INT(t[k].nheld, 0);
		CHECK_EQ_INT(kl_budget_used(t[k].budget), 0);
	}
	CHECK_EQ_INT(charge[0], charge[1]);
	/* held_waits: the table as if all held fits alone, not beside a charge */
	struct kl_parts w;
	kl_parts_init(&w, 1 << 30, 256u << 10, (int64_t)1 << 60);
	kl_parts_set_held_level(&w, KL_BLOCK_LEVEL_HELD);
	kl_parts_hold_raw(&w);
	w.block_bytes = 4096;
	struct kl_part *wp = kl_parts_get(&w, "events/w", 8);
	struct kl_buf wtext;
	kl_buf_init(&wtext, 0);
	uint64_t i = 0;
	while (w.held_mem < (128u << 10))
		append_records(&w, wp, i, i + 1, &wtext), i++;
	CHECK(!kl_parts_held_waits(&w));
	kl_budget_add(w.budget, (256u << 10) - w.held_mem + 1); /* a writer's charge */
	CHECK(kl_parts_held_waits(&w));
	kl_budget_sub(w.budget, (256u << 10) - w.held_mem + 1);
	CHECK(!kl_parts_held_waits(&w));
	while (w.held_mem <= (256u << 10))
		append_records(&w, wp, i, i + 1, &wtext), i++;
	kl_budget_add(w.budget, 1000);
	CHECK(!kl_parts_held_waits(&w)); /* alone it does not fit: no use waiting */
	kl_budget_sub(w.budget, 1000);
	kl_parts_cleanup(&w);
	kl_buf_cleanup(&wtext);
	CHECK(charge[0] >= raw_mem); /* every block at its frame's upper bound */
	CHECK(out[0].v[0].held && !out[1].v[0].held);
	CHECK(same_buf(&flat[0], &mirror) && same_buf(&flat[1], &mirror));
	/* drained, a held block goes as it is and its memory with it */
	size_t before = kl_blocks_mem(&out[0]);
	struct kl_buf scratch;
	struct collect seen = {0};
	kl_buf_init(&scratch, 0);
	kl_buf_init(&seen.out, 0);
	CHECK_EQ_INT(kl_blocks_drain(&out[0], &zx, &scratch, collect_fn, &seen, &eb), KL_OK);
	CHECK(same_buf(&seen.out, &mirror));
	CHECK(kl_blocks_mem(&out[0]) < before && out[0].zlen == 0);
	CHECK_EQ_INT(scratch.len, 0); /* nothing was copied to unpack it */
	for (int k = 0; k < 2; k++) {
		kl_blocks_cleanup(&out[k]);
		kl_buf_cleanup(&flat[k]);
		kl_parts_cleanup(&t[k]);
	}
	kl_buf_cleanup(&scratch);
	kl_buf_cleanup(&seen.out);
	kl_buf_cleanup(&mirror);
	kl_blocks_zctx_cleanup(&zx);
}

/* kl_parts_hold_raw on a budget shared with other tables (a stream's
 * shards): blocks stay raw while the budget is at most 3/4 of its room;
 * the first cut above it seals this table's held blocks and its own block, so
 * the budget binds on sealed blocks; the writer is charged the exact
 * memory, and held_waits (exact replay's device) says no. */
static void hold_raw_shared_budget(void)
{
	struct kl_budget b;
	kl_budget_init(&b, 4u << 20);
	struct kl_parts t;
	kl_parts_init(&t, 1 << 30, 4u << 20, (int64_t)1 << 60);
	kl_parts_share_budget(&t, &b);
	kl_parts_set_held_level(&t, KL_BLOCK_LEVEL_HELD);
	kl_parts_hold_raw(&t);
	t.block_bytes = 4096;
	struct kl_part *p = kl_parts_get(&t, "events/s", 8), *q = kl_parts_get(&t, "events/t", 8);
	struct kl_buf mp, mq;
	kl_buf_init(&mp, 0);
	kl_buf_init(&mq, 0);
	append_records(&t, p, 0, 200, &mp);
	append_records(&t, q, 200, 400, &mq);
	CHECK(p->nheld > 5 && q->nheld > 5 && t.nheld == p->nheld + q->nheld);
	CHECK(kl_parts_held_waits(&t) == 0);
	/* another table takes the budget past 3/4 of its room */
	size_t other = kl_budget_room(&b) / 4 * 3 + 1;
	kl_budget_add(&b, other);
	size_t raw_mem = t.mem, cuts = p->sealed.n;
	uint64_t i = 400;
	while (p->sealed.n == cuts) /* up to p's next cut */
		append_records(&t, p, i, i + 1, &mp), i++;
	CHECK_EQ_INT(t.nheld, 0); /* q's blocks too */
	CHECK_EQ_INT(p->nheld, 0);
	CHECK(!p->sealed.v[p->sealed.n - 1].held);
	CHECK(t.mem < raw_mem / 2); /* LZ4 on these records */
	CHECK_EQ_INT(kl_budget_used(&b), other + t.mem);
	/* below 3/4 again: cuts hold again */
	kl_budget_sub(&b, other);
	cuts = q->sealed.n;
	uint64_t j = 100000;
	while (q->sealed.n == cuts)
		append_records(&t, q, j, j + 1, &mq), j++;
	CHECK(q->nheld == 1 && q->sealed.v[q->sealed.n - 1].held);
	/* detached: the charge is the memory held, not as if all were held */
	size_t acct = q->accounted, as_held = q->held_acct;
	struct kl_blocks out;
	struct kl_blocks_zctx zx = {0};
	struct kl_errbuf eb = {0};
	struct kl_buf flat;
	kl_buf_init(&flat, 0);
	CHECK_EQ_INT(kl_parts_detach(&t, q, &out), acct);
	CHECK(acct > 0 && acct < as_held); /* its sealed blocks at their size */
	CHECK_EQ_INT(kl_blocks_flatten(&out, &zx, &flat, &eb), KL_OK);
	CHECK(same_buf(&flat, &mq));
	CHECK_EQ_INT(kl_budget_used(&b), t.mem);
	kl_blocks_cleanup(&out);
	kl_buf_cleanup(&flat);
	kl_blocks_zctx_cleanup(&zx);
	kl_parts_cleanup(&t);
	CHECK_EQ_INT(kl_budget_used(&b), 0);
	kl_buf_cleanup(&mp);
	kl_buf_cleanup(&mq);
}

/* kl_parts_hold_raw: the same decisions as sealing every block when it is
 * cut (test_seal_pool_same_decisions' sequence: a budget that binds often,
 * files split by size), with held blocks going to flushes raw where the
 * budget lets them; and a table that holds raw with a seal pool is the
 * same as one without in everything: decisions, the held-raw figures,
 * what detach charges, the blocks handed over. */
static void test_hold_raw(void)
{
	enum { EAGER, HOLD, HOLD_POOL, ND };
	struct drive d[ND];
	struct kl_errbuf eb = {0};
	for (int k = 0; k < ND; k++) {
		memset(&d[k], 0, sizeof d[k]);
		kl_parts_init(&d[k].t, 96u << 10, 160u << 10, (int64_t)1 << 60);
		d[k].t.block_bytes = 4096;
		kl_parts_set_held_level(&d[k].t, KL_BLOCK_LEVEL_HELD);
		if (k != EAGER)
			kl_parts_hold_raw(&d[k].t);
		kl_buf_init(&d[k].log, 0);
		kl_buf_init(&d[k].dec, 0);
		kl_buf_init(&d[k].flat, 0);
	}
	CHECK_EQ_INT(kl_parts_seal_async(&d[HOLD_POOL].t, 2, &eb), KL_OK);
	drive_sequence(d, ND);
	for (int k = 0; k < ND; k++) {
		struct kl_part *p;
		while ((p = kl_parts_next_flush(&d[k].t, 0, 1)))
			drive_flush(&d[k], p, 'E');
		CHECK_EQ_INT(d[k].t.mem, 0);
		CHECK_EQ_INT(kl_budget_used(d[k].t.budget), 0);
	}
	CHECK(d[EAGER].sheds > 20 && d[EAGER].full > 5);
	CHECK(d[HOLD].held_seen > 1000);
	CHECK(d[HOLD].raw_out > 0); /* text that went to a flush never sealed */
	CHECK_EQ_INT(d[EAGER].raw_out, 0);
	CHECK_EQ_INT(d[EAGER].held_seen, 0);
	CHECK(same_buf(&d[HOLD].dec, &d[EAGER].dec));
	CHECK(same_buf(&d[HOLD].log, &d[HOLD_POOL].log));
	CHECK(!same_buf(&d[HOLD].log, &d[EAGER].log)); /* the charges do differ */
	for (int k = 0; k < ND; k++) {
		kl_parts_cleanup(&d[k].t);
		kl_buf_cleanup(&d[k].log);
		kl_buf_cleanup(&d[k].dec);
		kl_buf_cleanup(&d[k].flat);
		kl_blocks_zctx_cleanup(&d[k].zx);
	}
	hold_raw_charges_ignore_sealing();
	hold_raw_shared_budget();
}

/* Settle the pool's oldest job into `got` (its frame moves there) and pop
 * it; 1 if it came back done, in order (slot == want). */
static int take_oldest(struct kl_seal_pool *sp, struct kl_blocks_zctx *help, struct kl_blocks *got,
		       uint64_t want)
{
	struct kl_seal_job *j = kl_seal_pool_oldest(sp, help);
	if (!j || j->rc != KL_OK || j->slot != want || kl_blocks_reserve(got) != KL_OK)
		return 0;
	got->v[got->n++] = (struct kl_block){
		.z = j->z, .zlen = j->zlen, .raw = j->raw.len, .lz4 = j->level == KL_BLOCK_LZ4};
	got->raw += j->raw.len;
	got->zlen += j->zlen;
	j->z = NULL;
	kl_seal_pool_pop(sp);
	return 1;
}

/* The pool by itself: jobs come back in push order with frames that
 * decompress to their bytes, whoever compressed them (the owner helps when
 * it waits), and a full ring is the owner's to settle. */
static void test_seal_pool(void)
{
	struct kl_seal_pool *sp;
	struct kl_errbuf eb = {0};
	/* four jobs a thread, at least 64 (seal.c JOBS_MIN) */
	CHECK_EQ_INT(kl_seal_pool_new(&sp, 20, &eb), KL_OK);
	CHECK_EQ_INT(kl_seal_pool_cap(sp), 80);
	kl_seal_pool_free(sp);
	CHECK_EQ_INT(kl_seal_pool_new(&sp, 2, &eb), KL_OK);
	CHECK_EQ_INT(kl_seal_pool_cap(sp), 64);
	struct kl_blocks_zctx help = {0}, zx = {0};
	struct kl_blocks got;
	kl_blocks_init(&got);
	struct kl_buf mirror, flat;
	kl_buf_init(&mirror, 0);
	kl_buf_init(&flat, 0);
	char rec[2048];
	uint64_t next = 0;
	for (int i = 0; i < 200; i++) {
		if (kl_seal_pool_full(sp)) { /* settle the oldest, in order */
			CHECK(take_oldest(sp, &help, &got, next));
			next++;
		}
		CHECK(!kl_seal_pool_full(sp));
		struct kl_seal_job *j = kl_seal_pool_head(sp);
		kl_buf_init(&j->raw, 0);
		for (int k = 0; k < 1 + i % 9; k++) {
			size_t n = make_record(rec, sizeof rec, (uint64_t)(i * 10 + k));
			kl_buf_append(&j->raw, rec, n);
			kl_buf_append(&mirror, rec, n);
		}
		j->slot = (size_t)i;
		j->level = i % 3 ? KL_BLOCK_LEVEL_HELD : KL_BLOCK_LEVEL; /* contexts switch */
		kl_seal_pool_push(sp);
	}
	while (kl_seal_pool_pending(sp)) {
		int ok = take_oldest(sp, &help, &got, next);
		CHECK(ok);
		if (!ok)
			break;
		next++;
	}
	CHECK_EQ_INT(next, 200);
	CHECK_EQ_INT(kl_seal_pool_pending(sp), 0);
	CHECK(kl_seal_pool_oldest(sp, NULL) == NULL);
	CHECK_EQ_INT(kl_blocks_flatten(&got, &zx, &flat, &eb), KL_OK);
	CHECK(flat.len == mirror.len && !memcmp(flat.data, mirror.data, flat.len));
	CHECK(got.zlen < got.raw);
	/* freed with jobs queued and running: nothing leaks (ASan) */
	for (int i = 0; i < 8; i++) {
		struct kl_seal_job *j = kl_seal_pool_head(sp);
		kl_buf_init(&j->raw, 0);
		kl_buf_append(&j->raw, mirror.data, 50000);
		kl_seal_pool_push(sp);
	}
	kl_seal_pool_free(sp);
	kl_seal_pool_free(NULL);
	/* a block kept raw (a pool out of memory) reads back as it is */
	struct kl_blocks raw;
	kl_blocks_init(&raw);
	CHECK_EQ_INT(kl_blocks_reserve(&raw), KL_OK);
	char *text = malloc(6);
	memcpy(text, "ab\ncd\n", 6);
	raw.v[raw.n++] = (struct kl_block){.z = text, .raw = 6};
	raw.raw = raw.zlen = 6;
	kl_buf_append(&raw.tail, "e\n", 2);
	kl_buf_reset(&flat);
	CHECK_EQ_INT(kl_blocks_flatten(&raw, &zx, &flat, &eb), KL_OK);
	CHECK(flat.len == 8 && !memcmp(flat.data, "ab\ncd\ne\n", 8));
	kl_blocks_cleanup(&raw);
	kl_blocks_cleanup(&got);
	kl_blocks_zctx_cleanup(&help);
	kl_blocks_zctx_cleanup(&zx);
	kl_buf_cleanup(&mirror);
	kl_buf_cleanup(&flat);
}

/* The buffer of records [0, n) of one partition in a table with this
 * memory limit (small: early cuts, compact) and seal threads, as frames. */
static void frames_of(uint64_t n, size_t limit, size_t threads, struct kl_buf *frames,
		      struct kl_buf *mirror, size_t *early)
{
	struct kl_parts t;
	struct kl_errbuf eb = {0};
	kl_parts_init(&t, 1u << 30, limit, (int64_t)1 << 60);
	CHECK_EQ_INT(kl_parts_seal_async(&t, threads, &eb), KL_OK);
	struct kl_part *p = kl_parts_get(&t, "events/f", 8);
	for (uint64_t i = 0; i < n; i++) {
		append_records(&t, p, i, i + 1, mirror);
		kl_parts_next_flush(&t, 0, 0); /* over the budget: compact (flushes nothing here) */
	}
	struct kl_blocks out;
	kl_parts_detach(&t, p, &out);
	*early = 0;
	for (size_t i = 0; i < out.n; i++)
		*early += out.v[i].early;
	struct kl_blocks_zctx zx = {0};
	struct kl_buf scratch;
	kl_buf_init(&scratch, 0);
	struct collect c = {.fail_at = 0};
	kl_buf_init(&c.out, 0);
	CHECK_EQ_INT(kl_blocks_frames(&out, &zx, &scratch, collect_fn, &c, &eb), KL_OK);
	kl_buf_reset(frames);
	kl_buf_append(frames, c.out.data, c.out.len);
	kl_buf_cleanup(&c.out);
	kl_buf_cleanup(&scratch);
	kl_blocks_zctx_cleanup(&zx);
	kl_blocks_cleanup(&out);
	kl_parts_cleanup(&t);
}

/* Frames of `body`: each a zstd frame with its content size and checksum;
 * their number, and the total content size. */
static size_t count_frames(const struct kl_buf *body, uint64_t *content)
{
	size_t n = 0, off = 0;
	*content = 0;
	while (off < body->len) {
		const unsigned char *f = (const unsigned char *)body->data + off;
		size_t len = ZSTD_findFrameCompressedSize(f, body->len - off);
		CHECK(!ZSTD_isError(len));
		if (ZSTD_isError(len))
			return 0;
		unsigned long long cs = ZSTD_getFrameContentSize(f, len);
		CHECK(cs != ZSTD_CONTENTSIZE_UNKNOWN && cs != ZSTD_CONTENTSIZE_ERROR);
		CHECK(f[4] & 0x04); /* Content_Checksum_flag (RFC 8878 3.1.1.1.1) */
		*content += cs;
		off += len;
		n++;
	}
	return n;
}

/* A buffer's frames: one per regular block plus the tail's, one zstd
 * stream of exactly its bytes; byte-identical with early cuts made under a
 * tight budget and with seal threads; JSON lines with zstd at the default
 * level takes them (encode_blocks), other levels and codecs take text. */
/* Does every block of b hold the frame a fresh context makes of its bytes
 * at `level`? (A frame depends on the bytes and the level alone.) */
static int frames_at(const struct kl_blocks *b, int level)
{
	struct kl_blocks_zctx zx = {0};
	struct kl_errbuf eb = {0};
	struct kl_buf raw;
	kl_buf_init(&raw, 0);
	int ok = b->n > 0;
	for (size_t i = 0; ok && i < b->n; i++) {
		struct kl_blocks one = {.v = &b->v[i], .n = 1, .cap = 1, .raw = b->v[i].raw};
		char *z = NULL;
		size_t zlen = 0;
		struct kl_blocks_zctx fresh = {0};
		kl_buf_reset(&raw);
		ok = kl_blocks_flatten(&one, &zx, &raw, &eb) == KL_OK &&
		     kl_blocks_frame(&fresh, level, raw.data, raw.len, &z, &zlen) == KL_OK &&
		     zlen == b->v[i].zlen && !memcmp(z, b->v[i].z, zlen);
		free(z);
		kl_blocks_zctx_cleanup(&fresh);
	}
	kl_buf_cleanup(&raw);
	kl_blocks_zctx_cleanup(&zx);
	return ok;
}

/* kl_parts_set_held_level: a data partition's blocks at the held level, a
 * dead-letter partition's at KL_BLOCK_LEVEL (its frames become a file), the
 * same frames whether the table or a seal pool makes them; the bytes read
 * back unchanged; the held blocks (LZ4) hold more memory than level 1. */
static void test_held_level(void)
{
	struct kl_parts t[3];
	struct kl_part *data[3], *dead[3];
	struct kl_buf md, mx;
	kl_buf_init(&md, 0);
	kl_buf_init(&mx, 0);
	struct kl_errbuf eb = {0};
	for (int k = 0; k < 3; k++) {
		kl_parts_init(&t[k], 1 << 30, 1 << 30, (int64_t)1 << 60);
		if (k > 0)
			kl_parts_set_held_level(&t[k], KL_BLOCK_LEVEL_HELD);
		if (k == 2)
			CHECK_EQ_INT(kl_parts_seal_async(&t[k], 2, &eb), KL_OK);
		data[k] = kl_parts_get(&t[k], "events/x", 8);
		dead[k] = kl_parts_get(&t[k], "errors/x", 8);
		dead[k]->dead = 1;
		for (uint64_t i = 0; i < 2000; i += 100) { /* interleaved: the context switches */
			kl_buf_reset(&md);
			kl_buf_reset(&mx);
			append_records(&t[k], data[k], i, i + 100, &md);
			append_records(&t[k], dead[k], 5000 + i, 5000 + i + 100, &mx);
		}
		CHECK(kl_parts_largest(&t[k]) != NULL); /* settles the pool's seals */
	}
	CHECK(data[0]->sealed.n >= 5);
	CHECK(frames_at(&data[0]->sealed, KL_BLOCK_LEVEL));
	CHECK(frames_at(&dead[0]->sealed, KL_BLOCK_LEVEL));
	for (int k = 1; k < 3; k++) {
		CHECK(frames_at(&data[k]->sealed, KL_BLOCK_LEVEL_HELD));
		CHECK(frames_at(&dead[k]->sealed, KL_BLOCK_LEVEL));
		CHECK(data[k]->sealed.zlen > data[0]->sealed.zlen); /* less compressed */
		CHECK_EQ_INT(dead[k]->sealed.zlen, dead[0]->sealed.zlen);
	}
	CHECK_EQ_INT(data[1]->sealed.zlen, data[2]->sealed.zlen);
	struct kl_blocks_zctx zx = {0};
	struct kl_buf a, b;
	kl_buf_init(&a, 0);
	kl_buf_init(&b, 0);
	CHECK_EQ_INT(kl_blocks_flatten(&data[0]->sealed, &zx, &a, &eb), KL_OK);
	CHECK_EQ_INT(kl_blocks_flatten(&data[2]->sealed, &zx, &b, &eb), KL_OK);
	CHECK(a.len > 0 && a.len == b.len && !memcmp(a.data, b.data, a.len));
	kl_buf_cleanup(&a);
	kl_buf_cleanup(&b);
	kl_blocks_zctx_cleanup(&zx);
	for (int k = 0; k < 3; k++)
		kl_parts_cleanup(&t[k]);
	kl_buf_cleanup(&md);
	kl_buf_cleanup(&mx);
}

/* LZ4 blocks (KL_BLOCK_LZ4, the held level) beside zstd frames in one
 * kl_blocks: marked as such, read back exactly, made into zstd frames by
 * kl_blocks_frames (a JSON lines body never holds an LZ4 block), and one
 * that does not decompress to its recorded length is an error, not data. */
static void test_blocks_lz4(void)
{
	struct kl_blocks b;
	struct kl_blocks_zctx zx = {0};
	struct kl_errbuf eb = {0};
	struct kl_buf text, flat;
	kl_blocks_init(&b);
	kl_buf_init(&text, 0);
	kl_buf_init(&flat, 0);
	char rec[2048];
	size_t cut[3];
	for (uint64_t i = 0; i < 300; i++) {
		size_t n = make_record(rec, sizeof rec, i);
		kl_buf_append(&text, rec, n);
		if (i == 99 || i == 199)
			cut[i / 100] = text.len;
	}
	cut[2] = text.len;
	CHECK_EQ_INT(kl_blocks_seal(&b, &zx, KL_BLOCK_LZ4, text.data, cut[0], 0), KL_OK);
	CHECK_EQ_INT(kl_blocks_seal(&b, &zx, KL_BLOCK_LEVEL, text.data + cut[0], cut[1] - cut[0], 0),
		     KL_OK);
	CHECK_EQ_INT(kl_blocks_seal(&b, &zx, KL_BLOCK_LZ4, text.data + cut[1], cut[2] - cut[1] - 100, 1),
		     KL_OK);
	kl_buf_append(&b.tail, text.data + cut[2] - 100, 100);
	CHECK(b.n == 3 && b.v[0].lz4 && !b.v[1].lz4 && b.v[2].lz4);
	CHECK(b.v[0].zlen > 0 && b.v[0].zlen < b.v[0].raw); /* compressed */
	CHECK(b.v[0].zlen <= kl_blocks_bound(b.v[0].raw));
	CHECK_EQ_INT(b.zlen, b.v[0].zlen + b.v[1].zlen + b.v[2].zlen);
	CHECK_EQ_INT(kl_blocks_flatten(&b, &zx, &flat, &eb), KL_OK);
	CHECK(flat.len == text.len && !memcmp(flat.data, text.data, text.len));
	struct collect c = {.fail_at = 0};
	kl_buf_init(&c.out, 0);
	CHECK_EQ_INT(kl_blocks_each(&b, &zx, &flat, collect_fn, &c, &eb), KL_OK);
	CHECK(c.calls == 4 && c.out.len == text.len && !memcmp(c.out.data, text.data, text.len));
	/* frames: the LZ4 block made a zstd frame, the zstd one as it is, the
	 * early LZ4 block with the tail one more; together the text */
	kl_buf_reset(&c.out);
	c.calls = 0;
	CHECK_EQ_INT(kl_blocks_frames(&b, &zx, &flat, collect_fn, &c, &eb), KL_OK);
	uint64_t content;
	CHECK_EQ_INT(count_frames(&c.out, &content), 3);
	CHECK_EQ_INT(content, text.len);
	struct kl_buf plain;
	kl_buf_init(&plain, 0);
	CHECK_EQ_INT(kl_buf_reserve(&plain, text.len), KL_OK);
	size_t got = ZSTD_decompress(plain.data, text.len, c.out.data, c.out.len);
	CHECK(!ZSTD_isError(got) && got == text.len && !memcmp(plain.data, text.data, text.len));
	/* the same bytes make the same LZ4 block on a fresh context */
	char *z = NULL;
	size_t zlen = 0;
	struct kl_blocks_zctx fresh = {0};
	CHECK_EQ_INT(kl_blocks_frame(&fresh, KL_BLOCK_LZ4, text.data, cut[0], &z, &zlen), KL_OK);
	CHECK(zlen == b.v[0].zlen && !memcmp(z, b.v[0].z, zlen));
	free(z);
	kl_blocks_zctx_cleanup(&fresh);
	/* no checksum (the blocks never leave the process), but a block that
	 * does not make its recorded length, or runs past its end, fails */
	b.v[0].raw++;
	kl_buf_reset(&flat);
	CHECK_EQ_INT(kl_blocks_flatten(&b, &zx, &flat, &eb), KL_EIO);
	b.v[0].raw--;
	b.v[0].zlen -= 7;
	kl_buf_reset(&flat);
	CHECK_EQ_INT(kl_blocks_flatten(&b, &zx, &flat, &eb), KL_EIO);
	CHECK(eb.code == KL_EIO && strstr(eb.msg, "LZ4") != NULL);
	b.v[0].zlen += 7;
	kl_buf_cleanup(&plain);
	kl_buf_cleanup(&c.out);
	kl_buf_cleanup(&flat);
	kl_buf_cleanup(&text);
	kl_blocks_cleanup(&b);
	kl_blocks_zctx_cleanup(&zx);
}

static void test_blocks_frames(void)
{
	struct kl_buf big, tight, pool, m1, m2, m3, plain;
	kl_buf_init(&big, 0);
	kl_buf_init(&tight, 0);
	kl_buf_init(&pool, 0);
	kl_buf_init(&m1, 0);
	kl_buf_init(&m2, 0);
	kl_buf_init(&m3, 0);
	kl_buf_init(&plain, 0);
	size_t e1, e2, e3;
	frames_of(700, 1u << 30, 1, &big, &m1, &e1);
	frames_of(700, 60000, 1, &tight, &m2, &e2);
	frames_of(700, 60000, 3, &pool, &m3, &e3);
	CHECK_EQ_INT(e1, 0);
	CHECK(e2 > 0 && e3 > 0); /* the tight budget did cut early */
	CHECK(m1.len == m2.len && !memcmp(m1.data, m2.data, m1.len));
	CHECK(big.len == tight.len && !memcmp(big.data, tight.data, big.len));
	CHECK(big.len == pool.len && !memcmp(big.data, pool.data, big.len));
	uint64_t content;
	size_t nf = count_frames(&big, &content);
	CHECK_EQ_INT(content, m1.len);
	/* a frame per regular block (each of a block's bytes plus less than a
	 * record, < 2 kB here) and the tail's */
	CHECK(nf <= m1.len / KL_BLOCK_BYTES + 1 && nf >= m1.len / (KL_BLOCK_BYTES + 2048) + 1);
	CHECK(nf > 5);
	/* one zstd stream of the text */
	CHECK_EQ_INT(kl_buf_reserve(&plain, m1.len), KL_OK);
	size_t got = ZSTD_decompress(plain.data, m1.len, big.data, big.len);
	CHECK(!ZSTD_isError(got) && got == m1.len && !memcmp(plain.data, m1.data, m1.len));
	/* which encoders take the frames */
	struct kl_encoder_opts o = {.compression = KL_COMP_ZSTD};
	struct kl_encoder *e = kl_encoder_jsonl_new(&o);
	CHECK(e && e->ops->encode_blocks);
	kl_encoder_free(e);
	o.level = 3;
	e = kl_encoder_jsonl_new(&o);
	CHECK(e && !e->ops->encode_blocks);
	kl_encoder_free(e);
	o = (struct kl_encoder_opts){.compression = KL_COMP_GZIP};
	e = kl_encoder_jsonl_new(&o);
	CHECK(e && !e->ops->encode_blocks);
	kl_encoder_free(e);
	kl_buf_cleanup(&big);
	kl_buf_cleanup(&tight);
	kl_buf_cleanup(&pool);
	kl_buf_cleanup(&m1);
	kl_buf_cleanup(&m2);
	kl_buf_cleanup(&m3);
	kl_buf_cleanup(&plain);
}

/* Buffers holding the same memory: every choice among them (the largest,
 * those picked for memory, the next due) goes to the one whose first record
 * came first, whatever order the table made them in (a restart makes its
 * stored partitions first, from the state log: exact replay). */
static void test_ties_by_first_record(void)
{
	for (int order = 0; order < 2; order++) {
		struct kl_parts t;
		kl_parts_init(&t, 1 << 30, 1 << 30, 1000);
		struct kl_part *x = NULL, *y = NULL, *z = NULL;
		const char *keys[3] = {"events/x", "events/y", "events/z"};
		for (int i = 0; i < 3; i++) {
			struct kl_part *p = kl_parts_get(&t, keys[order ? 2 - i : i], 8);
			if (p->key[7] == 'x')
				x = p;
			else if (p->key[7] == 'y')
				y = p;
			else
				z = p;
		}
		CHECK(x && y && z);
		if (!x || !y || !z)
			return;
		add(&t, y, 1000, 20, 0); /* y's first record comes first */
		add(&t, x, 1000, 21, 0);
		add(&t, z, 1000, 22, 0);
		CHECK(x->accounted == y->accounted && y->accounted == z->accounted);
		CHECK(kl_parts_largest(&t) == y);
		struct kl_part *pick[3];
		CHECK_EQ_INT(kl_parts_pick_for_memory(&t, pick, 3), 1);
		CHECK(pick[0] == y);
		CHECK(kl_parts_next_due(&t, 5000) == y); /* all three due by age */
		add(&t, x, 1000, 23, 0);		  /* now x holds more */
		CHECK(kl_parts_largest(&t) == x);
		kl_parts_cleanup(&t);
	}
}

int main(void)
{
	test_ties_by_first_record();
	test_blocks_frames();
	test_blocks_lz4();
	test_held_level();
	test_hold_raw();
	test_seal_pool();
	test_seal_pool_same_decisions();
	test_window();
	test_shared_budget();
	test_pinned_budget();
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
				if (m.v[j]->accounted > biggest)
					biggest = m.v[j]->accounted;
			CHECK(f->accounted == biggest);
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
	test_blocks_roundtrip();
	test_blocks_deterministic();
	test_blocks_accounting();
	test_blocks_empty_and_errors();
	test_blocks_raw_block();
	return check_report("test_parts");
}
