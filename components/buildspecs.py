"""Buildspecs embedded in CodeBuild projects (CICD-SEC-4).

They live in this repository's `buildspecs/` folder (in a wheel: `components/buildspecs/`) and
are read once per process: the application repository never supplies build commands.
"""

from functools import cache
from pathlib import Path

import yaml

_HERE = Path(__file__).resolve().parent
_SEARCH_PATH = (_HERE.parent / "buildspecs", _HERE / "buildspecs")


@cache
def load(name: str) -> str:
    """The text of `buildspecs/<name>.yml`, checked to be a version 0.2 buildspec."""
    for folder in _SEARCH_PATH:
        path = folder / f"{name}.yml"
        if path.is_file():
            text = path.read_text()
            parsed = yaml.safe_load(text)
            if not isinstance(parsed, dict) or parsed.get("version") != 0.2:
                raise ValueError(f"{path} is not a version 0.2 buildspec")
            return text
    raise FileNotFoundError(f"no buildspec {name}.yml in {', '.join(str(p) for p in _SEARCH_PATH)}")


# What ecs-cicd itself passes to the image build (components/build.py) besides the variables the
# buildspec declares: no build variable or secret of the stack may take one of these names.
IMAGE_BUILD_INPUTS = (
    "REPOSITORY_URI", "CACHE_REPOSITORY_URI", "CONTAINER_NAME", "DOCKERFILE", "DOCKER_CONTEXT",
    "FAIL_ON_SEVERITY", "COMMIT_ID", "DOCKER_HUB_MIRROR", "BUILDKIT_MOUNT_IDS", "APPSPEC_TEMPLATE",
    "TASKDEF_TEMPLATE", "TASK_FAMILY",
)  # fmt: skip


@cache
def reserved_image_build_variables() -> frozenset[str]:
    """Names no build variable may take: a project variable outranks the buildspec's own
    (https://docs.aws.amazon.com/codebuild/latest/userguide/build-spec-ref.html#build-spec.env.variables),
    so SCAN_WAIT_ATTEMPTS=0 would skip the scan gate and BUILDKIT_IMAGE unpin the builder."""
    env = yaml.safe_load(load("build-image"))["env"]
    return frozenset(IMAGE_BUILD_INPUTS) | frozenset(env.get("variables", {})) | frozenset(env["exported-variables"])
