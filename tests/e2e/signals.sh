# SIGTERM flushes, commits and exits 0; age-based flush works on a live pipe;
# a later run with the same --input-id resumes after the committed part.
# duration: 4 (seconds, for the test runner's ordering: a quiet 2-core machine)
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
