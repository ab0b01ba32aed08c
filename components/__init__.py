"""ecs-cicd components: a GitHub -> CodeBuild -> ECS delivery pipeline on AWS, as Pulumi components.

Build a pipeline from stages the way `__main__.py` does, or compose your own: any object that
hands the `Pipeline` a `StageDefinition` is a stage.
"""

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
    "TestCommands",
    "TestCommandsArgs",
]
