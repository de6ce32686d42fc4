/*
 * lake.h — what `kinlake catalog` learns from a lake: its event types with
 * their union columns, the event_subtype values and first day of each, the
 * dead-letter reasons, and the files' format and compression.
 *
 * This is the catalog's one seam to the lake: columns come only from the
 * schema registry's API (encode/parquet/schema.h), never from parsing its
 * files here; event types, subtypes, days and reasons come from the lake
 * layout (DESIGN.md "Lake layout": events/event_type=<t>/event_subtype=<s>/
 * dt=<d>/hr=<h>/, errors/<reason>/dt=<d>/), listed with the store's list
 * op, so a local directory and an s3:// lake read alike.
 *
 * Ownership: caller-owned (cleanup); types[] and everything they point to
 * live until kl_catalog_lake_cleanup().
 */
#ifndef KL_CATALOG_LAKE_H
#define KL_CATALOG_LAKE_H

#include "catalog/catalog.h"
#include "store/store.h"

struct kl_catalog_lake {
	struct kl_catalog_type *types; /* sorted by escaped directory name */
	size_t n;
	char **reasons; /* dead-letter reasons found under errors/ */
	size_t n_reasons;
	char first_day[11]; /* earliest dt= of the lake, "" if no data */
	/* from the first data / dead-letter file found; -1 if none */
	int format;			/* enum kl_catalog_format */
	const char *compression;	/* "none", "gzip", "zstd" (JSON lines) */
	const char *errors_compression; /* of dead-letter files */
	size_t no_schema;		/* types without a registry entry (common columns only) */
	void *priv;
};

/* Learn what the catalog needs from the lake behind `store`. */
int kl_catalog_lake_load(struct kl_catalog_lake *l, struct kl_store *store, struct kl_errbuf *eb);
void kl_catalog_lake_cleanup(struct kl_catalog_lake *l);

#endif
