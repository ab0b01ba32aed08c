"""An existing service deploys as it is configured: `pulumi up` reads its deployment controller and
strategy and stops when `deploy.strategy` says otherwise (the plan would describe a deployment that
does not happen), or when its own traffic shift outlasts the pipeline's deploy timeout."""

import pytest

from components.deploy import DeploymentMismatchError
from components.testing import default_invoke_results, run_stack

PIPELINE = "aws:codepipeline/pipeline:Pipeline"


def deploying(controller: str, strategy: str | None = None, **configuration) -> dict:
    """AWS's answers for the dev stack's existing service, on `controller` with `strategy`."""
    answers = default_invoke_results("eu-west-1")
    plain = answers["aws:ecs/getService:getService"]
    answers["aws:ecs/getService:getService"] = lambda args: {
        **plain(args),
        "deploymentControllers": [{"type": controller}],
        "deploymentConfigurations": [{"strategy": strategy, **configuration}] if strategy else [],
    }
    return answers


def deploy_actions(run) -> list[dict]:
    (deploy,) = [s for s in run.one(PIPELINE).inputs["stages"] if s["name"] == "Deploy"]
    return deploy["actions"]


def strategy(name: str, **deploy) -> dict:
    return {"ecs-cicd:deploy": {"timeoutMinutes": 30, "requireApproval": False, "strategy": name, **deploy}}


@pytest.mark.parametrize(
    ("name", "ecs_strategy", "configuration"),
    [
        ("blue-green", "BLUE_GREEN", {"bakeTimeInMinutes": "10"}),
        ("canary", "CANARY", {"bakeTimeInMinutes": "5", "canaryConfigurations": [{"canaryBakeTimeInMinutes": "10"}]}),
        ("linear", "LINEAR", {"linearConfigurations": [{"stepPercent": 25.0, "stepBakeTimeInMinutes": "2"}]}),
    ],
)
def test_an_existing_service_on_ecs_own_blue_green_is_deployed_by_the_ecs_action(name, ecs_strategy, configuration):
    run = run_stack("dev", strategy(name), invoke_results=deploying("ECS", ecs_strategy, **configuration))
    (service, *_) = deploy_actions(run)
    assert service["provider"] == "ECS"
    assert service["configuration"]["DeploymentTimeout"] == "30"
    assert not run.of_type("aws:codedeploy/deploymentGroup:DeploymentGroup")


@pytest.mark.parametrize(
    ("config", "controller", "ecs_strategy", "allowed"),
    [
        (strategy("blue-green"), "ECS", "ROLLING", "set it to rolling"),
        (strategy("rolling"), "ECS", "CANARY", "set it to canary"),
        (strategy("rolling"), "CODE_DEPLOY", None, "set it to blue-green, with deploy.blueGreen.application"),
        (
            {
                "ecs-cicd:deploy": {
                    "strategy": "blue-green",
                    "requireApproval": False,
                    "blueGreen": {"application": "orders", "deploymentGroup": "orders-dev"},
                }
            },
            "ECS",
            "BLUE_GREEN",
            "set it to blue-green (without deploy.blueGreen)",
        ),
        (strategy("rolling"), "EXTERNAL", None, "CodePipeline's deploy actions cannot deploy"),
    ],
)
def test_a_strategy_the_service_does_not_deploy_with_is_refused(config, controller, ecs_strategy, allowed):
    with pytest.raises(DeploymentMismatchError, match=allowed.replace("(", r"\(").replace(")", r"\)")):
        run_stack("dev", config, invoke_results=deploying(controller, ecs_strategy))


def test_a_traffic_shift_longer_than_the_deploy_timeout_is_refused():
    """5 minutes to start the tasks, 20 to bake: a 15-minute action would fail a deploy that succeeds."""
    answers = deploying("ECS", "BLUE_GREEN", bakeTimeInMinutes="20")
    with pytest.raises(DeploymentMismatchError, match=r"at least 25 minutes, from its own blue-green"):
        run_stack("dev", strategy("blue-green", timeoutMinutes=15), invoke_results=answers)
    run_stack("dev", strategy("blue-green"), invoke_results=answers)
