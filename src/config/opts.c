/* opts.c — see opts.h. */
#include "config/opts.h"

#include "aws/credentials.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* --- value parsers ---------------------------------------------------------- */

/* A plain decimal number: digits with an optional fraction; no sign, no
 * spaces, no hex, no "inf"/"nan" (strtod would take all of those). */
static int decimal(const char *s, double *v, char **end)
{
	if (!((*s >= '0' && *s <= '9') || (*s == '.' && s[1] >= '0' && s[1] <= '9')))
		return -1;
	errno = 0;
	*v = strtod(s, end);
	for (const char *p = s; p < *end; p++) /* no hex ("0x10"), no "0x1p3" */
		if (!((*p >= '0' && *p <= '9') || *p == '.' || *p == 'e' || *p == 'E' ||
		      *p == '+' || *p == '-'))
			return -1;
	if (*end == s || !isfinite(*v))
		return errno == ERANGE ? -2 : -1;
	return errno == ERANGE ? -2 : 0;
}

int kl_parse_size(const char *s, size_t *out)
{
	static const struct {
		const char *sfx;
		double mul;
	} units[] = {{"", 1},		{"b", 1},	{"k", 1024},	    {"kb", 1e3},
		     {"kib", 1024},	{"m", 1048576}, {"mb", 1e6},	    {"mib", 1048576},
		     {"g", 1073741824}, {"gb", 1e9},	{"gib", 1073741824}};
	double v;
	char *end;
	int rc = decimal(s, &v, &end);
	if (rc == -1)
		return -1;
	for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
		if (!strcasecmp(end, units[i].sfx)) {
			if (rc == -2)
				return -2;
			double b = v * units[i].mul;
			if (b >= (double)(SIZE_MAX / 2)) /* that double is 2^63: one more than the max */
				return -2;
			if (b != floor(b))
				return -1;
			*out = (size_t)b;
			return 0;
		}
	return -1;
}

int kl_parse_ms(const char *s, int64_t *out)
{
	double v;
	char *end;
	int rc = decimal(s, &v, &end);
	if (rc == -1)
		return -1;
	double mul;
	if (!*end || !strcmp(end, "s"))
		mul = 1000;
	else if (!strcmp(end, "ms"))
		mul = 1;
	else if (!strcmp(end, "m"))
		mul = 60000;
	else if (!strcmp(end, "h"))
		mul = 3600000;
	else
		return -1;
	if (rc == -2 || v * mul >= (double)(INT64_MAX / 2)) /* 2^62 as a double */
		return -2;
	*out = (int64_t)(v * mul);
	return 0;
}

/* --- formatting ------------------------------------------------------------- */

int kl_opts_format(const struct kl_opts *p, size_t i, char *buf, size_t cap)
{
	if (i >= p->n || !cap)
		return -1;
	const struct kl_opt *o = &p->t[i];
	const char *f = (const char *)p->cfg + o->offset;
	int w = -1;
	switch (o->type) {
	case KL_OPT_STR: {
		const char *s = *(const char *const *)f;
		w = snprintf(buf, cap, "%s", s ? s : "");
		break;
	}
	case KL_OPT_FLAG:
		w = snprintf(buf, cap, "%s", *(const int *)f ? "on" : "off");
		break;
	case KL_OPT_SIZE: {
		size_t s = *(const size_t *)f;
		static const struct {
			size_t mul;
			const char *sfx;
		} u[] = {{(size_t)1 << 30, "GiB"}, {(size_t)1 << 20, "MiB"}, {(size_t)1 << 10, "KiB"}};
		size_t k = 0;
		while (k < 3 && !(s && s % u[k].mul == 0))
			k++;
		w = k < 3 ? snprintf(buf, cap, "%zu%s", s / u[k].mul, u[k].sfx)
			  : snprintf(buf, cap, "%zu", s);
		break;
	}
	case KL_OPT_U64:
		w = snprintf(buf, cap, "%" PRIu64, *(const uint64_t *)f);
		break;
	case KL_OPT_I64:
		w = snprintf(buf, cap, "%" PRId64, *(const int64_t *)f);
		break;
	case KL_OPT_DOUBLE:
		w = snprintf(buf, cap, "%.17g", *(const double *)f);
		break;
	case KL_OPT_MS: {
		int64_t ms = *(const int64_t *)f;
		w = ms && ms % 3600000 == 0 ? snprintf(buf, cap, "%" PRId64 "h", ms / 3600000)
		    : ms && ms % 60000 == 0 ? snprintf(buf, cap, "%" PRId64 "m", ms / 60000)
		    : ms % 1000 == 0	    ? snprintf(buf, cap, "%" PRId64 "s", ms / 1000)
					    : snprintf(buf, cap, "%" PRId64 "ms", ms);
		break;
	}
	case KL_OPT_CHOICE: {
		const char *name = kl_opt_choice_name(o->choices, *(const int *)f);
		w = snprintf(buf, cap, "%s", name ? name : ""); /* none chosen */
		break;
	}
	}
	return w < 0 || (size_t)w >= cap ? -1 : w;
}

