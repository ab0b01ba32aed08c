"""Any file a user can write gives a clean error naming it, or a clean plan: never a traceback, on
`make plan`'s path and the operations CLI's `--stack` path alike (one reader,
`components/stack_files.py`, one validator)."""

import copy
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pulumi
import pytest
import yaml

from components.settings import SettingsError, stack_settings
from components.testing import run_stack
from ops.target import OpsError, read_stack

ROOT = Path(__file__).resolve().parent.parent
STACK_FILE = (ROOT / "Pulumi.dev.yaml").read_text()


def project(tmp_path: Path, stack_text: str | bytes, project_text: str | bytes | None = None) -> Path:
    """A project folder with this project's Pulumi.yaml (or `project_text`) and a stack `t`."""
    (tmp_path / "Pulumi.yaml").write_bytes(
        (project_text if project_text is not None else (ROOT / "Pulumi.yaml").read_text()).encode()
        if isinstance(project_text, str) or project_text is None
        else project_text
    )
    (tmp_path / "Pulumi.t.yaml").write_bytes(stack_text.encode() if isinstance(stack_text, str) else stack_text)
    return tmp_path


def outcome(folder: Path) -> tuple[str, str]:
    """("ok", "") or ("error", message), by both paths; anything else is a traceback, a failure."""
    results = []
    try:
        stack_settings("t", str(folder))
        results.append(("ok", ""))
    except SettingsError as error:
        results.append(("error", str(error)))
    try:
        read_stack("t", str(folder))
        results.append(("ok", ""))
    except OpsError as error:
        results.append(("error", str(error)))
    assert results[0][0] == results[1][0], f"make plan and the CLI disagree: {results}"
    return results[0]


def with_config(**changes: Any) -> str:
    document = yaml.safe_load(STACK_FILE)
    document["config"].update(changes)
    return yaml.safe_dump(document)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("config: [\n  ecs-cicd:source: {", "Pulumi.t.yaml: line"),
        ("- a list", "must be a mapping"),
        ("just a string", "must be a mapping"),
        ("config: [1, 2]", "`config` must be a mapping"),
        ("config: text", "`config` must be a mapping"),
        (b"config:\n  ecs-cicd:environment: caf\xe9\n", "not UTF-8"),
        ("config:\n  aws:region: eu-west-1\n  aws:region: eu-west-2\n", "defined twice"),
        ("config:\n  ecs-cicdd:environment: qa\n  aws:region: eu-west-1\n", "did you mean ecs-cicd:?"),
        ("config:\n" + "  " + "a: " * 2000 + "1\n", "Pulumi.t.yaml"),
        ("config:\n  x: " + "[" * 2000 + "]" * 2000 + "\n", "nested"),
    ],
)
def test_a_file_that_cannot_be_read_is_named_with_why(tmp_path, text, says):
    state, message = outcome(project(tmp_path, text))
    assert state == "error" and says in message


@pytest.mark.parametrize(
    ("project_text", "says"),
    [(None, "no Pulumi.yaml in"), ("", "must be a mapping"), ("runtime: python\n", "`name` is missing"),
     ("name: ecs-cicd\nconfig: [a]\n", "`config` must be a mapping")],
)  # fmt: skip
def test_a_project_file_that_cannot_be_read_is_named_with_why(tmp_path, project_text, says):
    folder = project(tmp_path, STACK_FILE, project_text if project_text is not None else "")
    if project_text is None:
        (folder / "Pulumi.yaml").unlink()
    state, message = outcome(folder)
    assert state == "error" and says in message


@pytest.mark.parametrize(
    ("changes", "says"),
    [
        ({"ecs-cicd:deploy": {"timeoutMinutes": 15.0}}, "ecs-cicd:deploy.timeoutMinutes = 15.0 has the wrong type"),
        ({"aws:region": "eu-west-9x"}, "is not an AWS region"),
        ({"ecs-cicd:source": {"repository": "acme/orders-api", "branch": "refs/heads/main"}}, "not refs/heads/main"),
        ({"ecs-cicd:protect": "yes"}, "ecs-cicd:protect"),
    ],
)
def test_values_pulumi_would_not_take_as_meant_are_refused(tmp_path, changes, says):
    state, message = outcome(project(tmp_path, with_config(**changes)))
    assert state == "error" and says in message, message


def test_no_region_is_an_error_not_us_east_1(tmp_path, monkeypatch):
    for variable in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(variable, raising=False)
    document = yaml.safe_load(STACK_FILE)
    del document["config"]["aws:region"]
    state, message = outcome(project(tmp_path, yaml.safe_dump(document)))
    assert state == "error" and "aws:region is not set" in message


