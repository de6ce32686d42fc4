# GET /health of a stream run (--metrics-listen), as a container platform's probe
# asks it, against kinesis-mock:
#  1. while the shards read: 200, {"status":"ok"} with the shards running;
#  2. the emulator frozen (SIGSTOP: every GetRecords hangs, as behind a wedged
#     network or a writer stuck with full buffers): 503 {"status":"stalled"} once
#     --stall-timeout (10 s) passed without an answer, a record or a commit;
#  3. the emulator back (SIGCONT): 200 "ok" again, and SIGTERM ends the run with
#     exit 0 and every event in the lake once;
#  4. the option: --stall-timeout needs --stream and --metrics-listen, at least
#     10 s and twice --idle-poll-interval (a caught-up shard's heartbeat), one
#     message and exit 2 each (the flag or KINLAKE_STALL_TIMEOUT).
# "stopping" (SIGTERM while the writer is stuck) is in fault_shutdown.sh.
# duration: 40 (seconds, for the test runner's ordering: a quiet 2-core machine)
. "$(dirname "$0")/_lib.sh"
KL_STACK_SERVERS=kinesis start_stack
kpid=$(cat "$T/stack/kinesis.pid")
# a frozen emulator must not outlive a failed check (the stack's stop signal
# waits for it)
fail_cont() { kill -CONT "$kpid" 2>/dev/null || true; fail "$@"; }
N=1000
$K create-stream --stream-name hs --shard-count 2
sleep 1
"$KL" gen --events "$N" --seed 48 > "$T/in.jsonl"
put hs "$T/in.jsonl"
"$KL" ingest --stream hs --lake "$T/lake" --format jsonl --metrics-listen 127.0.0.1:0 \
	--stall-timeout 10 --idle-poll-interval 0.2 --no-progress 2> "$T/err" & pid=$!
pids+=("$pid")
port=$(metrics_port "$T/err")
# health: "CODE STATUS SHARDS_RUNNING" of one GET /health
health() {
	curl -s -o "$T/h.json" -w '%{http_code}' "http://127.0.0.1:$port/health" > "$T/h.code" || return 1
	echo "$(cat "$T/h.code") $(jget '"%s %d" % (d["status"], d["shards_running"])' < "$T/h.json")"
}
is() { [ "$(health | cut -d' ' -f1-2)" = "$1" ]; }
running_ok() { local h; h=$(health) && [ "${h% *}" = "200 ok" ] && [ "${h##* }" -ge 1 ]; }

# 1. reading
wait_for 20 running_ok || fail "no 200 ok with shards running: $(health) $(cat "$T/h.json" 2>/dev/null)"
grepq '"seconds_since_progress":' "$T/h.json" || fail "body: $(cat "$T/h.json")"
grepq 'application/json' <(curl -s -D - -o /dev/null "http://127.0.0.1:$port/health") ||
	fail "not served as JSON"

# 2. the emulator frozen: stalled after 10 s, not before
kill -STOP "$kpid"
t0=$SECONDS
wait_for 35 is "503 stalled" || fail_cont "not stalled 35 s after the emulator froze: $(health) $(cat "$T/h.json")"
took=$((SECONDS - t0))
[ "$took" -ge 9 ] || fail_cont "stalled after $took s, before --stall-timeout 10"
grepq 'stall-timeout 10 s' "$T/h.json" || fail_cont "the reason does not name the option: $(cat "$T/h.json")"
echo "stalled after $took s: $(cat "$T/h.json")"

# 3. back: ok again, a clean stop, every event once
kill -CONT "$kpid"
wait_for 30 is "200 ok" || fail "not ok again after the emulator came back: $(health) $(cat "$T/h.json")"
kill -TERM "$pid"
set +e; wait "$pid"; rc=$?; set -e
pids=()
cat "$T/err"
[ "$rc" = 0 ] || fail "exit $rc after SIGTERM"
check_lake "$T/in.jsonl" "$T/lake" > /dev/null || fail "the lake does not hold every event once"

# 4. the option
opt() { # EXPECTED-MESSAGE, then the command's arguments (after ingest)
	local want=$1; shift
	set +e; "$KL" ingest "$@" 2> "$T/oe"; local r=$?; set -e
	[ "$r" = 2 ] || fail "exit $r for $*: $(cat "$T/oe")"
	[ "$(wc -l < "$T/oe")" = 1 ] && grepq -- "$want" "$T/oe" || fail "for $*: $(cat "$T/oe")"
}
opt "--stall-timeout needs --stream" --input "$T/in.jsonl" --lake "$T/l2" --stall-timeout 60
opt "--stall-timeout needs --metrics-listen" --stream hs --lake "$T/l2" --stall-timeout 60
opt "--stall-timeout" --stream hs --lake "$T/l2" --metrics-listen 127.0.0.1:0 --stall-timeout 5
opt "--stall-timeout must be at least twice --idle-poll-interval" --stream hs --lake "$T/l2" \
	--metrics-listen 127.0.0.1:0 --stall-timeout 60 --idle-poll-interval 31
set +e
KINLAKE_STALL_TIMEOUT=soon "$KL" ingest --stream hs --lake "$T/l2" --metrics-listen 127.0.0.1:0 2> "$T/oe"; r=$?
set -e
[ "$r" = 2 ] && grepq "KINLAKE_STALL_TIMEOUT" "$T/oe" || fail "KINLAKE_STALL_TIMEOUT=soon: exit $r: $(cat "$T/oe")"
echo "health: ok"
