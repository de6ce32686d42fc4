# ingest --stream --lease-table: a rolling restart moves no data twice
# (issue 13). kinesis-mock + moto's DynamoDB, a local lake, 2 parse threads
# per shard (lease_worker).
#  1. wa and wb start at the same moment on a new table (issue 13's last
#     test): one table, and they share the 2-shard stream one shard each;
#     events flow (one producer process, 20 events every 0.2 s) until step 3;
#  2. a rolling restart: wa gets SIGTERM (it commits what it read, then
#     releases: wb takes the free row), wa2 starts and asks wb for a lease
#     (lease.h, "ask": wb's reader commits and releases, wa2 takes it);
#     then the same for wb -> wb2;
#  3. the producer stops; once the lake holds every event the workers get
#     SIGTERM. Nothing was read twice: the four workers' records read add
#     up to the events put (kinlake_records_read_total, written at exit:
#     no shard was read twice, from the simultaneous start on);
#     no lease was stolen or lost, no commit refused; every event is in
#     the lake exactly once (DuckDB, check_lake.mjs); every row released.
# duration: 30 (seconds, for the test runner's ordering)
# no-asan: lease timings of seconds; the lease logic runs under ASan in
# unit-asan/test_lease and e2e-asan/lease_ddb
. "$(dirname "$0")/_lib.sh"
start_stack # AWS_ENDPOINT_URL is moto: DynamoDB goes there
D="aws --endpoint-url $AWS_ENDPOINT_URL dynamodb"
STREAM=rr LEASE_TIMEOUT=6 LEASE_RENEW=1
W="wa wb wa2 wb2"
dump() { grep -H "lease\|records_read\|stored\|shards_running" "$T"/w*.prom | grep -v "# "; tail -n 3 "$T"/w*.log; }
sum() { local s=0 w v; for w in $W; do v=$(metric "kinlake_$1" "$T/$w.prom"); s=$((s + ${v:-0})); done; echo $s; }
lsum() { local s=0 w; for w in $W; do s=$((s + $(lease_metric "$1" "$w"))); done; echo $s; }

$K create-stream --stream-name rr --shard-count 2
sleep 1
lease_worker wa
lease_worker wb
await_held 1 wa wb
[ "$($D list-tables --query 'length(TableNames[?@==`kl-leases`])' --output text)" = 1 ] || fail "lease tables"
"$KL" gen --events 4000 --seed 61 > "$T/ev.jsonl"
put rr "$T/ev.jsonl" --pace 20 200 --until "$T/stop" > "$T/prod.json" & prod=$!
sleep 2
echo "wa and wb hold a shard each; events flow ($SECONDS s)"

# 2. restart wa, then wb, each replaced by a new worker
restart() { # OLD NEW THE_OTHER
	local p=pid_$1
	kill -TERM "${!p}"
	wait "${!p}" || fail "$1: $(cat "$T/$1.log")"
	[ "$(held "$1")" = 0 ] || fail "$1 holds leases at exit"
	lease_worker "$2"
	await_held 1 "$2" "$3"
	echo "$1 -> $2: one shard each again ($SECONDS s)"
	sleep 1
}
restart wa wa2 wb
restart wb wb2 wa2

# 3. the end
touch "$T/stop"
wait "$prod" || fail "producer"
n=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["put"])' "$T/prod.json")
head -n "$n" "$T/ev.jsonl" > "$T/all.jsonl"
for _ in $(seq 1 120); do [ "$(sum events_stored_total)" -ge "$n" ] && break; sleep 0.25; done
stop_workers wa2 wb2
echo "put $n events; read $(sum records_read_total), stored $(sum events_stored_total)"
[ "$(lsum leases_stolen_total)" = 0 ] || { dump; fail "leases stolen: $(lsum leases_stolen_total)"; }
[ "$(lsum leases_lost_total)" = 0 ] || { dump; fail "leases lost: $(lsum leases_lost_total)"; }
[ "$(lsum lease_commits_refused_total)" = 0 ] || { dump; fail "commits refused"; }
[ "$(sum records_read_total)" = "$n" ] || { dump; fail "read $(sum records_read_total) records for $n events: some read twice"; }
check_lake "$T/all.jsonl" "$T/lake" > /dev/null || fail "not exactly once"
[ -z "$($D scan --table-name kl-leases --query 'Items[].leaseOwner.S' --output text | tr -d '[:space:]')" ] ||
	fail "lease rows still owned after SIGTERM"
echo "lease_roll: ok ($SECONDS s)"
