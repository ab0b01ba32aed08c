"""Reading a pipeline's live state from CodePipeline: what it is made of, what ran, what runs now,
and which commit each run carries. Commands act on what this module finds; nothing here changes AWS."""

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Optional

from botocore.client import BaseClient

from .aws import OpsError
from .render import iso, short_id

RUNNING = ("InProgress", "Stopping")


@dataclass(frozen=True)
class Commit:
    id: str
    message: str

    @classmethod
    def from_revisions(cls, revisions: list[dict[str, Any]]) -> Optional["Commit"]:
        """The source revision of an execution (`artifactRevisions` or `sourceRevisions`)."""
        for revision in revisions:
            if revision.get("revisionId"):
                return cls(revision["revisionId"], commit_message(revision.get("revisionSummary")))
        return None

    def __str__(self) -> str:
        return f"{self.id[:7]} {self.message}".strip()

    def as_json(self) -> dict[str, str]:
        return {"id": self.id, "message": self.message}


def commit_message(summary: Optional[str]) -> str:
    """The first line of the commit message. GitHub sources of V2 pipelines report the summary as
    JSON, `{"ProviderType": "GitHub", "CommitMessage": "..."}`; other sources as plain text."""
    if not summary:
        return ""
    try:
        parsed = json.loads(summary)
    except ValueError:
        parsed = None
    message = str(parsed.get("CommitMessage") or "") if isinstance(parsed, dict) else summary
    return message.strip().splitlines()[0] if message.strip() else ""


@dataclass(frozen=True)
class Execution:
    id: str
    status: str
    commit: Optional[Commit] = None
    started: Optional[datetime] = None
    updated: Optional[datetime] = None
    trigger: str = ""
    trigger_detail: str = ""
    status_summary: str = ""
    type: str = "STANDARD"
    rollback_target: Optional[str] = None
    """For a ROLLBACK execution: the execution whose revision it brought back."""

    @classmethod
    def from_summary(cls, summary: dict[str, Any]) -> "Execution":
        """From `list_pipeline_executions`, which carries timings."""
        trigger = summary.get("trigger") or {}
        return cls(
            id=summary["pipelineExecutionId"],
            status=summary.get("status", ""),
            commit=Commit.from_revisions(summary.get("sourceRevisions", [])),
            started=summary.get("startTime"),
            updated=summary.get("lastUpdateTime"),
            trigger=trigger.get("triggerType", ""),
            trigger_detail=trigger.get("triggerDetail", ""),
            status_summary=summary.get("statusSummary") or "",
            type=summary.get("executionType", "STANDARD"),
            rollback_target=(summary.get("rollbackMetadata") or {}).get("rollbackTargetPipelineExecutionId"),
        )

    @classmethod
    def from_detail(cls, detail: dict[str, Any]) -> "Execution":
        """From `get_pipeline_execution`, which carries no timings."""
        return cls(
            id=detail["pipelineExecutionId"],
            status=detail.get("status", ""),
            commit=Commit.from_revisions(detail.get("artifactRevisions", [])),
            trigger=(detail.get("trigger") or {}).get("triggerType", ""),
            trigger_detail=(detail.get("trigger") or {}).get("triggerDetail", ""),
            status_summary=detail.get("statusSummary") or "",
            type=detail.get("executionType", "STANDARD"),
            rollback_target=(detail.get("rollbackMetadata") or {}).get("rollbackTargetPipelineExecutionId"),
        )

    @property
    def running(self) -> bool:
        return self.status in RUNNING

    def duration(self, now: datetime) -> Optional[timedelta]:
        if self.started is None:
            return None
        end = now if self.running else (self.updated or now)
        return end - self.started

    def describe(self) -> str:
        """`execution 3f1c9a2e (9f8e7d6 Fix rounding)`: how prompts and messages name an execution."""
        return f"execution {short_id(self.id)}" + (f" ({self.commit})" if self.commit else "")

    def as_json(self, now: datetime) -> dict[str, Any]:
        span = self.duration(now)
        return {
            "id": self.id,
            "status": self.status,
            "statusSummary": self.status_summary or None,
            "type": self.type,
            "trigger": {"type": self.trigger, "detail": self.trigger_detail},
            "commit": self.commit.as_json() if self.commit else None,
            "startTime": iso(self.started),
            "lastUpdateTime": iso(self.updated),
            "durationSeconds": int(span.total_seconds()) if span is not None else None,
        }


@dataclass(frozen=True)
class Action:
    """One action's latest run, from the pipeline state or from one execution's action executions."""

    stage: str
    name: str
    status: str = ""
    """Empty when the action has not run."""
    execution_id: str = ""
    started: Optional[datetime] = None
    updated: Optional[datetime] = None
    summary: str = ""
    error: str = ""
    token: str = ""
    """Set while a manual approval waits for an answer."""
    external_id: str = ""
    """The run in the acting service, e.g. the CodeBuild build id."""
    provider: str = ""

    @classmethod
    def from_state(cls, stage: str, execution_id: str, state: dict[str, Any]) -> "Action":
        latest = state.get("latestExecution") or {}
        return cls(
            stage=stage,
            name=state.get("actionName") or "?",
            status=latest.get("status", ""),
            execution_id=execution_id,
            updated=latest.get("lastStatusChange"),
            summary=latest.get("summary", ""),
            error=(latest.get("errorDetails") or {}).get("message", ""),
            token=latest.get("token", ""),
            external_id=latest.get("externalExecutionId", ""),
        )

    @classmethod
    def from_action_execution(cls, detail: dict[str, Any]) -> "Action":
        result = (detail.get("output") or {}).get("executionResult") or {}
        return cls(
            stage=detail.get("stageName") or "?",
            name=detail.get("actionName") or "?",
            status=detail.get("status", ""),
            execution_id=detail.get("pipelineExecutionId", ""),
            started=detail.get("startTime"),
            updated=detail.get("lastUpdateTime"),
            summary=result.get("externalExecutionSummary", ""),
            error=(result.get("errorDetails") or {}).get("message", ""),
            external_id=result.get("externalExecutionId", ""),
            provider=((detail.get("input") or {}).get("actionTypeId") or {}).get("provider", ""),
        )

    @property
    def path(self) -> str:
        return f"{self.stage}/{self.name}"


