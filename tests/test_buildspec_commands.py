"""Run the image buildspec's commands in bash with `docker` and `aws` stand-ins, and check
what reaches the deploy: imagedefinitions.json naming the container and the pushed digest."""

import json
import re
import subprocess
from pathlib import Path

import botocore.session
import pytest
import yaml

from components.images import DOWNLOADS, SCAN_STATUSES

from . import buildspec_runner

BUILDSPEC = Path(__file__).resolve().parent.parent / "buildspecs" / "build-image.yml"
DIGEST = "sha256:" + "ab" * 32

# Keeps a copy of the Dockerfile it is asked to build, next to the call log.
FAKE_DOCKER = """if [ "$1 $2" = "buildx build" ]; then
  while [ $# -gt 0 ]; do [ "$1" = --file ] && cp "$2" "$CALLS.Dockerfile"; shift; done
fi
cat > /dev/null"""


def built_dockerfile(tmp_path: Path) -> str:
    return (tmp_path.parent / f"{tmp_path.name}-ci" / "calls.log.Dockerfile").read_text()


FAKE_AWS = f"""case "$*" in
  *get-login-password*) echo token ;;
  *describe-images*) echo "${{FAKE_DIGEST-{DIGEST}}}" ;;
  *imageScanStatus.status*)
    # FAKE_STATUSES: the statuses ECR reports, one per look, the last one repeated; a status is
    # reported with its completion time unless written STATUS:pending (findings not there yet).
    statuses=(${{FAKE_STATUSES:-COMPLETE}}); look=$(( $(grep -c imageScanStatus "$CALLS") - 1 ));
    (( look < ${{#statuses[@]}} )) || look=$(( ${{#statuses[@]}} - 1 )); status="${{statuses[$look]}}";
    case "$status" in *:pending) printf '%s\\tNone\\n' "${{status%:pending}}" ;;
    *) printf '%s\\t2026-12-01T00:00:00Z\\n' "$status" ;; esac ;;
  *describe-image-scan-findings*)
    echo "{{\\"counts\\": ${{FAKE_COUNTS-null}}, \\"enhanced\\": ${{FAKE_ENHANCED-null}}}}" ;;
  *describe-task-definition*) echo "$FAKE_TASKDEF" ;;
esac"""


def run_buildspec(tmp_path: Path, **overrides: str) -> subprocess.CompletedProcess:
    """The image buildspec in `tmp_path` (the checkout); its calls end up in `tmp_path/calls.log`."""
    env = {
        "REPOSITORY_URI": "111122223333.dkr.ecr.eu-west-1.amazonaws.com/orders-api-prod",
        "CONTAINER_NAME": "app",
        "DOCKERFILE": "docker/Dockerfile",
        "DOCKER_CONTEXT": "services/api",
        "COMMIT_ID": "0123456789abcdef0123456789abcdef01234567",
        "FAIL_ON_SEVERITY": "CRITICAL",
        "CACHE_REPOSITORY_URI": "111122223333.dkr.ecr.eu-west-1.amazonaws.com/orders-api-prod-buildcache",
        "SCAN_WAIT_SECONDS": "0",
        **overrides,
    }
    dockerfile = tmp_path / env["DOCKERFILE"]
    if not dockerfile.exists() and not dockerfile.parent.is_file():  # a checkout always has its Dockerfile
        dockerfile.parent.mkdir(parents=True, exist_ok=True)
        dockerfile.write_text("FROM scratch\n")
    build = buildspec_runner.run("build-image", tmp_path, {"docker": FAKE_DOCKER, "aws": FAKE_AWS}, **env)
    (tmp_path / "calls.log").write_text("\n".join(build.calls) + "\n")
    return build.result


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
    assert build.endswith(" services/api") and built_dockerfile(tmp_path) == "FROM scratch\n"
    assert "latest" not in calls