const char *kl_opts_from_word(const struct kl_opts *p, size_t i)
{
	switch (i < p->n ? p->from[i] : KL_OPT_UNSET) {
	case KL_OPT_FROM_FLAG:
		return "flag";
	case KL_OPT_FROM_ENV:
		return "env";
	case KL_OPT_DEFAULT:
		return "default";
	default:
		return "unset";
	}
}

/* --- naming ----------------------------------------------------------------- */

static size_t index_of(const struct kl_opts *p, const struct kl_opt *o)
{
	return (size_t)(o - p->t);
}

/* How entry `o` is named in a message about a value from `from`. */
static const char *label(const struct kl_opt *o, int from, int env_style, char *buf, size_t cap)
{
	if (o->env && (from == KL_OPT_FROM_ENV || (from != KL_OPT_FROM_FLAG && env_style)))
		snprintf(buf, cap, "%s", o->env);
	else
		snprintf(buf, cap, "--%s", o->name);
	return buf;
}

const struct kl_opt *kl_opts_find(const struct kl_opts *p, size_t offset)
{
	for (size_t i = 0; i < p->n; i++)
		if (p->t[i].offset == offset)
			return &p->t[i];
	return NULL;
}

enum kl_opt_from kl_opts_from(const struct kl_opts *p, size_t offset)
{
	const struct kl_opt *o = kl_opts_find(p, offset);
	return o ? (enum kl_opt_from)p->from[index_of(p, o)] : KL_OPT_UNSET;
}

const char *kl_opts_label(const struct kl_opts *p, size_t offset, char *buf, size_t cap)
{
	const struct kl_opt *o = kl_opts_find(p, offset);
	if (!o) {
		snprintf(buf, cap, "?");
		return buf;
	}
	return label(o, p->from[index_of(p, o)], p->env_style, buf, cap);
}

const char *kl_opts_setting(const struct kl_opts *p, size_t offset, const char *value, char *buf,
			    size_t cap)
{
	char l[96];
	const struct kl_opt *o = kl_opts_find(p, offset);
	kl_opts_label(p, offset, l, sizeof l);
	int env = o && o->env && !strcmp(l, o->env);
	snprintf(buf, cap, "%s%s%s", l, env ? "=" : " ", value);
	return buf;
}

const char *kl_opt_choice_name(const struct kl_opt_choice *c, int value)
{
	for (; c && c->name; c++)
		if (c->value == value)
			return c->name;
	return NULL;
}

static void choice_list(const struct kl_opt_choice *c, char *buf, size_t cap)
{
	size_t len = 0;
	buf[0] = '\0';
	for (; c && c->name && len < cap; c++) {
		int w = snprintf(buf + len, cap - len, "%s%s", len ? "|" : "", c->name);
		if (w < 0)
			break;
		len += (size_t)w;
	}
}

/* --- setting one value -------------------------------------------------------- */

static int bounded(const struct kl_opt *o)
{
	return o->min < o->max;
}

