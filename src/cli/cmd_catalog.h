/*
 * cmd_catalog.h — `kinlake catalog ddl|sync`: Athena DDL for a lake, or the
 * same tables created/updated in the Glue Data Catalog (catalog/catalog.h,
 * catalog/lake.h, aws/glue.h). Prints; returns the process exit status.
 */
#ifndef KL_CLI_CMD_CATALOG_H
#define KL_CLI_CMD_CATALOG_H

int kl_cmd_catalog(int argc, char **argv);

#endif
