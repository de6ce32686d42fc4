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
#   function    libzstd/liblz4/libz/libsnappy -> compress; the kernel -> read (main thread)
#               or write (writer, encoders); the source's line splitting -> read;
#               JSON and event parsing -> parse/validate; enrichment, partition
#               keys, dedup and partition buffers -> enrich+route; in writer and
#               encoder threads the rest -> encode (store_* -> write).
#   stream mode kl-shard threads (one per Kinesis shard: its reader and the
#               serial parse/apply) count as the main thread; their Kinesis
#               calls -> source: libcurl, TLS (libssl, libcrypto) and the
#               kernel under them (socket reads and writes), SigV4, the GetRecords response's JSON walk,
#               base64, KPL de-aggregation and the sequence-number marks. With
#               call graphs (PERF_CALLGRAPH, or a recording made with -g) a
#               sample is "source" when any frame of its stack is one of the
#               source's functions, else by its leaf as above; without them
#               by the leaf's function and library only. The stream's own
#               main thread (ListShards, the shard threads' start and join)
#               -> other.
# Environment: PERF_FREQ (default 999 Hz); PERF_CALLGRAPH (default empty: no
# call graphs; e.g. "fp" with a binary built with -fno-omit-frame-pointer, or
# "dwarf").
set -euo pipefail
FREQ=${PERF_FREQ:-999}
if [ "${1:-}" = "--data" ]; then # classify a perf.data recorded at $PERF_FREQ
	data=$2
else
	[ "${1:-}" = "--" ] && shift
	[ $# -gt 0 ] || { echo "usage: $0 -- command... | $0 --data perf.data" >&2; exit 2; }
	data=$(mktemp "${TMPDIR:-/tmp}/kl-perf.XXXXXX")
	trap 'rm -f "$data" "$data.old" "$data.err"' EXIT
	perf record -q -F "$FREQ" ${PERF_CALLGRAPH:+--call-graph "$PERF_CALLGRAPH"} -o "$data" -- "$@" >/dev/null 2>"$data.err" || {
		cat "$data.err" >&2
		exit 1
	}
fi
perf script -i "$data" -F comm,pid,tid,ip,sym,dso 2>/dev/null | awk -v freq="$FREQ" '
# the Kinesis source: its functions, and what only it calls
function source_sym(sym) {
	return sym ~ /^(k_next|get_records|get_iterator|next_kinesis_record|throttled|kl_kinesis_call|kl_aws_json_call|kl_http_request|on_body|on_header|kl_sigv4_|kl_base64_decode|decode_avx2|kl_kpl_decode|kl_seqmap_|curl_|Curl_|__libc_recv|__libc_send|__x64_sys_recvfrom|__x64_sys_sendto)/
}
function stage(comm, main, shard, sym, dso, insrc) {
	if (shard && (insrc || dso ~ /libcurl|libssl|libcrypto|libnghttp2/ || source_sym(sym))) return "source"
	if (comm == "kinlake" && main && nshard_seen) return "other"
	if (dso ~ /libzstd|liblz4|libz\.|libsnappy/) return "compress"
	if (dso ~ /kernel/) return main || shard ? "read" : "write"
	if (comm == "kl-prep" || main || shard) {
		if (sym ~ /^(fd_next|fill|wait_readable|kl_prep_chunk_add)$/ || (main && sym ~ /memchr/)) return "read"
		if (sym ~ /json|^kl_event_parse|^string_end|^skip_value|utf8|strtod|^parse_/) return "parse/validate"
		if (sym ~ /^kl_json_iter|^number/) return "parse/validate"
		return "enrich+route"
	}
	if (sym ~ /^(local_|store_|kl_store|s3_)/) return "write"
	if (dso ~ /libcurl|libssl|libcrypto|libnghttp2/) return "write"
	return "encode"
}
function frame(line,   f, k) { # "ip sym+off (dso)" -> sets fsym, fdso
	k = split(line, f, " ")
	fdso = f[k]; fsym = k >= 3 ? f[2] : "[unknown]"
	sub(/\+0x[0-9a-f]+$/, "", fsym)
}
function account(   s) {
	s = stage(comm, pid == tid, comm == "kl-shard", lsym, ldso, insrc)
	n[s]++; total++
	have = 0
}
# a sample is one line "comm pid/tid ip sym (dso)" without call graphs; with
# them a line "comm pid/tid" and then one line per frame (tab-indented), leaf first
/^[^\t]/ && NF >= 2 {
	if (have) account()
	comm = $1; split($2, pt, "/"); pid = pt[1]; tid = pt[2]
	if (comm == "kl-shard") nshard_seen = 1
	insrc = 0; have = 1
	if (NF >= 4) { # no call graph: the leaf is on this line
		ldso = $NF; lsym = NF < 5 ? "[unknown]" : $4
		sub(/\+0x[0-9a-f]+$/, "", lsym)
		account()
	} else {
		lsym = ""; ldso = ""
	}
	next
}
/^\t/ && have {
	frame($0)
	if (lsym == "") { lsym = fsym; ldso = fdso }
	if (source_sym(fsym)) insrc = 1
	next
}
END {
	if (have) account()
	split("source read parse/validate enrich+route encode compress write other", order, " ")
	printf "| stage | CPU s | share |\n|---|---:|---:|\n"
	for (i = 1; i <= 8; i++) {
		k = order[i]
		if ((k == "source" || k == "other") && !n[k]) continue
		printf "| %s | %.2f | %.0f%% |\n", k, n[k] / freq, total ? 100 * n[k] / total : 0
	}
	printf "| total | %.2f | 100%% |\n", total / freq
}'
