/*
 * store.h — where files go: a small vtable over an object store.
 *
 * Keys are '/'-separated paths relative to the lake root. A file is written
 * in pieces (open → write... → commit) and becomes visible whole or not at
 * all: commit() makes it durable and visible under its key, replacing any
 * previous object of that key; abort() discards it without a trace.
 * sync() makes every commit since the last sync durable as a set (for a
 * local disk: fsync of the directories whose entries changed), so callers
 * can batch many files before recording progress. commit_deferred()
 * (optional) lets sync() do a file's own flush too, so that the flushes
 * of a batch overlap (store_local.c). list() enumerates one
 * level of the key space, as S3's ListObjectsV2 with delimiter '/' does;
 * list_deep() (optional) every key below a prefix at once, read_many()
 * (optional) several objects side by side. put_new_deferred()
 * (optional) sends a small content-named object (a schema fragment) beside
 * the deferred files, landing by the next sync().
 *
 * Implementations: store_local.c (a directory), store_s3.c (s3://bucket/prefix:
 * an object is buffered in memory and sent as one PutObject at commit, or, once
 * it reaches the multipart threshold, as a multipart upload completed at commit
 * and aborted on abort() or on any failure; a completed PUT is durable, so
 * sync() there only waits for the small files commit_deferred() handed to
 * the upload threads, which go up side by side). A commit replaces what is
 * under the key when it looks: a late request of a writer that has given up
 * (held up in the network) never replaces a newer object of the same key
 * (store_s3.c: s3_commit; a local rename cannot arrive late).
 *
 * Conditional writes (read_tag + commit_if, optional): a compare-and-swap
 * on one key, for writers that must not overwrite what another writer put
 * there after they looked (lease/fence.h, commit/state.h). A version tag
 * names one version of an object: S3's ETag (the MD5 of a single PUT's
 * bytes, so two PUTs of the same bytes have the same tag; store_s3's
 * commit_if sends such a repeat as a one-part multipart upload, whose ETag
 * differs, so below the multipart threshold every conditional commit makes
 * a new tag), or, locally,
 * "<device>:<inode>:<size>:<mtime ns>" of the file (every commit renames a
 * new inode into place, so every commit makes a new tag). Only the fenced
 * paths use them; everything else writes as before.
 * Ownership: the store owns its open files; a kl_store_file is freed by
 * commit(), commit_deferred() or abort(), whatever their result.
 */
#ifndef KL_STORE_STORE_H
#define KL_STORE_STORE_H

#include "core/buf.h"
#include "core/err.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

struct kl_store;
struct kl_store_file;

#define KL_STORE_TAG_MAX 128 /* a version tag, NUL included */

/* One entry of a listing: `key` (NUL-terminated, len bytes) is valid during
 * the call only. A non-zero return stops the listing and is what list()
 * returns. */
typedef int (*kl_store_list_fn)(void *ctx, const char *key, size_t len);

