// pq_readers.mjs — read a Parquet file with three independent readers
// (DuckDB, hyparquet, parquet-wasm) into one normalized shape, and compare it
// with the expected-values JSON that tests/unit/test_parquet.c writes.
//
// Normalized table: { columns: [{name, type}], rows: [[value, ...], ...] }
// where type is the reader's own type name and values are null, boolean,
// bigint (INT64), number (DOUBLE) or string (UTF-8 STRING).
// Expected JSON: {"columns":[{"name","type":"bool|int64|double|string"}],
// "rows":[[...]]}; int64 and double values are strings ("-0" for -0.0).
import { DuckDBInstance } from '@duckdb/node-api';
import { parquetMetadata, parquetReadObjects } from 'hyparquet';
import { parquetHeader } from 'hyparquet/src/column.js';
import * as pw from 'parquet-wasm';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { gunzipSync } from 'node:zlib';

// ---- DuckDB --------------------------------------------------------------

let duck = null;
async function duckConn() {
	if (!duck) duck = await (await DuckDBInstance.create(':memory:')).connect();
	return duck;
}

export async function readDuckDB(path) {
	const con = await duckConn();
	const r = await con.runAndReadAll('SELECT * FROM read_parquet($1, hive_partitioning=false)', [path]);
	const names = r.columnNames();
	const types = r.columnTypes().map((t) => t.toString());
	return { columns: names.map((n, i) => ({ name: n, type: types[i] })), rows: r.getRows() };
}

// ---- hyparquet -----------------------------------------------------------

// hyparquet decodes SNAPPY itself; GZIP and ZSTD are supplied here. ZSTD by
// the zstd CLI: one process per file for all its pages (zstdPages below), a
// page it did not cover by a process of its own.
function unzstd(input) {
	const p = spawnSync('zstd', ['-d', '-c', '-q'], { input, maxBuffer: 1 << 30 });
	if (p.error) throw new Error(`zstd CLI not runnable (apt-get install zstd): ${p.error.message}`);
	if (p.status !== 0) throw new Error(`zstd -d failed: ${p.stderr}`);
	return new Uint8Array(p.stdout);
}
const digest = (b) => createHash('sha1').update(b).digest('hex');
const compressorsFor = (pages) => ({
	GZIP: (input) => new Uint8Array(gunzipSync(input)),
	ZSTD: (input) => pages.get(digest(input)) ?? unzstd(input),
});

// Every ZSTD page of some files, decompressed by one zstd process (a process
// per page, then per file, cost most of a lake_readers.mjs run: a fork of
// node and an exec each): the pages are found by walking each column chunk's
// page headers, their frames concatenated (zstd -d of concatenated frames
// writes the concatenated contents) and the output split at the headers'
// uncompressed sizes. Keyed by the SHA-1 of the compressed bytes; empty when
// anything does not add up (then every page goes its own way).
function zstdFrames(file, meta, frames, sizes) {
	for (const rg of meta.row_groups) {
		for (const cc of rg.columns) {
			const m = cc.meta_data;
			if (!m || m.codec !== 'ZSTD') continue;
			let off = Number(m.dictionary_page_offset || m.data_page_offset);
			const end = off + Number(m.total_compressed_size);
			while (off < end) {
				const reader = { view: new DataView(file, off), offset: 0 };
				const h = parquetHeader(reader);
				const body = new Uint8Array(file, off + reader.offset, h.compressed_page_size);
				off += reader.offset + h.compressed_page_size;
				if (h.type === 'DATA_PAGE' || h.type === 'DICTIONARY_PAGE') {
					frames.push(body); sizes.push(h.uncompressed_page_size);
				} else if (h.type === 'DATA_PAGE_V2') {
					const v2 = h.data_page_header_v2;
					const levels = v2.repetition_levels_byte_length + v2.definition_levels_byte_length;
					if (v2.is_compressed !== false && h.uncompressed_page_size - levels) {
						frames.push(body.subarray(levels)); sizes.push(h.uncompressed_page_size - levels);
					}
				}
			}
		}
	}
}

function unzstdPages(frames, sizes) {
	const pages = new Map();
	if (!frames.length) return pages;
	const out = unzstd(Buffer.concat(frames));
	if (out.length !== sizes.reduce((a, b) => a + b, 0)) return pages;
	for (let i = 0, o = 0; i < frames.length; o += sizes[i++]) pages.set(digest(frames[i]), out.subarray(o, o + sizes[i]));
	return pages;
}

