# Few syscalls (issue 11): an ingest under strace makes each lake directory
# once (no mkdir per file, no EEXIST on a fresh lake, at most one mkdir per
# directory on a lake that has them), writes a data file in writes of
# >= 1 MiB (calls <= 1 + bytes / 1 MiB per file), and appends the state log
# once per commit. Counts come from `strace -f -y`, which names each write's
# file. Before the fix 140k events took 30,193 writes and 3,684 mkdirs.
# duration: 9 (seconds, for the test runner's ordering: a quiet 2-core machine)
. "$(dirname "$0")/_lib.sh"
command -v strace >/dev/null || fail "strace not installed (scripts/deps.sh installs it)"
N=${KL_ASAN:+6000}; N=${N:-20000}
"$KL" gen --events "$N" --span 14400 --seed 11 > "$T/a.jsonl"
"$KL" gen --events "$N" --span 14400 --seed 12 --start 1764550800 > "$T/b.jsonl"
"$KL" gen --events 30000 --types 1 --seed 13 > "$T/big.jsonl" # > 2 MiB of Parquet

# trace one ingest into lake $1 from input $2; the log is $T/trace
# (LeakSanitizer cannot run under ptrace: leaks are checked by the other tests)
traced() {
	ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 \
	strace -f -y -qq -o "$T/trace" -e trace=mkdir,mkdirat,write,writev,pwrite64,pwritev \
		"$KL" ingest --input "$2" --lake "$1" --quiet
}
# count trace lines of syscall $1 whose text matches the extended regex $2
count() { grep -E "^[0-9]+ +$1\(" "$T/trace" | grep -cE "$2" || true; }
# data files (events/, errors/) and their bytes in lake $1
datadirs() { for d in "$1/events" "$1/errors"; do if [ -d "$d" ]; then echo "$d"; fi; done; }
files() { datadirs "$1" | xargs -r -I{} find {} -type f | wc -l; }
bytes() { datadirs "$1" | xargs -r -I{} find {} -type f -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }'; }

check_writes() { # lake, files and bytes it had before the traced run
	local lake=$1 nf nb w st bound
	nf=$(($(files "$lake") - $2)); nb=$(($(bytes "$lake") - $3))
	[ "$nf" -gt 0 ] || fail "no data files in $lake"
	# writes to the data files' temporary dot-files: one each, plus one per MiB
	w=$(count 'p?writev?(64)?' "^[^<]*<$lake/(events|errors)/")
	bound=$((nf + nb / 1048576))
	echo "$lake: $nf files, $nb bytes, $w data-file writes (bound $bound)"
	[ "$w" -ge "$nf" ] || fail "fewer data-file writes ($w) than files ($nf): is strace seeing them?"
	[ "$w" -le "$bound" ] || fail "$w data-file writes for $nf files of $nb bytes (bound $bound)"
	# state log: one append per commit, and a commit stores at least one file
	st=$(count 'p?writev?(64)?' "^[^<]*<$lake/_kinlake/state/")
	echo "$lake: $st state-log writes"
	[ "$st" -le $((nf + 4)) ] || fail "$st state-log writes for $nf files"
}

# fresh lake: every directory made once, none found existing
traced "$T/lake" "$T/a.jsonl"
dirs=$(find "$T/lake" -type d | wc -l)
mk=$(count 'mkdir(at)?' '.')
eexist=$(count 'mkdir(at)?' 'EEXIST')
echo "fresh lake: $dirs directories, $mk mkdir calls, $eexist EEXIST"
[ "$mk" -le $((dirs + 4)) ] || fail "$mk mkdir calls for $dirs directories"
[ "$eexist" -le 2 ] || fail "$eexist mkdir calls failed with EEXIST on a fresh lake"
check_writes "$T/lake" 0 0

# a second input into the same lake: at most one mkdir per directory
nf0=$(files "$T/lake"); nb0=$(bytes "$T/lake")
traced "$T/lake" "$T/b.jsonl"
dirs=$(find "$T/lake" -type d | wc -l)
mk=$(count 'mkdir(at)?' '.')
echo "second input: $dirs directories, $mk mkdir calls"
[ "$mk" -le $((dirs + 4)) ] || fail "$mk mkdir calls on a lake of $dirs directories"
check_writes "$T/lake" "$nf0" "$nb0"

# one large partition: its file goes out in writes of >= 1 MiB
traced "$T/big" "$T/big.jsonl"
check_writes "$T/big" 0 0
maxf=$(find "$T/big/events" -type f -printf '%s\n' | sort -n | tail -n 1)
[ "$maxf" -gt 2097152 ] || fail "the large partition's file is only $maxf bytes: the test needs > 2 MiB"
check_lake "$T/big.jsonl" "$T/big" --format parquet > /dev/null
echo "syscalls: ok"
