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
#   lake_digest DIR          sha256 of every file under a lake's events/ and errors/,
#                            sorted by path (as tests/e2e/_lib.sh's)
#   set_aside DIR            moves DIR (when it exists) into bench/out/.trash instead of
#                            deleting it between jobs; empty_trash deletes the trash (each
#                            script calls it at its start, before its inputs are made,
#                            and when done). On ext4 without a
#                            journal (this project's VMs) an inode deleted under 60 s ago
#                            (300 s while its table block is dirty) is not reused, and the
#                            allocator steps past every such inode for each file it makes:
#                            a job right after the deletion of the previous job's lake spent
#                            half its CPU samples in the kernel's recently_deleted()
#                            (session 17). Renaming a directory deletes no inode.
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
TRASH=bench/out/.trash
empty_trash() { rm -rf "$TRASH"; }
set_aside() {
	[ -e "$1" ] || return 0
	mkdir -p "$TRASH"
	mv "$1" "$(mktemp -d "$TRASH/XXXXXX")/"
}
lake_digest() { (cd "$1" && find events errors -type f -print0 2>/dev/null | sort -z | xargs -0 sha256sum); }
bench_cpus() { echo "$(nproc) CPUs ($(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo))"; }
