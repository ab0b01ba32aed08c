"""Every buildspec in buildspecs/ matches schemas/buildspec.schema.json, and the schema rejects the
mistakes CodeBuild would otherwise ignore or only report mid-build."""

import json
from pathlib import Path

import pytest
import yaml
from jsonschema import Draft202012Validator

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = json.loads((ROOT / "schemas" / "buildspec.schema.json").read_text())
BUILDSPECS = sorted((ROOT / "buildspecs").glob("*.yml"))
ALL_KEYS = Path(__file__).resolve().parent / "fixtures" / "buildspecs" / "all-keys.yml"
VALIDATOR = Draft202012Validator(SCHEMA)

MINIMAL = """
version: 0.2
phases:
  build:
    commands:
      - make
"""


def errors(buildspec: dict) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in VALIDATOR.iter_errors(buildspec)]


def test_schema_is_valid_draft_2020_12():
    Draft202012Validator.check_schema(SCHEMA)


def test_there_are_buildspecs():
    assert BUILDSPECS


@pytest.mark.parametrize("path", BUILDSPECS, ids=lambda path: path.name)
def test_buildspec_matches_schema(path):
    assert errors(yaml.safe_load(path.read_text())) == []


@pytest.mark.parametrize("text", [MINIMAL, ALL_KEYS.read_text()], ids=["minimal", "all-documented-keys"])
def test_schema_accepts_documented_syntax(text):
    assert errors(yaml.safe_load(text)) == []


BAD = {
    "unknown top-level key": ("artifact:\n  files: [a]\n", "'artifact' was unexpected"),
    "wrong version": ("version: 0.1\n", "0.2 was expected"),
    "version as a string": ("version: '0.2'\n", "0.2 was expected"),
    "commands not a list": ("phases:\n  build:\n    commands: make\n", "is not of type 'array'"),
    "command read as a mapping": ("phases:\n  build:\n    commands:\n      - echo a: b\n", "is not of type 'string'"),
    "unknown phase": ("phases:\n  prebuild:\n    commands: [make]\n", "'prebuild' was unexpected"),
    "phase without commands": ("phases:\n  build:\n    finally: [make]\n", "'commands' is a required property"),
    "unknown on-failure": ("phases:\n  build:\n    on-failure: IGNORE\n    commands: [make]\n", "does not match"),
    "runtime-versions outside install": (
        "phases:\n  build:\n    runtime-versions: {python: 3.11}\n    commands: [make]\n",
        "'runtime-versions' was unexpected",
    ),
    "unknown env key": ("env:\n  vars: {A: b}\n", "'vars' was unexpected"),
    "reserved variable name": ("env:\n  variables: {CODEBUILD_X: b}\n", "should not be valid"),
    "unknown shell": ("env:\n  shell: zsh\n", "is not one of"),
    "artifacts without files": ("artifacts:\n  name: out\n", "'files' is a required property"),
    "unknown artifacts key": ("artifacts:\n  files: [a]\n  discard_paths: yes\n", "'discard_paths' was unexpected"),
    "unknown cache key": ("cache:\n  path: [a]\n", "'path' was unexpected"),
}


@pytest.mark.parametrize(("change", "message"), BAD.values(), ids=BAD.keys())
def test_schema_rejects(change, message):
    buildspec = yaml.safe_load(MINIMAL) | yaml.safe_load(change)
    found = errors(buildspec)
    assert any(message in error for error in found), found
