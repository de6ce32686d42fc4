// runtime_api.mjs — a local AWS Lambda Runtime API (2018-06-01) on 127.0.0.1:<random>
// that drives the real `kinlake lambda` process through invocations and checks
// every answer against the Firehose transformation contract and the event
// contract (recomputed here, in JS: tests/js/event_contract.mjs).
//
// Usage:
//   node tests/js/runtime_api.mjs main KINLAKE CORPORA [BOOTSTRAP]
//                                                           many invocations, one process
//                                                           (of BOOTSTRAP if given)
//   node tests/js/runtime_api.mjs deadline KINLAKE          stops mid-batch near the deadline
//   node tests/js/runtime_api.mjs initerror KINLAKE [TYPE VAR=VALUE...]
//                                                           bad option (or environment)
//                                                           -> /runtime/init/error
//   node tests/js/runtime_api.mjs serve EVENT.json N CMD... serve one event N times to CMD
//                                                           (bench/lambda.sh); prints timings
//   node tests/js/runtime_api.mjs esm KINLAKE INPUT OPTS    Kinesis ESM batches -> the lake
//                                                           (see scenarioEsm)
//   node tests/js/runtime_api.mjs emf KINLAKE LAKE_DIR      CloudWatch EMF lines on stdout
//                                                           (see scenarioEmf)
//   node tests/js/runtime_api.mjs firehose KINLAKE INPUT OUT.jsonl [OPTS]
//                                                           the lines of INPUT as Firehose
//                                                           batches; each record's answer to OUT
//                                                           (see scenarioFirehose)
// Endpoints: GET /2018-06-01/runtime/invocation/next, POST .../invocation/{id}/response,
// POST .../invocation/{id}/error, POST /2018-06-01/runtime/init/error. A response over
// 6 MiB gets 413, as from the real Runtime API. When the queue is empty, /next gets
// HTTP 500 and kinlake must exit (status 1, after a clean shutdown: ASan checks leaks).
// Exits 1 with the first mismatches printed.
import http from 'node:http';
import { spawn, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { classify, canon, hive } from './event_contract.mjs';
import { createRequire } from 'node:module';
import { genLines, firehoseRecord, firehoseEvent, firehoseEventOfSize, kinesisEvent, esmEvent } from './lambda_events.mjs';

const MAX_RESPONSE = 6 * 1024 * 1024;
const fails = [];
const bad = (m) => { if (fails.length < 30) fails.push(m); };

// --- the Runtime API --------------------------------------------------------
// queue entries: {name, payload (string), deadline (ms from now, default 60000),
// check(answer)} where answer = {kind: 'response'|'error', body, headers}
function startServer(queue, onInitError) {
  const pending = new Map();
  const state = { served: 0, answered: 0, firstAnswerAt: 0, firstNextAt: 0, lastAnswerAt: 0, initErrors: [] };
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const send = (code, obj) => { res.writeHead(code, { 'content-type': 'application/json' }); res.end(JSON.stringify(obj)); };
      const url = req.url;
      if (req.method === 'GET' && url === '/2018-06-01/runtime/invocation/next') {
        const inv = queue.shift();
        if (!inv) return send(500, { errorMessage: 'test over', errorType: 'Runtime.Shutdown' });
        const id = randomUUID();
        inv.id = id;
        if (inv.onServe) inv.onServe();
        pending.set(id, inv);
        state.served++;
        if (!state.firstNextAt) state.firstNextAt = performance.now();
        const payload = Buffer.from(inv.payload);
        res.writeHead(200, {
          'content-type': 'application/json',
          'content-length': payload.length,
          'lambda-runtime-aws-request-id': id,
          'lambda-runtime-deadline-ms': String(Date.now() + (inv.deadline ?? 60000)),
          'lambda-runtime-invoked-function-arn': 'arn:aws:lambda:us-east-1:123456789012:function:kinlake',
          'lambda-runtime-trace-id': `Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1`,
        });
        return res.end(payload);
      }
      if (req.method === 'POST' && url === '/2018-06-01/runtime/init/error') {
        state.initErrors.push({ body: body.toString(), type: req.headers['lambda-runtime-function-error-type'] });
        if (onInitError) onInitError();
        return send(202, { status: 'OK' });
      }
      const m = url.match(/^\/2018-06-01\/runtime\/invocation\/([^/]+)\/(response|error)$/);
      if (req.method === 'POST' && m) {
        const inv = pending.get(decodeURIComponent(m[1]));
        if (!inv) { bad(`answer for unknown or already answered request id ${m[1]}`); return send(400, { errorType: 'InvalidRequestID' }); }
        if (m[2] === 'response' && body.length > MAX_RESPONSE) {
          bad(`${inv.name}: response of ${body.length} bytes passed the 6 MiB limit`);
          return send(413, { errorMessage: 'Exceeded maximum allowed payload size', errorType: 'RequestEntityTooLarge' });
        }
        pending.delete(inv.id);
        state.answered++;
        const now = performance.now();
        if (!state.firstAnswerAt) state.firstAnswerAt = now;
        state.lastAnswerAt = now;
        const ans = { kind: m[2], body, headers: req.headers };
        if (m[2] === 'error') checkErrorDoc(inv, ans);
        try { inv.check && inv.check(ans); } catch (e) { bad(`${inv.name}: check threw ${e.stack}`); }
        return send(202, { status: 'OK' });
      }
      send(404, { errorType: 'NotFound' });
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, state, pending, port: server.address().port })));
}

