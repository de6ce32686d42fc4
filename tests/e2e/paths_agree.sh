# One lake contract, three entry points: the same events through
#   (a) `kinlake ingest --input FILE` into a local lake,
#   (b) `kinlake lambda` as the target of a Kinesis event source mapping
#       (tests/js/runtime_api.mjs esm: the local Runtime API, one shard, some
#       records KPL-aggregated) into a local lake (KINLAKE_LAKE a directory),
#   (c) `kinlake lambda` as the Firehose transformation (runtime_api.mjs
#       firehose): the partition keys it returns,
# must give the same lake (tests/js/paths_agree.mjs; what is compared and why,
# in its header): the same partition directories, events/… and errors/…; per
# partition the same data byte for byte — file names differ by design
# ("<input id>-<offset>" against "<shardId>-<sequence number>[-<n>]"), and so
# do the file boundaries when the Lambda gets many batches (one file per
# partition per batch), so then the decompressed files are compared
# concatenated in the order of the positions they are named after; the same
# dead letters (error, message, raw bytes) in the same order. For (c), the
# Firehose S3 prefix (docs/lambda.md and the CloudFormation template, which
# must agree) filled in with each record's
# partitionKeys must be the partition (a) has the event in, and what Firehose
# would deliver there (the Ok records' data) the bytes (a) wrote there.
# The input: `kinlake gen` events (duplicates, every kind of malformed line),
# and event names with '/', '=', '%', ':', spaces, '..', unicode, controls,
# empty type or subtype, no colon, at the edges of the hour and of time.
#  1. JSON lines (gzip): (a) against (b) in batches of 100, (c) against (a)
#  2. Parquet (zstd): (a) against (b) in one batch, which writes the same files:
#     equal byte for byte as stored; (c) against (a)'s partitions
# The input file's mtime and the Kinesis records' arrival time are one instant,
# so that the dead letters of (a) and (b) are dated alike (by arrival).
# duration: 6 (seconds, for the test runner's ordering: a quiet 2-core machine)
# duration-asan: 3
. "$(dirname "$0")/_lib.sh"
cd "$ROOT"
N=${KL_ASAN:+600}; N=${N:-1500}
ARRIVAL=1764590400 # 2025-12-01T12:00:00Z
# where the delivery stream's S3 prefix is written down for users
PREFIXES=docs/lambda.md,deploy/kinlake.yaml

