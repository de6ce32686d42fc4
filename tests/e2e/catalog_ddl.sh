# kinlake catalog ddl: the Athena DDL for a generated lake of 100 event types
# is parsed statement by statement (sqlglot, Hive dialect) and checked
# against the lake: one table per event type with every registry column and
# its type, the partition keys (event_subtype, dt, hr), the Parquet SerDe,
# LOCATION at the type's (Hive-escaped) prefix, and partition projection
# covering every partition directory of the lake (so no MSCK REPAIR); plus
# the dead_letters table. A second lake with odd names: reserved words and
# spaces quoted, a Hive-escaped type, and the names Athena cannot hold
# reported (exit 1) instead of renamed. JSON lines lake: JSON SerDe.
# duration: 16 (seconds, for the test runner's ordering: a quiet 2-core machine)
. "$(dirname "$0")/_lib.sh"
PY=python3
/usr/bin/python3 -c 'import sqlglot' 2>/dev/null && PY=/usr/bin/python3
$PY -c 'import sqlglot' 2>/dev/null || fail "python3-sqlglot missing (scripts/deps.sh installs it)"

# gen's 100 event names share 60 event types: give each name its own type
# ("a:b:c" -> type "a.b.c", subtype "c"; '.' is '_' in table names)
"$KL" gen --events 30000 --types 100 --bad-fraction 0.002 --span 90000 | python3 -c '
import json, sys
for line in sys.stdin:
    try:
        e = json.loads(line)
        p = e["event_name"].split(":")
        e["event_name"] = ".".join(p).replace("/", "-") + (":" + p[-1] if len(p) > 1 else "")
        line = json.dumps(e, separators=(",", ":")) + "\n"
    except Exception:
        pass
    sys.stdout.write(line)' >"$T/ev.jsonl"
"$KL" ingest --input "$T/ev.jsonl" --lake "$T/lake" --quiet --no-progress
"$KL" catalog ddl --lake "$T/lake" --location s3://bkt/lake/ --database analytics >"$T/ddl.sql" \
	|| fail "catalog ddl failed"

cat >"$T/check.py" <<'PY'
import glob, json, os, re, sys, urllib.parse
import sqlglot
from sqlglot import exp

ddl_path, lake, loc, fmt = sys.argv[1:5]
stmts = [s for s in sqlglot.parse(open(ddl_path).read(), read="hive") if s is not None]
errs = []
tables = {}
for s in stmts[1:]:
    assert isinstance(s, exp.Create), s.sql()[:80]
    schema = s.this
    name = schema.this.this.name
    db = schema.this.args["db"].name
    if db != "analytics":
        errs.append(f"{name}: database {db}")
    cols = [(c.this.name, c.args["kind"].sql("hive").lower()) for c in schema.expressions]
    t = {"cols": cols, "props": {}}
    for p in s.args["properties"].expressions:
        if isinstance(p, exp.PartitionedByProperty):
            t["parts"] = [(c.this.name, c.args["kind"].sql("hive").lower()) for c in p.this.expressions]
        elif isinstance(p, exp.LocationProperty):
            t["location"] = p.this.name
        elif isinstance(p, exp.RowFormatSerdeProperty):
            t["serde"] = p.this.name
        elif isinstance(p, exp.FileFormatProperty):
            t["stored"] = p.this.name
        elif isinstance(p, exp.Property):
            t["props"][p.this.name] = p.args["value"].name
    tables[name] = t

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
def table_name(t):
    return re.sub(r"[-. ]", "_", t.lower())

types = sorted(d.split("=", 1)[1] for d in os.listdir(f"{lake}/events"))
if len(types) != 100:
    errs.append(f"only {len(types)} event types in the lake")
