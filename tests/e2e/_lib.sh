# Sourced by tests/e2e/*.sh. Gives: $KL (the binary under test), $T (a fresh
# temp dir removed on exit), fail(), check_lake(), and set -euo pipefail.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
KL=${KINLAKE:-$ROOT/build/kinlake}
T=$(mktemp -d "${TMPDIR:-/tmp}/kl-e2e.XXXXXX")
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
check_lake() { node "$ROOT/tests/js/check_lake.mjs" "$@"; }
# sha256 of every file under a lake's events/ and errors/, sorted by path
lake_digest() { (cd "$1" && find events errors -type f -print0 2>/dev/null | sort -z | xargs -0 sha256sum); }
# free_port: a TCP port free on 127.0.0.1 at this moment
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# start_moto: a moto_server of this test's own on a free port, stopped on exit
# with every pid in $pids; sets MOTO (its port), HOME (a fresh one) and test
# keys, and unsets the AWS settings a developer's shell may carry.
start_moto() {
	command -v moto_server >/dev/null || fail "moto_server not installed"
	command -v aws >/dev/null || fail "aws CLI not installed"
	pids=()
	cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; rm -rf "$T"; }
	trap cleanup EXIT
	MOTO=$(free_port)
	moto_server -H 127.0.0.1 -p "$MOTO" >"$T/moto.log" 2>&1 &
	pids+=($!)
	for _ in $(seq 100); do curl -sf "http://127.0.0.1:$MOTO/moto-api/" >/dev/null 2>&1 && break; sleep 0.2; done
	curl -sf "http://127.0.0.1:$MOTO/moto-api/" >/dev/null || fail "moto did not start: $(tail -5 "$T/moto.log")"
	mkdir -p "$T/home"
	export HOME=$T/home AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION=us-east-1
	unset AWS_PROFILE AWS_SESSION_TOKEN AWS_ENDPOINT_URL AWS_REGION || true
}
# slow_feed RATE FILE: FILE's lines on stdout at about RATE lines a second, so
# that a run reading them (`--input - --input-id NAME`) lasts lines ÷ RATE
# seconds on any machine, and a kill at a moment inside that span lands
# mid-run. Ends quietly when the reader is gone.
slow_feed() {
	python3 -c '
import sys, time
rate, out, n = float(sys.argv[1]), sys.stdout.buffer, 0
t0 = time.monotonic()
try:
    with open(sys.argv[2], "rb") as f:
        for line in f:
            out.write(line)
            n += 1
            if n % 100 == 0:
                out.flush()
                d = t0 + n / rate - time.monotonic()
                if d > 0:
                    time.sleep(d)
    out.flush()
except (BrokenPipeError, KeyboardInterrupt):
    sys.stderr.close()
' "$1" "$2"
}
