"""Deploy stage, blue/green: CodeDeploy shifts traffic from the running (blue) task set to the new
(green) one through the test and prod listeners, and rolls back on failure or alarm."""

from collections.abc import Mapping, Sequence
from typing import Optional, TypedDict

import pulumi
import pulumi_aws as aws

from . import iam, naming
from .account import AwsAccount
from .artifacts import ArtifactStore
from .build import APPSPEC_FILE, TASKDEF_FILE, ImageBuild
from .config_schema import CODEDEPLOY_CONFIGS
from .iam import Statement, allow, pass_task_roles, trust_policy
from .service import EcsService
from .stage import StageDefinition


class CodeDeployBlueGreenArgs(TypedDict, total=False):
    build: ImageBuild
    """The Build stage; its artifact carries imageDetail.json, taskdef.json and appspec.yaml. Required."""
    artifact_store: ArtifactStore
    """CodeDeploy reads the revision from it. Required."""
    cluster: str
    """ECS cluster name. Required."""
    service: str
    """ECS service name. Required."""
    created_service: Optional[EcsService]
    """The service this program created: the application and deployment group are created for it."""
    application: Optional[str]
    """Existing CodeDeploy application (for a service this program did not create)."""
    deployment_group: Optional[str]
    """Existing deployment group (for a service this program did not create)."""
    task_role_arns: Sequence[pulumi.Input[str]]
    """Roles the new task definition may pass. Required."""
    deployment_config: str
    """CodeDeploy ECS deployment configuration. Default canary 10% for 5 minutes."""
    termination_wait_minutes: int
    """Minutes blue tasks are kept after a successful shift. Default 5."""
    permissions_boundary: Optional[str]
    """Permissions boundary for the CodeDeploy role."""
    role_path: str
    """IAM path of the roles created here (`iam.RolePaths`). Default `/`."""
    pipelines: Sequence[str]
    """Names of the pipelines whose artifacts this reads (and writes): its role is scoped to
    their folders of the artifact bucket. Default: the whole bucket."""
    tags: Mapping[str, str]
    """Tags for every resource."""
    account: AwsAccount
    """Account context; looked up when omitted."""


