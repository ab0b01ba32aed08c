"""The contract between a stage component and the pipeline.

A stage component owns its AWS resources and hands the pipeline a `StageDefinition`: its
actions, and the IAM statements the pipeline role needs to run them. The pipeline never
looks inside a stage, so adding a stage is adding a component, not editing the pipeline.
"""

import copy
import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Optional

import pulumi_aws as aws

from .iam import ScopedRole, Statement
from .inputs import Input


@dataclass(frozen=True)
class StageDefinition:
    name: str
    actions: Sequence[aws.codepipeline.PipelineStageActionArgs]
    """The stage's actions; their dict form (snake_case keys) is accepted too."""
    pipeline_role_statements: Sequence[Statement] = field(default_factory=tuple)
    """What the pipeline role itself needs (start a build, publish to a topic)."""
    action_role_statements: Mapping[str, Sequence[Statement]] = field(default_factory=dict)
    """Per action name: the statements of a role of its own, which the pipeline creates, trusts
    only to the pipeline role, and runs that action with (one role per actor, CICD-SEC-2)."""
    external_action_roles: Mapping[str, Input[str]] = field(default_factory=dict)
    """Per action name: a role of another account (`TargetAccountAccess.role_arn`) the action runs
    as. The pipeline role may assume it and nothing more; the role's own account grants the rest."""
    roles: Sequence[ScopedRole] = field(default_factory=tuple)
    """Roles the stage's own resources run as (its CodeBuild projects): watched by the alerts and
    covered by the SCP with the pipeline's roles."""
    project_names: Sequence[str] = field(default_factory=tuple)
    """Names of the CodeBuild projects the stage's actions run: watched by the alerts."""
    on_failure: Optional[aws.codepipeline.PipelineStageOnFailureArgs] = None

    def __post_init__(self) -> None:
        # The dict form of an action, as the rest of Pulumi takes it (snake_case keys), is turned
        # into PipelineStageActionArgs here: an unknown key is an error now, not a surprise later.
        actions = []
        for action in self.actions:
            if isinstance(action, Mapping):
                try:
                    action = aws.codepipeline.PipelineStageActionArgs(**action)
                except TypeError as error:
                    raise ValueError(
                        f"StageDefinition {self.name}: action {dict(action).get('name')!r}: {error}"
                    ) from None
            if not isinstance(action, aws.codepipeline.PipelineStageActionArgs):
                raise ValueError(
                    f"StageDefinition {self.name}: an action is {type(action).__name__}; allowed: "
                    "aws.codepipeline.PipelineStageActionArgs or its dict form"
                )
            actions.append(action)
        object.__setattr__(self, "actions", actions)

    def alongside(self, other: "StageDefinition") -> "StageDefinition":
        """This stage with `other`'s actions running in parallel with its own (same run order)."""
        return StageDefinition(
            name=self.name,
            actions=[*self.actions, *other.actions],
            pipeline_role_statements=[*self.pipeline_role_statements, *other.pipeline_role_statements],
            action_role_statements={**self.action_role_statements, **other.action_role_statements},
            external_action_roles={**self.external_action_roles, **other.external_action_roles},
            roles=[*self.roles, *other.roles],
            project_names=[*self.project_names, *other.project_names],
            on_failure=self.on_failure,
        )

    def followed_by(self, other: "StageDefinition") -> "StageDefinition":
        """This stage with `other`'s actions running after its own (next run order): a check that
        fails after a deploy fails the same stage, so the stage's rollback covers it."""
        after = 1 + max((a.run_order if isinstance(a.run_order, int) else 1) for a in self.actions)
        later = [copy.copy(action) for action in other.actions]
        for action in later:
            action.run_order = after
        return StageDefinition(
            name=self.name,
            actions=[*self.actions, *later],
            pipeline_role_statements=[*self.pipeline_role_statements, *other.pipeline_role_statements],
            action_role_statements={**self.action_role_statements, **other.action_role_statements},
            external_action_roles={**self.external_action_roles, **other.external_action_roles},
            roles=[*self.roles, *other.roles],
            project_names=[*self.project_names, *other.project_names],
            on_failure=self.on_failure,
        )

    def rolling_back_on_failure(self) -> "StageDefinition":
        """This stage, rolled back to the last successful execution when it fails (CodePipeline V2)."""
        return dataclasses.replace(self, on_failure=aws.codepipeline.PipelineStageOnFailureArgs(result="ROLLBACK"))

    def to_args(self, action_roles: Optional[Mapping[str, Input[str]]] = None) -> aws.codepipeline.PipelineStageArgs:
        """The stage for the pipeline resource, each action with its own role where it has one."""
        actions = []
        for action in self.actions:
            name = action.name
            if action_roles and isinstance(name, str) and name in action_roles:
                action = copy.copy(action)
                action.role_arn = action_roles[name]
            actions.append(action)
        return aws.codepipeline.PipelineStageArgs(name=self.name, actions=actions, on_failure=self.on_failure)
