# store/store_s3 end to end. Against moto (a real S3 server, started here on a
# free loopback port): small, empty and 40 MiB multipart objects, Hive keys
# with '=', '%', spaces and unicode read back byte-identical with the AWS CLI,
# SHA-256 checksums stored, abort leaves neither object nor upload, SSE-KMS
# accepted, and with moto's IAM auth on: right key works, wrong secret fails
# fast with the AWS error and leaves nothing. Against tests/js/flaky_s3.mjs:
# 503 SlowDown retried (3 attempts per request), a part that keeps failing
# aborts the upload, a wrong checksum echo is caught, a store without
# conditional writes still gets its objects. A write that fault_proxy holds
# up until after a newer one does not replace it (If-None-Match / If-Match).
# Deferred commits (the writer's data files): sent side by side, visible at the
# sync, a rewrite replaced, a key deferred twice ends with the later bytes, a
# failed one fails the sync and lands nothing.
# Driver: test_store_s3 --put/--get/--abort-after.
# duration: 33 (seconds, for the test runner's ordering: a quiet 2-core machine)
. "$(dirname "$0")/_lib.sh"
if [ "${KL_ASAN:-0}" = 1 ]; then DRV=$ROOT/build-asan/tests/test_store_s3
else DRV=$ROOT/build/tests/test_store_s3; fi
[ -x "$DRV" ] || fail "missing $DRV (run make)"
start_moto
export AWS_ENDPOINT_URL_S3=http://127.0.0.1:$MOTO
EP=(--endpoint-url "http://127.0.0.1:$MOTO")
aws "${EP[@]}" s3 mb s3://bkt >/dev/null || fail "create bucket"
head -c 41943040 /dev/urandom >"$T/big"
head -c 12000000 /dev/urandom >"$T/mid"
printf '{"event_type":"web hook"}\n' >"$T/small"
: >"$T/empty"

# get_back KEY FILE: read back with the AWS CLI and with the store.
get_back() {
	aws "${EP[@]}" s3 cp "s3://bkt/lake/$1" "$T/back" --quiet || fail "aws s3 cp $1"
	cmp -s "$T/back" "$2" || fail "aws read back of '$1' differs"
	"$DRV" --get s3://bkt/lake "$1" >"$T/back2" || fail "store read of '$1'"
	cmp -s "$T/back2" "$2" || fail "store read back of '$1' differs"
}
head_json() { aws "${EP[@]}" s3api head-object --bucket bkt --key "lake/$1" "${@:2}"; }
field() { python3 -c 'import json,sys; print(json.load(sys.stdin).get(sys.argv[1], ""))' "$1"; }

# 1. small objects, keys that need encoding
KEYS=('events/event_type=web%20hook/event_subtype=a%2Fb/dt=2024-01-02/hr=03/part-0.jsonl'
	'events/event_type=x/naïve €/a b+c=d&e.jsonl'
	'events/./dot/../segments/100%.jsonl')
for k in "${KEYS[@]}"; do
	"$DRV" --put s3://bkt/lake "$k" "$T/small" >/dev/null || fail "put '$k'"
	get_back "$k" "$T/small"
done
aws "${EP[@]}" s3api list-objects-v2 --bucket bkt --prefix lake/ --query 'Contents[].Key' --output json >"$T/keys.json"
python3 - "$T/keys.json" "${KEYS[@]}" <<'PY' || fail "listed keys differ"
import json, sys
got = sorted(json.load(open(sys.argv[1])))
want = sorted("lake/" + k for k in sys.argv[2:])
if got != want:
    sys.exit(f"got {got}\nwant {want}")
PY
sum=$(head_json "${KEYS[0]}" --checksum-mode ENABLED | field ChecksumSHA256)
want=$(python3 -c 'import base64,hashlib,sys; print(base64.b64encode(hashlib.sha256(open(sys.argv[1],"rb").read()).digest()).decode())' "$T/small")
[ "$sum" = "$want" ] || fail "stored ChecksumSHA256 '$sum', want '$want'"

