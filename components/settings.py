"""Stack configuration -> frozen, validated settings.

Config is read here and nowhere else. Every value is checked against the JSON schema in
`config_schema.py` before any resource is registered, and every problem is reported at once,
each line naming the config key, the bad value and what is allowed.
"""

import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Optional

import jsonschema

if TYPE_CHECKING:
    import pulumi
    from pulumi import RunError as _RunError
else:
    try:
        import pulumi
        from pulumi import RunError as _RunError
    except ImportError:  # the operations CLI installed without the Pulumi SDK reads stack files only
        _RunError = Exception

from . import buildspecs, naming
from .config_schema import KEYS, NAMESPACE, PER_SERVICE_KEYS, Validator, schema_for
from .images import BOOTSTRAP_IMAGE

PROJECT = "ecs-cicd"
STACK_TAG = "ecs-cicd:stack"  # the tag that says which stack a resource belongs to (guardrails.scp_document)
PRODUCTION_TAG = "ecs-cicd:production"  # "true" on every resource of a production stack
PROJECT_DIR = Path(__file__).resolve().parent.parent

# Names and values that mark a plaintext build variable as a secret (CICD-SEC-6).
_SECRET_NAME = re.compile(r"(PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|CREDENTIAL|ACCESS_?KEY)", re.I)
_SECRET_VALUE = re.compile(
    r"(AKIA|ASIA)[0-9A-Z]{16}"  # AWS access key id
    r"|gh[pousr]_[A-Za-z0-9]{36,}"  # GitHub token
    r"|github_pat_[A-Za-z0-9_]{40,}"
    r"|xox[abposr]-[A-Za-z0-9-]{10,}"  # Slack token
    r"|-----BEGIN [A-Z ]*PRIVATE KEY-----"
    r"|sk_live_[A-Za-z0-9]{16,}"  # Stripe
    r"|://[^/\s:@]+:[^/\s@]+@"  # credentials in a URL
)


class SettingsError(_RunError):
    """Bad stack configuration. A RunError, so Pulumi prints the message without a traceback."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("invalid stack configuration:\n" + "\n".join(f"  - {p}" for p in problems))


@dataclass(frozen=True)
class SourceSettings:
    repository: str
    branch: str = "main"
    connection_arn: Optional[str] = None
    full_clone: bool = False
    file_paths_include: tuple[str, ...] = ()
    file_paths_exclude: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    pull_requests: bool = False

    @property
    def owner(self) -> str:
        return self.repository.split("/")[0]


@dataclass(frozen=True)
class SecretRef:
    """A build variable whose value CodeBuild fetches at build time; we only ever hold the reference."""

    name: str
    reference: str

    @property
    def kind(self) -> str:
        return (
            "SECRETS_MANAGER"
            if self.reference.startswith("arn:") and ":secretsmanager:" in self.reference
            else "PARAMETER_STORE"
        )

    @property
    def secret_arn_pattern(self) -> str:
        """The IAM resource for a Secrets Manager reference: the secret's ARN without any JSON key or
        version suffix, with AWS's random six-character suffix wildcarded when the user left it off."""
        prefix, rest = self.reference.split(":secret:", 1)
        name = rest.split(":", 1)[0]
        if not re.search(r"-[A-Za-z0-9]{6}$", name):
            name += "-??????"
        return f"{prefix}:secret:{name}"


@dataclass(frozen=True)
class BuildSettings:
    repository_name: str
    """The image repository's name (the created one's, or the existing one's)."""
    existing_repository: Optional[str] = None
    """Name or ARN of an existing ECR repository to push to; None: one is created."""
    compute_type: str = "BUILD_GENERAL1_SMALL"
    image: str = "aws/codebuild/amazonlinux-x86_64-standard:5.0"
    timeout_minutes: int = 20
    dockerfile: str = "Dockerfile"
    context: str = "."
    environment: Mapping[str, str] = field(default_factory=dict)
    secrets: tuple[SecretRef, ...] = ()
    log_retention_days: int = 30
    keep_images: Optional[int] = 50
    """None: leave an existing repository's lifecycle policy alone."""
    fail_on_severity: str = "CRITICAL"
    test_commands: tuple[str, ...] = ()
    docker_hub_credentials_arn: Optional[str] = None


@dataclass(frozen=True)
class AutoscalingSettings:
    min: int
    max: int
    target_cpu_percent: int = 60


@dataclass(frozen=True)
class ServiceSettings:
    cluster: str
    name: str
    container: str
    create: bool = False
    existing_cluster: bool = False
    """A created service joins the existing cluster instead of creating it."""
    port: int = 8080
    cpu: int = 256
    memory: int = 512
    desired_count: int = 2
    bootstrap_image: str = BOOTSTRAP_IMAGE
    environment: Mapping[str, str] = field(default_factory=dict)
    secrets: tuple[SecretRef, ...] = ()
    health_check_path: str = "/health"
    health_check_interval_seconds: int = 10
    healthy_threshold: int = 2
    unhealthy_threshold: int = 3
    deregistration_delay_seconds: int = 30
    certificate_arn: Optional[str] = None
    domain_name: Optional[str] = None
    hosted_zone_id: Optional[str] = None
    availability_zones: int = 2
    nat_gateways: str = "Single"
    rollback_on_alarm: bool = True
    autoscaling: Optional[AutoscalingSettings] = None


@dataclass(frozen=True)
class BlueGreenSettings:
    """An existing service's CodeDeploy application and deployment group."""

    application: Optional[str] = None
    deployment_group: Optional[str] = None


@dataclass(frozen=True)
class TrafficShift:
    """How ECS moves production traffic to the new tasks of a created service (strategies other
    than rolling): all at once, a canary share first, or in equal steps."""

    bake_time_minutes: int = 5
    canary_percent: float = 10
    canary_bake_time_minutes: int = 5
    linear_step_percent: float = 10
    linear_step_bake_time_minutes: int = 1


@dataclass(frozen=True)
class DeploySettings:
    timeout_minutes: int = 20
    require_approval: bool = False
    approval_emails: tuple[str, ...] = ()
    strategy: str = "rolling"
    blue_green: BlueGreenSettings = field(default_factory=BlueGreenSettings)
    traffic: TrafficShift = field(default_factory=TrafficShift)
    health_check_url: Optional[str] = None
    check_commands: tuple[str, ...] = ()
    check_timeout_seconds: int = 120
    rollback_on_failure: bool = True


@dataclass(frozen=True)
class PipelineSettings:
    name: str
    execution_mode: str = "SUPERSEDED"
    artifact_expiration_days: int = 30


