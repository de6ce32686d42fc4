/*
 * curl_lazy.c — libcurl, loaded on first use.
 *
 * kinlake does not link libcurl: this file defines the few libcurl
 * functions http.c calls, and the first call dlopen()s libcurl.so.4 and
 * forwards to it. Linking libcurl made every process load it and its ~30
 * dependencies (OpenSSL, GnuTLS, Kerberos, LDAP, ...) at exec time, about
 * 7 ms before main(): the whole budget of a Lambda cold start, for a
 * function (`kinlake lambda` on Firehose events) that never makes an AWS
 * call. Commands that do (S3 lakes, the Kinesis source, credential
 * providers) pay it once, at their first HTTP request.
 *
 * The library is looked up the usual dlopen() way; in the Lambda package
 * the executable's RPATH ($ORIGIN/lib) finds the bundled copy and its
 * dependencies (scripts/lambda_zip.sh bundles them). If it cannot be
 * loaded, curl_global_init() fails and curl_easy_init() returns NULL, and
 * kl_curl_load_error() says why.
 */
#define CURL_DISABLE_TYPECHECK 1 /* this file defines the functions the macros wrap */
#include <curl/curl.h>

#include <dlfcn.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "aws/http.h"

#define KL_CURL_SONAME "libcurl.so.4"

static struct {
	CURLcode (*global_init)(long);
	void (*global_cleanup)(void);
	CURL *(*easy_init)(void);
	void (*easy_cleanup)(CURL *);
	void (*easy_reset)(CURL *);
	CURLcode (*easy_perform)(CURL *);
	CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
	CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
	const char *(*easy_strerror)(CURLcode);
	struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
	void (*slist_free_all)(struct curl_slist *);
	curl_version_info_data *(*version_info)(CURLversion);
	int ok;
	char err[256];
} L;

static pthread_once_t once = PTHREAD_ONCE_INIT;

static void load(void)
{
	void *h = dlopen(KL_CURL_SONAME, RTLD_LAZY | RTLD_LOCAL);
	if (!h) {
		const char *e = dlerror();
		snprintf(L.err, sizeof L.err, "cannot load %s: %s", KL_CURL_SONAME, e ? e : "?");
		return;
	}
	struct {
		const char *name;
		void **slot;
	} sym[] = {
		{"curl_global_init", (void **)&L.global_init},
		{"curl_global_cleanup", (void **)&L.global_cleanup},
		{"curl_easy_init", (void **)&L.easy_init},
		{"curl_easy_cleanup", (void **)&L.easy_cleanup},
		{"curl_easy_reset", (void **)&L.easy_reset},
		{"curl_easy_perform", (void **)&L.easy_perform},
		{"curl_easy_setopt", (void **)&L.easy_setopt},
		{"curl_easy_getinfo", (void **)&L.easy_getinfo},
		{"curl_easy_strerror", (void **)&L.easy_strerror},
		{"curl_slist_append", (void **)&L.slist_append},
		{"curl_slist_free_all", (void **)&L.slist_free_all},
		{"curl_version_info", (void **)&L.version_info},
	};
	for (size_t i = 0; i < sizeof sym / sizeof sym[0]; i++) {
		void *f = dlsym(h, sym[i].name);
		if (!f) {
			snprintf(L.err, sizeof L.err, "%s: no symbol %s", KL_CURL_SONAME, sym[i].name);
			dlclose(h);
			return;
		}
		*sym[i].slot = f;
	}
	L.ok = 1;
}

static int loaded(void)
{
	pthread_once(&once, load);
	return L.ok;
}

const char *kl_curl_load_error(void)
{
	return loaded() ? "" : L.err;
}

CURLcode curl_global_init(long flags)
{
	return loaded() ? L.global_init(flags) : CURLE_FAILED_INIT;
}

/* Never loads the library just to clean it up. */
void curl_global_cleanup(void)
{
	if (L.ok)
		L.global_cleanup();
}

CURL *curl_easy_init(void)
{
	return loaded() ? L.easy_init() : NULL;
}

/* The functions below take a handle, so the library is loaded already. */
void curl_easy_cleanup(CURL *c)
{
	if (c)
		L.easy_cleanup(c);
}

void curl_easy_reset(CURL *c) { L.easy_reset(c); }

CURLcode curl_easy_perform(CURL *c) { return L.easy_perform(c); }

/* The option number says the argument's type (curl.h, CURLOPTTYPE_*). */
CURLcode curl_easy_setopt(CURL *c, CURLoption opt, ...)
{
	va_list ap;
	va_start(ap, opt);
	CURLcode rc;
	if (opt < CURLOPTTYPE_OBJECTPOINT)
		rc = L.easy_setopt(c, opt, va_arg(ap, long));
	else if (opt < CURLOPTTYPE_FUNCTIONPOINT)
		rc = L.easy_setopt(c, opt, va_arg(ap, void *));
	else if (opt < CURLOPTTYPE_OFF_T)
		rc = L.easy_setopt(c, opt, va_arg(ap, void (*)(void)));
	else if (opt < CURLOPTTYPE_BLOB)
		rc = L.easy_setopt(c, opt, va_arg(ap, curl_off_t));
	else
		rc = L.easy_setopt(c, opt, va_arg(ap, void *));
	va_end(ap);
	return rc;
}

/* Every CURLINFO_* takes a pointer to where the value goes. */
CURLcode curl_easy_getinfo(CURL *c, CURLINFO info, ...)
{
	va_list ap;
	va_start(ap, info);
	CURLcode rc = L.easy_getinfo(c, info, va_arg(ap, void *));
	va_end(ap);
	return rc;
}

const char *curl_easy_strerror(CURLcode code)
{
	return loaded() ? L.easy_strerror(code) : "libcurl is not available";
}

struct curl_slist *curl_slist_append(struct curl_slist *l, const char *s)
{
	return loaded() ? L.slist_append(l, s) : NULL;
}

void curl_slist_free_all(struct curl_slist *l)
{
	if (l)
		L.slist_free_all(l);
}

curl_version_info_data *curl_version_info(CURLversion v)
{
	return loaded() ? L.version_info(v) : NULL;
}
