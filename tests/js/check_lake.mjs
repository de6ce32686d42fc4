// check_lake.mjs — independent check of a kinlake lake against its input.
//
// Usage: node tests/js/check_lake.mjs INPUT.jsonl LAKE_DIR [--format jsonl|parquet] [--dedup]
//
// Reads the lake with DuckDB (the engine users query it with) and verifies:
//  * every input line that is a valid event (decided here, in JS, from the
//    contract) is stored exactly once (by event_uuid), first occurrence wins;
//  * each stored event equals its input object plus the three computed
//    fields, with created_datetime / event_type / event_subtype recomputed here;
//  * each stored event sits in the right events/event_type=/event_subtype=/dt=/hr=
//    directory (Hive-escaped as DESIGN.md says);
//  * every other line is a dead letter whose raw_base64 decodes to the exact
//    input bytes, under errors/<reason>/, with the reason JS expects.
// Exits 1 with the first mismatches printed.
import { DuckDBInstance } from '@duckdb/node-api';
import { readFileSync, readdirSync } from 'node:fs';
import { classify, canon } from './event_contract.mjs';

const args = process.argv.slice(2);
const [input, lake] = args;
const format = args.includes('--format') ? args[args.indexOf('--format') + 1] : 'jsonl';
const dedup = !args.includes('--no-dedup');
// at-least-once runs (a Kinesis consumer killed and restarted) may store an event twice
const allowDup = args.includes('--allow-duplicates');
const fail = [];
const bad = (m) => { if (fail.length < 20) fail.push(m); };

// --- expected, from the input --------------------------------------------
const data = readFileSync(input);
const expected = new Map(); // uuid -> {event, key}
const expectedDead = new Map(); // base64 raw -> reason (multiset via count)
let lines = 0, dups = 0;
for (let s = 0; s < data.length;) {
  let e = data.indexOf(10, s); if (e < 0) e = data.length;
  const line = data.subarray(s, e); s = e + 1;
  if (line.length === 0 || (line.length === 1 && line[0] === 13)) continue;
  lines++;
  const c = classify(line);
  if (c.reason) {
    const k = line.toString('base64');
    const v = expectedDead.get(k) || { reason: c.reason, n: 0 }; v.n++; expectedDead.set(k, v);
  } else if (dedup && expected.has(c.event.event_uuid)) dups++;
  else expected.set(c.event.event_uuid, c);
}

// --- actual, from the lake ------------------------------------------------
const db = await DuckDBInstance.create(':memory:');
const con = await db.connect();
const evGlob = format === 'parquet' ? `${lake}/events/**/*.parquet` : `${lake}/events/**/*.jsonl*`;
let rows;
if (format === 'parquet') {
  // One query per entry of events/ (each event_type= directory, or a file
  // there), not one over the whole lake: union_by_name over every file gives
  // each row every column of every event type (71 for `kinlake gen`'s
  // events), nearly all null, and to_json and the checks below then handle
  // those nulls row by row. The same rows, files and checks; on a 50,000-
  // event lake of 2,366 files (e2e/crash) the query took 6 s instead of 12.
  // A glob that matches nothing here is no error: a missing event is
  // reported below as missing.
  rows = [];
  let ents = [];
  try { ents = readdirSync(`${lake}/events`, { withFileTypes: true }); } catch { /* no events/: every event missing */ }
  for (const e of ents) {
    const glob = e.isDirectory() ? `${lake}/events/${e.name}/**/*.parquet`
      : e.name.endsWith('.parquet') ? `${lake}/events/${e.name}` : null;
    if (!glob) continue;
    const r = await con.runAndReadAll(`SELECT to_json(__kl_row)::VARCHAR AS j, filename FROM read_parquet('${glob}', filename=true, union_by_name=true, hive_partitioning=false) AS __kl_row`)
      .catch((err) => { if (/No files found/.test(err.message)) return null; throw err; });
    if (r) rows.push(...r.getRows());
  }
} else {
  const r = await con.runAndReadAll(`SELECT json::VARCHAR AS j, filename FROM read_ndjson_objects('${evGlob}', filename=true)`);
  rows = r.getRows();
}
const seen = new Set();
let stored = 0;
for (const [j, filename] of rows) {
  stored++;
  const got = JSON.parse(j);
  if (format === 'parquet') delete got.filename;
  const want = expected.get(got.event_uuid);
  if (!want) { bad(`unexpected event ${got.event_uuid} in ${filename}`); continue; }
  if (seen.has(got.event_uuid)) { if (!allowDup) bad(`duplicate event ${got.event_uuid}`); continue; }
  seen.add(got.event_uuid);
  const dir = filename.slice(lake.length + 1, filename.lastIndexOf('/'));
  if (dir !== want.key) bad(`event ${got.event_uuid} in ${dir}, want ${want.key}`);
  if (format === 'parquet') normalizeParquet(got, want.event);
  const a = JSON.stringify(canon(got)), b = JSON.stringify(canon(want.event));
  if (a !== b) bad(`event ${got.event_uuid} differs:\n  got  ${a.slice(0, 400)}\n  want ${b.slice(0, 400)}`);
}
for (const u of expected.keys()) if (!seen.has(u)) { bad(`missing event ${u}`); }

