# A named input (--input-id) killed before midnight UTC and run again after
# it: every valid event and every dead letter is in the lake once. A pipe has
# no mtime, so its dead letters are dated by the clock; the restart must date
# them as the killed run did, or they land in another errors/<reason>/dt=
# partition beside the first copies (CI on 2026-12-08 00:0x UTC: e2e/crash
# counted its dead letters twice). The first run's day is kept in the state
# log (commit/state.h, the A line). libfaketime sets the killed runs' wall
# clock to a fixed day in the past (never the day the test runs, whatever
# the hour); monotonic time stays real.
# duration: 12
# duration-asan: 14
. "$(dirname "$0")/_lib.sh"
FT=/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1
[ -e "$FT" ] || fail "libfaketime missing (scripts/deps.sh installs the faketime package)"
N=8000
"$KL" gen --events "$N" --bad-fraction 0.05 --seed 11 > "$T/in.jsonl"
args=(--input - --input-id midnight --lake "$T/lake" --max-file-bytes 16KiB --memory-limit 1MiB --quiet)
day=2001-02-03
# ASan wants to be first in the library list; libfaketime is preloaded
# before it, which is harmless here (it wraps only clock calls)
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0
kills=0
for i in 1 2 3; do
	slow_feed $((N / 3)) "$T/in.jsonl" |
		LD_PRELOAD=$FT FAKETIME="@$day 12:00:00" FAKETIME_DONT_FAKE_MONOTONIC=1 "$KL" ingest "${args[@]}" &
	pid=$!
	sleep "1.$(( RANDOM % 9 + 1 ))"
	if kill -9 "$pid" 2>/dev/null; then kills=$((kills + 1)); fi
	wait "$pid" 2>/dev/null || true
done
[ "$kills" -ge 2 ] || fail "only $kills of 3 runs were killed before they ended"
n_old=$(find "$T/lake/errors" -path "*/dt=$day/*" -type f | wc -l)
echo "killed $kills runs; dead-letter files dated $day: $n_old"
[ "$n_old" -gt 0 ] || fail "the killed runs wrote no dead letters dated $day (is the clock moved?)"
# days later: the same command, with the real clock
"$KL" ingest "${args[@]}" < "$T/in.jsonl"
check_lake "$T/in.jsonl" "$T/lake" --format parquet
# every dead letter is dated by the input's first run
other=$(find "$T/lake/errors" -type f ! -path "*/dt=$day/*")
[ -z "$other" ] || fail "dead letters dated otherwise than the first run's $day: $(echo "$other" | head -3)"

# A file's dead letters are dated by its mtime, which moves when it grows: a
# run of its first 6,000 lines (mtime on $day) cut after half its state
# log's lines (a crash after that commit, with its later files left in
# place, as restart_cuts.sh does), lines appended now, the file run again:
# the earlier input is finished under its first day, and every record is in
# the lake once.
head -n 6000 "$T/in.jsonl" > "$T/grow.jsonl"
touch -d "$day 12:00" "$T/grow.jsonl"
fargs=(--input "$T/grow.jsonl" --lake "$T/lake2" --max-file-bytes 16KiB --memory-limit 1MiB --quiet)
"$KL" ingest "${fargs[@]}"
log=$(ls "$T/lake2"/_kinlake/state/*.log)
n=$(wc -l < "$log")
[ "$n" -ge 8 ] || fail "only $n state-log lines; the step wants several commits"
head -n $((n / 2)) "$log" > "$log.t" && mv "$log.t" "$log"
tail -n +6001 "$T/in.jsonl" >> "$T/grow.jsonl"
"$KL" ingest "${fargs[@]}"
check_lake "$T/grow.jsonl" "$T/lake2" --format parquet
[ -n "$(find "$T/lake2/errors" -path "*/dt=$day/*" -type f)" ] || fail "no dead letters dated $day in the grown file's lake"
