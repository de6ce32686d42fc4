#!/usr/bin/env python3
"""fault_proxy.py — an HTTP proxy between kinlake and a local AWS emulator
(moto for S3, kinesis-mock for Kinesis) that answers a share of the requests
with faults, and counts what it did.

    python3 tests/fault_proxy.py --upstream http://127.0.0.1:5000 --mode s3 \
        --fault 500=0.03 --fault 503=0.03 --fault reset=0.03 --fault stall=0.03 \
        --stall-seconds 2 --port-file P [--seed 7]

Fault kinds (each --fault KIND=SHARE, shares add up to the total fault rate):
  500       HTTP 500 InternalError (S3 XML) / InternalFailure (Kinesis JSON)
  503       HTTP 503 SlowDown (S3 XML) / ServiceUnavailable (Kinesis JSON)
  pte       HTTP 400 ProvisionedThroughputExceededException (Kinesis JSON error)
  reset     the request is read, then the connection is reset (RST, no answer)
  stall     the request waits --stall-seconds before it is forwarded (a slow
            server; the client may give up first)
  expired_iter   HTTP 400 ExpiredIteratorException (Kinesis; the shard
            iterator is too old: the client must get another one)
  expired_token  HTTP 400 ExpiredTokenException (Kinesis JSON) / ExpiredToken
            (S3 XML): the session credentials expired, the client must renew
            them and send the request again
Every other request is forwarded unchanged; the answer is copied back.

--op-fault OP=KIND:COUNT[:SKIP] (Kinesis: OP is the X-Amz-Target operation,
e.g. ListShards; S3: the HTTP method, e.g. PUT): after SKIP calls of OP go
through, the next COUNT calls get KIND (COUNT -1: every later call), before
the random shares. A stalled request is forwarded after --stall-seconds even
when its client has gone by then: a request held up in the network that
reaches the server late (e2e/store_s3.sh, late writes).
--read-bps N: a slow link from the client. Every request body is read at N
bytes a second, and the listening socket takes small segments and a small
receive buffer, so that the client's own send buffer cannot swallow a large
body at once: a client sees its upload move at about that rate.
--write-bps N: a slow link to the client. Every answer's body is written at
N bytes a second (8 KiB at a time): a client sees a large answer (a
GetRecords of a megabyte) arrive at about that rate.
POST /__fault/op?op=OP&kind=KIND&count=COUNT&skip=SKIP sets it while it runs. The stats add ops: per operation, calls, faulted and max_inflight (the most
requests of it handled at once, a stall included: how many a client sends side by side).

GET /__fault/stats answers JSON: requests, forwarded, faults per kind,
faulted (the kinds after which a client must retry: 500, 503, pte, reset),
reset_reused (resets on a kept-alive connection, which libcurl itself may
send again at once: faulted - reset_reused <= the client's retries <= faulted),
max_per_second (the busiest second), retry_gaps_ms (for each request that
repeats a faulted one — same method, path and query — the time since the
fault). POST /__fault/set?KIND=SHARE&... changes the shares while it runs.
Python standard library only.
"""
import argparse
import http.client
import json
import random
import socket
import struct
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

KINDS = ("500", "503", "pte", "reset", "stall", "expired_iter", "expired_token")
# faults after which a client retries the same request (counted in "faulted");
# the expired ones are answered otherwise (a new iterator, renewed credentials)
RETRY_KINDS = ("500", "503", "pte", "reset")
OP_KINDS = RETRY_KINDS + ("expired_iter", "expired_token", "stall")


