#!/bin/bash
# kpl_agg.sh — KPL de-aggregation against records made by the reference
# aggregator (npm aws-kinesis-agg), compared byte for byte.
#
# tests/js/kpl_make.mjs aggregates a few hundred random user records (random
# bytes, unicode, empty, ~50 KB; shared unicode partition keys, explicit hash
# keys) into aggregated Kinesis records, plus plain and damaged records that
# must come back whole, and writes the expected user records. `test_kpl
# --decode` (build/, or build-asan/ when KL_ASAN=1) prints what decode/kpl
# makes of them; the two must be identical. Two seeds, the second with more
# records. Exits 0 only if everything matched. $KINLAKE is not used.
# duration: 2 (seconds, for the test runner's ordering: a quiet 2-core machine)
set -euo pipefail
cd "$(dirname "$0")/../.."

if [ "${KL_ASAN:-0}" = 1 ] && [ -d build-asan ]; then
	bin=build-asan/tests/test_kpl
else
	bin=build/tests/test_kpl
fi
[ -x "$bin" ] || { echo "missing $bin (run make / make SAN=1)"; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/kl_kpl_e2e.XXXXXX")
trap 'rm -rf "$work"' EXIT

run() { # count seed
	local d=$work/$2
	mkdir -p "$d"
	node tests/js/kpl_make.mjs "$d" "$1" "$2"
	mapfile -t files < "$d/files.txt"
	(cd "$d" && "$ROOT/$bin" --decode "${files[@]}") > "$d/actual.jsonl" 2> "$d/stderr"
	if ! cmp -s "$d/expected.jsonl" "$d/actual.jsonl"; then
		echo "FAIL: seed $2: decoded records differ from the aggregator's input"
		diff <(cut -c1-200 "$d/expected.jsonl") <(cut -c1-200 "$d/actual.jsonl") | head -20
		exit 1
	fi
	# every plain record, and only those, was passed through
	local np nf
	np=$(grep -c '"agg":0' "$d/actual.jsonl" || true)
	nf=$(grep -c '^plain-' "$d/files.txt" || true)
	[ "$np" = "$nf" ] || { echo "FAIL: seed $2: $np pass-throughs, expected $nf"; exit 1; }
	grep -q 'plain-005.bin: passed through: md5 mismatch' "$d/stderr" ||
		{ echo "FAIL: seed $2: damaged record not reported"; cat "$d/stderr"; exit 1; }
	echo "seed $2: $(wc -l < "$d/actual.jsonl") records identical"
}
ROOT=$PWD
run 400 1
run 1500 77