function fileOf(path) {
	const buf = readFileSync(path);
	return buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength);
}

// zstdPagesOf(paths): the ZSTD pages of every file, for readHyparquet(path,
// pages) on each of them: one zstd process for them all.
export function zstdPagesOf(paths) {
	const frames = [], sizes = [];
	try {
		for (const p of paths) { const file = fileOf(p); zstdFrames(file, parquetMetadata(file), frames, sizes); }
		return unzstdPages(frames, sizes);
	} catch { return new Map(); /* each file on its own */ }
}

// readHyparquet(path[, pages]): pages from zstdPagesOf, else one zstd process
// for this file's pages.
export async function readHyparquet(path, given) {
	const file = fileOf(path);
	const meta = parquetMetadata(file);
	const leaves = meta.schema.slice(1);
	const columns = leaves.map((e) => ({
		name: e.name,
		type: [e.type, e.converted_type, e.logical_type?.type].filter(Boolean).join('/'),
	}));
	let pages = given ?? new Map();
	if (!given) {
		const frames = [], sizes = [];
		try { zstdFrames(file, meta, frames, sizes); pages = unzstdPages(frames, sizes); } catch { /* each page on its own */ }
	}
	const compressors = compressorsFor(pages);
	const objs = await parquetReadObjects({ file, compressors });
	const rows = objs.map((o) => leaves.map((e) => (o[e.name] === undefined ? null : o[e.name])));
	return { columns, rows, meta };
}

// ---- parquet-wasm (arrow-rs) via the Arrow C Data Interface --------------
// The table is exported to FFI structs in wasm32 memory and decoded here, so
// no apache-arrow JS package is needed. Struct layouts (32-bit pointers):
//   ArrowSchema: format@0 name@4 metadata@8 flags@16 n_children@24
//                children@32 dictionary@36
//   ArrowArray:  length@0 null_count@8 offset@16 n_buffers@24 n_children@32
//                buffers@40 children@44 dictionary@48

