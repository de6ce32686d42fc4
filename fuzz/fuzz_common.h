/* fuzz_common.h — what the libFuzzer targets share: REQUIRE(), an invariant
 * that aborts (libFuzzer then saves the input as a crash). */
#ifndef KL_FUZZ_COMMON_H
#define KL_FUZZ_COMMON_H

#include <stdio.h>
#include <stdlib.h>

#define REQUIRE(c)                                                                                 \
	do {                                                                                       \
		if (!(c)) {                                                                        \
			fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #c);  \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

#endif
