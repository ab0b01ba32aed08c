"""The seed's AWS account practices, each opt-in because each is an account- or region-wide
singleton: a CloudTrail trail, a GuardDuty detector, AWS Config rules for CodeBuild, and a
service control policy document that protects the pipeline from changes outside Pulumi."""

import json
from collections.abc import Mapping, Sequence
from typing import Optional, TypedDict

import pulumi
import pulumi_aws as aws

from . import naming, settings
from .account import AwsAccount
from .args import documented, known_keys
from .artifacts import key_administration
from .buckets import private_bucket
from .iam import deny_insecure_transport
from .inputs import Input

# AWS Config managed rules for CodeBuild named in the seed's "Config Rules" practice.
CODEBUILD_CONFIG_RULES = {
    "codebuild-no-aws-credentials-in-env": "CODEBUILD_PROJECT_ENVVAR_AWSCRED_CHECK",
    "codebuild-source-url-without-tokens": "CODEBUILD_PROJECT_SOURCE_REPO_URL_CHECK",
    "codebuild-logging-enabled": "CODEBUILD_PROJECT_LOGGING_ENABLED",
    "codebuild-artifacts-encrypted": "CODEBUILD_PROJECT_ARTIFACT_ENCRYPTION",
}


class AccountGuardrailsArgs(TypedDict, total=False):
    cloud_trail: bool
    """Create a multi-region trail with log file validation. Default False."""
    guard_duty: bool
    """Enable a GuardDuty detector. Default False."""
    config_rules: bool
    """Add the CodeBuild AWS Config managed rules (needs a Config recorder). Default False."""
    protect: bool
    """Protect the trail bucket from deletion. Default True."""
    tags: Mapping[str, str]
    """Tags for every resource."""
    account: AwsAccount
    """Account context; looked up when omitted."""


@documented(AccountGuardrailsArgs)
class AccountGuardrails(pulumi.ComponentResource):
    trail: Optional[aws.cloudtrail.Trail] = None
    detector: Optional[aws.guardduty.Detector] = None

    def __init__(self, name: str, args: AccountGuardrailsArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("cicd:index:AccountGuardrails", name, None, opts)
        known_keys("AccountGuardrails", name, args, AccountGuardrailsArgs)
        tags = dict(args.get("tags", {}))
        account = args.get("account") or AwsAccount.current()
        child = pulumi.ResourceOptions(parent=self)
        if args.get("cloud_trail"):
            self.trail = _trail(name, account, tags, self, args.get("protect", True))
        if args.get("guard_duty"):
            self.detector = aws.guardduty.Detector(f"{name}-guardduty", enable=True, tags=tags, opts=child)
        if args.get("config_rules"):
            for rule_name, identifier in CODEBUILD_CONFIG_RULES.items():
                aws.cfg.Rule(
                    f"{name}-{rule_name}",
                    name=naming.physical(naming.CONFIG_RULE, name, rule_name),
                    source={"owner": "AWS", "source_identifier": identifier},
                    scope={"compliance_resource_types": ["AWS::CodeBuild::Project"]},
                    tags=tags,
                    opts=child,
                )
        self.register_outputs({})


def _trail(name: str, account: AwsAccount, tags: dict, parent: pulumi.Resource, protect: bool) -> aws.cloudtrail.Trail:
    trail_name = naming.physical(naming.CLOUDTRAIL_TRAIL, name, "trail")
    trail_arn = account.arn("cloudtrail", f"trail/{trail_name}")
    key = aws.kms.Key(
        f"{name}-trail-key",
        description=f"{name}: CloudTrail log files",
        enable_key_rotation=True,
        deletion_window_in_days=30,
        policy=pulumi.Output.all(account.partition, account.id, account.region, trail_arn).apply(
            lambda a: _trail_key_policy(f"arn:{a[0]}:iam::{a[1]}:root", a[1], a[2], a[3])
        ),
        tags=tags,
        opts=pulumi.ResourceOptions(parent=parent, protect=protect),
    )
    # The audit trail's bucket is never force-destroyed with its logs, protected stack or not.
    bucket, public_access = private_bucket(
        f"{name}-trail", kms_key_arn=key.arn, tags=tags, parent=parent, protect=protect, force_destroy=False
    )
    policy = aws.s3.BucketPolicy(
        f"{name}-trail-bucket-policy",
        bucket=bucket.id,
        policy=pulumi.Output.all(bucket.arn, account.id, trail_arn).apply(lambda a: _trail_bucket_policy(*a)),
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[public_access]),
    )
    return aws.cloudtrail.Trail(
        f"{name}-trail",
        name=trail_name,
        s3_bucket_name=bucket.bucket,
        # The trail names its key, or CloudTrail writes with SSE-S3 and the key is never used.
        kms_key_id=key.arn,
        is_multi_region_trail=True,
        include_global_service_events=True,
        enable_log_file_validation=True,
        tags=tags,
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[policy]),
    )


