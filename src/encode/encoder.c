/* encoder.c — the names of the encoder choices (see encoder.h). */
#include "encode/encoder.h"

#include <string.h>

int kl_compression_parse(const char *s)
{
	static const struct {
		const char *name;
		enum kl_compression c;
	} names[] = {{"zstd", KL_COMP_ZSTD},
		     {"gzip", KL_COMP_GZIP},
		     {"none", KL_COMP_NONE},
		     {"snappy", KL_COMP_SNAPPY}};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (!strcmp(s, names[i].name))
			return (int)names[i].c;
	return -1;
}

int kl_format_parse(const char *s)
{
	if (!strcmp(s, "jsonl"))
		return KL_FORMAT_JSONL;
	if (!strcmp(s, "parquet"))
		return KL_FORMAT_PARQUET;
	return -1;
}
