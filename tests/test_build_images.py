"""The facts the buildspecs rely on about their build image and downloads (components/images.py)
hold for every buildspec and every project the stacks create."""

from pathlib import Path

import pytest
import yaml

from components.images import DOWNLOADS, IMAGES, STANDARD_5

ROOT = Path(__file__).resolve().parent.parent
BUILDSPECS = {p.stem: yaml.safe_load(p.read_text()) for p in sorted((ROOT / "buildspecs").glob("*.yml"))}


def commands(spec: dict) -> str:
    return "\n".join(c for phase in spec["phases"].values() for c in phase.get("commands", []))


@pytest.mark.parametrize("name", DOWNLOADS)
def test_every_download_is_pinned_by_version_and_digest_where_it_is_used(name):
    download = DOWNLOADS[name]
    variables = " ".join(map(str, BUILDSPECS[download.buildspec]["env"]["variables"].values()))
    assert download.version in variables and download.sha256 in variables


@pytest.mark.parametrize("name", BUILDSPECS)
def test_no_buildspec_relies_on_a_runtime_it_does_not_pin(name):
    """The image's default Go is 1.20, which cannot build today's scanners; a buildspec that
    compiles Go code must pin `runtime-versions` (and so for every runtime the image defaults)."""
    spec = BUILDSPECS[name]
    pinned = spec["phases"].get("install", {}).get("runtime-versions", {})
    text = commands(spec)
    for runtime, program in (("golang", "go "), ("nodejs", "npm ")):
        if program in text:
            assert runtime in pinned, f"{name} runs `{program.strip()}` on the image's default {runtime}"


def test_every_project_of_every_stack_runs_an_image_whose_facts_are_known(run):
    for project in run.of_type("aws:codebuild/project:Project"):
        assert project.inputs["environment"]["image"] in IMAGES, project.name


def test_the_image_facts_name_their_source():
    assert "aws-codebuild-docker-images" in STANDARD_5.source and STANDARD_5.default_runtimes["golang"] == "1.20"
