"""The ECS side (issue 4): a created service, rolling and blue/green deploys, the post-deploy
check and rollback, all from one container contract."""

import json
from pathlib import Path

import pytest
import yaml

from components.images import BOOTSTRAP_IMAGE
from components.settings import SettingsError, from_mapping
from components.testing import run_stack

from .helpers import api_call, evaluated, fired, policy_of, stack_settings_of

ROOT = Path(__file__).resolve().parent.parent

PIPELINE = "aws:codepipeline/pipeline:Pipeline"
BLUE_GREEN = {"ecs-cicd:deploy": {"strategy": "blue-green", "requireApproval": False}}


def stages(run) -> dict[str, dict]:
    return {s["name"]: s for s in run.one(PIPELINE).inputs["stages"]}


def build_env(run, name: str) -> dict[str, str]:
    project = run.named(f"{name}-build-project").inputs
    return {v["name"]: v["value"] for v in project["environment"]["environmentVariables"]}


@pytest.fixture(scope="module")
def blue_green_created():
    return run_stack("staging", BLUE_GREEN)


# --- a created service -------------------------------------------------------------------


def test_the_load_balancer_serves_https_and_redirects_http():
    run = evaluated("staging")
    alb = run.one("aws:lb/loadBalancer:LoadBalancer").inputs
    assert alb["internal"] is False and alb["dropInvalidHeaderFields"] is True
    listeners = {r.inputs["port"]: r.inputs for r in run.of_type("aws:lb/listener:Listener")}
    assert set(listeners) == {443, 80}
    assert listeners[443]["protocol"] == "HTTPS"
    assert listeners[443]["certificateArn"].startswith("arn:aws:acm:")
    assert listeners[443]["sslPolicy"] == "ELBSecurityPolicy-TLS13-1-2-2021-06"
    assert listeners[80]["defaultActions"][0]["redirect"] == {
        "port": "443",
        "protocol": "HTTPS",
        "statusCode": "HTTP_301",
    }


def test_target_group_health_check_and_draining_use_tuned_defaults():
    (group,) = evaluated("staging").of_type("aws:lb/targetGroup:TargetGroup")
    inputs = group.inputs
    assert inputs["port"] == 8080 and inputs["targetType"] == "ip"
    assert inputs["deregistrationDelay"] == 30
    assert inputs["healthCheck"] == {
        "path": "/healthz",
        "interval": 10,
        "healthyThreshold": 2,
        "unhealthyThreshold": 3,
        "timeout": 5,
        "matcher": "200-399",
    }


def test_the_cluster_has_container_insights():
    cluster = evaluated("staging").one("aws:ecs/cluster:Cluster").inputs
    assert cluster["name"] == "staging"
    assert cluster["settings"] == [{"name": "containerInsights", "value": "enabled"}]


def test_the_task_definition_runs_the_contract_container_with_logs_and_secrets():
    task = evaluated("staging").one("aws:ecs/taskDefinition:TaskDefinition").inputs
    assert (task["cpu"], task["memory"], task["networkMode"]) == ("512", "1024", "awsvpc")
    (container,) = json.loads(task["containerDefinitions"])
    assert container["name"] == "app"
    assert container["image"] == BOOTSTRAP_IMAGE
    assert container["portMappings"] == [{"containerPort": 8080, "protocol": "tcp"}]
    # The bootstrap answers the target group's health check on the contract's port.
    assert container["environment"] == [
        {"name": "APP_ENV", "value": "staging"},
        {"name": "WHOAMI_PORT_NUMBER", "value": "8080"},
    ]
    assert container["secrets"][0]["name"] == "DATABASE_URL"
    assert container["logConfiguration"]["options"]["awslogs-group"] == "/ecs/staging/orders-api"


