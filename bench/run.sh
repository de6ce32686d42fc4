#!/usr/bin/env bash
# make bench: kinlake ingest throughput and peak memory, against DuckDB doing the
# nearest job (bench/duckdb_jsonl.mjs) on the same input, on the same machine, in
# the same run. See bench/README.md.
#
# Environment:
#   BENCH_EVENTS         events in the main input (default 1000000)
#   BENCH_SMALL_EVENTS   events in the RSS-flatness input (default BENCH_EVENTS/10)
#   BENCH_RUNS           runs of each job (default 3); the table shows medians
#   BENCH_THREADS        DuckDB threads (default 2)
#   BENCH_SPAN           seconds of event time the inputs cover (default 21600: six hours,
#                        ~600 partitions, the production stream's shape)
#   BENCH_TYPED          0: skip the DuckDB typed job (the slowest; default 1)
#   BENCH_PERF           1: also a per-stage CPU breakdown of one Parquet run (bench/perf_stages.sh)
#   KINLAKE              the binary (default build/kinlake)
set -euo pipefail
. "$(dirname "$0")/_lib.sh"

EVENTS=${BENCH_EVENTS:-1000000}
SMALL=${BENCH_SMALL_EVENTS:-$((EVENTS / 10))}
RUNS=${BENCH_RUNS:-3}
THREADS=${BENCH_THREADS:-2}
# The flatness pair: a memory limit that binds at both sizes (the 100k input's
# ~550 partitions compress to more than 16 MiB of buffers), and a dedup window
# no larger than the small input. The window is a fixed 24 bytes a slot that
# --memory-limit already counts in full, but its pages are touched only as
# events arrive: with the default 1M window, 100k events touch a tenth of it
# and the two RSS figures would differ by ~20 MB of window, not of buffers.
BOUND_LIMIT=${BENCH_BOUND_LIMIT:-16MiB}
BOUND_DEDUP=${BENCH_BOUND_DEDUP:-$SMALL}
SPAN=${BENCH_SPAN:-21600}
OUT=bench/out
# The sizing workload, shaped like the production stream: 100 event types
# (~95 type/subtype pairs) over six hours, ~600 partitions, no bad lines.
GEN_ARGS=(--span "$SPAN")

TIME=/usr/bin/time
[ -x "$TIME" ] || die "$TIME (GNU time) is needed for peak RSS"
for v in EVENTS SMALL RUNS THREADS SPAN; do
	[[ ${!v} =~ ^[1-9][0-9]*$ ]] || { echo "bench: $v must be a positive integer (got '${!v}')" >&2; exit 2; }
done

mkdir -p "$OUT/logs"
rm -rf "$OUT"/lake-* "$OUT"/logs/* "$OUT"/events-*.jsonl # inputs are regenerated below
empty_trash
RAW=$OUT/raw.tsv # job run events seconds rss_kb out_bytes files partitions user_s sys_s load
printf 'job\trun\tevents\tseconds\trss_kb\tout_bytes\tfiles\tpartitions\tuser_s\tsys_s\tload1\n' >"$RAW"

human_events() { awk -v n="$1" 'BEGIN { if (n % 1000000 == 0) printf "%dM", n / 1e6; else if (n % 1000 == 0) printf "%dk", n / 1e3; else printf "%d", n }'; }
BIG_LABEL=$(human_events "$EVENTS")
SMALL_LABEL=$(human_events "$SMALL")

# --- inputs -------------------------------------------------------------------
gen() { # events file
	echo "bench: kinlake gen --events $1 ${GEN_ARGS[*]} -> $2" >&2
	"$KINLAKE" gen --events "$1" "${GEN_ARGS[@]}" --output "$2"
}
BIG=$OUT/events-$BIG_LABEL.jsonl
SMALL_IN=$OUT/events-$SMALL_LABEL.jsonl
gen "$EVENTS" "$BIG"
gen "$SMALL" "$SMALL_IN"
# DuckDB's typed reader (read_ndjson with one auto-detected union schema) stops at
# the first line that is not an object: the input has none.
CLEAN=$BIG
BIG_BYTES=$(wc -c <"$BIG")
CLEAN_BYTES=$BIG_BYTES
SMALL_BYTES=$(wc -c <"$SMALL_IN")

INGEST_HELP=$("$KINLAKE" ingest --help)
MEMORY_LIMIT=$(sed -n 's/^ *--memory-limit .*\[default: \([^]]*\)\].*/\1/p' <<<"$INGEST_HELP")
HAS_THREADS=0
if grep -q -E -- '^ *--threads ' <<<"$INGEST_HELP"; then HAS_THREADS=1; fi
HAS_PARQUET=0
if grep -E -- '^ *--format ' <<<"$INGEST_HELP" | grep -q parquet; then HAS_PARQUET=1; fi

