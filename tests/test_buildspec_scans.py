"""The scan, test and check buildspecs run under bash with the build image's commands only, and
stand-ins for the network: each passes on a clean input and fails on a finding, a failed
download check or a failing command."""

import hashlib
import io
import sys
import tarfile
from pathlib import Path

import pytest

from components.images import DOWNLOADS

from .buildspec_runner import run


def fake_tool(name: str, exit_code: str) -> str:
    """A stand-in scanner: records its arguments, then exits as told."""
    return f'#!/usr/bin/env bash\necho "{name} $*" >> "$CALLS"\nexit {exit_code}\n'


def curl_serving(path: str) -> str:
    """A stand-in for curl that writes the file at `path` wherever `--output` says."""
    return f'while [ $# -gt 0 ]; do [ "$1" = --output ] && cp "{path}" "$2"; shift; done'


@pytest.fixture
def checkout(tmp_path):
    workdir = tmp_path / "checkout"
    workdir.mkdir()
    (workdir / "package-lock.json").write_text("{}")
    return workdir


def served_binary(tmp_path, name: str, exit_code: str = "0") -> tuple[str, str]:
    body = fake_tool(name, exit_code).encode()
    path = tmp_path / f"served-{name}"
    path.write_bytes(body)
    return str(path), hashlib.sha256(body).hexdigest()


def served_archive(tmp_path, name: str, exit_code: str = "0") -> tuple[str, str]:
    body = fake_tool(name, exit_code).encode()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        info = tarfile.TarInfo(name)
        info.size, info.mode = len(body), 0o755
        archive.addfile(info, io.BytesIO(body))
    path = tmp_path / f"served-{name}.tar.gz"
    path.write_bytes(buffer.getvalue())
    return str(path), hashlib.sha256(buffer.getvalue()).hexdigest()


SCANS = {
    # buildspec: (tool, how the release is served, the variable holding its pinned sum)
    "scan-dependencies": ("osv-scanner", served_binary, "OSV_SCANNER_SHA256"),
    "scan-secrets": ("gitleaks", served_archive, "GITLEAKS_SHA256"),
}


@pytest.mark.parametrize("buildspec", SCANS)
def test_a_scan_downloads_its_pinned_release_checks_it_and_passes_a_clean_source(tmp_path, checkout, buildspec):
    tool, serve, sum_variable = SCANS[buildspec]
    path, digest = serve(tmp_path, tool)
    build = run(buildspec, checkout, {"curl": curl_serving(path)}, **{sum_variable: digest})
    assert build.passed, build.result.stderr
    (download,) = [c for c in build.calls if c.startswith("curl ")]
    assert f"/releases/download/v{DOWNLOADS[tool].version.lstrip('v')}/" in download
    assert "--fail" in download
    assert any(c.startswith(f"{tool} ") for c in build.calls), "the scanner never ran"


@pytest.mark.parametrize("buildspec", SCANS)
def test_a_scan_finding_fails_the_build(tmp_path, checkout, buildspec):
    tool, serve, sum_variable = SCANS[buildspec]
    path, digest = serve(tmp_path, tool, exit_code="1")
    build = run(buildspec, checkout, {"curl": curl_serving(path)}, **{sum_variable: digest})
    assert not build.passed


@pytest.mark.parametrize("buildspec", SCANS)
def test_a_download_that_does_not_match_the_pinned_sum_never_runs(tmp_path, checkout, buildspec):
    tool, serve, _ = SCANS[buildspec]
    path, _ = serve(tmp_path, tool)  # served as it is, checked against the real pinned sum
    build = run(buildspec, checkout, {"curl": curl_serving(path)})
    assert not build.passed
    assert "FAILED" in build.result.stdout + build.result.stderr
    assert not any(c.startswith(f"{tool} ") for c in build.calls)


def test_a_failed_download_fails_the_build(tmp_path, checkout):
    build = run("scan-dependencies", checkout, {"curl": "exit 22"})
    assert not build.passed


@pytest.mark.parametrize(
    ("commands", "passes"),
    [("true", True), ("make unit-test", True), ("false", False), ("true\nexit 3", False), ("false\ntrue", False)],
)
def test_the_test_commands_pass_only_when_every_command_does(tmp_path, checkout, commands, passes):
    build = run("run-tests", checkout, {"make": "exit 0"}, TEST_COMMANDS=commands)
    assert build.passed is passes, build.result.stderr


def curl_answering(status: str) -> str:
    """A stand-in for curl that prints `status` where `--write-out '%{http_code}'` would."""
    return f'echo -n "{status}"'


@pytest.mark.parametrize(("status", "passes"), [("200", True), ("302", True), ("503", False), ("000", False)])
def test_the_service_check_passes_only_on_a_2xx_or_3xx(tmp_path, checkout, status, passes):
    build = run(
        "check-service",
        checkout,
        {"curl": curl_answering(status)},
        SERVICE_URL="https://orders.example.com/healthz",
        CHECK_TIMEOUT_SECONDS="1",
        CHECK_INTERVAL_SECONDS="0",
    )
    assert build.passed is passes, build.result.stderr
    assert any("https://orders.example.com/healthz" in c for c in build.calls)


def test_the_check_commands_run_after_the_health_url_and_can_fail_the_check(tmp_path, checkout):
    ok = run(
        "check-service",
        checkout,
        {"curl": curl_answering("200")},
        SERVICE_URL="https://orders.example.com/healthz",
        CHECK_TIMEOUT_SECONDS="1",
        CHECK_COMMANDS='test "$SERVICE_URL" = https://orders.example.com/healthz',
    )
    assert ok.passed, ok.result.stderr
    failing = run(
        "check-service",
        checkout,
        {"curl": curl_answering("200")},
        SERVICE_URL="https://orders.example.com/healthz",
        CHECK_TIMEOUT_SECONDS="1",
        CHECK_COMMANDS="true\nfalse",
    )
    assert not failing.passed


def python_installing_semgrep(exit_code: str) -> str:
    """A stand-in for python3 that serves `-m pip install` (the network) with a fake semgrep, and
    runs anything else with the real interpreter."""
    real = str(Path(sys.base_prefix) / "bin" / "python3")
    semgrep = fake_tool("semgrep", exit_code).replace('"', '\\"').replace("$", "\\$")
    return (
        'if [ "$1 $2 $3" = "-m pip install" ]; then\n'
        f'  printf "%s" "{semgrep}" > "$TOOLS_DIR/semgrep"; chmod +x "$TOOLS_DIR/semgrep"; exit 0\n'
        "fi\n"
        f'exec "{real}" "$@"'
    )


@pytest.mark.parametrize(("exit_code", "passes"), [("0", True), ("1", False)])
def test_the_code_scan_installs_its_pinned_semgrep_and_fails_on_a_finding(tmp_path, checkout, exit_code, passes):
    build = run("scan-code", checkout, {"python3": python_installing_semgrep(exit_code)})
    assert build.passed is passes, build.result.stderr
    (install,) = [c for c in build.calls if "pip install" in c]
    assert "semgrep==" in install
    assert any(c.startswith("semgrep scan") and "--error" in c for c in build.calls)
