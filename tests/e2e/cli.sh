# CLI contract: --help, --version, one precise message and exit 2 for bad usage.
# duration: 2 (seconds, for the test runner's ordering: a quiet 2-core machine)
. "$(dirname "$0")/_lib.sh"
# (help is captured first: grep -q stops reading at its match, and the
# writer's SIGPIPE would fail the pipeline under pipefail)
help=$("$KL" --help); grep -q 'ingest' <<<"$help" || fail "--help lacks ingest"
"$KL" --version | grepq -E '^kinlake [0-9]+\.[0-9]+\.[0-9]+$' || fail "--version"
for v in ingest transform gen; do
	help=$("$KL" $v --help); grep -q -- '--' <<<"$help" || fail "$v --help"
done
expect2() { # expected-message-fragment, args...
	local want=$1; shift
	set +e; out=$("$KL" "$@" 2>&1 >/dev/null); rc=$?; set -e
	[ "$rc" = 2 ] || fail "'$*' exited $rc, want 2"
	[ "$(printf '%s\n' "$out" | wc -l)" = 1 ] || fail "'$*' printed more than one line: $out"
	grep -qF -- "$want" <<<"$out" || fail "'$*' said '$out', want '$want'"
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
grep -q "cannot open input" <<<"$out" || fail "missing input message: $out"
# ... and so is a directory given as the input; neither leaves a lake behind
set +e; out=$("$KL" ingest --input "$T" --lake "$T/l" 2>&1); rc=$?; set -e
[ "$rc" = 1 ] || fail "a directory as input exited $rc"
printf "%s" "$out" | grepq -F "input $T is a directory: give a file, or - for stdin (its files as one input: cat $T/* | kinlake ingest --input - --input-id NAME ...)" || fail "directory input message: $out"
[ ! -e "$T/l" ] || fail "a run whose input cannot be read made the lake $T/l"
# sizes accept suffixes
"$KL" gen --events 10 | "$KL" ingest --input - --lake "$T/l" --max-file-bytes 1MiB --memory-limit 64MiB --quiet
# stdin has no identity: the summary says what a re-run of the same data does
out=$("$KL" gen --events 10 --seed 2 | "$KL" ingest --input - --lake "$T/l" 2>&1 >/dev/null)
grep -q "stdin is a pipe without --input-id, a new input each run" <<<"$out" || fail "no stdin note: $out"
out=$("$KL" gen --events 10 --seed 2 | "$KL" ingest --input - --input-id cli-2 --lake "$T/l" 2>&1 >/dev/null)
! grep -q "without --input-id" <<<"$out" || fail "stdin note with --input-id: $out"
# ... as has a FIFO or a process substitution given as --input, while stdin
# redirected from a file is that file, named by its content (a re-run adds nothing)
"$KL" gen --events 10 --seed 3 > "$T/ten.jsonl"
out=$("$KL" ingest --input <(cat "$T/ten.jsonl") --lake "$T/l" 2>&1 >/dev/null)
grep -q "is a pipe without --input-id, a new input each run" <<<"$out" || fail "no note for <(...): $out"
out=$("$KL" ingest --input - --lake "$T/l" 2>&1 >/dev/null < "$T/ten.jsonl")
! grep -q "without --input-id" <<<"$out" || fail "note for stdin from a file: $out"
out=$("$KL" ingest --input - --lake "$T/l" 2>&1 >/dev/null < "$T/ten.jsonl")
grep -q "is already in the lake; nothing to do" <<<"$out" || fail "stdin from a file again: $out"

expect2 "--compression snappy is only available with --format parquet" ingest --input - --lake "$T/l" --format jsonl --compression snappy
expect2 "--input and --stream exclude each other" ingest --input - --stream s --lake "$T/l"
expect2 "--start: use trim-horizon, latest or at-timestamp:UNIX" ingest --stream s --lake "$T/l" --start yesterday
# options only a stream reads are refused for a file, not ignored
expect2 "--exit-idle needs --stream" ingest --input - --lake "$T/l" --exit-idle 5
expect2 "--idle-poll-interval needs --stream" ingest --input - --lake "$T/l" --idle-poll-interval 2
expect2 "--lease-table needs --stream" ingest --input - --lake "$T/l" --lease-table t
expect2 "--worker-id needs --lease-table" ingest --stream s --lake "$T/l" --worker-id w
expect2 "--idle-poll-interval: '0.1' is out of range [0.2, 60] seconds" ingest --stream s --lake "$T/l" --idle-poll-interval 0.1
expect2 "--lease-timeout needs --lease-table" ingest --stream s --lake "$T/l" --lease-timeout 5
expect2 "--lease-renew-interval must be shorter than --lease-timeout" ingest --stream s --lake "$T/l" --lease-table t --lease-renew-interval 10 --lease-timeout 10
KINLAKE_LEASE_RENEW_INTERVAL=6 expect2 "KINLAKE_LEASE_RENEW_INTERVAL must be shorter than --lease-timeout" ingest --stream s --lake "$T/l" --lease-table t --lease-timeout 5
expect2 "--sse: 'rot13' is not one of aws:kms|AES256" ingest --stream s --lake "$T/l" --sse rot13

# issue 9: empty values, repeated flags, overflow: one line, exit 2, for every flag
expect2 "--lake needs a non-empty value" ingest --input - --lake ''
expect2 "--stream needs a non-empty value" ingest --stream '' --lake "$T/l"
expect2 "--input needs a non-empty value" ingest --input= --lake "$T/l"
expect2 "--input-id needs a non-empty value" ingest --input - --input-id '' --lake "$T/l"
expect2 "--metrics-file needs a non-empty value" ingest --input - --lake "$T/l" --metrics-file=
expect2 "--memory-limit needs a non-empty value" ingest --input - --lake "$T/l" --memory-limit ''
expect2 "--output needs a non-empty value" gen --output ''
expect2 "--errors needs a non-empty value" transform --errors ''
expect2 "--input is given twice ('a.jsonl', then 'b.jsonl')" ingest --input a.jsonl --input b.jsonl --lake "$T/l"
expect2 "--lake is given twice" ingest --input - --lake "$T/l" --lake=/tmp/other
expect2 "--quiet is given twice" ingest --input - --lake "$T/l" --quiet --quiet
expect2 "--events is given twice" gen --events 1 --events 2
expect2 "--dedup-window is given twice" lambda --dedup-window 1 --dedup-window 2
expect2 "--max-file-bytes: '99999999999GiB' is too large (at most 1000000000000 bytes)" ingest --input - --lake "$T/l" --max-file-bytes 99999999999GiB
expect2 "--memory-limit: '1e400' is too large" ingest --input - --lake "$T/l" --memory-limit 1e400
expect2 "--max-record-bytes: '1' is too small (at least 64 bytes)" ingest --input - --lake "$T/l" --max-record-bytes 1
expect2 "--compression-level: '99999999999999999999' is too large (at most 22)" ingest --input - --lake "$T/l" --compression-level 99999999999999999999
expect2 "--events: '99999999999999999999999' is too large" gen --events 99999999999999999999999
expect2 "--seed: '0x10' is not a non-negative integer" gen --seed 0x10
expect2 "--flush-interval: '1e300' is out of range [0, 86400] seconds" ingest --input - --lake "$T/l" --flush-interval 1e300
expect2 "--max-file-bytes: ' 5' is not a size" ingest --input - --lake "$T/l" --max-file-bytes ' 5'
expect2 "--format: 'csv' is not one of parquet|jsonl" ingest --input - --lake "$T/l" --format csv
expect2 "--sse-kms-key-id needs --sse aws:kms" ingest --input - --lake s3://bkt/p --sse-kms-key-id k
expect2 "--sse is for a lake on S3, but --lake is a directory" ingest --input - --lake "$T/l" --sse AES256
expect2 "--lake: 'B_ad' is not a valid S3 bucket name" ingest --input - --lake s3://B_ad/p
# a URL kinlake does not write to is refused, not made a directory "S3:" here
expect2 "--lake: 'S3://' is not a lake URL kinlake takes" ingest --input - --lake S3://bkt/p
expect2 "--lake: 'S3://' is not a lake URL kinlake takes" catalog ddl --lake S3://bkt/p
[ ! -e S3: ] || fail "a directory S3: was made"
# a lake path that is a file, or goes through one: refused before anything is read
echo x > "$T/afile"
expect2 "--lake: '$T/afile' is not a directory (a file is there)" ingest --input - --lake "$T/afile"
expect2 "--lake: '$T/afile/lake' is not a directory (a part of the path is a file)" ingest --input - --lake "$T/afile/lake"
expect2 "--lake: '$T/afile' is not a directory (a file is there)" catalog ddl --lake "$T/afile"
[ "$(cat "$T/afile")" = x ] || fail "the file given as --lake was changed"
# an S3 lake takes a file now (issue 9); without a region it is a usage error
set +e; out=$(env -u AWS_REGION -u AWS_DEFAULT_REGION "$KL" ingest --input - --lake s3://bkt/p 2>&1 </dev/null); rc=$?; set -e
[ "$rc" = 2 ] || fail "s3 lake without region exited $rc"
[ "$out" = "kinlake ingest: --lake is on S3 but no region is set: set AWS_REGION or pass --region" ] ||
	fail "s3 lake without region: $out"

# the same bad value gives the same message from a flag and from KINLAKE_* (one option table)
lambda_msg() { # VAR=VALUE...: the init error of the Lambda's Kinesis path
	local out
	out=$(env KINLAKE_LAKE="$T/lam" "$@" "$KL" lambda --bench-file /dev/null 2>&1 >/dev/null) &&
		fail "lambda with $* started"
	printf '%s\n' "$out" | sed -n 's/.*"message":"init failed: \(.*\)"}$/\1/p'
}
same() { # flag-args... -- VAR=VALUE...
	local flags=() envs=()
	while [ "$1" != -- ]; do flags+=("$1"); shift; done; shift; envs=("$@")
	set +e; f=$("$KL" ingest --input - --lake "$T/l" "${flags[@]}" 2>&1 </dev/null); rc=$?; set -e
	[ "$rc" = 2 ] || fail "ingest ${flags[*]} exited $rc"
	e=$(lambda_msg "${envs[@]}")
	[ -n "$e" ] || fail "no init error for ${envs[*]}"
	f=${f#kinlake ingest: }
	# the message names the flag or the variable; the rest is identical
	for pair in "--format KINLAKE_FORMAT" "--compression-level KINLAKE_COMPRESSION_LEVEL" \
		"--compression KINLAKE_COMPRESSION" "--max-record-bytes KINLAKE_MAX_RECORD_BYTES" \
		"--sse-kms-key-id KINLAKE_SSE_KMS_KEY_ID" "--sse KINLAKE_SSE" "--lake KINLAKE_LAKE"; do
		set -- $pair; f=${f//$1 /$2=}; f=${f//$1/$2}
	done
	[ "$f" = "$e" ] || fail "flag and environment differ: '$f' vs '$e'"
}
same --format csv -- KINLAKE_FORMAT=csv
same --compression lz4 -- KINLAKE_COMPRESSION=lz4
same --compression-level 99 -- KINLAKE_COMPRESSION_LEVEL=99
same --max-record-bytes 99999999999GiB -- KINLAKE_MAX_RECORD_BYTES=99999999999GiB
same --sse rot13 -- KINLAKE_SSE=rot13
same --format jsonl --compression snappy -- KINLAKE_FORMAT=jsonl KINLAKE_COMPRESSION=snappy
e=$(lambda_msg KINLAKE_FORMAT=csv)
[ "$e" = "KINLAKE_FORMAT: 'csv' is not one of parquet|jsonl" ] || fail "KINLAKE_FORMAT=csv: $e"
help=$("$KL" lambda --help); grep -q 'KINLAKE_COMPRESSION_LEVEL' <<<"$help" || fail "lambda --help lacks the KINLAKE_* table"
grep -q 'KINLAKE_MEMORY_LIMIT' <<<"$help" && fail "lambda --help lists a variable the Lambda does not read"
e=$(lambda_msg KINLAKE_MEMORY_LIMIT=1GiB)
[ "$e" = "KINLAKE_MEMORY_LIMIT is a setting of \`kinlake ingest\` that the Lambda does not read (its variables: kinlake lambda --help)" ] ||
	fail "KINLAKE_MEMORY_LIMIT in the Lambda: '$e'"

# `kinlake ingest` configured by KINLAKE_* variables alone (as in a container), a flag winning
printf '{"event_uuid":"e1","event_name":"a:b","created_at":1700000000}\n' > "$T/env.jsonl"
env KINLAKE_INPUT="$T/env.jsonl" KINLAKE_LAKE="$T/envlake" KINLAKE_FORMAT=jsonl \
	"$KL" ingest --quiet || fail "ingest from KINLAKE_* variables failed"
ls "$T"/envlake/events/event_type=a/event_subtype=b/dt=2023-11-14/hr=22/*.jsonl.zst >/dev/null ||
	fail "KINLAKE_INPUT / KINLAKE_LAKE / KINLAKE_FORMAT not applied: $(find "$T/envlake" -type f)"
env KINLAKE_LAKE="$T/envlake2" KINLAKE_FORMAT=jsonl "$KL" ingest --input "$T/env.jsonl" \
	--format parquet --quiet || fail "flag over variable failed"
ls "$T"/envlake2/events/*/*/*/*/*.parquet >/dev/null || fail "--format did not win over KINLAKE_FORMAT"
set +e; out=$(env KINLAKE_MEMORY_LIMIT=lots "$KL" ingest --input "$T/env.jsonl" --lake "$T/l" 2>&1); rc=$?; set -e
[ "$rc" = 2 ] && [ "$out" = "kinlake ingest: KINLAKE_MEMORY_LIMIT: 'lots' is not a size (examples: 4096, 64KiB, 128MiB, 1GiB)" ] ||
	fail "KINLAKE_MEMORY_LIMIT=lots: exit $rc: $out"
set +e; out=$(env KINLAKE_STREAM=events "$KL" ingest --input "$T/env.jsonl" --lake "$T/l" 2>&1); rc=$?; set -e
[ "$rc" = 2 ] && [ "$out" = "kinlake ingest: --input and KINLAKE_STREAM exclude each other" ] ||
	fail "KINLAKE_STREAM with --input: exit $rc: $out"
"$KL" ingest --help | grepq 'KINLAKE_MEMORY_LIMIT=' || fail "ingest --help does not name the variables"
# SIGTERM while the stream's shards are still being listed (no server answers):
# a clean stop that says so, not "0 shards"
AWS_REGION=us-east-1 AWS_ENDPOINT_URL=http://127.0.0.1:1 AWS_ACCESS_KEY_ID=x AWS_SECRET_ACCESS_KEY=y \
	"$KL" ingest --stream s --lake "$T/sl" --no-progress 2> "$T/e-list" & pid=$!
sleep 1; kill -TERM $pid; rc=0; wait $pid || rc=$?
[ "$rc" = 0 ] && grep -q "stream s: stopped before its shards were listed" "$T/e-list" ||
	fail "SIGTERM while listing shards: exit $rc: $(cat "$T/e-list")"

# runtime errors: exit 1, and "run again" only where it is the advice
set +e; out=$("$KL" ingest --input "$T/nope.jsonl" --lake "$T/l" 2>&1); rc=$?; set -e
[ "$rc" = 1 ] || fail "missing input exited $rc"
[ "$(printf '%s\n' "$out" | wc -l)" = 1 ] || fail "missing input: more than one line: $out"
grep -q "run the same command again" <<<"$out" && fail "missing input advises to run again: $out"
set +e; out=$("$KL" ingest --input "$T" --lake "$T/l" 2>&1); rc=$?; set -e
[ "$rc" = 1 ] || fail "a directory as input exited $rc"
grep -q "run the same command again" <<<"$out" && fail "a directory as input advises to run again: $out"
# an input compressed in a format kinlake does not decode (gzip and zstd it
# does: e2e/compressed) is refused, not turned into dead letters line by line
"$KL" gen --events 50 | bzip2 > "$T/ev.jsonl.bz2"
set +e; out=$("$KL" ingest --input "$T/ev.jsonl.bz2" --lake "$T/bzlake" 2>&1); rc=$?; set -e
[ "$rc" = 1 ] && [ "$out" = "kinlake ingest: unsupported: input $T/ev.jsonl.bz2 is bzip2-compressed, not JSON lines: decompress it first (e.g. bzip2 -dc $T/ev.jsonl.bz2 | kinlake ingest --input - --input-id NAME ...); gzip and zstd inputs are read as they are" ] ||
	fail "bzip2 input: exit $rc: $out"
[ ! -e "$T/bzlake" ] || fail "a lake was made for a bzip2 input"
if command -v xz >/dev/null; then
	"$KL" gen --events 50 | xz > "$T/ev.jsonl.xz"
	set +e; out=$("$KL" ingest --input - --lake "$T/bzlake" 2>&1 < "$T/ev.jsonl.xz"); rc=$?; set -e
	[ "$rc" = 1 ] && grep -q "the input is xz-compressed, not JSON lines" <<<"$out" ||
		fail "xz on stdin: exit $rc: $out"
	[ -z "$(find "$T/bzlake" -type f -path '*/events/*' -o -type f -path '*/errors/*' 2>/dev/null)" ] ||
		fail "data files or dead letters in the lake of an xz input: $(find "$T/bzlake" -type f)"
fi
set +e; out=$("$KL" transform 2>&1 >/dev/null < "$T/ev.jsonl.bz2"); rc=$?; set -e
[ "$rc" = 1 ] && grep -q "the input is bzip2-compressed" <<<"$out" || fail "transform of bzip2: exit $rc: $out"
# a run that fails after it started: the lake's _kinlake is a file (a lake
# path that is a file, or under one, is refused as a usage error, above)
mkdir -p "$T/badlake" && : > "$T/badlake/_kinlake"
"$KL" gen --events 5 > "$T/five.jsonl"
set +e; out=$("$KL" ingest --input "$T/five.jsonl" --lake "$T/badlake" 2>&1); rc=$?; set -e
[ "$rc" = 1 ] || fail "a failing lake exited $rc"
grep -q "nothing was lost: data not yet committed stays in the input; run the same command again" <<<"$out" ||
	fail "a readable input: no resume advice: $out"
set +e; out=$(cat "$T/five.jsonl" | "$KL" ingest --input - --lake "$T/badlake" 2>&1); rc=$?; set -e
[ "$rc" = 1 ] || fail "stdin, a failing lake exited $rc"
grep -q "a pipe without --input-id cannot be resumed" <<<"$out" || fail "stdin advice: $out"
grep -q "run the same command again" <<<"$out" && fail "stdin advises to run again: $out"
set +e; out=$("$KL" ingest --input - --lake "$T/badlake" 2>&1 < "$T/five.jsonl"); rc=$?; set -e
[ "$rc" = 1 ] || fail "stdin from a file, a failing lake exited $rc"
grep -q "run the same command again to resume" <<<"$out" || fail "stdin from a file: advice: $out"

# --dry-run: the settings, each with its source, and nothing read or written;
# bad options still get exit 2 first
out=$(KINLAKE_FORMAT=jsonl "$KL" ingest --input "$T/five.jsonl" --lake "$T/dry" --memory-limit 1.5GiB --flush-interval 90 --dry-run)
[ ! -e "$T/dry" ] || fail "--dry-run made the lake"
line() { awk -v n="$1" '$1 == n { $1 = ""; sub(/^ +/, ""); print; exit }' <<<"$out"; }
[ "$(line format)" = "jsonl env" ] || fail "--dry-run format: '$(line format)'"
[ "$(line memory-limit)" = "1536MiB flag" ] || fail "--dry-run memory-limit: '$(line memory-limit)'"
[ "$(line flush-interval)" = "90s flag" ] || fail "--dry-run flush-interval: '$(line flush-interval)'"
[ "$(line compression)" = "zstd default" ] || fail "--dry-run compression: '$(line compression)'"
[ "$(line window)" = "hour default: auto = hour for a file" ] || fail "--dry-run window: '$(line window)'"
line threads | grepq -E '^[0-9]+ default: 0 = the CPUs this process may use$' || fail "--dry-run threads: '$(line threads)'"
[ "$(line stream)" = "- unset" ] || fail "--dry-run stream: '$(line stream)'"
! grep -q "^dry-run" <<<"$out" || fail "--dry-run lists itself"
# what it prints for the settings given can be given back as flags, with the
# same result (the defaults too, but stream-only ones are refused for a file)
args=()
while read -r name value source _; do
	case $source in flag | env) ;; *) continue ;; esac
	[ "$value" = on ] && { args+=("--$name"); continue; }
	args+=("--$name=$value")
done <<<"$out"
again=$("$KL" ingest "${args[@]}" --dry-run)
[ "$(grep -v '^#' <<<"$again" | awk '{ print $1, $2 }')" = "$(grep -v '^#' <<<"$out" | awk '{ print $1, $2 }')" ] ||
	fail "--dry-run's values given back as flags differ: $(diff <(echo "$out") <(echo "$again"))"
expect2 "is not one of parquet|jsonl" ingest --input "$T/five.jsonl" --lake "$T/dry" --format csv --dry-run
[ ! -e "$T/dry" ] || fail "--dry-run with a bad option made the lake"
echo ok
