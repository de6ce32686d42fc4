# Kinesis and STS with signatures and IAM policies enforced: moto_server (started
# here on a free loopback port) serves Kinesis, STS and IAM on one port and, after
# /moto-api/reset-auth, checks every request's SigV4 signature, access key, session
# token, the caller's IAM policy and a role's trust policy.
#  0. the server really checks: a wrong secret (aws CLI), an unknown key, a user whose
#     policy lacks the action, a bogus session token (boto3) are refused, so a pass
#     below means something.
#  1. right keys (env): ingest --stream (2 shards, gen events put by the AWS SDK v3)
#     lands every valid event exactly once, bad lines as dead letters.
#  2. more events put with the SDK under auth; then a wrong secret (refused at
#     ListShards) and a key allowed ListShards but not GetShardIterator (refused inside
#     the shard readers) each fail within seconds after 1 attempt (never retried),
#     with the AWS error code and message, never the secret, and leave every file of
#     the lake, checkpoints included, untouched; the rerun with the right keys reads
#     exactly the new records and completes the lake exactly once.
#  3. temporary credentials from `aws sts assume-role` (AWS_SESSION_TOKEN) land the
#     stream in a fresh lake (checked); a wrong session token is refused.
#  4. a profile with role_arn + source_profile (temp AWS_CONFIG_FILE and
#     AWS_SHARED_CREDENTIALS_FILE, endpoint from AWS_ENDPOINT_URL alone): kinlake calls
#     STS AssumeRole itself, signed with a source user that may only assume the role,
#     so the ingest works only through the role (the lake is byte-identical to the one
#     of step 3); a source user the role does not trust fails with STS's AccessDenied,
#     naming profile and role.
# Local-dir lakes only: moto 5.2's S3 auth refuses correctly signed keys holding '='
# (every Hive key); S3 with auth on is covered by store_s3.sh section 7.
# duration: 19 (seconds, for the test runner's ordering: a quiet 2-core machine)
. "$(dirname "$0")/_lib.sh"
command -v aws >/dev/null || fail "aws CLI not installed"
moto_up
URL=$MOTO_URL
mkdir -p "$T/home"
unset AWS_PROFILE AWS_SESSION_TOKEN AWS_ENDPOINT_URL AWS_ENDPOINT_URL_STS AWS_ENDPOINT_URL_S3 \
	AWS_CONFIG_FILE AWS_SHARED_CREDENTIALS_FILE AWS_WEB_IDENTITY_TOKEN_FILE AWS_ROLE_ARN \
	AWS_CONTAINER_CREDENTIALS_FULL_URI AWS_CONTAINER_CREDENTIALS_RELATIVE_URI || true
# no IMDS probe can leave the machine; before reset-auth moto accepts any key
export HOME=$T/home AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true \
	AWS_ACCESS_KEY_ID=admin AWS_SECRET_ACCESS_KEY=admin AWS_ENDPOINT_URL_KINESIS=$URL
A=(aws --endpoint-url "$URL")
jget() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1]))
for k in sys.argv[2:]: d=d[k]
print(d)' "$@"; }
ACCT=123456789012
ROLE=arn:aws:iam::$ACCT:role/kl-reader
# IAM and the stream, with boto3 (the aws CLI's SDK) in one process: the CLI takes
# seconds per call here. Users: kl (kinesis:*, sts:AssumeRole, s3:*), assumer (only
# sts:AssumeRole), lister (only kinesis:ListShards and sts:AssumeRole); role kl-reader
# (kinesis:*, s3:*) trusts kl and assumer, not lister.
python3 - "$URL" "$T" <<'PY' || fail "IAM setup"
import boto3, json, sys
url, out = sys.argv[1:]
kw = dict(endpoint_url=url, region_name="us-east-1")
iam, kin = boto3.client("iam", **kw), boto3.client("kinesis", **kw)
def doc(actions, principal=None):
    st = {"Effect": "Allow", "Action": actions}
    if principal: st["Principal"] = {"AWS": principal}
    else: st["Resource"] = "*"
    return json.dumps({"Version": "2012-10-17", "Statement": [st]})
keys = {}
for name, actions in [("kl", ["kinesis:*", "sts:AssumeRole", "s3:*"]),
                      ("assumer", ["sts:AssumeRole"]),
                      ("lister", ["kinesis:ListShards", "sts:AssumeRole"])]:
    iam.create_user(UserName=name)
    iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=doc(actions))
    k = iam.create_access_key(UserName=name)["AccessKey"]
    keys[name] = (k["AccessKeyId"], k["SecretAccessKey"])
acct = "arn:aws:iam::123456789012:user/"
iam.create_role(RoleName="kl-reader", AssumeRolePolicyDocument=doc("sts:AssumeRole", [acct + "kl", acct + "assumer"]))
iam.put_role_policy(RoleName="kl-reader", PolicyName="p", PolicyDocument=doc(["kinesis:*", "s3:*"]))
kin.create_stream(StreamName="auth", ShardCount=2)
with open(out + "/keys.sh", "w") as f:
    for (k, s), name in zip((keys["kl"], keys["assumer"], keys["lister"]), "ABL"):
        f.write(f"{name}K='{k}'\n{name}S='{s}'\n")