def test_the_execution_role_pulls_only_our_repository_and_reads_only_our_secrets():
    run = evaluated("staging")
    policy = run.named("orders-api-staging-service-execution-role-policy").json_input("policy")
    sids = {s["Sid"]: s for s in policy["Statement"]}
    assert sids["PullServiceImages"]["Resource"] == ["arn:aws:ecr:eu-west-1:111122223333:repository/orders-api-staging"]
    assert sids["ReadTaskSecrets"]["Resource"] == [
        "arn:aws:secretsmanager:eu-west-1:111122223333:secret:staging/orders-api/database-url-Q1w2E3"
    ]
    assert not [
        r
        for r in run.of_type("aws:iam/rolePolicy:RolePolicy")
        if r.name.startswith("orders-api-staging-service-task-role")
    ]


def test_the_service_runs_privately_with_circuit_breaker_and_alarm_rollback():
    run = evaluated("staging")
    service = run.one("aws:ecs/service:Service")
    inputs = service.inputs
    assert inputs["launchType"] == "FARGATE"
    assert inputs["networkConfiguration"]["assignPublicIp"] is False
    assert all("prv" in subnet for subnet in inputs["networkConfiguration"]["subnets"])
    assert inputs["deploymentCircuitBreaker"] == {"enable": True, "rollback": True}
    alarm = run.one("aws:cloudwatch/metricAlarm:MetricAlarm").inputs
    assert inputs["alarms"] == {"alarmNames": [alarm["name"]], "enable": True, "rollback": True}
    assert inputs["deploymentController"] == {"type": "ECS"}
    assert inputs["loadBalancers"] == [
        {
            "targetGroupArn": run.one("aws:lb/targetGroup:TargetGroup").inputs["arn"],
            "containerName": "app",
            "containerPort": 8080,
        }
    ]


def test_autoscaling_tracks_cpu_between_the_configured_bounds():
    run = evaluated("staging")
    target = run.one("aws:appautoscaling/target:Target").inputs
    assert (target["minCapacity"], target["maxCapacity"]) == (2, 6)
    assert target["resourceId"] == "service/staging/orders-api"
    policy = run.one("aws:appautoscaling/policy:Policy").inputs
    assert policy["targetTrackingScalingPolicyConfiguration"]["targetValue"] == 60


def test_the_rolling_deploy_passes_the_created_roles_without_looking_anything_up():
    run = evaluated("staging")
    assert not [t for t in run.invokes if t.startswith("aws:ecs/")]
    policy = run.named("orders-api-staging-deploy-service-role-policy").json_input("policy")
    pass_role = next(s for s in policy["Statement"] if s["Sid"] == "PassOnlyTheServiceRoles")
    roles = {r.name: r.inputs["arn"] for r in run.of_type("aws:iam/role:Role")}
    assert pass_role["Resource"] == sorted(
        [roles["orders-api-staging-service-execution-role"], roles["orders-api-staging-service-task-role"]]
    )


# --- the check after the deploy, and rollback ---------------------------------------------


def test_the_deploy_stage_checks_the_service_and_rolls_back_on_failure():
    run = evaluated("staging")
    deploy = stages(run)["Deploy"]
    assert [(a["name"], a.get("runOrder")) for a in deploy["actions"]] == [("Service", None), ("Check", 2)]
    assert deploy["onFailure"] == {"result": "ROLLBACK"}
    check = run.named("orders-api-staging-check-project").inputs
    env = {v["name"]: v["value"] for v in check["environment"]["environmentVariables"]}
    assert env["SERVICE_URL"] == run.outputs["serviceUrl"]
    assert env["SERVICE_URL"].startswith("https://") and env["SERVICE_URL"].endswith("/healthz")
    assert env["CHECK_COMMANDS"] == 'curl --fail --silent "$SERVICE_URL/../version"'
    assert check["environment"]["privilegedMode"] is False


