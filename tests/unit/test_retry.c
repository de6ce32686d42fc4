/* test_retry.c — aws/retry: error-body parsing against the Smithy protocol
 * tests (awsJson1_1 errors, restXml errors, S3 unwrapped errors), the
 * retry/fatal classification table, full-jitter backoff bounds and the retry
 * loop with an injected sleep. Corpora: $KL_CORPORA (default ../shared/corpora). */
#include "check.h"
#include "aws/retry.h"
#include "aws/xml.h"
#include "core/cancel.h"
#include "core/clock.h"
#include "core/stop.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

/* Smithy test block fields, read textually: `code: N`, a header value
 * `"Name": "value"`, and `body: """..."""` or `body: "..."` (escapes \n \t \"
 * \\ decoded). Fields are looked up between `from` and `to`. */
static int block_code(const char *from, const char *to)
{
	const char *p = strstr(from, "code: ");
	return p && p < to ? atoi(p + 6) : 0;
}

static char *block_header(const char *from, const char *to, const char *name)
{
	char pat[64];
	snprintf(pat, sizeof pat, "\"%s\": \"", name);
	const char *p = strstr(from, pat);
	if (!p || p >= to)
		return NULL;
	p += strlen(pat);
	const char *e = strchr(p, '"');
	return strndup(p, (size_t)(e - p));
}

static char *block_body(const char *from, const char *to)
{
	const char *p = strstr(from, "body: ");
	if (!p || p >= to)
		return strdup("");
	p += 6;
	if (strncmp(p, "\"\"\"", 3) == 0) {
		const char *e = strstr(p + 3, "\"\"\"");
		return strndup(p + 3, (size_t)(e - p - 3));
	}
	char *out = malloc(strlen(p) + 1);
	size_t o = 0;
	for (p++; *p && *p != '"'; p++) {
		if (*p == '\\' && p[1]) {
			p++;
			out[o++] = *p == 'n' ? '\n' : *p == 't' ? '\t' : *p;
		} else {
			out[o++] = *p;
		}
	}
	out[o] = '\0';
	return out;
}

static int ran, passed;

/* Every test block whose id starts with `prefix` (or equals one of `ids`). */
static void run_smithy(const char *file, const char *prefix)
{
	char path[1024], sub[512];
	snprintf(sub, sizeof sub, "aws-api-specs/smithy-protocol-tests/%s", file);
	check_corpus(path, sizeof path, sub);
	char *text = check_slurp(path, NULL);
	CHECK(text != NULL);
	if (!text)
		return;
	char pat[128];
	snprintf(pat, sizeof pat, "id: \"%s", prefix);
	for (const char *p = strstr(text, pat); p; p = strstr(p + 1, pat)) {
		const char *next = strstr(p + 1, "id: \"");
		const char *to = next ? next : p + strlen(p);
		const char *q = p + 5;
		char id[128];
		snprintf(id, sizeof id, "%.*s", (int)(strchr(q, '"') - q), q);
		int code = block_code(p, to);
		char *hdr = block_header(p, to, "X-Amzn-Errortype");
		char *body = block_body(p, to);
		const char *want = strstr(id, "InvalidGreeting") ? "InvalidGreeting"
				   : strstr(id, "ComplexError")  ? "ComplexError"
				   : strstr(id, "NoErrorWrapping") ? "NoSuchBucket"
								     : "FooError";
		const char *want_msg = strstr(body, "<Message>Hi<") || strstr(body, "\"Hi\"") ? "Hi"
											 : "";
		struct kl_aws_error e;
		int rc = kl_aws_error_parse(body, strlen(body), hdr, &e);
		int ok = rc == KL_OK && strcmp(e.code, want) == 0 && strcmp(e.message, want_msg) == 0;
		if (strstr(body, "<RequestId>foo-id<"))
			ok &= strcmp(e.request_id, "foo-id") == 0;
		if (!ok)
			fprintf(stderr, "%s: code=%d got \"%s\"/\"%s\", want \"%s\"/\"%s\"\n", id, code,
				e.code, e.message, want, want_msg);
		CHECK(ok);
		ran++;
		passed += ok;
		free(hdr);
		free(body);
	}
	free(text);
}