class State:
    def __init__(self, shares, seed):
        self.lock = threading.Lock()
        self.shares = dict(shares)
        self.rng = random.Random(seed)
        self.requests = 0
        self.forwarded = 0
        self.faults = {k: 0 for k in KINDS}
        # resets of a request that came on a kept-alive connection: libcurl
        # sends such a request again at once on a fresh connection by itself
        # (before its caller sees an error), so these are not the client's
        # retries and are left out of retry_gaps_ms
        self.reset_reused = 0
        self.per_second = {}
        self.last_fault = {}  # (method, path) -> monotonic time of its fault
        self.retry_gaps = []
        self.op_rules = {}  # op -> [kind, count left (-1: forever), calls to let through]
        self.ops = {}  # op -> {"calls": n, "faulted": n, "max_inflight": n}
        self.inflight = {}  # op -> requests of it being handled now

    def set_op(self, op, kind, count, skip):
        with self.lock:
            self.op_rules[op] = [kind, count, skip]

    def pick_op(self, op):
        """The fault an --op-fault rule gives this call of op (None: none)."""
        with self.lock:
            st = self.ops.setdefault(op, {"calls": 0, "faulted": 0})
            st["calls"] += 1
            rule = self.op_rules.get(op)
            if not rule or rule[1] == 0:
                return None
            if rule[2] > 0:
                rule[2] -= 1
                return None
            if rule[1] > 0:
                rule[1] -= 1
            st["faulted"] += 1
            return rule[0]

    def enter(self, op):
        """A request of op is being handled (until leave): its most at once."""
        with self.lock:
            st = self.ops.setdefault(op, {"calls": 0, "faulted": 0})
            n = self.inflight[op] = self.inflight.get(op, 0) + 1
            st["max_inflight"] = max(st.get("max_inflight", 0), n)

    def leave(self, op):
        with self.lock:
            self.inflight[op] -= 1

    def pick(self, method, target, reused, forced=None):
        """The fault for this request (None: forward), counting it; forced:
        the fault an --op-fault rule chose."""
        now = time.monotonic()
        with self.lock:
            self.requests += 1
            sec = int(now)
            self.per_second[sec] = self.per_second.get(sec, 0) + 1
            key = (method, target)
            if key in self.last_fault:
                t, own = self.last_fault.pop(key)
                if own:
                    self.retry_gaps.append(round((now - t) * 1000, 1))
            r = self.rng.random()
            kind = forced
            for k in KINDS if not forced else ():
                share = self.shares.get(k, 0.0)
                if r < share:
                    kind = k
                    break
                r -= share
            if kind:
                self.faults[kind] += 1
                if kind == "reset" and reused:
                    self.reset_reused += 1
                if kind in RETRY_KINDS:
                    self.last_fault[key] = (now, not (kind == "reset" and reused))
            return kind

    def stats(self):
        with self.lock:
            return {
                "requests": self.requests,
                "forwarded": self.forwarded,
                "faults": dict(self.faults),
                "faulted": sum(self.faults[k] for k in RETRY_KINDS),
                "reset_reused": self.reset_reused,
                "max_per_second": max(self.per_second.values(), default=0),
                "retry_gaps_ms": list(self.retry_gaps),
                "shares": dict(self.shares),
                "ops": {k: dict(v) for k, v in self.ops.items()},
            }


def error_body(mode, kind):
    if mode == "kinesis":
        t = {"500": "InternalFailure", "503": "ServiceUnavailable",
             "pte": "ProvisionedThroughputExceededException",
             "expired_iter": "ExpiredIteratorException",
             "expired_token": "ExpiredTokenException"}[kind]
        msg = "Rate exceeded for shard" if kind == "pte" else "injected by fault_proxy"
        return ("application/x-amz-json-1.1",
                json.dumps({"__type": t, "message": msg}).encode())
    code = {"500": "InternalError", "503": "SlowDown", "pte": "SlowDown",
            "expired_iter": "InvalidArgument", "expired_token": "ExpiredToken"}[kind]
    return ("application/xml",
            ("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>%s</Code>"
             "<Message>injected by fault_proxy</Message><RequestId>FAULT</RequestId></Error>"
             % code).encode())


