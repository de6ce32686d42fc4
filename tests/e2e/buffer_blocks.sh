# Buffers hold compressed blocks (buffer/blocks.h), so --memory-limit counts
# encoded bytes: an input whose text is larger than the whole limit still
# lands as one file per partition, byte-identical to a run with memory to
# spare, and every event reads back through DuckDB; JSON lines files of many
# blocks read back through the zstd CLI and DuckDB, and are those blocks'
# frames as sealed (one per block, checksummed); a budget too small even
# for the compressed data still splits files, and loses nothing.
# duration: 33 (seconds, for the test runner's ordering: a quiet 2-core machine)
# duration-asan: 29
. "$(dirname "$0")/_lib.sh"
N=60000
LIMIT=20MiB
"$KL" gen --events "$N" --types 10 --span 7200 --seed 5 > "$T/in.jsonl"
size=$(stat -c %s "$T/in.jsonl")
[ "$size" -gt $((20 << 20)) ] || fail "the input ($size bytes) must not fit $LIMIT as text"
parts() { find "$1/events" -type d -name 'hr=*' | wc -l; }
files() { find "$1/events" -type f ! -name '.*' | wc -l; }
# sha256 of every data file (these lakes have no errors/, which lake_digest expects)
digest() { (cd "$1" && find events -type f -print0 | sort -z | xargs -0 sha256sum); }
# at most 1.2 data files per partition
fits() { # lake
	local p f
	p=$(parts "$1"); f=$(files "$1")
	echo "$1: $f files for $p partitions"
	[ "$p" -ge 10 ] || fail "only $p partitions"
	[ $((f * 10)) -le $((p * 12)) ] || fail "$f files for $p partitions (> 1.2 per partition)"
}
for fmt in parquet jsonl; do
	# --dedup-window 0: the fixed costs are the 8 MiB reader window only
	"$KL" ingest --input "$T/in.jsonl" --lake "$T/$fmt" --format "$fmt" \
		--memory-limit "$LIMIT" --dedup-window 0 2> "$T/sum"
	cat "$T/sum"
	grep -q "stored=$N " "$T/sum" || fail "$fmt: not every event stored"
	fits "$T/$fmt"
	check_lake "$T/in.jsonl" "$T/$fmt" --format "$fmt"
	# the same lake, byte for byte, as with memory to spare for the text
	"$KL" ingest --input "$T/in.jsonl" --lake "$T/$fmt-big" --format "$fmt" \
		--memory-limit 1GiB --dedup-window 0 --quiet
	[ "$(digest "$T/$fmt")" = "$(digest "$T/$fmt-big")" ] ||
		fail "$fmt: the lake differs from the one written with memory to spare"
done
# a tighter limit, where tails are sealed early to make room (buffer/parts.h):
# still one file per partition, the same bytes (the writer hands the encoder
# the same pieces wherever blocks were cut)
"$KL" ingest --input "$T/in.jsonl" --lake "$T/jsonl-14" --format jsonl --memory-limit 14MiB \
	--dedup-window 0 --quiet
fits "$T/jsonl-14"
[ "$(digest "$T/jsonl-14")" = "$(digest "$T/jsonl-big")" ] ||
	fail "jsonl: early sealing changed the lake"
# JSON lines files made of many sealed blocks: the zstd CLI reads them too,
# and they hold exactly the lines DuckDB saw
big=$(find "$T/jsonl/events" -name '*.jsonl.zst' -size +300k -print -quit)
[ -n "$big" ] || fail "no JSON lines file spans several blocks"
zstd -t -q "$big" || fail "zstd -t rejects $big"
lines=$(zstd -dc "$big" | wc -l)
[ "$lines" -gt 500 ] || fail "$big holds only $lines lines"
# ... and such a file is the buffer's own blocks (encode/jsonl/jsonl.h): a
# run of checked zstd frames, one per 120 KiB of text (KL_BLOCK_BYTES_FRAMES),
# not one frame made again at flush; another level makes one frame of the
# same lines
frames=$(zstd -lv "$big" | sed -n 's/^# Zstandard Frames: *//p')
raw=$(zstd -dc "$big" | wc -c)
echo "$big: $frames frames for $raw bytes"
[ "$frames" -ge $((raw / (122 << 10))) ] && [ "$frames" -le $((raw / (120 << 10) + 1)) ] ||
	fail "$frames frames for $raw bytes of text (not one per 120 KiB block)"
zstd -lv "$big" | grepq '^Check: XXH64' || fail "$big: frames without a checksum"
"$KL" ingest --input "$T/in.jsonl" --lake "$T/jsonl-l3" --format jsonl --compression-level 3 \
	--dedup-window 0 --quiet
rel=${big#"$T/jsonl/"}
[ "$(zstd -lv "$T/jsonl-l3/$rel" | sed -n 's/^# Zstandard Frames: *//p')" = 1 ] ||
	fail "--compression-level 3: not one frame"
cmp -s <(zstd -dc "$big") <(zstd -dc "$T/jsonl-l3/$rel") || fail "--compression-level 3: other lines"
# a budget that truly binds: files split, nothing lost or doubled
"$KL" ingest --input "$T/in.jsonl" --lake "$T/tight" --memory-limit 10MiB --dedup-window 0 \
	2> "$T/sum"
cat "$T/sum"
p=$(parts "$T/tight"); f=$(files "$T/tight")
[ "$f" -gt "$p" ] || fail "a 10 MiB limit did not split any partition ($f files, $p partitions)"
check_lake "$T/in.jsonl" "$T/tight" --format parquet
# and a rerun of the same input is a no-op: same lake
before=$(digest "$T/tight")
"$KL" ingest --input "$T/in.jsonl" --lake "$T/tight" --memory-limit 10MiB --dedup-window 0 --quiet
[ "$(digest "$T/tight")" = "$before" ] || fail "a rerun changed the lake"
echo "buffer_blocks: ok"
