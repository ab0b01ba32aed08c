"""Who owns what on a created service, on the second and every later `pulumi up`: the stack config
owns the task definition's settings, the pipeline the image, ECS the live target group. Each test
starts from what a first `pulumi up` registered and answers the data sources as AWS would after the
pipeline's deploys (the ECS deploy action copies the running revision and swaps the image)."""

import json
from functools import cache
from pathlib import Path

import pytest
import yaml

from components.images import BOOTSTRAP_IMAGE
from components.ownership import SERVICE_TAG
from components.service import ServiceStateError
from components.testing import StackRun, default_invoke_results, run_stack

ROOT = Path(__file__).resolve().parent.parent
SERVICE = "aws:ecs/service:Service"
TASK_DEFINITION = "aws:ecs/taskDefinition:TaskDefinition"
TAGGING = "aws:resourcegroupstaggingapi/getResources:getResources"
TARGET_GROUP = "aws:lb/targetGroup:TargetGroup"
LISTENER = "aws:lb/listener:Listener"
ARN = "arn:aws:ecs:eu-west-1:111122223333:service/staging/orders-api"
DEPLOYED = "111122223333.dkr.ecr.eu-west-1.amazonaws.com/orders-api-staging@sha256:" + "ab" * 32
STRATEGIES = {
    "rolling": {},
    "blue-green": {"ecs-cicd:deploy": {"strategy": "blue-green", "requireApproval": False}},
    "canary": {"ecs-cicd:deploy": {"strategy": "canary", "requireApproval": False}},
}


def service_config(**changes) -> dict:
    config = yaml.safe_load((ROOT / "Pulumi.staging.yaml").read_text())["config"]["ecs-cicd:service"]
    return {"ecs-cicd:service": {**config, **changes}}


def registered(run: StackRun) -> dict:
    (definition,) = run.of_type(TASK_DEFINITION)
    return definition.inputs


def live(
    run: StackRun,
    image: str = DEPLOYED,
    *,
    revision: int = 12,
    controller: str = "ECS",
    strategy: str = "ROLLING",
    advanced: bool = False,
    deployments: int = 1,
    status: str = "ACTIVE",
    other_services: tuple[str, ...] = (),
    **definition_changes,
) -> dict:
    """Answers for the data sources `pulumi up` reads: the service `run` created runs a copy of the
    revision `run` registered with `image` (what the pipeline's deploy does), as revision
    `revision`. The tagging API honours its filters: it answers with every tagged service of the
    region (`other_services` beside this one) of the types asked for."""
    answers = default_invoke_results("eu-west-1")
    inputs = registered(run)
    containers = json.loads(inputs["containerDefinitions"])
    for container in containers:
        container["image"] = image
    service = run.one(SERVICE).inputs
    arn = f"arn:aws:ecs:eu-west-1:111122223333:service/{service['cluster'].rsplit('/', 1)[-1]}/{service['name']}"
    tagged = [arn, *other_services]

    def tagging(args):
        assert not args.get("tagFilters"), "the lookup must not depend on tag values a user can change"
        types = args.get("resourceTypeFilters") or ["ecs:service"]
        return {
            "id": "x",
            "resourceTagMappingLists": [
                {"resourceArn": a, "tags": service.get("tags") or {} if a == arn else {}}
                for a in tagged
                if "ecs:service" in types
            ],
        }

    balancers = []
    for lb in service["loadBalancers"]:
        entry = {k: v for k, v in lb.items() if k != "advancedConfiguration"}
        if advanced:
            entry["advancedConfigurations"] = [lb.get("advancedConfiguration") or {"alternateTargetGroupArn": "tg"}]
        balancers.append(entry)
    answers[TAGGING] = tagging
    answers["aws:ecs/getService:getService"] = lambda args: {
        "arn": arn,
        "serviceName": service["name"],
        "clusterArn": args["clusterArn"],
        "status": status,
        "taskDefinition": f"arn:aws:ecs:eu-west-1:111122223333:task-definition/orders-api:{revision}",
        "deploymentControllers": [{"type": controller}],
        "deploymentConfigurations": [{"strategy": strategy}],
        "loadBalancers": balancers,
        "deployments": [{"id": f"ecs-svc/{i}", "status": "ACTIVE"} for i in range(deployments)],
    }
    answers["aws:ecs/getTaskDefinition:getTaskDefinition"] = lambda args: {
        "arn": args["taskDefinition"],
        "family": inputs["family"],
        "revision": revision,
        "cpu": inputs["cpu"],
        "memory": inputs["memory"],
        "networkMode": inputs["networkMode"],
        "requiresCompatibilities": inputs["requiresCompatibilities"],
        "runtimePlatforms": [inputs["runtimePlatform"]],
        "executionRoleArn": inputs["executionRoleArn"],
        "taskRoleArn": inputs["taskRoleArn"],
        "containerDefinitions": json.dumps(containers),
        **definition_changes,
    }
    return answers


