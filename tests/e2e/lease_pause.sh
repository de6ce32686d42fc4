# ingest --stream --lease-table: a worker paused again and again while
# events flow (kinesis-mock + moto's DynamoDB, a local lake, 2 parse threads
# per shard). wa and wb share a 2-shard stream; CYCLES times wb is SIGSTOPped
# for longer than the lease timeout (wa takes its shard) and SIGCONTed: waking
# up it loses that lease and at once asks for one of wa's two back — half the
# time its own, while the run that read it before the pause is still ending.
# That run must commit nothing (the lease tenure, lease/fence.h), and the
# shard must be read again under the new tenure: before, the old run's late
# files and state passed the fence, and its clean end released the lease and
# left the shard done on wb, which then held the lease and read nothing (the
# events after it were lost). At the end every event is in the lake exactly
# once (DuckDB, check_lake.mjs) and every lease row is released.
# duration: 70 (seconds, for the test runner's ordering)
# no-asan: the pauses are timed against a 2 s lease timeout; the lease logic
# runs under ASan in unit-asan/test_lease and e2e-asan/lease_ddb
. "$(dirname "$0")/_lib.sh"
start_stack # AWS_ENDPOINT_URL is moto: DynamoDB goes there
D="aws --endpoint-url $AWS_ENDPOINT_URL dynamodb"
STREAM=ps LEASE_TIMEOUT=2 LEASE_RENEW=0.5 CYCLES=${KL_PAUSE_CYCLES:-6}
dump() { grep -H "lease\|records_read\|stored\|shards_running" "$T"/w?.prom | grep -v "# "; tail -n 3 "$T"/w?.log; }

$K create-stream --stream-name ps --shard-count 2
sleep 1
lease_worker wa
lease_worker wb
await_held 1 wa wb
echo "wa and wb hold a shard each ($SECONDS s)"

# events flow until $T/stop: batches of 150 with seeds of their own
event_producer ps 700 0.3 & prod=$!
lost0=$(lease_metric leases_lost_total wb)
for c in $(seq 1 "$CYCLES"); do
	sleep "0.$((RANDOM % 10))"
	kill -STOP "$pid_wb"
	sleep "$((LEASE_TIMEOUT + 1)).$((RANDOM % 10))"
	kill -CONT "$pid_wb"
	sleep "1.$((RANDOM % 10))"
done
touch "$T/stop"
wait "$prod" || fail "producer"
[ "$(lease_metric leases_lost_total wb)" -gt "$lost0" ] || { dump; fail "wb never lost a lease while paused"; }
echo "$CYCLES pauses of wb, $(( $(lease_metric leases_lost_total wb) - lost0 )) leases lost by it ($SECONDS s)"

want=$(wc -l < "$T/all.jsonl")
await_lake 60 || true
# a worker holding a lease reads its shard (not: holds it and reads nothing);
# a lease taken an instant ago has its reader started within 200 ms
reading() { [ "$(held "$1")" = "$(metric kinlake_shards_running "$T/$1.prom")" ]; }
for _ in $(seq 1 20); do reading wa && reading wb && break; sleep 0.25; done
for w in wa wb; do
	reading $w || { dump; fail "$w holds $(held $w) leases but reads $(metric kinlake_shards_running "$T/$w.prom") shards"; }
done
stop_workers wa wb
check_lake "$T/all.jsonl" "$T/lake" --allow-duplicates > "$T/check.json" || { dump; fail "events lost"; }
once_check "$T/check.json" "$want" || fail "not exactly once across the pauses"
check_lake "$T/all.jsonl" "$T/lake" > /dev/null
[ -z "$($D scan --table-name kl-leases --query 'Items[].leaseOwner.S' --output text | tr -d '[:space:]')" ] ||
	fail "lease rows still owned after SIGTERM"
echo "lease_pause: ok ($SECONDS s)"