PY
. "$T/keys.sh" # AK/AS (kl), BK/BS (assumer), LK/LS (lister)

N=3000
"$KL" gen --events "$N" --seed 41 --bad-fraction 0.03 --dup-fraction 0.01 --output "$T/a.jsonl"
"$KL" gen --events $((N / 2)) --seed 42 --bad-fraction 0.03 --dup-fraction 0.01 --output "$T/b.jsonl"
cat "$T/a.jsonl" "$T/b.jsonl" >"$T/all.jsonl"
put() { node "$ROOT/tests/js/kinesis_put.mjs" "$@" 2>"$T/put.err" || fail "put $*: $(tail -3 "$T/put.err")"; }
put auth "$T/a.jsonl"
curl -sf -X POST -H 'Content-Type: text/plain' --data-binary 0 "$URL/moto-api/reset-auth" >/dev/null ||
	fail "reset-auth"
export AWS_ACCESS_KEY_ID=$AK AWS_SECRET_ACCESS_KEY=$AS
# records kinlake should read: non-empty lines, one Kinesis record each
records() { LC_ALL=C grep -ac . "$1"; }
# every file of a lake with its digest, dot-files (checkpoints, temporaries) included
snapshot() { (cd "$1" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum); }
ingest() { "$KL" ingest --stream auth --format jsonl --exit-idle 1 "$@"; }
ms() { date +%s%3N; }

# 0. the server checks signatures, keys and policies (the aws CLI, then boto3)
if AWS_SECRET_ACCESS_KEY=wrong "${A[@]}" kinesis list-shards --stream-name auth >/dev/null 2>"$T/err"; then
	fail "moto accepted a wrong secret: its Kinesis does not check signatures"
fi
grep -q SignatureDoesNotMatch "$T/err" || fail "aws CLI, wrong secret: $(cat "$T/err")"
python3 - "$URL" "$AK" "$AS" "$BK" "$BS" <<'PY' || fail "moto does not enforce auth as expected"
import boto3, sys
url, ak, sk, bk, bs = sys.argv[1:]
def shards(key, secret, token=None):
    c = boto3.client("kinesis", endpoint_url=url, region_name="us-east-1", aws_access_key_id=key,
                     aws_secret_access_key=secret, aws_session_token=token)
    try:
        return len(c.list_shards(StreamName="auth")["Shards"])
    except Exception as e:
        return str(e)
def refused(what, got, code):
    if code not in str(got):
        sys.exit(f"{what}: want {code}, got {got}")
if shards(ak, sk) != 2: sys.exit(f"right key: {shards(ak, sk)}")
refused("unknown key", shards("AKIANOSUCHKEY0000000", sk), "InvalidClientTokenId")
refused("user without kinesis:ListShards", shards(bk, bs), "AccessDenied")
refused("long-term key with a session token", shards(ak, sk, "bogus"), "403")
PY

# 1. right keys
ingest --lake "$T/lake" 2>"$T/sum1" || fail "ingest with the right keys: $(cat "$T/sum1")"
grep -q "2 shards" "$T/sum1" || fail "not 2 shards: $(cat "$T/sum1")"
grep -q "read=$(records "$T/a.jsonl") " "$T/sum1" || fail "read count: $(cat "$T/sum1")"
check_lake "$T/a.jsonl" "$T/lake" >/dev/null || fail "lake after the first run"
ls "$T/lake/_kinlake/state/auth-shardId-000000000000.log" "$T/lake/_kinlake/state/auth-shardId-000000000001.log" \
	>/dev/null || fail "no checkpoints"

# 2. more events (SDK, signed); wrong secret, then a key without GetShardIterator
put auth "$T/b.jsonl"
snapshot "$T/lake" >"$T/before"
t0=$(ms)
if AWS_SECRET_ACCESS_KEY=wrong-secret ingest --lake "$T/lake" 2>"$T/err"; then fail "wrong secret accepted"; fi
dt=$(($(ms) - t0))
cat "$T/err"
[ "$dt" -lt 10000 ] || fail "wrong secret: took ${dt} ms (auth errors must not be retried)"
grep -q '^kinlake ingest: authentication failed: Kinesis ListShards: HTTP 403 SignatureDoesNotMatch: The request signature we calculated does not match.* (1 attempt)$' \
	"$T/err" || fail "wrong secret: unclear error, or retried"
grep -q 'nothing was lost' "$T/err" || fail "wrong secret: no resume hint"
grep -qF "$AS" "$T/err" && fail "secret in the error message"
grep -q "wrong-secret" "$T/err" && fail "secret in the error message"
t0=$(ms)
if AWS_ACCESS_KEY_ID=$LK AWS_SECRET_ACCESS_KEY=$LS ingest --lake "$T/lake" 2>"$T/err"; then
	fail "a key without kinesis:GetShardIterator read the stream"
