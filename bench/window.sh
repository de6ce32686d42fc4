#!/usr/bin/env bash
# Files per partition-hour and file sizes, interval flushing vs --window hour, for one
# hour of the production-shaped stream (kinlake gen: BENCH_WINDOW_EVENTS events over one
# hour, 100 event types) in BENCH_SHARDS shards. See bench/README.md "Window mode".
#   BENCH_WINDOW_EVENTS [1000000]  events in the hour (the production rate)
#   BENCH_SHARDS [4]               shards (one kinlake pipeline each)
#   BENCH_WINDOW_SPEED [60]        replay speed: the hour arrives in 3600/SPEED seconds,
#                                  and interval mode's --flush-interval is 300/SPEED s, so
#                                  each interval file covers 5 minutes of the stream as in
#                                  production
#   BENCH_WINDOW_MEMORY [1GiB]     --memory-limit of each shard's process (an hour of a
#                                  shard's events must fit, or the budget splits files)
#   BENCH_FORMAT [parquet]         --format
set -euo pipefail
. "$(dirname "$0")/_lib.sh"
N=${BENCH_WINDOW_EVENTS:-1000000}
SHARDS=${BENCH_SHARDS:-4}
SPEED=${BENCH_WINDOW_SPEED:-60}
FORMAT=${BENCH_FORMAT:-parquet}
MEM=${BENCH_WINDOW_MEMORY:-1GiB}
OUT=bench/out/window
rm -rf "$OUT"
mkdir -p "$OUT"
EV=$OUT/events.jsonl
"$KINLAKE" gen --events "$N" --start 1764547200 --span 3600 --output "$EV"
interval=$(awk -v s="$SPEED" 'BEGIN { printf "%g", 300 / s }')

run() { # MODE
	local lake=$OUT/lake-$1 extra=(--window "$1")
	[ "$1" = interval ] && extra+=(--flush-interval "$interval")
	local t0
	t0=$(date +%s.%N)
	python3 bench/window_replay.py "$EV" "$SHARDS" "$SPEED" -- \
		"$KINLAKE" ingest --input - --input-id "shard-{}" --lake "$lake" --format "$FORMAT" \
		--memory-limit "$MEM" --no-progress --quiet "${extra[@]}"
	awk -v t0="$t0" -v t1="$(date +%s.%N)" 'BEGIN { printf "%.1f\n", t1 - t0 }' >"$OUT/seconds-$1"
	# one row per data file: its partition-hour directory, its size
	(cd "$lake/events" && find . -type f -printf '%h\t%s\n') >"$OUT/files-$1.tsv"
}
stats() { # MODE: a table row
	local f=$OUT/files-$1.tsv
	local files parts per_med per_max size_med size_mean total
	files=$(wc -l <"$f")
	parts=$(cut -f1 "$f" | sort -u | wc -l)
	per_med=$(cut -f1 "$f" | sort | uniq -c | awk '{ print $1 }' | med - '')
	per_max=$(cut -f1 "$f" | sort | uniq -c | awk '$1 > m { m = $1 } END { print m }')
	size_med=$(cut -f2 "$f" | med - '')
	total=$(awk -F'\t' '{ s += $2 } END { print s }' "$f")
	printf '| %s | %s | %s | %.1f | %s | %s | %.1f | %.1f | %.1f | %s |\n' "$1" "$files" "$parts" \
		"$(awk -v a="$files" -v b="$parts" 'BEGIN { print a / b }')" "$per_med" "$per_max" \
		"$(awk -v s="$size_med" 'BEGIN { print s / 1024 }')" \
		"$(awk -v s="$total" -v n="$files" 'BEGIN { print s / n / 1024 }')" \
		"$(awk -v s="$total" 'BEGIN { print s / 1048576 }')" "$(cat "$OUT/seconds-$1")"
}
for mode in interval hour; do
	echo "bench: --window $mode, $N events over $SHARDS shards at ${SPEED}x" >&2
	run "$mode"
done
REPORT=$OUT/results.md
{
	echo "# kinlake window bench — $(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo
	echo "$($KINLAKE version) ($(bench_rev)); $N events ($(awk -v s="$(stat -c %s "$EV")" 'BEGIN { printf "%.0f", s / 1e6 }') MB) over one hour of created_at, $SHARDS shards, replayed at ${SPEED}x (interval: --flush-interval $interval s = 5 min of the stream), --format $FORMAT, --memory-limit $MEM per shard"
	echo
	echo "| mode | data files | partition-hours | files per partition-hour (mean) | median | max | median file KiB | mean file KiB | total MiB | wall s |"
	echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
	stats interval
	stats hour
} >"$REPORT"
cat "$REPORT"
