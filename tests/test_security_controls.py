"""Security controls from the OWASP CI/CD Top 10, each guarded by a test that fails without it."""

import fnmatch
import json
import re
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
import yaml
from moto.events.models import EventPatternParser

from components import guardrails, plan
from components.settings import SettingsError, stack_settings
from components.testing import run_stack

from .helpers import DEPLOYING, RULE, api_call, evaluated, execution_event, fired, policy_of

ROOT = Path(__file__).resolve().parent.parent
SCAN_BUILDSPECS = {"sca": "scan-dependencies", "sast": "scan-code", "secrets": "scan-secrets"}


def build_stage(run):
    stages = run.one("aws:codepipeline/pipeline:Pipeline").inputs["stages"]
    return next(s for s in stages if s["name"] == "Build")


def test_scans_run_in_parallel_with_the_image_build_on_the_source(run, settings):
    actions = build_stage(run)["actions"]
    tests = ["Tests"] if settings.build.test_commands else []
    assert [a["name"] for a in actions] == ["Image", "Dependencies", "Code", "Secrets", *tests]
    assert {a.get("runOrder", 1) for a in actions} == {1}
    assert all(a["inputArtifacts"] == ["SourceOutput"] for a in actions)


@pytest.mark.parametrize(("suffix", "buildspec"), SCAN_BUILDSPECS.items())
def test_each_scan_project_is_unprivileged_and_embeds_its_buildspec(run, settings, suffix, buildspec):
    project = run.named(f"{settings.pipeline.name}-scan-{suffix}-project").inputs
    assert project["environment"]["privilegedMode"] is False
    assert project["source"]["buildspec"] == (ROOT / "buildspecs" / f"{buildspec}.yml").read_text()


def test_only_the_image_build_is_privileged(run):
    privileged = [
        p.name for p in run.of_type("aws:codebuild/project:Project") if p.inputs["environment"]["privilegedMode"]
    ]
    assert len(privileged) == 1 and privileged[0].endswith("-build-project")


@pytest.mark.parametrize("buildspec", SCAN_BUILDSPECS.values())
def test_scan_tools_are_pinned_and_fail_on_findings(buildspec):
    spec = yaml.safe_load((ROOT / "buildspecs" / f"{buildspec}.yml").read_text())
    versions = {k: v for k, v in spec["env"]["variables"].items() if k.endswith("_VERSION")}
    assert versions and all(re.fullmatch(r"v?\d+\.\d+\.\d+", v) for v in versions.values())
    install = " ".join(spec["phases"]["install"]["commands"])
    for name, version in versions.items():
        # A download names its pinned version; a Python tool installs from a lock that pins it
        # (and every dependency) by version and digest.
        locked = re.findall(r"^\s*([A-Za-z0-9._-]+)==(\S+) (--hash=sha256:[0-9a-f]{64} ?)+$", install, re.M)
        assert f"${{{name}}}" in install or (name.removesuffix("_VERSION").lower(), version) in {
            (package.lower(), pinned) for package, pinned, _ in locked
        }, f"the install must use the pinned {name}"
    assert "@latest" not in install
    scan = " ".join(spec["phases"]["build"]["commands"])
    assert re.search(r"--error|--exit-code 1|scan source", scan)


def test_prod_cannot_skip_approval_without_the_explicit_insecure_flag():
    with pytest.raises(SettingsError, match=r"deploy.requireApproval = False is not allowed in prod"):
        run_stack("prod", {"ecs-cicd:deploy": {"requireApproval": False}})
    run = run_stack(
        "prod",
        {"ecs-cicd:deploy": {"requireApproval": False}, "ecs-cicd:insecure": {"allowUnapprovedProdDeploys": True}},
    )
    assert "Approve" not in [s["name"] for s in run.one("aws:codepipeline/pipeline:Pipeline").inputs["stages"]]


def test_prod_requires_approval_when_the_stack_does_not_say():
    run = run_stack("prod", {"ecs-cicd:deploy": {"timeoutMinutes": 30}})
    assert "Approve" in [s["name"] for s in run.one("aws:codepipeline/pipeline:Pipeline").inputs["stages"]]


def test_the_approval_notifies_an_encrypted_topic_and_links_the_commit():
    run = evaluated("prod")
    approve = next(s for s in run.one("aws:codepipeline/pipeline:Pipeline").inputs["stages"] if s["name"] == "Approve")
    configuration = approve["actions"][0]["configuration"]
    topic = run.one("aws:sns/topic:Topic", "orders-api-prod-approval-topic").inputs
    assert configuration["NotificationArn"] == topic["arn"]
    assert topic["kmsMasterKeyId"]
    assert (
        configuration["ExternalEntityLink"] == "https://github.com/acme/orders-api/commit/#{SourceVariables.CommitId}"
    )


