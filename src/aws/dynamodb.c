/* dynamodb.c — see dynamodb.h. API reference: DynamoDB API version
 * 2012-08-10 (botocore model dynamodb-2012-08-10), protocol awsJson1_0. */
#include "aws/dynamodb.h"
#include "event/event.h" /* kl_json_escape_append */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const struct kl_aws_json_service kl_ddb_service = {
    .name = "DynamoDB",				 /* in messages */
    .signing_name = "dynamodb",			 /* SigV4 service */
    .target_prefix = "DynamoDB_20120810",	 /* X-Amz-Target: DynamoDB_20120810.<Op> */
    .endpoint_env = "AWS_ENDPOINT_URL_DYNAMODB", /* the SDKs' service-specific variable */
    .host_prefix = "dynamodb",			 /* dynamodb.<region>.amazonaws.com */
    .json_version = "1.0",			 /* awsJson1_0 */
};

/* Answers are small (a Scan page is at most 1 MB of items). */
#define REQ_MAX (1u << 20)
#define DEPTH 32

int kl_ddb_init(struct kl_ddb *d, const char *region, struct kl_errbuf *eb)
{
	memset(d, 0, sizeof *d);
	kl_buf_init(&d->req, REQ_MAX);
	int rc = kl_aws_json_init(&d->rpc, &kl_ddb_service, region, eb);
	if (rc)
		kl_buf_cleanup(&d->req);
	return rc;
}

void kl_ddb_cleanup(struct kl_ddb *d)
{
	kl_aws_json_cleanup(&d->rpc);
	kl_buf_cleanup(&d->req);
}

int kl_ddb_call(struct kl_ddb *d, const char *op, const char *body, size_t n)
{
	d->answer = NULL;
	d->answer_len = 0;
	d->code[0] = '\0';
	kl_errbuf_clear(&d->err);
	int rc = kl_aws_json_call(&d->rpc, op, body, n);
	if (rc == KL_OK) {
		d->answer = d->rpc.resp.body.data ? d->rpc.resp.body.data : "{}";
		d->answer_len = d->rpc.resp.body.data ? d->rpc.resp.body.len : 2;
		return KL_OK;
	}
	snprintf(d->code, sizeof d->code, "%s", d->rpc.last.code);
	if (!strcmp(d->code, "ConditionalCheckFailedException"))
		rc = KL_ECONFLICT;
	else if (!strcmp(d->code, "ResourceNotFoundException"))
		rc = KL_ENOTFOUND;
	kl_errbuf_set(&d->err, rc, "%s", d->rpc.err.msg);
	return rc;
}

int kl_ddb_json_str(struct kl_buf *b, const char *s)
{
	int rc = kl_buf_putc(b, '"');
	rc = rc ? rc : kl_json_escape_append(b, s, strlen(s));
	return rc ? rc : kl_buf_putc(b, '"');
}

/* {"TableName":"<table>" — the start every request shares. */
static int begin(struct kl_ddb *d, const char *table)
{
	kl_buf_reset(&d->req);
	int rc = kl_buf_puts(&d->req, "{\"TableName\":");
	return rc ? rc : kl_ddb_json_str(&d->req, table);
}

/* ,"<name>":<fragment> when fragment is set; quoted when `quote`. */
static int member(struct kl_buf *b, const char *name, const char *frag, int quote)
{
	if (!frag)
		return KL_OK;
	int rc = kl_buf_printf(b, ",\"%s\":", name);
	if (rc)
		return rc;
	return quote ? kl_ddb_json_str(b, frag) : kl_buf_puts(b, frag);
}

static int send(struct kl_ddb *d, const char *op, int rc)
{
	rc = rc ? rc : kl_buf_putc(&d->req, '}');
	if (rc) {
		kl_errbuf_clear(&d->err);
		return kl_errbuf_set(&d->err, rc, "DynamoDB %s: request too large", op);
	}
	return kl_ddb_call(d, op, d->req.data, d->req.len);
}

static int str_value(const struct kl_json_member *v, char *out, size_t cap);

int kl_ddb_describe_table(struct kl_ddb *d, const char *table, char *status, size_t cap)
{
	int rc = send(d, "DescribeTable", begin(d, table));
	if (rc)
		return rc;
	struct kl_json_member t, s;
	if (kl_ddb_answer_get(d->answer, d->answer_len, "Table", &t) || t.type != KL_JSON_OBJECT ||
	    !kl_json_object_get(t.val, t.val_len, "TableStatus", &s) ||
	    str_value(&s, status, cap)) {
		kl_errbuf_clear(&d->err);
		return kl_errbuf_set(&d->err, KL_EPARSE, "DynamoDB DescribeTable: no TableStatus");
	}
	return KL_OK;
}

