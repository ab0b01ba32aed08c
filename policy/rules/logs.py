"""CloudWatch Logs: build and service logs are kept for a set time, encrypted with a customer key
(what builds and tasks print, secrets printed by mistake included)."""

from collections.abc import Mapping
from typing import Any

from .normalise import UNKNOWN, aws_managed_key, dig, is_blank

LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"


def check_log_group_retention(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    if resource_type != LOG_GROUP:
        return []
    problems = []
    days = dig(props, "retentionInDays")
    if days is not UNKNOWN and not (isinstance(days, (int, float)) and not isinstance(days, bool) and days > 0):
        problems.append(f"log group retentionInDays is {days!r}: set a retention period greater than 0")
    key = dig(props, "kmsKeyId")
    if key is not UNKNOWN and is_blank(key):
        problems.append("log group sets no kmsKeyId (a customer KMS key for its events)")
    elif aws_managed_key(key):
        problems.append(f"log group kmsKeyId is the AWS-managed key {key!r}; name a customer KMS key")
    return problems
