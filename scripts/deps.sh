#!/bin/sh
# Install what the build, tests and demo need, only when it is missing.
# Debian packages via apt, JavaScript peers (DuckDB, Parquet readers, kinesis-mock) via `npm ci`.
set -e
cd "$(dirname "$0")/.."
need=""
for h in zstd.h:libzstd-dev lz4.h:liblz4-dev zlib.h:zlib1g-dev snappy-c.h:libsnappy-dev xxhash.h:libxxhash-dev \
         x86_64-linux-gnu/curl/curl.h:libcurl4-openssl-dev openssl/evp.h:libssl-dev; do
	f=${h%%:*}; p=${h##*:}
	[ -e "/usr/include/$f" ] || need="$need $p"
done
command -v clang >/dev/null 2>&1 || need="$need clang"
[ -e /usr/lib/llvm-14/lib/clang/14.0.6/lib/linux/libclang_rt.fuzzer-x86_64.a ] || \
	ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a >/dev/null 2>&1 || need="$need libclang-rt-dev"
command -v node >/dev/null 2>&1 || need="$need nodejs npm"
# zstd CLI: tests/js/pq_readers.mjs decompresses ZSTD pages for hyparquet with it.
command -v zstd >/dev/null 2>&1 || need="$need zstd"
# tests/e2e/cli.sh: a bzip2 input is refused (gzip and zstd are read).
command -v bzip2 >/dev/null 2>&1 || need="$need bzip2"
# make lambda-zip packs dist/kinlake-lambda.zip; its test unpacks it.
command -v zip >/dev/null 2>&1 || need="$need zip"
command -v unzip >/dev/null 2>&1 || need="$need unzip"
# tests/e2e/syscalls.sh counts the syscalls of an ingest with strace.
command -v strace >/dev/null 2>&1 || need="$need strace"
# tests/e2e/crash_midnight.sh sets killed runs' wall clock to a past day with libfaketime.
[ -e /usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1 ] || need="$need faketime"
# tests/e2e/catalog_ddl.sh parses the Athena DDL with sqlglot (Debian's python3).
[ -d /usr/lib/python3/dist-packages/sqlglot ] || need="$need python3-sqlglot"
if [ -n "$need" ]; then
	echo "deps: installing$need" >&2
	SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
	$SUDO apt-get update -q >&2 || true
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q $need >&2
fi
if [ ! -d node_modules/@duckdb/node-api ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
	echo "deps: npm ci" >&2
	npm ci --no-audit --no-fund --loglevel=error >&2
fi
