"""The offline harness itself: the traps of mocked Pulumi tests, each shown to be handled."""

import pulumi
import pulumi_aws as aws
import pytest

from components.testing import DuplicateResourceError, run_program, run_stack


def test_duplicate_resource_names_fail_as_the_engine_would():
    def program():
        aws.s3.Bucket("same")
        aws.s3.Bucket("same")

    with pytest.raises(DuplicateResourceError, match="same"):
        run_program(program)


def test_outputs_resolve_before_the_run_returns():
    def program():
        bucket = aws.s3.Bucket("b")
        pulumi.export("later", bucket.arn.apply(lambda arn: f"resolved:{arn}"))

    assert run_program(program).outputs["later"].startswith("resolved:arn:aws:s3:::b-")


def test_config_does_not_leak_between_runs():
    def program():
        pulumi.export("value", pulumi.Config("ecs-cicd").get("source"))

    assert run_program(program, {"ecs-cicd:source": {"repository": "a/b"}}).outputs["value"] == '{"repository": "a/b"}'
    assert run_program(program).outputs["value"] is None


def test_options_are_recorded_with_the_resource():
    run = run_stack("prod")
    repository = run.named(f"{run.outputs['pipelineName']}-build-repository")
    assert repository.protect is True
    assert repository.parent_name == "orders-api-prod-build"
    project = run.named("orders-api-prod-build-project")
    role = run.one("aws:iam/role:Role", "orders-api-prod-build-role")
    assert role.urn in project.dependencies


def test_an_invoke_without_an_answer_fails_loudly():
    def program():
        aws.ec2.get_vpc_output(default=True)

    with pytest.raises(NotImplementedError, match="getVpc"):
        run_program(program)
