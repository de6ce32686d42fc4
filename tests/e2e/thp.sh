# Huge pages for a file ingest, on request (src/cli/main.c reexec_with_thp):
# by default an ingest never runs itself again; with KINLAKE_THP=1, where the
# kernel gives transparent huge pages on request, an ingest at the default
# --memory-limit runs itself again once with glibc.malloc.hugetlb=1; not with
# a smaller limit, not under ASan; the lake is the same.
# duration: 2 (seconds, for the test runner's ordering: a quiet 2-core machine)
. "$(dirname "$0")/_lib.sh"
command -v strace >/dev/null || fail "strace not installed (scripts/deps.sh installs it)"
"$KL" gen --events 3000 --seed 5 > "$T/in.jsonl"
execs() { # lake, then extra ingest flags: how many execve the ingest made
	ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 \
	strace -f -qq -o "$T/trace" -e trace=execve "$KL" ingest --input "$T/in.jsonl" --lake "$@" --quiet
	grep -c 'execve(' "$T/trace"
}
want=1
if [ -z "${KL_ASAN:-}" ] && grep -q '\[madvise\]' /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null; then
	want=2
fi
n=$(KINLAKE_THP=1 execs "$T/a"); echo "KINLAKE_THP=1, default limit: $n execve (want $want)"
[ "$n" = "$want" ] || fail "KINLAKE_THP=1, default limit: $n execve, want $want"
n=$(KINLAKE_THP=1 execs "$T/b" --memory-limit 100MiB); echo "KINLAKE_THP=1 --memory-limit 100MiB: $n execve"
[ "$n" = 1 ] || fail "a 100 MiB limit re-executed ($n execve)"
n=$(execs "$T/c"); echo "default: $n execve"
[ "$n" = 1 ] || fail "the default re-executed ($n execve)"
n=$(KINLAKE_THP=0 execs "$T/d"); echo "KINLAKE_THP=0: $n execve"
[ "$n" = 1 ] || fail "KINLAKE_THP=0 re-executed ($n execve)"
diff -r "$T/a/events" "$T/c/events" > /dev/null || fail "the lake differs with and without huge pages"
check_lake "$T/in.jsonl" "$T/a" --format parquet > /dev/null
echo "thp: ok"
