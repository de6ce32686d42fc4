# kinlake lambda against a local Lambda Runtime API (tests/js/runtime_api.mjs):
# one process through the Firehose samples, 10k generated events with bad ones,
# repeated events (Dropped), an empty batch, invalid base64, ~6 MB batches (one
# fits, one is over the response limit -> Kinlake.ResponseTooLarge, and its
# retry is not Dropped), a deadline too close, Kinesis ESM events without a
# lake (Kinlake.NotConfigured: the lake path is lambda_esm.sh), unsupported and
# invalid payloads; then a transform
# stopped mid-batch by its deadline, and an init error.
# duration: 5 (seconds, for the test runner's ordering: a quiet 2-core machine)
. "$(dirname "$0")/_lib.sh"
cd "$ROOT"
export KL_CORPORA=${KL_CORPORA:-$ROOT/../shared/corpora}
node tests/js/runtime_api.mjs main "$KL" "$KL_CORPORA"
node tests/js/runtime_api.mjs deadline "$KL"
node tests/js/runtime_api.mjs initerror "$KL"
# no Runtime API: an init failure on stderr, exit 1
if AWS_LAMBDA_RUNTIME_API= "$KL" lambda 2>"$T/err"; then fail "ran without AWS_LAMBDA_RUNTIME_API"; fi
grep -q '"level":"ERROR".*AWS_LAMBDA_RUNTIME_API is not set' "$T/err" || fail "no init error: $(cat "$T/err")"
help=$("$KL" lambda --help); grep -q 'Firehose' <<<"$help" || fail "lambda --help"
help=$("$KL" --help); grep -q '^  lambda ' <<<"$help" || fail "lambda missing from kinlake --help"
