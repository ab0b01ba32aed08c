"""Secrets are references (Secrets Manager, Parameter Store SecureString), never plaintext, in every
place a stack can hold a value: CodeBuild project variables, an inline buildspec's `env`, the
variables a pipeline action passes, pipeline variables, task definition environments and SSM
parameters. A value is judged by its name (`DB_PASSWORD`) and by its shape (a token's prefix), and a
message never repeats the value."""

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

import yaml

from .codebuild import CODEBUILD_PROJECT
from .codepipeline import PIPELINE, action_name, pipeline_actions
from .normalise import UNKNOWN, as_list, dig, is_unknown

TASK_DEFINITION = "aws:ecs/taskDefinition:TaskDefinition"
SSM_PARAMETER = "aws:ssm/parameter:Parameter"

SECRET_NAME = re.compile(
    r"PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|CREDENTIAL|ACCESS_?KEY|AUTH_?KEY", re.IGNORECASE
)
# Shapes documented by their issuers (and used by gitleaks' default rules).
SECRET_VALUES = (
    ("an AWS access key id", re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b")),
    # AWS secret access keys are 40 characters of base64; requiring both cases and a digit keeps
    # git SHAs and other hex digests (one case only) out.
    (
        "an AWS secret access key",
        re.compile(
            r"(?<![A-Za-z0-9/+=])(?=[A-Za-z0-9/+]*[a-z])(?=[A-Za-z0-9/+]*[A-Z])(?=[A-Za-z0-9/+]*\d)"
            r"[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])"
        ),
    ),
    ("a GitHub token", re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,})")),
    ("a GitLab token", re.compile(r"\bglpat-[A-Za-z0-9_-]{20,}")),
    ("a Slack token", re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}")),
    ("a Stripe secret key", re.compile(r"\b[sr]k_live_[A-Za-z0-9]{20,}")),
    ("an npm token", re.compile(r"\bnpm_[A-Za-z0-9]{36}\b")),
    ("a private key", re.compile(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----")),
    ("a URL with a password", re.compile(r"\b[a-z][a-z0-9+.-]*://[^\s/:@]+:[^\s/@]+@", re.IGNORECASE)),
)
SECRET_REFERENCE_TYPES = frozenset({"SECRETS_MANAGER", "PARAMETER_STORE"})


def looks_like_a_secret(value: Any) -> str:
    """What `value` looks like ("a GitLab token"), or "" when it looks like no secret."""
    if not isinstance(value, (str, int, float)) or is_unknown(value):
        return ""
    return next((what for what, pattern in SECRET_VALUES if pattern.search(str(value))), "")


def _pair_problems(name: Any, value: Any, where: str, fix: str) -> list[str]:
    label = repr(name) if isinstance(name, str) else "(unnamed)"
    if isinstance(name, str) and SECRET_NAME.search(name):
        return [f"{where} variable {label} is PLAINTEXT but its name says it holds a secret; {fix}"]
    what = looks_like_a_secret(value)
    return [f"{where} variable {label} is PLAINTEXT and its value looks like {what}; {fix}"] if what else []


_CODEBUILD_FIX = "use type SECRETS_MANAGER or PARAMETER_STORE"


def _plaintext_secret_problems(variables: Iterable[Any], where: str) -> list[str]:
    """CodeBuild-style variables ({name, value, type}) that hold a secret in PLAINTEXT."""
    problems = []
    for variable in variables:
        if not isinstance(variable, Mapping):
            continue
        kind = dig(variable, "type")
        if kind is UNKNOWN or (isinstance(kind, str) and kind.upper() in SECRET_REFERENCE_TYPES):
            continue
        problems.extend(_pair_problems(dig(variable, "name"), dig(variable, "value"), where, _CODEBUILD_FIX))
    return problems


def _buildspec_problems(buildspec: Any) -> list[str]:
    """`env.variables` of an inline buildspec are plaintext; `env.secrets-manager` and
    `env.parameter-store` are the references."""
    if not isinstance(buildspec, str) or is_unknown(buildspec):
        return []
    try:
        parsed = yaml.safe_load(buildspec)
    except yaml.YAMLError:
        return []
    variables = dig(parsed, "env", "variables")
    if not isinstance(variables, Mapping):
        return []
    fix = "move it to env.secrets-manager or env.parameter-store"
    return [p for name, value in variables.items() for p in _pair_problems(name, value, "buildspec env", fix)]


def _pipeline_problems(props: Mapping[str, Any]) -> list[str]:
    problems = []
    for stage, action in pipeline_actions(props) or []:
        configured = dig(action, "configuration", "EnvironmentVariables")
        if configured is None or configured is UNKNOWN:
            continue
        where = f"pipeline action {action_name(stage, action)}"
        try:
            variables = json.loads(configured) if isinstance(configured, str) else configured
        except ValueError:
            problems.append(f"{where}: EnvironmentVariables is not valid JSON")
            continue
        problems.extend(_plaintext_secret_problems(as_list(variables), where))
    variables = dig(props, "variables")
    for variable in [] if variables is UNKNOWN else as_list(variables):
        problems.extend(
            _pair_problems(
                dig(variable, "name"),
                dig(variable, "defaultValue"),
                "pipeline",
                "pipeline variables are plaintext in the pipeline's definition and history; pass a secret's ARN",
            )
        )
    return problems


def _task_definition_problems(props: Mapping[str, Any]) -> list[str]:
    definitions = dig(props, "containerDefinitions")
    if not isinstance(definitions, str) or is_unknown(definitions):
        return []
    try:
        containers = json.loads(definitions)
    except ValueError:
        return []
    problems = []
    for container in as_list(containers):
        where = f"container {dig(container, 'name')!r} environment"
        for variable in as_list(dig(container, "environment")):
            problems.extend(
                _pair_problems(
                    dig(variable, "name"),
                    dig(variable, "value"),
                    where,
                    "use `secrets` (valueFrom a Secrets Manager or SecureString ARN)",
                )
            )
    return problems


def _ssm_problems(props: Mapping[str, Any]) -> list[str]:
    kind = dig(props, "type")
    if kind is UNKNOWN or kind == "SecureString":
        return []
    value = dig(props, "value")
    value = dig(props, "insecureValue") if value is None else value
    return _pair_problems(dig(props, "name"), value, f"SSM parameter of type {kind!r}:", "use type SecureString")


def check_no_plaintext_secrets(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    if resource_type == CODEBUILD_PROJECT:
        variables = dig(props, "environment", "environmentVariables")
        found = [] if variables is UNKNOWN else _plaintext_secret_problems(as_list(variables), "CodeBuild environment")
        return found + _buildspec_problems(dig(props, "source", "buildspec"))
    if resource_type == PIPELINE:
        return _pipeline_problems(props)
    if resource_type == TASK_DEFINITION:
        return _task_definition_problems(props)
    if resource_type == SSM_PARAMETER:
        return _ssm_problems(props)
    return []
