#!/usr/bin/env node
// pq_sizes.mjs LAKE_DIR — where the bytes of a Parquet lake go: per column
// (summed over files) compressed and uncompressed chunk bytes, encodings and
// chunk count, and the per-file overhead (magic, footer). Reads metadata only.
import { DuckDBInstance } from '@duckdb/node-api';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const dir = process.argv[2];
const files = [];
const walk = (d) => { for (const e of readdirSync(d, { withFileTypes: true })) {
	const p = join(d, e.name);
	if (e.isDirectory()) walk(p); else if (p.endsWith('.parquet')) files.push(p);
} };
walk(dir);
let total = 0;
for (const f of files) total += statSync(f).size;
const con = await (await DuckDBInstance.create(':memory:')).connect();
const list = '[' + files.map((f) => `'${f.replace(/'/g, "''")}'`).join(',') + ']';
const q = async (sql) => (await con.runAndReadAll(sql)).getRowObjectsJson();
const cols = await q(`SELECT path_in_schema AS col, type, count(*) AS chunks,
	sum(total_compressed_size) AS comp, sum(total_uncompressed_size) AS uncomp,
	sum(num_values) AS vals, sum(stats_null_count) AS nulls,
	string_agg(DISTINCT encodings, ' | ') AS encs
	FROM parquet_metadata(${list}) GROUP BY ALL ORDER BY comp DESC`);
const meta = await q(`SELECT sum(num_rows) AS rows, count(*) AS files FROM parquet_file_metadata(${list})`);
let chunks = 0;
for (const c of cols) chunks += Number(c.comp);
const mb = (x) => (Number(x) / 1e6).toFixed(3);
console.log(`files ${files.length}, rows ${meta[0].rows}, total ${mb(total)} MB, column chunks ${mb(chunks)} MB, ` +
	`other (footers, magic) ${mb(total - chunks)} MB = ${((total - chunks) / files.length).toFixed(0)} B/file`);
console.log('col\ttype\tchunks\tcomp MB\tuncomp MB\tshare\tvals\tnulls\tencodings');
for (const c of cols)
	console.log(`${c.col}\t${c.type}\t${c.chunks}\t${mb(c.comp)}\t${mb(c.uncomp)}\t${(100 * c.comp / total).toFixed(1)}%\t${c.vals}\t${c.nulls}\t${c.encs}`);
