#!/bin/bash
# stream_cpu.sh [EVENTS [RUNS]]: where stream mode's CPU per event goes against local
# mode's, one sink at a time. `kinlake gen --events EVENTS` [100000] is served by the
# replay server (bench/kinesis_replay.py, 4 shards) and read in five jobs, in rotated order
# each run:
#   l-disk   local mode, the file -> a lake on /dev/shm (or $TMPDIR when there is none)
#   l-s3     local mode, the file -> S3 (moto)
#   s-disk   --stream -> the same local lake
#   s-s3     --stream -> S3 (moto)
#   s-s3ka   --stream -> S3 through tests/fault_proxy.py with no faults: the proxy keeps
#            kinlake's connections open, as S3 does, where moto's server closes each one
#            after its answer (a new TCP connection a request)
#   s-sink   --stream -> bench/s3_sink.py, an S3 stand-in that answers from memory for
#            ~0.15 ms of CPU a request where moto takes ~2.5 ms on the same CPUs: what
#            the stream costs into an S3 that is not on this machine
#   l-files  local mode -> disk with --max-file-bytes $BENCH_LFILES_BYTES [160KiB], which
#            at 100k events cuts about as many files as the stream writes (each shard
#            writes each partition): what the file count costs local mode
#   l-fsink  the same into the S3 stand-in: what a PUT of as many files costs local mode;
#            against s-sink, what is left is the stream's own work
# Printed: CPU ms (user + system, /usr/bin/time) and files of every job, the CPU the S3
# server (moto or the sink) and the replay server used meanwhile (they share the machine
# with kinlake), then medians and the ratios issue 12 asks about. RUNS [3].
# bench/README.md, sessions 51 and 53.
set -euo pipefail
EVENTS=${1:-100000} RUNS=${2:-3} LFILES=${BENCH_LFILES_BYTES:-160KiB}
[ -n "${KINLAKE:-}" ] && KINLAKE=$(realpath "$KINLAKE")
. "$(dirname "$0")/_lib.sh"
T=$(mktemp -d "${TMPDIR:-/tmp}/kl-scpu.XXXXXX")
D=/dev/shm
[ -d "$D" ] && [ -w "$D" ] || D=$T
D=$(mktemp -d "$D/kl-scpu-lake.XXXXXX")
proxy= REPLAY_PID= SINK_PID=
export KL_STACK_DIR=$T/stack KL_MOTO_PORT=0 KL_KINESIS_PORT=0
trap '[ -z "$proxy" ] || kill "$proxy" 2>/dev/null || true; [ -z "$SINK_PID" ] || kill "$SINK_PID" 2>/dev/null || true; KL_STACK_SIGNAL=KILL scripts/stack.sh down >/dev/null 2>&1 || true; [ -z "$REPLAY_PID" ] || kill "$REPLAY_PID" 2>/dev/null || true; rm -rf "$T" "$D"' EXIT
"$KINLAKE" gen --events "$EVENTS" >"$T/in.jsonl"
replay_stack "$T" "$T/in.jsonl"
python3 tests/fault_proxy.py --upstream "$MOTO_URL" --port-file "$T/proxy.port" >"$T/proxy.log" 2>&1 &
proxy=$!
disown "$proxy"
await_port "$T/proxy.port" "the proxy" "$T/proxy.log"
PROXY_URL=http://127.0.0.1:$(cat "$T/proxy.port")
s3_sink "$T" "$T/sink.log"

