/*
 * getrecords_read.c — CPU time of reading GetRecords answers alone: the
 * Kinesis source's work between the HTTP body and the user records it hands
 * the pipeline (the answer checked as JSON, each record's members, base64,
 * KPL, sequence-number marks), without a server, the pipeline or the other
 * threads. A stream run's CPU moves by ±15 % from run to run on this kind of
 * machine; the best of several passes over the same answer moves by ~1 %.
 *
 *   cc -O2 -Isrc bench/getrecords_read.c build/libkinlake.a -lcurl -lzstd -llz4 \
 *      -lz -lsnappy -lxxhash -lcrypto -lpthread -lm -o build/getrecords_read
 *   build/getrecords_read [-n RECORDS] [-p PASSES] < events.jsonl
 *
 * Makes one answer of the first RECORDS lines of stdin (default 4,600: one
 * call's ~2 MB of data at the production stream's ~430 bytes an event) in
 * the shape Kinesis sends (SequenceNumber, ApproximateArrivalTimestamp,
 * base64 Data, PartitionKey, EncryptionType; NextShardIterator and
 * MillisBehindLatest after Records), feeds it to a new source PASSES times
 * (default 30; the feed copies the body, as the HTTP client's write does),
 * takes every record, and prints the best pass's thread CPU time per record
 * and the XXH64 of the records' bytes (the same before and after a change
 * that must hand out the same records).
 */
#include "core/base64.h"
#include "core/buf.h"
#include "core/err.h"
#include "source/source.h"
#include "source/source_kinesis.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

static double thread_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	long records = 4600, passes = 30;
	int c;
	while ((c = getopt(argc, argv, "n:p:")) != -1) {
		if (c == 'n')
			records = strtol(optarg, NULL, 10);
		else if (c == 'p')
			passes = strtol(optarg, NULL, 10);
		else
			return fprintf(stderr, "usage: getrecords_read [-n RECORDS] [-p PASSES] < JSONL\n"), 2;
	}
	if (records < 1 || passes < 1)
		return fprintf(stderr, "getrecords_read: -n and -p are at least 1\n"), 2;
	struct kl_buf body;
	kl_buf_init(&body, 0);
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	long got = 0;
	int rc = kl_buf_puts(&body, "{\"Records\":[");
	while (!rc && got < records && (n = getline(&line, &cap, stdin)) > 0) {
		if (line[n - 1] == '\n')
			n--;
		rc = kl_buf_printf(&body,
				   "%s{\"SequenceNumber\":\"4959033827149025660855969253836157109592157%013ld\","
				   "\"ApproximateArrivalTimestamp\":%ld.%03ld,\"Data\":\"",
				   got ? "," : "", got, 1764547200 + got / 5, got % 1000);
		rc = rc ? rc : kl_base64_encode(&body, line, (size_t)n);
		rc = rc ? rc : kl_buf_printf(&body, "\",\"PartitionKey\":\"%08lx-7e1d-4b5c-9f00-%012lx\","
					      "\"EncryptionType\":\"NONE\"}", got * 2654435761ul, got);
		got++;
	}
	rc = rc ? rc : kl_buf_puts(&body, "],\"NextShardIterator\":\"AAAAAAAAAAFq\",\"MillisBehindLatest\":0}");
	free(line);
	if (rc || !got)
		return fprintf(stderr, "getrecords_read: %s\n", rc ? "out of memory" : "no input lines"), 1;
	struct kl_kinesis_source_opts o = {.stream = "bench", .shard_id = "shardId-000000000000",
					   .region = "us-east-1", .stop_fd = -1};
	double best = 1e30;
	uint64_t digest = 0;
	size_t bytes = 0;
	for (long p = 0; p < passes; p++) {
		struct kl_errbuf eb = {{0}, 0};
		struct kl_source *s = kl_source_kinesis_new(&o, &eb);
		if (!s)
			return fprintf(stderr, "getrecords_read: %s\n", eb.msg), 1;
		XXH64_state_t *h = XXH64_createState();
		XXH64_reset(h, 0);
		long handed = 0;
		bytes = 0;
		double t0 = thread_s();
		int r = kl_source_kinesis_feed(s, body.data, body.len);
		struct kl_record rec = {0};
		while (!r && (r = kl_source_next(s, &rec, 0)) == KL_SRC_RECORD) {
			handed++;
			bytes += rec.n;
			if (p == 0)
				XXH64_update(h, rec.p, rec.n);
			r = 0;
		}
		double t = thread_s() - t0;
		if (r != KL_SRC_IDLE || handed != got)
			return fprintf(stderr, "getrecords_read: %ld of %ld records, then %d: %s\n",
				       handed, got, r, s->err.msg),
			       1;
		if (p == 0)
			digest = XXH64_digest(h);
		XXH64_freeState(h);
		kl_source_free(s);
		if (t < best)
			best = t;
	}
	printf("records %ld  answer %zu bytes  data %zu bytes  best of %ld: %.1f ns a record  "
	       "xxh64 %016llx\n",
	       got, body.len, bytes, passes, best * 1e9 / (double)got, (unsigned long long)digest);
	kl_buf_cleanup(&body);
	return 0;
}
