"""The Build stage: CodeBuild project, ECR repository, logs, and the embedded buildspec."""

import json
from pathlib import Path

import pytest
import yaml

from components.testing import run_stack

from .helpers import evaluated

BUILDSPEC = Path(__file__).resolve().parent.parent / "buildspecs" / "build-image.yml"


def image_build(run, type_: str):
    """The image build's resource of `type_` (the scan projects have their own)."""
    (found,) = [r for r in run.of_type(type_) if r.parent_name.endswith("-build")]
    return found.inputs


def project(run):
    return image_build(run, "aws:codebuild/project:Project")


def env_vars(run) -> dict[str, dict]:
    return {v["name"]: v for v in project(run)["environment"]["environmentVariables"]}


def test_the_buildspec_is_embedded_from_this_repository(run):
    source = project(run)["source"]
    assert source["type"] == "CODEPIPELINE"
    assert source["buildspec"] == BUILDSPEC.read_text()
    assert project(run)["artifacts"] == {"type": "CODEPIPELINE"}


def test_the_container_name_reaching_imagedefinitions_is_service_container(run, settings):
    assert env_vars(run)["CONTAINER_NAME"]["value"] == settings.service.container
    commands = yaml.safe_load(BUILDSPEC.read_text())["phases"]["build"]["commands"]
    writer = next(c for c in commands if "imagedefinitions.json" in c and "printf" in c)
    assert '"$CONTAINER_NAME"' in writer


def test_the_project_gets_its_repository_dockerfile_and_context(run, settings):
    variables = env_vars(run)
    assert variables["REPOSITORY_URI"]["value"].endswith(f".amazonaws.com/{settings.build.repository_name}")
    assert variables["DOCKERFILE"]["value"] == settings.build.dockerfile
    assert variables["DOCKER_CONTEXT"]["value"] == settings.build.context
    assert all(v["type"] == "PLAINTEXT" for k, v in variables.items() if k in settings.build.environment)


def test_secrets_are_references_fetched_by_codebuild_never_plaintext():
    variables = env_vars(evaluated("prod"))
    assert variables["NPM_TOKEN"]["type"] == "SECRETS_MANAGER"
    assert variables["NPM_TOKEN"]["value"].startswith("arn:aws:secretsmanager:")
    assert variables["SENTRY_AUTH_TOKEN"] == {
        "name": "SENTRY_AUTH_TOKEN",
        "value": "/prod/orders-api/sentry-auth-token",
        "type": "PARAMETER_STORE",
    }
    # and the build hands them to BuildKit as secrets, by name
    assert variables["BUILDKIT_MOUNT_IDS"]["value"] == "NPM_TOKEN SENTRY_AUTH_TOKEN"


def test_compute_image_timeout_and_cache_follow_the_stack(run, settings):
    inputs = project(run)
    assert inputs["environment"]["computeType"] == settings.build.compute_type
    assert inputs["environment"]["image"] == settings.build.image
    assert inputs["environment"]["privilegedMode"] is True
    assert inputs["buildTimeout"] == settings.build.timeout_minutes
    assert inputs["cache"] == {"type": "LOCAL", "modes": ["LOCAL_DOCKER_LAYER_CACHE", "LOCAL_SOURCE_CACHE"]}
    assert inputs["encryptionKey"] == artifacts_key(run)


def test_build_logs_go_to_a_log_group_with_retention(run, settings):
    group = image_build(run, "aws:cloudwatch/logGroup:LogGroup")
    assert group["retentionInDays"] == settings.build.log_retention_days
    assert project(run)["logsConfig"]["cloudwatchLogs"] == {"status": "ENABLED", "groupName": group["name"]}


def test_the_repository_is_immutable_scanned_encrypted_and_pruned(run, settings):
    repository = run.named(f"{run.outputs['pipelineName']}-build-repository").inputs
    assert repository["imageTagMutability"] == "IMMUTABLE"
    assert repository["imageScanningConfiguration"] == {"scanOnPush": True}
    assert repository["encryptionConfigurations"] == [{"encryptionType": "KMS"}]
    assert repository["forceDelete"] is not settings.protect  # only an unprotected stack deletes images
    lifecycle = run.named(f"{run.outputs['pipelineName']}-build-repository-lifecycle")
    rules = json.loads(lifecycle.inputs["policy"])["rules"]
    keep = next(r for r in rules if r["selection"]["countType"] == "imageCountMoreThan")
    assert keep["selection"]["countNumber"] == settings.build.keep_images


def test_the_build_action_passes_the_commit_from_the_source_stage(run):
    stages = {s["name"]: s for s in run.one("aws:codepipeline/pipeline:Pipeline").inputs["stages"]}
    action = next(a for a in stages["Build"]["actions"] if a["name"] == "Image")
    assert action["inputArtifacts"] == ["SourceOutput"]
    assert action["outputArtifacts"] == ["BuildOutput"]
    assert json.loads(action["configuration"]["EnvironmentVariables"]) == [
        {"name": "COMMIT_ID", "value": "#{SourceVariables.CommitId}", "type": "PLAINTEXT"}
    ]
    assert stages["Source"]["actions"][0]["namespace"] == "SourceVariables"


