"""`ecs-cicd logs`: the end of a CodeBuild log, without hunting for the log group and stream."""

from ..aws import OpsError, UsageError
from ..build_logs import build_log_tail
from .base import Command, check_range


class Logs(Command):
    name = "logs"
    help = "print the log of the latest build of the pipeline's build action, or of --build-id"
    needs_pipeline = False

    @classmethod
    def add_arguments(cls, parser):
        parser.add_argument("--build-id", help="a CodeBuild build id (project:uuid) instead of the latest build")
        parser.add_argument("--lines", type=int, default=100, help="how many lines from the end (default 100)")

    def validate(self) -> None:
        check_range("--lines", self.args.lines, 1, 10000)
        if not self.args.build_id and not self.ctx.target.pipeline:
            raise UsageError("say which build: --build-id, or --pipeline / --stack for the pipeline's latest build")

    def execute(self) -> int:
        build_id = self.args.build_id or self._latest_build_id()
        lines = build_log_tail(self.ctx.aws, build_id, self.args.lines)
        self.terminal.note(f"Build {build_id}:")
        for line in lines:
            self.terminal.line(line)
        return 0

    def _latest_build_id(self) -> str:
        action = self.ctx.pipeline.action_of(provider="CodeBuild")
        for state in self.ctx.pipeline.stage(action.stage).actions:
            if state.name == action.name and state.external_id:
                return state.external_id
        raise OpsError(f"{action.stage}/{action.name} of {self.pipeline_name} has not started a build yet")
