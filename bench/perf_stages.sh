#!/usr/bin/env bash
# bench/perf_stages.sh: where the CPU time of one kinlake run goes, by pipeline
# stage, from `perf record` samples (perf must be installed and allowed:
# kernel.perf_event_paranoid <= 1, or root).
#
#   bench/perf_stages.sh -- build/kinlake ingest --input events.jsonl --lake DIR
#   bench/perf_stages.sh --data perf.data      (an existing recording)
#
# Prints a markdown table: stage, CPU seconds (samples / frequency), share.
# Each sample is classified by its thread and its function:
#   thread      kl-prep (parse workers), kl-encode (encoder threads), kl-writer
#               (the writer), the main thread (tid = pid: reads, and applies; with
#               --threads 1 it also parses), any other (a writer thread without a
#               name: binaries from before the threads had names)
#   function    libzstd/libz/libsnappy -> compress; the kernel -> read (main thread)
#               or write (writer, encoders); the source's line splitting -> read;
#               JSON and event parsing -> parse/validate; enrichment, partition
#               keys, dedup and partition buffers -> enrich+route; in writer and
#               encoder threads the rest -> encode (store_* -> write).
# Environment: PERF_FREQ (default 999 Hz).
set -euo pipefail
FREQ=${PERF_FREQ:-999}
if [ "${1:-}" = "--data" ]; then # classify a perf.data recorded at $PERF_FREQ
	data=$2
else
	[ "${1:-}" = "--" ] && shift
	[ $# -gt 0 ] || { echo "usage: $0 -- command... | $0 --data perf.data" >&2; exit 2; }
	data=$(mktemp "${TMPDIR:-/tmp}/kl-perf.XXXXXX")
	trap 'rm -f "$data" "$data.old" "$data.err"' EXIT
	perf record -q -F "$FREQ" -o "$data" -- "$@" >/dev/null 2>"$data.err" || {
		cat "$data.err" >&2
		exit 1
	}
fi
perf script -G -i "$data" -F comm,pid,tid,ip,sym,dso 2>/dev/null | awk -v freq="$FREQ" '
function stage(comm, main, sym, dso) {
	if (dso ~ /libzstd|libz\.|libsnappy/) return "compress"
	if (dso ~ /kernel/) return main ? "read" : "write"
	if (comm == "kl-prep" || main) {
		if (sym ~ /^(fd_next|fill|wait_readable|kl_prep_chunk_add)$/ || (main && sym ~ /memchr/)) return "read"
		if (sym ~ /json|^kl_event_parse|^check|^string_end|^skip_value|utf8|strtod|^parse_/) return "parse/validate"
		if (sym ~ /^kl_json_iter|^number/) return "parse/validate"
		return "enrich+route"
	}
	if (sym ~ /^(local_|store_|kl_store)/) return "write"
	return "encode"
}
{
	# "comm pid/tid ip sym (dso)"; our thread names hold no spaces
	comm = $1; split($2, pt, "/"); pid = pt[1]; tid = pt[2]
	dso = $NF; sym = NF < 5 ? "[unknown]" : $4
	s = stage(comm, pid == tid, sym, dso)
	n[s]++; total++
}
END {
	split("read parse/validate enrich+route encode compress write", order, " ")
	printf "| stage | CPU s | share |\n|---|---:|---:|\n"
	for (i = 1; i <= 6; i++) {
		k = order[i]
		printf "| %s | %.2f | %.0f%% |\n", k, n[k] / freq, total ? 100 * n[k] / total : 0
	}
	printf "| total | %.2f | 100%% |\n", total / freq
}'