def test_yaml_1_1_surprises_are_read_as_pulumi_reads_them(tmp_path):
    """`on`, `yes`, `1:30` and dates are strings to Pulumi (YAML 1.2), so they are here."""
    text = STACK_FILE.replace("ecs-cicd:source:", "ecs-cicd:tags:\n    window: 1:30\n    flag: on\necs-cicd:source:")
    text = text.replace("\necs-cicd:tags:", "\n  ecs-cicd:tags:").replace("\necs-cicd:source:", "\n  ecs-cicd:source:")
    folder = project(tmp_path, text)
    assert outcome(folder) == ("ok", "")
    assert dict(stack_settings("t", str(folder)).tags) | {"window": "1:30", "flag": "on"} == dict(
        stack_settings("t", str(folder)).tags
    )
    dated = project(tmp_path, STACK_FILE.replace("branch: develop", "branch: 2024-01-01"))
    assert stack_settings("t", str(dated)).services[0].source.branch == "2024-01-01"


@pytest.mark.parametrize("changes", [{"ecs-cicd:environment": True}, {"ecs-cicd:build": None}])
def test_make_plan_and_the_cli_agree(tmp_path, changes):
    outcome(project(tmp_path, with_config(**changes)))  # asserts the agreement


def test_the_readme_example_reports_all_three_problems(tmp_path):
    readme = (ROOT / "README.md").read_text()
    example = readme.split("invalid stack configuration:\n", 1)[1].split("```", 1)[0]
    shown = [line.strip()[2:].split(" ")[0] for line in example.strip().splitlines()]
    config = with_config(
        **{
            "ecs-cicd:source": {"repository": "orders-api", "branch": "develop"},
            "ecs-cicd:deploy": {"timeoutMinutes": 90},
            "ecs-cicd:build": {"environment": {"DB_PASSWORD": "hunter2-but-longer"}},
        }
    )
    state, message = outcome(project(tmp_path, config))
    assert state == "error"
    assert [line.strip()[2:].split(" ")[0] for line in message.splitlines()[1:]] == shown


# The fuzz: every node of every stack file, at every depth, replaced by each kind of value; and
# the files' bytes truncated. Each gives a clean error or a clean evaluation.
REPLACEMENTS: list[Any] = [None, [], "x" * 300, -1, 1.5, True, {"nested": {"deeper": [None]}}]
STACK_FILES = sorted([*ROOT.glob("Pulumi.*.yaml"), *(ROOT / "examples" / "monorepo").glob("Pulumi.*.yaml")])


def paths(node: Any, at: tuple = ()) -> list[tuple]:
    found = [at] if at else []
    children = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else []
    for key, child in children:
        found += paths(child, (*at, key))
    return found


def mutated(document: Any, path: tuple, value: Any) -> Any:
    copied = copy.deepcopy(document)
    parent = copied
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = value
    return copied


def evaluates_cleanly(folder: Path, project_dir: Path) -> None:
    """The program, when the settings are accepted: a clean error or a clean run."""
    state, _ = outcome(folder)
    if state == "ok":
        try:
            run_stack("t", project_dir=folder)
        except pulumi.RunError:
            pass


