"""The commands that change a pipeline: start, stop, approve, reject, retry, rollback. Each test checks
the exact API call sent (or that none was), and the confirmation rules: stop, approve, reject and
rollback ask first, `--yes` skips the question, and without a terminal they refuse instead of asking."""

from datetime import UTC, datetime

import pytest

from .ops_fixtures import (
    LATEST,
    OLD,
    PIPELINE,
    PREVIOUS,
    ROLLBACK,
    Cli,
    action_state,
    definition,
    execution,
    executions,
    pipeline_state,
    stage_state,
    summary,
)

LATEST_TEXT = "execution 9c8d7e6f (9f8e7d6 Fix checkout rounding)"
PREVIOUS_TEXT = "execution 5e6f7a8b (7f3e2d1 Bump base image)"
NO_TERMINAL = "needs confirmation and stdin is not a terminal: rerun with --yes to confirm"


# --- start -----------------------------------------------------------------------------------------


def test_start_starts_an_execution_and_says_how_to_follow_it():
    cli = Cli()
    cli.expect("codepipeline", "start_pipeline_execution", {"pipelineExecutionId": LATEST}, name=PIPELINE)
    assert cli.run("start", "--pipeline", PIPELINE) == 0
    cli.assert_all_calls_made()
    assert cli.stdout == f"Started execution {LATEST} of {PIPELINE}.\n"
    assert f"Follow it with: ecs-cicd watch --pipeline {PIPELINE} --execution-id {LATEST}" in cli.stderr


def test_start_of_an_unknown_pipeline():
    cli = Cli()
    cli.expect_error("codepipeline", "start_pipeline_execution", "PipelineNotFoundException", "none")
    assert cli.run("start", "--pipeline", "orders-api-qa") == 3
    assert cli.stdout == ""
    assert "error: no pipeline named 'orders-api-qa' in eu-west-1" in cli.stderr


# --- stop ------------------------------------------------------------------------------------------


def expect_running(cli: Cli, status: str = "InProgress") -> None:
    found = executions(summary(LATEST, status), summary(PREVIOUS, "Succeeded"))
    cli.expect("codepipeline", "list_pipeline_executions", found, pipelineName=PIPELINE, maxResults=20)


def expect_stop(cli: Cli, abandon: bool = False) -> None:
    cli.expect(
        "codepipeline",
        "stop_pipeline_execution",
        {"pipelineExecutionId": LATEST},
        pipelineName=PIPELINE,
        pipelineExecutionId=LATEST,
        abandon=abandon,
        reason="Migration 0042 locks the orders table",
    )


def test_stop_with_yes_stops_the_running_execution():
    cli = Cli()
    expect_running(cli)
    expect_stop(cli)
    assert cli.run("stop", "--pipeline", PIPELINE, "--reason", "Migration 0042 locks the orders table", "--yes") == 0
    cli.assert_all_calls_made()
    assert cli.stdout == f"Stopping {LATEST_TEXT} of {PIPELINE}.\n"


def test_stop_abandon_can_abandon_an_execution_already_stopping():
    cli = Cli()
    expect_running(cli, status="Stopping")
    expect_stop(cli, abandon=True)
    argv = ["stop", "--pipeline", PIPELINE, "--reason", "Migration 0042 locks the orders table", "--abandon", "-y"]
    assert cli.run(*argv) == 0
    cli.assert_all_calls_made()


def test_stop_asks_and_goes_on_when_the_answer_is_yes():
    cli = Cli(interactive=True, answers="y\n")
    expect_running(cli)
    expect_stop(cli)
    assert cli.run("stop", "--pipeline", PIPELINE, "--reason", "Migration 0042 locks the orders table") == 0
    cli.assert_all_calls_made()
    assert f"Stop {LATEST_TEXT} of {PIPELINE}, letting in-progress actions finish?" in cli.stderr


def test_stop_does_nothing_when_the_answer_is_no():
    cli = Cli(interactive=True, answers="n\n")
    expect_running(cli)
    assert cli.run("stop", "--pipeline", PIPELINE, "--reason", "Migration 0042 locks the orders table") == 1
    cli.assert_all_calls_made()  # no stop_pipeline_execution was queued, and none was sent
    assert cli.stderr.endswith("error: cancelled: nothing was changed\n")


def test_stop_refuses_without_yes_when_no_one_can_answer():
    cli = Cli(interactive=False)
    expect_running(cli)
    assert cli.run("stop", "--pipeline", PIPELINE, "--reason", "Migration 0042 locks the orders table") == 2
    cli.assert_all_calls_made()
    assert cli.stderr == f"error: stop {NO_TERMINAL}\n"


