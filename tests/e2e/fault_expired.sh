# Expired shard iterators and expired credentials on the stream path
# (tests/fault_proxy.py in front of kinesis-mock and moto S3): while a 2-shard
# stream is read into an S3 lake, with the dedup window off (a record read
# twice would be stored twice),
#  - GetRecords answers ExpiredIteratorException 4 times after records were
#    read: each shard gets a new iterator after the last record it read
#    (GetShardIterator is called again) and reads on;
#  - GetShardIterator and GetRecords answer ExpiredTokenException once each,
#    and two PUTs of objects answer S3's ExpiredToken: the credentials are
#    renewed and the request is sent again (once: a request whose renewed
#    credentials are refused again fails the run, with what it read left to
#    the next run);
# the run ends cleanly on SIGTERM and the lake holds every event exactly once,
# the bad records as dead letters (issue 12: "also after an expired iterator,
# or ExpiredToken").
# duration: 35 (seconds, for the test runner's ordering: a quiet 2-core machine)
. "$(dirname "$0")/_lib.sh"
start_stack
N=${KL_ASAN:+1000}; N=${N:-2000}
$K create-stream --stream-name ex --shard-count 2
s3lite "$AWS_ENDPOINT_URL_S3" mb s3://lake || fail "make bucket"
sleep 1
"$KL" gen --events "$N" --types 8 --bad-fraction 0.02 --seed 83 > "$T/all.jsonl"
head -n $((N / 2)) "$T/all.jsonl" > "$T/a.jsonl"; tail -n +$((N / 2 + 1)) "$T/all.jsonl" > "$T/b.jsonl"
fault_proxy kin "$AWS_ENDPOINT_URL_KINESIS" --mode kinesis; KP=http://127.0.0.1:$P
fault_proxy s3 "$AWS_ENDPOINT_URL_S3" --mode s3 --op-fault PUT=expired_token:1:1; SP=http://127.0.0.1:$P
kstats() { curl -sf "$KP/__fault/stats"; }
op_fault() { curl -sf -X POST "$1/__fault/op?$2" > /dev/null || fail "proxy: set $2"; }
# fired PROXY KIND N: the proxy answered KIND at least N times
fired() { [ "$(curl -sf "$1/__fault/stats" | jget "d['faults']['$2']")" -ge "$3" ]; }
put ex "$T/a.jsonl" || fail "put a"
AWS_ENDPOINT_URL_KINESIS=$KP AWS_ENDPOINT_URL_S3=$SP \
	"$KL" ingest --stream ex --lake s3://lake/p --format jsonl --dedup-window 0 \
	--flush-interval 1 --max-file-bytes 16KiB --metrics-file "$T/m.prom" --metrics-interval 0.3 \
	2> "$T/err" & pid=$!
pids+=($pid)
read_at_least() { [ "$(metric kinlake_records_read_total "$T/m.prom")" -ge "$1" ] 2>/dev/null; }
wait_for 60 read_at_least $((N / 2)) || fail "the first half was not read: $(cat "$T/err")"
wait_for 30 fired "$SP" expired_token 1 || fail "no PUT was answered ExpiredToken: $(cat "$T/err")"
op_fault "$SP" "op=PUT&kind=expired_token&count=1&skip=2" # a second one, later
# 1. expired iterators, after records were read on both shards; the first new
#    iterator asked for meets expired credentials
gsi0=$(kstats | jget "d['ops'].get('GetShardIterator', {}).get('calls', 0)")
op_fault "$KP" "op=GetShardIterator&kind=expired_token&count=1"
op_fault "$KP" "op=GetRecords&kind=expired_iter&count=4"
wait_for 30 fired "$KP" expired_iter 4 || fail "GetRecords was not answered ExpiredIterator 4 times: $(kstats)"
# 2. expired credentials on a GetRecords call
op_fault "$KP" "op=GetRecords&kind=expired_token&count=1"
wait_for 30 fired "$KP" expired_token 2 || fail "GetRecords was not answered ExpiredToken: $(kstats)"
put ex "$T/b.jsonl" || fail "put b"
wait_for 60 read_at_least "$N" || fail "the second half was not read: $(cat "$T/err")"
kill -0 "$pid" 2>/dev/null || fail "the run ended: $(cat "$T/err")"
sleep 1.5 # a flush interval: the last files go to S3 before the signal
kill -TERM "$pid"
wait "$pid" || fail "ingest exited $?: $(cat "$T/err")"
cat "$T/err"
kstats > "$T/ks.json"
curl -sf "$SP/__fault/stats" > "$T/ss.json"
echo "kinesis proxy: $(jget '{k: v for k, v in d.items() if k != "retry_gaps_ms"}' < "$T/ks.json")"
echo "s3 proxy: $(jget '{k: v for k, v in d.items() if k != "retry_gaps_ms"}' < "$T/ss.json")"
[ "$(jget "d['faults']['expired_iter']" < "$T/ks.json")" -eq 4 ] || fail "expired iterators: not 4"
[ "$(jget "d['faults']['expired_token']" < "$T/ks.json")" -eq 2 ] || fail "Kinesis expired tokens: not 2"
[ "$(jget "d['faults']['expired_token']" < "$T/ss.json")" -eq 2 ] || fail "S3 expired tokens: not 2"
# every expired iterator made its shard ask for a new one (plus the one expired token)
gsi=$(jget "d['ops']['GetShardIterator']['calls']" < "$T/ks.json")
[ "$gsi" -ge $((gsi0 + 5)) ] || fail "GetShardIterator: $gsi calls, $gsi0 before the expired iterators"
grep -qi "error" "$T/err" && fail "errors reported: $(cat "$T/err")"
# a new iterator starts after the last record read: nothing was read twice
# (a shard that started over would still leave a correct lake: its files are
# rewritten with the same names and bytes; the count is what shows it)
read=$(metric kinlake_records_read_total "$T/m.prom")
[ "$read" = "$N" ] || fail "$read records read for $N: some were read again after an expired iterator"
s3lite "$AWS_ENDPOINT_URL_S3" cp s3://lake/p "$T/lake" || fail "sync"
check_lake "$T/all.jsonl" "$T/lake" || fail "events lost or stored twice"
echo "fault_expired: ok"
