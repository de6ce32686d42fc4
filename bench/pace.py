#!/usr/bin/env python3
"""bench/pace.py FILE BYTES_PER_S [TICK_S]: write FILE to stdout at a steady rate.

Every TICK_S [0.05] seconds the next TICK_S x BYTES_PER_S bytes go out, cut at a
line's end, so a reader gets whole JSON lines in bursts as a Kinesis consumer gets
GetRecords answers. bench/kinesis.sh feeds local mode this way at the rate the
stream job just read, to measure what reading in bursts costs apart from the
stream's own work (bench/README.md, session 43).
"""
import os
import sys
import time


def main():
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__.strip().splitlines()[0])
    path, rate = sys.argv[1], float(sys.argv[2])
    tick = float(sys.argv[3]) if len(sys.argv) == 4 else 0.05
    if rate <= 0 or tick <= 0:
        sys.exit("pace.py: BYTES_PER_S and TICK_S must be positive")
    with open(path, "rb") as f:
        data = f.read()
    per = max(1, int(rate * tick))
    pos, k, t0 = 0, 0, time.monotonic()
    view = memoryview(data)
    while pos < len(data):
        end = min(len(data), pos + per)
        nl = data.rfind(b"\n", pos, end)
        if end < len(data) and nl >= pos:
            end = nl + 1
        chunk = view[pos:end]
        while len(chunk):
            chunk = chunk[os.write(1, chunk):]
        pos, k = end, k + 1
        wait = t0 + k * tick - time.monotonic()
        if wait > 0:
            time.sleep(wait)


if __name__ == "__main__":
    main()
