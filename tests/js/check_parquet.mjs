#!/usr/bin/env node
// check_parquet.mjs — read Parquet files with DuckDB, hyparquet and
// parquet-wasm and compare every value exactly with the expected JSON.
//
//   node tests/js/check_parquet.mjs FILE.parquet [EXPECTED.json]
//   node tests/js/check_parquet.mjs FILE1.parquet FILE2.parquet ...   (each with FILE.json beside it)
//
// Exits 0 only if every reader returned exactly the expected columns, types
// and values; otherwise prints each mismatch and exits 1.
import { readFileSync } from 'node:fs';
import { checkFile } from './pq_readers.mjs';

const args = process.argv.slice(2);
if (!args.length) {
	console.error('usage: check_parquet.mjs FILE.parquet [EXPECTED.json] | FILE.parquet...');
	process.exit(2);
}
const pairs = args.length === 2 && args[1].endsWith('.json')
	? [[args[0], args[1]]]
	: args.map((p) => [p, p.replace(/\.parquet$/, '') + '.json']);

let bad = 0;
for (const [pq, js] of pairs) {
	let exp;
	try {
		exp = JSON.parse(readFileSync(js, 'utf8'));
	} catch (e) {
		console.error(`FAIL ${pq}: cannot read expected values ${js}: ${e.message}`);
		bad++;
		continue;
	}
	const errs = await checkFile(pq, exp);
	if (errs.length) {
		bad++;
		console.error(`FAIL ${pq} (${exp.rows.length} rows):`);
		for (const e of errs) console.error(`  ${e}`);
	} else {
		console.log(`ok   ${pq}: ${exp.rows.length} rows x ${exp.columns.length} columns, 3 readers`);
	}
}
process.exit(bad ? 1 : 0);
