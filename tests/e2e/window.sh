# --window hour: files closed by event time. Two hours of events (kinlake gen)
# with late ones spliced in after their hour closed: at most one file per
# partition-hour plus late files beside it, every event once (DuckDB), the
# metrics count the late events; kill -9 at random moments (mid-hour
# included) and a restart give the same lake, byte for byte, as one
# uninterrupted run; the Lambda's KINLAKE_WINDOW is checked like --window.
# duration: 60 (seconds, for the test runner's ordering)
. "$(dirname "$0")/_lib.sh"
N=${KL_ASAN:+30000}; N=${N:-60000}
# four hours from 00:00, 1% dead letters, 1% duplicates
"$KL" gen --events "$N" --span 14400 --bad-fraction 0.01 --dup-fraction 0.01 --seed 5 > "$T/main.jsonl"
# 500 events of 00:00-00:10, spliced in from 01:05 to 01:45 (every N/3000th line): the
# hour 00 closes at 01:10 (watermark = largest created_at - 10 min), so the
# later ones are late
"$KL" gen --events 500 --span 600 --seed 6 > "$T/late.jsonl"
awk -v from=$((N * 65 / 240)) -v step=$((N / 3000)) 'NR == FNR { late[NR] = $0; n = NR; next }
	{ print } FNR >= from && FNR % step == 0 && i < n { print late[++i] }' \
	"$T/late.jsonl" "$T/main.jsonl" > "$T/in.jsonl"
# stdin with a name (--input-id): the killed runs below read a slow pipe, and a
# dead letter's "source" is "stdin" in every run
args=(--input - --input-id window --window hour --quiet)

# one uninterrupted run
"$KL" ingest "${args[@]}" --lake "$T/clean" --metrics-file "$T/m.prom" < "$T/in.jsonl"
check_lake "$T/in.jsonl" "$T/clean" --format parquet > /dev/null
# hr=01..03 got no late events: exactly one file per partition-hour;
# hr=00: its file and at most one late file (flushed when hr=01 closes)
(cd "$T/clean/events" && find . -type f -name '*.parquet' | sed 's|/[^/]*$||' | sort | uniq -c) > "$T/per_hour"
awk '$2 !~ /hr=00$/ && $1 != 1 { print "partition with " $1 " files: " $2; bad = 1 }
     $2 ~ /hr=00$/ && $1 > 2 { print "hr=00 partition with " $1 " files: " $2; bad = 1 }
     END { exit bad }' "$T/per_hour" || fail "too many files per partition-hour"
late_files=$(awk '$2 ~ /hr=00$/ && $1 == 2' "$T/per_hour" | wc -l)
hours=$(wc -l < "$T/per_hour")
echo "partition-hours $hours, of which with a late file $late_files"
[ "$late_files" -gt 5 ] || fail "expected late files for hr=00, got $late_files"
late=$(awk '$1 == "kinlake_late_events_total" { print $2 }' "$T/m.prom")
[ "${late:-0}" -gt 50 ] && [ "$late" -lt 500 ] || fail "late_events_total $late, expected 50..500"
[ "$(awk '$1 == "kinlake_open_windows" { print $2 }' "$T/m.prom")" = 0 ] || fail "open windows left at the end"
grep -q '^kinlake_commit_files_bucket{le="+Inf"} [1-9]' "$T/m.prom" || fail "no files-per-commit histogram"
# interval mode on the same input names the same partitions
"$KL" ingest --input "$T/in.jsonl" --quiet --lake "$T/interval" --max-file-bytes 1MiB
[ "$(cd "$T/interval/events" && find . -type f | sed 's|/[^/]*$||' | sort -u | wc -l)" = "$hours" ] ||
	fail "window and interval modes partition differently"

