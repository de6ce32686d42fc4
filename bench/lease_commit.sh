#!/bin/bash
# lease_commit.sh [EVENTS [DELAY_MS [RUNS]]]: what lease mode's fenced commits cost at an
# hour's close. `kinlake gen --events EVENTS [100000] --span 3600` (one hour) is served by
# the replay server (bench/kinesis_replay.py, 4 shards) and read with `--window hour
# --exit-idle 2` into an S3 lake (moto) behind tests/fault_proxy.py, which stalls every S3
# request DELAY_MS [50] (S3's own round trips; DynamoDB goes to moto directly). Jobs, in
# alternated order each run: `plain` (no lease table), `lease` (`--lease-table`, one
# worker), and `lease-b` with KINLAKE_B when given (another build, e.g. the base of a
# change). Each job gets a fresh prefix and lease table. Printed: seconds (wall, the
# whole run: lease table setup and hand-back included), files, the S3 requests the proxy
# saw; then medians. RUNS [3]. bench/README.md, session 49.
set -euo pipefail
EVENTS=${1:-100000} DELAY=${2:-50} RUNS=${3:-3}
[ -n "${KINLAKE_B:-}" ] && KINLAKE_B=$(realpath "$KINLAKE_B")
[ -n "${KINLAKE:-}" ] && KINLAKE=$(realpath "$KINLAKE")
. "$(dirname "$0")/_lib.sh"
T=$(mktemp -d "${TMPDIR:-/tmp}/kl-leasec.XXXXXX")
proxy= REPLAY_PID=
export KL_STACK_DIR=$T/stack KL_MOTO_PORT=0 KL_KINESIS_PORT=0
trap '[ -z "$proxy" ] || kill "$proxy" 2>/dev/null || true; KL_STACK_SIGNAL=KILL scripts/stack.sh down >/dev/null 2>&1 || true; [ -z "$REPLAY_PID" ] || kill "$REPLAY_PID" 2>/dev/null || true; rm -rf "$T"' EXIT
"$KINLAKE" gen --events "$EVENTS" --span 3600 --seed 49 >"$T/in.jsonl"
replay_stack "$T" "$T/in.jsonl"
python3 tests/fault_proxy.py --upstream "$MOTO_URL" --fault stall=1 \
	--stall-seconds "$(calc %.3f "$DELAY / 1000")" --port-file "$T/proxy.port" >"$T/proxy.log" 2>&1 &
proxy=$!
disown "$proxy"
await_port "$T/proxy.port" "the proxy" "$T/proxy.log"
export AWS_ENDPOINT_URL_DYNAMODB=$AWS_ENDPOINT_URL
export AWS_ENDPOINT_URL_S3=http://127.0.0.1:$(cat "$T/proxy.port")
jobs=(plain lease)
[ -z "${KINLAKE_B:-}" ] || jobs+=(lease-b)
echo "$EVENTS events of one hour, 4 shards, every S3 request ${DELAY} ms later; $(bench_rev), $(bench_cpus)"
echo "| run | job | seconds | files | S3 requests |"
echo "|---:|---|---:|---:|---:|"
for r in $(seq "$RUNS"); do
	# rotate the order each run
	order=("${jobs[@]:$(((r - 1) % ${#jobs[@]}))}" "${jobs[@]:0:$(((r - 1) % ${#jobs[@]}))}")
	for j in "${order[@]}"; do
		b=$KINLAKE extra=()
		[ "$j" = lease-b ] && b=$KINLAKE_B
		[ "$j" = plain ] || extra=(--lease-table "lc-$j-$r")
		before=$(curl -s "$AWS_ENDPOINT_URL_S3/__fault/stats")
		t0=$(date +%s.%N)
		"$b" ingest --stream bench --lake "s3://bench/$j-$r" --window hour --exit-idle 2 \
			--no-progress "${extra[@]}" >/dev/null 2>"$T/$j-$r.err" ||
			die "$j (run $r): $(tail -3 "$T/$j-$r.err")"
		t1=$(date +%s.%N)
		after=$(curl -s "$AWS_ENDPOINT_URL_S3/__fault/stats")
		reqs=$(python3 -c 'import json,sys
print(json.loads(sys.argv[1])["requests"] - json.loads(sys.argv[2])["requests"])' "$after" "$before")
		files=$(grep -o 'files=[0-9]*' "$T/$j-$r.err" | tail -1 | cut -d= -f2)
		s=$(calc %.2f "$t1 - $t0")
		echo "$j $s" >>"$T/times"
		echo "| $r | $j | $s | ${files:-?} | $reqs |"
	done
done
for j in "${jobs[@]}"; do
	echo "median $j: $(awk -v j="$j" '$1 == j { print $2 }' "$T/times" | med nan %.2f) s"
done
