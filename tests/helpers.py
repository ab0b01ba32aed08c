"""Helpers shared by the tests: each stack file is evaluated once per session (the harness is deterministic)."""

from functools import cache

from components.testing import StackRun, run_stack

STACKS = ("dev", "staging", "prod")


@cache
def evaluated(stack: str) -> StackRun:
    return run_stack(stack)


def policy_of(run: StackRun, role_name: str) -> dict:
    """The inline policy document of the role registered as `role_name`."""
    return run.named(f"{role_name}-policy").json_input("policy")


def statements_by_sid(policy: dict) -> dict[str, dict]:
    return {statement["Sid"]: statement for statement in policy["Statement"]}


def stack_settings_of(stack: str) -> dict:
    """The stack file's config, as `run_stack` overrides take it."""
    from components.settings import stack_config

    return stack_config(stack)
