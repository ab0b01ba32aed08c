"""An ECR pull-through cache for Docker Hub: base images come from ECR, past Docker Hub's
anonymous rate limits, and stay available when Docker Hub is not."""

from collections.abc import Mapping
from typing import Optional, Required, TypedDict

import pulumi
import pulumi_aws as aws

from . import naming
from .account import AwsAccount
from .args import documented, known_keys
from .iam import allow

DOCKER_HUB = "registry-1.docker.io"


class DockerHubCacheArgs(TypedDict, total=False):
    credentials_arn: Required[str]
    """Secrets Manager secret (its name must start with `ecr-pullthroughcache/`) holding
    `{"username": ..., "accessToken": ...}` for Docker Hub. Required."""
    prefix: str
    """ECR repository prefix of the cache. Default: the component name."""
    tags: Mapping[str, str]
    """Unused by the rule (it takes no tags); kept for symmetry with the other components."""
    account: AwsAccount
    """Account context; looked up when omitted."""


@documented(DockerHubCacheArgs)
class DockerHubCache(pulumi.ComponentResource):
    """One pull-through cache rule per stack, shared by every service's build."""

    prefix: str
    prefix_uri: pulumi.Output[str]

    def __init__(self, name: str, args: DockerHubCacheArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("cicd:index:DockerHubCache", name, None, opts)
        known_keys("DockerHubCache", name, args, DockerHubCacheArgs)
        if ":secret:ecr-pullthroughcache/" not in args.get("credentials_arn", ""):
            raise ValueError(
                f"DockerHubCache {name}: credentials_arn must be a Secrets Manager secret named "
                f"ecr-pullthroughcache/..., got {args.get('credentials_arn')!r}"
            )
        self._account = args.get("account") or AwsAccount.current()
        self.prefix = naming.physical(naming.PULL_THROUGH_PREFIX, args.get("prefix", name))
        aws.ecr.PullThroughCacheRule(
            f"{name}-rule",
            ecr_repository_prefix=self.prefix,
            upstream_registry_url=DOCKER_HUB,
            credential_arn=args["credentials_arn"],
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.prefix_uri = pulumi.Output.format(
            "{0}.dkr.ecr.{1}.amazonaws.com/{2}", self._account.id, self._account.region, self.prefix
        )
        self.register_outputs({"prefix_uri": self.prefix_uri})

    def pull_statement(self, sid: str) -> pulumi.Output[dict]:
        """Pull (and, on first use, import) images under this cache's prefix only."""
        return allow(
            sid,
            [
                "ecr:BatchCheckLayerAvailability",
                "ecr:BatchGetImage",
                "ecr:BatchImportUpstreamImage",
                "ecr:CreateRepository",
                "ecr:GetDownloadUrlForLayer",
            ],
            [self._account.arn("ecr", f"repository/{self.prefix}/*")],
        )
