"""ecs-cicd: GitHub -> CodeBuild (image to ECR) -> [approval] -> ECS, one stack per environment.

Per service, one pipeline:
    Source -> Build (image | scans | tests, in parallel) -> [Approve] -> Deploy (+ check, rolls back)
Per stack, shared: the artifact store, the Docker Hub pull-through cache, the alerts, the guardrails.
"""

import sys
from dataclasses import dataclass
from typing import Optional

import pulumi

from components import (
    AccountGuardrails,
    ArtifactStore,
    AwsAccount,
    CodeDeployBlueGreen,
    ContainerContract,
    DockerHubCache,
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
    provider,
    settings,
)
from components.deploy import roles_of_running_service

if provider.launched_as_plugin():  # `pulumi package add` runs this file as the provider plugin (PulumiPlugin.yaml)
    provider.main()
    sys.exit()

config = settings.load()
account = AwsAccount.current()
stack_name = config.stack_name
boundary = config.permissions_boundary

artifacts = ArtifactStore(
    f"{stack_name}-artifacts",
    {
        "expiration_days": config.pipeline.artifact_expiration_days,
        "protect": config.protect,
        "tags": config.tags,
        "account": account,
    },
)
docker_hub = (
    DockerHubCache(
        f"{stack_name}-docker-hub",
        {
            "credentials_arn": config.build.docker_hub_credentials_arn,
            "prefix": f"{stack_name}-docker-hub",
            "account": account,
        },
    )
    if config.build.docker_hub_credentials_arn
    else None
)


@dataclass
class Delivery:
    """What one service's pipeline produced, for the alerts, the SCP and the exports."""

    pipeline: Pipeline
    source: GitHubSource
    build: ImageBuild
    service: Optional[EcsService]
    roles: list


