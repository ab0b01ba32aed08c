"""Logging and visibility (CICD-SEC-10): EventBridge rules that tell people, through a
KMS-encrypted SNS topic, when a pipeline fails, when someone changes a pipeline, its build
projects, its connection or its roles, and when an ECS service is updated by anyone other than
the principals expected to (a bypass of the pipeline).

One set of rules per stack, not per pipeline: each rule watches every pipeline of the stack, and a
rule is split only when its event pattern would pass EventBridge's size limit. So a stack of 100
services needs a handful of rules, far inside the 300 rules a bus allows.

The API-call rules match CloudTrail events: the account needs a trail (`guardrails.cloudTrail`
creates one). IAM is a global service whose CloudTrail events reach EventBridge in us-east-1 only:
in any other home region a rule in us-east-1 forwards them to the home region's default bus,
where the role rule sees them like any other event.
"""

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Optional, Required, TypedDict

import pulumi
import pulumi_aws as aws

from . import iam, limits, naming
from .account import AwsAccount
from .args import documented, known_keys, like_config
from .artifacts import ArtifactStore
from .iam import allow
from .inputs import Input
from .topics import encrypted_topic, rules_may_publish, topic_policy

CLOUDTRAIL = "AWS API Call via CloudTrail"
# "Event pattern size: 2,048 (default), adjustable: maximum size of an event pattern, in characters"
# (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-quota.html). PutRule's model allows
# 4,096 (https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutRule.html), but only
# after a quota increase the account has not asked for: a pattern over 2,048 fails at `pulumi up`.
EVENT_PATTERN_MAX = limits.EVENT_PATTERN_DEFAULT_QUOTA
# "Rules per event bus: 300 (default), adjustable"
# (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-quota.html; limits.QUOTAS).
RULES_PER_BUS = limits.QUOTAS["aws:cloudwatch/eventRule:EventRule"].default
# IAM, a global service, delivers its CloudTrail events to EventBridge in US East (N. Virginia) only.
# https://docs.aws.amazon.com/eventbridge/latest/ref/events-ref-iam.html
GLOBAL_EVENTS_REGION = "us-east-1"
# Application Auto Scaling calls ecs:UpdateService itself, through this service-linked role, on
# every scale event: not a bypass of the pipeline.
# https://docs.aws.amazon.com/autoscaling/application/userguide/application-auto-scaling-service-linked-roles.html
AUTOSCALING_ROLE = "AWSServiceRoleForApplicationAutoScaling_ECSService"

# What an output in a pattern is counted as, to split rules before the values are known: role
# names (64), pipeline names (100) and connection ARNs (about 100) are all shorter.
_ROLE_NAME_MAX = naming.RULES[naming.IAM_ROLE].max_length
_OUTPUT_MAX = 128


class WatchedPipelineArgs(TypedDict, total=False):
    """One pipeline and what it is made of."""

    pipeline_name: Required[Input[str]]
    """The pipeline to watch. Required."""
    validation_pipeline_name: Input[str]
    """Its pull-request pipeline, if any: changes to it are reported, its failures are not (a
    failing pull request is news for its author, not an alert)."""
    project_names: Sequence[Input[str]]
    """CodeBuild projects whose changes are reported."""
    role_names: Sequence[Input[str]]
    """IAM roles whose changes are reported."""
    connection_arn: Input[str]
    """The GitHub connection whose changes are reported."""
    cluster: str
    """ECS cluster of the service. Required with a service."""
    service: Required[Optional[str]]
    """ECS service name: updates by anyone but `service_callers` are reported. Required: None for a
    pipeline that deploys no service in this account (a promotion's tooling stack: each target
    account's `TargetAccountAccess` watches its own), said explicitly so that no bypass alert is
    lost to an omission."""
    service_callers: Sequence[Input[str]]
    """Names of the roles expected to update the service (the deploy action's role). Required with a
    service."""
    deployment_group: Sequence[Input[str]]
    """[CodeDeploy application, deployment group] of a blue/green deploy: a deployment created in it
    by anyone but `service_callers` is reported."""
    task_set_callers: Sequence[Input[str]]
    """Names of the roles expected to change the service's task sets (the deployment group's
    CodeDeploy role). When given, a task set created, changed or promoted by anyone else is reported;
    leave it out for a deployment group made elsewhere, whose role this stack does not know."""


