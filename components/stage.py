"""The contract between a stage component and the pipeline.

A stage component owns its AWS resources and hands the pipeline a `StageDefinition`: its
actions, and the IAM statements the pipeline role needs to run them. The pipeline never
looks inside a stage, so adding a stage is adding a component, not editing the pipeline.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Optional

import pulumi_aws as aws

from .iam import Statement


@dataclass(frozen=True)
class StageDefinition:
    name: str
    actions: Sequence[aws.codepipeline.PipelineStageActionArgs]
    pipeline_role_statements: Sequence[Statement] = field(default_factory=tuple)
    on_failure: Optional[aws.codepipeline.PipelineStageOnFailureArgs] = None

    def to_args(self) -> aws.codepipeline.PipelineStageArgs:
        return aws.codepipeline.PipelineStageArgs(
            name=self.name, actions=list(self.actions), on_failure=self.on_failure
        )
