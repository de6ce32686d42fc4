/* test_seqmap.c — Kinesis positions to sequence numbers, file stems
 * "<shard>-<seq>[-n]" and dead-letter sources "<input>:<seq>[:n]"
 * (source/seqmap.h), as source_kinesis.c and lambda/esm.c use them; and
 * the Kinesis answers they come from: a GetRecords batch read by the
 * source (kl_source_kinesis_feed), a ListShards page (aws/kinesis.h). */
#include "aws/kinesis.h"
#include "check.h"
#include "source/seqmap.h"
#include "source/source_kinesis.h"

#include <inttypes.h>

#define SEQ(n) "49590338271490256608559692538361571095921575989136588" n

static void names(void)
{
	struct kl_seqmap m;
	kl_seqmap_init(&m);
	char out[KL_SEQMAP_STEM_MAX];
	CHECK_EQ_INT(kl_seqmap_stem(&m, "shardId-000000000000", 0, out, sizeof out), -1);
	CHECK(kl_seqmap_find(&m, 0) == NULL);
	/* positions 0-1: one record each; 2-4 an aggregated record; an empty
	 * aggregated record at 5 (shares 5 with the next); 5 a plain record */
	CHECK_EQ_INT(kl_seqmap_add(&m, 0, SEQ("000"), strlen(SEQ("000")), 0), 0);
	CHECK_EQ_INT(kl_seqmap_add(&m, 1, SEQ("001"), strlen(SEQ("001")), 0), 0);
	CHECK_EQ_INT(kl_seqmap_add(&m, 2, SEQ("002"), strlen(SEQ("002")), 1), 0);
	CHECK_EQ_INT(kl_seqmap_add(&m, 5, SEQ("003"), strlen(SEQ("003")), 1), 0);
	CHECK_EQ_INT(kl_seqmap_add(&m, 5, SEQ("004"), strlen(SEQ("004")), 0), 0);
	/* out of order, not digits, too long, empty */
	CHECK_EQ_INT(kl_seqmap_add(&m, 4, SEQ("005"), strlen(SEQ("005")), 0), KL_EINVAL);
	CHECK_EQ_INT(kl_seqmap_add(&m, 6, "12/4", 4, 0), KL_EPARSE);
	CHECK_EQ_INT(kl_seqmap_add(&m, 6, "", 0, 0), KL_EPARSE);
	char longseq[KL_SEQ_MAX + 2];
	memset(longseq, '7', sizeof longseq);
	CHECK_EQ_INT(kl_seqmap_add(&m, 6, longseq, KL_SEQ_MAX + 1, 0), KL_EPARSE);

	const char *sh = "shardId-000000000007";
	CHECK_EQ_INT(kl_seqmap_stem(&m, sh, 0, out, sizeof out), 0);
	CHECK_EQ_STR(out, "shardId-000000000007-" SEQ("000"));
	CHECK_EQ_INT(kl_seqmap_stem(&m, sh, 1, out, sizeof out), 0);
	CHECK_EQ_STR(out, "shardId-000000000007-" SEQ("001"));
	CHECK_EQ_INT(kl_seqmap_stem(&m, sh, 2, out, sizeof out), 0);
	CHECK_EQ_STR(out, "shardId-000000000007-" SEQ("002"));
	CHECK_EQ_INT(kl_seqmap_stem(&m, sh, 4, out, sizeof out), 0);
	CHECK_EQ_STR(out, "shardId-000000000007-" SEQ("002") "-2");
	/* the empty aggregated record is passed over */
	CHECK_EQ_INT(kl_seqmap_stem(&m, sh, 5, out, sizeof out), 0);
	CHECK_EQ_STR(out, "shardId-000000000007-" SEQ("004"));
	/* a later position of the last record (a source that has not added
	 * the next one yet) counts from its first */
	CHECK_EQ_INT(kl_seqmap_stem(&m, sh, 9, out, sizeof out), 0);
	CHECK_EQ_STR(out, "shardId-000000000007-" SEQ("004") "-4");
	/* too small a buffer is an error, never a cut name */
	CHECK_EQ_INT(kl_seqmap_stem(&m, sh, 4, out, 30), -1);

	const char *in =
	    "kinesis:arn:aws:kinesis:us-east-1:123456789012:stream/s/shardId-000000000007";
	char o2[512];
	const char *arn = "arn:aws:kinesis:us-east-1:123456789012:stream/s";
	CHECK_EQ_INT(kl_seqmap_input(o2, sizeof o2, arn, strlen(arn), sh), 0);
	CHECK_EQ_STR(o2, in);
	CHECK_EQ_INT(kl_seqmap_input(o2, sizeof o2, "", 0, sh), 0);
	CHECK_EQ_STR(o2, "kinesis:shardId-000000000007");
	CHECK_EQ_INT(kl_seqmap_input(o2, 20, arn, strlen(arn), sh), -1);
	CHECK_EQ_INT(kl_seqmap_origin(&m, in, 1, o2, sizeof o2), 0);
	CHECK_EQ_STR(
	    o2, "kinesis:arn:aws:kinesis:us-east-1:123456789012:stream/s/shardId-000000000007:" SEQ(
		    "001"));
	CHECK_EQ_INT(kl_seqmap_origin(&m, in, 2, o2, sizeof o2), 0); /* aggregated: ":0" too */
	CHECK_EQ_STR(
	    o2, "kinesis:arn:aws:kinesis:us-east-1:123456789012:stream/s/shardId-000000000007:" SEQ(
		    "002") ":0");
	CHECK_EQ_INT(kl_seqmap_origin(&m, in, 3, o2, sizeof o2), 0);
	CHECK_EQ_STR(
	    o2, "kinesis:arn:aws:kinesis:us-east-1:123456789012:stream/s/shardId-000000000007:" SEQ(
		    "002") ":1");
	CHECK_EQ_INT(kl_seqmap_origin(&m, in, 5, o2, sizeof o2), 0);
	CHECK_EQ_STR(
	    o2, "kinesis:arn:aws:kinesis:us-east-1:123456789012:stream/s/shardId-000000000007:" SEQ(
		    "004"));

	/* forgetting: marks before the checkpoint's are gone, the rest stay */
	const struct kl_seqmark *k = kl_seqmap_find(&m, 3);
	char sq[KL_SEQ_MAX + 1];
	CHECK(k && !strcmp(kl_seqmap_seq(&m, k, sq), SEQ("002")) && k->first_pos == 2 &&
	      k->aggregated);
	kl_seqmap_forget(&m, k);
	CHECK(kl_seqmap_find(&m, 1) == NULL);
	CHECK_EQ_INT(kl_seqmap_stem(&m, sh, 1, out, sizeof out), -1);
	CHECK_EQ_INT(kl_seqmap_stem(&m, sh, 3, out, sizeof out), 0);
	CHECK_EQ_STR(out, "shardId-000000000007-" SEQ("002") "-1");

	/* the longest names fit KL_SEQMAP_STEM_MAX */
	char shard[KL_SHARD_MAX + 1];
	memset(shard, 's', KL_SHARD_MAX);
	shard[KL_SHARD_MAX] = '\0';
	kl_seqmap_reset(&m);
	CHECK(kl_seqmap_find(&m, 3) == NULL);
	CHECK_EQ_INT(kl_seqmap_add(&m, 0, longseq, KL_SEQ_MAX, 1), 0);
	CHECK_EQ_INT(kl_seqmap_stem(&m, shard, UINT64_MAX, out, sizeof out), 0);
	CHECK_EQ_INT(strlen(out), KL_SEQMAP_STEM_MAX - 1);
	kl_seqmap_cleanup(&m);
}

