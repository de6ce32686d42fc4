# kinlake lambda writes CloudWatch Embedded Metric Format lines on stdout, one per
# invocation (plus one per dead-letter reason), after the answer is posted: parsed
# strictly and summed against the event contract's counts (tests/js/runtime_api.mjs emf).
# duration: 2 (seconds, for the test runner's ordering: a quiet 2-core machine)
. "$(dirname "$0")/_lib.sh"
cd "$ROOT"
node tests/js/runtime_api.mjs emf "$KL" "$T/lake"
