"""The components as a Pulumi component provider, for TypeScript, Go, C#, Java and YAML programs.

`PulumiPlugin.yaml` at the repository root makes the repository a source-based plugin package:
`pulumi package add <repository>@<tag>` runs this provider, asks for its schema (inferred by
Pulumi's Python analyzer from each hosted class's `args` TypedDict and output annotations) and
generates an SDK for the consumer's language. Start it by hand with `python -m components.provider`.

Only plain data crosses a language boundary: strings, numbers, booleans, lists and maps of them,
and references to resources of published providers (`aws`). The stage components hand each other
Python objects (a `GitHubSource`, an `ArtifactStore`, `StageDefinition`s), which no schema can
describe, so the provider hosts:

- `ServicePipeline`: the whole pipeline (Source -> Build with scans and tests -> [Approve] ->
  rolling ECS deploy with a post-deploy check -> alerts) into an existing service, from plain
  settings. It composes the library's components exactly as a Python program would.
- `ArtifactStore`, `AccountGuardrails`, `DockerHubCache` and `TargetAccountAccess`: the library classes, with their
  arguments minus `account` (an `AwsAccount` of Python outputs; the provider looks the account up
  itself).

`tests/test_provider_schema.py` says, component by component, why the others are left out.
"""

import importlib.metadata
import inspect
import json
import re
import sys
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Optional, TypedDict, Union, cast

import pulumi
import pulumi_aws as aws

from . import artifacts, guardrails, pullcache, settings, target_access
from .account import AwsAccount
from .alerts import PipelineAlerts
from .args import documented
from .delivery import SharedResources, deliver
from .inputs import Input
from .settings import connection_name

try:
    from typing import Required  # Python 3.11+
except ImportError:  # pragma: no cover - Python 3.10: the schema then lists every input as optional
    from typing import Required

PACKAGE = "cicd"
"""The package of every component's type token (`cicd:index:Pipeline`), so the provider's name."""


def whole_numbers(args: Mapping[str, Any], args_type: type) -> dict[str, Any]:
    """`args` with whole floats turned back into ints where `args_type` declares an int.

    Numbers cross gRPC as floats, and pulumi 3.272's `ComponentProvider.map_input_properties`
    converts integer inputs with `int()` and then overwrites the result with the raw float
    (pulumi/provider/experimental/component.py, lines 277-287). Without this the components'
    own range checks (`isinstance(value, int)`) reject every number a TypeScript program sends.
    """
    fixed = dict(args)
    for key, hint in inspect.get_annotations(args_type).items():
        value = fixed.get(key)
        if _declares_int(hint) and isinstance(value, float) and value.is_integer():
            fixed[key] = int(value)
    return fixed


def _declares_int(hint: Any) -> bool:
    """`int`, `Optional[int]` or `Required[int]` (not a list or map of ints)."""
    if hint is int:
        return True
    return typing.get_origin(hint) in (Union, Required) and any(_declares_int(a) for a in typing.get_args(hint))


class ArtifactStoreArgs(TypedDict, total=False):
    expiration_days: int
    """Days after which artifacts and their noncurrent versions are deleted (1-3650). Default 30."""
    protect: bool
    """Protect the bucket and key from deletion. Default true."""
    tags: Mapping[str, str]
    """Tags for every resource."""
    writer_pattern: Input[str]
    """ARN pattern of the roles that may write artifacts (`arn:...:role/<path>/*`): the bucket
    policy refuses writes and deletes by any other principal."""
    cross_account_readers: Sequence[artifacts.CrossAccountReaderArgs]
    """Deploy roles in other accounts and the pipeline whose artifacts each reads (roleArn, pipeline)."""
    region: str
    """Make the store in this region (a pipeline's cross-region actions read from it), through a
    provider of that region with the credentials the component provider runs with (the program's
    `aws:profile` and `aws:assumeRoles` do not reach it: check the account with `pulumi preview`)."""


