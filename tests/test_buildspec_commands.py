"""Run the image buildspec's commands in bash with `docker` and `aws` stand-ins, and check
what reaches the deploy: imagedefinitions.json naming the container and the pushed digest."""

import json
import os
import stat
import subprocess
from pathlib import Path

import pytest
import yaml

BUILDSPEC = Path(__file__).resolve().parent.parent / "buildspecs" / "build-image.yml"
DIGEST = "sha256:" + "ab" * 32

FAKE_DOCKER = """#!/usr/bin/env bash
echo "docker $*" >> "$CALLS"
cat > /dev/null
"""
FAKE_AWS = f"""#!/usr/bin/env bash
echo "aws $*" >> "$CALLS"
case "$*" in
  *get-login-password*) echo token ;;
  *describe-images*) echo "${{FAKE_DIGEST-{DIGEST}}}" ;;
  *describe-image-scan-findings*) echo "${{FAKE_COUNTS-null}}" ;;
esac
"""


def run_buildspec(tmp_path: Path, **overrides: str) -> subprocess.CompletedProcess:
    spec = yaml.safe_load(BUILDSPEC.read_text())
    assert spec["env"]["shell"] == "bash"
    phases = [spec["phases"][p]["commands"] for p in ("pre_build", "build") if p in spec["phases"]]
    script = "set -e\n" + "\n".join(command for commands in phases for command in commands)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, body in (("docker", FAKE_DOCKER), ("aws", FAKE_AWS)):
        path = bin_dir / name
        path.write_text(body)
        path.chmod(path.stat().st_mode | stat.S_IEXEC)
    env = {
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "CALLS": str(tmp_path / "calls.log"),
        "AWS_REGION": "eu-west-1",
        "REPOSITORY_URI": "111122223333.dkr.ecr.eu-west-1.amazonaws.com/orders-api-prod",
        "CONTAINER_NAME": "app",
        "DOCKERFILE": "docker/Dockerfile",
        "DOCKER_CONTEXT": "services/api",
        "COMMIT_ID": "0123456789abcdef0123456789abcdef01234567",
        "CODEBUILD_BUILD_NUMBER": "42",
        "FAIL_ON_SEVERITY": "CRITICAL",
        "CACHE_REPOSITORY_URI": "111122223333.dkr.ecr.eu-west-1.amazonaws.com/orders-api-prod-buildcache",
        "CODEBUILD_BUILD_ARN": "arn:aws:codebuild:eu-west-1:111122223333:build/orders-api-prod-build:1",
        **overrides,
    }
    return subprocess.run(["bash", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, check=False)


def test_imagedefinitions_names_the_container_and_the_pushed_digest(tmp_path):
    result = run_buildspec(tmp_path)
    assert result.returncode == 0, result.stderr
    definitions = json.loads((tmp_path / "deploy" / "imagedefinitions.json").read_text())
    assert definitions == [
        {"name": "app", "imageUri": f"111122223333.dkr.ecr.eu-west-1.amazonaws.com/orders-api-prod@{DIGEST}"}
    ]
    assert yaml.safe_load(BUILDSPEC.read_text())["artifacts"] == {"base-directory": "deploy", "files": ["**/*"]}
    assert json.loads((tmp_path / "deploy" / "imageDetail.json").read_text()) == {
        "ImageURI": f"111122223333.dkr.ecr.eu-west-1.amazonaws.com/orders-api-prod@{DIGEST}"
    }
    # A rolling deploy's artifact carries no blue/green templates.
    assert sorted(p.name for p in (tmp_path / "deploy").iterdir()) == ["imageDetail.json", "imagedefinitions.json"]


def test_the_image_is_tagged_by_commit_and_build_never_latest(tmp_path):
    run_buildspec(tmp_path)
    calls = (tmp_path / "calls.log").read_text()
    repo = "111122223333.dkr.ecr.eu-west-1.amazonaws.com/orders-api-prod"
    build = next(line for line in calls.splitlines() if line.startswith("docker buildx build"))
    assert f"--tag {repo}:0123456789ab-42" in build and "--push" in build
    assert "--file docker/Dockerfile" in build and build.endswith(" services/api")
    assert "latest" not in calls


def test_layers_come_from_and_go_to_the_registry_cache(tmp_path):
    run_buildspec(tmp_path)
    calls = (tmp_path / "calls.log").read_text()
    cache = "111122223333.dkr.ecr.eu-west-1.amazonaws.com/orders-api-prod-buildcache:buildcache"
    assert "docker buildx create --name ecs-cicd --driver docker-container --use" in calls
    build = next(line for line in calls.splitlines() if line.startswith("docker buildx build"))
    assert f"--cache-from type=registry,ref={cache}" in build
    assert f"--cache-to type=registry,ref={cache},mode=max,image-manifest=true,oci-mediatypes=true" in build


DOCKERFILE = """FROM --platform=linux/amd64 node:20-alpine AS deps
RUN npm ci
FROM docker.io/bitnami/python:3.12 AS tools
FROM public.ecr.aws/docker/library/busybox:1.36 AS ecr
FROM localhost:5000/internal/base AS local
FROM deps AS build
COPY --from=tools /x /x
FROM scratch
COPY --from=build /app /app
"""


def test_docker_hub_base_images_are_pulled_through_the_ecr_cache(tmp_path):
    mirror = "111122223333.dkr.ecr.eu-west-1.amazonaws.com/prod-docker-hub"
    (tmp_path / "docker").mkdir()
    (tmp_path / "docker" / "Dockerfile").write_text(DOCKERFILE)
    result = run_buildspec(tmp_path, DOCKER_HUB_MIRROR=mirror)
    assert result.returncode == 0, result.stderr
    rewritten = (tmp_path / "docker" / "Dockerfile.ecs-cicd").read_text().splitlines()
    assert rewritten[0] == f"FROM --platform=linux/amd64 {mirror}/library/node:20-alpine AS deps"
    assert rewritten[2] == f"FROM {mirror}/bitnami/python:3.12 AS tools"
    assert rewritten[3] == "FROM public.ecr.aws/docker/library/busybox:1.36 AS ecr"
    assert rewritten[4] == "FROM localhost:5000/internal/base AS local"
    assert rewritten[5] == "FROM deps AS build"
    assert rewritten[7] == "FROM scratch"
    calls = (tmp_path / "calls.log").read_text()
    assert "--file docker/Dockerfile.ecs-cicd" in calls


def test_without_a_mirror_the_dockerfile_is_used_as_it_is(tmp_path):
    run_buildspec(tmp_path)
    assert "--file docker/Dockerfile " in (tmp_path / "calls.log").read_text()


def test_login_uses_the_region_codebuild_provides(tmp_path):
    run_buildspec(tmp_path, AWS_REGION="ap-south-1")
    calls = (tmp_path / "calls.log").read_text()
    assert "aws ecr get-login-password --region ap-south-1" in calls
    assert "docker login --username AWS --password-stdin 111122223333.dkr.ecr.eu-west-1.amazonaws.com" in calls


@pytest.mark.parametrize("digest", ["None", ""])
def test_the_build_fails_when_ecr_reports_no_digest(tmp_path, digest):
    result = run_buildspec(tmp_path, FAKE_DIGEST=digest)
    assert result.returncode != 0
    assert not (tmp_path / "deploy" / "imagedefinitions.json").exists()


def test_nothing_account_or_region_specific_is_written_in_the_buildspec():
    text = json.dumps(yaml.safe_load(BUILDSPEC.read_text()))  # what CodeBuild runs, without comments
    for forbidden in ("111122223333", "amazonaws.com", "eu-west-1", "us-east-1", ":latest"):
        assert forbidden not in text


@pytest.mark.parametrize(
    ("limit", "counts", "passes"),
    [
        ("CRITICAL", "null", True),
        ("CRITICAL", '{"HIGH": 3, "LOW": 9}', True),
        ("CRITICAL", '{"CRITICAL": 1}', False),
        ("HIGH", '{"HIGH": 1}', False),
        ("MEDIUM", '{"LOW": 4}', True),
    ],
)
def test_the_image_scan_gate_fails_the_build_at_or_above_the_configured_severity(tmp_path, limit, counts, passes):
    result = run_buildspec(tmp_path, FAIL_ON_SEVERITY=limit, FAKE_COUNTS=counts)
    assert (result.returncode == 0) is passes, result.stderr
    assert (tmp_path / "deploy" / "imagedefinitions.json").exists() is passes
    calls = (tmp_path / "calls.log").read_text()
    wait = "aws ecr wait image-scan-complete --region eu-west-1 --repository-name orders-api-prod"
    assert f"{wait} --image-id imageDigest={DIGEST}" in calls
