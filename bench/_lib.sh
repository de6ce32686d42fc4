# bench/_lib.sh — what the bench scripts (run.sh, kinesis.sh, lambda.sh, window.sh)
# share; each sources it first, after `set -euo pipefail`:
#   . "$(dirname "$0")/_lib.sh"
# It moves to the repository's root, checks the binary and defines:
#   KINLAKE [build/kinlake]  the binary under test
#   die MSG...               "bench: MSG" on stderr, exit 1
#   calc FMT EXPR            awk's printf FMT of the expression EXPR
#   med [EMPTY [FMT]]        the median of the numbers on stdin (one a line), printed
#                            with printf FMT [%.6f\n], or as awk prints a number when
#                            FMT is ""; EMPTY [nan] when there are none
#   bench_rev                the short commit measured, "+local changes" when src/
#                            differs from it
#   bench_cpus               "N CPUs (model name)"
cd "$(dirname "${BASH_SOURCE[0]}")/.."
KINLAKE=${KINLAKE:-build/kinlake}
die() { echo "bench: $*" >&2; exit 1; }
[ -x "$KINLAKE" ] || die "$KINLAKE not found; run make first"
calc() { awk "BEGIN { printf \"$1\", $2 }"; }
med() {
	sort -g | awk -v empty="${1-nan}" -v fmt="${2-%.6f\\n}" '{ v[NR] = $1 }
		END { if (!NR) { print empty; exit } m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
			if (fmt == "") print m; else printf fmt, m }'
}
bench_rev() {
	local rev
	rev=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
	git diff --quiet HEAD -- src 2>/dev/null || rev="$rev+local changes"
	echo "$rev"
}
bench_cpus() { echo "$(nproc) CPUs ($(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo))"; }
