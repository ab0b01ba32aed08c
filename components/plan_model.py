"""What `make plan` reports, as data: one model (`--format json`, schemas/plan.schema.json) that the
terminal and Markdown views render. Built from an offline evaluation (`StackRun`) and the stack's
settings; nothing here calls AWS.
"""

import json
from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any, Optional

from .settings import ServicePipeline, Settings, traffic_shift_minutes
from .testing import RecordedResource, StackRun

FORMAT_VERSION = 1
PIPELINE_TYPE = "aws:codepipeline/pipeline:Pipeline"
PROJECT_TYPE = "aws:codebuild/project:Project"
VPC_COMPONENT = "awsx:ec2:Vpc"

# The settings that decide what a resource does, per type: (label, input path).
DECIDING: dict[str, list[tuple[str, str]]] = {
    PIPELINE_TYPE: [("type", "pipelineType"), ("mode", "executionMode")],
    "aws:codebuild/project:Project": [
        ("compute", "environment.computeType"),
        ("image", "environment.image"),
        ("timeout minutes", "buildTimeout"),
        ("privileged", "environment.privilegedMode"),
    ],
    "aws:ecr/repository:Repository": [("name", "name"), ("tags", "imageTagMutability")],
    "aws:s3/bucket:Bucket": [("name", "bucket")],
    "aws:kms/key:Key": [("rotation", "enableKeyRotation")],
    "aws:cloudwatch/logGroup:LogGroup": [("name", "name"), ("retention days", "retentionInDays")],
    "aws:codeconnections/connection:Connection": [("name", "name"), ("provider", "providerType")],
    "aws:ecs/service:Service": [
        ("name", "name"),
        ("desired count", "desiredCount"),
        ("launch type", "launchType"),
        ("strategy", "deploymentConfiguration.strategy"),
        ("bake minutes", "deploymentConfiguration.bakeTimeInMinutes"),
        ("circuit breaker", "deploymentCircuitBreaker.enable"),
        ("public IP", "networkConfiguration.assignPublicIp"),
    ],
    "aws:ecs/taskDefinition:TaskDefinition": [("family", "family"), ("cpu", "cpu"), ("memory", "memory")],
    "aws:ecs/cluster:Cluster": [("name", "name")],
    "aws:lb/loadBalancer:LoadBalancer": [
        ("internal", "internal"),
        ("drops invalid headers", "dropInvalidHeaderFields"),
        ("deletion protection", "enableDeletionProtection"),
    ],
    "aws:lb/targetGroup:TargetGroup": [
        ("port", "port"),
        ("health path", "healthCheck.path"),
        ("interval s", "healthCheck.interval"),
        ("healthy after", "healthCheck.healthyThreshold"),
        ("deregistration s", "deregistrationDelay"),
    ],
    "aws:lb/listener:Listener": [("port", "port"), ("protocol", "protocol"), ("TLS policy", "sslPolicy")],
    "aws:appautoscaling/target:Target": [("min", "minCapacity"), ("max", "maxCapacity")],
    "aws:appautoscaling/policy:Policy": [
        ("target %", "targetTrackingScalingPolicyConfiguration.targetValue"),
    ],
    "aws:iam/role:Role": [("path", "path")],
    "aws:lambda/function:Function": [("runtime", "runtime"), ("timeout s", "timeout")],
    "aws:cloudwatch/metricAlarm:MetricAlarm": [("metric", "metricName"), ("threshold", "threshold")],
}

