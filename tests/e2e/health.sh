# GET /health of a stream run (--metrics-listen), as a container platform's probe
# asks it, against kinesis-mock:
#  1. while the shards read: 200, {"status":"ok"} with the shards running;
#  2. the emulator frozen (SIGSTOP: every GetRecords hangs, as behind a wedged
#     network or a writer stuck with full buffers): 503 {"status":"stalled"} once
#     --stall-timeout (10 s) passed without an answer, a record or a commit;
#  3. the emulator back (SIGCONT): 200 "ok" again, and SIGTERM ends the run with
#     exit 0 and every event in the lake once;
#  4. the same run under systemd's protocol (NOTIFY_SOCKET, WATCHDOG_USEC 2 s; a
#     Python datagram socket stands in for systemd): READY=1 first, WATCHDOG=1
#     every second while running, none while stalled, again after, STOPPING=1;
#  5. the option: at least 10 s, and in stream mode twice --idle-poll-interval
#     (a caught-up shard's heartbeat), one message and exit 2 each (the flag
#     or KINLAKE_STALL_TIMEOUT);
#  6. local mode from a pipe that goes quiet (set up before 2, asked after
#     its wait): its events committed, nothing to commit, "ok" however long
#     the pipe is quiet (--stall-timeout 10 passed); the pipe closed, exit 0
#     and every event once.
# "stalled" in local mode (an S3 that never answers) is in fault_s3.sh, and
# "stopping" (SIGTERM while the writer is held up) in fault_shutdown.sh.
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
# systemd's side of sd_notify(3): a datagram socket that logs what arrives, one
# line a notification ("|" for its newlines)
python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
while True:
    print(s.recv(4096).decode().replace("\n", "|"), flush=True)
' "$T/n" > "$T/notify.log" 2>&1 &
pids+=($!)
wait_for 10 test -S "$T/n" || fail "no notify socket"
NOTIFY_SOCKET=$T/n WATCHDOG_USEC=2000000 \
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

# 6, set up: local mode reading a FIFO held open (fd 7); its 200 events
# committed (1 s flushes), then quiet
mkfifo "$T/fifo"
"$KL" ingest --input "$T/fifo" --input-id quiet-pipe --lake "$T/llake" --format jsonl \
	--flush-interval 1 --metrics-listen 127.0.0.1:0 --stall-timeout 10 --no-progress \
	2> "$T/lerr" & lpid=$!
pids+=("$lpid")
exec 7> "$T/fifo"
head -n 200 "$T/in.jsonl" > "$T/in200.jsonl"
cat "$T/in200.jsonl" >&7
lport=$(metrics_port "$T/lerr")
lstored() { curl -sf "http://127.0.0.1:$lport/metrics" | awk '$1 == "kinlake_events_stored_total" { print $2 }'; }
lall() { [ "$(lstored)" -ge 195 ] 2>/dev/null; } # a few of 200 may be dead letters
wait_for 20 lall || fail "local mode from a pipe: $(lstored) stored: $(cat "$T/lerr")"
# /health counts the quiet from the first call that saw the counters as they are
sleep 1.2 # the last flush's commit (1 s flushes)
curl -s -o /dev/null "http://127.0.0.1:$lport/health"

# 2. the emulator frozen: stalled after 10 s, not before
kill -STOP "$kpid"
t0=$SECONDS
wait_for 35 is "503 stalled" || fail_cont "not stalled 35 s after the emulator froze: $(health) $(cat "$T/h.json")"
took=$((SECONDS - t0))
[ "$took" -ge 9 ] || fail_cont "stalled after $took s, before --stall-timeout 10"
grepq 'stall-timeout 10 s' "$T/h.json" || fail_cont "the reason does not name the option: $(cat "$T/h.json")"
echo "stalled after $took s: $(cat "$T/h.json")"
sleep 2.5 # the watchdog's ticks (every 1 s) while stalled: no WATCHDOG=1 among them

