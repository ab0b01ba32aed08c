"""The GitHub Actions workflows: valid, free of zizmor findings, pinned, least privilege, and
covering every stack. Each check also runs on a deliberately bad workflow (tests/fixtures/workflows)
to show that it can fail."""

import json
import re
import shutil
import subprocess
import sysconfig
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
GITHUB = ROOT / ".github"
WORKFLOWS = sorted((GITHUB / "workflows").glob("*.y*ml"))
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "workflows"
UNSAFE = FIXTURES / "unsafe.yml"
INVALID = FIXTURES / "invalid.yml"

FORK_GUARD = "github.event.pull_request.head.repo.full_name == github.repository"
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")
VERSION_COMMENT = re.compile(r"^v\d+\.\d+\.\d+$")
USES_LINE = re.compile(r"^\s*(?:-\s+)?uses:\s*(?P<ref>[^\s#]+)(?:\s+#\s*(?P<comment>\S+))?", re.MULTILINE)


def stacks_in(root: Path) -> list[str]:
    """The stacks that have a Pulumi.<stack>.yaml in `root`."""
    return sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in root.glob("Pulumi.*.yaml"))


STACKS = stacks_in(ROOT)


def tool(name: str) -> str:
    """A command-line tool from this environment (requirements-dev.txt), else from PATH."""
    path = Path(sysconfig.get_path("scripts")) / name
    found = str(path) if path.exists() else shutil.which(name)
    if not found:
        pytest.fail(f"{name} is not installed: pip install -r requirements-dev.txt")
    return found


def load(path: Path) -> dict:
    workflow = yaml.safe_load(path.read_text())
    # YAML 1.1 reads the key `on` as the boolean True.
    workflow["on"] = workflow.pop(True, workflow.get("on"))
    return workflow


def triggers(workflow: dict) -> set[str]:
    on = workflow["on"]
    return {on} if isinstance(on, str) else set(on)


def steps(job: dict) -> list[dict]:
    return job.get("steps", [])


def action(step: dict) -> str:
    """'owner/repo' of the action a step uses, without the ref ('' for run steps)."""
    return step.get("uses", "").split("@")[0]


def uses_action(job: dict, name: str, **inputs) -> bool:
    return any(action(s) == name and all(s.get("with", {}).get(k) == v for k, v in inputs.items()) for s in steps(job))


def runs(job: dict) -> str:
    return "\n".join(s.get("run", "") for s in steps(job))


def matrix_stacks(job: dict) -> list[str]:
    matrix = job.get("strategy", {}).get("matrix", {})
    return sorted(matrix.get("stack", []) + [entry["stack"] for entry in matrix.get("include", [])])


def jobs_where(predicate, trigger: str) -> list[dict]:
    found = [
        job
        for path in WORKFLOWS
        if trigger in triggers(workflow := load(path))
        for job in workflow["jobs"].values()
        if predicate(job)
    ]
    assert found, f"no job for {trigger} matches"
    return found


# -- checks that return the problems they find, so the tests can run them on bad workflows too --


def pin_problems(path: Path) -> list[str]:
    """Every action and reusable workflow from another repository must be pinned to a full commit SHA
    with a `# vX.Y.Z` comment naming the release (that comment is what Dependabot and reviewers read)."""
    comments = {m["ref"]: m["comment"] for m in USES_LINE.finditer(path.read_text())}
    workflow = load(path)
    refs = [job["uses"] for job in workflow["jobs"].values() if "uses" in job]
    refs += [s["uses"] for job in workflow["jobs"].values() for s in steps(job) if "uses" in s]
    return [
        f"{path.name}: {ref} (comment: {comments.get(ref)})"
        for ref in refs
        if not ref.startswith("./") and not (PINNED.match(ref) and VERSION_COMMENT.match(comments.get(ref) or ""))
    ]


def permission_problems(path: Path) -> list[str]:
    """No default token permissions beyond `contents: read`; every job states its own; OIDC
    (`id-token: write`) only where AWS credentials are configured."""
    workflow = load(path)
    problems = []
    if workflow.get("permissions") not in ({}, {"contents": "read"}):
        problems.append(f"{path.name}: top-level permissions are {workflow.get('permissions', 'the default')!r}")
    for name, job in workflow["jobs"].items():
        permissions = job.get("permissions")
        if not isinstance(permissions, dict):
            problems.append(f"{path.name}: job {name} does not list its permissions ({permissions!r})")
        elif permissions.get("id-token") == "write" and not uses_action(job, "aws-actions/configure-aws-credentials"):
            problems.append(f"{path.name}: job {name} gets an OIDC token it does not use")
    return problems


