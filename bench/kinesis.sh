#!/usr/bin/env bash
# Kinesis -> S3 on the local stack (kinesis-mock + moto), against the ceiling the
# emulator sets: the same GetRecords calls served to a consumer that does nothing
# (tests/js/kinesis_drain.mjs), in the same run. Also CPU per event, stream mode vs
# local mode on the same events. Medians of BENCH_RUNS. See bench/README.md.
#   BENCH_KINESIS_EVENTS [100000]  events in the stream
#   BENCH_SHARDS [4]               shards
#   BENCH_RUNS [3]                 runs of every job (in alternating order)
#   BENCH_FORMAT [parquet]         --format of every kinlake job
#   BENCH_KINESIS_LOAD [state]     state: write the events into kinesis-mock's persisted
#                                  state and start it on that (about a minute for 1e5);
#                                  put: PutRecords through the API (quadratic in the
#                                  emulator: 2 minutes for 2e4 events, days for 1e6);
#                                  replay: no emulator, bench/kinesis_replay.py serves
#                                  the events (kinlake's CPU at any size, in seconds)
#   BENCH_KINESIS_LOCAL_DISK [1]   also run kinlake --stream into a local directory
#   BENCH_KINESIS_SINK [1]         also run kinlake --stream into bench/s3_sink.py, an S3
#                                  stand-in that answers from memory for ~0.15 ms of CPU a
#                                  request (moto takes ~2.5 ms on the same CPUs): the
#                                  stream's CPU into an S3 that is not on this machine
#   BENCH_KINESIS_PACED [1]        also run local mode fed from stdin at the rate the
#                                  last stream -> S3 job read (bench/pace.py): what
#                                  reading in bursts costs, apart from the stream's work
#   KINLAKE_BEFORE [unset]         a second binary (e.g. the commit before a change):
#                                  every kinlake job runs with both, side by side in
#                                  each run (jobs NAME@b), so before/after share the load
#   BENCH_KINESIS_PERF [1 if perf]  after the runs, one more run of stream -> S3 and of
#                                  local mode under perf (bench/perf_stages.sh): CPU by stage
set -euo pipefail
. "$(dirname "$0")/_lib.sh"
N=${BENCH_KINESIS_EVENTS:-100000}
RUNS=${BENCH_RUNS:-3}
SHARDS=${BENCH_SHARDS:-4}
FORMAT=${BENCH_FORMAT:-parquet}
LOAD=${BENCH_KINESIS_LOAD:-state}
DISK=${BENCH_KINESIS_LOCAL_DISK:-1}
SINK=${BENCH_KINESIS_SINK:-1}
PACED=${BENCH_KINESIS_PACED:-1}
PERF=${BENCH_KINESIS_PERF:-$(command -v perf >/dev/null && echo 1 || echo 0)}
IDLE=2 # --exit-idle seconds, taken off kinlake's wall time
STREAM=bench
OUT=bench/out/kinesis
rm -rf "$OUT"
empty_trash
mkdir -p "$OUT/logs"
OUT=$(cd "$OUT" && pwd) # kinesis-mock runs in its own directory
EV=$OUT/events.jsonl
# kinesis-mock answers only once a persisted state is loaded: about 0.6 ms per record
export KL_STACK_DIR=$OUT/stack KL_KINESIS_PORT=0 KL_MOTO_PORT=0 KL_STACK_WAIT=$((60 + N / 500))
SINK_PID=
trap '[ -z "$SINK_PID" ] || kill "$SINK_PID" 2>/dev/null || true; scripts/stack.sh down >/dev/null 2>&1 || true; empty_trash' EXIT
HZ=$(getconf CLK_TCK)
kcpu() { awk -v hz="$HZ" '{ printf "%.2f\n", ($14 + $15) / hz }' "/proc/$(cat "$OUT/stack/kinesis.pid")/stat"; }
stack_up() { # extra environment for kinesis-mock
	env "$@" scripts/stack.sh up >>"$OUT/logs/stack.log" 2>&1 ||
		{ tail -5 "$OUT/logs/stack.log" >&2; die "the stack did not start"; }
	. "$OUT/stack/env"
	K="aws --endpoint-url $AWS_ENDPOINT_URL_KINESIS kinesis"
}
status() { $K describe-stream-summary --stream-name "$1" --query StreamDescriptionSummary.StreamStatus --output text 2>/dev/null || true; }
create() { # STREAM: create it and wait until it is ACTIVE
	$K create-stream --stream-name "$1" --shard-count "$SHARDS"
	for _ in $(seq 1 100); do [ "$(status "$1")" = ACTIVE ] && return 0; sleep 0.2; done
	die "stream $1 is not ACTIVE: $(status "$1")"
}

