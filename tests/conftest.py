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


@pytest.fixture(autouse=True)
def no_exception_goes_unretrieved():
    """A passing test prints nothing, and hides nothing: an exception raised inside an output that
    no run reported (asyncio's "Future exception was never retrieved", kept by the harness in
    `components.testing.UNRETRIEVED` when the garbage collector finds it) fails the test it shows
    up in. (No collection is forced here: that would cost a tenth of a second a test.)"""
    from components import testing

    yield
    hidden, testing.UNRETRIEVED[:] = list(testing.UNRETRIEVED), []
    assert not hidden, f"exceptions raised inside outputs and never retrieved: {hidden[:3]}"


def pytest_sessionfinish(session, exitstatus):
    """The last ones, found by one final collection."""
    import gc

    from components import testing

    gc.collect()
    if testing.UNRETRIEVED:
        print(f"\nexceptions raised inside outputs and never retrieved: {testing.UNRETRIEVED[:3]}")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