class ArtifactStore(artifacts.ArtifactStore):
    """A versioned, KMS-encrypted, private, TLS-only artifact bucket with a rotating customer key."""

    bucket: aws.s3.Bucket
    """The artifact bucket."""
    key: aws.kms.Key
    """The customer-managed key that encrypts the artifacts."""
    logs_key: aws.kms.Key
    """The customer-managed key that encrypts the stack's log groups."""

    def __init__(self, name: str, args: ArtifactStoreArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(name, whole_numbers(args, ArtifactStoreArgs), opts)


class AccountGuardrailsArgs(TypedDict, total=False):
    cloud_trail: bool
    """Create a multi-region CloudTrail trail with log file validation. Default false."""
    guard_duty: bool
    """Enable a GuardDuty detector. Default false."""
    config_rules: bool
    """Add the AWS Config managed rules for CodeBuild (needs a Config recorder). Default false."""
    protect: bool
    """Protect the trail bucket from deletion. Default true."""
    tags: Mapping[str, str]
    """Tags for every resource."""


class AccountGuardrails(guardrails.AccountGuardrails):
    """Account-wide safeguards, each opt-in because each is a singleton per account or region."""

    trail: Optional[aws.cloudtrail.Trail]
    """The trail, when `cloudTrail` is set."""
    detector: Optional[aws.guardduty.Detector]
    """The GuardDuty detector, when `guardDuty` is set."""

    def __init__(self, name: str, args: AccountGuardrailsArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(name, whole_numbers(args, AccountGuardrailsArgs), opts)


class DockerHubCacheArgs(TypedDict, total=False):
    credentials_arn: Required[str]
    """Secrets Manager secret (its name must start with `ecr-pullthroughcache/`) holding
    `{"username": ..., "accessToken": ...}` for Docker Hub."""
    prefix: str
    """ECR repository prefix of the cache. Default: the component name."""
    tags: Mapping[str, str]
    """Unused by the rule (it takes no tags); kept for symmetry with the other components."""


class DockerHubCache(pullcache.DockerHubCache):
    """An ECR pull-through cache for Docker Hub: one rule per account and region, shared by every build."""

    prefix: str
    """The ECR repository prefix of the cache."""
    prefix_uri: pulumi.Output[str]
    """Where to pull Docker Hub images through the cache: `<prefixUri>/library/node:22`."""

    def __init__(self, name: str, args: DockerHubCacheArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(name, whole_numbers(args, DockerHubCacheArgs), opts)


class TargetAccountAccessArgs(TypedDict, total=False):
    pipeline_role_arn: Required[Input[str]]
    """The tooling pipeline's own role: the only principal the deploy role trusts."""
    pipeline_name: Required[str]
    """The tooling pipeline's name: the role reads only its folder of the artifact bucket."""
    artifact_bucket_arn: Required[Input[str]]
    """The tooling account's artifact bucket."""
    artifact_key_arn: Required[Input[str]]
    """The tooling account's artifact key."""
    services: Required[Sequence[target_access.TargetServiceArgs]]
    """The services the role may deploy to (cluster, service, taskFamily, taskRoleArns)."""
    role_path: str
    """IAM path of the role. Default `/ecs-cicd/deploy/`."""
    permissions_boundary: str
    """Permissions boundary ARN for the role."""
    check_project_role_arn: Input[str]
    """The tooling pipeline's check role: a role here it may assume to describe the services."""
    alert_emails: Sequence[str]
    """Addresses told when a named service is changed by anyone but the deploy role."""
    tags: Mapping[str, str]
    """Tags for every resource."""


class TargetAccountAccess(target_access.TargetAccountAccess):
    """In a target account, the deploy role one tooling pipeline assumes: trusted by that pipeline's
    role only, allowed to deploy only the named services (cross-account delivery)."""

    role_arn: pulumi.Output[str]
    """What the tooling pipeline's deploy action runs as."""
    role_name: pulumi.Output[str]
    """The role's name."""
    alert_topic_arn: pulumi.Output[str]
    """The encrypted topic the account's bypass alerts publish to."""
    scp_document: pulumi.Output[str]
    """A service control policy for the target account: only the deploy role changes the services."""
    check_role_arn: Optional[pulumi.Output[str]]
    """The role the tooling pipeline's check reads the services as, when checkProjectRoleArn is given."""

    def __init__(self, name: str, args: TargetAccountAccessArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(name, cast(target_access.TargetAccountAccessArgs, dict(args)), opts)


class ServicePipelineArgs(TypedDict, total=False):
    repository: Required[str]
    """GitHub repository to build, as `owner/name`."""
    branch: str
    """Branch whose pushes start the pipeline. Default `main`."""
    connection_arn: str
    """Existing GitHub connection to reuse. Without it one is created, which stays PENDING until its
    handshake is completed in the console (see the `handshakeUrl` output)."""
    full_clone: bool
    """Hand the build a full git clone instead of a zip of the commit. Default false."""
    cluster: Required[str]
    """Name of the existing ECS cluster."""
    service: Required[str]
    """Name of the existing ECS service the pipeline deploys to."""
    container: Required[str]
    """Container in the service's task definition that runs the built image."""
    execution_role_arn: Input[str]
    """The service's task execution role. With `taskRoleArn`, the only roles the deploy may pass;
    when both are omitted they are read from the running service."""
    task_role_arn: Input[str]
    """The service's task role (see `executionRoleArn`)."""
    task_family: str
    """The family of the service's task definition, which the deploy registers revisions of.
    Required with `executionRoleArn` and `taskRoleArn`; read from the running service otherwise."""
    repository_name: str
    """ECR repository for the image. Default: `<name>-build`."""
    compute_type: str
    """CodeBuild compute type. Default BUILD_GENERAL1_SMALL."""
    build_image: str
    """CodeBuild build image. Default aws/codebuild/amazonlinux-x86_64-standard:5.0."""
    build_timeout_minutes: int
    """Image build timeout, 5-2160 minutes. Default 20."""
    dockerfile: str
    """Dockerfile path in the repository. Default `Dockerfile`."""
    context: str
    """Docker build context in the repository. Default `.`."""
    environment: Mapping[str, str]
    """Plain build variables. Names or values that look like secrets are rejected: use `secrets`."""
    secrets: Mapping[str, str]
    """Secret build variables: name -> Secrets Manager secret ARN or SSM parameter name. The build
    role may read exactly these."""
    fail_on_severity: str
    """Image scan gate: CRITICAL, HIGH, MEDIUM or LOW. Default CRITICAL."""
    keep_images: int
    """How many images the ECR lifecycle rule keeps. Default 50."""
    log_retention_days: int
    """Retention of every build and check log group, in days. Default 30."""
    security_scans: bool
    """Run the dependency, code and secret scans beside the image build. Default true."""
    test_commands: Sequence[str]
    """Shell commands run on the source beside the image build. No test action when empty."""
    require_approval: bool
    """Add a manual approval stage before the deploy. Default: true in a stack named `prod`, else false."""
    approval_emails: Sequence[str]
    """Addresses subscribed to the approval topic."""
    deploy_timeout_minutes: int
    """ECS deploy action timeout, 1-60 minutes. Default 20."""
    health_check_url: str
    """URL a post-deploy check calls; the deploy stage fails (and rolls back) when it does not answer."""
    rollback_on_failure: bool
    """Roll the deploy stage back when the deploy or its check fails. Default true."""
    execution_mode: str
    """QUEUED, SUPERSEDED or PARALLEL. Default SUPERSEDED."""
    artifact_expiration_days: int
    """Days after which pipeline artifacts are deleted. Default 30."""
    alert_emails: Sequence[str]
    """Addresses subscribed to the alert topic (failures, changes to the pipeline, bypasses)."""
    permissions_boundary: str
    """Permissions boundary attached to every role."""
    protect: bool
    """Protect the ECR repository, artifact bucket and key from deletion. Default true."""
    tags: Mapping[str, str]
    """Tags for every resource."""


@documented(ServicePipelineArgs)
class ServicePipeline(pulumi.ComponentResource):
    """A CodePipeline V2 named after the component: GitHub -> CodeBuild (image to ECR, scans and tests
    beside it) -> optional approval -> rolling ECS deploy with a post-deploy check -> alerts."""

    pipeline_name: pulumi.Output[str]
    """The pipeline."""
    console_url: pulumi.Output[str]
    """The pipeline's page in the AWS console."""
    repository_url: pulumi.Output[str]
    """Where the build pushes images."""
    artifact_bucket: pulumi.Output[str]
    """The KMS-encrypted artifact bucket."""
    connection_arn: pulumi.Output[str]
    """The GitHub connection in use."""
    handshake_url: Optional[pulumi.Output[str]]
    """Only when the connection was created: where to authorise it (it is PENDING until then)."""
    alert_topic_arn: pulumi.Output[str]
    """The SNS topic the alerts publish to."""

    def __init__(self, name: str, args: ServicePipelineArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(f"{PACKAGE}:index:ServicePipeline", name, None, opts)
        args = cast(ServicePipelineArgs, whole_numbers(args, ServicePipelineArgs))
        for required in ("repository", "cluster", "service", "container"):
            if not args.get(required):
                raise ValueError(f"ServicePipeline {name}: {required} is required")
        # The same validation and defaults as a stack's config: one set of rules for both entry points.
        try:
            config = settings.from_mapping(_as_config(name, args), stack=pulumi.get_stack())
        except settings.SettingsError as error:
            raise _in_argument_names(name, error) from None
        (svc,) = config.services
        account = AwsAccount.current(pulumi.InvokeOptions(parent=self))
        child = pulumi.ResourceOptions(parent=self)
        store = artifacts.ArtifactStore(
            f"{name}-artifacts",
            {
                "expiration_days": svc.pipeline.artifact_expiration_days,
                "protect": config.protect,
                "tags": dict(svc.tags),
                "account": account,
            },
            child,
        )
        shared = SharedResources(
            artifacts=store,
            account=account,
            connection_name=connection_name(name),
            protect=config.protect,
            permissions_boundary=config.permissions_boundary,
            skip_security_scans=config.insecure.skip_security_scans,
        )
        role_arns = [arn for arn in (args.get("execution_role_arn"), args.get("task_role_arn")) if arn]
        delivery = deliver(
            svc, shared, task_role_arns=role_arns or None, task_family=args.get("task_family"), parent=self
        )
        store.limit_key_use(delivery.key_users)
        alerts = PipelineAlerts(
            f"{name}-alerts",
            {
                "artifact_store": store,
                "pipelines": {"pipeline": delivery.watched()},
                "home_region": pulumi.Config("aws").get("region"),
                "permissions_boundary": config.permissions_boundary,
                "role_path": shared.role_paths.runtime,
                "emails": list(args.get("alert_emails", ())),
                "tags": dict(svc.tags),
            },
            child,
        )

        self.pipeline_name = delivery.pipeline.pipeline.name
        self.console_url = delivery.pipeline.console_url
        self.repository_url = delivery.build.repository.repository_url
        self.artifact_bucket = store.bucket.bucket
        self.connection_arn = delivery.source.connection_arn
        self.handshake_url = delivery.source.handshake_url
        self.alert_topic_arn = alerts.topic.arn
        self.register_outputs(
            {
                "pipeline_name": self.pipeline_name,
                "console_url": self.console_url,
                "repository_url": self.repository_url,
                "artifact_bucket": self.artifact_bucket,
                "connection_arn": self.connection_arn,
                "alert_topic_arn": self.alert_topic_arn,
            }
        )


# Each argument of ServicePipeline and the `ecs-cicd:*` config path it stands for.
ARGUMENT_CONFIG = {
    "protect": "protect",
    "tags": "tags",
    "repository": "source.repository",
    "branch": "source.branch",
    "connection_arn": "source.connectionArn",
    "full_clone": "source.fullClone",
    "repository_name": "build.repositoryName",
    "compute_type": "build.computeType",
    "build_image": "build.image",
    "build_timeout_minutes": "build.timeoutMinutes",
    "dockerfile": "build.dockerfile",
    "context": "build.context",
    "environment": "build.environment",
    "secrets": "build.secrets",
    "log_retention_days": "build.logRetentionDays",
    "keep_images": "build.keepImages",
    "fail_on_severity": "build.failOnSeverity",
    "test_commands": "build.testCommands",
    "cluster": "service.cluster",
    "service": "service.name",
    "container": "service.container",
    "deploy_timeout_minutes": "deploy.timeoutMinutes",
    "require_approval": "deploy.requireApproval",
    "approval_emails": "deploy.approvalEmails",
    "health_check_url": "deploy.healthCheckUrl",
    "rollback_on_failure": "deploy.rollbackOnFailure",
    "execution_mode": "pipeline.executionMode",
    "artifact_expiration_days": "pipeline.artifactExpirationDays",
    "permissions_boundary": "iam.permissionsBoundaryArn",
}


def _as_config(name: str, args: Mapping[str, Any]) -> dict[str, Any]:
    """The component's plain arguments as the `ecs-cicd:*` stack config they stand for."""
    config: dict[str, Any] = {
        "environment": _environment_name(pulumi.get_stack()),
        "build": {"repositoryName": f"{name}-build"},
        "pipeline": {"name": name, "executionMode": "SUPERSEDED"},
        "insecure": {"skipSecurityScans": not args.get("security_scans", True)},
    }
    for argument, path in ARGUMENT_CONFIG.items():
        if args.get(argument) is None:
            continue
        value = args[argument]
        value = (
            dict(value) if isinstance(value, Mapping) else list(value) if isinstance(value, (list, tuple)) else value
        )
        *parents, leaf = path.split(".")
        node = config
        for parent in parents:
            node = node.setdefault(parent, {})
        node[leaf] = value
    return config


def _in_argument_names(name: str, error: settings.SettingsError) -> ValueError:
    """A config problem, told in this component's argument names (`deployTimeoutMinutes`, not
    `ecs-cicd:deploy.timeoutMinutes`)."""
    problems = []
    for problem in error.problems:
        for argument, path in sorted(ARGUMENT_CONFIG.items(), key=lambda item: -len(item[1])):
            problem = problem.replace(f"{settings.NAMESPACE}:{path}", _camel(argument))
        problems.append(problem)
    return ValueError(f"ServicePipeline {name}: " + "; ".join(problems))


def _camel(snake: str) -> str:
    head, *rest = snake.split("_")
    return head + "".join(part.capitalize() for part in rest)


def _environment_name(stack: str) -> str:
    """The consumer's stack name as an environment name (tags, defaults): lowercase, safe, short."""
    cleaned = re.sub(r"[^a-z0-9]+", "-", stack.lower()).strip("-")[:12].strip("-")
    return cleaned if cleaned and cleaned[0].isalpha() else "default"


COMPONENTS: Sequence[type[pulumi.ComponentResource]] = (
    ServicePipeline,
    ArtifactStore,
    AccountGuardrails,
    DockerHubCache,
    TargetAccountAccess,
)
"""What the provider hosts: each class's name is its type in the schema (`cicd:index:<name>`)."""


def version() -> str:
    """The package version: pyproject.toml's in a checkout (how `pulumi package add` runs it), else the
    installed distribution's."""
    pyproject = Path(__file__).resolve().parent.parent / "pyproject.toml"
    if pyproject.is_file():
        found = re.search(r'^version\s*=\s*"([^"]+)"', pyproject.read_text(), re.MULTILINE)
        if found:
            return found.group(1)
    return importlib.metadata.version("ecs-cicd")


def launched_as_plugin() -> bool:
    """True when this process was started as a provider plugin rather than as a Pulumi program.

    The engine starts a plugin bare, as `python <plugin dir> [--logtostderr -v=N --tracing URL]
    <engine address>`; a program runs only after the language host (or the offline harness) has
    connected a resource monitor. A plugin directory's `__main__.py` is what the Python language
    host runs, so a repository whose `__main__.py` is also a Pulumi program uses this to hand over
    to `main()`."""
    from pulumi.runtime import settings

    return settings.get_monitor() is None and any(not arg.startswith("-") for arg in sys.argv[1:])


def schema() -> dict[str, Any]:
    """The schema the provider serves, inferred offline by the same analyzer: what SDKs are generated from."""
    from pulumi.provider.experimental.component import ComponentProvider

    return json.loads(ComponentProvider(list(COMPONENTS), PACKAGE, None, version()).schema or "{}")


def main() -> None:
    """Serve the hosted components over gRPC until the engine stops the plugin.

    `python -m components.provider --schema` prints the schema instead (no engine, no CLI needed)."""
    if sys.argv[1:] == ["--schema"]:
        print(json.dumps(schema(), indent=2, sort_keys=True))
        return
    from pulumi.provider.experimental import component_provider_host

    component_provider_host(list(COMPONENTS), PACKAGE, version=version())


if __name__ == "__main__":
    main()