def test_ctrl_c_at_the_prompt_exits_130_and_stops_nothing():
    cli = Cli(interactive=True)
    expect_running(cli)

    def ctrl_c(question):
        raise KeyboardInterrupt

    cli.terminal.confirm = ctrl_c
    assert cli.run("stop", "--pipeline", PIPELINE, "--reason", "Migration 0042 locks the orders table") == 130
    cli.assert_all_calls_made()


def test_stop_when_nothing_runs():
    cli = Cli()
    found = executions(summary(LATEST, "Succeeded"))
    cli.expect("codepipeline", "list_pipeline_executions", found, pipelineName=PIPELINE, maxResults=20)
    assert cli.run("stop", "--pipeline", PIPELINE, "--reason", "Hotfix incoming", "--yes") == 1
    assert cli.stderr == f"error: nothing to stop: no execution of {PIPELINE} is running\n"


@pytest.mark.parametrize(
    ("reason", "message"),
    [("   ", "--reason must not be empty"), ("x" * 201, "--reason is 201 characters long; AWS allows 200")],
)
def test_stop_checks_the_reason_before_calling_aws(reason, message):
    cli = Cli()
    assert cli.run("stop", "--pipeline", PIPELINE, "--reason", reason, "--yes") == 2
    assert cli.stderr == f"error: {message}\n"
    cli.assert_all_calls_made()


# --- approve / reject ------------------------------------------------------------------------------


def expect_pending_approval(cli: Cli) -> None:
    state = pipeline_state(
        stage_state("Source", LATEST, "Succeeded", action_state("Source", "Succeeded")),
        stage_state("Build", LATEST, "Succeeded", action_state("Image", "Succeeded")),
        stage_state("Approve", LATEST, "InProgress", action_state("Approve", "InProgress", token="3a9f-token")),
        stage_state("Deploy", PREVIOUS, "Succeeded", action_state("Service", "Succeeded")),
    )
    cli.expect("codepipeline", "get_pipeline_state", state, name=PIPELINE)
    cli.expect(
        "codepipeline",
        "get_pipeline_execution",
        execution(LATEST, "InProgress"),
        pipelineName=PIPELINE,
        pipelineExecutionId=LATEST,
    )


def expect_answer(cli: Cli, status: str, comment: str) -> None:
    cli.expect(
        "codepipeline",
        "put_approval_result",
        {"approvedAt": datetime(2025, 11, 25, 14, 12, tzinfo=UTC)},
        pipelineName=PIPELINE,
        stageName="Approve",
        actionName="Approve",
        result={"summary": comment, "status": status},
        token="3a9f-token",
    )


def test_approve_answers_the_pending_approval():
    cli = Cli()
    expect_pending_approval(cli)
    expect_answer(cli, "Approved", "Approved with ecs-cicd")
    assert cli.run("approve", "--pipeline", PIPELINE, "--yes") == 0
    cli.assert_all_calls_made()
    assert cli.stdout == f"Approved Approve/Approve of {PIPELINE} for {LATEST_TEXT}.\n"


def test_approve_asks_naming_the_commit_it_ships():
    cli = Cli(interactive=True, answers="y\n")
    expect_pending_approval(cli)
    expect_answer(cli, "Approved", "QA signed off")
    assert cli.run("approve", "--pipeline", PIPELINE, "--comment", "QA signed off") == 0
    cli.assert_all_calls_made()
    assert f"Approve Approve/Approve of {PIPELINE} for {LATEST_TEXT}?" in cli.stderr


def test_approve_refuses_without_yes_when_no_one_can_answer():
    cli = Cli()
    expect_pending_approval(cli)
    assert cli.run("approve", "--pipeline", PIPELINE) == 2
    cli.assert_all_calls_made()
    assert cli.stderr == f"error: approve {NO_TERMINAL}\n"


def test_approve_when_nothing_awaits_approval():
    cli = Cli()
    state = pipeline_state(
        stage_state("Approve", PREVIOUS, "Succeeded", action_state("Approve", "Succeeded")),
        stage_state("Deploy", PREVIOUS, "InProgress", action_state("Service", "InProgress")),
    )
    cli.expect("codepipeline", "get_pipeline_state", state, name=PIPELINE)
    assert cli.run("approve", "--pipeline", PIPELINE, "--yes") == 1
    assert cli.stderr == f"error: nothing awaits approval in pipeline {PIPELINE}\n"


