#!/usr/bin/env python3
"""lambda_python.py — the usual Python 3 Firehose transformation handler, the
peer of `kinlake lambda` in bench/lambda.sh: json.loads, add created_datetime /
event_type / event_subtype, json.dumps, base64; the same Ok/ProcessingFailed
results and partition keys. (No dedup: the C side runs with --dedup-window 0.)

Usage: lambda_python.py EVENT.json REPEAT  -> one JSON summary line on stdout.
"""
import base64
import json
import math
import sys
import time
from datetime import datetime, timezone
from urllib.parse import quote


def hive(v):
    if v is None or v == "":
        return "__HIVE_DEFAULT_PARTITION__"
    return quote(v, safe="._-")  # RFC 3986 unreserved minus '~', upper-case hex


def enrich(raw):
    ev = json.loads(raw)
    if not isinstance(ev, dict):
        raise ValueError("not an object")
    uuid, name, ts = ev.get("event_uuid"), ev.get("event_name"), ev.get("created_at")
    if not isinstance(uuid, str) or not uuid or not isinstance(name, str) or not name:
        raise ValueError("missing field")
    if isinstance(ts, bool) or not isinstance(ts, (int, float)) or not (0 <= ts < 253402300800) \
            or not math.isfinite(ts):
        raise ValueError("bad created_at")
    dt = datetime.fromtimestamp(ts, tz=timezone.utc)
    spec = "milliseconds" if isinstance(ts, float) else "seconds"
    parts = name.split(":")
    ev["created_datetime"] = dt.isoformat(timespec=spec).replace("+00:00", "Z")
    ev["event_type"] = parts[0]
    ev["event_subtype"] = parts[1] if len(parts) > 1 else None
    return ev, dt


def handler(event, context=None):
    out = []
    for rec in event["records"]:
        try:
            ev, dt = enrich(base64.b64decode(rec["data"], validate=True))
            data = json.dumps(ev, ensure_ascii=False, separators=(",", ":")) + "\n"
            out.append({
                "recordId": rec["recordId"],
                "result": "Ok",
                "data": base64.b64encode(data.encode("utf-8")).decode("ascii"),
                "metadata": {"partitionKeys": {
                    "event_type": hive(ev["event_type"]),
                    "event_subtype": hive(ev["event_subtype"]),
                    "dt": dt.strftime("%Y-%m-%d"),
                    "hr": dt.strftime("%H"),
                }},
            })
        except Exception:
            out.append({"recordId": rec["recordId"], "result": "ProcessingFailed", "data": rec["data"]})
    return {"records": out}


def main():
    path, repeat = sys.argv[1], int(sys.argv[2])
    with open(path, "rb") as f:
        text = f.read()
    records = 0
    size = 0
    t0 = time.perf_counter()
    for _ in range(repeat):
        # what the Python runtime does around the handler: parse the payload,
        # serialise the response
        resp = json.dumps(handler(json.loads(text)))
        size = len(resp)
    secs = time.perf_counter() - t0
    records = repeat * len(json.loads(text)["records"])
    print(json.dumps({"invocations": repeat, "records": records, "seconds": round(secs, 6),
                      "records_per_s": round(records / secs) if secs > 0 else 0,
                      "event_bytes": len(text), "response_bytes": size}))


if __name__ == "__main__":
    main()
