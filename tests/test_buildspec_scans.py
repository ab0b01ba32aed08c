"""The scan, test and check buildspecs run under bash with the build image's commands only, and
stand-ins for the network: each passes on a clean input and fails on a finding, a failed
download check or a failing command."""

import hashlib
import io
import os
import re
import sys
import tarfile
from pathlib import Path

import pytest
import yaml

from components.images import DOWNLOADS

from .buildspec_runner import commands, run

ROOT = Path(__file__).resolve().parent.parent


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


SEMGREP = os.environ.get("SEMGREP_BIN") or str(ROOT / ".venv-semgrep" / "bin" / "semgrep")


def python_with_a_prepared_venv() -> str:
    """A stand-in for python3 that answers `-I -m venv DIR` with a virtual environment whose pip
    stands in for the network (PyPI) and whose semgrep is the real one, installed by `make test`
    from the lock embedded in the buildspec. Anything else runs the real interpreter."""
    real = str(Path(sys.base_prefix) / "bin" / "python3")
    return (
        'if [ "$1 $2 $3" = "-I -m venv" ]; then\n'
        '  mkdir -p "$4/bin"\n'
        '  printf \'#!/usr/bin/env bash\\necho "pip $*" >> "$CALLS"\\n\' > "$4/bin/pip"; chmod +x "$4/bin/pip"\n'
        f'  ln -s "{SEMGREP}" "$4/bin/semgrep"; exit 0\n'
        "fi\n"
        f'exec "{real}" "$@"'
    )


def scan_code(checkout: Path) -> object:
    assert Path(SEMGREP).exists(), f"{SEMGREP} is missing: `make test` installs it (make semgrep)"
    return run("scan-code", checkout, {"python3": python_with_a_prepared_venv()})


@pytest.fixture
def source_with_a_finding(checkout):
    (checkout / "app.py").write_text("import os\n\ndef handler(expression):\n    return eval(expression)\n")
    return checkout


def test_the_code_scan_installs_semgrep_hash_locked_in_isolation(source_with_a_finding):
    build = scan_code(source_with_a_finding)
    (install,) = [c for c in build.calls if c.startswith("pip install")]
    assert "--require-hashes" in install and "--only-binary :all:" in install
    assert any(c == f"python3 -I -m venv {c.split()[-1]}" for c in build.calls)


def test_the_code_scan_fails_on_a_planted_finding_and_passes_clean_code(checkout, source_with_a_finding):
    failing = scan_code(source_with_a_finding)
    assert not failing.passed and "python-eval-exec" in "".join(failing.result.stdout.split())
    (source_with_a_finding / "app.py").write_text("def handler(value):\n    return int(value)\n")
    clean = scan_code(source_with_a_finding)
    assert clean.passed, clean.result.stdout + clean.result.stderr


def test_the_application_repository_cannot_suppress_a_code_finding(source_with_a_finding):
    """`nosemgrep` comments and .semgrepignore files are the application repository's to write:
    the scan ignores them (and says which files it removed)."""
    app = source_with_a_finding / "app.py"
    app.write_text(app.read_text().replace("eval(expression)", "eval(expression)  # nosemgrep"))
    (source_with_a_finding / ".semgrepignore").write_text("*.py\n")
    (source_with_a_finding / "lib").mkdir()
    (source_with_a_finding / "lib" / ".semgrepignore").write_text("*\n")
    (source_with_a_finding / ".gitignore").write_text("app.py\n")
    build = scan_code(source_with_a_finding)
    assert not build.passed and "python-eval-exec" in "".join(build.result.stdout.split())
    assert "removed (the scan ignores only what ecs-cicd says): ./.semgrepignore" in build.result.stdout


