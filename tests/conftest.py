"""Fixtures parametrised over every stack file."""

import pytest

from components.settings import stack_settings
from components.testing import StackRun

from .helpers import STACKS, evaluated


@pytest.fixture(params=STACKS)
def stack(request) -> str:
    return request.param


@pytest.fixture
def run(stack) -> StackRun:
    return evaluated(stack)


@pytest.fixture
def settings(stack):
    return stack_settings(stack)
