# Sourced by tests/e2e/*.sh. Gives: $KL (the binary under test), $T (a fresh
# temp dir), fail(), grepq(), check_lake(), lake_digest(), free_port(), sleep (without
# a fork) and set -euo pipefail. On exit every pid in $pids is stopped (kill
# -$STOP_SIGNAL, TERM unless the test says otherwise) and reaped, the stack of
# start_stack is stopped, and $T is removed. Servers: start_moto / moto_up (moto alone),
# start_stack (kinesis-mock and moto); metrics_port (a --metrics-listen port),
# health_status / health_trail / never_stalled (its GET /health: once, every
# second, a slow run that must never read as stalled);
# slow_feed (a file through a slow pipe).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
KL=${KINLAKE:-$ROOT/build/kinlake}
T=$(mktemp -d "${TMPDIR:-/tmp}/kl-e2e.XXXXXX")
pids=() STOP_SIGNAL=TERM _stack_up= _servers=()
# the servers (moto_up's, start_stack's) go last and with SIGKILL: they hold
# nothing the test still needs, and a graceful stop costs seconds a server
cleanup() {
	for p in "${pids[@]}"; do
		[[ " ${_servers[*]} " == *" $p "* ]] && continue
		kill "-$STOP_SIGNAL" "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true
	done
	for p in "${_servers[@]}"; do kill -KILL "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
	[ -z "$_stack_up" ] || KL_STACK_SIGNAL=KILL "$ROOT/scripts/stack.sh" down >/dev/null 2>&1 || true
	rm -rf "$T"
}
trap cleanup EXIT
# stopped from outside (tests/run.sh's time limit): the same cleanup
trap 'exit 143' TERM INT
# sleep SECONDS: the shell's own wait (read with a timeout on a pipe nobody
# writes to), not /bin/sleep: the scripts poll every 0.05-0.5 s, and a fork
# and exec of sleep costs CPU that the tests on 2 cores share (200 `sleep
# 0.01` took 2.35 CPU s at load 12 here, 200 of these 0.06). An argument read
# cannot take goes to the real sleep.
exec {_nap_fd}<> <(:)
sleep() { read -rt "$1" -u "$_nap_fd" _ 2>/dev/null || [ $? -gt 128 ] || command sleep "$@"; }
fail() { echo "FAIL: $*" >&2; exit 1; }
# grep -q for the end of a pipe: reads all its input, so that under pipefail
# a writer still writing when the match is found gets no SIGPIPE (status 141
# would read as "no match"); takes grep's other options and the pattern
grepq() { grep "$@" > /dev/null; }
check_lake() { node "$ROOT/tests/js/check_lake.mjs" "$@"; }
# sha256 of every file under a lake's events/ and errors/, sorted by path
lake_digest() { (cd "$1" && find events errors -type f -print0 2>/dev/null | sort -z | xargs -0 sha256sum); }
# a TCP port on 127.0.0.1 that nothing listens on now
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# moto_up [COMMAND ARGS...]: a moto server of this test's own on a free port
# (moto_server, or a command that takes its -H HOST -p PORT, such as
# tests/moto_strict.py), its pid in $pids, its log $T/moto.log; sets MOTO (its
# port) and MOTO_URL. Settings for the server go in the call's environment:
#   MOTO_S3_DEFAULT_MAX_KEYS=2 moto_up
moto_up() {
	[ $# -gt 0 ] || set -- moto_server
	command -v "$1" >/dev/null || fail "$1 not installed"
	MOTO=$(free_port)
	"$@" -H 127.0.0.1 -p "$MOTO" >"$T/moto.log" 2>&1 &
	pids+=($!) _servers+=($!)
	MOTO_URL=http://127.0.0.1:$MOTO
	for _ in $(seq 100); do curl -sf "$MOTO_URL/moto-api/" >/dev/null 2>&1 && break; sleep 0.2; done
	curl -sf "$MOTO_URL/moto-api/" >/dev/null || fail "moto did not start: $(tail -5 "$T/moto.log")"
}
# start_moto: moto_up, and a fresh HOME and test keys; unsets the AWS settings
# a developer's shell may carry.
start_moto() {
	command -v aws >/dev/null || fail "aws CLI not installed"
	moto_up "$@"
	mkdir -p "$T/home"
	export HOME=$T/home AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION=us-east-1
	unset AWS_PROFILE AWS_SESSION_TOKEN AWS_ENDPOINT_URL AWS_REGION || true
}
# start_stack: kinesis-mock and moto of this test's own (scripts/stack.sh on
# free ports, state under $T/stack), stopped on exit; exports the stack's
# environment (AWS_ENDPOINT_URL is moto, AWS_ENDPOINT_URL_KINESIS the
# emulator, test keys) and sets K, the aws CLI's kinesis command for it.
start_stack() {
	export KL_STACK_DIR=$T/stack KL_KINESIS_PORT=0 KL_MOTO_PORT=0
	_stack_up=1
	"$ROOT/scripts/stack.sh" up >/dev/null
	. "$T/stack/env"
	K="aws --endpoint-url $AWS_ENDPOINT_URL_KINESIS kinesis"
}
# start_stack_loaded STREAM SHARDS FILE: start_stack with kinesis-mock only
# (KL_STACK_SERVERS), whose STREAM (SHARDS shards) holds FILE's lines as plain
# records from the start. They are written straight into the emulator's
# persisted state (tests/js/kinesis_put.mjs --emulator-state, as
# bench/kinesis.sh does: the same shards, keys, data and sequence numbers as
# its PutRecords, bench/README.md) between a first start that creates the
# stream and a second that loads it: the emulator's PutRecords costs
# O(records already in the shard) per record, this one more start-up.
start_stack_loaded() {
	local st=$T/emulator
	mkdir -p "$st"
	export KL_STACK_DIR=$T/stack KL_KINESIS_PORT=0 KL_STACK_SERVERS=kinesis
	_stack_up=1
	SHOULD_PERSIST_DATA=true PERSIST_PATH=$st PERSIST_INTERVAL=200ms INITIALIZE_STREAMS=$1:$2 \
		"$ROOT/scripts/stack.sh" up >/dev/null
	# a persisted copy that holds the stream ACTIVE
	for _ in $(seq 1 150); do
		node -e 'const [f, o, name] = process.argv.slice(1), fs = require("fs");
			const j = JSON.parse(fs.readFileSync(f, "utf8"));
			if (!Object.values(j.streams).some((x) => x.streamName === name && x.streamStatus === "ACTIVE")) process.exit(1);
			fs.writeFileSync(o, JSON.stringify(j));' "$st/kinesis-data.json" "$st/ready.json" "$1" 2>/dev/null && break
		sleep 0.2
	done
	[ -f "$st/ready.json" ] || fail "kinesis-mock did not persist stream $1 in $st"
	KL_STACK_SIGNAL=KILL "$ROOT/scripts/stack.sh" down >/dev/null 2>&1
	mv "$st/ready.json" "$st/kinesis-data.json"
	node "$ROOT/tests/js/kinesis_put.mjs" "$1" "$3" --emulator-state "$st/kinesis-data.json" >"$st/put.json" ||
		fail "could not write $3 into the emulator's state"
	# (the emulator answers once it has loaded the state: ~0.6 ms a record, more under load)
	LOAD_DATA_IF_EXISTS=true PERSIST_PATH=$st KL_STACK_WAIT=$((60 + $(wc -l <"$3") / 100)) \
		"$ROOT/scripts/stack.sh" up >/dev/null
	. "$T/stack/env"
	K="aws --endpoint-url $AWS_ENDPOINT_URL_KINESIS kinesis"
}
# reshard split-shard|merge-shards ARGS...: the call through $K, retried while
# the emulator refuses it because the stream is still updating
reshard() { for _ in $(seq 1 50); do $K "$@" > /dev/null 2>&1 && return 0; sleep 0.3; done; fail "$*"; }
# metrics_port ERRFILE: the port of a --metrics-listen 127.0.0.1:0 run, from the
# address it prints on stderr (waits up to 10 s; ERRFILE may not exist yet: the
# run started in the background opens it)
metrics_port() {
	local port=
	for _ in $(seq 1 100); do
		port=$(sed -n 's|.*metrics at http://127.0.0.1:\([0-9]*\)/metrics|\1|p' "$1" 2>/dev/null || true)
		[ -n "$port" ] && break; sleep 0.1
	done
	[ -n "$port" ] || fail "no metrics address printed: $(cat "$1" 2>/dev/null)"
	echo "$port"
}
# health_status PORT: "HTTP_CODE STATUS" of GET /health of a --metrics-listen
# run on PORT ("200 ok", "503 stalled"); the body is left in $T/h.json
health_status() {
	curl -s -o "$T/h.json" -w '%{http_code}' "http://127.0.0.1:$1/health" 2>/dev/null &&
		echo " $(jget 'd["status"]' < "$T/h.json")"
}
# health_trail PID PORT: GET /health every second until process PID exits;
# prints " SECONDS:STATUS" for each answer (SECONDS since the call)
health_trail() {
	local t0=$SECONDS s trail=
	while kill -0 "$1" 2>/dev/null; do
		s=$(health_status "$2" || true)
		[ -z "$s" ] || trail="$trail $((SECONDS - t0)):${s#* }"
		sleep 1
	done
	echo "$trail"
}
# never_stalled WHAT PID ERRFILE: a --metrics-listen --stall-timeout 10 run
# (process PID, its stderr in ERRFILE) that must outlast the stall timeout
# without reading as stalled (a slow link whose bytes move): its /health
# every second until it exits; fails unless it exited 0 after 12 s or more,
# answered 10 times or more and never said "stalled"
never_stalled() {
	local what=$1 pid=$2 err=$3 t0=$SECONDS seen rc took
	seen=$(health_trail "$pid" "$(metrics_port "$err")")
	set +e; wait "$pid"; rc=$?; set -e
	took=$((SECONDS - t0))
	echo "$what: the run took $took s; /health said$seen"
	[ "$rc" = 0 ] || fail "$what: exit $rc: $(cat "$err")"
	[ "$took" -ge 12 ] || fail "$what: the run took $took s, not longer than --stall-timeout 10: it shows nothing"
	case $seen in *stalled*) fail "$what: stalled while its bytes moved:$seen" ;; esac
	[ "$(echo "$seen" | wc -w)" -ge 10 ] || fail "$what: too few /health answers:$seen"
}
# slow_feed RATE FILE: FILE's lines on stdout at about RATE lines a second, so
# that a run reading them (`--input - --input-id NAME`) lasts lines ÷ RATE
# seconds on any machine, and a kill at a moment inside that span lands
# mid-run. Ends quietly when the reader is gone.
slow_feed() {
	python3 -c '
import sys, time
rate, out, n = float(sys.argv[1]), sys.stdout.buffer, 0
t0 = time.monotonic()
try:
    with open(sys.argv[2], "rb") as f:
        for line in f:
            out.write(line)
            n += 1
            if n % 100 == 0:
                out.flush()
                d = t0 + n / rate - time.monotonic()
                if d > 0:
                    time.sleep(d)
    out.flush()
except (BrokenPipeError, KeyboardInterrupt):
    sys.stderr.close()
' "$1" "$2"
}
# metric NAME FILE: a sample's value from a --metrics-file (0 without the
# file, empty without the sample)
metric() { awk -v k="$1" '$1 == k { print $2 }' "$2" 2>/dev/null || echo 0; }
put() { node "$ROOT/tests/js/kinesis_put.mjs" "$@" 2>/dev/null; }
# fault_proxy NAME UPSTREAM [ARGS...]: tests/fault_proxy.py in front of the
# URL UPSTREAM with ARGS (--mode, --fault, --op-fault, ...), stopped on exit,
# its log in $T/NAME.log; sets P to its port
fault_proxy() {
	local name=$1 up=$2; shift 2
	python3 "$ROOT/tests/fault_proxy.py" --upstream "$up" --port-file "$T/$name.port" "$@" >"$T/$name.log" 2>&1 &
	pids+=($!)
	for _ in $(seq 100); do [ -s "$T/$name.port" ] && break; sleep 0.05; done
	[ -s "$T/$name.port" ] || fail "proxy $name did not start: $(cat "$T/$name.log")"
	P=$(cat "$T/$name.port")
}
# jget EXPR < JSON: the Python expression EXPR over the JSON document on stdin (as d)
jget() { python3 -c 'import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1], {}, {"d": d}))' "$1"; }
# wait_for SECONDS COMMAND...: until COMMAND succeeds, polled every 0.1 s (1: it never did)
wait_for() { local n=$(($1 * 10)); shift; for _ in $(seq "$n"); do "$@" && return 0; sleep 0.1; done; return 1; }
# s3lite ENDPOINT mb s3://BUCKET | s3lite ENDPOINT cp s3://BUCKET/PREFIX DIR:
# `aws s3 mb` and `aws s3 cp --recursive --quiet` against the local moto
# without the aws CLI's start-up and per-object CPU (tests/s3_lite.py)
s3lite() { python3 "$ROOT/tests/s3_lite.py" "$@"; }
# lease_worker ID [ARGS...]: `ingest --stream $STREAM --lease-table kl-leases`
# as worker ID in the background ($pids, $pid_ID) into the local lake
# $T/lake (JSON lines, 1 s flushes), metrics in $T/ID.prom, stderr in
# $T/ID.log. LEASE_TIMEOUT and LEASE_RENEW (s) and LEASE_THREADS (parse
# threads per shard; default KL_LEASE_THREADS, else 2: the parallel read
# loop, pipeline/prep.h) as the script sets them.
lease_worker() {
	local id=$1
	shift
	"$KL" ingest --stream "$STREAM" --lake "$T/lake" --format jsonl --flush-interval 1 \
		--lease-table kl-leases --worker-id "$id" --lease-timeout "$LEASE_TIMEOUT" \
		--lease-renew-interval "$LEASE_RENEW" --threads "${LEASE_THREADS:-${KL_LEASE_THREADS:-2}}" \
		--metrics-file "$T/$id.prom" --metrics-interval 0.3 "$@" 2> "$T/$id.log" &
	pids+=($!)
	eval "pid_$id=$!"
}
# lease_metric NAME ID: kinlake_NAME{worker="ID"} of worker ID (0 before its first write)
lease_metric() { local v; v=$(metric "kinlake_$1{worker=\"$2\"}" "$T/$2.prom"); echo "${v:-0}"; }
held() { lease_metric leases_held "$1"; }
# await_held N W...: wait (up to 30 s) until each lease worker named holds N
# leases; else the script's dump() and fail
await_held() {
	local n=$1 w ok
	shift
	for _ in $(seq 1 120); do
		ok=1
		for w in "$@"; do [ "$(held "$w")" = "$n" ] || ok=0; done
		[ "$ok" = 1 ] && return 0
		sleep 0.25
	done
	dump
	fail "no split with $n leases each: $(for w in "$@"; do printf '%s=%s ' "$w" "$(held "$w")"; done)"
}
# await_lake TRIES: poll (every 0.5 s, up to TRIES times) until check_lake
# finds every line of $T/all.jsonl in $T/lake, duplicates allowed; the last
# report is in $T/check.json. Returns 1 if it never did.
await_lake() {
	for _ in $(seq 1 "$1"); do
		check_lake "$T/all.jsonl" "$T/lake" --allow-duplicates > "$T/check.json" 2> /dev/null && return 0
		sleep 0.5
	done
	return 1
}
# once_check REPORT [WANT]: check_lake's --allow-duplicates report (JSON) says
# every event is stored once, none lost (and, given WANT, that all WANT input
# lines were read); prints the counts
once_check() {
	python3 - "$1" "${2:-}" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
assert not sys.argv[2] or c["lines"] == int(sys.argv[2]), c
print(f"lake: {c['expected_events']} events, none lost, {c['stored'] - c['expected_events']} stored twice")
assert c["stored"] == c["expected_events"], c
PY
}
# stop_workers W...: SIGTERM the lease workers named (their pids in pid_W);
# each must exit 0; then nothing is left for cleanup to stop
stop_workers() {
	local w p
	for w in "$@"; do p=pid_$w; kill -TERM "${!p}"; done
	for w in "$@"; do p=pid_$w; wait "${!p}" || fail "$w: $(cat "$T/$w.log")"; done
	pids=()
}
# event_producer STREAM SEED PAUSE: until $T/stop exists, batches of 150
# events (kinlake gen, seeds SEED+1, SEED+2, ...) put to STREAM every PAUSE
# seconds and appended to $T/all.jsonl (which it empties first)
event_producer() {
	local i=0
	: > "$T/all.jsonl"
	while [ ! -e "$T/stop" ]; do
		i=$((i + 1))
		"$KL" gen --events 150 --seed $(($2 + i)) > "$T/b$i.jsonl"
		put "$1" "$T/b$i.jsonl" > /dev/null || { echo "put $i failed" >&2; return 1; }
		cat "$T/b$i.jsonl" >> "$T/all.jsonl"
		sleep "$3"
	done
}
