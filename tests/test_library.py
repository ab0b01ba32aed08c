"""The components composed by another program, the way a library user would, without __main__.py."""

import re

import pulumi
import pulumi_aws as aws
import pytest

from components import (
    ArtifactStore,
    EcsDeploy,
    GitHubSource,
    ImageBuild,
    Pipeline,
    StageDefinition,
)
from components.iam import allow
from components.testing import run_program


def store_and_source() -> tuple[ArtifactStore, GitHubSource]:
    """The pieces most library tests start from (inside a program run)."""
    return ArtifactStore("store", {"protect": False}), GitHubSource("src", {"repository": "acme/app"})


def store_source_build() -> tuple[ArtifactStore, GitHubSource, ImageBuild]:
    store, source = store_and_source()
    return store, source, ImageBuild("img", {"source": source, "artifact_store": store, "container_name": "app"})


def two_services_sharing_one_store():
    store = ArtifactStore("shared", {"protect": False})
    for service in ("api", "worker"):
        source = GitHubSource(f"{service}-source", {"repository": "acme/monorepo", "branch": "main"})
        build = ImageBuild(
            f"{service}-build",
            {"source": source, "artifact_store": store, "container_name": service, "protect": False},
        )
        notify = StageDefinition(
            name="Notify",
            actions=[
                aws.codepipeline.PipelineStageActionArgs(
                    name="Chat",
                    category="Invoke",
                    owner="AWS",
                    provider="Lambda",
                    version="1",
                    configuration={"FunctionName": "notify-chat"},
                )
            ],
            pipeline_role_statements=[
                allow(
                    "InvokeNotifier",
                    ["lambda:InvokeFunction"],
                    ["arn:aws:lambda:eu-west-1:111122223333:function:notify-chat"],
                )
            ],
        )
        deploy = EcsDeploy(
            f"{service}-deploy",
            {
                "build": build,
                "cluster": "shared",
                "service": service,
                "task_role_arns": [f"arn:aws:iam::111122223333:role/{service}-task"],
                "task_family": service,
            },
        )
        pipeline = Pipeline(
            f"{service}-pipeline",
            {"stages": [source.stage, build.stage, deploy.stage, notify], "artifact_store": store},
        )
        pulumi.export(f"{service}Pipeline", pipeline.pipeline.name)


def test_a_program_composes_two_pipelines_with_a_custom_stage_and_one_store():
    run = run_program(two_services_sharing_one_store, {"aws:region": "eu-west-1"})
    assert run.outputs == {"apiPipeline": "api-pipeline", "workerPipeline": "worker-pipeline"}
    assert len(run.of_type("aws:s3/bucket:Bucket")) == 1
    pipelines = run.of_type("aws:codepipeline/pipeline:Pipeline")
    assert [[s["name"] for s in p.inputs["stages"]] for p in pipelines] == [["Source", "Build", "Deploy", "Notify"]] * 2
    bucket = run.one("aws:s3/bucket:Bucket").inputs["bucket"]
    assert {p.inputs["artifactStores"][0]["location"] for p in pipelines} == {bucket}


def test_a_custom_stage_brings_its_own_permissions_to_the_pipeline_role():
    run = run_program(two_services_sharing_one_store, {"aws:region": "eu-west-1"})
    policy = run.named("api-pipeline-role-policy").json_input("policy")
    sids = {s["Sid"]: s for s in policy["Statement"]}
    assert sids["InvokeNotifier"]["Action"] == ["lambda:InvokeFunction"]
    # Given explicit task roles, the deploy passes exactly those and reads nothing from AWS.
    deploy = run.named("api-pipeline-deploy-service-role-policy").json_input("policy")
    sids = {s["Sid"]: s for s in deploy["Statement"]}
    assert sids["PassOnlyTheServiceRoles"]["Resource"] == ["arn:aws:iam::111122223333:role/api-task"]
    assert not any("ecs/get" in token for token in run.invokes)


