"""Who owns what on a created service: the stack config owns the task definition's settings, the
pipeline owns the image, ECS owns which target group and listener-rule weight is live.

`pulumi up` reads what the service runs when the program runs (in a preview too, so the plan shows
what `pulumi up` would do) and compares the running task definition's *content* with the config:
equal, and the service keeps what it runs (a deploy is never reverted, nothing restarts); different,
and a revision of the config is registered with the image the service runs and rolled out. A
rollout that fails and rolls back leaves the content different, so it is seen again (and with
`pulumi up --refresh`, retried). When the service cannot be found the program changes nothing the
service runs: a missed lookup must never roll production back to an old or bootstrap image.
"""

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Optional

import pulumi
import pulumi_aws as aws

from .images import BOOTSTRAP_PORT_VARIABLE

# Every created service carries this tag (value `<cluster>/<service>`), set after the user's tags
# so they cannot change it: with it the Resource Groups Tagging API finds the service, which
# "does not return untagged resources".
# https://docs.aws.amazon.com/resourcegroupstagging/latest/APIReference/API_GetResources.html
SERVICE_TAG = "ecs-cicd:service"
# And this one (value `<project>/<stack>/<component>`): when a change of cluster or service name
# replaces the service, the new one starts from what the one it replaces runs, not the bootstrap
# image (ECS cannot rename a service or move it between clusters: pulumi-aws replaces it).
OWNER_TAG = "ecs-cicd:owner"
# Version of the task definition layout this library renders: bumped when the library changes a
# fixed field, so every created service rolls the new layout out once.
LAYOUT = 1


@dataclass(frozen=True)
class LiveLoadBalancer:
    container_name: str
    container_port: int
    target_group_arn: str
    advanced: bool
    """Whether it has ECS blue/green's advanced configuration (alternate group, listener rules)."""
    production_listener_rule: Optional[str] = None


@dataclass(frozen=True)
class LiveService:
    """A created service as `pulumi up` finds it."""

    arn: str
    task_definition: str
    """ARN of the revision the service runs: after a pipeline deploy, the pipeline's."""
    definition: Mapping[str, Any]
    """That revision, as RegisterTaskDefinition takes it."""
    controller: str
    """`ECS` or `CODE_DEPLOY`."""
    strategy: str
    """`ROLLING`, `BLUE_GREEN`, `CANARY` or `LINEAR`."""
    load_balancers: tuple[LiveLoadBalancer, ...]
    deployments: int
    """Deployments in flight (1 when the service is steady)."""
    replaced: bool = False
    """This is the service the component ran before a cluster or name change replaces it: the new
    one starts from what it runs, and nothing is updated in place."""

    def image(self, container: str) -> Optional[str]:
        """The image the service runs in `container`; after a rename, the container its load
        balancer sends traffic to; else its only container."""
        containers = {c.get("name"): c for c in self.definition.get("containerDefinitions", [])}
        for name in (container, *(lb.container_name for lb in self.load_balancers)):
            if name in containers:
                return containers[name].get("image")
        return next(iter(containers.values())).get("image") if len(containers) == 1 else None

    @property
    def advanced(self) -> bool:
        return bool(self.load_balancers) and all(lb.advanced for lb in self.load_balancers)


def task_config(definition: Mapping[str, Any], container: str) -> dict[str, Any]:
    """What `pulumi up` owns of a task definition: everything the config and this library set, the
    image and the region aside. One function reads both the rendered and the running definition,
    so a revision the pipeline copied compares equal to the config it was copied from."""
    containers = [c for c in definition.get("containerDefinitions", []) if c.get("name") == container]
    found: Mapping[str, Any] = containers[0] if len(containers) == 1 else {}
    logging = found.get("logConfiguration") or {}
    platform = definition.get("runtimePlatform") or {}
    return {
        "layout": LAYOUT,
        "family": definition.get("family"),
        "cpu": str(definition.get("cpu")),
        "memory": str(definition.get("memory")),
        "networkMode": definition.get("networkMode"),
        "requiresCompatibilities": sorted(definition.get("requiresCompatibilities") or []),
        "runtimePlatform": [platform.get("operatingSystemFamily"), platform.get("cpuArchitecture")],
        # Roles are named by Pulumi (a random suffix): the path is what the config sets.
        "roles": [role_path(definition.get("executionRoleArn")), role_path(definition.get("taskRoleArn"))],
        "container": found.get("name"),
        "essential": found.get("essential", True),
        "ports": sorted((m.get("containerPort"), m.get("protocol", "tcp")) for m in found.get("portMappings") or []),
        # The bootstrap image's port variable comes and goes with the bootstrap image.
        "environment": sorted(
            (e["name"], e.get("value")) for e in found.get("environment") or [] if e["name"] != BOOTSTRAP_PORT_VARIABLE
        ),
        "secrets": sorted((s["name"], s["valueFrom"]) for s in found.get("secrets") or []),
        "readonlyRootFilesystem": bool(found.get("readonlyRootFilesystem", False)),
        "logging": [
            logging.get("logDriver"),
            sorted((k, v) for k, v in (logging.get("options") or {}).items() if k != "awslogs-region"),
        ],
    }


