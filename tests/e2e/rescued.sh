# Column cap (--max-columns): an event type whose keys come from data (an id
# or a date as a key) would grow a column per distinct key. Past the cap a
# file keeps such members as a JSON object in its last column, _rescued_data:
# every event is still whole (check_lake merges the object back and fails on a
# member that is both a column and rescued, or missing), no file has more
# columns than the cap, a type that fits has no such column, the lake is the
# same for --threads 1 and 2, and the three Parquet readers agree. Keys no
# column can have (empty, with a NUL byte) go there too: one such event
# failed its whole file, and so the run ("parquet: column 6 has no name").
# duration: 6 (seconds, for the test runner's ordering: a quiet 2-core machine)
# duration-asan: 10
. "$(dirname "$0")/_lib.sh"
N=${KL_ASAN:+1500}; N=${N:-4000}
# wide:thing: stable a (int), b (string), c (object with whitespace), then three
# keys made from the event's number (int, escaped string, array); every 50th
# event also has a member named _rescued_data, every 70th an escaped key.
# narrow:x: three stable keys, never over the cap.
python3 - "$N" > "$T/in.jsonl" <<'EOF'
import json, sys
n = int(sys.argv[1])
for i in range(n):
    t = 1700000000 + i * 5
    u = '%08x-0000-4000-8000-%012x' % (i, i)
    if i % 4 == 3:
        print(json.dumps({'event_uuid': u, 'event_name': 'narrow:x', 'created_at': t,
                          'p': i, 'q': 'v%d' % i, 'r': i / 4}))
        continue
    if i % 100 == 1: # keys no column can have: one such event failed its whole file
        print('{"event_uuid":"%s","event_name":"odd:keys","created_at":%d,"":%d,"a\\u0000b":"nul","a":1}' % (u, t, i))
        continue
    e = '{"event_uuid":"%s","event_name":"wide:thing","created_at":%d,"a":%d,"b":"s%d","c":{ "x" : [1, 2] }' % (u, t, i, i)
    e += ',"k%d_0":%d,"k%d_1":"line\\nbreak \\"%d\\"","k%d_2":[%d, {"z": null}]' % (i, i, i, i, i, i)
    if i % 50 == 0:
        e += ',"_rescued_data":{"mine":%d}' % i
    if i % 70 == 0:
        e += ',"esc\\u005fkey%d":true' % i
    print(e + '}')
EOF
"$KL" ingest --input "$T/in.jsonl" --lake "$T/lake" --max-columns 12 --threads 2 \
	--metrics-file "$T/m.prom" 2> "$T/sum"; cat "$T/sum"
check_lake "$T/in.jsonl" "$T/lake" --format parquet
# every wide event (3 of 4) has a field past the cap, every odd one a key no
# column can have: said at the end and counted
wide=$((N - N / 4))
grep -q "^kinlake ingest: $wide events had fields without a column of their own (past --max-columns 12," "$T/sum" ||
	fail "no summary of the $wide rescued events"
grep -q "^kinlake_events_rescued_total $wide\$" "$T/m.prom" ||
	fail "kinlake_events_rescued_total: $(grep rescued "$T/m.prom")"
# columns per file: at most the cap; _rescued_data last in wide's, absent in narrow's
cols() { # LAKE CAP: checks every file, prints "files wide_files_with_rescue rows"
	node --input-type=module - "$1" "$2" <<'EOF'
import { DuckDBInstance } from '@duckdb/node-api';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
const [lake, cap] = [process.argv[2], Number(process.argv[3])];
const files = [];
(function walk(d) { for (const e of readdirSync(d)) { const p = join(d, e); if (statSync(p).isDirectory()) walk(p); else if (p.endsWith('.parquet')) files.push(p); } })(join(lake, 'events'));
const con = await (await DuckDBInstance.create(':memory:')).connect();
let rescued = 0, rows = 0, errs = [];
for (const f of files) {
	rows += Number((await con.runAndReadAll('SELECT num_rows FROM parquet_file_metadata($1)', [f])).getRows()[0][0]);
	const s = (await con.runAndReadAll('SELECT name FROM parquet_schema($1)', [f])).getRows().slice(1).map((r) => r[0]);
	if (s.length > cap) errs.push(`${f}: ${s.length} columns, cap ${cap}`);
	const wide = f.includes('event_type=wide') || f.includes('event_type=odd');
	const at = s.indexOf('_rescued_data');
	if (wide && at !== s.length - 1) errs.push(`${f}: _rescued_data at ${at} of ${s.length}`);
	if (!wide && at >= 0) errs.push(`${f}: a type under the cap has _rescued_data`);
	if (wide) rescued++;
}
if (errs.length) { console.error(errs.slice(0, 5).join('\n')); process.exit(1); }
console.log(files.length, rescued, rows);
EOF
}
read -r nf nw _ < <(cols "$T/lake" 12)
[ "$nw" -gt 0 ] && [ "$nf" -gt "$nw" ] || fail "expected wide files with _rescued_data and narrow ones without: $nf files, $nw wide"
# the same lake whatever --threads
"$KL" ingest --input "$T/in.jsonl" --lake "$T/lake1" --max-columns 12 --threads 1 --quiet
[ "$(lake_digest "$T/lake")" = "$(lake_digest "$T/lake1")" ] || fail "--threads 1 and 2 made different lakes"
[ -n "${KL_ASAN:-}" ] || node "$ROOT/tests/js/lake_readers.mjs" "$T/lake"
# the same events through the Lambda of a Kinesis event source mapping (the
# Runtime API of tests/js/runtime_api.mjs): a batch with such a key failed as a
# whole, so the shard would have been retried on it for ever. Every batch must
# answer no failures; the lake must hold every event whole.
head -n 600 "$T/in.jsonl" > "$T/esm.jsonl"
node "$ROOT/tests/js/runtime_api.mjs" esm "$KL" "$T/esm.jsonl" "{\"batch\":150,
	\"env\":{\"KINLAKE_LAKE\":\"$T/esm\",\"KINLAKE_FORMAT\":\"parquet\",\"KINLAKE_MAX_COLUMNS\":\"12\"}}" ||
	fail "the Lambda did not take the batches"
