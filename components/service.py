"""The target service, created: VPC, internet-facing ALB, ECS cluster, Fargate task definition and
service in private subnets, with the deployment circuit breaker, alarm rollback and autoscaling.

Who owns what: the stack config owns the task definition's settings (CPU, memory, environment,
secrets, port), the pipeline owns the image. `pulumi up` reads the revision the service runs: when
the config it last applied (a hash, kept as a tag on the service) is what the stack says now, the
service's task definition is left alone, so a deploy is never reverted; when the config changed,
`pulumi up` registers a revision of the new config with the image the service runs, and the service
rolls it out (with its strategy). The pipeline's deploy copies the running revision and swaps the
image, so the config travels with it. On blue/green, ECS moves traffic by rewriting the listener
rules' weights: those are not `pulumi up`'s to revert either.
"""

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Optional, Required, TypedDict

import pulumi
import pulumi_aws as aws
import pulumi_awsx as awsx

from . import green_check, iam, naming, ownership
from .account import AwsAccount
from .args import documented, known_keys, like_config_keys, like_config_mapping, no_plaintext_secrets, secret_refs
from .contract import ContainerContract
from .iam import allow, secret_read_statements, trust_policy
from .images import BOOTSTRAP_IMAGE, BOOTSTRAP_PORT_VARIABLE
from .inputs import Input
from .settings import SecretRef

TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"
# The lifecycle stage the pre-production check runs at: "The test traffic shift is complete. The
# green service revision handles 100% of the test traffic", before production traffic moves.
# https://docs.aws.amazon.com/AmazonECS/latest/developerguide/blue-green-deployment-how-it-works.html
PRE_PRODUCTION_STAGE = "POST_TEST_TRAFFIC_SHIFT"
# How ECS deploys a service this program creates (the ECS deployment controller).
ECS_STRATEGIES = ("rolling", "blue-green", "canary", "linear")
DEFAULT_TRAFFIC = {
    "bake_time_minutes": 5,
    "canary_percent": 10,
    "canary_bake_time_minutes": 5,
    "linear_step_percent": 10,
    "linear_step_bake_time_minutes": 1,
}
NETWORK_MODE, COMPATIBILITIES = "awsvpc", ["FARGATE"]
TASK_LOG_GROUP = "/ecs/{cluster}/{service}"
PLATFORM = {"operatingSystemFamily": "LINUX", "cpuArchitecture": "X86_64"}
HTTPS_PORT, HTTP_PORT, TEST_PORT = 443, 80, 8443
# The config key each argument comes from: the library checks it with the config's schema and message.
CONFIG_KEYS = {
    "cpu": "service.cpu",
    "memory": "service.memory",
    "desired_count": "service.desiredCount",
    "bootstrap_image": "service.bootstrapImage",
    "environment": "service.environment",
    "health_check_path": "service.healthCheckPath",
    "health_check_interval_seconds": "service.healthCheckIntervalSeconds",
    "healthy_threshold": "service.healthyThreshold",
    "unhealthy_threshold": "service.unhealthyThreshold",
    "deregistration_delay_seconds": "service.deregistrationDelaySeconds",
    "certificate_arn": "service.certificateArn",
    "domain_name": "service.domainName",
    "hosted_zone_id": "service.hostedZoneId",
    "availability_zones": "service.availabilityZones",
    "nat_gateways": "service.natGateways",
    "check_timeout_seconds": "deploy.checkTimeoutSeconds",
    "log_retention_days": "build.logRetentionDays",
}
TRAFFIC_KEYS = {
    "bake_time_minutes": "deploy.bakeTimeMinutes",
    "canary_percent": "deploy.canary.percent",
    "canary_bake_time_minutes": "deploy.canary.bakeTimeMinutes",
    "linear_step_percent": "deploy.linear.stepPercent",
    "linear_step_bake_time_minutes": "deploy.linear.stepBakeTimeMinutes",
}
SCALING_KEYS = {
    "min": "service.autoscaling.min",
    "max": "service.autoscaling.max",
    "target_cpu_percent": "service.autoscaling.targetCpuPercent",
}


class EcsServiceArgs(TypedDict, total=False):
    cluster: Required[str]
    """Name of the cluster to create (or, with `existing_cluster`, to join). Required."""
    existing_cluster: bool
    """Run the service in the existing cluster `cluster` instead of creating one. Default False."""
    service: Required[str]
    """Name of the service to create. Required."""
    container: Required[ContainerContract]
    """The container name and port. Required."""
    image_repository_arn: Required[Input[str]]
    """ECR repository the pipeline deploys from; the execution role may pull from it only. Required."""
    bootstrap_image: str
    """Image to run until the pipeline's first deploy. It must answer the health check path on the
    container port. Default: traefik/whoami, pinned, told the port through its environment."""
    cpu: int
    """Fargate CPU units. Default 256."""
    memory: int
    """Fargate memory in MiB. Default 512."""
    desired_count: int
    """Tasks to run. Default 2. Not with `autoscaling`, whose `min` the service starts at."""
    environment: Mapping[str, str]
    """Plain container environment."""
    secrets: Sequence[SecretRef]
    """Container secrets (`SecretRef`s, or from Python a mapping of name to Secrets Manager ARN or
    Parameter Store name); the execution role may read exactly these."""
    health_check_path: str
    """Target group health check path. Default /health."""
    health_check_interval_seconds: int
    """Default 10 (AWS: 30)."""
    healthy_threshold: int
    """Default 2 (AWS: 5)."""
    unhealthy_threshold: int
    """Default 3 (AWS: 2)."""
    deregistration_delay_seconds: int
    """Default 30 (AWS: 300)."""
    certificate_arn: Optional[str]
    """ACM certificate: HTTPS on 443 and a redirect from 80. Without it, plain HTTP on 80."""
    domain_name: Optional[str]
    """The DNS name the certificate covers: the health URL uses it (no certificate covers the load
    balancer's own name, so with a certificate and without this there is no `health_url`)."""
    hosted_zone_id: Optional[str]
    """Route 53 zone of `domain_name`: an alias record points the name at the load balancer."""
    availability_zones: int
    """VPC availability zones. Default 2."""
    nat_gateways: str
    """`Single` or `OnePerAz`. Default Single."""
    strategy: str
    """How ECS itself deploys: `rolling` (default), or `blue-green`, `canary`, `linear` (a second set of
    tasks behind a second target group, reached first through the test listener, traffic moved
    by ECS rewriting the listener rules' weights)."""
    traffic: Mapping[str, float]
    """For `blue-green`, `canary`, `linear`: `bake_time_minutes` (default 5), `canary_percent` (10),
    `canary_bake_time_minutes` (5), `linear_step_percent` (10), `linear_step_bake_time_minutes` (1)."""
    check_timeout_seconds: int
    """For `blue-green`, `canary`, `linear`: how long every new task has to answer the health path
    before production traffic moves (the lifecycle hook), or the deployment rolls back. Default 120."""
    rollback_on_alarm: bool
    """A target 5xx alarm that rolls a deployment back. Default True."""
    autoscaling: Optional[Mapping[str, int]]
    """`{"min": n, "max": m, "target_cpu_percent": p}` or None."""
    log_retention_days: int
    """Task log retention. Default 30."""
    log_kms_key_arn: Input[str]
    """Customer KMS key that encrypts the task log group (`ArtifactStore.logs_key`): its policy must
    let CloudWatch Logs use it. Without it, CloudWatch Logs' own encryption is used."""
    permissions_boundary: Optional[str]
    """Permissions boundary ARN for the execution and task roles."""
    role_path: str
    """IAM path of the roles created here (`iam.RolePaths`). Default `/`."""
    protect: bool
    """Deletion protection on the load balancer. Default True."""
    tags: Mapping[str, str]
    """Tags for every resource."""
    account: AwsAccount
    """Account context; looked up when omitted."""


