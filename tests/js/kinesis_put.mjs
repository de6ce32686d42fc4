// kinesis_put.mjs — put a JSON-lines file into a Kinesis stream with the real
// AWS SDK (@aws-sdk/client-kinesis), PutRecords in batches of 500 (retrying
// failed entries), plus KPL-aggregated records built with aws-kinesis-agg.
// Usage: node tests/js/kinesis_put.mjs STREAM FILE [--agg N]
//   --agg N: put the first N lines as KPL-aggregated records (about 50 user
//            records each) instead of plain records.
// Environment: AWS_ENDPOINT_URL_KINESIS, AWS_REGION, credentials.
import { KinesisClient, PutRecordsCommand } from '@aws-sdk/client-kinesis';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import agg from 'aws-kinesis-agg';
import { readFileSync } from 'node:fs';

const [stream, file, ...rest] = process.argv.slice(2);
const aggN = rest[0] === '--agg' ? Number(rest[1]) : 0;
// HTTP/1.1: the local emulator speaks plain HTTP without HTTP/2
const client = new KinesisClient({ endpoint: process.env.AWS_ENDPOINT_URL_KINESIS, region: process.env.AWS_REGION || 'us-east-1', requestHandler: new NodeHttpHandler() });
// like real producers, key records by entity: repeats of an event land on one shard
const keyOf = (l, i) => { const m = /"event_uuid":"([^"]{1,200})"/.exec(l.toString('latin1')); return m ? m[1] : `pk-${i}`; };
const data = readFileSync(file);
const lines = [];
for (let s = 0; s < data.length;) {
  let e = data.indexOf(10, s); if (e < 0) e = data.length;
  if (e > s) lines.push(data.subarray(s, e));
  s = e + 1;
}

async function putAll(entries) {
  for (let i = 0; i < entries.length; i += 500) {
    let batch = entries.slice(i, i + 500);
    for (let attempt = 0; batch.length; attempt++) {
      const r = await client.send(new PutRecordsCommand({ StreamName: stream, Records: batch }));
      batch = batch.filter((_, j) => r.Records[j].ErrorCode);
      if (batch.length && attempt > 10) throw new Error(`${batch.length} records keep failing`);
      if (batch.length) await new Promise((ok) => setTimeout(ok, 100 * (attempt + 1)));
    }
  }
}

const aggregated = [];
if (aggN) {
  const users = lines.slice(0, aggN).map((l, i) => ({ partitionKey: keyOf(l, i), data: l }));
  await new Promise((resolve, reject) => {
    agg.aggregate(users, (enc, cb) => {
      aggregated.push({ PartitionKey: enc.partitionKey, Data: enc.data });
      if (cb) cb();
    }, () => resolve(), (err) => reject(err));
  });
}
const plain = lines.slice(aggN).map((l, i) => ({ PartitionKey: keyOf(l, i + aggN), Data: l }));
await putAll([...aggregated, ...plain]);
console.log(JSON.stringify({ plain: plain.length, aggregated_user_records: aggN, aggregated_records: aggregated.length }));
