/*
 * progress.h — the progress bar `kinlake ingest` draws on a terminal:
 *   [##########....................]  33.3%  120000 events  95000 ev/s
 * (before that, while a large file is hashed to name it, the same bar with
 * "hashing the input to name it").
 * A kl_ingest_opts.progress callback (pipeline/ingest.h); ctx is the FILE *
 * to draw on. Draws nothing for an input of unknown size (a pipe, a stream);
 * the final call erases the bar.
 */
#ifndef KL_CLI_PROGRESS_H
#define KL_CLI_PROGRESS_H

#include "pipeline/ingest.h"

void kl_cli_progress_bar(void *ctx, const struct kl_ingest_progress *p);

#endif