class PipelineAlertsArgs(TypedDict, total=False):
    artifact_store: ArtifactStore
    """Its KMS key encrypts the alert topic. Required."""
    pipelines: Required[Mapping[str, WatchedPipelineArgs]]
    """The pipelines to watch, by a short name. Required."""
    expected_service_callers: Sequence[Input[str]]
    """Role names that may update any watched service besides its deploy role: the role that runs
    `pulumi up`, say. Application Auto Scaling's service-linked role is always expected."""
    pipeline_role_pattern: Input[str]
    """ARN pattern of the roles the pipelines run as (`arn:...:role/<path>*`, `iam.RolePaths`): a
    build started by any other principal is reported. Without it, every build started outside
    CodePipeline's own roles cannot be told apart, and no build alert is made."""
    operator_role_arns: Sequence[Input[str]]
    """Roles that may start, stop, retry and approve the pipelines (the deployer among them): any
    other principal doing so is reported."""
    home_region: Optional[str]
    """The stack's region. Outside us-east-1 the IAM events are forwarded from there; when None,
    the role rule catches IAM events only if the stack is in us-east-1."""
    emails: Sequence[str]
    """Addresses subscribed to the alert topic."""
    tags: Mapping[str, str]
    """Tags for every resource."""
    permissions_boundary: Optional[str]
    """Permissions boundary ARN for the role that forwards IAM's events from us-east-1."""
    provider_settings: Mapping[str, Any]
    """Account and credential arguments of the stack's AWS provider (profile, assume_roles,
    allowed_account_ids, ...): the us-east-1 provider is given the same."""
    role_path: str
    """IAM path of the roles created here (`iam.RolePaths`). Default `/`."""
    account: AwsAccount
    """Account context; looked up when omitted."""


@dataclass(frozen=True)
class _Watch:
    """One kind of alert: what it says, and how to build its pattern from some of the watched values."""

    description: str
    pattern: Callable[[list], dict]
    output_max: int = 128
    """The longest an output among the values can be (role names: 64)."""


@documented(PipelineAlertsArgs)
class PipelineAlerts(pulumi.ComponentResource):
    """One encrypted topic per stack, and the rules that feed it."""

    topic: aws.sns.Topic
    rules: dict[str, aws.cloudwatch.EventRule]
    patterns: dict[str, pulumi.Output[str]]
    roles: list[iam.ScopedRole]
    """The roles EventBridge forwards IAM's events with (none in us-east-1)."""
    forwarder_rules: Optional[pulumi.Output[str]]
    """ARN pattern of the forwarding rules in us-east-1 (for the SCP), or None."""

    def __init__(self, name: str, args: PipelineAlertsArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("cicd:index:PipelineAlerts", name, None, opts)
        known_keys("PipelineAlerts", name, args, PipelineAlertsArgs)
        if "artifact_store" not in args or not args.get("pipelines"):
            raise ValueError(f"PipelineAlerts {name}: artifact_store and pipelines are required")
        for key, watched in args["pipelines"].items():
            for required in ("pipeline_name", "service"):
                if required not in watched:
                    raise ValueError(
                        f"PipelineAlerts {name}: pipelines[{key}].{required} is required"
                        + (
                            " (None for a pipeline that deploys no service in this account)"
                            if required == "service"
                            else ""
                        )
                    )
            missing = [k for k in ("cluster", "service_callers") if watched["service"] is not None and k not in watched]
            if missing:
                raise ValueError(
                    f"PipelineAlerts {name}: pipelines[{key}] names a service without {', '.join(missing)}; give "
                    "cluster, service and service_callers together"
                )
        tags = dict(args.get("tags", {}))
        like_config("PipelineAlerts", name, "notifications.emails", list(args.get("emails", ())))
        self.topic = encrypted_topic(
            name, kms_key_id=args["artifact_store"].key.id, emails=args.get("emails", ()), tags=tags, parent=self
        )
        account = args.get("account") or AwsAccount.current()
        watched = list(args["pipelines"].values())
        callers = [AUTOSCALING_ROLE, *args.get("expected_service_callers", ())]

        self.rules, self.patterns, self.roles = {}, {}, []
        home = args.get("home_region")
        forwarder = None
        if home is not None and home != GLOBAL_EVENTS_REGION:
            # The role first, so that the role rule watches it too.
            forwarder = _Forwarder(
                self,
                name,
                home,
                account,
                args.get("permissions_boundary"),
                args.get("role_path", "/"),
                tags,
                dict(args.get("provider_settings", {})),
            )
            self.roles.append(forwarder.role)
        self.forwarder_rules = forwarder.rules_pattern if forwarder is not None else None
        extra_roles = [r.name for r in self.roles]
        kinds = _watches(watched, callers, extra_roles)
        kinds += _operation_watches(
            watched, args.get("pipeline_role_pattern"), list(args.get("operator_role_arns", ()))
        )
        chunked = [(kind, watch, _chunks(values, watch.pattern, watch.output_max)) for kind, watch, values in kinds]
        needed = sum(len(chunks) for _, _, chunks in chunked)
        if needed > RULES_PER_BUS:
            raise ValueError(
                f"PipelineAlerts {name}: the stack's alerts need {needed} rules on the default event bus, over "
                f"EventBridge's {RULES_PER_BUS} per bus: split the stack's services into two stacks, or shorten "
                "their names (service, cluster and pipeline names are what the rules list)"
            )
        for kind, watch, chunks in chunked:
            for index, chunk in enumerate(chunks):
                key = kind if index == 0 else f"{kind}-{index + 1}"
                self._rule(name, key, watch.description, watch.pattern(chunk), tags)
                if forwarder is not None and kind == "roles-changed":
                    forwarder.forward(index, watch.pattern(chunk))

        topic_policy(
            name,
            self.topic,
            self,
            [rules_may_publish("RulesOfThisStackPublish", self.topic, list(self.rules.values()))],
        )
        self.register_outputs({"topic_arn": self.topic.arn})

    def _rule(self, name: str, key: str, description: str, pattern: dict, tags: dict) -> None:
        rendered = pulumi.Output.from_input(pattern).apply(_rendered)
        rule = aws.cloudwatch.EventRule(
            naming.logical(naming.EVENT_RULE, name, key),
            description=description,
            event_pattern=rendered,
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self),
        )
        aws.cloudwatch.EventTarget(
            f"{rule.pulumi_resource_name}-to-topic",
            rule=rule.name,
            arn=self.topic.arn,
            opts=pulumi.ResourceOptions(parent=rule),
        )
        self.rules[key] = rule
        self.patterns[key] = rendered