@dataclass(frozen=True)
class GuardrailSettings:
    cloud_trail: bool = False
    guard_duty: bool = False
    config_rules: bool = False


@dataclass(frozen=True)
class PromotionTarget:
    """An environment of another account the built digest is promoted to (`ecs-cicd:promotion`)."""

    name: str
    account: str
    cluster: str
    service: str
    deploy_role_arn: str
    execution_role_arns: tuple[str, ...]
    require_approval: bool = True
    check_role_arn: Optional[str] = None
    region: Optional[str] = None
    """The target's region when it is not the stack's (None: the stack's)."""


@dataclass(frozen=True)
class InsecureSettings:
    """Explicit opt-outs of secure defaults; `enabled` names them for the plan output."""

    allow_unapproved_prod_deploys: bool = False
    skip_security_scans: bool = False
    allow_http: bool = False

    @property
    def enabled(self) -> list[str]:
        flags = {
            "allowUnapprovedProdDeploys": self.allow_unapproved_prod_deploys,
            "skipSecurityScans": self.skip_security_scans,
            "allowHttp": self.allow_http,
        }
        return [f"{NAMESPACE}:insecure.{name}" for name, on in flags.items() if on]


@dataclass(frozen=True)
class ServicePipeline:
    """Everything one service's pipeline needs: the top-level keys, with its overrides applied."""

    source: SourceSettings
    build: BuildSettings
    service: ServiceSettings
    deploy: DeploySettings
    pipeline: PipelineSettings
    tags: Mapping[str, str]

    @property
    def codedeploy(self) -> bool:
        """Deployed through an existing CodeDeploy group: an existing service on blue-green that
        names one (without, ECS deploys the existing service blue/green itself)."""
        return (
            self.deploy.strategy == "blue-green"
            and not self.service.create
            and bool(self.deploy.blue_green.application)
        )


@dataclass(frozen=True)
class Settings:
    project: str
    """The Pulumi project (`name` in Pulumi.yaml)."""
    environment: str
    protect: bool
    production: bool
    region: Optional[str]
    """`aws:region` (or the AWS_REGION the provider would use); None only outside a Pulumi run."""
    tags: Mapping[str, str]
    """Stack-wide tags (the per-service ones add `service`)."""
    services: tuple[ServicePipeline, ...]
    permissions_boundary: Optional[str] = None
    operator_role_arns: tuple[str, ...] = ()
    """Roles that may start, stop, retry and approve (besides the deployer): `iam.operatorRoleArns`."""
    notification_emails: tuple[str, ...] = ()
    guardrails: GuardrailSettings = field(default_factory=GuardrailSettings)
    insecure: InsecureSettings = field(default_factory=InsecureSettings)
    aws_provider: Mapping[str, Any] = field(default_factory=dict)
    """The stack's `aws:*` account and credential settings, as pulumi_aws.Provider arguments."""
    promotion: tuple[PromotionTarget, ...] = ()
    """Targets of other accounts the built digest is promoted to, in order, after the stack's own deploy."""
    deploy_here: bool = True
    """Whether the stack deploys its own service; false: it only builds, for its promotion targets."""

    # The first (in a one-service stack, the only) service: the shorthand most stacks use.
    @property
    def source(self) -> SourceSettings:
        return self.services[0].source

    @property
    def build(self) -> BuildSettings:
        return self.services[0].build

    @property
    def service(self) -> ServiceSettings:
        return self.services[0].service

    @property
    def deploy(self) -> DeploySettings:
        return self.services[0].deploy

    @property
    def pipeline(self) -> PipelineSettings:
        return self.services[0].pipeline

    @property
    def stack_name(self) -> str:
        """What stack-wide resources (artifact store, connection, alerts, the role path and the
        stack tag) are named after: the pipeline in a one-service stack, `<project>-<environment>`
        in a multi-service one (the Pulumi project, so two projects' stacks in one account do not
        share a role path that the other's artifact key would trust)."""
        return stack_identity(self.project, self.environment, self.services)

    def service_named(self, name: str) -> ServicePipeline:
        for entry in self.services:
            if entry.service.name == name:
                return entry
        raise KeyError(f"no service {name!r}; services: {', '.join(e.service.name for e in self.services)}")


def pipeline_name(service_name: str, environment: str) -> str:
    """The default pipeline name. The operations CLI derives names with this same function."""
    return f"{service_name}-{environment}"


def connection_name(prefix: str) -> str:
    """Name of a GitHub connection the program creates (within AWS's 32 characters). The operations
    CLI finds the connection by this name."""
    return naming.physical(naming.CONNECTION, prefix)


def connection_console_url(arn: str) -> str:
    """Where a person completes a connection's GitHub handshake: for the stack outputs and the CLI."""
    region, connection_id = arn.split(":")[3], arn.rsplit("/", 1)[-1]
    return f"https://{region}.console.aws.amazon.com/codesuite/settings/connections/{connection_id}?region={region}"


def stack_settings(stack: str, project_dir: Optional[str] = None) -> "Settings":
    """Settings of a stack read straight from its `Pulumi.<stack>.yaml` (with `Pulumi.yaml`
    defaults), outside a Pulumi run: how tools find a stack's pipeline without the Pulumi CLI."""
    config = stack_config(stack, Path(project_dir) if project_dir else PROJECT_DIR)
    prefix = f"{NAMESPACE}:"
    # As `pulumi up` reads it (`_region`): never a silent us-east-1.
    region = config.get("aws:region") or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    missing = [] if region else [REGION_MISSING]
    try:
        settings = from_mapping(
            {k[len(prefix) :]: v for k, v in config.items() if k.startswith(prefix)},
            stack=stack,
            region=region,
            project=project_name(Path(project_dir) if project_dir else PROJECT_DIR),
        )
    except SettingsError as error:
        raise SettingsError(missing + error.problems) from None
    if missing:
        raise SettingsError(missing)
    return replace(settings, aws_provider=MappingProxyType(_provider_settings(lambda key: config.get(f"aws:{key}"))))


