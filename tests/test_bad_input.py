"""Bad configuration fails before any resource is registered, with one line per problem naming
the key, the bad value and what is allowed."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from components.settings import SettingsError, from_mapping
from components.testing import run_stack

ROOT = Path(__file__).resolve().parent.parent
GOOD = {
    "source": {"repository": "acme/orders-api"},
    "service": {"cluster": "dev", "name": "orders-api", "container": "app"},
}


def problems(**changes) -> list[str]:
    raw = {**GOOD, **changes}
    with pytest.raises(SettingsError) as caught:
        from_mapping({k: v for k, v in raw.items() if v is not None}, stack="dev")
    return caught.value.problems


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"source": {"branch": "main"}}, "ecs-cicd:source.repository is required: a GitHub repository as owner/name"),
        ({"source": None}, "ecs-cicd:source is required"),
        (
            {"source": {"repository": "orders-api"}},
            "ecs-cicd:source.repository = 'orders-api' is not valid; allowed: a GitHub repository as owner/name",
        ),
        (
            {"build": {"computeType": "BUILD_GENERAL1_HUGE"}},
            "ecs-cicd:build.computeType = 'BUILD_GENERAL1_HUGE' is not allowed; allowed: BUILD_GENERAL1_SMALL,",
        ),
        ({"deploy": {"timeoutMinutes": 90}}, "ecs-cicd:deploy.timeoutMinutes = 90 is out of range; allowed: 1 to 60"),
        ({"deploy": {"timeoutMinutes": 0}}, "ecs-cicd:deploy.timeoutMinutes = 0 is out of range; allowed: 1 to 60"),
        (
            {"pipeline": {"executionMode": "FAST"}},
            "ecs-cicd:pipeline.executionMode = 'FAST' is not allowed; allowed: QUEUED, SUPERSEDED, PARALLEL",
        ),
        (
            {"build": {"secrets": {"DB_PASSWORD": "hunter2"}}},
            "ecs-cicd:build.secrets.DB_PASSWORD = 'hunter2' is not valid; allowed: a Secrets Manager secret ARN",
        ),
        ({"environment": "Prod_1"}, "ecs-cicd:environment = 'Prod_1' is not valid; allowed: lowercase letters"),
        ({"environment": "a-very-long-environment"}, "ecs-cicd:environment = 'a-very-long-environment' is not valid"),
        ({"build": {"computeTyp": "X"}}, "ecs-cicd:build has unknown key(s) computeTyp; allowed: repositoryName,"),
        ({"deploy": {"requireApproval": "yes"}}, "ecs-cicd:deploy.requireApproval = 'yes' has the wrong type"),
    ],
)
def test_each_bad_value_is_named_with_what_is_allowed(changes, expected):
    found = problems(**changes)
    assert any(p.startswith(expected) for p in found), found


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DB_PASSWORD", "not-telling"),
        ("GITHUB_TOKEN", "whatever"),
        ("DEPLOY_KEY_ID", "AKIAIOSFODNN7EXAMPLE"),
        ("DATABASE_URL", "postgres://admin:s3cret@db.internal:5432/orders"),
        ("CONFIG", "ghp_" + "a" * 36),
    ],
)
def test_plaintext_variables_that_look_like_secrets_are_rejected(name, value):
    (problem,) = problems(build={"environment": {name: value}})
    assert problem.startswith(f"ecs-cicd:build.environment.{name} looks like a secret")
    assert f"ecs-cicd:build.secrets.{name}" in problem
    assert value not in problem, "the error must not echo the secret"


def test_plain_values_that_are_not_secrets_pass():
    settings = from_mapping({**GOOD, "build": {"environment": {"APP_ENV": "dev", "LOG_LEVEL": "debug"}}}, stack="dev")
    assert dict(settings.build.environment) == {"APP_ENV": "dev", "LOG_LEVEL": "debug"}


def test_all_problems_are_reported_at_once():
    found = problems(source={"repository": "x"}, deploy={"timeoutMinutes": 99}, pipeline={"executionMode": "NOPE"})
    assert len(found) == 3


def test_bad_config_stops_the_program_before_any_resource_is_registered():
    with pytest.raises(SettingsError) as caught:
        run_stack("dev", {"ecs-cicd:deploy": {"timeoutMinutes": 61}})
    assert "ecs-cicd:deploy.timeoutMinutes = 61" in str(caught.value)


def test_bad_config_is_a_pulumi_run_error_so_no_traceback_is_printed():
    import pulumi

    assert issubclass(SettingsError, pulumi.RunError)


def test_make_plan_prints_the_message_and_exits_non_zero(tmp_path):
    shutil.copy(ROOT / "Pulumi.yaml", tmp_path)
    shutil.copy(ROOT / "__main__.py", tmp_path)
    stack = yaml.safe_load((ROOT / "Pulumi.dev.yaml").read_text())
    stack["config"]["ecs-cicd:source"] = {"repository": "not a repo"}
    (tmp_path / "Pulumi.broken.yaml").write_text(yaml.safe_dump(stack))
    result = subprocess.run(
        [sys.executable, "-m", "components.plan", "broken", "--project-dir", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert "ecs-cicd:source.repository = 'not a repo' is not valid" in result.stderr
    assert "Traceback" not in result.stdout + result.stderr


def test_a_misspelt_top_level_key_is_an_error_not_silently_ignored():
    with pytest.raises(SettingsError) as caught:
        run_stack("dev", {"ecs-cicd:sevice": {"cluster": "dev"}})
    (problem,) = caught.value.problems
    assert problem.startswith(
        "ecs-cicd:sevice is not a known key; allowed: environment, production, protect, tags, source"
    )
