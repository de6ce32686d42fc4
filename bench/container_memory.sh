#!/bin/bash
# container_memory.sh INPUT LIMIT_MIB... : kinlake at its defaults inside a container's
# memory limit, for each LIMIT (MiB): a child cgroup with that memory limit (cgroup v2
# memory.max, or v1 memory.limit_in_bytes, whichever this machine has), the binary run in
# it at the defaults, and per limit: the exit status (137: the kernel's OOM killer),
# seconds, peak RSS (/usr/bin/time), the cgroup's peak usage where the kernel reports it,
# the files made and the --memory-limit kinlake chose (its stderr line). KINLAKE
# [build/kinlake]; KINLAKE_B, a second binary run the same way beside it (e.g. one from
# before the container-fitted default). The lakes go to DISK_DIR [/var/tmp]: tmpfs pages
# would be charged to the cgroup and never reclaimed. Needs root. Input for the numbers
# in bench/README.md (session 32): `kinlake gen --events 1000000 --span 3600` (one
# production hour: every partition is buffered to the hour's end).
set -euo pipefail
IN=$(realpath "$1")
shift
[ $# -gt 0 ] || { echo "usage: $0 INPUT LIMIT_MIB..." >&2; exit 2; }
[ -n "${KINLAKE_B:-}" ] && KINLAKE_B=$(realpath "$KINLAKE_B")
[ -n "${KINLAKE:-}" ] && KINLAKE=$(realpath "$KINLAKE")
. "$(dirname "$0")/_lib.sh"
[ "$(id -u)" = 0 ] || die "making a cgroup needs root"
if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
	grep -qw memory /sys/fs/cgroup/cgroup.subtree_control || echo +memory >/sys/fs/cgroup/cgroup.subtree_control
	cg=/sys/fs/cgroup/kl-bench-$$ knob=memory.max peak=memory.peak
else
	base=$(awk '$0 ~ / - cgroup / { n = split($NF, o, ","); for (i = 1; i <= n; i++) if (o[i] == "memory") { print $5; exit } }' /proc/self/mountinfo)
	[ -n "$base" ] || die "no cgroup v1 hierarchy with the memory controller"
	cg=$base/kl-bench-$$ knob=memory.limit_in_bytes peak=memory.max_usage_in_bytes
fi
mkdir "$cg"
disk=$(mktemp -d "${DISK_DIR:-/var/tmp}/kl-bench.XXXXXX")
trap 'rm -rf "$disk"; rmdir "$cg" 2>/dev/null || true' EXIT
bins=("$KINLAKE")
[ -z "${KINLAKE_B:-}" ] || bins+=("$KINLAKE_B")
printf '| limit MiB | binary | exit | seconds | peak RSS MB | cgroup peak MiB | files | --memory-limit chosen |\n|---:|---|---:|---:|---:|---:|---:|---|\n'
for lim in "$@"; do
	echo $((lim << 20)) >"$cg/$knob"
	for b in "${bins[@]}"; do
		rm -rf "$disk/lake"
		[ ! -w "$cg/$peak" ] || echo 0 >"$cg/$peak" 2>/dev/null || true
		rc=0
		sh -c 'echo $$ >"$1/cgroup.procs" && shift && exec "$@"' sh "$cg" \
			/usr/bin/time -f 'TIME %e %M' "$b" ingest --input "$IN" --lake "$disk/lake" --no-progress \
			>"$disk/out" 2>&1 || rc=$?
		t=$(awk '/^TIME/ { print $2 }' "$disk/out") rss=$(awk '/^TIME/ { printf "%.1f", $3 / 1000 }' "$disk/out")
		files=$(grep -o 'files=[0-9]*' "$disk/out" | cut -d= -f2 || true)
		chose=$(grep -o 'memory-limit [0-9.]* MiB' "$disk/out" | head -1 || true)
		pk=$([ -r "$cg/$peak" ] && calc '%.0f' "$(cat "$cg/$peak") / 1048576" || echo -)
		printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "$lim" "$b" "$rc" "${t:--}" "${rss:--}" "$pk" "${files:--}" "${chose:-default}"
	done
done
