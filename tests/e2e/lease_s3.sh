# ingest --stream --lease-table with an S3 lake (moto's S3: conditional
# writes, lease/fence.h): two workers share a 2-shard stream; one is
# SIGSTOPped while it reads a batch, for longer than the lease timeout, and
# SIGCONTed once the other owns its shards. Its late state and file writes
# go through the S3 preconditions (If-Match / If-None-Match: *), which every
# new owner sets up by claiming the state log; after both stop the lake holds
# every event exactly once, each shard's state log names the owner that
# claimed it last (an O line), and the refusals are a metric.
# duration: 100 (seconds, for the test runner's ordering)
# no-asan: the fence runs under ASan in e2e-asan/lease_ddb (local and S3)
. "$(dirname "$0")/_lib.sh"
export KL_STACK_DIR=$T/stack KL_KINESIS_PORT=0 KL_MOTO_PORT=0
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill -CONT "$p" 2>/dev/null || true; kill -TERM "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
	"$ROOT/scripts/stack.sh" down >/dev/null 2>&1; rm -rf "$T"
}
trap cleanup EXIT
"$ROOT/scripts/stack.sh" up > /dev/null
. "$T/stack/env" # AWS_ENDPOINT_URL is moto: DynamoDB and S3 go there
K="aws --endpoint-url $AWS_ENDPOINT_URL_KINESIS kinesis"
put() { node "$ROOT/tests/js/kinesis_put.mjs" "$@" 2>/dev/null; }
metric() { awk -v k="$1" '$1 == k { print $2 }' "$2" 2>/dev/null || echo 0; }
stored() { local v; v=$(metric kinlake_events_stored_total "$T/$1.prom"); echo "${v:-0}"; }
dump() { grep -H "lease\|stored" "$T"/w?.prom | grep -v "# "; tail -n 5 "$T"/w?.log; }
TIMEOUT=3 RENEW=1 N=1000

$K create-stream --stream-name s3lease --shard-count 2
s3lite "$AWS_ENDPOINT_URL" mb s3://lease-lake
sleep 1
start_worker() { # id
	"$KL" ingest --stream s3lease --lake s3://lease-lake/l --format jsonl --flush-interval 1 \
		--lease-table kl-s3-leases --worker-id "$1" --lease-timeout $TIMEOUT --lease-renew-interval $RENEW \
		--metrics-file "$T/$1.prom" --metrics-interval 0.3 2> "$T/$1.log" &
	pids+=($!)
	eval "pid_$1=$!"
}
start_worker wa; start_worker wb
await_held 1 wa wb
"$KL" gen --events $N --seed 81 > "$T/ev1.jsonl"
put s3lease "$T/ev1.jsonl"
for _ in $(seq 1 240); do [ $(( $(stored wa) + $(stored wb) )) -ge $N ] && break; sleep 0.25; done
[ $(( $(stored wa) + $(stored wb) )) -ge $N ] || { dump; fail "first batch: stored $(( $(stored wa) + $(stored wb) )) of $N"; }
echo "split (1,1), first batch stored ($SECONDS s)"

# wb paused with records in flight, past the timeout; wa takes its shard
"$KL" gen --events $N --seed 82 > "$T/ev2.jsonl"
put s3lease "$T/ev2.jsonl"
sleep 0.3
kill -STOP "$pid_wb"
for _ in $(seq 1 160); do [ "$(held wa)" = 2 ] && break; sleep 0.25; done
[ "$(held wa)" = 2 ] || { kill -CONT "$pid_wb"; dump; fail "wb's shard not taken over while it was stopped"; }
kill -CONT "$pid_wb"
echo "wb stopped with records in flight, its shard taken over, continued ($SECONDS s)"

"$KL" gen --events $N --seed 83 > "$T/ev3.jsonl"
put s3lease "$T/ev3.jsonl"
cat "$T/ev1.jsonl" "$T/ev2.jsonl" "$T/ev3.jsonl" > "$T/all.jsonl"
# a download and a check cost seconds of moto and DuckDB: start them once
# the workers' counters say that every event may be stored (then, as
# before, until the lake holds them all)
for _ in $(seq 1 120); do [ $(( $(stored wa) + $(stored wb) )) -ge $((3 * N)) ] && break; sleep 0.25; done
for _ in $(seq 1 240); do
	rm -rf "$T/lake"; s3lite "$AWS_ENDPOINT_URL" cp s3://lease-lake/l "$T/lake"
	check_lake "$T/all.jsonl" "$T/lake" --allow-duplicates > "$T/check.json" 2> /dev/null && break
	sleep 0.5
done
stop_workers wa wb
rm -rf "$T/lake"; s3lite "$AWS_ENDPOINT_URL" cp s3://lease-lake/l "$T/lake"
check_lake "$T/all.jsonl" "$T/lake" --allow-duplicates > "$T/check.json" || { dump; fail "events lost"; }
once_check "$T/check.json" || fail "not exactly once across the takeover"
check_lake "$T/all.jsonl" "$T/lake" > /dev/null || fail "not exactly once across the takeover"
# every shard's state log was claimed: its last line names a worker
n=0
for f in "$T"/lake/_kinlake/state/*.log; do
	grep -q ' O w[ab] ' "$f" || fail "no owner line in $(basename "$f"): $(cat "$f")"
	n=$((n + 1))
done
[ "$n" = 2 ] || fail "$n state logs, want 2"
grep -q '^kinlake_lease_commits_refused_total{worker="wb"} [0-9]' "$T/wb.prom" || fail "no refusal metric: $(grep lease "$T/wb.prom")"
echo "refused commits of wb: $(metric 'kinlake_lease_commits_refused_total{worker="wb"}' "$T/wb.prom")"
echo "lease_s3: ok"
