#!/usr/bin/env bash
# Kinesis -> lake on the local stack (kinesis-mock), against the ceiling the emulator
# sets: the same GetRecords calls served to a consumer that does nothing
# (tests/js/kinesis_drain.mjs), in the same run. Also CPU per event, stream mode vs
# local mode on the same events. Medians of BENCH_RUNS (default 3).
#   BENCH_KINESIS_EVENTS (default 100000), BENCH_SHARDS (default 4)
set -euo pipefail
cd "$(dirname "$0")/.."
KINLAKE=${KINLAKE:-build/kinlake}
N=${BENCH_KINESIS_EVENTS:-100000}
RUNS=${BENCH_RUNS:-3}
SHARDS=${BENCH_SHARDS:-4}
OUT=bench/out/kinesis
rm -rf "$OUT"; mkdir -p "$OUT"
export KL_STACK_DIR=$OUT/stack KL_KINESIS_PORT=0 KL_MOTO_PORT=0
trap 'scripts/stack.sh down >/dev/null 2>&1 || true' EXIT
scripts/stack.sh up >/dev/null
. "$OUT/stack/env"
"$KINLAKE" gen --events "$N" --output "$OUT/events.jsonl"
K="aws --endpoint-url $AWS_ENDPOINT_URL_KINESIS kinesis"
$K create-stream --stream-name bench --shard-count "$SHARDS"
sleep 1
echo "bench: putting $N events into $SHARDS shards" >&2
node tests/js/kinesis_put.mjs bench "$OUT/events.jsonl" 2>/dev/null >&2

med() { sort -g | awk '{ v[NR] = $1 } END { m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%.3f\n", m }'; }
: >"$OUT/drain"; : >"$OUT/kl"; : >"$OUT/klcpu"; : >"$OUT/localcpu"
for r in $(seq 1 "$RUNS"); do
	echo "bench: run $r/$RUNS" >&2
	node tests/js/kinesis_drain.mjs bench 2000 2>/dev/null | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const j=JSON.parse(s);console.log(j.records/j.seconds)})' >>"$OUT/drain"
	rm -rf "$OUT/lake" "$OUT/lake-local"
	# the stream run: wall time minus the idle tail (--exit-idle), CPU from /usr/bin/time
	/usr/bin/time -f '%e %U %S' -o "$OUT/t" "$KINLAKE" ingest --stream bench --lake "$OUT/lake" --exit-idle 2 --format jsonl --quiet
	read -r wall u s <"$OUT/t"
	awk -v n="$N" -v w="$wall" 'BEGIN { printf "%.3f\n", n / (w - 2) }' >>"$OUT/kl"
	awk -v n="$N" -v u="$u" -v s="$s" 'BEGIN { printf "%.3f\n", (u + s) * 1e6 / n }' >>"$OUT/klcpu"
	/usr/bin/time -f '%e %U %S' -o "$OUT/t" "$KINLAKE" ingest --input "$OUT/events.jsonl" --lake "$OUT/lake-local" --format jsonl --quiet
	read -r wall u s <"$OUT/t"
	awk -v n="$N" -v u="$u" -v s="$s" 'BEGIN { printf "%.3f\n", (u + s) * 1e6 / n }' >>"$OUT/localcpu"
done
drain=$(med <"$OUT/drain"); kl=$(med <"$OUT/kl"); kc=$(med <"$OUT/klcpu"); lc=$(med <"$OUT/localcpu")
echo "# kinlake Kinesis bench ($N events, $SHARDS shards, kinesis-mock, $RUNS runs, medians)"
echo
echo "| figure | value |"
echo "|---|---:|"
echo "| GetRecords ceiling (do-nothing consumer), events/s | $(printf '%.0f' "$drain") |"
echo "| kinlake ingest --stream, events/s (idle tail excluded) | $(printf '%.0f' "$kl") |"
echo "| kinlake ÷ ceiling | $(awk -v a="$kl" -v b="$drain" 'BEGIN { printf "%.2f", a / b }') |"
echo "| CPU µs/event, stream mode | $kc |"
echo "| CPU µs/event, local mode (same events from a file) | $lc |"
echo "| stream ÷ local CPU per event | $(awk -v a="$kc" -v b="$lc" 'BEGIN { printf "%.2f", a / b }') |"
