"""`ecs-cicd watch`: follow an execution to its end, stage by stage; on failure, say which action failed
and why, with the end of the build log when the build failed. The exit code is the verdict, so CI can
wait on a deploy."""

import argparse
from typing import ClassVar, Optional

from botocore.exceptions import BotoCoreError, ClientError
from rich.console import Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from .. import render
from ..aws import OpsError
from ..build_logs import build_log_tail
from ..pipeline_state import Action, ActionDefinition, Execution
from ..terminal import Terminal
from .base import Command, Context, check_range

Progress = list[tuple[ActionDefinition, Optional[Action]]]


class Watch(Command):
    name = "watch"
    help = "follow the running (or latest) execution until it ends; exit 0 only if it succeeded"

    @classmethod
    def add_arguments(cls, parser):
        parser.add_argument("--execution-id", help="the execution to follow (default: the running, else the latest)")
        add_follow_arguments(parser)

    def validate(self) -> None:
        validate_follow_arguments(self.args)

    def execute(self) -> int:
        reader = self.ctx.pipeline
        execution_id = self.args.execution_id or (reader.running_execution() or reader.latest_execution()).id
        return follow(self.ctx, execution_id, self.args)


class StartsAnExecution(Command):
    """A command that starts an execution (start, retry, rollback): `--watch` follows it to the end."""

    watch_help: ClassVar[str] = "follow the execution until it ends"

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--watch", action="store_true", help=cls.watch_help)
        add_follow_arguments(parser)

    def validate(self) -> None:
        validate_follow_arguments(self.args)

    def follow_or_suggest(self, execution_id: str) -> int:
        if self.args.watch:
            return follow(self.ctx, execution_id, self.args)
        self.suggest_watch(execution_id)
        return 0


def add_follow_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--interval", type=float, default=10, help="seconds between polls (default 10)")
    parser.add_argument("--log-lines", type=int, default=30, help="build log lines shown on failure (default 30)")


def validate_follow_arguments(args: argparse.Namespace) -> None:
    check_range("--interval", args.interval, 1, 300)
    check_range("--log-lines", args.log_lines, 0, 10000)


def follow(ctx: Context, execution_id: str, args: argparse.Namespace) -> int:
    """Poll until the execution ends. Ctrl-C ends the watching only: the execution goes on in AWS."""
    reader, terminal = ctx.pipeline, ctx.terminal
    definition = reader.definition()
    display = LiveTable(terminal, reader.name) if terminal.out.is_terminal else ChangedLines(terminal)
    terminal.note(f"Watching execution {execution_id} of {reader.name} (Ctrl-C stops watching, not the pipeline)")
    try:
        with display:
            while True:
                execution = reader.execution(execution_id)
                runs = reader.action_runs(execution_id)
                display.show(execution, progress(definition, runs))
                if not execution.running:
                    break
                terminal.sleep(args.interval)
    except KeyboardInterrupt:
        terminal.note(f"Stopped watching; execution {execution_id} carries on. `ecs-cicd stop` would stop it.")
        return 130
    return report(ctx, execution, runs, args.log_lines)


def progress(definition: list[ActionDefinition], runs: list[Action]) -> Progress:
    """Each declared action with its newest run in this execution (None until it starts)."""
    newest: dict[tuple[str, str], Action] = {}
    for run in runs:  # newest first: a retried action keeps its latest attempt
        newest.setdefault((run.stage, run.name), run)
    return [(action, newest.get((action.stage, action.name))) for action in definition]


def report(ctx: Context, execution: Execution, runs: list[Action], log_lines: int) -> int:
    terminal = ctx.terminal
    name = ctx.pipeline.name
    if execution.status == "Succeeded":
        terminal.line(f"Execution {execution.id} of {name} succeeded.")
        return 0
    summary = f": {execution.status_summary}" if execution.status_summary else ""
    terminal.line(f"Execution {execution.id} of {name} ended {execution.status}{summary}")
    for run in runs:
        if run.status != "Failed":
            continue
        terminal.line(f"{run.path} failed: {run.error or run.summary or 'no error message'}")
        if run.provider == "CodeBuild" and run.external_id and log_lines:
            print_build_log(ctx, run.external_id, log_lines)
    return 1


def print_build_log(ctx: Context, build_id: str, lines: int) -> None:
    """The log is extra help, so a failure to read it is noted and does not hide the verdict."""
    try:
        tail = build_log_tail(ctx.aws, build_id, lines)
    except OpsError as error:
        ctx.terminal.note(f"(build log unavailable: {error})")
        return
    except (BotoCoreError, ClientError) as error:
        ctx.terminal.note(f"(build log unavailable: {ctx.aws.explain(error)})")
        return
    ctx.terminal.line(f"Last {len(tail)} lines of the log of build {build_id}:")
    for line in tail:
        ctx.terminal.line(f"  {line}")


class ChangedLines:
    """For pipes and CI logs: one line each time an action changes status, nothing redrawn."""

    def __init__(self, terminal: Terminal):
        self.terminal = terminal
        self.shown: dict[str, str] = {}

    def __enter__(self) -> "ChangedLines":
        return self

    def __exit__(self, *exc_info: object) -> None:
        return None

    def show(self, execution: Execution, rows: Progress) -> None:
        for _, run in rows:
            if run and self.shown.get(run.path) != run.status:
                self.shown[run.path] = run.status
                self.terminal.line(f"{render.when(run.updated)}  {run.path}  {run.status}")


class LiveTable:
    """For a terminal: one table of every stage and action, redrawn in place at each poll."""

    def __init__(self, terminal: Terminal, pipeline: str):
        self.terminal = terminal
        self.pipeline = pipeline
        self.live = Live(console=terminal.out, auto_refresh=False)

    def __enter__(self) -> "LiveTable":
        self.live.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.live.stop()

    def show(self, execution: Execution, rows: Progress) -> None:
        now = self.terminal.now()
        title = Text(f"{self.pipeline} {execution.describe()}: ") + render.status(execution.status)
        table = Table("Stage", "Action", "Status", "Duration", box=None)
        for action, run in rows:
            span = None
            if run and run.started:
                span = (now if run.status == "InProgress" else run.updated or now) - run.started
            table.add_row(
                Text(action.stage),
                Text(action.name),
                render.status(run.status if run else "Pending"),
                render.duration(span),
            )
        self.live.update(Group(title, table), refresh=True)