def test_layers_come_from_and_go_to_the_registry_cache(tmp_path):
    run_buildspec(tmp_path)
    calls = (tmp_path / "calls.log").read_text()
    cache = "111122223333.dkr.ecr.eu-west-1.amazonaws.com/orders-api-prod-buildcache:buildcache"
    buildkit = f"moby/buildkit:{DOWNLOADS['buildkit'].version}@sha256:{DOWNLOADS['buildkit'].sha256}"
    builder = "docker buildx create --name ecs-cicd --driver docker-container"
    assert f"{builder} --driver-opt image=docker.io/{buildkit}" in calls
    build = next(line for line in calls.splitlines() if line.startswith("docker buildx build"))
    assert f"--cache-from type=registry,ref={cache}" in build
    assert f"--cache-to type=registry,ref={cache},mode=max,image-manifest=true,oci-mediatypes=true" in build


def test_without_a_cache_repository_layers_stay_on_the_build_host(tmp_path):
    # An existing image repository: no cache repository is created, and the build runs without one.
    result = run_buildspec(tmp_path, CACHE_REPOSITORY_URI="")
    assert result.returncode == 0, result.stderr
    build = next(line for line in (tmp_path / "calls.log").read_text().splitlines() if "buildx build" in line)
    assert "--cache-from" not in build and "--cache-to" not in build and "--push" in build


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
    rewritten = built_dockerfile(tmp_path).splitlines()
    assert rewritten[0] == f"FROM --platform=linux/amd64 {mirror}/library/node:20-alpine AS deps"
    assert rewritten[2] == f"FROM {mirror}/bitnami/python:3.12 AS tools"
    assert rewritten[3] == "FROM public.ecr.aws/docker/library/busybox:1.36 AS ecr"
    assert rewritten[4] == "FROM localhost:5000/internal/base AS local"
    assert rewritten[5] == "FROM deps AS build"
    assert rewritten[7] == "FROM scratch"
    build = next(c for c in (tmp_path / "calls.log").read_text().splitlines() if c.startswith("docker buildx build"))
    assert "--file docker/" not in build  # a copy outside the checkout, which the checkout cannot replace


def test_without_a_mirror_the_dockerfile_is_built_as_it_is(tmp_path):
    (tmp_path / "docker").mkdir()
    (tmp_path / "docker" / "Dockerfile").write_text(DOCKERFILE)
    assert run_buildspec(tmp_path).returncode == 0
    assert built_dockerfile(tmp_path) == DOCKERFILE


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
    look = "aws ecr describe-image-scan-findings --region eu-west-1 --repository-name orders-api-prod"
    assert f"{look} --image-id imageDigest={DIGEST} --query [imageScanStatus.status, " in calls


@pytest.mark.parametrize("status", sorted(SCAN_STATUSES))
def test_every_scan_status_ecr_documents_is_handled(tmp_path, status):
    """Basic scanning says COMPLETE, Inspector's enhanced scanning ACTIVE; an image that cannot be
    scanned cannot be vouched for. `aws ecr wait image-scan-complete` knew only the first."""
    then = "COMPLETE" if SCAN_STATUSES[status] == "wait" else status
    result = run_buildspec(tmp_path, FAKE_STATUSES=f"{status} {then}")
    assert (result.returncode == 0) is (SCAN_STATUSES[status] != "fail"), result.stderr
    assert (tmp_path / "deploy" / "imagedefinitions.json").exists() is (result.returncode == 0)


def test_the_scan_statuses_are_exactly_those_of_ecrs_api():
    model = botocore.session.get_session().get_service_model("ecr")
    assert set(SCAN_STATUSES) == set(model.shape_for("ScanStatus").enum)


def test_a_scan_that_never_finishes_fails_the_build(tmp_path):
    result = run_buildspec(tmp_path, FAKE_STATUSES="IN_PROGRESS", SCAN_WAIT_ATTEMPTS="3")
    assert result.returncode != 0 and "still IN_PROGRESS (no findings yet) after 3 looks" in result.stderr
    assert not (tmp_path / "deploy").exists() or not (tmp_path / "deploy" / "imagedefinitions.json").exists()