function checkErrorDoc(inv, ans) {
  let doc;
  try { doc = JSON.parse(ans.body.toString()); } catch { return bad(`${inv.name}: error document is not JSON`); }
  if (typeof doc.errorMessage !== 'string' || !doc.errorMessage) bad(`${inv.name}: error without errorMessage`);
  if (typeof doc.errorType !== 'string' || !doc.errorType) bad(`${inv.name}: error without errorType`);
  if (ans.headers['lambda-runtime-function-error-type'] !== doc.errorType)
    bad(`${inv.name}: Lambda-Runtime-Function-Error-Type ${ans.headers['lambda-runtime-function-error-type']} != errorType ${doc.errorType}`);
  ans.doc = doc;
}

// The lake variables of the ESM path come only from `env`, never from the
// caller's environment.
const LAKE_VARS = /^KINLAKE_(LAKE|FORMAT|COMPRESSION|SSE|SSE_KMS_KEY_ID)$/;
function runKinlake(cmd, args, port, env = {}) {
  const t0 = performance.now();
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !LAKE_VARS.test(k)));
  const child = spawn(cmd, args, { env: { ...base, ...env, AWS_LAMBDA_RUNTIME_API: `127.0.0.1:${port}` }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '', stdout = '';
  child.stderr.on('data', (d) => { stderr += d; });
  child.stdout.on('data', (d) => { stdout += d; });
  const done = new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stderr, stdout })));
  return { child, t0, done };
}

// --- the Firehose contract, in JS -----------------------------------------------
const B64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
function strictB64(s) {
  if (typeof s !== 'string' || !B64.test(s)) return null;
  const b = Buffer.from(s, 'base64');
  return b.toString('base64') === s ? b : null; // canonical padding bits too
}

// uuids of valid events in delivered responses of this process (the dedup window)
const seen = new Set();

// Expect a Firehose response for `event`; returns counts. Mirrors kinlake's
// dedup: a valid event whose uuid was seen earlier (this batch or a delivered
// earlier one) is Dropped; an invocation that fails forgets the window.
function checkFirehose(name, event, ans, want = {}) {
  const counts = { Ok: 0, Dropped: 0, ProcessingFailed: 0 };
  if (ans.kind !== 'response') {
    seen.clear();
    bad(`${name}: expected a response, got an error ${ans.body.toString().slice(0, 300)}`);
    return counts;
  }
  let resp;
  try { resp = JSON.parse(ans.body.toString()); } catch { bad(`${name}: response is not JSON`); return counts; }
  if (!resp || !Array.isArray(resp.records)) { bad(`${name}: response has no records array`); return counts; }
  if (Object.keys(resp).length !== 1) bad(`${name}: response has extra members ${Object.keys(resp)}`);
  if (resp.records.length !== event.records.length) bad(`${name}: ${resp.records.length} records for ${event.records.length}`);
  const batch = new Set();
  for (let i = 0; i < Math.min(resp.records.length, event.records.length); i++) {
    const inr = event.records[i], out = resp.records[i];
    const where = `${name} record ${i}`;
    if (out.recordId !== inr.recordId) { bad(`${where}: recordId ${out.recordId} != ${inr.recordId}`); continue; }
    if (!['Ok', 'Dropped', 'ProcessingFailed'].includes(out.result)) { bad(`${where}: result ${out.result}`); continue; }
    counts[out.result]++;
    const raw = strictB64(inr.data);
    let c = { reason: 'invalid_base64' };
    if (raw) {
      let n = raw.length;
      while (n && (raw[n - 1] === 10 || raw[n - 1] === 13)) n--;
      c = classify(raw.subarray(0, n));
    }
    let expect = 'ProcessingFailed';
    if (!c.reason) {
      const u = c.event.event_uuid;
      expect = seen.has(u) || batch.has(u) ? 'Dropped' : 'Ok';
      batch.add(u);
    }
    if (out.result !== expect) { bad(`${where}: ${out.result}, expected ${expect} (${c.reason || 'valid'})`); continue; }
    if (expect !== 'Ok') {
      if (out.data !== inr.data) bad(`${where}: ${expect} record does not keep its original data`);
      if (expect === 'ProcessingFailed' && out.metadata) bad(`${where}: failed record has metadata`);
      continue;
    }
    const dec = strictB64(out.data);
    if (!dec) { bad(`${where}: Ok data is not canonical base64`); continue; }
    const text = dec.toString('utf8');
    if (!text.endsWith('\n') || text.indexOf('\n') !== text.length - 1) { bad(`${where}: Ok data is not one line ending in \\n`); continue; }
    let got;
    try { got = JSON.parse(text.slice(0, -1)); } catch { bad(`${where}: Ok data is not JSON`); continue; }
    const a = JSON.stringify(canon(got)), b = JSON.stringify(canon(c.event));
    if (a !== b) { bad(`${where}: enriched event differs\n  got  ${a.slice(0, 300)}\n  want ${b.slice(0, 300)}`); continue; }
    const e = c.event, dt = e.created_datetime.slice(0, 10), hr = e.created_datetime.slice(11, 13);
    const pk = out.metadata && out.metadata.partitionKeys;
    const wantPk = { event_type: hive(e.event_type), event_subtype: hive(e.event_subtype), dt, hr };
    if (JSON.stringify(pk) !== JSON.stringify(wantPk)) bad(`${where}: partitionKeys ${JSON.stringify(pk)}, want ${JSON.stringify(wantPk)}`);
    if (Object.keys(out).join() !== 'recordId,result,data,metadata') bad(`${where}: members ${Object.keys(out)}`);
  }
  for (const u of batch) seen.add(u);
  if (want.minOk !== undefined && counts.Ok < want.minOk) bad(`${name}: only ${counts.Ok} Ok records`);
  if (want.dropped && counts.Dropped < want.dropped) bad(`${name}: only ${counts.Dropped} Dropped, want >= ${want.dropped}`);
  if (want.failed && counts.ProcessingFailed < want.failed) bad(`${name}: only ${counts.ProcessingFailed} ProcessingFailed, want >= ${want.failed}`);
  console.log(`${name}: ${event.records.length} records -> Ok ${counts.Ok}, Dropped ${counts.Dropped}, ProcessingFailed ${counts.ProcessingFailed}; response ${ans.body.length} bytes`);
  return counts;
}

