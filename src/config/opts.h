/*
 * opts.h — declarative options (after Fluent Bit's config_map): one table
 * serves command-line flags and environment variables alike.
 *
 * Each entry names a setting once: its flag (--name), its environment
 * variable (or none), its type, the offset of its field in the caller's
 * config struct, its default, help text, and how it is validated (numeric
 * bounds, a {name, value} table of choices, a check function). The same
 * entry drives defaults, parsing of `--name VALUE` / `--name=VALUE`, parsing
 * of the variable, validation and --help, so they cannot drift apart.
 *
 * Invariants:
 *  - A value is validated by the entry alone, wherever it came from, and a
 *    bad one gets ONE message naming where it came from: "--format: 'csv' is
 *    not one of parquet|jsonl" or "KINLAKE_FORMAT: 'csv' is not one of
 *    parquet|jsonl". Cross-option rules are the caller's; kl_opts_label()
 *    and kl_opts_setting() name the options the same way.
 *  - A flag given twice, an empty flag value, a number that overflows its
 *    field: each is an error, never a silent choice. An empty environment
 *    variable counts as unset (the AWS SDKs' convention).
 *  - Choices map to enum values by name, never by position.
 *
 * Ownership: the table is static; string values point into argv or the
 * environment (not copied); `struct kl_opts` is caller-owned, no cleanup.
 * Library code: errors go to a kl_errbuf; only the help writers print, to
 * the FILE they are given.
 */
#ifndef KL_CONFIG_OPTS_H
#define KL_CONFIG_OPTS_H

#include "core/err.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct kl_aws_env;

enum kl_opt_type {
	KL_OPT_STR,    /* const char *; never empty */
	KL_OPT_SIZE,   /* size_t bytes: 4096, 64k, 64KiB, 128MiB, 1GiB, 1.5GB */
	KL_OPT_U64,    /* uint64_t */
	KL_OPT_I64,    /* int64_t */
	KL_OPT_DOUBLE, /* double, finite */
	KL_OPT_MS,     /* int64_t milliseconds, given as seconds: 300, 0.5, 500ms, 5m, 1h */
	KL_OPT_FLAG,   /* int, 1 when present (flags only) */
	KL_OPT_CHOICE, /* int: the value of the matching entry in `choices` */
};

/* One choice: its name and the enum value it stands for. Tables end with
 * {NULL, 0}. */
struct kl_opt_choice {
	const char *name;
	int value;
};

/* Extra validation of a value's text, after its type accepted it. Returns
 * 0, or -1 with the reason (without the option's name) in `why`. */
typedef int (*kl_opt_check_fn)(const char *value, char *why, size_t cap);

struct kl_opt {
	const char *name; /* flag, without the leading "--" */
	const char *env;  /* environment variable, or NULL: flag only */
	enum kl_opt_type type;
	size_t offset;	     /* of the field in the config struct */
	const char *def;     /* default as text; NULL: none (field stays 0/NULL) */
	const char *metavar; /* for --help */
	const char *help;    /* NULL: hidden from --help (benchmark and test aids) */
	const struct kl_opt_choice *choices; /* KL_OPT_CHOICE */
	double min, max;		     /* numeric bounds, when min < max */
	kl_opt_check_fn check;
	unsigned scope; /* the caller's bits: entry points beyond the main one
			 * that read `env` (struct kl_opts `scope`) */
};

/* Where a value came from. */
enum kl_opt_from { KL_OPT_UNSET, KL_OPT_DEFAULT, KL_OPT_FROM_ENV, KL_OPT_FROM_FLAG };

#define KL_OPTS_MAX 64

/* One parse of one table into one config struct. */
struct kl_opts {
	const struct kl_opt *t;
	size_t n;
	void *cfg;
	unsigned char from[KL_OPTS_MAX]; /* enum kl_opt_from, per entry */
	int env_style;			 /* name unset options by their variable in messages */
	unsigned scope; /* 0: kl_opts_env reads every entry's variable; else only
			 * those of entries whose `scope` has one of these bits */
};

enum { KL_OPTS_HELP = 1 };

/* Bind a table to `cfg` and apply the defaults. KL_EINVAL (a bug in the
 * table) if a default does not parse or the table is too long. */
int kl_opts_init(struct kl_opts *p, const struct kl_opt *t, size_t n, void *cfg,
		 struct kl_errbuf *eb);

/* Parse flags: argv[0..argc). KL_OK, KL_OPTS_HELP for --help/-h, or
 * KL_EINVAL with one message. Positional arguments are rejected. */
int kl_opts_argv(struct kl_opts *p, int argc, char **argv, struct kl_errbuf *eb);

/* Parse the environment variables of the entries that have one (and are in
 * p->scope, when set), except those already given as flags: a flag wins.
 * Unset and empty variables are skipped. KL_OK or KL_EINVAL with one
 * message. */
int kl_opts_env(struct kl_opts *p, const struct kl_aws_env *env, struct kl_errbuf *eb);

/* The entry of the field at `offset`, or NULL. */
const struct kl_opt *kl_opts_find(const struct kl_opts *p, size_t offset);
/* Where the field's value came from. */
enum kl_opt_from kl_opts_from(const struct kl_opts *p, size_t offset);
/* The field's name as the user set it (or would): "--sse" or "KINLAKE_SSE". */
const char *kl_opts_label(const struct kl_opts *p, size_t offset, char *buf, size_t cap);
/* The field set to `value`, as the user would write it: "--sse aws:kms" or
 * "KINLAKE_SSE=aws:kms". */
const char *kl_opts_setting(const struct kl_opts *p, size_t offset, const char *value, char *buf,
			    size_t cap);

/* The value of entry t[i] in p's config as the option would be written, so
 * that parsing the text gives the same value back: a size in the largest
 * unit it is a whole number of ("256MiB", "4097"), a duration likewise
 * ("5m", "300ms", "10s"), a choice by its name, a flag as "on" or "off", an
 * unset string or a choice outside the table as "" (0 returned). The text's
 * length, or -1 if it does not fit in cap. */
int kl_opts_format(const struct kl_opts *p, size_t i, char *buf, size_t cap);
/* Where entry t[i]'s value came from, as a word: "flag", "env", "default",
 * or "unset". */
const char *kl_opts_from_word(const struct kl_opts *p, size_t i);

/* The name of `value` in a choice table, or NULL. */
const char *kl_opt_choice_name(const struct kl_opt_choice *c, int value);

/* --help lines for the flags (hidden entries skipped). */
void kl_opts_help(FILE *f, const struct kl_opt *t, size_t n);
/* --help lines for the environment variables of the entries that have one
 * (and whose `scope` has one of `scope`'s bits, when it is not 0). */
void kl_opts_env_help(FILE *f, const struct kl_opt *t, size_t n, unsigned scope);

/* Value parsers (exposed for tests and fuzzing). 0 on success, -1 if the
 * text is not of the type, -2 if it is but too large for the field. */
int kl_parse_size(const char *s, size_t *out);
int kl_parse_ms(const char *s, int64_t *out);

#endif
