#!/bin/bash
# Runs every test of the suite and ends with "N passed, N failed".
#
# A test is one command; it passes when it exits 0. One that exits 77 could not
# run here (what it needs is missing, e.g. root and writable cgroups for
# e2e/cgroup_limits): SKIP with its reason, counted neither passed nor failed,
# and named again on a line before the last one (a machine that cannot run a
# test is not a failure of kinlake, and the test did not pass). Groups:
#   unit      build/tests/test_*            (each module's unit tests)
#   unit-asan build-asan/tests/test_*       (the same under ASan+UBSan)
#   e2e       tests/e2e/*.sh with KINLAKE=build/kinlake
#   e2e-asan  the same with build-asan/kinlake and KL_ASAN=1
#   fuzz      each build-fuzz/fuzz_* for a short bounded run (KL_FUZZ_SECONDS, 10)
#             over its seed corpus
# All of them in one pool, KL_TEST_JOBS (3) at a time, longest first (below).
# Logs of failures land in build/test-logs/. Exits 0 only when at least one
# test ran and none failed.
# Scratch (every e2e script's temp dir) goes to tmpfs when it has room
# (KL_TEST_TMPDIR, below), in a TMPDIR of each test's own, build/test-logs/tmp/
# <name>: removed when the test passes, kept when it fails.
set -u
cd "$(dirname "$0")/.."
ROOT=$PWD
LOGS=$ROOT/build/test-logs
# the last run's scratch on tmpfs (what its failed tests left, below) goes
# with its logs
oldtmp=$(readlink "$LOGS/tmp" 2>/dev/null) && case $oldtmp in */kl-tests.*) rm -rf "$oldtmp" ;; esac
rm -rf "$LOGS"; mkdir -p "$LOGS"
pass=0; fail=0; failed=() skipped=()
export KL_CORPORA=${KL_CORPORA:-$ROOT/../shared/corpora}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
# Scratch space. Each e2e script makes its temp dir (lakes, inputs, the
# servers' state) under $TMPDIR; here that is a directory on tmpfs (/dev/shm)
# when it has room: kinlake fsyncs every file and state record it commits, and
# on a disk those fsyncs were most of many tests' time (100,000 events into
# 256 KiB files: 28 s on this machine's disk, 2.4 s on tmpfs, the same CPU).
# The tests kill processes, never the machine, so what they prove does not
# depend on the fsyncs reaching a disk. KL_TEST_TMPDIR=DIR picks another place
# (KL_TEST_TMPDIR=/tmp: the disk).
# Every test gets a TMPDIR of its own, $LOGS/tmp/<name> (one(), below; a link
# to a kl-tests.XXXXXX dir on tmpfs, or without one a plain dir in $LOGS):
# the unit tests and fuzz targets make their scratch under $TMPDIR too
# (tests/unit/check.h kl_test_tmpl), and not all of it is removed by the test
# itself (test_parquet's samples, a script killed by the time limit before its
# trap ran), so a shared TMPDIR (or /tmp) filled up run after run. A test's
# dir goes when it passes or is skipped and stays when it fails, with its log.
# Python tools without a version manager's shims. Under pyenv, `python3`,
# `aws`, `cfn-lint` and `moto_server` on PATH are bash scripts that look the
# version up (`pyenv exec`) at every call: on this 2-core VM 0.6 of the 0.7 CPU
# s of a bare `python3 -c pass`, 0.8 of 1.7 for `aws --version`, and the
# e2e scripts make hundreds of such calls (aws CLI, boto3 checks, free_port,
# moto). The directory of the interpreter the shim picks, looked up once here,
# goes first on PATH: the same programs of the same version, minus the lookup.
case $(command -v python3 2>/dev/null) in
*/shims/python3)
	pybin=$(python3 -c 'import os, sys; print(os.path.dirname(sys.executable))' 2>/dev/null) &&
		[ -x "$pybin/python3" ] && PATH=$pybin:$PATH && export PATH
	;;
esac
scratch=${KL_TEST_TMPDIR:-}
if [ -z "$scratch" ] && [ -d /dev/shm ] && [ -w /dev/shm ] &&
	[ "$(df -Pk /dev/shm 2>/dev/null | awk 'NR == 2 { print $4 }')" -ge 4194304 ] 2>/dev/null; then
	scratch=/dev/shm
