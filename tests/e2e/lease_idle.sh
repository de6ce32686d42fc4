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
#     is in the lake exactly once and no row is owned. wa's exit comes
#     after shard 0's 8 idle seconds and one round of takes, not 8 idle
#     seconds more (it took 16 s or more until session 50);
#  4. batch use: shard 0 is split and events go to both children; a lone
#     worker with --exit-idle 2 reads shard 0 to its end, then the children
#     it takes after the split, and exits 0 by itself: every event once,
#     shard 0's row at SHARD_END, no row owned.
# duration: 45 (seconds, for the test runner's ordering)
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
t_stop=$(date +%s%N)
n0=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["put"])' "$T/prod.json")
# shard 0 idle for 8 s, then one round of takes (stream.c)
for _ in $(seq 1 160); do kill -0 "$pid_wa" 2> /dev/null || break; sleep 0.1; done
! kill -0 "$pid_wa" 2> /dev/null || { dump; fail "wa did not exit on idle"; }
waited=$((($(date +%s%N) - t_stop) / 1000000))
wait "$pid_wa" || fail "wa: $(cat "$T/wa.log")"
# the old rule (a second --exit-idle once no shard was held) took >= 16 s
[ "$waited" -lt 16000 ] || fail "wa took $waited ms to exit after the last event: idle waited out twice"
echo "wa exited $waited ms after the last event (--exit-idle 8)"
pids=("$pid_wb")
stop_workers wb
{ head -n "$n0" "$T/s0.jsonl"; cat "$T/s1.jsonl"; } > "$T/all.jsonl"
check_lake "$T/all.jsonl" "$T/lake" > /dev/null || fail "not exactly once"
[ -z "$($D scan --table-name kl-leases --query 'Items[].leaseOwner.S' --output text | tr -d '[:space:]')" ] ||
	fail "lease rows still owned at the end"

# 4. a split, then a lone batch worker: parents, children, exit on idle
H_HALF=85070591730234615865843651857942052864 # 2^126: the split point
reshard split-shard --stream-name ix --shard-to-split shardId-000000000000 \
	--new-starting-hash-key $H_HALF
for _ in $(seq 1 40); do
	[ "$($K describe-stream-summary --stream-name ix --query StreamDescriptionSummary.StreamStatus \
		--output text)" = ACTIVE ] && break
	sleep 0.25
done
"$KL" gen --events 120 --seed 992 > "$T/c1.jsonl"
"$KL" gen --events 120 --seed 993 > "$T/c2.jsonl"
put ix "$T/c1.jsonl" --hash-key 1 > /dev/null
put ix "$T/c2.jsonl" --hash-key 85070591730234615865843651857942052865 > /dev/null
lease_worker wc --exit-idle 2
for _ in $(seq 1 240); do kill -0 "$pid_wc" 2> /dev/null || break; sleep 0.25; done
! kill -0 "$pid_wc" 2> /dev/null || { dump; fail "wc did not exit on idle"; }
wait "$pid_wc" || fail "wc: $(cat "$T/wc.log")"
cat "$T/all.jsonl" "$T/c1.jsonl" "$T/c2.jsonl" > "$T/all2.jsonl"
check_lake "$T/all2.jsonl" "$T/lake" > /dev/null || { dump; fail "after the split: not exactly once"; }
$D scan --table-name kl-leases > "$T/rows.json"
python3 - "$T/rows.json" <<'PY' || fail "lease rows after the split"
import json, sys
items = {i["leaseKey"]["S"]: i for i in json.load(open(sys.argv[1]))["Items"]}
assert len(items) == 4, sorted(items)
assert items["shardId-000000000000"]["checkpoint"]["S"] == "SHARD_END", items["shardId-000000000000"]
for k, i in items.items():
    assert "leaseOwner" not in i, i
PY
echo "split: wc read shard 0 to its end and both children, then exited ($SECONDS s)"
echo "lease_idle: ok ($SECONDS s)"
