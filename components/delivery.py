"""One service's delivery pipeline, composed from the stage components:

    Source -> Build (image | scans | tests, in parallel) -> [Approve] -> Deploy (+ check, rolls back)

The program (`__main__.py`) runs it once per service of a stack; the component provider's
`ServicePipeline` runs it for TypeScript, Go and YAML programs. One composition, two entry points.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Optional

import pulumi

from .account import AwsAccount
from .approval import ManualApproval
from .artifacts import ArtifactStore
from .bluegreen import CodeDeployBlueGreen
from .build import ImageBuild
from .checks import ServiceCheck, TestCommands
from .contract import ContainerContract
from .deploy import EcsDeploy, ExpectedDeployment, running_service
from .iam import RolePaths
from .inputs import Input
from .pipeline import Pipeline
from .pullcache import DockerHubCache
from .security import SecurityScans
from .service import EcsService
from .settings import PromotionTarget, ServicePipeline, validation_pipeline_name
from .source import GitHubSource
from .stage import StageDefinition


@dataclass(frozen=True)
class SharedResources:
    """What every service of a stack shares."""

    artifacts: ArtifactStore
    account: AwsAccount
    connection_name: str
    """Name of the GitHub connection, when one is created."""
    protect: bool = True
    permissions_boundary: Optional[str] = None
    docker_hub: Optional[DockerHubCache] = None
    skip_security_scans: bool = False
    """The explicit `insecure.skipSecurityScans` opt-out."""
    role_paths: RolePaths = field(default_factory=RolePaths)
    """Where the stack's roles live in IAM: the artifact key and the SCP name them by path."""
    scans: Optional[SecurityScans] = None
    """The stack's scan projects, shared by its pipelines (`deliver_stack`); when None, each
    pipeline gets scan projects of its own."""
    promotion: Sequence[PromotionTarget] = ()
    """Targets of other accounts the built digest is promoted to after the service's own deploy."""
    deploy_here: bool = True
    """Whether the service's own deploy runs before the promotion; False (with targets only): this
    account only builds, and the first target's deploy is the first."""
    regional_artifacts: Mapping[str, ArtifactStore] = field(default_factory=dict)
    """The artifact stores of the targets' regions other than the pipeline's, by region."""


@dataclass
class Delivery:
    """What one service's pipeline produced, for the alerts, the SCP and the exports."""

    pipeline: Pipeline
    validation: Optional[Pipeline]
    """The pull-request pipeline (scans and tests, no deploy), when `source.pullRequests`."""
    source: GitHubSource
    build: ImageBuild
    service: Optional[EcsService]
    roles: list
    """Every role of this service's pipeline and (created) service: watched and SCP-protected."""
    key_users: list
    """The roles that run the pipeline: the only ones the artifact key lets encrypt and decrypt."""
    cluster: Optional[str]
    """The cluster of the service deployed in this account (None: the pipeline deploys none here)."""
    service_name: Optional[str]
    deployment_group: Optional[list] = None
    """(CodeDeploy application, deployment group) of a blue/green deploy."""
    task_set_callers: Optional[list] = None
    """The CodeDeploy role that changes the service's task sets, when this stack created it."""
    promotion_check_roles: dict = field(default_factory=dict)
    """Per promotion target with a check: the check project's role (what its check role trusts)."""

    def watched(self) -> dict[str, Any]:
        """This pipeline as `PipelineAlerts` watches it."""
        return {
            "pipeline_name": self.pipeline.pipeline_name,
            **({"validation_pipeline_name": self.validation.pipeline_name} if self.validation else {}),
            "project_names": self.pipeline.codebuild_projects(),
            "role_names": [role.name for role in self.roles],
            "connection_arn": self.source.connection_arn,
            # A pipeline that deploys nothing in this account has no service here to watch (each
            # target account's TargetAccountAccess watches its own).
            **(
                {
                    "cluster": self.cluster,
                    "service": self.service_name,
                    "service_callers": [self.pipeline.action_roles[("Deploy", "Service")].name],
                }
                if self.service_name is not None
                else {"service": None}
            ),
            **({"deployment_group": self.deployment_group} if self.deployment_group else {}),
            **({"task_set_callers": self.task_set_callers} if self.task_set_callers else {}),
        }


