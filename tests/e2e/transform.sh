# kinlake transform: stdin -> stdout enriched, dead letters to stderr or --errors.
# duration: 1 (seconds, for the test runner's ordering: a quiet 2-core machine)
. "$(dirname "$0")/_lib.sh"
printf '%s\n' '{"event_uuid":"a","event_name":"x:y:z","created_at":1764547200.25,"p":[1, 2]}' \
	'not json' '{"event_uuid":"b","event_name":"solo","created_at":0}' > "$T/in"
"$KL" transform < "$T/in" > "$T/out" 2> "$T/err"
want='{"event_uuid":"a","event_name":"x:y:z","created_at":1764547200.25,"p":[1, 2],"created_datetime":"2025-12-01T00:00:00.250Z","event_type":"x","event_subtype":"y"}
{"event_uuid":"b","event_name":"solo","created_at":0,"created_datetime":"1970-01-01T00:00:00Z","event_type":"solo","event_subtype":null}'
[ "$(cat "$T/out")" = "$want" ] || fail "stdout: $(cat "$T/out")"
grep -q '"error":"invalid_json"' "$T/err" || fail "stderr: $(cat "$T/err")"
grep -q "\"raw_base64\":\"$(printf 'not json' | base64)\"" "$T/err" || fail "raw bytes not kept"
"$KL" transform --errors "$T/dl" < "$T/in" > /dev/null 2> "$T/err2"
[ ! -s "$T/err2" ] || fail "stderr not empty with --errors"
[ "$(wc -l < "$T/dl")" = 1 ] || fail "--errors file"
# large streams agree with ingest's enrichment (same core)
"$KL" gen --events 5000 --seed 9 | "$KL" transform | node -e '
let n=0; require("readline").createInterface({input:process.stdin}).on("line",l=>{const o=JSON.parse(l);
if(!o.created_datetime||o.event_type!==o.event_name.split(":")[0])process.exit(1);n++}).on("close",()=>{if(n!==5000)process.exit(1)})'
