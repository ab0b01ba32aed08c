"""S3: every bucket is private, encrypted with a customer key, versioned and TLS-only, judged
through the companion resources that configure it (pulumi-aws v7 splits a bucket's settings)."""

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Optional

from .normalise import (
    UNKNOWN,
    as_list,
    aws_managed_key,
    dig,
    effect,
    is_blank,
    is_unknown,
    json_document,
    principals,
    statements,
)
from .stack import StackInput, StackResource, StackViolation, stack_resource

BUCKET_TYPES = frozenset({"aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2"})
PUBLIC_ACCESS_BLOCK_TYPES = frozenset({"aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"})
BUCKET_ENCRYPTION_TYPES = frozenset(
    {
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2",
    }
)
BUCKET_VERSIONING_TYPES = frozenset(
    {"aws:s3/bucketVersioning:BucketVersioning", "aws:s3/bucketVersioningV2:BucketVersioningV2"}
)
BUCKET_POLICY_TYPES = frozenset({"aws:s3/bucketPolicy:BucketPolicy"})


def _bucket_label(bucket: StackResource) -> str:
    name = dig(bucket.props, "bucket")
    return repr(name) if isinstance(name, str) and name else repr(bucket.name or bucket.urn)


def _bucket_identifiers(bucket: StackResource) -> set[str]:
    """The values a companion's `bucket` input can hold for this bucket (its name, which is its id)."""
    found = {bucket.id, dig(bucket.props, "bucket"), dig(bucket.props, "id")}
    return {value for value in found if isinstance(value, str) and value and not is_unknown(value)}


def _bucket_of(companion: StackResource, buckets: Sequence[StackResource]) -> tuple[Optional[int], bool]:
    """(index of the bucket the companion configures, whether its target is unknown)."""
    dependency_urns = set(companion.property_dependencies.get("bucket", ()))
    if dependency_urns:
        for index, bucket in enumerate(buckets):
            if bucket.urn and bucket.urn in dependency_urns:
                return index, False
    value = dig(companion.props, "bucket")
    if value is UNKNOWN:
        return None, True
    for index, bucket in enumerate(buckets):
        if isinstance(value, str) and value in _bucket_identifiers(bucket):
            return index, False
    return None, False  # a bucket managed elsewhere: not this stack's business


def _check_public_access_block(props: Mapping[str, Any], bucket: StackResource) -> list[str]:
    problems = []
    for flag in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"):
        value = dig(props, flag)
        if value is not UNKNOWN and value is not True:
            problems.append(f"bucket {_bucket_label(bucket)}: public access block does not set {flag} to true")
    return problems


def _check_bucket_encryption(props: Mapping[str, Any], bucket: StackResource) -> list[str]:
    rules = dig(props, "rules")
    if rules is UNKNOWN:
        return []
    label = _bucket_label(bucket)
    if not as_list(rules):
        return [f"bucket {label}: default encryption has no rule"]
    problems = []
    for rule in as_list(rules):
        algorithm = dig(rule, "applyServerSideEncryptionByDefault", "sseAlgorithm")
        key = dig(rule, "applyServerSideEncryptionByDefault", "kmsMasterKeyId")
        if algorithm is not UNKNOWN and algorithm not in ("aws:kms", "aws:kms:dsse"):
            problems.append(f"bucket {label}: default encryption uses {algorithm!r}, not 'aws:kms' with a customer key")
        if key is not UNKNOWN and is_blank(key):
            problems.append(
                f"bucket {label}: default encryption names no kmsMasterKeyId (it would use the AWS-managed aws/s3 key)"
            )
        elif aws_managed_key(key):
            problems.append(
                f"bucket {label}: default encryption uses the AWS-managed key {key!r}, whose policy lets every "
                "principal of the account that may use S3 decrypt; name a customer key"
            )
    return problems


def _check_bucket_versioning(props: Mapping[str, Any], bucket: StackResource) -> list[str]:
    status = dig(props, "versioningConfiguration", "status")
    if status is UNKNOWN or status == "Enabled":
        return []
    return [f"bucket {_bucket_label(bucket)}: versioning status is {status!r}, not 'Enabled'"]


