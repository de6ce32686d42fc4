# Stream mode is exactly once across kill -9 (issue 12): 52,000 generated
# events (1% malformed) over a 4-shard stream (kinesis-mock), most of them
# KPL-aggregated, put in 40 chunks while two consumers run side by side, one
# into an S3 lake (moto) and one into a local lake. Each consumer is
# SIGKILLed at a random moment 0..1.5 s after its run's first commit and
# after the arrival of chunk 2k for its kill k + 1 (inside reads, file
# writes, uploads and state writes alike) and restarted, at least 20 times
# each, spread over the stream; the chunks go in as the kills go on, so every
# killed run had records to read and commit (a kill of a run that found
# nothing to read is made only if the whole stream is in and read, and the
# trace says so); after a third of the chunks shard 0 is split, after two
# thirds shards 1 and 2 are merged. Then a clean run to the end (--exit-idle), and DuckDB
# (check_lake.mjs) counts every event_uuid exactly once over events/** and
# every malformed record exactly once among the dead letters, in both lakes.
# The event_uuids are unique (no --dup-fraction): a duplicate put by the
# producer is deduplicated only within what one run reads (state.h).
# The S3 consumer reads each shard with one thread (the serial read loop),
# the local one with KL_CRASH_THREADS (default 2: the parallel read loop,
# pipeline/prep.h, killed with chunks in flight).
# KL_CRASH_SEED repeats a run's kill moments. KL_CRASH_LEASE=1 runs both
# consumers in lease mode (a lease table each, moto's DynamoDB, a 3 s lease
# timeout that each restart waits out): the fenced commits (lease/fence.h),
# on S3 sent side by side, under the same kills.
# duration: 200 (seconds, for the test runner's ordering, on 2 cores: 172 s at load average 3, 247-346 s at 6-9)
# no-asan: the sanitizer build is too slow for 40 restarts against the emulator;
# the same paths run under ASan in unit-asan/test_pipeline (stream part)
. "$(dirname "$0")/_lib.sh"
STOP_SIGNAL=KILL
start_stack
N=${KL_CRASH_EVENTS:-52000} KILLS=${KL_CRASH_KILLS:-20}
seed=${KL_CRASH_SEED:-$RANDOM}; echo "crash seed $seed"

$K create-stream --stream-name ev --shard-count 4
s3lite "$AWS_ENDPOINT_URL_S3" mb s3://lake
"$KL" gen --events "$N" --bad-fraction 0.01 --seed 41 > "$T/all.jsonl"
# small files, frequent flushes: many commits for the kills to fall between
args=(--stream ev --max-file-bytes 48KiB --flush-interval 1 --quiet)

