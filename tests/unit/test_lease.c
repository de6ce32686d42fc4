/*
 * test_lease — the lease manager and the DynamoDB client.
 *
 * Without arguments: the pure parts (item decoding, Scan pages, attribute
 * readers and their limits, fair share, the awsJson1_0 service).
 *
 * Driven by tests/e2e/lease_ddb.sh against moto's DynamoDB (endpoint from
 * AWS_ENDPOINT_URL_DYNAMODB):
 *   test_lease --scenarios PREFIX   every protocol scenario, tables PREFIX-*,
 *                                   workers with their own fake clocks
 *   test_lease --ensure TABLE       ensure the table (two run at once by the
 *                                   script: both must succeed), sync 4 shards
 * A C driver rather than a `kinlake` debug subcommand: the scenarios need
 * injected clocks (expiry and a paused worker without sleeping), which the
 * CLI must not expose, and several workers in one process with separate
 * clients are enough to prove the protocol (the table is the only shared
 * state). The creation race needs two processes, so the script starts them.
 */
#include "aws/credentials.h"
#include "aws/dynamodb.h"
#include "aws/http.h"
#include "lease/fence.h"
#include "source/source.h"
#include "lease/keeper.h"
#include "lease/lease.h"

#include "check.h"

#include <pthread.h>
#include <stdio.h>
#include <sys/wait.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ---- pure ---- */

static void test_decode(void)
{
	struct kl_lease l;
	const char *item =
	    "{\"leaseKey\":{\"S\":\"shardId-000000000001\"},"
	    "\"leaseOwner\":{\"S\":\"w\\u00e9\\\"1\"},\"leaseCounter\":{\"N\":\"42\"},"
	    "\"checkpoint\":{\"S\":\"SHARD_END\"},"
	    "\"checkpointSubSequenceNumber\":{\"N\":\"0\"},"
	    "\"ownerSwitchesSinceCheckpoint\":{\"N\":\"3\"},"
	    "\"parentShardId\":{\"SS\":[\"shardId-0\",\"shardId-9\"]}}";
	CHECK_EQ_INT(kl_lease_item_decode(item, strlen(item), &l), KL_OK);
	CHECK_EQ_STR(l.key, "shardId-000000000001");
	CHECK_EQ_STR(l.owner, "w\xc3\xa9\"1");
	CHECK_EQ_INT(l.counter, 42);
	CHECK_EQ_STR(l.checkpoint, "SHARD_END");
	CHECK_EQ_INT(l.owner_switches, 3);
	CHECK_EQ_INT(l.n_parents, 2);
	CHECK_EQ_STR(l.parents[1], "shardId-9");

	/* a list of strings is read as well; owner absent = unowned */
	const char *item2 =
	    "{\"leaseKey\":{\"S\":\"s\"},\"leaseCounter\":{\"N\":\"0\"},"
	    "\"parentShardId\":{\"L\":[{\"S\":\"p\"}]},\"leaseOwner\":{\"NULL\":true}}";
	CHECK_EQ_INT(kl_lease_item_decode(item2, strlen(item2), &l), KL_OK);
	CHECK_EQ_STR(l.owner, "");
	CHECK_EQ_INT(l.n_parents, 1);
	CHECK_EQ_STR(l.parents[0], "p");

	/* not leases */
	const char *bad[] = {
	    "{}",
	    "{\"leaseKey\":{\"N\":\"1\"}}",
	    "{\"leaseKey\":{\"S\":\"\"}}",
	    "{\"leaseKey\":{\"S\":\"a\"},\"leaseCounter\":{\"N\":\"1.5\"}}",
	    "{\"leaseKey\":{\"S\":\"a\"},\"leaseCounter\":{\"N\":\"99999999999999999999\"}}",
	    "{\"leaseKey\":{\"S\":\"a\"},\"leaseCounter\":{\"S\":\"1\"}}",
	    "{\"leaseKey\":{\"S\":\"a\"},\"leaseCounter\":\"1\"}",
	    "{\"leaseKey\":{\"S\":\"a\\u0000b\"}}",
	    "{\"leaseKey\":{\"S\":\"a\"},\"parentShardId\":{\"SS\":[\"1\",\"2\",\"3\"]}}",
	    "{\"leaseKey\":{\"S\":\"a\"},\"parentShardId\":{\"SS\":[1]}}",
	    "{\"leaseKey\":{\"S\":\"a\"},\"parentShardId\":{\"L\":[\"x\"]}}",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		int rc = kl_lease_item_decode(bad[i], strlen(bad[i]), &l);
		if (rc == KL_OK)
			fprintf(stderr, "accepted: %s\n", bad[i]);
		CHECK(rc != KL_OK);
	}
	/* a key longer than the limit */
	char big[600];
	memset(big, 'k', sizeof big);
	char item3[800];
	snprintf(item3, sizeof item3, "{\"leaseKey\":{\"S\":\"%.*s\"}}", 300, big);
	CHECK_EQ_INT(kl_lease_item_decode(item3, strlen(item3), &l), KL_ELIMIT);
}

static void test_scan_page(void)
{
	const char *page = "{\"Items\":[{\"leaseKey\":{\"S\":\"a\"}},{\"leaseKey\":{\"S\":\"b\"}}],"
			   "\"Count\":2,\"LastEvaluatedKey\":{\"leaseKey\":{\"S\":\"b\"}}}";
	struct kl_json_iter it;
	struct kl_json_member m;
	const char *lek;
	size_t lek_len, n = 0;
	CHECK_EQ_INT(kl_ddb_scan_page(page, strlen(page), &it, &lek, &lek_len), KL_OK);
	while (kl_json_iter_next(&it, &m))
		n++;
	CHECK_EQ_INT(n, 2);
	CHECK_EQ_MEM(lek, lek_len, "{\"leaseKey\":{\"S\":\"b\"}}");
	const char *last = "{\"Items\":[],\"Count\":0}";
	CHECK_EQ_INT(kl_ddb_scan_page(last, strlen(last), &it, &lek, &lek_len), KL_OK);
	CHECK(lek == NULL);
	CHECK_EQ_INT(kl_ddb_scan_page("[]", 2, &it, &lek, &lek_len), KL_EPARSE);
	CHECK_EQ_INT(kl_ddb_scan_page("{\"Items\":{}}", 12, &it, &lek, &lek_len), KL_EPARSE);
	CHECK_EQ_INT(
	    kl_ddb_scan_page("{\"Items\":[],\"LastEvaluatedKey\":1}", 33, &it, &lek, &lek_len),
	    KL_EPARSE);
	CHECK_EQ_INT(kl_ddb_scan_page("{\"Items\":[", 10, &it, &lek, &lek_len), KL_EPARSE);
	CHECK_EQ_INT(kl_ddb_answer_get(" {\"Table\":{}} ", 14, "Table", &m), KL_OK);
	CHECK_EQ_INT(kl_ddb_answer_get("{}", 2, "Table", &m), KL_ENOTFOUND);
}

static void test_share(void)
{
	CHECK_EQ_INT(kl_lease_fair_share(8, 3, 0), 3);
	CHECK_EQ_INT(kl_lease_fair_share(8, 2, 0), 4);
	CHECK_EQ_INT(kl_lease_fair_share(8, 1, 0), 8);
	CHECK_EQ_INT(kl_lease_fair_share(8, 1, 5), 5);
	CHECK_EQ_INT(kl_lease_fair_share(0, 3, 0), 0);
	CHECK_EQ_INT(kl_lease_fair_share(1, 3, 0), 1);
	CHECK_EQ_INT(kl_lease_fair_share(9, 3, 0), 3);
	CHECK_EQ_INT(kl_lease_fair_share(10, 3, 0), 4);
	CHECK_EQ_STR(kl_ddb_service.json_version, "1.0");
	CHECK_EQ_STR(kl_ddb_service.target_prefix, "DynamoDB_20120810");
	CHECK_EQ_STR(kl_ddb_service.signing_name, "dynamodb");
	CHECK_EQ_STR(kl_ddb_service.endpoint_env, "AWS_ENDPOINT_URL_DYNAMODB");
	CHECK(strcmp(kl_strerror(KL_ECONFLICT), "unknown error") != 0);
}

/* ---- against moto ---- */

struct fclock {
	int64_t t;
	int64_t step; /* added after each reading (0: time stands still) */
};
static int64_t fnow(void *ctx)
{
	struct fclock *c = ctx;
	int64_t t = c->t;
	c->t += c->step;
	return t;
}
static void fsleep(void *ctx, unsigned ms)
{
	((struct fclock *)ctx)->t += ms;
	struct timespec ts = {0, 20 * 1000000L};
	nanosleep(&ts, NULL);
}

struct worker {
	struct kl_ddb ddb;
	struct fclock clock;
	struct kl_lease_mgr m;
	char lost[16][KL_LEASE_KEY_MAX];
	size_t n_lost;
	int deaf; /* round_ does not hand over what others asked for (an older kinlake) */
};

static void on_lost(void *ctx, const char *key)
{
	struct worker *w = ctx;
	if (w->n_lost < 16)
		snprintf(w->lost[w->n_lost++], KL_LEASE_KEY_MAX, "%s", key);
}

#define TIMEOUT 10000

static int worker_init_c(struct worker *w, const char *table, const char *id, int *created)
{
	memset(w, 0, sizeof *w);
	struct kl_errbuf eb;
	kl_errbuf_clear(&eb);
	if (kl_ddb_init(&w->ddb, NULL, &eb)) {
		fprintf(stderr, "ddb init: %s\n", eb.msg);
		return -1;
	}
	w->clock.t = 1000000;
	struct kl_lease_opts o = {0};
	o.table = table;
	o.worker_id = id;
	o.timeout_ms = TIMEOUT;
	o.clock = (struct kl_lease_clock){fnow, fsleep, &w->clock};
	o.on_lost = on_lost;
	o.on_lost_ctx = w;
	o.ddb = &w->ddb;
	if (kl_lease_mgr_init(&w->m, &o, &eb) ||
	    kl_lease_ensure_table(&w->m, 30000, created, &eb)) {
		fprintf(stderr, "lease init %s: %s\n", id, eb.msg);
		return -1;
	}
	return 0;
}

static int worker_init(struct worker *w, const char *table, const char *id)
{
	return worker_init_c(w, table, id, NULL);
}

static void worker_cleanup(struct worker *w)
{
	kl_lease_mgr_cleanup(&w->m);
	kl_ddb_cleanup(&w->ddb);
}

