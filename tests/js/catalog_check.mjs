#!/usr/bin/env node
// catalog_check.mjs — the contract Athena relies on, checked with DuckDB:
// for every table Glue holds (aws glue get-tables JSON), each column is in
// the lake's files with a compatible type (bigint <- INT64, double <- DOUBLE
// or INT64, boolean <- BOOLEAN, string <- BYTE_ARRAY, in every file that has
// it) and the row count equals the lake's expected count per table.
// Usage: catalog_check.mjs LAKE_DIR LOCATION_PREFIX TABLES.json COUNTS.json
import { DuckDBInstance } from '@duckdb/node-api';
import { readFileSync } from 'node:fs';

const [lake, prefix, tablesPath, countsPath] = process.argv.slice(2);
const tables = JSON.parse(readFileSync(tablesPath, 'utf8')).TableList;
const counts = JSON.parse(readFileSync(countsPath, 'utf8'));
const con = await (await DuckDBInstance.create(':memory:')).connect();
const q = async (sql, params = []) => (await con.runAndReadAll(sql, params)).getRowObjectsJson();
const compatible = { bigint: ['INT64'], double: ['DOUBLE', 'INT64'], boolean: ['BOOLEAN'], string: ['BYTE_ARRAY'] };
const jsonTypes = { bigint: 'BIGINT', double: 'DOUBLE', boolean: 'BOOLEAN', string: 'VARCHAR' };
const errs = [];
let checked = 0;
for (const t of tables) {
	const loc = t.StorageDescriptor.Location;
	if (!loc.startsWith(prefix)) { errs.push(`${t.Name}: location ${loc}`); continue; }
	const dir = lake + loc.slice(prefix.length);
	const cols = t.StorageDescriptor.Columns;
	if (t.Name === 'dead_letters') {
		const spec = '{' + cols.map((c) => `'${c.Name}': '${jsonTypes[c.Type]}'`).join(', ') + '}';
		const glob = `${dir}**/*.jsonl*`;
		const [{ n }] = await q(`SELECT count(*)::INTEGER AS n FROM read_json(?, format='newline_delimited', columns=${spec})`, [glob]);
		if (n !== counts[t.Name]) errs.push(`${t.Name}: ${n} rows, expected ${counts[t.Name]}`);
		const keys = new Set((await q(`SELECT DISTINCT unnest(json_keys(json)) AS k FROM read_json_objects(?, format='newline_delimited')`, [glob])).map((r) => r.k));
		for (const c of cols)
			if (!keys.has(c.Name) && !['raw_length', 'truncated'].includes(c.Name)) errs.push(`dead_letters: no ${c.Name} in the files`);
		checked++;
		continue;
	}
	const glob = `${dir}**/*.parquet`;
	const schema = await q(`SELECT file_name, lower(name) AS name, type FROM parquet_schema(?) WHERE type IS NOT NULL`, [glob]);
	const seen = new Map();
	for (const s of schema) {
		if (!seen.has(s.name)) seen.set(s.name, []);
		seen.get(s.name).push(s);
	}
	for (const c of cols) {
		const found = seen.get(c.Name);
		if (!found) { errs.push(`${t.Name}.${c.Name}: in no file`); continue; }
		for (const f of found)
			if (!(compatible[c.Type] || []).includes(f.type))
				errs.push(`${t.Name}.${c.Name}: Glue ${c.Type}, ${f.file_name} has ${f.type}`);
	}
	const [{ n }] = await q(`SELECT count(*)::INTEGER AS n FROM read_parquet(?)`, [glob]);
	if (n !== counts[t.Name]) errs.push(`${t.Name}: ${n} rows, expected ${counts[t.Name]}`);
	checked++;
}
const missing = Object.keys(counts).filter((k) => !tables.some((t) => t.Name === k));
if (missing.length) errs.push(`tables missing in Glue: ${missing.join(', ')}`);
console.log(`${checked} tables checked against the lake`);
if (errs.length) {
	console.error(errs.slice(0, 30).join('\n'));
	process.exit(1);
}