class _Forwarder:
    """Rules in us-east-1 that send IAM's events to the home region's default bus (a cross-Region
    event bus target, which needs a role EventBridge assumes to put the events there), and that
    role. The rules have names the program sets, so the role can trust exactly them."""

    def __init__(
        self,
        parent: pulumi.Resource,
        name: str,
        home: str,
        account: AwsAccount,
        boundary: Optional[str],
        path: str,
        tags: dict,
        provider_settings: dict,
    ):
        self.parent, self.name, self.home, self.tags = parent, name, home, tags
        rule = naming.RULES[naming.EVENT_RULE]
        # The home region is in the name: one stack name in two regions makes two rules in us-east-1.
        self.rule_prefix = naming.fit(rule, (name, home, "iam-events"), rule.max_length - 3)
        self.provider = aws.Provider(
            f"{name}-{GLOBAL_EVENTS_REGION}",
            region=GLOBAL_EVENTS_REGION,
            default_tags={"tags": tags},
            **provider_settings,
            opts=pulumi.ResourceOptions(parent=parent),
        )
        self.home_bus = pulumi.Output.format(
            "arn:{0}:events:{1}:{2}:event-bus/default", account.partition, home, account.id
        )
        # Every forwarding rule's name starts with the prefix: the role trusts rules of that prefix in
        # us-east-1 (a list of each rule's ARN would pass IAM's 2,048-character trust policy limit
        # at 100 services). The SCP keeps others from creating rules there.
        self.rules_pattern = pulumi.Output.format(
            "arn:{0}:events:{1}:{2}:rule/{3}*", account.partition, GLOBAL_EVENTS_REGION, account.id, self.rule_prefix
        )
        rules_here = self.rules_pattern
        self.role = iam.service_role(
            f"{name}-forward-iam-events",
            service="events.amazonaws.com",
            source_arn=rules_here,
            statements=[allow("PutOnTheHomeBus", ["events:PutEvents"], [self.home_bus])],
            account=account,
            tags=tags,
            parent=parent,
            permissions_boundary=boundary,
            path=path,
        )

    def _rule_name(self, index: int) -> str:
        return self.rule_prefix if index == 0 else f"{self.rule_prefix}-{index + 1}"

    def forward(self, index: int, pattern: dict) -> None:
        suffix = "" if index == 0 else f"-{index + 1}"
        in_us_east_1 = pulumi.ResourceOptions(parent=self.parent, provider=self.provider)
        rule = aws.cloudwatch.EventRule(
            f"{self.name}-forward-iam-events{suffix}",
            name=self._rule_name(index),
            description=f"Forwards IAM events about the pipeline roles to {self.home}, where the alert rules are",
            event_pattern=pulumi.Output.from_input(pattern).apply(_rendered),
            tags=self.tags,
            opts=in_us_east_1,
        )
        aws.cloudwatch.EventTarget(
            f"{self.name}-forward-iam-events{suffix}-to-{self.home}",
            rule=rule.name,
            arn=self.home_bus,
            role_arn=self.role.arn,
            opts=pulumi.ResourceOptions(parent=rule, provider=self.provider),
        )


