"""Build stage: a CodeBuild project that builds the service image, pushes it to ECR and writes
`imagedefinitions.json` naming the container the deploy updates."""

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Optional, Required, TypedDict

import pulumi
import pulumi_aws as aws

from . import buildspecs, naming
from .account import AwsAccount
from .args import documented, known_keys, no_plaintext_secrets, secret_refs
from .artifacts import ArtifactStore
from .codebuild import DEFAULT_IMAGE, codebuild_project, run_project_statement
from .config_schema import COMPUTE_TYPES, LOG_RETENTION_DAYS, SEVERITIES
from .iam import ScopedRole, Statement, allow, require_role_arn, secret_read_statements
from .inputs import Input
from .pullcache import DockerHubCache
from .settings import SecretRef
from .source import GitHubSource
from .stage import StageDefinition

OUTPUT_ARTIFACT = "BuildOutput"
# Files of the build's output artifact (written by buildspecs/build-image.yml into its root).
IMAGE_DEFINITIONS_FILE = "imagedefinitions.json"  # ECS rolling deploy
IMAGE_DETAIL_FILE = "imageDetail.json"  # CodeDeployToECS: the image
TASKDEF_FILE = "taskdef.json"  # CodeDeployToECS: the task definition template
APPSPEC_FILE = "appspec.yaml"  # CodeDeployToECS: the AppSpec template
CACHE_TAG = "buildcache"  # the one tag buildspecs/build-image.yml writes the BuildKit cache to


# The BuildKit registry cache: read and rewrite the cache manifest and its layers.
_ECR_CACHE_ACTIONS = [
    "ecr:BatchCheckLayerAvailability",
    "ecr:BatchGetImage",
    "ecr:CompleteLayerUpload",
    "ecr:GetDownloadUrlForLayer",
    "ecr:InitiateLayerUpload",
    "ecr:PutImage",
    "ecr:UploadLayerPart",
]

# Everything `docker push`, `aws ecr describe-images` and the scan gate need on the one repository.
_ECR_PUSH_ACTIONS = [
    "ecr:DescribeImageScanFindings",
    "ecr:BatchCheckLayerAvailability",
    "ecr:BatchGetImage",
    "ecr:CompleteLayerUpload",
    "ecr:DescribeImages",
    "ecr:GetDownloadUrlForLayer",
    "ecr:InitiateLayerUpload",
    "ecr:PutImage",
    "ecr:UploadLayerPart",
]


