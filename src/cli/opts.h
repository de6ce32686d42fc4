/*
 * opts.h — declarative command-line options (after Fluent Bit's config_map).
 *
 * One table per command lists each option's name, type, default, the
 * offset of its field in the command's config struct, and its help text.
 * The same table drives defaults, parsing, validation and --help, so they
 * cannot drift apart. Parsing stops at the first bad option with one precise
 * message; the caller exits with status 2.
 */
#ifndef KL_CLI_OPTS_H
#define KL_CLI_OPTS_H

#include <stddef.h>
#include <stdio.h>

enum kl_opt_type {
	KL_OPT_STR,     /* const char * */
	KL_OPT_SIZE,    /* size_t, bytes: 128MiB, 64k, 1G, 4096 */
	KL_OPT_U64,     /* uint64_t */
	KL_OPT_I64,     /* int64_t */
	KL_OPT_DOUBLE,  /* double */
	KL_OPT_MS,      /* int64_t milliseconds, given as seconds: 300, 0.5, 5m */
	KL_OPT_FLAG,    /* int, set to 1 when present */
	KL_OPT_CHOICE,  /* int: index into `choices` ("a|b|c") */
};

struct kl_opt {
	const char *name; /* without the leading "--" */
	enum kl_opt_type type;
	size_t offset;
	const char *def;     /* default as text, NULL = none */
	const char *metavar; /* for help */
	const char *help;    /* NULL = hidden from --help */
	const char *choices; /* KL_OPT_CHOICE */
	double min, max;     /* numeric bounds when min < max */
};

enum { KL_OPTS_OK = 0, KL_OPTS_HELP = 1, KL_OPTS_ERROR = 2 };

/* Apply defaults, then parse argv[0..argc). On error, err holds the
 * message. Positional arguments are rejected. */
int kl_opts_parse(const struct kl_opt *t, size_t n, void *cfg, int argc, char **argv,
		  char *err, size_t errlen);

void kl_opts_help(FILE *f, const struct kl_opt *t, size_t n);

/* "128MiB" -> bytes; returns 0 on success. */
int kl_parse_size(const char *s, size_t *out);

#endif
