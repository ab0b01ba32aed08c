"""One CodeBuild project with its own role and log group: the unit every build-like stage uses.

Each project gets a role of its own (CICD-SEC-2), so a scan cannot do what the image build can.
"""

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Optional, cast

import pulumi
import pulumi_aws as aws

from . import buildspecs, naming
from .account import AwsAccount
from .artifacts import ArtifactStore
from .iam import ScopedRole, Statement, allow, service_role
from .inputs import Input

DEFAULT_IMAGE = "aws/codebuild/amazonlinux-x86_64-standard:5.0"


@dataclass(frozen=True)
class CodeBuildProject:
    project: aws.codebuild.Project
    role: ScopedRole
    log_group: aws.cloudwatch.LogGroup
    arn: pulumi.Output[str]
    name: str
    """The project's name, known before it exists."""


def codebuild_project(
    name: str,
    *,
    parent: pulumi.Resource,
    buildspec: str,
    description: str,
    store: ArtifactStore,
    account: AwsAccount,
    writes_artifacts: bool,
    statements: Sequence[Statement] = (),
    environment_variables: Sequence[Mapping[str, Input[str]]] = (),
    privileged: bool = False,
    compute_type: str = "BUILD_GENERAL1_SMALL",
    image: str = DEFAULT_IMAGE,
    timeout_minutes: int = 20,
    log_retention_days: int = 30,
    cache_modes: Sequence[str] = ("LOCAL_SOURCE_CACHE",),
    permissions_boundary: Optional[str] = None,
    role_path: str = "/",
    pipelines: Optional[Sequence[str]] = None,
    tags: Mapping[str, str],
) -> CodeBuildProject:
    """A project named after `name` (within CodeBuild's limits) running `buildspecs/<buildspec>.yml`."""
    project_name = naming.physical(naming.CODEBUILD_PROJECT, name)
    log_group = aws.cloudwatch.LogGroup(
        f"{name}-logs",
        name=f"/aws/codebuild/{project_name}",
        retention_in_days=log_retention_days,
        kms_key_id=store.logs_key.arn,
        tags=dict(tags),
        opts=pulumi.ResourceOptions(parent=parent),
    )
    arn = account.arn("codebuild", f"project/{project_name}")
    sid = _sid(name)
    artifacts = (
        store.read_write_statements(sid, pipelines) if writes_artifacts else store.read_statements(sid, pipelines)
    )
    role = service_role(
        f"{name}-role",
        service="codebuild.amazonaws.com",
        source_arn=arn,
        statements=[
            allow(
                "WriteBuildLogs",
                ["logs:CreateLogStream", "logs:PutLogEvents"],
                [log_group.arn.apply(lambda a: f"{a}:*")],
            ),
            *artifacts,
            *statements,
        ],
        account=account,
        tags=tags,
        parent=parent,
        permissions_boundary=permissions_boundary,
        path=role_path,
    )
    project = aws.codebuild.Project(
        f"{name}-project",
        name=project_name,
        description=description,
        service_role=role.arn,
        build_timeout=timeout_minutes,
        queued_timeout=60,
        encryption_key=store.key.arn,
        source={"type": "CODEPIPELINE", "buildspec": buildspecs.load(buildspec)},
        artifacts={"type": "CODEPIPELINE"},
        cache={"type": "LOCAL", "modes": list(cache_modes)},
        environment=cast(
            aws.codebuild.ProjectEnvironmentArgsDict,
            {
                "type": "LINUX_CONTAINER",
                "compute_type": compute_type,
                "image": image,
                "image_pull_credentials_type": "CODEBUILD",
                "privileged_mode": privileged,
                "environment_variables": list(environment_variables),
            },
        ),
        logs_config={
            "cloudwatch_logs": {"status": "ENABLED", "group_name": log_group.name},
            "s3_logs": {"status": "DISABLED"},
        },
        tags=dict(tags),
        opts=pulumi.ResourceOptions(parent=parent),
    )
    return CodeBuildProject(project=project, role=role, log_group=log_group, arn=arn, name=project_name)


def pass_fail_action(
    name: str, input_artifact: str, project: CodeBuildProject, variables: Optional[Mapping[str, Input[str]]] = None
) -> aws.codepipeline.PipelineStageActionArgs:
    """A pipeline action that runs `project` on `input_artifact` and passes or fails, producing
    nothing. `variables` are set for the build from the execution (`#{Namespace.Variable}`)."""
    configuration: dict = {"ProjectName": project.project.name}
    if variables:
        configuration["EnvironmentVariables"] = json.dumps(
            [{"name": k, "value": v, "type": "PLAINTEXT"} for k, v in variables.items()], separators=(",", ":")
        )
    return aws.codepipeline.PipelineStageActionArgs(
        name=name,
        category="Test",
        owner="AWS",
        provider="CodeBuild",
        version="1",
        input_artifacts=[input_artifact],
        configuration=configuration,
    )


def run_project_statement(sid: str, project_arns: Sequence[Input[str]]) -> pulumi.Output[dict]:
    """What the pipeline role needs to run (and stop) exactly these projects."""
    return allow(sid, ["codebuild:BatchGetBuilds", "codebuild:StartBuild", "codebuild:StopBuild"], list(project_arns))


def _sid(name: str) -> str:
    return "".join(part.capitalize() for part in name.replace("_", "-").split("-") if part.isalnum())[:40] or "Project"
