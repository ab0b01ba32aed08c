"""Fast pipelines and many services (issue 6): trigger filters, build caching, the Docker Hub
pull-through cache, per-environment defaults, and a monorepo stack with three services."""

from functools import cache
from pathlib import Path

import pytest

from components.settings import SettingsError, from_mapping
from components.testing import run_stack

from .helpers import api_call, evaluated, execution_event, fired, policy_of

ROOT = Path(__file__).resolve().parent.parent
MONOREPO = ROOT / "examples" / "monorepo"
PIPELINE = "aws:codepipeline/pipeline:Pipeline"
MIRROR = "111122223333.dkr.ecr.eu-west-1.amazonaws.com/ecs-cicd-dev-docker-hub"


@cache
def monorepo():
    return run_stack("shop-dev", project_dir=MONOREPO)


def pipelines_by_name(run) -> dict[str, dict]:
    return {p.inputs["name"]: p.inputs for p in run.of_type(PIPELINE)}


def pipelines(run) -> dict[str, dict]:
    return {p.inputs["name"]: p.inputs for p in run.of_type(PIPELINE)}


def build_env(run, pipeline: str) -> dict[str, str]:
    project = run.named(f"{pipeline}-build-project").inputs
    return {v["name"]: v["value"] for v in project["environment"]["environmentVariables"]}


def test_each_service_gets_its_own_pipeline_and_one_store_serves_them_all():
    run = monorepo()
    assert set(pipelines(run)) == {"api-dev", "worker-dev", "web-dev"}
    (bucket,) = run.of_type("aws:s3/bucket:Bucket")
    (key,) = [k for k in run.of_type("aws:kms/key:Key") if k.name.endswith("-artifacts-key")]
    assert {p["artifactStores"][0]["location"] for p in pipelines(run).values()} == {bucket.inputs["bucket"]}
    assert {p["artifactStores"][0]["encryptionKey"]["id"] for p in pipelines(run).values()} == {key.inputs["arn"]}
    assert bucket.name == "ecs-cicd-dev-artifacts-bucket"
    assert set(run.outputs["pipelines"]) == {"api", "worker", "web"}


def test_a_commit_under_one_service_starts_only_that_service():
    triggers = {name: p["triggers"][0]["gitConfiguration"] for name, p in pipelines(monorepo()).items()}
    assert triggers["api-dev"]["pushes"] == [
        {
            "branches": {"includes": ["main"]},
            "filePaths": {"includes": ["services/api/**", "libs/**"], "excludes": ["**/*.md"]},
        }
    ]
    assert triggers["worker-dev"]["pushes"][0]["filePaths"]["includes"] == ["services/worker/**", "libs/**"]
    assert triggers["web-dev"]["pushes"] == [
        {"branches": {"includes": ["main"]}, "filePaths": {"includes": ["services/web/**"]}},
        {"tags": {"includes": ["web-v*"]}},
    ]
    assert all("pullRequests" not in t for t in triggers.values())


def test_service_entries_override_the_top_level_defaults():
    run = monorepo()
    api, worker, web = (build_env(run, f"{s}-dev") for s in ("api", "worker", "web"))
    assert (api["DOCKERFILE"], api["DOCKER_CONTEXT"]) == ("services/api/Dockerfile", "services/api")
    assert (api["CONTAINER_NAME"], web["CONTAINER_NAME"]) == ("app", "nginx")
    computes = {s: run.named(f"{s}-dev-build-project").inputs["environment"]["computeType"] for s in ("api", "worker")}
    assert computes == {"api": "BUILD_GENERAL1_SMALL", "worker": "BUILD_GENERAL1_MEDIUM"}
    deploys = {name: p["stages"][-1]["actions"][0]["configuration"] for name, p in pipelines(run).items()}
    assert {(c["ClusterName"], c["ServiceName"]) for c in deploys.values()} == {
        ("shop-dev", "api"),
        ("shop-dev", "worker"),
        ("shop-dev", "web"),
    }
    assert worker["REPOSITORY_URI"].endswith("/worker-dev")


def test_one_connection_is_created_for_the_stack_and_shared():
    run = monorepo()
    (connection,) = run.of_type("aws:codeconnections/connection:Connection")
    arns = {p["stages"][0]["actions"][0]["configuration"]["ConnectionArn"] for p in pipelines(run).values()}
    assert arns == {run.outputs["pipelines"]["api"]["connectionArn"]}
    assert connection.inputs["name"] == "ecs-cicd-dev"