def deliver(svc: settings.ServicePipeline, connection_arn) -> Delivery:
    """One service's pipeline: Source -> Build (+ scans, tests) -> [Approve] -> Deploy (+ check)."""
    name = svc.pipeline.name
    contract = ContainerContract(svc.service.container, svc.service.port)
    blue_green = svc.deploy.strategy == "blue-green"

    source = GitHubSource(
        f"{name}-source",
        {
            "repository": svc.source.repository,
            "branch": svc.source.branch,
            "connection_arn": svc.source.connection_arn or connection_arn,
            "connection_name": settings.connection_name(stack_name),
            "full_clone": svc.source.full_clone,
            "tags": svc.tags,
        },
    )

    # The target service: created here (service.create) or an existing one, by name.
    service = (
        EcsService(
            f"{name}-service",
            {
                "cluster": svc.service.cluster,
                "service": svc.service.name,
                "container": contract,
                "image_repository_arn": account.arn("ecr", f"repository/{svc.build.repository_name}"),
                "bootstrap_image": svc.service.bootstrap_image,
                "cpu": svc.service.cpu,
                "memory": svc.service.memory,
                "desired_count": svc.service.desired_count,
                "environment": svc.service.environment,
                "secrets": svc.service.secrets,
                "health_check_path": svc.service.health_check_path,
                "health_check_interval_seconds": svc.service.health_check_interval_seconds,
                "healthy_threshold": svc.service.healthy_threshold,
                "unhealthy_threshold": svc.service.unhealthy_threshold,
                "deregistration_delay_seconds": svc.service.deregistration_delay_seconds,
                "certificate_arn": svc.service.certificate_arn,
                "availability_zones": svc.service.availability_zones,
                "nat_gateways": svc.service.nat_gateways,
                "blue_green": blue_green,
                "rollback_on_alarm": svc.service.rollback_on_alarm,
                "autoscaling": svc.service.autoscaling and vars(svc.service.autoscaling),
                "log_retention_days": svc.build.log_retention_days,
                "protect": config.protect,
                "tags": svc.tags,
                "account": account,
            },
        )
        if svc.service.create
        else None
    )

    build = ImageBuild(
        f"{name}-build",
        {
            "source": source,
            "artifact_store": artifacts,
            "container_name": contract.name,
            "repository_name": svc.build.repository_name,
            "compute_type": svc.build.compute_type,
            "image": svc.build.image,
            "timeout_minutes": svc.build.timeout_minutes,
            "dockerfile": svc.build.dockerfile,
            "context": svc.build.context,
            "environment": svc.build.environment,
            "secrets": svc.build.secrets,
            "log_retention_days": svc.build.log_retention_days,
            "keep_images": svc.build.keep_images,
            "fail_on_severity": svc.build.fail_on_severity,
            **({"docker_hub_mirror": docker_hub} if docker_hub else {}),
            **(
                {
                    "appspec": contract.appspec(),
                    **(
                        {"taskdef_template": service.taskdef_template} if service else {"task_family": svc.service.name}
                    ),
                }
                if blue_green
                else {}
            ),
            "permissions_boundary": boundary,
            "protect": config.protect,
            "tags": svc.tags,
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
                "log_retention_days": svc.build.log_retention_days,
                "permissions_boundary": boundary,
                "tags": svc.tags,
                "account": account,
            },
        )
        build_stage = build_stage.alongside(scans.stage)

    if svc.build.test_commands:
        tests = TestCommands(
            f"{name}-tests",
            {
                "source": source,
                "artifact_store": artifacts,
                "commands": svc.build.test_commands,
                "compute_type": svc.build.compute_type,
                "log_retention_days": svc.build.log_retention_days,
                "permissions_boundary": boundary,
                "tags": svc.tags,
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
                "summary": f"Deploy {svc.source.repository} to {config.environment}?",
                "emails": svc.deploy.approval_emails,
                "tags": svc.tags,
            },
        )
        if svc.deploy.require_approval
        else None
    )

    task_role_arns = service.task_role_arns if service else None
    if blue_green:
        deploy = CodeDeployBlueGreen(
            f"{name}-deploy",
            {
                "build": build,
                "artifact_store": artifacts,
                "cluster": svc.service.cluster,
                "service": svc.service.name,
                "created_service": service,
                "application": svc.deploy.blue_green.application,
                "deployment_group": svc.deploy.blue_green.deployment_group,
                "task_role_arns": task_role_arns
                or roles_of_running_service(account, svc.service.cluster, svc.service.name),
                "deployment_config": svc.deploy.blue_green.deployment_config,
                "termination_wait_minutes": svc.deploy.blue_green.termination_wait_minutes,
                "permissions_boundary": boundary,
                "tags": svc.tags,
                "account": account,
            },
        )
    else:
        deploy = EcsDeploy(
            f"{name}-deploy",
            {
                "build": build,
                "cluster": svc.service.cluster,
                "service": svc.service.name,
                "timeout_minutes": svc.deploy.timeout_minutes,
                "task_role_arns": task_role_arns,
                "account": account,
            },
        )
    deploy_stage = deploy.stage

    health_url = svc.deploy.health_check_url or (service.health_url if service else None)
    if health_url:
        check = ServiceCheck(
            f"{name}-check",
            {
                "artifact_store": artifacts,
                "source": source,
                "url": health_url,
                "timeout_seconds": svc.deploy.check_timeout_seconds,
                "commands": svc.deploy.check_commands,
                "log_retention_days": svc.build.log_retention_days,
                "permissions_boundary": boundary,
                "tags": svc.tags,
                "account": account,
            },
        )
        deploy_stage = deploy_stage.followed_by(check.stage)
    if svc.deploy.rollback_on_failure:
        deploy_stage = deploy_stage.rolling_back_on_failure()

    pipeline = Pipeline(
        name,
        {
            "stages": [source.stage, build_stage, *([approval.stage] if approval else []), deploy_stage],
            "artifact_store": artifacts,
            "triggers": [
                source.trigger(
                    file_paths={"includes": svc.source.file_paths_include, "excludes": svc.source.file_paths_exclude},
                    tags=svc.source.tags,
                    pull_requests=svc.source.pull_requests,
                )
            ],
            "execution_mode": svc.pipeline.execution_mode,
            "permissions_boundary": boundary,
            "tags": svc.tags,
            "account": account,
        },
    )

    roles = [
        pipeline.role,
        *pipeline.action_roles.values(),
        *pipeline.stage_roles(),
        *([service.execution_role, service.task_role] if service else []),
    ]
    return Delivery(pipeline=pipeline, source=source, build=build, service=service, roles=roles)


