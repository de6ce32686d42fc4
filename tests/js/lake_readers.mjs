// lake_readers.mjs — every Parquet file of a lake, read by hyparquet and
// parquet-wasm, must equal DuckDB's reading of it value for value (DuckDB's
// reading is itself checked against the input by check_lake.mjs).
// Usage: node tests/js/lake_readers.mjs LAKE_DIR
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { readDuckDB, compare, READERS, zstdPagesOf } from './pq_readers.mjs';

const files = [];
(function walk(d) {
  for (const e of readdirSync(d)) {
    const p = join(d, e);
    if (statSync(p).isDirectory()) walk(p); else if (p.endsWith('.parquet')) files.push(p);
  }
})(join(process.argv[2], 'events'));
if (!files.length) { console.error('no parquet files'); process.exit(1); }

const kind = (t) => t === 'BOOLEAN' ? 'bool' : t === 'BIGINT' ? 'int64' : t === 'DOUBLE' ? 'double' : 'string';
let errors = [], rows = 0;
const pages = zstdPagesOf(files); // hyparquet's ZSTD pages, one zstd process for the lake
for (const f of files) {
  const ref = await readDuckDB(f);
  const exp = {
    columns: ref.columns.map((c) => ({ name: c.name, type: kind(c.type) })),
    rows: ref.rows.map((r) => r.map((v, i) => v === null ? null : kind(ref.columns[i].type) === 'int64' || kind(ref.columns[i].type) === 'double' ? (Object.is(v, -0) ? '-0' : String(v)) : v)),
  };
  rows += exp.rows.length;
  for (const [name, read] of Object.entries(READERS)) {
    if (name === 'duckdb') continue;
    try { errors.push(...compare(name, await read(f, pages), exp, 5).map((m) => `${f}: ${m}`)); }
    catch (e) { errors.push(`${f}: ${name} failed: ${e?.message ?? e}`); }
  }
  if (errors.length > 20) break;
}
console.log(JSON.stringify({ files: files.length, rows }));
if (errors.length) { console.error(errors.slice(0, 20).join('\n')); process.exit(1); }
