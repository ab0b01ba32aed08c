"""`ecs-cicd retry`: rerun the failed actions of the latest execution, on the same commit."""

from .base import Command
from .watch import add_follow_arguments, follow, validate_follow_arguments


class Retry(Command):
    name = "retry"
    help = "retry the failed actions of the failed stage of the latest execution"

    @classmethod
    def add_arguments(cls, parser):
        parser.add_argument("--watch", action="store_true", help="follow the execution until it ends")
        add_follow_arguments(parser)

    def validate(self) -> None:
        validate_follow_arguments(self.args)

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
        if self.args.watch:
            return follow(self.ctx, latest.id, self.args)
        self.suggest_watch(latest.id)
        return 0
