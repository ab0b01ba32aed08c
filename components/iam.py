"""IAM building blocks: statements, policy documents, and one role per actor.

Every statement names its actions and scopes its resources to ARNs the program knows.
A wildcard resource appears only where AWS offers no resource-level permission for the
action, and the statement's `Sid` says so.
"""

import json
from collections.abc import Mapping, Sequence
from typing import Any, Optional

import pulumi
import pulumi_aws as aws

from .account import AwsAccount

Statement = pulumi.Input[Mapping[str, Any]]


def allow(
    sid: str,
    actions: Sequence[str],
    resources: Sequence[pulumi.Input[str]],
    condition: Optional[pulumi.Input[Mapping[str, Any]]] = None,
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


def pass_task_roles(role_arns: Sequence[pulumi.Input[str]]) -> pulumi.Output[Optional[dict]]:
    """`iam:PassRole` for exactly these roles, and only to ECS tasks; None when there are none
    (a task definition without roles), which `policy_document` leaves out."""

    def render(resolved: list[str]) -> Optional[dict]:
        arns = sorted({arn for arn in resolved if arn})
        if not arns:
            return None
        return {
            "Sid": "PassOnlyTheServiceRoles",
            "Effect": "Allow",
            "Action": ["iam:PassRole"],
            "Resource": arns,
            "Condition": {"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}},
        }

    return pulumi.Output.all(*role_arns).apply(render)


def deny_insecure_transport(actions: str, resources: Sequence[str]) -> dict:
    """A resource-policy statement refusing any request made without TLS."""
    return {
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": actions,
        "Resource": list(resources) if len(resources) > 1 else resources[0],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }


def policy_document(statements: Sequence[Statement]) -> pulumi.Output[str]:
    """A policy from statements; a statement that resolved to None (nothing to grant) is left out."""
    return pulumi.Output.all(*statements).apply(
        lambda resolved: json.dumps({"Version": "2012-10-17", "Statement": [s for s in resolved if s]}, sort_keys=True)
    )


def service_role(
    name: str,
    *,
    service: str,
    source_arn: pulumi.Input[str],
    statements: Sequence[Statement],
    account: AwsAccount,
    tags: Mapping[str, str],
    parent: pulumi.Resource,
    permissions_boundary: Optional[str] = None,
) -> aws.iam.Role:
    """A role that only `service` can assume, only on behalf of `source_arn` in this account
    (confused-deputy protection), with exactly `statements` as its inline policy."""
    role = aws.iam.Role(
        name,
        assume_role_policy=trust_policy(service, account, source_arn),
        permissions_boundary=permissions_boundary,
        max_session_duration=3600,
        tags=dict(tags),
        opts=pulumi.ResourceOptions(parent=parent),
    )
    attach_policy(name, role, statements)
    return role


def attach_policy(role_name: str, role: aws.iam.Role, statements: Sequence[Statement]) -> aws.iam.RolePolicy:
    """`statements` as the role's one inline policy, a child of the role registered as `role_name`."""
    return aws.iam.RolePolicy(
        f"{role_name}-policy",
        role=role.id,
        policy=policy_document(statements),
        opts=pulumi.ResourceOptions(parent=role),
    )


def trust_policy(service: str, account: AwsAccount, source_arn: pulumi.Input[str]) -> pulumi.Output[str]:
    """Only `service`, acting for `source_arn` in this account, may assume the role."""
    return pulumi.Output.all(account.id, source_arn).apply(
        lambda args: json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": service},
                        "Action": "sts:AssumeRole",
                        "Condition": {
                            "StringEquals": {"aws:SourceAccount": args[0]},
                            "ArnLike": {"aws:SourceArn": args[1]},
                        },
                    }
                ],
            },
            sort_keys=True,
        )
    )