def load(stack: Optional[str] = None) -> Settings:
    """Read `ecs-cicd:*` from the current stack's config and validate it."""
    config = pulumi.Config(NAMESPACE)
    raw: dict[str, Any] = {}
    for key, schema in KEYS.items():
        is_structured = schema.get("type") in ("object", "array")
        try:
            value = config.get_object(key) if is_structured else config.get(key)
        except Exception as error:  # noqa: BLE001 - pulumi raises a bare Exception for unparsable JSON
            raise SettingsError([f"{NAMESPACE}:{key} could not be parsed: {error}"]) from None
        if value is not None:
            raw[key] = value
    unknown = sorted(key for key in _namespace_keys() if key not in KEYS)
    if unknown:
        raise SettingsError([f"{NAMESPACE}:{key} is not a known key; allowed: {', '.join(KEYS)}" for key in unknown])
    aws_config = pulumi.Config("aws")
    settings = from_mapping(raw, stack=stack or pulumi.get_stack(), region=_region(), project=pulumi.get_project())
    provider = _provider_settings(lambda key: aws_config.get_object(key) if key != "profile" else aws_config.get(key))
    return replace(settings, aws_provider=MappingProxyType(provider))


# The `aws:*` settings that decide which account and credentials the AWS provider uses: an extra
# provider the program makes (the alerts' us-east-1 one) must use the same, or it could create
# resources with other credentials, in another account. Config key -> pulumi_aws.Provider argument.
PROVIDER_SETTINGS = {
    "profile": "profile",
    "assumeRoles": "assume_roles",
    "allowedAccountIds": "allowed_account_ids",
    "forbiddenAccountIds": "forbidden_account_ids",
    "sharedConfigFiles": "shared_config_files",
    "sharedCredentialsFiles": "shared_credentials_files",
}


def _provider_settings(read: "Callable[[str], Any]") -> dict[str, Any]:
    settings = {}
    for key, argument in PROVIDER_SETTINGS.items():
        value = read(key)
        if value is not None:
            settings[argument] = value
    return settings


REGION_MISSING = "aws:region is not set; allowed: an AWS region, e.g. `pulumi config set aws:region eu-west-1`"


def _region() -> str:
    """The region the AWS provider will use: `aws:region`, else the environment, as the provider
    itself falls back. Without one, the region-specific choices (where IAM's events arrive) would
    be guesses."""
    region = pulumi.Config("aws").get("region") or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    if not region:
        raise SettingsError([REGION_MISSING])
    from .stack_files import REGION

    if not REGION.fullmatch(region):
        raise SettingsError([f"aws:region = {region!r} is not an AWS region; allowed: e.g. eu-west-1"])
    return region


def _namespace_keys() -> set[str]:
    """Every `ecs-cicd:*` key the stack sets, so that a typo (`ecs-cicd:sevice`) is an error rather
    than silently ignored. Pulumi has no public way to list config; this reads what the runtime
    was given and, should that ever change shape, checks nothing rather than fail."""
    try:
        from pulumi.runtime import config as runtime_config

        keys = set(runtime_config.get_config_env()) | set(runtime_config.CONFIG.get())
    except Exception:  # noqa: BLE001 - best effort on SDK internals
        return set()
    prefix = f"{NAMESPACE}:"
    return {key[len(prefix) :] for key in keys if key.startswith(prefix)}


def stack_identity(project: str, environment: str, services: "Sequence[ServicePipeline]") -> str:
    """The name a stack's shared resources, role path and stack tag carry (`Settings.stack_name`)."""
    return services[0].pipeline.name if len(services) == 1 else f"{project}-{environment}"


def from_mapping(raw: Mapping[str, Any], stack: str, region: Optional[str] = None, project: str = PROJECT) -> Settings:
    """Validate plain config values (as `pulumi config` would hand them over) into Settings."""
    values = {key: _coerce(KEYS[key], value) for key, value in raw.items() if key in KEYS}
    values.setdefault("environment", stack)
    entries = values.get("services")
    stack_wide = {k: v for k, v in values.items() if k not in PER_SERVICE_KEYS}
    problems = _schema_problems(stack_wide)
    if problems:
        raise SettingsError(problems)
    stack_values = {key: _with_defaults(KEYS[key], values.get(key)) for key in KEYS if key not in PER_SERVICE_KEYS}
    stack_values["production"], production_problem = is_production(
        stack_values["environment"], stack_values["production"]
    )
    if production_problem:  # reported with every other problem, below
        problems.append(production_problem)
        stack_values["production"] = True  # the stricter rules, for the rest of the checks

    labelled = [("", {})] if not entries else [(f"services[{i}].", entry) for i, entry in enumerate(entries)]
    merged_services = []
    for prefix, entry in labelled:
        merged = _merged_service(values, entry)
        for key in ("source", "service"):
            if merged[key] is None:
                problems.append(f"{NAMESPACE}:{prefix}{key} is required: {_required_hint(key)}")
        present = {k: v for k, v in merged.items() if v is not None}
        problems += _schema_problems(present, prefix)
        # Reported with the schema's problems: a secret in plain text is worth knowing at once.
        for section in ("build", "service"):
            environment = (
                (present.get(section) or {}).get("environment") if isinstance(present.get(section), Mapping) else None
            )
            if isinstance(environment, Mapping) and all(isinstance(v, str) for v in environment.values()):
                problems += _plaintext_secret_problems(environment, f"{prefix}{section}")
        merged_services.append((prefix, merged))
    if problems:
        raise SettingsError(problems)

    services = []
    for prefix, merged in merged_services:
        service_values = {**stack_values, **{k: _with_defaults(KEYS[k], merged[k]) for k in PER_SERVICE_KEYS}}
        problems += (
            _reserved_build_variable_problems(service_values["build"], prefix)
            + _prod_rules(service_values, prefix)
            + _service_problems(service_values, prefix)
            + _inapplicable({**values, **merged}, service_values, prefix)
        )
        services.append(_service_pipeline(service_values))
    problems += _unique_names(services) + _promotion_problems(
        stack_values["promotion"],
        services,
        stack_values["insecure"]["allowUnapprovedProdDeploys"],
        region,
        bool(stack_values["production"]),
    )
    if problems:
        raise SettingsError(problems)
    # Every resource carries the stack it belongs to: the SCP protects what carries it.
    stack = stack_identity(project, stack_values["environment"], services)
    services = [replace(s, tags=MappingProxyType({**s.tags, STACK_TAG: stack})) for s in services]
    stack_values["tags"] = {**stack_values["tags"], STACK_TAG: stack}
    # The policy pack reads whether a pipeline is production from this tag, not from a name.
    production = {PRODUCTION_TAG: str(stack_values["production"]).lower()}
    services = [replace(s, tags=MappingProxyType({**s.tags, **production})) for s in services]
    stack_values["tags"] = {**stack_values["tags"], **production}
    return _build(stack_values, tuple(services), region, project)


def _required_hint(key: str) -> str:
    return "an object with " + ", ".join(KEYS[key].get("required", []))


