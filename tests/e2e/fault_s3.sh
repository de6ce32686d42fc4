# Fault injection between kinlake and S3 (moto), through tests/fault_proxy.py:
#  1. 15% of the requests fail (500 InternalError, 503 SlowDown, connection
#     resets; 3% more stall 1 s): `ingest --input FILE --lake s3://...` still
#     completes exactly once — the same keys and bytes as a run without faults
#     (multipart uploads included) — and every fault was retried:
#     kinlake_retries_total equals the proxy's count of faulted requests, less
#     the resets on kept-alive connections that libcurl itself sends again;
#     kinlake_s3_requests_total (requests S3 answered) equals the requests
#     the proxy forwarded to moto.
#  2. it never spins: retries come after a backoff (mean gap), the busiest
#     second stays bounded, and an S3 that fails every request gets exactly
#     5 attempts (then one clear error, exit 1, nothing lost);
#  3. an S3 that never answers a PUT (held for an hour): GET /health of a
#     local-mode run says 503 "stalled" once an S3 call (or a flush) has
#     waited --stall-timeout (10 s) with nothing read, sent, answered or
#     committed; the run then stops at SIGTERM within --shutdown-timeout (exit 75).
#  4. a slow link (the proxy reads request bodies at 256 KiB/s): one PUT of a
#     ~3.5 MB file takes longer than --stall-timeout (10 s), and GET /health
#     stays "ok" all along, as its bytes move (kinlake_s3_transferred_bytes_total);
#     the run exits 0 with every event once.
# duration: 54 (seconds, for the test runner's ordering: a quiet 2-core machine)
# duration-asan: 37
. "$(dirname "$0")/_lib.sh"
start_moto
EP=(--endpoint-url "http://127.0.0.1:$MOTO")
aws "${EP[@]}" s3 mb s3://bkt >/dev/null || fail "create bucket"
start_proxy() { fault_proxy "$1" "http://127.0.0.1:$MOTO" "${@:2}"; } # name, args...: sets P
stats() { curl -sf "http://127.0.0.1:$1/__fault/stats"; }
N=${KL_ASAN:+6000}; N=${N:-20000}
"$KL" gen --events "$N" --types 8 --bad-fraction 0.01 --seed 41 > "$T/in.jsonl"
# one big partition too: a 12 MB file goes up as a multipart upload (5 MiB threshold)
"$KL" gen --events 30000 --types 1 --span 60 --seed 42 > "$T/big.jsonl"
OPTS=(--format jsonl --compression none --multipart-threshold 5MiB --quiet)
max_in=256KiB max_big=64MiB # many small files; one multipart file

# 1. without faults, then through the proxy
for f in in big; do
	AWS_ENDPOINT_URL_S3=http://127.0.0.1:$MOTO "$KL" ingest --input "$T/$f.jsonl" --lake s3://bkt/base "${OPTS[@]}" --max-file-bytes "$(eval echo \$max_$f)" ||
		fail "baseline run of $f"
done
start_proxy faulty --fault 500=0.05 --fault 503=0.05 --fault reset=0.05 --fault stall=0.03 --stall-seconds 1 --seed 5
for f in in big; do
	AWS_ENDPOINT_URL_S3=http://127.0.0.1:$P "$KL" ingest --input "$T/$f.jsonl" --lake s3://bkt/faulty "${OPTS[@]}" --max-file-bytes "$(eval echo \$max_$f)" \
		--metrics-file "$T/$f.prom" 2> "$T/$f.err" || fail "run through faults of $f: $(cat "$T/$f.err")"
done
stats "$P" > "$T/stats.json"
echo "proxy: $(cat "$T/stats.json" | jget '{k: v for k, v in d.items() if k != "retry_gaps_ms"}')"
aws "${EP[@]}" s3 sync --quiet s3://bkt/base "$T/base" && aws "${EP[@]}" s3 sync --quiet s3://bkt/faulty "$T/faulty" || fail "sync"
lake_digest "$T/base" > "$T/d.base"; lake_digest "$T/faulty" > "$T/d.faulty"
[ "$(wc -l < "$T/d.base")" -gt 20 ] || fail "too few files: $(wc -l < "$T/d.base")"
diff "$T/d.base" "$T/d.faulty" > /dev/null || fail "the lakes differ: $(diff "$T/d.base" "$T/d.faulty" | head -5)"
cat "$T/in.jsonl" "$T/big.jsonl" > "$T/all.jsonl"
check_lake "$T/all.jsonl" "$T/faulty" > /dev/null || fail "not exactly once"
[ "$(aws "${EP[@]}" s3api list-multipart-uploads --bucket bkt --query 'length(Uploads || `[]`)')" = 0 ] ||
	fail "multipart uploads left behind"
find "$T/faulty/events" -size +5M | grepq . || fail "no multipart-sized file"
faulted=$(jget 'd["faulted"]' < "$T/stats.json")
retries=$(( $(awk '$1 == "kinlake_retries_total" { print $2 }' "$T/in.prom") + $(awk '$1 == "kinlake_retries_total" { print $2 }' "$T/big.prom") ))
echo "faulted requests $faulted ($(jget 'd["reset_reused"]' < "$T/stats.json") resets of reused connections), kinlake retries $retries"
[ "$faulted" -ge 5 ] || fail "too few faults to mean anything: $faulted"
reused=$(jget 'd["reset_reused"]' < "$T/stats.json")
[ "$retries" -le "$faulted" ] && [ "$retries" -ge $((faulted - reused)) ] ||
	fail "kinlake_retries_total $retries, faulted requests $faulted ($reused resets on reused connections)"
