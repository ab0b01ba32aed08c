"""End to end against a moto server on 127.0.0.1, the CLI pointed at it the way a user points any AWS
tool at another endpoint: AWS_ENDPOINT_URL and (dummy) credentials in the environment. moto implements
creating, starting and listing pipelines and CloudWatch Logs; what it lacks is covered with Stubber in
the other test_ops_* files."""

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import boto3
import pytest
from moto.server import ThreadedMotoServer

from ops.cli import main

from .ops_fixtures import PROJECT_DIR, Cli

ROOT = Path(__file__).resolve().parent.parent
PIPELINE = "orders-api-prod"


@pytest.fixture(scope="module")
def endpoint():
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def environment(endpoint, tmp_path, monkeypatch) -> dict[str, str]:
    """A clean AWS environment aimed at moto, for this process and for subprocesses."""
    reset = urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST")  # noqa: S310 - local http
    urllib.request.urlopen(reset).close()  # noqa: S310
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": "eu-west-1",
        "AWS_CONFIG_FILE": str(tmp_path / "aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "aws-credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    for name in [n for n in os.environ if n.startswith("AWS_")]:
        monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


def create_pipeline(name: str, region: str = "eu-west-1") -> None:
    role = boto3.client("iam", region_name=region).create_role(
        RoleName=f"{name}-role",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "codepipeline.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        ),
    )["Role"]["Arn"]

    def action(name: str, category: str, provider: str, **artifacts) -> dict:
        type_id = {"category": category, "owner": "AWS", "provider": provider, "version": "1"}
        return {"name": name, "actionTypeId": type_id, "configuration": {}, **artifacts}

    boto3.client("codepipeline", region_name=region).create_pipeline(
        pipeline={
            "name": name,
            "roleArn": role,
            "pipelineType": "V2",
            "artifactStore": {"type": "S3", "location": f"{name}-artifacts"},
            "stages": [
                {
                    "name": "Source",
                    "actions": [
                        action("Source", "Source", "CodeStarSourceConnection", outputArtifacts=[{"name": "Src"}])
                    ],
                },
                {"name": "Build", "actions": [action("Image", "Build", "CodeBuild", inputArtifacts=[{"name": "Src"}])]},
                {"name": "Deploy", "actions": [action("Service", "Deploy", "ECS", inputArtifacts=[{"name": "Src"}])]},
            ],
        }
    )


def test_start_from_the_command_line_then_history(environment, capsys):
    create_pipeline(PIPELINE)

    started = subprocess.run(
        [sys.executable, "-m", "ops", "start", "--pipeline", PIPELINE],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert started.returncode == 0, started.stderr
    execution_id = started.stdout.split()[2]
    assert started.stdout == f"Started execution {execution_id} of {PIPELINE}.\n"
    listed = boto3.client("codepipeline", region_name="eu-west-1").list_pipeline_executions(pipelineName=PIPELINE)
    assert [e["pipelineExecutionId"] for e in listed["pipelineExecutionSummaries"]] == [execution_id]

    assert main(["history", "--pipeline", PIPELINE, "--json"]) == 0
    (execution,) = json.loads(capsys.readouterr().out)["executions"]
    assert execution["id"] == execution_id
    assert execution["status"] == "Succeeded"  # moto runs nothing, so an execution succeeds at once
    assert execution["trigger"]["type"] == "StartPipelineExecution"


def test_stack_finds_its_pipeline_in_the_stacks_region(environment, capsys):
    create_pipeline("orders-api-e2e", region="us-east-2")  # Pulumi.e2e.yaml says aws:region us-east-2
    boto3.client("codepipeline", region_name="us-east-2").start_pipeline_execution(name="orders-api-e2e")

    code = main(["history", "--stack", "e2e", "--project-dir", str(PROJECT_DIR), "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    data = json.loads(out)
    assert data["pipeline"] == "orders-api-e2e"
    assert [e["status"] for e in data["executions"]] == ["Succeeded"]


def test_unknown_pipeline_against_the_server(environment, capsys):
    create_pipeline(PIPELINE)
    assert main(["start", "--pipeline", "orders-api-typo"]) == 3
    assert capsys.readouterr().err == (
        "error: no pipeline named 'orders-api-typo' in eu-west-1: check --pipeline or --stack, and --region\n"
    )


def test_missing_credentials_against_the_server(environment, monkeypatch, capsys):
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    assert main(["history", "--pipeline", PIPELINE]) == 3
    assert capsys.readouterr().err == (
        "error: no AWS credentials found: set AWS_PROFILE (and run `aws sso login`) or "
        "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY\n"
    )


def test_logs_reads_the_end_of_the_stream_from_cloudwatch_logs(environment):
    logs = boto3.client("logs", region_name="eu-west-1")
    logs.create_log_group(logGroupName="/aws/codebuild/orders-api-prod")
    logs.create_log_stream(logGroupName="/aws/codebuild/orders-api-prod", logStreamName="b-1")
    lines = ["[Container] Entering phase INSTALL", "npm ci", "npm run build", "[Container] Phase complete: BUILD"]
    now_ms = int(time.time() * 1000)  # CloudWatch Logs rejects events older than 14 days
    events = [{"timestamp": now_ms + i, "message": line} for i, line in enumerate(lines)]
    logs.put_log_events(logGroupName="/aws/codebuild/orders-api-prod", logStreamName="b-1", logEvents=events)

    run = Cli()  # CodeBuild stubbed (moto's builds carry no log stream); CloudWatch Logs is the server
    build = {"id": "orders-api-prod:b-1", "logs": {"groupName": "/aws/codebuild/orders-api-prod", "streamName": "b-1"}}
    run.stub("codebuild").add_response("batch_get_builds", {"builds": [build]}, {"ids": ["orders-api-prod:b-1"]})
    assert run.run("logs", "--build-id", "orders-api-prod:b-1", "--lines", "2") == 0
    assert run.stdout.splitlines() == ["npm run build", "[Container] Phase complete: BUILD"]
    assert run.aws.client("logs").meta.endpoint_url == environment["AWS_ENDPOINT_URL"]