# Rough monthly cost of what is billed by the hour, at AWS's on-demand list prices in us-east-1
# (other regions differ by a few percent to about 30%). Data processed, LCUs, requests, storage,
# build minutes and pipeline executions are not counted: they depend on use.
HOURS_PER_MONTH = 730
PRICES = {
    # https://aws.amazon.com/vpc/pricing/ (NAT gateway: per hour; public IPv4: $0.005 per IP-hour)
    "nat_gateway_hour": 0.045,
    "public_ipv4_hour": 0.005,
    # https://aws.amazon.com/elasticloadbalancing/pricing/ (Application Load Balancer hour, without LCUs)
    "load_balancer_hour": 0.0225,
    # https://aws.amazon.com/fargate/pricing/ (Linux/x86: per vCPU-hour and per GB-hour)
    "fargate_vcpu_hour": 0.04048,
    "fargate_gb_hour": 0.004445,
}
COST_ASSUMPTIONS = [
    "on-demand list prices in us-east-1 (aws.amazon.com/vpc/pricing, /elasticloadbalancing/pricing, "
    "/fargate/pricing); other regions cost up to about 30% more",
    f"{HOURS_PER_MONTH} hours a month, everything running all month",
    "Fargate tasks at the service's desired count (with autoscaling: its minimum), Linux on x86",
    "a load balancer in 2 availability zones holds 2 public IPv4 addresses; a NAT gateway 1",
    "not counted: data processed by NAT gateways and load balancers (LCUs), requests, logs, storage, "
    "build minutes, pipeline executions, KMS requests",
]


def build(run: StackRun, settings: Optional[Settings], warnings: Iterable[str] = ()) -> dict[str, Any]:
    """The plan of one stack, as plain JSON data (stable: FORMAT_VERSION). Without `settings` (a
    program of one's own), what the run registered only."""
    resources = [_resource(r) for r in sorted(run.custom_resources(), key=lambda r: (r.name, r.type))]
    expanded = [entry for vpc in run.of_type(VPC_COMPONENT) for entry in expand_vpc(vpc)]
    return {
        "formatVersion": FORMAT_VERSION,
        "stack": run.stack,
        "warnings": [*(_insecure(settings) + unheard(settings) if settings else []), *dict.fromkeys(warnings)],
        "resourceCount": len(resources) + len(expanded),
        "pipelines": [
            _pipeline(p, settings, _projects(run)) for p in sorted(run.of_type(PIPELINE_TYPE), key=lambda p: p.name)
        ],
        "resources": resources + expanded,
        "roles": roles(run),
        "cost": cost(run),
        "outputs": {key: _plain(value) for key, value in sorted(run.outputs.items())},
    }


def _insecure(settings: Settings) -> list[str]:
    return [f"insecure: {flag} is on: a secure default is switched off" for flag in settings.insecure.enabled]


def unheard(settings: Settings) -> list[str]:
    """Messages nobody would receive: an alert or approval topic without a subscriber still
    publishes, and no one reads it."""
    warnings = []
    if not settings.notification_emails:
        warnings.append(
            "unheard: no one is subscribed to the alert topic (ecs-cicd:notifications.emails is empty): bypasses, "
            "pipeline failures and changes to the pipeline are reported to no one"
        )
    approving_targets = [t.name for t in settings.promotion if t.require_approval]
    for service in settings.services:
        if approving_targets and not service.deploy.approval_emails:
            warnings.append(
                f"unheard: {service.pipeline.name}: promotion to {', '.join(approving_targets)} waits for approval "
                "without telling anyone (deploy.approvalEmails is empty)"
            )
        if service.deploy.require_approval and not service.deploy.approval_emails:
            warnings.append(
                f"unheard: {service.pipeline.name}: approvals wait without telling anyone (deploy.approvalEmails is "
                "empty); approvers must watch the pipeline in the console"
            )
    return warnings


def deployment(service: ServicePipeline) -> tuple[str, str]:
    """How a service is deployed, and where its task definition comes from."""
    deploy, strategy, traffic = service.deploy, service.deploy.strategy, service.deploy.traffic
    if service.service.create:
        kept = f"old tasks kept {traffic.bake_time_minutes} min"
        shift = {
            "rolling": "ECS rolling update",
            "blue-green": f"ECS blue/green, {kept}",
            "canary": f"ECS canary: {traffic.canary_percent:g}% for {traffic.canary_bake_time_minutes} min, "
            f"then all; {kept}",
            "linear": f"ECS linear: {traffic.linear_step_percent:g}% every {traffic.linear_step_bake_time_minutes} "
            f"min; {kept}",
        }[strategy]
        source = "the stack config (CPU, memory, environment, secrets, port), with the image the pipeline deployed"
        return shift, source
    if service.codedeploy:
        group = f"{deploy.blue_green.application}/{deploy.blue_green.deployment_group}"
        return (
            f"CodeDeploy group {group} (its own traffic settings)",
            "the running revision of the service's family, with the built image (taskdef.json)",
        )
    return f"the ECS deploy action; ECS deploys {strategy}, as the service is configured (checked at `pulumi up`)", (
        "the service's running revision, with the built image (its owner manages the rest)"
    )


