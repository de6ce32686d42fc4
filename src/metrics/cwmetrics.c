/* cwmetrics.c — see cwmetrics.h. EMF: "Specification: Embedded metric
 * format" in the CloudWatch user guide (the _aws member, one
 * CloudWatchMetrics directive per line, metric values as root members). */
#include "metrics/cwmetrics.h"
#include "aws/kinesis.h"
#include "core/clock.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LOAD(x) atomic_load_explicit(&(x), memory_order_relaxed)

/* The counters in the order they are sent: name, unit, field. */
static const struct {
	const char *name, *unit;
	size_t off;
} counters[] = {
    {"RecordsRead", "Count", offsetof(struct kl_cw_counters, records)},
    {"EventsStored", "Count", offsetof(struct kl_cw_counters, stored)},
    {"DeadLetters", "Count", offsetof(struct kl_cw_counters, dead)},
    {"Duplicates", "Count", offsetof(struct kl_cw_counters, duplicates)},
    {"BytesRead", "Bytes", offsetof(struct kl_cw_counters, bytes_in)},
    {"BytesWritten", "Bytes", offsetof(struct kl_cw_counters, bytes_out)},
    {"FilesCommitted", "Count", offsetof(struct kl_cw_counters, files)},
    {"EventsRescued", "Count", offsetof(struct kl_cw_counters, rescued)},
};
#define NCOUNTERS (sizeof counters / sizeof counters[0])

static uint64_t counter(const struct kl_cw_counters *c, size_t i)
{
	return *(const uint64_t *)((const char *)c + counters[i].off);
}

const char *kl_cw_reason_name(int i)
{
	return i == 0 ? "invalid_base64" : kl_reject_name((enum kl_reject)i);
}

/* --- EMF ------------------------------------------------------------------ */

static int jstr(struct kl_buf *b, const char *s)
{
	int rc = kl_buf_putc(b, '"');
	rc = rc ? rc : kl_json_escape_append(b, s, strlen(s));
	return rc ? rc : kl_buf_putc(b, '"');
}

/* {"_aws":{"Timestamp":T,"CloudWatchMetrics":[{"Namespace":NS,"Dimensions":[[D...]],"Metrics":[ */
static int emf_head(struct kl_buf *b, const struct kl_cw_emf *e, int with_reason)
{
	int rc = kl_buf_printf(
	    b, "{\"_aws\":{\"Timestamp\":%" PRId64 ",\"CloudWatchMetrics\":[{\"Namespace\":",
	    e->timestamp_ms);
	rc = rc ? rc : jstr(b, e->ns);
	rc = rc ? rc : kl_buf_puts(b, ",\"Dimensions\":[[");
	rc = rc ? rc : jstr(b, e->dim_name);
	rc = rc ? rc
		: kl_buf_puts(b, with_reason ? ",\"Reason\"]],\"Metrics\":[" : "]],\"Metrics\":[");
	return rc;
}

/* ,"<dim_name>":"<dim_value>" */
static int emf_dim(struct kl_buf *b, const struct kl_cw_emf *e)
{
	int rc = kl_buf_putc(b, ',');
	rc = rc ? rc : jstr(b, e->dim_name);
	rc = rc ? rc : kl_buf_putc(b, ':');
	return rc ? rc : jstr(b, e->dim_value);
}

