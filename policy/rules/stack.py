"""How a stack check sees the stack: its resources, and the violations it names them in."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Optional, Union


@dataclass(frozen=True)
class StackResource:
    """One resource of the stack as a stack check sees it.

    `id` is the provider id when the caller knows it (the engine does not send it to policies);
    `property_dependencies` maps an input name to the URNs of the resources its value came from,
    which lets a check relate resources while their ids are still unknown in a preview."""

    resource_type: str
    props: Mapping[str, Any]
    urn: str = ""
    name: str = ""
    id: Optional[str] = None
    property_dependencies: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


class StackViolation(NamedTuple):
    message: str
    urn: Optional[str] = None


StackInput = Union[StackResource, tuple]  # a StackResource, or (resource_type, props[, urn[, id]])


def stack_resource(item: StackInput) -> StackResource:
    if isinstance(item, StackResource):
        return item
    resource_type, props, *rest = item  # (resource_type, props[, urn[, id]])
    urn = rest[0] if rest else ""
    return StackResource(resource_type, props, urn=urn, name=urn.rsplit("::", 1)[-1], id=rest[1] if rest[1:] else None)
