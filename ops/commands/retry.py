"""`ecs-cicd retry`: rerun the failed actions of the latest execution, on the same commit."""

from .watch import StartsAnExecution


class Retry(StartsAnExecution):
    name = "retry"
    help = "retry the failed actions of the failed stage of the latest execution"

    def execute(self) -> int:
        latest = self.ctx.pipeline.latest_execution()
        stage = self.ctx.pipeline.failed_stage(latest)
        self.ctx.pipeline.client.retry_stage_execution(
            pipelineName=self.pipeline_name,
            stageName=stage.name,
            pipelineExecutionId=latest.id,
            retryMode="FAILED_ACTIONS",
        )
        self.terminal.line(f"Retrying the failed actions of stage {stage.name} in {latest.describe()}.")
        return self.follow_or_suggest(latest.id)