def _projects(run: StackRun) -> dict[str, Mapping[str, Any]]:
    return {p.inputs["name"]: p.inputs for p in run.of_type(PROJECT_TYPE) if "name" in p.inputs}


def _pipeline(
    pipeline: RecordedResource, settings: Optional[Settings], projects: Mapping[str, Mapping[str, Any]]
) -> dict[str, Any]:
    inputs = pipeline.inputs
    name = inputs["name"]
    service = next((s for s in settings.services if s.pipeline.name == name), None) if settings else None
    stages = [
        {
            "name": stage["name"],
            "actions": [
                {
                    "name": action["name"],
                    "category": action["category"],
                    "provider": action["provider"],
                    "runOrder": int(action.get("runOrder") or 1),
                    "inputs": list(action.get("inputArtifacts") or []),
                    "outputs": list(action.get("outputArtifacts") or []),
                    **({"target": target} if (target := _target(action, _account_of(inputs.get("roleArn")))) else {}),
                }
                for action in stage["actions"]
            ],
        }
        for stage in inputs["stages"]
    ]
    entry: dict[str, Any] = {
        "name": name,
        "type": inputs.get("pipelineType"),
        "executionMode": inputs.get("executionMode"),
        "triggers": _triggers(inputs),
        "stages": stages,
    }
    # A stack that only builds deploys nothing of its own: its deploys are the targets' (in the stages).
    if service is not None and settings is not None and settings.deploy_here:
        shift, source = deployment(service)
        entry["deploy"] = {"strategy": service.deploy.strategy, "how": shift, "taskDefinition": source}
        entry["deployTime"] = deploy_time(service)
    entry["criticalPath"] = critical_path(inputs, projects, service)
    entry["mermaid"] = mermaid(entry)
    return entry


# Where each term of the deploy-time model comes from.
_HEALTH = "https://docs.aws.amazon.com/elasticloadbalancing/latest/application/target-group-health-checks.html"
_DRAIN = "https://docs.aws.amazon.com/elasticloadbalancing/latest/application/edit-target-group-attributes.html#deregistration-delay"
_NATIVE = "https://docs.aws.amazon.com/AmazonECS/latest/developerguide/deployment-type-blue-green.html"
NOT_MODELLED = [
    "the new tasks' start (image pull and application start)",
    "CodeBuild's provisioning and the build itself",
    "the source fetch",
    "an approval's wait",
]


def deploy_time(service: ServicePipeline) -> dict[str, Any]:
    """The least time a deploy of a created service takes once its new tasks run: each term with
    its source; what is not modelled is listed. An existing service's target group is not read."""
    if not service.service.create:
        return {
            "minimumSeconds": None,
            "terms": [],
            "notModelled": ["the existing service's own settings", *NOT_MODELLED],
        }
    svc, deploy, traffic = service.service, service.deploy, service.deploy.traffic
    terms = [
        {
            "what": f"new tasks pass {svc.healthy_threshold} health checks {svc.health_check_interval_seconds} s apart",
            "seconds": svc.healthy_threshold * svc.health_check_interval_seconds,
            "source": _HEALTH,
        }
    ]
    if deploy.strategy != "rolling":
        shifting = traffic_shift_minutes(
            deploy.strategy,
            canary_bake_minutes=traffic.canary_bake_time_minutes,
            linear_step_percent=traffic.linear_step_percent,
            linear_step_bake_minutes=traffic.linear_step_bake_time_minutes,
        )
        terms += [
            {"what": "the pre-production check, answered at once", "seconds": 0, "source": _NATIVE},
            {"what": f"traffic shift ({deploy.strategy})", "seconds": shifting * 60, "source": _NATIVE},
            {"what": "old tasks kept (bake time)", "seconds": traffic.bake_time_minutes * 60, "source": _NATIVE},
        ]
    terms.append(
        {
            "what": "old tasks drain (deregistration delay)",
            "seconds": svc.deregistration_delay_seconds,
            "source": _DRAIN,
        }
    )
    return {"minimumSeconds": sum(t["seconds"] for t in terms), "terms": terms, "notModelled": NOT_MODELLED}


