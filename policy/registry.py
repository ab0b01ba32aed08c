"""The policies of the pack, in one list that `__main__.py` and the tests both iterate.

Each entry names its check in `rules`; `kind` says how `__main__.py` wraps it: "resource" checks
become ResourceValidationPolicy, "stack" checks StackValidationPolicy. `risks` are the OWASP Top 10
CI/CD Security Risks (2022) the policy guards against.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

try:
    from . import rules
except ImportError:  # run by the Pulumi CLI, where this directory is on sys.path but is no package
    import rules  # type: ignore[no-redef]

OWASP_CICD_TOP_10 = "https://owasp.org/www-project-top-10-ci-cd-security-risks/"


@dataclass(frozen=True)
class PolicySpec:
    name: str
    description: str
    kind: Literal["resource", "stack"]
    check: Callable[..., list[Any]]
    risks: tuple[str, ...]
    config: tuple[str, ...] = ()
    """Names of the pack-configuration properties the check takes as keyword arguments (CONFIG)."""


# Pack configuration (`pulumi preview --policy-pack policy --policy-pack-config <file>`), as JSON
# schemas; a policy that takes a property lists it in `config`.
CONFIG = {
    "trustedAccounts": {
        "type": "array",
        "items": {"type": "string", "pattern": "^[0-9]{12}$"},
        "default": [],
        "description": "Accounts other than the stack's own whose principals a policy may name (a tooling "
        "account that builds, an audit account).",
    },
    "nonProductionAccounts": {
        "type": "array",
        "items": {"type": "string", "pattern": "^[0-9]{12}$"},
        "default": [],
        "description": "Accounts a production promotion pipeline may deploy into before its approval (dev, "
        "staging): a deploy action that runs as a role of one of them needs no approval before it.",
    },
}


POLICIES: tuple[PolicySpec, ...] = (
    PolicySpec(
        "s3-artifact-bucket-hardened",
        "Every S3 bucket blocks public access, is encrypted with a customer KMS key, is versioned and denies "
        "requests without TLS (a Deny with no condition but aws:SecureTransport false).",
        "stack",
        rules.check_s3_artifact_buckets,
        ("CICD-SEC-7",),
    ),
    PolicySpec(
        "kms-key-rotation",
        "KMS keys rotate their key material at least every year (enableKeyRotation, rotationPeriodInDays <= 365).",
        "resource",
        rules.check_kms_key_rotation,
        ("CICD-SEC-7",),
    ),
    PolicySpec(
        "kms-key-policy-scoped",
        "KMS keys have their own key policy, and it lets only named roles use the key, never the whole account "
        "(its root) or everyone.",
        "stack",
        rules.check_kms_key_policies,
        ("CICD-SEC-7", "CICD-SEC-2"),
    ),
    PolicySpec(
        "codebuild-privileged-only-for-image-builds",
        "Only the approved image buildspec (by SHA-256) may run CodeBuild in privileged mode.",
        "resource",
        rules.check_codebuild_privileged,
        ("CICD-SEC-7",),
    ),
    PolicySpec(
        "codebuild-buildspec-embedded",
        "CodeBuild projects take their source from CodePipeline and embed their buildspec, so the application "
        "repository cannot change the build commands.",
        "resource",
        rules.check_codebuild_buildspec,
        ("CICD-SEC-4",),
    ),
    PolicySpec(
        "no-plaintext-secrets",
        "Secrets come from Secrets Manager or Parameter Store SecureStrings, never plaintext: not in CodeBuild "
        "variables, inline buildspec env, pipeline action variables, pipeline variables, task definition "
        "environments or String SSM parameters (judged by name and by token shape).",
        "resource",
        rules.check_no_plaintext_secrets,
        ("CICD-SEC-6",),
    ),
    PolicySpec(
        "codebuild-encrypted-and-logged",
        "CodeBuild projects encrypt artifacts with a customer KMS key and send build logs to CloudWatch Logs.",
        "resource",
        rules.check_codebuild_encrypted_and_logged,
        ("CICD-SEC-7", "CICD-SEC-10"),
    ),
    PolicySpec(
        "log-groups-retained-and-encrypted",
        "CloudWatch log groups set a retention period and are encrypted with a customer KMS key.",
        "resource",
        rules.check_log_group_retention,
        ("CICD-SEC-7",),
    ),
    PolicySpec(
        "ecr-immutable-and-scanned",
        "ECR repositories have immutable tags (exclusions only for literal tags) and scan images on push.",
        "resource",
        rules.check_ecr_repository,
        ("CICD-SEC-9",),
    ),
    PolicySpec(
        "iam-least-privilege",
        'IAM policies list their actions (no wildcards), use Resource "*" only for actions without resource-level '
        "permissions, scope iam:PassRole and UseConnection, and attach no broad AWS-managed policies.",
        "resource",
        rules.check_iam_least_privilege,
        ("CICD-SEC-2", "CICD-SEC-5", "CICD-SEC-8"),
    ),
    PolicySpec(
        "iam-role-trust-scoped",
        "Role trust policies trust no wildcard principal and no whole account (its root, or a bare account ID), "
        "and pin service principals with aws:SourceAccount and aws:SourceArn.",
        "resource",
        rules.check_iam_role_trust,
        ("CICD-SEC-2",),
    ),
    PolicySpec(
        "resource-policies-scoped",
        'Resource policies (bucket, topic, repository, secret, queue, build project, event bus, log) allow "*" only '
        "with a condition that pins the caller's account, and services only for this account's resources.",
        "resource",
        rules.check_resource_policies,
        ("CICD-SEC-2", "CICD-SEC-8"),
    ),
    PolicySpec(
        "principals-in-known-accounts",
        "No policy lets in a principal of an account other than the stack's own and the pack's trustedAccounts.",
        "stack",
        rules.check_principal_accounts,
        ("CICD-SEC-2", "CICD-SEC-8"),
        config=("trustedAccounts",),
    ),
    PolicySpec(
        "no-long-lived-credentials",
        "No IAM users, access keys, login profiles or stored source tokens: pipelines use roles and connections.",
        "resource",
        rules.check_no_long_lived_credentials,
        ("CICD-SEC-6",),
    ),
    PolicySpec(
        "pipeline-v2-encrypted",
        "Pipelines are type V2 and encrypt every artifact store with a customer KMS key.",
        "resource",
        rules.check_pipeline_v2_encrypted,
        ("CICD-SEC-7",),
    ),
    PolicySpec(
        "prod-pipeline-requires-approval",
        "A production pipeline (tagged ecs-cicd:production, or with an environment tag that names production in "
        "any spelling: prod, prd, production, live) has a manual approval before every action that may deploy "
        "(Deploy, Invoke, Commands or any provider other than CodeBuild).",
        "resource",
        rules.check_prod_pipeline_approval,
        ("CICD-SEC-1",),
        config=("nonProductionAccounts",),
    ),
    PolicySpec(
        "pipeline-triggers-safe",
        "Pull requests never start a pipeline that deploys, and tag pushes start only pipelines with an approval "
        "before every deploy.",
        "resource",
        rules.check_pipeline_triggers,
        ("CICD-SEC-1",),
    ),
    PolicySpec(
        "deploy-needs-build-artifact",
        "Pipeline actions consume only artifacts produced by earlier actions, and deploys consume built artifacts, "
        "not raw source.",
        "resource",
        rules.check_deploy_needs_build_artifact,
        ("CICD-SEC-1",),
    ),
    PolicySpec(
        "sns-topics-encrypted",
        "SNS topics are encrypted with a KMS key.",
        "resource",
        rules.check_sns_topic_encrypted,
        ("CICD-SEC-7",),
    ),
)


def snake_case(name: str) -> str:
    """`trustedAccounts` -> `trusted_accounts`: a configuration property as the check's keyword."""
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name)
