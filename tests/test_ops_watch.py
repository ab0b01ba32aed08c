"""`ecs-cicd watch` (and `start --watch`): poll to the end, report the verdict in the exit code, and on a
failed build show the end of its log. The sleep is recorded, never slept."""

import re

from .ops_fixtures import (
    BUILD_ID,
    LATEST,
    PIPELINE,
    PREVIOUS,
    Cli,
    action_run,
    action_runs,
    assert_row,
    definition,
    execution,
    executions,
    summary,
)

SOURCE_DONE = action_run("Source", "Source", "Succeeded", "CodeStarSourceConnection", "14:02:11", "14:02:15")
BUILD_RUNNING = action_run("Build", "Image", "InProgress", "CodeBuild", "14:02:16", "14:02:20")
BUILD_DONE = action_run("Build", "Image", "Succeeded", "CodeBuild", "14:02:16", "14:09:40", external_id=BUILD_ID)
APPROVED = action_run("Approve", "Approve", "Succeeded", "Manual", "14:09:41", "14:10:30")
DEPLOYED = action_run("Deploy", "Service", "Succeeded", "ECS", "14:10:31", "14:11:50")
BUILD_ERROR = "Error while executing command: docker build . Reason: exit status 1"
BUILD_FAILED = action_run(
    "Build", "Image", "Failed", "CodeBuild", "14:02:16", "14:04:02", error=BUILD_ERROR, external_id=BUILD_ID
)


def expect_poll(cli: Cli, status: str, *runs: dict, execution_id: str = LATEST, summary_text: str = "") -> None:
    """One poll: the execution's status, then the actions it has run, newest first."""
    cli.expect(
        "codepipeline",
        "get_pipeline_execution",
        execution(execution_id, status, summary_text),
        pipelineName=PIPELINE,
        pipelineExecutionId=execution_id,
    )
    cli.expect(
        "codepipeline",
        "list_action_executions",
        action_runs(*runs),
        pipelineName=PIPELINE,
        filter={"pipelineExecutionId": execution_id},
    )


def expect_running_latest(cli: Cli) -> None:
    running = executions(summary(LATEST, "InProgress"), summary(PREVIOUS, "Succeeded"))
    cli.expect("codepipeline", "list_pipeline_executions", running, pipelineName=PIPELINE, maxResults=20)
    cli.expect("codepipeline", "get_pipeline", definition(), name=PIPELINE)


def test_watch_follows_the_running_execution_to_success():
    cli = Cli()
    expect_running_latest(cli)
    expect_poll(cli, "InProgress", BUILD_RUNNING, SOURCE_DONE)
    expect_poll(cli, "InProgress", APPROVED, BUILD_DONE, SOURCE_DONE)
    expect_poll(cli, "Succeeded", DEPLOYED, APPROVED, BUILD_DONE, SOURCE_DONE)

    assert cli.run("watch", "--pipeline", PIPELINE, "--interval", "5") == 0
    cli.assert_all_calls_made()
    assert cli.sleeps == [5, 5]
    # Without a terminal: one line per change, in order, none repeated.
    assert cli.stdout.splitlines() == [
        "2025-11-25 14:02:15  Source/Source  Succeeded",
        "2025-11-25 14:02:20  Build/Image  InProgress",
        "2025-11-25 14:09:40  Build/Image  Succeeded",
        "2025-11-25 14:10:30  Approve/Approve  Succeeded",
        "2025-11-25 14:11:50  Deploy/Service  Succeeded",
        f"Execution {LATEST} of {PIPELINE} succeeded.",
    ]
    assert f"Watching execution {LATEST} of {PIPELINE}" in cli.stderr


def test_watch_failed_build_shows_the_error_and_the_end_of_the_build_log():
    cli = Cli()
    cli.expect("codepipeline", "get_pipeline", definition(), name=PIPELINE)
    expect_poll(cli, "Failed", BUILD_FAILED, SOURCE_DONE, summary_text="Build failed")
    build = {"id": BUILD_ID, "buildStatus": "FAILED", "logs": {"groupName": "/aws/codebuild/orders-api-prod"}}
    build["logs"]["streamName"] = "6a1d2f4e-8b3c-4d5e-9f60-7a8b9c0d1e2f"
    cli.stub("codebuild").add_response("batch_get_builds", {"builds": [build]}, {"ids": [BUILD_ID]})
    events = [
        {"timestamp": 1, "message": "#12 [build 4/6] RUN npm ci\n"},
        {"timestamp": 2, "message": "#12 ERROR: process did not complete successfully: exit code: 1\n"},
        {"timestamp": 3, "message": "[Container] Phase complete: BUILD State: FAILED\n"},
    ]
    cli.stub("logs").add_response(
        "get_log_events",
        {"events": events},
        {
            "logGroupName": "/aws/codebuild/orders-api-prod",
            "logStreamName": "6a1d2f4e-8b3c-4d5e-9f60-7a8b9c0d1e2f",
            "limit": 3,
            "startFromHead": False,
        },
    )

    assert cli.run("watch", "--pipeline", PIPELINE, "--execution-id", LATEST, "--log-lines", "3") == 1
    cli.assert_all_calls_made()
    assert cli.sleeps == []
    assert cli.stdout.splitlines()[-6:] == [
        f"Execution {LATEST} of {PIPELINE} ended Failed: Build failed",
        f"Build/Image failed: {BUILD_ERROR}",
        f"Last 3 lines of the log of build {BUILD_ID}:",
        "  #12 [build 4/6] RUN npm ci",
        "  #12 ERROR: process did not complete successfully: exit code: 1",
        "  [Container] Phase complete: BUILD State: FAILED",
    ]


