"""`ecs-cicd stop`: stop the running execution, letting its actions finish or abandoning them."""

from ..aws import OpsError
from .base import Command, check_text


class Stop(Command):
    name = "stop"
    help = "stop the running execution (asks first)"
    asks = True

    @classmethod
    def add_arguments(cls, parser):
        parser.add_argument("--reason", required=True, help="why, recorded on the execution")
        parser.add_argument(
            "--abandon", action="store_true", help="abandon in-progress actions instead of letting them finish"
        )

    def validate(self) -> None:
        check_text("--reason", self.args.reason, 200)

    def ask(self) -> None:
        # An execution already stopping can still be abandoned, not stopped twice.
        statuses = ("InProgress", "Stopping") if self.args.abandon else ("InProgress",)
        self.execution = self.ctx.pipeline.running_execution(statuses)
        if self.execution is None:
            raise OpsError(f"nothing to stop: no execution of {self.pipeline_name} is running")
        how = "abandoning its in-progress actions" if self.args.abandon else "letting in-progress actions finish"
        self.confirm(f"Stop {self.execution.describe()} of {self.pipeline_name}, {how}?")

    def execute(self) -> int:
        self.ctx.pipeline.client.stop_pipeline_execution(
            pipelineName=self.pipeline_name,
            pipelineExecutionId=self.execution.id,
            abandon=self.args.abandon,
            reason=self.args.reason,
        )
        self.terminal.line(f"Stopping {self.execution.describe()} of {self.pipeline_name}.")
        return 0
