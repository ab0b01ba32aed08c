"""CloudWatch Logs: build and service logs are kept for a set time."""

from collections.abc import Mapping
from typing import Any

from .normalise import UNKNOWN, dig

LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"


def check_log_group_retention(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    if resource_type != LOG_GROUP:
        return []
    days = dig(props, "retentionInDays")
    if days is UNKNOWN:
        return []
    if isinstance(days, (int, float)) and not isinstance(days, bool) and days > 0:
        return []
    return [f"log group retentionInDays is {days!r}: set a retention period greater than 0"]