def test_alerts_share_one_topic_and_watch_every_pipeline():
    run = monorepo()
    (topic,) = [t for t in run.of_type("aws:sns/topic:Topic") if t.name.endswith("-alerts-topic")]
    rules = [r for r in run.of_type("aws:cloudwatch/eventRule:EventRule") if r.region == "eu-west-1"]
    kinds = {r.name.split("-alerts-", 1)[1] for r in rules}
    assert len(rules) == len(kinds) == 10  # one rule per kind of alert watches all three pipelines
    targets = {t.parent_name: t.inputs["arn"] for t in run.of_type("aws:cloudwatch/eventTarget:EventTarget")}
    assert {targets[r.name] for r in rules} == {topic.inputs["arn"]}
    for service in ("api", "worker", "web"):
        assert fired(run, execution_event(f"{service}-dev", "FAILED")) == ["pipeline-failed"]
        update = api_call("aws.ecs", "UpdateService", {"service": service, "cluster": "shop-dev"}, user="alice")
        assert fired(run, update) == ["service-bypass"]


def test_base_images_come_through_the_docker_hub_pull_through_cache():
    run = monorepo()
    rule = run.one("aws:ecr/pullThroughCacheRule:PullThroughCacheRule").inputs
    assert rule["upstreamRegistryUrl"] == "registry-1.docker.io"
    assert rule["ecrRepositoryPrefix"] == "ecs-cicd-dev-docker-hub"
    assert rule["credentialArn"].split(":secret:")[1].startswith("ecr-pullthroughcache/")
    for service in ("api", "worker", "web"):
        assert build_env(run, f"{service}-dev")["DOCKER_HUB_MIRROR"] == MIRROR
        policy = run.named(f"{service}-dev-build-role-policy").json_input("policy")
        pull = next(s for s in policy["Statement"] if s["Sid"] == "PullBaseImagesThroughCache")
        assert pull["Resource"] == ["arn:aws:ecr:eu-west-1:111122223333:repository/ecs-cicd-dev-docker-hub/*"]
        assert "ecr:BatchImportUpstreamImage" in pull["Action"]


def test_without_credentials_there_is_no_pull_through_cache():
    run = evaluated("dev")
    assert run.of_type("aws:ecr/pullThroughCacheRule:PullThroughCacheRule") == []
    assert "DOCKER_HUB_MIRROR" not in build_env(run, "orders-api-dev")


def test_builds_cache_layers_in_the_registry_and_on_the_host(run, settings):
    env = build_env(run, settings.pipeline.name)
    assert env["CACHE_REPOSITORY_URI"].endswith(f"/{settings.build.repository_name}-buildcache")
    project = run.named(f"{settings.pipeline.name}-build-project").inputs
    assert project["cache"] == {"type": "LOCAL", "modes": ["LOCAL_DOCKER_LAYER_CACHE", "LOCAL_SOURCE_CACHE"]}
    buildspec = project["source"]["buildspec"]
    assert '--cache-from "type=registry,ref=$CACHE_REPOSITORY_URI:buildcache"' in buildspec.replace("\n", " ")
    assert "--cache-to" in buildspec and "mode=max" in buildspec


def test_execution_mode_defaults_to_queued_in_prod_and_superseded_elsewhere():
    base = {
        "source": {"repository": "acme/app"},
        "service": {"cluster": "c", "name": "app", "container": "app"},
    }
    assert from_mapping(base, stack="dev").pipeline.execution_mode == "SUPERSEDED"
    assert from_mapping(base, stack="prod").pipeline.execution_mode == "QUEUED"
    explicit = {**base, "pipeline": {"executionMode": "PARALLEL"}}
    assert from_mapping(explicit, stack="prod").pipeline.execution_mode == "PARALLEL"


def test_pull_requests_run_in_a_pipeline_that_tests_and_cannot_deploy():
    """A pull request is unmerged code: it runs the scans and tests in a pipeline of its own, with
    no image build (no secrets, no push) and no deploy, and never starts the deploying pipeline."""
    run = run_stack(
        "dev", {"ecs-cicd:source": {"repository": "acme/orders-api", "branch": "develop", "pullRequests": True}}
    )
    pipelines = pipelines_by_name(run)
    deploying, validation = pipelines["orders-api-dev"], pipelines["pr-orders-api-dev"]
    assert "pullRequests" not in deploying["triggers"][0]["gitConfiguration"]
    git = validation["triggers"][0]["gitConfiguration"]
    assert "pushes" not in git
    assert git["pullRequests"] == [{"events": ["OPEN", "UPDATED"], "branches": {"includes": ["develop"]}}]
    assert [s["name"] for s in validation["stages"]] == ["Source", "Verify"]
    actions = [a for s in validation["stages"] for a in s["actions"]]
    assert {a["category"] for a in actions} == {"Source", "Test"}
    assert {a["name"] for a in actions} >= {"Dependencies", "Code", "Secrets"}
    build_project = run.named("orders-api-dev-build-project").inputs["name"]
    assert all(a.get("configuration", {}).get("ProjectName") != build_project for a in actions)
    assert validation["executionMode"] == "PARALLEL"