int kl_cw_emf_render(struct kl_buf *b, const struct kl_cw_emf *e)
{
	int rc = emf_head(b, e, 0);
	for (size_t i = 0; i < NCOUNTERS && !rc; i++)
		rc = kl_buf_printf(b, "%s{\"Name\":\"%s\",\"Unit\":\"%s\"}", i ? "," : "",
				   counters[i].name, counters[i].unit);
	if (!rc && e->latency_ms >= 0)
		rc = kl_buf_puts(b, ",{\"Name\":\"BatchLatency\",\"Unit\":\"Milliseconds\"}");
	rc = rc ? rc : kl_buf_puts(b, "]}]}");
	rc = rc ? rc : emf_dim(b, e);
	if (!rc && e->kind) {
		rc = kl_buf_puts(b, ",\"EventSource\":");
		rc = rc ? rc : jstr(b, e->kind);
	}
	for (size_t i = 0; i < NCOUNTERS && !rc; i++)
		rc = kl_buf_printf(b, ",\"%s\":%" PRIu64, counters[i].name, counter(e->c, i));
	if (!rc && e->latency_ms >= 0)
		rc = kl_buf_printf(b, ",\"BatchLatency\":%" PRId64, e->latency_ms);
	rc = rc ? rc : kl_buf_puts(b, "}\n");
	for (int r = 0; r < KL_REJ_COUNT && !rc; r++) {
		if (!e->c->dead_by_reason[r])
			continue;
		rc = emf_head(b, e, 1);
		rc = rc ? rc : kl_buf_puts(b, "{\"Name\":\"DeadLetters\",\"Unit\":\"Count\"}]}]}");
		rc = rc ? rc : emf_dim(b, e);
		rc = rc ? rc : kl_buf_puts(b, ",\"Reason\":");
		rc = rc ? rc : jstr(b, kl_cw_reason_name(r));
		rc = rc ? rc
			: kl_buf_printf(b, ",\"DeadLetters\":%" PRIu64 "}\n",
					e->c->dead_by_reason[r]);
	}
	return rc;
}

/* --- PutMetricData publisher ---------------------------------------------- */

void kl_cw_counters_of(struct kl_metrics *m, struct kl_cw_counters *c)
{
	memset(c, 0, sizeof *c);
	c->records = LOAD(m->records);
	c->stored = LOAD(m->stored);
	c->dead = LOAD(m->dead);
	c->duplicates = LOAD(m->duplicates);
	c->files = LOAD(m->files);
	c->bytes_in = LOAD(m->bytes_in);
	c->bytes_out = LOAD(m->bytes_out);
	c->rescued = LOAD(m->rescued);
	for (int i = 1; i < KL_REJ_COUNT; i++)
		c->dead_by_reason[i] = LOAD(m->rejected[i]);
}

static struct kl_cw_datum *datum(struct kl_cw_publisher *p, size_t *n, const char *name,
				 const char *unit, double v)
{
	struct kl_cw_datum *d = &p->data[(*n)++];
	memset(d, 0, sizeof *d);
	d->name = name;
	d->unit = unit;
	d->value = v;
	d->dims[d->ndims++] = (struct kl_cw_dim){"Stream", p->stream};
	return d;
}

size_t kl_cw_publisher_build(struct kl_cw_publisher *p, const struct kl_cw_counters *now)
{
	size_t n = 0;
	for (size_t i = 0; i < NCOUNTERS; i++)
		datum(p, &n, counters[i].name, counters[i].unit,
		      (double)(counter(now, i) - counter(&p->sent, i)));
	for (int r = 0; r < KL_REJ_COUNT; r++) {
		uint64_t d = now->dead_by_reason[r] - p->sent.dead_by_reason[r];
		if (!d) /* a reason's metric exists once the reason happened */
			continue;
		struct kl_cw_datum *x = datum(p, &n, "DeadLetters", "Count", (double)d);
		x->dims[x->ndims++] = (struct kl_cw_dim){"Reason", kl_cw_reason_name(r)};
	}
	size_t ns = atomic_load_explicit(&p->m->nshards, memory_order_acquire);
	int64_t worst = -1;
	for (size_t i = 0; i < ns && n + 1 < p->cap; i++) {
		struct kl_metrics_shard *s = &p->m->shards[i];
		int64_t v = LOAD(s->millis_behind);
		if (v < 0)
			continue; /* no GetRecords answer yet */
		struct kl_cw_datum *d =
		    datum(p, &n, "MillisBehindLatest", "Milliseconds", (double)v);
		d->dims[d->ndims++] = (struct kl_cw_dim){"Shard", s->id};
		if (v > worst)
			worst = v;
	}
	if (worst >= 0)
		datum(p, &n, "MillisBehindLatest", "Milliseconds", (double)worst);
	return n;
}