def denies_insecure_transport(statement: Mapping[str, Any], actions: Iterable[str] = ("s3:*", "*")) -> bool:
    """A Deny of `actions` for everyone whenever aws:SecureTransport is false, and nothing else.

    Any further condition narrows a Deny (all conditions must hold for it to apply), so a second
    key, an IfExists operator, a NotPrincipal or a NotAction would let plain-HTTP requests through
    for someone: only the one condition counts."""
    if effect(statement) != "deny" or {"NotPrincipal", "NotAction", "NotResource"} & set(statement):
        return False
    if [p for p in principals(statement) if not p.everyone] or not principals(statement):
        return False
    wanted = {a.lower() for a in actions}
    if not wanted & {str(action).lower() for action in as_list(statement.get("Action"))}:
        return False
    condition = statement.get("Condition")
    if not isinstance(condition, Mapping) or list(condition) != ["Bool"]:
        return False
    block = condition["Bool"]
    if not isinstance(block, Mapping) or [str(k).lower() for k in block] != ["aws:securetransport"]:
        return False
    values = as_list(next(iter(block.values())))
    return bool(values) and all(str(item).lower() == "false" for item in values)


def _check_bucket_policy(props: Mapping[str, Any], bucket: StackResource) -> list[str]:
    label = _bucket_label(bucket)
    document, problems = json_document(dig(props, "policy"), f"bucket {label}: bucket policy")
    if document is None:
        return problems
    denials = [s for s in statements(document) if denies_insecure_transport(s)]
    if not denials:
        return [
            f'bucket {label}: bucket policy has no Deny of s3:* for every principal when aws:SecureTransport is "false"'
        ]
    name = dig(bucket.props, "bucket")
    if not isinstance(name, str) or not name:
        return []
    resources = {str(r) for s in denials for r in as_list(s.get("Resource"))}
    if "*" in resources:
        return []
    pattern = re.escape(name)
    covers_bucket = any(re.fullmatch(rf"arn:[\w-]+:s3:::{pattern}", r) for r in resources)
    covers_objects = any(re.fullmatch(rf"arn:[\w-]+:s3:::{pattern}/\*", r) for r in resources)
    if covers_bucket and covers_objects:
        return []
    return [f"bucket {label}: the TLS-only Deny must cover both the bucket and its objects (<bucket arn>/*)"]


_BUCKET_COMPANIONS = (
    ("public access block", PUBLIC_ACCESS_BLOCK_TYPES, _check_public_access_block),
    ("default encryption configuration", BUCKET_ENCRYPTION_TYPES, _check_bucket_encryption),
    ("versioning configuration", BUCKET_VERSIONING_TYPES, _check_bucket_versioning),
    ("bucket policy", BUCKET_POLICY_TYPES, _check_bucket_policy),
)


def check_s3_artifact_buckets(resources: Iterable[StackInput]) -> list[StackViolation]:
    """Every bucket is private, KMS-encrypted, versioned and TLS-only, through its companion resources."""
    stack = [stack_resource(item) for item in resources]
    buckets = [r for r in stack if r.resource_type in BUCKET_TYPES]
    violations: list[StackViolation] = []
    for what, types, check in _BUCKET_COMPANIONS:
        related: dict[int, list[StackResource]] = {index: [] for index in range(len(buckets))}
        target_unknown = unmatched = False
        for companion in (r for r in stack if r.resource_type in types):
            index, unknown = _bucket_of(companion, buckets)
            if index is not None:
                related[index].append(companion)
            target_unknown = target_unknown or unknown
            unmatched = unmatched or (index is None and not unknown)
        for index, bucket in enumerate(buckets):
            if not related[index]:
                # Cannot tell when some companion's target is unknown, or this bucket's name is.
                if target_unknown or (unmatched and not _bucket_identifiers(bucket)):
                    continue
                type_name = sorted(types)[0]
                violations.append(
                    StackViolation(f"bucket {_bucket_label(bucket)} has no {what} ({type_name})", bucket.urn or None)
                )
            for companion in related[index]:
                violations.extend(
                    StackViolation(message, companion.urn or None) for message in check(companion.props, bucket)
                )
    return violations
