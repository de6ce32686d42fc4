/* kinesis.c — see kinesis.h. Protocol: awsJson1_1 (botocore model
 * kinesis-2013-12-02, X-Amz-Target "Kinesis_20131202.<Operation>"). */
#include "aws/kinesis.h"
#include "parse/json.h"
#include "parse/num.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct kl_aws_json_service kinesis_service = {
    .name = "Kinesis",				/* in messages */
    .signing_name = "kinesis",			/* SigV4 service */
    .target_prefix = "Kinesis_20131202",	/* X-Amz-Target: Kinesis_20131202.<Op> */
    .endpoint_env = "AWS_ENDPOINT_URL_KINESIS", /* the SDKs' service-specific variable */
    .host_prefix = "kinesis",			/* kinesis.<region>.amazonaws.com */
    .json_version = "1.1",			/* application/x-amz-json-1.1 */
    .recv_buffer = 512 << 10, /* GetRecords answers megabytes: 32 x fewer recv() calls */
};

int kl_kinesis_init(struct kl_kinesis *k, const char *region, struct kl_errbuf *eb)
{
	int rc = kl_aws_json_init(&k->c, &kinesis_service, region, eb);
	k->c.policy.max_attempts = 8; /* shard readers ride out throttling longer */
	return rc;
}

void kl_kinesis_share_creds(struct kl_kinesis *k, struct kl_cred_chain *chain,
			    pthread_mutex_t *mu)
{
	kl_aws_json_share_creds(&k->c, chain, mu);
}

void kl_kinesis_cleanup(struct kl_kinesis *k)
{
	kl_aws_json_cleanup(&k->c);
}

int kl_kinesis_call(struct kl_kinesis *k, const char *op, const char *body, size_t n)
{
	return kl_aws_json_call(&k->c, op, body, n);
}

int64_t kl_kinesis_arrival_ms(const char *num, size_t len)
{
	char s[64];
	double sec;
	if (len >= sizeof s)
		return 0;
	/* once per record: strtod only for the shapes the exact fast path
	 * leaves (parse/num.h gives strtod's double, bit for bit) */
	if (!kl_num_double_fast(num, len, &sec)) {
		memcpy(s, num, len);
		s[len] = '\0';
		sec = strtod(s, NULL);
	}
	return sec > 0 && sec < 253402300800.0 ? (int64_t)(sec * 1000.0 + 0.5) : 0;
}

static int stream_name_ok(const char *s)
{
	size_t n = strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-");
	return n >= 1 && n <= 128 && s[n] == '\0';
}

int kl_kinesis_stream_check(const char *stream, char *why, size_t cap)
{
	if (strncmp(stream, "arn:", 4)) {
		if (stream_name_ok(stream))
			return 0;
		snprintf(why, cap, "a stream name is 1-128 letters, digits, '_', '.' and '-' "
			 "(or give the stream's ARN)");
		return -1;
	}
	/* arn:PARTITION:kinesis:REGION:ACCOUNT:stream/NAME */
	const char *p = stream + 4;
	size_t part = strspn(p, "abcdefghijklmnopqrstuvwxyz-");
	int ok = part >= 3 && !strncmp(p, "aws", 3) && p[part] == ':';
	p += part + 1;
	ok = ok && !strncmp(p, "kinesis:", 8);
	p += ok ? 8 : 0;
	size_t reg = strspn(p, "abcdefghijklmnopqrstuvwxyz0123456789-");
	ok = ok && reg > 0 && p[reg] == ':';
	p += ok ? reg + 1 : 0;
	ok = ok && strspn(p, "0123456789") == 12 && !strncmp(p + 12, ":stream/", 8) &&
	     stream_name_ok(p + 20);
	if (ok)
		return 0;
	snprintf(why, cap, "not a Kinesis stream ARN "
		 "(arn:aws:kinesis:REGION:ACCOUNT:stream/NAME)");
	return -1;
}

const char *kl_kinesis_stream_name(const char *stream)
{
	const char *p = strncmp(stream, "arn:", 4) ? NULL : strstr(stream, ":stream/");
	return p ? p + 8 : stream;
}

/* A member's string bytes into dst; "" when it is absent (have 0) or not a string. */
static void shard_str(char *dst, size_t cap, int have, const struct kl_json_member *m)
{
	if (have && m->type == KL_JSON_STRING)
		kl_copy_cut(dst, cap, m->val + 1, m->val_len - 2);
	else
		dst[0] = '\0';
}

int kl_kinesis_shards_page(const char *b, size_t n, struct kl_buf *token,
			   int (*fn)(void *ctx, const struct kl_kinesis_shard *sh), void *ctx)
{
	struct kl_json_member m, s, f;
	kl_buf_reset(token);
	if (kl_json_parse(b, n, 32, NULL, NULL) || !kl_json_object_get(b, n, "Shards", &m) ||
	    (m.type != KL_JSON_ARRAY && m.type != KL_JSON_NULL))
		return KL_EPARSE;
	struct kl_json_iter it;
	if (m.type == KL_JSON_NULL) /* no shards (as an empty array) */
		kl_json_iter_init(&it, "[]", 2);
	else
		kl_json_iter_init(&it, m.val, m.val_len);
	while (kl_json_iter_next(&it, &s)) {
		if (s.type != KL_JSON_OBJECT || !kl_json_object_get(s.val, s.val_len, "ShardId", &f))
			continue;
		struct kl_kinesis_shard sh;
		shard_str(sh.id, sizeof sh.id, 1, &f);
		int have = kl_json_object_get(s.val, s.val_len, "ParentShardId", &f);
		shard_str(sh.parent, sizeof sh.parent, have, &f);
		have = kl_json_object_get(s.val, s.val_len, "AdjacentParentShardId", &f);
		shard_str(sh.adjacent, sizeof sh.adjacent, have, &f);
		struct kl_json_member range, end;
		/* an open shard has none; kinesis-mock says null */
		sh.closed = kl_json_object_get(s.val, s.val_len, "SequenceNumberRange", &range) &&
			    range.type == KL_JSON_OBJECT &&
			    kl_json_object_get(range.val, range.val_len, "EndingSequenceNumber", &end) &&
			    end.type == KL_JSON_STRING;
		int rc = fn(ctx, &sh);
		if (rc)
			return rc;
	}
	if (kl_json_object_get(b, n, "NextToken", &m) && m.type == KL_JSON_STRING &&
	    kl_buf_append(token, m.val + 1, m.val_len - 2))
		return KL_ENOMEM;
	return KL_OK;
}
