"""Run an embedded buildspec's commands under bash, as CodeBuild would, with stand-ins only for
`aws`, `docker` and the network (`curl`). Everything else is the real tool on this machine."""

import shutil
import stat
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

from components.images import STANDARD_5

BUILDSPECS = Path(__file__).resolve().parent.parent / "buildspecs"
PHASES = ("install", "pre_build", "build", "post_build")


@dataclass
class BuildRun:
    result: subprocess.CompletedProcess
    calls: list[str]
    workdir: Path

    @property
    def passed(self) -> bool:
        return self.result.returncode == 0


def commands(name: str) -> tuple[dict, list[str]]:
    """The buildspec's variables and its commands, in phase order."""
    spec = yaml.safe_load((BUILDSPECS / f"{name}.yml").read_text())
    assert spec["env"]["shell"] == "bash"
    return (
        dict(spec["env"].get("variables", {})),
        [c for phase in PHASES if phase in spec["phases"] for c in spec["phases"][phase]["commands"]],
    )


def image_path(directory: Path) -> Path:
    """A folder holding exactly the commands the build image has (components/images.py), linked
    to this machine's: a buildspec calling anything else fails here as it would in CodeBuild."""
    directory.mkdir(exist_ok=True)
    for tool in STANDARD_5.tools:
        # The interpreter itself, not a version manager's shim that needs the manager on PATH.
        found = str(Path(sys.base_prefix) / "bin" / "python3") if tool == "python3" else shutil.which(tool)
        if found and not (directory / tool).exists():
            (directory / tool).symlink_to(found)
    return directory


def run(name: str, workdir: Path, stand_ins: dict[str, str], **env: str) -> BuildRun:
    """Run buildspecs/<name>.yml in `workdir` (the checkout), with the build image's commands only.
    `stand_ins` maps a command name to the bash body of its stand-in; each stand-in's calls are
    logged. CodeBuild runs a phase's commands in one shell and stops at the first failing one:
    `set -e` does the same here."""
    variables, lines = commands(name)
    ci = workdir.parent / f"{workdir.name}-ci"  # the stand-ins, the tools installed, the call log
    bin_dir, tools = ci / "bin", ci / "tools"
    for folder in (bin_dir, tools):
        folder.mkdir(parents=True, exist_ok=True)
    log = ci / "calls.log"
    log.write_text("")
    for command, body in stand_ins.items():
        path = bin_dir / command
        path.write_text(f'#!/usr/bin/env bash\necho "{command} $*" >> "$CALLS"\n{body}\n')
        path.chmod(path.stat().st_mode | stat.S_IEXEC)
    image = image_path(ci / "image-bin")
    environment = {
        "PATH": f"{bin_dir}:{tools}:{image}",
        "HOME": str(ci),
        "TMPDIR": str(ci),
        "CALLS": str(log),
        "TOOLS_DIR": str(tools),
        "AWS_REGION": "eu-west-1",
        "CODEBUILD_BUILD_NUMBER": "42",
        "CODEBUILD_BUILD_ARN": "arn:aws:codebuild:eu-west-1:111122223333:build/project:1",
        **{k: str(v) for k, v in variables.items() if k != "TOOLS_DIR"},
        **env,
    }
    script = "set -e\n" + "\n".join(lines)
    result = subprocess.run(
        ["bash", "-c", script], cwd=workdir, env=environment, capture_output=True, text=True, check=False
    )
    return BuildRun(result=result, calls=log.read_text().splitlines(), workdir=workdir)
