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
#include "aws/dynamodb.h"
#include "lease/fence.h"
#include "lease/keeper.h"
#include "lease/lease.h"

#include "check.h"

#include <pthread.h>
#include <stdio.h>
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
};
static int64_t fnow(void *ctx)
{
	return ((struct fclock *)ctx)->t;
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

/* One round for the live workers: renew, take; every clock moves by ms. */
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
	char table[128];
	snprintf(table, sizeof table, "%s-balance", prefix);
	struct worker a, b, c;
	if (worker_init(&a, table, "w-a") || worker_init(&b, table, "w-b") ||
	    worker_init(&c, table, "w-c")) {
		CHECK(!"workers");
		return;
	}
	sync_n(&a, 8);
	struct worker *all[3] = {&a, &b, &c};
	for (int r = 0; r < 8; r++)
		round_(all, 3, 1000);
	unsigned cnt[3];
	sorted_counts(all, 3, cnt);
	CHECK_EQ_INT(cnt[0], 3);
	CHECK_EQ_INT(cnt[1], 3);
	CHECK_EQ_INT(cnt[2], 2);
	check_exclusive(all, 3, 8);
	CHECK(a.m.stats.taken == 8); /* a came first: all 8 were unowned */
	CHECK(b.m.stats.stolen + c.m.stats.stolen >= 5);
	CHECK_EQ_INT(a.m.stats.lost, a.m.stats.taken - a.m.stats.held);
	/* stable: more rounds move nothing */
	uint64_t moves = b.m.stats.stolen + c.m.stats.stolen + a.m.stats.lost;
	for (int r = 0; r < 5; r++)
		round_(all, 3, 1000);
	CHECK_EQ_INT(b.m.stats.stolen + c.m.stats.stolen + a.m.stats.lost, moves);

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
	CHECK_EQ_INT(kl_lease_checkpoint(&a.m, akey, "after:999", 0, &eb), KL_ECONFLICT);
	/* refused by DynamoDB's condition, and not retried */
	CHECK_EQ_STR(a.ddb.code, "ConditionalCheckFailedException");
	CHECK(strstr(a.ddb.err.msg, "(1 attempt)") != NULL);
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

	/* a rejoins: it gets a share back by stealing, one per round */
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
	for (size_t i = 0; i < nc; i++)
		snprintf(ck[i], sizeof ck[i], "%s", ckeys[i]);
	for (size_t i = 0; i < nc; i++) {
		kl_errbuf_clear(&eb);
		CHECK_EQ_INT(kl_lease_release(&c.m, ck[i], "after:12345", 7, &eb), KL_OK);
	}
	CHECK_EQ_INT(c.m.stats.held, 0);
	CHECK_EQ_INT(c.m.stats.released, nc);
	struct worker *two[2] = {&a, &b};
	round_(two, 2, 0); /* no time passes */
	CHECK_EQ_INT(a.m.stats.held + b.m.stats.held, 8);
	CHECK_EQ_INT(a.m.stats.held, 4);
	const struct kl_lease *r0 = kl_lease_get(&a.m, ck[0]);
	CHECK(r0 && !strcmp(r0->checkpoint, "after:12345") && r0->checkpoint_sub == 7);
	CHECK(r0 && r0->owner_switches == 1);
	worker_cleanup(&a);
	worker_cleanup(&b);
	worker_cleanup(&c);
}

/* One worker holds all 8; a second joins: exactly one lease moves per
 * take, and the first worker's next renew loses exactly that one. */
static void scenario_steal(const char *prefix)
{
	char table[128];
	snprintf(table, sizeof table, "%s-steal", prefix);
	struct worker a, b;
	if (worker_init(&a, table, "w-a") || worker_init(&b, table, "w-b")) {
		CHECK(!"workers");
		return;
	}
	sync_n(&a, 8);
	struct kl_errbuf eb;
	kl_errbuf_clear(&eb);
	unsigned took = 0;
	CHECK_EQ_INT(kl_lease_take(&a.m, &took, &eb), KL_OK);
	CHECK_EQ_INT(took, 8);
	CHECK_EQ_INT(kl_lease_take(&b.m, &took, &eb), KL_OK);
	CHECK_EQ_INT(took, 1);
	CHECK_EQ_INT(b.m.stats.stolen, 1);
	CHECK_EQ_INT(b.m.stats.taken, 0);
	CHECK_EQ_INT(kl_lease_renew(&a.m, &eb), KL_OK);
	CHECK_EQ_INT(a.m.stats.held, 7);
	CHECK_EQ_INT(a.m.stats.lost, 1);
	CHECK_EQ_INT(a.n_lost, 1);
	CHECK(kl_lease_holds(&b.m, a.lost[0]));
	/* the stolen row counts its owner switches: a took it, b stole it */
	const struct kl_lease *l = kl_lease_get(&b.m, a.lost[0]);
	CHECK(l && l->owner_switches == 2);
	/* until 4/4, one per take; then nothing */
	for (int i = 0; i < 6; i++) {
		a.clock.t += 1000;
		b.clock.t += 1000;
		CHECK_EQ_INT(kl_lease_renew(&a.m, &eb), KL_OK);
		CHECK_EQ_INT(kl_lease_renew(&b.m, &eb), KL_OK);
		CHECK_EQ_INT(kl_lease_take(&a.m, NULL, &eb), KL_OK);
		CHECK_EQ_INT(kl_lease_take(&b.m, NULL, &eb), KL_OK);
	}
	CHECK_EQ_INT(a.m.stats.held, 4);
	CHECK_EQ_INT(b.m.stats.held, 4);
	CHECK_EQ_INT(b.m.stats.stolen, 4);
	struct worker *ws[2] = {&a, &b};
	check_exclusive(ws, 2, 8);
	worker_cleanup(&a);
	worker_cleanup(&b);
}