load0=$(cut -d' ' -f1-3 /proc/loadavg)
"$KINLAKE" gen --events "$N" --output "$EV"
# a second, small stream of the same events: read once before the measured runs, so
# that the emulator's JavaScript is compiled and warm when the first one starts
W=$((N < 10000 ? N : 10000))
head -n "$W" "$EV" >"$OUT/warmup.jsonl"
t_load=$(date +%s.%N)
case $LOAD in
state)
	# 1. kinesis-mock creates the streams and persists its state; 2. the events go into
	#    that state as its PutRecords would store them (tests/js/kinesis_put.mjs
	#    --emulator-state); 3. kinesis-mock starts again on it
	ST=$OUT/emulator
	mkdir -p "$ST"
	stack_up SHOULD_PERSIST_DATA=true PERSIST_PATH="$ST" PERSIST_INTERVAL=1s
	create "$STREAM"
	create warmup
	for _ in $(seq 1 100); do # a persisted copy that holds both streams ACTIVE
		node -e 'const [f, o, ...names] = process.argv.slice(1), fs = require("fs");
			const j = JSON.parse(fs.readFileSync(f, "utf8"));
			const ok = (n) => Object.values(j.streams).some((x) => x.streamName === n && x.streamStatus === "ACTIVE");
			if (!names.every(ok)) process.exit(1);
			fs.writeFileSync(o, JSON.stringify(j));' "$ST/kinesis-data.json" "$ST/empty.json" "$STREAM" warmup 2>/dev/null && break
		sleep 0.2
	done
	[ -f "$ST/empty.json" ] || die "kinesis-mock did not persist the streams in $ST"
	scripts/stack.sh down >>"$OUT/logs/stack.log" 2>&1
	cp "$ST/empty.json" "$ST/kinesis-data.json"
	echo "bench: writing $N events into kinesis-mock's state ($SHARDS shards)" >&2
	node tests/js/kinesis_put.mjs "$STREAM" "$EV" --emulator-state "$ST/kinesis-data.json" 2>/dev/null >"$OUT/logs/put.json"
	node tests/js/kinesis_put.mjs warmup "$OUT/warmup.jsonl" --emulator-state "$ST/kinesis-data.json" 2>/dev/null >/dev/null
	echo "bench: starting kinesis-mock on it" >&2
	stack_up LOAD_DATA_IF_EXISTS=true PERSIST_PATH="$ST"
	[ "$(status "$STREAM")" = ACTIVE ] || die "stream $STREAM is not ACTIVE after loading: $(status "$STREAM")"
	;;
replay)
	# the replay server stands in for kinesis-mock: scripts/stack.sh finds it
	# running under kinesis.pid and starts only moto
	mkdir -p "$KL_STACK_DIR"
	rm -f "$OUT/replay.port"
	python3 bench/kinesis_replay.py "$STREAM" "$EV" "$SHARDS" "$OUT/replay.port" 2>"$OUT/logs/replay.log" &
	echo $! >"$KL_STACK_DIR/kinesis.pid"
	for _ in $(seq 1 300); do [ -s "$OUT/replay.port" ] && break; sleep 0.2; done
	[ -s "$OUT/replay.port" ] || die "the replay server did not start: $(tail -3 "$OUT/logs/replay.log")"
	cp "$OUT/replay.port" "$KL_STACK_DIR/kinesis.port"
	stack_up
	W=0 # nothing to warm up
	;;
