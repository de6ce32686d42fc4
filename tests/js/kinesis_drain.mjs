// kinesis_drain.mjs — the "consumer that does nothing": reads every shard of a
// stream with the GetRecords calls kinlake makes (AWS SDK, HTTP/1.1, one
// sequential reader per shard from TRIM_HORIZON, Limit 10000, NextShardIterator,
// paced like src/source/source_kinesis.c: a call starts max(200 ms, B / 2 MiB/s)
// after the previous one started, B = 3/4 of that response's body, i.e. at most
// 5 calls/s and 2 MB/s per shard) until every shard is caught up
// (MillisBehindLatest 0) and idle for IDLE_MS, and prints how many records it got
// and when the last one arrived.
// Used by bench/kinesis.sh as the ceiling the emulator sets.
// Usage: node tests/js/kinesis_drain.mjs STREAM [IDLE_MS]
// Prints {"records", "seconds", "calls"}: seconds from the first
// GetShardIterator to the arrival of the last record (the idle tail is not work).
import { KinesisClient, ListShardsCommand, GetShardIteratorCommand, GetRecordsCommand } from '@aws-sdk/client-kinesis';
import { NodeHttpHandler } from '@smithy/node-http-handler';

const [stream, idleArg] = process.argv.slice(2);
const idleMs = Number(idleArg || 2000);
const c = new KinesisClient({ endpoint: process.env.AWS_ENDPOINT_URL_KINESIS, region: process.env.AWS_REGION || 'us-east-1', requestHandler: new NodeHttpHandler() });
// the size of each response body, for the 2 MB/s pacing
c.middlewareStack.add((next) => async (args) => {
  const r = await next(args);
  if (r.output && r.response) r.output.bodyBytes = Number(r.response.headers['content-length']);
  return r;
}, { step: 'deserialize', priority: 'high', name: 'bodyBytes' });
const shards = [];
for (let token; ;) {
  const r = await c.send(new ListShardsCommand(token ? { NextToken: token } : { StreamName: stream }));
  shards.push(...r.Shards);
  if (!(token = r.NextToken)) break;
}
const t0 = performance.now();
let total = 0, calls = 0, last = performance.now();
await Promise.all(shards.map(async (s) => {
  let it = (await c.send(new GetShardIteratorCommand({ StreamName: stream, ShardId: s.ShardId, ShardIteratorType: 'TRIM_HORIZON' }))).ShardIterator;
  while (it) {
    const t = performance.now();
    const r = await c.send(new GetRecordsCommand({ ShardIterator: it, Limit: 10000 }));
    calls++;
    total += r.Records.length;
    if (r.Records.length) last = performance.now();
    it = r.NextShardIterator;
    if (!r.Records.length && r.MillisBehindLatest === 0 && performance.now() - last > idleMs) break;
    // without a Content-Length: the base64 of the data, which is most of the body
    const body = r.bodyBytes || r.Records.reduce((n, x) => n + Math.ceil(x.Data.length / 3) * 4, 0);
    const wait = Math.max(200, (body / 4 * 3) * 1000 / (2 << 20)) - (performance.now() - t);
    if (wait > 0) await new Promise((ok) => setTimeout(ok, wait));
  }
}));
console.log(JSON.stringify({ records: total, seconds: (last - t0) / 1000, calls }));
