"""`ecs-cicd logs` (the end of a CodeBuild log) and `ecs-cicd connection` (the GitHub connection preflight)."""

import pytest

from components.settings import connection_name

from .ops_fixtures import (
    BUILD_ID,
    LATEST,
    PIPELINE,
    PROJECT_DIR,
    Cli,
    action_state,
    definition,
    pipeline_state,
    stage_state,
)

LOG_GROUP = "/aws/codebuild/orders-api-prod"
LOG_STREAM = "6a1d2f4e-8b3c-4d5e-9f60-7a8b9c0d1e2f"
LOG = ["[Container] Entering phase BUILD", "Successfully built 3f2a1b0c9d8e", "[Container] Phase complete: BUILD"]


def expect_build_log(cli: Cli, lines: int) -> None:
    build = {"id": BUILD_ID, "buildStatus": "SUCCEEDED", "logs": {"groupName": LOG_GROUP, "streamName": LOG_STREAM}}
    cli.stub("codebuild").add_response("batch_get_builds", {"builds": [build]}, {"ids": [BUILD_ID]})
    events = [{"timestamp": 1764079200000 + i, "message": f"{line}\n"} for i, line in enumerate(LOG)]
    cli.stub("logs").add_response(
        "get_log_events",
        {"events": events},
        {"logGroupName": LOG_GROUP, "logStreamName": LOG_STREAM, "limit": lines, "startFromHead": False},
    )


def expect_build_stage(cli: Cli, **image_state) -> None:
    cli.expect("codepipeline", "get_pipeline", definition(), name=PIPELINE)
    state = pipeline_state(stage_state("Build", LATEST, "Succeeded", action_state("Image", "Succeeded", **image_state)))
    cli.expect("codepipeline", "get_pipeline_state", state, name=PIPELINE)


def test_logs_of_the_latest_build_of_the_pipelines_build_action():
    cli = Cli()
    expect_build_stage(cli, external_id=BUILD_ID)
    expect_build_log(cli, lines=100)
    assert cli.run("logs", "--pipeline", PIPELINE) == 0
    cli.assert_all_calls_made()
    assert cli.stdout.splitlines() == LOG
    assert cli.stderr == f"Build {BUILD_ID}:\n"


def test_logs_of_a_given_build_needs_no_pipeline():
    cli = Cli()
    expect_build_log(cli, lines=20)
    assert cli.run("logs", "--build-id", BUILD_ID, "--lines", "20") == 0
    cli.assert_all_calls_made()
    assert cli.stdout.splitlines() == LOG


def test_logs_before_the_first_build():
    cli = Cli()
    expect_build_stage(cli)
    assert cli.run("logs", "--pipeline", PIPELINE) == 1
    assert cli.stderr == f"error: Build/Image of {PIPELINE} has not started a build yet\n"


def test_logs_of_an_unknown_build():
    cli = Cli()
    cli.stub("codebuild").add_response("batch_get_builds", {"builds": [], "buildsNotFound": ["x:1"]}, {"ids": ["x:1"]})
    assert cli.run("logs", "--build-id", "x:1") == 1
    assert cli.stderr == "error: no CodeBuild build x:1 in eu-west-1\n"


def test_logs_of_a_queued_build_without_a_log_stream():
    cli = Cli()
    build = {"id": BUILD_ID, "buildStatus": "IN_PROGRESS", "logs": {"groupName": LOG_GROUP}}
    cli.stub("codebuild").add_response("batch_get_builds", {"builds": [build]}, {"ids": [BUILD_ID]})
    assert cli.run("logs", "--build-id", BUILD_ID) == 1
    assert cli.stderr == f"error: build {BUILD_ID} has no CloudWatch log yet (it is IN_PROGRESS)\n"


def test_logs_needs_a_build_or_a_pipeline():
    cli = Cli()
    assert cli.run("logs") == 2
    assert cli.stderr.startswith("error: say which build: --build-id, or --pipeline / --stack")


# --- connection ------------------------------------------------------------------------------------

ARN = "arn:aws:codeconnections:eu-west-1:111122223333:connection/4f2c1a9e-7b3d-4e8a-9c51-2d6f0e8b7a13"
LEGACY_ARN = "arn:aws:codestar-connections:us-east-2:111122223333:connection/0b5c7a1e-2d3f-4e6a-9b8c-7d6e5f4a3b2c"


def connection(arn: str, status: str, name: str = "orders-api-prod") -> dict:
    return {
        "Connection": {
            "ConnectionName": name,
            "ConnectionArn": arn,
            "ProviderType": "GitHub",
            "OwnerAccountId": "111122223333",
            "ConnectionStatus": status,
        }
    }


def expect_get_connection(cli: Cli, arn: str, status: str, name: str = "orders-api-prod") -> None:
    service, region = arn.split(":")[2], arn.split(":")[3]
    cli.stub(service, region).add_response("get_connection", connection(arn, status, name), {"ConnectionArn": arn})