put)
	stack_up
	create "$STREAM"
	create warmup
	echo "bench: putting $N + $W events into $SHARDS shards (PutRecords x500, one call in flight per shard)" >&2
	node tests/js/kinesis_put.mjs "$STREAM" "$EV" --parallel 2>/dev/null >"$OUT/logs/put.json"
	node tests/js/kinesis_put.mjs warmup "$OUT/warmup.jsonl" --parallel 2>/dev/null >/dev/null
	;;
*) die "BENCH_KINESIS_LOAD must be state, put or replay" ;;
esac
t_load=$(calc '%.0f' "$(date +%s.%N) - $t_load")
shards=$($K list-shards --stream-name "$STREAM" --query 'length(Shards)' --output text)
[ "$shards" = "$SHARDS" ] || die "the stream has $shards shards, not $SHARDS"
if [ "$W" -gt 0 ]; then
	echo "bench: warm-up read of $W events" >&2
	node tests/js/kinesis_drain.mjs warmup 500 2>/dev/null >"$OUT/logs/warmup.json"
fi
S3="aws --endpoint-url $AWS_ENDPOINT_URL_S3 s3"
$S3 mb s3://bench >/dev/null
[ "$SINK" != 1 ] || s3_sink "$OUT" "$OUT/logs/sink.log"

# A consumer's clock to its last record, read from outside at no cost to it: the
# bytes the emulator has written (wchar in /proc/PID/io: its sockets, nothing else),
# sampled every 50 ms while the job runs; the last record went out with the last jump
# of JUMP bytes or more (the responses after it are empty: a few hundred bytes each,
# at most a few in 50 ms). The watcher starts, and takes its first sample, before the
# job does: a small stream is read in the job's first GetRecords calls, within
# milliseconds of its start, before a watcher started beside it had sampled anything
# (then no jump was seen: "no time for its last record" at 2,000 events). Once READY
# exists the shell starts the job and writes "PID T0" to PIDFILE; prints seconds since
# T0, up to 50 ms late, or nothing if no jump was seen.
JUMP=16384 # > the empty responses of 50 ms; < a response of 30 records or more
watch_read() { # PIDFILE READY
	python3 - "$(cat "$OUT/stack/kinesis.pid")" "$1" "$2" "$JUMP" <<'PY'
import os, sys, time
emu, pidfile, ready, jump = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
def wchar():
    with open(f'/proc/{emu}/io') as f:
        return int(next(l for l in f if l.startswith('wchar')).split()[1])
def running(job):
    try:
        with open(f'/proc/{job}/stat') as f:
            return f.read().rsplit(')', 1)[1].split()[0] != 'Z'
    except OSError:
        return False
last_v = wchar()
open(ready, 'w').close()
job = t0 = last_t = None
deadline = time.time() + 60
while job is None: # the shell writes the job's pid once it started it
    try:
        with open(pidfile) as f:
            job, t0 = f.read().split()
        job, t0 = int(job), float(t0)
    except (OSError, ValueError):
        job = None
        if time.time() > deadline:
            sys.exit('watch_read: no job started')
        time.sleep(0.005)
while True:
    alive = running(job)
    time.sleep(0.05)
    v, now = wchar(), time.time()
    if v - last_v >= jump:
        last_t = now
    last_v = v
    if not alive:
        break
if last_t is not None:
    print(f'{max(last_t - t0, 0):.3f}')
PY
}

