# Fault injection on the stream path: tests/fault_proxy.py in front of
# kinesis-mock (400 ProvisionedThroughputExceededException 25%, 500, 503,
# resets, 1 s stalls: 40% in all, so some calls fail all 5 attempts: the
# shard waits and goes on) and in front of moto S3 (500, 503 SlowDown,
# resets, stalls: 13%). `ingest --stream` over 2 shards loses nothing and
# stores nothing twice, and every fault shows up as a retry
# (kinlake_retries_total between the faults and the faults less libcurl's
# own resends).
# Then a slow link from Kinesis (the proxy writes answers at 48 KiB/s): one
# shard's first GetRecords answer, ~0.8 MB, takes ~16 s to arrive against
# --stall-timeout 10, and GET /health says "ok" every second of it, as its
# bytes move (kinlake_kinesis_transferred_bytes_total); the build before
# said "stalled" from the 11th second. Every event lands once, and the
# shard's kinlake_shard_bytes_read_total is its events' bytes.
# duration: 40 (seconds, for the test runner's ordering: a quiet 2-core machine)
. "$(dirname "$0")/_lib.sh"
start_stack
N=${KL_ASAN:+1500}; N=${N:-2500}
aws --endpoint-url "$AWS_ENDPOINT_URL_KINESIS" kinesis create-stream --stream-name f --shard-count 2
aws --endpoint-url "$AWS_ENDPOINT_URL_S3" s3 mb s3://lake > /dev/null
sleep 1
"$KL" gen --events "$N" --types 10 --bad-fraction 0.02 --seed 61 > "$T/in.jsonl"
node "$ROOT/tests/js/kinesis_put.mjs" f "$T/in.jsonl" 2>/dev/null || fail "put records"
fault_proxy kin "$AWS_ENDPOINT_URL_KINESIS" --mode kinesis --fault pte=0.25 --fault 500=0.05 \
	--fault 503=0.03 --fault reset=0.05 --fault stall=0.02 --stall-seconds 1 --seed 3; KP=$P
fault_proxy s3 "$AWS_ENDPOINT_URL_S3" --mode s3 --fault 500=0.04 --fault 503=0.04 --fault reset=0.04 \
	--fault stall=0.01 --stall-seconds 1 --seed 4; SP=$P
AWS_ENDPOINT_URL_KINESIS=http://127.0.0.1:$KP AWS_ENDPOINT_URL_S3=http://127.0.0.1:$SP \
	"$KL" ingest --stream f --lake s3://lake/p --exit-idle 1 --format jsonl \
	--max-file-bytes 64KiB --metrics-file "$T/m.prom" 2> "$T/err" || fail "ingest: $(cat "$T/err")"
cat "$T/err"
curl -sf "http://127.0.0.1:$KP/__fault/stats" > "$T/ks.json"
curl -sf "http://127.0.0.1:$SP/__fault/stats" > "$T/ss.json"
echo "kinesis proxy: $(jget '{k: v for k, v in d.items() if k != "retry_gaps_ms"}' < "$T/ks.json")"
echo "s3 proxy: $(jget '{k: v for k, v in d.items() if k != "retry_gaps_ms"}' < "$T/ss.json")"
aws --endpoint-url "$AWS_ENDPOINT_URL_S3" s3 sync --quiet s3://lake/p "$T/lake" || fail "sync"
check_lake "$T/in.jsonl" "$T/lake" > /dev/null || fail "events lost or stored twice"
faulted=$(( $(jget 'd["faulted"]' < "$T/ks.json") + $(jget 'd["faulted"]' < "$T/ss.json") ))
reused=$(( $(jget 'd["reset_reused"]' < "$T/ks.json") + $(jget 'd["reset_reused"]' < "$T/ss.json") ))
retries=$(awk '$1 == "kinlake_retries_total" { print $2 }' "$T/m.prom")
echo "faulted $faulted ($reused resets of reused connections), kinlake retries $retries"
[ "$(jget 'd["faults"]["pte"]' < "$T/ks.json")" -ge 3 ] || fail "too few throttles to mean anything"
[ "$(jget 'd["faulted"]' < "$T/ss.json")" -ge 3 ] || fail "too few S3 faults to mean anything"
[ "$retries" -le "$faulted" ] && [ "$retries" -ge $((faulted - reused)) ] || fail "retries $retries vs faults $faulted"

# a slow link from Kinesis: one large GetRecords answer is progress while it moves
aws --endpoint-url "$AWS_ENDPOINT_URL_KINESIS" kinesis create-stream --stream-name slow --shard-count 1
"$KL" gen --events 1000 --types 10 --seed 62 > "$T/slow.jsonl"
sleep 1
node "$ROOT/tests/js/kinesis_put.mjs" slow "$T/slow.jsonl" 2>/dev/null || fail "put records (slow)"
fault_proxy slowkin "$AWS_ENDPOINT_URL_KINESIS" --mode kinesis --write-bps 49152; SKP=$P
AWS_ENDPOINT_URL_KINESIS=http://127.0.0.1:$SKP "$KL" ingest --stream slow --lake "$T/slowlake" \
	--exit-idle 2 --format jsonl --metrics-listen 127.0.0.1:0 --stall-timeout 10 --no-progress \
	--metrics-file "$T/slow.prom" 2> "$T/slow.err" & spid=$!
pids+=("$spid")
never_stalled "slow Kinesis link" "$spid" "$T/slow.err"
check_lake "$T/slow.jsonl" "$T/slowlake" > /dev/null || fail "slow Kinesis link: not exactly once"
moved=$(awk '$1 == "kinlake_kinesis_transferred_bytes_total" { print $2 }' "$T/slow.prom")
size=$(stat -c %s "$T/slow.jsonl")
echo "slow Kinesis link: input $size bytes, kinlake_kinesis_transferred_bytes_total $moved"
[ "${moved:-0}" -ge "$size" ] || fail "kinlake_kinesis_transferred_bytes_total ${moved:-none} for $size bytes of events"
# the shard's data bytes: every event's line, without its newline
data=$(awk '$1 ~ /^kinlake_shard_bytes_read_total[{]stream="slow",/ { print $2 }' "$T/slow.prom")
echo "slow Kinesis link: kinlake_shard_bytes_read_total ${data:-none} for $size bytes of lines"
[ "${data:-none}" = $((size - 1000)) ] || fail "kinlake_shard_bytes_read_total ${data:-none}, not $((size - 1000))"
echo "fault_stream: ok"
