"""`ecs-cicd preflight` (issue 15): each cross-account deploy target checked against botocore stubs
of IAM and ECS, every failure named with what to add and where, nothing changed."""

import json

import pytest

from .ops_fixtures import Cli

PIPELINE_ROLE = "arn:aws:iam::111122223333:role/ecs-cicd/delivery/pipeline/orders-delivery-role"
TARGET_ROLE = "arn:aws:iam::444455556666:role/ecs-cicd/deploy/staging-access-deploy-1a2b3c4"
SERVICE_ARN = "arn:aws:ecs:eu-west-1:444455556666:service/staging/orders-api"
TARGET = f"name=staging,role={TARGET_ROLE},cluster=staging,service=orders-api,region=eu-west-1"
TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"AWS": PIPELINE_ROLE}, "Action": "sts:AssumeRole"}],
}
CREATED = "2026-11-30T10:00:00Z"
TARGET_ACCOUNT, TOOLING_ACCOUNT = "444455556666", "111122223333"
CLUSTER_ARN = "arn:aws:ecs:eu-west-1:444455556666:cluster/staging"


def identity(account: str) -> dict:
    return {"Account": account, "Arn": f"arn:aws:sts::{account}:assumed-role/readonly/alice", "UserId": "AROAX:alice"}


def decisions(*pairs: tuple[str, str]) -> dict:
    return {"EvaluationResults": [{"EvalActionName": action, "EvalDecision": decision} for action, decision in pairs]}


def role(trust: dict = TRUST) -> dict:
    return {
        "Role": {
            "Path": "/ecs-cicd/deploy/",
            "RoleName": TARGET_ROLE.rsplit("/", 1)[1],
            "RoleId": "AROAEXAMPLEEXAMPLE123",
            "Arn": TARGET_ROLE,
            "CreateDate": CREATED,
            "AssumeRolePolicyDocument": json.dumps(trust),
        }
    }


def service(status: str = "ACTIVE") -> dict:
    return {"services": [{"serviceArn": SERVICE_ARN, "serviceName": "orders-api", "status": status}], "failures": []}


def world(
    *,
    assume: str = "allowed",
    found: dict | None = None,
    missing_role: bool = False,
    deploy: tuple[str, str] = ("allowed", "allowed"),
    services: dict | None = None,
    tooling: bool = True,
) -> Cli:
    """The answers AWS gives, in the order preflight asks: the tooling account's simulation, then
    the target account's role, its simulation and the service."""
    cli = Cli()
    iam, ecs = cli.stub("iam"), cli.stub("ecs", "eu-west-1")
    if tooling:  # the tooling account's question, when the same credentials answer both
        iam.add_response(
            "simulate_principal_policy",
            decisions(("sts:AssumeRole", assume)),
            {"PolicySourceArn": PIPELINE_ROLE, "ActionNames": ["sts:AssumeRole"], "ResourceArns": [TARGET_ROLE]},
        )
    cli.stub("sts").add_response("get_caller_identity", identity(TARGET_ACCOUNT))
    if missing_role:
        iam.add_client_error("get_role", "NoSuchEntity", "The role cannot be found.", 404)
        return cli
    iam.add_response("get_role", found or role(), {"RoleName": TARGET_ROLE.rsplit("/", 1)[1]})
    iam.add_response(
        "simulate_principal_policy",
        decisions(("ecs:DescribeServices", deploy[0]), ("ecs:UpdateService", deploy[1])),
        {
            "PolicySourceArn": TARGET_ROLE,
            "ActionNames": ["ecs:DescribeServices", "ecs:UpdateService"],
            "ResourceArns": [SERVICE_ARN],
        },
    )
    ecs.add_response("describe_services", services or service(), {"cluster": CLUSTER_ARN, "services": ["orders-api"]})
    return cli


def preflight(cli: Cli, *targets: str) -> int:
    argv = ["preflight", "--pipeline-role", PIPELINE_ROLE]
    for target in targets or (TARGET,):
        argv += ["--target", target]
    return cli.run(*argv)


def test_a_ready_target_passes_and_nothing_is_changed():
    cli = world()
    assert preflight(cli) == 0
    assert "staging: ready" in cli.stdout and "1 of 1 targets ready." in cli.stdout
    cli.assert_all_calls_made()  # and no other call: a stub fails on any call it was not given


def test_the_pipeline_role_that_may_not_assume_the_target_role_is_named():
    cli = world(assume="implicitDeny")
    assert preflight(cli) == 1
    assert f"the pipeline's role {PIPELINE_ROLE} may not sts:AssumeRole on {TARGET_ROLE} (implicitDeny)" in cli.stdout


