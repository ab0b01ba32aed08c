"""Each way the red-team review beat the policy pack, built as a resource and expected to be caught.

Every test starts from what the stacks really register (so it cannot pass on a toy that the pack
never sees) and changes one thing the way an attacker, or a careless edit, would: a wildcard
spelled differently, a principal written another way, a grant moved to a separate resource, a
condition that quietly narrows a Deny, a secret put somewhere the pack did not use to look."""

import copy
import json
from typing import Any

import pytest
import yaml

from components.testing import MOCK_ACCOUNT_ID, run_stack
from policy import rules
from policy.rules import StackResource

from .test_policy import (
    KEY,
    PIPELINE,
    PROJECT,
    ROLE,
    ROLE_POLICY,
    TOPIC,
    check,
    custom_resources,
    inputs_of,
    only,
    pipeline_role_policy,
    policy_json,
    s3_messages,
    stack_resources,
    stage,
    with_statement,
)

FOREIGN = "999988887777"
# Made-up tokens, assembled so that secret scanners do not flag this file.
TOKENS = {
    "a Stripe secret key": "sk_" + "live_" + "4eC39HqLyjWDarjtT1zdp7dc",
    "a Slack token": "xox" + "b-" + "2400000000-1234567890123-AbCdEfGhIjKl",
    "a GitLab token": "gl" + "pat-" + "x9Yz8WvU7tS6rQ5pO4nM",
    "an npm token": "np" + "m_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8",
    "an AWS secret access key": "wJalrXUtnFEMI/K7MDENG/bPxRfiCY" + "EXAMPLEKEY",
}


def task_definition_inputs(stack: str) -> dict[str, Any]:
    """The created service's task definition (named after its config's hash)."""
    (definition,) = [r for r in custom_resources(stack) if r.type == "aws:ecs/taskDefinition:TaskDefinition"]
    return copy.deepcopy(dict(definition.inputs))


def role_policy_with(statement: dict[str, Any]) -> list[str]:
    return check("iam-least-privilege", ROLE_POLICY, with_statement(pipeline_role_policy(), statement))


# Wildcards other than a literal "*" -----------------------------------------------------------


@pytest.mark.parametrize(
    "action", ["iam:PassRol?", "kms:G*", "s3:Put*", "IAM:PASSROLE*", "codeconnections:Use*", "ecs:?pdateService"]
)
def test_wildcard_actions_in_any_spelling(action):
    statement = {"Effect": "Allow", "Action": action, "Resource": "arn:aws:s3:::orders-artifacts/x"}
    assert any("wildcard" in m for m in role_policy_with(statement))


def test_pass_role_through_a_wildcard_still_needs_its_conditions():
    statement = {"Effect": "Allow", "Action": "iam:PassRol?", "Resource": f"arn:aws:iam::{MOCK_ACCOUNT_ID}:role/x"}
    messages = role_policy_with(statement)
    assert any("iam:PassedToService" in m for m in messages), messages


def test_not_action_grants_what_it_does_not_name():
    statement = {"Effect": "Allow", "NotAction": "iam:CreateUser", "Resource": "*"}
    assert any("NotAction" in m for m in role_policy_with(statement))
    # NotAction allows iam:PassRole too, and is judged so.
    assert rules.normalise.grants(statement, "iam:PassRole")


