/* test_store_list.c — the store's list op: the local directory store (one
 * level, dot-files hidden, missing directory lists nothing, bad prefixes
 * refused) and the S3 ListObjectsV2 page parser (URL-decoded keys, prefix
 * stripped, pages and their tokens, malformed answers refused). The S3
 * request itself runs against moto in tests/e2e/schema_registry.sh. */
#include "check.h"
#include "store/s3_request.h"
#include "store/store.h"

#include <stdlib.h>

struct seen {
	char keys[16][128];
	size_t n;
	int stop_at; /* stop with KL_ELIMIT at this entry (1-based), 0 = never */
};

static int collect(void *ctx, const char *key, size_t len)
{
	struct seen *s = ctx;
	CHECK(strlen(key) == len);
	if (s->n < 16)
		snprintf(s->keys[s->n], sizeof s->keys[0], "%s", key);
	s->n++;
	return s->stop_at && (int)s->n == s->stop_at ? KL_ELIMIT : KL_OK;
}

static int cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

static void sorted(struct seen *s)
{
	qsort(s->keys, s->n < 16 ? s->n : 16, sizeof s->keys[0], cmp);
}

static void put(struct kl_store *st, const char *key)
{
	struct kl_store_file *f;
	CHECK_EQ_INT(st->ops->open(st, key, &f), 0);
	CHECK_EQ_INT(st->ops->write(f, "x", 1), 0);
	CHECK_EQ_INT(st->ops->commit(f), 0);
}

static void test_local(void)
{
	char dir[] = "/tmp/kl-list-XXXXXX";
	CHECK(mkdtemp(dir) != NULL);
	struct kl_errbuf eb = {{0}, 0};
	struct kl_store *st = NULL;
	CHECK_EQ_INT(kl_store_local_new(&st, dir, &eb), 0);
	put(st, "a/x.json");
	put(st, "a/y=1/deep.json");
	put(st, "a/b c%2F.json");
	put(st, "top");
	char tmp[300];
	snprintf(tmp, sizeof tmp, "%s/a/.x.json.tmp-1", dir); /* a writer's temporary file */
	FILE *f = fopen(tmp, "w");
	CHECK(f != NULL);
	if (f)
		fclose(f);

	struct seen s = {0};
	CHECK_EQ_INT(st->ops->list(st, "a/", collect, &s), 0);
	sorted(&s);
	CHECK_EQ_INT(s.n, 3);
	CHECK_EQ_STR(s.keys[0], "a/b c%2F.json");
	CHECK_EQ_STR(s.keys[1], "a/x.json");
	CHECK_EQ_STR(s.keys[2], "a/y=1/");
	memset(&s, 0, sizeof s);
	CHECK_EQ_INT(st->ops->list(st, "", collect, &s), 0);
	sorted(&s);
	CHECK(s.n == 2 && !strcmp(s.keys[0], "a/") && !strcmp(s.keys[1], "top"));
	memset(&s, 0, sizeof s);
	CHECK_EQ_INT(st->ops->list(st, "nothing/here/", collect, &s), 0);
	CHECK_EQ_INT(s.n, 0);
	CHECK_EQ_INT(st->ops->list(st, "top/", collect, &s), 0); /* a file, not a level */
	CHECK_EQ_INT(s.n, 0);
	/* the callback's stop is list()'s result */
	memset(&s, 0, sizeof s);
	s.stop_at = 2;
	CHECK_EQ_INT(st->ops->list(st, "a/", collect, &s), KL_ELIMIT);
	CHECK_EQ_INT(s.n, 2);
	const char *bad[] = {"a", "/a/", "../", "a/../", "a//", "./"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		CHECK_EQ_INT(st->ops->list(st, bad[i], collect, &s), KL_EINVAL);
	kl_store_free(st);
	char cmd[300];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	CHECK_EQ_INT(system(cmd), 0);
}

#define PAGE(body)                                                                                 \
	"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ListBucketResult "                           \
	"xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Name>b</Name>"                         \
	"<Prefix>lake/s/</Prefix>" body "</ListBucketResult>"

static int page(const char *xml, const char *strip, struct seen *s, int *truncated,
		struct kl_buf *next)
{
	memset(s, 0, sizeof *s);
	return kl_s3_list_page(xml, strlen(xml), strip, collect, s, truncated, next);
}

static void test_s3_page(void)
{
	struct seen s;
	int tr = -1;
	struct kl_buf next;
	kl_buf_init(&next, 0);
	const char *p1 =
	    PAGE("<IsTruncated>true</IsTruncated><NextContinuationToken>t/o+k=&amp;"
		 "</NextContinuationToken><Contents><Key>lake/s/x%3D1.json</Key><Size>3"
		 "</Size></Contents><Contents><Key>lake/s/a+b%2Bc%25</Key></Contents>"
		 "<CommonPrefixes><Prefix>lake/s/event_type%3Dweird%2520type/</Prefix>"
		 "</CommonPrefixes><CommonPrefixes><Prefix>lake/s/</Prefix>"
		 "</CommonPrefixes>");
	CHECK_EQ_INT(page(p1, "lake/", &s, &tr, &next), 0);
	CHECK_EQ_INT(tr, 1);
	CHECK_EQ_STR(next.data, "t/o+k=&");
	CHECK_EQ_INT(s.n, 4);
	CHECK_EQ_STR(s.keys[0], "s/x=1.json");
	CHECK_EQ_STR(s.keys[1], "s/a b+c%");
	CHECK_EQ_STR(s.keys[2], "s/event_type=weird%20type/");
	CHECK_EQ_STR(s.keys[3], "s/");
	/* the last page; an entry equal to the prefix itself is skipped */
	const char *p2 =
	    PAGE("<IsTruncated>false</IsTruncated><Contents><Key>lake/</Key></Contents>"
		 "<Contents><Key>lake/k</Key></Contents>");
	CHECK_EQ_INT(page(p2, "lake/", &s, &tr, &next), 0);
	CHECK(tr == 0 && next.len == 0 && s.n == 1 && !strcmp(s.keys[0], "k"));
	CHECK_EQ_INT(page(p2, "", &s, &tr, &next), 0);
	CHECK_EQ_INT(s.n, 2);
	static const char *const refused[] = {
	    PAGE(""), /* no IsTruncated */
	    PAGE("<IsTruncated>yes</IsTruncated>"),
	    PAGE("<IsTruncated>true</IsTruncated>"), /* no token */
	    PAGE("<IsTruncated>true</IsTruncated><NextContinuationToken>a&#0;b</"
		 "NextContinuationToken>"),
	    PAGE("<IsTruncated>false</IsTruncated><Contents><Key>other/k</Key></Contents>"),
	    PAGE("<IsTruncated>false</IsTruncated><Contents><Key>lake/%4</Key></Contents>"),
	    PAGE("<IsTruncated>false</IsTruncated><Contents><Key>lake/%00</Key></Contents>"),
	    PAGE("<IsTruncated>false</IsTruncated><Contents><Size>1</Size></Contents>"),
	    PAGE("<IsTruncated>false</IsTruncated><Contents><Key>lake/k</Key>"),
	    "<Error><Code>AccessDenied</Code></Error>",
	};
	for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++)
		CHECK_EQ_INT(page(refused[i], "lake/", &s, &tr, &next), KL_EPARSE);
	kl_buf_cleanup(&next);
}

int main(void)
{
	test_local();
	test_s3_page();
	return check_report("test_store_list");
}
