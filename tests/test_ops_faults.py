"""The operations CLI when AWS misbehaves: a hung or refused endpoint, a page of HTML, fields AWS may
leave out, data that looks like markup, logs that come in short pages."""

import http.server
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import boto3
import pytest
from botocore.config import Config

from ops.aws import Aws
from ops.cli import AWS_ERROR, main

from .ops_fixtures import (
    BUILD_ID,
    LATEST,
    PIPELINE,
    Cli,
    action_state,
    executions,
    pipeline_state,
    stage_state,
    summary,
)
from .test_ops_logs_connection import LOG_GROUP, LOG_STREAM

FAST = Config(retries={"mode": "standard", "total_max_attempts": 3}, connect_timeout=0.2, read_timeout=0.2)


def cli_against(endpoint: str, monkeypatch) -> Cli:
    """A CLI whose clients talk to `endpoint`, with short timeouts."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    cli = Cli()
    session = boto3.Session(aws_access_key_id="x", aws_secret_access_key="y", region_name="eu-west-1")
    cli.aws = Aws(session=session, config=FAST)
    return cli


def run(cli: Cli, *argv: str) -> int:
    return main(list(argv), terminal=cli.terminal, make_aws=lambda _region: cli.aws)


@contextmanager
def hung_endpoint() -> Iterator[str]:
    """Accepts connections and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    held: list = []
    threading.Thread(target=lambda: [held.append(server.accept()) for _ in range(8)], daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}"
    finally:
        server.close()


@contextmanager
def html_endpoint() -> Iterator[str]:
    """Answers every request with 200 and an HTML page, as a captive portal or a proxy does."""

    class Page(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            body = b"<html><body>Please log in to the network</body></html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Page)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


def test_a_hung_endpoint_is_given_up_on_with_each_retry_said(monkeypatch):
    with hung_endpoint() as endpoint:
        cli = cli_against(endpoint, monkeypatch)
        started = time.monotonic()
        assert run(cli, "status", "--pipeline", PIPELINE) == AWS_ERROR
    assert time.monotonic() - started < 10
    lines = cli.stderr.splitlines()
    assert [line.split("; ")[-1] for line in lines[:-1]] == ["retrying (1/2)", "retrying (2/2)"]
    assert lines[0].startswith("GetPipelineState: Read timeout")
    assert lines[-1].startswith(f"error: AWS at {endpoint}") and "did not answer in time" in lines[-1]


def test_a_refused_connection_is_said_at_once(monkeypatch):
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    endpoint = f"http://127.0.0.1:{closed.getsockname()[1]}"
    closed.close()
    cli = cli_against(endpoint, monkeypatch)
    assert run(cli, "status", "--pipeline", PIPELINE) == AWS_ERROR
    assert "retrying (1/2)" in cli.stderr and "cannot reach AWS at" in cli.stderr


def test_a_page_that_is_not_aws_is_an_error_not_an_empty_pipeline(monkeypatch):
    with html_endpoint() as endpoint:
        cli = cli_against(endpoint, monkeypatch)
        assert run(cli, "status", "--pipeline", PIPELINE) == AWS_ERROR
    assert "the answer is not AWS's (HTTP 200, text/html)" in cli.stderr


def test_commit_messages_are_shown_as_written_not_as_markup():
    cli = Cli()
    weird = summary(LATEST, "Succeeded")
    weird["sourceRevisions"][0]["revisionSummary"] = '{"CommitMessage": "Fix [/api] routes [skip ci] [bold]x"}'
    cli.expect("codepipeline", "list_pipeline_executions", executions(weird), pipelineName=PIPELINE, maxResults=10)
    assert cli.run("history", "--pipeline", PIPELINE) == 0
    assert "Fix [/api] routes [skip ci] [bold]x" in cli.stdout


def test_fields_aws_may_leave_out_do_not_break_status():
    cli = Cli()
    state = pipeline_state(stage_state("Build", LATEST, "InProgress", action_state("Image", "InProgress")))
    del state["stageStates"][0]["actionStates"][0]["actionName"]
    cli.expect("codepipeline", "get_pipeline_state", state, name=PIPELINE)
    nulled = summary(LATEST, "InProgress")
    nulled["sourceRevisions"][0]["revisionSummary"] = '{"CommitMessage": null}'
    cli.expect("codepipeline", "list_pipeline_executions", executions(nulled), pipelineName=PIPELINE, maxResults=50)
    assert cli.run("status", "--pipeline", PIPELINE) == 0
    assert "Build" in cli.stdout and "?" in cli.stdout


def test_logs_follow_short_and_empty_pages_to_the_lines_asked_for():
    cli = Cli()
    build = {"id": BUILD_ID, "buildStatus": "FAILED", "logs": {"groupName": LOG_GROUP, "streamName": LOG_STREAM}}
    cli.stub("codebuild").add_response("batch_get_builds", {"builds": [build]}, {"ids": [BUILD_ID]})
    asked = {"logGroupName": LOG_GROUP, "logStreamName": LOG_STREAM, "startFromHead": False}
    logs = cli.stub("logs")
    event = lambda i: {"timestamp": 1764079200000 + i, "message": f"line {i}\n"}  # noqa: E731
    logs.add_response(
        "get_log_events", {"events": [event(3), event(4)], "nextBackwardToken": "b/1"}, {**asked, "limit": 5}
    )
    logs.add_response(
        "get_log_events", {"events": [], "nextBackwardToken": "b/2"}, {**asked, "limit": 3, "nextToken": "b/1"}
    )
    logs.add_response(
        "get_log_events",
        {"events": [event(1), event(2)], "nextBackwardToken": "b/3"},
        {**asked, "limit": 3, "nextToken": "b/2"},
    )
    # The same token back: the start of the stream.
    logs.add_response(
        "get_log_events", {"events": [event(0)], "nextBackwardToken": "b/3"}, {**asked, "limit": 1, "nextToken": "b/3"}
    )
    assert cli.run("logs", "--build-id", BUILD_ID, "--lines", "5") == 0
    cli.assert_all_calls_made()
    assert cli.stdout.splitlines() == [f"line {i}" for i in range(5)]


@pytest.mark.parametrize(
    ("code", "exit_code"), [("AccessDeniedException", AWS_ERROR), ("ThrottlingException", AWS_ERROR)]
)
def test_an_aws_error_while_watching_is_not_a_failed_deploy(code, exit_code):
    cli = Cli()
    cli.expect_error("codepipeline", "list_pipeline_executions", code, "no")
    assert cli.run("watch", "--pipeline", PIPELINE) == AWS_ERROR


def test_ctrl_c_while_starting_prints_no_traceback(monkeypatch, capsys):
    import ops.entry

    def interrupted(name):
        raise KeyboardInterrupt

    monkeypatch.setattr(ops.entry.importlib, "import_module", interrupted)
    assert ops.entry.run() == 130
    assert capsys.readouterr().err == "interrupted\n"


def test_an_execution_id_is_never_read_as_markup():
    cli = Cli()
    odd = summary(LATEST, "Succeeded")
    odd["pipelineExecutionId"] = "[/bold]-x"
    cli.expect("codepipeline", "list_pipeline_executions", executions(odd), pipelineName=PIPELINE, maxResults=10)
    assert cli.run("history", "--pipeline", PIPELINE) == 0
    assert "[/bold]" in cli.stdout
