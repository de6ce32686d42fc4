/*
 * fuzz_lambda.c — libFuzzer target for the Lambda event parsers: the
 * handler's dispatch, the Firehose transformation event (firehose.c) and
 * the Kinesis event-source-mapping batch (esm.c), through
 * kl_lambda_app_handle() exactly as `kinlake lambda` calls it, with the
 * ESM path writing JSON lines into a scratch lake: a fresh directory under
 * $TMPDIR (/tmp when unset or empty), removed at exit, so that a run that
 * ends as libFuzzer ends one (-max_total_time, -runs: exit()) leaves
 * nothing; a crash leaves it (tests/run.sh keeps a failed test's TMPDIR).
 *
 * Checks: no crash or sanitizer report; a handled invocation answers a
 * JSON object (kl_json_parse accepts it) and an error names its type; a
 * payload kl_json_parse rejects is always answered as an invalid event,
 * though the Firehose path checks it in the pass that transforms it.
 */
#include "core/buf.h"
#include "core/err.h"
#include "lambda/handler.h"
#include "parse/json.h"

#include "fuzz_common.h"

#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char lake[4096];

static int rm_entry(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
	(void)sb;
	(void)type;
	(void)ftw;
	return remove(path) ? -1 : 0;
}

/* atexit: the scratch lake and everything written into it */
static void rm_lake(void)
{
	if (lake[0] && nftw(lake, rm_entry, 16, FTW_DEPTH | FTW_PHYS))
		perror(lake);
}

/* lake: a new directory $TMPDIR/kl-fuzz-lambda-XXXXXX, removed at exit */
static void make_lake(void)
{
	const char *tmp = getenv("TMPDIR");
	int n = snprintf(lake, sizeof lake, "%s/kl-fuzz-lambda-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	REQUIRE(n > 0 && (size_t)n < sizeof lake);
	REQUIRE(mkdtemp(lake) != NULL);
	REQUIRE(atexit(rm_lake) == 0);
}

static const char *fuzz_env(void *ctx, const char *name)
{
	(void)ctx;
	if (!strcmp(name, "KINLAKE_LAKE"))
		return lake;
	if (!strcmp(name, "KINLAKE_FORMAT"))
		return "jsonl";
	return NULL;
}

static int64_t fixed_now(void *ctx)
{
	(void)ctx;
	return 1764547200000;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct kl_lambda_app app; /* one warm instance for the whole run */
	static int ready;
	struct kl_errbuf eb;
	kl_errbuf_clear(&eb);
	if (!ready) {
		make_lake();
		REQUIRE(kl_lambda_app_init(&app, 1000) == KL_OK);
		struct kl_aws_env env = {fuzz_env, NULL};
		const char *where = NULL;
		REQUIRE(kl_lambda_app_configure(&app, &env, &where, &eb) == KL_OK);
		ready = 1;
	}
	struct kl_lambda_invocation inv;
	memset(&inv, 0, sizeof inv);
	snprintf(inv.request_id, sizeof inv.request_id, "fuzz");
	inv.event = (const char *)data;
	inv.event_len = size;
	inv.clock = (struct kl_lambda_clock){fixed_now, NULL};
	struct kl_buf out;
	kl_buf_init(&out, 0);
	struct kl_lambda_stats st;
	memset(&st, 0, sizeof st);
	const char *type = NULL;
	kl_errbuf_clear(&eb);
	int rc = kl_lambda_app_handle(&app, &inv, &out, &st, &type, &eb);
	if (kl_json_parse((const char *)data, size, 64, NULL, NULL))
		REQUIRE(rc != KL_OK && type && !strcmp(type, KL_LAMBDA_ERR_INVALID));
	if (rc == KL_OK) {
		REQUIRE(out.len > 0);
		REQUIRE(kl_json_parse(out.data, out.len, 64, NULL, NULL) == 0);
	} else {
		REQUIRE(type != NULL && *type);
	}
	kl_buf_cleanup(&out);
	return 0;
}
