/* store_s3.c — a lake at s3://bucket/prefix; see store.h.
 *
 * A file is buffered in memory. Below the multipart threshold commit() sends
 * one PutObject. When the buffer reaches the threshold, a multipart upload is
 * created and the buffer is cut into parts of part_size; full parts go to a
 * small pool of upload threads (each with its own kl_http handle) through a
 * queue bounded by `concurrency` parts in flight for the whole store, so a
 * writer blocks instead of buffering without limit. commit() sends the last
 * part, waits for the others and completes the upload with every part's ETag
 * and SHA-256; abort() or any failure aborts the upload, so nothing becomes
 * visible. commit_if() is the same commit with If-Match: <ETag> or
 * If-None-Match: * on the PutObject or the CompleteMultipartUpload (store.h);
 * read_tag() is a GetObject or HeadObject that keeps the ETag. A conditional
 * commit always changes the ETag (same_etag below). commit() is conditional
 * too, on whatever is there when it looks (s3_commit), so that a late
 * request of a writer that gave up cannot replace a newer file.
 * commit_deferred() (the writer's data files, store.h) hands a small new
 * object (at most DEFER_MAX bytes, no multipart upload, a key this store has
 * not written) to the same upload threads as one PutObject with
 * If-None-Match: *, so that the files of a batch go up side by side instead
 * of one round trip after another; sync() waits for them, and runs
 * s3_commit's replace loop on the caller's thread for any that found an
 * object there (a rewrite). commit_deferred_guarded() (lease mode's data
 * files, lease/fence.h) is the same, but such a rewrite is replaced by
 * kl_store_commit_guarded() instead (read, the writer's guard, If-Match):
 * commit_now(). put_new_deferred() (the schema registry's
 * content-named fragments) rides the same queue outside the numbered
 * sequence: an object there is success, a failure fails the next sync()
 * and calls the writer's lost() (also for one dropped by free()).
 * read_many() (the registry's fragments) queues a GetObject per key there
 * too and waits for them all.
 * Everything else commits on the caller's thread.
 * The store's ops are called from one thread; only part uploads, deferred
 * PutObjects and read_many()'s GetObjects run elsewhere. Locking: `mu`
 * guards the queue, each file's part table, pending count and first error,
 * the deferred commits' counts, results and redo list, read_many()'s
 * results, the store's errbuf and the credential chain.
 */
#include "store/store.h"

#include <openssl/evp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <xxhash.h>

#include "aws/credentials.h"
#include "aws/sigv4.h"
#include "aws/xml.h"
#include "store/s3_request.h"

#define MIB ((size_t)1 << 20)
#define MAX_PARTS 10000
#define MAX_OBJECT ((size_t)5 << 30)
/* commit_deferred(): larger objects commit on the caller's thread, so that
 * what the upload threads hold beyond the writer's budget stays at most
 * concurrency x DEFER_MAX bytes (8 MiB at the default 4; a multipart
 * upload's parts in flight may hold concurrency x part_size, 32 MiB). An
 * hour of one of the production stream's ~100 partitions is ~0.8 MB of
 * Parquet on average (bench/README.md: 79 MB per 1M events). */
#define DEFER_MAX ((size_t)2 << 20)
#define DEFER_SLOTS 64 /* deferred commits in flight per hash of their key */

/* A part of a multipart upload (num >= 1, its bytes in data), a deferred
 * commit of the whole of f (num 0: the job owns f; kh is its key's hash), or
 * one GetObject of read_many() (rd set, f NULL). */
struct read_job;
struct part_job {
	struct part_job *next;
	struct kl_store_file *f;
	unsigned num; /* 1-based; 0: a deferred commit */
	struct kl_buf data;
	uint64_t kh;
	struct read_job *rd;
};

/* read_many()'s reads: key i into outs[i], its result into rcs[i]; `left`
 * counts those not ended (under the store's mu). */
struct read_job {
	const char *const *keys;
	struct kl_buf *outs;
	int *rcs;
	size_t left;
};

struct s3_store {
	struct kl_store base;
	struct kl_s3_endpoint ep;
	char *prefix; /* "" or "prefix/" */
	size_t threshold, part_size;
	unsigned concurrency;
	char *sse, *sse_kms_key_id, *ca_file;
	struct kl_http *http; /* the caller's thread */

	pthread_mutex_t mu;
	pthread_cond_t work, done;
	struct part_job *head, *tail;
	unsigned inflight; /* queued + being uploaded */
	int stopping;
	pthread_t *threads;
	struct kl_http **thread_http;
	unsigned nthreads;
	/* deferred commits (s3_commit_deferred), under mu: how many are queued
	 * or being sent, per slot of their key's hash too (open() of such a key
	 * waits for them: the later object must win); the first failure since
	 * the last sync; what the sent ones add to the base's counts (folded in
	 * on the caller's thread); the files that found an object under their
	 * key, for s3_commit at sync (owned by the list) */
	unsigned deferred, defer_slot[DEFER_SLOTS];
	int deferred_rc;
	/* the ordinal the next commit_deferred() gets (from 0 after a sync; the
	 * caller's thread only), and the lowest ordinal that did not land
	 * (UINT64_MAX: none yet): sync() reports the files before it as landed */
	uint64_t defer_next, defer_bad;
	uint64_t deferred_files, deferred_bytes;
	struct kl_store_file *redo;
	/* the server answered a precondition with 501 NotImplemented (an older
	 * S3-compatible store): commit() replaces without one from then on,
	 * and commit_if() fails without a request */
	_Atomic int no_cond;
	/* commit()'s guesses of what is under a key: the ETag of this store's
	 * last read of it or last commit over an object that was there (a
	 * rewrite; a new key, a data file, takes no slot), by a hash of the
	 * key, a slot per hash, the newest wins. A key written again and again
	 * (a state log: every commit) then costs one conditional PutObject,
	 * not three; a wrong guess costs the HeadObject it would save
	 * (s3_commit). The caller's thread only. */
	struct tag_hint {
		uint64_t key; /* 0: empty */
		char tag[KL_STORE_TAG_MAX];
	} hints[32];
};

struct part_res {
	char etag[128];
	char checksum[45];
};

struct kl_store_file {
	struct s3_store *s;
	char *key; /* full key, prefix included */
	struct kl_buf cur;
	uint64_t bytes;
	char *upload_id; /* NULL until the multipart upload exists */
	unsigned nparts;
	struct part_res *parts; /* nparts entries; filled by the uploaders */
	unsigned pending;
	int rc;	     /* first failure of this file */
	int cancel;  /* aborted: skip queued parts */
	int replace; /* commit(): a refused precondition is the replace loop's, not a failure */
	struct kl_store_file *next_redo; /* on the store's redo list */
	uint64_t ord;			 /* commit_deferred(): its ordinal since the last sync */
	/* put_new_deferred(): called if it does not land (NULL: a data file) */
	void (*lost)(void *ctx);
	void *lost_ctx;
	/* commit_deferred_guarded(): asked before it replaces an object (NULL:
	 * a plain deferred commit; store.h) */
	int (*guard)(void *ctx);
	void *guard_ctx;
};

/* The hint slot of a full key (its hash in *kh, never 0: an empty slot). */
static struct tag_hint *hint_of(struct s3_store *s, const char *key, uint64_t *kh)
{
	*kh = XXH3_64bits(key, strlen(key));
	*kh += !*kh;
	return &s->hints[*kh % (sizeof s->hints / sizeof s->hints[0])];
}

/* What this store last saw under the key of hash kh, into its slot h
 * (hint_of): tag (NULL or "": not known). */
static void hint_put(struct tag_hint *h, uint64_t kh, const char *tag)
{
	h->key = tag && *tag ? kh : 0;
	if (h->key)
		snprintf(h->tag, sizeof h->tag, "%s", tag);
}

