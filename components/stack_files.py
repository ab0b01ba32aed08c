"""The one reader of `Pulumi.yaml` and `Pulumi.<stack>.yaml` outside a Pulumi run (`make plan`, the
tests, the operations CLI's `--stack`): every problem a user can write into these files is a
`StackFileError` naming the file (and the line, where YAML says), never a traceback.

It reads YAML as Pulumi does (Go's yaml.v3, YAML 1.2): `yes`, `on`, `1:30` and dates stay strings;
a key twice in one mapping is an error (yaml.v3: "mapping key already defined"), not "the last
wins". Scalars under `config:` reach the program as Pulumi hands them over, as strings, so the
validation that follows is the one `pulumi up` runs.
"""

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from .config_schema import NAMESPACE
from .config_schema import REGION as REGION_NAME
from .settings import SettingsError

# Namespaces a stack of this program configures; another one close to these is a typo.
KNOWN_NAMESPACES = (NAMESPACE, "aws", "pulumi")
# Deeper than any key of the schema (and far below Python's recursion limit).
MAX_DEPTH = 32
REGION = re.compile(REGION_NAME, re.ASCII)


class StackFileError(SettingsError):
    """A stack or project file that cannot be read as Pulumi would read it."""


class _PulumiYamlLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """YAML 1.2's core schema for plain scalars, and duplicate keys refused."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: dict[Any, yaml.Node] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: *defaults`: merged below, own keys win
                continue
            key = self.construct_object(key_node, deep=True)
            if not isinstance(key, (str, int, float, bool)) and key is not None:
                raise yaml.constructor.ConstructorError(
                    None, None, "a mapping key must be a plain value", key_node.start_mark
                )
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {key!r} is defined twice in one mapping (Pulumi refuses it)", key_node.start_mark
                )
            seen[key] = key_node
        self.flatten_mapping(node)
        return super().construct_mapping(node, deep=deep)

    def construct_yaml_int(self, node: yaml.ScalarNode) -> int:
        """YAML 1.2: decimal (`09` is nine), `0o` octal, `0x` hexadecimal."""
        text = str(self.construct_scalar(node)).replace("_", "")
        for prefix, base in (("0o", 8), ("0x", 16)):
            if text.lower().lstrip("+-").startswith(prefix):
                sign = -1 if text.startswith("-") else 1
                return sign * int(text.lstrip("+-")[2:], base)
        return int(text, 10)

    def refuse_tag(self, node: yaml.Node) -> Any:
        raise yaml.constructor.ConstructorError(
            None, None, f"the tag {node.tag} is not allowed; allowed: plain values, lists and mappings", node.start_mark
        )


_PulumiYamlLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _PulumiYamlLoader.construct_mapping)
_PulumiYamlLoader.add_constructor("tag:yaml.org,2002:int", _PulumiYamlLoader.construct_yaml_int)
# What JSON (Pulumi's config) cannot hold, and any other explicit tag: refused, never constructed.
for _unsupported in ("binary", "set", "timestamp", "omap", "pairs"):
    _PulumiYamlLoader.add_constructor(f"tag:yaml.org,2002:{_unsupported}", _PulumiYamlLoader.refuse_tag)
_PulumiYamlLoader.add_constructor(None, _PulumiYamlLoader.refuse_tag)
# YAML 1.2 core schema: only true/false are booleans, no sexagesimal numbers, no timestamps.
_YAML_1_1_ONLY = {f"tag:yaml.org,2002:{kind}" for kind in ("bool", "timestamp", "int", "float")}
_PulumiYamlLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag not in _YAML_1_1_ONLY]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
for _tag, _pattern, _first in (
    ("tag:yaml.org,2002:bool", r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
    ("tag:yaml.org,2002:int", r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$", "-+0123456789"),
    (
        "tag:yaml.org,2002:float",
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$",
        "-+0123456789.",
    ),
):
    _PulumiYamlLoader.add_implicit_resolver(_tag, re.compile(_pattern), list(_first))


def parse(text: bytes, where: str) -> Any:
    """A YAML document as Pulumi reads it; `where` names the file in every error."""
    try:
        decoded = text.decode("utf-8")
    except UnicodeDecodeError as error:
        raise StackFileError([f"{where}: not UTF-8 (byte {error.start} is {text[error.start]:#04x})"]) from None
    try:
        document = yaml.load(decoded, Loader=_PulumiYamlLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        at = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise StackFileError([f"{where}:{at}: {error.problem or error.context}"]) from None
    except (yaml.YAMLError, RecursionError, ValueError, TypeError, KeyError, OverflowError) as error:
        reason = "nested too deeply" if isinstance(error, RecursionError) else " ".join(str(error).split())
        raise StackFileError([f"{where}: {reason}"]) from None
    problem = _shape_problem(document)
    if problem:
        raise StackFileError([f"{where}: {problem}"])
    return document


# Aliases can make a small file expand to billions of values (Pulumi's YAML library refuses
# "excessive aliasing"); a file of this program's keys holds a few hundred.
MAX_VALUES = 100_000


def _shape_problem(value: Any) -> str:
    """Too deep (a self-referencing alias is infinitely so) or too many values, found without
    recursion and without walking more than MAX_VALUES values."""
    stack, seen = [(value, 1)], 0
    while stack:
        item, depth = stack.pop()
        seen += 1
        if depth > MAX_DEPTH:
            return f"nested more than {MAX_DEPTH} levels deep (or an alias refers to itself); no key of this program is"
        if seen > MAX_VALUES:
            return f"more than {MAX_VALUES:,} values once aliases are expanded; no stack of this program has"
        if isinstance(item, Mapping):
            stack += [(child, depth + 1) for child in item.values()]
        elif isinstance(item, list):
            stack += [(child, depth + 1) for child in item]
    return ""


@dataclass(frozen=True)
class Project:
    name: str
    main: str
    defaults: dict[str, Any] = field(default_factory=dict)
    """Fully qualified config keys with the `default` or `value` Pulumi.yaml gives them."""


def read_project(project_dir: Path) -> Project:
    path = Path(project_dir) / "Pulumi.yaml"
    try:
        stat = path.stat()
    except OSError:
        raise StackFileError([f"no Pulumi.yaml in {project_dir} (point --project-dir at the Pulumi project)"]) from None
    return _read_project(path, stat.st_mtime_ns, stat.st_size)


@cache
def _read_project(path: Path, _mtime: int, _size: int) -> Project:
    """Parsed once per version of the file: the tests read it thousands of times."""
    document = parse(_read(path, str(path)), str(path))
    if not isinstance(document, Mapping):
        raise StackFileError([f"{path}: must be a mapping with at least `name` and `runtime`"])
    name = document.get("name")
    if not isinstance(name, str) or not name:
        raise StackFileError([f"{path}: `name` is missing or not a string; allowed: the project's name"])
    config = document.get("config") or {}
    if not isinstance(config, Mapping):
        raise StackFileError([f"{path}: `config` must be a mapping of key to declaration, not {_kind(config)}"])
    defaults = {}
    for key, declaration in config.items():
        qualified = str(key) if ":" in str(key) else f"{name}:{key}"
        if isinstance(declaration, Mapping):
            for source in ("value", "default"):
                if source in declaration:
                    defaults[qualified] = _as_pulumi_hands_it_over(declaration[source])
                    break
        else:
            defaults[qualified] = _as_pulumi_hands_it_over(declaration)
    main = document.get("main", ".")
    target = path.parent / main if isinstance(main, str) else None
    if target is None or not (target.is_dir() or (target.is_file() and target.suffix == ".py")):
        raise StackFileError([f"{path}: `main` must be the program's folder or its .py file; {main!r} is neither"])
    return Project(name=name, main=main, defaults=defaults)


def read_stack_config(stack: str, project_dir: Path) -> dict[str, Any]:
    """`Pulumi.yaml` defaults overlaid with `Pulumi.<stack>.yaml`, as fully qualified keys."""
    project_dir = Path(project_dir)
    project = read_project(project_dir)
    path = project_dir / f"Pulumi.{stack}.yaml"
    if not path.exists():
        available = sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in project_dir.glob("Pulumi.*.yaml"))
        raise StackFileError([f"no stack file {path.name} in {project_dir}; stacks here: {', '.join(available)}"])
    document = parse(_read(path, path.name), path.name) or {}
    if not isinstance(document, Mapping):
        raise StackFileError([f"{path.name}: must be a mapping with a `config:` mapping, not {_kind(document)}"])
    config = document.get("config") or {}
    if not isinstance(config, Mapping):
        raise StackFileError([f"{path.name}: `config` must be a mapping of key to value, not {_kind(config)}"])
    values = dict(project.defaults)
    problems = []
    for key, value in config.items():
        key = str(key)
        namespace = key.split(":", 1)[0] if ":" in key else project.name
        qualified = key if ":" in key else f"{project.name}:{key}"
        known = (*KNOWN_NAMESPACES, project.name)
        close = difflib.get_close_matches(namespace.lower(), known, n=1, cutoff=0.75)
        if namespace not in known and close:
            problems.append(f"{path.name}: {key}: unknown namespace {namespace!r}; did you mean {close[0]}:?")
            continue
        if value is None:  # `build:` with nothing after it: as if not set
            values.pop(qualified, None)
            continue
        values[qualified] = _as_pulumi_hands_it_over(value)
    region = values.get("aws:region")
    if region is not None and not (isinstance(region, str) and REGION.fullmatch(region)):
        problems.append(f"{path.name}: aws:region = {region!r} is not an AWS region; allowed: e.g. eu-west-1")
    if problems:
        raise StackFileError(problems)
    return values


def _read(path: Path, where: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise StackFileError([f"{where}: cannot read it: {error.strerror or error}"]) from None


def _as_pulumi_hands_it_over(value: Any) -> Any:
    """A top-level scalar is a string to the program (`pulumi.Config.get`); objects are JSON, whose
    keys are strings (`{1: x}` reaches the program as `{"1": "x"}`)."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (int, float)):
        return str(value)
    return _json_keys(value)


def _json_keys(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {_key(k): _json_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_keys(v) for v in value]
    return value


def _key(key: Any) -> str:
    if isinstance(key, bool):
        return str(key).lower()
    return "null" if key is None else str(key)


def _kind(value: Any) -> str:
    return {list: "a list", str: "a string", int: "a number", float: "a number", bool: "a boolean"}.get(
        type(value), type(value).__name__
    )
