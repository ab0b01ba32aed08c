"""Cross-account delivery, the target account's side (issue 15): the deploy role a tooling
pipeline assumes, evaluated as a stack of the target account (another account ID than the tooling
account's), trusts that pipeline's role only and may deploy only the named services."""

import json

import pytest

from components import TargetAccountAccess
from components.testing import default_invoke_results, run_program

from .helpers import policy_of

TOOLING, TARGET = "111122223333", "444455556666"
PIPELINE_ROLE = f"arn:aws:iam::{TOOLING}:role/ecs-cicd/delivery/pipeline/orders-delivery-role-1a2b3c4"
BUCKET = "arn:aws:s3:::ecs-cicd-delivery-artifacts-bucket"
KEY = f"arn:aws:kms:eu-west-1:{TOOLING}:key/0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d"
ORDERS = {
    "cluster": "staging",
    "service": "orders-api",
    "task_family": "orders-api",
    "task_role_arns": [f"arn:aws:iam::{TARGET}:role/orders-api-task", f"arn:aws:iam::{TARGET}:role/orders-api-exec"],
}
BILLING = {
    "cluster": "staging",
    "service": "billing",
    "task_family": "billing",
    "task_role_arns": [f"arn:aws:iam::{TARGET}:role/billing-task"],
}


def target_stack(services=(ORDERS,), **overrides):
    args = {
        "pipeline_role_arn": PIPELINE_ROLE,
        "pipeline_name": "orders-delivery",
        "artifact_bucket_arn": BUCKET,
        "artifact_key_arn": KEY,
        "services": list(services),
        **overrides,
    }
    return run_program(
        lambda: TargetAccountAccess("staging-access", args),
        {"aws:region": "eu-west-1"},
        invoke_results=default_invoke_results("eu-west-1", account_id=TARGET),
    )


def deploy_policy(run) -> dict:
    (role,) = run.of_type("aws:iam/role:Role")
    return policy_of(run, role.name)


def test_the_role_trusts_the_tooling_pipelines_role_and_nothing_else():
    run = target_stack()
    (role,) = run.of_type("aws:iam/role:Role")
    (statement,) = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    assert statement == {"Effect": "Allow", "Principal": {"AWS": PIPELINE_ROLE}, "Action": "sts:AssumeRole"}
    assert role.inputs["path"] == "/ecs-cicd/deploy/"


@pytest.mark.parametrize(
    "principal",
    [
        f"arn:aws:iam::{TOOLING}:root",  # the whole tooling account
        TOOLING,
        f"arn:aws:iam::{TOOLING}:role/*",
        f"arn:aws:iam::{TOOLING}:user/release",
        "*",
    ],
)
def test_anything_but_one_role_is_refused_as_the_trusted_principal(principal):
    with pytest.raises(ValueError, match="is not a role's ARN"):
        target_stack(pipeline_role_arn=principal)


def test_the_role_deploys_only_the_named_services_and_passes_only_their_roles():
    policy = deploy_policy(target_stack())
    by_sid = {s["Sid"]: s for s in policy["Statement"]}
    assert by_sid["UpdateTheService"]["Resource"] == [f"arn:aws:ecs:eu-west-1:{TARGET}:service/staging/orders-api"]
    assert by_sid["PassOnlyTheServiceRoles"]["Resource"] == sorted(ORDERS["task_role_arns"])
    assert by_sid["PassOnlyTheServiceRoles"]["Condition"] == {
        "StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}
    }
    actions = {action for statement in policy["Statement"] for action in statement["Action"]}
    assert not any("*" in action for action in actions)
    assert not {"iam:CreateRole", "iam:PutRolePolicy", "iam:AttachRolePolicy", "sts:AssumeRole"} & actions
    wildcards = {s["Sid"] for s in policy["Statement"] if "*" in s["Resource"]}
    assert wildcards == {  # only where ECS has no resource-level permission, each saying so or scoped by a condition
        "TaskDefinitionsNoResourceLevelPermissions",
        "RegisterUnprivilegedTaskDefinitionsNoResourceLevelPermissions",
        "ListServiceTasksInThisClusterOnly",
    }
    ecs = [r for s in policy["Statement"] for r in s["Resource"] if r.startswith("arn:aws:ecs:")]
    assert ecs and all(f":{TARGET}:" in r for r in ecs)  # the target account's own services only


def test_it_reads_only_the_pipelines_artifacts_in_the_tooling_account():
    by_sid = {s["Sid"]: s for s in deploy_policy(target_stack())["Statement"]}
    assert by_sid["ReadThePipelinesArtifacts"]["Resource"] == [f"{BUCKET}/orders-delivery/*"]
    assert by_sid["DecryptThePipelinesArtifacts"]["Resource"] == [KEY]


def test_removing_a_service_removes_its_grants():
    both = json.dumps(deploy_policy(target_stack([ORDERS, BILLING])))
    assert "service/staging/billing" in both and "billing-task" in both
    one = json.dumps(deploy_policy(target_stack([ORDERS])))
    assert "billing" not in one


def test_arguments_are_checked_before_anything_is_registered():
    with pytest.raises(ValueError, match="services is required"):
        target_stack([])
    with pytest.raises(ValueError, match=r"services\[0\]\.task_role_arns is required"):
        target_stack([{k: v for k, v in ORDERS.items() if k != "task_role_arns"}])
    with pytest.raises(ValueError, match="unknown argument"):
        target_stack([{**ORDERS, "taskRoles": []}])