def _trail_key_policy(root: str, account_id: str, region: str, trail_arn: str) -> str:
    """CloudTrail may encrypt this trail's logs; people of the account read them only through S3."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                key_administration(root),
                {
                    "Sid": "CloudTrailEncryptsThisTrail",
                    "Effect": "Allow",
                    "Principal": {"Service": "cloudtrail.amazonaws.com"},
                    "Action": ["kms:DescribeKey", "kms:GenerateDataKey"],
                    "Resource": "*",
                    "Condition": {"StringEquals": {"aws:SourceArn": trail_arn}},
                },
                {
                    "Sid": "ReadLogsThroughS3Only",
                    "Effect": "Allow",
                    "Principal": {"AWS": root},
                    "Action": ["kms:Decrypt"],
                    "Resource": "*",
                    "Condition": {
                        "StringEquals": {
                            "kms:CallerAccount": account_id,
                            "kms:ViaService": f"s3.{region}.amazonaws.com",
                        }
                    },
                },
            ],
        },
        sort_keys=True,
    )


def _trail_bucket_policy(bucket_arn: str, account_id: str, trail_arn: str) -> str:
    from_this_trail = {"StringEquals": {"aws:SourceArn": trail_arn}}
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "TrailChecksAcl",
                    "Effect": "Allow",
                    "Principal": {"Service": "cloudtrail.amazonaws.com"},
                    "Action": "s3:GetBucketAcl",
                    "Resource": bucket_arn,
                    "Condition": from_this_trail,
                },
                {
                    "Sid": "TrailWritesLogs",
                    "Effect": "Allow",
                    "Principal": {"Service": "cloudtrail.amazonaws.com"},
                    "Action": "s3:PutObject",
                    "Resource": f"{bucket_arn}/AWSLogs/{account_id}/*",
                    "Condition": {
                        "StringEquals": {"aws:SourceArn": trail_arn, "s3:x-amz-acl": "bucket-owner-full-control"}
                    },
                },
                # A Deny for every S3 action over plain HTTP: a wildcard that takes rights away.
                deny_insecure_transport("s3:*", [bucket_arn, f"{bucket_arn}/*"]),
            ],
        },
        sort_keys=True,
    )


# The tag every resource of a stack carries; the SCP protects what carries it. Users' own tags
# cannot use the `ecs-cicd:` prefix (config_schema), so no one sets it by accident.
STACK_TAG = settings.STACK_TAG

# Organizations: "Maximum size of a policy document: Service control policies: 5120 characters"
# https://docs.aws.amazon.com/organizations/latest/userguide/orgs_reference_limits.html
SCP_MAX_CHARACTERS = 5120


# What changes an existing ECS service or what it runs (both SCPs deny it to all but the deployers).
SERVICE_CHANGES = [
    "ecs:CreateTaskSet",
    "ecs:DeleteService",
    "ecs:DeleteTaskSet",
    "ecs:UpdateService",
    "ecs:UpdateServicePrimaryTaskSet",
    "ecs:UpdateTaskSet",
]


def scp_document(
    stack: str,
    role_pattern: str,
    deployer_role_arn: str,
    pipeline_role_pattern: Optional[str] = None,
    operator_role_arns: Sequence[str] = (),
    forwarder_rules: Optional[str] = None,
    artifact_bucket_arn: "Optional[str | Sequence[str]]" = None,
    deploy_role_patterns: Sequence[str] = (),
) -> str:
    """A service control policy (for AWS Organizations, applied by its administrators) that stops
    anyone but the deploying role changing or deleting this stack's pipelines, build projects and
    roles, anyone but the pipelines running its builds (a build with a buildspec or source override
    would run any command as the build's role), and anyone but the deployer and the operators
    starting, stopping, retrying or approving its pipelines: no bypass of the delivery process
    through the console or a stray script (CICD-SEC-1, CICD-SEC-5).

    It names what it protects by the stack tag and the roles' IAM path, not one ARN each, so it
    stays the same size for one service or a hundred (an SCP may hold 5,120 characters).

    SCPs do not apply to service-linked roles (ECS's, Application Auto Scaling's), so the load
    balancer and scaling work AWS does for the services is never denied.
    https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_scps.html"""
    not_the_deployer = {"ArnNotLike": {"aws:PrincipalArn": deployer_role_arn}}
    operators = sorted({deployer_role_arn, *operator_role_arns})
    tagged = {"StringEquals": {f"aws:ResourceTag/{STACK_TAG}": stack}}
    statements = [
        {
            "Sid": "OnlyTheDeployerChangesThePipelines",
            "Effect": "Deny",
            "Action": [
                "codebuild:DeleteProject",
                "codebuild:UpdateProject",
                "codebuild:UpdateProjectVisibility",
                "codepipeline:DeletePipeline",
                "codepipeline:UpdatePipeline",
            ],
            "Resource": "*",
            "Condition": {**tagged, **not_the_deployer},
        },
        {
            # The path also stops anyone else creating a role there, which the artifact key trusts.
            "Sid": "OnlyTheDeployerChangesTheRoles",
            "Effect": "Deny",
            "Action": [
                "iam:AttachRolePolicy",
                "iam:CreateRole",
                "iam:DeleteRole",
                "iam:DeleteRolePermissionsBoundary",
                "iam:DeleteRolePolicy",
                "iam:DetachRolePolicy",
                "iam:PutRolePermissionsBoundary",
                "iam:PutRolePolicy",
                "iam:TagRole",
                "iam:UntagRole",
                "iam:UpdateAssumeRolePolicy",
            ],
            "Resource": role_pattern,
            "Condition": not_the_deployer,
        },
        {
            "Sid": "OnlyTheDeployerMovesTheStackTag",
            "Effect": "Deny",
            "Action": ["codebuild:UpdateProject", "codepipeline:TagResource", "codepipeline:UntagResource"],
            "Resource": "*",
            "Condition": {"ForAnyValue:StringEquals": {"aws:TagKeys": [STACK_TAG]}, **not_the_deployer},
        },
        {
            # A new pipeline (or project) given this stack's pipeline role would run its builds and
            # deploys with no approval: only the deployer passes those roles to anything.
            "Sid": "OnlyTheDeployerPassesThePipelineRoles",
            "Effect": "Deny",
            "Action": "iam:PassRole",
            "Resource": pipeline_role_pattern or role_pattern,
            "Condition": not_the_deployer,
        },
        {
            # What changes what runs: only the deploy roles (and CodeDeploy's, on the pipeline path),
            # the runtime roles ECS uses for traffic, and the deployer.
            "Sid": "OnlyThePipelinesDeploy",
            "Effect": "Deny",
            "Action": [
                "codedeploy:CreateDeployment",
                "ecs:CreateService",
                *SERVICE_CHANGES,
                "elasticloadbalancing:DeregisterTargets",
                "elasticloadbalancing:ModifyListener",
                "elasticloadbalancing:ModifyRule",
                "elasticloadbalancing:RegisterTargets",
            ],
            "Resource": "*",
            "Condition": {
                **tagged,
                "ArnNotLike": {
                    "aws:PrincipalArn": sorted({deployer_role_arn, *(deploy_role_patterns or [role_pattern])})
                },
            },
        },
        {
            # The keys the artifacts and logs are encrypted with, and the topic alerts go to.
            "Sid": "OnlyTheDeployerManagesKeysAndTopics",
            "Effect": "Deny",
            "Action": [
                "kms:DisableKey",
                "kms:PutKeyPolicy",
                "kms:ScheduleKeyDeletion",
                "kms:UntagResource",
                "sns:DeleteTopic",
                "sns:SetTopicAttributes",
                "sns:Subscribe",
                "sns:Unsubscribe",
                "sns:UntagResource",
            ],
            "Resource": "*",
            "Condition": {**tagged, **not_the_deployer},
        },
        {
            "Sid": "OnlyTheOperatorsRunThePipelines",
            "Effect": "Deny",
            "Action": [
                "codepipeline:OverrideStageCondition",
                "codepipeline:PutApprovalResult",
                "codepipeline:RetryStageExecution",
                "codepipeline:RollbackStage",
                "codepipeline:StartPipelineExecution",
                "codepipeline:StopPipelineExecution",
            ],
            "Resource": "*",
            "Condition": {**tagged, "ArnNotLike": {"aws:PrincipalArn": operators}},
        },
    ]
    alert_actions = [
        "events:DeleteRule",
        "events:DisableRule",
        "events:PutRule",
        "events:PutTargets",
        "events:RemoveTargets",
        # Untagging a rule first would take it out of the tag condition below.
        "events:UntagResource",
    ]
    statements.append(
        {
            "Sid": "OnlyTheDeployerChangesTheAlerts",
            "Effect": "Deny",
            "Action": alert_actions,
            "Resource": "*",
            "Condition": {**tagged, **not_the_deployer},
        }
    )
    if forwarder_rules:
        # Nor creates a rule named like the forwarders, which their role trusts.
        statements.append(
            {
                "Sid": "OnlyTheDeployerMakesForwardingRules",
                "Effect": "Deny",
                "Action": alert_actions,
                "Resource": forwarder_rules,
                "Condition": not_the_deployer,
            }
        )
    buckets = [artifact_bucket_arn] if isinstance(artifact_bucket_arn, str) else list(artifact_bucket_arn or ())
    if buckets:
        statements.append(
            {
                # The bucket policy is what stops an artifact being swapped while a deploy waits.
                "Sid": "OnlyTheDeployerChangesTheArtifactBucket",
                "Effect": "Deny",
                "Action": [
                    "s3:DeleteBucketPolicy",
                    "s3:PutBucketPolicy",
                    "s3:PutBucketVersioning",
                    "s3:PutEncryptionConfiguration",
                    "s3:PutLifecycleConfiguration",
                ],
                # With promotion targets in other regions, the stores there too.
                "Resource": buckets[0] if len(buckets) == 1 else buckets,
                "Condition": not_the_deployer,
            }
        )
    if pipeline_role_pattern:
        statements.append(
            {
                "Sid": "OnlyThePipelinesRunTheBuilds",
                "Effect": "Deny",
                "Action": [
                    "codebuild:RetryBuild",
                    "codebuild:RetryBuildBatch",
                    "codebuild:StartBuild",
                    "codebuild:StartBuildBatch",
                ],
                "Resource": "*",
                "Condition": {**tagged, "ArnNotLike": {"aws:PrincipalArn": pipeline_role_pattern}},
            }
        )
    return json.dumps({"Version": "2012-10-17", "Statement": statements}, sort_keys=True, separators=(",", ":"))


def deployer_role_arn(caller_arn: str) -> str:
    """The IAM role behind an assumed-role session ARN (what `pulumi up` runs as), by name: an
    assumed-role ARN never shows the role's path (`deployer_role` reads the real ARN)."""
    parts = caller_arn.split(":")
    if len(parts) == 6 and parts[2] == "sts" and parts[5].startswith("assumed-role/"):
        return f"arn:{parts[1]}:iam::{parts[4]}:role/{parts[5].split('/')[1]}"
    return caller_arn


def deployer_role(caller_arn: Input[str], parent: Optional[pulumi.Resource] = None) -> pulumi.Output[str]:
    """The ARN of the role `pulumi up` runs as, with its IAM path: `aws:PrincipalArn` and the
    sessions' `sessionIssuer.arn` carry the path (IAM Identity Center roles live under
    `/aws-reserved/sso.amazonaws.com/`), and an SCP or alert naming the role without it would
    match no one. A user or root is named as it is."""

    def resolve(arn: str) -> pulumi.Output[str]:
        parts = arn.split(":")
        if len(parts) == 6 and parts[2] == "sts" and parts[5].startswith("assumed-role/"):
            name = parts[5].split("/")[1]
            return aws.iam.get_role_output(name=name, opts=pulumi.InvokeOutputOptions(parent=parent)).arn
        return pulumi.Output.from_input(arn)

    return pulumi.Output.from_input(caller_arn).apply(resolve)
