"""AWS's own rules, over every stack, every example and the largest and longest inputs the schema
allows: every physical name within its type's limits (components/naming.py), every policy and
pattern within its size limit (components/limits.py), and a stack of the maximum number of
services inside every quota it counts against, with headroom."""

import re
from collections import Counter
from functools import cache
from pathlib import Path

import pytest

from components import limits, naming
from components.config_schema import KEYS
from components.settings import stack_config
from components.testing import physical_name, run_program, run_stack

from .helpers import STACKS, evaluated, policy_of

ROOT = Path(__file__).resolve().parent.parent
MONOREPO = ROOT / "examples" / "monorepo"

# The longest names the schema allows, with the characters AWS is pickiest about.
LONGEST_SERVICE = ("Orders_API-" + "x" * 63)[:63]
LONGEST_ENVIRONMENT = "environment1"  # 12, the schema's maximum
LONGEST_CLUSTER = "C" * 255


@cache
def longest() -> object:
    """Staging (a created service) on blue/green with every optional part on, and every name as
    long as the schema lets it be."""
    config = stack_config("staging")
    service = {**config["ecs-cicd:service"], "name": LONGEST_SERVICE, "cluster": LONGEST_CLUSTER}
    return run_stack(
        "staging",
        {
            "ecs-cicd:environment": LONGEST_ENVIRONMENT,
            "ecs-cicd:production": True,
            "ecs-cicd:service": service,
            "ecs-cicd:deploy": {"strategy": "blue-green", "requireApproval": True},
            "ecs-cicd:build": {
                **config["ecs-cicd:build"],
                "testCommands": ["make test"],
                "dockerHubCredentialsArn": "arn:aws:secretsmanager:eu-west-1:111122223333:secret:"
                "ecr-pullthroughcache/docker-hub-AbC123",
            },
            "ecs-cicd:guardrails": {"cloudTrail": True, "guardDuty": True, "configRules": True},
            "ecs-cicd:pipeline": {"name": "P." + "@" * 2 + "p" * 96},  # 100, with the characters AWS allows
            # As many promotion targets as the schema allows, each with the longest name, an
            # approval and a check, each in a region of its own with the longest name the schema
            # allows (an artifact store there each).
            "ecs-cicd:promotion": {"targets": [longest_target(index) for index in range(PROMOTION_TARGETS)]},
        },
    )


PROMOTION_TARGETS = KEYS["promotion"]["properties"]["targets"]["maxItems"]


def longest_target(index: int) -> dict:
    account = f"44445555{index:04d}"
    name = f"t{index}" + "x" * 18  # 20, the schema's maximum
    role = f"arn:aws:iam::{account}:role/ecs-cicd/deploy/" + "r" * 64
    return {
        "name": name,
        "account": account,
        "cluster": LONGEST_CLUSTER,
        "service": LONGEST_SERVICE,
        "deployRoleArn": role,
        "executionRoleArns": [f"arn:aws:iam::{account}:role/{'e' * 60}{n:04d}" for n in range(10)],
        "requireApproval": True,
        "checkRoleArn": role.replace("/deploy/", "/check/"),
        "region": f"eu-{'x' * 24}{chr(ord('a') + index)}-1",  # 30, the schema's maximum
    }


@cache
def many() -> object:
    """The monorepo example at the schema's maximum number of services."""
    count = KEYS["services"]["maxItems"]
    services = [
        {"name": f"service-{i:03d}", "source": {"filePaths": {"includes": [f"services/s{i}/**"]}}} for i in range(count)
    ]
    return run_stack("shop-dev", {"ecs-cicd:services": services}, project_dir=MONOREPO)


def every_run():
    yield from (evaluated(stack) for stack in STACKS)
    yield run_stack("shop-dev", project_dir=MONOREPO)
    yield longest()


def test_the_longest_names_the_schema_allows_fit_every_aws_limit():
    run = longest()
    names = {r.type: physical_name(r.type, r.name, r.inputs) for r in run.custom_resources() if r.type in naming.RULES}
    assert naming.LOAD_BALANCER in names and naming.TARGET_GROUP in names and naming.S3_BUCKET in names
    # Every promotion target's region has an artifact store of its own, named within the limits too.
    stores = [r for r in run.of_type("aws:s3/bucket:Bucket") if "cicd:index:ArtifactStore" in r.parent]
    assert len(stores) == 1 + PROMOTION_TARGETS
    for resource in run.custom_resources():
        if resource.type in naming.RULES:
            name = physical_name(resource.type, resource.name, resource.inputs)
            assert naming.problem(resource.type, name) is None, (resource.type, name)


def test_every_resource_type_has_a_naming_rule_or_is_known_to_have_no_name():
    runs = list(every_run())
    types = {r.type for run in runs for r in run.custom_resources() if r.type.startswith("aws:")}
    assert types <= set(naming.RULES) | naming.UNNAMED_TYPES
    assert all(rule.source.startswith("https://docs.aws.amazon.com/") for rule in naming.RULES.values())


def test_every_policy_and_pattern_fits_its_size_limit_in_every_run():
    for run in every_run():
        assert_documents_fit(run)


