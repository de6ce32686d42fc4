// Questions a data engineer asks of a fresh kinlake lake, answered by DuckDB
// straight from the files (no load step), printed as small aligned tables.
// Usage: node scripts/demo.mjs [LAKE]          (default ./lake)
// Data files: lake/events/**/*.parquet if there are any, else lake/events/**/*.jsonl*.
// Partition columns (event_type, event_subtype, dt, hr) come from the Hive paths;
// DuckDB undoes the %XX escaping (event_type=web%20hook reads as 'web hook') and
// reads __HIVE_DEFAULT_PARTITION__ as NULL.
import { DuckDBInstance } from '@duckdb/node-api';

const lake = (process.argv[2] ?? './lake').replace(/\/+$/, '') || '.';
const lit = (s) => `'${s.replaceAll("'", "''")}'`; // SQL string literal
const db = await DuckDBInstance.create(':memory:');
const c = await db.connect();
const query = async (sql) => (await c.runAndReadAll(sql)).getRowObjectsJS();
const countFiles = async (pattern) =>
  Number((await query(`SELECT count(*) AS n FROM glob(${lit(pattern)})`))[0].n);

// --- formatting -------------------------------------------------------------
const num = (v, digits = 0) =>
  v === null || v === undefined
    ? '-'
    : Number(v).toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
