/* buf.c — see buf.h. */
#include "core/buf.h"
#include "core/hugemem.h"
#include "core/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

void kl_buf_init(struct kl_buf *b, size_t max)
{
	b->data = NULL;
	b->len = b->cap = 0;
	b->max = max ? max : SIZE_MAX;
}

void kl_buf_cleanup(struct kl_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

int kl_buf_grow(struct kl_buf *b, size_t extra)
{
	if (extra > b->max - b->len)
		return KL_ENOMEM;
	size_t need = b->len + extra;
	if (need <= b->cap)
		return KL_OK;
	size_t cap = b->cap ? b->cap : 256;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	if (cap > b->max)
		cap = b->max;
	char *p = realloc(b->data, cap);
	if (!p)
		return KL_ENOMEM;
	b->data = p;
	b->cap = cap;
	return KL_OK;
}

int kl_buf_reserve_huge(struct kl_buf *b, size_t cap)
{
	if (cap > b->max)
		cap = b->max;
	if (b->cap >= cap)
		return KL_OK;
	void *p = NULL;
	if (posix_memalign(&p, KL_HUGE_PAGE, cap))
		return KL_ENOMEM;
#ifdef MADV_HUGEPAGE
	if (cap >= KL_HUGE_PAGE) /* only whole huge pages: the block starts on one */
		(void)madvise(p, cap & ~(KL_HUGE_PAGE - 1), MADV_HUGEPAGE);
#endif
	if (b->len)
		memcpy(p, b->data, b->len);
	free(b->data);
	b->data = p;
	b->cap = cap;
	return KL_OK;
}

int kl_buf_printf(struct kl_buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return KL_EINVAL;
	int rc = kl_buf_reserve(b, (size_t)n + 1);
	if (rc)
		return rc;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return KL_OK;
}

void kl_buf_shrink(struct kl_buf *b, size_t keep)
{
	b->len = 0;
	if (b->cap > keep) {
		free(b->data);
		b->data = NULL;
		b->cap = 0;
	}
}

size_t kl_bytes_common_prefix(const void *a, const void *b, size_t n)
{
	const char *x = a, *y = b;
	size_t i = 0;
#ifdef __SSE2__
	for (; i + 16 <= n; i += 16) {
		__m128i u = _mm_loadu_si128((const __m128i *)(const void *)(x + i));
		__m128i v = _mm_loadu_si128((const __m128i *)(const void *)(y + i));
		unsigned ne = ~(unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(u, v)) & 0xFFFFu;
		if (ne)
			return i + (size_t)__builtin_ctz(ne);
	}
#endif
	while (i < n && x[i] == y[i])
		i++;
	return i;
}
