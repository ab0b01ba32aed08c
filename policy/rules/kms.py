"""KMS: customer keys rotate yearly, and their key policy lets only named roles use them."""

import re
from collections.abc import Iterable, Mapping
from typing import Any

from .normalise import (
    ACCOUNT_ID,
    UNKNOWN,
    as_list,
    binding_values,
    bound_accounts,
    dig,
    granted,
    is_unknown,
    json_document,
    label,
    principals,
    statements,
)
from .stack import StackInput, StackResource, StackViolation, stack_resource

KMS_KEY = "aws:kms/key:Key"
KMS_KEY_POLICY = "aws:kms/keyPolicy:KeyPolicy"
# Keys that carry a key policy of their own, judged like a Key's.
KEYS_WITH_POLICY = frozenset(
    {KMS_KEY, "aws:kms/replicaKey:ReplicaKey", "aws:kms/externalKey:ExternalKey",
     "aws:kms/replicaExternalKey:ReplicaExternalKey"}
)  # fmt: skip

# Actions that use a key's material, or let someone else use it (a grant), as opposed to
# managing it. `granted` matches them against the statement however it spells them (`kms:*`,
# `kms:G*`, `kms:ReEncrypt*`, NotAction).
# Source: https://docs.aws.amazon.com/kms/latest/developerguide/kms-api-permissions-reference.html
KEY_USE_ACTIONS = (
    "kms:Decrypt",
    "kms:Encrypt",
    "kms:GenerateDataKey",
    "kms:GenerateDataKeyWithoutPlaintext",
    "kms:GenerateDataKeyPair",
    "kms:GenerateDataKeyPairWithoutPlaintext",
    "kms:ReEncryptFrom",
    "kms:ReEncryptTo",
    "kms:CreateGrant",
    "kms:Sign",
    "kms:Verify",
    "kms:GenerateMac",
    "kms:VerifyMac",
    "kms:DeriveSharedSecret",
)
# Managing the key: whoever may do these may give themselves every use (PutKeyPolicy), or destroy
# or disable what the pipeline's artifacts and logs are encrypted with. The account's own
# administrators hold them (AWS's default key policy does); everyone else never.
KEY_MANAGEMENT_ACTIONS = (
    "kms:PutKeyPolicy",
    "kms:ScheduleKeyDeletion",
    "kms:DisableKey",
    "kms:DisableKeyRotation",
    "kms:ReplicateKey",
    "kms:UpdatePrimaryRegion",
    "kms:RevokeGrant",
    "kms:RetireGrant",
)

# AWS rotates a key every `rotationPeriodInDays`, 90 to 2560 days, 365 by default; a key that keeps
# its material for years is not what "rotates every year" means.
# Source: https://docs.aws.amazon.com/kms/latest/APIReference/API_EnableKeyRotation.html
MAX_ROTATION_DAYS = 365


def _bound_to_a_role_path(statement: Mapping[str, Any]) -> bool:
    """`"AWS": "*"` narrowed to the roles under one IAM path of one account: the principal's
    account equals a single account, and its ARN is like `arn:...:iam::<that account>:role/<path>/*`
    with a path below the account's roles (not `role/*`)."""
    condition = statement.get("Condition")
    if not isinstance(condition, Mapping):
        return False
    accounts = as_list(dig(condition, "StringEquals", "aws:PrincipalAccount"))
    patterns = as_list(dig(condition, "ArnLike", "aws:PrincipalArn"))
    if len(accounts) != 1 or not isinstance(accounts[0], str) or not patterns:
        return False
    if bound_accounts(statement) != {accounts[0]}:
        return False
    role_path = re.compile(rf"arn:aws[a-z-]*:iam::{re.escape(accounts[0])}:role/[^*?]+/\*")
    return all(isinstance(p, str) and role_path.fullmatch(p) for p in patterns)


def _key_policy_problems(document: Mapping[str, Any]) -> list[str]:
    problems = []
    for index, statement in enumerate(statements(document)):
        using = granted(statement, KEY_USE_ACTIONS)
        if not using:
            continue
        found = principals(statement)
        broad = [p.value for p in found if p.everyone or p.account_root]
        # Use only through a named service (S3 reading the objects) keeps IAM and the service's
        # own permissions in charge; that is a scoped grant.
        if broad and not _through_a_service_of_this_account(statement) and not _bound_to_a_role_path(statement):
            shown = ", ".join(sorted(set(broad)))
            problems.append(
                f"key policy {label(statement, index)} lets {shown} use the key ({', '.join(using)}): "
                "name the roles that need it instead"
            )
    for index, statement in enumerate(statements(document)):
        managing = granted(statement, KEY_MANAGEMENT_ACTIONS)
        everyone = any(p.everyone for p in principals(statement))
        if managing and everyone and bound_accounts(statement) is None:
            problems.append(
                f"key policy {label(statement, index)} lets anyone ({', '.join(managing)}) manage the key: "
                "only the account's administrators may"
            )
    return problems


