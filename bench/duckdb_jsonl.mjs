// DuckDB doing the nearest job to `kinlake ingest --format jsonl`: read JSON
// lines as objects, add created_datetime / event_type / event_subtype, keep the
// event as JSON text, write Parquet+zstd partitioned by type/subtype/date/hour.
// Usage: node bench/duckdb_jsonl.mjs INPUT OUTDIR [THREADS]
import { DuckDBInstance } from '@duckdb/node-api';
const [input, out, threads = '2'] = process.argv.slice(2);
if (!input || !out) {
  console.error('usage: node bench/duckdb_jsonl.mjs INPUT OUTDIR [THREADS]');
  process.exit(2);
}
const lit = (s) => `'${s.replaceAll("'", "''")}'`; // SQL string literal
const db = await DuckDBInstance.create(':memory:', { threads });
const c = await db.connect();
const t0 = performance.now();
await c.run(`COPY (
  WITH raw AS (SELECT json AS j FROM read_ndjson_objects(${lit(input)}, ignore_errors=true)),
  ev AS (SELECT j,
           j->>'event_name' AS name,
           TRY_CAST(j->>'created_at' AS DOUBLE) AS ts FROM raw),
  ok AS (SELECT * FROM ev WHERE ts >= 0 AND ts < 253402300800)
  SELECT json_merge_patch(j, json_object(
            'created_datetime', strftime(to_timestamp(ts), '%Y-%m-%dT%H:%M:%SZ'),
            'event_type', split_part(name, ':', 1),
            'event_subtype', CASE WHEN contains(name, ':') THEN split_part(name, ':', 2) END)) AS event,
         split_part(name, ':', 1) AS event_type,
         CASE WHEN contains(name, ':') THEN split_part(name, ':', 2) END AS event_subtype,
         strftime(to_timestamp(ts), '%Y-%m-%d') AS dt,
         strftime(to_timestamp(ts), '%H') AS hr
  FROM ok WHERE name IS NOT NULL AND ts IS NOT NULL
) TO ${lit(out)} (FORMAT PARQUET, COMPRESSION ZSTD, PARTITION_BY (event_type, event_subtype, dt, hr), OVERWRITE_OR_IGNORE true)`);
const secs = (performance.now() - t0) / 1000;
const n = (await c.runAndReadAll(`SELECT count(*) FROM read_parquet(${lit(out + '/**/*.parquet')})`)).getRows()[0][0];
console.log(JSON.stringify({ seconds: secs, rows: Number(n) }));
