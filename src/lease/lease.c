/* lease.c — see lease.h for the protocol. */
#include "lease/lease.h"
#include "core/clock.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_ROWS 100000
#define KEY_ATTR "leaseKey"
#define HANDOFF_ATTR "kinlakeHandoffTo"

static int64_t now_ms(const struct kl_lease_mgr *m)
{
	return m->clock.now_ms ? m->clock.now_ms(m->clock.ctx) : kl_mono_ms();
}

static void sleep_ms(const struct kl_lease_mgr *m, unsigned ms)
{
	if (m->clock.sleep_ms) {
		m->clock.sleep_ms(m->clock.ctx, ms);
		return;
	}
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

unsigned kl_lease_fair_share(unsigned leases, unsigned workers, unsigned max)
{
	if (!leases)
		return 0;
	if (!workers)
		workers = 1;
	unsigned t = leases / workers + (leases % workers != 0);
	return max && t > max ? max : t;
}

int kl_lease_mgr_init(struct kl_lease_mgr *m, const struct kl_lease_opts *o, struct kl_errbuf *eb)
{
	memset(m, 0, sizeof *m);
	if (!o->table || !*o->table || strlen(o->table) >= sizeof m->table)
		return kl_errbuf_set(eb, KL_EINVAL, "lease table name: 1 to %zu bytes",
				     sizeof m->table - 1);
	if (!o->worker_id || !*o->worker_id || strlen(o->worker_id) >= sizeof m->me)
		return kl_errbuf_set(eb, KL_EINVAL, "worker id: 1 to %zu bytes", sizeof m->me - 1);
	if (!o->ddb)
		return kl_errbuf_set(eb, KL_EINVAL, "lease manager: no DynamoDB client");
	snprintf(m->table, sizeof m->table, "%s", o->table);
	snprintf(m->me, sizeof m->me, "%s", o->worker_id);
	snprintf(m->initial, sizeof m->initial, "%s",
		 o->initial_checkpoint ? o->initial_checkpoint : "TRIM_HORIZON");
	m->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : 10000;
	m->max_leases = o->max_leases;
	m->clock = o->clock;
	m->on_lost = o->on_lost;
	m->on_lost_ctx = o->on_lost_ctx;
	m->ddb = o->ddb;
	uint64_t seed = (uint64_t)now_ms(m) * 0x9E3779B97F4A7C15ull;
	for (const char *p = m->me; *p; p++)
		seed = (seed ^ (unsigned char)*p) * 0x100000001B3ull;
	kl_rng_seed(&m->rng, seed);
	kl_lease_conn_init(&m->c, m->ddb);
	m->st = o->state_lock;
	return KL_OK;
}

void kl_lease_conn_init(struct kl_lease_conn *c, struct kl_ddb *ddb)
{
	memset(c, 0, sizeof *c);
	c->ddb = ddb;
	kl_buf_init(&c->key, 4096);
	kl_buf_init(&c->vals, 8192);
}

void kl_lease_conn_cleanup(struct kl_lease_conn *c)
{
	kl_buf_cleanup(&c->key);
	kl_buf_cleanup(&c->vals);
	free(c->due);
	c->due = NULL;
	c->cap_due = 0;
}

void kl_lease_mgr_cleanup(struct kl_lease_mgr *m)
{
	free(m->rows);
	m->rows = NULL;
	m->n = m->cap = 0;
	kl_lease_conn_cleanup(&m->c);
}

/* The state lock is let go for each request (lease.h, "Renewals on a
 * thread of their own"): only memory work is done holding it. */
static void unlock(const struct kl_lease_mgr *m)
{
	if (m->st)
		pthread_mutex_unlock(m->st);
}

static void relock(const struct kl_lease_mgr *m)
{
	if (m->st)
		pthread_mutex_lock(m->st);
}

/* ---- the view ---- */

static struct kl_lease *find(const struct kl_lease_mgr *m, const char *key)
{
	for (size_t i = 0; i < m->n; i++)
		if (!strcmp(m->rows[i].key, key))
			return &m->rows[i];
	return NULL;
}

const struct kl_lease *kl_lease_get(const struct kl_lease_mgr *m, const char *key)
{
	return find(m, key);
}

int kl_lease_holds(const struct kl_lease_mgr *m, const char *key)
{
	const struct kl_lease *l = find(m, key);
	/* not renewed for the timeout (a paused process wakes up): another
	 * worker may have it already, so not ours even before a renew says so */
	return l && l->held && now_ms(m) - l->renewed_ms < m->timeout_ms;
}

uint64_t kl_lease_tenure(const struct kl_lease_mgr *m, const char *key)
{
	const struct kl_lease *l = find(m, key);
	return kl_lease_holds(m, key) ? l->tenure : 0;
}

size_t kl_lease_held(const struct kl_lease_mgr *m, const char **keys, size_t max)
{
	size_t k = 0;
	for (size_t i = 0; i < m->n; i++)
		if (m->rows[i].held) {
			if (k < max)
				keys[k] = m->rows[i].key;
			k++;
		}
	return k;
}

static void lose(struct kl_lease_mgr *m, struct kl_lease *l)
{
	if (!l->held)
		return;
	l->held = 0;
	l->shed = 0;
	m->stats.lost++;
	m->stats.held--;
	if (m->on_lost)
		m->on_lost(m->on_lost_ctx, l->key);
}

static void hold(struct kl_lease_mgr *m, struct kl_lease *l, int64_t counter, int64_t sent)
{
	if (!l->held) {
		m->stats.held++;
		l->tenure = ++m->tenures;
	}
	l->held = 1;
	l->shed = 0;
	l->asked_ms = 0;
	l->counter = counter;
	l->renewed_ms = sent;
	l->seen_ms = now_ms(m);
	snprintf(l->owner, sizeof l->owner, "%s", m->me);
}

static int is_finished(const struct kl_lease *l)
{
	return !strcmp(l->checkpoint, KL_LEASE_SHARD_END);
}

/* Every parent's row is gone (trimmed) or at SHARD_END. */
static int parents_done(const struct kl_lease_mgr *m, const struct kl_lease *l)
{
	for (size_t i = 0; i < l->n_parents; i++) {
		const struct kl_lease *p = find(m, l->parents[i]);
		if (p && !is_finished(p))
			return 0;
	}
	return 1;
}

static int is_expired(const struct kl_lease_mgr *m, const struct kl_lease *l, int64_t now)
{
	if (l->held)
		return 0;
	if (!l->owner[0] || l->never_changed)
		return 1;
	return now - l->seen_ms > m->timeout_ms;
}

int kl_lease_item_decode(const char *item, size_t n, struct kl_lease *l)
{
	memset(l, 0, sizeof *l);
	int rc = kl_ddb_attr_s(item, n, KEY_ATTR, l->key, sizeof l->key);
	if (rc)
		return rc == KL_ENOTFOUND ? KL_EPARSE : rc;
	if (!l->key[0])
		return KL_EPARSE;
	rc = kl_ddb_attr_s(item, n, "leaseOwner", l->owner, sizeof l->owner);
	if (rc && rc != KL_ENOTFOUND)
		return rc;
	rc = kl_ddb_attr_n(item, n, "leaseCounter", &l->counter);
	if (rc && rc != KL_ENOTFOUND)
		return rc;
	rc = kl_ddb_attr_s(item, n, "checkpoint", l->checkpoint, sizeof l->checkpoint);
	if (rc && rc != KL_ENOTFOUND)
		return rc;
	rc = kl_ddb_attr_n(item, n, "checkpointSubSequenceNumber", &l->checkpoint_sub);
	if (rc && rc != KL_ENOTFOUND)
		return rc;
	rc = kl_ddb_attr_n(item, n, "ownerSwitchesSinceCheckpoint", &l->owner_switches);
	if (rc && rc != KL_ENOTFOUND)
		return rc;
	rc = kl_ddb_attr_strs(item, n, "parentShardId", &l->parents[0][0], KL_LEASE_KEY_MAX,
			      KL_LEASE_MAX_PARENTS, &l->n_parents);
	if (rc && rc != KL_ENOTFOUND)
		return rc;
	rc = kl_ddb_attr_s(item, n, HANDOFF_ATTR, l->handoff, sizeof l->handoff);
	if (rc && rc != KL_ENOTFOUND)
		return rc;
	return KL_OK;
}

/* Merge one scanned row into the view. */
static int merge(struct kl_lease_mgr *m, const struct kl_lease *row, int64_t now)
{
	struct kl_lease *l = find(m, row->key);
	if (!l) {
		if (m->n == m->cap) {
			size_t cap = m->cap ? m->cap * 2 : 64;
			if (cap > MAX_ROWS)
				return KL_ELIMIT;
			struct kl_lease *r = realloc(m->rows, cap * sizeof *r);
			if (!r)
				return KL_ENOMEM;
			m->rows = r;
			m->cap = cap;
		}
		l = &m->rows[m->n++];
		*l = *row;
		/* the KCL's rule: an owned lease seen for the first time starts
		 * its timeout now; an unowned one is expired at once */
		l->seen_ms = now;
		l->handoff_ms = now;
		l->never_changed = !row->owner[0];
		l->fresh = 1;
		return KL_OK;
	}
	int changed = l->counter != row->counter || strcmp(l->owner, row->owner);
	int64_t counter = row->counter;
	if (l->held && changed && !strcmp(row->owner, m->me)) {
		/* still ours (only this worker writes rows naming it): a renew
		 * of ours landed although its answer was lost, or a renewal on
		 * the renewer's thread landed after this scan read the row (the
		 * row's counter is behind) or before (ahead): the higher one */
		counter = row->counter > l->counter ? row->counter : l->counter;
		changed = 0;
	}
	if (l->held && changed) {
		/* someone took it (or released our row): fenced out */
		lose(m, l);
	}
	unsigned held = l->held, forgone = l->forgone, shed = l->shed;
	int64_t seen = l->seen_ms, renewed = l->renewed_ms;
	/* kept while the lease it shed is free; taken by anyone: over */
	int64_t shed_until = row->owner[0] ? 0 : l->shed_until;
	/* a new request is fresh from now; the owner changed: ours is answered */
	int64_t handoff_ms = strcmp(l->handoff, row->handoff) ? now : l->handoff_ms;
	int64_t asked = strcmp(l->owner, row->owner) ? 0 : l->asked_ms;
	uint64_t tenure = l->tenure;
	*l = *row;
	l->held = held;
	l->forgone = forgone;
	l->shed = held && shed;
	l->shed_until = shed_until;
	l->handoff_ms = handoff_ms;
	l->asked_ms = asked;
	l->renewed_ms = renewed;
	l->tenure = tenure;
	l->counter = counter;
	l->releasing = 0;
	l->seen_ms = changed ? now : seen;
	l->never_changed = 0;
	l->fresh = 1;
	return KL_OK;
}

int kl_lease_refresh(struct kl_lease_mgr *m, struct kl_errbuf *eb)
{
	int64_t now = now_ms(m);
	for (size_t i = 0; i < m->n; i++)
		m->rows[i].fresh = 0;
	struct kl_buf lek;
	kl_buf_init(&lek, 64 * 1024);
	int rc = KL_OK;
	for (;;) {
		unlock(m);
		rc = kl_ddb_scan(m->ddb, m->table, lek.len ? lek.data : NULL, lek.len);
		relock(m);
		/* what this page shows was written before its answer arrived:
		 * a change is timed from then (the latest moment the owner can
		 * have sent it; from the scan's start, a slow scan would have
		 * shortened the timeout the owner counts) */
		now = now_ms(m);
		if (rc) {
			kl_errbuf_set(eb, rc, "lease table scan: %s", m->ddb->err.msg);
			break;
		}
		struct kl_json_iter it;
		struct kl_json_member item;
		const char *next;
		size_t next_len;
		if (kl_ddb_scan_page(m->ddb->answer, m->ddb->answer_len, &it, &next, &next_len)) {
			rc = kl_errbuf_set(eb, KL_EPARSE, "lease table scan: malformed answer");
			break;
		}
		while (kl_json_iter_next(&it, &item)) {
			struct kl_lease row;
			if (item.type != KL_JSON_OBJECT ||
			    kl_lease_item_decode(item.val, item.val_len, &row))
				continue; /* not a lease of ours: leave it alone */
			if ((rc = merge(m, &row, now))) {
				kl_errbuf_set(eb, rc, "lease table: too many rows");
				break;
			}
		}
		kl_buf_reset(&lek);
		if (rc || !next)
			break;
		if ((rc = kl_buf_append(&lek, next, next_len))) {
			kl_errbuf_set(eb, rc, "lease table scan: key too long");
			break;
		}
	}
	kl_buf_cleanup(&lek);
	if (rc)
		return rc;
	/* rows that vanished: a held one is lost, the others are forgotten */
	size_t k = 0;
	for (size_t i = 0; i < m->n; i++) {
		if (!m->rows[i].fresh) {
			lose(m, &m->rows[i]);
			continue;
		}
		if (k != i)
			m->rows[k] = m->rows[i];
		k++;
	}
	m->n = k;
	return KL_OK;
}

/* Describe, create, wait: no row is touched, so without the state lock. */
static int ensure_table(struct kl_lease_mgr *m, int64_t wait_ms, int *created, struct kl_errbuf *eb)
{
	char status[32];
	int made = 0;
	int rc = kl_ddb_describe_table(m->ddb, m->table, status, sizeof status);
	if (rc == KL_ENOTFOUND) {
		rc = kl_ddb_create_table(m->ddb, m->table, KEY_ATTR, &made);
		if (rc)
			return kl_errbuf_set(eb, rc, "create lease table %s: %s", m->table,
					     m->ddb->err.msg);
		snprintf(status, sizeof status, "CREATING");
	} else if (rc) {
		return kl_errbuf_set(eb, rc, "lease table %s: %s", m->table, m->ddb->err.msg);
	}
	int64_t t0 = now_ms(m);
	unsigned delay = 100;
	while (strcmp(status, "ACTIVE")) {
		if (now_ms(m) - t0 > wait_ms)
			return kl_errbuf_set(eb, KL_ERETRY,
					     "lease table %s is %s after %" PRId64 " ms", m->table,
					     status, wait_ms);
		sleep_ms(m, delay);
		delay = delay < 1600 ? delay * 2 : delay;
		rc = kl_ddb_describe_table(m->ddb, m->table, status, sizeof status);
		/* a table created an instant ago may not be visible yet */
		if (rc == KL_ENOTFOUND)
			snprintf(status, sizeof status, "CREATING");
		else if (rc)
			return kl_errbuf_set(eb, rc, "lease table %s: %s", m->table,
					     m->ddb->err.msg);
	}
	*created = made;
	return KL_OK;
}

int kl_lease_ensure_table(struct kl_lease_mgr *m, int64_t wait_ms, int *created,
			  struct kl_errbuf *eb)
{
	int made = 0;
	unlock(m);
	int rc = ensure_table(m, wait_ms, &made, eb);
	relock(m);
	if (created)
		*created = rc ? 0 : made;
	return rc;
}

/* ---- request fragments ---- */

static int key_frag(struct kl_lease_conn *c, const char *key)
{
	kl_buf_reset(&c->key);
	int rc = kl_buf_puts(&c->key, "{\"" KEY_ATTR "\":{\"S\":");
	rc = rc ? rc : kl_ddb_json_str(&c->key, key);
	rc = rc ? rc : kl_buf_puts(&c->key, "}}");
	return rc ? rc : kl_buf_putc(&c->key, '\0');
}

static int vals_open(struct kl_lease_conn *c)
{
	kl_buf_reset(&c->vals);
	return kl_buf_putc(&c->vals, '{');
}

static int val_s(struct kl_lease_conn *c, const char *name, const char *s)
{
	int rc = kl_buf_printf(&c->vals, "%s\"%s\":{\"S\":", c->vals.len > 1 ? "," : "", name);
	rc = rc ? rc : kl_ddb_json_str(&c->vals, s);
	return rc ? rc : kl_buf_putc(&c->vals, '}');
}

static int val_n(struct kl_lease_conn *c, const char *name, int64_t x)
{
	return kl_buf_printf(&c->vals, "%s\"%s\":{\"N\":\"%" PRId64 "\"}",
			     c->vals.len > 1 ? "," : "", name, x);
}

static int vals_close(struct kl_lease_conn *c)
{
	int rc = kl_buf_putc(&c->vals, '}');
	return rc ? rc : kl_buf_putc(&c->vals, '\0');
}

/* UpdateItem of the row in c->key with the values in c->vals, sent with c,
 * the state lock let go for the request. */
static int send_update(struct kl_lease_mgr *m, struct kl_lease_conn *c, const char *update,
		       const char *cond)
{
	unlock(m);
	int rc = kl_ddb_update_item(c->ddb, m->table, c->key.data, update, cond, NULL, c->vals.data);
	relock(m);
	return rc;
}

/* ---- sync ---- */

int kl_lease_sync_shards(struct kl_lease_mgr *m, const struct kl_lease_shard *s, size_t n,
			 unsigned *added, struct kl_errbuf *eb)
{
	*added = 0;
	struct kl_buf item;
	kl_buf_init(&item, 8192);
	int rc = KL_OK;
	for (size_t i = 0; i < n && !rc; i++) {
		if (!s[i].id || !*s[i].id || strlen(s[i].id) >= KL_LEASE_KEY_MAX ||
		    find(m, s[i].id))
			continue;
		size_t np = 0;
		for (size_t p = 0; p < KL_LEASE_MAX_PARENTS; p++)
			np += s[i].parents[p] && *s[i].parents[p];
		kl_buf_reset(&item);
		rc = kl_buf_puts(&item, "{\"" KEY_ATTR "\":{\"S\":");
		rc = rc ? rc : kl_ddb_json_str(&item, s[i].id);
		rc = rc ? rc
			: kl_buf_puts(&item, "},\"leaseCounter\":{\"N\":\"0\"},"
					     "\"ownerSwitchesSinceCheckpoint\":{\"N\":\"0\"},"
					     "\"checkpointSubSequenceNumber\":{\"N\":\"0\"},"
					     "\"checkpoint\":{\"S\":");
		rc = rc ? rc : kl_ddb_json_str(&item, np ? "TRIM_HORIZON" : m->initial);
		rc = rc ? rc : kl_buf_putc(&item, '}');
		if (np && !rc) {
			rc = kl_buf_puts(&item, ",\"parentShardId\":{\"SS\":[");
			int first = 1;
			for (size_t p = 0; p < KL_LEASE_MAX_PARENTS && !rc; p++) {
				const char *pid = s[i].parents[p];
				if (!pid || !*pid)
					continue;
				/* a set holds no duplicates: a merge of a shard
				 * with itself cannot happen, but do not trust it */
				if (p && s[i].parents[0] && !strcmp(pid, s[i].parents[0]))
					continue;
				rc = first ? KL_OK : kl_buf_putc(&item, ',');
				rc = rc ? rc : kl_ddb_json_str(&item, pid);
				first = 0;
			}
			rc = rc ? rc : kl_buf_puts(&item, "]}");
		}
		rc = rc ? rc : kl_buf_putc(&item, '}');
		rc = rc ? rc : kl_buf_putc(&item, '\0');
		if (rc) {
			kl_errbuf_set(eb, rc, "lease row for %s: too large", s[i].id);
			break;
		}
		unlock(m);
		rc = kl_ddb_put_item(m->ddb, m->table, item.data,
				     "attribute_not_exists(" KEY_ATTR ")", NULL, NULL);
		relock(m);
		if (rc == KL_ECONFLICT) {
			rc = KL_OK; /* another worker added it first */
		} else if (rc) {
			kl_errbuf_set(eb, rc, "lease row for %s: %s", s[i].id, m->ddb->err.msg);
		} else {
			(*added)++;
		}
	}
	kl_buf_cleanup(&item);
	return rc;
}

/* ---- take ---- */

/* Take (or steal) l as last seen: conditional on its counter and owner. */
static int take_one(struct kl_lease_mgr *m, struct kl_lease *l, int steal, struct kl_errbuf *eb)
{
	int64_t sent = now_ms(m);
	int rc = key_frag(&m->c, l->key);
	rc = rc ? rc : vals_open(&m->c);
	rc = rc ? rc : val_s(&m->c, ":me", m->me);
	rc = rc ? rc : val_n(&m->c, ":c", l->counter);
	rc = rc ? rc : val_n(&m->c, ":one", 1);
	rc = rc ? rc : val_n(&m->c, ":zero", 0);
	if (l->owner[0] && !rc)
		rc = val_s(&m->c, ":prev", l->owner);
	rc = rc ? rc : vals_close(&m->c);
	if (rc)
		return kl_errbuf_set(eb, rc, "lease %s: request too large", l->key);
	const char *cond = l->owner[0] ? "leaseCounter = :c AND leaseOwner = :prev"
				       : "leaseCounter = :c AND attribute_not_exists(leaseOwner)";
	rc = send_update(m, &m->c,
			 "SET leaseOwner = :me, leaseCounter = leaseCounter + :one, "
			 "ownerSwitchesSinceCheckpoint = "
			 "if_not_exists(ownerSwitchesSinceCheckpoint, :zero) + :one "
			 "REMOVE " HANDOFF_ATTR,
			 cond);
	if (rc == KL_ECONFLICT)
		return KL_ECONFLICT; /* another worker was faster, or the owner renewed */
	if (rc)
		return kl_errbuf_set(eb, rc, "take lease %s: %s", l->key, m->ddb->err.msg);
	l->owner_switches++;
	hold(m, l, l->counter + 1, sent);
	if (steal)
		m->stats.stolen++;
	else
		m->stats.taken++;
	return KL_OK;
}

/* The owners of live leases and how many each holds (this worker: its held
 * count). Fixed arrays: owners beyond `max` are not counted (a fleet of
 * more than that many workers on one table is not what this is for). */
struct tally {
	const char *owner[256];
	unsigned count[256];
	size_t n;
};

static void tally_add(struct tally *t, const char *owner)
{
	for (size_t i = 0; i < t->n; i++)
		if (!strcmp(t->owner[i], owner)) {
			t->count[i]++;
			return;
		}
	if (t->n == sizeof t->owner / sizeof t->owner[0])
		return;
	t->owner[t->n] = owner;
	t->count[t->n++] = 1;
}

/* How many leases owner holds by the tally (0: none, or not counted). */
static unsigned tally_count(const struct tally *t, const char *owner)
{
	for (size_t i = 0; i < t->n; i++)
		if (!strcmp(t->owner[i], owner))
			return t->count[i];
	return 0;
}

/* A worker counted without a lease of its own (one that asked for one). */
static void tally_seen(struct tally *t, const char *owner)
{
	for (size_t i = 0; i < t->n; i++)
		if (!strcmp(t->owner[i], owner))
			return;
	if (t->n == sizeof t->owner / sizeof t->owner[0])
		return;
	t->owner[t->n] = owner;
	t->count[t->n++] = 0;
}

/* A request of another worker's, first seen less than a timeout ago. */
static int asked_by_other(const struct kl_lease_mgr *m, const struct kl_lease *l, int64_t now)
{
	return l->handoff[0] && strcmp(l->handoff, m->me) && now - l->handoff_ms < m->timeout_ms;
}

/* Ask the owner of l (as last seen) to hand it over ("ask", lease.h). */
static int ask_one(struct kl_lease_mgr *m, struct kl_lease *l, struct kl_errbuf *eb)
{
	int rc = key_frag(&m->c, l->key);
	rc = rc ? rc : vals_open(&m->c);
	rc = rc ? rc : val_s(&m->c, ":me", m->me);
	rc = rc ? rc : val_s(&m->c, ":prev", l->owner);
	rc = rc ? rc : vals_close(&m->c);
	if (rc)
		return kl_errbuf_set(eb, rc, "lease %s: request too large", l->key);
	rc = send_update(m, &m->c, "SET " HANDOFF_ATTR " = :me", "leaseOwner = :prev");
	if (rc == KL_ECONFLICT)
		return KL_ECONFLICT; /* released or taken meanwhile */
	if (rc)
		return kl_errbuf_set(eb, rc, "ask for lease %s: %s", l->key, m->ddb->err.msg);
	l->asked_ms = now_ms(m);
	m->stats.asked++;
	return KL_OK;
}

int kl_lease_take(struct kl_lease_mgr *m, unsigned *took, struct kl_errbuf *eb)
{
	if (took)
		*took = 0;
	int rc = kl_lease_refresh(m, eb);
	if (rc || m->draining)
		return rc;
	int64_t now = now_ms(m);
	struct tally t = {.n = 0};
	unsigned leases = 0, mine = 0, shedding = 0;
	size_t n_exp = 0;
	size_t *expired = malloc((m->n ? m->n : 1) * sizeof *expired);
	if (!expired)
		return kl_errbuf_set(eb, KL_ENOMEM, "lease take: out of memory");
	for (size_t i = 0; i < m->n; i++) {
		struct kl_lease *l = &m->rows[i];
		if (is_finished(l) || (!l->held && (l->forgone || !parents_done(m, l))))
			continue;
		leases++;
		if (l->held)
			mine++, shedding += l->shed;
		else if (is_expired(m, l, now)) {
			if (now >= l->shed_until) /* not one this worker just shed */
				expired[n_exp++] = i;
		} else if (strcmp(l->owner, m->me)) {
			tally_add(&t, l->owner);
		}
		/* a live row naming this worker that it does not hold (another
		 * process with the same id, or ours before a restart) counts for
		 * nobody until it expires */
	}
	/* workers that asked for a lease are live, with or without one */
	for (size_t i = 0; i < m->n; i++)
		if (asked_by_other(m, &m->rows[i], now))
			tally_seen(&t, m->rows[i].handoff);
	unsigned workers = (unsigned)t.n + 1;
	unsigned share = kl_lease_fair_share(leases, workers, m->max_leases);
	/* a free row another worker asked for is that worker's while it holds
	 * less than the share: its owner released it to that one (lease.h,
	 * "ask") */
	size_t kept_exp = 0;
	for (size_t i = 0; i < n_exp; i++) {
		const struct kl_lease *l = &m->rows[expired[i]];
		if (!l->owner[0] && asked_by_other(m, l, now) &&
		    tally_count(&t, l->handoff) < share)
			continue;
		expired[kept_exp++] = expired[i];
	}
	n_exp = kept_exp;
	/* asked for while over the share (or at it, by a worker more than one
	 * short: the steal rule below): hand those over (kl_lease_shed) */
	for (size_t i = 0; i < m->n; i++) {
		struct kl_lease *l = &m->rows[i];
		if (!l->held || l->shed || !asked_by_other(m, l, now))
			continue;
		unsigned kept = mine - shedding, theirs = 0;
		for (size_t k = 0; k < t.n; k++)
			if (!strcmp(t.owner[k], l->handoff))
				theirs = t.count[k];
		if (kept > share || (kept == share && theirs + 1 < share)) {
			l->shed = 1;
			shedding++;
		}
	}
	unsigned need = share > mine ? share - mine : 0;
	unsigned got = 0;
	/* expired first, in random order (Fisher-Yates) */
	for (size_t i = n_exp; i > 1; i--) {
		size_t j = (size_t)(kl_rng_next(&m->rng) % i);
		size_t x = expired[i - 1];
		expired[i - 1] = expired[j];
		expired[j] = x;
	}
	for (size_t i = 0; i < n_exp && got < need; i++) {
		rc = take_one(m, &m->rows[expired[i]], 0, eb);
		if (rc == KL_OK)
			got++;
		else if (rc != KL_ECONFLICT)
			break;
		rc = KL_OK;
	}
	if (!rc && need && !n_exp) {
		/* take from the most loaded worker: when it holds more than the
		 * share, or (the KCL's rule) when this worker is more than one
		 * short and it holds the share: 4 leases on 3 workers split
		 * (2,2,0) would never move otherwise. Ask first (it hands them
		 * over after committing), steal what it has not let go of two
		 * timeouts after the request. */
		size_t best = t.n;
		for (size_t i = 0; i < t.n; i++)
			if (best == t.n || t.count[i] > t.count[best])
				best = i;
		if (best < t.n && !(t.count[best] > share || (need > 1 && t.count[best] >= share)))
			best = t.n;
		if (best < t.n) {
			unsigned want = t.count[best] > share ? t.count[best] - share : 1;
			want = want < need ? want : need;
			size_t cand[64], nc = 0, overdue = m->n;
			unsigned waiting = 0;
			for (size_t i = 0; i < m->n; i++) {
				struct kl_lease *l = &m->rows[i];
				if (l->held || is_finished(l) || l->forgone ||
				    strcmp(l->owner, t.owner[best]) || !parents_done(m, l))
					continue;
				if (l->asked_ms) {
					waiting++;
					if (now - l->asked_ms >= 2 * m->timeout_ms &&
					    overdue == m->n)
						overdue = i;
				} else if (!asked_by_other(m, l, now) && nc < 64) {
					cand[nc++] = i;
				}
			}
			if (overdue < m->n) {
				rc = take_one(m, &m->rows[overdue], 1, eb);
				if (rc == KL_OK)
					got++;
				else if (rc == KL_ECONFLICT)
					rc = KL_OK;
			}
			for (unsigned k = waiting; !rc && nc && k < want; k++) {
				size_t j = (size_t)(kl_rng_next(&m->rng) % nc);
				rc = ask_one(m, &m->rows[cand[j]], eb);
				if (rc == KL_ECONFLICT)
					rc = KL_OK;
				cand[j] = cand[--nc];
			}
		}
	}
	free(expired);
	if (took)
		*took = got;
	return rc;
}

int kl_lease_shed(const struct kl_lease_mgr *m, const char *key)
{
	const struct kl_lease *l = find(m, key);
	return l && l->shed && kl_lease_holds(m, key);
}

int kl_lease_awaiting(const struct kl_lease_mgr *m)
{
	int64_t now = now_ms(m);
	for (size_t i = 0; i < m->n; i++) {
		const struct kl_lease *l = &m->rows[i];
		/* until the request is answered, or its steal is due and a
		 * timeout past (a deaf owner of a row no take can move) */
		if (l->asked_ms && !l->held && !is_finished(l) &&
		    now - l->asked_ms < 3 * m->timeout_ms)
			return 1;
	}
	return 0;
}

int kl_lease_forgo(struct kl_lease_mgr *m, const char *key)
{
	struct kl_lease *l = find(m, key);
	if (!l)
		return KL_ENOTFOUND;
	l->forgone = 1;
	return KL_OK;
}

void kl_lease_drain(struct kl_lease_mgr *m)
{
	m->draining = 1;
}

/* ---- renew, checkpoint, release ---- */

/* The row of key as it is now (a consistent GetItem with c, the state
 * lock let go): KL_OK with *row, KL_ENOTFOUND when there is none. */
static int row_now(struct kl_lease_mgr *m, struct kl_lease_conn *c, const char *key,
		   struct kl_lease *row)
{
	const char *item;
	size_t n;
	unlock(m);
	int rc = kl_ddb_get_item(c->ddb, m->table, KEY_ATTR, key, &item, &n);
	rc = rc ? rc : kl_lease_item_decode(item, n, row);
	relock(m);
	return rc;
}

/* A refused write on a lease held as `counter` under `tenure` (l): may it
 * be sent again, and with which counter (*counter)? Yes when a renewal
 * moved the counter meanwhile: this manager's view says so, or else the
 * row still names this worker (only this worker writes rows naming it).
 * *rc: KL_ECONFLICT when the lease is someone else's (or gone), another
 * error when the row could not be read (nothing is known then). */
static int again(struct kl_lease_mgr *m, struct kl_lease *l, uint64_t tenure, int64_t *counter,
		 struct kl_lease *row, int *rc)
{
	if (!l->held || l->tenure != tenure)
		return 0; /* lost meanwhile (the renewer saw it) */
	if (l->counter != *counter) {
		*counter = l->counter;
		return 1;
	}
	int grc = row_now(m, &m->c, l->key, row);
	if (grc == KL_ENOTFOUND)
		return 0;
	if (grc) {
		*rc = grc;
		return 0;
	}
	if (!l->held || l->tenure != tenure || strcmp(row->owner, m->me) ||
	    row->counter == *counter)
		return 0;
	*counter = row->counter;
	return 1;
}

/* One write of key that moves its counter by one, fenced on this worker
 * owning it at counter (a renewal, a release), sent with c. */
static int fenced_bump(struct kl_lease_mgr *m, struct kl_lease_conn *c, const char *key,
		       int64_t counter, const char *update)
{
	int rc = key_frag(c, key);
	rc = rc ? rc : vals_open(c);
	rc = rc ? rc : val_s(c, ":me", m->me);
	rc = rc ? rc : val_n(c, ":c", counter);
	rc = rc ? rc : val_n(c, ":one", 1);
	rc = rc ? rc : vals_close(c);
	return rc ? rc : send_update(m, c, update, "leaseOwner = :me AND leaseCounter = :c");
}

#define RENEW "SET leaseCounter = leaseCounter + :one"
#define RELEASE "REMOVE leaseOwner SET leaseCounter = leaseCounter + :one"

int kl_lease_renew(struct kl_lease_mgr *m, struct kl_errbuf *eb)
{
	return kl_lease_renew_via(m, &m->c, eb);
}

int kl_lease_renew_via(struct kl_lease_mgr *m, struct kl_lease_conn *c, struct kl_errbuf *eb)
{
	/* this round's leases, copied: rows may move while the lock is let go
	 * (a refresh on another thread) */
	size_t n = 0;
	for (size_t i = 0; i < m->n; i++)
		n += m->rows[i].held && !m->rows[i].releasing;
	if (n > c->cap_due) {
		size_t cap = n < 16 ? 16 : n * 2;
		struct kl_lease_due *d = realloc(c->due, cap * sizeof *d);
		if (!d)
			return kl_errbuf_set(eb, KL_ENOMEM, "lease renew: out of memory");
		c->due = d;
		c->cap_due = cap;
	}
	n = 0;
	for (size_t i = 0; i < m->n; i++) {
		const struct kl_lease *l = &m->rows[i];
		if (!l->held || l->releasing)
			continue;
		memcpy(c->due[n].key, l->key, sizeof l->key);
		c->due[n].counter = l->counter;
		c->due[n].tenure = l->tenure;
		n++;
	}
	int first = KL_OK;
	for (size_t i = 0; i < n; i++) {
		const struct kl_lease_due *d = &c->due[i];
		int64_t counter = d->counter;
		int64_t sent = now_ms(m);
		int rc = fenced_bump(m, c, d->key, counter, RENEW);
		int foreign = 0; /* refused: the row names another owner, or none */
		for (int k = 0; rc == KL_ECONFLICT && k < 2; k++) {
			/* an earlier renewal of ours that landed after its answer
			 * was lost or timed out (or a retry of this one whose
			 * first attempt landed): still ours, at the row's counter;
			 * renewed only by a renewal sent from now */
			struct kl_lease row;
			int grc = row_now(m, c, d->key, &row);
			if (grc == KL_ENOTFOUND || (!grc && strcmp(row.owner, m->me))) {
				foreign = 1;
				break;
			}
			if (grc) {
				rc = grc;
				break;
			}
			counter = row.counter;
			sent = now_ms(m);
			rc = fenced_bump(m, c, d->key, counter, RENEW);
		}
		struct kl_lease *l = find(m, d->key);
		if (!l || !l->held || l->tenure != d->tenure || l->releasing)
			continue; /* released, lost or taken anew meanwhile */
		if (rc == KL_OK) {
			if (counter + 1 > l->counter)
				l->counter = counter + 1;
			if (sent > l->renewed_ms)
				l->renewed_ms = sent;
			l->seen_ms = sent;
			m->stats.renewals++;
		} else if (rc == KL_ECONFLICT && foreign) {
			lose(m, l);
		} else {
			if (rc == KL_ECONFLICT && counter > l->counter)
				l->counter = counter; /* ours, moving: the next round */
			if (!first)
				first = kl_errbuf_set(
				    eb, rc, "renew lease %s: %s", d->key,
				    rc == KL_ECONFLICT ? "refused while the row names this worker"
						       : c->ddb->err.msg);
			/* not renewed for the whole timeout: others may take it */
			if (now_ms(m) - l->renewed_ms >= m->timeout_ms)
				lose(m, l);
		}
	}
	return first;
}

int kl_lease_checkpoint(struct kl_lease_mgr *m, const char *key, uint64_t tenure,
			const char *checkpoint, int64_t sub, struct kl_errbuf *eb)
{
	struct kl_lease *l = find(m, key);
	if (!l || !l->held)
		return kl_errbuf_set(eb, KL_ENOTFOUND, "checkpoint %s: lease not held", key);
	if (tenure && l->tenure != tenure) /* lost and taken again since */
		return kl_errbuf_set(eb, KL_ENOTFOUND, "checkpoint %s: lease held anew", key);
	if (strlen(checkpoint) >= sizeof l->checkpoint)
		return kl_errbuf_set(eb, KL_EINVAL, "checkpoint %s: too long", key);
	if (now_ms(m) - l->renewed_ms >= m->timeout_ms) {
		lose(m, l); /* it may be someone else's by now: do not even try */
		return kl_errbuf_set(eb, KL_ECONFLICT, "checkpoint %s: lease expired", key);
	}
	uint64_t held_as = l->tenure;
	int64_t counter = l->counter;
	struct kl_lease row;
	char why[sizeof m->ddb->err.msg] = "";
	int rc;
	for (int k = 0;; k++) {
		rc = key_frag(&m->c, key);
		rc = rc ? rc : vals_open(&m->c);
		rc = rc ? rc : val_s(&m->c, ":me", m->me);
		rc = rc ? rc : val_n(&m->c, ":c", counter);
		rc = rc ? rc : val_s(&m->c, ":cp", checkpoint);
		rc = rc ? rc : val_n(&m->c, ":sub", sub);
		rc = rc ? rc : val_n(&m->c, ":zero", 0);
		rc = rc ? rc : vals_close(&m->c);
		if (rc)
			return kl_errbuf_set(eb, rc, "checkpoint %s: request too large", key);
		rc = send_update(m, &m->c,
				 "SET checkpoint = :cp, checkpointSubSequenceNumber = :sub, "
				 "ownerSwitchesSinceCheckpoint = :zero",
				 "leaseOwner = :me AND leaseCounter = :c");
		if (rc == KL_ECONFLICT) /* DynamoDB's refusal, for the message */
			snprintf(why, sizeof why, "%s", m->ddb->err.msg);
		/* refused: a renewal on the renewer's thread may have moved the
		 * counter (lease.h) */
		if (rc != KL_ECONFLICT || k == 2 || !again(m, l, held_as, &counter, &row, &rc))
			break;
	}
	if (rc == KL_ECONFLICT) {
		if (l->tenure == held_as)
			lose(m, l);
		return kl_errbuf_set(eb, rc, "checkpoint %s: lease lost to another worker: %s", key,
				     why);
	}
	if (rc)
		return kl_errbuf_set(eb, rc, "checkpoint %s: %s", key, m->ddb->err.msg);
	snprintf(l->checkpoint, sizeof l->checkpoint, "%s", checkpoint);
	l->checkpoint_sub = sub;
	l->owner_switches = 0;
	return KL_OK;
}

int kl_lease_release(struct kl_lease_mgr *m, const char *key, const char *checkpoint, int64_t sub,
		     struct kl_errbuf *eb)
{
	struct kl_lease *l = find(m, key);
	if (!l || !l->held)
		return kl_errbuf_set(eb, KL_ENOTFOUND, "release %s: lease not held", key);
	int rc = checkpoint ? kl_lease_checkpoint(m, key, 0, checkpoint, sub, eb) : KL_OK;
	if (rc)
		return rc;
	if (!l->held) /* lost while the lock was let go */
		return kl_errbuf_set(eb, KL_ECONFLICT, "release %s: lease lost to another worker",
				     key);
	l->releasing = 1; /* renewals leave it be from now on */
	uint64_t held_as = l->tenure;
	int64_t counter = l->counter;
	struct kl_lease row;
	for (int k = 0;; k++) {
		rc = fenced_bump(m, &m->c, key, counter, RELEASE);
		if (rc != KL_ECONFLICT || k == 2)
			break;
		/* our own write, answered late and retried? */
		if (l->held && l->tenure == held_as && l->counter == counter &&
		    !row_now(m, &m->c, key, &row) && !row.owner[0] && row.counter == counter + 1) {
			rc = KL_OK;
			break;
		}
		/* a renewal in flight when the release began moved the counter */
		if (!again(m, l, held_as, &counter, &row, &rc))
			break;
	}
	l->releasing = 0;
	if (rc == KL_ECONFLICT) {
		if (l->tenure == held_as)
			lose(m, l);
		return kl_errbuf_set(eb, rc, "release %s: lease lost to another worker", key);
	}
	if (rc)
		return kl_errbuf_set(eb, rc, "release %s: %s", key, m->ddb->err.msg);
	if (!l->held || l->tenure != held_as) /* lost meanwhile, yet the write landed: not ours */
		return kl_errbuf_set(eb, KL_ECONFLICT, "release %s: lease lost to another worker",
				     key);
	if (l->shed) /* asked for: the asker's, not ours to take back */
		l->shed_until = now_ms(m) + 2 * m->timeout_ms;
	l->held = 0;
	l->shed = 0;
	m->stats.held--;
	m->stats.released++;
	l->counter = counter + 1;
	l->owner[0] = '\0'; /* a request stays: the row is the asker's (take) */
	l->seen_ms = now_ms(m);
	return KL_OK;
}

int kl_lease_release_all(struct kl_lease_mgr *m, struct kl_errbuf *eb)
{
	int first = KL_OK;
	for (size_t i = 0; i < m->n; i++) {
		if (!m->rows[i].held)
			continue;
		int rc = kl_lease_release(m, m->rows[i].key, NULL, 0, eb);
		if (rc && !first)
			first = rc;
	}
	return first;
}