# an object that looks like an S3 error document is still just data
printf '<Error><Code>InternalError</Code><Message>x</Message></Error>' >"$T/errdoc"
"$DRV" --put s3://bkt/lake errdoc.xml "$T/errdoc" >/dev/null || fail "put errdoc"
get_back errdoc.xml "$T/errdoc"

# 1b. deferred commits, as the writer sends its data files (store.h): each a
# PutObject by an upload thread, side by side, all visible at the sync; a key
# that is there already is replaced (refused If-None-Match, then commit()'s
# replace loop at the sync); a key deferred twice before a sync ends with the
# later bytes (the second open waits for the first)
printf 'one\n' >"$T/d1"; printf 'two\n' >"$T/d2"
dk=(); for k in 1 2 3 4 5 6 7 8 9 10; do dk+=("def/$k=$T/d1"); done
out=$("$DRV" --concurrency 3 --put-deferred s3://bkt/lake "${dk[@]}") || fail "deferred puts"
[ "$out" = "ok files=10 bytes=40" ] || fail "deferred puts: $out"
for k in 1 5 10; do get_back "def/$k" "$T/d1"; done
out=$("$DRV" --put-deferred s3://bkt/lake "def/1=$T/d2" "def/5=$T/d2" "def/11=$T/d1" "def/11=$T/d2") ||
	fail "deferred rewrites"
[ "$out" = "ok files=4 bytes=16" ] || fail "deferred rewrites: $out"
for k in 1 5 11; do get_back "def/$k" "$T/d2"; done
get_back def/10 "$T/d1"
# schema fragments (put_new_deferred): beside the data files, landed by the
# sync and counted; one there already is success and counts nothing
out=$("$DRV" --concurrency 2 --put-deferred s3://bkt/lake "defn/a=$T/d1" "new:frag/x=$T/d2" "defn/b=$T/d1") ||
	fail "deferred fragment"
[ "$out" = "ok files=3 bytes=12 lost=0" ] || fail "deferred fragment: $out"
get_back frag/x "$T/d2"
get_back defn/b "$T/d1"
out=$("$DRV" --put-deferred s3://bkt/lake "new:frag/x=$T/d2") || fail "deferred fragment again"
[ "$out" = "ok files=0 bytes=0 lost=0" ] || fail "deferred fragment there already: $out"
# read_many (the registry's fragments, side by side on the upload threads):
# every key's own bytes in order, an absent one "not found", more keys than
# threads
sha() { sha256sum "$1" | cut -d' ' -f1; }
out=$("$DRV" --concurrency 2 --get-many s3://bkt/lake def/1 def/10 nope/x frag/x def/11 defn/a) ||
	fail "read_many"
want="def/1 4 $(sha "$T/d2")
def/10 4 $(sha "$T/d1")
nope/x not found
frag/x 4 $(sha "$T/d2")
def/11 4 $(sha "$T/d2")
defn/a 4 $(sha "$T/d1")"
[ "$out" = "$want" ] || fail "read_many: got
$out
want
$want"

# 2. empty object
"$DRV" --put s3://bkt/lake empty.bin "$T/empty" >/dev/null || fail "put empty"
[ "$(head_json empty.bin | field ContentLength)" = 0 ] || fail "empty object length"
get_back empty.bin "$T/empty"

# 3. 40 MiB through multipart (default 16 MiB threshold, 8 MiB parts, 4
# threads), written in odd-sized chunks; and a 1-thread run with the threshold
# below the part size.
"$DRV" --chunk 1000003 --put s3://bkt/lake big.bin "$T/big" >/dev/null || fail "put big"
etag=$(head_json big.bin | field ETag)
[[ $etag == *-5\" ]] || fail "big.bin ETag $etag: want 5 parts"
get_back big.bin "$T/big"
"$DRV" --concurrency 1 --threshold 1000 --part-size 5242880 --put s3://bkt/lake mid.bin "$T/mid" >/dev/null ||
	fail "put mid"
[[ $(head_json mid.bin | field ETag) == *-3\" ]] || fail "mid.bin: want 3 parts"
get_back mid.bin "$T/mid"

# 4. abort after 20 MiB (multipart started, parts sent): nothing left
"$DRV" --abort-after 20971520 s3://bkt/lake aborted.bin "$T/big" >/dev/null || fail "abort run"
head_json aborted.bin >/dev/null 2>&1 && fail "aborted object is visible"
ups=$(aws "${EP[@]}" s3api list-multipart-uploads --bucket bkt --output json | field Uploads)
[ -z "$ups" ] || [ "$ups" = "[]" ] || fail "multipart uploads left: $ups"
rc=0; "$DRV" --get s3://bkt/lake aborted.bin >/dev/null 2>&1 || rc=$?
[ $rc = 3 ] || fail "read of a missing key: exit $rc, want 3"

# 5. SSE-KMS (single PUT and multipart)
"$DRV" --sse aws:kms --put s3://bkt/lake kms.bin "$T/small" >/dev/null || fail "put kms"
[ "$(head_json kms.bin | field ServerSideEncryption)" = aws:kms ] || fail "kms.bin not SSE-KMS"
"$DRV" --sse AES256 --threshold 5242880 --part-size 5242880 --put s3://bkt/lake aes.bin "$T/mid" >/dev/null || fail "put aes"
[ "$(head_json aes.bin | field ServerSideEncryption)" = AES256 ] || fail "aes.bin not SSE-S3"

# 6. retries against the flaky server
node "$ROOT/tests/js/flaky_s3.mjs" >"$T/flaky.port" 2>"$T/flaky.log" &
pids+=($!)
for _ in $(seq 50); do [ -s "$T/flaky.port" ] && break; sleep 0.1; done
FP=$(head -1 "$T/flaky.port"); [ -n "$FP" ] || fail "flaky server did not start"
flaky() { AWS_ENDPOINT_URL_S3=http://127.0.0.1:$FP "$DRV" "$@"; }
flog() { curl -sf "http://127.0.0.1:$FP/__log"; }
flaky --put s3://flaky/lake 'a=1/b%2F.txt' "$T/small" >/dev/null || fail "flaky put"
n=$(flog | grep -c '^PUT /flaky/lake/a%3D1/b%252F.txt ')
[ "$n" = 3 ] || fail "flaky put: $n attempts, want 3: $(flog)"
curl -sf "http://127.0.0.1:$FP/__obj/flaky/lake/a=1/b%252F.txt" | cmp -s - "$T/small" || fail "flaky object"
flaky --threshold 5242880 --part-size 5242880 --put s3://flaky/lake mp.bin "$T/mid" >/dev/null || fail "flaky multipart"
for p in 1 2 3; do
	n=$(flog | grep -c "^PUT /flaky/lake/mp.bin?partNumber=$p&")
	[ "$n" = 3 ] || fail "part $p: $n attempts, want 3"
done
[ "$(flog | grep -c '^POST /flaky/lake/mp.bin?uploadId=.* 200$')" = 1 ] || fail "flaky complete"
curl -sf "http://127.0.0.1:$FP/__obj/flaky/lake/mp.bin" | cmp -s - "$T/mid" || fail "flaky mp object"
# a part that keeps failing: error after --attempts, upload aborted, nothing visible
if flaky --attempts 3 --threshold 5242880 --part-size 5242880 --put s3://broken/lake bad.bin "$T/mid" >"$T/out" 2>"$T/err"; then
	fail "broken upload succeeded"
fi
grep -q 'UploadPart s3://broken/lake/bad.bin: HTTP 500 InternalError' "$T/err" || fail "broken: $(cat "$T/err")"
grep -q '3 attempts' "$T/err" || fail "broken: want 3 attempts: $(cat "$T/err")"
flog | grepq '^DELETE /broken/lake/bad.bin?uploadId=up%2B[0-9]*%2F%3D 204$' || fail "broken: no abort: $(flog)"
flog | grepq '^POST /broken/lake/bad.bin?uploadId' && fail "broken: completed anyway"
curl -sf -o /dev/null "http://127.0.0.1:$FP/__obj/broken/lake/bad.bin" && fail "broken object visible"
# a checksum echo that differs from what was sent
if flaky --attempts 2 --put s3://liar/lake x.bin "$T/small" 2>"$T/err" >/dev/null; then fail "liar accepted"; fi
grep -q 'PutObject s3://liar/lake/x.bin: echoed x-amz-checksum-sha256 differs' "$T/err" || fail "liar: $(cat "$T/err")"

# 6b. a store without conditional writes (501 to If-None-Match): commit()
# falls back to a plain PutObject and still replaces
flaky --put s3://nocond/lake k.txt "$T/small" >/dev/null || fail "nocond put"
flaky --put s3://nocond/lake k.txt "$T/errdoc" >/dev/null || fail "nocond replace"
curl -sf "http://127.0.0.1:$FP/__obj/nocond/lake/k.txt" | cmp -s - "$T/errdoc" || fail "nocond object"
[ "$(flog | grep -c '^PUT /nocond/lake/k.txt 501$')" = 2 ] || fail "nocond: want 2 refused: $(flog)"
# create-only writes (the schema registry's content-named fragments) fall back
# to plain ones; once refused, the store sends no more conditions: one 501 for
# three keys, not three
flaky --put-new s3://nocond/lake "$T/small" n/1 n/2 n/3 >/dev/null || fail "nocond put-new"
[ "$(flog | grep -c '^PUT /nocond/lake/n/[123] 501$')" = 1 ] || fail "nocond put-new: want 1 refused: $(flog | grep /n/)"
[ "$(flog | grep -c '^PUT /nocond/lake/n/[123] 200$')" = 3 ] || fail "nocond put-new: want 3 written: $(flog | grep /n/)"
for k in 1 2 3; do
	curl -sf "http://127.0.0.1:$FP/__obj/nocond/lake/n/$k" | cmp -s - "$T/small" || fail "nocond n/$k"
done

# 6c. commit() replaces what is there, and a write that arrives late does not
# undo a newer one. A PutObject held up on its way (fault_proxy's stall: sent
# on to moto after 4 s, its writer killed meanwhile, as a run that gave up at
# its shutdown deadline) used to land over the file the next writer put
# there; commit() is conditional on what it saw (If-None-Match: *, else
# If-Match on the ETag it read), so S3 refuses the late one (412).
printf 'old, cut short\n' >"$T/old"
printf 'new\n' >"$T/new"
"$DRV" --put s3://bkt/lake late/k "$T/old" >/dev/null || fail "put late/k"
"$DRV" --put s3://bkt/lake late/k "$T/new" >/dev/null || fail "replace late/k"
get_back late/k "$T/new"
# the same over a multipart upload (CompleteMultipartUpload If-None-Match: *,
# refused, then If-Match)
head -c 6000000 /dev/urandom >"$T/mid2"
"$DRV" --threshold 5242880 --part-size 5242880 --put s3://bkt/lake late/mp "$T/mid" >/dev/null || fail "put late/mp"
"$DRV" --threshold 5242880 --part-size 5242880 --put s3://bkt/lake late/mp "$T/mid2" >/dev/null ||
	fail "replace late/mp"
get_back late/mp "$T/mid2"
python3 "$ROOT/tests/fault_proxy.py" --upstream "http://127.0.0.1:$MOTO" --port-file "$T/lp.port" \
	--stall-seconds 4 >"$T/lproxy.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do [ -s "$T/lp.port" ] && break; sleep 0.05; done
LP=$(cat "$T/lp.port")
pstat() { curl -sf "http://127.0.0.1:$LP/__fault/stats" | python3 -c 'import json,sys; s=json.load(sys.stdin); print(s["faults"]["stall"], s["forwarded"])'; }
# late KEY FILE-FIRST FILE-LATE SKIP: FILE-FIRST is there; a writer of FILE-LATE
# through the proxy has its PUT number SKIP+1 stalled and is killed; FILE-FIRST
# is written again directly; the stalled PUT reaches moto; FILE-FIRST must stay.
late() {
	curl -sf -X POST "http://127.0.0.1:$LP/__fault/op?op=PUT&kind=stall&count=1&skip=$4" >/dev/null ||
		fail "proxy op rule"
	read -r st0 fw0 < <(pstat)
	AWS_ENDPOINT_URL_S3=http://127.0.0.1:$LP "$DRV" --put s3://bkt/lake "$1" "$3" >/dev/null 2>&1 & local w=$!
	local st fw
	for _ in $(seq 100); do read -r st fw < <(pstat); [ "$st" -gt "$st0" ] && break; sleep 0.05; done
	[ "$st" -gt "$st0" ] || fail "late $1: the proxy held no PUT"
	kill -9 $w; wait $w 2>/dev/null || true
	"$DRV" --put s3://bkt/lake "$1" "$2" >/dev/null || fail "late $1: the newer write"
	for _ in $(seq 200); do read -r st fw < <(pstat); [ "$fw" -gt "$fw0" ] && break; sleep 0.05; done
	[ "$fw" -gt "$fw0" ] || fail "late $1: the held PUT never reached moto"
	get_back "$1" "$2"
}
# (a) no object yet: the late PUT carries If-None-Match: *
late late/a "$T/new" "$T/old" 0
# (b) an object there: the late writer's first PUT is refused at once, it
# reads the ETag and its If-Match PUT is held; the newer writer then puts the
# very bytes that were there, which must still change the ETag (a one-part
# multipart upload) or the late If-Match would match again
"$DRV" --put s3://bkt/lake late/b "$T/new" >/dev/null || fail "put late/b"
late late/b "$T/new" "$T/old" 1
[[ $(head_json late/b | field ETag) == *-1\" ]] || fail "late/b: the same bytes kept their ETag"

# 6c2. a deferred commit that fails fails the sync, which counts as landed
# only the files given before the first that did not land (the writer marks
# just those durable: a Lambda batch retries from the first file not there).
# One upload thread sends them in order; the proxy lets 3 PutObjects through
# and answers 500 to every later one.
curl -sf -X POST "http://127.0.0.1:$LP/__fault/op?op=PUT&kind=500&count=-1&skip=3" >/dev/null ||
	fail "proxy op rule (deferred)"
dk=(); for k in 1 2 3 4 5 6; do dk+=("defp/$k=$T/d1"); done
set +e
out=$(AWS_ENDPOINT_URL_S3=http://127.0.0.1:$LP "$DRV" --concurrency 1 --attempts 1 --put-deferred \
	s3://bkt/lake "${dk[@]}" 2>"$T/err"); rc=$?
set -e
[ "$rc" = 1 ] || fail "deferred puts past a failure: exit $rc: $out"
[ "$out" = "failed landed=3" ] || fail "deferred puts past a failure: $out ($(cat "$T/err"))"
grep -q 'PutObject s3://bkt/lake/defp/4: HTTP 500' "$T/err" || fail "deferred failure message: $(cat "$T/err")"
for k in 1 2 3; do get_back "defp/$k" "$T/d1"; done
aws "${EP[@]}" s3api head-object --bucket bkt --key lake/defp/4 >/dev/null 2>&1 && fail "failed deferred object visible"
curl -sf -X POST "http://127.0.0.1:$LP/__fault/op?op=PUT&kind=500&count=0&skip=0" >/dev/null ||
	fail "proxy op rule (deferred, off)"
# a fragment that does not land fails the sync too, without counting against
# the data files (both landed) and tells its writer (lost=1), which then
# reads the type afresh (test_schema_registry: lost fragment)
curl -sf -X POST "http://127.0.0.1:$LP/__fault/op?op=PUT&kind=500&count=-1&skip=2" >/dev/null ||
	fail "proxy op rule (fragment)"
set +e
out=$(AWS_ENDPOINT_URL_S3=http://127.0.0.1:$LP "$DRV" --concurrency 1 --attempts 1 --put-deferred \
	s3://bkt/lake "defq/1=$T/d1" "defq/2=$T/d1" "new:fragq/x=$T/d1" 2>"$T/err"); rc=$?
set -e
[ "$rc" = 1 ] || fail "failed fragment: exit $rc: $out"
[ "$out" = "failed landed=2 lost=1" ] || fail "failed fragment: $out ($(cat "$T/err"))"
grep -q 'PutObject s3://bkt/lake/fragq/x: HTTP 500' "$T/err" || fail "fragment failure message: $(cat "$T/err")"
for k in 1 2; do get_back "defq/$k" "$T/d1"; done
aws "${EP[@]}" s3api head-object --bucket bkt --key lake/fragq/x >/dev/null 2>&1 && fail "failed fragment visible"
curl -sf -X POST "http://127.0.0.1:$LP/__fault/op?op=PUT&kind=500&count=0&skip=0" >/dev/null ||
	fail "proxy op rule (fragment, off)"

# 6d. what the conditions cost: a run through the proxy (no faults left) that
# commits often rewrites its state log each time; the store's guess of the
# ETag there (its own last write) makes that one conditional PutObject, with
# a HeadObject only at the first rewrite (without the guess: one for each)
# op_stat PORT METHOD FIELD: a proxy's count for one HTTP method (0 before any)
op_stat() { curl -sf "http://127.0.0.1:$1/__fault/stats" | python3 -c 'import json,sys; print(json.load(sys.stdin)["ops"].get(sys.argv[1], {}).get(sys.argv[2], 0))' "$2" "$3"; }
ops() { echo "$(op_stat "$LP" PUT calls) $(op_stat "$LP" HEAD calls)"; }
read -r put0 head0 < <(ops)
"$KL" gen --events 5000 --seed 3 >"$T/hint.jsonl"
AWS_ENDPOINT_URL_S3=http://127.0.0.1:$LP "$KL" ingest --input "$T/hint.jsonl" --lake s3://bkt/hint --format jsonl \
	--max-file-bytes 20KiB --memory-limit 10MiB --dedup-window 1000 2>"$T/hint.err" || fail "hint run: $(cat "$T/hint.err")"
read -r put1 head1 < <(ops)
files=$(sed -n 's/.* files=\([0-9]*\).*/\1/p' "$T/hint.err")
echo "a run of $files files: $((put1 - put0)) PutObject, $((head1 - head0)) HeadObject"
[ "$((put1 - put0 - files))" -ge 20 ] || fail "too few state-log writes to tell: $(cat "$T/hint.err")"
[ "$((head1 - head0))" -le 2 ] || fail "$((head1 - head0)) HeadObject for one run: the rewrites are not guessed"
# 6e. a batch of the writer's jobs costs one state-log write: when an hour
# closes, each of its ~70 partitions is a job of its own, and the writer
# takes those queued as one batch (one sync); the log in S3 is rewritten
# whole from the state at each write, so it is written once a batch, not
# once a job (commit/state.h kl_state_sync_shapes_log). Six hours of events,
# ~400 files: it was one PutObject of the log per file.
"$KL" gen --events 2000 --span 21600 --seed 3 >"$T/hours.jsonl"
read -r put0 head0 < <(ops)
AWS_ENDPOINT_URL_S3=http://127.0.0.1:$LP "$KL" ingest --input "$T/hours.jsonl" --lake s3://bkt/hours --format jsonl \
	2>"$T/hours.err" || fail "hours run: $(cat "$T/hours.err")"
read -r put1 head1 < <(ops)
files=$(sed -n 's/.* files=\([0-9]*\).*/\1/p' "$T/hours.err")
logs=$((put1 - put0 - files))
echo "six hours, $files files: $logs state-log writes"
[ "$files" -ge 300 ] || fail "hours run: $files files, want ~400: $(cat "$T/hours.err")"
[ "$logs" -ge 1 ] && [ "$((logs * 5))" -le "$files" ] || fail "hours run: $logs state-log writes for $files files"
# 6g. a run on a lake that has schemas lists them once, deep (ListObjectsV2
# without a delimiter), not each event type's directory once more: its GETs
# are that listing, a GetObject per fragment and the input's own few reads.
# On a new lake a type whose schema widens (another subtype's fields) takes
# its fragments from that listing too, if under 30 s old: a handful of GETs
"$KL" gen --events 3000 --seed 5 >"$T/reg_a.jsonl"
"$KL" gen --events 3000 --seed 6 >"$T/reg_b.jsonl"
gets() { op_stat "$LP" GET calls; }
get00=$(gets)
AWS_ENDPOINT_URL_S3=http://127.0.0.1:$LP "$KL" ingest --input "$T/reg_a.jsonl" --lake s3://bkt/reg --quiet ||
	fail "registry run a"
get0=$(gets)
echo "a run on a new lake: $((get0 - get00)) GET"
[ "$((get0 - get00))" -le 6 ] || fail "registry run a: $((get0 - get00)) GET on a new lake: widened types listed" 
AWS_ENDPOINT_URL_S3=http://127.0.0.1:$LP "$KL" ingest --input "$T/reg_b.jsonl" --lake s3://bkt/reg --quiet ||
	fail "registry run b"
get1=$(gets)
types=$(aws "${EP[@]}" s3 ls s3://bkt/reg/_kinlake/schemas/ | grep -c PRE || true)
frags=$(aws "${EP[@]}" s3 ls --recursive s3://bkt/reg/_kinlake/schemas/ | grep -c '\.json$' || true)
echo "a run on a lake of $types types' schemas, $frags fragments: $((get1 - get0)) GET"
[ "$types" -ge 10 ] || fail "registry runs: $types types, want ~100"
[ "$((get1 - get0))" -le "$((frags + 6))" ] || fail "registry run b: $((get1 - get0)) GET for $frags fragments: each type listed again"
# 6f. side by side, as many at once as --s3-concurrency says: through a proxy
# holding every request 20 ms, the PutObjects in flight together reach 2 with
# --s3-concurrency 2 and never 3 (serial files would show 1, the default 4)
python3 "$ROOT/tests/fault_proxy.py" --upstream "http://127.0.0.1:$MOTO" --port-file "$T/cp.port" \
	--fault stall=1 --stall-seconds 0.02 >"$T/cproxy.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do [ -s "$T/cp.port" ] && break; sleep 0.05; done
CP=$(cat "$T/cp.port")
"$KL" gen --events 300 --span 21600 --seed 3 >"$T/side.jsonl"
AWS_ENDPOINT_URL_S3=http://127.0.0.1:$CP "$KL" ingest --input "$T/side.jsonl" --lake s3://bkt/side --format jsonl \
	--s3-concurrency 2 --quiet || fail "side-by-side run"
inflight=$(op_stat "$CP" PUT max_inflight)
echo "--s3-concurrency 2: at most $inflight PutObjects at once"
[ "$inflight" = 2 ] || fail "--s3-concurrency 2: $inflight PutObjects in flight at most, want 2"
# 6h. ... and so are the schema fragments of a lake that has them: a new run
# into 6g's lake reads them side by side, up to --s3-concurrency at once (one
# after another before, on the writer's thread: 1 GetObject in flight)
"$KL" gen --events 3000 --seed 7 >"$T/reg_c.jsonl"
AWS_ENDPOINT_URL_S3=http://127.0.0.1:$CP "$KL" ingest --input "$T/reg_c.jsonl" --lake s3://bkt/reg \
	--s3-concurrency 4 --quiet || fail "registry run c"
inflight=$(op_stat "$CP" GET max_inflight)
echo "a run on a lake of $frags fragments, --s3-concurrency 4: at most $inflight GetObjects at once"
[ "$inflight" -ge 3 ] || fail "registry run c: $inflight GetObjects in flight at most, want 3 or 4"
# 6i. ... but only those of the types its files have: a run of two types'
# events reads their fragments, not the lake's (reading them all cost such a
# run 1.2 s more at 50 ms a request; bench/README.md, session 44)
awk '/"event_name":"(account|payment):/ && n++ < 100' "$T/reg_c.jsonl" >"$T/reg_d.jsonl"
[ -s "$T/reg_d.jsonl" ] || fail "registry run d: no account or payment events in reg_c"
two=$(aws "${EP[@]}" s3 ls --recursive s3://bkt/reg/_kinlake/schemas/ |
	grep -cE 'event_type=(account|payment)/[0-9a-f]{64}\.json$' || true)
[ "$two" -ge 2 ] || fail "registry run d: $two fragments of account and payment, want 2 or more"
get2=$(gets)
AWS_ENDPOINT_URL_S3=http://127.0.0.1:$LP "$KL" ingest --input "$T/reg_d.jsonl" --lake s3://bkt/reg --quiet ||
	fail "registry run d"
get3=$(gets)
echo "a run of two types into 6g's lake, $two fragments theirs: $((get3 - get2)) GET"
[ "$((get3 - get2))" -le "$((two + 6))" ] ||
	fail "registry run d: $((get3 - get2)) GET for two types' $two fragments: other types' read too"

# 7. moto with IAM auth on: right key works (single and multipart), wrong
# secret fails at once with SignatureDoesNotMatch and leaves nothing.
aws "${EP[@]}" iam create-user --user-name kl >/dev/null || fail "iam create-user"
aws "${EP[@]}" iam put-user-policy --user-name kl --policy-name s3 \
	--policy-document '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}' ||
	fail "iam put-user-policy"
aws "${EP[@]}" iam create-access-key --user-name kl --output json >"$T/key.json" || fail "create-access-key"
AK=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["AccessKey"]["AccessKeyId"])' "$T/key.json")
SK=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["AccessKey"]["SecretAccessKey"])' "$T/key.json")
curl -sf -X POST -H 'Content-Type: text/plain' --data-binary 0 "http://127.0.0.1:$MOTO/moto-api/reset-auth" >/dev/null ||
	fail "reset-auth"
export AWS_ACCESS_KEY_ID=$AK AWS_SECRET_ACCESS_KEY=$SK
"$DRV" --put s3://bkt/auth ok.jsonl "$T/small" >/dev/null || fail "authorized put"
"$DRV" --threshold 5242880 --part-size 5242880 --put s3://bkt/auth ok-mp.bin "$T/mid" >/dev/null || fail "authorized multipart"
aws "${EP[@]}" s3 cp s3://bkt/auth/ok-mp.bin - | cmp -s - "$T/mid" || fail "authorized multipart read back"
if AWS_SECRET_ACCESS_KEY=wrong "$DRV" --put s3://bkt/auth denied.jsonl "$T/small" >/dev/null 2>"$T/err"; then
	fail "wrong secret accepted"
fi
grep -q 'authentication failed' "$T/err" || fail "wrong secret: $(cat "$T/err")"
grep -q 'PutObject s3://bkt/auth/denied.jsonl: HTTP 403 SignatureDoesNotMatch' "$T/err" || fail "wrong secret: $(cat "$T/err")"
grep -q '1 attempt)' "$T/err" || fail "auth failure was retried: $(cat "$T/err")"
grep -q "$SK" "$T/err" && fail "secret in the error message"
aws "${EP[@]}" s3api head-object --bucket bkt --key auth/denied.jsonl >/dev/null 2>&1 && fail "denied object visible"
if AWS_SECRET_ACCESS_KEY=wrong "$DRV" --threshold 5242880 --part-size 5242880 --put s3://bkt/auth denied.bin "$T/mid" >/dev/null 2>"$T/err"; then
	fail "wrong secret accepted (multipart)"
fi
grep -q 'CreateMultipartUpload s3://bkt/auth/denied.bin: HTTP 403' "$T/err" || fail "wrong secret mp: $(cat "$T/err")"
# a deferred commit that fails fails the sync, with the same message; nothing lands
if AWS_SECRET_ACCESS_KEY=wrong "$DRV" --put-deferred s3://bkt/auth "denied-d.jsonl=$T/small" >/dev/null 2>"$T/err"; then
	fail "wrong secret accepted (deferred)"
fi
grep -q 'PutObject s3://bkt/auth/denied-d.jsonl: HTTP 403 SignatureDoesNotMatch' "$T/err" || fail "wrong secret deferred: $(cat "$T/err")"
aws "${EP[@]}" s3api head-object --bucket bkt --key auth/denied-d.jsonl >/dev/null 2>&1 && fail "denied deferred object visible"
echo "store_s3: ok"
