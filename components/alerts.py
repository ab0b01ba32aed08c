"""Logging and visibility (CICD-SEC-10): EventBridge rules that tell people, through a
KMS-encrypted SNS topic, when the pipeline fails, when someone changes the pipeline, its build
projects, its connection or its roles, and when the ECS service is updated by anyone other
than the pipeline's deploy role (a bypass of the pipeline).

The API-call rules match CloudTrail events: the account needs a trail (`guardrails.cloudTrail`
creates one). IAM publishes its events in us-east-1 only, so the role-change rule fires for
stacks deployed in us-east-1; elsewhere the other rules still apply.
"""

import json
from collections.abc import Mapping, Sequence
from typing import Any, Optional, TypedDict

import pulumi
import pulumi_aws as aws

from .artifacts import ArtifactStore
from .iam import deny_insecure_transport
from .topics import encrypted_topic

CLOUDTRAIL = "AWS API Call via CloudTrail"


class WatchedPipelineArgs(TypedDict, total=False):
    """One pipeline and what it is made of."""

    pipeline_name: pulumi.Input[str]
    """The pipeline to watch. Required."""
    pipeline_arn: pulumi.Input[str]
    """Its ARN. Required."""
    project_names: Sequence[pulumi.Input[str]]
    """CodeBuild projects whose changes are reported."""
    role_names: Sequence[pulumi.Input[str]]
    """IAM roles whose changes are reported."""
    connection_arn: pulumi.Input[str]
    """The GitHub connection whose changes are reported."""
    cluster: str
    """ECS cluster of the service. Required."""
    service: str
    """ECS service name: updates not made by the deploy role are reported. Required."""
    deploy_role_name: pulumi.Input[str]
    """The only role expected to update the service. Required."""


class PipelineAlertsArgs(TypedDict, total=False):
    artifact_store: ArtifactStore
    """Its KMS key encrypts the alert topic. Required."""
    pipelines: Mapping[str, WatchedPipelineArgs]
    """The pipelines to watch, by a short name used in rule names. Required."""
    emails: Sequence[str]
    """Addresses subscribed to the alert topic."""
    tags: Mapping[str, str]
    """Tags for every resource."""


