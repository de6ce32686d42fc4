# The schema registry with many writers: separate `kinlake ingest` processes at
# once on one local lake, each a file of one event type with only its own odd
# column names (a]b, a<TAB>b, quotes, backslashes, braces, JSON look-alikes,
# non-ASCII, control bytes): the registry's union holds every one of them, read
# back by an independent reader (tests/js/schema_registry.mjs, JSON.parse) and
# by kinlake's loader. Then 50 trials of two concurrent ingests of one event
# type adding 10 columns each: 0 columns lost. Then S3 (moto, listing pages of
# 2 keys): concurrent writers through the registry driver, the same checks.
# duration: 9 (seconds, for the test runner's ordering: a quiet 2-core machine)
. "$(dirname "$0")/_lib.sh"
DRV=$(dirname "$KL")/tests/test_schema_registry
[ -x "$DRV" ] || fail "missing $DRV (run make)"
READER=(node "$ROOT/tests/js/schema_registry.mjs")

# events.py OUT TYPE NAME...: 3 events of TYPE carrying the named columns
cat > "$T/events.py" <<'PY'
import json, sys
out, name, cols = sys.argv[1], sys.argv[2], sys.argv[3:]
with open(out, "w", encoding="utf-8") as f:
    for i in range(3):
        ev = {"event_uuid": f"{out}-{i}", "event_name": name, "created_at": 1764547200 + i}
        for j, c in enumerate(cols):
            ev[c] = i * 10 + j
        f.write(json.dumps(ev, ensure_ascii=False) + "\n")
PY
# want.py OUT NAME...: the expected column names (common ones included) as JSON
want() { python3 -c 'import json,sys; json.dump(["event_uuid","event_name","created_at","created_datetime","event_type","event_subtype"] + sys.argv[2:], open(sys.argv[1], "w"))' "$@"; }

# --- 1. odd names, one process per file, all at once ---------------------------
sets=(
	$'a]b\x1fz0'
	$'a\tb\x1fz1'
	$'q"uote\x1fback\\slash'
	$'}\x1f{"name":"x"}\x1fx","type":"bigint"},{"name":"y'
	$'ünï 日本 😀\x1f\u2028 sep\x1fa/b=c%d'
	$'[\x1f\\u0009\x1fline\nbreak\x1f\x7f\x1f\x01'
)
all=()
for i in "${!sets[@]}"; do
	IFS=$'\x1f' read -r -d '' -a cols < <(printf '%s\0' "${sets[$i]}")
	python3 "$T/events.py" "$T/odd$i.jsonl" "t:s$i" "${cols[@]}"
	all+=("${cols[@]}")
done
python3 "$T/events.py" "$T/oddw.jsonl" "weird type/ü:x" "w]x" $'w\tx'
want "$T/want_t.json" "${all[@]}"
want "$T/want_w.json" "w]x" $'w\tx'

run_odd() { # lake, parallel (1) or one after the other (0)
	local pids=() f
	for f in "$T"/odd*.jsonl; do
		if [ "$2" = 1 ]; then "$KL" ingest --input "$f" --lake "$1" --quiet & pids+=($!)
		else "$KL" ingest --input "$f" --lake "$1" --quiet || fail "ingest $f"; fi
	done
	for p in "${pids[@]}"; do wait "$p" || fail "an ingest failed"; done
	"${READER[@]}" "$1" t "$T/want_t.json" > "$1.names" || fail "registry of t in $1"
	"${READER[@]}" "$1" "weird type/ü" "$T/want_w.json" > /dev/null || fail "registry of the weird type in $1"
	# kinlake's own loader: the same names, the common columns first
	"$DRV" --load "$1" t > "$1.load" || fail "loader"
	node -e '
	const fs = require("fs");
	const mine = JSON.parse(fs.readFileSync(process.argv[1], "utf8")).columns.map((c) => c.name);
	const indep = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
	const want = ["event_uuid","event_name","created_at","created_datetime","event_type","event_subtype"];
	if (JSON.stringify(mine.slice(0, 6)) !== JSON.stringify(want)) throw new Error("common columns: " + mine);
	if (JSON.stringify([...mine].sort()) !== JSON.stringify([...indep].sort())) throw new Error("loaders differ");
	' "$1.load" "$1.names"
	"$DRV" --types "$1" > "$1.types"
	[ "$(cat "$1.types")" = $'"t"\n"weird type/ü"' ] || fail "types: $(cat "$1.types")"
}
run_odd "$T/seq" 0
run_odd "$T/par" 1
cat "$T/par.names"