def test_reject_sends_the_comment():
    cli = Cli()
    expect_pending_approval(cli)
    expect_answer(cli, "Rejected", "Breaks checkout on Safari")
    assert cli.run("reject", "--pipeline", PIPELINE, "--comment", "Breaks checkout on Safari", "--yes") == 0
    cli.assert_all_calls_made()
    assert cli.stdout == f"Rejected Approve/Approve of {PIPELINE} for {LATEST_TEXT}.\n"


def test_reject_needs_a_comment(capsys):
    cli = Cli()
    assert cli.run("reject", "--pipeline", PIPELINE, "--yes") == 2
    assert "the following arguments are required: --comment" in capsys.readouterr().err
    cli.assert_all_calls_made()


def test_reject_when_nothing_awaits_approval():
    cli = Cli()
    cli.expect("codepipeline", "get_pipeline_state", pipeline_state(), name=PIPELINE)
    assert cli.run("reject", "--pipeline", PIPELINE, "--comment", "No", "--yes") == 1
    assert cli.stderr == f"error: nothing awaits approval in pipeline {PIPELINE}\n"


# --- retry -----------------------------------------------------------------------------------------


def expect_latest(cli: Cli, status: str) -> None:
    latest = executions(summary(LATEST, status))
    cli.expect("codepipeline", "list_pipeline_executions", latest, pipelineName=PIPELINE, maxResults=1)


def test_retry_reruns_the_failed_actions_of_the_failed_stage():
    cli = Cli()
    expect_latest(cli, "Failed")
    state = pipeline_state(
        stage_state("Source", LATEST, "Succeeded", action_state("Source", "Succeeded")),
        stage_state("Build", LATEST, "Failed", action_state("Image", "Failed", error="exit status 1")),
        stage_state("Deploy", PREVIOUS, "Succeeded", action_state("Service", "Succeeded")),
    )
    cli.expect("codepipeline", "get_pipeline_state", state, name=PIPELINE)
    cli.expect(
        "codepipeline",
        "retry_stage_execution",
        {"pipelineExecutionId": LATEST},
        pipelineName=PIPELINE,
        stageName="Build",
        pipelineExecutionId=LATEST,
        retryMode="FAILED_ACTIONS",
    )
    assert cli.run("retry", "--pipeline", PIPELINE) == 0
    cli.assert_all_calls_made()
    assert cli.stdout == f"Retrying the failed actions of stage Build in {LATEST_TEXT}.\n"


def test_retry_when_nothing_failed():
    cli = Cli()
    expect_latest(cli, "Succeeded")
    state = pipeline_state(stage_state("Build", LATEST, "Succeeded", action_state("Image", "Succeeded")))
    cli.expect("codepipeline", "get_pipeline_state", state, name=PIPELINE)
    assert cli.run("retry", "--pipeline", PIPELINE) == 1
    cli.assert_all_calls_made()
    assert cli.stderr == f"error: nothing to retry: the latest {LATEST_TEXT} is Succeeded, no stage failed\n"


# --- rollback --------------------------------------------------------------------------------------


def expect_deploy_stage_on(cli: Cli, execution_id: str, status: str, *history: dict) -> None:
    cli.expect("codepipeline", "get_pipeline", definition(), name=PIPELINE)
    state = pipeline_state(stage_state("Deploy", execution_id, status, action_state("Service", status)))
    cli.expect("codepipeline", "get_pipeline_state", state, name=PIPELINE)
    cli.expect("codepipeline", "list_pipeline_executions", executions(*history), pipelineName=PIPELINE)


def expect_rollback_to(cli: Cli, target: str) -> None:
    cli.expect(
        "codepipeline",
        "rollback_stage",
        {"pipelineExecutionId": ROLLBACK},
        pipelineName=PIPELINE,
        stageName="Deploy",
        targetPipelineExecutionId=target,
    )


def test_rollback_returns_the_deploy_stage_to_the_previous_success():
    cli = Cli()
    expect_deploy_stage_on(
        cli,
        LATEST,
        "Succeeded",
        summary(LATEST, "Succeeded"),
        summary(PREVIOUS, "Succeeded"),
        summary(OLD, "Succeeded"),
    )
    expect_rollback_to(cli, PREVIOUS)
    assert cli.run("rollback", "--pipeline", PIPELINE, "--yes") == 0
    cli.assert_all_calls_made()
    assert cli.stdout == f"Rolling back stage Deploy of {PIPELINE} to {PREVIOUS_TEXT} in execution {ROLLBACK}.\n"


