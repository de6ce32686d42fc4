/*
 * array.h — a caller-owned array that grows by doubling: the one copy of
 * "when it is full, realloc it to twice its capacity (or a first
 * capacity)".
 *
 * The array pointer, its count and its capacity (a size_t) stay the
 * caller's own fields; the array is the caller's to free. A failed growth
 * changes nothing: the old array stays valid. The full check is inline, so
 * an append that fits costs a comparison, no call.
 */
#ifndef KL_CORE_ARRAY_H
#define KL_CORE_ARRAY_H

#include <stddef.h>

#include "core/err.h"

/* v (*cap elements of `size` bytes) reallocated to twice *cap elements
 * (`first` when *cap is 0), *cap updated; v itself, *cap unchanged, when
 * out of memory. */
void *kl_array_grow(void *v, size_t *cap, size_t size, size_t first);

/* Room for element n (n <= cap) of the array v: KL_OK, or KL_ENOMEM with v
 * and cap unchanged. Evaluates its arguments more than once: pass plain
 * lvalues (`s->items, s->n, s->cap`). */
#define KL_ARRAY_GROW(v, n, cap, first)                                                            \
	((n) < (cap) ? KL_OK                                                                       \
		     : ((v) = kl_array_grow((v), &(cap), sizeof *(v), (first)),                    \
			(n) < (cap) ? KL_OK : KL_ENOMEM))

#endif
