"""SNS: topics are encrypted with a customer key (EventBridge and CloudWatch can publish to a topic
encrypted with a key only when that key's policy lets them, which no one can add to aws/sns)."""

from collections.abc import Mapping
from typing import Any

from .normalise import UNKNOWN, aws_managed_key, dig, is_blank

SNS_TOPIC = "aws:sns/topic:Topic"


def check_sns_topic_encrypted(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    if resource_type != SNS_TOPIC:
        return []
    key = dig(props, "kmsMasterKeyId")
    if key is UNKNOWN:
        return []
    if is_blank(key):
        return ["SNS topic sets no kmsMasterKeyId"]
    if aws_managed_key(key):
        return [f"SNS topic uses the AWS-managed key {key!r}; name a customer KMS key"]
    return []
