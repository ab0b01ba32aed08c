"""What the components accept from a library user, checked as the stack config is checked.

A `*Args` TypedDict is only a type hint: Python passes any dict. A misspelt key would be ignored
and a plaintext secret, a bad branch or an email typo would reach AWS. Each component checks its
arguments here first, with the messages the config validation gives for the same values, so the
library and the program agree on what is allowed."""

from collections.abc import Mapping, Sequence
from typing import Any

import jsonschema

from . import settings
from .config_schema import NAMESPACE, schema_for
from .settings import SecretRef


def known_keys(component: str, name: str, args: Mapping[str, Any], spec: type) -> None:
    """Refuse keys the component's Args type does not declare (a misspelling would be ignored)."""
    allowed = set(getattr(spec, "__required_keys__", set())) | set(getattr(spec, "__optional_keys__", set()))
    unknown = sorted(set(args) - allowed)
    if unknown:
        raise ValueError(
            f"{component} {name}: unknown argument(s) {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}"
        )


def like_config(component: str, name: str, path: str, value: Any) -> None:
    """Validate `value` as the config key `path` (`source.branch`) validates: the same schema and
    the same message, prefixed with the component."""
    key, *rest = path.split(".")
    schema = schema_for(key)
    for part in rest:
        schema = schema["properties"][part]
    errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(value), key=lambda e: list(e.absolute_path))
    if errors:
        raise ValueError(f"{component} {name}: " + "; ".join(settings.describe(path, error) for error in errors))


def secret_refs(component: str, name: str, secrets: Any, section: str) -> tuple[SecretRef, ...]:
    """Secrets as a user writes them: `SecretRef`s, or a mapping of variable name to reference (a
    Secrets Manager ARN, or a Parameter Store name or ARN), checked as `<section>.secrets` is."""
    if isinstance(secrets, Mapping):
        like_config(component, name, f"{section}.secrets", dict(secrets))
        return tuple(SecretRef(key, reference) for key, reference in sorted(secrets.items()))
    if isinstance(secrets, Sequence) and not isinstance(secrets, str):
        refs = tuple(secrets)
        bad = [s for s in refs if not isinstance(s, SecretRef)]
        if bad:
            raise ValueError(
                f"{component} {name}: secrets holds {bad[0]!r}; allowed: components.SecretRef(name, reference), "
                "or a mapping of variable name to Secrets Manager ARN or Parameter Store name"
            )
        like_config(component, name, f"{section}.secrets", {s.name: s.reference for s in refs})
        return refs
    raise ValueError(f"{component} {name}: secrets = {secrets!r}; allowed: a mapping of name to reference")


def no_plaintext_secrets(component: str, name: str, environment: Mapping[str, str], section: str) -> None:
    """Plain variables that look like secrets, refused with the config's message."""
    problems = settings.plaintext_secret_problems(environment, section)
    if problems:
        raise ValueError(f"{component} {name}: " + "; ".join(problems))


__all__ = ["NAMESPACE", "known_keys", "like_config", "no_plaintext_secrets", "secret_refs"]