def test_buildkit_is_pinned_by_digest_and_comes_through_the_mirror(tmp_path):
    mirror = "111122223333.dkr.ecr.eu-west-1.amazonaws.com/prod-docker-hub"
    (tmp_path / "docker").mkdir()
    (tmp_path / "docker" / "Dockerfile").write_text("FROM node:20\n")
    assert run_buildspec(tmp_path, DOCKER_HUB_MIRROR=mirror).returncode == 0
    calls = (tmp_path / "calls.log").read_text()
    download = DOWNLOADS["buildkit"]
    pinned = rf"{re.escape(mirror)}/moby/buildkit:{re.escape(download.version)}@sha256:{download.sha256}"
    assert re.search("--driver-opt image=" + pinned, calls)


@pytest.mark.parametrize(
    "dockerfile",
    [
        "# syntax=attacker/frontend:latest\nFROM node:20\n",
        "#syntax = docker/dockerfile:1\nFROM node:20\n",
        "#!/bin/sh\n# syntax=attacker/frontend\nFROM node:20\n",  # after a shebang
        "// syntax=attacker/frontend\nFROM node:20\n",
        "\ufeff# syntax=attacker/frontend\nFROM node:20\n",  # after a byte-order mark
        '{"syntax": "attacker/frontend"}',
    ],
)
def test_the_dockerfile_cannot_choose_its_frontend(tmp_path, dockerfile):
    """BuildKit reads a syntax directive in several places (after a BOM, after a shebang, as
    `// syntax=`, from JSON) and runs the frontend image it names, with the build's secrets and
    network. The BUILDKIT_SYNTAX build argument comes first (moby/buildkit
    frontend/dockerfile/builder: the `build-arg:BUILDKIT_SYNTAX` option is read before the file),
    so the frontend is always the pinned one, through the mirror when there is one."""
    (tmp_path / "docker").mkdir()
    (tmp_path / "docker" / "Dockerfile").write_text(dockerfile)
    frontend = DOWNLOADS["dockerfile-frontend"]
    pinned = f"docker/dockerfile:{frontend.version}@sha256:{frontend.sha256}"
    for mirror, hub in (("", "docker.io"), ("111122223333.dkr.ecr.eu-west-1.amazonaws.com/hub", None)):
        result = run_buildspec(tmp_path, **({"DOCKER_HUB_MIRROR": mirror} if mirror else {}))
        assert result.returncode == 0, result.stderr
        build = next(line for line in (tmp_path / "calls.log").read_text().splitlines() if "buildx build" in line)
        assert f"--build-arg BUILDKIT_SYNTAX={hub or mirror}/{pinned}" in build
    assert yaml.safe_load(BUILDSPEC.read_text())["env"]["variables"]["DOCKERFILE_FRONTEND"] == pinned


def test_the_scan_gate_fails_closed_when_it_never_looked(tmp_path):
    # Without a single look (a scan never started, a variable that would skip the wait), no
    # findings are no proof: the build fails.
    result = run_buildspec(tmp_path, SCAN_WAIT_ATTEMPTS="0", FAKE_STATUSES="PENDING")
    assert result.returncode != 0 and "image scan still" in result.stderr


TASKDEF = {
    "taskDefinitionArn": "arn:aws:ecs:eu-west-1:111122223333:task-definition/orders:7",
    "family": "orders",
    "revision": 7,
    "status": "ACTIVE",
    "registeredAt": "2026-11-30T10:00:00Z",
    "containerDefinitions": [
        {"name": "app", "image": "old@sha256:00", "portMappings": [{"containerPort": 9000}]},
        {"name": "envoy", "image": "envoy:v1"},
    ],
}


