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
    events = aws.client("logs").get_log_events(
        logGroupName=group, logStreamName=stream, limit=lines, startFromHead=False
    )["events"]
    return [event["message"].rstrip("\n") for event in events]
