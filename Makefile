# kinlake — build, test, demo, bench.
#   make            build build/kinlake
#   make test       install missing deps, build (plain + ASan/UBSan), run every test
#   make demo       1M synthetic events -> ./lake, then questions answered by DuckDB
#   make bench      benchmarks in bench/ (ratios against DuckDB in the same run)
#   make bench-kinesis / bench-lambda / bench-window   the stream, Lambda and file-window benchmarks
#   make bench-compressed   gzip / zstd inputs against the plain file and `gzip -dc |`
#   make bench-s3 / bench-lease   S3 at 50 ms a request: local mode; lease mode vs none
#   make bench-stream-cpu   stream vs local mode's CPU, sink by sink (disk, S3, S3 kept alive)
#   make fuzz       build libFuzzer targets into build-fuzz/
#   make lambda-zip dist/kinlake-lambda.zip: the AWS Lambda custom runtime (provided.al2023)
#   SAN=1           build into build-asan/ with -fsanitize=address,undefined

VERSION := 0.1.0
CC      ?= cc
SAN     ?= 0

ifeq ($(SAN),1)
BUILD   ?= build-asan
OPT     := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
else
BUILD   ?= build
OPT     := -O2 -g
endif

CFLAGS  += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
           -Isrc -DKL_VERSION='"$(VERSION)"' $(OPT) -MMD -MP
LDFLAGS += $(filter -fsanitize%,$(OPT))
# libcurl is not linked: src/aws/curl_lazy.c loads it on first use, so commands
# that make no HTTP request (kinlake lambda on Firehose events) never load it.
LDLIBS  += -lzstd -llz4 -lz -lsnappy -lxxhash -lcrypto -lpthread -lm

LIB_SRC  := $(filter-out src/cli/main.c,$(shell find src -name '*.c' | sort))
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
FUZZ_SRC := $(sort $(wildcard fuzz/fuzz_*.c))
FUZZ_BIN := $(FUZZ_SRC:fuzz/%.c=build-fuzz/%)

.PHONY: all test test-builds test-build-fuzz test-build-asan test-build-plain unit fuzz fuzz-long demo bench bench-kinesis bench-lambda bench-window bench-compressed bench-s3 bench-lease bench-stream-cpu deps clean format up down lambda-zip
all: $(BUILD)/kinlake $(UNIT_BIN)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

# made afresh: `ar r` on an old archive keeps the objects of removed sources
$(BUILD)/libkinlake.a: $(LIB_OBJ)
	rm -f $@
	$(AR) rcs $@ $^

$(BUILD)/kinlake: $(BUILD)/src/cli/main.o $(BUILD)/libkinlake.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libkinlake.a tests/unit/check.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests/unit -o $@ $< $(BUILD)/libkinlake.a $(LDFLAGS) $(LDLIBS)

# The Lambda build (docs/lambda.md): RPATH (not RUNPATH: --disable-new-dtags) =
# $ORIGIN/lib, so the bundled libraries win for transitive dependencies too and
# over Lambda's LD_LIBRARY_PATH (which lists /lib64 first); zstd, lz4 and xxhash
# static; no snappy (Debian's C++ runtime needs glibc 2.35+, AL2023 has 2.34).
LAMBDA_LDFLAGS := -Wl,-rpath,'$$ORIGIN/lib' -Wl,--disable-new-dtags
LAMBDA_LDLIBS  := -Wl,-Bstatic -lzstd -llz4 -lxxhash -Wl,-Bdynamic -lz -lcrypto -lpthread -lm
$(BUILD)/lambda/pq_page.o: src/encode/parquet/pq_page.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -DKL_NO_SNAPPY -c $< -o $@
$(BUILD)/lambda/kinlake: $(BUILD)/src/cli/main.o $(BUILD)/lambda/pq_page.o $(BUILD)/libkinlake.a
	$(CC) $(LDFLAGS) $(LAMBDA_LDFLAGS) -o $@ $^ $(LAMBDA_LDLIBS)

