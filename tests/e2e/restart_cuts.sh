# A restart decides like an uninterrupted run, also when the memory budget
# decides the flushes: a clean run under a budget that binds all the time,
# then for every few lines K of its state log a copy of the lake whose log
# ends after line K (a crash after commit K) with every later file of the
# clean run left in place (more than a real crash leaves: a later file that
# the restart does not rewrite stays), the same command again, and the
# lakes compared — data files and dead letters byte for byte, and every
# event once (check_lake). Parquet at --threads 2, JSON lines in window
# mode at --threads 1, and six hours of events. Before exact replay
# (pipeline.h) the first part differed at 2 of 32 cut points, with
# duplicates (bench/README.md, session 19), and the last at 57 of 86 (every
# 13th line of a 60k-event run, session 20).
# duration: 75 (seconds, for the test runner's ordering: a quiet 2-core machine)
# duration-asan: 50
. "$(dirname "$0")/_lib.sh"
N=${KL_ASAN:+6000}; N=${N:-12000}
"$KL" gen --events "$N" --bad-fraction 0.01 --dup-fraction 0.01 --seed 5 --span 3600 > "$T/in.jsonl"

cuts() { # name step format input args...
	local name=$1 step=$2 fmt=$3 in=$4; shift 4
	local args=(--input "$in" --format "$fmt" --quiet "$@")
	"$KL" ingest "${args[@]}" --lake "$T/$name" || fail "$name: clean run"
	lake_digest "$T/$name" > "$T/$name.sum"
	local log; log=$(ls "$T/$name"/_kinlake/state/*.log)
	local n; n=$(wc -l < "$log")
	[ "$n" -ge 16 ] || fail "$name: only $n state-log lines; the test wants many commits"
	local tried=0 bad=""
	for K in $(seq 2 "$step" "$n"); do
		tried=$((tried + 1))
		rm -rf "$T/cut"; cp -a "$T/$name" "$T/cut"
		local f; f=$(ls "$T/cut"/_kinlake/state/*.log)
		head -n "$K" "$f" > "$f.t" && mv "$f.t" "$f"
		"$KL" ingest "${args[@]}" --lake "$T/cut" || fail "$name: restart after line $K"
		lake_digest "$T/cut" > "$T/cut.sum"
		cmp -s "$T/cut.sum" "$T/$name.sum" || bad="$bad $K"
		[ -n "$bad" ] && [ "$K" = "${bad##* }" ] &&
			{ check_lake "$in" "$T/cut" --format "$fmt" > "$T/cut.check" 2>&1 ||
				echo "$name: after line $K: $(tail -1 "$T/cut.check")" >&2; }
	done
	[ -z "$bad" ] || fail "$name: the restart's lake differs after state-log line(s)$bad"
	check_lake "$in" "$T/$name" --format "$fmt" > /dev/null || fail "$name: clean lake"
	echo "$name: $tried cut points of $n log lines, every restart made the clean run's lake"
}

step=${KL_ASAN:+3}; step=${step:-1} # ASan: every third of the cut points
cuts parquet $((5 * step)) parquet "$T/in.jsonl" --memory-limit 10MiB --threads 2 \
	--dedup-window 50000
cuts jsonl-window $((8 * step)) jsonl "$T/in.jsonl" --memory-limit 8MiB --threads 1 \
	--window hour --dedup-window 50000
# a budget so tight that buffers of equal size are common (a tail and
# nothing sealed): the choice among them must not depend on the order the
# buffer table made them in, which a restart's preloaded partitions change
# (buffer/parts.c, holds_more; before it 16 of the 17 cut points here differed)
cuts jsonl-tight $((40 * step)) jsonl "$T/in.jsonl" --memory-limit 4MiB --threads 1 \
	--window hour --dedup-window 50000
# six hours at a budget that binds only on the writer's outstanding charge:
# every commit has memory decide nothing (a restart rebuilds the buffers
# from an R that moves on, without deciding by memory, then puts the
# writer's outstanding charge back: the M line); the dedup window (5,000)
# is shorter than the input. The parts above have commits of both kinds
# (at 10 MiB memory decides after the first eight).
"$KL" gen --events $((N * 5 / 3)) --bad-fraction 0.01 --dup-fraction 0.01 --seed 9 \
	--span 21600 > "$T/six.jsonl"
cuts six-hours $((32 * step)) parquet "$T/six.jsonl" --memory-limit 16MiB --threads 2 \
	--dedup-window 5000
# and Parquet at a budget that binds all the time, where equal buffers
# are common too (before the tie rule: 22 of 24 cut points differed)
cuts parquet-tight $((150 * step)) parquet "$T/six.jsonl" --memory-limit 3MiB --threads 2 \
	--dedup-window 5000
echo "restart_cuts: ok"
