"""Commands run in CodeBuild around the deploy: tests before it (beside the image build) and a
health check after it (in the Deploy stage, so a failed check rolls the deploy back)."""

from collections.abc import Mapping, Sequence
from typing import Optional, Required, TypedDict

import pulumi

from .account import AwsAccount
from .args import documented, known_keys, require_region
from .artifacts import ArtifactStore
from .codebuild import codebuild_project, pass_fail_action, run_project_statement
from .iam import allow, require_role_arn
from .inputs import Input
from .source import GitHubSource
from .stage import StageDefinition


class ServiceCheckArgs(TypedDict, total=False):
    artifact_store: Required[ArtifactStore]
    """Where the pipeline keeps artifacts. Required."""
    source: Required[GitHubSource]
    """The check reads the source artifact (extra commands may use files from it). Required."""
    url: Input[str]
    """A URL that must answer 2xx/3xx (none: no health check)."""
    service: Mapping[str, Input[str]]
    """`{"cluster": name, "service": name, "arn": service ARN, "container": name, "image": value}`:
    verify that the service's running task definition runs `image` in `container`, typically
    `#{BuildVariables.IMAGE_URI}`, the digest this execution built (and, in prod, had approved).
    Add `"region"` for a service of another region than the check's (a cross-region target)."""
    check_role_arn: Input[str]
    """A service of another account (cross-account delivery): read it as this role of that account
    (`TargetAccountAccess.check_role_arn`), the only thing the check's role may assume there."""
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
    pipelines: Sequence[str]
    """Names of the pipelines whose artifacts this reads (and writes): its role is scoped to
    their folders of the artifact bucket. Default: the whole bucket."""
    tags: Mapping[str, str]
    """Tags for every resource."""
    account: AwsAccount
    """Account context; looked up when omitted."""


@documented(ServiceCheckArgs)
class ServiceCheck(pulumi.ComponentResource):
    """A post-deploy check; `stage` holds one action, to run after the deploy action."""

    stage: StageDefinition
    role_arn: pulumi.Output[str]
    """The check project's role: what a target account's check role trusts (`TargetAccountAccess`)."""

    def __init__(self, name: str, args: ServiceCheckArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("cicd:index:ServiceCheck", name, None, opts)
        known_keys("ServiceCheck", name, args, ServiceCheckArgs)
        for required in ("artifact_store", "source"):
            if required not in args:
                raise ValueError(f"ServiceCheck {name}: {required} is required")
        if not args.get("url") and not args.get("service"):
            raise ValueError(f"ServiceCheck {name}: give url, service, or both: there is nothing to check")
        verified = args.get("service")
        if verified is not None:
            missing = {"cluster", "service", "arn", "container", "image"} - set(verified)
            if missing:
                raise ValueError(f"ServiceCheck {name}: service needs {', '.join(sorted(missing))}")
            unknown = set(verified) - {"cluster", "service", "arn", "container", "image", "region"}
            if unknown:
                raise ValueError(
                    f"ServiceCheck {name}: service has unknown keys {sorted(unknown)}; allowed: cluster, service, "
                    "arn, container, image, region"
                )
            if "region" in verified:
                require_region(f"ServiceCheck {name}: service region", verified["region"])
        check_role = args.get("check_role_arn")
        if check_role is not None and verified is None:
            raise ValueError(f"ServiceCheck {name}: check_role_arn reads a service: give service too")
        if isinstance(check_role, str):
            require_role_arn(f"ServiceCheck {name}: check_role_arn", check_role)
        account = args.get("account") or AwsAccount.current()
        timeout = args.get("timeout_seconds", 120)
        if not isinstance(timeout, int) or not 10 <= timeout <= 1800:
            raise ValueError(f"ServiceCheck {name}: timeout_seconds={timeout!r} is not allowed; allowed: 10 to 1800")
        project = codebuild_project(
            name,
            parent=self,
            buildspec="check-service",
            description="Checks the service after a deploy",
            store=args["artifact_store"],
            account=account,
            writes_artifacts=False,
            statements=[
                *args["source"].reader_statements("FullCloneUseConnection"),
                *(
                    [allow("ReadTheServiceAsItsAccountsCheckRole", ["sts:AssumeRole"], [check_role])]
                    if check_role is not None
                    else [
                        allow("ReadTheService", ["ecs:DescribeServices"], [verified["arn"]]),
                        # DescribeTaskDefinition has no resource-level permissions.
                        allow("ReadTaskDefinitionNoResourceLevelPermissions", ["ecs:DescribeTaskDefinition"], ["*"]),
                    ]
                    if verified
                    else []
                ),
            ],
            environment_variables=[
                {"name": "SERVICE_URL", "value": args.get("url") or "", "type": "PLAINTEXT"},
                {"name": "CHECK_TIMEOUT_SECONDS", "value": str(timeout), "type": "PLAINTEXT"},
                {"name": "CHECK_COMMANDS", "value": "\n".join(args.get("commands", ())), "type": "PLAINTEXT"},
                *(
                    [
                        {"name": "ECS_CLUSTER", "value": verified["cluster"], "type": "PLAINTEXT"},
                        {"name": "ECS_SERVICE", "value": verified["service"], "type": "PLAINTEXT"},
                        {"name": "CONTAINER_NAME", "value": verified["container"], "type": "PLAINTEXT"},
                        *(
                            [{"name": "ECS_REGION", "value": verified["region"], "type": "PLAINTEXT"}]
                            if verified.get("region")
                            else []
                        ),
                        *([{"name": "CHECK_ROLE_ARN", "value": check_role, "type": "PLAINTEXT"}] if check_role else []),
                    ]
                    if verified
                    else []
                ),
            ],
            timeout_minutes=max(5, timeout // 60 + 5),
            log_retention_days=args.get("log_retention_days", 30),
            permissions_boundary=args.get("permissions_boundary"),
            role_path=args.get("role_path", "/"),
            pipelines=args.get("pipelines"),
            tags=args.get("tags", {}),
        )
        self.role_arn = project.role.role.arn
        self.stage = StageDefinition(
            name="Check",
            actions=[
                pass_fail_action(
                    "Check",
                    args["source"].output_artifact,
                    project,
                    {"EXPECTED_IMAGE": verified["image"]} if verified else None,
                )
            ],
            pipeline_role_statements=[run_project_statement("RunServiceCheck", [project.arn])],
            roles=[project.role],
            project_names=[project.name],
        )
        self.register_outputs({})


class TestCommandsArgs(TypedDict, total=False):
    artifact_store: Required[ArtifactStore]
    """Where the pipeline keeps artifacts. Required."""
    source: Required[GitHubSource]
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
    pipelines: Sequence[str]
    """Names of the pipelines whose artifacts this reads (and writes): its role is scoped to
    their folders of the artifact bucket. Default: the whole bucket."""
    tags: Mapping[str, str]
    """Tags for every resource."""
    account: AwsAccount
    """Account context; looked up when omitted."""


@documented(TestCommandsArgs)
class TestCommands(pulumi.ComponentResource):
    """Pre-deploy tests; `stage` holds one action, to run beside the image build."""

    __test__ = False  # not a pytest test class
    stage: StageDefinition

    def __init__(self, name: str, args: TestCommandsArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("cicd:index:TestCommands", name, None, opts)
        known_keys("TestCommands", name, args, TestCommandsArgs)
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
            pipelines=args.get("pipelines"),
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