function expectError(name, type) {
  return (ans) => {
    if (ans.kind !== 'error') return bad(`${name}: expected error ${type}, got a response of ${ans.body.length} bytes`);
    seen.clear(); // kinlake forgets its dedup window when an invocation fails
    if (ans.doc && ans.doc.errorType !== type) bad(`${name}: errorType ${ans.doc.errorType}, expected ${type}`);
    console.log(`${name}: error ${ans.doc && ans.doc.errorType}: ${ans.doc && ans.doc.errorMessage}`);
  };
}

function firehoseInv(name, event, want, extra = {}) {
  return { name, payload: JSON.stringify(event), check: (ans) => checkFirehose(name, event, ans, want), ...extra };
}

function logLines(stderr) {
  const out = [];
  for (const l of stderr.split('\n')) {
    if (!l.trim()) continue;
    try { out.push(JSON.parse(l)); } catch { if (!/^==\d+==|^\s*$/.test(l)) bad(`stderr line is not JSON: ${l.slice(0, 200)}`); }
  }
  return out;
}

async function finish(srv, proc, { expectCode = 1, invocations }) {
  const r = await proc.done;
  srv.server.close();
  if (r.signal) bad(`kinlake died with ${r.signal}: ${r.stderr.slice(-2000)}`);
  else if (r.code !== expectCode) bad(`kinlake exited ${r.code}, expected ${expectCode}: ${r.stderr.slice(-2000)}`);
  if (srv.pending.size) bad(`${srv.pending.size} invocations never answered`);
  const logs = logLines(r.stderr);
  if (invocations !== undefined) {
    const per = logs.filter((l) => l.request_id);
    if (per.length !== invocations) bad(`${per.length} per-invocation log lines for ${invocations} invocations`);
    for (const l of per) for (const k of ['records', 'ok', 'dropped', 'failed', 'ms'])
      if (typeof l[k] !== 'number') bad(`log line without ${k}: ${JSON.stringify(l)}`);
  }
  return { r, logs };
}

function done() {
  if (fails.length) { console.error('FAIL:\n' + fails.join('\n')); process.exit(1); }
  console.log('ok');
}

// --- scenarios -----------------------------------------------------------------
async function scenarioMain(kinlake, corpora, bootstrap) {
  const queue = [];
  const samples = ['aws-lambda-go/kinesis-firehose-event.json', 'powertools-python/kinesisFirehoseKinesisEvent.json',
    'powertools-python/kinesisFirehosePutEvent.json', 'powertools-python/kinesisFirehoseSQSEvent.json'];
  for (const f of samples) {
    const text = readFileSync(`${corpora}/lambda-events/${f}`, 'utf8');
    const ev = JSON.parse(text);
    // the file's own bytes are the payload
    queue.push({ name: f, payload: text, check: (ans) => checkFirehose(f, ev, ans, { failed: ev.records.length }) });
  }
  // 10k generated events with 5% bad ones, 4 Firehose batches of 2500
  const lines = genLines(kinlake, ['--events', '10000', '--bad-fraction', '0.05', '--seed', '7']);
  if (lines.length !== 10000) bad(`gen gave ${lines.length} lines`);
  for (let b = 0; b < 4; b++) {
    const ev = firehoseEvent(lines.slice(b * 2500, (b + 1) * 2500).map((l) => firehoseRecord(l, b % 2 === 0)));
    queue.push(firehoseInv(`gen batch ${b + 1}/4`, ev, { minOk: 2000, failed: 50 }));
  }
  // the first 300 events again (new recordIds): valid ones are Dropped duplicates
  queue.push(firehoseInv('repeated events', firehoseEvent(lines.slice(0, 300).map((l) => firehoseRecord(l))), { dropped: 250 }));
  queue.push(firehoseInv('empty batch', firehoseEvent([])));
  const good = Buffer.from('{"event_uuid":"b64-ok","event_name":"a b:c/d=e%","created_at":1764547200.5}');
  queue.push(firehoseInv('invalid base64', firehoseEvent([
    firehoseRecord('not base64!!'), firehoseRecord('QUJD='), firehoseRecord('QR=='), firehoseRecord(''),
    firehoseRecord('eyJ\nhIjoxfQ=='), firehoseRecord(good), firehoseRecord('////'),
  ]), { failed: 6 }));
  // about 6 MB: with kinesisRecordMetadata the response is smaller than the request -> Ok
  const clean = genLines(kinlake, ['--events', '15000', '--seed', '11']);
  const big = firehoseEventOfSize(clean, 6 * 1000 * 1000 - 4096);
  queue.push(firehoseInv(`6 MB batch (${big.records.length} records, Kinesis source)`, big, { minOk: big.records.length - 10 }));
  // just under 6 MiB without metadata (Direct PUT): the enriched response (each
  // event grows by its three fields) would pass 6 MiB -> invocation error
  let n = 0; const put = [];
  for (const l of clean) { const r = firehoseRecord(l, false); n += JSON.stringify(r).length + 1; if (n > MAX_RESPONSE - 4096) break; put.push(r); }
  const putEv = firehoseEvent(put);
  queue.push({ name: `6 MB batch (${put.length} records, Direct PUT)`, payload: JSON.stringify(putEv),
    check: expectError('6 MB Direct PUT batch', 'Kinlake.ResponseTooLarge') });
  // Firehose retries the failed batch (smaller): its events are Ok, not Dropped
  const retry = firehoseEvent(put.slice(0, 2000));
  queue.push(firehoseInv('retry of the failed batch', retry, { minOk: 2000 }));
  queue.push({ name: 'deadline 10 ms away', payload: JSON.stringify(firehoseEvent(lines.slice(0, 10).map((l) => firehoseRecord(l)))),
    deadline: 10, check: expectError('deadline 10 ms away', 'Kinlake.DeadlineTooClose') });
  // Kinesis ESM events without KINLAKE_LAKE: an invocation error, which Lambda
  // retries (the lake path: the esm scenario, tests/e2e/lambda_esm.sh)
  const kin = kinesisEvent(lines.slice(100, 105));
  queue.push({ name: 'kinesis ESM', payload: JSON.stringify(kin), check: expectError('kinesis ESM', 'Kinlake.NotConfigured') });
  for (const f of ['aws-lambda-go/kinesis-event.json', 'powertools-python/kinesisStreamEvent.json']) {
    const text = readFileSync(`${corpora}/lambda-events/${f}`, 'utf8');
    queue.push({ name: f, payload: text, check: expectError(f, 'Kinlake.NotConfigured') });
  }
  queue.push({ name: 'unsupported event', payload: '{"hello":"world"}', check: expectError('unsupported event', 'Kinlake.UnsupportedEvent') });
  queue.push({ name: 'not JSON', payload: '{"records":[', check: expectError('not JSON', 'Kinlake.InvalidEvent') });
  queue.push(firehoseInv('still up', firehoseEvent(lines.slice(5000, 5010).map((l) => firehoseRecord(l)))));
  const total = queue.length;

  const srv = await startServer(queue);
  const proc = bootstrap ? runKinlake(bootstrap, [], srv.port) : runKinlake(kinlake, ['lambda'], srv.port);
  const { logs } = await finish(srv, proc, { invocations: total });
  if (srv.state.answered !== total) bad(`${srv.state.answered} of ${total} invocations answered`);
  if (!logs.some((l) => /runtime ready/.test(l.message || ''))) bad('no "runtime ready" log line');
  if (!logs.some((l) => l.event === 'kinesis' && l.error_type === 'Kinlake.NotConfigured' && /KINLAKE_LAKE/.test(l.error)))
    bad('no Kinlake.NotConfigured log line for the Kinesis events');
  if (!logs.some((l) => /runtime API failed, exiting/.test(l.message || ''))) bad('no exit log line');
  console.log(`main: ${total} invocations in one process; cold start (spawn -> first answer) ${(srv.state.firstAnswerAt - proc.t0).toFixed(1)} ms`);
  done();
}