# Where each bound of the push-to-production path comes from.
_CODEBUILD_TIMEOUTS = "https://docs.aws.amazon.com/codebuild/latest/APIReference/API_CreateProject.html"
_APPROVALS = "https://docs.aws.amazon.com/codepipeline/latest/userguide/approvals-approve-or-reject.html"
_ECS_ACTION = "https://docs.aws.amazon.com/codepipeline/latest/userguide/action-reference-ECS.html"
# "If ... the approval action does not receive a response within seven days, the pipeline status
# changes to Failed" (_APPROVALS).
APPROVAL_WAIT_SECONDS = 7 * 24 * 3600


def critical_path(
    inputs: Mapping[str, Any], projects: Mapping[str, Mapping[str, Any]], service: Optional[ServicePipeline]
) -> dict[str, Any]:
    """From a push to the pipeline's last action: per stage and run order, the action that can
    take longest (of actions that run in parallel), with the least time the configuration forces
    and the most it allows before the action fails, each with its source. What depends on the
    application (the source fetch, the build, the tasks' start) or on a person has no least time
    (`unmodelled`); what another service bounds has no most (`unbounded`). `waste` lists what the
    path waits for that it need not, or pays for on every deploy."""
    steps, waste = [], []
    for stage in inputs["stages"]:
        groups: dict[int, list[Mapping[str, Any]]] = defaultdict(list)
        for action in stage["actions"]:
            groups[int(action.get("runOrder") or 1)].append(action)
        earlier: list[Mapping[str, Any]] = []
        for order in sorted(groups):
            group = groups[order]
            bounds = [_bounds(action, projects, service) for action in group]
            # The action that can take longest: an unbounded one if any, else the largest bound.
            slowest = max(
                range(len(group)),
                key=lambda i: float("inf") if bounds[i]["mostSeconds"] is None else bounds[i]["mostSeconds"],
            )
            leasts = [b["leastSeconds"] for b in bounds if b["leastSeconds"] is not None]
            steps.append(
                {
                    "stage": stage["name"],
                    "action": group[slowest]["name"],
                    "parallelWith": [a["name"] for i, a in enumerate(group) if i != slowest],
                    **bounds[slowest],
                    # The group ends no sooner than its slowest member's least time.
                    "leastSeconds": max(leasts) if leasts else None,
                }
            )
            waste += _sequential_builds(stage["name"], earlier, group)
            earlier += group
    for step in steps:
        # Only ECS itself bakes with deploy.bakeTimeMinutes (a created service); a CodeDeploy group
        # waits as its own settings say.
        if (
            step["action"] == "Service"
            and step["what"].startswith("ECS deploys")
            and service is not None
            and service.service.create
            and service.deploy.strategy != "rolling"
        ):
            bake = service.deploy.traffic.bake_time_minutes
            if bake:
                waste.append(
                    f"{step['stage']}/{step['action']} waits {bake} min with the old tasks kept for a rollback "
                    "(deploy.bakeTimeMinutes): the price of an instant rollback, on every deploy's path"
                )
    return {
        "steps": steps,
        "leastSeconds": sum(step["leastSeconds"] or 0 for step in steps),
        "mostSeconds": sum(step["mostSeconds"] or 0 for step in steps),
        "unmodelled": [f"{s['stage']}/{s['action']}" for s in steps if s["leastSeconds"] is None],
        "unbounded": [f"{s['stage']}/{s['action']}" for s in steps if s["mostSeconds"] is None],
        "waste": waste,
    }


