"""examples/two-services: a standalone program composing the components its own way, evaluated offline."""

from functools import cache
from pathlib import Path

import yaml

from components.testing import MOCK_ACCOUNT_ID, StackRun

from .helpers import run_example

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "two-services"
PIPELINE = "aws:codepipeline/pipeline:Pipeline"
SERVICES = ("api", "worker")


@cache
def evaluated() -> StackRun:
    """The example's `__main__.py` with its own stack file, as `pulumi up --stack example` would run it."""
    config = yaml.safe_load((EXAMPLE / "Pulumi.example.yaml").read_text())["config"]
    return run_example(EXAMPLE, config, "example")


def pipeline_of(service: str):
    return evaluated().one(PIPELINE, f"shop-{service}-pipeline")


def test_two_pipelines_share_one_artifact_store():
    run = evaluated()
    assert sorted(p.inputs["name"] for p in run.of_type(PIPELINE)) == ["shop-api", "shop-worker"]
    [bucket] = run.of_type("aws:s3/bucket:Bucket")
    [key] = [k for k in run.of_type("aws:kms/key:Key") if k.name.endswith("-artifacts-key")]
    for service in SERVICES:
        [store] = pipeline_of(service).inputs["artifactStores"]
        assert store["location"] == bucket.inputs["bucket"]
        assert store["encryptionKey"] == {"id": key.inputs["arn"], "type": "KMS"}
    assert run.outputs["artifactBucket"] == bucket.inputs["bucket"]


def test_the_custom_stage_runs_after_the_deploy():
    for service in SERVICES:
        stages = pipeline_of(service).inputs["stages"]
        assert [s["name"] for s in stages] == ["Source", "Build", "Deploy", "Verify"]
        [action] = stages[-1]["actions"]
        assert (action["category"], action["provider"]) == ("Invoke", "Lambda")
        assert action["configuration"]["FunctionName"] == "shop-smoke-test"
        assert f'"service": "shop-{service}"' in action["configuration"]["UserParameters"]


def test_the_pipeline_role_may_invoke_exactly_the_smoke_test_function():
    function_arn = f"arn:aws:lambda:eu-west-1:{MOCK_ACCOUNT_ID}:function:shop-smoke-test"
    for service in SERVICES:
        policy = evaluated().named(f"shop-{service}-role-policy").json_input("policy")
        statements = {s["Sid"]: s for s in policy["Statement"]}
        assert statements["InvokeSmokeTest"] == {
            "Sid": "InvokeSmokeTest",
            "Effect": "Allow",
            "Action": ["lambda:InvokeFunction"],
            "Resource": [function_arn],
        }
        assert not [s for s in policy["Statement"] if s["Sid"] != "InvokeSmokeTest" and "lambda" in str(s["Action"])]


def test_one_github_connection_serves_both_sources_each_for_its_own_repository():
    run = evaluated()
    [connection] = run.of_type("aws:codeconnections/connection:Connection")
    assert connection.inputs["name"] == "shop-github"
    assert "connectionHandshakeUrl" in run.outputs
    for service in SERVICES:
        source = pipeline_of(service).inputs["stages"][0]["actions"][0]["configuration"]
        assert source["ConnectionArn"] == connection.inputs["arn"]
        assert source["FullRepositoryId"] == f"acme/shop-{service}"
        policy = run.named(f"shop-{service}-role-policy").json_input("policy")
        [use] = [s for s in policy["Statement"] if s["Sid"] == "SourceUseConnection"]
        assert use["Resource"] == [connection.inputs["arn"]]
        assert use["Condition"]["StringEquals"] == {"codeconnections:FullRepositoryId": f"acme/shop-{service}"}


def test_each_deploy_passes_only_its_own_service_roles_and_nothing_is_looked_up():
    run = evaluated()
    assert "aws:ecs/getService:getService" not in run.invokes
    assert "aws:ecs/getTaskDefinition:getTaskDefinition" not in run.invokes
    for service in SERVICES:
        policy = run.named(f"shop-{service}-deploy-service-role-policy").json_input("policy")
        [pass_role] = [s for s in policy["Statement"] if s["Sid"] == "PassOnlyTheServiceRoles"]
        assert pass_role["Resource"] == [
            f"arn:aws:iam::{MOCK_ACCOUNT_ID}:role/shop-{service}-execution",
            f"arn:aws:iam::{MOCK_ACCOUNT_ID}:role/shop-{service}-task",
        ]
        [update] = [s for s in policy["Statement"] if s["Sid"] == "UpdateTheService"]
        assert update["Resource"] == [f"arn:aws:ecs:eu-west-1:{MOCK_ACCOUNT_ID}:service/shop/shop-{service}"]


def test_each_service_gets_its_own_build_project_and_image_repository():
    run = evaluated()
    images = [r for r in run.of_type("aws:ecr/repository:Repository") if r.inputs["imageTagMutability"] == "IMMUTABLE"]
    assert sorted(r.inputs["name"] for r in images) == ["shop/api", "shop/worker"]
    assert sorted(p.inputs["name"] for p in run.of_type("aws:codebuild/project:Project")) == [
        "shop-api-build",
        "shop-worker-build",
    ]
    for service in SERVICES:
        assert run.outputs[f"{service}RepositoryUrl"].endswith(f"/shop/{service}")


def test_only_the_two_pipelines_roles_may_use_the_shared_key():
    run = evaluated()
    (policy,) = run.of_type("aws:kms/keyPolicy:KeyPolicy")
    users = next(s for s in policy.json_input("policy")["Statement"] if s["Sid"] == "OnlyThePipelineRolesUseIt")
    roles = {r.name: r.inputs["arn"] for r in run.of_type("aws:iam/role:Role")}
    assert sorted(users["Principal"]["AWS"]) == sorted(roles.values())