for esc in types:
    raw = urllib.parse.unquote(esc)
    name = table_name(raw)
    t = tables.get(name)
    if not t:
        errs.append(f"no table {name} for event type {raw}")
        continue
    if t["location"] != f"{loc}/events/event_type={esc}/":
        errs.append(f"{name}: location {t['location']}")
    if t["parts"] != [("event_subtype", "string"), ("dt", "string"), ("hr", "string")]:
        errs.append(f"{name}: partition keys {t['parts']}")
    want_serde = ("org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe" if fmt == "parquet"
                  else "org.openx.data.jsonserde.JsonSerDe")
    if t["serde"] != want_serde or t["stored"] != ("PARQUET" if fmt == "parquet" else "TEXTFILE"):
        errs.append(f"{name}: serde {t['serde']} {t['stored']}")
    if fmt == "parquet":
        want = registry(lake, esc)
        if dict(t["cols"]) != want or len(t["cols"]) != len(want):
            errs.append(f"{name}: columns {t['cols']} != registry {want}")
    p = t["props"]
    if p.get("projection.enabled") != "true":
        errs.append(f"{name}: projection off")
    # every partition directory of the lake is one the projection generates
    subs = p["projection.event_subtype.values"].split(",")
    start = p["projection.dt.range"].split(",")[0]
    if p["projection.dt.range"].split(",")[1] != "NOW" or p["projection.dt.format"] != "yyyy-MM-dd":
        errs.append(f"{name}: dt projection {p}")
    if p["projection.hr.range"] != "0,23" or p["projection.hr.digits"] != "2":
        errs.append(f"{name}: hr projection")
    tmpl = p["storage.location.template"]
    for d in glob.glob(f"{lake}/events/event_type={glob.escape(esc)}/*/*/*/"):
        sub, dt, hr = [x.split("=", 1)[1] for x in d.rstrip("/").split("/")[-3:]]
        if sub not in subs or dt < start or not (len(hr) == 2 and 0 <= int(hr) <= 23):
            errs.append(f"{name}: partition {d} outside the projection")
        path = tmpl.replace("${event_subtype}", sub).replace("${dt}", dt).replace("${hr}", hr)
        if path != loc + d[len(lake):]:
            errs.append(f"{name}: template gives {path} for {d}")
extra = set(tables) - {table_name(urllib.parse.unquote(e)) for e in types} - {"dead_letters"}
if extra:
    errs.append(f"tables without an event type: {sorted(extra)}")
dl = tables.get("dead_letters")
if not dl:
    errs.append("no dead_letters table")
else:
    if dl["parts"] != [("reason", "string"), ("dt", "string")] or dl["location"] != f"{loc}/errors/":
        errs.append(f"dead_letters: {dl['parts']} {dl['location']}")
    names = [c for c, _ in dl["cols"]]
    for c in ["error", "message", "source", "position", "raw_base64", "raw_length", "truncated"]:
        if c not in names:
            errs.append(f"dead_letters: no column {c}")
    for d in glob.glob(f"{lake}/errors/*/*/"):
        reason, dt = d.rstrip("/").split("/")[-2:]
        if reason not in dl["props"]["projection.reason.values"].split(","):
            errs.append(f"dead_letters: reason {reason} not projected")
print(f"{len(tables)} tables checked")
if errs:
    print("\n".join(errs[:30]))
    sys.exit(1)
PY
$PY "$T/check.py" "$T/ddl.sql" "$T/lake" s3://bkt/lake parquet || fail "DDL does not match the lake"
[ "$(grep -c '^CREATE EXTERNAL TABLE' "$T/ddl.sql")" -ge 101 ] || fail "fewer than 101 tables"

# odd names: quoted, escaped, or reported
cat >"$T/odd.jsonl" <<'EOF2'
{"event_uuid":"1","event_name":"Web Hook:a/b","created_at":1764547200,"select":1,"from":"x","a b":true,"it's":2}
{"event_uuid":"2","event_name":"Web Hook","created_at":1764550800,"UserId":1,"userid":"y","x.y":1,"dt":"d"}
{"event_uuid":"3","event_name":"caf\u00e9","created_at":1764550800,"n":1}
{"event_uuid":"4","event_name":"web_hook","created_at":1764550800,"n":1}
EOF2
"$KL" ingest --input "$T/odd.jsonl" --lake "$T/odd" --quiet --no-progress
rc=0; "$KL" catalog ddl --lake "$T/odd" --location s3://bkt/odd --database analytics >"$T/odd.sql" 2>"$T/odd.err" || rc=$?
[ "$rc" = 1 ] || fail "odd names: exit $rc, expected 1"
for m in 'event type "caf\xc3\xa9": no table' 'event type "web_hook": no table: its table name '"'"'web_hook'"'" \
	'event type "Web Hook": no table: its table name' ; do
	grep -qF "$m" "$T/odd.err" || fail "not reported: $m ($(cat "$T/odd.err"))"
