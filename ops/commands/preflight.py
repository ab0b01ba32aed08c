"""`ecs-cicd preflight`: before the first cross-account deploy, check each target account's deploy
role and service, and name exactly what is missing (instead of a deploy failing with "access
denied"). With the tooling account's credentials it asks IAM whether the pipeline's role may assume
each target role; with credentials that can read the target account (`profile=`, else the same
ones, which must be that account's) whether that role exists, trusts the pipeline's role, may
describe and update its service, and whether the service is ACTIVE. It changes nothing. What IAM's
simulation does not read (the tooling account's bucket, key and repository policies, conditions
such as `iam:PassedToService`) it does not judge: `make plan` shows those grants."""

import re
from dataclasses import dataclass
from typing import Any, Optional

from botocore.exceptions import BotoCoreError, ClientError

from ..aws import Aws, UsageError
from .base import Command

ROLE_ARN = re.compile(
    r"^arn:(aws|aws-cn|aws-us-gov):iam::([0-9]{12}):role/((?:[\w+=,.@-]+/)*)([\w+=,.@-]{1,64})$", re.ASCII
)
NAME = re.compile(r"^[A-Za-z0-9_-]{1,255}$")
REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d$")
# What the ECS deploy action does to the service (components/deploy.py `ecs_deploy_statements`).
DEPLOY_ACTIONS = ("ecs:DescribeServices", "ecs:UpdateService")


@dataclass(frozen=True)
class DeployTarget:
    name: str
    role_arn: str
    cluster: str
    service: str
    region: Optional[str]
    profile: Optional[str]

    @property
    def partition(self) -> str:
        return ROLE_ARN.match(self.role_arn).group(1)  # type: ignore[union-attr]

    @property
    def account(self) -> str:
        return ROLE_ARN.match(self.role_arn).group(2)  # type: ignore[union-attr]

    @property
    def role_name(self) -> str:
        return ROLE_ARN.match(self.role_arn).group(4)  # type: ignore[union-attr]

    def service_arn(self, region: str) -> str:
        return f"arn:{self.partition}:ecs:{region}:{self.account}:service/{self.cluster}/{self.service}"


def stack_targets(settings: Any, profiles: list[str]) -> list[DeployTarget]:
    """The stack's `promotion.targets` as `pulumi up` reads them, each with its --profile."""
    if not settings.promotion:
        raise UsageError("the stack has no promotion.targets: give --target for each target to check")
    by_target: dict[str, str] = {}
    for text in profiles:
        name, sep, profile = text.partition("=")
        if not sep or not profile or name in by_target:
            raise UsageError(f"--profile {text!r}: write TARGET=PROFILE, each target once")
        by_target[name] = profile
    unknown = set(by_target) - {target.name for target in settings.promotion}
    if unknown:
        raise UsageError(f"--profile: no target {', '.join(sorted(unknown))} in the stack's promotion.targets")
    return [
        DeployTarget(
            name=target.name,
            role_arn=target.deploy_role_arn,
            cluster=target.cluster,
            service=target.service,
            region=target.region or settings.region,
            profile=by_target.get(target.name),
        )
        for target in settings.promotion
    ]


def parse_target(text: str) -> DeployTarget:
    """`name=staging,role=<role ARN>,cluster=staging,service=orders-api[,region=..][,profile=..]`."""
    fields: dict[str, str] = {}
    for part in text.split(","):
        key, sep, value = part.partition("=")
        if not sep or not value or key in fields:
            raise UsageError(f"--target {text!r}: write key=value pairs separated by commas, each key once")
        fields[key.strip()] = value.strip()
    unknown = set(fields) - {"name", "role", "cluster", "service", "region", "profile"}
    missing = {"name", "role", "cluster", "service"} - set(fields)
    if unknown or missing:
        raise UsageError(
            f"--target {text!r}: needs name, role, cluster and service (region and profile are optional)"
            + (f"; unknown: {', '.join(sorted(unknown))}" if unknown else "")
        )
    if not ROLE_ARN.match(fields["role"]):
        raise UsageError(f"--target {fields['name']}: role={fields['role']!r} is not an IAM role ARN")
    for key in ("cluster", "service"):
        if not NAME.match(fields[key]):
            raise UsageError(f"--target {fields['name']}: {key}={fields[key]!r} is not an ECS {key} name")
    if "region" in fields and not REGION.match(fields["region"]):
        raise UsageError(f"--target {fields['name']}: region={fields['region']!r} is not an AWS region")
    return DeployTarget(
        name=fields["name"],
        role_arn=fields["role"],
        cluster=fields["cluster"],
        service=fields["service"],
        region=fields.get("region"),
        profile=fields.get("profile"),
    )


