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

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Optional, TypedDict

import pulumi
import pulumi_aws as aws
import pulumi_awsx as awsx

from . import green_check, iam, naming
from .account import AwsAccount
from .args import known_keys, no_plaintext_secrets, secret_refs
from .contract import ContainerContract
from .iam import allow, secret_read_statements, trust_policy
from .images import BOOTSTRAP_IMAGE, BOOTSTRAP_PORT_VARIABLE
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
# The tag on a created service holding the hash of the task definition config `pulumi up` last
# rolled out: `pulumi up` compares it with the stack's config to know whether to roll out again.
CONFIG_TAG = "ecs-cicd:task-config"
HTTPS_PORT, HTTP_PORT, TEST_PORT = 443, 80, 8443


class EcsServiceArgs(TypedDict, total=False):
    cluster: str
    """Name of the cluster to create (or, with `existing_cluster`, to join). Required."""
    existing_cluster: bool
    """Run the service in the existing cluster `cluster` instead of creating one. Default False."""
    service: str
    """Name of the service to create. Required."""
    container: ContainerContract
    """The container name and port. Required."""
    image_repository_arn: pulumi.Input[str]
    """ECR repository the pipeline deploys from; the execution role may pull from it only. Required."""
    bootstrap_image: str
    """Image to run until the pipeline's first deploy. It must answer the health check path on the
    container port. Default: traefik/whoami, pinned, told the port through its environment."""
    cpu: int
    """Fargate CPU units. Default 256."""
    memory: int
    """Fargate memory in MiB. Default 512."""
    desired_count: int
    """Tasks to run. Default 2."""
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
    blue_green: bool
    """Two target groups, a test listener, and the CODE_DEPLOY deployment controller (for a
    `CodeDeployBlueGreen` deploy). Not with `strategy`."""
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
    log_kms_key_arn: pulumi.Input[str]
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


@dataclass(frozen=True)
class ExistingCluster:
    """A cluster made elsewhere that a created service joins: looked up, never managed."""

    name: pulumi.Output[str]
    arn: pulumi.Output[str]

    @classmethod
    def lookup(cls, name: str, parent: pulumi.Resource) -> "ExistingCluster":
        found = aws.ecs.get_cluster_output(cluster_name=name, opts=pulumi.InvokeOutputOptions(parent=parent))
        return cls(name=found.cluster_name, arn=found.arn)


