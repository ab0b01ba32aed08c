"""IAM building blocks: statements, policy documents, and one role per actor.

Every statement names its actions and scopes its resources to ARNs the program knows.
A wildcard resource appears only where AWS offers no resource-level permission for the
action, and the statement's `Sid` says so.
"""

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Optional

import pulumi
import pulumi_aws as aws

from . import config_schema, naming
from .account import AwsAccount
from .inputs import Input

# The principals of cross-account grants: a role's ARN, as the config checks it.
ROLE_ARN = re.compile(config_schema.ROLE_ARN, re.ASCII)
# CodePipeline's pipeline names (https://docs.aws.amazon.com/codepipeline/latest/APIReference/API_PipelineDeclaration.html).
PIPELINE_NAME = re.compile(r"[A-Za-z0-9.@_-]{1,100}")


def require_role_arn(where: str, arn: str) -> str:
    """`arn` when it is a role's ARN; otherwise a ValueError naming `where` (the component and
    argument that gave it): cross-account grants name roles, never an account, a user or a wildcard."""
    if not ROLE_ARN.fullmatch(arn or ""):
        raise ValueError(
            f"{where}={arn!r} is not a role's ARN; allowed: arn:aws:iam::<account>:role/<name> "
            "(never an account, a user or a wildcard)"
        )
    return arn


def require_codepipeline_name(where: str, value: object, kind: str = "pipeline") -> str:
    """`value` when CodePipeline takes it as a pipeline's or a stage's name; otherwise a ValueError
    naming `where` and what is allowed."""
    if not (isinstance(value, str) and PIPELINE_NAME.fullmatch(value)):
        raise ValueError(f"{where}={value!r} is not a {kind} name; allowed: 1 to 100 of A-Z a-z 0-9 . @ _ -")
    return value


def trusts_only(role_arn: str) -> str:
    """A trust policy that lets exactly one role assume the role (by ARN: IAM stores the role's
    unique ID, so a role made again under the same name is not trusted)."""
    statement = {"Effect": "Allow", "Principal": {"AWS": role_arn}, "Action": "sts:AssumeRole"}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]}, sort_keys=True)


# A statement, or None for one that does not apply (`policy_document` leaves it out).
Statement = Input[Optional[Mapping[str, Any]]]


def allow(
    sid: str,
    actions: Sequence[str],
    resources: Sequence[Input[str]],
    condition: Optional[Input[Mapping[str, Any]]] = None,
) -> pulumi.Output[dict]:
    """An Allow statement; resources and condition values may be outputs."""
    if not actions or any("*" in action for action in actions):
        raise ValueError(f"statement {sid}: actions must be named, got {list(actions)}")
    if not resources:
        raise ValueError(f"statement {sid}: resources must be named")

    def render(resolved: list) -> dict:
        resolved_condition, *resolved_resources = resolved
        statement = {
            "Sid": sid,
            "Effect": "Allow",
            "Action": sorted(actions),
            "Resource": sorted(set(resolved_resources)),
        }
        if resolved_condition:
            statement["Condition"] = resolved_condition
        return statement

    return pulumi.Output.all(pulumi.Output.from_input(condition or {}), *resources).apply(render)


def secret_read_statements(secrets, account: AwsAccount, sid: str) -> list[pulumi.Output[dict]]:
    """Read access to exactly the referenced secrets and parameters, nothing else (CICD-SEC-6).
    `secrets` are `settings.SecretRef`s; `sid` names the reader, e.g. "Build" or "Task"."""
    statements = []
    managed = [s.secret_arn_pattern for s in secrets if s.kind == "SECRETS_MANAGER"]
    if managed:
        statements.append(allow(f"Read{sid}Secrets", ["secretsmanager:GetSecretValue"], managed))
    parameters = [
        s.reference if s.reference.startswith("arn:") else account.arn("ssm", f"parameter{s.reference}")
        for s in secrets
        if s.kind == "PARAMETER_STORE"
    ]
    if parameters:
        statements.append(allow(f"Read{sid}Parameters", ["ssm:GetParameters"], parameters))
    return statements


