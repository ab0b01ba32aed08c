"""Cross-account delivery, the target account's side (issue 15): the deploy role a tooling
pipeline assumes, evaluated as a stack of the target account (another account ID than the tooling
account's), trusts that pipeline's role only and may deploy only the named services."""

import json

import pulumi
import pytest

from components import TargetAccountAccess
from components.testing import default_invoke_results, run_program

from .helpers import api_call, fired, policy_of

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
        lambda: pulumi.export("scpDocument", TargetAccountAccess("staging-access", args).scp_document),
        {"aws:region": "eu-west-1"},
        invoke_results=default_invoke_results("eu-west-1", account_id=TARGET),
    )


def deploy_policy(run) -> dict:
    (role,) = run.of_type("aws:iam/role:Role")
    return policy_of(run, role.name)


def test_a_bypass_of_the_pipeline_is_reported_in_the_target_account():
    """The single-account mode's service-bypass alert, in the target account: an update of a named
    service by a user, or by a role other than the deploy role and Application Auto Scaling, fires;
    the deploy role's own updates do not; other services are not watched."""
    run = target_stack([ORDERS, BILLING], alert_emails=["oncall@example.com"])
    (role,) = run.of_type("aws:iam/role:Role")
    deployer = role.inputs["name"]

    def update(service, **caller):
        return api_call("aws.ecs", "UpdateService", {"cluster": "staging", "service": service}, **caller)

    assert fired(run, update("orders-api", user="alice")) == ["service-bypass"]
    assert fired(run, update("billing", role="ops-admin")) == ["service-bypass"]
    assert fired(run, update("orders-api", role=deployer)) == []
    assert fired(run, update("orders-api", role="AWSServiceRoleForApplicationAutoScaling_ECSService")) == []
    assert fired(run, update("payments", user="alice")) == []
    topic = run.one("aws:sns/topic:Topic")
    (subscription,) = run.of_type("aws:sns/topicSubscription:TopicSubscription")
    assert subscription.inputs["endpoint"] == "oncall@example.com"
    key = json.loads(run.one("aws:kms/key:Key").inputs["policy"])
    assert topic.inputs["kmsMasterKeyId"] and {s["Sid"] for s in key["Statement"]} == {
        "AdministratorsManageButCannotUse",
        "EventBridgeEncryptsAlertsOfThisAccount",
    }
    publish = json.loads(run.one("aws:sns/topicPolicy:TopicPolicy").inputs["policy"])["Statement"][0]
    rules = [r.inputs["arn"] for r in run.of_type("aws:cloudwatch/eventRule:EventRule")]
    assert publish["Condition"] == {"ArnEquals": {"aws:SourceArn": sorted(rules)}}


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


def test_the_target_accounts_scp_lets_only_the_deploy_role_change_the_services():
    run = target_stack([ORDERS, BILLING])
    (role,) = run.of_type("aws:iam/role:Role")
    document = run.outputs["scpDocument"]
    statements = {s["Sid"]: s for s in json.loads(document)["Statement"]}
    deploys = statements["OnlyTheDeployRoleDeploysTheServices"]
    assert deploys["Resource"] == [
        f"arn:aws:ecs:eu-west-1:{TARGET}:service/staging/billing",
        f"arn:aws:ecs:eu-west-1:{TARGET}:service/staging/orders-api",
    ]
    deployer = f"arn:aws:iam::{TARGET}:role/ci-deployer"  # the role `pulumi up` runs as in the target account
    assert deploys["Condition"] == {"ArnNotLike": {"aws:PrincipalArn": sorted([role.inputs["arn"], deployer])}}
    assert "ecs:UpdateService" in deploys["Action"] and statements["OnlyTheDeployerChangesTheDeployRole"][
        "Condition"
    ] == {"ArnNotLike": {"aws:PrincipalArn": deployer}}
    assert "billing" not in run_of_one_service_scp()
    assert len(document) <= 5120


def run_of_one_service_scp() -> str:
    return target_stack([ORDERS]).outputs["scpDocument"]


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


# -- the tooling account's side: what the targets need from it, derived from the targets -----------

STAGING_ROLE = f"arn:aws:iam::{TARGET}:role/ecs-cicd/deploy/staging-access-deploy-1a2b3c4"
PROD_ROLE = "arn:aws:iam::777788889999:role/ecs-cicd/deploy/prod-access-deploy-5d6e7f8"
EXECUTION_ROLES = [f"arn:aws:iam::{TARGET}:role/orders-api-exec", "arn:aws:iam::777788889999:role/orders-api-exec"]


WRITERS = f"arn:aws:iam::{TOOLING}:role/ecs-cicd/delivery/pipeline/*"


def tooling_stack(readers, pullers=EXECUTION_ROLES):
    from components import ArtifactStore, GitHubSource, ImageBuild

    def program():
        store = ArtifactStore(
            "delivery",
            {"protect": False, "cross_account_readers": readers, "writer_pattern": WRITERS}
            if readers
            else {"protect": False},
        )
        source = GitHubSource("orders-source", {"repository": "acme/orders"})
        ImageBuild(
            "orders-build",
            {"source": source, "artifact_store": store, "container_name": "app", "protect": False,
             "pull_role_arns": pullers},
        )  # fmt: skip

    return run_program(program, {"aws:region": "eu-west-1"})


def cross_account_statements(run) -> tuple[list, list, list]:
    bucket = json.loads(run.one("aws:s3/bucketPolicy:BucketPolicy").inputs["policy"])["Statement"]
    policies = run.of_type("aws:kms/keyPolicy:KeyPolicy")
    key = json.loads(policies[0].inputs["policy"])["Statement"] if policies else []
    repository = run.of_type("aws:ecr/repositoryPolicy:RepositoryPolicy")
    pulls = json.loads(repository[0].inputs["policy"])["Statement"] if repository else []
    return (
        [s for s in bucket if s["Effect"] == "Allow"],
        [s for s in key if s.get("Sid") == "TargetAccountsDeployRolesDecryptThroughS3"],  # written by the store
        pulls,
    )