class CodeDeployBlueGreen(pulumi.ComponentResource):
    """The `CodeDeployToECS` deploy action and, for a created service, what CodeDeploy needs."""

    application_name: pulumi.Output[str]
    deployment_group_name: pulumi.Output[str]
    stage: StageDefinition

    def __init__(self, name: str, args: CodeDeployBlueGreenArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("cicd:index:CodeDeployBlueGreen", name, None, opts)
        for required in ("build", "artifact_store", "cluster", "service", "task_role_arns"):
            if required not in args:
                raise ValueError(f"CodeDeployBlueGreen {name}: {required} is required")
        config = args.get("deployment_config", CODEDEPLOY_CONFIGS[-2])
        if config not in CODEDEPLOY_CONFIGS:
            raise ValueError(
                f"CodeDeployBlueGreen {name}: deployment_config={config!r} is not allowed; "
                f"allowed: {', '.join(CODEDEPLOY_CONFIGS)}"
            )
        account = args.get("account") or AwsAccount.current()
        build: ImageBuild = args["build"]
        created: Optional[EcsService] = args.get("created_service")
        self.codedeploy_role: Optional[iam.ScopedRole] = None
        if created is not None:
            self._create_codedeploy(name, args, created, config, account)
        elif args.get("application") and args.get("deployment_group"):
            self.application_name = pulumi.Output.from_input(args["application"])
            self.deployment_group_name = pulumi.Output.from_input(args["deployment_group"])
        else:
            raise ValueError(f"CodeDeployBlueGreen {name}: give created_service, or application and deployment_group")

        application_arn = pulumi.Output.concat(account.arn("codedeploy", "application:"), self.application_name)
        group_arn = pulumi.Output.concat(
            account.arn("codedeploy", "deploymentgroup:"), self.application_name, "/", self.deployment_group_name
        )
        statements: list[Statement] = [
            allow(
                "DeployThisApplication",
                [
                    "codedeploy:GetApplication",
                    "codedeploy:GetApplicationRevision",
                    "codedeploy:RegisterApplicationRevision",
                ],
                [application_arn],
            ),
            allow("DeployThisGroup", ["codedeploy:CreateDeployment", "codedeploy:GetDeployment"], [group_arn]),
            allow(
                "ReadDeploymentConfig",
                ["codedeploy:GetDeploymentConfig"],
                [account.arn("codedeploy", f"deploymentconfig:{config}")],
            ),
            # RegisterTaskDefinition has no resource-level permissions; no privileged container.
            allow(
                "RegisterUnprivilegedTaskDefinitionsNoResourceLevelPermissions",
                ["ecs:RegisterTaskDefinition"],
                ["*"],
                condition={"BoolIfExists": {"ecs:privileged": "false"}},
            ),
            pass_task_roles(args["task_role_arns"]),
        ]
        artifact = build.output_artifact
        self.stage = StageDefinition(
            name="Deploy",
            actions=[
                aws.codepipeline.PipelineStageActionArgs(
                    name="Service",
                    category="Deploy",
                    owner="AWS",
                    provider="CodeDeployToECS",
                    version="1",
                    input_artifacts=[artifact],
                    configuration={
                        "ApplicationName": self.application_name,
                        "DeploymentGroupName": self.deployment_group_name,
                        "TaskDefinitionTemplateArtifact": artifact,
                        "TaskDefinitionTemplatePath": TASKDEF_FILE,
                        "AppSpecTemplateArtifact": artifact,
                        "AppSpecTemplatePath": APPSPEC_FILE,
                        "Image1ArtifactName": artifact,
                        "Image1ContainerName": "IMAGE1_NAME",
                    },
                )
            ],
            action_role_statements={"Service": statements},
            roles=[self.codedeploy_role] if self.codedeploy_role else [],
        )
        self.register_outputs({"application": self.application_name, "deployment_group": self.deployment_group_name})

    def _create_codedeploy(self, name, args, service: EcsService, config: str, account: AwsAccount) -> None:
        tags = dict(args.get("tags", {}))
        child = pulumi.ResourceOptions(parent=self)
        application = aws.codedeploy.Application(
            f"{name}-app", name=f"{args['service']}", compute_platform="ECS", tags=tags, opts=child
        )
        cluster, svc = args["cluster"], args["service"]
        listeners = [service.prod_listener.arn, service.test_listener.arn]
        role = iam.role(
            f"{name}-codedeploy-role",
            trust=trust_policy(
                "codedeploy.amazonaws.com",
                account,
                pulumi.Output.concat(account.arn("codedeploy", "deploymentgroup:"), application.name, "/*"),
            ),
            permissions_boundary=args.get("permissions_boundary"),
            path=args.get("role_path", "/"),
            tags=tags,
            parent=self,
            statements=[
                allow(
                    "ShiftTaskSetsOfThisService",
                    [
                        "ecs:CreateTaskSet",
                        "ecs:DeleteTaskSet",
                        "ecs:DescribeServices",
                        "ecs:UpdateServicePrimaryTaskSet",
                    ],
                    [account.arn("ecs", f"service/{cluster}/{svc}"), account.arn("ecs", f"task-set/{cluster}/{svc}/*")],
                ),
                # Load balancer Describe* calls have no resource-level permissions.
                allow(
                    "DescribeLoadBalancingNoResourceLevelPermissions",
                    [
                        "elasticloadbalancing:DescribeListeners",
                        "elasticloadbalancing:DescribeRules",
                        "elasticloadbalancing:DescribeTargetGroups",
                        "elasticloadbalancing:DescribeTargetHealth",
                    ],
                    ["*"],
                ),
                allow("SwitchTheListeners", ["elasticloadbalancing:ModifyListener"], listeners),
                *(
                    [
                        allow(
                            "ReadRollbackAlarms",
                            ["cloudwatch:DescribeAlarms"],
                            [pulumi.Output.concat(account.arn("cloudwatch", "alarm:"), a) for a in service.alarm_names],
                        )
                    ]
                    if service.alarm_names
                    else []
                ),
                *args["artifact_store"].read_statements("CodeDeploy", args.get("pipelines")),
                pass_task_roles(args["task_role_arns"]),
            ],
        )
        wait = args.get("termination_wait_minutes", 5)
        group = aws.codedeploy.DeploymentGroup(
            f"{name}-group",
            app_name=application.name,
            deployment_group_name=naming.physical(naming.CODEDEPLOY_GROUP, svc, cluster),
            deployment_config_name=config,
            service_role_arn=role.arn,
            auto_rollback_configuration={"enabled": True, "events": ["DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM"]},
            alarm_configuration={"enabled": bool(service.alarm_names), "alarms": service.alarm_names},
            blue_green_deployment_config={
                "deployment_ready_option": {"action_on_timeout": "CONTINUE_DEPLOYMENT"},
                "terminate_blue_instances_on_deployment_success": {
                    "action": "TERMINATE",
                    "termination_wait_time_in_minutes": wait,
                },
            },
            deployment_style={"deployment_option": "WITH_TRAFFIC_CONTROL", "deployment_type": "BLUE_GREEN"},
            ecs_service={"cluster_name": service.cluster.name, "service_name": service.service.name},
            load_balancer_info={
                "target_group_pair_info": {
                    "prod_traffic_route": {"listener_arns": [service.prod_listener.arn]},
                    "test_traffic_route": {"listener_arns": [service.test_listener.arn]},
                    "target_groups": [{"name": tg.name} for tg in service.target_groups],
                }
            },
            tags=tags,
            opts=child,
        )
        self.application_name = application.name
        self.deployment_group_name = group.deployment_group_name
        self.codedeploy_role = role