static void sync_n(struct worker *w, int n)
{
	struct kl_lease_shard s[16] = {{0}};
	char ids[16][32];
	for (int i = 0; i < n; i++) {
		snprintf(ids[i], sizeof ids[i], "shardId-%012d", i);
		s[i].id = ids[i];
	}
	struct kl_errbuf eb;
	kl_errbuf_clear(&eb);
	unsigned added = 0;
	CHECK_EQ_INT(kl_lease_refresh(&w->m, &eb), KL_OK);
	CHECK_EQ_INT(kl_lease_sync_shards(&w->m, s, (size_t)n, &added, &eb), KL_OK);
	if (eb.code)
		fprintf(stderr, "sync: %s\n", eb.msg);
}

#define TABLE_MAX 128

/* A scenario's workers ws[0..n) as w-a, w-b, ... on the table
 * <prefix>-<name> (into `table`), and the leases of `shards` shards added
 * by the first (sync_n; 0: none); -1 after a failed CHECK: the scenario
 * ends. */
static int workers_init(struct worker **ws, size_t n, const char *prefix, const char *name,
			int shards, char table[TABLE_MAX])
{
	snprintf(table, TABLE_MAX, "%s-%s", prefix, name);
	for (size_t i = 0; i < n; i++) {
		char id[8];
		snprintf(id, sizeof id, "w-%c", (char)('a' + i));
		if (worker_init(ws[i], table, id)) {
			CHECK(!"workers");
			return -1;
		}
	}
	if (shards)
		sync_n(ws[0], shards);
	return 0;
}

static void workers_cleanup(struct worker **ws, size_t n)
{
	for (size_t i = 0; i < n; i++)
		worker_cleanup(ws[i]);
}

/* w's take (CHECKed to go through); how many leases it took. */
static unsigned take(struct worker *w)
{
	struct kl_errbuf eb;
	kl_errbuf_clear(&eb);
	unsigned took = 0;
	CHECK_EQ_INT(kl_lease_take(&w->m, &took, &eb), KL_OK);
	if (eb.code)
		fprintf(stderr, "take %s: %s\n", w->m.me, eb.msg);
	return took;
}

/* Release every lease of w that another worker asked for (kl_lease_shed),
 * as pipeline/stream.c does once the shard's run has committed; how many. */
static unsigned shed_all(struct worker *w)
{
	char keys[64][KL_LEASE_KEY_MAX];
	size_t n = 0;
	for (size_t i = 0; i < w->m.n && n < 64; i++)
		if (kl_lease_shed(&w->m, w->m.rows[i].key))
			snprintf(keys[n++], KL_LEASE_KEY_MAX, "%s", w->m.rows[i].key);
	for (size_t i = 0; i < n; i++) {
		struct kl_errbuf eb;
		kl_errbuf_clear(&eb);
		CHECK_EQ_INT(kl_lease_release(&w->m, keys[i], "after:7", 0, &eb), KL_OK);
	}
	return (unsigned)n;
}

/* One round for the live workers: renew, take, hand over what was asked
 * for (unless deaf); every clock moves by ms. */
static void round_(struct worker **ws, size_t n, int64_t ms)
{
	for (size_t i = 0; i < n; i++) {
		struct kl_errbuf eb;
		kl_errbuf_clear(&eb);
		ws[i]->clock.t += ms;
		CHECK_EQ_INT(kl_lease_renew(&ws[i]->m, &eb), KL_OK);
		CHECK_EQ_INT(kl_lease_take(&ws[i]->m, NULL, &eb), KL_OK);
		if (eb.code)
			fprintf(stderr, "round %s: %s\n", ws[i]->m.me, eb.msg);
		if (!ws[i]->deaf)
			shed_all(ws[i]);
	}
}

/* Held counts must add up to `total`, no lease held twice, and the table
 * must name the holder of each. */
static void check_exclusive(struct worker **ws, size_t n, int total)
{
	struct worker probe;
	if (worker_init(&probe, ws[0]->m.table, "probe"))
		return;
	struct kl_errbuf eb;
	kl_errbuf_clear(&eb);
	CHECK_EQ_INT(kl_lease_refresh(&probe.m, &eb), KL_OK);
	int sum = 0;
	for (size_t i = 0; i < probe.m.n; i++) {
		const struct kl_lease *row = &probe.m.rows[i];
		int holders = 0;
		for (size_t k = 0; k < n; k++)
			if (kl_lease_holds(&ws[k]->m, row->key)) {
				holders++;
				CHECK_EQ_STR(row->owner, ws[k]->m.me);
			}
		CHECK(holders <= 1);
		sum += holders;
	}
	CHECK_EQ_INT(sum, total);
	worker_cleanup(&probe);
}

static void sorted_counts(struct worker **ws, size_t n, unsigned *out)
{
	for (size_t i = 0; i < n; i++)
		out[i] = ws[i]->m.stats.held;
	for (size_t i = 0; i < n; i++)
		for (size_t j = i + 1; j < n; j++)
			if (out[j] > out[i]) {
				unsigned x = out[i];
				out[i] = out[j];
				out[j] = x;
			}
}

/* 3 workers, 8 shards: (3,3,2); then worker 1 stops renewing (its clock
 * frozen: a paused process) and the others take over; then it wakes up and
 * its checkpoint and renew are refused by DynamoDB. */
static void scenario_balance_expiry_fencing(const char *prefix)
{
	char table[TABLE_MAX];
	struct worker a, b, c;
	struct worker *all[3] = {&a, &b, &c};
	if (workers_init(all, 3, prefix, "balance", 8, table))
		return;
	for (int r = 0; r < 8; r++)
		round_(all, 3, 1000);
	unsigned cnt[3];
	sorted_counts(all, 3, cnt);
	CHECK_EQ_INT(cnt[0], 3);
	CHECK_EQ_INT(cnt[1], 3);
	CHECK_EQ_INT(cnt[2], 2);
	check_exclusive(all, 3, 8);
	CHECK(a.m.stats.taken == 8); /* a came first: all 8 were unowned */
	/* b and c asked, a handed 5 over (released), nothing was stolen */
	CHECK(b.m.stats.asked + c.m.stats.asked >= 5);
	CHECK_EQ_INT(b.m.stats.stolen + c.m.stats.stolen, 0);
	CHECK_EQ_INT(a.m.stats.lost, 0);
	CHECK_EQ_INT(a.m.stats.released, a.m.stats.taken - a.m.stats.held);
	/* stable: more rounds move nothing */
	uint64_t moves = b.m.stats.taken + c.m.stats.taken + a.m.stats.released;
	for (int r = 0; r < 5; r++)
		round_(all, 3, 1000);
	CHECK_EQ_INT(b.m.stats.taken + c.m.stats.taken + a.m.stats.released, moves);

	/* a pauses: b and c go on; a's leases expire by their clocks */
	const char *akeys[8];
	size_t na = kl_lease_held(&a.m, akeys, 8);
	char akey[KL_LEASE_KEY_MAX];
	snprintf(akey, sizeof akey, "%s", akeys[0]);
	CHECK(na >= 2);
	struct worker *live[2] = {&b, &c};
	for (int r = 0; r < 8; r++)
		round_(live, 2, 2000); /* 16 s > the 10 s timeout */
	CHECK_EQ_INT(b.m.stats.held + c.m.stats.held, 8);
	CHECK_EQ_INT(b.m.stats.held, 4);
	CHECK(kl_lease_holds(&a.m, akey)); /* a does not know yet (its clock stood still) */

	/* a wakes up (its clock did not move): fenced by the condition */
	struct kl_errbuf eb;
	kl_errbuf_clear(&eb);
	CHECK_EQ_INT(kl_lease_checkpoint(&a.m, akey, 0, "after:999", 0, &eb), KL_ECONFLICT);
	/* refused by DynamoDB's condition, and not retried (the row, read
	 * after the refusal, names b or c: not a renewal of a's own) */
	CHECK(strstr(eb.msg, "ConditionalCheckFailedException") != NULL);
	CHECK(strstr(eb.msg, "(1 attempt)") != NULL);
	CHECK(!kl_lease_holds(&a.m, akey));
	CHECK_EQ_INT(a.n_lost >= 1 && !strcmp(a.lost[a.n_lost - 1], akey), 1);
	kl_errbuf_clear(&eb);
	CHECK_EQ_INT(kl_lease_renew(&a.m, &eb), KL_OK);
	CHECK_EQ_INT(a.m.stats.held, 0);
	/* the table's checkpoint was not moved by a */
	struct kl_errbuf eb2;
	kl_errbuf_clear(&eb2);
	CHECK_EQ_INT(kl_lease_refresh(&b.m, &eb2), KL_OK);
	const struct kl_lease *row = kl_lease_get(&b.m, akey);
	CHECK(row && strcmp(row->checkpoint, "after:999") != 0);
	CHECK(row && (!strcmp(row->owner, "w-b") || !strcmp(row->owner, "w-c")));

	/* a rejoins: it gets a share back by asking */
	struct worker *again[3] = {&b, &c, &a};
	for (int r = 0; r < 8; r++)
		round_(again, 3, 1000);
	sorted_counts(all, 3, cnt);
	CHECK_EQ_INT(cnt[0], 3);
	CHECK_EQ_INT(cnt[2], 2);
	check_exclusive(all, 3, 8);

	/* graceful release: c hands its leases over with a checkpoint; the
	 * others take them at once, without waiting for a timeout */
	const char *ckeys[8];
	size_t nc = kl_lease_held(&c.m, ckeys, 8);
	char ck[8][KL_LEASE_KEY_MAX];
	uint64_t released0 = c.m.stats.released; /* handed over when asked */
	for (size_t i = 0; i < nc; i++)
		snprintf(ck[i], sizeof ck[i], "%s", ckeys[i]);
	for (size_t i = 0; i < nc; i++) {
		kl_errbuf_clear(&eb);
		CHECK_EQ_INT(kl_lease_release(&c.m, ck[i], "after:12345", 7, &eb), KL_OK);
	}
	CHECK_EQ_INT(c.m.stats.held, 0);
	CHECK_EQ_INT(c.m.stats.released - released0, nc);
	struct worker *two[2] = {&a, &b};
	round_(two, 2, 0); /* no time passes */
	CHECK_EQ_INT(a.m.stats.held + b.m.stats.held, 8);
	CHECK_EQ_INT(a.m.stats.held, 4);
	const struct kl_lease *r0 = kl_lease_get(&a.m, ck[0]);
	CHECK(r0 && !strcmp(r0->checkpoint, "after:12345") && r0->checkpoint_sub == 7);
	CHECK(r0 && r0->owner_switches == 1);
	workers_cleanup(all, 3);
}

