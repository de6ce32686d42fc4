# Each rejection class lands in errors/<reason>/ with its raw bytes.
# duration: 1 (seconds, for the test runner's ordering: a quiet 2-core machine)
. "$(dirname "$0")/_lib.sh"
{
	printf '%s\n' '{"event_uuid":"u1","event_name":"a","created_at":1' # invalid_json
	printf '{"event_uuid":"u2","event_name":"a\xff","created_at":1}\n'  # invalid_utf8
	printf '{"event_uuid":"u3","event_name":"a","created_at":1,"x":%s%s}\n' "$(printf '[%.0s' {1..70})" "$(printf ']%.0s' {1..70})"
	printf '%s\n' '[1,2]'                                                # not_object
	printf '%s\n' '{"event_uuid":"u5","event_name":"a","event_name":"b","created_at":1}' # duplicate_key
	printf '%s\n' '{"event_name":"a","created_at":1}'                    # missing_field
	printf '%s\n' '{"event_uuid":"","event_name":"a","created_at":1}'    # invalid_field
	printf '%s\n' '{"event_uuid":"u8","event_name":"a","created_at":-5}' # invalid_created_at
	printf '{"event_uuid":"u9","event_name":"a","created_at":1,"big":"%s"}\n' "$(head -c 3000 /dev/zero | tr '\0' x)" # too_large
	printf '%s\n' '{"event_uuid":"ok","event_name":"a:b","created_at":1}'
	# an event type of 81 bytes (243 escaped): invalid_field, not a failed run
	printf '{"event_uuid":"u10","event_name":"%s:b","created_at":1}\n' "$(head -c 81 /dev/zero | tr '\0' /)"
} > "$T/in.jsonl"
"$KL" ingest --input "$T/in.jsonl" --lake "$T/lake" --max-record-bytes 2KiB --compression none 2> "$T/sum"
cat "$T/sum"
for r in invalid_json invalid_utf8 too_deep not_object duplicate_key missing_field invalid_field invalid_created_at too_large; do
	f=$(ls "$T/lake/errors/$r"/dt=*/*.jsonl 2>/dev/null | sed -n 1p)
	[ -n "$f" ] || fail "no dead letter for $r"
	node -e '
const fs=require("fs"); const [f, r, input]=process.argv.slice(1);
const d=JSON.parse(fs.readFileSync(f,"utf8").trim().split("\n")[0]);
const lines=fs.readFileSync(input).toString("latin1").split("\n");
const raw=Buffer.from(d.raw_base64,"base64").toString("latin1");
if(d.error!==r||!lines.includes(raw)||!d.message||typeof d.position!=="number") { console.error(d); process.exit(1); }' "$f" "$r" "$T/in.jsonl" || fail "dead letter for $r"
done
grep -q 'dead_letters=10' "$T/sum" || fail "summary dead letter count"
grep -q 'stored=1 ' "$T/sum" || fail "summary stored count"
[ "$(ls "$T/lake/errors/invalid_field"/dt=*/*.jsonl | wc -l)" -ge 1 ] || fail "no invalid_field file"
zcat -f "$T/lake/errors/invalid_field"/dt=*/*.jsonl | grepq 'event type is 81 bytes' || fail "long event type not a dead letter"
