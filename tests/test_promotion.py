"""examples/promotion (issue 15): one build promoted by digest through a staging and a production
account, evaluated offline as the tooling account's stack; the target accounts' side is
tests/test_target_access.py, evaluated as their own accounts."""

import copy
import json
from functools import cache
from pathlib import Path

import pytest
import yaml

from components.testing import StackRun

from .helpers import policy_of, run_example

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "promotion"
CONFIG = yaml.safe_load((EXAMPLE / "Pulumi.delivery.yaml").read_text())["config"]
TARGETS = CONFIG["promotion:targets"]
PIPELINE = "aws:codepipeline/pipeline:Pipeline"


def evaluated(targets=TARGETS) -> StackRun:
    return run_example(EXAMPLE, {**copy.deepcopy(CONFIG), "promotion:targets": targets}, "delivery")


def test_one_pipeline_builds_once_and_promotes_through_the_accounts_in_order():
    stages = evaluated().one(PIPELINE).inputs["stages"]
    assert [s["name"] for s in stages] == ["Source", "Build", "Deploy-staging", "Approve-prod", "Deploy-prod"]
    assert [a["name"] for a in stages[2]["actions"]] == ["Service", "Check"]  # staging is checked after its deploy
    (build,) = [a for a in stages[1]["actions"] if a["name"] == "Image"]
    deploys = {s["name"]: s["actions"] for s in stages if s["name"].startswith("Deploy-")}
    for target in TARGETS:
        action = deploys[f"Deploy-{target['name']}"][0]
        # The one build's imagedefinitions.json (its digest) is what every environment deploys.
        assert action["inputArtifacts"] == build["outputArtifacts"]
        assert action["provider"] == "ECS" and action["roleArn"] == target["deployRoleArn"]
        assert action["configuration"]["ServiceName"] == target["service"]
    assert sum(1 for s in stages for a in s["actions"] if a["provider"] == "CodeBuild" and a["name"] == "Image") == 1


def test_the_pipeline_role_may_assume_exactly_the_target_deploy_roles():
    run = evaluated()
    pipeline = run.one(PIPELINE)
    role = next(r for r in run.of_type("aws:iam/role:Role") if r.inputs["arn"] == pipeline.inputs["roleArn"])
    statements = {s["Sid"]: s for s in policy_of(run, role.name)["Statement"]}
    assert statements["AssumeTargetAccountsDeployRoles"]["Resource"] == sorted(t["deployRoleArn"] for t in TARGETS)
    # No role of this pipeline deploys: the deploy actions run in their own accounts.
    assert "AssumeActionRoles" not in statements


def grants(run: StackRun) -> str:
    bucket = run.one("aws:s3/bucketPolicy:BucketPolicy").inputs["policy"]
    key = run.one("aws:kms/keyPolicy:KeyPolicy").inputs["policy"]
    pulls = run.one("aws:ecr/repositoryPolicy:RepositoryPolicy").inputs["policy"]
    return json.dumps([json.loads(bucket), json.loads(key), json.loads(pulls)])


def test_each_grant_names_exactly_the_configured_targets_and_removing_one_removes_its_grants():
    both = grants(evaluated())
    for target in TARGETS:
        assert target["deployRoleArn"] in both and target["executionRoles"][0] in both
    staging_only = grants(evaluated(TARGETS[:1]))
    assert TARGETS[1]["account"] not in staging_only
    assert TARGETS[0]["deployRoleArn"] in staging_only
    stages = [s["name"] for s in evaluated(TARGETS[:1]).one(PIPELINE).inputs["stages"]]
    assert stages == ["Source", "Build", "Deploy-staging"]


def test_production_waits_for_a_person_who_sees_the_digest():
    stages = {s["name"]: s for s in evaluated().one(PIPELINE).inputs["stages"]}
    (approve,) = stages["Approve-prod"]["actions"]
    assert approve["provider"] == "Manual"
    assert "#{BuildVariables.IMAGE_DIGEST}" in approve["configuration"]["CustomData"]