class ServiceStateError(pulumi.RunError):
    """What the service runs makes the requested change unsafe: `pulumi up` stops and says why."""


@dataclass(frozen=True)
class ExistingCluster:
    """A cluster made elsewhere that a created service joins: looked up, never managed."""

    name: pulumi.Output[str]
    arn: pulumi.Output[str]

    @classmethod
    def lookup(cls, name: str, parent: pulumi.Resource) -> "ExistingCluster":
        found = aws.ecs.get_cluster_output(cluster_name=name, opts=pulumi.InvokeOutputOptions(parent=parent))
        return cls(name=found.cluster_name, arn=found.arn)


@documented(EcsServiceArgs)
class EcsService(pulumi.ComponentResource):
    """A Fargate service behind an ALB, ready for the pipeline to deploy into."""

    cluster: "aws.ecs.Cluster | ExistingCluster"
    service: aws.ecs.Service
    task_definition: Optional[aws.ecs.TaskDefinition]
    """The revision this `pulumi up` registers; None when the service keeps the one it runs."""
    execution_role: iam.ScopedRole
    task_role: iam.ScopedRole
    target_groups: list[aws.lb.TargetGroup]
    prod_listener: aws.lb.Listener
    test_listener: Optional[aws.lb.Listener]
    alarm_names: list[pulumi.Output[str]]
    health_url: Optional[pulumi.Output[str]]
    """Where the service answers its health check over a name its certificate covers (None with a
    certificate but no `domain_name`)."""
    strategy: str
    """rolling, blue-green, canary or linear."""
    family: str
    listener_rules: list[aws.lb.ListenerRule]
    infrastructure_role: Optional[iam.ScopedRole]
    check_roles: list[iam.ScopedRole]
    running: Optional[ownership.LiveService]
    """What runs: this service as `pulumi up` found it, or the one a cluster or name change replaces."""
    live: Optional[ownership.LiveService]
    """This very service as `pulumi up` found it (None on the first `pulumi up`)."""
    switching: bool
    """This `pulumi up` is the first of the two that move a running service from rolling to ECS blue/green."""
    task_config: dict[str, Any]
    """What `pulumi up` owns of the task definition (`ownership.task_config`), from the config."""
    config_hash: str
    task_definition_source: str
    """Where the deployed task definition comes from, for the plan."""
    load_balancer_dns_name: pulumi.Output[str]
    task_definition: Optional[aws.ecs.TaskDefinition]
    """The revision this `pulumi up` registers: None when the service keeps what it runs."""
    task_definition_arn: pulumi.Output[str]
    """The revision the service runs after this `pulumi up`."""
    task_definition_source: str
    """Where that revision comes from, for the plan."""

    def __init__(self, name: str, args: EcsServiceArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("cicd:index:EcsService", name, None, opts)
        if "blue_green" in args:
            raise ValueError(
                f"EcsService {name}: blue_green (a service on CodeDeploy) was removed: ECS deploys a created service "
                "itself; use strategy='blue-green' (or 'canary', 'linear'). CodeDeployBlueGreen deploys existing "
                "services on the CODE_DEPLOY controller"
            )
        known_keys("EcsService", name, args, EcsServiceArgs)
        like_config_keys("EcsService", name, args, CONFIG_KEYS)
        like_config_mapping("EcsService", name, "traffic", args.get("traffic"), TRAFFIC_KEYS)
        like_config_mapping("EcsService", name, "autoscaling", args.get("autoscaling"), SCALING_KEYS)
        for required in ("cluster", "service", "container", "image_repository_arn"):
            if required not in args:
                raise ValueError(f"EcsService {name}: {required} is required")

        if args.get("autoscaling") and "desired_count" in args:
            raise ValueError(
                f"EcsService {name}: desired_count and autoscaling exclude each other: with autoscaling the "
                "service starts at autoscaling['min'] and the scaler owns the count"
            )
        contract: ContainerContract = args["container"]
        account = args.get("account") or AwsAccount.current()
        tags = dict(args.get("tags", {}))
        strategy = args.get("strategy", "rolling")
        if strategy not in ECS_STRATEGIES:
            raise ValueError(
                f"EcsService {name}: strategy={strategy!r} is not allowed; allowed: {', '.join(ECS_STRATEGIES)}"
            )
        self.strategy = strategy
        native = strategy != "rolling"  # two target groups, a test listener, weighted rules
        for argument in ("traffic", "check_timeout_seconds"):
            if not native and args.get(argument) is not None:
                raise ValueError(
                    f"EcsService {name}: {argument} applies to strategy blue-green, canary or linear (ECS's own "
                    "traffic shift and its pre-production check); with strategy='rolling' it would change nothing"
                )
        scaling = args.get("autoscaling") or {}
        if (scaling and not {"min", "max"} <= set(scaling)) or scaling.get("min", 0) > scaling.get("max", 0):
            raise ValueError(f"EcsService {name}: autoscaling = {dict(scaling)!r}; allowed: min and max, min <= max")
        child = pulumi.ResourceOptions(parent=self)

        vpc = awsx.ec2.Vpc(
            f"{name}-vpc",
            number_of_availability_zones=args.get("availability_zones", 2),
            nat_gateways={"strategy": awsx.ec2.NatGatewayStrategy(args.get("nat_gateways", "Single"))},
            tags=tags,
            opts=child,
        )
        alb_sg, task_sg = self._security_groups(name, vpc, contract, bool(args.get("certificate_arn")), tags)
        alb = aws.lb.LoadBalancer(
            naming.logical(naming.LOAD_BALANCER, name, "alb"),
            load_balancer_type="application",
            internal=False,
            security_groups=[alb_sg.id],
            subnets=vpc.public_subnet_ids,
            drop_invalid_header_fields=True,
            enable_deletion_protection=args.get("protect", True),
            tags=tags,
            opts=child,
        )
        colours = ["blue", "green"] if native else ["blue"]
        self.target_groups = [
            self._target_group(naming.logical(naming.TARGET_GROUP, name, c), vpc, contract, args, tags) for c in colours
        ]
        self.prod_listener, self.test_listener = self._listeners(name, alb, args.get("certificate_arn"), native, tags)
        self.listener_rules = self._listener_rules(name, tags) if native else []

        self.cluster = (
            ExistingCluster.lookup(args["cluster"], parent=self)
            if args.get("existing_cluster")
            else aws.ecs.Cluster(
                f"{name}-cluster",
                name=args["cluster"],
                settings=[{"name": "containerInsights", "value": "enabled"}],
                tags=tags,
                opts=child,
            )
        )
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-task-logs",
            name=TASK_LOG_GROUP.format(**args),
            retention_in_days=args.get("log_retention_days", 30),
            kms_key_id=args.get("log_kms_key_arn"),
            tags=tags,
            opts=child,
        )
        secrets = list(secret_refs("EcsService", name, args.get("secrets", ()), "service"))
        no_plaintext_secrets("EcsService", name, args.get("environment", {}), "service")
        self.execution_role, self.task_role = self._roles(name, account, args, log_group, secrets, tags)

        self.family = args["service"]
        # What runs: this service, or the one a cluster or name change replaces (its image carries over).
        self.running = ownership.find_live_service(args["cluster"], args["service"], name, parent=self)
        self.live = self.running if self.running is not None and not self.running.replaced else None
        self._own_task_definition(name, args, contract, account, secrets, log_group, tags)

        # One 5xx alarm per target group: on blue/green the new tasks sit behind the other group
        # after every flip, and an alarm on one group would leave every other deploy unwatched.
        self.alarm_names = []
        if args.get("rollback_on_alarm", True):
            for colour, group in zip(colours, self.target_groups, strict=True):
                alarm = aws.cloudwatch.MetricAlarm(
                    f"{name}-{colour}-target-5xx",
                    alarm_description=f"{args['service']}: targets answer 5xx; deployments roll back on it",
                    namespace="AWS/ApplicationELB",
                    metric_name="HTTPCode_Target_5XX_Count",
                    dimensions={"LoadBalancer": alb.arn_suffix, "TargetGroup": group.arn_suffix},
                    statistic="Sum",
                    period=60,
                    evaluation_periods=2,
                    threshold=10,
                    comparison_operator="GreaterThanOrEqualToThreshold",
                    treat_missing_data="notBreaching",
                    tags=tags,
                    opts=child,
                )
                self.alarm_names.append(alarm.name)

        self.infrastructure_role: Optional[iam.ScopedRole] = None
        self.check_roles: list[iam.ScopedRole] = []
        self.service = self._service(name, args, vpc, task_sg, contract, tags)
        scaling = args.get("autoscaling")
        if scaling:
            self._autoscaling(name, args, scaling, tags)

        self.load_balancer_dns_name = alb.dns_name
        domain, zone = args.get("domain_name"), args.get("hosted_zone_id")
        if zone:
            # An alias to the load balancer: its canonical zone, not the domain's (Route 53 API, AliasTarget).
            aws.route53.Record(
                f"{name}-dns",
                zone_id=zone,
                name=domain,
                type="A",
                aliases=[{"name": alb.dns_name, "zone_id": alb.zone_id, "evaluate_target_health": True}],
                opts=child,
            )
        path = args.get("health_check_path", "/health")
        if not args.get("certificate_arn"):
            self.health_url = pulumi.Output.concat("http://", domain or alb.dns_name, path)
        elif domain:
            self.health_url = pulumi.Output.concat("https://", domain, path)
        else:
            # No certificate covers the load balancer's own elb.amazonaws.com name: nothing can check
            # this service over TLS until it has a name of its own.
            self.health_url = None
        self.register_outputs(
            {"health_url": self.health_url, "service_name": self.service.name, "load_balancer": alb.dns_name}
        )

    @property
    def task_role_arns(self) -> list[pulumi.Output[str]]:
        return [self.execution_role.arn, self.task_role.arn]

    def _own_task_definition(self, name, args, contract, account, secrets, log_group, tags) -> None:
        """The stack config owns the task definition's settings, the pipeline its image (see
        `ownership`): keep what the service runs when its content is the config's, else register a
        revision of the config with the image the service runs, for the service to roll out."""
        family, role_path = self.family, args.get("role_path", "/")
        cpu, memory = str(args.get("cpu", 256)), str(args.get("memory", 512))
        environment = dict(args.get("environment", {}))
        pairs = [(s.name, s.reference) for s in secrets]

        def container(image: str, region: str) -> dict:
            variables = dict(environment)
            if image == BOOTSTRAP_IMAGE:  # it must answer the health check on the contract's port
                variables[BOOTSTRAP_PORT_VARIABLE] = str(contract.port)
            return contract.container_definition(
                image, log_group=TASK_LOG_GROUP.format(**args), region=region, environment=variables, secrets=pairs
            )

        placeholder_role = f"arn:aws:iam::000000000000:role{role_path}role"
        self.task_config = ownership.task_config(
            {
                "family": family,
                "cpu": cpu,
                "memory": memory,
                "networkMode": NETWORK_MODE,
                "requiresCompatibilities": COMPATIBILITIES,
                "runtimePlatform": PLATFORM,
                "executionRoleArn": placeholder_role,
                "taskRoleArn": placeholder_role,
                "containerDefinitions": [container("", "")],
            },
            contract.name,
        )
        self.config_hash = ownership.config_hash(self.task_config)
        live = self.running
        if live is not None and ownership.task_config(live.definition, contract.name) == self.task_config:
            # What runs is the config: keep it, whatever image the pipeline deployed into it.
            self.task_definition, self.task_definition_arn = None, pulumi.Output.from_input(live.task_definition)
            self.task_definition_source = (
                "the revision the replaced service runs"
                if live.replaced
                else "the running revision (its content is the config's)"
            )
            return
        image = live.image(contract.name) if live else args.get("bootstrap_image", BOOTSTRAP_IMAGE)
        if live is not None:
            self._refuse_unsafe_rollout(args, live, image)
        if image is None:  # refused just above; said again for type checkers
            raise ServiceStateError(f"service {args['service']}: no image to keep")
        if live is not None and not live.replaced:
            running = ownership.task_config(live.definition, contract.name)
            changed = sorted(key for key in self.task_config if running.get(key) != self.task_config[key])
            pulumi.log.warn(
                f"service {args['service']} runs {live.task_definition}, which differs from the stack's config in "
                f"{', '.join(changed)}: this `pulumi up` rolls out the config with the image the service runs. If "
                "this shows again after `pulumi up`, that rollout failed and ECS rolled it back (see the service's "
                "events); `pulumi up --refresh` rolls it out again",
                resource=self,
            )
        # One revision per config, named after it. Old revisions stay registered (skip_destroy): a
        # rollback may need them.
        self.task_definition = aws.ecs.TaskDefinition(
            f"{name}-task-{self.config_hash[:8]}",
            family=family,
            cpu=cpu,
            memory=memory,
            network_mode=NETWORK_MODE,
            requires_compatibilities=COMPATIBILITIES,
            runtime_platform={"operating_system_family": "LINUX", "cpu_architecture": "X86_64"},
            execution_role_arn=self.execution_role.arn,
            task_role_arn=self.task_role.arn,
            container_definitions=account.region.apply(lambda region: json.dumps([container(image, region)])),
            skip_destroy=True,
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[log_group]),
        )
        self.task_definition_arn = self.task_definition.arn
        self.task_definition_source = (
            f"a new revision of the config, with the image {'the replaced' if live.replaced else 'the'} service runs"
            if live
            # A service the tagging API does not list yet (it can lag minutes behind a change) is
            # left as it runs: taskDefinition is ignored until it is found.
            else f"the bootstrap image {image} until the pipeline's first deploy (a new service)"
        )

    def _refuse_unsafe_rollout(self, args, live: ownership.LiveService, image: Optional[str]) -> None:
        where = _where(args)
        if image is None:
            raise ServiceStateError(
                f"{where} runs {live.task_definition}, whose containers include none named "
                f"{args['container'].name!r}, none its load balancer names and not exactly one; `pulumi up` cannot "
                "tell which image to keep; set ecs-cicd:service.container to the container that runs the built image"
            )
        if live.deployments > 1:
            message = (
                f"{where} is in the middle of a deployment ({live.deployments} in flight): rolling out the changed "
                "config now would carry the image being deployed, even if that deployment then rolls back; wait "
                "for it to finish and run `pulumi up` again"
            )
            if not pulumi.runtime.is_dry_run():
                raise ServiceStateError(message)
            pulumi.log.warn(message, resource=self)

    def _security_groups(self, name, vpc, contract, https: bool, tags):
        """The load balancer takes the public ports and reaches only the tasks; the tasks take only
        the load balancer and reach out only over HTTPS (ECR, logs, AWS APIs). Every rule is its own
        resource: inline rules and rule resources on one group fight each other."""
        child = pulumi.ResourceOptions(parent=self)
        alb_sg = aws.ec2.SecurityGroup(
            f"{name}-alb-sg", description="Load balancer: public listeners", vpc_id=vpc.vpc_id, tags=tags, opts=child
        )
        task_sg = aws.ec2.SecurityGroup(
            f"{name}-task-sg",
            description="Tasks: reachable from the load balancer only",
            vpc_id=vpc.vpc_id,
            tags=tags,
            opts=child,
        )
        for port in [HTTPS_PORT, HTTP_PORT] if https else [HTTP_PORT]:
            self._tcp_rule(
                "ingress", f"{name}-alb-from-internet-{port}", alb_sg.id, port, "public listener", "0.0.0.0/0", tags
            )
        self._tcp_rule(
            "egress", f"{name}-alb-to-tasks", alb_sg.id, contract.port, "to the tasks only", task_sg.id, tags
        )
        self._tcp_rule(
            "ingress",
            f"{name}-tasks-from-alb",
            task_sg.id,
            contract.port,
            "from the load balancer only",
            alb_sg.id,
            tags,
        )
        self._tcp_rule(
            "egress",
            f"{name}-tasks-to-https",
            task_sg.id,
            443,
            "ECR, logs and AWS APIs, through the NAT gateway",
            "0.0.0.0/0",
            tags,
        )
        return alb_sg, task_sg

    def _tcp_rule(self, direction: str, name: str, group, port, description: str, peer, tags) -> None:
        """One TCP port of a security group, to or from another group (`peer` an Output of its ID)
        or a CIDR block (a string)."""
        kind = aws.vpc.SecurityGroupIngressRule if direction == "ingress" else aws.vpc.SecurityGroupEgressRule
        kind(
            name,
            security_group_id=group,
            **({"cidr_ipv4": peer} if isinstance(peer, str) else {"referenced_security_group_id": peer}),
            ip_protocol="tcp",
            from_port=port,
            to_port=port,
            description=description,
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _target_group(self, name, vpc, contract, args, tags) -> aws.lb.TargetGroup:
        return aws.lb.TargetGroup(
            name,
            target_type="ip",
            port=contract.port,
            protocol="HTTP",
            vpc_id=vpc.vpc_id,
            deregistration_delay=args.get("deregistration_delay_seconds", 30),
            health_check={
                "path": args.get("health_check_path", "/health"),
                "interval": args.get("health_check_interval_seconds", 10),
                "healthy_threshold": args.get("healthy_threshold", 2),
                "unhealthy_threshold": args.get("unhealthy_threshold", 3),
                "timeout": 5,
                "matcher": "200-399",
            },
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _listeners(self, name, alb, certificate_arn, two_groups: bool, tags):
        child = pulumi.ResourceOptions(parent=self)
        forward_blue: list[aws.lb.ListenerDefaultActionArgsDict] = [
            {"type": "forward", "target_group_arn": self.target_groups[0].arn}
        ]
        if certificate_arn:
            # One port-80 listener whatever the certificate: adding one changes its action in place
            # (a second listener on port 80 would fail with DuplicateListener).
            aws.lb.Listener(
                f"{name}-http",
                load_balancer_arn=alb.arn,
                port=HTTP_PORT,
                protocol="HTTP",
                default_actions=[
                    {"type": "redirect", "redirect": {"port": "443", "protocol": "HTTPS", "status_code": "HTTP_301"}}
                ],
                tags=tags,
                opts=pulumi.ResourceOptions(parent=self, aliases=[pulumi.Alias(name=f"{name}-http-redirect")]),
            )
            prod = aws.lb.Listener(
                f"{name}-https",
                load_balancer_arn=alb.arn,
                port=HTTPS_PORT,
                protocol="HTTPS",
                ssl_policy=TLS_POLICY,
                certificate_arn=certificate_arn,
                default_actions=forward_blue,
                tags=tags,
                opts=child,
            )
        else:
            prod = aws.lb.Listener(
                f"{name}-http",
                load_balancer_arn=alb.arn,
                port=HTTP_PORT,
                protocol="HTTP",
                default_actions=forward_blue,
                tags=tags,
                opts=child,
            )
        test = None
        if two_groups:
            # The test route is not opened in the security group: only the deployment's checks use it.
            test = aws.lb.Listener(
                f"{name}-test",
                load_balancer_arn=alb.arn,
                port=TEST_PORT,
                protocol="HTTPS" if certificate_arn else "HTTP",
                ssl_policy=TLS_POLICY if certificate_arn else None,
                certificate_arn=certificate_arn,
                default_actions=[{"type": "forward", "target_group_arn": self.target_groups[1].arn}],
                tags=tags,
                opts=child,
            )
        return prod, test

    def _roles(self, name, account, args, log_group, secrets, tags):
        tasks_in_account = account.arn("ecs", "*")
        statements = [
            # GetAuthorizationToken has no resource-level permissions: AWS only accepts "*".
            allow("EcrLoginNoResourceLevelPermissions", ["ecr:GetAuthorizationToken"], ["*"]),
            allow(
                "PullServiceImages",
                ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
                [args["image_repository_arn"]],
            ),
            allow(
                "WriteTaskLogs",
                ["logs:CreateLogStream", "logs:PutLogEvents"],
                [log_group.arn.apply(lambda a: f"{a}:*")],
            ),
        ]
        statements += secret_read_statements(secrets, account, "Task")
        execution_role = iam.role(
            f"{name}-execution-role",
            trust=trust_policy("ecs-tasks.amazonaws.com", account, tasks_in_account),
            statements=statements,
            permissions_boundary=args.get("permissions_boundary"),
            path=args.get("role_path", "/"),
            tags=tags,
            parent=self,
        )
        # The application's own role: no permissions until the application needs some.
        task_role = iam.role(
            f"{name}-task-role",
            trust=trust_policy("ecs-tasks.amazonaws.com", account, tasks_in_account),
            statements=[],
            permissions_boundary=args.get("permissions_boundary"),
            path=args.get("role_path", "/"),
            tags=tags,
            parent=self,
        )
        return execution_role, task_role

    def _listener_rules(self, name, tags) -> list[aws.lb.ListenerRule]:
        """ECS's own blue/green moves traffic by rewriting the weights of a production and a test
        listener rule, each forwarding to both target groups (100 and 0 to start): after the first
        deploy the weights are ECS's, so `pulumi up` ignores them.
        https://docs.aws.amazon.com/AmazonECS/latest/developerguide/alb-resources-for-blue-green.html"""
        weighted: list[aws.lb.ListenerRuleActionArgsDict] = [
            {
                "type": "forward",
                "forward": {
                    "target_groups": [
                        {"arn": self.target_groups[0].arn, "weight": 100},
                        {"arn": self.target_groups[1].arn, "weight": 0},
                    ]
                },
            }
        ]
        return [
            aws.lb.ListenerRule(
                f"{name}-{route}-rule",
                listener_arn=listener.arn,
                priority=1,
                conditions=[{"path_pattern": {"values": ["/*"]}}],
                actions=weighted,
                tags=tags,
                opts=pulumi.ResourceOptions(parent=self, ignore_changes=["actions"]),
            )
            for route, listener in (("production", self.prod_listener), ("test", self.test_listener))
            if listener is not None  # both exist whenever rules are made (two target groups)
        ]

    def _infrastructure_role(self, name, account, args, tags) -> iam.ScopedRole:
        """The role ECS moves traffic with on its own blue/green: the two target groups and rules,
        nothing else (AmazonECSInfrastructureRolePolicyForLoadBalancers, scoped to this service).
        https://docs.aws.amazon.com/AmazonECS/latest/developerguide/AmazonECSInfrastructureRolePolicyForLoadBalancers.html"""
        return iam.role(
            f"{name}-infrastructure-role",
            trust=trust_policy("ecs.amazonaws.com", account, account.arn("ecs", "*")),
            statements=[
                # The Describe calls have no resource-level permissions: AWS only accepts "*".
                allow(
                    "ReadLoadBalancersNoResourceLevelPermissions",
                    [
                        "elasticloadbalancing:DescribeListeners",
                        "elasticloadbalancing:DescribeRules",
                        "elasticloadbalancing:DescribeTargetGroups",
                        "elasticloadbalancing:DescribeTargetHealth",
                    ],
                    ["*"],
                ),
                allow(
                    "RegisterTasksInTheTwoTargetGroups",
                    ["elasticloadbalancing:DeregisterTargets", "elasticloadbalancing:RegisterTargets"],
                    [group.arn for group in self.target_groups],
                ),
                allow(
                    "ShiftTrafficOnTheTwoRules",
                    ["elasticloadbalancing:ModifyRule"],
                    [r.arn for r in self.listener_rules],
                ),
            ],
            permissions_boundary=args.get("permissions_boundary"),
            path=args.get("role_path", "/"),
            tags=tags,
            parent=self,
        )

    def _pre_production_check(self, name, args, vpc, task_sg, contract, tags):
        """The lifecycle hook that asks every new task for the health path, from inside the VPC,
        before ECS moves production traffic to it (components/green_check.py), and the role ECS
        invokes it with. https://docs.aws.amazon.com/AmazonECS/latest/developerguide/lambda-lifecycle-hooks.html"""
        account = args.get("account") or AwsAccount.current()
        child = pulumi.ResourceOptions(parent=self)
        cluster, service = args["cluster"], args["service"]
        function_name = naming.physical(naming.LAMBDA_FUNCTION, name, "check")
        check_sg = aws.ec2.SecurityGroup(
            f"{name}-check-sg", description="Pre-production check: reaches the tasks only", vpc_id=vpc.vpc_id,
            tags=tags, opts=child,
        )  # fmt: skip
        self._tcp_rule(
            "ingress",
            f"{name}-tasks-from-check",
            task_sg.id,
            contract.port,
            "from the pre-production check",
            check_sg.id,
            tags,
        )
        self._tcp_rule(
            "egress",
            f"{name}-check-to-tasks",
            check_sg.id,
            contract.port,
            "to the tasks' health path",
            task_sg.id,
            tags,
        )
        self._tcp_rule(
            "egress",
            f"{name}-check-to-https",
            check_sg.id,
            443,
            "the ECS API, through the NAT gateway",
            "0.0.0.0/0",
            tags,
        )
        logs = aws.cloudwatch.LogGroup(
            f"{name}-check-logs",
            name=f"/aws/lambda/{function_name}",
            retention_in_days=args.get("log_retention_days", 30),
            kms_key_id=args.get("log_kms_key_arn"),
            tags=tags,
            opts=child,
        )
        function_arn = account.arn("lambda", f"function:{function_name}")
        role = iam.role(
            f"{name}-check-role",
            trust=trust_policy("lambda.amazonaws.com", account, function_arn),
            statements=[
                allow(
                    "WriteCheckLogs",
                    ["logs:CreateLogStream", "logs:PutLogEvents"],
                    [logs.arn.apply(lambda a: f"{a}:*")],
                ),
                # A function in a VPC: Lambda manages its network interfaces with this role. In this
                # account and region; not narrowed by an ec2:Vpc condition, which Lambda's check of
                # the role at create time does not carry (policy/rules/iam.py LAMBDA_NETWORK_ACTIONS).
                # The Describe calls have no resource-level permissions.
                # https://docs.aws.amazon.com/lambda/latest/dg/configuration-vpc.html#configuration-vpc-permissions
                allow(
                    "FunctionNetworkInterfaces",
                    [
                        "ec2:AssignPrivateIpAddresses",
                        "ec2:CreateNetworkInterface",
                        "ec2:DeleteNetworkInterface",
                        "ec2:UnassignPrivateIpAddresses",
                    ],
                    [
                        account.arn("ec2", "network-interface/*"),
                        account.arn("ec2", "subnet/*"),
                        account.arn("ec2", "security-group/*"),
                    ],
                ),
                allow(
                    "DescribeNetworkNoResourceLevelPermissions",
                    ["ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets"],
                    ["*"],
                ),
                allow(
                    "ReadTheNewRevision",
                    ["ecs:DescribeServiceRevisions"],
                    [
                        account.arn("ecs", f"service/{cluster}/{service}"),
                        account.arn("ecs", f"service-revision/{cluster}/{service}/*"),
                    ],
                ),
                allow("DescribeTheServicesTasks", ["ecs:DescribeTasks"], [account.arn("ecs", f"task/{cluster}/*")]),
                allow(
                    "ListTheServicesTasksInThisClusterOnly",
                    ["ecs:ListTasks"],
                    ["*"],
                    condition={"ArnEquals": {"ecs:cluster": account.arn("ecs", f"cluster/{cluster}")}},
                ),
            ],
            permissions_boundary=args.get("permissions_boundary"),
            path=args.get("role_path", "/"),
            tags=tags,
            parent=self,
        )
        function = aws.lambda_.Function(
            f"{name}-check",
            name=function_name,
            description=f"{service}: every new task answers its health path before production traffic moves",
            runtime="python3.12",
            handler="index.handler",
            code=pulumi.AssetArchive({"index.py": pulumi.FileAsset(green_check.__file__)}),
            role=role.arn,
            timeout=60,
            memory_size=128,
            vpc_config={"subnet_ids": vpc.private_subnet_ids, "security_group_ids": [check_sg.id]},
            environment={
                "variables": {
                    "CLUSTER": cluster,
                    "SERVICE": service,
                    "CONTAINER_PORT": str(contract.port),
                    "HEALTH_PATH": args.get("health_check_path", "/health"),
                    "CHECK_TIMEOUT_SECONDS": str(args.get("check_timeout_seconds", 120)),
                }
            },
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[logs]),
        )
        invoker = iam.role(
            f"{name}-check-invoker-role",
            trust=trust_policy("ecs.amazonaws.com", account, account.arn("ecs", "*")),
            statements=[allow("InvokeThePreProductionCheck", ["lambda:InvokeFunction"], [function.arn])],
            permissions_boundary=args.get("permissions_boundary"),
            path=args.get("role_path", "/"),
            tags=tags,
            parent=self,
        )
        self.check_roles = [role, invoker]
        return function, invoker

    def _service(self, name, args, vpc, task_sg, contract, tags) -> aws.ecs.Service:
        native, live = self.strategy != "rolling", self.live
        # Switching a running service from rolling to ECS's own blue/green takes two updates: first the
        # advanced configuration with a rolling deployment, then the strategy (AWS's order,
        # https://docs.aws.amazon.com/AmazonECS/latest/developerguide/update-rolling-to-bluegreen.html).
        self.switching = native and live is not None and not live.advanced
        if live is not None:
            self._refuse_unsafe_update(args, live, contract)
        # The pipeline owns the image: the task definition is `pulumi up`'s only when this run
        # registered one (ignore_changes has no effect when the service is created). On ECS's own
        # blue/green the two target groups swap roles on every deployment. Autoscaling owns the count.
        ignored = [] if self.task_definition is not None and live is not None else ["taskDefinition"]
        if native and not self.switching:
            ignored.append("loadBalancers")
        if args.get("autoscaling"):
            ignored.append("desiredCount")
        alarms = {"alarm_names": self.alarm_names, "enable": True, "rollback": True} if self.alarm_names else None
        settings: dict = {
            # Said, not left to the default: a switch back from blue/green must send it.
            "deployment_configuration": {"strategy": "ROLLING"},
            "deployment_circuit_breaker": {"enable": True, "rollback": True},
            "alarms": alarms,
            "deployment_minimum_healthy_percent": 100,
            "deployment_maximum_percent": 200,
        }
        load_balancer: aws.ecs.ServiceLoadBalancerArgsDict = {
            "target_group_arn": self.target_groups[0].arn,
            "container_name": contract.name,
            "container_port": contract.port,
        }
        if native:
            traffic = {**DEFAULT_TRAFFIC, **dict(args.get("traffic") or {})}
            infrastructure = self._infrastructure_role(name, args.get("account") or AwsAccount.current(), args, tags)
            self.infrastructure_role = infrastructure
            load_balancer["advanced_configuration"] = {
                "alternate_target_group_arn": self.target_groups[1].arn,
                "production_listener_rule": self.listener_rules[0].arn,
                "test_listener_rule": self.listener_rules[1].arn,
                "role_arn": infrastructure.arn,
            }
            check, invoker = self._pre_production_check(name, args, vpc, task_sg, contract, tags)
            if self.switching:
                pulumi.log.warn(
                    f"service {args['service']} deploys rolling now: this `pulumi up` adds the second target group "
                    f"and listener rules with a rolling deployment; run `pulumi up` again to switch to {self.strategy} "
                    "(AWS's order for the switch)",
                    resource=self,
                )
            else:
                configuration = deployment_configuration(self.strategy, traffic)
                configuration["lifecycle_hooks"] = [
                    {"hook_target_arn": check.arn, "role_arn": invoker.arn, "lifecycle_stages": [PRE_PRODUCTION_STAGE]}
                ]
                # The circuit breaker watches blue/green deployments too (deployment-failure-detection.html);
                # left out, the provider would send it disabled.
                settings = {
                    "alarms": alarms,
                    "deployment_circuit_breaker": settings["deployment_circuit_breaker"],
                    "deployment_configuration": configuration,
                }
            if live is not None and live.advanced:
                # ECS keeps the rules it was given: a rule replaced under it (a certificate added or
                # removed moves production to another listener) would leave it pointing at a deleted one.
                load_balancer["target_group_arn"] = self._unmoved(args, live, self.target_groups[0].arn)
        elif live is not None and live.advanced:
            # Back to rolling: only while the blue group carries production (after an odd number of
            # blue/green deployments the tasks sit in green, which this change deletes).
            load_balancer["target_group_arn"] = self._blue_is_live(args, live, self.target_groups[0].arn)
        return aws.ecs.Service(
            f"{name}-service",
            name=args["service"],
            cluster=self.cluster.arn,
            task_definition=self.task_definition_arn,
            # With autoscaling, the service starts at its minimum and the count is the scaler's.
            desired_count=(args.get("autoscaling") or {}).get("min", args.get("desired_count", 2)),
            launch_type="FARGATE",
            platform_version="LATEST",
            network_configuration={
                "subnets": vpc.private_subnet_ids,
                "security_groups": [task_sg.id],
                "assign_public_ip": False,
            },
            load_balancers=[load_balancer],
            deployment_controller={"type": "ECS"},
            health_check_grace_period_seconds=30,
            propagate_tags="SERVICE",
            enable_ecs_managed_tags=True,
            wait_for_steady_state=False,
            # Set after the user's tags: `pulumi up` finds the service by it (see `ownership`).
            tags={
                **tags,
                ownership.SERVICE_TAG: f"{args['cluster']}/{args['service']}",
                ownership.OWNER_TAG: ownership.owner(name),
            },
            opts=pulumi.ResourceOptions(
                parent=self, ignore_changes=ignored, depends_on=[self.prod_listener, *self.listener_rules]
            ),
            **settings,
        )

    def _refuse_unsafe_update(self, args, live: ownership.LiveService, contract: ContainerContract) -> None:
        where = _where(args)
        if live.controller != "ECS":
            raise ServiceStateError(
                f"{where} is on the {live.controller} deployment controller (an earlier ecs-cicd release created "
                "blue/green services on CodeDeploy); this release deploys the services it creates with ECS itself. "
                "Move it once, in AWS's order (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/"
                "migrate-codedeploy-to-ecs-bluegreen.html): "
                "let any CodeDeploy deployment finish; make sure the production listener forwards to the blue target "
                "group (if it forwards to green, deploy once more through CodeDeploy); then `aws ecs update-service "
                f"--cluster {args['cluster']} --service {args['service']} --deployment-controller type=ECS`, and run "
                "`pulumi up` again"
            )
        desired = "ROLLING" if self.strategy == "rolling" or self.switching else self.strategy.upper().replace("-", "_")
        if desired != live.strategy and live.deployments > 1:
            raise ServiceStateError(
                f"{where} is in the middle of a deployment ({live.deployments} in flight): ECS changes a service's "
                f"deployment strategy ({live.strategy} -> {desired}) only between deployments; wait for it to "
                "finish and run `pulumi up` again"
            )
        ports = {lb.container_port for lb in live.load_balancers}
        if ports and ports != {contract.port}:
            # A new port is a new target group, and the listener forwards to it at once, minutes
            # before the new tasks register in it: production would answer 503 in between.
            raise ServiceStateError(
                f"{where} serves on port {', '.join(map(str, sorted(ports)))}: ecs-cicd:service.port {contract.port} "
                "would replace its target group, and the load balancer would send production to the new, empty "
                "group before the new tasks register in it. Keep the port, or create the service anew under another "
                "ecs-cicd:service.name and move its domain name once the new one is healthy"
            )
        if not (self.strategy != "rolling" and live.advanced):
            return
        moved = [
            f"ecs-cicd:service.container {lb.container_name} -> {contract.name}"
            for lb in live.load_balancers
            if lb.container_name != contract.name
        ]
        if moved:
            raise ServiceStateError(
                f"{where} deploys {self.strategy}, and ECS keeps its load balancer wiring between deployments, so "
                f"`pulumi up` cannot move it ({', '.join(moved)}). Do it in three steps: set "
                "ecs-cicd:deploy.strategy to rolling and run `pulumi up`; change the container and run "
                f"`pulumi up`; set the strategy back to {self.strategy} and run `pulumi up` twice"
            )

    def _unmoved(self, args, live: ownership.LiveService, target_group_arn: pulumi.Output) -> pulumi.Output:
        """`target_group_arn`, once the production listener rule ECS uses is on this program's
        production listener (a rule's ARN is its listener's, as `listener-rule/.../<rule id>`)."""
        where = _where(args)
        used = {lb.production_listener_rule for lb in live.load_balancers if lb.production_listener_rule}

        def listener_of(rule_arn: str) -> str:
            return rule_arn.rsplit("/", 1)[0].replace(":listener-rule/", ":listener/")

        def check(listener_arn: str, arn: str) -> str:
            if used and {listener_of(rule) for rule in used} != {listener_arn}:
                raise ServiceStateError(
                    f"{where} deploys {self.strategy} with production listener rule {', '.join(sorted(used))}, which "
                    "this change replaces (ecs-cicd:service.certificateArn added or removed moves production to "
                    "another listener); ECS keeps the rules it was given. Do it in three steps: set "
                    "ecs-cicd:deploy.strategy to rolling and run `pulumi up`; change the certificate and run "
                    f"`pulumi up`; set the strategy back to {self.strategy} and run `pulumi up` twice"
                )
            return arn

        return pulumi.Output.all(self.prod_listener.arn, target_group_arn).apply(lambda pair: check(*pair))

    def _blue_is_live(self, args, live: ownership.LiveService, blue_arn: pulumi.Output) -> pulumi.Output:
        where = _where(args)
        serving = {lb.target_group_arn for lb in live.load_balancers}

        def check(arn: str) -> str:
            if serving and serving != {arn}:
                raise ServiceStateError(
                    f"{where} runs in its green target group ({', '.join(sorted(serving))}) after its last "
                    f"{live.strategy.lower()} deployment; ecs-cicd:deploy.strategy rolling would delete that group "
                    "and the listener rules that send production to it. Release once more through the pipeline "
                    "(production moves back to blue), then run `pulumi up` again"
                )
            return arn

        return blue_arn.apply(check)

    def _autoscaling(self, name, args, scaling, tags) -> None:
        child = pulumi.ResourceOptions(parent=self)
        target = aws.appautoscaling.Target(
            f"{name}-scaling-target",
            service_namespace="ecs",
            scalable_dimension="ecs:service:DesiredCount",
            resource_id=pulumi.Output.concat("service/", args["cluster"], "/", self.service.name),
            min_capacity=scaling["min"],
            max_capacity=scaling["max"],
            tags=tags,
            opts=child,
        )
        aws.appautoscaling.Policy(
            f"{name}-scaling-cpu",
            policy_type="TargetTrackingScaling",
            service_namespace=target.service_namespace,
            scalable_dimension=target.scalable_dimension,
            resource_id=target.resource_id,
            target_tracking_scaling_policy_configuration={
                "target_value": scaling.get("target_cpu_percent", 60),
                "predefined_metric_specification": {"predefined_metric_type": "ECSServiceAverageCPUUtilization"},
                "scale_in_cooldown": 120,
                "scale_out_cooldown": 60,
            },
            opts=child,
        )


def _where(args: Mapping) -> str:
    """How a refusal names the service it is about."""
    return f"service {args['service']} in cluster {args['cluster']}"


def deployment_configuration(strategy: str, traffic: Mapping[str, float]) -> dict:
    """ECS's own blue/green, canary or linear deployment, as the service's deploymentConfiguration.
    https://docs.aws.amazon.com/AmazonECS/latest/developerguide/deployment-type-blue-green.html"""
    configuration: dict = {
        "strategy": strategy.upper().replace("-", "_"),
        "bake_time_in_minutes": str(traffic["bake_time_minutes"]),
    }
    if strategy == "canary":
        configuration["canary_configuration"] = {
            "canary_percent": traffic["canary_percent"],
            "canary_bake_time_in_minutes": str(traffic["canary_bake_time_minutes"]),
        }
    if strategy == "linear":
        configuration["linear_configuration"] = {
            "step_percent": traffic["linear_step_percent"],
            "step_bake_time_in_minutes": str(traffic["linear_step_bake_time_minutes"]),
        }
    return configuration