HZ=$(getconf CLK_TCK)
pcpu() { # PIDFILE: user + system ms of that process so far
	awk -v hz="$HZ" '{ printf "%d\n", ($14 + $15) * 1000 / hz }' "/proc/$(cat "$1")/stat"
}
job() { # NAME RUN: one run of a job; prints "NAME CPU_MS FILES S3_SERVER_MS REPLAY_MS"
	local a=() url=$MOTO_URL
	rm -rf "$D/lake"
	case $1 in
	l-disk) a=(--input "$T/in.jsonl" --lake "$D/lake") ;;
	l-s3) a=(--input "$T/in.jsonl" --lake "s3://bench/$1-$2") ;;
	s-disk) a=(--stream bench --lake "$D/lake" --exit-idle 2) ;;
	s-s3) a=(--stream bench --lake "s3://bench/$1-$2" --exit-idle 2) ;;
	s-s3ka) a=(--stream bench --lake "s3://bench/$1-$2" --exit-idle 2) url=$PROXY_URL ;;
	s-sink) a=(--stream bench --lake "s3://bench/$1-$2" --exit-idle 2) url=$SINK_URL ;;
	l-files) a=(--input "$T/in.jsonl" --lake "$D/lake" --max-file-bytes "$LFILES") ;;
	l-fsink) a=(--input "$T/in.jsonl" --lake "s3://bench/$1-$2" --max-file-bytes "$LFILES")
		url=$SINK_URL ;;
	esac
	local m0 s0 r0
	m0=$(pcpu "$KL_STACK_DIR/moto.pid") s0=$(pcpu "$T/sink.pid") r0=$(pcpu "$KL_STACK_DIR/kinesis.pid")
	AWS_ENDPOINT_URL_S3=$url /usr/bin/time -f '%U %S' -o "$T/time" \
		"$KINLAKE" ingest --no-progress "${a[@]}" >/dev/null 2>"$T/err" ||
		die "$1 (run $2): $(tail -3 "$T/err")"
	local files
	files=$(grep -o 'files=[0-9]*' "$T/err" | tail -1 | cut -d= -f2)
	echo "$1 $(awk '{ printf "%d", ($1 + $2) * 1000 }' "$T/time") ${files:-?}" \
		"$(($(pcpu "$KL_STACK_DIR/moto.pid") - m0 + $(pcpu "$T/sink.pid") - s0))" \
		"$(($(pcpu "$KL_STACK_DIR/kinesis.pid") - r0))"
}

jobs=(l-disk l-s3 s-disk s-s3 s-s3ka s-sink l-files l-fsink)
echo "$EVENTS events, 4 shards (replay server), S3 on moto; $(bench_rev), $(bench_cpus)"
echo "| run | job | CPU ms | files | S3 server CPU ms | replay server CPU ms |"
echo "|---:|---|---:|---:|---:|---:|"
for r in $(seq "$RUNS"); do
	k=$(((r - 1) % ${#jobs[@]}))
	for j in "${jobs[@]:$k}" "${jobs[@]:0:$k}"; do
		read -r name ms files moto replay < <(job "$j" "$r")
		echo "$name $ms $moto" >>"$T/cpu"
		echo "| $r | $name | $ms | $files | $moto | $replay |"
	done
done
m() { awk -v j="$1" -v c="${2:-2}" '$1 == j { print $c }' "$T/cpu" | med nan %.0f; }
for j in "${jobs[@]}"; do echo "median $j: $(m "$j") ms (S3 server meanwhile $(m "$j" 3) ms)"; done
echo "stream -> S3 / local -> disk: $(calc %.2f "$(m s-s3) / $(m l-disk)")" \
	"(through the keep-alive proxy: $(calc %.2f "$(m s-s3ka) / $(m l-disk)"))"
echo "stream -> the S3 sink / local -> disk: $(calc %.2f "$(m s-sink) / $(m l-disk)")"
echo "stream -> disk / local -> disk: $(calc %.2f "$(m s-disk) / $(m l-disk)")"
echo "at about the stream's file count (--max-file-bytes $LFILES): local -> disk" \
	"$(calc %.2f "$(m l-files) / $(m l-disk)") x local mode's default;" \
	"stream -> disk / that $(calc %.2f "$(m s-disk) / $(m l-files)");" \
	"stream -> the sink / local -> the sink with as many files $(calc %.2f "$(m s-sink) / $(m l-fsink)")"
echo "stream -> S3 / local -> S3: $(calc %.2f "$(m s-s3) / $(m l-s3)")"
echo "S3's part, stream: $(calc %.0f "$(m s-s3) - $(m s-disk)") ms (into the sink:" \
	"$(calc %.0f "$(m s-sink) - $(m s-disk)") ms);" \
	"local mode: $(calc %.0f "$(m l-s3) - $(m l-disk)") ms"
echo "S3 requests through the proxy: $(curl -s "$PROXY_URL/__fault/stats" |
	python3 -c 'import json, sys; print(json.load(sys.stdin)["requests"])')"
