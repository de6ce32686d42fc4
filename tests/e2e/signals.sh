# SIGTERM flushes, commits and exits 0; age-based flush works on a live pipe;
# a later run with the same --input-id resumes after the committed part.
# duration: 5 (seconds, for the test runner's ordering: a quiet 2-core machine)
. "$(dirname "$0")/_lib.sh"
"$KL" gen --events 3000 --seed 2 > "$T/in.jsonl"
mkfifo "$T/fifo"
"$KL" ingest --input - --input-id live --lake "$T/lake" --flush-interval 1 < "$T/fifo" 2> "$T/sum" & pid=$!
exec 3> "$T/fifo"
head -n 1000 "$T/in.jsonl" >&3
for i in $(seq 50); do [ -n "$(find "$T/lake/events" -type f 2>/dev/null)" ] && break; sleep 0.1; done
[ -n "$(find "$T/lake/events" -type f 2>/dev/null)" ] || fail "age-based flush did not happen"
sed -n '1001,2000p' "$T/in.jsonl" >&3
sleep 0.5
kill -TERM "$pid"
set +e; wait "$pid"; rc=$?; set -e
exec 3>&-
cat "$T/sum"
[ "$rc" = 0 ] || fail "SIGTERM exit status $rc"
grep -q 'interrupted, committed: read=2000 stored=2000' "$T/sum" || fail "summary after SIGTERM"
head -n 2000 "$T/in.jsonl" > "$T/first"
check_lake "$T/first" "$T/lake" --format parquet

# A stop while a large file is still being hashed (its name, before its first
# record) ends the run at once: nothing stored, nothing written, exit 0. The
# input is a sparse file of 128 GiB, which takes many seconds to hash on any
# machine; the stop must not wait for the rest of it.
truncate -s 128G "$T/huge.jsonl"
"$KL" ingest --input "$T/huge.jsonl" --lake "$T/lake2" --no-progress 2> "$T/sum2" & pid=$!
# SIGTERM only once the CLI has blocked it (it reads it from a signalfd) and
# opened the input: before that the default action would kill the process
ready() {
	local blk
	blk=$(awk '/^SigBlk:/ { print $2 }' "/proc/$pid/status" 2>/dev/null) || return 1
	[ -n "$blk" ] && (( 16#$blk & 0x4000 )) &&
		ls -l "/proc/$pid/fd" 2>/dev/null | grepq 'huge.jsonl'
}
wait_for 20 ready || fail "kinlake did not start hashing the input"
sleep 0.3
t0=$(date +%s%N)
kill -TERM "$pid"
set +e; wait "$pid"; rc=$?; set -e
ms=$((($(date +%s%N) - t0) / 1000000))
cat "$T/sum2"
[ "$rc" = 0 ] || fail "SIGTERM while hashing: exit status $rc"
[ "$ms" -lt 5000 ] || fail "SIGTERM while hashing took ${ms} ms to exit"
# (a new input is read while it is hashed, pipeline/ingest.c run_ahead: the
# records read before the stop are counted, none is stored)
grep -Eq 'interrupted, committed: read=[0-9]+ stored=0 .* files=0 ' "$T/sum2" ||
	fail "summary after SIGTERM while hashing"
[ -z "$(find "$T/lake2/events" -type f 2>/dev/null)" ] || fail "files written after SIGTERM while hashing"
echo "stop while hashing: exit after ${ms} ms"