/* a long stream: marks are added and forgotten, the array stays bounded and
 * every lookup agrees with a linear search */
static void window(void)
{
	struct kl_seqmap m;
	kl_seqmap_init(&m);
	uint64_t pos = 0;
	int bad = 0;
	size_t maxcap = 0;
	for (int i = 0; i < 200000; i++) {
		char s[32];
		int n = snprintf(s, sizeof s, "%d", 1000000 + i);
		int subs = i % 7 == 0 ? 3 : i % 11 == 0 ? 0 : 1;
		bad += kl_seqmap_add(&m, pos, s, (size_t)n, subs != 1) != 0;
		pos += (uint64_t)subs;
		if (i % 1000 == 999) { /* a checkpoint 500 positions back */
			const struct kl_seqmark *k = kl_seqmap_find(&m, pos - 500);
			bad += k == NULL;
			if (k)
				kl_seqmap_forget(&m, k);
		}
		if (i % 97 == 0 && pos > 0) { /* look up a recent position */
			uint64_t q = pos - 1 - (uint64_t)(i % 300);
			const struct kl_seqmark *k = kl_seqmap_find(&m, q), *want = NULL;
			for (size_t j = m.live; j < m.n; j++)
				if (m.marks[j].first_pos <= q)
					want = &m.marks[j];
			bad += k != want;
			/* the digits moved with the marks: the live marks still name
			 * consecutive records, the last one record i */
			for (size_t j = m.live; j < m.n; j++) {
				char sq[KL_SEQ_MAX + 1];
				const char *d = kl_seqmap_seq(&m, &m.marks[j], sq);
				int want_seq = 1000000 + i - (int)(m.n - 1 - j);
				bad += strlen(d) != m.marks[j].len || atoi(d) != want_seq;
			}
		}
		if (m.cap > maxcap)
			maxcap = m.cap;
	}
	CHECK_EQ_INT(bad, 0);
	CHECK(maxcap <= 4096);
	kl_seqmap_cleanup(&m);
}

