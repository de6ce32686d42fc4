/* fuzz_aws_parse.c — libFuzzer target for the aws/ parsers: AWS error bodies
 * (JSON and XML), shared config/credentials files (INI), STS XML and
 * metadata JSON credential responses, the XML leaf lookup, and SigV4
 * canonicalization of arbitrary paths, queries and header values.
 * The first byte picks the parser; the rest is its input.
 * Invariants: never crash; parsed fields are NUL-terminated within their
 * arrays; a signature is always 64 hex digits. */
#include "aws/credentials.h"
#include "aws/retry.h"
#include "aws/sigv4.h"
#include "aws/xml.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int ini_cb(void *ctx, const char *s, const char *k, const char *v)
{
	size_t *n = ctx;
	*n += strlen(s) + strlen(k) + strlen(v);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	const char *p = (const char *)data + 1;
	size_t n = size - 1;
	switch (data[0] % 6) {
	case 0: {
		struct kl_aws_error e;
		kl_aws_error_parse(p, n, n > 4 ? "ns#Type:uri" : NULL, &e);
		if (strlen(e.code) >= sizeof e.code || strlen(e.message) >= sizeof e.message)
			abort();
		kl_retry_classify(KL_NET_OK, 400, e.code);
		break;
	}
	case 1: {
		size_t total = 0;
		kl_ini_parse(p, n, ini_cb, &total, NULL);
		break;
	}
	case 2: {
		struct kl_aws_creds c;
		memset(&c, 0, sizeof c);
		if (kl_sts_parse_credentials(p, n, &c) == KL_OK &&
		    (!c.access_key_id[0] || !c.secret_access_key[0]))
			abort();
		break;
	}
	case 3: {
		struct kl_aws_creds c;
		memset(&c, 0, sizeof c);
		if (kl_metadata_parse_credentials(p, n, &c) == KL_OK &&
		    (!c.access_key_id[0] || !c.secret_access_key[0]))
			abort();
		break;
	}
	case 4: {
		struct kl_buf b;
		kl_buf_init(&b, 1 << 20);
		kl_xml_find(p, n, n & 1 ? "Credentials" : NULL, "Code", &b);
		kl_buf_cleanup(&b);
		break;
	}
	case 5: {
		/* "path\nquery\nheader value\nflags" */
		char *s = malloc(n + 1);
		memcpy(s, p, n);
		s[n] = '\0';
		char *f[4] = {s, "", "", ""};
		for (int i = 1; i < 4; i++) {
			char *nl = strchr(f[i - 1], '\n');
			if (!nl)
				break;
			*nl = '\0';
			f[i] = nl + 1;
		}
		struct kl_sigv4_header h[] = {{"Host", "h"}, {"X-Fuzz", f[2]}, {"x-fuzz", f[1]}};
		struct kl_sigv4_request r = {
			.method = "GET", .path = f[0], .query = f[1], .headers = h, .n_headers = 3,
			.payload = f[3], .payload_len = strlen(f[3]), .region = "r", .service = "s",
			.access_key_id = "A", .secret_access_key = "S", .session_token = f[2],
			.now = 0, .flags = (unsigned)(data[0] >> 3) & 15,
		};
		struct kl_sigv4_result res;
		kl_sigv4_result_init(&res);
		if (kl_sigv4_sign(&r, &res, NULL) == KL_OK && strlen(res.signature) != 64)
			abort();
		kl_sigv4_result_cleanup(&res);
		free(s);
		break;
	}
	}
	return 0;
}
