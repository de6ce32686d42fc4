# kinlake catalog sync against moto's Glue (a real server on a free port):
# run twice, `aws glue get-tables` shows every table with the registry's
# columns and the partition keys, and the second run changes nothing (no
# new table version). DuckDB then checks Glue's columns and types against
# the lake's Parquet files and the row count of every table (the contract
# Athena relies on). The registry evolves (a new column, a widened one):
# the next sync updates that table only, widening and adding, dropping none.
# The same lake copied to moto's S3 gives the same DDL as its local copy.
# duration: 30 (seconds, for the test runner's ordering: a quiet 2-core machine)
# duration-asan: 30
. "$(dirname "$0")/_lib.sh"
start_moto
export AWS_ENDPOINT_URL_GLUE=http://127.0.0.1:$MOTO
GLUE=(aws --endpoint-url "http://127.0.0.1:$MOTO" glue)

"$KL" gen --events 6000 --types 100 --bad-fraction 0.005 --span 7200 >"$T/ev.jsonl"
"$KL" ingest --input "$T/ev.jsonl" --lake "$T/lake" --quiet --no-progress
# expected rows per table, from kinlake transform (the same validation)
counts() {
	cat "$@" | "$KL" transform 2>"$T/dead.jsonl" | python3 -c '
import json, re, sys
c = {}
for line in sys.stdin:
    t = re.sub(r"[-. ]", "_", json.loads(line)["event_type"].lower())
    c[t] = c.get(t, 0) + 1
c["dead_letters"] = sum(1 for _ in open(sys.argv[1]))
json.dump(c, sys.stdout)' "$T/dead.jsonl"
}
counts "$T/ev.jsonl" >"$T/counts.json"
SYNC=("$KL" catalog sync --lake "$T/lake" --location s3://bkt/lake --database kl)

"${SYNC[@]}" >"$T/sync1.out" 2>"$T/sync1.err" || fail "first sync: $(cat "$T/sync1.err")"
grep -q '^created database kl$' "$T/sync1.out" || fail "database not created: $(cat "$T/sync1.out")"
ntables=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$T/counts.json")
[ "$(grep -c '^created kl\.' "$T/sync1.out")" = "$ntables" ] || fail "created $(grep -c '^created kl\.' "$T/sync1.out") tables, expected $ntables"
"${GLUE[@]}" get-tables --database-name kl >"$T/tables1.json"

check_glue() { # tables.json: columns = registry, partition keys, projection
	python3 - "$1" "$T/lake" <<'PY'
import glob, json, os, re, sys, urllib.parse
def registry(lake, esc):
    """The union schema of a type: its fragments (and a legacy object), widened."""
    files = sorted(glob.glob(f"{lake}/_kinlake/schemas/event_type={glob.escape(esc)}/*.json"))
    if os.path.exists(f"{lake}/_kinlake/schemas/{esc}.json"):
        files.append(f"{lake}/_kinlake/schemas/{esc}.json")
    cols = {}
    for f in files:
        for c in json.load(open(f))["columns"]:
            a, b = cols.get(c["name"]), c["type"]
            cols[c["name"]] = b if a in (None, b) else "double" if {a, b} == {"bigint", "double"} else "string"
    return {k.lower(): v for k, v in cols.items() if k != "event_subtype"}
tables = {t["Name"]: t for t in json.load(open(sys.argv[1]))["TableList"]}
lake = sys.argv[2]
errs = []
for esc in os.listdir(f"{lake}/events"):
    esc = esc.split("=", 1)[1]
    name = re.sub(r"[-. ]", "_", urllib.parse.unquote(esc).lower())
    t = tables.get(name)
    if not t:
        errs.append(f"no table {name}"); continue
    reg = registry(lake, esc)
    glue = [(c["Name"], c["Type"]) for c in t["StorageDescriptor"]["Columns"]]
    if dict(glue) != reg or len(glue) != len(reg):
        errs.append(f"{name}: Glue {glue} != registry {reg}")
    if [(k["Name"], k["Type"]) for k in t["PartitionKeys"]] != [("event_subtype", "string"), ("dt", "string"), ("hr", "string")]:
        errs.append(f"{name}: keys {t['PartitionKeys']}")
    p = t["Parameters"]
    if p.get("projection.enabled") != "true" or p.get("storage.location.template") != f"s3://bkt/lake/events/event_type={esc}/event_subtype=${{event_subtype}}/dt=${{dt}}/hr=${{hr}}/":
        errs.append(f"{name}: projection {p}")
    if t["StorageDescriptor"]["SerdeInfo"]["SerializationLibrary"] != "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe":
        errs.append(f"{name}: serde")
d = tables.get("dead_letters")
if not d or [k["Name"] for k in d["PartitionKeys"]] != ["reason", "dt"]:
    errs.append("dead_letters missing or wrong keys")
if errs:
    print("\n".join(errs[:20])); sys.exit(1)
PY
}
check_glue "$T/tables1.json" || fail "Glue tables differ from the registry"
# the number of versions of every table: one boto3 client for all of them
# (an aws CLI process per table cost ~2 s each, most of this test's time)
versions() { python3 - "$T/tables1.json" "http://127.0.0.1:$MOTO" <<'PY'
import boto3, json, sys
glue = boto3.client("glue", endpoint_url=sys.argv[2])
for t in json.load(open(sys.argv[1]))["TableList"]:
    n = sum(len(p["TableVersions"]) for p in glue.get_paginator("get_table_versions").paginate(DatabaseName="kl", TableName=t["Name"]))
    print(t["Name"], n)
PY
}
versions >"$T/v1"
[ "$(wc -l < "$T/v1")" = "$ntables" ] || fail "versions of $(wc -l < "$T/v1") tables, expected $ntables"

# second run: nothing changes
"${SYNC[@]}" >"$T/sync2.out" 2>"$T/sync2.err" || fail "second sync: $(cat "$T/sync2.err")"
[ ! -s "$T/sync2.out" ] || fail "second sync changed something: $(cat "$T/sync2.out")"
grep -q "0 created, 0 updated, $ntables unchanged" "$T/sync2.err" || fail "second sync: $(cat "$T/sync2.err")"
"${GLUE[@]}" get-tables --database-name kl >"$T/tables2.json"
python3 -c 'import json,sys
a,b=[{t["Name"]:(t["StorageDescriptor"],t["PartitionKeys"],t["Parameters"]) for t in json.load(open(f))["TableList"]} for f in sys.argv[1:]]
sys.exit(a!=b)' "$T/tables1.json" "$T/tables2.json" || fail "the second sync changed a table"
versions >"$T/v2"
cmp -s "$T/v1" "$T/v2" || fail "table versions changed: $(diff "$T/v1" "$T/v2")"

node "$ROOT/tests/js/catalog_check.mjs" "$T/lake" s3://bkt/lake "$T/tables2.json" "$T/counts.json" \
	|| fail "Glue's tables do not match the lake's files"

# the same lake in S3 (moto): listed through the S3 store, the same DDL
export AWS_ENDPOINT_URL_S3=http://127.0.0.1:$MOTO
aws --endpoint-url "http://127.0.0.1:$MOTO" s3 mb s3://bkt >/dev/null
aws --endpoint-url "http://127.0.0.1:$MOTO" s3 sync "$T/lake" s3://bkt/lake --quiet
"$KL" catalog ddl --lake s3://bkt/lake --database kl >"$T/s3.sql" 2>"$T/s3.err" || fail "ddl of an s3:// lake: $(cat "$T/s3.err")"
"$KL" catalog ddl --lake "$T/lake" --location s3://bkt/lake --database kl >"$T/local.sql"
cmp -s "$T/s3.sql" "$T/local.sql" || fail "s3:// lake DDL differs: $(diff "$T/s3.sql" "$T/local.sql" | head -5)"

# the registry evolves: page gets a new column and a bigint column turns double
col=$(python3 -c 'import json,sys
t=[t for t in json.load(open(sys.argv[1]))["TableList"] if t["Name"]=="page"][0]
print([c["Name"] for c in t["StorageDescriptor"]["Columns"] if c["Type"]=="bigint" and c["Name"]!="created_at"][0])' "$T/tables2.json")
printf '{"event_uuid":"evo-1","event_name":"page:viewed","created_at":1764547300,"zz_added":"new","%s":1.5}\n' "$col" >"$T/evo.jsonl"
"$KL" ingest --input "$T/evo.jsonl" --lake "$T/lake" --quiet --no-progress
counts "$T/ev.jsonl" "$T/evo.jsonl" >"$T/counts.json"
"${SYNC[@]}" >"$T/sync3.out" 2>"$T/sync3.err" || fail "third sync: $(cat "$T/sync3.err")"
[ "$(cat "$T/sync3.out")" = "updated kl.page" ] || fail "third sync: $(cat "$T/sync3.out")"
"${GLUE[@]}" get-tables --database-name kl >"$T/tables3.json"
python3 - "$T/tables2.json" "$T/tables3.json" "$col" <<'PY' || fail "evolution: columns not widened/added, or dropped"
import json, sys
old, new = [{c["Name"]: c["Type"] for c in [t for t in json.load(open(f))["TableList"] if t["Name"] == "page"][0]["StorageDescriptor"]["Columns"]} for f in sys.argv[1:3]]
col = sys.argv[3]
assert new.get("zz_added") == "string", new
assert new[col] == "double", (col, new[col])
assert all(k in new for k in old), [k for k in old if k not in new]
assert list(new)[:len(old)] == list(old), "column order changed"
PY
check_glue "$T/tables3.json" || fail "Glue tables differ from the registry after evolution"
node "$ROOT/tests/js/catalog_check.mjs" "$T/lake" s3://bkt/lake "$T/tables3.json" "$T/counts.json" \
	|| fail "after evolution: Glue's tables do not match the lake's files"
echo "catalog sync ok"