int kl_ddb_create_table(struct kl_ddb *d, const char *table, const char *key_name, int *created)
{
	*created = 0;
	int rc = begin(d, table);
	rc = rc ? rc : kl_buf_puts(&d->req, ",\"AttributeDefinitions\":[{\"AttributeName\":");
	rc = rc ? rc : kl_ddb_json_str(&d->req, key_name);
	rc = rc ? rc
		: kl_buf_puts(&d->req, ",\"AttributeType\":\"S\"}],\"KeySchema\":[{"
				       "\"AttributeName\":");
	rc = rc ? rc : kl_ddb_json_str(&d->req, key_name);
	rc = rc ? rc
		: kl_buf_puts(&d->req, ",\"KeyType\":\"HASH\"}],"
				       "\"BillingMode\":\"PAY_PER_REQUEST\"");
	rc = send(d, "CreateTable", rc);
	if (rc == KL_OK) {
		*created = 1;
		return KL_OK;
	}
	if (!strcmp(d->code, "ResourceInUseException")) {
		kl_errbuf_clear(&d->err);
		return KL_OK;
	}
	return rc;
}

int kl_ddb_scan(struct kl_ddb *d, const char *table, const char *start_key, size_t start_len)
{
	int rc = begin(d, table);
	rc = rc ? rc : kl_buf_puts(&d->req, ",\"ConsistentRead\":true");
	if (start_key && !rc) {
		rc = kl_buf_puts(&d->req, ",\"ExclusiveStartKey\":");
		rc = rc ? rc : kl_buf_append(&d->req, start_key, start_len);
	}
	return send(d, "Scan", rc);
}

static int key_object(struct kl_buf *b, const char *key_name, const char *key)
{
	int rc = kl_buf_putc(b, '{');
	rc = rc ? rc : kl_ddb_json_str(b, key_name);
	rc = rc ? rc : kl_buf_puts(b, ":{\"S\":");
	rc = rc ? rc : kl_ddb_json_str(b, key);
	return rc ? rc : kl_buf_puts(b, "}}");
}

int kl_ddb_get_item(struct kl_ddb *d, const char *table, const char *key_name, const char *key,
		    const char **item, size_t *item_len)
{
	int rc = begin(d, table);
	rc = rc ? rc : kl_buf_puts(&d->req, ",\"ConsistentRead\":true,\"Key\":");
	rc = rc ? rc : key_object(&d->req, key_name, key);
	if ((rc = send(d, "GetItem", rc)))
		return rc;
	struct kl_json_member m;
	rc = kl_ddb_answer_get(d->answer, d->answer_len, "Item", &m);
	if (rc == KL_EPARSE || (rc == KL_OK && m.type != KL_JSON_OBJECT)) {
		kl_errbuf_clear(&d->err);
		return kl_errbuf_set(&d->err, KL_EPARSE, "DynamoDB GetItem: malformed answer");
	}
	if (rc)
		return KL_ENOTFOUND;
	*item = m.val;
	*item_len = m.val_len;
	return KL_OK;
}

static int write_op(struct kl_ddb *d, const char *op, const char *table, const char *item_name,
		    const char *item, const char *update, const char *condition, const char *names,
		    const char *values)
{
	int rc = begin(d, table);
	rc = rc ? rc : member(&d->req, item_name, item, 0);
	rc = rc ? rc : member(&d->req, "UpdateExpression", update, 1);
	rc = rc ? rc : member(&d->req, "ConditionExpression", condition, 1);
	rc = rc ? rc : member(&d->req, "ExpressionAttributeNames", names, 0);
	rc = rc ? rc : member(&d->req, "ExpressionAttributeValues", values, 0);
	return send(d, op, rc);
}

int kl_ddb_put_item(struct kl_ddb *d, const char *table, const char *item, const char *condition,
		    const char *names, const char *values)
{
	return write_op(d, "PutItem", table, "Item", item, NULL, condition, names, values);
}

int kl_ddb_update_item(struct kl_ddb *d, const char *table, const char *key, const char *update,
		       const char *condition, const char *names, const char *values)
{
	return write_op(d, "UpdateItem", table, "Key", key, update, condition, names, values);
}

int kl_ddb_delete_item(struct kl_ddb *d, const char *table, const char *key, const char *condition,
		       const char *names, const char *values)
{
	return write_op(d, "DeleteItem", table, "Key", key, NULL, condition, names, values);
}

/* ---- answers ---- */