@pytest.mark.parametrize("stack_file", STACK_FILES, ids=lambda p: p.name)
def test_fuzz_every_node_of_every_stack_file(tmp_path, stack_file):
    document = yaml.safe_load(stack_file.read_text())
    # The program is this repository's, wherever the copy sits.
    project_file = yaml.safe_load((stack_file.parent / "Pulumi.yaml").read_text())
    project_file = yaml.safe_dump({**project_file, "main": str(ROOT)})
    cases = [(path, value) for path in paths(document) for value in REPLACEMENTS]
    evaluated = 0
    for number, (path, value) in enumerate(cases):
        folder = tmp_path / str(number)
        folder.mkdir()
        project(folder, yaml.safe_dump(mutated(document, path, value)), project_file)
        state, _ = outcome(folder)
        if state == "ok" and number % 5 == 0 and evaluated < 6:  # the program, on a spread of accepted ones
            evaluated += 1
            evaluates_cleanly(folder, ROOT)
        shutil.rmtree(folder)
    text = stack_file.read_bytes()
    for cut in range(1, len(text), max(1, len(text) // 25)):
        folder = tmp_path / f"cut{cut}"
        folder.mkdir()
        project(folder, text[:cut] + b"\xff" * (cut % 2), project_file)
        outcome(folder)
        shutil.rmtree(folder)


def test_make_plan_prints_no_traceback_for_a_broken_file(tmp_path):
    folder = project(tmp_path, "config: [\n")
    result = subprocess.run(
        [sys.executable, "-m", "components.plan", "t", "--project-dir", str(folder)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2 and "Traceback" not in result.stdout + result.stderr
    assert result.stdout == "" and "Pulumi.t.yaml: line 2" in result.stderr  # errors on stderr: stdout stays the plan


# What a second, adversarial look found (each gave a traceback or a hang before).
@pytest.mark.parametrize(
    ("text", "says"),
    [
        (
            "config:\n  aws:region: eu-west-1\n  ecs-cicd:tags: !!binary aGVsbG8=\n",
            "tag:yaml.org,2002:binary is not allowed",
        ),
        ("config:\n  ecs-cicd:tags: !!set {a, b}\n", "tag:yaml.org,2002:set is not allowed"),
        ("config:\n  ecs-cicd:environment: !!timestamp 2020-01-01\n", "timestamp is not allowed"),
        ("config:\n  ecs-cicd:environment: !!python/object:os.system x\n", "is not allowed"),
        ("config:\n  ecs-cicd:environment: !!int abc\n", "Pulumi.t.yaml: invalid literal"),
        ("config:\n  ecs-cicd:environment: !!bool maybe\n", "Pulumi.t.yaml"),
        ("config:\n  ecs-cicd:environment: " + "9" * 5000 + "\n", "Pulumi.t.yaml: Exceeds the limit"),
        ("config:\n  ecs-cicd:tags: &a [*a]\n", "an alias refers to itself"),
        (
            "config:\n  a0: &a0 [x,x,x,x,x,x,x,x,x]\n"
            + "".join(f"  a{i}: &a{i} [{', '.join(['*a' + str(i - 1)] * 9)}]\n" for i in range(1, 10)),
            "more than 100,000 values",
        ),
        ('config:\n  aws:region: "eu-west-1\\n"\n', "is not an AWS region"),
        ("config:\n  aws:region: eu-west-\u0661\n", "is not an AWS region"),
        ("config:\n  ECS-CICD:environment: qa\n  aws:region: eu-west-1\n", "did you mean ecs-cicd:?"),
    ],
)
def test_what_a_second_look_found_is_a_clean_error(tmp_path, text, says):
    state, message = outcome(project(tmp_path, text))
    assert state == "error" and says in message, message


def test_yaml_1_2_numbers_and_merge_keys_read_as_pulumi_reads_them(tmp_path):
    text = with_config(**{"ecs-cicd:deploy": {"timeoutMinutes": 9}}).replace("timeoutMinutes: 9", "timeoutMinutes: 09")
    assert stack_settings("t", str(project(tmp_path, text))).services[0].deploy.timeout_minutes == 9
    document = yaml.safe_load(STACK_FILE)
    document["config"].pop("ecs-cicd:deploy", None)
    merged = yaml.safe_dump(document) + "  ecs-cicd:deploy:\n    <<: {timeoutMinutes: 20}\n    requireApproval: false\n"
    (tmp_path / "m").mkdir()
    settings = stack_settings("t", str(project(tmp_path / "m", merged)))
    assert settings.services[0].deploy.timeout_minutes == 20


def test_keys_that_are_not_strings_reach_the_program_as_json_keys(tmp_path):
    text = with_config(**{"ecs-cicd:build": {"environment": {1: "x"}}})
    state, message = outcome(project(tmp_path, text))
    assert state == "error" and "ecs-cicd:build.environment" in message


@pytest.mark.parametrize("what", ["stack file", "project file"])
def test_a_file_that_is_a_folder_is_named(tmp_path, what):
    folder = project(tmp_path, STACK_FILE)
    target = folder / ("Pulumi.t.yaml" if what == "stack file" else "Pulumi.yaml")
    target.unlink()
    target.mkdir()
    state, message = outcome(folder)
    assert state == "error" and "cannot read it" in message


def test_a_main_that_is_not_a_folder_is_named(tmp_path):
    folder = project(tmp_path, STACK_FILE, "name: ecs-cicd\nruntime: python\nmain: /etc/passwd\n")
    state, message = outcome(folder)
    assert state == "error" and "`main` must be the program's folder or its .py file" in message


@pytest.mark.parametrize(
    "region", ["eu-west-1", "us-gov-west-1", "cn-north-1", "us-iso-east-1", "eu-isoe-west-1", "mx-central-1"]
)
def test_every_partitions_region_names_are_accepted(tmp_path, region):
    assert outcome(project(tmp_path, with_config(**{"aws:region": region}))) == ("ok", "")


def test_a_main_that_is_the_programs_file_is_run(tmp_path):
    """Pulumi's `main` may name the program's .py file rather than its folder."""
    (tmp_path / "program.py").write_text('import pulumi_aws as aws\n\naws.s3.Bucket("only")\n')
    folder = project(tmp_path, "config:\n  aws:region: eu-west-1\n", "name: own\nruntime: python\nmain: program.py\n")
    run = run_stack("t", project_dir=folder)
    assert [bucket.name for bucket in run.of_type("aws:s3/bucket:Bucket")] == ["only"]