// --deadline-margin larger than the time left: the transform stops at its first
// check (record 256) with Kinlake.DeadlineExceeded; a batch under 256 records
// finishes. Then an invocation that does not fit Lambda's limit is not retried
// as Dropped (forgotten window).
async function scenarioDeadline(kinlake) {
  const lines = genLines(kinlake, ['--events', '1200', '--seed', '5']);
  const queue = [
    { name: 'mid-batch deadline', payload: JSON.stringify(firehoseEvent(lines.slice(0, 1000).map((l) => firehoseRecord(l)))),
      deadline: 2000, check: expectError('mid-batch deadline', 'Kinlake.DeadlineExceeded') },
    firehoseInv('small batch, same deadline', firehoseEvent(lines.slice(0, 100).map((l) => firehoseRecord(l))), { minOk: 100 }, { deadline: 2000 }),
  ];
  const srv = await startServer(queue);
  const proc = runKinlake(kinlake, ['lambda', '--min-remaining', '0', '--deadline-margin', '10000'], srv.port);
  await finish(srv, proc, { invocations: 2 });
  done();
}

// A bad option, or (with TYPE VAR=VALUE...) a bad environment: one init error
// of that type naming the option or variable, exit status 2 or 1, and no
// invocation fetched.
async function scenarioInitError(kinlake, type, vars = []) {
  const srv = await startServer([]);
  const env = Object.fromEntries(vars.map((v) => [v.slice(0, v.indexOf('=')), v.slice(v.indexOf('=') + 1)]));
  const proc = type ? runKinlake(kinlake, ['lambda'], srv.port, env)
    : runKinlake(kinlake, ['lambda', '--dedup-window', 'lots'], srv.port);
  type = type || 'Runtime.InvalidArguments';
  const name = vars.length ? /KINLAKE_[A-Z_]+/ : /dedup-window/;
  await finish(srv, proc, { expectCode: vars.length ? 1 : 2 });
  const e = srv.state.initErrors;
  if (e.length !== 1) bad(`${e.length} init errors posted`);
  else {
    const doc = JSON.parse(e[0].body);
    if (e[0].type !== type || doc.errorType !== type || !name.test(doc.errorMessage))
      bad(`init error: ${e[0].type} ${e[0].body}`);
    else console.log(`init error: ${e[0].body}`);
  }
  if (srv.state.served) bad('invocations served after a failed init');
  done();
}

