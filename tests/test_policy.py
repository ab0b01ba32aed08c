"""The CrossGuard policy pack in policy/: the recorded stacks comply, every policy rejects a bad
example, unknown (preview) values are skipped, and the pack registers exactly the registry's policies.

No test here builds a real PolicyPack: that would start the analyzer's gRPC server."""

import copy
import json
import runpy
import subprocess
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from components.testing import RecordedResource, StackRun, run_stack
from policy import registry, rules
from policy.rules import StackResource

from .helpers import evaluated

REPO = Path(__file__).resolve().parent.parent
POLICY_DIR = REPO / "policy"
STACKS = ("delivery", "dev", "staging", "prod")
SPECS = {spec.name: spec for spec in registry.POLICIES}
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"  # the engine's "unknown string" placeholder

BUCKET = "aws:s3/bucket:Bucket"
PUBLIC_ACCESS = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
ENCRYPTION = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
VERSIONING = "aws:s3/bucketVersioning:BucketVersioning"
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
KEY = "aws:kms/key:Key"
PROJECT = "aws:codebuild/project:Project"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
REPOSITORY = "aws:ecr/repository:Repository"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
PIPELINE = "aws:codepipeline/pipeline:Pipeline"
TOPIC = "aws:sns/topic:Topic"

# Made-up credentials, assembled so that secret scanners do not flag this file.
FAKE_ACCESS_KEY = "AKIA" + "Q7XZ" * 4
FAKE_GITHUB_TOKEN = "ghp_" + "aB3dE5" * 6
FAKE_PRIVATE_KEY = "-----BEGIN " + "RSA PRIVATE KEY-----\nMIIEow...\n-----END RSA PRIVATE KEY-----"


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


@cache
def recorded(stack: str) -> StackRun:
    return evaluated(stack)  # shared with the other test modules: each stack is evaluated once


def custom_resources(stack: str) -> list[RecordedResource]:
    return [r for r in recorded(stack).resources if r.custom]


def harness_id(resource: RecordedResource) -> str | None:
    """The provider id the offline harness gave a bucket, which its companions' `bucket` inputs hold.

    The engine does not send ids to policies and the harness does not record them, but its mocks
    derive every id as `<physical name>-id` (components/testing.py), and a bucket's physical name is
    its `bucket` output. Other resources need no id."""
    return f"{resource.inputs['bucket']}-id" if resource.type == BUCKET else None


def stack_resources(stack: str, *, with_ids: bool = True) -> list[StackResource]:
    return [
        StackResource(r.type, copy.deepcopy(dict(r.inputs)), r.urn, r.name, id=harness_id(r) if with_ids else None)
        for r in custom_resources(stack)
    ]


def inputs_of(stack: str, type_: str, suffix: str) -> dict[str, Any]:
    """A deep copy of the inputs of the recorded resource `orders-api-<stack>-<suffix>` of `type_`."""
    name = f"orders-api-{stack}-{suffix}"
    found = [r for r in custom_resources(stack) if r.type == type_ and r.name == name]
    assert len(found) == 1, f"expected one {type_} named {name}, found {len(found)}"
    return copy.deepcopy(dict(found[0].inputs))


def stage(pipeline: dict[str, Any], name: str) -> dict[str, Any]:
    return next(s for s in pipeline["stages"] if s["name"] == name)


def without_stage(pipeline: dict[str, Any], name: str) -> list[dict[str, Any]]:
    return [s for s in pipeline["stages"] if s["name"] != name]


def pack_config(stack: str) -> dict[str, Any]:
    """The pack's configuration for a stack, as CI hands it over (`policyPackConfigs`)."""
    return json.loads((POLICY_DIR / "config" / f"{stack}.json").read_text())


def evaluate(stack_items: list[StackResource], config: dict[str, Any] | None = None) -> dict[str, list[str]]:
    """Every registered policy's messages for these resources, with the pack configured as `config`."""
    found: dict[str, list[str]] = {}
    for spec in registry.POLICIES:
        given = (config or {}).get(spec.name, {})
        options = {registry.snake_case(name): given[name] for name in spec.config if name in given}
        if spec.kind == "stack":
            found[spec.name] = [v.message for v in spec.check(stack_items, **options)]
        else:
            found[spec.name] = [m for r in stack_items for m in spec.check(r.resource_type, r.props, **options)]
    return found


def check(policy: str, type_: str, props: dict[str, Any]) -> list[str]:
    spec = SPECS[policy]
    assert spec.kind == "resource"
    return spec.check(type_, props)


def only(messages: list[str], *fragments: str) -> str:
    """The single message, which must contain every fragment."""
    assert len(messages) == 1, messages
    for fragment in fragments:
        assert fragment in messages[0], (fragment, messages[0])
    return messages[0]


def replace(stack: list[StackResource], type_: str, props: dict[str, Any] | None) -> list[StackResource]:
    """The stack with the one resource of `type_` given new props (or dropped, when None)."""
    assert sum(r.resource_type == type_ for r in stack) == 1
    if props is None:
        return [r for r in stack if r.resource_type != type_]
    return [
        StackResource(r.resource_type, props, r.urn, r.name, r.id) if r.resource_type == type_ else r for r in stack
    ]


def props_of(stack: list[StackResource], type_: str) -> dict[str, Any]:
    return copy.deepcopy(dict(next(r.props for r in stack if r.resource_type == type_)))


def s3_messages(stack: list[StackResource]) -> list[str]:
    return [v.message for v in rules.check_s3_artifact_buckets(stack)]


