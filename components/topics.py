"""An SNS topic encrypted with a customer KMS key, with its email subscribers."""

from collections.abc import Mapping, Sequence

import pulumi
import pulumi_aws as aws

from . import naming


def encrypted_topic(
    name: str,
    *,
    kms_key_id: pulumi.Input[str],
    emails: Sequence[str],
    tags: Mapping[str, str],
    parent: pulumi.Resource,
) -> aws.sns.Topic:
    """Each address gets a subscription it must confirm before messages arrive."""
    topic = aws.sns.Topic(
        naming.logical(naming.SNS_TOPIC, name, "topic"),
        kms_master_key_id=kms_key_id,
        tags=dict(tags),
        opts=pulumi.ResourceOptions(parent=parent),
    )
    for email in emails:
        aws.sns.TopicSubscription(
            f"{name}-email-{email}",
            topic=topic.arn,
            protocol="email",
            endpoint=email,
            opts=pulumi.ResourceOptions(parent=topic),
        )
    return topic