def test_the_layer_cache_lives_in_its_own_repository_that_the_build_alone_rewrites(run, settings):
    cache = run.named(f"{settings.pipeline.name}-build-cache-repository").inputs
    assert cache["name"] == f"{settings.build.repository_name}-buildcache"
    assert cache["tags"]["ecs-cicd:purpose"] == "build-cache"
    assert env_vars(run)["CACHE_REPOSITORY_URI"]["value"].endswith(f"/{cache['name']}")
    build_policy = run.named(f"{settings.pipeline.name}-build-role-policy").json_input("policy")
    cache_access = next(s for s in build_policy["Statement"] if s["Sid"] == "ReadWriteBuildCache")
    assert cache_access["Resource"] == [cache["arn"]]
    for role_policy in run.of_type("aws:iam/rolePolicy:RolePolicy"):
        if role_policy.name != f"{settings.pipeline.name}-build-role-policy":
            assert cache["arn"] not in role_policy.inputs["policy"], f"{role_policy.name} can reach the cache"


def artifacts_key(run) -> str:
    return next(k for k in run.of_type("aws:kms/key:Key") if k.name.endswith("-artifacts-key")).inputs["arn"]


# --- an existing ECR repository --------------------------------------------------------------

EXISTING = {"ecs-cicd:build": {"existingRepository": "team/orders-api", "timeoutMinutes": 15}}


def test_an_existing_repository_is_used_as_it_is():
    run = run_stack("dev", EXISTING)
    assert run.of_type("aws:ecr/repository:Repository") == []
    assert run.of_type("aws:ecr/lifecyclePolicy:LifecyclePolicy") == []  # its own rules are left alone
    policy = run.named("orders-api-dev-build-role-policy").json_input("policy")
    statements = {s["Sid"]: s for s in policy["Statement"]}
    assert statements["PushToServiceRepository"]["Resource"] == [
        "arn:aws:ecr:eu-west-1:111122223333:repository/team/orders-api"
    ]
    assert "ReadWriteBuildCache" not in statements
    env = {
        v["name"]: v["value"]
        for v in run.named("orders-api-dev-build-project").inputs["environment"]["environmentVariables"]
    }
    assert env["REPOSITORY_URI"] == "111122223333.dkr.ecr.eu-west-1.amazonaws.com/team/orders-api"
    assert env["CACHE_REPOSITORY_URI"] == ""
    assert run.outputs["ecrRepositoryUrl"] == env["REPOSITORY_URI"]


def test_an_existing_repositorys_lifecycle_is_replaced_only_when_asked():
    run = run_stack("dev", {"ecs-cicd:build": {**EXISTING["ecs-cicd:build"], "keepImages": 7}})
    (lifecycle,) = run.of_type("aws:ecr/lifecyclePolicy:LifecyclePolicy")
    assert lifecycle.inputs["repository"] == "team/orders-api"
    assert json.loads(lifecycle.inputs["policy"])["rules"][-1]["selection"]["countNumber"] == 7


@pytest.mark.parametrize(
    ("answer", "given", "message"),
    [
        ({"imageTagMutability": "MUTABLE"}, "team/orders-api", "has MUTABLE tags"),
        ({"imageScanningConfigurations": [{"scanOnPush": False}]}, "team/orders-api", "does not scan on push"),
        ({}, "arn:aws:ecr:us-east-1:111122223333:repository/team/orders-api", "not in this stack's account"),
    ],
)
def test_an_existing_repository_that_would_weaken_the_pipeline_stops_pulumi_up(answer, given, message):
    from components.testing import default_invoke_results

    answers = default_invoke_results("eu-west-1")
    found = answers["aws:ecr/getRepository:getRepository"]
    answers["aws:ecr/getRepository:getRepository"] = lambda args: {**found(args), **answer}
    with pytest.raises(Exception, match=message):
        run_stack(
            "dev", {"ecs-cicd:build": {"existingRepository": given, "timeoutMinutes": 15}}, invoke_results=answers
        )


def test_a_repository_is_either_created_or_existing():
    from components.settings import SettingsError

    with pytest.raises(SettingsError, match=r"build\.repositoryName names a repository to create"):
        run_stack("dev", {"ecs-cicd:build": {**EXISTING["ecs-cicd:build"], "repositoryName": "orders"}})


@pytest.mark.parametrize("name", ["SCAN_WAIT_ATTEMPTS", "BUILDKIT_IMAGE", "DOCKERFILE_FRONTEND", "IMAGE_URI"])
def test_no_build_variable_takes_over_the_buildspecs_own(name):
    # A project variable outranks the buildspec's `env.variables`: SCAN_WAIT_ATTEMPTS=0 would skip the
    # scan gate, BUILDKIT_IMAGE would unpin the privileged builder.
    with pytest.raises(Exception, match=f"build.environment.{name} is a name the image build sets itself"):
        run_stack("dev", {"ecs-cicd:build": {"environment": {name: "0"}, "timeoutMinutes": 15}})