def test_the_plan_names_each_deploys_account():
    from components import plan_model

    (pipeline,) = plan_model.build(evaluated(), None)["pipelines"]
    targets = {s["name"]: s["actions"][0].get("target") for s in pipeline["stages"] if s["name"].startswith("Deploy-")}
    assert targets == {
        f"Deploy-{t['name']}": f"ECS service {t['service']} in cluster {t['cluster']} of account {t['account']}"
        for t in TARGETS
    }


def test_the_policy_pack_accepts_the_targets_only_when_they_are_configured():
    """Every foreign principal of the tooling stack is a configured target: the pack flags the
    target accounts until its trustedAccounts names them, and nothing else then."""
    from components.testing import MOCK_ACCOUNT_ID
    from policy import rules
    from policy.rules import StackResource

    run = evaluated()
    resources = [StackResource(r.type, copy.deepcopy(dict(r.inputs)), r.urn, r.name) for r in run.custom_resources()]
    targets = [t["account"] for t in TARGETS]
    flagged = " ".join(v.message for v in rules.check_principal_accounts(resources, trusted_accounts=[MOCK_ACCOUNT_ID]))
    assert all(account in flagged for account in targets)
    assert rules.check_principal_accounts(resources, trusted_accounts=[MOCK_ACCOUNT_ID, *targets]) == []


def test_a_checked_target_is_read_as_its_accounts_check_role_and_nothing_else():
    run = evaluated()
    (staging,) = [t for t in TARGETS if "checkRoleArn" in t]
    project = run.named("orders-delivery-check-staging-project").inputs
    variables = {v["name"]: v["value"] for v in project["environment"]["environmentVariables"]}
    assert variables["CHECK_ROLE_ARN"] == staging["checkRoleArn"]
    assert variables["SERVICE_URL"] == staging["healthCheckUrl"]
    statements = {s["Sid"]: s for s in policy_of(run, "orders-delivery-check-staging-role")["Statement"]}
    assert statements["ReadTheServiceAsItsAccountsCheckRole"]["Resource"] == [staging["checkRoleArn"]]
    assert not [s for s in statements.values() if any(a.startswith("ecs:") for a in s["Action"])]
    assert set(run.outputs["checkRoleArns"]) == {"staging"}


# -- the root program: `ecs-cicd:promotion` after the stack's own deploy -----------------------------

ROOT_TARGETS = [
    {
        "name": "staging",
        "account": "444455556666",
        "cluster": "staging",
        "service": "orders-api",
        "deployRoleArn": "arn:aws:iam::444455556666:role/ecs-cicd/deploy/staging-access-deploy",
        "executionRoleArns": ["arn:aws:iam::444455556666:role/orders-api-execution"],
        "requireApproval": False,
        "checkRoleArn": "arn:aws:iam::444455556666:role/ecs-cicd/deploy/staging-access-check",
    },
    {
        "name": "prod",
        "account": "777788889999",
        "cluster": "prod",
        "service": "orders-api",
        "deployRoleArn": "arn:aws:iam::777788889999:role/ecs-cicd/deploy/prod-access-deploy",
        "executionRoleArns": ["arn:aws:iam::777788889999:role/orders-api-execution"],
    },
]


def promoting(targets=ROOT_TARGETS) -> StackRun:
    return _promoting(json.dumps(targets))


@cache
def _promoting(targets: str) -> StackRun:
    """Evaluated once per set of targets (the harness is deterministic)."""
    from components.testing import run_stack

    return run_stack("dev", {"ecs-cicd:promotion": {"targets": json.loads(targets)}})


