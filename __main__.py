"""ecs-cicd: GitHub -> CodeBuild (image to ECR) -> [approval] -> ECS, one stack per environment.

Per service, one pipeline (composed in components/delivery.py):
    Source -> Build (image | scans | tests, in parallel) -> [Approve] -> Deploy (+ check, rolls back)
Per stack, shared: the artifact store, the Docker Hub pull-through cache, the GitHub connection, the
scan projects, the alerts, the guardrails.
"""

import sys

import pulumi

from components import (
    AccountGuardrails,
    ArtifactStore,
    AwsAccount,
    DockerHubCache,
    PipelineAlerts,
    guardrails,
    provider,
    settings,
)
from components.delivery import Delivery, SharedResources, deliver_stack
from components.evaluation import tune_garbage_collector
from components.iam import RolePaths

if provider.launched_as_plugin():  # `pulumi package add` runs this file as the provider plugin (PulumiPlugin.yaml)
    provider.main()
    sys.exit()

tune_garbage_collector()  # half the evaluation time (components/evaluation.py)
config = settings.load()
account = AwsAccount.current()
stack_name = config.stack_name
role_paths = RolePaths.for_stack(stack_name)  # the key policy and the SCP name the roles by path


def artifact_store(name: str, region: str | None = None) -> ArtifactStore:
    """The pipelines' artifacts in the stack's region, or in a promotion target's other region (where
    CodePipeline copies what that target's deploy reads)."""
    return ArtifactStore(
        name,
        {
            "expiration_days": config.pipeline.artifact_expiration_days,
            "protect": config.protect,
            # Only the pipelines' roles write artifacts: nothing swaps one while a deploy awaits approval.
            "writer_pattern": role_paths.arn_pattern(account, role_paths.pipeline),
            # Promotion targets' deploy roles read the pipeline's artifacts from their accounts.
            "cross_account_readers": [
                {"role_arn": target.deploy_role_arn, "pipeline": config.pipeline.name}
                for target in config.promotion
                if target.region == region
            ],
            "tags": config.tags,
            # Another region's store makes its own provider there, with the stack's credentials.
            **({"region": region, "provider_settings": config.aws_provider} if region else {}),
            "account": account,
        },
    )


artifacts = artifact_store(f"{stack_name}-artifacts")
regional_artifacts = {
    region: artifact_store(f"{stack_name}-artifacts-{region}", region)
    for region in sorted({target.region for target in config.promotion if target.region})
}
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
shared = SharedResources(
    artifacts=artifacts,
    account=account,
    connection_name=settings.connection_name(stack_name),
    protect=config.protect,
    permissions_boundary=config.permissions_boundary,
    docker_hub=docker_hub,
    skip_security_scans=config.insecure.skip_security_scans,
    role_paths=role_paths,
    promotion=config.promotion,
    deploy_here=config.deploy_here,
    regional_artifacts=regional_artifacts,
)

deliveries: dict[str, Delivery] = deliver_stack(config.services, shared, stack_name)

if not any(target.region is None for target in config.promotion):  # a store with readers wrote its own
    artifacts.limit_key_use(role_pattern=role_paths.arn_pattern(account, role_paths.pipeline))

# Watching: alerts on failures, on changes to what the pipelines are made of, and on deploys that bypass them.
deployer_role = guardrails.deployer_role(account.caller_arn)
alerts = PipelineAlerts(
    f"{stack_name}-alerts",
    {
        "artifact_store": artifacts,
        "pipelines": {service_name: d.watched() for service_name, d in deliveries.items()},
        "pipeline_role_pattern": role_paths.arn_pattern(account, role_paths.pipeline),
        "operator_role_arns": [deployer_role, *config.operator_role_arns],
        "home_region": config.region,
        "provider_settings": config.aws_provider,
        "permissions_boundary": config.permissions_boundary,
        "role_path": role_paths.runtime,
        "emails": config.notification_emails,
        "tags": config.tags,
        "account": account,
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
scp = pulumi.Output.all(
    deployer_role,
    role_paths.arn_pattern(account, role_paths.stack),
    role_paths.arn_pattern(account, role_paths.pipeline),
    alerts.forwarder_rules,
    pulumi.Output.all(*(store.bucket.arn for store in [artifacts, *regional_artifacts.values()])),
    role_paths.arn_pattern(account, role_paths.deploy),
    role_paths.arn_pattern(account, role_paths.runtime),
).apply(
    lambda v: guardrails.scp_document(
        stack_name,
        v[1],
        v[0],
        v[2],
        config.operator_role_arns,
        v[3],
        v[4],
        deploy_role_patterns=v[5:],
    )
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
            **({"serviceUrl": d.service.health_url} if d.service and d.service.health_url else {}),
            **({"loadBalancerDnsName": d.service.load_balancer_dns_name} if d.service else {}),
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
        if only.service.health_url is not None:
            pulumi.export("serviceUrl", only.service.health_url)
        pulumi.export("loadBalancerDnsName", only.service.load_balancer_dns_name)
if config.promotion:  # what each target account's TargetAccountAccess and `ecs-cicd preflight` need
    (promoting,) = deliveries.values()
    pulumi.export("pipelineRoleArn", promoting.pipeline.role.arn)
    pulumi.export("artifactBucketArn", artifacts.bucket.arn)
    pulumi.export("artifactKeyArn", artifacts.key.arn)
    # A target of another region reads the store of its region (TargetAccountAccess's artifact_*_arn).
    pulumi.export(
        "regionalArtifactStores",
        {region: {"bucketArn": s.bucket.arn, "keyArn": s.key.arn} for region, s in regional_artifacts.items()},
    )
    pulumi.export("checkRoleArns", promoting.promotion_check_roles)
created = next((d.source for d in deliveries.values() if d.source.handshake_url is not None), None)
if created is not None:
    pulumi.export("connectionHandshakeUrl", created.handshake_url)
    pulumi.export(
        "connectionNextStep",
        "The GitHub connection is PENDING: open connectionHandshakeUrl, choose 'Update pending connection' "
        "and install or pick the GitHub app. The pipeline cannot fetch source until then.",
    )
