/*
 * catalog.h — Athena/Glue table definitions for a lake, from its schemas.
 *
 * A pure module: it is given what the lake knows about each event type
 * (union columns with their kinds, the Hive-escaped event_subtype values
 * seen, the first day with data) and builds one table per event type, plus
 * a `dead_letters` table over errors/. The tables render two ways:
 *   - Athena DDL (kl_catalog_ddl): CREATE EXTERNAL TABLE ... with backtick-
 *     quoted names, PARTITIONED BY (event_subtype, dt, hr), the Parquet or
 *     JSON SerDe, LOCATION at the type's prefix and partition projection;
 *   - Glue TableInput JSON (kl_catalog_table_input) for CreateTable /
 *     UpdateTable, with the same columns, keys and parameters.
 * kl_catalog_merge_glue() folds a table that Glue already holds (GetTable
 * answer) into the planned one, so a sync only widens and adds columns and
 * never drops one, and tells whether anything changed.
 *
 * Names (reported, never silently renamed):
 *   - table name = prefix + the event type with A-Z lowered and '-', '.'
 *     and ' ' as '_'; an event type with any other byte outside
 *     [A-Za-z0-9_] (or empty, or over 255 bytes) has no table and is
 *     reported, and so are two event types that map to one name;
 *   - column names are lowered (Glue stores them lower-case, Athena matches
 *     Parquet columns case-insensitively); two columns equal but for case
 *     are reported and only the first is kept; a name Athena cannot hold
 *     (empty, over 255 bytes, control bytes, '`', '.' or ':') is reported
 *     and left out; payload columns named like a partition key (dt, hr) are
 *     reported and left out. The data column event_subtype is left out
 *     without a report: it is the partition key, with the same value;
 *   - a type whose union has more columns than max_columns (files are
 *     capped one by one, and keys made from data differ from file to file)
 *     keeps the first ones and KL_PQ_RESCUE_COLUMN; the rest are reported
 *     in one line and left out (the statement must stay under Athena's
 *     256 KiB; they are still in the files).
 *
 * Projection: dt is a date (yyyy-MM-dd, from the type's first day to NOW),
 * hr an integer 0-23 of two digits, event_subtype an enum of the values seen
 * (default) or `injected` — see docs/catalog.md for the trade-off.
 *
 * Ownership: struct kl_catalog is caller-owned (init/cleanup) and owns all
 * its strings; the inputs are only read during kl_catalog_build().
 */
#ifndef KL_CATALOG_CATALOG_H
#define KL_CATALOG_CATALOG_H

#include "core/buf.h"
#include "core/err.h"
#include "encode/parquet/schema.h"

#include <stddef.h>

enum kl_catalog_format { KL_CATALOG_PARQUET, KL_CATALOG_JSONL };
enum kl_catalog_subtypes { KL_CATALOG_SUBTYPE_ENUM, KL_CATALOG_SUBTYPE_INJECTED };

/* One registry column. */
struct kl_catalog_col {
	const char *name;
	size_t len;
	enum kl_col_kind kind;
};

/* What the lake knows about one event type. */
struct kl_catalog_type {
	const char *name; /* the raw event type (not escaped) */
	size_t len;
	const struct kl_catalog_col *cols;
	size_t n_cols;
	const char *const *subtypes; /* Hive-escaped directory values */
	size_t n_subtypes;
	const char *first_day; /* "YYYY-MM-DD", or NULL: opts.first_day */
};

struct kl_catalog_opts {
	const char *database;	  /* [a-z0-9_]{1,255}; NULL = "kinlake" */
	const char *location;	  /* lake root URL (s3://bucket/prefix); trailing '/' ignored */
	const char *table_prefix; /* NULL = "" */
	enum kl_catalog_format format;
	const char *compression; /* JSON lines: "gzip", "zstd" or "none" (noted) */
	enum kl_catalog_subtypes subtypes;
	const char *first_day;	    /* projection start when a type has none */
	int dead_letters;	    /* also a dead_letters table over errors/ */
	const char *const *reasons; /* dead-letter reasons (enum projection) */
	size_t n_reasons;
	const char *errors_compression; /* of dead-letter files; NULL = compression */
	size_t max_columns; /* data columns of a table at most, as ingest's --max-columns
			     * caps a file's (encoder.h); 0 = KL_PQ_MAX_COLUMNS */
};

struct kl_catalog_column {
	char *name; /* lower-case */
	char *type; /* Hive type: bigint, double, boolean, string, or Glue's own */
};

struct kl_catalog_param {
	char *key, *value;
};

struct kl_catalog_table {
	char *name;	  /* Glue table name */
	char *event_type; /* raw event type; NULL for dead_letters */
	char *location;	  /* ends with '/' */
	enum kl_catalog_format format;
	struct kl_catalog_column *cols, *parts;
	size_t n_cols, n_parts;
	struct kl_catalog_param *params;
	size_t n_params;
};

struct kl_catalog {
	char database[256];
	struct kl_catalog_table *t;
	size_t n, cap;
	struct kl_buf problems; /* one line per reported name problem; NUL-terminated */
	size_t n_problems;
};

void kl_catalog_init(struct kl_catalog *c);
void kl_catalog_cleanup(struct kl_catalog *c);

/* Plan the tables. Name problems are collected in c->problems (the tables
 * without problems are still built); the return value is KL_OK, KL_EINVAL
 * for bad options (message in eb) or KL_ENOMEM. */
int kl_catalog_build(struct kl_catalog *c, const struct kl_catalog_opts *o,
		     const struct kl_catalog_type *types, size_t n, struct kl_errbuf *eb);

/* Append the Athena DDL of every table (CREATE DATABASE first). */
int kl_catalog_ddl(const struct kl_catalog *c, struct kl_buf *out);

/* Append the Glue TableInput JSON object of one table. */
int kl_catalog_table_input(const struct kl_catalog_table *t, struct kl_buf *out);

/* The Hive type of a registry kind: bigint, double, boolean or string. */
const char *kl_catalog_hive_type(enum kl_col_kind k);

/*
 * Fold the table Glue holds (a GetTable response: {"Table":{...}}) into t:
 * Glue's columns keep their order and are widened to the planned kind
 * (bigint+double -> double, other conflicts -> string, a type kinlake does
 * not write is kept as is); planned columns Glue lacks are appended; no
 * column is dropped. Glue's table parameters that kinlake does not set are
 * kept. *changed is 1 when t now differs from what Glue holds (columns,
 * partition keys, location, format, kinlake's parameters).
 * KL_EPARSE if the answer is not a GetTable document, KL_ENOMEM.
 */
int kl_catalog_merge_glue(struct kl_catalog_table *t, const char *json, size_t n, int *changed,
			  struct kl_errbuf *eb);

#endif