def test_the_program_promotes_the_digest_it_deployed_to_each_target_in_order():
    run = promoting()
    stages = run.one(PIPELINE).inputs["stages"]
    assert [(s["name"], [a["name"] for a in s["actions"]]) for s in stages] == [
        ("Source", ["Source"]),
        ("Build", ["Image", "Dependencies", "Code", "Secrets"]),
        ("Deploy", ["Service", "Check"]),
        ("Deploy-staging", ["Service", "Check"]),
        ("Approve-prod", ["Approve"]),
        ("Deploy-prod", ["Service"]),
    ]
    (image,) = [a for a in stages[1]["actions"] if a["name"] == "Image"]
    services = [a for s in stages if s["name"].startswith("Deploy") for a in s["actions"] if a["name"] == "Service"]
    assert all(a["inputArtifacts"] == image["outputArtifacts"] for a in services)  # one build, one digest
    assert [a.get("roleArn") for a in services[1:]] == [t["deployRoleArn"] for t in ROOT_TARGETS]
    pipeline_role = next(
        r for r in run.of_type("aws:iam/role:Role") if r.inputs["arn"] == run.one(PIPELINE).inputs["roleArn"]
    )
    assume = {s["Sid"]: s for s in policy_of(run, pipeline_role.name)["Statement"]}["AssumeTargetAccountsDeployRoles"]
    assert assume["Resource"] == sorted(t["deployRoleArn"] for t in ROOT_TARGETS)


def test_the_programs_grants_name_exactly_its_targets():
    run = promoting()
    bucket_arn = run.one("aws:s3/bucket:Bucket").inputs["arn"]
    bucket = json.loads(run.one("aws:s3/bucketPolicy:BucketPolicy").inputs["policy"])["Statement"]
    reads = sorted((s["Principal"]["AWS"], s["Resource"]) for s in bucket if s["Effect"] == "Allow")
    assert reads == sorted((t["deployRoleArn"], f"{bucket_arn}/orders-api-dev/*") for t in ROOT_TARGETS)
    key = {s["Sid"]: s for s in json.loads(run.one("aws:kms/keyPolicy:KeyPolicy").inputs["policy"])["Statement"]}
    assert key["TargetAccountsDeployRolesDecryptThroughS3"]["Principal"] == {
        "AWS": sorted(t["deployRoleArn"] for t in ROOT_TARGETS)
    }
    # The key's use stays limited to this stack's pipeline roles, as without promotion.
    assert key["OnlyThePipelineRolesUseIt"]["Condition"]["ArnLike"]["aws:PrincipalArn"].endswith("/pipeline/*")
    (pull,) = json.loads(run.one("aws:ecr/repositoryPolicy:RepositoryPolicy").inputs["policy"])["Statement"]
    assert pull["Principal"] == {"AWS": sorted(arn for t in ROOT_TARGETS for arn in t["executionRoleArns"])}
    staging_only = grants(promoting(ROOT_TARGETS[:1]))
    assert "777788889999" not in staging_only and ROOT_TARGETS[0]["deployRoleArn"] in staging_only
    plain = evaluated_stack("dev")
    assert not plain.of_type("aws:ecr/repositoryPolicy:RepositoryPolicy")
    assert "TargetAccounts" not in plain.one("aws:kms/keyPolicy:KeyPolicy").inputs["policy"]


def test_the_program_exports_what_the_target_accounts_need():
    outputs = promoting().outputs
    assert outputs["pipelineRoleArn"].startswith("arn:aws:iam::111122223333:role/")
    assert outputs["artifactKeyArn"].startswith("arn:aws:kms:") and outputs["artifactBucketArn"].startswith(
        "arn:aws:s3"
    )
    assert set(outputs["checkRoleArns"]) == {"staging"}  # the one target with a check


def test_the_targets_approvals_tell_the_approvers_and_the_plan_warns_when_no_one_is_told():
    from components import plan_model
    from components.settings import from_mapping, stack_config

    raw = {k.removeprefix("ecs-cicd:"): v for k, v in stack_config("dev").items() if k.startswith("ecs-cicd:")}
    told = {
        **raw,
        "promotion": {"targets": ROOT_TARGETS},
        "deploy": {**raw["deploy"], "approvalEmails": ["rel@example.com"]},
    }
    assert from_mapping(told, "dev", region="eu-west-1").services[0].deploy.approval_emails == ("rel@example.com",)
    silent = from_mapping({**raw, "promotion": {"targets": ROOT_TARGETS}}, "dev", region="eu-west-1")
    assert any("promotion to prod waits for approval without telling anyone" in w for w in plan_model.unheard(silent))


