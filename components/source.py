"""Source stage: a GitHub repository through a CodeConnections connection."""

from collections.abc import Mapping, Sequence
from typing import Any, Optional, Required, TypedDict

import pulumi
import pulumi_aws as aws

from .args import documented, known_keys, like_config
from .iam import allow
from .inputs import Input
from .settings import connection_console_url, connection_name
from .stage import StageDefinition

OUTPUT_ARTIFACT = "SourceOutput"
VARIABLES_NAMESPACE = "SourceVariables"


class GitHubSourceArgs(TypedDict, total=False):
    repository: Required[str]
    """GitHub repository as `owner/name`. Required."""
    branch: str
    """Branch to build. Default `main`."""
    connection_arn: Optional[Input[str]]
    """Existing connection to reuse; when None a new GitHub connection is created (PENDING until its
    handshake is completed in the console)."""
    connection_name: str
    """Name of the created connection. Default: the component name, cut to 32 characters."""
    full_clone: bool
    """Hand the build a full clone (`CODEBUILD_CLONE_REF`) instead of a zip (`CODE_ZIP`). Default False."""
    tags: Mapping[str, str]
    """Tags for every resource."""


@documented(GitHubSourceArgs)
class GitHubSource(pulumi.ComponentResource):
    """The pipeline's Source stage and, unless one is given, the GitHub connection it uses."""

    connection_arn: pulumi.Output[str]
    connection_created: bool
    handshake_url: Optional[pulumi.Output[str]]
    stage: StageDefinition
    repository: str
    branch: str
    full_clone: bool
    output_artifact: str = OUTPUT_ARTIFACT
    variables_namespace: str = VARIABLES_NAMESPACE

    def __init__(self, name: str, args: GitHubSourceArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("cicd:index:GitHubSource", name, None, opts)
        known_keys("GitHubSource", name, args, GitHubSourceArgs)
        if "repository" not in args:
            raise ValueError(f"GitHubSource {name}: repository is required")
        self.repository = args["repository"]
        self.branch = args.get("branch", "main")
        self.full_clone = args.get("full_clone", False)
        like_config("GitHubSource", name, "source.repository", self.repository)
        like_config("GitHubSource", name, "source.branch", self.branch)

        connection_arn = args.get("connection_arn")
        self.connection_created = connection_arn is None
        self.handshake_url = None
        if connection_arn is None:
            connection = aws.codeconnections.Connection(
                f"{name}-github",
                name=args.get("connection_name") or connection_name(name),
                provider_type="GitHub",
                tags=dict(args.get("tags", {})),
                opts=pulumi.ResourceOptions(parent=self),
            )
            self.connection_arn = connection.arn
            self.handshake_url = connection.arn.apply(connection_console_url)
        else:
            # The same output when given one: the alert rules watch a shared connection once.
            self.connection_arn = (
                connection_arn
                if isinstance(connection_arn, pulumi.Output)
                else pulumi.Output.from_input(connection_arn)
            )

        self.stage = StageDefinition(
            name="Source",
            actions=[
                aws.codepipeline.PipelineStageActionArgs(
                    name="Source",
                    category="Source",
                    owner="AWS",
                    provider="CodeStarSourceConnection",
                    version="1",
                    namespace=VARIABLES_NAMESPACE,
                    output_artifacts=[OUTPUT_ARTIFACT],
                    configuration={
                        "ConnectionArn": self.connection_arn,
                        "FullRepositoryId": self.repository,
                        "BranchName": self.branch,
                        "OutputArtifactFormat": "CODEBUILD_CLONE_REF" if self.full_clone else "CODE_ZIP",
                        # With a V2 trigger declared, AWS disables default change detection and
                        # the trigger's branch filter alone decides which pushes start a run.
                        "DetectChanges": "true",
                    },
                )
            ],
            pipeline_role_statements=[self.use_connection_statement("SourceUseConnection")],
        )
        self.register_outputs({"connection_arn": self.connection_arn})

    def use_connection_statement(self, sid: str) -> pulumi.Output[dict]:
        """`UseConnection` on this connection, only for this repository (CICD-SEC-8)."""
        return self.connection_arn.apply(lambda arn: _use_connection(sid, arn, self.repository))

    def reader_statements(self, sid: str) -> list[pulumi.Output[dict]]:
        """What a CodeBuild project that reads this stage's artifact needs besides the artifact:
        with a full clone (CODEBUILD_CLONE_REF) CodeBuild clones the repository through the
        connection, as the project's role, so that role needs `UseConnection` on it
        (https://docs.aws.amazon.com/codepipeline/latest/userguide/troubleshooting.html#codebuild-role-connections).
        AWS does not say whether that call carries `FullRepositoryId`, so the repository condition
        applies when the key is there (IfExists) rather than lock the clone out when it is not."""
        return readers_of(sid, [self])

    def trigger(
        self,
        file_paths: Optional[Mapping[str, Sequence[str]]] = None,
        tags: Sequence[str] = (),
        pull_requests: bool = False,
        pushes: bool = True,
    ) -> aws.codepipeline.PipelineTriggerArgs:
        """The V2 trigger: pushes to the configured branch (only those touching `file_paths`, when
        given), pushes of matching `tags`, and optionally pull requests against the branch. A
        pipeline that deploys should never take `pull_requests`: use a validation pipeline (one that
        builds and tests, `pushes=False`) for them."""
        paths = None
        if file_paths and (file_paths.get("includes") or file_paths.get("excludes")):
            paths = {k: list(v) for k, v in file_paths.items() if v}
        git: dict[str, Any] = {"source_action_name": "Source"}
        if pushes:
            git["pushes"] = [{"branches": {"includes": [self.branch]}, **({"file_paths": paths} if paths else {})}]
            if tags:
                git["pushes"].append({"tags": {"includes": list(tags)}})
        if pull_requests:
            git["pull_requests"] = [
                {
                    "events": ["OPEN", "UPDATED"],
                    "branches": {"includes": [self.branch]},
                    **({"file_paths": paths} if paths else {}),
                }
            ]
        return aws.codepipeline.PipelineTriggerArgs(
            provider_type="CodeStarSourceConnection",
            git_configuration=aws.codepipeline.PipelineTriggerGitConfigurationArgs(**git),
        )


# How many characters of repository names the shared scan roles' policy may spend: the policy's
# other statements take about 1,000 of IAM's 10,240 (whitespace not counted,
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html).
REPOSITORY_LIST_BUDGET = 6_000


