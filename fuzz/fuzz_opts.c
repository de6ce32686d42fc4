/* fuzz_opts.c — libFuzzer target for config/ (the option table that parses
 * ingest flags and KINLAKE_* variables, and its value parsers).
 * Input: NUL-separated tokens. First byte % 3: 0, the tokens are argv; 1,
 * NAME=VALUE environment entries as the Lambda reads them; 2, both, as
 * `kinlake ingest` reads them (flags, then every variable). Invariants: never crash; an
 * error has a message and a success none; every accepted numeric setting is
 * within its entry's bounds; the size and duration parsers never return a
 * value over their documented caps; every accepted setting, written back by
 * kl_opts_format (what --dry-run prints) and parsed again as --NAME=TEXT,
 * gives the same value. */
#include "aws/credentials.h"
#include "config/ingest_cfg.h"
#include "config/opts.h"
#include "fuzz_common.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAXTOK 32

struct fenv {
	char *names[MAXTOK], *vals[MAXTOK];
	int n;
};

static const char *fenv_get(void *ctx, const char *name)
{
	const struct fenv *e = ctx;
	for (int i = 0; i < e->n; i++)
		if (!strcmp(e->names[i], name))
			return e->vals[i];
	return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > 4096)
		return 0;
	char buf[4098];
	memcpy(buf, data + 1, size - 1);
	buf[size - 1] = '\0';
	char *tok[MAXTOK];
	int n = 0;
	for (char *p = buf; n < MAXTOK && p < buf + size - 1; p += strlen(p) + 1)
		tok[n++] = p;

	/* the value parsers on every token */
	for (int i = 0; i < n; i++) {
		size_t sz;
		int64_t ms;
		if (kl_parse_size(tok[i], &sz) == 0)
			REQUIRE(sz <= SIZE_MAX / 2);
		if (kl_parse_ms(tok[i], &ms) == 0)
			REQUIRE(ms >= 0 && ms <= INT64_MAX / 2);
	}

	struct kl_ingest_cfg c;
	memset(&c, 0, sizeof c);
	struct kl_opts p;
	struct kl_errbuf eb;
	kl_errbuf_clear(&eb);
	REQUIRE(kl_opts_init(&p, kl_ingest_cfg_table, kl_ingest_cfg_count, &c, &eb) == KL_OK);
	struct fenv fe = {.n = 0};
	int rc;
	/* 0: flags; 1: the Lambda's variables; 2: `kinlake ingest`, flags then
	 * every variable (a token NAME=VALUE not starting with '-' is a variable) */
	int mode = data[0] % 3;
	if (mode == 0) {
		rc = kl_opts_argv(&p, n, tok, &eb);
		if (rc == KL_OPTS_HELP)
			return 0;
	} else {
		char *flags[MAXTOK];
		int nf = 0;
		for (int i = 0; i < n; i++) {
			char *eq = strchr(tok[i], '=');
			if (!eq || (mode == 2 && tok[i][0] == '-')) {
				if (mode == 2)
					flags[nf++] = tok[i];
				continue;
			}
			*eq = '\0';
			fe.names[fe.n] = tok[i];
			fe.vals[fe.n++] = eq + 1;
		}
		struct kl_aws_env env = {fenv_get, &fe};
		if (mode == 1) {
			p.env_style = 1;
			p.scope = KL_INGEST_CFG_LAMBDA;
			rc = kl_opts_env(&p, &env, &eb);
		} else {
			rc = kl_opts_argv(&p, nf, flags, &eb);
			if (rc == KL_OPTS_HELP)
				return 0;
			rc = rc ? rc : kl_opts_env(&p, &env, &eb);
		}
	}
	REQUIRE((rc == KL_OK) == (eb.code == KL_OK));
	if (rc) {
		REQUIRE(eb.msg[0] != '\0');
		return 0;
	}
	for (size_t i = 0; i < kl_ingest_cfg_count; i++) {
		const struct kl_opt *o = &kl_ingest_cfg_table[i];
		const char *f = (const char *)&c + o->offset;
		if (o->type == KL_OPT_STR && *(const char *const *)f)
			REQUIRE(**(const char *const *)f != '\0');
		if (!(o->min < o->max))
			continue;
		double v = o->type == KL_OPT_SIZE  ? (double)*(const size_t *)f
			   : o->type == KL_OPT_I64 ? (double)*(const int64_t *)f
			   : o->type == KL_OPT_U64 ? (double)*(const uint64_t *)f
			   : o->type == KL_OPT_MS  ? (double)*(const int64_t *)f / 1000
						   : o->min;
		REQUIRE(v >= o->min - 0.001 && v <= o->max + 0.001);
	}
	if (c.compression != KL_COMP_SNAPPY)
		REQUIRE(kl_opt_choice_name(
			    kl_opts_find(&p, offsetof(struct kl_ingest_cfg, compression))->choices,
			    c.compression) != NULL);
	/* the settings as --dry-run writes them parse back to the same values */
	static char text[KL_OPTS_MAX][600];
	char *argv2[KL_OPTS_MAX];
	int n2 = 0;
	for (size_t i = 0; i < kl_ingest_cfg_count && n2 < KL_OPTS_MAX; i++) {
		const struct kl_opt *o = &kl_ingest_cfg_table[i];
		char v[512];
		int w = kl_opts_format(&p, i, v, sizeof v);
		REQUIRE(w >= 0 || o->type == KL_OPT_STR); /* only a long string does not fit */
		if (w <= 0 || (o->type == KL_OPT_FLAG && strcmp(v, "on")))
			continue;
		if (o->type == KL_OPT_FLAG)
			snprintf(text[n2], sizeof text[n2], "--%s", o->name);
		else
			snprintf(text[n2], sizeof text[n2], "--%s=%s", o->name, v);
		argv2[n2] = text[n2];
		n2++;
	}
	struct kl_ingest_cfg c2;
	memset(&c2, 0, sizeof c2);
	struct kl_opts p2;
	REQUIRE(kl_opts_init(&p2, kl_ingest_cfg_table, kl_ingest_cfg_count, &c2, &eb) == KL_OK);
	rc = kl_opts_argv(&p2, n2, argv2, &eb);
	if (rc)
		fprintf(stderr, "written back: %s\n", eb.msg);
	REQUIRE(rc == KL_OK);
	for (size_t i = 0; i < kl_ingest_cfg_count; i++) {
		const struct kl_opt *o = &kl_ingest_cfg_table[i];
		const char *f = (const char *)&c + o->offset, *f2 = (const char *)&c2 + o->offset;
		char v[512];
		if (o->type == KL_OPT_STR) {
			const char *a = *(const char *const *)f, *b = *(const char *const *)f2;
			if (a && kl_opts_format(&p, i, v, sizeof v) > 0)
				REQUIRE(b && !strcmp(a, b));
			continue;
		}
		size_t len = o->type == KL_OPT_SIZE			       ? sizeof(size_t)
			     : o->type == KL_OPT_FLAG || o->type == KL_OPT_CHOICE ? sizeof(int)
										  : 8;
		if (kl_opts_format(&p, i, v, sizeof v) > 0)
			REQUIRE(!memcmp(f, f2, len));
	}
	struct kl_aws_env env = {fenv_get, &fe};
	kl_errbuf_clear(&eb);
	rc = kl_ingest_cfg_check(&p, &env, &eb);
	REQUIRE((rc == KL_OK) == (eb.code == KL_OK));
	return 0;
}
