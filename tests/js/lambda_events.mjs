// lambda_events.mjs — build Lambda invocation payloads for the tests and the
// benchmark: Firehose transformation events whose records carry raw lines
// (Buffers, so invalid UTF-8 survives), and Kinesis event-source-mapping events
// (kinesisEvent, esmEvent).
//
// CLI (bench/lambda.sh):
//   node tests/js/lambda_events.mjs firehose KINLAKE BYTES OUT.json [SEED]
// writes one Firehose event of about BYTES (request size) from `kinlake gen`;
//   node tests/js/lambda_events.mjs kinesis KINLAKE EVENTS OUT.json [SEED]
// one Kinesis event-source-mapping batch of EVENTS records of one shard.
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';

// raw lines of `kinlake gen` (Buffers, newline removed)
export function genLines(kinlake, args) {
  const r = spawnSync(kinlake, ['gen', ...args], { maxBuffer: 1 << 30 });
  if (r.status !== 0) throw new Error(`kinlake gen failed: ${r.stderr}`);
  const out = [], data = r.stdout;
  for (let s = 0; s < data.length;) {
    let e = data.indexOf(10, s); if (e < 0) e = data.length;
    if (e > s) out.push(data.subarray(s, e));
    s = e + 1;
  }
  return out;
}

const STREAM = 'arn:aws:kinesis:us-east-1:123456789012:stream/events';
let recSeq = 0;

// one Firehose record; `data` is a Buffer (base64-encoded here) or a string
// used verbatim as the base64 field (to send invalid base64)
export function firehoseRecord(data, withMeta = true) {
  const n = recSeq++;
  const rec = {
    recordId: `49546986683135544286507457936321625675700192471156785154${String(n).padStart(6, '0')}`,
    approximateArrivalTimestamp: 1764547200000 + n,
    data: typeof data === 'string' ? data : Buffer.concat([data, Buffer.from('\n')]).toString('base64'),
  };
  if (withMeta) rec.kinesisRecordMetadata = {
    shardId: 'shardId-000000000000', partitionKey: `pk-${n % 97}`,
    approximateArrivalTimestamp: 1764547200000 + n,
    sequenceNumber: `4954698668313554428650745793632162567570019247115678${String(n).padStart(8, '0')}`,
    subsequenceNumber: '',
  };
  return rec;
}

export function firehoseEvent(records) {
  return {
    invocationId: `invocation-${recSeq}`,
    deliveryStreamArn: 'arn:aws:firehose:us-east-1:123456789012:deliverystream/kinlake',
    sourceKinesisStreamArn: STREAM,
    region: 'us-east-1',
    records,
  };
}

// a Firehose event of about `bytes` (serialized), from lines taken in order
export function firehoseEventOfSize(lines, bytes) {
  const recs = [];
  let size = 300;
  for (let i = 0; size < bytes; i++) {
    const r = firehoseRecord(lines[i % lines.length]);
    const n = JSON.stringify(r).length + 1;
    if (size + n > bytes) break;
    recs.push(r); size += n;
  }
  return firehoseEvent(recs);
}

export function kinesisEvent(lines) {
  return esmEvent(lines.map((l, i) => ({
    seq: `49590338271490256608559692538361571095921575989136588${String(i).padStart(6, '0')}`,
    data: l, arrival: 1764547200.123 + i, partitionKey: `pk-${i}`,
  })), 'shardId-000000000006');
}

// A Kinesis event-source-mapping event for `records` of one shard: each
// {seq, data (Buffer, or a string used verbatim as the base64 field),
// arrival (Unix seconds), partitionKey}.
export function esmEvent(records, shard, arn = STREAM) {
  return {
    Records: records.map((r) => ({
      kinesis: {
        kinesisSchemaVersion: '1.0', partitionKey: r.partitionKey ?? 'pk',
        sequenceNumber: r.seq,
        data: typeof r.data === 'string' ? r.data : r.data.toString('base64'),
        approximateArrivalTimestamp: r.arrival,
      },
      eventSource: 'aws:kinesis', eventVersion: '1.0',
      eventID: `${shard}:${r.seq}`,
      eventName: 'aws:kinesis:record', invokeIdentityArn: 'arn:aws:iam::123456789012:role/lambda-role',
      awsRegion: 'us-east-1', eventSourceARN: arn,
    })),
  };
}

if (process.argv[1] && process.argv[1].endsWith('lambda_events.mjs') && process.argv[2] === 'firehose') {
  const [, , , kinlake, bytes, out, seed] = process.argv;
  const want = Number(bytes);
  // about 600 bytes of request per event: generate enough, clean events only
  const lines = genLines(kinlake, ['--events', String(Math.ceil(want / 500) + 100), '--seed', seed || '3']);
  const ev = firehoseEventOfSize(lines, want);
  const text = JSON.stringify(ev);
  writeFileSync(out, text);
  console.log(JSON.stringify({ out, bytes: text.length, records: ev.records.length }));
}

if (process.argv[1] && process.argv[1].endsWith('lambda_events.mjs') && process.argv[2] === 'kinesis') {
  const [, , , kinlake, events, out, seed] = process.argv;
  const lines = genLines(kinlake, ['--events', events, '--seed', seed || '3']);
  const text = JSON.stringify(kinesisEvent(lines));
  writeFileSync(out, text);
  console.log(JSON.stringify({ out, bytes: text.length, records: lines.length }));
}
