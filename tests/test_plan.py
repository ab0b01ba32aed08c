"""`make plan`: warnings first, nothing cut off the page, every resource (awsx's too), what each
role may do, a rough cost, and the same model as Markdown and JSON."""

import json
import re
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from components import plan, plan_model
from components.settings import stack_settings

from .helpers import STACKS, evaluated

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = json.loads((ROOT / "schemas" / "plan.schema.json").read_text())


def model(stack: str) -> dict:
    return plan_model.build(evaluated(stack), stack_settings(stack))


@pytest.mark.parametrize("stack", STACKS)
def test_the_json_is_what_its_schema_documents(stack):
    jsonschema.Draft202012Validator(SCHEMA).validate(model(stack))


def test_the_json_on_stdout_is_the_model(capsys):
    assert plan.main(["staging", "--format", "json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == json.loads(json.dumps(model("staging")))


def test_warnings_come_first_and_nothing_is_cut_when_not_on_a_terminal():
    result = subprocess.run(
        [sys.executable, "-m", "components.plan", "prod"], cwd=ROOT, capture_output=True, text=True, check=True
    )
    lines = result.stdout.splitlines()
    assert lines[0].startswith("unheard:") or lines[0].startswith("insecure:")
    stack_line = next(i for i, line in enumerate(lines) if line.startswith("Stack prod"))
    assert all(line.startswith(("unheard:", "insecure:")) or not line for line in lines[:stack_line])
    assert "…" not in result.stdout
    longest = max((r["name"] for r in model("prod")["resources"]), key=len)
    assert len(longest) > 50 and longest in result.stdout
    # One line per warning, however long.
    assert all(len(line) > 100 for line in lines[:stack_line] if line)


def test_awsx_resources_are_counted_as_awsx_creates_them():
    staging = model("staging")
    by_awsx = [r for r in staging["resources"] if r.get("createdBy") == "awsx:ec2:Vpc"]
    kinds = {r["type"]: sum(1 for x in by_awsx if x["type"] == r["type"]) for r in by_awsx}
    # Pulumi.staging.yaml: 2 zones, a single NAT gateway.
    assert kinds["aws:ec2/subnet:Subnet"] == 4 and kinds["aws:ec2/natGateway:NatGateway"] == 1
    assert kinds["aws:ec2/route:Route"] == 4 and kinds["aws:ec2/eip:Eip"] == 1
    assert (
        staging["resourceCount"]
        == len(staging["resources"])
        == sum(1 for _ in evaluated("staging").custom_resources()) + len(by_awsx)
    )


def test_each_role_shows_what_its_policy_allows():
    run = evaluated("staging")
    roles = {role["name"]: role for role in model("staging")["roles"]}
    assert set(roles) == {r.name for r in run.of_type("aws:iam/role:Role")}
    for policy in run.of_type("aws:iam/rolePolicy:RolePolicy"):
        role = next(r for r in run.of_type("aws:iam/role:Role") if r.urn == policy.parent)
        shown = {a for grant in roles[role.name]["permissions"] for a in grant["actions"]}
        for statement in json.loads(policy.inputs["policy"])["Statement"]:
            actions = statement.get("Action") or statement.get("NotAction")
            assert set([actions] if isinstance(actions, str) else actions) <= shown, (role.name, statement)
    (execution,) = [r for name, r in roles.items() if name.endswith("service-execution-role")]
    assert execution["trustedBy"] == ["ecs-tasks.amazonaws.com"]


def test_the_cost_counts_what_is_billed_by_the_hour():
    items = {item["what"].split(" (")[0]: item for item in model("staging")["cost"]["items"]}
    assert items["NAT gateway"]["count"] == 1
    fargate = next(item for what, item in items.items() if what.startswith("Fargate tasks of orders-api"))
    service = evaluated("staging").one("aws:ecs/service:Service").inputs
    assert fargate["count"] == service["desiredCount"]
    prices = plan_model.PRICES
    assert fargate["hourlyUsd"] == pytest.approx(
        0.5 * prices["fargate_vcpu_hour"] + 1 * prices["fargate_gb_hour"], abs=1e-5
    )
    assert model("dev")["cost"]["items"] == []  # an existing service: nothing new billed by the hour


def test_markdown_has_a_section_and_a_flowchart_per_pipeline(capsys):
    assert plan.main(["prod", "--format", "markdown"]) == 0
    text = capsys.readouterr().out
    pipelines = model("prod")["pipelines"]
    assert text.count("<details><summary>Pipeline") == len(pipelines)
    assert text.count("```mermaid") == len(pipelines)
    stages = [stage["name"] for stage in pipelines[0]["stages"]]
    chart = re.search(r"```mermaid\n(.*?)```", text, re.S).group(1)
    assert [
        re.search(r'subgraph s\d+\["([^"]+)"\]', line).group(1) for line in chart.splitlines() if "subgraph" in line
    ] == stages
    assert "Approve" in stages and stages.index("Approve") < stages.index("Deploy")


def test_names_with_markup_or_table_characters_are_printed_as_they_are():
    text = plan.markdown(
        {**model("dev"), "warnings": ["x: a [/api] | b <script>"], "pipelines": [], "roles": [], "resources": []}
    )
    assert "a \\[/api\\] \\| b &lt;script&gt;" in text  # Markdown and HTML escaped, shown as written
    console_text = plan_model.mermaid({"stages": [{"name": 'say "hi"', "actions": []}]})
    assert '"' not in console_text.split("[", 1)[1].split("]")[0].strip('"')


def test_a_glob_cannot_inject_markdown_into_the_pull_request_comment():
    text = plan.markdown(
        {
            **model("dev"),
            "warnings": [],
            "pipelines": [
                {
                    **model("dev")["pipelines"][0],
                    "triggers": ["push touching [click](https://evil.example) ![i](https://evil.example/p.png) **x**"],
                }
            ],
        }
    )
    line = next(line for line in text.splitlines() if line.startswith("Triggers:"))
    assert "](" not in line.replace("\\](", "") and "**" not in line


def test_mermaid_labels_cannot_end_early():
    chart = plan_model.mermaid(
        {"stages": [{"name": 'a"] --> evil["b', "actions": [{"name": "x<y>#", "provider": "P", "target": '"t"'}]}]}
    )
    for line in chart.splitlines()[1:]:
        if "[" in line:
            label = line.split('["', 1)[1].rsplit('"]', 1)[0]
            assert '"' not in label and "<" not in label.replace("<br/>", "")


# Pulumi.staging.yaml keeps the defaults: 2 health checks 10 s apart, a 30 s deregistration delay,
# 5 minutes of bake time, a 10% canary for 5 minutes, or 10% steps a minute apart (nine waits).
@pytest.mark.parametrize(
    ("strategy", "seconds"),
    [
        ("rolling", 20 + 30),
        ("blue-green", 20 + 300 + 30),
        ("canary", 20 + 300 + 300 + 30),
        ("linear", 20 + 540 + 300 + 30),
    ],
)
def test_the_deploy_time_is_the_sum_of_its_terms_from_the_config(strategy, seconds):
    from components.settings import from_mapping, stack_config
    from components.testing import run_stack

    config = {
        **stack_config("staging"),
        "ecs-cicd:deploy": {"requireApproval": False, "timeoutMinutes": 60, "strategy": strategy},
    }
    raw = {key.removeprefix("ecs-cicd:"): value for key, value in config.items() if key.startswith("ecs-cicd:")}
    settings = from_mapping(raw, "staging", region="eu-west-1")
    (pipeline,) = plan_model.build(run_stack("staging", config), settings)["pipelines"]
    timing = pipeline["deployTime"]
    assert timing["minimumSeconds"] == seconds == sum(term["seconds"] for term in timing["terms"])
    assert all(term["source"].startswith("https://docs.aws.amazon.com/") for term in timing["terms"])
    assert "the new tasks' start (image pull and application start)" in timing["notModelled"]
    path = pipeline["criticalPath"]
    (service,) = [step for step in path["steps"] if step["action"] == "Service"]
    assert service["leastSeconds"] == seconds and service["mostSeconds"] == 60 * 60  # DeploymentTimeout
    assert any("deploy.bakeTimeMinutes" in item for item in path["waste"]) is (strategy != "rolling")


def test_the_path_to_production_takes_the_slowest_of_each_parallel_group_and_adds_them_up():
    """Per stage and run order, the action that can take longest; its bound from the registered
    resources (a CodeBuild project's queued and build timeouts), the approval's seven days."""
    run = evaluated("prod")
    (pipeline,) = model("prod")["pipelines"]
    path = pipeline["criticalPath"]
    assert [(s["stage"], s["action"]) for s in path["steps"]] == [
        ("Source", "Source"), ("Build", "Image"), ("Approve", "Approve"), ("Deploy", "Service"), ("Deploy", "Check"),
    ]  # fmt: skip
    projects = {p.inputs["name"]: p.inputs for p in run.of_type("aws:codebuild/project:Project")}
    stages = {stage["name"]: stage for stage in run.one("aws:codepipeline/pipeline:Pipeline").inputs["stages"]}
    bounds = {
        action["name"]: 60 * (projects[name]["queuedTimeout"] + projects[name]["buildTimeout"])
        for action in stages["Build"]["actions"]
        if (name := action["configuration"]["ProjectName"])
    }
    (build,) = [s for s in path["steps"] if s["stage"] == "Build"]
    assert build["mostSeconds"] == max(bounds.values()) == bounds["Image"]
    assert sorted(build["parallelWith"]) == sorted(set(bounds) - {"Image"})
    (approve,) = [s for s in path["steps"] if s["stage"] == "Approve"]
    assert approve["mostSeconds"] == 7 * 24 * 3600 and approve["leastSeconds"] is None
    assert path["mostSeconds"] == sum(s["mostSeconds"] or 0 for s in path["steps"])
    assert path["unbounded"] == ["Source/Source", "Deploy/Service"]  # GitHub; CodeDeploy's own group
    assert path["waste"] == []  # CodeDeploy's group waits as it says, not deploy.bakeTimeMinutes
    assert all(s["source"].startswith("https://docs.aws.amazon.com/") for s in path["steps"] if s["mostSeconds"])


def test_sequential_builds_that_read_nothing_from_each_other_are_called_waste():
    def action(name, order, inputs=(), outputs=(), configuration=None):
        return {"name": name, "provider": "CodeBuild", "runOrder": order, "inputArtifacts": list(inputs),
                "outputArtifacts": list(outputs), "configuration": configuration or {"ProjectName": name}}  # fmt: skip

    stages = [
        {"name": "Test", "actions": [action("Unit", 1, outputs=["Report"]), action("Lint", 2)]},
        {"name": "Package", "actions": [action("Compile", 1, outputs=["Jar"]), action("Zip", 2, inputs=["Jar"])]},
        {
            "name": "Publish",
            "actions": [
                {**action("Tag", 1), "namespace": "Tag"},
                action("Push", 2, configuration={"ProjectName": "Push", "EnvironmentVariables": "#{Tag.VERSION}"}),
            ],
        },
    ]
    path = plan_model.critical_path({"stages": stages}, {}, None)
    assert path["waste"] == ["Test/Lint waits for Unit but reads nothing they produce: it could run beside them"]


def test_an_unbounded_action_beside_bounded_ones_makes_the_step_unbounded():
    build = {"name": "Image", "provider": "CodeBuild", "configuration": {"ProjectName": "image"}}
    invoke = {"name": "Notify", "provider": "Lambda", "configuration": {"FunctionName": "notify"}}
    approve = {"name": "Approve", "provider": "Manual", "timeoutInMinutes": 60, "configuration": {}}
    projects = {"image": {"name": "image", "queuedTimeout": 5, "buildTimeout": 10}}
    stages = [{"name": "Build", "actions": [build, invoke]}, {"name": "Approve", "actions": [approve]}]
    path = plan_model.critical_path({"stages": stages}, projects, None)
    (step, approval) = path["steps"]
    assert (step["action"], step["mostSeconds"], step["parallelWith"]) == ("Notify", None, ["Image"])
    assert path["unbounded"] == ["Build/Notify"]
    assert approval["mostSeconds"] == 3600  # the action's own timeout, not the seven days


def test_an_existing_services_deploy_time_is_not_guessed():
    (pipeline,) = model("dev")["pipelines"]
    assert pipeline["deployTime"]["minimumSeconds"] is None


def test_a_program_of_ones_own_is_planned_from_what_it_registers(capsys):
    """examples/two-services composes the components itself: no ecs-cicd settings to read."""
    assert plan.main(["example", "--project-dir", str(ROOT / "examples" / "two-services"), "--format", "json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    jsonschema.Draft202012Validator(SCHEMA).validate(printed)
    assert sorted(p["name"] for p in printed["pipelines"]) == ["shop-api", "shop-worker"]
    assert all("deploy" not in p for p in printed["pipelines"])
