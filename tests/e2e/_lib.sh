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