def policy_json(statements: list[dict[str, Any]]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": statements})


def with_statement(props: dict[str, Any], statement: dict[str, Any]) -> dict[str, Any]:
    document = json.loads(props["policy"])
    document["Statement"].append(statement)
    return {**props, "policy": json.dumps(document)}


def leaves_unknown(value: Any) -> Any:
    """The value with every scalar replaced by the engine's unknown placeholder."""
    if isinstance(value, dict):
        return {key: leaves_unknown(item) for key, item in value.items()}
    if isinstance(value, list):
        return [leaves_unknown(item) for item in value]
    return UNKNOWN


# --------------------------------------------------------------------------------------------
# (a) The recorded stacks comply
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("stack", STACKS)
def test_recorded_stack_passes_every_policy(stack):
    assert evaluate(stack_resources(stack), pack_config(stack)) == {spec.name: [] for spec in registry.POLICIES}


def test_each_stack_has_the_pack_configuration_ci_hands_over():
    assert sorted(p.stem for p in (POLICY_DIR / "config").glob("*.json")) == sorted(STACKS)


def test_the_delivery_stack_lets_in_exactly_its_targets_accounts():
    """The tooling stack's grants name the target accounts and nothing else: without the pack's
    trustedAccounts each target is flagged, with them nothing is, and a target the configuration
    does not trust stays flagged."""
    resources = stack_resources("delivery")
    targets = pack_config("delivery")["principals-in-known-accounts"]["trustedAccounts"]
    flagged = " ".join(evaluate(resources)["principals-in-known-accounts"])
    assert all(account in flagged for account in targets)
    for account in targets:
        trusted = [a for a in targets if a != account]
        config = {"principals-in-known-accounts": {"trustedAccounts": trusted}}
        (message, *more) = evaluate(resources, config)["principals-in-known-accounts"]
        assert account in message and all(account in m for m in more)


def test_a_created_service_on_blue_green_passes_every_policy():
    run = run_stack("staging", {"ecs-cicd:deploy": {"strategy": "blue-green"}})
    resources = [
        StackResource(r.type, copy.deepcopy(dict(r.inputs)), r.urn, r.name, id=harness_id(r))
        for r in run.resources
        if r.custom
    ]
    assert "aws:lb/listenerRule:ListenerRule" in {r.type for r in run.resources}  # ECS's own blue/green
    assert evaluate(resources) == {spec.name: [] for spec in registry.POLICIES}


@pytest.mark.parametrize("stack", STACKS)
def test_recorded_stacks_contain_what_the_policies_inspect(stack):
    # Compliance is not vacuous: the stacks hold the resource types the policies are about.
    types = {r.type for r in custom_resources(stack)}
    assert {BUCKET, PUBLIC_ACCESS, ENCRYPTION, VERSIONING, BUCKET_POLICY, KEY, PROJECT} <= types
    assert {LOG_GROUP, REPOSITORY, ROLE, ROLE_POLICY, PIPELINE} <= types


@pytest.mark.parametrize("stack", STACKS)
def test_bucket_companions_are_related_by_bucket_id(stack):
    # Without the ids the companions' `bucket` inputs point nowhere, and the bucket lacks them all.
    messages = s3_messages(stack_resources(stack, with_ids=False))
    buckets = sum(r.resource_type == BUCKET for r in stack_resources(stack))
    assert len(messages) == 4 * buckets
    assert all(" has no " in message for message in messages)


# --------------------------------------------------------------------------------------------
# (b) Each policy rejects a bad example
# --------------------------------------------------------------------------------------------

# s3-artifact-bucket-hardened ------------------------------------------------------------------


def test_s3_bucket_without_public_access_block():
    message = only(s3_messages(replace(stack_resources("prod"), PUBLIC_ACCESS, None)), "has no public access block")
    assert "orders-api-prod-artifacts-bucket" in message


def test_s3_public_access_block_must_set_every_flag():
    stack = stack_resources("dev")
    props = props_of(stack, PUBLIC_ACCESS)
    props["blockPublicPolicy"] = False
    del props["restrictPublicBuckets"]
    messages = s3_messages(replace(stack, PUBLIC_ACCESS, props))
    assert len(messages) == 2
    assert "does not set blockPublicPolicy to true" in messages[0]
    assert "does not set restrictPublicBuckets to true" in messages[1]


def test_s3_encryption_must_be_kms_with_a_key():
    stack = stack_resources("staging")
    props = props_of(stack, ENCRYPTION)
    props["rules"][0]["applyServerSideEncryptionByDefault"] = {"sseAlgorithm": "AES256"}
    messages = s3_messages(replace(stack, ENCRYPTION, props))
    assert len(messages) == 2
    assert "uses 'AES256'" in messages[0]
    assert "names no kmsMasterKeyId" in messages[1]
    only(s3_messages(replace(stack, ENCRYPTION, None)), "has no default encryption configuration")


def test_s3_versioning_must_be_enabled():
    stack = stack_resources("prod")
    props = props_of(stack, VERSIONING)
    props["versioningConfiguration"]["status"] = "Suspended"
    only(s3_messages(replace(stack, VERSIONING, props)), "versioning status is 'Suspended'")


def test_s3_bucket_policy_must_deny_insecure_transport():
    stack = stack_resources("prod")
    props = props_of(stack, BUCKET_POLICY)
    document = json.loads(props["policy"])
    document["Statement"][0]["Condition"]["Bool"]["aws:SecureTransport"] = "true"
    only(s3_messages(replace(stack, BUCKET_POLICY, {**props, "policy": json.dumps(document)})), "has no Deny")
    only(s3_messages(replace(stack, BUCKET_POLICY, None)), "has no bucket policy")


def test_s3_tls_deny_must_cover_bucket_and_objects():
    stack = stack_resources("dev")
    props = props_of(stack, BUCKET_POLICY)
    document = json.loads(props["policy"])
    document["Statement"][0]["Resource"] = [r for r in document["Statement"][0]["Resource"] if r.endswith("/*")]
    only(s3_messages(replace(stack, BUCKET_POLICY, {**props, "policy": json.dumps(document)})), "must cover both")


def test_s3_second_bucket_without_companions_is_reported_on_its_own_urn():
    stack = stack_resources("dev")
    extra = StackResource(BUCKET, {"bucket": "scratch-1234567"}, "urn:pulumi:dev::ecs-cicd::aws:s3/bucket:Bucket::x")
    violations = rules.check_s3_artifact_buckets([*stack, extra])
    assert len(violations) == 4
    assert {v.urn for v in violations} == {extra.urn}
    assert all("'scratch-1234567' has no" in v.message for v in violations)


def test_s3_accepts_plain_tuples():
    stack = [(r.type, dict(r.inputs), r.urn, harness_id(r)) for r in custom_resources("prod")]
    assert rules.check_s3_artifact_buckets(stack) == []
    assert len(rules.check_s3_artifact_buckets([t[:3] for t in stack])) == 4


def test_s3_unknown_bucket_references_cannot_tell():
    # A preview of a new bucket: every companion's `bucket` input (the bucket's id) is unknown.
    stack = [
        StackResource(r.resource_type, {**r.props, "bucket": UNKNOWN}, r.urn, r.name)
        if r.resource_type != BUCKET and "bucket" in r.props
        else r
        for r in stack_resources("prod", with_ids=False)
    ]
    assert rules.check_s3_artifact_buckets(stack) == []


def test_s3_property_dependencies_relate_companions_in_a_preview():
    stack = stack_resources("prod", with_ids=False)
    bucket_urn = next(r.urn for r in stack if r.resource_type == BUCKET)
    previewed = []
    for r in stack:
        if r.resource_type != BUCKET and "bucket" in r.props:
            props = {**r.props, "bucket": UNKNOWN}
            if r.resource_type == PUBLIC_ACCESS:
                props["ignorePublicAcls"] = False
            r = StackResource(r.resource_type, props, r.urn, r.name, property_dependencies={"bucket": (bucket_urn,)})
        previewed.append(r)
    violations = rules.check_s3_artifact_buckets(previewed)
    assert [v.message.rsplit(": ", 1)[-1] for v in violations] == [
        "public access block does not set ignorePublicAcls to true"
    ]
    assert violations[0].urn.endswith("::orders-api-prod-artifacts-public-access")


# kms-key-rotation -----------------------------------------------------------------------------


def test_kms_key_must_rotate():
    props = inputs_of("prod", KEY, "artifacts-key")
    props["enableKeyRotation"] = False
    only(check("kms-key-rotation", KEY, props), "enableKeyRotation")
    del props["enableKeyRotation"]
    only(check("kms-key-rotation", KEY, props), "enableKeyRotation")
    assert check("kms-key-rotation", KEY, {**props, "enableKeyRotation": UNKNOWN}) == []
    # Asymmetric keys cannot rotate, so the policy does not ask them to.
    assert check("kms-key-rotation", KEY, {**props, "customerMasterKeySpec": "ECC_NIST_P256"}) == []


# codebuild-privileged-only-for-image-builds ---------------------------------------------------


def test_privileged_project_must_be_an_image_build():
    # The exemption is the buildspec that runs, not a variable any project can carry: a scan project
    # given REPOSITORY_URI, or the image build with one command more, is not the image build.
    props = inputs_of("staging", PROJECT, "scan-sast-project")
    props["environment"]["privilegedMode"] = True
    props["environment"]["environmentVariables"].append({"name": "REPOSITORY_URI", "value": "x", "type": "PLAINTEXT"})
    only(check("codebuild-privileged-only-for-image-builds", PROJECT, props), "privilegedMode", "approved")
    props = inputs_of("staging", PROJECT, "build-project")
    assert check("codebuild-privileged-only-for-image-builds", PROJECT, props) == []
    props["source"]["buildspec"] += "\n# one line more\n"
    only(check("codebuild-privileged-only-for-image-builds", PROJECT, props), "privilegedMode", "approved")
    props["environment"]["privilegedMode"] = False
    assert check("codebuild-privileged-only-for-image-builds", PROJECT, props) == []


def test_the_pack_approves_exactly_the_image_buildspec_it_ships():
    import hashlib

    from components import buildspecs

    digest = hashlib.sha256(buildspecs.load("build-image").encode()).hexdigest()
    assert rules.PRIVILEGED_BUILDSPECS == {digest: "buildspecs/build-image.yml"}


# codebuild-buildspec-embedded -----------------------------------------------------------------


def test_buildspec_must_not_be_a_repository_file():
    props = inputs_of("dev", PROJECT, "build-project")
    props["source"]["buildspec"] = "ci/buildspec.yml"
    only(check("codebuild-buildspec-embedded", PROJECT, props), "is a file path", "'ci/buildspec.yml'")
    del props["source"]["buildspec"]
    only(check("codebuild-buildspec-embedded", PROJECT, props), "no inline source.buildspec")
    props["source"]["buildspec"] = "version: 0.2\nenv:\n  shell: bash\n"
    only(check("codebuild-buildspec-embedded", PROJECT, props), "no top-level version: and phases:")


def test_buildspec_source_must_be_codepipeline():
    props = inputs_of("prod", PROJECT, "build-project")
    props["source"]["type"] = "GITHUB"
    only(check("codebuild-buildspec-embedded", PROJECT, props), "source.type is 'GITHUB'")


# no-plaintext-secrets ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("variable", "fragment"),
    [
        ({"name": "DB_PASSWORD", "value": "hunter2", "type": "PLAINTEXT"}, "'DB_PASSWORD' is PLAINTEXT"),
        ({"name": "GITHUB_TOKEN", "value": "x"}, "'GITHUB_TOKEN' is PLAINTEXT"),
        ({"name": "NpmApiKey", "value": "x", "type": "PLAINTEXT"}, "'NpmApiKey' is PLAINTEXT"),
        ({"name": "UPLOAD_AS", "value": FAKE_ACCESS_KEY, "type": "PLAINTEXT"}, "looks like an AWS access key id"),
        ({"name": "CLONE_WITH", "value": FAKE_GITHUB_TOKEN}, "looks like a GitHub token"),
        ({"name": "SIGNER", "value": FAKE_PRIVATE_KEY, "type": "PLAINTEXT"}, "looks like a private key"),
        ({"name": "DATABASE_URL", "value": "postgres://app:s3cr3t@db:5432/app"}, "looks like a URL with a password"),
    ],
)
def test_plaintext_secrets_are_rejected(variable, fragment):
    props = inputs_of("dev", PROJECT, "build-project")
    props["environment"]["environmentVariables"].append(variable)
    message = only(check("no-plaintext-secrets", PROJECT, props), fragment)
    assert variable["value"] not in message  # the report never repeats the secret


