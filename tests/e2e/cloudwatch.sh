# kinlake's metrics in CloudWatch (moto), from `ingest --stream --cloudwatch-namespace`:
#  1. the datapoints read back with GetMetricData (boto3) sum to the run's summary line
#     and its metrics file (records, stored, dead letters and each reason, duplicates,
#     bytes, files); MillisBehindLatest per shard and the max over shards end at 0.
#  2. the CloudWatch endpoint is a closed port: ingestion completes exactly as before,
#     the failure is logged on stderr and counted in kinlake_cloudwatch_errors_total.
#  3. bad usage: --cloudwatch-namespace without --stream.
# duration: 22 (seconds, for the test runner's ordering: a quiet 2-core machine)
. "$(dirname "$0")/_lib.sh"
start_stack
$K create-stream --stream-name cw --shard-count 2
sleep 1
"$KL" gen --events 3000 --bad-fraction 0.04 --dup-fraction 0.02 --seed 41 > "$T/in.jsonl"
node "$ROOT/tests/js/kinesis_put.mjs" cw "$T/in.jsonl" 2>/dev/null
t0=$(date +%s)

# 1. published, read back, equal to the summary
"$KL" ingest --stream cw --lake "$T/lake" --format jsonl --exit-idle 2 --metrics-interval 1 \
	--cloudwatch-namespace KinlakeTest --metrics-file "$T/m.prom" 2> "$T/err"
cat "$T/err"
check_lake "$T/in.jsonl" "$T/lake" > /dev/null
! grep -q 'cloudwatch:' "$T/err" || fail "a CloudWatch error against moto"
metric() { awk -v k="$1" '$1 == k { print $2 }' "$T/m.prom"; }
summary() { sed -n "s/.* $1=\([0-9]*\) .*/\1/p" "$T/err" | tail -n 1; }
[ "$(metric kinlake_cloudwatch_errors_total)" = 0 ] || fail "cloudwatch_errors_total $(metric kinlake_cloudwatch_errors_total)"
python3 - "$T/got" "$t0" <<'PY'
import sys, datetime, boto3
out, t0 = sys.argv[1], int(sys.argv[2])
cw = boto3.client("cloudwatch")
def q(i, name, dims, stat="Sum"):
    return {"Id": f"m{i}", "MetricStat": {"Metric": {"Namespace": "KinlakeTest", "MetricName": name,
            "Dimensions": [{"Name": k, "Value": v} for k, v in dims]}, "Period": 60, "Stat": stat}}
S = [("Stream", "cw")]
want = [("RecordsRead", S), ("EventsStored", S), ("DeadLetters", S), ("Duplicates", S),
        ("BytesRead", S), ("BytesWritten", S), ("FilesCommitted", S), ("EventsRescued", S)]
names = [m["Dimensions"] for m in cw.list_metrics(Namespace="KinlakeTest", MetricName="DeadLetters")["Metrics"]]
reasons = sorted({d["Value"] for ds in names for d in ds if d["Name"] == "Reason"})
want += [("DeadLetters", S + [("Reason", r)]) for r in reasons]
shards = sorted({d["Value"] for m in cw.list_metrics(Namespace="KinlakeTest", MetricName="MillisBehindLatest")["Metrics"]
                 for d in m["Dimensions"] if d["Name"] == "Shard"})
start = datetime.datetime.fromtimestamp(t0 - 120, datetime.timezone.utc)
end = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=120)
qs = [q(i, n, d) for i, (n, d) in enumerate(want)]
res = cw.get_metric_data(MetricDataQueries=qs, StartTime=start, EndTime=end)["MetricDataResults"]
by = {r["Id"]: r for r in res}
with open(out, "w") as f:
    for i, (n, d) in enumerate(want):
        key = n + "".join(f",{v}" for k, v in d if k == "Reason")
        f.write(f"{key} {int(sum(by[f'm{i}']['Values']))} {len(by[f'm{i}']['Values'])}\n")
    # lag: the newest value per shard, and of the max series, must be 0 (caught up)
    for label, dims in [(f"lag,{s}", S + [("Shard", s)]) for s in shards] + [("lag,max", S)]:
        r = cw.get_metric_statistics(Namespace="KinlakeTest", MetricName="MillisBehindLatest",
            Dimensions=[{"Name": k, "Value": v} for k, v in dims], StartTime=start, EndTime=end,
            Period=1, Statistics=["Maximum", "SampleCount"])["Datapoints"]
        r.sort(key=lambda p: p["Timestamp"])
        f.write(f"{label} {int(r[-1]['Maximum']) if r else -1} {int(sum(p['SampleCount'] for p in r))}\n")
