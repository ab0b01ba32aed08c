"""ECR: image tags cannot be moved, and every pushed image is scanned."""

from collections.abc import Mapping
from typing import Any

from .normalise import UNKNOWN, as_list, dig, has_wildcard

ECR_REPOSITORY = "aws:ecr/repository:Repository"

# IMMUTABLE_WITH_EXCLUSION keeps every tag immutable but those its filters match; a filter may use
# `*` wildcards, so `*` alone would make the repository mutable again. Only literal tags are
# accepted as exclusions (the build cache's one tag).
# Source: https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_ImageTagMutabilityExclusionFilter.html
IMMUTABLE_SETTINGS = frozenset({"IMMUTABLE", "IMMUTABLE_WITH_EXCLUSION"})


def check_ecr_repository(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    if resource_type != ECR_REPOSITORY:
        return []
    problems = []
    mutability = dig(props, "imageTagMutability")
    if mutability is not UNKNOWN and mutability not in IMMUTABLE_SETTINGS:
        shown = mutability if isinstance(mutability, str) and mutability else "MUTABLE (the default)"
        problems.append(f"ECR imageTagMutability is {shown}, not IMMUTABLE")
    if mutability == "IMMUTABLE_WITH_EXCLUSION":
        filters = dig(props, "imageTagMutabilityExclusionFilters")
        for item in [] if filters is UNKNOWN else as_list(filters):
            value = dig(item, "filter")
            if isinstance(value, str) and has_wildcard(value):
                problems.append(
                    f"ECR tag mutability exclusion {value!r} is a wildcard: it makes every tag it matches movable; "
                    "exclude literal tags only"
                )
    scan = dig(props, "imageScanningConfiguration", "scanOnPush")
    if scan is not UNKNOWN and scan is not True:
        problems.append("ECR repository does not set imageScanningConfiguration.scanOnPush: true")
    return problems