/* Add a random amount below 10^k to the decimal number s (len digits). */
static void dec_add(char *s, size_t len, uint64_t *rng, int k)
{
	int carry = 0;
	for (size_t i = len; i-- > 0;) {
		*rng = *rng * 6364136223846793005u + 1442695040888963407u;
		int add = (int)(len - i) <= k ? (int)((*rng >> 33) % 10) : 0;
		int d = s[i] - '0' + add + carry;
		s[i] = (char)('0' + d % 10);
		carry = d / 10;
		if (!carry && (int)(len - i) > k)
			break;
	}
}

/* Packed marks (seqmap.h, Memory): numbers that share most, some or none
 * of their digits with the one before, of any length, decode exactly after
 * adds, forgets and compactions; realistic 56-digit numbers take ~32 bytes
 * a mark, not 73. */
static void packed(void)
{
	enum { N = 60000 };
	static char ref[N][KL_SEQ_MAX + 1];
	struct kl_seqmap m;
	kl_seqmap_init(&m);
	uint64_t rng = 7;
	char cur[KL_SEQ_MAX + 1] = SEQ("000");
	size_t clen = strlen(cur);
	int bad = 0;
	size_t forgot = 0;
	for (int i = 0; i < N; i++) {
		if (i % 5000 == 4999) { /* a number of another length, also "0" */
			rng = rng * 6364136223846793005u + 1442695040888963407u;
			clen = 1 + (size_t)(rng >> 33) % KL_SEQ_MAX;
			memset(cur, '1', clen);
			cur[0] = i % 10000 == 9999 ? '0' : '1';
			clen = cur[0] == '0' ? 1 : clen;
			cur[clen] = '\0';
		} else {
			dec_add(cur, clen, &rng, i % 3 ? 30 : 3); /* mostly a long suffix */
		}
		memcpy(ref[i], cur, clen + 1);
		bad += kl_seqmap_add(&m, (uint64_t)i, cur, clen, 0) != 0;
		if (i >= 20000 && i % 777 == 0) { /* a checkpoint 3,000 records back */
			const struct kl_seqmark *k = kl_seqmap_find(&m, (uint64_t)(i - 3000));
			bad += k == NULL || k->first_pos != (uint64_t)(i - 3000);
			if (k) {
				kl_seqmap_forget(&m, k);
				forgot = (size_t)(i - 3000);
			}
		}
		if (i % 1013 == 0) /* every live mark decodes to its number */
			for (size_t j = m.live; j < m.n; j++) {
				char sq[KL_SEQ_MAX + 1];
				size_t at = (size_t)m.marks[j].first_pos;
				bad += strcmp(kl_seqmap_seq(&m, &m.marks[j], sq), ref[at]) != 0;
			}
	}
	CHECK_EQ_INT(bad, 0);
	CHECK(kl_seqmap_find(&m, forgot - 1) == NULL); /* forgotten marks are not found */
	char out[KL_SEQMAP_STEM_MAX];
	CHECK_EQ_INT(kl_seqmap_stem(&m, "s", N - 1, out, sizeof out), 0);
	CHECK(!strncmp(out, "s-", 2) && !strcmp(out + 2, ref[N - 1]));
	kl_seqmap_cleanup(&m);

	/* 20,000 realistic numbers (56 digits, the last ~30 changing): bytes a mark */
	kl_seqmap_init(&m);
	memcpy(cur, SEQ("000"), strlen(SEQ("000")) + 1);
	clen = strlen(cur);
	for (int i = 0; i < 20000; i++) {
		dec_add(cur, clen, &rng, 30);
		bad += kl_seqmap_add(&m, (uint64_t)i, cur, clen, 0) != 0;
	}
	double per = (double)(m.n * sizeof *m.marks + m.dlen) / (double)m.n;
	fprintf(stderr, "seqmap: %.1f bytes a mark for 56-digit numbers (text: %zu)\n", per,
		sizeof *m.marks + 57);
	CHECK(per <= 34);
	CHECK_EQ_INT(bad, 0);
	/* what the source pins in the budget: the arrays it holds, at least
	 * what the marks use */
	CHECK(kl_seqmap_bytes(&m) >= m.n * sizeof *m.marks + m.dlen);
	CHECK(kl_seqmap_bytes(&m) <= 4 * (m.n * sizeof *m.marks + m.dlen));
	kl_seqmap_cleanup(&m);
}

