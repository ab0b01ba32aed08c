"""Which pipeline a command works on: named with --pipeline, or derived from a stack's config with the
program's own settings code, so the CLI and `pulumi up` can never disagree on a name."""

from argparse import Namespace
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Optional

import yaml

from .aws import OpsError

if TYPE_CHECKING:
    from components.settings import Settings


@dataclass(frozen=True)
class Target:
    pipeline: Optional[str]
    region: Optional[str]
    settings: Optional["Settings"] = None
    """The stack's settings when the pipeline was found through --stack."""


def resolve_target(args: Namespace) -> Target:
    """--region wins; with --stack the stack's `aws:region` comes next, as it is where Pulumi deployed
    the pipeline; otherwise boto3's own lookup (AWS_REGION, the profile) decides."""
    if not getattr(args, "stack", None):
        return Target(pipeline=getattr(args, "pipeline", None), region=args.region)
    settings, stack_region = read_stack(args.stack, args.project_dir)
    return Target(
        pipeline=pick_service(settings, getattr(args, "service", None)).pipeline.name,
        region=args.region or stack_region,
        settings=settings,
    )


def pick_service(settings: "Settings", service: Optional[str]):
    """The service a command is about: --service, or the only one."""
    names = [entry.service.name for entry in settings.services]
    if service is None:
        if len(names) > 1:
            raise OpsError(f"the stack has several services ({', '.join(names)}): choose one with --service")
        return settings.services[0]
    if service not in names:
        raise OpsError(f"no service {service} in the stack; services: {', '.join(names)}")
    return settings.service_named(service)


def read_stack(stack: str, project_dir: Optional[str]) -> tuple["Settings", Optional[str]]:
    """The stack's settings and `aws:region`, read from Pulumi.yaml and Pulumi.<stack>.yaml."""
    # Imported here: the components package pulls in Pulumi, which commands given --pipeline never need.
    from components import settings as program_settings

    # Default: the Pulumi project in the current directory, else the one this package came from.
    here = Path.cwd()
    directory = (
        Path(project_dir) if project_dir else here if (here / "Pulumi.yaml").is_file() else program_settings.PROJECT_DIR
    )
    from components.stack_files import StackFileError

    try:
        config = program_settings.stack_config(stack, directory)
        settings = program_settings.stack_settings(stack, str(directory))
    except StackFileError as error:
        raise OpsError(f"cannot read stack {stack}: {'; '.join(error.problems)}") from None
    except program_settings.SettingsError as error:
        raise OpsError(f"stack {stack} has an invalid configuration: {'; '.join(error.problems)}") from None
    except FileNotFoundError as error:
        where = f"{error.filename} not found (point --project-dir at the Pulumi project)" if error.filename else error
        raise OpsError(f"cannot read stack {stack}: {where}") from None
    except yaml.YAMLError as error:
        raise OpsError(f"cannot read stack {stack}: {' '.join(str(error).split())}") from None
    return settings, config.get("aws:region")
