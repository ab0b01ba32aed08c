"""The wheel another program installs: the components, every buildspec, the offline harness, typed.

The wheel is built offline from a copy of the repository (so no build/ or *.egg-info lands in the
working tree), with the pinned setuptools of pyproject's build-system already installed, and then
used from an unrelated directory with nothing of the repository on sys.path.
"""

import email.parser
import fcntl
import json
import re
import shutil
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    tomllib = pytest.importorskip("tomli")

REPO = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
VERSION = PYPROJECT["project"]["version"]
BUILDSPECS = sorted((REPO / "buildspecs").glob("*.yml"))
MODULES = sorted((REPO / "components").glob("*.py"))
NOT_PACKAGED = (".venv", ".git", "__pycache__", ".pytest_cache", ".ruff_cache", "build", "dist", "*.egg-info")


# Offline: no index, no isolated build environment (it would download setuptools), no dependencies.
PIP_WHEEL = (sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index")


def _requirements(lines: list[str]) -> dict[str, SpecifierSet]:
    parsed = [Requirement(line) for line in lines]
    return {canonicalize_name(r.name): r.specifier for r in parsed}


def _pinned_setuptools() -> str:
    [pin] = [r for r in PYPROJECT["build-system"]["requires"] if r.startswith("setuptools")]
    return pin.split("==", 1)[1]


@pytest.fixture(scope="session")  # a module fixture is rebuilt whenever a worker interleaves another module
def wheel(tmp_path_factory) -> Path:
    setuptools = pytest.importorskip("setuptools")
    if setuptools.__version__ != _pinned_setuptools():
        pytest.fail(
            f"the offline build needs the build backend pinned in pyproject.toml: "
            f"`{sys.executable} -m pip install setuptools=={_pinned_setuptools()}` (found {setuptools.__version__})"
        )
    # Built once per test session: test workers share the parent of their temporary folders, and
    # the first to take the lock builds while the others wait for its wheel.
    root = tmp_path_factory.getbasetemp().parent / "wheel"
    root.mkdir(exist_ok=True)
    with open(root / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        built = list((root / "dist").glob("*.whl"))
        if not built:
            source = root / "source"
            shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(*NOT_PACKAGED))
            result = subprocess.run(
                [*PIP_WHEEL, "--wheel-dir", str(root / "dist"), str(source)],
                capture_output=True,
                text=True,
                timeout=180,
            )
            assert result.returncode == 0, result.stdout + result.stderr
            built = list((root / "dist").glob("*.whl"))
    [path] = built
    return path


def test_the_wheel_is_ecs_cicd_at_the_project_version(wheel):
    assert wheel.name == f"ecs_cicd-{VERSION}-py3-none-any.whl"
    with zipfile.ZipFile(wheel) as archive:
        metadata = email.parser.Parser().parsestr(archive.read(f"ecs_cicd-{VERSION}.dist-info/METADATA").decode())
    assert (metadata["Name"], metadata["Version"]) == ("ecs-cicd", VERSION)
    assert metadata["Requires-Python"] == PYPROJECT["project"]["requires-python"]
    required = metadata.get_all("Requires-Dist")
    base = [line for line in required if "extra ==" not in line]
    with_pulumi = [line.split(";")[0] for line in required if 'extra == "pulumi"' in line]
    assert _requirements(base) == _requirements(PYPROJECT["project"]["dependencies"])
    assert _requirements(with_pulumi) == _requirements(PYPROJECT["project"]["optional-dependencies"]["pulumi"])
    # The operations CLI installs without the Pulumi SDK (tests/test_ops_cli.py runs it without).
    assert not any(name.startswith("pulumi") for name in _requirements(base))


def test_the_wheel_holds_every_module_every_buildspec_and_the_typing_marker(wheel):
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        for buildspec in BUILDSPECS:
            assert archive.read(f"components/buildspecs/{buildspec.name}") == buildspec.read_bytes()
    assert {f"components/{module.name}" for module in MODULES} <= names
    assert "components/py.typed" in names
    assert "components/testing.py" in names and "components/provider.py" in names
    # Only the packages pyproject names: no program (__main__.py), tests, examples or policy pack.
    packages = {package.split(".")[0] for package in PYPROJECT["tool"]["setuptools"]["packages"]}
    assert {name.split("/", 1)[0] for name in names} == packages | {f"ecs_cicd-{VERSION}.dist-info"}


def test_the_installed_package_works_outside_the_repository(wheel, tmp_path):
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(site)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    probe = textwrap.dedent(
        """
        import json, sys
        import components
        from components import ArtifactStore, buildspecs, provider
        from components.testing import run_program

        run = run_program(lambda: ArtifactStore("store", {"protect": False}), {"aws:region": "eu-west-1"})
        print(json.dumps({
            "package": components.__file__,
            "buildspec": buildspecs.load("build-image"),
            "buckets": [b.name for b in run.of_type("aws:s3/bucket:Bucket")],
            "version": provider.version(),
            "path": sys.path,
        }))
        """
    )
    ran = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=elsewhere,
        env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ran.returncode == 0, ran.stderr
    result = json.loads(ran.stdout.strip().splitlines()[-1])
    assert Path(result["package"]).is_relative_to(site)
    assert not [p for p in result["path"] if p and Path(p).resolve().is_relative_to(REPO) and ".venv" not in p]
    assert result["buildspec"] == (REPO / "buildspecs" / "build-image.yml").read_text()
    assert result["buckets"] == ["store-bucket"]
    # The version comes from the installed distribution's metadata when there is no pyproject.toml.
    assert result["version"] == VERSION


def test_pyproject_is_at_version_0_1_0_as_the_changelog_says():
    changelog = (REPO / "CHANGELOG.md").read_text()
    assert VERSION == "0.1.0"
    assert re.search(rf"^## \[{re.escape(VERSION)}\] - \d{{4}}-\d{{2}}-\d{{2}}$", changelog, re.MULTILINE)
