# Commit property 1: the same ingest twice leaves data files and dead letters
# byte-identical (no duplicates, no new files) — also when the state is lost.
# duration: 6 (seconds, for the test runner's ordering: a quiet 2-core machine)
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