@cache
def first_up(strategy: str = "rolling") -> StackRun:
    """The first `pulumi up` of a strategy: read-only, so shared by every test that starts from it."""
    return run_stack("staging", STRATEGIES[strategy])


def rolling_first() -> StackRun:
    return first_up("rolling")


@pytest.fixture(scope="module", params=sorted(STRATEGIES))
def first(request):
    """A first `pulumi up` of each strategy, and the strategy's config."""
    return request.param, first_up(request.param)


def second(first, config=None, **live_args) -> StackRun:
    strategy, run = first
    deployed_strategy = "ROLLING" if strategy == "rolling" else strategy.upper().replace("-", "_")
    live_args.setdefault("strategy", deployed_strategy)
    live_args.setdefault("advanced", strategy != "rolling")
    return run_stack("staging", {**STRATEGIES[strategy], **(config or {})}, invoke_results=live(run, **live_args))


# --- the two directions ----------------------------------------------------------------------


def test_the_first_pulumi_up_runs_the_bootstrap_image(first):
    _, run = first
    (container,) = json.loads(registered(run)["containerDefinitions"])
    assert container["image"] == BOOTSTRAP_IMAGE
    assert TAGGING in run.invokes
    # The service is found by a tag no user tag can override.
    assert run.one(SERVICE).inputs["tags"][SERVICE_TAG] == "staging/orders-api"


def test_a_pipeline_deploy_is_never_reverted_and_nothing_restarts(first):
    """After deploys, `pulumi up` finds the config's content running: the service keeps the
    revision it runs (in its inputs, so a refresh changes nothing either) and nothing is registered."""
    later = second(first, revision=12)
    service = later.one(SERVICE)
    assert service.inputs["taskDefinition"] == "arn:aws:ecs:eu-west-1:111122223333:task-definition/orders-api:12"
    assert "taskDefinition" in service.ignore_changes
    assert later.of_type(TASK_DEFINITION) == []
    again = second(first, revision=13, image=DEPLOYED.replace("ab", "cd"))
    assert {k: v for k, v in again.one(SERVICE).inputs.items() if k != "taskDefinition"} == {
        k: v for k, v in service.inputs.items() if k != "taskDefinition"
    }


def test_a_config_change_rolls_out_with_the_image_the_pipeline_deployed(first, caplog):
    changed = second(first, config=service_config(memory=2048))
    # Said in the preview, with what differs: seen again after `pulumi up`, the rollout failed.
    assert "differs from the stack's config in memory:" in caplog.text
    definition = registered(changed)
    assert definition["memory"] == "2048"
    (container,) = json.loads(definition["containerDefinitions"])
    assert container["image"] == DEPLOYED
    assert "WHOAMI_PORT_NUMBER" not in {e["name"] for e in container["environment"]}
    service = changed.one(SERVICE)
    assert "taskDefinition" not in service.ignore_changes
    assert service.inputs["taskDefinition"] == definition["arn"]


@pytest.mark.parametrize(
    "drift",
    [
        {"memory": "3072"},
        {"cpu": "4096"},
        {"executionRoleArn": "arn:aws:iam::111122223333:role/elsewhere/orders-api-staging-execution-role-1234567"},
    ],
)
def test_a_revision_that_is_not_the_config_is_rolled_forward_to_it(drift):
    """What runs decides, not what `pulumi up` last asked for: a rollout that ECS rolled back (or a
    revision registered by hand) leaves other content running, and `pulumi up` sees it."""
    later = run_stack("staging", invoke_results=live(rolling_first(), **drift))
    assert "taskDefinition" not in later.one(SERVICE).ignore_changes
    (container,) = json.loads(registered(later)["containerDefinitions"])
    assert container["image"] == DEPLOYED


def test_an_environment_change_in_the_running_revision_is_seen():
    run = rolling_first()
    containers = json.loads(registered(run)["containerDefinitions"])
    containers[0]["environment"] = [{"name": "LOG_LEVEL", "value": "debug"}]
    later = run_stack("staging", invoke_results=live(run, containerDefinitions=json.dumps(containers)))
    assert "taskDefinition" not in later.one(SERVICE).ignore_changes


# --- a lookup that misses must change nothing --------------------------------------------------


