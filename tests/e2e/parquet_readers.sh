#!/bin/bash
# parquet_readers.sh — Parquet writer output read back by three independent
# readers (DuckDB, hyparquet, parquet-wasm), value by value.
#
# Runs test_parquet (build/, or build-asan/ when KL_ASAN=1) to write sample
# files (every codec, chunks of mixed codecs in one file, dictionary fallback,
# many pages and row groups, all-null columns, edge values) with their
# expected values as JSON, checks each with
# tests/js/check_parquet.mjs, then writes 50 random files with
# `test_parquet --random` and reads them back with tests/js/fuzz_readback.mjs.
# Also checks DuckDB's parquet_schema()/parquet_metadata() view of a file.
# Exits 0 only if everything matched. $KINLAKE is not used.
# duration: 18 (seconds, for the test runner's ordering: a quiet 2-core machine)
set -euo pipefail
cd "$(dirname "$0")/../.."

if [ "${KL_ASAN:-0}" = 1 ] && [ -d build-asan ]; then
	bin=build-asan/tests/test_parquet
else
	bin=build/tests/test_parquet
fi
[ -x "$bin" ] || { echo "missing $bin (run make / make SAN=1)"; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/kl_pq_e2e.XXXXXX")
trap 'rm -rf "$work"' EXIT

KL_PQ_OUT=$work/samples "$bin"
for f in basic_uncompressed basic_snappy basic_gzip basic_zstd dict_fallback dict_none multi all_null \
	raw_small_chunks two_pages_small_last; do
	[ -f "$work/samples/$f.parquet" ] || { echo "missing sample $f.parquet"; exit 1; }
done
node tests/js/check_parquet.mjs "$work"/samples/*.parquet

"$bin" --random "$work/random" 50
node tests/js/fuzz_readback.mjs "$work/random"

node tests/js/duckdb_meta.mjs "$work/samples/basic_zstd.parquet"
echo "parquet_readers: all files matched"
