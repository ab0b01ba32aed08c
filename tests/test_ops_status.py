"""`ecs-cicd status` and `ecs-cicd history`: what the pipeline is doing and has done."""

import json

from .ops_fixtures import (
    BUILD_ID,
    LATEST,
    OLD,
    PIPELINE,
    PREVIOUS,
    ROLLBACK,
    Cli,
    action_state,
    assert_row,
    execution,
    executions,
    pipeline_state,
    stage_state,
    summary,
)


def awaiting_approval_state() -> dict:
    """The latest commit is built and waits for approval; production still runs the previous one."""
    return pipeline_state(
        stage_state("Source", LATEST, "Succeeded", action_state("Source", "Succeeded", "14:02:15")),
        stage_state("Build", LATEST, "Succeeded", action_state("Image", "Succeeded", "14:09:40", external_id=BUILD_ID)),
        stage_state("Approve", LATEST, "InProgress", action_state("Approve", "InProgress", "14:09:42", token="t-1")),
        stage_state("Deploy", PREVIOUS, "Succeeded", action_state("Service", "Succeeded", "13:41:10")),
    )


def recent_executions() -> dict:
    return executions(
        summary(LATEST, "InProgress", "14:02:11", "14:09:42"),
        summary(PREVIOUS, "Succeeded", "13:20:05", "13:41:10"),
    )


def status_cli() -> Cli:
    cli = Cli()
    cli.expect("codepipeline", "get_pipeline_state", awaiting_approval_state(), name=PIPELINE)
    cli.expect("codepipeline", "list_pipeline_executions", recent_executions(), pipelineName=PIPELINE, maxResults=50)
    return cli


def test_status_shows_each_stage_and_action_with_commit_and_timings():
    cli = status_cli()
    assert cli.run("status", "--pipeline", PIPELINE) == 0
    cli.assert_all_calls_made()
    out = cli.stdout
    assert out.startswith("Pipeline orders-api-prod (eu-west-1)\n")
    # Executions the stages are on: running for 9m 49s at 14:12:00, and the one deployed before.
    assert_row(out, "9c8d7e6f", "InProgress", "9f8e7d6 Fix checkout rounding", "2025-11-25 14:02:11", "9m 49s")
    assert_row(out, "5e6f7a8b", "Succeeded", "7f3e2d1 Bump base image", "2025-11-25 13:20:05", "21m 05s")
    assert_row(out, "Source", "Source", "Succeeded", "2025-11-25 14:02:15", "9c8d7e6f")
    assert_row(out, "Build", "Image", "Succeeded", "2025-11-25 14:09:40", "9c8d7e6f")
    assert_row(out, "Approve", "Approve", "InProgress", "2025-11-25 14:09:42", "9c8d7e6f", "awaiting approval")
    assert_row(out, "Deploy", "Service", "Succeeded", "2025-11-25 13:41:10", "5e6f7a8b")
    assert "Longer description" not in out  # only the first line of the commit message


def test_status_json():
    cli = status_cli()
    assert cli.run("status", "--pipeline", PIPELINE, "--json") == 0
    data = json.loads(cli.stdout)
    assert data["pipeline"] == PIPELINE
    assert data["region"] == "eu-west-1"
    assert [(s["name"], s["status"], s["executionId"]) for s in data["stages"]] == [
        ("Source", "Succeeded", LATEST),
        ("Build", "Succeeded", LATEST),
        ("Approve", "InProgress", LATEST),
        ("Deploy", "Succeeded", PREVIOUS),
    ]
    build, approve = data["stages"][1]["actions"][0], data["stages"][2]["actions"][0]
    assert build["externalExecutionId"] == BUILD_ID
    assert build["lastStatusChange"] == "2025-11-25T14:09:40+00:00"
    assert approve["awaitingApproval"] is True
    assert data["stages"][3]["commit"] == {
        "id": "7f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b7a6f5e",
        "message": "Bump base image",
    }
    running = next(e for e in data["executions"] if e["id"] == LATEST)
    assert running["durationSeconds"] == 589
    assert running["trigger"]["type"] == "WebhookV2"


def test_status_fetches_an_execution_older_than_the_recent_list_for_its_commit():
    cli = Cli()
    state = pipeline_state(
        stage_state("Source", LATEST, "Succeeded", action_state("Source", "Succeeded")),
        stage_state("Deploy", OLD, "Succeeded", action_state("Service", "Succeeded")),
    )
    cli.expect("codepipeline", "get_pipeline_state", state, name=PIPELINE)
    cli.expect(
        "codepipeline",
        "list_pipeline_executions",
        executions(summary(LATEST, "Failed")),
        pipelineName=PIPELINE,
        maxResults=50,
    )
    cli.expect(
        "codepipeline",
        "get_pipeline_execution",
        execution(OLD, "Succeeded"),
        pipelineName=PIPELINE,
        pipelineExecutionId=OLD,
    )
    assert cli.run("status", "--pipeline", PIPELINE) == 0
    assert_row(cli.stdout, "0a1b2c3d", "Succeeded", "1a2b3c4 Add order export", "-", "-")
    cli.assert_all_calls_made()


