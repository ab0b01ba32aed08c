"""Security tests with teeth: one regression per row of SECURITY.md, each of which the row's
guarding tests must catch.

    make mutants          # python -m tests.mutation: apply each mutant to a copy, run its tests

Each mutant removes or weakens one control the way a careless change would (`|| true` after a
scan, an action dropped from the SCP, a condition deleted) in a temporary copy of the repository,
then runs the tests SECURITY.md names for that control: at least one must fail, by assertion (not
by an import or syntax error). `tests/test_security_doc.py` checks, on every `make test`, that
every row has a mutant and that every mutant still applies to the code as it is.
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
IGNORED = shutil.ignore_patterns(".git", ".venv*", "__pycache__", ".pytest_cache", ".ruff_cache", "build", "dist")


@dataclass(frozen=True)
class Mutant:
    row: str
    """Words of the SECURITY.md row (its control column) whose control this removes."""
    file: str
    old: str
    """Text that occurs exactly once in `file`..."""
    new: str
    """...and what the regression makes of it."""
    tests: tuple[str, ...]
    """Tests named in that row, at least one of which must fail."""


def _t(*names: str) -> tuple[str, ...]:
    return tuple(f"tests/{name}" for name in names)


MUTANTS = (
    # CICD-SEC-1 -------------------------------------------------------------------------------
    Mutant(
        "production deploys wait for a manual approval",
        "components/settings.py",
        'deploy["requireApproval"] = is_prod',
        'deploy["requireApproval"] = False',
        _t("test_security_controls.py::test_prod_requires_approval_when_the_stack_does_not_say"),
    ),
    Mutant(
        "so does the last target of a production stack that deploys nothing itself, whatever its name",
        "components/settings.py",
        '    if values.get("production") and _builds_only(promotion):',
        "    if False:",
        _t(
            "test_delivery_stack.py::"
            "test_a_production_stack_that_deploys_nothing_itself_approves_its_last_target_whatever_its_name"
        ),
    ),
    Mutant(
        "pull requests run the scans and tests of unmerged code",
        "components/delivery.py",
        "                    tags=svc.source.tags,\n                )",
        "                    tags=svc.source.tags,\n                    pull_requests=svc.source.pull_requests,\n"
        "                )",
        _t("test_scale.py::test_pull_requests_run_in_a_pipeline_that_tests_and_cannot_deploy"),
    ),
    Mutant(
        "only pushes to the configured branch start the pipeline",
        "components/source.py",
        'git["pushes"] = [{"branches": {"includes": [self.branch]}',
        'git["pushes"] = [{"branches": {"includes": ["*"]}',
        _t("test_stacks.py::test_only_the_configured_branch_triggers_the_pipeline"),
    ),
    Mutant(
        "the deploy cannot run without the build's artifact",
        "components/pipeline.py",
        "            if missing:\n",
        "            if False:\n",
        _t("test_library.py::test_the_pipeline_refuses_a_deploy_whose_input_no_stage_produces"),
    ),
    Mutant(
        "a production promotion pipeline (the delivery stack) deploys before its approval only into accounts",
        "policy/rules/codepipeline.py",
        '        and dig(action, "provider") in ECS_DEPLOY_PROVIDERS\n',
        "",
        _t("test_policy.py::test_a_production_promotion_deploys_before_its_approval_only_into_non_production_accounts"),
    ),
    # CICD-SEC-2 -------------------------------------------------------------------------------
    Mutant(
        "one role per actor: pipeline",
        "components/pipeline.py",
        "trust=pipeline_role.arn.apply(iam.trusts_only),",
        'trust=pipeline_role.arn.apply(lambda _: iam.trusts_only("*")),',
        _t("test_iam.py::test_roles_trust_one_service_for_one_resource_in_this_account"),
    ),
    Mutant(
        "every statement names its actions and is scoped",
        "components/codebuild.py",
        '[log_group.arn.apply(lambda a: f"{a}:*")]',
        '["*"]',
        _t("test_iam.py::test_wildcard_resources_only_where_aws_has_no_resource_level_permission"),
    ),
    Mutant(
        "optional permissions boundary on every role",
        "components/iam.py",
        "        path=path,\n        assume_role_policy=trust,\n        permissions_boundary=permissions_boundary,",
        "        path=path,\n        assume_role_policy=trust,\n        permissions_boundary=None,",
        _t("test_iam.py::test_a_permissions_boundary_is_attached_to_every_role"),
    ),
    # CICD-SEC-3 -------------------------------------------------------------------------------
    Mutant(
        "dependency audit (osv-scanner), SAST (semgrep) and secret scan (gitleaks) run beside",
        "components/delivery.py",
        "        verification.append(scans.stage_for(source))",
        "        pass",
        _t("test_security_controls.py::test_scans_run_in_parallel_with_the_image_build_on_the_source"),
    ),
    Mutant(
        "each scanner is verified before it runs",
        "buildspecs/scan-dependencies.yml",
        "| sha256sum --check --strict",
        "| sha256sum --check --strict || true",
        _t("test_buildspec_scans.py::test_a_download_that_does_not_match_the_pinned_sum_never_runs"),
    ),
    Mutant(
        "a finding fails the scan",
        "buildspecs/scan-secrets.yml",
        '--gitleaks-ignore-path "$DOWNLOAD/ignore" --ignore-gitleaks-allow',
        '--gitleaks-ignore-path "$DOWNLOAD/ignore" --ignore-gitleaks-allow || true',
        _t("test_buildspec_scans.py::test_a_scan_finding_fails_the_build"),
    ),
    # CICD-SEC-4 -------------------------------------------------------------------------------
    Mutant(
        "every buildspec is embedded in its CodeBuild project",
        "components/codebuild.py",
        '"buildspec": buildspecs.load(buildspec)',
        '"buildspec": "buildspec.yml"',
        _t("test_build.py::test_the_buildspec_is_embedded_from_this_repository"),
    ),
    Mutant(
        "nothing in the checkout runs with the build's rights",
        "buildspecs/build-image.yml",
        "python3 -I -c 'import collections",
        "python3 -c 'import collections",
        _t("test_buildspec_commands.py::test_modules_and_tools_planted_in_the_checkout_do_not_run_in_the_build"),
    ),
    Mutant(
        "the application repository cannot configure its own scans",
        "buildspecs/scan-code.yml",
        "--disable-version-check --disable-nosem --no-git-ignore --max-target-bytes=0 .",
        "--disable-version-check --no-git-ignore --max-target-bytes=0 .",
        _t("test_buildspec_scans.py::test_the_application_repository_cannot_suppress_a_code_finding"),
    ),
    Mutant(
        "the Dockerfile cannot choose its frontend",
        "buildspecs/build-image.yml",
        '        --build-arg "BUILDKIT_SYNTAX=$HUB/$DOCKERFILE_FRONTEND"\n',
        "",
        _t("test_buildspec_commands.py::test_the_dockerfile_cannot_choose_its_frontend"),
    ),
    # CICD-SEC-5 -------------------------------------------------------------------------------
    Mutant(
        "what another account gets from the tooling account is derived",
        "components/artifacts.py",
        '"Condition": {"StringEquals": {"kms:ViaService": f"s3.{region}.amazonaws.com"}},',
        "",
        _t("test_target_access.py::test_each_cross_account_grant_names_exactly_the_configured_principals"),
    ),
    Mutant(
        "across accounts, a target account's deploy role",
        "components/target_access.py",
        "trust=trusted.apply(iam.trusts_only),",
        'trust=trusted.apply(lambda arn: iam.trusts_only(arn.split(":role/")[0] + ":root")),',
        _t("test_target_access.py::test_the_role_trusts_the_tooling_pipelines_role_and_nothing_else"),
    ),
    Mutant(
        "scan and test projects read the source and write logs only",
        "components/security.py",
        "                writes_artifacts=False,",
        "                writes_artifacts=True,",
        _t("test_iam.py::test_scan_projects_read_the_source_and_write_logs_only"),
    ),
    Mutant(
        "only the pipelines run their builds",
        "components/guardrails.py",
        '                    "codebuild:StartBuild",\n',
        "",
        _t("test_security_controls.py::test_the_scp_denies_pipeline_changes_except_by_the_deploying_role"),
    ),
    Mutant(
        "the deploy may register only unprivileged task definitions",
        "components/deploy.py",
        '            ["*"],\n            condition={"BoolIfExists": {"ecs:privileged": "false"}},',
        '            ["*"],',
        _t("test_iam.py::test_the_deploy_role_updates_only_its_service_and_passes_only_its_task_roles"),
    ),
    # CICD-SEC-6 -------------------------------------------------------------------------------
    Mutant(
        "secrets only as Secrets Manager / Parameter Store references",
        "components/settings.py",
        "if _SECRET_NAME.search(name) or _SECRET_VALUE.search(value):",
        "if False:",
        _t("test_bad_input.py::test_plaintext_variables_that_look_like_secrets_are_rejected"),
    ),
    Mutant(
        "build secrets reach the Dockerfile only as BuildKit secrets",
        "buildspecs/build-image.yml",
        'SECRETS+=(--secret "id=$secret,env=$secret")',
        'SECRETS+=(--build-arg "$secret=${!secret}")',
        _t("test_buildspec_commands.py::test_build_secrets_reach_the_dockerfile_as_buildkit_secrets_only"),
    ),
    # CICD-SEC-7 -------------------------------------------------------------------------------
    Mutant(
        "artifacts in a versioned, TLS-only, public-access-blocked bucket",
        "components/artifacts.py",
        '                    "ArnLike": {"aws:PrincipalArn": pattern},\n',
        "",
        _t("test_security_controls.py::test_the_artifact_key_is_usable_by_the_pipeline_roles_only"),
    ),
    Mutant(
        "every SNS topic is encrypted with the customer key and refuses requests without TLS",
        "components/topics.py",
        '[*v[1:], deny_insecure_transport("sns:Publish", [v[0]])]',
        "[*v[1:]]",
        _t("test_security_controls.py::test_every_topic_refuses_requests_without_tls"),
    ),
    # CICD-SEC-8 -------------------------------------------------------------------------------
    Mutant(
        "`UseConnection` only on this connection",
        "components/source.py",
        'condition = {"StringEquals": {repository_key: repository}, "StringEqualsIfExists": read_only}',
        'condition = {"StringEqualsIfExists": read_only}',
        _t("test_iam.py::test_connection_use_is_conditioned_on_this_repository"),
    ),
    # CICD-SEC-9 -------------------------------------------------------------------------------
    Mutant(
        "images immutable and scanned on push",
        "buildspecs/build-image.yml",
        "blocking = {s: counts[s] for s in order[: order.index(limit) + 1] if counts.get(s)};",
        "blocking = {};",
        _t("test_buildspec_commands.py::test_the_image_scan_gate_fails_the_build_at_or_above_the_configured_severity"),
    ),
    Mutant(
        "no one swaps an artifact while a deploy waits for approval",
        "components/artifacts.py",
        '"Condition": {"ArnNotLike": {"aws:PrincipalArn": writers}},',
        '"Condition": {"ArnNotLike": {"aws:PrincipalArn": "*"}},',
        _t("test_security_controls.py::test_artifacts_cannot_be_swapped_while_a_deploy_waits_for_approval"),
    ),
    Mutant(
        "the approval request shows the digest it approves",
        "buildspecs/check-service.yml",
        'if [ "$image" != "$EXPECTED_IMAGE" ]; then',
        "if false; then",
        _t("test_buildspec_scans.py::test_the_check_verifies_the_service_runs_the_digest_this_execution_built"),
    ),
    Mutant(
        "the image gate handles every scan status ECR documents",
        "buildspecs/build-image.yml",
        "COMPLETE:*|ACTIVE:*) status=done ;;",
        "*) status=done ;;",
        _t(
            "test_buildspec_commands.py::test_every_scan_status_ecr_documents_is_handled",
            "test_buildspec_commands.py::test_a_scan_that_never_finishes_fails_the_build",
        ),
    ),
    # CICD-SEC-10 ------------------------------------------------------------------------------
    Mutant(
        "EventBridge rules to a KMS-encrypted SNS topic",
        "components/alerts.py",
        'SERVICE_EVENTS = ["UpdateService", "DeleteService"]',
        'SERVICE_EVENTS = ["DeleteService"]',
        _t("test_security_controls.py::test_service_updates_by_anyone_but_the_deploy_role_are_reported"),
    ),
    # The seed's practices ---------------------------------------------------------------------
    Mutant(
        "an SCP document, exported as `scpDocument`",
        "components/guardrails.py",
        '                "iam:PutRolePolicy",\n',
        "",
        _t("test_security_controls.py::test_the_scp_denies_pipeline_changes_except_by_the_deploying_role"),
    ),
    Mutant(
        "a multi-region trail with log file validation",
        "components/guardrails.py",
        "        enable_log_file_validation=True,",
        "        enable_log_file_validation=False,",
        _t("test_security_controls.py::test_guardrails_are_opt_in_and_create_trail_detector_and_config_rules"),
    ),
    Mutant(
        "a GuardDuty detector",
        "components/guardrails.py",
        'aws.guardduty.Detector(f"{name}-guardduty", enable=True,',
        'aws.guardduty.Detector(f"{name}-guardduty", enable=False,',
        _t("test_security_controls.py::test_guardrails_are_opt_in_and_create_trail_detector_and_config_rules"),
    ),
    Mutant(
        "managed rules: no AWS credentials in env vars",
        "components/guardrails.py",
        '    "codebuild-logging-enabled": "CODEBUILD_PROJECT_LOGGING_ENABLED",\n',
        "",
        _t("test_security_controls.py::test_guardrails_are_opt_in_and_create_trail_detector_and_config_rules"),
    ),
    Mutant(
        "prod approval, protected stateful resources",
        "components/buckets.py",
        "        opts=pulumi.ResourceOptions(parent=parent, protect=protect, provider=provider),",
        "        opts=pulumi.ResourceOptions(parent=parent, protect=False, provider=provider),",
        _t("test_stacks.py::test_prod_protects_its_stateful_resources_and_dev_does_not"),
    ),
    Mutant(
        "see CICD-SEC-6",
        "components/settings.py",
        "if _SECRET_NAME.search(name) or _SECRET_VALUE.search(value):",
        "if _SECRET_VALUE.search(value):",
        _t("test_bad_input.py::test_plaintext_variables_that_look_like_secrets_are_rejected"),
    ),
    Mutant(
        "see CICD-SEC-3",
        "buildspecs/scan-code.yml",
        '"$SCAN/venv/bin/semgrep" scan --config "$SCAN/rules.yml" --error --metrics=off',
        '"$SCAN/venv/bin/semgrep" scan --config "$SCAN/rules.yml" --metrics=off',
        _t("test_security_controls.py::test_scan_tools_are_pinned_and_fail_on_findings"),
    ),
    Mutant(
        "bypass alert on ECS UpdateService",
        "components/alerts.py",
        "        branches.insert(0, anyone)\n",
        "",
        _t("test_security_controls.py::test_service_updates_by_anyone_but_the_deploy_role_are_reported"),
    ),
    Mutant(
        "TLS-only bucket and topic policies",
        "components/service.py",
        'TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"',
        'TLS_POLICY = "ELBSecurityPolicy-2016-08"',
        _t("test_service.py::test_the_load_balancer_serves_https_and_redirects_http"),
    ),
    Mutant(
        "GitHub through an authorised connection",
        "components/source.py",
        '                "ConnectionArn": self.connection_arn,\n',
        '                "ConnectionArn": "arn:aws:codeconnections:eu-west-1:111122223333:connection/any",\n',
        _t("test_iam.py::test_connection_use_is_conditioned_on_this_repository"),
    ),
    Mutant(
        "the policy pack and the offline plan run on every pull request",
        ".github/workflows/pull-request.yml",
        "policyPacks: ../trusted/policy",
        "policyPacks: policy",
        _t("test_workflows.py::test_the_pull_request_under_review_cannot_weaken_the_policy_pack"),
    ),
    Mutant(
        "build and service logs (where a secret printed by mistake would land) are encrypted",
        "components/codebuild.py",
        "        kms_key_id=store.logs_key.arn,\n",
        "",
        _t("test_policy.py::test_log_groups_are_encrypted_with_the_logs_key"),
    ),
    Mutant(
        "only the deploy roles (their own IAM path",
        "components/guardrails.py",
        "deploy_role_patterns or [role_pattern]",
        "[role_pattern]",
        _t(
            "test_security_controls.py::test_only_the_deploy_roles_change_what_runs_and_no_one_else_passes_the_pipeline_roles"
        ),
    ),
    Mutant(
        "the keys, the alert topic, the alert rules' tags",
        "components/guardrails.py",
        '                "kms:PutKeyPolicy",\n',
        "",
        _t(
            "test_security_controls.py::test_only_the_deploy_roles_change_what_runs_and_no_one_else_passes_the_pipeline_roles"
        ),
    ),
    Mutant(
        "the scanners skip nothing the repository can arrange",
        "buildspecs/scan-code.yml",
        "      - ': > .semgrepignore'\n",
        "",
        _t("test_buildspec_scans.py::test_the_code_scan_skips_nothing_for_where_it_sits_or_how_big_it_is"),
    ),
    Mutant(
        "every `python3` a buildspec runs is isolated",
        "buildspecs/build-image.yml",
        'python3 -I - "$DOCKERFILE"',
        'python3 - "$DOCKERFILE"',
        _t("test_buildspec_scans.py::test_every_python_a_buildspec_runs_is_isolated_from_the_checkout"),
    ),
    Mutant(
        "pipelines of one artifact store never share an artifact folder",
        "components/artifacts.py",
        '        return f"{pipeline}/*"\n',
        '        return f"{pipeline}*"\n',
        _t("test_security_controls.py::test_pipelines_of_one_store_never_share_an_artifact_folder"),
    ),
    Mutant(
        "only the pipelines run their builds",
        "components/guardrails.py",
        '                "codepipeline:OverrideStageCondition",\n',
        "",
        _t("test_security_controls.py::test_the_scp_denies_pipeline_changes_except_by_the_deploying_role"),
    ),
    Mutant(
        "every new task must answer its health path",
        "components/service.py",
        '"lifecycle_stages": [PRE_PRODUCTION_STAGE]}',
        '"lifecycle_stages": ["POST_PRODUCTION_TRAFFIC_SHIFT"]}',
        _t("test_service.py::test_blue_green_is_ecs_own_with_two_target_groups_and_weighted_listener_rules"),
    ),
    Mutant(
        "what the pipeline deployed is never reverted",
        "components/service.py",
        'ignored = [] if self.task_definition is not None and live is not None else ["taskDefinition"]',
        "ignored = []",
        _t(
            "test_ownership.py::test_a_pipeline_deploy_is_never_reverted_and_nothing_restarts",
            "test_ownership.py::test_a_service_that_is_not_found_is_never_rolled_back",
        ),
    ),
    Mutant(
        "what the pipeline deployed is never reverted",
        "components/ownership.py",
        'if described.status != "ACTIVE":',
        "if False:",
        _t("test_ownership.py::test_a_service_that_is_not_found_is_never_rolled_back"),
    ),
    Mutant(
        "a service moved to another cluster or name starts from what the old one runs",
        "components/ownership.py",
        "if (m.tags or {}).get(OWNER_TAG) == owner(component)]",
        "if False]",
        _t("test_ownership.py::test_a_moved_service_starts_from_what_the_old_one_runs"),
    ),
    Mutant(
        "what the pipeline deployed is never reverted",
        "components/service.py",
        "if live.deployments > 1:",
        "if False:",
        _t("test_ownership.py::test_a_config_change_during_a_deploy_waits_for_it"),
    ),
    Mutant(
        "previews run per stack in a GitHub environment of their own",
        ".github/workflows/pull-request.yml",
        "    environment: preview-${{ matrix.stack }}\n",
        "",
        _t("test_workflows.py::test_each_stack_previews_in_an_environment_of_its_own_with_a_read_only_token"),
    ),
    Mutant(
        "installs the runtime requirements only, every package pinned by hash",
        "Makefile",
        "--disable-pip-version-check --require-hashes --no-deps -r requirements.lock",
        "--disable-pip-version-check -r requirements-dev.txt",
        _t("test_workflows.py::test_deploys_run_runtime_requirements_hash_locked_and_a_pinned_cli"),
    ),
    Mutant(
        "the policy pack reads actions as IAM does",
        "policy/rules/normalise.py",
        'return fnmatch.fnmatchcase(action.lower(), pattern.replace("[", "[[]"))',
        "return action.lower() == pattern",
        _t("test_policy_bypasses.py::test_key_use_by_a_whole_account_however_written"),
    ),
    Mutant(
        "the policy pack reads principals as IAM does",
        "policy/rules/normalise.py",
        'entry = f"arn:aws:iam::{entry}:root"',
        "pass",
        _t("test_policy_bypasses.py::test_trust_of_a_whole_account_however_written"),
    ),
    Mutant(
        "the policy pack's TLS deny counts only when nothing narrows it",
        "policy/rules/s3.py",
        'if not isinstance(condition, Mapping) or list(condition) != ["Bool"]:',
        'if not isinstance(condition, Mapping) or "Bool" not in condition:',
        _t("test_policy_bypasses.py::test_a_tls_deny_narrowed_by_one_more_condition"),
    ),
    Mutant(
        "a promotion target in another region reads the pipeline's artifacts only from a store of its region",
        "__main__.py",
        "                if target.region == region\n",
        "                if True\n",
        _t("test_delivery_stack.py::test_a_target_in_another_region_gets_an_artifact_store_there_that_only_it_reads"),
    ),
    Mutant(
        "a promotion target in another region reads the pipeline's artifacts only from a store of its region",
        "components/artifacts.py",
        "        child = pulumi.ResourceOptions(parent=self, provider=self._provider)\n",
        "        child = pulumi.ResourceOptions(parent=self)\n",
        _t("test_delivery_stack.py::test_a_target_in_another_region_gets_an_artifact_store_there_that_only_it_reads"),
    ),
    Mutant(
        "made with the stack's own account settings",
        "__main__.py",
        '**({"region": region, "provider_settings": config.aws_provider} if region else {}),',
        '**({"region": region} if region else {}),',
        _t("test_delivery_stack.py::test_the_other_regions_store_is_made_with_the_stacks_account_and_credentials"),
    ),
    Mutant(
        "the stack's home store keeps its key limited to the pipeline roles when no target reads it",
        "__main__.py",
        "if not any(target.region is None for target in config.promotion):",
        "if not config.promotion:",
        _t("test_delivery_stack.py::test_a_stack_whose_targets_all_live_elsewhere_still_limits_its_home_key"),
    ),
    Mutant(
        "the policy pack finds secrets wherever a stack holds values",
        "policy/rules/secrets.py",
        "        return _task_definition_problems(props)\n",
        "        return []\n",
        _t("test_policy_bypasses.py::test_tokens_by_shape_in_every_place"),
    ),
)


def security_rows() -> list[tuple[str, list[str]]]:
    """(control, tests) for every row of SECURITY.md's tables."""
    rows = []
    for line in (ROOT / "SECURITY.md").read_text().splitlines():
        if line.startswith("| ") and not line.startswith(("| ---", "| risk", "| practice")):
            cells = [cell.strip() for cell in line.strip("|").split("|")]
            rows.append((cells[1], re.findall(r"(tests/test_\w+\.py::\w+)", cells[3])))
    return rows