def test_blue_green_on_an_existing_service_derives_taskdef_from_the_running_family(tmp_path):
    appspec = "version: 0.0\nResources: []\n"
    result = run_buildspec(tmp_path, TASK_FAMILY="orders", APPSPEC_TEMPLATE=appspec, FAKE_TASKDEF=json.dumps(TASKDEF))
    assert result.returncode == 0, result.stderr
    assert (
        "aws ecs describe-task-definition --region eu-west-1 --task-definition orders"
        in (tmp_path / "calls.log").read_text()
    )
    taskdef = json.loads((tmp_path / "deploy" / "taskdef.json").read_text())
    assert "taskDefinitionArn" not in taskdef and "revision" not in taskdef and "registeredAt" not in taskdef
    assert [c["image"] for c in taskdef["containerDefinitions"]] == ["<IMAGE1_NAME>", "envoy:v1"]
    assert (tmp_path / "deploy" / "appspec.yaml").read_text() == appspec + "\n"


def test_blue_green_fails_when_the_running_family_has_no_such_container(tmp_path):
    result = run_buildspec(
        tmp_path, TASK_FAMILY="orders", CONTAINER_NAME="web", APPSPEC_TEMPLATE="x", FAKE_TASKDEF=json.dumps(TASKDEF)
    )
    assert result.returncode != 0 and "no container web" in result.stderr


def test_blue_green_on_a_created_service_writes_the_rendered_template(tmp_path):
    template = json.dumps({"family": "orders", "containerDefinitions": [{"name": "app", "image": "<IMAGE1_NAME>"}]})
    result = run_buildspec(tmp_path, TASKDEF_TEMPLATE=template, APPSPEC_TEMPLATE="x")
    assert result.returncode == 0, result.stderr
    assert json.loads((tmp_path / "deploy" / "taskdef.json").read_text()) == json.loads(template)
    assert "describe-task-definition" not in (tmp_path / "calls.log").read_text()


SHADOWS = {
    # A module named like the standard library's, in the checkout: with a plain `python3 -c`, it
    # would be imported first, read the build's secrets and exit 0 past the scan gate.
    "json.py": "open('/tmp/.shadowed', 'w').write('json'); import sys; sys.exit(0)\n",
    "os.py": "open('/tmp/.shadowed', 'w').write('os'); raise SystemExit(0)\n",
    "re.py": "open('/tmp/.shadowed', 'w').write('re'); raise SystemExit(0)\n",
    "sitecustomize.py": "open('/tmp/.shadowed', 'w').write('sitecustomize')\n",
    "usercustomize.py": "open('/tmp/.shadowed', 'w').write('usercustomize')\n",
    "pip/__init__.py": "open('/tmp/.shadowed', 'w').write('pip')\n",
}
FAKE_TOOLS = {"aws": "echo sha256:evil; exit 0", "docker": "exit 0", "python3": "exit 0"}


def plant_shadows(checkout: Path) -> Path:
    marker = checkout.parent / f"{checkout.name}-shadowed"
    for name, body in SHADOWS.items():
        (checkout / name).parent.mkdir(parents=True, exist_ok=True)
        (checkout / name).write_text(body.replace("/tmp/.shadowed", str(marker)))
    for folder in (checkout, checkout / "bin", checkout / "node_modules" / ".bin"):
        folder.mkdir(parents=True, exist_ok=True)
        for tool, body in FAKE_TOOLS.items():
            (folder / tool).write_text(f"#!/bin/sh\ntouch {marker}\n{body}\n")
            (folder / tool).chmod(0o755)
    return marker


