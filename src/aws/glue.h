/*
 * glue.h — the few AWS Glue Data Catalog calls that `kinlake catalog sync`
 * makes: GetDatabase/CreateDatabase, GetTable, CreateTable, UpdateTable.
 *
 * awsJson1_1 over aws/json_rpc.h: SigV4 service "glue", X-Amz-Target
 * "AWSGlue.<Operation>", endpoint AWS_ENDPOINT_URL_GLUE, else
 * AWS_ENDPOINT_URL, else https://glue.<region>.amazonaws.com; the catalog
 * is the caller's account's (no CatalogId). Request bodies are built here
 * around a caller-built TableInput object (catalog/catalog.h).
 * One struct kl_glue per thread; caller-owned (init/cleanup).
 */
#ifndef KL_AWS_GLUE_H
#define KL_AWS_GLUE_H

#include "aws/json_rpc.h"

struct kl_glue {
	struct kl_aws_json c; /* c.resp.body: the last answer; c.err: the last error */
	struct kl_buf req;
};

int kl_glue_init(struct kl_glue *g, const char *region, struct kl_errbuf *eb);
void kl_glue_cleanup(struct kl_glue *g);

/* Create the database unless it exists; *created tells which. */
int kl_glue_ensure_database(struct kl_glue *g, const char *db, int *created);

/* KL_OK with the GetTable answer ({"Table":{...}}) in g->c.resp.body, or
 * KL_ENOTFOUND when Glue has no such table. */
int kl_glue_get_table(struct kl_glue *g, const char *db, const char *table);

/* CreateTable / UpdateTable with table_input = a TableInput JSON object. */
int kl_glue_create_table(struct kl_glue *g, const char *db, const char *table_input, size_t n);
int kl_glue_update_table(struct kl_glue *g, const char *db, const char *table_input, size_t n);

#endif