RULE_SAMPLES = {
    "python-eval-exec": ("a.py", "exec(code)\n"),
    "python-shell-true": ("b.py", "import subprocess\nsubprocess.run(cmd, shell=True)\n"),
    "python-unsafe-deserialisation": ("c.py", "import pickle\npickle.loads(blob)\n"),
    "python-tls-verification-off": ("d.py", "import requests\nrequests.get(url, verify=False)\n"),
    "python-flask-debug": ("e.py", "app.run(host='0.0.0.0', debug=True)\n"),
    "javascript-eval": ("f.js", "const f = new Function(body);\n"),
    "javascript-child-process-shell": ("g.js", "const cp = require('child_process');\ncp.exec(cmd);\n"),
    "javascript-tls-verification-off": ("h.js", "https.request({host, rejectUnauthorized: false});\n"),
    "go-shell-command": ("i.go", 'package main\nimport "os/exec"\nfunc f(s string) { exec.Command("sh", "-c", s) }\n'),
    "go-tls-verification-off": (
        "j.go",
        'package main\nimport "crypto/tls"\nvar c = tls.Config{InsecureSkipVerify: true}\n',
    ),
    "java-runtime-exec": (
        "K.java",
        "class K { void f(String c) throws Exception { Runtime.getRuntime().exec(c); } }\n",
    ),
}


def test_every_rule_of_the_code_scan_finds_what_it_is_for(checkout):
    for name, text in RULE_SAMPLES.values():
        (checkout / name).write_text(text)
    build = scan_code(checkout)
    assert not build.passed
    rules = yaml.safe_load(re.search(r"<<'RULES'\n(.*?)\nRULES", "\n".join(commands("scan-code")[1]), re.S).group(1))
    assert {rule["id"] for rule in rules["rules"]} == set(RULE_SAMPLES)
    reported = "".join(build.result.stdout.split())  # semgrep wraps long rule names
    missed = [rule for rule in RULE_SAMPLES if f".{rule}" not in reported]
    assert missed == []


@pytest.mark.parametrize(
    ("buildspec", "suppressions", "flags"),
    [
        ("scan-secrets", [".gitleaks.toml", ".gitleaksignore"], ["--config", "--gitleaks-ignore-path"]),
        ("scan-dependencies", ["osv-scanner.toml"], ["--config"]),
    ],
)
def test_the_application_repository_cannot_configure_its_own_scan(tmp_path, checkout, buildspec, suppressions, flags):
    """The scanners read their configuration from where the buildspec wrote it, never the
    checkout's suppression files (which the log names); gitleaks ignores `gitleaks:allow`."""
    for name in suppressions:
        (checkout / name).write_text("# allow everything\n")
    tool, serve, sum_variable = SCANS[buildspec]
    path, digest = serve(tmp_path, tool)
    build = run(buildspec, checkout, {"curl": curl_serving(path)}, **{sum_variable: digest})
    assert build.passed, build.result.stderr
    (scan,) = [c.split() for c in build.calls if c.startswith(f"{tool} ")]
    for flag in flags:
        value = Path(scan[scan.index(flag) + 1])
        assert not value.resolve().is_relative_to(checkout.resolve()), (flag, value)
        assert value.exists()
    if tool == "gitleaks":
        assert "--ignore-gitleaks-allow" in scan
    for name in suppressions:
        assert f"not used (the scan ignores only what ecs-cicd says): ./{name}" in build.result.stdout


def aws_running(task_set: str, service_definition: str, image: str) -> str:
    """A stand-in for aws: the service's PRIMARY task set and own task definition, and the image
    its container runs."""
    return f"""case "$*" in
  *taskSets*) echo "{task_set}" ;;
  *describe-services*) echo "{service_definition}" ;;
  *describe-task-definition*) echo "{image}" ;;
esac"""


EXPECTED = "111122223333.dkr.ecr.eu-west-1.amazonaws.com/orders-api-prod@sha256:" + "ab" * 32
VERIFY = {"EXPECTED_IMAGE": EXPECTED, "ECS_CLUSTER": "prod", "ECS_SERVICE": "orders-api", "CONTAINER_NAME": "app"}


