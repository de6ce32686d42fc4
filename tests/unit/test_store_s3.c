/* test_store_s3.c — store/store_s3 (+ store/s3_request).
 *
 * Without arguments: option and URL validation, key encoding, SHA-256
 * checksum vectors, and a read against a closed port (a transport failure
 * retried then reported with the operation and the key).
 *
 * Driver modes for tests/e2e/store_s3.sh (environment: AWS_REGION or
 * AWS_DEFAULT_REGION, AWS_ENDPOINT_URL[_S3], the usual credential chain):
 *   --put URL KEY FILE        write FILE (in --chunk bytes, default 65536) and commit
 *   --abort-after N URL KEY FILE   write the first N bytes of FILE, then abort()
 *   --get URL KEY             read the object to stdout (exit 3 if not found)
 *   --get-many URL KEY...     read_many() of the KEYs: a line "KEY BYTES SHA256"
 *                             or "KEY not found" for each, in order
 *   --put-deferred URL KEY=FILE...  each FILE under its KEY by commit_deferred(),
 *                             in order, then one sync() (as the writer's batches);
 *                             on failure prints "failed landed=N" (store.h);
 *                             a KEY written new:KEY goes by put_new_deferred()
 *                             instead (a schema fragment) and the line ends
 *                             with " lost=N", the lost() calls heard
 * Options before the mode: --sse ALG, --kms-key ID, --threshold BYTES,
 * --part-size BYTES, --concurrency N, --attempts N, --path-style, --chunk N.
 * Errors: "test_store_s3: <kl_strerror>: <store error>" on stderr, exit 1.
 */
#include "aws/credentials.h"
#include "aws/http.h"
#include "check.h"
#include "store/s3_request.h"
#include "store/store.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct drv {
	struct kl_store_s3_opts o;
	size_t chunk;
};

static int open_store(struct drv *d, const char *url, struct kl_store **s, struct kl_cred_chain *ch,
		      struct kl_http **ch_http, struct kl_errbuf *eb)
{
	struct kl_aws_env env = kl_aws_env_process();
	*ch_http = kl_http_new(NULL, eb);
	if (!*ch_http)
		return KL_ENOMEM;
	kl_cred_chain_init(ch, &env, kl_http_transport_of(*ch_http));
	d->o.creds = ch;
	d->o.region = kl_aws_env_get(&env, "AWS_REGION");
	if (!d->o.region)
		d->o.region = kl_aws_env_get(&env, "AWS_DEFAULT_REGION");
	d->o.endpoint = kl_store_s3_env_endpoint(&env);
	return kl_store_s3_new(s, url, &d->o, eb);
}

static int put(struct kl_store *s, const char *key, const char *path, long limit, size_t chunk)
{
	FILE *in = strcmp(path, "-") ? fopen(path, "rb") : stdin;
	if (!in) {
		perror(path);
		return KL_EIO;
	}
	struct kl_store_file *f;
	int rc = s->ops->open(s, key, &f);
	if (rc) {
		if (in != stdin)
			fclose(in);
		return rc;
	}
	char *buf = malloc(chunk);
	long done = 0;
	size_t n;
	while (!rc && buf && (limit < 0 || done < limit)) {
		size_t want = chunk;
		if (limit >= 0 && (long)want > limit - done)
			want = (size_t)(limit - done);
		if (!(n = fread(buf, 1, want, in)))
			break;
		rc = s->ops->write(f, buf, n);
		done += (long)n;
	}
	free(buf);
	if (in != stdin)
		fclose(in);
	if (!buf)
		rc = KL_ENOMEM;
	if (limit >= 0 || rc) {
		s->ops->abort(f);
		return rc;
	}
	return s->ops->commit(f);
}

/* --put-new: each key create-only, as the schema registry writes its
 * content-named fragments (kl_store_put_new). */
static int put_new(struct kl_store *s, const char *path, char **keys, int n)
{
	size_t len = 0;
	char *body = check_slurp(path, &len);
	int rc = body ? KL_OK : KL_EIO;
	for (int k = 0; !rc && k < n; k++)
		rc = kl_store_put_new(s, keys[k], body, len);
	free(body);
	return rc;
}

static void count_lost(void *ctx)
{
	atomic_fetch_add((_Atomic int *)ctx, 1);
}

