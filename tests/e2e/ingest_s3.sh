# `kinlake ingest --input FILE --lake s3://bucket/prefix` (issue 9): a backfill
# file into an S3 lake on moto, exactly once.
#  1. S3 at a closed port: exit 1 with the resume advice, nothing written
#  2. against moto: the lake passes tests/js/check_lake.mjs (DuckDB), its
#     events/ and errors/ objects are byte for byte the files a local-lake
#     ingest of the same file writes, and the state log is an object under
#     _kinlake/state/
#  3. the same command again: "already in the lake", and no object is added
#     or rewritten (keys, ETags and LastModified unchanged)
#  4. a crashed run (kill -9 once its state log holds a commit) and its re-run: every
#     event once, the same objects as one uninterrupted run
# duration: 30 (seconds, for the test runner's ordering)
. "$(dirname "$0")/_lib.sh"
cd "$ROOT"
N=${KL_ASAN:+1000}; N=${N:-2000}
start_moto
export AWS_REGION=us-east-1
export AWS_ENDPOINT_URL_S3=http://127.0.0.1:$MOTO
S3API=(aws --endpoint-url "http://127.0.0.1:$MOTO" s3api)
s3lite "$MOTO_URL" mb s3://bkt || fail "create bucket"
fetch() { rm -rf "$T/$1"; s3lite "$MOTO_URL" cp "s3://bkt/$1" "$T/$1"; }
listing() { # key, ETag, LastModified of every object under a prefix (plain GET: fast)
	curl -sf "http://127.0.0.1:$MOTO/bkt?list-type=2&max-keys=1000&prefix=$1/" | python3 -c '
import sys, xml.etree.ElementTree as ET
ns = {"s": "http://s3.amazonaws.com/doc/2006-03-01/"}
root = ET.fromstring(sys.stdin.read())
assert root.findtext("s:IsTruncated", namespaces=ns) != "true", "more than 1000 objects"
for c in root.findall("s:Contents", ns):
    print(c.findtext("s:Key", namespaces=ns), c.findtext("s:ETag", namespaces=ns),
          c.findtext("s:LastModified", namespaces=ns))' | sort
}

"$KL" gen --events "$N" --bad-fraction 0.05 --dup-fraction 0.02 --seed 91 > "$T/in.jsonl"

# 1. S3 at a closed port: a runtime error, the advice to run again, nothing written
CLOSED=$(free_port)
set +e
AWS_ENDPOINT_URL_S3=http://127.0.0.1:$CLOSED "$KL" ingest --input "$T/in.jsonl" --lake s3://bkt/lake \
	--no-progress 2>"$T/err1"
rc=$?
set -e
[ "$rc" = 1 ] || fail "closed port: exit $rc: $(cat "$T/err1")"
grep -q "nothing was lost: data not yet committed stays in the input; run the same command again" "$T/err1" ||
	fail "closed port: no resume advice: $(cat "$T/err1")"
[ -z "$(listing lake)" ] || fail "closed port: objects written"

# 2. against moto; and the same file into a local lake
"$KL" ingest --input "$T/in.jsonl" --lake s3://bkt/lake --no-progress 2>"$T/sum2" ||
	fail "ingest into s3: $(cat "$T/sum2")"
grep -q "done: read=$N " "$T/sum2" || fail "summary: $(cat "$T/sum2")"
"$KL" ingest --input "$T/in.jsonl" --lake "$T/local" --quiet || fail "ingest into a directory"
fetch lake
check_lake "$T/in.jsonl" "$T/lake" --format parquet >/dev/null || fail "the S3 lake fails check_lake"
lake_digest "$T/lake" > "$T/d_s3"
lake_digest "$T/local" > "$T/d_local"
[ -s "$T/d_s3" ] || fail "no files in the S3 lake"
cmp -s "$T/d_s3" "$T/d_local" || fail "S3 and local lakes differ: $(diff "$T/d_s3" "$T/d_local" | head -5)"
ls "$T/lake/_kinlake/state/"*.log >/dev/null || fail "no state log in the S3 lake"
ls "$T/lake/_kinlake/schemas/event_type="*/*.json >/dev/null || fail "no schema registry in the S3 lake"
listing lake > "$T/list2"

# 3. the same command again: nothing to do, nothing written
"$KL" ingest --input "$T/in.jsonl" --lake s3://bkt/lake --no-progress 2>"$T/sum3" || fail "re-run: $(cat "$T/sum3")"
grep -q "is already in the lake; nothing to do" "$T/sum3" || fail "re-run: $(cat "$T/sum3")"
listing lake > "$T/list3"
cmp -s "$T/list2" "$T/list3" || fail "the re-run changed the lake: $(diff "$T/list2" "$T/list3" | head -5)"

# 4. killed (-9) while writing, then run again: the same lake as one
# uninterrupted run, every event once
"$KL" gen --events "$N" --bad-fraction 0.05 --seed 92 > "$T/in4.jsonl"
# named input (--input-id), so the killed run can read a slow pipe: it lasts
# N / 400 seconds on any machine and the kill lands mid-run
ID=(--input-id backfill-4 --max-file-bytes 4KiB --format jsonl)
"$KL" ingest --input "$T/in4.jsonl" --lake "$T/local4" "${ID[@]}" --quiet
slow_feed 400 "$T/in4.jsonl" | "$KL" ingest --input - --lake s3://bkt/lake4 "${ID[@]}" \
	--no-progress 2>"$T/sum4a" &
p=$!
# the log is written before the first file (it pins the input's day,
# commit/state.h): wait for a commit whose R line has records before it
committed() {
	rm -rf "$T/state4"
	s3lite "$MOTO_URL" cp s3://bkt/lake4/_kinlake/state "$T/state4" 2>/dev/null &&
		cat "$T/state4"/*.log 2>/dev/null | grepq '^[0-9a-f]\{8\} R [1-9]'
}
for _ in $(seq 200); do committed && break; sleep 0.02; done
kill -KILL "$p" 2>/dev/null || true
wait "$p" 2>/dev/null && fail "the run ended before it was killed: $(cat "$T/sum4a")"
committed || fail "killed run: no commit in its state log yet"
"$KL" ingest --input "$T/in4.jsonl" --lake s3://bkt/lake4 "${ID[@]}" \
	--no-progress 2>"$T/sum4b" || fail "resume: $(cat "$T/sum4b")"
cat "$T/sum4b"
grep -q "replayed=[1-9]" "$T/sum4b" || fail "the re-run did not resume from the state log: $(cat "$T/sum4b")"
fetch lake4
check_lake "$T/in4.jsonl" "$T/lake4" >/dev/null || fail "the resumed S3 lake fails check_lake"
lake_digest "$T/lake4" > "$T/d4_s3"
lake_digest "$T/local4" > "$T/d4_local"
cmp -s "$T/d4_s3" "$T/d4_local" || fail "resumed S3 lake differs from one run: $(diff "$T/d4_s3" "$T/d4_local" | head -5)"
echo "ingest_s3: ok"