def test_every_deploy_is_checked_to_run_the_built_digest_even_without_a_health_url():
    run = evaluated("dev")
    deploy = stages(run)["Deploy"]
    assert [a["name"] for a in deploy["actions"]] == ["Service", "Check"]
    assert deploy["onFailure"] == {"result": "ROLLBACK"}
    check = deploy["actions"][1]
    assert json.loads(check["configuration"]["EnvironmentVariables"]) == [
        {"name": "EXPECTED_IMAGE", "value": "#{BuildVariables.IMAGE_URI}", "type": "PLAINTEXT"}
    ]
    variables = {
        v["name"]: v["value"]
        for v in run.named("orders-api-dev-check-project").inputs["environment"]["environmentVariables"]
    }
    assert variables["SERVICE_URL"] == ""  # dev has no health URL: only the digest is checked
    assert (variables["ECS_CLUSTER"], variables["ECS_SERVICE"], variables["CONTAINER_NAME"]) == (
        "dev",
        "orders-api",
        "app",
    )
    statements = {s["Sid"]: s for s in policy_of(run, "orders-api-dev-check-role")["Statement"]}
    assert statements["ReadTheService"]["Resource"] == ["arn:aws:ecs:eu-west-1:111122223333:service/dev/orders-api"]


def test_rollback_can_be_turned_off():
    run = run_stack("dev", {"ecs-cicd:deploy": {"rollbackOnFailure": False}})
    assert "onFailure" not in stages(run)["Deploy"]


def test_pre_deploy_tests_run_in_their_own_project_beside_the_image_build():
    run = evaluated("staging")
    actions = {a["name"]: a for a in stages(run)["Build"]["actions"]}
    assert actions["Tests"]["inputArtifacts"] == ["SourceOutput"]
    project = run.named("orders-api-staging-tests-project").inputs
    assert project["environment"]["environmentVariables"] == [
        {"name": "TEST_COMMANDS", "value": "make unit-test", "type": "PLAINTEXT"}
    ]
    assert project["environment"]["privilegedMode"] is False
    policy = run.named("orders-api-staging-tests-role-policy").json_input("policy")
    actions = {a for s in policy["Statement"] for a in s["Action"]}
    assert not {a for a in actions if a.startswith(("ecr:", "ecs:", "iam:"))}


# --- blue/green ---------------------------------------------------------------------------


def test_blue_green_is_ecs_own_with_two_target_groups_and_weighted_listener_rules(blue_green_created):
    """A created service deploys blue/green with ECS itself: no CodeDeploy application, two target
    groups, a production and a test listener rule forwarding to both (100/0 to start), whose
    weights ECS rewrites and `pulumi up` leaves alone."""
    run = blue_green_created
    assert run.of_type("aws:codedeploy/application:Application") == []
    service = run.one("aws:ecs/service:Service")
    assert service.inputs["deploymentController"] == {"type": "ECS"}
    configuration = dict(service.inputs["deploymentConfiguration"])
    hooks = configuration.pop("lifecycleHooks")
    assert configuration == {"strategy": "BLUE_GREEN", "bakeTimeInMinutes": "5"}
    (hook,) = hooks
    assert hook["lifecycleStages"] == ["POST_TEST_TRAFFIC_SHIFT"]  # before production traffic moves
    assert hook["hookTargetArn"] == run.one("aws:lambda/function:Function").inputs["arn"]
    assert "loadBalancers" in service.ignore_changes
    # Blue, then green: by name, not by the order registrations happened to finish in.
    groups = sorted(run.of_type("aws:lb/targetGroup:TargetGroup"), key=lambda g: not g.name.endswith("-blue"))
    assert len(groups) == 2 and groups[1].name.endswith("-green")
    rules = {r.name.rsplit("-", 2)[-2]: r for r in run.of_type("aws:lb/listenerRule:ListenerRule")}
    assert set(rules) == {"production", "test"}
    for rule in rules.values():
        assert rule.ignore_changes == ("actions",)
        weights = [(g["arn"], g["weight"]) for g in rule.inputs["actions"][0]["forward"]["targetGroups"]]
        assert weights == [(groups[0].inputs["arn"], 100), (groups[1].inputs["arn"], 0)]
    (balancer,) = service.inputs["loadBalancers"]
    advanced = balancer["advancedConfiguration"]
    assert advanced["alternateTargetGroupArn"] == groups[1].inputs["arn"]
    assert advanced["productionListenerRule"] == rules["production"].inputs["arn"]
    assert advanced["testListenerRule"] == rules["test"].inputs["arn"]
    listeners = {r.inputs["port"]: r for r in run.of_type("aws:lb/listener:Listener")}
    assert set(listeners) == {80, 443, 8443} and listeners[443].ignore_changes == ()
    alarms = service.inputs["alarms"]
    assert alarms["rollback"] is True and len(alarms["alarmNames"]) == 2  # one per target group


