/*
 * hugemem.h — large zeroed tables in transparent huge pages.
 *
 * kl_hugemem_alloc() maps `n` bytes of zeroed memory (touched lazily, as
 * calloc's fresh mappings are) starting on a 2 MiB boundary and advises
 * the kernel to back it with 2 MiB pages (Linux MADV_HUGEPAGE; a hint,
 * honoured under the usual "madvise" THP setting, ignored under "never").
 * For tables read at random, such as the dedup window's index: each first
 * touch of 2 MiB is one fault instead of 512, and the table spans a few
 * TLB entries instead of thousands — on a VM, where a TLB miss walks two
 * page tables, the random probe of a 4 KiB-paged 8 MiB index cost ~0.7 us.
 * A block under 2 MiB is plain calloc() memory (a huge page would only
 * round its RSS up).
 *
 * Ownership: the caller frees the block with kl_hugemem_free(p, n), the same
 * n. No state, thread-safe.
 */
#ifndef KL_CORE_HUGEMEM_H
#define KL_CORE_HUGEMEM_H

#include <stddef.h>

/* The transparent huge page size on x86-64 and the usual arm64 kernels. */
#define KL_HUGE_PAGE ((size_t)2 << 20)

/* NULL when the mapping fails (or n is 0). */
void *kl_hugemem_alloc(size_t n);
void kl_hugemem_free(void *p, size_t n);

#endif
