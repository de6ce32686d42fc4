# Few syscalls (issue 11): an ingest under strace makes each lake directory
# once (no mkdir per file, no EEXIST on a fresh lake, at most one mkdir per
# directory on a lake that has them), writes a data file in writes of
# >= 1 MiB (calls <= 1 + bytes / 1 MiB per file), and appends the state log
# once per commit. Counts come from `strace -f -y`, which names each write's
# file. Before the fix 140k events took 30,193 writes and 3,684 mkdirs.
# Flushes (issue: durability batching, bench/README.md Session 10): no data
# file is fdatasynced twice, and a commit of >= 3 data files (the calls
# between two syncs of the state log) flushes them with at most 2 syncfs
# calls, not an fdatasync per file and an fsync per directory.
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
	strace -f -y -qq -o "$T/trace" -e trace=mkdir,mkdirat,write,writev,pwrite64,pwritev,fdatasync,fsync,syncfs,rename \
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
	check_flushes "$lake"
}

check_flushes() { # lake
	local twice out
	twice=$(grep -E '^[0-9]+ +fdatasync\(' "$T/trace" | grep -E "<$1/(events|errors)/" |
		sed -E 's/^[0-9]+ +fdatasync\([0-9]+<([^>]*)>.*/\1/' | sort | uniq -d | head -3 || true)
	[ -z "$twice" ] || fail "data files fdatasynced more than once: $twice"
	# per commit (ended by the state log's fdatasync): data files renamed,
	# fdatasync/fsync calls on data files or their directories, syncfs calls
	out=$(awk -v lake="$1" '
		$0 ~ "fdatasync\\([0-9]+<" lake "/_kinlake/state/" {
			if (files >= 3) { big++; if (flushes > 0 || syncfs > 2) bad++ }
			files = 0; flushes = 0; syncfs = 0; next }
		$0 ~ "rename\\(\"" lake "/(events|errors)/" { files++ }
		$0 ~ "f(data)?sync\\([0-9]+<" lake "/(events|errors)/" { flushes++ }
		$0 ~ "syncfs\\(" { syncfs++ }
		END { printf "%d %d\n", big, bad }' "$T/trace")
	echo "$1: ${out% *} commits of >= 3 data files, ${out#* } of them flushed file by file"
	[ "${out#* }" = 0 ] || fail "$1: ${out#* } commits of >= 3 files flushed each file (or > 2 syncfs)"
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
