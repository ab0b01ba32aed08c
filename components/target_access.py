"""Cross-account delivery, the target account's side: the role a pipeline in a tooling account
deploys with (issue 15), the least-privilege analogue of `cdk bootstrap --trust`.

CodePipeline runs an action in another account by assuming the action's role with the pipeline's
own role (https://docs.aws.amazon.com/codepipeline/latest/userguide/pipelines-create-cross-account.html).
So the role here trusts exactly that pipeline role, by ARN: not the tooling account's root, not
any role of it. CodePipeline sends no external ID when it assumes an action role, so the binding is
the principal itself: IAM stores it as the role's unique ID, and a role deleted and made again
under the same name is not trusted until this trust is written again
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html#principal-roles).

The role may do what the ECS deploy action does to the named services, and nothing else: update
and describe them, register revisions of their task definition families, pass only their task and
execution roles to ECS tasks, and read the pipeline's artifacts in the tooling account (which that
account's bucket and key policies must grant it too).
"""

import json
from collections.abc import Mapping, Sequence
from typing import Optional, Required, TypedDict

import pulumi
import pulumi_aws as aws

from . import alerts, guardrails, iam, naming
from .account import AwsAccount
from .args import documented, known_keys, like_config
from .artifacts import artifact_folder_pattern, events_encrypt_alerts, key_administration
from .deploy import ecs_deploy_statements
from .iam import Statement, allow
from .inputs import Input
from .topics import encrypted_topic, rules_may_publish, topic_policy


class TargetServiceArgs(TypedDict, total=False):
    """One ECS service the tooling pipeline deploys to in this account."""

    cluster: Required[str]
    """ECS cluster name. Required."""
    service: Required[str]
    """ECS service name. Required."""
    task_family: Required[Input[str]]
    """Its task definition family: the deploy registers revisions of it. Required."""
    task_role_arns: Required[Sequence[Input[str]]]
    """Its task and execution role ARNs, the only roles the deploy may pass. Required."""


class TargetAccountAccessArgs(TypedDict, total=False):
    pipeline_role_arn: Required[Input[str]]
    """The tooling pipeline's own role (`Pipeline.role.arn` there): the only principal trusted. Required."""
    pipeline_name: Required[str]
    """The tooling pipeline's name: the role reads only its folder of the artifact bucket. Required."""
    artifact_bucket_arn: Required[Input[str]]
    """The tooling account's artifact bucket: of this account's region (the tooling stack's
    `regionalArtifactStores` output when that is not the pipeline's region). Required."""
    artifact_key_arn: Required[Input[str]]
    """That bucket's artifact key: the role may decrypt with it. Required."""
    services: Required[Sequence[TargetServiceArgs]]
    """The services the role may deploy to, at least one. Required."""
    role_path: str
    """IAM path of the role. Default `/ecs-cicd/deploy/`."""
    permissions_boundary: Optional[str]
    """Permissions boundary ARN for the role."""
    check_project_role_arn: Input[str]
    """The tooling pipeline's post-deploy check role (`ServiceCheck`'s project role there): when
    given, a check role is made here, trusted by it only, that may only describe the named services
    and task definitions (`check_role_arn`)."""
    alert_emails: Sequence[str]
    """Addresses told when a named service is changed by anyone but this deploy role (or
    Application Auto Scaling): a bypass of the pipeline, seen in this account. The account needs a
    CloudTrail trail (AccountGuardrails `cloud_trail`) for the API calls to reach EventBridge."""
    tags: Mapping[str, str]
    """Tags for every resource."""
    account: AwsAccount
    """This (target) account; looked up with the component's provider when omitted."""