def _bounds(
    action: Mapping[str, Any], projects: Mapping[str, Mapping[str, Any]], service: Optional[ServicePipeline]
) -> dict[str, Any]:
    configuration = action.get("configuration") or {}
    provider = action["provider"]
    if provider == "CodeBuild" and (project := projects.get(configuration.get("ProjectName", ""))):
        queued, running = int(project.get("queuedTimeout") or 480), int(project.get("buildTimeout") or 60)
        return {
            "what": f"CodeBuild {project['name']}: queued at most {queued} min, then runs (provisioning "
            f"included) at most {running} min",
            "leastSeconds": None,
            "mostSeconds": (queued + running) * 60,
            "source": _CODEBUILD_TIMEOUTS,
        }
    if provider == "Manual":
        # An action may set its own timeout (timeoutInMinutes); seven days when it does not.
        minutes = action.get("timeoutInMinutes")
        return {
            "what": "a person approves; unanswered, the action fails after "
            + (f"{minutes} min" if minutes else "seven days"),
            "leastSeconds": None,
            "mostSeconds": int(minutes) * 60 if minutes else APPROVAL_WAIT_SECONDS,
            "source": _APPROVALS,
        }
    if provider == "ECS":
        timeout = int(configuration.get("DeploymentTimeout") or 60)
        least = deploy_time(service)["minimumSeconds"] if service is not None else None
        return {
            "what": f"ECS deploys and the action waits for it to finish (DeploymentTimeout {timeout} min)"
            + ("" if least is None else "; at least the deploy time above once the new tasks run"),
            "leastSeconds": least,
            "mostSeconds": timeout * 60,
            "source": _ECS_ACTION,
        }
    return {
        "what": f"{provider}: bounded by its own settings, not this stack's",
        "leastSeconds": None,
        "mostSeconds": None,
        "source": "",
    }


def _sequential_builds(stage: str, earlier: list[Mapping[str, Any]], group: list[Mapping[str, Any]]) -> list[str]:
    """CodeBuild actions that wait for earlier CodeBuild actions of their stage without reading
    anything those produce (no artifact, no variable): they could run beside them."""
    builds = [a for a in earlier if a["provider"] == "CodeBuild"]
    if not builds or len(builds) != len(earlier):
        return []
    produced = {artifact for a in builds for artifact in a.get("outputArtifacts") or []}
    namespaces = {a["namespace"] for a in builds if a.get("namespace")}
    found = []
    for action in group:
        reads = set(action.get("inputArtifacts") or [])
        config = json.dumps(action.get("configuration") or {})
        if (
            action["provider"] == "CodeBuild"
            and not reads & produced
            and not any(f"#{{{n}." in config for n in namespaces)
        ):
            found.append(f"{stage}/{action['name']} waits for {', '.join(a['name'] for a in builds)} but reads "
                         "nothing they produce: it could run beside them")  # fmt: skip
    return found


def _account_of(arn: Any) -> Optional[str]:
    parts = str(arn or "").split(":")
    return parts[4] if len(parts) > 5 and parts[0] == "arn" else None


def _target(action: Mapping[str, Any], home_account: Optional[str] = None) -> Optional[str]:
    configuration = action.get("configuration") or {}
    if action["provider"] == "ECS":
        # A deploy that runs as a role of another account (cross-account delivery) names it.
        account = _account_of(action.get("roleArn"))
        account = f" of account {account}" if account and account != home_account else ""
        region = f" in {action['region']}" if action.get("region") else ""  # a region other than the pipeline's
        return (
            f"ECS service {configuration.get('ServiceName')} in cluster {configuration.get('ClusterName')}"
            f"{account}{region}"
        )
    if action["provider"] == "CodeDeployToECS":
        return f"CodeDeploy {configuration.get('ApplicationName')}/{configuration.get('DeploymentGroupName')} (ECS)"
    return None


def _triggers(inputs: Mapping[str, Any]) -> list[str]:
    words = []
    for trigger in inputs.get("triggers") or []:
        git = trigger.get("gitConfiguration", {})
        for push in git.get("pushes") or []:
            words.append("push " + _filter_words(push))
        for pull in git.get("pullRequests") or []:
            words.append(f"pull request {', '.join(pull.get('events') or [])} " + _filter_words(pull))
    return words


