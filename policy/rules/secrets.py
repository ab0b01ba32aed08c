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
LAMBDA_FUNCTION = "aws:lambda/function:Function"
SSM_PARAMETER = "aws:ssm/parameter:Parameter"

SECRET_NAME = re.compile(
    r"PASSWORD|PASSWD|PASSPHRASE|(?:^|_)PASS(?:$|_)|(?:^|_)PWD(?:$|_)|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY"
    r"|SIGNING_?KEY|ENCRYPTION_?KEY|CREDENTIAL|ACCESS_?KEY|AUTH_?KEY",
    re.IGNORECASE,
)
# A value that refers to a secret rather than holding one: the pack's own advice for variables.
SECRET_REFERENCE = re.compile(r"^arn:aws[a-z-]*:(?:secretsmanager|ssm):[a-z0-9-]+:\d{12}:(?:secret:|parameter/)\S+$")
# Shapes documented by their issuers (and used by gitleaks' default rules).
SECRET_VALUES = (
    ("an AWS access key id", re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b")),
    # AWS secret access keys are 40 characters of base64: named as such (`aws_secret_access_key=`),
    # or standing alone with both cases, a digit and a `/` or `+` (which identifiers and hex
    # digests lack).
    (
        "an AWS secret access key",
        re.compile(r"(?i)(?:secret|aws)[\w.-]{0,30}\s*[=:]\s*['\"]?[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+])"),
    ),
    (
        "an AWS secret access key",
        re.compile(
            r"(?<![A-Za-z0-9/+])(?=[A-Za-z0-9/+]*[a-z])(?=[A-Za-z0-9/+]*[A-Z])(?=[A-Za-z0-9/+]*\d)"
            r"(?=[A-Za-z0-9/+]*[/+])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])"
        ),
    ),
    ("a GitHub token", re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,})")),
    ("a GitLab token", re.compile(r"\bglpat-[A-Za-z0-9_-]{20,}")),
    ("a Slack token", re.compile(r"\b(?:xox[abposr]|xapp)-[A-Za-z0-9-]{10,}")),
    ("a Slack webhook", re.compile(r"https://hooks\.slack\.com/services/T\w+/B\w+/\w+")),
    ("a Stripe secret key", re.compile(r"\b[sr]k_live_[A-Za-z0-9]{20,}")),
    ("an npm token", re.compile(r"\bnpm_[A-Za-z0-9]{36}\b")),
    ("a Google API key", re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b")),
    ("a SendGrid key", re.compile(r"\bSG\.[\w-]{22}\.[\w-]{43}\b")),
    ("an OpenAI key", re.compile(r"\bsk-(?:proj-|svcacct-)[A-Za-z0-9_-]{20,}")),
    ("a JSON web token", re.compile(r"\beyJ[\w-]{10,}\.eyJ[\w-]{10,}\.[\w-]{10,}")),
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
    if isinstance(value, str) and SECRET_REFERENCE.match(value.strip()):
        return []  # `DB_SECRET_ARN`: a reference, which is what the advice asks for
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
    fix = "move it to env.secrets-manager or env.parameter-store"
    variables = dig(parsed, "env", "variables")
    problems = (
        [p for name, value in variables.items() for p in _pair_problems(name, value, "buildspec env", fix)]
        if isinstance(variables, Mapping)
        else []
    )
    for text in _strings(parsed, skip=("env",)):
        what = looks_like_a_secret(text)
        if what:
            problems.append(f"the inline buildspec holds {what} in plain text; read it from env.secrets-manager")
    return problems


def _strings(value: Any, skip: tuple[str, ...] = ()) -> list[str]:
    """Every string in a parsed document (commands, arguments, values)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, Mapping):
        return [s for k, v in value.items() if k not in skip for s in _strings(v)]
    if isinstance(value, (list, tuple)):
        return [s for v in value for s in _strings(v)]
    return []


def _pipeline_problems(props: Mapping[str, Any]) -> list[str]:
    problems = []
    for stage, action in pipeline_actions(props) or []:
        configuration = dig(action, "configuration")
        for key, text in configuration.items() if isinstance(configuration, Mapping) else []:
            what = key != "EnvironmentVariables" and looks_like_a_secret(text)
            if what:
                problems.append(f"pipeline action {action_name(stage, action)}: {key} holds {what} in plain text")
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
        for text in _strings([dig(container, "command"), dig(container, "entryPoint")]):
            what = looks_like_a_secret(text)
            if what:
                problems.append(f"container {dig(container, 'name')!r} command holds {what} in plain text")
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
    if resource_type == LAMBDA_FUNCTION:
        variables = dig(props, "environment", "variables")
        fix = "read it from Secrets Manager at run time"
        return [
            p
            for name, value in (variables.items() if isinstance(variables, Mapping) else [])
            for p in _pair_problems(name, value, "Lambda environment", fix)
        ]
    return []
