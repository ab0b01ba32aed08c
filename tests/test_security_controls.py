"""Security controls from the OWASP CI/CD Top 10, each guarded by a test that fails without it."""

import re
import shutil
from pathlib import Path

import pytest
import yaml

from components import plan
from components.settings import SettingsError
from components.testing import run_stack

from .helpers import evaluated

ROOT = Path(__file__).resolve().parent.parent
SCAN_BUILDSPECS = {"sca": "scan-dependencies", "sast": "scan-code", "secrets": "scan-secrets"}


def build_stage(run):
    stages = run.one("aws:codepipeline/pipeline:Pipeline").inputs["stages"]
    return next(s for s in stages if s["name"] == "Build")


def test_scans_run_in_parallel_with_the_image_build_on_the_source(run):
    actions = build_stage(run)["actions"]
    assert [a["name"] for a in actions] == ["Image", "Dependencies", "Code", "Secrets"]
    assert {a.get("runOrder", 1) for a in actions} == {1}
    assert all(a["inputArtifacts"] == ["SourceOutput"] for a in actions)


@pytest.mark.parametrize(("suffix", "buildspec"), SCAN_BUILDSPECS.items())
def test_each_scan_project_is_unprivileged_and_embeds_its_buildspec(run, settings, suffix, buildspec):
    project = run.named(f"{settings.pipeline.name}-scan-{suffix}-project").inputs
    assert project["environment"]["privilegedMode"] is False
    assert project["source"]["buildspec"] == (ROOT / "buildspecs" / f"{buildspec}.yml").read_text()


def test_only_the_image_build_is_privileged(run):
    privileged = [
        p.name for p in run.of_type("aws:codebuild/project:Project") if p.inputs["environment"]["privilegedMode"]
    ]
    assert len(privileged) == 1 and privileged[0].endswith("-build-project")


@pytest.mark.parametrize("buildspec", SCAN_BUILDSPECS.values())
def test_scan_tools_are_pinned_and_fail_on_findings(buildspec):
    spec = yaml.safe_load((ROOT / "buildspecs" / f"{buildspec}.yml").read_text())
    versions = {k: v for k, v in spec["env"]["variables"].items() if k.endswith("_VERSION")}
    assert versions and all(re.fullmatch(r"v?\d+\.\d+\.\d+", v) for v in versions.values())
    install = " ".join(spec["phases"]["install"]["commands"])
    assert all(f"${{{name}}}" in install for name in versions), "the install must use the pinned version"
    assert "@latest" not in install
    scan = " ".join(spec["phases"]["build"]["commands"])
    assert re.search(r"--error|--exit-code 1|scan source", scan)


def test_prod_cannot_skip_approval_without_the_explicit_insecure_flag():
    with pytest.raises(SettingsError, match=r"deploy.requireApproval = False is not allowed in prod"):
        run_stack("prod", {"ecs-cicd:deploy": {"requireApproval": False}})
    run = run_stack(
        "prod",
        {"ecs-cicd:deploy": {"requireApproval": False}, "ecs-cicd:insecure": {"allowUnapprovedProdDeploys": True}},
    )
    assert "Approve" not in [s["name"] for s in run.one("aws:codepipeline/pipeline:Pipeline").inputs["stages"]]


def test_prod_requires_approval_when_the_stack_does_not_say():
    run = run_stack("prod", {"ecs-cicd:deploy": {"timeoutMinutes": 30}})
    assert "Approve" in [s["name"] for s in run.one("aws:codepipeline/pipeline:Pipeline").inputs["stages"]]


def test_the_approval_notifies_an_encrypted_topic_and_links_the_commit():
    run = evaluated("prod")
    approve = next(s for s in run.one("aws:codepipeline/pipeline:Pipeline").inputs["stages"] if s["name"] == "Approve")
    configuration = approve["actions"][0]["configuration"]
    topic = run.one("aws:sns/topic:Topic", "orders-api-prod-approval-topic").inputs
    assert configuration["NotificationArn"] == topic["arn"]
    assert topic["kmsMasterKeyId"]
    assert (
        configuration["ExternalEntityLink"] == "https://github.com/acme/orders-api/commit/#{SourceVariables.CommitId}"
    )


def test_skipping_scans_needs_the_insecure_flag_and_plan_names_it(tmp_path, capsys):
    run = run_stack("dev", {"ecs-cicd:insecure": {"skipSecurityScans": True}})
    assert [a["name"] for a in build_stage(run)["actions"]] == ["Image"]
    assert len(run.of_type("aws:codebuild/project:Project")) == 1

    shutil.copy(ROOT / "Pulumi.yaml", tmp_path)
    shutil.copy(ROOT / "__main__.py", tmp_path)
    stack = yaml.safe_load((ROOT / "Pulumi.dev.yaml").read_text())
    stack["config"]["ecs-cicd:insecure"] = {"skipSecurityScans": True}
    (tmp_path / "Pulumi.lax.yaml").write_text(yaml.safe_dump(stack))
    assert plan.main(["lax", "--project-dir", str(tmp_path)]) == 0
    assert "insecure: ecs-cicd:insecure.skipSecurityScans is on" in capsys.readouterr().out


def test_no_long_lived_credentials_are_created(run):
    assert not [r for r in run.resources if r.type in ("aws:iam/user:User", "aws:iam/accessKey:AccessKey")]
