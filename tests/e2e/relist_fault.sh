# ListShards failing while a stream is read (tests/fault_proxy.py --op-fault in front of
# kinesis-mock: the first ListShards goes through, later ones get 503/500):
#  1. transient: 7 failures in a row (three re-lists) do not end the run; the shards read
#     on (events put meanwhile land), the re-list recovers, every failure is a retry in
#     kinlake_retries_total, and after SIGTERM every event is in the lake exactly once.
#  2. persistent: with --list-shards-timeout 3 the run ends with a clear error once
#     ListShards has failed that long, after committing what it read (exactly once; a
#     restart reads nothing new).
#  3. SIGTERM while the re-list backs off: the run exits at once (the backoff is
#     interruptible), with what it read committed.
# duration: 45 (seconds, for the test runner's ordering: a quiet 2-core machine)
. "$(dirname "$0")/_lib.sh"
KL_STACK_SERVERS=kinesis start_stack # (no moto: a local lake)
fault_proxy kin "$AWS_ENDPOINT_URL_KINESIS" --mode kinesis --op-fault ListShards=503:7:1
P=http://127.0.0.1:$P
ls_stat() { curl -sf "$P/__fault/stats" | jget "d['ops'].get('ListShards', {}).get('$1', 0)"; }
op_fault() { curl -sf -X POST "$P/__fault/op?op=ListShards&$1" > /dev/null || fail "proxy: set $1"; }

N=400
$K create-stream --stream-name rl --shard-count 2
sleep 1
"$KL" gen --events "$N" --types 5 --seed 71 > "$T/all.jsonl"
head -n $((N / 2)) "$T/all.jsonl" > "$T/a.jsonl"; tail -n +$((N / 2 + 1)) "$T/all.jsonl" > "$T/b.jsonl"
put rl "$T/a.jsonl" || fail "put"

# 1. transient
AWS_ENDPOINT_URL_KINESIS=$P "$KL" ingest --stream rl --lake "$T/lake1" --format jsonl \
	--metrics-file "$T/m1.prom" --metrics-interval 0.3 2> "$T/err1" & pid=$!
pids+=($pid)
faulted7() { [ "$(ls_stat faulted)" -ge 7 ]; }
wait_for 40 faulted7 || fail "ListShards was not faulted 7 times: $(curl -sf "$P/__fault/stats")"
kill -0 "$pid" 2>/dev/null || fail "the run ended on a failing ListShards: $(cat "$T/err1")"
put rl "$T/b.jsonl" || fail "put b"
recovered() { [ "$(ls_stat calls)" -ge 9 ]; } # the first, 7 faulted, one through again
wait_for 20 recovered || fail "no ListShards went through after the faults"
read_all() { [ "$(metric kinlake_records_read_total "$T/m1.prom")" = "$N" ]; }
wait_for 30 read_all || fail "read $(metric kinlake_records_read_total "$T/m1.prom") of $N"
kill -0 "$pid" 2>/dev/null || fail "the run ended: $(cat "$T/err1")"
kill -TERM "$pid"; wait "$pid" || fail "ingest with a failing ListShards: $(cat "$T/err1")"
cat "$T/err1"
check_lake "$T/all.jsonl" "$T/lake1" > /dev/null || fail "events lost or stored twice"
retries=$(metric kinlake_retries_total "$T/m1.prom")
echo "ListShards: $(ls_stat calls) calls, $(ls_stat faulted) faulted; kinlake retries $retries"
[ "$retries" -ge 7 ] || fail "retries $retries, not every ListShards failure counted"

# 2. persistent: every ListShards after the first fails; 3 s of that end the run
op_fault "kind=500&count=-1&skip=1"
t0=$(date +%s)
rc=0
AWS_ENDPOINT_URL_KINESIS=$P "$KL" ingest --stream rl --lake "$T/lake2" --format jsonl \
	--list-shards-timeout 3 2> "$T/err2" || rc=$?
cat "$T/err2"
[ "$rc" != 0 ] || fail "a persistent ListShards failure did not fail the run"
[ $(($(date +%s) - t0)) -lt 30 ] || fail "the run took $(($(date +%s) - t0)) s to give up"
grep -q "ListShards has failed for [0-9]* s" "$T/err2" || fail "no clear error: $(tail -2 "$T/err2")"
grep -q "InternalFailure" "$T/err2" || fail "the error does not say what ListShards answered"
check_lake "$T/all.jsonl" "$T/lake2" > /dev/null || fail "events lost or stored twice at the failure"
op_fault "kind=500&count=0"
"$KL" ingest --stream rl --lake "$T/lake2" --format jsonl --exit-idle 2 2> "$T/err2b" ||
	fail "restart: $(cat "$T/err2b")"
grep -q "read=0 " "$T/err2b" || fail "the restart read again what was committed: $(tail -1 "$T/err2b")"

# 3. SIGTERM during the re-list's backoff
op_fault "kind=503&count=-1&skip=1"
before=$(ls_stat faulted)
AWS_ENDPOINT_URL_KINESIS=$P "$KL" ingest --stream rl --lake "$T/lake3" --format jsonl \
	--list-shards-timeout 600 2> "$T/err3" & pid=$!
pids+=($pid)
failing() { [ "$(ls_stat faulted)" -ge $((before + 3)) ]; }
wait_for 30 failing || fail "the re-list was not faulted"
kill -0 "$pid" 2>/dev/null || fail "the run ended: $(cat "$T/err3")"
t0=$(date +%s%N)
kill -TERM "$pid"; wait "$pid" || fail "SIGTERM during the backoff: $(cat "$T/err3")"
ms=$((($(date +%s%N) - t0) / 1000000))
echo "exit ${ms} ms after SIGTERM"
[ "$ms" -lt 5000 ] || fail "SIGTERM took $ms ms while ListShards was failing"
check_lake "$T/all.jsonl" "$T/lake3" > /dev/null || fail "events lost or stored twice at SIGTERM"
echo "relist_fault: ok"