/* GetRecords' Limit (source_kinesis.h): about KL_KINESIS_CALL_BYTES of body
 * a call at the last batch's bytes per record, 1 to 10,000. */
static void read_limit(void)
{
	CHECK_EQ_INT(kl_kinesis_read_limit(0, 0), KL_KINESIS_FIRST_LIMIT);
	/* one production hour: 10,000 records of ~650 bytes of body each */
	unsigned n = kl_kinesis_read_limit(6500000, 10000);
	CHECK_EQ_INT(n, KL_KINESIS_CALL_BYTES / 650);
	CHECK((size_t)n * 650 <= KL_KINESIS_CALL_BYTES && KL_KINESIS_CALL_BYTES < (2u << 20));
	CHECK_EQ_INT(kl_kinesis_read_limit(100000, 1000), KL_KINESIS_MAX_LIMIT); /* small records */
	CHECK_EQ_INT(kl_kinesis_read_limit(10u << 20, 2), 1);			  /* 5 MB records */
	CHECK_EQ_INT(kl_kinesis_read_limit(10, 100), KL_KINESIS_MAX_LIMIT);	  /* < 1 byte each */
}

static void ids(void)
{
	CHECK(kl_seqmap_seq_ok("0", 1));
	CHECK(kl_seqmap_seq_ok(SEQ("1"), strlen(SEQ("1"))));
	CHECK(!kl_seqmap_seq_ok("", 0));
	CHECK(!kl_seqmap_seq_ok("1a", 2));
	CHECK(!kl_seqmap_seq_ok("-1", 2));
	CHECK(kl_seqmap_shard_ok("shardId-000000000000", 20));
	CHECK(kl_seqmap_shard_ok("a.b_c-D9", 8));
	CHECK(!kl_seqmap_shard_ok("", 0));
	CHECK(!kl_seqmap_shard_ok("a/b", 3));
	CHECK(kl_seqmap_shard_ok("..", 2)); /* a stem is "<shard>-...": never ".." alone */
	CHECK(!kl_seqmap_shard_ok("a:b", 3));
	CHECK(!kl_seqmap_shard_ok("a b", 3));
	char big[KL_SHARD_MAX + 1];
	memset(big, 'a', sizeof big);
	CHECK(kl_seqmap_shard_ok(big, KL_SHARD_MAX));
	CHECK(!kl_seqmap_shard_ok(big, KL_SHARD_MAX + 1));
}

/* A GetRecords answer through the source: records, arrival times, names,
 * the checkpoint after them; a garbled answer is a parse error. */
