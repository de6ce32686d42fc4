#!/usr/bin/env python3
"""bench/kinesis_replay.py: a read-only Kinesis endpoint that serves a JSON-lines file
as a stream, for measuring the consumer's CPU without the emulator's cost.

    bench/kinesis_replay.py STREAM EVENTS SHARDS PORTFILE

kinesis-mock spends ~0.5 ms of CPU per record it serves (bench/README.md) and, being
one JavaScript thread, answers nothing else while it prints a large GetRecords
response: on a busy 2-CPU machine a 100,000-event stream then takes minutes and
kinlake's periodic ListShards times out. This server precomputes every record's JSON
at start-up, so a GetRecords call costs it a join and a write.

What it serves (the operations `kinlake ingest --stream` makes, awsJson1_1):
- ListShards: SHARDS open shards splitting the hash-key range evenly;
- GetShardIterator: TRIM_HORIZON, LATEST, AT_/AFTER_SEQUENCE_NUMBER;
- GetRecords: up to Limit (at most 10,000) records and 10 MiB of data, with
  NextShardIterator and MillisBehindLatest (0 once the shard is read to its end).
Each line is one record, put as PutRecords would: the shard whose range holds the
MD5 of the partition key (the event's event_uuid, else the line number). Sequence
numbers are increasing decimal strings per shard. Requests are not authenticated
(SigV4 is not checked). Writes the port it listens on to PORTFILE.
"""
import base64
import hashlib
import json
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MAX_RECORDS = 10000
MAX_BYTES = 10 << 20


def load(path, nshards):
    shards = [[] for _ in range(nshards)]  # (sequence number, record JSON, data bytes)
    width = (1 << 128) // nshards
    t = 1.7e9
    with open(path, "rb") as f:
        for i, line in enumerate(f):
            line = line.rstrip(b"\n")
            if not line:
                continue
            key = str(i)
            try:
                u = json.loads(line).get("event_uuid")
                if isinstance(u, str) and u:
                    key = u
            except (ValueError, AttributeError):
                pass
            h = int.from_bytes(hashlib.md5(key.encode()).digest(), "big")
            s = min(h // width, nshards - 1)
            seq = "%056d" % (49600000000000000000000000000000000000000000000000000000
                             + s * 10**40 + len(shards[s]))
            t += 0.001
            rec = '{"SequenceNumber":"%s","ApproximateArrivalTimestamp":%.3f,' \
                  '"Data":"%s","PartitionKey":%s}' % (
                      seq, t, base64.b64encode(line).decode(), json.dumps(key))
            shards[s].append((seq, rec, len(line)))
    return shards


def main():
    stream, path, nshards, portfile = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    shards = load(path, nshards)
    ids = ["shardId-%012d" % i for i in range(nshards)]
    width = (1 << 128) // nshards

    def find_seq(s, seq):
        recs = shards[s]
        lo, hi = 0, len(recs)
        while lo < hi:  # first record with a sequence number >= seq
            mid = (lo + hi) // 2
            if int(recs[mid][0]) < int(seq):
                lo = mid + 1
            else:
                hi = mid
        return lo

    def list_shards(_):
        out = []
        for i, sid in enumerate(ids):
            first = shards[i][0][0] if shards[i] else "0"
            out.append({"ShardId": sid,
                        "HashKeyRange": {"StartingHashKey": str(i * width),
                                         "EndingHashKey": str((1 << 128) - 1 if i == nshards - 1
                                                              else (i + 1) * width - 1)},
                        "SequenceNumberRange": {"StartingSequenceNumber": first}})
        return json.dumps({"Shards": out})

    def get_iterator(req):
        s = ids.index(req["ShardId"])
        kind = req["ShardIteratorType"]
        if kind == "TRIM_HORIZON":
            pos = 0
        elif kind == "LATEST":
            pos = len(shards[s])
        elif kind == "AT_SEQUENCE_NUMBER":
            pos = find_seq(s, req["StartingSequenceNumber"])
        elif kind == "AFTER_SEQUENCE_NUMBER":
            seq = req["StartingSequenceNumber"]
            pos = find_seq(s, seq)
            if pos < len(shards[s]) and shards[s][pos][0] == seq:
                pos += 1
        else:
            raise ValueError(kind)
        return json.dumps({"ShardIterator": "%d:%d" % (s, pos)})

    def get_records(req):
        s, pos = (int(x) for x in req["ShardIterator"].split(":"))
        limit = min(int(req.get("Limit", MAX_RECORDS)), MAX_RECORDS)
        recs = shards[s]
        end, size = pos, 0
        while end < len(recs) and end - pos < limit and size + recs[end][2] <= MAX_BYTES:
            size += recs[end][2]
            end += 1
        behind = 0 if end == len(recs) else 1000
        return '{"Records":[%s],"NextShardIterator":"%d:%d","MillisBehindLatest":%d}' % (
            ",".join(r[1] for r in recs[pos:end]), s, end, behind)

    ops = {"ListShards": list_shards, "GetShardIterator": get_iterator,
           "GetRecords": get_records}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def send(self, code, body, ctype="application/x-amz-json-1.1"):
            b = body.encode()
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(b)))
            self.end_headers()
            self.wfile.flush()
            # write(2), not send(2): bench/kinesis.sh times the last record by the
            # server's wchar (/proc/PID/io), which counts only the former
            v = memoryview(b)
            while v:
                v = v[os.write(self.connection.fileno(), v):]

        def do_GET(self):
            self.send(200, "ok", "text/plain")

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            op = self.headers.get("X-Amz-Target", "").rpartition(".")[2]
            try:
                req = json.loads(body or b"{}")
                if req.get("StreamName", stream) != stream or op not in ops:
                    raise KeyError(op)
                self.send(200, ops[op](req))
            except (KeyError, ValueError, IndexError) as e:
                self.send(400, json.dumps({"__type": "ResourceNotFoundException",
                                           "message": "replay: %s" % e}))

    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    with open(portfile, "w") as f:
        f.write("%d\n" % srv.server_address[1])
    srv.serve_forever()


if __name__ == "__main__":
    main()