def test_skipping_scans_needs_the_insecure_flag_and_plan_names_it(tmp_path, capsys):
    run = run_stack("dev", {"ecs-cicd:insecure": {"skipSecurityScans": True}})
    assert [a["name"] for a in build_stage(run)["actions"]] == ["Image"]
    projects = sorted(p.name for p in run.of_type("aws:codebuild/project:Project"))
    assert projects == ["orders-api-dev-build-project", "orders-api-dev-check-project"]

    shutil.copy(ROOT / "Pulumi.yaml", tmp_path)
    shutil.copy(ROOT / "__main__.py", tmp_path)
    stack = yaml.safe_load((ROOT / "Pulumi.dev.yaml").read_text())
    stack["config"]["ecs-cicd:insecure"] = {"skipSecurityScans": True}
    (tmp_path / "Pulumi.lax.yaml").write_text(yaml.safe_dump(stack))
    assert plan.main(["lax", "--project-dir", str(tmp_path)]) == 0
    assert "insecure: ecs-cicd:insecure.skipSecurityScans is on" in capsys.readouterr().out


def test_no_long_lived_credentials_are_created(run):
    assert not [r for r in run.resources if r.type in ("aws:iam/user:User", "aws:iam/accessKey:AccessKey")]


def home_rules(run) -> list:
    """The alert rules in the stack's own region (the IAM forwarder lives in us-east-1)."""
    return [r for r in run.of_type(RULE) if r.region == "eu-west-1"]


def test_pipeline_failures_are_sent_to_the_encrypted_alert_topic(run, settings):
    pipeline = settings.pipeline.name
    assert fired(run, execution_event(pipeline, "FAILED")) == ["pipeline-failed"]
    assert fired(run, execution_event(pipeline, "SUCCEEDED")) == []
    assert fired(run, execution_event("someone-elses-pipeline", "FAILED")) == []
    topic = run.one("aws:sns/topic:Topic", f"{run.outputs['pipelineName']}-alerts-topic").inputs
    assert topic["kmsMasterKeyId"] and run.outputs["alertTopicArn"] == topic["arn"]
    targets = {t.parent_name: t.inputs["arn"] for t in run.of_type("aws:cloudwatch/eventTarget:EventTarget")}
    assert {targets[r.name] for r in home_rules(run)} == {topic["arn"]}


@pytest.mark.parametrize("stack", DEPLOYING)  # its own service, deployed here
def test_service_updates_by_anyone_but_the_deploy_role_are_reported(run, settings):
    deploy_role = run.named(f"{settings.pipeline.name}-deploy-service-role").inputs["name"]
    cluster, service = settings.service.cluster, settings.service.name
    long_arn = f"arn:aws:ecs:eu-west-1:111122223333:service/{cluster}/{service}"
    short_arn = f"arn:aws:ecs:eu-west-1:111122223333:service/{service}"  # before the 2021 ARN format
    for name in (service, long_arn, short_arn):
        for event in ("UpdateService", "DeleteService"):
            assert fired(run, api_call("aws.ecs", event, {"service": name}, user="alice")) == ["service-bypass"]
            assert fired(run, api_call("aws.ecs", event, {"service": name}, role="someone")) == ["service-bypass"]
            # The role running `pulumi up` is usually shared by people: it is reported too.
            assert fired(run, api_call("aws.ecs", event, {"service": name}, role="ci-deployer")) == ["service-bypass"]
            assert fired(run, api_call("aws.ecs", event, {"service": name}, role=deploy_role)) == []
    # Application Auto Scaling updates the desired count itself.
    autoscaling = "AWSServiceRoleForApplicationAutoScaling_ECSService"
    assert fired(run, api_call("aws.ecs", "UpdateService", {"service": service}, role=autoscaling)) == []
    assert fired(run, api_call("aws.ecs", "UpdateService", {"service": "other"}, user="alice")) == []


def test_one_services_deploy_role_is_no_pass_on_another_service():
    from .test_scale import monorepo

    run = monorepo()
    api_role = run.named("api-dev-deploy-service-role").inputs["name"]
    assert fired(run, api_call("aws.ecs", "UpdateService", {"service": "api"}, role=api_role)) == []
    assert fired(run, api_call("aws.ecs", "UpdateService", {"service": "web"}, role=api_role)) == ["service-bypass"]