def test_pull_requests_are_refused_in_production_and_with_nothing_to_run():
    with pytest.raises(SettingsError, match=r"source.pullRequests = True is not allowed in prod"):
        run_stack("prod", {"ecs-cicd:source": {"repository": "acme/orders-api", "pullRequests": True}})
    with pytest.raises(SettingsError, match=r"source.pullRequests = True has nothing to run"):
        run_stack(
            "dev",
            {
                "ecs-cicd:source": {"repository": "acme/orders-api", "pullRequests": True},
                "ecs-cicd:insecure": {"skipSecurityScans": True},
            },
        )


def test_tag_triggers_need_an_approval():
    tags = {"ecs-cicd:source": {"repository": "acme/orders-api", "branch": "develop", "tags": ["*"]}}
    with pytest.raises(SettingsError, match=r"source.tags = \['\*'\] needs deploy.requireApproval: true"):
        run_stack("dev", tags)
    approved = run_stack("dev", {**tags, "ecs-cicd:deploy": {"requireApproval": True}})
    assert {"tags": {"includes": ["*"]}} in approved.one(PIPELINE).inputs["triggers"][0]["gitConfiguration"]["pushes"]


SCANS = {"Dependencies": "sca", "Code": "sast", "Secrets": "secrets"}


def scan_actions(pipeline: dict) -> dict[str, str]:
    stages = {stage["name"]: stage for stage in pipeline["stages"]}
    verify = stages.get("Build") or stages["Verify"]
    return {a["name"]: a["configuration"]["ProjectName"] for a in verify["actions"] if a["name"] in SCANS}


def test_one_set_of_scan_projects_serves_every_pipeline_of_the_stack():
    """Three scan projects and roles per stack, not per service (issue 14): every pipeline's scan
    actions run them, and their roles still only read the stack's own artifacts and write logs."""
    run = monorepo()
    projects = {f"ecs-cicd-dev-scan-{suffix}" for suffix in SCANS.values()}
    scan_projects = {p.inputs["name"] for p in run.of_type("aws:codebuild/project:Project") if "-scan-" in p.name}
    assert scan_projects == projects
    for name, pipeline in pipelines(run).items():
        assert scan_actions(pipeline) == {action: f"ecs-cicd-dev-scan-{s}" for action, s in SCANS.items()}, name
    bucket = run.one("aws:s3/bucket:Bucket").inputs["arn"]
    for suffix in SCANS.values():
        policy = policy_of(run, f"ecs-cicd-dev-scan-{suffix}-role")
        actions = {action for statement in policy["Statement"] for action in statement["Action"]}
        assert actions == {"logs:CreateLogStream", "logs:PutLogEvents", "s3:GetObject", "s3:GetObjectVersion",
                           "kms:Decrypt"}  # fmt: skip
        reads = next(s for s in policy["Statement"] if "s3:GetObject" in s["Action"])
        assert reads["Resource"] == [f"{bucket}/*"]  # the stack's bucket: only its pipelines write there


def test_shared_scans_clone_every_repository_of_the_stack_and_no_other():
    """With full clones, CodeBuild clones through the connection as the scan's role: one statement
    names every repository of the stack, each build role only its own."""
    services = [
        {"name": "api", "source": {"repository": "acme/api", "fullClone": True}},
        {"name": "web", "source": {"repository": "acme/web", "fullClone": True}},
        {"name": "docs", "source": {"repository": "acme/docs"}},
    ]
    run = run_stack("shop-dev", {"ecs-cicd:services": services}, project_dir=MONOREPO)
    for suffix in SCANS.values():
        (use,) = [s for s in policy_of(run, f"ecs-cicd-dev-scan-{suffix}-role")["Statement"]
                  if s["Action"] == ["codeconnections:UseConnection"]]  # fmt: skip
        assert use["Condition"]["StringEqualsIfExists"]["codeconnections:FullRepositoryId"] == ["acme/api", "acme/web"]
    for pipeline, repository in (("api-dev", "acme/api"), ("web-dev", "acme/web")):
        (use,) = [s for s in policy_of(run, f"{pipeline}-build-role")["Statement"]
                  if s["Action"] == ["codeconnections:UseConnection"]]  # fmt: skip
        assert use["Condition"]["StringEqualsIfExists"]["codeconnections:FullRepositoryId"] == repository
