/* opts.c — see opts.h. */
#include "cli/opts.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int kl_parse_size(const char *s, size_t *out)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (end == s || errno || v < 0 || !isfinite(v))
		return -1;
	static const struct {
		const char *sfx;
		double mul;
	} units[] = {{"", 1},         {"b", 1},           {"k", 1024},       {"kb", 1e3},
		     {"kib", 1024},   {"m", 1048576},     {"mb", 1e6},       {"mib", 1048576},
		     {"g", 1073741824}, {"gb", 1e9},       {"gib", 1073741824}};
	for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
		if (!strcasecmp(end, units[i].sfx)) {
			double b = v * units[i].mul;
			if (b > (double)SIZE_MAX / 2 || b != floor(b))
				return -1;
			*out = (size_t)b;
			return 0;
		}
	return -1;
}

static int parse_ms(const char *s, int64_t *out)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (end == s || errno || v < 0 || !isfinite(v))
		return -1;
	double mul = 1000;
	if (!strcmp(end, "ms"))
		mul = 1;
	else if (!strcmp(end, "m"))
		mul = 60000;
	else if (!strcmp(end, "h"))
		mul = 3600000;
	else if (*end && strcmp(end, "s"))
		return -1;
	*out = (int64_t)(v * mul);
	return 0;
}

static int set(const struct kl_opt *o, void *cfg, const char *v, char *err, size_t errlen)
{
	char *p = (char *)cfg + o->offset;
	char *end;
	switch (o->type) {
	case KL_OPT_STR:
		*(const char **)p = v;
		return 0;
	case KL_OPT_FLAG:
		*(int *)p = 1;
		return 0;
	case KL_OPT_SIZE: {
		size_t s;
		if (kl_parse_size(v, &s)) {
			snprintf(err, errlen,
				 "--%s: '%s' is not a size (examples: 4096, 64KiB, 128MiB, 1GiB)",
				 o->name, v);
			return -1;
		}
		if (o->min < o->max && ((double)s < o->min || (double)s > o->max)) {
			snprintf(err, errlen, "--%s: %s is out of range [%.0f, %.0f] bytes", o->name,
				 v, o->min, o->max);
			return -1;
		}
		*(size_t *)p = s;
		return 0;
	}
	case KL_OPT_U64:
	case KL_OPT_I64: {
		errno = 0;
		long long x = strtoll(v, &end, 10);
		if (end == v || *end || errno || (o->type == KL_OPT_U64 && x < 0) ||
		    (o->min < o->max && ((double)x < o->min || (double)x > o->max))) {
			if (o->min < o->max)
				snprintf(err, errlen, "--%s: '%s' is not an integer in [%.0f, %.0f]",
					 o->name, v, o->min, o->max);
			else
				snprintf(err, errlen, "--%s: '%s' is not a%s integer", o->name, v,
					 o->type == KL_OPT_U64 ? " non-negative" : "n");
			return -1;
		}
		if (o->type == KL_OPT_U64)
			*(uint64_t *)p = (uint64_t)x;
		else
			*(int64_t *)p = x;
		return 0;
	}
	case KL_OPT_DOUBLE: {
		errno = 0;
		double x = strtod(v, &end);
		if (end == v || *end || errno || !isfinite(x) ||
		    (o->min < o->max && (x < o->min || x > o->max))) {
			snprintf(err, errlen, "--%s: '%s' is not a number in [%g, %g]", o->name, v,
				 o->min, o->max);
			return -1;
		}
		*(double *)p = x;
		return 0;
	}
	case KL_OPT_MS: {
		int64_t ms;
		if (parse_ms(v, &ms) || (o->min < o->max && (ms < o->min * 1000 || ms > o->max * 1000))) {
			snprintf(err, errlen, "--%s: '%s' is not a duration (seconds, or 500ms, 5m, 1h)%s",
				 o->name, v, o->min < o->max ? " in range" : "");
			return -1;
		}
		*(int64_t *)p = ms;
		return 0;
	}
	case KL_OPT_CHOICE: {
		const char *c = o->choices;
		size_t vl = strlen(v);
		for (int i = 0; c && *c; i++) {
			const char *bar = strchr(c, '|');
			size_t cl = bar ? (size_t)(bar - c) : strlen(c);
			if (cl == vl && !memcmp(c, v, vl)) {
				*(int *)p = i;
				return 0;
			}
			c = bar ? bar + 1 : c + cl;
		}
		snprintf(err, errlen, "--%s: '%s' is not one of %s", o->name, v, o->choices);
		return -1;
	}
	}
	return -1;
}

int kl_opts_parse(const struct kl_opt *t, size_t n, void *cfg, int argc, char **argv,
		  char *err, size_t errlen)
{
	for (size_t i = 0; i < n; i++)
		if (t[i].def && set(&t[i], cfg, t[i].def, err, errlen)) {
			snprintf(err, errlen, "internal: bad default for --%s", t[i].name);
			return KL_OPTS_ERROR;
		}
	for (int a = 0; a < argc; a++) {
		const char *arg = argv[a];
		if (!strcmp(arg, "--help") || !strcmp(arg, "-h"))
			return KL_OPTS_HELP;
		if (strncmp(arg, "--", 2) != 0) {
			snprintf(err, errlen, "unexpected argument '%s' (options start with --)", arg);
			return KL_OPTS_ERROR;
		}
		const char *name = arg + 2, *eq = strchr(name, '=');
		size_t nl = eq ? (size_t)(eq - name) : strlen(name);
		const struct kl_opt *o = NULL;
		for (size_t i = 0; i < n; i++)
			if (strlen(t[i].name) == nl && !memcmp(t[i].name, name, nl))
				o = &t[i];
		if (!o) {
			snprintf(err, errlen, "unknown option '--%.*s' (see --help)", (int)nl, name);
			return KL_OPTS_ERROR;
		}
		const char *v = NULL;
		if (o->type == KL_OPT_FLAG) {
			if (eq) {
				snprintf(err, errlen, "--%s takes no value", o->name);
				return KL_OPTS_ERROR;
			}
		} else if (eq) {
			v = eq + 1;
		} else if (a + 1 < argc) {
			v = argv[++a];
		} else {
			snprintf(err, errlen, "--%s needs a value (%s)", o->name,
				 o->metavar ? o->metavar : "VALUE");
			return KL_OPTS_ERROR;
		}
		if (set(o, cfg, v, err, errlen))
			return KL_OPTS_ERROR;
	}
	return KL_OPTS_OK;
}

void kl_opts_help(FILE *f, const struct kl_opt *t, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (!t[i].help)
			continue; /* hidden (benchmark and test aids) */
		char left[64];
		snprintf(left, sizeof left, "--%s%s%s", t[i].name, t[i].metavar ? " " : "",
			 t[i].metavar ? t[i].metavar : "");
		fprintf(f, "  %-28s %s", left, t[i].help);
		if (t[i].def && t[i].type != KL_OPT_FLAG)
			fprintf(f, " [default: %s]", t[i].def);
		fputc('\n', f);
	}
}
