// kinesis_drain.mjs — the "consumer that does nothing": reads every shard of a
// stream with GetRecords (AWS SDK, HTTP/1.1, 5 calls/s per shard like kinlake)
// until all shards are caught up and idle, and prints how many records it got.
// Used by bench/kinesis.sh as the ceiling the emulator sets.
// Usage: node tests/js/kinesis_drain.mjs STREAM [IDLE_MS]
import { KinesisClient, ListShardsCommand, GetShardIteratorCommand, GetRecordsCommand } from '@aws-sdk/client-kinesis';
import { NodeHttpHandler } from '@smithy/node-http-handler';

const [stream, idleArg] = process.argv.slice(2);
const idleMs = Number(idleArg || 2000);
const c = new KinesisClient({ endpoint: process.env.AWS_ENDPOINT_URL_KINESIS, region: process.env.AWS_REGION || 'us-east-1', requestHandler: new NodeHttpHandler() });
const shards = (await c.send(new ListShardsCommand({ StreamName: stream }))).Shards;
const t0 = performance.now();
let total = 0, last = performance.now();
await Promise.all(shards.map(async (s) => {
  let it = (await c.send(new GetShardIteratorCommand({ StreamName: stream, ShardId: s.ShardId, ShardIteratorType: 'TRIM_HORIZON' }))).ShardIterator;
  while (it) {
    const t = performance.now();
    const r = await c.send(new GetRecordsCommand({ ShardIterator: it, Limit: 10000 }));
    total += r.Records.length;
    if (r.Records.length) last = performance.now();
    it = r.NextShardIterator;
    if (!r.Records.length && r.MillisBehindLatest === 0 && performance.now() - last > idleMs) break;
    const wait = 200 - (performance.now() - t);
    if (wait > 0) await new Promise((ok) => setTimeout(ok, wait));
  }
}));
// the idle tail is not work: report the time until the last record arrived
console.log(JSON.stringify({ records: total, seconds: (last - t0) / 1000 }));
