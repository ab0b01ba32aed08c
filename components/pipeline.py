"""The pipeline: CodePipeline V2 running the stages it is given, in order, with a role built
from what those stages declare they need."""

from collections.abc import Mapping, Sequence
from typing import Optional, Required, TypedDict

import pulumi
import pulumi_aws as aws

from . import iam
from .account import AwsAccount
from .args import documented, known_keys, require_region
from .artifacts import ArtifactStore
from .config_schema import EXECUTION_MODES
from .iam import allow, trust_policy
from .stage import StageDefinition


class PipelineArgs(TypedDict, total=False):
    stages: Sequence[StageDefinition]
    """Stages in run order; the first must hold the source actions. Required."""
    artifact_store: Required[ArtifactStore]
    """Where artifacts are kept. Required."""
    regional_artifact_stores: Mapping[str, ArtifactStore]
    """Stores in other regions, by region (each made with a provider for its region): an action with
    a `region` runs from its region's store, into which CodePipeline copies the artifacts it reads.
    Every region an action names needs one."""
    triggers: Sequence[aws.codepipeline.PipelineTriggerArgs]
    """V2 triggers, e.g. `GitHubSource.trigger()`: what starts an execution."""
    execution_mode: str
    """QUEUED, SUPERSEDED or PARALLEL. Default SUPERSEDED."""
    permissions_boundary: Optional[str]
    """Permissions boundary ARN for the pipeline role."""
    role_path: str
    """IAM path of the roles created here (`iam.RolePaths`). Default `/`."""
    action_role_path: str
    """IAM path of the actions' own roles (the deploy's: `iam.RolePaths.deploy`). Default `role_path`."""
    tags: Mapping[str, str]
    """Tags for every resource."""
    account: AwsAccount
    """Account context; looked up when omitted."""


