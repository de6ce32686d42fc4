/* hugemem.c — see hugemem.h. */
#include "core/hugemem.h"

#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>

static size_t round_up(size_t n) { return (n + KL_HUGE_PAGE - 1) & ~(KL_HUGE_PAGE - 1); }

void *kl_hugemem_alloc(size_t n)
{
	if (!n || n > SIZE_MAX - 2 * KL_HUGE_PAGE)
		return NULL;
	if (n < KL_HUGE_PAGE) /* less than one huge page: RSS would round up to it */
		return calloc(1, n);
	size_t len = round_up(n), map = len + KL_HUGE_PAGE;
	char *base = mmap(NULL, map, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (base == MAP_FAILED)
		return NULL;
	/* keep the 2 MiB-aligned len bytes inside; give back the slack */
	char *p = (char *)(((uintptr_t)base + KL_HUGE_PAGE - 1) & ~(uintptr_t)(KL_HUGE_PAGE - 1));
	if (p > base)
		munmap(base, (size_t)(p - base));
	if (base + map > p + len)
		munmap(p + len, (size_t)(base + map - (p + len)));
#ifdef MADV_HUGEPAGE
	(void)madvise(p, len, MADV_HUGEPAGE);
#endif
	return p;
}

void kl_hugemem_free(void *p, size_t n)
{
	if (p && n < KL_HUGE_PAGE)
		free(p);
	else if (p)
		munmap(p, round_up(n));
}
