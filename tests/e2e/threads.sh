# --threads N writes the same lake, byte for byte, for every N (file names,
# file boundaries, contents, the state log, the schema registry) and at the
# default (the CPUs the process may use), in both formats, with malformed
# lines, duplicates, a record longer than a prep chunk, a record over the
# reader's cap (streamed, `more`) and a memory
# budget small enough that flushes are decided all the time; and kill -9
# during a --threads 2 run, then the same command again, gives the lake of
# an uninterrupted run.
# duration: 20 (seconds, for the test runner's ordering: a quiet 2-core machine)
# duration-asan: 22
. "$(dirname "$0")/_lib.sh"
N=${KL_ASAN:+6000}; N=${N:-12000}
"$KL" gen --events "$N" --bad-fraction 0.01 --dup-fraction 0.01 --seed 5 --span 3600 > "$T/in.jsonl"
# a memory budget that binds all the time (12 MiB less the fixed costs), so
# flushes are decided by it: one more or less and the files differ
small=(--memory-limit 12MiB --dedup-window 50000)
# a 3 MiB event (longer than a 1 MiB prep chunk; a too_large dead letter at
# --max-record-bytes 2MiB) two thirds in
long=$(head -c $((3 << 20)) /dev/zero | tr '\0' 'x')
{
	head -n $((N * 2 / 3)) "$T/in.jsonl"
	printf '{"event_uuid":"long-1","event_name":"big:one","created_at":1764547300,"pad":"%s"}\n' "$long"
	tail -n +$((N * 2 / 3 + 1)) "$T/in.jsonl"
} > "$T/mixed.jsonl"
unset long

# the whole lake, state and schemas included, as one sorted listing of hashes
whole_digest() { (cd "$1" && find . -type f ! -name '*.tmp-*' -print0 | sort -z | xargs -0 sha256sum); }

for fmt in parquet jsonl; do
	args=(--input "$T/mixed.jsonl" --format "$fmt" "${small[@]}" --max-record-bytes 2MiB --quiet)
	for t in 1 2 3 4; do
		"$KL" ingest "${args[@]}" --lake "$T/$fmt-$t" --threads "$t"
		whole_digest "$T/$fmt-$t" > "$T/$fmt-$t.sum"
	done
	files=$(wc -l < "$T/$fmt-1.sum")
	[ "$files" -gt 50 ] || fail "$fmt: only $files files; the test wants many flushes"
	ls "$T/$fmt-1"/errors/too_large/dt=*/* > /dev/null || fail "$fmt: no too_large dead letter"
	for t in 2 3 4; do
		cmp -s "$T/$fmt-1.sum" "$T/$fmt-$t.sum" ||
			fail "$fmt: --threads $t differs from --threads 1: $(diff "$T/$fmt-1.sum" "$T/$fmt-$t.sum" | head -5)"
	done
	echo "$fmt: $files files, the same for --threads 1 2 3 4"
	# the default: as many as the CPUs the process may use
	"$KL" ingest "${args[@]}" --lake "$T/$fmt-auto"
	cmp -s "$T/$fmt-1.sum" <(whole_digest "$T/$fmt-auto") || fail "$fmt: the default --threads differs"
done

# event names with escaped control characters: event_type and event_subtype
# come back re-escaped, up to 6 bytes a character ("\r" -> "\u000d"), and a
# buffer must grow alike whether a prep worker or the reader wrote the event
# (event.h, kl_event_row_reserve: before it counted 1 byte a character, and
# --threads 1 and 2 made different lakes here)
awk -v n=$((N / 2)) 'BEGIN { for (i = 0; i < n; i++) {
	name = "ty" (i * 7 % 8); for (k = 0; k < i * 13 % 30; k++) name = name "\\r\\f"
	name = name ":"; for (k = 0; k <= i * 5 % 19; k++) name = name "sub\\t"
	printf "{\"event_uuid\":\"e%07d\",\"event_name\":\"%s\",\"created_at\":%d,\"pad\":\"%0*d\"}\n",
		i, name, 1764547200 + int(i / 10), 10 + i * 31 % 390, 0 } }' > "$T/esc.jsonl"
grep -q '"event_name":"ty[0-7]\\r\\f\\r\\f' "$T/esc.jsonl" || fail "escaped names: $(head -c 200 "$T/esc.jsonl")"
for t in 1 2; do
	"$KL" ingest --input "$T/esc.jsonl" --lake "$T/esc-$t" "${small[@]}" --threads "$t" --quiet
	whole_digest "$T/esc-$t" > "$T/esc-$t.sum"
done
cmp -s "$T/esc-1.sum" "$T/esc-2.sum" ||
	fail "escaped names: --threads 2 differs from --threads 1 ($(wc -l < "$T/esc-1.sum") and $(wc -l < "$T/esc-2.sum") files)"
echo "escaped names: $(wc -l < "$T/esc-1.sum") files, the same for --threads 1 and 2"

# a budget that binds on nearly every record (9 MiB: the writer's queued
# buffers decide the flushes as much as the partitions do): every run gives
# the same lake, whatever the writer's speed (writer.h, defer_release; before
# it, 3 different lakes in 6 runs of the same command)
args=(--input "$T/mixed.jsonl" --format parquet --memory-limit 9MiB --dedup-window 50000
	--max-record-bytes 2MiB --quiet)
for i in 1 2 3 4 5 6; do
	t=$(( i % 3 + 1 ))
	rm -rf "$T/tight"
	"$KL" ingest "${args[@]}" --lake "$T/tight" --threads "$t"
	whole_digest "$T/tight" > "$T/tight-$i.sum"
	cmp -s "$T/tight-1.sum" "$T/tight-$i.sum" ||
		fail "9MiB: run $i (--threads $t) differs from run 1: $(diff "$T/tight-1.sum" "$T/tight-$i.sum" | head -5)"
done
echo "9MiB: $(wc -l < "$T/tight-1.sum") files, the same in 6 runs (--threads 1 2 3)"
rm -rf "$T/tight"

# a record over the reader's 64 MiB cap goes through the serial path between
# chunks: the same lake with 1 and 3 threads
{
	head -n 500 "$T/in.jsonl"
	head -c $((65 << 20)) /dev/zero | tr '\0' 'y'; printf '\n'
	sed -n '501,1000p' "$T/in.jsonl"
} > "$T/huge.jsonl"
for t in 1 3; do
	"$KL" ingest --input "$T/huge.jsonl" --lake "$T/huge-$t" --format jsonl --threads "$t" --quiet
done
cmp -s <(whole_digest "$T/huge-1") <(whole_digest "$T/huge-3") || fail "a 65 MiB record: --threads 3 differs"
ls "$T/huge-3"/errors/too_large/dt=*/* > /dev/null || fail "no too_large dead letter for the 65 MiB record"
rm -f "$T/huge.jsonl"