/* One worker holds all 8; a second joins: it asks for 4 (kinlake's "ask",
 * lease.h) instead of stealing; the first worker's next take marks them
 * shed, it releases them (its readers have committed: the stream does
 * that), and the second takes them: nothing lost, nothing stolen. An owner
 * that does not let go (deaf: an older kinlake) has an asked lease stolen
 * two timeouts after the request, not sooner. */
static void scenario_steal(const char *prefix)
{
	char table[TABLE_MAX];
	struct worker a, b, c;
	struct worker *all[3] = {&a, &b, &c};
	if (workers_init(all, 3, prefix, "steal", 8, table))
		return;
	struct kl_errbuf eb;
	kl_errbuf_clear(&eb);
	CHECK_EQ_INT(take(&a), 8);
	CHECK_EQ_INT(take(&b), 0);
	CHECK_EQ_INT(b.m.stats.asked, 4);
	CHECK_EQ_INT(b.m.stats.stolen, 0);
	/* b waits for what it asked for (its keeper looks sooner); a does not */
	CHECK(kl_lease_awaiting(&b.m));
	CHECK(!kl_lease_awaiting(&a.m));
	/* asking moved nothing: a's renewals go on */
	a.clock.t += 1000;
	CHECK_EQ_INT(kl_lease_renew(&a.m, &eb), KL_OK);
	CHECK_EQ_INT(a.m.stats.held, 8);
	CHECK_EQ_INT(a.m.stats.lost, 0);
	/* asking again while waiting asks nothing more */
	b.clock.t += 1000;
	CHECK_EQ_INT(take(&b), 0);
	CHECK_EQ_INT(b.m.stats.asked, 4);
	CHECK_EQ_INT(take(&a), 0);
	CHECK_EQ_INT(shed_all(&a), 4);
	CHECK_EQ_INT(a.m.stats.held, 4);
	CHECK_EQ_INT(a.m.stats.released, 4);
	CHECK_EQ_INT(a.m.stats.lost, 0);
	/* a does not take back what it handed over (b's request is gone with
	 * the release: a alone would count a share of 8) */
	a.clock.t += 1000;
	CHECK_EQ_INT(take(&a), 0);
	CHECK_EQ_INT(take(&b), 4);
	CHECK(!kl_lease_awaiting(&b.m)); /* answered */
	CHECK_EQ_INT(b.m.stats.taken, 4);
	CHECK_EQ_INT(b.m.stats.stolen, 0);
	const char *bk[8];
	CHECK_EQ_INT(kl_lease_held(&b.m, bk, 8), 4);
	/* released with a checkpoint (switches 0), then taken: 1 */
	const struct kl_lease *l = kl_lease_get(&b.m, bk[0]);
	CHECK(l && l->owner_switches == 1 && !strcmp(l->checkpoint, "after:7"));
	struct worker *ab[2] = {&a, &b};
	check_exclusive(ab, 2, 8);
	/* stable at 4/4 */
	for (int i = 0; i < 3; i++)
		round_(ab, 2, 1000);
	CHECK_EQ_INT(a.m.stats.held, 4);
	CHECK_EQ_INT(b.m.stats.held, 4);
	CHECK_EQ_INT(b.m.stats.asked, 4);

	/* c joins deaf owners: it asks for one, waits two timeouts, steals it */
	a.deaf = b.deaf = 1;
	round_(all, 3, 1000);
	CHECK_EQ_INT(c.m.stats.asked, 1);
	CHECK(kl_lease_awaiting(&c.m));
	int64_t asked_at = c.clock.t;
	while (!c.m.stats.stolen && c.clock.t - asked_at < 4 * TIMEOUT)
		round_(all, 3, 1000);
	CHECK_EQ_INT(c.m.stats.stolen, 1);
	CHECK(!kl_lease_awaiting(&c.m)); /* it holds what it asked for */
	CHECK(c.clock.t - asked_at >= 2 * TIMEOUT);
	CHECK(c.clock.t - asked_at <= 2 * TIMEOUT + 1000);
	round_(all, 3, 1000); /* the owner's renew finds it gone */
	CHECK_EQ_INT(a.m.stats.lost + b.m.stats.lost, 1);
	check_exclusive(all, 3, 8);
	workers_cleanup(all, 3);
}

/* A lease released by its holder is free for everyone, the holder too: the
 * holder's own next take takes it straight back, under a new tenure (what
 * a shard that ended on idle, --exit-idle, or at graceful shutdown, would
 * then be: held by a worker that does not read it, pipeline/stream.c).
 * Forgone before its release, it stays free for the others; after
 * kl_lease_drain a worker takes nothing, not even a free lease. */
static void scenario_forgo_drain(const char *prefix)
{
	char table[TABLE_MAX];
	struct worker a, b;
	struct worker *ab[2] = {&a, &b};
	if (workers_init(ab, 2, prefix, "forgo", 3, table))
		return;
	struct kl_errbuf eb;
	kl_errbuf_clear(&eb);
	CHECK_EQ_INT(take(&a), 3);
	const char *k1 = "shardId-000000000001", *k2 = "shardId-000000000002";
	uint64_t t1 = kl_lease_tenure(&a.m, k1);
	CHECK(t1 != 0);
	/* released without forgo: back to a at its next take, a new tenure */
	CHECK_EQ_INT(kl_lease_release(&a.m, k1, NULL, 0, &eb), KL_OK);
	CHECK(!kl_lease_holds(&a.m, k1));
	a.clock.t += 1000;
	CHECK_EQ_INT(take(&a), 1);
	CHECK(kl_lease_holds(&a.m, k1));
	CHECK(kl_lease_tenure(&a.m, k1) != t1);
	/* forgone, then released: a's takes leave it alone (none of its own
	 * is free: a takes nothing), b takes it at once, without stealing */
	CHECK_EQ_INT(kl_lease_forgo(&a.m, k1), KL_OK);
	CHECK_EQ_INT(kl_lease_forgo(&a.m, "no-such-shard"), KL_ENOTFOUND);
	CHECK_EQ_INT(kl_lease_release(&a.m, k1, NULL, 0, &eb), KL_OK);
	for (int i = 0; i < 3; i++) {
		a.clock.t += TIMEOUT;
		CHECK_EQ_INT(kl_lease_renew(&a.m, &eb), KL_OK);
		CHECK_EQ_INT(take(&a), 0);
		CHECK(!kl_lease_holds(&a.m, k1));
	}
	CHECK_EQ_INT(a.m.stats.held, 2);
	CHECK_EQ_INT(take(&b), 1);
	CHECK(kl_lease_holds(&b.m, k1));
	CHECK_EQ_INT(b.m.stats.taken, 1);
	CHECK_EQ_INT(b.m.stats.stolen, 0);
	/* a forgone lease is out of a's count: a holds both leases it counts
	 * and steals nothing to make up for the one it gave away */
	a.clock.t += TIMEOUT;
	CHECK_EQ_INT(kl_lease_renew(&a.m, &eb), KL_OK);
	CHECK_EQ_INT(take(&a), 0);
	CHECK_EQ_INT(a.m.stats.stolen, 0);
	/* drain: b releases k1 (graceful shutdown); a drains and then leaves
	 * a free lease alone too; renewals go on */
	CHECK_EQ_INT(kl_lease_release(&b.m, k1, NULL, 0, &eb), KL_OK);
	kl_lease_drain(&b.m);
	b.clock.t += TIMEOUT;
	CHECK_EQ_INT(take(&b), 0);
	CHECK(!kl_lease_holds(&b.m, k1));
	kl_lease_drain(&a.m);
	uint64_t renewals = a.m.stats.renewals;
	a.clock.t += 1000;
	CHECK_EQ_INT(kl_lease_renew(&a.m, &eb), KL_OK);
	CHECK_EQ_INT(a.m.stats.renewals, renewals + 2);
	/* k2 released by a while draining: nobody of the two takes it back */
	CHECK_EQ_INT(kl_lease_release(&a.m, k2, NULL, 0, &eb), KL_OK);
	CHECK_EQ_INT(take(&a), 0);
	CHECK_EQ_INT(a.m.stats.held, 1);
	workers_cleanup(ab, 2);
}

/* 4 leases, 3 workers at (2,2,0): the share is 2 and nobody holds more,
 * but the empty worker is two short: it asks for one (the KCL's steal
 * rule), the owner, at its share, hands it over, and then nothing moves
 * any more: (2,1,1), nothing stolen. */
static void scenario_steal_at_share(const char *prefix)
{
	char table[TABLE_MAX];
	struct worker a, b, c;
	struct worker *all[3] = {&a, &b, &c};
	if (workers_init(all, 3, prefix, "share", 4, table))
		return;
	for (int r = 0; r < 4; r++)
		round_(all, 2, 1000); /* a and b */
	CHECK_EQ_INT(a.m.stats.held, 2);
	CHECK_EQ_INT(b.m.stats.held, 2);
	CHECK_EQ_INT(take(&c), 0);
	CHECK_EQ_INT(c.m.stats.asked, 1);
	for (int r = 0; r < 6; r++)
		round_(all, 3, 1000);
	unsigned cnt[3];
	sorted_counts(all, 3, cnt);
	CHECK_EQ_INT(cnt[0], 2);
	CHECK_EQ_INT(cnt[1], 1);
	CHECK_EQ_INT(cnt[2], 1);
	/* b asked for 2 on its way to 2/2, c for one: handed over, none stolen */
	CHECK_EQ_INT(a.m.stats.stolen + b.m.stats.stolen + c.m.stats.stolen, 0);
	CHECK_EQ_INT(a.m.stats.released + b.m.stats.released, 3);
	CHECK_EQ_INT(c.m.stats.taken, 1);
	check_exclusive(all, 3, 4);
	workers_cleanup(all, 3);
}

/* A split (p -> c1, c2) and a merge (c1 + c2 -> m): children are taken only
 * after every parent is at SHARD_END, by any worker. */
