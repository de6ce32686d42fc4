# Inputs compressed with gzip or zstd (source/decompress.h): read as their
# text, so the same events give the same lake as the plain file; a run of
# frames is one input; a truncated or damaged file fails with one message
# and stores nothing it cannot vouch for; a run killed while reading a
# compressed pipe resumes from the compressed file (same --input-id), where
# resuming means decoding the text up to the resume point: every event once.
# duration: 25 (seconds, for the test runner's ordering: 2 cores, tmpfs scratch)
# duration-asan: 30
. "$(dirname "$0")/_lib.sh"
N=${KL_ASAN:+20000}; N=${N:-30000}
"$KL" gen --events "$N" --bad-fraction 0.01 --dup-fraction 0.01 --seed 5 > "$T/in.jsonl"
gzip -c "$T/in.jsonl" > "$T/in.jsonl.gz"
zstd -q -c "$T/in.jsonl" > "$T/in.jsonl.zst"
# a file's content is its name: the stems differ, the data files' bytes do
# not (dead letters name their source file, so they are counted)
contents() {
	(cd "$1" && find events -type f -print0 | xargs -0 -r sha256sum | awk '{ print $1 }' | sort)
	echo "dead letters: $(find "$1/errors" -type f -exec zstd -dcq {} + | wc -l)"
}
"$KL" ingest --input "$T/in.jsonl" --lake "$T/plain" --quiet
for z in gz zst; do
	"$KL" ingest --input "$T/in.jsonl.$z" --lake "$T/$z" --quiet || fail "ingest of a .$z file"
	[ "$(contents "$T/$z")" = "$(contents "$T/plain")" ] || fail ".$z file: not the plain file's lake"
	# the same again is done already, as for a plain file
	out=$("$KL" ingest --input "$T/in.jsonl.$z" --lake "$T/$z" 2>&1)
	grep -q "is already in the lake" <<<"$out" || fail ".$z again: $out"
done
# stdin, compressed: the same events; the progress line counts the file's bytes
"$KL" ingest --input - --input-id pipe --lake "$T/pipe" --quiet < "$T/in.jsonl.gz"
[ "$(contents "$T/pipe")" = "$(contents "$T/plain")" ] || fail "gzip on stdin: not the plain file's lake"
"$KL" transform < "$T/in.jsonl" > "$T/plain.out" 2> /dev/null
"$KL" transform < "$T/in.jsonl.zst" 2> /dev/null | cmp -s - "$T/plain.out" ||
	fail "transform of a .zst: not the plain file's output"
# through a pipe, read as it comes (a chunk at a time)
cat "$T/in.jsonl.gz" | "$KL" transform 2> /dev/null | cmp -s - "$T/plain.out" ||
	fail "transform of a .gz through a pipe: not the plain file's output"
# members and frames one after another (cat a.gz b.gz) are one input
head -n 1000 "$T/in.jsonl" > "$T/a.jsonl"; tail -n +1001 "$T/in.jsonl" > "$T/b.jsonl"
cat <(gzip -c "$T/a.jsonl") <(gzip -c "$T/b.jsonl") > "$T/ab.gz"
cat <(zstd -q -c "$T/a.jsonl") <(zstd -q -c "$T/b.jsonl") > "$T/ab.zst"
for z in gz zst; do
	"$KL" ingest --input "$T/ab.$z" --lake "$T/ab$z" --quiet || fail "two frames, .$z"
	[ "$(contents "$T/ab$z")" = "$(contents "$T/plain")" ] || fail "two frames, .$z: not the plain file's lake"
