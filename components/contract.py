"""The container contract: one container name and port, defined once in settings, feeding the
task definition, the build's image definitions and the blue/green templates.

Everything that names the container is rendered here, so `imagedefinitions.json`, `taskdef.json`
and `appspec.yaml` can never disagree with the task definition (the classic failure: the image
definitions name a container the task definition does not have).
"""

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Optional

# Placeholders CodeDeployToECS fills in: the image from imageDetail.json, the registered revision.
IMAGE_PLACEHOLDER = "<IMAGE1_NAME>"
TASK_DEFINITION_PLACEHOLDER = "<TASK_DEFINITION>"


@dataclass(frozen=True)
class ContainerContract:
    name: str
    port: int

    def container_definition(
        self,
        image: str,
        *,
        log_group: str,
        region: str,
        environment: Optional[Mapping[str, str]] = None,
        secrets: Sequence[tuple[str, str]] = (),
    ) -> dict[str, Any]:
        """The one container definition, as ECS expects it in a task definition."""
        return {
            "name": self.name,
            "image": image,
            "essential": True,
            "portMappings": [{"containerPort": self.port, "protocol": "tcp"}],
            "environment": [{"name": k, "value": v} for k, v in sorted(dict(environment or {}).items())],
            "secrets": [{"name": name, "valueFrom": ref} for name, ref in secrets],
            "readonlyRootFilesystem": False,
            "logConfiguration": {
                "logDriver": "awslogs",
                "options": {"awslogs-group": log_group, "awslogs-region": region, "awslogs-stream-prefix": self.name},
            },
        }

    def taskdef_template(self, task_definition: Mapping[str, Any]) -> str:
        """`taskdef.json` for CodeDeployToECS: the task definition with this container's image left
        as the placeholder the action fills with the pushed image."""
        rendered = json.loads(json.dumps(task_definition))
        containers = rendered.get("containerDefinitions", [])
        matches = [c for c in containers if c.get("name") == self.name]
        if len(matches) != 1:
            raise ValueError(f"the task definition has no container named {self.name!r}")
        matches[0]["image"] = IMAGE_PLACEHOLDER
        return json.dumps(rendered, indent=2, sort_keys=True)

    def appspec(self) -> str:
        """`appspec.yaml` for CodeDeployToECS, naming the same container and port."""
        return (
            "version: 0.0\n"
            "Resources:\n"
            "  - TargetService:\n"
            "      Type: AWS::ECS::Service\n"
            "      Properties:\n"
            f'        TaskDefinition: "{TASK_DEFINITION_PLACEHOLDER}"\n'
            "        LoadBalancerInfo:\n"
            f'          ContainerName: "{self.name}"\n'
            f"          ContainerPort: {self.port}\n"
        )