@documented(TargetAccountAccessArgs)
class TargetAccountAccess(pulumi.ComponentResource):
    """In a target account, the deploy role one tooling pipeline assumes: trusted by that pipeline's
    role only, allowed to deploy only the named services. Create it with an `aws.Provider` for the
    target account (`opts=pulumi.ResourceOptions(provider=...)`) from the tooling stack, or in a stack
    of the target account that exports `role_arn` (README, Cross-account delivery)."""

    role_arn: pulumi.Output[str]
    """What the tooling pipeline's deploy action runs as (once its policy exists)."""
    role_name: pulumi.Output[str]
    """The role's name, for alerts and audits in this account."""
    alert_topic_arn: pulumi.Output[str]
    """The encrypted topic this account's bypass alerts publish to."""
    check_role_arn: Optional[pulumi.Output[str]]
    """The role the tooling pipeline's check reads the services as, when `check_project_role_arn` is given."""
    scp_document: pulumi.Output[str]
    """A service control policy for this account (applied by the organization's administrators):
    only the deploy role changes the named services, and only the role running `pulumi up` here
    changes or passes the deploy role."""

    def __init__(self, name: str, args: TargetAccountAccessArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("cicd:index:TargetAccountAccess", name, None, opts)
        known_keys("TargetAccountAccess", name, args, TargetAccountAccessArgs)
        for required in ("pipeline_role_arn", "pipeline_name", "artifact_bucket_arn", "artifact_key_arn", "services"):
            if not args.get(required):
                raise ValueError(f"TargetAccountAccess {name}: {required} is required")
        iam.require_codepipeline_name(f"TargetAccountAccess {name}: pipeline_name", args["pipeline_name"])
        like_config("TargetAccountAccess", name, "notifications.emails", list(args.get("alert_emails", ())))
        services = list(args["services"])
        for index, service in enumerate(services):
            known_keys("TargetAccountAccess", f"{name}.services[{index}]", service, TargetServiceArgs)
            for required in ("cluster", "service", "task_family", "task_role_arns"):
                if required not in service:
                    raise ValueError(f"TargetAccountAccess {name}: services[{index}].{required} is required")
        given = args["pipeline_role_arn"]
        if isinstance(given, str):
            _only_a_role(name, "pipeline_role_arn", given)  # refused before anything is registered
        trusted = pulumi.Output.from_input(given).apply(lambda arn: _only_a_role(name, "pipeline_role_arn", arn))
        account = args.get("account") or AwsAccount.current(pulumi.InvokeOptions(parent=self))

        service_arns = [account.arn("ecs", f"service/{s['cluster']}/{s['service']}") for s in services]
        statements: list[Statement] = []
        for index, (service, service_arn) in enumerate(zip(services, service_arns, strict=True)):
            statements += ecs_deploy_statements(
                account,
                service["cluster"],
                service["service"],
                service_arn,
                service["task_family"],
                service["task_role_arns"],
                sid_suffix=str(index + 1) if len(services) > 1 else "",
            )
        folder = artifact_folder_pattern(args["pipeline_name"])
        statements += [
            allow(
                "ReadThePipelinesArtifacts",
                ["s3:GetObject", "s3:GetObjectVersion"],
                [pulumi.Output.concat(args["artifact_bucket_arn"], "/", folder)],
            ),
            allow("DecryptThePipelinesArtifacts", ["kms:Decrypt"], [args["artifact_key_arn"]]),
        ]
        role = iam.role(
            f"{name}-deploy",
            trust=trusted.apply(iam.trusts_only),
            statements=statements,
            tags=dict(args.get("tags", {})),
            parent=self,
            permissions_boundary=args.get("permissions_boundary"),
            path=args.get("role_path", "/ecs-cicd/deploy/"),
        )
        self.role_arn, self.role_name = role.arn, role.name
        self.check_role_arn = None
        checker = args.get("check_project_role_arn")
        if checker is not None:
            if isinstance(checker, str):
                _only_a_role(name, "check_project_role_arn", checker)
            check = iam.role(
                f"{name}-check",
                trust=pulumi.Output.from_input(checker).apply(
                    lambda arn: iam.trusts_only(_only_a_role(name, "check_project_role_arn", arn))
                ),
                statements=[
                    allow("DescribeTheServices", ["ecs:DescribeServices"], service_arns),
                    # DescribeTaskDefinition has no resource-level permissions.
                    allow("ReadTaskDefinitionNoResourceLevelPermissions", ["ecs:DescribeTaskDefinition"], ["*"]),
                ],
                tags=dict(args.get("tags", {})),
                parent=self,
                permissions_boundary=args.get("permissions_boundary"),
                path=args.get("role_path", "/ecs-cicd/deploy/"),
            )
            self.check_role_arn = check.arn
        self.alert_topic_arn = self._bypass_alerts(name, services, role, account, args)
        self.scp_document = pulumi.Output.all(
            role.role.arn, guardrails.deployer_role(account.caller_arn, parent=self), *service_arns
        ).apply(lambda v: target_scp_document(v[0], v[1], v[2:]))
        self.register_outputs(
            {
                "role_arn": self.role_arn,
                "role_name": self.role_name,
                "alert_topic_arn": self.alert_topic_arn,
                "scp_document": self.scp_document,
                **({"check_role_arn": self.check_role_arn} if self.check_role_arn is not None else {}),
            }
        )

    def _bypass_alerts(
        self, name: str, services: list, role: iam.ScopedRole, account: AwsAccount, args: TargetAccountAccessArgs
    ) -> pulumi.Output[str]:
        """The single-account mode's service-bypass alert, in this account: an update or deletion
        of a named service by anyone but the deploy role and Application Auto Scaling is published to
        a topic encrypted with a key of this account, which only EventBridge of this account may use
        to publish (administrators manage it, cannot use it)."""
        tags = dict(args.get("tags", {}))
        child = pulumi.ResourceOptions(parent=self)
        key = aws.kms.Key(
            f"{name}-alerts-key",
            description=f"{name}: pipeline bypass alerts",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            policy=pulumi.Output.all(account.partition, account.id).apply(lambda a: _alerts_key_policy(*a)),
            tags=tags,
            opts=child,
        )
        topic = encrypted_topic(
            f"{name}-alerts", kms_key_id=key.id, emails=list(args.get("alert_emails", ())), tags=tags, parent=self
        )
        watched = [(s["cluster"], s["service"], [role.name], None) for s in services]
        rules = []
        for index, chunk in enumerate(alerts.chunks(watched, alerts.service_bypass_pattern)):
            suffix = "" if index == 0 else f"-{index + 1}"
            rule = aws.cloudwatch.EventRule(
                naming.logical(naming.EVENT_RULE, f"{name}-alerts", f"service-bypass{suffix}"),
                description="A service the tooling pipeline deploys was changed by someone other than its deploy role",
                event_pattern=pulumi.Output.from_input(alerts.service_bypass_pattern(chunk)).apply(alerts.rendered),
                tags=tags,
                opts=child,
            )
            aws.cloudwatch.EventTarget(
                f"{rule.pulumi_resource_name}-to-topic",
                rule=rule.name,
                arn=topic.arn,
                opts=pulumi.ResourceOptions(parent=rule),
            )
            rules.append(rule)
        topic_policy(
            f"{name}-alerts",
            topic,
            self,
            [rules_may_publish("RulesOfThisAccessPublish", topic, rules)],
        )
        return topic.arn


def _only_a_role(name: str, argument: str, arn: str) -> str:
    return iam.require_role_arn(f"TargetAccountAccess {name}: {argument}", arn)


def target_scp_document(deploy_role_arn: str, deployer_role_arn: str, service_arns: Sequence[str]) -> str:
    """The target account's SCP: no one but the deploy role (and the deployer) updates or deletes
    the named services or their task sets, and no one but the deployer changes or passes the deploy
    role. Service-linked roles (Application Auto Scaling's) are outside every SCP."""
    if not service_arns:
        raise ValueError("target_scp_document: at least one service")
    not_the_deployer = {"ArnNotLike": {"aws:PrincipalArn": deployer_role_arn}}
    statements = [
        {
            "Sid": "OnlyTheDeployRoleDeploysTheServices",
            "Effect": "Deny",
            "Action": guardrails.SERVICE_CHANGES,
            "Resource": sorted(service_arns),
            "Condition": {"ArnNotLike": {"aws:PrincipalArn": sorted({deploy_role_arn, deployer_role_arn})}},
        },
        {
            "Sid": "OnlyTheDeployerChangesTheDeployRole",
            "Effect": "Deny",
            "Action": [
                "iam:AttachRolePolicy",
                "iam:DeleteRole",
                "iam:DeleteRolePermissionsBoundary",
                "iam:DeleteRolePolicy",
                "iam:DetachRolePolicy",
                "iam:PassRole",
                "iam:PutRolePermissionsBoundary",
                "iam:PutRolePolicy",
                "iam:UpdateAssumeRolePolicy",
            ],
            "Resource": deploy_role_arn,
            "Condition": not_the_deployer,
        },
    ]
    document = json.dumps({"Version": "2012-10-17", "Statement": statements}, sort_keys=True)
    if len(document) > guardrails.SCP_MAX_CHARACTERS:
        raise ValueError(
            f"the target account's SCP is {len(document)} characters, over the {guardrails.SCP_MAX_CHARACTERS} "
            "Organizations allows: give fewer services to one TargetAccountAccess"
        )
    return document


def _alerts_key_policy(partition: str, account_id: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                key_administration(f"arn:{partition}:iam::{account_id}:root"),
                events_encrypt_alerts(account_id),
            ],
        },
        sort_keys=True,
    )