answered=$(( $(awk '$1 == "kinlake_s3_requests_total" { print $2 }' "$T/in.prom") + $(awk '$1 == "kinlake_s3_requests_total" { print $2 }' "$T/big.prom") ))
forwarded=$(jget 'd["forwarded"]' < "$T/stats.json")
echo "S3 requests answered $answered, forwarded by the proxy $forwarded"
[ "$answered" = "$forwarded" ] || fail "kinlake_s3_requests_total $answered, requests that reached moto $forwarded"

# 2. never spins
jget 'sum(d["retry_gaps_ms"]) / len(d["retry_gaps_ms"])' < "$T/stats.json" > "$T/gap"
echo "mean gap before a retry: $(cat "$T/gap") ms, busiest second: $(jget 'd["max_per_second"]' < "$T/stats.json") requests"
python3 -c 'import sys; sys.exit(0 if float(sys.argv[1]) >= 30 else 1)' "$(cat "$T/gap")" || fail "retries without backoff"
start_proxy down --fault 503=1.0; P2=$P
t0=$(date +%s.%N)
set +e
AWS_ENDPOINT_URL_S3=http://127.0.0.1:$P2 "$KL" ingest --input "$T/in.jsonl" --lake s3://bkt/down "${OPTS[@]}" 2> "$T/down.err"; rc=$?
set -e
cat "$T/down.err"
[ "$rc" = 1 ] || fail "an S3 that always fails: exit $rc"
grep -q 'SlowDown.*5 attempts' "$T/down.err" || fail "no clear error after 5 attempts"
grep -q 'nothing was lost' "$T/down.err" || fail "no advice"
[ "$(stats "$P2" | jget 'd["requests"]')" = 5 ] || fail "requests to a failing S3: $(stats "$P2")"

# 3. an S3 that never answers a PUT: stalled
start_proxy hang --op-fault PUT=stall:-1 --stall-seconds 3600; P3=$P
AWS_ENDPOINT_URL_S3=http://127.0.0.1:$P3 "$KL" ingest --input "$T/in.jsonl" --lake s3://bkt/hang \
	--format jsonl --no-progress --metrics-listen 127.0.0.1:0 --stall-timeout 10 --shutdown-timeout 1 \
	2> "$T/hang.err" & hpid=$!
pids+=("$hpid")
hport=$(metrics_port "$T/hang.err")
hstatus() { health_status "$hport"; }
stalled() { [ "$(hstatus)" = "503 stalled" ]; }
t0=$SECONDS
wait_for 40 stalled || fail "not stalled with every PUT unanswered: $(hstatus) $(cat "$T/h.json")"
[ $((SECONDS - t0)) -ge 9 ] || fail "stalled after $((SECONDS - t0)) s, before --stall-timeout 10"
grepq 'S3 requests\? under way\|waiting to commit' "$T/h.json" || fail "the reason: $(cat "$T/h.json")"
echo "S3 unanswered: stalled after $((SECONDS - t0)) s: $(cat "$T/h.json")"
kill -TERM "$hpid"
set +e; wait "$hpid"; rc=$?; set -e
[ "$rc" = 75 ] || fail "exit $rc after SIGTERM with S3 unanswered: $(cat "$T/hang.err")"

# 4. a slow link: one PUT longer than --stall-timeout, whose bytes move, is not stalled
head -n 5500 "$T/big.jsonl" > "$T/slow.jsonl"
start_proxy slow --read-bps 262144; P4=$P
AWS_ENDPOINT_URL_S3=http://127.0.0.1:$P4 "$KL" ingest --input "$T/slow.jsonl" --lake s3://bkt/slow \
	--format jsonl --compression none --multipart-threshold 64MiB --no-progress \
	--metrics-listen 127.0.0.1:0 --stall-timeout 10 --metrics-file "$T/slow.prom" 2> "$T/slow.err" & spid=$!
pids+=("$spid")
never_stalled "slow link" "$spid" "$T/slow.err"
aws "${EP[@]}" s3 sync --quiet s3://bkt/slow "$T/slow" || fail "sync slow"
check_lake "$T/slow.jsonl" "$T/slow" > /dev/null || fail "slow link: not exactly once"
size=$(find "$T/slow/events" -type f -printf '%s\n' | awk '{ s += $1 } END { print s }')
moved=$(awk '$1 == "kinlake_s3_transferred_bytes_total" { print $2 }' "$T/slow.prom")
echo "slow link: lake $size bytes, kinlake_s3_transferred_bytes_total $moved"
[ "$size" -ge 3000000 ] && [ "${moved:-0}" -ge "$size" ] ||
	fail "kinlake_s3_transferred_bytes_total ${moved:-none} for a lake of $size bytes"
echo "fault_s3: ok"