def _merged_service(values: Mapping[str, Any], entry: Mapping[str, Any]) -> dict[str, Any]:
    """A service's config: the top-level keys with the entry's overrides deep-merged in."""
    merged = {key: _deep_merge(values.get(key), entry.get(key)) for key in PER_SERVICE_KEYS}
    own = entry.get("service")
    # A value of the wrong type is left for the schema to name.
    if (
        entry.get("name")
        and isinstance(merged["service"], (dict, type(None)))
        and not (isinstance(own, dict) and own.get("name"))
    ):
        merged["service"] = {**(merged["service"] or {}), "name": entry["name"]}
    return merged


def _deep_merge(base: Any, override: Any) -> Any:
    if override is None:
        return base
    if isinstance(base, dict) and isinstance(override, dict):
        return {**base, **{k: _deep_merge(base.get(k), v) for k, v in override.items()}}
    return override


def _unique_names(services: list["ServicePipeline"]) -> list[str]:
    problems = []
    for what, names in (
        ("service name", [s.service.name for s in services]),
        ("pipeline name", [s.pipeline.name for s in services]),
        ("ECR repository", [s.build.repository_name for s in services]),
        # Each created service brings its own VPC and load balancer, and its cluster unless it joins one.
        (
            "cluster created for a service",
            [s.service.cluster for s in services if s.service.create and not s.service.existing_cluster],
        ),
    ):
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            problems.append(f"{NAMESPACE}:services has the same {what} twice: {', '.join(duplicates)}; allowed: unique")
    # CodePipeline keeps a pipeline's artifacts in a folder named after its first 20 characters: two
    # pipelines sharing them would read and write each other's artifacts.
    folders: dict[str, list[str]] = {}
    for pipeline in [
        p
        for s in services
        for p in (s.pipeline.name, *([validation_pipeline_name(s.pipeline.name)] if s.source.pull_requests else []))
    ]:
        folders.setdefault(pipeline[:20], []).append(pipeline)
    for folder, pipelines in sorted(folders.items()):
        if len(pipelines) > 1:
            problems.append(
                f"{NAMESPACE}:pipeline.name: pipelines {', '.join(pipelines)} share their first 20 characters "
                f"({folder!r}), which CodePipeline names their artifact folder after; allowed: names that differ "
                "within the first 20 characters"
            )
    return problems


def validation_pipeline_name(pipeline: str) -> str:
    """The pull-request pipeline of `pipeline`: a prefix (not a suffix), so that its artifact
    folder (the first 20 characters) is not the deploying pipeline's."""
    return naming.physical(naming.PIPELINE, "pr", pipeline)


def _coerce(schema: dict, value: Any) -> Any:
    """Pulumi hands scalar config over as strings; turn those into the schema's type."""
    if not isinstance(value, str):
        return value
    if schema.get("type") == "boolean" and value.lower() in ("true", "false"):
        return value.lower() == "true"
    if schema.get("type") == "integer" and re.fullmatch(r"-?\d+", value):
        return int(value)
    return value


def _schema_problems(values: Mapping[str, Any], prefix: str = "") -> list[str]:
    problems = []
    for key, value in values.items():
        validator = Validator(schema_for(key))
        for error in sorted(validator.iter_errors(value), key=lambda e: list(e.absolute_path)):
            problems.append(_describe(prefix + key, error))
    return problems


def _describe(key: str, error: jsonschema.ValidationError) -> str:
    """One line for one schema violation: the key path, the bad value, what is allowed."""
    path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path).lstrip(".")
    where = f"{NAMESPACE}:{key}" + (("" if path.startswith("[") else ".") + path if path else "")
    schema = error.schema if isinstance(error.schema, dict) else {}
    bad = repr(error.instance)
    match error.validator:
        case "required":
            missing = re.search(r"'([^']+)' is a required property", error.message)
            name = missing.group(1) if missing else "?"
            hint = schema.get("properties", {}).get(name, {}).get("x-allowed", "a value")
            return f"{where}.{name} is required: {hint}"
        case "additionalProperties" if schema.get("additionalProperties") is False:
            known = ", ".join(schema.get("properties", {}))
            unknown = sorted(set(error.instance) - set(schema.get("properties", {})))
            moved = [REMOVED_KEYS[f"{where}.{k}"] for k in unknown if f"{where}.{k}" in REMOVED_KEYS]
            if moved:
                return "; ".join(moved)
            return f"{where} has unknown key(s) {', '.join(unknown)}; allowed: {known}"
        case "enum":
            allowed = ", ".join(str(v) for v in error.validator_value)
            return f"{where} = {bad} is not allowed; allowed: {allowed}"
        case "minimum" | "maximum":
            return f"{where} = {bad} is out of range; allowed: {schema.get('minimum')} to {schema.get('maximum')}"
        case "type":
            return f"{where} = {bad} has the wrong type; allowed: {_type_words(error.validator_value)}"
        case "propertyNames":
            return f"{where} has a bad name {bad}; allowed: names matching {schema['propertyNames'].get('pattern')}"
        case _:
            hint = schema.get("x-allowed") or error.message
            return f"{where} = {bad} is not valid; allowed: {hint}"


# Keys that existed once and changed nothing, with where their setting lives now.
_GROUP_SETTING = (
    "is no longer a key: it set nothing. An existing CodeDeploy group shifts traffic and keeps old tasks as "
    "its own configuration says (set it where the group is managed); a service this program creates "
    "deploys with ECS's own blue/green: deploy.strategy blue-green, canary or linear, with "
    "deploy.bakeTimeMinutes, deploy.canary and deploy.linear"
)
REMOVED_KEYS = {
    f"{NAMESPACE}:deploy.blueGreen.deploymentConfig": f"{NAMESPACE}:deploy.blueGreen.deploymentConfig {_GROUP_SETTING}",
    f"{NAMESPACE}:deploy.blueGreen.terminationWaitMinutes": (
        f"{NAMESPACE}:deploy.blueGreen.terminationWaitMinutes {_GROUP_SETTING}"
    ),
}


def describe(key: str, error: jsonschema.ValidationError) -> str:
    """One line for a schema violation of the config key `key` (also used by components.args)."""
    return _describe(key, error)


def plaintext_secret_problems(environment: Mapping[str, str], section: str) -> list[str]:
    """Plain variables of `<section>.environment` that look like secrets (also components.args)."""
    return _plaintext_secret_problems(environment, section)


def _type_words(json_type: Any) -> str:
    names = {
        "object": "an object",
        "array": "a list",
        "string": "a string",
        "integer": "a whole number",
        "boolean": "true or false",
    }
    return names.get(json_type, str(json_type))


