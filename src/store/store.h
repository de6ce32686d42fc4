/*
 * store.h — where files go: a small vtable over an object store.
 *
 * Keys are '/'-separated paths relative to the lake root. A file is written
 * in pieces (open → write... → commit) and becomes visible whole or not at
 * all: commit() makes it durable and visible under its key, replacing any
 * previous object of that key; abort() discards it without a trace.
 * sync() makes every commit since the last sync durable as a set (for a
 * local disk: fsync of the directories whose entries changed), so callers
 * can batch many files before recording progress.
 *
 * Implementations: store_local.c (a directory). S3 comes later.
 * Ownership: the store owns its open files; a kl_store_file is freed by
 * commit() or abort(), whatever their result.
 */
#ifndef KL_STORE_STORE_H
#define KL_STORE_STORE_H

#include "core/buf.h"
#include "core/err.h"

#include <stdint.h>

struct kl_store;
struct kl_store_file;

struct kl_store_ops {
	int (*open)(struct kl_store *s, const char *key, struct kl_store_file **out);
	int (*write)(struct kl_store_file *f, const void *p, size_t n);
	int (*commit)(struct kl_store_file *f);
	void (*abort)(struct kl_store_file *f);
	int (*sync)(struct kl_store *s);
	/* Read a whole object into out (reset first). KL_ENOTFOUND if absent. */
	int (*read)(struct kl_store *s, const char *key, struct kl_buf *out);
	void (*free)(struct kl_store *s);
};

struct kl_store {
	const struct kl_store_ops *ops;
	struct kl_errbuf err; /* first error of this store */
	uint64_t files_committed;
	uint64_t bytes_committed;
};

/* A write callback for encoders: ctx is a struct kl_store_file *. */
int kl_store_write_cb(void *ctx, const void *p, size_t n);

static inline void kl_store_free(struct kl_store *s)
{
	if (s)
		s->ops->free(s);
}

/* Local directory store rooted at `root` (created if missing). */
int kl_store_local_new(struct kl_store **out, const char *root, struct kl_errbuf *eb);

/* Remove leftover temporary files (from a crash) under root. Local only. */
int kl_store_local_sweep(const char *root, uint64_t *removed);

#endif
