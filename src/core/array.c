/* array.c — see array.h. */
#include "core/array.h"

#include <stdint.h>
#include <stdlib.h>

void *kl_array_grow(void *v, size_t *cap, size_t size, size_t first)
{
	if (*cap > SIZE_MAX / 2 / size)
		return v;
	size_t n = *cap ? *cap * 2 : first;
	void *p = realloc(v, n * size);
	if (!p)
		return v;
	*cap = n;
	return p;
}