int kl_ddb_answer_get(const char *body, size_t n, const char *name, struct kl_json_member *m)
{
	if (!body || kl_json_parse(body, n, DEPTH, NULL, NULL))
		return KL_EPARSE;
	size_t i = 0;
	while (i < n && (body[i] == ' ' || body[i] == '\t' || body[i] == '\r' || body[i] == '\n'))
		i++;
	if (i == n || body[i] != '{')
		return KL_EPARSE;
	return kl_json_object_get(body, n, name, m) ? KL_OK : KL_ENOTFOUND;
}

int kl_ddb_scan_page(const char *body, size_t n, struct kl_json_iter *items, const char **lek,
		     size_t *lek_len)
{
	struct kl_json_member m;
	int rc = kl_ddb_answer_get(body, n, "Items", &m);
	if (rc == KL_EPARSE || (rc == KL_OK && m.type != KL_JSON_ARRAY))
		return KL_EPARSE;
	if (rc == KL_OK)
		kl_json_iter_init(items, m.val, m.val_len);
	else
		kl_json_iter_init(items, "[]", 2);
	*lek = NULL;
	*lek_len = 0;
	if (kl_json_object_get(body, n, "LastEvaluatedKey", &m)) {
		if (m.type != KL_JSON_OBJECT)
			return KL_EPARSE;
		*lek = m.val;
		*lek_len = m.val_len;
	}
	return KL_OK;
}

/* The attribute value object of `name` and, inside it, the member of type
 * `type` ("S", "N", "SS", "L"). */
static int attr(const char *item, size_t n, const char *name, const char *type,
		struct kl_json_member *v)
{
	struct kl_json_member a;
	if (!kl_json_object_get(item, n, name, &a))
		return KL_ENOTFOUND;
	if (a.type != KL_JSON_OBJECT)
		return KL_EPARSE;
	if (!kl_json_object_get(a.val, a.val_len, type, v)) {
		/* {"NULL": true} is a present-but-null attribute: treat as absent */
		struct kl_json_member nul;
		if (kl_json_object_get(a.val, a.val_len, "NULL", &nul))
			return KL_ENOTFOUND;
		return KL_EPARSE;
	}
	return KL_OK;
}

/* A JSON string value, unescaped, into out (NUL-terminated, no NUL inside). */
static int str_value(const struct kl_json_member *v, char *out, size_t cap)
{
	if (v->type != KL_JSON_STRING)
		return KL_EPARSE;
	size_t raw = v->val_len - 2;
	char tmp[KL_DDB_MAX_STR];
	if (raw >= sizeof tmp)
		return KL_ELIMIT;
	size_t len = kl_json_unescape(v->val + 1, raw, tmp);
	if (len >= cap)
		return KL_ELIMIT;
	if (memchr(tmp, '\0', len))
		return KL_EPARSE;
	memcpy(out, tmp, len);
	out[len] = '\0';
	return KL_OK;
}

int kl_ddb_attr_s(const char *item, size_t n, const char *name, char *out, size_t cap)
{
	struct kl_json_member v;
	int rc = attr(item, n, name, "S", &v);
	return rc ? rc : str_value(&v, out, cap);
}

int kl_ddb_attr_n(const char *item, size_t n, const char *name, int64_t *out)
{
	struct kl_json_member v;
	char s[32], *end;
	int rc = attr(item, n, name, "N", &v);
	if (rc)
		return rc;
	if ((rc = str_value(&v, s, sizeof s)))
		return rc == KL_ELIMIT ? KL_EPARSE : rc;
	if (!s[0] || (s[0] != '-' && (s[0] < '0' || s[0] > '9')))
		return KL_EPARSE;
	errno = 0;
	long long x = strtoll(s, &end, 10);
	if (errno || *end)
		return KL_EPARSE; /* fractions and exponents are not counters */
	*out = (int64_t)x;
	return KL_OK;
}

int kl_ddb_attr_strs(const char *item, size_t n, const char *name, char *out, size_t cap,
		     size_t max, size_t *count)
{
	struct kl_json_member v, e;
	*count = 0;
	int list = 0;
	int rc = attr(item, n, name, "SS", &v);
	if (rc == KL_EPARSE) { /* maybe a list: {"L":[{"S":"a"},...]} */
		rc = attr(item, n, name, "L", &v);
		list = 1;
	}
	if (rc)
		return rc;
	if (v.type != KL_JSON_ARRAY)
		return KL_EPARSE;
	struct kl_json_iter it;
	kl_json_iter_init(&it, v.val, v.val_len);
	while (kl_json_iter_next(&it, &e)) {
		if (*count == max)
			return KL_ELIMIT;
		struct kl_json_member s = e;
		if (list &&
		    (e.type != KL_JSON_OBJECT || !kl_json_object_get(e.val, e.val_len, "S", &s)))
			return KL_EPARSE;
		if ((rc = str_value(&s, out + *count * cap, cap)))
			return rc;
		(*count)++;
	}
	return KL_OK;
}
