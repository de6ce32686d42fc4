/* test_core.c — core/: buffers with caps, base64, error strings; config/opts sizes. */
#include "check.h"
#include "config/opts.h"
#include "core/array.h"
#include "core/base64.h"
#include "core/err.h"
#include "core/hugemem.h"

int main(void)
{
	struct kl_buf b;
	kl_buf_init(&b, 10);
	CHECK_EQ_INT(kl_buf_append(&b, "0123456789", 10), KL_OK);
	CHECK_EQ_INT(kl_buf_append(&b, "x", 1), KL_ENOMEM);
	CHECK_EQ_INT(b.len, 10);
	kl_buf_cleanup(&b);

	kl_buf_init(&b, 0);
	const char *vec[][2] = {{"", ""},         {"f", "Zg=="},         {"fo", "Zm8="},
				{"foo", "Zm9v"},  {"foob", "Zm9vYg=="},  {"fooba", "Zm9vYmE="},
				{"foobar", "Zm9vYmFy"}}; /* RFC 4648 section 10 */
	for (size_t i = 0; i < 7; i++) {
		kl_buf_reset(&b);
		kl_base64_encode(&b, vec[i][0], strlen(vec[i][0]));
		CHECK_EQ_MEM(b.data, b.len, vec[i][1]);
		unsigned char out[16];
		long n = kl_base64_decode(vec[i][1], strlen(vec[i][1]), out);
		CHECK_EQ_MEM(out, (size_t)n, vec[i][0]);
	}
	unsigned char out[16];
	CHECK_EQ_INT(kl_base64_decode("Zm9", 3, out), -1);
	CHECK_EQ_INT(kl_base64_decode("Zm9=", 4, out), -1); /* non-canonical */
	CHECK_EQ_INT(kl_base64_decode("Z!9v", 4, out), -1);
	kl_buf_cleanup(&b);

	/* kl_bytes_common_prefix: every length around the 16-byte steps, a
	 * difference at every place (or none) */
	{
		char x[40], y[40];
		int wrong = 0;
		for (size_t n = 0; n <= sizeof x; n++)
			for (size_t at = 0; at <= n; at++) {
				for (size_t i = 0; i < sizeof x; i++)
					x[i] = y[i] = (char)('a' + i % 26);
				if (at < n)
					y[at] = '#';
				wrong += kl_bytes_common_prefix(x, y, n) != at;
			}
		CHECK_EQ_INT(wrong, 0);
	}

	/* kl_buf_reserve_huge: keeps the contents, aligned, capped at max, a
	 * no-op when the block is large enough; the buffer then grows as ever */
	kl_buf_init(&b, 0);
	CHECK_EQ_INT(kl_buf_append(&b, "abc", 3), KL_OK);
	CHECK_EQ_INT(kl_buf_reserve_huge(&b, 4u << 20), KL_OK);
	CHECK(b.cap == 4u << 20 && ((uintptr_t)b.data & ((2u << 20) - 1)) == 0);
	CHECK_EQ_MEM(b.data, b.len, "abc");
	char *held = b.data;
	CHECK_EQ_INT(kl_buf_reserve_huge(&b, 1u << 20), KL_OK);
	CHECK(b.data == held && b.cap == 4u << 20);
	b.data[(4u << 20) - 1] = 'z';
	CHECK_EQ_INT(kl_buf_reserve(&b, 8u << 20), KL_OK);
	CHECK_EQ_MEM(b.data, 3, "abc");
	kl_buf_cleanup(&b);
	kl_buf_init(&b, 5u << 20);
	CHECK_EQ_INT(kl_buf_reserve_huge(&b, 64u << 20), KL_OK);
	CHECK_EQ_INT(b.cap, 5u << 20);
	kl_buf_cleanup(&b);

	/* kl_hugemem_alloc: zeroed, 2 MiB-aligned from 2 MiB, calloc below */
	for (size_t sz = 100; sz <= (size_t)9 << 20; sz *= 7) {
		unsigned char *z = kl_hugemem_alloc(sz);
		CHECK(z != NULL);
		if (!z)
			continue;
		CHECK(z[0] == 0 && z[sz / 2] == 0 && z[sz - 1] == 0);
		if (sz >= 2u << 20)
			CHECK(((uintptr_t)z & ((2u << 20) - 1)) == 0);
		memset(z, 0xa5, sz);
		kl_hugemem_free(z, sz);
	}
	CHECK(kl_hugemem_alloc(0) == NULL);
	kl_hugemem_free(NULL, 1u << 22);

	size_t s;
	CHECK(kl_parse_size("128MiB", &s) == 0 && s == 128u << 20);
	CHECK(kl_parse_size("64k", &s) == 0 && s == 65536);
	CHECK(kl_parse_size("1.5KiB", &s) == 0 && s == 1536);
	CHECK(kl_parse_size("10MB", &s) == 0 && s == 10000000);
	CHECK(kl_parse_size("12XB", &s) != 0);
	CHECK(kl_parse_size("-1", &s) != 0);
	CHECK(kl_parse_size("0.3", &s) != 0);

	CHECK_EQ_STR(kl_strerror(KL_EIO), "I/O error");
	struct kl_errbuf eb;
	kl_errbuf_clear(&eb);
	CHECK_EQ_INT(kl_errbuf_set(&eb, KL_EIO, "first %d", 1), KL_EIO);
	kl_errbuf_set(&eb, KL_EPARSE, "second");
	CHECK_EQ_STR(eb.msg, "first 1");
	CHECK_EQ_INT(eb.code, KL_EIO);

	/* KL_ARRAY_GROW: the first capacity, then doubling, only when full;
	 * an impossible size leaves the array and its capacity alone */
	struct pair {
		int a, b;
	} *v = NULL;
	size_t n = 0, cap = 0;
	for (int i = 0; i < 20; i++) {
		CHECK_EQ_INT(KL_ARRAY_GROW(v, n, cap, 4), KL_OK);
		v[n++] = (struct pair){i, -i};
	}
	CHECK_EQ_INT(cap, 32); /* 4, 8, 16, 32 */
	CHECK(v[19].a == 19 && v[0].b == 0 && v[7].b == -7);
	struct pair *before = v;
	CHECK_EQ_INT(KL_ARRAY_GROW(v, n, cap, 4), KL_OK); /* room left: no call */
	CHECK(v == before);
	size_t huge = SIZE_MAX / 2;
	CHECK_EQ_INT(KL_ARRAY_GROW(v, huge, huge, 4), KL_ENOMEM);
	CHECK(v == before && huge == SIZE_MAX / 2);
	free(v);
	return check_report("test_core");
}
