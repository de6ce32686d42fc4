"""deploy_check.py — checks of deploy/kinlake.yaml for tests/e2e/deploy.sh.

  deploy_check.py template TEMPLATE KEY[,KEY...]
      Both checks below, iam then static, in one process.
  deploy_check.py iam TEMPLATE
      Fails if an IAM statement anywhere in the template (role trust and inline
      policies, IAM policies, managed policies, the bucket policy, the KMS key
      policy) allows a wildcard action (any '*' in an action, or NotAction), a
      wildcard resource (NotResource, "*", or a '*' anywhere but a trailing
      "/*" or ":*" under a named bucket or log group), or a resource that is
      not one of this stack's resources (a Ref, GetAtt or Sub of a resource of
      the template). Allowed, and only these: a Deny may use wildcards (it
      grants nothing); in a KMS key policy "Resource": "*" means the key itself;
      cloudwatch:PutMetricData on "*" when the statement is conditioned on
      cloudwatch:namespace (PutMetricData has no resource-level permissions).
      Then the same check of seven altered copies of the template must fail
      (a wildcard action, a wildcard resource, a wildcard inside an ARN, a
      NotAction, another account's bucket, PutMetricData without the namespace
      condition): the check can fail.
  deploy_check.py static TEMPLATE KEY[,KEY...]
      The settings that moto's CloudFormation does not deploy (see deploy.sh),
      checked in the template: stream encryption, public access block, TLS-only
      bucket policy, lifecycle rules, Firehose prefixes (KEYS: the partition keys
      `kinlake lambda` answers with, which the prefix must use exactly), Glue,
      Athena, alarms and their modes, the dashboard.
  deploy_check.py deployed URL STACK MODE [STACK MODE...]
      What moto deployed for stack STACK in MODE, read back through the APIs.
  deploy_check.py facts URL DIR
      What the rest of deploy.sh needs from the stacks kl-consumer and
      kl-lambda: DIR/facts.sh (their outputs as C_<Output>='…' and
      L_<Output>='…', FN_ROLE: the lambda stack's FunctionRole) and the
      environment of the deployed functions of kl-firehose and kl-lambda,
      one NAME=VALUE a line, in DIR/fh-env and DIR/fn-env.
Each check prints one line per failure and exits 1 if there was any.
"""
import json
import re
import sys

fails = []
quiet = False


def bad(msg):
    fails.append(msg)
    if not quiet:
        print("FAIL:", msg, file=sys.stderr)


def load(path):
    from cfnlint.decode import decode_str  # slow to import: only where needed

    t, matches = decode_str(open(path).read())
    if t is None:
        sys.exit(f"{path}: cannot parse: {matches}")
    return t


def as_list(x):
    return x if isinstance(x, list) else [x]


def branches(x):
    """Every value an expression can take: both sides of each Fn::If."""
    if isinstance(x, dict) and "Fn::If" in x:
        _, a, b = x["Fn::If"]
        return branches(a) + branches(b)
    return [x]


# ------------------------------------------------------------------ iam
def policy_docs(t):
    """(where, document, kind) for every policy document of the template."""
    out = []
    for name, r in t.get("Resources", {}).items():
        p, typ = r.get("Properties", {}), r.get("Type")
        if typ == "AWS::KMS::Key":
            out.append((name + ".KeyPolicy", p.get("KeyPolicy"), "key"))
        if typ == "AWS::IAM::Role":
            out.append((name + ".AssumeRolePolicyDocument", p.get("AssumeRolePolicyDocument"), "trust"))
            for i, pol in enumerate(p.get("Policies", [])):
                out.append((f"{name}.Policies[{i}]", pol.get("PolicyDocument"), "identity"))
        if typ in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            out.append((name, p.get("PolicyDocument"), "identity"))
        if typ in ("AWS::S3::BucketPolicy", "AWS::SQS::QueuePolicy", "AWS::SNS::TopicPolicy"):
            out.append((name, p.get("PolicyDocument"), "resource"))
    # any other policy-looking property would escape the check: refuse it
    known = {id(d) for _, d, _ in out}
    def walk(x, where):
        if isinstance(x, dict):
            for k, v in x.items():
                if k in ("PolicyDocument", "KeyPolicy", "AssumeRolePolicyDocument") and id(v) not in known:
                    bad(f"{where}.{k}: a policy document this check does not know")
                walk(v, f"{where}.{k}")
        elif isinstance(x, list):
            for i, v in enumerate(x):
                walk(v, f"{where}[{i}]")
    walk(t.get("Resources", {}), "Resources")
    return out