def test_a_missing_role_is_named_with_how_to_create_it():
    cli = world(missing_role=True)
    assert preflight(cli) == 1
    assert "does not exist in account 444455556666: create it there with TargetAccountAccess" in cli.stdout


def test_a_role_that_trusts_someone_else_is_named_with_whom_it_trusts():
    other = {**TRUST, "Statement": [{**TRUST["Statement"][0], "Principal": {"AWS": "arn:aws:iam::111122223333:root"}}]}
    cli = world(found=role(other))
    assert preflight(cli) == 1
    assert f"does not trust the pipeline's role {PIPELINE_ROLE} (it trusts: arn:aws:iam::111122223333:root)" in (
        cli.stdout
    )


def test_a_missing_permission_is_named_with_the_action_and_the_service():
    cli = world(deploy=("allowed", "explicitDeny"))
    assert preflight(cli) == 1
    assert f"may not ecs:UpdateService on {SERVICE_ARN} (explicitDeny)" in cli.stdout
    assert "ecs:DescribeServices on" not in cli.stdout


@pytest.mark.parametrize(
    "answer",
    [
        {"services": [], "failures": [{"arn": SERVICE_ARN, "reason": "MISSING"}]},
        service("INACTIVE"),
    ],
)
def test_a_missing_or_deleted_service_is_named(answer):
    cli = world(services=answer)
    assert preflight(cli) == 1
    assert "no ACTIVE service orders-api in cluster staging of account 444455556666 in eu-west-1" in cli.stdout


def test_what_cannot_be_read_is_named_with_the_call_and_how_to_read_it():
    cli = Cli()
    cli.stub("iam").add_response("simulate_principal_policy", decisions(("sts:AssumeRole", "allowed")))
    cli.stub("sts").add_response("get_caller_identity", identity(TARGET_ACCOUNT))
    cli.stub("iam").add_client_error(
        "get_role", "AccessDenied", "User: arn:aws:sts::444455556666:assumed-role/dev/alice is not authorized"
    )
    assert preflight(cli) == 1
    assert "cannot check in account 444455556666: access denied: your AWS identity is not allowed to call " in (
        cli.stdout
    )
    assert "iam:GetRole" in cli.stdout and "profile=<a profile that can read 444455556666>" in cli.stdout


@pytest.mark.parametrize(
    ("target", "error"),
    [
        ("name=staging,role=arn:aws:iam::444455556666:root,cluster=c,service=s", "is not an IAM role ARN"),
        (f"name=staging,role={TARGET_ROLE},cluster=c", "needs name, role, cluster and service"),
        (f"name=staging,role={TARGET_ROLE},cluster=c,service=s,colour=blue", "unknown: colour"),
        (f"name=staging,role={TARGET_ROLE},cluster=bad name,service=s", "is not an ECS cluster name"),
        (f"name=staging,role={TARGET_ROLE},cluster=c,service=s,region=mars", "is not an AWS region"),
    ],
)
def test_bad_targets_are_usage_errors_before_any_call(target, error):
    cli = Cli()
    assert preflight(cli, target) == 2
    assert error in cli.stderr


def test_every_target_is_checked_and_counted():
    cli = world(assume="implicitDeny")
    second = TARGET.replace("name=staging", "name=prod")
    # The second target's answers, after the first's.
    cli.stub("iam").add_response("simulate_principal_policy", decisions(("sts:AssumeRole", "allowed")))
    cli.stub("sts").add_response("get_caller_identity", identity(TARGET_ACCOUNT))
    cli.stub("iam").add_response("get_role", role())
    cli.stub("iam").add_response(
        "simulate_principal_policy", decisions(("ecs:DescribeServices", "allowed"), ("ecs:UpdateService", "allowed"))
    )
    cli.stub("ecs", "eu-west-1").add_response("describe_services", service())
    assert preflight(cli, TARGET, second) == 1
    assert "staging: NOT READY" in cli.stdout and "prod: ready" in cli.stdout
    assert "1 of 2 targets ready." in cli.stdout


