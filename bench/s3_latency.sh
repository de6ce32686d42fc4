#!/bin/bash
# s3_latency.sh [EVENTS [DELAY_MS [RUNS]]]: kinlake into an S3 lake whose every request
# takes DELAY_MS [50] longer, as S3's own round trips do (tens of milliseconds a PutObject,
# where moto on this machine answers in a few): moto (scripts/stack.sh) behind
# tests/fault_proxy.py with every request stalled (`--fault stall=1 --stall-seconds
# DELAY`; the proxy serves
# requests concurrently, as S3 does). The input is `kinlake gen --events EVENTS [20000]
# --span 21600` (six hours: ~550 partitions, one small file each), ingested as JSON lines
# into a fresh prefix each run; printed per run and binary: seconds, files, requests
# the proxy saw. KINLAKE [build/kinlake]; KINLAKE_B, a second binary run alternately
# beside it (bench/README.md, sessions 33-34: files side by side). RUNS [3] each.
# BENCH_S3_FORMAT [jsonl] (or parquet), BENCH_S3_SPAN [21600] seconds of event time: one
# hour (3600) of 100,000 events gives the fewer, larger files of a production hour.
# BENCH_S3_EXISTING [0]: 1 = each run's lake first gets the events of another seed,
# straight from moto and not timed, so that the timed run meets a lake with its types'
# schemas (Parquet: ~100 types' fragments to read; bench/README.md, session 44); files
# then counts both inputs' files.
set -euo pipefail
EVENTS=${1:-20000} DELAY=${2:-50} RUNS=${3:-3}
FORMAT=${BENCH_S3_FORMAT:-jsonl} SPAN=${BENCH_S3_SPAN:-21600} EXISTING=${BENCH_S3_EXISTING:-0}
[ -n "${KINLAKE_B:-}" ] && KINLAKE_B=$(realpath "$KINLAKE_B")
[ -n "${KINLAKE:-}" ] && KINLAKE=$(realpath "$KINLAKE")
. "$(dirname "$0")/_lib.sh"
T=$(mktemp -d "${TMPDIR:-/tmp}/kl-s3lat.XXXXXX")
proxy=
export KL_STACK_DIR=$T/stack KL_MOTO_PORT=0 KL_STACK_SERVERS=moto
trap '[ -z "$proxy" ] || kill "$proxy" 2>/dev/null || true; KL_STACK_SIGNAL=KILL scripts/stack.sh down >/dev/null 2>&1 || true; rm -rf "$T"' EXIT
# moto as the tests start it (its endpoint and test keys in the env file)
scripts/stack.sh up >"$T/stack.log" 2>&1 || die "moto did not start: $(tail -3 "$T/stack.log")"
. "$T/stack/env"
MOTO_URL=$AWS_ENDPOINT_URL_S3
python3 tests/fault_proxy.py --upstream "$MOTO_URL" --fault stall=1 \
	--stall-seconds "$(calc %.3f "$DELAY / 1000")" --port-file "$T/proxy.port" >"$T/proxy.log" 2>&1 &
proxy=$!
for _ in $(seq 100); do [ -s "$T/proxy.port" ] && break; sleep 0.1; done
[ -s "$T/proxy.port" ] || die "the proxy did not start: $(cat "$T/proxy.log")"
export AWS_ENDPOINT_URL_S3=http://127.0.0.1:$(cat "$T/proxy.port")
python3 tests/s3_lite.py "$MOTO_URL" mb s3://bench
"$KINLAKE" gen --events "$EVENTS" --span "$SPAN" --seed 3 >"$T/in.jsonl"
[ "$EXISTING" != 1 ] || "$KINLAKE" gen --events "$EVENTS" --span "$SPAN" --seed 4 >"$T/before.jsonl"
bins=("$KINLAKE")
[ -z "${KINLAKE_B:-}" ] || bins+=("$KINLAKE_B")
echo "| run | binary | seconds | files | requests |"
echo "|---:|---|---:|---:|---:|"
n=0
for r in $(seq "$RUNS"); do
	for b in "${bins[@]}"; do
		n=$((n + 1))
		[ "$EXISTING" != 1 ] || AWS_ENDPOINT_URL_S3=$MOTO_URL "$b" ingest --input "$T/before.jsonl" \
			--lake "s3://bench/run$n" --format "$FORMAT" --quiet --no-progress
		before=$(curl -s "$AWS_ENDPOINT_URL_S3/__fault/stats")
		t0=$(date +%s.%N)
		"$b" ingest --input "$T/in.jsonl" --lake "s3://bench/run$n" --format "$FORMAT" --quiet --no-progress
		t1=$(date +%s.%N)
		after=$(curl -s "$AWS_ENDPOINT_URL_S3/__fault/stats")
		# the requests, and per method (fault_proxy's ops) what they were
		reqs=$(python3 -c 'import json,sys
a, b = json.loads(sys.argv[1]), json.loads(sys.argv[2])
ops = {k: v["calls"] - b["ops"].get(k, {"calls": 0})["calls"] for k, v in a["ops"].items()}
print(a["requests"] - b["requests"], " ".join(f"{k} {v}" for k, v in sorted(ops.items()) if v))' "$after" "$before")
		files=$(python3 -c 'import sys, boto3
s3 = boto3.client("s3", endpoint_url=sys.argv[1])
n = 0
for p in s3.get_paginator("list_objects_v2").paginate(Bucket="bench", Prefix=sys.argv[2]):
    n += sum(1 for o in p.get("Contents", []) if o["Key"].startswith(sys.argv[2] + "events/"))
print(n)' "$MOTO_URL" "run$n/")
		echo "| $r | $b | $(calc %.2f "$t1 - $t0") | $files | ${reqs%% *} (${reqs#* }) |"
	done
done