def _watches(watched: list[WatchedPipelineArgs], callers: list, extra_roles: list) -> list[tuple[str, _Watch, list]]:
    """Every kind of alert with the values it watches across the stack's pipelines."""
    pipelines = [w["pipeline_name"] for w in watched]
    changeable = pipelines + [name for w in watched if (name := w.get("validation_pipeline_name"))]
    projects = _unique([p for w in watched for p in w.get("project_names", ())])
    roles = _unique([r for w in watched for r in w.get("role_names", ())] + list(extra_roles))
    connections = _unique([arn for w in watched if (arn := w.get("connection_arn"))])
    services = [
        (w.get("cluster"), name, list(w.get("service_callers", ())), w.get("task_set_callers"))
        for w in watched
        if (name := w.get("service")) is not None
    ]
    groups = [(*group, list(w.get("service_callers", ()))) for w in watched if (group := w.get("deployment_group"))]
    kinds = [
        ("pipeline-failed", _Watch("A pipeline failed", _pipeline_failed), pipelines),
        (
            "pipeline-changed",
            _Watch("Someone changed or deleted a pipeline", _pipeline_changed),
            changeable,
        ),
        (
            "projects-changed",
            _Watch("Someone changed or deleted a build project of a pipeline", _projects_changed),
            projects,
        ),
        (
            "connection-changed",
            _Watch("Someone changed or deleted the GitHub connection", _connection_changed),
            connections,
        ),
        (
            "roles-changed",
            _Watch("Someone changed the permissions or trust of a pipeline role", _roles_changed, _ROLE_NAME_MAX),
            roles,
        ),
        (
            "service-bypass",
            _Watch(
                "An ECS service or its task sets were changed by someone other than its pipeline (a bypass)",
                lambda chunk: _service_bypass(chunk, callers),
                _ROLE_NAME_MAX,  # the outputs among the values are the callers' role names
            ),
            services,
        ),
        (
            "deployment-bypass",
            _Watch(
                "A CodeDeploy deployment was created by someone other than its pipeline (a bypass)",
                lambda chunk: _deployment_bypass(chunk, callers),
            ),
            groups,
        ),
    ]
    return [(kind, watch, values) for kind, watch, values in kinds if values]


def _operation_watches(
    watched: list[WatchedPipelineArgs], pipeline_role_pattern: Optional[Input[str]], operators: list
) -> list[tuple[str, _Watch, list]]:
    """Builds started by anyone but a pipeline, pipelines operated by anyone but an operator, and
    any execution started on a source revision of someone's choosing (CICD-SEC-1, CICD-SEC-5)."""
    pipelines = [w["pipeline_name"] for w in watched]
    pipelines += [name for w in watched if (name := w.get("validation_pipeline_name"))]
    projects = _unique([p for w in watched for p in w.get("project_names", ())])
    kinds = [
        (
            "source-override",
            _Watch("A pipeline was started on a source revision of someone's choosing", _source_override),
            pipelines,
        )
    ]
    if operators:
        kinds.append(
            (
                "pipeline-operated",
                _Watch(
                    "A pipeline was started, stopped, retried or approved by someone who is not an operator",
                    lambda chunk: _pipeline_operated(chunk, operators),
                ),
                pipelines,
            )
        )
    if pipeline_role_pattern is not None and operators:
        role_prefix = pulumi.Output.from_input(pipeline_role_pattern).apply(lambda p: p.rstrip("*"))
        kinds.append(
            (
                "pipeline-role-reused",
                # One rule whatever the stack's size: the pattern names the role path, not pipelines.
                _Watch(
                    "A pipeline was created or changed to run as this stack's pipeline role by someone other "
                    "than the deployer",
                    lambda _: _pipeline_role_reused(role_prefix, operators),
                ),
                ["*"],
            )
        )
    if pipeline_role_pattern is not None and projects:
        prefix = pulumi.Output.from_input(pipeline_role_pattern).apply(lambda p: p.rstrip("*"))
        kinds.append(
            (
                "builds-outside-pipelines",
                _Watch(
                    "A build project of a pipeline was run by someone other than a pipeline",
                    lambda chunk: _build_outside_pipelines(chunk, prefix),
                ),
                projects,
            )
        )
    return kinds


