"""`make plan STACK=<name>`: evaluate a stack offline and print what it would create.

No credentials, no Pulumi CLI: the real `__main__.py` runs under the SDK's mocks, so this
works for any contributor and for pull requests from forks.
"""

import argparse
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.tree import Tree

from .settings import PROJECT_DIR, ServicePipeline, Settings, SettingsError, stack_settings
from .testing import RecordedResource, StackRun, run_stack

PIPELINE_TYPE = "aws:codepipeline/pipeline:Pipeline"

# What is worth a glance per resource type: (label, input key or dotted path).
KEY_SETTINGS: dict[str, list[tuple[str, str]]] = {
    PIPELINE_TYPE: [("type", "pipelineType"), ("mode", "executionMode")],
    "aws:codebuild/project:Project": [
        ("compute", "environment.computeType"),
        ("image", "environment.image"),
        ("timeout", "buildTimeout"),
        ("privileged", "environment.privilegedMode"),
    ],
    "aws:ecr/repository:Repository": [("name", "name"), ("tags", "imageTagMutability")],
    "aws:s3/bucket:Bucket": [("name", "bucket")],
    "aws:kms/key:Key": [("rotation", "enableKeyRotation")],
    "aws:cloudwatch/logGroup:LogGroup": [("name", "name"), ("retention days", "retentionInDays")],
    "aws:codeconnections/connection:Connection": [("name", "name"), ("provider", "providerType")],
    "aws:sns/topic:Topic": [("kms", "kmsMasterKeyId")],
}