const bytes = (v) => {
  const n = Number(v);
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)} GB`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)} MB`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} kB`;
  return `${n} B`;
};
const show = (v) => (v === null || v === undefined ? '(null)' : String(v));
const clip = (s, n) => (s.length > n ? s.slice(0, n - 1) + '…' : s);
// rows: arrays of strings; align: 'l' or 'r' per column.
function table(title, head, rows, align) {
  console.log(`\n${title}`);
  if (!rows.length) {
    console.log('  (none)');
    return;
  }
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r) =>
    '  ' + r.map((s, i) => (align[i] === 'r' ? s.padStart(w[i]) : s.padEnd(w[i]))).join('  ').trimEnd();
  console.log(line(head));
  for (const r of rows) console.log(line(r));
}

// --- which files -------------------------------------------------------------
const nParquet = await countFiles(`${lake}/events/**/*.parquet`);
const nJsonl = nParquet ? 0 : await countFiles(`${lake}/events/**/*.jsonl*`);
if (!nParquet && !nJsonl) {
  console.error(`demo: no data files under ${lake}/events (expected *.parquet or *.jsonl*)`);
  process.exit(1);
}
const format = nParquet ? 'parquet' : 'jsonl';
const eventsFrom = (sub) =>
  nParquet
    ? `read_parquet(${lit(`${lake}/events/${sub}**/*.parquet`)}, hive_partitioning=true, union_by_name=true)`
    : `read_ndjson_objects(${lit(`${lake}/events/${sub}**/*.jsonl*`)}, hive_partitioning=true)`;
console.log(`DuckDB over ${lake} (${format}, ${num(nParquet || nJsonl)} data files): ${eventsFrom('')}`);

// One scan of the lake into a small aggregate; the first two answers come from it.
await c.run(`CREATE TEMP TABLE agg AS
  SELECT event_type, event_subtype, strftime(dt::DATE, '%m-%d') || ' ' || lpad(hr::VARCHAR, 2, '0') || 'h' AS hour, count(*) AS n
  FROM ${eventsFrom('')} GROUP BY ALL`);

// 1. events per event_type per hour, top 10 types
{
  const hours = (await query(`SELECT DISTINCT hour FROM agg ORDER BY hour`)).map((r) => r.hour);
  const top = await query(`SELECT event_type, sum(n)::DOUBLE AS total FROM agg
                           GROUP BY 1 ORDER BY total DESC, event_type LIMIT 10`);
  const cells = await query(`SELECT event_type, hour, sum(n)::DOUBLE AS n FROM agg GROUP BY ALL`);
  const get = (t, h) => cells.find((r) => r.event_type === t && r.hour === h)?.n ?? 0;
  const all = (await query(`SELECT count(DISTINCT event_type) AS k, sum(n)::DOUBLE AS n FROM agg`))[0];
  const title = `Events per event_type per hour (top 10 of ${all.k} types, ${num(all.n)} events)`;
  if (hours.length <= 6) {
    table(
      title,
      ['event_type', ...hours, 'total'],
      top.map((r) => [show(r.event_type), ...hours.map((h) => num(get(r.event_type, h))), num(r.total)]),
      ['l', ...hours.map(() => 'r'), 'r']
    );
  } else {
    // Too many hours for columns: per-hour spread instead.
    const rows = top.map((r) => {
      const per = hours.map((h) => get(r.event_type, h));
      return [show(r.event_type), `${hours[0]} … ${hours.at(-1)}`, num(Math.min(...per)),
              num(r.total / hours.length), num(Math.max(...per)), num(r.total)];
    });
    table(title, ['event_type', 'hours', 'min/h', 'avg/h', 'max/h', 'total'], rows,
          ['l', 'l', 'r', 'r', 'r', 'r']);
  }
}

// 2. top subtypes
{
  const r = await query(`SELECT event_type, event_subtype, sum(n)::DOUBLE AS n FROM agg
                         GROUP BY ALL ORDER BY n DESC, event_type, event_subtype LIMIT 10`);
  table('Top 10 (event_type, event_subtype)', ['event_type', 'event_subtype', 'events'],
        r.map((x) => [show(x.event_type), show(x.event_subtype), num(x.n)]), ['l', 'l', 'r']);
}

// 3. dead letters by reason
{
  const pat = `${lake}/errors/**/*.jsonl*`;
  const r = (await countFiles(pat))
    ? await query(`SELECT json->>'error' AS reason, count(*)::DOUBLE AS n, any_value(json->>'message') AS example
                   FROM read_ndjson_objects(${lit(pat)}) GROUP BY 1 ORDER BY n DESC, reason`)
    : [];
  const total = r.reduce((s, x) => s + x.n, 0);
  table(`Dead letters by reason (${num(total)}, raw bytes kept in ${lake}/errors/)`,
        ['error', 'count', 'example message'],
        r.map((x) => [show(x.reason), num(x.n), clip(show(x.example), 48)]), ['l', 'r', 'l']);
}

// 4. files and bytes per format
{
  const r = await query(`
    SELECT CASE WHEN filename LIKE '%/_kinlake/%' THEN '_kinlake'
                WHEN filename LIKE '%/errors/%' THEN 'errors' ELSE 'events' END AS area,
           CASE WHEN filename LIKE '%/_kinlake/%' THEN 'state'
                WHEN filename LIKE '%.parquet' THEN 'parquet'
                WHEN filename LIKE '%.jsonl.zst' THEN 'jsonl+zstd'
                WHEN filename LIKE '%.jsonl.gz' THEN 'jsonl+gzip'
                WHEN filename LIKE '%.jsonl' THEN 'jsonl' ELSE 'other' END AS fmt,
           count(*)::DOUBLE AS files, sum(size)::DOUBLE AS bytes, avg(size)::DOUBLE AS avg
    FROM read_blob(${lit(`${lake}/**`)}) GROUP BY ALL ORDER BY bytes DESC`);
  table('Files and bytes per format', ['area', 'format', 'files', 'bytes', 'avg file'],
        r.map((x) => [x.area, x.fmt, num(x.files), bytes(x.bytes), bytes(x.avg)]),
        ['l', 'l', 'r', 'r', 'r']);
}

// 5. a typed question on a payload field: payment amounts (in `kinlake gen` output,
//    payment:card:declined carries a numeric `amount`)
{
  const src = eventsFrom('event_type=payment/');
  const amount = nParquet ? 'amount' : `TRY_CAST(json->>'amount' AS DOUBLE)`;
  const name = nParquet ? 'event_name' : `json->>'event_name'`;
  let r = [];
  let note = '';
  if (!(await countFiles(`${lake}/events/event_type=payment/**/*.${nParquet ? 'parquet' : 'jsonl*'}`))) {
    note = ' — no payment events';
  } else if (nParquet && !(await query(`DESCRIBE SELECT * FROM ${src}`)).some((x) => x.column_name === 'amount')) {
    note = ' — no `amount` column in the payment schema';
  } else {
    r = await query(`SELECT event_name, count(*)::DOUBLE AS n, count(a)::DOUBLE AS k,
                            avg(a) AS avg, min(a) AS min, max(a) AS max, sum(a) AS sum
                     FROM (SELECT ${name} AS event_name, ${amount} AS a FROM ${src})
                     GROUP BY 1 HAVING count(a) > 0 ORDER BY k DESC`);
  }
  const how = nParquet ? 'typed DOUBLE column' : `json->>'amount' cast to DOUBLE`;
  table(`Payment amounts, event_type=payment (${how})${note}`,
        ['event_name', 'events', 'avg(amount)', 'min', 'max', 'sum'],
        r.map((x) => [show(x.event_name), num(x.n), num(x.avg, 2), num(x.min, 2), num(x.max, 2), num(x.sum, 2)]),
        ['l', 'r', 'r', 'r', 'r', 'r']);
}