struct kl_store_ops {
	/* Start a new object under `key`; nothing is visible before commit(). */
	int (*open)(struct kl_store *s, const char *key, struct kl_store_file **out);
	/* Append bytes to an open object. */
	int (*write)(struct kl_store_file *f, const void *p, size_t n);
	/* Make the object visible whole under its key (replacing any previous
	 * one); frees f whatever the result. */
	int (*commit)(struct kl_store_file *f);
	/* Optional (NULL: callers use commit()). Like commit(), but the object
	 * may become visible only at the next sync() (or earlier, when the
	 * store must: store_local's queue of open files is full, or a new
	 * object of the same key is opened): whole and durable, as after
	 * commit(), or not at all. Frees f whatever the result. An error
	 * shows here or in the next sync(), which then fails; the objects it
	 * concerns are not visible (those of the same sync made visible
	 * before the error stay, whole; `landed` below says which of them the
	 * caller may count as durable). For writers that record progress
	 * only after sync() anyway (pipeline/writer.c); objects that must be
	 * visible on return (state logs, schemas) use commit(); a fenced
	 * writer's files, commit_deferred_guarded() below. */
	int (*commit_deferred)(struct kl_store_file *f);
	/* Discard an open object without a trace; frees f. */
	void (*abort)(struct kl_store_file *f);
	/* Make every commit since the last sync durable as a set, and every
	 * commit_deferred() since then visible and durable first. */
	int (*sync)(struct kl_store *s);
	/* Optional, both or neither (store_local.c): sync() in two steps, so
	 * that a writer can go on with the next files while a set is flushed.
	 * sync_begin() takes the commit_deferred() files so far as the next
	 * set (later ones are not in it; waits while an earlier set is still
	 * claimed). sync_finish(), on any thread, makes that set visible and
	 * durable as sync() would, calls after(ctx, rc) with the result, and
	 * returns after()'s. Until after() returns the set stays claimed: no
	 * later deferred file becomes visible before it (the caller records
	 * the set's progress in after()). One sync_finish() per sync_begin(). */
	int (*sync_begin)(struct kl_store *s);
	int (*sync_finish)(struct kl_store *s, int (*after)(void *ctx, int rc), void *ctx);
	/* Read a whole object into out (reset first). KL_ENOTFOUND if absent. */
	int (*read)(struct kl_store *s, const char *key, struct kl_buf *out);
	/* Call fn once for each entry directly under `dir` ("" = the lake root,
	 * else a key prefix ending in '/'), in no particular order: an object as
	 * its full key, a deeper level once as its full prefix ending in '/'.
	 * A dir with nothing under it lists nothing (KL_OK). Pages (S3) are
	 * followed to the end. Local: names starting with '.' (temporary files)
	 * are not listed, and an empty directory is listed as a prefix, where
	 * S3 has none. */
	int (*list)(struct kl_store *s, const char *dir, kl_store_list_fn fn, void *ctx);
	/* Optional (NULL: walk with list()). Every object under `dir` at any
	 * depth, as its full key, no prefixes, in no particular order: one
	 * request per 1,000 keys where list() needs one per level (S3's
	 * ListObjectsV2 without a delimiter). The schema registry's index. */
	int (*list_deep)(struct kl_store *s, const char *dir, kl_store_list_fn fn, void *ctx);
	/* Optional (NULL: read() one key after another). read() of keys[0..n)
	 * side by side (S3: on the upload threads, as many at once as they
	 * are): outs[i] gets the object's bytes (reset first; its max holds,
	 * KL_ENOMEM above it), rcs[i] what read() would return for keys[i]
	 * (KL_ENOTFOUND if absent; a failure's message in the store's err).
	 * Returns once every read ended: KL_OK, or an error if the reads could
	 * not be started (rcs[] then unset). The caller's thread, as read().
	 * The schema registry's fragments, read at once instead of one round
	 * trip after another. */
	int (*read_many)(struct kl_store *s, const char *const *keys, size_t n,
			 struct kl_buf *outs, int *rcs);
	/* Optional (NULL with commit_if: the store has no conditional writes).
	 * The version tag of the object under `key` into tag; with out != NULL
	 * also its bytes (reset first), of that same version (S3: one GET;
	 * without out, a HEAD). KL_ENOTFOUND if absent. */
	int (*read_tag)(struct kl_store *s, const char *key, struct kl_buf *out,
			char tag[KL_STORE_TAG_MAX]);
	/* Optional, with read_tag. commit() only if the object under f's key is
	 * at version `expect` when the new one would replace it: a tag from
	 * read_tag or from an earlier commit_if, or "" = there must be no
	 * object. KL_ECONFLICT when it is not (another writer replaced or
	 * created it; S3: 412 PreconditionFailed, a 404 for If-Match, or 409
	 * ConditionalRequestConflict when a concurrent conditional write won)
	 * and nothing became visible; an answer, not a failure: the store's
	 * err is left as it was (expect "" on a content-named key: the object
	 * is already there, which is success). KL_EUNSUPPORTED when the
	 * store turns out to have no conditional writes (S3: 501
	 * NotImplemented; store_s3 then fails later calls without a request).
	 * On success the new version's tag goes to tag (may be NULL). Frees f
	 * whatever the result. */
	int (*commit_if)(struct kl_store_file *f, const char *expect, char tag[KL_STORE_TAG_MAX]);
	/* Optional, with read_tag and commit_if (NULL: a guarded writer
	 * commits one file at a time, kl_store_commit_guarded). Like
	 * commit_deferred(), for a writer each of whose files may replace
	 * only the version it read while guard(ctx) still passed (lease/
	 * fence.h; the caller asks guard itself first): f lands either as a
	 * new object, created only where none is (no check needed: such a
	 * write replaces nothing), or, where one turns out to be, by
	 * kl_store_commit_guarded() at the next sync() (or here, for a file
	 * the store will not defer). guard is asked on the caller's thread
	 * only; non-zero means refused: f is dropped, nothing of it becomes
	 * visible, and that sync() (or this call) returns KL_ECONFLICT. A
	 * file whose object was written over after its read is refused the
	 * same way. store_s3: the new objects go up side by side on the
	 * upload threads, one PutObject each. Frees f whatever the result. */
	int (*commit_deferred_guarded)(struct kl_store_file *f, int (*guard)(void *ctx),
				       void *ctx);
	/* Optional (NULL: kl_store_put_new_deferred() writes at once, as
	 * kl_store_put_new()). One whole content-named object (see
	 * kl_store_put_new), created unless one is there, that may land only
	 * by the next sync(): the schema registry's fragments, sent beside the
	 * data files that need them instead of one round trip after another
	 * (store_s3.c). It is no file of the commit_deferred() sequence: it
	 * does not count in `landed`, but if it does not land the next sync()
	 * fails (or the store is freed first), and lost(ctx) is called once,
	 * on any thread, possibly with the store's own locks held: it must
	 * not block nor call the store. The bytes are copied. */
	int (*put_new_deferred)(struct kl_store *s, const char *key, const void *p, size_t n,
				void (*lost)(void *ctx), void *ctx);
	/* Free the store (open files must be committed or aborted first;
	 * deferred commits not yet synced are discarded, never made visible). */
	void (*free)(struct kl_store *s);
};

