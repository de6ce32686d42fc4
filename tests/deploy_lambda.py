"""deploy_lambda.py — run `kinlake lambda` as the template deploys it, on a few
events, through a minimal local Lambda Runtime API (2018-06-01).

Usage: deploy_lambda.py EVENT.json [EVENT.json...] -- CMD [ARG...]
Starts CMD with AWS_LAMBDA_RUNTIME_API pointing here (the rest of the
environment is the caller's: the deployed function's variables; its stdout
goes to stderr with its log), hands it each
event in turn, then answers /next with HTTP 500 so that it exits. Prints one
JSON line per invocation: {"kind": "response"|"error", "body": <its JSON>}.
Exits 1 if CMD reported an init error or did not ask for every event.
(tests/js/runtime_api.mjs is the full-featured one, with its own scenarios.)
"""
import json
import subprocess
import sys
import threading
import time
import os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sep = sys.argv.index("--")
events = [open(p, "rb").read() for p in sys.argv[1:sep]]
cmd = sys.argv[sep + 1:]
answers, init_error = [], []
lock = threading.Lock()
PREFIX = "/2018-06-01/runtime/"


class Api(BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def reply(self, code, body=b"{}", headers=()):
        self.send_response(code)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        with lock:
            i = self.server.next
            self.server.next += 1
        if self.path != PREFIX + "invocation/next" or i >= len(events):
            return self.reply(500, b'{"errorMessage":"no more events"}')
        self.reply(200, events[i], [
            ("Lambda-Runtime-Aws-Request-Id", f"req-{i}"),
            ("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 60000)),
            ("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:123456789012:function:kinlake"),
            ("Content-Type", "application/json")])

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.path == PREFIX + "init/error":
            init_error.append(body.decode("utf-8", "replace"))
        elif self.path.startswith(PREFIX + "invocation/"):
            kind = "response" if self.path.endswith("/response") else "error"
            with lock:
                answers.append({"kind": kind, "body": json.loads(body or b"null")})
        self.reply(202)


srv = ThreadingHTTPServer(("127.0.0.1", 0), Api)
srv.next = 0
threading.Thread(target=srv.serve_forever, daemon=True).start()
env = dict(os.environ, AWS_LAMBDA_RUNTIME_API=f"127.0.0.1:{srv.server_address[1]}")
# the child's stdout (EMF metric lines) joins its log on stderr
rc = subprocess.run(cmd, env=env, stdout=sys.stderr, timeout=120).returncode
srv.shutdown()
for a in answers:
    print(json.dumps(a))
if init_error:
    sys.exit(f"init error: {init_error[0]}")
if len(answers) != len(events):
    sys.exit(f"{len(answers)} answers for {len(events)} events (exit status {rc})")
