"""The `ecs-cicd` command line as a whole: help, finding the pipeline, AWS clients, one-line errors."""

import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from ops.aws import Aws
from ops.cli import main

from .ops_fixtures import PIPELINE, PROJECT_DIR, Cli, executions

ROOT = Path(__file__).resolve().parent.parent

EVERY_COMMAND = [
    "status",
    "history",
    "watch",
    "start",
    "stop",
    "approve",
    "reject",
    "retry",
    "rollback",
    "logs",
    "connection",
    "preflight",
]


def test_help_lists_every_command(capsys):
    assert main(["--help"]) == 0
    listed = re.findall(r"^    (\w+)", capsys.readouterr().out, re.MULTILINE)
    assert listed == EVERY_COMMAND


@pytest.mark.parametrize("command", EVERY_COMMAND)
def test_every_command_has_help(command, capsys):
    assert main([command, "--help"]) == 0
    assert f"usage: ecs-cicd {command}" in capsys.readouterr().out


def test_a_command_needs_a_pipeline_or_a_stack(capsys):
    assert main(["status"]) == 2
    assert "one of the arguments --pipeline --stack is required" in capsys.readouterr().err


def test_an_unknown_command_is_a_usage_error(capsys):
    assert main(["deploy", "--pipeline", PIPELINE]) == 2
    assert "invalid choice: 'deploy'" in capsys.readouterr().err


def test_stack_names_the_pipeline_and_its_region_with_the_programs_settings():
    cli = Cli()
    cli.expect("codepipeline", "list_pipeline_executions", executions(), pipelineName="orders-api-e2e", maxResults=1)
    assert cli.run("history", "--stack", "e2e", "--project-dir", str(PROJECT_DIR), "--limit", "1") == 0
    assert cli.regions == ["us-east-2"]  # the stack's aws:region, where Pulumi put the pipeline
    assert "Pipeline orders-api-e2e has never run." in cli.stdout
    cli.assert_all_calls_made()


def test_region_flag_wins_over_the_stacks_region():
    cli = Cli()
    cli.expect("codepipeline", "list_pipeline_executions", executions(), pipelineName="orders-api-e2e", maxResults=10)
    assert cli.run("history", "--stack", "e2e", "--project-dir", str(PROJECT_DIR), "--region", "eu-central-1") == 0
    assert cli.regions == ["eu-central-1"]


def test_invalid_stack_configuration_is_one_clean_line():
    cli = Cli()
    assert cli.run("status", "--stack", "broken", "--project-dir", str(PROJECT_DIR)) == 1
    lines = cli.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: stack broken has an invalid configuration: ")
    assert "ecs-cicd:service.container is required" in lines[0]
    assert "ecs-cicd:pipeline.executionMode = 'SOMETIMES' is not allowed" in lines[0]


def test_unknown_stack_lists_the_stacks_there_are():
    cli = Cli()
    assert cli.run("status", "--stack", "qa", "--project-dir", str(PROJECT_DIR)) == 1
    assert "error: cannot read stack qa: no stack file Pulumi.qa.yaml in " in cli.stderr
    assert "stacks here: broken, e2e" in cli.stderr


def test_project_dir_without_a_pulumi_project(tmp_path):
    cli = Cli()
    assert cli.run("status", "--stack", "dev", "--project-dir", str(tmp_path)) == 1
    assert f"no Pulumi.yaml in {tmp_path} (point --project-dir at the Pulumi project)" in cli.stderr