function cstr(mem, p) {
	const u8 = new Uint8Array(mem);
	let e = p;
	while (u8[e]) e++;
	return new TextDecoder().decode(u8.subarray(p, e));
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function decodeColumn(mem, schemaP, arrP, out) {
	const dv = new DataView(mem);
	const format = cstr(mem, dv.getUint32(schemaP + 0, true));
	if (dv.getUint32(schemaP + 36, true)) throw new Error('parquet-wasm: dictionary arrays not handled');
	const len = Number(dv.getBigInt64(arrP + 0, true));
	const off = Number(dv.getBigInt64(arrP + 16, true));
	const nbuf = Number(dv.getBigInt64(arrP + 24, true));
	const bufsP = dv.getUint32(arrP + 40, true);
	const buf = (i) => dv.getUint32(bufsP + 4 * i, true);
	const validity = nbuf > 0 ? buf(0) : 0;
	const u8 = new Uint8Array(mem);
	const bit = (p, i) => (u8[p + ((i + off) >> 3)] >> ((i + off) & 7)) & 1;
	for (let i = 0; i < len; i++) {
		if (format === 'n' || (validity && !bit(validity, i))) { out.push(null); continue; }
		const j = i + off;
		switch (format) {
		case 'b': out.push(bit(buf(1), i) === 1); break;
		case 'l': out.push(dv.getBigInt64(buf(1) + 8 * j, true)); break;
		case 'g': out.push(dv.getFloat64(buf(1) + 8 * j, true)); break;
		case 'u': {
			const o = buf(1), s = dv.getInt32(o + 4 * j, true), e = dv.getInt32(o + 4 * j + 4, true);
			out.push(utf8.decode(u8.slice(buf(2) + s, buf(2) + e)));
			break;
		}
		case 'U': {
			const o = buf(1);
			const s = Number(dv.getBigInt64(o + 8 * j, true)), e = Number(dv.getBigInt64(o + 8 * j + 8, true));
			out.push(utf8.decode(u8.slice(buf(2) + s, buf(2) + e)));
			break;
		}
		case 'vu': {
			const v = buf(1) + 16 * j, n = dv.getInt32(v, true);
			if (n <= 12) out.push(utf8.decode(u8.slice(v + 4, v + 4 + n)));
			else {
				const b = dv.getInt32(v + 8, true), o = dv.getInt32(v + 12, true);
				const base = buf(2 + b);
				out.push(utf8.decode(u8.slice(base + o, base + o + n)));
			}
			break;
		}
		default: throw new Error(`parquet-wasm: Arrow format '${format}' not handled`);
		}
	}
	return format;
}

export function readParquetWasm(path) {
	const bytes = new Uint8Array(readFileSync(path));
	const table = pw.readParquet(bytes);
	const stream = table.intoFFI();
	try {
		const mem = pw.wasmMemory().buffer;
		const dv = new DataView(mem);
		const sp = stream.schemaAddr();
		const ncol = Number(dv.getBigInt64(sp + 24, true));
		const kids = dv.getUint32(sp + 32, true);
		const columns = [];
		const cols = [];
		for (let c = 0; c < ncol; c++) {
			const cs = dv.getUint32(kids + 4 * c, true);
			columns.push({ name: cstr(mem, dv.getUint32(cs + 4, true)), type: cstr(mem, dv.getUint32(cs + 0, true)) });
			cols.push([]);
		}
		for (let b = 0; b < stream.numArrays(); b++) {
			const ap = stream.arrayAddr(b);
			const achild = dv.getUint32(ap + 44, true);
			for (let c = 0; c < ncol; c++)
				decodeColumn(mem, dv.getUint32(kids + 4 * c, true), dv.getUint32(achild + 4 * c, true), cols[c]);
		}
		const n = ncol ? cols[0].length : 0;
		const rows = [];
		for (let r = 0; r < n; r++) rows.push(cols.map((col) => col[r]));
		return { columns, rows };
	} finally {
		stream.free();
	}
}

// ---- comparison ------------------------------------------------------------

const TYPES = {
	duckdb: { bool: ['BOOLEAN'], int64: ['BIGINT'], double: ['DOUBLE'], string: ['VARCHAR'] },
	hyparquet: { bool: ['BOOLEAN'], int64: ['INT64'], double: ['DOUBLE'], string: ['BYTE_ARRAY/UTF8/STRING'] },
	'parquet-wasm': { bool: ['b'], int64: ['l'], double: ['g'], string: ['u', 'U', 'vu'] },
};

function show(v) {
	if (typeof v === 'bigint') return `${v}n`;
	if (Object.is(v, -0)) return '-0';
	return JSON.stringify(v);
}

// Returns a list of mismatch messages (empty when everything matched).
export function compare(reader, got, exp, maxErrors = 20) {
	const errs = [];
	const err = (m) => { if (errs.length < maxErrors) errs.push(`${reader}: ${m}`); };
	if (got.columns.length !== exp.columns.length)
		err(`${got.columns.length} columns, expected ${exp.columns.length}`);
	exp.columns.forEach((ec, i) => {
		const gc = got.columns[i];
		if (!gc) return;
		if (gc.name !== ec.name) err(`column ${i} named ${gc.name}, expected ${ec.name}`);
		if (!TYPES[reader][ec.type].includes(gc.type)) err(`column ${ec.name} has type ${gc.type}, expected one of ${TYPES[reader][ec.type]}`);
	});
	if (got.rows.length !== exp.rows.length) err(`${got.rows.length} rows, expected ${exp.rows.length}`);
	const n = Math.min(got.rows.length, exp.rows.length);
	for (let r = 0; r < n && errs.length < maxErrors; r++) {
		exp.columns.forEach((ec, c) => {
			const e = exp.rows[r][c], g = got.rows[r][c];
			let ok;
			if (e === null) ok = g === null;
			else if (ec.type === 'bool') ok = g === e;
			else if (ec.type === 'int64') ok = typeof g === 'bigint' && g === BigInt(e);
			else if (ec.type === 'double') ok = typeof g === 'number' && Object.is(g, Number(e));
			else ok = g === e;
			if (!ok) err(`row ${r} column ${ec.name}: got ${show(g)}, expected ${show(e)}`);
		});
	}
	return errs;
}

export const READERS = {
	duckdb: readDuckDB,
	hyparquet: readHyparquet,
	'parquet-wasm': readParquetWasm,
};

// Read `path` with every reader and compare with `exp`; returns mismatches.
export async function checkFile(path, exp) {
	const errs = [];
	for (const [name, read] of Object.entries(READERS)) {
		let got;
		try {
			got = await read(path);
		} catch (e) {
			errs.push(`${name}: failed to read: ${e?.stack ?? e}`);
			continue;
		}
		errs.push(...compare(name, got, exp));
	}
	return errs;
}