def test_ecs_moves_traffic_with_a_role_scoped_to_the_two_groups_and_rules(blue_green_created):
    run = blue_green_created
    role = run.named("orders-api-staging-service-infrastructure-role")
    trust = json.loads(role.inputs["assumeRolePolicy"])["Statement"][0]
    assert trust["Principal"] == {"Service": "ecs.amazonaws.com"}
    assert (
        role.inputs["arn"]
        == run.one("aws:ecs/service:Service").inputs["loadBalancers"][0]["advancedConfiguration"]["roleArn"]
    )
    statements = {s["Sid"]: s for s in policy_of(run, "orders-api-staging-service-infrastructure-role")["Statement"]}
    groups = sorted(g.inputs["arn"] for g in run.of_type("aws:lb/targetGroup:TargetGroup"))
    assert sorted(statements["RegisterTasksInTheTwoTargetGroups"]["Resource"]) == groups
    rules = sorted(r.inputs["arn"] for r in run.of_type("aws:lb/listenerRule:ListenerRule"))
    assert sorted(statements["ShiftTrafficOnTheTwoRules"]["Resource"]) == rules
    assert "/runtime/" in role.inputs["arn"]  # the SCP lets the runtime roles move a service's traffic


@pytest.mark.parametrize(
    ("deploy", "expected"),
    [
        (
            {"strategy": "canary", "canary": {"percent": 25, "bakeTimeMinutes": 10}, "bakeTimeMinutes": 15},
            {
                "strategy": "CANARY",
                "bakeTimeInMinutes": "15",
                "canaryConfiguration": {"canaryPercent": 25, "canaryBakeTimeInMinutes": "10"},
            },
        ),
        (
            {"strategy": "linear", "linear": {"stepPercent": 20, "stepBakeTimeMinutes": 2}},
            {
                "strategy": "LINEAR",
                "bakeTimeInMinutes": "5",
                "linearConfiguration": {"stepPercent": 20, "stepBakeTimeInMinutes": "2"},
            },
        ),
    ],
)
def test_canary_and_linear_shift_traffic_as_the_config_says(deploy, expected):
    run = run_stack("staging", {"ecs-cicd:deploy": {"timeoutMinutes": 60, "requireApproval": False, **deploy}})
    configuration = dict(run.one("aws:ecs/service:Service").inputs["deploymentConfiguration"])
    assert configuration.pop("lifecycleHooks")
    assert configuration == expected
    (action,) = stages(run)["Deploy"]["actions"][:1]
    assert action["provider"] == "ECS" and action["configuration"]["DeploymentTimeout"] == "60"


def test_an_existing_service_on_blue_green_names_its_application_and_group():
    run = evaluated("prod")
    configuration = stages(run)["Deploy"]["actions"][0]["configuration"]
    assert (configuration["ApplicationName"], configuration["DeploymentGroupName"]) == ("orders-api", "orders-api-prod")
    assert run.of_type("aws:codedeploy/application:Application") == []
    env = build_env(run, "orders-api-prod")
    assert env["TASK_FAMILY"] == "orders-api" and "TASKDEF_TEMPLATE" not in env
    assert yaml.safe_load(env["APPSPEC_TEMPLATE"])["Resources"][0]["TargetService"]["Properties"][
        "LoadBalancerInfo"
    ] == {
        "ContainerName": "app",
        "ContainerPort": 8080,
    }
    policy = run.named("orders-api-prod-deploy-service-role-policy").json_input("policy")
    sids = {s["Sid"]: s for s in policy["Statement"]}
    assert sids["DeployThisGroup"]["Resource"] == [
        "arn:aws:codedeploy:eu-west-1:111122223333:deploymentgroup:orders-api/orders-api-prod"
    ]


# --- bad input ------------------------------------------------------------------------------

