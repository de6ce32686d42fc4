// fake_retry_server.mjs — a local HTTP server that misbehaves like S3 does,
// for tests/unit/test_http.c: prints its port on stdout, exits when stdin
// closes (so it never outlives the test).
//   /slowdown/<key>  503 + S3 SlowDown XML twice, then 200 "ok" with an ETag
//   /deny            403 SignatureDoesNotMatch XML, every time
//   /throttle-json   400 awsJson1_1 ThrottlingException with Retry-After: 1, then 200
//   /big             1 MiB body
//   /count/<path>    how many requests <path> has received
//   /creds           container credentials: a new session token tok<N> on every call
//   POST / with X-Amz-Target *.ExpiredOnce: 400 ExpiredTokenException the first time,
//                    then 200 {"tokens":[...]} listing the session tokens seen
// Every request except /count must carry Authorization and X-Amz-Date
// (the driver signs with SigV4), else 400 MissingAuthenticationToken.
import http from 'node:http';

const counts = new Map();
const tokens = [];
const xml = (code, msg) =>
	`<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${msg}</Message>` +
	`<RequestId>REQ${code}</RequestId></Error>`;

const server = http.createServer((req, res) => {
	const chunks = [];
	req.on('data', (c) => chunks.push(c));
	req.on('end', () => {
		const path = req.url.split('?')[0];
		if (path.startsWith('/count/')) {
			res.end(String(counts.get(path.slice(6)) || 0));
			return;
		}
		const n = (counts.get(path) || 0) + 1;
		counts.set(path, n);
		if (path === '/creds') {
			res.writeHead(200, { 'content-type': 'application/json' });
			res.end(JSON.stringify({ AccessKeyId: 'AKIDFAKE', SecretAccessKey: 'secret',
				Token: `tok${n}`, Expiration: new Date(Date.now() + 3600e3).toISOString() }));
			return;
		}
		const target = req.headers['x-amz-target'] || '';
		if (target.endsWith('.ExpiredOnce')) {
			tokens.push(req.headers['x-amz-security-token'] || '');
			if (tokens.length === 1) {
				res.writeHead(400, { 'content-type': 'application/x-amz-json-1.1' });
				res.end(JSON.stringify({ __type: 'ExpiredTokenException', message: 'The security token included in the request is expired' }));
			} else {
				res.writeHead(200, { 'content-type': 'application/x-amz-json-1.1' });
				res.end(JSON.stringify({ tokens }));
			}
			return;
		}
		if (!req.headers['authorization'] || !req.headers['x-amz-date']) {
			res.writeHead(400, { 'content-type': 'application/xml' });
			res.end(xml('MissingAuthenticationToken', 'no signature'));
			return;
		}
		if (path.startsWith('/slowdown/')) {
			if (n <= 2) {
				res.writeHead(503, { 'content-type': 'application/xml', 'x-amz-request-id': `RID${n}` });
				res.end(xml('SlowDown', 'Please reduce your request rate.'));
			} else {
				res.writeHead(200, { etag: '"abc123"', 'x-amz-request-id': `RID${n}`, 'content-type': 'text/plain' });
				res.end('ok:' + Buffer.concat(chunks).length);
			}
		} else if (path === '/deny') {
			res.writeHead(403, { 'content-type': 'application/xml' });
			res.end(xml('SignatureDoesNotMatch', 'The request signature we calculated does not match'));
		} else if (path === '/throttle-json') {
			if (n === 1) {
				res.writeHead(400, { 'content-type': 'application/x-amz-json-1.1', 'retry-after': '1',
					'x-amzn-requestid': 'J1' });
				res.end(JSON.stringify({ __type: 'com.amazonaws.kinesis#ThrottlingException', message: 'Rate exceeded' }));
			} else {
				res.writeHead(200, { 'content-type': 'application/x-amz-json-1.1' });
				res.end('{}');
			}
		} else if (path === '/big') {
			res.end(Buffer.alloc(1 << 20, 97));
		} else {
			res.writeHead(404);
			res.end();
		}
	});
});
server.keepAliveTimeout = 30000;
server.listen(0, '127.0.0.1', () => {
	process.stdout.write(`${server.address().port}\n`);
});
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