# --- one measured run -----------------------------------------------------------
# run_job JOB RUN EVENTS OUTDIR DATA_GLOB -- command...
# Appends a row to $RAW; returns the command's status. Output goes to a log.
run_job() {
	local job=$1 run=$2 n=$3 dir=$4 glob=$5
	shift 6
	local log=$OUT/logs/$job-$run.log tf=$OUT/logs/$job-$run.time
	set_aside "$dir"
	echo "bench: run $run/$RUNS $job" >&2
	if ! "$TIME" -f '%e %M %U %S' -o "$tf" "$@" >"$log" 2>&1; then
		echo "bench: $job run $run FAILED ($(head -1 "$tf")); last lines of $log:" >&2
		tail -5 "$log" | sed 's/^/    /' >&2
		set_aside "$dir"
		return 1
	fi
	local secs kb bytes files parts user sys load
	read -r secs kb user sys < <(tail -1 "$tf")
	load=$(cut -d' ' -f1 /proc/loadavg)
	# data files only (not dead letters, not state); partition = the directory holding them
	read -r bytes files parts < <(find "$dir" -type f -path "$glob" -printf '%s %h\n' |
		awk '{ b += $1; f++; if (!($2 in d)) { d[$2] = 1; p++ } } END { printf "%d %d %d\n", b, f, p }')
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$job" "$run" "$n" "$secs" "$kb" "$bytes" "$files" "$parts" "$user" "$sys" "$load" >>"$RAW"
	set_aside "$dir"
}

