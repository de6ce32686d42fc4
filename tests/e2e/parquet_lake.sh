# Parquet is the default format: gen -> ingest -> every event checked through
# DuckDB against the input, every file read by hyparquet and parquet-wasm too,
# for every codec; the schema registry records the per-type union.
# duration: 50 (seconds, for the test runner's ordering: a quiet 2-core machine)
# duration-asan: 25
. "$(dirname "$0")/_lib.sh"
N=${KL_ASAN:+4000}; N=${N:-12000}
"$KL" gen --events "$N" --bad-fraction 0.01 --dup-fraction 0.01 --seed 21 --span 7200 > "$T/in.jsonl"
"$KL" ingest --input "$T/in.jsonl" --lake "$T/lake" 2> "$T/sum"; cat "$T/sum"
ls "$T/lake/events"/*/*/*/*/*.parquet > /dev/null || fail "default format is not parquet"
check_lake "$T/in.jsonl" "$T/lake" --format parquet
node "$ROOT/tests/js/lake_readers.mjs" "$T/lake"
# the other codecs and the second reader pass: once, not again under the sanitizers
# (parquet_readers.sh covers the writer's codecs under ASan)
codecs="snappy gzip none"; [ -n "${KL_ASAN:-}" ] && codecs=""
for c in $codecs; do
	"$KL" ingest --input "$T/in.jsonl" --lake "$T/lake-$c" --compression "$c" --quiet
	check_lake "$T/in.jsonl" "$T/lake-$c" --format parquet > /dev/null
done
[ -n "${KL_ASAN:-}" ] || node "$ROOT/tests/js/lake_readers.mjs" "$T/lake-snappy"
# small row groups: several per file, still exact
"$KL" ingest --input "$T/in.jsonl" --lake "$T/lake-rg" --row-group-bytes 64KiB --quiet
check_lake "$T/in.jsonl" "$T/lake-rg" --format parquet > /dev/null
# schema registry: fragments per event type, common columns first, typed payload
[ -d "$T/lake/_kinlake/schemas/event_type=payment" ] || fail "no schema registry entry for payment"
"$(dirname "$KL")/tests/test_schema_registry" --load "$T/lake" payment > "$T/payment.schema"
node "$ROOT/tests/js/schema_registry.mjs" "$T/lake" payment > "$T/payment.names"
node -e '
const fs = require("fs");
const r = JSON.parse(fs.readFileSync(process.argv[1], "utf8"));
const names = r.columns.map(c => c.name);
const want = ["event_uuid","event_name","created_at","created_datetime","event_type","event_subtype"];
if (JSON.stringify(names.slice(0, 6)) !== JSON.stringify(want)) throw new Error("common columns: " + names);
if (!r.columns.some(c => c.type === "bigint") || !r.columns.some(c => c.type === "double")) throw new Error("no typed payload columns");
const indep = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
if (JSON.stringify([...names].sort()) !== JSON.stringify([...indep].sort())) throw new Error("readers differ");
' "$T/payment.schema" "$T/payment.names"
# typed columns are queryable: a numeric payload field is DOUBLE or BIGINT in DuckDB
node -e '
const { DuckDBInstance } = await import("@duckdb/node-api");
const c = await (await DuckDBInstance.create(":memory:")).connect();
const r = await c.runAndReadAll(`SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM read_parquet("${process.argv[1]}/events/event_type=payment/**/*.parquet", union_by_name=true))`);
const t = Object.fromEntries(r.getRows());
if (t.created_at !== "BIGINT" && t.created_at !== "DOUBLE") throw new Error("created_at " + t.created_at);
if (!Object.values(t).includes("DOUBLE") || !Object.values(t).includes("BIGINT") || !Object.values(t).includes("BOOLEAN")) throw new Error(JSON.stringify(t));
' --input-type=module "$T/lake"
# edge values through the whole pipeline: int64 limits, beyond int64 (-> DOUBLE),
# -0.0, 1e308, 5e-324, unicode and escapes, empty strings, nested JSON, a field
# whose type conflicts across events (-> STRING with JSON text), all-null field
cat > "$T/edge.jsonl" <<'JSON'
{"event_uuid":"e1","event_name":"edge:case","created_at":1764547200,"i":9223372036854775807,"j":-9223372036854775808,"big":99999999999999999999,"d":-0.0,"h":1e308,"t":5e-324,"s":"caf\u00e9 😀 \"q\" \\ \n","e":"","n":{"a":[1, {"b":null}]},"mix":1,"nul":null}
{"event_uuid":"e2","event_name":"edge:case","created_at":1764547201.5,"i":-1,"j":0,"big":1,"d":0.5,"h":-1e-300,"t":0,"s":"日本","e":"x","n":[],"mix":"one","nul":null}
{"event_uuid":"e3","event_name":"edge:case","created_at":1764547202,"mix":true}
JSON
"$KL" ingest --input "$T/edge.jsonl" --lake "$T/lake-edge" --quiet
check_lake "$T/edge.jsonl" "$T/lake-edge" --format parquet
node "$ROOT/tests/js/lake_readers.mjs" "$T/lake-edge"