# --- 2. 50 trials: two processes, one type, 10 new columns each ------------------
python3 "$T/events.py" "$T/ten_a.jsonl" "t" a0 a1 a2 a3 a4 a5 a6 a7 a8 a9
python3 "$T/events.py" "$T/ten_b.jsonl" "t" b0 b1 b2 b3 b4 b5 b6 b7 b8 b9
want "$T/want_ab.json" a0 a1 a2 a3 a4 a5 a6 a7 a8 a9 b0 b1 b2 b3 b4 b5 b6 b7 b8 b9
TRIALS=${KL_ASAN:+20}; TRIALS=${TRIALS:-50}
lakes=()
for i in $(seq "$TRIALS"); do
	"$KL" ingest --input "$T/ten_a.jsonl" --lake "$T/race$i" --quiet & a=$!
	"$KL" ingest --input "$T/ten_b.jsonl" --lake "$T/race$i" --quiet & b=$!
	wait "$a" || fail "trial $i: ingest a"
	wait "$b" || fail "trial $i: ingest b"
	lakes+=("$T/race$i")
done
"${READER[@]}" --trials "$T/want_ab.json" t "${lakes[@]}" || fail "columns lost"

# --- 3. S3 (moto): fragments written, listed (2 keys a page) and read ------------
MOTO_S3_DEFAULT_MAX_KEYS=2 start_moto
export AWS_ENDPOINT_URL_S3=$MOTO_URL
S3=(aws --endpoint-url "http://127.0.0.1:$MOTO" s3)
"${S3[@]}" mb s3://bkt >/dev/null || fail "create bucket"
common=(event_uuid:string event_name:string created_at:bigint created_datetime:string event_type:string event_subtype:string)
# odd names, one writer process each, all at once
pids2=()
for i in "${!sets[@]}"; do
	IFS=$'\x1f' read -r -d '' -a cols < <(printf '%s\0' "${sets[$i]}")
	"$DRV" --merge s3://bkt/lake t "${common[@]}" "${cols[@]/%/:bigint}" & pids2+=($!)
done
"$DRV" --merge s3://bkt/lake "weird type/ü" "${common[@]}" "w]x:bigint" $'w\tx:bigint' & pids2+=($!)
for p in "${pids2[@]}"; do wait "$p" || fail "an S3 merge failed"; done
# a few two-writer races, 10 columns each
for i in 1 2 3 4 5; do
	"$DRV" --merge "s3://bkt/race$i" t "${common[@]}" a{0..9}:bigint & a=$!
	"$DRV" --merge "s3://bkt/race$i" t "${common[@]}" b{0..9}:bigint & b=$!
	wait "$a" && wait "$b" || fail "S3 race $i: a merge failed"
done
"${S3[@]}" cp --recursive --quiet s3://bkt/ "$T/s3"
[ "$(find "$T/s3/lake/_kinlake/schemas/event_type=t" -name '*.json' | wc -l)" -ge 3 ] || fail "fewer fragments than list pages need"
"${READER[@]}" "$T/s3/lake" t "$T/want_t.json" > /dev/null || fail "S3 registry of t"
"${READER[@]}" "$T/s3/lake" "weird type/ü" "$T/want_w.json" > /dev/null || fail "S3 registry of the weird type"
"${READER[@]}" --trials "$T/want_ab.json" t "$T"/s3/race? || fail "columns lost on S3"
# kinlake's loader through S3 (ListObjectsV2 pages) agrees with the copy
"$DRV" --load s3://bkt/lake t > "$T/s3.load" || fail "S3 loader"
"$DRV" --load "$T/s3/lake" t > "$T/local.load" || fail "loader on the copy"
cmp -s "$T/s3.load" "$T/local.load" || fail "S3 and local loads differ: $(diff "$T/s3.load" "$T/local.load")"
[ "$("$DRV" --types s3://bkt/lake)" = $'"t"\n"weird type/ü"' ] || fail "S3 types: $("$DRV" --types s3://bkt/lake)"
# a fragment that is not a registry document (named by its content, so it is
# read): the run fails naming it, and says the input is fine (it is the lake's)
echo '{"event_uuid":"c1","event_name":"t:x","created_at":1700000000,"a":1}' > "$T/c.jsonl"
"$KL" ingest --input "$T/c.jsonl" --lake "$T/corrupt" --quiet
printf 'not json' > "$T/frag"
cp "$T/frag" "$T/corrupt/_kinlake/schemas/event_type=t/$(sha256sum "$T/frag" | cut -c1-64).json"
echo '{"event_uuid":"c2","event_name":"t:x","created_at":1700000000,"b":1}' > "$T/c2.jsonl"
rc=0; out=$("$KL" ingest --input "$T/c2.jsonl" --lake "$T/corrupt" 2>&1) || rc=$?
[ "$rc" = 1 ] && grep -q "schema registry: not JSON at byte 0: .* (in _kinlake/schemas/event_type=t/[0-9a-f]*\.json)" <<< "$out" ||
	fail "a corrupt fragment: exit $rc: $out"
grep -q "cannot be read as it is" <<< "$out" && fail "a corrupt fragment blamed on the input: $out"
echo "ok"