KL_JSONL="kinlake jsonl+zstd"
KL_SMALL="kinlake jsonl+zstd"
KL_PARQUET="kinlake parquet+zstd"
DUCK="DuckDB peer ($THREADS threads)"
parquet_failed=0
for run in $(seq 1 "$RUNS"); do
	lake=$OUT/lake-kinlake
	run_job "jsonl-$BIG_LABEL" "$run" "$EVENTS" "$lake" "$lake/events/*" -- \
		"$KINLAKE" ingest --input "$BIG" --lake "$lake" --format jsonl --compression zstd --no-progress
	run_job "duckdb-$BIG_LABEL" "$run" "$EVENTS" "$OUT/lake-duckdb" "$OUT/lake-duckdb/*.parquet" -- \
		node bench/duckdb_jsonl.mjs "$BIG" "$OUT/lake-duckdb" "$THREADS"
	run_job "jsonl-$SMALL_LABEL" "$run" "$SMALL" "$lake" "$lake/events/*" -- \
		"$KINLAKE" ingest --input "$SMALL_IN" --lake "$lake" --format jsonl --compression zstd --no-progress
	# the same two sizes with a memory limit that binds for both: is memory flat then?
	run_job "bound-$BIG_LABEL" "$run" "$EVENTS" "$lake" "$lake/events/*" -- \
		"$KINLAKE" ingest --input "$BIG" --lake "$lake" --format jsonl --memory-limit "$BOUND_LIMIT" --dedup-window "$BOUND_DEDUP" --no-progress
	run_job "bound-$SMALL_LABEL" "$run" "$SMALL" "$lake" "$lake/events/*" -- \
		"$KINLAKE" ingest --input "$SMALL_IN" --lake "$lake" --format jsonl --memory-limit "$BOUND_LIMIT" --dedup-window "$BOUND_DEDUP" --no-progress
	if [ "$HAS_PARQUET" = 1 ] && [ "$parquet_failed" = 0 ]; then
		run_job "parquet-$BIG_LABEL" "$run" "$EVENTS" "$lake" "$lake/events/*" -- \
			"$KINLAKE" ingest --input "$BIG" --lake "$lake" --format parquet --compression zstd --no-progress ||
			parquet_failed=1
		if [ "$HAS_THREADS" = 1 ]; then # the same on one thread
			run_job "pqt1-$BIG_LABEL" "$run" "$EVENTS" "$lake" "$lake/events/*" -- \
				"$KINLAKE" ingest --input "$BIG" --lake "$lake" --format parquet --compression zstd --threads 1 --no-progress ||
				parquet_failed=1
		fi
		if [ "$HAS_THREADS" = 1 ] && [ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null; then
			# the defaults given one CPU instead of all of them: kinlake counts the
			# CPUs it may use (its affinity, core/cgroup.h), so this is --threads 1
			# on one core, what the second core is measured against
			run_job "pq1cpu-$BIG_LABEL" "$run" "$EVENTS" "$lake" "$lake/events/*" -- \
				taskset -c 0 "$KINLAKE" ingest --input "$BIG" --lake "$lake" --format parquet --compression zstd --no-progress ||
				parquet_failed=1
		fi
		if [ "${BENCH_TYPED:-1}" = 1 ]; then
			run_job "ducktyped-$BIG_LABEL" "$run" "$EVENTS" "$OUT/lake-duckdb" "$OUT/lake-duckdb/*.parquet" -- \
				node bench/duckdb_typed.mjs "$CLEAN" "$OUT/lake-duckdb" "$THREADS"
		fi
	fi
done

# per-stage CPU of one Parquet run at the defaults and one at --threads 1 (perf)
PERF=${BENCH_PERF:-1}
STAGES_DEF="" STAGES_T1=""
if [ "$PERF" = 1 ] && command -v perf >/dev/null && [ "$HAS_PARQUET" = 1 ]; then
	echo "bench: perf, parquet defaults" >&2
	set_aside "$OUT/lake-perf"
	STAGES_DEF=$(bench/perf_stages.sh -- "$KINLAKE" ingest --input "$BIG" --lake "$OUT/lake-perf" --no-progress 2>&1) || STAGES_DEF="(perf failed: $STAGES_DEF)"
	set_aside "$OUT/lake-perf"
	if [ "$HAS_THREADS" = 1 ]; then
		echo "bench: perf, parquet --threads 1" >&2
		STAGES_T1=$(bench/perf_stages.sh -- "$KINLAKE" ingest --input "$BIG" --lake "$OUT/lake-perf" --threads 1 --no-progress 2>&1) || STAGES_T1="(perf failed: $STAGES_T1)"
		set_aside "$OUT/lake-perf"
	fi
fi

GZIP_BYTES=""
if [ "$HAS_PARQUET" = 1 ] && [ "$parquet_failed" = 0 ]; then
	echo "bench: gzip -6 size of the input" >&2
	GZIP_BYTES=$(gzip -6 -c "$BIG" | wc -c)
fi

# --- report --------------------------------------------------------------------
# median of column COL over rows of job JOB
median() { awk -F'\t' -v j="$1" -v c="$2" '$1 == j { print $c }' "$RAW" | med ''; }
have() { awk -F'\t' -v j="$1" '$1 == j { f = 1 } END { exit !f }' "$RAW"; }

DUCK_EPS=$(calc '%.6f' "$EVENTS / $(median "duckdb-$BIG_LABEL" 4)")
row() { # job-key label events input_bytes
	local s kb out eps
	s=$(median "$1" 4)
	kb=$(median "$1" 5)
	out=$(median "$1" 6)
	eps=$(calc '%.6f' "$3 / $s")
	local ratio="1.00"
	case $1 in duckdb-*) ;; *)
		if [ "$3" = "$EVENTS" ]; then ratio=$(calc '%.2f' "$eps / $DUCK_EPS"); else ratio="-"; fi ;;
	esac
	printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "$2" "$(human_events "$3")" "$(calc '%.2f' "$s")" \
		"$(calc '%.0f' "$eps")" "$(calc '%.1f' "$4 / 1e6 / $s")" "$(calc '%.1f' "$kb * 1024 / 1e6")" \
		"$(calc '%.1f' "$out / 1e6")" "$ratio"
}

# CPU row: job label
cpu_row() {
	local u sy wall
	u=$(median "$1" 9)
	sy=$(median "$1" 10)
	wall=$(median "$1" 4)
	local n
	n=$(awk -F'\t' -v j="$1" '$1 == j { print $3; exit }' "$RAW")
	printf '| %s | %s | %s | %s | %s |\n' "$2" "$(calc '%.2f' "$u + $sy")" "$(calc '%.2f' "($u + $sy) * 1e6 / $n")" \
		"$(calc '%.0f%%' "100 * $sy / ($u + $sy)")" "$(calc '%.2f' "($u + $sy) / $wall")"
}
KL_THREADS_DEFAULT=$(nproc)

