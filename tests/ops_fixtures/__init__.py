"""Shared by the operations CLI tests (tests/test_ops_*.py): run `ecs-cicd` in-process against
Stubber-backed boto3 clients, with a recorded terminal and a sleep that only counts, and build the
CodePipeline responses the stubs hand back (each validated by Stubber against the AWS model)."""

import re
from datetime import UTC, datetime
from io import StringIO
from pathlib import Path
from typing import Any, Optional

import boto3
import botocore.loaders
import botocore.session
from botocore.stub import Stubber
from rich.console import Console

from ops.aws import Aws
from ops.cli import main
from ops.terminal import Terminal

PROJECT_DIR = Path(__file__).parent / "project"
REGION = "eu-west-1"
PIPELINE = "orders-api-prod"
ROLE = "arn:aws:iam::111122223333:role/orders-api-prod-role"
NOW = datetime(2025, 11, 25, 14, 12, 0, tzinfo=UTC)

# Executions, newest last, as the tests name them.
OLD = "0a1b2c3d-1111-4111-8111-111111111111"
PREVIOUS = "5e6f7a8b-2222-4222-8222-222222222222"
LATEST = "9c8d7e6f-3333-4333-8333-333333333333"
ROLLBACK = "b1c2d3e4-4444-4444-8444-444444444444"  # a rollback's commit is its target's
COMMITS = {
    OLD: ("1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b", "Add order export"),
    PREVIOUS: ("7f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b7a6f5e", "Bump base image"),
    LATEST: ("9f8e7d6c5b4a39281706f5e4d3c2b1a098765432", "Fix checkout rounding"),
}
BUILD_ID = "orders-api-prod:6a1d2f4e-8b3c-4d5e-9f60-7a8b9c0d1e2f"
CATEGORIES = {"CodeStarSourceConnection": "Source", "CodeBuild": "Build", "Manual": "Approval", "ECS": "Deploy"}


# AWS service models parsed once for all tests, not once per test: the suite stays fast.
_MODELS = botocore.loaders.create_loader()


def at(clock: str) -> datetime:
    """A moment on the tests' day, `at("14:02:11")`."""
    hour, minute, second = (int(part) for part in clock.split(":"))
    return NOW.replace(hour=hour, minute=minute, second=second)


class Cli:
    """One `ecs-cicd` invocation's world: stubbed clients, captured stdout/stderr, recorded sleeps."""

    def __init__(self, *, interactive: bool = False, answers: str = "", tty: bool = False):
        core = botocore.session.get_session()
        core.register_component("data_loader", _MODELS)
        session = boto3.Session(
            aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION, botocore_session=core
        )
        self.aws = Aws(session=session)
        self.stubbers: dict[tuple[str, Optional[str]], Stubber] = {}
        self._out, self._err = StringIO(), StringIO()
        self.sleeps: list[float] = []
        self.regions: list[Optional[str]] = []
        self.terminal = Terminal(
            out=Console(file=self._out, width=200, force_terminal=tty),
            err=Console(file=self._err, width=200),
            interactive=interactive,
            stdin=StringIO(answers),
            sleep=self.sleeps.append,
            now=lambda: NOW,
        )
        self.stub("codepipeline")  # an unexpected call fails the test instead of reaching for AWS

    def stub(self, service: str, region: Optional[str] = None) -> Stubber:
        key = (service, region)
        if key not in self.stubbers:
            self.stubbers[key] = Stubber(self.aws.client(service, region))
            self.stubbers[key].activate()
        return self.stubbers[key]

    def expect(self, service: str, method: str, response: dict[str, Any], **params: Any) -> None:
        """The next `method` call must carry exactly `params` (when given) and gets `response`."""
        self.stub(service).add_response(method, response, params or None)

    def expect_error(self, service: str, method: str, code: str, message: str = "", status: int = 400) -> None:
        self.stub(service).add_client_error(method, code, message, status)

    def run(self, *argv: str) -> int:
        def make_aws(region: Optional[str]) -> Aws:
            self.regions.append(region)
            return self.aws

        return main(list(argv), terminal=self.terminal, make_aws=make_aws)

    @property
    def stdout(self) -> str:
        return self._out.getvalue()

    @property
    def stderr(self) -> str:
        return self._err.getvalue()

    def assert_all_calls_made(self) -> None:
        for stubber in self.stubbers.values():
            stubber.assert_no_pending_responses()


def assert_row(text: str, *cells: str) -> None:
    """`text` has a line showing `cells` in order, however the table spaced them."""
    pattern = r"[ ]+".join(re.escape(cell) for cell in cells)
    assert re.search(pattern, text), f"no row {cells} in:\n{text}"


# --- CodePipeline responses ---------------------------------------------------------------------


def revision(execution_id: str, source_key: str = "sourceRevisions") -> list[dict[str, Any]]:
    """The commit an execution carries, as CodePipeline reports it for a GitHub source."""
    sha, message = COMMITS[execution_id]
    summary = f'{{"ProviderType":"GitHub","CommitMessage":"{message}\\n\\nLonger description."}}'
    if source_key == "sourceRevisions":
        return [{"actionName": "Source", "revisionId": sha, "revisionSummary": summary}]
    return [{"name": "SourceOutput", "revisionId": sha, "revisionSummary": summary}]


