"""Pulumi.delivery.yaml (issue 15): the root program in a tooling account that deploys nothing there.
It builds and scans once, then promotes that digest through dev and staging (their own accounts)
and, after an approval, prod (its own account, in another region)."""

import copy
import json
from functools import cache

import pytest

from components.settings import SettingsError, from_mapping, stack_config
from components.testing import StackRun, run_stack

from .helpers import evaluated, policy_of

PIPELINE = "aws:codepipeline/pipeline:Pipeline"
BUCKET = "aws:s3/bucket:Bucket"
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
KEY_POLICY = "aws:kms/keyPolicy:KeyPolicy"
CONFIG = stack_config("delivery")
TARGETS = CONFIG["ecs-cicd:promotion"]["targets"]
HOME, OTHER = "eu-west-1", "eu-central-1"


def raw(config=CONFIG) -> dict:
    return copy.deepcopy({k.removeprefix("ecs-cicd:"): v for k, v in config.items() if k.startswith("ecs-cicd:")})


@cache
def _with_targets(targets: str) -> StackRun:
    approved = any(t.get("requireApproval", True) for t in json.loads(targets))
    return run_stack(
        "delivery",
        {
            "ecs-cicd:promotion": {"deployHere": False, "targets": json.loads(targets)},
            # Who is told of an approval, only where a target waits for one.
            "ecs-cicd:deploy": CONFIG["ecs-cicd:deploy"] if approved else {"timeoutMinutes": 20},
        },
    )


def with_targets(targets) -> StackRun:
    return _with_targets(json.dumps(targets))


def stages_of(run: StackRun) -> list[dict]:
    return run.one(PIPELINE).inputs["stages"]


def test_the_delivery_stack_is_one_pipeline_through_the_accounts_each_deploy_naming_its_account():
    stages = stages_of(evaluated("delivery"))
    assert [(s["name"], [a["name"] for a in s["actions"]]) for s in stages] == [
        ("Source", ["Source"]),
        ("Build", ["Image", "Dependencies", "Code", "Secrets", "Tests"]),
        ("Deploy-dev", ["Service"]),
        ("Deploy-staging", ["Service", "Check"]),
        ("Approve-prod", ["Approve"]),
        ("Deploy-prod", ["Service", "Check"]),
    ]
    (image,) = [a for a in stages[1]["actions"] if a["name"] == "Image"]
    deploys = {s["name"]: s["actions"][0] for s in stages if s["name"].startswith("Deploy-")}
    for target in TARGETS:
        action = deploys[f"Deploy-{target['name']}"]
        assert action["inputArtifacts"] == image["outputArtifacts"]  # one build, one digest, everywhere
        assert action["roleArn"] == target["deployRoleArn"] and action["roleArn"].split(":")[4] == target["account"]
        # Prod names no cluster: the stack's service.cluster.
        assert action["configuration"]["ClusterName"] == target.get("cluster", CONFIG["ecs-cicd:service"]["cluster"])
        assert action["configuration"]["ServiceName"] == "orders-api"  # the stack's service name, by default
        assert action.get("region") == target.get("region")  # prod's region; the pipeline's for the others
    # Each check verifies the digest this execution built, in its target's region.
    for stage in ("Deploy-staging", "Deploy-prod"):
        (check,) = [a for s in stages if s["name"] == stage for a in s["actions"] if a["name"] == "Check"]
        expected = json.loads(check["configuration"]["EnvironmentVariables"])
        assert expected == [
            {"name": "EXPECTED_IMAGE", "value": f"#{{{image['namespace']}.IMAGE_URI}}", "type": "PLAINTEXT"}
        ]


def test_nothing_of_this_account_is_deployed_read_or_watched():
    run = evaluated("delivery")
    assert not any(token.startswith("aws:ecs/") for token in run.invokes)  # no service read here
    assert not run.of_type("aws:ecs/service:Service") and not run.of_type("aws:ecs/taskDefinition:TaskDefinition")
    rules = {r.name for r in run.of_type("aws:cloudwatch/eventRule:EventRule")}
    assert not any("service-bypass" in name for name in rules)  # each target account watches its own
    assert any("service-bypass" in r.name for r in evaluated("dev").of_type("aws:cloudwatch/eventRule:EventRule"))
    roles = {r.name for r in run.of_type("aws:iam/role:Role")}
    assert not any("-deploy-service-role" in name for name in roles)  # no deploy role of this account


def region_of(run: StackRun, resource) -> str:
    """Where a resource is made: its explicit provider's region, else the stack's."""
    if not resource.provider:
        return HOME
    urn = resource.provider.rsplit("::", 1)[0]
    return next(r for r in run.resources if r.urn == urn).inputs["region"]


