"""`ecs-cicd history`: the recent executions, what started them, which commit, how long they took."""

from rich.table import Table
from rich.text import Text

from .. import render
from .base import Command, check_range


class History(Command):
    name = "history"
    help = "list recent executions with status, trigger, commit and duration"

    @classmethod
    def add_arguments(cls, parser):
        parser.add_argument("--limit", type=int, default=10, help="how many executions (default 10)")
        parser.add_argument("--json", action="store_true", help="print JSON for scripts")

    def validate(self) -> None:
        check_range("--limit", self.args.limit, 1, 1000)

    def execute(self) -> int:
        executions = list(self.ctx.pipeline.executions(limit=self.args.limit))
        now = self.terminal.now()
        if self.args.json:
            self.terminal.json(
                {"pipeline": self.pipeline_name, "executions": [execution.as_json(now) for execution in executions]}
            )
            return 0
        if not executions:
            self.terminal.line(f"Pipeline {self.pipeline_name} has never run.")
            return 0
        table = Table("Execution", "Status", "Trigger", "Commit", "Started", "Duration", box=None)
        for execution in executions:
            table.add_row(
                render.short_id(execution.id),
                render.status(execution.status),
                Text(execution.trigger),
                Text(str(execution.commit or "-")),
                render.when(execution.started),
                render.duration(execution.duration(now)),
            )
        self.terminal.out.print(table)
        return 0