/* 4 leases, 3 workers at (2,2,0): the share is 2 and nobody holds more,
 * but the empty worker is two short: it steals one (the KCL's rule), and
 * then nothing moves any more. */
static void scenario_steal_at_share(const char *prefix)
{
	char table[128];
	snprintf(table, sizeof table, "%s-share", prefix);
	struct worker a, b, c;
	if (worker_init(&a, table, "w-a") || worker_init(&b, table, "w-b") ||
	    worker_init(&c, table, "w-c")) {
		CHECK(!"workers");
		return;
	}
	sync_n(&a, 4);
	struct worker *ab[2] = {&a, &b};
	for (int r = 0; r < 4; r++)
		round_(ab, 2, 1000);
	CHECK_EQ_INT(a.m.stats.held, 2);
	CHECK_EQ_INT(b.m.stats.held, 2);
	struct kl_errbuf eb;
	kl_errbuf_clear(&eb);
	unsigned took;
	CHECK_EQ_INT(kl_lease_take(&c.m, &took, &eb), KL_OK);
	CHECK_EQ_INT(took, 1);
	CHECK_EQ_INT(c.m.stats.stolen, 1);
	struct worker *all[3] = {&a, &b, &c};
	for (int r = 0; r < 6; r++)
		round_(all, 3, 1000);
	unsigned cnt[3];
	sorted_counts(all, 3, cnt);
	CHECK_EQ_INT(cnt[0], 2);
	CHECK_EQ_INT(cnt[1], 1);
	CHECK_EQ_INT(cnt[2], 1);
	/* b stole 2 on its way to 2/2, c one: nothing since */
	CHECK_EQ_INT(a.m.stats.stolen + b.m.stats.stolen + c.m.stats.stolen, 3);
	check_exclusive(all, 3, 4);
	worker_cleanup(&a);
	worker_cleanup(&b);
	worker_cleanup(&c);
}

/* A split (p -> c1, c2) and a merge (c1 + c2 -> m): children are taken only
 * after every parent is at SHARD_END, by any worker. */
static void scenario_parents(const char *prefix)
{
	char table[128];
	snprintf(table, sizeof table, "%s-parents", prefix);
	struct worker a, b;
	if (worker_init(&a, table, "w-a") || worker_init(&b, table, "w-b")) {
		CHECK(!"workers");
		return;
	}
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
	unsigned took;
	CHECK_EQ_INT(kl_lease_take(&a.m, &took, &eb), KL_OK);
	CHECK_EQ_INT(took, 1);
	CHECK(kl_lease_holds(&a.m, "shardId-p"));
	CHECK_EQ_INT(kl_lease_take(&b.m, &took, &eb), KL_OK);
	CHECK_EQ_INT(took, 0); /* the children wait; p is a's and not over share */
	const struct kl_lease *m0 = kl_lease_get(&b.m, "shardId-m");
	CHECK(m0 && m0->n_parents == 2 && !strcmp(m0->checkpoint, "TRIM_HORIZON"));
	/* p ends */
	CHECK_EQ_INT(kl_lease_release(&a.m, "shardId-p", KL_LEASE_SHARD_END, 0, &eb), KL_OK);
	CHECK_EQ_INT(kl_lease_take(&b.m, &took, &eb), KL_OK);
	CHECK_EQ_INT(took, 2); /* c1 and c2: b alone sees 2 leases, share 2 */
	CHECK(kl_lease_holds(&b.m, "shardId-c1") && kl_lease_holds(&b.m, "shardId-c2"));
	CHECK(!kl_lease_holds(&b.m, "shardId-m"));
	/* one parent of the merge ends: m still waits */
	CHECK_EQ_INT(kl_lease_checkpoint(&b.m, "shardId-c1", KL_LEASE_SHARD_END, 0, &eb), KL_OK);
	CHECK_EQ_INT(kl_lease_take(&a.m, &took, &eb), KL_OK);
	CHECK_EQ_INT(took, 0);
	CHECK(!kl_lease_holds(&a.m, "shardId-m"));
	CHECK_EQ_INT(kl_lease_release(&b.m, "shardId-c2", KL_LEASE_SHARD_END, 0, &eb), KL_OK);
	CHECK_EQ_INT(kl_lease_take(&a.m, &took, &eb), KL_OK);
	CHECK_EQ_INT(took, 1);
	CHECK(kl_lease_holds(&a.m, "shardId-m"));
	/* finished shards are never taken again */
	CHECK(!kl_lease_holds(&a.m, "shardId-p") && !kl_lease_holds(&a.m, "shardId-c2"));
	if (eb.code)
		fprintf(stderr, "parents: %s\n", eb.msg);
	worker_cleanup(&a);
	worker_cleanup(&b);
}

