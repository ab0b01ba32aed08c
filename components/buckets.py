"""A private S3 bucket: owner-enforced, public access blocked, versioned, encrypted with a customer
KMS key. Its policy is the caller's (each adds its own grants to the TLS-only deny)."""

from collections.abc import Mapping
from typing import Optional

import pulumi
import pulumi_aws as aws

from . import naming
from .inputs import Input


def private_bucket(
    name: str,
    *,
    kms_key_arn: Input[str],
    tags: Mapping[str, str],
    parent: pulumi.Resource,
    protect: bool,
    force_destroy: Optional[bool] = None,
    provider: Optional[pulumi.ProviderResource] = None,
) -> tuple[aws.s3.Bucket, aws.s3.BucketPublicAccessBlock]:
    """The bucket and its public access block (a bucket policy should depend on the latter);
    `provider`: another region's."""
    child = pulumi.ResourceOptions(parent=parent, provider=provider)
    bucket = aws.s3.Bucket(
        naming.logical(naming.S3_BUCKET, name, "bucket"),
        # An unprotected stack is destroyable in one `pulumi destroy`: its bucket goes with its
        # objects. A protected one keeps both (and `protect` stops the delete first).
        force_destroy=(not protect) if force_destroy is None else force_destroy,
        tags=dict(tags),
        opts=pulumi.ResourceOptions(parent=parent, protect=protect, provider=provider),
    )
    aws.s3.BucketOwnershipControls(
        f"{name}-ownership", bucket=bucket.id, rule={"object_ownership": "BucketOwnerEnforced"}, opts=child
    )
    public_access = aws.s3.BucketPublicAccessBlock(
        f"{name}-public-access",
        bucket=bucket.id,
        block_public_acls=True,
        block_public_policy=True,
        ignore_public_acls=True,
        restrict_public_buckets=True,
        opts=child,
    )
    aws.s3.BucketVersioning(
        f"{name}-versioning", bucket=bucket.id, versioning_configuration={"status": "Enabled"}, opts=child
    )
    aws.s3.BucketServerSideEncryptionConfiguration(
        f"{name}-encryption",
        bucket=bucket.id,
        rules=[
            {
                "apply_server_side_encryption_by_default": {
                    "sse_algorithm": "aws:kms",
                    "kms_master_key_id": kms_key_arn,
                },
                "bucket_key_enabled": True,
            }
        ],
        opts=child,
    )
    return bucket, public_access
