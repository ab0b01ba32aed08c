"""The end of a CodeBuild build's CloudWatch log: where a failed build says why it failed."""

from .aws import Aws, OpsError


def build_log_tail(aws: Aws, build_id: str, lines: int) -> list[str]:
    builds = aws.client("codebuild").batch_get_builds(ids=[build_id]).get("builds", [])
    if not builds:
        raise OpsError(f"no CodeBuild build {build_id} in {aws.region}")
    logs = builds[0].get("logs", {})
    group, stream = logs.get("groupName"), logs.get("streamName")
    if not (group and stream):
        raise OpsError(f"build {build_id} has no CloudWatch log yet (it is {builds[0].get('buildStatus', 'unknown')})")
    return _tail(aws, group, stream, lines)


# Pages of GetLogEvents hold at most 10,000 events or 1 MB, and a page can come back short or empty
# while older events remain: only the same token handed back says the stream's start is reached.
# https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_GetLogEvents.html
MAX_PAGES = 100


def _tail(aws: Aws, group: str, stream: str, lines: int) -> list[str]:
    client = aws.client("logs")
    messages: list[str] = []
    token = None
    for _ in range(MAX_PAGES):
        request = {"logGroupName": group, "logStreamName": stream, "startFromHead": False}
        request["limit"] = min(10_000, lines - len(messages))
        if token:
            request["nextToken"] = token
        page = client.get_log_events(**request)
        messages = [str(event.get("message") or "").rstrip("\n") for event in page.get("events") or []] + messages
        following = page.get("nextBackwardToken")
        if len(messages) >= lines or not following or following == token:
            break
        token = following
    return messages[-lines:]
