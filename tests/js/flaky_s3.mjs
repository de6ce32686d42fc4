// flaky_s3.mjs — a tiny S3 look-alike (path-style) that misbehaves on purpose,
// for tests/e2e/store_s3.sh. Prints its port on stdout; stop it by PID.
// Behaviour by bucket:
//   /flaky/<key>   every distinct request (method + key + partNumber) fails twice
//                  with 503 SlowDown, then succeeds
//   /broken/<key>  UploadPart always answers 500 InternalError; the rest works
//   /liar/<key>    PutObject succeeds but echoes a wrong x-amz-checksum-sha256
//   /nocond/<key>  a request with If-Match or If-None-Match answers 501
//                  NotImplemented (as S3-compatible stores without conditional
//                  writes do); the rest works
// A successful PUT checks x-amz-checksum-sha256 and x-amz-content-sha256
// against the body (400 BadDigest / XAmzContentSHA256Mismatch otherwise),
// stores the object and answers an ETag (MD5) plus the checksum echo.
// CompleteMultipartUpload checks that every part is listed in order with its
// ETag and ChecksumSHA256. Every request must carry SigV4 headers.
//   GET /__log     one line per request received: "METHOD /path?query STATUS"
//   GET /__obj/<bucket>/<key>   the stored object (404 if absent)
import crypto from 'node:crypto';
import http from 'node:http';

const log = [];
const seen = new Map();
const objects = new Map();
const uploads = new Map(); // id -> {key, parts: Map(num -> {etag, sha, body})}
let nextId = 1;

const xml = (code, msg) =>
	`<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${msg}</Message>` +
	`<RequestId>REQ-${code}</RequestId></Error>`;
const sha256 = (b) => crypto.createHash('sha256').update(b).digest();
const md5 = (b) => crypto.createHash('md5').update(b).digest('hex');

function answer(req, res, status, headers, body) {
	log.push(`${req.method} ${req.url} ${status}`);
	res.writeHead(status, headers);
	res.end(body);
}

function fail(req, res, status, code, msg) {
	answer(req, res, status, { 'content-type': 'application/xml', 'x-amz-request-id': `RID${log.length}` },
		xml(code, msg));
}

const server = http.createServer((req, res) => {
	const chunks = [];
	req.on('data', (c) => chunks.push(c));
	req.on('end', () => {
		const body = Buffer.concat(chunks);
		const url = new URL(req.url, 'http://x');
		const path = url.pathname;
		if (path === '/__log') return res.end(log.join('\n') + '\n');
		if (path.startsWith('/__obj/')) {
			const o = objects.get(decodeURIComponent(path.slice(7)));
			res.writeHead(o ? 200 : 404);
			return res.end(o || '');
		}
		const h = req.headers;
		if (!h.authorization || !h['x-amz-date'] || !h['x-amz-content-sha256'])
			return fail(req, res, 400, 'MissingAuthenticationToken', 'no signature');
		const slash = path.indexOf('/', 1);
		const bucket = path.slice(1, slash);
		const key = decodeURIComponent(path.slice(slash + 1));
		const q = url.searchParams;
		const part = q.get('partNumber');
		const id = `${req.method} ${bucket}/${key} ${part || ''}`;
		const n = (seen.get(id) || 0) + 1;
		seen.set(id, n);
		if (bucket === 'flaky' && n <= 2)
			return fail(req, res, 503, 'SlowDown', 'Please reduce your request rate.');
		if (bucket === 'nocond' && (h['if-match'] || h['if-none-match']))
			return fail(req, res, 501, 'NotImplemented', 'A header you provided implies functionality that is not implemented');
		if (bucket === 'broken' && part)
			return fail(req, res, 500, 'InternalError', 'We encountered an internal error.');

		if (req.method === 'PUT') {
			const got = sha256(body);
			if (h['x-amz-content-sha256'] !== got.toString('hex'))
				return fail(req, res, 400, 'XAmzContentSHA256Mismatch', 'payload hash differs');
			if (h['x-amz-checksum-sha256'] !== got.toString('base64'))
				return fail(req, res, 400, 'BadDigest', 'The SHA256 you specified did not match the calculated checksum.');
			const echo = bucket === 'liar' ? sha256(Buffer.from('lie')).toString('base64') : got.toString('base64');
			const etag = `"${md5(body)}"`;
			if (part) {
				const u = uploads.get(q.get('uploadId'));
				if (!u) return fail(req, res, 404, 'NoSuchUpload', 'The specified upload does not exist.');
				u.parts.set(Number(part), { etag, sha: got.toString('base64'), body });
			} else {
				objects.set(`${bucket}/${key}`, body);
			}
			return answer(req, res, 200, { etag, 'x-amz-checksum-sha256': echo }, '');
		}
		if (req.method === 'POST' && q.has('uploads')) {
			const uid = `up+${nextId++}/=`; // characters that need URI encoding
			uploads.set(uid, { key: `${bucket}/${key}`, parts: new Map() });
			return answer(req, res, 200, { 'content-type': 'application/xml' },
				`<InitiateMultipartUploadResult><Bucket>${bucket}</Bucket><Key>${key}</Key>` +
				`<UploadId>${uid.replace(/&/g, '&amp;')}</UploadId></InitiateMultipartUploadResult>`);
		}
		if (req.method === 'POST' && q.has('uploadId')) {
			const u = uploads.get(q.get('uploadId'));
			if (!u) return fail(req, res, 404, 'NoSuchUpload', 'The specified upload does not exist.');
			const text = body.toString();
			const listed = [...text.matchAll(/<Part><ETag>([^<]*)<\/ETag><ChecksumSHA256>([^<]*)<\/ChecksumSHA256><PartNumber>(\d+)<\/PartNumber><\/Part>/g)];
			const nums = [...u.parts.keys()].sort((a, b) => a - b);
			if (listed.length !== nums.length) return fail(req, res, 400, 'InvalidPart', 'part count');
			for (let i = 0; i < listed.length; i++) {
				const p = u.parts.get(Number(listed[i][3]));
				const etag = listed[i][1].replace(/&quot;/g, '"');
				if (Number(listed[i][3]) !== nums[i] || !p || p.etag !== etag || p.sha !== listed[i][2])
					return fail(req, res, 400, 'InvalidPart', `part ${listed[i][3]}`);
			}
			objects.set(u.key, Buffer.concat(nums.map((k) => u.parts.get(k).body)));
			uploads.delete(q.get('uploadId'));
			return answer(req, res, 200, { 'content-type': 'application/xml' },
				`<CompleteMultipartUploadResult><ETag>"x-${nums.length}"</ETag></CompleteMultipartUploadResult>`);
		}
		if (req.method === 'DELETE' && q.has('uploadId')) {
			uploads.delete(q.get('uploadId'));
			return answer(req, res, 204, {}, '');
		}
		if (req.method === 'GET') {
			const o = objects.get(`${bucket}/${key}`);
			if (!o) return fail(req, res, 404, 'NoSuchKey', 'The specified key does not exist.');
			return answer(req, res, 200, { 'content-type': 'application/octet-stream' }, o);
		}
		return fail(req, res, 400, 'NotImplemented', `${req.method} ${req.url}`);
	});
});
server.listen(0, '127.0.0.1', () => console.log(server.address().port));