/* One publication. The counters travel in the first call: only when it
 * succeeds do they count as sent. */
static void publish(struct kl_cw_publisher *p)
{
	struct kl_cw_counters now;
	kl_cw_counters_of(p->m, &now);
	size_t n = kl_cw_publisher_build(p, &now);
	int64_t t = (int64_t)time(NULL);
	for (size_t off = 0; off < n; off += KL_CW_MAX_DATA) {
		size_t k = n - off < KL_CW_MAX_DATA ? n - off : KL_CW_MAX_DATA;
		int rc = kl_cloudwatch_put(&p->cw, p->ns, p->data + off, k, t);
		if (rc) {
			atomic_fetch_add_explicit(&p->m->cloudwatch_errors, 1,
						  memory_order_relaxed);
			if (p->log) {
				fprintf(p->log, "%scloudwatch: %s; %s\n",
					p->log_prefix ? p->log_prefix : "", p->cw.c.err.msg,
					off ? "shard lag skipped this interval"
					    : "the counts go out with the next interval");
				fflush(p->log);
			}
			if (!off)
				return;
		} else if (!off) {
			p->sent = now;
		}
	}
}

static void *publisher_main(void *arg)
{
	struct kl_cw_publisher *p = arg;
	int64_t next = kl_mono_ms() + p->interval_ms;
	for (;;) {
		int64_t t = kl_mono_ms();
		if (t >= next) {
			publish(p);
			next = kl_mono_ms() + p->interval_ms;
			continue;
		}
		struct pollfd pf = {.fd = p->wake[0], .events = POLLIN};
		int r = poll(&pf, 1, (int)(next - t));
		if (r < 0 && errno != EINTR)
			break;
		if (r > 0)
			break;
	}
	return NULL;
}

int kl_cw_publisher_start(struct kl_cw_publisher *p, struct kl_errbuf *eb)
{
	p->started = 0;
	memset(&p->sent, 0, sizeof p->sent);
	/* the Stream dimension: the name, also when --stream is the ARN */
	snprintf(p->stream, sizeof p->stream, "%s", kl_kinesis_stream_name(p->m->stream));
	int rc = kl_cloudwatch_init(&p->cw, p->region, eb);
	if (rc) {
		kl_cloudwatch_cleanup(&p->cw);
		return rc;
	}
	p->cap = NCOUNTERS + KL_REJ_COUNT + KL_METRICS_MAX_SHARDS + 1;
	p->data = calloc(p->cap, sizeof *p->data);
	if (!p->data || pipe2(p->wake, O_CLOEXEC)) {
		free(p->data);
		p->data = NULL;
		kl_cloudwatch_cleanup(&p->cw);
		return kl_errbuf_set(eb, KL_ENOMEM, "cloudwatch: cannot set up the publisher");
	}
	p->m->cloudwatch = 1;
	if (pthread_create(&p->thread, NULL, publisher_main, p)) {
		close(p->wake[0]);
		close(p->wake[1]);
		free(p->data);
		p->data = NULL;
		kl_cloudwatch_cleanup(&p->cw);
		return kl_errbuf_set(eb, KL_ENOMEM,
				     "cloudwatch: cannot start the publisher thread");
	}
	p->started = 1;
	return KL_OK;
}

void kl_cw_publisher_stop(struct kl_cw_publisher *p)
{
	if (!p->started)
		return;
	(void)!write(p->wake[1], "x", 1);
	pthread_join(p->thread, NULL);
	close(p->wake[0]);
	close(p->wake[1]);
	publish(p); /* the final counters */
	free(p->data);
	p->data = NULL;
	kl_cloudwatch_cleanup(&p->cw);
	p->started = 0;
}
