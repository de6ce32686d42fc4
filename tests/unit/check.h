/*
 * check.h — the smallest unit-test harness that can fail loudly.
 *
 * CHECK(cond) records a failure with file:line and continues; a test binary
 * exits 1 if any check failed. tests/run.sh counts binaries, not checks.
 */
#ifndef KL_TEST_CHECK_H
#define KL_TEST_CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int check_failures;
static int check_total;

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		check_total++;                                                                     \
		if (!(cond)) {                                                                     \
			check_failures++;                                                          \
			fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);  \
		}                                                                                  \
	} while (0)

#define CHECK_EQ_INT(a, b)                                                                         \
	do {                                                                                       \
		long long a_ = (long long)(a), b_ = (long long)(b);                               \
		check_total++;                                                                     \
		if (a_ != b_) {                                                                    \
			check_failures++;                                                          \
			fprintf(stderr, "%s:%d: %s == %lld, expected %s == %lld\n", __FILE__,      \
				__LINE__, #a, a_, #b, b_);                                         \
		}                                                                                  \
	} while (0)

#define CHECK_EQ_STR(a, b)                                                                         \
	do {                                                                                       \
		const char *a_ = (a), *b_ = (b);                                                   \
		check_total++;                                                                     \
		if (!a_ || !b_ || strcmp(a_, b_) != 0) {                                           \
			check_failures++;                                                          \
			fprintf(stderr, "%s:%d: %s == \"%s\", expected \"%s\"\n", __FILE__,        \
				__LINE__, #a, a_ ? a_ : "(null)", b_ ? b_ : "(null)");             \
		}                                                                                  \
	} while (0)

#define CHECK_EQ_MEM(p, n, s)                                                                      \
	do {                                                                                       \
		size_t n_ = (n);                                                                   \
		const char *s_ = (s);                                                              \
		check_total++;                                                                     \
		if (n_ != strlen(s_) || (n_ && memcmp((p), s_, n_) != 0)) {                                \
			check_failures++;                                                          \
			fprintf(stderr, "%s:%d: got \"%.*s\", expected \"%s\"\n", __FILE__,        \
				__LINE__, (int)n_, (const char *)(p), s_);                         \
		}                                                                                  \
	} while (0)

/* The whole file at `path`, NUL-terminated (the bytes may hold NULs too);
 * its length in *len when len is not NULL. NULL if it cannot be read.
 * The caller frees it. */
static inline char *check_slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *s = n >= 0 ? malloc((size_t)n + 1) : NULL;
	if (s && fread(s, 1, (size_t)n, f) != (size_t)n) {
		free(s);
		s = NULL;
	}
	fclose(f);
	if (s) {
		s[n] = '\0';
		if (len)
			*len = (size_t)n;
	}
	return s;
}

/* The path of `rel` inside the shared test corpora: $KL_CORPORA, default
 * ../shared/corpora (relative to the working directory). When it does not
 * exist, says which path was tried and counts a failure, so that a missing
 * corpus is never a silent pass. Returns `out`. */
static inline char *check_corpus(char *out, size_t cap, const char *rel)
{
	const char *c = getenv("KL_CORPORA");
	int from_env = c && *c;
	snprintf(out, cap, "%s/%s", from_env ? c : "../shared/corpora", rel);
	struct stat sb;
	check_total++;
	if (stat(out, &sb) != 0) {
		char cwd[1024];
		check_failures++;
		fprintf(stderr, "corpus not found: %s (%s; working directory %s)\n", out,
			from_env ? "from KL_CORPORA" : "KL_CORPORA is unset, default ../shared/corpora",
			getcwd(cwd, sizeof cwd) ? cwd : "?");
	}
	return out;
}

/* Scratch paths. A test's scratch goes under $TMPDIR (/tmp when it is unset
 * or empty), never to a fixed /tmp path: tests/run.sh gives every test a
 * TMPDIR of its own, removed after a pass and kept after a failure, so a
 * run leaves nothing behind and a failure's files are there for a look.
 * kl_test_tmpl writes the mkstemp template "$TMPDIR/<name>XXXXXX" into buf
 * (n bytes) and returns buf; kl_test_mkdtemp makes that directory and
 * returns buf. A path that does not fit or a directory that cannot be made
 * ends the test at once (exit 1): going on with another path would write
 * somewhere else (with an empty one, at the root of the file system). So
 * does a TMPDIR with a blank or a shell metacharacter: tests hand these
 * paths to `rm -rf %s` and other shell commands unquoted, where a blank
 * would split one path into two to remove. */
static inline char *kl_test_tmpl(char *buf, size_t n, const char *name)
{
	const char *tmp = getenv("TMPDIR");
	if (!tmp || !*tmp)
		tmp = "/tmp";
	if (strpbrk(tmp, " \t\n\"'\\$`;&|<>()*?[]{}!#~")) {
		fprintf(stderr, "TMPDIR \"%s\": blanks, shell metacharacters refused\n", tmp);
		exit(1);
	}
	int k = snprintf(buf, n, "%s/%sXXXXXX", tmp, name);
	if (k < 0 || (size_t)k >= n) {
		fprintf(stderr, "scratch path %s/%sXXXXXX: longer than %zu bytes\n", tmp, name, n);
		exit(1);
	}
	return buf;
}

static inline char *kl_test_mkdtemp(char *buf, size_t n, const char *name)
{
	if (!mkdtemp(kl_test_tmpl(buf, n, name))) {
		perror(buf);
		exit(1);
	}
	return buf;
}

static inline int check_report(const char *name)
{
	fprintf(stderr, "%s: %d checks, %d failed\n", name, check_total, check_failures);
	return check_failures ? 1 : 0;
}

#endif