def refs_of(expr):
    """Logical names an expression refers to (Ref, GetAtt, ${X} / ${X.Attr} in Sub)."""
    names = set()
    if isinstance(expr, dict):
        if "Ref" in expr:
            names.add(expr["Ref"])
        elif "Fn::GetAtt" in expr:
            g = expr["Fn::GetAtt"]
            names.add(g[0] if isinstance(g, list) else g.split(".")[0])
        elif "Fn::Sub" in expr:
            s = expr["Fn::Sub"]
            s = s if isinstance(s, str) else s[0]
            names.update(v.split(".")[0] for v in re.findall(r"\$\{([^}!]+)\}", s))
        else:
            for v in expr.values():
                names |= refs_of(v)
    elif isinstance(expr, list):
        for v in expr:
            names |= refs_of(v)
    return names


def text_of(expr):
    if isinstance(expr, str):
        return expr
    if isinstance(expr, dict) and "Fn::Sub" in expr:
        s = expr["Fn::Sub"]
        return s if isinstance(s, str) else s[0]
    return ""  # Ref / GetAtt: a whole ARN or name, no wildcard


def check_iam(t):
    resources = set(t.get("Resources", {}))
    docs = policy_docs(t)
    if not docs:
        bad("no policy documents found")
    for where, doc, kind in docs:
        if not isinstance(doc, dict):
            bad(f"{where}: not a literal policy document")
            continue
        for i, st in enumerate(as_list(doc.get("Statement", []))):
            for st in branches(st):
                w = f"{where} statement {st.get('Sid', i)}"
                effect = st.get("Effect")
                if effect == "Deny":
                    continue  # a Deny grants nothing: wildcards only widen it
                if effect != "Allow":
                    bad(f"{w}: Effect {effect!r}")
                    continue
                if "NotAction" in st or "NotResource" in st or "NotPrincipal" in st:
                    bad(f"{w}: NotAction/NotResource/NotPrincipal in an Allow")
                actions = [a for x in as_list(st.get("Action", [])) for a in branches(x)]
                if not actions:
                    bad(f"{w}: no Action")
                for a in actions:
                    if not isinstance(a, str) or "*" in a or ":" not in a:
                        bad(f"{w}: wildcard or unclear action {a!r}")
                if "*" in json.dumps(st.get("Principal", "")):
                    bad(f"{w}: wildcard principal in an Allow")
                if kind == "trust":
                    if actions != ["sts:AssumeRole"]:
                        bad(f"{w}: a trust policy allows {actions}")
                    if "Resource" in st:
                        bad(f"{w}: Resource in a trust policy")
                    continue
                res = [r for x in as_list(st.get("Resource", [])) for r in branches(x)]
                if not res:
                    bad(f"{w}: no Resource")
                for r in res:
                    if r == "*":
                        if kind == "key":
                            continue  # a key policy's "*" is the key itself
                        cond = st.get("Condition", {}).get("StringEquals", {})
                        if actions == ["cloudwatch:PutMetricData"] and "cloudwatch:namespace" in cond:
                            continue  # the documented exception
                        bad(f"{w}: Resource \"*\" for {actions}")
                        continue
                    s = text_of(r)
                    stem = re.sub(r"(/\*|:\*)$", "", s)
                    if "*" in stem:
                        bad(f"{w}: wildcard resource {s!r}")
                    if stem != s and not refs_of(r) & resources:
                        bad(f"{w}: {s!r} is under no resource of this stack")
                    if not refs_of(r) & resources:
                        bad(f"{w}: resource {json.dumps(r)} is not one of this stack's resources")


def _doc(r, name):
    return r[name]["Properties"]["PolicyDocument"]["Statement"]