def test_the_pipeline_refuses_a_deploy_whose_input_no_stage_produces():
    def program():
        store, source, build = store_source_build()
        deploy = EcsDeploy(
            "dep", {"build": build, "cluster": "c", "service": "s", "task_role_arns": [], "task_family": "s"}
        )
        Pipeline("no-build", {"stages": [source.stage, deploy.stage], "artifact_store": store})

    with pytest.raises(ValueError, match=r"Deploy/Service reads \['BuildOutput'\], which no earlier stage produces"):
        run_program(program)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"timeout_minutes": 61}, "timeout_minutes=61 is not allowed; allowed: 1 to 60"),
        ({"cluster": "bad name"}, "cluster='bad name' is not an ECS cluster name"),
    ],
)
def test_components_validate_their_arguments(args, message):
    def program():
        *_, build = store_source_build()
        EcsDeploy("dep", {"build": build, "cluster": "c", "service": "s", **args})

    with pytest.raises(ValueError, match=message):
        run_program(program)


def test_one_set_of_scans_serves_pipelines_of_ones_own():
    """`SecurityScans(sources=...)`: one project per scan for several pipelines, each pipeline's
    stage reading its own source; neither or both of `source` and `sources` is an error."""
    from components import SecurityScans

    def program():
        store = ArtifactStore("store", {"protect": False})
        sources = [GitHubSource(f"{s}-source", {"repository": f"acme/{s}"}) for s in ("api", "web")]
        scans = SecurityScans("scans", {"sources": sources, "artifact_store": store})
        for source in sources:
            stage = scans.stage_for(source)
            assert [a.input_artifacts for a in stage.actions] == [[source.output_artifact]] * 3
            assert stage.project_names == ["scans-sca", "scans-sast", "scans-secrets"]

    run = run_program(program, {"aws:region": "eu-west-1"})
    assert len(run.of_type("aws:codebuild/project:Project")) == 3
    assert "the stack's 2 repositories" in run.named("scans-sast-project").inputs["description"]
    for wrong in ({}, {"sources": []}):
        with pytest.raises(ValueError, match=r"give exactly one of source .* and sources"):
            run_program(lambda w=wrong: SecurityScans("scans", {"artifact_store": ArtifactStore("s", {}), **w}))


def test_the_pipeline_refuses_a_rollback_in_parallel_mode():
    def program():
        store = ArtifactStore("store", {})
        source = GitHubSource("src", {"repository": "acme/app"})
        build = ImageBuild("img", {"source": source, "artifact_store": store, "container_name": "app"})
        deploy = EcsDeploy(
            "dep", {"build": build, "cluster": "c", "service": "s", "task_role_arns": [], "task_family": "s"}
        )
        Pipeline(
            "p",
            {
                "stages": [source.stage, build.stage, deploy.stage.rolling_back_on_failure()],
                "artifact_store": store,
                "execution_mode": "PARALLEL",
            },
        )

    with pytest.raises(ValueError, match="AWS does not allow in PARALLEL mode"):
        run_program(program, {"aws:region": "eu-west-1"})


# --- arguments are checked as the stack config is ----------------------------------------------


def config_message(config: dict) -> str:
    """What the stack config validation says of the same values."""
    from components.settings import SettingsError, from_mapping

    base = {"source": {"repository": "acme/app"}, "service": {"cluster": "c", "name": "s", "container": "app"}}
    with pytest.raises(SettingsError) as refused:
        from_mapping({**base, **config}, "dev", region="eu-west-1")
    return str(refused.value).split("\n  - ", 1)[1]


def test_a_misspelt_argument_is_an_error_not_ignored():
    def program():
        store = ArtifactStore("store", {"protect": False})
        GitHubSource("src", {"repository": "acme/app", "brnach": "release"})
        del store

    with pytest.raises(ValueError, match=r"GitHubSource src: unknown argument\(s\) brnach; allowed: .*branch"):
        run_program(program)


def image_build(**extra):
    """A program of one ImageBuild (with its store and source) given `extra` arguments."""

    def program():
        store, source = store_and_source()
        ImageBuild("img", {"source": source, "artifact_store": store, "container_name": "app", **extra})

    return program