def mutant_row(mutant: Mutant) -> tuple[str, list[str]]:
    matches = [row for row in security_rows() if mutant.row in row[0]]
    if len(matches) != 1:
        raise LookupError(f"mutant {mutant.row!r} matches {len(matches)} rows of SECURITY.md")
    return matches[0]


def apply(mutant: Mutant, root: Path) -> None:
    path = root / mutant.file
    text = path.read_text()
    if text.count(mutant.old) != 1:
        raise LookupError(f"{mutant.file}: {mutant.old!r} occurs {text.count(mutant.old)} times")
    path.write_text(text.replace(mutant.old, mutant.new))


def killed(mutant: Mutant) -> tuple[bool, str]:
    """Run the mutant's tests on a mutated copy: killed when a test fails (pytest exit 1)."""
    with tempfile.TemporaryDirectory(prefix="mutant-") as folder:
        copy = Path(folder) / "repo"
        shutil.copytree(ROOT, copy, ignore=IGNORED, symlinks=True)
        apply(mutant, copy)
        result = subprocess.run(
            [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "-p", "no:xdist", *mutant.tests],
            cwd=copy,
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
            check=False,
        )
        return result.returncode == 1, (result.stdout + result.stderr)[-600:]


def main() -> int:
    for mutant in MUTANTS:
        mutant_row(mutant)
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        results = list(pool.map(killed, MUTANTS))
    survivors = 0
    for mutant, (dead, output) in zip(MUTANTS, results, strict=True):
        print(f"{'killed  ' if dead else 'SURVIVED'}  {mutant.file}: {mutant.row}")
        if not dead:
            survivors += 1
            print("    " + output.replace("\n", "\n    "))
    print(f"{len(MUTANTS) - survivors} of {len(MUTANTS)} mutants killed")
    return 1 if survivors else 0


if __name__ == "__main__":
    sys.exit(main())