def test_each_cross_account_grant_names_exactly_the_configured_principals():
    readers = [{"role_arn": role, "pipeline": "orders-delivery"} for role in (STAGING_ROLE, PROD_ROLE)]
    run = tooling_stack(readers)
    bucket, (decrypt,), (pull,) = cross_account_statements(run)
    bucket_arn = run.one("aws:s3/bucket:Bucket").inputs["arn"]
    assert sorted((s["Principal"]["AWS"], s["Resource"], tuple(s["Action"])) for s in bucket) == [
        (role, f"{bucket_arn}/orders-delivery/*", ("s3:GetObject", "s3:GetObjectVersion"))
        for role in sorted([STAGING_ROLE, PROD_ROLE])
    ]
    assert decrypt["Principal"] == {"AWS": sorted([STAGING_ROLE, PROD_ROLE])}
    assert (decrypt["Action"], decrypt["Condition"]) == (
        "kms:Decrypt",
        {"StringEquals": {"kms:ViaService": "s3.eu-west-1.amazonaws.com"}},
    )
    assert pull["Principal"] == {"AWS": sorted(EXECUTION_ROLES)}
    assert sorted(pull["Action"]) == [
        "ecr:BatchCheckLayerAvailability",
        "ecr:BatchGetImage",
        "ecr:GetDownloadUrlForLayer",
    ]


def test_removing_a_target_removes_its_grants_and_no_target_grants_nothing():
    run = tooling_stack([{"role_arn": STAGING_ROLE, "pipeline": "orders-delivery"}], pullers=EXECUTION_ROLES[:1])
    bucket, (decrypt,), (pull,) = cross_account_statements(run)
    assert [s["Principal"]["AWS"] for s in bucket] == [STAGING_ROLE] and decrypt["Principal"]["AWS"] == [STAGING_ROLE]
    assert "777788889999" not in json.dumps([bucket, decrypt, pull])
    assert cross_account_statements(tooling_stack([], pullers=[])) == ([], [], [])


@pytest.mark.parametrize("principal", [f"arn:aws:iam::{TARGET}:root", TARGET, "*", f"arn:aws:iam::{TARGET}:user/x"])
def test_a_cross_account_grant_to_anything_but_a_role_is_refused(principal):
    with pytest.raises(ValueError, match="is not a role's ARN"):
        tooling_stack([{"role_arn": principal, "pipeline": "orders-delivery"}])
    with pytest.raises(ValueError, match="is not a role's ARN"):
        tooling_stack([], pullers=[principal])


def test_the_store_writes_the_key_policy_its_readers_need_and_refuses_readers_without_writers():
    """Without the key policy naming them, other accounts cannot decrypt: the store writes it itself
    (no caller can forget `limit_key_use`), limited to the pipelines' roles, and only once."""
    from components import ArtifactStore

    readers = [{"role_arn": STAGING_ROLE, "pipeline": "orders-delivery"}]
    with pytest.raises(ValueError, match="cross_account_readers needs writer_pattern"):
        run_program(lambda: ArtifactStore("delivery", {"cross_account_readers": readers}))

    def twice():
        store = ArtifactStore("delivery", {"cross_account_readers": readers, "writer_pattern": WRITERS})
        store.limit_key_use(role_pattern=WRITERS)

    with pytest.raises(ValueError, match="already written"):
        run_program(twice)


@pytest.mark.parametrize("pipeline", ["*", "orders/*", "x" * 101])
def test_a_pipeline_name_that_is_not_one_is_refused(pipeline):
    """A wildcard would open every pipeline's folder of the bucket."""
    with pytest.raises(ValueError, match="is not a pipeline name"):
        tooling_stack([{"role_arn": STAGING_ROLE, "pipeline": pipeline}])
    with pytest.raises(ValueError, match="is not a pipeline name"):
        target_stack(pipeline_name=pipeline)


CHECKER = f"arn:aws:iam::{TOOLING}:role/ecs-cicd/delivery/pipeline/orders-delivery-check-staging-role-1a2b3c4"


def test_the_check_role_trusts_the_tooling_check_and_may_only_describe_the_services():
    run = target_stack([ORDERS], check_project_role_arn=CHECKER)
    check = next(r for r in run.of_type("aws:iam/role:Role") if "-check" in r.name)
    (trust,) = json.loads(check.inputs["assumeRolePolicy"])["Statement"]
    assert trust["Principal"] == {"AWS": CHECKER}
    statements = {s["Sid"]: s for s in policy_of(run, check.name)["Statement"]}
    assert statements["DescribeTheServices"]["Resource"] == [
        f"arn:aws:ecs:eu-west-1:{TARGET}:service/staging/orders-api"
    ]
    actions = {a for s in statements.values() for a in s["Action"]}
    assert actions == {"ecs:DescribeServices", "ecs:DescribeTaskDefinition"}
    with pytest.raises(ValueError, match="is not a role's ARN"):
        target_stack([ORDERS], check_project_role_arn=f"arn:aws:iam::{TOOLING}:root")
    assert not [r for r in target_stack([ORDERS]).of_type("aws:iam/role:Role") if "-check" in r.name]


def test_the_alert_addresses_are_checked_as_the_configs_are():
    with pytest.raises(ValueError, match=r"TargetAccountAccess staging-access: .*not-an-address"):
        target_stack([ORDERS], alert_emails=["not-an-address"])
