/*
 * input_id.h — naming an input: the 16-hex-digit id its state and file
 * names carry (file stems "<id>-<position>", _kinlake/state/<id>.log).
 *
 * A regular file is named by the XXH3 hash of its content, so the same
 * bytes under another path resume the same state and rewrite the same
 * files; an explicit name (--input-id, a stream's "<stream>-<shard>") by
 * the hash of the name; a pipe without a name by a fresh hash per run (it
 * has no identity: nothing is overwritten).
 */
#ifndef KL_SOURCE_INPUT_ID_H
#define KL_SOURCE_INPUT_ID_H

#include "core/err.h"

#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct kl_cancel;

/* What a hash of a large file reports as it goes: `stop` (borrowed, may be
 * NULL) is checked every few MB, so a shutdown does not wait for the rest
 * of a file that may be tens of GB on a cold disk; `tick` (may be NULL) is
 * told the bytes hashed so far, every few MB. */
struct kl_input_hash_hooks {
	const struct kl_cancel *stop;
	void (*tick)(void *ctx, uint64_t done);
	void *ctx;
	/* Optional: also the hash of each prefix at[i] bytes long (offsets in
	 * ascending order; those past the end get 0) into at_hash[i] — the id
	 * the file had when it was that long (a file that grew: pipeline/
	 * ingest.c continues where its ingested prefix ended). */
	const uint64_t *at;
	size_t nat;
	uint64_t *at_hash;
};

/* Hash a seekable file's whole content (pread, does not move the offset;
 * the kernel is told the reads are sequential). KL_EINTR with eb set when
 * hooks->stop fired first. `hooks` may be NULL. */
int kl_input_hash_fd(int fd, uint64_t *size, uint64_t *hash, const struct kl_input_hash_hooks *hooks,
		     struct kl_errbuf *eb);

/* The bytes a file's head hash covers: a file and what it grows into
 * share their head once the first is at least this long. */
#define KL_INPUT_HEAD 4096u

/* The hash of a seekable file's first min(KL_INPUT_HEAD, size) bytes. */
int kl_input_head_hash(int fd, uint64_t *hash, struct kl_errbuf *eb);

/* The mark a file input read to its end leaves in the lake (pipeline/
 * ingest.c: a file that grows), "<size>-<id>": its name into out (cap >=
 * 40), and back. kl_input_mark_parse() takes name[0..len) (no NUL needed)
 * and returns 1 for a mark (size > 0 in decimal without a sign or leading
 * zero, then '-' and an id of 16 lowercase hex digits, nothing else), with
 * *size and id (NUL-terminated) set; 0 for anything else. */
void kl_input_mark_name(char *out, size_t cap, uint64_t size, const char id[17]);
int kl_input_mark_parse(const char *name, size_t len, uint64_t *size, char id[17]);

/* The id of a name, as 16 lowercase hex digits + NUL. */
void kl_input_id_of_name(const char *name, char out[17]);
/* A fresh id for an unnamed pipe (time and pid). */
void kl_input_id_fresh(char out[17]);
/* 16 hex digits of a hash. */
void kl_input_id_hex(uint64_t hash, char out[17]);

#endif
