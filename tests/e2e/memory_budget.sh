# One memory budget per process: a 32-shard stream (kinesis-mock) read with
# --memory-limit 12MiB stays under the limit plus the documented fixed overhead
# (docs/windows.md: 8 MiB + 3.5 MiB per shard with ~1 MB GetRecords responses:
# the shards' Kinesis responses, threads and encoders), measured as the peak
# RSS (/usr/bin/time %M); the same run with a limit that never binds uses at
# least 4 MiB more, so the difference is the budget's doing; the bounded lake
# holds every event once; a bounded run with --format parquet (its shards
# hold text until the budget is 3/4 full) stays under the same bound.
# --threads 1: the parse workers' chunks (pipeline/prep.h, up to a few MiB
# per shard with --threads N) are a per-shard cost
# outside the budget, like the Kinesis responses (docs/windows.md). The events
# are written into kinesis-mock's state, not put (its PutRecords is quadratic
# in a shard's records).
# duration: 80 (seconds, for the test runner's ordering: a quiet 2-core machine)
# no-asan: peak RSS is the measure, and ASan's shadow memory and quarantine change it
# (the budget's code paths run under ASan in e2e-asan/crash, a 4 MiB limit, and unit-asan).
. "$(dirname "$0")/_lib.sh"
SHARDS=32
# 10,000 events of ~1.8 kB (a 1,400-byte payload field): ~18 MB in 32 shards,
# about 0.6 MB a shard, so no shard alone comes near the budget, and the run
# that never binds holds clearly more than the bounded one even when all 32
# shards' first GetRecords responses are in memory at once (a loaded machine).
# They are in the stream before the emulator answers (start_stack_loaded: its
# PutRecords took 240 s of this test's 420 at load 12). The emulator's time
# goes with the bytes it serves (~1.7 CPU s a MB: 34 s a run with 2,800-byte
# fields, 23 s with these), and most of this test's time is its.
# The field is random letters and digits (slices of a seeded pool): the
# buffers hold zstd blocks, and ~9 MB of them stay ~9 MB, where a field of one
# repeated letter compressed to next to nothing and left the run that never
# binds 3.9 MB above the bounded one in a CI run (69,792 against 73,664 kB).
"$KL" gen --events 10000 --seed 41 | python3 -c '
import random, sys
r = random.Random(41)
pool = "".join(r.choices("abcdefghijklmnopqrstuvwxyz0123456789", k=1 << 20))
for line in sys.stdin:
    o = r.randrange(len(pool) - 1400)
    sys.stdout.write(line.rstrip("\n")[:-1] + ",\"pad\":\"" + pool[o:o + 1400] + "\"}\n")
' > "$T/mem.jsonl"
start_stack_loaded mem $SHARDS "$T/mem.jsonl"
node -e 'const p = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).shards;
	process.exit(p.length == process.argv[2] && p.every((n) => n > 200) ? 0 : 1)' "$T/emulator/put.json" $SHARDS ||
	fail "not $SHARDS shards of ~0.6 MB: $(cat "$T/emulator/put.json")"
limit_mib=12
bound_kb=$(( (limit_mib + 8) * 1024 + SHARDS * 3584 ))
run() { # LAKE LIMIT [FORMAT]: peak RSS in kB on stdout
	# SIGTERM once every record is read: every shard's buffers are held until
	# then (--exit-idle would end early-read shards first)
	/usr/bin/time -f %M -o "$T/rss" "$KL" ingest --stream mem --lake "$1" --format "${3:-jsonl}" \
		--dedup-window 0 --threads 1 --memory-limit "$2" --metrics-file "$1.prom" --metrics-interval 0.5 \
		2> "$1.log" & local pid=$!
	# wait while reading goes on: give up only after 60 s without progress
	# (a loaded machine slows the emulator down, it does not stop it)
	local got last=-1 still=0
	while [ "$still" -lt 120 ]; do
		got=$(awk '$1 == "kinlake_records_read_total" { print $2 }' "$1.prom" 2>/dev/null || true)
		[ "$got" = 10000 ] && break
		if [ "${got:-0}" = "$last" ]; then still=$((still + 1)); else still=0 last=${got:-0}; fi
		sleep 0.5
	done
	kill -TERM "$(pgrep -P "$pid")" 2>/dev/null || true # kinlake, the child of time
	wait "$pid" || fail "ingest: $(tail -3 "$1.log")"
	grep -q "read=10000 stored=10000 " "$1.log" || fail "not every event: $(tail -1 "$1.log")"
	cat "$T/rss"
}
bounded=$(run "$T/bounded" ${limit_mib}MiB)
free=$(run "$T/free" 4GiB)
echo "peak RSS: --memory-limit ${limit_mib}MiB $bounded kB, never binding $free kB, bound $bound_kb kB"
[ "$bounded" -le "$bound_kb" ] || fail "32 shards used $bounded kB, above --memory-limit + overhead ($bound_kb kB)"
[ "$free" -ge $((bounded + 4096)) ] || fail "the run without a binding budget used about as much ($free kB): the test proves nothing"
check_lake "$T/mem.jsonl" "$T/bounded" > /dev/null
# Parquet: the shards hold their blocks as text while the shared budget is
# at most 3/4 full (buffer/parts.h), counted at their frames' upper bound,
# so the same bound holds (88-90 MB measured in session 38)
pq=$(run "$T/pq" ${limit_mib}MiB parquet)
echo "peak RSS, Parquet: --memory-limit ${limit_mib}MiB $pq kB"
[ "$pq" -le "$bound_kb" ] || fail "32 shards (Parquet) used $pq kB, above --memory-limit + overhead ($bound_kb kB)"
check_lake "$T/mem.jsonl" "$T/pq" --format parquet > /dev/null
echo ok