@dataclass(frozen=True)
class Stage:
    name: str
    status: str
    execution_id: str
    actions: tuple[Action, ...]


@dataclass(frozen=True)
class ActionDefinition:
    stage: str
    name: str
    category: str
    provider: str


class PipelineReader:
    """Read-only views of one pipeline."""

    def __init__(self, codepipeline: BaseClient, name: str):
        self.client = codepipeline
        self.name = name
        self._definition: Optional[list[ActionDefinition]] = None

    def definition(self) -> list[ActionDefinition]:
        """Every action in run order, as declared (`get_pipeline`)."""
        if self._definition is None:
            self._definition = []
            for stage in self.client.get_pipeline(name=self.name)["pipeline"]["stages"]:
                for action in stage["actions"]:
                    kind = action["actionTypeId"]
                    self._definition.append(
                        ActionDefinition(stage["name"], action["name"], kind["category"], kind["provider"])
                    )
        return self._definition

    def action_of(self, *, category: str = "", provider: str = "") -> ActionDefinition:
        """The first action of a kind. Found by kind, not by name, so renamed stages keep working."""
        for action in self.definition():
            if (not category or action.category == category) and (not provider or action.provider == provider):
                return action
        raise OpsError(f"pipeline {self.name} has no {category or provider} action")

    def stages(self) -> list[Stage]:
        """Each stage's latest run (`get_pipeline_state`); stages may be on different executions."""
        stages = []
        for state in self.client.get_pipeline_state(name=self.name).get("stageStates") or []:
            latest = state.get("latestExecution") or {}
            execution_id = latest.get("pipelineExecutionId", "")
            actions = tuple(
                Action.from_state(state.get("stageName") or "?", execution_id, a)
                for a in state.get("actionStates") or []
            )
            stages.append(Stage(state.get("stageName") or "?", latest.get("status", ""), execution_id, actions))
        return stages

    def stage(self, name: str) -> Stage:
        for stage in self.stages():
            if stage.name == name:
                return stage
        raise OpsError(f"pipeline {self.name} has no stage {name}")

    def executions(self, limit: Optional[int] = None) -> Iterator[Execution]:
        """Newest first, across pages."""
        config = {"MaxItems": limit, "PageSize": min(limit, 100)} if limit else {}
        pages = self.client.get_paginator("list_pipeline_executions").paginate(
            pipelineName=self.name, PaginationConfig=config
        )
        for page in pages:
            yield from (Execution.from_summary(summary) for summary in page.get("pipelineExecutionSummaries", []))

    def latest_execution(self) -> Execution:
        for execution in self.executions(limit=1):
            return execution
        raise OpsError(f"pipeline {self.name} has never run: start it with `ecs-cicd start`")

    def running_execution(self, statuses: tuple[str, ...] = ("InProgress",)) -> Optional[Execution]:
        """The newest execution in one of `statuses`; running executions are among the newest."""
        return next((e for e in self.executions(limit=20) if e.status in statuses), None)

    def execution(self, execution_id: str) -> Execution:
        detail = self.client.get_pipeline_execution(pipelineName=self.name, pipelineExecutionId=execution_id)
        return Execution.from_detail(detail["pipelineExecution"])

    def action_runs(self, execution_id: str) -> list[Action]:
        """The actions one execution has run so far, newest first (`list_action_executions`)."""
        pages = self.client.get_paginator("list_action_executions").paginate(
            pipelineName=self.name, filter={"pipelineExecutionId": execution_id}
        )
        return [Action.from_action_execution(d) for page in pages for d in page.get("actionExecutionDetails", [])]

    def pending_approval(self) -> Action:
        for stage in self.stages():
            for action in stage.actions:
                if action.status == "InProgress" and action.token:
                    return action
        raise OpsError(f"nothing awaits approval in pipeline {self.name}")

    def failed_stage(self, execution: Execution) -> Stage:
        for stage in self.stages():
            if stage.execution_id == execution.id and stage.status == "Failed":
                return stage
        raise OpsError(f"nothing to retry: the latest {execution.describe()} is {execution.status}, no stage failed")

    def rollback_target(self, stage: str) -> tuple[Execution, Execution]:
        """The stage's current execution, and the one a rollback returns to: the newest standard
        execution that succeeded before the revision the stage now runs. When the current execution is
        itself a rollback, it runs its target's revision, so a second rollback goes back one further."""
        current_id = self.stage(stage).execution_id
        if not current_id:
            raise OpsError(f"nothing to roll back: stage {stage} of pipeline {self.name} has never run")
        current: Optional[Execution] = None
        deployed_id = current_id
        passed_deployed = False
        for execution in self.executions():
            if execution.id == current_id:
                current = execution
                deployed_id = execution.rollback_target or current_id
            if execution.id == deployed_id:
                passed_deployed = True
            elif current and passed_deployed and execution.status == "Succeeded" and execution.type == "STANDARD":
                return current, execution
        raise OpsError(f"nothing to roll back to: no succeeded execution of {self.name} before the one in {stage}")
