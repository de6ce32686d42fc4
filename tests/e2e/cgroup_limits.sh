# Defaults that follow a container's limits (src/core/cgroup.h): kinlake run in
# a child of a cgroup whose CPU quota is one CPU parses with one thread, with
# 1.5 CPUs two (kinlake_cpus_available, kinlake_threads), while the same run
# outside it has the CPUs of its affinity mask; under a 200 MiB memory limit
# its default --memory-limit is 7/8 of it less 64 MiB (kinlake_memory_limit_bytes, and
# one line on stderr saying so); explicit --threads and --memory-limit still
# win; the lake is the same every time; and one busy hour in a 112 MiB
# container completes at the defaults (the plain 256 MiB default was killed
# by the kernel). The cgroups are made on the real
# kernel: v2 (cpu and memory enabled for the children) or v1 (the hierarchies
# with the cpu and memory controllers), whichever this machine has. Needs root
# and writable controllers; without them the script exits 77: a SKIP in
# tests/run.sh, with the reason, never a pass.
# duration: 8
. "$(dirname "$0")/_lib.sh"
cpus=$(nproc)
skip() {
	echo "not run: $*" >&2
	exit 77
}
[ "$cpus" -ge 2 ] || skip "one CPU: a quota cannot lower the thread count below it"
[ "$(id -u)" = 0 ] || skip "making a cgroup needs root"

name=kl-test-$$-${KL_ASAN:+asan}$RANDOM
dirs=() disk= # the cgroups made, parents first; the busy hour's lake (on a disk)
trap '[ -z "$disk" ] || rm -rf "$disk"; for ((i = ${#dirs[@]} - 1; i >= 0; i--)); do rmdir "${dirs[i]}" 2>/dev/null || true; done; cleanup' EXIT
if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
	version=2
	base=/sys/fs/cgroup
	for c in cpu memory; do
		grep -qw $c $base/cgroup.controllers || skip "cgroup v2 without the $c controller"
		grep -qw $c $base/cgroup.subtree_control || echo +$c >$base/cgroup.subtree_control 2>/dev/null || true
		grep -qw $c $base/cgroup.subtree_control || skip "cgroup v2: cannot enable $c for children"
	done
	cpu_cg=$base/$name mem_cg=$base/$name
	mkdir "$cpu_cg" 2>/dev/null || skip "cannot make a cgroup under $base"
	dirs+=("$cpu_cg")
	echo "+cpu +memory" >"$cpu_cg/cgroup.subtree_control"
	quota() { echo "$1 100000" >"$cpu_cg/cpu.max"; }
	memory() { echo "$1" >"$mem_cg/memory.max"; }
else
	version=1
	mount_of() { awk -v c="$1" '$0 ~ / - cgroup / { n = split($NF, o, ","); for (i = 1; i <= n; i++) if (o[i] == c) { print $5; exit } }' /proc/self/mountinfo; }
	cpu_base=$(mount_of cpu) mem_base=$(mount_of memory)
	[ -n "$cpu_base" ] && [ -n "$mem_base" ] || skip "no cgroup v1 hierarchy with the cpu and memory controllers"
	cpu_cg=$cpu_base/$name mem_cg=$mem_base/$name
	mkdir "$cpu_cg" 2>/dev/null || skip "cannot make a cgroup under $cpu_base"
	dirs+=("$cpu_cg")
	if [ "$mem_cg" != "$cpu_cg" ]; then
		mkdir "$mem_cg" 2>/dev/null || skip "cannot make a cgroup under $mem_base"
		dirs+=("$mem_cg")
	fi
	quota() { echo 100000 >"$cpu_cg/cpu.cfs_period_us" && echo "$1" >"$cpu_cg/cpu.cfs_quota_us"; }
	memory() { echo "$1" >"$mem_cg/memory.limit_in_bytes"; }
fi
# the process goes into a child of each: the limits are set on the parents
mkdir "$cpu_cg/child" && dirs+=("$cpu_cg/child")
[ "$mem_cg" = "$cpu_cg" ] || { mkdir "$mem_cg/child" && dirs+=("$mem_cg/child"); }
echo "cgroup v$version: $cpu_cg, $mem_cg"
# in_cgroup COMMAND...: COMMAND run in the children (limited by their parents)
in_cgroup() {
	sh -c 'for d in "$1" "$2"; do echo $$ >"$d/cgroup.procs" || exit 1; done; shift 2; exec "$@"' \
		sh "$cpu_cg/child" "$mem_cg/child" "$@"
}

"$KL" gen --events 3000 --seed 4 --span 7200 >"$T/in.jsonl"
# run LAKE in|out [kinlake options...]: one ingest, its metrics in LAKE.prom
# and its stderr in LAKE.err
run() {
	local lake=$1 where=$2
	shift 2
	local cmd=("$KL" ingest --input "$T/in.jsonl" --lake "$T/$lake" --metrics-file "$T/$lake.prom"
		--no-progress --status-interval 0 "$@")
	if [ "$where" = in ]; then
		in_cgroup "${cmd[@]}" 2>"$T/$lake.err"
	else
		"${cmd[@]}" 2>"$T/$lake.err"
	fi
}
gauge() { awk -v n="kinlake_$2" '$1 == n { print $2 }' "$T/$1.prom"; }
MiB=1048576

