"""`ecs-cicd approve`: answer the manual approval the pipeline is waiting on, naming the commit it ships."""

from .base import Command, check_text


class Approve(Command):
    name = "approve"
    help = "approve the pending manual approval (asks first)"
    asks = True
    verb = "Approve"
    verdict = "Approved"
    default_comment = "Approved with ecs-cicd"

    @classmethod
    def add_arguments(cls, parser):
        parser.add_argument("--comment", help="recorded with the approval")

    def validate(self) -> None:
        if self.args.comment is not None:
            check_text("--comment", self.args.comment, 512)

    def ask(self) -> None:
        self.approval = self.ctx.pipeline.pending_approval()
        self.execution = self.ctx.pipeline.execution(self.approval.execution_id)
        self.confirm(f"{self.verb} {self.approval.path} of {self.pipeline_name} for {self.execution.describe()}?")

    def execute(self) -> int:
        self.ctx.pipeline.client.put_approval_result(
            pipelineName=self.pipeline_name,
            stageName=self.approval.stage,
            actionName=self.approval.name,
            result={"summary": self.args.comment or self.default_comment, "status": self.verdict},
            token=self.approval.token,
        )
        self.terminal.line(
            f"{self.verdict} {self.approval.path} of {self.pipeline_name} for {self.execution.describe()}."
        )
        return 0
