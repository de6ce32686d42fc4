// paths_agree.mjs — do two lakes written from the same input by two entry
// points hold the same partitions and the same bytes, and do the Firehose
// handler's partition keys put each event where the lake has it?
//
// Usage:
//   node tests/js/paths_agree.mjs A_LAKE B_LAKE [--same-files]
//        [--firehose ANSWERS.jsonl INPUT.jsonl PREFIX_DOC[,PREFIX_DOC...]]
//
// A_LAKE is written by `kinlake ingest --input` (file names
// "<input id>-<14-digit offset>"), B_LAKE by the Kinesis event-source-mapping
// Lambda (file names "<shardId>-<sequence number>[-<n>]"). File names differ
// by design; everything else the lake contract fixes must agree:
//   * the set of partition directories, events/… and errors/<reason>/dt=…;
//   * per events/ partition, the data: the files of each lake, in the order of
//     the positions they are named after (A: offset; B: sequence number, then
//     sub-record), decompressed and concatenated, are equal byte for byte.
//     JSON lines files are cut where each deployment flushes (B: once per
//     Lambda batch), so their concatenation is what is compared; with
//     --same-files each partition must also have exactly one file in each lake
//     and the files must be equal byte for byte as stored (Parquet: one Lambda
//     batch holding the whole input writes the same files as ingest);
//   * per errors/ partition, the dead letters in the same order with the same
//     "error", "message" and "raw_base64"; "source" and "position" name the
//     input and differ by design (A: the input file and its byte offset; B:
//     "kinesis:<stream ARN>/<shard>:<sequence number>[:<n>]" and the
//     record's ordinal in the batch), so they are only checked for their form.
// With --firehose, ANSWERS (tests/js/runtime_api.mjs firehose: one line per
// INPUT line) is checked against A_LAKE: the delivery stream's S3 prefix, read
// from each PREFIX_DOC (the "Prefix" of docs/lambda.md's delivery stream and of
// the CloudFormation template deploy/kinlake.yaml: they must be the same),
// filled in with each Ok record's
// partitionKeys, must be the events/ partition A has that event in, and (A in
// JSON lines) the Ok records' data, concatenated per prefix in input order,
// must equal A's partition data byte for byte — what Firehose would deliver
// is what ingest writes. The records Firehose reports ProcessingFailed must be
// A's dead letters (same raw bytes, in order); where Firehose puts them
// (ErrorOutputPrefix, its own envelope) is Firehose's format, not ours.
// Exits 1 with the first differences printed.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { gunzipSync } from 'node:zlib';

const args = process.argv.slice(2);
const [A, B] = args;
const sameFiles = args.includes('--same-files');
const fh = args.includes('--firehose') ? args.slice(args.indexOf('--firehose') + 1) : null;
const fails = [];
const bad = (m) => { if (fails.length < 25) fails.push(m); };

// every data file below lake/{events,errors}, grouped by directory
function partitions(lake) {
  const dirs = new Map();
  const walk = (rel) => {
    for (const e of readdirSync(`${lake}/${rel}`, { withFileTypes: true })) {
      if (e.name.startsWith('.')) { bad(`${lake}/${rel}/${e.name}: a temporary file was left`); continue; }
      if (e.isDirectory()) walk(`${rel}/${e.name}`);
      else {
        if (!dirs.has(rel)) dirs.set(rel, []);
        dirs.get(rel).push(e.name);
      }
    }
  };
  for (const top of ['events', 'errors']) {
    try { statSync(`${lake}/${top}`); } catch { continue; }
    walk(top);
  }
  return dirs;
}

// the position a file is named after, as a sortable key
function posKey(name) {
  let m = name.match(/^[0-9a-f]{16}-([0-9]{14})\./);
  if (m) return [BigInt(m[1]), 0n];
  m = name.match(/^shardId-[0-9]+-([0-9]+)(?:-([0-9]+))?\./);
  if (m) return [BigInt(m[1]), BigInt(m[2] || 0)];
  bad(`file name ${name} is neither <input id>-<offset> nor <shardId>-<sequence number>[-<n>]`);
  return [0n, 0n];
}
const byPos = (a, b) => {
  const x = posKey(a), y = posKey(b);
  return x[0] !== y[0] ? (x[0] < y[0] ? -1 : 1) : x[1] < y[1] ? -1 : x[1] > y[1] ? 1 : 0;
};

function decoded(path) {
  const raw = readFileSync(path);
  if (path.endsWith('.gz')) return gunzipSync(raw);
  if (path.endsWith('.zst')) return execFileSync('zstd', ['-dcq', path], { maxBuffer: 1 << 30 });
  return raw; // .jsonl, or .parquet (compressed inside)
}

const concat = (lake, dir, files) => Buffer.concat(files.slice().sort(byPos).map((f) => decoded(`${lake}/${dir}/${f}`)));
const lines = (buf) => buf.toString('utf8').split('\n').filter((l) => l.length);

