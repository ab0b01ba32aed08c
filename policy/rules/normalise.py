"""What every check reads, normalised: unknown values, plain data, policy documents, and the
principals, actions and resources of their statements.

IAM is lenient in ways an attacker uses to write around a check that compares strings: actions
and condition keys are case-insensitive and take `*` and `?` wildcards (`kms:G*`, `iam:PassRol?`),
`NotAction` grants everything it does not list, and an account can be written as its root ARN or
as a bare 12-digit ID. The helpers here turn each of those into one form, so that the checks in the
service modules compare like with like.
Sources: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_action.html
(wildcards, case-insensitive), .../reference_policies_elements_principal.html (an account ID is
the account's root), .../reference_policies_elements_notaction.html,
.../reference_policies_elements_condition_operators.html (`...IfExists` is true when the key is
absent; ForAnyValue/ForAllValues over multi-valued keys).
"""

import fnmatch
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple, Optional, Union

# Unknown values and plain data ---------------------------------------------------------

# The engine's placeholders for values not known during preview; the same constants as
# pulumi_policy.proxy (tests/test_policy.py checks that they still match).
UNKNOWN_SENTINELS = frozenset(
    {
        "1c4a061d-8072-4f0a-a4cb-0ff528b18fe7",  # boolean
        "3eeb2bf0-c639-47a8-9e75-3b44932eb421",  # number
        "04da6b54-80e4-46f7-96ec-b56ff0331ba9",  # string
        "6a19a0b0-7e62-4c92-b797-7f8e31da9cc2",  # array
        "030794c1-ac77-496b-92df-f27374a8bd58",  # asset
        "e48ece36-62e2-4504-bad9-02848725956a",  # archive
        "dd056dcd-154b-4c76-9bd3-c8f88648b5ff",  # object
    }
)