def assert_documents_fit(run) -> None:
    for resource in run.custom_resources():
        for (type_, key), limit in limits.DOCUMENT_LIMITS.items():
            if resource.type == type_ and isinstance(resource.inputs.get(key), str):
                assert limit.check(resource.inputs[key]) is None, (run.stack, resource.name, key)


def test_the_names_pulumi_derives_are_what_aws_accepts():
    """The harness reproduces pulumi-aws's autonaming (`<logical>-<7 hex>`, S3 lowercased) and
    refuses what AWS would: a name over the limit or with a character AWS does not allow."""
    with pytest.raises(Exception, match="over the limit of 32"):
        physical_name(naming.TARGET_GROUP, "a" * 25, {})
    with pytest.raises(Exception, match="not of the form AWS allows"):
        physical_name(naming.TARGET_GROUP, "orders_api", {})
    assert re.fullmatch(r"orders-api-bucket-[0-9a-f]{7}", physical_name(naming.S3_BUCKET, "Orders-API-bucket", {}))
    assert naming.logical(naming.TARGET_GROUP, "Orders_API-" + "x" * 60, "green").endswith("-green")


def test_a_stack_of_the_maximum_number_of_services_fits_every_quota_and_policy_limit():
    """One test, so the 100-service stack is evaluated once whichever worker runs it."""
    run = many()
    assert_documents_fit(run)
    counts = Counter(r.type for r in run.custom_resources())
    assert counts["aws:codepipeline/pipeline:Pipeline"] == KEYS["services"]["maxItems"]
    for type_, quota in limits.QUOTAS.items():
        # Half of the default quota at most: the account (or region, or bus) runs other things too.
        assert counts[type_] <= quota.default // 2, (type_, counts[type_], quota.default)
    policies = {
        t: len(run.one(t).inputs["policy"]) for t in ("aws:kms/keyPolicy:KeyPolicy", "aws:sns/topicPolicy:TopicPolicy")
    }
    assert policies["aws:kms/keyPolicy:KeyPolicy"] < 4096  # names the pipeline path, not each role
    assert len(run.outputs["scpDocument"]) <= 5120


def test_the_longest_names_at_the_maximum_number_of_services_fit_every_limit():
    """The schema's extremes at once: 100 services with 63-character names, 255-character cluster
    names, pull-request pipelines, full clones of 140-character repositories through one configured
    connection. Every policy and pattern fits, and the alert rules fit the 300 a bus allows (with
    little room: README, Speed)."""
    connection = "arn:aws:codeconnections:eu-west-1:111122223333:connection/7c1d2e3f-4a5b-6c7d-8e9f-0a1b2c3d4e5f"
    services = [
        {
            "name": (f"s{i:03d}_Orders-" + "x" * 63)[:63],
            "source": {
                "repository": "a" * 39 + "/" + (f"r{i:03d}-" + "y" * 100)[:100],
                "fullClone": True,
                "pullRequests": True,
            },
            "service": {"cluster": LONGEST_CLUSTER},
        }
        for i in range(KEYS["services"]["maxItems"])
    ]
    run = run_stack(
        "shop-dev",
        {"ecs-cicd:services": services, "ecs-cicd:source": {"repository": "acme/shop", "connectionArn": connection}},
        project_dir=MONOREPO,
    )
    assert_documents_fit(run)
    home = [r for r in run.of_type("aws:cloudwatch/eventRule:EventRule") if r.region == "eu-west-1"]
    assert len(home) <= limits.QUOTAS["aws:cloudwatch/eventRule:EventRule"].default
    # One configured connection: one statement naming it, whatever the number of services.
    statements = policy_of(run, "ecs-cicd-dev-scan-sast-role")["Statement"]
    (use,) = [s for s in statements if s["Action"] == ["codeconnections:UseConnection"]]
    assert use["Resource"] == [connection]
    # 100 repository names would pass the policy's budget: they are named by their owner.
    assert use["Condition"]["StringLikeIfExists"]["codeconnections:FullRepositoryId"] == ["a" * 39 + "/*"]


def test_a_stack_whose_alerts_need_more_rules_than_a_bus_allows_is_refused(monkeypatch):
    from components import alerts

    monkeypatch.setattr(alerts, "RULES_PER_BUS", 5)
    with pytest.raises(Exception, match=r"alerts need \d+ rules on the default event bus, over EventBridge's 5"):
        run_stack("dev")


def test_a_policy_whose_statement_ids_repeat_is_refused_as_iam_would():
    import json

    import pulumi_aws as aws

    statement = {"Sid": "Same", "Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}
    document = json.dumps({"Version": "2012-10-17", "Statement": [statement, statement]})
    with pytest.raises(Exception, match=r"statement IDs \['Same'\] appear more than once"):
        run_program(lambda: aws.iam.RolePolicy("p", role="r", policy=document), {"aws:region": "eu-west-1"})


def test_a_program_of_ones_own_is_checked_as_well():
    """Library users get the same checks from `run_program`."""
    import pulumi_aws as aws

    with pytest.raises(Exception, match="over the limit of 64"):
        run_program(lambda: aws.cloudwatch.EventRule("r" * 60, event_pattern="{}"), {"aws:region": "eu-west-1"})