# one job: RUN NAME command...; appends a row to raw.tsv:
#   read_s   seconds to the last record (the do-nothing consumer's own clock; kinlake
#            --stream: watch_read; --input: wall time)
#   done_s   seconds until everything is durable (kinlake: wall time, less the
#            --exit-idle tail for --stream)
#   user_s sys_s peak_rss_kb of the job, emulator_cpu_s kinesis-mock's CPU meanwhile,
#   loadavg the machine's 1-minute load average when the job ended, watched_s
#   watch_read's time (for the do-nothing consumer: a check of its own clock, which
#   starts after Node's start-up and ListShards), steal_s the seconds the hypervisor
#   took from the machine's CPUs meanwhile (/proc/stat; a VM held up by its host
#   runs slower and may count the lost time as its processes' CPU)
RAW=$OUT/raw.tsv
printf 'run\tjob\tread_s\tdone_s\tuser_s\tsys_s\tpeak_rss_kb\temulator_cpu_s\tloadavg\twatched_s\tsteal_s\n' >"$RAW"
steal() { awk -v hz="$HZ" '$1 == "cpu" { printf "%.2f\n", $9 / hz }' /proc/stat; }
job() {
	local run=$1 name=$2 log=$OUT/logs/$2-$1.log
	shift 2
	local c0 c1 st0 st1 t0 tpid wpid="" read_s done_s
	echo - >"$OUT/read_s"
	rm -f "$OUT/watch.pid" "$OUT/watch.ready"
	case $name in file-*) ;; *) # the consumer too, so that every timed read has the same company
		watch_read "$OUT/watch.pid" "$OUT/watch.ready" >"$OUT/read_s" &
		wpid=$!
		for _ in $(seq 1 1000); do [ -e "$OUT/watch.ready" ] && break; sleep 0.01; done
		[ -e "$OUT/watch.ready" ] || die "$name (run $run): the watcher of the emulator's writes did not start" ;;
	esac
	c0=$(kcpu)
	st0=$(steal)
	t0=$(date +%s.%N)
	/usr/bin/time -f '%e %U %S %M' -o "$OUT/t" "$@" <"${JOB_STDIN:-/dev/null}" >"$log.out" 2>"$log" &
	tpid=$!
	[ -z "$wpid" ] || echo "$tpid $t0" >"$OUT/watch.pid"
	wait "$tpid" || { tail -5 "$log" >&2; die "$name (run $run) failed: $*"; }
	[ -z "$wpid" ] || wait "$wpid" || true
	c1=$(kcpu)
	st1=$(steal)
	read -r wall u s rss <"$OUT/t"
	case $name in
	drain) # its own clock: first GetShardIterator to the last record
		local recs
		recs=$(node -e 'const j = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")); console.log(j.records, j.seconds)' "$log.out")
		read -r recs read_s <<<"$recs"
		[ "$recs" = "$N" ] || die "the do-nothing consumer got $recs records, not $N"
		read_s=$(calc '%.3f' "$read_s")
		done_s=- ;;
	stream-*)
		grep -q "read=$N " "$log" || die "$name (run $run) did not read $N events: $(tail -1 "$log")"
		read_s=$(cat "$OUT/read_s")
		[ -n "$read_s" ] || die "$name (run $run): no time for its last record (no jump of $JUMP bytes or more in the emulator's writes while it ran: a stream of under ~$((30 * SHARDS)) events?)"
		done_s=$(calc '%.3f' "$wall - $IDLE") ;;
	*)
		grep -q "read=$N " "$log" || die "$name (run $run) did not read $N events: $(tail -1 "$log")"
		read_s=$wall
		done_s=$wall ;;
	esac
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$run" "$name" "$read_s" "$done_s" "$u" "$s" "$rss" \
		"$(calc '%.2f' "$c1 - $c0")" "$(cut -d' ' -f1 /proc/loadavg)" "$(cat "$OUT/read_s")" \
		"$(calc '%.2f' "$st1 - $st0")" >>"$RAW"
}

# local mode reading stdin in bursts at the rate of the last stream -> S3 job (its
# events' bytes ÷ its s to last record), --window hour as --input FILE has by default
paced_job() { # RUN NAME command...
	local t rate
	t=$(awk -F'\t' 'NR > 1 && $2 == "stream-s3" && $3 != "-" { t = $3 } END { print t }' "$RAW")
	[ -n "$t" ] || return 0 # no stream job yet (run 2 starts with this one)
	rate=$(calc '%.0f' "$(stat -c %s "$EV") / $t")
	rm -f "$OUT/pace.fifo"
	mkfifo "$OUT/pace.fifo"
	python3 bench/pace.py "$EV" "$rate" 0.05 >"$OUT/pace.fifo" &
	local ppid=$!
	JOB_STDIN=$OUT/pace.fifo job "$@"
	wait "$ppid" || die "$2 (run $1): bench/pace.py failed"
	rm -f "$OUT/pace.fifo"
}

