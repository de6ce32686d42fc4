# Commit property 1: the same ingest twice leaves data files and dead letters
# byte-identical (no duplicates, no new files) — also when the state is lost.
# duration: 12 (seconds, for the test runner's ordering: a quiet 2-core machine)
. "$(dirname "$0")/_lib.sh"
"$KL" gen --events 20000 --bad-fraction 0.01 --dup-fraction 0.01 --seed 5 > "$T/in.jsonl"
args=(--input "$T/in.jsonl" --lake "$T/lake" --max-file-bytes 300KiB)
"$KL" ingest "${args[@]}" --quiet
lake_digest "$T/lake" > "$T/d1"
[ "$(wc -l < "$T/d1")" -gt 100 ] || fail "expected many files, got $(wc -l < "$T/d1")"
"$KL" ingest "${args[@]}" 2> "$T/second"
grep -q "already in the lake" "$T/second" || fail "second run did work: $(cat "$T/second")"
lake_digest "$T/lake" > "$T/d2"
cmp "$T/d1" "$T/d2" || fail "second run changed the lake"
# without its state the replay rewrites the very same objects
rm -rf "$T/lake/_kinlake"
"$KL" ingest "${args[@]}" --quiet
lake_digest "$T/lake" > "$T/d3"
cmp "$T/d1" "$T/d3" || fail "replay without state changed the lake"
check_lake "$T/in.jsonl" "$T/lake" --format parquet
[ -z "$(find "$T/lake" -name '.*tmp*')" ] || fail "temp files left behind"

# A file named by its content that grows while it is read: the run reads only
# the bytes it hashed (what is appended is other content, never stored under
# this name) and says so; the next run of the grown file begins where that
# input ended (_kinlake/inputs/), and so does the one after another append:
# every event once. The process is paused once it reads (after the hash), the
# lines are appended, and it goes on.
"$KL" gen --events 100000 --seed 6 > "$T/grow.jsonl"
"$KL" gen --events 500 --seed 7 > "$T/more.jsonl"
"$KL" ingest --input "$T/grow.jsonl" --lake "$T/lake2" --format jsonl --threads 1 2> "$T/grow.err" & pid=$!
# the input's fd has moved: the hash (pread) is over, the reads began. Builtins
# only ([[ -ef ]] follows /proc's fd links), so a poll every few ms catches the
# first 4 MiB read long before the last
input_fd=""
reading() {
	local fd k v
	if [ -z "$input_fd" ]; then
		for fd in /proc/$pid/fd/*; do [[ $fd -ef $T/grow.jsonl ]] && input_fd=${fd##*/}; done
		[ -n "$input_fd" ] || return 1
	fi
	while read -r k v; do
		[ "$k" = pos: ] && { [ "$v" -gt 0 ]; return; }
	done < "/proc/$pid/fdinfo/$input_fd" 2>/dev/null
	return 1
}
seen=0
for _ in $(seq 10000); do reading && { seen=1; break; }; sleep 0.003; done
[ "$seen" = 1 ] || fail "the run was not seen reading its input"
kill -STOP "$pid"
cat "$T/more.jsonl" >> "$T/grow.jsonl"
kill -CONT "$pid"
wait "$pid" || fail "the run of a growing file failed: $(cat "$T/grow.err")"
cat "$T/grow.err"
grep -q "grew while it was read" "$T/grow.err" || fail "no warning about the grown file"
grep -q "read=100000 stored=100000" "$T/grow.err" || fail "the run read past the hashed bytes"
"$KL" ingest --input "$T/grow.jsonl" --lake "$T/lake2" --format jsonl 2> "$T/grow2.err"
cat "$T/grow2.err"
grep -q "begins with input .* read from there on" "$T/grow2.err" || fail "the grown file did not continue its first part"
grep -q "read=500 stored=500" "$T/grow2.err" || fail "the grown file's run read more than what was appended"
"$KL" gen --events 300 --seed 8 >> "$T/grow.jsonl"
"$KL" ingest --input "$T/grow.jsonl" --lake "$T/lake2" --format jsonl 2> "$T/grow3.err"
grep -q "read=300 stored=300" "$T/grow3.err" || fail "the second append: $(cat "$T/grow3.err")"
check_lake "$T/grow.jsonl" "$T/lake2" --format jsonl # every event of the three runs once
"$KL" ingest --input "$T/grow.jsonl" --lake "$T/lake2" --format jsonl 2> "$T/grow4.err"
grep -q "already in the lake" "$T/grow4.err" || fail "the same grown file again did work: $(cat "$T/grow4.err")"

