"""The lifecycle hook that checks every new task before ECS moves production traffic to it: against
botocore's ECS model (Stubber), and over HTTP to real local servers standing in for the tasks."""

import http.server
import threading
import time
from contextlib import contextmanager

import boto3
import pytest
from botocore.stub import Stubber

from components import green_check

CLUSTER, SERVICE = "staging", "orders-api"
REVISION = f"arn:aws:ecs:eu-west-1:111122223333:service-revision/{CLUSTER}/{SERVICE}/9313423515462893900"
NEW = "arn:aws:ecs:eu-west-1:111122223333:task-definition/orders-api:8"
OLD = "arn:aws:ecs:eu-west-1:111122223333:task-definition/orders-api:7"
EVENT = {
    "executionId": "3a0345ba",
    "lifecycleStage": "POST_TEST_TRAFFIC_SHIFT",
    "executionDetails": {
        "serviceArn": f"arn:aws:ecs:eu-west-1:111122223333:service/{CLUSTER}/{SERVICE}",
        "targetServiceRevisionArn": REVISION,
        "testTrafficWeights": {},
        "productionTrafficWeights": {},
    },
}


def task(arn: str, definition: str, address: str, status: str = "RUNNING") -> dict:
    return {
        "taskArn": arn,
        "taskDefinitionArn": definition,
        "lastStatus": status,
        "attachments": [
            {"type": "ElasticNetworkInterface", "details": [{"name": "privateIPv4Address", "value": address}]}
        ],
    }


def stubbed(tasks: list[dict]) -> tuple:
    ecs = boto3.client("ecs", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x")
    stub = Stubber(ecs)
    stub.add_response(
        "describe_service_revisions",
        {"serviceRevisions": [{"serviceRevisionArn": REVISION, "taskDefinition": NEW}], "failures": []},
        {"serviceRevisionArns": [REVISION]},
    )
    stub.add_response(
        "list_tasks",
        {"taskArns": [t["taskArn"] for t in tasks]},
        {"cluster": CLUSTER, "serviceName": SERVICE, "desiredStatus": "RUNNING"},
    )
    if tasks:
        stub.add_response(
            "describe_tasks", {"tasks": tasks}, {"cluster": CLUSTER, "tasks": [t["taskArn"] for t in tasks]}
        )
    stub.activate()
    return ecs, stub


@pytest.fixture
def environment(monkeypatch):
    monkeypatch.setenv("CLUSTER", CLUSTER)
    monkeypatch.setenv("SERVICE", SERVICE)
    monkeypatch.setenv("HEALTH_PATH", "/healthz")
    monkeypatch.setenv("CHECK_TIMEOUT_SECONDS", "120")


@contextmanager
def task_answering(status: int):
    """A local HTTP server standing in for a task: answers `status` on the health path."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(status if self.path == "/healthz" else 404)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()


def test_every_new_task_answering_lets_production_traffic_move(environment, monkeypatch):
    with task_answering(200) as port:
        monkeypatch.setenv("CONTAINER_PORT", str(port))
        ecs, stub = stubbed([task("t1", NEW, "127.0.0.1"), task("t0", OLD, "10.0.9.9")])  # the old task is not asked
        assert green_check.handler(EVENT, ecs=ecs) == {"hookStatus": "SUCCEEDED"}
        stub.assert_no_pending_responses()


def test_a_new_task_that_fails_its_health_path_keeps_production_where_it_is(environment, monkeypatch):
    with task_answering(503) as port:
        monkeypatch.setenv("CONTAINER_PORT", str(port))
        ecs, _ = stubbed([task("t1", NEW, "127.0.0.1")])
        answer = green_check.handler(EVENT, ecs=ecs)
        assert answer["hookStatus"] == "IN_PROGRESS" and answer["callBackDelay"] == green_check.CALL_BACK_SECONDS
        # Asked again with what it handed back, after the check's time has run out: roll back.
        ecs, _ = stubbed([task("t1", NEW, "127.0.0.1")])
        late = {**EVENT, "hookDetails": {"startedAt": time.time() - 121}}
        assert green_check.handler(late, ecs=ecs) == {"hookStatus": "FAILED"}


def test_no_new_task_running_yet_is_not_a_pass(environment, monkeypatch):
    monkeypatch.setenv("CONTAINER_PORT", "8080")
    ecs, _ = stubbed([task("t0", OLD, "10.0.9.9"), task("t1", NEW, "10.0.1.1", status="PROVISIONING")])
    assert green_check.handler(EVENT, ecs=ecs, get=lambda url: 200)["hookStatus"] == "IN_PROGRESS"


def test_an_unreachable_task_is_a_failing_one(environment, monkeypatch):
    monkeypatch.setenv("CONTAINER_PORT", "1")  # nothing listens there
    ecs, _ = stubbed([task("t1", NEW, "127.0.0.1")])
    assert green_check.handler(EVENT, ecs=ecs)["hookStatus"] == "IN_PROGRESS"
    assert green_check._status_of("http://127.0.0.1:1/healthz") == 0


def test_a_redirect_is_judged_as_the_target_group_judges_it_and_never_followed(environment, monkeypatch):
    """Followed, a redirect to the public name would reach the old tasks through the NAT gateway and
    pass the new ones unasked: the hook takes the 3xx itself, as the target group's matcher does."""
    with task_answering(200) as elsewhere:

        class Redirecting(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(302)
                self.send_header("Location", f"http://127.0.0.1:{elsewhere}/healthz")
                self.end_headers()

            def log_message(self, *args):
                pass

        server = http.server.HTTPServer(("127.0.0.1", 0), Redirecting)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            assert green_check._status_of(f"http://127.0.0.1:{server.server_address[1]}/healthz") == 302
        finally:
            server.shutdown()


def test_every_new_task_is_asked_at_once(environment, monkeypatch):
    """Asked one after another, a dozen tasks that never answer would outlast the function's
    timeout: each call here waits until all of them are being asked together."""
    monkeypatch.setenv("CONTAINER_PORT", "8080")
    count = 20
    together = threading.Barrier(count, timeout=10)

    def get(url):
        together.wait()
        return 200

    ecs, _ = stubbed([task(f"t{i}", NEW, f"10.0.1.{i}") for i in range(count)])
    assert green_check.handler(EVENT, ecs=ecs, get=get) == {"hookStatus": "SUCCEEDED"}