def test_available_connection_passes_the_preflight():
    cli = Cli()
    expect_get_connection(cli, ARN, "AVAILABLE")
    assert cli.run("connection", "--connection-arn", ARN) == 0
    cli.assert_all_calls_made()
    assert cli.stdout == f"Connection orders-api-prod (GitHub) is AVAILABLE.\n{ARN}\n"


def test_pending_connection_fails_and_says_how_to_complete_the_handshake():
    cli = Cli()
    expect_get_connection(cli, ARN, "PENDING")
    assert cli.run("connection", "--connection-arn", ARN) == 1
    out = cli.stdout
    assert out.startswith("Connection orders-api-prod (GitHub) is PENDING: nobody has completed the GitHub handshake")
    url = (
        "https://eu-west-1.console.aws.amazon.com/codesuite/settings/connections/"
        "4f2c1a9e-7b3d-4e8a-9c51-2d6f0e8b7a13?region=eu-west-1"
    )
    assert f"  1. Open {url}\n" in out
    assert '  2. Choose "Update pending connection".' in out
    assert "exits 0 once the connection is AVAILABLE" in out


def test_connection_in_error_fails():
    cli = Cli()
    expect_get_connection(cli, ARN, "ERROR")
    assert cli.run("connection", "--connection-arn", ARN) == 1
    assert cli.stdout.startswith("Connection orders-api-prod (GitHub) is ERROR: CodePipeline cannot use it.\n")


def test_codestar_connections_arn_is_read_through_its_own_service_and_region():
    cli = Cli()
    expect_get_connection(cli, LEGACY_ARN, "PENDING")
    assert cli.run("connection", "--connection-arn", LEGACY_ARN) == 1
    cli.assert_all_calls_made()  # answered by the codestar-connections client in us-east-2
    assert "https://us-east-2.console.aws.amazon.com/codesuite/settings/connections/0b5c7a1e-" in cli.stdout


def test_connection_configured_in_the_stack():
    cli = Cli()
    expect_get_connection(cli, LEGACY_ARN, "AVAILABLE", name="acme-github")
    assert cli.run("connection", "--stack", "e2e", "--project-dir", str(PROJECT_DIR)) == 0
    cli.assert_all_calls_made()
    assert cli.stdout.startswith("Connection acme-github (GitHub) is AVAILABLE.")


def test_connection_created_by_the_program_is_found_by_its_name():
    cli = Cli()
    own = "arn:aws:codeconnections:eu-west-1:111122223333:connection/77777777-7b3d-4e8a-9c51-2d6f0e8b7a13"
    other = {"ConnectionName": "orders-api-prod", "ConnectionArn": ARN}
    cli.stub("codeconnections").add_response(
        "list_connections", {"Connections": [other], "NextToken": "2"}, {"ProviderTypeFilter": "GitHub"}
    )
    cli.stub("codeconnections").add_response(
        "list_connections",
        {"Connections": [{"ConnectionName": "orders-api-noconnection", "ConnectionArn": own}]},
        {"ProviderTypeFilter": "GitHub", "NextToken": "2"},
    )
    expect_get_connection(cli, own, "PENDING", name="orders-api-noconnection")
    assert cli.run("connection", "--stack", "noconnection", "--project-dir", str(PROJECT_DIR)) == 1
    cli.assert_all_calls_made()
    assert "as someone allowed to install GitHub apps on the acme GitHub account" in cli.stdout


def test_connection_name_follows_the_programs_32_character_rule():
    cli = Cli()
    cli.stub("codeconnections").add_response("list_connections", {"Connections": []}, {"ProviderTypeFilter": "GitHub"})
    assert cli.run("connection", "--pipeline", "payments-reconciliation-service-staging") == 1
    assert cli.stderr == (
        f"error: no GitHub connection named '{connection_name('payments-reconciliation-service-staging')}' "
        "in eu-west-1: "
        "`pulumi up` creates it, or pass --connection-arn\n"
    )


def test_connection_access_denied_names_the_action():
    cli = Cli()
    cli.stub("codeconnections", "eu-west-1").add_client_error("get_connection", "AccessDeniedException", "denied")
    assert cli.run("connection", "--connection-arn", ARN) == 3
    assert cli.stderr == (
        "error: access denied: your AWS identity is not allowed to call codeconnections:GetConnection (denied)\n"
    )


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["--connection-arn", "arn:aws:s3:::bucket"],
            "--connection-arn 'arn:aws:s3:::bucket' is not a CodeConnections",
        ),
        ([], "say which connection: --connection-arn, or --stack / --pipeline"),
    ],
)
def test_connection_usage_errors(argv, message):
    cli = Cli()
    assert cli.run("connection", *argv) == 2
    assert cli.stderr.startswith(f"error: {message}")