def main(argv: Iterable[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make plan", description=__doc__)
    parser.add_argument("stack", help="stack name: reads Pulumi.<stack>.yaml")
    parser.add_argument("--project-dir", type=Path, default=PROJECT_DIR, help="folder holding Pulumi.yaml")
    args = parser.parse_args(list(argv) if argv is not None else None)
    console = Console()
    try:
        run = run_stack(args.stack, project_dir=args.project_dir)
    except SettingsError as error:
        console.print(f"[bold red]Pulumi.{args.stack}.yaml:[/] {error}", highlight=False)
        return 2
    except FileNotFoundError as error:
        console.print(f"[bold red]{error}[/]", highlight=False)
        return 2
    render(run, console)
    settings = stack_settings(args.stack, args.project_dir)
    console.print(deploy_table(settings))
    for flag in settings.insecure.enabled:
        console.print(f"[bold yellow]insecure:[/] {flag} is on: a secure default is switched off", highlight=False)
    for warning in unheard(settings):
        console.print(f"[bold yellow]unheard:[/] {warning}", highlight=False)
    return 0


def deployment(service: ServicePipeline) -> tuple[str, str]:
    """How a service is deployed, and where its task definition comes from."""
    deploy, strategy, traffic = service.deploy, service.deploy.strategy, service.deploy.traffic
    if service.service.create:
        kept = f"old tasks kept {traffic.bake_time_minutes} min"
        shift = {
            "rolling": "ECS rolling update",
            "blue-green": f"ECS blue/green, {kept}",
            "canary": f"ECS canary: {traffic.canary_percent:g}% for {traffic.canary_bake_time_minutes} min, "
            f"then all; {kept}",
            "linear": f"ECS linear: {traffic.linear_step_percent:g}% every {traffic.linear_step_bake_time_minutes} "
            f"min; {kept}",
        }[strategy]
        source = "the stack config (CPU, memory, environment, secrets, port), with the image the pipeline deployed"
        return shift, source
    if service.codedeploy:
        group = f"{deploy.blue_green.application}/{deploy.blue_green.deployment_group}"
        return (
            f"CodeDeploy group {group} (its own traffic settings)",
            "the running revision of the service's family, with the built image (taskdef.json)",
        )
    return f"the ECS deploy action; ECS deploys {strategy}, as the service is configured (checked at `pulumi up`)", (
        "the service's running revision, with the built image (its owner manages the rest)"
    )


def deploy_table(settings: Settings) -> Table:
    table = Table(title="How each service is deployed", title_justify="left")
    for column in ("pipeline", "deploy", "task definition"):
        table.add_column(column)
    for service in settings.services:
        table.add_row(service.pipeline.name, *deployment(service))
    return table


def unheard(settings: Settings) -> list[str]:
    """Messages nobody would receive: an alert or approval topic without a subscriber still
    publishes, and no one reads it."""
    warnings = []
    if not settings.notification_emails:
        warnings.append(
            "no one is subscribed to the alert topic (ecs-cicd:notifications.emails is empty): bypasses, "
            "pipeline failures and changes to the pipeline are reported to no one"
        )
    for service in settings.services:
        if service.deploy.require_approval and not service.deploy.approval_emails:
            warnings.append(
                f"{service.pipeline.name}: approvals wait without telling anyone (deploy.approvalEmails is empty); "
                "approvers must watch the pipeline in the console"
            )
    return warnings


def render(run: StackRun, console: Console) -> None:
    console.print(f"[bold]Stack {run.stack}[/]: {sum(1 for _ in run.custom_resources())} resources, offline plan\n")
    for pipeline in sorted(run.of_type(PIPELINE_TYPE), key=lambda p: p.name):
        console.print(_stage_tree(pipeline))
    console.print(_resource_table(run))
    if run.outputs:
        console.print(_outputs_table(run.outputs))


def _stage_tree(pipeline: RecordedResource) -> Tree:
    inputs = pipeline.inputs
    tree = Tree(f"[bold]pipeline {inputs['name']}[/] ({inputs.get('pipelineType')}, {inputs.get('executionMode')})")
    for trigger in inputs.get("triggers") or []:
        git = trigger.get("gitConfiguration", {})
        for push in git.get("pushes") or []:
            tree.add("trigger: push " + _filter_words(push))
        for pull in git.get("pullRequests") or []:
            tree.add(f"trigger: pull request {', '.join(pull.get('events') or [])} " + _filter_words(pull))
    for number, stage in enumerate(inputs["stages"], start=1):
        branch = tree.add(f"[bold cyan]{number}. {stage['name']}[/]")
        for action in stage["actions"]:
            ins = ", ".join(action.get("inputArtifacts") or []) or "-"
            outs = ", ".join(action.get("outputArtifacts") or []) or "-"
            branch.add(f"{action['name']}: {action['provider']} ({action['category']})  in: {ins}  out: {outs}")
    return tree


def _filter_words(event: dict) -> str:
    words = []
    for kind in ("branches", "tags"):
        includes = (event.get(kind) or {}).get("includes")
        if includes:
            words.append(f"{'to' if kind == 'branches' else 'of tags'} {', '.join(includes)}")
    paths = event.get("filePaths") or {}
    if paths.get("includes"):
        words.append(f"touching {', '.join(paths['includes'])}")
    if paths.get("excludes"):
        words.append(f"not only {', '.join(paths['excludes'])}")
    return " ".join(words) or "anything"


def _resource_table(run: StackRun) -> Table:
    table = Table(title="Resources", title_justify="left", show_lines=False)
    table.add_column("type")
    table.add_column("name")
    table.add_column("key settings")
    for resource in sorted(run.custom_resources(), key=lambda r: r.name):
        settings = [f"{label}={_dig(resource.inputs, path)}" for label, path in KEY_SETTINGS.get(resource.type, [])]
        if resource.protect:
            settings.append("[bold]protected[/]")
        table.add_row(resource.type.split(":")[-1], resource.name, ", ".join(settings))
    return table


def _outputs_table(outputs: dict[str, Any]) -> Table:
    table = Table(title="Stack outputs", title_justify="left")
    table.add_column("output")
    table.add_column("value (mock account)")
    for key, value in outputs.items():
        table.add_row(key, str(value))
    return table


def _dig(inputs: Any, path: str) -> Any:
    for part in path.split("."):
        inputs = inputs.get(part) if isinstance(inputs, dict) else None
    # The engine carries every number as a float.
    return int(inputs) if isinstance(inputs, float) and inputs.is_integer() else inputs


if __name__ == "__main__":
    sys.exit(main())