class ImageBuildArgs(TypedDict, total=False):
    source: Required[GitHubSource]
    """The Source stage whose artifact is built. Required."""
    artifact_store: Required[ArtifactStore]
    """Where the pipeline keeps artifacts. Required."""
    container_name: Required[str]
    """Container in the task definition that runs the image; written into imagedefinitions.json. Required."""
    repository_name: str
    """Name of the ECR repository created for the image. Default: the component name."""
    existing_repository: str
    """Name or ARN of an existing ECR repository (this account and region) to push to instead: none
    is created, the build may push only to it, and no layer-cache repository is made (the build
    caches layers on the build host only). Its lifecycle policy is left alone unless `keep_images`
    is given. It must have immutable tags and scan on push, or `pulumi up` stops."""
    compute_type: str
    """CodeBuild compute type. Default BUILD_GENERAL1_SMALL."""
    image: str
    """CodeBuild image. Default aws/codebuild/amazonlinux-x86_64-standard:5.0."""
    timeout_minutes: int
    """Build timeout, 5-2160 minutes. Default 20."""
    dockerfile: str
    """Dockerfile path in the repository. Default `Dockerfile`."""
    context: str
    """Docker build context in the repository. Default `.`."""
    environment: Mapping[str, str]
    """Plain, non-secret build variables."""
    secrets: Sequence[SecretRef]
    """Secret build variables, fetched by CodeBuild from Secrets Manager / SSM at build time:
    `SecretRef`s (or, from Python, a mapping of variable name to Secrets Manager ARN or Parameter
    Store name)."""
    log_retention_days: int
    """Build log retention. Default 30."""
    fail_on_severity: str
    """Image scan gate: fail the build on findings at or above CRITICAL, HIGH, MEDIUM or LOW. Default CRITICAL."""
    docker_hub_mirror: "DockerHubCache"
    """An ECR pull-through cache for Docker Hub: the build pulls base images through it."""
    taskdef_template: Input[str]
    """Blue/green: taskdef.json rendered from the container contract (a service this program created)."""
    task_family: str
    """Blue/green on an existing service: derive taskdef.json from this family's current revision."""
    appspec: str
    """Blue/green: appspec.yaml rendered from the container contract."""
    keep_images: int
    """How many images the ECR lifecycle rule keeps. Default 50 for a created repository; for an
    existing one, a lifecycle policy is set only when this is given."""
    protect: bool
    """Protect the ECR repository from deletion. Default True."""
    pull_role_arns: Sequence[Input[str]]
    """Task execution roles of other accounts that run the image (cross-account delivery): the
    repository's policy lets exactly these pull it, and nothing else. Only with a repository this
    component creates (an existing repository's policy is its owner's)."""
    permissions_boundary: Optional[str]
    """Permissions boundary ARN for the build role."""
    role_path: str
    """IAM path of the roles created here (`iam.RolePaths`). Default `/`."""
    pipelines: Sequence[str]
    """Names of the pipelines whose artifacts this reads (and writes): its role is scoped to
    their folders of the artifact bucket. Default: the whole bucket."""
    tags: Mapping[str, str]
    """Tags for every resource."""
    account: AwsAccount
    """Account context; looked up when omitted."""