"$KL" gen --events "$N" --types 30 --bad-fraction 0.05 --dup-fraction 0.03 --seed 77 --span 7200 > "$T/gen.jsonl"
cat > "$T/odd.jsonl" <<'EOF'
{"event_uuid":"odd-01","event_name":"a/b:c=d","created_at":1764547200}
{"event_uuid":"odd-02","event_name":"%:%25","created_at":1764547200.5}
{"event_uuid":"odd-03","event_name":"x y:..","created_at":1764550799.999}
{"event_uuid":"odd-04","event_name":"..:../..","created_at":1764550800}
{"event_uuid":"odd-05","event_name":"été:über","created_at":1764547201}
{"event_uuid":"odd-06","event_name":"日本:語 😀","created_at":1764547202}
{"event_uuid":"odd-07","event_name":":","created_at":1764547203}
{"event_uuid":"odd-08","event_name":":sub","created_at":1764547204}
{"event_uuid":"odd-09","event_name":"type:","created_at":1764547205}
{"event_uuid":"odd-10","event_name":"nocolon","created_at":1764547206}
{"event_uuid":"odd-11","event_name":"a:b:c:d","created_at":1764547207}
{"event_uuid":"odd-12","event_name":"\u0001\u001f:\t","created_at":1764547208}
{"event_uuid":"odd-13","event_name":"dt=2025-01-01:hr=00","created_at":1764547209}
{"event_uuid":"odd-14","event_name":"__HIVE_DEFAULT_PARTITION__:","created_at":1764547210}
{"event_uuid":"odd-15","event_name":"a\/b\u003ac","created_at":1764547211}
{"event_uuid":"odd-16","event_name":"..","created_at":0}
{"event_uuid":"odd-17","event_name":"🚀 x:🔥","created_at":253402300799}
{"event_uuid":"odd-01","event_name":"a repeated event_uuid:dropped","created_at":1764547200}
{"event_uuid":"odd-18","event_name":"\"q\":\\","created_at":1764547212.25}
{"event_uuid":"odd-19","event_name":"a:b","created_at":1764547213,"event_type":"spoof","event_subtype":null}
{"event_uuid":"odd-20","event_name":"a%2Fb:%","created_at":1764547214}
{"event_uuid":"odd-21","event_name":" : ","created_at":1764547215}
not json
{"event_uuid":"m1","event_name":"a:b"}
{"event_uuid":"m2","event_name":"","created_at":1}
{"event_uuid":"m3","event_name":"a:b","created_at":-1}
{"event_uuid":"m4","event_name":"a:b","created_at":"1"}
[1,2,3]
{"event_uuid":"m5","event_uuid":"m5","event_name":"a","created_at":1}
{"event_uuid":"m7","event_name":"a:b","created_at":1e400}
{"a":
EOF
printf '{"event_uuid":"m6","event_name":"a\xff:b","created_at":1}\n' >> "$T/odd.jsonl"
# the odd lines spread over the generated ones, one every 40 lines
awk -v odd="$T/odd.jsonl" 'NR % 40 == 1 && (getline l < odd) > 0 { print l } { print } END { while ((getline l < odd) > 0) print l }' \
	"$T/gen.jsonl" > "$T/in.jsonl"
grep -c '' "$T/in.jsonl" | grepq -x "$((N + 32))" || fail "input: $(grep -c '' "$T/in.jsonl") lines, want $((N + 32))"
touch -d "@$ARRIVAL" "$T/in.jsonl"
esm() { node tests/js/runtime_api.mjs esm "$KL" "$T/in.jsonl" "$1" > "$T/esm.log" || { cat "$T/esm.log"; fail "esm: $1"; }; }

# (c) once: the answers do not depend on the lake's format
node tests/js/runtime_api.mjs firehose "$KL" "$T/in.jsonl" "$T/firehose.jsonl" '{"batch":300}' > "$T/fh.log" ||
	{ cat "$T/fh.log"; fail "firehose transform"; }

# (ingest closes a file's hours by event time by default, --window auto; the
# Lambdas flush each batch: the paths are compared in the same mode, interval)
# 1. JSON lines: (b) in batches of 100 Kinesis records, the first 300 lines
# aggregated 20 to a record (file names with a -<n> sub-record suffix)
"$KL" ingest --input "$T/in.jsonl" --lake "$T/a1" --format jsonl --compression gzip --quiet --no-progress --window interval
esm "{\"batch\":100,\"agg\":300,\"aggSize\":20,\"arrival\":$ARRIVAL,\"arrivalStep\":0,
	\"env\":{\"KINLAKE_LAKE\":\"$T/b1\",\"KINLAKE_FORMAT\":\"jsonl\",\"KINLAKE_COMPRESSION\":\"gzip\"}}"
node tests/js/paths_agree.mjs "$T/a1" "$T/b1" --firehose "$T/firehose.jsonl" "$T/in.jsonl" "$PREFIXES" ||
	fail "JSON lines: ingest, the ESM Lambda and the Firehose Lambda disagree"
ls "$T"/b1/events/*/*/*/*/shardId-000000000000-*-[0-9]*.jsonl.gz >/dev/null 2>&1 ||
	fail "no file named after a sub-record of an aggregated record"
# the odd names are there, escaped
for d in 'event_type=a%2Fb/event_subtype=c%3Dd' 'event_type=%25/event_subtype=%2525' \
	'event_type=../event_subtype=..%2F..' 'event_type=../event_subtype=__HIVE_DEFAULT_PARTITION__/dt=1970-01-01' \
	'event_type=__HIVE_DEFAULT_PARTITION__/event_subtype=__HIVE_DEFAULT_PARTITION__/dt=2025-12-01' \
	'event_type=%01%1F/event_subtype=%09' 'event_type=%22q%22/event_subtype=%5C' \
	'event_type=%F0%9F%9A%80%20x/event_subtype=%F0%9F%94%A5/dt=9999-12-31/hr=23'; do
	ls -d "$T/a1/events/$d"* >/dev/null 2>&1 || fail "no partition $d: $(ls "$T/a1/events")"
done
# and no value made a level of its own: every file is 5 levels below events/
bad=$(cd "$T/a1/events" && find . -type f | grep -Ev '^\./event_type=[^/]+/event_subtype=[^/]+/dt=[0-9]{4}-[0-9]{2}-[0-9]{2}/hr=[0-9]{2}/[^/]+$' || true)
[ -z "$bad" ] || fail "files outside the layout: $bad"

# 2. Parquet: (b) in one batch (a Lambda batch holds up to 10000 records):
# one file per partition in each lake, equal as stored
"$KL" ingest --input "$T/in.jsonl" --lake "$T/a2" --quiet --no-progress --window interval
esm "{\"batch\":100000,\"agg\":300,\"aggSize\":20,\"arrival\":$ARRIVAL,\"arrivalStep\":0,
	\"env\":{\"KINLAKE_LAKE\":\"$T/b2\"}}"
node tests/js/paths_agree.mjs "$T/a2" "$T/b2" --same-files --firehose "$T/firehose.jsonl" "$T/in.jsonl" "$PREFIXES" ||
	fail "Parquet: ingest, the ESM Lambda and the Firehose Lambda disagree"
echo "paths_agree: ok"
