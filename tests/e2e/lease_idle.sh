# ingest --stream --lease-table --exit-idle: a shard whose run ends on idle
# is handed over for good, not taken back by its worker and held unread
# (kinesis-mock + moto's DynamoDB, a local lake).
#  1. wa (--exit-idle 8) alone on a 2-shard stream; a trickle of events keeps
#     shard 0 busy (ExplicitHashKey 0) until step 3, shard 1 gets nothing: its run ends on idle
#     and its lease is released. wa's next takes must leave it alone: wa
#     holds exactly the leases it reads (before the fix it took the free
#     lease straight back and held it without reading it, so no other
#     worker could read the shard until wa exited);
#  2. wb (no --exit-idle) joins and takes shard 1 (a free row, not a steal);
#     events put to shard 1 land while wa still reads shard 0;
#  3. the trickle ends: wa exits 0 by itself, wb on SIGTERM; every event
#     is in the lake exactly once and no row is owned.
# duration: 40 (seconds, for the test runner's ordering)
# no-asan: the idle and lease timings are seconds; the lease logic runs under
# ASan in unit-asan/test_lease and e2e-asan/lease_ddb
. "$(dirname "$0")/_lib.sh"
start_stack # AWS_ENDPOINT_URL is moto: DynamoDB goes there
D="aws --endpoint-url $AWS_ENDPOINT_URL dynamodb"
STREAM=ix LEASE_TIMEOUT=2 LEASE_RENEW=0.5 LEASE_THREADS=1
H1=170141183460469231731687303715884105728 # 2^127: shard 1's first hash key
dump() { grep -H "lease\|records_read\|stored\|shards_running" "$T"/w?.prom | grep -v "# "; tail -n 3 "$T"/w?.log; }
stored() { local v; v=$(metric kinlake_events_stored_total "$T/$1.prom"); echo "${v:-0}"; }
running() { local v; v=$(metric kinlake_shards_running "$T/$1.prom"); echo "${v:-0}"; }
owner() { $D get-item --table-name kl-leases --key "{\"leaseKey\":{\"S\":\"$1\"}}" \
	--query 'Item.leaseOwner.S' --output text; }

$K create-stream --stream-name ix --shard-count 2
sleep 1
# shard 0: 10 events every 0.2 s from one process, until $T/stop (step 3)
"$KL" gen --events 3000 --seed 91 > "$T/s0.jsonl"
put ix "$T/s0.jsonl" --hash-key 0 --pace 10 200 --until "$T/stop" > "$T/prod.json" & prod=$!

# 1. shard 1 ends on idle after 8 s; then takes (every 2 s) pass
lease_worker wa --exit-idle 8
for _ in $(seq 1 40); do [ "$(held wa)" = 2 ] && break; sleep 0.25; done
[ "$(held wa)" = 2 ] || { dump; fail "wa did not take both leases"; }
sleep 11
for _ in 1 2 3 4; do
	[ "$(held wa)" = "$(running wa)" ] ||
		{ dump; fail "wa holds $(held wa) leases but reads $(running wa) shards"; }
	sleep 0.5
done
[ "$(held wa)" = 1 ] || { dump; fail "wa holds $(held wa) leases, want 1 (shard 0)"; }
[ "$(owner shardId-000000000001)" = None ] || fail "shard 1's lease still owned: $(owner shardId-000000000001)"
kill -0 "$pid_wa" || fail "wa exited while shard 0 was busy"
echo "shard 1 ended on idle and stays handed over; wa reads shard 0 ($SECONDS s)"

# 2. wb takes the free lease and reads shard 1 while wa still runs
lease_worker wb
for _ in $(seq 1 40); do [ "$(owner shardId-000000000001)" = wb ] && break; sleep 0.25; done
[ "$(owner shardId-000000000001)" = wb ] || { dump; fail "wb did not take shard 1"; }
[ "$(owner shardId-000000000000)" = wa ] || { dump; fail "shard 0 is not wa's any more"; }
[ "$(lease_metric leases_stolen_total wb)" = 0 ] || fail "wb stole a lease"
"$KL" gen --events 100 --seed 990 > "$T/s1.jsonl"
put ix "$T/s1.jsonl" --hash-key $H1 > /dev/null
for _ in $(seq 1 40); do [ "$(stored wb)" -ge 100 ] && break; sleep 0.25; done
[ "$(stored wb)" -ge 100 ] || { dump; fail "shard 1's events not stored: wb stored $(stored wb)"; }
kill -0 "$pid_wa" || fail "wa exited while shard 0 was busy"
echo "wb took shard 1 and stored its events while wa ran ($SECONDS s)"

# 3. the end: the trickle ends, wa exits on idle by itself, wb on SIGTERM
touch "$T/stop"
wait "$prod" || fail "producer"
n0=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["put"])' "$T/prod.json")
# shard 0 idle for 8 s, then the worker idle for 8 s more (stream.c)
for _ in $(seq 1 160); do kill -0 "$pid_wa" 2> /dev/null || break; sleep 0.25; done
! kill -0 "$pid_wa" 2> /dev/null || { dump; fail "wa did not exit on idle"; }
wait "$pid_wa" || fail "wa: $(cat "$T/wa.log")"
pids=("$pid_wb")
stop_workers wb
{ head -n "$n0" "$T/s0.jsonl"; cat "$T/s1.jsonl"; } > "$T/all.jsonl"
check_lake "$T/all.jsonl" "$T/lake" > /dev/null || fail "not exactly once"
[ -z "$($D scan --table-name kl-leases --query 'Items[].leaseOwner.S' --output text | tr -d '[:space:]')" ] ||
	fail "lease rows still owned at the end"
echo "lease_idle: ok ($SECONDS s)"
