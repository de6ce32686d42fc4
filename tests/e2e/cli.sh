# CLI contract: --help, --version, one precise message and exit 2 for bad usage.
. "$(dirname "$0")/_lib.sh"
"$KL" --help | grep -q 'ingest' || fail "--help lacks ingest"
"$KL" --version | grep -Eq '^kinlake [0-9]+\.[0-9]+\.[0-9]+$' || fail "--version"
for v in ingest transform gen; do
	"$KL" $v --help | grep -q -- '--' || fail "$v --help"
done
expect2() { # expected-message-fragment, args...
	local want=$1; shift
	set +e; out=$("$KL" "$@" 2>&1 >/dev/null); rc=$?; set -e
	[ "$rc" = 2 ] || fail "'$*' exited $rc, want 2"
	[ "$(printf '%s\n' "$out" | wc -l)" = 1 ] || fail "'$*' printed more than one line: $out"
	printf '%s' "$out" | grep -qF -- "$want" || fail "'$*' said '$out', want '$want'"
}
expect2 "unknown command 'frobnicate'" frobnicate
expect2 "--input (a file, or - for stdin) or --stream is required" ingest --lake "$T/l"
expect2 "--lake is required" ingest --input -
expect2 "unknown option '--colour'" ingest --input - --lake "$T/l" --colour
expect2 "--max-file-bytes: '12XB' is not a size" ingest --input - --lake "$T/l" --max-file-bytes 12XB
expect2 "--compression: 'lz4' is not one of zstd|gzip|none|snappy" ingest --input - --lake "$T/l" --compression lz4
expect2 "--flush-interval: 'soon' is not a duration" ingest --input - --lake "$T/l" --flush-interval soon
expect2 "--memory-limit needs a value" ingest --input - --lake "$T/l" --memory-limit
expect2 "--events: '-5' is not a non-negative integer" gen --events -5
expect2 "--bad-fraction: '2' is not a number in [0, 1]" gen --bad-fraction 2
expect2 "unexpected argument 'extra'" transform extra
# a missing input is a clear runtime error (exit 1), not a crash
set +e; out=$("$KL" ingest --input "$T/nope.jsonl" --lake "$T/l" 2>&1); rc=$?; set -e
[ "$rc" = 1 ] || fail "missing input exited $rc"
printf '%s' "$out" | grep -q "cannot open input" || fail "missing input message: $out"
# sizes accept suffixes
"$KL" gen --events 10 | "$KL" ingest --input - --lake "$T/l" --max-file-bytes 1MiB --memory-limit 64MiB --quiet

expect2 "--compression snappy is only available with --format parquet" ingest --input - --lake "$T/l" --format jsonl --compression snappy
expect2 "--input and --stream exclude each other" ingest --input - --stream s --lake "$T/l"
expect2 "--start: use trim-horizon, latest or at-timestamp:UNIX" ingest --stream s --lake "$T/l" --start yesterday
expect2 "--sse: use aws:kms or AES256" ingest --stream s --lake "$T/l" --sse rot13
expect2 "--lake s3://... is for --stream" ingest --input - --lake s3://b/p
echo ok
