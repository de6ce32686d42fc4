/* retry.c — see retry.h. */
#include "aws/retry.h"

#include <string.h>
#include <time.h>

#include "aws/xml.h"
#include "core/cancel.h"
#include "core/buf.h"
#include "parse/json.h"

static const char *const THROTTLE[] = {
	"ProvisionedThroughputExceededException", "ThrottlingException", "Throttling",
	"ThrottledException", "SlowDown", "RequestLimitExceeded", "TooManyRequestsException",
	"RequestThrottled", "RequestThrottledException", "KMSThrottlingException",
	"EC2ThrottledException", "BandwidthLimitExceeded", "TransactionInProgressException",
	"LimitExceededException", /* Kinesis ListShards/DescribeStream throttling (400) */
	"PriorRequestNotComplete", "InternalError", "InternalFailure", "InternalServerError",
	"ServiceUnavailable", "ServiceUnavailableException", "RequestTimeout",
	"RequestTimeoutException", "IDPCommunicationError", NULL,
};

static const char *const AUTH[] = {
	"InvalidSignatureException", "SignatureDoesNotMatch", "AccessDenied",
	"AccessDeniedException", "UnrecognizedClientException", "ExpiredToken",
	"ExpiredTokenException", "InvalidAccessKeyId", "InvalidClientTokenId", "InvalidToken",
	"MissingAuthenticationToken", "IncompleteSignature", "RequestExpired",
	"RequestTimeTooSkewed", "AuthFailure", "NotAuthorized", "InvalidIdentityToken",
	"KMSAccessDeniedException", NULL,
};

static int in_list(const char *const *l, const char *s)
{
	for (; *l; l++)
		if (strcmp(*l, s) == 0)
			return 1;
	return 0;
}

int kl_retry_is_expired_token(const char *code)
{
	return code && (strcmp(code, "ExpiredToken") == 0 ||
			strcmp(code, "ExpiredTokenException") == 0 ||
			strcmp(code, "RequestExpired") == 0);
}

int kl_retry_classify(enum kl_net net, int status, const char *code)
{
	switch (net) {
	case KL_NET_OK:
		break;
	case KL_NET_TLS:
		return KL_EAUTH;
	case KL_NET_TOO_BIG:
		return KL_EREMOTE;
	case KL_NET_ABORTED:
		return KL_EINTR;
	default:
		return KL_ERETRY;
	}
	if (code && *code) {
		if (in_list(THROTTLE, code))
			return KL_ERETRY;
		if (in_list(AUTH, code))
			return KL_EAUTH;
	}
	if (status >= 200 && status < 400)
		return KL_OK;
	if (status == 429 || status == 408)
		return KL_ERETRY;
	if (status == 401 || status == 403)
		return KL_EAUTH;
	if (status >= 500 && status != 501 && status != 505)
		return KL_ERETRY;
	return KL_EREMOTE;
}

/* "ns#Name:http://..." -> "Name" */
static void set_code(struct kl_aws_error *e, const char *s, size_t n)
{
	const char *colon = memchr(s, ':', n);
	if (colon)
		n = (size_t)(colon - s);
	for (size_t i = n; i > 0; i--) {
		if (s[i - 1] == '#') {
			s += i;
			n -= i;
			break;
		}
	}
	kl_copy_cut(e->code, sizeof e->code, s, n);
}

static void json_string(const struct kl_json_member *m, char *dst, size_t cap, int is_code,
			struct kl_aws_error *e)
{
	char tmp[1024];
	size_t n = m->val_len - 2;
	if (n > sizeof tmp)
		n = sizeof tmp; /* truncation may cut an escape: only after validation */
	size_t k = m->val_esc ? kl_json_unescape(m->val + 1, n, tmp) : n;
	if (!m->val_esc)
		memcpy(tmp, m->val + 1, n);
	if (is_code)
		set_code(e, tmp, k);
	else
		kl_copy_cut(dst, cap, tmp, k);
}