def _with_defaults(schema: dict, value: Any) -> Any:
    if value is None:
        value = schema.get("default")
    if schema.get("type") == "object" and isinstance(value, dict) and "properties" in schema:
        return {name: _with_defaults(sub, value.get(name)) for name, sub in schema["properties"].items()}
    return value


def _plaintext_secret_problems(environment: Mapping[str, str], section: str) -> list[str]:
    problems = []
    for name, value in environment.items():
        if _SECRET_NAME.search(name) or _SECRET_VALUE.search(value):
            problems.append(
                f"{NAMESPACE}:{section}.environment.{name} looks like a secret; plaintext variables are "
                f"visible to anyone who can read the project. Store it in Secrets Manager or SSM Parameter "
                f"Store and reference it under {NAMESPACE}:{section}.secrets.{name}"
            )
    return problems


# Environment names that say what a stack is, as a whole name or one `-`/`_`-separated part of it.
PRODUCTION_WORDS = ("prod", "prd", "production", "live")
NON_PRODUCTION_WORDS = (
    "dev", "development", "test", "testing", "qa", "staging", "stage", "stg", "sandbox", "sbx",
    "demo", "preview", "int", "integration", "ci", "local", "perf", "load",
)  # fmt: skip


def is_production(environment: str, declared: Optional[bool]) -> tuple[Optional[bool], Optional[str]]:
    """Whether a stack is production, and the problem when it cannot be told. A stack says so
    (`ecs-cicd:production`) or its environment name does; a name that says neither is an error,
    never a guess (a `live` or `prd` stack must not slip past approval)."""
    words = set(re.split(r"[-_]", environment.lower()))
    production, other = bool(words & set(PRODUCTION_WORDS)), bool(words & set(NON_PRODUCTION_WORDS))
    if declared is False and production:
        # The policy pack treats a pipeline whose environment names production as production
        # whatever a tag says (a tag is an exemption any resource can claim): so does the program.
        return None, (
            f"{NAMESPACE}:production is false but environment {environment!r} names production "
            f"({', '.join(sorted(words & set(PRODUCTION_WORDS)))}); rename the stack's environment, or drop the flag"
        )
    if declared is not None:
        return declared, None
    if production != other:
        return production, None
    return None, (
        f"{NAMESPACE}:production is required for environment {environment!r}; allowed: true or false (the name "
        "does not say whether this stack deploys production, and the program does not guess)"
    )


PRODUCTION_MEANS = f"a stack that {NAMESPACE}:production or its environment name says is production"


def _prod_rules(values: dict[str, Any], prefix: str) -> list[str]:
    """Production deploys wait for a person and deploy only merged code (CICD-SEC-1), unless the
    stack says otherwise, explicitly. Also fills the per-environment defaults."""
    deploy, pipeline, source = values["deploy"], values["pipeline"], values["source"]
    is_prod = values["production"]
    if deploy["requireApproval"] is None:
        deploy["requireApproval"] = is_prod
    if pipeline["executionMode"] is None:
        pipeline["executionMode"] = "QUEUED" if is_prod else "SUPERSEDED"
    problems = []
    # "For pipelines in PARALLEL mode, stage rollback is not available."
    # https://docs.aws.amazon.com/codepipeline/latest/userguide/concepts-how-it-works.html#concepts-how-it-works-executions
    parallel = pipeline["executionMode"] == "PARALLEL"
    if deploy["rollbackOnFailure"] is None:
        deploy["rollbackOnFailure"] = not parallel
    elif deploy["rollbackOnFailure"] and parallel:
        problems.append(
            f"{NAMESPACE}:{prefix}deploy.rollbackOnFailure = True is not allowed with pipeline.executionMode "
            "PARALLEL; allowed: false (AWS offers no stage rollback in PARALLEL mode), or executionMode QUEUED "
            "or SUPERSEDED"
        )
    if is_prod and not deploy["requireApproval"] and not values["insecure"]["allowUnapprovedProdDeploys"]:
        problems.append(
            f"{NAMESPACE}:{prefix}deploy.requireApproval = False is not allowed in prod ({PRODUCTION_MEANS}); "
            "allowed: true, or set "
            f"{NAMESPACE}:insecure.allowUnapprovedProdDeploys to true to deploy prod without approval"
        )
    if is_prod and source["pullRequests"]:
        problems.append(
            f"{NAMESPACE}:{prefix}source.pullRequests = True is not allowed in prod ({PRODUCTION_MEANS}); "
            "allowed: false "
            "(a production stack runs only merged code)"
        )
    if source["pullRequests"] and values["insecure"]["skipSecurityScans"] and not values["build"]["testCommands"]:
        problems.append(
            f"{NAMESPACE}:{prefix}source.pullRequests = True has nothing to run; allowed: with build.testCommands "
            "or the security scans (pull requests run the tests and scans, never a deploy)"
        )
    promotion = values["promotion"]
    # The first deploy a tag starts: the stack's own, or in a stack that only builds, the first target's.
    approver, first_approved = (
        ("deploy.requireApproval", deploy["requireApproval"])
        if not _builds_only(promotion)
        else ("promotion.targets[0].requireApproval", promotion["targets"][0].get("requireApproval", True))
    )
    if source["tags"] and not first_approved:
        problems.append(
            f"{NAMESPACE}:{prefix}source.tags = {source['tags']!r} needs {approver}: true; allowed: "
            "tag triggers only where a person approves the deploy (anyone who can push a tag could deploy any "
            "commit otherwise)"
        )
    return problems


