/* progress.c — see progress.h. */
#include "cli/progress.h"

#include <inttypes.h>
#include <stdio.h>

void kl_cli_progress_bar(void *ctx, const struct kl_ingest_progress *p)
{
	FILE *f = ctx;
	if (!p->size)
		return;
	double frac = (double)p->pos / (double)p->size;
	if (frac > 1)
		frac = 1;
	char bar[31];
	int fill = (int)(frac * 30);
	for (int i = 0; i < 30; i++)
		bar[i] = i < fill ? '#' : '.';
	bar[30] = '\0';
	if (p->hashing) /* before the first record: the input's name is its hash */
		fprintf(f, "\r[%s] %5.1f%%  hashing the input to name it (--input-id skips this) ",
			bar, frac * 100);
	else
		fprintf(f, "\r[%s] %5.1f%%  %" PRIu64 " events  %.0f ev/s ", bar, frac * 100,
			p->records, p->seconds > 0 ? (double)p->records / p->seconds : 0.0);
	if (p->final)
		fputs("\r\033[K", f);
}
