# The default --threads follows a container's CPU limit (src/core/cpus.h):
# kinlake run in a child of a cgroup whose CPU quota is one CPU parses with one
# thread (kinlake_cpus_available and kinlake_threads in its metrics), while
# the same run outside it has the CPUs of its affinity mask; an explicit
# --threads still wins; the lake is the same either way. The cgroup is made
# on the real kernel: v2 (its cpu controller enabled for the child) or v1 (the
# hierarchy with the cpu controller), whichever this machine has. Needs root
# and a writable cgroup cpu controller; without them the script exits 77: a
# SKIP in tests/run.sh, and a failure under CI=true (CI runs as root).
# duration: 3
. "$(dirname "$0")/_lib.sh"
cpus=$(nproc)
skip() {
	echo "not run: $*" >&2
	exit 77
}
[ "$cpus" -ge 2 ] || skip "one CPU: a quota cannot lower the thread count below it"
[ "$(id -u)" = 0 ] || skip "making a cgroup needs root"

# the hierarchy that holds the cpu controller, and its two knobs
cg=
if [ -f /sys/fs/cgroup/cgroup.controllers ] && grep -qw cpu /sys/fs/cgroup/cgroup.controllers; then
	base=/sys/fs/cgroup
	grep -qw cpu "$base/cgroup.subtree_control" || echo +cpu >"$base/cgroup.subtree_control" 2>/dev/null || true
	grep -qw cpu "$base/cgroup.subtree_control" || skip "cgroup v2 without the cpu controller for children"
	version=2
else
	base=$(awk '$0 ~ / - cgroup / { n = split($NF, o, ","); for (i = 1; i <= n; i++) if (o[i] == "cpu") { print $5; exit } }' /proc/self/mountinfo)
	[ -n "$base" ] || skip "no cgroup hierarchy with the cpu controller"
	version=1
fi
cg=$base/kl-test-$$-${KL_ASAN:+asan}$RANDOM
mkdir "$cg" 2>/dev/null || skip "cannot make a cgroup under $base"
trap 'rmdir "$cg/child" "$cg" 2>/dev/null || true; cleanup' EXIT
if [ "$version" = 2 ]; then
	echo +cpu >"$cg/cgroup.subtree_control"
	quota() { echo "$1 100000" >"$cg/cpu.max"; }
else
	quota() { echo 100000 >"$cg/cpu.cfs_period_us" && echo "$1" >"$cg/cpu.cfs_quota_us"; }
fi
mkdir "$cg/child"
echo "cgroup v$version at $cg"

"$KL" gen --events 3000 --seed 4 --span 7200 >"$T/in.jsonl"
# run LAKE [in-cgroup] [kinlake options...]: the metrics of one ingest
run() {
	local lake=$1 where=$2
	shift 2
	local cmd=("$KL" ingest --input "$T/in.jsonl" --lake "$T/$lake" --metrics-file "$T/$lake.prom" --quiet "$@")
	if [ "$where" = in ]; then
		sh -c 'echo $$ >"$1/cgroup.procs" && shift && exec "$@"' sh "$cg/child" "${cmd[@]}"
	else
		"${cmd[@]}"
	fi
}
gauge() { awk -v n="kinlake_$2" '$1 == n { print $2 }' "$T/$1.prom"; }

run outside out
out_cpus=$(gauge outside cpus_available)
[ "$(gauge outside threads)" = "$out_cpus" ] || fail "outside: threads $(gauge outside threads), cpus $out_cpus"
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
for l in one half forced; do
	diff <(lake_digest "$T/outside") <(lake_digest "$T/$l") >/dev/null || fail "the lake of '$l' differs from the one made outside the cgroup"
done
echo "ok: outside $out_cpus CPUs; a 1-CPU quota 1 thread, 1.5 CPUs 2; --threads 3 kept; the same lake"
