"""ecs-cicd components: a GitHub -> CodeBuild -> ECS delivery pipeline on AWS, as Pulumi components.

Build a pipeline from stages the way `__main__.py` does, or compose your own: any object that
hands the `Pipeline` a `StageDefinition` is a stage.
"""

import importlib
from typing import TYPE_CHECKING, Any

# Each name from its module, imported on first use: `from components import settings` (the
# operations CLI's stack reading) needs neither the Pulumi SDK nor the AWS provider.
_EXPORTS = {
    "AwsAccount": "account",
    "PipelineAlerts": "alerts",
    "PipelineAlertsArgs": "alerts",
    "ManualApproval": "approval",
    "ManualApprovalArgs": "approval",
    "ArtifactStore": "artifacts",
    "ArtifactStoreArgs": "artifacts",
    "CodeDeployBlueGreen": "bluegreen",
    "CodeDeployBlueGreenArgs": "bluegreen",
    "ImageBuild": "build",
    "ImageBuildArgs": "build",
    "ServiceCheck": "checks",
    "ServiceCheckArgs": "checks",
    "TestCommands": "checks",
    "TestCommandsArgs": "checks",
    "ContainerContract": "contract",
    "EcsDeploy": "deploy",
    "EcsDeployArgs": "deploy",
    "AccountGuardrails": "guardrails",
    "AccountGuardrailsArgs": "guardrails",
    "Pipeline": "pipeline",
    "PipelineArgs": "pipeline",
    "DockerHubCache": "pullcache",
    "DockerHubCacheArgs": "pullcache",
    "SecurityScans": "security",
    "SecurityScansArgs": "security",
    "EcsService": "service",
    "EcsServiceArgs": "service",
    "SecretRef": "settings",
    "Settings": "settings",
    "SettingsError": "settings",
    "GitHubSource": "source",
    "GitHubSourceArgs": "source",
    "StageDefinition": "stage",
    "TargetAccountAccess": "target_access",
    "TargetAccountAccessArgs": "target_access",
    "TargetServiceArgs": "target_access",
}

__all__ = [
    "AccountGuardrails",
    "AccountGuardrailsArgs",
    "ArtifactStore",
    "ArtifactStoreArgs",
    "AwsAccount",
    "CodeDeployBlueGreen",
    "CodeDeployBlueGreenArgs",
    "ContainerContract",
    "DockerHubCache",
    "DockerHubCacheArgs",
    "EcsDeploy",
    "EcsDeployArgs",
    "EcsService",
    "EcsServiceArgs",
    "GitHubSource",
    "GitHubSourceArgs",
    "ImageBuild",
    "ImageBuildArgs",
    "ManualApproval",
    "ManualApprovalArgs",
    "Pipeline",
    "PipelineAlerts",
    "PipelineAlertsArgs",
    "PipelineArgs",
    "SecretRef",
    "SecurityScans",
    "SecurityScansArgs",
    "ServiceCheck",
    "ServiceCheckArgs",
    "Settings",
    "SettingsError",
    "StageDefinition",
    "TargetAccountAccess",
    "TargetAccountAccessArgs",
    "TargetServiceArgs",
    "TestCommands",
    "TestCommandsArgs",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'components' has no attribute {name!r}")
    try:
        value = getattr(importlib.import_module(f".{module}", __name__), name)
    except ModuleNotFoundError as error:
        if error.name and error.name.split(".")[0] in ("pulumi", "pulumi_aws", "pulumi_awsx"):
            raise ImportError(
                f"components.{name} needs the Pulumi SDK ({error.name} is not installed): "
                "pip install 'ecs-cicd[pulumi]'"
            ) from error
        raise
    globals()[name] = value
    return value


if TYPE_CHECKING:  # what type checkers and editors see: the same names, imported eagerly
    from .account import AwsAccount
    from .alerts import PipelineAlerts, PipelineAlertsArgs
    from .approval import ManualApproval, ManualApprovalArgs
    from .artifacts import ArtifactStore, ArtifactStoreArgs
    from .bluegreen import CodeDeployBlueGreen, CodeDeployBlueGreenArgs
    from .build import ImageBuild, ImageBuildArgs
    from .checks import ServiceCheck, ServiceCheckArgs, TestCommands, TestCommandsArgs
    from .contract import ContainerContract
    from .deploy import EcsDeploy, EcsDeployArgs
    from .guardrails import AccountGuardrails, AccountGuardrailsArgs
    from .pipeline import Pipeline, PipelineArgs
    from .pullcache import DockerHubCache, DockerHubCacheArgs
    from .security import SecurityScans, SecurityScansArgs
    from .service import EcsService, EcsServiceArgs
    from .settings import SecretRef, Settings, SettingsError
    from .source import GitHubSource, GitHubSourceArgs
    from .stage import StageDefinition
    from .target_access import TargetAccountAccess, TargetAccountAccessArgs, TargetServiceArgs


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})