check_lake "$T/esm.jsonl" "$T/esm" --format parquet
read -r nf nw _ < <(cols "$T/esm" 12)
[ "$nw" -gt 0 ] || fail "the Lambda's lake has no file with _rescued_data"
# the registry lists the rescue column for wide (the catalog's tables follow it)
"$(dirname "$KL")/tests/test_schema_registry" --load "$T/lake" wide | grepq '_rescued_data' ||
	fail "the schema registry has no _rescued_data for wide"
# the default cap (1000): 2400 events of 5 keys each made from data over 7 hours, by the
# variable; before the cap each file had ~1800 columns
python3 -c '
import json
for i in range(2400):
    e = {"event_uuid": "%08x-1111-4000-8000-000000000000" % i, "event_name": "wide:many", "created_at": 1700000000 + i * 10}
    for k in range(5): e["f%d_%d" % (i, k)] = i * k
    print(json.dumps(e))' > "$T/many.jsonl"
KINLAKE_MAX_COLUMNS=1000 "$KL" ingest --input "$T/many.jsonl" --lake "$T/many" --quiet
"$KL" ingest --input "$T/many.jsonl" --lake "$T/many-default" --quiet
[ "$(lake_digest "$T/many")" = "$(lake_digest "$T/many-default")" ] || fail "the default cap is not 1000"
# (every event whole is check_lake's above at cap 12; on files of 1000 columns
# it takes DuckDB ~20 s, so here the rows are counted)
read -r nf nw rows < <(cols "$T/many" 1000)
[ "$nf" -ge 7 ] && [ "$nw" = "$nf" ] && [ "$rows" = 2400 ] ||
	fail "wide:many: $nf files, $nw with _rescued_data, $rows rows"
# the table: keys made from data differ from file to file, so the type's union
# outgrows the cap; the DDL keeps the first columns and _rescued_data, reports
# the rest in one line and exits 1 (as for other names left out)
rc=0; "$KL" catalog ddl --lake "$T/many" > "$T/many.sql" 2> "$T/many.err" || rc=$?
[ "$rc" = 1 ] || fail "catalog over the cap: exit $rc"
grep -q 'past --max-columns 1000, with [0-9]* more after it: left out of the table' "$T/many.err" ||
	fail "catalog over the cap: $(cat "$T/many.err")"
n=$(sed -n '/`kinlake`.`wide`/,/^)/p' "$T/many.sql" | grep -c '^  `') || true
[ "$n" = 1000 ] || fail "table wide has $n columns, want 1000"
sed -n '/`kinlake`.`wide`/,/^)/p' "$T/many.sql" | grepq '^  `_rescued_data` string' ||
	fail "table wide has no _rescued_data"
# under the cap: exit 0, _rescued_data in wide's table
"$KL" catalog ddl --lake "$T/lake" > "$T/lake.sql"
grep -q '^  `_rescued_data` string' "$T/lake.sql" || fail "table wide of the capped lake has no _rescued_data"
# a bad cap is one precise message and exit 2, as a flag and as a variable
rc=0; "$KL" ingest --input "$T/in.jsonl" --lake "$T/bad" --max-columns 7 2> "$T/err" || rc=$?
[ "$rc" = 2 ] && grep -q -- '--max-columns' "$T/err" || fail "--max-columns 7: exit $rc: $(cat "$T/err")"
rc=0; KINLAKE_MAX_COLUMNS=lots "$KL" ingest --input "$T/in.jsonl" --lake "$T/bad" 2> "$T/err" || rc=$?
[ "$rc" = 2 ] && grep -q 'KINLAKE_MAX_COLUMNS' "$T/err" || fail "KINLAKE_MAX_COLUMNS=lots: exit $rc: $(cat "$T/err")"
[ ! -e "$T/bad/events" ] || fail "a rejected setting wrote data"
echo "rescued: ok"
