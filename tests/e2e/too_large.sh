# A record over the reader's in-memory cap (64 MiB by default) is a too_large
# dead letter that keeps every byte, read from a file and from a pipe (not
# seekable): its raw_base64 decodes to exactly the line, with no truncation
# marker; the events around it land; memory stays bounded (the line is
# streamed through a spill file, not held whole).
# duration: 17 (seconds, for the test runner's ordering: a quiet 2-core machine)
. "$(dirname "$0")/_lib.sh"
# two long lines of arbitrary bytes: 70 MiB inside the input, 65 MiB at its
# end without a trailing newline
head -c $((70 << 20)) /dev/urandom | tr -d '\n' > "$T/long1.bin"
head -c $((65 << 20)) /dev/urandom | tr -d '\n' > "$T/long2.bin"
{
	printf '%s\n' '{"event_uuid":"a1","event_name":"a:b","created_at":1}'
	cat "$T/long1.bin"; printf '\n'
	printf '%s\n' '{"event_uuid":"a2","event_name":"a:b","created_at":2}'
	printf '%s\n' '{"event_uuid":"a3","event_name":"c","created_at":3}'
	cat "$T/long2.bin"
} > "$T/in.jsonl"

check() { # lake, summary, label
	local lake=$1 sum=$2 label=$3
	grep -q 'stored=3 ' "$sum" || fail "$label: summary: $(cat "$sum")"
	grep -q 'dead_letters=2 ' "$sum" || fail "$label: summary: $(cat "$sum")"
	grep -q 'too_large=2' "$sum" || fail "$label: reasons: $(cat "$sum")"
	local n=0
	for f in "$lake"/errors/too_large/dt=*/*; do
		case $f in
		*.zst) zstd -q -dc "$f" > "$T/dl.jsonl" ;;
		*) cp "$f" "$T/dl.jsonl" ;;
		esac
		node -e '
const fs=require("fs"), crypto=require("crypto");
const [f, a, b]=process.argv.slice(1);
const lines=fs.readFileSync(f,"utf8").split("\n").filter(Boolean);
const want={}; for (const p of [a, b]) want[crypto.createHash("sha256").update(fs.readFileSync(p)).digest("hex")]=fs.statSync(p).size;
for (const l of lines) {
	const d=JSON.parse(l);
	const raw=Buffer.from(d.raw_base64,"base64");
	const h=crypto.createHash("sha256").update(raw).digest("hex");
	if (d.error!=="too_large" || !(h in want) || "truncated" in d || "raw_length" in d ||
	    !d.message.includes(`record of ${raw.length} bytes`) || typeof d.position!=="number") {
		console.error("bad dead letter:", d.error, d.message, raw.length, d.truncated, d.raw_length); process.exit(1);
	}
	console.log(raw.length);
}' "$T/dl.jsonl" "$T/long1.bin" "$T/long2.bin" >> "$T/found" || fail "$label: dead letter $f"
		n=$((n + 1))
	done
	[ "$n" -ge 1 ] || fail "$label: no too_large dead letter"
	[ "$(sort -n "$T/found" | tr '\n' ' ')" = "$(stat -c %s "$T/long2.bin" "$T/long1.bin" | sort -n | tr '\n' ' ')" ] ||
		fail "$label: dead letters hold $(cat "$T/found"), want both lines whole"
	rm -f "$T/found"
	local ev
	ev=$(find "$lake/events" -type f -name '*.jsonl*' -exec sh -c 'case $1 in *.zst) zstd -q -dc "$1";; *) cat "$1";; esac' _ {} \; | wc -l)
	[ "$ev" = 3 ] || fail "$label: $ev events in the lake, want 3"
}

# from a file, uncompressed
/usr/bin/time -f '%M' -o "$T/rss1" "$KL" ingest --input "$T/in.jsonl" --lake "$T/lake1" \
	--format jsonl --compression none 2> "$T/sum1"
check "$T/lake1" "$T/sum1" file
# a second run of the same file is a no-op
"$KL" ingest --input "$T/in.jsonl" --lake "$T/lake1" --format jsonl --compression none 2> "$T/sum1b"
grep -q 'already in the lake' "$T/sum1b" || fail "rerun: $(cat "$T/sum1b")"

# from a pipe, zstd
cat "$T/in.jsonl" | /usr/bin/time -f '%M' -o "$T/rss2" "$KL" ingest --input - --lake "$T/lake2" \
	--format jsonl 2> "$T/sum2"
check "$T/lake2" "$T/sum2" stdin

# bounded memory: the 64 MiB window plus buffers, not the 70 MiB line and
# its 93 MiB of base64 on top (ASan adds its own overhead)
limit=$((230 * 1024))
[ -n "${KL_ASAN:-}" ] && limit=$((600 * 1024))
for r in rss1 rss2; do
	kb=$(tail -n 1 "$T/$r")
	echo "$r: max RSS ${kb} KiB"
	[ "$kb" -lt "$limit" ] || fail "$r: max RSS ${kb} KiB over ${limit} KiB"
done
echo ok