def _not_action(r):
    st = _doc(r, "ProducerPolicy")[0]
    st["NotAction"] = st.pop("Action")


MUTATIONS = {
    "a wildcard action": lambda r: _doc(r, "ConsumerPolicy")[0]["Action"].append("kinesis:Get*"),
    "a wildcard resource": lambda r: _doc(r, "FunctionLakePolicy")[1].update(Resource="*"),
    "a wildcard in an ARN": lambda r: _doc(r, "FirehosePolicy")[0].update(
        Resource={"Fn::Sub": "arn:aws:kinesis:*:${AWS::AccountId}:stream/*"}),
    "a NotAction": _not_action,
    "another account's bucket": lambda r: _doc(r, "ConsumerPolicy")[1].update(Resource="arn:aws:s3:::someone-else/*"),
    "PutMetricData without its condition": lambda r: _doc(r, "ConsumerPolicy")[4].pop("Condition"),
    "every DynamoDB table": lambda r: _doc(r, "ConsumerPolicy")[5].update(
        Resource={"Fn::Sub": "arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/*"}),
}


# --------------------------------------------------------------- static
def res(t, name, typ, cond=None):
    r = t["Resources"].get(name)
    if not r or r.get("Type") != typ:
        bad(f"{name}: no {typ}")
        return {}
    if r.get("Condition") != cond:
        bad(f"{name}: Condition {r.get('Condition')!r}, want {cond!r}")
    return r.get("Properties", {})


