"""Every stack file evaluates, and the environments differ where they should."""

import json
import re

import pytest

from components.testing import run_stack

from .helpers import STACKS, evaluated

PIPELINE = "aws:codepipeline/pipeline:Pipeline"
UNTAGGABLE = {
    "aws:route53/record:Record",
    # These AWS resource types take no tags argument at all.
    "aws:iam/rolePolicy:RolePolicy",
    "aws:kms/alias:Alias",
    "aws:ecr/lifecyclePolicy:LifecyclePolicy",
    "aws:sns/topicSubscription:TopicSubscription",
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls",
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
    "aws:s3/bucketVersioning:BucketVersioning",
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
    "aws:s3/bucketPolicy:BucketPolicy",
    "aws:cloudwatch/eventTarget:EventTarget",
    "aws:sns/topicPolicy:TopicPolicy",
    "aws:appautoscaling/policy:Policy",
    "aws:kms/keyPolicy:KeyPolicy",
    "aws:ecr/repositoryPolicy:RepositoryPolicy",
}


def stage_names(run) -> list[str]:
    return [stage["name"] for stage in run.one(PIPELINE).inputs["stages"]]


def test_prod_runs_source_build_approve_deploy_in_order():
    assert stage_names(evaluated("prod")) == ["Source", "Build", "Approve", "Deploy"]


@pytest.mark.parametrize("stack", ["dev", "staging"])
def test_environments_without_approval_go_straight_to_deploy(stack):
    assert stage_names(evaluated(stack)) == ["Source", "Build", "Deploy"]


def test_every_pipeline_is_v2_with_the_configured_execution_mode(run, settings):
    pipeline = run.one(PIPELINE).inputs
    assert pipeline["pipelineType"] == "V2"
    assert pipeline["executionMode"] == settings.pipeline.execution_mode
    assert pipeline["name"] == settings.pipeline.name


def test_the_stacks_differ_where_environments_differ():
    modes = {s: evaluated(s).one(PIPELINE).inputs["executionMode"] for s in STACKS}
    computes = {
        s: evaluated(s).named(f"orders-api-{s}-build-project").inputs["environment"]["computeType"] for s in STACKS
    }
    assert modes["dev"] == "SUPERSEDED" and modes["prod"] == "QUEUED"
    assert len(set(computes.values())) == 3


def test_only_the_configured_branch_triggers_the_pipeline(run, settings):
    (trigger,) = run.one(PIPELINE).inputs["triggers"]
    git = trigger["gitConfiguration"]
    assert trigger["providerType"] == "CodeStarSourceConnection"
    assert git["sourceActionName"] == "Source"
    assert [push["branches"]["includes"] for push in git["pushes"]] == [[settings.source.branch]]
    source_action = run.one(PIPELINE).inputs["stages"][0]["actions"][0]
    assert source_action["configuration"]["BranchName"] == settings.source.branch
    assert source_action["configuration"]["FullRepositoryId"] == settings.source.repository


def test_prod_protects_its_stateful_resources_and_dev_does_not():
    stateful = ["artifacts-bucket", "artifacts-key", "build-repository"]
    assert all(evaluated("prod").named(f"orders-api-prod-{name}").protect for name in stateful)
    assert not any(evaluated("dev").named(f"orders-api-dev-{name}").protect for name in stateful)


def test_protection_is_on_when_a_stack_does_not_say():
    run = run_stack("dev", {"ecs-cicd:protect": None})
    assert run.named(f"{run.outputs['pipelineName']}-build-repository").protect
    assert run.one("aws:s3/bucket:Bucket").protect


def test_every_taggable_resource_carries_project_and_environment(run, settings):
    for resource in run.custom_resources():
        if resource.type in UNTAGGABLE:
            continue
        # A provider tags what it creates through its default tags.
        default_tags = resource.inputs.get("defaultTags") or "{}"  # a provider's inputs are JSON strings
        tags = resource.inputs.get("tags") or json.loads(default_tags).get("tags")
        assert tags, f"{resource.type} {resource.name} has no tags"
        assert tags["project"] == "ecs-cicd"
        assert tags["environment"] == settings.environment