/* Parse `v` into the field of `o`; on error one message naming `name`. */
static int set(const struct kl_opt *o, void *cfg, const char *name, const char *v,
	       struct kl_errbuf *eb)
{
	char *p = (char *)cfg + o->offset;
	char *end;
	if (o->type != KL_OPT_FLAG && !*v)
		return kl_errbuf_set(eb, KL_EINVAL, "%s needs a non-empty value (%s)", name,
				     o->metavar ? o->metavar : "VALUE");
	switch (o->type) {
	case KL_OPT_STR:
		break;
	case KL_OPT_FLAG:
		break;
	case KL_OPT_SIZE: {
		size_t s = 0;
		int rc = kl_parse_size(v, &s);
		if (rc == -1)
			return kl_errbuf_set(eb, KL_EINVAL,
					     "%s: '%s' is not a size (examples: 4096, "
					     "64KiB, 128MiB, 1GiB)",
					     name, v);
		if (rc == -2 || (bounded(o) && (double)s > o->max))
			return kl_errbuf_set(eb, KL_EINVAL,
					     "%s: '%s' is too large (at most %.0f "
					     "bytes)",
					     name, v, bounded(o) ? o->max : (double)(SIZE_MAX / 2));
		if (bounded(o) && (double)s < o->min)
			return kl_errbuf_set(eb, KL_EINVAL,
					     "%s: '%s' is too small (at least %.0f "
					     "bytes)",
					     name, v, o->min);
		*(size_t *)p = s;
		break;
	}
	case KL_OPT_U64:
	case KL_OPT_I64: {
		int u = o->type == KL_OPT_U64;
		int digits = (v[0] >= '0' && v[0] <= '9') ||
			     (!u && v[0] == '-' && v[1] >= '0' && v[1] <= '9');
		errno = 0;
		unsigned long long ux = 0;
		long long sx = 0;
		if (digits) {
			if (u)
				ux = strtoull(v, &end, 10);
			else
				sx = strtoll(v, &end, 10);
			digits = !*end;
		}
		if (!digits) {
			if (bounded(o))
				return kl_errbuf_set(eb, KL_EINVAL,
						     "%s: '%s' is not an integer in "
						     "[%.0f, %.0f]",
						     name, v, o->min, o->max);
			return kl_errbuf_set(eb, KL_EINVAL, "%s: '%s' is not a%s integer", name, v,
					     u ? " non-negative" : "n");
		}
		double x = u ? (double)ux : (double)sx;
		if (errno == ERANGE && bounded(o))
			return kl_errbuf_set(eb, KL_EINVAL, "%s: '%s' is too large (at most %.0f)",
					     name, v, o->max);
		if (errno == ERANGE)
			return kl_errbuf_set(eb, KL_EINVAL, "%s: '%s' is too large", name, v);
		if (bounded(o) && (x < o->min || x > o->max))
			return kl_errbuf_set(eb, KL_EINVAL,
					     "%s: '%s' is not an integer in [%.0f, "
					     "%.0f]",
					     name, v, o->min, o->max);
		if (u)
			*(uint64_t *)p = (uint64_t)ux;
		else
			*(int64_t *)p = (int64_t)sx;
		break;
	}
	case KL_OPT_DOUBLE: {
		errno = 0;
		double x = strtod(v, &end);
		int ok = end != v && !*end && !errno && isfinite(x) &&
			 (!bounded(o) || (x >= o->min && x <= o->max));
		if (!ok && bounded(o))
			return kl_errbuf_set(eb, KL_EINVAL, "%s: '%s' is not a number in [%g, %g]",
					     name, v, o->min, o->max);
		if (!ok)
			return kl_errbuf_set(eb, KL_EINVAL, "%s: '%s' is not a number", name, v);
		*(double *)p = x;
		break;
	}
	case KL_OPT_MS: {
		int64_t ms = 0;
		int rc = kl_parse_ms(v, &ms);
		if (rc == -1)
			return kl_errbuf_set(eb, KL_EINVAL,
					     "%s: '%s' is not a duration (seconds, or "
					     "500ms, 5m, 1h)",
					     name, v);
		if (rc == -2 ||
		    (bounded(o) && ((double)ms < o->min * 1000 || (double)ms > o->max * 1000))) {
			if (bounded(o))
				return kl_errbuf_set(eb, KL_EINVAL,
						     "%s: '%s' is out of range [%g, "
						     "%g] seconds",
						     name, v, o->min, o->max);
			return kl_errbuf_set(eb, KL_EINVAL, "%s: '%s' is too large", name, v);
		}
		*(int64_t *)p = ms;
		break;
	}
	case KL_OPT_CHOICE: {
		const struct kl_opt_choice *c = o->choices;
		for (; c && c->name; c++)
			if (!strcmp(c->name, v))
				break;
		if (!c || !c->name) {
			char list[256];
			choice_list(o->choices, list, sizeof list);
			return kl_errbuf_set(eb, KL_EINVAL, "%s: '%s' is not one of %s", name, v,
					     list);
		}
		*(int *)p = c->value;
		break;
	}
	}
	char why[256];
	if (o->check && o->check(v, why, sizeof why))
		return kl_errbuf_set(eb, KL_EINVAL, "%s: %s", name, why);
	if (o->type == KL_OPT_STR)
		*(const char **)p = v;
	else if (o->type == KL_OPT_FLAG)
		*(int *)p = 1;
	return KL_OK;
}

/* --- parsing -------------------------------------------------------------- */

int kl_opts_init(struct kl_opts *p, const struct kl_opt *t, size_t n, void *cfg,
		 struct kl_errbuf *eb)
{
	memset(p, 0, sizeof *p);
	p->t = t;
	p->n = n;
	p->cfg = cfg;
	if (n > KL_OPTS_MAX)
		return kl_errbuf_set(eb, KL_EINVAL, "internal: option table of %zu entries", n);
	for (size_t i = 0; i < n; i++) {
		if (!t[i].def)
			continue;
		struct kl_errbuf sub;
		kl_errbuf_clear(&sub);
		if (set(&t[i], cfg, t[i].name, t[i].def, &sub))
			return kl_errbuf_set(eb, KL_EINVAL, "internal: bad default for --%s: %s",
					     t[i].name, sub.msg);
		p->from[i] = KL_OPT_DEFAULT;
	}
	return KL_OK;
}

