/*
 * pq_encode.c — CPU time of the Parquet encoder alone, on the partition
 * bodies a run would hand it, without the pipeline, the disk or the other
 * threads (a loaded machine makes whole-run CPU figures move by 20 %; the
 * minimum of several passes over the same bodies moves by a few).
 *
 *   cc -O2 -Isrc -DKL_VERSION='"0.1.0"' bench/pq_encode.c build/libkinlake.a \
 *      -lzstd -llz4 -lz -lsnappy -lxxhash -lcrypto -lpthread -lm -o build/pq_encode
 *   kinlake ingest --input IN --lake L --format jsonl --compression none
 *   find L/events -name '*.jsonl' | sort | build/pq_encode [-p PASSES] [-c zstd|none]
 *
 * Reads the enriched JSON-lines files named on stdin (one partition body
 * each), encodes every one PASSES times (default 5) into memory, and prints
 * the best pass's thread CPU time, the time per million events, the output
 * size (the lake's data bytes, for size experiments) and the XXH64 of all
 * output bytes (equal before and after a change that must not
 * change the lake).
 */
#include "core/err.h"
#include "encode/encoder.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

struct body {
	char *p;
	size_t n;
	uint64_t count;
};

static uint64_t out_bytes; /* bytes of the last pass */

static int sink(void *ctx, const void *p, size_t n)
{
	XXH64_update(ctx, p, n);
	out_bytes += n;
	return 0;
}

static double cpu_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	int passes = 5, opt;
	struct kl_encoder_opts eo = {.compression = KL_COMP_ZSTD};
	while ((opt = getopt(argc, argv, "p:c:")) != -1) {
		if (opt == 'p')
			passes = atoi(optarg);
		else if (opt == 'c')
			eo.compression = kl_compression_parse(optarg);
		else
			return 2;
	}
	struct body *b = NULL;
	size_t nb = 0, cap = 0;
	uint64_t events = 0, bytes = 0;
	char path[4096];
	while (fgets(path, sizeof path, stdin)) {
		path[strcspn(path, "\n")] = '\0';
		FILE *f = fopen(path, "rb");
		if (!f) {
			perror(path);
			return 1;
		}
		if (nb == cap) {
			cap = cap ? cap * 2 : 64;
			b = realloc(b, cap * sizeof *b);
		}
		fseek(f, 0, SEEK_END);
		long n = ftell(f);
		fseek(f, 0, SEEK_SET);
		b[nb].p = malloc((size_t)n + 1);
		b[nb].n = fread(b[nb].p, 1, (size_t)n, f);
		fclose(f);
		b[nb].count = 0;
		for (size_t i = 0; i < b[nb].n; i++)
			b[nb].count += b[nb].p[i] == '\n';
		events += b[nb].count;
		bytes += b[nb].n;
		nb++;
	}
	struct kl_encoder *e = kl_encoder_parquet_new(&eo, NULL, NULL);
	struct kl_errbuf eb;
	double best = 1e30;
	uint64_t digest = 0;
	for (int r = 0; r < passes; r++) {
		XXH64_state_t *h = XXH64_createState();
		XXH64_reset(h, 0);
		out_bytes = 0;
		double t0 = cpu_now();
		for (size_t i = 0; i < nb; i++) {
			kl_errbuf_clear(&eb);
			if (e->ops->encode(e, b[i].p, b[i].n, b[i].count, sink, h, &eb)) {
				fprintf(stderr, "encode: %s\n", eb.msg);
				return 1;
			}
		}
		double t = cpu_now() - t0;
		if (t < best)
			best = t;
		digest = XXH64_digest(h);
		XXH64_freeState(h);
	}
	printf("files %zu events %llu bytes %llu best %.3f s = %.3f s per 1M events, out %llu bytes, digest %016llx\n",
	       nb, (unsigned long long)events, (unsigned long long)bytes, best,
	       best * 1e6 / (double)events, (unsigned long long)out_bytes,
	       (unsigned long long)digest);
	kl_encoder_free(e);
	return 0;
}
