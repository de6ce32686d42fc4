// fake_metadata.mjs — test double of the two AWS metadata endpoints that have
// no local real server: ECS/EKS container credentials and EC2 IMDSv2. Used by
// tests/e2e/aws_creds.sh. Listens on 127.0.0.1:<random>, prints the port.
//   GET /creds                         container credentials; requires
//                                      Authorization == $FAKE_CONTAINER_TOKEN
//   PUT /latest/api/token              IMDSv2 session token; requires the
//                                      X-aws-ec2-metadata-token-ttl-seconds header
//   GET /latest/meta-data/iam/security-credentials/        role name
//   GET /latest/meta-data/iam/security-credentials/kl-role credentials
// IMDS GETs require the session token. Each credentials response carries a
// new key (…0001, …0002) so callers can see refreshes; expiry in 1 hour.
import http from 'node:http';

const TOKEN = process.env.FAKE_CONTAINER_TOKEN || 'container-secret-token';
const IMDS_TOKEN = 'imds-session-token-1';
let nContainer = 0, nImds = 0;

const creds = (prefix, n) => JSON.stringify({
	Code: 'Success',
	Type: 'AWS-HMAC',
	AccessKeyId: `${prefix}${String(n).padStart(4, '0')}`,
	SecretAccessKey: 'fakeSecretKey/abc+def',
	Token: `fake-session-token-${n}`,
	Expiration: new Date(Date.now() + 3600 * 1000).toISOString().replace(/\.\d+Z$/, 'Z'),
	LastUpdated: new Date().toISOString(),
});

const server = http.createServer((req, res) => {
	const send = (code, body, type = 'text/plain') => {
		res.writeHead(code, { 'content-type': type });
		res.end(body);
	};
	const path = req.url.split('?')[0];
	if (req.method === 'GET' && path === '/creds') {
		if (req.headers['authorization'] !== TOKEN) return send(401, 'bad token');
		return send(200, creds('ASIACONTAINER', ++nContainer), 'application/json');
	}
	if (req.method === 'PUT' && path === '/latest/api/token') {
		if (!req.headers['x-aws-ec2-metadata-token-ttl-seconds']) return send(400, 'missing ttl');
		return send(200, IMDS_TOKEN);
	}
	if (path.startsWith('/latest/meta-data/')) {
		if (req.headers['x-aws-ec2-metadata-token'] !== IMDS_TOKEN) return send(401, '');
		if (path === '/latest/meta-data/iam/security-credentials/') return send(200, 'kl-role');
		if (path === '/latest/meta-data/iam/security-credentials/kl-role')
			return send(200, creds('ASIAIMDS', ++nImds), 'text/plain');
	}
	send(404, 'not found');
});
server.listen(0, '127.0.0.1', () => process.stdout.write(`${server.address().port}\n`));
process.on('SIGTERM', () => process.exit(0));
