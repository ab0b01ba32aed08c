"""`ecs-cicd start`: run the pipeline now on the branch's latest commit, as a push would."""

from .base import Command
from .watch import add_follow_arguments, follow, validate_follow_arguments


class Start(Command):
    name = "start"
    help = "start a new execution on the latest commit of the branch"

    @classmethod
    def add_arguments(cls, parser):
        parser.add_argument("--watch", action="store_true", help="follow the execution until it ends")
        add_follow_arguments(parser)

    def validate(self) -> None:
        validate_follow_arguments(self.args)

    def execute(self) -> int:
        response = self.ctx.pipeline.client.start_pipeline_execution(name=self.pipeline_name)
        execution_id = response["pipelineExecutionId"]
        self.terminal.line(f"Started execution {execution_id} of {self.pipeline_name}.")
        if self.args.watch:
            return follow(self.ctx, execution_id, self.args)
        self.suggest_watch(execution_id)
        return 0
