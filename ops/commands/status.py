"""`ecs-cicd status`: where every stage and action stands, on which commit, since when."""

from datetime import datetime
from typing import Any, Optional

from rich.table import Table
from rich.text import Text

from .. import render
from ..pipeline_state import Action, Execution, Stage
from .base import Command


class Status(Command):
    name = "status"
    help = "show each stage and action with its latest status, commit and timings"

    @classmethod
    def add_arguments(cls, parser):
        parser.add_argument("--json", action="store_true", help="print JSON for scripts")

    def execute(self) -> int:
        stages = self.ctx.pipeline.stages()
        executions = self._executions({stage.execution_id for stage in stages if stage.execution_id})
        now = self.terminal.now()
        if self.args.json:
            self.terminal.json(self._as_json(stages, executions, now))
        else:
            self._print(stages, executions, now)
        return 0

    def _executions(self, ids: set[str]) -> dict[str, Execution]:
        """The executions the stages are on. The recent list carries timings; an execution older than
        that (a stage untouched for long) is fetched on its own, for its commit."""
        if not ids:
            return {}
        found = {execution.id: execution for execution in self.ctx.pipeline.executions(limit=50) if execution.id in ids}
        for missing in sorted(ids - found.keys()):
            found[missing] = self.ctx.pipeline.execution(missing)
        return found

    def _print(self, stages: list[Stage], executions: dict[str, Execution], now: datetime) -> None:
        out = self.terminal.out
        out.print(Text("Pipeline ") + Text(self.pipeline_name, style="bold") + Text(f" ({self.ctx.aws.region})"))
        runs = Table("Execution", "Status", "Commit", "Started", "Duration", box=None)
        newest_first = sorted(executions.values(), key=lambda e: e.started or now, reverse=True)
        for execution in newest_first:
            runs.add_row(
                render.short_id(execution.id),
                render.status(execution.status),
                Text(str(execution.commit or "-")),
                render.when(execution.started),
                render.duration(execution.duration(now)),
            )
        if executions:
            out.print()
            out.print(runs)
        table = Table("Stage", "Action", "Status", "Last change", "Execution", "Details", box=None)
        for stage in stages:
            for index, action in enumerate(stage.actions):
                table.add_row(
                    Text(stage.name if index == 0 else ""),
                    Text(action.name),
                    render.status(action.status),
                    render.when(action.updated),
                    render.short_id(stage.execution_id) if index == 0 else Text(""),
                    Text(_details(action)),
                )
        out.print()
        out.print(table)

    def _as_json(self, stages: list[Stage], executions: dict[str, Execution], now: datetime) -> dict[str, Any]:
        return {
            "pipeline": self.pipeline_name,
            "region": self.ctx.aws.region,
            "stages": [
                {
                    "name": stage.name,
                    "status": stage.status or None,
                    "executionId": stage.execution_id or None,
                    "commit": _commit_json(executions.get(stage.execution_id)),
                    "actions": [
                        {
                            "name": action.name,
                            "status": action.status or None,
                            "lastStatusChange": render.iso(action.updated),
                            "summary": action.summary or None,
                            "error": action.error or None,
                            "externalExecutionId": action.external_id or None,
                            "awaitingApproval": bool(action.token and action.status == "InProgress"),
                        }
                        for action in stage.actions
                    ],
                }
                for stage in stages
            ],
            "executions": [execution.as_json(now) for execution in executions.values()],
        }


def _details(action: Action) -> str:
    if action.token and action.status == "InProgress":
        return "awaiting approval: ecs-cicd approve | reject"
    return action.error or action.summary


def _commit_json(execution: Optional[Execution]) -> Optional[dict[str, str]]:
    return execution.commit.as_json() if execution and execution.commit else None