def _service_problems(values: dict[str, Any], prefix: str = "") -> list[str]:
    """Rules that span keys: what a created or blue/green service needs."""
    service, deploy, insecure = values["service"], values["deploy"], values["insecure"]
    problems = []
    if service["create"] and not service["certificateArn"] and not insecure["allowHttp"]:
        problems.append(
            f"{NAMESPACE}:{prefix}service.certificateArn is required with service.create: true; allowed: an ACM "
            f"certificate ARN for HTTPS, or set {NAMESPACE}:insecure.allowHttp to true to serve plain HTTP"
        )
    if service["create"] and service["certificateArn"] and not service["domainName"] and not deploy["healthCheckUrl"]:
        problems.append(
            f"{NAMESPACE}:{prefix}service.domainName is required with service.certificateArn; allowed: the DNS "
            "name the certificate covers (no certificate covers the load balancer's own elb.amazonaws.com "
            f"name, so the post-deploy check could never pass TLS), or set {NAMESPACE}:{prefix}deploy.healthCheckUrl"
        )
    if service["hostedZoneId"] and not service["domainName"]:
        problems.append(
            f"{NAMESPACE}:{prefix}service.hostedZoneId needs service.domainName; allowed: the name to create in "
            "that zone"
        )
    needed = native_deployment_minutes(deploy) if service["create"] else 0
    if needed and deploy["timeoutMinutes"] < needed:
        problems.append(
            f"{NAMESPACE}:{prefix}deploy.timeoutMinutes = {deploy['timeoutMinutes']} is shorter than a "
            f"{deploy['strategy']} deployment may take and succeed ({needed} minutes: {TASK_START_MINUTES} to start "
            "the new tasks, deploy.checkTimeoutSeconds for the pre-production check, the traffic shift and bake "
            f"times); the pipeline's ECS action would fail a deploy that succeeds; allowed: at least {needed} (at "
            "most 60, CodePipeline's limit), or shorter bake or check times"
        )
    blue_green = deploy["blueGreen"]
    if deploy["strategy"] == "blue-green" and not service["create"]:
        named = [k for k in ("application", "deploymentGroup") if blue_green[k]]
        if len(named) == 1:
            missing = "deploymentGroup" if named == ["application"] else "application"
            problems.append(
                f"{NAMESPACE}:{prefix}deploy.blueGreen.{missing} is required with deploy.blueGreen.{named[0]}; "
                f"allowed: the name of the service's CodeDeploy {missing} (or neither key, for a service that ECS "
                "deploys blue/green itself)"
            )
    build = values["build"]
    if build["existingRepository"] and build["repositoryName"]:
        problems.append(
            f"{NAMESPACE}:{prefix}build.repositoryName names a repository to create, but build.existingRepository "
            "names one to use; allowed: one of the two"
        )
    scaling = service["autoscaling"]
    if scaling and scaling["min"] > scaling["max"]:
        problems.append(
            f"{NAMESPACE}:{prefix}service.autoscaling.min = {scaling['min']} is above max = {scaling['max']}; "
            "allowed: min <= max"
        )
    return problems


# Keys of `service` that describe a service this program creates: on an existing service they would
# change nothing (its task definition, load balancer and scaling are managed where it is).
CREATED_SERVICE_KEYS = (
    "cpu", "memory", "desiredCount", "bootstrapImage", "environment", "secrets", "healthCheckPath",
    "healthCheckIntervalSeconds", "healthyThreshold", "unhealthyThreshold", "deregistrationDelaySeconds",
    "certificateArn", "domainName", "hostedZoneId", "availabilityZones", "natGateways", "rollbackOnAlarm",
    "autoscaling", "existingCluster",
)  # fmt: skip
NATIVE_STRATEGIES = ("blue-green", "canary", "linear")


def _reserved_build_variable_problems(build: Mapping[str, Any], prefix: str) -> list[str]:
    reserved = buildspecs.reserved_image_build_variables()
    return [
        f"{NAMESPACE}:{prefix}build.{key}.{name} is a name the image build sets itself; allowed: any other name "
        f"(reserved: {', '.join(sorted(reserved))})"
        for key in ("environment", "secrets")
        for name in sorted(build[key])
        if name in reserved
    ]


def _explicit(raw: Mapping[str, Any], path: str) -> bool:
    """Whether the stack's own config sets `path` (`deploy.canary.percent`), defaults aside."""
    node: Any = raw
    for part in path.split("."):
        if not isinstance(node, Mapping) or node.get(part) is None:
            return False
        node = node[part]
    return True


# Minutes a new set of tasks takes to start and pass the target group's health checks, counted
# before any traffic moves (a generous figure for Fargate: image pull, start, health checks).
TASK_START_MINUTES = 5