PY
cat "$T/got"
got() { awk -v k="$1" '$1 == k { print $2 }' "$T/got"; }
[ "$(got RecordsRead)" = "$(summary read)" ] || fail "RecordsRead $(got RecordsRead) != read=$(summary read)"
[ "$(got RecordsRead)" -ge 3000 ] || fail "RecordsRead $(got RecordsRead)"
[ "$(got EventsStored)" = "$(summary stored)" ] || fail "EventsStored"
[ "$(got DeadLetters)" = "$(summary dead_letters)" ] && [ "$(got DeadLetters)" -gt 0 ] || fail "DeadLetters"
[ "$(got Duplicates)" = "$(summary duplicates)" ] && [ "$(got Duplicates)" -gt 0 ] || fail "Duplicates"
[ "$(got FilesCommitted)" = "$(summary files)" ] || fail "FilesCommitted"
[ "$(got BytesRead)" = "$(metric kinlake_bytes_read_total)" ] || fail "BytesRead"
[ "$(got BytesWritten)" = "$(metric kinlake_bytes_written_total)" ] || fail "BytesWritten"
[ "$(got EventsRescued)" = "$(metric kinlake_events_rescued_total)" ] || fail "EventsRescued"
# every reason of the summary's "dead letters by reason" line, with its count
reasons=$(sed -n 's/.*dead letters by reason: //p' "$T/err")
[ -n "$reasons" ] || fail "no reasons in the summary"
for kv in $reasons; do
	[ "$(got "DeadLetters,${kv%=*}")" = "${kv#*=}" ] || fail "DeadLetters Reason=${kv%=*}: $(got "DeadLetters,${kv%=*}") != ${kv#*=}"
done
[ "$(grep -c '^DeadLetters,' "$T/got")" = "$(echo $reasons | wc -w)" ] || fail "reason metrics differ from the summary's"
# published every interval during the run, not only at exit: several lag samples per shard
awk '$1 ~ /^lag,shardId-/ && $3 < 2 { bad = 1 } END { exit bad }' "$T/got" || fail "one publication only"
[ "$(grep -c '^lag,shardId-' "$T/got")" = 2 ] || fail "lag of 2 shards: $(grep lag "$T/got")"
awk '$1 ~ /^lag,/ && ($2 != 0 || $3 < 1) { bad = 1 } END { exit bad }' "$T/got" || fail "lag not 0 at the end"

# 2. CloudWatch unreachable: ingestion is unaffected, the error logged and counted
AWS_ENDPOINT_URL_CLOUDWATCH=http://127.0.0.1:9 "$KL" ingest --stream cw --lake "$T/lake2" --format jsonl \
	--exit-idle 2 --metrics-interval 1 --cloudwatch-namespace KinlakeTest --metrics-file "$T/m2.prom" 2> "$T/err2" ||
	fail "ingest failed with CloudWatch down: $(cat "$T/err2")"
cat "$T/err2"
check_lake "$T/in.jsonl" "$T/lake2" > /dev/null
grep -q '^kinlake ingest: cloudwatch: CloudWatch PutMetricData at http://127.0.0.1:9: .*attempts' "$T/err2" ||
	fail "no CloudWatch error line"
n=$(awk '$1 == "kinlake_cloudwatch_errors_total" { print $2 }' "$T/m2.prom")
[ "$n" -ge 1 ] && [ "$n" = "$(grep -c 'cloudwatch: CloudWatch' "$T/err2")" ] || fail "cloudwatch_errors_total '$n'"

# 3. usage
set +e
"$KL" ingest --input "$T/in.jsonl" --lake "$T/l3" --cloudwatch-namespace X 2> "$T/e3"; rc=$?
set -e
[ $rc = 2 ] && grep -q -- '--cloudwatch-namespace needs --stream' "$T/e3" || fail "usage: rc=$rc $(cat "$T/e3")"
echo "cloudwatch: ok"
