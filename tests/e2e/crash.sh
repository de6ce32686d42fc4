# Commit property 2: kill -9 at random moments, then the same command again:
# every valid event is in the lake exactly once, every dead letter once.
# 50,000 events (40,000 under ASan): with 256 KiB files and a 4 MiB budget
# that is some 2,400 files; twice as many proved nothing more and doubled the
# DuckDB checks, the test's main cost.
# duration: 40 (seconds, for the test runner's ordering: 2 cores, tmpfs scratch; 107 s at load average 15)
# duration-asan: 35
. "$(dirname "$0")/_lib.sh"
N=${KL_ASAN:+40000}; N=${N:-50000}
"$KL" gen --events "$N" --bad-fraction 0.01 --dup-fraction 0.01 --seed 3 > "$T/in.jsonl"
# small files and a small memory budget: many flushes to be killed in between
# stdin with a name (--input-id): the killed runs read a slow pipe, so each
# lasts about 4 s on any machine and every kill lands inside it
args=(--input - --input-id crash --lake "$T/lake" --max-file-bytes 256KiB --memory-limit 4MiB --quiet)
seed=${KL_CRASH_SEED:-$RANDOM}; RANDOM=$seed; echo "crash seed $seed"
kills=0
for i in 1 2 3 4 5 6; do
	slow_feed $((N / 4)) "$T/in.jsonl" | "$KL" ingest "${args[@]}" & pid=$!
	sleep "$(( RANDOM % 3 )).$(( RANDOM % 9 + 1 ))"
	if kill -9 "$pid" 2>/dev/null; then kills=$((kills + 1)); fi
	wait "$pid" 2>/dev/null || true
done
echo "killed $kills runs"
[ "$kills" -ge 5 ] || fail "only $kills of 6 runs were killed before they ended"
echo "temporary files left by the killed runs: $(find "$T/lake" -name '.*.tmp-*' | wc -l), writer marks: $(ls "$T/lake/_kinlake/writers" | wc -l)"
"$KL" ingest "${args[@]}" < "$T/in.jsonl"
check_lake "$T/in.jsonl" "$T/lake" --format parquet
# the run after the crashes swept their leftovers, and its own mark is gone
[ -z "$(find "$T/lake" -name '.*.tmp-*')" ] || fail "temporary files left: $(find "$T/lake" -name '.*.tmp-*' | head -3)"
[ -z "$(ls "$T/lake/_kinlake/writers")" ] || fail "writer marks left: $(ls "$T/lake/_kinlake/writers")"
# and the final lake equals a lake ingested without crashes
"$KL" ingest --input - --input-id crash --lake "$T/clean" --max-file-bytes 256KiB --memory-limit 4MiB --quiet < "$T/in.jsonl"
check_lake "$T/in.jsonl" "$T/clean" --format parquet > /dev/null
