#!/usr/bin/env bash
# Kinesis -> S3 on the local stack (kinesis-mock + moto), against the ceiling the
# emulator sets: the same GetRecords calls served to a consumer that does nothing
# (tests/js/kinesis_drain.mjs), in the same run. Also CPU per event, stream mode vs
# local mode on the same events. Medians of BENCH_RUNS. See bench/README.md.
#   BENCH_KINESIS_EVENTS [100000]  events in the stream
#   BENCH_SHARDS [4]               shards
#   BENCH_RUNS [3]                 runs of every job (interleaved)
#   BENCH_FORMAT [parquet]         --format of every kinlake job
#   BENCH_KINESIS_LOAD [state]     state: write the events into kinesis-mock's persisted
#                                  state and start it on that (seconds); put: PutRecords
#                                  through the API (quadratic in kinesis-mock: minutes
#                                  for 2e4 events, hours for 1e6)
#   BENCH_KINESIS_LOCAL_DISK [1]   also run kinlake --stream into a local directory
set -euo pipefail
cd "$(dirname "$0")/.."
KINLAKE=${KINLAKE:-build/kinlake}
N=${BENCH_KINESIS_EVENTS:-100000}
RUNS=${BENCH_RUNS:-3}
SHARDS=${BENCH_SHARDS:-4}
FORMAT=${BENCH_FORMAT:-parquet}
LOAD=${BENCH_KINESIS_LOAD:-state}
DISK=${BENCH_KINESIS_LOCAL_DISK:-1}
IDLE=2 # --exit-idle seconds, taken off kinlake's wall time
STREAM=bench
OUT=bench/out/kinesis
rm -rf "$OUT"
mkdir -p "$OUT/logs"
OUT=$(cd "$OUT" && pwd) # kinesis-mock runs in its own directory
EV=$OUT/events.jsonl
# kinesis-mock answers only once a persisted state is loaded: about 0.6 ms per record
export KL_STACK_DIR=$OUT/stack KL_KINESIS_PORT=0 KL_MOTO_PORT=0 KL_STACK_WAIT=$((60 + N / 500))
trap 'scripts/stack.sh down >/dev/null 2>&1 || true' EXIT
die() { echo "bench: $*" >&2; exit 1; }
calc() { awk "BEGIN { printf \"$1\", $2 }"; }
med() { sort -g | awk '{ v[NR] = $1 } END { if (!NR) { print "nan"; exit } m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%.6f\n", m }'; }
HZ=$(getconf CLK_TCK)
kcpu() { awk -v hz="$HZ" '{ printf "%.2f\n", ($14 + $15) / hz }' "/proc/$(cat "$OUT/stack/kinesis.pid")/stat"; }
stack_up() { # extra environment for kinesis-mock
	env "$@" scripts/stack.sh up >>"$OUT/logs/stack.log" 2>&1 ||
		{ tail -5 "$OUT/logs/stack.log" >&2; die "the stack did not start"; }
	. "$OUT/stack/env"
	K="aws --endpoint-url $AWS_ENDPOINT_URL_KINESIS kinesis"
}
status() { $K describe-stream-summary --stream-name "$1" --query StreamDescriptionSummary.StreamStatus --output text 2>/dev/null || true; }
create() { # STREAM: create it and wait until it is ACTIVE
	$K create-stream --stream-name "$1" --shard-count "$SHARDS"
	for _ in $(seq 1 100); do [ "$(status "$1")" = ACTIVE ] && return 0; sleep 0.2; done
	die "stream $1 is not ACTIVE: $(status "$1")"
}