def evaluated_stack(stack: str) -> StackRun:
    from .helpers import evaluated as evaluated_root

    return evaluated_root(stack)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"executionRoleArns": ["arn:aws:iam::111122223333:role/x"]}, "is not in the target's account 444455556666"),
        ({"deployRoleArn": "arn:aws:iam::444455556666:root"}, "is not valid"),
        ({"name": "Staging"}, "is not valid"),
        ({"name": "prod", "requireApproval": False}, "which names production; allowed: true, or ecs-cicd:insecure"),
    ],
)
def test_a_target_that_is_wrong_is_refused_naming_its_key(override, message):
    from components.settings import SettingsError, from_mapping, stack_config

    raw = {k.removeprefix("ecs-cicd:"): v for k, v in stack_config("dev").items() if k.startswith("ecs-cicd:")}
    raw["promotion"] = {"targets": [{**ROOT_TARGETS[0], **override}]}
    with pytest.raises(SettingsError, match=r"ecs-cicd:promotion\.targets") as refused:
        from_mapping(raw, "dev", region="eu-west-1")
    assert message in str(refused.value)


def test_promotion_needs_one_service_and_a_repository_of_its_own():
    from components.settings import SettingsError, from_mapping, stack_config

    raw = {k.removeprefix("ecs-cicd:"): v for k, v in stack_config("dev").items() if k.startswith("ecs-cicd:")}
    raw["promotion"] = {"targets": ROOT_TARGETS}
    twice = {**raw, "promotion": {"targets": [ROOT_TARGETS[0], ROOT_TARGETS[0]]}}
    with pytest.raises(SettingsError, match="each target needs a name of its own"):
        from_mapping(twice, "dev", region="eu-west-1")
    several = {**raw, "services": [{"name": "api"}, {"name": "web"}]}
    with pytest.raises(SettingsError, match="a stack that promotes has one service, not 2"):
        from_mapping(several, "dev", region="eu-west-1")
    existing = {**raw, "build": {**raw.get("build", {}), "existingRepository": "team/orders-api"}}
    with pytest.raises(SettingsError, match=r"build\.existingRepository is its owner's"):
        from_mapping(existing, "dev", region="eu-west-1")


def test_the_plan_of_a_promoting_stack_names_each_targets_account_and_its_path():
    from components import plan_model
    from components.settings import from_mapping, stack_config

    raw = {k.removeprefix("ecs-cicd:"): v for k, v in stack_config("dev").items() if k.startswith("ecs-cicd:")}
    settings = from_mapping({**raw, "promotion": {"targets": ROOT_TARGETS}}, "dev", region="eu-west-1")
    (pipeline,) = plan_model.build(promoting(), settings)["pipelines"]
    targets = {s["name"]: s["actions"][0].get("target") for s in pipeline["stages"] if s["name"].startswith("Deploy-")}
    assert targets == {
        f"Deploy-{t['name']}": f"ECS service {t['service']} in cluster {t['cluster']} of account {t['account']}"
        for t in ROOT_TARGETS
    }
    steps = [f"{s['stage']}/{s['action']}" for s in pipeline["criticalPath"]["steps"]]
    assert steps[-4:] == [
        "Deploy-staging/Service",
        "Deploy-staging/Check",
        "Approve-prod/Approve",
        "Deploy-prod/Service",
    ]


def test_an_unapproved_production_target_needs_the_explicit_insecure_flag():
    from components.settings import from_mapping, stack_config

    raw = {k.removeprefix("ecs-cicd:"): v for k, v in stack_config("dev").items() if k.startswith("ecs-cicd:")}
    unapproved = {"targets": [{**ROOT_TARGETS[1], "requireApproval": False}]}
    settings = from_mapping(
        {**raw, "promotion": unapproved, "insecure": {"allowUnapprovedProdDeploys": True}}, "dev", region="eu-west-1"
    )
    assert settings.promotion[0].require_approval is False