struct kl_store {
	const struct kl_store_ops *ops;
	struct kl_errbuf err; /* first error of this store */
	uint64_t files_committed;
	uint64_t bytes_committed;
	/* After sync() failed: how many of the commit_deferred() files since the
	 * sync before, counted in the order they were given, are visible and
	 * durable before the first that is not (0: none, or the store cannot
	 * tell). Set by sync() (store_s3.c); the caller's thread reads it. */
	uint64_t landed;
};

/* A write callback for encoders: ctx is a struct kl_store_file *. */
int kl_store_write_cb(void *ctx, const void *p, size_t n);

static inline void kl_store_free(struct kl_store *s)
{
	if (s)
		s->ops->free(s);
}

/* One whole object under a content-named key (its name is a hash of its
 * bytes), written create-only: an object already there holds the same bytes
 * and counts as written. One request where the store has conditional
 * writes (commit_if with ""; a plain commit() over the same bytes costs S3
 * four: HeadObject and a one-part multipart upload, store_s3.c); a store
 * without them, or that turns out to refuse the condition (S3's 501), gets
 * a plain commit. */
static inline int kl_store_put_new(struct kl_store *s, const char *key, const void *p, size_t n)
{
	int rc = KL_EUNSUPPORTED;
	for (int plain = !s->ops->commit_if; plain < 2 && rc == KL_EUNSUPPORTED; plain++) {
		struct kl_store_file *f;
		if ((rc = s->ops->open(s, key, &f)))
			return rc;
		if ((rc = s->ops->write(f, p, n))) {
			s->ops->abort(f);
			return rc;
		}
		rc = plain ? s->ops->commit(f) : s->ops->commit_if(f, "", NULL);
		if (!plain && rc == KL_ECONFLICT) /* there already */
			rc = KL_OK;
	}
	return rc;
}

/* commit() of f (under `key`, relative to s's root) only over the version
 * read while guard(ctx) still passes: read_tag(), then guard (non-zero:
 * refused), then commit_if() of that version. KL_ECONFLICT when guard
 * refused or another writer replaced the object after the read (nothing
 * of f visible; the store's err left as it was); another error of the
 * read or write is the store's (its err). The fenced store (lease/fence.c)
 * and store_s3's guarded deferred commits share it. s has read_tag and
 * commit_if. Frees f whatever the result. */
static inline int kl_store_commit_guarded(struct kl_store *s, struct kl_store_file *f,
					  const char *key, int (*guard)(void *ctx), void *ctx)
{
	char tag[KL_STORE_TAG_MAX] = "";
	int rc = s->ops->read_tag(s, key, NULL, tag);
	if (rc == KL_ENOTFOUND)
		tag[0] = '\0', rc = KL_OK;
	if (!rc && guard(ctx))
		rc = KL_ECONFLICT;
	if (rc) {
		s->ops->abort(f);
		return rc;
	}
	return s->ops->commit_if(f, tag, NULL);
}

/* kl_store_put_new(), landing by the next sync() where the store can
 * (put_new_deferred above; lost(ctx) if it then does not), else at once. */
static inline int kl_store_put_new_deferred(struct kl_store *s, const char *key, const void *p,
					    size_t n, void (*lost)(void *ctx), void *ctx)
{
	if (s->ops->put_new_deferred)
		return s->ops->put_new_deferred(s, key, p, n, lost, ctx);
	return kl_store_put_new(s, key, p, n);
}

/* Local directory store rooted at `root` (created if missing). */
int kl_store_local_new(struct kl_store **out, const char *root, struct kl_errbuf *eb);