fi
if [ -n "$scratch" ]; then
	tmproot=$(mktemp -d "$scratch/kl-tests.XXXXXX") || exit 1
	ln -s "$tmproot" "$LOGS/tmp"
else
	tmproot=$LOGS/tmp; mkdir -p "$tmproot"
fi
# At exit the dirs of tests that did not fail (a run stopped part way) go, and
# the root too unless a failed test's dir is in it.
tmp_cleanup() {
	local d
	for d in "$tmproot"/*; do
		[ -e "$d" ] || continue
		[ "$(cat "$LOGS/.result/${d##*/}" 2>/dev/null)" = FAIL ] || rm -rf "$d"
	done
	rmdir "$tmproot" 2>/dev/null && rm -f "$LOGS/tmp"
}
trap tmp_cleanup EXIT

# One test: its outcome goes to $LOGS/.result/<name> ("PASS" or "FAIL") and one line
# (plus the log's tail on failure) to stdout.
# Each line gives the test's wall time and the CPU time of the processes it
# reaped (`times` of the subshell one() runs in): the test, kinlake, the tools
# it runs and the servers it starts itself (moto_up). The servers of
# scripts/stack.sh (start_stack) detach and are not in it (docs/testing.md
# has what they used over a whole run).
# A test that runs past KL_TEST_TIMEOUT seconds (1,800; the longest, e2e/stream_crash,
# took 320-620 s in CI runs on 2 CPUs) is stopped (SIGTERM, then SIGKILL 30 s later:
# its EXIT trap stops the servers it started) and fails, so that a hang is one
# failed test with its log, not a run that never ends.
TIMEOUT=${KL_TEST_TIMEOUT:-1800}
one() { # name, command...
	local name=$1; shift
	local log="$LOGS/${name//\//_}.log" t0=$SECONDS res="$LOGS/.result/${name//\//_}" rc=0 cpu
	local tmp="$tmproot/${name//\//_}" # its TMPDIR (above); in its environment only
	mkdir -p "$tmp"
	TMPDIR=$tmp timeout -k 30 "$TIMEOUT" "$@" >"$log" 2>&1 || rc=$?
	[ $((SECONDS - t0)) -lt "$TIMEOUT" ] || echo "tests/run.sh: stopped after KL_TEST_TIMEOUT=$TIMEOUT s (exit $rc)" >>"$log"
	times > "$log.times" # (not in a pipe: that would be a fresh subshell's times)
	cpu=$(awk 'NR == 2 { n = 0; for (i = 1; i <= 2; i++) { split($i, a, /[ms]/); n += a[1] * 60 + a[2] } printf "%.0f", n }' "$log.times"); rm -f "$log.times"
	if [ "$rc" = 0 ]; then
		echo PASS > "$res"; printf 'PASS %-50s %3ds  cpu %3ds\n' "$name" $((SECONDS - t0)) "$cpu"
	elif [ "$rc" = 77 ]; then
		echo SKIP > "$res"; printf 'SKIP %-50s %3ds  (%s)\n' "$name" $((SECONDS - t0)) "$(tail -n 1 "$log")"
	else
		echo FAIL > "$res"
		printf 'FAIL %-50s %3ds  cpu %3ds  (log: %s)\n%s\n' "$name" $((SECONDS - t0)) "$cpu" "${log#$ROOT/}" \
			"$(tail -n 20 "$log" | sed 's/^/    | /')"
	fi
	# a failed test's scratch stays for a look; removed after the line is
	# printed, so that a large tree's removal is not in the test's time
	if [ "$rc" = 0 ] || [ "$rc" = 77 ]; then rm -rf "$tmp"; fi
}
# Every test goes into one pool: up to KL_TEST_JOBS (default 3) at once (the
# end-to-end scripts mostly wait on servers and child processes; each has its
# own temp dir and free ports), the longest first so that the pool ends evenly:
# an e2e script's weight is its "# duration: SECONDS" line (under ASan its
# "# duration-asan: SECONDS" line if it has one), a fuzz run's its time bound,
# a unit test's 1. A script with a "# no-asan" line runs only with the plain build.
JOBS=${KL_TEST_JOBS:-3}
FUZZ_SECONDS=${KL_FUZZ_SECONDS:-10}
run_bg() {
	while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do wait -n; done
	one "$@" &
}
mkdir -p "$LOGS/.result"

