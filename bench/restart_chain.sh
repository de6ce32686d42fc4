#!/bin/bash
# restart_chain.sh BIN INPUT [PAIRS]: a restart of a restart decides like an uninterrupted run.
# A clean run C of INPUT; then PAIRS times: C's state log cut after a random line K1 (every later
# file left), the same command again (a log the restart writes itself), that log cut after a
# random line K2 at or past what was kept of the first, the same command again, and the data
# files compared with C's. LIM (10MiB), DW (50000, --dedup-window), TH (2), SEED (1).
# Session 20: 0 of 30 (12k events, 10 MiB), 0 of 15 (60k over six hours, 24 MiB, DW 5000),
# 0 of 15 (20k over six hours, 10 MiB, DW 5000), 0 of 20 (12k, 6 MiB, TH 1).
set -u
BIN=$(realpath "$1") IN=$(realpath "$2") PAIRS=${3:-20}
KINLAKE=$BIN . "$(dirname "$0")/_lib.sh"
R=$(mktemp -d /dev/shm/chain.XXXX)
A=(--memory-limit "${LIM:-10MiB}" --dedup-window "${DW:-50000}" --quiet --threads "${TH:-2}")
$BIN ingest --input $IN --lake $R/C "${A[@]}"
lake_digest $R/C > $R/C.sum
n=$(cat $R/C/_kinlake/state/*.log | wc -l); bad=0
RANDOM=${SEED:-1}
for i in $(seq $PAIRS); do
  K1=$(( RANDOM % n + 1 ))
  rm -rf $R/L; cp -a $R/C $R/L; f=$(ls $R/L/_kinlake/state/*.log); head -n $K1 $f > $f.t; mv $f.t $f
  $BIN ingest --input $IN --lake $R/L "${A[@]}"
  m=$(wc -l < $f); k0=$(( K1 < m ? K1 : m ))
  K2=$(( k0 + RANDOM % (m - k0 + 1) ))
  head -n $K2 $f > $f.t; mv $f.t $f
  $BIN ingest --input $IN --lake $R/L "${A[@]}"
  lake_digest $R/L > $R/L.sum
  cmp -s $R/L.sum $R/C.sum || { bad=$((bad+1)); echo "K1=$K1 K2=$K2 (of $m): differ"; }
done
echo "$BIN: $bad of $PAIRS chains differ"; rm -rf $R
