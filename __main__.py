"""ecs-cicd: GitHub -> CodeBuild (image to ECR) -> [approval] -> ECS, one stack per environment."""

import pulumi

from components import (
    AccountGuardrails,
    ArtifactStore,
    AwsAccount,
    EcsDeploy,
    GitHubSource,
    ImageBuild,
    ManualApproval,
    Pipeline,
    PipelineAlerts,
    SecurityScans,
    guardrails,
    settings,
)

config = settings.load()
name = config.pipeline.name
account = AwsAccount.current()

artifacts = ArtifactStore(
    f"{name}-artifacts",
    {
        "expiration_days": config.pipeline.artifact_expiration_days,
        "protect": config.protect,
        "tags": config.tags,
        "account": account,
    },
)

source = GitHubSource(
    f"{name}-source",
    {
        "repository": config.source.repository,
        "branch": config.source.branch,
        "connection_arn": config.source.connection_arn,
        "connection_name": settings.connection_name(name),
        "full_clone": config.source.full_clone,
        "tags": config.tags,
    },
)

build = ImageBuild(
    f"{name}-build",
    {
        "source": source,
        "artifact_store": artifacts,
        "container_name": config.service.container,
        "repository_name": config.build.repository_name,
        "compute_type": config.build.compute_type,
        "image": config.build.image,
        "timeout_minutes": config.build.timeout_minutes,
        "dockerfile": config.build.dockerfile,
        "context": config.build.context,
        "environment": config.build.environment,
        "secrets": config.build.secrets,
        "log_retention_days": config.build.log_retention_days,
        "keep_images": config.build.keep_images,
        "fail_on_severity": config.build.fail_on_severity,
        "permissions_boundary": config.permissions_boundary,
        "protect": config.protect,
        "tags": config.tags,
        "account": account,
    },
)

scans = (
    None
    if config.insecure.skip_security_scans
    else SecurityScans(
        f"{name}-scan",
        {
            "source": source,
            "artifact_store": artifacts,
            "log_retention_days": config.build.log_retention_days,
            "permissions_boundary": config.permissions_boundary,
            "tags": config.tags,
            "account": account,
        },
    )
)

approval = (
    ManualApproval(
        f"{name}-approval",
        {
            "source": source,
            "artifact_store": artifacts,
            "summary": f"Deploy {config.source.repository} to {config.environment}?",
            "emails": config.deploy.approval_emails,
            "tags": config.tags,
        },
    )
    if config.deploy.require_approval
    else None
)

deploy = EcsDeploy(
    f"{name}-deploy",
    {
        "build": build,
        "cluster": config.service.cluster,
        "service": config.service.name,
        "timeout_minutes": config.deploy.timeout_minutes,
        "account": account,
    },
)

pipeline = Pipeline(
    name,
    {
        "stages": [
            source.stage,
            build.stage.alongside(scans.stage) if scans else build.stage,
            *([approval.stage] if approval else []),
            deploy.stage,
        ],
        "artifact_store": artifacts,
        "triggers": [source.trigger()],
        "execution_mode": config.pipeline.execution_mode,
        "permissions_boundary": config.permissions_boundary,
        "tags": config.tags,
        "account": account,
    },
)

deploy_role = pipeline.action_roles[("Deploy", "Service")]
scan_projects = list(scans.projects.values()) if scans else []
scan_roles = list(scans.roles.values()) if scans else []
alerts = PipelineAlerts(
    f"{name}-alerts",
    {
        "artifact_store": artifacts,
        "pipeline_name": pipeline.pipeline.name,
        "pipeline_arn": pipeline.pipeline.arn,
        "project_names": [project.name for project in [build.project, *scan_projects]],
        "role_names": [role.name for role in [pipeline.role, deploy_role, build.role, *scan_roles]],
        "connection_arn": source.connection_arn,
        "cluster": config.service.cluster,
        "service": config.service.name,
        "deploy_role_name": deploy_role.name,
        "emails": config.notification_emails,
        "tags": config.tags,
    },
)

AccountGuardrails(
    f"{name}-guardrails",
    {
        "cloud_trail": config.guardrails.cloud_trail,
        "guard_duty": config.guardrails.guard_duty,
        "config_rules": config.guardrails.config_rules,
        "protect": config.protect,
        "tags": config.tags,
        "account": account,
    },
)
scp = pulumi.Output.all(
    pipeline.pipeline.arn,
    build.project.arn,
    *(project.arn for project in scan_projects),
    *(role.arn for role in [pipeline.role, deploy_role, build.role, *scan_roles]),
    account.caller_arn,
).apply(lambda arns: guardrails.scp_document(arns[:-1], guardrails.deployer_role_arn(arns[-1])))

pulumi.export("pipelineName", pipeline.pipeline.name)
pulumi.export("pipelineConsoleUrl", pipeline.console_url)
pulumi.export("ecrRepositoryUrl", build.repository.repository_url)
pulumi.export("artifactBucket", artifacts.bucket.bucket)
pulumi.export("connectionArn", source.connection_arn)
pulumi.export("alertTopicArn", alerts.topic.arn)
pulumi.export("scpDocument", scp)
if source.handshake_url is not None:
    pulumi.export("connectionHandshakeUrl", source.handshake_url)
    pulumi.export(
        "connectionNextStep",
        "The GitHub connection is PENDING: open connectionHandshakeUrl, choose 'Update pending connection' "
        "and install or pick the GitHub app. The pipeline cannot fetch source until then.",
    )
