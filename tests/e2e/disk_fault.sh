# A local lake whose writes fail mid-run (the file-size limit, RLIMIT_FSIZE:
# write() returns EFBIG once a file would pass it): kinlake stops with one
# clear error and exit 1, keeps what it made durable, and the same command
# run again completes the lake byte-identical to a run that never failed
# (exactly once, no temp file left). Two limits: one that only the state
# log outgrows (its append fails on the kl-sync thread, after a batch's
# files are durable: writer.h "split syncs"), one that a data file outgrows
# while earlier batches are committed. Each with --threads 1 and 2.
# duration: 25 (seconds, for the test runner's ordering: a quiet 2-core machine)
# duration-asan: 30 (there: --threads 2 only, where the encoder threads and kl-sync run)
. "$(dirname "$0")/_lib.sh"
# case 1: small files (--max-file-bytes 100KiB), a limit above every data
# file that the state log outgrows near the end
"$KL" gen --events 30000 --span 7200 --bad-fraction 0.01 --seed 5 > "$T/in1.jsonl"
# case 2: an hour of small files (95 event types), then an hour of 5 types
# in large files that pass the limit; --window auto commits the first
# hour's files once the second hour's events move the watermark past it
{ "$KL" gen --events 8000 --bad-fraction 0.01 --seed 6
  "$KL" gen --events 30000 --types 5 --start 1764550800 --seed 7; } > "$T/in2.jsonl"

# clean CASE INPUT ARGS...: a lake that never failed, its digest and sizes
clean() {
	local c=$1 in=$2; shift 2
	"$KL" ingest --input "$in" --quiet "$@" --lake "$T/clean$c"
	lake_digest "$T/clean$c" > "$T/d.clean$c"
	[ "$(wc -l < "$T/d.clean$c")" -gt 100 ] || fail "case $c: expected many files, got $(wc -l < "$T/d.clean$c")"
	check_lake "$in" "$T/clean$c" --format parquet > /dev/null
}
# sizes LAKE DIR...: file sizes in bytes under LAKE's DIRs, ascending
sizes() { local l=$1; shift; (cd "$l" && find "$@" -type f -printf '%s\n') | sort -n; }

clean 1 "$T/in1.jsonl" --max-file-bytes 100KiB
biggest=$(sizes "$T/clean1" events errors | tail -1)
state=$(sizes "$T/clean1" _kinlake/state | tail -1)
limit1=$((biggest / 1024 + 1))
[ "$state" -gt $((limit1 * 1024 + 1024)) ] ||
	fail "case 1: the state log ($state B) is not larger than every data file ($biggest B): it proves nothing"

clean 2 "$T/in2.jsonl"
hour0=$(cd "$T/clean2" && find events -path '*hr=00*' -type f -printf '%s\n' | sort -n | tail -1)
hour1=$(cd "$T/clean2" && find events -path '*hr=01*' -type f -printf '%s\n' | sort -n | tail -1)
limit2=$(((hour0 + hour1) / 2 / 1024))
[ $((limit2 * 1024)) -gt "$hour0" ] && [ $((limit2 * 1024)) -lt "$hour1" ] ||
	fail "case 2: no limit between the first hour's files ($hour0 B) and the second's ($hour1 B)"
[ "$(sizes "$T/clean2" _kinlake/state | tail -1)" -lt $((limit2 * 1024)) ] ||
	fail "case 2: the state log outgrows the limit too: it would not be a data file's failure"

runs=(1 2)
[ -z "${KL_ASAN:-}" ] || runs=(2)
for threads in "${runs[@]}"; do
	for c in 1 2; do
		if [ $c = 1 ]; then kb=$limit1 in=$T/in1.jsonl extra=(--max-file-bytes 100KiB)
		else kb=$limit2 in=$T/in2.jsonl extra=(); fi
		files=$(wc -l < "$T/d.clean$c")
		lake=$T/lake-$threads-$c
		# an ignored SIGXFSZ stays ignored across exec: write() gets EFBIG
		rc=0
		(trap '' XFSZ; ulimit -f "$kb"; exec "$KL" ingest --input "$in" --quiet "${extra[@]}" \
			--threads "$threads" --lake "$lake") 2> "$T/err" || rc=$?
		what="case $c, threads $threads, limit $kb KiB"
		[ "$rc" = 1 ] || fail "$what: exit $rc, expected 1: $(tail -2 "$T/err")"
		grep -q "File too large" "$T/err" || fail "$what: no clear error: $(cat "$T/err")"
		grep -q "run the same command again" "$T/err" || fail "$what: no hint to resume: $(cat "$T/err")"
		made=$(find "$lake/events" -name '*.parquet' 2>/dev/null | wc -l)
		[ "$made" -gt 0 ] && [ "$made" -lt "$files" ] ||
			fail "$what: $made of $files files before the failure: not a mid-run failure"
		"$KL" ingest --input "$in" --quiet "${extra[@]}" --threads "$threads" --lake "$lake" 2> "$T/err2" ||
			fail "$what: the second run failed: $(tail -2 "$T/err2")"
		lake_digest "$lake" > "$T/d"
		cmp -s "$T/d.clean$c" "$T/d" ||
			fail "$what: the resumed lake differs from the clean one: $(diff "$T/d.clean$c" "$T/d" | head -5)"
		[ -z "$(find "$lake" -name '.*tmp*')" ] || fail "$what: temp files left: $(find "$lake" -name '.*tmp*' | head -3)"
		echo "$what: $made of $files files before the failure; resumed byte-identical"
	done
done
echo ok