@pytest.mark.parametrize(
    ("action", "resource"),
    [
        ("secretsmanager:GetSecretValue", f"arn:aws:secretsmanager:eu-west-1:{MOCK_ACCOUNT_ID}:secret:*"),
        ("ssm:GetParameters", f"arn:aws:ssm:eu-west-1:{MOCK_ACCOUNT_ID}:parameter/*"),
        ("s3:GetObject", "arn:aws:s3:::*"),
        ("s3:GetObject", "arn:*:s3:::orders-artifacts/*"),
        ("ecs:UpdateService", f"arn:aws:ecs:*:{MOCK_ACCOUNT_ID}:service/orders/api"),
        ("ecs:UpdateService", "arn:aws:ecs:eu-west-1:*:service/orders/api"),
        ("logs:PutLogEvents", f"arn:aws:logs:eu-west-1:{MOCK_ACCOUNT_ID}:log-group:*"),
        # A Lambda function's network interfaces: one account and region, never any other type.
        ("ec2:CreateNetworkInterface", "*"),
        ("ec2:CreateNetworkInterface", "arn:aws:ec2:eu-west-1:*:network-interface/*"),
        ("ec2:CreateNetworkInterface", f"arn:aws:ec2:eu-west-1:{MOCK_ACCOUNT_ID}:instance/*"),
        ("ec2:DeleteNetworkInterface", f"arn:aws:ec2:*:{MOCK_ACCOUNT_ID}:network-interface/*"),
        ("ec2:DeleteVpc", f"arn:aws:ec2:eu-west-1:{MOCK_ACCOUNT_ID}:subnet/*"),
    ],
)
def test_resource_wildcards_that_cover_a_whole_type(action, resource):
    statement = {"Effect": "Allow", "Action": action, "Resource": resource}
    only(role_policy_with(statement), "covers every resource of its type")


def test_a_lambda_functions_network_interfaces_in_one_account_and_region_are_accepted():
    statement = {
        "Effect": "Allow",
        "Action": ["ec2:CreateNetworkInterface", "ec2:DeleteNetworkInterface"],
        "Resource": [f"arn:aws:ec2:eu-west-1:{MOCK_ACCOUNT_ID}:{kind}/*" for kind in ("network-interface", "subnet")],
    }
    assert role_policy_with(statement) == []


