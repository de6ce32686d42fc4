/*
 * catalog_internal.h — what catalog.c (planning, DDL) and catalog_glue.c
 * (Glue TableInput, merging GetTable answers) share; not public API.
 * Strings are malloc'd; NULL means out of memory.
 */
#ifndef KL_CATALOG_CATALOG_INTERNAL_H
#define KL_CATALOG_CATALOG_INTERNAL_H

#include "catalog/catalog.h"

#define PARQUET_SERDE "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
#define PARQUET_IN "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
#define PARQUET_OUT "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"
#define JSON_SERDE "org.openx.data.jsonserde.JsonSerDe"
#define TEXT_IN "org.apache.hadoop.mapred.TextInputFormat"
#define TEXT_OUT "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat"

char *kl_catalog_dupn(const char *s, size_t n);
char *kl_catalog_dup0(const char *s);
/* Lower-case the ASCII letters of s in place. */
void kl_catalog_lower(char *s);
/* The kind of a Hive type kinlake writes; KL_COL_UNKNOWN for any other. */
enum kl_col_kind kl_catalog_kind_of(const char *type);
void kl_catalog_cols_free(struct kl_catalog_column *c, size_t n);
/* Append a column (copies name[0..len) and type); KL_OK or KL_ENOMEM. */
int kl_catalog_push_col(struct kl_catalog_column **a, size_t *n, const char *name, size_t len,
			const char *type);
int kl_catalog_push_param(struct kl_catalog_table *t, const char *k, const char *v);
/* Index of the column named exactly `name`, or -1. */
long kl_catalog_find_col(const struct kl_catalog_column *a, size_t n, const char *name);

#endif
