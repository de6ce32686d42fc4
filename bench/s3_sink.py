#!/usr/bin/env python3
"""s3_sink.py PORT_FILE: an S3 stand-in for benchmarks that costs little CPU.

Not a test peer: tests use moto. On a 2-CPU machine moto spends ~2.5 ms of CPU
on each request (bench/README.md, session 51), beside the kinlake it serves,
so a benchmark of kinlake's own CPU into "S3" also measures moto's load on the
shared CPUs. This sink answers the few calls a kinlake run makes, from memory,
for ~0.15 ms a request, so that the difference between the two is visible
(bench/stream_cpu.sh, job s-sink). bench/kinesis_replay.py does the same for
Kinesis.

Path-style requests only (http://127.0.0.1:PORT/bucket/key); no signature
check, no buckets to create. What it answers:
  PUT     stores the body (If-None-Match: * -> 412 when the key exists); echoes
          x-amz-checksum-sha256 as S3 does
  GET     ?list-type=2: ListObjectsV2 of the keys under ?prefix= (one page);
          otherwise the object, or 404 NoSuchKey
  HEAD    200 or 404
  DELETE  204
Multipart uploads are not served: keep files under --multipart-threshold.
The port it listens on is written to PORT_FILE. Python standard library only.
"""
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from xml.sax.saxutils import escape

objects = {}  # "/bucket/key" -> bytes
lock = threading.Lock()


def etag(body):
    return '"%016x"' % (hash(body) & 0xFFFFFFFFFFFFFFFF)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # connections kept open, as S3 does

    def log_message(self, fmt, *a):  # quiet
        pass

    def _send(self, status, body=b"", headers=()):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _target(self):
        u = urllib.parse.urlsplit(self.path)
        return urllib.parse.unquote(u.path), dict(urllib.parse.parse_qsl(u.query, True))

    def do_PUT(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        path, _ = self._target()
        with lock:
            if self.headers.get("If-None-Match") == "*" and path in objects:
                self._send(412, b"<Error><Code>PreconditionFailed</Code></Error>",
                           [("Content-Type", "application/xml")])
                return
            objects[path] = body
        headers = [("ETag", etag(body))]
        checksum = self.headers.get("x-amz-checksum-sha256")
        if checksum:
            headers.append(("x-amz-checksum-sha256", checksum))
        self._send(200, b"", headers)

    def do_GET(self):
        path, query = self._target()
        if "list-type" in query:
            bucket = path.strip("/").split("/", 1)[0]
            prefix = query.get("prefix", "")
            root = "/" + bucket + "/"
            with lock:
                keys = sorted((p[len(root):], len(b)) for p, b in objects.items()
                              if p.startswith(root + prefix))
            items = "".join("<Contents><Key>%s</Key><Size>%d</Size></Contents>" % (escape(k), n)
                            for k, n in keys)
            body = ('<?xml version="1.0" encoding="UTF-8"?><ListBucketResult><Name>%s</Name>'
                    "<Prefix>%s</Prefix><KeyCount>%d</KeyCount><IsTruncated>false</IsTruncated>"
                    "%s</ListBucketResult>" % (escape(bucket), escape(prefix), len(keys), items))
            self._send(200, body.encode(), [("Content-Type", "application/xml")])
            return
        with lock:
            body = objects.get(path)
        if body is None:
            self._send(404, b"<Error><Code>NoSuchKey</Code></Error>",
                       [("Content-Type", "application/xml")])
        else:
            self._send(200, body, [("ETag", etag(body))])

    def do_HEAD(self):
        path, _ = self._target()
        with lock:
            body = objects.get(path)
        self._send(404) if body is None else self._send(200, b"", [("ETag", etag(body))])

    def do_DELETE(self):
        path, _ = self._target()
        with lock:
            objects.pop(path, None)
        self._send(204)


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: s3_sink.py PORT_FILE")
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    with open(sys.argv[1] + ".tmp", "w") as f:
        f.write("%d\n" % srv.server_address[1])
    import os
    os.rename(sys.argv[1] + ".tmp", sys.argv[1])
    srv.serve_forever()


if __name__ == "__main__":
    main()