def test_secret_references_are_fine():
    props = inputs_of("dev", PROJECT, "build-project")
    props["environment"]["environmentVariables"] += [
        {
            "name": "DB_PASSWORD",
            "value": "arn:aws:secretsmanager:eu-west-1:111122223333:secret:db",
            "type": "SECRETS_MANAGER",
        },
        {"name": "API_KEY", "value": "/dev/api-key", "type": "PARAMETER_STORE"},
    ]
    assert check("no-plaintext-secrets", PROJECT, props) == []


def test_pipeline_codebuild_action_variables_are_checked_too():
    props = inputs_of("staging", PIPELINE, "pipeline")
    action = next(a for a in stage(props, "Build")["actions"] if a["name"] == "Image")
    variables = json.loads(action["configuration"]["EnvironmentVariables"])
    variables.append({"name": "DEPLOY_TOKEN", "value": "abc", "type": "PLAINTEXT"})
    action["configuration"]["EnvironmentVariables"] = json.dumps(variables)
    only(check("no-plaintext-secrets", PIPELINE, props), "pipeline action Build/Image", "'DEPLOY_TOKEN'")


# codebuild-encrypted-and-logged ---------------------------------------------------------------


def test_codebuild_must_be_encrypted_and_logged():
    props = inputs_of("prod", PROJECT, "build-project")
    del props["encryptionKey"]
    props["logsConfig"]["cloudwatchLogs"]["status"] = "DISABLED"
    messages = check("codebuild-encrypted-and-logged", PROJECT, props)
    assert len(messages) == 2
    assert "no encryptionKey" in messages[0]
    assert "'DISABLED', not 'ENABLED'" in messages[1]


# log-groups-retained-and-encrypted --------------------------------------------------------------------------


@pytest.mark.parametrize("retention", [0.0, None])
def test_log_group_must_expire(retention):
    props = inputs_of("dev", LOG_GROUP, "build-logs")
    props["retentionInDays"] = retention
    only(check("log-groups-retained-and-encrypted", LOG_GROUP, props), "retentionInDays")


