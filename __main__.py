"""ecs-cicd: GitHub -> CodeBuild (image to ECR) -> [approval] -> ECS, one stack per environment.

Source  -> Build (image | scans | tests, in parallel) -> [Approve] -> Deploy (+ check, rolls back)
"""

import pulumi

from components import (
    AccountGuardrails,
    ArtifactStore,
    AwsAccount,
    CodeDeployBlueGreen,
    ContainerContract,
    EcsDeploy,
    EcsService,
    GitHubSource,
    ImageBuild,
    ManualApproval,
    Pipeline,
    PipelineAlerts,
    SecurityScans,
    ServiceCheck,
    TestCommands,
    guardrails,
    settings,
)
from components.deploy import roles_of_running_service

config = settings.load()
name = config.pipeline.name
account = AwsAccount.current()
tags = config.tags
boundary = config.permissions_boundary
contract = ContainerContract(config.service.container, config.service.port)
blue_green = config.deploy.strategy == "blue-green"

artifacts = ArtifactStore(
    f"{name}-artifacts",
    {
        "expiration_days": config.pipeline.artifact_expiration_days,
        "protect": config.protect,
        "tags": tags,
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
        "tags": tags,
    },
)

# The target service: created here (service.create) or an existing one, by name.
service = (
    EcsService(
        f"{name}-service",
        {
            "cluster": config.service.cluster,
            "service": config.service.name,
            "container": contract,
            "image_repository_arn": account.arn("ecr", f"repository/{config.build.repository_name}"),
            "bootstrap_image": config.service.bootstrap_image,
            "cpu": config.service.cpu,
            "memory": config.service.memory,
            "desired_count": config.service.desired_count,
            "environment": config.service.environment,
            "secrets": config.service.secrets,
            "health_check_path": config.service.health_check_path,
            "health_check_interval_seconds": config.service.health_check_interval_seconds,
            "healthy_threshold": config.service.healthy_threshold,
            "unhealthy_threshold": config.service.unhealthy_threshold,
            "deregistration_delay_seconds": config.service.deregistration_delay_seconds,
            "certificate_arn": config.service.certificate_arn,
            "availability_zones": config.service.availability_zones,
            "nat_gateways": config.service.nat_gateways,
            "blue_green": blue_green,
            "rollback_on_alarm": config.service.rollback_on_alarm,
            "autoscaling": config.service.autoscaling and vars(config.service.autoscaling),
            "log_retention_days": config.build.log_retention_days,
            "protect": config.protect,
            "tags": tags,
            "account": account,
        },
    )
    if config.service.create
    else None
)

build = ImageBuild(
    f"{name}-build",
    {
        "source": source,
        "artifact_store": artifacts,
        "container_name": contract.name,
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
        **(
            {
                "appspec": contract.appspec(),
                **({"taskdef_template": service.taskdef_template} if service else {"task_family": config.service.name}),
            }
            if blue_green
            else {}
        ),
        "permissions_boundary": boundary,
        "protect": config.protect,
        "tags": tags,
        "account": account,
    },
)
build_stage = build.stage

if not config.insecure.skip_security_scans:
    scans = SecurityScans(
        f"{name}-scan",
        {
            "source": source,
            "artifact_store": artifacts,
            "log_retention_days": config.build.log_retention_days,
            "permissions_boundary": boundary,
            "tags": tags,
            "account": account,
        },
    )
    build_stage = build_stage.alongside(scans.stage)

if config.build.test_commands:
    tests = TestCommands(
        f"{name}-tests",
        {
            "source": source,
            "artifact_store": artifacts,
            "commands": config.build.test_commands,
            "compute_type": config.build.compute_type,
            "log_retention_days": config.build.log_retention_days,
            "permissions_boundary": boundary,
            "tags": tags,
            "account": account,
        },
    )
    build_stage = build_stage.alongside(tests.stage)

approval = (
    ManualApproval(
        f"{name}-approval",
        {
            "source": source,
            "artifact_store": artifacts,
            "summary": f"Deploy {config.source.repository} to {config.environment}?",
            "emails": config.deploy.approval_emails,
            "tags": tags,
        },
    )
    if config.deploy.require_approval
    else None
)

