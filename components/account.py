"""The AWS account and region a stack deploys into, looked up once and shared by every component."""

from dataclasses import dataclass, replace
from typing import Any, Optional

import pulumi
import pulumi_aws as aws

from .inputs import Input

_CURRENT: dict[str, Any] = {}


@dataclass(frozen=True)
class AwsAccount:
    """Account ID, region and partition as outputs. Never hard-coded: they come from the credentials."""

    id: pulumi.Output[str]
    region: pulumi.Output[str]
    partition: pulumi.Output[str]
    caller_arn: pulumi.Output[str]

    @classmethod
    def current(cls, opts: Optional[pulumi.InvokeOptions] = None) -> "AwsAccount":
        """The default provider's account: looked up once per program run, however many components
        ask (three invokes, not three per component). With `opts` (another provider), every time."""
        if opts is not None:
            return cls._look_up(opts)
        root = pulumi.runtime.settings.get_root_resource()
        cached = _CURRENT.get("account")
        if cached is None or _CURRENT.get("root") is not root:  # a new run (the tests run many)
            cached = cls._look_up(None)
            _CURRENT.update(account=cached, root=root)
        return cached

    @classmethod
    def _look_up(cls, opts: Optional[pulumi.InvokeOptions]) -> "AwsAccount":
        identity = aws.get_caller_identity_output(opts=opts)
        return cls(
            id=identity.account_id,
            region=aws.get_region_output(opts=opts).region,
            partition=aws.get_partition_output(opts=opts).partition,
            caller_arn=identity.arn,
        )

    def in_region(self, region: str) -> "AwsAccount":
        """This account in another region: for resources made there through a provider for that
        region (ARNs and key policies then name it)."""
        return replace(self, region=pulumi.Output.from_input(region))

    def arn(self, service: str, resource: Input[str], regional: bool = True) -> pulumi.Output[str]:
        """An ARN in this account, e.g. `arn("ecs", "service/cluster/name")`."""
        region = self.region if regional else ""
        return pulumi.Output.format("arn:{0}:{1}:{2}:{3}:{4}", self.partition, service, region, self.id, resource)
