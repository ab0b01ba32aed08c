"""Pure check functions for the ecs-cicd CrossGuard policy pack.

Nothing here imports `pulumi_policy` or talks to the engine: every check takes plain data and
returns violation messages, so the same functions run under `pulumi preview --policy-pack policy`
(wrapped by `__main__.py`) and in fast unit tests.

* A resource check is `check_xxx(resource_type, props) -> list[str]`: `props` are the engine's
  camelCase properties; a resource of a type the check does not cover gets `[]`.
* A stack check takes a list of `StackResource` (or `(resource_type, props, urn)` tuples) and
  returns `StackViolation`s, each naming the URN of the offending resource.

During `pulumi preview` values computed by the provider (ids, ARNs, JSON documents built from
them) are unknown: the engine sends sentinel strings instead. A check that meets an unknown value
treats it as "cannot tell" and skips that part; a *missing* value is a violation only where the
property is an input these components always set (or AWS's default for it is the insecure one).
"""

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Optional, Union

# --------------------------------------------------------------------------------------------
# Unknown values and plain data
# --------------------------------------------------------------------------------------------

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


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, (str, Mapping)) or is_unknown(value):
        return [value]
    if isinstance(value, Sequence):
        return list(value)
    return [value]


def _is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _json_document(value: Any, what: str) -> tuple[Optional[Mapping[str, Any]], list[str]]:
    """A JSON policy document held as a string (or, leniently, as an object).

    Returns (document, []) when it parses, (None, [message]) when it is missing or broken and
    (None, []) when it is unknown (cannot tell)."""
    if is_unknown(value):
        return None, []
    if _is_blank(value):
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