def _filter_words(event: Mapping[str, Any]) -> str:
    words = []
    for kind in ("branches", "tags"):
        includes = (event.get(kind) or {}).get("includes")
        if includes:
            words.append(f"{'to' if kind == 'branches' else 'of tags'} {', '.join(includes)}")
    paths = event.get("filePaths") or {}
    if paths.get("includes"):
        words.append(f"touching {', '.join(paths['includes'])}")
    if paths.get("excludes"):
        words.append(f"not only {', '.join(paths['excludes'])}")
    return " ".join(words) or "anything"


def mermaid(pipeline: Mapping[str, Any]) -> str:
    """A flowchart GitHub renders: one box per stage with its actions, in order, and the deploy target."""
    lines = ["flowchart LR"]
    previous = None
    for number, stage in enumerate(pipeline["stages"]):
        stage_id = f"s{number}"
        lines.append(f'  subgraph {stage_id}["{_label(stage["name"])}"]')
        for index, action in enumerate(stage["actions"]):
            parts = [action["name"], action["provider"], *([f"-> {action['target']}"] if action.get("target") else [])]
            lines.append(f'    {stage_id}a{index}["{"<br/>".join(_label(p) for p in parts)}"]')
        lines.append("  end")
        if previous is not None:
            lines.append(f"  {previous} --> {stage_id}")
        previous = stage_id
    return "\n".join(lines)


def _label(text: str) -> str:
    """Text in a quoted Mermaid label: its entity codes for what would end the label or be read
    as markup (https://mermaid.js.org/syntax/flowchart.html#entity-codes-to-escape-characters)."""
    codes = {"#": "#35;", '"': "#quot;", "<": "#lt;", ">": "#gt;", "\n": " "}
    return "".join(codes.get(c, c) for c in text)


def _resource(resource: RecordedResource) -> dict[str, Any]:
    settings = {
        label: value
        for label, path in DECIDING.get(resource.type, [])
        if (value := _dig(resource.inputs, path)) is not None
    }
    return {
        "type": resource.type,
        "name": resource.name,
        "settings": settings,
        "protected": resource.protect,
    }


def expand_vpc(vpc: RecordedResource) -> list[dict[str, Any]]:
    """What an awsx.ec2.Vpc creates (a component that runs in its own provider, so offline the
    harness sees only its inputs): per availability zone a public and a private subnet, each with a
    route table, an association and a default route (the private one only with a NAT gateway); one
    internet gateway; a NAT gateway with an Elastic IP per zone (OnePerAz) or one (Single).
    https://github.com/pulumi/pulumi-awsx/blob/master/awsx/ec2/vpc.ts (createSubnets)"""
    zones = int(vpc.inputs.get("numberOfAvailabilityZones") or 3)  # awsx's default is 3 zones
    strategy = (vpc.inputs.get("natGateways") or {}).get("strategy", "OnePerAz")
    nat = {"None": 0, "Single": 1}.get(strategy, zones)
    counts = {
        "aws:ec2/vpc:Vpc": 1,
        "aws:ec2/internetGateway:InternetGateway": 1,
        "aws:ec2/subnet:Subnet": 2 * zones,
        "aws:ec2/routeTable:RouteTable": 2 * zones,
        "aws:ec2/routeTableAssociation:RouteTableAssociation": 2 * zones,
        "aws:ec2/route:Route": zones + (zones if nat else 0),
        "aws:ec2/natGateway:NatGateway": nat,
        "aws:ec2/eip:Eip": nat,
    }
    return [
        {
            "type": type_,
            "name": f"{vpc.name}-{index + 1}" if count > 1 else vpc.name,
            "settings": {"NAT strategy": strategy} if type_ == "aws:ec2/natGateway:NatGateway" else {},
            "protected": False,
            "createdBy": VPC_COMPONENT,
        }
        for type_, count in counts.items()
        for index in range(count)
    ]


