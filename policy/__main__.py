"""ecs-cicd policy pack: `pulumi preview --policy-pack policy` (see README.md in this directory).

The only module that builds the PolicyPack, which starts the analyzer's gRPC server and serves
until the CLI stops it. The checks themselves live in rules.py, the list of policies in registry.py.
"""

import os
import sys

from pulumi_policy import (
    EnforcementLevel,
    PolicyComplianceFramework,
    PolicyConfigSchema,
    PolicyPack,
    ResourceValidationPolicy,
    StackValidationPolicy,
)

# The CLI runs this directory as a script, not as a package: make its modules importable.
_HERE = os.path.dirname(os.path.abspath(__file__))
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

import registry  # noqa: E402
import rules  # noqa: E402


def _framework(spec: registry.PolicySpec) -> PolicyComplianceFramework:
    return PolicyComplianceFramework(
        name="OWASP Top 10 CI/CD Security Risks",
        version="2022",
        reference=", ".join(spec.risks),
        specification=registry.OWASP_CICD_TOP_10,
    )


def _options(args, config_names) -> dict:
    """The policy's configuration properties, as its check's keyword arguments."""
    config = (args.get_config() or {}) if config_names else {}
    return {registry.snake_case(name): config.get(name, registry.CONFIG[name]["default"]) for name in config_names}


def _resource_validation(check, config_names):
    def validate(args, report_violation) -> None:
        for message in check(args.resource_type, rules.plain(args.props), **_options(args, config_names)):
            report_violation(message, None)

    return validate


def _stack_validation(check, config_names):
    def validate(args, report_violation) -> None:
        options = _options(args, config_names)
        resources = [
            rules.StackResource(
                resource_type=resource.resource_type,
                props=rules.plain(resource.props),
                urn=resource.urn,
                name=resource.name,
                property_dependencies={
                    key: tuple(dependency.urn for dependency in dependencies)
                    for key, dependencies in (resource.property_dependencies or {}).items()
                },
            )
            for resource in args.resources
        ]
        for violation in check(resources, **options):
            report_violation(violation.message, violation.urn)

    return validate


def _policy(spec: registry.PolicySpec):
    common = {
        "name": spec.name,
        "description": spec.description,
        "enforcement_level": EnforcementLevel.MANDATORY,
        "framework": _framework(spec),
        "tags": list(spec.risks),
    }
    if spec.config:
        common["config_schema"] = PolicyConfigSchema(properties={name: registry.CONFIG[name] for name in spec.config})
    if spec.kind == "stack":
        return StackValidationPolicy(validate=_stack_validation(spec.check, spec.config), **common)
    return ResourceValidationPolicy(validate=_resource_validation(spec.check, spec.config), **common)


PolicyPack(
    name="ecs-cicd-security",
    description="OWASP Top 10 CI/CD controls for the GitHub -> CodeBuild -> ECS pipeline.",
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=[_policy(spec) for spec in registry.POLICIES],
)