// --- Kinesis event source mapping -> the lake ------------------------------------
// esm KINLAKE INPUT.jsonl OPTIONS_JSON: the lines of INPUT, in order, become
// Kinesis records of one shard (the first `agg` lines KPL-aggregated by
// aws-kinesis-agg, `aggSize` user records per Kinesis record), sent in
// batches of `batch` Kinesis records to `kinlake lambda` with the KINLAKE_*
// and AWS_* variables of `env`. Every batch must come back as
// {"batchItemFailures":[]}, except:
//   failEnv   a first process runs with these variables added (a store that
//             cannot work): every batch must report failures, which must be
//             a suffix of its sequence numbers; a second process (with `env`)
//             then gets what each one named, as Lambda would retry it
//   proxyTo, failKeys   S3 goes through a proxy to proxyTo that answers 403
//             to PUT/POST of keys matching the regex failKeys during each
//             batch's first attempt: a failed batch is retried (in the same
//             process) from the record it names; minMidRetries: how many of
//             those must start after the batch's first record
//   replay    batch indexes sent again at the end (a warm instance: []);
//   coldReplay  the same in a new process
//   samples   event files sent as they are instead (INPUT is not read)
//   arrival, arrivalStep  approximateArrivalTimestamp of record n is
//             arrival + n * arrivalStep (default 1764633595 + n / 100: the
//             dead letters' dates cross midnight UTC after 500 records)
// The lake is checked afterwards by tests/js/check_lake.mjs (lambda_esm.sh).
const requireCjs = createRequire(import.meta.url);
const SEQ_BASE = '4959033827149025660855969253836157109592157598913'; // + 7 digits = 56

function readLines(file) {
  const data = readFileSync(file), out = [];
  for (let s = 0; s < data.length;) {
    let e = data.indexOf(10, s); if (e < 0) e = data.length;
    const l = data.subarray(s, e); s = e + 1;
    if (l.length && !(l.length === 1 && l[0] === 13)) out.push(l);
  }
  return out;
}

// by default arrival times cross midnight UTC after 500 records: dead letters are dated by them
function kinesisRecords(lines, agg, aggSize, arrival = 1764633595, arrivalStep = 0.01) {
  const { RecordAggregator } = requireCjs('aws-kinesis-agg');
  const recs = [];
  const push = (data, partitionKey, users) => {
    const n = recs.length;
    recs.push({ seq: SEQ_BASE + String(n).padStart(7, '0'), data, arrival: arrival + n * arrivalStep, partitionKey, users });
  };
  for (let i = 0; i < agg; i += aggSize) {
    const a = new RecordAggregator();
    const users = lines.slice(i, Math.min(agg, i + aggSize));
    for (const l of users) a.addUserRecord({ partitionKey: `pk-${i}`, data: l });
    const enc = a.build();
    push(Buffer.from(enc.data), enc.partitionKey, users.length);
  }
  for (const l of lines.slice(agg)) push(l, 'pk', 1);
  return recs;
}

function startS3Proxy(target, failKeys) {
  const t = new URL(target);
  const state = { fail: false, refused: 0, re: new RegExp(failKeys || '$^') };
  const server = http.createServer((req, res) => {
    const key = decodeURIComponent(req.url.split('?')[0]);
    if (state.fail && (req.method === 'PUT' || req.method === 'POST') && state.re.test(key)) {
      state.refused++;
      req.resume();
      res.writeHead(403, { 'content-type': 'application/xml' });
      return res.end('<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code>' +
        '<Message>Access Denied (test proxy)</Message></Error>');
    }
    const up = http.request({ host: t.hostname, port: t.port, method: req.method, path: req.url, headers: req.headers }, (ur) => {
      res.writeHead(ur.statusCode, ur.headers);
      ur.pipe(res);
    });
    up.on('error', (e) => { res.writeHead(502); res.end(String(e)); });
    req.pipe(up);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () =>
    resolve({ server, state, url: `http://127.0.0.1:${server.address().port}` })));
}