fi
dt=$(($(ms) - t0))
cat "$T/err"
[ "$dt" -lt 10000 ] || fail "access denied: took ${dt} ms"
grep -q '^kinlake ingest: authentication failed: shard shardId-00000000000[01]: Kinesis GetShardIterator: HTTP 403 AccessDenied: User: arn:aws:iam::123456789012:user/lister is not authorized to perform: kinesis:GetShardIterator (1 attempt)$' \
	"$T/err" || fail "access denied: unclear error, or retried"
grep -qF "$LS" "$T/err" && fail "secret in the error message"
snapshot "$T/lake" >"$T/after"
diff "$T/before" "$T/after" >&2 || fail "a refused run changed the lake"
ingest --lake "$T/lake" 2>"$T/sum2" || fail "rerun with the right keys: $(cat "$T/sum2")"
grep -q "read=$(records "$T/b.jsonl") " "$T/sum2" || fail "rerun did not resume at the checkpoints: $(cat "$T/sum2")"
check_lake "$T/all.jsonl" "$T/lake" >/dev/null || fail "lake after the rerun"

# 3. temporary credentials (AssumeRole by the aws CLI), AWS_SESSION_TOKEN
"${A[@]}" sts assume-role --role-arn "$ROLE" --role-session-name kl-e2e --output json >"$T/sess.json" ||
	fail "aws sts assume-role"
TK=$(jget "$T/sess.json" Credentials AccessKeyId); TS=$(jget "$T/sess.json" Credentials SecretAccessKey)
TT=$(jget "$T/sess.json" Credentials SessionToken)
case $TK in ASIA*) ;; *) fail "assume-role gave no temporary key: $TK" ;; esac
if AWS_ACCESS_KEY_ID=$TK AWS_SECRET_ACCESS_KEY=$TS AWS_SESSION_TOKEN=wrong-token ingest --lake "$T/lake-t" 2>"$T/err"; then
	fail "wrong session token accepted"
fi
grep -q 'authentication failed: Kinesis ListShards: HTTP 403 InvalidClientTokenId: .* (1 attempt)$' "$T/err" ||
	fail "wrong token: $(cat "$T/err")"
AWS_ACCESS_KEY_ID=$TK AWS_SECRET_ACCESS_KEY=$TS AWS_SESSION_TOKEN=$TT ingest --lake "$T/lake-t" 2>"$T/sum3" ||
	fail "ingest with temporary credentials: $(cat "$T/sum3")"
check_lake "$T/all.jsonl" "$T/lake-t" >/dev/null || fail "lake with temporary credentials"

# 4. profile role_arn + source_profile: kinlake assumes the role itself
cat >"$T/config" <<EOF
[profile reader]
role_arn = $ROLE
source_profile = base
role_session_name = kl-profile
region = us-east-1

[profile stranger]
role_arn = $ROLE
source_profile = lister
EOF
cat >"$T/credentials" <<EOF
[base]
aws_access_key_id = $BK
aws_secret_access_key = $BS

[lister]
aws_access_key_id = $LK
aws_secret_access_key = $LS
EOF
# prof PROFILE ARGS...: ingest with credentials from the profile only, endpoint from AWS_ENDPOINT_URL
prof() (
	unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_ENDPOINT_URL_KINESIS
	export AWS_ENDPOINT_URL=$URL AWS_CONFIG_FILE=$T/config AWS_SHARED_CREDENTIALS_FILE=$T/credentials AWS_PROFILE=$1
	shift
	ingest "$@"
)
prof reader --lake "$T/lake-p" 2>"$T/sum4" ||
	fail "ingest through profile role_arn + source_profile: $(cat "$T/sum4")"
# the same records in one run as with the temporary keys: the same files, byte for byte
diff <(lake_digest "$T/lake-t") <(lake_digest "$T/lake-p") >&2 || fail "lake through the assumed role differs"
[ "$(lake_digest "$T/lake-p" | wc -l)" -gt 100 ] || fail "lake through the assumed role: too few files"
t0=$(ms)
if prof stranger --lake "$T/lake-s" 2>"$T/err"; then
	fail "a role that does not trust the source user was assumed"
fi
dt=$(($(ms) - t0))
cat "$T/err"
[ "$dt" -lt 10000 ] || fail "untrusted AssumeRole: took ${dt} ms"
grep -q "^kinlake ingest: authentication failed: Kinesis ListShards: credentials: profile stranger: role_arn $ROLE: sts: AssumeRole failed: HTTP 403 AccessDenied: User: arn:aws:iam::$ACCT:user/lister is not authorized to perform: sts:AssumeRole (1 attempt)" \
	"$T/err" || fail "untrusted AssumeRole: unclear error"
grep -qF "$LS" "$T/err" && fail "secret in the error message"
[ ! -e "$T/lake-s/events" ] || fail "a refused run wrote events"
echo "kinesis_auth: ok"