load0=$(cut -d' ' -f1-3 /proc/loadavg)
"$KINLAKE" gen --events "$N" --output "$EV"
# a second, small stream of the same events: read once before the measured runs, so
# that the emulator's JavaScript is compiled and warm when the first one starts
W=$((N < 10000 ? N : 10000))
head -n "$W" "$EV" >"$OUT/warmup.jsonl"
t_load=$(date +%s.%N)
case $LOAD in
state)
	# 1. kinesis-mock creates the streams and persists its state; 2. the events go into
	#    that state as its PutRecords would store them (tests/js/kinesis_put.mjs
	#    --emulator-state); 3. kinesis-mock starts again on it
	ST=$OUT/emulator
	mkdir -p "$ST"
	stack_up SHOULD_PERSIST_DATA=true PERSIST_PATH="$ST" PERSIST_INTERVAL=1s
	create "$STREAM"
	create warmup
	for _ in $(seq 1 100); do # a persisted copy that holds both streams ACTIVE
		node -e 'const [f, o, ...names] = process.argv.slice(1), fs = require("fs");
			const j = JSON.parse(fs.readFileSync(f, "utf8"));
			const ok = (n) => Object.values(j.streams).some((x) => x.streamName === n && x.streamStatus === "ACTIVE");
			if (!names.every(ok)) process.exit(1);
			fs.writeFileSync(o, JSON.stringify(j));' "$ST/kinesis-data.json" "$ST/empty.json" "$STREAM" warmup 2>/dev/null && break
		sleep 0.2
	done
	[ -f "$ST/empty.json" ] || die "kinesis-mock did not persist the streams in $ST"
	scripts/stack.sh down >>"$OUT/logs/stack.log" 2>&1
	cp "$ST/empty.json" "$ST/kinesis-data.json"
	echo "bench: writing $N events into kinesis-mock's state ($SHARDS shards)" >&2
	node tests/js/kinesis_put.mjs "$STREAM" "$EV" --emulator-state "$ST/kinesis-data.json" 2>/dev/null >"$OUT/logs/put.json"
	node tests/js/kinesis_put.mjs warmup "$OUT/warmup.jsonl" --emulator-state "$ST/kinesis-data.json" 2>/dev/null >/dev/null
	echo "bench: starting kinesis-mock on it" >&2
	stack_up LOAD_DATA_IF_EXISTS=true PERSIST_PATH="$ST"
	[ "$(status "$STREAM")" = ACTIVE ] || die "stream $STREAM is not ACTIVE after loading: $(status "$STREAM")"
	;;
put)
	stack_up
	create "$STREAM"
	create warmup
	echo "bench: putting $N + $W events into $SHARDS shards (PutRecords x500, one call in flight per shard)" >&2
	node tests/js/kinesis_put.mjs "$STREAM" "$EV" --parallel 2>/dev/null >"$OUT/logs/put.json"
	node tests/js/kinesis_put.mjs warmup "$OUT/warmup.jsonl" --parallel 2>/dev/null >/dev/null
	;;
*) die "BENCH_KINESIS_LOAD must be state or put" ;;
esac
t_load=$(calc '%.0f' "$(date +%s.%N) - $t_load")
shards=$($K list-shards --stream-name "$STREAM" --query 'length(Shards)' --output text)
[ "$shards" = "$SHARDS" ] || die "the stream has $shards shards, not $SHARDS"
echo "bench: warm-up read of $W events" >&2
node tests/js/kinesis_drain.mjs warmup 500 2>/dev/null >"$OUT/logs/warmup.json"
S3="aws --endpoint-url $AWS_ENDPOINT_URL_S3 s3"
$S3 mb s3://bench >/dev/null

# one job: NAME EVENTS-TAKEN-OFF command...; appends "run job wall user sys rss emu_cpu" to raw.tsv
RAW=$OUT/raw.tsv
printf 'run\tjob\twall_s\tuser_s\tsys_s\tpeak_rss_kb\temulator_cpu_s\tevents_per_s\n' >"$RAW"
job() {
	local run=$1 name=$2 log=$OUT/logs/$2-$1.log
	shift 2
	local c0 c1
	c0=$(kcpu)
	/usr/bin/time -f '%e %U %S %M' -o "$OUT/t" "$@" >"$log.out" 2>"$log" ||
		{ tail -5 "$log" >&2; die "$name (run $run) failed: $*"; }
	c1=$(kcpu)
	read -r wall u s rss <"$OUT/t"
	local eps
	case $name in
	drain) # its own clock: first GetShardIterator to the last record
		local recs secs
		recs=$(node -e 'const j = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")); console.log(j.records, j.seconds)' "$log.out")
		read -r recs secs <<<"$recs"
		[ "$recs" = "$N" ] || die "the do-nothing consumer got $recs records, not $N"
		eps=$(calc '%.3f' "$N / $secs")
		wall=$(calc '%.3f' "$secs") ;;
	stream-*) # the --exit-idle tail is not work
		grep -q "read=$N " "$log" || die "$name (run $run) did not read $N events: $(tail -1 "$log")"
		wall=$(calc '%.3f' "$wall - $IDLE")
		eps=$(calc '%.3f' "$N / $wall") ;;
	*)
		grep -q "read=$N " "$log" || die "$name (run $run) did not read $N events: $(tail -1 "$log")"
		eps=$(calc '%.3f' "$N / $wall") ;;
	esac
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$run" "$name" "$wall" "$u" "$s" "$rss" \
		"$(calc '%.2f' "$c1 - $c0")" "$eps" >>"$RAW"
}