@documented(PipelineArgs)
class Pipeline(pulumi.ComponentResource):
    """A CodePipeline V2 named `name`. It knows stages only through their definitions."""

    pipeline: aws.codepipeline.Pipeline
    pipeline_name: str
    """The pipeline's name, known before it exists (alert patterns are sized by it)."""
    role: iam.ScopedRole
    console_url: pulumi.Output[str]
    stages: list[StageDefinition]
    action_roles: dict[tuple[str, str], iam.ScopedRole]
    """The role of each action that asks for one, by (stage, action): assumable by this pipeline's role only."""

    def __init__(self, name: str, args: PipelineArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("cicd:index:Pipeline", name, None, opts)
        known_keys("Pipeline", name, args, PipelineArgs)
        stages = list(args.get("stages", ()))
        self.stages = stages
        _validate(name, stages, args)
        store: ArtifactStore = args["artifact_store"]
        regional: dict[str, ArtifactStore] = dict(args.get("regional_artifact_stores", {}))
        account = args.get("account") or AwsAccount.current()
        if regional:  # one store per region: the pipeline's own is `artifact_store`
            account.region.apply(lambda home: _not_the_pipelines_region(name, home, regional))
        tags = dict(args.get("tags", {}))

        boundary = args.get("permissions_boundary")
        # The role first, its policy after the action roles it may assume (they trust the role).
        unpermitted = iam.role(
            f"{name}-role",
            trust=trust_policy("codepipeline.amazonaws.com", account, account.arn("codepipeline", name)),
            statements=[],
            permissions_boundary=boundary,
            path=args.get("role_path", "/"),
            tags=tags,
            parent=self,
        )
        self.action_roles = self._action_roles(
            name,
            stages,
            store,
            unpermitted.role,
            boundary,
            args.get("action_role_path", args.get("role_path", "/")),
            tags,
        )
        self.role = iam.grant(
            unpermitted,
            unpermitted.role.pulumi_resource_name,
            [
                *store.read_write_statements("Pipeline", [name]),
                # CodePipeline copies the artifacts a cross-region action reads into its region's store.
                *(
                    statement
                    for region, other in regional.items()
                    for statement in other.read_write_statements(f"Pipeline{_sid_part(region)}", [name])
                ),
                *(statement for stage in stages for statement in stage.pipeline_role_statements),
                *(
                    [allow("AssumeActionRoles", ["sts:AssumeRole"], [r.arn for r in self.action_roles.values()])]
                    if self.action_roles
                    else []
                ),
                *(
                    [allow("AssumeTargetAccountsDeployRoles", ["sts:AssumeRole"], external)]
                    if (external := [arn for stage in stages for arn in stage.external_action_roles.values()])
                    else []
                ),
            ],
        )
        self.pipeline_name = name
        self.pipeline = aws.codepipeline.Pipeline(
            f"{name}-pipeline",
            name=name,
            pipeline_type="V2",
            execution_mode=args.get("execution_mode", "SUPERSEDED"),
            role_arn=self.role.arn,
            # "There must be an artifact store for the pipeline Region and for each cross-region action
            # in the pipeline", each then with its region (and without one in a single-region pipeline):
            # https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-properties-codepipeline-pipeline-artifactstoremap.html
            artifact_stores=[
                aws.codepipeline.PipelineArtifactStoreArgs(
                    location=each.bucket.bucket,
                    type="S3",
                    encryption_key=aws.codepipeline.PipelineArtifactStoreEncryptionKeyArgs(id=each.key.arn, type="KMS"),
                    region=region if regional else None,
                )
                for region, each in [(account.region, store), *regional.items()]
            ],
            stages=[
                stage.to_args(
                    {
                        **{a: self.action_roles[(stage.name, a)].arn for s, a in self.action_roles if s == stage.name},
                        **stage.external_action_roles,
                    }
                )
                for stage in stages
            ],
            triggers=list(args.get("triggers", ())),
            tags=tags,
            # Every role ARN here resolves after its policy: CreatePipeline starts a first run at once.
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.console_url = pulumi.Output.format(
            "https://{0}.console.aws.amazon.com/codesuite/codepipeline/pipelines/{1}/view?region={0}",
            account.region,
            self.pipeline.name,
        )
        self.register_outputs({"name": self.pipeline.name, "console_url": self.console_url})

    def codebuild_projects(self) -> list[str]:
        """Names of the CodeBuild projects the pipeline's actions run."""
        return [name for stage in self.stages for name in stage.project_names]

    def stage_roles(self) -> list[iam.ScopedRole]:
        """Roles the stages' own resources run as."""
        return [role for stage in self.stages for role in stage.roles]

    def _action_roles(
        self, name, stages, store, pipeline_role: aws.iam.Role, boundary, path, tags
    ) -> dict[tuple[str, str], iam.ScopedRole]:
        """A role per action that asks for one, assumable by this pipeline's role only."""
        return {
            (stage.name, action_name): iam.role(
                f"{name}-{stage.name.lower()}-{action_name.lower()}-role",
                trust=pipeline_role.arn.apply(iam.trusts_only),
                statements=[*store.read_statements("Action", [name]), *statements],
                permissions_boundary=boundary,
                path=path,
                tags=tags,
                parent=self,
            )
            for stage in stages
            for action_name, statements in stage.action_role_statements.items()
        }


def _validate(name: str, stages: Sequence[StageDefinition], args: PipelineArgs) -> None:
    if "artifact_store" not in args:
        raise ValueError(f"Pipeline {name}: artifact_store is required")
    if len(stages) < 2:
        raise ValueError(
            f"Pipeline {name}: needs at least two stages (a source and something to do), got {len(stages)}"
        )
    mode = args.get("execution_mode", "SUPERSEDED")
    if mode not in EXECUTION_MODES:
        raise ValueError(
            f"Pipeline {name}: execution_mode={mode!r} is not allowed; allowed: {', '.join(EXECUTION_MODES)}"
        )
    if mode == "PARALLEL" and any(stage.on_failure and stage.on_failure.result == "ROLLBACK" for stage in stages):
        raise ValueError(
            f"Pipeline {name}: a stage rolls back on failure, which AWS does not allow in PARALLEL mode; "
            "allowed: QUEUED or SUPERSEDED, or no rollback"
        )
    regional = args.get("regional_artifact_stores", {})
    for region in regional:
        require_region(f"Pipeline {name}: regional_artifact_stores key", region)
    for stage in stages:
        for action in stage.actions:
            if action.region is not None and action.region not in regional:
                raise ValueError(
                    f"Pipeline {name}: action {stage.name}/{action.name} runs in {action.region!r}, which has no "
                    f"artifact store; allowed: regions of regional_artifact_stores ({', '.join(regional) or 'none'})"
                )
        declared = [*stage.action_role_statements, *stage.external_action_roles]
        unknown = set(declared) - {_plain(action.name) for action in stage.actions}
        if unknown:
            raise ValueError(
                f"Pipeline {name}: stage {stage.name} declares roles for unknown actions {sorted(unknown)}"
            )
        both = set(stage.action_role_statements) & set(stage.external_action_roles)
        if both:
            raise ValueError(
                f"Pipeline {name}: stage {stage.name}: actions {sorted(both)} have a role of this pipeline and one "
                "of another account; give one"
            )
    names = [stage.name for stage in stages]
    if len(set(names)) != len(names):
        raise ValueError(f"Pipeline {name}: stage names must be unique, got {names}")
    if any(action.category != "Source" for action in stages[0].actions):
        raise ValueError(f"Pipeline {name}: the first stage must hold only source actions")
    # Every input must come from an earlier stage: a deploy cannot run without its build (CICD-SEC-1).
    produced: set[str] = set()
    for stage in stages:
        for action in stage.actions:
            missing = _names(action.input_artifacts) - produced
            if missing:
                raise ValueError(
                    f"Pipeline {name}: action {stage.name}/{action.name} reads {sorted(missing)}, "
                    f"which no earlier stage produces"
                )
        for action in stage.actions:
            produced.update(_names(action.output_artifacts))


def _not_the_pipelines_region(name: str, home: str, regional: Mapping[str, ArtifactStore]) -> None:
    if home in regional:
        raise ValueError(
            f"Pipeline {name}: regional_artifact_stores has the pipeline's own region {home}, whose store is "
            "artifact_store; allowed: other regions only"
        )


def _sid_part(region: str) -> str:
    """A region as part of a statement ID (letters and digits only): us-east-1 -> UsEast1."""
    return "".join(part.capitalize() for part in region.split("-"))


def _plain(value: object) -> str:
    """A name the program wrote as a string (stage definitions hold plain values, never outputs)."""
    if not isinstance(value, str):
        raise TypeError(f"expected a plain string, got {value!r}")
    return value


def _names(values: object) -> set[str]:
    return {_plain(value) for value in (values if isinstance(values, (list, tuple)) else [])}
