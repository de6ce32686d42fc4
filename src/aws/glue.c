/* glue.c — see glue.h. Operations and shapes: the Glue API reference
 * (GetDatabase, CreateDatabase, GetTable, CreateTable, UpdateTable). */
#include "aws/glue.h"
#include "event/event.h" /* kl_json_escape_append */

#include <string.h>

static const struct kl_aws_json_service glue_service = {
    .name = "Glue",			     /* in messages */
    .signing_name = "glue",		     /* SigV4 service */
    .target_prefix = "AWSGlue",		     /* X-Amz-Target: AWSGlue.<Op> */
    .endpoint_env = "AWS_ENDPOINT_URL_GLUE", /* the SDKs' service-specific variable */
    .host_prefix = "glue",		     /* glue.<region>.amazonaws.com */
};

int kl_glue_init(struct kl_glue *g, const char *region, struct kl_errbuf *eb)
{
	kl_buf_init(&g->req, 64u << 20);
	return kl_aws_json_init(&g->c, &glue_service, region, eb);
}

void kl_glue_cleanup(struct kl_glue *g)
{
	kl_aws_json_cleanup(&g->c);
	kl_buf_cleanup(&g->req);
}

/* g->req = {"DatabaseName":db[,"Name":name]} plus `rest` before the '}'. */
static int body(struct kl_glue *g, const char *db_key, const char *db, const char *name_key,
		const char *name, const char *rest, size_t rest_n)
{
	kl_buf_reset(&g->req);
	int rc = kl_buf_printf(&g->req, "{\"%s\":\"", db_key);
	rc = rc ? rc : kl_json_escape_append(&g->req, db, strlen(db));
	rc = rc ? rc : kl_buf_putc(&g->req, '"');
	if (!rc && name) {
		rc = kl_buf_printf(&g->req, ",\"%s\":\"", name_key);
		rc = rc ? rc : kl_json_escape_append(&g->req, name, strlen(name));
		rc = rc ? rc : kl_buf_putc(&g->req, '"');
	}
	if (!rc && rest) {
		rc = kl_buf_puts(&g->req, ",\"TableInput\":");
		rc = rc ? rc : kl_buf_append(&g->req, rest, rest_n);
	}
	return rc ? rc : kl_buf_putc(&g->req, '}');
}

static int call(struct kl_glue *g, const char *op)
{
	return kl_aws_json_call(&g->c, op, g->req.data, g->req.len);
}

static int not_found(const struct kl_glue *g)
{
	return !strcmp(g->c.last.code, "EntityNotFoundException");
}

int kl_glue_ensure_database(struct kl_glue *g, const char *db, int *created)
{
	*created = 0;
	int rc = body(g, "Name", db, NULL, NULL, NULL, 0);
	rc = rc ? rc : call(g, "GetDatabase");
	if (rc == KL_OK || !not_found(g))
		return rc;
	kl_buf_reset(&g->req);
	rc = kl_buf_puts(&g->req, "{\"DatabaseInput\":{\"Name\":\"");
	rc = rc ? rc : kl_json_escape_append(&g->req, db, strlen(db));
	rc = rc ? rc : kl_buf_puts(&g->req, "\",\"Description\":\"kinlake event lake\"}}");
	rc = rc ? rc : call(g, "CreateDatabase");
	if (rc && !strcmp(g->c.last.code, "AlreadyExistsException"))
		return KL_OK; /* created concurrently */
	*created = !rc;
	return rc;
}

int kl_glue_get_table(struct kl_glue *g, const char *db, const char *table)
{
	int rc = body(g, "DatabaseName", db, "Name", table, NULL, 0);
	rc = rc ? rc : call(g, "GetTable");
	return rc && not_found(g) ? KL_ENOTFOUND : rc;
}

int kl_glue_create_table(struct kl_glue *g, const char *db, const char *ti, size_t n)
{
	int rc = body(g, "DatabaseName", db, NULL, NULL, ti, n);
	return rc ? rc : call(g, "CreateTable");
}

int kl_glue_update_table(struct kl_glue *g, const char *db, const char *ti, size_t n)
{
	int rc = body(g, "DatabaseName", db, NULL, NULL, ti, n);
	return rc ? rc : call(g, "UpdateTable");
}