def test_a_target_in_another_region_gets_an_artifact_store_there_that_only_it_reads():
    run = evaluated("delivery")
    pipeline = run.one(PIPELINE)
    stores = {s["region"]: s for s in pipeline.inputs["artifactStores"]}
    assert set(stores) == {HOME, OTHER}  # every store names its region in a cross-region pipeline
    buckets = {region_of(run, b): b for b in run.of_type(BUCKET)}
    # "You must create the artifact bucket and encryption key in the same AWS Region as the
    # cross-Region action" (CodePipeline user guide, actions-create-cross-region.html): everything
    # of that store is made through that region's provider.
    regional = [
        r
        for r in run.resources
        if r.custom
        and r.parent_name == "orders-api-delivery-artifacts-eu-central-1"
        and r.type != "pulumi:providers:aws"
    ]
    assert len(regional) >= 10 and {region_of(run, r) for r in regional} == {OTHER}
    assert {region: s["location"] for region, s in stores.items()} == {
        r: b.inputs["bucket"] for r, b in buckets.items()
    }
    policies = {p.inputs["bucket"]: json.loads(p.inputs["policy"]) for p in run.of_type(BUCKET_POLICY)}
    prod = next(t for t in TARGETS if t.get("region") == OTHER)
    for region, bucket in buckets.items():
        readers = sorted(
            s["Principal"]["AWS"]
            for s in policies[f"{bucket.inputs['bucket']}-id"]["Statement"]
            if s["Effect"] == "Allow"
        )
        here = [t["deployRoleArn"] for t in TARGETS if t.get("region", HOME) == region]
        assert readers == sorted(here)
    # The key there lets the prod deploy role decrypt through S3 of that region only.
    key = next(k for k in run.of_type(KEY_POLICY) if OTHER in k.name)
    statements = {s["Sid"]: s for s in json.loads(key.inputs["policy"])["Statement"]}
    through_s3 = statements["TargetAccountsDeployRolesDecryptThroughS3"]
    assert through_s3["Principal"] == {"AWS": [prod["deployRoleArn"]]}
    assert through_s3["Condition"]["StringEquals"]["kms:ViaService"] == f"s3.{OTHER}.amazonaws.com"
    # The pipeline role writes there (CodePipeline copies the artifacts), and the SCP protects both buckets.
    role = next(r for r in run.of_type("aws:iam/role:Role") if r.inputs["arn"] == pipeline.inputs["roleArn"])
    document = json.dumps(policy_of(run, role.name))
    assert all(b.inputs["arn"] in document for b in buckets.values())
    scp = json.loads(run.outputs["scpDocument"])
    (protects,) = [s for s in scp["Statement"] if s["Sid"] == "OnlyTheDeployerChangesTheArtifactBucket"]
    assert sorted(protects["Resource"]) == sorted(b.inputs["arn"] for b in buckets.values())
    # What prod's TargetAccountAccess needs: the store of its region.
    assert run.outputs["regionalArtifactStores"] == {
        OTHER: {"bucketArn": buckets[OTHER].inputs["arn"], "keyArn": stores[OTHER]["encryptionKey"]["id"]}
    }


def test_the_check_of_a_target_in_another_region_reads_the_service_there():
    run = evaluated("delivery")
    project = run.one("aws:codebuild/project:Project", "orders-api-delivery-prod-check-project")
    variables = {v["name"]: v["value"] for v in project.inputs["environment"]["environmentVariables"]}
    assert variables["ECS_REGION"] == OTHER
    staging = run.one("aws:codebuild/project:Project", "orders-api-delivery-staging-check-project")
    assert "ECS_REGION" not in {v["name"] for v in staging.inputs["environment"]["environmentVariables"]}


def test_removing_the_other_region_target_removes_its_store_and_its_grants():
    # The last target of a production stack waits for a person: staging, once prod is gone.
    run = with_targets([*TARGETS[:1], {**TARGETS[1], "requireApproval": True}])
    assert [region_of(run, b) for b in run.of_type(BUCKET)] == [HOME]
    assert all("region" not in s for s in run.one(PIPELINE).inputs["artifactStores"])  # a single-region pipeline
    assert "777788889999" not in json.dumps([r.inputs for r in run.resources])
    assert run.outputs["regionalArtifactStores"] == {}