def test_pass_role_on_every_role_by_path_wildcard():
    statement = {
        "Effect": "Allow",
        "Action": "iam:PassRole",
        "Resource": f"arn:aws:iam::{MOCK_ACCOUNT_ID}:role/*",
        "Condition": {"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}},
    }
    messages = role_policy_with(statement)
    assert any("must name the roles it may pass" in m for m in messages), messages


def test_scoped_patterns_are_not_whole_types():
    for resource in (
        "arn:aws:s3:::orders-artifacts/orders-api-prod*",
        f"arn:aws:secretsmanager:eu-west-1:{MOCK_ACCOUNT_ID}:secret:orders/db-??????",
        f"arn:aws:logs:eu-west-1:{MOCK_ACCOUNT_ID}:log-group:/aws/codebuild/orders:*",
        f"arn:aws:iam::{MOCK_ACCOUNT_ID}:role/ecs-cicd/prod/runtime/*",
    ):
        assert not rules.too_broad(resource), resource


# Principals written another way ---------------------------------------------------------------


def key_stack_with(statement: dict[str, Any]) -> list[StackResource]:
    stack = stack_resources("prod")
    for index, resource in enumerate(stack):
        if resource.name == "orders-api-prod-artifacts-key-policy":
            props = with_statement(copy.deepcopy(dict(resource.props)), statement)
            stack[index] = StackResource(resource.resource_type, props, resource.urn, resource.name)
    return stack


def key_messages(stack: list[StackResource]) -> list[str]:
    return [v.message for v in rules.check_kms_key_policies(stack)]


@pytest.mark.parametrize(
    "principal", [{"AWS": MOCK_ACCOUNT_ID}, {"AWS": [f" {MOCK_ACCOUNT_ID}"]}, {"AWS": f"arn:aws:iam::{FOREIGN}:root"}]
)
@pytest.mark.parametrize("action", ["kms:Decrypt", "kms:G*", "kms:*", ["kms:ReEncrypt*"]])
def test_key_use_by_a_whole_account_however_written(principal, action):
    statement = {"Sid": "Sneaky", "Effect": "Allow", "Principal": principal, "Action": action, "Resource": "*"}
    only(key_messages(key_stack_with(statement)), "statement 'Sneaky'", "use the key")


def test_key_use_through_not_action():
    statement = {"Sid": "Sneaky", "Effect": "Allow", "Principal": "*", "NotAction": "kms:Sign", "Resource": "*"}
    messages = key_messages(key_stack_with(statement))
    assert any("lets * use the key" in m and "kms:Decrypt" in m for m in messages), messages


@pytest.mark.parametrize("action", ["kms:PutKeyPolicy", "kms:ScheduleKeyDeletion", "kms:DisableKey", "kms:Put*"])
def test_key_management_by_everyone(action):
    # PutKeyPolicy is every use at one remove; deletion destroys what the artifacts are encrypted with.
    statement = {"Sid": "Sneaky", "Effect": "Allow", "Principal": {"AWS": "*"}, "Action": action, "Resource": "*"}
    only(key_messages(key_stack_with(statement)), "statement 'Sneaky'", "manage the key")


@pytest.mark.parametrize(
    "condition",
    [
        {"StringLike": {"kms:ViaService": "*"}},
        {"StringEquals": {"kms:ViaService": "s3.eu-west-1.amazonaws.com"}},
        {
            "StringEqualsIfExists": {
                "kms:ViaService": "s3.eu-west-1.amazonaws.com",
                "kms:CallerAccount": MOCK_ACCOUNT_ID,
            }
        },
    ],
)
def test_use_through_a_service_needs_the_service_and_the_callers_account(condition):
    statement = {"Sid": "Sneaky", "Effect": "Allow", "Principal": "*", "Action": "kms:Decrypt", "Condition": condition}
    only(key_messages(key_stack_with(statement)), "statement 'Sneaky'", "use the key")


@pytest.mark.parametrize(
    "resource",
    [
        f"arn:aws:secretsmanager:eu-west-1:{MOCK_ACCOUNT_ID}:secret*",
        f"arn:aws:iam::{MOCK_ACCOUNT_ID}:role*",
        "arn:aws:s3:*",
        f"arn:aws:logs:eu-west-1:{MOCK_ACCOUNT_ID}:log-group:*:log-stream:*",
        "arn:aws:s3:::*-*",
        f"arn:aws:iam::{MOCK_ACCOUNT_ID}:role/*admin*",
    ],
)
def test_a_wildcard_that_ends_a_segment_covers_every_resource(resource):
    # IAM expands a trailing `*` past the colons: these are as broad as "*".
    assert rules.too_broad(resource)
    statement = {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": resource}
    assert any("covers every resource of its type" in m for m in role_policy_with(statement))


@pytest.mark.parametrize(
    "condition",
    [
        {"StringLike": {"iam:PassedToService": "*"}},
        {"StringEqualsIfExists": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}},
        {"Null": {"iam:PassedToService": "false"}},
        {"StringNotEquals": {"iam:PassedToService": "lambda.amazonaws.com"}},
        {"ForAnyValue:StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}},
    ],
)
def test_a_condition_that_is_present_but_pins_nothing_is_no_condition(condition):
    statement = {
        "Effect": "Allow",
        "Action": "iam:PassRole",
        "Resource": f"arn:aws:iam::{MOCK_ACCOUNT_ID}:role/ecs-cicd/dev/runtime/x",
        "Condition": condition,
    }
    only(role_policy_with(statement), "iam:PassedToService")
    connection = {
        "Effect": "Allow",
        "Action": "codeconnections:UseConnection",
        "Resource": f"arn:aws:codeconnections:eu-west-1:{MOCK_ACCOUNT_ID}:connection/c",
        "Condition": {"StringLike": {"codeconnections:FullRepositoryId": "*"}},
    }
    only(role_policy_with(connection), "FullRepositoryId")
    service_trust = {
        "Effect": "Allow",
        "Principal": {"Service": "codebuild.amazonaws.com"},
        "Action": "sts:AssumeRole",
        "Condition": {"StringLike": {"aws:SourceAccount": "*", "aws:SourceArn": "*"}},
    }
    only(check("iam-role-trust-scoped", ROLE, {"assumeRolePolicy": policy_json([service_trust])}), "confused deputy")


@pytest.mark.parametrize(
    ("subject", "audience", "fragment"),
    [
        ("repo:*/*", "sts.amazonaws.com", "must name one repository"),
        ("repo:acme/*", "sts.amazonaws.com", "must name one repository"),
        ("repo:acme/orders-api:environment:prod", None, ":aud condition"),
    ],
)
def test_github_oidc_trust_names_one_repository_and_the_audience(subject, audience, fragment):
    issuer = "token.actions.githubusercontent.com"
    statement = {
        "Effect": "Allow",
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Principal": {"Federated": f"arn:aws:iam::{MOCK_ACCOUNT_ID}:oidc-provider/{issuer}"},
        "Condition": {"StringLike": {f"{issuer}:sub": subject}},
    }
    if audience:
        statement["Condition"]["StringEquals"] = {f"{issuer}:aud": audience}
    only(check("iam-role-trust-scoped", ROLE, {"assumeRolePolicy": policy_json([statement])}), fragment)


@pytest.mark.parametrize(
    "condition",
    [
        {"StringEqualsIfExists": {"aws:PrincipalAccount": MOCK_ACCOUNT_ID}},
        {"StringLike": {"aws:PrincipalAccount": "*"}},
        {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}},
        {"StringEquals": {"aws:PrincipalAccount": MOCK_ACCOUNT_ID}, "ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*"}},
    ],
)
def test_everyone_with_a_condition_that_binds_no_account(condition):
    statement = {"Sid": "Sneaky", "Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "kms:Decrypt"}
    only(key_messages(key_stack_with({**statement, "Condition": condition})), "statement 'Sneaky'")


def test_trust_of_a_whole_account_however_written():
    for principal in (MOCK_ACCOUNT_ID, f"arn:aws:iam::{MOCK_ACCOUNT_ID}:root"):
        statement = {"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"AWS": principal}}
        only(
            check("iam-role-trust-scoped", ROLE, {"assumeRolePolicy": policy_json([statement])}),
            f"every principal of account {MOCK_ACCOUNT_ID}",
        )
    not_principal = {"Effect": "Allow", "Action": "sts:AssumeRole", "NotPrincipal": {"AWS": "arn:aws:iam::1:root"}}
    only(check("iam-role-trust-scoped", ROLE, {"assumeRolePolicy": policy_json([not_principal])}), "NotPrincipal")


def foreign_role(stack: str = "prod") -> list[StackResource]:
    role = inputs_of(stack, ROLE, "build-role")
    document = json.loads(role["assumeRolePolicy"])
    document["Statement"].append(
        {"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"AWS": f"arn:aws:iam::{FOREIGN}:role/ci"}}
    )
    role["assumeRolePolicy"] = json.dumps(document)
    return [*stack_resources(stack), StackResource(ROLE, role, "urn:foreign", "foreign")]


def test_foreign_account_principals():
    accounts = rules.check_principal_accounts
    (violation,) = accounts(foreign_role(), trusted_accounts=[MOCK_ACCOUNT_ID])
    assert FOREIGN in violation.message and violation.urn == "urn:foreign"
    # The stack's own account is learnt from the ARNs AWS gave its resources, without configuration.
    with_arn = [*foreign_role(), StackResource(KEY, {"arn": f"arn:aws:kms:eu-west-1:{MOCK_ACCOUNT_ID}:key/k"})]
    assert len(accounts(with_arn)) == 1
    # An account the pack's configuration trusts (a tooling account) may be named.
    assert accounts(foreign_role(), trusted_accounts=[MOCK_ACCOUNT_ID, FOREIGN]) == []


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_the_stacks_name_no_account_but_their_own(stack):
    assert rules.check_principal_accounts(stack_resources(stack), trusted_accounts=[MOCK_ACCOUNT_ID]) == []


# Grants through separate resources ------------------------------------------------------------


def test_a_key_policy_that_names_its_key_by_arn_is_still_read():
    key_arn = f"arn:aws:kms:eu-west-1:{MOCK_ACCOUNT_ID}:key/k-1"
    key = StackResource(KEY, {"keyId": "k-1", "arn": key_arn, "enableKeyRotation": True}, "urn:key", "key")
    broad = policy_json([{"Sid": "All", "Effect": "Allow", "Principal": {"AWS": MOCK_ACCOUNT_ID}, "Action": "kms:*"}])
    policy = StackResource("aws:kms/keyPolicy:KeyPolicy", {"keyId": key_arn, "policy": broad}, "urn:kp", "kp")
    (violation,) = rules.check_kms_key_policies([key, policy])
    assert violation.urn == "urn:kp" and "use the key" in violation.message


@pytest.mark.parametrize(
    "arn",
    [
        "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPowerUser",
        "arn:aws:iam::aws:policy/ReadOnlyAccess",
        "arn:aws:iam::aws:policy/SecretsManagerReadWrite",
        "arn:aws-us-gov:iam::aws:policy/IAMFullAccess",
    ],
)
def test_aws_managed_policies_attached_by_a_separate_resource(arn):
    for type_, props in (
        ("aws:iam/rolePolicyAttachment:RolePolicyAttachment", {"role": "r", "policyArn": arn}),
        ("aws:iam/policyAttachment:PolicyAttachment", {"roles": ["r"], "policyArn": arn}),
        (
            "aws:iam/rolePolicyAttachmentsExclusive:RolePolicyAttachmentsExclusive",
            {"roleName": "r", "policyArns": [arn]},
        ),
    ):
        only(check("iam-least-privilege", type_, props), "AWS-managed policy")


def test_resource_policy_lets_in_everyone():
    repository_policy = "aws:ecr/repositoryPolicy:RepositoryPolicy"
    pull = {"Effect": "Allow", "Principal": "*", "Action": ["ecr:BatchGetImage"]}
    only(check("resource-policies-scoped", repository_policy, {"policy": policy_json([pull])}), 'allows "*"')
    bound = {**pull, "Condition": {"StringEquals": {"aws:PrincipalAccount": MOCK_ACCOUNT_ID}}}
    assert check("resource-policies-scoped", repository_policy, {"policy": policy_json([bound])}) == []
    secret = {**pull, "Action": "secretsmanager:GetSecretValue", "Condition": {"Bool": {"aws:SecureTransport": "true"}}}
    only(
        check(
            "resource-policies-scoped",
            "aws:secretsmanager/secretPolicy:SecretPolicy",
            {"policy": policy_json([secret])},
        ),
        'allows "*"',
    )


def test_a_service_may_publish_only_for_this_account():
    props = inputs_of("prod", "aws:sns/topicPolicy:TopicPolicy", "alerts-topic-policy")
    assert check("resource-policies-scoped", "aws:sns/topicPolicy:TopicPolicy", props) == []
    document = json.loads(props["policy"])
    for statement in document["Statement"]:
        statement.pop("Condition", None) if statement.get("Effect") == "Allow" else None
    only(
        check("resource-policies-scoped", "aws:sns/topicPolicy:TopicPolicy", {**props, "policy": json.dumps(document)}),
        "events.amazonaws.com",
        "confused deputy",
    )


# Conditions that neutralise the TLS deny ------------------------------------------------------


@pytest.mark.parametrize(
    "change",
    [
        lambda s: s["Condition"].update({"StringEquals": {"aws:PrincipalAccount": FOREIGN}}),
        lambda s: s.update(Condition={"BoolIfExists": {"aws:SecureTransport": "false"}}),
        lambda s: s["Condition"]["Bool"].update({"aws:ViaAWSService": "false"}),
        lambda s: s.update(Principal={"AWS": f"arn:aws:iam::{FOREIGN}:root"}),
        lambda s: s.update(Action="s3:GetObject"),
        lambda s: s.update(Condition={"Bool": {"aws:SecureTransport": ["false", "true"]}}),
    ],
)
def test_a_tls_deny_narrowed_by_one_more_condition(change):
    stack = stack_resources("prod")
    for index, resource in enumerate(stack):
        if resource.name == "orders-api-prod-artifacts-tls-only":
            props = copy.deepcopy(dict(resource.props))
            document = json.loads(props["policy"])
            change(next(s for s in document["Statement"] if s.get("Sid") == "DenyInsecureTransport"))
            props["policy"] = json.dumps(document)
            stack[index] = StackResource(resource.resource_type, props, resource.urn, resource.name, resource.id)
            break
    else:
        raise AssertionError("no artifact bucket policy")
    assert any("no Deny of s3:* for every principal" in m for m in s3_messages(stack)), s3_messages(stack)


# AWS-managed keys where a customer key is required ---------------------------------------------


def test_aws_managed_keys_are_not_customer_keys():
    assert "AWS-managed key" in check("sns-topics-encrypted", TOPIC, {"kmsMasterKeyId": "alias/aws/sns"})[0]
    project = inputs_of("prod", PROJECT, "build-project")
    project["encryptionKey"] = f"arn:aws:kms:eu-west-1:{MOCK_ACCOUNT_ID}:alias/aws/s3"
    only(check("codebuild-encrypted-and-logged", PROJECT, project), "AWS-managed key")
    pipeline = inputs_of("prod", PIPELINE, "pipeline")
    pipeline["artifactStores"][0]["encryptionKey"]["id"] = "alias/aws/s3"
    only(check("pipeline-v2-encrypted", PIPELINE, pipeline), "AWS-managed key")
    stack = stack_resources("prod")
    encryption = next(r for r in stack if r.name == "orders-api-prod-artifacts-encryption")
    encryption.props["rules"][0]["applyServerSideEncryptionByDefault"]["kmsMasterKeyId"] = "alias/aws/s3"
    assert any("AWS-managed key 'alias/aws/s3'" in m for m in s3_messages(stack))


def test_rotation_every_few_years_is_not_yearly():
    props = inputs_of("prod", KEY, "artifacts-key")
    assert check("kms-key-rotation", KEY, {**props, "rotationPeriodInDays": 365}) == []
    only(check("kms-key-rotation", KEY, {**props, "rotationPeriodInDays": 2560}), "every 2560 days")


# Exemptions keyed on something any resource can carry -------------------------------------------


def test_a_production_environment_cannot_be_tagged_out_of_approval():
    props = inputs_of("prod", PIPELINE, "pipeline")
    props["stages"] = [s for s in props["stages"] if s["name"] != "Approve"]
    props["tags"]["ecs-cicd:production"] = "false"
    only(check("prod-pipeline-requires-approval", PIPELINE, props), "without a manual Approval")


# Secrets where the pack did not look ------------------------------------------------------------


@pytest.mark.parametrize("what", sorted(TOKENS))
def test_tokens_by_shape_in_every_place(what):
    token = TOKENS[what]
    project = inputs_of("prod", PROJECT, "scan-sast-project")
    project["environment"]["environmentVariables"].append({"name": "X", "value": token, "type": "PLAINTEXT"})
    only(check("no-plaintext-secrets", PROJECT, project), what)

    project = inputs_of("prod", PROJECT, "scan-sast-project")
    project["source"]["buildspec"] = project["source"]["buildspec"].replace(
        "phases:", f"env:\n  variables:\n    UPLOAD: {json.dumps(token)}\nphases:", 1
    )
    only(check("no-plaintext-secrets", PROJECT, project), "buildspec env", what)

    pipeline = inputs_of("prod", PIPELINE, "pipeline")
    pipeline["variables"] = [{"name": "RELEASE_NOTE", "defaultValue": token}]
    only(check("no-plaintext-secrets", PIPELINE, pipeline), "pipeline variable", what)

    task = task_definition_inputs("staging")
    containers = json.loads(task["containerDefinitions"])
    containers[0].setdefault("environment", []).append({"name": "UPSTREAM", "value": token})
    task["containerDefinitions"] = json.dumps(containers)
    only(check("no-plaintext-secrets", "aws:ecs/taskDefinition:TaskDefinition", task), "environment", what)

    parameter = {"name": "/orders/upstream", "type": "String", "value": token}
    only(check("no-plaintext-secrets", "aws:ssm/parameter:Parameter", parameter), what)
    assert check("no-plaintext-secrets", "aws:ssm/parameter:Parameter", {**parameter, "type": "SecureString"}) == []


def test_secret_names_in_every_place():
    parameter = {"name": "/orders/db-password", "type": "StringList", "value": "a,b"}
    only(check("no-plaintext-secrets", "aws:ssm/parameter:Parameter", parameter), "its name says")
    pipeline = inputs_of("prod", PIPELINE, "pipeline")
    pipeline["variables"] = [{"name": "DEPLOY_TOKEN", "defaultValue": "x"}]
    only(check("no-plaintext-secrets", PIPELINE, pipeline), "'DEPLOY_TOKEN'")


def test_hex_digests_are_not_secret_keys():
    assert rules.looks_like_a_secret("0" * 24 + "deadbeefcafe0123") == ""
    assert rules.looks_like_a_secret("a94a8fe5ccb19ba61c4c0873d391e987982fbbd3") == ""


# A deploy done by something other than a Deploy action --------------------------------------------

INVOKE = {
    "name": "Release",
    "category": "Invoke",
    "owner": "AWS",
    "provider": "Lambda",
    "version": "1",
    "configuration": {"FunctionName": "release"},
    "inputArtifacts": ["BuildOutput"],
}
COMMANDS = {**INVOKE, "name": "Ship", "category": "Compute", "provider": "Commands", "configuration": {}}


@pytest.mark.parametrize("action", [INVOKE, COMMANDS])
def test_a_deploy_by_another_action_needs_the_approval(action):
    props = inputs_of("prod", PIPELINE, "pipeline")
    stage(props, "Build")["actions"].append({**action, "runOrder": 9})
    only(check("prod-pipeline-requires-approval", PIPELINE, props), f"Build/{action['name']}")


@pytest.mark.parametrize("action", [INVOKE, COMMANDS])
def test_pull_requests_cannot_start_a_pipeline_that_deploys_another_way(action):
    source = {"repository": "acme/orders-api", "branch": "main", "pullRequests": True}
    run = run_stack("staging", {"ecs-cicd:source": source})
    props = copy.deepcopy(dict(run.one(PIPELINE, "pr-orders-api-staging-pipeline").inputs))
    assert check("pipeline-triggers-safe", PIPELINE, props) == []
    props["stages"][-1]["actions"].append({**action, "runOrder": 9})
    only(check("pipeline-triggers-safe", PIPELINE, props), "pull requests start a pipeline that may deploy")


def test_codebuild_builds_and_tests_are_not_deploys():
    assert not rules.may_deploy({"category": "Build", "provider": "CodeBuild"})
    assert not rules.may_deploy({"category": "Test", "provider": "CodeBuild"})
    assert rules.may_deploy({"category": "Build", "provider": "Jenkins"})


# An approval that a condition can skip ---------------------------------------------------------


def test_an_approval_in_a_stage_that_skips_itself_is_no_approval():
    props = inputs_of("prod", PIPELINE, "pipeline")
    assert check("prod-pipeline-requires-approval", PIPELINE, props) == []
    stage(props, "Approve")["beforeEntry"] = {
        "conditions": [{"result": "SKIP", "rules": [{"name": "always", "ruleTypeId": {"provider": "VariableCheck"}}]}]
    }
    only(check("prod-pipeline-requires-approval", PIPELINE, props), "no condition can skip")


# Production told by tags the stack does not write itself -----------------------------------------


@pytest.mark.parametrize(
    "tags",
    [
        {"tagsAll": {"ecs-cicd:production": "true"}},
        {"tags": {"Environment": "prod"}},
        {"tags": {"ENVIRONMENT": "live"}},
    ],
)
def test_a_pipeline_is_production_whatever_the_tags_spelling_or_source(tags):
    props = inputs_of("staging", PIPELINE, "pipeline")
    props["tags"] = {}
    props.update(tags)
    only(check("prod-pipeline-requires-approval", PIPELINE, props), "without a manual Approval")


# Policies the pack did not read -------------------------------------------------------------------

EVERYONE = policy_json([{"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}])


@pytest.mark.parametrize(
    ("type_", "prop"),
    [
        ("aws:secretsmanager/secret:Secret", "policy"),
        ("aws:sqs/queue:Queue", "policy"),
        ("aws:s3/bucket:Bucket", "policy"),
        ("aws:s3/accessPoint:AccessPoint", "policy"),
        ("aws:ecr/repositoryCreationTemplate:RepositoryCreationTemplate", "repositoryPolicy"),
    ],
)
def test_every_resource_that_carries_a_policy_is_read(type_, prop):
    only(check("resource-policies-scoped", type_, {prop: EVERYONE}), 'allows "*"')


def test_permissions_for_everyone_need_a_source():
    permission = {"action": "lambda:InvokeFunction", "function": "f", "principal": "*"}
    only(check("resource-policies-scoped", "aws:lambda/permission:Permission", permission), "sourceAccount")
    pinned = {**permission, "sourceAccount": MOCK_ACCOUNT_ID}
    assert check("resource-policies-scoped", "aws:lambda/permission:Permission", pinned) == []
    bus = {"principal": "*", "statementId": "all"}
    only(check("resource-policies-scoped", "aws:cloudwatch/eventPermission:EventPermission", bus), "condition")


def test_user_and_group_policies_are_identity_policies_too():
    for type_ in ("aws:iam/userPolicy:UserPolicy", "aws:iam/groupPolicy:GroupPolicy"):
        bad = policy_json([{"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::b/*"}])
        only(check("iam-least-privilege", type_, {"policy": bad}), "wildcard")


def test_replica_keys_and_grants_are_read():
    replica = StackResource("aws:kms/replicaKey:ReplicaKey", {"policy": EVERYONE}, "urn:r", "r")
    assert any("use the key" in v.message for v in rules.check_kms_key_policies([replica]))
    grant = StackResource(
        "aws:kms/grant:Grant", {"granteePrincipal": f"arn:aws:iam::{FOREIGN}:root", "operations": ["Decrypt"]}, "urn:g"
    )
    (violation,) = rules.check_principal_accounts([grant], trusted_accounts=[MOCK_ACCOUNT_ID])
    assert FOREIGN in violation.message and violation.urn == "urn:g"


# Secrets in commands, names the pack missed, and references that are no secret ----------------------


def test_tokens_in_buildspec_commands_and_container_commands():
    token = TOKENS["a GitLab token"]
    project = inputs_of("prod", PROJECT, "scan-sast-project")
    buildspec = yaml.safe_load(project["source"]["buildspec"])
    buildspec["phases"].setdefault("pre_build", {"commands": []})["commands"].append(
        f"curl -H 'PRIVATE-TOKEN: {token}' https://gitlab.example.com"
    )
    project["source"]["buildspec"] = yaml.safe_dump(buildspec)
    assert any("inline buildspec holds a GitLab token" in m for m in check("no-plaintext-secrets", PROJECT, project))
    task = task_definition_inputs("staging")
    containers = json.loads(task["containerDefinitions"])
    containers[0]["command"] = ["--api-key", TOKENS["a Stripe secret key"]]
    task["containerDefinitions"] = json.dumps(containers)
    only(check("no-plaintext-secrets", "aws:ecs/taskDefinition:TaskDefinition", task), "command holds a Stripe")
    function = {"environment": {"variables": {"UPSTREAM_AUTH": TOKENS["an npm token"]}}}
    only(check("no-plaintext-secrets", "aws:lambda/function:Function", function), "Lambda environment")


@pytest.mark.parametrize("name", ["DB_PASS", "PASSPHRASE", "PWD", "SIGNING_KEY", "ENCRYPTION_KEY"])
def test_secret_names_the_pack_used_to_miss(name):
    parameter = {"name": name, "type": "String", "value": "x"}
    only(check("no-plaintext-secrets", "aws:ssm/parameter:Parameter", parameter), "its name says")


def test_a_reference_to_a_secret_is_no_secret_and_identifiers_are_no_keys():
    reference = f"arn:aws:secretsmanager:eu-west-1:{MOCK_ACCOUNT_ID}:secret:db-AbCdEf"
    project = inputs_of("prod", PROJECT, "scan-sast-project")
    project["environment"]["environmentVariables"].append({"name": "DB_SECRET_ARN", "value": reference})
    assert check("no-plaintext-secrets", PROJECT, project) == []
    assert rules.looks_like_a_secret("ThisIsALongCamelCaseIdentifier1234567890") == ""
    assert rules.looks_like_a_secret("aws_secret_access_key=" + TOKENS["an AWS secret access key"]) != ""


def test_the_approved_image_buildspec_cannot_be_steered_by_project_variables():
    project = inputs_of("prod", PROJECT, "build-project")
    assert check("codebuild-privileged-only-for-image-builds", PROJECT, project) == []
    project["environment"]["environmentVariables"].append({"name": "BUILDKIT_IMAGE", "value": "moby/buildkit:latest"})
    only(check("codebuild-privileged-only-for-image-builds", PROJECT, project), "override", "BUILDKIT_IMAGE")
