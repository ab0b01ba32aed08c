"""Every IAM action any policy of any stack names is one AWS has: an API operation of its
service (from botocore's service models, installed with boto3), or a permission-only action AWS
documents. A misspelt action (`ecs:TagResources`) grants nothing and fails only at run time."""

import json
from functools import cache

import botocore.session
import pytest

from components.guardrails import scp_document

from .helpers import evaluated
from .test_aws_limits import longest

# IAM prefix -> botocore service model.
SERVICES = {
    "cloudwatch": "cloudwatch",
    "codebuild": "codebuild",
    "codeconnections": "codeconnections",
    "codedeploy": "codedeploy",
    "codepipeline": "codepipeline",
    "codestar-connections": "codestar-connections",
    "ec2": "ec2",
    "ecr": "ecr",
    "ecs": "ecs",
    "elasticloadbalancing": "elbv2",
    "events": "events",
    "iam": "iam",
    "kms": "kms",
    "lambda": "lambda",
    "logs": "logs",
    "s3": "s3",
    "secretsmanager": "secretsmanager",
    "sns": "sns",
    "ssm": "ssm",
    "sts": "sts",
}

# Actions that authorise something other than one API call, each with where AWS lists it.
PERMISSION_ONLY = {
    # https://docs.aws.amazon.com/service-authorization/latest/reference/list_awscodeconnections.html
    "codeconnections:UseConnection",
    "codestar-connections:UseConnection",
    # https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_use_passrole.html
    "iam:PassRole",
    # https://docs.aws.amazon.com/AmazonECR/latest/userguide/pull-through-cache-iam.html
    "ecr:BatchImportUpstreamImage",
    # s3: GetObjectVersion authorises GetObject with a versionId; ListBucket authorises ListObjects(V2).
    # https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html#API_GetObject_Permissions
    "s3:GetObjectVersion",
    "s3:ListBucket",
    # DeleteObjectVersion authorises DeleteObject with a versionId:
    # https://docs.aws.amazon.com/AmazonS3/latest/API/API_DeleteObject.html#API_DeleteObject_Permissions
    "s3:DeleteObjectVersion",
    # PutBucketEncryption and PutBucketLifecycleConfiguration are authorised by these names:
    # https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutBucketEncryption.html#API_PutBucketEncryption_Permissions
    # https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutBucketLifecycleConfiguration.html#API_PutBucketLifecycleConfiguration_Permissions
    "s3:PutEncryptionConfiguration",
    "s3:PutLifecycleConfiguration",
    # Invoke is authorised by lambda:InvokeFunction:
    # https://docs.aws.amazon.com/lambda/latest/api/API_Invoke.html
    "lambda:InvokeFunction",
    # ReEncrypt needs both: https://docs.aws.amazon.com/kms/latest/APIReference/API_ReEncrypt.html
    "kms:ReEncryptFrom",
    "kms:ReEncryptTo",
}


@cache
def operations(prefix: str) -> frozenset[str]:
    """The service's operations from botocore's model: parsed once per service, not once per action."""
    return frozenset(_SESSION.get_service_model(SERVICES[prefix]).operation_names)


_SESSION = botocore.session.get_session()


def actions_in(document) -> set[str]:
    found: set[str] = set()
    for statement in document.get("Statement", []):
        value = statement.get("Action", [])
        found.update([value] if isinstance(value, str) else value)
    return found


def every_action(run) -> set[str]:
    found: set[str] = set()
    for resource in run.custom_resources():
        for key in ("policy", "assumeRolePolicy"):
            value = resource.inputs.get(key)
            if isinstance(value, str) and value.startswith("{"):
                found |= actions_in(json.loads(value))
    found |= actions_in(json.loads(run.outputs["scpDocument"]))
    return found


@pytest.mark.parametrize("which", ["dev", "staging", "prod", "longest"])
def test_every_action_a_policy_names_exists(which):
    run = longest() if which == "longest" else evaluated(which)
    unknown = []
    for action in sorted(every_action(run)):
        if action in PERMISSION_ONLY or action in ("s3:*", "sts:AssumeRole"):
            continue  # a deny of all S3 over plain HTTP; AssumeRole is an STS operation in trust policies
        prefix, name = action.split(":", 1)
        assert prefix in SERVICES, f"{action}: add its service to SERVICES"
        if name not in operations(prefix):
            unknown.append(action)
    assert unknown == []


def test_a_misspelt_action_would_be_caught():
    assert "TagResources" not in operations("ecs") and "TagResource" in operations("ecs")
    document = json.loads(scp_document("s", "arn:aws:iam::1:role/x/*", "arn:aws:iam::1:role/d"))
    assert actions_in(document) <= {f"{p}:{o}" for p in SERVICES for o in operations(p)} | PERMISSION_ONLY