def _through_a_service_of_this_account(statement: Mapping[str, Any]) -> bool:
    """Use only through named AWS services (S3 reading the objects) on behalf of named accounts:
    `kms:ViaService` equal to literal service endpoints and `kms:CallerAccount` equal to accounts.
    IAM and the service's own permissions stay in charge, so that is a scoped grant. ViaService
    alone would let any account use the key through the service.
    Source: https://docs.aws.amazon.com/kms/latest/developerguide/conditions-kms.html#conditions-kms-via-service"""
    services = binding_values(statement, "kms:ViaService")
    callers = binding_values(statement, "kms:CallerAccount")
    return bool(services) and bool(callers) and all(ACCOUNT_ID.match(c) for c in callers)


def _key_identifiers(key: StackResource) -> set[str]:
    """What a KeyPolicy's keyId may hold for this key: its id, or its ARN."""
    found = {key.id, dig(key.props, "keyId"), dig(key.props, "arn"), dig(key.props, "id")}
    return {value for value in found if isinstance(value, str) and value and not is_unknown(value)}


def _policies_of(key: StackResource, key_policies: Iterable[StackResource]) -> list[StackResource]:
    identifiers = _key_identifiers(key)
    return [
        policy
        for policy in key_policies
        if (key.urn and key.urn in policy.property_dependencies.get("keyId", ()))
        or dig(policy.props, "keyId") in identifiers
    ]


def check_kms_key_policies(resources: Iterable[StackInput]) -> list[StackViolation]:
    """Every customer key has its own key policy, and no key policy lets anyone use a key through
    the account root (any IAM identity of the account, also written as the bare account ID) or
    through "*" (CICD-SEC-7). Every KeyPolicy resource is read, whichever way it names its key."""
    stack = [stack_resource(item) for item in resources]
    key_policies = [r for r in stack if r.resource_type == KMS_KEY_POLICY]
    violations: list[StackViolation] = []
    for policy in key_policies:
        document, problems = json_document(dig(policy.props, "policy"), "key policy")
        problems = problems + _key_policy_problems(document or {})
        violations.extend(StackViolation(problem, policy.urn or None) for problem in problems)
    unmatched_unknown = any(dig(p.props, "keyId") is UNKNOWN and not p.property_dependencies for p in key_policies)
    for key in (r for r in stack if r.resource_type in KEYS_WITH_POLICY):
        own = dig(key.props, "policy")
        if own is not None:
            document, problems = json_document(own, "key policy")
            problems = problems + _key_policy_problems(document or {})
            violations.extend(StackViolation(problem, key.urn or None) for problem in problems)
            continue
        if _policies_of(key, key_policies) or key.resource_type != KMS_KEY:
            continue
        if unmatched_unknown or dig(key.props, "keyId") is UNKNOWN:
            continue  # a preview: which key policy belongs to this key cannot be told yet
        violations.append(
            StackViolation(
                f"KMS key {key.name or key.urn} keeps the default policy: any IAM identity may use it",
                key.urn or None,
            )
        )
    return violations


def check_kms_key_rotation(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    if resource_type != KMS_KEY:
        return []
    spec = dig(props, "customerMasterKeySpec") or dig(props, "keySpec")
    if isinstance(spec, str) and spec != "SYMMETRIC_DEFAULT":
        return []  # AWS rotates only symmetric encryption keys; asymmetric and HMAC keys cannot rotate
    rotation = dig(props, "enableKeyRotation")
    if rotation is not UNKNOWN and rotation is not True:
        return ["KMS key does not set enableKeyRotation: true"]
    period = dig(props, "rotationPeriodInDays")
    if isinstance(period, (int, float)) and not isinstance(period, bool) and period > MAX_ROTATION_DAYS:
        return [f"KMS key rotates every {period:g} days; rotate at least every {MAX_ROTATION_DAYS} days"]
    return []
