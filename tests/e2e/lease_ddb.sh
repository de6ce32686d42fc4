# lease/lease against moto's DynamoDB (a real server on a free loopback
# port): the protocol scenarios of test_lease --scenarios (3 workers on 8
# shards reach (3,3,2); a worker that stops renewing loses its leases after
# the timeout; a paused worker's checkpoint and renew are refused by the
# condition after takeover; graceful release hands leases over at once;
# ask, shed, or steal from an overloaded worker; --exit-idle forgo and shutdown
# drain; parents before children; the fence on a
# local lake and on moto's S3: a state commit or a data file of the old
# owner that passed the lease checks before the takeover and lands after
# the new owner claimed the state log is refused by the precondition),
# then the
# creation race: two processes ensure one new table at the same moment,
# both succeed, one table, 4 rows; and the rows have the KCL's shape as the
# AWS CLI reads them.
# duration: 18 (seconds, for the test runner's ordering: a quiet 2-core machine)
. "$(dirname "$0")/_lib.sh"
if [ "${KL_ASAN:-0}" = 1 ]; then DRV=$ROOT/build-asan/tests/test_lease
else DRV=$ROOT/build/tests/test_lease; fi
[ -x "$DRV" ] || fail "missing $DRV (run make)"
start_moto python3 "$ROOT/scripts/moto_atomic.py" # DynamoDB writes atomic, as on AWS
export AWS_ENDPOINT_URL_DYNAMODB=http://127.0.0.1:$MOTO
EP=(--endpoint-url "http://127.0.0.1:$MOTO")
# the fence scenario runs on a local lake and on moto's S3 (conditional writes)
export AWS_ENDPOINT_URL_S3=http://127.0.0.1:$MOTO KL_TEST_FENCE_BUCKET=kl-fence
aws "${EP[@]}" s3api create-bucket --bucket kl-fence >/dev/null || fail "create bucket"

# 1. the protocol scenarios
"$DRV" --scenarios kl >"$T/scen.out" 2>&1 || { cat "$T/scen.out"; fail "scenarios"; }
grep -q ' 0 failed' "$T/scen.out" || fail "scenarios: $(cat "$T/scen.out")"
grep -q 'fence scenario on S3' "$T/scen.out" || fail "the fence did not run on S3"

# 2. two processes create one new table at the same moment
"$DRV" --ensure race >"$T/r1" 2>"$T/r1.err" & p1=$!
"$DRV" --ensure race >"$T/r2" 2>"$T/r2.err" & p2=$!
wait $p1 || { cat "$T/r1.err"; fail "first ensure failed"; }
wait $p2 || { cat "$T/r2.err"; fail "second ensure failed"; }
grep -q '^4 created=[01]$' "$T/r1" && grep -q '^4 created=[01]$' "$T/r2" || fail "rows: $(cat "$T/r1" "$T/r2")"
[ "$(cat "$T/r1" "$T/r2" | grep -c 'created=1')" = 1 ] || fail "not exactly one creator: $(cat "$T/r1" "$T/r2")"
n=$(aws "${EP[@]}" dynamodb list-tables --query 'length(TableNames[?@==`race`])' --output text)
[ "$n" = 1 ] || fail "tables named race: $n"
aws "${EP[@]}" dynamodb describe-table --table-name race >"$T/desc.json"
python3 - "$T/desc.json" <<'PY' || fail "table shape"
import json, sys
t = json.load(open(sys.argv[1]))["Table"]
assert t["TableStatus"] == "ACTIVE", t["TableStatus"]
assert t["KeySchema"] == [{"AttributeName": "leaseKey", "KeyType": "HASH"}], t["KeySchema"]
assert t.get("BillingModeSummary", {}).get("BillingMode") == "PAY_PER_REQUEST", t.get("BillingModeSummary")
PY

# 3. the rows as another client reads them: the KCL's names and types
aws "${EP[@]}" dynamodb scan --table-name kl-parents >"$T/rows.json"
python3 - "$T/rows.json" <<'PY' || fail "row shape"
import json, sys
items = {i["leaseKey"]["S"]: i for i in json.load(open(sys.argv[1]))["Items"]}
assert set(items) == {"shardId-p", "shardId-c1", "shardId-c2", "shardId-m"}, set(items)
for k, i in items.items():
    assert "N" in i["leaseCounter"] and "N" in i["ownerSwitchesSinceCheckpoint"], i
    assert "S" in i["checkpoint"] and "N" in i["checkpointSubSequenceNumber"], i
assert "parentShardId" not in items["shardId-p"]
assert sorted(items["shardId-m"]["parentShardId"]["SS"]) == ["shardId-c1", "shardId-c2"]
for k in ("shardId-p", "shardId-c1", "shardId-c2"):
    assert items[k]["checkpoint"]["S"] == "SHARD_END", items[k]
assert "leaseOwner" not in items["shardId-p"], items["shardId-p"]  # released
assert items["shardId-m"]["leaseOwner"]["S"] == "w-a"
PY
echo "lease_ddb: ok"