# A file whose run was killed, then appended to: the next run first finishes
# the earlier content under its own name and state (the mark is made when a
# run begins), then reads what was appended. Read whole under the grown
# file's new name, what the killed run had stored would be stored again
# (a fifth of the events twice with the build before the change).
"$KL" gen --events 60000 --seed 6 > "$T/int.jsonl"
"$KL" ingest --input "$T/int.jsonl" --lake "$T/lake3" --format jsonl --threads 1 --max-file-bytes 100KiB \
	2> "$T/int.err" & pid=$!
for _ in $(seq 1000); do
	[ "$(find "$T/lake3/events" -type f 2>/dev/null | wc -l)" -gt 40 ] && break; sleep 0.01
done
kill -9 "$pid"; wait "$pid" 2>/dev/null || true
[ -n "$(find "$T/lake3/events" -type f)" ] || fail "the killed run had stored nothing"
grep -q "done:" "$T/int.err" && fail "the run ended before the kill: nothing to test"
"$KL" gen --events 200 --seed 9 >> "$T/int.jsonl"
"$KL" ingest --input "$T/int.jsonl" --lake "$T/lake3" --format jsonl 2> "$T/int2.err" ||
	fail "the run after the kill: $(cat "$T/int2.err")"
cat "$T/int2.err"
check_lake "$T/int.jsonl" "$T/lake3" --format jsonl
grep -q "whose run had stopped before its end: finished it first" "$T/int2.err" ||
	fail "the interrupted input was not finished first"
"$KL" ingest --input "$T/int.jsonl" --lake "$T/lake3" --format jsonl 2> "$T/int3.err"
grep -q "already in the lake" "$T/int3.err" || fail "the same file again did work: $(cat "$T/int3.err")"
echo "idempotent: interrupted then grown: ok"

# A file the lake has never seen (no mark under its head) is read while a
# thread hashes it (pipeline/ingest.c run_ahead): nothing is written before
# the hash names it. A state without a mark (a lake from before the marks)
# is found then, and the input goes the usual way, nothing written by the
# first try: (a) read to its end before: already in the lake, nothing
# changed; (b) killed halfway: resumed from its state (records replayed),
# the same lake as one clean run.
rm -rf "$T/lake/_kinlake/inputs"
"$KL" ingest "${args[@]}" 2> "$T/nomark"
grep -q "already in the lake" "$T/nomark" || fail "a done state without its mark: $(cat "$T/nomark")"
lake_digest "$T/lake" > "$T/d4"
cmp "$T/d1" "$T/d4" || fail "a done state without its mark: the lake changed"
"$KL" gen --events 60000 --seed 10 > "$T/half.jsonl"
hargs=(--input "$T/half.jsonl" --format jsonl --threads 1 --max-file-bytes 100KiB)
"$KL" ingest "${hargs[@]}" --lake "$T/lake5" --quiet
"$KL" ingest "${hargs[@]}" --lake "$T/lake4" 2> "$T/half.err" & pid=$!
for _ in $(seq 1000); do
	[ "$(find "$T/lake4/events" -type f 2>/dev/null | wc -l)" -gt 40 ] && break; sleep 0.01
done
kill -9 "$pid"; wait "$pid" 2>/dev/null || true
grep -q "done:" "$T/half.err" && fail "the run ended before the kill: nothing to test"
[ -n "$(find "$T/lake4/_kinlake/inputs" -type f)" ] || fail "the killed run left no mark"
rm -rf "$T/lake4/_kinlake/inputs"
"$KL" ingest "${hargs[@]}" --lake "$T/lake4" 2> "$T/half2.err" || fail "resume without a mark: $(cat "$T/half2.err")"
cat "$T/half2.err"
grep -Eq "replayed=[1-9]" "$T/half2.err" || fail "a killed run's state without its mark was not resumed"
cmp <(lake_digest "$T/lake4") <(lake_digest "$T/lake5") || fail "resumed without a mark: not the clean run's lake"
echo "idempotent: states without marks: ok"
