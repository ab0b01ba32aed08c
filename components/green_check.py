"""The lifecycle hook ECS runs before it moves production traffic to a new set of tasks (ECS's own
blue/green, canary and linear deployments): every new task must answer the health path, checked
from inside the VPC, task by task, or the deployment rolls back while the old tasks still serve.

This module is the Lambda function's code (shipped as `index.py`, handler `index.handler`): the
standard library and boto3 only, which the Lambda Python runtime provides.

What ECS sends and expects (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/lambda-lifecycle-hooks.html):
the event's `executionDetails.targetServiceRevisionArn` names the new revision; the function
answers `hookStatus` SUCCEEDED (go on), FAILED (roll back) or IN_PROGRESS (ask again after
`callBackDelay` seconds), and `hookDetails` comes back on the next call of the same hook.
"""

import os
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Optional

# Each call must answer within 15 minutes; it checks once and lets ECS call again.
CALL_BACK_SECONDS = 15
# Each task has this long to answer; all are asked at once, so even hundreds of tasks that never
# answer take a few rounds, well inside the function's 60-second timeout.
ANSWER_SECONDS, AT_ONCE = 5, 64


def handler(event: dict, context: Any = None, ecs: Any = None, get: Optional[Callable[[str], int]] = None) -> dict:
    ecs = ecs or _client()
    get = get or _status_of
    details = dict(event.get("hookDetails") or {})
    started = float(details.get("startedAt") or time.time())
    deadline = started + int(os.environ.get("CHECK_TIMEOUT_SECONDS", "120"))
    details["startedAt"] = started
    revision = event["executionDetails"]["targetServiceRevisionArn"]
    addresses = new_task_addresses(ecs, os.environ["CLUSTER"], os.environ["SERVICE"], revision)
    port, path = os.environ["CONTAINER_PORT"], os.environ.get("HEALTH_PATH", "/")
    with ThreadPoolExecutor(max_workers=AT_ONCE) as pool:
        statuses = pool.map(lambda address: get(f"http://{address}:{port}{path}"), addresses)
        answers = dict(zip(addresses, statuses, strict=True))
    failing = {address: status for address, status in answers.items() if not 200 <= status < 400}
    print({"revision": revision, "answers": answers})
    if addresses and not failing:
        return {"hookStatus": "SUCCEEDED"}
    if time.time() >= deadline:
        print(f"new tasks did not answer {path} in time: {failing or 'no running task'}")
        return {"hookStatus": "FAILED"}
    return {"hookStatus": "IN_PROGRESS", "callBackDelay": CALL_BACK_SECONDS, "hookDetails": details}


def new_task_addresses(ecs: Any, cluster: str, service: str, revision_arn: str) -> list[str]:
    """The private addresses of the service's running tasks of the new revision."""
    (revision,) = ecs.describe_service_revisions(serviceRevisionArns=[revision_arn])["serviceRevisions"]
    pages = ecs.get_paginator("list_tasks").paginate(cluster=cluster, serviceName=service, desiredStatus="RUNNING")
    task_arns = [arn for page in pages for arn in page["taskArns"]]
    # DescribeTasks takes at most 100 tasks a call (API_DescribeTasks.html).
    tasks = [
        task
        for start in range(0, len(task_arns), 100)
        for task in ecs.describe_tasks(cluster=cluster, tasks=task_arns[start : start + 100])["tasks"]
    ]
    addresses = []
    for task in tasks:
        if task.get("taskDefinitionArn") != revision["taskDefinition"] or task.get("lastStatus") != "RUNNING":
            continue
        for attachment in task.get("attachments", []):
            for detail in attachment.get("details", []):
                if detail.get("name") == "privateIPv4Address":
                    addresses.append(detail["value"])
    return sorted(addresses)


class _NotFollowed(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer, as the target group's matcher takes it: followed, it could lead
    through the NAT gateway to the public load balancer, where the old tasks answer."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NotFollowed)


def _status_of(url: str) -> int:
    try:
        with _OPENER.open(url, timeout=ANSWER_SECONDS) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except (urllib.error.URLError, OSError):
        return 0


def _client() -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client("ecs", config=Config(retries={"mode": "standard"}))