lambda-zip:
	@$(MAKE) --no-print-directory SAN=0 build/lambda/kinlake
	@scripts/lambda_zip.sh build/lambda/kinlake dist/kinlake-lambda.zip

# libFuzzer targets: clang, ASan+UBSan. The library is compiled once with
# -fsanitize=fuzzer-no-link (coverage hooks) and each target links against it.
FUZZ_CFLAGS := -std=c11 -D_GNU_SOURCE -g -O1 -Isrc -DKL_VERSION='"$(VERSION)"' \
               -fsanitize=fuzzer-no-link,address,undefined -Wall -Wextra -Werror
FUZZ_OBJ := $(LIB_SRC:%.c=build-fuzz/%.o)
build-fuzz/%.o: %.c
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -MMD -MP -c $< -o $@
build-fuzz/libkinlake.a: $(FUZZ_OBJ)
	rm -f $@
	$(AR) rcs $@ $^
build-fuzz/%: fuzz/%.c build-fuzz/libkinlake.a
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< build-fuzz/libkinlake.a $(LDLIBS)

# every fuzz target for FUZZ_SECONDS [120] each (tests/fuzz_long.sh)
fuzz-long: fuzz
	@tests/fuzz_long.sh $(or $(FUZZ_SECONDS),120)

fuzz: $(FUZZ_BIN)

unit: all
	@for t in $(UNIT_BIN); do $$t || exit 1; done

deps:
	@scripts/deps.sh

# the three builds use every core unless make was given its own -j
TEST_J = $(if $(filter -j%,$(MAKEFLAGS)),,-j$(shell nproc))
test: deps
	@$(MAKE) --no-print-directory $(TEST_J) test-builds
	@tests/run.sh

# the three builds of `make test` side by side in one pool of jobs (the
# sub-makes share its job slots), so that one build's serial steps (archive,
# links) overlap another's compiles; the longest (fuzz) first
test-builds: test-build-fuzz test-build-asan test-build-plain
test-build-fuzz:
	@$(MAKE) --no-print-directory fuzz
test-build-asan:
	@$(MAKE) --no-print-directory SAN=1 all
test-build-plain:
	@$(MAKE) --no-print-directory all

demo: deps all
	@scripts/demo.sh

bench: deps all
	@bench/run.sh

# Kinesis -> lake on the local stack against the emulator's GetRecords ceiling
bench-kinesis: deps all
	@bench/kinesis.sh

# the Firehose Lambda handler against the usual Python handler
bench-lambda: deps all
	@bench/lambda.sh

# files per partition-hour and file sizes, --window interval vs hour (bench/README.md)
bench-window: all
	@bench/window.sh

# gzip and zstd inputs read as they are, against the plain file and a gzip -dc pipe
bench-compressed: all
	@bench/compressed.sh

# an S3 lake whose every request takes 50 ms more (moto behind tests/fault_proxy.py):
# seconds and requests per run; KINLAKE_B=<binary> runs another build alternately
bench-s3: deps all
	@bench/s3_latency.sh

# lease mode's fenced commits at an hour's close, S3 requests 50 ms later:
# plain vs lease mode; KINLAKE_B=<binary> adds another build in lease mode
bench-lease: deps all
	@bench/lease_commit.sh

# stream mode's CPU against local mode's, to disk, to S3 and to S3 over kept-alive
# connections (replay server and moto): which sink's work makes the difference
bench-stream-cpu: deps all
	@bench/stream_cpu.sh

up: deps all
	@scripts/stack.sh up

down:
	@scripts/stack.sh down

format:
	clang-format -i $$(find src tests fuzz -name '*.[ch]')

clean:
	rm -rf build build-asan build-fuzz

# header dependencies of every build tree, a BUILD=DIR of one's own too (a
# TSan tree, say), so that a changed header rebuilds what includes it there
-include $(shell find $(sort build build-asan build-fuzz $(BUILD)) -name '*.d' 2>/dev/null)
