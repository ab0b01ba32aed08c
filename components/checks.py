"""Commands run in CodeBuild around the deploy: tests before it (beside the image build) and a
health check after it (in the Deploy stage, so a failed check rolls the deploy back)."""

from collections.abc import Mapping, Sequence
from typing import Optional, TypedDict

import pulumi

from .account import AwsAccount
from .artifacts import ArtifactStore
from .codebuild import codebuild_project, pass_fail_action, run_project_statement
from .source import GitHubSource
from .stage import StageDefinition


class ServiceCheckArgs(TypedDict, total=False):
    artifact_store: ArtifactStore
    """Where the pipeline keeps artifacts. Required."""
    source: GitHubSource
    """The check reads the source artifact (extra commands may use files from it). Required."""
    url: pulumi.Input[str]
    """The URL that must answer 2xx/3xx. Required."""
    timeout_seconds: int
    """How long to wait for it. Default 120."""
    commands: Sequence[str]
    """Extra shell commands run after the URL passes; `$SERVICE_URL` is set."""
    log_retention_days: int
    """Check log retention. Default 30."""
    permissions_boundary: Optional[str]
    """Permissions boundary for the check role."""
    role_path: str
    """IAM path of the roles created here (`iam.RolePaths`). Default `/`."""
    tags: Mapping[str, str]
    """Tags for every resource."""
    account: AwsAccount
    """Account context; looked up when omitted."""


class ServiceCheck(pulumi.ComponentResource):
    """A post-deploy check; `stage` holds one action, to run after the deploy action."""

    stage: StageDefinition

    def __init__(self, name: str, args: ServiceCheckArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("cicd:index:ServiceCheck", name, None, opts)
        for required in ("artifact_store", "source", "url"):
            if required not in args:
                raise ValueError(f"ServiceCheck {name}: {required} is required")
        timeout = args.get("timeout_seconds", 120)
        if not isinstance(timeout, int) or not 10 <= timeout <= 1800:
            raise ValueError(f"ServiceCheck {name}: timeout_seconds={timeout!r} is not allowed; allowed: 10 to 1800")
        project = codebuild_project(
            name,
            parent=self,
            buildspec="check-service",
            description="Checks the service after a deploy",
            store=args["artifact_store"],
            account=args.get("account") or AwsAccount.current(),
            writes_artifacts=False,
            statements=args["source"].reader_statements("FullCloneUseConnection"),
            environment_variables=[
                {"name": "SERVICE_URL", "value": args["url"], "type": "PLAINTEXT"},
                {"name": "CHECK_TIMEOUT_SECONDS", "value": str(timeout), "type": "PLAINTEXT"},
                {"name": "CHECK_COMMANDS", "value": "\n".join(args.get("commands", ())), "type": "PLAINTEXT"},
            ],
            timeout_minutes=max(5, timeout // 60 + 5),
            log_retention_days=args.get("log_retention_days", 30),
            permissions_boundary=args.get("permissions_boundary"),
            role_path=args.get("role_path", "/"),
            tags=args.get("tags", {}),
        )
        self.stage = StageDefinition(
            name="Check",
            actions=[pass_fail_action("Check", args["source"].output_artifact, project)],
            pipeline_role_statements=[run_project_statement("RunServiceCheck", [project.arn])],
            roles=[project.role],
            project_names=[project.name],
        )
        self.register_outputs({})


class TestCommandsArgs(TypedDict, total=False):
    artifact_store: ArtifactStore
    """Where the pipeline keeps artifacts. Required."""
    source: GitHubSource
    """The Source stage whose artifact is tested. Required."""
    commands: Sequence[str]
    """Shell commands; any non-zero exit fails the pipeline. Required, non-empty."""
    compute_type: str
    """CodeBuild compute type. Default BUILD_GENERAL1_SMALL."""
    log_retention_days: int
    """Test log retention. Default 30."""
    permissions_boundary: Optional[str]
    """Permissions boundary for the test role."""
    role_path: str
    """IAM path of the roles created here (`iam.RolePaths`). Default `/`."""
    tags: Mapping[str, str]
    """Tags for every resource."""
    account: AwsAccount
    """Account context; looked up when omitted."""


class TestCommands(pulumi.ComponentResource):
    """Pre-deploy tests; `stage` holds one action, to run beside the image build."""

    __test__ = False  # not a pytest test class
    stage: StageDefinition

    def __init__(self, name: str, args: TestCommandsArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("cicd:index:TestCommands", name, None, opts)
        commands = list(args.get("commands", ()))
        if not commands or not all(isinstance(c, str) and c.strip() for c in commands):
            raise ValueError(f"TestCommands {name}: commands must be a non-empty list of shell commands")
        project = codebuild_project(
            name,
            parent=self,
            buildspec="run-tests",
            description="Runs the stack's test commands on the source",
            store=args["artifact_store"],
            account=args.get("account") or AwsAccount.current(),
            writes_artifacts=False,
            statements=args["source"].reader_statements("FullCloneUseConnection"),
            environment_variables=[{"name": "TEST_COMMANDS", "value": "\n".join(commands), "type": "PLAINTEXT"}],
            compute_type=args.get("compute_type", "BUILD_GENERAL1_SMALL"),
            log_retention_days=args.get("log_retention_days", 30),
            permissions_boundary=args.get("permissions_boundary"),
            role_path=args.get("role_path", "/"),
            tags=args.get("tags", {}),
        )
        self.stage = StageDefinition(
            name="Test",
            actions=[pass_fail_action("Tests", args["source"].output_artifact, project)],
            pipeline_role_statements=[run_project_statement("RunTestCommands", [project.arn])],
            roles=[project.role],
            project_names=[project.name],
        )
        self.register_outputs({})
