"""Deploy stage: the ECS standard deploy action into a service: ECS then deploys as the service is
configured (rolling, or its own blue/green, canary or linear)."""

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Optional, Required, TypedDict

import pulumi
import pulumi_aws as aws

from . import iam
from .account import AwsAccount
from .args import documented, known_keys, require_region
from .build import IMAGE_DEFINITIONS_FILE, ImageBuild
from .iam import Statement, allow, pass_task_roles
from .inputs import Input
from .settings import native_deployment_minutes
from .stage import StageDefinition


class EcsDeployArgs(TypedDict, total=False):
    build: Required[ImageBuild]
    """The Build stage whose imagedefinitions.json is deployed. Required."""
    cluster: Required[str]
    """ECS cluster name. Required."""
    service: Required[str]
    """ECS service name. Required."""
    timeout_minutes: int
    """Deploy action timeout, 1-60 minutes. Default 20."""
    task_role_arns: Optional[Sequence[Input[str]]]
    """The task and execution role ARNs of the service's task definition, the only roles the
    pipeline may pass. When None they are read from the running service."""
    task_family: Input[str]
    """The service's task definition family: the deploy registers (and tags) revisions of it.
    Read from the running service when the roles are."""
    service_arn: Input[str]
    """The service's ARN. Default: the long format (`service/<cluster>/<name>`); services made
    before 2021 may keep `service/<name>`, which `running_service()` reads as it is."""
    deploy_role_arn: Input[str]
    """Deploy into another account: its deploy role (`TargetAccountAccess.role_arn` there), which the
    action runs as. The pipeline makes no role of its own for it, reads nothing of the service,
    and may only assume that role."""
    stage_name: str
    """The stage's name. Default `Deploy`; several deploys (one per environment) need their own."""
    region: str
    """With `deploy_role_arn`: the service's region when it is not the pipeline's. The action runs
    there, from the pipeline's artifact store of that region (`Pipeline` `regional_artifact_stores`)."""
    account: AwsAccount
    """Account context; looked up when omitted."""


