"""Generate the README's configuration reference from `config_schema.py`.

    python -m components.docs          # print the table
    python -m components.docs --write  # replace it in README.md between the markers

A test fails when README.md and the schema disagree, so the reference cannot go stale.
"""

import json
import sys
from collections.abc import Iterator

from .config_schema import KEYS, NAMESPACE
from .settings import PROJECT_DIR

START, END = "<!-- config-reference:start -->", "<!-- config-reference:end -->"


def reference() -> str:
    lines = ["| key | type | default | meaning |", "| --- | --- | --- | --- |"]
    for key, schema in KEYS.items():
        lines.extend(_rows(f"{NAMESPACE}:{key}", schema, required=key in ("source", "service")))
    return "\n".join(lines)


def _rows(path: str, schema: dict, required: bool) -> Iterator[str]:
    default = "**required**" if required else _default(schema)
    yield f"| `{path}` | {_type(schema)} | {default} | {_meaning(schema)} |"
    for name, sub in schema.get("properties", {}).items():
        yield from _rows(f"{path}.{name}", sub, required=name in schema.get("required", []))
    items = schema.get("items", {}) if schema.get("type") == "array" else {}
    for name, sub in items.get("properties", {}).items():  # a list of objects: each entry's keys
        yield from _rows(f"{path}[].{name}", sub, required=name in items.get("required", []))


def _type(schema: dict) -> str:
    if "enum" in schema:
        return " \\| ".join(f"`{v}`" for v in schema["enum"]) if len(schema["enum"]) <= 5 else "integer (see meaning)"
    kind = schema.get("type", "")
    if kind == "integer" and "minimum" in schema:
        return f"integer {schema['minimum']}-{schema['maximum']}"
    if kind == "object" and "properties" not in schema:
        return "map of string" if isinstance(schema.get("additionalProperties"), dict) else "object"
    if kind == "array":
        return "list of objects (keys below)" if schema.get("items", {}).get("properties") else "list of string"
    return kind


def _default(schema: dict) -> str:
    if "default" not in schema or schema.get("properties"):
        return "-"
    return f"`{json.dumps(schema['default'])}`"


def _meaning(schema: dict) -> str:
    text = schema.get("description", "")
    if "enum" in schema and len(schema["enum"]) > 5:
        text += f" One of {', '.join(str(v) for v in schema['enum'])}."
    elif schema.get("x-allowed") and schema.get("type") == "string":
        text += f" Allowed: {schema['x-allowed']}."
    return text.replace("|", "\\|")


def write_readme() -> None:
    readme = PROJECT_DIR / "README.md"
    text = readme.read_text()
    before, rest = text.split(START, 1)
    _, after = rest.split(END, 1)
    readme.write_text(f"{before}{START}\n{reference()}\n{END}{after}")


if __name__ == "__main__":
    write_readme() if "--write" in sys.argv else print(reference())
