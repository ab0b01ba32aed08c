"""Deploy stage, blue/green through CodeDeploy, for an existing service on the CODE_DEPLOY
deployment controller: its deployment group shifts traffic from the running (blue) task set to the
new (green) one and rolls back as the group says. A service this program creates deploys with ECS's
own blue/green instead (components/service.py), with no CodeDeploy application at all."""

from collections.abc import Sequence
from typing import Optional, Required, TypedDict

import pulumi
import pulumi_aws as aws

from .account import AwsAccount
from .args import documented, known_keys
from .build import APPSPEC_FILE, TASKDEF_FILE, ImageBuild
from .iam import Statement, allow, pass_task_roles
from .inputs import Input
from .stage import StageDefinition


class CodeDeployBlueGreenArgs(TypedDict, total=False):
    build: Required[ImageBuild]
    """The Build stage; its artifact carries imageDetail.json, taskdef.json and appspec.yaml. Required."""
    cluster: Required[str]
    """ECS cluster name. Required."""
    service: Required[str]
    """ECS service name. Required."""
    application: Required[str]
    """The service's CodeDeploy application. Required."""
    deployment_group: Required[str]
    """Its deployment group: how traffic shifts and when old tasks stop are the group's settings. Required."""
    task_role_arns: Required[Sequence[Input[str]]]
    """Roles the new task definition may pass. Required."""
    account: AwsAccount
    """Account context; looked up when omitted."""


@documented(CodeDeployBlueGreenArgs)
class CodeDeployBlueGreen(pulumi.ComponentResource):
    """The `CodeDeployToECS` deploy action into an existing deployment group."""

    application_name: pulumi.Output[str]
    deployment_group_name: pulumi.Output[str]
    stage: StageDefinition

    def __init__(self, name: str, args: CodeDeployBlueGreenArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("cicd:index:CodeDeployBlueGreen", name, None, opts)
        known_keys("CodeDeployBlueGreen", name, args, CodeDeployBlueGreenArgs)
        for required in ("build", "cluster", "service", "task_role_arns"):
            if required not in args:
                raise ValueError(f"CodeDeployBlueGreen {name}: {required} is required")
        for required in ("application", "deployment_group"):
            if not args.get(required):
                raise ValueError(f"CodeDeployBlueGreen {name}: {required} is required (the existing group's)")
        account = args.get("account") or AwsAccount.current()
        build: ImageBuild = args["build"]
        self.application_name = pulumi.Output.from_input(args["application"])
        self.deployment_group_name = pulumi.Output.from_input(args["deployment_group"])

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
            # The group's configuration is the group's: the action may read the predefined ones
            # (CodeDeployDefault.ECS*, https://docs.aws.amazon.com/codedeploy/latest/userguide/deployment-configurations.html).
            allow(
                "ReadPredefinedDeploymentConfigs",
                ["codedeploy:GetDeploymentConfig"],
                [account.arn("codedeploy", "deploymentconfig:CodeDeployDefault.ECS*")],
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
        )
        self.register_outputs({"application": self.application_name, "deployment_group": self.deployment_group_name})
