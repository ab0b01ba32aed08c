"""Approval stage: a manual approval with an SNS notification and a link to the commit."""

from collections.abc import Mapping, Sequence
from typing import Optional, Required, TypedDict

import pulumi
import pulumi_aws as aws

from .args import documented, known_keys, like_config
from .artifacts import ArtifactStore
from .iam import allow
from .source import GitHubSource
from .stage import StageDefinition
from .topics import encrypted_topic, topic_policy


class ManualApprovalArgs(TypedDict, total=False):
    source: Required[GitHubSource]
    """The Source stage; the approval links to the commit it fetched. Required."""
    artifact_store: Required[ArtifactStore]
    """Its KMS key encrypts the notification topic. Required."""
    summary: str
    """Text shown to the approver."""
    emails: Sequence[str]
    """Addresses subscribed to the approval topic."""
    tags: Mapping[str, str]
    """Tags for every resource."""


@documented(ManualApprovalArgs)
class ManualApproval(pulumi.ComponentResource):
    """A stage that waits for a person, tells them by SNS, and links to what they approve."""

    topic: aws.sns.Topic
    stage: StageDefinition

    def __init__(self, name: str, args: ManualApprovalArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("cicd:index:ManualApproval", name, None, opts)
        known_keys("ManualApproval", name, args, ManualApprovalArgs)
        for required in ("source", "artifact_store"):
            if required not in args:
                raise ValueError(f"ManualApproval {name}: {required} is required")
        source: GitHubSource = args["source"]
        store: ArtifactStore = args["artifact_store"]
        like_config("ManualApproval", name, "deploy.approvalEmails", list(args.get("emails", ())))
        self.topic = encrypted_topic(
            name,
            kms_key_id=store.key.id,
            emails=args.get("emails", ()),
            tags=args.get("tags", {}),
            parent=self,
        )
        # CodePipeline publishes as the pipeline role (its identity policy allows it); the topic
        # itself refuses anything without TLS.
        topic_policy(name, self.topic, self)
        commit = f"#{{{source.variables_namespace}.CommitId}}"
        self.stage = StageDefinition(
            name="Approve",
            actions=[
                aws.codepipeline.PipelineStageActionArgs(
                    name="Approve",
                    category="Approval",
                    owner="AWS",
                    provider="Manual",
                    version="1",
                    configuration={
                        "NotificationArn": self.topic.arn,
                        "CustomData": args.get("summary", f"Approve deploying {source.repository}@{commit}"),
                        "ExternalEntityLink": f"https://github.com/{source.repository}/commit/{commit}",
                    },
                )
            ],
            pipeline_role_statements=[allow("NotifyApprovers", ["sns:Publish"], [self.topic.arn])],
        )
        self.register_outputs({"topic_arn": self.topic.arn})