class _Unknown:
    """What `dig` returns when the value (or a container on the way to it) is not known yet."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN: Any = _Unknown()


def is_unknown(value: Any) -> bool:
    return value is UNKNOWN or (isinstance(value, str) and value in UNKNOWN_SENTINELS)


def dig(value: Any, *path: Union[str, int]) -> Any:
    """The value at `path`: None when something on the way is missing, UNKNOWN when it is unknown."""
    for key in path:
        if is_unknown(value):
            return UNKNOWN
        if isinstance(key, int):
            if not isinstance(value, Sequence) or isinstance(value, str) or not -len(value) <= key < len(value):
                return None
            value = value[key]
        elif isinstance(value, Mapping):
            value = value.get(key)
        else:
            return None
    return UNKNOWN if is_unknown(value) else value


def plain(value: Any) -> Any:
    """Deep copy of `value` as dicts and lists, unknown sentinels kept as they are.

    pulumi_policy hands validations proxies that raise on reading an unknown value; both kinds
    expose their raw container under the key "__target". The checks want plain data instead so
    that they decide for themselves what an unknown value means."""
    if isinstance(value, (str, bytes)):
        return value
    if isinstance(value, Mapping):
        raw = _proxy_target(value)
        return {key: plain(raw[key]) for key in raw}
    if isinstance(value, Sequence):
        raw = _proxy_target(value)
        return [plain(item) for item in raw]
    return value


def _proxy_target(container: Any) -> Any:
    if isinstance(container, (dict, list, tuple)):
        return container
    try:
        target = container["__target"]
    except (KeyError, IndexError, TypeError):
        return container
    return target if isinstance(target, (dict, list)) else container


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, (str, Mapping)) or is_unknown(value):
        return [value]
    if isinstance(value, Sequence):
        return list(value)
    return [value]


def is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def json_document(value: Any, what: str) -> tuple[Optional[Mapping[str, Any]], list[str]]:
    """A JSON policy document held as a string (or, leniently, as an object).

    Returns (document, []) when it parses, (None, [message]) when it is missing or broken and
    (None, []) when it is unknown (cannot tell)."""
    if is_unknown(value):
        return None, []
    if is_blank(value):
        return None, [f"{what} is missing"]
    if isinstance(value, Mapping):
        return value, []
    if not isinstance(value, str):
        return None, [f"{what} is not a JSON document"]
    try:
        document = json.loads(value)
    except ValueError:
        return None, [f"{what} is not valid JSON"]
    if not isinstance(document, Mapping):
        return None, [f"{what} is not a JSON object"]
    return document, []


def statements(document: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [s for s in as_list(document.get("Statement")) if isinstance(s, Mapping)]


def label(statement: Mapping[str, Any], index: int) -> str:
    sid = statement.get("Sid")
    return f"statement {sid!r}" if isinstance(sid, str) and sid else f"statement #{index}"


def effect(statement: Mapping[str, Any]) -> str:
    effect = statement.get("Effect")
    return effect.lower() if isinstance(effect, str) else ""


def condition_keys(statement: Mapping[str, Any]) -> set[str]:
    """Condition keys of a statement, lower-cased (IAM compares them case-insensitively)."""
    keys: set[str] = set()
    condition = statement.get("Condition")
    if isinstance(condition, Mapping):
        for block in condition.values():
            if isinstance(block, Mapping):
                keys.update(str(key).lower() for key in block)
    return keys


def condition_values(statement: Mapping[str, Any], key: str) -> list[Any]:
    values: list[Any] = []
    condition = statement.get("Condition")
    if isinstance(condition, Mapping):
        for block in condition.values():
            if isinstance(block, Mapping):
                for name, value in block.items():
                    if str(name).lower() == key:
                        values.extend(as_list(value))
    return values


# Principals -----------------------------------------------------------------------------------

ACCOUNT_ID = re.compile(r"^\d{12}$")
_ARN_ACCOUNT = re.compile(r"^arn:[^:]*:[^:]*:[^:]*:(\d{12}|[^:]*):")


class Principal(NamedTuple):
    """One principal of a statement. `kind` is AWS, Service, Federated or CanonicalUser; `value`
    is normalised: a bare account ID becomes its root ARN. `account` is the 12-digit account the
    principal belongs to, "" for services and everyone."""

    kind: str
    value: str
    account: str

    @property
    def everyone(self) -> bool:
        return self.kind == "AWS" and self.value == "*"

    @property
    def account_root(self) -> bool:
        """The account itself: every IAM identity of it that its own policies allow."""
        return self.kind == "AWS" and bool(re.fullmatch(r"arn:[\w-]+:iam::\d{12}:root", self.value))


def account_of(arn: Any) -> str:
    """The account field of an ARN ("" when it has none or is not an ARN)."""
    if not isinstance(arn, str) or is_unknown(arn):
        return ""
    if ACCOUNT_ID.match(arn):
        return arn
    match = _ARN_ACCOUNT.match(arn)
    return match.group(1) if match else ""


def principals(statement: Mapping[str, Any]) -> list[Principal]:
    """Every principal of `Principal` (and of `NotPrincipal`, which in an Allow means everyone
    else), normalised. Unknown values are left out: they cannot be judged."""
    found: list[Principal] = []
    for element in ("Principal", "NotPrincipal"):
        value = statement.get(element)
        if value is None:
            continue
        if value == "*" or element == "NotPrincipal":
            found.append(Principal("AWS", "*", ""))
            if element == "NotPrincipal" or not isinstance(value, Mapping):
                continue
        if not isinstance(value, Mapping):
            continue
        for kind, entries in value.items():
            for entry in as_list(entries):
                if not isinstance(entry, str) or is_unknown(entry):
                    continue
                entry = entry.strip()
                if kind == "AWS" and ACCOUNT_ID.match(entry):
                    entry = f"arn:aws:iam::{entry}:root"
                found.append(Principal(str(kind), entry, account_of(entry) if kind == "AWS" else ""))
    return found


# Conditions -----------------------------------------------------------------------------------

# Keys whose value, compared for equality, pins the caller (or the calling resource) to accounts.
ACCOUNT_KEYS = frozenset({"aws:principalaccount", "aws:sourceaccount", "aws:sourceowner", "aws:principalorgid"})
ARN_KEYS = frozenset({"aws:principalarn", "aws:sourcearn"})


def _binding_operator(operator: str, key: str) -> bool:
    """An operator that holds only when the key is present and equal (no IfExists, no Not, no set
    operator over a multi-valued key); ARN keys may use ArnLike with the account spelled out."""
    operator = operator.lower()
    if key in ACCOUNT_KEYS:
        return operator == "stringequals"
    return operator in ("arnequals", "arnlike", "stringequals", "stringlike")


_BINDING_OPERATORS = frozenset({"stringequals", "stringequalsignorecase", "arnequals", "arnlike", "stringlike"})


def binding_values(statement: Mapping[str, Any], key: str, *, patterns: bool = False) -> Optional[list[str]]:
    """The values a condition key is pinned to, or None when no condition pins it.

    A key is pinned only by an operator that holds when the key is present and equal: StringEquals
    or ArnEquals, or StringLike/ArnLike with literal values. `...IfExists` (true when the key is
    absent), `Not...`, `Null`, and the set operators `ForAnyValue:`/`ForAllValues:` (true for an
    empty set) pin nothing, and neither does a value with a wildcard under a Like operator (unless
    `patterns`: the caller judges the patterns, say by their account field).
    Condition operators: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html"""
    condition = statement.get("Condition")
    if not isinstance(condition, Mapping):
        return None
    key = key.lower()
    pinned: Optional[list[str]] = None
    for operator, block in condition.items():
        if not isinstance(block, Mapping) or str(operator).lower() not in _BINDING_OPERATORS:
            continue
        like = str(operator).lower().endswith("like")
        for name, values in block.items():
            if str(name).lower() != key:
                continue
            values = as_list(values)
            if not values or any(not isinstance(v, str) or is_unknown(v) for v in values):
                continue
            if like and not patterns and any(has_wildcard(v) for v in values):
                continue
            pinned = list(values) if pinned is None else [v for v in pinned if v in values]
    return pinned


def bound_accounts(statement: Mapping[str, Any]) -> Optional[set[str]]:
    """The accounts a statement's conditions pin its caller to, or None when they pin none.

    A condition binds only when it is true for the named accounts alone: `StringEquals` on an
    account key with literal values, or an ARN key whose every value names its account without a
    wildcard. `StringEqualsIfExists`, `StringLike "*"` or a key the request does not carry bind
    nothing. For aws:PrincipalOrgID the organisation ID stands in for the accounts."""
    condition = statement.get("Condition")
    if not isinstance(condition, Mapping):
        return None
    bound: Optional[set[str]] = None
    for operator, block in condition.items():
        if not isinstance(block, Mapping):
            continue
        for key, values in block.items():
            key = str(key).lower()
            if key not in ACCOUNT_KEYS | ARN_KEYS or not _binding_operator(str(operator), key):
                continue
            values = as_list(values)
            if not values or any(not isinstance(v, str) or is_unknown(v) for v in values):
                continue
            if key in ACCOUNT_KEYS:
                if any(has_wildcard(v) for v in values):
                    continue
                accounts = set(values)
            else:
                accounts = {account_of(v) for v in values}
                if any(not ACCOUNT_ID.match(a) for a in accounts):
                    continue
            bound = accounts if bound is None else bound & accounts
    return bound


def source_bound(statement: Mapping[str, Any]) -> bool:
    """A service principal pinned to this account's resources: aws:SourceAccount equal to accounts,
    or aws:SourceArn patterns whose account field is literal (ECS tasks are documented as
    `arn:aws:ecs:<region>:<account>:*`)."""
    if bound_accounts(statement):
        return True
    arns = binding_values(statement, "aws:SourceArn", patterns=True)
    return bool(arns) and all(ACCOUNT_ID.match(account_of(arn)) for arn in arns)


# Actions --------------------------------------------------------------------------------------


def has_wildcard(text: str) -> bool:
    return "*" in text or "?" in text


def action_patterns(statement: Mapping[str, Any], element: str = "Action") -> list[str]:
    return [a.strip().lower() for a in as_list(statement.get(element)) if isinstance(a, str) and not is_unknown(a)]


def _matches(pattern: str, action: str) -> bool:
    return fnmatch.fnmatchcase(action.lower(), pattern.replace("[", "[[]"))


def grants(statement: Mapping[str, Any], action: str) -> bool:
    """Whether an Allow statement allows `action` (written `service:Name`), however its Action or
    NotAction spells it: wildcards match as IAM matches them, case-insensitively."""
    if effect(statement) != "allow":
        return False
    if "NotAction" in statement:
        return not any(_matches(p, action) for p in action_patterns(statement, "NotAction"))
    return any(_matches(p, action) for p in action_patterns(statement))


def granted(statement: Mapping[str, Any], actions: Iterable[str]) -> list[str]:
    """The members of `actions` that the statement allows."""
    return [action for action in actions if grants(statement, action)]


# Resources ------------------------------------------------------------------------------------

# Services whose resource part starts with a resource's own name (an S3 bucket), not a type.
_NAME_FIRST_SERVICES = frozenset({"s3"})


def too_broad(resource: str) -> bool:
    """A resource pattern that may cover every resource of a type, or of any account or region:
    the same as "*" for the service it names.

    IAM expands a `*` at the end of an ARN segment past the colons ("If the * wildcard is the last
    character of a resource ARN segment, it can expand to match beyond the colon boundaries",
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_resource.html),
    so `arn:aws:s3:*`, `...:secret*` and `...:role*` are as broad as `*`. A pattern is scoped only
    when literal partition, service, region and account fields are followed by a literal name
    before the first wildcard: `role/ecs-cicd/prod/*`, `secret:orders/db-??????`,
    `bucket/folder/*`. A type alone (`role/*`, `log-group:*:log-stream:*`) or a name that starts
    with a wildcard (`role/*admin*`) is not."""
    resource = resource.strip()
    if not has_wildcard(resource):
        return False
    if not resource.startswith("arn:"):
        return True
    fields = resource.split(":", 5)
    if len(fields) < 6 or any(has_wildcard(f) for f in fields[1:5]):
        return True
    service, rest = fields[2], fields[5]
    literal = re.split(r"[*?]", rest, maxsplit=1)[0]
    if service in _NAME_FIRST_SERVICES:
        return not literal
    # What comes before the first wildcard, once the resource type (`role/`, `secret:`) is set aside.
    type_and_name = re.match(r"^([\w.-]+)([/:])(.*)$", literal, re.DOTALL)
    return type_and_name is None or not type_and_name.group(3)


def resources(statement: Mapping[str, Any]) -> list[str]:
    return [r.strip() for r in as_list(statement.get("Resource")) if isinstance(r, str) and not is_unknown(r)]


# Keys -----------------------------------------------------------------------------------------

_AWS_MANAGED_KEY = re.compile(r"(?:^|:)alias/aws/", re.IGNORECASE)


def aws_managed_key(value: Any) -> bool:
    """`alias/aws/s3` and its kin (by alias or alias ARN): keys whose policy no one here controls,
    so no condition, grant or cross-account use can be scoped on them."""
    return isinstance(value, str) and bool(_AWS_MANAGED_KEY.search(value))