def test_the_library_refuses_what_the_config_refuses_with_the_same_message():
    bad_branch = config_message({"source": {"repository": "acme/app", "branch": "feature//x"}})
    with pytest.raises(ValueError) as refused:
        run_program(lambda: GitHubSource("src", {"repository": "acme/app", "branch": "feature//x"}))
    assert str(refused.value) == f"GitHubSource src: {bad_branch}"

    leaked = config_message({"build": {"environment": {"API_TOKEN": "x"}}})

    with pytest.raises(ValueError) as refused:
        run_program(image_build(environment={"API_TOKEN": "x"}))
    assert str(refused.value) == f"ImageBuild img: {leaked}"


def test_secrets_can_be_written_as_a_mapping_of_name_to_reference():
    reference = "arn:aws:secretsmanager:eu-west-1:111122223333:secret:npm-AbCdEf"

    run = run_program(image_build(secrets={"NPM_TOKEN": reference}))
    variables = run.one("aws:codebuild/project:Project", "img-project").inputs["environment"]["environmentVariables"]
    assert {"name": "NPM_TOKEN", "value": reference, "type": "SECRETS_MANAGER"} in variables

    with pytest.raises(ValueError, match=r"ImageBuild img: ecs-cicd:build\.secrets\.NPM_TOKEN = 'hunter2'"):
        run_program(image_build(secrets={"NPM_TOKEN": "hunter2"}))


def test_a_stage_takes_the_dict_form_of_an_action():
    action = {"name": "Chat", "category": "Invoke", "owner": "AWS", "provider": "Lambda", "version": "1"}
    stage = StageDefinition(name="Notify", actions=[action])
    assert isinstance(stage.actions[0], aws.codepipeline.PipelineStageActionArgs)
    assert stage.actions[0].name == "Chat"
    with pytest.raises(ValueError, match="StageDefinition Notify: action 'Chat'"):
        StageDefinition(name="Notify", actions=[{**action, "catgory": "Invoke"}])


def ecs_service(**args):
    from components import ContainerContract, EcsService

    base = {
        "cluster": "apps",
        "service": "orders",
        "container": ContainerContract("app", 8080),
        "image_repository_arn": "arn:aws:ecr:eu-west-1:111122223333:repository/orders",
    }
    return lambda: EcsService("orders", {**base, **args})


@pytest.mark.parametrize(
    ("args", "message"),
    [
        # A misspelt traffic key would fall back to the default share, silently.
        ({"strategy": "canary", "traffic": {"canary_pct": 50}}, r"traffic has unknown key\(s\) canary_pct"),
        ({"strategy": "canary", "traffic": {"canary_percent": 0}}, r"canary_percent = 0 is out of range"),
        ({"autoscaling": {"min": 1, "max": 4, "target_cpu": 50}}, r"autoscaling has unknown key\(s\) target_cpu"),
        ({"autoscaling": {"min": 5, "max": 4}}, r"allowed: min and max, min <= max"),
        ({"autoscaling": {"min": 1, "max": 4}, "desired_count": 3}, "desired_count and autoscaling exclude"),
        ({"cpu": 300}, r"EcsService orders: cpu = 300 is not allowed"),
        ({"health_check_path": "health"}, r"health_check_path = 'health' is not valid"),
        ({"traffic": {"bake_time_minutes": 10}}, r"traffic applies to strategy blue-green, canary or linear"),
        ({"check_timeout_seconds": 60}, r"check_timeout_seconds applies to strategy blue-green"),
        ({"blue_green": True}, r"blue_green \(a service on CodeDeploy\) was removed"),
    ],
)
def test_the_service_component_checks_what_the_config_checks(args, message):
    with pytest.raises(ValueError, match=message):
        run_program(ecs_service(**args))