const pa = partitions(A), pb = partitions(B);
const onlyA = [...pa.keys()].filter((d) => !pb.has(d)), onlyB = [...pb.keys()].filter((d) => !pa.has(d));
for (const d of onlyA) bad(`partition only in ${A}: ${d}`);
for (const d of onlyB) bad(`partition only in ${B}: ${d}`);
let events = 0, dead = 0, files = 0, sameBytes = 0;
const dataOfA = new Map();
for (const [dir, fa] of pa) {
  const fb = pb.get(dir);
  if (!fb) continue;
  if (dir.startsWith('events/')) {
    if (sameFiles) {
      if (fa.length !== 1 || fb.length !== 1) { bad(`${dir}: ${fa.length} and ${fb.length} files, want one each`); continue; }
      const x = readFileSync(`${A}/${dir}/${fa[0]}`), y = readFileSync(`${B}/${dir}/${fb[0]}`);
      if (!x.equals(y)) bad(`${dir}: ${fa[0]} and ${fb[0]} differ (${x.length} and ${y.length} bytes)`);
      else sameBytes++;
    }
    const x = concat(A, dir, fa), y = concat(B, dir, fb);
    dataOfA.set(dir, x);
    if (!x.equals(y)) {
      const i = [...x].findIndex((c, k) => c !== y[k]);
      bad(`${dir}: data differs (${x.length} and ${y.length} bytes, first at byte ${i}): ` +
        `${x.subarray(Math.max(0, i - 40), i + 40).toString()} | ${y.subarray(Math.max(0, i - 40), i + 40).toString()}`);
    }
    if (!fa[0].endsWith('.parquet')) events += lines(x).length;
    files += fb.length;
  } else {
    const la = lines(concat(A, dir, fa)).map((l) => JSON.parse(l)), lb = lines(concat(B, dir, fb)).map((l) => JSON.parse(l));
    const key = (d) => JSON.stringify([d.error, d.message, d.raw_base64]);
    if (la.length !== lb.length) bad(`${dir}: ${la.length} and ${lb.length} dead letters`);
    for (let i = 0; i < Math.min(la.length, lb.length); i++) {
      if (key(la[i]) !== key(lb[i])) bad(`${dir}: dead letter ${i} differs: ${key(la[i]).slice(0, 200)} | ${key(lb[i]).slice(0, 200)}`);
      if (typeof la[i].position !== 'number' || typeof lb[i].position !== 'number') bad(`${dir}: dead letter ${i} without a position`);
      if (!/^kinesis:arn:aws:kinesis:[^/]+\/[^/]+\/shardId-[0-9]+:[0-9]+(:[0-9]+)?$/.test(lb[i].source))
        bad(`${dir}: ${B} dead letter ${i} has source ${lb[i].source}`);
    }
    dead += la.length;
  }
}

// --- the Firehose handler's answers ---------------------------------------------
let fhOk = 0, fhDropped = 0, fhFailed = 0;
if (fh) {
  const [answers, input, docs] = fh;
  let prefix = null;
  for (const doc of docs.split(',')) {
    const m = readFileSync(doc, 'utf8').match(/\bPrefix"?:\s*"([^"]+)"/);
    if (!m) bad(`no "Prefix" in ${doc}`);
    else if (prefix === null) prefix = m[1];
    else if (m[1] !== prefix) bad(`the Prefix of ${doc} is ${m[1]}, not ${prefix}`);
  }
  prefix = prefix || '';
  const inLines = [];
  const data = readFileSync(input);
  for (let s = 0; s < data.length;) {
    let e = data.indexOf(10, s); if (e < 0) e = data.length;
    const l = data.subarray(s, e); s = e + 1;
    if (l.length && !(l.length === 1 && l[0] === 13)) inLines.push(l);
  }
  const got = readFileSync(answers, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
  if (got.length !== inLines.length) bad(`${got.length} Firehose answers for ${inLines.length} input lines`);
  const perPrefix = new Map(), failedRaw = [];
  for (const r of got) {
    if (r.result === 'Ok') {
      fhOk++;
      const p = prefix.replace(/!\{partitionKeyFromLambda:([a-z_]+)\}/g, (_, k) => {
        const v = r.partitionKeys && r.partitionKeys[k];
        if (typeof v !== 'string') bad(`line ${r.line}: no partition key ${k}`);
        return v;
      }).replace(/\/$/, '');
      if (!perPrefix.has(p)) perPrefix.set(p, []);
      perPrefix.get(p).push(Buffer.from(r.data, 'base64'));
    } else if (r.result === 'Dropped') fhDropped++;
    else { fhFailed++; failedRaw.push(inLines[r.line].toString('base64')); }
  }
  const evDirs = [...pa.keys()].filter((d) => d.startsWith('events/'));
  for (const d of evDirs) if (!perPrefix.has(d)) bad(`Firehose puts no record in ${d}`);
  for (const [p, bufs] of perPrefix) {
    if (!pa.has(p)) { bad(`Firehose prefix ${p} is not a partition of ${A}`); continue; }
    const x = dataOfA.get(p), y = Buffer.concat(bufs);
    if (x && !pa.get(p)[0].endsWith('.parquet') && !x.equals(y))
      bad(`${p}: Firehose data (${y.length} bytes) differs from ${A}'s (${x.length} bytes)`);
  }
  // dead letters of A, in the order of the input (errors/ partitions in A are
  // by reason and day: order them by position)
  const deadA = [];
  for (const [dir, fa] of pa) {
    if (!dir.startsWith('errors/')) continue;
    for (const l of lines(concat(A, dir, fa))) { const d = JSON.parse(l); deadA.push([d.position, d.raw_base64]); }
  }
  deadA.sort((a, b) => a[0] - b[0]);
  if (JSON.stringify(deadA.map((d) => d[1])) !== JSON.stringify(failedRaw))
    bad(`Firehose's ProcessingFailed records (${failedRaw.length}) are not ${A}'s dead letters (${deadA.length})`);
  if (events && fhOk !== events) bad(`Firehose: ${fhOk} Ok records, ${A} holds ${events} events`);
}

if (fails.length) { console.error('FAIL:\n' + fails.join('\n')); process.exit(1); }
console.log(JSON.stringify({ partitions: pa.size, events, dead_letters: dead, files_b: files,
  identical_files: sameBytes, firehose: fh ? { ok: fhOk, dropped: fhDropped, failed: fhFailed } : undefined }));
