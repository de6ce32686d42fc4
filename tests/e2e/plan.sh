# kinlake plan from the command line: the seed workload (1M events/hour, 420 bytes,
# 100 types; the arithmetic itself is checked by hand in tests/unit/test_plan.c), --mode,
# --price overrides, bad usage.
# duration: 1 (seconds, for the test runner's ordering: a quiet 2-core machine)
. "$(dirname "$0")/_lib.sh"
"$KL" plan --events-per-hour 1000000 --event-bytes 420 --types 100 > "$T/out"
cat "$T/out"
grep -q '^  shards                   1 ' "$T/out" || fail "shards"
[ "$(grep -c '^mode ' "$T/out")" = 3 ] || fail "three modes"
total() { awk -v m="mode $1" '$0 == m { on = 1 } on && $1 == "total" { print $2; exit }' "$T/out"; }
[ "$(total firehose)" = 137.81 ] && [ "$(total lambda)" = 65.20 ] && [ "$(total consumer)" = 48.02 ] ||
	fail "totals $(total firehose) $(total lambda) $(total consumer)"
grep -q 'Firehose ingestion .* 100.95 USD' "$T/out" || fail "Firehose ingestion line"
"$KL" plan --events-per-hour 1e6 --event-bytes 420 --mode lambda --price kds_shard_hour=0.02,s3_put_1k=0 > "$T/out2"
[ "$(grep -c '^mode ' "$T/out2")" = 1 ] && grep -q '^mode lambda$' "$T/out2" || fail "--mode lambda"
grep -q 'Kinesis shard-hours .* 14.60 USD' "$T/out2" || fail "--price kds_shard_hour"
grep -q 'S3 PUT requests .* 0.00 USD' "$T/out2" || fail "--price s3_put_1k"
set +e
"$KL" plan --event-bytes 420 2> "$T/e1"; rc1=$?
"$KL" plan --events-per-hour 1 --event-bytes 420 --price bogus=1 2> "$T/e2"; rc2=$?
set -e
[ $rc1 = 2 ] && grep -q 'events-per-hour' "$T/e1" || fail "missing flag: $rc1 $(cat "$T/e1")"
[ $rc2 = 2 ] && grep -q "unknown price 'bogus'" "$T/e2" || fail "bad price: $rc2 $(cat "$T/e2")"
help=$("$KL" plan --help); grep -q '^  kds_shard_hour ' <<<"$help" || fail "price table in --help"
help=$("$KL" --help); grep -q '^  plan ' <<<"$help" || fail "plan missing from kinlake --help"
echo "plan: ok"
