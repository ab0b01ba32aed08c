"""Every `ecs-cicd:*` key does something: in every kind of stack, setting it either changes what the
program registers (a resource input, an action's configuration, a buildspec variable, an output)
or is refused with an error that names it and says why it does not apply there. A key that is
accepted and changes nothing is what this walk exists to catch.

The walk covers every leaf of the configuration schema (`components/config_schema.py`), so a key
added without a way to matter fails here until it has one."""

import copy
import json
from collections.abc import Iterator
from functools import cache
from typing import Any

import pytest

from components.config_schema import KEYS
from components.settings import SettingsError, from_mapping
from components.testing import run_stack, stack_config

CERTIFICATE = "arn:aws:acm:eu-west-1:111122223333:certificate/5e1d2c3b-4a59-4f6e-8d7c-9b0a1f2e3d4c"
CREATED = {
    "create": True,
    "cluster": "dev",
    "name": "orders-api",
    "container": "app",
    "certificateArn": CERTIFICATE,
    "domainName": "orders.dev.example.com",
}
DEPLOY = {"timeoutMinutes": 30, "requireApproval": False}

# The kinds of stack a key can land in, as overrides of the dev stack.
VARIANTS: dict[str, dict[str, Any]] = {
    # Approval left to follow whether the stack is production.
    "existing service, rolling": {"ecs-cicd:deploy": {"timeoutMinutes": 15}},
    # CodeDeploy decides the deploy's duration: no timeout there.
    "existing service, CodeDeploy": {
        "ecs-cicd:deploy": {
            "requireApproval": False,
            "strategy": "blue-green",
            "blueGreen": {"application": "orders-api", "deploymentGroup": "orders-api-dev"},
        },
    },
    "created service, rolling": {"ecs-cicd:service": CREATED},
    # A later `pulumi up`: the service runs what the first one registered, with the pipeline's image.
    "created service, running": {"ecs-cicd:service": CREATED},
    "created service, blue-green, running": {
        "ecs-cicd:service": CREATED,
        "ecs-cicd:deploy": {**DEPLOY, "strategy": "blue-green"},
    },
    "created service, autoscaling": {
        "ecs-cicd:service": {**CREATED, "autoscaling": {"min": 1, "max": 4, "targetCpuPercent": 60}}
    },
    "created service, canary": {"ecs-cicd:service": CREATED, "ecs-cicd:deploy": {**DEPLOY, "strategy": "canary"}},
    "created service, linear": {
        "ecs-cicd:service": CREATED,
        "ecs-cicd:deploy": {**DEPLOY, "timeoutMinutes": 60, "strategy": "linear"},
    },
    "production": {
        "ecs-cicd:environment": "prod",
        "ecs-cicd:deploy": {"timeoutMinutes": 30, "requireApproval": True},
    },
    # A tooling account's stack: it builds, then deploys to other accounts only (one in another region).
    "promoting, builds only": {
        "ecs-cicd:deploy": {"timeoutMinutes": 15},
        "ecs-cicd:promotion": {
            "deployHere": False,
            "targets": [
                {
                    "name": "staging",
                    "account": "444455556666",
                    "deployRoleArn": "arn:aws:iam::444455556666:role/ecs-cicd/deploy/staging-deploy",
                    "executionRoleArns": ["arn:aws:iam::444455556666:role/orders-api-execution"],
                    "requireApproval": False,
                    "checkRoleArn": "arn:aws:iam::444455556666:role/ecs-cicd/deploy/staging-check",
                },
                {
                    "name": "prod",
                    "account": "777788889999",
                    "region": "eu-central-1",
                    "deployRoleArn": "arn:aws:iam::777788889999:role/ecs-cicd/deploy/prod-deploy",
                    "executionRoleArns": ["arn:aws:iam::777788889999:role/orders-api-execution"],
                },
            ],
        },
    },
}
PROMOTING = "promoting, builds only"

RUNNING = ("created service, running", "created service, blue-green, running")
# How AWS answers for an existing service of each kind of stack (what `pulumi up` reads of it).
EXISTING = {
    "existing service, rolling": ("ECS", "ROLLING"),
    "existing service, CodeDeploy": ("CODE_DEPLOY", None),
    "production": ("ECS", "ROLLING"),
}
# Keys that matter when a created service is created, and by design not after: on a running
# service they must change nothing (and do not: the walk checks that too).
CREATE_ONLY = {
    "service.bootstrapImage": "the image a created service starts with; once it runs, it runs the pipeline's image "
    "(README, Who owns what)",
}

