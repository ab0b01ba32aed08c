"""What every command is made of, in the three steps AWS Copilot uses: validate the flags, ask for
confirmation when the command changes something, execute."""

import argparse
from dataclasses import dataclass
from functools import cached_property
from typing import ClassVar

from ..aws import Aws, OpsError, UsageError
from ..pipeline_state import PipelineReader
from ..target import Target
from ..terminal import Terminal


@dataclass
class Context:
    target: Target
    aws: Aws
    terminal: Terminal

    @cached_property
    def pipeline(self) -> PipelineReader:
        return PipelineReader(self.aws.client("codepipeline"), self.target.pipeline or "")


class Command:
    name: ClassVar[str]
    help: ClassVar[str]
    asks: ClassVar[bool] = False
    """Changes what runs or ships: confirmed first, unless --yes."""
    needs_pipeline: ClassVar[bool] = True

    def __init__(self, args: argparse.Namespace, ctx: Context):
        self.args = args
        self.ctx = ctx
        self.terminal = ctx.terminal

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        """The command's own flags; the pipeline and region flags are added for every command."""

    def validate(self) -> None:
        """Check the flags, before any AWS call."""

    def ask(self) -> None:
        """Find what the command would change and confirm it with `self.confirm`."""

    def execute(self) -> int:
        raise NotImplementedError

    def confirm(self, question: str) -> None:
        """Go on only when the user agrees. Without a terminal no one can answer, so the command is
        refused instead of guessed: scripts must say --yes."""
        if self.args.yes:
            return
        if not self.terminal.interactive:
            raise UsageError(f"{self.name} needs confirmation and stdin is not a terminal: rerun with --yes to confirm")
        if not self.terminal.confirm(question):
            raise OpsError("cancelled: nothing was changed")

    @property
    def pipeline_name(self) -> str:
        return self.ctx.pipeline.name

    def suggest_watch(self, execution_id: str) -> None:
        self.terminal.note(f"Follow it with: ecs-cicd watch {self.target_flags} --execution-id {execution_id}")

    @property
    def target_flags(self) -> str:
        """The flags that name this pipeline again, for the follow-up command a message suggests."""
        args = self.args
        flags = [f"--stack {args.stack}"] if args.stack else [f"--pipeline {self.pipeline_name}"]
        flags += [f"--service {args.service}"] if args.stack and getattr(args, "service", None) else []
        flags += [f"--project-dir {args.project_dir}"] if args.stack and args.project_dir else []
        flags += [f"--region {args.region}"] if args.region else []
        return " ".join(flags)


def check_text(flag: str, value: str, limit: int) -> None:
    """Free text AWS stores (reasons, approval comments): not blank, within AWS's length limit."""
    if not value.strip():
        raise UsageError(f"{flag} must not be empty")
    if len(value) > limit:
        raise UsageError(f"{flag} is {len(value)} characters long; AWS allows {limit}")


def check_range(flag: str, value: float, low: float, high: float) -> None:
    if not low <= value <= high:
        raise UsageError(f"{flag} must be between {low} and {high}, got {value}")
