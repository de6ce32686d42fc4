/* kinesis.c — see kinesis.h. Protocol: awsJson1_1 (botocore model
 * kinesis-2013-12-02, X-Amz-Target "Kinesis_20131202.<Operation>"). */
#include "aws/kinesis.h"
#include "parse/num.h"

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
