"""Every configuration option reaches the resource it is for: each case sets one option away from
its default and checks the registered resource."""

import json

import pytest

from components.testing import run_stack

from .helpers import stack_settings_of

CREATED = {
    "create": True,
    "cluster": "staging",
    "name": "orders-api",
    "container": "app",
    "domainName": "orders.staging.example.com",
}
CERTIFICATE = "arn:aws:acm:eu-west-1:111122223333:certificate/5e1d2c3b-4a59-4f6e-8d7c-9b0a1f2e3d4c"


def created_service(**options):
    return {"ecs-cicd:service": {**CREATED, "certificateArn": CERTIFICATE, **options}}


def deploy(stack: str, **options):
    return {"ecs-cicd:deploy": {**stack_settings_of(stack)["ecs-cicd:deploy"], **options}}


def test_alert_emails_subscribe_to_the_alert_topic():
    run = run_stack("dev", {"ecs-cicd:notifications": {"emails": ["oncall@example.com"]}})
    (subscription,) = run.of_type("aws:sns/topicSubscription:TopicSubscription")
    topic = run.named("orders-api-dev-alerts-topic").inputs["arn"]
    assert (subscription.inputs["endpoint"], subscription.inputs["protocol"], subscription.inputs["topic"]) == (
        "oncall@example.com",
        "email",
        topic,
    )


def test_approval_emails_subscribe_to_the_approval_topic():
    run = run_stack("prod", deploy("prod", approvalEmails=["a@example.com", "b@example.com"]))
    topic = run.named("orders-api-prod-approval-topic").inputs["arn"]
    subscriptions = [
        s for s in run.of_type("aws:sns/topicSubscription:TopicSubscription") if s.inputs["topic"] == topic
    ]
    assert sorted(s.inputs["endpoint"] for s in subscriptions) == ["a@example.com", "b@example.com"]


def test_the_check_waits_as_long_as_configured():
    run = run_stack("staging", deploy("staging", checkTimeoutSeconds=600))
    project = run.named("orders-api-staging-check-project").inputs
    env = {v["name"]: v["value"] for v in project["environment"]["environmentVariables"]}
    assert env["CHECK_TIMEOUT_SECONDS"] == "600"
    assert project["buildTimeout"] == 15  # the wait plus five minutes for the commands


@pytest.mark.parametrize("key", ["deploymentConfig", "terminationWaitMinutes"])
def test_the_codedeploy_group_settings_that_set_nothing_are_refused_with_where_they_live(key):
    # They once sat next to an existing group's name and changed nothing: the group's own
    # configuration decides, and a created service deploys with ECS's own blue/green.
    from components.settings import SettingsError

    blue_green = {"application": "orders-api", "deploymentGroup": "orders-api-prod", key: 30}
    with pytest.raises(SettingsError) as refused:
        run_stack(
            "prod", {"ecs-cicd:deploy": {"strategy": "blue-green", "requireApproval": True, "blueGreen": blue_green}}
        )
    message = str(refused.value)
    assert f"ecs-cicd:deploy.blueGreen.{key} is no longer a key" in message
    assert "set it where the group is managed" in message and "deploy.strategy blue-green, canary or linear" in message


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"availabilityZones": 3, "natGateways": "OnePerAz"}, (3, "OnePerAz")),
        ({}, (2, "Single")),
    ],
)
def test_the_created_vpc_follows_the_config(options, expected):
    vpc = run_stack("staging", created_service(**options)).one("awsx:ec2:Vpc").inputs
    assert (vpc["numberOfAvailabilityZones"], vpc["natGateways"]["strategy"]) == expected


def test_the_bootstrap_image_and_desired_count_reach_the_created_service():
    run = run_stack("staging", created_service(bootstrapImage="public.ecr.aws/acme/hello:1", desiredCount=4))
    (container,) = json.loads(run.one("aws:ecs/taskDefinition:TaskDefinition").inputs["containerDefinitions"])
    assert container["image"] == "public.ecr.aws/acme/hello:1"
    assert run.one("aws:ecs/service:Service").inputs["desiredCount"] == 4


def test_alarm_rollback_can_be_turned_off():
    run = run_stack("staging", created_service(rollbackOnAlarm=False))
    assert run.of_type("aws:cloudwatch/metricAlarm:MetricAlarm") == []
    assert "alarms" not in run.one("aws:ecs/service:Service").inputs


def test_artifacts_expire_after_the_configured_days():
    run = run_stack("dev", {"ecs-cicd:pipeline": {"artifactExpirationDays": 7}})
    (rule,) = run.one("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration").inputs["rules"]
    assert rule["expiration"] == {"days": 7}
    assert rule["noncurrentVersionExpiration"] == {"noncurrentDays": 7}


def test_extra_tags_reach_every_taggable_resource():
    run = run_stack("dev", {"ecs-cicd:tags": {"cost-centre": "platform"}})
    tagged = [r for r in run.custom_resources() if r.inputs.get("tags")]
    assert tagged and all(r.inputs["tags"]["cost-centre"] == "platform" for r in tagged)