done
grep -q 'web_hook' "$T/odd.sql" && fail "a colliding type got a table"
# without the colliding type: the table exists, names quoted, problems reported
rm -rf "$T/odd/events/event_type=web_hook" "$T/odd/events/event_type=caf%C3%A9"
rc=0; "$KL" catalog ddl --lake "$T/odd" --location s3://bkt/odd --database analytics >"$T/odd.sql" 2>"$T/odd.err" || rc=$?
[ "$rc" = 1 ] || fail "odd names: exit $rc, expected 1"
grep -qF 'CREATE EXTERNAL TABLE IF NOT EXISTS `analytics`.`web_hook`' "$T/odd.sql" || fail "no web_hook table"
for c in '`select` bigint' '`from` string' '`a b` boolean' '`it'"'"'s` bigint' '`userid` bigint'; do
	grep -qF "$c" "$T/odd.sql" || fail "column $c missing: $(cat "$T/odd.sql")"
done
grep -qF "LOCATION 's3://bkt/odd/events/event_type=Web%20Hook/'" "$T/odd.sql" || fail "location"
grep -qF "'projection.event_subtype.values'='__HIVE_DEFAULT_PARTITION__,a%2Fb'" "$T/odd.sql" \
	|| fail "subtype values: $(grep subtype.values "$T/odd.sql")"
for m in 'column "userid": equal to an earlier column but for case' 'column "x.y"' 'column "dt": named like a partition key'; do
	grep -qF "$m" "$T/odd.err" || fail "not reported: $m"
done
$PY -c 'import sqlglot,sys; sqlglot.parse(open(sys.argv[1]).read(), read="hive")' "$T/odd.sql" || fail "odd DDL does not parse"

# a JSON-lines lake: the JSON SerDe and compression noted
"$KL" ingest --input "$T/ev.jsonl" --lake "$T/jl" --format jsonl --compression gzip --quiet --no-progress
"$KL" catalog ddl --lake "$T/jl" --location s3://bkt/jl --database analytics >"$T/jl.sql" 2>"$T/jl.err" \
	|| fail "jsonl ddl: $(cat "$T/jl.err")"
grep -qF "'compressionType'='gzip'" "$T/jl.sql" || fail "jsonl: compression not noted"
$PY "$T/check.py" "$T/jl.sql" "$T/jl" s3://bkt/jl jsonl || fail "JSON-lines DDL does not match the lake"
# usage errors exit 2, a missing lake 1 (and is not created)
rc=0; "$KL" catalog >/dev/null 2>&1 || rc=$?; [ "$rc" = 2 ] || fail "no action: exit $rc"
rc=0; "$KL" catalog drop --lake "$T/lake" 2>/dev/null || rc=$?; [ "$rc" = 2 ] || fail "bad action: exit $rc"
rc=0; "$KL" catalog ddl 2>/dev/null || rc=$?; [ "$rc" = 2 ] || fail "no --lake: exit $rc"
rc=0; "$KL" catalog ddl --lake "$T/lake" --database Bad-Name 2>"$T/e" >/dev/null || rc=$?
[ "$rc" = 1 ] && grep -q "database name 'Bad-Name'" "$T/e" || fail "bad database: exit $rc $(cat "$T/e")"
rc=0; "$KL" catalog ddl --lake "$T/none" 2>"$T/e" || rc=$?
[ "$rc" = 1 ] && grep -q "no such lake directory" "$T/e" && [ ! -e "$T/none" ] || fail "missing lake: exit $rc"
echo "catalog ddl ok"