class PipelineAlerts(pulumi.ComponentResource):
    """One encrypted topic per stack, and for each pipeline the rules that feed it."""

    topic: aws.sns.Topic
    rules: dict[str, aws.cloudwatch.EventRule]

    def __init__(self, name: str, args: PipelineAlertsArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("cicd:index:PipelineAlerts", name, None, opts)
        if "artifact_store" not in args or not args.get("pipelines"):
            raise ValueError(f"PipelineAlerts {name}: artifact_store and pipelines are required")
        for key, watched in args["pipelines"].items():
            for required in ("pipeline_name", "pipeline_arn", "cluster", "service", "deploy_role_name"):
                if required not in watched:
                    raise ValueError(f"PipelineAlerts {name}: pipelines[{key}].{required} is required")
        tags = dict(args.get("tags", {}))
        child = pulumi.ResourceOptions(parent=self)
        self.topic = encrypted_topic(
            name, kms_key_id=args["artifact_store"].key.id, emails=args.get("emails", ()), tags=tags, parent=self
        )

        self.rules = {}
        for key, watched in args["pipelines"].items():
            for rule_name, (description, pattern) in _patterns(watched).items():
                rule = aws.cloudwatch.EventRule(
                    f"{name}-{key}-{rule_name}",
                    description=description,
                    event_pattern=pulumi.Output.from_input(pattern).apply(lambda p: json.dumps(p, sort_keys=True)),
                    tags=tags,
                    opts=child,
                )
                aws.cloudwatch.EventTarget(
                    f"{name}-{key}-{rule_name}-to-topic",
                    rule=rule.name,
                    arn=self.topic.arn,
                    opts=pulumi.ResourceOptions(parent=rule),
                )
                self.rules[f"{key}-{rule_name}"] = rule

        aws.sns.TopicPolicy(
            f"{name}-topic-policy",
            arn=self.topic.arn,
            policy=pulumi.Output.all(self.topic.arn, *(r.arn for r in self.rules.values())).apply(
                lambda arns: _topic_policy(arns[0], arns[1:])
            ),
            opts=child,
        )
        self.register_outputs({"topic_arn": self.topic.arn})


def _patterns(args: WatchedPipelineArgs) -> dict[str, tuple[str, Mapping[str, Any]]]:
    service_arn_suffix = f"service/{args['cluster']}/{args['service']}"
    deploy_session = pulumi.Output.concat(":assumed-role/", args["deploy_role_name"], "/")
    return {
        "pipeline-failed": (
            "The pipeline failed",
            {
                "source": ["aws.codepipeline"],
                "detail-type": ["CodePipeline Pipeline Execution State Change"],
                "resources": [args["pipeline_arn"]],
                "detail": {"state": ["FAILED"]},
            },
        ),
        "pipeline-changed": (
            "Someone changed or deleted the pipeline",
            {
                "source": ["aws.codepipeline"],
                "detail-type": [CLOUDTRAIL],
                "detail": {
                    "eventName": ["UpdatePipeline", "DeletePipeline"],
                    "$or": [
                        {"requestParameters": {"name": [args["pipeline_name"]]}},
                        {"requestParameters": {"pipeline": {"name": [args["pipeline_name"]]}}},
                    ],
                },
            },
        ),
        "projects-changed": (
            "Someone changed or deleted a build project of the pipeline",
            {
                "source": ["aws.codebuild"],
                "detail-type": [CLOUDTRAIL],
                "detail": {
                    "eventName": ["UpdateProject", "DeleteProject", "UpdateProjectVisibility"],
                    "requestParameters": {"name": list(args.get("project_names", ()))},
                },
            },
        ),
        "connection-changed": (
            "Someone changed or deleted the GitHub connection",
            {
                "source": ["aws.codeconnections", "aws.codestar-connections"],
                "detail-type": [CLOUDTRAIL],
                "detail": {
                    "eventName": ["DeleteConnection", "UpdateConnectionInstallation", "TagResource", "UntagResource"],
                    "requestParameters": {"connectionArn": [args.get("connection_arn", "")]},
                },
            },
        ),
        "roles-changed": (
            "Someone changed the permissions or trust of a pipeline role",
            {
                "source": ["aws.iam"],
                "detail-type": [CLOUDTRAIL],
                "detail": {
                    "eventName": [
                        "PutRolePolicy",
                        "DeleteRolePolicy",
                        "AttachRolePolicy",
                        "DetachRolePolicy",
                        "UpdateAssumeRolePolicy",
                        "PutRolePermissionsBoundary",
                        "DeleteRolePermissionsBoundary",
                        "DeleteRole",
                    ],
                    "requestParameters": {"roleName": list(args.get("role_names", ()))},
                },
            },
        ),
        "service-updated-outside-pipeline": (
            "The ECS service was updated by someone other than the pipeline (a bypass)",
            {
                "source": ["aws.ecs"],
                "detail-type": [CLOUDTRAIL],
                "detail": {
                    "eventName": ["UpdateService", "DeleteService"],
                    "requestParameters": {
                        "service": [args["service"], {"suffix": service_arn_suffix}],
                    },
                    "userIdentity": {
                        "arn": [{"anything-but": {"wildcard": pulumi.Output.concat("*", deploy_session, "*")}}]
                    },
                },
            },
        ),
    }


def _topic_policy(topic_arn: str, rule_arns: Sequence[str]) -> str:
    """Only these rules may publish, and nothing may use the topic without TLS."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "RulesOfThisStackPublish",
                    "Effect": "Allow",
                    "Principal": {"Service": "events.amazonaws.com"},
                    "Action": "sns:Publish",
                    "Resource": topic_arn,
                    "Condition": {"ArnEquals": {"aws:SourceArn": sorted(rule_arns)}},
                },
                deny_insecure_transport("sns:Publish", [topic_arn]),
            ],
        },
        sort_keys=True,
    )
