"""Deploy stage: the ECS standard (rolling) deploy action into an existing service."""

import json
import re
from collections.abc import Sequence
from typing import Optional, TypedDict

import pulumi
import pulumi_aws as aws

from .account import AwsAccount
from .build import IMAGE_DEFINITIONS_FILE, ImageBuild
from .iam import Statement, allow, pass_task_roles
from .stage import StageDefinition


class EcsDeployArgs(TypedDict, total=False):
    build: ImageBuild
    """The Build stage whose imagedefinitions.json is deployed. Required."""
    cluster: str
    """ECS cluster name. Required."""
    service: str
    """ECS service name. Required."""
    timeout_minutes: int
    """Deploy action timeout, 1-60 minutes. Default 20."""
    task_role_arns: Optional[Sequence[pulumi.Input[str]]]
    """The task and execution role ARNs of the service's task definition, the only roles the
    pipeline may pass. When None they are read from the running service."""
    account: AwsAccount
    """Account context; looked up when omitted."""


class EcsDeploy(pulumi.ComponentResource):
    """Rolling deploy of the built image into an ECS service, permitted on that service only."""

    stage: StageDefinition

    def __init__(self, name: str, args: EcsDeployArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("cicd:index:EcsDeploy", name, None, opts)
        for required in ("build", "cluster", "service"):
            if not args.get(required):
                raise ValueError(f"EcsDeploy {name}: {required} is required")
        timeout = args.get("timeout_minutes", 20)
        if not isinstance(timeout, int) or not 1 <= timeout <= 60:
            raise ValueError(f"EcsDeploy {name}: timeout_minutes={timeout!r} is not allowed; allowed: 1 to 60")
        for key in ("cluster", "service"):
            if not re.fullmatch(r"[A-Za-z0-9_-]{1,255}", args[key]):
                raise ValueError(f"EcsDeploy {name}: {key}={args[key]!r} is not an ECS {key} name")
        build: ImageBuild = args["build"]
        account = args.get("account") or AwsAccount.current()
        cluster, service = args["cluster"], args["service"]
        cluster_arn = account.arn("ecs", f"cluster/{cluster}")
        service_arn = account.arn("ecs", f"service/{cluster}/{service}")

        role_arns = args.get("task_role_arns")
        if role_arns is None:
            running = _running_task_definition(account, cluster, service, self)
            running = _having_container(running, build.container_name, cluster, service)
            role_arns, family = [running.execution_role_arn, running.task_role_arn], running.family
        else:
            family = None

        statements: list[Statement] = [
            allow("UpdateTheService", ["ecs:DescribeServices", "ecs:UpdateService"], [service_arn]),
            # RegisterTaskDefinition and DescribeTaskDefinition have no resource-level permissions.
            allow(
                "TaskDefinitionsNoResourceLevelPermissions",
                ["ecs:DescribeTaskDefinition", "ecs:RegisterTaskDefinition"],
                ["*"],
            ),
            allow("WatchServiceTasks", ["ecs:DescribeTasks"], [account.arn("ecs", f"task/{cluster}/*")]),
            # ListTasks is authorised on container instances, so it is scoped by the ecs:cluster condition.
            allow(
                "ListServiceTasksInThisClusterOnly",
                ["ecs:ListTasks"],
                ["*"],
                condition={"ArnEquals": {"ecs:cluster": cluster_arn}},
            ),
            pass_task_roles(role_arns),
        ]
        if family is not None:
            statements.append(
                allow(
                    "TagNewRevisions",
                    ["ecs:TagResource"],
                    [pulumi.Output.concat(account.arn("ecs", "task-definition/"), family, ":*")],
                    condition={"StringEquals": {"ecs:CreateAction": "RegisterTaskDefinition"}},
                )
            )

        self.stage = StageDefinition(
            name="Deploy",
            actions=[
                aws.codepipeline.PipelineStageActionArgs(
                    name="Service",
                    category="Deploy",
                    owner="AWS",
                    provider="ECS",
                    version="1",
                    input_artifacts=[build.output_artifact],
                    configuration={
                        "ClusterName": cluster,
                        "ServiceName": service,
                        "FileName": IMAGE_DEFINITIONS_FILE,
                        "DeploymentTimeout": str(timeout),
                    },
                )
            ],
            # The ECS action runs with a role of its own: the pipeline role cannot touch ECS.
            action_role_statements={"Service": statements},
        )
        self.register_outputs({})


def _running_task_definition(
    account: AwsAccount, cluster: str, service: str, parent: Optional[pulumi.Resource] = None
) -> pulumi.Output[aws.ecs.GetTaskDefinitionResult]:
    """The service's current task definition: its roles are what a new revision will pass."""
    invoke = pulumi.InvokeOutputOptions(parent=parent)
    cluster_arn = account.arn("ecs", f"cluster/{cluster}")
    running = aws.ecs.get_service_output(cluster_arn=cluster_arn, service_name=service, opts=invoke)
    return aws.ecs.get_task_definition_output(task_definition=running.task_definition, opts=invoke)


def roles_of_running_service(
    account: AwsAccount, cluster: str, service: str, container: Optional[str] = None
) -> list[pulumi.Output[str]]:
    """Execution and task role ARNs of an existing service: the only roles a deploy may pass.
    With `container`, also checks that the service runs a container of that name."""
    running = _running_task_definition(account, cluster, service)
    if container is not None:
        running = _having_container(running, container, cluster, service)
    return [running.execution_role_arn, running.task_role_arn]


class ContainerMismatchError(pulumi.RunError):
    """The container contract names a container the running service does not have."""


def _having_container(
    running: pulumi.Output[aws.ecs.GetTaskDefinitionResult], container: str, cluster: str, service: str
) -> pulumi.Output[aws.ecs.GetTaskDefinitionResult]:
    """Fail `pulumi up` now, not the first deploy at night: the image definitions would name a
    container the service's task definition does not have, and ECS would reject the deploy."""

    def check(task_definition: aws.ecs.GetTaskDefinitionResult) -> aws.ecs.GetTaskDefinitionResult:
        definitions = task_definition.container_definitions
        if not definitions:
            return task_definition  # not known (a preview of a new service, or a harness that does not say)
        names = [c.get("name") for c in json.loads(definitions)]
        if container not in names:
            running_containers = ", ".join(map(str, names))
            raise ContainerMismatchError(
                f"ecs-cicd:service.container = {container!r}, but service {service} in cluster {cluster} runs "
                f"{task_definition.family}:{task_definition.revision}, whose containers are {running_containers}; "
                "set ecs-cicd:service.container to the one that runs the built image"
            )
        return task_definition

    return running.apply(check)