def test_a_stack_whose_targets_all_live_elsewhere_still_limits_its_home_key():
    """With no reader in the home region, the home store writes no key policy itself: the program does."""
    everywhere_else = [{**t, "region": OTHER} for t in TARGETS]
    run = with_targets(everywhere_else)
    home = next(k for k in run.of_type(KEY_POLICY) if OTHER not in k.name)
    statements = {s["Sid"] for s in json.loads(home.inputs["policy"])["Statement"]}
    assert "OnlyThePipelineRolesUseIt" in statements and "TargetAccountsDeployRolesDecryptThroughS3" not in statements


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"promotion": {"deployHere": False}}, "ecs-cicd:promotion.deployHere does not apply here"),
        (
            {"deploy": {"strategy": "blue-green"}},
            "ecs-cicd:deploy.strategy does not apply here: this stack deploys nothing",
        ),
        ({"deploy": {"requireApproval": True}}, "ecs-cicd:deploy.requireApproval does not apply here"),
        ({"deploy": {"healthCheckUrl": "https://x.example.com/"}}, "ecs-cicd:deploy.healthCheckUrl does not apply"),
        ({"service": {"create": True}}, "ecs-cicd:service.create does not apply here"),
        ({"source": {"tags": ["v*"]}}, "needs promotion.targets[0].requireApproval: true"),
        (
            {"promotion": {"targets": [{"region": "cn-north-1"}]}},
            "is in partition aws-cn, the stack's region eu-west-1",
        ),
        ({"promotion": {"targets": [{"region": "eu-west-9x"}]}}, "ecs-cicd:promotion.targets[0].region"),
    ],
)
def test_what_a_stack_that_only_builds_cannot_mean_is_refused_naming_the_key(change, message):
    values = raw()
    for key, value in change.items():
        if key == "promotion" and "targets" in value:
            values["promotion"]["targets"][0].update(value["targets"][0])
        elif key == "promotion":
            values["promotion"] = {**value}  # no targets
        else:
            values[key] = {**values.get(key, {}), **value}
    with pytest.raises(SettingsError) as refused:
        from_mapping(values, "delivery", region=HOME)
    assert message in str(refused.value)


def test_targets_take_the_stacks_service_names_unless_they_name_their_own():
    settings = from_mapping(raw(), "delivery", region=HOME)
    assert [(t.cluster, t.service) for t in settings.promotion] == [
        (t.get("cluster", "orders"), "orders-api") for t in TARGETS
    ]
    assert [t.region for t in settings.promotion] == [t.get("region") for t in TARGETS]
    values = raw()
    for target in values["promotion"]["targets"]:
        target.pop("cluster", None)
        target["region"] = HOME  # the stack's own region is no other region
    settings = from_mapping(values, "delivery", region=HOME)
    assert {(t.cluster, t.region) for t in settings.promotion} == {("orders", None)}
    assert not settings.deploy_here


def test_a_production_stack_that_deploys_nothing_itself_approves_its_last_target_whatever_its_name():
    """Its own deploy would have waited for a person; its last target does instead, even when its
    name does not say production, unless the explicit insecure flag says otherwise."""
    values = raw()
    last = values["promotion"]["targets"][-1]
    last.update(name="customers", requireApproval=False)
    values["deploy"].pop("approvalEmails")
    with pytest.raises(SettingsError) as refused:
        from_mapping(values, "delivery", region=HOME)
    assert (
        "ecs-cicd:promotion.targets[2].requireApproval = False for 'customers', the last target of a production "
        "stack that deploys nothing itself"
    ) in str(refused.value)
    allowed = from_mapping({**values, "insecure": {"allowUnapprovedProdDeploys": True}}, "delivery", region=HOME)
    assert not allowed.promotion[-1].require_approval
    # Not production: the stack says so, and nothing is asked.
    assert from_mapping({**values, "production": False}, "delivery", region=HOME).promotion[-1].name == "customers"


def test_the_other_regions_store_is_made_with_the_stacks_account_and_credentials():
    """Its provider takes the stack's `aws:*` account settings: without them it would fall back to
    whatever credentials the environment holds, and could make the store in another account."""
    assume = [{"roleArn": "arn:aws:iam::111122223333:role/deployer", "sessionName": "pulumi"}]
    run = run_stack(
        "delivery",
        {"aws:profile": "tooling", "aws:allowedAccountIds": ["111122223333"], "aws:assumeRoles": assume},
    )
    providers = {p.name: p.inputs for p in run.of_type("pulumi:providers:aws")}
    regional = providers["orders-api-delivery-artifacts-eu-central-1-provider"]
    assert regional["region"] == OTHER
    assert regional["profile"] == "tooling"
    assert json.loads(regional["allowedAccountIds"]) == ["111122223333"]
    assert json.loads(regional["assumeRoles"])[0]["roleArn"] == assume[0]["roleArn"]
    assert json.loads(regional["defaultTags"])["tags"]["environment"] == "delivery"