def test_credentials_of_another_account_are_not_taken_for_the_targets():
    """IAM and ECS answer for the caller's own account: without profile=, the tooling account's
    credentials would look for the role and service in the tooling account."""
    cli = Cli()
    cli.stub("iam").add_response("simulate_principal_policy", decisions(("sts:AssumeRole", "allowed")))
    cli.stub("sts").add_response("get_caller_identity", identity(TOOLING_ACCOUNT))
    assert preflight(cli) == 1
    assert (
        f"cannot check in account {TARGET_ACCOUNT}: the credentials are account {TOOLING_ACCOUNT}'s; "
        f"give the target profile=<an AWS profile that can read {TARGET_ACCOUNT}>"
    ) in cli.stdout
    cli.assert_all_calls_made()


def test_a_targets_profile_reads_the_target_account(monkeypatch):
    """`profile=` gives the target account's checks their own credentials; the tooling account's
    question (may the pipeline's role assume the target role) stays with the tooling account's."""
    from ops.aws import Aws

    tooling, target = Cli(), world(tooling=False)
    tooling.stub("iam").add_response("simulate_principal_policy", decisions(("sts:AssumeRole", "allowed")))
    asked = []

    def elsewhere(self, profile):
        asked.append(profile)
        return target.aws if profile else self

    monkeypatch.setattr(Aws, "elsewhere", elsewhere)
    assert preflight(tooling, TARGET + ",profile=staging-readonly") == 0
    assert asked == ["staging-readonly"]
    tooling.assert_all_calls_made()
    target.assert_all_calls_made()


def test_a_profile_that_does_not_exist_is_named():
    cli = Cli()
    cli.stub("iam").add_response("simulate_principal_policy", decisions(("sts:AssumeRole", "allowed")))
    assert preflight(cli, TARGET + ",profile=no-such-profile-here") == 1
    assert "cannot check in account 444455556666: The config profile (no-such-profile-here) could not be found" in (
        cli.stdout
    )


def test_a_service_codedeploy_deploys_is_named():
    answer = service()
    answer["services"][0]["deploymentController"] = {"type": "CODE_DEPLOY"}
    cli = world(services=answer)
    assert preflight(cli) == 1
    assert "service orders-api is deployed by CODE_DEPLOY; the promotion deploys with the ECS action" in cli.stdout


def test_the_stacks_targets_are_checked_each_in_its_account_and_region(monkeypatch):
    """`--stack delivery`: the targets as `pulumi up` reads them from Pulumi.delivery.yaml (cluster
    defaults, prod's own region), each read with the profile given for it."""
    from components.settings import stack_settings
    from ops.aws import Aws

    settings = stack_settings("delivery")
    cli, asked = Cli(), []
    monkeypatch.setattr(Aws, "elsewhere", lambda self, profile: asked.append(profile) or self)
    for target in settings.promotion:
        region = target.region or settings.region
        trust = {**TRUST, "Statement": [{**TRUST["Statement"][0]}]}
        found = role(trust)
        found["Role"]["Arn"] = target.deploy_role_arn
        cli.stub("iam").add_response("simulate_principal_policy", decisions(("sts:AssumeRole", "allowed")))
        cli.stub("sts").add_response("get_caller_identity", identity(target.account))
        cli.stub("iam").add_response("get_role", found, {"RoleName": target.deploy_role_arn.rsplit("/", 1)[1]})
        cli.stub("iam").add_response(
            "simulate_principal_policy",
            decisions(("ecs:DescribeServices", "allowed"), ("ecs:UpdateService", "allowed")),
        )
        cluster = f"arn:aws:ecs:{region}:{target.account}:cluster/{target.cluster}"
        cli.stub("ecs", region).add_response(
            "describe_services", service(), {"cluster": cluster, "services": [target.service]}
        )
    code = cli.run("preflight", "--stack", "delivery", "--pipeline-role", PIPELINE_ROLE, "--profile", "prod=prod-ro")
    assert code == 0, cli.stdout + cli.stderr
    assert "3 of 3 targets ready." in cli.stdout
    assert asked == [None, None, "prod-ro"]
    cli.assert_all_calls_made()


@pytest.mark.parametrize(
    ("argv", "error"),
    [
        (["--stack", "delivery", "--target", TARGET], "give --target or --stack, not both"),
        ([], "give each target with --target, or --stack"),
        (["--stack", "delivery", "--profile", "qa=qa-ro"], "--profile: no target qa in the stack's promotion.targets"),
        (["--stack", "dev"], "the stack has no promotion.targets"),
        (["--target", TARGET, "--profile", "staging=ro"], "--profile goes with --stack"),
    ],
)
def test_where_the_targets_come_from_is_checked_before_any_call(argv, error):
    cli = Cli()
    assert cli.run("preflight", "--pipeline-role", PIPELINE_ROLE, *argv) == 2
    assert error in cli.stderr
