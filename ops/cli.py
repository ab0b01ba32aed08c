"""The `ecs-cicd` command line: parse, find the pipeline, then validate, ask and execute the command.
Every failure ends as one line on stderr and a non-zero exit code, never a traceback."""

import argparse
from collections.abc import Callable, Sequence
from typing import Optional

from botocore.exceptions import BotoCoreError, ClientError

from .aws import Aws, OpsError
from .commands import COMMANDS, Context
from .target import Target, resolve_target
from .terminal import Terminal

EPILOG = """exit codes: 0 done (or AVAILABLE, or succeeded), 1 failed (the execution, the deploy, the check),
2 bad usage or confirmation needed without a terminal, 3 AWS could not be reached or refused (network,
credentials, permissions), 130 interrupted. Region and credentials come from the usual AWS environment."""
AWS_ERROR = 3


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ecs-cicd",
        description="Day-2 operations for the ecs-cicd pipelines: status, history, watch, approvals, rollback.",
        epilog=EPILOG,
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        sub = commands.add_parser(command.name, help=command.help, description=command.help, epilog=EPILOG)
        pipeline = sub.add_mutually_exclusive_group(required=command.needs_pipeline)
        pipeline.add_argument("--pipeline", metavar="NAME", help="the pipeline's name")
        pipeline.add_argument("--stack", help="find the pipeline (and region) from Pulumi.<STACK>.yaml")
        sub.add_argument("--service", metavar="NAME", help="with --stack: which service of a multi-service stack")
        sub.add_argument("--project-dir", metavar="DIR", help="where Pulumi.yaml is (default: here, else this project)")
        sub.add_argument("--region", help="AWS region (default: the stack's aws:region, else AWS_REGION)")
        if command.asks:
            sub.add_argument("-y", "--yes", action="store_true", help="do not ask; required without a terminal")
        command.add_arguments(sub)
        sub.set_defaults(command_class=command)
    return parser


def main(
    argv: Optional[Sequence[str]] = None,
    *,
    terminal: Optional[Terminal] = None,
    make_aws: Callable[[Optional[str]], Aws] = Aws,
) -> int:
    """Run one command and return its exit code. Tests pass a recorded terminal and stubbed AWS."""
    terminal = terminal or Terminal.from_environment()
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exit_:  # --help, or a usage error argparse has already printed
        return exit_.code if isinstance(exit_.code, int) else 2
    target = Target(pipeline=None, region=None)
    aws: Optional[Aws] = None
    try:
        target = resolve_target(args)
        aws = make_aws(target.region)
        aws.on_retry = terminal.note
        command = args.command_class(args, Context(target, aws, terminal))
        command.validate()
        command.ask()
        return command.execute()
    except OpsError as error:
        terminal.error(str(error))
        return error.exit_code
    except (BotoCoreError, ClientError) as error:
        terminal.error(aws.explain(error, target.pipeline) if aws else str(error))
        return AWS_ERROR
    except KeyboardInterrupt:
        terminal.error("interrupted; nothing more was changed")
        return 130
