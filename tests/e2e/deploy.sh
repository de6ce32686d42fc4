# deploy/kinlake.yaml, the CloudFormation template of the whole system.
#  1. cfn-lint passes with no error and no warning; systemd-analyze verify has
#     nothing to say about deploy/kinlake.service.
#  2. `aws cloudformation deploy` into moto (tests/moto_strict.py: moto_server
#     with three fixes, see there) in each Mode, one server, three stacks; what
#     moto deploys is read back through the APIs (deploy_check.py deployed):
#     stream, key, bucket encryption, roles and their policies, function and its
#     environment, event source mapping, consumer policy/role/instance profile,
#     dashboard, no resource of another mode. What moto's CloudFormation does not
#     deploy (Firehose, Glue, Athena, alarms, bucket policy, log stream) or
#     ignores (stream encryption and mode, public access block, lifecycle) is
#     checked in the template (3) and by cfn-lint.
#  3. The Firehose transform as deployed (the function's environment, the zip's
#     bootstrap command line) answers with exactly the partition keys that the
#     delivery stream's prefix uses (deploy_check.py static). IAM
#     (deploy_check.py iam): no wildcard action, no wildcard or foreign
#     resource, only the documented exception; and the check really fails on
#     seven altered copies of the template (a wildcard action, a NotAction, ...).
#  4. With moto's IAM enforcement on: `kinlake ingest --stream` as a user that
#     holds only the stack's ConsumerPolicy lands the stream in the stack's
#     bucket exactly once; the same user is refused another stack's stream;
#     with s3:PutObject taken out of the policy it fails at once with one
#     clear error and changes no object; with the policy back the rerun
#     resumes at the checkpoints and completes the lake exactly once; so does
#     a run with --lease-table on the stack's lease table (the policy's
#     DynamoDB actions are all it needs; moto_strict.py scopes them to the
#     table's ARN). Its
#     CloudWatch metrics (--cloudwatch-namespace) reach CloudWatch with the
#     names and dimension the alarms use; PutMetricData in another namespace
#     is refused (the policy's one exception is bounded) and does not stop it.
#  5. The lambda-mode function as deployed, with the credentials of its own
#     role (enforced), writes a Kinesis batch into the stack's bucket:
#     batchItemFailures empty, the lake exact.
# duration: 80 (seconds, for the test runner's ordering: a quiet 2-core machine)
# no-asan (the kinlake paths run here are covered under ASan by kinesis_auth.sh,
# store_s3.sh and lambda_esm.sh; this test is about the template)
. "$(dirname "$0")/_lib.sh"
for c in cfn-lint aws node python3; do command -v $c >/dev/null || fail "$c not installed"; done
TPL=$ROOT/deploy/kinlake.yaml
CHK=(python3 "$ROOT/tests/deploy_check.py")

# 1. cfn-lint
cfn-lint "$TPL" >"$T/lint" 2>&1 || { cat "$T/lint"; fail "cfn-lint: errors or warnings"; }
# the systemd unit: systemd-analyze verify says nothing (it reports a bad value
# and still exits 0; it checks that ExecStart's binary exists, hence the copy)
if command -v systemd-analyze >/dev/null; then
	sed "s|/usr/local/bin/kinlake|$KL|; s|/etc/kinlake/kinlake.env|$ROOT/deploy/kinlake.env|" \
		"$ROOT/deploy/kinlake.service" >"$T/kinlake.service"
	systemd-analyze verify "$T/kinlake.service" >"$T/verify" 2>&1 || { cat "$T/verify"; fail "systemd-analyze verify"; }
	[ ! -s "$T/verify" ] || { cat "$T/verify"; fail "systemd-analyze verify: warnings"; }
	for k in NoNewPrivileges=yes ProtectSystem=strict PrivateTmp=yes ProtectHome=yes DynamicUser=yes \
		KillSignal=SIGTERM Restart=on-failure Type=notify WatchdogSec=120; do
		grep -qx "$k" "$ROOT/deploy/kinlake.service" || fail "kinlake.service: no $k"
	done
