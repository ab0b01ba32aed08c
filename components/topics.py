"""An SNS topic encrypted with a customer KMS key, with its email subscribers, and its TLS-only policy."""

import json
from collections.abc import Mapping, Sequence

import pulumi
import pulumi_aws as aws

from . import naming
from .iam import deny_insecure_transport
from .inputs import Input


def encrypted_topic(
    name: str,
    *,
    kms_key_id: Input[str],
    emails: Sequence[str],
    tags: Mapping[str, str],
    parent: pulumi.Resource,
) -> aws.sns.Topic:
    """Each address gets a subscription it must confirm before messages arrive. Give the topic its
    policy with `topic_policy` (every topic has one: TLS only)."""
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


def rules_may_publish(sid: str, topic: aws.sns.Topic, rules: Sequence[aws.cloudwatch.EventRule]) -> pulumi.Output[dict]:
    """The topic-policy grant that lets EventBridge publish for exactly these rules."""
    return pulumi.Output.all(topic.arn, *(rule.arn for rule in rules)).apply(
        lambda arns: {
            "Sid": sid,
            "Effect": "Allow",
            "Principal": {"Service": "events.amazonaws.com"},
            "Action": "sns:Publish",
            "Resource": arns[0],
            "Condition": {"ArnEquals": {"aws:SourceArn": sorted(arns[1:])}},
        }
    )


def topic_policy(
    name: str, topic: aws.sns.Topic, parent: pulumi.Resource, statements: Sequence[Input[dict]] = ()
) -> aws.sns.TopicPolicy:
    """The topic's one policy: `statements` (the caller's grants) and a refusal of every request
    made without TLS."""
    return aws.sns.TopicPolicy(
        f"{name}-topic-policy",
        arn=topic.arn,
        policy=pulumi.Output.all(topic.arn, *statements).apply(
            lambda v: json.dumps(
                {"Version": "2012-10-17", "Statement": [*v[1:], deny_insecure_transport("sns:Publish", [v[0]])]},
                sort_keys=True,
            )
        ),
        opts=pulumi.ResourceOptions(parent=parent),
    )