async function scenarioEsm(kinlake, input, optsJson) {
  const o = { batch: 100, agg: 0, aggSize: 30, replay: [], coldReplay: [], env: {}, shard: 'shardId-000000000000', ...JSON.parse(optsJson || '{}') };
  const recs = kinesisRecords(readLines(input), o.agg, o.aggSize, o.arrival, o.arrivalStep);
  const batches = [];
  for (let i = 0; i < recs.length; i += o.batch) batches.push(recs.slice(i, i + o.batch));
  const env = { ...o.env };
  const proxy = o.proxyTo ? await startS3Proxy(o.proxyTo, o.failKeys) : null;
  if (proxy) env.AWS_ENDPOINT_URL_S3 = proxy.url;
  const tally = { invocations: 0, failed: 0, retriedMid: 0, stored: 0, dead: 0, duplicates: 0 };

  // One process through `items` ({name, recs, expectFail, onFail, proxyFail});
  // failures are retried at once unless the item says what to do with them.
  async function phase(label, items, penv) {
    const queue = [];
    const entry = (it) => ({
      name: it.name, payload: it.payload ?? JSON.stringify(esmEvent(it.recs, o.shard)),
      onServe: () => { if (proxy) proxy.state.fail = !!it.proxyFail; },
      check: (ans) => {
        if (ans.kind !== 'response') return bad(`${it.name}: expected a response, got ${ans.kind} ${ans.body.toString().slice(0, 300)}`);
        let r;
        try { r = JSON.parse(ans.body.toString()); } catch { return bad(`${it.name}: response is not JSON`); }
        if (!r || !Array.isArray(r.batchItemFailures) || Object.keys(r).length !== 1) return bad(`${it.name}: response ${ans.body}`);
        const ids = r.batchItemFailures.map((x) => x.itemIdentifier);
        if (!ids.length) {
          if (it.expectFail) bad(`${it.name}: expected failures, got []`);
          return;
        }
        tally.failed++;
        const from = it.recs.findIndex((x) => x.seq === ids[0]);
        const want = from < 0 ? [] : it.recs.slice(from).map((x) => x.seq);
        if (JSON.stringify(ids) !== JSON.stringify(want)) return bad(`${it.name}: batchItemFailures ${JSON.stringify(ids).slice(0, 200)} is not a suffix of the batch`);
        if (from > 0) tally.retriedMid++;
        console.log(`${it.name}: ${ids.length} of ${it.recs.length} records to retry (from record ${from})`);
        const rest = { name: `${it.name} (retry from ${from})`, recs: it.recs.slice(from), tries: (it.tries ?? 0) + 1 };
        // a record the function can never take (a poison pill) would be retried for
        // ever, as an event source mapping does by default: a test fails instead
        if (rest.tries > 20) return bad(`${it.name}: still failing after 20 retries (a record that can never succeed?)`);
        if (it.onFail) it.onFail(rest);
        else if (!it.expectFail) queue.unshift(entry(rest));
      },
    });
    for (const it of items) queue.push(entry(it));
    const srv = await startServer(queue);
    const proc = runKinlake(kinlake, ['lambda'], srv.port, penv);
    const t0 = performance.now();
    const { logs } = await finish(srv, proc, {});
    const per = logs.filter((l) => l.request_id);
    if (per.length !== srv.state.served) bad(`${label}: ${per.length} log lines for ${srv.state.served} invocations`);
    for (const l of per) {
      if (l.event !== 'kinesis') { bad(`${label}: log line ${JSON.stringify(l)}`); continue; }
      for (const k of ['records', 'ok', 'dropped', 'failed', 'events', 'dead_letters', 'files'])
        if (typeof l[k] !== 'number') bad(`${label}: log line without ${k}: ${JSON.stringify(l)}`);
      if (l.failed && (l.level !== 'ERROR' || !/retrying from sequence number/.test(l.message || ''))) bad(`${label}: failure log line ${JSON.stringify(l)}`);
      if (!l.failed) { tally.stored += l.ok; tally.dead += l.dead_letters; tally.duplicates += l.dropped; }
    }
    const ready = logs.find((l) => /runtime ready/.test(l.message || ''));
    if (!ready || ready.lake !== penv.KINLAKE_LAKE) bad(`${label}: ready line ${JSON.stringify(ready)}`);
    tally.invocations += srv.state.served;
    console.log(`${label}: ${srv.state.served} invocations in ${((performance.now() - t0) / 1000).toFixed(2)} s`);
  }

  if (o.samples) { // sample events as they are, instead of the input
    await phase('samples', o.samples.map((f) => {
      const payload = readFileSync(f, 'utf8');
      const recs = JSON.parse(payload).Records.map((r) => ({ seq: r.kinesis.sequenceNumber }));
      return { name: f.replace(/.*lambda-events\//, ''), payload, recs };
    }), env);
    return done();
  }
  let todo = batches.map((b, i) => ({ name: `batch ${i}`, recs: b, proxyFail: !!proxy }));
  if (o.failEnv) {
    const retries = [];
    await phase('broken store', todo.map((t) => ({ ...t, expectFail: true, onFail: (rest) => retries.push(rest) })), { ...env, ...o.failEnv });
    if (retries.length !== todo.length) bad(`${retries.length} of ${todo.length} batches reported failures`);
    todo = retries;
  }
  for (const i of o.replay) todo.push({ name: `replay of batch ${i}`, recs: batches[i] });
  await phase('lake', todo, env);
  if (o.coldReplay.length) await phase('cold replay', o.coldReplay.map((i) => ({ name: `cold replay of batch ${i}`, recs: batches[i] })), env);
  if (proxy) {
    proxy.server.close();
    if (!proxy.state.refused) bad('the proxy refused nothing: failKeys matched no key');
    if (tally.retriedMid < (o.minMidRetries ?? 0)) bad(`only ${tally.retriedMid} retries started after a batch's first record, want ${o.minMidRetries}`);
  }
  const users = recs.reduce((n, r) => n + r.users, 0);
  console.log(JSON.stringify({ kinesis_records: recs.length, user_records: users, batches: batches.length, ...tally, proxy_refused: proxy ? proxy.state.refused : undefined }));
  done();
}

// CloudWatch Embedded Metric Format on stdout (docs/metrics.md): each line parsed
// strictly against the EMF specification, and the metrics summed over the
// invocations equal the counts the event contract predicts (classify() in JS):
//   1. Firehose: a batch of `kinlake gen` lines with bad ones and repeats plus a
//      record that is not base64, then the same batch again (all valid Dropped);
//   2. Kinesis ESM into LAKE (a directory): FilesCommitted = the files in the lake;
//   3. KINLAKE_CLOUDWATCH_NAMESPACE="" turns the lines off.
const EMF_UNITS = { RecordsRead: 'Count', EventsStored: 'Count', DeadLetters: 'Count', Duplicates: 'Count',
  BytesRead: 'Bytes', BytesWritten: 'Bytes', FilesCommitted: 'Count', EventsRescued: 'Count',
  BatchLatency: 'Milliseconds' };
function emfParse(stdout, ns, fn, label) {
  const main = [], reasons = {};
  for (const line of stdout.split('\n')) {
    if (!line) continue;
    let o;
    try { o = JSON.parse(line); } catch { bad(`${label}: stdout line is not JSON: ${line.slice(0, 200)}`); continue; }
    const a = o._aws;
    if (!a || typeof a !== 'object' || !Number.isInteger(a.Timestamp) || Math.abs(a.Timestamp - Date.now()) > 600000)
      { bad(`${label}: _aws.Timestamp: ${line.slice(0, 200)}`); continue; }
    if (!Array.isArray(a.CloudWatchMetrics) || a.CloudWatchMetrics.length !== 1) { bad(`${label}: CloudWatchMetrics: ${line}`); continue; }
    const d = a.CloudWatchMetrics[0];
    if (d.Namespace !== ns) bad(`${label}: Namespace ${d.Namespace}, want ${ns}`);
    if (!Array.isArray(d.Dimensions) || d.Dimensions.length !== 1 || !Array.isArray(d.Dimensions[0])) { bad(`${label}: Dimensions ${JSON.stringify(d.Dimensions)}`); continue; }
    for (const k of d.Dimensions[0]) if (typeof o[k] !== 'string' || !o[k]) bad(`${label}: dimension ${k} has no string member`);
    if (o.FunctionName !== fn) bad(`${label}: FunctionName ${o.FunctionName}, want ${fn}`);
    if (!Array.isArray(d.Metrics) || !d.Metrics.length || d.Metrics.length > 100) { bad(`${label}: Metrics ${JSON.stringify(d.Metrics)}`); continue; }
    for (const m of d.Metrics) {
      if (EMF_UNITS[m.Name] !== m.Unit) bad(`${label}: metric ${JSON.stringify(m)}`);
      if (typeof o[m.Name] !== 'number' || !(o[m.Name] >= 0)) bad(`${label}: metric ${m.Name} value ${o[m.Name]}`);
    }
    const dims = d.Dimensions[0].join(',');
    if (dims === 'FunctionName') {
      if (d.Metrics.map((m) => m.Name).join() !== Object.keys(EMF_UNITS).join()) bad(`${label}: metrics ${d.Metrics.map((m) => m.Name)}`);
      main.push(o);
    } else if (dims === 'FunctionName,Reason') {
      if (d.Metrics.length !== 1 || d.Metrics[0].Name !== 'DeadLetters' || !(o.DeadLetters > 0)) bad(`${label}: reason line ${line}`);
      reasons[o.Reason] = (reasons[o.Reason] || 0) + o.DeadLetters;
    } else bad(`${label}: dimensions ${dims}`);
  }
  const sum = {};
  for (const k of Object.keys(EMF_UNITS)) sum[k] = main.reduce((n, o) => n + (o[k] || 0), 0);
  return { main, reasons, sum };
}
function emfExpect(label, got, want) {
  for (const [k, v] of Object.entries(want.sum)) if (got.sum[k] !== v) bad(`${label}: ${k} = ${got.sum[k]}, want ${v}`);
  const r = (o) => JSON.stringify(Object.fromEntries(Object.entries(o).sort()));
  if (r(got.reasons) !== r(want.reasons)) bad(`${label}: reasons ${r(got.reasons)}, want ${r(want.reasons)}`);
  console.log(`${label}: ${got.main.length} EMF lines, ${JSON.stringify(got.sum)} ${r(got.reasons)}`);
}
async function scenarioEmf(kinlake, lake) {
  const lines = genLines(kinlake, ['--events', '1500', '--bad-fraction', '0.05', '--dup-fraction', '0.03', '--seed', '61']);
  // expected: classify each line; a valid event whose uuid came earlier is a duplicate
  const want = { sum: { RecordsRead: 0, EventsStored: 0, DeadLetters: 0, Duplicates: 0, BytesRead: 0,
    EventsRescued: 0 }, reasons: {} };
  const uuids = new Set();
  for (const l of lines) {
    want.sum.RecordsRead++; want.sum.BytesRead += l.length + 1; // Firehose records end with a newline
    const c = classify(l);
    if (c.reason) { want.sum.DeadLetters++; want.reasons[c.reason] = (want.reasons[c.reason] || 0) + 1; }
    else if (uuids.has(c.event.event_uuid)) want.sum.Duplicates++;
    else { uuids.add(c.event.event_uuid); want.sum.EventsStored++; }
  }
  const valid = want.sum.EventsStored + want.sum.Duplicates;
  // 1. Firehose: the batch (+ one record that is not base64), then the batch again
  const ev1 = firehoseEvent([...lines.map((l) => firehoseRecord(l)), firehoseRecord('not base64!!')]);
  const ev2 = firehoseEvent(lines.map((l) => firehoseRecord(l)));
  const q = [ev1, ev2].map((e, i) => ({ name: `firehose ${i}`, payload: JSON.stringify(e), check: (a) => { if (a.kind !== 'response') bad(`firehose ${i}: ${a.kind}`); } }));
  let srv = await startServer(q);
  let proc = runKinlake(kinlake, ['lambda'], srv.port, { KINLAKE_CLOUDWATCH_NAMESPACE: 'KinlakeEmf', AWS_LAMBDA_FUNCTION_NAME: 'fn-emf' });
  let { r } = await finish(srv, proc, { invocations: 2 });
  const fh = emfParse(r.stdout, 'KinlakeEmf', 'fn-emf', 'firehose');
  if (fh.main.length !== 2) bad(`firehose: ${fh.main.length} EMF lines for 2 invocations`);
  const both = { sum: { RecordsRead: 2 * lines.length + 1, EventsStored: want.sum.EventsStored,
    DeadLetters: 2 * want.sum.DeadLetters + 1, Duplicates: want.sum.Duplicates + valid, BytesRead: 2 * want.sum.BytesRead,
    FilesCommitted: 0 }, reasons: { ...want.reasons } };
  for (const k of Object.keys(both.reasons)) both.reasons[k] *= 2;
  both.reasons.invalid_base64 = 1;
  emfExpect('firehose', fh, both);
  if (!(fh.sum.BytesWritten > fh.sum.BytesRead / 2)) bad(`firehose: BytesWritten ${fh.sum.BytesWritten}`);
  if (fh.main.some((o) => o.EventSource !== 'firehose' || !(o.BatchLatency >= 0))) bad('firehose: EventSource/BatchLatency');
  // 2. Kinesis ESM, three batches, into a local lake
  const recs = lines.map((l, i) => ({ seq: `4959033827149025660855969253836157109592157598913${String(i).padStart(6, '0')}`, data: l, arrival: 1764547200 + i }));
  const q2 = [0, 500, 1000].map((o, i) => ({ name: `esm ${i}`, payload: JSON.stringify(esmEvent(recs.slice(o, o + 500), 'shardId-000000000000')),
    check: (a) => { if (a.kind !== 'response' || JSON.parse(a.body).batchItemFailures.length) bad(`esm ${i}: ${a.body}`); } }));
  srv = await startServer(q2);
  proc = runKinlake(kinlake, ['lambda'], srv.port, { KINLAKE_LAKE: lake, KINLAKE_FORMAT: 'jsonl', AWS_LAMBDA_FUNCTION_NAME: 'fn-esm' });
  ({ r } = await finish(srv, proc, { invocations: 3 }));
  const km = emfParse(r.stdout, 'kinlake', 'fn-esm', 'esm'); // the default namespace
  if (km.main.length !== 3) bad(`esm: ${km.main.length} EMF lines for 3 invocations`);
  const files = spawnSync('find', [lake, '-type', 'f', '-path', '*s/*', '!', '-path', '*/_kinlake/*'], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean).length;
  emfExpect('esm', km, { sum: { ...want.sum, BytesRead: want.sum.BytesRead - lines.length, FilesCommitted: files }, reasons: want.reasons });
  if (!(files > 3)) bad(`esm: ${files} files in the lake`);
  // 3. off
  srv = await startServer([{ name: 'off', payload: JSON.stringify(ev2), check: () => {} }]);
  proc = runKinlake(kinlake, ['lambda'], srv.port, { KINLAKE_CLOUDWATCH_NAMESPACE: '' });
  ({ r } = await finish(srv, proc, { invocations: 1 }));
  if (r.stdout !== '') bad(`KINLAKE_CLOUDWATCH_NAMESPACE="": stdout ${r.stdout.slice(0, 200)}`);
  done();
}

// --- Firehose transformation: the answers, for a comparison with the lake ------
// firehose KINLAKE INPUT.jsonl OUT.jsonl OPTIONS_JSON: the lines of INPUT, in
// order, become Firehose records (with kinesisRecordMetadata) in events of
// `batch` (250) records, sent to one `kinlake lambda` process; each answer is
// checked against the Firehose and event contracts (checkFirehose), and OUT
// gets one JSON line per input line: {line, result, partitionKeys, data} (data,
// base64, only for Ok). tests/js/paths_agree.mjs compares OUT with a lake.
async function scenarioFirehose(kinlake, input, out, optsJson) {
  const o = { batch: 250, ...JSON.parse(optsJson || '{}') };
  const lines = readLines(input);
  const results = [];
  const queue = [];
  for (let i = 0; i < lines.length; i += o.batch) {
    const first = i, name = `firehose batch ${i / o.batch}`;
    const ev = firehoseEvent(lines.slice(i, i + o.batch).map((l) => firehoseRecord(l)));
    queue.push({ name, payload: JSON.stringify(ev), check: (ans) => {
      checkFirehose(name, ev, ans);
      if (ans.kind !== 'response') return;
      JSON.parse(ans.body.toString()).records.forEach((r, j) => results.push({
        line: first + j, result: r.result, partitionKeys: r.metadata ? r.metadata.partitionKeys : null,
        data: r.result === 'Ok' ? r.data : undefined,
      }));
    } });
  }
  const total = queue.length;
  const srv = await startServer(queue);
  const proc = runKinlake(kinlake, ['lambda'], srv.port);
  await finish(srv, proc, { invocations: total });
  if (results.length !== lines.length) bad(`${results.length} answers for ${lines.length} records`);
  results.sort((a, b) => a.line - b.line);
  writeFileSync(out, results.map((r) => JSON.stringify(r)).join('\n') + '\n');
  done();
}

// serve EVENT.json N times to CMD (bench/lambda.sh)
async function scenarioServe(file, n, cmd) {
  const payload = readFileSync(file);
  const ev = JSON.parse(payload);
  const records = (ev.records ?? ev.Records)?.length ?? 0;
  const queue = [];
  let errors = 0;
  for (let i = 0; i < n; i++) queue.push({ name: `bench ${i}`, payload, check: (ans) => { if (ans.kind !== 'response') errors++; } });
  const srv = await startServer(queue);
  // the caller's lake variables (for Kinesis events) reach the function
  const lakeEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => LAKE_VARS.test(k)));
  const proc = runKinlake(cmd[0], cmd.slice(1), srv.port, lakeEnv);
  const r = await proc.done;
  srv.server.close();
  const s = srv.state;
  // from the first invocation handed out to the last answer received
  const secs = (s.lastAnswerAt - s.firstNextAt) / 1000;
  console.log(JSON.stringify({ invocations: s.answered, errors, records: records * s.answered,
    seconds: Number(secs.toFixed(6)), records_per_s: Math.round(records * s.answered / secs),
    cold_start_ms: Number((s.firstAnswerAt - proc.t0).toFixed(2)),
    first_next_ms: Number((s.firstNextAt - proc.t0).toFixed(2)), exit: r.code }));
  if (s.answered !== n || errors) { console.error(r.stderr.slice(-2000)); process.exit(1); }
}

const [scenario, ...rest] = process.argv.slice(2);
if (scenario === 'main') await scenarioMain(rest[0], rest[1], rest[2]);
else if (scenario === 'deadline') await scenarioDeadline(rest[0]);
else if (scenario === 'initerror') await scenarioInitError(rest[0], rest[1], rest.slice(2));
else if (scenario === 'serve') await scenarioServe(rest[0], Number(rest[1]), rest.slice(2));
else if (scenario === 'esm') await scenarioEsm(rest[0], rest[1], rest[2]);
else if (scenario === 'emf') await scenarioEmf(rest[0], rest[1]);
else if (scenario === 'firehose') await scenarioFirehose(rest[0], rest[1], rest[2], rest[3]);
else { console.error('usage: runtime_api.mjs main|deadline|initerror|serve|esm|emf|firehose ...'); process.exit(2); }