def test_modules_and_tools_planted_in_the_checkout_do_not_run_in_the_build(tmp_path):
    """The checkout is the application repository's: nothing in it runs with the build's rights.
    The helpers run as `python3 -I` and the tools come from the image's PATH."""
    marker = plant_shadows(tmp_path)
    (tmp_path / "docker").unlink()  # the build's working directory holds the checkout's files
    failing = run_buildspec(tmp_path, FAKE_COUNTS='{"CRITICAL": 1}', DOCKER_HUB_MIRROR="", TASK_FAMILY="")
    assert failing.returncode != 0 and "at or above CRITICAL" in failing.stderr
    assert not (tmp_path / "deploy" / "imagedefinitions.json").exists()
    passing = run_buildspec(tmp_path)
    assert passing.returncode == 0, passing.stderr
    (definition,) = json.loads((tmp_path / "deploy" / "imagedefinitions.json").read_text())
    assert definition["imageUri"].endswith(f"@{DIGEST}")
    assert not marker.exists(), f"something planted in the checkout ran: {marker.read_text()}"


def test_a_planted_module_does_not_rewrite_the_blue_green_template_or_the_dockerfile(tmp_path):
    marker = plant_shadows(tmp_path)
    (tmp_path / "docker").unlink()
    (tmp_path / "docker").mkdir()
    (tmp_path / "docker" / "Dockerfile").write_text("FROM node:20\n")
    result = run_buildspec(
        tmp_path,
        DOCKER_HUB_MIRROR="111122223333.dkr.ecr.eu-west-1.amazonaws.com/hub",
        TASK_FAMILY="orders",
        APPSPEC_TEMPLATE="x",
        FAKE_TASKDEF=json.dumps(TASKDEF),
    )
    assert result.returncode == 0, result.stderr
    assert json.loads((tmp_path / "deploy" / "taskdef.json").read_text())["family"] == "orders"
    assert "hub/library/node:20" in built_dockerfile(tmp_path)
    assert not marker.exists(), f"something planted in the checkout ran: {marker.read_text()}"


def test_enhanced_scanning_is_waited_for_until_its_findings_exist(tmp_path):
    """Inspector reports ACTIVE (and COMPLETE) before it has findings: the gate waits for the
    completion time, then reads the enhanced findings, and a CRITICAL one fails the build."""
    result = run_buildspec(
        tmp_path,
        FAKE_STATUSES="ACTIVE:pending ACTIVE:pending ACTIVE",
        FAKE_ENHANCED='["CRITICAL", "LOW"]',
    )
    assert result.returncode != 0 and "at or above CRITICAL" in result.stderr
    looks = [c for c in (tmp_path / "calls.log").read_text().splitlines() if "imageScanStatus" in c]
    assert len(looks) == 3
    assert run_buildspec(tmp_path, FAKE_STATUSES="ACTIVE", FAKE_ENHANCED='["HIGH"]').returncode == 0


def test_a_scan_whose_findings_never_arrive_fails_the_build(tmp_path):
    result = run_buildspec(tmp_path, FAKE_STATUSES="COMPLETE:pending", SCAN_WAIT_ATTEMPTS="3")
    assert result.returncode != 0 and "no findings yet" in result.stderr


def test_build_secrets_reach_the_dockerfile_as_buildkit_secrets_only(tmp_path):
    """CodeBuild fetches the secrets into variables; BuildKit gets them as secrets, which a
    Dockerfile mounts for one RUN and which never land in a layer or the registry cache."""
    result = run_buildspec(tmp_path, BUILDKIT_MOUNT_IDS="NPM_TOKEN SENTRY_AUTH_TOKEN", NPM_TOKEN="s3cr3t")
    assert result.returncode == 0, result.stderr
    build = next(c for c in (tmp_path / "calls.log").read_text().splitlines() if c.startswith("docker buildx build"))
    assert "--secret id=NPM_TOKEN,env=NPM_TOKEN --secret id=SENTRY_AUTH_TOKEN,env=SENTRY_AUTH_TOKEN" in build
    assert "s3cr3t" not in build and "--build-arg NPM_TOKEN" not in build
    (tmp_path / "plain").mkdir()
    assert run_buildspec(tmp_path / "plain").returncode == 0
    assert "--secret" not in (tmp_path / "plain" / "calls.log").read_text()
