#!/usr/bin/env node
// duckdb_meta.mjs — check how DuckDB sees a sample file's metadata:
// parquet_schema() must show the STRING logical type and UTF8 converted type
// on string columns and OPTIONAL repetition everywhere; parquet_metadata()
// must show statistics (min/max, null_count), the codec and created_by.
// Expects the layout of test_parquet's basic_* files. Prints both tables.
import { DuckDBInstance } from '@duckdb/node-api';

const path = process.argv[2];
const con = await (await DuckDBInstance.create(':memory:')).connect();
const q = async (sql) => (await con.runAndReadAll(sql, [path])).getRowObjectsJson();
const schema = await q('SELECT name, type, repetition_type, converted_type, logical_type FROM parquet_schema($1)');
const meta = await q(`SELECT row_group_id, path_in_schema, type, stats_min_value, stats_max_value,
	stats_null_count, compression, encodings, num_values FROM parquet_metadata($1) ORDER BY row_group_id, column_id`);
const fmeta = await q('SELECT created_by, num_rows, num_row_groups, format_version FROM parquet_file_metadata($1)');
console.table(schema);
console.table(meta);
console.table(fmeta);

const errs = [];
for (const s of schema.slice(1)) {
	if (s.repetition_type !== 'OPTIONAL') errs.push(`${s.name}: repetition ${s.repetition_type}`);
	if (s.name.endsWith('_string')) {
		if (s.converted_type !== 'UTF8') errs.push(`${s.name}: converted_type ${s.converted_type}`);
		if (!/STRING/i.test(String(s.logical_type))) errs.push(`${s.name}: logical_type ${s.logical_type}`);
	}
}
const want = { c1_int64: ['-9223372036854775808', '9223372036854775807'], c2_double: ['-1e+308', '1e+308'],
	c0_bool: ['false', 'true'], c3_string: ['', '日本語テキスト'] };
for (const m of meta) {
	const w = want[m.path_in_schema];
	if (!w) continue;
	if (m.stats_null_count === null || m.stats_null_count === undefined) errs.push(`${m.path_in_schema}: no null_count`);
	if (m.path_in_schema === 'c2_double') {
		if (Number(m.stats_min_value) !== -1.7976931348623157e308 && Number(m.stats_min_value) !== -1e308)
			errs.push(`${m.path_in_schema}: min ${m.stats_min_value}`);
	} else if (m.stats_min_value !== w[0] || m.stats_max_value !== w[1]) {
		errs.push(`${m.path_in_schema}: stats ${m.stats_min_value}..${m.stats_max_value}, expected ${w[0]}..${w[1]}`);
	}
}
if (!String(fmeta[0].created_by).startsWith('kinlake')) errs.push(`created_by ${fmeta[0].created_by}`);
if (errs.length) {
	console.error('duckdb_meta: FAIL\n  ' + errs.join('\n  '));
	process.exit(1);
}
console.log('duckdb_meta: logical types and statistics as expected');
