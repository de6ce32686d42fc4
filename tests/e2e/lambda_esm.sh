# kinlake lambda as the target of a Kinesis event source mapping, driven
# through the local Runtime API (tests/js/runtime_api.mjs esm): `kinlake gen`
# events (bad ones, duplicates; the first ones KPL-aggregated with
# aws-kinesis-agg) in batches of one shard, and the lake passes
# tests/js/check_lake.mjs exactly as ingest's does: every valid event once, in
# its partition; every bad record a dead letter with its raw bytes.
#  1. local lake, JSON lines; a batch replayed by the warm instance adds
#     nothing; the sample events of the AWS libraries
#  2. batches replayed by new instances rewrite the same files byte for byte
#  3. S3 on moto, Parquet (read back with tests/s3_lite.py)
#  4. S3 at a closed port: every batch reports batchItemFailures; what they
#     name, retried by a new instance against moto, completes the lake
#  5. partial failures: a proxy refuses the writes of some partitions during
#     each batch's first attempt; the retries (from the record each batch
#     names, some after its first record) complete the lake, nothing twice
#  6. bad configuration: an init error (Kinlake.InvalidConfig)
# duration: 46 (seconds, for the test runner's ordering: a quiet 2-core machine)
# duration-asan: 38
. "$(dirname "$0")/_lib.sh"
cd "$ROOT"
command -v moto_server >/dev/null || fail "moto_server not installed"
command -v aws >/dev/null || fail "aws CLI not installed"
N=${KL_ASAN:+1500}; N=${N:-4000}
esm() { node tests/js/runtime_api.mjs esm "$KL" "$@"; }

# 1. local lake, JSON lines
"$KL" gen --events "$N" --bad-fraction 0.05 --dup-fraction 0.02 --seed 41 > "$T/in1.jsonl"
esm "$T/in1.jsonl" "{\"agg\":600,\"aggSize\":30,\"batch\":100,\"replay\":[2],
	\"env\":{\"KINLAKE_LAKE\":\"$T/lake1\",\"KINLAKE_FORMAT\":\"jsonl\"}}"
check_lake "$T/in1.jsonl" "$T/lake1"
ls "$T/lake1"/events/*/*/*/*/shardId-000000000000-4959033827149025660855969253836157109592157598913[0-9]*.jsonl.zst \
	>/dev/null || fail "data files are not named <shardId>-<sequence number>"
ls "$T/lake1"/errors/*/dt=2025-12-01/*.jsonl.zst "$T/lake1"/errors/*/dt=2025-12-02/*.jsonl.zst >/dev/null ||
	fail "dead letters are not dated by their records' arrival"
[ ! -e "$T/lake1/_kinlake/state" ] || fail "state written to the lake"
zstdcat "$T/lake1"/errors/*/*/*.zst > "$T/dead1"
grep -q '"source":"kinesis:arn:aws:kinesis:us-east-1:123456789012:stream/events/shardId-000000000000:4959[0-9]*:[0-9]*"' "$T/dead1" ||
	fail "dead letters of aggregated records do not name their Kinesis record and sub-record"
grep -q '"source":"kinesis:arn:aws:kinesis:us-east-1:123456789012:stream/events/shardId-000000000000:4959[0-9]*"' "$T/dead1" ||
	fail "dead letters do not name their Kinesis record"

# the sample events of aws-lambda-go and Powertools: their data ("Hello World"...)
# are dead letters, dated by arrival
export KL_CORPORA=${KL_CORPORA:-$ROOT/../shared/corpora}
EV=$KL_CORPORA/lambda-events
esm /dev/null "{\"samples\":[\"$EV/aws-lambda-go/kinesis-event.json\",\"$EV/powertools-python/kinesisStreamEvent.json\"],
	\"env\":{\"KINLAKE_LAKE\":\"$T/lake0\"}}"
ls "$T/lake0"/errors/invalid_json/dt=2016-12-02/shardId-000000000000-49568167373333333333333333333333333333333333333333333333.jsonl.zst \
	"$T/lake0"/errors/invalid_json/dt=2018-12-17/shardId-000000000006-*.jsonl.zst >/dev/null ||
	fail "sample events: $(find "$T/lake0" -type f)"

# 2. new instances replay every batch, then two: the same objects, byte for byte
"$KL" gen --events 1000 --bad-fraction 0.05 --seed 42 > "$T/in2.jsonl"
esm "$T/in2.jsonl" "{\"agg\":200,\"batch\":100,\"env\":{\"KINLAKE_LAKE\":\"$T/lake2\"}}"
lake_digest "$T/lake2" > "$T/digest2a"
esm "$T/in2.jsonl" "{\"agg\":200,\"batch\":100,\"coldReplay\":[0,5],\"env\":{\"KINLAKE_LAKE\":\"$T/lake2\"}}" > "$T/out2"
lake_digest "$T/lake2" > "$T/digest2b"
cmp -s "$T/digest2a" "$T/digest2b" || fail "a replayed batch changed the lake: $(diff "$T/digest2a" "$T/digest2b" | head -5)"
check_lake "$T/in2.jsonl" "$T/lake2" --format parquet

# moto on a free port
start_moto
export AWS_REGION=us-east-1
export AWS_ENDPOINT_URL_S3=http://127.0.0.1:$MOTO
s3lite "$MOTO_URL" mb s3://bkt || fail "create bucket"
fetch() { s3lite "$MOTO_URL" cp "s3://bkt/$1" "$T/$1"; }

# 3. S3, Parquet
esm "$T/in1.jsonl" "{\"agg\":600,\"batch\":300,\"replay\":[1],\"env\":{\"KINLAKE_LAKE\":\"s3://bkt/lake3\"}}"
fetch lake3
check_lake "$T/in1.jsonl" "$T/lake3" --format parquet
ls "$T/lake3/_kinlake/schemas/event_type="*/*.json >/dev/null || fail "no schema registry in the S3 lake"