KL="$KINLAKE ingest --format $FORMAT --no-progress"
KL_B="${KINLAKE_BEFORE:-}${KINLAKE_BEFORE:+ ingest --format $FORMAT --no-progress}"
run_job() { # RUN JOB (JOB@b: with KINLAKE_BEFORE)
	local kl=$KL j=${2%@b} tag=""
	[ "$j" = "$2" ] || kl=$KL_B tag=-b
	set_aside "$OUT/lake"
	case $j in
	drain) job "$1" drain node tests/js/kinesis_drain.mjs "$STREAM" $((IDLE * 1000)) ;;
	stream-s3) job "$1" "$2" $kl --stream "$STREAM" --lake "s3://bench/stream-$1$tag" --exit-idle "$IDLE" ;;
	stream-sink) [ "$SINK" != 1 ] || AWS_ENDPOINT_URL_S3=$SINK_URL job "$1" "$2" $kl --stream "$STREAM" --lake "s3://bench/stream-$1$tag" --exit-idle "$IDLE" ;;
	stream-disk) [ "$DISK" != 1 ] || job "$1" "$2" $kl --stream "$STREAM" --lake "$OUT/lake" --exit-idle "$IDLE" ;;
	file-disk) job "$1" "$2" $kl --input "$EV" --lake "$OUT/lake" ;;
	file-paced) [ "$PACED" != 1 ] || paced_job "$1" "$2" $kl --input - --window hour --lake "$OUT/lake" ;;
	esac
	set_aside "$OUT/lake"
}
# the machine's load drifts: odd runs go one way, even runs the other, and the
# ratios to the ceiling are taken within each run
for r in $(seq 1 "$RUNS"); do
	echo "bench: run $r/$RUNS" >&2
	order="drain stream-s3 stream-sink stream-disk file-disk file-paced"
	[ -z "$KL_B" ] || order="drain stream-s3 stream-s3@b stream-disk stream-disk@b file-disk file-disk@b"
	[ $((r % 2)) = 1 ] || order=$(echo "$order" | tr ' ' '\n' | tac | tr '\n' ' ')
	for j in $order; do run_job "$r" "$j"; done
done

# where kinlake's CPU goes, by stage: one more run of each under perf (not timed above)
STAGES_S3="" STAGES_FILE=""
if [ "$PERF" = 1 ]; then
	echo "bench: perf: stream -> S3 and local mode" >&2
	STAGES_S3=$(bench/perf_stages.sh -- $KL --stream "$STREAM" --lake "s3://bench/stream-perf" --exit-idle "$IDLE" 2>&1) ||
		STAGES_S3="(perf failed: $STAGES_S3)"
	set_aside "$OUT/lake"
	STAGES_FILE=$(bench/perf_stages.sh -- $KL --input "$EV" --lake "$OUT/lake" 2>&1) ||
		STAGES_FILE="(perf failed: $STAGES_FILE)"
	set_aside "$OUT/lake"
fi