/* --put-deferred: the writer's way, every file deferred, then one sync() */
static int put_deferred(struct kl_store *s, char **pairs, int n, _Atomic int *lost)
{
	int rc = KL_OK;
	for (int k = 0; !rc && k < n; k++) {
		char *eq = strchr(pairs[k], '=');
		if (!eq)
			return KL_EINVAL;
		*eq = '\0';
		size_t len = 0;
		char *body = check_slurp(eq + 1, &len);
		struct kl_store_file *f;
		if (body && !strncmp(pairs[k], "new:", 4)) {
			rc = kl_store_put_new_deferred(s, pairs[k] + 4, body, len, count_lost, lost);
			free(body);
			continue;
		}
		rc = body ? s->ops->open(s, pairs[k], &f) : KL_EIO;
		if (!rc && len && (rc = s->ops->write(f, body, len)))
			s->ops->abort(f); /* opened, not committed */
		else if (!rc)
			rc = s->ops->commit_deferred(f);
		free(body);
	}
	int src = s->ops->sync(s); /* also after a failure: what was deferred lands or fails */
	return rc ? rc : src;
}

/* --get-many: one read_many() of every key; a failed read ends the run
 * with its error after the lines of the others. */
static int get_many(struct kl_store *s, const char *const *keys, size_t n)
{
	struct kl_buf *outs = calloc(n, sizeof *outs);
	int *rcs = calloc(n, sizeof *rcs);
	int rc = outs && rcs ? KL_OK : KL_ENOMEM;
	for (size_t k = 0; !rc && k < n; k++)
		kl_buf_init(&outs[k], 0);
	if (!rc)
		rc = s->ops->read_many(s, keys, n, outs, rcs);
	for (size_t k = 0; !rc && k < n; k++) {
		if (rcs[k] == KL_ENOTFOUND) {
			printf("%s not found\n", keys[k]);
			continue;
		}
		char hex[65], b64[45];
		kl_s3_sha256(outs[k].data, outs[k].len, hex, b64);
		printf("%s %zu %s\n", keys[k], outs[k].len, hex);
	}
	for (size_t k = 0; !rc && k < n; k++)
		if (rcs[k] && rcs[k] != KL_ENOTFOUND)
			rc = rcs[k];
	for (size_t k = 0; outs && k < n; k++)
		kl_buf_cleanup(&outs[k]);
	free(outs);
	free(rcs);
	return rc;
}

