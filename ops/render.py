"""How times, durations and statuses read on screen and in JSON, the same in every command."""

from datetime import UTC, datetime, timedelta
from typing import Optional

from rich.text import Text

STATUS_STYLES = {
    "Succeeded": "green",
    "Failed": "bold red",
    "InProgress": "yellow",
    "Stopping": "yellow",
    "Stopped": "magenta",
    "Abandoned": "magenta",
    "Cancelled": "magenta",
    "Superseded": "dim",
    "Pending": "dim",
}


def status(value: Optional[str]) -> Text:
    return Text(value or "-", style=STATUS_STYLES.get(value or "", ""))


def when(moment: Optional[datetime]) -> str:
    """UTC, so that what a teammate pastes from another time zone lines up with the console."""
    if moment is None:
        return "-"
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def iso(moment: Optional[datetime]) -> Optional[str]:
    return moment.astimezone(UTC).isoformat() if moment else None


def duration(span: Optional[timedelta]) -> str:
    if span is None:
        return "-"
    seconds = max(0, int(span.total_seconds()))
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {seconds:02d}s"
    return f"{seconds}s"


def short_id(execution_id: Optional[str]) -> Text:
    """The first block of an execution id, enough to tell executions apart, as git shortens a SHA
    (as text, never markup: the id is AWS's data)."""
    return Text(execution_id.split("-")[0] if execution_id else "-")