static unsigned slept[16], nslept;
static int fake_sleep(void *ctx, unsigned ms)
{
	(void)ctx;
	if (nslept < 16)
		slept[nslept++] = ms;
	return 0;
}

struct script {
	const int *rcs;
	unsigned n;
};

static int scripted(void *ctx, unsigned attempt, unsigned *retry_after)
{
	struct script *s = ctx;
	*retry_after = attempt == 0 ? 3000 : 0;
	return s->rcs[attempt < s->n ? attempt : s->n - 1];
}

int main(void)
{
	run_smithy("awsJson1_1/errors.smithy", "AwsJson11");
	int json_ran = ran;
	run_smithy("restXml/errors.smithy", "InvalidGreetingError");
	run_smithy("restXml/errors.smithy", "ComplexError");
	run_smithy("restXml/services/s3.smithy", "S3OperationNoErrorWrappingResponse");
	printf("error parsing: smithy awsJson1_1 %d cases, restXml+S3 %d cases; %d/%d passed\n",
	       json_ran, ran - json_ran, passed, ran);
	CHECK_EQ_INT(json_ran, 14);
	CHECK_EQ_INT(ran, 17);

	/* S3 sample from awsdocs/s3/UsingRESTError.md, with entities. */
	const char *s3 = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error>\n  <Code>NoSuchKey</Code>\n"
			 "  <Message>The resource &lt;x&gt; &amp; &#x263A;</Message>\n"
			 "  <Resource>/mybucket/myfoto.jpg</Resource>\n"
			 "  <RequestId>4442587FB7D0A2F9</RequestId>\n</Error>";
	struct kl_aws_error e;
	CHECK_EQ_INT(kl_aws_error_parse(s3, strlen(s3), NULL, &e), KL_OK);
	CHECK_EQ_STR(e.code, "NoSuchKey");
	CHECK_EQ_STR(e.message, "The resource <x> & \xE2\x98\xBA");
	CHECK_EQ_STR(e.request_id, "4442587FB7D0A2F9");
	const char *kin = "{\"__type\":\"ProvisionedThroughputExceededException\","
			  "\"message\":\"Rate exceeded for shard\"}";
	CHECK_EQ_INT(kl_aws_error_parse(kin, strlen(kin), NULL, &e), KL_OK);
	CHECK_EQ_STR(e.code, "ProvisionedThroughputExceededException");
	CHECK_EQ_STR(e.message, "Rate exceeded for shard");
	CHECK_EQ_INT(kl_aws_error_parse("not json", 8, NULL, &e), KL_ENOTFOUND);
	CHECK_EQ_INT(kl_aws_error_parse("{\"__type\":", 10, NULL, &e), KL_ENOTFOUND);
	CHECK_EQ_INT(kl_aws_error_parse("<Error><Code>X", 14, NULL, &e), KL_ENOTFOUND);

	/* Classification table. */
	struct {
		enum kl_net net;
		int status;
		const char *code;
		int want;
	} tab[] = {
		{KL_NET_OK, 200, NULL, KL_OK},
		{KL_NET_OK, 204, "", KL_OK},
		{KL_NET_OK, 400, "ProvisionedThroughputExceededException", KL_ERETRY},
		{KL_NET_OK, 400, "ThrottlingException", KL_ERETRY},
		{KL_NET_OK, 503, "SlowDown", KL_ERETRY},
		{KL_NET_OK, 503, "RequestLimitExceeded", KL_ERETRY},
		{KL_NET_OK, 400, "LimitExceededException", KL_ERETRY},
		{KL_NET_OK, 429, NULL, KL_ERETRY},
		{KL_NET_OK, 500, NULL, KL_ERETRY},
		{KL_NET_OK, 502, NULL, KL_ERETRY},
		{KL_NET_OK, 503, NULL, KL_ERETRY},
		{KL_NET_OK, 504, NULL, KL_ERETRY},
		{KL_NET_OK, 500, "InternalError", KL_ERETRY},
		{KL_NET_OK, 501, NULL, KL_EREMOTE},
		{KL_NET_OK, 400, "InvalidSignatureException", KL_EAUTH},
		{KL_NET_OK, 403, "SignatureDoesNotMatch", KL_EAUTH},
		{KL_NET_OK, 403, "AccessDenied", KL_EAUTH},
		{KL_NET_OK, 400, "UnrecognizedClientException", KL_EAUTH},
		{KL_NET_OK, 400, "ExpiredToken", KL_EAUTH},
		{KL_NET_OK, 403, NULL, KL_EAUTH},
		{KL_NET_OK, 400, "ValidationException", KL_EREMOTE},
		{KL_NET_OK, 404, "NoSuchKey", KL_EREMOTE},
		{KL_NET_OK, 400, "ResourceNotFoundException", KL_EREMOTE},
		{KL_NET_RESET, 0, NULL, KL_ERETRY},
		{KL_NET_TIMEOUT, 0, NULL, KL_ERETRY},
		{KL_NET_CONNECT, 0, NULL, KL_ERETRY},
		{KL_NET_TLS, 0, NULL, KL_EAUTH},
	};
	for (size_t i = 0; i < sizeof tab / sizeof tab[0]; i++) {
		int got = kl_retry_classify(tab[i].net, tab[i].status, tab[i].code);
		if (got != tab[i].want)
			fprintf(stderr, "classify #%zu (%d, %s): %d want %d\n", i, tab[i].status,
				tab[i].code ? tab[i].code : "-", got, tab[i].want);
		CHECK_EQ_INT(got, tab[i].want);
	}
	CHECK(kl_retry_is_expired_token("ExpiredTokenException"));
	CHECK(!kl_retry_is_expired_token("AccessDenied"));

	/* Full jitter: within [0, min(cap, base*2^n)], deterministic per seed. */
	struct kl_retry_policy pol = KL_RETRY_POLICY_DEFAULT;
	struct kl_rng r1, r2;
	kl_rng_seed(&r1, 42);
	kl_rng_seed(&r2, 42);
	unsigned max_seen = 0;
	for (unsigned retry = 1; retry <= 20; retry++) {
		for (int k = 0; k < 200; k++) {
			unsigned d = kl_retry_backoff_ms(&pol, retry, &r1);
			unsigned ceil = retry < 8 ? 100u << retry : 20000;
			if (ceil > 20000)
				ceil = 20000;
			CHECK(d <= ceil);
			CHECK_EQ_INT(d, kl_retry_backoff_ms(&pol, retry, &r2));
			if (d > max_seen)
				max_seen = d;
		}
	}
	CHECK(max_seen > 15000); /* the cap is reached, the jitter spreads */

	/* Retry loop: two retryable failures then success = 3 attempts; the first
	 * failure's Retry-After (3 s) raises that delay. */
	int seq1[] = {KL_ERETRY, KL_ERETRY, KL_OK};
	struct script s = {seq1, 3};
	unsigned attempts = 0;
	CHECK_EQ_INT(kl_retry_run(&pol, &r1, fake_sleep, NULL, scripted, &s, &attempts), KL_OK);
	CHECK_EQ_INT(attempts, 3);
	CHECK_EQ_INT(nslept, 2);
	CHECK_EQ_INT(slept[0], 3000);
	CHECK(slept[1] <= 400);
	int seq2[] = {KL_EAUTH};
	s = (struct script){seq2, 1};
	nslept = 0;
	CHECK_EQ_INT(kl_retry_run(&pol, &r1, fake_sleep, NULL, scripted, &s, &attempts), KL_EAUTH);
	CHECK_EQ_INT(attempts, 1);
	CHECK_EQ_INT(nslept, 0);
	int seq3[] = {KL_ERETRY};
	s = (struct script){seq3, 1};
	pol.max_attempts = 4;
	CHECK_EQ_INT(kl_retry_run(&pol, &r1, fake_sleep, NULL, scripted, &s, &attempts), KL_ERETRY);
	CHECK_EQ_INT(attempts, 4);

	/* Shutdown: a backoff sleep on a token that fires ends the run with
	 * KL_EINTR after the attempt in flight, without sleeping out the
	 * (here 3 s Retry-After) delay; a token that has not fired sleeps. */
	atomic_int fired = 1;
	struct kl_cancel tok = {&fired, -1};
	int64_t t0 = kl_mono_ms();
	CHECK_EQ_INT(kl_retry_run(&pol, &r1, kl_retry_sleep_cancel, &tok, scripted, &s, &attempts),
		     KL_EINTR);
	CHECK_EQ_INT(attempts, 1);
	CHECK(kl_mono_ms() - t0 < 1000);
	atomic_store(&fired, 0);
	t0 = kl_mono_ms();
	CHECK_EQ_INT(kl_cancel_sleep(&tok, 150), 0);
	CHECK(kl_mono_ms() - t0 >= 150);
	/* an fd token: readable = fired, and it wakes a sleeper at once */
	int efd = eventfd(0, EFD_CLOEXEC);
	struct kl_cancel ftok = {NULL, efd};
	CHECK_EQ_INT(kl_cancelled(&ftok), 0);
	uint64_t one = 1;
	CHECK_EQ_INT((int)write(efd, &one, sizeof one), 8);
	t0 = kl_mono_ms();
	CHECK_EQ_INT(kl_cancel_sleep(&ftok, 5000), 1);
	CHECK(kl_mono_ms() - t0 < 1000);
	close(efd);
	CHECK_EQ_INT(kl_cancelled(NULL), 0);

	/* kl_stop: a request fires the request token at once and the deadline
	 * token timeout_ms later; a sleeper on the deadline wakes then. */
	struct kl_stop st;
	CHECK_EQ_INT(kl_stop_start(&st, -1, 200), KL_OK);
	CHECK_EQ_INT(kl_cancelled(kl_stop_requested(&st)), 0);
	kl_stop_request(&st);
	CHECK_EQ_INT(kl_cancel_sleep(kl_stop_requested(&st), 5000), 1);
	CHECK_EQ_INT(kl_stop_expired(&st), 0);
	t0 = kl_mono_ms();
	CHECK_EQ_INT(kl_cancel_sleep(kl_stop_deadline(&st), 5000), 1);
	int64_t waited = kl_mono_ms() - t0;
	CHECK(waited >= 100 && waited < 2000);
	CHECK_EQ_INT(kl_stop_expired(&st), 1);
	kl_stop_cleanup(&st);
	/* a signal fd (here an eventfd standing in for the signalfd) starts it */
	efd = eventfd(0, EFD_CLOEXEC);
	CHECK_EQ_INT(kl_stop_start(&st, efd, 0), KL_OK);
	CHECK_EQ_INT((int)write(efd, &one, sizeof one), 8);
	CHECK_EQ_INT(kl_cancel_sleep(kl_stop_deadline(&st), 5000), 1);
	CHECK_EQ_INT(kl_cancelled(kl_stop_requested(&st)), 1);
	kl_stop_cleanup(&st);
	close(efd);

	/* xml: scoped lookups (used for STS responses). */
	const char *sts = "<R><AssumedRoleUser><Arn>a</Arn></AssumedRoleUser><Credentials>"
			  "<AccessKeyId>ASIA1</AccessKeyId><Expiration>2030-01-01T00:00:00Z"
			  "</Expiration></Credentials></R>";
	struct kl_buf b;
	kl_buf_init(&b, 0);
	CHECK_EQ_INT(kl_xml_find(sts, strlen(sts), "Credentials", "AccessKeyId", &b), KL_OK);
	CHECK_EQ_MEM(b.data, b.len, "ASIA1");
	CHECK_EQ_INT(kl_xml_find(sts, strlen(sts), "Credentials", "Arn", &b), KL_ENOTFOUND);
	CHECK_EQ_INT(kl_xml_find("<a>x", 4, NULL, "a", &b), KL_EPARSE);
	kl_buf_cleanup(&b);
	return check_report("test_retry");
}