@pytest.mark.parametrize(
    ("task_set", "service_definition", "image", "passes"),
    [
        ("None", "orders-api:8", EXPECTED, True),  # a rolling service runs the built digest
        ("orders-api:9", "orders-api:8", EXPECTED, True),  # blue/green: its PRIMARY task set does
        ("None", "orders-api:8", EXPECTED.replace("ab", "cd"), False),  # something else runs
        ("None", "orders-api:8", "None", False),  # no such container
    ],
)
def test_the_check_verifies_the_service_runs_the_digest_this_execution_built(
    checkout, task_set, service_definition, image, passes
):
    build = run("check-service", checkout, {"aws": aws_running(task_set, service_definition, image)}, **VERIFY)
    assert build.passed is passes, build.result.stderr
    described = [c for c in build.calls if "describe-task-definition" in c]
    expected_definition = service_definition if task_set == "None" else task_set
    assert described and f"--task-definition {expected_definition}" in described[0]
    if not passes:
        assert "not the image this execution built and approved" in build.result.stderr


def test_the_code_scan_skips_nothing_for_where_it_sits_or_how_big_it_is(checkout):
    """Once the repository's .semgrepignore files are gone, semgrep would fall back to its own
    ignore list (tests/, vendor/, node_modules/, build/) and skip files over 1 MB: the real
    semgrep reports a finding planted in each."""
    planted = ["tests/t.py", "vendor/v.py", "node_modules/n.py", "build/b.py", "src/big.py"]
    for name in planted:
        (checkout / name).parent.mkdir(parents=True, exist_ok=True)
        (checkout / name).write_text("def f(x):\n    return eval(x)\n")
    big = checkout / "src" / "big.py"
    big.write_text(big.read_text() + "# padding\n" * 120_000)  # over semgrep's 1 MB default
    build = scan_code(checkout)
    assert not build.passed
    reported = "".join(build.result.stdout.split())
    assert [name for name in planted if name not in reported] == []


def test_the_dependency_scan_reads_lockfiles_a_gitignore_hides(tmp_path, checkout):
    (checkout / ".gitignore").write_text("package-lock.json\n")
    tool, serve, sum_variable = SCANS["scan-dependencies"]
    path, digest = serve(tmp_path, tool)
    build = run("scan-dependencies", checkout, {"curl": curl_serving(path)}, **{sum_variable: digest})
    (scan,) = [c.split() for c in build.calls if c.startswith(f"{tool} ")]
    assert "--no-ignore" in scan