/* Record the first error of the file and of the store (any thread). */
static int fail_locked(struct kl_store_file *f, int rc, const struct kl_errbuf *eb)
{
	if (!f->rc)
		f->rc = rc;
	kl_errbuf_set(&f->s->base.err, rc, "%s", eb->msg);
	return rc;
}

static int fail(struct kl_store_file *f, int rc, const struct kl_errbuf *eb)
{
	pthread_mutex_lock(&f->s->mu);
	fail_locked(f, rc, eb);
	pthread_mutex_unlock(&f->s->mu);
	return rc;
}

/* ---- requests ---- */

static int sse_headers(const struct s3_store *s, struct kl_http_header *h)
{
	size_t n = 0;
	if (s->sse) {
		h[n++] = (struct kl_http_header){"x-amz-server-side-encryption", s->sse};
		if (s->sse_kms_key_id)
			h[n++] = (struct kl_http_header){
			    "x-amz-server-side-encryption-aws-kms-key-id", s->sse_kms_key_id};
	}
	return (int)n;
}

/* The precondition of a conditional commit (store.h commit_if): expect ""
 * = If-None-Match: * (no object yet), else If-Match: <ETag>; NULL = none.
 * Returns how many headers it put into h (0 or 1). */
static size_t cond_header(const char *expect, struct kl_http_header *h)
{
	if (!expect)
		return 0;
	*h = *expect ? (struct kl_http_header){"If-Match", expect}
		     : (struct kl_http_header){"If-None-Match", "*"};
	return 1;
}

/* A refused precondition is KL_ECONFLICT (the message stays AWS's): 412,
 * 409 ConditionalRequestConflict (a concurrent conditional write won), or
 * 404 NoSuchKey for If-Match (the object is gone); by its code also in a
 * 200 answer's error document (CompleteMultipartUpload). None is retried. */
static void cond_refused(const char *expect, const struct kl_s3_result *res, struct kl_errbuf *eb)
{
	int st = res->err.status;
	const char *code = res->err.code;
	if (expect && (st == 501 || !strcmp(code, "NotImplemented")))
		eb->code = KL_EUNSUPPORTED;
	else if (expect && (st == 412 || st == 409 || !strcmp(code, "PreconditionFailed") ||
			    !strcmp(code, "ConditionalRequestConflict") ||
			    (st == 404 && *expect && !strcmp(code, "NoSuchKey"))))
		eb->code = KL_ECONFLICT;
}

/* The end of a failed conditional send: a refused precondition is an
 * answer, not the store's error (store.h, commit_if); an unsupported one in
 * commit()'s replace loop is that loop's to handle (s3_commit); any other
 * failure is the file's. */
static int refused(struct kl_store_file *f, int rc, const struct kl_errbuf *eb)
{
	if (rc == KL_ECONFLICT || (f->replace && rc == KL_EUNSUPPORTED))
		return rc;
	return fail(f, rc, eb);
}

static int put_object(struct kl_store_file *f, struct kl_http *conn, const char *expect, char *tag)
{
	struct s3_store *s = f->s;
	char hex[65], b64[45];
	kl_s3_sha256(f->cur.data, f->cur.len, hex, b64);
	struct kl_http_header h[5] = {{"Content-Type", "application/octet-stream"}};
	size_t nh = 1 + (size_t)sse_headers(s, h + 1);
	nh += cond_header(expect, h + nh);
	struct kl_s3_req req = {"PutObject", "PUT", f->key, NULL, f->cur.data,
				f->cur.len,  hex,   b64,    h,	  nh, 0};
	struct kl_s3_result res;
	struct kl_errbuf eb = {{0}, 0};
	kl_s3_result_init(&res, 1 << 16);
	int rc = kl_s3_call(&s->ep, conn, &req, &res, &eb);
	if (rc) {
		cond_refused(expect, &res, &eb);
		rc = eb.code ? eb.code : rc;
	} else if (tag) {
		snprintf(tag, KL_STORE_TAG_MAX, "%s", res.resp.etag);
	}
	kl_s3_result_cleanup(&res);
	return rc ? refused(f, rc, &eb) : KL_OK;
}

static int create_upload(struct kl_store_file *f)
{
	struct s3_store *s = f->s;
	struct kl_http_header h[4] = {{"Content-Type", "application/octet-stream"},
				      {"x-amz-checksum-algorithm", "SHA256"}};
	size_t nh = 2 + (size_t)sse_headers(s, h + 2);
	struct kl_s3_req req = {
	    "CreateMultipartUpload", "POST", f->key, "uploads", NULL, 0, NULL, NULL, h, nh, 0};
	struct kl_s3_result res;
	struct kl_errbuf eb = {{0}, 0};
	kl_s3_result_init(&res, 1 << 16);
	int rc = kl_s3_call(&s->ep, s->http, &req, &res, &eb);
	if (!rc) {
		struct kl_buf id;
		kl_buf_init(&id, 4096);
		if (kl_xml_find(res.resp.body.data, res.resp.body.len, NULL, "UploadId", &id) ||
		    id.len == 0 || kl_buf_putc(&id, '\0'))
			rc = kl_errbuf_set(&eb, KL_EPARSE,
					   "s3: CreateMultipartUpload s3://%s/%s: no UploadId in "
					   "the answer",
					   s->ep.bucket, f->key);
		else
			f->upload_id = id.data; /* takes the block */
		if (rc)
			kl_buf_cleanup(&id);
	}
	kl_s3_result_cleanup(&res);
	return rc ? fail(f, rc, &eb) : KL_OK;
}

/* "uploadId=<encoded>" (+ "&partNumber=N" first when num > 0). */
static int upload_query(struct kl_buf *q, const char *upload_id, unsigned num)
{
	int rc =
	    num ? kl_buf_printf(q, "partNumber=%u&uploadId=", num) : kl_buf_puts(q, "uploadId=");
	if (!rc)
		rc = kl_uri_encode(q, upload_id, strlen(upload_id), 0);
	return rc ? rc : kl_buf_putc(q, '\0');
}

/* Upload one part (any thread); the result goes into f->parts[num - 1]. */
static int upload_part(struct kl_store_file *f, struct kl_http *h, unsigned num,
		       const struct kl_buf *data)
{
	struct s3_store *s = f->s;
	char hex[65], b64[45];
	kl_s3_sha256(data->data, data->len, hex, b64);
	struct kl_buf q;
	kl_buf_init(&q, 4096);
	struct kl_errbuf eb = {{0}, 0};
	int rc = upload_query(&q, f->upload_id, num);
	if (rc) {
		kl_buf_cleanup(&q);
		return fail(f, kl_errbuf_set(&eb, rc, "s3: UploadPart: out of memory"), &eb);
	}
	/* An explicit type: libcurl would label the body a form otherwise. */
	struct kl_http_header ct[] = {{"Content-Type", "application/octet-stream"}};
	struct kl_s3_req req = {"UploadPart", "PUT", f->key, q.data, data->data,
				data->len,    hex,   b64,    ct,     1, 0};
	struct kl_s3_result res;
	kl_s3_result_init(&res, 1 << 16);
	rc = kl_s3_call(&s->ep, h, &req, &res, &eb);
	if (!rc && !res.resp.etag[0])
		rc = kl_errbuf_set(&eb, KL_EREMOTE, "s3: UploadPart %u s3://%s/%s: no ETag", num,
				   s->ep.bucket, f->key);
	pthread_mutex_lock(&s->mu);
	if (rc) {
		fail_locked(f, rc, &eb);
	} else {
		struct part_res *p = &f->parts[num - 1];
		snprintf(p->etag, sizeof p->etag, "%s", res.resp.etag);
		memcpy(p->checksum, b64, sizeof p->checksum);
	}
	pthread_mutex_unlock(&s->mu);
	kl_s3_result_cleanup(&res);
	kl_buf_cleanup(&q);
	return rc;
}