static void scenario_parents(const char *prefix)
{
	char table[TABLE_MAX];
	struct worker a, b;
	struct worker *ab[2] = {&a, &b};
	if (workers_init(ab, 2, prefix, "parents", 0, table))
		return;
	struct kl_lease_shard s[4] = {
	    {"shardId-p", {NULL, NULL}},
	    {"shardId-c1", {"shardId-p", NULL}},
	    {"shardId-c2", {"shardId-p", NULL}},
	    {"shardId-m", {"shardId-c1", "shardId-c2"}},
	};
	struct kl_errbuf eb;
	kl_errbuf_clear(&eb);
	unsigned added;
	CHECK_EQ_INT(kl_lease_refresh(&a.m, &eb), KL_OK);
	CHECK_EQ_INT(kl_lease_sync_shards(&a.m, s, 4, &added, &eb), KL_OK);
	CHECK_EQ_INT(added, 4);
	/* again, from the other worker: nothing new, no error */
	CHECK_EQ_INT(kl_lease_sync_shards(&b.m, s, 4, &added, &eb), KL_OK);
	CHECK_EQ_INT(added, 0);
	CHECK_EQ_INT(take(&a), 1);
	CHECK(kl_lease_holds(&a.m, "shardId-p"));
	CHECK_EQ_INT(take(&b), 0); /* the children wait; p is a's and not over share */
	const struct kl_lease *m0 = kl_lease_get(&b.m, "shardId-m");
	CHECK(m0 && m0->n_parents == 2 && !strcmp(m0->checkpoint, "TRIM_HORIZON"));
	/* p ends */
	CHECK_EQ_INT(kl_lease_release(&a.m, "shardId-p", KL_LEASE_SHARD_END, 0, &eb), KL_OK);
	CHECK_EQ_INT(take(&b), 2); /* c1 and c2: b alone sees 2 leases, share 2 */
	CHECK(kl_lease_holds(&b.m, "shardId-c1") && kl_lease_holds(&b.m, "shardId-c2"));
	CHECK(!kl_lease_holds(&b.m, "shardId-m"));
	/* one parent of the merge ends: m still waits */
	CHECK_EQ_INT(kl_lease_checkpoint(&b.m, "shardId-c1", 0, KL_LEASE_SHARD_END, 0, &eb), KL_OK);
	CHECK_EQ_INT(take(&a), 0);
	CHECK(!kl_lease_holds(&a.m, "shardId-m"));
	CHECK_EQ_INT(kl_lease_release(&b.m, "shardId-c2", KL_LEASE_SHARD_END, 0, &eb), KL_OK);
	CHECK_EQ_INT(take(&a), 1);
	CHECK(kl_lease_holds(&a.m, "shardId-m"));
	/* finished shards are never taken again */
	CHECK(!kl_lease_holds(&a.m, "shardId-p") && !kl_lease_holds(&a.m, "shardId-c2"));
	if (eb.code)
		fprintf(stderr, "parents: %s\n", eb.msg);
	workers_cleanup(ab, 2);
}

/* A worker whose renewals fail (no table any more, say) drops its leases
 * by itself once the timeout has passed since the last good renew. */
static void scenario_local_expiry(const char *prefix)
{
	char table[TABLE_MAX];
	struct worker a;
	struct worker *one[1] = {&a};
	if (workers_init(one, 1, prefix, "local", 2, table))
		return;
	struct kl_errbuf eb;
	kl_errbuf_clear(&eb);
	CHECK_EQ_INT(kl_lease_take(&a.m, NULL, &eb), KL_OK);
	CHECK_EQ_INT(a.m.stats.held, 2);
	/* point the manager at a table that does not exist: renewals fail */
	snprintf(a.m.table, sizeof a.m.table, "%s-gone", prefix);
	a.clock.t += 3000;
	CHECK_EQ_INT(kl_lease_renew(&a.m, &eb), KL_ENOTFOUND);
	CHECK_EQ_INT(a.m.stats.held, 2); /* within the timeout: still held */
	CHECK(kl_lease_holds(&a.m, "shardId-000000000000"));
	a.clock.t += TIMEOUT - 3000;
	/* the timeout since the last good renew has passed: not ours any more,
	 * even before a renew attempt says so */
	CHECK(!kl_lease_holds(&a.m, "shardId-000000000000"));
	a.clock.t += 3000;
	kl_errbuf_clear(&eb);
	CHECK(kl_lease_renew(&a.m, &eb) != KL_OK);
	CHECK_EQ_INT(a.m.stats.held, 0);
	CHECK_EQ_INT(a.m.stats.lost, 2);
	worker_cleanup(&a);
}

/* Our own renew landed but its answer was lost (the table is one ahead,
 * still naming us): neither the next renew nor a scan declares the lease
 * lost. A row bumped while naming another owner is lost. */
static void scenario_lost_answer(const char *prefix)
{
	char table[TABLE_MAX];
	struct worker a;
	struct worker *one[1] = {&a};
	if (workers_init(one, 1, prefix, "answer", 2, table))
		return;
	struct kl_errbuf eb;
	kl_errbuf_clear(&eb);
	CHECK_EQ_INT(kl_lease_take(&a.m, NULL, &eb), KL_OK);
	const char *bump = "{\":one\":{\"N\":\"1\"}}";
	const char *k0 = "{\"leaseKey\":{\"S\":\"shardId-000000000000\"}}";
	const char *k1 = "{\"leaseKey\":{\"S\":\"shardId-000000000001\"}}";
	/* the "landed" write, made by a second client */
	struct kl_ddb other;
	CHECK_EQ_INT(kl_ddb_init(&other, NULL, &eb), KL_OK);
	CHECK_EQ_INT(kl_ddb_update_item(&other, table, k0, "SET leaseCounter = leaseCounter + :one",
					NULL, NULL, bump),
		     KL_OK);
	CHECK_EQ_INT(kl_lease_renew(&a.m, &eb), KL_OK);
	CHECK_EQ_INT(a.m.stats.held, 2);
	CHECK_EQ_INT(a.m.stats.lost, 0);
	CHECK_EQ_INT(kl_ddb_update_item(&other, table, k0, "SET leaseCounter = leaseCounter + :one",
					NULL, NULL, bump),
		     KL_OK);
	CHECK_EQ_INT(kl_lease_refresh(&a.m, &eb), KL_OK);
	CHECK_EQ_INT(a.m.stats.held, 2);
	CHECK_EQ_INT(kl_lease_renew(&a.m, &eb), KL_OK);
	CHECK_EQ_INT(a.m.stats.held, 2);
	/* another owner's write: lost on the next scan */
	CHECK_EQ_INT(kl_ddb_update_item(&other, table, k1,
					"SET leaseCounter = leaseCounter + :one, leaseOwner = :o",
					NULL, NULL,
					"{\":one\":{\"N\":\"1\"},\":o\":{\"S\":\"w-x\"}}"),
		     KL_OK);
	CHECK_EQ_INT(kl_lease_refresh(&a.m, &eb), KL_OK);
	CHECK_EQ_INT(a.m.stats.held, 1);
	CHECK_EQ_INT(a.m.stats.lost, 1);
	CHECK(!kl_lease_holds(&a.m, "shardId-000000000001"));
	if (eb.code)
		fprintf(stderr, "lost answer: %s\n", eb.msg);
	kl_ddb_cleanup(&other);
	worker_cleanup(&a);
}

/* A renewal and a checkpoint or release of the same lease cross: the
 * renewal (on the renewer's thread, with a client of its own) has landed
 * and moved the counter before the manager saw its answer. The checkpoint
 * and the release, refused by the counter they name, read the row, find it
 * still naming this worker, and go through with its counter: nothing lost.
 * A row naming another owner is refused and lost as before. */
static void scenario_crossing(const char *prefix)
{
	char table[TABLE_MAX];
	struct worker a;
	struct worker *one[1] = {&a};
	if (workers_init(one, 1, prefix, "cross", 3, table))
		return;
	struct kl_errbuf eb;
	kl_errbuf_clear(&eb);
	CHECK_EQ_INT(kl_lease_take(&a.m, NULL, &eb), KL_OK);
	CHECK_EQ_INT(a.m.stats.held, 3);
	struct kl_ddb other; /* the renewer's client */
	CHECK_EQ_INT(kl_ddb_init(&other, NULL, &eb), KL_OK);
	const char *bump = "{\":one\":{\"N\":\"1\"}}";
	const char *k0 = "{\"leaseKey\":{\"S\":\"shardId-000000000000\"}}";
	const char *k1 = "{\"leaseKey\":{\"S\":\"shardId-000000000001\"}}";
	const char *k2 = "{\"leaseKey\":{\"S\":\"shardId-000000000002\"}}";
	const char *renew = "SET leaseCounter = leaseCounter + :one";
	CHECK_EQ_INT(kl_ddb_update_item(&other, table, k0, renew, NULL, NULL, bump), KL_OK);
	int64_t c0 = kl_lease_get(&a.m, "shardId-000000000000")->counter;
	CHECK_EQ_INT(kl_lease_checkpoint(&a.m, "shardId-000000000000", 0, "after:5", 0, &eb), KL_OK);
	CHECK_EQ_INT(a.m.stats.lost, 0);
	CHECK(kl_lease_holds(&a.m, "shardId-000000000000"));
	CHECK_EQ_INT(kl_lease_get(&a.m, "shardId-000000000000")->counter, c0); /* not adopted */
	/* the release, after two renewals landed */
	CHECK_EQ_INT(kl_ddb_update_item(&other, table, k1, renew, NULL, NULL, bump), KL_OK);
	CHECK_EQ_INT(kl_ddb_update_item(&other, table, k1, renew, NULL, NULL, bump), KL_OK);
	CHECK_EQ_INT(kl_lease_release(&a.m, "shardId-000000000001", "after:6", 0, &eb), KL_OK);
	CHECK_EQ_INT(a.m.stats.lost, 0);
	CHECK_EQ_INT(a.m.stats.released, 1);
	/* renewals with a client of their own: the landed one is adopted and
	 * renewed once more (a refused renewal whose row names this worker) */
	struct kl_lease_conn rc;
	kl_lease_conn_init(&rc, &other);
	CHECK_EQ_INT(kl_ddb_update_item(&other, table, k0, renew, NULL, NULL, bump), KL_OK);
	int64_t before = a.m.stats.renewals;
	a.clock.t += 1000;
	CHECK_EQ_INT(kl_lease_renew_via(&a.m, &rc, &eb), KL_OK);
	CHECK_EQ_INT(a.m.stats.renewals, before + 2);
	CHECK_EQ_INT(a.m.stats.lost, 0);
	CHECK_EQ_INT(kl_lease_get(&a.m, "shardId-000000000000")->renewed_ms, a.clock.t);
	/* another owner's: the checkpoint is refused and the lease lost */
	CHECK_EQ_INT(kl_ddb_update_item(&other, table, k2,
					"SET leaseCounter = leaseCounter + :one, leaseOwner = :o",
					NULL, NULL,
					"{\":one\":{\"N\":\"1\"},\":o\":{\"S\":\"w-x\"}}"),
		     KL_OK);
	CHECK_EQ_INT(kl_lease_checkpoint(&a.m, "shardId-000000000002", 0, "after:7", 0, &eb),
		     KL_ECONFLICT);
	CHECK_EQ_INT(a.m.stats.lost, 1);
	CHECK_EQ_INT(a.m.stats.held, 1);
	/* the table: checkpoints of a's, none of a's after it lost the lease */
	struct worker b;
	CHECK_EQ_INT(worker_init(&b, table, "w-b"), 0);
	CHECK_EQ_INT(kl_lease_refresh(&b.m, &eb), KL_OK);
	const struct kl_lease *r0 = kl_lease_get(&b.m, "shardId-000000000000");
	const struct kl_lease *r1 = kl_lease_get(&b.m, "shardId-000000000001");
	const struct kl_lease *r2 = kl_lease_get(&b.m, "shardId-000000000002");
	CHECK(r0 && !strcmp(r0->checkpoint, "after:5") && !strcmp(r0->owner, "w-a"));
	CHECK(r1 && !strcmp(r1->checkpoint, "after:6") && !r1->owner[0]);
	CHECK(r2 && strcmp(r2->checkpoint, "after:7") && !strcmp(r2->owner, "w-x"));
	worker_cleanup(&b);
	kl_lease_conn_cleanup(&rc);
	kl_ddb_cleanup(&other);
	worker_cleanup(&a);
}

