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
# start_moto: a moto_server of this test's own on a free port, stopped on exit
# with every pid in $pids; sets MOTO (its port), HOME (a fresh one) and test
# keys, and unsets the AWS settings a developer's shell may carry.
start_moto() {
	command -v moto_server >/dev/null || fail "moto_server not installed"
	command -v aws >/dev/null || fail "aws CLI not installed"
	pids=()
	cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; rm -rf "$T"; }
	trap cleanup EXIT
	MOTO=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	moto_server -H 127.0.0.1 -p "$MOTO" >"$T/moto.log" 2>&1 &
	pids+=($!)
	for _ in $(seq 100); do curl -sf "http://127.0.0.1:$MOTO/moto-api/" >/dev/null 2>&1 && break; sleep 0.2; done
	curl -sf "http://127.0.0.1:$MOTO/moto-api/" >/dev/null || fail "moto did not start: $(tail -5 "$T/moto.log")"
	mkdir -p "$T/home"
	export HOME=$T/home AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION=us-east-1
	unset AWS_PROFILE AWS_SESSION_TOKEN AWS_ENDPOINT_URL AWS_REGION || true
}