rev=$(bench_rev)
REPORT=$OUT/results.md
{
	echo "# kinlake bench — $(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo
	echo "$($KINLAKE version) ($rev); $(bench_cpus); node $(node --version)"
	echo "input: $BIG ($(calc '%.1f' "$BIG_BYTES / 1e6") MB, $EVENTS events), $SMALL_IN ($(calc '%.1f' "$SMALL_BYTES / 1e6") MB); $RUNS runs each, medians"
	echo
	echo "| job | events | seconds | events/s | MB/s in | peak RSS MB | data out MB | events/s ÷ DuckDB |"
	echo "|---|---:|---:|---:|---:|---:|---:|---:|"
	row "jsonl-$BIG_LABEL" "$KL_JSONL" "$EVENTS" "$BIG_BYTES"
	row "duckdb-$BIG_LABEL" "$DUCK" "$EVENTS" "$BIG_BYTES"
	row "jsonl-$SMALL_LABEL" "$KL_SMALL" "$SMALL" "$SMALL_BYTES"
	if have "parquet-$BIG_LABEL"; then row "parquet-$BIG_LABEL" "$KL_PARQUET" "$EVENTS" "$BIG_BYTES"; fi
	if have "pqt1-$BIG_LABEL"; then row "pqt1-$BIG_LABEL" "$KL_PARQUET, --threads 1" "$EVENTS" "$BIG_BYTES"; fi
	if have "pq1cpu-$BIG_LABEL"; then row "pq1cpu-$BIG_LABEL" "$KL_PARQUET, one CPU (taskset -c 0)" "$EVENTS" "$BIG_BYTES"; fi
	if have "ducktyped-$BIG_LABEL"; then
		row "ducktyped-$BIG_LABEL" "DuckDB typed" "$EVENTS" "$CLEAN_BYTES"
	fi
	echo
	echo "CPU (user + sys from $TIME, medians; kernel share = sys ÷ (user + sys)):"
	echo
	echo "| job | CPU s | CPU s per 1M events | kernel share | CPUs busy (CPU s ÷ wall s) |"
	echo "|---|---:|---:|---:|---:|"
	for j in "parquet-$BIG_LABEL:$KL_PARQUET" "pqt1-$BIG_LABEL:$KL_PARQUET, --threads 1" "pq1cpu-$BIG_LABEL:$KL_PARQUET, one CPU" "jsonl-$BIG_LABEL:$KL_JSONL" "duckdb-$BIG_LABEL:$DUCK"; do
		have "${j%%:*}" && cpu_row "${j%%:*}" "${j#*:}"
	done
	echo
	if have "parquet-$BIG_LABEL"; then
		echo "- **narrow comparison**: kinlake parquet (defaults) events/s ÷ DuckDB narrow (the JSON-text peer above) = $(calc '%.2f' "$(median "duckdb-$BIG_LABEL" 4) / $(median "parquet-$BIG_LABEL" 4)") (issue 11 target: ≥ 3)"
	fi
	if have "pqt1-$BIG_LABEL"; then
		echo "- **threads**: kinlake parquet, default --threads ($KL_THREADS_DEFAULT here) ÷ --threads 1, events/s = $(calc '%.2f' "$(median "pqt1-$BIG_LABEL" 4) / $(median "parquet-$BIG_LABEL" 4)") (target: ≥ 1.8 with 2 threads)"
	fi
	if have "pq1cpu-$BIG_LABEL"; then
		echo "- one CPU against $(nproc): kinlake parquet at the defaults ÷ the same pinned to one CPU (taskset -c 0; kinlake then runs --threads 1), events/s = $(calc '%.2f' "$(median "pq1cpu-$BIG_LABEL" 4) / $(median "parquet-$BIG_LABEL" 4)") (not issue 11's ratio: --threads 1 on two CPUs already keeps more than one busy; this is what the other CPUs add)"
	fi
	echo "- **JSON lines**: kinlake jsonl events/s ÷ DuckDB narrow = $(calc '%.2f' "$(median "duckdb-$BIG_LABEL" 4) / $(median "jsonl-$BIG_LABEL" 4)") (target: ≥ 5)"
	if have "ducktyped-$BIG_LABEL" && have "parquet-$BIG_LABEL"; then
		echo "- typed comparison: kinlake parquet events/s ÷ DuckDB typed = $(calc '%.2f' "$(median "ducktyped-$BIG_LABEL" 4) / $(median "parquet-$BIG_LABEL" 4)")"
	fi
	echo "- machine load: 1-minute load average at the end of the jobs, median $(awk -F'\t' 'NR > 1 { print $11 }' "$RAW" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'), max $(awk -F'\t' 'NR > 1 && $11 > m { m = $11 } END { print m }' "$RAW") ($(nproc) CPUs; other work on the machine slows every job)"
	echo
	echo "- RSS flatness: kinlake peak RSS @$BIG_LABEL ÷ @$SMALL_LABEL = $(calc '%.2f' "$(median "jsonl-$BIG_LABEL" 5) / $(median "jsonl-$SMALL_LABEL" 5)")" \
		"(1.00 = memory does not grow with input size; buffers may grow up to --memory-limit, default ${MEMORY_LIMIT:-?})"
	echo "- RSS flatness with --memory-limit $BOUND_LIMIT --dedup-window $BOUND_DEDUP (binds at both sizes): peak RSS @$BIG_LABEL = $(calc '%.1f' "$(median "bound-$BIG_LABEL" 5) / 1024") MB, @$SMALL_LABEL = $(calc '%.1f' "$(median "bound-$SMALL_LABEL" 5) / 1024") MB, ratio $(calc '%.2f' "$(median "bound-$BIG_LABEL" 5) / $(median "bound-$SMALL_LABEL" 5)"); events/s @$BIG_LABEL = $(calc '%.0f' "$EVENTS / $(median "bound-$BIG_LABEL" 4)")"
	if [ "$HAS_PARQUET" = 1 ]; then
		if have "parquet-$BIG_LABEL"; then
			pq_out=$(median "parquet-$BIG_LABEL" 6)
			pq_files=$(median "parquet-$BIG_LABEL" 7)
			pq_parts=$(median "parquet-$BIG_LABEL" 8)
			echo "- Parquet lake: $(calc '%.1f' "$pq_out / 1e6") MB of data files = $(calc '%.1f' "100 * $pq_out / $BIG_BYTES")% of the input;" \
				"input gzip -6: $(calc '%.1f' "$GZIP_BYTES / 1e6") MB (parquet ÷ gzip = $(calc '%.2f' "$pq_out / $GZIP_BYTES"));" \
				"$(calc '%.0f' "$pq_files") files in $(calc '%.0f' "$pq_parts") partitions = $(calc '%.2f' "$pq_files / $pq_parts") files/partition, average file $(calc '%.1f' "$pq_out / $pq_files / 1e3") kB"
		fi
		[ "$parquet_failed" = 0 ] || echo "- **kinlake --format parquet FAILED**: see $OUT/logs/parquet-$BIG_LABEL-*.log"
	else
		echo "- Parquet: not measured (\`$KINLAKE ingest --help\` does not list it)"
	fi
	echo "- JSONL lake: $(calc '%.1f' "$(median "jsonl-$BIG_LABEL" 6) / 1e6") MB, $(calc '%.0f' "$(median "jsonl-$BIG_LABEL" 7)") files in $(calc '%.0f' "$(median "jsonl-$BIG_LABEL" 8)") partitions"
	kl_sum=$(grep -h -m1 'kinlake ingest: done' "$OUT/logs/jsonl-$BIG_LABEL-1.log" | sed 's/^kinlake ingest: done: //' || true)
	duck_sum=$(tail -1 "$OUT/logs/duckdb-$BIG_LABEL-1.log" || true)
	echo "- run 1, kinlake: $kl_sum"
	echo "- run 1, DuckDB peer: $duck_sum"
	if [ -n "$STAGES_DEF" ]; then
		echo
		echo "Per-stage CPU (bench/perf_stages.sh, one run each), kinlake parquet at the defaults:"
		echo
		echo "$STAGES_DEF"
		if [ -n "$STAGES_T1" ]; then
			echo
			echo "... and with --threads 1:"
			echo
			echo "$STAGES_T1"
		fi
	fi
	echo
	echo "Raw runs (wall seconds, peak RSS, user and sys seconds from $TIME -f '%e %M %U %S', 1-minute load average after the job; logs in $OUT/logs/):"
	echo
	echo '```'
	awk -F'\t' 'NR == 1 { printf "%-16s %3s %9s %8s %10s %8s %12s %6s %5s %7s %6s %5s\n", "job", "run", "events", "seconds", "events/s", "RSS MB", "data out B", "files", "parts", "user s", "sys s", "load"; next }
		{ printf "%-16s %3d %9d %8.2f %10.0f %8.1f %12d %6d %5d %7.2f %6.2f %5.2f\n", $1, $2, $3, $4, $3 / $4, $5 * 1024 / 1e6, $6, $7, $8, $9, $10, $11 }' "$RAW"
	echo '```'
} >"$REPORT"
cat "$REPORT"
echo
echo "bench: written to $REPORT"
empty_trash
[ "$parquet_failed" = 0 ]
