// kinesis_put.mjs — put a JSON-lines file into a Kinesis stream with the real
// AWS SDK (@aws-sdk/client-kinesis), PutRecords in batches of 500 (retrying
// failed entries), plus KPL-aggregated records built with aws-kinesis-agg.
// Usage: node tests/js/kinesis_put.mjs STREAM FILE [--agg N] [--parallel]
//                                      [--emulator-state STATE_FILE]
//   --agg N:     put the first N lines as KPL-aggregated records (as many user
//                records as fit the library's size limit, about 1 MB) instead of
//                plain records.
//   --agg-size K: at most K user records per aggregated record.
//   --parallel:  one PutRecords call in flight per shard instead of one in all
//                (lines grouped by the open shard their partition key hashes
//                to, so the order within a shard is still the file's order).
//   --hash-key K: every plain record with ExplicitHashKey K (a decimal
//                128-bit number): all on the one open shard whose range holds K.
//   --pace N MS: N records per PutRecords call and MS ms between calls (a
//                steady trickle from one process; default 500 per call, no wait).
//   --until FILE: stop before the next call once FILE exists; the output's
//                "put" says how many (the first lines of the file, in order).
//   --plain P:   put the last P lines as plain records and the lines before
//                them KPL-aggregated (instead of --agg N).
//   --chunks K --gate PREFIX: put the lines in K consecutive chunks (near-equal
//                line counts), each as the whole file would be put (--agg,
//                --plain apply to each chunk); chunk i > 0 waits for the file
//                PREFIX.go.<i>, and PREFIX.put.<i> is created once chunk i is
//                in. One process for all, so a test can let a stream flow in
//                steps without a Node start-up per step.
//   --emulator-state STATE_FILE: no API calls. STATE_FILE is kinesis-mock's
//                persisted state (SHOULD_PERSIST_DATA=true, kinesis-local 0.6.x)
//                holding STREAM; the lines are added to it exactly as the
//                emulator's PutRecords would store them (same shard from the
//                MD5 of the partition key, same sequence numbers), arriving at
//                1000 records/s up to now. Start kinesis-mock on it with
//                LOAD_DATA_IF_EXISTS=true. Used by bench/kinesis.sh: the
//                emulator's PutRecords costs O(records already in the shard)
//                per record (see bench/README.md), so putting 10^5..10^6
//                records through the API takes hours.
// Environment: AWS_ENDPOINT_URL_KINESIS, AWS_REGION, credentials.
import { KinesisClient, PutRecordsCommand, ListShardsCommand } from '@aws-sdk/client-kinesis';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import agg from 'aws-kinesis-agg';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, openSync, writeSync, closeSync, renameSync } from 'node:fs';

const [stream, file, ...rest] = process.argv.slice(2);
const opt = (name) => { const i = rest.indexOf(name); return i < 0 ? undefined : rest[i + 1]; };
const aggN = Number(opt('--agg') || 0);
const parallel = rest.includes('--parallel');
const hashKey = opt('--hash-key');
const untilFile = opt('--until');
let putCount = 0;
const paceAt = rest.indexOf('--pace');
const [paceN, paceMs] = paceAt < 0 ? [500, 0] : [Number(rest[paceAt + 1]), Number(rest[paceAt + 2])];
const stateFile = opt('--emulator-state');
// like real producers, key records by entity: repeats of an event land on one shard
const keyOf = (l, i) => { const m = /"event_uuid":"([^"]{1,200})"/.exec(l.toString('latin1')); return m ? m[1] : `pk-${i}`; };
const data = readFileSync(file);
const lines = [];
for (let s = 0; s < data.length;) {
  let e = data.indexOf(10, s); if (e < 0) e = data.length;
  if (e > s) lines.push(data.subarray(s, e));
  s = e + 1;
}
// the shard a partition key lands on: the open shard whose hash key range holds
// the MD5 of the key, read as an unsigned 128-bit number
const hashOf = (pk) => BigInt('0x' + createHash('md5').update(pk, 'utf8').digest('hex'));
const shardOf = (shards, pk) => {
  const h = hashOf(pk);
  return shards.find((s) => BigInt(s.HashKeyRange.StartingHashKey) <= h && h <= BigInt(s.HashKeyRange.EndingHashKey));
};

if (stateFile) {
  if (aggN || opt('--plain') !== undefined) throw new Error('--emulator-state takes plain records only');
  emulatorState();
  process.exit(0);
}

// HTTP/1.1: the local emulator speaks plain HTTP without HTTP/2
const client = new KinesisClient({ endpoint: process.env.AWS_ENDPOINT_URL_KINESIS, region: process.env.AWS_REGION || 'us-east-1', requestHandler: new NodeHttpHandler() });

async function putAll(entries) {
  for (let i = 0; i < entries.length; i += paceN) {
    if (i && paceMs) await new Promise((ok) => setTimeout(ok, paceMs));
    if (untilFile && existsSync(untilFile)) break;
    let batch = entries.slice(i, i + paceN);
    putCount += batch.length;
    for (let attempt = 0; batch.length; attempt++) {
      const r = await client.send(new PutRecordsCommand({ StreamName: stream, Records: batch }));
      batch = batch.filter((_, j) => r.Records[j].ErrorCode);
      if (batch.length && attempt > 10) throw new Error(`${batch.length} records keep failing`);
      if (batch.length) await new Promise((ok) => setTimeout(ok, 100 * (attempt + 1)));
    }
  }
}