def test_rollback_after_a_failed_deploy_skips_failures():
    cli = Cli()
    expect_deploy_stage_on(
        cli,
        LATEST,
        "Failed",
        summary(LATEST, "Failed"),
        summary(PREVIOUS, "Failed"),
        summary(OLD, "Succeeded"),
    )
    expect_rollback_to(cli, OLD)
    assert cli.run("rollback", "--pipeline", PIPELINE, "--yes") == 0
    cli.assert_all_calls_made()


def test_a_second_rollback_goes_back_one_further():
    """Deploy runs a rollback to PREVIOUS: rolling back again means before PREVIOUS, not to LATEST."""
    cli = Cli()
    expect_deploy_stage_on(
        cli,
        ROLLBACK,
        "Succeeded",
        summary(ROLLBACK, "Succeeded", rollback_of=PREVIOUS),
        summary(LATEST, "Succeeded"),
        summary(PREVIOUS, "Succeeded"),
        summary(OLD, "Succeeded"),
    )
    expect_rollback_to(cli, OLD)
    assert cli.run("rollback", "--pipeline", PIPELINE, "--yes") == 0
    cli.assert_all_calls_made()


def test_rollback_asks_naming_both_executions():
    cli = Cli(interactive=True, answers="yes\n")
    expect_deploy_stage_on(cli, LATEST, "Succeeded", summary(LATEST, "Succeeded"), summary(PREVIOUS, "Succeeded"))
    expect_rollback_to(cli, PREVIOUS)
    assert cli.run("rollback", "--pipeline", PIPELINE) == 0
    cli.assert_all_calls_made()
    assert f"Roll back stage Deploy of {PIPELINE} from {LATEST_TEXT} to {PREVIOUS_TEXT}?" in cli.stderr


def test_rollback_refuses_without_yes_when_no_one_can_answer():
    cli = Cli()
    expect_deploy_stage_on(cli, LATEST, "Succeeded", summary(LATEST, "Succeeded"), summary(PREVIOUS, "Succeeded"))
    assert cli.run("rollback", "--pipeline", PIPELINE) == 2
    cli.assert_all_calls_made()  # rollback_stage was never sent
    assert cli.stderr == f"error: rollback {NO_TERMINAL}\n"


def test_rollback_with_nothing_to_go_back_to():
    cli = Cli()
    expect_deploy_stage_on(cli, LATEST, "Succeeded", summary(LATEST, "Succeeded"), summary(PREVIOUS, "Failed"))
    assert cli.run("rollback", "--pipeline", PIPELINE, "--yes") == 1
    assert cli.stderr == (
        f"error: nothing to roll back to: no succeeded execution of {PIPELINE} before the one in Deploy\n"
    )


def promoting_definition() -> dict:
    """A pipeline that promotes to another account after its own deploy."""
    from .ops_fixtures import _action

    pipeline = definition()
    pipeline["pipeline"]["stages"].append(
        {"name": "Deploy-prod", "actions": [_action("Service", "Deploy", "ECS")]},
    )
    return pipeline


def test_rollback_of_a_promotion_targets_stage():
    cli = Cli()
    cli.expect("codepipeline", "get_pipeline", promoting_definition(), name=PIPELINE)
    state = pipeline_state(stage_state("Deploy-prod", LATEST, "Succeeded", action_state("Service", "Succeeded")))
    cli.expect("codepipeline", "get_pipeline_state", state, name=PIPELINE)
    cli.expect(
        "codepipeline",
        "list_pipeline_executions",
        executions(summary(LATEST, "Succeeded"), summary(PREVIOUS, "Succeeded")),
        pipelineName=PIPELINE,
    )
    cli.expect(
        "codepipeline",
        "rollback_stage",
        {"pipelineExecutionId": ROLLBACK},
        pipelineName=PIPELINE,
        stageName="Deploy-prod",
        targetPipelineExecutionId=PREVIOUS,
    )
    assert cli.run("rollback", "--pipeline", PIPELINE, "--stage", "Deploy-prod", "--yes") == 0
    cli.assert_all_calls_made()


def test_rollback_of_a_stage_that_does_not_deploy_is_refused():
    cli = Cli()
    cli.expect("codepipeline", "get_pipeline", promoting_definition(), name=PIPELINE)
    assert cli.run("rollback", "--pipeline", PIPELINE, "--stage", "Build", "--yes") == 2
    assert (
        "--stage 'Build' is not a deploy stage of orders-api-prod; its deploy stages: Deploy, Deploy-prod" in cli.stderr
    )