@pytest.mark.parametrize("miss", ["no tagged service", "inactive", "a similar name"])
def test_a_service_that_is_not_found_is_never_rolled_back(first, miss):
    """Any doubt leaves the task definition alone: `ignore_changes` has no effect when the
    service is created, and an existing service keeps what it runs."""
    strategy, run = first
    answers = live(run, status="INACTIVE" if miss == "inactive" else "ACTIVE")
    if miss == "no tagged service":
        answers[TAGGING] = lambda args: {"id": "x", "resourceTagMappingLists": []}
    if miss == "a similar name":
        similar = [ARN + "-v2", ARN.replace("/staging/", "/other-staging/")]
        answers[TAGGING] = lambda args: {"id": "x", "resourceTagMappingLists": [{"resourceArn": a} for a in similar]}
    later = run_stack("staging", STRATEGIES[strategy], invoke_results=answers)
    service = later.one(SERVICE)
    assert "taskDefinition" in service.ignore_changes
    # Were it created now, it would start from the config's own revision, not a stale one.
    assert service.inputs["taskDefinition"] == registered(later)["arn"]


def test_changing_the_users_tags_does_not_lose_the_service(first):
    strategy, run = first
    later = run_stack(
        "staging",
        {**STRATEGIES[strategy], "ecs-cicd:tags": {"environment": "stg", "service": "renamed"}},
        invoke_results=live(run, other_services=("arn:aws:ecs:eu-west-1:111122223333:service/staging/billing",)),
    )
    assert later.of_type(TASK_DEFINITION) == []


def test_a_renamed_container_keeps_the_image_it_ran():
    """The running revision has no container of the new name: the image comes from the container
    the load balancer sends traffic to, never the bootstrap image."""
    renamed = run_stack("staging", service_config(container="web"), invoke_results=live(rolling_first()))
    (container,) = json.loads(registered(renamed)["containerDefinitions"])
    assert container["name"] == "web" and container["image"] == DEPLOYED


# --- what `pulumi up` refuses to do to a running service ---------------------------------------


def test_a_config_change_during_a_deploy_waits_for_it():
    answers = live(rolling_first(), deployments=2)
    with pytest.raises(ServiceStateError, match="in the middle of a deployment"):
        run_stack("staging", service_config(memory=2048), invoke_results=answers)
    # A preview says so but does not stop.
    previewed = run_stack("staging", service_config(memory=2048), invoke_results=answers, preview=True)
    assert registered(previewed)["memory"] == "2048"


def test_a_service_still_on_codedeploy_is_refused_with_the_migration_steps():
    run = first_up("blue-green")
    answers = live(run, controller="CODE_DEPLOY", strategy="ROLLING")
    with pytest.raises(ServiceStateError, match="--deployment-controller type=ECS"):
        run_stack("staging", STRATEGIES["blue-green"], invoke_results=answers)


def test_moving_the_container_of_a_blue_green_service_is_refused():
    run = first_up("blue-green")
    answers = live(run, strategy="BLUE_GREEN", advanced=True)
    with pytest.raises(ServiceStateError, match="three steps"):
        run_stack("staging", {**STRATEGIES["blue-green"], **service_config(container="web")}, invoke_results=answers)


@pytest.mark.parametrize("strategy", ["rolling", "blue-green"])
def test_moving_the_port_of_a_running_service_is_refused(strategy):
    """A new port is a new target group, which the listener would forward to before any task is in it."""
    run = first_up(strategy)
    answers = live(run, strategy=strategy.upper().replace("-", "_"), advanced=strategy != "rolling")
    with pytest.raises(ServiceStateError, match=r"ecs-cicd:service\.port 9090 would replace its target group"):
        run_stack("staging", {**STRATEGIES[strategy], **service_config(port=9090)}, invoke_results=answers)


def test_switching_a_rolling_service_to_blue_green_takes_two_pulumi_ups(caplog):
    """AWS's order: the advanced configuration first, with a rolling deployment; then the strategy."""
    before = rolling_first()
    step_one = run_stack("staging", STRATEGIES["canary"], invoke_results=live(before, strategy="ROLLING"))
    service = step_one.one(SERVICE)
    assert service.inputs["deploymentConfiguration"] == {"strategy": "ROLLING"}
    assert "advancedConfiguration" in service.inputs["loadBalancers"][0]
    assert "loadBalancers" not in service.ignore_changes
    assert "run `pulumi up` again to switch to canary" in caplog.text
    step_two = run_stack(
        "staging", STRATEGIES["canary"], invoke_results=live(before, strategy="ROLLING", advanced=True)
    )
    service = step_two.one(SERVICE)
    assert service.inputs["deploymentConfiguration"]["strategy"] == "CANARY"
    assert "loadBalancers" in service.ignore_changes