/* A change a scan shows is timed from when its answer arrived, not from
 * when the scan began: a slow scan (here each reading of the clock moves
 * it by 400 ms) must not shorten the timeout the owner counts. */
static void scenario_seen_at_answer(const char *prefix)
{
	char table[TABLE_MAX];
	struct worker a, b;
	struct worker *two[2] = {&a, &b};
	if (workers_init(two, 2, prefix, "seen", 1, table))
		return;
	struct kl_errbuf eb;
	kl_errbuf_clear(&eb);
	CHECK_EQ_INT(kl_lease_take(&a.m, NULL, &eb), KL_OK);
	CHECK_EQ_INT(a.m.stats.held, 1);
	int64_t t0 = b.clock.t;
	b.clock.step = 400;
	CHECK_EQ_INT(kl_lease_refresh(&b.m, &eb), KL_OK);
	b.clock.step = 0;
	const struct kl_lease *l = kl_lease_get(&b.m, "shardId-000000000000");
	CHECK(l && !strcmp(l->owner, "w-a"));
	CHECK(l && l->seen_ms > t0); /* after the answer, not at the start */
	/* a renews: b's next scan, slow again, times the change the same way */
	CHECK_EQ_INT(kl_lease_renew(&a.m, &eb), KL_OK);
	int64_t t1 = b.clock.t;
	b.clock.step = 400;
	CHECK_EQ_INT(kl_lease_refresh(&b.m, &eb), KL_OK);
	b.clock.step = 0;
	l = kl_lease_get(&b.m, "shardId-000000000000");
	CHECK(l && l->seen_ms > t1);
	/* not expired a timeout after the scan began, only after the answer */
	b.clock.t = t1 + TIMEOUT + 1;
	unsigned took = 9;
	CHECK_EQ_INT(kl_lease_take(&b.m, &took, &eb), KL_OK);
	CHECK_EQ_INT(took, 0);
	workers_cleanup(two, 2);
}

/* The row an owner sheds for the worker that asked is that worker's: a
 * third worker, at its share by its own count, leaves it alone (it counts
 * the asker, whose request the release keeps); the asker takes it. */
static void scenario_shed_for_asker(const char *prefix)
{
	char table[TABLE_MAX];
	struct worker a, b, c;
	struct worker *all[3] = {&a, &b, &c};
	if (workers_init(all, 3, prefix, "asker", 3, table))
		return;
	CHECK_EQ_INT(take(&a), 3); /* alone: all three */
	CHECK_EQ_INT(take(&b), 0); /* asks a for one */
	CHECK_EQ_INT(b.m.stats.asked, 1);
	CHECK_EQ_INT(take(&a), 0);
	CHECK_EQ_INT(shed_all(&a), 1); /* over its share of 2: hands it over */
	CHECK_EQ_INT(a.m.stats.held, 2);
	/* c joins now: 3 leases, workers a, b (asked), c: a share of 1, and
	 * the free row is b's, not an expired one to take */
	CHECK_EQ_INT(take(&c), 0);
	CHECK_EQ_INT(c.m.stats.held, 0);
	CHECK_EQ_INT(take(&b), 1);
	CHECK_EQ_INT(b.m.stats.held, 1);
	CHECK_EQ_INT(a.m.stats.stolen + b.m.stats.stolen + c.m.stats.stolen, 0);
	CHECK_EQ_INT(a.m.stats.lost + b.m.stats.lost + c.m.stats.lost, 0);
	workers_cleanup(all, 3);
}

/* Keepers on a schedule: renew every timeout/3, take every timeout; two
 * workers on 4 shards settle at 2/2; a checkpoint from another thread while
 * the coordinator ticks; release_all hands everything to the other. */
struct cp_thread {
	struct kl_lease_keeper *k;
	const char *shard;
	int ok, refused;
};

static void *cp_main(void *arg)
{
	struct cp_thread *t = arg;
	for (int i = 0; i < 20; i++) {
		struct kl_errbuf eb;
		kl_errbuf_clear(&eb);
		char cp[64];
		snprintf(cp, sizeof cp, "after:%d", i);
		int rc = kl_lease_keeper_checkpoint(t->k, t->shard, 0, cp, &eb);
		t->ok += rc == KL_OK;
		t->refused += rc != KL_OK;
	}
	return NULL;
}

/* Keeper k as `id` on `table` (timeout 3 s) on the fake clock clk; its
 * options are left in *o. */
static void keeper_init(struct kl_lease_keeper *k, struct kl_lease_keeper_opts *o,
			const char *table, const char *id, struct fclock *clk)
{
	memset(o, 0, sizeof *o);
	o->table = table;
	o->timeout_ms = 3000;
	o->worker_id = id;
	o->clock = (struct kl_lease_clock){fnow, fsleep, clk};
	struct kl_errbuf eb;
	kl_errbuf_clear(&eb);
	CHECK_EQ_INT(kl_lease_keeper_init(k, o, &eb), KL_OK);
}

/* A keeper's manager called directly: with its state lock held, as the
 * keeper's own calls do (lease.h, "Renewals on a thread of their own"). */
static int keeper_refresh(struct kl_lease_keeper *k, struct kl_errbuf *eb)
{
	pthread_mutex_lock(&k->st);
	int rc = kl_lease_refresh(&k->m, eb);
	pthread_mutex_unlock(&k->st);
	return rc;
}

static int keeper_take(struct kl_lease_keeper *k, struct kl_errbuf *eb)
{
	pthread_mutex_lock(&k->st);
	int rc = kl_lease_take(&k->m, NULL, eb);
	pthread_mutex_unlock(&k->st);
	return rc;
}

static void scenario_keeper(const char *prefix)
{
	char table[128];
	snprintf(table, sizeof table, "%s-keeper", prefix);
	struct fclock ca = {1000000, 0}, cb = {1000000, 0};
	struct kl_lease_keeper a, b;
	struct kl_lease_keeper_opts o;
	struct kl_errbuf eb;
	kl_errbuf_clear(&eb);
	keeper_init(&a, &o, table, "k-a", &ca);
	keeper_init(&b, &o, table, "k-b", &cb);
	o.renew_ms = 3000;
	struct kl_lease_keeper bad;
	CHECK_EQ_INT(kl_lease_keeper_init(&bad, &o, &eb), KL_EINVAL);
	kl_errbuf_clear(&eb);
	CHECK_EQ_INT(kl_lease_keeper_start(&a, 10000, &eb), KL_OK);
	CHECK_EQ_INT(kl_lease_keeper_start(&b, 10000, &eb), KL_OK);
	struct kl_lease_shard s[4] = {{"s0", {0}}, {"s1", {0}}, {"s2", {0}}, {"s3", {0}}};
	CHECK_EQ_INT(kl_lease_keeper_sync(&a, s, 4, &eb), KL_OK);
	CHECK_EQ_INT(kl_lease_keeper_sync(&b, s, 4, &eb), KL_OK);
	CHECK_EQ_INT(kl_lease_keeper_tick(&a, &eb), KL_OK);
	struct kl_lease_stats sa, sb;
	kl_lease_keeper_stats(&a, &sa);
	CHECK_EQ_INT(sa.held, 4); /* the first tick takes at once */
	for (int i = 0; i < 40; i++) {
		ca.t += 250;
		cb.t += 250;
		CHECK_EQ_INT(kl_lease_keeper_tick(&a, &eb), KL_OK);
		CHECK_EQ_INT(kl_lease_keeper_tick(&b, &eb), KL_OK);
	}
	kl_lease_keeper_stats(&a, &sa);
	kl_lease_keeper_stats(&b, &sb);
	CHECK_EQ_INT(sa.held, 2);
	CHECK_EQ_INT(sb.held, 2);
	CHECK_EQ_INT(sb.stolen, 2);
	CHECK_EQ_INT(sa.lost, 2);
	const char *mine[4];
	size_t n = kl_lease_held(&a.m, mine, 4);
	CHECK_EQ_INT(n, 2);
	struct cp_thread t = {&a, mine[0], 0, 0};
	pthread_t th;
	pthread_create(&th, NULL, cp_main, &t);
	for (int i = 0; i < 10; i++) {
		ca.t += 250;
		CHECK_EQ_INT(kl_lease_keeper_tick(&a, &eb), KL_OK);
	}
	pthread_join(th, NULL);
	CHECK_EQ_INT(t.ok, 20);
	CHECK_EQ_INT(kl_lease_keeper_release_all(&a, &eb), KL_OK);
	cb.t += 3000;
	CHECK_EQ_INT(kl_lease_keeper_tick(&b, &eb), KL_OK);
	kl_lease_keeper_stats(&b, &sb);
	CHECK_EQ_INT(sb.held, 4);
	const struct kl_lease *l = kl_lease_get(&b.m, t.shard);
	CHECK(l && !strcmp(l->checkpoint, "after:19"));
	if (eb.code)
		fprintf(stderr, "keeper: %s\n", eb.msg);
	kl_lease_keeper_cleanup(&a);
	kl_lease_keeper_cleanup(&b);
	/* the keeper's own thread, real time: renews every timeout/3 by itself */
	char t2[160];
	snprintf(t2, sizeof t2, "%s-thread", table);
	struct kl_lease_keeper_opts ro = {0};
	ro.table = t2;
	ro.worker_id = "k-t";
	ro.timeout_ms = 1500;
	struct kl_lease_keeper t3;
	CHECK_EQ_INT(kl_lease_keeper_init(&t3, &ro, &eb), KL_OK);
	CHECK_EQ_INT(kl_lease_keeper_start(&t3, 10000, &eb), KL_OK);
	CHECK_EQ_INT(kl_lease_keeper_sync(&t3, s, 2, &eb), KL_OK);
	CHECK_EQ_INT(kl_lease_keeper_thread_start(&t3), KL_OK);
	/* rows added while the thread runs are taken at its next tick */
	struct timespec nap0 = {0, 300 * 1000000L};
	nanosleep(&nap0, NULL);
	struct kl_lease_shard s2[3] = {{"s0", {0}}, {"s1", {0}}, {"s2", {0}}};
	CHECK_EQ_INT(kl_lease_keeper_sync(&t3, s2, 3, &eb), KL_OK);
	struct timespec nap = {1, 0};
	nanosleep(&nap, NULL);
	struct kl_lease_stats st3;
	kl_lease_keeper_stats(&t3, &st3);
	CHECK_EQ_INT(st3.held, 3); /* s2 too, well before the take interval (1.5 s) */
	CHECK(st3.renewals >= 2);
	/* a scan or a run of checkpoints holds the operations' lock for twice
	 * the timeout: renewals go on all the same (their own thread, client
	 * and lock), nothing is lost */
	uint64_t r0 = st3.renewals;
	pthread_mutex_lock(&t3.mu);
	struct timespec stuck = {3, 0};
	nanosleep(&stuck, NULL);
	kl_lease_keeper_stats(&t3, &st3);
	CHECK(kl_lease_keeper_holds(&t3, "s0"));
	pthread_mutex_unlock(&t3.mu);
	CHECK(st3.renewals >= r0 + 3 * 4); /* 3 leases, every 500 ms, 3 s */
	CHECK_EQ_INT(st3.lost, 0);
	CHECK_EQ_INT(st3.held, 3);
	kl_lease_keeper_thread_stop(&t3);
	uint64_t renewals = st3.renewals;
	struct timespec nap2 = {0, 700 * 1000000L};
	nanosleep(&nap2, NULL);
	kl_lease_keeper_stats(&t3, &st3);
	CHECK_EQ_INT(st3.renewals, renewals); /* stopped */
	kl_lease_keeper_cleanup(&t3);
	char id[KL_LEASE_OWNER_MAX];
	kl_lease_default_worker_id(id, sizeof id);
	CHECK(strchr(id, ':') && strlen(id) > 10);
}