def test_every_exported_type_resolves_with_get_type_hints():
    """Editors, type checkers and docs generators call it; Pulumi's `Input` alone would fail."""
    import typing

    import pulumi

    import components

    for name in components.__all__:
        exported = getattr(components, name)
        if isinstance(exported, type) and issubclass(exported, pulumi.Resource):
            # Pulumi's own Resource annotations do not resolve (its `Input` forward reference): the
            # component's own annotations and its __init__ must.
            own = type(name, (), {"__annotations__": vars(exported).get("__annotations__", {})})
            own.__module__ = exported.__module__
            typing.get_type_hints(own)
            typing.get_type_hints(exported.__init__)
        else:
            typing.get_type_hints(exported)


def test_every_public_attribute_a_component_sets_is_declared():
    import ast
    from pathlib import Path

    undeclared = {}
    for path in sorted((Path(__file__).resolve().parent.parent / "components").glob("*.py")):
        for node in ast.parse(path.read_text()).body:
            if not (isinstance(node, ast.ClassDef) and any("ComponentResource" in ast.unparse(b) for b in node.bases)):
                continue
            declared = {
                n.target.id for n in node.body if isinstance(n, ast.AnnAssign) and isinstance(n.target, ast.Name)
            }
            assigned = {
                target.attr
                for sub in ast.walk(node)
                if isinstance(sub, (ast.Assign, ast.AnnAssign))
                for whole in (sub.targets if isinstance(sub, ast.Assign) else [sub.target])
                for target in (whole.elts if isinstance(whole, ast.Tuple) else [whole])
                if isinstance(target, ast.Attribute)
                and isinstance(target.value, ast.Name)
                and target.value.id == "self"
                and not target.attr.startswith("_")
            }
            if assigned - declared:
                undeclared[f"{path.stem}.{node.name}"] = sorted(assigned - declared)
    assert not undeclared


def test_help_shows_each_components_arguments():
    import pydoc

    import components
    from components.args import argument_docs

    for name in components.__all__:
        args_type = getattr(components, f"{name}Args", None)
        if args_type is None:
            continue
        text = pydoc.render_doc(getattr(components, name), renderer=pydoc.plaintext)
        for field, _kind, doc in argument_docs(args_type):
            assert f"{field}: " in text, (name, field)
            assert not doc or doc.split()[0] in text, (name, field)
    assert "GitHub repository as `owner/name`" in pydoc.render_doc(components.GitHubSource, renderer=pydoc.plaintext)


def test_the_account_is_looked_up_once_per_program_run():
    from collections import Counter

    from components.testing import run_stack

    from .test_aws_limits import MONOREPO

    invokes = Counter(run_stack("shop-dev", project_dir=MONOREPO).invokes)  # three services, a dozen components
    assert invokes["aws:index/getCallerIdentity:getCallerIdentity"] == 1
    assert invokes["aws:index/getRegion:getRegion"] == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"stage_name": "Deploy prod"}, "stage_name='Deploy prod' is not a stage name"),
        ({"stage_name": "x" * 101}, "is not a stage name"),
        (
            {"deploy_role_arn": "arn:aws:iam::444455556666:root"},
            "deploy_role_arn='arn:aws:iam::444455556666:root' is not a role's ARN",
        ),
        ({"region": "eu-central-1"}, "region='eu-central-1' needs deploy_role_arn"),
        (
            {"region": "eu-central", "deploy_role_arn": "arn:aws:iam::444455556666:role/d"},
            "EcsDeploy dep: region='eu-central' is not an AWS region",
        ),
    ],
)
def test_a_cross_account_deploy_checks_its_stage_name_and_role(args, message):
    def program():
        *_, build = store_source_build()
        EcsDeploy("dep", {"build": build, "cluster": "c", "service": "s", **args})

    with pytest.raises(ValueError, match=re.escape(message)):
        run_program(program)


