#!/bin/bash
# Runs every test of the suite and ends with "N passed, N failed".
#
# A test is one command; it passes when it exits 0. Groups:
#   unit      build/tests/test_*            (each module's unit tests)
#   unit-asan build-asan/tests/test_*       (the same under ASan+UBSan)
#   e2e       tests/e2e/*.sh with KINLAKE=build/kinlake, then with build-asan/kinlake
#   fuzz      each build-fuzz/fuzz_* for a short bounded run over its seed corpus
# Logs of failures land in build/test-logs/.
set -u
cd "$(dirname "$0")/.."
ROOT=$PWD
LOGS=$ROOT/build/test-logs
rm -rf "$LOGS"; mkdir -p "$LOGS"
pass=0; fail=0; failed=()
export KL_CORPORA=${KL_CORPORA:-$ROOT/../shared/corpora}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

run() { # name, command...
	local name=$1; shift
	local log="$LOGS/${name//\//_}.log" t0=$SECONDS
	if "$@" >"$log" 2>&1; then
		pass=$((pass + 1)); printf 'PASS %-50s %3ds\n' "$name" $((SECONDS - t0))
	else
		fail=$((fail + 1)); failed+=("$name")
		printf 'FAIL %-50s %3ds  (log: %s)\n' "$name" $((SECONDS - t0)) "${log#$ROOT/}"
		tail -n 20 "$log" | sed 's/^/    | /'
	fi
}

filter=${1:-}
want() { [ -z "$filter" ] || [[ "$1" == *"$filter"* ]]; }

for b in build/tests/test_*; do
	[ -x "$b" ] || continue; n="unit/${b##*/}"; want "$n" && run "$n" "$b"
done
for b in build-asan/tests/test_*; do
	[ -x "$b" ] || continue; n="unit-asan/${b##*/}"; want "$n" && run "$n" "$b"
done
for s in tests/e2e/*.sh; do
	[ -f "$s" ] || continue; base=${s##*/}; base=${base%.sh}
	[[ $base == _* ]] && continue # sourced helpers, not tests
	want "e2e/$base" && KINLAKE=$ROOT/build/kinlake run "e2e/$base" bash "$s"
	if ! grep -q '^# no-asan' "$s"; then
		want "e2e-asan/$base" && KINLAKE=$ROOT/build-asan/kinlake KL_ASAN=1 run "e2e-asan/$base" bash "$s"
	fi
done
for f in build-fuzz/fuzz_*; do
	[ -x "$f" ] || continue; n="fuzz/${f##*/}"; corpus="fuzz/corpus/${f##*/fuzz_}"
	# libFuzzer adds new inputs to its corpus folder: give it a scratch copy.
	work="$LOGS/fuzzwork/${f##*/}"; mkdir -p "$work"
	[ -d "$corpus" ] && cp -r "$corpus"/. "$work"/
	want "$n" && run "$n" "$f" -max_total_time=${KL_FUZZ_SECONDS:-10} -rss_limit_mb=2048 -timeout=10 "$work"
done

echo
[ ${#failed[@]} -gt 0 ] && printf 'failed: %s\n' "${failed[@]}"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
