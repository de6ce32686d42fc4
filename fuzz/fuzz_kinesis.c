/* fuzz_kinesis.c — libFuzzer target for the Kinesis answers kinlake reads:
 * a GetRecords answer (source/source_kinesis.c), and the same bytes as a
 * ListShards page (aws/kinesis.c, kl_kinesis_shards_page).
 * GetRecords: the response's validating
 * parse and its top-level members, the walk over Records (which trusts that
 * parse for the grammar), base64, KPL de-aggregation, the arrival time and
 * the sequence-number marks (source/seqmap.c). The input is fed as the body
 * of one answer, without a server (kl_source_kinesis_feed), and its records
 * are taken with next(timeout 0), which never calls again.
 * Invariants: never crash; the feed answers OK or a parse error; next()
 * hands out records and then ends the batch (IDLE, or EOF at a closed
 * shard's end) or fails with a parse error, nothing else; positions count
 * up by one from 0; every handed record has a file-name stem of
 * [A-Za-z0-9_.-] and an origin; once records were handed out the
 * checkpoint after them exists, and a new source resumed from it starts at
 * the next position; a second source fed the same bytes hands out the same
 * records; the answer is checked as it is read, so a text kl_json_parse
 * rejects ends its batch in a parse error (after any records before the
 * fault), and one it accepts never fails as "not JSON". ListShards: OK or
 * a parse error; every shard's strings are
 * NUL-terminated within their arrays; the token is a valid JSON string
 * body (it goes back inside a request as it is) and empty unless the page
 * said OK; a second read gives the same shards. */
#include "aws/kinesis.h"
#include "fuzz_common.h"
#include "parse/json.h"
#include "source/source.h"
#include "source/source_kinesis.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_RECORDS 4096

struct seen {
	size_t n;
	uint64_t hash[MAX_RECORDS];
};

static uint64_t fnv(const char *p, size_t n)
{
	uint64_t h = 1469598103934665603ull;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)p[i]) * 1099511628211ull;
	return h ^ n;
}

static struct kl_source *new_source(void)
{
	struct kl_kinesis_source_opts o = {
	    .stream = "fuzz", .shard_id = "shardId-000000000000", .region = "us-east-1",
	    .stop_fd = -1};
	struct kl_errbuf eb = {{0}, 0};
	struct kl_source *s = kl_source_kinesis_new(&o, &eb);
	REQUIRE(s);
	return s;
}

static int stem_ok(const char *p)
{
	for (; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '_' || *p == '.' || *p == '-'))
			return 0;
	return 1;
}

/* Feed, read the batch; returns the feed's result, the records in *out. */
static int run(const uint8_t *data, size_t size, struct seen *out, int check)
{
	struct kl_source *s = new_source();
	int valid = kl_json_parse((const char *)data, size, 64, NULL, NULL) == 0;
	int rc = kl_source_kinesis_feed(s, data, size), last = rc;
	REQUIRE(rc == KL_OK || rc == KL_EPARSE);
	out->n = 0;
	if (rc == KL_OK) {
		struct kl_record rec = {0}; /* as the pipeline: what a source does not set stays 0 */
		int r;
		while ((r = kl_source_next(s, &rec, 0)) == KL_SRC_RECORD) {
			REQUIRE(rec.pos == out->n);
			REQUIRE(rec.n == rec.full_len && !rec.more);
			if (out->n < MAX_RECORDS)
				out->hash[out->n] = fnv(rec.p, rec.n) ^ (uint64_t)rec.arrival_ms;
			out->n++;
			if (check) {
				char name[512];
				REQUIRE(s->ops->pos_name(s, rec.pos, name, sizeof name) == 0);
				REQUIRE(stem_ok(name));
				REQUIRE(s->ops->origin(s, rec.pos, name, sizeof name) == 0);
			}
			rec.more = 0;
		}
		REQUIRE(r == KL_SRC_IDLE || r == KL_SRC_EOF || r == KL_EPARSE);
		last = r;
		if (check && out->n > 0) {
			char cp[512];
			REQUIRE(s->ops->checkpoint(s, out->n, cp, sizeof cp) == 0);
			struct kl_source *again = new_source();
			REQUIRE(kl_source_kinesis_resume(again, cp) == 1);
			REQUIRE(kl_source_next_pos(again) == out->n);
			kl_source_free(again);
		}
	}
	REQUIRE(valid || last == KL_EPARSE);
	REQUIRE(!valid || last != KL_EPARSE || strcmp(s->err.msg, "GetRecords: response is not JSON"));
	kl_source_free(s);
	return rc;
}

struct shards {
	size_t n;
	uint64_t hash;
};

static int on_shard(void *ctx, const struct kl_kinesis_shard *sh)
{
	struct shards *c = ctx;
	const char *f[] = {sh->id, sh->parent, sh->adjacent};
	for (int i = 0; i < 3; i++) {
		REQUIRE(memchr(f[i], '\0', 128) != NULL);
		c->hash = c->hash * 31 + fnv(f[i], strlen(f[i]));
	}
	REQUIRE(sh->closed == 0 || sh->closed == 1);
	c->hash = c->hash * 31 + (uint64_t)sh->closed;
	c->n++;
	return 0;
}

static void list_shards(const uint8_t *data, size_t size)
{
	struct kl_buf token;
	kl_buf_init(&token, 0);
	struct shards a = {0}, b = {0};
	int rc = kl_kinesis_shards_page((const char *)data, size, &token, on_shard, &a);
	REQUIRE(rc == KL_OK || rc == KL_EPARSE);
	REQUIRE(rc == KL_OK || token.len == 0);
	if (token.len) { /* sent back inside a JSON request as it is: a valid string body */
		struct kl_buf q;
		kl_buf_init(&q, 0);
		REQUIRE(kl_buf_putc(&q, '"') == 0 && kl_buf_append(&q, token.data, token.len) == 0 &&
			kl_buf_putc(&q, '"') == 0);
		REQUIRE(kl_json_parse(q.data, q.len, 4, NULL, NULL) == 0);
		kl_buf_cleanup(&q);
	}
	size_t tlen = token.len;
	REQUIRE(kl_kinesis_shards_page((const char *)data, size, &token, on_shard, &b) == rc);
	REQUIRE(a.n == b.n && a.hash == b.hash && token.len == tlen);
	kl_buf_cleanup(&token);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	list_shards(data, size);
	static struct seen a, b;
	int rc = run(data, size, &a, 1);
	REQUIRE(run(data, size, &b, 0) == rc);
	REQUIRE(a.n == b.n);
	size_t n = a.n < MAX_RECORDS ? a.n : MAX_RECORDS;
	REQUIRE(memcmp(a.hash, b.hash, n * sizeof a.hash[0]) == 0);
	return 0;
}