# kill -9 at random moments, then run to the end: the same lake. The killed
# runs read the input from a slow pipe (same --input-id), so each lasts about
# 4 s on any machine and every kill lands inside it.
seed=${KL_CRASH_SEED:-$RANDOM}; RANDOM=$seed; echo "crash seed $seed"
kills=0 midway=0
for i in 1 2 3 4; do
	slow_feed $((N / 4)) "$T/in.jsonl" |
		"$KL" ingest "${args[@]}" --lake "$T/crash" & pid=$!
	# somewhere in the run: 0.3 s to 3.7 s of its 4 s
	at=$(( 300 + RANDOM % 3400 ))
	sleep "$(( at / 1000 )).$(printf %03d $(( at % 1000 )))"
	if kill -9 "$pid" 2>/dev/null; then kills=$((kills + 1)); fi
	wait "$pid" 2>/dev/null || true
	n=$( (find "$T/crash/events" -type f -name '*.parquet' 2>/dev/null || true) | wc -l)
	if [ "$n" -gt 0 ] && [ "$n" -lt "$(grep -c . "$T/per_hour")" ]; then midway=$((midway + 1)); fi
done
echo "killed $kills runs, $midway with part of the lake written"
[ "$kills" -ge 3 ] || fail "only $kills of 4 runs were killed before they ended"
"$KL" ingest "${args[@]}" --lake "$T/crash" < "$T/in.jsonl"
lake_digest "$T/clean" > "$T/d.clean"
lake_digest "$T/crash" > "$T/d.crash"
diff "$T/d.clean" "$T/d.crash" > "$T/d.diff" || fail "a restarted run made another lake: $(head -5 "$T/d.diff")"

# --window auto (the default): a file's hours are closed by event time; stdin
# (here the same bytes through a pipe) is flushed by interval: one file per
# partition, as the input has no late event within a partition's buffer
"$KL" ingest --input "$T/in.jsonl" --lake "$T/auto" --quiet
"$KL" ingest --input "$T/in.jsonl" --lake "$T/hour" --quiet --window hour
lake_digest "$T/auto" > "$T/d.auto"
lake_digest "$T/hour" > "$T/d.hour"
diff -q "$T/d.auto" "$T/d.hour" > /dev/null || fail "the default for a file is not --window hour"
cat "$T/in.jsonl" | "$KL" ingest --input - --input-id window --lake "$T/pipe" --quiet
n_pipe=$(find "$T/pipe/events" -type f | wc -l)
n_parts=$(cd "$T/pipe/events" && find . -type f | sed 's|/[^/]*$||' | sort -u | wc -l)
echo "stdin by default: $n_pipe files for $n_parts partitions"
[ "$n_pipe" = "$n_parts" ] || fail "stdin by default: $n_pipe files for $n_parts partitions (interval: one each)"
[ "$(find "$T/auto/events" -type f | wc -l)" -gt "$n_pipe" ] || fail "a file by default made no late files"

# the Lambda's KINLAKE_* variables come from the same table entries
lambda_init() { env KINLAKE_LAKE="$T/lam" "$@" "$KL" lambda --bench-file /dev/null 2>&1 >/dev/null | grep 'init failed' || true; }
[ -z "$(lambda_init KINLAKE_WINDOW=hour KINLAKE_ALLOWED_LATENESS=5m)" ] || fail "KINLAKE_WINDOW=hour refused"
lambda_init KINLAKE_WINDOW=daily | grepq "KINLAKE_WINDOW: 'daily' is not one of auto|interval|hour" ||
	fail "KINLAKE_WINDOW=daily: $(lambda_init KINLAKE_WINDOW=daily)"
"$KL" ingest --input "$T/in.jsonl" --lake "$T/bad" --window daily 2> "$T/err" && fail "--window daily accepted"
grep -q "\-\-window: 'daily' is not one of auto|interval|hour" "$T/err" || fail "message: $(cat "$T/err")"
"$KL" ingest --help > "$T/help"
grep -q -- --allowed-lateness "$T/help" || fail "--help lacks --allowed-lateness"
echo "ok"
