"""`make plan STACK=<name>`: evaluate a stack offline and print what it would create.

No credentials, no Pulumi CLI: the real `__main__.py` runs under the SDK's mocks, so this works for
any contributor and for pull requests from forks. Three views of one model
(`components/plan_model.py`): the terminal (default), `--format markdown` (a pull-request comment:
a collapsible section per pipeline, with a flowchart GitHub renders) and `--format json` (stable,
`schemas/plan.schema.json`, for other tools). Warnings come first in each.
"""

import argparse
import json
import logging
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Optional

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.tree import Tree

from .plan_model import build, deployment, unheard
from .settings import PROJECT, PROJECT_DIR, SettingsError, stack_settings
from .stack_files import StackFileError, read_project
from .testing import run_stack

__all__ = ["deployment", "main", "unheard"]

FORMATS = ("terminal", "markdown", "json")


def main(argv: Iterable[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make plan", description=__doc__)
    parser.add_argument("stack", help="stack name: reads Pulumi.<stack>.yaml")
    parser.add_argument("--project-dir", type=Path, default=PROJECT_DIR, help="folder holding Pulumi.yaml")
    parser.add_argument("--format", choices=FORMATS, default="terminal", help="terminal (default), markdown, json")
    args = parser.parse_args(list(argv) if argv is not None else None)
    console = _console()
    errors = Console(stderr=True, emoji=False, highlight=False, soft_wrap=True)
    try:
        # A program of one's own (examples/two-services) has no ecs-cicd settings: its resources only.
        settings = stack_settings(args.stack, args.project_dir) if _is_this_program(args.project_dir) else None
        with _warnings() as warnings:
            run = run_stack(args.stack, project_dir=args.project_dir)
    except StackFileError as error:  # names its file itself
        errors.print("[bold red]cannot read the stack:[/]\n" + "\n".join(f"  - {escape(p)}" for p in error.problems))
        return 2
    except SettingsError as error:
        errors.print(f"[bold red]Pulumi.{escape(args.stack)}.yaml:[/] {escape(str(error))}")
        return 2
    except OSError as error:
        errors.print(f"[bold red]cannot read the project:[/] {escape(str(error))}")
        return 2
    model = build(run, settings, warnings)
    if args.format == "json":
        sys.stdout.write(json.dumps(model, indent=2, sort_keys=True) + "\n")
    elif args.format == "markdown":
        sys.stdout.write(markdown(model))
    else:
        terminal(model, console)
    return 0


def _is_this_program(project_dir: Path) -> bool:
    """This project, or one run by its program (`main` pointing at it, as examples/monorepo)."""
    project = read_project(project_dir)
    return project.name == PROJECT or (Path(project_dir) / project.main).resolve() == PROJECT_DIR.resolve()


def _console() -> Console:
    """On a terminal, its width; anywhere else (CI logs, files) 200 columns, and a cell longer
    than its column folds onto the next line: nothing is cut."""
    if sys.stdout.isatty():
        return Console(emoji=False)
    return Console(width=200, emoji=False)


@contextmanager
def _warnings() -> Iterator[list[str]]:
    """What the program says with `pulumi.log.warn` (under the mocks, Python's logging)."""
    seen: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.levelno >= logging.WARNING:
                seen.append(record.getMessage())

    handler, root = Collect(), logging.getLogger()
    root.addHandler(handler)
    try:
        yield seen
    finally:
        root.removeHandler(handler)


def terminal(model: dict[str, Any], console: Console) -> None:
    for warning in model["warnings"]:  # one line each, however long
        kind, _, text = warning.partition(": ")
        console.print(f"[bold yellow]{escape(kind)}:[/] {escape(text)}", highlight=False, soft_wrap=True)
    if model["warnings"]:
        console.print()
    console.print(f"[bold]Stack {escape(model['stack'])}[/]: {model['resourceCount']} resources, offline plan\n")
    for pipeline in model["pipelines"]:
        console.print(_stage_tree(pipeline))
    if any("deploy" in pipeline for pipeline in model["pipelines"]):
        console.print(_deploy_table(model))
    console.print(_critical_path_table(model))
    console.print(_resource_table(model))
    console.print(_roles_table(model))
    console.print(_cost_table(model))
    if model["outputs"]:
        table = Table(title="Stack outputs", title_justify="left")
        table.add_column("output", overflow="fold")
        table.add_column("value (mock account)", overflow="fold")
        for key, value in model["outputs"].items():
            table.add_row(escape(key), escape(str(value)))
        console.print(table)


def _stage_tree(pipeline: dict[str, Any]) -> Tree:
    tree = Tree(f"[bold]pipeline {escape(pipeline['name'])}[/] ({pipeline['type']}, {pipeline['executionMode']})")
    for trigger in pipeline["triggers"]:
        tree.add("trigger: " + escape(trigger))
    for number, stage in enumerate(pipeline["stages"], start=1):
        branch = tree.add(f"[bold cyan]{number}. {escape(stage['name'])}[/]")
        for action in stage["actions"]:
            ins, outs = ", ".join(action["inputs"]) or "-", ", ".join(action["outputs"]) or "-"
            target = f" -> {action['target']}" if action.get("target") else ""
            line = f"{action['name']}: {action['provider']} ({action['category']})  in: {ins}  out: {outs}{target}"
            branch.add(escape(line))
    return tree


def _deploy_table(model: dict[str, Any]) -> Table:
    table = Table(title="How each service is deployed", title_justify="left")
    for column in ("pipeline", "deploy", "task definition", "deploy takes at least"):
        table.add_column(column, overflow="fold")
    for pipeline in model["pipelines"]:
        if "deploy" in pipeline:
            deploy = pipeline["deploy"]
            table.add_row(
                escape(pipeline["name"]),
                escape(deploy["how"]),
                escape(deploy["taskDefinition"]),
                escape(_deploy_time_text(pipeline["deployTime"])),
            )
    return table


def _critical_path_table(model: dict[str, Any]) -> Table:
    table = Table(title="From a push to production: the path's slowest actions", title_justify="left")
    for column in ("pipeline", "stage/action", "beside it", "least", "most", "what bounds it"):
        table.add_column(column, overflow="fold")
    for pipeline in model["pipelines"]:
        path = pipeline["criticalPath"]
        for step in path["steps"]:
            table.add_row(
                escape(pipeline["name"]),
                escape(f"{step['stage']}/{step['action']}"),
                escape(", ".join(step["parallelWith"])),
                _duration(step["leastSeconds"]),
                _duration(step["mostSeconds"]),
                escape(step["what"]),
            )
        table.add_row(
            escape(pipeline["name"]),
            "[bold]the path[/]",
            "",
            _duration(path["leastSeconds"]),
            _duration(path["mostSeconds"]),
            escape(_path_text(path)),
        )
    return table


def _duration(seconds: Optional[int]) -> str:
    if seconds is None:
        return "-"
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 3 * 3600:
        return f"{seconds / 60:g} min"
    return f"{seconds / 3600:g} h"


def _path_text(path: dict[str, Any]) -> str:
    parts = []
    if path["unmodelled"]:
        parts.append("least excludes what the application or a person takes: " + ", ".join(path["unmodelled"]))
    if path["unbounded"]:
        parts.append("most excludes what other services bound: " + ", ".join(path["unbounded"]))
    parts += [f"waste: {item}" for item in path["waste"]]
    return "; ".join(parts)


def _deploy_time_text(model: dict[str, Any]) -> str:
    if model["minimumSeconds"] is None:
        return "not modelled (an existing service's settings are its own)"
    terms = " + ".join(f"{t['seconds']} s {t['what']}" for t in model["terms"] if t["seconds"])
    return (
        f"{model['minimumSeconds']} s once the new tasks run: {terms}; not counted: {', '.join(model['notModelled'])}"
    )


def _settings_text(resource: dict[str, Any]) -> str:
    words = [f"{label}={value}" for label, value in resource["settings"].items()]
    if resource["protected"]:
        words.append("protected")
    if resource.get("createdBy"):
        words.append(f"by {resource['createdBy']}")
    return ", ".join(words)


def _resource_table(model: dict[str, Any]) -> Table:
    table = Table(title="Resources", title_justify="left")
    for column in ("type", "name", "deciding settings"):
        table.add_column(column, overflow="fold")
    for resource in model["resources"]:
        table.add_row(resource["type"].split(":")[-1], escape(resource["name"]), escape(_settings_text(resource)))
    return table


def _roles_table(model: dict[str, Any]) -> Table:
    table = Table(title="Who may do what (each role's inline policy)", title_justify="left")
    for column in ("role", "assumed by", "may", "on"):
        table.add_column(column, overflow="fold")
    for role in model["roles"]:
        first = True
        for grant in role["permissions"] or [{"effect": "", "actions": ["(nothing)"], "resources": []}]:
            effect = "" if grant["effect"] in ("", "Allow") else f"{grant['effect']}: "
            table.add_row(
                escape(role["name"]) if first else "",
                escape(", ".join(role["trustedBy"])) if first else "",
                escape(effect + ", ".join(grant["actions"])),
                escape(", ".join(grant["resources"])),
            )
            first = False
    return table


def _cost_table(model: dict[str, Any]) -> Table:
    cost = model["cost"]
    table = Table(
        title=f"Rough monthly cost of what is billed by the hour: about ${cost['monthlyUsd']:,.0f}",
        title_justify="left",
        caption="Assumptions: " + "; ".join(cost["assumptions"]),
        caption_justify="left",
    )
    for column in ("what", "count", "$ / hour each", "$ / month"):
        table.add_column(column, overflow="fold")
    for item in cost["items"]:
        table.add_row(
            escape(item["what"]), f"{item['count']:g}", f"{item['hourlyUsd']:.4f}", f"{item['monthlyUsd']:,.2f}"
        )
    return table


def markdown(model: dict[str, Any]) -> str:
    """A pull-request comment: warnings, then a collapsible section per pipeline (its flowchart,
    stages and deploy), the roles, the resources and the cost."""
    out = [f"## `make plan` of stack `{model['stack']}`: {model['resourceCount']} resources\n"]
    if model["warnings"]:
        out.append("**Warnings**\n")
        out += [f"- {_md(warning)}" for warning in model["warnings"]]
        out.append("")
    for pipeline in model["pipelines"]:
        out.append(f"<details><summary>Pipeline <code>{_html(pipeline['name'])}</code></summary>\n")
        out.append("```mermaid\n" + pipeline["mermaid"] + "\n```\n")
        if pipeline["triggers"]:
            out.append("Triggers: " + "; ".join(_md(t) for t in pipeline["triggers"]) + "\n")
        if "deploy" in pipeline:
            deploy = pipeline["deploy"]
            out.append(f"Deploy: {_md(deploy['how'])}. Task definition: {_md(deploy['taskDefinition'])}.\n")
            out.append(f"Deploy time: {_md(_deploy_time_text(pipeline['deployTime']))}.\n")
        path = pipeline["criticalPath"]
        out.append(
            f"From a push to production: at least {_duration(path['leastSeconds'])}, at most "
            f"{_duration(path['mostSeconds'])} ({_md(_path_text(path))}).\n"
        )
        out.append("| stage | action | provider | target |\n| --- | --- | --- | --- |")
        for stage in pipeline["stages"]:
            for action in stage["actions"]:
                row = (stage["name"], action["name"], action["provider"], action.get("target", ""))
                out.append("| " + " | ".join(_md(c) for c in row) + " |")
        out.append("\n</details>\n")
    out.append(f"<details><summary>Who may do what ({len(model['roles'])} roles)</summary>\n")
    out.append("| role | assumed by | may | on |\n| --- | --- | --- | --- |")
    for role in model["roles"]:
        for grant in role["permissions"]:
            row = (
                role["name"],
                ", ".join(role["trustedBy"]),
                ", ".join(grant["actions"]),
                ", ".join(grant["resources"]),
            )
            out.append("| " + " | ".join(_md(c) for c in row) + " |")
    out.append("\n</details>\n")
    out.append(f"<details><summary>Resources ({model['resourceCount']})</summary>\n")
    out.append("| type | name | deciding settings |\n| --- | --- | --- |")
    for resource in model["resources"]:
        out.append(f"| {_md(resource['type'])} | {_md(resource['name'])} | {_md(_settings_text(resource))} |")
    out.append("\n</details>\n")
    cost = model["cost"]
    out.append(f"<details><summary>Rough monthly cost: about ${cost['monthlyUsd']:,.0f}</summary>\n")
    out.append("| what | count | $ / month |\n| --- | --- | --- |")
    out += [f"| {_md(i['what'])} | {i['count']:g} | {i['monthlyUsd']:,.2f} |" for i in cost["items"]]
    out.append("\nAssumptions: " + "; ".join(_md(a) for a in cost["assumptions"]) + "\n")
    out.append("</details>\n")
    return "\n".join(out)


# What could start markup mid-line: emphasis, code, links and images, tables, strikethrough.
_MARKDOWN = str.maketrans({c: "\\" + c for c in "\\`*_[]|~"})


def _md(text: Any) -> str:
    """Text in a comment or a table cell: no markup of Markdown's or HTML's, no newline."""
    return _html(str(text)).translate(_MARKDOWN).replace("\n", " ")


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


if __name__ == "__main__":
    sys.exit(main())