@documented(ImageBuildArgs)
class ImageBuild(pulumi.ComponentResource):
    """The Build stage: CodeBuild project, its role and log group, and the ECR repository."""

    project: aws.codebuild.Project
    repository: "aws.ecr.Repository | ExistingRepository"
    cache_repository: Optional[aws.ecr.Repository]
    """BuildKit's layer cache; None with an existing repository."""
    role: ScopedRole
    log_group: aws.cloudwatch.LogGroup
    stage: StageDefinition
    output_artifact: str = OUTPUT_ARTIFACT
    container_name: str

    def __init__(self, name: str, args: ImageBuildArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("cicd:index:ImageBuild", name, None, opts)
        known_keys("ImageBuild", name, args, ImageBuildArgs)
        _validate(name, args)
        source: GitHubSource = args["source"]
        store: ArtifactStore = args["artifact_store"]
        account = args.get("account") or AwsAccount.current()
        tags = dict(args.get("tags", {}))
        secrets = list(secret_refs("ImageBuild", name, args.get("secrets", ()), "build"))
        no_plaintext_secrets("ImageBuild", name, args.get("environment", {}), "build")
        self.container_name = args["container_name"]
        child = pulumi.ResourceOptions(parent=self)

        existing = args.get("existing_repository")
        self.repository = (
            ExistingRepository.lookup(existing, account, parent=self)
            if existing
            else aws.ecr.Repository(
                f"{name}-repository",
                name=args.get("repository_name") or naming.physical(naming.ECR_REPOSITORY, name),
                image_tag_mutability="IMMUTABLE",
                image_scanning_configuration={"scan_on_push": True},
                encryption_configurations=[{"encryption_type": "KMS"}],
                # As for the artifact bucket: only an unprotected stack deletes a repository with images.
                force_delete=not args.get("protect", True),
                tags=tags,
                opts=pulumi.ResourceOptions(parent=self, protect=args.get("protect", True)),
            )
        )
        pullers = list(args.get("pull_role_arns", ()))
        if pullers and existing:
            raise ValueError(
                f"ImageBuild {name}: pull_role_arns needs a repository this component creates; "
                f"{existing!r} is an existing one, whose policy its owner keeps"
            )
        if pullers:
            aws.ecr.RepositoryPolicy(
                f"{name}-repository-pullers",
                repository=self.repository.name,
                policy=pulumi.Output.all(*pullers).apply(lambda arns: _pull_policy(name, arns)),
                opts=child,
            )
        if not existing or "keep_images" in args:
            aws.ecr.LifecyclePolicy(
                f"{name}-repository-lifecycle",
                repository=self.repository.name,
                policy=_lifecycle_policy(args.get("keep_images", 50)),
                opts=child,
            )
        # BuildKit's layer cache: every build rewrites its one tag, so that tag (and only it) may
        # move; every other tag stays immutable. It lives in a repository of its own that nothing
        # deploys from. Exclusion filters: https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_ImageTagMutabilityExclusionFilter.html
        # With an existing repository nothing is created in ECR: layers are cached on the build host.
        self.cache_repository = None
        if not existing:
            self.cache_repository = aws.ecr.Repository(
                f"{name}-cache-repository",
                name=naming.physical(naming.ECR_REPOSITORY, args.get("repository_name", name), "buildcache"),
                image_tag_mutability="IMMUTABLE_WITH_EXCLUSION",
                image_tag_mutability_exclusion_filters=[{"filter": CACHE_TAG, "filter_type": "WILDCARD"}],
                image_scanning_configuration={"scan_on_push": True},
                encryption_configurations=[{"encryption_type": "KMS"}],
                force_delete=True,
                tags={**tags, "ecs-cicd:purpose": "build-cache"},
                opts=child,
            )
            aws.ecr.LifecyclePolicy(
                f"{name}-cache-repository-lifecycle",
                repository=self.cache_repository.name,
                policy=_lifecycle_policy(keep_images=1),
                opts=child,
            )
        mirror = args.get("docker_hub_mirror")

        statements: list[Statement] = [
            # GetAuthorizationToken has no resource-level permissions: AWS only accepts "*".
            allow("EcrLoginNoResourceLevelPermissions", ["ecr:GetAuthorizationToken"], ["*"]),
            allow("PushToServiceRepository", _ECR_PUSH_ACTIONS, [self.repository.arn]),
            *(
                [allow("ReadWriteBuildCache", _ECR_CACHE_ACTIONS, [self.cache_repository.arn])]
                if self.cache_repository is not None
                else []
            ),
            *secret_read_statements(secrets, account, "Build"),
        ]
        statements += source.reader_statements("FullCloneUseConnection")
        if mirror is not None:
            statements.append(mirror.pull_statement("PullBaseImagesThroughCache"))
        if args.get("task_family") and not args.get("taskdef_template"):
            # DescribeTaskDefinition has no resource-level permissions.
            statements.append(
                allow("ReadTaskDefinitionNoResourceLevelPermissions", ["ecs:DescribeTaskDefinition"], ["*"])
            )
        built = codebuild_project(
            name,
            parent=self,
            buildspec="build-image",
            description=f"Builds {self.container_name} for {source.repository}@{source.branch}",
            store=store,
            account=account,
            writes_artifacts=True,
            statements=statements,
            environment_variables=_environment_variables(
                self.repository.repository_url,
                self.cache_repository.repository_url if self.cache_repository is not None else "",
                self.container_name,
                args,
                secrets,
            ),
            # Docker-in-Docker needs privileged mode; only this image-building project gets it.
            privileged=True,
            compute_type=args.get("compute_type", "BUILD_GENERAL1_SMALL"),
            image=args.get("image", DEFAULT_IMAGE),
            timeout_minutes=args.get("timeout_minutes", 20),
            log_retention_days=args.get("log_retention_days", 30),
            cache_modes=("LOCAL_DOCKER_LAYER_CACHE", "LOCAL_SOURCE_CACHE"),
            permissions_boundary=args.get("permissions_boundary"),
            role_path=args.get("role_path", "/"),
            pipelines=args.get("pipelines"),
            tags=tags,
        )
        self.project, self.role, self.log_group = built.project, built.role, built.log_group

        self.stage = StageDefinition(
            name="Build",
            actions=[
                aws.codepipeline.PipelineStageActionArgs(
                    name="Image",
                    category="Build",
                    owner="AWS",
                    provider="CodeBuild",
                    version="1",
                    input_artifacts=[source.output_artifact],
                    output_artifacts=[OUTPUT_ARTIFACT],
                    namespace="BuildVariables",
                    configuration={
                        "ProjectName": self.project.name,
                        "EnvironmentVariables": (
                            '[{"name":"COMMIT_ID","value":"#{'
                            + source.variables_namespace
                            + '.CommitId}","type":"PLAINTEXT"}]'
                        ),
                    },
                )
            ],
            pipeline_role_statements=[run_project_statement("RunBuildProject", [built.arn])],
            roles=[built.role],
            project_names=[built.name],
        )
        self.register_outputs({"repository_url": self.repository.repository_url, "project_name": self.project.name})


@dataclass(frozen=True)
class ExistingRepository:
    """An ECR repository made elsewhere, as the build uses it: looked up, never managed."""

    name: pulumi.Output[str]
    arn: pulumi.Output[str]
    repository_url: pulumi.Output[str]

    @classmethod
    def lookup(cls, name_or_arn: str, account: AwsAccount, parent: pulumi.Resource) -> "ExistingRepository":
        """The repository, checked when `pulumi up` reads it: in this account and region, with
        immutable tags (an image is deployed by digest, but a tag that moves can be swapped under an
        approval) and scan on push (the build's image gate waits for the scan)."""
        name = name_or_arn.split(":repository/", 1)[-1]
        found = aws.ecr.get_repository_output(name=name, opts=pulumi.InvokeOutputOptions(parent=parent))
        checked = pulumi.Output.all(found, account.id, account.region).apply(
            lambda v: _check_existing_repository(name_or_arn, *v)
        )
        return cls(
            name=checked.apply(lambda r: r.name),
            arn=checked.apply(lambda r: r.arn),
            repository_url=checked.apply(lambda r: r.repository_url),
        )


class ExistingRepositoryError(pulumi.RunError):
    """The existing repository would weaken the pipeline (or is not where the stack is)."""


# What pulling an image takes of a repository: its manifest and layers
# (https://docs.aws.amazon.com/AmazonECR/latest/userguide/repository-policy-examples.html, "Allow
# another account"); the puller's own account grants it ecr:GetAuthorizationToken.
PULL_ACTIONS = ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]


