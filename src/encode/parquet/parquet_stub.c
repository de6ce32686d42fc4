/* parquet_stub.c — placeholder until the Parquet writer lands (issue 3). */
#include "pipeline/ingest.h"
#include "encode/encoder.h"

#include <stddef.h>

struct kl_encoder *kl_encoder_parquet_new(const struct kl_ingest_opts *o);
struct kl_encoder *kl_encoder_parquet_new(const struct kl_ingest_opts *o)
{
	(void)o;
	return NULL;
}