def test_every_resource_lives_inside_one_of_our_components(run):
    by_urn = {r.urn: r for r in run.resources}
    for resource in run.custom_resources():
        ancestor = by_urn.get(resource.parent)
        while ancestor is not None and ancestor.custom:
            ancestor = by_urn.get(ancestor.parent)
        assert ancestor is not None, f"{resource.name} is not inside a component"
        assert ancestor.type.startswith("cicd:index:")
        # A name cut to fit AWS's limits (naming.fit) keeps the start of the component's name and a hash.
        fitted = re.fullmatch(r"(.+)-[0-9a-f]{6}(-[a-z]+)?", resource.name)
        prefix = fitted.group(1) if fitted and not resource.name.startswith(ancestor.name) else ancestor.name
        assert ancestor.name.startswith(prefix) and resource.name.startswith(prefix), (
            f"{resource.name} is not prefixed with {ancestor.name}"
        )


def test_exports_name_the_pipeline_repository_bucket_and_connection(run, settings):
    outputs = run.outputs
    assert outputs["pipelineName"] == settings.pipeline.name
    assert outputs["pipelineConsoleUrl"].endswith(f"/pipelines/{settings.pipeline.name}/view?region=eu-west-1")
    assert outputs["ecrRepositoryUrl"].endswith(f"/{settings.build.repository_name}")
    assert outputs["artifactBucket"] == run.named(f"{settings.stack_name}-artifacts-bucket").inputs["bucket"]
    assert outputs["connectionArn"].startswith("arn:aws:codeconnections:")


def test_a_created_connection_exports_its_handshake_url():
    run = evaluated("dev")
    connection = run.one("aws:codeconnections/connection:Connection")
    assert connection.inputs["providerType"] == "GitHub"
    assert connection.inputs["name"] == "orders-api-dev"
    connection_id = run.outputs["connectionArn"].rsplit("/", 1)[-1]
    assert run.outputs["connectionHandshakeUrl"] == (
        f"https://eu-west-1.console.aws.amazon.com/codesuite/settings/connections/{connection_id}?region=eu-west-1"
    )
    assert "PENDING" in run.outputs["connectionNextStep"]


def test_a_configured_connection_is_reused_not_created():
    run = evaluated("prod")
    assert run.of_type("aws:codeconnections/connection:Connection") == []
    assert "connectionHandshakeUrl" not in run.outputs
    action = run.one(PIPELINE).inputs["stages"][0]["actions"][0]
    assert action["configuration"]["ConnectionArn"] == run.outputs["connectionArn"]


def test_a_container_the_running_service_does_not_have_stops_pulumi_up():
    from components.deploy import ContainerMismatchError
    from components.testing import default_invoke_results

    def running_with(containers):
        def task_definition(args):
            answer = default_invoke_results("eu-west-1")["aws:ecs/getTaskDefinition:getTaskDefinition"](args)
            return {**answer, "revision": 7, "containerDefinitions": json.dumps([{"name": n} for n in containers])}

        return {"aws:ecs/getTaskDefinition:getTaskDefinition": task_definition}

    with pytest.raises(ContainerMismatchError) as caught:
        run_stack("dev", invoke_results=running_with(["web", "envoy"]))
    assert str(caught.value) == (
        "ecs-cicd:service.container = 'app', but service orders-api in cluster dev runs orders-api:7, "
        "whose containers are web, envoy; set ecs-cicd:service.container to the one that runs the built image"
    )
    assert run_stack("dev", invoke_results=running_with(["app", "envoy"])).one(PIPELINE)


def test_an_unprotected_stack_is_destroyable_in_one_command_and_a_protected_one_is_not():
    for stack, protected in (("dev", False), ("prod", True)):
        run = evaluated(stack)
        for bucket in run.of_type("aws:s3/bucket:Bucket"):
            assert bucket.inputs["forceDestroy"] is not protected and bucket.protect is protected
        for repository in run.of_type("aws:ecr/repository:Repository"):
            if "-cache-" not in repository.name:
                assert repository.inputs["forceDelete"] is not protected and repository.protect is protected


def test_the_audit_trail_keeps_its_logs_even_in_an_unprotected_stack():
    run = run_stack("dev", {"ecs-cicd:guardrails": {"cloudTrail": True}})
    trail_bucket = next(b for b in run.of_type("aws:s3/bucket:Bucket") if "trail" in b.name)
    assert trail_bucket.inputs["forceDestroy"] is False


def test_the_artifact_key_cannot_be_opened_to_every_role_of_the_account():
    from components import ArtifactStore
    from components.testing import run_program

    def program():
        ArtifactStore("store", {}).limit_key_use(role_pattern="arn:aws:iam::111122223333:role/*")

    with pytest.raises(ValueError, match="must name the roles under one IAM path"):
        run_program(program, {"aws:region": "eu-west-1"})