CERTIFICATE = "arn:aws:acm:eu-west-1:111122223333:certificate/5e1d2c3b-4a59-4f6e-8d7c-9b0a1f2e3d4c"
GOOD = {
    "source": {"repository": "acme/orders-api"},
    "service": {"cluster": "dev", "name": "orders-api", "container": "app"},
}


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        (
            {"deploy": {"strategy": "wave"}},
            "ecs-cicd:deploy.strategy = 'wave' is not allowed; allowed: rolling, blue-green, canary, linear",
        ),
        (
            {"deploy": {"strategy": "canary", "canary": {"percent": 20}}},
            "ecs-cicd:deploy.canary does not apply here: it applies to strategy canary on a created service; an "
            "existing service's own deployment configuration decides its traffic shift",
        ),
        (
            {"service": {**GOOD["service"], "port": 70000}},
            "ecs-cicd:service.port = 70000 is out of range; allowed: 1 to 65535",
        ),
        ({"service": {**GOOD["service"], "port": 0}}, "ecs-cicd:service.port = 0 is out of range"),
        (
            {"service": {**GOOD["service"], "healthCheckPath": "health"}},
            "ecs-cicd:service.healthCheckPath = 'health' is not valid; allowed: a URL path starting with '/'",
        ),
        (
            {"service": {**GOOD["service"], "create": True}},
            "ecs-cicd:service.certificateArn is required with service.create: true",
        ),
        (
            {"deploy": {"strategy": "blue-green", "blueGreen": {"deploymentGroup": "orders"}}},
            "ecs-cicd:deploy.blueGreen.application is required with deploy.blueGreen.deploymentGroup",
        ),
        (
            {
                "service": {
                    **GOOD["service"],
                    "create": True,
                    "certificateArn": CERTIFICATE,
                    "autoscaling": {"min": 5, "max": 2},
                }
            },
            "ecs-cicd:service.autoscaling.min = 5 is above max = 2",
        ),
    ],
)
def test_bad_service_and_deploy_settings_are_rejected(changes, expected):
    with pytest.raises(SettingsError) as caught:
        from_mapping({**GOOD, **changes}, stack="dev")
    assert any(p.startswith(expected) for p in caught.value.problems), caught.value.problems


def test_plain_http_needs_the_explicit_insecure_flag():
    settings = from_mapping(
        {**GOOD, "service": {**GOOD["service"], "create": True}, "insecure": {"allowHttp": True}}, stack="dev"
    )
    assert settings.service.create and settings.insecure.enabled == ["ecs-cicd:insecure.allowHttp"]
    run = run_stack(
        "staging",
        {
            "ecs-cicd:service": {"create": True, "cluster": "staging", "name": "orders-api", "container": "app"},
            "ecs-cicd:insecure": {"allowHttp": True},
        },
    )
    (listener,) = run.of_type("aws:lb/listener:Listener")
    assert (listener.inputs["port"], listener.inputs["protocol"]) == (80, "HTTP")
    assert run.outputs["serviceUrl"].startswith("http://")