def test_clients_retry_in_standard_mode_and_honour_aws_endpoint_url(monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:4566")
    client = Aws(region="eu-west-1").client("codepipeline")
    assert client.meta.config.retries == {"mode": "standard", "total_max_attempts": 5}
    assert (client.meta.config.connect_timeout, client.meta.config.read_timeout) == (5, 20)
    assert client.meta.region_name == "eu-west-1"
    assert client.meta.endpoint_url == "http://127.0.0.1:4566"


def test_aws_region_is_honoured_like_the_aws_cli_does(monkeypatch):
    monkeypatch.setenv("AWS_REGION", "ap-southeast-2")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    assert Aws().region == "ap-southeast-2"
    assert Aws(region="us-east-1").region == "us-east-1"


def test_missing_credentials(monkeypatch, tmp_path):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    cli = Cli()
    assert main(["status", "--pipeline", PIPELINE, "--region", "eu-west-1"], terminal=cli.terminal) == 3
    assert cli.stderr.startswith("error: no AWS credentials found: set AWS_PROFILE")
    assert len(cli.stderr.strip().splitlines()) == 1


def test_no_region_anywhere(monkeypatch, tmp_path):
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    cli = Cli()
    assert main(["status", "--pipeline", PIPELINE], terminal=cli.terminal) == 3
    assert "error: no AWS region: pass --region, set AWS_REGION" in cli.stderr


@pytest.mark.parametrize("code", ["ExpiredToken", "ExpiredTokenException"])
def test_expired_credentials(code):
    cli = Cli()
    cli.expect_error(
        "codepipeline", "get_pipeline_state", code, "The security token included in the request is expired"
    )
    assert cli.run("status", "--pipeline", PIPELINE) == 3
    assert (
        cli.stderr
        == "error: the AWS credentials have expired: refresh them (for example `aws sso login`) and run again\n"
    )


def test_access_denied_names_the_denied_api_action():
    cli = Cli()
    cli.expect_error(
        "codepipeline",
        "get_pipeline_state",
        "AccessDeniedException",
        "User: arn:aws:sts::111122223333:assumed-role/dev/alice is not authorized to perform: "
        "codepipeline:GetPipelineState on resource: arn:aws:codepipeline:eu-west-1:111122223333:orders-api-prod",
    )
    assert cli.run("status", "--pipeline", PIPELINE) == 3
    assert cli.stderr.startswith(
        "error: access denied: your AWS identity is not allowed to call codepipeline:GetPipelineState ("
    )


def test_unknown_pipeline():
    cli = Cli()
    cli.expect_error("codepipeline", "list_pipeline_executions", "PipelineNotFoundException", "not found")
    assert cli.run("history", "--pipeline", "orders-api-typo") == 3
    assert cli.stderr == (
        "error: no pipeline named 'orders-api-typo' in eu-west-1: check --pipeline or --stack, and --region\n"
    )


def test_other_aws_errors_name_the_call_and_the_code():
    cli = Cli()
    cli.expect_error("codepipeline", "list_pipeline_executions", "ValidationException", "maxResults is too big")
    assert cli.run("history", "--pipeline", PIPELINE) == 3
    assert cli.stderr == (
        "error: codepipeline:ListPipelineExecutions failed: ValidationException: maxResults is too big\n"
    )


def test_ctrl_c_exits_130_without_a_traceback():
    cli = Cli()

    def interrupted(service, *args, **kwargs):
        raise KeyboardInterrupt

    cli.aws.client = interrupted
    assert cli.run("history", "--pipeline", PIPELINE) == 130
    assert cli.stderr == "error: interrupted; nothing more was changed\n"


def test_the_cli_reads_stacks_without_the_pulumi_sdk():
    """`pip install ecs-cicd` (no `[pulumi]` extra): `--stack` still finds the pipeline and region."""
    probe = textwrap.dedent(
        """
        import sys

        class NoPulumi:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in ("pulumi", "pulumi_aws", "pulumi_awsx"):
                    raise ModuleNotFoundError(f"No module named {name!r}", name=name)

        sys.meta_path.insert(0, NoPulumi())
        from ops.target import read_stack

        settings, region = read_stack("prod", None)
        print(settings.services[0].pipeline.name, region, "pulumi" in sys.modules)
        try:
            from components import EcsService
        except ImportError as error:
            print(error)
        """
    )
    ran = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True)
    lines = ran.stdout.splitlines()
    assert lines[0] == "orders-api-prod eu-west-1 False"
    assert "pip install 'ecs-cicd[pulumi]'" in lines[1]