class EcsService(pulumi.ComponentResource):
    """A Fargate service behind an ALB, ready for the pipeline to deploy into."""

    cluster: "aws.ecs.Cluster | ExistingCluster"
    service: aws.ecs.Service
    task_definition: aws.ecs.TaskDefinition
    execution_role: iam.ScopedRole
    task_role: iam.ScopedRole
    target_groups: list[aws.lb.TargetGroup]
    prod_listener: aws.lb.Listener
    test_listener: Optional[aws.lb.Listener]
    alarm_names: list[pulumi.Output[str]]
    health_url: Optional[pulumi.Output[str]]
    """Where the service answers its health check over a name its certificate covers (None with a
    certificate but no `domain_name`)."""
    load_balancer_dns_name: pulumi.Output[str]
    taskdef_template: pulumi.Output[str]

    def __init__(self, name: str, args: EcsServiceArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("cicd:index:EcsService", name, None, opts)
        known_keys("EcsService", name, args, EcsServiceArgs)
        for required in ("cluster", "service", "container", "image_repository_arn"):
            if required not in args:
                raise ValueError(f"EcsService {name}: {required} is required")

        contract: ContainerContract = args["container"]
        account = args.get("account") or AwsAccount.current()
        tags = dict(args.get("tags", {}))
        strategy = args.get("strategy", "rolling")
        if strategy not in ECS_STRATEGIES:
            raise ValueError(
                f"EcsService {name}: strategy={strategy!r} is not allowed; allowed: {', '.join(ECS_STRATEGIES)}"
            )
        if args.get("blue_green") and strategy != "rolling":
            raise ValueError(
                f"EcsService {name}: blue_green (CodeDeploy) and strategy={strategy!r} (ECS) exclude each other"
            )
        self.strategy = strategy
        native = strategy != "rolling"
        blue_green = bool(args.get("blue_green")) or native  # two target groups and a test listener
        child = pulumi.ResourceOptions(parent=self)

        vpc = awsx.ec2.Vpc(
            f"{name}-vpc",
            number_of_availability_zones=args.get("availability_zones", 2),
            nat_gateways={"strategy": args.get("nat_gateways", "Single")},
            tags=tags,
            opts=child,
        )
        alb_sg, task_sg = self._security_groups(
            name, vpc, contract, bool(args.get("certificate_arn")), blue_green, tags
        )
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
        colours = ["blue", "green"] if blue_green else ["blue"]
        self.target_groups = [
            self._target_group(naming.logical(naming.TARGET_GROUP, name, c), vpc, contract, args, tags) for c in colours
        ]
        self.prod_listener, self.test_listener = self._listeners(
            name, alb, args.get("certificate_arn"), blue_green and not native, blue_green, tags
        )
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
            name=f"/ecs/{args['cluster']}/{args['service']}",
            retention_in_days=args.get("log_retention_days", 30),
            kms_key_id=args.get("log_kms_key_arn"),
            tags=tags,
            opts=child,
        )
        secrets = list(secret_refs("EcsService", name, args.get("secrets", ()), "service"))
        no_plaintext_secrets("EcsService", name, args.get("environment", {}), "service")
        self.execution_role, self.task_role = self._roles(name, account, args, log_group, secrets, tags)

        bootstrap = args.get("bootstrap_image", BOOTSTRAP_IMAGE)
        user_environment = dict(args.get("environment", {}))
        family = args["service"]
        cpu, memory = str(args.get("cpu", 256)), str(args.get("memory", 512))
        # What `pulumi up` owns of the task definition: everything but the image (the pipeline's).
        self.config_hash = task_config_hash(
            {
                "family": family,
                "cpu": cpu,
                "memory": memory,
                "container": [contract.name, contract.port],
                "environment": user_environment,
                "secrets": [[s.name, s.reference] for s in secrets],
                "log_group": f"/ecs/{args['cluster']}/{args['service']}",
                "roles": [args.get("role_path", "/"), f"{name}-execution-role", f"{name}-task-role"],
            }
        )
        running = running_revision(args["cluster"], args["service"], contract.name, tags, parent=self)
        image = (running and running.image) or bootstrap
        environment = dict(user_environment)
        if image == BOOTSTRAP_IMAGE:  # it must answer the health check on the contract's port
            environment[BOOTSTRAP_PORT_VARIABLE] = str(contract.port)
        container_definitions = pulumi.Output.all(log_group.name, account.region).apply(
            lambda v: [
                contract.container_definition(
                    image,
                    log_group=v[0],
                    region=v[1],
                    environment=environment,
                    secrets=[(s.name, s.reference) for s in secrets],
                )
            ]
        )
        # One revision per config, named after it: a config change registers a new one (with the
        # image the service runs), and nothing else ever changes it, the image included. Old
        # revisions stay registered (skip_destroy): a rollback may need them.
        self.task_definition = aws.ecs.TaskDefinition(
            f"{name}-task-{self.config_hash[:8]}",
            family=family,
            cpu=cpu,
            memory=memory,
            network_mode="awsvpc",
            requires_compatibilities=["FARGATE"],
            runtime_platform={"operating_system_family": "LINUX", "cpu_architecture": "X86_64"},
            execution_role_arn=self.execution_role.arn,
            task_role_arn=self.task_role.arn,
            container_definitions=container_definitions.apply(json.dumps),
            skip_destroy=True,
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["containerDefinitions"]),
        )
        # The service keeps what it runs unless the config changed since `pulumi up` last applied it.
        self.config_applied = running is not None and running.config_hash == self.config_hash
        # Rendered from the very inputs of the task definition above: one source for both.
        self.taskdef_template = pulumi.Output.all(
            container_definitions, self.execution_role.arn, self.task_role.arn
        ).apply(
            lambda v: contract.taskdef_template(
                {
                    "family": family,
                    "cpu": cpu,
                    "memory": memory,
                    "networkMode": "awsvpc",
                    "requiresCompatibilities": ["FARGATE"],
                    "executionRoleArn": v[1],
                    "taskRoleArn": v[2],
                    "containerDefinitions": v[0],
                }
            )
        )

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
        self.service = self._service(name, args, vpc, task_sg, contract, blue_green, tags)
        if args.get("autoscaling"):
            self._autoscaling(name, args, args["autoscaling"], tags)

        self.load_balancer_dns_name = alb.dns_name
        domain = args.get("domain_name")
        if args.get("hosted_zone_id"):
            # An alias to the load balancer: its canonical zone, not the domain's (Route 53 API, AliasTarget).
            aws.route53.Record(
                f"{name}-dns",
                zone_id=args["hosted_zone_id"],
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

    def _security_groups(self, name, vpc, contract, https: bool, blue_green: bool, tags):
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
            aws.vpc.SecurityGroupIngressRule(
                f"{name}-alb-from-internet-{port}",
                security_group_id=alb_sg.id,
                cidr_ipv4="0.0.0.0/0",
                ip_protocol="tcp",
                from_port=port,
                to_port=port,
                description="public listener",
                tags=tags,
                opts=child,
            )
        aws.vpc.SecurityGroupEgressRule(
            f"{name}-alb-to-tasks",
            security_group_id=alb_sg.id,
            referenced_security_group_id=task_sg.id,
            ip_protocol="tcp",
            from_port=contract.port,
            to_port=contract.port,
            description="to the tasks only",
            tags=tags,
            opts=child,
        )
        aws.vpc.SecurityGroupIngressRule(
            f"{name}-tasks-from-alb",
            security_group_id=task_sg.id,
            referenced_security_group_id=alb_sg.id,
            ip_protocol="tcp",
            from_port=contract.port,
            to_port=contract.port,
            description="from the load balancer only",
            tags=tags,
            opts=child,
        )
        aws.vpc.SecurityGroupEgressRule(
            f"{name}-tasks-to-https",
            security_group_id=task_sg.id,
            cidr_ipv4="0.0.0.0/0",
            ip_protocol="tcp",
            from_port=443,
            to_port=443,
            description="ECR, logs and AWS APIs, through the NAT gateway",
            tags=tags,
            opts=child,
        )
        return alb_sg, task_sg

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

    def _listeners(self, name, alb, certificate_arn, codedeploy: bool, two_groups: bool, tags):
        # On CodeDeploy blue/green, CodeDeploy flips which target group a listener forwards to: not
        # ours to revert. (ECS's own blue/green moves traffic with listener rules instead.)
        owned_by_codedeploy = pulumi.ResourceOptions(
            parent=self, ignore_changes=["defaultActions"] if codedeploy else None
        )
        forward_blue = [{"type": "forward", "target_group_arn": self.target_groups[0].arn}]
        if certificate_arn:
            aws.lb.Listener(
                f"{name}-http-redirect",
                load_balancer_arn=alb.arn,
                port=HTTP_PORT,
                protocol="HTTP",
                default_actions=[
                    {"type": "redirect", "redirect": {"port": "443", "protocol": "HTTPS", "status_code": "HTTP_301"}}
                ],
                tags=tags,
                opts=pulumi.ResourceOptions(parent=self),
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
                opts=owned_by_codedeploy,
            )
        else:
            prod = aws.lb.Listener(
                f"{name}-http",
                load_balancer_arn=alb.arn,
                port=HTTP_PORT,
                protocol="HTTP",
                default_actions=forward_blue,
                tags=tags,
                opts=owned_by_codedeploy,
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
                opts=owned_by_codedeploy,
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
        weighted = [
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
        aws.vpc.SecurityGroupIngressRule(
            f"{name}-tasks-from-check",
            security_group_id=task_sg.id,
            referenced_security_group_id=check_sg.id,
            ip_protocol="tcp",
            from_port=contract.port,
            to_port=contract.port,
            description="from the pre-production check",
            tags=tags,
            opts=child,
        )
        aws.vpc.SecurityGroupEgressRule(
            f"{name}-check-to-tasks",
            security_group_id=check_sg.id,
            referenced_security_group_id=task_sg.id,
            ip_protocol="tcp",
            from_port=contract.port,
            to_port=contract.port,
            description="to the tasks' health path",
            tags=tags,
            opts=child,
        )
        aws.vpc.SecurityGroupEgressRule(
            f"{name}-check-to-https",
            security_group_id=check_sg.id,
            cidr_ipv4="0.0.0.0/0",
            ip_protocol="tcp",
            from_port=443,
            to_port=443,
            description="the ECS API, through the NAT gateway",
            tags=tags,
            opts=child,
        )
        logs = aws.cloudwatch.LogGroup(
            f"{name}-check-logs",
            name=f"/aws/lambda/{function_name}",
            retention_in_days=args.get("log_retention_days", 30),
            kms_key_id=args.get("log_kms_key_arn"),
            tags=tags,
            opts=child,
        )
        vpc_arn = vpc.vpc_id.apply(lambda v: account.arn("ec2", f"vpc/{v}"))
        in_this_vpc = vpc_arn.apply(lambda arn: {"ArnEquals": {"ec2:Vpc": arn}})
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
                # A function in a VPC: its network interfaces, in this VPC only. The Describe calls
                # have no resource-level permissions.
                # https://docs.aws.amazon.com/lambda/latest/dg/configuration-vpc.html#configuration-vpc-permissions
                allow(
                    "NetworkInterfacesInThisVpc",
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
                    condition=in_this_vpc,
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

    def _service(self, name, args, vpc, task_sg, contract, blue_green, tags) -> aws.ecs.Service:
        # The pipeline owns the image (and on CodeDeploy blue/green the task sets and load balancer
        # wiring): the task definition is left alone unless the config changed since `pulumi up`
        # last applied it. Autoscaling owns the desired count.
        codedeploy = bool(args.get("blue_green"))
        native = self.strategy != "rolling"
        ignored = ["taskDefinition"] if codedeploy or self.config_applied else []
        if codedeploy or native:
            ignored += ["loadBalancers"]  # the two target groups swap roles on every deployment
        if args.get("autoscaling"):
            ignored.append("desiredCount")
        alarms = {"alarm_names": self.alarm_names, "enable": True, "rollback": True} if self.alarm_names else None
        rolling = {
            "deployment_circuit_breaker": {"enable": True, "rollback": True},
            "alarms": alarms,
            "deployment_minimum_healthy_percent": 100,
            "deployment_maximum_percent": 200,
        }
        load_balancer: dict = {
            "target_group_arn": self.target_groups[0].arn,
            "container_name": contract.name,
            "container_port": contract.port,
        }
        settings: dict = {} if codedeploy else rolling
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
            configuration = deployment_configuration(self.strategy, traffic)
            check, invoker = self._pre_production_check(name, args, vpc, task_sg, contract, tags)
            configuration["lifecycle_hooks"] = [
                {
                    "hook_target_arn": check.arn,
                    "role_arn": invoker.arn,
                    "lifecycle_stages": [PRE_PRODUCTION_STAGE],
                }
            ]
            settings = {"alarms": alarms, "deployment_configuration": configuration}
        return aws.ecs.Service(
            f"{name}-service",
            name=args["service"],
            cluster=self.cluster.arn,
            task_definition=self.task_definition.arn,
            desired_count=args.get("desired_count", 2),
            launch_type="FARGATE",
            platform_version="LATEST",
            network_configuration={
                "subnets": vpc.private_subnet_ids,
                "security_groups": [task_sg.id],
                "assign_public_ip": False,
            },
            load_balancers=[load_balancer],
            deployment_controller={"type": "CODE_DEPLOY" if codedeploy else "ECS"},
            health_check_grace_period_seconds=30,
            propagate_tags="SERVICE",
            enable_ecs_managed_tags=True,
            wait_for_steady_state=False,
            # The config the service's task definition was last rolled out with (see `running_revision`).
            tags={**tags, CONFIG_TAG: self.config_hash},
            opts=pulumi.ResourceOptions(
                parent=self, ignore_changes=ignored, depends_on=[self.prod_listener, *self.listener_rules]
            ),
            **settings,
        )

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


def task_config_hash(config: Mapping[str, object]) -> str:
    """A short, stable name for a task definition config (everything but the image)."""
    return hashlib.sha256(json.dumps(config, sort_keys=True, separators=(",", ":")).encode()).hexdigest()[:16]


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


@dataclass(frozen=True)
class RunningRevision:
    """What a created service runs, as `pulumi up` finds it."""

    task_definition: str
    image: Optional[str]
    """The image of the service's container: the one the pipeline deployed last."""
    config_hash: Optional[str]
    """The config `pulumi up` last rolled out (CONFIG_TAG), None before this tag existed."""


def running_revision(
    cluster: str, service: str, container: str, tags: Mapping[str, str], parent: pulumi.Resource
) -> Optional[RunningRevision]:
    """The service's running revision, or None when it does not exist yet (the first `pulumi up`).

    The Resource Groups Tagging API finds it by the tags every created service has carried (project,
    environment, service): it answers with an empty list, not an error, when nothing matches, so
    the first `pulumi up` and every later one run the same program. Read when the program runs, in
    a preview too, so the plan shows exactly what `pulumi up` would do.
    https://docs.aws.amazon.com/resourcegroupstagging/latest/APIReference/API_GetResources.html"""
    invoke = pulumi.InvokeOptions(parent=parent)
    keys = [k for k in ("project", "environment", "service") if tags.get(k)]
    found = aws.resourcegroupstaggingapi.get_resources(
        resource_type_filters=["ecs:service"],
        tag_filters=[{"key": key, "values": [tags[key]]} for key in keys],
        opts=invoke,
    )
    mappings = found.resource_tag_mapping_lists or []
    arns = [m.resource_arn for m in mappings if str(m.resource_arn).endswith((f":service/{cluster}/{service}",))]
    if not arns:
        return None
    described = aws.ecs.get_service(cluster_arn=cluster, service_name=service, opts=invoke)
    definition = aws.ecs.get_task_definition(task_definition=described.task_definition, opts=invoke)
    containers = json.loads(definition.container_definitions or "[]")
    image = next((c.get("image") for c in containers if c.get("name") == container), None)
    return RunningRevision(described.task_definition, image, (described.tags or {}).get(CONFIG_TAG))
