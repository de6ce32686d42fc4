# --window hour on a stream (kinesis-mock, 4 shards, four hours of events):
# a run killed with kill -9 after its first commit and restarted makes the same
# lake, keys and bytes, as one uninterrupted run (stream positions are stable
# across restarts, and window decisions follow the record sequence).
# duration: 42 (seconds, for the test runner's ordering: a quiet 2-core machine)
. "$(dirname "$0")/_lib.sh"
KL_STACK_SERVERS=kinesis start_stack # (no moto: a local lake)
$K create-stream --stream-name w --shard-count 4
sleep 1
# 4,000 events: kinesis-mock's PutRecords costs O(records in the shard) per
# record, and the property does not depend on the count (the kill lands after
# the first of several hundred files)
"$KL" gen --events 4000 --span 14400 --seed 9 > "$T/in.jsonl"
node "$ROOT/tests/js/kinesis_put.mjs" w "$T/in.jsonl" > /dev/null 2>&1
args=(--stream w --window hour --format jsonl --threads 1)
"$KL" ingest "${args[@]}" --lake "$T/a" --exit-idle 1 2> "$T/sum.a" || fail "clean run: $(tail -2 "$T/sum.a")"
grep -q "stored=4000 " "$T/sum.a" || fail "clean run: $(tail -1 "$T/sum.a")"
"$KL" ingest "${args[@]}" --lake "$T/b" 2>/dev/null & pid=$!
for _ in $(seq 1 400); do [ -n "$(find "$T/b/events" -type f 2>/dev/null | head -1)" ] && break; sleep 0.05; done
kill -9 "$pid"; wait "$pid" 2>/dev/null || true
n=$(find "$T/b/events" -type f | wc -l)
total=$(find "$T/a/events" -type f | wc -l)
echo "killed after $n of $total files"
[ "$n" -gt 0 ] && [ "$n" -lt "$total" ] || fail "the kill did not land mid-run ($n of $total files)"
"$KL" ingest "${args[@]}" --lake "$T/b" --exit-idle 1 2> "$T/sum.b" || fail "restart: $(tail -2 "$T/sum.b")"
digest() { (cd "$1" && find events -type f -print0 | sort -z | xargs -0 sha256sum); }
digest "$T/a" > "$T/da"
digest "$T/b" > "$T/db"
diff "$T/da" "$T/db" > "$T/diff" || fail "the restarted stream made another lake: $(head -4 "$T/diff")"
check_lake "$T/in.jsonl" "$T/b" > /dev/null
echo ok
