# Stream mode is exactly once across kill -9 (issue 12): 52,000 generated
# events (1% malformed) over a 4-shard stream (kinesis-mock), most of them
# KPL-aggregated, put in four batches while two consumers run side by side,
# one into an S3 lake (moto) and one into a local lake. Each consumer is
# SIGKILLed at a random moment 0..1.5 s after its first commit (inside reads,
# file writes, uploads and state writes alike) and restarted, at least 20
# times each; between the batches shard 0 is split and shards 1 and 2 are
# merged. Then a clean run to the end (--exit-idle), and DuckDB
# (check_lake.mjs) counts every event_uuid exactly once over events/** and
# every malformed record exactly once among the dead letters, in both lakes.
# The event_uuids are unique (no --dup-fraction): a duplicate put by the
# producer is deduplicated only within what one run reads (state.h).
# The S3 consumer reads each shard with one thread (the serial read loop),
# the local one with KL_CRASH_THREADS (default 2: the parallel read loop,
# pipeline/prep.h, killed with chunks in flight).
# KL_CRASH_SEED repeats a run's kill moments.
# duration: 360 (seconds, for the test runner's ordering: CI on 2 cores; 958 s at load average 15)
# no-asan: the sanitizer build is too slow for 40 restarts against the emulator;
# the same paths run under ASan in unit-asan/test_pipeline (stream part)
. "$(dirname "$0")/_lib.sh"
STOP_SIGNAL=KILL
start_stack
S3="aws --endpoint-url $AWS_ENDPOINT_URL_S3 s3"
put() { node "$ROOT/tests/js/kinesis_put.mjs" "$@" > /dev/null 2>&1 || fail "put $*"; }
N=${KL_CRASH_EVENTS:-52000} KILLS=${KL_CRASH_KILLS:-20}
seed=${KL_CRASH_SEED:-$RANDOM}; echo "crash seed $seed"

$K create-stream --stream-name ev --shard-count 4
$S3 mb s3://lake > /dev/null
"$KL" gen --events "$N" --bad-fraction 0.01 --seed 41 > "$T/all.jsonl"
split -n l/4 -d "$T/all.jsonl" "$T/batch"
# small files, frequent flushes: many commits for the kills to fall between
args=(--stream ev --max-file-bytes 48KiB --flush-interval 1 --quiet)

# threads per shard of each consumer
threads() { [ "$1" = local ] && echo "${KL_CRASH_THREADS:-2}" || echo 1; }
# chaos LAKE NAME FORMAT: start, kill -9 at a random moment, start again, until
# $T/stop exists and KILLS kills were made; the kill count goes to $T/NAME.kills
chaos() {
	local lake=$1 name=$2 fmt=$3 kills=0 pid
	RANDOM=$((seed + ${#name}))
	while [ ! -e "$T/stop" ] || [ "$kills" -lt "$KILLS" ]; do
		rm -f "$T/$name.prom"
		"$KL" ingest "${args[@]}" --lake "$lake" --format "$fmt" --threads "$(threads "$name")" \
			--metrics-file "$T/$name.prom" \
			--metrics-interval 0.1 2>> "$T/$name.log" & pid=$!
		# a run killed before its first commit proves nothing: wait until it
		# has committed files (up to 30 s), then kill it 0..1.5 s later
		for _ in $(seq 1 300); do
			[ "$(awk '$1 == "kinlake_files_committed_total" { print $2 }' "$T/$name.prom" 2>/dev/null)" -gt 0 ] 2>/dev/null && break
			sleep 0.1
		done
		sleep "$((RANDOM % 2)).$((RANDOM % 6))"
		if kill -KILL "$pid" 2>/dev/null; then kills=$((kills + 1)); fi
		wait "$pid" 2>/dev/null || true
		echo "$kills" > "$T/$name.kills"
	done
}
chaos s3://lake/l s3 parquet & pids+=($!)
chaos "$T/local" local jsonl & pids+=($!)

# four batches, most lines KPL-aggregated (the emulator's PutRecords costs
# grow with every record kept: aggregates keep it to about 2,000 records)
agg=$(( $(wc -l < "$T/batch00") - 150 ))
put ev "$T/batch00" --agg "$agg" --agg-size 250
echo "batch 1 put ($SECONDS s)"
reshard split-shard --stream-name ev --shard-to-split shardId-000000000000 \
	--new-starting-hash-key 42535295865117307932921825928971026432
sleep 1
put ev "$T/batch01" --agg "$agg" --agg-size 250
reshard merge-shards --stream-name ev --shard-to-merge shardId-000000000001 \
	--adjacent-shard-to-merge shardId-000000000002
sleep 1
put ev "$T/batch02" --agg "$agg" --agg-size 250
put ev "$T/batch03" --agg "$agg" --agg-size 250
$K list-shards --stream-name ev --query 'length(Shards)' --output text | grep -qx 7 ||
	fail "the split and the merge did not give 7 shards"
echo "put $N events; split and merge done ($SECONDS s)"
touch "$T/stop"
wait "${pids[@]}"
pids=()
echo "kills ended ($SECONDS s): s3 $(cat "$T/s3.kills"), local $(cat "$T/local.kills")"

# the clean runs to the end, both at once; a run that fails on a transient
# error (the emulator answers slowly on a loaded machine) is simply run again,
# as an operator would
final() { # lake format name
	for _ in 1 2 3; do
		"$KL" ingest "${args[@]}" --lake "$1" --format "$2" --threads "$(threads "$3")" \
			--exit-idle 4 2>> "$T/$3.final" && return 0
	done
	fail "final run ($3): $(tail -3 "$T/$3.final")"
}
final s3://lake/l parquet s3 & p1=$!
final "$T/local" jsonl local & p2=$!
wait "$p1" || exit 1
wait "$p2" || exit 1
echo "clean runs ended ($SECONDS s)"
$S3 cp --recursive --quiet s3://lake/l "$T/s3"

# every event once, every malformed record one dead letter: measured first
# (duplicates allowed, so a failure says how many), then asserted
verdict() { # lake name format
	check_lake "$T/all.jsonl" "$1" --format "$3" --allow-duplicates > "$T/$2.json" || fail "$2 lake: events lost"
	python3 - "$T/$2.json" "$2" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
bad = c["lines"] - c["expected_events"] - c["duplicates"]
print(f"{sys.argv[2]} lake: {c['stored']} rows for {c['expected_events']} events "
      f"({c['stored'] - c['expected_events']} extra), {c['dead']} dead letters for {bad} malformed records")
sys.exit(0 if c["stored"] == c["expected_events"] and c["dead"] == bad else 1)
PY
}
ok=1
verdict "$T/s3" s3 parquet || ok=0
verdict "$T/local" local jsonl || ok=0
[ "$ok" = 1 ] || fail "not exactly once (crash seed $seed)"
check_lake "$T/all.jsonl" "$T/local" > /dev/null
check_lake "$T/all.jsonl" "$T/s3" --format parquet > /dev/null
# every shard's state is a compact log: P lines below R are pruned
for f in "$T"/local/_kinlake/state/*.log; do
	[ "$(grep -c ' P ' "$f")" -le 100 ] || fail "$f keeps $(grep -c ' P ' "$f") P lines"
done
echo "stream_crash: ok ($SECONDS s)"