def test_watch_failure_still_reported_when_the_build_log_is_not_readable():
    cli = Cli()
    cli.expect("codepipeline", "get_pipeline", definition(), name=PIPELINE)
    expect_poll(cli, "Failed", BUILD_FAILED, SOURCE_DONE)
    cli.stub("codebuild").add_client_error("batch_get_builds", "AccessDeniedException", "not authorized")
    assert cli.run("watch", "--pipeline", PIPELINE, "--execution-id", LATEST) == 1
    assert f"Build/Image failed: {BUILD_ERROR}" in cli.stdout
    assert (
        "(build log unavailable: access denied: your AWS identity is not allowed to call codebuild:BatchGetBuilds"
        in (cli.stderr)
    )


def test_watch_of_a_superseded_execution_is_not_a_success():
    cli = Cli()
    cli.expect("codepipeline", "get_pipeline", definition(), name=PIPELINE)
    expect_poll(cli, "Superseded", BUILD_DONE, SOURCE_DONE)
    assert cli.run("watch", "--pipeline", PIPELINE, "--execution-id", LATEST) == 1
    assert cli.stdout.splitlines()[-1] == f"Execution {LATEST} of {PIPELINE} ended Superseded"


def test_ctrl_c_stops_watching_with_130_and_leaves_the_pipeline_alone():
    cli = Cli()
    expect_running_latest(cli)
    expect_poll(cli, "InProgress", BUILD_RUNNING, SOURCE_DONE)

    def ctrl_c(seconds):
        raise KeyboardInterrupt

    cli.terminal.sleep = ctrl_c
    assert cli.run("watch", "--pipeline", PIPELINE) == 130
    cli.assert_all_calls_made()  # and nothing else: no stop, no abandon
    assert f"Stopped watching; execution {LATEST} carries on." in cli.stderr


def test_watch_draws_a_live_table_on_a_terminal():
    cli = Cli(tty=True)
    cli.expect("codepipeline", "get_pipeline", definition(), name=PIPELINE)
    expect_poll(cli, "InProgress", BUILD_RUNNING, SOURCE_DONE)
    expect_poll(cli, "Succeeded", DEPLOYED, APPROVED, BUILD_DONE, SOURCE_DONE)
    assert cli.run("watch", "--pipeline", PIPELINE, "--execution-id", LATEST) == 0
    assert cli.sleeps == [10]
    screen = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", cli.stdout)  # colours and cursor moves
    # The first frame, then the last one redrawn over it.
    assert f"{PIPELINE} execution 9c8d7e6f (9f8e7d6 Fix checkout rounding): InProgress" in screen
    assert f"{PIPELINE} execution 9c8d7e6f (9f8e7d6 Fix checkout rounding): Succeeded" in screen
    assert_row(screen, "Deploy", "Service", "Pending", "-")
    assert_row(screen, "Build", "Image", "Succeeded", "7m 24s")
    assert_row(screen, "Deploy", "Service", "Succeeded", "1m 19s")
    assert screen.endswith(f"Execution {LATEST} of {PIPELINE} succeeded.\n")


def test_watch_when_the_pipeline_never_ran():
    cli = Cli()
    cli.expect("codepipeline", "list_pipeline_executions", executions(), pipelineName=PIPELINE, maxResults=20)
    cli.expect("codepipeline", "list_pipeline_executions", executions(), pipelineName=PIPELINE, maxResults=1)
    assert cli.run("watch", "--pipeline", PIPELINE) == 1
    assert cli.stderr == f"error: pipeline {PIPELINE} has never run: start it with `ecs-cicd start`\n"


def test_watch_rejects_a_poll_interval_below_a_second():
    cli = Cli()
    assert cli.run("watch", "--pipeline", PIPELINE, "--interval", "0") == 2
    assert cli.stderr == "error: --interval must be between 1 and 300, got 0.0\n"
    cli.assert_all_calls_made()


def test_start_watch_follows_the_execution_it_started():
    cli = Cli()
    cli.expect("codepipeline", "start_pipeline_execution", {"pipelineExecutionId": LATEST}, name=PIPELINE)
    cli.expect("codepipeline", "get_pipeline", definition(), name=PIPELINE)
    expect_poll(cli, "Failed", BUILD_FAILED, SOURCE_DONE)
    assert cli.run("start", "--pipeline", PIPELINE, "--watch", "--log-lines", "0") == 1
    cli.assert_all_calls_made()
    assert cli.stdout.splitlines()[0] == f"Started execution {LATEST} of {PIPELINE}."
    assert_row(cli.stdout, "2025-11-25 14:04:02", "Build/Image", "Failed")
    assert cli.stdout.splitlines()[-1] == f"Build/Image failed: {BUILD_ERROR}"
