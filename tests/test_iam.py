"""Least privilege, proven on the policies each stack would create."""

import json

import pytest

from components.iam import SOURCE_KEYS_SENT
from components.settings import stack_settings
from components.testing import run_stack

from .helpers import evaluated, policy_of, stack_settings_of, statements_by_sid

# Statements that may use Resource "*", each because AWS offers no resource-level permission
# for its actions. Any other wildcard resource fails the suite.
WILDCARD_RESOURCE_ALLOWED = {
    "EcrLoginNoResourceLevelPermissions": {"ecr:GetAuthorizationToken"},
    "TaskDefinitionsNoResourceLevelPermissions": {"ecs:DescribeTaskDefinition"},
    "RegisterUnprivilegedTaskDefinitionsNoResourceLevelPermissions": {"ecs:RegisterTaskDefinition"},
    "ReadTaskDefinitionNoResourceLevelPermissions": {"ecs:DescribeTaskDefinition"},
    "ListServiceTasksInThisClusterOnly": {"ecs:ListTasks"},
    "DescribeLoadBalancingNoResourceLevelPermissions": {
        "elasticloadbalancing:DescribeListeners",
        "elasticloadbalancing:DescribeRules",
        "elasticloadbalancing:DescribeTargetGroups",
        "elasticloadbalancing:DescribeTargetHealth",
    },
}


def all_policies(run):
    return [(r.name, r.json_input("policy")) for r in run.of_type("aws:iam/rolePolicy:RolePolicy")]


def test_no_statement_uses_a_wildcard_action(run):
    for name, policy in all_policies(run):
        for statement in policy["Statement"]:
            for action in statement["Action"]:
                assert "*" not in action, f"{name}: {statement['Sid']} grants {action}"


def test_wildcard_resources_only_where_aws_has_no_resource_level_permission(run):
    for name, policy in all_policies(run):
        for statement in policy["Statement"]:
            if "*" in statement["Resource"]:
                assert set(statement["Action"]) <= WILDCARD_RESOURCE_ALLOWED.get(statement["Sid"], set()), (
                    f"{name}: {statement['Sid']} uses Resource '*'"
                )


def test_every_resource_is_an_arn_in_the_stack_account(run, settings):
    # Of another account, only the roles a promotion target configures (to assume them).
    targets = {arn for t in settings.promotion for arn in (t.deploy_role_arn, t.check_role_arn) if arn}
    for name, policy in all_policies(run):
        for statement in policy["Statement"]:
            for resource in statement["Resource"]:
                if resource == "*":
                    continue
                assert resource.startswith("arn:aws:"), f"{name}: {resource}"
                account = resource.split(":")[4]
                assert account in ("", "111122223333") or (
                    resource in targets and statement["Action"] == ["sts:AssumeRole"]
                ), f"{name}: {resource} is outside the account"