fi
# its command line with the example environment file is one kinlake accepts: a
# bad option exits 2 at once; accepted, kinlake keeps retrying a closed port
rc=0
(set -a; . "$ROOT/deploy/kinlake.env"; set +a
	eval "set -- $(sed -n 's/^ExecStart=//p' "$ROOT/deploy/kinlake.service")"
	[ "$1" = /usr/local/bin/kinlake ] || exit 99
	shift
	AWS_ENDPOINT_URL=http://127.0.0.1:1 AWS_ACCESS_KEY_ID=x AWS_SECRET_ACCESS_KEY=y exec timeout 3 "$KL" "$@") \
	>"$T/unit-run" 2>&1 || rc=$?
[ $rc = 124 ] || { cat "$T/unit-run"; fail "the unit's ExecStart with deploy/kinlake.env: exit status $rc"; }

# 2. moto: three stacks, one per Mode, with the documented command
moto_up python3 "$ROOT/tests/moto_strict.py"
URL=$MOTO_URL
mkdir -p "$T/home"
unset AWS_PROFILE AWS_SESSION_TOKEN AWS_ENDPOINT_URL AWS_ENDPOINT_URL_S3 AWS_ENDPOINT_URL_KINESIS \
	AWS_CONFIG_FILE AWS_SHARED_CREDENTIALS_FILE AWS_WEB_IDENTITY_TOKEN_FILE AWS_ROLE_ARN || true
export HOME=$T/home AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true \
	AWS_ACCESS_KEY_ID=admin AWS_SECRET_ACCESS_KEY=admin
A=(aws --endpoint-url "$URL")
# the function's code: moto stores it and never runs it
python3 -c 'import sys, zipfile; z = zipfile.ZipFile(sys.argv[1], "w"); z.writestr("bootstrap", "#!/bin/sh\n"); z.close()' "$T/code.zip"
"${A[@]}" s3 mb s3://kl-code >/dev/null && "${A[@]}" s3 cp --quiet "$T/code.zip" s3://kl-code/kinlake-lambda.zip ||
	fail "upload the code zip"
for mode in firehose lambda consumer; do
	"${A[@]}" cloudformation deploy --template-file "$TPL" --stack-name "kl-$mode" --capabilities CAPABILITY_IAM \
		--parameter-overrides Mode=$mode StreamName=events-$mode LambdaCodeBucket=kl-code >"$T/deploy-$mode" 2>&1 ||
		fail "deploy Mode=$mode: $(cat "$T/deploy-$mode")"
done
"${CHK[@]}" deployed "$URL" kl-firehose firehose kl-lambda lambda kl-consumer consumer || fail "the deployed stacks"
"${CHK[@]}" facts "$URL" "$T" || fail "outputs and functions of the stacks"
. "$T/facts.sh" # C_<Output> (consumer stack), L_<Output> (lambda stack), FN_ROLE
grep -q "Tried to parse AWS::KinesisFirehose::DeliveryStream" "$T/moto.log" ||
	fail "moto now deploys Firehose delivery streams: check them in deploy_check.py deployed"

# 3. the Firehose transform as deployed, and the delivery stream's prefix; the
# template's IAM (with its altered copies) and the settings moto does not deploy
mapfile -t FH_ENV <"$T/fh-env"
[ "${#FH_ENV[@]}" -ge 1 ] || fail "firehose function: no environment"
"$KL" gen --events 20 --seed 7 --output "$T/fh.jsonl"
python3 - "$T/fh.jsonl" "$T/fh-event.json" <<'PY'
import base64, json, sys
lines = [l for l in open(sys.argv[1], "rb").read().split(b"\n") if l]
recs = [{"recordId": str(i), "approximateArrivalTimestamp": 1764547200000 + i,
         "data": base64.b64encode(l + b"\n").decode()} for i, l in enumerate(lines)]
json.dump({"invocationId": "i-1", "region": "us-east-1", "records": recs,
           "deliveryStreamArn": "arn:aws:firehose:us-east-1:123456789012:deliverystream/kl-firehose-kinlake"},
          open(sys.argv[2], "w"))
PY
# the zip's bootstrap: exec ./kinlake lambda $KINLAKE_LAMBDA_ARGS
fh_args=$(printf '%s\n' "${FH_ENV[@]}" | sed -n 's/^KINLAKE_LAMBDA_ARGS=//p')
# (Lambda sets AWS_LAMBDA_FUNCTION_NAME: the EMF lines' FunctionName, the alarms' dimension)
env "${FH_ENV[@]}" AWS_LAMBDA_FUNCTION_NAME=kl-firehose-kinlake python3 "$ROOT/tests/deploy_lambda.py" \
	"$T/fh-event.json" -- "$KL" lambda $fh_args >"$T/fh-answer" 2>"$T/fh-log" || fail "firehose transform: $(cat "$T/fh-log")"
grep -q '"Namespace":"kinlake","Dimensions":\[\["FunctionName"\]\].*"FunctionName":"kl-firehose-kinlake".*"DeadLetters":0' \
	"$T/fh-log" || fail "firehose transform: no EMF line for the alarms: $(cat "$T/fh-log")"
KEYS=$(python3 - "$T/fh-answer" <<'PY'
import json, sys
recs = json.loads(open(sys.argv[1]).readline())["body"]["records"]
keys = {tuple(r["metadata"]["partitionKeys"]) for r in recs if r["result"] == "Ok"}
if len(recs) != 20 or len(keys) != 1:
    sys.exit(f"want 20 records with one set of partition keys, got {len(recs)}, {keys}")
print(",".join(keys.pop()))
PY
) || fail "firehose answer"
[ "$KEYS" = event_type,event_subtype,dt,hr ] || fail "partition keys of kinlake's answer: $KEYS"
"${CHK[@]}" template "$TPL" "$KEYS" || fail "the template's IAM, or settings moto does not deploy"

# 4. the consumer under IAM enforcement
CSTREAM=$C_StreamName CBUCKET=$C_LakeBucket CKEY=$C_KeyArn CPOLICY=$C_ConsumerPolicyArn
LSTREAM=$L_StreamName LSTREAM_ARN=$L_StreamArn LBUCKET=$L_LakeBucket
# users: admin (everything: the test's own reads), consumer (only the stack's
# ConsumerPolicy); "no-put": the ConsumerPolicy's document without s3:PutObject;
# temporary credentials of the lambda stack's FunctionRole
python3 - "$URL" "$T" "$CPOLICY" "$FN_ROLE" <<'PY' || fail "IAM setup"
import boto3, json, sys
url, out, cpol, fn_role = sys.argv[1:]
kw = dict(endpoint_url=url, region_name="us-east-1")
iam, sts = boto3.client("iam", **kw), boto3.client("sts", **kw)
allow_all = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
iam.create_user(UserName="admin")
iam.put_user_policy(UserName="admin", PolicyName="all", PolicyDocument=json.dumps(allow_all))
iam.create_user(UserName="consumer")
iam.attach_user_policy(UserName="consumer", PolicyArn=cpol)
pv = iam.get_policy(PolicyArn=cpol)["Policy"]["DefaultVersionId"]
doc = iam.get_policy_version(PolicyArn=cpol, VersionId=pv)["PolicyVersion"]["Document"]
doc = json.loads(doc) if isinstance(doc, str) else doc
for st in doc["Statement"]:
    st["Action"] = [a for a in (st["Action"] if isinstance(st["Action"], list) else [st["Action"]]) if a != "s3:PutObject"]
doc["Statement"] = [st for st in doc["Statement"] if st["Action"]]
assert len(doc["Statement"]) == 6, doc
nopol = iam.create_policy(PolicyName="no-put", PolicyDocument=json.dumps(doc))["Policy"]["Arn"]
role = iam.get_role(RoleName=fn_role)["Role"]["Arn"]
c = sts.assume_role(RoleArn=role, RoleSessionName="kinlake-fn")["Credentials"]
with open(out + "/keys.sh", "w") as f:
    for user, p in (("admin", "AD"), ("consumer", "CO")):
        k = iam.create_access_key(UserName=user)["AccessKey"]
        f.write(f"{p}K='{k['AccessKeyId']}'\n{p}S='{k['SecretAccessKey']}'\n")
    f.write(f"FK='{c['AccessKeyId']}'\nFS='{c['SecretAccessKey']}'\nFT='{c['SessionToken']}'\nNOPUT='{nopol}'\n")
PY
. "$T/keys.sh"
mapfile -t FN_ENV <"$T/fn-env"
grep -q "^KINLAKE_LAKE=s3://$LBUCKET\$" "$T/fn-env" || fail "lambda-mode environment: $(cat "$T/fn-env")"
"$KL" gen --events 1500 --seed 51 --bad-fraction 0.03 --dup-fraction 0.01 --output "$T/a.jsonl"
"$KL" gen --events 500 --seed 52 --bad-fraction 0.03 --output "$T/b.jsonl"
cat "$T/a.jsonl" "$T/b.jsonl" >"$T/all.jsonl"
put() { AWS_ENDPOINT_URL_KINESIS=$URL node "$ROOT/tests/js/kinesis_put.mjs" "$@" >/dev/null 2>"$T/put.err" ||
	fail "put $*: $(grep -v Warning "$T/put.err" | head -5)"; }
put "$CSTREAM" "$T/a.jsonl"
curl -sf -X POST -H 'Content-Type: text/plain' --data-binary 0 "$URL/moto-api/reset-auth" >/dev/null || fail "reset-auth"
export AWS_ACCESS_KEY_ID=$ADK AWS_SECRET_ACCESS_KEY=$ADS
if AWS_ACCESS_KEY_ID=wrong "${A[@]}" s3 ls "s3://$CBUCKET" >/dev/null 2>&1; then fail "moto does not enforce auth"; fi
consumer() { # LAKE-BUCKET STREAM ARGS...
	local b=$1 s=$2; shift 2
	AWS_ACCESS_KEY_ID=$COK AWS_SECRET_ACCESS_KEY=$COS AWS_ENDPOINT_URL_KINESIS=$URL AWS_ENDPOINT_URL_S3=$URL \
		AWS_ENDPOINT_URL_CLOUDWATCH=$URL \
		"$KL" ingest --stream "$s" --lake "s3://$b" --sse aws:kms --sse-kms-key-id "$CKEY" --exit-idle "${IDLE:-1}" "$@"
}
records() { LC_ALL=C grep -ac . "$1"; }
# every object of a bucket with its ETag and size (state and schemas included)
objects() { python3 -c 'import boto3, sys
s3 = boto3.client("s3", endpoint_url=sys.argv[1], region_name="us-east-1")
for p in s3.get_paginator("list_objects_v2").paginate(Bucket=sys.argv[2]):
    for o in p.get("Contents", []): print(o["Key"], o["ETag"], o["Size"])' "$URL" "$1"; }
fetch() { rm -rf "$2"; "${A[@]}" s3 cp --recursive --quiet "s3://$1" "$2" || fail "download s3://$1"; }

# with the metrics the alarms watch: PutMetricData allowed in MetricsNamespace only
consumer "$CBUCKET" "$CSTREAM" --cloudwatch-namespace kinlake --metrics-interval 1 2>"$T/sum1" ||
	fail "consumer with the stack's policy: $(cat "$T/sum1")"
! grep -q 'cloudwatch:' "$T/sum1" || fail "PutMetricData refused: $(cat "$T/sum1")"
python3 - "$URL" "$CSTREAM" <<'PY' || fail "the consumer's metrics in CloudWatch"
import boto3, sys
cw = boto3.client("cloudwatch", endpoint_url=sys.argv[1], region_name="us-east-1")
got = {(m["MetricName"], tuple(sorted((d["Name"], d["Value"]) for d in m["Dimensions"])))
       for m in cw.list_metrics(Namespace="kinlake")["Metrics"]}
for want in [("MillisBehindLatest", (("Stream", sys.argv[2]),)), ("DeadLetters", (("Stream", sys.argv[2]),))]:
    if want not in got:
        sys.exit(f"no {want} in {sorted(got)}")
PY
grep -q "read=$(records "$T/a.jsonl") " "$T/sum1" || fail "read count: $(cat "$T/sum1")"
fetch "$CBUCKET" "$T/lake"
check_lake "$T/a.jsonl" "$T/lake" --format parquet >/dev/null || fail "consumer lake after the first run"
ls "$T/lake/_kinlake/state/$CSTREAM-shardId-000000000000.log" >/dev/null || fail "no checkpoint in the lake"
# the policy names this stack's stream only
if consumer "$CBUCKET" "$LSTREAM" 2>"$T/err"; then fail "the consumer read another stack's stream"; fi
grep -q "AccessDenied.*kinesis:ListShards" "$T/err" || fail "another stack's stream: $(cat "$T/err")"
# ... and another namespace: PutMetricData refused, logged, never fatal
IDLE=2 consumer "$CBUCKET" "$CSTREAM" --cloudwatch-namespace elsewhere --metrics-interval 1 2>"$T/err" ||
	fail "a refused PutMetricData stopped the consumer: $(cat "$T/err")"
grep -q 'cloudwatch:.*AccessDenied' "$T/err" || fail "PutMetricData outside MetricsNamespace: $(cat "$T/err")"

# without s3:PutObject: one clear error, nothing changed, then the rerun completes the lake
put "$CSTREAM" "$T/b.jsonl"
swap() { python3 -c 'import boto3, sys
iam = boto3.client("iam", endpoint_url=sys.argv[1], region_name="us-east-1")
iam.detach_user_policy(UserName="consumer", PolicyArn=sys.argv[2])
iam.attach_user_policy(UserName="consumer", PolicyArn=sys.argv[3])' "$URL" "$1" "$2" || fail "swap the consumer's policy"; }
swap "$CPOLICY" "$NOPUT"
objects "$CBUCKET" >"$T/before"
t0=$(date +%s%3N)
if consumer "$CBUCKET" "$CSTREAM" 2>"$T/err"; then fail "the consumer wrote without s3:PutObject"; fi
dt=$(($(date +%s%3N) - t0))
cat "$T/err"
[ "$dt" -lt 10000 ] || fail "without s3:PutObject: took ${dt} ms (must not be retried)"
[ "$(grep -c 'kinlake ingest: ' "$T/err")" -le 2 ] || fail "more than one error"
grep -q "^kinlake ingest: authentication failed: .*PutObject s3://$CBUCKET/.*: HTTP 403 AccessDenied: .*, 1 attempt)\$" "$T/err" ||
	fail "without s3:PutObject: unclear error"
grep -q 'nothing was lost' "$T/err" || fail "no resume hint"
objects "$CBUCKET" >"$T/after"
diff "$T/before" "$T/after" >&2 || fail "a refused run changed the lake"
swap "$NOPUT" "$CPOLICY"
consumer "$CBUCKET" "$CSTREAM" 2>"$T/sum2" || fail "rerun with the stack's policy: $(cat "$T/sum2")"
grep -q "read=$(records "$T/b.jsonl") " "$T/sum2" || fail "rerun did not resume at the checkpoints: $(cat "$T/sum2")"
fetch "$CBUCKET" "$T/lake"
check_lake "$T/all.jsonl" "$T/lake" --format parquet >/dev/null || fail "consumer lake after the rerun"
# with --lease-table: the stack's lease table, and exactly the policy's DynamoDB
# actions (no CreateTable: the stack made the table); the run resumes at the
# lake's checkpoints and leaves its lease row released, checkpoint mirrored
"$KL" gen --events 300 --seed 53 --output "$T/c.jsonl"
put "$CSTREAM" "$T/c.jsonl"
cat "$T/c.jsonl" >>"$T/all.jsonl"
# (stopped with SIGTERM once its metrics count the records read, which also
# checks the graceful release; lease_kill.sh covers --exit-idle with leases)
AWS_ACCESS_KEY_ID=$COK AWS_SECRET_ACCESS_KEY=$COS AWS_ENDPOINT_URL_KINESIS=$URL AWS_ENDPOINT_URL_S3=$URL \
	AWS_ENDPOINT_URL_DYNAMODB=$URL "$KL" ingest --stream "$CSTREAM" --lake "s3://$CBUCKET" --sse aws:kms \
	--sse-kms-key-id "$CKEY" --lease-table "$C_LeaseTable" --worker-id host-1 --lease-timeout 3 \
	--flush-interval 1 --metrics-file "$T/lease.prom" --metrics-interval 0.3 2>"$T/sum3" &
lpid=$!
pids+=($lpid)
stored() { awk '$1 == "kinlake_events_stored_total" { print $2 }' "$T/lease.prom" 2>/dev/null; }
for _ in $(seq 1 120); do [ "$(stored)" = "$(records "$T/c.jsonl")" ] && break; sleep 0.25; done
kill -TERM "$lpid"
wait "$lpid" || fail "consumer with --lease-table: $(cat "$T/sum3")"
! grep -qi 'denied' "$T/sum3" || fail "a lease call refused: $(cat "$T/sum3")"
grep -q "read=$(records "$T/c.jsonl") " "$T/sum3" || fail "lease run did not resume at the checkpoints: $(cat "$T/sum3")"
"${A[@]}" dynamodb scan --table-name "$C_LeaseTable" >"$T/rows.json" || fail "scan the lease table"
python3 - "$T/rows.json" <<'PY2' || fail "lease rows of the stack's table"
import json, sys
items = json.load(open(sys.argv[1]))["Items"]
assert [i["leaseKey"]["S"] for i in items] == ["shardId-000000000000"], items
assert "leaseOwner" not in items[0] and items[0]["checkpoint"]["S"].startswith("after:"), items
PY2
fetch "$CBUCKET" "$T/lake"
check_lake "$T/all.jsonl" "$T/lake" --format parquet >/dev/null || fail "consumer lake after the lease run"
# the lease actions name the stack's table only: another table is refused
"${A[@]}" dynamodb create-table --table-name other-leases --billing-mode PAY_PER_REQUEST \
	--attribute-definitions AttributeName=leaseKey,AttributeType=S \
	--key-schema AttributeName=leaseKey,KeyType=HASH >/dev/null || fail "create another table"
if AWS_ENDPOINT_URL_DYNAMODB=$URL consumer "$CBUCKET" "$CSTREAM" --lease-table other-leases 2>"$T/err"; then
	fail "the consumer used another lease table"
fi
grep -q "other-leases.*AccessDenied" "$T/err" || fail "another lease table: $(cat "$T/err")"

# 5. the lambda-mode function as deployed, with its role's credentials
fn_args=$(printf '%s\n' "${FN_ENV[@]}" | sed -n 's/^KINLAKE_LAMBDA_ARGS=//p')
"$KL" gen --events 300 --seed 61 --bad-fraction 0.03 --output "$T/esm.jsonl"
python3 - "$T/esm.jsonl" "$T/esm-event.json" "$LSTREAM_ARN" <<'PY'
import base64, json, sys
lines = [l for l in open(sys.argv[1], "rb").read().split(b"\n") if l]
seq = lambda i: f"4959033827149025660855969253836157109592157598913658{i:08d}"
json.dump({"Records": [{
    "kinesis": {"kinesisSchemaVersion": "1.0", "partitionKey": f"pk-{i}", "sequenceNumber": seq(i),
                "data": base64.b64encode(l).decode(), "approximateArrivalTimestamp": 1764547200.5 + i},
    "eventSource": "aws:kinesis", "eventVersion": "1.0", "eventID": f"shardId-000000000000:{seq(i)}",
    "eventName": "aws:kinesis:record", "awsRegion": "us-east-1", "eventSourceARN": sys.argv[3],
    "invokeIdentityArn": "arn:aws:iam::123456789012:role/kinlake"} for i, l in enumerate(lines)]},
    open(sys.argv[2], "w"))
PY
env "${FN_ENV[@]}" AWS_ACCESS_KEY_ID="$FK" AWS_SECRET_ACCESS_KEY="$FS" AWS_SESSION_TOKEN="$FT" AWS_ENDPOINT_URL_S3="$URL" \
	python3 "$ROOT/tests/deploy_lambda.py" "$T/esm-event.json" -- "$KL" lambda $fn_args >"$T/esm-answer" 2>"$T/esm-log" ||
	fail "lambda-mode function: $(cat "$T/esm-log")"
grep -qx '{"kind": "response", "body": {"batchItemFailures": \[\]}}' "$T/esm-answer" ||
	fail "lambda-mode answer: $(cat "$T/esm-answer") $(cat "$T/esm-log")"
fetch "$LBUCKET" "$T/lake-fn"
check_lake "$T/esm.jsonl" "$T/lake-fn" --format parquet >/dev/null || fail "lambda-mode lake"
echo "deploy: ok"
