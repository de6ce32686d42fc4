#!/usr/bin/env bash
# Compressed inputs (src/source/decompress.h): `ingest --input FILE.gz` and `FILE.zst`
# against the plain file and against the usual way without them, `gzip -dc FILE.gz |
# ingest --input -`, on the same events, alternated, BENCH_RUNS times; medians of wall
# and CPU seconds (the process tree's), and each one's ratio to the pipe. The lakes of
# all four are checked to hold the same data files. See bench/README.md "Compressed inputs".
#   BENCH_EVENTS [1000000]  events of `kinlake gen` (the production shape)
#   BENCH_RUNS [3]          runs of each job
#   BENCH_DIR [bench/out/compressed]  inputs and lakes (tmpfs keeps the disk out of it)
set -euo pipefail
. "$(dirname "$0")/_lib.sh"
N=${BENCH_EVENTS:-1000000}
RUNS=${BENCH_RUNS:-3}
OUT=${BENCH_DIR:-bench/out/compressed}
empty_trash
rm -rf "$OUT"
mkdir -p "$OUT"
"$KINLAKE" gen --events "$N" --output "$OUT/ev.jsonl"
gzip -6 -c "$OUT/ev.jsonl" >"$OUT/ev.jsonl.gz"
zstd -q -3 -c "$OUT/ev.jsonl" >"$OUT/ev.jsonl.zst"
echo "bench: $(bench_rev), $(bench_cpus), $N events: $(stat -c %s "$OUT/ev.jsonl") bytes," \
	"gzip -6 $(stat -c %s "$OUT/ev.jsonl.gz"), zstd -3 $(stat -c %s "$OUT/ev.jsonl.zst")"

job() { # NAME: the command line of one job, reading into $OUT/lake-NAME
	local lake=$OUT/lake-$1
	case $1 in
	plain) echo "$KINLAKE ingest --input $OUT/ev.jsonl --lake $lake --quiet --no-progress" ;;
	gzip) echo "$KINLAKE ingest --input $OUT/ev.jsonl.gz --lake $lake --quiet --no-progress" ;;
	zstd) echo "$KINLAKE ingest --input $OUT/ev.jsonl.zst --lake $lake --quiet --no-progress" ;;
	pipe) echo "gzip -dc $OUT/ev.jsonl.gz | $KINLAKE ingest --input - --input-id ev --lake $lake --quiet --no-progress" ;;
	esac
}
jobs=(pipe gzip zstd plain)
for r in $(seq "$RUNS"); do
	for j in "${jobs[@]}"; do
		set_aside "$OUT/lake-$j"
		# GNU time: wall, and user + system CPU of the whole job (gzip too)
		/usr/bin/time -f "%e %U %S" -o "$OUT/t" bash -c "$(job "$j")"
		read -r wall user sys <"$OUT/t"
		echo "$j $wall $(calc %.2f "$user + $sys")" >>"$OUT/times"
	done
done
digest() { (cd "$1/events" && find . -type f -printf '%s\n' | sort -n | md5sum); }
for j in gzip zstd pipe; do
	[ "$(digest "$OUT/lake-$j")" = "$(digest "$OUT/lake-plain")" ] || die "the $j lake's files differ from the plain file's"
done
pw=$(awk '$1 == "pipe" { print $2 }' "$OUT/times" | med)
pc=$(awk '$1 == "pipe" { print $3 }' "$OUT/times" | med)
printf '%-8s %10s %10s %12s %12s\n' job "wall s" "CPU s" "wall/pipe" "CPU/pipe"
for j in "${jobs[@]}"; do
	w=$(awk -v j="$j" '$1 == j { print $2 }' "$OUT/times" | med)
	c=$(awk -v j="$j" '$1 == j { print $3 }' "$OUT/times" | med)
	printf '%-8s %10.2f %10.2f %12.2f %12.2f\n' "$j" "$w" "$c" "$(calc %.4f "$w / $pw")" "$(calc %.4f "$c / $pc")"
done
empty_trash