def readers_of(sid: str, sources: Sequence[GitHubSource]) -> list[pulumi.Output[dict]]:
    """`reader_statements` of several sources (a project that scans every pipeline of a stack):
    one statement per connection, naming its repositories (one statement per source would pass
    IAM's 10,240-character role policy limit at the schema's 100 services). Past
    `REPOSITORY_LIST_BUDGET`, the repositories are named by their owners (`acme/*`)."""
    by_connection: dict[int, tuple[pulumi.Output[str], list[str]]] = {}
    for source in sources:
        if source.full_clone:
            _, repositories = by_connection.setdefault(id(source.connection_arn), (source.connection_arn, []))
            if source.repository not in repositories:
                repositories.append(source.repository)
    listed = sum(len(repository) + 3 for _, repositories in by_connection.values() for repository in repositories)
    by_owner = listed > REPOSITORY_LIST_BUDGET
    return [
        arn.apply(
            lambda a, sid=f"{sid}{index + 1 if index else ''}", r=repositories: _use_connection(
                sid, a, r[0] if len(r) == 1 else r, if_exists=True, by_owner=by_owner
            )
        )
        for index, (arn, repositories) in enumerate(by_connection.values())
    ]


def _use_connection(
    sid: str, connection_arn: str, repository: str | list[str], if_exists: bool = False, by_owner: bool = False
) -> pulumi.Output[dict]:
    # Connections made before the CodeConnections rename carry the codestar-connections prefix,
    # and IAM evaluates the action and condition under the prefix of the connection's ARN.
    prefix = connection_arn.split(":")[2] if connection_arn.startswith("arn:") else "codeconnections"
    repository_key = f"{prefix}:FullRepositoryId"
    # Read-only use: fetching the source; never writing to the repository through the connection
    # ("ProviderPermissionsRequired: read_only | read_write",
    # https://docs.aws.amazon.com/dtconsole/latest/userguide/security_iam_service-with-iam.html).
    # AWS does not say every UseConnection request carries the key, so it applies when present.
    read_only = {f"{prefix}:ProviderPermissionsRequired": "read_only"}
    if by_owner:
        names = [repository] if isinstance(repository, str) else repository
        owners = sorted({f"{name.split('/')[0]}/*" for name in names})
        condition = {"StringLikeIfExists": {repository_key: owners}, "StringEqualsIfExists": read_only}
    elif if_exists:
        condition = {"StringEqualsIfExists": {repository_key: repository, **read_only}}
    else:
        # StringEquals, not ForAllValues: a request that lacks the key must not match vacuously.
        condition = {"StringEquals": {repository_key: repository}, "StringEqualsIfExists": read_only}
    return allow(sid, [f"{prefix}:UseConnection"], [connection_arn], condition=condition)