/* The fence around a shard's state log and store, over a real store (a
 * local directory, and S3 when AWS_ENDPOINT_URL_S3 is set: moto). Commits
 * and files pass while the lease is held (the checkpoint mirrored into
 * the row); after another worker took the lease and claimed the log, the
 * old owner's commits are refused — also those that had passed the lease
 * checks already and land only now (S3 preconditions, fence.h). */

/* A store passing everything to `in`, whose read_tag runs `hook` once
 * after reading: another writer acting between a fenced commit's read and
 * its conditional write, exactly as a pause there would let it. */
struct hook_store {
	struct kl_store base;
	struct kl_store *in;
	void (*hook)(void *ctx);
	void *ctx;
};
static int hs_open(struct kl_store *s, const char *key, struct kl_store_file **out)
{
	return ((struct hook_store *)s)->in->ops->open(((struct hook_store *)s)->in, key, out);
}
static struct kl_store *hs_in_of_file; /* files are the inner store's own */
static int hs_write(struct kl_store_file *f, const void *p, size_t n)
{
	return hs_in_of_file->ops->write(f, p, n);
}
static int hs_commit(struct kl_store_file *f)
{
	return hs_in_of_file->ops->commit(f);
}
static void hs_abort(struct kl_store_file *f)
{
	hs_in_of_file->ops->abort(f);
}
static int hs_sync(struct kl_store *s)
{
	return ((struct hook_store *)s)->in->ops->sync(((struct hook_store *)s)->in);
}
static int hs_read(struct kl_store *s, const char *key, struct kl_buf *out)
{
	return ((struct hook_store *)s)->in->ops->read(((struct hook_store *)s)->in, key, out);
}
static int hs_read_tag(struct kl_store *s, const char *key, struct kl_buf *out,
		       char tag[KL_STORE_TAG_MAX])
{
	struct hook_store *h = (struct hook_store *)s;
	int rc = h->in->ops->read_tag(h->in, key, out, tag);
	if (h->hook) {
		void (*fn)(void *) = h->hook;
		h->hook = NULL;
		fn(h->ctx);
	}
	return rc;
}
static int hs_commit_if(struct kl_store_file *f, const char *expect, char tag[KL_STORE_TAG_MAX])
{
	return hs_in_of_file->ops->commit_if(f, expect, tag);
}
static void hs_free(struct kl_store *s)
{
	(void)s;
}
static const struct kl_store_ops hs_ops = {
	.open = hs_open,	   /* the inner store's */
	.write = hs_write,	   /* " */
	.commit = hs_commit,	   /* " */
	.abort = hs_abort,	   /* " */
	.sync = hs_sync,	   /* " */
	.read = hs_read,	   /* " */
	.read_tag = hs_read_tag,   /* the inner store's, then the hook once */
	.commit_if = hs_commit_if, /* the inner store's */
	.free = hs_free,	   /* nothing: caller-owned struct */
};

static const struct kl_source_ops no_src_ops = {0};
static int no_part(void *ctx, const char *key, size_t n, uint64_t upto)
{
	(void)ctx, (void)key, (void)n, (void)upto;
	return KL_OK;
}

static int put_file(struct kl_store *s, const char *key, const char *text)
{
	struct kl_store_file *f;
	int rc = s->ops->open(s, key, &f);
	if (!rc && (rc = s->ops->write(f, text, strlen(text))))
		s->ops->abort(f);
	return rc ? rc : s->ops->commit(f);
}

static int has(struct kl_store *s, const char *key, const char *text)
{
	struct kl_buf b;
	kl_buf_init(&b, 0);
	int rc = s->ops->read(s, key, &b);
	int yes = !rc && kl_buf_putc(&b, '\0') == KL_OK && strstr(b.data, text) != NULL;
	kl_buf_cleanup(&b);
	return yes;
}

/* The new owner writes the name the old one is committing (the hook).
 * On a local lake from a child process, as another worker would: the
 * temporary file of a name is per process (store_local.c). */
struct b_write {
	struct kl_store *fenced_b;
	struct kl_lease_keeper *b;
	const char *local_root; /* NULL: S3 */
	int rc;
	const char *name, *text; /* NULL: events/p/f-2.jsonl, "from-b\n" */
};
static void b_writes_now(void *ctx)
{
	struct b_write *w = ctx;
	const char *name = w->name ? w->name : "events/p/f-2.jsonl";
	const char *text = w->text ? w->text : "from-b\n";
	if (!w->local_root) {
		w->rc = put_file(w->fenced_b, name, text);
		return;
	}
	pid_t pid = fork();
	if (pid == 0) {
		struct kl_errbuf eb;
		kl_errbuf_clear(&eb);
		struct kl_store *l = NULL, *fb = NULL;
		int rc = kl_store_local_new(&l, w->local_root, &eb);
		rc = rc ? rc : kl_lease_fenced_store_new(&fb, l, w->b, "shard-f", kl_lease_keeper_tenure(w->b, "shard-f"), NULL, &eb);
		rc = rc ? rc : put_file(fb, name, text);
		_exit(rc ? 1 : 0);
	}
	int status = 0;
	w->rc = pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
			WEXITSTATUS(status) == 0
		    ? KL_OK
		    : KL_EIO;
}

/* Keeper a starts on a new table and takes its one shard. */
static void keeper_take_only(struct kl_lease_keeper *a, const char *shard)
{
	struct kl_errbuf eb;
	kl_errbuf_clear(&eb);
	CHECK_EQ_INT(kl_lease_keeper_start(a, 10000, &eb), KL_OK);
	struct kl_lease_shard s[1] = {{shard, {0}}};
	CHECK_EQ_INT(kl_lease_keeper_sync(a, s, 1, &eb), KL_OK);
	CHECK_EQ_INT(kl_lease_keeper_tick(a, &eb), KL_OK);
	CHECK(kl_lease_keeper_holds(a, shard));
}

/* Keeper b (never started, on clock cb) takes `shard` over once the
 * holder, paused, has let it time out by b's clock. */
static void keeper_take_over(struct kl_lease_keeper *b, struct fclock *cb, const char *shard)
{
	struct kl_errbuf eb;
	kl_errbuf_clear(&eb);
	cb->t += 1000;
	CHECK_EQ_INT(kl_lease_keeper_tick(b, &eb), KL_OK);
	cb->t += 4000;
	CHECK_EQ_INT(keeper_take(b, &eb), KL_OK);
	CHECK(kl_lease_keeper_holds(b, shard));
}

/* A shard run's fence f over the state log `log` in st (cp), under k's
 * tenure of `shard`, loaded as the run's start does. */
static void fence_load(struct kl_lease_fence *f, struct kl_state_checkpoint *cp,
		       struct kl_store *st, const char *log, struct kl_lease_keeper *k,
		       const char *shard, uint64_t tenure, _Atomic uint64_t *refused)
{
	CHECK_EQ_INT(kl_state_checkpoint_open_store(cp, st, log), KL_OK);
	kl_lease_fence_init(f, cp, k, shard, tenure, refused);
	struct kl_source src = {.ops = &no_src_ops};
	uint64_t resume;
	CHECK_EQ_INT(f->base.ops->load(&f->base, &src, &resume, no_part, NULL), KL_OK);
}

static void rm_rf(const char *dir)
{
	char cmd[320];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	CHECK_EQ_INT(system(cmd), 0);
}