def test_the_deploy_role_updates_only_its_service_and_passes_only_its_task_roles():
    run, settings = evaluated("dev"), stack_settings("dev")
    sids = statements_by_sid(policy_of(run, settings.pipeline.name + "-deploy-service-role"))
    service_arn = f"arn:aws:ecs:eu-west-1:111122223333:service/{settings.service.cluster}/{settings.service.name}"
    assert sids["UpdateTheService"]["Resource"] == [service_arn]
    pass_role = sids["PassOnlyTheServiceRoles"]
    assert pass_role["Action"] == ["iam:PassRole"]
    assert pass_role["Resource"] == [
        f"arn:aws:iam::111122223333:role/{settings.service.name}-execution",
        f"arn:aws:iam::111122223333:role/{settings.service.name}-task",
    ]
    assert pass_role["Condition"] == {"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}}
    list_tasks = sids["ListServiceTasksInThisClusterOnly"]
    assert list_tasks["Condition"]["ArnEquals"]["ecs:cluster"].endswith(f":cluster/{settings.service.cluster}")
    register = sids["RegisterUnprivilegedTaskDefinitionsNoResourceLevelPermissions"]
    assert register["Action"] == ["ecs:RegisterTaskDefinition"]
    assert register["Condition"] == {"BoolIfExists": {"ecs:privileged": "false"}}


def test_the_pipeline_role_runs_its_projects_and_assumes_the_deploy_role_but_cannot_deploy(run, settings):
    policy = policy_of(run, settings.pipeline.name + "-role")
    sids = statements_by_sid(policy)
    project = f"arn:aws:codebuild:eu-west-1:111122223333:project/{settings.pipeline.name}"
    assert sids["RunBuildProject"]["Resource"] == [f"{project}-build"]
    assert sids["RunScanProjects"]["Resource"] == sorted(f"{project}-scan-{k}" for k in ("sca", "sast", "secrets"))
    if settings.deploy_here:
        deploy_role = run.named(f"{settings.pipeline.name}-deploy-service-role").inputs["arn"]
        assert sids["AssumeActionRoles"] == {
            "Sid": "AssumeActionRoles",
            "Effect": "Allow",
            "Action": ["sts:AssumeRole"],
            "Resource": [deploy_role],
        }
    else:  # no deploy role of this account: the targets' own
        assert "AssumeActionRoles" not in sids
    targets = sorted(t.deploy_role_arn for t in settings.promotion)
    assert sids.get("AssumeTargetAccountsDeployRoles", {}).get("Resource", []) == targets
    actions = {action for statement in policy["Statement"] for action in statement["Action"]}
    assert not {a for a in actions if a.startswith(("ecs:", "iam:", "ecr:"))}


def test_connection_use_is_conditioned_on_this_repository(run, settings):
    sids = statements_by_sid(policy_of(run, settings.pipeline.name + "-role"))
    statement = sids["SourceUseConnection"]
    assert statement["Resource"] == [run.outputs["connectionArn"]]
    # and the source action fetches through that very connection, for that repository
    source = run.one("aws:codepipeline/pipeline:Pipeline").inputs["stages"][0]["actions"][0]["configuration"]
    assert (source["ConnectionArn"], source["FullRepositoryId"]) == (
        run.outputs["connectionArn"],
        settings.source.repository,
    )
    # StringEquals, not ForAllValues: a request without the key must not match vacuously.
    assert statement["Condition"] == {
        "StringEquals": {"codeconnections:FullRepositoryId": settings.source.repository},
        # Fetching only: the connection may not be used to write to the repository.
        "StringEqualsIfExists": {"codeconnections:ProviderPermissionsRequired": "read_only"},
    }


def test_the_build_role_cannot_deploy_or_pass_roles(run, settings):
    policy = policy_of(run, settings.pipeline.name + "-build-role")
    actions = {action for statement in policy["Statement"] for action in statement["Action"]}
    # Reading a task definition (to derive a blue/green template) is the only ECS call allowed.
    assert not {a for a in actions if a.startswith(("ecs:", "iam:", "codepipeline:"))} - {"ecs:DescribeTaskDefinition"}
    sids = statements_by_sid(policy)
    assert sids["PushToServiceRepository"]["Resource"] == [
        f"arn:aws:ecr:eu-west-1:111122223333:repository/{settings.build.repository_name}"
    ]
    assert sids["WriteBuildLogs"]["Resource"] == [
        f"arn:aws:logs:eu-west-1:111122223333:log-group:/aws/codebuild/{settings.pipeline.name}-build:*"
    ]


def test_the_build_role_reads_exactly_the_configured_secrets():
    policy = statements_by_sid(policy_of(evaluated("prod"), "orders-api-prod-build-role"))
    assert policy["ReadBuildSecrets"]["Resource"] == [
        "arn:aws:secretsmanager:eu-west-1:111122223333:secret:prod/orders-api/npm-token-Zx9Yw8"
    ]
    assert policy["ReadBuildParameters"]["Resource"] == [
        "arn:aws:ssm:eu-west-1:111122223333:parameter/prod/orders-api/sentry-auth-token"
    ]
    dev = statements_by_sid(policy_of(evaluated("dev"), "orders-api-dev-build-role"))
    assert "ReadBuildSecrets" not in dev and "ReadBuildParameters" not in dev


def codebuild_readers_of_the_source(run):
    """(action, its project's role policy) for every CodeBuild action that reads the source artifact."""
    projects = {p.inputs["name"]: p for p in run.of_type("aws:codebuild/project:Project")}
    roles = {r.inputs["arn"]: r for r in run.of_type("aws:iam/role:Role")}
    pipeline = run.one("aws:codepipeline/pipeline:Pipeline").inputs
    source = pipeline["stages"][0]["actions"][0]
    for stage in pipeline["stages"][1:]:
        for action in stage["actions"]:
            if action["provider"] == "CodeBuild" and source["outputArtifacts"][0] in action.get("inputArtifacts", []):
                role = roles[projects[action["configuration"]["ProjectName"]].inputs["serviceRole"]]
                yield source, action, run.named(f"{role.name}-policy").json_input("policy")


@pytest.mark.parametrize("full_clone", [True, False])
def test_every_codebuild_action_on_a_full_clone_may_use_the_connection_and_none_on_a_zip(stack, full_clone):
    """CodeBuild clones a CODEBUILD_CLONE_REF artifact through the connection, as the project's
    role: the image build, the scans, the tests and the check alike."""
    source = {**stack_settings_of(stack)["ecs-cicd:source"], "fullClone": full_clone}
    overrides = {"ecs-cicd:source": source, "ecs-cicd:build": {"testCommands": ["make test"]}}
    run = run_stack(stack, overrides)
    readers = list(codebuild_readers_of_the_source(run))
    assert len(readers) >= 5  # image, three scans, tests (and the check where there is one)
    for source_action, action, policy in readers:
        assert source_action["configuration"]["OutputArtifactFormat"] == (
            "CODEBUILD_CLONE_REF" if full_clone else "CODE_ZIP"
        )
        uses = [s for s in policy["Statement"] if any(a.endswith(":UseConnection") for a in s["Action"])]
        if not full_clone:
            assert uses == [], action["name"]
            continue
        (use,) = uses
        assert use["Resource"] == [run.outputs["connectionArn"]], action["name"]
        assert use["Condition"] == {
            "StringEqualsIfExists": {
                "codeconnections:FullRepositoryId": source["repository"],
                "codeconnections:ProviderPermissionsRequired": "read_only",
            }
        }, action["name"]


def test_roles_trust_one_service_for_one_resource_in_this_account(run, settings):
    roles = {r.name: json.loads(r.inputs["assumeRolePolicy"]) for r in run.of_type("aws:iam/role:Role")}
    pipeline_arn = run.named(f"{settings.pipeline.name}-role").inputs["arn"]
    for name, trust in roles.items():
        (statement,) = trust["Statement"]
        assert statement["Action"] == "sts:AssumeRole"
        if "AWS" in statement["Principal"]:
            # Action roles: only the pipeline's own role may assume them.
            assert statement["Principal"] == {"AWS": pipeline_arn}, name
            continue
        (service,) = [statement["Principal"]["Service"]]
        if not SOURCE_KEYS_SENT[service][0]:
            # Documented without conditions: one the service does not satisfy would lock it out.
            assert "Condition" not in statement, name
            continue
        assert statement["Condition"]["StringEquals"] == {"aws:SourceAccount": "111122223333"}, name
        assert str(statement["Condition"]["ArnLike"]["aws:SourceArn"]).startswith(("arn:aws:", "['arn:aws:")), name
    assert roles[f"{settings.pipeline.name}-role"]["Statement"][0]["Principal"] == {
        "Service": "codepipeline.amazonaws.com"
    }
    expected = {
        f"{settings.pipeline.name}-build-role": (
            "codebuild.amazonaws.com",
            f"arn:aws:codebuild:eu-west-1:111122223333:project/{settings.pipeline.name}-build",
        ),
        **{
            f"{settings.pipeline.name}-scan-{scan}-role": (
                "codebuild.amazonaws.com",
                f"arn:aws:codebuild:eu-west-1:111122223333:project/{settings.pipeline.name}-scan-{scan}",
            )
            for scan in ("sca", "sast", "secrets")
        },
    }
    for name, (service, source_arn) in expected.items():
        (statement,) = roles[name]["Statement"]
        assert statement["Principal"] == {"Service": service}
        assert statement["Condition"]["ArnLike"] == {"aws:SourceArn": source_arn}
    deploy_role = f"{settings.pipeline.name}-deploy-service-role"
    assert (
        (roles[deploy_role]["Statement"][0]["Principal"] == {"AWS": pipeline_arn})
        if settings.deploy_here
        else (deploy_role not in roles)
    )


def test_scan_projects_read_the_source_and_write_logs_only(run, settings):
    from components.artifacts import artifact_folder_pattern
    from components.settings import validation_pipeline_name

    clone = {"codeconnections:UseConnection"} if settings.source.full_clone else set()
    # A one-service stack's scans read its pipelines' folders, not the whole bucket.
    pipelines = [settings.pipeline.name] + (
        [validation_pipeline_name(settings.pipeline.name)] if settings.source.pull_requests else []
    )
    bucket = run.named(f"{settings.stack_name}-artifacts-bucket").inputs["arn"]
    for scan in ("sca", "sast", "secrets"):
        policy = policy_of(run, f"{settings.pipeline.name}-scan-{scan}-role")
        reads = next(s for s in policy["Statement"] if "s3:GetObject" in s["Action"])
        assert reads["Resource"] == sorted(f"{bucket}/{artifact_folder_pattern(p)}" for p in pipelines)
        actions = {action for statement in policy["Statement"] for action in statement["Action"]}
        assert actions == {
            "logs:CreateLogStream",
            "logs:PutLogEvents",
            "s3:GetObject",
            "s3:GetObjectVersion",
            "kms:Decrypt",
            *clone,
        }


def test_a_permissions_boundary_is_attached_to_every_role():
    boundary = "arn:aws:iam::111122223333:policy/ci-boundary"
    run = run_stack("dev", {"ecs-cicd:iam": {"permissionsBoundaryArn": boundary}})
    roles = run.of_type("aws:iam/role:Role")
    assert len(roles) == 8  # pipeline, deploy action, build, three scans, check, IAM event forwarder
    assert {r.name: r.inputs.get("permissionsBoundary") for r in roles} == {r.name: boundary for r in roles}


def role_arns_in(value) -> set[str]:
    """Every role ARN an input holds, however deep (a pipeline's actions carry their roles)."""
    if isinstance(value, dict):
        return {arn for item in value.values() for arn in role_arns_in(item)}
    if isinstance(value, list):
        return {arn for item in value for arn in role_arns_in(item)}
    return {value} if isinstance(value, str) and ":iam::" in value and ":role/" in value else set()


def test_whatever_runs_as_a_role_is_created_after_the_roles_permissions(run):
    """CreatePipeline starts a first execution at once, and a project, task definition or
    deployment group may run as its role as soon as it exists: each waits for the role's policy."""
    roles = {r.inputs["arn"]: r for r in run.of_type("aws:iam/role:Role")}
    policies = {p.parent: p.urn for p in run.of_type("aws:iam/rolePolicy:RolePolicy")}
    checked = 0
    for resource in run.custom_resources():
        if resource.type in ("aws:iam/role:Role", "aws:iam/rolePolicy:RolePolicy", "aws:kms/keyPolicy:KeyPolicy"):
            continue
        inputs = {k: v for k, v in resource.inputs.items() if k not in ("assumeRolePolicy", "policy")}
        for arn in role_arns_in(inputs) & set(roles):
            policy = policies.get(roles[arn].urn)
            if policy is None:
                continue  # a role with no permissions of its own (the task role)
            assert policy in resource.dependencies, f"{resource.name} does not wait for {roles[arn].name}'s policy"
            checked += 1
    assert checked >= 4
