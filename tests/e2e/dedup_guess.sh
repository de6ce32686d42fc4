# The dedup window is asked for a record's index line before the record is
# parsed, with a guess at its event_uuid (kl_event_peek_uuid, a cache hint):
# a wrong or missing guess must never change a decision. Records whose first
# "event_uuid" is a nested one, escaped, spaced, or past the bytes the guess
# looks at: the same events kept and dropped with --threads 1 (the serial
# path, which guesses) and 2 (prep workers, which do not).
# duration: 1 (seconds, for the test runner's ordering: a quiet 2-core machine)
. "$(dirname "$0")/_lib.sh"
pad=$(head -c 300 /dev/zero | tr '\0' x)
{
	printf '%s\n' '{"event_uuid":"X","event_name":"a:b","created_at":1}'                          # kept
	printf '%s\n' '{"meta":{"event_uuid":"X"},"event_uuid":"A","event_name":"a:b","created_at":2}' # kept: guessed X
	printf '%s\n' '{"meta":{"event_uuid":"N"},"event_uuid":"X","event_name":"a:b","created_at":3}' # dup of 1: guessed N
	printf '%s\n' '{ "event_uuid" : "A" ,"event_name":"a:b","created_at":4}'                      # dup of 2
	printf '%s\n' '{"event_uuid":"B\u0041","event_name":"a:b","created_at":5}'                   # kept: "BA"
	printf '%s\n' '{"event_uuid":"BA","event_name":"a:b","created_at":6}'                         # dup of 5
	printf '{"pad":"%s","event_uuid":"A","event_name":"a:b","created_at":7}\n' "$pad"             # dup of 2
	printf '%s\n' '{"x":"\"event_uuid\":\"Q\"","event_uuid":"Q2","event_name":"a:b","created_at":8}' # kept
	printf '%s\n' '{"event_uuid":"Q","event_name":"a:b","created_at":9}'                          # kept
} > "$T/in.jsonl"
for th in 1 2; do
	"$KL" ingest --input "$T/in.jsonl" --lake "$T/lake$th" --threads "$th" --format jsonl \
		--compression none 2> "$T/sum$th" || fail "ingest --threads $th: $(cat "$T/sum$th")"
	grep -q ' stored=5 dead_letters=0 duplicates=4 ' "$T/sum$th" ||
		fail "--threads $th: $(tail -1 "$T/sum$th")"
	got=$(cat "$T/lake$th"/events/*/*/*/*/*.jsonl | node -e '
const lines = require("fs").readFileSync(0, "utf8").trim().split("\n");
console.log(lines.map(l => JSON.parse(l).created_at).sort((a, b) => a - b).join(","))')
	[ "$got" = "1,2,5,8,9" ] || fail "--threads $th kept created_at $got, not 1,2,5,8,9"
done
