# Records that are pretty-printed JSON (a Kinesis producer may send
# JSON.stringify(event, null, 2)): newlines are whitespace between tokens,
# valid JSON, so such an event is stored like any other, in Parquet and in
# JSON lines, through the Lambda event-source path (tests/js/runtime_api.mjs
# esm with a Kinesis event of our own). Before session 19 the enriched line
# kept the newlines, which cut the buffered event in two: a JSON lines file
# got two broken lines, and the Parquet encoder failed the batch. Now a
# JSON line's newlines become spaces (kl_event_write_json), and a Parquet
# buffer's row holds a container minified (kl_event_write_row).
# duration: 6
# duration-asan: 6
. "$(dirname "$0")/_lib.sh"
cd "$ROOT"
command -v node >/dev/null || fail "node not installed"
# two events, the first pretty-printed (CRLF and LF, nested containers), as
# records of one batch; the same events compact, one per line, for check_lake
python3 - "$T" <<'PY'
import base64, json, sys
t = sys.argv[1]
evs = [
    {"event_uuid": "11111111-1111-4111-8111-111111111111", "event_name": "account:created",
     "created_at": 1764547509, "plan": {"tier": "pro", "seats": [1, 2]}, "tags": ["a", "b"]},
    {"event_uuid": "22222222-2222-4222-8222-222222222222", "event_name": "account:created",
     "created_at": 1764547510, "plan": {"tier": "free", "seats": []}, "tags": []},
]
raw = [json.dumps(evs[0], indent=2).replace("\n", "\r\n", 1).encode(), json.dumps(evs[1]).encode()]
assert b"\n" in raw[0]
recs = [{"kinesis": {"kinesisSchemaVersion": "1.0", "partitionKey": "p",
                     "sequenceNumber": "4959033827149025660855969253836157109592157598913%05d" % i,
                     "data": base64.b64encode(r).decode(), "approximateArrivalTimestamp": 1764547511.0},
         "eventSource": "aws:kinesis", "eventVersion": "1.0",
         "eventID": "shardId-000000000000:4959033827149025660855969253836157109592157598913%05d" % i,
         "eventName": "aws:kinesis:record", "invokeIdentityArn": "arn:aws:iam::123456789012:role/r",
         "awsRegion": "us-east-1", "eventSourceARN": "arn:aws:kinesis:us-east-1:123456789012:stream/events"}
        for i, r in enumerate(raw)]
open(f"{t}/event.json", "w").write(json.dumps({"Records": recs}))
open(f"{t}/in.jsonl", "w").write("".join(json.dumps(e, separators=(",", ":")) + "\n" for e in evs))
PY
for fmt in jsonl parquet; do
	node tests/js/runtime_api.mjs esm "$KL" /dev/null "{\"samples\":[\"$T/event.json\"],
		\"env\":{\"KINLAKE_LAKE\":\"$T/lake-$fmt\",\"KINLAKE_FORMAT\":\"$fmt\"}}" > "$T/esm-$fmt.log" 2>&1 ||
		fail "$fmt: the batch failed: $(tail -5 "$T/esm-$fmt.log")"
	[ ! -d "$T/lake-$fmt/errors" ] || fail "$fmt: dead letters: $(find "$T/lake-$fmt/errors" -type f)"
	check_lake "$T/in.jsonl" "$T/lake-$fmt" --format "$fmt" || fail "$fmt: the lake does not hold the events"
done
# the JSON lines file: two lines, each one whole event
zstdcat "$T"/lake-jsonl/events/*/*/*/*/*.jsonl.zst > "$T/lines"
[ "$(wc -l < "$T/lines")" = 2 ] || fail "JSON lines file has $(wc -l < "$T/lines") lines, not 2"
python3 -c 'import json,sys; [json.loads(l) for l in open(sys.argv[1], "rb").read().split(b"\n")[:-1]]' "$T/lines" ||
	fail "a JSON line does not parse"
echo "ok: pretty-printed records stored whole in JSON lines and Parquet"