task_role_arns = service.task_role_arns if service else None
if blue_green:
    deploy = CodeDeployBlueGreen(
        f"{name}-deploy",
        {
            "build": build,
            "artifact_store": artifacts,
            "cluster": config.service.cluster,
            "service": config.service.name,
            "created_service": service,
            "application": config.deploy.blue_green.application,
            "deployment_group": config.deploy.blue_green.deployment_group,
            "task_role_arns": task_role_arns
            or roles_of_running_service(account, config.service.cluster, config.service.name),
            "deployment_config": config.deploy.blue_green.deployment_config,
            "termination_wait_minutes": config.deploy.blue_green.termination_wait_minutes,
            "permissions_boundary": boundary,
            "tags": tags,
            "account": account,
        },
    )
else:
    deploy = EcsDeploy(
        f"{name}-deploy",
        {
            "build": build,
            "cluster": config.service.cluster,
            "service": config.service.name,
            "timeout_minutes": config.deploy.timeout_minutes,
            "task_role_arns": task_role_arns,
            "account": account,
        },
    )
deploy_stage = deploy.stage

health_url = config.deploy.health_check_url or (service.health_url if service else None)
if health_url:
    check = ServiceCheck(
        f"{name}-check",
        {
            "artifact_store": artifacts,
            "source": source,
            "url": health_url,
            "timeout_seconds": config.deploy.check_timeout_seconds,
            "commands": config.deploy.check_commands,
            "log_retention_days": config.build.log_retention_days,
            "permissions_boundary": boundary,
            "tags": tags,
            "account": account,
        },
    )
    deploy_stage = deploy_stage.followed_by(check.stage)
if config.deploy.rollback_on_failure:
    deploy_stage = deploy_stage.rolling_back_on_failure()

pipeline = Pipeline(
    name,
    {
        "stages": [source.stage, build_stage, *([approval.stage] if approval else []), deploy_stage],
        "artifact_store": artifacts,
        "triggers": [source.trigger()],
        "execution_mode": config.pipeline.execution_mode,
        "permissions_boundary": boundary,
        "tags": tags,
        "account": account,
    },
)

# Watching: alerts on failures, on changes to what the pipeline is made of, and on deploys that bypass it.
build_projects = pipeline.codebuild_projects()
pipeline_roles = [
    pipeline.role,
    *pipeline.action_roles.values(),
    *pipeline.stage_roles(),
    *([service.execution_role, service.task_role] if service else []),
]
deploy_role = pipeline.action_roles[("Deploy", "Service")]
alerts = PipelineAlerts(
    f"{name}-alerts",
    {
        "artifact_store": artifacts,
        "pipeline_name": pipeline.pipeline.name,
        "pipeline_arn": pipeline.pipeline.arn,
        "project_names": build_projects,
        "role_names": [role.name for role in pipeline_roles],
        "connection_arn": source.connection_arn,
        "cluster": config.service.cluster,
        "service": config.service.name,
        "deploy_role_name": deploy_role.name,
        "emails": config.notification_emails,
        "tags": tags,
    },
)
AccountGuardrails(
    f"{name}-guardrails",
    {
        "cloud_trail": config.guardrails.cloud_trail,
        "guard_duty": config.guardrails.guard_duty,
        "config_rules": config.guardrails.config_rules,
        "protect": config.protect,
        "tags": tags,
        "account": account,
    },
)
scp = pulumi.Output.all(account.caller_arn, pipeline.pipeline.arn, *(role.arn for role in pipeline_roles)).apply(
    lambda arns: guardrails.scp_document(arns[1:], guardrails.deployer_role_arn(arns[0]))
)

pulumi.export("pipelineName", pipeline.pipeline.name)
pulumi.export("pipelineConsoleUrl", pipeline.console_url)
pulumi.export("ecrRepositoryUrl", build.repository.repository_url)
pulumi.export("artifactBucket", artifacts.bucket.bucket)
pulumi.export("connectionArn", source.connection_arn)
pulumi.export("alertTopicArn", alerts.topic.arn)
pulumi.export("scpDocument", scp)
if service is not None:
    pulumi.export("serviceUrl", service.health_url)
if source.handshake_url is not None:
    pulumi.export("connectionHandshakeUrl", source.handshake_url)
    pulumi.export(
        "connectionNextStep",
        "The GitHub connection is PENDING: open connectionHandshakeUrl, choose 'Update pending connection' "
        "and install or pick the GitHub app. The pipeline cannot fetch source until then.",
    )