@documented(EcsDeployArgs)
class EcsDeploy(pulumi.ComponentResource):
    """Rolling deploy of the built image into an ECS service, permitted on that service only."""

    stage: StageDefinition

    def __init__(self, name: str, args: EcsDeployArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("cicd:index:EcsDeploy", name, None, opts)
        known_keys("EcsDeploy", name, args, EcsDeployArgs)
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
        cluster, service = args["cluster"], args["service"]
        stage_name = args.get("stage_name", "Deploy")
        # CodePipeline's stage names: [A-Za-z0-9.@_-], 1 to 100
        # (https://docs.aws.amazon.com/codepipeline/latest/APIReference/API_StageDeclaration.html).
        iam.require_codepipeline_name(f"EcsDeploy {name}: stage_name", stage_name, kind="stage")
        deploy_role = args.get("deploy_role_arn")
        if isinstance(deploy_role, str):
            iam.require_role_arn(f"EcsDeploy {name}: deploy_role_arn", deploy_role)
        region = args.get("region")
        if region is not None:
            if deploy_role is None:
                raise ValueError(
                    f"EcsDeploy {name}: region={region!r} needs deploy_role_arn; allowed: another region for a "
                    "service of another account (the permissions of this account's deploy role name its region)"
                )
            require_region(f"EcsDeploy {name}: region", region)
        action = aws.codepipeline.PipelineStageActionArgs(
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
            region=region,
        )
        if "deploy_role_arn" in args:
            # Another account's service: its account grants the deploy role what the action does.
            self.stage = StageDefinition(
                name=stage_name, actions=[action], external_action_roles={"Service": args["deploy_role_arn"]}
            )
            self.register_outputs({})
            return
        account = args.get("account") or AwsAccount.current()

        role_arns, family = args.get("task_role_arns"), args.get("task_family")
        service_arn = args.get("service_arn") or account.arn("ecs", f"service/{cluster}/{service}")
        if role_arns is None:
            running = running_service(account, cluster, service, build.container_name, parent=self)
            role_arns, family, service_arn = running.role_arns, running.family, running.arn
        if family is None:
            raise ValueError(f"EcsDeploy {name}: task_family is required with task_role_arns")

        statements = ecs_deploy_statements(account, cluster, service, service_arn, family, role_arns)

        self.stage = StageDefinition(
            name=stage_name,
            actions=[action],
            # The ECS action runs with a role of its own: the pipeline role cannot touch ECS.
            action_role_statements={"Service": statements},
        )
        self.register_outputs({})


def ecs_deploy_statements(
    account: AwsAccount,
    cluster: str,
    service: str,
    service_arn: Input[str],
    family: Input[str],
    role_arns: Sequence[Input[str]],
    sid_suffix: str = "",
) -> list[Statement]:
    """The minimum permissions of the ECS deploy action, scoped to one service and its task
    definition family (https://docs.aws.amazon.com/codepipeline/latest/userguide/action-reference-ECS.html);
    `sid_suffix` tells apart several services' statements in one policy."""
    cluster_arn = account.arn("ecs", f"cluster/{cluster}")
    statements: list[Statement] = [
        allow(f"UpdateTheService{sid_suffix}", ["ecs:DescribeServices", "ecs:UpdateService"], [service_arn]),
        # DescribeTaskDefinition and RegisterTaskDefinition have no resource-level permissions.
        allow(f"TaskDefinitionsNoResourceLevelPermissions{sid_suffix}", ["ecs:DescribeTaskDefinition"], ["*"]),
        # A registration is allowed for no privileged container (ecs:privileged, in the Service
        # Authorization Reference for ECS): the deploy copies the running revision, which has none.
        allow(
            f"RegisterUnprivilegedTaskDefinitionsNoResourceLevelPermissions{sid_suffix}",
            ["ecs:RegisterTaskDefinition"],
            ["*"],
            condition={"BoolIfExists": {"ecs:privileged": "false"}},
        ),
        # The action copies the running revision with its tags: registering a tagged revision
        # needs TagResource on the family, only as part of the registration.
        allow(
            f"TagNewRevisions{sid_suffix}",
            ["ecs:TagResource"],
            [pulumi.Output.concat(account.arn("ecs", "task-definition/"), family, ":*")],
            condition={"StringEquals": {"ecs:CreateAction": "RegisterTaskDefinition"}},
        ),
        allow(f"WatchServiceTasks{sid_suffix}", ["ecs:DescribeTasks"], [account.arn("ecs", f"task/{cluster}/*")]),
        # ListTasks is authorised on container instances, so it is scoped by the ecs:cluster condition.
        allow(
            f"ListServiceTasksInThisClusterOnly{sid_suffix}",
            ["ecs:ListTasks"],
            ["*"],
            condition={"ArnEquals": {"ecs:cluster": cluster_arn}},
        ),
        pass_task_roles(role_arns, sid=f"PassOnlyTheServiceRoles{sid_suffix}"),
    ]
    return statements


@dataclass(frozen=True)
class RunningService:
    """An existing service as `pulumi up` finds it."""

    arn: pulumi.Output[str]
    """Its ARN as ECS reports it: `service/<cluster>/<name>`, or `service/<name>` for a service
    made before the 2021 ARN format (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/ecs-account-settings.html)."""
    family: pulumi.Output[str]
    """The family of its current task definition: what a deploy registers revisions of."""
    role_arns: list[pulumi.Output[str]]
    """The execution and task roles of its task definition: the only roles a deploy may pass."""


def running_service(
    account: AwsAccount,
    cluster: str,
    service: str,
    container: str,
    port: Optional[int] = None,
    parent: Optional[pulumi.Resource] = None,
    expected: Optional["ExpectedDeployment"] = None,
) -> RunningService:
    """Read an existing service and its current task definition, and stop `pulumi up` now (not the
    first deploy at night) when the task definition has no `container`, or, with `port`, when that
    container does not listen on it (a blue/green deploy routes the load balancer to that port)."""
    invoke = pulumi.InvokeOutputOptions(parent=parent)
    cluster_arn = account.arn("ecs", f"cluster/{cluster}")
    found = aws.ecs.get_service_output(cluster_arn=cluster_arn, service_name=service, opts=invoke)
    if expected is not None:  # read as the service is, in the outputs every deploy resource waits for
        found = found.apply(lambda described: check_deployment(described, expected, cluster, service))
    task_definition = aws.ecs.get_task_definition_output(task_definition=found.task_definition, opts=invoke)
    checked = task_definition.apply(lambda t: _check_container(t, container, port, cluster, service))
    return RunningService(
        arn=found.arn,
        family=checked.family,
        role_arns=[checked.execution_role_arn, checked.task_role_arn],
    )


class ContainerMismatchError(pulumi.RunError):
    """The container contract names a container (or port) the running service does not have."""


def _check_container(
    task_definition: aws.ecs.GetTaskDefinitionResult,
    container: str,
    port: Optional[int],
    cluster: str,
    service: str,
) -> aws.ecs.GetTaskDefinitionResult:
    definitions = task_definition.container_definitions
    if not definitions:
        return task_definition  # not known (a preview of a new service, or a harness that does not say)
    containers = {c.get("name"): c for c in json.loads(definitions)}
    running = f"{task_definition.family}:{task_definition.revision}"
    if container not in containers:
        raise ContainerMismatchError(
            f"ecs-cicd:service.container = {container!r}, but service {service} in cluster {cluster} runs "
            f"{running}, whose containers are {', '.join(map(str, containers))}; "
            "set ecs-cicd:service.container to the one that runs the built image"
        )
    ports = [m.get("containerPort") for m in containers[container].get("portMappings") or []]
    if port is not None and port not in ports:
        raise ContainerMismatchError(
            f"ecs-cicd:service.port = {port}, but container {container} of {running} (service {service} in "
            f"cluster {cluster}) listens on {', '.join(map(str, ports)) or 'no port'}; set ecs-cicd:service.port "
            "to the port the load balancer's target groups send traffic to"
        )
    return task_definition


# How ECS names each strategy in a service's deploymentConfiguration, and what the config calls it.
# https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_DeploymentConfiguration.html
STRATEGY_NAMES = {"ROLLING": "rolling", "BLUE_GREEN": "blue-green", "CANARY": "canary", "LINEAR": "linear"}


class DeploymentMismatchError(pulumi.RunError):
    """An existing service deploys otherwise than the stack says."""


@dataclass(frozen=True)
class ExpectedDeployment:
    """How the stack says an existing service deploys."""

    strategy: str
    codedeploy: bool
    timeout_minutes: int


def check_deployment(
    described: aws.ecs.GetServiceResult, expected: ExpectedDeployment, cluster: str, service: str
) -> aws.ecs.GetServiceResult:
    """Stop `pulumi up` when an existing service deploys otherwise than `deploy.strategy` says (the
    plan would describe a deployment that does not happen), or when its own blue/green, canary or
    linear configuration takes longer than the pipeline's deploy action waits."""
    strategy, codedeploy, timeout_minutes = expected.strategy, expected.codedeploy, expected.timeout_minutes
    controller = next((c.type for c in described.deployment_controllers or []), None)
    if controller is None:
        return described  # not said (ECS says it for every service; an offline harness may not)
    configuration = next(iter(described.deployment_configurations or []), None)
    actual = (configuration.strategy if configuration is not None else None) or "ROLLING"
    said = f"ecs-cicd:deploy.strategy = {strategy!r}{' with a CodeDeploy group' if codedeploy else ''}"
    where = f"service {service} in cluster {cluster}"
    if controller == "CODE_DEPLOY":
        deploys, matches = "through CodeDeploy (the CODE_DEPLOY deployment controller)", codedeploy
        allowed = "blue-green, with deploy.blueGreen.application and deploymentGroup naming its CodeDeploy group"
    elif controller == "ECS":
        name = STRATEGY_NAMES.get(actual, actual)
        deploys, matches = f"with ECS itself, {name}", not codedeploy and name == strategy
        allowed = f"{name}{' (without deploy.blueGreen)' if name == 'blue-green' else ''}"
    else:
        raise DeploymentMismatchError(
            f"{where} is on the {controller} deployment controller, which CodePipeline's deploy actions cannot "
            "deploy; allowed: a service on the ECS or CODE_DEPLOY controller"
        )
    if not matches:
        raise DeploymentMismatchError(
            f"{said}, but {where} deploys {deploys}; set it to {allowed}, or change the service"
        )
    if controller == "ECS" and configuration is not None and actual != "ROLLING":
        needed = native_deployment_minutes(
            {
                "strategy": STRATEGY_NAMES[actual],
                "bakeTimeMinutes": _minutes(configuration.bake_time_in_minutes),
                "canary": {
                    "bakeTimeMinutes": _minutes(
                        _first(configuration.canary_configurations, "canary_bake_time_in_minutes")
                    )
                },
                "linear": {
                    "stepPercent": float(_first(configuration.linear_configurations, "step_percent") or 100),
                    "stepBakeTimeMinutes": _minutes(
                        _first(configuration.linear_configurations, "step_bake_time_in_minutes")
                    ),
                },
                "checkTimeoutSeconds": 0,  # its lifecycle hooks' time is the service's own
            }
        )
        if timeout_minutes < needed:
            raise DeploymentMismatchError(
                f"ecs-cicd:deploy.timeoutMinutes = {timeout_minutes} is shorter than a deployment of {where} may take "
                f"and succeed (at least {needed} minutes, from its own {STRATEGY_NAMES[actual]} configuration); the "
                f"pipeline's ECS action would fail a deploy that succeeds; allowed: at least {needed} (at most 60)"
            )
    return described


def _first(items, field: str):
    return getattr(items[0], field, None) if items else None


def _minutes(value) -> int:
    return int(float(value or 0))
