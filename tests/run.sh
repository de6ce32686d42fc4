#!/bin/bash
# Runs every test of the suite and ends with "N passed, N failed".
#
# A test is one command; it passes when it exits 0. Groups:
#   unit      build/tests/test_*            (each module's unit tests)
#   unit-asan build-asan/tests/test_*       (the same under ASan+UBSan)
#   e2e       tests/e2e/*.sh with KINLAKE=build/kinlake, and with build-asan/kinlake;
#             KL_TEST_JOBS (3) at a time, longest first (a "# duration: SECONDS" line)
#   fuzz      each build-fuzz/fuzz_* for a short bounded run over its seed corpus
# Logs of failures land in build/test-logs/. Exits 0 only when at least one
# test ran and none failed.
set -u
cd "$(dirname "$0")/.."
ROOT=$PWD
LOGS=$ROOT/build/test-logs
rm -rf "$LOGS"; mkdir -p "$LOGS"
pass=0; fail=0; failed=()
export KL_CORPORA=${KL_CORPORA:-$ROOT/../shared/corpora}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

# One test: its outcome goes to $LOGS/.result/<name> ("PASS" or "FAIL") and one line
# (plus the log's tail on failure) to stdout.
one() { # name, command...
	local name=$1; shift
	local log="$LOGS/${name//\//_}.log" t0=$SECONDS res="$LOGS/.result/${name//\//_}"
	if "$@" >"$log" 2>&1; then
		echo PASS > "$res"; printf 'PASS %-50s %3ds\n' "$name" $((SECONDS - t0))
	else
		echo FAIL > "$res"
		printf 'FAIL %-50s %3ds  (log: %s)\n%s\n' "$name" $((SECONDS - t0)) "${log#$ROOT/}" \
			"$(tail -n 20 "$log" | sed 's/^/    | /')"
	fi
}
run() { one "$@"; }
# End-to-end scripts mostly wait on servers and child processes: run up to
# KL_TEST_JOBS (default 3) at once. Each has its own temp dir and free ports.
JOBS=${KL_TEST_JOBS:-3}
run_bg() {
	while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do wait -n; done
	one "$@" &
}
mkdir -p "$LOGS/.result"

filter=${1:-}
want() { [ -z "$filter" ] || [[ "$1" == *"$filter"* ]]; }

for b in build/tests/test_*; do
	[ -x "$b" ] || continue; n="unit/${b##*/}"; want "$n" && run "$n" "$b"
done
for b in build-asan/tests/test_*; do
	[ -x "$b" ] || continue; n="unit-asan/${b##*/}"; want "$n" && run "$n" "$b"
done
# the longest first, so the pool ends evenly
e2e=$(for s in tests/e2e/*.sh; do
	base=${s##*/}; [[ $base == _* ]] && continue # sourced helpers, not tests
	printf '%s %s\n' "$(sed -n 's/^# duration: *\([0-9]*\).*/\1/p' "$s" | head -n 1)" "$s"
done | sort -k1,1nr | awk '{ print $NF }')
for s in $e2e; do
	base=${s##*/}; base=${base%.sh}
	want "e2e/$base" && KINLAKE=$ROOT/build/kinlake run_bg "e2e/$base" bash "$s"
	if ! grep -q '^# no-asan' "$s"; then
		want "e2e-asan/$base" && KINLAKE=$ROOT/build-asan/kinlake KL_ASAN=1 run_bg "e2e-asan/$base" bash "$s"
	fi
done
wait
for f in build-fuzz/fuzz_*; do
	[ -x "$f" ] || continue; n="fuzz/${f##*/}"; corpus="fuzz/corpus/${f##*/fuzz_}"
	# libFuzzer adds new inputs to its corpus folder: give it a scratch copy.
	work="$LOGS/fuzzwork/${f##*/}"; mkdir -p "$work"
	[ -d "$corpus" ] && cp -r "$corpus"/. "$work"/
	want "$n" && run "$n" "$f" -max_total_time=${KL_FUZZ_SECONDS:-10} -rss_limit_mb=2048 -timeout=10 "$work"
done

for r in "$LOGS"/.result/*; do
	[ -f "$r" ] || continue
	if [ "$(cat "$r")" = PASS ]; then pass=$((pass + 1)); else fail=$((fail + 1)); failed+=("${r##*/}"); fi
done
echo
[ ${#failed[@]} -gt 0 ] && printf 'failed: %s\n' "${failed[@]}"
echo "$pass passed, $fail failed"
# A run that matched no test proves nothing: a typo in the filter, or a tree
# that is not built (the unit and fuzz binaries come from make).
if [ $((pass + fail)) -eq 0 ]; then
	if [ -n "$filter" ]; then
		echo "no test matched '$filter' (names look like unit/test_state, unit-asan/test_state, e2e/cli, e2e-asan/cli, fuzz/fuzz_json)" >&2
	else
		echo "no tests found" >&2
	fi
	ls build/tests/test_* >/dev/null 2>&1 || echo "build/tests/ has no unit tests: run make -j2 all (and make SAN=1 all, make fuzz)" >&2
	exit 1
fi
[ "$fail" -eq 0 ]
