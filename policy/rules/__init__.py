"""Pure check functions for the ecs-cicd CrossGuard policy pack, one module per AWS service they
guard, on one shared normalisation of what they read (`normalise`).

Nothing here imports `pulumi_policy` or talks to the engine: every check takes plain data and
returns violation messages, so the same functions run under `pulumi preview --policy-pack policy`
(wrapped by `__main__.py`) and in fast unit tests.

* A resource check is `check_xxx(resource_type, props) -> list[str]`: `props` are the engine's
  camelCase properties; a resource of a type the check does not cover gets `[]`.
* A stack check takes a list of `StackResource` (or `(resource_type, props, urn)` tuples) and
  returns `StackViolation`s, each naming the URN of the offending resource.

During `pulumi preview` values computed by the provider (ids, ARNs, JSON documents built from
them) are unknown: the engine sends sentinel strings instead. A check that meets an unknown value
treats it as "cannot tell" and skips that part; a *missing* value is a violation only where the
property is an input these components always set (or AWS's default for it is the insecure one).
"""

from .codebuild import (
    CODEBUILD_PROJECT,
    PRIVILEGED_BUILDSPECS,
    check_codebuild_buildspec,
    check_codebuild_encrypted_and_logged,
    check_codebuild_privileged,
)
from .codepipeline import (
    PIPELINE,
    PRODUCTION_TAG,
    PRODUCTION_WORDS,
    check_deploy_needs_build_artifact,
    check_pipeline_triggers,
    check_pipeline_v2_encrypted,
    check_prod_pipeline_approval,
    is_production_pipeline,
    may_deploy,
)
from .ecr import ECR_REPOSITORY, check_ecr_repository
from .iam import (
    IAM_ROLE,
    RESOURCE_POLICIES,
    RESOURCE_STAR_ACTIONS,
    SERVICES_WITHOUT_SOURCE_KEYS,
    check_iam_least_privilege,
    check_iam_role_trust,
    check_no_long_lived_credentials,
    check_principal_accounts,
    check_resource_policies,
)
from .kms import KEY_USE_ACTIONS, KMS_KEY, KMS_KEY_POLICY, check_kms_key_policies, check_kms_key_rotation
from .logs import LOG_GROUP, check_log_group_retention
from .normalise import UNKNOWN, UNKNOWN_SENTINELS, dig, is_unknown, plain, principals, too_broad
from .s3 import check_s3_artifact_buckets, denies_insecure_transport
from .secrets import SECRET_NAME, SECRET_VALUES, check_no_plaintext_secrets, looks_like_a_secret
from .sns import SNS_TOPIC, check_sns_topic_encrypted
from .stack import StackResource, StackViolation

__all__ = [
    "CODEBUILD_PROJECT",
    "ECR_REPOSITORY",
    "IAM_ROLE",
    "KEY_USE_ACTIONS",
    "KMS_KEY",
    "KMS_KEY_POLICY",
    "LOG_GROUP",
    "PIPELINE",
    "PRIVILEGED_BUILDSPECS",
    "PRODUCTION_TAG",
    "PRODUCTION_WORDS",
    "RESOURCE_POLICIES",
    "RESOURCE_STAR_ACTIONS",
    "SECRET_NAME",
    "SECRET_VALUES",
    "SERVICES_WITHOUT_SOURCE_KEYS",
    "SNS_TOPIC",
    "UNKNOWN",
    "UNKNOWN_SENTINELS",
    "StackResource",
    "StackViolation",
    "check_codebuild_buildspec",
    "check_codebuild_encrypted_and_logged",
    "check_codebuild_privileged",
    "check_deploy_needs_build_artifact",
    "check_ecr_repository",
    "check_iam_least_privilege",
    "check_iam_role_trust",
    "check_kms_key_policies",
    "check_kms_key_rotation",
    "check_log_group_retention",
    "check_no_long_lived_credentials",
    "check_no_plaintext_secrets",
    "check_pipeline_triggers",
    "check_pipeline_v2_encrypted",
    "check_principal_accounts",
    "check_prod_pipeline_approval",
    "check_resource_policies",
    "check_s3_artifact_buckets",
    "check_sns_topic_encrypted",
    "denies_insecure_transport",
    "dig",
    "is_production_pipeline",
    "is_unknown",
    "looks_like_a_secret",
    "may_deploy",
    "plain",
    "principals",
    "too_broad",
]
