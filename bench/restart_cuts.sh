#!/bin/bash
# restart_cuts.sh BIN [INPUT]: does a restart decide like an uninterrupted run when the memory
# budget binds? A clean run of INPUT (default: `BIN gen --events 12000 --seed 5 --span 3600`
# with bad lines and duplicates), then for every 4th line K of its state log: a copy of the
# lake with the log cut to its first K lines (a crash after commit K, with every later file
# left over), the same command again, and the two lakes' data files compared.
# LIM (10MiB) is --memory-limit, TH (2) --threads. Prints the cut points that differ.
# Session 19 (bench/README.md): f699186 differs at 2 of 32 cut points at 10 MiB, and the
# differing lake holds duplicates (tests/js/check_lake.mjs).
set -u
BIN=$(realpath "$1") IN=${2:+$(realpath "$2")}
KINLAKE=$BIN . "$(dirname "$0")/_lib.sh"
R=$(mktemp -d /dev/shm/restart_cuts.XXXX)
if [ -n "$IN" ]; then cp "$IN" $R/in.jsonl
else "$BIN" gen --events 12000 --bad-fraction 0.01 --dup-fraction 0.01 --seed 5 --span 3600 > $R/in.jsonl; fi
A=(--memory-limit "${LIM:-10MiB}" --dedup-window "${DW:-50000}" --quiet --threads "${TH:-2}" ${EXTRA:-})
"$BIN" ingest --input $R/in.jsonl --lake $R/C "${A[@]}"
n=$(cat $R/C/_kinlake/state/*.log | wc -l); bad=0; tried=0
for K in $(seq 2 "${STEP:-4}" "$n"); do
	tried=$((tried + 1))
	rm -rf $R/L; cp -a $R/C $R/L; f=$(ls $R/L/_kinlake/state/*.log)
	head -n "$K" "$f" > "$f.t"; mv "$f.t" "$f"
	"$BIN" ingest --input $R/in.jsonl --lake $R/L "${A[@]}"
	if ! cmp -s <(lake_digest $R/L) <(lake_digest $R/C); then bad=$((bad + 1)); echo "cut after line $K: the lakes differ"; fi
done
echo "$BIN: $bad of $tried cut points differ"
rm -rf "$R"
