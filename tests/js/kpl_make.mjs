#!/usr/bin/env node
// kpl_make.mjs — aggregate random user records with the npm package
// aws-kinesis-agg (the real KPL format: protobufjs + MD5) for
// tests/e2e/kpl_agg.sh.
//
//   node tests/js/kpl_make.mjs OUTDIR [COUNT] [SEED]
//
// Writes into OUTDIR:
//   agg-NNN.bin     aggregated Kinesis records holding COUNT user records in all
//                   (default 400): random bytes, unicode text, empty, ~50 KB;
//                   partition keys unicode and often shared, explicit hash keys
//                   on about half of them
//   plain-NNN.bin   Kinesis records that are not aggregated (JSON, random bytes,
//                   empty, a damaged aggregated record): each must come back whole
//   files.txt       the .bin names in the order to decode them
//   expected.jsonl  one line per user record, in that order, exactly as
//                   `test_kpl --decode` prints it
// Every agg-*.bin is also checked with the package's own de-aggregator.
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

const require = createRequire(import.meta.url);
const { RecordAggregator, deaggregateSync } = require('aws-kinesis-agg');

const [dir, countArg, seedArg] = process.argv.slice(2);
if (!dir) {
	console.error('usage: kpl_make.mjs OUTDIR [COUNT] [SEED]');
	process.exit(2);
}
const COUNT = Number(countArg || 400);
let seed = Number(seedArg || 20240601) >>> 0;

// mulberry32: reproducible from the seed
function rnd() {
	seed = (seed + 0x6d2b79f5) >>> 0;
	let t = seed;
	t = Math.imul(t ^ (t >>> 15), t | 1);
	t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
	return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const int = (lo, hi) => lo + Math.floor(rnd() * (hi - lo + 1));
const pick = (a) => a[int(0, a.length - 1)];
const bytes = (n) => Buffer.from(Array.from({ length: n }, () => int(0, 255)));

// Text from several scripts, emoji and control characters; no lone surrogates.
const RANGES = [[0x20, 0x7e], [0x00, 0x1f], [0xa0, 0x2ff], [0x400, 0x4ff], [0x4e00, 0x9fff],
	[0x1f300, 0x1f6ff], [0xe000, 0xf8ff], [0x10000, 0x10ffff]];
function text(n) {
	let s = '';
	for (let i = 0; i < n; i++) {
		const [lo, hi] = pick(RANGES);
		s += String.fromCodePoint(int(lo, hi));
	}
	return s;
}

// aws-kinesis-agg 4.2.8 keeps its key tables in plain objects and lists them
// with Object.keys(), which puts array-index-like keys ("0", "42") first: the
// indexes it writes then point at the wrong keys. Real producers (the KPL) do
// not do that, so keys here are never array-index-like.
const safeKey = (k) => (/^(0|[1-9][0-9]*)$/.test(k) && Number(k) < 2 ** 32 - 1 ? 'k' + k : k);
const pkPool = Array.from({ length: 12 }, () => safeKey(text(int(1, 40))));
pkPool.push('a', 'partitionKey-01', 'x'.repeat(256));
const ehkPool = Array.from({ length: 6 }, () => String(BigInt(int(1, 2 ** 30)) * 2n ** 97n + BigInt(int(0, 2 ** 30))));
ehkPool.push('340282366920938463463374607431768211455', '4294967295');

function userRecord() {
	const k = rnd();
	let data;
	if (k < 0.08) data = Buffer.alloc(0);
	else if (k < 0.13) data = bytes(int(45000, 55000));
	else if (k < 0.5) data = Buffer.from(text(int(1, 300)), 'utf8');
	else if (k < 0.6) data = Buffer.from(JSON.stringify({ event_uuid: String(int(1, 1e9)), event_name: 'a:b', created_at: int(0, 2e9), t: text(20) }));
	else data = bytes(int(1, 600));
	const r = { partitionKey: rnd() < 0.7 ? pick(pkPool) : safeKey(text(int(1, 60))), data };
	if (rnd() < 0.5) r.explicitHashKey = pick(ehkPool);
	return r;
}

const b64 = (b) => Buffer.from(b).toString('base64');
const line = (file, agg, i, pk, ehk, data) =>
	JSON.stringify({ file, agg, i, pk: pk == null ? null : b64(pk), ehk: ehk == null ? null : b64(ehk), data: b64(data) });

const files = [];
const expected = [];
let nagg = 0, nuser = 0;

function emit(records) {
	if (!records.length) return;
	const a = new RecordAggregator();
	const flush = () => {
		if (!a.length()) return;
		const batch = records.slice(done, done + a.length());
		done += a.length();
		const enc = a.build();
		const name = `agg-${String(nagg++).padStart(3, '0')}.bin`;
		writeFileSync(join(dir, name), enc.data);
		files.push(name);
		batch.forEach((r, i) => {
			expected.push(line(name, 1, i, Buffer.from(r.partitionKey, 'utf8'),
				r.explicitHashKey === undefined ? null : Buffer.from(r.explicitHashKey, 'utf8'), r.data));
			nuser++;
		});
		// the reference de-aggregator must agree
		deaggregateSync({ data: enc.data.toString('base64'), partitionKey: enc.partitionKey }, true, (err, out) => {
			if (err) throw err;
			if (out.length !== batch.length) throw new Error(`${name}: ${out.length} != ${batch.length}`);
			out.forEach((u, i) => {
				const r = batch[i];
				// (it reports explicit_hash_key_table[0] for a record without
				// an explicit hash key index: protobufjs fills in the default 0;
				// the KCL, and decode/kpl, check the field's presence instead)
				if (u.partitionKey !== r.partitionKey || u.data !== b64(r.data) ||
				    (r.explicitHashKey !== undefined && u.explicitPartitionKey !== r.explicitHashKey))
					throw new Error(`${name}: record ${i} differs in the reference de-aggregator`);
			});
		});
	};
	let done = 0;
	for (const r of records) {
		if (!a.checkIfUserRecordFits(r)) flush();
		a.addUserRecord(r);
	}
	flush();
}

let left = COUNT;
while (left > 0) {
	const n = Math.min(left, rnd() < 0.2 ? 1 : int(2, 60));
	emit(Array.from({ length: n }, userRecord));
	left -= n;
}

// Plain records, and one aggregated record with a damaged MD5: passed through.
const plain = [Buffer.from('{"event_uuid":"p1","event_name":"a","created_at":1}'), bytes(777), Buffer.alloc(0),
	Buffer.from([0xf3, 0x89, 0x9a]), Buffer.from(text(50), 'utf8')];
{
	const a = new RecordAggregator();
	a.addUserRecord({ partitionKey: 'pk', data: Buffer.from('hello') });
	const damaged = Buffer.from(a.build().data);
	damaged[damaged.length - 1] ^= 0x40;
	plain.push(damaged);
}
plain.forEach((b, i) => {
	const name = `plain-${String(i).padStart(3, '0')}.bin`;
	writeFileSync(join(dir, name), b);
	files.push(name);
	expected.push(line(name, 0, 0, null, null, b));
});

writeFileSync(join(dir, 'files.txt'), files.join('\n') + '\n');
writeFileSync(join(dir, 'expected.jsonl'), expected.join('\n') + '\n');
console.log(`${nuser} user records in ${nagg} aggregated records, ${plain.length} plain records`);
