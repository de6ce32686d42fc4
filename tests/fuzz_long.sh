#!/usr/bin/env bash
# tests/fuzz_long.sh [SECONDS] [TARGET...]: every libFuzzer target (or the
# named ones, e.g. fuzz_row) for SECONDS each [120], one after the other, each
# over a scratch copy of its seed corpus (fuzz/corpus/<name>, never written),
# crashes kept as $WORK/crash-<target>-*. `make test` runs each for 10 s; the
# bugs that only longer runs find (docs/testing.md, "Longer fuzz runs") are
# what this is for. Prints one line a target and ends `N clean, N failed`.
# WORK: where the corpora and logs go [a temporary directory, kept].
set -uo pipefail
cd "$(dirname "$0")/.."
secs=${1:-120}
[ $# -gt 0 ] && shift
WORK=${WORK:-$(mktemp -d "${TMPDIR:-/tmp}/kl-fuzz.XXXXXX")}
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(build-fuzz/fuzz_*)
clean=0 failed=0
for t in "${targets[@]}"; do
	t=build-fuzz/${t##*/}
	[ -x "$t" ] || { echo "$t: not built (make fuzz)" >&2; failed=$((failed + 1)); continue; }
	n=${t##*/fuzz_}
	mkdir -p "$WORK/$n"
	[ -d "fuzz/corpus/$n" ] && cp -r "fuzz/corpus/$n"/. "$WORK/$n"/
	"$t" -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 \
		-artifact_prefix="$WORK/crash-$n-" "$WORK/$n" > "$WORK/$n.log" 2>&1
	rc=$?
	runs=$(grep -o 'Done [0-9]* runs' "$WORK/$n.log" | tail -1)
	if [ "$rc" = 0 ]; then
		clean=$((clean + 1)); echo "fuzz_$n: clean, ${runs#Done }"
	else
		failed=$((failed + 1))
		echo "fuzz_$n: FAILED (exit $rc): $(grep -m1 -E 'invariant|ERROR|SUMMARY' "$WORK/$n.log")"
		echo "  input: $(ls "$WORK"/crash-"$n"-* 2>/dev/null | head -1); log: $WORK/$n.log"
	fi
done
echo "$clean clean, $failed failed (work: $WORK)"
[ "$failed" = 0 ]
