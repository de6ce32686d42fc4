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
};

/* Hash a seekable file's whole content (pread, does not move the offset;
 * the kernel is told the reads are sequential). KL_EINTR with eb set when
 * hooks->stop fired first. `hooks` may be NULL. */
int kl_input_hash_fd(int fd, uint64_t *size, uint64_t *hash, const struct kl_input_hash_hooks *hooks,
		     struct kl_errbuf *eb);

/* The id of a name, as 16 lowercase hex digits + NUL. */
void kl_input_id_of_name(const char *name, char out[17]);
/* A fresh id for an unnamed pipe (time and pid). */
void kl_input_id_fresh(char out[17]);
/* 16 hex digits of a hash. */
void kl_input_id_hex(uint64_t hash, char out[17]);

#endif