static void fence_on(const char *table, struct kl_store *raw, const char *local_root)
{
	const char *what = local_root ? "a local lake" : "S3";
	printf("fence scenario on %s\n", what);
	struct fclock ca = {1000000, 0}, cb = {1000000, 0};
	struct kl_lease_keeper a, b;
	struct kl_lease_keeper_opts o;
	struct kl_errbuf eb;
	kl_errbuf_clear(&eb);
	keeper_init(&a, &o, table, "f-a", &ca);
	keeper_init(&b, &o, table, "f-b", &cb);
	keeper_take_only(&a, "shard-f");

	struct hook_store hs = {.base = {.ops = &hs_ops}, .in = raw};
	hs_in_of_file = raw;
	_Atomic uint64_t refused = 0;
	struct kl_state_checkpoint cpa, cpb;
	struct kl_lease_fence f;
	fence_load(&f, &cpa, raw, "fence-shard", &a, "shard-f", kl_lease_keeper_tenure(&a, "shard-f"),
		   &refused);
	CHECK(has(raw, "_kinlake/state/fence-shard.log", "O f-a "));
	struct kl_store *fenced = NULL, *fenced_b = NULL;
	CHECK_EQ_INT(kl_lease_fenced_store_new(&fenced, &hs.base, &a, "shard-f", kl_lease_keeper_tenure(&a, "shard-f"), &refused, &eb),
		     KL_OK);
	struct kl_checkpoint_file jf = {"events/p", 8, 5};
	struct kl_checkpoint_job j = {&jf, 1, 6, 0, "after:100", NULL};
	CHECK_EQ_INT(put_file(fenced, "events/p/f-1.jsonl", "one\n"), KL_OK);
	CHECK_EQ_INT(f.base.ops->commit(&f.base, &j), KL_OK);
	CHECK(has(raw, "events/p/f-1.jsonl", "one"));
	CHECK(has(raw, "_kinlake/state/fence-shard.log", "C after:100"));
	/* the row mirrors the checkpoint */
	CHECK_EQ_INT(keeper_refresh(&b, &eb), KL_OK);
	const struct kl_lease *row = kl_lease_get(&b.m, "shard-f");
	CHECK(row && !strcmp(row->checkpoint, "after:100"));

	/* a is paused: b takes the lease after the timeout (by its clock),
	 * loads the log and claims it */
	struct kl_store_file *file, *file4;
	CHECK_EQ_INT(fenced->ops->open(fenced, "events/p/f-2.jsonl", &file), KL_OK); /* in flight */
	/* and one over an uncovered file a crashed earlier run left */
	CHECK_EQ_INT(put_file(raw, "events/p/f-4.jsonl", "left\n"), KL_OK);
	CHECK_EQ_INT(fenced->ops->open(fenced, "events/p/f-4.jsonl", &file4), KL_OK);
	keeper_take_over(&b, &cb, "shard-f");
	struct kl_lease_fence fb;
	fence_load(&fb, &cpb, raw, "fence-shard", &b, "shard-f", kl_lease_keeper_tenure(&b, "shard-f"),
		   &refused);
	CHECK(has(raw, "_kinlake/state/fence-shard.log", "O f-b "));
	CHECK(!strcmp(cpb.state.checkpoint, "after:100"));

	/* a's state commit had passed the fence's checks before the takeover
	 * and lands only now: refused by the log's precondition, the log is
	 * b's as b claimed it */
	struct kl_checkpoint_job j2 = {&jf, 1, 9, 0, "after:200", NULL};
	CHECK_EQ_INT(cpa.base.ops->commit(&cpa.base, &j2), KL_ECONFLICT);
	CHECK(has(raw, "_kinlake/state/fence-shard.log", "O f-b "));
	CHECK(!has(raw, "_kinlake/state/fence-shard.log", "after:200"));
	/* a's in-flight file: b writes the same name between a's read of the
	 * name and a's conditional write; a's write is refused, b's stays */
	CHECK_EQ_INT(kl_lease_fenced_store_new(&fenced_b, raw, &b, "shard-f", kl_lease_keeper_tenure(&b, "shard-f"), NULL, &eb), KL_OK);
	struct b_write bw = {.fenced_b = fenced_b, .b = &b, .local_root = local_root, .rc = -1};
	hs.hook = b_writes_now;
	hs.ctx = &bw;
	CHECK_EQ_INT(fenced->ops->write(file, "from-a\n", 7), KL_OK);
	CHECK_EQ_INT(fenced->ops->commit(file), KL_ECONFLICT);
	CHECK_EQ_INT(bw.rc, KL_OK);
	CHECK(has(raw, "events/p/f-2.jsonl", "from-b"));
	/* the ETag repeat: between a's read of f-4 (the leftover) and a's
	 * write, b's replay writes f-4 with the leftover's very bytes. On S3 a
	 * plain PUT would give it the leftover's ETag (the MD5 of the bytes)
	 * and a's If-Match would match again; the store gives an overwrite
	 * with the same bytes another ETag (store_s3.c), so a is refused */
	struct b_write bw4 = {fenced_b, &b, local_root, -1, "events/p/f-4.jsonl", "left\n"};
	hs.hook = b_writes_now;
	hs.ctx = &bw4;
	CHECK_EQ_INT(fenced->ops->write(file4, "from-a, cut otherwise\n", 22), KL_OK);
	CHECK_EQ_INT(fenced->ops->commit(file4), KL_ECONFLICT);
	CHECK_EQ_INT(bw4.rc, KL_OK);
	CHECK(has(raw, "events/p/f-4.jsonl", "left"));
	CHECK(!has(raw, "events/p/f-4.jsonl", "from-a"));
	/* a's clock did not move: locally it still holds the lease, but the
	 * conditional mirror is refused, so nothing reaches the log */
	CHECK(kl_lease_keeper_holds(&a, "shard-f"));
	CHECK_EQ_INT(f.base.ops->commit(&f.base, &j2), KL_ECONFLICT);
	CHECK(atomic_load(&f.lost));
	CHECK(strstr(f.base.err.msg, "lease lost") != NULL);
	CHECK_EQ_INT(f.base.ops->finish(&f.base), KL_ECONFLICT);
	/* and the lease is dropped: no new file either */
	CHECK_EQ_INT(fenced->ops->open(fenced, "events/p/f-3.jsonl", &file), KL_ECONFLICT);

	/* b goes on: its file replaces a's version of a name, its log moves */
	CHECK_EQ_INT(put_file(fenced_b, "events/p/f-1.jsonl", "one-b\n"), KL_OK);
	CHECK_EQ_INT(fb.base.ops->commit(&fb.base, &j2), KL_OK);
	CHECK(has(raw, "_kinlake/state/fence-shard.log", "after:200"));
	CHECK_EQ_INT(atomic_load(&refused), 5); /* 2 files, mirror, finish, open */
	CHECK_EQ_INT(keeper_refresh(&b, &eb), KL_OK);
	row = kl_lease_get(&b.m, "shard-f");
	CHECK(row && !strcmp(row->checkpoint, "after:200") && !strcmp(row->owner, "f-b"));
	kl_store_free(fenced);
	kl_store_free(fenced_b);
	kl_state_checkpoint_close(&cpa);
	kl_state_checkpoint_close(&cpb);
	kl_lease_keeper_cleanup(&a);
	kl_lease_keeper_cleanup(&b);
}

/* The S3 lake of the scenarios (moto; the script made the bucket):
 * test_s3_open() is 0 when the run has none. */
struct test_s3 {
	struct kl_http *h;
	struct kl_cred_chain ch;
	struct kl_store *s3;
};
static int test_s3_open(struct test_s3 *t, const char *prefix)
{
	memset(t, 0, sizeof *t);
	struct kl_aws_env env = kl_aws_env_process();
	const char *bucket = getenv("KL_TEST_FENCE_BUCKET");
	if (!kl_store_s3_env_endpoint(&env) || !bucket)
		return 0;
	struct kl_errbuf eb;
	kl_errbuf_clear(&eb);
	t->h = kl_http_new(NULL, &eb);
	kl_cred_chain_init(&t->ch, &env, kl_http_transport_of(t->h));
	struct kl_store_s3_opts so = {.region = "us-east-1",
				      .endpoint = kl_store_s3_env_endpoint(&env),
				      .creds = &t->ch};
	char url[256];
	snprintf(url, sizeof url, "s3://%s/%s", bucket, prefix);
	CHECK_EQ_INT(kl_store_s3_new(&t->s3, url, &so, &eb), KL_OK);
	return t->s3 != NULL;
}
static void test_s3_close(struct test_s3 *t)
{
	kl_store_free(t->s3);
	if (t->h) {
		kl_cred_chain_cleanup(&t->ch);
		kl_http_free(t->h);
	}
}

static void scenario_fence(const char *prefix)
{
	char table[128], dir[200];
	snprintf(table, sizeof table, "%s-fence", prefix);
	struct kl_errbuf eb;
	kl_errbuf_clear(&eb);
	struct kl_store *local = NULL;
	kl_test_mkdtemp(dir, sizeof dir, "kl-fence.");
	CHECK_EQ_INT(kl_store_local_new(&local, dir, &eb), KL_OK);
	fence_on(table, local, dir);
	kl_store_free(local);
	rm_rf(dir);

	struct test_s3 t;
	snprintf(table, sizeof table, "%s-fence-s3", prefix);
	if (test_s3_open(&t, prefix))
		fence_on(table, t.s3, NULL);
	test_s3_close(&t);
}

/* Lease mode's data files on S3 go up side by side (fence.c:
 * fs_commit_deferred): a new one by the upload threads, one over an
 * object already there replaced at sync() by read, lease check,
 * conditional write. A lease lost before that sync refuses the replace
 * and leaves the object as it was. */