# threads per shard of each consumer
threads() { [ "$1" = local ] && echo "${KL_CRASH_THREADS:-2}" || echo 1; }
# lease mode's flags for consumer NAME (KL_CRASH_LEASE=1), into lease_args
lease_args=()
leases() {
	lease_args=()
	[ "${KL_CRASH_LEASE:-0}" = 1 ] || return 0
	lease_args=(--lease-table "crash-$1" --lease-timeout 3 --lease-renew-interval 1)
}
# --exit-idle of the final runs: in lease mode longer than the lease timeout,
# or a run that holds no shard yet (the killed run's leases have not expired)
# ends before it may take one (docs/leases.md)
final_idle() { [ "${KL_CRASH_LEASE:-0}" = 1 ] && echo 8 || echo 1; }
# committed NAME: the files the consumer's current run has committed (its
# --metrics-file; empty before the run wrote it)
committed() { awk '$1 == "kinlake_files_committed_total" { print $2 }' "$T/$1.prom" 2>/dev/null || true; }
# progress NAME: both at once from one read of the metrics file (this runs
# every 0.1 s for each consumer: one awk, not two), into c and starved:
#   c: committed NAME (empty before the run wrote its metrics);
#   starved: 1 when the current run has read every shard to its end (Millis-
#   BehindLatest 0 on each) and found no record: it waits on the producer
progress() {
	local line
	line=$(awk '$1 == "kinlake_files_committed_total" { c = $2 }
		/^kinlake_shard_records_read_total[{]/ { r += $2 }
		/^kinlake_shard_millis_behind_latest[{]/ { n++; if ($2 != 0) b = 1 }
		END { print (c == "" ? "-" : c), (n > 0 && !b && r == 0) ? 1 : 0 }' "$T/$1.prom" 2>/dev/null) || line="- 0"
	c=${line%% *} starved=${line##* }
	[ "$c" != - ] || c=
}
# chaos LAKE NAME FORMAT: start, kill -9 at a random moment after the run's
# first commit, start again, until $T/stop exists and KILLS such kills were
# made; the count goes to $T/NAME.kills, every kill's line to $T/NAME.trace.
# A run that has read the whole stream without finding a record asks the
# producer for more ($T/NAME.hungry, below) while it has kills to make.
chaos() {
	local lake=$1 name=$2 fmt=$3 kills=0 runs=0 pid c
	RANDOM=$((seed + ${#name}))
	while [ ! -e "$T/stop" ] || [ "$kills" -lt "$KILLS" ]; do
		rm -f "$T/$name.prom"
		leases "$name"
		"$KL" ingest "${args[@]}" "${lease_args[@]}" --lake "$lake" --format "$fmt" \
			--threads "$(threads "$name")" --metrics-file "$T/$name.prom" \
			--metrics-interval 0.1 2>> "$T/$name.log" & pid=$!
		runs=$((runs + 1))
		# a run killed before its first commit proves little: wait until it
		# has committed files (up to 30 s), then kill it 0..1.5 s later
		c=0
		for _ in $(seq 1 300); do
			progress "$name"
			[ "${c:-0}" -gt 0 ] 2>/dev/null && break
			if [ "$kills" -lt "$KILLS" ] && [ "$starved" = 1 ]; then touch "$T/$name.hungry"; fi
			# the stream is all put and this consumer made its kills: a run
			# with nothing left to read is not waited for (nor counted)
			[ -e "$T/stop" ] && [ "$kills" -ge "$KILLS" ] && break
			# or it still has kills to make: the run is killed idle (below)
			[ -e "$T/stop" ] && [ "$starved" = 1 ] && break
			sleep 0.1
		done
		rm -f "$T/$name.hungry"
		# kill k + 1 once chunk 2k is in: the kills spread over the whole
		# stream, each soon after records arrived, and a consumer ahead of
		# the producer reads on instead of restarting (a restart costs the
		# emulator, which serves the puts too)
		if [ "${c:-0}" -gt 0 ] 2>/dev/null; then
			while [ ! -e "$T/stop" ] && [ ! -e "$T/chunk.put.$((2 * kills))" ]; do sleep 0.1; done
		fi
		sleep "$((RANDOM % 2)).$((RANDOM % 6))"
		if kill -KILL "$pid" 2>/dev/null; then
			if [ "${c:-0}" -gt 0 ] 2>/dev/null; then
				kills=$((kills + 1))
				echo "kill $kills at $SECONDS s: run $runs, $(committed "$name") files committed" >> "$T/$name.trace"
			elif [ -e "$T/stop" ] && [ "$kills" -lt "$KILLS" ]; then
				# everything is put and read: an idle run is all there is left
				kills=$((kills + 1))
				echo "kill $kills at $SECONDS s: run $runs, idle (nothing left to read)" >> "$T/$name.trace"
			fi
		fi
		wait "$pid" 2>/dev/null || true
		echo "$kills" > "$T/$name.kills"
	done
	echo "$runs" > "$T/$name.runs"
}
kills_of() { cat "$T/$1.kills" 2>/dev/null || echo 0; }
chaos s3://lake/l s3 parquet & pids+=($!)
chaos "$T/local" local jsonl & pids+=($!)

# The producer: one process puts the events in 2 * KILLS chunks, most lines
# of each KPL-aggregated (at most 250 user records an aggregate, so kills land
# inside aggregates) and its last 10 plain (400 plain records in all; the
# emulator's calls cost by the record and the byte, the aggregates keep the
# stream to about 1,000 records). The events flow while the consumers are
# killed, paced by the kills: chunk i goes in once both consumers made
# (i - 1) / 2 kills, or earlier when a consumer that still has kills to make
# has a run that read every shard to its end and found nothing. So the whole
# stream goes in during the kills, every run has records that no earlier run
# committed, no run waits long on a stream it has read to the end, and few
# records are put far ahead of the readers (the emulator serves puts and
# reads on one thread, and a killed run's reads are made again by the next).
# Shard 0 is split after a third of the chunks, shards 1 and 2 are merged
# after two thirds.
C=$((2 * KILLS))
node "$ROOT/tests/js/kinesis_put.mjs" ev "$T/all.jsonl" --plain 10 --agg-size 250 \
	--chunks "$C" --gate "$T/chunk" > "$T/put.json" 2> "$T/put.err" & producer=$!
for i in $(seq 1 $((C - 1))); do
	until [ -e "$T/chunk.put.$((i - 1))" ] && { [ -e "$T/s3.hungry" ] || [ -e "$T/local.hungry" ] ||
		{ [ "$(kills_of s3)" -ge $(((i - 1) / 2)) ] && [ "$(kills_of local)" -ge $(((i - 1) / 2)) ]; }; }; do
		kill -0 "$producer" 2>/dev/null || fail "put: $(tail -3 "$T/put.err")"
		sleep 0.1
	done
	rm -f "$T/s3.hungry" "$T/local.hungry"
	if [ "$i" = $((C / 3)) ]; then
		reshard split-shard --stream-name ev --shard-to-split shardId-000000000000 \
			--new-starting-hash-key 42535295865117307932921825928971026432
		echo "shard 0 split after chunk $i of $C ($SECONDS s; kills: s3 $(kills_of s3), local $(kills_of local))"
		sleep 1
	elif [ "$i" = $((2 * C / 3)) ]; then
		reshard merge-shards --stream-name ev --shard-to-merge shardId-000000000001 \
			--adjacent-shard-to-merge shardId-000000000002
		echo "shards 1 and 2 merged after chunk $i of $C ($SECONDS s; kills: s3 $(kills_of s3), local $(kills_of local))"
		sleep 1
	fi
	touch "$T/chunk.go.$i"
done
wait "$producer" || fail "put: $(tail -3 "$T/put.err")"
python3 -c 'import json, sys; c = json.load(open(sys.argv[1]))
sys.exit(c["plain"] + c["aggregated_user_records"] != int(sys.argv[2]))' "$T/put.json" "$N" ||
	fail "put: $(cat "$T/put.json")"
$K list-shards --stream-name ev --query 'length(Shards)' --output text | grepq -x 7 ||
	fail "the split and the merge did not give 7 shards"
echo "put $N events in $C chunks; split and merge done ($SECONDS s)"
touch "$T/stop"
wait "${pids[@]}"
pids=()
echo "kills ended ($SECONDS s): s3 $(kills_of s3) kills in $(cat "$T/s3.runs") runs," \
	"local $(kills_of local) in $(cat "$T/local.runs")"
for n in s3 local; do
	[ "$(kills_of $n)" -ge "$KILLS" ] || fail "$n: $(kills_of $n) kills"
	sed "s/^/  $n /" "$T/$n.trace"
done

# the clean runs to the end, both at once; a run that fails on a transient
# error (the emulator answers slowly on a loaded machine) is simply run again,
# as an operator would
final() { # lake format name
	leases "$3"
	for _ in 1 2 3; do
		"$KL" ingest "${args[@]}" "${lease_args[@]}" --lake "$1" --format "$2" \
			--threads "$(threads "$3")" --exit-idle "$(final_idle)" 2>> "$T/$3.final" && return 0
	done
	fail "final run ($3): $(tail -3 "$T/$3.final")"
}
final s3://lake/l parquet s3 & p1=$!
final "$T/local" jsonl local & p2=$!
wait "$p1" || exit 1
wait "$p2" || exit 1
echo "clean runs ended ($SECONDS s)"

# every event once, every malformed record one dead letter, each event as its
# input line says in its partition: one strict check_lake a lake, whose counts
# (printed also when it fails) say how many were lost or stored twice
verdict() { # lake name format
	local rc=0
	check_lake "$T/all.jsonl" "$1" --format "$3" > "$T/$2.json" 2> "$T/$2.check" || rc=$?
	python3 - "$T/$2.json" "$2" <<'PY' || rc=1
import json, sys
c = json.load(open(sys.argv[1]))
bad = c["lines"] - c["expected_events"] - c["duplicates"]
print(f"{sys.argv[2]} lake: {c['stored']} rows for {c['expected_events']} events "
      f"({c['stored'] - c['expected_events']} extra), {c['dead']} dead letters for {bad} malformed records")
sys.exit(0 if c["stored"] == c["expected_events"] and c["dead"] == bad else 1)
PY
	[ "$rc" = 0 ] || { head -n 20 "$T/$2.check"; return 1; }
}
# (the local lake's check runs while the S3 lake downloads)
ok=1
verdict "$T/local" local jsonl > "$T/local.verdict" 2>&1 & v=$!
s3lite "$AWS_ENDPOINT_URL_S3" cp s3://lake/l "$T/s3"
verdict "$T/s3" s3 parquet || ok=0
wait "$v" || ok=0
cat "$T/local.verdict"
[ "$ok" = 1 ] || fail "not exactly once (crash seed $seed)"
# every shard's state is a compact log: P lines below R are pruned
for f in "$T"/local/_kinlake/state/*.log; do
	[ "$(grep -c ' P ' "$f")" -le 100 ] || fail "$f keeps $(grep -c ' P ' "$f") P lines"
done
echo "stream_crash: ok ($SECONDS s)"