def check_static(t, keys):
    getatt = lambda n, a: {"Fn::GetAtt": [n, a]}
    p = res(t, "Stream", "AWS::Kinesis::Stream")
    enc = p.get("StreamEncryption", {})
    if enc.get("EncryptionType") != "KMS" or enc.get("KeyId") != getatt("LakeKey", "Arn"):
        bad(f"Stream: not encrypted with the stack's key: {enc}")
    if res(t, "LakeKey", "AWS::KMS::Key").get("EnableKeyRotation") is not True:
        bad("LakeKey: no key rotation")
    p = res(t, "LakeBucket", "AWS::S3::Bucket")
    pab = p.get("PublicAccessBlockConfiguration", {})
    for k in ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"):
        if pab.get(k) is not True:
            bad(f"LakeBucket: {k} is not true")
    sse = p.get("BucketEncryption", {}).get("ServerSideEncryptionConfiguration", [{}])[0]
    d = sse.get("ServerSideEncryptionByDefault", {})
    if d.get("SSEAlgorithm") != "aws:kms" or d.get("KMSMasterKeyID") != getatt("LakeKey", "Arn"):
        bad(f"LakeBucket: default encryption is not SSE-KMS with the stack's key: {d}")
    rules = p.get("LifecycleConfiguration", {}).get("Rules", [])
    if not any(r.get("Prefix") == "errors/" and r.get("ExpirationInDays") and r.get("Status") == "Enabled" for r in rules):
        bad("LakeBucket: no lifecycle rule expiring errors/")
    if not any(r.get("AbortIncompleteMultipartUpload", {}).get("DaysAfterInitiation") and "Prefix" not in r
               and r.get("Status") == "Enabled" for r in rules):
        bad("LakeBucket: no bucket-wide rule aborting incomplete multipart uploads")
    p = res(t, "LakeBucketPolicy", "AWS::S3::BucketPolicy")
    if p.get("Bucket") != {"Ref": "LakeBucket"}:
        bad("LakeBucketPolicy: not on LakeBucket")
    ok = False
    for st in p.get("PolicyDocument", {}).get("Statement", []):
        if (st.get("Effect") == "Deny" and st.get("Principal") == "*" and st.get("Action") == "s3:*"
                and st.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}
                and refs_of(st.get("Resource")) == {"LakeBucket"} and len(st.get("Resource", [])) == 2
                and any(text_of(r).endswith("/*") for r in st["Resource"])):
            ok = True
    if not ok:
        bad("LakeBucketPolicy: no Deny of s3:* on the bucket and its objects without TLS")

    # Firehose: the prefix uses exactly the keys kinlake answers with
    p = res(t, "DeliveryStream", "AWS::KinesisFirehose::DeliveryStream", "IsFirehose")
    if p.get("DeliveryStreamType") != "KinesisStreamAsSource" or \
            p.get("KinesisStreamSourceConfiguration", {}).get("KinesisStreamARN") != getatt("Stream", "Arn"):
        bad("DeliveryStream: the stream is not its source")
    s3 = p.get("ExtendedS3DestinationConfiguration", {})
    prefix = s3.get("Prefix", "")
    want = "events/" + "".join(f"{k}=!{{partitionKeyFromLambda:{k}}}/" for k in keys)
    if prefix != want:
        bad(f"DeliveryStream: Prefix {prefix!r}, want {want!r} (the keys of kinlake's answer: {keys})")
    if not s3.get("ErrorOutputPrefix", "").startswith("errors/!{firehose:error-output-type}/"):
        bad(f"DeliveryStream: ErrorOutputPrefix {s3.get('ErrorOutputPrefix')!r}")
    if s3.get("DynamicPartitioningConfiguration", {}).get("Enabled") is not True:
        bad("DeliveryStream: dynamic partitioning is off")
    bh = s3.get("BufferingHints", {})
    if bh != {"SizeInMBs": {"Ref": "BufferSizeMB"}, "IntervalInSeconds": {"Ref": "BufferIntervalSeconds"}}:
        bad(f"DeliveryStream: BufferingHints {bh}")
    if s3.get("CompressionFormat") != "GZIP":
        bad("DeliveryStream: not compressed")
    procs = s3.get("ProcessingConfiguration", {}).get("Processors", [])
    lam = [x.get("ParameterValue") for pr in procs if pr.get("Type") == "Lambda"
           for x in pr.get("Parameters", []) if x.get("ParameterName") == "LambdaArn"]
    if lam != [getatt("Function", "Arn")] or s3.get("ProcessingConfiguration", {}).get("Enabled") is not True:
        bad(f"DeliveryStream: the kinlake function is not its processor: {lam}")

    # the lease table (Mode=consumer): the shape kinlake creates, encrypted,
    # recoverable; the consumer's DynamoDB actions name it and nothing else
    p = res(t, "LeaseTable", "AWS::DynamoDB::Table", "IsConsumer")
    if p.get("KeySchema") != [{"AttributeName": "leaseKey", "KeyType": "HASH"}] or \
            p.get("AttributeDefinitions") != [{"AttributeName": "leaseKey", "AttributeType": "S"}] or \
            p.get("BillingMode") != "PAY_PER_REQUEST":
        bad(f"LeaseTable: not the shape of kinlake's lease table: {p}")
    if p.get("SSESpecification", {}).get("SSEEnabled") is not True:
        bad("LeaseTable: no SSE")
    if p.get("PointInTimeRecoverySpecification", {}).get("PointInTimeRecoveryEnabled") is not True:
        bad("LeaseTable: no point-in-time recovery")
    if "LeaseTableName" not in json.dumps(p.get("TableName")):
        bad("LeaseTable: its name is not the LeaseTableName parameter")
    cons = t["Resources"].get("ConsumerPolicy", {}).get("Properties", {}).get("PolicyDocument", {})
    dst = [st for st in as_list(cons.get("Statement", []))
           if any(str(a).startswith("dynamodb:") for a in as_list(st.get("Action", [])))]
    if len(dst) != 1 or dst[0].get("Resource") != getatt("LeaseTable", "Arn") or \
            sorted(as_list(dst[0]["Action"])) != ["dynamodb:DescribeTable", "dynamodb:GetItem", "dynamodb:PutItem",
                                                  "dynamodb:Scan", "dynamodb:UpdateItem"]:
        bad(f"ConsumerPolicy: the lease calls are not exactly allowed on LeaseTable: {dst}")

    p = res(t, "GlueDatabase", "AWS::Glue::Database")
    if p.get("DatabaseInput", {}).get("Name") != {"Ref": "DatabaseName"}:
        bad("GlueDatabase: name is not the DatabaseName parameter")
    p = res(t, "AthenaWorkGroup", "AWS::Athena::WorkGroup")
    c = p.get("WorkGroupConfiguration", {})
    if c.get("BytesScannedCutoffPerQuery") != {"Ref": "AthenaBytesScannedLimit"}:
        bad("AthenaWorkGroup: no bytes-scanned limit")
    if refs_of(c.get("ResultConfiguration", {}).get("OutputLocation")) != {"LakeBucket"}:
        bad("AthenaWorkGroup: results are not in the lake bucket")

    # alarms: (namespace, metric) -> the condition it must have
    want_alarms = {
        ("AWS/Kinesis", "GetRecords.IteratorAgeMilliseconds"): None,
        ("AWS/Kinesis", "WriteProvisionedThroughputExceeded"): None,
        ("AWS/Firehose", "DeliveryToS3.DataFreshness"): "IsFirehose",
        ("AWS/Lambda", "Errors"): "HasFunction",
        ("AWS/Lambda", "Throttles"): "HasFunction",
        ("MetricsNamespace", "MillisBehindLatest"): "IsConsumer",
        ("MetricsNamespace", "DeadLetters"): None,
        ("MetricsNamespace", "EventsRescued"): "WritesLake",
    }
    topic = {"Fn::If": ["CreateAlarmTopic", {"Ref": "AlarmTopic"}, {"Ref": "AlarmTopicArn"}]}
    seen = {}
    for name, r in t["Resources"].items():
        if r.get("Type") != "AWS::CloudWatch::Alarm":
            continue
        p = r["Properties"]
        ns = p.get("Namespace")
        ns = ns["Ref"] if isinstance(ns, dict) and "Ref" in ns else ns
        seen[(ns, p.get("MetricName"))] = r.get("Condition")
        if p.get("AlarmActions") != [topic] or p.get("OKActions") != [topic]:
            bad(f"{name}: does not notify the alarm topic")
        if p.get("MetricName") == "MillisBehindLatest" and p.get("Dimensions") != [{"Name": "Stream", "Value": {"Ref": "StreamName"}}]:
            bad(f"{name}: MillisBehindLatest needs the dimension Stream = StreamName")
    for k, cond in want_alarms.items():
        if k not in seen:
            bad(f"no alarm on {k}")
        elif seen[k] != cond:
            bad(f"alarm on {k}: Condition {seen[k]!r}, want {cond!r}")
    body = json.dumps(res(t, "Dashboard", "AWS::CloudWatch::Dashboard").get("DashboardBody"))
    for _, m in want_alarms:
        if m not in body:
            bad(f"Dashboard: no {m}")


