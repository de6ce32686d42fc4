# bench/_lib.sh — what the bench scripts (run.sh, kinesis.sh, lambda.sh, window.sh, ...)
# share; each sources it first, after `set -euo pipefail`:
#   . "$(dirname "$0")/_lib.sh"
# It moves to the repository's root, checks the binary and defines:
#   KINLAKE [build/kinlake]  the binary under test
#   die MSG...               "bench: MSG" on stderr, exit 1
#   calc FMT EXPR            awk's printf FMT of the expression EXPR
#   med [EMPTY [FMT]]        the median of the numbers on stdin (one a line), printed
#                            with printf FMT [%.6f\n], or as awk prints a number when
#                            FMT is ""; EMPTY [nan] when there are none
#   bench_rev                the short commit measured, "+local changes" when src/
#                            differs from it
#   bench_cpus               "N CPUs (model name)"
#   lake_digest DIR          sha256 of every file under a lake's events/ and errors/,
#                            sorted by path (as tests/e2e/_lib.sh's)
#   set_aside DIR            moves DIR (when it exists) into bench/out/.trash instead of
#                            deleting it between jobs; empty_trash deletes the trash (each
#                            script calls it at its start, before its inputs are made,
#                            and when done). On ext4 without a
#                            journal (this project's VMs) an inode deleted under 60 s ago
#                            (300 s while its table block is dirty) is not reused, and the
#                            allocator steps past every such inode for each file it makes:
#                            a job right after the deletion of the previous job's lake spent
#                            half its CPU samples in the kernel's recently_deleted()
#                            (session 17). Renaming a directory deletes no inode.
#   await_port FILE WHAT LOG [SECONDS]
#                            wait [30 s] for a server started in the background to
#                            write its port to FILE; else die naming WHAT and LOG's tail
#   replay_stack DIR INPUT   the replay server (bench/kinesis_replay.py: stream `bench`,
#                            4 shards) serving INPUT in kinesis-mock's place, moto beside
#                            it (scripts/stack.sh finds the replay server under
#                            kinesis.pid and starts only moto) and bucket `bench` on
#                            it. KL_STACK_DIR must be exported first; DIR takes the
#                            servers' logs. Sets REPLAY_PID (the caller's trap stops it,
#                            and `scripts/stack.sh down` moto) and MOTO_URL, and sources
#                            the stack's env (AWS_ENDPOINT_URL_*, credentials).
#   s3_sink DIR LOG          bench/s3_sink.py (an S3 stand-in that costs little CPU) in
#                            the background, its port and pid in DIR/sink.port and
#                            DIR/sink.pid, its stderr in LOG. Sets SINK_PID (the
#                            caller's trap stops it) and SINK_URL.
cd "$(dirname "${BASH_SOURCE[0]}")/.."
KINLAKE=${KINLAKE:-build/kinlake}
die() { echo "bench: $*" >&2; exit 1; }
[ -x "$KINLAKE" ] || die "$KINLAKE not found; run make first"
calc() { awk "BEGIN { printf \"$1\", $2 }"; }
med() {
	sort -g | awk -v empty="${1-nan}" -v fmt="${2-%.6f\\n}" '{ v[NR] = $1 }
		END { if (!NR) { print empty; exit } m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
			if (fmt == "") print m; else printf fmt, m }'
}
bench_rev() {
	local rev
	rev=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
	git diff --quiet HEAD -- src 2>/dev/null || rev="$rev+local changes"
	echo "$rev"
}
TRASH=bench/out/.trash
empty_trash() { rm -rf "$TRASH"; }
set_aside() {
	[ -e "$1" ] || return 0
	mkdir -p "$TRASH"
	mv "$1" "$(mktemp -d "$TRASH/XXXXXX")/"
}
lake_digest() { (cd "$1" && find events errors -type f -print0 2>/dev/null | sort -z | xargs -0 sha256sum); }
bench_cpus() { echo "$(nproc) CPUs ($(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo))"; }
await_port() {
	local i
	for ((i = 0; i < ${4:-30} * 10; i++)); do [ -s "$1" ] && return 0; sleep 0.1; done
	die "$2 did not start: $(tail -3 "$3")"
}
replay_stack() {
	mkdir -p "$KL_STACK_DIR"
	python3 bench/kinesis_replay.py bench "$2" 4 "$1/replay.port" 2>"$1/replay.log" &
	REPLAY_PID=$!
	disown "$REPLAY_PID" # no "Killed" line when the caller's trap stops it
	echo "$REPLAY_PID" >"$KL_STACK_DIR/kinesis.pid"
	await_port "$1/replay.port" "the replay server" "$1/replay.log" 60
	cp "$1/replay.port" "$KL_STACK_DIR/kinesis.port"
	scripts/stack.sh up >"$1/stack.log" 2>&1 || die "moto did not start: $(tail -3 "$1/stack.log")"
	. "$KL_STACK_DIR/env"
	MOTO_URL=$AWS_ENDPOINT_URL_S3
	python3 tests/s3_lite.py "$MOTO_URL" mb s3://bench
}
s3_sink() {
	rm -f "$1/sink.port"
	python3 bench/s3_sink.py "$1/sink.port" 2>"$2" &
	SINK_PID=$!
	disown "$SINK_PID"
	echo "$SINK_PID" >"$1/sink.pid"
	await_port "$1/sink.port" "the S3 sink" "$2"
	SINK_URL=http://127.0.0.1:$(cat "$1/sink.port")
}
