#!/usr/bin/env bash
# bench/zstd_calls.sh: how much zstd work one kinlake run asks for — the calls to
# ZSTD_compressCCtx (Parquet pages and dictionary pages), the bytes they take and give,
# and the calls by input size — counted by a small LD_PRELOAD shim built here (cc, the
# zstd headers). A count, not a timing: it does not vary between runs, so a change to
# what is compressed (bench/README.md, session 37: numeric pages' candidates) shows
# exactly, where the CPU it saves is below the machine's spread. Compare with the
# data files' own sizes (what a run keeps) to see what was compressed and thrown away.
#   bench/zstd_calls.sh [-- ARGS...]   kinlake ingest ARGS [--input bench/out/events-1M.jsonl
#                                      --lake a fresh temporary directory]
#   KINLAKE [build/kinlake]            the binary
# Prints one line: calls, bytes in, bytes out, then calls by input size.
set -euo pipefail
. "$(dirname "$0")/_lib.sh"
[ "${1:-}" = "--" ] && shift
tmp=$(mktemp -d "${TMPDIR:-/tmp}/kl-zcalls.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
cat >"$tmp/shim.c" <<'EOF'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <zstd.h>

typedef size_t (*compress_fn)(ZSTD_CCtx *, void *, size_t, const void *, size_t, int);
static _Atomic unsigned long calls, bytes_in, bytes_out, by_size[7];
static const size_t bounds[6] = {256, 1024, 4096, 16384, 65536, 262144};

size_t ZSTD_compressCCtx(ZSTD_CCtx *c, void *dst, size_t cap, const void *src, size_t n, int level)
{
	static compress_fn real;
	if (!real)
		real = (compress_fn)dlsym(RTLD_NEXT, "ZSTD_compressCCtx");
	size_t r = real(c, dst, cap, src, n, level);
	int b = 0;
	while (b < 6 && n >= bounds[b])
		b++;
	calls++, by_size[b]++, bytes_in += n;
	if (!ZSTD_isError(r))
		bytes_out += r;
	return r;
}

__attribute__((destructor)) static void report(void)
{
	fprintf(stderr,
		"zstd_calls: calls=%lu in=%lu out=%lu by input size: <256 %lu, <1k %lu, <4k %lu, "
		"<16k %lu, <64k %lu, <256k %lu, more %lu\n",
		calls, bytes_in, bytes_out, by_size[0], by_size[1], by_size[2], by_size[3],
		by_size[4], by_size[5], by_size[6]);
}
EOF
cc -O2 -shared -fPIC -o "$tmp/shim.so" "$tmp/shim.c" -ldl || die "cannot build the shim (cc, libzstd-dev)"
[ $# -gt 0 ] || set -- --input bench/out/events-1M.jsonl
[ -f bench/out/events-1M.jsonl ] || [ "$*" != "--input bench/out/events-1M.jsonl" ] ||
	"$KINLAKE" gen --events 1000000 --span 21600 --output bench/out/events-1M.jsonl
has_lake=0
for a in "$@"; do [ "$a" = --lake ] && has_lake=1; done
[ "$has_lake" = 1 ] || set -- "$@" --lake "$tmp/lake"
LD_PRELOAD="$tmp/shim.so" "$KINLAKE" ingest --no-progress "$@" 2>&1 >/dev/null | grep '^zstd_calls:' ||
	die "no count: did the run fail? ($KINLAKE ingest $*)"
