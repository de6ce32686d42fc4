#!/usr/bin/env python3
"""window_replay.py — replay a kinlake gen file as a Kinesis stream would
deliver it to a consumer, for bench/window.sh.

Usage: window_replay.py EVENTS.jsonl SHARDS SPEED -- COMMAND... {}

Each line goes to one of SHARDS "shards" as Kinesis routes a record: the MD5
of its partition key (the event_uuid) as a 128-bit number, in SHARDS equal
hash-key ranges. Line i is written when the wall clock reaches
(created_at - first created_at) / SPEED seconds after the start, so an hour of
events arrives in 3600 / SPEED seconds, in the file's order. One COMMAND per
shard reads its lines on stdin; "{}" in it becomes the shard number. Exits
with the first non-zero exit status of the commands.
"""
import hashlib
import re
import subprocess
import sys
import time

def main():
    path, shards, speed = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    cmd = sys.argv[sys.argv.index('--') + 1:]
    procs = [subprocess.Popen([a.replace('{}', str(i)) for a in cmd], stdin=subprocess.PIPE)
             for i in range(shards)]
    uuid_re = re.compile(rb'"event_uuid":"([^"]*)"')
    ts_re = re.compile(rb'"created_at":([0-9.]+)')
    t0 = None
    start = time.monotonic()
    pending = [[] for _ in range(shards)]
    n = 0
    with open(path, 'rb') as f:
        for line in f:
            u = uuid_re.search(line)
            key = u.group(1) if u else line
            shard = int.from_bytes(hashlib.md5(key).digest(), 'big') * shards >> 128
            pending[shard].append(line)
            n += 1
            if n % 500:
                continue
            m = ts_re.search(line)
            if m:
                t = float(m.group(1))
                t0 = t if t0 is None else t0
                ahead = start + (t - t0) / speed - time.monotonic()
                if ahead > 0:
                    time.sleep(ahead)
            for i in range(shards):
                if pending[i]:
                    procs[i].stdin.write(b''.join(pending[i]))
                    procs[i].stdin.flush()
                    pending[i].clear()
    for i in range(shards):
        procs[i].stdin.write(b''.join(pending[i]))
        procs[i].stdin.close()
    rc = 0
    for p in procs:
        r = p.wait()
        rc = rc or r
    sys.exit(rc)

if __name__ == '__main__':
    main()