def deliver_stack(
    services: Sequence[ServicePipeline], shared: SharedResources, stack_name: str
) -> dict[str, "Delivery"]:
    """Every service's pipeline, by service name. The first created GitHub connection serves every
    service, and one set of scan projects every pipeline (`SecurityScans`): the sources come
    first, so that the scans' roles can name what they read before any pipeline runs them."""
    sources: list[GitHubSource] = []
    shared_connection = None
    # One output per configured connection ARN: what reads through a connection (the scan roles'
    # grants, the alert rules) names each connection once, however many services use it.
    configured = {
        arn: pulumi.Output.from_input(arn) for svc in services if (arn := svc.source.connection_arn) is not None
    }
    for svc in services:
        own = configured.get(svc.source.connection_arn) if svc.source.connection_arn else None
        sources.append(pipeline_source(svc, shared, connection_arn=shared_connection, own_connection=own))
        shared_connection = shared_connection or sources[-1].connection_arn
    if not shared.skip_security_scans:
        verifying = [name for svc in services for name in verifying_pipelines(svc)]
        scans = SecurityScans(
            f"{stack_name}-scan",
            {
                "sources": sources,
                "artifact_store": shared.artifacts,
                # The longest any service keeps its logs.
                "log_retention_days": max(svc.build.log_retention_days for svc in services),
                "permissions_boundary": shared.permissions_boundary,
                "role_path": shared.role_paths.pipeline,
                # One pipeline's folders, or the stack's whole bucket: every folder in it is one of
                # the stack's pipelines', and 200 folder ARNs would pass IAM's role policy limit.
                **({"pipelines": verifying} if len(services) == 1 else {}),
                "tags": _common_tags(services),
                "account": shared.account,
            },
        )
        shared = replace(shared, scans=scans)
    return {
        svc.service.name: deliver(svc, shared, source_stage=source)
        for svc, source in zip(services, sources, strict=True)
    }


def _common_tags(services: Sequence[ServicePipeline]) -> dict[str, str]:
    """The tags every service has (a stack-wide resource's)."""
    first, *others = (dict(svc.tags) for svc in services)
    return {key: value for key, value in first.items() if all(other.get(key) == value for other in others)}


def verifying_pipelines(svc: ServicePipeline) -> list[str]:
    """The pipelines that run a service's scans and tests: its own and its pull-request pipeline."""
    name = svc.pipeline.name
    return [name, *([validation_pipeline_name(name)] if svc.source.pull_requests else [])]


def pipeline_source(
    svc: ServicePipeline,
    shared: SharedResources,
    *,
    connection_arn: Optional[Input[str]] = None,
    own_connection: Optional[pulumi.Output[str]] = None,
    parent: Optional[pulumi.Resource] = None,
) -> GitHubSource:
    """A service's Source stage; `connection_arn` is a connection shared with other services (used
    when the service names none), `own_connection` the service's own as one output shared by every
    service that names it."""
    return GitHubSource(
        f"{svc.pipeline.name}-source",
        {
            "repository": svc.source.repository,
            "branch": svc.source.branch,
            "connection_arn": own_connection
            if own_connection is not None
            else svc.source.connection_arn or connection_arn,
            "connection_name": shared.connection_name,
            "full_clone": svc.source.full_clone,
            "tags": svc.tags,
        },
        pulumi.ResourceOptions(parent=parent),
    )