static const struct kl_opt *by_name(const struct kl_opts *p, const char *name, size_t nl)
{
	for (size_t i = 0; i < p->n; i++)
		if (p->t[i].name && strlen(p->t[i].name) == nl && !memcmp(p->t[i].name, name, nl))
			return &p->t[i];
	return NULL;
}

int kl_opts_argv(struct kl_opts *p, int argc, char **argv, struct kl_errbuf *eb)
{
	const char *given[KL_OPTS_MAX] = {0};
	for (int a = 0; a < argc; a++) {
		const char *arg = argv[a];
		if (!strcmp(arg, "--help") || !strcmp(arg, "-h"))
			return KL_OPTS_HELP;
		if (strncmp(arg, "--", 2) != 0)
			return kl_errbuf_set(eb, KL_EINVAL,
					     "unexpected argument '%s' (options start "
					     "with --)",
					     arg);
		const char *name = arg + 2, *eq = strchr(name, '=');
		size_t nl = eq ? (size_t)(eq - name) : strlen(name);
		const struct kl_opt *o = by_name(p, name, nl);
		if (!o)
			return kl_errbuf_set(eb, KL_EINVAL, "unknown option '--%.*s' (see --help)",
					     (int)nl, name);
		const char *v = NULL;
		if (o->type == KL_OPT_FLAG) {
			if (eq)
				return kl_errbuf_set(eb, KL_EINVAL, "--%s takes no value", o->name);
			v = "";
		} else if (eq) {
			v = eq + 1;
		} else if (a + 1 < argc) {
			v = argv[++a];
		} else {
			return kl_errbuf_set(eb, KL_EINVAL, "--%s needs a value (%s)", o->name,
					     o->metavar ? o->metavar : "VALUE");
		}
		size_t i = index_of(p, o);
		if (p->from[i] == KL_OPT_FROM_FLAG) {
			if (o->type == KL_OPT_FLAG)
				return kl_errbuf_set(eb, KL_EINVAL, "--%s is given twice", o->name);
			return kl_errbuf_set(eb, KL_EINVAL,
					     "--%s is given twice ('%s', then '%s'): "
					     "give it once",
					     o->name, given[i], v);
		}
		char nm[96];
		snprintf(nm, sizeof nm, "--%s", o->name);
		int rc = set(o, p->cfg, nm, v, eb);
		if (rc)
			return rc;
		p->from[i] = KL_OPT_FROM_FLAG;
		given[i] = v;
	}
	return KL_OK;
}

int kl_opts_env(struct kl_opts *p, const struct kl_aws_env *env, struct kl_errbuf *eb)
{
	for (size_t i = 0; i < p->n; i++) {
		const struct kl_opt *o = &p->t[i];
		if (!o->env || o->type == KL_OPT_FLAG || p->from[i] == KL_OPT_FROM_FLAG ||
		    (p->scope && !(o->scope & p->scope)))
			continue;
		const char *v = kl_aws_env_get(env, o->env); /* empty counts as unset */
		if (!v)
			continue;
		int rc = set(o, p->cfg, o->env, v, eb);
		if (rc)
			return rc;
		p->from[i] = KL_OPT_FROM_ENV;
	}
	return KL_OK;
}

/* --- help ----------------------------------------------------------------- */

void kl_opts_help(FILE *f, const struct kl_opt *t, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (!t[i].help || !t[i].name)
			continue;
		char left[64];
		snprintf(left, sizeof left, "--%s%s%s", t[i].name, t[i].metavar ? " " : "",
			 t[i].metavar ? t[i].metavar : "");
		fprintf(f, "  %-28s %s", left, t[i].help);
		if (t[i].def && t[i].type != KL_OPT_FLAG)
			fprintf(f, " [default: %s]", t[i].def);
		fputc('\n', f);
	}
}

void kl_opts_env_help(FILE *f, const struct kl_opt *t, size_t n, unsigned scope)
{
	for (size_t i = 0; i < n; i++) {
		if (!t[i].env || !t[i].help || (scope && !(t[i].scope & scope)))
			continue;
		char meta[128];
		if (t[i].type == KL_OPT_CHOICE)
			choice_list(t[i].choices, meta, sizeof meta);
		else
			snprintf(meta, sizeof meta, "%s", t[i].metavar ? t[i].metavar : "VALUE");
		fprintf(f, "  %-26s %s (as --%s %s)", t[i].env, t[i].help, t[i].name, meta);
		if (t[i].def)
			fprintf(f, " [default: %s]", t[i].def);
		fputc('\n', f);
	}
}
