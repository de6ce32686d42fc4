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
#include <string.h>

/* The column a Parquet file keeps the members in that got no column of
 * their own (the file reached its column cap, encoder.h KL_PQ_MAX_COLUMNS):
 * per row a JSON object of them, raw keys and minified values in the row's
 * order, or null. Last in the file's schema when present. An event member
 * of this name is always kept there, never as a column, and so is one
 * whose name no column can have (empty, or with a NUL byte). The name is
 * Databricks Auto Loader's for the same idea. */
#define KL_PQ_RESCUE_COLUMN "_rescued_data"

/* Is p[0..n) the rescue column's name? */
static inline int kl_pq_is_rescue_name(const char *p, size_t n)
{
	return n == sizeof KL_PQ_RESCUE_COLUMN - 1 && !memcmp(p, KL_PQ_RESCUE_COLUMN, n);
}

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
	uint64_t seed; /* of the index's hashes (core/seed.h): names come from events */
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
 * Registry: the union schema of each event type, kept in the lake so that
 * any number of writers (threads, processes, hosts; a directory or S3) can
 * add to it at once and none loses another's columns.
 *
 * Layout (keys relative to the lake root; <t> is the event type Hive-escaped
 * as in partition paths, so "" reads as __HIVE_DEFAULT_PARTITION__):
 *   _kinlake/schemas/event_type=<t>/<sha256>.json   fragments (written now)
 *   _kinlake/schemas/<t>.json                       legacy union (read only)
 * A fragment is one registry document,
 *   {"event_type":"<t, decoded>","columns":[{"name":"..","type":".."},...]}\n
 * in canonical bytes (kl_schema_doc_write), named after the SHA-256 of those
 * bytes: fragments are append-only and immutable, writing one twice is
 * harmless, and a reader checks each against its name. Types are Athena's:
 * bigint, double, boolean, string (an all-null column is string).
 *
 * The schema of a type is the union of its fragments and of the legacy
 * object that earlier versions rewrote in place (still read, never
 * written; its "version" and "history" are ignored). Widening as for files.
 * Column order, deterministic for a given set of documents: the common
 * columns first, in the order of the event contract, then the others as
 * they come when the fragments are read by descending column count, ties by
 * name, and the legacy object last. A writer's fragment holds everything it
 * knew plus its file's new columns in first-seen order, so a lake with one
 * writer lists its columns in first-seen order, as before.
 *
 * Why no column is lost: a writer only ever adds a fragment that covers all
 * it has read plus its own file; nothing is rewritten or removed. (Read-
 * merge-rewrite of one object, as before, lost columns when two processes
 * raced.) Fragments of one type grow with each schema change; compaction
 * (removing a fragment that another covers) would be safe but is not done.
 *
 * One struct kl_schema_registry per lake and process, shared by every
 * writer of that lake (all shards of a stream): it caches per event type
 * the fragments already read, so a file whose schema adds nothing costs no
 * store request, and a change costs one list, a read of each fragment not
 * yet seen (plus the legacy object) and one write. A type's first load
 * consults an index instead, one listing of _kinlake/schemas/ for every
 * type, taken at most every 30 s: a type whose directory or legacy object
 * it does not hold is not listed or read (a new type in a new lake costs
 * its write only); from a store that lists deep (store.h list_deep: S3,
 * one request per 1,000 keys) the index holds every fragment's key, so a
 * type's first load lists nothing of its own and reads just its fragments
 * (a run on an existing lake: one listing, not one per type), and so does
 * a later refresh (a wider schema) within those 30 s; without a deep
 * index such a refresh lists the type's fragments but reads the legacy
 * object only if the index holds it. From a store that also reads several
 * keys at once (store.h read_many: S3, on its upload threads) a type's
 * first load on a deep index reads, in one read_many, its own fragments and
 * those of every type the pipeline has named since (kl_schema_registry_expect:
 * the event types of the files it hands the writer), and those types'
 * legacy objects where the index lists them (since session 50): the ~100
 * types of an hour that closes cost a few rounds of requests, not a round
 * trip each. Bytes read ahead outlive a new listing of the index under
 * every fragment key it still holds (a fragment's name is a hash of its
 * bytes), so a type read ahead more than 30 s before its first load still
 * costs no read; a legacy object's bytes do not (it is rewritten in place,
 * by earlier versions): its type's load then reads it again. A
 * fragment written meanwhile by another process is merely not in this
 * writer's fragment; readers union them all.
 *
 * A fragment goes to the store with kl_store_put_new_deferred(): on S3 it
 * travels beside the data files of the writer's batch (an upload thread)
 * and lands by the batch's sync, so a new lake's first files do not wait
 * one round trip per type. That keeps the rule that counts: the batch
 * holding the file that brought the columns records its progress only
 * after that sync, so a crash before it replays the file, which writes the
 * fragment again. (A data file may meanwhile be visible a moment before
 * its columns are registered; a catalog read then lags, no column is
 * lost.) If the fragment does not land, the sync fails and the type's
 * entry is forgotten (store.h lost()): its next merge reads the store
 * again instead of trusting what it had added. Thread-safe: the store
 * requests of one type are serialised (a mutex per type), those of
 * different types run side by side (the shards of a stream, each with its
 * own store, write their first files' fragments at once); the caller owns
 * it (new/free).
 */
struct kl_schema_registry;

struct kl_schema_registry *kl_schema_registry_new(void);
void kl_schema_registry_free(struct kl_schema_registry *r);

/* Make sure the type's union covers `file_schema` (every column, with a
 * kind at least as wide): KL_OK, or the store's error with a message. */
int kl_schema_registry_merge(struct kl_schema_registry *r, struct kl_store *store,
			     const char *event_type, size_t type_len,
			     const struct kl_schema *file_schema, struct kl_errbuf *eb);
/* A hint, from any thread: a file of event type `type_esc` (Hive-escaped,
 * as in a partition key: route/partition.h) is coming. The next type's
 * first load on a deep index reads the fragments of every type so named
 * and not yet read, side by side, with its own (store.h read_many); a
 * store without read_many or list_deep ignores it. Never blocks on a
 * store request. */
void kl_schema_registry_expect(struct kl_schema_registry *r, const char *type_esc, size_t n);
/* Store requests made so far (lists, reads, writes), for tests. */
uint64_t kl_schema_registry_requests(struct kl_schema_registry *r);
/* How long a listing of the registry is trusted (30 s); for tests, which
 * cannot wait that long to see it listed again. */
void kl_schema_registry_set_index_ttl(struct kl_schema_registry *r, int64_t ms);

/* The current union of one event type (decoded name), read afresh from the
 * store into `out` (reset first; caller-owned). A type without any
 * registry document gives an empty schema and KL_OK. A fragment that does
 * not parse or does not match its name is an error (KL_EPARSE/KL_ECORRUPT). */
int kl_schema_registry_load(struct kl_store *store, const char *event_type, size_t type_len,
			    struct kl_schema *out, struct kl_errbuf *eb);

/* The event types that have a registry entry in the lake. */
struct kl_schema_types {
	char **names; /* decoded, NUL-terminated (lens[i] bytes; a name may hold NUL) */
	size_t *lens;
	size_t n;
};
/* List them sorted by bytes (memcmp, shorter first): `out` is filled
 * (caller-owned, kl_schema_types_cleanup). */
int kl_schema_registry_types(struct kl_store *store, struct kl_schema_types *out,
			     struct kl_errbuf *eb);
void kl_schema_types_cleanup(struct kl_schema_types *t);

/* One registry document, canonical bytes (see above) appended to `out`.
 * Names and type must be valid UTF-8 (KL_EINVAL otherwise); any such byte
 * sequence round-trips through kl_schema_doc_read, NUL included. */
int kl_schema_doc_write(struct kl_buf *out, const char *event_type, size_t type_len,
			const struct kl_schema *s);
/* Parse a registry document (fragment or legacy union) with the strict JSON
 * parser (parse/json.h) and add its "columns" to `out` in order, widening.
 * Other members are ignored; an unknown type name reads as string (the
 * widest). KL_EPARSE with a message for anything else malformed. */
int kl_schema_doc_read(const char *p, size_t n, struct kl_schema *out, struct kl_errbuf *eb);
/* Registry type name -> kind (unknown -> STRING). */
enum kl_col_kind kl_col_kind_parse(const char *s, size_t n);

#endif