def test_the_secret_scan_reads_every_file_under_a_name_no_path_rule_matches(tmp_path, checkout):
    """gitleaks' default configuration allow-lists paths (node_modules/, vendor/, anything named
    like gitleaks.toml): the scan reads a copy in which every file is a number."""
    for name in ("node_modules/pkg/index.js", "vendor/lib.go", "deploy/gitleaks.toml", "src/app.py"):
        (checkout / name).parent.mkdir(parents=True, exist_ok=True)
        (checkout / name).write_text(f"// {name}\n")
    (checkout / ".git").mkdir()
    (checkout / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    tool, serve, sum_variable = SCANS["scan-secrets"]
    path, digest = serve(tmp_path, tool, "1")  # a finding
    build = run("scan-secrets", checkout, {"curl": curl_serving(path)}, **{sum_variable: digest})
    assert not build.passed
    (scan,) = [c.split() for c in build.calls if c.startswith(f"{tool} ")]
    scanned = Path(scan[scan.index("dir") + 1])
    assert not scanned.resolve().is_relative_to(checkout.resolve())
    mapping = dict(line.split("\t") for line in (scanned.parent / "paths.tsv").read_text().splitlines())
    assert sorted(mapping.values()) == sorted(
        [
            "./deploy/gitleaks.toml",
            "./node_modules/pkg/index.js",
            "./package-lock.json",
            "./src/app.py",
            "./vendor/lib.go",
        ]
    )
    assert sorted(p.name for p in scanned.iterdir()) == sorted(mapping)
    assert all(name.isdigit() for name in mapping)
    assert "secrets found; files by number:" in build.result.stderr


def test_every_python_a_buildspec_runs_is_isolated_from_the_checkout():
    """`python3 -I` ignores the current directory and PYTHON* variables: a `json.py` or
    `sitecustomize.py` committed to the application repository is never imported in place of the
    standard library. Whether a planted module would be imported also depends on what the host's
    interpreter loads at start, so every invocation is checked here, not only the ones a test runs."""
    invocations = [
        (path.name, line.strip())
        for path in sorted((ROOT / "buildspecs").glob("*.yml"))
        for line in path.read_text().splitlines()
        if re.search(r"(?<![\w/.\[-])python3(?![\w.-])", line) and not line.lstrip().startswith("#")
    ]
    assert invocations
    loose = [(name, line) for name, line in invocations if not re.search(r"python3? -I\b", line)]
    assert loose == []


def test_a_check_that_knows_its_service_but_not_the_image_fails(checkout):
    build = run(
        "check-service",
        checkout,
        {"aws": aws_running("None", "orders-api:8", EXPECTED)},
        **{**VERIFY, "EXPECTED_IMAGE": ""},
    )
    assert not build.passed and "no EXPECTED_IMAGE" in build.result.stderr


def aws_in_another_account(assumed: str = "ASIAEXAMPLE\tsecret\ttoken") -> str:
    """A stand-in for aws that hands out the check role's credentials, then answers for the service
    only to a caller holding them (as the target account would)."""
    return f"""case "$*" in
  *assume-role*) printf '%s\\n' "{assumed}" ;;
  *) if [ "${{AWS_SESSION_TOKEN:-}}" != token ]; then echo "AccessDenied" >&2; exit 254; fi
     case "$*" in
       *taskSets*) echo None ;;
       *describe-services*) echo orders-api:8 ;;
       *describe-task-definition*) echo "{EXPECTED}" ;;
     esac ;;
esac"""


def test_the_check_reads_another_accounts_service_as_its_check_role(checkout):
    """Cross-account delivery: the service is read with the target account's check role."""
    role = "arn:aws:iam::444455556666:role/ecs-cicd/deploy/staging-access-check"
    build = run("check-service", checkout, {"aws": aws_in_another_account()}, **VERIFY, CHECK_ROLE_ARN=role)
    assert build.passed, build.result.stderr
    assert build.calls[0].startswith(f"aws sts assume-role --role-arn {role} ")
    assert any("describe-task-definition" in call for call in build.calls)


@pytest.mark.parametrize("assumed", ["", "fail"])
def test_a_check_role_that_cannot_be_assumed_fails_the_check(checkout, assumed):
    stand_in = 'case "$*" in *assume-role*) exit 254 ;; esac' if assumed == "fail" else aws_in_another_account("")
    role = "arn:aws:iam::444455556666:role/ecs-cicd/deploy/staging-access-check"
    build = run("check-service", checkout, {"aws": stand_in}, **VERIFY, CHECK_ROLE_ARN=role)
    assert not build.passed
    assert "staging-access-check" in build.result.stderr
    assert not any("describe-services" in call for call in build.calls)


def aws_in_region(region: str) -> str:
    """A stand-in for aws whose service exists in `region` only (ECS answers per region)."""
    return f"""case "$*" in
  *"--region {region} "*)
     case "$*" in
       *taskSets*) echo None ;;
       *describe-services*) echo orders-api:8 ;;
       *describe-task-definition*) echo "{EXPECTED}" ;;
     esac ;;
  *) echo "ServiceNotFoundException" >&2; exit 254 ;;
esac"""


def test_the_check_reads_a_service_of_another_region_there(checkout):
    """A promotion target in another region: every ECS call names that region, not the build's."""
    build = run("check-service", checkout, {"aws": aws_in_region("eu-central-1")}, **VERIFY, ECS_REGION="eu-central-1")
    assert build.passed, build.result.stderr
    ecs_calls = [call for call in build.calls if " ecs " in f" {call} "]
    assert ecs_calls and all("--region eu-central-1 " in call for call in ecs_calls)
    # Without it the check looks in the build's own region, where the service is not: it fails.
    elsewhere = run("check-service", checkout, {"aws": aws_in_region("eu-central-1")}, **VERIFY)
    assert not elsewhere.passed