static void batch(void)
{
	struct kl_kinesis_source_opts o = {.stream = "s", .shard_id = "shardId-000000000001",
					   .region = "us-east-1", .stop_fd = -1};
	struct kl_errbuf eb = {{0}, 0};
	struct kl_source *s = kl_source_kinesis_new(&o, &eb);
	CHECK(s != NULL);
	if (!s)
		return;
	const char *body = "{\"Records\":[{\"Data\":\"eyJhIjoxfQ==\",\"SequenceNumber\":\"" SEQ(
	    "010") "\",\"ApproximateArrivalTimestamp\":1764547200.5},"
		   "{\"Data\":\"eyJiIjoyfQ==\",\"SequenceNumber\":\"" SEQ(
		       "011") "\"}],\"NextShardIterator\":\"it\",\"MillisBehindLatest\":0}";
	CHECK_EQ_INT(kl_source_kinesis_feed(s, body, strlen(body)), KL_OK);
	struct kl_record r = {0};
	CHECK_EQ_INT(kl_source_next(s, &r, 0), KL_SRC_RECORD);
	CHECK_EQ_MEM(r.p, r.n, "{\"a\":1}");
	CHECK(r.pos == 0 && r.arrival_ms == 1764547200500);
	CHECK_EQ_INT(kl_source_next(s, &r, 0), KL_SRC_RECORD);
	CHECK_EQ_MEM(r.p, r.n, "{\"b\":2}");
	CHECK(r.pos == 1 && r.arrival_ms == 0);
	CHECK_EQ_INT(kl_source_next(s, &r, 0), KL_SRC_IDLE); /* timeout 0: no call */
	char out[256];
	CHECK_EQ_INT(s->ops->pos_name(s, 1, out, sizeof out), 0);
	CHECK_EQ_STR(out, "shardId-000000000001-" SEQ("011"));
	CHECK_EQ_INT(s->ops->checkpoint(s, 2, out, sizeof out), 0);
	CHECK_EQ_STR(out, "after:" SEQ("011") " 2");
	CHECK_EQ_INT(kl_source_kinesis_feed(s, "", 0), KL_EPARSE);
	/* the answer is checked as it is read: a fault after a record ends the
	 * batch there, as a parse error */
	CHECK_EQ_INT(kl_source_kinesis_feed(s, "{\"Records\":[", 12), KL_EPARSE);
	CHECK(strstr(s->err.msg, "response is not JSON") != NULL);
	const char *cut = "{\"NextShardIterator\":\"it\",\"Records\":[{\"Data\":\"eyJjIjozfQ==\","
			  "\"SequenceNumber\":\"" SEQ("012") "\"},{\"Data\":\"eyJkIjo0fQ==\",\"Seq";
	kl_errbuf_clear(&s->err); /* it keeps the first error */
	CHECK_EQ_INT(kl_source_kinesis_feed(s, cut, strlen(cut)), KL_OK);
	CHECK_EQ_INT(kl_source_next(s, &r, 0), KL_SRC_RECORD);
	CHECK_EQ_MEM(r.p, r.n, "{\"c\":3}");
	CHECK_EQ_INT(kl_source_next(s, &r, 0), KL_EPARSE);
	CHECK(strstr(s->err.msg, "response is not JSON") != NULL);
	/* members in any order, the first of a name counting; Records last */
	const char *late = "{\"MillisBehindLatest\":0,\"Records\":null,\"NextShardIterator\":\"it\","
			   "\"Records\":[{\"SequenceNumber\":\"" SEQ("013") "\",\"Data\":\"eyJlIjo1fQ==\","
			   "\"Data\":7}]}";
	CHECK_EQ_INT(kl_source_kinesis_feed(s, late, strlen(late)), KL_OK);
	CHECK_EQ_INT(kl_source_next(s, &r, 0), KL_SRC_IDLE); /* the first Records: none */
	const char *last = "{\"MillisBehindLatest\":0,\"NextShardIterator\":\"it\",\"Records\":[{"
			   "\"SequenceNumber\":\"" SEQ("014") "\",\"Data\":\"eyJlIjo1fQ==\",\"Data\":7}]} ";
	CHECK_EQ_INT(kl_source_kinesis_feed(s, last, strlen(last)), KL_OK);
	CHECK_EQ_INT(kl_source_next(s, &r, 0), KL_SRC_RECORD);
	CHECK_EQ_MEM(r.p, r.n, "{\"e\":5}");
	CHECK_EQ_INT(kl_source_next(s, &r, 0), KL_SRC_IDLE); /* an iterator: not closed */
	const char *escaped = "{\"Records\":[{\"Data\":\"eyJl\\/jo1fQ==\",\"SequenceNumber\":\"" SEQ("015") "\"}]}";
	kl_errbuf_clear(&s->err); /* it keeps the first error */
	CHECK_EQ_INT(kl_source_kinesis_feed(s, escaped, strlen(escaped)), KL_OK);
	CHECK_EQ_INT(kl_source_next(s, &r, 0), KL_EPARSE);
	CHECK(strstr(s->err.msg, "Data is not base64") != NULL);
	const char *trailing = "{\"Records\":[],\"NextShardIterator\":\"it\"} x";
	CHECK_EQ_INT(kl_source_kinesis_feed(s, trailing, strlen(trailing)), KL_EPARSE);
	kl_source_free(s);
}