@pytest.mark.parametrize("suffix", ["build-logs", "service-task-logs"])
def test_log_groups_are_encrypted_with_the_logs_key(suffix):
    props = inputs_of("staging", LOG_GROUP, suffix)
    key = inputs_of("staging", KEY, "artifacts-logs-key")
    assert props["kmsKeyId"] == key["arn"]
    assert check("log-groups-retained-and-encrypted", LOG_GROUP, props) == []
    del props["kmsKeyId"]
    only(check("log-groups-retained-and-encrypted", LOG_GROUP, props), "no kmsKeyId")
    props["kmsKeyId"] = "alias/aws/logs"
    only(check("log-groups-retained-and-encrypted", LOG_GROUP, props), "AWS-managed key")


def test_the_logs_key_lets_cloudwatch_logs_of_this_account_and_region_only():
    key = inputs_of("staging", KEY, "artifacts-logs-key")
    assert key["enableKeyRotation"] is True
    statements = {s["Sid"]: s for s in json.loads(key["policy"])["Statement"]}
    logs = statements["CloudWatchLogsOfThisAccountAndRegion"]
    assert logs["Principal"] == {"Service": "logs.eu-west-1.amazonaws.com"}
    assert logs["Condition"] == {
        "ArnLike": {"kms:EncryptionContext:aws:logs:arn": "arn:aws:logs:eu-west-1:111122223333:log-group:*"}
    }
    administrators = statements["AdministratorsManageButCannotUse"]
    assert not {"kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"} & set(administrators["Action"])


# ecr-immutable-and-scanned --------------------------------------------------------------------


def test_ecr_must_be_immutable_and_scanned():
    props = inputs_of("staging", REPOSITORY, "build-repository")
    props["imageTagMutability"] = "MUTABLE"
    props["imageScanningConfiguration"]["scanOnPush"] = False
    messages = check("ecr-immutable-and-scanned", REPOSITORY, props)
    assert len(messages) == 2
    assert "MUTABLE, not IMMUTABLE" in messages[0]
    assert "scanOnPush" in messages[1]
    del props["imageTagMutability"]
    assert "MUTABLE (the default)" in check("ecr-immutable-and-scanned", REPOSITORY, props)[0]


def test_the_build_cache_may_move_its_one_tag_only():
    from components.build import CACHE_TAG

    props = inputs_of("staging", REPOSITORY, "build-cache-repository")
    assert props["imageTagMutability"] == "IMMUTABLE_WITH_EXCLUSION"
    assert props["imageTagMutabilityExclusionFilters"] == [{"filter": CACHE_TAG, "filterType": "WILDCARD"}]
    assert check("ecr-immutable-and-scanned", REPOSITORY, props) == []
    props["imageTagMutabilityExclusionFilters"] = [{"filter": "*", "filterType": "WILDCARD"}]
    only(check("ecr-immutable-and-scanned", REPOSITORY, props), "'*' is a wildcard")
    # The purpose tag is no exemption: any repository can carry it.
    props["imageTagMutability"] = "MUTABLE"
    del props["imageTagMutabilityExclusionFilters"]
    assert props["tags"]["ecs-cicd:purpose"] == "build-cache"
    only(check("ecr-immutable-and-scanned", REPOSITORY, props), "MUTABLE, not IMMUTABLE")


# iam-least-privilege --------------------------------------------------------------------------


def pipeline_role_policy(stack: str = "prod") -> dict[str, Any]:
    return inputs_of(stack, ROLE_POLICY, "role-policy")


@pytest.mark.parametrize(
    ("statement", "fragments"),
    [
        ({"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::b/*"}, ["'s3:*' contains a wildcard"]),
        (
            {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "*"},
            ["'*' covers every resource", "s3:getobject"],
        ),
        (
            {"Sid": "List", "Effect": "Allow", "Action": "ecs:ListTasks", "Resource": "*"},
            ["statement 'List'", "needs an ecs:cluster condition"],
        ),
        (
            {"Effect": "Allow", "Action": "iam:PassRole", "Resource": "arn:aws:iam::111122223333:role/x"},
            ["iam:PassedToService"],
        ),
        (
            {
                "Effect": "Allow",
                "Action": "codestar-connections:UseConnection",
                "Resource": "arn:aws:codestar-connections:eu-west-1:111122223333:connection/x",
                "Condition": {"StringEquals": {"codeconnections:FullRepositoryId": "acme/orders-api"}},
            },
            ["codestar-connections:FullRepositoryId condition"],
        ),
    ],
)
def test_iam_policy_statements_are_rejected(statement, fragments):
    props = with_statement(pipeline_role_policy(), statement)
    only(check("iam-least-privilege", ROLE_POLICY, props), *fragments)
    # The same document as a managed policy is held to the same rules.
    only(check("iam-least-privilege", "aws:iam/policy:Policy", {"policy": props["policy"]}), *fragments)