// Parquet rows: a field absent from an event reads as null (the file's schema is
// the union of its events); objects/arrays are JSON text; a field whose type
// was widened to string holds the JSON text of non-string values.
// Members past a file's column cap are in its last column, _rescued_data: a
// JSON object of them (or null), merged back here; none may also be a column.
function normalizeParquet(got, want) {
  if ('_rescued_data' in got) {
    const r = got._rescued_data;
    delete got._rescued_data;
    if (r !== null) {
      let o;
      try { o = JSON.parse(r); } catch { bad(`event ${got.event_uuid}: _rescued_data is not JSON: ${r.slice(0, 200)}`); o = {}; }
      for (const [k, v] of Object.entries(o)) {
        if (k in got && got[k] !== null) bad(`event ${got.event_uuid}: ${k} is both a column and rescued`);
        got[k] = v;
      }
    }
  }
  for (const k of Object.keys(got)) {
    if (!(k in want)) { if (got[k] === null) delete got[k]; continue; }
    const w = want[k], g = got[k];
    if (typeof g === 'string' && w !== null && typeof w !== 'string') {
      try { got[k] = JSON.parse(g); } catch { /* leave it: the comparison will report it */ }
    }
  }
}

// dead letters: DuckDB reads them as JSON too
let dead = 0;
const dl = await con.runAndReadAll(`SELECT json::VARCHAR, filename FROM read_ndjson_objects('${lake}/errors/**/*.jsonl*', filename=true)`).catch(() => null);
for (const [j, filename] of dl ? dl.getRows() : []) {
  dead++;
  const d = JSON.parse(j);
  const want = expectedDead.get(d.raw_base64);
  if (!want) { bad(`dead letter with unexpected raw bytes at position ${d.position}`); continue; }
  if (want.reason !== d.error) bad(`position ${d.position}: reason ${d.error}, expected ${want.reason}`);
  if (!filename.includes(`/errors/${d.error}/dt=`)) bad(`dead letter ${d.position} in ${filename}`);
  if (typeof d.message !== 'string' || !d.message) bad(`dead letter ${d.position} has no message`);
  want.n--;
}
if (allowDup) for (const v of expectedDead.values()) if (v.n < 0) v.n = 0;
for (const [k, v] of expectedDead) if (v.n !== 0) bad(`dead letter count off by ${v.n} for ${Buffer.from(k, 'base64').toString().slice(0, 80)}`);

console.log(JSON.stringify({ lines, expected_events: expected.size, stored, duplicates: dups, dead }));
if (fail.length) { console.error('FAIL:\n' + fail.join('\n')); process.exit(1); }