# Keys whose effect does not depend on the service or how it is deployed (the build, the source,
# the pipeline, the account): walked in one kind of stack. Every other key is walked in all.
INDEPENDENT = ("environment", "protect", "tags", "source.repository", "source.branch", "source.connectionArn",
               "source.filePaths", "source.fullClone", "build.", "pipeline.", "iam.", "notifications.",
               "guardrails.", "insecure.skipSecurityScans", "promotion.")  # fmt: skip

# Values for keys whose schema alone does not say what a valid, different value is.
VALUES: dict[str, list[Any]] = {
    "environment": ["qa"],
    "source.repository": ["acme/other-service"],
    "source.branch": ["release"],
    "source.connectionArn": [
        "arn:aws:codeconnections:eu-west-1:111122223333:connection/7c1d2e3f-4a5b-6c7d-8e9f-0a1b2c3d4e5f"
    ],
    "source.filePaths.includes": [["services/api/**"]],
    "source.filePaths.excludes": [["docs/**"]],
    "source.tags": [["v*"]],
    "build.repositoryName": ["orders/api"],
    "build.existingRepository": ["team/orders-api"],
    "build.image": ["aws/codebuild/amazonlinux-x86_64-standard:4.0"],
    "build.dockerfile": ["docker/Dockerfile"],
    "build.context": ["services/api"],
    "build.secrets": [{"NPM_TOKEN": "arn:aws:secretsmanager:eu-west-1:111122223333:secret:npm-AbCdEf"}],
    "build.dockerHubCredentialsArn": [
        "arn:aws:secretsmanager:eu-west-1:111122223333:secret:ecr-pullthroughcache/hub-AbCdEf"
    ],
    "build.testCommands": [["make test"]],
    "service.cluster": ["other"],
    "service.name": ["orders-worker"],
    "service.container": ["web"],
    "service.bootstrapImage": ["public.ecr.aws/nginx/nginx:1.27"],
    "service.secrets": [{"DATABASE_URL": "arn:aws:secretsmanager:eu-west-1:111122223333:secret:db-AbCdEf"}],
    "service.healthCheckPath": ["/ready"],
    "service.certificateArn": [CERTIFICATE.replace("5e1d", "6f2e")],
    "service.domainName": ["api.dev.example.com"],
    "service.hostedZoneId": ["Z0123456789ABCDEFGHIJ"],
    "service.autoscaling.min": [2],
    "service.autoscaling.max": [5],
    "service.autoscaling.targetCpuPercent": [70],
    "deploy.blueGreen.application": ["orders"],
    "deploy.blueGreen.deploymentGroup": ["orders-dev"],
    "deploy.healthCheckUrl": ["https://orders.dev.example.com/healthz"],
    "deploy.checkCommands": [["curl --fail $SERVICE_URL"]],
    "deploy.approvalEmails": [["release@example.com"]],
    "pipeline.name": ["orders"],
    "deploy.rollbackOnFailure": [False],
    "iam.permissionsBoundaryArn": ["arn:aws:iam::111122223333:policy/boundary"],
    "iam.operatorRoleArns": [["arn:aws:iam::111122223333:role/release-managers"]],
    "notifications.emails": [["oncall@example.com"]],
    "promotion.targets": [
        [
            {
                "name": "staging",
                "account": "444455556666",
                "cluster": "staging",
                "service": "orders-api",
                "deployRoleArn": "arn:aws:iam::444455556666:role/ecs-cicd/deploy/staging-deploy",
                "executionRoleArns": ["arn:aws:iam::444455556666:role/orders-api-execution"],
            }
        ]
    ],
}
# Keys the walk does not set on their own, with why.
NOT_WALKED = {
    "services": "a list of services, each with the keys above: walked through those keys",
    "service.create": "it is the difference between the existing-service and created-service kinds of stack, "
    "which need different keys: the variants above are both",
    "insecure.allowHttp": "required exactly when a created service has no certificate, refused elsewhere: "
    "tests/test_service.py::test_plain_http_needs_the_explicit_insecure_flag has both sides",
    "insecure.allowUnapprovedProdDeploys": "required exactly when a production stack turns approval off, refused "
    "elsewhere: tests/test_security_controls.py::test_prod_cannot_skip_approval_without_the_explicit_insecure_flag "
    "has both sides",
}


