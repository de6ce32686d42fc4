# gen -> ingest -> DuckDB reads the lake: every event's fields and partition path,
# every dead letter's raw bytes and reason, duplicates dropped (check_lake.mjs).
# duration: 18 (seconds, for the test runner's ordering: a quiet 2-core machine)
. "$(dirname "$0")/_lib.sh"
N=${KL_ASAN:+15000}; N=${N:-40000}
"$KL" gen --events "$N" --bad-fraction 0.02 --dup-fraction 0.01 --seed 11 --span 10800 > "$T/in.jsonl"
"$KL" ingest --input "$T/in.jsonl" --lake "$T/lake" --format jsonl 2> "$T/summary"
cat "$T/summary"
grep -q "read=$N " "$T/summary" || fail "summary does not count $N records"
check_lake "$T/in.jsonl" "$T/lake"
# every compression reads back the same
for c in gzip none; do
	"$KL" ingest --input "$T/in.jsonl" --lake "$T/lake-$c" --compression "$c" --format jsonl --quiet
	check_lake "$T/in.jsonl" "$T/lake-$c"
done
ls "$T/lake-gzip/events"/*/*/*/*/*.jsonl.gz >/dev/null
ls "$T/lake-none/events"/*/*/*/*/*.jsonl >/dev/null
# stdin works too, with the same result
"$KL" ingest --input - --lake "$T/lake-stdin" --format jsonl --quiet < "$T/in.jsonl"
check_lake "$T/in.jsonl" "$T/lake-stdin"
# hive escaping: the generator's "web hook:re/try" lands in an escaped directory
ls -d "$T/lake/events/event_type=web%20hook/event_subtype=re%2Ftry" >/dev/null || fail "escaped partition missing"
