#!/bin/bash
# kill_soak.sh BIN INPUT [KILLS]: exactly once across real kill -9s, at the scale of a
# production input. A clean run C of INPUT; then KILLS runs into another lake, each
# SIGKILLed at a random moment (0.3 .. MAXS seconds after its start, so inside reads,
# seals, encodes, file writes and state appends alike), alternating --threads 1 and 2
# (a lake is the same whatever --threads, so a restart may change it); then the same
# command to the end. The data files and dead letters must equal C's byte for byte, and
# no temporary file may be left. LIM (--memory-limit, default: kinlake's), MAXS (3.0),
# SEED (1). Unlike tests/e2e/crash.sh and threads.sh (thousands of events, in `make
# test`), this is for 1M-event inputs by hand: bench/README.md, session 31.
set -u
BIN=$(realpath "$1") IN=$(realpath "$2") KILLS=${3:-8}
KINLAKE=$BIN . "$(dirname "$0")/_lib.sh"
R=$(mktemp -d /dev/shm/soak.XXXX)
A=(--quiet --no-progress ${LIM:+--memory-limit "$LIM"})
"$BIN" ingest --input "$IN" --lake "$R/C" "${A[@]}" || { echo "clean run failed"; exit 1; }
lake_digest "$R/C" > "$R/C.sum"
RANDOM=${SEED:-1}
maxms=$(awk -v s="${MAXS:-3.0}" 'BEGIN { printf "%d", s * 1000 }')
for i in $(seq "$KILLS"); do
	th=$(( i % 2 + 1 )) ms=$(( 300 + RANDOM % (maxms - 300 + 1) ))
	"$BIN" ingest --input "$IN" --lake "$R/L" "${A[@]}" --threads "$th" & pid=$!
	sleep "$(awk -v m="$ms" 'BEGIN { printf "%.3f", m / 1000 }')"
	if kill -9 "$pid" 2>/dev/null; then how=killed; else how="had ended"; fi
	wait "$pid" 2>/dev/null
	echo "run $i (--threads $th): $how after ${ms} ms; $(find "$R/L/events" -type f 2>/dev/null | wc -l) data files"
done
"$BIN" ingest --input "$IN" --lake "$R/L" "${A[@]}" || { echo "final run failed"; exit 1; }
lake_digest "$R/L" > "$R/L.sum"
tmp=$(find "$R/L" -name '.*.tmp-*' | wc -l)
if cmp -s "$R/L.sum" "$R/C.sum" && [ "$tmp" = 0 ]; then
	echo "$BIN: after $KILLS kills the lake is the clean run's ($(wc -l < "$R/C.sum") files)"; rc=0
else
	echo "$BIN: the lake differs from the clean run's ($tmp temporary files left)"
	diff "$R/C.sum" "$R/L.sum" | head -5; rc=1
fi
rm -rf "$R"; exit $rc