deliveries: dict[str, Delivery] = {}
shared_connection = None  # the first created connection serves every service of the stack
for svc in config.services:
    delivery = deliver(svc, shared_connection)
    shared_connection = shared_connection or delivery.source.connection_arn
    deliveries[svc.service.name] = delivery

# Watching: alerts on failures, on changes to what the pipelines are made of, and on deploys that bypass them.
alerts = PipelineAlerts(
    f"{stack_name}-alerts",
    {
        "artifact_store": artifacts,
        "pipelines": {
            service_name: {
                "pipeline_name": d.pipeline.pipeline.name,
                "pipeline_arn": d.pipeline.pipeline.arn,
                "project_names": d.pipeline.codebuild_projects(),
                "role_names": [role.name for role in d.roles],
                "connection_arn": d.source.connection_arn,
                "cluster": config.service_named(service_name).service.cluster,
                "service": service_name,
                "deploy_role_name": d.pipeline.action_roles[("Deploy", "Service")].name,
            }
            for service_name, d in deliveries.items()
        },
        "emails": config.notification_emails,
        "tags": config.tags,
    },
)
AccountGuardrails(
    f"{stack_name}-guardrails",
    {
        "cloud_trail": config.guardrails.cloud_trail,
        "guard_duty": config.guardrails.guard_duty,
        "config_rules": config.guardrails.config_rules,
        "protect": config.protect,
        "tags": config.tags,
        "account": account,
    },
)
protected_arns = [arn for d in deliveries.values() for arn in (d.pipeline.pipeline.arn, *(r.arn for r in d.roles))]
scp = pulumi.Output.all(account.caller_arn, *protected_arns).apply(
    lambda arns: guardrails.scp_document(arns[1:], guardrails.deployer_role_arn(arns[0]))
)

pulumi.export("artifactBucket", artifacts.bucket.bucket)
pulumi.export("alertTopicArn", alerts.topic.arn)
pulumi.export("scpDocument", scp)
pulumi.export(
    "pipelines",
    {
        service_name: {
            "pipelineName": d.pipeline.pipeline.name,
            "pipelineConsoleUrl": d.pipeline.console_url,
            "ecrRepositoryUrl": d.build.repository.repository_url,
            "connectionArn": d.source.connection_arn,
            **({"serviceUrl": d.service.health_url} if d.service else {}),
        }
        for service_name, d in deliveries.items()
    },
)
if len(deliveries) == 1:  # the one-service shorthand keeps flat outputs
    (only,) = deliveries.values()
    pulumi.export("pipelineName", only.pipeline.pipeline.name)
    pulumi.export("pipelineConsoleUrl", only.pipeline.console_url)
    pulumi.export("ecrRepositoryUrl", only.build.repository.repository_url)
    pulumi.export("connectionArn", only.source.connection_arn)
    if only.service is not None:
        pulumi.export("serviceUrl", only.service.health_url)
created = next((d.source for d in deliveries.values() if d.source.handshake_url is not None), None)
if created is not None:
    pulumi.export("connectionHandshakeUrl", created.handshake_url)
    pulumi.export(
        "connectionNextStep",
        "The GitHub connection is PENDING: open connectionHandshakeUrl, choose 'Update pending connection' "
        "and install or pick the GitHub app. The pipeline cannot fetch source until then.",
    )