def leaves(schema: dict, path: str) -> Iterator[tuple[str, dict]]:
    if schema.get("type") == "object" and "properties" in schema:
        for key, sub in schema["properties"].items():
            yield from leaves(sub, f"{path}.{key}")
    else:
        yield path, schema


LEAVES = dict(pair for key, schema in KEYS.items() for pair in leaves(schema, key))


@cache
def base_config(variant: str) -> dict[str, Any]:
    config = stack_config("dev")
    for key, value in VARIANTS[variant].items():
        config[key] = copy.deepcopy(value)
    return config


def current(config: dict[str, Any], path: str) -> Any:
    if path == "production":  # when not set, the environment's name says
        raw = {k.removeprefix("ecs-cicd:"): v for k, v in config.items() if k.startswith("ecs-cicd:")}
        return from_mapping(raw, "dev", region="eu-west-1").production
    key, *rest = path.split(".")
    node: Any = config.get(f"ecs-cicd:{key}")
    for part in rest:
        node = node.get(part) if isinstance(node, dict) else None
    if node is None:
        schema = LEAVES[path]
        node = schema.get("default")
    return node


def with_value(config: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    config = copy.deepcopy(config)
    key, *rest = path.split(".")
    if path.startswith("service.autoscaling."):  # min and max come together
        scaling = (config.get("ecs-cicd:service") or {}).get("autoscaling") or {"min": 1, "max": 4}
        value, rest = {**scaling, path.rsplit(".", 1)[1]: value}, ["autoscaling"]
    if not rest:
        config[f"ecs-cicd:{key}"] = value
        return config
    node = config.setdefault(f"ecs-cicd:{key}", {})
    for part in rest[:-1]:
        node = node.setdefault(part, {})
    node[rest[-1]] = value
    return config


def another_value(path: str, schema: dict, now: Any) -> Any:
    """A valid value of the key that differs from what the stack has now."""
    candidates = list(VALUES.get(path, []))
    if "enum" in schema:
        candidates += schema["enum"]
    kind = schema.get("type")
    if kind == "boolean":
        candidates += [not now if isinstance(now, bool) else True]
    if kind in ("integer", "number"):
        low, high = schema.get("minimum", 0), schema.get("maximum", 10**6)
        candidates += [low, high, (low + high) // 2]
    if kind == "object":
        candidates += [{"X_SAMPLE": "1"}]
    for candidate in candidates:
        if candidate != now:
            return candidate
    raise AssertionError(f"no value for {path}: add one to VALUES")


def invoke_results(variant: str) -> dict | None:
    """The world a kind of stack runs in: a created service already running (the pipeline deployed
    into what the first `pulumi up` registered), or an existing service configured as it says."""
    from components.testing import default_invoke_results

    from .test_ownership import live

    if variant in RUNNING:
        strategy = "BLUE_GREEN" if "blue-green" in variant else "ROLLING"
        return live(first_run(variant), strategy=strategy, advanced=strategy != "ROLLING")
    if variant in EXISTING:
        controller, strategy = EXISTING[variant]
        answers = default_invoke_results("eu-west-1")
        plain = answers["aws:ecs/getService:getService"]
        answers["aws:ecs/getService:getService"] = lambda args: {
            **plain(args),
            "deploymentControllers": [{"type": controller}],
            "deploymentConfigurations": [{"strategy": strategy}] if strategy else [],
        }
        return answers
    return None


@cache
def first_run(variant: str):
    config = base_config(variant)
    return run_stack("dev", {key: config.get(key) for key in config})


def fingerprint(config: dict[str, Any], variant: str) -> str:
    """Everything the program registers, as one string (inputs of every resource, outputs). On a
    later `pulumi up`, an input a resource ignores changes nothing: it is left out."""
    run = run_stack("dev", {key: config.get(key) for key in config}, invoke_results=invoke_results(variant))
    later = variant in RUNNING
    resources = sorted(
        (r.type, r.name, {k: v for k, v in r.inputs.items() if not (later and k in r.ignore_changes)})
        for r in run.resources
    )
    return json.dumps([resources, run.outputs], sort_keys=True, default=_plain)


def _plain(value: Any) -> Any:
    """Assets by what they hold (their default repr names a memory address, new in every run)."""
    import pulumi

    if isinstance(value, pulumi.AssetArchive):
        return {name: _plain(asset) for name, asset in value.assets.items()}
    if isinstance(value, (pulumi.FileAsset, pulumi.FileArchive)):
        return ["file", value.path]
    return str(value)


@cache
def base_fingerprint(variant: str) -> str:
    return fingerprint(base_config(variant), variant)


# Variants that differ from another only in some keys' code path: walked for those keys. Canary
# and linear differ from blue-green only in the traffic shift (one `native` path for everything
# else, components/service.py); autoscaling from a rolling created service only in the service's
# count and its scaler.
SECTION_VARIANTS = {
    "created service, canary": ("deploy.",),
    "created service, linear": ("deploy.",),
    "created service, autoscaling": ("service.autoscaling.", "service.desiredCount"),
    # Only the keys of a deploy: the rest of a stack that builds only is any stack's.
    PROMOTING: ("deploy.", "service.", "promotion."),
}


def variants_for(path: str) -> list[str]:
    if path.startswith("promotion."):
        return ["existing service, rolling", PROMOTING]
    if path.startswith(INDEPENDENT) or path in INDEPENDENT:
        return ["existing service, rolling"]
    return [v for v in VARIANTS if path.startswith(SECTION_VARIANTS.get(v, ("",)))]


def refused(config: dict[str, Any], path: str) -> str | None:
    """The settings' error naming the key, or None when the config is accepted."""
    raw = {k.removeprefix("ecs-cicd:"): v for k, v in config.items() if k.startswith("ecs-cicd:")}
    try:
        from_mapping(raw, "dev", region="eu-west-1")
    except SettingsError as error:
        message = str(error)
        parts = path.split(".")
        named = [f"ecs-cicd:{'.'.join(parts[:n])}" for n in range(len(parts), 0, -1)]
        assert any(name in message for name in named), (path, message)
        return message
    return None


def refused_by_the_program(config: dict[str, Any], path: str, variant: str) -> tuple[str | None, str]:
    """What `pulumi up` stops at once it reads the world (an existing service that deploys
    otherwise, a running service the change cannot be applied to), naming the key; else what it
    registers."""
    import pulumi

    try:
        return None, fingerprint(config, variant)
    except pulumi.RunError as error:
        # The key itself (or the object it belongs to), not just its section: a refusal of
        # something else must not pass for this key's.
        parts = path.split(".")
        named = [f"ecs-cicd:{'.'.join(parts[:n])}" for n in range(len(parts), 1, -1)] or [f"ecs-cicd:{path}"]
        assert any(name in str(error) for name in named), (path, str(error))
        return str(error), ""


# What a running rolling service rolls out as a new revision, never refuses.
TASK_DEFINITION_KEYS = {
    "service.cpu",
    "service.memory",
    "service.environment",
    "service.secrets",
    "service.container",
}
WALKED = sorted(path for path in LEAVES if path not in NOT_WALKED)


def test_every_key_of_the_schema_is_walked_or_says_why_not():
    assert set(WALKED) | set(NOT_WALKED) == set(LEAVES)
    assert set(NOT_WALKED) <= set(LEAVES)


@pytest.mark.parametrize("path", WALKED)
def test_a_key_changes_what_runs_or_is_refused_with_why(path):
    effects, refusals = [], []
    for variant in variants_for(path):
        base = base_config(variant)
        value = another_value(path, LEAVES[path], current(base, path))
        changed = with_value(base, path, value)
        message = refused(changed, path)
        if message is None and path in CREATE_ONLY and variant in RUNNING:
            assert fingerprint(changed, variant) == base_fingerprint(variant), f"{path} changed a running service"
            continue
        if message is None:
            message, registered = refused_by_the_program(changed, path, variant)
        if message is not None:
            # A running service takes every change to its task definition as a rollout.
            assert not (variant == "created service, running" and path in TASK_DEFINITION_KEYS), (path, message)
            refusals.append(variant)
            continue
        assert registered != base_fingerprint(variant), (
            f"ecs-cicd:{path} = {value!r} is accepted in a stack with {variant} and changes nothing"
        )
        effects.append(variant)
    assert effects, f"ecs-cicd:{path} changes nothing in any kind of stack (refused in {refusals})"