def test_iam_pass_role_on_every_role_is_rejected():
    statement = {
        "Effect": "Allow",
        "Action": "iam:PassRole",
        "Resource": "*",
        "Condition": {"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}},
    }
    messages = check("iam-least-privilege", ROLE_POLICY, with_statement(pipeline_role_policy("dev"), statement))
    assert len(messages) == 2
    assert "resource '*' covers every resource of its type for iam:passrole" in messages[0]
    assert "must name the roles it may pass" in messages[1]


def test_iam_use_connection_needs_the_repository_condition():
    props = pipeline_role_policy("staging")
    document = json.loads(props["policy"])
    next(s for s in document["Statement"] if s["Sid"] == "SourceUseConnection").pop("Condition")
    messages = check("iam-least-privilege", ROLE_POLICY, {**props, "policy": json.dumps(document)})
    only(messages, "statement 'SourceUseConnection'", "codeconnections:FullRepositoryId condition")


def test_iam_broad_managed_policies_and_inline_role_policies():
    role = inputs_of("prod", ROLE, "build-role")
    role["managedPolicyArns"] = [
        "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy",
        "arn:aws:iam::aws:policy/AdministratorAccess",
    ]
    messages = check("iam-least-privilege", ROLE, role)
    assert len(messages) == 2 and all("AWS-managed policy" in m for m in messages)
    assert "AdministratorAccess" in messages[1]
    attachment = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
    only(
        check("iam-least-privilege", attachment, {"policyArn": "arn:aws:iam::aws:policy/AmazonS3FullAccess"}), "S3Full"
    )
    role = inputs_of("prod", ROLE, "build-role")
    role["inlinePolicies"] = [
        {
            "name": "extra",
            "policy": policy_json([{"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::b/*"}]),
        }
    ]
    only(check("iam-least-privilege", ROLE, role), "inline policy 'extra'", "wildcard")


def test_iam_policy_that_is_not_json_is_rejected():
    only(check("iam-least-privilege", ROLE_POLICY, {"policy": "{not json", "role": "r"}), "not valid JSON")


# iam-role-trust-scoped ------------------------------------------------------------------------


def test_service_trust_needs_source_account_and_arn():
    props = inputs_of("dev", ROLE, "build-role")
    document = json.loads(props["assumeRolePolicy"])
    del document["Statement"][0]["Condition"]["ArnLike"]
    props["assumeRolePolicy"] = json.dumps(document)
    message = only(check("iam-role-trust-scoped", ROLE, props), "aws:SourceArn", "confused deputy")
    assert "aws:SourceAccount" not in message


def test_the_pack_and_the_program_agree_on_which_services_send_source_keys():
    from components.iam import SOURCE_KEYS_SENT
    from policy.rules import SERVICES_WITHOUT_SOURCE_KEYS

    assert SERVICES_WITHOUT_SOURCE_KEYS == {service for service, (sent, _) in SOURCE_KEYS_SENT.items() if not sent}


def test_trust_of_every_aws_principal_is_rejected():
    statement = {"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"AWS": ["*"]}}
    only(
        check("iam-role-trust-scoped", ROLE, {"assumeRolePolicy": policy_json([statement])}),
        'every AWS principal ("*")',
    )
    # A Deny for everyone is not trust.
    assert (
        check("iam-role-trust-scoped", ROLE, {"assumeRolePolicy": policy_json([{**statement, "Effect": "Deny"}])}) == []
    )


def test_web_identity_trust_needs_a_subject():
    statement = {
        "Effect": "Allow",
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Principal": {"Federated": "arn:aws:iam::111122223333:oidc-provider/token.actions.githubusercontent.com"},
        "Condition": {"StringEquals": {"token.actions.githubusercontent.com:aud": "sts.amazonaws.com"}},
    }
    only(check("iam-role-trust-scoped", ROLE, {"assumeRolePolicy": policy_json([statement])}), ":sub condition")
    statement["Condition"]["StringLike"] = {
        "token.actions.githubusercontent.com:sub": "repo:acme/orders-api:ref:refs/heads/release"
    }
    assert check("iam-role-trust-scoped", ROLE, {"assumeRolePolicy": policy_json([statement])}) == []


# no-long-lived-credentials --------------------------------------------------------------------


@pytest.mark.parametrize(
    "type_", ["aws:iam/user:User", "aws:iam/accessKey:AccessKey", "aws:iam/userLoginProfile:UserLoginProfile"]
)
def test_iam_users_and_keys_are_rejected(type_):
    only(check("no-long-lived-credentials", type_, {"user": "ci"}), type_, "long-lived credentials")


def test_codebuild_source_tokens_are_rejected():
    credential = "aws:codebuild/sourceCredential:SourceCredential"
    props = {"authType": "PERSONAL_ACCESS_TOKEN", "serverType": "GITHUB", "token": "x"}
    only(check("no-long-lived-credentials", credential, props), "'PERSONAL_ACCESS_TOKEN'")
    assert check("no-long-lived-credentials", credential, {**props, "authType": "CODECONNECTIONS"}) == []


# pipeline-v2-encrypted ------------------------------------------------------------------------


def test_pipeline_must_be_v2_and_kms_encrypted():
    props = inputs_of("dev", PIPELINE, "pipeline")
    props["pipelineType"] = "V1"
    del props["artifactStores"][0]["encryptionKey"]
    messages = check("pipeline-v2-encrypted", PIPELINE, props)
    assert len(messages) == 2
    assert "pipelineType is V1, not V2" in messages[0]
    assert "not encrypted with a customer KMS key" in messages[1]
    del props["pipelineType"]
    assert "V1 (the default)" in check("pipeline-v2-encrypted", PIPELINE, props)[0]


# prod-pipeline-requires-approval --------------------------------------------------------------


def test_prod_pipeline_without_approval_is_rejected():
    props = inputs_of("prod", PIPELINE, "pipeline")
    props["stages"] = without_stage(props, "Approve")
    only(check("prod-pipeline-requires-approval", PIPELINE, props), "stage 'Deploy'", "Approval")


def test_prod_approval_after_the_deploy_does_not_count():
    props = inputs_of("prod", PIPELINE, "pipeline")
    approve, deploy = stage(props, "Approve"), stage(props, "Deploy")
    props["stages"] = [*without_stage(props, "Approve"), approve]
    only(check("prod-pipeline-requires-approval", PIPELINE, props), "Deploy/Service")
    # In one stage, an approval with a lower runOrder does gate the deploy.
    deploy["actions"] = [{**approve["actions"][0], "runOrder": 1.0}, {**deploy["actions"][0], "runOrder": 2.0}]
    props["stages"] = without_stage(props, "Approve")
    assert check("prod-pipeline-requires-approval", PIPELINE, props) == []


def test_only_prod_pipelines_need_approval():
    props = inputs_of("staging", PIPELINE, "pipeline")
    assert check("prod-pipeline-requires-approval", PIPELINE, props) == []
    props["tags"]["ecs-cicd:production"] = "true"
    only(check("prod-pipeline-requires-approval", PIPELINE, props), "without a manual Approval")


@pytest.mark.parametrize("environment", ["prod", "prd", "production", "live", "eu-prod", "live_2"])
def test_a_pipeline_named_production_in_any_spelling_needs_approval(environment):
    props = inputs_of("staging", PIPELINE, "pipeline")
    del props["tags"]["ecs-cicd:production"]  # a pipeline made by something else
    props["tags"]["environment"] = environment
    only(check("prod-pipeline-requires-approval", PIPELINE, props), "without a manual Approval")


def test_the_pack_and_the_program_agree_on_the_words_that_mean_production():
    from components.settings import PRODUCTION_WORDS

    assert set(PRODUCTION_WORDS) == rules.PRODUCTION_WORDS


# pipeline-triggers-safe -----------------------------------------------------------------------


def test_pull_requests_on_a_deploying_pipeline_are_rejected():
    props = inputs_of("dev", PIPELINE, "pipeline")
    props["triggers"][0]["gitConfiguration"]["pullRequests"] = [{"events": ["OPEN"], "branches": {"includes": ["x"]}}]
    only(check("pipeline-triggers-safe", PIPELINE, props), "pull requests start a pipeline that may deploy")


def test_tag_pushes_without_approval_are_rejected():
    props = inputs_of("dev", PIPELINE, "pipeline")
    props["triggers"][0]["gitConfiguration"]["pushes"].append({"tags": {"includes": ["*"]}})
    only(check("pipeline-triggers-safe", PIPELINE, props), "tag pushes start a pipeline that may deploy")
    approved = inputs_of("prod", PIPELINE, "pipeline")
    approved["triggers"][0]["gitConfiguration"]["pushes"].append({"tags": {"includes": ["*"]}})
    assert check("pipeline-triggers-safe", PIPELINE, approved) == []


# deploy-needs-build-artifact ------------------------------------------------------------------


def test_deploy_of_an_artifact_nobody_produced_is_rejected():
    props = inputs_of("dev", PIPELINE, "pipeline")
    stage(props, "Deploy")["actions"][0]["inputArtifacts"] = ["ReleaseBundle"]
    only(check("deploy-needs-build-artifact", PIPELINE, props), "'ReleaseBundle', which no earlier action produces")


def test_deploy_straight_from_source_is_rejected():
    props = inputs_of("staging", PIPELINE, "pipeline")
    stage(props, "Deploy")["actions"][0]["inputArtifacts"] = ["SourceOutput"]
    only(check("deploy-needs-build-artifact", PIPELINE, props), "straight from the Source stage")
    del stage(props, "Deploy")["actions"][0]["inputArtifacts"]
    only(check("deploy-needs-build-artifact", PIPELINE, props), "takes no input artifact")


def test_artifacts_must_come_from_earlier_stages():
    props = inputs_of("prod", PIPELINE, "pipeline")
    props["stages"] = [*without_stage(props, "Build"), stage(props, "Build")]
    only(check("deploy-needs-build-artifact", PIPELINE, props), "Deploy/Service", "'BuildOutput'")


# sns-topics-encrypted -------------------------------------------------------------------------


def test_sns_topic_must_be_encrypted():
    props = inputs_of("prod", TOPIC, "approval-topic")
    del props["kmsMasterKeyId"]
    only(check("sns-topics-encrypted", TOPIC, props), "kmsMasterKeyId")
    assert check("sns-topics-encrypted", TOPIC, {**props, "kmsMasterKeyId": UNKNOWN}) == []


# kms-key-policy-scoped ------------------------------------------------------------------------


def kms_stack(policy_statements: "list[dict] | None") -> list[StackResource]:
    key = StackResource("aws:kms/key:Key", {"keyId": "k-1", "enableKeyRotation": True}, "urn:key", "key")
    if policy_statements is None:
        return [key]
    document = json.dumps({"Version": "2012-10-17", "Statement": policy_statements})
    return [key, StackResource("aws:kms/keyPolicy:KeyPolicy", {"keyId": "k-1", "policy": document}, "urn:kp", "kp")]


def test_kms_key_policy_must_name_its_users():
    check_keys = SPECS["kms-key-policy-scoped"].check
    root = "arn:aws:iam::111122223333:root"
    (default,) = check_keys(kms_stack(None))
    assert "keeps the default policy" in default.message and default.urn == "urn:key"
    (broad,) = check_keys(
        kms_stack([{"Sid": "Root", "Effect": "Allow", "Principal": {"AWS": root}, "Action": "kms:*"}])
    )
    assert "lets arn:aws:iam::111122223333:root use the key (kms:Decrypt, kms:Encrypt" in broad.message
    (everyone,) = check_keys(
        kms_stack([{"Sid": "All", "Effect": "Allow", "Principal": "*", "Action": ["kms:Decrypt"]}])
    )
    assert "lets * use the key" in everyone.message
    scoped = [
        {
            "Sid": "Admin",
            "Effect": "Allow",
            "Principal": {"AWS": root},
            "Action": ["kms:PutKeyPolicy", "kms:DescribeKey"],
        },
        {
            "Sid": "Use",
            "Effect": "Allow",
            "Principal": {"AWS": ["arn:aws:iam::111122223333:role/build"]},
            "Action": ["kms:Decrypt"],
        },
    ]
    assert check_keys(kms_stack(scoped)) == []
    unknown_key = [StackResource("aws:kms/key:Key", {"keyId": UNKNOWN}, "urn:key", "key")]
    assert check_keys(unknown_key) == []


def test_every_policy_has_a_bad_example_above():
    # Guards the list below against a policy added to the registry without a test that it rejects anything.
    from . import test_policy_bypasses

    tested = {
        "s3-artifact-bucket-hardened": test_s3_bucket_without_public_access_block,
        "kms-key-rotation": test_kms_key_must_rotate,
        "kms-key-policy-scoped": test_kms_key_policy_must_name_its_users,
        "codebuild-privileged-only-for-image-builds": test_privileged_project_must_be_an_image_build,
        "codebuild-buildspec-embedded": test_buildspec_must_not_be_a_repository_file,
        "no-plaintext-secrets": test_plaintext_secrets_are_rejected,
        "codebuild-encrypted-and-logged": test_codebuild_must_be_encrypted_and_logged,
        "log-groups-retained-and-encrypted": test_log_group_must_expire,
        "ecr-immutable-and-scanned": test_ecr_must_be_immutable_and_scanned,
        "iam-least-privilege": test_iam_policy_statements_are_rejected,
        "iam-role-trust-scoped": test_service_trust_needs_source_account_and_arn,
        "resource-policies-scoped": test_policy_bypasses.test_resource_policy_lets_in_everyone,
        "principals-in-known-accounts": test_policy_bypasses.test_foreign_account_principals,
        "no-long-lived-credentials": test_iam_users_and_keys_are_rejected,
        "pipeline-v2-encrypted": test_pipeline_must_be_v2_and_kms_encrypted,
        "prod-pipeline-requires-approval": test_prod_pipeline_without_approval_is_rejected,
        "pipeline-triggers-safe": test_pull_requests_on_a_deploying_pipeline_are_rejected,
        "deploy-needs-build-artifact": test_deploy_of_an_artifact_nobody_produced_is_rejected,
        "sns-topics-encrypted": test_sns_topic_must_be_encrypted,
    }
    assert set(tested) == set(SPECS)


# --------------------------------------------------------------------------------------------
# Unknown values during preview
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("stack", STACKS)
@pytest.mark.parametrize("make_unknown", [lambda props: dict.fromkeys(props, UNKNOWN), leaves_unknown])
def test_unknown_values_are_skipped_not_reported(stack, make_unknown):
    unknown = [
        StackResource(r.resource_type, make_unknown(r.props), r.urn, r.name, r.id) for r in stack_resources(stack)
    ]
    assert evaluate(unknown) == {spec.name: [] for spec in registry.POLICIES}


def test_missing_inputs_we_always_set_are_violations():
    # Unlike unknown values, absent ones mean AWS's insecure default.
    assert check("kms-key-rotation", KEY, {}) != []
    assert check("ecr-immutable-and-scanned", REPOSITORY, {}) != []
    assert check("log-groups-retained-and-encrypted", LOG_GROUP, {}) != []
    assert check("sns-topics-encrypted", TOPIC, {}) != []
    assert check("pipeline-v2-encrypted", PIPELINE, {}) != []
    assert check("codebuild-encrypted-and-logged", PROJECT, {}) != []
    assert check("iam-role-trust-scoped", ROLE, {}) != []


def test_checks_ignore_other_resource_types():
    for spec in registry.POLICIES:
        if spec.kind == "resource":
            assert spec.check("aws:s3/bucketObject:BucketObject", {"key": "x", "policy": "*"}) == [], spec.name


def test_sentinels_match_pulumi_policy():
    from pulumi_policy import proxy

    sentinels = {
        value for name, value in vars(proxy).items() if name.startswith("UNKNOWN_") and name.endswith("_VALUE")
    }
    assert sentinels == rules.UNKNOWN_SENTINELS


def test_plain_unwraps_pulumi_policy_proxies_without_raising():
    from pulumi_policy.proxy import UnknownValueError, unknown_checking_proxy

    props = {"environment": {"privilegedMode": True}, "source": {"type": "CODEPIPELINE", "buildspec": UNKNOWN}}
    proxied = unknown_checking_proxy(copy.deepcopy(props))
    with pytest.raises(UnknownValueError):
        _ = proxied["source"]["buildspec"]
    assert rules.plain(proxied) == props
    assert check("codebuild-privileged-only-for-image-builds", PROJECT, rules.plain(proxied)) == []


# --------------------------------------------------------------------------------------------
# (c) Registry and pack wiring
# --------------------------------------------------------------------------------------------

EXPECTED_POLICIES = [
    "s3-artifact-bucket-hardened",
    "kms-key-rotation",
    "kms-key-policy-scoped",
    "codebuild-privileged-only-for-image-builds",
    "codebuild-buildspec-embedded",
    "no-plaintext-secrets",
    "codebuild-encrypted-and-logged",
    "log-groups-retained-and-encrypted",
    "ecr-immutable-and-scanned",
    "iam-least-privilege",
    "iam-role-trust-scoped",
    "resource-policies-scoped",
    "principals-in-known-accounts",
    "no-long-lived-credentials",
    "pipeline-v2-encrypted",
    "prod-pipeline-requires-approval",
    "pipeline-triggers-safe",
    "deploy-needs-build-artifact",
    "sns-topics-encrypted",
]


def test_registry_lists_the_documented_policies():
    assert [spec.name for spec in registry.POLICIES] == EXPECTED_POLICIES
    for spec in registry.POLICIES:
        assert spec.kind == (
            "stack"
            if spec.name in ("s3-artifact-bucket-hardened", "kms-key-policy-scoped", "principals-in-known-accounts")
            else "resource"
        )
        assert spec.description.strip() and spec.risks
        assert all(risk.startswith("CICD-SEC-") for risk in spec.risks)
        assert getattr(rules, spec.check.__name__) is spec.check


def test_importing_rules_and_registry_loads_no_policy_machinery():
    code = (
        "import sys, policy.rules, policy.registry\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('pulumi_policy', 'pulumi', 'grpc')))"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


class _PackRecorder:
    """Stands in for pulumi_policy.PolicyPack, whose constructor would serve gRPC forever."""

    made: list[dict[str, Any]] = []

    def __init__(self, **kwargs: Any):
        self.made.append(kwargs)


@pytest.fixture
def pack(monkeypatch) -> Iterator[dict[str, Any]]:
    """Run policy/ as the Pulumi CLI does (runpy on the directory) with PolicyPack recorded, not started."""
    import pulumi_policy

    monkeypatch.setattr(pulumi_policy, "PolicyPack", _PackRecorder)
    monkeypatch.setattr(_PackRecorder, "made", [])
    monkeypatch.setattr(sys, "path", list(sys.path))
    before = set(sys.modules)
    try:
        runpy.run_path(str(POLICY_DIR), run_name="__main__")
        assert len(_PackRecorder.made) == 1
        yield _PackRecorder.made[0]
    finally:
        for name in set(sys.modules) - before:
            if name in ("registry", "rules"):
                del sys.modules[name]


def test_main_registers_exactly_the_registry_as_mandatory(pack):
    from pulumi_policy import EnforcementLevel, ResourceValidationPolicy, StackValidationPolicy

    assert pack["enforcement_level"] == EnforcementLevel.MANDATORY
    policies = pack["policies"]
    assert [p.name for p in policies] == [spec.name for spec in registry.POLICIES]
    for policy, spec in zip(policies, registry.POLICIES, strict=True):
        assert policy.enforcement_level == EnforcementLevel.MANDATORY, policy.name
        assert policy.description == spec.description
        assert type(policy) is (StackValidationPolicy if spec.kind == "stack" else ResourceValidationPolicy)


def test_main_wraps_resource_checks_over_proxied_props(pack):
    from pulumi_policy import ResourceValidationArgs
    from pulumi_policy.proxy import unknown_checking_proxy

    policy = next(p for p in pack["policies"] if p.name == "ecr-immutable-and-scanned")
    reported: list[tuple[str, str | None]] = []

    def validate(props: dict[str, Any]) -> None:
        args = ResourceValidationArgs(REPOSITORY, unknown_checking_proxy(props), "urn:x", "repo", None, None)
        policy.validate(args, lambda message, urn=None: reported.append((message, urn)))

    validate({"imageTagMutability": UNKNOWN, "imageScanningConfiguration": UNKNOWN})
    assert reported == []
    validate({"imageTagMutability": "MUTABLE", "imageScanningConfiguration": {"scanOnPush": True}})
    assert reported == [("ECR imageTagMutability is MUTABLE, not IMMUTABLE", None)]


def test_main_wraps_the_stack_check_with_property_dependencies(pack):
    from pulumi_policy import PolicyResource, StackValidationArgs
    from pulumi_policy.proxy import unknown_checking_proxy

    policy = next(p for p in pack["policies"] if p.name == "s3-artifact-bucket-hardened")
    resources: list[PolicyResource] = []
    for r in custom_resources("staging"):
        props = {**r.inputs, "bucket": UNKNOWN} if r.type != BUCKET and "bucket" in r.inputs else dict(r.inputs)
        if r.type == VERSIONING:
            props["versioningConfiguration"] = {"status": "Suspended"}
        resources.append(
            PolicyResource(
                r.type, unknown_checking_proxy(copy.deepcopy(props)), r.urn, r.name, None, None, None, [], {}
            )
        )
    bucket = next(p for p in resources if p.resource_type == BUCKET)
    for resource in resources:
        if resource.resource_type in (PUBLIC_ACCESS, ENCRYPTION, VERSIONING, BUCKET_POLICY):
            resource.property_dependencies["bucket"] = [bucket]
    reported: list[tuple[str, str | None]] = []
    policy.validate(StackValidationArgs(resources), lambda message, urn=None: reported.append((message, urn)))
    assert len(reported) == 1
    message, urn = reported[0]
    assert "versioning status is 'Suspended'" in message
    assert urn.endswith("::orders-api-staging-artifacts-versioning")


def test_policy_pack_files():
    import yaml

    project = yaml.safe_load((POLICY_DIR / "PulumiPolicy.yaml").read_text())
    assert project["runtime"]["name"] == "python"
    assert project["runtime"]["options"]["virtualenv"]
    assert project["description"]
    requirements = [
        line.strip()
        for line in (POLICY_DIR / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert all("==" in line for line in requirements), requirements
    assert "pulumi-policy==1.21.0" in requirements
    # The pack runs the same pulumi as the program.
    pulumi_pin = [line for line in requirements if line.startswith("pulumi==")]
    assert len(pulumi_pin) == 1
    assert pulumi_pin[0] in (REPO / "requirements.txt").read_text().split()


def test_use_through_a_named_service_only_is_a_scoped_grant():
    root = "arn:aws:iam::111122223333:root"
    through_s3 = {
        "Sid": "ReadLogs",
        "Effect": "Allow",
        "Principal": {"AWS": root},
        "Action": ["kms:Decrypt"],
        "Condition": {"StringEquals": {"kms:ViaService": "s3.eu-west-1.amazonaws.com"}},
    }
    # ViaService alone lets any account use the key through S3: the caller's account is pinned too.
    assert len(SPECS["kms-key-policy-scoped"].check(kms_stack([through_s3]))) == 1
    through_s3["Condition"]["StringEquals"]["kms:CallerAccount"] = "111122223333"
    assert SPECS["kms-key-policy-scoped"].check(kms_stack([through_s3])) == []
    through_s3["Condition"] = {"StringLike": {"kms:ViaService": "*", "kms:CallerAccount": "111122223333"}}
    assert len(SPECS["kms-key-policy-scoped"].check(kms_stack([through_s3]))) == 1


def test_a_stack_with_every_guardrail_passes_every_policy():
    run = run_stack("dev", {"ecs-cicd:guardrails": {"cloudTrail": True, "guardDuty": True, "configRules": True}})
    resources = [
        StackResource(r.type, copy.deepcopy(dict(r.inputs)), r.urn, r.name, id=harness_id(r))
        for r in run.resources
        if r.custom
    ]
    assert len([r for r in resources if r.resource_type == "aws:kms/key:Key"]) == 3  # artifacts, logs, trail
    assert evaluate(resources) == {spec.name: [] for spec in registry.POLICIES}


def test_a_production_promotion_deploys_before_its_approval_only_into_non_production_accounts():
    """The delivery stack's pipeline deploys dev and staging (their accounts) before prod's approval:
    allowed only for accounts the pack's configuration names non-production; without it, or for
    any other account, the deploy needs an approval before it."""
    pipeline = inputs_of("delivery", PIPELINE, "pipeline")
    configured = pack_config("delivery")["prod-pipeline-requires-approval"]["nonProductionAccounts"]
    approval = "prod-pipeline-requires-approval"

    def flagged(props: dict[str, Any], accounts: list[str]) -> list[str]:
        return check_with(approval, PIPELINE, props, non_production_accounts=accounts)

    assert flagged(pipeline, configured) == []
    assert len(flagged(pipeline, [])) == 2  # Deploy-dev and Deploy-staging
    only(flagged(pipeline, configured[:1]), "Deploy-staging")
    # Prod's deploy moved before its approval: its account is not one of them.
    stages = pipeline["stages"]
    names = [s["name"] for s in stages]
    early = [stages[names.index("Deploy-prod")], *[s for s in stages if s["name"] != "Deploy-prod"]]
    early = [early[1], early[2], early[0], *early[3:]]  # Source, Build, Deploy-prod, ...
    only(flagged({**pipeline, "stages": early}, configured), "Deploy-prod")
    # Only the ECS deploy action is exempt: a Lambda, commands or a stack set run as a dev role could
    # reach further than dev.
    for category, provider, owner in (
        ("Invoke", "Lambda", "AWS"),
        ("Build", "Commands", "AWS"),
        ("Deploy", "CloudFormationStackSet", "AWS"),
        ("Deploy", "ECS", "Custom"),  # a custom action that calls itself ECS is not AWS's
    ):
        reaching = copy.deepcopy(pipeline)
        dev = next(s for s in reaching["stages"] if s["name"] == "Deploy-dev")
        dev["actions"][0].update(category=category, provider=provider, owner=owner)
        only(flagged(reaching, configured), "Deploy-dev")
    # A role not yet known (a preview) is no exemption.
    unknown = copy.deepcopy(pipeline)
    for stage_ in unknown["stages"]:
        for action_ in stage_["actions"]:
            if "roleArn" in action_:
                action_["roleArn"] = UNKNOWN
    assert len(flagged(unknown, configured)) == 2


def check_with(policy: str, type_: str, props: dict[str, Any], **options: Any) -> list[str]:
    spec = SPECS[policy]
    assert spec.kind == "resource"
    return spec.check(type_, props, **options)


@pytest.mark.parametrize("stack", STACKS)
def test_each_stacks_pack_configuration_names_real_policies_and_valid_properties(stack):
    """What `pulumi preview --policy-pack-config` would refuse (an unknown policy or property, a
    value its schema does not allow) is refused here first."""
    import jsonschema

    config = pack_config(stack)
    for policy, properties in config.items():
        assert policy in SPECS, f"{stack}.json: no policy {policy}"
        for name, value in properties.items():
            assert name in SPECS[policy].config, f"{stack}.json: {policy} takes no {name}"
            jsonschema.validate(value, registry.CONFIG[name])


def test_main_hands_a_resource_policy_its_configuration(pack):
    """The pack as Pulumi runs it reads `nonProductionAccounts` from the policy's configuration (as
    `pulumi preview --policy-pack-config policy/config/delivery.json` gives it)."""
    from pulumi_policy import ResourceValidationArgs
    from pulumi_policy.proxy import unknown_checking_proxy

    policy = next(p for p in pack["policies"] if p.name == "prod-pipeline-requires-approval")
    props = inputs_of("delivery", PIPELINE, "pipeline")

    def reported(config: dict[str, Any] | None) -> list[str]:
        found: list[str] = []
        args = ResourceValidationArgs(PIPELINE, unknown_checking_proxy(props), "urn:x", "p", None, None, config)
        policy.validate(args, lambda message, urn=None: found.append(message))
        return found

    configured = pack_config("delivery")["prod-pipeline-requires-approval"]
    assert reported(configured) == []
    assert len(reported({})) == 2  # Deploy-dev and Deploy-staging, without the configuration