KL="$KINLAKE ingest --format $FORMAT --no-progress"
for r in $(seq 1 "$RUNS"); do
	echo "bench: run $r/$RUNS" >&2
	job "$r" drain node tests/js/kinesis_drain.mjs "$STREAM" $((IDLE * 1000))
	job "$r" stream-s3 $KL --stream "$STREAM" --lake "s3://bench/stream-$r" --exit-idle "$IDLE"
	if [ "$DISK" = 1 ]; then
		rm -rf "$OUT/lake"
		job "$r" stream-disk $KL --stream "$STREAM" --lake "$OUT/lake" --exit-idle "$IDLE"
	fi
	rm -rf "$OUT/lake"
	job "$r" file-disk $KL --input "$EV" --lake "$OUT/lake"
	rm -rf "$OUT/lake"
done

# medians
col() { awk -F'\t' -v j="$1" -v c="$2" 'NR > 1 && $2 == j { print $c }' "$RAW" | med; }
cpu() { awk -F'\t' -v j="$1" -v n="$N" 'NR > 1 && $2 == j { printf "%.6f\n", ($4 + $5) * 1e6 / n }' "$RAW" | med; }
has() { awk -F'\t' -v j="$1" 'NR > 1 && $2 == j { f = 1 } END { exit !f }' "$RAW"; }
CEIL=$(col drain 8)
row() { # job label
	has "$1" || return 0
	local eps wall emu ratio="-" c
	eps=$(col "$1" 8)
	wall=$(col "$1" 3)
	emu=$(col "$1" 7)
	case $1 in drain | stream-*) ratio=$(calc '%.2f' "$eps / $CEIL") ;; esac
	if [ "$1" = drain ]; then c="-"; else c=$(calc '%.1f' "$(cpu "$1")"); fi
	case $1 in file-*) emu="-" ;; *) emu="$(calc '%.1f' "$emu") ($(calc '%.0f' "100 * $emu / $wall")%)" ;; esac
	printf '| %s | %s | %s | %s | %s | %s |\n' "$2" "$(calc '%.2f' "$wall")" "$(calc '%.0f' "$eps")" "$ratio" "$c" "$emu"
}
rev=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
git diff --quiet HEAD -- src 2>/dev/null || rev="$rev+local changes"
REPORT=$OUT/results.md
{
	echo "# kinlake Kinesis bench — $(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo
	echo "$($KINLAKE version) ($rev); $(nproc) CPUs ($(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)); node $(node --version); kinesis-local $(node -p 'require("./node_modules/kinesis-local/package.json").version'); load average $load0 at start, $(cut -d' ' -f1-3 /proc/loadavg) at end"
	echo "$N events ($(calc '%.1f' "$(stat -c %s "$EV") / 1e6") MB) in a $SHARDS-shard stream (loaded by '$LOAD' in ${t_load} s), --format $FORMAT, $RUNS runs, medians"
	echo
	echo "| job | seconds | events/s | ÷ ceiling | CPU µs/event | emulator CPU s (busy) |"
	echo "|---|---:|---:|---:|---:|---:|"
	row drain "GetRecords ceiling: do-nothing consumer (kinesis_drain.mjs)"
	row stream-s3 "kinlake --stream → S3 (moto)"
	row stream-disk "kinlake --stream → local disk"
	row file-disk "kinlake --input file → local disk (local mode)"
	echo
	s3r=$(calc '%.2f' "$(col stream-s3 8) / $CEIL")
	echo "- kinlake → S3 ÷ ceiling: $s3r (target ≥ 0.80: $(awk -v r="$s3r" 'BEGIN { print (r >= 0.8 ? "met" : "NOT met") }'))"
	c1=$(calc '%.2f' "$(cpu stream-s3) / $(cpu file-disk)")
	echo "- CPU per event, stream mode → S3 ÷ local mode: $c1 (target ≤ 1.5: $(awk -v r="$c1" 'BEGIN { print (r <= 1.5 ? "met" : "NOT met") }'))$(has stream-disk && echo "; stream mode → local disk ÷ local mode: $(calc '%.2f' "$(cpu stream-disk) / $(cpu file-disk)")")"
	echo "- seconds: the consumer's own clock from its first GetShardIterator to the last record; kinlake --stream: wall time minus the $IDLE s --exit-idle tail (its final flush and upload included); --input: wall time"
	echo "- emulator CPU: kinesis-mock's user+sys seconds during the job; busy = that ÷ seconds (one JavaScript thread, plus V8's GC threads)"
	echo
	echo "raw runs ($RAW):"
	echo
	echo '```'
	column -t -s $'\t' "$RAW"
	echo '```'
} >"$REPORT"
cat "$REPORT"
