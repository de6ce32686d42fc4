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

/* Hash a seekable file's whole content (pread, does not move the offset). */
int kl_input_hash_fd(int fd, uint64_t *size, uint64_t *hash, struct kl_errbuf *eb);

/* The id of a name, as 16 lowercase hex digits + NUL. */
void kl_input_id_of_name(const char *name, char out[17]);
/* A fresh id for an unnamed pipe (time and pid). */
void kl_input_id_fresh(char out[17]);
/* 16 hex digits of a hash. */
void kl_input_id_hex(uint64_t hash, char out[17]);

#endif