# medians
col() { awk -F'\t' -v j="$1" -v c="$2" 'NR > 1 && $2 == j { print $c }' "$RAW" | med; }
eps() { awk -F'\t' -v j="$1" -v c="$2" -v n="$N" 'NR > 1 && $2 == j && $c != "-" { printf "%.3f\n", n / $c }' "$RAW" | med; }
cpu() { awk -F'\t' -v j="$1" -v n="$N" 'NR > 1 && $2 == j { printf "%.6f\n", ($5 + $6) * 1e6 / n }' "$RAW" | med; }
has() { awk -F'\t' -v j="$1" 'NR > 1 && $2 == j { f = 1 } END { exit !f }' "$RAW"; }
CEIL=$(eps drain 3)
# median over the runs of (the ceiling's seconds ÷ JOB's seconds in column COL), within each run
pratio() { # JOB COL
	awk -F'\t' -v j="$1" -v c="$2" 'NR > 1 && $2 == "drain" { d[$1] = $3 } NR > 1 && $2 == j { v[$1] = $c }
		END { for (r in v) if (r in d && v[r] > 0) printf "%.6f\n", d[r] / v[r] }' "$RAW" | med
}
# median over the runs of JOB's CPU (user + sys) ÷ local mode's (of the same binary,
# or the job LOCAL), within each run
cratio() { # JOB [LOCAL]
	local f=${2:-file-disk}
	case $1 in *@b) f=file-disk@b ;; esac
	awk -F'\t' -v j="$1" -v fj="$f" 'NR > 1 && $2 == fj { f[$1] = $5 + $6 } NR > 1 && $2 == j { v[$1] = $5 + $6 }
		END { for (r in v) if (r in f && f[r] > 0) printf "%.6f\n", v[r] / f[r] }' "$RAW" | med
}
row() { # job label
	has "$1" || return 0
	local r d er ed rr="-" rd="-" c="-" emu="-"
	r=$(col "$1" 3)
	er=$(eps "$1" 3)
	case $1 in drain | stream-*) rr=$(calc '%.2f' "$(pratio "$1" 3)") ;; esac
	d="-" ed="-"
	if [ "$1" != drain ]; then
		d=$(calc '%.2f' "$(col "$1" 4)")
		ed=$(calc '%.0f' "$(eps "$1" 4)")
		c=$(calc '%.1f' "$(cpu "$1")")
	fi
	case $1 in stream-*) rd=$(calc '%.2f' "$(pratio "$1" 4)") ;; esac
	case $1 in file-*) ;; *) emu="$(calc '%.1f' "$(col "$1" 8)") ($(calc '%.0f' "100 * $(col "$1" 8) / $r")%)" ;; esac
	printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$2" "$(calc '%.2f' "$r")" "$(calc '%.0f' "$er")" \
		"$rr" "$d" "$ed" "$rd" "$c" "$emu"
}
verdict() { awk -v r="$1" -v op="$2" -v t="$3" 'BEGIN { ok = op == ">=" ? r >= t : r <= t; print (ok ? "met" : "NOT met") }'; }
rev=$(bench_rev)
REPORT=$OUT/results.md
{
	echo "# kinlake Kinesis bench — $(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo
	echo "$($KINLAKE version) ($rev); $(bench_cpus); node $(node --version); kinesis-local $(node -p 'require("./node_modules/kinesis-local/package.json").version'); load average $load0 at start, $(cut -d' ' -f1-3 /proc/loadavg) at end"
	echo "$N events ($(calc '%.1f' "$(stat -c %s "$EV") / 1e6") MB) in a $SHARDS-shard stream (loaded by '$LOAD' in ${t_load} s), --format $FORMAT, $RUNS runs, medians"
	echo
	echo "| job | s to last record | events/s | ÷ ceiling | s to durable | events/s end to end | ÷ ceiling | CPU µs/event | emulator CPU s (÷ s to last record) |"
	echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
	row drain "GetRecords ceiling: do-nothing consumer (kinesis_drain.mjs)"
	row stream-s3 "kinlake --stream → S3 (moto)"
	row stream-sink "kinlake --stream → S3 stand-in (bench/s3_sink.py)"
	row stream-disk "kinlake --stream → local disk"
	row file-disk "kinlake --input file → local disk (local mode)"
	row file-paced "kinlake --input - → local disk, fed at the stream's rate (bench/pace.py)"
	if [ -n "$KL_B" ]; then
		row stream-s3@b "before ($KINLAKE_BEFORE): --stream → S3"
		row stream-disk@b "before: --stream → local disk"
		row file-disk@b "before: --input file → local disk"
	fi
	echo
	s3r=$(calc '%.2f' "$(pratio stream-s3 4)")
	echo "- kinlake → S3 end to end ÷ ceiling: $s3r (target ≥ 0.80: $(verdict "$s3r" '>=' 0.8))"
	# the do-nothing consumer is a ceiling only while the emulator serves its calls
	# at kinlake's cost (bench/README.md, session 24: with a larger young generation
	# it serves kinlake's reads for a third of the SDK consumer's)
	[ "$(verdict "$s3r" '<=' 1.2)" = met ] ||
		echo "- note: kinlake got the records faster than the do-nothing consumer, so that consumer is no ceiling on this emulator and the ratio above does not measure kinlake (emulator CPU per job in the table; bench/README.md, session 24)"
	c1=$(calc '%.2f' "$(cratio stream-s3)")
	echo "- CPU per event, stream mode → S3 ÷ local mode: $c1 (median of the runs' ratios; target ≤ 1.3, issue 12: $(verdict "$c1" '<=' 1.3))$(has stream-disk && echo "; stream mode → local disk ÷ local mode: $(calc '%.2f' "$(cratio stream-disk)")"); ratio of the medians: $(calc '%.2f' "$(cpu stream-s3) / $(cpu file-disk)")"
	! has stream-sink || echo "- CPU per event, stream mode → the S3 stand-in ÷ local mode: $(calc '%.2f' "$(cratio stream-sink)") (median of the runs' ratios; the same stream and uploads as → S3, with the S3 server's CPU off this machine's CPUs, as AWS's S3 is; ratio of the medians: $(calc '%.2f' "$(cpu stream-sink) / $(cpu file-disk)"))"
	! has file-paced || echo "- CPU per event, stream mode ÷ local mode fed at the stream → S3 job's rate (stdin, 50 ms bursts): → S3 $(calc '%.2f' "$(cratio stream-s3 file-paced)")$(has stream-disk && echo ", → local disk $(calc '%.2f' "$(cratio stream-disk file-paced)")"); local mode paced ÷ local mode: $(calc '%.2f' "$(cratio file-paced)")"
	[ -z "$KL_B" ] || echo "- before ($KINLAKE_BEFORE), the same runs: stream mode → S3 ÷ local mode: $(calc '%.2f' "$(cratio stream-s3@b)")$(has stream-disk@b && echo "; → local disk: $(calc '%.2f' "$(cratio stream-disk@b)")"); CPU per event after ÷ before, stream → S3: $(calc '%.2f' "$(cpu stream-s3) / $(cpu stream-s3@b)"), local mode: $(calc '%.2f' "$(cpu file-disk) / $(cpu file-disk@b)")"
	echo "- events/s: median of the runs; ÷ ceiling: median of the runs' ratios (each job against the ceiling measured in the same run)"
	echo "- s to last record: the do-nothing consumer's clock from its first GetShardIterator to the last record's arrival; kinlake --stream: from its start until kinesis-mock sent the last response with records (its last jump of $JUMP bytes or more in wchar, /proc/PID/io, sampled every 50 ms; watched_s in the raw rows is the same clock on the consumer)"
	echo "- s to durable: kinlake's wall time; for --stream less the $IDLE s --exit-idle tail, so it includes the final flush, upload and checkpoint"
	echo "- CPU: user + sys of the whole process ÷ events; emulator CPU: kinesis-mock's user + sys seconds during the job, busy = that ÷ s to last record (one JavaScript thread plus V8's GC threads)"
	held=$(awk -F'\t' 'NR > 1 && $11 >= 1 { printf "%s%s (run %s: %s s)", n++ ? ", " : "", $2, $1, $11 }' "$RAW")
	[ -z "$held" ] || echo "- the host held this VM up (steal time, /proc/stat) during: $held — a held-up job runs slower and its processes may be charged the lost time as CPU: take its row with care"
	echo
	if [ -n "$STAGES_S3" ]; then
		echo "kinlake's CPU by stage (bench/perf_stages.sh, perf record -F ${PERF_FREQ:-999}, one run each after the timed ones; load average $(cut -d' ' -f1 /proc/loadavg) at the end):"
		echo
		echo "stream → S3:"
		echo
		echo "$STAGES_S3"
		echo
		echo "local mode:"
		echo
		echo "$STAGES_FILE"
		echo
	fi
	echo "raw runs ($RAW):"
	echo
	echo '```'
	column -t -s $'\t' "$RAW"
	echo '```'
} >"$REPORT"
cat "$REPORT"
