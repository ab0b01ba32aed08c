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


def test_an_exception_no_one_retrieves_is_caught_not_printed(capfd):
    """A failed run's exception reaches every output that depended on it, and asyncio would print
    each as "Future exception was never retrieved" whenever it is collected, often in a later test.
    The harness drops those echoes (the run raised the failure once) and keeps any other such
    exception, which then fails the test it shows up in (tests/conftest.py)."""
    import asyncio
    import gc

    from components import testing

    def fails():
        failing = pulumi.Output.from_input("x").apply(lambda _: (_ for _ in ()).throw(RuntimeError("loud")))
        aws.s3.Bucket("b", bucket=failing)

    with pytest.raises(Exception, match="loud"):
        testing.run_program(fails)
    gc.collect()
    assert testing.UNRETRIEVED == []
    assert "never retrieved" not in capfd.readouterr().err

    hidden = RuntimeError("hidden")
    asyncio.get_event_loop().call_exception_handler(
        {"message": "Future exception was never retrieved", "exception": hidden}
    )
    found, testing.UNRETRIEVED[:] = list(testing.UNRETRIEVED), []
    assert found == [hidden]