def _pipeline_role_reused(role_prefix: pulumi.Output, operators: list) -> dict:
    # CreatePipeline and UpdatePipeline send the whole declaration, its role as `pipeline.roleArn`
    # (https://docs.aws.amazon.com/codepipeline/latest/APIReference/API_PipelineDeclaration.html).
    return _api_call(
        "aws.codepipeline",
        {
            "eventName": ["CreatePipeline", "UpdatePipeline"],
            "$or": _not_by(
                {"anything-but": operators}, {"requestParameters": {"pipeline": {"roleArn": [{"prefix": role_prefix}]}}}
            ),
        },
    )


def _not_by(callers: dict, *matches: dict) -> list[dict]:
    """`$or` branches: each of `matches`, made by a principal that is not an assumed role (a user,
    root) or by a role other than `callers` (one flat `$or`: EventBridge documents no nesting)."""
    return [
        {**match, "userIdentity": identity}
        for match in matches
        for identity in (
            {"type": [{"anything-but": "AssumedRole"}]},
            {"sessionContext": {"sessionIssuer": {"arn": [callers]}}},
        )
    ]


def _source_override(names: list) -> dict:
    # StartPipelineExecution sends `name` and, to run other revisions than the trigger's, `sourceRevisions`.
    return _api_call(
        "aws.codepipeline",
        {
            "eventName": ["StartPipelineExecution"],
            "requestParameters": {"name": names, "sourceRevisions": [{"exists": True}]},
        },
    )


def _pipeline_operated(names: list, operators: list) -> dict:
    # StartPipelineExecution sends the pipeline's `name`; StopPipelineExecution, RetryStageExecution,
    # RollbackStage, OverrideStageCondition and PutApprovalResult send `pipelineName`.
    return _api_call(
        "aws.codepipeline",
        {
            "eventName": [
                "OverrideStageCondition",
                "PutApprovalResult",
                "RetryStageExecution",
                "RollbackStage",
                "StartPipelineExecution",
                "StopPipelineExecution",
            ],
            "$or": _not_by(
                {"anything-but": operators},
                {"requestParameters": {"name": names}},
                {"requestParameters": {"pipelineName": names}},
            ),
        },
    )


def _build_outside_pipelines(names: list, pipeline_role_prefix: pulumi.Output) -> dict:
    # StartBuild and StartBuildBatch send `projectName`; RetryBuild and RetryBuildBatch `id`,
    # which is `<project>:<build id>` or the build's ARN.
    return _api_call(
        "aws.codebuild",
        {
            "eventName": ["RetryBuild", "RetryBuildBatch", "StartBuild", "StartBuildBatch"],
            "$or": _not_by(
                {"anything-but": {"prefix": pipeline_role_prefix}},
                {"requestParameters": {"projectName": names}},
                {"requestParameters": {"id": [{"prefix": _concat(n, ":")} for n in names]}},
            ),
        },
    )


def _pipeline_failed(names: list) -> dict:
    # The execution state change event carries the pipeline's name in detail.pipeline.
    # https://docs.aws.amazon.com/codepipeline/latest/userguide/detect-state-changes-cloudwatch-events.html
    return {
        "source": ["aws.codepipeline"],
        "detail-type": ["CodePipeline Pipeline Execution State Change"],
        "detail": {"state": ["FAILED"], "pipeline": names},
    }