def summary(
    execution_id: str,
    status: str,
    started: str = "14:02:11",
    updated: str = "14:09:40",
    trigger: str = "WebhookV2",
    rollback_of: Optional[str] = None,
) -> dict[str, Any]:
    """A `list_pipeline_executions` entry; a rollback names the execution it went back to."""
    entry: dict[str, Any] = {
        "pipelineExecutionId": execution_id,
        "status": status,
        "startTime": at(started),
        "lastUpdateTime": at(updated),
        "sourceRevisions": revision(rollback_of or execution_id),  # a rollback carries its target's commit
        "trigger": {"triggerType": trigger, "triggerDetail": "arn:aws:codeconnections:eu-west-1:111122223333:x"},
        "executionMode": "QUEUED",
        "executionType": "STANDARD",
    }
    if rollback_of:
        entry.update(
            executionType="ROLLBACK",
            trigger={"triggerType": "ManualRollback", "triggerDetail": "arn:aws:iam::111122223333:user/alice"},
            rollbackMetadata={"rollbackTargetPipelineExecutionId": rollback_of},
        )
    return entry


def executions(*summaries: dict[str, Any]) -> dict[str, Any]:
    return {"pipelineExecutionSummaries": list(summaries)}


def execution(execution_id: str, status: str, summary_text: str = "") -> dict[str, Any]:
    """A `get_pipeline_execution` response."""
    detail: dict[str, Any] = {
        "pipelineName": PIPELINE,
        "pipelineVersion": 3,
        "pipelineExecutionId": execution_id,
        "status": status,
        "artifactRevisions": revision(execution_id, "artifactRevisions"),
        "trigger": {"triggerType": "WebhookV2", "triggerDetail": "x"},
    }
    if summary_text:
        detail["statusSummary"] = summary_text
    return {"pipelineExecution": detail}


def action_state(
    name: str,
    status: Optional[str] = None,
    changed: str = "14:05:00",
    token: Optional[str] = None,
    error: Optional[str] = None,
    external_id: Optional[str] = None,
) -> dict[str, Any]:
    state: dict[str, Any] = {"actionName": name}
    if status:
        latest: dict[str, Any] = {"status": status, "lastStatusChange": at(changed)}
        if token:
            latest["token"] = token
        if error:
            latest["errorDetails"] = {"code": "JobFailed", "message": error}
        if external_id:
            latest["externalExecutionId"] = external_id
        state["latestExecution"] = latest
    return state


def stage_state(name: str, execution_id: Optional[str], status: Optional[str], *actions: dict) -> dict[str, Any]:
    state: dict[str, Any] = {"stageName": name, "actionStates": list(actions)}
    if execution_id and status:
        state["latestExecution"] = {"pipelineExecutionId": execution_id, "status": status}
    return state


def pipeline_state(*stages: dict[str, Any]) -> dict[str, Any]:
    return {"pipelineName": PIPELINE, "pipelineVersion": 3, "stageStates": list(stages)}


def _action(name: str, category: str, provider: str, owner: str = "AWS") -> dict[str, Any]:
    return {
        "name": name,
        "actionTypeId": {"category": category, "owner": owner, "provider": provider, "version": "1"},
    }


def definition() -> dict[str, Any]:
    """`get_pipeline` for the production pipeline the program builds: source, build, approval, deploy."""
    return {
        "pipeline": {
            "name": PIPELINE,
            "roleArn": ROLE,
            "pipelineType": "V2",
            "stages": [
                {"name": "Source", "actions": [_action("Source", "Source", "CodeStarSourceConnection")]},
                {"name": "Build", "actions": [_action("Image", "Build", "CodeBuild")]},
                {"name": "Approve", "actions": [_action("Approve", "Approval", "Manual")]},
                {"name": "Deploy", "actions": [_action("Service", "Deploy", "ECS")]},
            ],
        }
    }


def action_run(
    stage: str,
    action: str,
    status: str,
    provider: str,
    started: str,
    updated: str,
    execution_id: str = LATEST,
    error: Optional[str] = None,
    external_id: Optional[str] = None,
) -> dict[str, Any]:
    """A `list_action_executions` entry."""
    result: dict[str, Any] = {}
    if external_id:
        result["externalExecutionId"] = external_id
    if error:
        result["errorDetails"] = {"code": "JobFailed", "message": error}
    return {
        "pipelineExecutionId": execution_id,
        "actionExecutionId": f"{stage}-{action}-{status}",
        "stageName": stage,
        "actionName": action,
        "startTime": at(started),
        "lastUpdateTime": at(updated),
        "status": status,
        "input": {
            "actionTypeId": {"category": CATEGORIES[provider], "owner": "AWS", "provider": provider, "version": "1"}
        },
        "output": {"executionResult": result},
    }


def action_runs(*runs: dict[str, Any]) -> dict[str, Any]:
    return {"actionExecutionDetails": list(runs)}