def roles(run: StackRun) -> list[dict[str, Any]]:
    """Each role: who may assume it, and what it may do (actions grouped by the resources they name)."""
    policies: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for policy in run.of_type("aws:iam/rolePolicy:RolePolicy"):
        document = policy.inputs.get("policy")
        if isinstance(document, str):
            policies[policy.parent].extend(_statements(json.loads(document)))
    entries = []
    for role in sorted(run.of_type("aws:iam/role:Role"), key=lambda r: r.name):
        trust = _statements(json.loads(role.inputs.get("assumeRolePolicy") or "{}"))
        grants: dict[tuple[str, tuple[str, ...]], set[str]] = defaultdict(set)
        for statement in policies.get(role.urn, []):
            resources = tuple(sorted(_listed(statement.get("Resource") or statement.get("NotResource") or "*")))
            effect = statement.get("Effect", "Allow") + (" (NotResource)" if "NotResource" in statement else "")
            grants[(effect, resources)].update(_listed(statement.get("Action") or statement.get("NotAction") or []))
        entries.append(
            {
                "name": role.name,
                "path": role.inputs.get("path", "/"),
                "trustedBy": sorted({p for s in trust for p in _principals(s.get("Principal"))}),
                "permissions": [
                    {"effect": effect, "actions": sorted(actions), "resources": list(resources)}
                    for (effect, resources), actions in sorted(grants.items())
                ],
            }
        )
    return entries


def _statements(document: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    statements = document.get("Statement") or []
    return [statements] if isinstance(statements, dict) else list(statements)


def _listed(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else [str(v) for v in value]


def _principals(principal: Any) -> list[str]:
    if isinstance(principal, str):
        return [principal]
    return [p for values in (principal or {}).values() for p in _listed(values)]


def cost(run: StackRun) -> dict[str, Any]:
    """A rough monthly figure for what is billed by the hour (see COST_ASSUMPTIONS)."""
    items = []

    def add(what: str, count: float, hourly: float) -> None:
        if count:
            items.append(
                {
                    "what": what,
                    "count": count,
                    "hourlyUsd": round(hourly, 5),
                    "monthlyUsd": round(count * hourly * HOURS_PER_MONTH, 2),
                }
            )

    for vpc in run.of_type(VPC_COMPONENT):
        nat = sum(1 for r in expand_vpc(vpc) if r["type"] == "aws:ec2/natGateway:NatGateway")
        add(f"NAT gateway ({vpc.name})", nat, PRICES["nat_gateway_hour"] + PRICES["public_ipv4_hour"])
    for balancer in run.of_type("aws:lb/loadBalancer:LoadBalancer"):
        add(
            f"load balancer ({balancer.name}), 2 public IPv4",
            1,
            PRICES["load_balancer_hour"] + 2 * PRICES["public_ipv4_hour"],
        )
    scaling_minimum = {t.inputs.get("resourceId"): t.inputs.get("minCapacity") for t in _scaling_targets(run)}
    definitions = {t.urn: t for t in run.of_type("aws:ecs/taskDefinition:TaskDefinition")}
    for service in run.of_type("aws:ecs/service:Service"):
        definition = next((d for d in definitions.values() if d.parent == service.parent), None)
        if definition is None:
            continue
        vcpu, gb = int(definition.inputs["cpu"]) / 1024, int(definition.inputs["memory"]) / 1024
        count = int(
            next((m for key, m in scaling_minimum.items() if str(key).endswith(f"/{service.inputs['name']}")), None)
            or service.inputs.get("desiredCount")
            or 0
        )
        hourly = vcpu * PRICES["fargate_vcpu_hour"] + gb * PRICES["fargate_gb_hour"]
        add(f"Fargate tasks of {service.inputs['name']} ({vcpu:g} vCPU, {gb:g} GB each)", count, hourly)
    total = round(sum(item["monthlyUsd"] for item in items), 2)
    return {"monthlyUsd": total, "items": items, "assumptions": COST_ASSUMPTIONS}


def _scaling_targets(run: StackRun) -> list[RecordedResource]:
    return run.of_type("aws:appautoscaling/target:Target")


def _dig(inputs: Any, path: str) -> Any:
    for part in path.split("."):
        inputs = inputs.get(part) if isinstance(inputs, dict) else None
    return _plain(inputs)


def _plain(value: Any) -> Any:
    """JSON's own types; the engine carries every number as a float."""
    if isinstance(value, float):
        return int(value) if value.is_integer() else value
    if isinstance(value, (str, int, bool)) or value is None:
        return value
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return str(value)
