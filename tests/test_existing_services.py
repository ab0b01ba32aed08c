"""What `pulumi up` reads from an existing service, and what the deploy is scoped to: the ARN ECS
reports (either format), the running family, and on blue/green the port the container listens on."""

import json

import pytest

from components.deploy import ContainerMismatchError
from components.testing import default_invoke_results, run_stack

from .helpers import policy_of

PROD_BLUE_GREEN = "prod"  # an existing service on the CODE_DEPLOY controller


def running(family="orders-api", port=8080, service_arn=None):
    """Answers for an existing service whose task definition is `family`:7 with an `app` container on `port`."""
    defaults = default_invoke_results("eu-west-1")

    def service(args):
        answer = defaults["aws:ecs/getService:getService"](args)
        return {**answer, **({"arn": service_arn} if service_arn else {})}

    def task_definition(args):
        answer = defaults["aws:ecs/getTaskDefinition:getTaskDefinition"](args)
        containers = [{"name": "app", "portMappings": [{"containerPort": port}]}, {"name": "envoy"}]
        return {**answer, "family": family, "revision": 7, "containerDefinitions": json.dumps(containers)}

    return {"aws:ecs/getService:getService": service, "aws:ecs/getTaskDefinition:getTaskDefinition": task_definition}


def test_the_deploy_is_scoped_to_the_arn_ecs_reports_even_in_the_old_format():
    old = "arn:aws:ecs:eu-west-1:111122223333:service/orders-api"  # made before the 2021 ARN format
    run = run_stack("dev", invoke_results=running(service_arn=old))
    statements = {s["Sid"]: s for s in policy_of(run, "orders-api-dev-deploy-service-role")["Statement"]}
    assert statements["UpdateTheService"]["Resource"] == [old]


def test_the_deploy_tags_only_revisions_of_the_running_family():
    run = run_stack("dev", invoke_results=running(family="orders-api-v2"))
    statements = {s["Sid"]: s for s in policy_of(run, "orders-api-dev-deploy-service-role")["Statement"]}
    assert statements["TagNewRevisions"]["Resource"] == [
        "arn:aws:ecs:eu-west-1:111122223333:task-definition/orders-api-v2:*"
    ]
    assert statements["TagNewRevisions"]["Condition"] == {
        "StringEquals": {"ecs:CreateAction": "RegisterTaskDefinition"}
    }


def test_a_created_service_deploy_may_tag_the_revisions_it_registers():
    run = run_stack("staging")
    statements = {s["Sid"]: s for s in policy_of(run, "orders-api-staging-deploy-service-role")["Statement"]}
    family = run.one("aws:ecs/taskDefinition:TaskDefinition").inputs["family"]
    assert statements["TagNewRevisions"]["Resource"] == [
        f"arn:aws:ecs:eu-west-1:111122223333:task-definition/{family}:*"
    ]


def test_blue_green_on_an_existing_service_derives_its_template_from_the_running_family():
    run = run_stack(PROD_BLUE_GREEN, invoke_results=running(family="orders-api-v2"))
    project = run.named("orders-api-prod-build-project").inputs
    variables = {v["name"]: v["value"] for v in project["environment"]["environmentVariables"]}
    assert variables["TASK_FAMILY"] == "orders-api-v2"
    assert "ContainerPort: 8080" in variables["APPSPEC_TEMPLATE"]


def test_blue_green_stops_pulumi_up_when_the_container_listens_on_another_port():
    with pytest.raises(ContainerMismatchError) as caught:
        run_stack(PROD_BLUE_GREEN, invoke_results=running(port=9000))
    assert str(caught.value) == (
        "ecs-cicd:service.port = 8080, but container app of orders-api:7 (service orders-api in cluster prod) "
        "listens on 9000; set ecs-cicd:service.port to the port the load balancer's target groups send traffic to"
    )
    # A rolling deploy changes only the image: the port is not the deploy's business.
    assert run_stack("dev", invoke_results=running(port=9000)).of_type("aws:codepipeline/pipeline:Pipeline")