def pass_task_roles(
    role_arns: Sequence[Input[str]], sid: str = "PassOnlyTheServiceRoles"
) -> pulumi.Output[Optional[dict]]:
    """`iam:PassRole` for exactly these roles, and only to ECS tasks; None when there are none
    (a task definition without roles), which `policy_document` leaves out."""

    def render(resolved: list[str]) -> Optional[dict]:
        arns = sorted({arn for arn in resolved if arn})
        if not arns:
            return None
        return {
            "Sid": sid,
            "Effect": "Allow",
            "Action": ["iam:PassRole"],
            "Resource": arns,
            "Condition": {"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}},
        }

    return pulumi.Output.all(*role_arns).apply(render)


def deny_insecure_transport(actions: str, resources: Sequence[str]) -> dict:
    """A resource-policy statement refusing any request made without TLS: every action (`s3:*`),
    because a Deny with a wildcard only takes rights away; AWS's own recommendation
    (https://docs.aws.amazon.com/AmazonS3/latest/userguide/security-best-practices.html, "Enforce
    encryption of data in transit")."""
    return {
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": actions,
        "Resource": list(resources) if len(resources) > 1 else resources[0],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }


def policy_document(statements: Sequence[Statement]) -> pulumi.Output[str]:
    """A policy from statements; a statement that resolved to None (nothing to grant) is left out.
    A `Sid` that a statement of another stage already used gets a number (IAM refuses repeats: two
    checks, or two approvals, in one pipeline each bring theirs)."""
    return pulumi.Output.all(*statements).apply(
        lambda resolved: json.dumps(
            {"Version": "2012-10-17", "Statement": _numbered_sids([s for s in resolved if s])}, sort_keys=True
        )
    )


def _numbered_sids(statements: list) -> list:
    seen: dict[str, int] = {}
    numbered = []
    for statement in statements:
        sid = statement.get("Sid")
        if sid:
            seen[sid] = seen.get(sid, 0) + 1
            if seen[sid] > 1:
                statement = {**statement, "Sid": f"{sid}{seen[sid]}"}
        numbered.append(statement)
    return numbered


@dataclass(frozen=True)
class ScopedRole:
    """An IAM role and its one inline policy.

    `arn` resolves only once the policy exists, so whatever is handed the ARN (a pipeline, a
    CodeBuild project, a task definition, a deployment group) is created after the permissions
    too: CreatePipeline starts a first execution at once, and a role still without its policy
    fails it. Trust policies that name the role use `role.arn`, which does not wait."""

    role: aws.iam.Role
    policy: Optional[aws.iam.RolePolicy]
    arn: pulumi.Output[str]

    @property
    def name(self) -> pulumi.Output[str]:
        return self.role.name

    @property
    def resources(self) -> list[pulumi.Resource]:
        """The role and its policy: what a `depends_on` names to wait for both."""
        return [self.role, *([self.policy] if self.policy else [])]


def role(
    name: str,
    *,
    trust: Input[str],
    statements: Sequence[Statement],
    tags: Mapping[str, str],
    parent: pulumi.Resource,
    permissions_boundary: Optional[str] = None,
    path: str = "/",
) -> ScopedRole:
    """A role registered as `name` (autonamed within IAM's limits) trusted as `trust` says, with
    exactly `statements` as its inline policy (none when there are no statements). `path` groups
    a stack's roles, so a key policy or an SCP can name them all in a few characters."""
    name = naming.logical(naming.IAM_ROLE, name)
    resource = aws.iam.Role(
        name,
        path=path,
        assume_role_policy=trust,
        permissions_boundary=permissions_boundary,
        max_session_duration=3600,
        tags=dict(tags),
        opts=pulumi.ResourceOptions(parent=parent),
    )
    return grant(ScopedRole(role=resource, policy=None, arn=resource.arn), name, statements)


def grant(scoped: ScopedRole, name: str, statements: Sequence[Statement]) -> ScopedRole:
    """`scoped` with `statements` as its one inline policy (for a role whose policy names roles
    that trust it, and so must come after them). No policy when there are no statements."""
    if not statements:
        return scoped
    policy = aws.iam.RolePolicy(
        naming.logical(naming.IAM_ROLE_POLICY, name, "policy"),
        role=scoped.role.id,
        policy=policy_document(statements),
        opts=pulumi.ResourceOptions(parent=scoped.role),
    )
    return ScopedRole(
        role=scoped.role, policy=policy, arn=pulumi.Output.all(scoped.role.arn, policy.id).apply(lambda v: v[0])
    )


def service_role(
    name: str,
    *,
    service: str,
    source_arn: Input[str],
    statements: Sequence[Statement],
    account: AwsAccount,
    tags: Mapping[str, str],
    parent: pulumi.Resource,
    permissions_boundary: Optional[str] = None,
    path: str = "/",
) -> ScopedRole:
    """A role that only `service` can assume, only on behalf of `source_arn` in this account
    (confused-deputy protection), with exactly `statements` as its inline policy."""
    return role(
        name,
        trust=trust_policy(service, account, source_arn),
        statements=statements,
        tags=tags,
        parent=parent,
        permissions_boundary=permissions_boundary,
        path=path,
    )


@dataclass(frozen=True)
class RolePaths:
    """IAM paths for a stack's roles: one for those that run the pipeline (and may use its
    artifact key), one for those the running service and the alerts use, both under the stack's
    own. A role's path is fixed when it is created, so an ARN pattern on it names exactly the
    stack's roles (and the SCP stops anyone else creating a role there). The default, `/`, puts
    every role at the root, as IAM does."""

    stack: str = "/"

    @classmethod
    def for_stack(cls, stack: str) -> "RolePaths":
        # IAM paths take printable ASCII; the stack names these come from are [A-Za-z0-9.@_-].
        if not re.fullmatch(r"[A-Za-z0-9.@_-]{1,100}", stack):
            raise ValueError(f"RolePaths: {stack!r} is not a stack name this program makes")
        return cls(stack=f"/ecs-cicd/{stack}/")

    @property
    def pipeline(self) -> str:
        return self.stack if self.stack == "/" else f"{self.stack}pipeline/"

    @property
    def runtime(self) -> str:
        return self.stack if self.stack == "/" else f"{self.stack}runtime/"

    @property
    def deploy(self) -> str:
        """The roles that change what runs (the deploy actions', CodeDeploy's): under the pipeline
        path, so they may use the artifact key, and apart from the build roles, so the SCP can let
        them alone deploy."""
        return self.stack if self.stack == "/" else f"{self.pipeline}deploy/"

    def arn_pattern(self, account: AwsAccount, path: str) -> pulumi.Output[str]:
        """`arn:<partition>:iam::<account>:role<path>*`: every role under `path`."""
        return pulumi.Output.format("arn:{0}:iam::{1}:role{2}*", account.partition, account.id, path)


# Whether a service principal is documented to send `aws:SourceAccount` and `aws:SourceArn` when
# it assumes a role. A trust condition on a key the service does not send would lock the service
# out of its own role, so the form each service's documentation shows is used, with its source.
SOURCE_KEYS_SENT: dict[str, tuple[bool, str]] = {
    "codebuild.amazonaws.com": (
        True,
        "https://docs.aws.amazon.com/codebuild/latest/userguide/cross-service-confused-deputy-prevention.html",
    ),
    "ecs-tasks.amazonaws.com": (
        True,
        "https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task-iam-roles.html",
    ),
    "events.amazonaws.com": (
        True,
        "https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-use-conditions.html (aws:SourceArn: the rule)",
    ),
    # The documented trust policies carry no condition: none is added. (ecs.amazonaws.com: the
    # infrastructure role ECS moves traffic with on its own blue/green.)
    "lambda.amazonaws.com": (
        False,
        "https://docs.aws.amazon.com/lambda/latest/dg/lambda-intro-execution-role.html",
    ),
    "ecs.amazonaws.com": (
        False,
        "https://docs.aws.amazon.com/AmazonECS/latest/developerguide/AmazonECSInfrastructureRolePolicyForLoadBalancers.html",
    ),
    "codepipeline.amazonaws.com": (
        False,
        "https://docs.aws.amazon.com/codepipeline/latest/userguide/pipelines-create-service-role-cli.html",
    ),
    "codedeploy.amazonaws.com": (
        False,
        "https://docs.aws.amazon.com/codedeploy/latest/userguide/getting-started-create-service-role.html",
    ),
}


def trust_policy(service: str, account: AwsAccount, source_arn: Input[str]) -> pulumi.Output[str]:
    """Only `service` may assume the role and, where the service is documented to say on whose
    behalf it acts (`SOURCE_KEYS_SENT`), only for `source_arn` in this account."""
    if service not in SOURCE_KEYS_SENT:
        raise ValueError(f"no documented trust form for {service}; add it to iam.SOURCE_KEYS_SENT")
    sends_source_keys, _ = SOURCE_KEYS_SENT[service]

    def render(args: list) -> str:
        statement: dict = {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
        if sends_source_keys:
            statement["Condition"] = {
                "StringEquals": {"aws:SourceAccount": args[0]},
                "ArnLike": {"aws:SourceArn": args[1]},
            }
        return json.dumps({"Version": "2012-10-17", "Statement": [statement]}, sort_keys=True)

    return pulumi.Output.all(account.id, source_arn).apply(render)