def _pipeline_changed(names: list) -> dict:
    # UpdatePipeline sends the whole declaration (`pipeline.name`); DeletePipeline sends `name`.
    return _api_call(
        "aws.codepipeline",
        {
            "eventName": ["UpdatePipeline", "DeletePipeline"],
            "$or": [{"requestParameters": {"name": names}}, {"requestParameters": {"pipeline": {"name": names}}}],
        },
    )


def _projects_changed(names: list) -> dict:
    # UpdateProject and DeleteProject send the project's `name`; UpdateProjectVisibility sends its `projectArn`.
    return _api_call(
        "aws.codebuild",
        {
            "$or": [
                {"eventName": ["UpdateProject", "DeleteProject"], "requestParameters": {"name": names}},
                {
                    "eventName": ["UpdateProjectVisibility"],
                    "requestParameters": {"projectArn": [{"suffix": _concat(":project/", n)} for n in names]},
                },
            ]
        },
    )


def _connection_changed(arns: list) -> dict:
    # DeleteConnection sends `connectionArn`; TagResource and UntagResource send `resourceArn`.
    # (UpdateConnectionInstallation is a permission, not an API call: no CloudTrail event carries it.
    # https://docs.aws.amazon.com/dtconsole/latest/userguide/logging-using-cloudtrail-connections.html)
    return _api_call(
        ["aws.codeconnections", "aws.codestar-connections"],
        {
            "$or": [
                {
                    "eventName": ["DeleteConnection"],
                    "requestParameters": {"connectionArn": arns},
                },
                {"eventName": ["TagResource", "UntagResource"], "requestParameters": {"resourceArn": arns}},
            ]
        },
    )


def _roles_changed(names: list) -> dict:
    return _api_call(
        "aws.iam",
        {
            "eventName": [
                "AttachRolePolicy",
                "DeleteRole",
                "DeleteRolePermissionsBoundary",
                "DeleteRolePolicy",
                "DetachRolePolicy",
                "PutRolePermissionsBoundary",
                "PutRolePolicy",
                "UpdateAssumeRolePolicy",
            ],
            "requestParameters": {"roleName": names},
        },
    )


# What a deploy changes on a service. UpdateService and DeleteService on any service; on blue/green
# CodeDeploy moves traffic with task sets, so their calls are watched where the stack knows the
# CodeDeploy role that makes them. Every one of these requests names `service`.
# Source: https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_CreateTaskSet.html (and
# API_UpdateTaskSet, API_DeleteTaskSet, API_UpdateServicePrimaryTaskSet: `service` is required).
SERVICE_EVENTS = ["UpdateService", "DeleteService"]
TASK_SET_EVENTS = ["CreateTaskSet", "DeleteTaskSet", "UpdateServicePrimaryTaskSet", "UpdateTaskSet"]
# CreateDeployment's request names `applicationName` and `deploymentGroupName`.
# Source: https://docs.aws.amazon.com/codedeploy/latest/APIReference/API_CreateDeployment.html
DEPLOYMENT_EVENTS = ["CreateDeployment"]


# A caller that is not an assumed role at all (an IAM user, root).
_NOT_A_ROLE = {"userIdentity": {"type": [{"anything-but": "AssumedRole"}]}}


def _by_a_role_other_than(callers: list) -> dict:
    """A role session whose role has none of the names `callers`."""
    return {"userIdentity": {"sessionContext": {"sessionIssuer": {"userName": [{"anything-but": callers}]}}}}


def _not_named(callers: list) -> list[dict]:
    """The two ways a caller is not one of the roles named `callers`."""
    return [_NOT_A_ROLE, _by_a_role_other_than(callers)]


def _service_bypass(services: list, expected: list) -> dict:
    """UpdateService or DeleteService (and, on blue/green, the task-set calls) on a watched service
    by anyone but its own expected callers (its deploy action's role, its CodeDeploy role,
    Application Auto Scaling): `$or` branches per service, so one service's deploy role is not a
    free pass on another, and one branch for callers that are not roles at all (users, root), for
    every service at once. The request names the service by name or ARN (either format:
    `service/<name>` from before 2021, `service/<cluster>/<name>` since)."""
    every_name, branches = [], []
    for cluster, service, service_callers, task_set_callers in services:
        names = [service, {"suffix": f":service/{cluster}/{service}"}, {"suffix": f":service/{service}"}]
        every_name += names
        watches = [(SERVICE_EVENTS, [*expected, *service_callers])]
        if task_set_callers:
            watches.append((TASK_SET_EVENTS, [*expected, *service_callers, *task_set_callers]))
        for events, callers in watches:
            branches.append(
                {"eventName": events, "requestParameters": {"service": names}, **_by_a_role_other_than(callers)}
            )
    if every_name:
        events = SERVICE_EVENTS + (TASK_SET_EVENTS if any(s[3] for s in services) else [])
        anyone = {"eventName": events, "requestParameters": {"service": every_name}, **_NOT_A_ROLE}
        branches.insert(0, anyone)
    return _api_call("aws.ecs", {"$or": branches})