def test_a_check_of_another_accounts_service_checks_its_role():
    from components import ServiceCheck

    def program():
        store, source = store_and_source()
        service = {"cluster": "c", "service": "s", "arn": "arn:aws:ecs:eu-west-1:444455556666:service/c/s",
                   "container": "app", "image": "#{BuildVariables.IMAGE_URI}"}  # fmt: skip
        ServiceCheck("chk", {"artifact_store": store, "source": source, "service": service, "check_role_arn": "*"})

    with pytest.raises(ValueError, match=re.escape("ServiceCheck chk: check_role_arn='*' is not a role's ARN")):
        run_program(program)


@pytest.mark.parametrize(
    ("regional", "message"),
    [
        (
            {},
            "action Deploy/Service runs in 'eu-central-1', which has no artifact store; allowed: regions of "
            "regional_artifact_stores (none)",
        ),
        (
            {"us-east-1": "store"},
            "runs in 'eu-central-1', which has no artifact store; allowed: regions of "
            "regional_artifact_stores (us-east-1)",
        ),
        ({"eu_central_1": "store"}, "regional_artifact_stores key='eu_central_1' is not an AWS region"),
        (
            {"us-east-1": "store", "eu-central-1": "store"},  # run_program's region is us-east-1
            "regional_artifact_stores has the pipeline's own region us-east-1, whose store is artifact_store",
        ),
    ],
)
def test_a_cross_region_action_needs_an_artifact_store_in_its_region(regional, message):
    """CodePipeline: "There must be an artifact store for the pipeline Region and for each
    cross-region action in the pipeline" (AWS::CodePipeline::Pipeline ArtifactStoreMap)."""

    def program():
        store, source, build = store_source_build()
        role = "arn:aws:iam::444455556666:role/deploy"
        deploy = EcsDeploy("dep", {"build": build, "cluster": "c", "service": "s", "deploy_role_arn": role,
                                   "region": "eu-central-1"})  # fmt: skip
        stores = {region: store for region in regional}
        Pipeline("p", {"stages": [source.stage, build.stage, deploy.stage], "artifact_store": store,
                       "regional_artifact_stores": stores})  # fmt: skip

    with pytest.raises(ValueError, match=re.escape(message)):
        run_program(program)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"regoin": "eu-central-1"}, "ServiceCheck chk: service has unknown keys ['regoin']"),
        ({"region": "eu-central"}, "ServiceCheck chk: service region='eu-central' is not an AWS region"),
    ],
)
def test_a_check_refuses_an_unknown_service_key_and_a_region_that_is_none(extra, message):
    from components import ServiceCheck

    def program():
        store, source = store_and_source()
        service = {"cluster": "c", "service": "s", "arn": "arn:aws:ecs:eu-west-1:444455556666:service/c/s",
                   "container": "app", "image": "#{BuildVariables.IMAGE_URI}", **extra}  # fmt: skip
        ServiceCheck("chk", {"artifact_store": store, "source": source, "service": service})

    with pytest.raises(ValueError, match=re.escape(message)):
        run_program(program)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"provider_settings": {"profile": "x"}}, "ArtifactStore s: provider_settings go with region"),
        ({"region": "mars-1"}, "ArtifactStore s: region='mars-1' is not an AWS region"),
    ],
)
def test_a_store_of_another_region_checks_its_region(args, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        run_program(lambda: ArtifactStore("s", {"protect": False, **args}))


def test_alerts_watch_a_pipeline_without_a_service_here_but_not_half_a_service():
    from components import PipelineAlerts

    def program(watched):
        store = ArtifactStore("store", {"protect": False})
        PipelineAlerts("alerts", {"artifact_store": store, "pipelines": {"p": {"pipeline_name": "p", **watched}}})

    run = run_program(lambda: program({"service": None}))
    assert not [r for r in run.of_type("aws:cloudwatch/eventRule:EventRule") if "service-bypass" in r.name]
    with pytest.raises(ValueError, match=re.escape("pipelines[p] names a service without cluster, service_callers")):
        run_program(lambda: program({"service": "s"}))
    # Leaving the service out is no way to lose its bypass alert: it is said, or refused.
    with pytest.raises(ValueError, match=re.escape("pipelines[p].service is required (None for a pipeline that")):
        run_program(lambda: program({}))