def deliver(
    svc: ServicePipeline,
    shared: SharedResources,
    *,
    source_stage: Optional[GitHubSource] = None,
    connection_arn: Optional[Input[str]] = None,
    task_role_arns: Optional[Sequence[Input[str]]] = None,
    task_family: Optional[Input[str]] = None,
    parent: Optional[pulumi.Resource] = None,
) -> Delivery:
    """One service's pipeline: Source -> Build (+ scans, tests) -> [Approve] -> Deploy (+ check).

    `source_stage` is its Source stage when made already (`deliver_stack`); `connection_arn` a connection
    shared with other services (used when the service names none);
    `task_role_arns` and `task_family` the roles an existing service's deploy may pass and the
    family it registers revisions of (read from the running service when None)."""
    if (task_role_arns is None) != (task_family is None):
        raise ValueError("deliver(): give task_role_arns and task_family together, or neither")
    if not shared.deploy_here and not shared.promotion:
        raise ValueError("deliver(): deploy_here=False needs promotion targets: the pipeline would deploy nothing")
    deploys_here = shared.deploy_here
    name = svc.pipeline.name
    # The pull-request pipeline (scans and tests only) reads through the same scan and test projects.
    validation_name = validation_pipeline_name(name) if svc.source.pull_requests else None
    account, artifacts, boundary = shared.account, shared.artifacts, shared.permissions_boundary
    docker_hub = shared.docker_hub
    opts = pulumi.ResourceOptions(parent=parent)
    contract = ContainerContract(svc.service.container, svc.service.port)
    # An existing service whose blue/green is CodeDeploy's is deployed by its CodeDeploy group; every
    # other service by ECS itself, with its strategy (rolling, blue-green, canary, linear), through
    # the ECS action.
    codedeploy = svc.codedeploy

    source = source_stage or pipeline_source(svc, shared, connection_arn=connection_arn, parent=parent)

    # The target service: created here (service.create) or an existing one, by name.
    service = (
        EcsService(
            f"{name}-service",
            {
                "cluster": svc.service.cluster,
                "existing_cluster": svc.service.existing_cluster,
                "service": svc.service.name,
                "container": contract,
                "image_repository_arn": account.arn("ecr", f"repository/{svc.build.repository_name}"),
                "bootstrap_image": svc.service.bootstrap_image,
                "cpu": svc.service.cpu,
                "memory": svc.service.memory,
                **({} if svc.service.autoscaling else {"desired_count": svc.service.desired_count}),
                "environment": svc.service.environment,
                "secrets": svc.service.secrets,
                "health_check_path": svc.service.health_check_path,
                "health_check_interval_seconds": svc.service.health_check_interval_seconds,
                "healthy_threshold": svc.service.healthy_threshold,
                "unhealthy_threshold": svc.service.unhealthy_threshold,
                "deregistration_delay_seconds": svc.service.deregistration_delay_seconds,
                "certificate_arn": svc.service.certificate_arn,
                "domain_name": svc.service.domain_name,
                "hosted_zone_id": svc.service.hosted_zone_id,
                "availability_zones": svc.service.availability_zones,
                "nat_gateways": svc.service.nat_gateways,
                "strategy": svc.deploy.strategy,
                **(
                    {"traffic": vars(svc.deploy.traffic), "check_timeout_seconds": svc.deploy.check_timeout_seconds}
                    if svc.deploy.strategy != "rolling"
                    else {}
                ),
                "rollback_on_alarm": svc.service.rollback_on_alarm,
                "autoscaling": svc.service.autoscaling and vars(svc.service.autoscaling),
                "log_retention_days": svc.build.log_retention_days,
                "log_kms_key_arn": artifacts.logs_key.arn,
                "permissions_boundary": boundary,
                "role_path": shared.role_paths.runtime,
                "protect": shared.protect,
                "tags": svc.tags,
                "account": account,
            },
            opts,
        )
        if svc.service.create and deploys_here
        else None
    )

    # An existing service: read once, checked against the container contract (its name, and on
    # blue/green its port), with the ARN, family and roles its deploy is scoped to.
    if service is not None:
        service_arn = None
        task_role_arns, task_family = service.task_role_arns, service.family
    elif not deploys_here:
        service_arn = None  # nothing of this account to read: the targets' accounts grant their deploys
    elif task_role_arns is None:
        running = running_service(
            account,
            svc.service.cluster,
            svc.service.name,
            contract.name,
            port=contract.port if codedeploy else None,
            parent=parent,
            expected=ExpectedDeployment(svc.deploy.strategy, codedeploy, svc.deploy.timeout_minutes),
        )
        service_arn, task_role_arns, task_family = running.arn, running.role_arns, running.family
    else:
        service_arn = None  # given by a program that may create the service itself: not read

    build = ImageBuild(
        f"{name}-build",
        {
            "source": source,
            "artifact_store": artifacts,
            "container_name": contract.name,
            **(
                {"existing_repository": svc.build.existing_repository}
                if svc.build.existing_repository
                else {"repository_name": svc.build.repository_name}
            ),
            "compute_type": svc.build.compute_type,
            "image": svc.build.image,
            "timeout_minutes": svc.build.timeout_minutes,
            "dockerfile": svc.build.dockerfile,
            "context": svc.build.context,
            "environment": svc.build.environment,
            "secrets": svc.build.secrets,
            "log_retention_days": svc.build.log_retention_days,
            **({"keep_images": svc.build.keep_images} if svc.build.keep_images else {}),
            "fail_on_severity": svc.build.fail_on_severity,
            **({"docker_hub_mirror": docker_hub} if docker_hub else {}),
            **({"appspec": contract.appspec(), "task_family": task_family} if codedeploy else {}),
            **(
                {"pull_role_arns": [arn for t in shared.promotion for arn in t.execution_role_arns]}
                if shared.promotion
                else {}
            ),
            "permissions_boundary": boundary,
            "role_path": shared.role_paths.pipeline,
            "pipelines": [name],
            "protect": shared.protect,
            "tags": svc.tags,
            "account": account,
        },
        opts,
    )
    verification: list[StageDefinition] = []  # what runs beside the image build, and on pull requests

    if not shared.skip_security_scans:
        scans = shared.scans or SecurityScans(
            f"{name}-scan",
            {
                "source": source,
                "artifact_store": artifacts,
                "log_retention_days": svc.build.log_retention_days,
                "permissions_boundary": boundary,
                "role_path": shared.role_paths.pipeline,
                "pipelines": verifying_pipelines(svc),
                "tags": svc.tags,
                "account": account,
            },
            opts,
        )
        verification.append(scans.stage_for(source))

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
                "role_path": shared.role_paths.pipeline,
                "pipelines": verifying_pipelines(svc),
                "tags": svc.tags,
                "account": account,
            },
            opts,
        )
        verification.append(tests.stage)

    build_stage = build.stage
    for stage in verification:
        build_stage = build_stage.alongside(stage)

    # The stack's own deploy, in this account: [Approve] -> Deploy (+ check, rolls back).
    own_stages, deployment_group = (
        own_deploy_stages(
            svc,
            shared,
            source,
            build,
            service,
            service_arn=service_arn,
            task_role_arns=task_role_arns,
            task_family=task_family,
            container=contract.name,
            opts=opts,
        )
        if deploys_here
        else ([], None)
    )

    promotion, check_roles = [], {}
    for target in shared.promotion:
        stages, check_role = promotion_stages(svc, target, shared, source, build, contract.name, opts)
        promotion += stages
        if check_role is not None:
            check_roles[target.name] = check_role
    pipeline = Pipeline(
        name,
        {
            "stages": [source.stage, build_stage, *own_stages, *promotion],
            "artifact_store": artifacts,
            **({"regional_artifact_stores": shared.regional_artifacts} if shared.regional_artifacts else {}),
            "triggers": [
                source.trigger(
                    file_paths={"includes": svc.source.file_paths_include, "excludes": svc.source.file_paths_exclude},
                    tags=svc.source.tags,
                )
            ],
            "execution_mode": svc.pipeline.execution_mode,
            "permissions_boundary": boundary,
            "role_path": shared.role_paths.pipeline,
            "action_role_path": shared.role_paths.deploy,
            "tags": svc.tags,
            "account": account,
        },
        opts,
    )

    # Pull requests run the scans and tests of the unmerged code in a pipeline of their own, which
    # cannot build an image, reach a secret or deploy (CICD-SEC-1, CICD-SEC-4).
    validation = None
    if svc.source.pull_requests:
        checks = verification[0]
        for stage in verification[1:]:
            checks = checks.alongside(stage)
        validation = Pipeline(
            validation_name,
            {
                "stages": [source.stage, replace(checks, name="Verify")],
                "artifact_store": artifacts,
                "triggers": [
                    source.trigger(
                        file_paths={
                            "includes": svc.source.file_paths_include,
                            "excludes": svc.source.file_paths_exclude,
                        },
                        pull_requests=True,
                        pushes=False,
                    )
                ],
                # Runs for different pull requests are independent: none waits for or cancels another.
                "execution_mode": "PARALLEL",
                "permissions_boundary": boundary,
                "role_path": shared.role_paths.pipeline,
                "tags": svc.tags,
                "account": account,
            },
            opts,
        )

    # Everything that runs the pipelines: these may use the artifact key.
    key_users = [pipeline.role, *pipeline.action_roles.values(), *pipeline.stage_roles()]
    if validation is not None:
        key_users += [validation.role, *validation.action_roles.values()]
    runtime = (
        [service.execution_role, service.task_role, service.infrastructure_role, *service.check_roles]
        if service
        else []
    )
    roles = [*key_users, *(role for role in runtime if role is not None)]
    return Delivery(
        pipeline=pipeline,
        validation=validation,
        source=source,
        build=build,
        service=service,
        roles=roles,
        key_users=key_users,
        cluster=svc.service.cluster if deploys_here else None,
        service_name=svc.service.name if deploys_here else None,
        deployment_group=deployment_group,
        promotion_check_roles=check_roles,
    )