/* A worker whose renewals fail (no table any more, say) drops its leases
 * by itself once the timeout has passed since the last good renew. */
static void scenario_local_expiry(const char *prefix)
{
	char table[128];
	snprintf(table, sizeof table, "%s-local", prefix);
	struct worker a;
	if (worker_init(&a, table, "w-a")) {
		CHECK(!"worker");
		return;
	}
	sync_n(&a, 2);
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
	char table[128];
	snprintf(table, sizeof table, "%s-answer", prefix);
	struct worker a;
	if (worker_init(&a, table, "w-a")) {
		CHECK(!"worker");
		return;
	}
	sync_n(&a, 2);
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
		int rc = kl_lease_keeper_checkpoint(t->k, t->shard, cp, &eb);
		t->ok += rc == KL_OK;
		t->refused += rc != KL_OK;
	}
	return NULL;
}

static void scenario_keeper(const char *prefix)
{
	char table[128];
	snprintf(table, sizeof table, "%s-keeper", prefix);
	struct fclock ca = {1000000}, cb = {1000000};
	struct kl_lease_keeper a, b;
	struct kl_lease_keeper_opts o = {0};
	o.table = table;
	o.timeout_ms = 3000;
	struct kl_errbuf eb;
	kl_errbuf_clear(&eb);
	o.worker_id = "k-a";
	o.clock = (struct kl_lease_clock){fnow, fsleep, &ca};
	CHECK_EQ_INT(kl_lease_keeper_init(&a, &o, &eb), KL_OK);
	o.worker_id = "k-b";
	o.clock = (struct kl_lease_clock){fnow, fsleep, &cb};
	CHECK_EQ_INT(kl_lease_keeper_init(&b, &o, &eb), KL_OK);
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

/* The fence around a shard's checkpoint and store: commits and files pass
 * while the lease is held (the checkpoint mirrored into the row), and are
 * refused, without reaching the inner checkpoint, once another worker took
 * the lease. */
struct fake_cp {
	struct kl_checkpoint base;
	int commits, finishes;
};

static int fcp_load(struct kl_checkpoint *c, struct kl_source *src, uint64_t *resume,
		    kl_checkpoint_part_fn fn, void *ctx)
{
	(void)c, (void)src, (void)fn, (void)ctx;
	*resume = 0;
	return KL_OK;
}
static int fcp_commit(struct kl_checkpoint *c, const struct kl_checkpoint_job *j)
{
	(void)j;
	((struct fake_cp *)c)->commits++;
	return KL_OK;
}
static int fcp_finish(struct kl_checkpoint *c)
{
	((struct fake_cp *)c)->finishes++;
	return KL_OK;
}
static const struct kl_checkpoint_ops fcp_ops = {
	.load = fcp_load,
	.commit = fcp_commit,
	.finish = fcp_finish,
};

static void scenario_fence(const char *prefix)
{
	char table[128], dir[] = "/tmp/kl-fence.XXXXXX";
	snprintf(table, sizeof table, "%s-fence", prefix);
	struct fclock ca = {1000000}, cb = {1000000};
	struct kl_lease_keeper a, b;
	struct kl_lease_keeper_opts o = {0};
	o.table = table;
	o.timeout_ms = 3000;
	struct kl_errbuf eb;
	kl_errbuf_clear(&eb);
	o.worker_id = "f-a";
	o.clock = (struct kl_lease_clock){fnow, fsleep, &ca};
	CHECK_EQ_INT(kl_lease_keeper_init(&a, &o, &eb), KL_OK);
	o.worker_id = "f-b";
	o.clock = (struct kl_lease_clock){fnow, fsleep, &cb};
	CHECK_EQ_INT(kl_lease_keeper_init(&b, &o, &eb), KL_OK);
	CHECK_EQ_INT(kl_lease_keeper_start(&a, 10000, &eb), KL_OK);
	struct kl_lease_shard s[1] = {{"shard-f", {0}}};
	CHECK_EQ_INT(kl_lease_keeper_sync(&a, s, 1, &eb), KL_OK);
	CHECK_EQ_INT(kl_lease_keeper_tick(&a, &eb), KL_OK);
	CHECK(kl_lease_keeper_holds(&a, "shard-f"));

	struct fake_cp inner = {.base = {.ops = &fcp_ops}};
	struct kl_lease_fence f;
	kl_lease_fence_init(&f, &inner.base, &a, "shard-f");
	struct kl_store *local = NULL, *fenced = NULL;
	CHECK(mkdtemp(dir) != NULL);
	CHECK_EQ_INT(kl_store_local_new(&local, dir, &eb), KL_OK);
	CHECK_EQ_INT(kl_lease_fenced_store_new(&fenced, local, &a, "shard-f", &eb), KL_OK);
	struct kl_checkpoint_job j = {.source_checkpoint = "after:100"};
	CHECK_EQ_INT(f.base.ops->commit(&f.base, &j), KL_OK);
	CHECK_EQ_INT(inner.commits, 1);
	struct kl_store_file *file;
	CHECK_EQ_INT(fenced->ops->open(fenced, "events/a.jsonl", &file), KL_OK);
	CHECK_EQ_INT(fenced->ops->write(file, "x\n", 2), KL_OK);
	CHECK_EQ_INT(fenced->ops->commit(file), KL_OK);
	CHECK_EQ_INT(fenced->files_committed, 1);
	/* the row mirrors the checkpoint */
	CHECK_EQ_INT(kl_lease_refresh(&b.m, &eb), KL_OK);
	const struct kl_lease *row = kl_lease_get(&b.m, "shard-f");
	CHECK(row && !strcmp(row->checkpoint, "after:100"));

	/* a is paused: b takes the lease after the timeout (by its clock) */
	CHECK_EQ_INT(fenced->ops->open(fenced, "events/b.jsonl", &file), KL_OK); /* in flight */
	cb.t += 1000;
	CHECK_EQ_INT(kl_lease_keeper_tick(&b, &eb), KL_OK);
	cb.t += 4000;
	CHECK_EQ_INT(kl_lease_take(&b.m, NULL, &eb), KL_OK);
	CHECK(kl_lease_keeper_holds(&b, "shard-f"));
	/* a's clock did not move: locally it still holds the lease, but the
	 * conditional mirror is refused, so nothing reaches the inner commit */
	CHECK(kl_lease_keeper_holds(&a, "shard-f"));
	j.source_checkpoint = "after:200";
	CHECK_EQ_INT(f.base.ops->commit(&f.base, &j), KL_ECONFLICT);
	CHECK_EQ_INT(inner.commits, 1);
	CHECK(atomic_load(&f.lost));
	CHECK(strstr(f.base.err.msg, "lease lost") != NULL);
	CHECK_EQ_INT(f.base.ops->finish(&f.base), KL_ECONFLICT);
	CHECK_EQ_INT(inner.finishes, 0);
	/* and the file that was in flight is not made visible */
	CHECK_EQ_INT(fenced->ops->write(file, "y\n", 2), KL_OK);
	CHECK_EQ_INT(fenced->ops->commit(file), KL_ECONFLICT);
	CHECK_EQ_INT(fenced->ops->open(fenced, "events/c.jsonl", &file), KL_ECONFLICT);
	struct kl_buf back;
	kl_buf_init(&back, 0);
	CHECK_EQ_INT(local->ops->read(local, "events/b.jsonl", &back), KL_ENOTFOUND);
	CHECK_EQ_INT(local->ops->read(local, "events/a.jsonl", &back), KL_OK);
	kl_buf_cleanup(&back);
	CHECK_EQ_INT(kl_lease_refresh(&b.m, &eb), KL_OK);
	row = kl_lease_get(&b.m, "shard-f");
	CHECK(row && !strcmp(row->checkpoint, "after:100") && !strcmp(row->owner, "f-b"));
	kl_store_free(fenced);
	kl_store_free(local);
	char cmd[64];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	CHECK_EQ_INT(system(cmd), 0);
	kl_lease_keeper_cleanup(&a);
	kl_lease_keeper_cleanup(&b);
}

static int scenarios(const char *prefix)
{
	scenario_fence(prefix);
	scenario_keeper(prefix);
	scenario_lost_answer(prefix);
	scenario_balance_expiry_fencing(prefix);
	scenario_steal(prefix);
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