done
# truncated, damaged, or followed by other bytes: exit 1, one message, no files
size=$(stat -c %s "$T/in.jsonl.gz")
head -c $((size / 2)) "$T/in.jsonl.gz" > "$T/cut.gz"
python3 -c 'import sys; d = bytearray(open(sys.argv[1], "rb").read()); d[len(d) // 3] ^= 0x55; open(sys.argv[2], "wb").write(d)' \
	"$T/in.jsonl.zst" "$T/bad.zst"
{ cat "$T/in.jsonl.gz"; echo 'not gzip'; } > "$T/tail.gz"
check_refused() { # file, expected message part
	set +e; out=$("$KL" ingest --input "$1" --lake "$T/broken" 2>&1); rc=$?; set -e
	[ "$rc" = 1 ] || fail "${1##*/}: exit $rc: $out"
	grep -qF "$2" <<<"$out" || fail "${1##*/}: $out"
	grep -q "run the same command again" <<<"$out" && fail "${1##*/} advises to run again: $out"
	grep -q "the rest of this input cannot be read as it is" <<<"$out" || fail "${1##*/}: no word on the input: $out"
	[ -z "$(find "$T/broken" -type f -path '*/events/*' 2>/dev/null)" ] || fail "${1##*/}: data files stored"
	rm -rf "$T/broken"
}
check_refused "$T/cut.gz" "gzip: the input ends inside its compressed data, after $((size / 2)) bytes: it is truncated, or was still being written"
check_refused "$T/bad.zst" "zstd: the compressed data is damaged near compressed byte"
check_refused "$T/tail.gz" "gzip: the bytes after the end of the compressed data (compressed byte $size on) are not gzip data"
# a zstd frame with a window beyond the decoder's 128 MiB (zstd --long=31): refused, saying how
zstd -q --long=31 -c < "$T/a.jsonl" > "$T/long.zst" # (from a pipe: the window as asked, not shrunk to the size)
set +e; out=$("$KL" ingest --input "$T/long.zst" --lake "$T/broken" 2>&1); rc=$?; set -e
[ "$rc" = 1 ] && grep -qF "zstd: a frame needs a window larger than the 128 MiB decoded here (made with --long?): decompress it first (zstd -dc --long=31 FILE | kinlake ...)" <<<"$out" ||
	fail "zstd --long=31: exit $rc: $out"
grep -q "run the same command again" <<<"$out" && fail "zstd --long=31 advises to run again: $out"
set +e; out=$("$KL" transform < "$T/cut.gz" 2>&1 > /dev/null); rc=$?; set -e
[ "$rc" = 1 ] && grep -q "it is truncated" <<<"$out" || fail "transform of a truncated .gz: exit $rc: $out"
# kill -9 while a compressed pipe is read (small files and budget: commits
# land between the kills; the feed, 16 KiB every 40 ms, lasts 5 s and more, so
# the kills at 1.1-2.9 s land while it flows: at 20 ms a chunk the 2.1 MB of
# the ASan run's 20,000 events took 2.6 s and seed 20135 had run 1 finish
# before its kill at 2.9 s), then the file itself under the same --input-id:
# resumed by decoding up to its resume point, every event once. Three event
# types and a small dedup window, so that the resume point moves off 0 (with
# a hundred partitions one of them holds an early record buffered).
"$KL" gen --events "$N" --types 3 --dup-fraction 0.01 --seed 6 > "$T/c.jsonl"
gzip -c "$T/c.jsonl" > "$T/c.jsonl.gz"
args=(--input-id gzc --lake "$T/crash" --max-file-bytes 256KiB --memory-limit 4MiB --dedup-window 2000)
feed() { python3 -c '
import sys, time
d, o = open(sys.argv[1], "rb").read(), sys.stdout.buffer
try:
    for i in range(0, len(d), 16384):
        o.write(d[i:i + 16384]); o.flush(); time.sleep(0.04)
except BrokenPipeError:
    pass' "$1" 2> /dev/null; }
seed=${KL_CRASH_SEED:-$RANDOM}; RANDOM=$seed; echo "crash seed $seed"
for i in 1 2 3 4; do
	feed "$T/c.jsonl.gz" | "$KL" ingest --input - "${args[@]}" --quiet & pid=$!
	sleep "$((1 + i % 2)).$((RANDOM % 9 + 1))"
	kill -9 "$pid" 2>/dev/null || fail "run $i ended before it was killed"
	wait "$pid" 2>/dev/null || true
done
committed=$(find "$T/crash/events" -type f 2>/dev/null | wc -l)
resume=$(grep -a ' R ' "$T/crash/_kinlake/state/"*.log | tail -n 1 | awk '{ print $3 }')
echo "files committed by the killed runs: $committed; resume point $resume"
[ "$committed" -gt 0 ] && [ "${resume:-0}" -gt 0 ] || fail "nothing to resume from: the resume is not tested"
"$KL" ingest --input "$T/c.jsonl.gz" "${args[@]}" --no-progress 2> "$T/last.err"
cat "$T/last.err"
read=$(sed -n 's/.* read=\([0-9]*\) .*/\1/p' "$T/last.err")
[ -n "$read" ] && [ "$read" -lt "$N" ] || fail "the last run read $read of $N records: it did not resume"
check_lake "$T/c.jsonl" "$T/crash" --format parquet