def _pull_policy(name: str, role_arns: Sequence[str]) -> str:
    for arn in role_arns:
        require_role_arn(f"ImageBuild {name}: pull_role_arns", arn)
    statement = {
        "Sid": "TargetAccountsExecutionRolesPull",
        "Effect": "Allow",
        "Principal": {"AWS": sorted(set(role_arns))},
        "Action": PULL_ACTIONS,
    }
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]}, sort_keys=True)


def _check_existing_repository(given: str, found: Any, account_id: str, region: str) -> Any:
    where = f"ecs-cicd:build.existingRepository = {given!r}"
    if given.startswith("arn:") and given.split(":")[3:5] != [region, account_id]:
        raise ExistingRepositoryError(f"{where} is not in this stack's account and region ({account_id}, {region})")
    if found.image_tag_mutability not in ("IMMUTABLE", "IMMUTABLE_WITH_EXCLUSION"):
        raise ExistingRepositoryError(
            f"{where} has {found.image_tag_mutability} tags; allowed: IMMUTABLE (a pushed tag must not move)"
        )
    scanning = [c.get("scan_on_push") if isinstance(c, dict) else c.scan_on_push
                for c in found.image_scanning_configurations or []]  # fmt: skip
    if not any(scanning):
        raise ExistingRepositoryError(f"{where} does not scan on push; allowed: a repository with scanOnPush: true")
    return found