def _statements(document: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [s for s in _as_list(document.get("Statement")) if isinstance(s, Mapping)]


def _label(statement: Mapping[str, Any], index: int) -> str:
    sid = statement.get("Sid")
    return f"statement {sid!r}" if isinstance(sid, str) and sid else f"statement #{index}"


def _effect(statement: Mapping[str, Any]) -> str:
    effect = statement.get("Effect")
    return effect.lower() if isinstance(effect, str) else ""


def _condition_keys(statement: Mapping[str, Any]) -> set[str]:
    """Condition keys of a statement, lower-cased (IAM compares them case-insensitively)."""
    keys: set[str] = set()
    condition = statement.get("Condition")
    if isinstance(condition, Mapping):
        for block in condition.values():
            if isinstance(block, Mapping):
                keys.update(str(key).lower() for key in block)
    return keys


def _condition_values(statement: Mapping[str, Any], key: str) -> list[Any]:
    values: list[Any] = []
    condition = statement.get("Condition")
    if isinstance(condition, Mapping):
        for block in condition.values():
            if isinstance(block, Mapping):
                for name, value in block.items():
                    if str(name).lower() == key:
                        values.extend(_as_list(value))
    return values


# --------------------------------------------------------------------------------------------
# Resource types
# --------------------------------------------------------------------------------------------

BUCKET_TYPES = frozenset({"aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2"})
PUBLIC_ACCESS_BLOCK_TYPES = frozenset({"aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"})
BUCKET_ENCRYPTION_TYPES = frozenset(
    {
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2",
    }
)
BUCKET_VERSIONING_TYPES = frozenset(
    {"aws:s3/bucketVersioning:BucketVersioning", "aws:s3/bucketVersioningV2:BucketVersioningV2"}
)
BUCKET_POLICY_TYPES = frozenset({"aws:s3/bucketPolicy:BucketPolicy"})
KMS_KEY = "aws:kms/key:Key"
KMS_KEY_POLICY = "aws:kms/keyPolicy:KeyPolicy"
CODEBUILD_PROJECT = "aws:codebuild/project:Project"
CODEBUILD_SOURCE_CREDENTIAL = "aws:codebuild/sourceCredential:SourceCredential"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
ECR_REPOSITORY = "aws:ecr/repository:Repository"
IAM_ROLE = "aws:iam/role:Role"
IAM_ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
IAM_POLICY = "aws:iam/policy:Policy"
IAM_POLICY_ATTACHMENTS = frozenset(
    {"aws:iam/rolePolicyAttachment:RolePolicyAttachment", "aws:iam/policyAttachment:PolicyAttachment"}
)
PIPELINE = "aws:codepipeline/pipeline:Pipeline"
SNS_TOPIC = "aws:sns/topic:Topic"

# Resources that exist only to hold credentials that never expire: IAM users and their keys,
# passwords, SSH keys, service-specific passwords and signing certificates.
LONG_LIVED_CREDENTIAL_TYPES = frozenset(
    {
        "aws:iam/user:User",
        "aws:iam/accessKey:AccessKey",
        "aws:iam/userLoginProfile:UserLoginProfile",
        "aws:iam/serviceSpecificCredential:ServiceSpecificCredential",
        "aws:iam/sshKey:SshKey",
        "aws:iam/signingCertificate:SigningCertificate",
    }
)


# --------------------------------------------------------------------------------------------
# Stack checks
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StackResource:
    """One resource of the stack as a stack check sees it.

    `id` is the provider id when the caller knows it (the engine does not send it to policies);
    `property_dependencies` maps an input name to the URNs of the resources its value came from,
    which lets a check relate resources while their ids are still unknown in a preview."""

    resource_type: str
    props: Mapping[str, Any]
    urn: str = ""
    name: str = ""
    id: Optional[str] = None
    property_dependencies: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


class StackViolation(NamedTuple):
    message: str
    urn: Optional[str] = None


StackInput = Union[StackResource, tuple]  # a StackResource, or (resource_type, props[, urn[, id]])


def _stack_resource(item: StackInput) -> StackResource:
    if isinstance(item, StackResource):
        return item
    resource_type, props, *rest = item  # (resource_type, props[, urn[, id]])
    urn = rest[0] if rest else ""
    return StackResource(resource_type, props, urn=urn, name=urn.rsplit("::", 1)[-1], id=rest[1] if rest[1:] else None)


def _bucket_label(bucket: StackResource) -> str:
    name = dig(bucket.props, "bucket")
    return repr(name) if isinstance(name, str) and name else repr(bucket.name or bucket.urn)


def _bucket_identifiers(bucket: StackResource) -> set[str]:
    """The values a companion's `bucket` input can hold for this bucket (its name, which is its id)."""
    found = {bucket.id, dig(bucket.props, "bucket"), dig(bucket.props, "id")}
    return {value for value in found if isinstance(value, str) and value and not is_unknown(value)}


def _bucket_of(companion: StackResource, buckets: Sequence[StackResource]) -> tuple[Optional[int], bool]:
    """(index of the bucket the companion configures, whether its target is unknown)."""
    dependency_urns = set(companion.property_dependencies.get("bucket", ()))
    if dependency_urns:
        for index, bucket in enumerate(buckets):
            if bucket.urn and bucket.urn in dependency_urns:
                return index, False
    value = dig(companion.props, "bucket")
    if value is UNKNOWN:
        return None, True
    for index, bucket in enumerate(buckets):
        if isinstance(value, str) and value in _bucket_identifiers(bucket):
            return index, False
    return None, False  # a bucket managed elsewhere: not this stack's business


def _check_public_access_block(props: Mapping[str, Any], bucket: StackResource) -> list[str]:
    problems = []
    for flag in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"):
        value = dig(props, flag)
        if value is not UNKNOWN and value is not True:
            problems.append(f"bucket {_bucket_label(bucket)}: public access block does not set {flag} to true")
    return problems


def _check_bucket_encryption(props: Mapping[str, Any], bucket: StackResource) -> list[str]:
    rules = dig(props, "rules")
    if rules is UNKNOWN:
        return []
    label = _bucket_label(bucket)
    if not _as_list(rules):
        return [f"bucket {label}: default encryption has no rule"]
    problems = []
    for rule in _as_list(rules):
        algorithm = dig(rule, "applyServerSideEncryptionByDefault", "sseAlgorithm")
        key = dig(rule, "applyServerSideEncryptionByDefault", "kmsMasterKeyId")
        if algorithm is not UNKNOWN and algorithm not in ("aws:kms", "aws:kms:dsse"):
            problems.append(f"bucket {label}: default encryption uses {algorithm!r}, not 'aws:kms' with a customer key")
        if key is not UNKNOWN and _is_blank(key):
            problems.append(
                f"bucket {label}: default encryption names no kmsMasterKeyId (it would use the AWS-managed aws/s3 key)"
            )
    return problems


def _check_bucket_versioning(props: Mapping[str, Any], bucket: StackResource) -> list[str]:
    status = dig(props, "versioningConfiguration", "status")
    if status is UNKNOWN or status == "Enabled":
        return []
    return [f"bucket {_bucket_label(bucket)}: versioning status is {status!r}, not 'Enabled'"]


def _denies_insecure_transport(statement: Mapping[str, Any]) -> bool:
    if _effect(statement) != "deny":
        return False
    principal = statement.get("Principal")
    if not (principal == "*" or (isinstance(principal, Mapping) and "*" in _as_list(principal.get("AWS")))):
        return False
    if not {"s3:*", "*"} & {str(action).lower() for action in _as_list(statement.get("Action"))}:
        return False
    condition = statement.get("Condition")
    bool_block = condition.get("Bool") if isinstance(condition, Mapping) else None
    if not isinstance(bool_block, Mapping):
        return False
    values = [v for k, v in bool_block.items() if str(k).lower() == "aws:securetransport"]
    return any(str(item).lower() == "false" for value in values for item in _as_list(value))


def _check_bucket_policy(props: Mapping[str, Any], bucket: StackResource) -> list[str]:
    label = _bucket_label(bucket)
    document, problems = _json_document(dig(props, "policy"), f"bucket {label}: bucket policy")
    if document is None:
        return problems
    denials = [s for s in _statements(document) if _denies_insecure_transport(s)]
    if not denials:
        return [
            f'bucket {label}: bucket policy has no Deny of s3:* for every principal when aws:SecureTransport is "false"'
        ]
    name = dig(bucket.props, "bucket")
    if not isinstance(name, str) or not name:
        return []
    resources = {str(r) for s in denials for r in _as_list(s.get("Resource"))}
    if "*" in resources:
        return []
    pattern = re.escape(name)
    covers_bucket = any(re.fullmatch(rf"arn:[\w-]+:s3:::{pattern}", r) for r in resources)
    covers_objects = any(re.fullmatch(rf"arn:[\w-]+:s3:::{pattern}/\*", r) for r in resources)
    if covers_bucket and covers_objects:
        return []
    return [f"bucket {label}: the TLS-only Deny must cover both the bucket and its objects (<bucket arn>/*)"]


_BUCKET_COMPANIONS = (
    ("public access block", PUBLIC_ACCESS_BLOCK_TYPES, _check_public_access_block),
    ("default encryption configuration", BUCKET_ENCRYPTION_TYPES, _check_bucket_encryption),
    ("versioning configuration", BUCKET_VERSIONING_TYPES, _check_bucket_versioning),
    ("bucket policy", BUCKET_POLICY_TYPES, _check_bucket_policy),
)


def check_s3_artifact_buckets(resources: Iterable[StackInput]) -> list[StackViolation]:
    """Every bucket is private, KMS-encrypted, versioned and TLS-only, through its companion resources."""
    stack = [_stack_resource(item) for item in resources]
    buckets = [r for r in stack if r.resource_type in BUCKET_TYPES]
    violations: list[StackViolation] = []
    for what, types, check in _BUCKET_COMPANIONS:
        related: dict[int, list[StackResource]] = {index: [] for index in range(len(buckets))}
        target_unknown = unmatched = False
        for companion in (r for r in stack if r.resource_type in types):
            index, unknown = _bucket_of(companion, buckets)
            if index is not None:
                related[index].append(companion)
            target_unknown = target_unknown or unknown
            unmatched = unmatched or (index is None and not unknown)
        for index, bucket in enumerate(buckets):
            if not related[index]:
                # Cannot tell when some companion's target is unknown, or this bucket's name is.
                if target_unknown or (unmatched and not _bucket_identifiers(bucket)):
                    continue
                type_name = sorted(types)[0]
                violations.append(
                    StackViolation(f"bucket {_bucket_label(bucket)} has no {what} ({type_name})", bucket.urn or None)
                )
            for companion in related[index]:
                violations.extend(
                    StackViolation(message, companion.urn or None) for message in check(companion.props, bucket)
                )
    return violations


# Actions that use a key's material (or let someone else use it), as opposed to managing it.
_KEY_USE = re.compile(r"^kms:(\*|decrypt|encrypt|generatedatakey.*|reencrypt.*|creategrant)$", re.IGNORECASE)


def _bound_to_a_role_path(statement: Mapping[str, Any]) -> bool:
    """`"AWS": "*"` narrowed to the roles under one IAM path of one account: the principal's
    account equals a single account, and its ARN is like `arn:...:iam::<that account>:role/<path>/*`
    with a path below the account's roles (not `role/*`)."""
    condition = statement.get("Condition")
    if not isinstance(condition, Mapping):
        return False
    accounts = _as_list(dig(condition, "StringEquals", "aws:PrincipalAccount"))
    patterns = _as_list(dig(condition, "ArnLike", "aws:PrincipalArn"))
    if len(accounts) != 1 or not isinstance(accounts[0], str) or not patterns:
        return False
    role_path = re.compile(rf"arn:aws[a-z-]*:iam::{re.escape(accounts[0])}:role/[^*?]+/\*")
    return all(isinstance(p, str) and role_path.fullmatch(p) for p in patterns)


def check_kms_key_policies(resources: Iterable[StackInput]) -> list[StackViolation]:
    """Every customer key has its own key policy, and that policy lets no one use the key through the
    account root (that is, any IAM identity of the account) or through "*" (CICD-SEC-7)."""
    stack = [_stack_resource(item) for item in resources]
    policies = {}
    for resource in stack:
        if resource.resource_type == KMS_KEY_POLICY:
            policies.setdefault(dig(resource.props, "keyId"), []).append(resource)
    violations: list[StackViolation] = []
    for key in (r for r in stack if r.resource_type == KMS_KEY):
        key_id = dig(key.props, "keyId")
        documents = [(p.props.get("policy"), p.urn) for p in policies.get(key_id, [])] if key_id else []
        if dig(key.props, "policy") is not None:
            documents.append((key.props["policy"], key.urn))
        if not documents:
            if key_id is UNKNOWN or (not key_id and any(k is UNKNOWN for k in policies)):
                continue  # a preview: which key policy belongs to this key cannot be told yet
            violations.append(
                StackViolation(
                    f"KMS key {key.name or key.urn} keeps the default policy: any IAM identity may use it",
                    key.urn or None,
                )
            )
            continue
        for value, urn in documents:
            document, problems = _json_document(value, "key policy")
            violations.extend(StackViolation(problem, urn or None) for problem in problems)
            for statement in _statements(document or {}):
                if statement.get("Effect") != "Allow":
                    continue
                principals = _as_list(dig(statement, "Principal", "AWS")) + _as_list(
                    statement.get("Principal") if statement.get("Principal") == "*" else None
                )
                broad = [p for p in principals if p == "*" or (isinstance(p, str) and p.endswith(":root"))]
                using = [a for a in _as_list(statement.get("Action")) if isinstance(a, str) and _KEY_USE.match(a)]
                # Use only through a named service (S3 reading the objects) keeps IAM and the
                # service's own permissions in charge; that is a scoped grant.
                via_service = "kms:viaservice" in _condition_keys(statement)
                if broad and using and not via_service and not _bound_to_a_role_path(statement):
                    violations.append(
                        StackViolation(
                            f"key policy statement {statement.get('Sid', '?')} lets {', '.join(broad)} use the key "
                            f"({', '.join(using)}): name the roles that need it instead",
                            urn or None,
                        )
                    )
    return violations


# --------------------------------------------------------------------------------------------
# Resource checks
# --------------------------------------------------------------------------------------------


def check_kms_key_rotation(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    if resource_type != KMS_KEY:
        return []
    spec = dig(props, "customerMasterKeySpec") or dig(props, "keySpec")
    if isinstance(spec, str) and spec != "SYMMETRIC_DEFAULT":
        return []  # AWS rotates only symmetric encryption keys; asymmetric and HMAC keys cannot rotate
    rotation = dig(props, "enableKeyRotation")
    if rotation is UNKNOWN or rotation is True:
        return []
    return ["KMS key does not set enableKeyRotation: true"]


def _environment_variables(props: Mapping[str, Any]) -> Any:
    variables = dig(props, "environment", "environmentVariables")
    return variables if variables is UNKNOWN else _as_list(variables)


def check_codebuild_privileged(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    if resource_type != CODEBUILD_PROJECT or dig(props, "environment", "privilegedMode") is not True:
        return []
    variables = _environment_variables(props)
    if variables is UNKNOWN:
        return []
    names = [dig(variable, "name") for variable in variables]
    if "REPOSITORY_URI" in names or UNKNOWN in names:
        return []
    return [
        "CodeBuild project runs in privilegedMode (root on the Docker daemon) but is not an image build "
        "(no REPOSITORY_URI environment variable); scan and test projects must not be privileged"
    ]


_BUILDSPEC_PATH = re.compile(r"[\w./@+-]*\.(?:ya?ml|json)|arn:[\w-]+:s3:::\S+", re.IGNORECASE)


def check_codebuild_buildspec(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    if resource_type != CODEBUILD_PROJECT:
        return []
    source = dig(props, "source")
    if source is UNKNOWN:
        return []
    problems = []
    source_type = dig(source, "type")
    if source_type is not UNKNOWN and source_type != "CODEPIPELINE":
        problems.append(f"CodeBuild source.type is {source_type!r}, not 'CODEPIPELINE'")
    buildspec = dig(source, "buildspec")
    if buildspec is UNKNOWN:
        return problems
    if _is_blank(buildspec) or not isinstance(buildspec, str):
        problems.append(
            "CodeBuild project has no inline source.buildspec, so it would run buildspec.yml from the "
            "application repository"
        )
    elif _BUILDSPEC_PATH.fullmatch(buildspec.strip()):
        problems.append(
            f"CodeBuild source.buildspec is a file path ({buildspec.strip()!r}) that the application repository "
            "controls; embed the buildspec text instead"
        )
    elif not (re.search(r"(?m)^version\s*:", buildspec) and re.search(r"(?m)^phases\s*:", buildspec)):
        problems.append("CodeBuild source.buildspec is not inline buildspec YAML (no top-level version: and phases:)")
    return problems


SECRET_NAME = re.compile(r"PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|CREDENTIAL|ACCESS_?KEY", re.IGNORECASE)
SECRET_VALUES = (
    ("an AWS access key id", re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b")),
    ("a GitHub token", re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,})")),
    ("a private key", re.compile(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----")),
    ("a URL with a password", re.compile(r"\b[a-z][a-z0-9+.-]*://[^\s/:@]+:[^\s/@]+@", re.IGNORECASE)),
)
SECRET_REFERENCE_TYPES = frozenset({"SECRETS_MANAGER", "PARAMETER_STORE"})


def _plaintext_secret_problems(variables: Iterable[Any], where: str) -> list[str]:
    """Messages for plaintext variables that look like secrets (never repeating the value)."""
    problems = []
    for variable in variables:
        if not isinstance(variable, Mapping):
            continue
        kind = dig(variable, "type")
        if kind is UNKNOWN or (isinstance(kind, str) and kind.upper() in SECRET_REFERENCE_TYPES):
            continue
        name = dig(variable, "name")
        value = dig(variable, "value")
        label = repr(name) if isinstance(name, str) else "(unnamed)"
        if isinstance(name, str) and SECRET_NAME.search(name):
            problems.append(
                f"{where} variable {label} is PLAINTEXT but its name says it holds a secret; "
                "use type SECRETS_MANAGER or PARAMETER_STORE"
            )
            continue
        if isinstance(value, (str, int, float)) and not is_unknown(value):
            for what, pattern in SECRET_VALUES:
                if pattern.search(str(value)):
                    problems.append(f"{where} variable {label} is PLAINTEXT and its value looks like {what}")
                    break
    return problems


def check_codebuild_plaintext_secrets(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    """CodeBuild project variables, and the variables a pipeline's CodeBuild actions pass in."""
    if resource_type == CODEBUILD_PROJECT:
        variables = _environment_variables(props)
        return [] if variables is UNKNOWN else _plaintext_secret_problems(variables, "CodeBuild environment")
    if resource_type == PIPELINE:
        problems = []
        for stage, action in _pipeline_actions(props) or []:
            configured = dig(action, "configuration", "EnvironmentVariables")
            if configured is None or configured is UNKNOWN:
                continue
            where = f"pipeline action {_action_name(stage, action)}"
            try:
                variables = json.loads(configured) if isinstance(configured, str) else configured
            except ValueError:
                problems.append(f"{where}: EnvironmentVariables is not valid JSON")
                continue
            problems.extend(_plaintext_secret_problems(_as_list(variables), where))
        return problems
    return []


def check_codebuild_encrypted_and_logged(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    if resource_type != CODEBUILD_PROJECT:
        return []
    problems = []
    key = dig(props, "encryptionKey")
    if key is not UNKNOWN and _is_blank(key):
        problems.append("CodeBuild project sets no encryptionKey (a customer KMS key for its artifacts)")
    status = dig(props, "logsConfig", "cloudwatchLogs", "status")
    if status is not UNKNOWN and status != "ENABLED":
        problems.append(f"CodeBuild logsConfig.cloudwatchLogs.status is {status!r}, not 'ENABLED'")
    return problems


def check_log_group_retention(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    if resource_type != LOG_GROUP:
        return []
    days = dig(props, "retentionInDays")
    if days is UNKNOWN:
        return []
    if isinstance(days, (int, float)) and not isinstance(days, bool) and days > 0:
        return []
    return [f"log group retentionInDays is {days!r}: set a retention period greater than 0"]


def check_ecr_repository(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    if resource_type != ECR_REPOSITORY:
        return []
    purpose = dig(props, "tags", "ecs-cicd:purpose")
    if purpose == "build-cache" or purpose is UNKNOWN:
        # A BuildKit layer cache is rewritten by every build; nothing is deployed from it (the
        # task execution role may pull only from the image repository). Unknown: cannot tell.
        return []
    problems = []
    mutability = dig(props, "imageTagMutability")
    if mutability is not UNKNOWN and mutability != "IMMUTABLE":
        shown = mutability if isinstance(mutability, str) and mutability else "MUTABLE (the default)"
        problems.append(f"ECR imageTagMutability is {shown}, not IMMUTABLE")
    scan = dig(props, "imageScanningConfiguration", "scanOnPush")
    if scan is not UNKNOWN and scan is not True:
        problems.append("ECR repository does not set imageScanningConfiguration.scanOnPush: true")
    return problems


# IAM ------------------------------------------------------------------------------------------

# Actions that have no resource-level permissions, so a statement for them must say Resource "*".
# Keep this list minimal: each entry is a read-or-register call the pipeline needs.
RESOURCE_STAR_ACTIONS = frozenset(
    {
        "ecr:getauthorizationtoken",  # docker login to ECR
        "ecs:describetaskdefinition",  # ECS deploy action reads the running revision
        "ecs:registertaskdefinition",  # ECS deploy action registers the new revision
        "ecs:listtasks",  # ECS deploy action watches the rollout; needs an ecs:cluster condition
        # CodeDeploy blue/green reads the load balancer wiring it shifts traffic on.
        "elasticloadbalancing:describelisteners",
        "elasticloadbalancing:describerules",
        "elasticloadbalancing:describetargetgroups",
        "elasticloadbalancing:describetargethealth",
    }
)
# AWS-managed policies that grant whole services (or everything): never attach them here.
_BROAD_MANAGED_POLICY = re.compile(
    r"arn:[\w-]+:iam::aws:policy/(?:[\w+=,.@-]+/)*"
    r"(?:[\w+=,.@-]*(?:AdministratorAccess|PowerUserAccess|FullAccess|AdminAccess)[\w+=,.@-]*)"
)


def _policy_document_problems(document: Mapping[str, Any], where: str) -> list[str]:
    problems = []
    for index, statement in enumerate(_statements(document)):
        if _effect(statement) != "allow":
            continue
        label = f"{where} {_label(statement, index)}"
        actions = [str(action) for action in _as_list(statement.get("Action"))]
        lowered = [action.lower() for action in actions]
        resources = [str(resource) for resource in _as_list(statement.get("Resource"))]
        keys = _condition_keys(statement)
        if "NotAction" in statement or "NotResource" in statement:
            problems.append(f"{label}: Allow with NotAction/NotResource grants everything not listed")
        for action in actions:
            if "*" in action:
                problems.append(f"{label}: action {action!r} contains a wildcard; list the actions")
        if "*" in resources:
            broad = [a for a in actions if "*" not in a and a.lower() not in RESOURCE_STAR_ACTIONS]
            if broad:
                problems.append(
                    f'{label}: Resource "*" for {", ".join(broad)}; Resource "*" is allowed only for actions '
                    "without resource-level permissions (ecr:GetAuthorizationToken, ecs:DescribeTaskDefinition, "
                    "ecs:RegisterTaskDefinition, ecs:ListTasks, elasticloadbalancing:Describe*)"
                )
            if "ecs:listtasks" in lowered and "ecs:cluster" not in keys:
                problems.append(f'{label}: ecs:ListTasks on Resource "*" needs an ecs:cluster condition')
        if "iam:passrole" in lowered:
            if not resources or "*" in resources:
                problems.append(f'{label}: iam:PassRole must name the roles it may pass, not Resource "*"')
            if "iam:passedtoservice" not in keys:
                problems.append(f"{label}: iam:PassRole needs an iam:PassedToService condition")
        for action in actions:
            prefix, _, name = action.partition(":")
            if name.lower() == "useconnection" and f"{prefix.lower()}:fullrepositoryid" not in keys:
                problems.append(
                    f"{label}: {action} needs a {prefix}:FullRepositoryId condition naming the repositories it may read"
                )
    return problems


def check_iam_least_privilege(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    if resource_type in (IAM_ROLE_POLICY, IAM_POLICY):
        document, problems = _json_document(dig(props, "policy"), "IAM policy")
        return problems if document is None else _policy_document_problems(document, "IAM policy")
    if resource_type == IAM_ROLE:
        problems = []
        inline = dig(props, "inlinePolicies")
        for index, policy in enumerate([] if inline is UNKNOWN else _as_list(inline)):
            name = dig(policy, "name")
            where = f"inline policy {name!r}" if isinstance(name, str) and name else f"inline policy #{index}"
            document, found = _json_document(dig(policy, "policy"), where)
            problems.extend(found if document is None else _policy_document_problems(document, where))
        arns = dig(props, "managedPolicyArns")
        for arn in [] if arns is UNKNOWN else _as_list(arns):
            if isinstance(arn, str) and _BROAD_MANAGED_POLICY.fullmatch(arn):
                problems.append(f"role attaches the AWS-managed policy {arn}, which grants far more than it needs")
        return problems
    if resource_type in IAM_POLICY_ATTACHMENTS:
        arn = dig(props, "policyArn")
        if isinstance(arn, str) and _BROAD_MANAGED_POLICY.fullmatch(arn):
            return [f"attaches the AWS-managed policy {arn}, which grants far more than it needs"]
    return []


# Service principals whose documented trust policy carries no aws:SourceAccount/aws:SourceArn
# condition: a condition on a key the service does not send locks it out of the role, so it is
# not required of them (components/iam.py SOURCE_KEYS_SENT holds the sources; a test keeps the two
# in step).
SERVICES_WITHOUT_SOURCE_KEYS = frozenset({"codepipeline.amazonaws.com", "codedeploy.amazonaws.com"})


def check_iam_role_trust(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    if resource_type != IAM_ROLE:
        return []
    document, problems = _json_document(dig(props, "assumeRolePolicy"), "role assumeRolePolicy")
    if document is None:
        return problems
    for index, statement in enumerate(_statements(document)):
        if _effect(statement) != "allow":
            continue
        label = f"trust policy {_label(statement, index)}"
        principal = statement.get("Principal")
        aws_principals = _as_list(principal.get("AWS")) if isinstance(principal, Mapping) else []
        if principal == "*" or "*" in aws_principals:
            problems.append(f'{label}: trusts every AWS principal ("*")')
        if "NotPrincipal" in statement:
            problems.append(f"{label}: Allow with NotPrincipal trusts everyone not listed")
        if not isinstance(principal, Mapping):
            continue
        keys = _condition_keys(statement)
        services = set(_as_list(principal.get("Service")))
        if services and not services <= SERVICES_WITHOUT_SOURCE_KEYS:
            missing = [key for key in ("aws:SourceAccount", "aws:SourceArn") if key.lower() not in keys]
            if missing:
                problems.append(
                    f"{label}: a service principal without {' and '.join(missing)} conditions lets the service "
                    "assume the role on behalf of any account or resource (confused deputy)"
                )
        if principal.get("Federated") is not None and "sts:assumerolewithwebidentity" in {
            str(action).lower() for action in _as_list(statement.get("Action"))
        }:
            subjects = [key for key in keys if key.endswith(":sub")]
            values = [str(v) for key in subjects for v in _condition_values(statement, key)]
            if not subjects or any(v.strip() in ("*", "repo:*") for v in values):
                problems.append(f"{label}: web-identity federation needs a <issuer>:sub condition naming the subject")
    return problems


def check_no_long_lived_credentials(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    if resource_type in LONG_LIVED_CREDENTIAL_TYPES:
        return [f"{resource_type} creates long-lived credentials; use roles (and CodeConnections for GitHub)"]
    if resource_type == CODEBUILD_SOURCE_CREDENTIAL:
        auth = dig(props, "authType")
        if auth is not UNKNOWN and auth != "CODECONNECTIONS":
            return [f"CodeBuild source credential of authType {auth!r} stores a long-lived token; use CODECONNECTIONS"]
    return []


# CodePipeline ---------------------------------------------------------------------------------


class _Stage(NamedTuple):
    index: int
    name: str


def _pipeline_actions(props: Mapping[str, Any]) -> Optional[list[tuple[_Stage, Mapping[str, Any]]]]:
    """(stage, action) pairs in pipeline order, or None when the stages are unknown."""
    stages = dig(props, "stages")
    if stages is UNKNOWN:
        return None
    pairs = []
    for index, stage in enumerate(_as_list(stages)):
        name = dig(stage, "name")
        actions = dig(stage, "actions")
        if actions is UNKNOWN:
            continue
        for action in _as_list(actions):
            if isinstance(action, Mapping):
                pairs.append((_Stage(index, name if isinstance(name, str) else f"#{index}"), action))
    return pairs


def _action_name(stage: _Stage, action: Mapping[str, Any]) -> str:
    name = dig(action, "name")
    return f"{stage.name}/{name if isinstance(name, str) else '?'}"


def _run_order(action: Mapping[str, Any]) -> Any:
    order = dig(action, "runOrder")
    return 1 if order is None else order


def _runs_before(earlier: tuple[_Stage, Mapping[str, Any]], later: tuple[_Stage, Mapping[str, Any]]) -> bool:
    """Whether `earlier` has finished when `later` starts (earlier stage, or same stage and lower runOrder)."""
    if earlier[0].index != later[0].index:
        return earlier[0].index < later[0].index
    first, second = _run_order(earlier[1]), _run_order(later[1])
    numbers = all(isinstance(n, (int, float)) and not isinstance(n, bool) for n in (first, second))
    return numbers and first < second


def check_pipeline_v2_encrypted(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    if resource_type != PIPELINE:
        return []
    problems = []
    pipeline_type = dig(props, "pipelineType")
    if pipeline_type is not UNKNOWN and pipeline_type != "V2":
        shown = pipeline_type if isinstance(pipeline_type, str) and pipeline_type else "V1 (the default)"
        problems.append(f"pipelineType is {shown}, not V2")
    stores = dig(props, "artifactStores")
    if stores is UNKNOWN:
        return problems
    if not _as_list(stores):
        problems.append("pipeline has no artifactStores")
    for index, store in enumerate(_as_list(stores)):
        location = dig(store, "location")
        label = repr(location) if isinstance(location, str) else f"#{index}"
        kind = dig(store, "encryptionKey", "type")
        key = dig(store, "encryptionKey", "id")
        if kind is not UNKNOWN and kind != "KMS":
            problems.append(f"artifact store {label} is not encrypted with a customer KMS key (encryptionKey.type KMS)")
        elif kind == "KMS" and key is not UNKNOWN and _is_blank(key):
            problems.append(f"artifact store {label} has encryptionKey.type KMS but no key id")
    return problems


# Words that make an environment name production, as a whole name or a `-`/`_` part of it
# (components/settings.py PRODUCTION_WORDS; a test keeps the two in step).
PRODUCTION_WORDS = frozenset({"prod", "prd", "production", "live"})
PRODUCTION_TAG = "ecs-cicd:production"


def is_production_pipeline(props: Mapping[str, Any]) -> bool:
    """A pipeline is production when its stack says so (the `ecs-cicd:production` tag) or, for a
    pipeline without that tag, when its environment tag names production in any spelling (`prd`,
    `live`, `prod-eu`): a plain string compare with "prod" is what an attacker names around."""
    tags = dig(props, "tags")
    tags = tags if isinstance(tags, Mapping) else {}
    declared = tags.get(PRODUCTION_TAG)
    if isinstance(declared, str):
        return declared.lower() != "false"  # anything but an explicit "false" is production
    environment = tags.get("environment")
    return isinstance(environment, str) and bool(set(re.split(r"[-_]", environment.lower())) & PRODUCTION_WORDS)


def check_prod_pipeline_approval(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    if resource_type != PIPELINE:
        return []
    if not is_production_pipeline(props):
        return []
    actions = _pipeline_actions(props)
    if actions is None:
        return []
    approvals = [pair for pair in actions if dig(pair[1], "category") == "Approval"]
    problems = []
    for deploy in (pair for pair in actions if dig(pair[1], "category") == "Deploy"):
        if not any(_runs_before(approval, deploy) for approval in approvals):
            problems.append(
                f"prod pipeline deploys in stage {deploy[0].name!r} ({_action_name(*deploy)}) "
                "without a manual Approval action before it"
            )
    return problems


def check_pipeline_triggers(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    """Pull requests (unmerged code) never start a pipeline that deploys, and tags (which anyone
    who may push one can point at any commit) start only a pipeline with an approval before its
    deploys (CICD-SEC-1)."""
    if resource_type != PIPELINE:
        return []
    triggers = dig(props, "triggers")
    actions = _pipeline_actions(props)
    if triggers is UNKNOWN or actions is None:
        return []
    deploys = [pair for pair in actions if dig(pair[1], "category") == "Deploy"]
    approvals = [pair for pair in actions if dig(pair[1], "category") == "Approval"]
    problems = []
    for trigger in _as_list(triggers):
        git = dig(trigger, "gitConfiguration")
        if not isinstance(git, Mapping):
            continue
        if _as_list(git.get("pullRequests")) and deploys:
            problems.append(
                "pull requests start a pipeline that deploys: run them in a pipeline that only builds and tests"
            )
        tagged = any(isinstance(push, Mapping) and push.get("tags") for push in _as_list(git.get("pushes")))
        unapproved = [d for d in deploys if not any(_runs_before(a, d) for a in approvals)]
        if tagged and unapproved:
            problems.append(
                f"tag pushes start a pipeline that deploys ({_action_name(*unapproved[0])}) without an approval "
                "before it: anyone who may push a tag could deploy any commit"
            )
    return problems


def check_deploy_needs_build_artifact(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    """Every input artifact comes from an earlier action; a Deploy consumes built artifacts, not raw source."""
    if resource_type != PIPELINE:
        return []
    actions = _pipeline_actions(props)
    if actions is None:
        return []
    producers: dict[str, list[tuple[_Stage, Mapping[str, Any]]]] = {}
    for pair in actions:
        outputs = dig(pair[1], "outputArtifacts")
        for artifact in [] if outputs is UNKNOWN else _as_list(outputs):
            if isinstance(artifact, str) and not is_unknown(artifact):
                producers.setdefault(artifact, []).append(pair)
    problems = []
    for pair in actions:
        inputs = dig(pair[1], "inputArtifacts")
        if inputs is UNKNOWN:
            continue
        name = _action_name(*pair)
        is_deploy = dig(pair[1], "category") == "Deploy"
        if is_deploy and not _as_list(inputs):
            problems.append(f"Deploy action {name} takes no input artifact: it must deploy what the build produced")
        for artifact in _as_list(inputs):
            if not isinstance(artifact, str) or is_unknown(artifact):
                continue
            earlier = [producer for producer in producers.get(artifact, []) if _runs_before(producer, pair)]
            if not earlier:
                problems.append(f"action {name} consumes artifact {artifact!r}, which no earlier action produces")
            elif is_deploy and any(dig(producer[1], "category") == "Source" for producer in earlier):
                problems.append(
                    f"Deploy action {name} deploys artifact {artifact!r} straight from the Source stage, "
                    "bypassing the build"
                )
    return problems


def check_sns_topic_encrypted(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    if resource_type != SNS_TOPIC:
        return []
    key = dig(props, "kmsMasterKeyId")
    if key is UNKNOWN or not _is_blank(key):
        return []
    return ["SNS topic sets no kmsMasterKeyId"]