def role_path(arn: Optional[str]) -> Optional[str]:
    """`/ecs-cicd/dev/runtime/` of `arn:aws:iam::123:role/ecs-cicd/dev/runtime/name-abc1234`."""
    if not arn or ":role/" not in arn:
        return arn
    path, _, _name = arn.split(":role", 1)[1].rpartition("/")
    return path + "/"


def config_hash(config: Mapping[str, Any]) -> str:
    """A short, stable name for a task config."""
    return hashlib.sha256(json.dumps(config, sort_keys=True, separators=(",", ":")).encode()).hexdigest()[:16]


def owner(component: str) -> str:
    return f"{pulumi.get_project()}/{pulumi.get_stack()}/{component}"


def find_live_service(cluster: str, service: str, component: str, parent: pulumi.Resource) -> Optional[LiveService]:
    """The created service as it runs, or None when it does not exist (the first `pulumi up`) or
    cannot be read. Found by ARN among the region's tagged services, so no tag a user can change
    decides it; read only when ACTIVE (the tagging API lags behind a deleted service). When the
    cluster or name changed, the service this component ran until now (by `OWNER_TAG`), marked
    `replaced`."""
    invoke = pulumi.InvokeOptions(parent=parent)
    tagged = aws.resourcegroupstaggingapi.get_resources(resource_type_filters=["ecs:service"], opts=invoke)
    mappings = tagged.resource_tag_mapping_lists or []
    suffix = f":service/{cluster}/{service}"
    if any(str(m.resource_arn).endswith(suffix) for m in mappings):
        return _read(cluster, service, invoke, parent)
    previous = [m.resource_arn for m in mappings if (m.tags or {}).get(OWNER_TAG) == owner(component)]
    for arn in previous:  # the one still ACTIVE; a deleted one can linger in the tagging API
        old_cluster, old_service = arn.split(":service/", 1)[1].split("/", 1)
        found = _read(old_cluster, old_service, invoke, parent)
        if found is not None:
            pulumi.log.warn(
                f"ecs-cicd:service moves service {old_service} in cluster {old_cluster} to {service} in cluster "
                f"{cluster}: ECS cannot rename or move a service, so a new one is created and the old one deleted; "
                f"the new one starts from what the old one runs ({found.task_definition})",
                resource=parent,
            )
            return replace(found, replaced=True)
    return None


def _read(cluster: str, service: str, invoke: pulumi.InvokeOptions, parent: pulumi.Resource) -> Optional[LiveService]:
    try:
        described = aws.ecs.get_service(cluster_arn=cluster, service_name=service, opts=invoke)
        if described.status != "ACTIVE":
            return None
        revision = aws.ecs.get_task_definition(task_definition=described.task_definition, opts=invoke)
    except Exception as error:  # noqa: BLE001 - any failure means "not found", never a rollback
        pulumi.log.warn(
            f"service {service} in cluster {cluster} could not be read ({error}); `pulumi up` leaves its "
            "task definition as it is",
            resource=parent,
        )
        return None
    return LiveService(
        arn=described.arn,
        task_definition=described.task_definition,
        definition=_registered(revision),
        controller=next((c.type for c in described.deployment_controllers or []), "ECS"),
        strategy=next((c.strategy for c in described.deployment_configurations or [] if c.strategy), "ROLLING"),
        load_balancers=tuple(
            LiveLoadBalancer(
                container_name=lb.container_name,
                container_port=int(lb.container_port),
                target_group_arn=lb.target_group_arn,
                advanced=bool(lb.advanced_configurations),
                production_listener_rule=next(
                    (a.production_listener_rule for a in lb.advanced_configurations or []), None
                ),
            )
            for lb in described.load_balancers or []
        ),
        deployments=len(described.deployments or []) or 1,
    )


def _registered(revision: aws.ecs.GetTaskDefinitionResult) -> dict[str, Any]:
    platform = (revision.runtime_platforms or [None])[0]
    return {
        "family": revision.family,
        "cpu": revision.cpu,
        "memory": revision.memory,
        "networkMode": revision.network_mode,
        "requiresCompatibilities": list(revision.requires_compatibilities or []),
        "runtimePlatform": (
            {"operatingSystemFamily": platform.operating_system_family, "cpuArchitecture": platform.cpu_architecture}
            if platform
            else {}
        ),
        "executionRoleArn": revision.execution_role_arn,
        "taskRoleArn": revision.task_role_arn,
        "containerDefinitions": json.loads(revision.container_definitions or "[]"),
    }