def native_deployment_minutes(deploy: Mapping[str, Any]) -> int:
    """How long ECS's own blue/green, canary or linear deployment may take and still succeed: the
    CodePipeline ECS action waits for it to finish within its DeploymentTimeout, at most 60 minutes
    (https://docs.aws.amazon.com/codepipeline/latest/userguide/action-reference-ECS.html). The new
    tasks start, the pre-production check may take all of `checkTimeoutSeconds` before it passes,
    then traffic shifts and the old tasks are kept for the bake time. 0 for rolling."""
    strategy = deploy["strategy"]
    if strategy not in NATIVE_STRATEGIES:
        return 0
    shifting = traffic_shift_minutes(
        strategy,
        canary_bake_minutes=deploy["canary"]["bakeTimeMinutes"],
        linear_step_percent=deploy["linear"]["stepPercent"],
        linear_step_bake_minutes=deploy["linear"]["stepBakeTimeMinutes"],
    )
    checking = -(-deploy["checkTimeoutSeconds"] // 60)
    return TASK_START_MINUTES + checking + shifting + deploy["bakeTimeMinutes"]


def traffic_shift_minutes(
    strategy: str, *, canary_bake_minutes: float, linear_step_percent: float, linear_step_bake_minutes: float
) -> int:
    """How long ECS takes to move all production traffic: the canary's bake, or every linear step
    but the last; nothing for blue-green (all at once) and rolling."""
    if strategy == "canary":
        return int(canary_bake_minutes)
    if strategy == "linear":
        steps = -(-100 // linear_step_percent)  # ceil: the steps that move all traffic
        return int(steps - 1) * int(linear_step_bake_minutes)
    return 0


def _inapplicable(raw: Mapping[str, Any], values: Mapping[str, Any], prefix: str = "") -> list[str]:
    """Keys the stack sets that would change nothing in this configuration: each is an error that
    says why, instead of a setting silently ignored."""
    service, deploy = values["service"], values["deploy"]
    strategy, created = deploy["strategy"], service["create"]
    existing_blue_green = strategy == "blue-green" and not created
    codedeploy = existing_blue_green and any(deploy["blueGreen"].values())
    targets = values["promotion"]["targets"]
    only_builds = _builds_only(values["promotion"])
    deploys_nothing_here = (
        "this stack deploys nothing itself (promotion.deployHere: false): each target's service deploys as its "
        "account configures it, and approvals and checks are the targets' (promotion.targets[].requireApproval, "
        ".checkRoleArn)"
    )
    rules: list[tuple[str, bool, str]] = [
        ("promotion.deployHere", not targets, "it says whether the stack deploys before its promotion targets"),
        *(
            (path, only_builds, deploys_nothing_here)
            for path in (
                "service.create",
                "deploy.strategy",
                "deploy.requireApproval",
                "deploy.healthCheckUrl",
                "deploy.checkCommands",
            )
        ),
        (
            "deploy.checkTimeoutSeconds",
            only_builds and not any(t.get("checkRoleArn") for t in targets),
            "it bounds the check after a deploy; this stack deploys nothing itself and no target has a checkRoleArn",
        ),
        *(
            (
                f"service.{key}",
                not created,
                "it describes a service this program creates (service.create: true); "
                "an existing service's task definition, load balancer and scaling are managed where the service is",
            )
            for key in CREATED_SERVICE_KEYS
        ),
        (
            "service.port",
            not created and not codedeploy,
            "an existing service on the ECS deploy action keeps "
            "its own port mappings; the port matters to a created service or a CodeDeploy blue/green check",
        ),
        (
            "deploy.blueGreen",
            not existing_blue_green,
            "it names the CodeDeploy group of an existing service on strategy "
            "blue-green; a created service deploys blue/green with ECS itself",
        ),
        *(
            (
                f"deploy.{key}",
                not (created and strategy in applies_to),
                f"it applies to strategy {' and '.join(applies_to)} on a created service; an existing service's "
                "own deployment configuration decides its traffic shift (`pulumi up` reads it)",
            )
            for key, applies_to in (
                ("bakeTimeMinutes", NATIVE_STRATEGIES),
                ("canary", ("canary",)),
                ("linear", ("linear",)),
            )
        ),
        (
            "deploy.timeoutMinutes",
            codedeploy,
            "CodeDeploy's deployment group decides how long a blue/green deployment of an existing service takes",
        ),
        (
            "service.desiredCount",
            bool(service["autoscaling"]),
            "with service.autoscaling, Application Auto Scaling owns the count (the service starts at "
            "service.autoscaling.min)",
        ),
        (
            "insecure.allowHttp",
            not created or bool(service["certificateArn"]),
            "it lets a created service without a certificate serve plain HTTP",
        ),
        (
            "insecure.allowUnapprovedProdDeploys",
            (not values["production"] or deploy["requireApproval"] or only_builds)
            and not _unapproved_production_targets(values),
            "it lets a production stack, a promotion target named for production, or the last target of a "
            "production stack that deploys nothing itself, deploy without approval "
            "(requireApproval: false)",
        ),
        (
            "deploy.approvalEmails",
            not (deploy["requireApproval"] and not only_builds)
            and not any(t.get("requireApproval", True) for t in targets),
            "it names who is told that a deploy waits for approval (deploy.requireApproval: true, or a promotion "
            "target's)",
        ),
    ]
    return [
        f"{NAMESPACE}:{prefix}{path} does not apply here: {why}; remove it"
        for path, applies_not, why in rules
        if applies_not and _explicit(raw, path)
    ]


def _service_pipeline(values: Mapping[str, Any]) -> ServicePipeline:
    source, build, service, deploy, pipeline = (values[k] for k in PER_SERVICE_KEYS)
    environment = values["environment"]
    return ServicePipeline(
        tags=MappingProxyType(
            {"project": PROJECT, "environment": environment, "service": service["name"], **values["tags"]}
        ),
        source=SourceSettings(
            repository=source["repository"],
            branch=source["branch"],
            connection_arn=source["connectionArn"],
            full_clone=source["fullClone"],
            file_paths_include=tuple(source["filePaths"]["includes"]),
            file_paths_exclude=tuple(source["filePaths"]["excludes"]),
            tags=tuple(source["tags"]),
            pull_requests=source["pullRequests"],
        ),
        build=BuildSettings(
            repository_name=(build["existingRepository"] or "").split(":repository/")[-1]
            or build["repositoryName"]
            or naming.physical(naming.ECR_REPOSITORY, pipeline_name(service["name"], environment)),
            existing_repository=build["existingRepository"],
            compute_type=build["computeType"],
            image=build["image"],
            timeout_minutes=build["timeoutMinutes"],
            dockerfile=build["dockerfile"],
            context=build["context"],
            environment=MappingProxyType(dict(build["environment"])),
            secrets=tuple(SecretRef(name, ref) for name, ref in sorted(build["secrets"].items())),
            log_retention_days=build["logRetentionDays"],
            keep_images=build["keepImages"] if build["keepImages"] or build["existingRepository"] else 50,
            fail_on_severity=build["failOnSeverity"],
            test_commands=tuple(build["testCommands"]),
            docker_hub_credentials_arn=build["dockerHubCredentialsArn"],
        ),
        service=ServiceSettings(
            cluster=service["cluster"],
            name=service["name"],
            container=service["container"],
            create=service["create"],
            existing_cluster=service["existingCluster"],
            port=service["port"],
            cpu=service["cpu"],
            memory=service["memory"],
            desired_count=service["desiredCount"],
            bootstrap_image=service["bootstrapImage"],
            environment=MappingProxyType(dict(service["environment"])),
            secrets=tuple(SecretRef(name, ref) for name, ref in sorted(service["secrets"].items())),
            health_check_path=service["healthCheckPath"],
            health_check_interval_seconds=service["healthCheckIntervalSeconds"],
            healthy_threshold=service["healthyThreshold"],
            unhealthy_threshold=service["unhealthyThreshold"],
            deregistration_delay_seconds=service["deregistrationDelaySeconds"],
            certificate_arn=service["certificateArn"],
            domain_name=service["domainName"],
            hosted_zone_id=service["hostedZoneId"],
            availability_zones=service["availabilityZones"],
            nat_gateways=service["natGateways"],
            rollback_on_alarm=service["rollbackOnAlarm"],
            autoscaling=(
                AutoscalingSettings(
                    min=service["autoscaling"]["min"],
                    max=service["autoscaling"]["max"],
                    target_cpu_percent=service["autoscaling"]["targetCpuPercent"],
                )
                if service["autoscaling"]
                else None
            ),
        ),
        deploy=DeploySettings(
            timeout_minutes=deploy["timeoutMinutes"],
            require_approval=deploy["requireApproval"],
            approval_emails=tuple(deploy["approvalEmails"]),
            strategy=deploy["strategy"],
            blue_green=BlueGreenSettings(
                application=deploy["blueGreen"]["application"],
                deployment_group=deploy["blueGreen"]["deploymentGroup"],
            ),
            traffic=TrafficShift(
                bake_time_minutes=deploy["bakeTimeMinutes"],
                canary_percent=deploy["canary"]["percent"],
                canary_bake_time_minutes=deploy["canary"]["bakeTimeMinutes"],
                linear_step_percent=deploy["linear"]["stepPercent"],
                linear_step_bake_time_minutes=deploy["linear"]["stepBakeTimeMinutes"],
            ),
            health_check_url=deploy["healthCheckUrl"],
            check_commands=tuple(deploy["checkCommands"]),
            check_timeout_seconds=deploy["checkTimeoutSeconds"],
            rollback_on_failure=deploy["rollbackOnFailure"],
        ),
        pipeline=PipelineSettings(
            name=pipeline["name"] or pipeline_name(service["name"], environment),
            execution_mode=pipeline["executionMode"],
            artifact_expiration_days=pipeline["artifactExpirationDays"],
        ),
    )


def _build(
    values: Mapping[str, Any], services: tuple[ServicePipeline, ...], region: Optional[str], project: str
) -> Settings:
    environment = values["environment"]
    return Settings(
        project=project,
        environment=environment,
        region=region,
        protect=values["protect"],
        production=values["production"],
        tags=MappingProxyType({"project": PROJECT, "environment": environment, **values["tags"]}),
        services=services,
        permissions_boundary=values["iam"]["permissionsBoundaryArn"],
        operator_role_arns=tuple(values["iam"]["operatorRoleArns"]),
        notification_emails=tuple(values["notifications"]["emails"]),
        guardrails=GuardrailSettings(
            cloud_trail=values["guardrails"]["cloudTrail"],
            guard_duty=values["guardrails"]["guardDuty"],
            config_rules=values["guardrails"]["configRules"],
        ),
        insecure=InsecureSettings(
            allow_unapproved_prod_deploys=values["insecure"]["allowUnapprovedProdDeploys"],
            skip_security_scans=values["insecure"]["skipSecurityScans"],
            allow_http=values["insecure"]["allowHttp"],
        ),
        promotion=tuple(
            PromotionTarget(
                name=t["name"],
                account=t["account"],
                cluster=t.get("cluster") or services[0].service.cluster,
                service=t.get("service") or services[0].service.name,
                deploy_role_arn=t["deployRoleArn"],
                execution_role_arns=tuple(t["executionRoleArns"]),
                require_approval=t.get("requireApproval", True),
                check_role_arn=t.get("checkRoleArn"),
                # The stack's own region is written as no region: the action and its store are the pipeline's.
                region=t["region"] if t.get("region") not in (None, region) else None,
            )
            for t in values["promotion"]["targets"]
        ),
        deploy_here=not _builds_only(values["promotion"]),
    )


def _builds_only(promotion: Mapping[str, Any]) -> bool:
    """A stack that deploys nothing itself: `promotion.deployHere: false`, with targets to deploy to."""
    return bool(promotion.get("targets")) and not promotion.get("deployHere", True)


def _unapproved_production_targets(values: Mapping[str, Any]) -> dict[str, str]:
    """Promotion targets that deploy production without approval, each with why it is production:
    its name says so, or, in a production stack that deploys nothing itself, it is the last target
    (where that stack's own deploy would have waited for one)."""
    promotion = values.get("promotion") or {}
    targets = promotion.get("targets", [])
    unapproved = {
        t["name"]: "which names production"
        for t in targets
        if set(re.split(r"[-_]", t["name"])) & set(PRODUCTION_WORDS) and not t.get("requireApproval", True)
    }
    if values.get("production") and _builds_only(promotion):
        last = targets[-1]
        if not last.get("requireApproval", True):
            unapproved.setdefault(
                last["name"], f"the last target of a production stack that deploys nothing itself ({PRODUCTION_MEANS})"
            )
    return unapproved


def partition_of(region: str) -> str:
    """The AWS partition a region belongs to (botocore's endpoints.json `regionRegex` per partition)."""
    for prefix, partition in (
        ("cn-", "aws-cn"),
        ("us-gov-", "aws-us-gov"),
        ("us-iso-", "aws-iso"),
        ("us-isob-", "aws-iso-b"),
        ("eu-isoe-", "aws-iso-e"),
        ("us-isof-", "aws-iso-f"),
    ):
        if region.startswith(prefix):
            return partition
    return "aws"


def _promotion_problems(
    promotion: Mapping[str, Any],
    services: Sequence["ServicePipeline"],
    unapproved_prod_allowed: bool = False,
    region: Optional[str] = None,
    production: bool = False,
) -> list[str]:
    """What the schema cannot say of the promotion targets: one service per stack, one name per
    target, every role of a target in that target's account, a target region in the stack's
    partition, and a target whose name says production behind an approval (as a production
    stack's own deploy is)."""
    targets = promotion["targets"]
    key = f"{NAMESPACE}:promotion.targets"
    unapproved = _unapproved_production_targets({"promotion": promotion, "production": production})
    problems = []
    if targets and len(services) > 1:
        problems.append(f"{key}: a stack that promotes has one service, not {len(services)}; split the stack")
    if targets and services and services[0].build.existing_repository:
        problems.append(
            f"{key}: the targets pull from a repository this stack creates (its policy names them); "
            f"{NAMESPACE}:build.existingRepository is its owner's: leave it out"
        )
    names = [t["name"] for t in targets]
    if len(set(names)) != len(names):
        problems.append(f"{key}: each target needs a name of its own, got {names}")
    for index, target in enumerate(targets):
        # A pipeline's cross-region actions and artifact stores stay in its partition (roles, keys and
        # buckets do not cross partitions).
        if region and target.get("region") and partition_of(target["region"]) != partition_of(region):
            problems.append(
                f"{key}[{index}].region = {target['region']!r} is in partition {partition_of(target['region'])}, "
                f"the stack's region {region} in {partition_of(region)}; allowed: a region of {partition_of(region)}"
            )
        why = unapproved.get(target["name"])
        if why and not unapproved_prod_allowed:
            problems.append(
                f"{key}[{index}].requireApproval = False for {target['name']!r}, {why}; "
                f"allowed: true, or {NAMESPACE}:insecure.allowUnapprovedProdDeploys"
            )
        for field_name in ("deployRoleArn", "executionRoleArns", "checkRoleArn"):
            arns = target.get(field_name) or []
            for arn in [arns] if isinstance(arns, str) else arns:
                if arn.split(":")[4] != target["account"]:
                    problems.append(
                        f"{key}[{index}].{field_name} = {arn!r} is not in the target's account {target['account']}; "
                        "allowed: a role of that account"
                    )
    return problems


def project_name(project_dir: Path = PROJECT_DIR) -> str:
    """The `name` of the project's Pulumi.yaml."""
    from .stack_files import read_project

    return read_project(project_dir).name


def stack_config(stack: str, project_dir: Path = PROJECT_DIR) -> dict[str, Any]:
    """`Pulumi.yaml` defaults overlaid with `Pulumi.<stack>.yaml`, as fully qualified keys, read as
    Pulumi reads them (`components/stack_files.py`)."""
    from .stack_files import read_stack_config

    return read_stack_config(stack, project_dir)
