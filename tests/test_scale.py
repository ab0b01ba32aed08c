"""Fast pipelines and many services (issue 6): trigger filters, build caching, the Docker Hub
pull-through cache, per-environment defaults, and a monorepo stack with three services."""

from functools import cache
from pathlib import Path

import pytest

from components.settings import SettingsError, from_mapping
from components.testing import run_stack

from .helpers import api_call, evaluated, execution_event, fired

ROOT = Path(__file__).resolve().parent.parent
MONOREPO = ROOT / "examples" / "monorepo"
PIPELINE = "aws:codepipeline/pipeline:Pipeline"
MIRROR = "111122223333.dkr.ecr.eu-west-1.amazonaws.com/ecs-cicd-dev-docker-hub"


@cache
def monorepo():
    return run_stack("shop-dev", project_dir=MONOREPO)


def pipelines(run) -> dict[str, dict]:
    return {p.inputs["name"]: p.inputs for p in run.of_type(PIPELINE)}


def build_env(run, pipeline: str) -> dict[str, str]:
    project = run.named(f"{pipeline}-build-project").inputs
    return {v["name"]: v["value"] for v in project["environment"]["environmentVariables"]}


def test_each_service_gets_its_own_pipeline_and_one_store_serves_them_all():
    run = monorepo()
    assert set(pipelines(run)) == {"api-dev", "worker-dev", "web-dev"}
    (bucket,) = run.of_type("aws:s3/bucket:Bucket")
    (key,) = run.of_type("aws:kms/key:Key")
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
    (topic,) = [t for t in run.of_type("aws:sns/topic:Topic")]
    rules = [r for r in run.of_type("aws:cloudwatch/eventRule:EventRule") if r.region == "eu-west-1"]
    assert len(rules) == 6  # one rule per kind of alert watches all three pipelines
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
    assert '--cache-from "type=registry,ref=$CACHE_REPOSITORY_URI:buildcache"' in buildspec
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


def test_pull_request_triggers_are_optional_and_refused_in_prod():
    run = run_stack(
        "dev", {"ecs-cicd:source": {"repository": "acme/orders-api", "branch": "develop", "pullRequests": True}}
    )
    (pull,) = run.one(PIPELINE).inputs["triggers"][0]["gitConfiguration"]["pullRequests"]
    assert pull == {"events": ["OPEN", "UPDATED"], "branches": {"includes": ["develop"]}}
    with pytest.raises(SettingsError, match=r"source.pullRequests = True is not allowed in prod"):
        run_stack("prod", {"ecs-cicd:source": {"repository": "acme/orders-api", "pullRequests": True}})


@pytest.mark.parametrize(
    ("services", "expected"),
    [
        ([{"name": "api"}, {"name": "api"}], "ecs-cicd:services has the same service name twice: api"),
        ([{"name": "api", "build": {"computeType": "HUGE"}}], "ecs-cicd:services[0].build.computeType = 'HUGE'"),
        ([{"name": "api"}, {"name": "bad name"}], "ecs-cicd:services[1].name = 'bad name' is not valid"),
        ([{"name": "api", "colour": "red"}], "ecs-cicd:services[0] has unknown key(s) colour"),
        (
            [{"name": "api", "source": {"filePaths": {"includes": ["a"] * 9}}}],
            "ecs-cicd:services[0].source.filePaths.includes",
        ),
    ],
)
def test_bad_service_entries_name_the_entry(services, expected):
    base = {"source": {"repository": "acme/app"}, "service": {"cluster": "c", "container": "app"}}
    with pytest.raises(SettingsError) as caught:
        from_mapping({**base, "services": services}, stack="dev")
    assert any(p.startswith(expected) for p in caught.value.problems), caught.value.problems


def test_every_service_entry_must_end_up_complete():
    with pytest.raises(SettingsError) as caught:
        from_mapping({"services": [{"name": "api"}]}, stack="dev")
    assert "ecs-cicd:services[0].source is required: an object with repository" in caught.value.problems


def test_created_services_of_one_stack_need_clusters_of_their_own():
    base = {
        "source": {"repository": "acme/app"},
        "service": {"cluster": "shop", "container": "app", "create": True, "certificateArn": CERTIFICATE},
        "deploy": {"healthCheckUrl": "https://shop.example.com/health"},
    }
    with pytest.raises(SettingsError) as caught:
        from_mapping({**base, "services": [{"name": "api"}, {"name": "web"}]}, stack="dev")
    assert "ecs-cicd:services has the same cluster for a created service twice: shop; allowed: unique" in (
        caught.value.problems
    )
    separate = [{"name": "api"}, {"name": "web", "service": {"cluster": "shop-web"}}]
    assert len(from_mapping({**base, "services": separate}, stack="dev").services) == 2


CERTIFICATE = "arn:aws:acm:eu-west-1:111122223333:certificate/5e1d2c3b-4a59-4f6e-8d7c-9b0a1f2e3d4c"
