/*
 * schema.h — infer one Parquet schema per file from JSON events, and keep
 * the per-event-type union in a registry under <lake>/_kinlake/schemas/.
 *
 * Columns: the common ones first (event_uuid, event_name, created_at,
 * created_datetime, event_type, event_subtype), then payload fields in
 * first-seen order. Types (DESIGN.md "Parquet"): integer -> INT64, other
 * number -> DOUBLE, true/false -> BOOLEAN, string -> STRING, object/array ->
 * STRING holding minified JSON. Widening: INT64+DOUBLE -> DOUBLE; any other
 * conflict -> STRING (non-string values as their JSON text). Null says
 * nothing about type; an all-null column is STRING.
 *
 * Ownership: caller-owned structs with init/cleanup; names live in the
 * schema's own arena and stay valid until the next reset.
 */
#ifndef KL_ENCODE_PARQUET_SCHEMA_H
#define KL_ENCODE_PARQUET_SCHEMA_H

#include "core/buf.h"
#include "encode/parquet/parquet.h"
#include "store/store.h"

#include <stdint.h>

enum kl_col_kind { KL_COL_UNKNOWN, KL_COL_BOOL, KL_COL_INT, KL_COL_DOUBLE, KL_COL_STRING };

struct kl_schema_col {
	size_t name_off, name_len; /* in arena */
	uint64_t hash;
	enum kl_col_kind kind;
};

struct kl_schema {
	struct kl_schema_col *cols;
	size_t n, cap;
	uint32_t *index; /* open addressing: col + 1 */
	size_t index_mask;
	struct kl_buf arena;
	struct kl_pq_column *pq; /* materialised for the writer */
	size_t pq_cap;
};

void kl_schema_init(struct kl_schema *s);
void kl_schema_cleanup(struct kl_schema *s);
void kl_schema_reset(struct kl_schema *s); /* keeps memory */

/* Find or add a column; returns its index or -1 on ENOMEM. */
long kl_schema_col(struct kl_schema *s, const char *name, size_t n);
/* Find a column; -1 if absent. */
long kl_schema_find(const struct kl_schema *s, const char *name, size_t n);
/* Widen column i with a value of JSON type t (enum kl_json_type). */
void kl_schema_observe(struct kl_schema *s, size_t i, int json_type);
static inline const char *kl_schema_name(const struct kl_schema *s, size_t i)
{
	return s->arena.data + s->cols[i].name_off;
}
/* Build the writer's column array (names NUL-terminated in the arena). */
const struct kl_pq_column *kl_schema_columns(struct kl_schema *s);

/* Widening rule for two kinds. */
enum kl_col_kind kl_col_widen(enum kl_col_kind a, enum kl_col_kind b);
const char *kl_col_kind_name(enum kl_col_kind k);

/*
 * Registry: merge a file's schema into _kinlake/schemas/<type>.json of the
 * lake's store (type Hive-escaped). The object holds the union schema and a
 * history of versions; it is rewritten (an atomic store commit) only when
 * the union changes.
 *
 * One struct kl_schema_registry per lake and process, shared by every
 * writer of that lake (all shards of a stream): it caches the union per
 * event type, so a file whose schema adds nothing costs no store request,
 * and a mutex serialises the read-merge-write of one process, so shards
 * cannot lose each other's columns. A merge always starts from the stored
 * object and adds the cached union, so a column that another process's
 * concurrent rewrite dropped comes back with the next change. (Several
 * processes on one lake coordinate through leases in a later issue.)
 * Thread-safe; the caller owns it (new/free).
 */
struct kl_schema_registry;

struct kl_schema_registry *kl_schema_registry_new(void);
void kl_schema_registry_free(struct kl_schema_registry *r);

/* KL_OK or the store's error with a message. `reads` (optional) counts the
 * store reads it made, for tests. */
int kl_schema_registry_merge(struct kl_schema_registry *r, struct kl_store *store,
			     const char *event_type, size_t type_len,
			     const struct kl_schema *file_schema, struct kl_errbuf *eb);
uint64_t kl_schema_registry_reads(struct kl_schema_registry *r);

#endif