class Preflight(Command):
    name = "preflight"
    help = "check cross-account deploy targets: role, trust, permissions, service; exit non-zero naming what is missing"
    needs_pipeline = False

    @classmethod
    def add_arguments(cls, parser):
        parser.add_argument(
            "--pipeline-role",
            required=True,
            metavar="ARN",
            help="the tooling pipeline's role, which assumes each target's deploy role",
        )
        parser.add_argument(
            "--target",
            action="append",
            metavar="SPEC",
            help="name=..,role=<deploy role ARN>,cluster=..,service=..[,region=..][,profile=<AWS profile "
            "that can read the target account>]; repeat for each target. With --stack: the stack's "
            "promotion.targets",
        )
        parser.add_argument(
            "--profile",
            action="append",
            default=[],
            metavar="TARGET=PROFILE",
            help="with --stack: the AWS profile that can read a target's account, e.g. prod=prod-readonly",
        )

    def validate(self) -> None:
        if not ROLE_ARN.match(self.args.pipeline_role):
            raise UsageError(f"--pipeline-role {self.args.pipeline_role!r} is not an IAM role ARN")
        settings = self.ctx.target.settings
        if self.args.target and settings is not None:
            raise UsageError("give --target or --stack, not both: with --stack the targets are the stack's")
        if settings is None and not self.args.target:
            raise UsageError("give each target with --target, or --stack to check the stack's promotion.targets")
        if settings is None and self.args.profile:
            raise UsageError("--profile goes with --stack; with --target, write profile=<AWS profile> in the target")
        self.targets = (
            [parse_target(text) for text in self.args.target]
            if settings is None
            else stack_targets(settings, self.args.profile)
        )
        names = [target.name for target in self.targets]
        if len(set(names)) != len(names):
            raise UsageError("--target: each target needs a name of its own")

    def execute(self) -> int:
        ready = 0
        for target in self.targets:
            problems = self._problems(target)
            if problems:
                self.terminal.line(f"{target.name}: NOT READY ({target.role_arn})")
                for problem in problems:
                    self.terminal.line(f"  - {problem}")
            else:
                ready += 1
                self.terminal.line(
                    f"{target.name}: ready: {target.role_arn} trusts the pipeline's role and may deploy "
                    f"{target.cluster}/{target.service}"
                )
        self.terminal.line(f"{ready} of {len(self.targets)} targets ready.")
        return 0 if ready == len(self.targets) else 1

    def _problems(self, target: DeployTarget) -> list[str]:
        """Everything missing for this target, each naming what to add and where."""
        problems: list[str] = []
        tooling = self.ctx.aws
        pipeline_role = self.args.pipeline_role
        assumes = self._simulate(tooling, problems, pipeline_role, ["sts:AssumeRole"], target.role_arn)
        if assumes is not None and assumes["sts:AssumeRole"] != "allowed":
            problems.append(
                f"the pipeline's role {pipeline_role} may not sts:AssumeRole on {target.role_arn} "
                f"({assumes['sts:AssumeRole']}): allow it in the pipeline role's policy"
            )
        try:
            there = tooling.elsewhere(target.profile)
        except BotoCoreError as error:  # ProfileNotFound, a profile without credentials
            problems.append(f"cannot check in account {target.account}: {error}")
            return problems
        # IAM and ECS answer for the account the credentials are in: only that account's answers count.
        identity = self._call(there, problems, target, "sts", "get_caller_identity")
        if identity is None:
            return problems
        if identity["Account"] != target.account:
            problems.append(
                f"cannot check in account {target.account}: the credentials are account {identity['Account']}'s; "
                f"give the target profile=<an AWS profile that can read {target.account}>"
            )
            return problems
        region = target.region or there.region or "?"
        role = self._call(there, problems, target, "iam", "get_role", RoleName=target.role_name)
        if role is None:
            return problems
        if role == "missing":
            problems.append(
                f"role {target.role_name} does not exist in account {target.account}: create it there with "
                "TargetAccountAccess (README, Cross-account delivery)"
            )
            return problems
        trusted = _trusted_principals(role["Role"].get("AssumeRolePolicyDocument") or {})
        if pipeline_role not in trusted:
            problems.append(
                f"role {target.role_name} does not trust the pipeline's role {pipeline_role} "
                f"(it trusts: {', '.join(sorted(trusted)) or 'no AWS principal'})"
            )
        service_arn = target.service_arn(region)
        allowed = self._simulate(there, problems, target.role_arn, list(DEPLOY_ACTIONS), service_arn)
        for action, decision in (allowed or {}).items():
            if decision != "allowed":
                problems.append(f"role {target.role_name} may not {action} on {service_arn} ({decision})")
        found = self._call(
            there,
            problems,
            target,
            "ecs",
            "describe_services",
            region=target.region,
            cluster=f"arn:{target.partition}:ecs:{region}:{target.account}:cluster/{target.cluster}",
            services=[target.service],
        )
        if isinstance(found, dict):
            services = [s for s in found.get("services", []) if s.get("status") == "ACTIVE"]
            if not services:
                problems.append(
                    f"no ACTIVE service {target.service} in cluster {target.cluster} of account {target.account} "
                    f"in {region}"
                )
            elif (services[0].get("deploymentController") or {}).get("type", "ECS") != "ECS":
                # The promotion deploys with CodePipeline's ECS action, which needs the ECS controller
                # (https://docs.aws.amazon.com/codepipeline/latest/userguide/action-reference-ECS.html).
                controller = services[0]["deploymentController"]["type"]
                problems.append(
                    f"service {target.service} is deployed by {controller}; the promotion deploys with the ECS "
                    "action, which needs the ECS deployment controller (rolling, or ECS blue/green, canary, linear)"
                )
        return problems

    def _simulate(
        self, aws: Aws, problems: list[str], principal: str, actions: list[str], resource: str
    ) -> Optional[dict[str, str]]:
        """IAM's decision for each action of `principal` on `resource`, or None when it cannot be asked."""
        try:
            answer = aws.client("iam").simulate_principal_policy(
                PolicySourceArn=principal, ActionNames=actions, ResourceArns=[resource]
            )
        except (ClientError, BotoCoreError) as error:
            problems.append(f"cannot check {principal}'s permissions: {aws.explain(error)}")
            return None
        return {result["EvalActionName"]: result["EvalDecision"] for result in answer["EvaluationResults"]}

    def _call(
        self,
        aws: Aws,
        problems: list[str],
        target: DeployTarget,
        service: str,
        method: str,
        region: Optional[str] = None,
        **params: Any,
    ) -> Any:
        """The answer, "missing" for a role that does not exist, or None (the problem noted)."""
        try:
            return getattr(aws.client(service, region), method)(**params)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "NoSuchEntity":
                return "missing"
            hint = "" if target.profile else f" (give the target profile=<a profile that can read {target.account}>)"
            problems.append(f"cannot check in account {target.account}: {aws.explain(error)}{hint}")
        except BotoCoreError as error:
            problems.append(f"cannot check in account {target.account}: {aws.explain(error)}")
        return None


def _trusted_principals(document: Any) -> set[str]:
    """The AWS principals an Allow statement lets call sts:AssumeRole."""
    if isinstance(document, str):  # the API URL-encodes it; boto3 decodes it, a stub may not
        import json
        from urllib.parse import unquote

        document = json.loads(unquote(document))
    principals: set[str] = set()
    statements = document.get("Statement", [])
    for statement in statements if isinstance(statements, list) else [statements]:
        actions = statement.get("Action", [])
        actions = [actions] if isinstance(actions, str) else actions
        if statement.get("Effect") != "Allow" or "sts:AssumeRole" not in actions:
            continue
        aws = (statement.get("Principal") or {}).get("AWS", [])
        principals |= {aws} if isinstance(aws, str) else set(aws)
    return principals