def test_only_the_load_balancer_reaches_the_tasks_and_the_tasks_reach_out_over_https_only():
    run = evaluated("staging")
    groups = {r.name for r in run.of_type("aws:ec2/securityGroup:SecurityGroup")}
    assert groups == {"orders-api-staging-service-alb-sg", "orders-api-staging-service-task-sg"}
    assert not any(
        "ingress" in r.inputs or "egress" in r.inputs for r in run.of_type("aws:ec2/securityGroup:SecurityGroup")
    )
    ingress = {r.name: r.inputs for r in run.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")}
    egress = {r.name: r.inputs for r in run.of_type("aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule")}
    public = [rule for rule in ingress.values() if rule.get("cidrIpv4") == "0.0.0.0/0"]
    assert sorted(rule["fromPort"] for rule in public) == [80, 443]
    from_alb = ingress["orders-api-staging-service-tasks-from-alb"]
    assert (from_alb["fromPort"], from_alb["toPort"], "cidrIpv4" in from_alb) == (8080, 8080, False)
    assert egress["orders-api-staging-service-tasks-to-https"]["fromPort"] == 443
    assert "cidrIpv4" not in egress["orders-api-staging-service-alb-to-tasks"]


def test_parallel_pipelines_do_not_roll_back_because_aws_does_not_allow_it():
    run = run_stack("dev", {"ecs-cicd:pipeline": {"executionMode": "PARALLEL"}})
    deploy = stages(run)["Deploy"]
    assert run.one("aws:codepipeline/pipeline:Pipeline").inputs["executionMode"] == "PARALLEL"
    assert "onFailure" not in deploy
    with pytest.raises(SettingsError, match=r"deploy.rollbackOnFailure = True is not allowed with pipeline"):
        run_stack(
            "dev",
            {"ecs-cicd:pipeline": {"executionMode": "PARALLEL"}, "ecs-cicd:deploy": {"rollbackOnFailure": True}},
        )
    assert stages(run_stack("dev"))["Deploy"]["onFailure"] == {"result": "ROLLBACK"}


def test_the_check_calls_the_name_the_certificate_covers_and_dns_points_it_at_the_load_balancer():
    run = run_stack("staging")
    record = run.one("aws:route53/record:Record").inputs
    alb = run.one("aws:lb/loadBalancer:LoadBalancer").inputs
    assert (record["name"], record["type"], record["zoneId"]) == (
        "orders.staging.example.com",
        "A",
        "Z0123456789ABCDEFGHIJ",
    )
    assert record["aliases"] == [{"name": alb["dnsName"], "zoneId": alb["zoneId"], "evaluateTargetHealth": True}]
    check = run.named("orders-api-staging-check-project").inputs["environment"]["environmentVariables"]
    url = next(v["value"] for v in check if v["name"] == "SERVICE_URL")
    assert url == "https://orders.staging.example.com/healthz"
    assert "amazonaws.com" not in url  # no certificate can cover the load balancer's own name


def test_a_certificate_without_a_name_it_covers_is_refused():
    service = {k: v for k, v in stack_settings_of("staging")["ecs-cicd:service"].items() if k != "domainName"}
    service.pop("hostedZoneId")
    with pytest.raises(SettingsError, match=r"service.domainName is required with service.certificateArn"):
        run_stack("staging", {"ecs-cicd:service": service})
    run = run_stack(
        "staging",
        {"ecs-cicd:service": service, "ecs-cicd:deploy": {"healthCheckUrl": "https://orders.example.com/healthz"}},
    )
    assert not run.of_type("aws:route53/record:Record")


def test_a_codedeploy_deployment_made_outside_the_pipeline_is_reported():
    """On CodeDeploy blue/green a service changes through deployments of its group, not
    UpdateService: a deployment created by anyone but the pipeline's deploy role is a bypass."""
    run = evaluated("prod")
    deploy_role = run.named("orders-api-prod-deploy-service-role").inputs["name"]
    request = {"applicationName": "orders-api", "deploymentGroupName": "orders-api-prod"}
    assert fired(run, api_call("aws.codedeploy", "CreateDeployment", request, user="alice")) == ["deployment-bypass"]
    assert fired(run, api_call("aws.codedeploy", "CreateDeployment", request, role="someone")) == ["deployment-bypass"]
    assert fired(run, api_call("aws.codedeploy", "CreateDeployment", request, role=deploy_role)) == []
    other = {**request, "deploymentGroupName": "another-group"}
    assert fired(run, api_call("aws.codedeploy", "CreateDeployment", other, role="someone")) == []


def test_a_created_service_can_join_an_existing_cluster():
    created = {
        "create": True,
        "existingCluster": True,
        "cluster": "shared",
        "name": "orders-api",
        "container": "app",
        "certificateArn": CERTIFICATE,
        "domainName": "orders.dev.example.com",
    }
    run = run_stack("dev", {"ecs-cicd:service": created})
    assert run.of_type("aws:ecs/cluster:Cluster") == []
    service = run.one("aws:ecs/service:Service").inputs
    assert service["cluster"] == "arn:aws:ecs:eu-west-1:111122223333:cluster/shared"
    # On an existing service the key would change nothing: it is refused, with why.
    with pytest.raises(SettingsError, match=r"service\.existingCluster does not apply here"):
        run_stack(
            "dev", {"ecs-cicd:service": {"cluster": "dev", "name": "x", "container": "app", "existingCluster": True}}
        )


@pytest.mark.parametrize(
    ("deploy", "needed"),
    [
        # 5 to start the tasks, 2 for the check (120 s), then the shift and bake times.
        ({"strategy": "blue-green", "bakeTimeMinutes": 30}, 37),
        ({"strategy": "canary", "canary": {"bakeTimeMinutes": 20}}, 32),
        ({"strategy": "linear", "linear": {"stepPercent": 10, "stepBakeTimeMinutes": 5}}, 57),
        ({"strategy": "blue-green", "bakeTimeMinutes": 10, "checkTimeoutSeconds": 1201}, 36),
    ],
)
def test_a_deploy_timeout_shorter_than_the_traffic_shift_is_refused(deploy, needed):
    """The pipeline's ECS action waits for ECS's deployment within its timeout: one shorter than the
    shift and bake times would fail every deploy that succeeds."""
    with pytest.raises(SettingsError, match=rf"may take and succeed \({needed} minutes"):
        run_stack("staging", {"ecs-cicd:deploy": {"timeoutMinutes": needed - 1, "requireApproval": False, **deploy}})
    run_stack("staging", {"ecs-cicd:deploy": {"timeoutMinutes": needed, "requireApproval": False, **deploy}})


def test_every_new_task_is_checked_from_inside_the_vpc_before_production_traffic_moves(blue_green_created):
    """The lifecycle hook is a Lambda function in the service's private subnets that may reach the
    tasks' port only, read only this service's revisions and tasks, and that ECS alone invokes."""
    run = blue_green_created
    function = run.one("aws:lambda/function:Function").inputs
    assert function["handler"] == "index.handler" and function["runtime"] == "python3.12"
    variables = function["environment"]["variables"]
    assert variables == {
        "CLUSTER": "staging",
        "SERVICE": "orders-api",
        "CONTAINER_PORT": "8080",
        "HEALTH_PATH": "/healthz",
        "CHECK_TIMEOUT_SECONDS": "120",
    }
    service = run.one("aws:ecs/service:Service").inputs
    assert function["vpcConfig"]["subnetIds"] == service["networkConfiguration"]["subnets"]  # the tasks' subnets
    into_tasks = run.named("orders-api-staging-service-tasks-from-check").inputs
    assert into_tasks["securityGroupId"] in service["networkConfiguration"]["securityGroups"]
    assert into_tasks["referencedSecurityGroupId"] in function["vpcConfig"]["securityGroupIds"]
    assert (into_tasks["fromPort"], into_tasks["toPort"]) == (8080, 8080)
    statements = {s["Sid"]: s for s in policy_of(run, "orders-api-staging-service-check-role")["Statement"]}
    assert sorted(statements["ReadTheNewRevision"]["Resource"]) == [
        "arn:aws:ecs:eu-west-1:111122223333:service-revision/staging/orders-api/*",
        "arn:aws:ecs:eu-west-1:111122223333:service/staging/orders-api",
    ]
    assert sorted(statements["FunctionNetworkInterfaces"]["Resource"]) == [
        f"arn:aws:ec2:eu-west-1:111122223333:{kind}/*" for kind in ("network-interface", "security-group", "subnet")
    ]
    invoker = {s["Sid"]: s for s in policy_of(run, "orders-api-staging-service-check-invoker-role")["Statement"]}
    assert invoker["InvokeThePreProductionCheck"]["Resource"] == [function["arn"]]
    logs = run.named("orders-api-staging-service-check-logs").inputs
    assert logs["name"] == f"/aws/lambda/{function['name']}" and logs["kmsKeyId"]


def test_the_check_the_function_runs_is_this_repositorys():
    from components import green_check

    run = run_stack("staging", BLUE_GREEN)
    assert run.one("aws:lambda/function:Function").inputs["code"]  # an archive of components/green_check.py
    assert green_check.handler.__module__ == "components.green_check"