/* Directories known to exist, shared by the local stores of one lake in one
 * process (a stream's shards have a store each): a directory one store has
 * made or found costs the others no mkdir. Thread-safe; a hint only saves
 * calls (a directory removed behind the stores' back is made again, as with
 * a store's own set). The owner frees it after every store that uses it. */
struct kl_dir_hints;
struct kl_dir_hints *kl_dir_hints_new(void); /* NULL: out of memory */
void kl_dir_hints_free(struct kl_dir_hints *h);

/* kl_store_local_new() sharing `hints` (borrowed; NULL = none). */
int kl_store_local_new_hinted(struct kl_store **out, const char *root, struct kl_dir_hints *hints,
			      struct kl_errbuf *eb);

/* Remove leftover temporary files (from a crash) under root, in *removed.
 * Local only. Walks the lake only after a crash, or for a lake without
 * _kinlake/writers (store_local.c: crash leftovers). */
int kl_store_local_sweep(const char *root, uint64_t *removed);

/* ---- S3 ---- */

struct kl_cred_chain;
struct kl_aws_env;
struct kl_cancel;

/* Counters an S3 store lends its calls (GET /health and /metrics read them),
 * all borrowed, each NULL = none; the same set goes from kl_store_url_opts
 * to kl_store_s3_opts to every request (store/s3_request.h). */
struct kl_store_meters {
	_Atomic uint64_t *retries;  /* attempts after a call's first */
	/* requests S3 answered (a final status below 500: done, or refused
	 * for good, e.g. 404, 412): progress */
	_Atomic uint64_t *answered;
	_Atomic int64_t *inflight; /* calls under way, retries and waits included: work */
	/* body bytes the calls sent and received, added as they move
	 * (aws/http.h): progress */
	_Atomic uint64_t *moved;
};

struct kl_store_s3_opts {
	const char *region;   /* required, e.g. "us-east-1" */
	/* NULL = AWS: https://<bucket>.s3.<region>.amazonaws.com (virtual-hosted),
	 * or https://s3.<region>.amazonaws.com/<bucket> with path_style (also
	 * forced for bucket names with a '.'). A custom endpoint ("http://host:port",
	 * see kl_store_s3_env_endpoint) always uses path-style addressing. */
	const char *endpoint;
	int path_style;
	size_t multipart_threshold; /* 0 = 16 MiB; at most 5 GiB (the PutObject limit) */
	size_t part_size;           /* 0 = 8 MiB; at least 5 MiB, at most 5 GiB */
	unsigned concurrency;       /* parts and deferred files in flight per store; 0 = 4, at most 64 */
	const char *sse;            /* NULL, "AES256" or "aws:kms" */
	const char *sse_kms_key_id; /* only with "aws:kms"; NULL = the AWS managed key */
	/* Caller-owned, must outlive the store. The store calls it under
	 * creds_mu, or its own lock when creds_mu is NULL (then do not use the
	 * chain elsewhere concurrently). A shared chain + mutex lets every store
	 * and Kinesis client of a process share one set of credentials. */
	struct kl_cred_chain *creds;
	pthread_mutex_t *creds_mu;
	unsigned max_attempts;      /* per request, including the first; 0 = 5 */
	const char *ca_file;        /* NULL = the system CA bundle */
	/* Borrowed, NULL = none. When `cancel` fires (the shutdown deadline,
	 * core/stop.h) requests stop being made or retried, transfers abort and
	 * uploads in flight are aborted with one short AbortMultipartUpload;
	 * calls fail with KL_EINTR. */
	const struct kl_cancel *cancel;
	struct kl_store_meters meters;
};

/* An S3 store for `url` = "s3://bucket[/prefix]"; keys are stored under
 * "prefix/". Every PUT and part carries x-amz-checksum-sha256 (an echoed
 * checksum is verified); requests are SigV4-signed and retried per
 * aws/retry.h; errors name the operation, the key and AWS's code + message.
 * Upload parts are sent by `concurrency` worker threads (each with its own
 * HTTP handle), started on the first multipart upload. */
int kl_store_s3_new(struct kl_store **out, const char *url, const struct kl_store_s3_opts *o,
		    struct kl_errbuf *eb);

/* 1 if b[0..n) is a bucket name kinlake accepts: 3 to 63 of [a-z0-9.-]. */
int kl_store_s3_bucket_valid(const char *b, size_t n);

/* The S3 endpoint the AWS SDKs would use from the environment:
 * AWS_ENDPOINT_URL_S3, else AWS_ENDPOINT_URL, else NULL (AWS itself). */
const char *kl_store_s3_env_endpoint(const struct kl_aws_env *env);

#endif