def own_deploy_stages(
    svc: ServicePipeline,
    shared: SharedResources,
    source: GitHubSource,
    build: ImageBuild,
    service: Optional[EcsService],
    *,
    service_arn: Optional[Input[str]],
    task_role_arns: Optional[Sequence[Input[str]]],
    task_family: Optional[Input[str]],
    container: str,
    opts: pulumi.ResourceOptions,
) -> tuple[list[StageDefinition], Optional[list]]:
    """The service's deploy in this account: [Approve] -> Deploy (+ its check, rolled back on
    failure); and, on CodeDeploy, its (application, deployment group)."""
    name, account, artifacts = svc.pipeline.name, shared.account, shared.artifacts
    boundary, codedeploy, deployment_group = shared.permissions_boundary, svc.codedeploy, None
    approval = (
        ManualApproval(
            f"{name}-approval",
            {
                "source": source,
                "artifact_store": artifacts,
                "summary": (
                    f"Deploy {svc.source.repository} to {svc.tags['environment']}: image "
                    f"#{{{build.stage.actions[0].namespace}.IMAGE_DIGEST}}, built from commit "
                    f"#{{{source.variables_namespace}.CommitId}}?"
                ),
                "emails": svc.deploy.approval_emails,
                "tags": svc.tags,
            },
            opts,
        )
        if svc.deploy.require_approval
        else None
    )

    if codedeploy:
        blue_green = CodeDeployBlueGreen(
            f"{name}-deploy",
            {
                "build": build,
                "cluster": svc.service.cluster,
                "service": svc.service.name,
                "application": svc.deploy.blue_green.application,
                "deployment_group": svc.deploy.blue_green.deployment_group,
                "task_role_arns": task_role_arns,
                "account": account,
            },
            opts,
        )
        deploy_stage = blue_green.stage
        deployment_group = [blue_green.application_name, blue_green.deployment_group_name]
    else:
        deploy_stage = EcsDeploy(
            f"{name}-deploy",
            {
                "build": build,
                "cluster": svc.service.cluster,
                "service": svc.service.name,
                "timeout_minutes": svc.deploy.timeout_minutes,
                "task_role_arns": task_role_arns,
                "task_family": task_family,
                **({"service_arn": service_arn} if service_arn is not None else {}),
                "account": account,
            },
            opts,
        ).stage

    # After every deploy: the service runs the digest this execution built (and, in prod, had
    # approved); then its health URL answers, when there is one (CICD-SEC-9).
    health_url = svc.deploy.health_check_url or (service.health_url if service else None)
    check = ServiceCheck(
        f"{name}-check",
        {
            "artifact_store": artifacts,
            "source": source,
            **({"url": health_url} if health_url else {}),
            "service": {
                "cluster": svc.service.cluster,
                "service": svc.service.name,
                "arn": service_arn or account.arn("ecs", f"service/{svc.service.cluster}/{svc.service.name}"),
                "container": container,
                "image": f"#{{{build.stage.actions[0].namespace}.IMAGE_URI}}",
            },
            "timeout_seconds": svc.deploy.check_timeout_seconds,
            "commands": svc.deploy.check_commands,
            "log_retention_days": svc.build.log_retention_days,
            "permissions_boundary": boundary,
            "role_path": shared.role_paths.pipeline,
            "pipelines": [name],
            "tags": svc.tags,
            "account": account,
        },
        opts,
    )
    deploy_stage = deploy_stage.followed_by(check.stage)
    if svc.deploy.rollback_on_failure:
        deploy_stage = deploy_stage.rolling_back_on_failure()
    return [*([approval.stage] if approval else []), deploy_stage], deployment_group