static void scenario_fence_deferred(const char *prefix)
{
	struct test_s3 t;
	char table[128], key[64], text[16];
	if (!test_s3_open(&t, prefix)) {
		test_s3_close(&t);
		return;
	}
	printf("fence scenario: deferred data files on S3\n");
	snprintf(table, sizeof table, "%s-fence-defer", prefix);
	struct fclock ca = {1000000, 0}, cb = {1000000, 0};
	struct kl_lease_keeper a, b;
	struct kl_lease_keeper_opts o;
	struct kl_errbuf eb;
	kl_errbuf_clear(&eb);
	keeper_init(&a, &o, table, "d-a", &ca);
	keeper_init(&b, &o, table, "d-b", &cb);
	keeper_take_only(&a, "shard-d");
	/* files a crashed earlier run left, written plainly */
	CHECK_EQ_INT(put_file(t.s3, "events/d/left.jsonl", "left\n"), KL_OK);
	CHECK_EQ_INT(put_file(t.s3, "events/d/left2.jsonl", "left2\n"), KL_OK);
	_Atomic uint64_t refused = 0;
	struct kl_store *fenced = NULL;
	CHECK_EQ_INT(kl_lease_fenced_store_new(&fenced, t.s3, &a, "shard-d",
					       kl_lease_keeper_tenure(&a, "shard-d"), &refused, &eb),
		     KL_OK);
	CHECK(fenced && fenced->ops->commit_deferred != NULL);
	if (!fenced || !fenced->ops->commit_deferred)
		goto out;

	/* 8 new files and a rewrite of the leftover, deferred: the last is
	 * counted only at sync() (a commit() would count each at once; an
	 * open() may count earlier ones, store_s3.c: defer_slot) */
	uint64_t before = t.s3->files_committed;
	struct kl_store_file *f;
	for (int i = 0; i < 9; i++) {
		snprintf(key, sizeof key, i < 8 ? "events/d/n-%d.jsonl" : "events/d/left.jsonl", i);
		snprintf(text, sizeof text, "a-%d\n", i);
		CHECK_EQ_INT(fenced->ops->open(fenced, key, &f), KL_OK);
		CHECK_EQ_INT(fenced->ops->write(f, text, strlen(text)), KL_OK);
		CHECK_EQ_INT(fenced->ops->commit_deferred(f), KL_OK);
	}
	CHECK(t.s3->files_committed < before + 9);
	CHECK_EQ_INT(fenced->ops->sync(fenced), KL_OK);
	CHECK_EQ_INT(fenced->files_committed, before + 9);
	for (int i = 0; i < 9; i++) {
		snprintf(key, sizeof key, i < 8 ? "events/d/n-%d.jsonl" : "events/d/left.jsonl", i);
		snprintf(text, sizeof text, "a-%d\n", i);
		CHECK(has(t.s3, key, text));
	}
	CHECK_EQ_INT(atomic_load(&refused), 0);

	/* a new file, the other leftover's rewrite, and a file still open
	 * when b takes the lease over and a hears of it */
	struct kl_store_file *open_f;
	CHECK_EQ_INT(fenced->ops->open(fenced, "events/d/n-late.jsonl", &f), KL_OK);
	CHECK_EQ_INT(fenced->ops->write(f, "late\n", 5), KL_OK);
	CHECK_EQ_INT(fenced->ops->commit_deferred(f), KL_OK);
	CHECK_EQ_INT(fenced->ops->open(fenced, "events/d/left2.jsonl", &f), KL_OK);
	CHECK_EQ_INT(fenced->ops->write(f, "from-a\n", 7), KL_OK);
	CHECK_EQ_INT(fenced->ops->commit_deferred(f), KL_OK);
	CHECK_EQ_INT(fenced->ops->open(fenced, "events/d/n-open.jsonl", &open_f), KL_OK);
	keeper_take_over(&b, &cb, "shard-d");
	ca.t += 5000;
	kl_lease_keeper_tick(&a, &eb); /* its renewal is refused: lost */
	CHECK(!kl_lease_keeper_holds(&a, "shard-d"));
	/* the replace at sync is refused, the leftover stays; the new file
	 * (ordinal 0) may land, as a late file of a's job (fence.h) */
	CHECK_EQ_INT(fenced->ops->sync(fenced), KL_ECONFLICT);
	CHECK(strstr(fenced->err.msg, "lease lost: a file's commit refused") != NULL);
	CHECK_EQ_INT(fenced->landed, 1);
	CHECK(has(t.s3, "events/d/left2.jsonl", "left2"));
	CHECK(!has(t.s3, "events/d/left2.jsonl", "from-a"));
	CHECK(has(t.s3, "events/d/n-late.jsonl", "late"));
	/* a file opened before the loss is refused at its commit, at once */
	CHECK_EQ_INT(fenced->ops->write(open_f, "x\n", 2), KL_OK);
	CHECK_EQ_INT(fenced->ops->commit_deferred(open_f), KL_ECONFLICT);
	CHECK_EQ_INT(fenced->ops->sync(fenced), KL_OK);
	CHECK(!has(t.s3, "events/d/n-open.jsonl", "x"));
	CHECK_EQ_INT(atomic_load(&refused), 2);
out:
	kl_store_free(fenced);
	kl_lease_keeper_cleanup(&a);
	kl_lease_keeper_cleanup(&b);
	test_s3_close(&t);
}

/* A run's fence belongs to the tenure it started under: once the lease was
 * lost, the run's commits and files stay refused even after this worker
 * takes the same lease again (a shard that comes back to its worker while
 * its old run still flushes: issue 12's loss with 2 parse threads). */
static void scenario_fence_retaken(const char *prefix)
{
	char table[128], dir[200];
	snprintf(table, sizeof table, "%s-retake", prefix);
	struct fclock ca = {1000000, 0}, cb = {1000000, 0};
	struct kl_lease_keeper a, b;
	struct kl_lease_keeper_opts o;
	struct kl_errbuf eb;
	kl_errbuf_clear(&eb);
	keeper_init(&a, &o, table, "r-a", &ca);
	keeper_init(&b, &o, table, "r-b", &cb);
	keeper_take_only(&a, "shard-r");
	uint64_t run1 = kl_lease_keeper_tenure(&a, "shard-r");
	CHECK(run1 != 0);

	/* run 1 of the shard on a: its fence and fenced store */
	struct kl_store *local = NULL, *fenced = NULL;
	kl_test_mkdtemp(dir, sizeof dir, "kl-fence2.");
	CHECK_EQ_INT(kl_store_local_new(&local, dir, &eb), KL_OK);
	struct kl_state_checkpoint cp1, cp2;
	struct kl_lease_fence f;
	fence_load(&f, &cp1, local, "retake-shard", &a, "shard-r", run1, NULL);
	CHECK_EQ_INT(kl_lease_fenced_store_new(&fenced, local, &a, "shard-r", run1, NULL, &eb), KL_OK);
	struct kl_checkpoint_job j = {.source_checkpoint = "after:100"};
	CHECK_EQ_INT(f.base.ops->commit(&f.base, &j), KL_OK);

	/* a is paused: b takes the lease after the timeout, then hands it back
	 * (SIGTERM); a wakes up and takes it again at once (released rows are
	 * free) — all before run 1 has noticed anything */
	keeper_take_over(&b, &cb, "shard-r");
	CHECK_EQ_INT(kl_lease_keeper_release(&b, "shard-r", 0, NULL, &eb), KL_OK);
	ca.t += 5000;
	CHECK_EQ_INT(kl_lease_keeper_tick(&a, &eb), KL_OK);
	CHECK(kl_lease_keeper_holds(&a, "shard-r")); /* a holds it again ... */
	uint64_t run2 = kl_lease_keeper_tenure(&a, "shard-r");
	CHECK(run2 != 0 && run2 != run1); /* ... under a new tenure */
	struct kl_lease_stats sa;
	kl_lease_keeper_stats(&a, &sa);
	CHECK_EQ_INT(sa.lost, 1);

	/* run 1 must not commit: b may have written files and state meanwhile */
	j.source_checkpoint = "after:150";
	CHECK_EQ_INT(f.base.ops->commit(&f.base, &j), KL_ECONFLICT);
	CHECK(atomic_load(&f.lost));
	struct kl_store_file *file;
	CHECK_EQ_INT(fenced->ops->open(fenced, "events/old.jsonl", &file), KL_ECONFLICT);
	struct kl_buf back;
	kl_buf_init(&back, 0);
	CHECK_EQ_INT(local->ops->read(local, "events/old.jsonl", &back), KL_ENOTFOUND);
	/* the row still holds what was committed under a tenure of its own */
	CHECK_EQ_INT(keeper_refresh(&b, &eb), KL_OK);
	const struct kl_lease *row = kl_lease_get(&b.m, "shard-r");
	CHECK(row && !strcmp(row->checkpoint, "after:100") && !strcmp(row->owner, "r-a"));

	/* run 2 (a fresh fence, the state loaded again) commits */
	struct kl_lease_fence f2;
	struct kl_store *fenced2 = NULL;
	fence_load(&f2, &cp2, local, "retake-shard", &a, "shard-r", run2, NULL);
	CHECK_EQ_INT(kl_lease_fenced_store_new(&fenced2, local, &a, "shard-r", run2, NULL, &eb), KL_OK);
	CHECK_EQ_INT(fenced2->ops->open(fenced2, "events/new.jsonl", &file), KL_OK);
	CHECK_EQ_INT(fenced2->ops->write(file, "z\n", 2), KL_OK);
	CHECK_EQ_INT(fenced2->ops->commit(file), KL_OK);
	j.source_checkpoint = "after:200";
	CHECK_EQ_INT(f2.base.ops->commit(&f2.base, &j), KL_OK);
	CHECK_EQ_INT(local->ops->read(local, "events/new.jsonl", &back), KL_OK);
	kl_buf_cleanup(&back);
	kl_state_checkpoint_close(&cp1);
	kl_state_checkpoint_close(&cp2);
	kl_store_free(fenced2);
	kl_store_free(fenced);
	kl_store_free(local);
	rm_rf(dir);
	kl_lease_keeper_cleanup(&a);
	kl_lease_keeper_cleanup(&b);
}

static int scenarios(const char *prefix)
{
	scenario_fence(prefix);
	scenario_fence_deferred(prefix);
	scenario_fence_retaken(prefix);
	scenario_keeper(prefix);
	scenario_lost_answer(prefix);
	scenario_crossing(prefix);
	scenario_seen_at_answer(prefix);
	scenario_shed_for_asker(prefix);
	scenario_balance_expiry_fencing(prefix);
	scenario_steal(prefix);
	scenario_forgo_drain(prefix);
	scenario_steal_at_share(prefix);
	scenario_parents(prefix);
	scenario_local_expiry(prefix);
	return check_report("test_lease --scenarios");
}

static int ensure(const char *table)
{
	struct worker w;
	char id[64];
	int created = -1;
	snprintf(id, sizeof id, "w-%d", (int)getpid());
	if (worker_init_c(&w, table, id, &created))
		return 1;
	/* CreateTable on the table that exists now: someone else made it */
	int again = -1;
	CHECK_EQ_INT(kl_ddb_create_table(&w.ddb, table, "leaseKey", &again), KL_OK);
	CHECK_EQ_INT(again, 0);
	sync_n(&w, 4);
	struct kl_errbuf eb;
	kl_errbuf_clear(&eb);
	CHECK_EQ_INT(kl_lease_refresh(&w.m, &eb), KL_OK);
	CHECK_EQ_INT(w.m.n, 4);
	printf("%zu created=%d\n", w.m.n, created);
	worker_cleanup(&w);
	return check_report("test_lease --ensure");
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "--scenarios"))
		return scenarios(argv[2]);
	if (argc == 3 && !strcmp(argv[1], "--ensure"))
		return ensure(argv[2]);
	test_decode();
	test_scan_page();
	test_share();
	return check_report("test_lease");
}
