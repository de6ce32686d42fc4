"""moto_server, with its IAM enforcement made exact enough to test a
resource-scoped policy. Run as `python3 tests/moto_strict.py -H HOST -p PORT`
(the same arguments as moto_server). Changes only to how moto authorizes
a request once /moto-api/reset-auth has turned enforcement on (1, 2, 5, 6,
7), and two to its CloudFormation (3, 4):

1. S3 signatures are checked against the request path and query as the
   client sent them. moto 5.2 rebuilds the canonical request from the URL
   werkzeug decoded, where a key's %3D has become '=', so it refuses every
   correctly signed request for a Hive key (`events/event_type=x/...`, or a
   ListObjectsV2 prefix holding one), from kinlake and the AWS CLI alike
   (tests/e2e/kinesis_auth.sh notes the same).
2. Kinesis requests are authorized against the stream's ARN (from StreamARN,
   StreamName or the shard iterator, which names its stream), as AWS does.
   moto passes "*", so a policy whose Resource is the stream's ARN would
   refuse everything, and a policy scoped to another stream would pass.
3. A KMS key that CloudFormation creates keeps its KeyPolicy as the JSON
   text the KMS API holds. moto 5.2 stores the template's object as is, and
   every DescribeKey and GetKeyPolicy of the key then fails with HTTP 500.
4. A stack created through a change set (`aws cloudformation deploy`) has
   its Outputs. moto 5.2 computes them before the change set creates any
   resource and never again, so they all come back empty.
5. A policy condition on cloudwatch:namespace is evaluated against the
   Namespace of PutMetricData. moto evaluates conditions of trust policies
   only (sts:ExternalId) and treats every condition of the caller's own
   policies as met, so a policy that allows PutMetricData for one namespace
   would allow it for all. Other condition keys stay unevaluated, as before.
6. CloudWatch's actions are authorized under their IAM prefix, cloudwatch:
   (cloudwatch:PutMetricData). moto takes the SigV4 signing name, monitoring,
   so no policy written for AWS would allow or deny them.
7. DynamoDB requests are authorized against the table's ARN (from
   TableName, a name or an ARN), as AWS does. moto passes "*", so a policy
   whose Resource is the table's ARN would refuse everything (as in 2).

Nothing else changes: the checks themselves (signature, key, the caller's
policies, Allow/Deny matching) are moto's.
"""
import json
import sys
from urllib.parse import urlparse

from flask import has_request_context, request

import moto.iam.access_control as access_control
from moto.core.authorization import ActionAuthenticatorMixin
from moto.cloudformation.models import CloudFormationBackend
from moto.kms.models import Key
from moto.dynamodb.responses import DynamoHandler
from moto.kinesis.responses import KinesisResponse
from moto.kinesis.utils import decompose_shard_iterator
from moto.server import main

_s3_auth = ActionAuthenticatorMixin._authenticate_and_authorize_s3_action


def _s3_auth_raw_path(self, bucket_name=None, key_name=None):
    raw = request.environ.get("RAW_URI") if has_request_context() else None
    if not raw:
        return _s3_auth(self, bucket_name=bucket_name, key_name=key_name)
    uri = self.uri
    u = urlparse(uri)
    self.uri = f"{u.scheme}://{u.netloc}{raw if raw.startswith('/') else '/' + raw}"
    try:
        return _s3_auth(self, bucket_name=bucket_name, key_name=key_name)
    finally:
        self.uri = uri


def _kinesis_resource(self):
    arn = self._get_param("StreamARN")
    if arn:
        return arn
    name = self._get_param("StreamName")
    if not name:
        it = self._get_param("ShardIterator")
        if it:
            try:
                name = decompose_shard_iterator(it)[0]
            except Exception:  # not an iterator moto made: let moto refuse it
                return "*"
    if not name:
        return "*"  # ListStreams and the like have no stream
    return f"arn:{self.partition}:kinesis:{self.region}:{self.current_account}:stream/{name}"


def _dynamodb_resource(self):
    name = self._get_param("TableName")
    if not name:
        return "*"  # ListTables and the like have no table
    if name.startswith("arn:"):
        return name
    return f"arn:{self.partition}:dynamodb:{self.region}:{self.current_account}:table/{name}"


_key_from_cfn = Key.create_from_cloudformation_json.__func__


def _key_from_cfn_json_policy(cls, resource_name, cloudformation_json, account_id, region_name, **kw):
    props = cloudformation_json.get("Properties", {})
    if isinstance(props.get("KeyPolicy"), dict):
        props["KeyPolicy"] = json.dumps(props["KeyPolicy"])
    return _key_from_cfn(cls, resource_name, cloudformation_json, account_id, region_name, **kw)


_execute_change_set = CloudFormationBackend.execute_change_set


def _execute_change_set_with_outputs(self, change_set_name, stack_name=None):
    _execute_change_set(self, change_set_name, stack_name)
    for stack in self.stacks.values():
        if stack.status in ("CREATE_COMPLETE", "UPDATE_COMPLETE"):
            stack._parse_template()  # the change set's template, Outputs included
            stack.output_map = stack._create_output_map()


def _check_action_permitted(self, resource):
    """moto's IAMRequestBase.check_action_permitted, with condition values."""
    if self._action == "sts:GetCallerIdentity":
        return  # always allowed
    values = {}
    ns = self._data.get("Namespace") if isinstance(self._data, dict) else None
    if self._action == "cloudwatch:PutMetricData" and ns:
        values["cloudwatch:namespace"] = ns[0] if isinstance(ns, list) else ns
    permitted = False
    for policy in self._access_key.collect_policies():
        r = access_control.IAMPolicy(policy).is_action_permitted(self._action, resource, None, values or None)
        if r == access_control.PermissionResult.DENIED:
            self._raise_access_denied()
        permitted = permitted or r == access_control.PermissionResult.PERMITTED
    if self._is_assuming_role_operation(resource):
        permitted = permitted and self._check_role_trust_relationship(resource)
    if not permitted:
        self._raise_access_denied()


_iam_request_init = access_control.IAMRequestBase.__init__


def _iam_request_init_cloudwatch(self, *a, **kw):
    _iam_request_init(self, *a, **kw)
    if self._action.startswith("monitoring:"):
        self._action = "cloudwatch:" + self._action[len("monitoring:"):]


ActionAuthenticatorMixin._authenticate_and_authorize_s3_action = _s3_auth_raw_path
KinesisResponse._determine_resource = _kinesis_resource
DynamoHandler._determine_resource = _dynamodb_resource
Key.create_from_cloudformation_json = classmethod(_key_from_cfn_json_policy)
CloudFormationBackend.execute_change_set = _execute_change_set_with_outputs
access_control.IAMRequestBase.check_action_permitted = _check_action_permitted
access_control.IAMRequestBase.__init__ = _iam_request_init_cloudwatch

if __name__ == "__main__":
    main(sys.argv[1:])