static int collect(void *ctx, const struct kl_kinesis_shard *sh)
{
	return kl_buf_printf(ctx, "%s|%s|%s|%d;", sh->id, sh->parent, sh->adjacent, sh->closed);
}

/* ListShards pages: the shards in order, closed ones, parents, entries
 * without a ShardId skipped, the NextToken as sent; what is not a page. */
static void shards_page(void)
{
	struct kl_buf got, token;
	kl_buf_init(&got, 0);
	kl_buf_init(&token, 0);
	const char *page =
	    "{\"Shards\":[{\"ShardId\":\"shardId-0\",\"SequenceNumberRange\":{\"Starting"
	    "SequenceNumber\":\"1\",\"EndingSequenceNumber\":\"9\"}},{\"ShardId\":\"shardId-2\","
	    "\"ParentShardId\":\"shardId-0\",\"AdjacentParentShardId\":\"shardId-1\","
	    "\"SequenceNumberRange\":{\"StartingSequenceNumber\":\"10\",\"EndingSequenceNumber"
	    "\":null}},{\"NoId\":1},7],\"NextToken\":\"t\\/1\"}";
	CHECK_EQ_INT(kl_kinesis_shards_page(page, strlen(page), &token, collect, &got), KL_OK);
	CHECK_EQ_MEM(got.data, got.len, "shardId-0|||1;shardId-2|shardId-0|shardId-1|0;");
	CHECK_EQ_MEM(token.data, token.len, "t\\/1");
	kl_buf_reset(&got);
	const char *last = "{\"Shards\":null}";
	CHECK_EQ_INT(kl_kinesis_shards_page(last, strlen(last), &token, collect, &got), KL_OK);
	CHECK(got.len == 0 && token.len == 0);
	const char *bad[] = {"{\"Shards\":{}}", "{\"NextToken\":\"x\"}", "[]", "{\"Shards\":["};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		CHECK_EQ_INT(kl_kinesis_shards_page(bad[i], strlen(bad[i]), &token, collect, &got),
			     KL_EPARSE);
	kl_buf_cleanup(&got);
	kl_buf_cleanup(&token);
}

/* kl_seqmap_seq_ok at every length (16 digits at a time, the last 16
 * overlapping): each one non-digit at each place is refused, '/' and ':'
 * (either side of the digits) and a byte with the top bit set included. */
static void digits(void)
{
	static const char bad[] = {'/', ':', ' ', (char)0xB0, '\0'};
	char s[KL_SEQ_MAX + 1];
	int wrong = 0;
	for (size_t n = 1; n <= KL_SEQ_MAX; n++) {
		for (size_t i = 0; i < n; i++)
			s[i] = (char)('0' + (i * 7 + n) % 10);
		wrong += !kl_seqmap_seq_ok(s, n);
		for (size_t i = 0; i < n; i++)
			for (size_t b = 0; b < sizeof bad; b++) {
				char keep = s[i];
				s[i] = bad[b];
				wrong += kl_seqmap_seq_ok(s, n);
				s[i] = keep;
			}
	}
	CHECK_EQ_INT(wrong, 0);
	CHECK(!kl_seqmap_seq_ok(s, 0));
}

int main(void)
{
	digits();
	names();
	window();
	packed();
	ids();
	read_limit();
	batch();
	shards_page();
	return check_report("test_seqmap");
}
