#!/usr/bin/env node
// fuzz_readback.mjs — read every *.parquet in a directory (random files from
// `test_parquet --random DIR N`) with DuckDB, hyparquet and parquet-wasm.
// Each must read without error; where FILE.json exists the values must also
// match exactly. Exits 1 on any failure, naming the file.
//
//   node tests/js/fuzz_readback.mjs DIR
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { READERS, checkFile } from './pq_readers.mjs';

const dir = process.argv[2];
if (!dir) {
	console.error('usage: fuzz_readback.mjs DIR');
	process.exit(2);
}
const files = readdirSync(dir).filter((f) => f.endsWith('.parquet')).sort();
if (!files.length) {
	console.error(`no .parquet files in ${dir}`);
	process.exit(1);
}
let bad = 0;
for (const f of files) {
	const path = join(dir, f);
	const js = path.replace(/\.parquet$/, '.json');
	let errs = [];
	if (existsSync(js)) {
		errs = await checkFile(path, JSON.parse(readFileSync(js, 'utf8')));
	} else {
		for (const [name, read] of Object.entries(READERS)) {
			try {
				await read(path);
			} catch (e) {
				errs.push(`${name}: failed to read: ${e?.message ?? e}`);
			}
		}
	}
	if (errs.length) {
		bad++;
		console.error(`FAIL ${path}:`);
		for (const e of errs) console.error(`  ${e}`);
	}
}
console.log(`${files.length - bad}/${files.length} random files read back by all 3 readers`);
process.exit(bad ? 1 : 0);
