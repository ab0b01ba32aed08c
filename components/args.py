"""What the components accept from a library user, checked as the stack config is checked.

A `*Args` TypedDict is only a type hint: Python passes any dict. A misspelt key would be ignored
and a plaintext secret, a bad branch or an email typo would reach AWS. Each component checks its
arguments here first, with the messages the config validation gives for the same values, so the
library and the program agree on what is allowed."""

import ast
import inspect
import re
import textwrap
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Optional

from . import settings
from .config_schema import NAMESPACE, REGION, Validator, schema_for
from .settings import SecretRef


def known_keys(component: str, name: str, args: Mapping[str, Any], spec: type) -> None:
    """Refuse keys the component's Args type does not declare (a misspelling would be ignored)."""
    allowed = set(getattr(spec, "__required_keys__", set())) | set(getattr(spec, "__optional_keys__", set()))
    unknown = sorted(set(args) - allowed)
    if unknown:
        raise ValueError(
            f"{component} {name}: unknown argument(s) {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}"
        )


def require_region(what: str, value: Any) -> str:
    """`value` when it is an AWS region's name (the config's pattern), else an error naming `what`."""
    if not (isinstance(value, str) and re.fullmatch(REGION, value, re.ASCII)):
        raise ValueError(f"{what}={value!r} is not an AWS region; allowed: a region name such as us-east-1")
    return value


def like_config(component: str, name: str, path: str, value: Any) -> None:
    """Validate `value` as the config key `path` (`source.branch`) validates: the same schema and
    the same message, prefixed with the component."""
    key, *rest = path.split(".")
    schema = schema_for(key)
    for part in rest:
        schema = schema["properties"][part]
    errors = sorted(Validator(schema).iter_errors(_plain(value)), key=lambda e: list(e.absolute_path))
    if errors:
        raise ValueError(f"{component} {name}: " + "; ".join(settings.describe(path, error) for error in errors))


def _plain(value: Any) -> Any:
    """Any Mapping (the settings' read-only views included) as the dict JSON Schema calls an object."""
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


def like_config_keys(component: str, name: str, args: Mapping[str, Any], keys: Mapping[str, str]) -> None:
    """Validate each argument named in `keys` as its config key (`{"cpu": "service.cpu"}`), with
    the config's message naming the argument; a mapping argument's own keys are checked too."""
    for argument, path in keys.items():
        if args.get(argument) is None:
            continue
        try:
            like_config(component, name, path, args[argument])
        except ValueError as error:
            raise ValueError(str(error).replace(f"{NAMESPACE}:{path}", argument)) from None


def like_config_mapping(
    component: str, name: str, argument: str, value: Optional[Mapping[str, Any]], keys: Mapping[str, str]
) -> None:
    """A mapping argument (`traffic`, `autoscaling`): only the keys of `keys`, each checked as its
    config key. A misspelt key would otherwise fall back to a default, silently."""
    if value is None:
        return
    unknown = sorted(set(value) - set(keys))
    if unknown:
        raise ValueError(
            f"{component} {name}: {argument} has unknown key(s) {', '.join(unknown)}; allowed: {', '.join(keys)}"
        )
    like_config_keys(component, name, value, keys)


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


__all__ = [
    "NAMESPACE",
    "argument_docs",
    "documented",
    "known_keys",
    "like_config",
    "like_config_keys",
    "like_config_mapping",
    "no_plaintext_secrets",
    "secret_refs",
]


def documented(args_type: type) -> Callable[[type], type]:
    """Put a component's arguments in its help: each field of `args_type` with its type and the
    docstring written under it in the source (`help(GitHubSource)` would otherwise show Pulumi's
    inherited `__init__` text, and the arguments would live only in the source)."""

    def decorate(component: type) -> type:
        text = f"Arguments ({args_type.__name__}, a dict; unknown keys are refused):\n" + "\n".join(
            f"    {name}: {kind}\n        {doc}" if doc else f"    {name}: {kind}"
            for name, kind, doc in argument_docs(args_type)
        )
        component.__doc__ = f"{(component.__doc__ or '').rstrip()}\n\n{text}\n"
        if "__init__" in vars(component):  # its own, not Pulumi's: the signature stays as written
            component.__init__.__doc__ = text
        return component

    return decorate


def argument_docs(args_type: type) -> list[tuple[str, str, str]]:
    """(name, type as written, docstring) of each field of a TypedDict, read from its source."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(args_type)))
    body = tree.body[0].body  # type: ignore[attr-defined]
    fields = []
    for index, node in enumerate(body):
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            following = body[index + 1] if index + 1 < len(body) else None
            doc = (
                " ".join(str(following.value.value).split())
                if isinstance(following, ast.Expr) and isinstance(following.value, ast.Constant)
                else ""
            )
            fields.append((node.target.id, ast.unparse(node.annotation), doc))
    return fields