# kill -9 during --threads 2 runs, then the same command: the lake of an
# uninterrupted run
args=(--input "$T/in.jsonl" --lake "$T/crash" "${small[@]}" --quiet)
seed=${KL_CRASH_SEED:-$RANDOM}; RANDOM=$seed; echo "crash seed $seed"
# the kills land at a random 5-94% of a whole run, timed here first: a run
# takes 0.17 s on ext4 and 0.09 s on tmpfs under ASan (the lake's fsyncs),
# and fixed sleeps of 0.01-0.40 s once missed all 16 runs in CI. The fraction
# is drawn in this shell, not in a command substitution (bash reseeds RANDOM
# in a subshell), so that one seed gives the same kill points.
us() { local t=${EPOCHREALTIME//[.,]/}; echo "$((10#$t))"; }
t0=$(us); "$KL" ingest "${args[@]}" --threads 2; run_us=$(( $(us) - t0 ))
rm -rf "$T/crash"
echo "a whole run: $run_us us"
# a run that finished before its kill leaves a complete lake: start that one
# over, so that the next run has everything to do
kills=0 tries=0
while [ "$kills" -lt 3 ] && [ "$tries" -lt 16 ]; do
	tries=$((tries + 1))
	at=$(( run_us * (RANDOM % 90 + 5) / 100 ))
	"$KL" ingest "${args[@]}" --threads 2 & pid=$!
	sleep "$(printf '%d.%06d' $((at / 1000000)) $((at % 1000000)))"
	kill -9 "$pid" 2>/dev/null || true
	st=0; wait "$pid" 2>/dev/null || st=$?
	case $st in
	137) kills=$((kills + 1)) ;;
	0) rm -rf "$T/crash" ;;
	*) fail "run $tries (killed at $at us) exited with status $st" ;;
	esac
done
echo "killed $kills of $tries runs"
[ "$kills" -ge 1 ] || fail "every run finished before it could be killed (a whole run: $run_us us)"
"$KL" ingest "${args[@]}" --threads 2
"$KL" ingest --input "$T/in.jsonl" --lake "$T/clean" "${small[@]}" --quiet --threads 1
cmp -s <(lake_digest "$T/crash") <(lake_digest "$T/clean") ||
	fail "after kill -9: the lake differs from an uninterrupted run: $(diff <(lake_digest "$T/crash") <(lake_digest "$T/clean") | head -5)"
check_lake "$T/in.jsonl" "$T/crash" --format parquet > /dev/null
echo "threads: ok"