static int driver(int argc, char **argv)
{
	struct drv d = {.chunk = 65536};
	int i = 1;
	for (; i < argc && !strncmp(argv[i], "--", 2); i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : "";
		if (!strcmp(a, "--sse"))
			d.o.sse = v, i++;
		else if (!strcmp(a, "--kms-key"))
			d.o.sse_kms_key_id = v, i++;
		else if (!strcmp(a, "--threshold"))
			d.o.multipart_threshold = strtoull(v, NULL, 10), i++;
		else if (!strcmp(a, "--part-size"))
			d.o.part_size = strtoull(v, NULL, 10), i++;
		else if (!strcmp(a, "--concurrency"))
			d.o.concurrency = (unsigned)atoi(v), i++;
		else if (!strcmp(a, "--attempts"))
			d.o.max_attempts = (unsigned)atoi(v), i++;
		else if (!strcmp(a, "--chunk"))
			d.chunk = strtoull(v, NULL, 10), i++;
		else if (!strcmp(a, "--path-style"))
			d.o.path_style = 1;
		else
			break;
	}
	const char *mode = i < argc ? argv[i++] : "";
	int nargs = argc - i;
	long limit = -1;
	if (!strcmp(mode, "--abort-after") && nargs == 4)
		limit = atol(argv[i++]), nargs--;
	else if (!(!strcmp(mode, "--put") && nargs == 3) &&
		 !(!strcmp(mode, "--get") && nargs == 2) &&
		 !(!strcmp(mode, "--get-many") && nargs >= 2) &&
		 !(!strcmp(mode, "--put-new") && nargs >= 3) &&
		 !(!strcmp(mode, "--put-deferred") && nargs >= 2)) {
		fprintf(stderr, "usage: test_store_s3 [opts] --put URL KEY FILE | --get URL KEY | "
				"--get-many URL KEY... | "
				"--abort-after N URL KEY FILE | --put-new URL FILE KEY... | "
				"--put-deferred URL KEY=FILE...\n");
		return 2;
	}
	struct kl_errbuf eb = {{0}, 0};
	struct kl_store *s = NULL;
	struct kl_cred_chain ch;
	struct kl_http *ch_http = NULL;
	int rc = open_store(&d, argv[i], &s, &ch, &ch_http, &eb);
	if (rc) {
		fprintf(stderr, "test_store_s3: %s: %s\n", kl_strerror(rc), eb.msg);
		kl_http_free(ch_http);
		return 1;
	}
	_Atomic int lost = 0;
	int side = -1; /* --put-deferred: 1 with a new:KEY, whose lost() the line ends with */
	if (!strcmp(mode, "--get")) {
		struct kl_buf b;
		kl_buf_init(&b, 0);
		rc = s->ops->read(s, argv[i + 1], &b);
		if (!rc && b.len)
			fwrite(b.data, 1, b.len, stdout);
		kl_buf_cleanup(&b);
	} else if (!strcmp(mode, "--get-many")) {
		rc = get_many(s, (const char *const *)argv + i + 1, (size_t)nargs - 1);
	} else if (!strcmp(mode, "--put-deferred")) {
		side = 0;
		for (int k = i + 1; k < argc; k++)
			side |= !strncmp(argv[k], "new:", 4);
		rc = put_deferred(s, argv + i + 1, nargs - 1, &lost);
		if (!rc)
			printf("ok files=%llu bytes=%llu", (unsigned long long)s->files_committed,
			       (unsigned long long)s->bytes_committed);
		else
			printf("failed landed=%llu", (unsigned long long)s->landed);
	} else if (!strcmp(mode, "--put-new")) {
		rc = put_new(s, argv[i + 1], argv + i + 2, nargs - 2);
		if (!rc)
			printf("ok files=%llu bytes=%llu\n", (unsigned long long)s->files_committed,
			       (unsigned long long)s->bytes_committed);
		if (!rc && s->err.code == KL_EUNSUPPORTED) /* the refusal that taught it */
			kl_errbuf_clear(&s->err);
	} else {
		rc = put(s, argv[i + 1], argv[i + 2], limit, d.chunk);
		if (!rc)
			rc = s->ops->sync(s);
		if (!rc)
			printf("ok files=%llu bytes=%llu\n", (unsigned long long)s->files_committed,
			       (unsigned long long)s->bytes_committed);
	}
	if (rc == KL_ENOTFOUND)
		fprintf(stderr, "test_store_s3: not found\n");
	else if (rc || s->err.code)
		fprintf(stderr, "test_store_s3: %s: %s\n", kl_strerror(rc ? rc : s->err.code),
			s->err.msg);
	kl_store_free(s); /* what it still held is dropped: lost() too */
	if (side == 1)
		printf(" lost=%d\n", atomic_load(&lost));
	else if (side == 0)
		printf("\n");
	kl_cred_chain_cleanup(&ch);
	kl_http_free(ch_http);
	return rc == KL_ENOTFOUND ? 3 : rc ? 1 : 0;
}

/* ---- unit mode ---- */

static const char *fake_env(void *ctx, const char *name)
{
	const char *const *kv = ctx;
	for (; kv[0]; kv += 2)
		if (!strcmp(kv[0], name))
			return kv[1];
	return NULL;
}

static void test_validation(struct kl_cred_chain *ch)
{
	struct kl_store *s = NULL;
	struct kl_errbuf eb = {{0}, 0};
	struct kl_store_s3_opts o = {.region = "us-east-1", .creds = ch};
#define BAD(url, field, value, want)                                                               \
	do {                                                                                       \
		struct kl_store_s3_opts o2 = o;                                                    \
		o2.field = value;                                                                  \
		kl_errbuf_clear(&eb);                                                              \
		CHECK_EQ_INT(kl_store_s3_new(&s, url, &o2, &eb), KL_EINVAL);                       \
		CHECK(strstr(eb.msg, want) != NULL);                                               \
	} while (0)
	BAD("s3://bucket/p", region, NULL, "no region");
	BAD("s3://bucket/p", region, "us east", "bad region");
	BAD("s3://bucket/p", creds, NULL, "credential");
	BAD("s3://bucket/p", part_size, 1 << 20, "part size");
	BAD("s3://bucket/p", sse, "aes", "AES256 or aws:kms");
	BAD("s3://bucket/p", sse_kms_key_id, "k", "KMS key");
	BAD("s3://bucket/p", concurrency, 1000, "concurrency");
	BAD("s3://bucket/p", endpoint, "ftp://x", "not an http");
	BAD("/tmp/lake", region, "us-east-1", "not an s3://");
	BAD("s3://Bad_Bucket/x", region, "us-east-1", "bad bucket");
	BAD("s3://ab", region, "us-east-1", "bad bucket");
#undef BAD
	kl_errbuf_clear(&eb);
	CHECK_EQ_INT(kl_store_s3_new(&s, "s3://my-bucket//a/b/", &o, &eb), KL_OK);
	struct kl_store_file *f = NULL;
	CHECK_EQ_INT(s->ops->open(s, "/abs", &f), KL_EINVAL);
	CHECK_EQ_INT(s->ops->open(s, "", &f), KL_EINVAL);
	CHECK_EQ_INT(s->ops->open(s, "x/y.parquet", &f), KL_OK);
	CHECK_EQ_INT(s->ops->write(f, "abc", 3), KL_OK);
	s->ops->abort(f); /* nothing was sent */
	CHECK_EQ_INT(s->ops->sync(s), KL_OK);
	kl_store_free(s);
	kl_store_free(NULL);
}