def promotion_stages(
    svc: ServicePipeline,
    target: PromotionTarget,
    shared: SharedResources,
    source: GitHubSource,
    build: ImageBuild,
    container: str,
    opts: pulumi.ResourceOptions,
) -> tuple[list[StageDefinition], Optional[pulumi.Output[str]]]:
    """One target of another account: [Approve-<name>] -> Deploy-<name> (+ its check), the deploy
    as that account's deploy role, the check reading the service as its check role; and the check
    project's role, which that check role trusts."""
    name = f"{svc.pipeline.name}-{target.name}"
    stages = []
    if target.require_approval:
        approval = ManualApproval(
            f"{name}-approval",
            {
                "source": source,
                "artifact_store": shared.artifacts,
                "summary": (
                    f"Promote {svc.source.repository} to {target.name} (account {target.account}): image "
                    f"#{{{build.stage.actions[0].namespace}.IMAGE_DIGEST}}, built from commit "
                    f"#{{{source.variables_namespace}.CommitId}}?"
                ),
                "emails": svc.deploy.approval_emails,
                "tags": svc.tags,
            },
            opts,
        )
        stages.append(replace(approval.stage, name=f"Approve-{target.name}"))
    deploy = EcsDeploy(
        f"{name}-deploy",
        {
            "build": build,
            "cluster": target.cluster,
            "service": target.service,
            "deploy_role_arn": target.deploy_role_arn,
            "stage_name": f"Deploy-{target.name}",
            **({"region": target.region} if target.region else {}),
            **({"timeout_minutes": svc.deploy.timeout_minutes} if svc.deploy.timeout_minutes else {}),
        },
        opts,
    )
    stage = deploy.stage
    check_role = None
    if target.check_role_arn:
        check = ServiceCheck(
            f"{name}-check",
            {
                "artifact_store": shared.artifacts,
                "source": source,
                "service": {
                    "cluster": target.cluster,
                    "service": target.service,
                    "arn": pulumi.Output.concat(
                        "arn:",
                        shared.account.partition,
                        ":ecs:",
                        target.region or shared.account.region,
                        f":{target.account}:service/{target.cluster}/{target.service}",
                    ),
                    "container": container,
                    "image": f"#{{{build.stage.actions[0].namespace}.IMAGE_URI}}",
                    **({"region": target.region} if target.region else {}),
                },
                "check_role_arn": target.check_role_arn,
                "timeout_seconds": svc.deploy.check_timeout_seconds,
                "log_retention_days": svc.build.log_retention_days,
                "permissions_boundary": shared.permissions_boundary,
                "role_path": shared.role_paths.pipeline,
                "pipelines": [svc.pipeline.name],
                "tags": svc.tags,
                "account": shared.account,
            },
            opts,
        )
        stage = stage.followed_by(check.stage)
        check_role = check.role_arn
    if svc.deploy.rollback_on_failure:
        stage = stage.rolling_back_on_failure()
    return [*stages, stage], check_role
