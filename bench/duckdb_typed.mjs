// DuckDB doing the typed job: read_ndjson auto-detects one union schema over
// every event type (sample_size=-1 reads the whole file for it), adds the three
// fields, writes Parquet+zstd partitioned by type/subtype/date/hour.
// Usage: node bench/duckdb_typed.mjs INPUT OUTDIR [THREADS]
import { DuckDBInstance } from '@duckdb/node-api';
const [input, out, threads = '2'] = process.argv.slice(2);
if (!input || !out) {
  console.error('usage: node bench/duckdb_typed.mjs INPUT OUTDIR [THREADS]');
  process.exit(2);
}
const lit = (s) => `'${s.replaceAll("'", "''")}'`;
const db = await DuckDBInstance.create(':memory:', { threads });
const c = await db.connect();
const t0 = performance.now();
await c.run(`COPY (
  WITH ev AS (SELECT * FROM read_ndjson(${lit(input)}, ignore_errors=true, sample_size=-1, records=true)),
  ok AS (SELECT * FROM ev WHERE event_uuid IS NOT NULL AND event_name IS NOT NULL
         AND TRY_CAST(created_at AS DOUBLE) >= 0 AND TRY_CAST(created_at AS DOUBLE) < 253402300800)
  SELECT * EXCLUDE (created_at), TRY_CAST(created_at AS DOUBLE) AS created_at,
         strftime(to_timestamp(TRY_CAST(created_at AS DOUBLE)), '%Y-%m-%dT%H:%M:%SZ') AS created_datetime,
         split_part(event_name, ':', 1) AS event_type,
         CASE WHEN contains(event_name, ':') THEN split_part(event_name, ':', 2) END AS event_subtype,
         strftime(to_timestamp(TRY_CAST(created_at AS DOUBLE)), '%Y-%m-%d') AS dt,
         strftime(to_timestamp(TRY_CAST(created_at AS DOUBLE)), '%H') AS hr
  FROM ok
) TO ${lit(out)} (FORMAT PARQUET, COMPRESSION ZSTD, PARTITION_BY (event_type, event_subtype, dt, hr), OVERWRITE_OR_IGNORE true)`);
const secs = (performance.now() - t0) / 1000;
const n = (await c.runAndReadAll(`SELECT count(*) FROM read_parquet(${lit(out + '/**/*.parquet')})`)).getRows()[0][0];
console.log(JSON.stringify({ seconds: secs, rows: Number(n) }));