def _validate(name: str, args: ImageBuildArgs) -> None:
    for required in ("source", "artifact_store", "container_name"):
        if required not in args:
            raise ValueError(f"ImageBuild {name}: {required} is required")
    checks = {
        "compute_type": (lambda v: v in COMPUTE_TYPES, f"one of {', '.join(COMPUTE_TYPES)}"),
        "timeout_minutes": (lambda v: isinstance(v, int) and 5 <= v <= 2160, "a whole number of minutes, 5-2160"),
        "log_retention_days": (lambda v: v in LOG_RETENTION_DAYS, f"one of {LOG_RETENTION_DAYS}"),
        "fail_on_severity": (lambda v: v in SEVERITIES, f"one of {', '.join(SEVERITIES)}"),
        "container_name": (
            lambda v: bool(re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]{0,254}", str(v))),
            "a container name",
        ),
    }
    for key, (ok, allowed) in checks.items():
        if key in args and not ok(args[key]):
            raise ValueError(f"ImageBuild {name}: {key}={args[key]!r} is not allowed; allowed: {allowed}")
    if len(name) > 150:
        raise ValueError(
            f"ImageBuild {name}: the name is the CodeBuild project name and must be at most 150 characters"
        )


def _environment_variables(
    repository_url: pulumi.Output[str],
    cache_url: Input[str],
    container_name: str,
    args: ImageBuildArgs,
    secrets: Sequence[SecretRef],
) -> list[dict]:
    fixed = [
        {"name": "REPOSITORY_URI", "value": repository_url, "type": "PLAINTEXT"},
        {"name": "CACHE_REPOSITORY_URI", "value": cache_url, "type": "PLAINTEXT"},
        {"name": "CONTAINER_NAME", "value": container_name, "type": "PLAINTEXT"},
        {"name": "DOCKERFILE", "value": args.get("dockerfile", "Dockerfile"), "type": "PLAINTEXT"},
        {"name": "DOCKER_CONTEXT", "value": args.get("context", "."), "type": "PLAINTEXT"},
        {"name": "FAIL_ON_SEVERITY", "value": args.get("fail_on_severity", "CRITICAL"), "type": "PLAINTEXT"},
    ]
    mirror = args.get("docker_hub_mirror")
    if mirror is not None:
        fixed.append({"name": "DOCKER_HUB_MIRROR", "value": mirror.prefix_uri, "type": "PLAINTEXT"})
    blue_green = {"appspec": "APPSPEC_TEMPLATE", "taskdef_template": "TASKDEF_TEMPLATE", "task_family": "TASK_FAMILY"}
    fixed += [
        {"name": variable, "value": args[key], "type": "PLAINTEXT"}
        for key, variable in blue_green.items()
        if args.get(key)
    ]
    if secrets:
        # The names the build hands to BuildKit as secrets (`RUN --mount=type=secret,id=NAME`).
        fixed.append({"name": "BUILDKIT_MOUNT_IDS", "value": " ".join(s.name for s in secrets), "type": "PLAINTEXT"})
    reserved = buildspecs.reserved_image_build_variables()
    user = dict(args.get("environment", {}))
    clashes = sorted(reserved & (set(user) | {s.name for s in secrets}))
    if clashes:
        raise ValueError(f"build variables {clashes} are set by ecs-cicd itself; choose other names")
    plain = [{"name": k, "value": v, "type": "PLAINTEXT"} for k, v in sorted(user.items())]
    secret = [{"name": s.name, "value": s.reference, "type": s.kind} for s in secrets]
    return fixed + plain + secret


def _lifecycle_policy(keep_images: int) -> str:
    return json.dumps(
        {
            "rules": [
                {
                    "rulePriority": 1,
                    "description": "Expire untagged images after a day",
                    "selection": {
                        "tagStatus": "untagged",
                        "countType": "sinceImagePushed",
                        "countUnit": "days",
                        "countNumber": 1,
                    },
                    "action": {"type": "expire"},
                },
                {
                    "rulePriority": 2,
                    "description": f"Keep the newest {keep_images} images",
                    "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": keep_images},
                    "action": {"type": "expire"},
                },
            ]
        },
        sort_keys=True,
    )
