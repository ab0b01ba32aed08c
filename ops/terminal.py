"""Where the CLI writes, how it asks, and how it waits; tests hand in a recorded terminal and a fake clock."""

import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TextIO

from rich.console import Console
from rich.text import Text


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Terminal:
    out: Console
    """Results: tables, JSON, log lines."""
    err: Console
    """Errors, notes and prompts, so that `--json` output stays parseable."""
    interactive: bool
    """stdin is a terminal: only then may the CLI ask a question."""
    stdin: TextIO = field(default_factory=lambda: sys.stdin)
    sleep: Callable[[float], None] = time.sleep
    now: Callable[[], datetime] = utc_now

    @classmethod
    def from_environment(cls) -> "Terminal":
        # Nothing the CLI prints is markup or emoji codes: what AWS returns is shown as it is.
        return cls(
            out=Console(markup=False, emoji=False),
            err=Console(stderr=True, markup=False, emoji=False),
            interactive=sys.stdin.isatty(),
        )

    def line(self, text: str) -> None:
        """Plain text, never wrapped or marked up: log lines and messages people grep or copy."""
        self.out.print(Text(text), soft_wrap=True)

    def json(self, data: Any) -> None:
        self.out.file.write(json.dumps(data, indent=2, default=str) + "\n")

    def note(self, text: str) -> None:
        self.err.print(Text(text, style="dim"), soft_wrap=True)

    def error(self, text: str) -> None:
        self.err.print(Text("error: ", style="bold red") + Text(text), soft_wrap=True)

    def confirm(self, question: str) -> bool:
        """Yes only when the user says so: anything but y or yes, an empty line included, is no."""
        self.err.print(Text(question + " [y/N] "), end="")
        return self.stdin.readline().strip().lower() in ("y", "yes")