def make_handler(args, state, upstream):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *a):  # quiet
            pass

        def _body(self):
            n = int(self.headers.get("Content-Length") or 0)
            if not n or not args.read_bps:
                return self.rfile.read(n) if n else b""
            parts, got, t0 = [], 0, time.monotonic()
            while got < n:  # --read-bps: a slow link
                c = self.rfile.read(min(8192, n - got))
                if not c:
                    break
                parts.append(c)
                got += len(c)
                ahead = got / args.read_bps - (time.monotonic() - t0)
                if ahead > 0:
                    time.sleep(ahead)
            return b"".join(parts)

        def _send(self, status, headers, body):
            self._left()  # the request's answer is ready: it is no longer in flight
            self.send_response(status)
            for k, v in headers:
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command == "HEAD":
                return
            if not args.write_bps:
                self.wfile.write(body)
                return
            t0 = time.monotonic()
            for i in range(0, len(body), 8192):  # --write-bps: a slow link
                self.wfile.write(body[i:i + 8192])
                self.wfile.flush()
                ahead = (i + 8192) / args.write_bps - (time.monotonic() - t0)
                if ahead > 0:
                    time.sleep(ahead)

        def _control(self, body):
            u = urllib.parse.urlsplit(self.path)
            if u.path == "/__fault/stats":
                out = json.dumps(state.stats()).encode()
            elif u.path == "/__fault/op":
                q = dict(urllib.parse.parse_qsl(u.query))
                if q.get("kind") not in OP_KINDS:
                    self._send(400, [], b"unknown kind\n")
                    return
                state.set_op(q["op"], q["kind"], int(q.get("count", "-1")), int(q.get("skip", "0")))
                out = json.dumps(state.op_rules).encode()
            else:  # /__fault/set
                with state.lock:
                    for k, v in urllib.parse.parse_qsl(u.query):
                        if k not in KINDS:
                            self._send(400, [], b"unknown kind\n")
                            return
                        state.shares[k] = float(v)
                out = json.dumps(state.shares).encode()
            self._send(200, [("Content-Type", "application/json")], out)

        def handle_one(self):
            body = self._body()
            if self.path.startswith("/__fault/"):
                self._control(body)
                return
            self.nreq = getattr(self, "nreq", 0) + 1
            op = ((self.headers.get("X-Amz-Target") or "").rpartition(".")[2]
                  if args.mode == "kinesis" else self.command)
            forced = state.pick_op(op) if op else None
            kind = state.pick(self.command, self.path, self.nreq > 1, forced)
            if op:
                state.enter(op)
                self.in_op = op
            try:
                self.forward(kind, body)
            finally:
                self._left()

        def _left(self):
            # counted out before the answer goes back (_send), not after:
            # the client may send its next request as soon as it has the
            # answer, before this thread runs again, which made one request
            # of concurrency N look like N + 1 in flight on a busy machine
            op = getattr(self, "in_op", None)
            if op:
                self.in_op = None
                state.leave(op)

        def forward(self, kind, body):
            if kind == "reset":
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                           struct.pack("ii", 1, 0))
                self.close_connection = True
                raise ConnectionResetError("injected")  # the server closes it: RST
            if kind == "stall":
                time.sleep(args.stall_seconds)
            elif kind:
                ctype, eb = error_body(args.mode, kind)
                status = {"500": 500, "503": 503, "pte": 400 if args.mode == "kinesis" else 503,
                          "expired_iter": 400, "expired_token": 400}[kind]
                self._send(status, [("Content-Type", ctype),
                                    ("x-amzn-RequestId", "FAULT")], eb)
                return
            conn = http.client.HTTPConnection(upstream.hostname, upstream.port, timeout=60)
            try:
                hdrs = {k: v for k, v in self.headers.items()
                        if k.lower() not in ("connection", "keep-alive", "proxy-connection")}
                conn.request(self.command, self.path, body=body, headers=hdrs)
                r = conn.getresponse()
                data = r.read()
                with state.lock:  # counted when the server has answered, client or not
                    state.forwarded += 1
                skip = ("connection", "keep-alive", "transfer-encoding", "content-length")
                self._send(r.status, [(k, v) for k, v in r.getheaders() if k.lower() not in skip],
                           data)
            finally:
                conn.close()

        do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = handle_one

    return Handler


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--upstream", required=True)
    ap.add_argument("--mode", choices=("s3", "kinesis"), default="s3")
    ap.add_argument("--fault", action="append", default=[], metavar="KIND=SHARE")
    ap.add_argument("--op-fault", action="append", default=[], metavar="OP=KIND:COUNT[:SKIP]")
    ap.add_argument("--stall-seconds", type=float, default=2.0)
    ap.add_argument("--read-bps", type=float, default=0.0)
    ap.add_argument("--write-bps", type=float, default=0.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    args = ap.parse_args()
    shares = {}
    for f in args.fault:
        k, _, v = f.partition("=")
        if k not in KINDS:
            sys.exit("fault_proxy: unknown fault kind %r (%s)" % (k, ", ".join(KINDS)))
        shares[k] = float(v)
    state = State(shares, args.seed)
    for f in args.op_fault:
        op, _, rule = f.partition("=")
        kind, count, skip = (rule.split(":") + ["0"])[:3]
        if kind not in OP_KINDS:
            sys.exit("fault_proxy: --op-fault kind must be one of %s" % ", ".join(OP_KINDS))
        state.set_op(op, kind, int(count), int(skip))
    upstream = urllib.parse.urlsplit(args.upstream)
    class Server(ThreadingHTTPServer):
        def server_bind(self):
            if args.read_bps:
                # before listen(): accepted connections inherit both, and the
                # client's kernel then sizes its send buffer by the small MSS
                self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
                self.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, 1200)
            super().server_bind()

    srv = Server(("127.0.0.1", args.port), make_handler(args, state, upstream))
    srv.daemon_threads = True
    srv.handle_error = lambda request, client_address: None  # resets end handlers abruptly
    srv.request_queue_size = 128
    port = srv.server_address[1]
    if args.port_file:
        with open(args.port_file + ".tmp", "w") as f:
            f.write("%d\n" % port)
        import os
        os.rename(args.port_file + ".tmp", args.port_file)
    srv.serve_forever()


if __name__ == "__main__":
    main()