static int xml_text(struct kl_buf *b, const char *s)
{
	int rc = KL_OK;
	for (; *s && !rc; s++)
		rc = *s == '&'	 ? kl_buf_puts(b, "&amp;")
		     : *s == '<' ? kl_buf_puts(b, "&lt;")
		     : *s == '>' ? kl_buf_puts(b, "&gt;")
		     : *s == '"' ? kl_buf_puts(b, "&quot;")
				 : kl_buf_putc(b, *s);
	return rc;
}

static int complete_upload(struct kl_store_file *f, const char *expect, char *tag)
{
	struct s3_store *s = f->s;
	struct kl_buf body, q;
	kl_buf_init(&body, 0);
	kl_buf_init(&q, 4096);
	struct kl_errbuf eb = {{0}, 0};
	int rc = kl_buf_puts(&body, "<CompleteMultipartUpload "
				    "xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">");
	for (unsigned i = 0; i < f->nparts && !rc; i++) {
		rc = kl_buf_puts(&body, "<Part><ETag>");
		rc = rc ? rc : xml_text(&body, f->parts[i].etag);
		rc = rc ? rc
			: kl_buf_printf(&body,
					"</ETag><ChecksumSHA256>%s</ChecksumSHA256>"
					"<PartNumber>%u</PartNumber></Part>",
					f->parts[i].checksum, i + 1);
	}
	rc = rc ? rc : kl_buf_puts(&body, "</CompleteMultipartUpload>");
	rc = rc ? rc : upload_query(&q, f->upload_id, 0);
	if (rc) {
		kl_buf_cleanup(&body);
		kl_buf_cleanup(&q);
		return fail(f, kl_errbuf_set(&eb, rc, "s3: CompleteMultipartUpload: out of memory"),
			    &eb);
	}
	struct kl_http_header h[2] = {{"Content-Type", "application/xml"}};
	size_t nh = 1 + cond_header(expect, h + 1);
	struct kl_s3_req req = {"CompleteMultipartUpload",
				"POST",
				f->key,
				q.data,
				body.data,
				body.len,
				NULL,
				NULL,
				h,
				nh, 0};
	struct kl_s3_result res;
	kl_s3_result_init(&res, 1 << 20);
	rc = kl_s3_call(&s->ep, s->http, &req, &res, &eb);
	if (rc) {
		cond_refused(expect, &res, &eb);
		rc = eb.code ? eb.code : rc;
	} else if (tag) { /* the new ETag is in the answer's document */
		struct kl_buf et;
		kl_buf_init(&et, KL_STORE_TAG_MAX - 1);
		tag[0] = '\0';
		if (!kl_xml_find(res.resp.body.data, res.resp.body.len, NULL, "ETag", &et))
			snprintf(tag, KL_STORE_TAG_MAX, "%.*s", (int)et.len, et.data ? et.data : "");
		kl_buf_cleanup(&et);
	}
	kl_s3_result_cleanup(&res);
	kl_buf_cleanup(&body);
	kl_buf_cleanup(&q);
	return rc ? refused(f, rc, &eb) : KL_OK;
}

/* Best effort: a failure is recorded (first error) and the upload lingers
 * until a bucket lifecycle rule removes it. NoSuchUpload counts as done.
 * At shutdown (the store's cancel fired) one attempt of at most 2 s, so the
 * parts do not linger and the exit is not held up either. */
static void abort_upload(struct kl_store_file *f)
{
	struct s3_store *s = f->s;
	struct kl_s3_endpoint ep = s->ep;
	long timeout_ms = 0;
	if (kl_cancelled(ep.cancel)) {
		ep.cancel = NULL;
		ep.retry.max_attempts = 1;
		timeout_ms = 2000;
	}
	struct kl_buf q;
	kl_buf_init(&q, 4096);
	struct kl_errbuf eb = {{0}, 0};
	if (upload_query(&q, f->upload_id, 0)) {
		kl_buf_cleanup(&q);
		return;
	}
	struct kl_s3_req req = {"AbortMultipartUpload", "DELETE", f->key, q.data, NULL, 0, NULL,
				NULL, NULL, 0, timeout_ms};
	struct kl_s3_result res;
	kl_s3_result_init(&res, 1 << 16);
	int rc = kl_s3_call(&ep, s->http, &req, &res, &eb);
	if (rc && strcmp(res.err.code, "NoSuchUpload") != 0)
		fail(f, rc, &eb);
	kl_s3_result_cleanup(&res);
	kl_buf_cleanup(&q);
}

/* ---- upload threads ---- */

struct worker_arg {
	struct s3_store *s;
	struct kl_http *h;
};

static void file_free(struct kl_store_file *f);
static int file_rc(struct kl_store_file *f);
static void drain(struct s3_store *s);
static int get_object(struct s3_store *s, struct kl_http *h, const char *key, struct kl_buf *out,
		      char *tag, int hint);

/* Deferred commit number `ord` did not land (rc): the sync fails, and
 * reports only the files before the lowest such number as landed. Under mu. */
static void defer_failed(struct s3_store *s, uint64_t ord, int rc)
{
	if (!s->deferred_rc)
		s->deferred_rc = rc;
	if (ord < s->defer_bad)
		s->defer_bad = ord;
}

/* A deferred object that will not land is freed; a put_new_deferred()'s
 * writer hears of it (store.h: lost() must not block nor call the store). */
static void deferred_drop(struct kl_store_file *f)
{
	if (f->lost)
		f->lost(f->lost_ctx);
	file_free(f);
}

/* A deferred commit on an upload thread (s3_commit_deferred): one PutObject
 * with If-None-Match: *, as s3_commit's first round for a new key. Sent:
 * counted, f freed. An object there (412; a rewrite) or no conditional
 * writes (501): onto the redo list for s3_commit at sync; but for
 * put_new_deferred() an object there is done (a content-named key holds
 * the same bytes), as in kl_store_put_new(). Any other failure is the
 * file's and the store's (put_object recorded it): f dropped; the next
 * sync fails. Under no lock; takes mu for the results. */
static void deferred_put(struct kl_store_file *f, struct kl_http *h)
{
	struct s3_store *s = f->s;
	int rc = file_rc(f);
	if (!rc)
		rc = put_object(f, h, "", NULL);
	pthread_mutex_lock(&s->mu);
	if (rc == KL_ECONFLICT && f->lost) {
		rc = KL_OK; /* there already: nothing to count, as kl_store_put_new() */
	} else if (rc == KL_ECONFLICT || rc == KL_EUNSUPPORTED) {
		f->next_redo = s->redo;
		s->redo = f;
		f = NULL;
	} else if (rc) {
		defer_failed(s, f->ord, rc);
	} else {
		s->deferred_files++;
		s->deferred_bytes += f->bytes;
	}
	pthread_mutex_unlock(&s->mu);
	if (f && rc)
		deferred_drop(f);
	else if (f)
		file_free(f);
}

static void *worker(void *arg)
{
	struct s3_store *s = ((struct worker_arg *)arg)->s;
	struct kl_http *h = ((struct worker_arg *)arg)->h;
	free(arg);
	pthread_mutex_lock(&s->mu);
	for (;;) {
		while (!s->head && !s->stopping)
			pthread_cond_wait(&s->work, &s->mu);
		if (!s->head)
			break;
		struct part_job *j = s->head;
		if (!(s->head = j->next))
			s->tail = NULL;
		/* free() while a deferred commit waits: dropped, never visible (store.h) */
		int skip = j->rd ? 0 : j->num ? j->f->cancel || j->f->rc : s->stopping;
		pthread_mutex_unlock(&s->mu);
		int read_rc = KL_OK;
		if (j->rd) /* read_many(): key j->num - 1 */
			read_rc = get_object(s, h, j->rd->keys[j->num - 1], &j->rd->outs[j->num - 1],
					     NULL, 0);
		else if (!j->num && skip)
			deferred_drop(j->f);
		else if (!j->num)
			deferred_put(j->f, h); /* the job's f is gone after it */
		else if (!skip)
			upload_part(j->f, h, j->num, &j->data);
		kl_buf_cleanup(&j->data);
		pthread_mutex_lock(&s->mu);
		if (j->rd) {
			j->rd->rcs[j->num - 1] = read_rc;
			j->rd->left--;
		} else if (j->num) {
			j->f->pending--;
		} else {
			s->deferred--;
			s->defer_slot[j->kh % DEFER_SLOTS]--;
		}
		s->inflight--;
		free(j);
		pthread_cond_broadcast(&s->done);
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

static int start_workers(struct s3_store *s, struct kl_errbuf *eb)
{
	if (s->threads) /* an earlier start failed before any thread ran */
		return kl_errbuf_set(eb, KL_ENOMEM, "s3: cannot start upload threads");
	s->threads = calloc(s->concurrency, sizeof *s->threads);
	s->thread_http = calloc(s->concurrency, sizeof *s->thread_http);
	if (!s->threads || !s->thread_http)
		return kl_errbuf_set(eb, KL_ENOMEM, "s3: out of memory");
	struct kl_http_opts ho = {.ca_file = s->ca_file};
	for (unsigned i = 0; i < s->concurrency; i++) {
		struct worker_arg *a = malloc(sizeof *a);
		struct kl_http *h = kl_http_new(&ho, eb);
		if (!a || !h) {
			free(a);
			kl_http_free(h);
			return kl_errbuf_set(eb, KL_ENOMEM, "s3: cannot start upload threads");
		}
		*a = (struct worker_arg){s, h};
		if (pthread_create(&s->threads[s->nthreads], NULL, worker, a)) {
			free(a);
			kl_http_free(h);
			return kl_errbuf_set(eb, KL_ENOMEM, "s3: cannot start upload threads");
		}
		s->thread_http[s->nthreads++] = h;
	}
	return KL_OK;
}

static void stop_workers(struct s3_store *s)
{
	pthread_mutex_lock(&s->mu);
	s->stopping = 1;
	pthread_cond_broadcast(&s->work);
	pthread_mutex_unlock(&s->mu);
	for (unsigned i = 0; i < s->nthreads; i++) {
		pthread_join(s->threads[i], NULL);
		kl_http_free(s->thread_http[i]);
	}
	free(s->threads);
	free(s->thread_http);
}

/* Queue a job for the upload threads, once fewer than `concurrency` are in
 * flight (waits for that). Under mu. */
static void enqueue(struct s3_store *s, struct part_job *j)
{
	while (s->inflight >= s->concurrency)
		pthread_cond_wait(&s->done, &s->mu);
	if (s->tail)
		s->tail->next = j;
	else
		s->head = j;
	s->tail = j;
	s->inflight++;
	pthread_cond_signal(&s->work);
}

/* Queue one part (takes data's block); blocks while `concurrency` parts are
 * in flight. */
static int submit(struct kl_store_file *f, struct kl_buf *data)
{
	struct s3_store *s = f->s;
	struct kl_errbuf eb = {{0}, 0};
	int rc = KL_OK;
	if (!s->nthreads && (rc = start_workers(s, &eb)))
		; /* threads that did start keep running until free() */
	else if (f->nparts == MAX_PARTS)
		rc = kl_errbuf_set(&eb, KL_ELIMIT,
				   "s3: s3://%s/%s: more than %d parts (raise the part size)",
				   s->ep.bucket, f->key, MAX_PARTS);
	struct part_job *j = rc ? NULL : calloc(1, sizeof *j);
	if (!rc && !j)
		rc = kl_errbuf_set(&eb, KL_ENOMEM, "s3: out of memory");
	if (rc) {
		kl_buf_cleanup(data);
		return fail(f, rc, &eb);
	}
	pthread_mutex_lock(&s->mu);
	struct part_res *p = realloc(f->parts, (f->nparts + 1) * sizeof *p);
	if (!p) {
		pthread_mutex_unlock(&s->mu);
		free(j);
		kl_buf_cleanup(data);
		return fail(f, kl_errbuf_set(&eb, KL_ENOMEM, "s3: out of memory"), &eb);
	}
	f->parts = p;
	memset(&p[f->nparts], 0, sizeof *p);
	*j = (struct part_job){NULL, f, ++f->nparts, *data, 0, NULL};
	kl_buf_init(data, 0);
	f->pending++;
	enqueue(s, j);
	pthread_mutex_unlock(&s->mu);
	return KL_OK;
}

static int wait_parts(struct kl_store_file *f)
{
	struct s3_store *s = f->s;
	pthread_mutex_lock(&s->mu);
	while (f->pending)
		pthread_cond_wait(&s->done, &s->mu);
	int rc = f->rc;
	pthread_mutex_unlock(&s->mu);
	return rc;
}

static int file_rc(struct kl_store_file *f)
{
	pthread_mutex_lock(&f->s->mu);
	int rc = f->rc;
	pthread_mutex_unlock(&f->s->mu);
	return rc;
}

/* ---- the vtable ---- */

static int s3_open(struct kl_store *base, const char *key, struct kl_store_file **out)
{
	struct s3_store *s = (struct s3_store *)base;
	size_t n = strlen(s->prefix) + strlen(key);
	if (!*key || *key == '/' || n > 1024)
		return kl_errbuf_set(&base->err, KL_EINVAL, "s3: bad object key \"%.100s\"", key);
	struct kl_store_file *f = calloc(1, sizeof *f);
	if (!f || !(f->key = malloc(n + 1))) {
		free(f);
		return kl_errbuf_set(&base->err, KL_ENOMEM, "s3: out of memory opening %s", key);
	}
	snprintf(f->key, n + 1, "%s%s", s->prefix, key);
	f->s = s;
	/* a deferred commit of this key still on its way: it lands first */
	uint64_t kh;
	hint_of(s, f->key, &kh);
	pthread_mutex_lock(&s->mu);
	int busy = s->defer_slot[kh % DEFER_SLOTS] > 0;
	pthread_mutex_unlock(&s->mu);
	if (busy)
		drain(s);
	kl_buf_init(&f->cur, s->threshold > s->part_size ? s->threshold : s->part_size);
	*out = f;
	return KL_OK;
}

/* Start the multipart upload if needed, then queue every full part (and the
 * rest too when `last`). */
static int flush_parts(struct kl_store_file *f, int last)
{
	struct s3_store *s = f->s;
	if (!f->upload_id) {
		int rc = create_upload(f);
		if (rc)
			return rc;
	}
	while (f->cur.len >= s->part_size || (last && f->cur.len > 0)) {
		struct kl_buf part;
		if (f->cur.len <= s->part_size) {
			part = f->cur;
			kl_buf_init(&f->cur, f->cur.max);
		} else {
			kl_buf_init(&part, 0);
			if (kl_buf_append(&part, f->cur.data, s->part_size)) {
				struct kl_errbuf eb = {{0}, 0};
				return fail(f, kl_errbuf_set(&eb, KL_ENOMEM, "s3: out of memory"),
					    &eb);
			}
			f->cur.len -= s->part_size;
			memmove(f->cur.data, f->cur.data + s->part_size, f->cur.len);
		}
		int rc = submit(f, &part);
		if (rc)
			return rc;
	}
	return KL_OK;
}

static int s3_write(struct kl_store_file *f, const void *p, size_t n)
{
	struct s3_store *s = f->s;
	int rc = file_rc(f);
	const char *c = p;
	while (!rc && n) {
		size_t limit = f->upload_id ? s->part_size : s->threshold;
		size_t room = limit > f->cur.len ? limit - f->cur.len : 0;
		size_t k = n < room ? n : room;
		if (k && kl_buf_append(&f->cur, c, k)) {
			struct kl_errbuf eb = {{0}, 0};
			return fail(f, kl_errbuf_set(&eb, KL_ENOMEM, "s3: out of memory"), &eb);
		}
		c += k;
		n -= k;
		f->bytes += k;
		if (f->cur.len >= limit)
			rc = flush_parts(f, 0);
	}
	return rc;
}

static void file_free(struct kl_store_file *f)
{
	kl_buf_cleanup(&f->cur);
	free(f->parts);
	free(f->upload_id);
	free(f->key);
	free(f);
}

/* Would a PutObject of these bytes get the ETag `etag` (quoted hex, as S3
 * gives it): is it the MD5 of the bytes? 0 also when MD5 is unavailable. */
static int same_etag(const char *etag, const struct kl_buf *b)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	const EVP_MD *md5 = EVP_md5();
	if (!md5 || !EVP_Digest(b->data, b->len, md, &n, md5, NULL) || n != 16)
		return 0;
	char hex[33];
	for (unsigned i = 0; i < n; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	size_t len = strlen(etag);
	if (len == 34 && etag[0] == '"' && etag[33] == '"')
		etag++, len = 32;
	return len == 32 && !strncasecmp(etag, hex, 32);
}

/* Send f's bytes once, under the precondition `expect` (cond_header: NULL
 * none, "" If-None-Match: *, else If-Match); f stays open, so that commit()
 * can send them again with another one. */
static int send_cond(struct kl_store_file *f, const char *expect, char *tag)
{
	int rc = file_rc(f);
	/* Replacing a version with the same bytes by a PutObject would leave
	 * the same ETag (the MD5 of the bytes): a writer that read that ETag
	 * before could then still replace this version, its If-Match matching
	 * again (lease/fence.h: an old owner's late file over the new owner's
	 * replay; commit() below: an abandoned run's late file over its
	 * rewrite). A multipart upload of one part gives the same bytes an
	 * ETag of another form ("<MD5 of the parts' MD5s>-1"), so every
	 * conditional commit of a file below the threshold changes the ETag. */
	if (!rc && !f->upload_id && expect && *expect && f->cur.len && same_etag(expect, &f->cur))
		rc = flush_parts(f, 1);
	if (!rc && !f->upload_id)
		return put_object(f, f->s->http, expect, tag);
	if (!rc)
		rc = flush_parts(f, 1); /* nothing more after the first send */
	int wrc = wait_parts(f);
	rc = rc ? rc : wrc;
	return rc ? rc : complete_upload(f, expect, tag);
}

/* Drop a file's multipart upload, if it has one (parts still queued are
 * skipped, those in flight waited for). */
static void drop_upload(struct kl_store_file *f)
{
	if (f->upload_id) {
		pthread_mutex_lock(&f->s->mu);
		f->cancel = 1;
		pthread_mutex_unlock(&f->s->mu);
		wait_parts(f);
		abort_upload(f);
	}
}

/* The end of every commit: count it or drop its upload; frees f. */
static int commit_end(struct kl_store_file *f, int rc)
{
	struct s3_store *s = f->s;
	if (rc) {
		drop_upload(f);
	} else {
		s->base.files_committed++;
		s->base.bytes_committed += f->bytes;
	}
	file_free(f);
	return rc;
}

/* commit(): replace whatever is under the key now, so that no request of a
 * writer that gave up can undo it later. A request can outlive its writer:
 * a PutObject held up in the network reaches S3 after the run that sent it
 * gave up at its shutdown deadline (exit 75) and after the next run has
 * written the same file again (commit/state.h: a rewrite replaces a file
 * whole, whatever its last record) — unconditional, the old run's shorter
 * file would replace the new one, and its missing records are lost
 * (e2e/fault_shutdown). So commit() sends If-None-Match: * first (the usual
 * case, a new file: one request, as before); when an object is there, it
 * reads its ETag (HeadObject) and sends If-Match on it, again until one
 * lands. A late request carries the precondition its writer saw; every
 * replace since changed the ETag (send_cond: also for the same bytes), so
 * S3 refuses it (412) and changes nothing. A live writer loses no race for
 * good: it looks again and replaces. A key this store committed before is
 * tried with If-Match on that commit's ETag first (hints). Limit: for the same bytes the ETag
 * has two forms, so a request late by two or more rewrites of the very
 * same bytes could match again. A store that answers preconditions with
 * 501 gets plain writes (no_cond). */
#define REPLACE_ROUNDS 8

static int read_obj(struct kl_store *base, const char *key, struct kl_buf *out, char *tag);

static int s3_commit(struct kl_store_file *f)
{
	struct s3_store *s = f->s;
	uint64_t kh;
	struct tag_hint *hint = hint_of(s, f->key, &kh);
	/* what is there: what this store last wrote or read there, if it
	 * did, else "" (no object: a new key, the usual case) */
	char cur[KL_STORE_TAG_MAX] = "", tag[KL_STORE_TAG_MAX] = "";
	if (hint->key == kh)
		memcpy(cur, hint->tag, sizeof cur);
	int rc = KL_ECONFLICT;
	f->replace = 1;
	for (unsigned round = 0; round < REPLACE_ROUNDS && rc == KL_ECONFLICT; round++) {
		if (round) {
			rc = read_obj(&s->base, f->key + strlen(s->prefix), NULL, cur);
			if (rc == KL_ENOTFOUND)
				cur[0] = '\0', rc = KL_OK; /* deleted meanwhile */
			if (rc)
				break;
		}
		rc = send_cond(f, atomic_load(&s->no_cond) ? NULL : cur, tag);
		if (rc == KL_EUNSUPPORTED) {
			atomic_store(&s->no_cond, 1);
			f->replace = 0;
			rc = send_cond(f, NULL, tag);
		}
	}
	/* a key that was there (a rewrite) is likely to be rewritten again: a
	 * state log; a new one (a data file) does not take the slot */
	if (!rc && cur[0])
		hint_put(hint, kh, tag);
	else if (rc && hint->key == kh)
		hint_put(hint, kh, NULL);
	if (rc == KL_ECONFLICT) {
		struct kl_errbuf eb = {{0}, 0};
		f->replace = 0;
		rc = fail(f, kl_errbuf_set(&eb, KL_ECONFLICT,
					   "s3: PutObject s3://%s/%s: the object changed %d times "
					   "while it was being replaced (another writer of this key?)",
					   s->ep.bucket, f->key, REPLACE_ROUNDS),
			  &eb);
	}
	return commit_end(f, rc);
}

/* A store that answered a precondition with 501 once (no_cond) has no
 * conditional writes: later calls fail alike without a request (a caller
 * such as the schema registry then writes plainly; store.h). */
static int s3_commit_if(struct kl_store_file *f, const char *expect, char tag[KL_STORE_TAG_MAX])
{
	struct s3_store *s = f->s;
	int rc;
	if (atomic_load(&s->no_cond)) {
		struct kl_errbuf eb = {{0}, 0};
		rc = fail(f,
			  kl_errbuf_set(&eb, KL_EUNSUPPORTED,
					"s3: PutObject s3://%s/%s: the store has no conditional "
					"writes (it answered 501 NotImplemented to one)",
					s->ep.bucket, f->key),
			  &eb);
	} else if ((rc = send_cond(f, expect ? expect : "", tag)) == KL_EUNSUPPORTED) {
		atomic_store(&s->no_cond, 1);
	}
	return commit_end(f, rc);
}

static void s3_abort(struct kl_store_file *f)
{
	drop_upload(f);
	file_free(f);
}

/* A guarded file's commit where it cannot be a new object only: its
 * version read, the guard asked, that version replaced (store.h:
 * kl_store_commit_guarded); every refusal is KL_ECONFLICT, an answer. A
 * plain file: s3_commit's replace loop. The caller's thread. */
static int commit_now(struct kl_store_file *f)
{
	struct s3_store *s = f->s;
	if (!f->guard)
		return s3_commit(f);
	f->replace = 0; /* commit_if(): only a refused precondition is an answer */
	return kl_store_commit_guarded(&s->base, f, f->key + strlen(s->prefix), f->guard,
				       f->guard_ctx);
}

/* f as deferred job j onto the upload threads' queue (blocks while
 * `concurrency` jobs are in flight). A refused precondition is then an
 * answer, not an error: a redo at sync, or for put_new_deferred() an
 * object that is there already. */
static void queue_deferred(struct s3_store *s, struct part_job *j, struct kl_store_file *f,
			   uint64_t kh)
{
	*j = (struct part_job){NULL, f, 0, {0}, kh, NULL};
	f->replace = 1;
	pthread_mutex_lock(&s->mu);
	s->deferred++;
	s->defer_slot[kh % DEFER_SLOTS]++;
	enqueue(s, j);
	pthread_mutex_unlock(&s->mu);
}

/* commit(), but on an upload thread when f is one small new object
 * (store.h: visible and durable by the next sync()); otherwise, and when no
 * upload thread can be had, commit() itself. Blocks while `concurrency`
 * jobs are in flight. */
static int defer(struct kl_store_file *f)
{
	struct s3_store *s = f->s;
	uint64_t kh;
	struct tag_hint *hint = hint_of(s, f->key, &kh);
	struct kl_errbuf eb = {{0}, 0};
	if (f->upload_id || f->cur.len > DEFER_MAX || atomic_load(&s->no_cond) ||
	    hint->key == kh)
		return commit_now(f); /* large, or a key this store wrote: here */
	int rc = file_rc(f);
	if (rc)
		return commit_end(f, rc);
	struct part_job *j = NULL;
	if ((!s->nthreads && start_workers(s, &eb)) || !(j = calloc(1, sizeof *j)))
		return commit_now(f);
	queue_deferred(s, j, f, kh);
	return KL_OK;
}

/* defer(), numbered: a failure here counts against the sync too, so that
 * it reports only the files before the first that did not land. */
static int s3_commit_deferred(struct kl_store_file *f)
{
	struct s3_store *s = f->s;
	uint64_t ord = f->ord = s->defer_next++;
	int rc = defer(f); /* f may be gone */
	if (rc) {
		pthread_mutex_lock(&s->mu);
		defer_failed(s, ord, rc);
		pthread_mutex_unlock(&s->mu);
	}
	return rc;
}

/* commit_deferred_guarded() (store.h): the upload thread's PutObject with
 * If-None-Match: * replaces nothing, so it needs no guard; an object found
 * there goes through commit_now() at sync, which asks the guard. */
static int s3_commit_deferred_guarded(struct kl_store_file *f, int (*guard)(void *ctx),
				      void *ctx)
{
	f->guard = guard;
	f->guard_ctx = ctx;
	return s3_commit_deferred(f);
}

/* put_new_deferred(): a content-named object by an upload thread, as a
 * deferred commit outside the numbered sequence (store.h). A large one, or
 * a store without conditional writes or upload threads, goes at once. */
static int s3_put_new_deferred(struct kl_store *base, const char *key, const void *p, size_t n,
			       void (*lost)(void *ctx), void *ctx)
{
	struct s3_store *s = (struct s3_store *)base;
	struct part_job *j = NULL;
	struct kl_errbuf eb = {{0}, 0};
	if (n > DEFER_MAX || atomic_load(&s->no_cond) ||
	    (!s->nthreads && start_workers(s, &eb)) || !(j = calloc(1, sizeof *j)))
		return kl_store_put_new(base, key, p, n);
	struct kl_store_file *f;
	int rc = s3_open(base, key, &f);
	if (!rc && n && (rc = s3_write(f, p, n)))
		s3_abort(f);
	if (rc) {
		free(j);
		return rc;
	}
	uint64_t kh;
	hint_of(s, f->key, &kh);
	f->ord = UINT64_MAX; /* not in `landed` */
	f->lost = lost;
	f->lost_ctx = ctx;
	queue_deferred(s, j, f, kh);
	return KL_OK;
}

/* Every deferred commit so far resolved: sent by its upload thread, or (an
 * object was there) by s3_commit here; the first failure stays in
 * deferred_rc for sync(). The caller's thread. */
static void drain(struct s3_store *s)
{
	pthread_mutex_lock(&s->mu);
	while (s->deferred)
		pthread_cond_wait(&s->done, &s->mu);
	struct kl_store_file *redo = s->redo;
	s->redo = NULL;
	s->base.files_committed += s->deferred_files;
	s->base.bytes_committed += s->deferred_bytes;
	s->deferred_files = s->deferred_bytes = 0;
	pthread_mutex_unlock(&s->mu);
	while (redo) {
		struct kl_store_file *next = redo->next_redo;
		uint64_t ord = redo->ord;
		void (*lost)(void *ctx) = redo->lost;
		void *lost_ctx = redo->lost_ctx;
		int rc = commit_now(redo); /* frees it */
		pthread_mutex_lock(&s->mu);
		if (rc)
			defer_failed(s, ord, rc);
		pthread_mutex_unlock(&s->mu);
		if (rc && lost)
			lost(lost_ctx);
		redo = next;
	}
}

/* A completed PutObject / CompleteMultipartUpload is durable: what sync()
 * waits for is the deferred commits, and it fails when one did (its message
 * is the store's err; base.landed counts the deferred files before the
 * first that did not land: those are visible and durable). */
static int s3_sync(struct kl_store *base)
{
	struct s3_store *s = (struct s3_store *)base;
	drain(s);
	pthread_mutex_lock(&s->mu);
	int rc = s->deferred_rc;
	/* a put_new_deferred() (no ordinal) failing alone lands every file */
	base->landed = rc && s->defer_bad < s->defer_next ? s->defer_bad : s->defer_next;
	s->deferred_rc = 0;
	s->defer_next = 0;
	s->defer_bad = UINT64_MAX;
	pthread_mutex_unlock(&s->mu);
	return rc;
}

/* GetObject of key into out, or HeadObject when out is NULL, over h (the
 * caller's thread's s->http, or an upload thread's); the ETag into tag
 * when tag is not NULL. `hint`: also note the ETag in the tag hints, which
 * only the caller's thread may touch (read_obj). */
static int get_object(struct s3_store *s, struct kl_http *h, const char *key, struct kl_buf *out,
		      char *tag, int hint)
{
	struct kl_store *base = &s->base;
	if (out)
		kl_buf_reset(out);
	struct kl_buf full;
	kl_buf_init(&full, 0);
	if (kl_buf_printf(&full, "%s%s", s->prefix, key)) {
		kl_buf_cleanup(&full);
		return KL_ENOMEM;
	}
	struct kl_s3_req req = {out ? "GetObject" : "HeadObject", out ? "GET" : "HEAD", full.data,
				NULL, NULL, 0, NULL, NULL, NULL, 0, 0};
	struct kl_s3_result res;
	struct kl_errbuf eb = {{0}, 0};
	kl_s3_result_init(&res, !out || out->max == SIZE_MAX ? 0 : out->max);
	int rc = kl_s3_call(&s->ep, h, &req, &res, &eb);
	if (rc && res.err.status == 404 && strcmp(res.err.code, "NoSuchBucket") != 0) {
		rc = KL_ENOTFOUND;
	} else if (rc) {
		pthread_mutex_lock(&s->mu);
		kl_errbuf_set(&base->err, rc, "%s", eb.msg);
		pthread_mutex_unlock(&s->mu);
	} else if (!res.resp.etag[0] && tag) {
		rc = KL_EREMOTE;
		pthread_mutex_lock(&s->mu);
		kl_errbuf_set(&base->err, rc, "s3: %s s3://%s/%s: no ETag in the answer", req.op,
			      s->ep.bucket, full.data);
		pthread_mutex_unlock(&s->mu);
	} else {
		uint64_t kh;
		if (hint)
			hint_put(hint_of(s, full.data, &kh), kh, res.resp.etag);
		if (tag)
			snprintf(tag, KL_STORE_TAG_MAX, "%s", res.resp.etag);
	}
	if (!rc && out) {
		struct kl_buf tmp = *out; /* hand the body over, keep out's cap */
		*out = res.resp.body;
		out->max = tmp.max;
		res.resp.body = tmp;
	}
	kl_s3_result_cleanup(&res);
	kl_buf_cleanup(&full);
	return rc;
}

static int read_obj(struct kl_store *base, const char *key, struct kl_buf *out, char *tag)
{
	return get_object((struct s3_store *)base, ((struct s3_store *)base)->http, key, out, tag, 1);
}

/* read_many(): a GetObject per key on the upload threads, `concurrency` at
 * a time (enqueue() waits for room), then waits for the last. */
static int s3_read_many(struct kl_store *base, const char *const *keys, size_t n,
			struct kl_buf *outs, int *rcs)
{
	struct s3_store *s = (struct s3_store *)base;
	struct kl_errbuf eb = {{0}, 0};
	if (!s->nthreads && start_workers(s, &eb)) {
		pthread_mutex_lock(&s->mu);
		kl_errbuf_set(&base->err, eb.code, "%s", eb.msg);
		pthread_mutex_unlock(&s->mu);
		return eb.code;
	}
	struct read_job rd = {keys, outs, rcs, 0};
	pthread_mutex_lock(&s->mu);
	for (size_t i = 0; i < n; i++) {
		struct part_job *j = calloc(1, sizeof *j);
		if (!j) { /* the rest are not read: ENOMEM for each */
			for (size_t k = i; k < n; k++)
				rcs[k] = KL_ENOMEM;
			break;
		}
		*j = (struct part_job){NULL, NULL, (unsigned)(i + 1), {0}, 0, &rd};
		rd.left++;
		enqueue(s, j);
	}
	while (rd.left)
		pthread_cond_wait(&s->done, &s->mu);
	pthread_mutex_unlock(&s->mu);
	return KL_OK;
}

static int s3_read(struct kl_store *base, const char *key, struct kl_buf *out)
{
	return read_obj(base, key, out, NULL);
}

static int s3_read_tag(struct kl_store *base, const char *key, struct kl_buf *out,
		       char tag[KL_STORE_TAG_MAX])
{
	return read_obj(base, key, out, tag);
}

/* ListObjectsV2 under dir, page after page: one level (delimiter '/'), or
 * deep. */
static int list_objects(struct kl_store *base, const char *dir, int deep, kl_store_list_fn fn,
			void *ctx)
{
	struct s3_store *s = (struct s3_store *)base;
	size_t dn = strlen(dir);
	if (dn && (dir[0] == '/' || dir[dn - 1] != '/'))
		return kl_errbuf_set(&base->err, KL_EINVAL, "s3: bad list prefix \"%.100s\"", dir);
	struct kl_buf prefix, q, token;
	kl_buf_init(&prefix, 0);
	kl_buf_init(&q, 0);
	kl_buf_init(&token, 1 << 16);
	struct kl_errbuf eb = {{0}, 0};
	int rc = kl_buf_printf(&prefix, "%s%s", s->prefix, dir);
	int truncated = 1;
	for (unsigned page = 0; !rc && truncated; page++) {
		kl_buf_reset(&q);
		if (token.len) { /* sent back as it came, encoded */
			rc = kl_buf_puts(&q, "continuation-token=");
			rc = rc ? rc : kl_uri_encode(&q, token.data, strlen(token.data), 0);
			rc = rc ? rc : kl_buf_putc(&q, '&');
		}
		rc = rc ? rc : deep ? KL_OK : kl_buf_puts(&q, "delimiter=%2F&");
		rc = rc ? rc : kl_buf_puts(&q, "encoding-type=url&list-type=2&prefix=");
		rc = rc ? rc : kl_uri_encode(&q, prefix.data, prefix.len, 0);
		rc = rc ? rc : kl_buf_putc(&q, '\0');
		if (rc) {
			rc = kl_errbuf_set(&eb, rc, "s3: ListObjectsV2: out of memory");
			break;
		}
		struct kl_s3_req req = {
		    "ListObjectsV2", "GET", NULL, q.data, NULL, 0, NULL, NULL, NULL, 0, 0};
		struct kl_s3_result res;
		kl_s3_result_init(&res, 64 << 20);
		rc = kl_s3_call(&s->ep, s->http, &req, &res, &eb);
		if (!rc) {
			rc = kl_s3_list_page(res.resp.body.data, res.resp.body.len, s->prefix, fn,
					     ctx, &truncated, &token);
			if (rc == KL_EPARSE || rc == KL_ENOMEM)
				kl_errbuf_set(
				    &eb, rc, "s3: ListObjectsV2 s3://%s/%s: %s answer (page %u)",
				    s->ep.bucket, prefix.data,
				    rc == KL_EPARSE ? "malformed" : "too large an", page + 1);
			else if (rc)
				eb.msg[0] = '\0'; /* the caller's own stop */
		}
		kl_s3_result_cleanup(&res);
	}
	if (rc && eb.msg[0]) {
		pthread_mutex_lock(&s->mu);
		kl_errbuf_set(&base->err, rc, "%s", eb.msg);
		pthread_mutex_unlock(&s->mu);
	}
	kl_buf_cleanup(&prefix);
	kl_buf_cleanup(&q);
	kl_buf_cleanup(&token);
	return rc;
}

static int s3_list(struct kl_store *base, const char *dir, kl_store_list_fn fn, void *ctx)
{
	return list_objects(base, dir, 0, fn, ctx);
}

static int s3_list_deep(struct kl_store *base, const char *dir, kl_store_list_fn fn, void *ctx)
{
	return list_objects(base, dir, 1, fn, ctx);
}

static void s3_free(struct kl_store *base)
{
	struct s3_store *s = (struct s3_store *)base;
	if (s->nthreads || s->threads)
		stop_workers(s); /* queued deferred commits are dropped, sent ones end */
	while (s->redo) { /* found an object there, never resolved: not sent */
		struct kl_store_file *next = s->redo->next_redo;
		deferred_drop(s->redo);
		s->redo = next;
	}
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->work);
	pthread_cond_destroy(&s->done);
	kl_http_free(s->http);
	free(s->ep.origin);
	free(s->ep.host);
	free(s->ep.path_base);
	free(s->ep.bucket);
	free(s->ep.region);
	free(s->prefix);
	free(s->sse);
	free(s->sse_kms_key_id);
	free(s->ca_file);
	free(s);
}

static const struct kl_store_ops s3_ops = {
    .open = s3_open,     /* a buffer in memory; nothing is sent yet */
    .write = s3_write,   /* buffers; parts of a large file go to the uploaders */
    .commit = s3_commit, /* PutObject / CompleteMultipartUpload over what is there now */
    .commit_deferred = s3_commit_deferred, /* a small new object: sent by an upload thread */
    .abort = s3_abort,   /* drops the buffer, aborts the multipart upload */
    .sync = s3_sync,     /* waits for the deferred commits (a completed write is durable) */
    .read = s3_read,     /* GetObject */
    .read_many = s3_read_many, /* GetObjects on the upload threads, side by side */
    .list = s3_list,     /* ListObjectsV2 with delimiter '/', every page */
    .list_deep = s3_list_deep, /* ListObjectsV2 without a delimiter: every key below */
    .read_tag = s3_read_tag,   /* GetObject, or HeadObject without out: the ETag */
    .commit_if = s3_commit_if, /* the commit with If-Match / If-None-Match: * */
    .put_new_deferred = s3_put_new_deferred, /* a schema fragment: by an upload thread */
    /* commit_deferred's PutObject (If-None-Match: *); over an object: HEAD, guard, If-Match */
    .commit_deferred_guarded = s3_commit_deferred_guarded,
    .free = s3_free,
};

const char *kl_store_s3_env_endpoint(const struct kl_aws_env *env)
{
	const char *e = kl_aws_env_get(env, "AWS_ENDPOINT_URL_S3");
	return e ? e : kl_aws_env_get(env, "AWS_ENDPOINT_URL");
}

int kl_store_s3_bucket_valid(const char *b, size_t n)
{
	if (n < 3 || n > 63)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((b[i] >= 'a' && b[i] <= 'z') || (b[i] >= '0' && b[i] <= '9') || b[i] == '.' ||
		      b[i] == '-'))
			return 0;
	return 1;
}

static char *dup_or_null(const char *s, int *oom)
{
	char *d = s ? strdup(s) : NULL;
	if (s && !d)
		*oom = 1;
	return d;
}

static char *fmt(int *oom, const char *f, ...) __attribute__((format(printf, 2, 3)));
static char *fmt(int *oom, const char *f, ...)
{
	va_list ap;
	va_start(ap, f);
	char *p = NULL;
	if (vasprintf(&p, f, ap) < 0) {
		p = NULL;
		*oom = 1;
	}
	va_end(ap);
	return p;
}

/* Endpoint: origin, Host and path base for the bucket. */
static int resolve_endpoint(struct s3_store *s, const struct kl_store_s3_opts *o,
			    struct kl_errbuf *eb)
{
	int oom = 0;
	const char *b = s->ep.bucket, *r = s->ep.region;
	if (o->endpoint && *o->endpoint) {
		const char *e = o->endpoint, *hs = strstr(e, "://");
		int https = !strncmp(e, "https://", 8);
		if (!hs || (!https && strncmp(e, "http://", 7)))
			return kl_errbuf_set(eb, KL_EINVAL,
					     "s3: endpoint \"%s\" is not an http(s):// URL", e);
		hs += 3;
		size_t hn = strcspn(hs, "/?#");
		if (hn == 0 || hs[hn] == '?' || hs[hn] == '#')
			return kl_errbuf_set(eb, KL_EINVAL, "s3: bad endpoint \"%s\"", e);
		const char *path = hs + hn;
		size_t pn = strlen(path);
		while (pn && path[pn - 1] == '/')
			pn--;
		size_t hostn = hn;
		const char *dflt = https ? ":443" : ":80";
		if (hn > strlen(dflt) && !strncmp(hs + hn - strlen(dflt), dflt, strlen(dflt)))
			hostn = hn - strlen(dflt);
		s->ep.origin = fmt(&oom, "%.*s", (int)(hs + hn - e), e);
		s->ep.host = fmt(&oom, "%.*s", (int)hostn, hs);
		s->ep.path_base = fmt(&oom, "%.*s/%s", (int)pn, path, b);
	} else if (o->path_style || strchr(b, '.')) {
		/* dotted bucket names do not match the *.s3 TLS certificate */
		s->ep.origin = fmt(&oom, "https://s3.%s.amazonaws.com", r);
		s->ep.host = fmt(&oom, "s3.%s.amazonaws.com", r);
		s->ep.path_base = fmt(&oom, "/%s", b);
	} else {
		s->ep.origin = fmt(&oom, "https://%s.s3.%s.amazonaws.com", b, r);
		s->ep.host = fmt(&oom, "%s.s3.%s.amazonaws.com", b, r);
		s->ep.path_base = fmt(&oom, "%s", "");
	}
	return oom ? kl_errbuf_set(eb, KL_ENOMEM, "s3: out of memory") : KL_OK;
}

static int check_opts(const struct kl_store_s3_opts *o, struct kl_errbuf *eb)
{
	if (!o || !o->region || !*o->region)
		return kl_errbuf_set(eb, KL_EINVAL, "s3: no region (set AWS_REGION)");
	for (const char *p = o->region; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-'))
			return kl_errbuf_set(eb, KL_EINVAL, "s3: bad region \"%s\"", o->region);
	if (!o->creds)
		return kl_errbuf_set(eb, KL_EINVAL, "s3: no credential chain");
	if (o->part_size && (o->part_size < 5 * MIB || o->part_size > MAX_OBJECT))
		return kl_errbuf_set(
		    eb, KL_EINVAL, "s3: part size %zu out of range (5 MiB to 5 GiB)", o->part_size);
	if (o->multipart_threshold > MAX_OBJECT)
		return kl_errbuf_set(eb, KL_EINVAL, "s3: multipart threshold over 5 GiB");
	if (o->concurrency > 64)
		return kl_errbuf_set(eb, KL_EINVAL, "s3: upload concurrency %u over 64",
				     o->concurrency);
	if (o->sse && strcmp(o->sse, "AES256") && strcmp(o->sse, "aws:kms"))
		return kl_errbuf_set(eb, KL_EINVAL,
				     "s3: server-side encryption \"%s\": want AES256 or aws:kms",
				     o->sse);
	if (o->sse_kms_key_id && (!o->sse || strcmp(o->sse, "aws:kms")))
		return kl_errbuf_set(eb, KL_EINVAL, "s3: a KMS key id needs sse aws:kms");
	return KL_OK;
}

int kl_store_s3_new(struct kl_store **out, const char *url, const struct kl_store_s3_opts *o,
		    struct kl_errbuf *eb)
{
	int rc = check_opts(o, eb);
	if (rc)
		return rc;
	if (strncmp(url, "s3://", 5))
		return kl_errbuf_set(eb, KL_EINVAL, "s3: \"%s\" is not an s3://bucket/prefix URL",
				     url);
	const char *b = url + 5;
	size_t bn = strcspn(b, "/");
	if (!kl_store_s3_bucket_valid(b, bn))
		return kl_errbuf_set(eb, KL_EINVAL, "s3: bad bucket name in \"%s\"", url);
	const char *p = b + bn;
	while (*p == '/')
		p++;
	size_t pn = strlen(p);
	while (pn && p[pn - 1] == '/')
		pn--;

	struct s3_store *s = calloc(1, sizeof *s);
	if (!s)
		return kl_errbuf_set(eb, KL_ENOMEM, "s3: out of memory");
	int oom = 0;
	s->ep.bucket = fmt(&oom, "%.*s", (int)bn, b);
	s->ep.region = dup_or_null(o->region, &oom);
	s->prefix = fmt(&oom, "%.*s%s", (int)pn, p, pn ? "/" : "");
	s->sse = dup_or_null(o->sse, &oom);
	s->sse_kms_key_id = dup_or_null(o->sse_kms_key_id, &oom);
	s->ca_file = dup_or_null(o->ca_file, &oom);
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->work, NULL);
	pthread_cond_init(&s->done, NULL);
	s->base.ops = &s3_ops;
	s->defer_bad = UINT64_MAX;
	s->ep.creds = o->creds;
	s->ep.cred_mu = o->creds_mu ? o->creds_mu : &s->mu;
	s->ep.retry = (struct kl_retry_policy){100, 20000, o->max_attempts ? o->max_attempts : 5};
	s->ep.cancel = o->cancel;
	s->ep.meters = o->meters;
	s->threshold = o->multipart_threshold ? o->multipart_threshold : 16 * MIB;
	s->part_size = o->part_size ? o->part_size : 8 * MIB;
	s->concurrency = o->concurrency ? o->concurrency : 4;
	if (oom)
		rc = kl_errbuf_set(eb, KL_ENOMEM, "s3: out of memory");
	if (!rc)
		rc = resolve_endpoint(s, o, eb);
	struct kl_http_opts ho = {.ca_file = s->ca_file};
	if (!rc && !(s->http = kl_http_new(&ho, eb)))
		rc = KL_ENOMEM;
	if (rc) {
		s3_free(&s->base);
		return rc;
	}
	*out = &s->base;
	return KL_OK;
}
