"""Helpers shared by the tests: each stack file is evaluated once per session (the harness is deterministic)."""

from functools import cache
from pathlib import Path

from components.testing import StackRun, run_stack

ROOT = Path(__file__).resolve().parent.parent
# Every stack file of the program: a stack added is a stack tested.
STACKS = tuple(sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in ROOT.glob("Pulumi.*.yaml")))
# The stacks that deploy a service of their own (not the delivery stack, which only builds for its
# promotion targets): what a test of the stack's own deploy is about.
DEPLOYING = tuple(s for s in STACKS if s != "delivery")


@cache
def evaluated(stack: str) -> StackRun:
    return run_stack(stack)


def policy_of(run: StackRun, role_name: str) -> dict:
    """The inline policy document of the role registered as `role_name`."""
    return run.named(f"{role_name}-policy").json_input("policy")


def statements_by_sid(policy: dict) -> dict[str, dict]:
    return {statement["Sid"]: statement for statement in policy["Statement"]}


def stack_settings_of(stack: str) -> dict:
    """The stack file's config, as `run_stack` overrides take it."""
    from components.settings import stack_config

    return stack_config(stack)


RULE = "aws:cloudwatch/eventRule:EventRule"


def fired(run: StackRun, event: dict, region: str = "eu-west-1") -> list[str]:
    """Which alert rules of `run` in `region` match `event`, by the part of their name after
    `-alerts-` (EventBridge's matching, as moto implements it)."""
    from moto.events.models import EventPattern

    names = []
    for rule in run.of_type(RULE):
        if rule.region == region and EventPattern.load(rule.inputs["eventPattern"]).matches_event(event):
            names.append(rule.name.split("-alerts-", 1)[-1])
    return sorted(names)


def api_call(source: str, event_name: str, request: dict, *, role: str = "", user: str = "", path: str = "/") -> dict:
    """An "AWS API Call via CloudTrail" event, as EventBridge delivers it, made by an assumed role
    (whose ARN carries its IAM `path`) or a user."""
    account = "111122223333"
    if role:
        identity = {
            "type": "AssumedRole",
            "arn": f"arn:aws:sts::{account}:assumed-role/{role}/session",
            "sessionContext": {
                "sessionIssuer": {
                    "type": "Role",
                    "userName": role,
                    "arn": f"arn:aws:iam::{account}:role{path}{role}",
                }
            },
        }
    else:
        identity = {"type": "IAMUser", "arn": f"arn:aws:iam::{account}:user/{user or 'alice'}", "userName": user}
    return {
        "source": source,
        "detail-type": "AWS API Call via CloudTrail",
        "detail": {
            "eventSource": source.removeprefix("aws.") + ".amazonaws.com",
            "eventName": event_name,
            "requestParameters": request,
            "userIdentity": identity,
        },
    }


def execution_event(pipeline: str, state: str) -> dict:
    """A CodePipeline execution state change event."""
    return {
        "source": "aws.codepipeline",
        "detail-type": "CodePipeline Pipeline Execution State Change",
        "detail": {"pipeline": pipeline, "state": state, "execution-id": "0000"},
    }


def run_example(directory, config: dict, stack: str) -> StackRun:
    """An example's `__main__.py` with `config`, as `pulumi up --stack <stack>` would run it there."""
    import runpy
    import sys

    import yaml

    from components.testing import run_program

    project = yaml.safe_load((directory / "Pulumi.yaml").read_text())["name"]
    sys.path.insert(0, str(directory))
    try:
        return run_program(
            lambda: runpy.run_path(str(directory / "__main__.py"), run_name="__main__"),
            config,
            stack=stack,
            project=project,
        )
    finally:
        sys.path.remove(str(directory))
