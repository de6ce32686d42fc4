# Metrics of a running ingest: GET /metrics while the input pauses (--metrics-listen),
# the textfile (--metrics-file) at exit equal to the summary line, status lines on a
# non-terminal stderr, and precise errors for bad metrics flags.
# duration: 5 (seconds, for the test runner's ordering: a quiet 2-core machine)
. "$(dirname "$0")/_lib.sh"
"$KL" gen --events 6000 --bad-fraction 0.05 --seed 7 > "$T/in.jsonl"
head -n 2500 "$T/in.jsonl" > "$T/a.jsonl"; tail -n +2501 "$T/in.jsonl" > "$T/b.jsonl"
mkfifo "$T/fifo"
"$KL" ingest --input - --input-id m1 --lake "$T/lake" --format jsonl --flush-interval 1 \
	--metrics-listen 127.0.0.1:0 --metrics-file "$T/m.prom" --metrics-interval 0.2 \
	--status-interval 0.5 < "$T/fifo" 2> "$T/err" & pid=$!
exec 3> "$T/fifo"
cat "$T/a.jsonl" >&3
port=$(metrics_port "$T/err")
# the reader publishes on its idle wake-up (--flush-interval 1): all of part a is counted
got=
for _ in $(seq 1 50); do
	got=$(curl -sf "http://127.0.0.1:$port/metrics" | awk '$1 == "kinlake_records_read_total" { print $2 }') || got="curl failed: $?"
	[ "$got" = 2500 ] && break; sleep 0.2
done
[ "$got" = 2500 ] || fail "records_read_total mid-run: '$got', want 2500"
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/")
[ "$code" = 404 ] || fail "GET / gave $code, want 404"
# (the page read whole first: grep -q stopping at its match would make curl's
# next write fail, and pipefail report it)
page=$(curl -s "http://127.0.0.1:$port/metrics")
grep -q '^# TYPE kinlake_events_stored_total counter$' <<< "$page" || fail "no TYPE line"
sleep 0.6
cat "$T/b.jsonl" >&3
exec 3>&-
wait $pid || fail "ingest failed: $(cat "$T/err")"
cat "$T/err"
grep -q '^kinlake ingest: status: read=' "$T/err" || fail "no status line on a non-terminal stderr"
check_lake "$T/in.jsonl" "$T/lake" > /dev/null
metric() { awk -v k="$1" '$1 == k { print $2 }' "$T/m.prom"; }
summary() { sed -n "s/.* $1=\\([0-9]*\\) .*/\\1/p" "$T/err" | tail -n 1; }
[ "$(metric kinlake_records_read_total)" = 6000 ] || fail "records_read_total $(metric kinlake_records_read_total)"
[ "$(metric kinlake_events_stored_total)" = "$(summary stored)" ] || fail "events_stored_total"
[ "$(metric kinlake_dead_letters_stored_total)" = "$(summary dead_letters)" ] || fail "dead_letters_stored_total"
[ "$(metric kinlake_duplicates_total)" = "$(summary duplicates)" ] || fail "duplicates_total"
rej=$(awk '$1 ~ /^kinlake_rejected_total\{/ { s += $2 } END { print s }' "$T/m.prom")
[ "$rej" = "$(summary dead_letters)" ] && [ "$rej" -gt 0 ] || fail "rejected_total sum $rej"
[ "$(metric kinlake_bytes_read_total)" = "$(wc -c < "$T/in.jsonl")" ] || fail "bytes_read_total"
[ "$(metric kinlake_last_commit_timestamp_seconds)" -gt 0 ] || fail "last commit time"
! grep -q 'behind' "$T/m.prom" || fail "shard metrics in local mode"
# the memory budget: everything given back at the end, its limit, the process's RSS
[ "$(metric kinlake_buffer_bytes)" = 0 ] || fail "buffer_bytes $(metric kinlake_buffer_bytes) at the end"
[ "$(metric kinlake_buffer_limit_bytes)" -gt 0 ] || fail "buffer_limit_bytes"
[ "$(metric process_resident_memory_bytes)" -gt 1000000 ] || fail "process_resident_memory_bytes"
# bad flags: one precise line, exit 2
set +e
"$KL" ingest --input "$T/in.jsonl" --lake "$T/l2" --metrics-listen nohost 2> "$T/e1"; rc=$?
[ $rc = 2 ] && grep -q "^kinlake ingest: --metrics-listen: use HOST:PORT, \[IPV6\]:PORT or :PORT" "$T/e1" ||
	fail "bad listen: rc=$rc $(cat "$T/e1")"
"$KL" ingest --input "$T/in.jsonl" --lake "$T/l2" --metrics-listen 127.0.0.1:65536 2> "$T/e1"; rc=$?
[ $rc = 2 ] && grep -q "the port must be a number from 0 to 65535" "$T/e1" || fail "port 65536: rc=$rc $(cat "$T/e1")"
set -e
# [IPV6]:PORT and :PORT (every interface), as exporters take them
addrs=(':0')
if python3 -c 'import socket; s = socket.socket(socket.AF_INET6); s.bind(("::1", 0))' 2>/dev/null; then
	addrs+=('[::1]:0')
else
	echo "metrics: no IPv6 loopback on this machine: [::1]:PORT not tried"
fi
for addr in "${addrs[@]}"; do
	mkfifo "$T/fifo6"
	"$KL" ingest --input - --input-id v6 --lake "$T/l6" --metrics-listen "$addr" < "$T/fifo6" 2> "$T/e6" & pid=$!
	exec 3> "$T/fifo6"
	url=
	for _ in $(seq 1 100); do
		url=$(sed -n 's|.*metrics at \(http://[^ ]*/metrics\).*|\1|p' "$T/e6"); [ -n "$url" ] && break; sleep 0.1
	done
	[ -n "$url" ] || fail "--metrics-listen $addr: no address printed: $(cat "$T/e6")"
	case $addr in '['*) [[ $url == http://\[::1\]:* ]] || fail "--metrics-listen $addr printed $url" ;; esac
	page=$(curl -sf "$url") && grep -q '^kinlake_records_read_total 0$' <<< "$page" ||
		fail "--metrics-listen $addr: no metrics at $url"
	exec 3>&-
	wait $pid || fail "ingest with --metrics-listen $addr failed: $(cat "$T/e6")"
	rm -f "$T/fifo6"
done
set +e
"$KL" ingest --input "$T/in.jsonl" --lake "$T/l2" --metrics-file "$T/no/such/dir/m.prom" 2> "$T/e2"; rc=$?
[ $rc = 1 ] && grep -q "metrics file" "$T/e2" || fail "bad metrics file: rc=$rc $(cat "$T/e2")"
[ ! -e "$T/l2/events" ] || fail "ingest ran with an unwritable metrics file"
echo "metrics: ok"
