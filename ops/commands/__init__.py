"""One module per command; `COMMANDS` is the order `ecs-cicd --help` lists them in."""

from .approve import Approve
from .base import Command, Context
from .connection import Connection
from .history import History
from .logs import Logs
from .preflight import Preflight
from .reject import Reject
from .retry import Retry
from .rollback import Rollback
from .start import Start
from .status import Status
from .stop import Stop
from .watch import Watch

COMMANDS: list[type[Command]] = [
    Status,
    History,
    Watch,
    Start,
    Stop,
    Approve,
    Reject,
    Retry,
    Rollback,
    Logs,
    Connection,
    Preflight,
]

__all__ = ["COMMANDS", "Command", "Context"]