# 3. back: ok again, a clean stop, every event once
kill -CONT "$kpid"
wait_for 30 is "200 ok" || fail "not ok again after the emulator came back: $(health) $(cat "$T/h.json")"
sleep 1.5 # a watchdog tick (every 1 s) of the resumed run
kill -TERM "$pid"
set +e; wait "$pid"; rc=$?; set -e
pids=()
cat "$T/err"
[ "$rc" = 0 ] || fail "exit $rc after SIGTERM"
check_lake "$T/in.jsonl" "$T/lake" > /dev/null || fail "the lake does not hold every event once"
# systemd's view: READY first; WATCHDOG=1 pings while running; none from the first
# "stalled" status to the last; pings again once it resumed; STOPPING at SIGTERM
sleep 0.3
cat "$T/notify.log"
[ "$(head -n 1 "$T/notify.log")" = "READY=1|STATUS=started" ] || fail "READY=1 is not the first notification"
grepq '^WATCHDOG=1|STATUS=running: ' "$T/notify.log" || fail "no watchdog ping while running"
awk '/STATUS=stalled/ { if (!first) first = NR; last = NR } { line[NR] = $0 }
	END { if (last - first < 1) exit 1; for (i = first; i <= last; i++) if (line[i] ~ /WATCHDOG=1/) exit 1 }' \
	"$T/notify.log" || fail "want 2+ stalled notifications with no WATCHDOG=1 among them"
awk '/STATUS=stalled/ { s = NR } /^WATCHDOG=1\|STATUS=running/ && s { ok = 1 } END { exit !ok }' "$T/notify.log" ||
	fail "no watchdog ping after the run resumed"
grepq '^STOPPING=1' "$T/notify.log" || fail "no STOPPING=1 after SIGTERM"

# 6. local mode, its pipe quiet for longer than --stall-timeout: ok
lh=$(curl -s -w ' %{http_code}' "http://127.0.0.1:$lport/health")
[ "${lh##* }" = 200 ] && grepq '"status":"ok"' <(echo "$lh") || fail "local mode, quiet pipe: $lh"
[ "$(echo "${lh% *}" | jget 'd["seconds_since_progress"]')" -ge 10 ] || fail "the pipe was not quiet for 10 s: $lh"
echo "local mode, quiet pipe: $lh"
exec 7>&-
set +e; wait "$lpid"; rc=$?; set -e
[ "$rc" = 0 ] || fail "local mode from a pipe: exit $rc: $(cat "$T/lerr")"
check_lake "$T/in200.jsonl" "$T/llake" > /dev/null || fail "local mode from a pipe: not every event once"

# 5. the option
opt() { # EXPECTED-MESSAGE, then the command's arguments (after ingest)
	local want=$1; shift
	set +e; "$KL" ingest "$@" 2> "$T/oe"; local r=$?; set -e
	[ "$r" = 2 ] || fail "exit $r for $*: $(cat "$T/oe")"
	[ "$(wc -l < "$T/oe")" = 1 ] && grepq -- "$want" "$T/oe" || fail "for $*: $(cat "$T/oe")"
}
opt "--stall-timeout" --input "$T/in.jsonl" --lake "$T/l2" --stall-timeout 5
opt "--stall-timeout" --stream hs --lake "$T/l2" --metrics-listen 127.0.0.1:0 --stall-timeout 5
opt "--stall-timeout must be at least twice --idle-poll-interval" --stream hs --lake "$T/l2" \
	--metrics-listen 127.0.0.1:0 --stall-timeout 60 --idle-poll-interval 31
set +e
KINLAKE_STALL_TIMEOUT=soon "$KL" ingest --stream hs --lake "$T/l2" --metrics-listen 127.0.0.1:0 2> "$T/oe"; r=$?
set -e
[ "$r" = 2 ] && grepq "KINLAKE_STALL_TIMEOUT" "$T/oe" || fail "KINLAKE_STALL_TIMEOUT=soon: exit $r: $(cat "$T/oe")"
echo "health: ok"