run outside out
out_cpus=$(gauge outside cpus_available)
[ "$(gauge outside threads)" = "$out_cpus" ] || fail "outside: threads $(gauge outside threads), cpus $out_cpus"
# (this test's own cgroup may have a memory limit: then kinlake says so)
grep -q "container's memory limit" "$T/outside.err" ||
	[ "$(gauge outside memory_limit_bytes)" = $((256 * MiB)) ] || fail "outside: memory_limit_bytes $(gauge outside memory_limit_bytes)"

quota 100000 # one CPU, on the parent: it binds the child
run one in
[ "$(gauge one cpus_available)" = 1 ] || fail "a quota of 1 CPU: kinlake_cpus_available $(gauge one cpus_available)"
[ "$(gauge one threads)" = 1 ] || fail "a quota of 1 CPU: kinlake_threads $(gauge one threads)"
[ "$out_cpus" -gt 1 ] || fail "outside the cgroup: kinlake_cpus_available $out_cpus on $cpus CPUs"
quota 150000 # 1.5 CPUs: 2 threads
run half in
[ "$(gauge half cpus_available)" = 2 ] || fail "a quota of 1.5 CPUs: kinlake_cpus_available $(gauge half cpus_available)"
quota 100000
run forced in --threads 3
[ "$(gauge forced threads)" = 3 ] || fail "--threads 3 in the cgroup: kinlake_threads $(gauge forced threads)"

memory $((200 * MiB))
run mem in
# 7/8 of 200 MiB less 64 MiB
[ "$(gauge mem memory_limit_bytes)" = $((111 * MiB)) ] || fail "200 MiB of container memory: memory_limit_bytes $(gauge mem memory_limit_bytes)"
grep -q "memory-limit 111.0 MiB, to fit the container's memory limit of 200.0 MiB;" "$T/mem.err" || fail "no line on the lowered budget: $(cat "$T/mem.err")"
# --dry-run says the same, and why
dry=$(in_cgroup "$KL" ingest --input "$T/in.jsonl" --lake "$T/dry" --dry-run)
grep -Eq '^memory-limit +111MiB +container: fits its memory limit of 200.0 MiB \(default 256MiB\)$' <<<"$dry" ||
	fail "--dry-run in the cgroup: $(grep memory-limit <<<"$dry")"
grep -Eq '^threads +1 +default: 0 = the CPUs this process may use$' <<<"$dry" ||
	fail "--dry-run in the cgroup: $(grep threads <<<"$dry")"
[ ! -e "$T/dry" ] || fail "--dry-run made a lake"
KINLAKE_MEMORY_LIMIT=64MiB run memenv in
[ "$(gauge memenv memory_limit_bytes)" = $((64 * MiB)) ] || fail "KINLAKE_MEMORY_LIMIT=64MiB in the cgroup: $(gauge memenv memory_limit_bytes)"
run memflag in --memory-limit 180MiB --quiet
[ "$(gauge memflag memory_limit_bytes)" = $((180 * MiB)) ] || fail "--memory-limit 180MiB in the cgroup: $(gauge memflag memory_limit_bytes)"
[ ! -s "$T/memflag.err" ] || fail "--quiet printed: $(cat "$T/memflag.err")"

for l in one half forced mem memenv memflag; do
	diff <(lake_digest "$T/outside") <(lake_digest "$T/$l") >/dev/null || fail "the lake of '$l' differs from the one made outside the cgroup"
done

# What the memory default is for: 400,000 events of one hour (all buffered to
# the hour's end, 173 MB of text) in a 112 MiB container. At the plain 256 MiB
# default the kernel killed the run within a second (and would at every
# restart); at the default that fits (34 MiB) it completes. Not under ASan,
# whose shadow memory is not kinlake's. The lake goes to a disk: tmpfs pages
# would be charged to the container and never reclaimed.
if [ -z "${KL_ASAN:-}" ]; then
	"$KL" gen --events 400000 --seed 9 --span 3600 >"$T/hour.jsonl"
	disk=$(mktemp -d "${KL_DISK_TMPDIR:-/var/tmp}/kl-cgroup.XXXXXX")
	memory $((112 * MiB))
	rc=0
	in_cgroup "$KL" ingest --input "$T/hour.jsonl" --lake "$disk/lake" \
		--no-progress --status-interval 0 2>"$T/hour.err" || rc=$?
	[ "$rc" = 0 ] || fail "one busy hour in a 112 MiB container: exit $rc ($([ "$rc" = 137 ] && echo "killed: out of memory?")) $(tail -2 "$T/hour.err")"
	grep -q "stored=400000 " "$T/hour.err" || fail "one busy hour in a 112 MiB container: $(tail -2 "$T/hour.err")"
	grep -q "memory-limit 34.0 MiB, to fit the container's memory limit of 112.0 MiB" "$T/hour.err" || fail "$(head -2 "$T/hour.err")"
	echo "400,000 events of one hour in a 112 MiB container: $(grep -o 'files=[0-9]*' "$T/hour.err")"
fi
echo "ok: outside $out_cpus CPUs and 256 MiB; a 1-CPU quota 1 thread, 1.5 CPUs 2; 200 MiB of memory a 111 MiB budget; --threads, KINLAKE_MEMORY_LIMIT and --memory-limit kept; the same lake"