filter=${1:-}
want() { [ -z "$filter" ] || [[ "$1" == *"$filter"* ]]; }
# the queue: "WEIGHT NAME" lines; run_one NAME starts it
queue=()
for b in build/tests/test_* build-asan/tests/test_*; do
	[ -x "$b" ] || continue; n="unit/${b##*/}"; [[ $b == build-asan/* ]] && n="unit-asan/${b##*/}"
	want "$n" && queue+=("1 $n")
done
duration() { # script, key: its "# KEY: N" value, empty when it has none
	sed -n "s/^# $2: *\([0-9]*\).*/\1/p" "$1" | head -n 1
}
for s in tests/e2e/*.sh; do
	base=${s##*/}; [[ $base == _* ]] && continue # sourced helpers, not tests
	base=${base%.sh}; d=$(duration "$s" duration); d=${d:-10}
	want "e2e/$base" && queue+=("$d e2e/$base")
	if ! grep -q '^# no-asan' "$s"; then
		da=$(duration "$s" duration-asan)
		want "e2e-asan/$base" && queue+=("${da:-$d} e2e-asan/$base")
	fi
done
for f in build-fuzz/fuzz_*; do
	[ -x "$f" ] || continue; n="fuzz/${f##*/}"; want "$n" && queue+=("$((FUZZ_SECONDS + 1)) $n")
done
run_one() { # name
	local n=$1 f work corpus
	case $n in
	unit/*) run_bg "$n" "build/tests/${n#unit/}" ;;
	unit-asan/*) run_bg "$n" "build-asan/tests/${n#unit-asan/}" ;;
	e2e/*) KINLAKE=$ROOT/build/kinlake run_bg "$n" bash "tests/e2e/${n#e2e/}.sh" ;;
	e2e-asan/*) KINLAKE=$ROOT/build-asan/kinlake KL_ASAN=1 run_bg "$n" bash "tests/e2e/${n#e2e-asan/}.sh" ;;
	fuzz/*)
		f=build-fuzz/${n#fuzz/}; corpus="fuzz/corpus/${f##*/fuzz_}"
		# libFuzzer adds new inputs to its corpus folder: give it a scratch copy.
		work="$LOGS/fuzzwork/${f##*/}"; mkdir -p "$work"
		[ -d "$corpus" ] && cp -r "$corpus"/. "$work"/
		# libFuzzer's own exit code for a crash is 77, which means SKIP here:
		# a finding (crash, sanitizer report, timeout) must be a FAIL
		run_bg "$n" "$f" -max_total_time="$FUZZ_SECONDS" -rss_limit_mb=2048 -timeout=10 \
			-error_exitcode=1 -timeout_exitcode=1 -artifact_prefix="$LOGS/fuzzwork/crash-${f##*/}-" "$work" ;;
	esac
}
if [ ${#queue[@]} -gt 0 ]; then
	for n in $(printf '%s\n' "${queue[@]}" | sort -s -k1,1nr | awk '{ print $2 }'); do run_one "$n"; done
fi
wait

for r in "$LOGS"/.result/*; do
	[ -f "$r" ] || continue
	case $(cat "$r") in
	PASS) pass=$((pass + 1)) ;;
	SKIP) skipped+=("${r##*/}") ;;
	*) fail=$((fail + 1)); failed+=("${r##*/}") ;;
	esac
done
echo
[ ${#failed[@]} -gt 0 ] && printf 'failed: %s\n' "${failed[@]}"
[ ${#skipped[@]} -gt 0 ] && echo "${#skipped[@]} not run (exit 77: what they need is missing on this machine; see their logs): ${skipped[*]}"
echo "$pass passed, $fail failed"
# A run that matched no test proves nothing: a typo in the filter, or a tree
# that is not built (the unit and fuzz binaries come from make).
if [ $((pass + fail)) -eq 0 ]; then
	if [ ${#skipped[@]} -gt 0 ]; then
		echo "no test ran: every one that matched could not run here" >&2
	elif [ -n "$filter" ]; then
		echo "no test matched '$filter' (names look like unit/test_state, unit-asan/test_state, e2e/cli, e2e-asan/cli, fuzz/fuzz_json)" >&2
	else
		echo "no tests found" >&2
	fi
	ls build/tests/test_* >/dev/null 2>&1 || echo "build/tests/ has no unit tests: run make -j2 all (and make SAN=1 all, make fuzz)" >&2
	exit 1
fi
[ "$fail" -eq 0 ]
