"""The operations CLI on a multi-service stack: --service picks the pipeline, by the program's own naming."""

from argparse import Namespace
from pathlib import Path

import pytest

from ops.aws import OpsError
from ops.target import resolve_target

MONOREPO = str(Path(__file__).resolve().parent.parent / "examples" / "monorepo")


def target(**flags):
    return resolve_target(Namespace(stack="shop-dev", project_dir=MONOREPO, region=None, pipeline=None, **flags))


def test_service_picks_its_pipeline_and_the_stack_region():
    found = target(service="worker")
    assert (found.pipeline, found.region) == ("worker-dev", "eu-west-1")


def test_a_multi_service_stack_needs_service():
    with pytest.raises(OpsError, match=r"several services \(api, worker, web\): choose one with --service"):
        target(service=None)


def test_an_unknown_service_is_named():
    with pytest.raises(OpsError, match="no service billing in the stack; services: api, worker, web"):
        target(service="billing")