def step_problems(path: Path) -> list[str]:
    """`run:` scripts take no `${{ }}` expansions (values come in through `env:`, so a PR title or
    branch name can never become shell code), and checkouts leave no token in .git/config."""
    problems = []
    for name, job in load(path)["jobs"].items():
        for step in steps(job):
            if "${{" in step.get("run", ""):
                problems.append(f"{path.name}: job {name} expands an expression in run: {step['run']!r}")
            if action(step) == "actions/checkout" and step.get("with", {}).get("persist-credentials") is not False:
                problems.append(f"{path.name}: job {name} checks out without persist-credentials: false")
    return problems


def trigger_problems(path: Path) -> list[str]:
    """pull_request_target runs fork code with the base repository's secrets: never used."""
    return [f"{path.name}: uses {t}" for t in triggers(load(path)) if t in ("pull_request_target", "workflow_run")]


CHECKS = [pin_problems, permission_problems, step_problems, trigger_problems]


def zizmor(target: Path) -> subprocess.CompletedProcess:
    # Severity: every finding of zizmor's default ("regular") persona fails, at any severity and
    # confidence. These workflows hold deploy credentials, the regular persona is built to have few
    # false positives, and a finding we accept must then be waived in the workflow itself with a
    # reviewable `# zizmor: ignore[<audit>]` comment, rather than by a threshold here.
    # --offline: no network; --strict-collection: a workflow zizmor cannot parse is an error, not
    # skipped with a warning; --no-exit-codes: exit 0 with findings, so a non-zero code means the
    # tool itself failed, and findings are read from the JSON.
    return subprocess.run(
        [tool("zizmor"), "--offline", "--strict-collection", "--no-exit-codes", "--format", "json", str(target)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def findings(result: subprocess.CompletedProcess) -> list[dict]:
    assert result.returncode == 0, result.stderr
    return [f for f in json.loads(result.stdout) if not f.get("ignored")]


def check_jsonschema(schema: str, *paths: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [tool("check-jsonschema"), "--builtin-schema", schema, *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


# -- the repository's workflows --


def test_there_are_workflows_and_stacks():
    assert WORKFLOWS
    assert STACKS


def test_workflows_match_the_github_schema():
    result = check_jsonschema("vendor.github-workflows", *WORKFLOWS)
    assert result.returncode == 0, result.stdout + result.stderr


def test_dependabot_config_matches_its_schema():
    result = check_jsonschema("vendor.dependabot", GITHUB / "dependabot.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_zizmor_finds_nothing():
    found = findings(zizmor(GITHUB))
    assert not found, "\n".join(f"{f['ident']} ({f['determinations']['severity']}): {f['desc']}" for f in found)


@pytest.mark.parametrize("check", CHECKS, ids=lambda check: check.__name__)
@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda path: path.name)
def test_workflow_passes_structural_check(check, path):
    assert check(path) == []


def test_pull_request_tests_and_plans_every_stack_without_credentials():
    (test,) = jobs_where(lambda job: "make test" in runs(job), "pull_request")
    (plan,) = jobs_where(lambda job: "make plan" in runs(job), "pull_request")
    assert matrix_stacks(plan) == STACKS, "add the new stack to the plan matrix in .github/workflows"
    for job in (test, plan):
        # Runs for forks: no condition, no secrets, no OIDC token.
        assert "if" not in job
        assert "secrets." not in yaml.safe_dump(job)
        assert job["permissions"] == {"contents": "read"}


def pulumi_pin() -> str:
    (pin,) = [line for line in (ROOT / "requirements.txt").read_text().split() if line.startswith("pulumi==")]
    return pin.split("==")[1]


def pulumi_steps(job: dict) -> list[dict]:
    return [s for s in steps(job) if action(s) == "pulumi/actions"]


def test_pull_request_previews_every_stack_with_the_policy_pack_only_from_this_repository():
    (preview,) = jobs_where(lambda job: uses_action(job, "pulumi/actions", command="preview"), "pull_request")
    assert matrix_stacks(preview) == STACKS, "add the new stack to the preview matrix in .github/workflows"
    assert FORK_GUARD in preview["if"]
    assert preview["permissions"]["id-token"] == "write"
    (pulumi,) = pulumi_steps(preview)
    assert pulumi["with"]["comment-on-pr"] is True


def test_the_pull_request_under_review_cannot_weaken_the_policy_pack():
    """The pack comes from the target branch's commit, checked out and installed (hash-locked)
    before the pull request's own files are on disk, and the preview runs that copy."""
    (preview,) = jobs_where(lambda job: uses_action(job, "pulumi/actions", command="preview"), "pull_request")
    checkouts = [(i, s) for i, s in enumerate(steps(preview)) if action(s) == "actions/checkout"]
    (trusted_at, trusted), (program_at, program) = checkouts
    assert trusted["with"]["ref"] == "${{ github.event.pull_request.base.sha }}"
    assert trusted["with"]["path"] == "trusted" and trusted["with"]["sparse-checkout"] == "policy"
    assert "ref" not in program["with"] and program["with"]["path"] == "program"
    install = next(i for i, s in enumerate(steps(preview)) if "trusted/policy/requirements.lock" in s.get("run", ""))
    assert trusted_at < install < program_at
    assert "--require-hashes" in steps(preview)[install]["run"]
    (pulumi,) = pulumi_steps(preview)
    assert pulumi["with"]["work-dir"] == "program"
    assert pulumi["with"]["policyPacks"] == "../trusted/policy"
    # Its configuration (the accounts it trusts) comes from the target branch too, one file per stack.
    (config,) = [s for s in steps(preview) if s.get("id") == "pack-config"]
    assert '"trusted/policy/config/$STACK.json"' in config["run"] and "program/" not in config["run"]
    assert config["env"] == {"STACK": "${{ matrix.stack }}"}
    assert pulumi["with"]["policyPackConfigs"] == "${{ steps.pack-config.outputs.file }}"
    # The delivery stack previews, as it deploys, only where the repository runs it.
    gate = "matrix.stack != 'delivery' || vars.DELIVERY_STACK == 'enabled'"
    assert all(s.get("if") == gate for s in steps(preview) if "aws-actions" in s.get("uses", "") or s is pulumi)
    assert steps(preview).index(config) < steps(preview).index(pulumi)
    assert all((ROOT / "policy" / "config" / f"{stack}.json").is_file() for stack in STACKS)


def test_each_stack_previews_in_an_environment_of_its_own_with_a_read_only_token():
    """The environment makes the OIDC subject `...:environment:preview-<stack>` (one trust per
    stack) and holds the read-only token; the token that can update stacks is never in this workflow."""
    (preview,) = jobs_where(lambda job: uses_action(job, "pulumi/actions", command="preview"), "pull_request")
    assert preview["environment"] == "preview-${{ matrix.stack }}"
    (pulumi,) = pulumi_steps(preview)
    assert pulumi["env"] == {"PULUMI_ACCESS_TOKEN": "${{ secrets.PULUMI_PREVIEW_TOKEN }}"}
    text = (GITHUB / "workflows" / "pull-request.yml").read_text()
    assert "secrets.PULUMI_ACCESS_TOKEN" not in text
    credentials = next(s for s in steps(preview) if action(s) == "aws-actions/configure-aws-credentials")
    assert credentials["with"]["role-to-assume"] == "${{ vars.AWS_PREVIEW_ROLE_ARN }}"


def test_deploys_run_runtime_requirements_hash_locked_and_a_pinned_cli():
    for trigger in ("push", "pull_request"):
        for job in jobs_where(lambda job: bool(pulumi_steps(job)), trigger):
            assert "make venv" not in runs(job) and "requirements-dev" not in runs(job)
            for step in pulumi_steps(job):
                assert step["with"]["pulumi-version"] == pulumi_pin()
    for job in jobs_where(lambda job: uses_action(job, "pulumi/actions", command="up"), "push"):
        assert "make deploy-venv" in runs(job)
    makefile = (ROOT / "Makefile").read_text()
    recipe = makefile.split("\ndeploy-venv:")[1].split("\n\n")[0]
    assert recipe.count("--require-hashes") == 2 and "requirements.lock" in recipe
    assert "policy/requirements.lock" in recipe


@pytest.mark.parametrize(
    ("lock", "requirements"),
    [
        ("requirements.lock", "requirements.txt"),
        ("requirements-dev.lock", "requirements-dev.txt"),
        ("requirements-uv.lock", "requirements-uv.txt"),
        ("policy/requirements.lock", "policy/requirements.txt"),
    ],
)
def test_locks_pin_the_requirements_by_hash(lock, requirements):
    text = (ROOT / lock).read_text()
    entries = re.findall(
        r"^([A-Za-z0-9_.\[\]-]+)==([^\s;]+)(?: ;[^\\\n]*)?((?:\s*\\\n\s+--hash=sha256:[0-9a-f]{64})*)", text, re.M
    )
    assert entries
    assert all(hashes for _, _, hashes in entries), "every locked package needs its hashes"
    locked = {name.lower(): version for name, version, _ in entries}
    for line in (ROOT / requirements).read_text().splitlines():
        if line.strip() and not line.startswith(("#", "-r ")):
            name, version = line.split("==")
            name = name.split("[")[0]  # an extra's packages are locked under the package's name
            assert locked.get(name.lower()) == version, f"{lock}: {name} is not {version}; run make lock"


def test_main_deploys_every_stack_in_its_environment_one_update_at_a_time():
    up_jobs = {
        next(s["with"]["stack-name"] for s in steps(job) if action(s) == "pulumi/actions"): job
        for job in jobs_where(lambda job: uses_action(job, "pulumi/actions", command="up"), "push")
    }
    assert sorted(up_jobs) == STACKS, "add a deploy job for the new stack in .github/workflows/deploy.yml"
    for stack, job in up_jobs.items():
        assert job["environment"] == stack  # staging and prod: protection rules gate the job
        assert job["concurrency"] == {"group": f"pulumi-up-{stack}", "cancel-in-progress": False}
        assert uses_action(job, "pulumi/actions", policyPacks="policy", policyPackConfigs=f"policy/config/{stack}.json")
    deploy = load(GITHUB / "workflows" / "deploy.yml")
    assert deploy["on"] == {"push": {"branches": ["main"]}}
    assert deploy["jobs"]["staging"]["needs"] == "dev"
    assert deploy["jobs"]["prod"]["needs"] == "staging"
    # The cross-account stack deploys only where the repository says it is the one in use.
    assert deploy["jobs"]["delivery"]["if"] == "vars.DELIVERY_STACK == 'enabled'"


# -- the checks reject bad workflows --


def test_schema_check_rejects_a_broken_workflow(tmp_path):
    broken = tmp_path / "broken.yml"
    shutil.copy(INVALID, broken)
    result = check_jsonschema("vendor.github-workflows", broken)
    assert result.returncode == 1
    assert "'runs-on' is a required property" in result.stdout


def test_zizmor_rejects_an_unsafe_workflow(tmp_path):
    workflows = tmp_path / ".github" / "workflows"
    workflows.mkdir(parents=True)
    shutil.copy(UNSAFE, workflows / "unsafe.yml")
    idents = {f["ident"] for f in findings(zizmor(tmp_path))}
    assert {"template-injection", "unpinned-uses", "artipacked", "excessive-permissions"} <= idents


def test_zizmor_fails_on_a_workflow_it_cannot_read(tmp_path):
    shutil.copy(INVALID, tmp_path / "broken.yml")
    assert zizmor(tmp_path / "broken.yml").returncode != 0


@pytest.mark.parametrize("check", CHECKS, ids=lambda check: check.__name__)
def test_structural_check_rejects_the_unsafe_workflow(check, tmp_path):
    path = tmp_path / "unsafe.yml"
    text = UNSAFE.read_text()
    if check is trigger_problems:
        text = text.replace("on: pull_request", "on: pull_request_target")
    path.write_text(text)
    assert check(path)


def test_stacks_come_from_the_stack_files(tmp_path):
    for name in ("Pulumi.yaml", "Pulumi.dev.yaml", "Pulumi.qa.yaml"):
        (tmp_path / name).write_text("config: {}\n")
    assert stacks_in(tmp_path) == ["dev", "qa"]


def test_make_plan_installs_the_runtime_only_and_make_test_the_tools_on_top():
    """A first `make plan` needs seconds, not the minutes the test tools take."""
    makefile = (ROOT / "Makefile").read_text()
    plan = re.search(r"^plan: (.+)$", makefile, re.M).group(1).split()
    assert plan == ["$(VENV)/.runtime"]
    runtime = re.search(r"^\$\(VENV\)/\.runtime: (.+)$", makefile, re.M).group(1).split()
    assert "requirements.lock" in runtime and "requirements-dev.lock" not in runtime
    tools = re.search(r"^\$\(VENV\)/\.installed: (.+)$", makefile, re.M).group(1).split()
    assert tools == ["requirements-dev.lock", "$(VENV)/.runtime"]
    locked = set(re.findall(r"^([A-Za-z0-9_.-]+)==", (ROOT / "requirements.lock").read_text(), re.M))
    assert not locked & {"pytest", "ruff", "moto", "pyright", "zizmor", "check-jsonschema", "pulumi-policy"}
    # Both installs are by hash, with uv, itself installed by hash.
    assert makefile.count("--require-hashes --no-deps -r requirements-uv.lock") == 1
    for lock in ("requirements.lock", "requirements-dev.lock"):
        assert f"$(UV) pip install --quiet --python $(PY) --require-hashes --no-deps -r {lock}" in makefile