def events_of(run, kind: str) -> list[str]:
    """Every eventName a rule of `kind` watches, wherever in its pattern."""
    names: list[str] = []

    def walk(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "eventName":
                    names.extend(value)
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    for rule in run.of_type(RULE):
        if rule.name.endswith(f"-alerts-{kind}") and rule.region == "eu-west-1":
            walk(rule.json_input("eventPattern"))
    return sorted(set(names))


def test_changes_to_the_pipeline_its_projects_and_roles_are_reported(run, settings):
    pipeline = settings.pipeline.name
    assert events_of(run, "pipeline-changed") == ["DeletePipeline", "UpdatePipeline"]
    assert fired(run, api_call("aws.codepipeline", "UpdatePipeline", {"pipeline": {"name": pipeline}})) == [
        "pipeline-changed"
    ]
    assert fired(run, api_call("aws.codepipeline", "DeletePipeline", {"name": pipeline})) == ["pipeline-changed"]
    assert events_of(run, "projects-changed") == ["DeleteProject", "UpdateProject", "UpdateProjectVisibility"]
    for project in run.of_type("aws:codebuild/project:Project"):
        name, arn = project.inputs["name"], project.inputs["arn"]
        for event in ("UpdateProject", "DeleteProject"):
            assert fired(run, api_call("aws.codebuild", event, {"name": name})) == ["projects-changed"]
        visibility = {"projectArn": arn, "projectVisibility": "PUBLIC_READ"}
        assert fired(run, api_call("aws.codebuild", "UpdateProjectVisibility", visibility)) == ["projects-changed"]
    roles = [r.inputs["name"] for r in run.of_type("aws:iam/role:Role") if r.region == ""]
    role_events = events_of(run, "roles-changed")
    assert len(role_events) == 8 and "DeleteRole" in role_events and "UpdateAssumeRolePolicy" in role_events
    for role in roles:
        for event in role_events:
            request = {"roleName": role, "policyName": "x"}
            assert fired(run, api_call("aws.iam", event, request)) == ["roles-changed"], (role, event)
            assert fired(run, api_call("aws.iam", event, request), region="us-east-1") == ["forward-iam-events"]
    connection = run.outputs["connectionArn"]
    source = connection.split(":")[2]
    # UpdateConnectionInstallation is a permission, not an API call: no event can carry it.
    assert events_of(run, "connection-changed") == ["DeleteConnection", "TagResource", "UntagResource"]
    for event, request in (
        ("DeleteConnection", {"connectionArn": connection}),
        ("TagResource", {"resourceArn": connection, "tags": [{"key": "k", "value": "v"}]}),
        ("UntagResource", {"resourceArn": connection, "tagKeys": ["k"]}),
    ):
        assert fired(run, api_call(f"aws.{source}", event, request)) == ["connection-changed"]


def test_builds_run_by_anyone_but_a_pipeline_are_reported(run, settings):
    """A build started by hand can carry a buildspec or source override: any command, as the
    build's role. Only the pipelines' roles (under the stack's pipeline path) start builds."""
    project = run.named(f"{settings.pipeline.name}-build-project").inputs["name"]
    pipeline_role = run.named(f"{settings.pipeline.name}-role").inputs
    path_role = {"role": pipeline_role["name"], "path": pipeline_role["path"]}
    for event, request in (
        ("StartBuild", {"projectName": project, "buildspecOverride": "version: 0.2"}),
        ("StartBuildBatch", {"projectName": project}),
        ("RetryBuild", {"id": f"{project}:0123"}),
        ("RetryBuildBatch", {"id": f"{project}:0123"}),
    ):
        assert fired(run, api_call("aws.codebuild", event, request, user="alice")) == ["builds-outside-pipelines"]
        assert fired(run, api_call("aws.codebuild", event, request, role="admin")) == ["builds-outside-pipelines"]
        assert fired(run, api_call("aws.codebuild", event, request, **path_role)) == []


def test_pipelines_operated_by_anyone_but_an_operator_and_source_overrides_are_reported(run, settings):
    pipeline = settings.pipeline.name
    for event, request in (
        ("StartPipelineExecution", {"name": pipeline}),
        ("PutApprovalResult", {"pipelineName": pipeline, "stageName": "Approve", "actionName": "Approve"}),
        ("StopPipelineExecution", {"pipelineName": pipeline}),
        ("RetryStageExecution", {"pipelineName": pipeline}),
        ("RollbackStage", {"pipelineName": pipeline}),
        ("OverrideStageCondition", {"pipelineName": pipeline}),
    ):
        assert fired(run, api_call("aws.codepipeline", event, request, user="alice")) == ["pipeline-operated"]
        assert fired(run, api_call("aws.codepipeline", event, request, role="ci-deployer")) == []
    override = {"name": pipeline, "sourceRevisions": [{"actionName": "Source", "revisionValue": "evil"}]}
    assert fired(run, api_call("aws.codepipeline", "StartPipelineExecution", override, role="ci-deployer")) == [
        "source-override"
    ]


def test_iam_events_reach_the_home_region_from_us_east_1(run):
    """IAM delivers its events to EventBridge in us-east-1 only: a rule there forwards them to the
    stack's default bus, with a role that may put events on that bus and nothing else."""
    (forwarder,) = [r for r in run.of_type(RULE) if r.region == "us-east-1"]
    (target,) = [t for t in run.of_type("aws:cloudwatch/eventTarget:EventTarget") if t.parent_name == forwarder.name]
    assert target.inputs["arn"] == "arn:aws:events:eu-west-1:111122223333:event-bus/default"
    role = next(r for r in run.of_type("aws:iam/role:Role") if r.inputs["arn"] == target.inputs["roleArn"])
    trust = json.loads(role.inputs["assumeRolePolicy"])["Statement"][0]
    assert trust["Principal"] == {"Service": "events.amazonaws.com"}
    (pattern,) = [trust["Condition"]["ArnLike"]["aws:SourceArn"]]
    assert fnmatch.fnmatchcase(forwarder.inputs["arn"], pattern) and pattern.endswith("-iam-events*")
    assert "eu-west-1" in forwarder.inputs["name"]  # one per home region: two regions do not collide
    (statement,) = run.named(f"{role.name}-policy").json_input("policy")["Statement"]
    assert (statement["Action"], statement["Resource"]) == (["events:PutEvents"], [target.inputs["arn"]])
    in_us_east_1 = run_stack("dev", {"aws:region": "us-east-1"})
    assert {r.region for r in in_us_east_1.of_type(RULE)} == {"us-east-1"}
    assert not in_us_east_1.of_type("pulumi:providers:aws")


def test_every_alert_pattern_is_one_eventbridge_accepts(run):
    for rule in run.of_type(RULE):
        text = rule.inputs["eventPattern"]
        assert len(text) <= 2048, rule.name  # EventBridge's default event pattern size quota
        EventPatternParser(text).parse()  # no empty lists, only objects and arrays


def test_only_this_stacks_rules_may_publish_alerts(run, settings):
    policy = run.named(f"{settings.pipeline.name}-alerts-topic-policy").json_input("policy")
    allow = next(s for s in policy["Statement"] if s["Effect"] == "Allow")
    assert allow["Condition"] == {"ArnEquals": {"aws:SourceArn": sorted(r.inputs["arn"] for r in home_rules(run))}}
    key_policy = run.named(f"{settings.stack_name}-artifacts-key-policy").json_input("policy")
    events = next(s for s in key_policy["Statement"] if s["Principal"] == {"Service": "events.amazonaws.com"})
    assert events["Condition"] == {"StringEquals": {"aws:SourceAccount": "111122223333"}}


def test_the_artifact_key_is_usable_by_the_pipeline_roles_only(run, settings):
    key = run.one("aws:kms/key:Key", f"{settings.stack_name}-artifacts-key")
    key_policy = run.named(f"{settings.stack_name}-artifacts-key-policy")
    assert key_policy.inputs["keyId"] == key.inputs["keyId"]
    statements = {s["Sid"]: s for s in key_policy.json_input("policy")["Statement"]}
    admin = statements["AdministratorsManageButCannotUse"]
    assert admin["Principal"] == {"AWS": "arn:aws:iam::111122223333:root"}
    assert not {"kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:CreateGrant"} & set(admin["Action"])
    assert "kms:PutKeyPolicy" in admin["Action"]  # administrators can always repair the policy
    use = statements["OnlyThePipelineRolesUseIt"]
    assert use["Principal"] == {"AWS": "*"}
    assert use["Condition"]["StringEquals"] == {"aws:PrincipalAccount": "111122223333"}
    pattern = use["Condition"]["ArnLike"]["aws:PrincipalArn"]
    roles = {r.name: r.inputs["arn"] for r in run.of_type("aws:iam/role:Role")}
    # The service's own roles and the alert forwarder run nothing of the pipeline.
    not_users = {n for n in roles if n.endswith(("-execution-role", "-task-role", "-alerts-forward-iam-events"))}
    for name, arn in roles.items():
        assert fnmatch.fnmatchcase(arn, pattern) is (name not in not_users), (name, arn, pattern)
    assert fnmatch.fnmatchcase(roles[f"{settings.pipeline.name}-build-role"], pattern)
    # Another role of the account, or one elsewhere under ecs-cicd, may not use the key.
    assert not fnmatch.fnmatchcase("arn:aws:iam::111122223333:role/admin", pattern)
    assert not fnmatch.fnmatchcase("arn:aws:iam::111122223333:role/ecs-cicd/other-stack/pipeline/x", pattern)


def test_guardrails_are_opt_in_and_create_trail_detector_and_config_rules():
    assert not [
        r for r in evaluated("prod").resources if r.type.startswith(("aws:cloudtrail", "aws:guardduty", "aws:cfg"))
    ]
    run = run_stack("dev", {"ecs-cicd:guardrails": {"cloudTrail": True, "guardDuty": True, "configRules": True}})
    trail = run.one("aws:cloudtrail/trail:Trail").inputs
    assert trail["isMultiRegionTrail"] and trail["enableLogFileValidation"]
    assert trail["kmsKeyId"] == run.one("aws:kms/key:Key", "orders-api-dev-guardrails-trail-key").inputs["arn"]
    assert run.one("aws:guardduty/detector:Detector").inputs["enable"] is True
    identifiers = sorted(r.inputs["source"]["sourceIdentifier"] for r in run.of_type("aws:cfg/rule:Rule"))
    assert identifiers == [
        "CODEBUILD_PROJECT_ARTIFACT_ENCRYPTION",
        "CODEBUILD_PROJECT_ENVVAR_AWSCRED_CHECK",
        "CODEBUILD_PROJECT_LOGGING_ENABLED",
        "CODEBUILD_PROJECT_SOURCE_REPO_URL_CHECK",
    ]


def test_the_scp_denies_pipeline_changes_except_by_the_deploying_role(run, settings):
    scp = json.loads(run.outputs["scpDocument"])
    assert len(run.outputs["scpDocument"]) <= guardrails.SCP_MAX_CHARACTERS
    statements = {s["Sid"]: s for s in scp["Statement"]}
    assert {s["Effect"] for s in statements.values()} == {"Deny"}
    deployer = "arn:aws:iam::111122223333:role/ci-deployer"
    pipelines = statements["OnlyTheDeployerChangesThePipelines"]
    assert pipelines["Action"] == [
        "codebuild:DeleteProject",
        "codebuild:UpdateProject",
        "codebuild:UpdateProjectVisibility",
        "codepipeline:DeletePipeline",
        "codepipeline:UpdatePipeline",
    ]
    assert pipelines["Condition"]["ArnNotLike"] == {"aws:PrincipalArn": deployer}
    stack = pipelines["Condition"]["StringEquals"]["aws:ResourceTag/ecs-cicd:stack"]
    protected = run.of_type("aws:codepipeline/pipeline:Pipeline") + run.of_type("aws:codebuild/project:Project")
    assert protected and all(r.inputs["tags"]["ecs-cicd:stack"] == stack for r in protected)
    roles = statements["OnlyTheDeployerChangesTheRoles"]
    assert roles["Action"] == [
        "iam:AttachRolePolicy",
        "iam:CreateRole",
        "iam:DeleteRole",
        "iam:DeleteRolePermissionsBoundary",
        "iam:DeleteRolePolicy",
        "iam:DetachRolePolicy",
        "iam:PutRolePermissionsBoundary",
        "iam:PutRolePolicy",
        "iam:TagRole",
        "iam:UntagRole",
        "iam:UpdateAssumeRolePolicy",
    ]
    for role in run.of_type("aws:iam/role:Role"):
        assert fnmatch.fnmatchcase(role.inputs["arn"], roles["Resource"]), role.name
    tag = statements["OnlyTheDeployerMovesTheStackTag"]
    assert tag["Condition"]["ForAnyValue:StringEquals"] == {"aws:TagKeys": ["ecs-cicd:stack"]}
    builds = statements["OnlyThePipelinesRunTheBuilds"]
    assert builds["Action"] == [
        "codebuild:RetryBuild",
        "codebuild:RetryBuildBatch",
        "codebuild:StartBuild",
        "codebuild:StartBuildBatch",
    ]
    pipeline_role = run.named(f"{settings.pipeline.name}-role").inputs["arn"]
    assert fnmatch.fnmatchcase(pipeline_role, builds["Condition"]["ArnNotLike"]["aws:PrincipalArn"])
    operated = statements["OnlyTheOperatorsRunThePipelines"]
    assert operated["Action"] == [
        "codepipeline:OverrideStageCondition",
        "codepipeline:PutApprovalResult",
        "codepipeline:RetryStageExecution",
        "codepipeline:RollbackStage",
        "codepipeline:StartPipelineExecution",
        "codepipeline:StopPipelineExecution",
    ]
    assert statements["OnlyTheDeployerChangesTheAlerts"]["Action"] == [
        "events:DeleteRule",
        "events:DisableRule",
        "events:PutRule",
        "events:PutTargets",
        "events:RemoveTargets",
        "events:UntagResource",
    ]
    assert operated["Condition"]["ArnNotLike"] == {"aws:PrincipalArn": [deployer]}


def test_the_operators_are_the_deployer_and_the_configured_roles():
    operator = "arn:aws:iam::111122223333:role/release-managers"
    run = run_stack("prod", {"ecs-cicd:iam": {"operatorRoleArns": [operator]}})
    operated = {s["Sid"]: s for s in json.loads(run.outputs["scpDocument"])["Statement"]}[
        "OnlyTheOperatorsRunThePipelines"
    ]
    assert operated["Condition"]["ArnNotLike"]["aws:PrincipalArn"] == sorted(
        ["arn:aws:iam::111122223333:role/ci-deployer", operator]
    )
    approve = {"pipelineName": "orders-api-prod", "stageName": "Approve", "actionName": "Approve"}
    assert fired(run, api_call("aws.codepipeline", "PutApprovalResult", approve, role="release-managers")) == []
    assert fired(run, api_call("aws.codepipeline", "PutApprovalResult", approve, role="dev")) == ["pipeline-operated"]


@pytest.mark.parametrize("environment", ["prod", "prd", "production", "live", "prod-eu", "eu-live"])
def test_a_stack_named_like_production_is_production_whatever_the_spelling(environment):
    # The dev stack file turns approval off: in production that is refused, so it is left unsaid here.
    run = run_stack("dev", {"ecs-cicd:environment": environment, "ecs-cicd:deploy": {"timeoutMinutes": 15}})
    assert "Approve" in [s["name"] for s in run.one("aws:codepipeline/pipeline:Pipeline").inputs["stages"]]
    assert run.one("aws:codepipeline/pipeline:Pipeline").inputs["tags"]["ecs-cicd:production"] == "true"
    with pytest.raises(SettingsError, match=r"source.pullRequests = True is not allowed in prod"):
        run_stack(
            "dev",
            {
                "ecs-cicd:environment": environment,
                "ecs-cicd:deploy": {"timeoutMinutes": 15},
                "ecs-cicd:source": {"repository": "acme/orders-api", "pullRequests": True},
            },
        )


def test_a_stack_whose_name_does_not_say_must_say_whether_it_is_production():
    with pytest.raises(SettingsError, match=r"ecs-cicd:production is required for environment 'eu1'"):
        run_stack("dev", {"ecs-cicd:environment": "eu1"})
    declared = run_stack(
        "dev",
        {"ecs-cicd:environment": "eu1", "ecs-cicd:production": True, "ecs-cicd:deploy": {"timeoutMinutes": 15}},
    )
    assert "Approve" in [s["name"] for s in declared.one("aws:codepipeline/pipeline:Pipeline").inputs["stages"]]
    # A name that says both (a "prod-test") is not guessed either.
    with pytest.raises(SettingsError, match=r"ecs-cicd:production is required for environment 'prod-test'"):
        run_stack("dev", {"ecs-cicd:environment": "prod-test"})
    dev = evaluated("dev").one("aws:codepipeline/pipeline:Pipeline").inputs
    assert "Approve" not in [s["name"] for s in dev["stages"]] and dev["tags"]["ecs-cicd:production"] == "false"


def test_the_us_east_1_provider_uses_the_stacks_account_and_credentials():
    assume = [{"roleArn": "arn:aws:iam::111122223333:role/deployer", "sessionName": "pulumi"}]
    run = run_stack(
        "dev",
        {"aws:profile": "orders-dev", "aws:allowedAccountIds": ["111122223333"], "aws:assumeRoles": assume},
    )
    (provider,) = run.of_type("pulumi:providers:aws")
    assert provider.inputs["region"] == "us-east-1"
    assert provider.inputs["profile"] == "orders-dev"
    assert json.loads(provider.inputs["allowedAccountIds"]) == ["111122223333"]
    assert json.loads(provider.inputs["assumeRoles"])[0]["roleArn"] == assume[0]["roleArn"]


def test_artifacts_cannot_be_swapped_while_a_deploy_waits_for_approval(run, settings):
    """Only the pipelines' roles write (or delete) artifacts, only encrypted with the artifact key,
    and each role reads and writes only its own pipeline's folder (CICD-SEC-9)."""
    policy = run.one("aws:s3/bucketPolicy:BucketPolicy", f"{settings.stack_name}-artifacts-tls-only")
    statements = {s["Sid"]: s for s in policy.json_input("policy")["Statement"]}
    key = run.one("aws:kms/key:Key", f"{settings.stack_name}-artifacts-key").inputs["arn"]
    writers = statements["OnlyThePipelinesWriteArtifacts"]
    assert "s3:PutObject" in writers["Action"] and "s3:DeleteObject" in writers["Action"]
    for role in run.of_type("aws:iam/role:Role"):
        pipeline_role = not role.name.endswith(("-execution-role", "-task-role", "-alerts-forward-iam-events"))
        assert fnmatch.fnmatchcase(role.inputs["arn"], writers["Condition"]["ArnNotLike"]["aws:PrincipalArn"]) is (
            pipeline_role
        ), role.name
    assert statements["DenyWritesWithAnotherKey"]["Condition"] == {
        "StringNotEqualsIfExists": {"s3:x-amz-server-side-encryption-aws-kms-key-id": key}
    }
    assert statements["DenyWritesNotEncryptedWithTheArtifactKey"]["Condition"] == {
        "StringNotEqualsIfExists": {"s3:x-amz-server-side-encryption": "aws:kms"}
    }
    from components.artifacts import artifact_folder_pattern

    folder = artifact_folder_pattern(settings.pipeline.name)
    assert folder == f"{settings.pipeline.name}/*"  # a short name: its own folder, not `<name>*`
    for name in (f"{settings.pipeline.name}-role", f"{settings.pipeline.name}-build-role"):
        statement = next(s for s in policy_of(run, name)["Statement"] if "s3:GetObject" in s["Action"])
        assert all(r.endswith(f"/{folder}") for r in statement["Resource"]), (name, statement["Resource"])


def test_the_approval_shows_the_digest_it_approves():
    run = evaluated("prod")
    stages = {s["name"]: s for s in run.one("aws:codepipeline/pipeline:Pipeline").inputs["stages"]}
    (approve,) = stages["Approve"]["actions"]
    assert "#{BuildVariables.IMAGE_DIGEST}" in approve["configuration"]["CustomData"]
    assert "#{SourceVariables.CommitId}" in approve["configuration"]["CustomData"]
    exported = yaml.safe_load((ROOT / "buildspecs" / "build-image.yml").read_text())["env"]["exported-variables"]
    assert {"IMAGE_DIGEST", "IMAGE_URI"} <= set(exported)


def test_every_topic_refuses_requests_without_tls(run):
    topics = run.of_type("aws:sns/topic:Topic")
    policies = {p.inputs["arn"]: p.json_input("policy") for p in run.of_type("aws:sns/topicPolicy:TopicPolicy")}
    assert len(topics) >= 1 and {t.inputs["arn"] for t in topics} == set(policies)
    for topic in topics:
        deny = next(s for s in policies[topic.inputs["arn"]]["Statement"] if s["Effect"] == "Deny")
        assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        assert topic.inputs["kmsMasterKeyId"]


def test_the_plan_says_loudly_when_no_one_hears_the_alerts_or_the_approvals(capsys):
    assert plan.main(["prod"]) == 0
    out = capsys.readouterr().out
    prod = stack_settings("prod")
    assert bool(prod.notification_emails) != ("no one is subscribed to the alert topic" in out)
    silent = replace(prod, notification_emails=())
    (alerts,) = [w for w in plan.unheard(silent) if "alert topic" in w]
    assert "ecs-cicd:notifications.emails is empty" in alerts
    service = prod.services[0]
    quiet = replace(service, deploy=replace(service.deploy, require_approval=True, approval_emails=()))
    assert any("approvals wait without telling anyone" in w for w in plan.unheard(replace(prod, services=(quiet,))))
    told = replace(service, deploy=replace(service.deploy, require_approval=True, approval_emails=("a@example.com",)))
    assert not any("approvals" in w for w in plan.unheard(replace(prod, services=(told,))))


def scp_denies(scp: dict, action: str, principal: str, resource: str = "*", tags: dict | None = None) -> bool:
    """Whether a Deny statement of the SCP applies to the request (the subset of IAM evaluation
    these statements use: Action and Resource wildcards, ArnNotLike on the principal, the
    resource's stack tag, and the tag keys a request carries)."""
    tags = tags or {}
    for statement in scp["Statement"]:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        if not any(fnmatch.fnmatchcase(action.lower(), a.lower()) for a in actions):
            continue
        if not any(fnmatch.fnmatchcase(resource, r) for r in resources):
            continue
        condition = statement.get("Condition", {})
        exempt = condition.get("ArnNotLike", {}).get("aws:PrincipalArn", [])
        exempt = exempt if isinstance(exempt, list) else [exempt]
        if any(fnmatch.fnmatchcase(principal, pattern) for pattern in exempt):
            continue
        required = {
            key.removeprefix("aws:ResourceTag/"): value
            for key, value in condition.get("StringEquals", {}).items()
            if key.startswith("aws:ResourceTag/")
        }
        if any(tags.get(key) != value for key, value in required.items()):
            continue
        return True
    return False


@pytest.mark.parametrize("stack", DEPLOYING)  # its own service, deployed here
def test_only_the_deploy_roles_change_what_runs_and_no_one_else_passes_the_pipeline_roles(run, settings):
    """A build role (which runs the application's build) cannot deploy; a new pipeline cannot be
    given this stack's pipeline role; the keys, topic, alert rules and artifact bucket policy are the
    deployer's alone (CICD-SEC-5, CICD-SEC-9)."""
    scp = json.loads(run.outputs["scpDocument"])
    assert len(run.outputs["scpDocument"]) <= guardrails.SCP_MAX_CHARACTERS
    stack = {"ecs-cicd:stack": run.one("aws:codepipeline/pipeline:Pipeline").inputs["tags"]["ecs-cicd:stack"]}
    deployer = "arn:aws:iam::111122223333:role/ci-deployer"
    deploy_role = run.named(f"{settings.pipeline.name}-deploy-service-role").inputs["arn"]
    build_role = run.named(f"{settings.pipeline.name}-build-role").inputs["arn"]
    pipeline_role = run.named(f"{settings.pipeline.name}-role").inputs["arn"]
    assert "/pipeline/deploy/" in deploy_role and "/deploy/" not in build_role
    for action in ("ecs:UpdateService", "codedeploy:CreateDeployment", "elasticloadbalancing:ModifyRule"):
        assert scp_denies(scp, action, build_role, tags=stack), action
        assert scp_denies(scp, action, "arn:aws:iam::111122223333:role/admin", tags=stack), action
        assert not scp_denies(scp, action, deploy_role, tags=stack), action
        assert not scp_denies(scp, action, deployer, tags=stack), action
    assert scp_denies(scp, "iam:PassRole", "arn:aws:iam::111122223333:role/power-user", pipeline_role)
    assert not scp_denies(scp, "iam:PassRole", deployer, pipeline_role)
    for action in ("kms:PutKeyPolicy", "kms:ScheduleKeyDeletion", "sns:Unsubscribe", "events:UntagResource"):
        assert scp_denies(scp, action, "arn:aws:iam::111122223333:role/admin", tags=stack), action
        assert not scp_denies(scp, action, deployer, tags=stack), action
    bucket = run.one("aws:s3/bucket:Bucket", f"{settings.stack_name}-artifacts-bucket").inputs["arn"]
    assert scp_denies(scp, "s3:PutBucketPolicy", "arn:aws:iam::111122223333:role/admin", bucket)
    assert not scp_denies(scp, "s3:PutBucketPolicy", deployer, bucket)


def test_the_deployer_is_named_with_its_iam_path():
    """An assumed-role ARN drops the role's path; aws:PrincipalArn keeps it (IAM Identity Center
    roles live under /aws-reserved/...): the SCP names the role as IAM does, read with GetRole."""
    from components.testing import default_invoke_results

    answers = default_invoke_results("eu-west-1")
    path = "/aws-reserved/sso.amazonaws.com/eu-west-1/"
    answers["aws:iam/getRole:getRole"] = lambda args: {
        "name": args["name"],
        "arn": f"arn:aws:iam::111122223333:role{path}{args['name']}",
        "id": args["name"],
    }
    run = run_stack("dev", invoke_results=answers)
    statements = {s["Sid"]: s for s in json.loads(run.outputs["scpDocument"])["Statement"]}
    exempt = statements["OnlyTheDeployerChangesThePipelines"]["Condition"]["ArnNotLike"]["aws:PrincipalArn"]
    assert exempt == f"arn:aws:iam::111122223333:role{path}ci-deployer"


def test_a_pipeline_made_to_run_as_this_stacks_pipeline_role_is_reported(run, settings):
    """The SCP stops anyone but the deployer passing the role; the alert says when someone tried
    (or when no SCP is applied)."""
    pipeline_role = run.named(f"{settings.pipeline.name}-role").inputs["arn"]
    declaration = {"pipeline": {"name": f"{settings.pipeline.name}-x", "roleArn": pipeline_role}}
    assert fired(run, api_call("aws.codepipeline", "CreatePipeline", declaration, role="power-user")) == [
        "pipeline-role-reused"
    ]
    assert fired(run, api_call("aws.codepipeline", "CreatePipeline", declaration, user="alice")) == [
        "pipeline-role-reused"
    ]
    assert fired(run, api_call("aws.codepipeline", "CreatePipeline", declaration, role="ci-deployer")) == []
    other = {"pipeline": {"name": "someone-elses", "roleArn": "arn:aws:iam::111122223333:role/theirs"}}
    assert fired(run, api_call("aws.codepipeline", "CreatePipeline", other, role="power-user")) == []


def test_pipelines_of_one_store_never_share_an_artifact_folder():
    """CodePipeline names a pipeline's artifact folder after its first 20 characters: two pipelines
    sharing them would read and write each other's artifacts. A short name gets `<name>/*`, not
    `<name>*` (which would cover `<name>-other/`); a stack whose pipelines collide is refused."""
    from components.artifacts import artifact_folder_pattern

    assert artifact_folder_pattern("api-prod") == "api-prod/*"
    assert artifact_folder_pattern("customer-notifications-email-prod") == "customer-notificatio*"
    services = [
        {"name": name, "source": {"filePaths": {"includes": [f"{name}/**"]}}}
        for name in ("customer-notifications-email", "customer-notifications-sms")
    ]
    with pytest.raises(SettingsError, match="share their first 20 characters"):
        run_stack("shop-dev", {"ecs-cicd:services": services}, project_dir=ROOT / "examples" / "monorepo")


@pytest.mark.parametrize(
    ("stack", "overrides", "deploy", "source"),
    [
        ("dev", {}, "the ECS deploy action", "the service's running revision"),
        ("staging", {}, "ECS rolling update", "the stack config"),
        ("prod", {}, "CodeDeploy group orders-api/orders-api-prod", "running revision of the service's family"),
    ],
)
def test_the_plan_says_how_each_service_is_deployed_and_where_its_task_definition_comes_from(
    stack, overrides, deploy, source
):
    (row,) = [plan.deployment(service) for service in stack_settings(stack).services]
    assert deploy in row[0] and source in row[1]