def test_switching_back_to_rolling_sends_the_rolling_strategy():
    before = first_up("blue-green")
    back = run_stack("staging", invoke_results=live(before, strategy="BLUE_GREEN", advanced=True))
    service = back.one(SERVICE)
    assert service.inputs["deploymentConfiguration"] == {"strategy": "ROLLING"}
    assert service.inputs["loadBalancers"][0].keys() == {"targetGroupArn", "containerName", "containerPort"}
    assert "loadBalancers" not in service.ignore_changes


def test_switching_back_to_rolling_while_green_serves_is_refused():
    """After an odd number of blue/green deployments the tasks sit in green, which rolling deletes."""
    before = first_up("blue-green")
    (green,) = [group.inputs["arn"] for group in before.of_type(TARGET_GROUP) if group.name.endswith("-green")]
    answers = live(before, strategy="BLUE_GREEN", advanced=True)
    described = answers["aws:ecs/getService:getService"]

    def in_green(args):
        service = described(args)
        for balancer in service["loadBalancers"]:
            balancer["targetGroupArn"] = green
        return service

    answers["aws:ecs/getService:getService"] = in_green
    with pytest.raises(ServiceStateError, match="runs in its green target group"):
        run_stack("staging", invoke_results=answers)


def test_a_certificate_change_on_a_blue_green_service_is_refused():
    """Production moves to another listener, so its rules are replaced; ECS keeps the old ones."""
    config = {**STRATEGIES["blue-green"], **service_config()}
    plain = {**config["ecs-cicd:service"]}
    for key in ("certificateArn", "hostedZoneId", "domainName"):
        plain.pop(key)
    without = {**config, "ecs-cicd:service": plain, "ecs-cicd:insecure": {"allowHttp": True}}
    before = run_stack("staging", without)
    with pytest.raises(ServiceStateError, match="certificateArn added or removed"):
        run_stack("staging", config, invoke_results=live(before, strategy="BLUE_GREEN", advanced=True))


def test_adding_a_certificate_keeps_one_listener_on_port_80():
    """Two listeners on one port: ELB refuses the second (DuplicateListener)."""
    config = service_config()
    plain = {**config["ecs-cicd:service"]}
    for key in ("certificateArn", "hostedZoneId", "domainName"):
        plain.pop(key)
    before = run_stack("staging", {"ecs-cicd:service": plain, "ecs-cicd:insecure": {"allowHttp": True}})
    after = run_stack("staging", config, invoke_results=live(before))
    on_80 = [{r.name for r in run.of_type(LISTENER) if r.inputs["port"] == 80} for run in (before, after)]
    assert on_80[0] == on_80[1] and len(on_80[0]) == 1


def test_a_strategy_switch_during_a_deploy_waits_for_it():
    before = first_up("blue-green")
    answers = live(before, strategy="BLUE_GREEN", advanced=True, deployments=2)
    with pytest.raises(ServiceStateError, match="only between deployments"):
        run_stack("staging", STRATEGIES["canary"], invoke_results=answers)


def test_blue_green_keeps_the_circuit_breaker():
    """It watches ECS's blue/green deployments too; left out, the provider would send it disabled."""
    before = first_up()
    native = run_stack("staging", STRATEGIES["canary"], invoke_results=live(before, strategy="ROLLING", advanced=True))
    assert native.one(SERVICE).inputs["deploymentCircuitBreaker"] == {"enable": True, "rollback": True}


@pytest.mark.parametrize("change", [{"cluster": "staging-2"}, {"name": "orders-api-2"}])
def test_a_moved_service_starts_from_what_the_old_one_runs(change, caplog):
    """ECS cannot move or rename a service: the new one must not start from the bootstrap image."""
    config = service_config(**change)
    if "name" in change:  # the same component, another ECS service name
        config["ecs-cicd:pipeline"] = {"name": "orders-api-staging"}
        before = run_stack("staging", {"ecs-cicd:pipeline": {"name": "orders-api-staging"}})
    else:
        before = first_up()
    after = run_stack("staging", config, invoke_results=live(before))
    (container,) = json.loads(registered(after)["containerDefinitions"])
    assert container["image"] == DEPLOYED  # its log group (and, renamed, its family) is the new one's
    assert after.one(SERVICE).inputs["taskDefinition"] == registered(after)["arn"]
    assert "starts from what the old one runs" in caplog.text


def test_an_empty_environment_value_is_refused():
    """ECS drops it on registration: the running revision would never match, and every pulumi up would roll out."""
    with pytest.raises(Exception, match=r"ecs-cicd:service.environment.FLAG.*non-empty"):
        run_stack("staging", service_config(environment={"FLAG": ""}))
