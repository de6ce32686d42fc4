#!/usr/bin/env bash
# make demo: 1M synthetic events -> ./lake with kinlake, then questions about the
# lake answered by DuckDB (scripts/demo.mjs). Repeatable: ./lake is recreated.
#
# Environment:
#   KL_DEMO_FORMAT   jsonl|parquet; unset = kinlake's default format
#   KL_DEMO_EVENTS   number of events (default 1000000)
#   KL_DEMO_DIR      where the generated input goes (default build/demo, not in git)
#   KINLAKE          the binary (default build/kinlake)
set -euo pipefail
cd "$(dirname "$0")/.."

KINLAKE=${KINLAKE:-build/kinlake}
EVENTS=${KL_DEMO_EVENTS:-1000000}
WORK=${KL_DEMO_DIR:-build/demo}
INPUT=$WORK/events.jsonl
LAKE=./lake

now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

fmt_args=()
[ -n "${KL_DEMO_FORMAT:-}" ] && fmt_args=(--format "$KL_DEMO_FORMAT")

t0=$(now)
mkdir -p "$WORK"
echo "== 1/3 kinlake gen: $EVENTS events over 2 hours, 0.1% malformed, 0.1% duplicates -> $INPUT"
"$KINLAKE" gen --events "$EVENTS" --bad-fraction 0.001 --dup-fraction 0.001 --span 7200 --output "$INPUT"
t1=$(now)
echo "   $(wc -c <"$INPUT" | awk '{ printf "%.1f MB", $1 / 1e6 }') in $(secs "$t0" "$t1") s"

echo "== 2/3 kinlake ingest --input $INPUT --lake $LAKE${fmt_args[*]+ ${fmt_args[*]}}"
rm -rf "$LAKE"
"$KINLAKE" ingest --input "$INPUT" --lake "$LAKE" ${fmt_args[@]+"${fmt_args[@]}"} 2>&1
t2=$(now)

echo "== 3/3 node scripts/demo.mjs $LAKE"
node scripts/demo.mjs "$LAKE"
t3=$(now)

echo
echo "total wall time: $(secs "$t0" "$t3") s (gen $(secs "$t0" "$t1") s, ingest $(secs "$t1" "$t2") s, DuckDB $(secs "$t2" "$t3") s)"
