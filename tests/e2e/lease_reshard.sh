# ingest --stream --lease-table while the stream is resharded and workers
# come and go (issue 13): kinesis-mock + moto's DynamoDB, a local lake,
# 2 parse threads per shard (lease_worker, tests/e2e/_lib.sh).
#  1. wa and wb share a 2-shard stream; a producer puts a batch of events
#     about every second until the end;
#  2. shard 0 is split (-> 2, 3); wc joins and asks for its share;
#  3. shards 3 and 1 are merged (-> 4); wb gets SIGTERM: it exits 0 and
#     hands its leases over (no row names it afterwards);
#  4. the producer stops; once the lake holds every event, wa and wc get
#     SIGTERM: DuckDB (check_lake.mjs) finds every event exactly once, the
#     closed shards' rows are at SHARD_END and every row is released;
#  5. parents before children, across workers: every child shard's files
#     were written after every file of its parents (the lake's mtimes), and
#     each child has files of its own (it was read at all).
# duration: 70 (seconds, for the test runner's ordering)
# no-asan: three workers with 2 parse threads each; the lease logic runs under
# ASan in unit-asan/test_lease and e2e-asan/lease_ddb
. "$(dirname "$0")/_lib.sh"
start_stack # AWS_ENDPOINT_URL is moto: DynamoDB goes there
D="aws --endpoint-url $AWS_ENDPOINT_URL dynamodb"
STREAM=rs LEASE_TIMEOUT=3 LEASE_RENEW=1
dump() {
	grep -H "lease\|records_read\|stored" "$T"/w?.prom | grep -v "# "
	tail -n 5 "$T"/w?.log
	$D scan --table-name kl-leases --output text \
		--query 'Items[].[leaseKey.S,leaseOwner.S,leaseCounter.N,checkpoint.S,kinlakeHandoffTo.S]' || true
}
owners() { $D scan --table-name kl-leases --query 'Items[].leaseOwner.S' --output text; }

$K create-stream --stream-name rs --shard-count 2
sleep 1
lease_worker wa
lease_worker wb
await_held 1 wa wb
echo "wa and wb hold a shard each ($SECONDS s)"

# 1. events flow until $T/stop: batches of 150 with seeds of their own
event_producer rs 500 0.5 & prod=$!
sleep 3

# 2. split shard 0 at the middle of its hash range (2^126); wc joins
reshard split-shard --stream-name rs --shard-to-split shardId-000000000000 \
	--new-starting-hash-key 85070591730234615865843651857942052864
lease_worker wc
# wc's share comes after shard 0 is read to its end, and (when wa took both
# children first) after wc asked, wa let go at its next take and wc took it:
# a few take intervals, each longer on a loaded machine
for _ in $(seq 1 180); do [ "$(held wc)" -ge 1 ] && break; sleep 0.25; done
[ "$(held wc)" -ge 1 ] || { dump; fail "wc joined but holds no lease"; }
echo "split; wc joined and holds $(held wc) ($SECONDS s)"

# 3. merge the split's upper child with shard 1; wb leaves gracefully
reshard merge-shards --stream-name rs --shard-to-merge shardId-000000000003 \
	--adjacent-shard-to-merge shardId-000000000001
sleep 2
kill -TERM "$pid_wb"
wait "$pid_wb" || fail "wb did not exit cleanly: $(cat "$T/wb.log")"
pids=("$pid_wa" "$pid_wc")
[ "$(held wb)" = 0 ] || fail "wb still holds $(held wb) leases at exit"
owners | grepq -w wb && fail "a row still names wb after its SIGTERM: $(owners)"
echo "merged; wb left and handed its leases over ($SECONDS s)"
sleep 3
touch "$T/stop"
wait "$prod" || fail "producer"
[ "$($K list-shards --stream-name rs --query 'length(Shards)' --output text)" = 5 ] ||
	fail "the split and the merge did not give 5 shards"

# 4. every event once
want=$(wc -l < "$T/all.jsonl")
await_lake 120 || true
stop_workers wa wc
check_lake "$T/all.jsonl" "$T/lake" --allow-duplicates > "$T/check.json" || { dump; fail "events lost"; }
once_check "$T/check.json" "$want" || fail "not exactly once across the split, the merge and the hand-overs"
check_lake "$T/all.jsonl" "$T/lake" > /dev/null
$D scan --table-name kl-leases > "$T/rows.json"
python3 - "$T/rows.json" <<'PY' || fail "lease rows"
import json, sys
rows = {i["leaseKey"]["S"]: i for i in json.load(open(sys.argv[1]))["Items"]}
assert sorted(rows) == [f"shardId-00000000000{i}" for i in range(5)], sorted(rows)
for k, i in rows.items():
    assert "leaseOwner" not in i, i  # released on SIGTERM
for k in ("0", "1", "3"):  # closed by the split and the merge, read to their end
    assert rows["shardId-00000000000" + k]["checkpoint"]["S"] == "SHARD_END", rows
for k in ("2", "4"):
    assert rows["shardId-00000000000" + k]["checkpoint"]["S"] != "SHARD_END", rows
assert sorted(rows["shardId-000000000004"]["parentShardId"]["SS"]) == \
    ["shardId-000000000001", "shardId-000000000003"], rows["shardId-000000000004"]
PY

# 5. parents before children: by the lake's file times, per shard
python3 - "$T/lake" <<'PY' || fail "a child shard was read before its parents were done"
import os, re, sys
t = {}
for d, _, fs in os.walk(os.path.join(sys.argv[1], "events")):
    for f in fs:
        m = re.match(r"(shardId-\d{12})-", f)
        if m:
            t.setdefault(m.group(1), []).append(os.stat(os.path.join(d, f)).st_mtime_ns)
s = lambda i: f"shardId-{i:012d}"
assert sorted(t) == [s(i) for i in range(5)], f"shards with files: {sorted(t)}"
for child, parents in ((2, (0,)), (3, (0,)), (4, (1, 3))):
    first = min(t[s(child)])
    for p in parents:
        assert max(t[s(p)]) < first, f"{s(child)} has a file older than one of {s(p)}"
print("parents before children: " + ", ".join(f"{s(k)[-1]}: {len(t[s(k)])} files" for k in range(5)))
PY
echo "lease_reshard: ok ($SECONDS s)"