# ------------------------------------------------------------- deployed
def check_deployed(url, stack, mode):
    import boto3

    kw = dict(endpoint_url=url, region_name="us-east-1")
    cf = boto3.client("cloudformation", **kw)
    st = cf.describe_stacks(StackName=stack)["Stacks"][0]
    if st["StackStatus"] not in ("CREATE_COMPLETE", "UPDATE_COMPLETE"):
        bad(f"{stack}: {st['StackStatus']}")
    out = {o["OutputKey"]: o["OutputValue"] for o in st.get("Outputs", [])}
    phys = {r["LogicalResourceId"]: r["PhysicalResourceId"]
            for r in cf.list_stack_resources(StackName=stack)["StackResourceSummaries"]
            if r.get("LogicalResourceId")}
    want = {"LakeKey", "LakeKeyAlias", "Stream", "LakeBucket", "ProducerPolicy", "AlarmTopic", "Dashboard"}
    per_mode = {
        "firehose": {"FunctionLogGroup", "FunctionRole", "FunctionLogsPolicy", "Function",
                     "FirehoseLogGroup", "FirehoseRole", "FirehosePolicy"},
        "lambda": {"FunctionLogGroup", "FunctionRole", "FunctionLogsPolicy", "Function",
                   "FailureQueue", "FunctionLakePolicy", "EventSourceMapping"},
        "consumer": {"ConsumerPolicy", "ConsumerRole", "ConsumerInstanceProfile", "LeaseTable"},
    }
    want |= per_mode[mode]
    others = set().union(*per_mode.values()) - per_mode[mode]
    if want - set(phys):
        bad(f"{stack}: missing {sorted(want - set(phys))}")
    if others & set(phys):
        bad(f"{stack}: resources of another mode: {sorted(others & set(phys))}")

    kms = boto3.client("kms", **kw)
    key = kms.describe_key(KeyId=phys["LakeKey"])["KeyMetadata"]
    if out.get("KeyArn") != key["Arn"] or key["KeyState"] != "Enabled":
        bad(f"{stack}: key {key['Arn']} {key['KeyState']}, output {out.get('KeyArn')}")
    kp = json.loads(kms.get_key_policy(KeyId=key["KeyId"], PolicyName="default")["Policy"])
    acts = [a for s in kp["Statement"] for a in as_list(s["Action"])]
    if "kms:*" in acts or "kms:PutKeyPolicy" not in acts:
        bad(f"{stack}: key policy actions {acts}")

    kin = boto3.client("kinesis", **kw)
    sd = kin.describe_stream_summary(StreamName=out["StreamName"])["StreamDescriptionSummary"]
    if sd["StreamARN"] != out["StreamArn"] or sd["RetentionPeriodHours"] != 24 or sd["OpenShardCount"] != 1:
        bad(f"{stack}: stream {sd}")

    s3 = boto3.client("s3", **kw)
    b = out["LakeBucket"]
    if phys["LakeBucket"] != b:
        bad(f"{stack}: bucket {phys['LakeBucket']} != output {b}")
    rule = s3.get_bucket_encryption(Bucket=b)["ServerSideEncryptionConfiguration"]["Rules"][0]
    d = rule["ApplyServerSideEncryptionByDefault"]
    if d.get("SSEAlgorithm") != "aws:kms" or d.get("KMSMasterKeyID") != key["Arn"]:
        bad(f"{stack}: bucket encryption {rule}")

    iam = boto3.client("iam", **kw)
    def role_doc(role, policy):
        return iam.get_role_policy(RoleName=role, PolicyName=policy)["PolicyDocument"]
    def actions(doc):
        doc = json.loads(doc) if isinstance(doc, str) else doc
        return {a for s in as_list(doc["Statement"]) for a in as_list(s["Action"])}
    def resources(doc):
        doc = json.loads(doc) if isinstance(doc, str) else doc
        return {r for s in as_list(doc["Statement"]) for r in as_list(s.get("Resource", []))}
    bucket_arn = f"arn:aws:s3:::{b}"
    def managed(arn):
        p = iam.get_policy(PolicyArn=arn)["Policy"]
        return iam.get_policy_version(PolicyArn=arn, VersionId=p["DefaultVersionId"])["PolicyVersion"]["Document"]
    prod = managed(phys["ProducerPolicy"])
    if actions(prod) != {"kinesis:PutRecord", "kinesis:PutRecords", "kinesis:ListShards", "kms:GenerateDataKey"} \
            or resources(prod) != {out["StreamArn"], key["Arn"]}:
        bad(f"{stack}: producer policy {prod}")

    if mode in ("firehose", "lambda"):
        lam = boto3.client("lambda", **kw)
        fn = lam.get_function(FunctionName=phys["Function"])["Configuration"]
        role = iam.get_role(RoleName=phys["FunctionRole"])["Role"]
        if fn["Runtime"] != "provided.al2023" or fn["Handler"] != "bootstrap" or fn["Role"] != role["Arn"]:
            bad(f"{stack}: function {fn['Runtime']} {fn['Handler']} {fn['Role']}")
        env = fn.get("Environment", {}).get("Variables", {})
        if env.get("KINLAKE_CLOUDWATCH_NAMESPACE") != "kinlake":
            bad(f"{stack}: the function's EMF namespace is not MetricsNamespace: {env}")
        logs = role_doc(phys["FunctionRole"], "logs")
        if actions(logs) != {"logs:CreateLogStream", "logs:PutLogEvents"} or \
                not all(phys["FunctionLogGroup"] in r for r in resources(logs)):
            bad(f"{stack}: function logs policy {logs}")
        if mode == "lambda":
            if env.get("KINLAKE_LAKE") != f"s3://{b}" or env.get("KINLAKE_SSE") != "aws:kms" or \
                    env.get("KINLAKE_SSE_KMS_KEY_ID") != key["Arn"] or env.get("KINLAKE_FORMAT") != "parquet":
                bad(f"{stack}: lambda-mode environment {env}")
            m = lam.list_event_source_mappings(FunctionName=phys["Function"])["EventSourceMappings"]
            if len(m) != 1:
                bad(f"{stack}: {len(m)} event source mappings")
            else:
                m = m[0]
                q = boto3.client("sqs", **kw).get_queue_attributes(
                    QueueUrl=phys["FailureQueue"], AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
                checks = {"EventSourceArn": out["StreamArn"], "BatchSize": 10000,
                          "MaximumBatchingWindowInSeconds": 60, "BisectBatchOnFunctionError": True,
                          "FunctionResponseTypes": ["ReportBatchItemFailures"], "StartingPosition": "TRIM_HORIZON",
                          "DestinationConfig": {"OnFailure": {"Destination": q}}}
                for k, v in checks.items():
                    if m.get(k) != v:
                        bad(f"{stack}: mapping {k} = {m.get(k)!r}, want {v!r}")
                if "TumblingWindowInSeconds" in m and m["TumblingWindowInSeconds"]:
                    bad(f"{stack}: a tumbling window")
            lake = role_doc(phys["FunctionRole"], "lake")
            if resources(lake) != {out["StreamArn"], f"{bucket_arn}/events/*", f"{bucket_arn}/errors/*",
                                   f"{bucket_arn}/_kinlake/*", bucket_arn, key["Arn"], q}:
                bad(f"{stack}: lambda-mode policy resources {sorted(resources(lake))}")
        else:
            if "KINLAKE_LAKE" in env:
                bad(f"{stack}: a Firehose transform with KINLAKE_LAKE")
            fr = iam.get_role(RoleName=phys["FirehoseRole"])["Role"]
            trust = fr["AssumeRolePolicyDocument"]
            trust = json.loads(trust) if isinstance(trust, str) else trust
            if trust["Statement"][0]["Principal"] != {"Service": "firehose.amazonaws.com"}:
                bad(f"{stack}: firehose trust {trust}")
            fp = role_doc(phys["FirehoseRole"], "delivery")
            if "lambda:InvokeFunction" not in actions(fp) or fn["FunctionArn"] not in resources(fp):
                bad(f"{stack}: firehose cannot invoke {fn['FunctionArn']}: {fp}")
    if mode == "consumer":
        role = iam.get_role(RoleName=phys["ConsumerRole"])["Role"]
        att = [p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName=role["RoleName"])["AttachedPolicies"]]
        if att != [out["ConsumerPolicyArn"]]:
            bad(f"{stack}: consumer role policies {att}")
        ip = iam.get_instance_profile(InstanceProfileName=phys["ConsumerInstanceProfile"])["InstanceProfile"]
        if [r["RoleName"] for r in ip["Roles"]] != [role["RoleName"]]:
            bad(f"{stack}: instance profile {ip}")
        doc = managed(out["ConsumerPolicyArn"])
        if actions(doc) != {"kinesis:ListShards", "kinesis:GetShardIterator", "kinesis:GetRecords", "s3:PutObject",
                            "s3:GetObject", "s3:AbortMultipartUpload", "s3:ListBucket", "kms:Decrypt",
                            "kms:GenerateDataKey", "cloudwatch:PutMetricData", "dynamodb:DescribeTable",
                            "dynamodb:Scan", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"}:
            bad(f"{stack}: consumer policy actions {sorted(actions(doc))}")
        # the lease table: the shape kinlake creates itself (src/aws/dynamodb.c)
        ddb = boto3.client("dynamodb", **kw)
        tb = ddb.describe_table(TableName=out.get("LeaseTable", "?"))["Table"]
        if phys["LeaseTable"] != tb["TableName"] or tb["TableName"] != f"{stack}-kinlake-leases":
            bad(f"{stack}: lease table {tb['TableName']}, resource {phys['LeaseTable']}")
        if tb["KeySchema"] != [{"AttributeName": "leaseKey", "KeyType": "HASH"}] or \
                tb["AttributeDefinitions"] != [{"AttributeName": "leaseKey", "AttributeType": "S"}]:
            bad(f"{stack}: lease table key {tb['KeySchema']} {tb['AttributeDefinitions']}")
        if tb.get("BillingModeSummary", {}).get("BillingMode") != "PAY_PER_REQUEST" or tb["TableStatus"] != "ACTIVE":
            bad(f"{stack}: lease table {tb.get('BillingModeSummary')} {tb['TableStatus']}")
        ddb_st = [st for st in as_list((json.loads(doc) if isinstance(doc, str) else doc)["Statement"])
                  if any(a.startswith("dynamodb:") for a in as_list(st["Action"]))]
        if [as_list(st["Resource"]) for st in ddb_st] != [[tb["TableArn"]]]:
            bad(f"{stack}: lease table actions not scoped to {tb['TableArn']}: {ddb_st}")
    cw = boto3.client("cloudwatch", **kw)
    body = json.loads(cw.get_dashboard(DashboardName=phys["Dashboard"])["DashboardBody"])
    metrics = {m[1] for w in body["widgets"] for m in w["properties"]["metrics"]}
    want_m = {"GetRecords.IteratorAgeMilliseconds", "WriteProvisionedThroughputExceeded", "DeadLetters"}
    want_m |= {"firehose": {"DeliveryToS3.DataFreshness", "Errors", "Throttles"},
               "lambda": {"Errors", "Throttles", "ApproximateNumberOfMessagesVisible"},
               "consumer": {"MillisBehindLatest"}}[mode]
    if want_m - metrics:
        bad(f"{stack}: dashboard lacks {sorted(want_m - metrics)}")
    if mode == "consumer" and "Errors" in metrics:
        bad(f"{stack}: consumer dashboard shows Lambda metrics")
    return out


if __name__ == "__main__":
    cmd = sys.argv[1] if len(sys.argv) > 1 else ""
    if cmd in ("iam", "template"):
        t = load(sys.argv[2])
        check_iam(t)
        for name, change in MUTATIONS.items() if not fails else ():
            m = json.loads(json.dumps(t))
            change(m["Resources"])
            quiet = True
            check_iam(m)
            quiet = False
            if not fails:
                bad(f"the IAM check passes a template with {name}")
                break
            print(f"ok: {name} is refused ({fails[0]})", file=sys.stderr)
            fails.clear()
        if cmd == "template" and not fails:
            check_static(t, sys.argv[3].split(","))
    elif cmd == "static":
        check_static(load(sys.argv[2]), sys.argv[3].split(","))
    elif cmd == "deployed":
        for i in range(3, len(sys.argv), 2):
            check_deployed(sys.argv[2], sys.argv[i], sys.argv[i + 1])
    elif cmd == "facts":
        import boto3

        kw = dict(endpoint_url=sys.argv[2], region_name="us-east-1")
        cf, lam, d = boto3.client("cloudformation", **kw), boto3.client("lambda", **kw), sys.argv[3]
        outs = {}
        for stack in ("kl-firehose", "kl-lambda", "kl-consumer"):
            st = cf.describe_stacks(StackName=stack)["Stacks"][0]
            outs[stack] = {o["OutputKey"]: o["OutputValue"] for o in st.get("Outputs", [])}
        with open(d + "/facts.sh", "w") as f:
            for stack, p in (("kl-consumer", "C"), ("kl-lambda", "L")):
                for k, v in outs[stack].items():
                    f.write(f"{p}_{k}='{v}'\n")
            role = [r["PhysicalResourceId"] for r in cf.list_stack_resources(StackName="kl-lambda")["StackResourceSummaries"]
                    if r["LogicalResourceId"] == "FunctionRole"]
            f.write(f"FN_ROLE='{role[0]}'\n")
        for stack, name in (("kl-firehose", "fh-env"), ("kl-lambda", "fn-env")):
            fn = lam.get_function(FunctionName=outs[stack]["FunctionName"])["Configuration"]
            with open(f"{d}/{name}", "w") as f:
                for k, v in fn.get("Environment", {}).get("Variables", {}).items():
                    f.write(f"{k}={v}\n")
    else:
        sys.exit(__doc__)
    sys.exit(1 if fails else 0)