# 4. S3 at a closed port, then the retries against moto
CLOSED=$(free_port)
esm "$T/in2.jsonl" "{\"agg\":200,\"batch\":250,\"env\":{\"KINLAKE_LAKE\":\"s3://bkt/lake4\",\"KINLAKE_FORMAT\":\"jsonl\"},
	\"failEnv\":{\"AWS_ENDPOINT_URL_S3\":\"http://127.0.0.1:$CLOSED\"}}" > "$T/out4"
cat "$T/out4"
fetch lake4
check_lake "$T/in2.jsonl" "$T/lake4"

# 5. partial failures. The input is sorted by event name, so that partitions
# follow each other within a batch: a refused partition then fails a batch
# from one of its later records on.
LC_ALL=C sort -s -t'"' -k8,8 "$T/in2.jsonl" > "$T/in5.jsonl"
esm "$T/in5.jsonl" "{\"agg\":100,\"batch\":100,\"env\":{\"KINLAKE_LAKE\":\"s3://bkt/lake5\"},
	\"proxyTo\":\"http://127.0.0.1:$MOTO\",\"failKeys\":\"/lake5/(events/event_type=(session|product)/|errors/)\",
	\"minMidRetries\":2}" > "$T/out5"
cat "$T/out5"
fetch lake5
check_lake "$T/in5.jsonl" "$T/lake5" --format parquet

# 6. bad configuration: an init error naming the variable, no invocation served
for bad in 'KINLAKE_LAKE=/tmp/x KINLAKE_FORMAT=csv' 'KINLAKE_FORMAT=jsonl' 'KINLAKE_LAKE=s3://Bad_Bucket' \
	'KINLAKE_LAKE=/proc/nope' 'KINLAKE_LAKE=s3://bkt KINLAKE_SSE=yes'; do
	node tests/js/runtime_api.mjs initerror "$KL" Kinlake.InvalidConfig $bad ||
		fail "no init error for $bad"
done
help=$("$KL" lambda --help); grep -q 'KINLAKE_LAKE' <<<"$help" || fail "KINLAKE_LAKE not in lambda --help"
echo "lambda_esm: ok"