static void test_encoding(void)
{
	struct kl_buf b;
	kl_buf_init(&b, 0);
	CHECK_EQ_INT(kl_s3_encode_key(&b, "events/event_type=web%20hook/a b/\xe2\x82\xac~.-_+"), 0);
	CHECK_EQ_MEM(b.data, b.len, "events/event_type%3Dweb%2520hook/a%20b/%E2%82%AC~.-_%2B");
	kl_buf_cleanup(&b);

	char hex[65], b64[45];
	kl_s3_sha256("", 0, hex, b64);
	CHECK_EQ_STR(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	CHECK_EQ_STR(b64, "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
	kl_s3_sha256("abc", 3, hex, b64);
	CHECK_EQ_STR(b64, "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=");
}

static void test_unreachable(struct kl_cred_chain *ch)
{
	struct kl_store *s = NULL;
	struct kl_errbuf eb = {{0}, 0};
	_Atomic uint64_t answered = 0;
	struct kl_store_s3_opts o = {.region = "us-east-1",
				     .creds = ch,
				     .endpoint = "http://127.0.0.1:1/",
				     .max_attempts = 2,
				     .meters.answered = &answered};
	CHECK_EQ_INT(kl_store_s3_new(&s, "s3://bkt/lake", &o, &eb), KL_OK);
	struct kl_buf out;
	kl_buf_init(&out, 0);
	CHECK_EQ_INT(s->ops->read(s, "k=v/x", &out), KL_ERETRY);
	CHECK(strstr(s->err.msg, "GetObject s3://bkt/lake/k=v/x") != NULL);
	CHECK(strstr(s->err.msg, "2 attempts") != NULL);
	struct kl_store_file *f = NULL;
	CHECK_EQ_INT(s->ops->open(s, "a", &f), KL_OK);
	CHECK_EQ_INT(s->ops->commit(f), KL_ERETRY);
	CHECK(atomic_load(&answered) == 0); /* nothing answered: no progress */
	kl_buf_cleanup(&out);
	kl_store_free(s);

	/* No credentials anywhere: an auth error, never "not found". */
	const char *none[] = {NULL};
	struct kl_aws_env env = {fake_env, none};
	struct kl_cred_chain empty;
	kl_cred_chain_init(&empty, &env, (struct kl_http_transport){NULL, NULL});
	o.creds = &empty;
	CHECK_EQ_INT(kl_store_s3_new(&s, "s3://bkt/lake", &o, &eb), KL_OK);
	kl_buf_init(&out, 0);
	CHECK_EQ_INT(s->ops->read(s, "x", &out), KL_EAUTH);
	CHECK(strstr(s->err.msg, "GetObject s3://bkt/lake/x") != NULL);
	CHECK(strstr(s->err.msg, "credentials") != NULL);
	kl_buf_cleanup(&out);
	kl_store_free(s);
	kl_cred_chain_cleanup(&empty);
}

int main(int argc, char **argv)
{
	if (argc > 1)
		return driver(argc, argv);
	const char *kv[] = {"AWS_ACCESS_KEY_ID", "AKIDUNIT", "AWS_SECRET_ACCESS_KEY", "s", NULL};
	struct kl_aws_env env = {fake_env, kv};
	struct kl_cred_chain ch;
	kl_cred_chain_init(&ch, &env, (struct kl_http_transport){NULL, NULL});
	test_validation(&ch);
	test_encoding();
	test_unreachable(&ch);
	kl_cred_chain_cleanup(&ch);
	return check_report("test_store_s3");
}