async function putParallel(entries) {
  const shards = [];
  for (let token; ;) {
    const r = await client.send(new ListShardsCommand(token ? { NextToken: token } : { StreamName: stream }));
    shards.push(...r.Shards.filter((s) => !s.SequenceNumberRange.EndingSequenceNumber));
    if (!(token = r.NextToken)) break;
  }
  const per = new Map(shards.map((s) => [s, []]));
  for (const e of entries) {
    const s = shardOf(shards, e.PartitionKey);
    if (!s) throw new Error(`no open shard for partition key ${e.PartitionKey}`);
    per.get(s).push(e);
  }
  await Promise.all([...per.values()].map(putAll));
}

function emulatorState() {
  const state = JSON.parse(readFileSync(stateFile, 'utf8'));
  const sd = Object.values(state.streams).find((s) => s.streamName === stream);
  if (!sd) throw new Error(`${stateFile}: no stream ${stream}`);
  const keys = Object.keys(sd.shards);
  const shards = keys.map((k, i) => ({ key: k, i, ...JSON.parse(k) }));
  const open = shards.filter((s) => !s.SequenceNumberRange.EndingSequenceNumber);
  // kinesis-mock's SequenceNumber.create (after kinesalite): hex digits
  // 2 | shard created (s, 9) | shard index (1) | index in shard (16) | 00 |
  // record time (s, 9) | shard index (8) | 2, written in decimal
  const hex = (v, n) => ('0'.repeat(n) + BigInt(v).toString(16)).slice(-n);
  const seqNo = (s, index, ms) => {
    const created = Math.floor(Date.parse(s.CreatedAtTimestamp) / 1000);
    return BigInt('0x2' + hex(created, 9) + BigInt(s.ShardIndex).toString(16).slice(-1) + hex(index, 16) +
      '00' + hex(Math.floor(ms / 1000), 9) + hex(s.ShardIndex, 8) + '2').toString();
  };
  const t0 = Date.now() - lines.length; // 1000 records/s, the last one now
  const per = shards.map(() => []);
  const count = shards.map((s) => sd.shards[s.key].length);
  lines.forEach((l, i) => {
    const pk = keyOf(l, i);
    const s = shardOf(open, pk);
    if (!s) throw new Error(`no open shard for partition key ${pk}`);
    const ms = t0 + i;
    per[s.i].push(JSON.stringify({
      ApproximateArrivalTimestamp: Number((ms / 1000).toFixed(3)), Data: l.toString('base64'),
      EncryptionType: sd.encryptionType, PartitionKey: pk, SequenceNumber: seqNo(s, ++count[s.i], ms),
    }));
  });
  // the state can be larger than the longest string V8 allows: write it in pieces
  const before = keys.map((k) => sd.shards[k].map((r) => JSON.stringify(r)));
  keys.forEach((k, i) => { sd.shards[k] = `@@shard${i}@@`; });
  const tmp = `${stateFile}.tmp`;
  const fd = openSync(tmp, 'w');
  const parts = JSON.stringify(state).split(/"@@shard(\d+)@@"/);
  for (let j = 0; j < parts.length; j++) {
    if (j % 2 === 0) { writeSync(fd, parts[j]); continue; }
    const i = Number(parts[j]);
    const all = before[i].concat(per[i]);
    writeSync(fd, '[');
    for (let r = 0; r < all.length; r += 1000) writeSync(fd, (r ? ',' : '') + all.slice(r, r + 1000).join(','));
    writeSync(fd, ']');
  }
  closeSync(fd);
  renameSync(tmp, stateFile);
  console.log(JSON.stringify({ plain: lines.length, shards: per.map((p) => p.length) }));
}

// the entries of lines [from, to): the first n of them (n from --agg or
// --plain) KPL-aggregated, the rest plain; the partition keys as if the lines
// were numbered from `from`
async function entriesOf(from, to) {
  const plainArg = opt('--plain');
  const n = plainArg === undefined ? Math.min(aggN, to - from) : Math.max(0, to - from - Number(plainArg));
  const aggregated = [];
  const users = lines.slice(from, from + n).map((l, i) => ({ partitionKey: keyOf(l, from + i), data: l }));
  const size = Number(opt('--agg-size') || users.length) || 1;
  for (let c = 0; c < users.length; c += size) {
    await new Promise((resolve, reject) => {
      agg.aggregate(users.slice(c, c + size), (enc, cb) => {
        aggregated.push({ PartitionKey: enc.partitionKey, Data: enc.data });
        if (cb) cb();
      }, () => resolve(), (err) => reject(err));
    });
  }
  const plain = lines.slice(from + n, to).map((l, i) =>
    ({ PartitionKey: keyOf(l, from + n + i), Data: l, ...(hashKey ? { ExplicitHashKey: hashKey } : {}) }));
  return { n, aggregated, plain };
}
const chunks = Math.max(1, Number(opt('--chunks') || 1));
const gate = opt('--gate');
const total = { plain: 0, aggregated_user_records: 0, aggregated_records: 0 };
for (let k = 0; k < chunks; k++) {
  if (k && gate) while (!existsSync(`${gate}.go.${k}`)) await new Promise((ok) => setTimeout(ok, 50));
  const from = Math.floor(lines.length * k / chunks), to = Math.floor(lines.length * (k + 1) / chunks);
  const { n, aggregated, plain } = await entriesOf(from, to);
  await (parallel ? putParallel : putAll)([...aggregated, ...plain]);
  if (gate) closeSync(openSync(`${gate}.put.${k}`, 'w'));
  total.plain += plain.length; total.aggregated_user_records += n; total.aggregated_records += aggregated.length;
}
console.log(JSON.stringify({ ...total, put: putCount }));
