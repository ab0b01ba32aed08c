"""AWS's size limits on the documents a stack registers, and the account quotas it counts against.

The offline harness checks every registered policy and pattern against `DOCUMENT_LIMITS`, as AWS
would refuse it at `pulumi up`; `tests/test_aws_limits.py` counts a stack of the schema's maximum
size against `QUOTAS`.
"""

import json
import re
from collections import Counter
from dataclasses import dataclass
from typing import Optional


@dataclass(frozen=True)
class DocumentLimit:
    type_token: str
    input_name: str
    maximum: int
    unit: str
    """`characters` (IAM counts them without whitespace), `bytes`, or `characters-with-whitespace`."""
    source: str

    def size(self, document: str) -> int:
        if self.unit == "characters":
            return len(re.sub(r"\s", "", document))
        if self.unit == "bytes":
            return len(document.encode())
        return len(document)

    def check(self, document: str) -> Optional[str]:
        size = self.size(document)
        if size > self.maximum:
            return f"{size} {self.unit}, over AWS's limit of {self.maximum} ({self.source})"
        return None


_IAM_QUOTAS = "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html"
_EVENTBRIDGE_QUOTAS = "https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-quota.html"
# "Event pattern size: Each supported Region: 2,048. Adjustable: Yes." PutRule's model says 4,096:
# that is the most the quota can be raised to, not what a new account has.
EVENT_PATTERN_DEFAULT_QUOTA = 2_048
DOCUMENT_LIMITS = {
    (limit.type_token, limit.input_name): limit
    for limit in (
        # "Role policy size cannot exceed 10,240 characters" (all inline policies of a role; IAM
        # does not count whitespace). Each role here has one inline policy.
        DocumentLimit("aws:iam/rolePolicy:RolePolicy", "policy", 10_240, "characters", _IAM_QUOTAS),
        # "Role trust policy length: 2,048 characters" (the default quota).
        DocumentLimit("aws:iam/role:Role", "assumeRolePolicy", 2_048, "characters", _IAM_QUOTAS),
        DocumentLimit(
            "aws:kms/keyPolicy:KeyPolicy",
            "policy",
            32_768,
            "bytes",
            "https://docs.aws.amazon.com/kms/latest/developerguide/resource-limits.html",
        ),
        DocumentLimit(
            "aws:kms/key:Key",
            "policy",
            32_768,
            "bytes",
            "https://docs.aws.amazon.com/kms/latest/developerguide/resource-limits.html",
        ),
        DocumentLimit(
            "aws:sns/topicPolicy:TopicPolicy",
            "policy",
            30 * 1024,
            "bytes",
            "https://docs.aws.amazon.com/sns/latest/dg/sns-access-policy-language-api-permissions-reference.html",
        ),
        DocumentLimit(
            "aws:s3/bucketPolicy:BucketPolicy",
            "policy",
            20 * 1024,
            "bytes",
            "https://docs.aws.amazon.com/AmazonS3/latest/userguide/using-iam-policies.html",
        ),
        DocumentLimit(
            "aws:ecr/repositoryPolicy:RepositoryPolicy",
            "policy",
            10_240,
            "characters-with-whitespace",
            "https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_SetRepositoryPolicy.html",
        ),
        DocumentLimit(
            "aws:cloudwatch/eventRule:EventRule",
            "eventPattern",
            EVENT_PATTERN_DEFAULT_QUOTA,
            "characters-with-whitespace",
            _EVENTBRIDGE_QUOTAS,
        ),
    )
}


@dataclass(frozen=True)
class Quota:
    type_token: str
    default: int
    scope: str
    source: str


# Default quotas (each adjustable on request, which a new account has not made).
QUOTAS = {
    quota.type_token: quota
    for quota in (
        Quota("aws:iam/role:Role", 1_000, "account", _IAM_QUOTAS),
        Quota(
            "aws:cloudwatch/eventRule:EventRule",
            300,
            "event bus",
            _EVENTBRIDGE_QUOTAS,
        ),
        Quota(
            "aws:codebuild/project:Project",
            5_000,
            "region",
            "https://docs.aws.amazon.com/codebuild/latest/userguide/limits.html",
        ),
        Quota(
            "aws:codepipeline/pipeline:Pipeline",
            1_000,
            "region",
            "https://docs.aws.amazon.com/codepipeline/latest/userguide/limits.html",
        ),
    )
}


def document_problem(type_token: str, input_name: str, document: str) -> Optional[str]:
    """Why AWS would refuse `document` as `input_name` of a `type_token`, or None."""
    limit = DOCUMENT_LIMITS.get((type_token, input_name))
    if limit is None:
        return None
    return limit.check(document) or (duplicate_sids(document) if input_name != "eventPattern" else None)


def duplicate_sids(document: str) -> Optional[str]:
    """IAM refuses a policy in which two statements share a `Sid` ("In IAM, the Sid value must be
    unique within a JSON policy",
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_sid.html)."""
    try:
        statements = json.loads(document).get("Statement", [])
    except (ValueError, AttributeError):
        return None
    counts = Counter(str(s["Sid"]) for s in statements if isinstance(s, dict) and s.get("Sid"))
    twice = sorted(sid for sid, count in counts.items() if count > 1)
    return (
        f"statement IDs {twice} appear more than once; IAM refuses a policy whose Sids are not unique"
        if twice
        else None
    )