def test_status_of_an_unknown_pipeline_fails():
    cli = Cli()
    cli.expect_error("codepipeline", "get_pipeline_state", "PipelineNotFoundException", "no such pipeline")
    assert cli.run("status", "--pipeline", "orders") == 3
    assert cli.stdout == ""
    assert "error: no pipeline named 'orders' in eu-west-1" in cli.stderr


def test_history_lists_executions_with_trigger_commit_and_duration():
    cli = Cli()
    cli.expect(
        "codepipeline",
        "list_pipeline_executions",
        executions(
            summary(LATEST, "InProgress", "14:02:11", "14:09:42"),
            summary(ROLLBACK, "Succeeded", "13:50:00", "13:52:30", rollback_of=OLD),
            summary(PREVIOUS, "Succeeded", "13:20:05", "13:41:10", trigger="StartPipelineExecution"),
            summary(OLD, "Succeeded", "09:00:00", "10:05:30"),
        ),
        pipelineName=PIPELINE,
        maxResults=10,
    )
    assert cli.run("history", "--pipeline", PIPELINE) == 0
    assert_row(cli.stdout, "Execution", "Status", "Trigger", "Commit", "Started", "Duration")
    assert_row(
        cli.stdout,
        "9c8d7e6f",
        "InProgress",
        "WebhookV2",
        "9f8e7d6 Fix checkout rounding",
        "2025-11-25 14:02:11",
        "9m 49s",
    )
    assert_row(
        cli.stdout,
        "5e6f7a8b",
        "Succeeded",
        "StartPipelineExecution",
        "7f3e2d1 Bump base image",
        "2025-11-25 13:20:05",
        "21m 05s",
    )
    # A rollback carries the commit it went back to.
    assert_row(
        cli.stdout,
        "b1c2d3e4",
        "Succeeded",
        "ManualRollback",
        "1a2b3c4 Add order export",
        "2025-11-25 13:50:00",
        "2m 30s",
    )
    assert_row(
        cli.stdout, "0a1b2c3d", "Succeeded", "WebhookV2", "1a2b3c4 Add order export", "2025-11-25 09:00:00", "1h 05m"
    )
    cli.assert_all_calls_made()


def test_history_json_with_limit():
    cli = Cli()
    cli.expect(
        "codepipeline",
        "list_pipeline_executions",
        executions(summary(LATEST, "Failed", "14:02:11", "14:04:00"), summary(PREVIOUS, "Succeeded")),
        pipelineName=PIPELINE,
        maxResults=2,
    )
    assert cli.run("history", "--pipeline", PIPELINE, "--json", "--limit", "2") == 0
    data = json.loads(cli.stdout)
    assert data["pipeline"] == PIPELINE
    assert [(e["id"], e["status"]) for e in data["executions"]] == [(LATEST, "Failed"), (PREVIOUS, "Succeeded")]
    latest = data["executions"][0]
    assert latest["commit"] == {"id": "9f8e7d6c5b4a39281706f5e4d3c2b1a098765432", "message": "Fix checkout rounding"}
    assert latest["startTime"] == "2025-11-25T14:02:11+00:00"
    assert latest["durationSeconds"] == 109
    assert latest["type"] == "STANDARD"


def test_history_stops_at_the_limit_across_pages():
    cli = Cli()
    first = executions(summary(LATEST, "Succeeded"), summary(PREVIOUS, "Succeeded"))
    cli.expect(
        "codepipeline",
        "list_pipeline_executions",
        {**first, "nextToken": "page-2"},
        pipelineName=PIPELINE,
        maxResults=3,
    )
    cli.expect(
        "codepipeline",
        "list_pipeline_executions",
        executions(summary(OLD, "Failed")),
        pipelineName=PIPELINE,
        maxResults=3,
        nextToken="page-2",
    )
    assert cli.run("history", "--pipeline", PIPELINE, "--json", "--limit", "3") == 0
    assert [e["id"] for e in json.loads(cli.stdout)["executions"]] == [LATEST, PREVIOUS, OLD]


def test_history_of_a_pipeline_that_never_ran():
    cli = Cli()
    cli.expect("codepipeline", "list_pipeline_executions", executions(), pipelineName=PIPELINE, maxResults=10)
    assert cli.run("history", "--pipeline", PIPELINE) == 0
    assert cli.stdout == "Pipeline orders-api-prod has never run.\n"


def test_history_rejects_a_bad_limit_before_calling_aws():
    cli = Cli()
    assert cli.run("history", "--pipeline", PIPELINE, "--limit", "0") == 2
    assert cli.stderr == "error: --limit must be between 1 and 1000, got 0\n"
    cli.assert_all_calls_made()
