# --metrics-listen cannot be starved: with 50 idle connections and a client
# trickling a byte every 0.9 s held open, normal scrapes still answer at once;
# the trickler and the idle ones are cut off by the per-connection deadline
# (2 s), not served for half an hour; 150 more idle connections (over the
# 64-connection cap) evict the oldest idle ones instead of locking scrapes out.
# duration: 5 (seconds, for the test runner's ordering: a quiet 2-core machine)
. "$(dirname "$0")/_lib.sh"
"$KL" gen --events 200 --seed 3 > "$T/in.jsonl"
mkfifo "$T/fifo"
"$KL" ingest --input - --input-id starve --lake "$T/lake" --format jsonl \
	--metrics-listen 127.0.0.1:0 < "$T/fifo" 2> "$T/err" & pid=$!
exec 3> "$T/fifo"
cat "$T/in.jsonl" >&3
port=$(metrics_port "$T/err")
python3 - "$port" <<'PY' || fail "starvation check"
import socket, sys, time
port = int(sys.argv[1])

def scrape():
    t = time.monotonic()
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
    data = b""
    while True:
        b = s.recv(65536)
        if not b:
            break
        data += b
    s.close()
    assert data.startswith(b"HTTP/1.1 200 OK"), data[:80]
    assert b"kinlake_records_read_total" in data
    return time.monotonic() - t

def closed_by_server(s):
    s.settimeout(0.05)
    try:
        return s.recv(1) == b""
    except socket.timeout:
        return False
    except OSError:
        return True

idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(50)]
trick = socket.create_connection(("127.0.0.1", port))
trick.sendall(b"G")
t0 = time.monotonic()
worst = max(scrape() for _ in range(5))
print("5 scrapes beside 50 idle + 1 trickler: worst %.3f s" % worst)
assert worst < 1.0, worst
# keep trickling: the server must drop it at its deadline
cut = None
for ch in b"ET /metrics HTTP/1.1\r\nHost: x\r\n":
    time.sleep(0.9)
    try:
        trick.sendall(bytes([ch]))
    except OSError:
        cut = time.monotonic() - t0
        break
    if closed_by_server(trick):
        cut = time.monotonic() - t0
        break
print("trickler cut after", cut)
assert cut is not None and cut < 4.0, cut
assert all(closed_by_server(s) for s in idle), "idle connections outlived their deadline"
for s in idle: s.close()
# over the cap: the oldest idle ones make room
flood = [socket.create_connection(("127.0.0.1", port)) for _ in range(150)]
time.sleep(0.2)
worst = max(scrape() for _ in range(3))
print("3 scrapes beside 150 idle: worst %.3f s" % worst)
assert worst < 1.0, worst
for s in flood: s.close()
PY
exec 3>&-
wait $pid || fail "ingest failed: $(cat "$T/err")"
check_lake "$T/in.jsonl" "$T/lake" > /dev/null
echo "metrics_starve: ok"
