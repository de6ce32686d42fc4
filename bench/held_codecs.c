/*
 * held_codecs.c — the codecs a partition buffer could hold its text in
 * (buffer/blocks.h): compression ratio and one thread's CPU time to seal and
 * unseal, on text cut into blocks as the buffer cuts it.
 *
 *   cc -O2 bench/held_codecs.c -lzstd -llz4 -lsnappy -o build/held_codecs
 *   kinlake ingest --input IN --lake L --format jsonl
 *   find L/events -type f | sort | xargs zstdcat > /dev/shm/part.txt
 *   build/held_codecs /dev/shm/part.txt [BLOCK_BYTES (61440)] [MAX_BYTES (100000000)]
 *
 * The sorted partition files make the text one partition after another, as
 * a partition's blocks hold it (the blocks here may straddle two partitions,
 * a few in a hundred). zstd frames are made as blocks.c makes them (one
 * context, checksum on); LZ4 blocks with a state of their own.
 */
#include <lz4.h>
#include <snappy-c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zstd.h>

static double cpu_now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void report(const char *name, size_t n, size_t z, double tc, double td)
{
	printf("%-14s ratio %.3f  compress %5.0f MB/s  decompress %5.0f MB/s  seal+unseal %.3f s per 100 MB\n",
	       name, (double)n / (double)z, (double)n / tc / 1e6, (double)n / td / 1e6,
	       (tc + td) * 1e8 / (double)n);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: held_codecs TEXT [BLOCK_BYTES] [MAX_BYTES]\n");
		return 2;
	}
	size_t block = argc > 2 ? strtoul(argv[2], NULL, 10) : 61440;
	size_t max = argc > 3 ? strtoul(argv[3], NULL, 10) : 100000000;
	FILE *f = fopen(argv[1], "rb");
	char *in = malloc(max);
	size_t cap = ZSTD_compressBound(block) + (size_t)LZ4_compressBound((int)block) + 64;
	char *out = malloc(cap), *dec = malloc(block);
	void *lz4_state = malloc((size_t)LZ4_sizeofState());
	if (!f || !in || !out || !dec || !lz4_state || block == 0 || block > (1u << 30)) {
		fprintf(stderr, "held_codecs: cannot read %s or allocate\n", argv[1]);
		return 1;
	}
	size_t n = fread(in, 1, max, f);
	fclose(f);
	n -= n % block; /* whole blocks only */
	if (n == 0) {
		fprintf(stderr, "held_codecs: less than one block of text\n");
		return 1;
	}
	ZSTD_CCtx *c = ZSTD_createCCtx();
	ZSTD_DCtx *d = ZSTD_createDCtx();
	static const int levels[] = {1, -3, -5};
	for (size_t k = 0; k < sizeof levels / sizeof *levels; k++) {
		ZSTD_CCtx_setParameter(c, ZSTD_c_compressionLevel, levels[k]);
		ZSTD_CCtx_setParameter(c, ZSTD_c_checksumFlag, 1);
		double tc = 0, td = 0;
		size_t z = 0;
		for (size_t o = 0; o < n; o += block) {
			double a = cpu_now();
			size_t r = ZSTD_compress2(c, out, cap, in + o, block);
			tc += cpu_now() - a;
			a = cpu_now();
			size_t got = ZSTD_decompressDCtx(d, dec, block, out, r);
			td += cpu_now() - a;
			if (ZSTD_isError(r) || got != block || memcmp(dec, in + o, block)) {
				fprintf(stderr, "held_codecs: zstd round trip failed\n");
				return 1;
			}
			z += r;
		}
		char name[32];
		snprintf(name, sizeof name, "zstd %d", levels[k]);
		report(name, n, z, tc, td);
	}
	{
		double tc = 0, td = 0;
		size_t z = 0;
		for (size_t o = 0; o < n; o += block) {
			size_t r = snappy_max_compressed_length(block), got = block;
			double a = cpu_now();
			snappy_compress(in + o, block, out, &r);
			tc += cpu_now() - a;
			a = cpu_now();
			snappy_status st = snappy_uncompress(out, r, dec, &got);
			td += cpu_now() - a;
			if (st != SNAPPY_OK || got != block || memcmp(dec, in + o, block)) {
				fprintf(stderr, "held_codecs: snappy round trip failed\n");
				return 1;
			}
			z += r;
		}
		report("snappy", n, z, tc, td);
	}
	for (int acc = 1; acc <= 4; acc *= 2) {
		double tc = 0, td = 0;
		size_t z = 0;
		for (size_t o = 0; o < n; o += block) {
			double a = cpu_now();
			int r = LZ4_compress_fast_extState(lz4_state, in + o, out, (int)block, (int)cap, acc);
			tc += cpu_now() - a;
			a = cpu_now();
			int got = LZ4_decompress_safe(out, dec, r, (int)block);
			td += cpu_now() - a;
			if (r <= 0 || got != (int)block || memcmp(dec, in + o, block)) {
				fprintf(stderr, "held_codecs: LZ4 round trip failed\n");
				return 1;
			}
			z += (size_t)r;
		}
		char name[32];
		snprintf(name, sizeof name, "lz4 acc %d", acc);
		report(name, n, z, tc, td);
	}
	ZSTD_freeCCtx(c);
	ZSTD_freeDCtx(d);
	free(lz4_state);
	free(in);
	free(out);
	free(dec);
	return 0;
}