def _deployment_bypass(groups: list, expected: list) -> dict:
    """A CodeDeploy deployment created in a watched blue/green deployment group by anyone but the
    pipeline's deploy role: on blue/green, that is how a service is changed."""
    branches = []
    for application, group, group_callers in groups:
        request = {"applicationName": [application], "deploymentGroupName": [group]}
        branches += [
            {"eventName": DEPLOYMENT_EVENTS, "requestParameters": request, **caller}
            for caller in _not_named([*expected, *group_callers])
        ]
    return _api_call("aws.codedeploy", {"$or": branches})


def _concat(*parts: Input[str]) -> Input[str]:
    """The parts joined: a string when they are all known, an output otherwise."""
    known = [p for p in parts if isinstance(p, str)]
    return "".join(known) if len(known) == len(parts) else pulumi.Output.concat(*parts)


def _api_call(source: str | list[str], detail: dict) -> dict:
    return {
        "source": [source] if isinstance(source, str) else source,
        "detail-type": [CLOUDTRAIL],
        "detail": detail,
    }


def _rendered(pattern: dict) -> str:
    text = json.dumps(pattern, sort_keys=True, separators=(",", ":"))
    if len(text) > EVENT_PATTERN_MAX:
        raise ValueError(
            f"an alert pattern is {len(text)} characters, over EventBridge's default quota of {EVENT_PATTERN_MAX}"
        )
    return text


def _size(pattern: dict, output_max: int) -> int:
    """A pattern's length once rendered, an output counted at the longest it can be."""
    return len(json.dumps(pattern, sort_keys=True, separators=(",", ":"), default=lambda _: "x" * output_max))


def _chunks(values: list, pattern: Callable[[list], dict], output_max: int = _OUTPUT_MAX) -> list[list]:
    """`values` in groups whose pattern stays under EventBridge's limit, each group measured as
    rendered (values not known yet at their longest): a value joins the group only if the whole
    pattern still fits, whatever parts of it grow with the group."""
    chunks: list[list] = []
    for value in values:
        if chunks and _size(pattern([*chunks[-1], value]), output_max) <= EVENT_PATTERN_MAX:
            chunks[-1].append(value)
            continue
        alone = _size(pattern([value]), output_max)
        if alone > EVENT_PATTERN_MAX:
            raise ValueError(
                f"an alert pattern for one value ({value!r}) is {alone} characters, over EventBridge's default "
                f"quota of {EVENT_PATTERN_MAX}: shorten the names it holds"
            )
        chunks.append([value])
    return chunks


def _unique(values: list) -> list:
    seen, unique = set(), []
    for value in values:
        key = id(value) if isinstance(value, pulumi.Output) else value
        if key not in seen:
            seen.add(key)
            unique.append(value)
    return unique


def describe(pattern: Mapping[str, Any]) -> str:
    """A short summary of a pattern for the plan: its source and event names."""
    detail = pattern.get("detail", {})
    names = detail.get("eventName") or [n for branch in detail.get("$or", []) for n in branch.get("eventName", [])]
    return f"{','.join(pattern.get('source', []))}: {', '.join(names) or ', '.join(pattern.get('detail-type', []))}"


def service_bypass_pattern(services: list) -> dict:
    """The service-bypass pattern for `services` ((cluster, service, caller role names, task-set
    callers)), Application Auto Scaling expected: for a target account of cross-account delivery."""
    return _service_bypass(services, [AUTOSCALING_ROLE])


def chunks(values: list, pattern: Callable[[list], dict]) -> list[list]:
    """`values` in groups whose pattern fits EventBridge's default size quota (role names as outputs)."""
    return _chunks(values, pattern, _ROLE_NAME_MAX)


rendered = _rendered