static int parse_json(const char *body, size_t n, struct kl_aws_error *e)
{
	struct kl_json_doc doc;
	struct kl_json_error jerr;
	kl_json_doc_init(&doc);
	if (kl_json_parse(body, n, 64, &doc, &jerr) == 0 && doc.top == KL_JSON_OBJECT) {
		const struct kl_json_member *type = NULL, *code = NULL;
		for (size_t i = 0; i < doc.n; i++) {
			const struct kl_json_member *m = &doc.m[i];
			if (m->type != KL_JSON_STRING || m->val_len > 1024 + 2)
				continue;
			if (kl_json_key_is(m, "__type", 6))
				type = m;
			else if (kl_json_key_is(m, "code", 4) || kl_json_key_is(m, "Code", 4))
				code = m;
			else if (kl_json_key_is(m, "message", 7) || kl_json_key_is(m, "Message", 7))
				json_string(m, e->message, sizeof e->message, 0, e);
		}
		if (!e->code[0] && (type || code))
			json_string(type ? type : code, NULL, 0, 1, e);
	}
	kl_json_doc_cleanup(&doc);
	return e->code[0] ? KL_OK : KL_ENOTFOUND;
}

static void xml_field(const char *body, size_t n, const char *tag, char *dst, size_t cap)
{
	struct kl_buf b;
	kl_buf_init(&b, 4096);
	if (kl_xml_find(body, n, NULL, tag, &b) == KL_OK)
		kl_copy_cut(dst, cap, b.data ? b.data : "", b.len);
	kl_buf_cleanup(&b);
}

int kl_aws_error_parse(const char *body, size_t n, const char *errortype_header,
		       struct kl_aws_error *out)
{
	out->code[0] = out->message[0] = out->request_id[0] = '\0';
	if (errortype_header && *errortype_header)
		set_code(out, errortype_header, strlen(errortype_header));
	size_t i = 0;
	while (i < n && (body[i] == ' ' || body[i] == '\t' || body[i] == '\r' || body[i] == '\n'))
		i++;
	if (i < n && body[i] == '{')
		return parse_json(body, n, out);
	if (i < n && body[i] == '<') {
		if (!out->code[0])
			xml_field(body, n, "Code", out->code, sizeof out->code);
		xml_field(body, n, "Message", out->message, sizeof out->message);
		xml_field(body, n, "RequestId", out->request_id, sizeof out->request_id);
	}
	return out->code[0] ? KL_OK : KL_ENOTFOUND;
}

uint64_t kl_rng_next(struct kl_rng *r)
{
	uint64_t z = (r->s += 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

unsigned kl_retry_backoff_ms(const struct kl_retry_policy *p, unsigned retry, struct kl_rng *rng)
{
	uint64_t ceil = p->base_ms;
	for (unsigned i = 0; i < retry && ceil < p->cap_ms; i++)
		ceil *= 2;
	if (ceil > p->cap_ms)
		ceil = p->cap_ms;
	return (unsigned)(kl_rng_next(rng) % (ceil + 1));
}

static int real_sleep(void *ctx, unsigned ms)
{
	(void)ctx;
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) != 0)
		;
	return 0;
}

int kl_retry_sleep_cancel(void *cancel, unsigned ms)
{
	return kl_cancel_sleep(cancel, ms);
}

int kl_retry_run(const struct kl_retry_policy *p, struct kl_rng *rng, kl_sleep_fn sleep_ms,
		 void *sleep_ctx, kl_retry_attempt_fn attempt, void *ctx, unsigned *attempts)
{
	unsigned max = p->max_attempts ? p->max_attempts : 1, n = 0;
	int rc;
	for (;;) {
		unsigned retry_after = 0;
		rc = attempt(ctx, n++, &retry_after);
		if (rc != KL_ERETRY || n >= max)
			break;
		unsigned d = kl_retry_backoff_ms(p, n, rng);
		if (retry_after > d)
			d = retry_after < p->cap_ms ? retry_after : p->cap_ms;
		if ((sleep_ms ? sleep_ms : real_sleep)(sleep_ctx, d)) {
			rc = KL_EINTR; /* shutting down: no more attempts */
			break;
		}
	}
	if (attempts)
		*attempts = n;
	return rc;
}
